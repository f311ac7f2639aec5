//! Client ids and the table slots they name.
//!
//! Users see clients numbered from 1 to N (as in the original three-terminal program); tables
//! with one entry per client hold them in slots 0 to N - 1. [`ClientIndex::index`] and
//! [`client_at`] are the only places that translate between the two.

/// Client ids run from 1 to N, as in the original three-terminal program.
pub type ClientId = u32;

/// The slot of a client id in a table with one entry per client.
pub trait ClientIndex {
    /// The 0-based slot of this 1-based id.
    fn index(self) -> usize;
}

impl ClientIndex for ClientId {
    #[inline(always)]
    fn index(self) -> usize {
        self as usize - 1
    }
}

/// The id of the client held in `slot` of a table with one entry per client.
#[inline(always)]
pub fn client_at(slot: usize) -> ClientId {
    slot as ClientId + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_client_at_translate_both_ways() {
        assert_eq!(1.index(), 0);
        assert_eq!(7.index(), 6);
        assert_eq!(client_at(0), 1);
        assert_eq!(client_at(6), 7);
    }
}
