//! `liveness`: every requested transfer is committed or aborted before the run ends; when not,
//! say who waits for whom and why.
//!
//! The simulator knows each client's state and passes [`Waiter`]s; an offline check rebuilds
//! them from the events ([`waiters_from_history`]). Either way the report names, for every
//! peer a waiter waits for, what the trace shows about it: a message that was lost (and why)
//! or still in flight, a peer that crashed, a partition still in place, a peer that is itself
//! waiting.

use std::fmt::Write as _;

use super::history::{ClientSeen, History, MsgRecord, PhaseSeen, drop_words, format_time};
use super::{Invariant, Violation};
use crate::protocol::{Amount, Client, ClientId, Phase, Timestamp, WaitReason};
use crate::wording::count_as;

/// A client that still had work when the run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiter {
    /// The client.
    pub node: ClientId,
    /// The transfer holding or waiting for the mutex, if any: (to, amount).
    pub current: Option<(ClientId, Amount)>,
    /// Why it has not entered (or, inside, not left), if it waits for someone.
    pub reason: Option<WaitReason>,
    /// Transfers queued behind the current one.
    pub queued: usize,
}

impl Waiter {
    /// The client as a waiter, if it still had a transfer to finish.
    pub fn of(client: &Client) -> Option<Waiter> {
        if *client.phase() == Phase::Idle && client.pending().len() == 0 {
            return None;
        }
        Some(Waiter {
            node: client.id(),
            current: match client.phase() {
                Phase::Idle => None,
                Phase::Waiting { transfer, .. } | Phase::Inside { transfer, .. } => {
                    Some((transfer.to, transfer.amount))
                }
            },
            reason: client.wait_reason(),
            queued: client.pending().len(),
        })
    }
}

/// One violation per client that still had work. `why_ended` completes the sentence "the run
/// ended …", e.g. "with nothing left in flight" or "at limits.max_time_us". With the checker's
/// `history` the report says why each waits; without, only who waits for whom.
pub(super) fn explained(
    waiters: &[Waiter],
    why_ended: &str,
    history: Option<&History>,
) -> Vec<Violation> {
    waiters
        .iter()
        .map(|waiter| {
            let context = history.map(|history| Context { history, waiters });
            let (detail, involved) = describe(waiter, why_ended, context);
            Violation::new(Invariant::Liveness, Some(waiter.node), detail).with_clients(&involved)
        })
        .collect()
}

/// The waiters as the events show them: the clients that are up and have asked for the mutex
/// and not left it, or have transfers pending. `protocol` is the header's: it says whether
/// the clients keep Lamport's queue and whether they count replies.
///
/// `history` must track the receivers ([`History::track_receivers`]).
pub fn waiters_from_history(history: &History, protocol: &str) -> Vec<Waiter> {
    debug_assert!(
        history.tracks_receivers(),
        "waiters_from_history needs History::track_receivers"
    );
    let counts_replies = matches!(protocol, "lamport-reply-count" | "ricart-agrawala");
    let uses_queue = protocol != "ricart-agrawala";
    let clients = history.clients();
    let peers = |own: ClientId| ClientId::all(clients).filter(move |&peer| peer != own);
    let mut waiters = Vec::new();
    for node in ClientId::all(clients) {
        let Some(client) = history.client(node) else {
            continue;
        };
        if client.down_since.is_some()
            || (client.phase == PhaseSeen::Idle && client.pending.is_empty())
        {
            continue;
        }
        let reason = match client.phase {
            PhaseSeen::Idle => None,
            PhaseSeen::Waiting { ts, requested } => {
                let own = (ts, node);
                let queued_behind = if uses_queue {
                    peers(node)
                        .filter_map(|peer| history.open_request(peer, node).map(|ts| (ts, peer)))
                        .chain([own])
                        .min()
                        .filter(|&head| head != own)
                } else {
                    None
                };
                let mut reason = WaitReason {
                    request: own,
                    queued_behind,
                    ..WaitReason::default()
                };
                if counts_replies {
                    reason.missing_replies = peers(node)
                        .filter(|&peer| {
                            history
                                .last_reply(peer, node)
                                .is_none_or(|seq| seq < requested.seq)
                        })
                        .collect();
                } else {
                    reason.silent_peers = peers(node)
                        .map(|peer| (peer, history.largest_seen(peer, node)))
                        .filter(|&(_, seen)| seen <= ts)
                        .collect();
                }
                Some(reason)
            }
            PhaseSeen::Inside { ts, committed, .. } => {
                let missing_acks: Vec<ClientId> = match committed {
                    Some(committed) if protocol == "update-ack" => peers(node)
                        .filter(|&peer| {
                            history
                                .last_updated(peer, node)
                                .is_none_or(|seq| seq < committed.seq)
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                (!missing_acks.is_empty()).then(|| WaitReason {
                    request: (ts, node),
                    missing_acks,
                    ..WaitReason::default()
                })
            }
        };
        waiters.push(Waiter {
            node,
            current: match client.phase {
                PhaseSeen::Idle => None,
                _ => client.current,
            },
            reason,
            queued: client.pending.len(),
        });
    }
    waiters
}

#[derive(Clone, Copy)]
struct Context<'a> {
    history: &'a History,
    waiters: &'a [Waiter],
}

/// What the waiter needs from a peer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wanted {
    /// A message later than the own request (rule 5(ii)).
    Answer { ts: Timestamp },
    /// A REPLY to the own request (the reply-counting protocols).
    Reply { ts: Timestamp },
    /// The RELEASE of the request ahead in the queue.
    Release,
    /// An UPDATED for the own block.
    Ack,
}

fn describe(waiter: &Waiter, why_ended: &str, context: Option<Context>) -> (String, Vec<ClientId>) {
    let node = waiter.node;
    let mut involved = vec![node];
    let mut text = match waiter.current {
        Some((to, amount)) => format!(
            "the run ended {why_ended} but client {node}'s transfer of {amount} to client {to} \
             never finished"
        ),
        None => {
            format!("the run ended {why_ended} with transfers of client {node} never requested")
        }
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(reason) = &waiter.reason {
        let (ts, _) = reason.request;
        let mut waits_for = |peer: ClientId, wanted: Wanted| {
            if !involved.contains(&peer) {
                involved.push(peer);
            }
            context
                .map(|context| causes(context, node, peer, wanted))
                .filter(|causes| !causes.is_empty())
                .map_or_else(String::new, |causes| format!(", because {causes}"))
        };
        if let Some((head_ts, head_id)) = reason.queued_behind {
            let because = waits_for(head_id, Wanted::Release);
            parts.push(format!(
                "its request ({ts},{node}) waits behind request ({head_ts},{head_id}) in its \
                 queue{because}"
            ));
        }
        for (rank, &(peer, seen)) in reason.silent_peers.iter().enumerate() {
            let because = waits_for(peer, Wanted::Answer { ts });
            parts.push(if rank == 0 {
                format!(
                    "it waits for client {peer}: it has received nothing later than its request \
                     ({ts},{node}) from client {peer} (largest timestamp seen: {seen}){because}"
                )
            } else {
                format!(
                    "it waits for client {peer}, from which the largest timestamp seen is \
                     {seen}{because}"
                )
            });
        }
        for &peer in &reason.missing_replies {
            let because = waits_for(peer, Wanted::Reply { ts });
            parts.push(format!(
                "it waits for client {peer}'s REPLY to its request ({ts},{node}){because}"
            ));
        }
        for &peer in &reason.missing_acks {
            let because = waits_for(peer, Wanted::Ack);
            parts.push(format!(
                "it is inside and waits for client {peer}'s UPDATED for its block{because}"
            ));
        }
    } else if let Some(context) = context
        && let Some(PhaseSeen::Inside { entered, .. }) =
            context.history.client(node).map(|client| client.phase)
    {
        parts.push(format!(
            "it was still inside the critical section, which it entered at t={}",
            format_time(entered.t_us)
        ));
    }
    if !parts.is_empty() {
        text.push_str(": ");
        text.push_str(&parts.join("; "));
    }
    if waiter.queued > 0 {
        let _ = write!(
            text,
            "; {} behind it",
            count_as(waiter.queued, "more transfer waits", "more transfers wait")
        );
    }
    (text, involved)
}

/// What the trace shows about why `waiter` has not got what it wants from `peer`.
fn causes(context: Context, waiter: ClientId, peer: ClientId, wanted: Wanted) -> String {
    let history = context.history;
    let requested = match history.client(waiter).map(|client| client.phase) {
        Some(PhaseSeen::Waiting { requested, .. } | PhaseSeen::Inside { requested, .. }) => {
            requested.seq
        }
        _ => 0,
    };
    let peer_seen = history.client(peer);
    let mut facts: Vec<String> = Vec::new();
    // Whether a fact already says that the peer crashed.
    let mut crash_told = false;
    if let Wanted::Answer { ts } | Wanted::Reply { ts } = wanted
        && let Some((fact, tells_crash)) = request_fate(history, waiter, peer, ts)
    {
        facts.push(fact);
        crash_told = tells_crash;
    }
    if facts.is_empty() {
        facts.extend(missed_answers(history, waiter, peer, wanted, requested));
    }
    if let Some(seen) = peer_seen
        && !crash_told
    {
        facts.extend(peer_crash(seen, peer, wanted, requested));
    }
    facts.extend(partition_between(history, waiter, peer));
    // The peer waits too: for a RELEASE that is the first thing to say.
    if (facts.is_empty() || wanted == Wanted::Release)
        && context.waiters.iter().any(|other| other.node == peer)
    {
        let fact = match peer_seen.map(|seen| seen.phase) {
            Some(PhaseSeen::Waiting { ts, .. }) => Some(format!(
                "client {peer} is itself waiting for the mutex with request ({ts},{peer})"
            )),
            Some(PhaseSeen::Inside { .. }) => {
                Some(format!("client {peer} is inside the critical section"))
            }
            _ => None,
        };
        if let Some(fact) = fact {
            facts.insert(0, fact);
        }
    }
    facts.join(", and ")
}

/// What became of `waiter`'s REQUEST with timestamp `ts` to `peer`, when that explains the
/// wait (lost, still in flight, or received by a peer that then crashed), and whether the
/// sentence tells of the peer's crash.
fn request_fate(
    history: &History,
    waiter: ClientId,
    peer: ClientId,
    ts: Timestamp,
) -> Option<(String, bool)> {
    let request = history
        .messages(waiter, peer)
        .rev()
        .find(|record| record.msg_type == "request" && record.ts == ts)?;
    let peer_seen = history.client(peer);
    let name = format!(
        "client {waiter}'s REQUEST (m{}, sent at t={}) to client {peer}",
        request.msg_id,
        format_time(request.sent.t_us)
    );
    match (request.first_delivery, request.dropped) {
        (None, Some((reason, _))) => {
            let mut fact = format!("{name} was lost {}", drop_words(reason, peer));
            let crash = peer_seen.and_then(|seen| seen.last_crash);
            if let (Some(seen), Some(crash)) = (peer_seen, crash)
                && reason == crate::trace::DropReason::Crashed
            {
                let _ = write!(
                    fact,
                    " (it crashed at t={}{})",
                    format_time(crash.t_us),
                    restart_words(seen, crash.seq)
                );
                return Some((fact, true));
            }
            Some((fact, false))
        }
        (None, None) if request.copies_in_flight() > 0 => Some((
            format!("{name} was still in flight when the run ended"),
            false,
        )),
        (Some(delivered), _) => {
            let seen = peer_seen?;
            let crash = seen.last_crash.filter(|crash| crash.seq > delivered.seq)?;
            Some((
                format!(
                    "client {peer} received the REQUEST (m{}) at t={} but crashed at t={}{}",
                    request.msg_id,
                    format_time(delivered.t_us),
                    format_time(crash.t_us),
                    restart_words(seen, crash.seq)
                ),
                true,
            ))
        }
        _ => None,
    }
}

/// " and restarted at t=… knowing nothing of it" after a crash at `crash_seq`, or " and never
/// restarted".
fn restart_words(seen: &ClientSeen, crash_seq: u64) -> String {
    match seen.last_restart {
        Some(restart) if restart.seq > crash_seq => format!(
            " and restarted at t={} knowing nothing of it",
            format_time(restart.t_us)
        ),
        _ => " and never restarted".to_string(),
    }
}

/// The peer's messages to the waiter that would have given it what it waits for and never
/// arrived: every one the history remembers, grouped by what became of them (lost, or still
/// in flight), in the order of their first message.
fn missed_answers(
    history: &History,
    waiter: ClientId,
    peer: ClientId,
    wanted: Wanted,
    requested: u64,
) -> Vec<String> {
    let answers = |record: &MsgRecord| match wanted {
        Wanted::Answer { ts } => record.ts > ts && record.sent.seq > requested,
        Wanted::Reply { .. } => record.msg_type == "reply" && record.sent.seq > requested,
        Wanted::Release => record.msg_type == "release",
        Wanted::Ack => record.msg_type == "updated" && record.sent.seq > requested,
    };
    let missed: Vec<MsgRecord> = history
        .messages(peer, waiter)
        .filter(|record| answers(record) && record.first_delivery.is_none())
        .collect();
    let mut fates: Vec<(String, Vec<&MsgRecord>)> = Vec::new();
    for record in &missed {
        let fate = match record.dropped {
            Some((reason, _)) => format!("lost {}", drop_words(reason, waiter)),
            None if record.copies_in_flight() > 0 => {
                "still in flight when the run ended".to_string()
            }
            None => continue,
        };
        match fates.iter_mut().find(|(known, _)| *known == fate) {
            Some((_, records)) => records.push(record),
            None => fates.push((fate, vec![record])),
        }
    }
    let mut facts = Vec::new();
    for (fate, records) in fates {
        let names: Vec<String> = records
            .iter()
            .enumerate()
            .map(|(rank, record)| {
                if rank == 0 {
                    record.describe(peer)
                } else {
                    format!(
                        "its {} (m{}, sent at t={})",
                        record.msg_type.to_uppercase(),
                        record.msg_id,
                        format_time(record.sent.t_us)
                    )
                }
            })
            .collect();
        let (names, verb) = match names.split_last() {
            Some((last, [])) => (last.clone(), "was"),
            Some((last, init)) => (format!("{} and {last}", init.join(", ")), "were"),
            None => continue,
        };
        facts.push(format!("{names} to client {waiter} {verb} {fate}"));
    }
    facts
}

/// The peer's own crash, when no other fact told of it: it is still down, or (for a wait
/// on its RELEASE) it crashed after the request and restarted.
fn peer_crash(seen: &ClientSeen, peer: ClientId, wanted: Wanted, requested: u64) -> Option<String> {
    if let Some(down) = seen.down_since {
        return Some(format!(
            "client {peer} crashed at t={} and never restarted",
            format_time(down.t_us)
        ));
    }
    let (crash, restart) = (seen.last_crash?, seen.last_restart?);
    (crash.seq > requested && wanted == Wanted::Release).then(|| {
        format!(
            "client {peer} crashed at t={} and restarted at t={}",
            format_time(crash.t_us),
            format_time(restart.t_us)
        )
    })
}

/// A partition that still cuts the link between the two, in either direction.
fn partition_between(history: &History, waiter: ClientId, peer: ClientId) -> Option<String> {
    let inbound = history.partition_cutting(peer, waiter);
    let outbound = history.partition_cutting(waiter, peer);
    let (partition, way) = match (inbound, outbound) {
        (Some(partition), Some(_)) => (
            partition,
            format!("between client {peer} and client {waiter}"),
        ),
        (Some(partition), None) => (partition, format!("from client {peer} to client {waiter}")),
        (None, Some(partition)) => (partition, format!("from client {waiter} to client {peer}")),
        (None, None) => return None,
    };
    Some(format!(
        "{} still stops messages {way}",
        partition.describe()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Message;
    use crate::trace::{DropReason, Event, EventKind};

    #[test]
    fn says_who_waits_for_whom() {
        let waiter = Waiter {
            node: ClientId::new(2),
            current: Some((ClientId::new(1), 3)),
            reason: Some(WaitReason {
                request: (3, ClientId::new(2)),
                queued_behind: Some((2, ClientId::new(1))),
                silent_peers: vec![(ClientId::new(1), 2)],
                ..WaitReason::default()
            }),
            queued: 1,
        };
        let violations = explained(&[waiter], "at limits.max_time_us", None);
        assert_eq!(violations.len(), 1);
        assert_eq!(
            violations[0].clients,
            vec![ClientId::new(2), ClientId::new(1)]
        );
        assert_eq!(
            violations[0].detail,
            "the run ended at limits.max_time_us but client 2's transfer of 3 to client 1 never \
             finished: its request (3,2) waits behind request (2,1) in its queue; it waits for \
             client 1: it has received nothing later than its request (3,2) from client 1 \
             (largest timestamp seen: 2); 1 more transfer waits behind it"
        );
    }

    fn replay(
        events: &[(Option<ClientId>, EventKind)],
        routes: &[Option<(ClientId, ClientId)>],
    ) -> History {
        let mut history = History::new(2);
        history.track_receivers();
        for (seq, (node, kind)) in events.iter().enumerate() {
            let event = Event {
                seq: seq as u64,
                t_us: seq as u64 * 1000,
                node: *node,
                clock: 0,
                kind: kind.clone(),
            };
            history.observe(&event, routes.get(seq).copied().flatten());
        }
        history
    }

    /// scenarios/loss-lamport.json by hand: client 2's REPLY is lost.
    #[test]
    fn a_lost_reply_is_named_from_the_events() {
        let events = [
            (
                Some(ClientId::new(1)),
                EventKind::Transfer {
                    to: ClientId::new(2),
                    amount: 4,
                },
            ),
            (Some(ClientId::new(1)), EventKind::Request { ts: 1 }),
            (
                Some(ClientId::new(1)),
                EventKind::Send {
                    msg_id: 0,
                    to: ClientId::new(2),
                    msg: Message::Request { ts: 1 },
                },
            ),
            (
                Some(ClientId::new(2)),
                EventKind::Deliver {
                    msg_id: 0,
                    from: ClientId::new(1),
                    msg: Message::Request { ts: 1 },
                },
            ),
            (
                Some(ClientId::new(2)),
                EventKind::Send {
                    msg_id: 1,
                    to: ClientId::new(1),
                    msg: Message::Reply { ts: 2 },
                },
            ),
            (
                Some(ClientId::new(2)),
                EventKind::Drop {
                    msg_id: 1,
                    reason: DropReason::Loss,
                },
            ),
        ];
        let routes = [
            None,
            None,
            None,
            None,
            None,
            Some((ClientId::new(2), ClientId::new(1))),
        ];
        let history = replay(&events, &routes);
        let waiters = waiters_from_history(&history, "lamport");
        assert_eq!(
            waiters,
            vec![Waiter {
                node: ClientId::new(1),
                current: Some((ClientId::new(2), 4)),
                reason: Some(WaitReason {
                    request: (1, ClientId::new(1)),
                    silent_peers: vec![(ClientId::new(2), 0)],
                    ..WaitReason::default()
                }),
                queued: 0,
            }]
        );
        let violations = explained(&waiters, "with nothing left in flight", Some(&history));
        assert_eq!(
            violations[0].detail,
            "the run ended with nothing left in flight but client 1's transfer of 4 to client 2 \
             never finished: it waits for client 2: it has received nothing later than its \
             request (1,1) from client 2 (largest timestamp seen: 0), because client 2's REPLY \
             (m1, sent at t=4.000ms) to client 1 was lost by the network"
        );
    }

    #[test]
    fn a_crashed_peer_is_named() {
        let events = [
            (Some(ClientId::new(2)), EventKind::Crash),
            (
                Some(ClientId::new(1)),
                EventKind::Transfer {
                    to: ClientId::new(2),
                    amount: 4,
                },
            ),
            (Some(ClientId::new(1)), EventKind::Request { ts: 1 }),
        ];
        let history = replay(&events, &[]);
        let waiters = waiters_from_history(&history, "lamport");
        let violations = explained(&waiters, "with nothing left in flight", Some(&history));
        assert!(
            violations[0]
                .detail
                .ends_with("because client 2 crashed at t=0.000ms and never restarted"),
            "{}",
            violations[0].detail
        );
    }
}
