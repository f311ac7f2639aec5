//! The three messages of Lamport's mutual exclusion.

use std::sync::Arc;

use super::{Block, Timestamp};

/// A protocol message. `ts` is always the sender's clock at the send event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Asks for the mutex; `ts` is also the request's timestamp.
    Request { ts: Timestamp },
    /// Acknowledges a request.
    Reply { ts: Timestamp },
    /// Gives the mutex up. Names the released request by `request_ts` and carries the block
    /// committed inside the critical section, or none after an abort. The block is shared,
    /// never copied per receiver.
    Release {
        ts: Timestamp,
        request_ts: Timestamp,
        block: Option<Arc<Block>>,
    },
}

impl Message {
    /// The sender's clock at the send event.
    pub fn ts(&self) -> Timestamp {
        match self {
            Message::Request { ts } | Message::Reply { ts } | Message::Release { ts, .. } => *ts,
        }
    }

    /// The message type as it appears in traces: `request`, `reply`, `release`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Message::Request { .. } => "request",
            Message::Reply { .. } => "reply",
            Message::Release { .. } => "release",
        }
    }
}
