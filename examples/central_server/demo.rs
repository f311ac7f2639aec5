//! The example's runs: the built-in default scenario through the simulator, then every
//! interleaving of it through the explorer, with the central-server clients of `node.rs`.

use std::io::{self, Write};
use std::sync::Arc;

use lamport_ledger::protocol::{Amount, ClientConfig, ClientId};
use lamport_ledger::sim::{client_config, simulate_nodes};
use lamport_ledger::{
    ExploreOptions, NodeExploration, RunOptions, Scenario, default_scenario, explore_nodes,
};

use crate::node::{CentralClient, Flaw};

/// What the two runs found.
pub struct Verdicts {
    /// The invariants the simulated run broke (empty: it passed).
    pub simulated: Vec<&'static str>,
    /// The exhaustive exploration.
    pub explored: NodeExploration,
}

impl Verdicts {
    pub fn passed(&self) -> bool {
        self.simulated.is_empty() && self.explored.passed()
    }
}

/// Runs the default scenario once through the simulator and explores it, with clients that
/// have `flaw`, and writes what each found to `out`.
pub fn run(flaw: Flaw, out: &mut dyn Write) -> io::Result<Verdicts> {
    let scenario = default_scenario();
    let described = match flaw {
        Flaw::None => "as described".to_string(),
        flaw => format!("with the flaw {flaw:?}"),
    };
    writeln!(
        out,
        "protocol:  central server, {described}; scenario \"{}\"",
        scenario.name
    )?;
    let make =
        |config: &ClientConfig, balances: Arc<[Amount]>| CentralClient::new(config, balances, flaw);

    let clients = initial_clients(&scenario, make);
    let run = simulate_nodes(&scenario, RunOptions::default(), &mut [], clients)?;
    let simulated: Vec<&'static str> = run
        .violations
        .iter()
        .map(|recorded| recorded.violation.invariant.name())
        .collect();
    match run.violations.first() {
        None => writeln!(
            out,
            "simulate:  passed: {} committed, {} aborted, {} events",
            run.committed, run.aborted, run.events
        )?,
        Some(first) => writeln!(
            out,
            "simulate:  VIOLATION of {}: {}",
            first.violation.invariant.name(),
            first.violation.detail
        )?,
    }

    let explored = explore_nodes(&scenario, &ExploreOptions::default(), make)
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    let extent = if !explored.violations.is_empty() {
        "stopped at the first violation"
    } else if explored.conclusive {
        "complete"
    } else {
        "INCOMPLETE"
    };
    writeln!(
        out,
        "explore:   {} states, {} transitions, depth {} ({extent})",
        explored.states, explored.transitions, explored.depth
    )?;
    match explored.violations.first() {
        None => writeln!(
            out,
            "verdict:   OK: no invariant is violated and no deadlock"
        )?,
        Some(violation) => {
            let agrees = if violation.checker_agrees {
                "the simulator's checker agrees on the replayed path"
            } else {
                "the simulator's checker does NOT agree on the replayed path"
            };
            writeln!(
                out,
                "verdict:   VIOLATION of {} after {} steps ({agrees}): {}",
                violation.invariant,
                violation.steps.len(),
                violation.detail
            )?;
            for (number, step) in violation.steps.iter().enumerate() {
                writeln!(out, "  {:>3}. {step}", number + 1)?;
            }
        }
    }
    Ok(Verdicts {
        simulated,
        explored,
    })
}

/// The scenario's clients, built by `make`, in id order.
fn initial_clients(
    scenario: &Scenario,
    make: impl Fn(&ClientConfig, Arc<[Amount]>) -> CentralClient,
) -> Vec<CentralClient> {
    let balances: Arc<[Amount]> = scenario.initial_balances.clone().into();
    ClientId::all(scenario.clients)
        .map(|id| make(&client_config(scenario, id), Arc::clone(&balances)))
        .collect()
}
