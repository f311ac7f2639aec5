//! What a finished run reports: the types the runner fills in and the renderers, the sweep
//! and the command line read. They sit below all of those, so a renderer can print a report
//! without importing the runner that makes it.

use crate::sim::RunResult;
use crate::trace::Summary;

/// What the scenario's `expect` block asked for and whether the run delivered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    /// `ok`, `violation` or `violation of <invariant>`.
    pub wanted: String,
    /// Whether the run did what was wanted.
    pub met: bool,
}

/// A finished run with everything needed to report it.
pub struct RunReport {
    /// The seed the run used.
    pub seed: u64,
    /// How the simulation ended: counts, violations, the clients in their final state.
    pub result: RunResult,
    /// The trace's digest in lowercase hex: the same scenario and seed give the same one.
    pub digest_hex: String,
    /// The trace's summary line, digest included.
    pub summary: Summary,
    /// The scenario's `expect` and whether the run met it; `None` without one.
    pub expectation: Option<Expectation>,
}

impl RunReport {
    /// The run passed: it matched its `expect`, or held every invariant when there is none.
    pub fn passed(&self) -> bool {
        match &self.expectation {
            Some(expectation) => expectation.met,
            None => self.result.violations.is_empty(),
        }
    }
}
