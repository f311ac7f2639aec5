//! `no_overdraft`: no transfer is committed beyond the payer's balance.
//!
//! The check replays the balances along the chain of blocks in index order (one table, not one
//! per client: a client whose ledger differs is `ledger_agreement`'s to report).

use super::{Invariant, Violation};
use crate::protocol::{Amount, Block, ClientId};
use crate::trace::{Event, EventKind};

#[derive(Clone, Debug)]
pub struct NoOverdraft {
    /// Balances after the first `replayed` blocks; index `id - 1` is client `id`.
    balances: Vec<Amount>,
    replayed: u64,
}

impl NoOverdraft {
    pub fn new(initial_balances: &[Amount]) -> Self {
        NoOverdraft {
            balances: initial_balances.to_vec(),
            replayed: 0,
        }
    }

    /// Runs on every client step (inline); the violation is built out of line.
    #[inline]
    pub fn observe(&mut self, event: &Event) -> Option<Violation> {
        let (EventKind::Commit { block } | EventKind::Apply { block }) = &event.kind else {
            return None;
        };
        self.observe_block(event.node, block)
    }

    /// A block that `node` committed or appended: what [`Self::observe`] checks of a `commit`
    /// or `apply` event.
    #[inline]
    pub fn observe_block(&mut self, node: Option<ClientId>, block: &Block) -> Option<Violation> {
        if block.index() != self.replayed {
            return None;
        }
        self.replayed += 1;
        let from = block
            .from()
            .checked_index()
            .filter(|&slot| slot < self.balances.len())?;
        let to = block
            .to()
            .checked_index()
            .filter(|&slot| slot < self.balances.len())?;
        // Money only moves, so no balance exceeds the initial total, which the scenario
        // validator and the trace reader keep within `Amount`; saturating keeps this check
        // safe on its own should a caller skip them.
        let balance = self.balances[from];
        if balance < block.amount() {
            self.balances[from] = 0;
            self.balances[to] = self.balances[to].saturating_add(balance);
            return Some(overdraft(node, block, balance));
        }
        self.balances[from] -= block.amount();
        self.balances[to] = self.balances[to].saturating_add(block.amount());
        None
    }
}

/// The violation for `block`, which pays more than the payer's `balance`.
#[cold]
#[inline(never)]
fn overdraft(node: Option<ClientId>, block: &Block, balance: Amount) -> Violation {
    let before = match block.index() {
        0 => "before any block".to_string(),
        1 => "after the block before it".to_string(),
        blocks => format!("after the {blocks} blocks before it"),
    };
    let violation = Violation::new(
        Invariant::NoOverdraft,
        node,
        format!(
            "block {} has client {} pay {} but {before} client {} had only {balance}",
            block.index(),
            block.from(),
            block.amount(),
            block.from()
        ),
    );
    let mut involved = vec![block.from()];
    involved.extend(node.filter(|&node| node != block.from()));
    violation.with_clients(&involved)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::protocol::{Block, ClientId, GENESIS_PREV};

    fn commit(block: &Block) -> Event {
        Event {
            seq: 0,
            t_us: 0,
            node: Some(block.from()),
            clock: 1,
            kind: EventKind::Commit {
                block: Arc::new(block.clone()),
            },
        }
    }

    #[test]
    fn spending_the_whole_balance_is_fine_but_not_more() {
        let mut check = NoOverdraft::new(&[10, 10]);
        let first = Block::new(0, GENESIS_PREV, 1, ClientId::new(1), ClientId::new(2), 10);
        assert_eq!(check.observe(&commit(&first)), None);
        let second = Block::new(
            1,
            first.hash_value(),
            2,
            ClientId::new(1),
            ClientId::new(2),
            1,
        );
        let violation = check.observe(&commit(&second)).unwrap();
        assert_eq!(violation.invariant, Invariant::NoOverdraft);
        assert!(
            violation.detail.contains("had only 0"),
            "{}",
            violation.detail
        );
    }

    #[test]
    fn balances_near_the_largest_amount_do_not_overflow() {
        // Not reachable through the validator (initial totals fit an `Amount`), but the
        // check must stay safe on its own.
        let mut check = NoOverdraft::new(&[Amount::MAX, 5]);
        let block = Block::new(0, GENESIS_PREV, 1, ClientId::new(2), ClientId::new(1), 5);
        assert_eq!(check.observe(&commit(&block)), None);
    }
}
