//! Sends and deliveries match by `msg_id`, reported as `clock_condition`: the clock condition
//! (a receive is later than its send) rests on every receive having a send before it.
//!
//! A send makes one copy of a message; a `duplicate` event adds a copy; a `drop` event loses
//! one; a `deliver` event uses one. A delivery with no copy left, of a message nobody sent,
//! of a message that differs from the one sent, or on another link than the send's, is a
//! violation. So is a second send with the same `msg_id`.
//!
//! Memory: the messages with copies still in flight, kept by id in a [`MessageStore`] (a
//! window as wide as the span of ids in flight when ids are handed out in order, as the
//! simulator does).

use std::collections::VecDeque;

use rustc_hash::{FxHashMap as FastMap, FxHashSet as FastSet};

use super::history::{History, drop_words};
use super::{Invariant, Violation};
use crate::protocol::{ClientId, Message};
use crate::trace::{Event, EventKind};
use crate::wording::count;

#[derive(Clone, Debug)]
struct InFlight {
    from: ClientId,
    to: ClientId,
    msg: Message,
    sent_seq: u64,
    /// Copies not yet delivered or dropped.
    copies: u32,
}

/// What the store knows about one message id.
#[derive(Clone, Debug)]
enum Slot {
    /// Never sent.
    Vacant,
    Live(InFlight),
    /// Every copy delivered or dropped.
    Done,
}

/// The ids the window may reach past its lowest unfinished id.
const MAX_WINDOW: u64 = 1 << 20;

/// Messages by id. Ids handed out in order (as the simulator does) live in a window of slots
/// from the lowest id not yet finished: no hashing, and memory as large as the span of ids
/// in flight. Other ids go to a map, and their finished ids to a set.
#[derive(Clone, Debug, Default)]
pub struct MessageStore {
    /// Every id below `base` is finished.
    base: u64,
    window: VecDeque<Slot>,
    overflow: FastMap<u64, InFlight>,
    overflow_finished: FastSet<u64>,
}

impl MessageStore {
    fn slot(&self, id: u64) -> Option<&Slot> {
        let offset = id.checked_sub(self.base)?;
        self.window.get(usize::try_from(offset).ok()?)
    }

    fn in_window(&self, id: u64) -> bool {
        id.checked_sub(self.base)
            .is_some_and(|offset| offset < MAX_WINDOW)
    }

    fn get(&self, id: u64) -> Option<&InFlight> {
        match self.slot(id) {
            Some(Slot::Live(message)) => Some(message),
            _ => self.overflow.get(&id),
        }
    }

    fn get_mut(&mut self, id: u64) -> Option<&mut InFlight> {
        let offset = id
            .checked_sub(self.base)
            .and_then(|o| usize::try_from(o).ok());
        if let Some(Slot::Live(message)) = offset.and_then(|offset| self.window.get_mut(offset)) {
            return Some(message);
        }
        self.overflow.get_mut(&id)
    }

    /// Every copy of `id` was delivered or dropped.
    pub fn is_finished(&self, id: u64) -> bool {
        id < self.base
            || matches!(self.slot(id), Some(Slot::Done))
            || self.overflow_finished.contains(&id)
    }

    fn insert(&mut self, id: u64, message: InFlight) {
        if !self.in_window(id) {
            self.overflow_finished.remove(&id);
            self.overflow.insert(id, message);
            return;
        }
        let offset = (id - self.base) as usize;
        while self.window.len() <= offset {
            self.window.push_back(Slot::Vacant);
        }
        self.window[offset] = Slot::Live(message);
    }

    fn finish(&mut self, id: u64) {
        if self.overflow.remove(&id).is_some() {
            self.overflow_finished.insert(id);
            return;
        }
        let Some(offset) = id
            .checked_sub(self.base)
            .and_then(|o| usize::try_from(o).ok())
        else {
            return;
        };
        if let Some(slot) = self.window.get_mut(offset) {
            *slot = Slot::Done;
        }
        while matches!(self.window.front(), Some(Slot::Done)) {
            self.window.pop_front();
            self.base += 1;
        }
    }

    /// How many messages have a copy in flight.
    #[cfg(test)]
    fn live(&self) -> usize {
        let in_window = self
            .window
            .iter()
            .filter(|slot| matches!(slot, Slot::Live(_)))
            .count();
        in_window + self.overflow.len()
    }

    /// How many ids it holds one by one (for tests of its memory).
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.window.len() + self.overflow.len() + self.overflow_finished.len()
    }

    /// The lowest id with a copy in flight.
    fn oldest(&self) -> Option<(u64, &InFlight)> {
        let in_window = self
            .window
            .iter()
            .enumerate()
            .find_map(|(offset, slot)| match slot {
                Slot::Live(message) => Some((self.base + offset as u64, message)),
                _ => None,
            });
        let in_overflow = self
            .overflow
            .iter()
            .min_by_key(|(id, _)| **id)
            .map(|(&id, message)| (id, message));
        match (in_window, in_overflow) {
            (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

/// Matches deliveries, drops and duplicates with their sends.
#[derive(Clone, Debug, Default)]
pub struct DeliveryMatching {
    messages: MessageStore,
}

impl DeliveryMatching {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks one event. Returns the link (sender, receiver) of the message a `drop` or
    /// `duplicate` event names, for the [`History`] to record its fate.
    pub fn observe(
        &mut self,
        event: &Event,
        history: &History,
        found: &mut Vec<Violation>,
    ) -> Option<(ClientId, ClientId)> {
        match &event.kind {
            EventKind::Send { msg_id, to, msg } => {
                let from = event.node?;
                if let Some(earlier) = self.messages.get(*msg_id) {
                    found.push(reused_id(event, *msg_id, Some(earlier.sent_seq)));
                } else if self.messages.is_finished(*msg_id) {
                    found.push(reused_id(event, *msg_id, None));
                }
                self.messages.insert(
                    *msg_id,
                    InFlight {
                        from,
                        to: *to,
                        msg: msg.clone(),
                        sent_seq: event.seq,
                        copies: 1,
                    },
                );
                None
            }
            EventKind::Deliver { msg_id, from, msg } => {
                let node = event.node?;
                found.extend(self.deliver(node, *msg_id, *from, msg, history));
                None
            }
            EventKind::Drop { msg_id, .. } => self.lose_copy(event, *msg_id, found),
            EventKind::Duplicate { msg_id } => match self.messages.get_mut(*msg_id) {
                Some(message) => {
                    message.copies += 1;
                    Some((message.from, message.to))
                }
                None => {
                    found.push(orphan(event, *msg_id, "duplicates", &self.messages));
                    None
                }
            },
            _ => None,
        }
    }

    /// The message with the lowest id still in flight: (msg_id, sender, receiver, seq of the
    /// send).
    pub fn oldest_in_flight(&self) -> Option<(u64, ClientId, ClientId, u64)> {
        self.messages
            .oldest()
            .map(|(msg_id, message)| (msg_id, message.from, message.to, message.sent_seq))
    }

    fn use_copy(&mut self, msg_id: u64) {
        if let Some(message) = self.messages.get_mut(msg_id) {
            message.copies = message.copies.saturating_sub(1);
            if message.copies == 0 {
                self.messages.finish(msg_id);
            }
        }
    }

    fn lose_copy(
        &mut self,
        event: &Event,
        msg_id: u64,
        found: &mut Vec<Violation>,
    ) -> Option<(ClientId, ClientId)> {
        let Some(message) = self.messages.get(msg_id) else {
            found.push(orphan(event, msg_id, "drops", &self.messages));
            return None;
        };
        let link = (message.from, message.to);
        self.use_copy(msg_id);
        Some(link)
    }

    fn deliver(
        &mut self,
        node: ClientId,
        msg_id: u64,
        from: ClientId,
        msg: &Message,
        history: &History,
    ) -> Option<Violation> {
        // Built only when something is wrong: this runs on every delivery.
        let what = || {
            format!(
                "client {node} received {} m{msg_id} from client {from}",
                msg.type_name().to_uppercase()
            )
        };
        let violation = |detail: String| {
            Violation::new(Invariant::ClockCondition, Some(node), detail)
                .with_clients(&[node, from])
        };
        let Some(sent) = self.messages.get(msg_id) else {
            if !self.messages.is_finished(msg_id) {
                return Some(violation(format!(
                    "{}, but no event before it sends m{msg_id}: a message must be sent \
                     before it is received",
                    what()
                )));
            }
            let fate = history.message(from, node, msg_id).map(|record| {
                let mut copies = format!(
                    "it was sent once, duplicated {} and delivered {} before",
                    count(record.duplicates, "time"),
                    count(record.deliveries, "time")
                );
                if let Some((reason, seq)) = record.dropped {
                    copies.push_str(&format!(
                        ", and dropped at event {seq} ({})",
                        drop_words(reason, node)
                    ));
                }
                copies
            });
            return Some(violation(match fate {
                Some(fate) => format!(
                    "{}, but no copy of m{msg_id} was left in flight ({fate}): more \
                     receives than sends",
                    what()
                ),
                None => format!(
                    "{}, but every copy of m{msg_id} had already been delivered or dropped: \
                     more receives than sends",
                    what()
                ),
            }));
        };
        let problem = if sent.from != from || sent.to != node {
            Some(format!(
                "{}, but m{msg_id} was sent by client {} to client {} (event {})",
                what(),
                sent.from,
                sent.to,
                sent.sent_seq
            ))
        } else if sent.msg != *msg {
            Some(format!(
                "{}, but the message received differs from the {} sent at event {}",
                what(),
                sent.msg.type_name().to_uppercase(),
                sent.sent_seq
            ))
        } else {
            None
        };
        self.use_copy(msg_id);
        problem.map(violation)
    }
}

fn reused_id(event: &Event, msg_id: u64, earlier: Option<u64>) -> Violation {
    let node = event.node.unwrap_or(ClientId::new(0));
    let earlier = earlier.map_or_else(
        || "an earlier send".to_string(),
        |seq| format!("event {seq}"),
    );
    Violation::new(
        Invariant::ClockCondition,
        event.node,
        format!(
            "client {node} sends a message with id m{msg_id}, which {earlier} already used: \
             message ids must be unique, or receives cannot be matched with their sends"
        ),
    )
}

fn orphan(event: &Event, msg_id: u64, verb: &str, messages: &MessageStore) -> Violation {
    let state = if messages.is_finished(msg_id) {
        "has no copy left in flight"
    } else {
        "was never sent"
    };
    Violation::new(
        Invariant::ClockCondition,
        event.node,
        format!("the network {verb} message m{msg_id}, which {state}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, node: ClientId, kind: EventKind) -> Event {
        Event {
            seq,
            t_us: seq,
            node: Some(node),
            clock: seq + 1,
            kind,
        }
    }

    fn send(seq: u64, msg_id: u64) -> Event {
        event(
            seq,
            ClientId::new(1),
            EventKind::Send {
                msg_id,
                to: ClientId::new(2),
                msg: Message::Reply { ts: 1 },
            },
        )
    }

    fn deliver(seq: u64, msg_id: u64, ts: u64) -> Event {
        event(
            seq,
            ClientId::new(2),
            EventKind::Deliver {
                msg_id,
                from: ClientId::new(1),
                msg: Message::Reply { ts },
            },
        )
    }

    fn run(events: &[Event]) -> Vec<Violation> {
        let mut matching = DeliveryMatching::new();
        let mut history = History::new(2);
        let mut found = Vec::new();
        for event in events {
            let route = matching.observe(event, &history, &mut found);
            history.observe(event, route);
        }
        found
    }

    #[test]
    fn a_matched_send_and_delivery_pass() {
        assert_eq!(run(&[send(0, 7), deliver(1, 7, 1)]), vec![]);
    }

    #[test]
    fn a_delivery_without_a_send_is_caught() {
        let found = run(&[deliver(0, 3, 1)]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].invariant, Invariant::ClockCondition);
        assert!(found[0].detail.contains("no event before it sends m3"));
    }

    #[test]
    fn a_second_delivery_needs_a_duplicate() {
        let found = run(&[send(0, 0), deliver(1, 0, 1), deliver(2, 0, 1)]);
        assert_eq!(found.len(), 1);
        assert!(found[0].detail.contains("more receives than sends"));
        let duplicate = event(1, ClientId::new(1), EventKind::Duplicate { msg_id: 0 });
        assert_eq!(
            run(&[send(0, 0), duplicate, deliver(2, 0, 1), deliver(3, 0, 1)]),
            vec![]
        );
    }

    #[test]
    fn a_dropped_message_cannot_arrive() {
        let drop = event(
            1,
            ClientId::new(1),
            EventKind::Drop {
                msg_id: 0,
                reason: crate::trace::DropReason::Loss,
            },
        );
        let found = run(&[send(0, 0), drop, deliver(2, 0, 1)]);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].detail.contains("dropped at event 1"),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn a_changed_message_is_caught() {
        let found = run(&[send(0, 0), deliver(1, 0, 9)]);
        assert!(found[0].detail.contains("differs"), "{}", found[0].detail);
    }

    #[test]
    fn ids_in_order_keep_only_the_span_in_flight() {
        let mut matching = DeliveryMatching::new();
        let history = History::new(2);
        let mut found = Vec::new();
        let mut seq = 0;
        for msg_id in 0..1000 {
            matching.observe(&send(seq, msg_id), &history, &mut found);
            seq += 1;
            if msg_id >= 3 {
                matching.observe(&deliver(seq, msg_id - 3, 1), &history, &mut found);
                seq += 1;
            }
        }
        assert_eq!(found, vec![]);
        assert_eq!(matching.messages.live(), 3);
        assert!(
            matching.messages.kept() <= 4,
            "{}",
            matching.messages.kept()
        );
        assert_eq!(
            matching.oldest_in_flight(),
            Some((997, ClientId::new(1), ClientId::new(2), 2 * 997 - 3))
        );
        // Far-off ids go to the map and still match.
        matching.observe(&send(seq, u64::MAX - 1), &history, &mut found);
        matching.observe(&deliver(seq + 1, u64::MAX - 1, 1), &history, &mut found);
        assert_eq!(found, vec![]);
        assert!(matching.messages.is_finished(u64::MAX - 1));
    }
}
