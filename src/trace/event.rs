//! One trace event, in memory.

use std::sync::Arc;

use crate::check::Invariant;
use crate::protocol::{Amount, Block, ClientId, Ledger, Message, OutputKind, Timestamp};

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
    pub kind: EventKind,
}

/// The kinds of SPEC section 3, plus `reject` (a block that failed verification).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    Send {
        msg_id: u64,
        to: ClientId,
        msg: Message,
    },
    Deliver {
        msg_id: u64,
        from: ClientId,
        msg: Message,
    },
    /// A transfer command arrives at the client.
    Transfer {
        to: ClientId,
        amount: Amount,
    },
    /// The client asks for the mutex.
    Request {
        ts: Timestamp,
    },
    Enter {
        ts: Timestamp,
    },
    Exit {
        ts: Timestamp,
    },
    Commit {
        block: Arc<Block>,
    },
    Abort {
        ts: Timestamp,
        amount: Amount,
        balance: Amount,
    },
    /// A receiver appends a block that came with a RELEASE.
    Apply {
        block: Arc<Block>,
    },
    /// A receiver refuses a block that came with a RELEASE.
    Reject {
        from: ClientId,
        block: Arc<Block>,
        reason: String,
    },
    /// A balance read and the value it saw.
    Balance {
        of: ClientId,
        value: Amount,
    },
    Violation {
        invariant: Invariant,
        detail: String,
    },
    /// A message that will never be delivered, and why.
    Drop {
        msg_id: u64,
        reason: DropReason,
    },
    /// A message that will be delivered twice (both deliveries carry its `msg_id`).
    Duplicate {
        msg_id: u64,
    },
    /// The client stops: it handles nothing until it restarts.
    Crash,
    /// The client comes back, keeping its ledger or nothing.
    Restart {
        kept: Kept,
    },
    /// The network splits (`node` is null). `direction` both: no message crosses between any
    /// two groups; one-way: messages from `groups[0]` to `groups[1]` are lost.
    Partition {
        groups: Vec<Vec<ClientId>>,
        direction: Direction,
    },
    /// The partition with these groups ends.
    Heal {
        groups: Vec<Vec<ClientId>>,
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
    Both,
    OneWay,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Both => "both",
            Direction::OneWay => "one_way",
        }
    }
}

impl EventKind {
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

    /// The event for a client output that happens at the client alone: everything except a
    /// receive, a send and a timer request, which each driver turns into events (and network
    /// or timer work) itself and gets back as `Err`. Inline: the simulator calls it for every
    /// step, and a move of the output into a call and the event out of it cost more than the
    /// match.
    ///
    /// `ledger` is the client's, right after the step: commits and applies name their block
    /// by its index in it, and the event holds it.
    #[inline(always)]
    pub fn from_local_output(kind: OutputKind, ledger: &Ledger) -> Result<EventKind, OutputKind> {
        let held = |index: u64| {
            Arc::clone(
                ledger
                    .block(index)
                    .expect("a block committed or applied in the last step is in the ledger"),
            )
        };
        Ok(match kind {
            OutputKind::TransferQueued { to, amount } => EventKind::Transfer { to, amount },
            OutputKind::Requested { ts } => EventKind::Request { ts },
            OutputKind::Entered { ts } => EventKind::Enter { ts },
            OutputKind::Committed { index } => EventKind::Commit { block: held(index) },
            OutputKind::Aborted {
                ts,
                amount,
                balance,
            } => EventKind::Abort {
                ts,
                amount,
                balance,
            },
            OutputKind::Exited { ts } => EventKind::Exit { ts },
            OutputKind::Applied { index } => EventKind::Apply { block: held(index) },
            OutputKind::Rejected {
                from,
                block,
                reason,
            } => EventKind::Reject {
                from,
                block,
                reason: reason.to_string(),
            },
            OutputKind::BalanceRead { of, value } => EventKind::Balance { of, value },
            other @ (OutputKind::Received { .. }
            | OutputKind::Send { .. }
            | OutputKind::SetTimer { .. }) => {
                return Err(other);
            }
        })
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
    fn event(&mut self, event: &Event) -> std::io::Result<()>;
}
