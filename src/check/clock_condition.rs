//! `clock_condition`: a message's receive event has a larger clock than its send event, and a
//! client's clock never decreases.

use super::{Invariant, Violation};
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

    pub fn observe(&mut self, event: &Event) -> Option<Violation> {
        let node = event.node?;
        let last = self.last_clock.get_mut((node as usize).checked_sub(1)?)?;
        let previous = std::mem::replace(last, event.clock);
        if event.clock < previous {
            return Some(Violation::new(
                Invariant::ClockCondition,
                Some(node),
                format!(
                    "client {node}'s clock went back from {previous} to {} at its {} event",
                    event.clock,
                    event.kind.name()
                ),
            ));
        }
        match &event.kind {
            EventKind::Deliver { from, msg, msg_id } if event.clock <= msg.ts() => {
                Some(Violation::new(
                    Invariant::ClockCondition,
                    Some(node),
                    format!(
                        "client {node} received message {msg_id} ({} sent by client {from} at clock {}) \
                     with its clock at {}: a receive must be later than its send",
                        msg.type_name().to_uppercase(),
                        msg.ts(),
                        event.clock
                    ),
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Message;

    fn event(clock: u64, kind: EventKind) -> Event {
        Event {
            seq: 0,
            t_us: 0,
            node: Some(1),
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
                    from: 2,
                    msg: Message::Request { ts: 5 },
                },
            )
        };
        assert_eq!(check.observe(&deliver(6)), None);
        let mut check = ClockCondition::new(2);
        assert!(check.observe(&deliver(5)).is_some());
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
