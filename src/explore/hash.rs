//! Small deterministic hashes for the explorer's tables.
//!
//! The keys are the explorer's own encodings, not an adversary's input, so a fast
//! multiply-rotate mix is enough; the state store never trusts a hash alone (it compares the
//! full encodings), so a collision costs a comparison, never a wrong answer.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// The 64-bit hash of a byte string: 8 bytes at a time, then a final avalanche so that the
/// high bits (the table index) depend on every input byte.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut hash = SEED ^ (bytes.len() as u64).wrapping_mul(MULTIPLIER);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
        hash = (hash ^ word).wrapping_mul(MULTIPLIER).rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        hash = (hash ^ tail_word(rest))
            .wrapping_mul(MULTIPLIER)
            .rotate_left(29);
    }
    finish(hash)
}

/// The 1 to 7 bytes `rest` as a little-endian word, zero above them: the value of copying them
/// into a zeroed `[u8; 8]`, read from two overlapping loads instead (the copy was a call to
/// `memcpy` and a store-to-load stall, for every successor hashed).
#[inline]
fn tail_word(rest: &[u8]) -> u64 {
    let len = rest.len();
    debug_assert!((1..8).contains(&len));
    if len >= 4 {
        let low = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
        let high = u32::from_le_bytes(rest[len - 4..].try_into().expect("4 bytes"));
        // The two loads overlap by `8 - len` bytes, equal in both, so OR keeps them.
        u64::from(low) | u64::from(high) << (8 * (len - 4))
    } else {
        u64::from(rest[0])
            | u64::from(rest[len / 2]) << (8 * (len / 2))
            | u64::from(rest[len - 1]) << (8 * (len - 1))
    }
}

/// murmur3's 64-bit finaliser.
fn finish(mut hash: u64) -> u64 {
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

/// A `Hasher` with the same mix, for `HashMap`s keyed by interned values.
#[derive(Clone, Copy, Debug, Default)]
pub struct MixHasher(u64);

impl MixHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(MULTIPLIER).rotate_left(29);
    }
}

impl Hasher for MixHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("chunks of 8")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            self.add(tail_word(rest));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        finish(self.0)
    }
}

pub type MixMap<K, V> = HashMap<K, V, BuildHasherDefault<MixHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_reads_as_its_bytes_copied_into_a_zeroed_word() {
        let bytes: Vec<u8> = (0..7u8)
            .map(|n| n.wrapping_mul(97).wrapping_add(13))
            .collect();
        for len in 1..8 {
            for start in 0..bytes.len() - len + 1 {
                let rest = &bytes[start..start + len];
                let mut word = [0u8; 8];
                word[..len].copy_from_slice(rest);
                assert_eq!(tail_word(rest), u64::from_le_bytes(word), "{rest:?}");
            }
        }
        let high = [0xff; 7];
        for len in 1..8 {
            let mut word = [0u8; 8];
            word[..len].copy_from_slice(&high[..len]);
            assert_eq!(tail_word(&high[..len]), u64::from_le_bytes(word));
        }
    }

    #[test]
    fn equal_bytes_hash_alike_and_small_changes_spread() {
        assert_eq!(hash_bytes(b"abcdefghij"), hash_bytes(b"abcdefghij"));
        assert_ne!(hash_bytes(b"abcdefghij"), hash_bytes(b"abcdefghik"));
        // Length is part of the hash: trailing zeros are not ignored.
        assert_ne!(hash_bytes(&[0]), hash_bytes(&[0, 0]));
        // The high bits (used as table index) differ for neighbouring inputs.
        let high = |bytes: &[u8]| hash_bytes(bytes) >> 48;
        assert_ne!(high(&[1, 0, 0]), high(&[2, 0, 0]));
    }
}

/// An open-addressing index from a 64-bit hash to numbers `0..len`, for interning values
/// kept elsewhere: the caller compares candidates itself. A slot holds the hash's top 32 bits
/// and the number; a value's home slot is given by the hash's top bits, so doubling the table
/// never needs the values again.
#[derive(Clone, Debug)]
pub struct IndexTable {
    slots: Vec<u64>,
    bits: u32,
    len: usize,
}

const TAG: u64 = 0xffff_ffff_0000_0000;

impl Default for IndexTable {
    fn default() -> Self {
        IndexTable {
            slots: vec![0; 1 << 10],
            bits: 10,
            len: 0,
        }
    }
}

impl IndexTable {
    /// The number of a value with this hash for which `same` holds, if any.
    pub fn find(&self, hash: u64, mut same: impl FnMut(u32) -> bool) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut index = (hash >> (64 - self.bits)) as usize;
        loop {
            let slot = self.slots[index];
            if slot == 0 {
                return None;
            }
            if slot & TAG == hash & TAG {
                let number = (slot & !TAG) as u32 - 1;
                if same(number) {
                    return Some(number);
                }
            }
            index = (index + 1) & mask;
        }
    }

    /// Records `number` (not yet present) under `hash`.
    pub fn insert(&mut self, hash: u64, number: u32) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut index = (hash >> (64 - self.bits)) as usize;
        while self.slots[index] != 0 {
            index = (index + 1) & mask;
        }
        self.slots[index] = (hash & TAG) | u64::from(number + 1);
        self.len += 1;
    }

    fn grow(&mut self) {
        self.bits += 1;
        let mask = (1usize << self.bits) - 1;
        let mut slots = vec![0u64; 1 << self.bits];
        for &slot in &self.slots {
            if slot == 0 {
                continue;
            }
            let mut index = (slot >> (64 - self.bits)) as usize;
            while slots[index] != 0 {
                index = (index + 1) & mask;
            }
            slots[index] = slot;
        }
        self.slots = slots;
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;

    #[test]
    fn numbers_are_found_under_their_hash_only_when_the_caller_agrees() {
        let mut table = IndexTable::default();
        let values: Vec<u64> = (0..5000).map(|n| n * 7919).collect();
        for (number, value) in values.iter().enumerate() {
            let hash = hash_bytes(&value.to_le_bytes());
            assert_eq!(table.find(hash, |n| values[n as usize] == *value), None);
            table.insert(hash, number as u32);
        }
        for (number, value) in values.iter().enumerate() {
            let hash = hash_bytes(&value.to_le_bytes());
            assert_eq!(
                table.find(hash, |n| values[n as usize] == *value),
                Some(number as u32)
            );
            assert_eq!(table.find(hash, |_| false), None);
        }
    }
}
