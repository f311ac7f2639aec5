//! How the history stores its links: per directed link a few counters and, for the first
//! links used, a ring of the latest messages packed one per cache line; the links themselves
//! in a dense table for few clients and a hash map beyond.

use super::{DENSE_CLIENTS, LINK_LOG_LEN, Moment, MsgRecord, NONE};
use crate::protocol::{ClientId, Timestamp};
use crate::trace::DropReason;
use rustc_hash::FxHashMap as FastMap;

/// The message types by their packed number; the last stands for a foreign node's other types.
pub(super) const MSG_TYPES: [&str; 6] = [
    "request", "reply", "release", "update", "updated", "message",
];

/// A foreign message's packed type: the built-in type of that name, or "message".
pub(super) fn foreign_type(kind: &str) -> u8 {
    let other = MSG_TYPES.len() - 1;
    MSG_TYPES[..other]
        .iter()
        .position(|name| *name == kind)
        .unwrap_or(other) as u8
}
const _PACKED_IS_A_CACHE_LINE: () = assert!(std::mem::size_of::<Packed>() == 64);
pub(super) const DROP_REASONS: [DropReason; 3] =
    [DropReason::Loss, DropReason::Partition, DropReason::Crashed];

/// One message in a link's log, packed into a cache line (`NONE` for absent values; the
/// counts saturate).
#[derive(Clone, Copy, Debug)]
pub(super) struct Packed {
    pub(super) ts: Timestamp,
    pub(super) sent: Moment,
    pub(super) first_delivery: Moment,
    pub(super) last_delivery_seq: u64,
    pub(super) drop_seq: u64,
    pub(super) deliveries: u16,
    pub(super) duplicates: u16,
    pub(super) drops: u16,
    pub(super) msg_type: u8,
    pub(super) drop_reason: u8,
}

impl Packed {
    pub(super) fn view(&self, msg_id: u64) -> MsgRecord {
        let some = |seq: u64| (seq != NONE).then_some(seq);
        MsgRecord {
            msg_id,
            msg_type: MSG_TYPES[usize::from(self.msg_type)],
            ts: self.ts,
            sent: self.sent,
            first_delivery: (self.first_delivery.seq != NONE).then_some(self.first_delivery),
            last_delivery: some(self.last_delivery_seq),
            deliveries: u32::from(self.deliveries),
            duplicates: u32::from(self.duplicates),
            dropped: some(self.drop_seq)
                .map(|seq| (DROP_REASONS[usize::from(self.drop_reason)], seq)),
            drops: u32::from(self.drops),
        }
    }
}

/// The last messages of one directed link (a ring): their ids side by side, so that finding
/// one reads a single cache line.
#[derive(Clone, Debug)]
pub(super) struct LinkLog {
    pub(super) ids: [u64; LINK_LOG_LEN],
    pub(super) records: [Packed; LINK_LOG_LEN],
    pub(super) len: usize,
    /// Where the next record goes once the log is full.
    pub(super) next: usize,
}

impl LinkLog {
    pub(super) fn new() -> Self {
        let empty = Packed {
            ts: 0,
            sent: Moment { seq: 0, t_us: 0 },
            first_delivery: Moment { seq: NONE, t_us: 0 },
            last_delivery_seq: NONE,
            drop_seq: NONE,
            deliveries: 0,
            duplicates: 0,
            drops: 0,
            msg_type: 0,
            drop_reason: 0,
        };
        LinkLog {
            ids: [0; LINK_LOG_LEN],
            records: [empty; LINK_LOG_LEN],
            len: 0,
            next: 0,
        }
    }

    pub(super) fn push(&mut self, msg_id: u64, record: Packed) {
        let slot = if self.len < LINK_LOG_LEN {
            self.len += 1;
            self.len - 1
        } else {
            let slot = self.next;
            self.next = (self.next + 1) % LINK_LOG_LEN;
            slot
        };
        self.ids[slot] = msg_id;
        self.records[slot] = record;
    }

    pub(super) fn find_mut(&mut self, msg_id: u64) -> Option<&mut Packed> {
        let slot = self.ids[..self.len].iter().rposition(|&id| id == msg_id)?;
        Some(&mut self.records[slot])
    }

    /// Oldest first.
    pub(super) fn iter(&self) -> impl DoubleEndedIterator<Item = MsgRecord> + '_ {
        let order = (self.next..self.len).chain(0..self.next.min(self.len));
        order.map(|slot| self.records[slot].view(self.ids[slot]))
    }
}

/// One directed link `from -> to`: the receiver's view of the sender, and the message log.
#[derive(Clone, Debug)]
pub(super) struct Link {
    pub(super) log: Option<Box<LinkLog>>,
    /// The largest `ts` delivered on this link since the receiver last (re)started (0: none).
    pub(super) largest_ts: Timestamp,
    /// The sender's request the receiver holds (REQUEST delivered, not yet released; 0: none,
    /// as request timestamps start at 1).
    pub(super) open_request: Timestamp,
    /// The latest request of the sender released at the receiver.
    pub(super) served: Timestamp,
    /// The `seq` of the last REPLY and UPDATED on this link (`NONE`: none).
    pub(super) last_reply: u64,
    pub(super) last_updated: u64,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            log: None,
            largest_ts: 0,
            open_request: 0,
            served: 0,
            last_reply: NONE,
            last_updated: NONE,
        }
    }
}

impl Link {
    /// What the receiver forgets when it restarts.
    pub(super) fn forget(&mut self) {
        *self = Link {
            log: self.log.take(),
            ..Link::default()
        };
    }
}

/// The links, dense for few clients.
#[derive(Clone, Debug)]
pub(super) enum Links {
    Dense { clients: u32, links: Vec<Link> },
    Sparse(FastMap<(ClientId, ClientId), Link>),
}

impl Links {
    pub(super) fn new(clients: u32) -> Self {
        if clients <= DENSE_CLIENTS {
            Links::Dense {
                clients,
                links: vec![Link::default(); (clients as usize).pow(2)],
            }
        } else {
            Links::Sparse(FastMap::default())
        }
    }

    pub(super) fn dense_slot(clients: u32, from: ClientId, to: ClientId) -> Option<usize> {
        let valid = |id: ClientId| id.is_among(clients);
        (valid(from) && valid(to)).then(|| from.index() * clients as usize + to.index())
    }

    pub(super) fn get(&self, from: ClientId, to: ClientId) -> Option<&Link> {
        match self {
            Links::Dense { clients, links } => {
                Self::dense_slot(*clients, from, to).map(|slot| &links[slot])
            }
            Links::Sparse(map) => map.get(&(from, to)),
        }
    }

    pub(super) fn get_mut(&mut self, from: ClientId, to: ClientId) -> Option<&mut Link> {
        match self {
            Links::Dense { clients, links } => {
                Self::dense_slot(*clients, from, to).map(|slot| &mut links[slot])
            }
            Links::Sparse(map) => map.get_mut(&(from, to)),
        }
    }

    pub(super) fn entry(&mut self, from: ClientId, to: ClientId) -> Option<&mut Link> {
        match self {
            Links::Dense { clients, links } => {
                Self::dense_slot(*clients, from, to).map(|slot| &mut links[slot])
            }
            Links::Sparse(map) => Some(map.entry((from, to)).or_default()),
        }
    }
}
