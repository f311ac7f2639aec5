//! Invariant checks (SPEC section 4), one file per invariant.
//!
//! Every check reads trace [`Event`]s only, so the same units run online (inside the
//! simulator, which stops at the first safety violation) and offline over a trace file. Two
//! checks need more than events: `conservation` reads the clients' own balance tables (online
//! after every commit and apply, offline from the summary's final balances), and `liveness`
//! needs to know who still waits at the end of a run.

mod chain_integrity;
mod clock_condition;
mod conservation;
mod invariant;
mod ledger_agreement;
mod liveness;
mod mutual_exclusion;
mod no_overdraft;

pub use chain_integrity::ChainIntegrity;
pub use clock_condition::ClockCondition;
pub use conservation::Conservation;
pub use invariant::Invariant;
pub use ledger_agreement::LedgerAgreement;
pub use liveness::{Waiter, liveness_violations};
pub use mutual_exclusion::MutualExclusion;
pub use no_overdraft::NoOverdraft;

use crate::protocol::{Amount, ClientId};
use crate::trace::Event;

/// A broken invariant: its stable name, the client it was seen at, and a sentence a student
/// understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
    pub node: Option<ClientId>,
    pub detail: String,
}

impl Violation {
    pub fn new(invariant: Invariant, node: Option<ClientId>, detail: impl Into<String>) -> Self {
        Violation {
            invariant,
            node,
            detail: detail.into(),
        }
    }
}

/// All event-driven checks together.
#[derive(Clone, Debug)]
pub struct Checker {
    mutual_exclusion: MutualExclusion,
    chain_integrity: ChainIntegrity,
    ledger_agreement: LedgerAgreement,
    no_overdraft: NoOverdraft,
    clock_condition: ClockCondition,
    conservation: Conservation,
}

impl Checker {
    pub fn new(initial_balances: &[Amount]) -> Self {
        let clients = initial_balances.len() as u32;
        Checker {
            mutual_exclusion: MutualExclusion::new(clients),
            chain_integrity: ChainIntegrity::new(clients),
            ledger_agreement: LedgerAgreement::new(clients),
            no_overdraft: NoOverdraft::new(initial_balances),
            clock_condition: ClockCondition::new(clients),
            conservation: Conservation::new(initial_balances),
        }
    }

    /// Feeds one event to every check; returns the violations it reveals, in a fixed order.
    pub fn observe(&mut self, event: &Event, found: &mut Vec<Violation>) {
        found.extend(self.clock_condition.observe(event));
        found.extend(self.mutual_exclusion.observe(event));
        found.extend(self.chain_integrity.observe(event));
        found.extend(self.no_overdraft.observe(event));
        found.extend(self.ledger_agreement.observe(event));
    }

    /// Checks a client's own balance table after it changed.
    pub fn observe_table(&mut self, node: ClientId, table: &[Amount]) -> Option<Violation> {
        self.conservation.check(node, table)
    }

    /// At quiescence (nothing left in flight): every ledger must be equal.
    pub fn at_quiescence(&self) -> Option<Violation> {
        self.ledger_agreement.at_quiescence()
    }
}
