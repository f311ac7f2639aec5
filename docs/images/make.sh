#!/usr/bin/env bash
# Remakes the pictures of docs/teaching.md with the tool itself and headless Chromium.
# Usage: docs/images/make.sh   (CHROMIUM=/path/to/chromium to use another browser,
#        LAMPORT_LEDGER=/path/to/lamport-ledger to use a binary already built)
set -euo pipefail
cd "$(dirname "$0")/../.."
chromium=${CHROMIUM:-chromium}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

lamport_ledger() {
  if [ -n "${LAMPORT_LEDGER:-}" ]; then "$LAMPORT_LEDGER" "$@"; else cargo run --release --quiet -- "$@"; fi
}

# shot URL PNG WIDTH,HEIGHT: a screenshot of a page or an SVG, as a browser window shows it
# once its scripts have settled (the play page asks its server for every move).
shot() {
  "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --virtual-time-budget=5000 \
    --user-data-dir="$(mktemp -d "$work/profile.XXXX")" \
    --window-size="$3" --screenshot="$2" "$1" 2>/dev/null
}

# The default scenario: three clients, an abort, a stale balance read.
lamport_ledger run --trace "$work/default.jsonl" --render html -o "$work/default.html" >/dev/null
lamport_ledger render "$work/default.jsonl" --format svg -o "$work/default.svg"
shot "file://$work/default.svg" docs/images/default-svg.png 1100,1330
shot "file://$work/default.html#seq=32" docs/images/default-html.png 1400,860

# reorder-2: a REPLY overtakes a REQUEST and both clients enter.
lamport_ledger run scenarios/reorder-2.json --trace "$work/reorder-2.jsonl" \
  --render html -o "$work/reorder-2.html" >/dev/null
lamport_ledger render "$work/reorder-2.jsonl" --format svg -o "$work/reorder-2.svg"
shot "file://$work/reorder-2.svg" docs/images/reorder-2-svg.png 1100,540
shot "file://$work/reorder-2.html#seq=9" docs/images/reorder-2-html.png 1400,760
# The same page with the whole run shown and a concurrent pair found (key p).
shot "file://$work/reorder-2.html#seq=9&keys=r,p" docs/images/reorder-2-causal.png 1400,760

# contention-8: eight clients; the page follows the current event to lane c7.
lamport_ledger run scenarios/contention-8.json --trace "$work/contention-8.jsonl" \
  --render html -o "$work/contention-8.html" >/dev/null
shot "file://$work/contention-8.html#seq=39" docs/images/contention-8-html.png 1400,860

# play: the student is the network; four moves into reorder-2 with the hint shown (key h).
lamport_ledger play scenarios/reorder-2.json --port 0 >"$work/play.out" &
play_pid=$!
until grep -q '^play: http' "$work/play.out" 2>/dev/null; do sleep 0.2; done
play_url=$(sed -n 's/^play: \(http[^ ]*\).*/\1/p' "$work/play.out")
shot "${play_url}#do=click:m-issue-c1,click:m-issue-c2,click:m-deliver-1,click:m-deliver-2,key:h" \
  docs/images/play.png 1400,1000
kill -INT "$play_pid"; wait "$play_pid" || true

ls -l docs/images/*.png
