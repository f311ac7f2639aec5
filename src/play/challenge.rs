//! Challenge mode: make two clients enter the critical section at once. The hints are the
//! explanation sentences the text view writes: what each client waits for now, and, found by
//! a search over the moves from here, the move to make next and why the entry it leads to
//! happens (the "why" under that entry in the explained timeline).

use std::sync::Arc;

use serde::Serialize;

use super::Session;
use super::search::{Found, MAX_DEPTH, MAX_STATES, search};
use super::world::World;
use crate::base::Invariant;
use crate::render::state::Replay;
use crate::render::{Capture, TraceInfo, Window};
use crate::trace::{Event, EventKind};

/// The challenge's goal, in words.
pub const GOAL: &str = "make two clients enter the critical section at once";

/// Where the challenge stands.
#[derive(Clone, Debug, Serialize)]
pub struct Challenge {
    pub goal: &'static str,
    pub done: bool,
    /// The hints, from general to specific.
    pub hints: Vec<String>,
}

/// Whether `events` hold a mutual exclusion violation.
pub fn reached(events: &[Event]) -> bool {
    events.iter().any(|event| {
        matches!(
            &event.kind,
            EventKind::Violation {
                invariant: Invariant::MutualExclusion,
                ..
            }
        )
    })
}

/// The challenge on `session`'s path, with hints when `with_hints`: the search behind the
/// last hint replays many paths.
pub fn challenge(session: &Session, info: &TraceInfo, with_hints: bool) -> Challenge {
    let events: Vec<Event> = session.played().events().cloned().collect();
    let done = reached(&events);
    let mut hints = Vec::new();
    if with_hints && !done {
        hints.push(
            "A client enters when its own request heads its queue and every peer has sent it \
             something later than that request. Look for a client that can believe both while \
             another client's earlier request is still on its way."
                .to_string(),
        );
        hints.extend(wait_reasons(info, &events));
        hints.push(next_move_hint(session, info));
    }
    Challenge {
        goal: GOAL,
        done,
        hints,
    }
}

/// What each waiting client waits for now, as the text view says it.
fn wait_reasons(info: &TraceInfo, events: &[Event]) -> Vec<String> {
    let mut replay = Replay::new(info);
    for event in events {
        replay.apply(event);
    }
    info.client_ids()
        .filter_map(|id| replay.wait_reason(id).map(|why| format!("c{id} {why}")))
        .collect()
}

/// The first move of a shortest way from here to the goal, and the explanation of the entry
/// that completes it.
fn next_move_hint(session: &Session, info: &TraceInfo) -> String {
    let setup = &session.setup;
    let path = match search(setup, &session.played().world) {
        Found::Way(path) => path,
        Found::NoneNear if session.played().world.stopped() => {
            return "A violation stopped this path: undo, or go back to an earlier step."
                .to_string();
        }
        Found::NoneNear => {
            return format!(
                "No way within {MAX_DEPTH} moves from here (without faults): undo, or go back. \
                 With every link FIFO, Lamport's rules keep one client inside at a time."
            );
        }
        Found::TooMany => {
            return format!(
                "The search gave up after {MAX_STATES} states; play on and ask again nearer \
                 the goal."
            );
        }
    };
    let mut world = World::new(Arc::clone(setup), Default::default());
    let mut events = Vec::new();
    for mv in session.moves() {
        if let Ok((step_events, _)) = world.step(*mv, 0) {
            events.extend(step_events);
        }
    }
    let first = path[0];
    let text = world
        .choices()
        .into_iter()
        .find(|choice| choice.mv == first)
        .map_or_else(|| format!("{first:?}"), |choice| choice.text);
    let start = events.len();
    for mv in &path {
        if let Ok((step_events, _)) = world.step(*mv, 0) {
            events.extend(step_events);
        }
    }
    let why = entry_explanations(info, &events, start);
    format!(
        "{} more moves can do it. Next: {text}.{}",
        path.len(),
        if why.is_empty() {
            String::new()
        } else {
            format!(" Along that way: {}", why.join(" "))
        }
    )
}

/// The "why" sentences of the entries among `events[start..]`, as the explained timeline
/// writes them.
fn entry_explanations(info: &TraceInfo, events: &[Event], start: usize) -> Vec<String> {
    let mut capture = Capture::new(info.clone(), Window::all());
    for event in &events[..start] {
        capture.start.apply(event);
    }
    capture.events = events[start..].to_vec();
    let mut text = Vec::new();
    if crate::render::text::write_explained(&capture, &mut text).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&text);
    let mut lines = text.lines().peekable();
    let mut found = Vec::new();
    while let Some(line) = lines.next() {
        if line.contains("ENTERS") {
            let who = line.split_whitespace().nth(2).unwrap_or("");
            let mut sentence = format!("{who} {}", after_clock(line));
            if let Some(next) = lines.peek()
                && next.trim_start().starts_with("why:")
            {
                sentence.push_str(&format!(" ({})", next.trim()));
            }
            found.push(sentence);
        }
    }
    found
}

/// The words of a timeline line after its `seq`, time, client and clock columns.
fn after_clock(line: &str) -> &str {
    line.find("ENTERS").map_or(line, |at| &line[at..])
}
