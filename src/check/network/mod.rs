//! Holding a trace's network events (`drop`, `duplicate`, `partition`, `heal`), and when and
//! in which order its messages arrive, to the network its header describes
//! (docs/checking.md).
//!
//! Only a simulated run's trace (its header has `limits` and no `live` object) is held, and
//! only to what its header determines, as `src/sim/network.rs` decides a message's fate:
//! - when a message is sent, a partition in force that separates its sender from its
//!   receiver loses it (`drop` for `partition`, right after the `send`); otherwise a pinned
//!   fate of the header's `schedule` decides, or else the link's `drop_ratio` (a `drop` for
//!   `loss` right after the send) and `duplicate_ratio` (a `duplicate` right after it);
//! - a message that arrives at a client that is down is lost there (`drop` for `crashed`,
//!   at the receiver);
//! - on a FIFO link, messages arrive in the order they were sent;
//! - a message arrives within its link's latency (or its pin's delays) after its send, or
//!   on a FIFO link with the copy before it, which held it back;
//! - the `partition` and `heal` events are the header's `faults.partitions`, at their times,
//!   in the order the simulator makes them.
//!
//! The explorer's traces (`explore --trace`) carry their scenario's header, but the explorer
//! chooses losses, duplications and orders within the bounds of its own settings, whenever it
//! likes, and leaves partitions out; of them only what holds for every explored path is
//! asked: no partitions, losses and duplicates at the sender, and a `crashed` drop at a
//! receiver that is down. A live cluster's network is a real one, so its traces' network
//! events are taken on trust.

mod header;
#[cfg(test)]
mod tests;
mod words;

use std::collections::{BTreeMap, VecDeque};

use super::history::format_time;
use crate::protocol::ClientId;
use crate::trace::read::TraceHeader;
use crate::trace::{DropReason, EXPLORED_SUFFIX, Event, EventKind};
use header::{DelayBounds, FaultDue, LinkModel, NetworkDeclared, ratio_words};
use words::{describe_event, node_words, untimely_words};

/// The network events of one trace, held to its header.
pub(crate) struct NetworkCheck {
    /// The simulator's model, or `None` for an explorer's trace.
    simulated: Option<Box<Simulated>>,
    /// Index `id - 1`: the `seq` of the crash the client is down since.
    down_since: Vec<Option<u64>>,
    /// Index `id - 1`: the `seq` of the client's last restart.
    restarted_at: Vec<Option<u64>>,
    /// The messages with a copy still in flight (or just sent), by id.
    messages: BTreeMap<u64, Sent>,
    /// The message the event before sent, if it was a send.
    just_sent: Option<u64>,
    /// A message just sent whose fate fixes the next event: its drop or its duplicate.
    fate_due: Option<u64>,
    /// A receive, drop or duplicate matched no send on its link: delivery matching reports
    /// it (a `clock_condition` violation), and which messages are in flight after it is
    /// unknown, so the network is no longer held.
    unmatched: bool,
}

/// What the simulator's network knows along a run.
struct Simulated {
    declared: NetworkDeclared,
    /// Index into `declared.faults_due` of the next partition or heal.
    next_fault: usize,
    /// The partitions in force: index into `declared.cuts`, and the `seq` of their event.
    in_force: Vec<(usize, u64)>,
    /// Messages sent so far per link; kept only when the header pins fates.
    sent_on_link: BTreeMap<(ClientId, ClientId), u64>,
    /// The FIFO links with messages in flight.
    fifo_links: BTreeMap<(ClientId, ClientId), FifoLink>,
}

/// A FIFO link while messages are in flight on it.
#[derive(Default)]
struct FifoLink {
    /// The messages in flight, in the order they were sent.
    in_flight: VecDeque<u64>,
    /// When the last copy arrived since the link had messages in flight: the simulator
    /// holds the next message back until then, if its own delay is shorter.
    last_arrival_us: Option<u64>,
}

/// A message sent, and what the network decided for it when it was sent.
struct Sent {
    from: ClientId,
    to: ClientId,
    seq: u64,
    sent_us: u64,
    copies: u32,
    decided: Decided,
}

/// What decides a message's fate at its send.
#[derive(Clone, Copy)]
enum Decided {
    /// A partition in force separates sender and receiver: index into the header's
    /// partitions, and the `seq` of its partition event.
    Cut(usize, u64),
    /// The header's `schedule` pins the `nth` message of the link.
    Pinned {
        nth: u64,
        lost: bool,
        duplicated: bool,
        delay: DelayBounds,
    },
    /// The link's ratios and latency draw it.
    Drawn(LinkModel),
    /// The header says nothing about the network (an explorer's trace, or no `network`).
    OnTrust,
}

impl NetworkCheck {
    /// The check for a trace with this header and header line, or `None` when the header
    /// is not a simulated run's; an error is a sentence about the header.
    pub(crate) fn for_header(
        header: &TraceHeader,
        first_line: &[u8],
    ) -> Result<Option<NetworkCheck>, String> {
        // The reader lists a header's crashes only when the header is a simulated run's.
        if header.crashes.is_none() {
            return Ok(None);
        }
        let explored = header
            .scenario
            .as_deref()
            .is_some_and(|name| name.ends_with(EXPLORED_SUFFIX));
        let simulated = match explored {
            true => None,
            false => Some(Box::new(Simulated {
                declared: NetworkDeclared::read(first_line)?,
                next_fault: 0,
                in_force: Vec::new(),
                sent_on_link: BTreeMap::new(),
                fifo_links: BTreeMap::new(),
            })),
        };
        let clients = header.clients as usize;
        Ok(Some(NetworkCheck {
            simulated,
            down_since: vec![None; clients],
            restarted_at: vec![None; clients],
            messages: BTreeMap::new(),
            just_sent: None,
            fate_due: None,
            unmatched: false,
        }))
    }

    /// Holds one event to the network; an error says why it cannot happen.
    pub(crate) fn observe(&mut self, event: &Event) -> Result<(), String> {
        if self.unmatched || self.unmatched_by(event) {
            self.unmatched = true;
            return Ok(());
        }
        if let Some(msg_id) = self.fate_due.take() {
            self.fate_follows(msg_id, event)?;
        }
        let just_sent = self.just_sent.take();
        if let Some(simulated) = &mut self.simulated {
            simulated.faults_in_order(event, &self.messages)?;
        }
        match &event.kind {
            EventKind::Send { msg_id, to, .. } => {
                if let Some(from) = event.node {
                    self.sent(*msg_id, from, *to, event);
                }
            }
            EventKind::Drop { msg_id, reason } => {
                self.dropped(event, *msg_id, *reason, just_sent)?
            }
            EventKind::Duplicate { msg_id } => self.duplicated(event, *msg_id, just_sent)?,
            EventKind::Deliver { msg_id, .. } => self.arrived(event, *msg_id)?,
            EventKind::Partition { .. } | EventKind::Heal { .. } if self.simulated.is_none() => {
                return Err(format!(
                    "event {} ({}) cannot happen: the header names an explored scenario, and \
                     the explorer leaves partitions out",
                    event.seq,
                    self.describe(event)
                ));
            }
            EventKind::Crash => self.set_down(event, true),
            EventKind::Restart { .. } => self.set_down(event, false),
            _ => {}
        }
        Ok(())
    }

    /// At the end of the trace: no fate left undone, and for a run that ended quiescent (or
    /// at its time limit) every partition and heal due by then.
    pub(crate) fn finish(&self, end: Option<&str>, max_time_us: Option<u64>) -> Result<(), String> {
        if self.unmatched {
            return Ok(());
        }
        if let Some(msg_id) = self.fate_due {
            let sent = &self.messages[&msg_id];
            return Err(format!(
                "the trace ends right after the send of m{msg_id} (event {}), but {}",
                sent.seq,
                self.fate_words(msg_id, sent)
            ));
        }
        let Some(simulated) = &self.simulated else {
            return Ok(());
        };
        let due_by = match (end, max_time_us) {
            (Some("quiescent"), _) => u64::MAX,
            (Some("max_time"), Some(limit)) => limit,
            _ => return Ok(()),
        };
        match simulated.next_due() {
            Some(due) if due.at_us <= due_by => Err(format!(
                "the summary says the run ended {}, but the header's `faults` {} at t={}, and \
                 the trace has no `{}` event for it",
                if due_by == u64::MAX {
                    "quiescent"
                } else {
                    "at its time limit"
                },
                simulated.fault_words(due),
                format_time(due.at_us),
                if due.begins { "partition" } else { "heal" }
            )),
            _ => Ok(()),
        }
    }

    /// Does `event` receive, drop or duplicate a message that no send left a copy of on its
    /// link, or send a message id twice?
    fn unmatched_by(&self, event: &Event) -> bool {
        match &event.kind {
            EventKind::Send { msg_id, .. } => self.messages.contains_key(msg_id),
            EventKind::Deliver { msg_id, from, .. } => self
                .messages
                .get(msg_id)
                .is_none_or(|sent| sent.from != *from || event.node != Some(sent.to)),
            EventKind::Drop { msg_id, .. } | EventKind::Duplicate { msg_id } => {
                !self.messages.contains_key(msg_id)
            }
            _ => false,
        }
    }

    fn sent(&mut self, msg_id: u64, from: ClientId, to: ClientId, event: &Event) {
        let decided = match &mut self.simulated {
            Some(simulated) => simulated.decide(msg_id, from, to),
            None => Decided::OnTrust,
        };
        if matches!(
            decided,
            Decided::Cut(..)
                | Decided::Pinned { lost: true, .. }
                | Decided::Pinned {
                    duplicated: true,
                    ..
                }
        ) {
            self.fate_due = Some(msg_id);
        }
        self.just_sent = Some(msg_id);
        self.messages.insert(
            msg_id,
            Sent {
                from,
                to,
                seq: event.seq,
                sent_us: event.t_us,
                copies: 1,
                decided,
            },
        );
    }

    /// The event right after the send of `msg_id`, whose fate is fixed, must carry it out.
    fn fate_follows(&self, msg_id: u64, event: &Event) -> Result<(), String> {
        let sent = &self.messages[&msg_id];
        let follows = match (sent.decided, &event.kind) {
            (Decided::Cut(..), EventKind::Drop { msg_id: id, reason }) => {
                *id == msg_id && *reason == DropReason::Partition
            }
            (Decided::Pinned { lost: true, .. }, EventKind::Drop { msg_id: id, reason }) => {
                *id == msg_id && *reason == DropReason::Loss
            }
            (Decided::Pinned { .. }, EventKind::Duplicate { msg_id: id }) => *id == msg_id,
            _ => false,
        };
        if follows {
            return Ok(());
        }
        Err(format!(
            "event {} ({}) cannot happen here: {}",
            event.seq,
            self.describe(event),
            self.fate_words(msg_id, sent)
        ))
    }

    /// Why the event after the send of `msg_id` must be its drop or duplicate.
    fn fate_words(&self, msg_id: u64, sent: &Sent) -> String {
        let (from, to) = (sent.from, sent.to);
        let simulated = self
            .simulated
            .as_ref()
            .expect("only a simulated run fixes fates");
        match sent.decided {
            Decided::Cut(cut, since) => format!(
                "m{msg_id}, sent at event {} from client {from} to client {to}, crosses {} (in \
                 force since event {since}), so the network drops it for `partition` right \
                 after its send",
                sent.seq,
                simulated.declared.cuts[cut].describe()
            ),
            Decided::Pinned {
                nth, lost: true, ..
            } => format!(
                "the header's `schedule` pins m{msg_id} (message {nth} from client {from} to \
                 client {to}, sent at event {}) as lost, so its drop for `loss` comes right \
                 after its send",
                sent.seq
            ),
            Decided::Pinned { nth, .. } => format!(
                "the header's `schedule` pins m{msg_id} (message {nth} from client {from} to \
                 client {to}, sent at event {}) as delivered twice, so its `duplicate` comes \
                 right after its send",
                sent.seq
            ),
            Decided::Drawn(_) | Decided::OnTrust => unreachable!("no fate is fixed"),
        }
    }

    fn dropped(
        &mut self,
        event: &Event,
        msg_id: u64,
        reason: DropReason,
        just_sent: Option<u64>,
    ) -> Result<(), String> {
        let Some(sent) = self.messages.get(&msg_id) else {
            // A drop of a message never sent, or with no copy left, is delivery matching's.
            return Ok(());
        };
        let refuse = |why: String| {
            Err(format!(
                "event {} ({}) cannot happen: {why}",
                event.seq,
                self.describe(event)
            ))
        };
        match reason {
            DropReason::Crashed => {
                if event.node != Some(sent.to) {
                    return refuse(format!(
                        "a message is lost for `crashed` at its receiver, client {}, but the \
                         event's `node` is {}",
                        sent.to,
                        node_words(event.node)
                    ));
                }
                if let Some(why) = self.up_words(sent.to) {
                    return refuse(why);
                }
                self.arrived(event, msg_id)
            }
            _ if event.node != Some(sent.from) => refuse(format!(
                "a message is lost for `{}` at its sender, client {}, but the event's `node` is \
                 {}",
                reason.name(),
                sent.from,
                node_words(event.node)
            )),
            DropReason::Partition if self.simulated.is_none() => refuse(
                "the header names an explored scenario, and the explorer leaves partitions out"
                    .to_string(),
            ),
            DropReason::Loss if self.simulated.is_none() => {
                self.use_copy(msg_id);
                Ok(())
            }
            DropReason::Loss | DropReason::Partition => {
                if just_sent != Some(msg_id) {
                    return refuse(format!(
                        "the network decides whether a message is lost when it is sent, so the \
                         drop comes right after its send (event {})",
                        sent.seq
                    ));
                }
                if let Some(why) = self.not_lost_words(sent, reason) {
                    return refuse(why);
                }
                self.use_copy(msg_id);
                Ok(())
            }
        }
    }

    /// Why the network cannot lose `sent` for `reason` (`loss` or `partition`) at its send.
    fn not_lost_words(&self, sent: &Sent, reason: DropReason) -> Option<String> {
        let (from, to) = (sent.from, sent.to);
        match (sent.decided, reason) {
            (Decided::Cut(..), _) => None,
            (_, DropReason::Partition) => Some(format!(
                "no partition in force when it is sent (event {}) separates client {from} from \
                 client {to}",
                sent.seq
            )),
            (Decided::OnTrust, _) => None,
            (Decided::Pinned { nth, lost, .. }, _) => (!lost).then(|| {
                format!(
                    "the header's `schedule` pins it (message {nth} from client {from} to client \
                     {to}) as delivered"
                )
            }),
            (Decided::Drawn(link), _) => link.drop_ratio.is_zero().then(|| {
                format!(
                    "the header's `network` gives the link from client {from} to client {to} a \
                     drop_ratio of {}, so it loses no message",
                    ratio_words(link.drop_ratio)
                )
            }),
        }
    }

    fn duplicated(
        &mut self,
        event: &Event,
        msg_id: u64,
        just_sent: Option<u64>,
    ) -> Result<(), String> {
        let Some(sent) = self.messages.get(&msg_id) else {
            return Ok(());
        };
        let (from, to) = (sent.from, sent.to);
        let why = match sent.decided {
            _ if event.node != Some(from) => Some(format!(
                "a message is duplicated at its sender, client {from}, but the event's `node` is \
                 {}",
                node_words(event.node)
            )),
            Decided::OnTrust => None,
            _ if just_sent != Some(msg_id) => Some(format!(
                "the network decides whether a message is duplicated when it is sent, so the \
                 `duplicate` comes right after its send (event {})",
                sent.seq
            )),
            Decided::Pinned {
                duplicated: true, ..
            } => None,
            Decided::Pinned { nth, .. } => Some(format!(
                "the header's `schedule` pins it (message {nth} from client {from} to client \
                 {to}) as delivered once"
            )),
            Decided::Drawn(link) if link.duplicate_ratio.is_zero() => Some(format!(
                "the header's `network` gives the link from client {from} to client {to} a \
                 duplicate_ratio of 0, so it duplicates no message"
            )),
            Decided::Drawn(_) | Decided::Cut(..) => None,
        };
        if let Some(why) = why {
            return Err(format!(
                "event {} ({}) cannot happen: {why}",
                event.seq,
                self.describe(event)
            ));
        }
        if let Some(sent) = self.messages.get_mut(&msg_id) {
            sent.copies += 1;
        }
        Ok(())
    }

    /// A copy of `msg_id` arrives (delivered, or lost at a receiver that is down): on a FIFO
    /// link, no message sent before it may still be on its way, and it arrives within its
    /// link's (or its pin's) delays after its send.
    fn arrived(&mut self, event: &Event, msg_id: u64) -> Result<(), String> {
        let Some(sent) = self.messages.get(&msg_id) else {
            return Ok(());
        };
        let link = (sent.from, sent.to);
        let fifo_link = self
            .simulated
            .as_ref()
            .and_then(|simulated| simulated.fifo_links.get(&link));
        if let Some(&first) = fifo_link.and_then(|fifo| fifo.in_flight.front())
            && first != msg_id
        {
            let earlier = &self.messages[&first];
            return Err(format!(
                "event {} ({}) cannot happen: the header's `network` makes the link from client \
                 {} to client {} FIFO, but m{first}, sent on it before m{msg_id} (at event {}), \
                 has not arrived yet",
                event.seq,
                self.describe(event),
                link.0,
                link.1,
                earlier.seq
            ));
        }
        let held_until = fifo_link.and_then(|fifo| fifo.last_arrival_us);
        if let Some(why) = untimely_words(msg_id, sent, event.t_us, held_until) {
            return Err(format!(
                "event {} ({}) cannot happen: {why}",
                event.seq,
                self.describe(event)
            ));
        }
        if let Some(simulated) = &mut self.simulated
            && let Some(fifo) = simulated.fifo_links.get_mut(&link)
        {
            fifo.last_arrival_us = Some(event.t_us);
        }
        self.use_copy(msg_id);
        Ok(())
    }

    /// One copy of `msg_id` is gone; the last takes it off its link.
    fn use_copy(&mut self, msg_id: u64) {
        let Some(sent) = self.messages.get_mut(&msg_id) else {
            return;
        };
        sent.copies -= 1;
        if sent.copies > 0 {
            return;
        }
        let link = (sent.from, sent.to);
        self.messages.remove(&msg_id);
        if let Some(simulated) = &mut self.simulated
            && let Some(fifo) = simulated.fifo_links.get_mut(&link)
        {
            let queue = &mut fifo.in_flight;
            // An arrival is the first of its link, a loss at the send the last.
            if queue.front() == Some(&msg_id) {
                queue.pop_front();
            } else if queue.back() == Some(&msg_id) {
                queue.pop_back();
            } else if let Some(at) = queue.iter().position(|&id| id == msg_id) {
                queue.remove(at);
            }
            if queue.is_empty() {
                simulated.fifo_links.remove(&link);
            }
        }
    }

    fn set_down(&mut self, event: &Event, down: bool) {
        let Some(slot) = event
            .node
            .and_then(|id| id.checked_index())
            .filter(|&slot| slot < self.down_since.len())
        else {
            return;
        };
        if down {
            self.down_since[slot] = Some(event.seq);
        } else {
            self.down_since[slot] = None;
            self.restarted_at[slot] = Some(event.seq);
        }
    }

    /// Why client `id` is up, or `None` if it is down.
    fn up_words(&self, id: ClientId) -> Option<String> {
        let slot = id
            .checked_index()
            .filter(|&slot| slot < self.down_since.len())?;
        if self.down_since[slot].is_some() {
            return None;
        }
        Some(match self.restarted_at[slot] {
            Some(seq) => format!("its receiver, client {id}, is up (it restarted at event {seq})"),
            None => format!("its receiver, client {id}, is up (it has not crashed)"),
        })
    }

    /// The event, in words.
    fn describe(&self, event: &Event) -> String {
        describe_event(event, &self.messages)
    }
}

impl Simulated {
    /// What decides the fate of a message sent now, as the simulator's network routes it:
    /// the pin counter moves for every message, then a partition wins over everything.
    fn decide(&mut self, msg_id: u64, from: ClientId, to: ClientId) -> Decided {
        let pin = self.next_pin(from, to);
        if let Some(&(cut, since)) = self
            .in_force
            .iter()
            .find(|(cut, _)| self.declared.cuts[*cut].partition.separates(from, to))
        {
            return Decided::Cut(cut, since);
        }
        let Some(links) = &self.declared.links else {
            return match pin {
                Some((nth, pin)) => pinned(nth, &pin),
                None => Decided::OnTrust,
            };
        };
        let link = links.link(from, to);
        if link.fifo {
            self.fifo_links
                .entry((from, to))
                .or_default()
                .in_flight
                .push_back(msg_id);
        }
        match pin {
            Some((nth, pin)) => pinned(nth, &pin),
            None => Decided::Drawn(link),
        }
    }

    /// The pin of the message sent now on `from` -> `to`, with its number on the link.
    fn next_pin(
        &mut self,
        from: ClientId,
        to: ClientId,
    ) -> Option<(u64, crate::scenario::PinnedMessage)> {
        if self.declared.pins.is_empty() {
            return None;
        }
        let sent = self.sent_on_link.entry((from, to)).or_insert(0);
        let nth = *sent;
        *sent += 1;
        self.declared
            .pins
            .get(&(from, to, nth))
            .map(|pin| (nth, *pin))
    }

    fn next_due(&self) -> Option<FaultDue> {
        self.declared.faults_due.get(self.next_fault).copied()
    }

    /// "start the partition {c1} | {c2}" or "heal the partition {c1} | {c2}".
    fn fault_words(&self, due: FaultDue) -> String {
        let cut = self.declared.cuts[due.cut].describe();
        match due.begins {
            true => format!("start {cut}"),
            false => format!("heal {cut}"),
        }
    }

    /// Partitions and heals come as the header schedules them, and none is skipped.
    fn faults_in_order(
        &mut self,
        event: &Event,
        messages: &BTreeMap<u64, Sent>,
    ) -> Result<(), String> {
        let (groups, direction, begins) = match &event.kind {
            EventKind::Partition { groups, direction } => (groups, *direction, true),
            EventKind::Heal { groups, direction } => (groups, *direction, false),
            // The violations a run closes with carry the time of its last event, and a run
            // cut at `limits.max_events` may end before a partition or heal due then.
            EventKind::Violation { .. } => return Ok(()),
            _ => {
                return match self.next_due() {
                    Some(due) if due.at_us <= event.t_us => Err(format!(
                        "event {} ({}, at t={}) comes at or after t={}, when the header's `faults` {}, \
                         but no `{}` event before it shows that",
                        event.seq,
                        describe_event(event, messages),
                        format_time(event.t_us),
                        format_time(due.at_us),
                        self.fault_words(due),
                        if due.begins { "partition" } else { "heal" }
                    )),
                    _ => Ok(()),
                };
            }
        };
        let what = describe_event(event, messages);
        let Some(due) = self.next_due() else {
            return Err(format!(
                "event {} ({what}) cannot happen: the header's `faults` schedule {}",
                event.seq,
                match self.declared.faults_due.is_empty() {
                    true => "no partition",
                    false => "no further partition or heal",
                }
            ));
        };
        let cut = &self.declared.cuts[due.cut];
        let expected = due.begins == begins && cut.groups == *groups && cut.direction == direction;
        if !expected || due.at_us != event.t_us {
            return Err(format!(
                "event {} ({what}) cannot happen: the header's `faults` {} at t={} next",
                event.seq,
                self.fault_words(due),
                format_time(due.at_us)
            ));
        }
        if begins {
            self.in_force.push((due.cut, event.seq));
        } else {
            self.in_force.retain(|&(cut, _)| cut != due.cut);
        }
        self.next_fault += 1;
        Ok(())
    }
}

fn pinned(nth: u64, pin: &crate::scenario::PinnedMessage) -> Decided {
    Decided::Pinned {
        nth,
        lost: pin.delay_us.is_none(),
        duplicated: pin.delay_us.is_some() && pin.duplicate_delay_us.is_some(),
        delay: DelayBounds::pinned(pin),
    }
}
