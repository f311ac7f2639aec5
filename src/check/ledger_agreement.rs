//! `ledger_agreement`: of any two ledgers, one is a prefix of the other; at quiescence all are
//! equal.
//!
//! Pairwise prefixes are equivalent to "every ledger is a prefix of the longest", so the check
//! keeps one canonical chain (the longest seen) and each client's length: O(blocks + N) memory
//! instead of N ledgers.

use super::{Invariant, Violation};
use crate::protocol::ledger::short_hex;
use crate::protocol::{ClientId, Hash};
use crate::trace::{Event, EventKind, Kept};

#[derive(Clone, Debug)]
pub struct LedgerAgreement {
    /// The longest chain seen: block hashes by index, and who first held each block.
    canonical: Vec<(Hash, ClientId)>,
    /// Index `id - 1`: how many blocks that client holds.
    lengths: Vec<u64>,
}

impl LedgerAgreement {
    pub fn new(clients: u32) -> Self {
        LedgerAgreement {
            canonical: Vec::new(),
            lengths: vec![0; clients as usize],
        }
    }

    /// How many blocks each client holds, index `id - 1`.
    pub fn lengths(&self) -> &[u64] {
        &self.lengths
    }

    pub fn observe(&mut self, event: &Event) -> Option<Violation> {
        let node = event.node?;
        let length = self.lengths.get_mut((node as usize).checked_sub(1)?)?;
        let block = match &event.kind {
            EventKind::Commit { block } | EventKind::Apply { block } => block,
            EventKind::Restart {
                kept: Kept::Nothing,
            } => {
                *length = 0;
                return None;
            }
            _ => return None,
        };
        *length = block.index() + 1;
        let index = usize::try_from(block.index()).ok()?;
        match self.canonical.get(index) {
            Some(&(hash, _)) if hash == block.hash_value() => None,
            Some(&(hash, holder)) => Some(
                Violation::new(
                    Invariant::LedgerAgreement,
                    Some(node),
                    format!(
                        "client {node}'s block {index} ({}, {} pays {} to {}) differs from \
                         client {holder}'s block {index} ({}): the two ledgers have forked",
                        short_hex(&block.hash_value()),
                        block.from(),
                        block.amount(),
                        block.to(),
                        short_hex(&hash)
                    ),
                )
                .with_clients(&[node, holder]),
            ),
            // A gap (index past the end) is chain_integrity's to report; extend only in order.
            None if index == self.canonical.len() => {
                self.canonical.push((block.hash_value(), node));
                None
            }
            None => None,
        }
    }

    /// Every client must hold the whole canonical chain once nothing is in flight.
    pub fn at_quiescence(&self) -> Option<Violation> {
        let longest = self.canonical.len() as u64;
        let (slot, &length) = self
            .lengths
            .iter()
            .enumerate()
            .find(|&(_, &length)| length != longest)?;
        let node = slot as ClientId + 1;
        Some(Violation::new(
            Invariant::LedgerAgreement,
            Some(node),
            format!(
                "the run ended with nothing in flight, but client {node} holds {length} blocks \
                 while the longest ledger has {longest}"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::protocol::{Block, GENESIS_PREV};

    fn apply(node: ClientId, block: &Block) -> Event {
        Event {
            seq: 0,
            t_us: 0,
            node: Some(node),
            clock: 1,
            kind: EventKind::Apply {
                block: Arc::new(block.clone()),
            },
        }
    }

    #[test]
    fn prefixes_agree_and_equal_lengths_are_quiescent() {
        let mut check = LedgerAgreement::new(2);
        let first = Block::new(0, GENESIS_PREV, 1, 1, 2, 3);
        assert_eq!(check.observe(&apply(1, &first)), None);
        assert!(check.at_quiescence().is_some());
        assert_eq!(check.observe(&apply(2, &first)), None);
        assert_eq!(check.at_quiescence(), None);
    }

    #[test]
    fn a_fork_is_caught() {
        let mut check = LedgerAgreement::new(2);
        let mine = Block::new(0, GENESIS_PREV, 1, 1, 2, 3);
        let theirs = Block::new(0, GENESIS_PREV, 1, 2, 1, 3);
        assert_eq!(check.observe(&apply(1, &mine)), None);
        let violation = check.observe(&apply(2, &theirs)).unwrap();
        assert!(violation.detail.contains("forked"), "{}", violation.detail);
    }
}
