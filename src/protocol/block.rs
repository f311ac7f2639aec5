//! A block and its hash: one committed transfer, hash-chained to the block before it.
//!
//! The block hash is fixed by docs/spec.md section 2: lowercase hex SHA-256 of
//! `{index}|{prev}|{ts}|{from}|{to}|{amount}`.

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
    /// Whether `hash` is the hash of docs/spec.md section 2 of the other fields; unknown until
    /// first asked.
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
    /// A block whose hash is computed from its fields by the rule of docs/spec.md section 2.
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

    /// The hash that the rule of docs/spec.md section 2 gives for this block's fields.
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

    /// Its hash is the hash of docs/spec.md section 2 of its fields (computed on the first call
    /// only).
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
        for number in [ts, u64::from(from.get()), u64::from(to.get()), amount] {
            preimage.push(b"|");
            preimage.push_decimal(number);
        }
        preimage
    }

    /// The decimal digits of `value`. Up to 16 digits they are gathered in a register, most
    /// significant in the lowest byte, and stored as one 16-byte value (the bytes past the
    /// digits are overwritten by what follows, or lie past the end). Copying the digits alone
    /// from `itoa`'s buffer would call the C library's `memcpy` for every number (five per
    /// block), and digits stored one by one, then read back as a wide copy, stall the CPU.
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
/// it: every commit hashes a preimage with a hex `prev`, and a trace writes two hashes for
/// every block committed, sent, delivered and applied.
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
    /// docs/spec.md section 2.
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
    /// A node in another program refused it, for the reason it gave.
    Reported(Box<str>),
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
            BlockRejection::Reported(reason) => f.write_str(reason),
        }
    }
}

/// The first 8 hex digits, for sentences.
pub fn short_hex(hash: &Hash) -> String {
    to_hex(hash)[..8].to_string()
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
        let block = Block::new(0, GENESIS_PREV, 1, ClientId::new(1), ClientId::new(2), 3);
        let literal = format!("0|{ZEROS}|1|1|2|3");
        assert_eq!(
            block_preimage(0, &GENESIS_PREV, 1, ClientId::new(1), ClientId::new(2), 3),
            literal
        );
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
            let preimage = Preimage::new(
                number,
                None,
                number,
                ClientId::new(7),
                ClientId::new(12),
                number,
            );
            let text = String::from_utf8(preimage.as_bytes().to_vec()).unwrap();
            assert_eq!(text, format!("{number}|{number}|7|12|{number}"));
        }
        let longest = block_preimage(
            u64::MAX,
            &[0xab; 32],
            u64::MAX,
            ClientId::new(u32::MAX),
            ClientId::new(u32::MAX),
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
    fn hex_round_trips() {
        let hash = Block::new(0, GENESIS_PREV, 1, ClientId::new(1), ClientId::new(2), 3).hash;
        assert_eq!(from_hex(&to_hex(&hash)), Some(hash));
        assert_eq!(from_hex(ZEROS), Some(GENESIS_PREV));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex(&"g".repeat(64)), None);
    }
}
