//! Small pieces of English shared by every message a person reads.

/// `n` and `noun`, with the noun in the plural unless `n` is 1: `count(1, "block")` is
/// "1 block", `count(3, "block")` is "3 blocks". For nouns whose plural adds an "s".
pub fn count<N: Copy + std::fmt::Display + TryInto<u64>>(n: N, noun: &str) -> String {
    if n.try_into().is_ok_and(|n| n == 1) {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(0u64, "block"), "0 blocks");
        assert_eq!(count(1u64, "block"), "1 block");
        assert_eq!(count(2u32, "run"), "2 runs");
        assert_eq!(count(1usize, "event"), "1 event");
    }
}
