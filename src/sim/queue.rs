//! The event queue: a binary heap keyed by (time, insertion sequence), so events at the same
//! simulated time run in the order they were scheduled.
//!
//! The heap holds only the keys and a slot number (24 bytes); the items wait in a slab beside
//! it. A heap moves its entries on every push and pop, and the simulator's items (a message
//! in flight) are several times larger than the keys.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A min-queue of items by time; ties break by insertion order.
pub struct EventQueue<T> {
    /// (time, insertion sequence, slot in `items`); the sequence is unique, so the slot never
    /// decides the order.
    heap: BinaryHeap<Reverse<(u64, u64, u32)>>,
    items: Vec<Option<T>>,
    /// Slots of `items` free for reuse.
    free: Vec<u32>,
    next_sequence: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            items: Vec::new(),
            free: Vec::new(),
            next_sequence: 0,
        }
    }
}

impl<T> EventQueue<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, at_us: u64, item: T) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.items[slot as usize] = Some(item);
                slot
            }
            None => {
                self.items.push(Some(item));
                u32::try_from(self.items.len() - 1).expect("fewer than 2^32 pending items")
            }
        };
        self.heap.push(Reverse((at_us, sequence, slot)));
    }

    /// The earliest item and its time.
    pub fn pop(&mut self) -> Option<(u64, T)> {
        let Reverse((at_us, _, slot)) = self.heap.pop()?;
        self.free.push(slot);
        let item = self.items[slot as usize]
            .take()
            .expect("a slot in the heap holds an item");
        Some((at_us, item))
    }

    /// The items waiting, in no particular order.
    pub fn items(&self) -> impl Iterator<Item = &T> {
        self.items.iter().flatten()
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
        // A fixed pseudo-random mix (xorshift), with many equal times, checked against the
        // order (time, push order) that a stable sort gives.
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
            let at_us = now + next() % 50;
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
}
