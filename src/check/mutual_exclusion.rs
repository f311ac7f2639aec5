//! `mutual_exclusion`: never two clients inside the critical section at the same time.
//!
//! A violation says who entered while whom was inside, then explains it from the messages
//! between the two: of the two requests, the earlier one should have kept the other client
//! out, so the explanation looks at what that other client had received from the earlier
//! requester when it entered: a message that overtook the REQUEST on the same link, a REQUEST
//! that was lost or still in flight, a REQUEST that had arrived (equal timestamps, duplicated
//! messages). It reports only what the trace shows.

use std::fmt::Write as _;

use super::history::{History, Moment, MsgRecord, PhaseSeen, drop_words, format_time};
use super::{Invariant, Violation};
use crate::protocol::{ClientId, Timestamp};
use crate::trace::{Event, EventKind};

/// How many duplicated deliveries an explanation lists at most.
const LISTED_DUPLICATES: usize = 3;

/// Tracks who is inside, since when, with which request.
#[derive(Clone, Debug)]
pub struct MutualExclusion {
    /// Index `id - 1`: `Some((request ts, entered at))` while inside.
    inside: Vec<Option<(Timestamp, Moment)>>,
    inside_count: usize,
}

impl MutualExclusion {
    pub fn new(clients: u32) -> Self {
        MutualExclusion {
            inside: vec![None; clients as usize],
            inside_count: 0,
        }
    }

    /// `history` must already have seen `event`. Runs on every client step (inline); an entry
    /// while someone is inside is explained out of line.
    #[inline]
    pub fn observe(&mut self, event: &Event, history: &History) -> Option<Violation> {
        let node = event.node?;
        let slot = node
            .checked_index()
            .filter(|&slot| slot < self.inside.len())?;
        match event.kind {
            EventKind::Enter { ts } => {
                let at = Moment {
                    seq: event.seq,
                    t_us: event.t_us,
                };
                let found = self.report_others(node, ts, at, history);
                if self.inside[slot].replace((ts, at)).is_none() {
                    self.inside_count += 1;
                }
                found
            }
            // A crashed client is no longer inside; a restarted one starts outside.
            EventKind::Exit { .. } | EventKind::Crash | EventKind::Restart { .. } => {
                if self.inside[slot].take().is_some() {
                    self.inside_count -= 1;
                }
                None
            }
            _ => None,
        }
    }

    fn report_others(
        &self,
        node: ClientId,
        ts: Timestamp,
        at: Moment,
        history: &History,
    ) -> Option<Violation> {
        if self.inside_count == 0 {
            return None;
        }
        let (other, (other_ts, since)) = self
            .inside
            .iter()
            .enumerate()
            .map(|(slot, state)| (ClientId::from_index(slot), state))
            .find_map(|(other, state)| {
                state.filter(|_| other != node).map(|state| (other, state))
            })?;
        let mut detail = format!(
            "client {node} entered the critical section with request ({ts},{node}) at t={} \
             while client {other} was still inside with request ({other_ts},{other}) since t={} \
             (event {})",
            format_time(at.t_us),
            format_time(since.t_us),
            since.seq
        );
        let entering = Side {
            id: node,
            ts,
            entered: at,
        };
        let inside = Side {
            id: other,
            ts: other_ts,
            entered: since,
        };
        let _ = write!(detail, ": {}", explain(history, entering, inside));
        Some(
            Violation::new(Invariant::MutualExclusion, Some(node), detail)
                .with_clients(&[node, other]),
        )
    }
}

/// One of the two clients inside.
#[derive(Clone, Copy, Debug)]
struct Side {
    id: ClientId,
    ts: Timestamp,
    entered: Moment,
}

/// Why both got in. `first` holds the earlier request (by timestamp, then client id): the
/// other one, `late`, should have waited for it.
fn explain(history: &History, a: Side, b: Side) -> String {
    let (first, late) = if (a.ts, a.id) < (b.ts, b.id) {
        (a, b)
    } else {
        (b, a)
    };
    let (e, l) = (first.id, late.id);
    let entered = late.entered;
    let request = history
        .messages(e, l)
        .rev()
        .find(|record| record.msg_type == "request" && record.ts == first.ts);
    let mut text = match &request {
        Some(request) if request.delivered_by(entered.seq) => {
            let arrived = request.first_delivery.map_or(0, |at| at.t_us);
            let mut text = format!(
                "client {l} had received client {e}'s REQUEST (m{}, ts {}) at t={}, before it \
                 entered at t={}, so it knew of client {e}'s earlier request ({},{e})",
                request.msg_id,
                request.ts,
                format_time(arrived),
                format_time(entered.t_us),
                first.ts
            );
            if first.ts == late.ts {
                let _ = write!(
                    text,
                    "; both requests carry timestamp {}, so only the client ids order them: \
                     ({},{e}) comes before ({},{l})",
                    first.ts, first.ts, late.ts
                );
            }
            text
        }
        Some(request) => not_received(history, request, first, late),
        None => format!(
            "the trace shows no REQUEST with ts {} from client {e} to client {l} among the \
             latest messages on that link",
            first.ts
        ),
    };
    // A duplicated RELEASE can remove a request that was not released; a duplicated REPLY
    // can be counted twice.
    let relevant = match &request {
        Some(request) if request.delivered_by(entered.seq) => "release",
        _ => "reply",
    };
    for duplicate in duplicates_before_entry(history, late, relevant) {
        text.push_str("; ");
        text.push_str(&duplicate);
    }
    text.push_str("; both believed they had priority");
    text
}

/// The earlier requester's REQUEST had not reached the late client when it entered.
fn not_received(history: &History, request: &MsgRecord, first: Side, late: Side) -> String {
    let (e, l) = (first.id, late.id);
    let entered = late.entered;
    let arrival = match (request.first_delivery, request.dropped) {
        (Some(at), _) => format!("it arrived only at t={}", format_time(at.t_us)),
        (None, Some((reason, _))) => format!("it was lost {}", drop_words(reason, l)),
        (None, None) => "it was still in flight".to_string(),
    };
    let overtakers: Vec<MsgRecord> = history
        .messages(e, l)
        .filter(|record| record.sent.seq > request.sent.seq && record.delivered_by(entered.seq))
        .collect();
    let overtaker = overtakers
        .iter()
        .find(|record| record.ts > late.ts)
        .or(overtakers.first());
    match overtaker {
        Some(overtaker) => {
            let mut text = format!(
                "{} reached client {l} before client {e}'s earlier REQUEST (m{}, sent at t={}; \
                 {arrival})",
                overtaker.describe(e),
                request.msg_id,
                format_time(request.sent.t_us)
            );
            if overtaker.ts > late.ts {
                let _ = write!(
                    text,
                    ", so client {l} saw a timestamp later than its request without having \
                     client {e}'s earlier request in its queue"
                );
            } else {
                let _ = write!(
                    text,
                    ", so client {l} did not know of client {e}'s earlier request when it \
                     entered"
                );
            }
            text
        }
        None => {
            let mut text = match (request.first_delivery, request.dropped) {
                (None, Some((reason, _))) => format!(
                    "client {e}'s earlier REQUEST (m{}, sent at t={}) to client {l} was lost {}, \
                     so client {l} entered at t={} without knowing of it",
                    request.msg_id,
                    format_time(request.sent.t_us),
                    drop_words(reason, l),
                    format_time(entered.t_us)
                ),
                _ => format!(
                    "client {l} entered at t={} before client {e}'s earlier REQUEST (m{}, sent \
                     at t={}) reached it ({arrival})",
                    format_time(entered.t_us),
                    request.msg_id,
                    format_time(request.sent.t_us)
                ),
            };
            let heard = history
                .messages(e, l)
                .filter(|record| record.delivered_by(entered.seq))
                .map(|record| record.ts)
                .max();
            if heard.is_none_or(|heard| heard <= late.ts) {
                let _ = write!(
                    text,
                    ", and without any message from client {e} later than its own request's \
                     timestamp {}",
                    late.ts
                );
            }
            text
        }
    }
}

/// Messages the late client received more than once between its request and its entry.
fn duplicates_before_entry(history: &History, late: Side, msg_type: &str) -> Vec<String> {
    let requested = match history.client(late.id).map(|client| client.phase) {
        Some(PhaseSeen::Inside { requested, .. }) => requested.seq,
        _ => 0,
    };
    let mut found = Vec::new();
    for peer in ClientId::all(history.clients()).filter(|&peer| peer != late.id) {
        for record in history.messages(peer, late.id) {
            let twice = record.deliveries >= 2
                && record.msg_type == msg_type
                && record.first_delivery.is_some_and(|at| at.seq > requested)
                && record
                    .last_delivery
                    .is_some_and(|seq| seq < late.entered.seq);
            if twice && found.len() < LISTED_DUPLICATES {
                let times = match record.deliveries {
                    2 => "twice".to_string(),
                    times => format!("{times} times"),
                };
                found.push(format!(
                    "client {} had received client {peer}'s {} (m{}) {times}: the network \
                     duplicated it",
                    late.id,
                    record.msg_type.to_uppercase(),
                    record.msg_id,
                ));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Message;

    struct Run {
        check: MutualExclusion,
        history: History,
        seq: u64,
    }

    impl Run {
        fn new(clients: u32) -> Self {
            Run {
                check: MutualExclusion::new(clients),
                history: History::new(clients),
                seq: 0,
            }
        }

        fn at(&mut self, t_us: u64, node: ClientId, kind: EventKind) -> Option<Violation> {
            let event = Event {
                seq: self.seq,
                t_us,
                node: Some(node),
                clock: 0,
                kind,
            };
            self.seq += 1;
            self.history.observe(&event, None);
            self.check.observe(&event, &self.history)
        }

        fn send(&mut self, t_us: u64, from: ClientId, to: ClientId, id: u64, msg: Message) {
            let kind = EventKind::Send {
                msg_id: id,
                to,
                msg,
            };
            assert_eq!(self.at(t_us, from, kind), None);
        }

        fn deliver(&mut self, t_us: u64, from: ClientId, to: ClientId, id: u64, msg: Message) {
            let kind = EventKind::Deliver {
                msg_id: id,
                from,
                msg,
            };
            assert_eq!(self.at(t_us, to, kind), None);
        }
    }

    #[test]
    fn overlapping_intervals_are_a_violation() {
        let mut run = Run::new(3);
        assert_eq!(
            run.at(0, ClientId::new(1), EventKind::Enter { ts: 1 }),
            None
        );
        let violation = run
            .at(10, ClientId::new(2), EventKind::Enter { ts: 1 })
            .unwrap();
        assert_eq!(violation.invariant, Invariant::MutualExclusion);
        assert_eq!(violation.clients, vec![ClientId::new(2), ClientId::new(1)]);
        assert!(
            violation.detail.contains("client 1 was still inside"),
            "{}",
            violation.detail
        );
    }

    #[test]
    fn back_to_back_intervals_are_fine_and_a_crash_leaves() {
        let mut run = Run::new(2);
        assert_eq!(
            run.at(0, ClientId::new(1), EventKind::Enter { ts: 1 }),
            None
        );
        assert_eq!(run.at(1, ClientId::new(1), EventKind::Exit { ts: 1 }), None);
        assert_eq!(
            run.at(2, ClientId::new(2), EventKind::Enter { ts: 1 }),
            None
        );
        assert_eq!(run.at(3, ClientId::new(2), EventKind::Crash), None);
        assert_eq!(
            run.at(4, ClientId::new(1), EventKind::Enter { ts: 5 }),
            None
        );
    }

    /// The reordering schedule of scenarios/reorder-2.json, by hand.
    #[test]
    fn an_overtaking_reply_is_named() {
        let mut run = Run::new(2);
        run.at(0, ClientId::new(1), EventKind::Request { ts: 1 });
        run.send(
            0,
            ClientId::new(1),
            ClientId::new(2),
            0,
            Message::Request { ts: 1 },
        );
        run.at(0, ClientId::new(2), EventKind::Request { ts: 1 });
        run.send(
            0,
            ClientId::new(2),
            ClientId::new(1),
            1,
            Message::Request { ts: 1 },
        );
        run.deliver(
            1072,
            ClientId::new(2),
            ClientId::new(1),
            1,
            Message::Request { ts: 1 },
        );
        run.send(
            1072,
            ClientId::new(1),
            ClientId::new(2),
            2,
            Message::Reply { ts: 2 },
        );
        run.deliver(
            7845,
            ClientId::new(1),
            ClientId::new(2),
            2,
            Message::Reply { ts: 2 },
        );
        assert_eq!(
            run.at(7845, ClientId::new(2), EventKind::Enter { ts: 1 }),
            None
        );
        run.deliver(
            8937,
            ClientId::new(1),
            ClientId::new(2),
            0,
            Message::Request { ts: 1 },
        );
        run.send(
            8937,
            ClientId::new(2),
            ClientId::new(1),
            3,
            Message::Reply { ts: 4 },
        );
        run.deliver(
            14162,
            ClientId::new(2),
            ClientId::new(1),
            3,
            Message::Reply { ts: 4 },
        );
        let violation = run
            .at(14162, ClientId::new(1), EventKind::Enter { ts: 1 })
            .unwrap();
        assert_eq!(
            violation.detail,
            "client 1 entered the critical section with request (1,1) at t=14.162ms while \
             client 2 was still inside with request (1,2) since t=7.845ms (event 7): client 1's \
             REPLY (m2, sent at t=1.072ms) reached client 2 before client 1's earlier REQUEST \
             (m0, sent at t=0.000ms; it arrived only at t=8.937ms), so client 2 saw a timestamp \
             later than its request without having client 1's earlier request in its queue; \
             both believed they had priority"
        );
    }

    #[test]
    fn equal_timestamps_and_duplicates_are_named_when_the_request_had_arrived() {
        let mut run = Run::new(3);
        run.at(0, ClientId::new(1), EventKind::Request { ts: 1 });
        run.send(
            0,
            ClientId::new(1),
            ClientId::new(2),
            0,
            Message::Request { ts: 1 },
        );
        run.at(0, ClientId::new(2), EventKind::Request { ts: 1 });
        run.deliver(
            10,
            ClientId::new(1),
            ClientId::new(2),
            0,
            Message::Request { ts: 1 },
        );
        run.send(
            20,
            ClientId::new(3),
            ClientId::new(2),
            5,
            Message::Release {
                ts: 3,
                request_ts: 1,
                block: None,
            },
        );
        run.deliver(
            30,
            ClientId::new(3),
            ClientId::new(2),
            5,
            Message::Release {
                ts: 3,
                request_ts: 1,
                block: None,
            },
        );
        run.deliver(
            31,
            ClientId::new(3),
            ClientId::new(2),
            5,
            Message::Release {
                ts: 3,
                request_ts: 1,
                block: None,
            },
        );
        assert_eq!(
            run.at(40, ClientId::new(1), EventKind::Enter { ts: 1 }),
            None
        );
        let violation = run
            .at(50, ClientId::new(2), EventKind::Enter { ts: 1 })
            .unwrap();
        assert!(
            violation
                .detail
                .contains("client 2 had received client 1's REQUEST (m0, ts 1) at t=0.010ms"),
            "{}",
            violation.detail
        );
        assert!(violation.detail.contains("only the client ids order them"));
        assert!(
            violation
                .detail
                .contains("client 2 had received client 3's RELEASE (m5) twice"),
            "{}",
            violation.detail
        );
    }

    #[test]
    fn a_lost_request_is_named() {
        let mut run = Run::new(2);
        run.at(0, ClientId::new(1), EventKind::Request { ts: 1 });
        run.send(
            0,
            ClientId::new(1),
            ClientId::new(2),
            0,
            Message::Request { ts: 1 },
        );
        let drop = EventKind::Drop {
            msg_id: 0,
            reason: crate::trace::DropReason::Loss,
        };
        let event = Event {
            seq: 99,
            t_us: 0,
            node: Some(ClientId::new(1)),
            clock: 1,
            kind: drop,
        };
        run.history
            .observe(&event, Some((ClientId::new(1), ClientId::new(2))));
        run.at(1, ClientId::new(2), EventKind::Request { ts: 2 });
        assert_eq!(
            run.at(2, ClientId::new(2), EventKind::Enter { ts: 2 }),
            None
        );
        let violation = run
            .at(3, ClientId::new(1), EventKind::Enter { ts: 1 })
            .unwrap();
        assert!(
            violation.detail.contains(
                "client 1's earlier REQUEST (m0, sent at t=0.000ms) to client 2 was lost by the \
                 network, so client 2 entered at t=0.002ms without knowing of it"
            ),
            "{}",
            violation.detail
        );
    }
}
