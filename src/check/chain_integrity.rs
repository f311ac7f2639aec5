//! `chain_integrity`: every block a client commits or appends recomputes its hash (SPEC
//! section 2) and links to that client's previous head.

use std::sync::Arc;

use super::{Invariant, Violation};
use crate::protocol::ledger::short_hex;
use crate::protocol::{Block, GENESIS_PREV, Hash};
use crate::trace::{Event, EventKind, Kept};

/// Each client's ledger length and head hash, replayed from commit and apply events.
#[derive(Clone, Debug)]
pub struct ChainIntegrity {
    /// Index `id - 1`: (blocks so far, head hash).
    heads: Vec<(u64, Hash)>,
    /// The latest blocks whose hash was found to recompute. Inside the simulator every client
    /// applies the very block its committer made (one `Arc`, immutable while shared), so its
    /// hash is recomputed once instead of once per client. A block read from a trace is a new
    /// `Arc` per event and is always recomputed.
    sound: [Option<Arc<Block>>; SOUND_BLOCKS],
    next_sound: usize,
}

/// How many recently verified blocks are remembered: more than the blocks usually in flight.
const SOUND_BLOCKS: usize = 8;

impl ChainIntegrity {
    pub fn new(clients: u32) -> Self {
        ChainIntegrity {
            heads: vec![(0, GENESIS_PREV); clients as usize],
            sound: Default::default(),
            next_sound: 0,
        }
    }

    /// The block's hash recomputes from its fields (remembered for the shared block).
    fn hash_recomputes(&mut self, block: &Arc<Block>) -> Result<(), Hash> {
        let known =
            |sound: &Option<Arc<Block>>| sound.as_ref().is_some_and(|b| Arc::ptr_eq(b, block));
        if self.sound.iter().any(known) {
            return Ok(());
        }
        let recomputed = block.recomputed_hash();
        if block.hash != recomputed {
            return Err(recomputed);
        }
        self.sound[self.next_sound] = Some(Arc::clone(block));
        self.next_sound = (self.next_sound + 1) % SOUND_BLOCKS;
        Ok(())
    }

    /// Each client's (ledger length, head hash), index `id - 1`.
    pub fn heads(&self) -> &[(u64, Hash)] {
        &self.heads
    }

    pub fn observe(&mut self, event: &Event) -> Option<Violation> {
        let node = event.node?;
        let head = self.heads.get_mut((node as usize).checked_sub(1)?)?;
        let block = match &event.kind {
            EventKind::Commit { block } | EventKind::Apply { block } => block,
            EventKind::Restart {
                kept: Kept::Nothing,
            } => {
                *head = (0, GENESIS_PREV);
                return None;
            }
            _ => return None,
        };
        let hash_check = self.hash_recomputes(block);
        let head = &mut self.heads[node as usize - 1];
        let problem = problem_with(block, hash_check, *head);
        // Follow the client's own chain even past a problem, so one bad block is reported once.
        *head = (block.index + 1, block.hash);
        problem.map(|problem| {
            Violation::new(
                Invariant::ChainIntegrity,
                Some(node),
                format!(
                    "client {node} {} block {}: {problem}",
                    verb(&event.kind),
                    block.index
                ),
            )
        })
    }
}

fn verb(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Commit { .. } => "committed",
        _ => "appended",
    }
}

/// What is wrong with `block` as the successor of `(length, head)`, if anything;
/// `hash_check` tells whether its hash recomputes (or what it recomputes to).
fn problem_with(
    block: &Block,
    hash_check: Result<(), Hash>,
    (length, head): (u64, Hash),
) -> Option<String> {
    if let Err(recomputed) = hash_check {
        return Some(format!(
            "its hash {} does not recompute from its fields (SHA-256 gives {})",
            short_hex(&block.hash),
            short_hex(&recomputed)
        ));
    }
    if block.index != length {
        return Some(format!(
            "its index is {} but the ledger had {length} blocks",
            block.index
        ));
    }
    if block.prev != head {
        return Some(format!(
            "its prev {} is not the head {} it should extend",
            short_hex(&block.prev),
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
        let first = Block::new(0, GENESIS_PREV, 1, 1, 2, 3);
        let second = Block::new(1, first.hash, 2, 1, 2, 3);
        assert_eq!(check.observe(&commit(1, first)), None);
        assert_eq!(check.observe(&commit(1, second)), None);
    }

    #[test]
    fn tampered_hash_and_broken_link_are_caught() {
        let mut check = ChainIntegrity::new(2);
        let mut tampered = Block::new(0, GENESIS_PREV, 1, 1, 2, 3);
        tampered.amount = 4;
        let violation = check.observe(&commit(1, tampered)).unwrap();
        assert!(
            violation.detail.contains("does not recompute"),
            "{}",
            violation.detail
        );

        let unlinked = Block::new(0, [9; 32], 1, 1, 2, 3);
        let violation = check.observe(&commit(2, unlinked)).unwrap();
        assert!(
            violation.detail.contains("is not the head"),
            "{}",
            violation.detail
        );
    }
}
