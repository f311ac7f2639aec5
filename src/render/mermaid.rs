//! A Mermaid `sequenceDiagram`, which GitHub markdown and most documentation tools draw.
//!
//! One arrow per delivered message, placed where the message is received, labelled with the
//! message and its id; notes for requests, entries, commits, aborts, exits, lost messages,
//! crashes, partitions and violations. Mermaid draws every arrow horizontally at one moment,
//! so it cannot show how long a message travelled or that one overtook another: the output
//! says so in a comment and points to the SVG diagram. Meant for small runs (a few hundred
//! events); `--from/--to` select a window of a larger one.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::protocol::ClientId;
use crate::trace::EventKind;

use super::Capture;
use super::text::{describe_message, format_time};

/// Above this many events the output carries a comment that Mermaid will struggle.
const SMALL_RUN_EVENTS: usize = 500;

/// Writes the sequence diagram of `capture`.
pub fn write_mermaid(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    let info = &capture.info;
    let mut text = String::with_capacity(256 + capture.events.len() * 60);
    text.push_str("sequenceDiagram\n");
    let _ = writeln!(
        text,
        "    %% lamport-ledger: {}, {}",
        clean(&info.headline()),
        capture.range_text()
    );
    text.push_str(
        "    %% Mermaid draws each message as a level arrow at the moment it is received, so it \
         cannot show\n    %% how long a message travelled or one message overtaking another. For \
         that, draw the\n    %% space-time diagram: lamport-ledger render TRACE.jsonl --format svg \
         -o run.svg\n",
    );
    if capture.events.len() > SMALL_RUN_EVENTS {
        let _ = writeln!(
            text,
            "    %% {} events: Mermaid is meant for small runs, select fewer with --from/--to.",
            capture.events.len()
        );
    }
    for id in info.client_ids() {
        let _ = writeln!(text, "    participant c{id}");
    }
    let everyone = match info.clients() {
        0 | 1 => "c1".to_string(),
        clients => format!("c1,c{clients}"),
    };
    for event in &capture.events {
        let node = event.node.unwrap_or(ClientId::new(0));
        let at = format_time(event.t_us);
        let line = match &event.kind {
            EventKind::Deliver { msg_id, from, msg } => Some(format!(
                "c{from}->>c{node}: {} [m{msg_id}]",
                describe_message(msg)
            )),
            EventKind::Request { ts } => Some(format!(
                "Note over c{node}: {at} requests the mutex ({ts},{node})"
            )),
            EventKind::Enter { ts } => {
                Some(format!("Note over c{node}: {at} ENTERS ({ts},{node})"))
            }
            EventKind::Exit { ts } => Some(format!("Note over c{node}: {at} leaves ({ts},{node})")),
            EventKind::Commit { block } => Some(format!(
                "Note over c{node}: COMMITS block {} (c{} pays {} to c{})",
                block.index(),
                block.from(),
                block.amount(),
                block.to()
            )),
            EventKind::Abort {
                amount, balance, ..
            } => Some(format!(
                "Note over c{node}: ABORTS (wants to pay {amount}, has {balance})"
            )),
            EventKind::Reject { block, reason, .. } => Some(format!(
                "Note over c{node}: REJECTS block {}: {}",
                block.index(),
                clean(reason)
            )),
            EventKind::Drop { msg_id, reason } => Some(format!(
                "Note over c{node}: m{msg_id} LOST ({})",
                reason.name()
            )),
            EventKind::Crash => Some(format!("Note over c{node}: {at} CRASHES")),
            EventKind::Restart { kept } => Some(format!(
                "Note over c{node}: {at} restarts, kept {}",
                kept.name()
            )),
            EventKind::Partition { groups, .. } => Some(format!(
                "Note over {everyone}: {at} PARTITION {}",
                groups_text(groups)
            )),
            EventKind::Heal { groups, .. } => Some(format!(
                "Note over {everyone}: {at} HEAL {}",
                groups_text(groups)
            )),
            EventKind::Violation { invariant, detail } => Some(format!(
                "Note over {everyone}: VIOLATION of {invariant}: {}",
                clean(detail)
            )),
            EventKind::Send { .. }
            | EventKind::Transfer { .. }
            | EventKind::Apply { .. }
            | EventKind::Balance { .. }
            | EventKind::Duplicate { .. } => None,
        };
        if let Some(line) = line {
            let _ = writeln!(text, "    {line}");
        }
    }
    out.write_all(text.as_bytes())
}

/// Text Mermaid takes literally in a message or note: no `;` (a statement break), `#` (an
/// entity) or line breaks.
fn clean(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
        .replace(';', ",")
        .replace('#', "no. ")
}

/// `(c1,c2) | (c3)`.
fn groups_text(groups: &[Vec<ClientId>]) -> String {
    groups
        .iter()
        .map(|group| {
            let ids: Vec<String> = group.iter().map(|id| format!("c{id}")).collect();
            format!("({})", ids.join(","))
        })
        .collect::<Vec<_>>()
        .join(" | ")
}
