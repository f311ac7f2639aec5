//! `conservation`: every client's own balance table sums to the initial total.

use super::{Invariant, Violation};
use crate::protocol::{Amount, ClientId};

#[derive(Clone, Debug)]
pub struct Conservation {
    initial_total: u128,
}

impl Conservation {
    pub fn new(initial_balances: &[Amount]) -> Self {
        Conservation {
            initial_total: total(initial_balances),
        }
    }

    /// Checks client `node`'s table (index `id - 1` is client `id`).
    pub fn check(&self, node: ClientId, table: &[Amount]) -> Option<Violation> {
        self.check_total(node, total(table))
    }

    /// Checks client `node`'s table by its sum (after every commit and apply: inline, the
    /// violation built out of line).
    #[inline]
    pub fn check_total(&self, node: ClientId, sum: u128) -> Option<Violation> {
        (sum != self.initial_total).then(|| self.unbalanced(node, sum))
    }

    #[cold]
    #[inline(never)]
    fn unbalanced(&self, node: ClientId, sum: u128) -> Violation {
        Violation::new(
            Invariant::Conservation,
            Some(node),
            format!(
                "client {node}'s balance table sums to {sum} but the clients started with {} in \
                 all",
                self.initial_total
            ),
        )
    }
}

fn total(balances: &[Amount]) -> u128 {
    balances.iter().map(|&b| u128::from(b)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_that_appears_or_vanishes_is_caught() {
        let check = Conservation::new(&[10, 10, 10]);
        assert_eq!(check.check(ClientId::new(1), &[3, 17, 10]), None);
        let violation = check.check(ClientId::new(2), &[3, 10, 10]).unwrap();
        assert!(
            violation.detail.contains("sums to 23"),
            "{}",
            violation.detail
        );
    }
}
