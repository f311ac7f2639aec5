//! Checking a trace file offline: the events go through the same [`Checker`] the simulator
//! uses online, then the summary is checked against what the events show.
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
mod program;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, Chain, Cursor, Read};

use super::history::format_time;
use super::network::NetworkCheck;
use super::replay::{Refusal, Replay, ReplayNode, protocol_of};
use super::{Checker, Invariant, Violation};
use crate::protocol::ledger::short_hex;
use crate::protocol::{Amount, ClientId};
use crate::trace::read::{
    ClaimedViolation, MAX_LINE_BYTES, ReadError, TraceHeader, TraceReader, TraceSummary,
};
use crate::trace::{DropReason, Event, EventKind, Kept};
use crate::wording::count;
use end::{EndFacts, check_end};

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

/// Checks the events of `reader`, holding them to `replay` when there is one.
fn check_events<R: BufRead, N: ReplayNode>(
    mut reader: TraceReader<R>,
    mut replay: Option<Replay<N>>,
    mut network: Option<NetworkCheck>,
    options: OfflineOptions,
) -> Result<OfflineReport, CheckError> {
    let header = reader.header().clone();
    let mut checker = Checker::for_trace(&header.initial_balances);
    let mut findings: Vec<Finding> = Vec::new();
    let mut found: Vec<Violation> = Vec::new();
    let mut stopped_at = None;
    let mut checked = 0u64;
    let mut last_t = 0u64;
    let mut tables = Tables::new(&header.initial_balances);
    let mut not_replayable = None;
    let mut first_safety_violation = None;
    let mut next_step_after_violation = None;
    let mut not_in_network = None;
    let mut closing_violations = 0;
    while let Some(event) = reader.next_event()? {
        last_t = event.t_us;
        closing_violations = match event.kind {
            EventKind::Violation { .. } => closing_violations + 1,
            _ => 0,
        };
        if not_replayable.is_none()
            && let Some(checked) = &mut network
            && let Err(sentence) = checked.observe(&event)
        {
            // Reported once the rest of the file has been read, as a replay's refusal. The
            // sends of messages this reader skips are unknown to the network check, so it
            // has no verdict then: the replay's refusal names the program that wrote them.
            if !skips_messages(reader.skipped()) {
                not_in_network = Some((reader.line_number(), sentence));
            }
            network = None;
        }
        let began_a_step = match &mut replay {
            Some(replayed) => match replayed.observe(&event) {
                Ok(began) => began,
                Err(refusal) => {
                    // Reported once the rest of the file has been read: an edit made without
                    // a new digest is reported as that.
                    not_replayable.get_or_insert((reader.line_number(), refusal));
                    // Programs are stopped and reaped now, not at the end of the file.
                    replay = None;
                    true
                }
            },
            None => starts_a_step(&event),
        };
        if not_replayable.is_some() {
            continue;
        }
        if first_safety_violation.is_some() && next_step_after_violation.is_none() && began_a_step {
            next_step_after_violation = Some(event.seq);
        }
        if stopped_at.is_some() || matches!(event.kind, EventKind::Violation { .. }) {
            continue;
        }
        checked += 1;
        tables.observe(&event);
        checker.observe(&event, &mut found);
        for violation in found.drain(..) {
            if violation.invariant.is_safety() {
                first_safety_violation.get_or_insert(event.seq);
                if !options.keep_going {
                    stopped_at = Some(event.seq);
                }
            }
            findings.push(Finding {
                violation,
                seq: Some(event.seq),
                t_us: event.t_us,
            });
        }
    }
    let summary = reader
        .summary()
        .cloned()
        .expect("next_event returns None only after the summary");
    let facts = EndFacts {
        events: reader.events_read(),
        closing_violations,
        last_t_us: last_t,
        first_safety_violation,
        next_step_after_violation,
        in_flight: checker.oldest_in_flight().is_some(),
    };
    match (not_replayable, not_in_network) {
        (Some((line, refusal)), network_first) => {
            return Err(match network_first {
                Some((first, sentence)) if first < line => {
                    CheckError::Read(invalid(first, sentence))
                }
                _ => refused(line, refusal, reader.skipped()),
            });
        }
        (None, Some((line, sentence))) => return Err(CheckError::Read(invalid(line, sentence))),
        (None, None) => {}
    }
    if let Some(replay) = &mut replay {
        let quiescent = summary.end.as_deref() == Some("quiescent");
        replay
            .finish(quiescent)
            .map_err(|refusal| refused(summary.line, refusal, reader.skipped()))?;
    }
    drop(replay);
    if let Some(network) = &network {
        network
            .finish(summary.end.as_deref(), header.max_time_us)
            .map_err(|sentence| invalid(summary.line, sentence))?;
    }
    check_end(&header, &summary, &facts)?;
    if stopped_at.is_none() {
        let end_t = summary.end_us.unwrap_or(last_t).max(last_t);
        let at_end = |violation| Finding {
            violation,
            seq: None,
            t_us: end_t,
        };
        for (slot, table) in summary.final_balances.iter().enumerate() {
            findings.extend(
                checker
                    .check_table(ClientId::from_index(slot), table)
                    .map(at_end),
            );
        }
        check_summary(&checker, &tables, &summary, findings.is_empty())?;
        let end = summary.end.as_deref();
        if end == Some("quiescent") {
            if let Some((msg_id, from, to, sent)) = checker.oldest_in_flight() {
                return Err(CheckError::Read(ReadError::Invalid {
                    line: summary.line,
                    column: None,
                    message: format!(
                        "the summary says the run ended quiescent, but message m{msg_id} from \
                         client {from} to client {to} (sent at event {sent}) was never delivered \
                         or dropped"
                    ),
                }));
            }
            findings.extend(checker.at_quiescence().map(at_end));
        }
        if end != Some("violation") {
            let why_ended = match end {
                Some("quiescent") => "with nothing left in flight".to_string(),
                Some("max_events") => match header.max_events {
                    Some(limit) => format!("at limits.max_events ({limit} events)"),
                    None => "at its event limit".to_string(),
                },
                Some("max_time") => match header.max_time_us {
                    Some(limit) => format!("at limits.max_time_us ({limit}us)"),
                    None => "at its time limit".to_string(),
                },
                Some(other) => format!("with end {other:?} at t={}", format_time(end_t)),
                None => format!("at t={}", format_time(end_t)),
            };
            let waiters = checker.waiters_from_events(&header.protocol);
            findings.extend(
                checker
                    .liveness_violations(&waiters, &why_ended)
                    .into_iter()
                    .map(at_end),
            );
        }
    }
    Ok(OfflineReport {
        played_by: None,
        events: reader.events_read(),
        checked,
        skipped: reader.skipped().clone(),
        claims: reader.claims().to_vec(),
        header,
        summary,
        findings,
        stopped_at,
        invariants_only: options.invariants_only,
    })
}

/// Why the replay refused the trace, at `line`. A trace with messages the built-in protocols
/// do not have was written by a program of its own, which the refusal then says.
fn refused(line: u64, refusal: Refusal, skipped: &BTreeMap<String, u64>) -> CheckError {
    let sentence = match refusal {
        Refusal::NodeFailed(sentence) => return CheckError::NodeFailed { line, sentence },
        Refusal::NotFollowing(sentence) => sentence,
    };
    let foreign: BTreeSet<&str> = skipped
        .keys()
        .filter_map(|kind| {
            let rest = kind
                .strip_prefix("send of a ")
                .or_else(|| kind.strip_prefix("deliver of a "))?;
            rest.strip_suffix(" message")
        })
        .collect();
    if foreign.is_empty() {
        return CheckError::Read(invalid(line, sentence));
    }
    let types = foreign.into_iter().collect::<Vec<_>>().join(", ");
    let remedy = "hold the trace to that program with `check --node-cmd CMD`, or check the \
                  invariants alone with `check --invariants-only`";
    CheckError::Read(invalid(
        line,
        format!(
            "the trace holds messages of types no built-in protocol has ({types}), so a program \
             of its own wrote it (`--node-cmd`), and this is the first event the built-in \
             client does not produce: {remedy}"
        ),
    ))
}

/// Whether the reader skipped the send of a message of a type it does not know.
fn skips_messages(skipped: &BTreeMap<String, u64>) -> bool {
    skipped.keys().any(|kind| kind.starts_with("send of a "))
}

/// Whether `event` begins a step of the run of its own (an input to a client, or a fault),
/// rather than continuing the step before it, as far as the event alone tells (a timer's
/// step needs the replay to be told apart).
fn starts_a_step(event: &Event) -> bool {
    match &event.kind {
        EventKind::Transfer { .. }
        | EventKind::Balance { .. }
        | EventKind::Deliver { .. }
        | EventKind::Crash
        | EventKind::Restart { .. }
        | EventKind::Partition { .. }
        | EventKind::Heal { .. } => true,
        EventKind::Drop { reason, .. } => *reason == DropReason::Crashed,
        _ => false,
    }
}

/// Each client's own balance table, replayed from its commit, apply and restart events as
/// the client applies them (docs/spec.md section 1, rules 4 and 6).
struct Tables {
    initial: Vec<Amount>,
    /// Index `id - 1`: that client's table, `None` while it is still the initial one. Tables
    /// are made on a client's first change, so a header that declares many clients costs
    /// memory only for the clients the events show working (not clients squared up front).
    tables: Vec<Option<Vec<Amount>>>,
}

impl Tables {
    fn new(initial: &[Amount]) -> Self {
        Tables {
            initial: initial.to_vec(),
            tables: vec![None; initial.len()],
        }
    }

    /// Client `slot + 1`'s table as it stands.
    fn table(&self, slot: usize) -> &[Amount] {
        self.tables[slot].as_deref().unwrap_or(&self.initial)
    }

    fn observe(&mut self, event: &Event) {
        let Some(slot) = event
            .node
            .and_then(|node| node.checked_index())
            .filter(|&slot| slot < self.tables.len())
        else {
            return;
        };
        match &event.kind {
            EventKind::Commit { block } | EventKind::Apply { block } => {
                let table = self.tables[slot].get_or_insert_with(|| self.initial.clone());
                let valid =
                    |id: ClientId| id.checked_index().is_some_and(|slot| slot < table.len());
                if valid(block.from()) && valid(block.to()) {
                    // An overdraft is no_overdraft's to report; the table stays at zero.
                    let paid = table[block.from().index()].min(block.amount());
                    table[block.from().index()] -= paid;
                    table[block.to().index()] += paid;
                }
            }
            EventKind::Restart {
                kept: Kept::Nothing,
            } => self.tables[slot] = None,
            _ => {}
        }
    }
}

/// The summary's heads (and, when nothing broke, its balance tables) must be what the
/// ledgers in the events give.
fn check_summary(
    checker: &Checker,
    tables: &Tables,
    summary: &TraceSummary,
    compare_tables: bool,
) -> Result<(), ReadError> {
    let inconsistent = |message: String| ReadError::Invalid {
        line: summary.line,
        column: None,
        message,
    };
    for (slot, (&(length, head), claimed)) in checker
        .ledger_heads()
        .iter()
        .zip(&summary.heads)
        .enumerate()
    {
        if head != *claimed {
            return Err(inconsistent(format!(
                "the summary gives client {}'s ledger head as {}…, but its {} in the events \
                 end in {}…",
                slot + 1,
                short_hex(claimed),
                count(length, "block"),
                short_hex(&head)
            )));
        }
    }
    if compare_tables {
        for (slot, claimed) in summary
            .final_balances
            .iter()
            .enumerate()
            .take(tables.tables.len())
        {
            let replayed = tables.table(slot);
            if let Some(of) = replayed.iter().zip(claimed).position(|(a, b)| a != b) {
                return Err(inconsistent(format!(
                    "the summary gives client {}'s table a balance of {} for client {}, but the \
                     blocks it committed and applied in the events give {}",
                    slot + 1,
                    claimed[of],
                    of + 1,
                    replayed[of]
                )));
            }
        }
    }
    Ok(())
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
