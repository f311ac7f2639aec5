//! One trace event, in memory.

use std::sync::Arc;

use crate::base::Invariant;
use crate::protocol::{Amount, Block, ClientId, Message, OutputKind, Timestamp};

/// One line of the trace between header and summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Counts from 0 with no gaps.
    pub seq: u64,
    /// Simulated time in microseconds; never decreases.
    pub t_us: u64,
    /// The client the event happened at; `None` for network-wide events.
    pub node: Option<ClientId>,
    /// The node's Lamport clock after the event.
    pub clock: Timestamp,
    /// What happened, with the kind's own fields.
    pub kind: EventKind,
}

/// The kinds of docs/spec.md section 3, plus `reject` (a block that failed verification).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The client sends a message.
    Send {
        /// The message's id, unique in the trace.
        msg_id: u64,
        /// The receiver.
        to: ClientId,
        /// The message; its `ts` equals the event's clock.
        msg: Message,
    },
    /// A message reaches the client.
    Deliver {
        /// The id its `send` gave it.
        msg_id: u64,
        /// The sender.
        from: ClientId,
        /// The message as sent.
        msg: Message,
    },
    /// A transfer command arrives at the client.
    Transfer {
        /// The payee.
        to: ClientId,
        /// How much.
        amount: Amount,
    },
    /// The client asks for the mutex.
    Request {
        /// The request's timestamp.
        ts: Timestamp,
    },
    /// The client enters the critical section.
    Enter {
        /// The timestamp of the request granted.
        ts: Timestamp,
    },
    /// The client leaves the critical section.
    Exit {
        /// The timestamp of the request it held.
        ts: Timestamp,
    },
    /// The client appends its own block, inside the critical section.
    Commit {
        /// The block.
        block: Arc<Block>,
    },
    /// Inside the critical section, the client's own table shows too little for the transfer.
    Abort {
        /// The timestamp of the request it holds.
        ts: Timestamp,
        /// The transfer's amount.
        amount: Amount,
        /// The payer's balance in its own table.
        balance: Amount,
    },
    /// A receiver appends a block that came with a RELEASE.
    Apply {
        /// The block.
        block: Arc<Block>,
    },
    /// A receiver refuses a block that came with a RELEASE.
    Reject {
        /// The sender of the RELEASE.
        from: ClientId,
        /// The block refused.
        block: Arc<Block>,
        /// Why, in a sentence.
        reason: String,
    },
    /// A balance read and the value it saw.
    Balance {
        /// Whose balance.
        of: ClientId,
        /// The value in the reader's own table.
        value: Amount,
    },
    /// A broken invariant, written after the event that revealed it.
    Violation {
        /// The invariant broken.
        invariant: Invariant,
        /// The explanation, one sentence.
        detail: String,
    },
    /// A message that will never be delivered, and why.
    Drop {
        /// The id its `send` gave it.
        msg_id: u64,
        /// Why it is lost.
        reason: DropReason,
    },
    /// A message that will be delivered twice (both deliveries carry its `msg_id`).
    Duplicate {
        /// The id its `send` gave it.
        msg_id: u64,
    },
    /// The client stops: it handles nothing until it restarts.
    Crash,
    /// The client comes back, keeping its ledger or nothing.
    Restart {
        /// What it kept.
        kept: Kept,
    },
    /// The network splits (`node` is null). `direction` both: no message crosses between any
    /// two groups; one-way: messages from `groups[0]` to `groups[1]` are lost.
    Partition {
        /// The groups of client ids.
        groups: Vec<Vec<ClientId>>,
        /// Both ways or one way.
        direction: Direction,
    },
    /// The partition with these groups ends.
    Heal {
        /// The groups of client ids, as the partition named them.
        groups: Vec<Vec<ClientId>>,
        /// As the partition was.
        direction: Direction,
    },
}

/// Why a message was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The network's loss ratio.
    Loss,
    /// A partition cut the link when the message was sent.
    Partition,
    /// The receiver was down when the message arrived.
    Crashed,
}

impl DropReason {
    /// The name the trace uses.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::Crashed => "crashed",
        }
    }
}

/// What survives a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// The ledger and the balance table survive; everything else is lost.
    Ledger,
    /// Nothing: the client starts over from the initial balances.
    Nothing,
}

impl Kept {
    /// The name the trace uses.
    pub fn name(self) -> &'static str {
        match self {
            Kept::Ledger => "ledger",
            Kept::Nothing => "nothing",
        }
    }
}

/// Which way a partition cuts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// No message crosses between any two groups.
    Both,
    /// Messages from the first group to the second are lost; the other way works.
    OneWay,
}

impl Direction {
    /// The name the trace uses.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Both => "both",
            Direction::OneWay => "one_way",
        }
    }
}

impl EventKind {
    /// The event of a client output that carries everything its event needs; `None` when its
    /// event needs more than the output (a delivery or a send: the writer's message ids; a
    /// commit or an apply: the block in the client's ledger) or when it has no event (a
    /// timer). The driver and the offline checker's replay both map outputs here.
    #[inline(always)]
    pub fn of_output(output: &OutputKind) -> Option<EventKind> {
        Some(match *output {
            OutputKind::TransferQueued { to, amount } => EventKind::Transfer { to, amount },
            OutputKind::Requested { ts } => EventKind::Request { ts },
            OutputKind::Entered { ts } => EventKind::Enter { ts },
            OutputKind::Exited { ts } => EventKind::Exit { ts },
            OutputKind::Aborted {
                ts,
                amount,
                balance,
            } => EventKind::Abort {
                ts,
                amount,
                balance,
            },
            OutputKind::Rejected {
                from,
                ref block,
                ref reason,
            } => EventKind::Reject {
                from,
                block: Arc::clone(block),
                reason: reason.to_string(),
            },
            OutputKind::BalanceRead { of, value } => EventKind::Balance { of, value },
            OutputKind::Received { .. }
            | OutputKind::Send { .. }
            | OutputKind::SetTimer { .. }
            | OutputKind::Committed { .. }
            | OutputKind::Applied { .. } => return None,
        })
    }

    /// A message sent, delivered, lost or copied (not a step of a client's own).
    pub fn is_about_a_message(&self) -> bool {
        matches!(
            self,
            EventKind::Send { .. }
                | EventKind::Deliver { .. }
                | EventKind::Drop { .. }
                | EventKind::Duplicate { .. }
        )
    }

    /// Whether dropping the kind frees anything (a block, a message's block, a text, groups).
    /// The plain kinds may be forgotten instead, which skips the out-of-line drop glue.
    #[inline]
    pub fn holds_heap_data(&self) -> bool {
        !matches!(
            self,
            EventKind::Transfer { .. }
                | EventKind::Request { .. }
                | EventKind::Enter { .. }
                | EventKind::Exit { .. }
                | EventKind::Abort { .. }
                | EventKind::Balance { .. }
                | EventKind::Drop { .. }
                | EventKind::Duplicate { .. }
                | EventKind::Crash
                | EventKind::Restart { .. }
        )
    }

    /// The `kind` field as written in the trace.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Send { .. } => "send",
            EventKind::Deliver { .. } => "deliver",
            EventKind::Transfer { .. } => "transfer",
            EventKind::Request { .. } => "request",
            EventKind::Enter { .. } => "enter",
            EventKind::Exit { .. } => "exit",
            EventKind::Commit { .. } => "commit",
            EventKind::Abort { .. } => "abort",
            EventKind::Apply { .. } => "apply",
            EventKind::Reject { .. } => "reject",
            EventKind::Balance { .. } => "balance",
            EventKind::Violation { .. } => "violation",
            EventKind::Drop { .. } => "drop",
            EventKind::Duplicate { .. } => "duplicate",
            EventKind::Crash => "crash",
            EventKind::Restart { .. } => "restart",
            EventKind::Partition { .. } => "partition",
            EventKind::Heal { .. } => "heal",
        }
    }
}

/// Something that watches the events of a run as they happen.
pub trait EventSink {
    /// Takes one event, in trace order; an error stops the run.
    fn event(&mut self, event: &Event) -> std::io::Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::GENESIS_PREV;

    /// The simulator forgets, rather than drops, the events whose kind `holds_heap_data` calls
    /// plain. That is right only while every field of those kinds is `Copy` (a `Copy` value
    /// has nothing to free). The patterns below name every field, so a field added to one of
    /// these kinds stops this test from compiling until it is looked at here.
    #[test]
    fn the_kinds_forgotten_unfreed_hold_only_copy_fields() {
        fn copy<T: Copy>(_: &T) {}
        let plain = [
            EventKind::Transfer {
                to: ClientId::new(2),
                amount: 3,
            },
            EventKind::Request { ts: 1 },
            EventKind::Enter { ts: 1 },
            EventKind::Exit { ts: 1 },
            EventKind::Abort {
                ts: 1,
                amount: 3,
                balance: 2,
            },
            EventKind::Balance {
                of: ClientId::new(1),
                value: 10,
            },
            EventKind::Drop {
                msg_id: 0,
                reason: DropReason::Loss,
            },
            EventKind::Duplicate { msg_id: 0 },
            EventKind::Crash,
            EventKind::Restart {
                kept: Kept::Nothing,
            },
        ];
        for kind in &plain {
            assert!(!kind.holds_heap_data(), "{kind:?}");
            match kind {
                EventKind::Transfer { to, amount } => {
                    copy(to);
                    copy(amount);
                }
                EventKind::Request { ts } | EventKind::Enter { ts } | EventKind::Exit { ts } => {
                    copy(ts)
                }
                EventKind::Abort {
                    ts,
                    amount,
                    balance,
                } => {
                    copy(ts);
                    copy(amount);
                    copy(balance);
                }
                EventKind::Balance { of, value } => {
                    copy(of);
                    copy(value);
                }
                EventKind::Drop { msg_id, reason } => {
                    copy(msg_id);
                    copy(reason);
                }
                EventKind::Duplicate { msg_id } => copy(msg_id),
                EventKind::Crash => {}
                EventKind::Restart { kept } => copy(kept),
                other => panic!("{other:?} is listed as plain but not matched here"),
            }
        }
        let block = Arc::new(Block::new(
            0,
            GENESIS_PREV,
            1,
            ClientId::new(1),
            ClientId::new(2),
            3,
        ));
        let release = Message::Release {
            ts: 2,
            request_ts: 1,
            block: Some(Arc::clone(&block)),
        };
        let holding = [
            EventKind::Send {
                msg_id: 0,
                to: ClientId::new(2),
                msg: release.clone(),
            },
            EventKind::Deliver {
                msg_id: 0,
                from: ClientId::new(1),
                msg: release,
            },
            EventKind::Commit {
                block: Arc::clone(&block),
            },
            EventKind::Apply {
                block: Arc::clone(&block),
            },
            EventKind::Reject {
                from: ClientId::new(1),
                block,
                reason: "a gap".into(),
            },
            EventKind::Violation {
                invariant: Invariant::Liveness,
                detail: "stuck".into(),
            },
            EventKind::Partition {
                groups: vec![vec![ClientId::new(1)], vec![ClientId::new(2)]],
                direction: Direction::Both,
            },
            EventKind::Heal {
                groups: vec![vec![ClientId::new(1)], vec![ClientId::new(2)]],
                direction: Direction::Both,
            },
        ];
        for kind in &holding {
            assert!(kind.holds_heap_data(), "{kind:?}");
        }
        // Every kind is in one list or the other.
        let mut names: Vec<&str> = plain.iter().chain(&holding).map(EventKind::name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 18);
    }
}
