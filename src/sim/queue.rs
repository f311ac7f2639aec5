//! The event queue: items by time, ties in the order they were scheduled.
//!
//! Almost everything the simulator schedules lands a few hundred or thousand microseconds
//! ahead of now (a message's latency, a critical section). Those items go into a timing
//! wheel: one first-in-first-out list per microsecond of the next [`WHEEL_US`], with a bitmap
//! of the non-empty ones, so scheduling and taking the earliest item cost O(1) whatever the
//! number in flight (a binary heap's pop would be the largest single cost of a 64-client
//! run, with hundreds of messages in flight). Items further ahead (faults, a scenario's
//! timed commands, long latencies) wait in a binary heap keyed by (time, insertion sequence)
//! and move into the wheel, in that order, as soon as their time comes within reach, before
//! anything else can be scheduled at that time; so within one microsecond the order is
//! always the order of scheduling.
//!
//! Every item waits in a slab beside them, so the lists and the heap move only small keys; the
//! lists link entry numbers in an array of their own (4 bytes an entry), so walking them does
//! not read the items.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// How far ahead of now the wheel reaches, in microseconds (a power of two). Latencies of a
/// few milliseconds, common in scenarios, stay in the wheel rather than going through the
/// heap; a longer wheel is more memory to hand on between runs and more bitmap to scan when
/// nothing is near.
const WHEEL_US: u64 = 4096;
const WHEEL_MASK: u64 = WHEEL_US - 1;
const BITMAP_WORDS: usize = (WHEEL_US / 64) as usize;
// One bit of `EventQueue::occupied_words` per bitmap word.
const _: () = assert!(BITMAP_WORDS == 64);
/// Entries a queue starts with room for (a 5-client run has some 20-30 items waiting).
const INITIAL_ENTRIES: usize = 32;
/// The end of a list.
const NONE: u32 = u32::MAX;

/// The first and last entry of a wheel slot's list (`NONE`, `NONE` when empty).
#[derive(Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

const EMPTY: List = List {
    head: NONE,
    tail: NONE,
};

/// A min-queue of items by time; ties break by insertion order.
pub struct EventQueue<T> {
    /// The waiting items by entry number.
    items: Vec<Option<T>>,
    /// By entry number: the next entry of the same wheel slot (`NONE`: the last), or for a
    /// free entry the next free one. Apart from the items, so that walking the lists reads 4
    /// bytes per entry, not the whole item.
    next: Vec<u32>,
    /// The first entry free for reuse (`NONE`: none); the others follow through `next`.
    free: u32,
    /// Per microsecond `t` in `[now_us, now_us + WHEEL_US)`, at index `t % WHEEL_US`: the
    /// first and last entry of its list (side by side: one cache line for both).
    lists: Box<[List]>,
    /// Bit `t % WHEEL_US` is set when that list is not empty.
    occupied: [u64; BITMAP_WORDS],
    /// Bit `w` is set when `occupied[w]` is not zero, so the earliest item is found in two
    /// steps, not by a scan of the words: messages a millisecond apart are some 16 words apart.
    occupied_words: u64,
    in_wheel: usize,
    /// Items at `now_us + WHEEL_US` or later: (time, insertion sequence, entry).
    later: BinaryHeap<Reverse<(u64, u64, u32)>>,
    next_sequence: u64,
    /// The time of the last item taken (no item may be scheduled before it).
    now_us: u64,
}

thread_local! {
    /// The wheel of the last queue dropped on this thread, every list empty again, for the next
    /// queue: otherwise a sweep of short runs (a few dozen events each) allocates and clears a
    /// fresh 32 KiB wheel per run, a sizeable share of its time.
    static SPARE_LISTS: Cell<Option<Box<[List]>>> = const { Cell::new(None) };
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        let lists = SPARE_LISTS
            .take()
            .unwrap_or_else(|| vec![EMPTY; WHEEL_US as usize].into_boxed_slice());
        EventQueue {
            // Room for the items a small run has in flight, so that they do not grow from
            // nothing in four steps each run.
            items: Vec::with_capacity(INITIAL_ENTRIES),
            next: Vec::with_capacity(INITIAL_ENTRIES),
            free: NONE,
            lists,
            occupied: [0; BITMAP_WORDS],
            occupied_words: 0,
            in_wheel: 0,
            later: BinaryHeap::new(),
            next_sequence: 0,
            now_us: 0,
        }
    }
}

impl<T> Drop for EventQueue<T> {
    /// Empties the lists still in use (the occupied slots, by the bitmap) and leaves the wheel
    /// for the next queue on this thread.
    fn drop(&mut self) {
        for (word, &bits) in self.occupied.iter().enumerate() {
            let mut bits = bits;
            while bits != 0 {
                self.lists[word * 64 + bits.trailing_zeros() as usize] = EMPTY;
                bits &= bits - 1;
            }
        }
        let lists = std::mem::take(&mut self.lists);
        // During a thread's teardown the slot may be gone; the wheel is then simply freed.
        let _ = SPARE_LISTS.try_with(|spare| spare.set(Some(lists)));
    }
}

impl<T> EventQueue<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Schedules `item` at `at_us`, which is not before the last item taken: the simulator
    /// only schedules ahead (latencies, timers and heals are added to now; a scenario's timed
    /// commands are sorted by time, and its faults are all scheduled at time 0). A debug
    /// build asserts it; a release build counts an earlier time as now, so the order stays
    /// defined even if a future caller broke the rule. Inline: the item is then built where
    /// it is stored, not built, passed and copied.
    #[inline(always)]
    pub fn push(&mut self, at_us: u64, item: T) {
        self.push_with(at_us, || item);
    }

    /// [`Self::push`] for the item `make` returns, made once its entry is known, so that it
    /// can be built in place: an item built on the stack and copied over is read back with
    /// wide loads from narrower stores, and the CPU stalls on the copy (on every message's
    /// way into the queue).
    #[inline(always)]
    pub fn push_with(&mut self, at_us: u64, make: impl FnOnce() -> T) {
        debug_assert!(
            at_us >= self.now_us,
            "scheduled at {at_us} us, before now ({} us)",
            self.now_us
        );
        let at_us = at_us.max(self.now_us);
        let entry = self.store_with(make);
        if at_us - self.now_us < WHEEL_US {
            self.append_to_wheel(entry, at_us);
        } else {
            let sequence = self.next_sequence;
            self.next_sequence += 1;
            self.later.push(Reverse((at_us, sequence, entry)));
        }
    }

    /// The earliest item and its time. Inlined into the loop of every node type: it is the
    /// loop's hottest call.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<(u64, T)> {
        if self.in_wheel == 0 {
            // Jump to the next far item: it and all others now within reach enter the wheel.
            let &Reverse((at_us, _, _)) = self.later.peek()?;
            self.advance_to(at_us);
        }
        let at_us = self.earliest_in_wheel();
        let slot = (at_us & WHEEL_MASK) as usize;
        let entry = self.lists[slot].head;
        let next = self.next[entry as usize];
        self.lists[slot].head = next;
        if next == NONE {
            self.lists[slot].tail = NONE;
            let word = slot / 64;
            self.occupied[word] &= !(1 << (slot % 64));
            if self.occupied[word] == 0 {
                self.occupied_words &= !(1 << word);
            }
        }
        self.in_wheel -= 1;
        if at_us > self.now_us {
            // Inline, as most steps move time on and find no far item (the heap's code stays
            // out of line).
            self.now_us = at_us;
            if !self.later.is_empty() {
                self.advance_to(at_us);
            }
        }
        self.next[entry as usize] = self.free;
        self.free = entry;
        let item = self.items[entry as usize]
            .take()
            .expect("an entry in the wheel holds an item");
        Some((at_us, item))
    }

    /// The items waiting, in no particular order.
    pub fn items(&self) -> impl Iterator<Item = &T> {
        self.items.iter().flatten()
    }

    pub fn len(&self) -> usize {
        self.in_wheel + self.later.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// In a free entry (inline: almost always one is free), else in a new one.
    #[inline(always)]
    fn store_with(&mut self, make: impl FnOnce() -> T) -> u32 {
        match self.free {
            NONE => self.store_new(make()),
            entry => {
                self.free = self.next[entry as usize];
                // A free entry holds nothing: nothing to drop (and no code to look).
                let old = self.items[entry as usize].replace(make());
                debug_assert!(old.is_none(), "a free entry holds no item");
                std::mem::forget(old);
                self.next[entry as usize] = NONE;
                entry
            }
        }
    }

    #[inline(never)]
    fn store_new(&mut self, item: T) -> u32 {
        self.items.push(Some(item));
        self.next.push(NONE);
        u32::try_from(self.items.len() - 1)
            .ok()
            .filter(|&entry| entry != NONE)
            .expect("fewer than 2^32 - 1 pending items")
    }

    /// Appends `entry`, due at `at_us` (within the wheel's reach), to its slot's list.
    fn append_to_wheel(&mut self, entry: u32, at_us: u64) {
        let slot = (at_us & WHEEL_MASK) as usize;
        match self.lists[slot].tail {
            NONE => {
                self.lists[slot].head = entry;
                self.occupied[slot / 64] |= 1 << (slot % 64);
                self.occupied_words |= 1 << (slot / 64);
            }
            tail => self.next[tail as usize] = entry,
        }
        self.lists[slot].tail = entry;
        self.in_wheel += 1;
    }

    /// Now is `at_us`: the far items within reach of it move into the wheel, earliest (and
    /// first scheduled) first.
    fn advance_to(&mut self, at_us: u64) {
        self.now_us = at_us;
        while let Some(&Reverse((far_us, _, entry))) = self.later.peek() {
            if far_us - at_us >= WHEEL_US {
                break;
            }
            self.later.pop();
            self.append_to_wheel(entry, far_us);
        }
    }

    /// The time of the earliest item in the (non-empty) wheel: the first occupied slot from
    /// now's, going round once.
    fn earliest_in_wheel(&self) -> u64 {
        let start = (self.now_us & WHEEL_MASK) as usize;
        let (word, bit) = (start / 64, start % 64);
        // The rest of now's word, the other words in order, then the start of now's word.
        let first = self.occupied[word] & (u64::MAX << bit);
        let offset = if first != 0 {
            first.trailing_zeros() as usize - bit
        } else {
            // The next occupied word after now's, going round: now's word itself comes last
            // (its slots before now's are the far end of the wheel).
            let after = self
                .occupied_words
                .rotate_right(((word + 1) % BITMAP_WORDS) as u32);
            debug_assert!(after != 0, "the wheel holds an item");
            let index = (word + 1 + after.trailing_zeros() as usize) % BITMAP_WORDS;
            let slot = index * 64 + self.occupied[index].trailing_zeros() as usize;
            (slot + WHEEL_US as usize - start) % WHEEL_US as usize
        };
        self.now_us + offset as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut queue = EventQueue::new();
        queue.push(5, "late");
        queue.push(1, "first at 1");
        queue.push(1, "second at 1");
        queue.push(0, "earliest");
        let order: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(
            order,
            vec![
                (0, "earliest"),
                (1, "first at 1"),
                (1, "second at 1"),
                (5, "late")
            ]
        );
    }

    #[test]
    fn pops_in_the_order_of_a_sorted_list_under_mixed_pushes_and_pops() {
        // A fixed pseudo-random mix (xorshift), with many equal times, near and far, checked
        // against the order (time, push order) that a stable sort gives.
        let mut queue = EventQueue::new();
        let mut waiting: Vec<(u64, u64)> = Vec::new();
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut now = 0;
        for pushed in 0..20_000_u64 {
            // Mostly near, sometimes beyond the wheel's reach or right at its edge.
            let at_us = match next() % 10 {
                0 => now + WHEEL_US - 1 + next() % 3,
                1 => now + next() % (3 * WHEEL_US),
                _ => now + next() % 50,
            };
            queue.push(at_us, pushed);
            waiting.push((at_us, pushed));
            while next() % 3 == 0 {
                let expected = waiting.iter().copied().min();
                if let Some(expected) = expected {
                    waiting.retain(|&entry| entry != expected);
                    now = expected.0;
                }
                assert_eq!(queue.pop(), expected);
            }
            assert_eq!(queue.len(), waiting.len());
        }
        waiting.sort_unstable();
        let rest: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(rest, waiting);
    }

    /// The simulator never schedules in the past; a debug build (the tests') says so at once
    /// rather than running the item at a time it was not given.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "scheduled at 3 us, before now (70 us)")]
    fn scheduling_before_now_is_a_bug_a_debug_build_catches() {
        let mut queue = EventQueue::new();
        queue.push(70, "now");
        assert_eq!(queue.pop(), Some((70, "now")));
        queue.push(3, "in the past");
    }

    #[test]
    fn a_dropped_queue_leaves_an_empty_wheel_to_the_next_one() {
        let mut queue = EventQueue::new();
        for at_us in [3, 3, 70, 4095, 2 * WHEEL_US] {
            queue.push(at_us, at_us);
        }
        assert_eq!(queue.pop(), Some((3, 3)));
        drop(queue);
        // Same thread: the next queue gets that wheel, with every list empty again.
        let mut next: EventQueue<u64> = EventQueue::new();
        assert!(
            next.lists
                .iter()
                .all(|list| list.head == NONE && list.tail == NONE)
        );
        next.push(70, 1);
        next.push(3, 2);
        assert_eq!(next.pop(), Some((3, 2)));
        assert_eq!(next.pop(), Some((70, 1)));
        assert_eq!(next.pop(), None);
    }

    #[test]
    fn a_far_item_goes_before_a_near_one_scheduled_later_at_the_same_time() {
        let mut queue = EventQueue::new();
        let far_us = 3 * WHEEL_US;
        queue.push(far_us, "far, scheduled first");
        queue.push(far_us - WHEEL_US + 10, "step");
        assert_eq!(queue.pop(), Some((far_us - WHEEL_US + 10, "step")));
        // Now the far time is within reach: a new item at that time queues behind it.
        queue.push(far_us, "near, scheduled second");
        queue.push(far_us + 5 * WHEEL_US, "farther");
        assert_eq!(queue.len(), 3);
        assert_eq!(queue.items().count(), 3);
        assert_eq!(queue.pop(), Some((far_us, "far, scheduled first")));
        assert_eq!(queue.pop(), Some((far_us, "near, scheduled second")));
        assert_eq!(queue.pop(), Some((far_us + 5 * WHEEL_US, "farther")));
        assert!(queue.is_empty());
        assert_eq!(queue.pop(), None);
    }
}
