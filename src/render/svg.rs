//! The space-time diagram as SVG: one vertical lane per client, one row per event (time runs
//! downwards, the simulated time is written at the left of every row), messages as slanted
//! arrows from the send to the delivery coloured by message type, so a message that overtakes
//! another crosses it. Critical sections are shaded on their lane (red where two overlap),
//! commits and aborts are marked, every event carries its Lamport clock, lost messages end in a
//! cross, crashed clients are greyed out, partitions are bands, violations are red rows.
//!
//! Every event is one `<g class="ev k-KIND" data-seq="SEQ">` element (KIND as in the trace),
//! every message line one `<line class="msg m-TYPE …">`, so tests and stylesheets can find
//! them. Coordinates are integers and nothing depends on hash order: the same trace gives the
//! same bytes. There is no cap on the number of events; `--from/--to` select a window.

mod diagram;

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::protocol::ClientId;
use crate::trace::{Event, EventKind};

use super::text::{describe_at, format_time};
use super::{Capture, escape_xml};
use diagram::groups_text;

pub(crate) use diagram::{Arrow, Diagram, Fate, Span};

/// Height of one event row.
pub(crate) const ROW_H: i64 = 24;
/// Where the first row starts (title, legend and lane names above).
pub(crate) const TOP: i64 = 84;
/// The x of client 1's lane.
pub(crate) const LANE0: i64 = 190;
/// The distance between two lanes.
pub(crate) const LANE_W: i64 = 230;
/// Room right of the last lane for its labels.
pub(crate) const RIGHT: i64 = 260;

/// How far left of an event's mark its Lamport clock label ends, and how far right of it its
/// words start: clear of the arrowheads, which stop [`TIP_GAP`] short of the mark and reach
/// [`HEAD_LEN`] further back.
pub(crate) const LABEL_DX: i64 = 18;
/// How far short of the receiver's mark a delivered message's arrow stops (the mark's
/// radius and a little more), so that its head points at the mark without covering it.
pub(crate) const TIP_GAP: i64 = 6;
/// An arrowhead's `markerWidth` (and height) for its 10 units: scaled by the message line's
/// stroke width, [`MSG_STROKE`], it is [`HEAD_LEN`] long and as wide.
const MARKER_SIZE: i64 = 6;
/// The stroke width of a message's line (`.msg` in [`STYLE`]), which scales its marker.
const MSG_STROKE: f64 = 1.6;
/// The length of an arrowhead along its line, in pixels.
const HEAD_LEN: f64 = MARKER_SIZE as f64 * MSG_STROKE;
// An arrowhead that ends at a mark stops 2 pixels before the labels either side of it.
const _: () = assert!(LABEL_DX as f64 >= TIP_GAP as f64 + HEAD_LEN + 2.0);

/// The end of the arrow of a message delivered at `(x2, y2)` and sent at `(x1, y1)`:
/// [`TIP_GAP`] short of the mark, along the line (whole pixels).
pub(crate) fn arrow_tip(x1: i64, y1: i64, x2: i64, y2: i64) -> (i64, i64) {
    let (dx, dy) = ((x2 - x1) as f64, (y2 - y1) as f64);
    let length = (dx * dx + dy * dy).sqrt();
    if length <= 2.0 * TIP_GAP as f64 {
        return (x2, y2);
    }
    let short = TIP_GAP as f64 / length;
    (
        x2 - (dx * short).round() as i64,
        y2 - (dy * short).round() as i64,
    )
}

/// The x of a client's lane.
pub(crate) fn lane_x(id: ClientId) -> i64 {
    LANE0 + (i64::from(id.get()) - 1) * LANE_W
}

/// The width of a diagram of `lanes` clients (at least the legend's).
pub(crate) fn diagram_width(lanes: u32) -> i64 {
    (lane_x(ClientId::new(lanes.max(1))) + RIGHT).max(MIN_WIDTH)
}

/// The legend's width.
const MIN_WIDTH: i64 = 1100;

/// The y of the middle of row `row`.
pub(crate) fn row_y(row: usize) -> i64 {
    TOP + row as i64 * ROW_H + ROW_H / 2
}

/// A few words for the label next to an event's mark.
pub(crate) fn short_label(event: &Event) -> String {
    let node = event.node.unwrap_or(ClientId::new(0));
    match &event.kind {
        EventKind::Send { msg_id, to, msg } => {
            format!(
                "{} {} → c{to} m{msg_id}",
                msg_name(msg.type_name()),
                msg.ts()
            )
        }
        EventKind::Deliver { msg_id, from, msg } => {
            format!(
                "{} {} ← c{from} m{msg_id}",
                msg_name(msg.type_name()),
                msg.ts()
            )
        }
        EventKind::Transfer { to, amount } => format!("asked: pay {amount} to c{to}"),
        EventKind::Request { ts } => format!("request ({ts},{node})"),
        EventKind::Enter { ts } => format!("ENTER ({ts},{node})"),
        EventKind::Exit { ts } => format!("exit ({ts},{node})"),
        EventKind::Commit { block } => format!(
            "COMMIT block {}: c{} pays {} to c{}",
            block.index(),
            block.from(),
            block.amount(),
            block.to()
        ),
        EventKind::Abort {
            amount, balance, ..
        } => format!("ABORT: {amount} > balance {balance}"),
        EventKind::Apply { block } => format!("apply block {}", block.index()),
        EventKind::Reject { block, .. } => format!("REJECT block {}", block.index()),
        EventKind::Balance { of, value } => format!("reads c{of}: {value}"),
        EventKind::Violation { invariant, .. } => format!("VIOLATION {invariant}"),
        EventKind::Drop { msg_id, .. } => format!("m{msg_id} lost"),
        EventKind::Duplicate { msg_id } => format!("m{msg_id} duplicated"),
        EventKind::Crash => "CRASH".to_string(),
        EventKind::Restart { kept } => format!("restart, kept {}", kept.name()),
        EventKind::Partition { groups, direction } => {
            format!("partition {}", groups_text(groups, direction.name()))
        }
        EventKind::Heal { groups, direction } => {
            format!("heal {}", groups_text(groups, direction.name()))
        }
    }
}

/// `REQ`, `REP`, `REL`, `UPD`, `ACK`.
fn msg_name(type_name: &str) -> &'static str {
    match type_name {
        "request" => "REQ",
        "reply" => "REP",
        "release" => "REL",
        "update" => "UPD",
        "updated" => "UPDATED",
        _ => "MSG",
    }
}

/// The message types, in legend order.
pub(crate) const MESSAGE_TYPES: [&str; 5] = ["request", "reply", "release", "update", "updated"];

/// The stylesheet of the diagram, shared with the HTML page.
pub(crate) const STYLE: &str = r#"
.title{font:bold 15px sans-serif;fill:#222}
.legend{font:12px sans-serif;fill:#333}
.lanename{font:bold 14px sans-serif;fill:#222;text-anchor:middle}
.lane{stroke:#999;stroke-width:1.5}
.grid{stroke:#eee;stroke-width:1}
.seq,.time{font:11px monospace;fill:#777}
.time{text-anchor:end}
.clk{font:10px monospace;fill:#555;text-anchor:end;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.lbl{font:11px sans-serif;fill:#333;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
.ev circle{fill:#fff;stroke:#444;stroke-width:1.5}
.k-send circle{fill:#444;stroke:none}
.k-deliver circle{fill:#fff;stroke:#444}
.k-request circle{fill:#fff;stroke:#1f77b4;stroke-width:2.5}
.k-enter circle{fill:#1f77b4;stroke:#0b3d66}
.k-exit circle{fill:#fff;stroke:#0b3d66;stroke-width:2}
.k-enter .lbl{font-weight:bold;fill:#0b3d66}
.k-commit rect{fill:#2ca02c;stroke:#145214}
.k-commit .lbl{fill:#145214;font-weight:bold}
.k-abort path,.k-crash path,.k-drop path{stroke:#e67e00;stroke-width:3;fill:none}
.k-abort .lbl{fill:#b35f00;font-weight:bold}
.k-crash path{stroke:#000}
.k-crash .lbl,.k-restart .lbl{font-weight:bold}
.k-apply circle{fill:#b8e0b8;stroke:#2ca02c}
.k-reject circle{fill:#d62728;stroke:#7a0c0c}
.k-balance circle{fill:#ffe9a8;stroke:#a07800}
.k-violation circle{fill:#d62728;stroke:#7a0c0c}
.k-violation .lbl{fill:#d62728;font-weight:bold}
.vrow{fill:#d62728;fill-opacity:.14}
.net{stroke:#7b2d9b;stroke-width:2;stroke-dasharray:8 4}
.k-partition .lbl,.k-heal .lbl{fill:#7b2d9b;font-weight:bold}
.cs{fill:#1f77b4;fill-opacity:.16;stroke:#1f77b4;stroke-opacity:.5}
.cs.overlap{fill:#d62728;fill-opacity:.22;stroke:#d62728;stroke-opacity:.9;stroke-width:2}
.down{fill:#888;fill-opacity:.25}
.cut{fill:#7b2d9b;fill-opacity:.10}
.msg{stroke-width:1.6;fill:none}
.msg.lost{stroke-dasharray:4 3}
.msg.beyond{stroke-dasharray:2 3}
.m-request{stroke:#1f77b4}.f-request{fill:#1f77b4}
.m-reply{stroke:#2ca02c}.f-reply{fill:#2ca02c}
.m-release{stroke:#e67e00}.f-release{fill:#e67e00}
.m-update{stroke:#9467bd}.f-update{fill:#9467bd}
.m-updated{stroke:#8c564b}.f-updated{fill:#8c564b}
.xmark{stroke:#d62728;stroke-width:2;fill:none}
.cur{fill:#ffd400;fill-opacity:.35}
"#;

/// The arrowheads, one per message type, and the cross of a lost message.
pub(crate) fn marker_defs() -> String {
    let mut defs = String::from("<defs>");
    // The tip (10,5) sits at the line's end; the head is HEAD_LEN long.
    let size = MARKER_SIZE;
    for msg_type in MESSAGE_TYPES {
        let _ = write!(
            defs,
            "<marker id=\"h-{msg_type}\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
             markerWidth=\"{size}\" markerHeight=\"{size}\" orient=\"auto\"><path \
             d=\"M0,0L10,5L0,10z\" class=\"f-{msg_type}\"/></marker>"
        );
    }
    defs.push_str(
        "<marker id=\"h-x\" viewBox=\"0 0 10 10\" refX=\"5\" refY=\"5\" markerWidth=\"9\" \
         markerHeight=\"9\" orient=\"auto\"><path d=\"M1,1L9,9M9,1L1,9\" class=\"xmark\"/></marker>",
    );
    defs.push_str("</defs>");
    defs
}

/// Writes the diagram of `capture` as a standalone SVG document.
pub fn write_svg(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    let info = &capture.info;
    let diagram = Diagram::build(capture);
    let rows = capture.events.len();
    let lanes = info.clients().max(1);
    let width = diagram_width(lanes);
    let bottom = TOP + rows as i64 * ROW_H;
    let height = bottom + 16;
    let mut svg = String::with_capacity(512 + rows * 360);
    let _ = write!(
        svg,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" \
         width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" \
         class=\"spacetime\">\n<style>{STYLE}</style>\n{}\n",
        marker_defs()
    );
    let _ = writeln!(
        svg,
        "<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#fff\"/>"
    );
    let _ = writeln!(
        svg,
        "<text class=\"title\" x=\"10\" y=\"20\">{} — {}</text>",
        escape_xml(&info.headline()),
        escape_xml(&capture.range_text())
    );
    write_legend(&mut svg, &Legend::of(&diagram), 10, 42);
    let _ = writeln!(
        svg,
        "<text class=\"seq\" x=\"10\" y=\"{}\">seq</text><text class=\"time\" x=\"{}\" \
         y=\"{}\">time</text>",
        TOP - 8,
        LANE0 - 40,
        TOP - 8
    );
    for id in info.client_ids() {
        let _ = writeln!(
            svg,
            "<text class=\"lanename\" x=\"{}\" y=\"{}\">c{id}</text>",
            lane_x(id),
            TOP - 8
        );
    }
    // Backgrounds: partitions, violation rows, crashed stretches, critical sections.
    for cut in &diagram.cuts {
        let (y1, y2) = span_ys(cut, bottom);
        let _ = writeln!(
            svg,
            "<rect class=\"cut\" x=\"{}\" y=\"{y1}\" width=\"{}\" height=\"{}\"><title>partition \
             {}</title></rect>",
            LANE0 - 30,
            lane_x(ClientId::new(lanes)) - LANE0 + 60,
            (y2 - y1).max(1),
            escape_xml(&cut.label)
        );
    }
    for (row, event) in capture.events.iter().enumerate() {
        if matches!(event.kind, EventKind::Violation { .. }) {
            let _ = writeln!(
                svg,
                "<rect class=\"vrow\" x=\"0\" y=\"{}\" width=\"{width}\" height=\"{ROW_H}\"/>",
                row_y(row) - ROW_H / 2
            );
        }
    }
    for down in &diagram.downs {
        let (y1, y2) = span_ys(down, bottom);
        let _ = writeln!(
            svg,
            "<rect class=\"down\" x=\"{}\" y=\"{y1}\" width=\"24\" height=\"{}\"><title>c{} is \
             down</title></rect>",
            lane_x(down.lane) - 12,
            (y2 - y1).max(1),
            down.lane
        );
    }
    for section in &diagram.sections {
        let (y1, y2) = span_ys(section, bottom);
        let _ = writeln!(
            svg,
            "<rect class=\"cs{}\" data-lane=\"{}\" x=\"{}\" y=\"{y1}\" width=\"20\" height=\"{}\">\
             <title>c{} in the critical section with request {}{}</title></rect>",
            if section.overlap { " overlap" } else { "" },
            section.lane,
            lane_x(section.lane) - 10,
            (y2 - y1).max(1),
            section.lane,
            section.label,
            if section.overlap {
                ", at the same time as another client"
            } else {
                ""
            }
        );
    }
    for id in info.client_ids() {
        let x = lane_x(id);
        let _ = writeln!(
            svg,
            "<line class=\"lane\" x1=\"{x}\" y1=\"{TOP}\" x2=\"{x}\" y2=\"{bottom}\"/>"
        );
    }
    for arrow in &diagram.arrows {
        write_arrow(&mut svg, arrow, bottom);
    }
    let mut last_regular = capture.start.last_regular;
    for (row, event) in capture.events.iter().enumerate() {
        write_event(&mut svg, row, event, lanes, capture.rules(), last_regular);
        if !matches!(event.kind, EventKind::Violation { .. }) {
            last_regular = Some(event.seq);
        }
    }
    svg.push_str("</svg>\n");
    out.write_all(svg.as_bytes())
}

/// What the legend lists: only what the drawing has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Legend {
    /// The message types that have an arrow, in [`MESSAGE_TYPES`] order.
    pub messages: Vec<&'static str>,
    /// A critical section is shaded.
    pub section: bool,
    /// Two critical sections overlap.
    pub overlap: bool,
    /// A message is lost.
    pub lost: bool,
    /// A client is down for a while.
    pub crashed: bool,
}

impl Legend {
    /// The legend of `diagram`.
    pub(crate) fn of(diagram: &Diagram) -> Self {
        Legend {
            messages: MESSAGE_TYPES
                .into_iter()
                .filter(|&kind| diagram.arrows.iter().any(|arrow| arrow.msg_type == kind))
                .collect(),
            section: !diagram.sections.is_empty(),
            overlap: diagram.sections.iter().any(|section| section.overlap),
            lost: diagram
                .arrows
                .iter()
                .any(|arrow| matches!(arrow.fate, Fate::LostOnTheWay | Fate::LostAtReceiver)),
            crashed: !diagram.downs.is_empty(),
        }
    }
}

/// Writes `legend` in one line starting at `(x, y)`.
pub(crate) fn write_legend(svg: &mut String, legend: &Legend, x: i64, y: i64) {
    let mut x = x;
    for msg_type in &legend.messages {
        let _ = write!(
            svg,
            "<line class=\"msg m-{msg_type}\" x1=\"{x}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" \
             marker-end=\"url(#h-{msg_type})\"/><text class=\"legend\" x=\"{}\" \
             y=\"{y}\">{}</text>",
            y - 4,
            x + 26,
            y - 4,
            x + 32,
            msg_type.to_uppercase()
        );
        x += 40 + 9 * msg_type.len() as i64;
    }
    // Each square is a group of its own: the page shows its overlap item only once an
    // overlap is on screen.
    let mut square = |class: &str, text: &str, width: i64| {
        let _ = write!(
            svg,
            "<g class=\"legend-{}\"><rect class=\"{class}\" x=\"{x}\" y=\"{}\" width=\"14\" \
             height=\"14\"/><text class=\"legend\" x=\"{}\" y=\"{y}\">{text}</text></g>",
            class.rsplit(' ').next().unwrap_or(class),
            y - 11,
            x + 18
        );
        x += width;
    };
    if legend.section {
        square("cs", "critical section", 120);
    }
    if legend.crashed {
        square("down", "crashed", 85);
    }
    if legend.lost {
        let _ = write!(
            svg,
            "<line class=\"msg m-request lost\" x1=\"{x}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" \
             marker-end=\"url(#h-x)\"/><text class=\"legend\" x=\"{}\" y=\"{y}\">lost</text>",
            y - 4,
            x + 26,
            y - 4,
            x + 38
        );
        x += 75;
    }
    let _ = write!(
        svg,
        "<text class=\"legend\" x=\"{x}\" y=\"{y}\">left of each mark: its Lamport clock</text>"
    );
    // Last, so that the page can hide it until an overlap is shown without leaving a gap.
    if legend.overlap {
        let x = x + 230;
        let _ = write!(
            svg,
            "<g class=\"legend-overlap\"><rect class=\"cs overlap\" x=\"{x}\" y=\"{}\" \
             width=\"14\" height=\"14\"/><text class=\"legend\" x=\"{}\" \
             y=\"{y}\">overlap</text></g>",
            y - 11,
            x + 18
        );
    }
    svg.push('\n');
}

/// The top and bottom y of a span, open ends at the window's edges.
fn span_ys(span: &Span, bottom: i64) -> (i64, i64) {
    let y1 = span.start.map_or(TOP, row_y);
    let y2 = span.end.map_or(bottom, row_y);
    (y1, y2)
}

fn write_arrow(svg: &mut String, arrow: &Arrow, bottom: i64) {
    let (x1, x2) = (lane_x(arrow.from), lane_x(arrow.to));
    let y1 = arrow.start.map_or(TOP, row_y);
    let (x2, y2, class, head) = match (arrow.fate, arrow.end) {
        (Fate::Delivered, Some(row)) => (x2, row_y(row), "", arrow.msg_type),
        (Fate::LostOnTheWay, Some(row)) => (x1 + (x2 - x1) * 2 / 5, row_y(row), " lost", "x"),
        (Fate::LostAtReceiver, Some(row)) => (x2, row_y(row), " lost", "x"),
        _ => (x2, bottom, " beyond", arrow.msg_type),
    };
    let at_mark = arrow.fate == Fate::Delivered && arrow.end.is_some();
    let points = arrow_points((x1, y1), arrow.start.is_some(), (x2, y2), at_mark);
    let _ = write!(
        svg,
        "<polyline class=\"msg m-{}{class}\" data-msg=\"{}\" points=\"",
        arrow.msg_type, arrow.msg_id
    );
    for (rank, (x, y)) in points.iter().enumerate() {
        let _ = write!(svg, "{}{x},{y}", if rank == 0 { "" } else { " " });
    }
    let _ = writeln!(svg, "\" marker-end=\"url(#h-{head})\"/>");
}

/// How far a message's line runs diagonally, below the sender's row and above the
/// receiver's, before and after its straight middle: the text of a row lies within 8 pixels
/// of its middle, so the line passes under the sender's labels and above the receiver's
/// instead of through them.
pub(crate) const KINK: i64 = 10;

/// The corners of a message's line from `from` to `to`: it leaves a mark (`leaves_mark`)
/// down and sideways for [`KINK`] pixels, and arrives at one (`at_mark`) from [`KINK`]
/// pixels above, stopping [`TIP_GAP`] short of it; an open end is a plain point.
pub(crate) fn arrow_points(
    from: (i64, i64),
    leaves_mark: bool,
    to: (i64, i64),
    at_mark: bool,
) -> Vec<(i64, i64)> {
    let toward = (to.0 - from.0).signum();
    let mut points = vec![from];
    if leaves_mark {
        points.push((from.0 + toward * KINK, from.1 + KINK));
    }
    if at_mark {
        let corner = (to.0 - toward * KINK, to.1 - KINK);
        points.push(corner);
        points.push(arrow_tip(corner.0, corner.1, to.0, to.1));
    } else {
        points.push(to);
    }
    points
}

fn write_event(
    svg: &mut String,
    row: usize,
    event: &Event,
    lanes: u32,
    rules: super::Rules,
    last_regular: Option<u64>,
) {
    let y = row_y(row);
    let kind = event.kind.name();
    let title = format!(
        "#{} t={} {}clock {}: {}",
        event.seq,
        format_time(event.t_us),
        event
            .node
            .map_or_else(String::new, |node| format!("c{node} ")),
        event.clock,
        describe_at(event, rules, last_regular)
    );
    let _ = write!(
        svg,
        "<g class=\"ev k-{kind}\" data-seq=\"{}\"><title>{}</title><text class=\"seq\" x=\"10\" \
         y=\"{}\">#{}</text><text class=\"time\" x=\"{}\" y=\"{}\">{}</text>",
        event.seq,
        escape_xml(&title),
        y + 4,
        event.seq,
        LANE0 - 40,
        y + 4,
        format_time(event.t_us)
    );
    let label = escape_xml(&short_label(event)).into_owned();
    match event.node {
        None => {
            let _ = write!(
                svg,
                "<line class=\"net\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/><text \
                 class=\"lbl\" x=\"{}\" y=\"{}\">{label}</text>",
                LANE0 - 30,
                lane_x(ClientId::new(lanes)) + 30,
                lane_x(ClientId::new(lanes)) + 36,
                y + 4
            );
        }
        Some(node) => {
            let x = lane_x(node);
            match &event.kind {
                EventKind::Commit { .. } => {
                    let _ = write!(
                        svg,
                        "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\"/>",
                        x - 6,
                        y - 6
                    );
                }
                EventKind::Abort { .. } | EventKind::Crash | EventKind::Drop { .. } => {
                    let _ = write!(
                        svg,
                        "<path d=\"M{},{}L{},{}M{},{}L{},{}\"/>",
                        x - 5,
                        y - 5,
                        x + 5,
                        y + 5,
                        x + 5,
                        y - 5,
                        x - 5,
                        y + 5
                    );
                }
                EventKind::Violation { .. } => {
                    let _ = write!(svg, "<circle cx=\"{x}\" cy=\"{y}\" r=\"7\"/>");
                }
                _ => {
                    let _ = write!(svg, "<circle cx=\"{x}\" cy=\"{y}\" r=\"4\"/>");
                }
            }
            let _ = write!(
                svg,
                "<text class=\"clk\" x=\"{}\" y=\"{}\">{}</text><text class=\"lbl\" x=\"{}\" \
                 y=\"{}\">{label}</text>",
                x - LABEL_DX,
                y + 4,
                event.clock,
                x + LABEL_DX,
                y + 4
            );
        }
    }
    svg.push_str("</g>\n");
}
