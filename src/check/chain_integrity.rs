//! `chain_integrity`: every block a client commits or appends recomputes its hash (docs/spec.md
//! section 2) and links to that client's previous head.

use super::{Invariant, Violation};
use crate::protocol::ledger::short_hex;
use crate::protocol::{Block, ClientId, GENESIS_PREV, Hash};
use crate::trace::{Event, EventKind, Kept};

/// Each client's ledger length and head hash, replayed from commit and apply events.
#[derive(Clone, Debug)]
pub struct ChainIntegrity {
    /// Index `id - 1`: (blocks so far, head hash).
    heads: Vec<(u64, Hash)>,
}

impl ChainIntegrity {
    pub fn new(clients: u32) -> Self {
        ChainIntegrity {
            heads: vec![(0, GENESIS_PREV); clients as usize],
        }
    }

    /// Each client's (ledger length, head hash), index `id - 1`.
    pub fn heads(&self) -> &[(u64, Hash)] {
        &self.heads
    }

    /// Runs on every client step (inline); the violation is built out of line.
    #[inline]
    pub fn observe(&mut self, event: &Event) -> Option<Violation> {
        let node = event.node?;
        match &event.kind {
            EventKind::Commit { block } => self.observe_block(node, block, true),
            EventKind::Apply { block } => self.observe_block(node, block, false),
            EventKind::Restart {
                kept: Kept::Nothing,
            } => {
                *self.heads.get_mut(node.checked_index()?)? = (0, GENESIS_PREV);
                None
            }
            _ => None,
        }
    }

    /// A block `node` committed (`committed`) or appended: what [`Self::observe`] checks of
    /// a `commit` or `apply` event.
    #[inline]
    pub fn observe_block(
        &mut self,
        node: ClientId,
        block: &Block,
        committed: bool,
    ) -> Option<Violation> {
        let head = self.heads.get_mut(node.checked_index()?)?;
        // Follow the client's own chain even past a problem, so one bad block is reported once.
        // The trace reader bounds indexes to 2^63-1; saturating keeps the check safe without it.
        let length = block.index().saturating_add(1);
        // Compared in place: a copy of the head (a length and a hash) would go through the
        // stack, and reading it back stalls on its narrower stores.
        if extends(block, head) {
            *head = (length, block.hash_value());
            return None;
        }
        let before = std::mem::replace(head, (length, block.hash_value()));
        broken_link(node, committed, block, before)
    }
}

/// Whether `block` is the right successor of `(length, head)`: [`problem_with`] finds a
/// problem exactly when it is not. The quick test runs on every commit and apply.
#[inline]
fn extends(block: &Block, (length, head): &(u64, Hash)) -> bool {
    block.spec_hash_ok() && block.index() == *length && block.prev_hash() == head
}

/// The violation for a block that does not extend `head` (see [`problem_with`]).
#[cold]
#[inline(never)]
fn broken_link(
    node: ClientId,
    committed: bool,
    block: &Block,
    head: (u64, Hash),
) -> Option<Violation> {
    problem_with(block, head).map(|problem| {
        Violation::new(
            Invariant::ChainIntegrity,
            Some(node),
            format!(
                "client {node} {} block {}: {problem}",
                if committed { "committed" } else { "appended" },
                block.index()
            ),
        )
    })
}

/// What is wrong with `block` as the successor of `(length, head)`, if anything. Whether the
/// hash recomputes is remembered by the block: inside the simulator every client applies the
/// block its committer made, so the SHA-256 runs once per block, not once per client.
fn problem_with(block: &Block, (length, head): (u64, Hash)) -> Option<String> {
    if !block.spec_hash_ok() {
        let recomputed = block.recomputed_hash();
        return Some(format!(
            "its hash {} does not recompute from its fields (SHA-256 gives {})",
            short_hex(&block.hash_value()),
            short_hex(&recomputed)
        ));
    }
    if block.index() != length {
        return Some(format!(
            "its index is {} but the ledger had {length} blocks",
            block.index()
        ));
    }
    if block.prev() != head {
        return Some(format!(
            "its prev {} is not the head {} it should extend",
            short_hex(&block.prev()),
            short_hex(&head)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::protocol::ClientId;

    fn commit(node: ClientId, block: Block) -> Event {
        Event {
            seq: 0,
            t_us: 0,
            node: Some(node),
            clock: 1,
            kind: EventKind::Commit {
                block: Arc::new(block),
            },
        }
    }

    #[test]
    fn a_linked_chain_passes() {
        let mut check = ChainIntegrity::new(2);
        let first = Block::new(0, GENESIS_PREV, 1, ClientId::new(1), ClientId::new(2), 3);
        let second = Block::new(
            1,
            first.hash_value(),
            2,
            ClientId::new(1),
            ClientId::new(2),
            3,
        );
        assert_eq!(check.observe(&commit(ClientId::new(1), first)), None);
        assert_eq!(check.observe(&commit(ClientId::new(1), second)), None);
    }

    #[test]
    fn tampered_hash_and_broken_link_are_caught() {
        let mut check = ChainIntegrity::new(2);
        // Block 0 paying 4 with the hash of the same block paying 3.
        let honest = Block::new(0, GENESIS_PREV, 1, ClientId::new(1), ClientId::new(2), 3);
        let tampered = Block::with_hash(
            0,
            GENESIS_PREV,
            1,
            ClientId::new(1),
            ClientId::new(2),
            4,
            honest.hash_value(),
        );
        let violation = check.observe(&commit(ClientId::new(1), tampered)).unwrap();
        assert!(
            violation.detail.contains("does not recompute"),
            "{}",
            violation.detail
        );

        let unlinked = Block::new(0, [9; 32], 1, ClientId::new(1), ClientId::new(2), 3);
        let violation = check.observe(&commit(ClientId::new(2), unlinked)).unwrap();
        assert!(
            violation.detail.contains("is not the head"),
            "{}",
            violation.detail
        );
    }

    #[test]
    fn the_largest_index_is_reported_not_overflowed() {
        let mut check = ChainIntegrity::new(1);
        let last = Block::new(
            u64::MAX,
            GENESIS_PREV,
            1,
            ClientId::new(1),
            ClientId::new(1),
            1,
        );
        let violation = check.observe(&commit(ClientId::new(1), last)).unwrap();
        assert_eq!(violation.invariant, Invariant::ChainIntegrity);
    }
}
