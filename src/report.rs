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
    pub met: bool,
}

/// A finished run with everything needed to report it.
pub struct RunReport {
    pub seed: u64,
    pub result: RunResult,
    pub digest_hex: String,
    pub summary: Summary,
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
