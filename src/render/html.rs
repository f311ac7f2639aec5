//! One self-contained HTML page (inline CSS and JavaScript, no network) with the space-time
//! diagram and a step-through view of the run.
//!
//! Everything the page shows is computed here, in Rust, and embedded as one JSON block; the
//! script (`html/page.js`) only looks things up and draws:
//!
//! - the events (seq, time, client, Lamport clock, kind, a short label, the sentence of the
//!   text timeline) and, for the events that have any, the explanations the text view prints
//!   under them ([`Explainer`]); the message arrows (with each message's timestamp, for the
//!   list of messages in flight), critical sections, crashes and partitions, as the SVG
//!   renderer lays them out (`svg::Diagram`);
//! - every client's state, rebuilt from the events by [`Replay`](super::state::Replay): one
//!   record per client per change of a field of the state table (`html/view.rs`). A
//!   client's state only changes at its own events, so the state at any step is, per client,
//!   the last record before it (a binary search) and the clock of its last event.
//!
//! The script draws only the events done so far (all of them on request), and only the rows
//! on screen, so a page of 100,000 events scrolls and steps as quickly as one of 100. Its
//! happens-before view walks the drawn links: each client's own order and each message from
//! send to delivery. The page honours `#step=N` (N events done) and `#seq=S` (up to and
//! including event S) in its address, then plays the actions of `&keys=e,c,click:ID,
//! event:SEQ,type:TEXT,…`; it writes any script error into `<pre id="errors">` and marks
//! `<body data-ready="yes">` when its script finished, which the browser tests read.

use std::io::{self, Write};

use serde::Serialize;

mod view;

use crate::protocol::ClientId;

use super::explain::Explainer;
use super::svg::{self, Diagram, Fate, LANE_W, LANE0, Legend, RIGHT, STYLE, short_label};
use super::text::describe_at;
use super::{Capture, escape_xml};
use view::view_of;
pub use view::{VIEW_FIELDS, state_fields};

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
/// `[from, to, type, start row (-1: before), end row (-1: after), fate, msg_id, ts]`
type ArrowRow = (u32, u32, &'static str, i64, i64, u8, u64, u64);

/// The JSON block the page reads.
#[derive(Serialize)]
struct PageData<'a> {
    title: String,
    range: String,
    description: Option<&'a str>,
    clients: u32,
    geometry: Geometry,
    events: Vec<EventRow>,
    /// `[row, explanations]` for the rows that have any ([`Explainer`]), in row order.
    notes: Vec<(usize, Vec<String>)>,
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
    /// How far a message's line runs diagonally at a mark ([`svg::KINK`]).
    kink: i64,
}

fn row_or_open(row: Option<usize>) -> i64 {
    row.map_or(-1, |row| row as i64)
}

/// Writes the page for `capture`.
pub fn write_html(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    let info = &capture.info;
    let diagram = Diagram::build(capture);
    let replay = &capture.start;
    let mut views: Vec<Vec<FieldChanges>> = info
        .client_ids()
        .map(|id| {
            view_of(replay, id)
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
    let mut notes = Vec::new();
    let mut explainer = Explainer::new(replay);
    for (row, event) in capture.events.iter().enumerate() {
        let last_regular = explainer.replay().last_regular;
        let said = explainer.explain(&capture.events, row);
        if !said.is_empty() {
            notes.push((row, said));
        }
        let replay = explainer.replay();
        events.push((
            event.seq,
            event.t_us,
            event.node.map_or(0, ClientId::get),
            event.clock,
            event.kind.name(),
            short_label(event),
            describe_at(event, capture.rules(), last_regular),
        ));
        if let Some(node) = event.node
            && let Some(list) = node.checked_index().and_then(|slot| views.get_mut(slot))
        {
            for (changes, value) in list.iter_mut().zip(view_of(replay, node)) {
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
            kink: svg::KINK,
        },
        events,
        notes,
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
                    arrow.ts,
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
        legend_svg(&Legend::of(&diagram))
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
fn legend_svg(legend: &Legend) -> String {
    let mut svg = String::new();
    svg::write_legend(&mut svg, legend, 10, 42);
    svg
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

const CONTROLS: &str = r#"<div id="controls">
<button id="first" title="before the first event (Home)">« start</button>
<button id="back" title="one event back (←)">◀ back</button>
<button id="forward" title="one event forward (→)">forward ▶</button>
<button id="last" title="the last event (End)">end »</button>
<button id="next-enter" title="next entry into the critical section (e)">next enter</button>
<button id="next-commit" title="next commit (c)">next commit</button>
<button id="next-abort" title="next abort (a)">next abort</button>
<button id="next-violation" title="next violation (v)">next violation</button>
<label title="type an event number and press Enter">event # <input id="goto" type="text" inputmode="numeric" autocomplete="off" size="7"></label>
<label title="draw the events still to come too (r)"><input id="reveal-all" type="checkbox"> show the whole run</label>
<button id="find-pair" title="two events with no causal link whose clocks are ordered anyway (p)">concurrent pair</button>
<span id="position"></span>
</div>
"#;

const BODY: &str = r#"<main>
<div id="diagram"><div id="lanes"></div><div id="canvas"><svg id="view" xmlns="http://www.w3.org/2000/svg"></svg></div></div>
<aside>
<h2>Current event</h2>
<div id="current"></div>
<div id="network"></div>
<div id="causal" hidden></div>
<h2 id="inflight-head">Messages in flight</h2>
<ul id="inflight"></ul>
<h2>State after this event <button id="transpose" title="clients as rows or as columns (t)">transpose</button></h2>
<div id="state-box"><table id="state"></table></div>
<h2>Keys</h2>
<div id="help"><kbd>→</kbd> <kbd>j</kbd> <kbd>Space</kbd> forward · <kbd>←</kbd> <kbd>k</kbd> back · <kbd>PgDn</kbd> <kbd>PgUp</kbd> 20 events · <kbd>Home</kbd> <kbd>End</kbd> · <kbd>e</kbd> next enter · <kbd>c</kbd> next commit · <kbd>a</kbd> next abort · <kbd>v</kbd> next violation (with <kbd>Shift</kbd>: the previous one) · <kbd>r</kbd> show the whole run · <kbd>p</kbd> a concurrent pair · <kbd>t</kbd> transpose · <kbd>Esc</kbd> clear the selection · click an event to light up its causal past and future · the address <code>#seq=S</code> opens the page at event S.</div>
<pre id="errors"></pre>
</aside>
</main>
"#;

/// The page's script: lookups and drawing only (see the module documentation).
const SCRIPT: &str = include_str!("html/page.js");

/// The page's stylesheet, after the diagram's.
const PAGE_STYLE: &str = include_str!("html/page.css");
