//! Doubling an open-addressing table in place.
//!
//! Both tables of the explorer (the state store's and an expander's table of client steps)
//! probe linearly from a home slot taken from the top bits of a hash. So an entry whose home
//! is `h` in a table of `2^b` slots has its home at `2h` or `2h + 1` in one of `2^(b+1)`:
//! entries only move towards the end when the table doubles. The table therefore doubles
//! inside its own [`Region`]: the region grows to twice the slots, and the entries are put
//! back from the last slot down, each from its new home on, into slots that no entry still
//! waiting to move holds. A new table and the copy into it would clear twice the memory,
//! and the old table and the new one would be held at once (the peak).
//!
//! Linear probing fills the same slots whatever the order in which the entries go in, so the
//! table is as full and as quick to search as one rebuilt in order; a look-up finds the same
//! entries.
//!
//! Not hashbrown's `HashTable`: as the store's table it took 1.5-1.9x the time of this one on
//! the complete default run.

use super::region::Region;

/// Doubles `slots` (a power of two long; an empty slot is all zero, [`Default`]) in place.
/// `home` gives an entry's home in the doubled table.
pub(crate) fn double_in_place<T: Copy + Default + PartialEq + bytemuck::Zeroable>(
    slots: &mut Region<T>,
    home: impl Fn(T) -> usize,
) {
    let old_len = slots.len();
    slots.extend_zeroed(old_len * 2);
    // Entries that cannot go back during the pass: their new home lies below the slot they
    // leave (a run of entries pushed far from home in the first slots), or their probe would
    // wrap past the end into slots still waiting. Few; they go back at the end.
    let mut left_over = Vec::new();
    for position in (0..old_len).rev() {
        let slot = slots[position];
        if slot == T::default() {
            continue;
        }
        slots[position] = T::default();
        if !place_at_or_above(slots, slot, home(slot), position) {
            left_over.push(slot);
        }
    }
    for slot in left_over {
        place(slots, slot, home(slot));
    }
}

/// Puts `slot` into the first empty slot from `home` on, if `home` is `floor` or higher (every
/// slot from `floor` on holds a moved entry or nothing) and the probe does not wrap.
fn place_at_or_above<T: Copy + Default + PartialEq>(
    slots: &mut [T],
    slot: T,
    home: usize,
    floor: usize,
) -> bool {
    if home < floor {
        return false;
    }
    let mut index = home;
    while index < slots.len() {
        if slots[index] == T::default() {
            slots[index] = slot;
            return true;
        }
        index += 1;
    }
    false
}

/// Puts `slot` into the first empty slot from `home` on, wrapping at the end.
fn place<T: Copy + Default + PartialEq>(slots: &mut [T], slot: T, home: usize) {
    let mask = slots.len() - 1;
    let mut index = home;
    while slots[index] != T::default() {
        index = (index + 1) & mask;
    }
    slots[index] = slot;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of `1 << bits` slots holding `keys` (non-zero), home from the top bits.
    fn table(keys: &[u64], bits: u32) -> Region<u64> {
        let mut slots = Region::zeroed(1 << bits);
        for &key in keys {
            place(&mut slots, key, (key >> (64 - bits)) as usize);
        }
        slots
    }

    /// Every key is found by probing from its home without meeting an empty slot first.
    fn findable(slots: &[u64], keys: &[u64], bits: u32) -> bool {
        let mask = slots.len() - 1;
        keys.iter().all(|&key| {
            let mut index = (key >> (64 - bits)) as usize;
            while slots[index] != key {
                if slots[index] == 0 {
                    return false;
                }
                index = (index + 1) & mask;
            }
            true
        })
    }

    fn check_doubling(keys: &[u64], bits: u32) {
        let mut slots = table(keys, bits);
        double_in_place(&mut slots, |key| (key >> (64 - (bits + 1))) as usize);
        assert_eq!(slots.len(), 2 << bits);
        assert!(findable(&slots, keys, bits + 1));
        let mut held: Vec<u64> = slots.iter().copied().filter(|&s| s != 0).collect();
        held.sort_unstable();
        let mut expected = keys.to_vec();
        expected.sort_unstable();
        assert_eq!(held, expected, "every entry once, nothing else");
    }

    #[test]
    fn a_table_doubles_in_place_and_finds_every_entry() {
        let spread: Vec<u64> = (1..=3000u64)
            .map(|n| n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
            .collect();
        check_doubling(&spread, 12);
    }

    #[test]
    fn runs_at_both_ends_and_wrapped_entries_go_back() {
        // Homes crowded into the first slots and the last ones (whose runs wrap to the
        // start): the entries the pass leaves over.
        let low = (1..=40u64).map(|n| n << 40);
        let high = (1..=40u64).map(|n| u64::MAX - (n << 40));
        let keys: Vec<u64> = low.chain(high).collect();
        check_doubling(&keys, 7);
        // All in one home.
        let same: Vec<u64> = (1..=50u64).map(|n| 0x8000_0000_0000_0000 | n).collect();
        check_doubling(&same, 6);
    }
}
