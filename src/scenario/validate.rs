//! Parsing and validation of scenario files. (Minimal for now: replaced by full validation.)

use super::{DEFAULT_BALANCE, Scenario, ScenarioFile};

/// A scenario that cannot be run: one sentence naming the file, the field and, for JSON, the
/// line and column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}:{line}:{column}: {field}: {message}")]
pub struct ScenarioError {
    pub source_name: String,
    pub field: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses and validates a scenario file's text; `source_name` names it in errors.
pub fn parse_scenario(text: &str, source_name: &str) -> Result<Scenario, ScenarioError> {
    let file: ScenarioFile = serde_json::from_str(text).map_err(|error| ScenarioError {
        source_name: source_name.to_string(),
        field: String::new(),
        line: error.line(),
        column: error.column(),
        message: error.to_string(),
    })?;
    let mut initial_balances = vec![DEFAULT_BALANCE; file.clients as usize];
    for (id, balance) in file.initial_balances.iter().flatten() {
        let id: usize = id.parse().unwrap_or(0);
        if (1..=initial_balances.len()).contains(&id) {
            initial_balances[id - 1] = *balance;
        }
    }
    let mut transfers = file.workload.transfers.clone();
    transfers.sort_by_key(|t| t.at_us);
    let mut balance_reads = file.workload.balance_reads.clone();
    balance_reads.sort_by_key(|r| r.at_us);
    Ok(Scenario {
        source: source_name.to_string(),
        name: file.name,
        description: file.description,
        seed: file.seed,
        clients: file.clients,
        initial_balances,
        network: file.network,
        transfers,
        balance_reads,
        generated: file.workload.generated,
        cs_us: file.cs_us,
        protocol: file.protocol,
        mutations: file.mutations,
        expect: file.expect,
        limits: file.limits,
    })
}
