//! The ledger: a hash-chained list of committed transfer blocks and the balance table they
//! produce.

use std::sync::Arc;

pub use super::balance::{BalanceTable, DENSE_TABLE_CLIENTS};
pub use super::block::{
    Block, BlockRejection, GENESIS_PREV, Hash, HashRule, block_hash, block_preimage, from_hex,
    push_hex, short_hex, to_hex, unchained_block_hash,
};
use super::{Amount, ClientId, Timestamp};

/// The hash-chained list of blocks plus the balance table it produces.
///
/// The oldest blocks can be forgotten ([`Self::forget_before`]): the ledger then holds the
/// blocks from [`Self::first_held`] on, while its length, head hash and balance table stay
/// those of the whole chain. A driver that knows no block below some index can reach the
/// client again uses this to keep memory flat over long runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ledger {
    /// The blocks from index `first_held` on.
    blocks: Vec<Arc<Block>>,
    /// How many blocks were forgotten: the index of `blocks[0]`.
    first_held: u64,
    /// The hash of the last forgotten block ([`GENESIS_PREV`] if none): the head hash while
    /// `blocks` is empty.
    forgotten_head: Hash,
    table: BalanceTable,
    rule: HashRule,
}

impl Ledger {
    pub fn new(initial_balances: impl Into<Arc<[Amount]>>) -> Self {
        Self::with_rule(initial_balances, HashRule::Chained)
    }

    /// A ledger that hashes (and verifies) blocks by `rule`.
    pub fn with_rule(initial_balances: impl Into<Arc<[Amount]>>, rule: HashRule) -> Self {
        Ledger {
            blocks: Vec::new(),
            first_held: 0,
            forgotten_head: GENESIS_PREV,
            table: BalanceTable::new(initial_balances),
            rule,
        }
    }

    /// The blocks held, oldest first: the whole chain unless some were forgotten, in which
    /// case the first has index [`Self::first_held`].
    pub fn blocks(&self) -> &[Arc<Block>] {
        &self.blocks
    }

    /// The index of the first block held (0 unless blocks were forgotten).
    pub fn first_held(&self) -> u64 {
        self.first_held
    }

    /// The block at `index`, if it is held.
    pub fn block(&self, index: u64) -> Option<&Arc<Block>> {
        let offset = usize::try_from(index.checked_sub(self.first_held)?).ok()?;
        self.blocks.get(offset)
    }

    /// The blocks held from `index` on (from [`Self::first_held`] if `index` is below it).
    pub fn blocks_from(&self, index: u64) -> &[Arc<Block>] {
        let offset = index.saturating_sub(self.first_held);
        let offset = usize::try_from(offset)
            .map_or(self.blocks.len(), |offset| offset.min(self.blocks.len()));
        &self.blocks[offset..]
    }

    /// The length of the whole chain, forgotten blocks included.
    pub fn len(&self) -> u64 {
        self.first_held + self.blocks.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The hash of the last block, or [`GENESIS_PREV`] for an empty ledger.
    pub fn head_hash(&self) -> Hash {
        self.blocks
            .last()
            .map_or(self.forgotten_head, |block| block.hash_value())
    }

    /// Makes room for `additional` more blocks at once, rather than growing step by step.
    pub fn reserve(&mut self, additional: usize) {
        self.blocks.reserve(additional);
    }

    /// Forgets the blocks below `index` (all of them if `index` is past the head). The length,
    /// the head hash and the balance table do not change; [`Self::block`] no longer finds the
    /// forgotten blocks.
    pub fn forget_before(&mut self, index: u64) {
        let count = index.min(self.len()).saturating_sub(self.first_held);
        let Ok(count) = usize::try_from(count) else {
            return;
        };
        if count == 0 {
            return;
        }
        self.forgotten_head = self.blocks[count - 1].hash_value();
        self.blocks.drain(..count);
        self.first_held += count as u64;
    }

    pub fn table(&self) -> &BalanceTable {
        &self.table
    }

    pub fn balance(&self, id: ClientId) -> Amount {
        self.table.get(id)
    }

    /// Creates the next block for a transfer and applies it, if the payer can afford it.
    pub fn commit(
        &mut self,
        ts: Timestamp,
        from: ClientId,
        to: ClientId,
        amount: Amount,
    ) -> Result<Arc<Block>, BlockRejection> {
        let (index, prev) = (self.len(), self.head_hash());
        let block = match self.rule {
            HashRule::Chained => Block::new(index, prev, ts, from, to, amount),
            HashRule::Unchained => {
                let hash = unchained_block_hash(index, ts, from, to, amount);
                Block::with_hash(index, prev, ts, from, to, amount, hash)
            }
        };
        self.table.apply(&block)?;
        let block = Arc::new(block);
        self.blocks.push(Arc::clone(&block));
        Ok(block)
    }

    /// Checks that `block` extends this ledger: its index is the ledger length, its `prev` is
    /// the head hash and its hash recomputes (by this ledger's hash rule).
    pub fn verify(&self, block: &Block) -> Result<(), BlockRejection> {
        if block.index() != self.len() {
            return Err(BlockRejection::WrongIndex {
                expected: self.len(),
                got: block.index(),
            });
        }
        if block.prev() != self.head_hash() {
            return Err(BlockRejection::WrongPrev {
                expected: self.head_hash(),
                got: block.prev(),
            });
        }
        let recomputes = match self.rule {
            HashRule::Chained => block.spec_hash_ok(),
            HashRule::Unchained => block.hash_value() == self.rule_hash(block),
        };
        if !recomputes {
            return Err(BlockRejection::BadHash {
                expected: self.rule_hash(block),
                got: block.hash_value(),
            });
        }
        Ok(())
    }

    /// The hash this ledger's rule gives for the block's fields.
    fn rule_hash(&self, block: &Block) -> Hash {
        self.rule.hash(
            block.index(),
            &block.prev(),
            block.ts(),
            block.from(),
            block.to(),
            block.amount(),
        )
    }

    /// Verifies an incoming block, then appends and applies it; on any failure nothing changes.
    pub fn append(&mut self, block: Arc<Block>) -> Result<(), BlockRejection> {
        self.try_append(block).map_err(|(reason, _)| reason)
    }

    /// [`Self::append`] that gives the block back with the reason when it is refused, so
    /// that a caller handing it over need not keep a copy.
    pub fn try_append(&mut self, block: Arc<Block>) -> Result<(), (BlockRejection, Arc<Block>)> {
        if let Err(reason) = self.verify(&block).and_then(|()| self.table.apply(&block)) {
            return Err((reason, block));
        }
        self.blocks.push(block);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    fn sha256_hex(text: &str) -> String {
        to_hex(&Sha256::digest(text.as_bytes()).into())
    }

    #[test]
    fn second_block_hash_chains_the_first() {
        let mut ledger = Ledger::new([10, 10]);
        let first = ledger
            .commit(1, ClientId::new(1), ClientId::new(2), 3)
            .unwrap();
        let second = ledger
            .commit(4, ClientId::new(2), ClientId::new(1), 5)
            .unwrap();
        let literal = format!("1|{}|4|2|1|5", to_hex(&first.hash_value()));
        assert_eq!(to_hex(&second.hash_value()), sha256_hex(&literal));
        assert_eq!(second.prev(), first.hash_value());
        assert_eq!(ledger.table().to_vec(), [12, 8]);
    }

    #[test]
    fn commit_beyond_the_balance_is_refused_and_changes_nothing() {
        let mut ledger = Ledger::new([10, 10]);
        assert_eq!(
            ledger.commit(1, ClientId::new(1), ClientId::new(2), 11),
            Err(BlockRejection::Overdraft {
                from: ClientId::new(1),
                balance: 10,
                amount: 11
            })
        );
        assert!(ledger.is_empty());
        assert_eq!(ledger.table().to_vec(), [10, 10]);
    }

    #[test]
    fn append_accepts_a_block_that_extends_the_chain() {
        let mut sender = Ledger::new([10, 10, 10]);
        let mut receiver = Ledger::new([10, 10, 10]);
        let block = sender
            .commit(1, ClientId::new(1), ClientId::new(3), 4)
            .unwrap();
        receiver.append(block).unwrap();
        assert_eq!(receiver, sender);
        assert_eq!(receiver.table().total(), 30);
    }

    #[test]
    fn append_rejects_wrong_index_prev_and_hash_without_changing_anything() {
        let mut receiver = Ledger::new([10, 10]);
        let good = Block::new(0, GENESIS_PREV, 1, ClientId::new(1), ClientId::new(2), 3);

        let (prev, ts, hash) = (good.prev(), good.ts(), good.hash_value());
        let skipped = Block::with_hash(1, prev, ts, good.from(), good.to(), good.amount(), hash);
        assert!(matches!(
            receiver.append(Arc::new(skipped)),
            Err(BlockRejection::WrongIndex {
                expected: 0,
                got: 1
            })
        ));

        let unlinked = Block::new(0, [7; 32], 1, ClientId::new(1), ClientId::new(2), 3);
        assert!(matches!(
            receiver.append(Arc::new(unlinked)),
            Err(BlockRejection::WrongPrev { .. })
        ));

        let tampered = Block::with_hash(0, prev, ts, good.from(), good.to(), 9, hash);
        assert!(matches!(
            receiver.append(Arc::new(tampered)),
            Err(BlockRejection::BadHash { .. })
        ));

        assert!(receiver.is_empty());
        assert_eq!(receiver.table().to_vec(), [10, 10]);
        receiver.append(Arc::new(good)).unwrap();
        assert_eq!(receiver.len(), 1);
    }

    #[test]
    fn append_rejects_an_overdraft_in_the_own_table() {
        let mut receiver = Ledger::new([2, 10]);
        let block = Block::new(0, GENESIS_PREV, 1, ClientId::new(1), ClientId::new(2), 3);
        assert_eq!(
            receiver.append(Arc::new(block)),
            Err(BlockRejection::Overdraft {
                from: ClientId::new(1),
                balance: 2,
                amount: 3
            })
        );
        assert!(receiver.is_empty());
    }

    #[test]
    fn the_unchained_rule_leaves_prev_out_of_the_hash() {
        let mut buggy = Ledger::with_rule([10, 10], HashRule::Unchained);
        let first = buggy
            .commit(1, ClientId::new(1), ClientId::new(2), 3)
            .unwrap();
        assert_eq!(to_hex(&first.hash_value()), sha256_hex("0|1|1|2|3"));
        assert_ne!(
            first.hash_value(),
            first.recomputed_hash(),
            "the hash of docs/spec.md section 2 differs"
        );
        // A buggy receiver accepts what a buggy sender made.
        let mut receiver = Ledger::with_rule([10, 10], HashRule::Unchained);
        receiver.append(first).unwrap();
    }

    #[test]
    fn a_ledger_that_forgot_old_blocks_keeps_its_length_head_and_balances() {
        let mut ledger = Ledger::new([10, 10]);
        for ts in 1..=4 {
            ledger
                .commit(ts, ClientId::new(1), ClientId::new(2), 1)
                .unwrap();
        }
        let (head, table) = (ledger.head_hash(), ledger.table().to_vec());
        let third = Arc::clone(ledger.block(2).unwrap());
        ledger.forget_before(2);
        assert_eq!(ledger.len(), 4);
        assert_eq!(ledger.first_held(), 2);
        assert_eq!(ledger.head_hash(), head);
        assert_eq!(ledger.table().to_vec(), table);
        assert!(ledger.block(1).is_none(), "forgotten");
        assert_eq!(ledger.block(2), Some(&third));
        assert_eq!(ledger.blocks_from(0).len(), 2);
        assert_eq!(ledger.blocks_from(3).len(), 1);
        // Forgetting never goes backwards, and past the head it forgets everything held.
        ledger.forget_before(1);
        assert_eq!(ledger.first_held(), 2);
        ledger.forget_before(9);
        assert!(ledger.blocks().is_empty());
        assert_eq!((ledger.len(), ledger.head_hash()), (4, head));
        // The chain goes on from the remembered head.
        let next = ledger
            .commit(5, ClientId::new(2), ClientId::new(1), 1)
            .unwrap();
        assert_eq!((next.index(), next.prev()), (4, head));
        let mut receiver = Ledger::new([10, 10]);
        receiver.forget_before(0);
        assert!(receiver.is_empty());
    }

    #[test]
    fn a_block_that_extends_a_ledger_with_forgotten_blocks_verifies() {
        let mut sender = Ledger::new([10, 10]);
        let mut receiver = Ledger::new([10, 10]);
        for ts in 1..=3 {
            receiver
                .append(
                    sender
                        .commit(ts, ClientId::new(1), ClientId::new(2), 2)
                        .unwrap(),
                )
                .unwrap();
        }
        receiver.forget_before(3);
        let next = sender
            .commit(4, ClientId::new(2), ClientId::new(1), 5)
            .unwrap();
        receiver.append(next).unwrap();
        assert_eq!(receiver.head_hash(), sender.head_hash());
        assert_eq!(receiver.table().to_vec(), sender.table().to_vec());
        assert!(matches!(
            receiver.append(Arc::clone(sender.block(1).unwrap())),
            Err(BlockRejection::WrongIndex {
                expected: 4,
                got: 1
            })
        ));
    }
}
