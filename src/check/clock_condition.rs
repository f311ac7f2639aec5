//! `clock_condition`: a message's receive event has a larger clock than its send event, and a
//! client's clock never decreases.

use super::{Invariant, Violation};
use crate::protocol::{ClientId, Message};
use crate::trace::{Event, EventKind};

#[derive(Clone, Debug)]
pub struct ClockCondition {
    /// Index `id - 1`: the clock of that client's last event.
    last_clock: Vec<u64>,
}

impl ClockCondition {
    pub fn new(clients: u32) -> Self {
        ClockCondition {
            last_clock: vec![0; clients as usize],
        }
    }

    /// Runs on every event, so the violations are built out of line.
    #[inline]
    pub fn observe(&mut self, event: &Event) -> Option<Violation> {
        let node = event.node?;
        match &event.kind {
            EventKind::Send { to, msg, msg_id } => {
                self.observe_send(node, event.clock, *to, *msg_id, msg)
            }
            EventKind::Deliver { from, msg, msg_id } => {
                self.observe_deliver(node, event.clock, *from, *msg_id, msg)
            }
            kind => self.observe_step(
                node,
                event.clock,
                kind.name(),
                matches!(kind, EventKind::Restart { .. }),
            ),
        }
    }

    /// A client's own step (an event of kind `kind_name`, not a message's) at clock `clock`:
    /// what [`Self::observe`] checks of it. A restart starts a new incarnation whose clock
    /// may start over.
    #[inline]
    pub fn observe_step(
        &mut self,
        node: ClientId,
        clock: u64,
        kind_name: &'static str,
        restart: bool,
    ) -> Option<Violation> {
        let previous = self.record(node, clock)?;
        (clock < previous && !restart).then(|| went_back(node, previous, clock, kind_name))
    }

    /// The `send` event of message `msg_id` from `node` to `to`, at clock `clock`: what
    /// [`Self::observe`] checks of it, without the event (the simulator reports messages this
    /// way when nothing else needs their events).
    #[inline]
    pub fn observe_send(
        &mut self,
        node: ClientId,
        clock: u64,
        to: ClientId,
        msg_id: u64,
        msg: &Message,
    ) -> Option<Violation> {
        let previous = self.record(node, clock)?;
        if clock < previous {
            return Some(went_back(node, previous, clock, "send"));
        }
        (msg.ts() != clock).then(|| sent_with_another_clock(node, clock, to, msg_id, msg))
    }

    /// The `deliver` event of message `msg_id` from `from` at `node`, at clock `clock` (see
    /// [`Self::observe_send`]).
    #[inline]
    pub fn observe_deliver(
        &mut self,
        node: ClientId,
        clock: u64,
        from: ClientId,
        msg_id: u64,
        msg: &Message,
    ) -> Option<Violation> {
        let previous = self.record(node, clock)?;
        if clock < previous {
            return Some(went_back(node, previous, clock, "deliver"));
        }
        (clock <= msg.ts()).then(|| received_too_early(node, clock, from, msg_id, msg))
    }

    /// Makes `clock` the latest of `node` and returns the one before; `None` for a node
    /// outside the run (nothing is checked then).
    #[inline]
    fn record(&mut self, node: ClientId, clock: u64) -> Option<u64> {
        let last = self.last_clock.get_mut(node.checked_index()?)?;
        Some(std::mem::replace(last, clock))
    }
}

#[cold]
#[inline(never)]
fn went_back(node: ClientId, previous: u64, clock: u64, kind: &str) -> Violation {
    Violation::new(
        Invariant::ClockCondition,
        Some(node),
        format!("client {node}'s clock went back from {previous} to {clock} at its {kind} event"),
    )
}

#[cold]
#[inline(never)]
fn received_too_early(
    node: ClientId,
    clock: u64,
    from: ClientId,
    msg_id: u64,
    msg: &Message,
) -> Violation {
    Violation::new(
        Invariant::ClockCondition,
        Some(node),
        format!(
            "client {node} received message m{msg_id} ({} sent by client {from} at clock {}) \
             with its clock at {}: a receive must be later than its send",
            msg.type_name().to_uppercase(),
            msg.ts(),
            clock
        ),
    )
    .with_clients(&[node, from])
}

#[cold]
#[inline(never)]
fn sent_with_another_clock(
    node: ClientId,
    clock: u64,
    to: ClientId,
    msg_id: u64,
    msg: &Message,
) -> Violation {
    Violation::new(
        Invariant::ClockCondition,
        Some(node),
        format!(
            "client {node} sent message m{msg_id} ({} to client {to}) with ts {} while its \
             clock was {}: a message carries the sender's clock at the send",
            msg.type_name().to_uppercase(),
            msg.ts(),
            clock
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(clock: u64, kind: EventKind) -> Event {
        Event {
            seq: 0,
            t_us: 0,
            node: Some(ClientId::new(1)),
            clock,
            kind,
        }
    }

    #[test]
    fn receive_not_later_than_send_is_caught() {
        let mut check = ClockCondition::new(2);
        let deliver = |clock| {
            event(
                clock,
                EventKind::Deliver {
                    msg_id: 0,
                    from: ClientId::new(2),
                    msg: Message::Request { ts: 5 },
                },
            )
        };
        assert_eq!(check.observe(&deliver(6)), None);
        let mut check = ClockCondition::new(2);
        assert!(check.observe(&deliver(5)).is_some());
    }

    #[test]
    fn a_send_must_carry_the_clock() {
        let mut check = ClockCondition::new(2);
        let send = |ts| EventKind::Send {
            msg_id: 4,
            to: ClientId::new(2),
            msg: Message::Reply { ts },
        };
        assert_eq!(check.observe(&event(3, send(3))), None);
        let violation = check.observe(&event(4, send(3))).unwrap();
        assert!(violation.detail.contains("with ts 3 while its clock was 4"));
    }

    #[test]
    fn a_restart_may_reset_the_clock() {
        let mut check = ClockCondition::new(2);
        assert_eq!(check.observe(&event(7, EventKind::Request { ts: 7 })), None);
        let restart = EventKind::Restart {
            kept: crate::trace::Kept::Ledger,
        };
        assert_eq!(check.observe(&event(0, restart)), None);
        assert_eq!(check.observe(&event(1, EventKind::Request { ts: 1 })), None);
    }

    #[test]
    fn a_clock_that_goes_back_is_caught() {
        let mut check = ClockCondition::new(2);
        assert_eq!(check.observe(&event(3, EventKind::Request { ts: 3 })), None);
        assert!(
            check
                .observe(&event(2, EventKind::Request { ts: 2 }))
                .is_some()
        );
    }
}
