//! The set of states seen so far, exact and compact.
//!
//! Every distinct state is kept as its full canonical encoding (a few dozen bytes), appended to
//! one arena in discovery order; a state's number is its position in that order. An
//! open-addressing table of 64-bit slots finds a state by the hash of its encoding: a slot
//! holds 32 bits of the hash (a tag) and the state's number. A tag match is confirmed by
//! comparing the encodings byte for byte, so two different states are never merged, whatever
//! the hash does.
//!
//! For each state the store also keeps the state it was first reached from, so that the
//! states on the path to any state can be listed (the search finds the steps between them
//! again, see `search::steps_to`). Breadth-first search discovers states level by level, so
//! that path is a shortest one.
//!
//! Memory per state: the encoding, 4 bytes of offset, 4 of parent and 8 / load (between 7/16
//! and 7/8, see [`full`]) bytes of table: about `encoding + 17..26` bytes.

/// Marks a state with no parent (an initial state).
pub const NO_PARENT: u32 = u32::MAX;

use super::region::Region;
use super::table::double_in_place;

/// The most states a store holds (its table then has 2^32 slots).
pub const MAX_STATES: u32 = 1 << 31;

const INITIAL_BITS: u32 = 12;

/// Whether a table of `slots` slots holding `states` must double first: above a load of 7/8.
/// A slot is 8 bytes and its 32-bit tag spares a look at the encoding on most probes, so a
/// long run of slots costs a few sequential cache lines; the table is a third of the store
/// and written once, so a higher load is fewer fresh pages for the kernel to clear (at 3/4
/// the default scenario's 28.8 million states needed 512 MiB of table, at 7/8 256 MiB).
fn full(states: usize, slots: usize) -> bool {
    states * 8 > slots * 7
}

/// The bits of a state's end offset kept per state (the rest in `wraps`); fewer in tests, so
/// that they cross the boundaries.
#[cfg(not(test))]
const END_BITS: u32 = 32;
#[cfg(test)]
const END_BITS: u32 = 7;
const TAG: u64 = 0xffff_ffff_0000_0000;

/// States numbered in discovery order, deduplicated by their full encoding.
pub struct StateStore {
    bytes: Region<u8>,
    /// Where state `i`'s encoding ends in `bytes` (it starts where state `i - 1`'s ends):
    /// the low [`END_BITS`] bits in `ends[i]`, the high bits counted by `wraps` (see
    /// [`Self::end`]).
    ends: Region<u32>,
    /// `wraps[k]` is the first state whose encoding ends at `(k + 1) << END_BITS` or later:
    /// empty until the encodings outgrow 4 GiB.
    wraps: Vec<u32>,
    parents: Region<u32>,
    /// 0: empty; otherwise the hash's top 32 bits (in place) and `number + 1`. A state sits
    /// at (or, probing linearly, after) the slot given by the top `bits` bits of its hash, so
    /// the table can double in place without looking at the encodings again (see
    /// [`super::table`]).
    slots: Region<u64>,
    bits: u32,
    /// How many states, bytes and table slots [`Self::prepare`] made room for.
    ahead: Ahead,
}

/// What [`StateStore::prepare`] made room for, for [`StateStore::populate`] to fill in.
#[derive(Clone, Copy, Default)]
struct Ahead {
    states: usize,
    bytes: usize,
    /// The slots the table's next doubling adds (0 unless it is near).
    slots: usize,
}

/// What [`StateStore::insert`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    New(u32),
    Seen(u32),
}

impl StateStore {
    pub fn new() -> Self {
        StateStore {
            bytes: Region::new(),
            ends: Region::new(),
            wraps: Vec::new(),
            parents: Region::new(),
            slots: Region::zeroed(1 << INITIAL_BITS),
            bits: INITIAL_BITS,
            ahead: Ahead::default(),
        }
    }

    /// How many distinct states it holds.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The encoding of state `id`.
    pub fn get(&self, id: u32) -> &[u8] {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.end(id - 1) };
        &self.bytes[start..self.end(id)]
    }

    /// Where state `id`'s encoding ends in `bytes`.
    #[inline]
    fn end(&self, id: usize) -> usize {
        let high = self.wraps.partition_point(|&first| first as usize <= id) as u64;
        (high << END_BITS | u64::from(self.ends[id])) as usize
    }

    /// Copies the encodings of states `start..end` into `bytes` (back to back) and where each
    /// ends in it into `ends` (both cleared first).
    pub fn copy_out(&self, start: u32, end: u32, bytes: &mut Vec<u8>, ends: &mut Vec<usize>) {
        let (start, end) = (start as usize, end as usize);
        let base = if start == 0 { 0 } else { self.end(start - 1) };
        let stop = if end == 0 { base } else { self.end(end - 1) };
        bytes.clear();
        bytes.extend_from_slice(&self.bytes[base..stop]);
        ends.clear();
        ends.extend((start..end).map(|id| self.end(id) - base));
    }

    /// The state `id` was first reached from; `None` for an initial state.
    pub fn parent(&self, id: u32) -> Option<u32> {
        let parent = self.parents[id as usize];
        (parent != NO_PARENT).then_some(parent)
    }

    /// The states from an initial state to `id`, both included, each the parent of the next.
    pub fn path_to(&self, mut id: u32) -> Vec<u32> {
        let mut states = vec![id];
        while let Some(parent) = self.parent(id) {
            states.push(parent);
            id = parent;
        }
        states.reverse();
        states
    }

    /// Asks the processor to fetch the slot where a state with this hash would be, ahead of
    /// an [`Self::insert`] (a hint: it changes nothing).
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let slot = self
                .slots
                .as_ptr()
                .wrapping_add(self.home(hash))
                .cast::<i8>();
            // SAFETY: a prefetch is a hint that never faults, whatever the address; SSE is part
            // of every x86-64 processor.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(slot) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = hash;
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        (hash >> (64 - self.bits)) as usize
    }

    /// Whether `state` is stored. `hash` must be [`super::hash::hash_bytes`] of `state`.
    pub fn contains(&self, state: &[u8], hash: u64) -> bool {
        self.probe(state, hash).is_ok()
    }

    /// Finds `state` by linear probing from its home slot: `Ok(id)` when it is stored,
    /// `Err(index)` of the empty slot where it would go. A tag match is confirmed by the bytes.
    #[inline]
    fn probe(&self, state: &[u8], hash: u64) -> Result<u32, usize> {
        let mask = self.slots.len() - 1;
        let tag = hash & TAG;
        let mut index = self.home(hash);
        loop {
            let slot = self.slots[index];
            if slot == 0 {
                return Err(index);
            }
            if slot & TAG == tag {
                let id = (slot & !TAG) as u32 - 1;
                if self.get(id) == state {
                    return Ok(id);
                }
            }
            index = (index + 1) & mask;
        }
    }

    /// Adds `state` unless an equal one is there. `hash` must be [`super::hash::hash_bytes`]
    /// of `state`; `parent` is recorded only for a new state.
    pub fn insert(&mut self, state: &[u8], hash: u64, parent: u32) -> Inserted {
        if full(self.len() + 1, self.slots.len()) {
            self.grow();
        }
        let index = match self.probe(state, hash) {
            Ok(id) => return Inserted::Seen(id),
            Err(index) => index,
        };
        let tag = hash & TAG;
        let id = self.len() as u32;
        assert!(id < MAX_STATES, "the search bounds the number of states");
        self.slots[index] = tag | u64::from(id + 1);
        self.bytes.extend_from_slice(state);
        let end = self.bytes.len() as u64;
        while end >> END_BITS > self.wraps.len() as u64 {
            self.wraps.push(id);
        }
        self.ends.push((end & ((1 << END_BITS) - 1)) as u32);
        self.parents.push(parent);
        Inserted::New(id)
    }

    /// Doubles the table in place. Every slot's home in the bigger table follows from its
    /// tag; the old slots are visited from the last down, so the table is written almost
    /// sequentially.
    fn grow(&mut self) {
        self.bits += 1;
        let bits = self.bits;
        double_in_place(&mut self.slots, |slot| (slot >> (64 - bits)) as usize);
    }

    /// Makes room for about `states` more states of `bytes` bytes in all (and the slots the
    /// table's doubling adds, if they would need it), for [`Self::populate`] to fill in on
    /// other threads while this store is only read. Changes no answer and not
    /// [`Self::memory_bytes`]. Makes no room if that could take the store past `budget`
    /// bytes: pages filled in ahead are in use whether or not the inserts come.
    pub fn prepare(&mut self, states: usize, bytes: usize, budget: Option<usize>) {
        if budget.is_some_and(|budget| self.memory_bytes_bound_after(states, bytes) > budget) {
            self.ahead = Ahead::default();
            return;
        }
        self.bytes.commit_ahead(bytes);
        self.ends.commit_ahead(states);
        self.parents.commit_ahead(states);
        let doubling = full(self.len() + states, self.slots.len());
        let slots = if doubling { self.slots.len() } else { 0 };
        if doubling {
            self.slots.commit_ahead(slots);
        }
        self.ahead = Ahead {
            states,
            bytes,
            slots,
        };
    }

    /// Fills in the pages [`Self::prepare`] made room for, `part` of `parts` of them, so
    /// that the inserts take no page faults (a hint: it changes nothing).
    pub fn populate(&self, part: usize, parts: usize) {
        let Ahead {
            states,
            bytes,
            slots,
        } = self.ahead;
        self.bytes.populate_ahead(bytes, part, parts);
        self.ends.populate_ahead(states, part, parts);
        self.parents.populate_ahead(states, part, parts);
        self.slots.populate_ahead(slots, part, parts);
    }

    /// Bytes held (capacity, not just length): what the store costs in memory.
    pub fn memory_bytes(&self) -> usize {
        self.bytes.memory_bytes()
            + self.ends.memory_bytes()
            + self.parents.memory_bytes()
            + self.slots.memory_bytes()
    }

    /// What [`Self::memory_bytes`] becomes if a new state of `encoding_bytes` bytes is
    /// stored (an array or the table may have to grow first). A search that stores no state
    /// past its budget by this measure never lets the store outgrow it.
    #[inline]
    pub fn memory_bytes_after_insert(&self, encoding_bytes: usize) -> usize {
        let table = self.slots.memory_bytes();
        let table_after = if full(self.len() + 1, self.slots.len()) {
            2 * table
        } else {
            table
        };
        self.bytes.memory_bytes_after_push(encoding_bytes)
            + self.ends.memory_bytes_after_push(1)
            + self.parents.memory_bytes_after_push(1)
            + table_after
    }

    /// At most what [`Self::memory_bytes`] becomes once `states` more new states of
    /// `bytes` bytes in all are stored, one at a time: a cheap bound that spares a search
    /// [`Self::memory_bytes_after_insert`] for each state while it is far from its budget.
    pub fn memory_bytes_bound_after(&self, states: usize, bytes: usize) -> usize {
        let mut slots = self.slots.len();
        while full(self.len() + states, slots) {
            slots *= 2;
        }
        self.bytes.memory_bytes_bound_after_pushes(bytes)
            + self.ends.memory_bytes_bound_after_pushes(states)
            + self.parents.memory_bytes_bound_after_pushes(states)
            + self.slots.memory_bytes().max(slots * size_of::<u64>())
    }

    /// Bytes of encodings alone.
    pub fn encoding_bytes(&self) -> usize {
        self.bytes.len()
    }
}

impl Default for StateStore {
    fn default() -> Self {
        Self::new()
    }
}

/// Asks the processor to bring the cache line at `pointer` in (a hint: it changes nothing).
#[inline]
pub fn prefetch<T>(pointer: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint that never faults, whatever the address; SSE is part of
        // every x86-64 processor.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(pointer.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = pointer;
}

#[cfg(test)]
mod tests {
    use super::super::hash::hash_bytes;
    use super::*;

    #[test]
    fn states_are_found_by_their_bytes_and_paths_rebuilt() {
        let mut store = StateStore::new();
        let insert = |store: &mut StateStore, bytes: &[u8], parent| {
            store.insert(bytes, hash_bytes(bytes), parent)
        };
        assert_eq!(insert(&mut store, b"root", NO_PARENT), Inserted::New(0));
        assert_eq!(insert(&mut store, b"a", 0), Inserted::New(1));
        assert_eq!(insert(&mut store, b"b", 1), Inserted::New(2));
        assert_eq!(insert(&mut store, b"a", 2), Inserted::Seen(1));
        assert_eq!(store.path_to(2), vec![0, 1, 2]);
        assert_eq!(store.path_to(0), vec![0]);
        assert_eq!(store.get(1), b"a");
        // Growing keeps every state findable.
        for n in 0..10_000u32 {
            let bytes = n.to_le_bytes();
            assert_eq!(
                insert(&mut store, &bytes, 0),
                Inserted::New(3 + n),
                "state {n}"
            );
        }
        for n in 0..10_000u32 {
            let bytes = n.to_le_bytes();
            assert_eq!(insert(&mut store, &bytes, 0), Inserted::Seen(3 + n));
        }
    }

    #[test]
    fn encodings_are_found_past_the_offset_boundaries() {
        // In tests a state's end offset keeps only 7 bits: states of 1 to 300 bytes cross
        // the boundaries one or several at a time.
        let mut store = StateStore::new();
        let state = |n: usize| vec![n as u8; 1 + n * 37 % 300];
        for n in 0..500 {
            assert_eq!(
                store.insert(&state(n), hash_bytes(&state(n)), NO_PARENT),
                Inserted::New(n as u32)
            );
        }
        for n in 0..500 {
            assert_eq!(store.get(n as u32), state(n), "state {n}");
        }
        let (mut bytes, mut ends) = (Vec::new(), Vec::new());
        store.copy_out(100, 200, &mut bytes, &mut ends);
        let copied: Vec<u8> = (100..200).flat_map(state).collect();
        assert_eq!(bytes, copied);
        assert_eq!(ends[0], state(100).len());
        assert_eq!(ends[99], copied.len());
    }

    #[test]
    fn the_memory_after_an_insert_is_known_before_it() {
        // Across the table's doublings and the arrays' growth (doubling below 2 MiB, an
        // eighth at a time above), the store takes exactly what was foreseen.
        // So does the bound for the next 1,000 states, taken every 100 states.
        let state = |n: u32| n.to_le_bytes().repeat(1 + n as usize % 5);
        let mut store = StateStore::new();
        let mut grew = 0;
        let mut bounds = std::collections::VecDeque::new();
        for n in 0..300_000u32 {
            if n % 100 == 0 {
                let ahead: usize = (n..n + 1000).map(|m| state(m).len()).sum();
                bounds.push_back((n + 1000, store.memory_bytes_bound_after(1000, ahead)));
            }
            if let Some(&(due, bound)) = bounds.front().filter(|&&(due, _)| due == n) {
                assert!(
                    store.memory_bytes() <= bound,
                    "the 1,000 states before {due}"
                );
                bounds.pop_front();
            }
            let state = state(n);
            let foreseen = store.memory_bytes_after_insert(state.len());
            let before = store.memory_bytes();
            store.insert(&state, hash_bytes(&state), NO_PARENT);
            assert_eq!(store.memory_bytes(), foreseen, "state {n}");
            grew += usize::from(foreseen > before);
        }
        assert!(grew > 20, "the arrays and the table grew {grew} times");
    }

    #[test]
    fn equal_hashes_of_different_states_are_told_apart() {
        let mut store = StateStore::new();
        // Same (forged) hash for two different encodings: both are kept.
        assert_eq!(store.insert(b"x", 42, NO_PARENT), Inserted::New(0));
        assert_eq!(store.insert(b"y", 42, NO_PARENT), Inserted::New(1));
        assert_eq!(store.insert(b"x", 42, NO_PARENT), Inserted::Seen(0));
        assert_eq!(store.insert(b"y", 42, NO_PARENT), Inserted::Seen(1));
    }
}
