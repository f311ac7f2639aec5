//! lamport-ledger: Lamport's mutual exclusion and a hash-chained ledger as pure state machines,
//! driven by a deterministic discrete-event simulator, checked by invariants and rendered for
//! people to read.
//!
//! Data flows one way: a [`scenario`] -> the simulator ([`sim`], which drives the
//! [`protocol`]) -> [`trace`] events -> the invariant checks ([`check`]) and the renderers
//! ([`render`]). [`runner`] does one run end to end and hands back a [`report::RunReport`]:
//! the verdict, the trace digest, the summary and the clients' final state. [`base`] holds the
//! names all of them share (invariant names, the trace format). The rules, the trace format
//! and the scenario keys are in docs/spec.md, which the documentation cites by section.
//!
//! The same scenario and seed give the same run on every machine, event for event: the
//! digest of its trace identifies it.
//!
//! ```
//! use lamport_ledger::scenario::DEFAULT_SCENARIO_JSON;
//! use lamport_ledger::sim::EndReason;
//! use lamport_ledger::{RunOptions, default_scenario, parse_scenario, run_scenario};
//!
//! // The built-in default: three clients with 10 each making concurrent transfers.
//! let scenario = default_scenario();
//! let report = run_scenario(&scenario, RunOptions::default(), Vec::new(), &mut [])?;
//! assert!(report.passed(), "every invariant held, as the scenario expects");
//! assert_eq!(report.result.end, EndReason::Quiescent, "nothing was left to happen");
//! assert_eq!(report.summary.committed, 3, "one transfer aborts for lack of funds");
//! assert_eq!(report.digest_hex.len(), 64, "the trace's SHA-256, in hex");
//!
//! // A scenario from JSON text: the same one again gives the same trace, digest for digest.
//! let again = parse_scenario(DEFAULT_SCENARIO_JSON, "default.json").expect("a valid scenario");
//! let rerun = run_scenario(&again, RunOptions::default(), Vec::new(), &mut [])?;
//! assert_eq!(rerun.digest_hex, report.digest_hex);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! To write the JSON Lines trace, pass writers as `trace_outputs`; to watch every event as it
//! happens (a timeline, a drawing), pass [`trace::EventSink`]s as watchers;
//! [`runner::run_with_timeline`] prints what the `run` command prints. The command line
//! itself is [`run_cli`].
//!
//! A client of your own plugs in by implementing [`protocol::Node`] (the built-in
//! [`protocol::Client`] is one); [`sim::simulate_nodes`] runs such clients under the same
//! simulator and checks, and [`explore_nodes`] explores every reachable state of them when
//! their state can be cloned, compared and hashed (docs/nodes.md, "A client in Rust";
//! `examples/central_server` is one). A client in another language runs as a child process
//! instead (`--node-cmd`, docs/nodes.md).

#[warn(missing_docs)]
pub mod base;
#[warn(missing_docs)]
pub mod benchmarks;
#[warn(missing_docs)]
pub mod check;
pub mod protocol;
#[warn(missing_docs)]
pub mod render;
#[warn(missing_docs)]
pub mod report;
pub mod runner;
#[warn(missing_docs)]
pub mod scenario;
pub mod sim;
#[warn(missing_docs)]
pub mod trace;

pub(crate) mod bench;
pub(crate) mod cli;
pub(crate) mod drive;
pub(crate) mod explore;
pub(crate) mod hunt;
pub(crate) mod json_message;
pub(crate) mod live;
pub(crate) mod node;
pub(crate) mod play;
pub(crate) mod wording;

#[cfg(test)]
mod robustness;

pub use explore::{
    ExploreError, ExploreOptions, ExploredViolation, NodeExploration, explore_nodes,
};
pub use report::RunReport;
pub use runner::run_scenario;
pub use scenario::{Scenario, ScenarioError, default_scenario, parse_scenario};
pub use sim::RunOptions;

/// Runs the `lamport-ledger` command line on `args`, the program name first (as
/// [`std::env::args_os`] gives them), and returns its exit code: 0 every invariant held (or
/// the scenario's `expect` matched), 1 a violation (or a mismatch), 2 bad input or usage.
pub fn run_cli(args: impl IntoIterator<Item = std::ffi::OsString>) -> std::process::ExitCode {
    cli::run(args)
}
