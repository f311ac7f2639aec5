//! `mutual_exclusion`: never two clients inside the critical section at the same time.

use super::{Invariant, Violation};
use crate::protocol::{ClientId, Timestamp};
use crate::trace::{Event, EventKind};

/// Tracks who is inside, since when, with which request.
#[derive(Clone, Debug)]
pub struct MutualExclusion {
    /// Index `id - 1`: `Some((request ts, entered at µs, seq of the enter event))` while inside.
    inside: Vec<Option<(Timestamp, u64, u64)>>,
    inside_count: usize,
}

impl MutualExclusion {
    pub fn new(clients: u32) -> Self {
        MutualExclusion {
            inside: vec![None; clients as usize],
            inside_count: 0,
        }
    }

    pub fn observe(&mut self, event: &Event) -> Option<Violation> {
        let node = event.node?;
        let slot = (node as usize)
            .checked_sub(1)
            .filter(|&slot| slot < self.inside.len())?;
        match event.kind {
            EventKind::Enter { ts } => {
                let found = self.report_others(node, ts, event);
                if self.inside[slot]
                    .replace((ts, event.t_us, event.seq))
                    .is_none()
                {
                    self.inside_count += 1;
                }
                found
            }
            EventKind::Exit { .. } => {
                if self.inside[slot].take().is_some() {
                    self.inside_count -= 1;
                }
                None
            }
            _ => None,
        }
    }

    fn report_others(&self, node: ClientId, ts: Timestamp, event: &Event) -> Option<Violation> {
        if self.inside_count == 0 {
            return None;
        }
        let (other, (other_ts, since_us, since_seq)) = self
            .inside
            .iter()
            .enumerate()
            .map(|(slot, state)| (slot as ClientId + 1, state))
            .find_map(|(other, state)| {
                state.filter(|_| other != node).map(|state| (other, state))
            })?;
        Some(Violation::new(
            Invariant::MutualExclusion,
            Some(node),
            format!(
                "client {node} entered the critical section with request ({ts},{node}) at t={}us \
                 while client {other} was still inside with request ({other_ts},{other}) since \
                 t={since_us}us (event {since_seq})",
                event.t_us
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, node: ClientId, kind: EventKind) -> Event {
        Event {
            seq,
            t_us: seq * 10,
            node: Some(node),
            clock: seq,
            kind,
        }
    }

    #[test]
    fn overlapping_intervals_are_a_violation() {
        let mut check = MutualExclusion::new(3);
        assert_eq!(
            check.observe(&event(0, 1, EventKind::Enter { ts: 1 })),
            None
        );
        let violation = check
            .observe(&event(1, 2, EventKind::Enter { ts: 1 }))
            .unwrap();
        assert_eq!(violation.invariant, Invariant::MutualExclusion);
        assert!(
            violation.detail.contains("client 1 was still inside"),
            "{}",
            violation.detail
        );
    }

    #[test]
    fn back_to_back_intervals_are_fine() {
        let mut check = MutualExclusion::new(2);
        assert_eq!(
            check.observe(&event(0, 1, EventKind::Enter { ts: 1 })),
            None
        );
        assert_eq!(check.observe(&event(1, 1, EventKind::Exit { ts: 1 })), None);
        assert_eq!(
            check.observe(&event(2, 2, EventKind::Enter { ts: 1 })),
            None
        );
    }
}
