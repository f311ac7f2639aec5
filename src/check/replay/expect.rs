//! A client step's outputs as the events they become in a trace, how a trace event is
//! compared with them, and how both are named in a rejection.
//!
//! The outputs that carry their whole event map through [`EventKind::of_output`], as in
//! `crate::drive`; the others (deliveries, sends, blocks, timers) are mapped here as the
//! driver maps them (this module sits below the driver, which imports the checker, so it
//! cannot call it), and the tests that check every scenario's trace offline fail if the two
//! ever differ.

use std::collections::VecDeque;

use crate::protocol::ledger::short_hex;
use crate::protocol::{Client, Message, Node, Outbox, OutputKind, Phase};
use crate::trace::{Event, EventKind};

/// An event a step must still produce: its kind and the clock stamped on it.
#[derive(Clone, Debug)]
pub struct Expected {
    pub clock: u64,
    pub kind: EventKind,
}

/// What a step's outputs become.
pub struct StepEvents {
    pub events: VecDeque<Expected>,
    /// The step armed the critical-section timer.
    pub armed_timer: bool,
}

/// Drains `outbox` (the outputs of `client`'s last step) into the events they become.
/// `delivered` is the message the step handled (its id as the trace gives it); with
/// `only_applied` every output but `apply` is left out (a live node's restore of its data
/// directory, which traces only those).
pub fn step_events<N: Node>(
    client: &N,
    delivered: Option<(u64, &Message)>,
    outbox: &mut Outbox,
    only_applied: bool,
) -> StepEvents {
    let mut events = VecDeque::new();
    let mut armed_timer = false;
    for output in outbox.drain() {
        let kind = match output.kind {
            OutputKind::Received { from } => match delivered {
                Some((msg_id, msg)) => EventKind::Deliver {
                    msg_id,
                    from,
                    msg: msg.clone(),
                },
                None => continue,
            },
            OutputKind::Send { to, msg } => EventKind::Send {
                // The id is the writer's to choose: compared by the delivery matching, not here.
                msg_id: 0,
                to,
                msg,
            },
            OutputKind::SetTimer { .. } => {
                armed_timer = true;
                continue;
            }
            OutputKind::Committed { index } => EventKind::Commit {
                block: client.output_block(index).clone(),
            },
            OutputKind::Applied { index } => EventKind::Apply {
                block: client.output_block(index).clone(),
            },
            plain => EventKind::of_output(&plain).expect("the other outputs are matched above"),
        };
        if only_applied && !matches!(kind, EventKind::Apply { .. }) {
            continue;
        }
        events.push_back(Expected {
            clock: output.clock,
            kind,
        });
    }
    StepEvents {
        events,
        armed_timer,
    }
}

/// Whether the trace's `event` is the `expected` one: the same kind, fields and clock. A
/// message's id is the writer's to choose; a rejection's reason may be left out.
pub fn matches(expected: &Expected, event: &Event) -> bool {
    if expected.clock != event.clock {
        return false;
    }
    match (&expected.kind, &event.kind) {
        (
            EventKind::Send { to, msg, .. },
            EventKind::Send {
                to: event_to,
                msg: event_msg,
                ..
            },
        ) => to == event_to && same_message(msg, event_msg),
        (
            EventKind::Reject {
                from,
                block,
                reason,
            },
            EventKind::Reject {
                from: event_from,
                block: event_block,
                reason: event_reason,
            },
        ) => {
            from == event_from
                && block == event_block
                && (event_reason.is_empty() || reason == event_reason)
        }
        (kind, event_kind) => kind == event_kind,
    }
}

/// Whether two messages are the same. A program's messages are JSON objects, the same
/// whatever the order of their fields or the spacing between them.
fn same_message(expected: &Message, traced: &Message) -> bool {
    match (expected, traced) {
        (Message::Foreign(expected), Message::Foreign(traced)) => {
            expected.json == traced.json || {
                let parse = |json: &str| serde_json::from_str::<serde_json::Value>(json).ok();
                let expected = parse(&expected.json);
                expected.is_some() && expected == parse(&traced.json)
            }
        }
        _ => expected == traced,
    }
}

/// "client 1's exit from the critical section of request 1 at clock 4".
pub fn describe(node: impl std::fmt::Display, clock: u64, kind: &EventKind) -> String {
    format!("client {node}'s {} at clock {clock}", describe_kind(kind))
}

/// An expected event, named as [`describe`] names a trace event.
pub fn describe_expected(node: impl std::fmt::Display, expected: &Expected) -> String {
    describe(node, expected.clock, &expected.kind)
}

fn describe_kind(kind: &EventKind) -> String {
    match kind {
        EventKind::Send { to, msg, .. } => format!("send of {} to client {to}", message(msg)),
        EventKind::Deliver { from, msg, .. } => {
            format!("delivery of {} from client {from}", message(msg))
        }
        EventKind::Transfer { to, amount } => format!("transfer of {amount} to client {to}"),
        EventKind::Request { ts } => format!("request with timestamp {ts}"),
        EventKind::Enter { ts } => format!("entry into the critical section for request {ts}"),
        EventKind::Exit { ts } => format!("exit from the critical section of request {ts}"),
        EventKind::Commit { block } => format!("commit of {}", block_words(block)),
        EventKind::Apply { block } => format!("apply of {}", block_words(block)),
        EventKind::Abort {
            ts,
            amount,
            balance,
        } => format!("abort of request {ts} (amount {amount}, balance {balance})"),
        EventKind::Reject { from, block, .. } => {
            format!("rejection of {} from client {from}", block_words(block))
        }
        EventKind::Balance { of, value } => format!("read of client {of}'s balance ({value})"),
        EventKind::Crash => "crash".to_string(),
        EventKind::Restart { kept } => format!("restart keeping {}", kept.name()),
        other => format!("`{}` event", other.name()),
    }
}

fn message(msg: &Message) -> String {
    let ts = msg.ts();
    match msg {
        Message::Release {
            request_ts, block, ..
        } => {
            let block = block
                .as_ref()
                .map_or(String::new(), |block| format!(", {}", block_words(block)));
            format!("RELEASE(ts {ts}, of request {request_ts}{block})")
        }
        Message::Update { block, .. } => format!("UPDATE(ts {ts}, {})", block_words(block)),
        // A program's message is shown whole: any of its fields may be the one that differs.
        Message::Foreign(foreign) => {
            format!("{} message {}", foreign.kind.to_uppercase(), foreign.json)
        }
        other => format!("{}(ts {ts})", other.type_name().to_uppercase()),
    }
}

fn block_words(block: &crate::protocol::Block) -> String {
    format!(
        "block {} ({} pays {} to {} under request {}, hash {}…)",
        block.index(),
        block.from(),
        block.amount(),
        block.to(),
        block.ts(),
        short_hex(&block.hash_value())
    )
}

/// Where a client stands, for a sentence: "idle", "waiting for the mutex with request
/// (3,1)", "inside the critical section with request (3,1)".
pub fn state(client: &Client) -> String {
    let id = client.id();
    match client.phase() {
        Phase::Idle => "idle (no request outstanding)".to_string(),
        Phase::Waiting { ts, .. } => format!("waiting for the mutex with request ({ts},{id})"),
        Phase::Inside { ts, .. } => {
            format!("inside the critical section with request ({ts},{id})")
        }
    }
}
