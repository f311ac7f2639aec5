//! The sweep engine: one scenario, many seeds, in parallel, results in seed order.
//!
//! Every run is the ordinary single-threaded, deterministic run of `runner::run_scenario` with
//! the seed replaced and no trace output (the encoder still computes the digest). Runs are
//! spread over a rayon pool of `jobs` threads in chunks; each chunk's records are handed to the
//! caller in seed order before the next chunk starts, so the output never depends on `jobs`
//! and memory stays bounded however many seeds a sweep runs.

use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::seeds::SeedSet;
use super::swarm;
use crate::check::Invariant;
use crate::runner::{RunReport, passed, run_scenario};
use crate::scenario::{MemoryBudgetExceeded, Scenario};
use crate::sim::{RunOptions, RunResult, node_failure, simulate};

/// What one run showed, as written to a line of `sweep --out` (docs/hunting.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub seed: u64,
    pub outcome: Outcome,
    /// The invariant of the run's first violation.
    pub invariant: Option<Invariant>,
    /// Every invariant the run violated, in trace order, each once.
    pub invariants: Vec<Invariant>,
    /// Trace events, the summary's `events`.
    pub events: u64,
    /// The trace digest: null when the run panicked, and for a passing run of a sweep that
    /// keeps digests of failures only ([`Digests::FailuresOnly`]).
    pub digest: Option<String>,
    /// The run met the scenario's `expect` (held every invariant when there is none), did not
    /// panic and, when checked, gave the same digest twice.
    pub passed: bool,
    /// With `--check-determinism`: the second run's digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_digest: Option<String>,
    /// When the run panicked: the panic message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panic: Option<String>,
    /// With `--swarm`: the configuration the seed drew, in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drawn: Option<String>,
    /// The run outgrew the scenario's memory budget: the sentence that says so. Not a result
    /// of the seed but a setting to raise, so the sweep stops with it (see [`sweep`]).
    #[serde(skip)]
    pub over_budget: Option<String>,
}

impl RunRecord {
    /// Both runs of a determinism check gave a digest, and they differ.
    pub fn nondeterministic(&self) -> bool {
        matches!((&self.digest, &self.rerun_digest), (Some(a), Some(b)) if a != b)
    }

    /// The group a failing run is listed under.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        if self.passed {
            None
        } else if self.nondeterministic() {
            Some(FailureKind::Nondeterministic)
        } else if self.outcome == Outcome::Panic {
            Some(FailureKind::Panic)
        } else {
            Some(match self.invariant {
                Some(invariant) => FailureKind::Violated(invariant),
                None => FailureKind::NoViolation,
            })
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every invariant held.
    Ok,
    /// At least one invariant was violated.
    Violation,
    /// The simulator panicked: a bug in this program, not in the protocol.
    Panic,
}

/// Why a run failed; failing seeds are grouped by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailureKind {
    /// Two runs of the same seed gave different digests.
    Nondeterministic,
    /// The simulator panicked.
    Panic,
    /// The first violation was of this invariant (and that was not what `expect` asked for).
    Violated(Invariant),
    /// No invariant was violated, but the scenario expected a violation.
    NoViolation,
}

/// What a sweep asks for.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    pub scenario: Scenario,
    pub seeds: SeedSet,
    /// Worker threads (at least 1).
    pub jobs: usize,
    /// Run every seed twice and fail the seed if the digests differ.
    pub check_determinism: bool,
    /// Swarm testing: each seed runs the configuration it draws from the scenario's bounds.
    pub swarm: bool,
    /// Which runs need their trace digest.
    pub digests: Digests,
}

/// Which runs of a sweep compute their trace digest. Computing it means encoding every event
/// as a trace line and hashing it, which costs more than the rest of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Digests {
    /// Every run (`sweep --out`, and always with `--check-determinism`).
    EveryRun,
    /// Only failing runs: each seed first runs for its verdict alone, with no trace and no
    /// message logs in the checker ([`RunOptions::verdict_only`]); a failing seed runs again
    /// in full for its digest. A passing run's record has no digest.
    FailuresOnly,
}

/// Counters the workers bump as runs finish, for a progress display to read at any time.
#[derive(Debug, Default)]
pub struct Progress {
    pub done: AtomicU64,
    pub failed: AtomicU64,
}

impl Progress {
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
}

/// A sweep that could not run.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("could not start {jobs} worker threads: {source}")]
    Pool {
        jobs: usize,
        source: rayon::ThreadPoolBuildError,
    },
    #[error(transparent)]
    Io(#[from] io::Error),
    /// A run outgrew `limits.max_memory_mib`: the sentence that names the scenario and the
    /// setting to raise.
    #[error("{0}")]
    OverBudget(String),
}

/// Workers beyond this many per core only take turns on the cores: every run is
/// single-threaded and computes without waiting. The margin over one per core covers a
/// machine that reports fewer cores than it lends.
pub const WORKERS_PER_CORE_MAX: usize = 4;

/// The worker threads a sweep of `runs` runs uses when `requested` are asked for on a machine
/// with `cores` cores: at least one, no more than the runs (a worker without a run costs its
/// start and nothing else) and no more than [`WORKERS_PER_CORE_MAX`] per core. A pool of
/// thousands of threads takes seconds to start and to hand out work, which is what a
/// `--jobs` far above the seeds or the cores would cost.
pub fn worker_threads(requested: usize, runs: u64, cores: usize) -> usize {
    let per_run = usize::try_from(runs).unwrap_or(usize::MAX);
    let per_core = cores.max(1).saturating_mul(WORKERS_PER_CORE_MAX);
    requested.min(per_run).min(per_core).max(1)
}

/// Runs per chunk and per worker: chunks are small enough to keep memory flat and to write
/// results as they come, large enough that the wait at each chunk's end is negligible.
const RUNS_PER_JOB_PER_CHUNK: usize = 256;

/// Runs every seed of `config.seeds`, bumping `progress` as runs finish, and hands the records
/// to `sink` in seed order, a chunk at a time.
pub fn sweep(
    config: &SweepConfig,
    progress: &Progress,
    mut sink: impl FnMut(&[RunRecord]) -> io::Result<()>,
) -> Result<(), SweepError> {
    let total = config.seeds.len();
    // Threads without a run to do would only slow the pool's start.
    let jobs = config
        .jobs
        .min(usize::try_from(total).unwrap_or(usize::MAX))
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .thread_name(|i| format!("sweep-{i}"))
        .build()
        .map_err(|source| SweepError::Pool { jobs, source })?;
    let chunk = (jobs * RUNS_PER_JOB_PER_CHUNK) as u64;
    let mut start = 0;
    while start < total {
        let end = total.min(start + chunk);
        let records: Vec<RunRecord> = pool.install(|| {
            (start..end)
                .into_par_iter()
                .map_init(
                    || config.scenario.clone(),
                    |scenario, i| {
                        let seed = config.seeds.nth(i);
                        let record = match config
                            .swarm
                            .then(|| swarm::draw(&config.scenario, seed))
                            .flatten()
                        {
                            Some(mut drawn) => {
                                let mut record = run_seed(&mut drawn, seed, config.mode());
                                record.drawn = Some(swarm::describe(&drawn));
                                record
                            }
                            None => run_seed(scenario, seed, config.mode()),
                        };
                        progress.done.fetch_add(1, Ordering::Relaxed);
                        if !record.passed {
                            progress.failed.fetch_add(1, Ordering::Relaxed);
                        }
                        record
                    },
                )
                .collect()
        });
        if let Some(sentence) = records.iter().find_map(|record| record.over_budget.clone()) {
            return Err(SweepError::OverBudget(sentence));
        }
        sink(&records)?;
        start = end;
    }
    Ok(())
}

impl SweepConfig {
    fn mode(&self) -> RunMode {
        if self.check_determinism {
            RunMode::Twice
        } else {
            match self.digests {
                Digests::EveryRun => RunMode::Full,
                Digests::FailuresOnly => RunMode::VerdictFirst,
            }
        }
    }
}

/// How one seed of a sweep is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// Once, with its digest.
    Full,
    /// Twice, failing the seed if the digests differ.
    Twice,
    /// For its verdict alone; a failing seed runs again in full (see [`Digests::FailuresOnly`]).
    VerdictFirst,
}

/// Runs `scenario` with `seed` as `mode` says and records the result. A panic in the
/// simulator is caught and recorded as a failed run; a run over its memory budget is recorded
/// with [`RunRecord::over_budget`].
pub fn run_seed(scenario: &mut Scenario, seed: u64, mode: RunMode) -> RunRecord {
    scenario.seed = seed;
    if mode == RunMode::VerdictFirst
        && let Some(record) = passing_verdict(scenario)
    {
        return record;
    }
    let first = match run_catching(scenario) {
        Ok(report) => report,
        Err(no_report) => return no_report.record(seed),
    };
    let mut record = record_of(&first);
    if mode == RunMode::Twice {
        match run_catching(scenario) {
            Ok(second) => {
                record.passed &= second.digest_hex == first.digest_hex;
                record.rerun_digest = Some(second.digest_hex);
            }
            Err(NoReport::Panic(message)) => {
                record.passed = false;
                record.outcome = Outcome::Panic;
                record.panic = Some(format!("on the second run: {message}"));
            }
            Err(no_report @ NoReport::OverBudget(_)) => return no_report.record(seed),
        }
    }
    record
}

/// The record of a run made for its verdict alone, if it passed (it has no digest); `None`
/// when it failed or panicked, to be run again in full.
fn passing_verdict(scenario: &Scenario) -> Option<RunRecord> {
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        simulate(scenario, RunOptions::verdict_only(), &mut [])
    }))
    .ok()?
    .ok()?;
    passed(scenario, &result).then(|| RunRecord {
        digest: None,
        ..record_of_result(scenario.seed, &result, true)
    })
}

/// The record of a finished run.
pub fn record_of(report: &RunReport) -> RunRecord {
    RunRecord {
        digest: Some(report.digest_hex.clone()),
        ..record_of_result(report.seed, &report.result, report.passed())
    }
}

fn record_of_result(seed: u64, result: &RunResult, passed: bool) -> RunRecord {
    let mut invariants: Vec<Invariant> = Vec::new();
    for recorded in &result.violations {
        if !invariants.contains(&recorded.violation.invariant) {
            invariants.push(recorded.violation.invariant);
        }
    }
    RunRecord {
        seed,
        outcome: if invariants.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Violation
        },
        invariant: invariants.first().copied(),
        invariants,
        events: result.events,
        digest: None,
        passed,
        rerun_digest: None,
        panic: None,
        drawn: None,
        over_budget: None,
    }
}

fn panicked(seed: u64, message: String) -> RunRecord {
    RunRecord {
        seed,
        outcome: Outcome::Panic,
        invariant: None,
        invariants: Vec::new(),
        events: 0,
        digest: None,
        passed: false,
        rerun_digest: None,
        panic: Some(message),
        drawn: None,
        over_budget: None,
    }
}

/// How the record of a run starts whose node program broke the wire protocol.
pub const NODE_FAILED: &str = "the node program failed: ";

/// Why a run gave no report.
enum NoReport {
    /// The simulator panicked, or a node program broke the wire protocol (the message starts
    /// with [`NODE_FAILED`]).
    Panic(String),
    /// The run outgrew its memory budget.
    OverBudget(String),
}

impl NoReport {
    fn record(self, seed: u64) -> RunRecord {
        match self {
            NoReport::Panic(message) => panicked(seed, message),
            NoReport::OverBudget(sentence) => RunRecord {
                panic: None,
                over_budget: Some(sentence),
                ..panicked(seed, String::new())
            },
        }
    }
}

fn run_catching(scenario: &Scenario) -> Result<RunReport, NoReport> {
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        run_scenario(scenario, RunOptions::default(), Vec::new(), &mut [])
    }));
    match outcome {
        Ok(Ok(report)) => Ok(report),
        // With no trace outputs nothing is written, so the errors are a run over its memory
        // budget (which stops the sweep) and a node program that broke the wire protocol;
        // report that (or any other) as a failure of the run rather than stopping the sweep.
        Ok(Err(error)) if MemoryBudgetExceeded::within(&error).is_some() => {
            Err(NoReport::OverBudget(error.to_string()))
        }
        Ok(Err(error)) => Err(NoReport::Panic(match node_failure(&error) {
            Some(sentence) => format!("{NODE_FAILED}{sentence}"),
            None => format!("I/O error with no output: {error}"),
        })),
        Err(payload) => Err(NoReport::Panic(panic_message(payload.as_ref()))),
    }
}

thread_local! {
    /// Where the last panic on this thread happened, noted by the hook of [`quiet_panics`].
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    let message = if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with no message".to_string()
    };
    match PANIC_LOCATION.with(|cell| cell.borrow_mut().take()) {
        Some(location) => format!("{message} (at {location})"),
        None => message,
    }
}

/// Runs `f` with a panic hook that prints nothing and only notes where a panic happened, so a
/// sweep that hits a panicking seed thousands of times reports each once, with its location,
/// in the summary instead of flooding standard error. The previous hook comes back afterwards.
/// The hook is process-wide: call this from the command line, not from library tests.
pub fn quiet_panics<R>(f: impl FnOnce() -> R) -> R {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
        PANIC_LOCATION.with(|cell| *cell.borrow_mut() = location);
    }));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(previous);
    match result {
        Ok(value) => value,
        Err(payload) => panic::resume_unwind(payload),
    }
}

/// How many failing seeds of each group a tally keeps to show (the smallest ones).
pub const EXAMPLES_PER_GROUP: usize = 10;

/// Counts of a sweep's runs and the failing seeds grouped by [`FailureKind`], keeping the first
/// [`EXAMPLES_PER_GROUP`] of each group.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub runs: u64,
    pub passed: u64,
    pub events: u64,
    pub groups: BTreeMap<FailureKind, Group>,
}

/// The failing runs of one kind.
#[derive(Clone, Debug, Default)]
pub struct Group {
    pub count: u64,
    pub examples: Vec<RunRecord>,
}

impl Tally {
    /// Adds records, which must come in seed order for the examples to be the smallest seeds.
    pub fn add(&mut self, records: &[RunRecord]) {
        for record in records {
            self.runs += 1;
            self.events += record.events;
            match record.failure_kind() {
                None => self.passed += 1,
                Some(kind) => {
                    let group = self.groups.entry(kind).or_default();
                    group.count += 1;
                    if group.examples.len() < EXAMPLES_PER_GROUP {
                        group.examples.push(record.clone());
                    }
                }
            }
        }
    }

    pub fn failed(&self) -> u64 {
        self.runs - self.passed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hunt::seeds::{SeedRange, Shard};
    use crate::scenario::parse_scenario;

    fn reorder() -> Scenario {
        let text = include_str!("../../scenarios/reorder-2.json");
        parse_scenario(text, "scenarios/reorder-2.json").unwrap()
    }

    fn records(jobs: usize, seeds: &str, check: bool) -> Vec<RunRecord> {
        records_with(jobs, seeds, check, Digests::EveryRun)
    }

    fn records_with(jobs: usize, seeds: &str, check: bool, digests: Digests) -> Vec<RunRecord> {
        let config = SweepConfig {
            scenario: reorder(),
            seeds: SeedSet::new(seeds.parse::<SeedRange>().unwrap(), Shard::WHOLE),
            jobs,
            check_determinism: check,
            swarm: false,
            digests,
        };
        let mut all = Vec::new();
        let progress = Progress::default();
        sweep(&config, &progress, |chunk| {
            all.extend_from_slice(chunk);
            Ok(())
        })
        .unwrap();
        assert_eq!(progress.done(), all.len() as u64);
        assert_eq!(
            progress.failed(),
            all.iter().filter(|r| !r.passed).count() as u64
        );
        all
    }

    #[test]
    fn workers_are_bounded_by_the_runs_and_the_cores() {
        assert_eq!(worker_threads(5000, 10, 2), 8);
        assert_eq!(worker_threads(5000, 10, 64), 10);
        assert_eq!(worker_threads(3, 10, 2), 3);
        assert_eq!(worker_threads(2, 0, 2), 1);
        assert_eq!(worker_threads(0, 10, 2), 1);
        assert_eq!(worker_threads(usize::MAX, u64::MAX, usize::MAX), usize::MAX);
    }

    #[test]
    fn a_pool_larger_than_the_runs_is_not_started() {
        let few = records(1, "0..3", false);
        assert_eq!(records(60_000, "0..3", false), few);
    }

    #[test]
    fn records_come_in_seed_order_whatever_the_thread_count() {
        let one = records(1, "0..40", false);
        let three = records(3, "0..40", false);
        assert_eq!(one, three);
        assert_eq!(
            one.iter().map(|r| r.seed).collect::<Vec<_>>(),
            (0..40).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_record_matches_a_single_run_of_the_same_seed() {
        let mut scenario = reorder();
        scenario.seed = 7;
        let report = run_scenario(&scenario, RunOptions::default(), Vec::new(), &mut []).unwrap();
        let record = &records(2, "7", false)[0];
        assert_eq!(record.digest.as_deref(), Some(report.digest_hex.as_str()));
        assert_eq!(record.invariant, Some(Invariant::MutualExclusion));
        assert_eq!(record.outcome, Outcome::Violation);
        assert!(record.passed, "reorder-2 expects this violation");
    }

    #[test]
    fn digests_of_failures_only_change_nothing_but_the_passing_runs_digests() {
        let every = records_with(2, "0..200", false, Digests::EveryRun);
        let failures = records_with(2, "0..200", false, Digests::FailuresOnly);
        let (mut passing, mut failing) = (0, 0);
        for (full, verdict_first) in every.iter().zip(&failures) {
            if full.passed {
                passing += 1;
                assert_eq!(verdict_first.digest, None);
                let without_digest = RunRecord {
                    digest: None,
                    ..full.clone()
                };
                assert_eq!(verdict_first, &without_digest);
            } else {
                failing += 1;
                assert_eq!(verdict_first, full, "a failing seed is rerun in full");
            }
        }
        assert!(
            passing > 0 && failing > 0,
            "{passing} passing, {failing} failing"
        );
        let checked = records_with(1, "0..20", true, Digests::FailuresOnly);
        assert!(
            checked.iter().all(|r| r.digest.is_some()),
            "a determinism check needs every digest"
        );
    }

    #[test]
    fn the_determinism_check_records_the_second_digest() {
        for record in records(2, "0..10", true) {
            assert_eq!(record.rerun_digest, record.digest);
            assert!(!record.nondeterministic());
        }
    }

    #[test]
    fn a_tally_groups_failures_and_keeps_the_smallest_seeds() {
        let all = records(2, "0..200", false);
        let mut tally = Tally::default();
        tally.add(&all);
        assert_eq!(tally.runs, 200);
        let failing: Vec<u64> = all.iter().filter(|r| !r.passed).map(|r| r.seed).collect();
        assert_eq!(tally.failed(), failing.len() as u64);
        let counted: u64 = tally.groups.values().map(|g| g.count).sum();
        assert_eq!(counted, tally.failed());
        for group in tally.groups.values() {
            assert!(group.examples.windows(2).all(|w| w[0].seed < w[1].seed));
        }
    }

    #[test]
    fn a_panic_is_a_failed_run_with_its_message() {
        let payload: Box<dyn Any + Send> = Box::new("boom");
        let record = panicked(3, panic_message(payload.as_ref()));
        assert_eq!(record.failure_kind(), Some(FailureKind::Panic));
        assert_eq!(record.panic.as_deref(), Some("boom"));
        let line = serde_json::to_string(&record).unwrap();
        assert!(line.contains("\"outcome\":\"panic\""), "{line}");
    }
}
