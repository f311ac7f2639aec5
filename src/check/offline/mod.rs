//! Checking a trace file offline: the events go through the same
//! [`Checker`](crate::check::Checker) the simulator uses online, then the summary is checked
//! against what the events show.
//!
//! The trace's own `violation` events and the summary's `violations` are claims, not facts:
//! the checker recomputes everything and then says whether its findings agree with them.
//!
//! What only an offline check does, at the end of the trace (skipped when the check stopped
//! at the first safety violation, because the replay is then incomplete):
//! - `conservation` on every table of the summary's `final_balances`;
//! - the summary's `final_balances` must be the tables the ledgers give (when no violation
//!   was found) and its `heads` the replayed ledger heads, else the trace is inconsistent;
//! - when the summary's `end` is `quiescent`: no message may still be in flight (else the
//!   trace is inconsistent), and every ledger must be equal (`ledger_agreement`);
//! - unless the run ended at a violation: `liveness`, with the waiters rebuilt from the events.
//!
//! The whole file is always read, so that a truncated or edited trace is reported as such
//! (exit code 2) and never as a violation.

mod end;
mod events;
mod program;
mod summary;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, Chain, Cursor, Read};

use super::network::NetworkCheck;
use super::replay::{Replay, protocol_of};
use super::{Invariant, Violation};
use crate::trace::read::{
    ClaimedViolation, MAX_LINE_BYTES, ReadError, TraceHeader, TraceReader, TraceSummary,
};
use crate::wording::count;
use events::check_events;

pub use end::END_WORDS;
pub use program::check_program_trace;

/// How to check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OfflineOptions {
    /// Report every violation instead of stopping at the first safety violation.
    pub keep_going: bool,
    /// Check the invariants only, without holding the events to the protocol's state
    /// machine (for traces of another implementation of the protocol).
    pub invariants_only: bool,
}

/// A violation the checker found, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What broke.
    pub violation: Violation,
    /// The event that revealed it; `None` for the checks at the end of the trace.
    pub seq: Option<u64>,
    /// The simulated time of that event; for the checks at the end, when the run ended.
    pub t_us: u64,
}

/// The outcome of checking one trace.
#[derive(Clone, Debug)]
pub struct OfflineReport {
    /// The trace's header line.
    pub header: TraceHeader,
    /// The trace's summary line.
    pub summary: TraceSummary,
    /// Event lines in the trace.
    pub events: u64,
    /// Events the checker saw (not skipped, not `violation` events, not after a stop).
    pub checked: u64,
    /// Events of kinds or message types the reader does not know, by kind.
    pub skipped: BTreeMap<String, u64>,
    /// What the checker found, in the order found.
    pub findings: Vec<Finding>,
    /// The trace's own violation events.
    pub claims: Vec<ClaimedViolation>,
    /// The `seq` of the event at which the check stopped (first safety violation).
    pub stopped_at: Option<u64>,
    /// The events were not replayed through the protocol ([`OfflineOptions::invariants_only`]).
    pub invariants_only: bool,
    /// The command of the program the events were held to, when not the built-in client.
    pub played_by: Option<String>,
}

impl OfflineReport {
    /// Every invariant held.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }

    /// Do the checker's findings agree with the trace's own violation events? When the check
    /// stopped at the first safety violation, only the first safety violations are compared;
    /// otherwise the invariants of all of them, in order.
    pub fn agrees(&self) -> bool {
        let first_safety_claim = self
            .claims
            .iter()
            .find(|claim| claim.invariant.is_safety())
            .map(|claim| claim.invariant);
        if self.stopped_at.is_some() {
            return self.findings.first().map(|f| f.violation.invariant) == first_safety_claim;
        }
        let found: Vec<Invariant> = self
            .findings
            .iter()
            .map(|f| f.violation.invariant)
            .collect();
        let claimed: Vec<Invariant> = self.claims.iter().map(|c| c.invariant).collect();
        found == claimed
    }

    /// One sentence on the trace's own violations and whether the checker agrees.
    pub fn agreement(&self) -> String {
        let claimed = if self.claims.is_empty() {
            "the trace records no violation".to_string()
        } else {
            let mut revealed = super::revealing_events(
                self.claims
                    .iter()
                    .filter_map(|claim| Some((claim.seq?, claim.detail.as_str()))),
            )
            .into_iter();
            let listed = list(
                self.claims
                    .iter()
                    .map(|claim| match (claim.seq, claim.seq.and(revealed.next())) {
                        (Some(seq), Some(Some(by))) => {
                            format!(
                                "{} at event {by} (recorded as event {seq})",
                                claim.invariant
                            )
                        }
                        (Some(seq), _) => format!(
                            "{} at the end of the run (recorded as event {seq})",
                            claim.invariant
                        ),
                        (None, _) => claim.invariant.to_string(),
                    })
                    .collect(),
            );
            format!(
                "the trace records {}: {listed}",
                count(self.claims.len(), "violation")
            )
        };
        let found = list(
            self.findings
                .iter()
                .map(|f| f.violation.invariant.to_string())
                .collect(),
        );
        let verdict = match (self.agrees(), self.claims.is_empty()) {
            (true, true) => " and the checker finds none".to_string(),
            (true, false) if self.stopped_at.is_some() => {
                "; the checker's first finding agrees".to_string()
            }
            (true, false) => "; the checker finds the same".to_string(),
            (false, true) => format!(", but the checker finds {found}: they DISAGREE"),
            (false, false) if self.findings.is_empty() => {
                "; the checker finds none: they DISAGREE".to_string()
            }
            (false, false) => format!("; the checker finds {found}: they DISAGREE"),
        };
        format!("{claimed}{verdict}")
    }
}

fn list(items: Vec<String>) -> String {
    const SHOWN: usize = 5;
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        let _ = write!(text, " and {} more", items.len() - SHOWN);
    }
    text
}

/// Reads and checks a whole trace, replaying it through the built-in client. A trace that
/// breaks the format is an `Err` (exit code 2); violations are in the report (exit code 1).
pub fn check_trace<R: BufRead>(
    input: R,
    options: OfflineOptions,
) -> Result<OfflineReport, ReadError> {
    let (first_line, input) = header_line(input)?;
    let reader = TraceReader::new(input)?;
    let header = reader.header().clone();
    protocol_of(&header).map_err(|message| invalid(1, message))?;
    let replay = match options.invariants_only {
        true => None,
        false => Some(Replay::new(&header).map_err(|message| invalid(1, message))?),
    };
    let network = network_check(&header, &first_line, options)?;
    check_events(reader, replay, network, options).map_err(|error| match error {
        CheckError::Read(error) => error,
        // The built-in client runs in this process and never fails.
        CheckError::NodeFailed { line, sentence } => invalid(line, sentence),
    })
}

/// Why a check has no verdict.
#[derive(Debug)]
pub enum CheckError {
    /// The trace is malformed, truncated, edited, or not a run of the nodes it was held to.
    Read(ReadError),
    /// A node program failed while the trace was held to it.
    NodeFailed {
        /// The trace line whose input the program was handling.
        line: u64,
        /// One sentence naming the client and its step.
        sentence: String,
    },
}

impl From<ReadError> for CheckError {
    fn from(error: ReadError) -> Self {
        CheckError::Read(error)
    }
}

/// The input of a trace whose first line was read ahead: that line, then the rest.
type ReadAhead<R> = Chain<Cursor<Vec<u8>>, R>;

/// The trace's first line, and the input to read the whole trace from (that line again
/// included): the network check reads fields of the header the trace reader does not keep.
fn header_line<R: BufRead>(mut input: R) -> Result<(Vec<u8>, ReadAhead<R>), ReadError> {
    let mut first_line = Vec::new();
    (&mut input)
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', &mut first_line)?;
    Ok((first_line.clone(), Cursor::new(first_line).chain(input)))
}

/// The check of the network events, when the events are held to what can happen and the
/// header is a simulated run's.
fn network_check(
    header: &TraceHeader,
    first_line: &[u8],
    options: OfflineOptions,
) -> Result<Option<NetworkCheck>, ReadError> {
    if options.invariants_only {
        return Ok(None);
    }
    NetworkCheck::for_header(header, first_line).map_err(|message| invalid(1, message))
}

fn invalid(line: u64, message: String) -> ReadError {
    ReadError::Invalid {
        line,
        column: None,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, keep_going: bool) -> Result<OfflineReport, ReadError> {
        check_trace(
            text.as_bytes(),
            OfflineOptions {
                keep_going,
                ..OfflineOptions::default()
            },
        )
    }

    fn simulated(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let scenario = crate::scenario::parse_scenario(&text, name).unwrap();
        let trace = SharedBuffer::default();
        crate::runner::run_scenario(
            &scenario,
            crate::sim::RunOptions::default(),
            vec![Box::new(trace.clone())],
            &mut [],
        )
        .unwrap();
        trace.0.lock().unwrap().clone()
    }

    #[derive(Clone, Default)]
    struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for SharedBuffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_default_scenario_passes_and_agrees() {
        let trace = String::from_utf8(simulated("default.json")).unwrap();
        let report = check(&trace, false).unwrap();
        assert!(report.passed(), "{:?}", report.findings);
        assert!(report.agrees());
        assert_eq!(report.events, report.summary.events);
        assert_eq!(
            report.agreement(),
            "the trace records no violation and the checker finds none"
        );
    }

    #[test]
    fn the_reordering_scenario_is_caught_and_agrees() {
        let trace = String::from_utf8(simulated("reorder-2.json")).unwrap();
        let report = check(&trace, false).unwrap();
        assert_eq!(
            report.findings[0].violation.invariant,
            Invariant::MutualExclusion
        );
        assert_eq!(
            report.claims[0].detail, report.findings[0].violation.detail,
            "online and offline explain it the same way"
        );
        assert!(report.stopped_at.is_some());
        assert!(report.agrees(), "{}", report.agreement());
    }

    #[test]
    fn a_balance_edited_in_the_summary_is_inconsistent() {
        let trace = String::from_utf8(simulated("default.json")).unwrap();
        let (body, summary) = trace.trim_end().rsplit_once('\n').unwrap();
        let mut value: serde_json::Value = serde_json::from_str(summary).unwrap();
        // Move one unit between two clients of client 2's table: the sum still holds.
        let table = &mut value["final_balances"]["2"];
        let first = table["1"].as_u64().unwrap();
        let second = table["2"].as_u64().unwrap();
        table["1"] = (first + 1).into();
        table["2"] = (second - 1).into();
        let edited = format!("{body}\n{value}\n");
        let error = check(&edited, false).unwrap_err().to_string();
        assert!(
            error.contains("the summary gives client 2's table a balance of"),
            "{error}"
        );
    }
}
