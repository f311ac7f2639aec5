//! The `python-default` case: `scenarios/default.json` played by the Python example client
//! (examples/python/lamport_client.py), one process per client, driven in lockstep. It measures
//! whole runs (the programs' start-up included) and the lockstep's cost per step against the
//! built-in client's time per step on the same run.

use std::io;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::node::{NodeSpec, ProcessNode};
use crate::protocol::{Amount, ClientId};
use crate::scenario::{Scenario, parse_scenario};
use crate::sim::{RunOptions, client_config, run_nodes, simulate};

/// The client program, embedded so that the case runs from any folder.
const CLIENT_PY: &str = include_str!("../../examples/python/lamport_client.py");
/// Runs measured (divided by the quick run's scale, at least one).
const RUNS: u64 = 20;
/// Built-in runs of the same scenario, for its time per step.
const BUILTIN_RUNS: u32 = 1000;

/// What the case measured.
pub struct ProgramFigures {
    pub runs: u64,
    pub events: u64,
    pub transfers: u64,
    /// Real time of the lockstep per step: the write, the program's work and the read.
    pub step_us: f64,
    /// `step_us` less the built-in client's time per step on the same run.
    pub overhead_us: f64,
}

/// Why the case cannot run here, if it cannot: no `python3` on the path.
pub fn missing_python() -> Option<String> {
    missing("python3")
}

fn missing(interpreter: &str) -> Option<String> {
    let found = Command::new(interpreter)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    (!found).then(|| format!("skipped: {interpreter} is not on the PATH"))
}

/// `runs` runs of the default scenario played by the Python client, one after another.
pub fn run(scale: u64) -> io::Result<ProgramFigures> {
    let script = std::env::temp_dir().join(format!(
        "lamport-ledger-bench-client-{}.py",
        std::process::id()
    ));
    std::fs::write(&script, CLIENT_PY)?;
    let measured = measure(&script.display().to_string(), (RUNS / scale).max(1));
    let _ = std::fs::remove_file(&script);
    measured
}

fn measure(script: &str, runs: u64) -> io::Result<ProgramFigures> {
    let text = include_str!("../../scenarios/default.json");
    let scenario = parse_scenario(text, "scenarios/default.json").map_err(io::Error::other)?;
    let spec = NodeSpec {
        cmd: format!("python3 '{script}'"),
        step_timeout: Duration::from_secs(10),
    };
    let (mut events, mut transfers, mut steps) = (0, 0, 0);
    let mut stepping = Duration::ZERO;
    for _ in 0..runs {
        let run = one_run(&scenario, &spec)?;
        events += run.events;
        transfers += run.committed + run.aborted;
        for node in &run.clients {
            let (node_steps, node_stepping) = node.lockstep();
            steps += node_steps;
            stepping += node_stepping;
        }
    }
    let step_us = stepping.as_secs_f64() * 1e6 / steps.max(1) as f64;
    let builtin_us = builtin_seconds_per_run(&scenario)? * 1e6 / (steps / runs).max(1) as f64;
    Ok(ProgramFigures {
        runs,
        events,
        transfers,
        step_us,
        overhead_us: step_us - builtin_us,
    })
}

fn one_run(scenario: &Scenario, spec: &NodeSpec) -> io::Result<crate::sim::RunResult<ProcessNode>> {
    let initial_balances: Arc<[Amount]> = scenario.initial_balances.clone().into();
    let configs = ClientId::all(scenario.clients).map(|id| client_config(scenario, id));
    let nodes =
        ProcessNode::start_all(spec, configs, initial_balances).map_err(io::Error::other)?;
    let mut run = run_nodes(scenario, RunOptions::default(), &mut [], nodes)?;
    run.clients.iter_mut().for_each(ProcessNode::close_input);
    if !run.violations.is_empty() {
        return Err(io::Error::other("the Python client broke an invariant"));
    }
    Ok(run)
}

/// The built-in client's time for one run of `scenario`, the fastest of a few batches.
fn builtin_seconds_per_run(scenario: &Scenario) -> io::Result<f64> {
    let mut fastest = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        for _ in 0..BUILTIN_RUNS {
            simulate(scenario, RunOptions::default(), &mut [])?;
        }
        fastest = fastest.min(started.elapsed().as_secs_f64() / f64::from(BUILTIN_RUNS));
    }
    Ok(fastest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_interpreter_is_a_note() {
        let note = missing("lamport-ledger-no-such-interpreter").expect("not found");
        assert_eq!(
            note,
            "skipped: lamport-ledger-no-such-interpreter is not on the PATH"
        );
    }

    #[test]
    fn one_quick_run_counts_its_steps_and_their_time() {
        let figures = run(100).expect("the Python client runs the default scenario");
        assert_eq!(figures.runs, 1);
        assert_eq!(figures.transfers, 4);
        assert!(figures.events > 0);
        assert!(figures.step_us > 0.0 && figures.overhead_us < figures.step_us);
    }
}
