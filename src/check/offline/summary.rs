//! The summary's ledger heads and balance tables, held to what the ledgers in the events
//! give: each client's table is replayed from the blocks it commits and applies.

use crate::check::Checker;
use crate::protocol::ledger::short_hex;
use crate::protocol::{Amount, ClientId};
use crate::trace::read::{ReadError, TraceSummary};
use crate::trace::{Event, EventKind, Kept};
use crate::wording::count;

/// Each client's own balance table, replayed from its commit, apply and restart events as
/// the client applies them (docs/spec.md section 1, rules 4 and 6).
pub(super) struct Tables {
    initial: Vec<Amount>,
    /// Index `id - 1`: that client's table, `None` while it is still the initial one. Tables
    /// are made on a client's first change, so a header that declares many clients costs
    /// memory only for the clients the events show working (not clients squared up front).
    tables: Vec<Option<Vec<Amount>>>,
}

impl Tables {
    pub(super) fn new(initial: &[Amount]) -> Self {
        Tables {
            initial: initial.to_vec(),
            tables: vec![None; initial.len()],
        }
    }

    /// Client `slot + 1`'s table as it stands.
    fn table(&self, slot: usize) -> &[Amount] {
        self.tables[slot].as_deref().unwrap_or(&self.initial)
    }

    pub(super) fn observe(&mut self, event: &Event) {
        let Some(slot) = event
            .node
            .and_then(|node| node.checked_index())
            .filter(|&slot| slot < self.tables.len())
        else {
            return;
        };
        match &event.kind {
            EventKind::Commit { block } | EventKind::Apply { block } => {
                let table = self.tables[slot].get_or_insert_with(|| self.initial.clone());
                let valid =
                    |id: ClientId| id.checked_index().is_some_and(|slot| slot < table.len());
                if valid(block.from()) && valid(block.to()) {
                    // An overdraft is no_overdraft's to report; the table stays at zero.
                    let paid = table[block.from().index()].min(block.amount());
                    table[block.from().index()] -= paid;
                    table[block.to().index()] += paid;
                }
            }
            EventKind::Restart {
                kept: Kept::Nothing,
            } => self.tables[slot] = None,
            _ => {}
        }
    }
}

/// The summary's heads (and, when nothing broke, its balance tables) must be what the
/// ledgers in the events give.
pub(super) fn check_summary(
    checker: &Checker,
    tables: &Tables,
    summary: &TraceSummary,
    compare_tables: bool,
) -> Result<(), ReadError> {
    let inconsistent = |message: String| ReadError::Invalid {
        line: summary.line,
        column: None,
        message,
    };
    for (slot, (&(length, head), claimed)) in checker
        .ledger_heads()
        .iter()
        .zip(&summary.heads)
        .enumerate()
    {
        if head != *claimed {
            return Err(inconsistent(format!(
                "the summary gives client {}'s ledger head as {}…, but its {} in the events \
                 end in {}…",
                slot + 1,
                short_hex(claimed),
                count(length, "block"),
                short_hex(&head)
            )));
        }
    }
    if compare_tables {
        for (slot, claimed) in summary
            .final_balances
            .iter()
            .enumerate()
            .take(tables.tables.len())
        {
            let replayed = tables.table(slot);
            if let Some(of) = replayed.iter().zip(claimed).position(|(a, b)| a != b) {
                return Err(inconsistent(format!(
                    "the summary gives client {}'s table a balance of {} for client {}, but the \
                     blocks it committed and applied in the events give {}",
                    slot + 1,
                    claimed[of],
                    of + 1,
                    replayed[of]
                )));
            }
        }
    }
    Ok(())
}
