//! The ledger: a balance table and a hash-chained list of committed transfer blocks.
//!
//! The block hash is fixed by SPEC section 2: lowercase hex SHA-256 of
//! `{index}|{prev}|{ts}|{from}|{to}|{amount}`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use sha2::{Digest, Sha256};

use super::{Amount, ClientId, Timestamp};

/// A SHA-256 hash, kept as bytes; shown as 64 lowercase hex digits.
pub type Hash = [u8; 32];

/// The `prev` of block 0: 64 zeros in hex.
pub const GENESIS_PREV: Hash = [0; 32];

/// One committed transfer.
///
/// A block never changes once made (its fields are read through methods), so whether its
/// hash recomputes from its fields is a fixed fact about it, found out once and remembered:
/// every client that receives the one shared block (and the checker) would otherwise run
/// the same SHA-256 again.
#[derive(Clone, Debug)]
pub struct Block {
    index: u64,
    prev: Hash,
    /// The timestamp of the mutex request that committed this block.
    ts: Timestamp,
    from: ClientId,
    to: ClientId,
    amount: Amount,
    hash: Hash,
    /// Whether `hash` is the SPEC hash of the other fields; unknown until first asked.
    spec_hash_ok: HashCheck,
}

/// Whether a block's hash recomputes: unknown, yes or no. Not a `OnceLock<bool>`: a block made
/// by [`Block::new`] starts out known, and setting a `OnceLock` goes through `Once::call`, out
/// of line, for every commit. Two threads that ask at once both compute the same answer.
struct HashCheck(AtomicU8);

const HASH_UNKNOWN: u8 = 0;
const HASH_OK: u8 = 1;
const HASH_BAD: u8 = 2;

impl HashCheck {
    #[inline]
    fn get_or_init(&self, check: impl FnOnce() -> bool) -> bool {
        match self.0.load(Ordering::Relaxed) {
            HASH_OK => true,
            HASH_BAD => false,
            _ => self.init(check),
        }
    }

    #[cold]
    #[inline(never)]
    fn init(&self, check: impl FnOnce() -> bool) -> bool {
        let ok = check();
        self.0
            .store(if ok { HASH_OK } else { HASH_BAD }, Ordering::Relaxed);
        ok
    }
}

impl Clone for HashCheck {
    fn clone(&self) -> Self {
        HashCheck(AtomicU8::new(self.0.load(Ordering::Relaxed)))
    }
}

impl std::fmt::Debug for HashCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let known = match self.0.load(Ordering::Relaxed) {
            HASH_OK => Some(true),
            HASH_BAD => Some(false),
            _ => None,
        };
        known.fmt(f)
    }
}

impl Block {
    /// A block whose hash is computed from its fields by the SPEC rule.
    pub fn new(
        index: u64,
        prev: Hash,
        ts: Timestamp,
        from: ClientId,
        to: ClientId,
        amount: Amount,
    ) -> Self {
        let hash = block_hash(index, &prev, ts, from, to, amount);
        Block {
            spec_hash_ok: HashCheck(AtomicU8::new(HASH_OK)),
            ..Block::with_hash(index, prev, ts, from, to, amount, hash)
        }
    }

    /// A block with the hash it claims (read from a trace or the wire, or made by a mutated
    /// rule), which may or may not recompute.
    pub fn with_hash(
        index: u64,
        prev: Hash,
        ts: Timestamp,
        from: ClientId,
        to: ClientId,
        amount: Amount,
        hash: Hash,
    ) -> Self {
        Block {
            index,
            prev,
            ts,
            from,
            to,
            amount,
            hash,
            spec_hash_ok: HashCheck(AtomicU8::new(HASH_UNKNOWN)),
        }
    }

    /// Its position in the chain, from 0.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The hash of the block before it ([`GENESIS_PREV`] for block 0).
    pub fn prev(&self) -> Hash {
        self.prev
    }

    /// [`Self::prev`] by reference, to compare in place.
    pub fn prev_hash(&self) -> &Hash {
        &self.prev
    }

    /// The timestamp of the mutex request that committed it.
    pub fn ts(&self) -> Timestamp {
        self.ts
    }

    /// The payer.
    pub fn from(&self) -> ClientId {
        self.from
    }

    /// The payee.
    pub fn to(&self) -> ClientId {
        self.to
    }

    pub fn amount(&self) -> Amount {
        self.amount
    }

    /// The hash it carries (see [`Self::spec_hash_ok`] for whether it is right). Not named
    /// `hash`: on an `Arc<Block>` that name would find `std::hash::Hash::hash` first.
    pub fn hash_value(&self) -> Hash {
        self.hash
    }

    /// The hash that the SPEC rule gives for this block's fields.
    pub fn recomputed_hash(&self) -> Hash {
        block_hash(
            self.index,
            &self.prev,
            self.ts,
            self.from,
            self.to,
            self.amount,
        )
    }

    /// Its hash is the SPEC hash of its fields (computed on the first call only).
    #[inline]
    pub fn spec_hash_ok(&self) -> bool {
        self.spec_hash_ok
            .get_or_init(|| self.hash == self.recomputed_hash())
    }

    /// The fields that make the block what it is (not the remembered check).
    fn identity(&self) -> (u64, &Hash, Timestamp, ClientId, ClientId, Amount, &Hash) {
        (
            self.index,
            &self.prev,
            self.ts,
            self.from,
            self.to,
            self.amount,
            &self.hash,
        )
    }
}

impl PartialEq for Block {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}

impl Eq for Block {}

impl std::hash::Hash for Block {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

/// The string that is hashed: `{index}|{prev}|{ts}|{from}|{to}|{amount}`.
pub fn block_preimage(
    index: u64,
    prev: &Hash,
    ts: Timestamp,
    from: ClientId,
    to: ClientId,
    amount: Amount,
) -> String {
    let preimage = Preimage::new(index, Some(prev), ts, from, to, amount);
    // Digits, hex and '|' only.
    String::from_utf8(preimage.as_bytes().to_vec()).expect("the preimage is ASCII")
}

/// A preimage on the stack. By hand rather than through `core::fmt` or a `Vec`: every commit
/// hashes one, and so does the first check of every block read from a trace or the wire.
struct Preimage {
    /// At most 3 x 20 digits + 2 x 10 digits + 64 hex digits + 5 separators = 149 bytes,
    /// and room to spare for [`Self::push_decimal`]'s fixed-size stores.
    bytes: [u8; 176],
    len: usize,
}

impl Preimage {
    /// Without `prev` it is the `unchained-hash` mutation's preimage.
    fn new(
        index: u64,
        prev: Option<&Hash>,
        ts: Timestamp,
        from: ClientId,
        to: ClientId,
        amount: Amount,
    ) -> Self {
        let mut preimage = Preimage {
            bytes: [0; 176],
            len: 0,
        };
        preimage.push_decimal(index);
        if let Some(prev) = prev {
            preimage.push(b"|");
            preimage.push(&hex_digits(prev));
        }
        for number in [ts, u64::from(from), u64::from(to), amount] {
            preimage.push(b"|");
            preimage.push_decimal(number);
        }
        preimage
    }

    /// The decimal digits of `value`. Up to 16 digits they are gathered in a register, most
    /// significant in the lowest byte, and stored as one 16-byte value (the bytes past the
    /// digits are overwritten by what follows, or lie past the end). `itoa` and a copy of the
    /// digits alone was a call to the C library's `memcpy` for every number, five per block;
    /// digits stored one by one and read back as a wide copy stalled the CPU.
    #[inline]
    fn push_decimal(&mut self, value: u64) {
        if value >= 10_000_000_000_000_000 {
            self.push(itoa::Buffer::new().format(value).as_bytes());
            return;
        }
        let mut digits: u128 = 0;
        let mut count = 0;
        let mut rest = value;
        loop {
            digits = (digits << 8) | u128::from(b'0' + (rest % 10) as u8);
            count += 1;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.bytes[self.len..self.len + 16].copy_from_slice(&digits.to_le_bytes());
        self.len += count;
    }

    fn push(&mut self, part: &[u8]) {
        self.bytes[self.len..self.len + part.len()].copy_from_slice(part);
        self.len += part.len();
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// The 64 lowercase hex digits of a hash. `const_hex` encodes with SIMD where the CPU has
/// it: a nibble-by-nibble loop was 7% of a run that writes its trace (two hashes per block,
/// and a block in every release sent and delivered) and 3% of a sweep's (the preimages).
fn hex_digits(hash: &Hash) -> [u8; 64] {
    let mut text = [0u8; 64];
    const_hex::encode_to_slice(hash, &mut text).expect("64 digits for 32 bytes");
    text
}

/// Appends 64 lowercase hex digits.
pub fn push_hex(out: &mut Vec<u8>, hash: &Hash) {
    out.extend_from_slice(&hex_digits(hash));
}

fn hash_preimage(
    prev: Option<&Hash>,
    index: u64,
    ts: Timestamp,
    from: ClientId,
    to: ClientId,
    amount: Amount,
) -> Hash {
    let preimage = Preimage::new(index, prev, ts, from, to, amount);
    Sha256::digest(preimage.as_bytes()).into()
}

/// The hash of the `unchained-hash` mutation: the preimage leaves out `prev`, as the original
/// program did, so a block's hash does not depend on the chain before it.
pub fn unchained_block_hash(
    index: u64,
    ts: Timestamp,
    from: ClientId,
    to: ClientId,
    amount: Amount,
) -> Hash {
    hash_preimage(None, index, ts, from, to, amount)
}

/// How a ledger computes and verifies block hashes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HashRule {
    /// SPEC section 2.
    #[default]
    Chained,
    /// The `unchained-hash` mutation.
    Unchained,
}

impl HashRule {
    pub fn hash(
        self,
        index: u64,
        prev: &Hash,
        ts: Timestamp,
        from: ClientId,
        to: ClientId,
        amount: Amount,
    ) -> Hash {
        match self {
            HashRule::Chained => block_hash(index, prev, ts, from, to, amount),
            HashRule::Unchained => unchained_block_hash(index, ts, from, to, amount),
        }
    }
}

/// SHA-256 of the block preimage.
pub fn block_hash(
    index: u64,
    prev: &Hash,
    ts: Timestamp,
    from: ClientId,
    to: ClientId,
    amount: Amount,
) -> Hash {
    hash_preimage(Some(prev), index, ts, from, to, amount)
}

/// 64 lowercase hex digits.
pub fn to_hex(hash: &Hash) -> String {
    let mut text = Vec::with_capacity(64);
    push_hex(&mut text, hash);
    String::from_utf8(text).expect("hex digits are ASCII")
}

/// Parses 64 hex digits (either case); `None` for anything else.
pub fn from_hex(text: &str) -> Option<Hash> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut hash = [0u8; 32];
    for (byte, pair) in hash.iter_mut().zip(digits.chunks_exact(2)) {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        *byte = (high * 16 + low) as u8;
    }
    Some(hash)
}

/// Why a block that arrived with a RELEASE was not appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockRejection {
    /// The block's index is not the own ledger length.
    WrongIndex { expected: u64, got: u64 },
    /// The block's `prev` is not the own head hash.
    WrongPrev { expected: Hash, got: Hash },
    /// The block's hash does not recompute from its fields.
    BadHash { expected: Hash, got: Hash },
    /// Applying it would take the payer's balance below zero in the own table.
    Overdraft {
        from: ClientId,
        balance: Amount,
        amount: Amount,
    },
    /// It names a client outside `1..=N`.
    UnknownClient { id: ClientId },
}

impl std::fmt::Display for BlockRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BlockRejection::WrongIndex { expected, got } => {
                write!(
                    f,
                    "block index {got} but the own ledger has {expected} blocks"
                )
            }
            BlockRejection::WrongPrev { expected, got } => write!(
                f,
                "block prev {} does not match the own head {}",
                short_hex(got),
                short_hex(expected)
            ),
            BlockRejection::BadHash { expected, got } => write!(
                f,
                "block hash {} does not recompute (expected {})",
                short_hex(got),
                short_hex(expected)
            ),
            BlockRejection::Overdraft {
                from,
                balance,
                amount,
            } => write!(
                f,
                "client {from} would pay {amount} with a balance of {balance}"
            ),
            BlockRejection::UnknownClient { id } => write!(f, "block names unknown client {id}"),
        }
    }
}

/// The first 8 hex digits, for sentences.
pub fn short_hex(hash: &Hash) -> String {
    to_hex(hash)[..8].to_string()
}

/// A client's balance table: client id -> balance.
///
/// Up to [`DENSE_TABLE_CLIENTS`] clients it is a plain array. Beyond, it is stored as the
/// initial balances, shared by every client of a run, plus the entries that differ from them:
/// each block changes two entries, so a table costs O(changes) rather than O(N), and N clients
/// do not hold N copies of an N-entry table. An entry that returns to its initial value is
/// dropped, so equal tables are equal as values (and hash alike) either way.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BalanceTable {
    /// Index `id - 1` holds client `id`'s initial balance.
    initial: Arc<[Amount]>,
    balances: Balances,
    /// The sum of every balance, kept up to date by each change (u128: no table overflows
    /// it), so that conservation is checked in O(1) after every commit and apply.
    total: u128,
}

/// Up to this many clients a balance table holds every balance (at most 2 KiB each, 512 KiB
/// for all clients' tables): indexing beats a tree lookup, which a 64-client run feels.
pub const DENSE_TABLE_CLIENTS: usize = 256;

/// The balances of a [`BalanceTable`]; which form depends only on the number of clients.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Balances {
    /// Index `id - 1` holds client `id`'s balance.
    Every(Box<[Amount]>),
    /// Client id -> balance, for the balances that differ from the initial ones.
    Changed(BTreeMap<ClientId, Amount>),
}

impl BalanceTable {
    pub fn new(initial: impl Into<Arc<[Amount]>>) -> Self {
        let initial: Arc<[Amount]> = initial.into();
        let balances = if initial.len() <= DENSE_TABLE_CLIENTS {
            Balances::Every(initial.iter().copied().collect())
        } else {
            Balances::Changed(BTreeMap::new())
        };
        BalanceTable {
            total: initial.iter().map(|&balance| u128::from(balance)).sum(),
            initial,
            balances,
        }
    }

    /// The initial balances this table started from.
    pub fn initial(&self) -> &Arc<[Amount]> {
        &self.initial
    }

    /// How many clients the table covers.
    pub fn len(&self) -> usize {
        self.initial.len()
    }

    pub fn is_empty(&self) -> bool {
        self.initial.is_empty()
    }

    /// The balance of `id`; 0 for an id outside the table.
    pub fn get(&self, id: ClientId) -> Amount {
        let Some(slot) = self.slot(id) else {
            return 0;
        };
        match &self.balances {
            Balances::Every(balances) => balances[slot],
            Balances::Changed(changed) => changed.get(&id).copied().unwrap_or(self.initial[slot]),
        }
    }

    /// Balances in id order, starting with client 1.
    pub fn iter(&self) -> impl Iterator<Item = Amount> + '_ {
        (1..=self.initial.len() as ClientId).map(|id| self.get(id))
    }

    /// Balances in id order, starting with client 1.
    pub fn to_vec(&self) -> Vec<Amount> {
        self.iter().collect()
    }

    /// The sum of all balances. O(1).
    pub fn total(&self) -> u128 {
        self.total
    }

    fn slot(&self, id: ClientId) -> Option<usize> {
        let slot = (id as usize).checked_sub(1)?;
        (slot < self.initial.len()).then_some(slot)
    }

    /// Sets the balance of `id`, which must be in the table.
    fn set(&mut self, id: ClientId, balance: Amount) {
        let Some(slot) = self.slot(id) else {
            return;
        };
        self.total = self.total - u128::from(self.get(id)) + u128::from(balance);
        match &mut self.balances {
            Balances::Every(balances) => balances[slot] = balance,
            Balances::Changed(changed) if self.initial[slot] == balance => {
                changed.remove(&id);
            }
            Balances::Changed(changed) => {
                changed.insert(id, balance);
            }
        }
    }

    /// Moves `block.amount` from `block.from` to `block.to`, or changes nothing and says why.
    pub fn apply(&mut self, block: &Block) -> Result<(), BlockRejection> {
        let (Some(from_slot), Some(to_slot)) = (self.slot(block.from), self.slot(block.to)) else {
            let id = if self.slot(block.from).is_none() {
                block.from
            } else {
                block.to
            };
            return Err(BlockRejection::UnknownClient { id });
        };
        let balance = self.get(block.from);
        let Some(debited) = balance.checked_sub(block.amount) else {
            return Err(BlockRejection::Overdraft {
                from: block.from,
                balance,
                amount: block.amount,
            });
        };
        if block.from == block.to {
            return Ok(());
        }
        // Cannot overflow: the amount came out of a balance, and balances sum to at most the
        // initial total, which scenario validation keeps within u64.
        let credited = self.get(block.to) + block.amount;
        match &mut self.balances {
            // Every commit and apply comes here: two stores. The money moves, so the total
            // stays.
            Balances::Every(balances) => {
                balances[from_slot] = debited;
                balances[to_slot] = credited;
            }
            Balances::Changed(_) => {
                self.set(block.from, debited);
                self.set(block.to, credited);
            }
        }
        Ok(())
    }
}

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
            .map_or(self.forgotten_head, |block| block.hash)
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
        self.forgotten_head = self.blocks[count - 1].hash;
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
        if block.index != self.len() {
            return Err(BlockRejection::WrongIndex {
                expected: self.len(),
                got: block.index,
            });
        }
        if block.prev != self.head_hash() {
            return Err(BlockRejection::WrongPrev {
                expected: self.head_hash(),
                got: block.prev,
            });
        }
        let recomputes = match self.rule {
            HashRule::Chained => block.spec_hash_ok(),
            HashRule::Unchained => block.hash == self.rule_hash(block),
        };
        if !recomputes {
            return Err(BlockRejection::BadHash {
                expected: self.rule_hash(block),
                got: block.hash,
            });
        }
        Ok(())
    }

    /// The hash this ledger's rule gives for the block's fields.
    fn rule_hash(&self, block: &Block) -> Hash {
        self.rule.hash(
            block.index,
            &block.prev,
            block.ts,
            block.from,
            block.to,
            block.amount,
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
    use super::*;

    const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    fn sha256_hex(text: &str) -> String {
        to_hex(&Sha256::digest(text.as_bytes()).into())
    }

    #[test]
    fn first_block_hash_is_sha256_of_the_literal_preimage() {
        let block = Block::new(0, GENESIS_PREV, 1, 1, 2, 3);
        let literal = format!("0|{ZEROS}|1|1|2|3");
        assert_eq!(block_preimage(0, &GENESIS_PREV, 1, 1, 2, 3), literal);
        assert_eq!(to_hex(&block.hash), sha256_hex(&literal));
        // Pinned so that a change of hashing library or formatting is caught:
        // printf '%s' '0|000…000|1|1|2|3' | sha256sum
        assert_eq!(
            to_hex(&block.hash),
            "4ee7f3f9c7a92a3c0c7d53bc48e6bd2533261e359eef1275a44cf7be8157391c"
        );
    }

    #[test]
    fn preimage_numbers_are_their_decimal_digits() {
        let numbers = [
            0,
            1,
            9,
            10,
            99,
            100,
            12_345,
            u64::from(u32::MAX),
            9_999_999_999_999_999,
            10_000_000_000_000_000,
            u64::MAX,
        ];
        for number in numbers {
            let preimage = Preimage::new(number, None, number, 7, 12, number);
            let text = String::from_utf8(preimage.as_bytes().to_vec()).unwrap();
            assert_eq!(text, format!("{number}|{number}|7|12|{number}"));
        }
        let longest = block_preimage(
            u64::MAX,
            &[0xab; 32],
            u64::MAX,
            u32::MAX,
            u32::MAX,
            u64::MAX,
        );
        assert_eq!(longest.len(), 3 * 20 + 2 * 10 + 64 + 5);
        assert_eq!(
            longest,
            format!(
                "{}|{}|{}|{}|{}|{}",
                u64::MAX,
                "ab".repeat(32),
                u64::MAX,
                u32::MAX,
                u32::MAX,
                u64::MAX
            )
        );
    }

    #[test]
    fn second_block_hash_chains_the_first() {
        let mut ledger = Ledger::new([10, 10]);
        let first = ledger.commit(1, 1, 2, 3).unwrap();
        let second = ledger.commit(4, 2, 1, 5).unwrap();
        let literal = format!("1|{}|4|2|1|5", to_hex(&first.hash));
        assert_eq!(to_hex(&second.hash), sha256_hex(&literal));
        assert_eq!(second.prev, first.hash);
        assert_eq!(ledger.table().to_vec(), [12, 8]);
    }

    #[test]
    fn hex_round_trips() {
        let hash = Block::new(0, GENESIS_PREV, 1, 1, 2, 3).hash;
        assert_eq!(from_hex(&to_hex(&hash)), Some(hash));
        assert_eq!(from_hex(ZEROS), Some(GENESIS_PREV));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn commit_beyond_the_balance_is_refused_and_changes_nothing() {
        let mut ledger = Ledger::new([10, 10]);
        assert_eq!(
            ledger.commit(1, 1, 2, 11),
            Err(BlockRejection::Overdraft {
                from: 1,
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
        let block = sender.commit(1, 1, 3, 4).unwrap();
        receiver.append(block).unwrap();
        assert_eq!(receiver, sender);
        assert_eq!(receiver.table().total(), 30);
    }

    #[test]
    fn append_rejects_wrong_index_prev_and_hash_without_changing_anything() {
        let mut receiver = Ledger::new([10, 10]);
        let good = Block::new(0, GENESIS_PREV, 1, 1, 2, 3);

        let (prev, ts, hash) = (good.prev, good.ts, good.hash);
        let skipped = Block::with_hash(1, prev, ts, good.from, good.to, good.amount, hash);
        assert!(matches!(
            receiver.append(Arc::new(skipped)),
            Err(BlockRejection::WrongIndex {
                expected: 0,
                got: 1
            })
        ));

        let unlinked = Block::new(0, [7; 32], 1, 1, 2, 3);
        assert!(matches!(
            receiver.append(Arc::new(unlinked)),
            Err(BlockRejection::WrongPrev { .. })
        ));

        let tampered = Block::with_hash(0, prev, ts, good.from, good.to, 9, hash);
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
        let block = Block::new(0, GENESIS_PREV, 1, 1, 2, 3);
        assert_eq!(
            receiver.append(Arc::new(block)),
            Err(BlockRejection::Overdraft {
                from: 1,
                balance: 2,
                amount: 3
            })
        );
        assert!(receiver.is_empty());
    }

    #[test]
    fn the_unchained_rule_leaves_prev_out_of_the_hash() {
        let mut buggy = Ledger::with_rule([10, 10], HashRule::Unchained);
        let first = buggy.commit(1, 1, 2, 3).unwrap();
        assert_eq!(to_hex(&first.hash), sha256_hex("0|1|1|2|3"));
        assert_ne!(first.hash, first.recomputed_hash(), "the SPEC hash differs");
        // A buggy receiver accepts what a buggy sender made.
        let mut receiver = Ledger::with_rule([10, 10], HashRule::Unchained);
        receiver.append(first).unwrap();
    }

    #[test]
    fn a_ledger_that_forgot_old_blocks_keeps_its_length_head_and_balances() {
        let mut ledger = Ledger::new([10, 10]);
        for ts in 1..=4 {
            ledger.commit(ts, 1, 2, 1).unwrap();
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
        let next = ledger.commit(5, 2, 1, 1).unwrap();
        assert_eq!((next.index, next.prev), (4, head));
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
                .append(sender.commit(ts, 1, 2, 2).unwrap())
                .unwrap();
        }
        receiver.forget_before(3);
        let next = sender.commit(4, 2, 1, 5).unwrap();
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

    #[test]
    fn both_forms_of_the_balance_table_give_the_same_balances() {
        for clients in [3, DENSE_TABLE_CLIENTS, DENSE_TABLE_CLIENTS + 1] {
            let mut table = BalanceTable::new(vec![10; clients]);
            let last = clients as ClientId;
            let pay = |from, to, amount| Block::new(0, GENESIS_PREV, 1, from, to, amount);
            table.apply(&pay(1, last, 4)).unwrap();
            table.apply(&pay(last, 2, 1)).unwrap();
            assert_eq!((table.get(1), table.get(2), table.get(last)), (6, 11, 13));
            assert_eq!(table.get(last + 1), 0, "outside the table");
            assert_eq!(table.total(), 10 * clients as u128);
            assert_eq!(table.iter().filter(|&balance| balance != 10).count(), 3);
            // Back to the initial balances: equal, as a value, to a fresh table.
            table.apply(&pay(last, 1, 4)).unwrap();
            table.apply(&pay(2, last, 1)).unwrap();
            assert_eq!(
                table,
                BalanceTable::new(vec![10; clients]),
                "{clients} clients"
            );
        }
    }

    #[test]
    fn unknown_client_is_rejected() {
        let mut table = BalanceTable::new([10, 10]);
        let block = Block::new(0, GENESIS_PREV, 1, 1, 3, 3);
        assert_eq!(
            table.apply(&block),
            Err(BlockRejection::UnknownClient { id: 3 })
        );
        assert_eq!(table.to_vec(), [10, 10]);
    }
}
