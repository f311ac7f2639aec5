//! The request queue and the entry rule of Lamport's mutual exclusion (rules 1-5 of the 1978
//! paper, with rule 5(ii): a message later than the own request from every peer).

use super::{ClientId, RequestId, Timestamp};

/// Requests ordered by `(timestamp, client id)`: the head is the one with priority.
///
/// A sorted vector. The queue holds at most one open request per client (and a straggler now
/// and then), and in practice only the few clients asking at the same time: finding a place
/// is a binary search, and shifting a few entries is cheaper than a B-tree's node walks and
/// allocations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RequestQueue {
    /// Ascending, no duplicates.
    requests: Vec<RequestId>,
}

impl RequestQueue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, request: RequestId) {
        if let Err(place) = self.requests.binary_search(&request) {
            self.requests.insert(place, request);
        }
    }

    /// Removes a request; returns whether it was there.
    pub fn remove(&mut self, request: RequestId) -> bool {
        match self.requests.binary_search(&request) {
            Ok(place) => {
                self.requests.remove(place);
                true
            }
            Err(_) => false,
        }
    }

    /// The request with priority, if any.
    pub fn head(&self) -> Option<RequestId> {
        self.requests.first().copied()
    }

    /// Removes and returns the head.
    pub fn pop_head(&mut self) -> Option<RequestId> {
        (!self.requests.is_empty()).then(|| self.requests.remove(0))
    }

    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
    }

    /// All requests in priority order.
    pub fn iter(&self) -> impl Iterator<Item = RequestId> + '_ {
        self.requests.iter().copied()
    }
}

/// One timestamp per client, stored in 32 bits while every value fits and widened to 64 bits
/// the first time one does not. Clocks reach 2^32 only after billions of events, so in
/// practice this halves the O(N) per-client state that N clients hold (O(N²) in all).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PeerTimestamps {
    Narrow(Vec<u32>),
    Wide(Vec<Timestamp>),
}

impl PeerTimestamps {
    /// `clients` zeros.
    pub fn new(clients: u32) -> Self {
        PeerTimestamps::Narrow(vec![0; clients as usize])
    }

    pub fn len(&self) -> usize {
        match self {
            PeerTimestamps::Narrow(values) => values.len(),
            PeerTimestamps::Wide(values) => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of client `id` (0 for an id outside).
    pub fn get(&self, id: ClientId) -> Timestamp {
        let Some(slot) = id.checked_index() else {
            return 0;
        };
        match self {
            PeerTimestamps::Narrow(values) => values.get(slot).map_or(0, |&v| Timestamp::from(v)),
            PeerTimestamps::Wide(values) => values.get(slot).copied().unwrap_or(0),
        }
    }

    /// Sets client `id`'s value; ignored for an id outside.
    #[inline]
    pub fn set(&mut self, id: ClientId, value: Timestamp) {
        let Some(slot) = id.checked_index() else {
            return;
        };
        match self {
            PeerTimestamps::Narrow(values) => match (values.get_mut(slot), u32::try_from(value)) {
                (Some(narrow_slot), Ok(narrow)) => *narrow_slot = narrow,
                (Some(_), Err(_)) => self.widen_and_set(slot, value),
                (None, _) => {}
            },
            PeerTimestamps::Wide(values) => {
                if let Some(wide_slot) = values.get_mut(slot) {
                    *wide_slot = value;
                }
            }
        }
    }

    /// The first value past 32 bits: every value moves to 64 bits, once.
    #[cold]
    #[inline(never)]
    fn widen_and_set(&mut self, slot: usize, value: Timestamp) {
        if let PeerTimestamps::Narrow(values) = self {
            let mut wide: Vec<Timestamp> = values.iter().map(|&v| Timestamp::from(v)).collect();
            wide[slot] = value;
            *self = PeerTimestamps::Wide(wide);
        }
    }
}

/// For every peer, the largest timestamp received from it so far (rule 5(ii) needs it).
///
/// Kept with a count of the peers already past a threshold so that the entry check does not
/// scan all peers on every message: the count is only recomputed when the threshold (the own
/// request's timestamp) changes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PeerWatermarks {
    own_id: ClientId,
    /// The largest timestamp seen from each client; the own entry stays 0.
    largest_seen: PeerTimestamps,
    /// The timestamp that peers must exceed, and how many do.
    threshold: Timestamp,
    peers_past_threshold: usize,
}

impl PeerWatermarks {
    pub fn new(own_id: ClientId, clients: u32) -> Self {
        PeerWatermarks {
            own_id,
            largest_seen: PeerTimestamps::new(clients),
            threshold: Timestamp::MAX,
            peers_past_threshold: 0,
        }
    }

    /// Records a message with timestamp `ts` from `peer`.
    pub fn observe(&mut self, peer: ClientId, ts: Timestamp) {
        let seen = self.largest_seen(peer);
        if ts > seen
            && peer
                .checked_index()
                .is_some_and(|slot| slot < self.largest_seen.len())
        {
            let was_past = seen > self.threshold;
            self.largest_seen.set(peer, ts);
            if !was_past && ts > self.threshold && peer != self.own_id {
                self.peers_past_threshold += 1;
            }
        }
    }

    /// The largest timestamp received from `peer` (0 if none).
    pub fn largest_seen(&self, peer: ClientId) -> Timestamp {
        self.largest_seen.get(peer)
    }

    /// Rule 5(ii): has every peer sent a message with a timestamp greater than `ts`?
    pub fn all_peers_later_than(&mut self, ts: Timestamp) -> bool {
        if ts != self.threshold {
            self.threshold = ts;
            self.peers_past_threshold = self.peers_later_than(ts).count();
        }
        self.peers_past_threshold + 1 == self.largest_seen.len()
    }

    /// The peers that have not yet sent anything later than `ts`, in id order.
    pub fn peers_not_later_than(&self, ts: Timestamp) -> impl Iterator<Item = ClientId> + '_ {
        self.peers()
            .filter(move |&peer| self.largest_seen(peer) <= ts)
    }

    fn peers_later_than(&self, ts: Timestamp) -> impl Iterator<Item = ClientId> + '_ {
        self.peers()
            .filter(move |&peer| self.largest_seen(peer) > ts)
    }

    fn peers(&self) -> impl Iterator<Item = ClientId> + '_ {
        (0..self.largest_seen.len())
            .map(ClientId::from_index)
            .filter(move |&peer| peer != self.own_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_orders_by_timestamp_then_client_id() {
        let mut queue = RequestQueue::new();
        queue.insert((3, ClientId::new(1)));
        queue.insert((2, ClientId::new(3)));
        queue.insert((2, ClientId::new(2)));
        assert_eq!(queue.head(), Some((2, ClientId::new(2))));
        assert_eq!(
            queue.iter().collect::<Vec<_>>(),
            vec![
                (2, ClientId::new(2)),
                (2, ClientId::new(3)),
                (3, ClientId::new(1))
            ]
        );
        assert!(queue.remove((2, ClientId::new(2))));
        assert!(!queue.remove((2, ClientId::new(2))));
        assert_eq!(queue.pop_head(), Some((2, ClientId::new(3))));
        assert_eq!(queue.len(), 1);
    }

    #[test]
    fn entry_needs_a_strictly_later_timestamp_from_every_peer() {
        let mut marks = PeerWatermarks::new(ClientId::new(1), 3);
        assert!(!marks.all_peers_later_than(4));
        marks.observe(ClientId::new(2), 5);
        assert!(!marks.all_peers_later_than(4));
        marks.observe(ClientId::new(3), 4); // equal is not later
        assert!(!marks.all_peers_later_than(4));
        assert_eq!(
            marks.peers_not_later_than(4).collect::<Vec<_>>(),
            vec![ClientId::new(3)]
        );
        marks.observe(ClientId::new(3), 6);
        assert!(marks.all_peers_later_than(4));
        // A later own request raises the bar again.
        assert!(!marks.all_peers_later_than(5));
        assert!(marks.all_peers_later_than(3));
    }

    #[test]
    fn a_single_client_has_no_peers_to_wait_for() {
        let mut marks = PeerWatermarks::new(ClientId::new(1), 1);
        assert!(marks.all_peers_later_than(1));
    }

    #[test]
    fn watermarks_never_go_down() {
        let mut marks = PeerWatermarks::new(ClientId::new(2), 2);
        marks.observe(ClientId::new(1), 9);
        marks.observe(ClientId::new(1), 3);
        assert_eq!(marks.largest_seen(ClientId::new(1)), 9);
    }
}

#[cfg(test)]
mod peer_timestamp_tests {
    use super::*;

    #[test]
    fn values_past_32_bits_widen_the_storage_and_keep_every_value() {
        let mut values = PeerTimestamps::new(3);
        values.set(ClientId::new(1), 7);
        values.set(ClientId::new(2), u64::from(u32::MAX));
        assert!(matches!(values, PeerTimestamps::Narrow(_)));
        values.set(ClientId::new(3), u64::from(u32::MAX) + 5);
        assert!(matches!(values, PeerTimestamps::Wide(_)));
        assert_eq!(
            [
                values.get(ClientId::new(1)),
                values.get(ClientId::new(2)),
                values.get(ClientId::new(3))
            ],
            [7, u64::from(u32::MAX), u64::from(u32::MAX) + 5]
        );
        values.set(ClientId::new(0), 9);
        values.set(ClientId::new(4), 9);
        assert_eq!(values.get(ClientId::new(0)), 0);
        assert_eq!(values.get(ClientId::new(4)), 0);
    }
}
