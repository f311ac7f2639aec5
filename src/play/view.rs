//! What the page shows of a session, as one JSON object: the path's steps, the moves possible
//! now, the space-time diagram and the state table of the rendered page (the same renderers:
//! [`crate::render::svg`], [`crate::render::html::state_fields`]), the explained timeline of
//! the last step, the violation and the challenge.

use serde::Serialize;

use super::challenge::{self, Challenge};
use super::{Choice, Session};
use crate::render::state::Replay;
use crate::render::text::format_time;
use crate::render::{Capture, TraceInfo, Window, html, svg, text};
use crate::runner::header;
use crate::trace::{Event, EventKind};

/// The page's labels of the state table's rows, by `data-field` (as the rendered page).
const FIELDS: [(&str, &str); 8] = [
    ("phase", "status"),
    ("why", "waits for"),
    ("clock", "Lamport clock"),
    ("queue", "request queue"),
    ("seen", "largest ts seen"),
    ("table", "balance table"),
    ("ledger", "ledger"),
    ("pending", "transfers"),
];

#[derive(Serialize)]
pub struct View {
    pub title: String,
    pub description: String,
    /// Moves made.
    pub step: usize,
    /// Moves undone that can be redone.
    pub redo: usize,
    pub steps: Vec<StepView>,
    pub choices: Vec<Choice>,
    pub stopped: bool,
    pub svg: String,
    pub clients: u32,
    /// `[field, label]` in row order.
    pub fields: Vec<(&'static str, &'static str)>,
    /// Per client, per field in [`Self::fields`] order: `[text, changed by the last step]`.
    pub state: Vec<Vec<(String, bool)>>,
    /// The explained timeline of the last step.
    pub explained: String,
    pub violation: Option<ViolationView>,
    pub challenge: Challenge,
}

#[derive(Serialize)]
pub struct StepView {
    pub text: String,
    pub time: String,
    pub events: Vec<String>,
    pub fault: bool,
}

#[derive(Serialize)]
pub struct ViolationView {
    pub invariant: String,
    pub seq: u64,
    pub step: usize,
    pub detail: String,
}

/// The trace info the renderers read, for `session`'s scenario and times.
pub fn trace_info(session: &Session) -> TraceInfo {
    let mut info = TraceInfo::from_header(&header(session.scenario()));
    info.cs_us = Some(session.played().timing.cs_us);
    info.description = Some(session.scenario().description.clone());
    info
}

/// The view of `session`; with `hints`, the challenge's hints (a search) are worked out.
pub fn view(session: &Session, hints: bool) -> View {
    let info = trace_info(session);
    let played = session.played();
    let events: Vec<Event> = played.events().cloned().collect();
    let last_len = played.steps.last().map_or(0, |step| step.events.len());
    let before = &events[..events.len() - last_len];
    let mut capture = Capture::new(info.clone(), Window::all());
    for event in &events {
        capture.push(event);
    }
    let mut svg_bytes = Vec::new();
    let svg = match svg::write_svg(&capture, &mut svg_bytes) {
        Ok(()) if !events.is_empty() => String::from_utf8_lossy(&svg_bytes).into_owned(),
        _ => String::new(),
    };
    View {
        title: format!("play: {}", info.headline()),
        description: session.scenario().description.clone(),
        step: session.moves().len(),
        redo: session.redo_moves().len(),
        steps: steps(session, &info),
        choices: session.choices(),
        stopped: played.world.stopped(),
        svg,
        clients: info.clients(),
        fields: FIELDS.to_vec(),
        state: state(&info, before, &events),
        explained: match played.steps.last() {
            Some(last) if last.events.is_empty() => step_text(last),
            _ => explained(&info, before, &events[before.len()..]),
        },
        violation: violation(session),
        challenge: challenge::challenge(session, &info, hints),
    }
}

fn steps(session: &Session, info: &TraceInfo) -> Vec<StepView> {
    let played = session.played();
    played
        .steps
        .iter()
        .map(|step| StepView {
            text: step_text(step),
            time: format_time(step.t_us),
            events: step
                .events
                .iter()
                .map(|event| format!("#{} {}", event.seq, text::describe(event, info.variant)))
                .collect(),
            fault: step.mv.is_fault(),
        })
        .collect()
}

/// A step's move in words.
fn step_text(step: &super::Step) -> String {
    use super::Move;
    match step.mv {
        Move::Issue { client } => format!("c{client} is given its next command"),
        Move::Deliver { msg_id } => format!("deliver m{msg_id}"),
        Move::Leave { client } => format!("c{client} leaves the critical section"),
        Move::Drop { msg_id } => format!(
            "lose m{msg_id} (the network decides a message's fate when it is sent: its loss \
             shows right after its send)"
        ),
        Move::Duplicate { msg_id } => format!(
            "duplicate m{msg_id} (decided when it was sent: the copy shows right after its send)"
        ),
        Move::Crash { client } => format!("crash c{client}"),
        Move::Restart { client } => format!("restart c{client}"),
    }
}

/// The state table after `events`, each cell marked when the last step changed it.
fn state(info: &TraceInfo, before: &[Event], events: &[Event]) -> Vec<Vec<(String, bool)>> {
    let rebuilt = |events: &[Event]| {
        let mut replay = Replay::new(info);
        for event in events {
            replay.apply(event);
        }
        replay
    };
    let (then, now) = (rebuilt(before), rebuilt(events));
    info.client_ids()
        .map(|id| {
            let old = html::state_fields(&then, id);
            let new = html::state_fields(&now, id);
            FIELDS
                .iter()
                .map(|(field, _)| {
                    let value = |fields: &[(&str, String)]| {
                        fields
                            .iter()
                            .find(|(name, _)| name == field)
                            .map(|(_, value)| value.clone())
                            .unwrap_or_default()
                    };
                    let (was, is) = (value(&old), value(&new));
                    let changed = was != is;
                    (is, changed)
                })
                .collect()
        })
        .collect()
}

/// The explained timeline of `last` (the last step's events), after `before`.
fn explained(info: &TraceInfo, before: &[Event], last: &[Event]) -> String {
    if last.is_empty() {
        return String::new();
    }
    let mut capture = Capture::new(info.clone(), Window::all());
    for event in before {
        capture.start.apply(event);
    }
    capture.before = before.len() as u64;
    capture.events = last.to_vec();
    let mut out = Vec::new();
    if text::write_explained(&capture, &mut out).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&out);
    // The step's own lines: between the column heads and the state after it.
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|line| line.trim_start().starts_with("seq"))
        .map_or(0, |at| at + 1);
    let end = lines
        .iter()
        .rposition(|line| line.starts_with("state after"))
        .unwrap_or(lines.len());
    lines[start..end.max(start)]
        .join("\n")
        .trim_end()
        .to_string()
}

/// The first violation on the path, where it happened.
fn violation(session: &Session) -> Option<ViolationView> {
    session
        .played()
        .steps
        .iter()
        .enumerate()
        .find_map(|(step, taken)| {
            taken.events.iter().find_map(|event| match &event.kind {
                EventKind::Violation { invariant, detail } => Some(ViolationView {
                    invariant: invariant.name().to_string(),
                    seq: event.seq,
                    step: step + 1,
                    detail: detail.clone(),
                }),
                _ => None,
            })
        })
}
