//! What the checker remembers of a run so that it can explain a violation: per directed link, a
//! short log of the latest messages and their fate (delivered, dropped, duplicated, in flight);
//! per client, its phase, its pending transfers and whether it is down; the partitions in
//! place. It reports no violation itself.
//!
//! Memory is bounded: each link keeps its last [`LINK_LOG_LEN`] messages, and at most
//! [`MAX_LOGGED_LINKS`] links keep a log at all (the first ones used; later links keep only
//! a few counters). Nothing is allocated per event once a link's log is full. Links are a
//! dense table up to [`DENSE_CLIENTS`] clients, a hash map beyond.

mod links;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;

use crate::protocol::{Amount, ClientId, Message, Timestamp};
use crate::trace::{Direction, DropReason, Event, EventKind};
use links::{DROP_REASONS, LinkLog, Links, Packed, foreign_type};

/// How many messages each directed link remembers.
pub const LINK_LOG_LEN: usize = 8;
/// At most this many directed links keep a message log (every link of 64 clients).
pub const MAX_LOGGED_LINKS: usize = 4096;
/// Up to this many clients the links are a dense table of N x N entries.
pub const DENSE_CLIENTS: u32 = 256;

/// "No value" in the link counters.
const NONE: u64 = u64::MAX;

/// A point in the trace: the event's `seq` and its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moment {
    pub seq: u64,
    pub t_us: u64,
}

impl Moment {
    fn of(event: &Event) -> Self {
        Moment {
            seq: event.seq,
            t_us: event.t_us,
        }
    }
}

/// One message on a link and what became of it (a view built on demand from the log).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsgRecord {
    pub msg_id: u64,
    /// `request`, `reply`, `release`, `update`, `updated`.
    pub msg_type: &'static str,
    pub ts: Timestamp,
    pub sent: Moment,
    pub first_delivery: Option<Moment>,
    /// The `seq` of the last delivery.
    pub last_delivery: Option<u64>,
    pub deliveries: u32,
    pub duplicates: u32,
    /// The last copy dropped, why, and the `seq` of the drop event.
    pub dropped: Option<(DropReason, u64)>,
    pub drops: u32,
}

impl MsgRecord {
    /// Delivered at or before `seq`.
    pub fn delivered_by(&self, seq: u64) -> bool {
        self.first_delivery.is_some_and(|at| at.seq <= seq)
    }

    /// Copies neither delivered nor dropped yet.
    pub fn copies_in_flight(&self) -> u32 {
        (1 + self.duplicates).saturating_sub(self.deliveries + self.drops)
    }

    /// "client 1's REPLY (m2, sent at t=1.072ms)".
    pub fn describe(&self, sender: ClientId) -> String {
        format!(
            "client {sender}'s {} (m{}, sent at t={})",
            self.msg_type.to_uppercase(),
            self.msg_id,
            format_time(self.sent.t_us)
        )
    }
}

/// Where a client stands with respect to the mutex, as the events show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhaseSeen {
    Idle,
    Waiting {
        ts: Timestamp,
        requested: Moment,
    },
    Inside {
        ts: Timestamp,
        requested: Moment,
        entered: Moment,
        committed: Option<Moment>,
    },
}

/// One client as the events show it.
#[derive(Clone, Debug)]
pub struct ClientSeen {
    pub phase: PhaseSeen,
    /// The transfer being requested or inside: (to, amount).
    pub current: Option<(ClientId, Amount)>,
    /// Transfers accepted and not yet requested.
    pub pending: VecDeque<(ClientId, Amount)>,
    /// Set while the client is down.
    pub down_since: Option<Moment>,
    pub last_crash: Option<Moment>,
    pub last_restart: Option<Moment>,
}

/// A partition in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionSeen {
    pub groups: Vec<Vec<ClientId>>,
    pub direction: Direction,
    pub since: Moment,
}

impl PartitionSeen {
    /// Does it stop messages from `from` to `to`?
    pub fn cuts(&self, from: ClientId, to: ClientId) -> bool {
        let group_of = |id: ClientId| self.groups.iter().position(|group| group.contains(&id));
        match self.direction {
            Direction::Both => matches!(
                (group_of(from), group_of(to)),
                (Some(a), Some(b)) if a != b
            ),
            Direction::OneWay => {
                group_of(from) == Some(0) && group_of(to).is_some_and(|group| group > 0)
            }
        }
    }

    /// "the partition {c1} | {c2,c3} (since t=0.500ms)" or "the one-way partition {c1} -/->
    /// {c2} (since …)".
    pub fn describe(&self) -> String {
        let kind = match self.direction {
            Direction::Both => "partition",
            Direction::OneWay => "one-way partition",
        };
        format!(
            "the {kind} {} (since t={})",
            self.groups_text(),
            format_time(self.since.t_us)
        )
    }

    /// "{c1} | {c2,c3}" or "{c1} -/-> {c2}".
    pub fn groups_text(&self) -> String {
        let names: Vec<String> = self
            .groups
            .iter()
            .map(|group| {
                let ids: Vec<String> = group.iter().map(|id| format!("c{id}")).collect();
                format!("{{{}}}", ids.join(","))
            })
            .collect();
        match self.direction {
            Direction::Both => names.join(" | "),
            Direction::OneWay => format!("{} -/-> {}", names[0], names[1..].join(", ")),
        }
    }
}

/// Everything the explanations need.
#[derive(Clone, Debug)]
pub struct History {
    clients: Vec<ClientSeen>,
    links: Links,
    logged_links: usize,
    partitions: Vec<PartitionSeen>,
    /// Keep the receivers' counters on every link (see [`Self::track_receivers`]).
    receivers: bool,
    /// Keep the per-link message logs (see [`Self::skip_message_logs`]).
    log_messages: bool,
}

impl History {
    pub fn new(clients: u32) -> Self {
        History {
            clients: vec![
                ClientSeen {
                    phase: PhaseSeen::Idle,
                    current: None,
                    pending: VecDeque::new(),
                    down_since: None,
                    last_crash: None,
                    last_restart: None,
                };
                clients as usize
            ],
            links: Links::new(clients),
            logged_links: 0,
            partitions: Vec::new(),
            receivers: false,
            log_messages: true,
        }
    }

    /// Keeps no message logs: sends, deliveries, drops and duplicates are not looked at, so
    /// an explanation cannot name the messages involved. For runs that only need the verdict
    /// (a sweep reruns a failing seed with the logs to get the explanation). The logs are most
    /// of the history's cost, which grows with the number of clients. Not with
    /// [`Self::track_receivers`], which needs the messages.
    pub fn skip_message_logs(&mut self) {
        self.log_messages = false;
    }

    /// Also keeps, per link, what the receiver has heard from the sender (largest timestamp,
    /// the request it holds, its last REPLY and UPDATED), which rebuilding the waiters from
    /// the events needs ([`super::waiters_from_history`]). The simulator knows its waiters
    /// and does without.
    pub fn track_receivers(&mut self) {
        self.receivers = true;
    }

    /// Whether it learns anything from a message sent, delivered, lost or copied (it keeps the
    /// message logs or the receivers' counters).
    #[inline]
    pub fn watches_messages(&self) -> bool {
        self.log_messages || self.receivers
    }

    /// Whether [`Self::track_receivers`] is on.
    pub fn tracks_receivers(&self) -> bool {
        self.receivers
    }

    pub fn clients(&self) -> u32 {
        self.clients.len() as u32
    }

    /// Client `id`, if it exists.
    pub fn client(&self, id: ClientId) -> Option<&ClientSeen> {
        self.clients.get(id.checked_index()?)
    }

    /// The partition in place that cuts `from -> to`, if any.
    pub fn partition_cutting(&self, from: ClientId, to: ClientId) -> Option<&PartitionSeen> {
        self.partitions
            .iter()
            .find(|partition| partition.cuts(from, to))
    }

    /// The remembered messages of `from -> to`, oldest first.
    pub fn messages(
        &self,
        from: ClientId,
        to: ClientId,
    ) -> impl DoubleEndedIterator<Item = MsgRecord> + '_ {
        self.links
            .get(from, to)
            .and_then(|link| link.log.as_deref())
            .into_iter()
            .flat_map(LinkLog::iter)
    }

    /// The record of message `msg_id` on `from -> to`, if still remembered.
    pub fn message(&self, from: ClientId, to: ClientId, msg_id: u64) -> Option<MsgRecord> {
        self.messages(from, to)
            .rev()
            .find(|record| record.msg_id == msg_id)
    }

    /// The largest timestamp `to` has received from `from` since it last (re)started.
    pub fn largest_seen(&self, from: ClientId, to: ClientId) -> Timestamp {
        self.links.get(from, to).map_or(0, |link| link.largest_ts)
    }

    /// The request of `from` that `to` holds in its queue (REQUEST delivered, not released).
    pub fn open_request(&self, from: ClientId, to: ClientId) -> Option<Timestamp> {
        self.links
            .get(from, to)
            .map(|link| link.open_request)
            .filter(|&ts| ts != 0)
    }

    /// The `seq` of the last REPLY `to` received from `from`.
    pub fn last_reply(&self, from: ClientId, to: ClientId) -> Option<u64> {
        self.links
            .get(from, to)
            .map(|link| link.last_reply)
            .filter(|&seq| seq != NONE)
    }

    /// The `seq` of the last UPDATED `to` received from `from`.
    pub fn last_updated(&self, from: ClientId, to: ClientId) -> Option<u64> {
        self.links
            .get(from, to)
            .map(|link| link.last_updated)
            .filter(|&seq| seq != NONE)
    }

    /// Learns from one event. `route` is the link of the message a `drop` or `duplicate` event
    /// names (the event itself does not say).
    #[inline]
    pub fn observe(&mut self, event: &Event, route: Option<(ClientId, ClientId)>) {
        // Checked here, inline, because a run that only wants a verdict skips most events.
        if event.kind.is_about_a_message() && !self.watches_messages() {
            return;
        }
        self.learn(event, route);
    }

    /// [`Self::observe`] for an event that is not about a message, inline: the checker's
    /// out-of-line pass over a client's step starts with it, saving a call per step.
    #[inline(always)]
    pub fn observe_step(&mut self, event: &Event, route: Option<(ClientId, ClientId)>) {
        debug_assert!(!event.kind.is_about_a_message());
        self.learn_inline(event, route);
    }

    /// What [`Self::observe_step`] learns of a `commit` event by `node`, numbered `seq` at
    /// `t_us`, without the event; an `apply` teaches it nothing.
    #[inline]
    pub fn observe_commit(&mut self, node: ClientId, seq: u64, t_us: u64) {
        let slot = node.checked_index();
        if let Some(slot) = slot.filter(|&slot| slot < self.clients.len()) {
            self.committed(slot, Moment { seq, t_us });
        }
    }

    #[inline]
    fn committed(&mut self, slot: usize, at: Moment) {
        if let PhaseSeen::Inside { committed, .. } = &mut self.clients[slot].phase {
            *committed = Some(at);
        }
    }

    #[inline(never)]
    fn learn(&mut self, event: &Event, route: Option<(ClientId, ClientId)>) {
        self.learn_inline(event, route);
    }

    #[inline(always)]
    fn learn_inline(&mut self, event: &Event, route: Option<(ClientId, ClientId)>) {
        let at = Moment::of(event);
        match &event.kind {
            EventKind::Partition { groups, direction } => {
                self.partitions.push(PartitionSeen {
                    groups: groups.clone(),
                    direction: *direction,
                    since: at,
                });
                return;
            }
            EventKind::Heal { groups, direction } => {
                if let Some(place) = self.partitions.iter().position(|partition| {
                    partition.groups == *groups && partition.direction == *direction
                }) {
                    self.partitions.remove(place);
                }
                return;
            }
            EventKind::Drop { msg_id, reason } => {
                let route = route.or_else(|| self.find_route(event.node, *msg_id));
                if let Some(record) = route.and_then(|link| self.record_mut(link, *msg_id)) {
                    record.drop_seq = at.seq;
                    record.drop_reason = DROP_REASONS
                        .iter()
                        .position(|known| known == reason)
                        .unwrap_or(0) as u8;
                    record.drops = record.drops.saturating_add(1);
                }
                return;
            }
            EventKind::Duplicate { msg_id } => {
                let route = route.or_else(|| self.find_route(event.node, *msg_id));
                if let Some(record) = route.and_then(|link| self.record_mut(link, *msg_id)) {
                    record.duplicates = record.duplicates.saturating_add(1);
                }
                return;
            }
            _ => {}
        }
        let Some(node) = event.node else {
            return;
        };
        let Some(slot) = node
            .checked_index()
            .filter(|&slot| slot < self.clients.len())
        else {
            return;
        };
        match &event.kind {
            EventKind::Send { msg_id, to, msg } => self.sent(node, *to, *msg_id, msg, at),
            EventKind::Deliver { msg_id, from, msg } => {
                self.delivered(*from, node, *msg_id, msg, at);
            }
            EventKind::Transfer { to, amount } => {
                self.clients[slot].pending.push_back((*to, *amount));
            }
            EventKind::Request { ts } => {
                let client = &mut self.clients[slot];
                client.current = client.pending.pop_front().or(client.current);
                client.phase = PhaseSeen::Waiting {
                    ts: *ts,
                    requested: at,
                };
            }
            EventKind::Enter { ts } => {
                let client = &mut self.clients[slot];
                let requested = match client.phase {
                    PhaseSeen::Waiting { requested, .. } => requested,
                    _ => at,
                };
                client.phase = PhaseSeen::Inside {
                    ts: *ts,
                    requested,
                    entered: at,
                    committed: None,
                };
            }
            EventKind::Commit { .. } => self.committed(slot, at),
            EventKind::Exit { .. } => {
                let client = &mut self.clients[slot];
                client.phase = PhaseSeen::Idle;
                client.current = None;
            }
            EventKind::Crash => {
                let client = &mut self.clients[slot];
                client.down_since = Some(at);
                client.last_crash = Some(at);
            }
            EventKind::Restart { .. } => {
                let client = &mut self.clients[slot];
                client.down_since = None;
                client.last_restart = Some(at);
                client.phase = PhaseSeen::Idle;
                client.current = None;
                client.pending.clear();
                // It forgot everything it had heard from its peers.
                for peer in (0..self.clients.len()).map(ClientId::from_index) {
                    if let Some(link) = self.links.get_mut(peer, node) {
                        link.forget();
                    }
                }
            }
            _ => {}
        }
    }

    /// The link of a logged message, searched on the links from and to `node` (a drop or
    /// duplicate event happens at the sender or the receiver). Drops and duplicates are rare,
    /// so the search is cheap overall.
    fn find_route(&self, node: Option<ClientId>, msg_id: u64) -> Option<(ClientId, ClientId)> {
        let node = node?;
        ClientId::all(self.clients()).find_map(|peer| {
            [(node, peer), (peer, node)]
                .into_iter()
                .find(|&(from, to)| {
                    self.links
                        .get(from, to)
                        .and_then(|link| link.log.as_deref())
                        .is_some_and(|log| log.ids[..log.len].contains(&msg_id))
                })
        })
    }

    fn record_mut(&mut self, link: (ClientId, ClientId), msg_id: u64) -> Option<&mut Packed> {
        self.links
            .get_mut(link.0, link.1)?
            .log
            .as_mut()?
            .find_mut(msg_id)
    }

    fn sent(&mut self, from: ClientId, to: ClientId, msg_id: u64, msg: &Message, at: Moment) {
        // Without receivers' counters, only links with a log get an entry.
        let full = self.logged_links >= MAX_LOGGED_LINKS;
        let link = if full && !self.receivers {
            self.links.get_mut(from, to)
        } else {
            self.links.entry(from, to)
        };
        let Some(link) = link else {
            return;
        };
        if link.log.is_none() {
            if self.logged_links >= MAX_LOGGED_LINKS {
                return;
            }
            self.logged_links += 1;
            link.log = Some(Box::new(LinkLog::new()));
        }
        let Some(log) = link.log.as_mut() else {
            return;
        };
        let msg_type = match msg {
            Message::Request { .. } => 0,
            Message::Reply { .. } => 1,
            Message::Release { .. } => 2,
            Message::Update { .. } => 3,
            Message::Updated { .. } => 4,
            Message::Foreign(foreign) => foreign_type(foreign.kind),
        };
        log.push(
            msg_id,
            Packed {
                ts: msg.ts(),
                sent: at,
                first_delivery: Moment { seq: NONE, t_us: 0 },
                last_delivery_seq: NONE,
                drop_seq: NONE,
                deliveries: 0,
                duplicates: 0,
                drops: 0,
                msg_type,
                drop_reason: 0,
            },
        );
    }

    fn delivered(&mut self, from: ClientId, to: ClientId, msg_id: u64, msg: &Message, at: Moment) {
        let link = if self.receivers {
            self.links.entry(from, to)
        } else {
            self.links.get_mut(from, to)
        };
        let Some(link) = link else {
            return;
        };
        if let Some(record) = link.log.as_mut().and_then(|log| log.find_mut(msg_id)) {
            record.deliveries = record.deliveries.saturating_add(1);
            if record.first_delivery.seq == NONE {
                record.first_delivery = at;
            }
            record.last_delivery_seq = at.seq;
        }
        if !self.receivers {
            return;
        }
        link.largest_ts = link.largest_ts.max(msg.ts());
        match msg {
            Message::Request { ts } => {
                // A stale copy of a request already released does not queue it again.
                if *ts > link.served {
                    link.open_request = *ts;
                }
            }
            Message::Release { request_ts, .. } => {
                link.served = link.served.max(*request_ts);
                if link.open_request <= *request_ts {
                    link.open_request = 0;
                }
            }
            Message::Reply { .. } => link.last_reply = at.seq,
            Message::Updated { .. } => link.last_updated = at.seq,
            Message::Update { .. } | Message::Foreign(_) => {}
        }
    }
}

/// Microseconds as milliseconds with three decimals: `12.345ms` (as in the timeline).
pub fn format_time(t_us: u64) -> String {
    format!("{}.{:03}ms", t_us / 1000, t_us % 1000)
}

/// Why a message was lost, completing "… was lost …".
pub fn drop_words(reason: DropReason, receiver: ClientId) -> String {
    match reason {
        DropReason::Loss => "by the network".to_string(),
        DropReason::Partition => "to a partition".to_string(),
        DropReason::Crashed => format!("while client {receiver} was down"),
    }
}

/// "client 1", "clients 1 and 2", "clients 1, 2 and 3".
pub fn name_clients(clients: &[ClientId]) -> String {
    match clients {
        [] => "no client".to_string(),
        [one] => format!("client {one}"),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(ToString::to_string).collect();
            format!("clients {} and {last}", init.join(", "))
        }
    }
}
