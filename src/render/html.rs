//! One self-contained HTML page (inline CSS and JavaScript, no network) with the space-time
//! diagram and a step-through view of the run.
//!
//! Everything the page shows is computed here, in Rust, and embedded as one JSON block; the
//! script only looks things up and draws:
//!
//! - the events (seq, time, client, Lamport clock, kind, a short label, the sentence of the
//!   text timeline), the message arrows, critical sections, crashes and partitions, as the
//!   SVG renderer lays them out (`svg::Diagram`);
//! - every client's state, rebuilt from the events by [`Replay`]: one record per client per
//!   change (status, what it waits for, request queue, largest timestamp seen per peer, balance
//!   table, ledger head, pending transfers). A client's state only changes at its own events,
//!   so the state at any step is, per client, the last record before it (a binary search) and
//!   the clock of its last event.
//!
//! The diagram is drawn for the rows on screen only, so a page of 100,000 events scrolls and
//! steps as quickly as one of 100. The page honours `#step=N` (N events done) and `#seq=S`
//! (up to and including event S) in its address, then plays the key presses of
//! `&keys=e,c,ArrowRight,…`; it writes any script error into `<pre id="errors">` and marks
//! `<body data-ready="yes">` when its script finished, which the browser test reads.

use std::io::{self, Write};

use serde::Serialize;

use crate::protocol::ClientId;

use super::state::{ClientState, Outcome, Phase, Replay};
use super::svg::{self, Diagram, Fate, LANE_W, LANE0, RIGHT, STYLE, short_label};
use super::text::describe_at;
use super::{Capture, escape_xml};

/// The fields of a client's state the page shows, besides the clock (which comes from the
/// events): the names of the state table's `data-field` attributes.
pub const VIEW_FIELDS: [&str; 7] = [
    "phase", "why", "queue", "seen", "table", "ledger", "pending",
];

/// One client's state as the page shows it, in [`VIEW_FIELDS`] order.
fn view_of(replay: &Replay, id: ClientId) -> [String; 7] {
    let Some(client) = replay.client(id) else {
        return Default::default();
    };
    let seen: Vec<String> = client
        .peers()
        .map(|peer| format!("c{peer}: {}", client.seen(peer)))
        .collect();
    let table: Vec<String> = client
        .balances
        .iter()
        .enumerate()
        .map(|(slot, balance)| format!("c{}={balance}", slot + 1))
        .collect();
    let mut pending: Vec<String> = Vec::new();
    if let Some(current) = client.current {
        pending.push(format!(
            "pay {} to c{} ({})",
            current.amount,
            current.to,
            transfer_status(client)
        ));
    }
    pending.extend(
        client
            .pending
            .iter()
            .map(|transfer| format!("pay {} to c{}", transfer.amount, transfer.to)),
    );
    let queue = if replay.variant().uses_queue() {
        client.queue_text()
    } else if client.deferred.is_empty() {
        "(no queue in this protocol)".to_string()
    } else {
        format!(
            "(no queue) deferred replies to {}",
            super::state::client_list(&client.deferred)
        )
    };
    [
        client.phase_text(),
        replay
            .wait_reason(id)
            .map(|why| why.trim_start_matches("waits: ").to_string())
            .unwrap_or_default(),
        queue,
        if seen.is_empty() {
            "-".to_string()
        } else {
            seen.join(", ")
        },
        table.join(" "),
        replay.ledger_text(id),
        if pending.is_empty() {
            "none".to_string()
        } else {
            pending.join("; ")
        },
    ]
}

/// Where the transfer a client is making stands: requested, inside, committed or aborted
/// (until the client leaves, when it is done), and whether the client has crashed since.
fn transfer_status(client: &ClientState) -> String {
    let status = match (client.phase, client.outcome) {
        (Phase::Inside { .. }, Some(Outcome::Committed { index })) => {
            format!("committed as block {index}, inside until it leaves")
        }
        (Phase::Inside { .. }, Some(Outcome::Aborted { balance })) => {
            format!("aborted, its balance is only {balance}; inside until it leaves")
        }
        (Phase::Inside { .. }, None) => "inside the critical section".to_string(),
        (Phase::Waiting { .. } | Phase::Idle, _) => "requested, waiting for the mutex".to_string(),
    };
    if client.up {
        status
    } else {
        format!("{status}; then it crashed")
    }
}

/// What the page's state table shows for client `id` in `replay`: `(data-field, text)` for
/// the clock and every [`VIEW_FIELDS`] entry (for tests that read the page back).
pub fn state_fields(replay: &Replay, id: ClientId) -> Vec<(&'static str, String)> {
    let clock = replay.client(id).map_or(0, |client| client.clock);
    let mut fields = vec![("clock", clock.to_string())];
    fields.extend(VIEW_FIELDS.into_iter().zip(view_of(replay, id)));
    fields
}

/// The changes of one field of one client: the rows after which it changed (-1: before the
/// window) and its new values.
#[derive(Default, Serialize)]
struct FieldChanges(Vec<i64>, Vec<String>);

impl FieldChanges {
    fn record(&mut self, row: i64, value: &str) {
        if self.1.last().is_none_or(|last| last != value) {
            self.0.push(row);
            self.1.push(value.to_string());
        }
    }
}

/// `[seq, t_us, node (0: none), clock, kind, label, sentence]`
type EventRow = (u64, u64, u32, u64, &'static str, String, String);
/// `[from, to, type, start row (-1: before), end row (-1: after), fate, msg_id]`
type ArrowRow = (u32, u32, &'static str, i64, i64, u8, u64);

/// The JSON block the page reads.
#[derive(Serialize)]
struct PageData<'a> {
    title: String,
    range: String,
    description: Option<&'a str>,
    clients: u32,
    geometry: Geometry,
    events: Vec<EventRow>,
    arrows: Vec<ArrowRow>,
    /// `[lane, start row, end row, overlap, label]`, -1 for open ends.
    sections: Vec<(u32, i64, i64, bool, String)>,
    downs: Vec<(u32, i64, i64)>,
    cuts: Vec<(i64, i64, String)>,
    /// Index `id - 1`: the clock before the window.
    clocks: Vec<u64>,
    /// Index `id - 1`, then [`VIEW_FIELDS`] order: every change of that field.
    views: Vec<Vec<FieldChanges>>,
}

#[derive(Serialize)]
struct Geometry {
    lane0: i64,
    lane_w: i64,
    right: i64,
    /// How far left of its mark an event's clock label ends, and right of it its words
    /// start ([`svg::LABEL_DX`]).
    label_dx: i64,
    /// How far short of the receiver's mark a delivered arrow stops ([`svg::TIP_GAP`]).
    tip_gap: i64,
}

fn row_or_open(row: Option<usize>) -> i64 {
    row.map_or(-1, |row| row as i64)
}

/// Writes the page for `capture`.
pub fn write_html(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    let info = &capture.info;
    let diagram = Diagram::build(capture);
    let mut replay = capture.start.clone();
    let mut views: Vec<Vec<FieldChanges>> = info
        .client_ids()
        .map(|id| {
            view_of(&replay, id)
                .iter()
                .map(|value| {
                    let mut changes = FieldChanges::default();
                    changes.record(-1, value);
                    changes
                })
                .collect()
        })
        .collect();
    let clocks = replay.clients.iter().map(|client| client.clock).collect();
    let mut events = Vec::with_capacity(capture.events.len());
    for (row, event) in capture.events.iter().enumerate() {
        events.push((
            event.seq,
            event.t_us,
            event.node.map_or(0, ClientId::get),
            event.clock,
            event.kind.name(),
            short_label(event),
            describe_at(event, info.variant, replay.last_regular),
        ));
        replay.apply(event);
        if let Some(node) = event.node
            && let Some(list) = node.checked_index().and_then(|slot| views.get_mut(slot))
        {
            for (changes, value) in list.iter_mut().zip(view_of(&replay, node)) {
                changes.record(row as i64, &value);
            }
        }
    }
    let data = PageData {
        title: info.headline(),
        range: capture.range_text(),
        description: info.description.as_deref(),
        clients: info.clients(),
        geometry: Geometry {
            lane0: LANE0,
            lane_w: LANE_W,
            right: RIGHT,
            label_dx: svg::LABEL_DX,
            tip_gap: svg::TIP_GAP,
        },
        events,
        arrows: diagram
            .arrows
            .iter()
            .map(|arrow| {
                (
                    arrow.from.get(),
                    arrow.to.get(),
                    arrow.msg_type,
                    row_or_open(arrow.start),
                    if arrow.fate == Fate::Beyond {
                        -1
                    } else {
                        row_or_open(arrow.end)
                    },
                    arrow.fate.code(),
                    arrow.msg_id,
                )
            })
            .collect(),
        sections: diagram
            .sections
            .iter()
            .map(|span| {
                (
                    span.lane.get(),
                    row_or_open(span.start),
                    row_or_open(span.end),
                    span.overlap,
                    span.label.clone(),
                )
            })
            .collect(),
        downs: diagram
            .downs
            .iter()
            .map(|span| {
                (
                    span.lane.get(),
                    row_or_open(span.start),
                    row_or_open(span.end),
                )
            })
            .collect(),
        cuts: diagram
            .cuts
            .iter()
            .map(|span| {
                (
                    row_or_open(span.start),
                    row_or_open(span.end),
                    span.label.clone(),
                )
            })
            .collect(),
        clocks,
        views,
    };

    let title = escape_xml(&info.headline()).into_owned();
    let mut page = Vec::with_capacity(64 * 1024 + capture.events.len() * 256);
    write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta \
         name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}\
         </title>\n<style>{STYLE}{PAGE_STYLE}</style>\n</head>\n<body>\n"
    )?;
    write!(
        page,
        "<header>\n<h1>{title}</h1>\n<p class=\"range\">{}</p>\n",
        escape_xml(&capture.range_text())
    )?;
    if let Some(description) = &info.description {
        writeln!(
            page,
            "<p class=\"description\">{}</p>",
            escape_xml(description)
        )?;
    }
    page.write_all(CONTROLS.as_bytes())?;
    write!(
        page,
        "<svg class=\"legendbar\" width=\"1100\" height=\"26\" viewBox=\"0 22 1100 26\">{}{}\
         </svg>\n</header>\n",
        svg::marker_defs(),
        legend_svg()
    )?;
    page.write_all(BODY.as_bytes())?;
    page.write_all(b"<script type=\"application/json\" id=\"trace-data\">")?;
    serde_json::to_writer(ScriptSafe(&mut page), &data).map_err(io::Error::other)?;
    page.write_all(b"</script>\n<script>\n")?;
    page.write_all(SCRIPT.as_bytes())?;
    page.write_all(b"</script>\n</body>\n</html>\n")?;
    out.write_all(&page)
}

/// The legend of the standalone diagram, for the page header.
fn legend_svg() -> String {
    let mut legend = String::new();
    svg::write_legend(&mut legend, 10, 42);
    legend
}

/// Writes JSON so that it can sit inside a `<script>` element: every `<` (which JSON only has
/// inside strings) becomes `\u003c`, so no `</script>` or `<!--` can end or change the
/// element.
struct ScriptSafe<W: Write>(W);

impl<W: Write> Write for ScriptSafe<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut rest = bytes;
        while let Some(place) = rest.iter().position(|&byte| byte == b'<') {
            self.0.write_all(&rest[..place])?;
            self.0.write_all(b"\\u003c")?;
            rest = &rest[place + 1..];
        }
        self.0.write_all(rest)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

const PAGE_STYLE: &str = r#"
*{box-sizing:border-box}
html,body{margin:0;height:100%;font:14px/1.35 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;background:#fafafa}
body{display:flex;flex-direction:column}
header{padding:8px 12px 2px;border-bottom:1px solid #ccc;background:#fff}
h1{font-size:16px;margin:0 0 2px}
.range,.description{margin:0 0 4px;color:#555;font-size:13px}
.description{max-width:110em}
#controls{display:flex;flex-wrap:wrap;gap:4px;align-items:center;margin:4px 0}
#controls button{font:13px sans-serif;padding:3px 8px;border:1px solid #aaa;border-radius:4px;background:#f4f4f4;cursor:pointer}
#controls button:hover{background:#e6eefc}
#controls input{width:7em;font:13px monospace}
#position{font:13px monospace;margin-left:8px}
.keys{color:#666;font-size:12px;margin-left:8px}
main{flex:1;display:flex;min-height:0}
#diagram{flex:1;overflow:auto;position:relative;background:#fff;min-width:0}
#lanes{position:sticky;top:0;height:24px;background:#fff;border-bottom:1px solid #ddd;z-index:2}
#lanes span{position:absolute;top:3px;font:bold 14px sans-serif;transform:translateX(-50%)}
#lanes span.col{transform:none;font:11px monospace;color:#777;top:6px}
#canvas{position:relative}
#view{position:absolute;left:0;cursor:pointer}
aside{width:460px;overflow:auto;border-left:1px solid #ccc;padding:8px 10px;background:#fff}
aside h2{font-size:14px;margin:6px 0 4px}
#current{font:13px monospace;white-space:pre-wrap;background:#f3f6fb;border:1px solid #d5deea;padding:6px;border-radius:4px;min-height:3.5em}
#current.violation{background:#fde8e8;border-color:#d62728}
table#state{border-collapse:collapse;width:100%;font-size:12.5px}
#state th,#state td{border:1px solid #ddd;padding:3px 5px;text-align:left;vertical-align:top}
#state thead th{background:#f0f0f0}
#state tbody th{background:#fafafa;font-weight:600;white-space:nowrap}
#state td{font-family:monospace}
#state td.changed{background:#fff3b0}
#state td.down{color:#999}
#network{font-size:12.5px;color:#7b2d9b;margin:4px 0}
#errors{margin:0;color:#b00;font:12px monospace;white-space:pre-wrap}
#errors:empty{display:none}
#help{font-size:12px;color:#444}
#help kbd{border:1px solid #bbb;border-radius:3px;padding:0 3px;background:#f7f7f7;font-size:11px}
"#;

const CONTROLS: &str = r#"<div id="controls">
<button id="first" title="first step (Home)">« start</button>
<button id="back" title="one event back (←)">◀ back</button>
<button id="forward" title="one event forward (→)">forward ▶</button>
<button id="last" title="last step (End)">end »</button>
<button id="next-enter" title="next entry into the critical section (e)">next enter</button>
<button id="next-commit" title="next commit (c)">next commit</button>
<button id="next-abort" title="next abort (a)">next abort</button>
<button id="next-violation" title="next violation (v)">next violation</button>
<label>step <input id="goto" type="number" min="0" value="0"></label>
<span id="position"></span>
<span class="keys">keys: ← → step, e c a v jump (Shift: back), Home End</span>
</div>
"#;

const BODY: &str = r#"<main>
<div id="diagram"><div id="lanes"></div><div id="canvas"><svg id="view" xmlns="http://www.w3.org/2000/svg"></svg></div></div>
<aside>
<h2>Current event</h2>
<div id="current"></div>
<div id="network"></div>
<h2>State after this step</h2>
<table id="state"></table>
<h2>Keys</h2>
<div id="help"><kbd>→</kbd> <kbd>j</kbd> <kbd>Space</kbd> forward · <kbd>←</kbd> <kbd>k</kbd> back · <kbd>PgDn</kbd> <kbd>PgUp</kbd> 20 events · <kbd>Home</kbd> <kbd>End</kbd> · <kbd>e</kbd> next enter · <kbd>c</kbd> next commit · <kbd>a</kbd> next abort · <kbd>v</kbd> next violation (with <kbd>Shift</kbd>: the previous one) · click an event in the diagram to go there · the address <code>#step=N</code> opens step N.</div>
<pre id="errors"></pre>
</aside>
</main>
"#;

/// The page's script: lookups and drawing only (see the module documentation).
const SCRIPT: &str = r#"(function () {
'use strict';
var errors = document.getElementById('errors');
function report(message) {
  errors.textContent += message + '\n';
  document.body.setAttribute('data-errors', 'yes');
}
window.addEventListener('error', function (e) {
  report('error: ' + e.message + ' (line ' + e.lineno + ')');
});
window.addEventListener('unhandledrejection', function (e) {
  report('unhandled rejection: ' + e.reason);
});
try { main(); } catch (e) { report('error: ' + (e && e.stack ? e.stack : e)); }

function main() {
  var started = performance.now();
  var D = JSON.parse(document.getElementById('trace-data').textContent);
  var E = D.events, n = E.length, N = D.clients;
  var LANE0 = D.geometry.lane0, LANE_W = D.geometry.lane_w;
  var ROW_H = n * 24 > 30000000 ? Math.max(1, Math.floor(30000000 / n)) : 24;
  var PAD = 8, MARGIN_ROWS = 6;
  var width = LANE0 + (Math.max(N, 1) - 1) * LANE_W + D.geometry.right;
  var height = PAD * 2 + n * ROW_H;
  var diagram = document.getElementById('diagram');
  var canvas = document.getElementById('canvas');
  var view = document.getElementById('view');
  canvas.style.height = height + 'px';
  canvas.style.width = width + 'px';
  view.setAttribute('width', width);

  var LABEL_DX = D.geometry.label_dx, TIP_GAP = D.geometry.tip_gap;
  // Rust's f64::round: halves away from zero.
  function roundAway(v) { return v < 0 ? -Math.round(-v) : Math.round(v); }
  function laneX(id) { return LANE0 + (id - 1) * LANE_W; }
  function rowY(r) { return PAD + r * ROW_H + Math.floor(ROW_H / 2); }
  function esc(s) {
    return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  }

  // Lane names, sticky above the diagram.
  var lanes = '<span class="col" style="left:10px">seq</span><span class="col" style="left:' + (LANE0 - 90) + 'px">time</span>';
  for (var c = 1; c <= N; c++) lanes += '<span style="left:' + laneX(c) + 'px">c' + c + '</span>';
  document.getElementById('lanes').innerHTML = lanes;
  document.getElementById('lanes').style.width = width + 'px';

  // Per client: the rows of its events (for the clock) and its state records.
  var rowsOf = [];
  for (c = 0; c <= N; c++) rowsOf.push([]);
  for (var i = 0; i < n; i++) if (E[i][2] > 0 && E[i][2] <= N) rowsOf[E[i][2]].push(i);
  // The last index in sorted `list` (by key) with key < limit, or -1.
  function lastBefore(list, limit, key) {
    var lo = 0, hi = list.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (key(list[mid]) < limit) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }
  function identity(x) { return x; }
  // Microseconds as the text timeline writes them: 12.345ms.
  function timeText(t) { var ms = String(t % 1000); return Math.floor(t / 1000) + '.' + '000'.slice(ms.length) + ms + 'ms'; }
  function first(x) { return x[0]; }

  // Interval lookups: items sorted by start; long items checked always.
  function intervalIndex(items, start, end) {
    var shortItems = [], longItems = [], maxSpan = 0;
    items.forEach(function (item) {
      var s = start(item), e = end(item);
      if (e - s > 2000) longItems.push(item); else { shortItems.push(item); maxSpan = Math.max(maxSpan, e - s); }
    });
    shortItems.sort(function (a, b) { return start(a) - start(b); });
    return function (a, b, visit) {
      longItems.forEach(function (item) { if (start(item) <= b && end(item) >= a) visit(item); });
      var k = lastBefore(shortItems, a - maxSpan, start) + 1;
      for (; k < shortItems.length && start(shortItems[k]) <= b; k++) {
        if (end(shortItems[k]) >= a) visit(shortItems[k]);
      }
    };
  }
  function openStart(r) { return r < 0 ? -1 : r; }
  function openEnd(r) { return r < 0 ? n : r; }
  var arrowsIn = intervalIndex(D.arrows, function (x) { return openStart(x[3]); }, function (x) { return openEnd(x[4]); });
  var sectionsIn = intervalIndex(D.sections, function (x) { return openStart(x[1]); }, function (x) { return openEnd(x[2]); });
  var downsIn = intervalIndex(D.downs, function (x) { return openStart(x[1]); }, function (x) { return openEnd(x[2]); });
  var cutsIn = intervalIndex(D.cuts, function (x) { return openStart(x[0]); }, function (x) { return openEnd(x[1]); });
  var violations = [];
  for (i = 0; i < n; i++) if (E[i][4] === 'violation') violations.push(i);

  var step = 0;

  function spanY(s, e) {
    var y1 = s < 0 ? 0 : rowY(s), y2 = e < 0 ? height : rowY(e);
    return [y1, Math.max(1, y2 - y1)];
  }

  function eventSvg(r) {
    var ev = E[r], y = rowY(r), node = ev[2], kind = ev[4];
    var out = '<g class="ev k-' + kind + '" data-row="' + r + '"><title>' + esc('#' + ev[0] + ' t=' + timeText(ev[1]) + (node ? ' c' + node : '') + ' clock ' + ev[3] + ': ' + ev[6]) + '</title>';
    out += '<text class="seq" x="10" y="' + (y + 4) + '">#' + ev[0] + '</text><text class="time" x="' + (LANE0 - 40) + '" y="' + (y + 4) + '">' + timeText(ev[1]) + '</text>';
    if (!node) {
      out += '<line class="net" x1="' + (LANE0 - 30) + '" y1="' + y + '" x2="' + (laneX(N) + 30) + '" y2="' + y + '"/>';
      out += '<text class="lbl" x="' + (laneX(N) + 36) + '" y="' + (y + 4) + '">' + esc(ev[5]) + '</text></g>';
      return out;
    }
    var x = laneX(node);
    if (kind === 'commit') out += '<rect x="' + (x - 6) + '" y="' + (y - 6) + '" width="12" height="12"/>';
    else if (kind === 'abort' || kind === 'crash' || kind === 'drop') out += '<path d="M' + (x - 5) + ',' + (y - 5) + 'L' + (x + 5) + ',' + (y + 5) + 'M' + (x + 5) + ',' + (y - 5) + 'L' + (x - 5) + ',' + (y + 5) + '"/>';
    else out += '<circle cx="' + x + '" cy="' + y + '" r="' + (kind === 'violation' ? 7 : 4) + '"/>';
    out += '<text class="clk" x="' + (x - LABEL_DX) + '" y="' + (y + 4) + '">' + ev[3] + '</text>';
    out += '<text class="lbl" x="' + (x + LABEL_DX) + '" y="' + (y + 4) + '">' + esc(ev[5]) + '</text></g>';
    return out;
  }

  function arrowSvg(a) {
    var x1 = laneX(a[0]), x2 = laneX(a[1]), y1 = a[3] < 0 ? 0 : rowY(a[3]), y2, cls = '', head = a[2];
    if (a[5] === 0) {
      // As svg::arrow_tip: stop TIP_GAP short of the receiver's mark, along the line.
      y2 = rowY(a[4]);
      var dx = x2 - x1, dy = y2 - y1, len = Math.sqrt(dx * dx + dy * dy);
      if (len > 2 * TIP_GAP) { x2 -= roundAway(dx * TIP_GAP / len); y2 -= roundAway(dy * TIP_GAP / len); }
    }
    else if (a[5] === 1) { x2 = x1 + Math.trunc((x2 - x1) * 2 / 5); y2 = rowY(a[4]); cls = ' lost'; head = 'x'; }
    else if (a[5] === 2) { y2 = rowY(a[4]); cls = ' lost'; head = 'x'; }
    else { y2 = height; cls = ' beyond'; }
    return '<line class="msg m-' + a[2] + cls + '" x1="' + x1 + '" y1="' + y1 + '" x2="' + x2 + '" y2="' + y2 + '" marker-end="url(#h-' + head + ')"/>';
  }

  function draw() {
    var drawStarted = performance.now();
    var top = diagram.scrollTop - 24, h = diagram.clientHeight;
    var a = Math.max(0, Math.floor((top - PAD) / ROW_H) - MARGIN_ROWS);
    var b = Math.min(n - 1, Math.ceil((top + h - PAD) / ROW_H) + MARGIN_ROWS);
    var y0 = Math.max(0, PAD + a * ROW_H - 4), y1 = Math.min(height, PAD + (b + 1) * ROW_H + 4);
    var out = [];
    cutsIn(a, b, function (x) { var s = spanY(x[0], x[1]); out.push('<rect class="cut" x="' + (LANE0 - 30) + '" y="' + s[0] + '" width="' + (laneX(N) - LANE0 + 60) + '" height="' + s[1] + '"><title>partition ' + esc(x[2]) + '</title></rect>'); });
    for (var v = lastBefore(violations, a, identity) + 1; v < violations.length && violations[v] <= b; v++) {
      out.push('<rect class="vrow" x="0" y="' + (rowY(violations[v]) - ROW_H / 2) + '" width="' + width + '" height="' + ROW_H + '"/>');
    }
    if (step > 0 && step - 1 >= a && step - 1 <= b) out.push('<rect class="cur" x="0" y="' + (rowY(step - 1) - ROW_H / 2) + '" width="' + width + '" height="' + ROW_H + '"/>');
    downsIn(a, b, function (x) { var s = spanY(x[1], x[2]); out.push('<rect class="down" x="' + (laneX(x[0]) - 12) + '" y="' + s[0] + '" width="24" height="' + s[1] + '"/>'); });
    sectionsIn(a, b, function (x) { var s = spanY(x[1], x[2]); out.push('<rect class="cs' + (x[3] ? ' overlap' : '') + '" x="' + (laneX(x[0]) - 10) + '" y="' + s[0] + '" width="20" height="' + s[1] + '"><title>c' + x[0] + ' in the critical section with request ' + esc(x[4]) + '</title></rect>'); });
    for (var c = 1; c <= N; c++) out.push('<line class="lane" x1="' + laneX(c) + '" y1="' + y0 + '" x2="' + laneX(c) + '" y2="' + y1 + '"/>');
    arrowsIn(a, b, function (x) { out.push(arrowSvg(x)); });
    for (var r = a; r <= b; r++) out.push(eventSvg(r));
    view.setAttribute('viewBox', '0 ' + y0 + ' ' + width + ' ' + (y1 - y0));
    view.setAttribute('height', y1 - y0);
    view.style.top = y0 + 'px';
    // The arrowheads are the markers defined in the legend's SVG above.
    view.innerHTML = out.join('');
    document.body.setAttribute('data-drawn', a + '-' + b);
    document.body.setAttribute('data-draw-ms', (performance.now() - drawStarted).toFixed(1));
  }

  var pendingDraw = false;
  function scheduleDraw() {
    if (pendingDraw) return;
    pendingDraw = true;
    window.requestAnimationFrame(function () { pendingDraw = false; draw(); });
  }
  diagram.addEventListener('scroll', scheduleDraw);
  window.addEventListener('resize', scheduleDraw);

  // The state table.
  var FIELDS = [['phase', 'status'], ['why', 'waits for'], ['clock', 'Lamport clock'], ['queue', 'request queue'], ['seen', 'largest ts seen'], ['table', 'balance table'], ['ledger', 'ledger'], ['pending', 'transfers']];
  var VIEW_FIELDS = ['phase', 'why', 'queue', 'seen', 'table', 'ledger', 'pending'];
  var table = document.getElementById('state');
  var html = '<thead><tr><th></th>';
  for (c = 1; c <= N; c++) html += '<th>c' + c + '</th>';
  html += '</tr></thead><tbody>';
  FIELDS.forEach(function (f) {
    html += '<tr><th>' + f[1] + '</th>';
    for (var c = 1; c <= N; c++) html += '<td data-client="' + c + '" data-field="' + f[0] + '"></td>';
    html += '</tr>';
  });
  table.innerHTML = html + '</tbody>';
  var cells = {};
  table.querySelectorAll('td').forEach(function (td) { cells[td.dataset.client + ':' + td.dataset.field] = td; });

  // Client c's state after s events: the clock of its last event, and per field the last
  // change before step s.
  function stateOf(c, s) {
    var rows = rowsOf[c], k = lastBefore(rows, s, identity);
    var state = { clock: String(k < 0 ? D.clocks[c - 1] : E[rows[k]][3]) };
    VIEW_FIELDS.forEach(function (name, f) {
      var changes = D.views[c - 1][f], j = lastBefore(changes[0], s, identity);
      state[name] = changes[1][Math.max(j, 0)];
    });
    return state;
  }

  // Fills the table; a cell is marked when the current event changed it.
  function showState() {
    for (var c = 1; c <= N; c++) {
      var st = stateOf(c, step), before = step > 0 ? stateOf(c, step - 1) : st;
      FIELDS.forEach(function (f) {
        var td = cells[c + ':' + f[0]], value = st[f[0]];
        if (td.textContent !== value) td.textContent = value;
        td.classList.toggle('changed', value !== before[f[0]]);
        td.classList.toggle('down', st.phase.indexOf('down') === 0);
      });
    }
    var current = document.getElementById('current');
    if (step === 0) {
      current.textContent = 'Before the first event shown. Step forward with → or the buttons.';
      current.className = '';
    } else {
      var ev = E[step - 1];
      current.textContent = '#' + ev[0] + '  t=' + timeText(ev[1]) + '  ' + (ev[2] ? 'c' + ev[2] : 'network') + '  clock ' + ev[3] + '\n' + ev[6];
      current.className = ev[4] === 'violation' ? 'violation' : '';
    }
    var inForce = [];
    D.cuts.forEach(function (x) { if (openStart(x[0]) < step && (x[1] < 0 || x[1] >= step)) inForce.push(x[2]); });
    document.getElementById('network').textContent = inForce.length ? 'partition in force: ' + inForce.join(', ') : '';
    document.getElementById('position').textContent = 'step ' + step + ' of ' + n + (step > 0 ? '  (event #' + E[step - 1][0] + ')' : '');
    document.getElementById('goto').value = step;
    document.body.setAttribute('data-step', String(step));
  }

  function setStep(s, fromHash) {
    s = Math.max(0, Math.min(n, s | 0));
    step = s;
    showState();
    if (step > 0) {
      var y = rowY(step - 1) + 24, viewTop = diagram.scrollTop, h = diagram.clientHeight;
      if (y < viewTop + 40 || y > viewTop + h - 40) diagram.scrollTop = Math.max(0, y - Math.floor(h / 3));
    } else {
      diagram.scrollTop = 0;
    }
    draw();
    if (!fromHash && window.history && window.history.replaceState) {
      try { window.history.replaceState(null, '', '#step=' + step); } catch (e) { /* some file: pages refuse */ }
    }
  }

  function jump(kind, direction) {
    var r = step - 1 + direction;
    for (; r >= 0 && r < n; r += direction) {
      if (E[r][4] === kind) { setStep(r + 1); return true; }
    }
    return false;
  }

  // `#step=N` (N events done) or `#seq=S` (up to and including event S), then optionally
  // `&keys=k1,k2,...`: key presses to play, as a script or a test would type them.
  function fromHash() {
    var h = window.location.hash, m;
    if ((m = /step=(\d+)/.exec(h))) {
      setStep(parseInt(m[1], 10), true);
    } else if ((m = /seq=(\d+)/.exec(h))) {
      var seq = parseInt(m[1], 10), k = lastBefore(E, seq + 1, first);
      setStep(k + 1, true);
    } else {
      setStep(0, true);
    }
    if ((m = /keys=([^&]*)/.exec(h))) {
      decodeURIComponent(m[1]).split(',').forEach(function (key) {
        if (key === 'Shift+e' || key === 'Shift+c' || key === 'Shift+a' || key === 'Shift+v') {
          document.dispatchEvent(new KeyboardEvent('keydown', { key: key.slice(6).toUpperCase(), shiftKey: true }));
        } else if (key) {
          document.dispatchEvent(new KeyboardEvent('keydown', { key: key === 'Space' ? ' ' : key }));
        }
      });
    }
  }

  function on(id, f) { document.getElementById(id).addEventListener('click', f); }
  on('first', function () { setStep(0); });
  on('back', function () { setStep(step - 1); });
  on('forward', function () { setStep(step + 1); });
  on('last', function () { setStep(n); });
  on('next-enter', function () { jump('enter', 1); });
  on('next-commit', function () { jump('commit', 1); });
  on('next-abort', function () { jump('abort', 1); });
  on('next-violation', function () { jump('violation', 1); });
  document.getElementById('goto').addEventListener('change', function (e) { setStep(parseInt(e.target.value, 10) || 0); });
  view.addEventListener('click', function (e) {
    var g = e.target.closest ? e.target.closest('g.ev') : null;
    if (g) setStep(parseInt(g.getAttribute('data-row'), 10) + 1);
  });
  document.addEventListener('keydown', function (e) {
    if (e.target && e.target.tagName === 'INPUT') return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var back = e.shiftKey ? -1 : 1, handled = true;
    switch (e.key) {
      case 'ArrowRight': case 'ArrowDown': case 'j': case 'l': case ' ': setStep(step + 1); break;
      case 'ArrowLeft': case 'ArrowUp': case 'k': case 'h': case 'Backspace': setStep(step - 1); break;
      case 'PageDown': setStep(step + 20); break;
      case 'PageUp': setStep(step - 20); break;
      case 'Home': setStep(0); break;
      case 'End': setStep(n); break;
      case 'e': case 'E': jump('enter', back); break;
      case 'c': case 'C': jump('commit', back); break;
      case 'a': case 'A': jump('abort', back); break;
      case 'v': case 'V': jump('violation', back); break;
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });
  window.addEventListener('hashchange', fromHash);
  fromHash();
  document.body.setAttribute('data-ready', 'yes');
  document.body.setAttribute('data-load-ms', (performance.now() - started).toFixed(1));
}
})();
"#;
