//! The successors of a batch of states, and what the expanding thread learns of them
//! before the merge.

use super::{Expander, Finding};
use crate::explore::hash::hash_bytes;
use crate::explore::store::StateStore;

/// The successors of one or more states, encoded back to back.
pub struct Successors<S> {
    pub(super) bytes: Vec<u8>,
    pub(super) items: Vec<Item<S>>,
    /// (item index, what the transition broke).
    pub(super) problems: Vec<(u32, Finding)>,
    /// (item index, what the state breaks), for the items marked [`Known::Checked`].
    pub(super) checks: Vec<(u32, Finding)>,
    /// [`Self::sort_out`]'s table of the items not in the store.
    pub(super) local: Vec<u32>,
    /// For each state expanded into this buffer: where its items end.
    pub(super) marks: Vec<u32>,
}

#[derive(Clone, Copy)]
pub(super) struct Item<S> {
    pub(super) step: S,
    pub(super) end: u32,
    /// A successor outside the model (TLA+'s state constraint): counted, never stored.
    pub(super) in_model: bool,
    pub(super) known: Known,
    /// [`hash_bytes`] of the encoding, once [`Successors::hash_items`] has run.
    pub(super) hash: u64,
}

/// What the expanding thread found out about a successor before the merge (with `jobs > 1`,
/// so that this work is shared among the threads).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Known {
    Nothing,
    /// Already in the store when the batch began, or equal to an earlier successor in the
    /// same buffer: the merge will find it stored.
    Stored,
    /// Not in the store when the batch began, and checked (its finding, if any, is in
    /// `checks`): if the merge finds it new, it needs no check.
    Checked,
}

impl<S: Copy> Successors<S> {
    pub fn new() -> Self {
        Successors {
            bytes: Vec::with_capacity(1 << 16),
            items: Vec::new(),
            problems: Vec::new(),
            checks: Vec::new(),
            local: Vec::new(),
            marks: Vec::new(),
        }
    }

    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        self.items.clear();
        self.problems.clear();
        self.checks.clear();
        self.marks.clear();
    }

    /// Empties the buffer (for a model that filters another's successors).
    #[cfg(test)]
    pub fn clear_all(&mut self) {
        self.clear();
    }

    /// Appends the successors of `other` that `keep` selects, with what their steps broke.
    #[cfg(test)]
    pub fn extend_from(&mut self, other: &Successors<S>, keep: impl Fn(&S) -> bool) {
        for index in 0..other.items.len() {
            let item = other.items[index];
            if !keep(&item.step) {
                continue;
            }
            self.bytes.extend_from_slice(other.item_bytes(index));
            self.push(item.step, item.in_model);
            for (_, finding) in other
                .problems
                .iter()
                .filter(|(at, _)| *at as usize == index)
            {
                self.flag_last(finding.clone());
            }
        }
    }

    /// The buffer to write the next successor's encoding into (append only).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Closes the successor written into [`Self::buffer`] since the previous push.
    pub fn push(&mut self, step: S, in_model: bool) {
        self.items.push(Item {
            step,
            end: self.bytes.len() as u32,
            in_model,
            known: Known::Nothing,
            hash: 0,
        });
    }

    /// [`Self::push`] for a successor whose [`hash_bytes`] is known already (computed where
    /// its encoding was written, while it is in the cache).
    pub fn push_hashed(&mut self, step: S, in_model: bool, hash: u64) {
        self.items.push(Item {
            step,
            end: self.bytes.len() as u32,
            in_model,
            known: Known::Nothing,
            hash,
        });
    }

    /// Marks the successor pushed last as breaking a property on the way (a transition
    /// invariant such as the clock condition).
    pub fn flag_last(&mut self, finding: Finding) {
        debug_assert!(!self.items.is_empty());
        self.problems.push((self.items.len() as u32 - 1, finding));
    }

    /// How many successors have been pushed since the last state was closed.
    pub fn pending(&self) -> usize {
        self.items.len() - self.marks.last().copied().unwrap_or(0) as usize
    }

    /// Every successor pushed so far: its step, whether it is inside the model, its encoding.
    pub fn iter(&self) -> impl Iterator<Item = (S, bool, &[u8])> + '_ {
        (0..self.items.len()).map(|index| {
            let item = self.items[index];
            (item.step, item.in_model, self.item_bytes(index))
        })
    }

    pub(super) fn close_state(&mut self) {
        self.marks.push(self.items.len() as u32);
    }

    pub(super) fn item_bytes(&self, index: usize) -> &[u8] {
        let start = if index == 0 {
            0
        } else {
            self.items[index - 1].end as usize
        };
        &self.bytes[start..self.items[index].end as usize]
    }

    /// Hashes every successor not hashed yet (for the merge, and for [`Self::sort_out`]). A
    /// hash of 0 counts as not known: such a successor is hashed again, to the same value.
    pub(super) fn hash_items(&mut self) {
        let mut start = 0;
        for item in &mut self.items {
            if item.hash == 0 {
                item.hash = hash_bytes(&self.bytes[start..item.end as usize]);
            }
            start = item.end as usize;
        }
    }

    /// Looks every hashed successor up in `store` (which the merge has not changed yet):
    /// those already there are marked [`Known::Stored`]; the others are checked with
    /// `expander` and marked [`Known::Checked`]. This is the merge's work for most successors
    /// (most are seen before), done on the expanding threads; the merge then skips what is
    /// known and gets the same answers it would have got itself, in the same order.
    pub(super) fn sort_out<E: Expander<Step = S>>(&mut self, store: &StateStore, expander: &mut E) {
        let size = (self.items.len() * 2).next_power_of_two().max(16);
        self.local.clear();
        self.local.resize(size, 0);
        let mut start = 0;
        for index in 0..self.items.len() {
            if index % PREFETCH_AHEAD == 0 {
                let ahead = (index + PREFETCH_AHEAD).min(self.items.len());
                let end = (index + 2 * PREFETCH_AHEAD).min(self.items.len());
                for item in &self.items[ahead..end] {
                    store.prefetch(item.hash);
                }
            }
            let item = self.items[index];
            let range = start..item.end as usize;
            start = item.end as usize;
            if !item.in_model {
                continue;
            }
            self.items[index].known = if store.contains(&self.bytes[range.clone()], item.hash) {
                Known::Stored
            } else if self.earlier_copy(index, range.start) {
                // The merge meets the first copy first, so it finds this one stored.
                Known::Stored
            } else {
                let findings = expander.check(&self.bytes[range]);
                self.checks
                    .extend(findings.into_iter().map(|finding| (index as u32, finding)));
                Known::Checked
            };
        }
    }
}

impl<S: Copy> Successors<S> {
    /// Whether an earlier item of this buffer (not in the store, as it was looked up first) has
    /// the same encoding as item `index`, which starts at `start`; if not, records this one in
    /// `local`, a small table of such items (their index + 1), for the items after it.
    pub(super) fn earlier_copy(&mut self, index: usize, start: usize) -> bool {
        let hash = self.items[index].hash;
        let bytes = &self.bytes[start..self.items[index].end as usize];
        let mask = self.local.len() - 1;
        let mut at = (hash >> 32) as usize & mask;
        loop {
            let other = self.local[at];
            if other == 0 {
                self.local[at] = index as u32 + 1;
                return false;
            }
            let other = other as usize - 1;
            if self.items[other].hash == hash && self.item_bytes(other) == bytes {
                return true;
            }
            at = (at + 1) & mask;
        }
    }
}

/// The steps from the initial state to state `id`. The store keeps each state's parent but
/// not the step from it (8 bytes a state, a tenth of the store, written once and read only
/// for a finding): each parent on the path is expanded again, and its first successor with the
/// child's encoding is the step the merge recorded the child by, since the merge takes a
/// state's successors in this same order and stores the child at the first equal one.
pub(super) fn steps_to<E: Expander>(store: &StateStore, expander: &mut E, id: u32) -> Vec<E::Step> {
    let states = store.path_to(id);
    let mut successors = Successors::new();
    states
        .windows(2)
        .map(|pair| {
            successors.clear();
            expander.expand(store.get(pair[0]), &mut successors);
            let child = store.get(pair[1]);
            successors
                .iter()
                .find(|&(_, in_model, bytes)| in_model && bytes == child)
                .map(|(step, _, _)| step)
                .expect("a state's parent has it as a successor")
        })
        .collect()
}

/// How many successors ahead of its lookup a successor's table slot is fetched. The slots
/// are fetched in groups of this many, one after the other: each fetch most often misses the
/// TLB too (the table is in 4 KiB pages), and fetches issued together walk the page tables
/// at the same time.
pub(super) const PREFETCH_AHEAD: usize = 16;

impl<S: Copy> Default for Successors<S> {
    fn default() -> Self {
        Self::new()
    }
}
