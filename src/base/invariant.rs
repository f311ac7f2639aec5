//! The stable names of the invariants (docs/spec.md section 4): the checker finds them, scenarios
//! expect them, traces record them.

use serde::{Deserialize, Serialize};

/// An invariant the checker watches. The snake_case names are a contract: scenario `expect`
/// blocks, traces and other tools use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Invariant {
    MutualExclusion,
    LedgerAgreement,
    ChainIntegrity,
    Conservation,
    NoOverdraft,
    ClockCondition,
    Liveness,
}

impl Invariant {
    pub const ALL: [Invariant; 7] = [
        Invariant::MutualExclusion,
        Invariant::LedgerAgreement,
        Invariant::ChainIntegrity,
        Invariant::Conservation,
        Invariant::NoOverdraft,
        Invariant::ClockCondition,
        Invariant::Liveness,
    ];

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
