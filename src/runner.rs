//! One run end to end: the trace header, the simulation with its sinks, the summary line, and
//! the verdict against the scenario's `expect`.

use std::io::{self, Write};

use crate::drive::{self, Counts};
use crate::protocol::ledger::to_hex;
use crate::render::text::{TextTimeline, write_verdict};
pub use crate::report::{Expectation, RunReport};
use crate::scenario::{ExpectedOutcome, Scenario};
use crate::sim::{RunOptions, RunResult, simulate};
use crate::trace::{EventSink, Header, Summary, TraceEncoder, TraceOutput};

/// Whether a run of `scenario` that ended with `result` passed (see [`RunReport::passed`]).
pub fn passed(scenario: &Scenario, result: &RunResult) -> bool {
    match expectation(scenario, result) {
        Some(expectation) => expectation.met,
        None => result.violations.is_empty(),
    }
}

/// The trace header of a scenario run.
pub fn header(scenario: &Scenario) -> Header {
    let mut header = Header::new(
        scenario.name.clone(),
        scenario.seed,
        scenario.initial_balances.clone(),
        scenario.protocol.name(),
        scenario
            .mutations
            .iter()
            .map(|mutation| mutation.name())
            .collect(),
        scenario.cs_us,
    );
    header.network = Some(scenario.network.clone());
    header.limits = Some(scenario.limits);
    header.faults = scenario.faults.clone();
    header.schedule = scenario.schedule.clone();
    header
}

/// Runs `scenario`, writing the JSONL trace to every writer in `trace_outputs` and handing
/// every event to `watchers` (e.g. the text timeline).
pub fn run_scenario(
    scenario: &Scenario,
    options: RunOptions,
    trace_outputs: Vec<TraceOutput>,
    watchers: &mut [&mut dyn EventSink],
) -> io::Result<RunReport> {
    let mut encoder = TraceEncoder::new(trace_outputs);
    encoder.header(&header(scenario))?;
    let result = {
        let mut sinks: Vec<&mut dyn EventSink> = Vec::with_capacity(watchers.len() + 1);
        sinks.push(&mut encoder);
        for watcher in watchers.iter_mut() {
            sinks.push(&mut **watcher);
        }
        simulate(scenario, options, &mut sinks)?
    };
    let mut summary = summary(&result);
    let digest = encoder.finish(&mut summary)?;
    Ok(RunReport {
        seed: scenario.seed,
        expectation: expectation(scenario, &result),
        digest_hex: to_hex(&digest),
        summary,
        result,
    })
}

/// Runs `scenario` and writes what a person reads to `out`: the intro, the timeline, then the
/// verdict block ending with `rerun`. `watchers` see every event too (e.g. `run --render`).
/// Returns the report and gives `out` back.
pub fn run_with_timeline<W: Write>(
    scenario: &Scenario,
    options: RunOptions,
    trace_outputs: Vec<TraceOutput>,
    out: W,
    rerun: &str,
    watchers: &mut [&mut dyn EventSink],
) -> io::Result<(RunReport, W)> {
    let mut timeline = TextTimeline::new(out);
    timeline.write_intro(scenario)?;
    let report = {
        let mut sinks: Vec<&mut dyn EventSink> = Vec::with_capacity(watchers.len() + 1);
        sinks.push(&mut timeline);
        for watcher in watchers.iter_mut() {
            sinks.push(&mut **watcher);
        }
        run_scenario(scenario, options, trace_outputs, &mut sinks)?
    };
    let mut out = timeline.into_inner();
    write_verdict(&mut out, &report, rerun)?;
    out.flush()?;
    Ok((report, out))
}

fn summary(result: &RunResult) -> Summary {
    let counts = Counts {
        events: result.events,
        committed: result.committed,
        aborted: result.aborted,
        messages_sent: result.messages_sent,
    };
    let (balances, heads) = drive::tables_and_heads(&result.clients);
    drive::summary(
        result.end.name(),
        result.end_us,
        counts,
        &result.violations,
        balances,
        &heads,
    )
}

fn expectation(scenario: &Scenario, result: &RunResult) -> Option<Expectation> {
    let expect = scenario.expect?;
    let violated = |invariant| {
        result
            .violations
            .iter()
            .any(|v| v.violation.invariant == invariant)
    };
    Some(match (expect.outcome, expect.invariant) {
        (ExpectedOutcome::Ok, _) => Expectation {
            wanted: "ok".into(),
            met: result.violations.is_empty(),
        },
        (ExpectedOutcome::Violation, None) => Expectation {
            wanted: "a violation".into(),
            met: !result.violations.is_empty(),
        },
        (ExpectedOutcome::Violation, Some(invariant)) => Expectation {
            wanted: format!("a violation of {invariant}"),
            met: violated(invariant),
        },
    })
}
