//! `ledger_agreement`: of any two ledgers, one is a prefix of the other; at quiescence all are
//! equal.
//!
//! Pairwise prefixes are equivalent to "every ledger is a prefix of the longest", so the check
//! keeps one canonical chain (the longest seen) and each client's length: O(blocks + N) memory
//! instead of N ledgers. When no client's ledger can shrink again (no crash that keeps
//! nothing), the blocks every client holds can be compared no more, so they are forgotten and
//! memory stays flat ([`LedgerAgreement::forget_agreed_blocks`]).

use super::{Invariant, Violation};
use crate::protocol::ledger::short_hex;
use crate::protocol::{Block, ClientId, Hash};
use crate::trace::{Event, EventKind, Kept};
use crate::wording::count;

/// With forgetting on, how many canonical blocks accumulate between two looks at which of
/// them every client holds (a look costs O(clients)).
const FORGET_EVERY_BLOCKS: usize = 1024;

#[derive(Clone, Debug)]
pub struct LedgerAgreement {
    /// The longest chain seen from index `first_kept` on: block hashes by index, and who first
    /// held each block.
    canonical: Vec<(Hash, ClientId)>,
    /// The index of `canonical[0]`: the blocks below it are held by every client.
    first_kept: u64,
    /// Index `id - 1`: how many blocks that client holds.
    lengths: Vec<u64>,
    /// Forget the canonical blocks every client holds.
    forget: bool,
    /// The canonical length at which to look next for blocks to forget.
    next_look_len: usize,
}

impl LedgerAgreement {
    pub fn new(clients: u32) -> Self {
        LedgerAgreement {
            canonical: Vec::new(),
            first_kept: 0,
            lengths: vec![0; clients as usize],
            forget: false,
            next_look_len: FORGET_EVERY_BLOCKS,
        }
    }

    /// Forgets the canonical blocks that every client already holds. A client only ever
    /// commits or appends the block at its own length, so no such block is looked at again,
    /// unless a client's ledger shrinks: the caller must know that no client restarts with
    /// nothing (a restart that keeps its ledger is fine).
    pub fn forget_agreed_blocks(&mut self) {
        self.forget = true;
    }

    /// Makes room for `blocks` more canonical blocks at once.
    pub fn reserve(&mut self, blocks: usize) {
        self.canonical.reserve(blocks);
    }

    /// Runs on every commit and apply, so it is inline (a call would weigh as much as a good
    /// part of the check); the violation's sentence is built in a cold branch.
    #[inline]
    pub fn observe(&mut self, event: &Event) -> Option<Violation> {
        let node = event.node?;
        match &event.kind {
            EventKind::Commit { block } | EventKind::Apply { block } => {
                self.observe_block(node, block)
            }
            EventKind::Restart {
                kept: Kept::Nothing,
            } => {
                *self.lengths.get_mut(node.checked_index()?)? = 0;
                None
            }
            _ => None,
        }
    }

    /// A block `node` committed or appended: what [`Self::observe`] checks of a `commit` or
    /// `apply` event.
    #[inline]
    pub fn observe_block(&mut self, node: ClientId, block: &Block) -> Option<Violation> {
        let length = self.lengths.get_mut(node.checked_index()?)?;
        *length = block.index().saturating_add(1);
        // Below `first_kept` only if a ledger shrank despite `forget_agreed_blocks`: the
        // block cannot be compared any more.
        let index = usize::try_from(block.index().checked_sub(self.first_kept)?).ok()?;
        match self.canonical.get(index) {
            Some((hash, _)) if *hash == block.hash_value() => None,
            Some(&(hash, holder)) => Some(forked(node, block, holder, &hash)),
            // A gap (index past the end) is chain_integrity's to report; extend only in order.
            None if index == self.canonical.len() => {
                self.canonical.push((block.hash_value(), node));
                if self.forget && self.canonical.len() >= self.next_look_len {
                    self.forget_held_by_all();
                }
                None
            }
            None => None,
        }
    }

    /// Drops the canonical blocks below the shortest ledger. Called once per batch of new
    /// blocks, so the O(clients) look and the shift are paid once per batch, even while a
    /// client lags behind (crashed, or cut off) and nothing can be dropped.
    fn forget_held_by_all(&mut self) {
        let shortest = self.lengths.iter().copied().min().unwrap_or(0);
        let count = shortest.saturating_sub(self.first_kept);
        let count = usize::try_from(count).map_or(self.canonical.len(), |count| {
            count.min(self.canonical.len())
        });
        self.canonical.drain(..count);
        self.first_kept += count as u64;
        self.next_look_len = self.canonical.len() + FORGET_EVERY_BLOCKS;
    }

    /// Every client must hold the whole canonical chain once nothing is in flight.
    pub fn at_quiescence(&self) -> Option<Violation> {
        let longest = self.first_kept + self.canonical.len() as u64;
        let (slot, &length) = self
            .lengths
            .iter()
            .enumerate()
            .find(|&(_, &length)| length != longest)?;
        let node = ClientId::from_index(slot);
        Some(Violation::new(
            Invariant::LedgerAgreement,
            Some(node),
            format!(
                "the run ended with nothing in flight, but client {node} holds {} while the \
                 longest ledger has {longest}",
                count(length, "block")
            ),
        ))
    }
}

/// The violation for `node`'s `block`, which differs from `holder`'s block with that index
/// (hash `theirs`).
#[cold]
#[inline(never)]
fn forked(node: ClientId, block: &Block, holder: ClientId, theirs: &Hash) -> Violation {
    let index = block.index();
    Violation::new(
        Invariant::LedgerAgreement,
        Some(node),
        format!(
            "client {node}'s block {index} ({}, {} pays {} to {}) differs from client \
             {holder}'s block {index} ({}): the two ledgers have forked",
            short_hex(&block.hash_value()),
            block.from(),
            block.amount(),
            block.to(),
            short_hex(theirs)
        ),
    )
    .with_clients(&[node, holder])
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
        let first = Block::new(0, GENESIS_PREV, 1, ClientId::new(1), ClientId::new(2), 3);
        assert_eq!(check.observe(&apply(ClientId::new(1), &first)), None);
        assert!(check.at_quiescence().is_some());
        assert_eq!(check.observe(&apply(ClientId::new(2), &first)), None);
        assert_eq!(check.at_quiescence(), None);
    }

    /// Blocks 0, 1, … of one chain, client 1 paying client 2 one unit each.
    fn chain(len: u64) -> Vec<Block> {
        let mut prev = GENESIS_PREV;
        (0..len)
            .map(|index| {
                let block = Block::new(
                    index,
                    prev,
                    index + 1,
                    ClientId::new(1),
                    ClientId::new(2),
                    1,
                );
                prev = block.hash_value();
                block
            })
            .collect()
    }

    #[test]
    fn forgetting_drops_only_what_every_client_holds_and_still_catches_a_fork() {
        let blocks = chain(3 * FORGET_EVERY_BLOCKS as u64);
        let mut check = LedgerAgreement::new(2);
        check.forget_agreed_blocks();
        // Client 2 lags 10 blocks behind client 1 the whole time.
        for (index, block) in blocks.iter().enumerate() {
            assert_eq!(check.observe(&apply(ClientId::new(1), block)), None);
            if index >= 10 {
                assert_eq!(
                    check.observe(&apply(ClientId::new(2), &blocks[index - 10])),
                    None
                );
            }
        }
        assert!(check.first_kept > 0, "blocks held by both were forgotten");
        assert!(
            check.first_kept <= check.lengths[1],
            "client 2 still needs the rest"
        );
        assert!(check.canonical.len() <= 2 * FORGET_EVERY_BLOCKS);
        let lagging = blocks.len() - 10;
        let fork = Block::new(
            lagging as u64,
            blocks[lagging - 1].hash_value(),
            7,
            ClientId::new(2),
            ClientId::new(1),
            1,
        );
        let violation = check.observe(&apply(ClientId::new(2), &fork)).unwrap();
        assert!(
            violation.detail.contains(&format!("block {lagging} ")),
            "{}",
            violation.detail
        );
        assert!(check.at_quiescence().is_some(), "client 2 is behind");
        for block in &blocks[lagging + 1..] {
            check.observe(&apply(ClientId::new(2), block));
        }
        assert_eq!(check.at_quiescence(), None);
    }

    #[test]
    fn without_forgetting_the_whole_chain_is_kept() {
        let mut check = LedgerAgreement::new(1);
        for block in &chain(3 * FORGET_EVERY_BLOCKS as u64) {
            check.observe(&apply(ClientId::new(1), block));
        }
        assert_eq!(check.first_kept, 0);
        assert_eq!(check.canonical.len(), 3 * FORGET_EVERY_BLOCKS);
    }

    #[test]
    fn a_fork_is_caught() {
        let mut check = LedgerAgreement::new(2);
        let mine = Block::new(0, GENESIS_PREV, 1, ClientId::new(1), ClientId::new(2), 3);
        let theirs = Block::new(0, GENESIS_PREV, 1, ClientId::new(2), ClientId::new(1), 3);
        assert_eq!(check.observe(&apply(ClientId::new(1), &mine)), None);
        let violation = check.observe(&apply(ClientId::new(2), &theirs)).unwrap();
        assert!(violation.detail.contains("forked"), "{}", violation.detail);
    }
}
