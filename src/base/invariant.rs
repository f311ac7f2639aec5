//! The stable names of the invariants (docs/spec.md section 4): the checker finds them, scenarios
//! expect them, traces record them.

use serde::{Deserialize, Serialize};

/// An invariant the checker watches. The snake_case names are a contract: scenario `expect`
/// blocks, traces and other tools use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Invariant {
    /// No two clients are inside the critical section at the same simulated time.
    MutualExclusion,
    /// Of any two ledgers, one is a prefix of the other; all are equal at a quiescent end.
    LedgerAgreement,
    /// Every block a client commits or applies recomputes its hash and extends its head.
    ChainIntegrity,
    /// Every client's balance table sums to the initial total.
    Conservation,
    /// No block pays more than its payer had after the blocks before it.
    NoOverdraft,
    /// Clocks never decrease, a receive's clock exceeds the message's, every delivery matches
    /// a send.
    ClockCondition,
    /// At the end of a run (other than at a violation), every client that is up has finished
    /// every transfer it accepted.
    Liveness,
}

impl Invariant {
    /// Every invariant, in the order reports list them.
    pub const ALL: [Invariant; 7] = [
        Invariant::MutualExclusion,
        Invariant::LedgerAgreement,
        Invariant::ChainIntegrity,
        Invariant::Conservation,
        Invariant::NoOverdraft,
        Invariant::ClockCondition,
        Invariant::Liveness,
    ];

    /// The snake_case name scenarios, traces and reports use.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::MutualExclusion => "mutual_exclusion",
            Invariant::LedgerAgreement => "ledger_agreement",
            Invariant::ChainIntegrity => "chain_integrity",
            Invariant::Conservation => "conservation",
            Invariant::NoOverdraft => "no_overdraft",
            Invariant::ClockCondition => "clock_condition",
            Invariant::Liveness => "liveness",
        }
    }

    /// Safety invariants stop a run at their first violation; liveness is judged at the end.
    pub fn is_safety(self) -> bool {
        self != Invariant::Liveness
    }
}

impl std::fmt::Display for Invariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_serde_names() {
        for invariant in Invariant::ALL {
            let json = serde_json::to_string(&invariant).unwrap();
            assert_eq!(json, format!("\"{}\"", invariant.name()));
        }
    }
}
