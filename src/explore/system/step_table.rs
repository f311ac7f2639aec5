//! An expander's own table of the client steps it has met, read without a lock.

use rustc_hash::FxHashMap;

use crate::explore::region::Region;
use crate::explore::store::prefetch;
use crate::explore::table::double_in_place;

/// A remembered client step, in an expander's own table.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Effect {
    pub(super) next: u32,
    pub(super) sends_start: u32,
    pub(super) sends_len: u32,
    /// 0: the step has no finding (the clock condition held, the step is no node error);
    /// otherwise 1 + index into `problems`.
    pub(super) problem: u32,
}

/// An expander's own table of client steps: open addressing over 16-byte slots (four to a
/// cache line), the key and the step packed into one word each, in a [`Region`] (a few dozen
/// MiB for a few million steps, read at random), in huge pages from 2 MiB on: in 4 KiB pages
/// nearly every look-up would also miss the TLB (a long walk on a virtual machine), and the
/// table is small next to the store, so filling in its huge pages costs little. It doubles
/// in place ([`double_in_place`]).
///
/// Not hashbrown's `HashMap` with FxHash: as this table it took 1.15x the CPU time of this
/// one on the complete default run (`explore scenarios/default.json --jobs 1`).
///
/// Key: `(local + 1)` in the top 26 bits, the input kind and argument in 10, the message in
/// 28. Step: the next client state in the top 32 bits, where its sends start (27 bits), how
/// many (4 bits), and whether the step has a finding (1 bit; the finding itself is kept on the
/// side).
pub(super) struct EffectTable {
    pub(super) slots: Region<[u64; 2]>,
    pub(super) bits: u32,
    pub(super) len: usize,
    /// Packed key -> 1 + index into the expander's `problems`.
    pub(super) problems: FxHashMap<u64, u32>,
}

/// The most client states and messages a search interns: a step table key has 26 bits for
/// the client state (plus one) and 28 for the message.
pub(super) const MAX_CLIENT_STATES: u32 = (1 << 26) - 1;
pub(super) const MAX_MESSAGES: u32 = 1 << 28;

/// Spreads a step's key over the table (Fibonacci hashing: the home is the product's top bits).
pub(super) const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

impl EffectTable {
    pub(super) fn new() -> Self {
        EffectTable {
            slots: Region::zeroed_in_huge_pages(1 << 12),
            bits: 12,
            len: 0,
            problems: FxHashMap::default(),
        }
    }

    pub(super) fn key(local: u32, input: u32, msg: u32) -> u64 {
        let (kind, argument) = (input >> 28, input & ((1 << 28) - 1));
        // Interning refuses more client states or messages than this takes (see
        // `MAX_CLIENT_STATES`), and the settings more than 255 transfers per client.
        debug_assert!(
            local < MAX_CLIENT_STATES && argument < 1 << 8 && msg < MAX_MESSAGES,
            "more client states or messages than the step table takes"
        );
        (u64::from(local) + 1) << 38 | u64::from(kind << 8 | argument) << 28 | u64::from(msg)
    }

    pub(super) fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(MULTIPLIER) >> (64 - self.bits)) as usize
    }

    #[inline]
    pub(super) fn prefetch(&self, local: u32, input: u32, msg: u32) {
        let home = self.home(Self::key(local, input, msg));
        prefetch(self.slots.as_ptr().wrapping_add(home));
    }

    pub(super) fn get(&self, local: u32, input: u32, msg: u32) -> Option<Effect> {
        let key = Self::key(local, input, msg);
        let mask = self.slots.len() - 1;
        let mut index = self.home(key);
        loop {
            let [slot_key, value] = self.slots[index];
            if slot_key == 0 {
                return None;
            }
            if slot_key == key {
                let problem = if value & 1 != 0 {
                    self.problems[&key]
                } else {
                    0
                };
                return Some(Effect {
                    next: (value >> 32) as u32,
                    sends_start: ((value >> 5) & ((1 << 27) - 1)) as u32,
                    sends_len: ((value >> 1) & 0xf) as u32,
                    problem,
                });
            }
            index = (index + 1) & mask;
        }
    }

    pub(super) fn insert(&mut self, local: u32, input: u32, msg: u32, effect: Effect) {
        // Doubles above a load of 3/4: a look-up that hits (nearly all) probes about two
        // slots there, mostly in the same cache line, and the table is filled in as huge
        // pages, one per thread (at 5/8 the default scenario's 1.45 million steps needed 64
        // MiB per thread, at 3/4 32 MiB).
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.bits += 1;
            let bits = self.bits;
            double_in_place(&mut self.slots, |[key, _]| {
                (key.wrapping_mul(MULTIPLIER) >> (64 - bits)) as usize
            });
        }
        assert!(
            effect.sends_start < 1 << 27 && effect.sends_len < 16,
            "more sends than the step table takes"
        );
        let key = Self::key(local, input, msg);
        if effect.problem != 0 {
            self.problems.insert(key, effect.problem);
        }
        let value = u64::from(effect.next) << 32
            | u64::from(effect.sends_start) << 5
            | u64::from(effect.sends_len) << 1
            | u64::from(effect.problem != 0);
        self.place([key, value]);
    }

    pub(super) fn place(&mut self, slot: [u64; 2]) {
        let mask = self.slots.len() - 1;
        let mut index = self.home(slot[0]);
        while self.slots[index][0] != 0 {
            index = (index + 1) & mask;
        }
        self.slots[index] = slot;
        self.len += 1;
    }
}
