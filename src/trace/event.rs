//! One trace event, in memory.

use std::sync::Arc;

use crate::check::Invariant;
use crate::protocol::{Amount, Block, ClientId, Message, Timestamp};

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
}

impl EventKind {
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
        }
    }
}

/// Something that watches the events of a run as they happen.
pub trait EventSink {
    fn event(&mut self, event: &Event) -> std::io::Result<()>;
}
