//! Client ids and the table slots they name.
//!
//! Users see clients numbered from 1 to N (as in the original three-terminal program); tables
//! with one entry per client hold them in slots 0 to N - 1. [`ClientId`]'s methods are the only
//! place that translates between the two.

use std::fmt;
use std::num::ParseIntError;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A client's id: its number, from 1 to N, as users see it.
///
/// It prints (with `{}` and `{:?}`) as the plain number, so texts and traces read the same as
/// the number would. An id read from a file may be out of range (0 or above N) until the file
/// is validated, so the type holds any `u32`. Scenarios and traces write it as the number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(u32);

impl ClientId {
    /// The id numbered `number`.
    #[inline(always)]
    pub const fn new(number: u32) -> ClientId {
        ClientId(number)
    }

    /// The id held in `slot` of a table with one entry per client.
    #[inline(always)]
    pub const fn from_index(slot: usize) -> ClientId {
        ClientId(slot as u32 + 1)
    }

    /// The number users see (1 to N).
    #[inline(always)]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The 0-based slot of this id in a table with one entry per client. Id 0 has no slot: an id
    /// not yet validated goes through [`ClientId::checked_index`].
    #[inline(always)]
    pub const fn index(self) -> usize {
        self.0 as usize - 1
    }

    /// The slot of this id, or `None` for id 0 (ids read from files are not yet validated).
    #[inline(always)]
    pub const fn checked_index(self) -> Option<usize> {
        (self.0 as usize).checked_sub(1)
    }

    /// Whether this id names one of `clients` clients (1 to `clients`).
    #[inline(always)]
    pub const fn is_among(self, clients: u32) -> bool {
        self.0 >= 1 && self.0 <= clients
    }

    /// The ids of `clients` clients, in order: 1 to `clients`.
    pub fn all(clients: u32) -> impl DoubleEndedIterator<Item = ClientId> + Clone {
        (1..=clients).map(ClientId)
    }
}

impl FromStr for ClientId {
    type Err = ParseIntError;

    /// Reads the plain number, as `u32` does.
    fn from_str(text: &str) -> Result<ClientId, ParseIntError> {
        text.parse().map(ClientId)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_from_index_translate_both_ways() {
        assert_eq!(ClientId::new(1).index(), 0);
        assert_eq!(ClientId::new(7).index(), 6);
        assert_eq!(ClientId::from_index(6), ClientId::new(7));
        let all: Vec<u32> = ClientId::all(3).map(ClientId::get).collect();
        assert_eq!(all, vec![1, 2, 3]);
    }

    #[test]
    fn prints_as_the_plain_number() {
        let id = ClientId::new(12);
        assert_eq!(format!("{id} {id:?} {:>4}", id), "12 12   12");
    }
}
