//! A client's balance table, which the blocks of its ledger produce.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::block::{Block, BlockRejection};
use super::{Amount, ClientId};

/// A client's balance table: client id -> balance.
///
/// Up to [`DENSE_TABLE_CLIENTS`] clients it is a plain array. Beyond, it is stored as the
/// initial balances, shared by every client of a run, plus the entries that differ from them:
/// each block changes two entries, so a table costs O(changes) rather than O(N), and N clients
/// do not hold N copies of an N-entry table. An entry that returns to its initial value is
/// dropped, so equal tables are equal as values (and hash alike) either way.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BalanceTable {
    /// Index `id - 1` holds client `id`'s initial balance.
    initial: Arc<[Amount]>,
    balances: Balances,
    /// The sum of every balance, kept up to date by each change (u128: no table overflows
    /// it), so that conservation is checked in O(1) after every commit and apply.
    total: u128,
}

/// Up to this many clients a balance table holds every balance (at most 2 KiB each, 512 KiB
/// for all clients' tables): indexing beats a tree lookup, which a 64-client run feels.
pub const DENSE_TABLE_CLIENTS: usize = 256;

/// The balances of a [`BalanceTable`]; which form depends only on the number of clients.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Balances {
    /// Index `id - 1` holds client `id`'s balance.
    Every(Box<[Amount]>),
    /// Client id -> balance, for the balances that differ from the initial ones.
    Changed(BTreeMap<ClientId, Amount>),
}

impl BalanceTable {
    pub fn new(initial: impl Into<Arc<[Amount]>>) -> Self {
        let initial: Arc<[Amount]> = initial.into();
        let balances = if initial.len() <= DENSE_TABLE_CLIENTS {
            Balances::Every(initial.iter().copied().collect())
        } else {
            Balances::Changed(BTreeMap::new())
        };
        BalanceTable {
            total: initial.iter().map(|&balance| u128::from(balance)).sum(),
            initial,
            balances,
        }
    }

    /// The initial balances this table started from.
    pub fn initial(&self) -> &Arc<[Amount]> {
        &self.initial
    }

    /// How many clients the table covers.
    pub fn len(&self) -> usize {
        self.initial.len()
    }

    pub fn is_empty(&self) -> bool {
        self.initial.is_empty()
    }

    /// The balance of `id`; 0 for an id outside the table.
    pub fn get(&self, id: ClientId) -> Amount {
        let Some(slot) = self.slot(id) else {
            return 0;
        };
        match &self.balances {
            Balances::Every(balances) => balances[slot],
            Balances::Changed(changed) => changed.get(&id).copied().unwrap_or(self.initial[slot]),
        }
    }

    /// Balances in id order, starting with client 1.
    pub fn iter(&self) -> impl Iterator<Item = Amount> + '_ {
        (0..self.initial.len()).map(|slot| self.get(ClientId::from_index(slot)))
    }

    /// Balances in id order, starting with client 1.
    pub fn to_vec(&self) -> Vec<Amount> {
        self.iter().collect()
    }

    /// The sum of all balances. O(1).
    pub fn total(&self) -> u128 {
        self.total
    }

    fn slot(&self, id: ClientId) -> Option<usize> {
        let slot = id.checked_index()?;
        (slot < self.initial.len()).then_some(slot)
    }

    /// Sets the balance of `id`, which must be in the table.
    fn set(&mut self, id: ClientId, balance: Amount) {
        let Some(slot) = self.slot(id) else {
            return;
        };
        self.total = self.total - u128::from(self.get(id)) + u128::from(balance);
        match &mut self.balances {
            Balances::Every(balances) => balances[slot] = balance,
            Balances::Changed(changed) if self.initial[slot] == balance => {
                changed.remove(&id);
            }
            Balances::Changed(changed) => {
                changed.insert(id, balance);
            }
        }
    }

    /// Moves `block.amount()` from `block.from()` to `block.to()`, or changes nothing and says why.
    pub fn apply(&mut self, block: &Block) -> Result<(), BlockRejection> {
        let (Some(from_slot), Some(to_slot)) = (self.slot(block.from()), self.slot(block.to()))
        else {
            let id = if self.slot(block.from()).is_none() {
                block.from()
            } else {
                block.to()
            };
            return Err(BlockRejection::UnknownClient { id });
        };
        let balance = self.get(block.from());
        let Some(debited) = balance.checked_sub(block.amount()) else {
            return Err(BlockRejection::Overdraft {
                from: block.from(),
                balance,
                amount: block.amount(),
            });
        };
        if block.from() == block.to() {
            return Ok(());
        }
        // Cannot overflow: the amount came out of a balance, and balances sum to at most the
        // initial total, which scenario validation keeps within u64.
        let credited = self.get(block.to()) + block.amount();
        match &mut self.balances {
            // Every commit and apply comes here: two stores. The money moves, so the total
            // stays.
            Balances::Every(balances) => {
                balances[from_slot] = debited;
                balances[to_slot] = credited;
            }
            Balances::Changed(_) => {
                self.set(block.from(), debited);
                self.set(block.to(), credited);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::GENESIS_PREV;

    #[test]
    fn both_forms_of_the_balance_table_give_the_same_balances() {
        for clients in [3, DENSE_TABLE_CLIENTS, DENSE_TABLE_CLIENTS + 1] {
            let mut table = BalanceTable::new(vec![10; clients]);
            let last = ClientId::from_index(clients - 1);
            let pay = |from, to, amount| Block::new(0, GENESIS_PREV, 1, from, to, amount);
            table.apply(&pay(ClientId::new(1), last, 4)).unwrap();
            table.apply(&pay(last, ClientId::new(2), 1)).unwrap();
            assert_eq!(
                (
                    table.get(ClientId::new(1)),
                    table.get(ClientId::new(2)),
                    table.get(last)
                ),
                (6, 11, 13)
            );
            assert_eq!(
                table.get(ClientId::new(last.get() + 1)),
                0,
                "outside the table"
            );
            assert_eq!(table.total(), 10 * clients as u128);
            assert_eq!(table.iter().filter(|&balance| balance != 10).count(), 3);
            // Back to the initial balances: equal, as a value, to a fresh table.
            table.apply(&pay(last, ClientId::new(1), 4)).unwrap();
            table.apply(&pay(ClientId::new(2), last, 1)).unwrap();
            assert_eq!(
                table,
                BalanceTable::new(vec![10; clients]),
                "{clients} clients"
            );
        }
    }

    #[test]
    fn unknown_client_is_rejected() {
        let mut table = BalanceTable::new([10, 10]);
        let block = Block::new(0, GENESIS_PREV, 1, ClientId::new(1), ClientId::new(3), 3);
        assert_eq!(
            table.apply(&block),
            Err(BlockRejection::UnknownClient {
                id: ClientId::new(3)
            })
        );
        assert_eq!(table.to_vec(), [10, 10]);
    }
}
