//! The hash of a state's encoding, for the state store and the successor buffers.
//!
//! The keys are the explorer's own encodings, not an adversary's input, so rustc-hash's Fx
//! hasher (a wyhash-style mix of the bytes and their length, then a multiply) is enough; the
//! state store never trusts a hash alone (it compares the full encodings), so a collision
//! costs a comparison, never a wrong answer. The store takes a slot and a 32-bit tag from the
//! top bits, which the final multiply spreads.

use std::hash::Hasher;

use rustc_hash::FxHasher;

/// The 64-bit hash of a byte string.
#[inline]
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut hasher = FxHasher::default();
    hasher.write(bytes);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

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
