//! One pass over a trace's events. Each event is held to what can happen (the replay of the
//! clients, the check of the network) and then goes through the [`Checker`]; once the whole
//! file is read, the first refusal is reported, else the summary is judged against what the
//! pass saw.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;

use super::end::{EndFacts, check_end};
use super::summary::{Tables, check_summary};
use super::{CheckError, Finding, OfflineOptions, OfflineReport, invalid};
use crate::check::history::format_time;
use crate::check::network::NetworkCheck;
use crate::check::replay::{Refusal, Replay, ReplayNode};
use crate::check::{Checker, Violation};
use crate::protocol::ClientId;
use crate::trace::read::{ReadError, TraceHeader, TraceReader, TraceSummary};
use crate::trace::{DropReason, Event, EventKind};

/// Checks the events of `reader`, holding them to `replay` when there is one.
pub(super) fn check_events<R: BufRead, N: ReplayNode>(
    mut reader: TraceReader<R>,
    replay: Option<Replay<N>>,
    network: Option<NetworkCheck>,
    options: OfflineOptions,
) -> Result<OfflineReport, CheckError> {
    let header = reader.header().clone();
    let mut holding = Holding::new(replay, network);
    let mut pass = Pass::new(&header, options);
    while let Some(event) = reader.next_event()? {
        pass.note_last(&event);
        let began_a_step = holding.observe(&event, reader.line_number(), reader.skipped());
        if !holding.refused() {
            pass.check(&event, began_a_step);
        }
    }
    let summary = reader
        .summary()
        .cloned()
        .expect("next_event returns None only after the summary");
    let facts = pass.end_facts(reader.events_read());
    holding.finish(&header, &summary, reader.skipped())?;
    check_end(&header, &summary, &facts)?;
    if pass.stopped_at.is_none() {
        pass.check_end_of_trace(&header, &summary)?;
    }
    Ok(OfflineReport {
        played_by: None,
        events: reader.events_read(),
        checked: pass.checked,
        skipped: reader.skipped().clone(),
        claims: reader.claims().to_vec(),
        header,
        summary,
        findings: pass.findings,
        stopped_at: pass.stopped_at,
        invariants_only: options.invariants_only,
    })
}

/// The events held to what can happen: the replay of the clients and the check of the
/// network, each until it refuses an event. A refusal is reported once the rest of the file
/// has been read, so that an edit made without a new digest is reported as that.
struct Holding<N: ReplayNode> {
    replay: Option<Replay<N>>,
    network: Option<NetworkCheck>,
    /// The line and why of the replay's first refusal.
    not_replayable: Option<(u64, Refusal)>,
    /// The line and sentence of the network check's refusal.
    not_in_network: Option<(u64, String)>,
}

impl<N: ReplayNode> Holding<N> {
    fn new(replay: Option<Replay<N>>, network: Option<NetworkCheck>) -> Self {
        Holding {
            replay,
            network,
            not_replayable: None,
            not_in_network: None,
        }
    }

    /// Whether the replay has refused an event: the checker then sees no more events.
    fn refused(&self) -> bool {
        self.not_replayable.is_some()
    }

    /// Holds `event`, read at trace line `line`, to the network and the replay; returns
    /// whether it begins a step of the run.
    fn observe(&mut self, event: &Event, line: u64, skipped: &BTreeMap<String, u64>) -> bool {
        if self.not_replayable.is_none()
            && let Some(checked) = &mut self.network
            && let Err(sentence) = checked.observe(event)
        {
            // The sends of messages the reader skips are unknown to the network check, so
            // it has no verdict then: the replay's refusal names the program that wrote them.
            if !skips_messages(skipped) {
                self.not_in_network = Some((line, sentence));
            }
            self.network = None;
        }
        match &mut self.replay {
            Some(replayed) => match replayed.observe(event) {
                Ok(began) => began,
                Err(refusal) => {
                    self.not_replayable.get_or_insert((line, refusal));
                    // Programs are stopped and reaped now, not at the end of the file.
                    self.replay = None;
                    true
                }
            },
            None => starts_a_step(event),
        }
    }

    /// The first refusal, if any; else what the replay and the network say of the end of
    /// the trace, on the summary's line.
    fn finish(
        self,
        header: &TraceHeader,
        summary: &TraceSummary,
        skipped: &BTreeMap<String, u64>,
    ) -> Result<(), CheckError> {
        let Holding {
            mut replay,
            network,
            not_replayable,
            not_in_network,
        } = self;
        first_refusal(not_replayable, not_in_network, skipped)?;
        if let Some(replay) = &mut replay {
            let quiescent = summary.end.as_deref() == Some("quiescent");
            replay
                .finish(quiescent)
                .map_err(|refusal| refused(summary.line, refusal, skipped))?;
        }
        drop(replay);
        if let Some(network) = &network {
            network
                .finish(summary.end.as_deref(), header.max_time_us)
                .map_err(|sentence| invalid(summary.line, sentence))?;
        }
        Ok(())
    }
}

/// The earlier of the replay's and the network check's refusals, as the error to report.
fn first_refusal(
    not_replayable: Option<(u64, Refusal)>,
    not_in_network: Option<(u64, String)>,
    skipped: &BTreeMap<String, u64>,
) -> Result<(), CheckError> {
    match (not_replayable, not_in_network) {
        (Some((line, refusal)), network_first) => Err(match network_first {
            Some((first, sentence)) if first < line => CheckError::Read(invalid(first, sentence)),
            _ => refused(line, refusal, skipped),
        }),
        (None, Some((line, sentence))) => Err(CheckError::Read(invalid(line, sentence))),
        (None, None) => Ok(()),
    }
}

/// What the checker makes of the events, and what they show of how the run ended.
struct Pass {
    keep_going: bool,
    checker: Checker,
    tables: Tables,
    /// The checker's violations of the event at hand (kept to reuse its memory).
    found: Vec<Violation>,
    findings: Vec<Finding>,
    /// The `seq` of the event at which the check stopped (first safety violation).
    stopped_at: Option<u64>,
    /// Events the checker saw.
    checked: u64,
    last_t_us: u64,
    closing_violations: u64,
    first_safety_violation: Option<u64>,
    next_step_after_violation: Option<u64>,
}

impl Pass {
    fn new(header: &TraceHeader, options: OfflineOptions) -> Self {
        Pass {
            keep_going: options.keep_going,
            checker: Checker::for_trace(&header.initial_balances),
            tables: Tables::new(&header.initial_balances),
            found: Vec::new(),
            findings: Vec::new(),
            stopped_at: None,
            checked: 0,
            last_t_us: 0,
            closing_violations: 0,
            first_safety_violation: None,
            next_step_after_violation: None,
        }
    }

    /// Notes the time and kind of every event, refused or not: the trace's last ones tell
    /// when the run ended and how many closing violations it wrote.
    fn note_last(&mut self, event: &Event) {
        self.last_t_us = event.t_us;
        self.closing_violations = match event.kind {
            EventKind::Violation { .. } => self.closing_violations + 1,
            _ => 0,
        };
    }

    /// Checks an event the replay accepted; `began_a_step` says whether it starts a step.
    fn check(&mut self, event: &Event, began_a_step: bool) {
        if self.first_safety_violation.is_some()
            && self.next_step_after_violation.is_none()
            && began_a_step
        {
            self.next_step_after_violation = Some(event.seq);
        }
        if self.stopped_at.is_some() || matches!(event.kind, EventKind::Violation { .. }) {
            return;
        }
        self.checked += 1;
        self.tables.observe(event);
        self.checker.observe(event, &mut self.found);
        for violation in self.found.drain(..) {
            if violation.invariant.is_safety() {
                self.first_safety_violation.get_or_insert(event.seq);
                if !self.keep_going {
                    self.stopped_at = Some(event.seq);
                }
            }
            self.findings.push(Finding {
                violation,
                seq: Some(event.seq),
                t_us: event.t_us,
            });
        }
    }

    /// What the events showed, once `events` lines are read, for judging the summary's end.
    fn end_facts(&self, events: u64) -> EndFacts {
        EndFacts {
            events,
            closing_violations: self.closing_violations,
            last_t_us: self.last_t_us,
            first_safety_violation: self.first_safety_violation,
            next_step_after_violation: self.next_step_after_violation,
            in_flight: self.checker.oldest_in_flight().is_some(),
        }
    }

    /// The checks only an offline check makes, at the end of the trace (see the module
    /// documentation of `offline`).
    fn check_end_of_trace(
        &mut self,
        header: &TraceHeader,
        summary: &TraceSummary,
    ) -> Result<(), ReadError> {
        let end_t = summary.end_us.unwrap_or(self.last_t_us).max(self.last_t_us);
        self.check_final_tables(summary, end_t);
        check_summary(
            &self.checker,
            &self.tables,
            summary,
            self.findings.is_empty(),
        )?;
        let end = summary.end.as_deref();
        if end == Some("quiescent") {
            self.check_quiescence(summary, end_t)?;
        }
        if end != Some("violation") {
            self.check_liveness(header, end, end_t);
        }
        Ok(())
    }

    /// `conservation` on every table of the summary's `final_balances`.
    fn check_final_tables(&mut self, summary: &TraceSummary, end_t: u64) {
        for (slot, table) in summary.final_balances.iter().enumerate() {
            let broken = self.checker.check_table(ClientId::from_index(slot), table);
            self.findings.extend(broken.map(at_end(end_t)));
        }
    }

    /// A run that ended quiescent leaves no message in flight, and its ledgers agree.
    fn check_quiescence(&mut self, summary: &TraceSummary, end_t: u64) -> Result<(), ReadError> {
        if let Some((msg_id, from, to, sent)) = self.checker.oldest_in_flight() {
            return Err(invalid(
                summary.line,
                format!(
                    "the summary says the run ended quiescent, but message m{msg_id} from \
                     client {from} to client {to} (sent at event {sent}) was never delivered \
                     or dropped"
                ),
            ));
        }
        let disagreeing = self.checker.at_quiescence();
        self.findings.extend(disagreeing.map(at_end(end_t)));
        Ok(())
    }

    /// `liveness`, with the waiters rebuilt from the events, for a run that ended `end`.
    fn check_liveness(&mut self, header: &TraceHeader, end: Option<&str>, end_t: u64) {
        let waiters = self.checker.waiters_from_events(&header.protocol);
        let why_ended = why_ended(header, end, end_t);
        let stalled = self.checker.liveness_violations(&waiters, &why_ended);
        self.findings.extend(stalled.into_iter().map(at_end(end_t)));
    }
}

/// A finding of the checks at the end of the trace, when the run ended (`end_t`).
fn at_end(end_t: u64) -> impl Fn(Violation) -> Finding {
    move |violation| Finding {
        violation,
        seq: None,
        t_us: end_t,
    }
}

/// How the run ended, as a liveness violation's sentence says it.
fn why_ended(header: &TraceHeader, end: Option<&str>, end_t: u64) -> String {
    match end {
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
    }
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
