//! Sends and deliveries match by `msg_id`, reported as `clock_condition`: the clock condition
//! (a receive is later than its send) rests on every receive having a send before it.
//!
//! A send makes one copy of a message; a `duplicate` event adds a copy; a `drop` event loses
//! one; a `deliver` event uses one. A delivery with no copy left, of a message nobody sent,
//! of a message that differs from the one sent, or on another link than the send's, is a
//! violation. So is a second send with the same `msg_id`.
//!
//! Memory: the messages with copies still in flight, plus the ids of finished messages above
//! the lowest id still in flight (none when ids are handed out in order, as the simulator
//! does, and messages finish in order).

use super::fast_hash::{FastMap, FastSet};
use super::history::{History, drop_words};
use super::{Invariant, Violation};
use crate::protocol::{ClientId, Message};
use crate::trace::{Event, EventKind};

#[derive(Clone, Debug)]
struct InFlight {
    from: ClientId,
    to: ClientId,
    msg: Message,
    sent_seq: u64,
    /// Copies not yet delivered or dropped.
    copies: u32,
}

/// The ids of finished messages (every copy delivered or dropped): all ids below `low`, plus
/// the finished ids above it. Ids handed out in order, as the simulator does, keep `above`
/// as small as the span of messages in flight.
#[derive(Clone, Debug, Default)]
pub struct FinishedIds {
    low: u64,
    above: FastSet<u64>,
}

impl FinishedIds {
    pub fn contains(&self, id: u64) -> bool {
        id < self.low || self.above.contains(&id)
    }

    pub fn insert(&mut self, id: u64) {
        if id < self.low {
            return;
        }
        if id != self.low {
            self.above.insert(id);
            return;
        }
        self.low += 1;
        while !self.above.is_empty() && self.above.remove(&self.low) {
            self.low += 1;
        }
    }

    /// How many ids it keeps one by one (for tests of its memory).
    pub fn kept(&self) -> usize {
        self.above.len()
    }
}

/// Matches deliveries, drops and duplicates with their sends.
#[derive(Clone, Debug, Default)]
pub struct DeliveryMatching {
    in_flight: FastMap<u64, InFlight>,
    finished: FinishedIds,
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
                if let Some(earlier) = self.in_flight.get(msg_id) {
                    found.push(reused_id(event, *msg_id, Some(earlier.sent_seq)));
                } else if self.finished.contains(*msg_id) {
                    found.push(reused_id(event, *msg_id, None));
                }
                self.in_flight.insert(
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
            EventKind::Duplicate { msg_id } => match self.in_flight.get_mut(msg_id) {
                Some(message) => {
                    message.copies += 1;
                    Some((message.from, message.to))
                }
                None => {
                    found.push(orphan(event, *msg_id, "duplicates", &self.finished));
                    None
                }
            },
            _ => None,
        }
    }

    /// The message with the lowest id still in flight: (msg_id, sender, receiver, seq of the
    /// send).
    pub fn oldest_in_flight(&self) -> Option<(u64, ClientId, ClientId, u64)> {
        self.in_flight
            .iter()
            .min_by_key(|(msg_id, _)| **msg_id)
            .map(|(&msg_id, message)| (msg_id, message.from, message.to, message.sent_seq))
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    fn use_copy(&mut self, msg_id: u64) {
        if let Some(message) = self.in_flight.get_mut(&msg_id) {
            message.copies = message.copies.saturating_sub(1);
            if message.copies == 0 {
                self.in_flight.remove(&msg_id);
                self.finished.insert(msg_id);
            }
        }
    }

    fn lose_copy(
        &mut self,
        event: &Event,
        msg_id: u64,
        found: &mut Vec<Violation>,
    ) -> Option<(ClientId, ClientId)> {
        let Some(message) = self.in_flight.get(&msg_id) else {
            found.push(orphan(event, msg_id, "drops", &self.finished));
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
        let what = format!(
            "client {node} received {} m{msg_id} from client {from}",
            msg.type_name().to_uppercase()
        );
        let violation = |detail: String| {
            Violation::new(Invariant::ClockCondition, Some(node), detail)
                .with_clients(&[node, from])
        };
        let Some(sent) = self.in_flight.get(&msg_id) else {
            if !self.finished.contains(msg_id) {
                return Some(violation(format!(
                    "{what}, but no event before it sends m{msg_id}: a message must be sent \
                     before it is received"
                )));
            }
            let fate = history.message(from, node, msg_id).map(|record| {
                let mut copies = format!(
                    "it was sent once, duplicated {} time(s) and delivered {} time(s) before",
                    record.duplicates, record.deliveries
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
                    "{what}, but no copy of m{msg_id} was left in flight ({fate}): more \
                     receives than sends"
                ),
                None => format!(
                    "{what}, but every copy of m{msg_id} had already been delivered or dropped: \
                     more receives than sends"
                ),
            }));
        };
        let problem = if sent.from != from || sent.to != node {
            Some(format!(
                "{what}, but m{msg_id} was sent by client {} to client {} (event {})",
                sent.from, sent.to, sent.sent_seq
            ))
        } else if sent.msg != *msg {
            Some(format!(
                "{what}, but the message received differs from the {} sent at event {}",
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
    let node = event.node.unwrap_or(0);
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

fn orphan(event: &Event, msg_id: u64, verb: &str, finished: &FinishedIds) -> Violation {
    let state = if finished.contains(msg_id) {
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
            1,
            EventKind::Send {
                msg_id,
                to: 2,
                msg: Message::Reply { ts: 1 },
            },
        )
    }

    fn deliver(seq: u64, msg_id: u64, ts: u64) -> Event {
        event(
            seq,
            2,
            EventKind::Deliver {
                msg_id,
                from: 1,
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
        let duplicate = event(1, 1, EventKind::Duplicate { msg_id: 0 });
        assert_eq!(
            run(&[send(0, 0), duplicate, deliver(2, 0, 1), deliver(3, 0, 1)]),
            vec![]
        );
    }

    #[test]
    fn a_dropped_message_cannot_arrive() {
        let drop = event(
            1,
            1,
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
    fn finished_ids_in_order_keep_nothing_one_by_one() {
        let mut set = FinishedIds::default();
        for id in [3, 1, 0, 2, 5, 4] {
            set.insert(id);
        }
        assert_eq!(set.kept(), 0);
        assert!(set.contains(5) && !set.contains(6));
        set.insert(9);
        assert_eq!(set.kept(), 1);
        assert!(set.contains(9) && !set.contains(7));
    }
}
