#!/usr/bin/env bash
# Remakes the pictures of docs/teaching.md with the tool itself and headless Chromium.
# Usage: docs/images/make.sh   (CHROMIUM=/path/to/chromium to use another browser)
set -euo pipefail
cd "$(dirname "$0")/../.."
chromium=${CHROMIUM:-chromium}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

lamport_ledger() { cargo run --release --quiet -- "$@"; }

# shot URL PNG WIDTH,HEIGHT: a screenshot of a page or an SVG, as a browser window shows it.
shot() {
  "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$(mktemp -d "$work/profile.XXXX")" \
    --window-size="$3" --screenshot="$2" "$1" 2>/dev/null
}

# The default scenario: three clients, an abort, a stale balance read.
lamport_ledger run --trace "$work/default.jsonl" --render html -o "$work/default.html" >/dev/null
lamport_ledger render "$work/default.jsonl" --format svg -o "$work/default.svg"
shot "file://$work/default.svg" docs/images/default-svg.png 1100,1330
shot "file://$work/default.html#step=33" docs/images/default-html.png 1400,860

# reorder-2: a REPLY overtakes a REQUEST and both clients enter.
lamport_ledger run scenarios/reorder-2.json --trace "$work/reorder-2.jsonl" \
  --render html -o "$work/reorder-2.html" >/dev/null
lamport_ledger render "$work/reorder-2.jsonl" --format svg -o "$work/reorder-2.svg"
shot "file://$work/reorder-2.svg" docs/images/reorder-2-svg.png 1100,540
shot "file://$work/reorder-2.html#step=16" docs/images/reorder-2-html.png 1400,760

ls -l docs/images/*.png
