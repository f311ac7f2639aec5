//! The three messages of Lamport's mutual exclusion, the variants' two more, and the
//! messages of a node in another program, carried as they are.

use std::sync::Arc;

use super::{Block, ClientId, Timestamp};

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
    /// Carries a committed block on its own (the `update-ack` and `ricart-agrawala` variants).
    Update { ts: Timestamp, block: Arc<Block> },
    /// Acknowledges an UPDATE (the `update-ack` variant).
    Updated { ts: Timestamp },
    /// A message of a node in another program: its own JSON object, opaque but for its
    /// timestamp. Shared, never copied per receiver.
    Foreign(Arc<ForeignMessage>),
}

/// A message a node in another program sent: a JSON object with at least `type` (a string)
/// and `ts` (the sender's clock at the send). The simulator reads those two fields and
/// carries the rest as it came.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ForeignMessage {
    pub ts: Timestamp,
    /// The object's `type`, shared between every message of that type.
    pub kind: &'static str,
    /// The whole object as compact JSON text, `type` and `ts` included.
    pub json: Box<str>,
}

impl Message {
    /// The sender's clock at the send event.
    pub fn ts(&self) -> Timestamp {
        match self {
            Message::Request { ts }
            | Message::Reply { ts }
            | Message::Release { ts, .. }
            | Message::Update { ts, .. }
            | Message::Updated { ts } => *ts,
            Message::Foreign(foreign) => foreign.ts,
        }
    }

    /// The message type as it appears in traces: `request`, `reply`, `release`, `update`,
    /// `updated`, or a foreign message's own `type`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Message::Request { .. } => "request",
            Message::Reply { .. } => "reply",
            Message::Release { .. } => "release",
            Message::Update { .. } => "update",
            Message::Updated { .. } => "updated",
            Message::Foreign(foreign) => foreign.kind,
        }
    }
}

impl Message {
    /// How client `own` restores `block` from its data directory on a restart: as an UPDATE
    /// at timestamp 0 from the other party of the block's transfer, which changes nothing but
    /// the ledger (and the clock, by at most one tick). Returns the sender and the message.
    pub fn restoring(block: &Arc<Block>, own: ClientId) -> (ClientId, Message) {
        let from = if block.from() == own {
            block.to()
        } else {
            block.from()
        };
        let msg = Message::Update {
            ts: 0,
            block: Arc::clone(block),
        };
        (from, msg)
    }

    /// The block the message carries, if any.
    pub fn block(&self) -> Option<&Arc<Block>> {
        match self {
            Message::Release { block, .. } => block.as_ref(),
            Message::Update { block, .. } => Some(block),
            _ => None,
        }
    }
}
