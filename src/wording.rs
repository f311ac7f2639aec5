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

/// `n` and `one` or `many`, for nouns whose plural is not `one` with an "s":
/// `count_as(2, "crash", "crashes")` is "2 crashes".
pub fn count_as<N: Copy + std::fmt::Display + TryInto<u64>>(n: N, one: &str, many: &str) -> String {
    if n.try_into().is_ok_and(|n| n == 1) {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// A group of clients as the views and sentences name it: `{c1,c2,c3}`.
pub fn client_group<Id: std::fmt::Display>(ids: impl IntoIterator<Item = Id>) -> String {
    let names: Vec<String> = ids.into_iter().map(|id| format!("c{id}")).collect();
    format!("{{{}}}", names.join(","))
}

#[cfg(test)]
mod tests {
    use super::{count, count_as};

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(0u64, "block"), "0 blocks");
        assert_eq!(count(1u64, "block"), "1 block");
        assert_eq!(count(2u32, "run"), "2 runs");
        assert_eq!(count(1usize, "event"), "1 event");
        assert_eq!(count_as(1u64, "crash", "crashes"), "1 crash");
        assert_eq!(count_as(0u64, "crash", "crashes"), "0 crashes");
    }
}
