//! Seed ranges (`--seeds A..B`) and shards (`--shard K/N`): which seeds a sweep runs.
//!
//! The shard rule is part of the command line's contract (docs/hunting.md): of the seeds
//! `A..B`, shard `K/N` runs exactly the seeds `s` with `(s - A) % N == K - 1`. The N shards are
//! disjoint, together they cover the range, and their sizes differ by at most one.

use std::fmt;
use std::str::FromStr;

/// A non-empty range of seeds, stored with both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    pub first: u64,
    pub last: u64,
}

impl SeedRange {
    /// How many seeds the range holds (at least 1; `0..=u64::MAX` is refused when parsed, so
    /// this fits).
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }
}

impl FromStr for SeedRange {
    type Err = String;

    /// `A..B` (B excluded, as in Rust), `A..=B` (B included) or a single seed `S`.
    fn from_str(text: &str) -> Result<Self, String> {
        let number = |part: &str| {
            part.trim().parse::<u64>().map_err(|_| {
                format!(
                    "\"{text}\" is not a seed range: \"{part}\" is not a whole number from 0 to {}",
                    u64::MAX
                )
            })
        };
        let range = if let Some((a, b)) = text.split_once("..=") {
            let (first, last) = (number(a)?, number(b)?);
            if last < first {
                return Err(format!(
                    "the seed range {text} is empty: its end {last} is below its start {first}"
                ));
            }
            if first == 0 && last == u64::MAX {
                return Err(format!(
                    "the seed range {text} holds 2^64 seeds, one more than a sweep can count"
                ));
            }
            SeedRange { first, last }
        } else if let Some((a, b)) = text.split_once("..") {
            let (first, end) = (number(a)?, number(b)?);
            if end <= first {
                return Err(format!(
                    "the seed range {text} is empty: A..B runs the seeds from A up to but not \
                     including B, so B must be greater than A"
                ));
            }
            SeedRange {
                first,
                last: end - 1,
            }
        } else {
            let seed = number(text)?;
            SeedRange {
                first: seed,
                last: seed,
            }
        };
        Ok(range)
    }
}

impl fmt::Display for SeedRange {
    /// The canonical spelling: `A..B` with B excluded, or `A..=B` when B would not fit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.last.checked_add(1) {
            Some(end) => write!(f, "{}..{end}", self.first),
            None => write!(f, "{}..={}", self.first, self.last),
        }
    }
}

/// Slice `index` (1-based) of `count` disjoint slices of a seed range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole range as one slice.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "\"{text}\" is not a shard: write K/N with whole numbers 1 <= K <= N, e.g. 2/8 \
                 for the second of eight slices"
            )
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(format!(
                "the shard {text} does not exist: K/N needs 1 <= K <= N (shards are numbered \
                 from 1)"
            ));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The seeds one sweep runs: one shard of a range, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedSet {
    pub range: SeedRange,
    pub shard: Shard,
}

impl SeedSet {
    pub fn new(range: SeedRange, shard: Shard) -> Self {
        SeedSet { range, shard }
    }

    /// How many seeds this shard runs (0 when the shard is past the end of a short range).
    pub fn len(&self) -> u64 {
        let offset = self.shard.index - 1;
        match self.range.len().checked_sub(offset) {
            Some(rest) if rest > 0 => (rest - 1) / self.shard.count + 1,
            _ => 0,
        }
    }

    /// The `i`-th seed of the shard (`i < len()`).
    pub fn nth(&self, i: u64) -> u64 {
        debug_assert!(i < self.len());
        self.range.first + (self.shard.index - 1) + i * self.shard.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> SeedRange {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_parse_with_the_end_excluded_or_included() {
        assert_eq!(
            range("0..200"),
            SeedRange {
                first: 0,
                last: 199
            }
        );
        assert_eq!(range("5..=5"), SeedRange { first: 5, last: 5 });
        assert_eq!(
            range("42"),
            SeedRange {
                first: 42,
                last: 42
            }
        );
        assert_eq!(range("3..10").len(), 7);
        assert_eq!(range("3..10").to_string(), "3..10");
        let top = format!("1..={}", u64::MAX);
        assert_eq!(range(&top).to_string(), top);
    }

    #[test]
    fn empty_and_malformed_ranges_are_refused() {
        for text in ["5..3", "5..5", "9..=8", "a..3", "1..", "..4", "-1..3", ""] {
            assert!(text.parse::<SeedRange>().is_err(), "{text}");
        }
        let full = format!("0..={}", u64::MAX);
        assert!(full.parse::<SeedRange>().is_err());
    }

    #[test]
    fn shards_need_one_based_k_at_most_n() {
        assert_eq!(
            "2/3".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 3 }
        );
        for text in ["0/3", "4/3", "1/0", "3", "a/b", "1/2/3"] {
            assert!(text.parse::<Shard>().is_err(), "{text}");
        }
    }

    #[test]
    fn shards_are_disjoint_cover_the_range_and_follow_the_documented_rule() {
        for (text, n) in [("10..27", 3), ("0..5", 7), ("100..=100", 2), ("7..8", 1)] {
            let range = range(text);
            let mut all: Vec<u64> = Vec::new();
            for k in 1..=n {
                let set = SeedSet::new(range, Shard { index: k, count: n });
                let seeds: Vec<u64> = (0..set.len()).map(|i| set.nth(i)).collect();
                assert_eq!(seeds.len() as u64, set.len());
                for &seed in &seeds {
                    assert_eq!((seed - range.first) % n, k - 1, "{text} shard {k}/{n}");
                }
                all.extend(seeds);
            }
            all.sort_unstable();
            let expected: Vec<u64> = (range.first..=range.last).collect();
            assert_eq!(all, expected, "{text} in {n} shards");
        }
    }
}
