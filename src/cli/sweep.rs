//! `lamport-ledger sweep`: one scenario over a range of seeds, in parallel, with a progress
//! display, a per-run results file and the failing seeds grouped by invariant.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::files::{is_standard_stream, refuse_input_as_output, report_writer};
use super::program::Program;
use super::run::{load_scenario, node_cmd_flag, shell_quote, stdout_error, with_node_cmd};
use super::{CliError, EXIT_OK, EXIT_USAGE, EXIT_VIOLATION, PendingFile};
use crate::check::Invariant;
use crate::hunt::sweep::NODE_FAILED;
use crate::hunt::sweep::{EXAMPLES_PER_GROUP, SweepError, WORKERS_PER_CORE_MAX, quiet_panics};
use crate::hunt::{
    Digests, FailureKind, Progress, RunRecord, SeedRange, SeedSet, Shard, SweepConfig, Tally,
    sweep, worker_threads,
};
use crate::scenario::{Expect, ExpectedOutcome, Scenario};
use crate::wording::count;

#[derive(Debug, Args)]
pub(super) struct SweepArgs {
    /// The scenario file (JSON).
    scenario: PathBuf,
    /// The seeds to run: A..B (B excluded), A..=B (B included), or one seed.
    #[arg(long, value_name = "A..B")]
    seeds: SeedRange,
    /// Worker threads (0 or absent: one per core, as for `explore --jobs 0`). Results do not
    /// depend on it.
    #[arg(long, value_name = "J")]
    jobs: Option<u16>,
    /// Run only the K-th of N disjoint slices of the seeds: those s with (s - A) % N == K - 1.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Write one JSON line per run, in seed order, to FILE (docs/hunting.md); `-` writes them
    /// on standard output and the report on standard error.
    #[arg(long, short = 'o', visible_alias = "output", value_name = "FILE")]
    out: Option<PathBuf>,
    /// Run every seed twice and fail any seed whose two digests differ.
    #[arg(long)]
    check_determinism: bool,
    /// Swarm testing: every seed draws its own configuration from the scenario's `swarm`
    /// bounds; the drawn configuration is printed with every failure.
    #[arg(long)]
    swarm: bool,
    /// Judge every run by this instead of the scenario's `expect`: `ok` (the seeds that
    /// violate an invariant fail, and are listed), `violation` (of any invariant), or the
    /// name of the invariant that must be violated.
    #[arg(long, value_name = "ok|violation|INVARIANT", value_parser = parse_expect)]
    expect: Option<Expect>,
    /// Play every client with this program, one process each (docs/nodes.md), as for `run`.
    #[arg(long, value_name = "CMD")]
    node_cmd: Option<String>,
}

/// `--expect`: `ok`, `violation` or an invariant's name (docs/spec.md section 4).
fn parse_expect(text: &str) -> Result<Expect, String> {
    let outcome = |outcome, invariant| Expect { outcome, invariant };
    match text {
        "ok" => return Ok(outcome(ExpectedOutcome::Ok, None)),
        "violation" => return Ok(outcome(ExpectedOutcome::Violation, None)),
        _ => {}
    }
    match Invariant::ALL
        .into_iter()
        .find(|invariant| invariant.name() == text)
    {
        Some(invariant) => Ok(outcome(ExpectedOutcome::Violation, Some(invariant))),
        None => Err(format!(
            "\"{text}\" is not ok, violation or an invariant ({})",
            Invariant::ALL.map(Invariant::name).join(", ")
        )),
    }
}

pub(super) fn sweep_command(args: &SweepArgs, program: &Program) -> Result<u8, CliError> {
    let mut scenario = with_node_cmd(
        load_scenario(Some(&args.scenario))?,
        args.node_cmd.as_deref(),
    )?;
    if let Some(expect) = args.expect {
        scenario.expect = Some(expect);
    }
    if args.swarm && scenario.swarm.is_none() {
        return Err(CliError::Usage(format!(
            "{}: --swarm needs a `swarm` section with the bounds to draw from",
            args.scenario.display()
        )));
    }
    let shard = args.shard.unwrap_or(Shard::WHOLE);
    let seeds = SeedSet::new(args.seeds, shard);
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let requested = match args.jobs {
        None | Some(0) => cores,
        Some(jobs) => usize::from(jobs),
    };
    let jobs = worker_threads(requested, seeds.len(), cores);
    refuse_input_as_output(args.out.as_deref(), "--out", &[Some(&args.scenario)])?;
    let out_file = args.out.as_deref().map(PendingFile::create).transpose()?;
    let mut out = out_file.as_ref().map(PendingFile::writer).transpose()?;
    let what = describe_sweep(
        &args.scenario,
        &scenario,
        seeds,
        Threads {
            used: jobs,
            asked: args.jobs.filter(|&asked| asked > 0).map(usize::from),
        },
        args.check_determinism,
    );
    // The opening line, so a long sweep says what it runs before its report.
    eprintln!("{HEADER_LABEL}{what}");
    let report_on_stderr = args.out.as_deref().is_some_and(is_standard_stream);
    let header_shown = report_on_stderr || stdout_is_stderr();

    let config = SweepConfig {
        scenario,
        seeds,
        jobs,
        check_determinism: args.check_determinism,
        swarm: args.swarm,
        // The records written to --out carry every run's digest; without --out only the
        // failing seeds are shown, so only they need one.
        digests: if args.out.is_some() {
            Digests::EveryRun
        } else {
            Digests::FailuresOnly
        },
    };
    let progress = Progress::default();
    let mut tally = Tally::default();
    let started = Instant::now();
    let outcome = with_progress(seeds.len(), &progress, || {
        quiet_panics(|| {
            sweep(&config, &progress, |records| {
                tally.add(records);
                if let Some(out) = out.as_mut() {
                    write_records(out, records)?;
                }
                Ok(())
            })
        })
    });
    let elapsed = started.elapsed();
    let out_error = |source| CliError::Io {
        path: out_file
            .as_ref()
            .map_or_else(String::new, PendingFile::shown),
        source,
    };
    match outcome {
        Ok(()) => {}
        Err(SweepError::Io(source)) => return Err(out_error(source)),
        Err(SweepError::OverBudget(sentence)) => return Err(CliError::Usage(sentence)),
        Err(error @ SweepError::Pool { .. }) => {
            eprintln!("lamport-ledger: {error}");
            return Ok(EXIT_USAGE);
        }
    }
    if let Some(mut out) = out.take() {
        out.flush().map_err(out_error)?;
    }
    let out_shown = out_file.as_ref().map(PendingFile::shown);
    if let Some(file) = out_file {
        file.commit()?;
    }
    let report = SweepReport {
        what: (!header_shown).then_some(what.as_str()),
        program,
        scenario_path: &args.scenario,
        expected: expected_text(&config.scenario, args.expect.is_some()),
        tally: &tally,
        elapsed,
        out: out_shown,
        node_cmd: args.node_cmd.as_deref(),
        played_by_program: config.scenario.node.is_some(),
    };
    let mut report_out = report_writer(args.out.as_deref());
    report.write(&mut report_out).map_err(stdout_error)?;
    report_out.flush().map_err(stdout_error)?;
    Ok(if tally.failed() > 0 {
        EXIT_VIOLATION
    } else {
        EXIT_OK
    })
}

/// The worker threads of a sweep: those it uses, and those a `--jobs` other than 0 asked for.
struct Threads {
    used: usize,
    asked: Option<usize>,
}

impl Threads {
    /// `on 8 threads`, and why when `--jobs` asked for more.
    fn describe(&self) -> String {
        let used = count(self.used, "thread");
        match self.asked {
            Some(asked) if asked > self.used => format!(
                "on {used} (not {asked}: no more than one per run and {WORKERS_PER_CORE_MAX} per \
                 core)"
            ),
            _ => format!("on {used}"),
        }
    }
}

fn describe_sweep(
    path: &Path,
    scenario: &Scenario,
    seeds: SeedSet,
    threads: Threads,
    check_determinism: bool,
) -> String {
    let shard = if seeds.shard == Shard::WHOLE {
        String::new()
    } else {
        format!(", shard {}", seeds.shard)
    };
    let runs = seeds.len();
    format!(
        "{} (\"{}\"), seeds {}{shard}: {} {}{}",
        path.display(),
        scenario.name,
        seeds.range,
        count(runs, "run"),
        threads.describe(),
        if check_determinism {
            ", each seed twice to check determinism"
        } else {
            ""
        }
    )
}

/// The label of the line that names the sweep, aligned with the report's other labels.
const HEADER_LABEL: &str = "sweep:     ";

/// Standard output and standard error are one file (a terminal, `2>&1`, one log): the report
/// on standard output then follows the opening line on the same stream.
#[cfg(unix)]
fn stdout_is_stderr() -> bool {
    use std::fs::File;
    use std::os::fd::{AsFd, BorrowedFd};
    use std::os::unix::fs::MetadataExt;

    let identity = |fd: BorrowedFd| {
        let file = File::from(fd.try_clone_to_owned().ok()?);
        let metadata = file.metadata().ok()?;
        Some((metadata.dev(), metadata.ino()))
    };
    let out = identity(io::stdout().as_fd());
    out.is_some() && out == identity(io::stderr().as_fd())
}

#[cfg(not(unix))]
fn stdout_is_stderr() -> bool {
    false
}

/// What the scenario's `expect`, or `--expect` in its place, asks of every run.
fn expected_text(scenario: &Scenario, from_flag: bool) -> String {
    let wanted = wanted_text(scenario);
    if from_flag {
        format!("{wanted} (from --expect)")
    } else {
        wanted
    }
}

fn wanted_text(scenario: &Scenario) -> String {
    match scenario.expect {
        None => "no violation (the scenario has no expect)".to_string(),
        Some(expect) => match (expect.outcome, expect.invariant) {
            (ExpectedOutcome::Ok, _) => "ok: no violation".to_string(),
            (ExpectedOutcome::Violation, None) => "a violation of any invariant".to_string(),
            (ExpectedOutcome::Violation, Some(invariant)) => {
                format!("a violation of {invariant}")
            }
        },
    }
}

/// One JSON object per record, each on its own line.
fn write_records(out: &mut dyn Write, records: &[RunRecord]) -> io::Result<()> {
    for record in records {
        serde_json::to_writer(&mut *out, record)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// How often a plain progress line is written when standard error is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(2);
/// How often the progress bar is refreshed.
const BAR_EVERY: Duration = Duration::from_millis(100);

/// Runs `work` while another thread reports `progress`: a bar on a terminal, a plain line every
/// two seconds otherwise.
fn with_progress<R>(total: u64, progress: &Progress, work: impl FnOnce() -> R) -> R {
    let (stop, stopped) = mpsc::channel::<()>();
    thread::scope(|scope| {
        scope.spawn(move || {
            if io::stderr().is_terminal() {
                show_bar(total, progress, &stopped);
            } else {
                show_lines(total, progress, &stopped);
            }
        });
        let result = work();
        drop(stop);
        result
    })
}

fn show_bar(total: u64, progress: &Progress, stopped: &mpsc::Receiver<()>) {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{elapsed_precise} [{wide_bar}] {pos}/{len} runs, {msg}, {eta} left",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message("0 runs/s, 0 failed");
    let started = Instant::now();
    loop {
        let done = progress.done();
        bar.set_position(done);
        bar.set_message(format!(
            "{} runs/s, {} failed",
            rate(done, started.elapsed()),
            progress.failed()
        ));
        match stopped.recv_timeout(BAR_EVERY) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => break,
        }
    }
    bar.finish_and_clear();
}

fn show_lines(total: u64, progress: &Progress, stopped: &mpsc::Receiver<()>) {
    let started = Instant::now();
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(PLAIN_EVERY) {
        let done = progress.done();
        let elapsed = started.elapsed();
        let left = match (total - done).checked_mul(elapsed.as_millis() as u64) {
            Some(work) if done > 0 => format!(", about {}s left", work / done / 1000),
            _ => String::new(),
        };
        eprintln!(
            "sweep: {done}/{total} runs ({}%), {} runs/s, {} failed{left}",
            (done * 100).checked_div(total).unwrap_or(100),
            rate(done, elapsed),
            progress.failed()
        );
    }
}

fn rate(runs: u64, elapsed: Duration) -> u64 {
    let micros = elapsed.as_micros().max(1);
    (u128::from(runs) * 1_000_000 / micros) as u64
}

/// The closing report on standard output (standard error when the records go there).
struct SweepReport<'a> {
    /// What was swept, for the report's first line; `None` when the opening line already said
    /// it on the same stream.
    what: Option<&'a str>,
    /// How the printed replay commands start.
    program: &'a Program,
    scenario_path: &'a Path,
    expected: String,
    tally: &'a Tally,
    elapsed: Duration,
    /// Where `--out` wrote the records, as shown to the user.
    out: Option<String>,
    /// `--node-cmd`, repeated in the printed replay commands.
    node_cmd: Option<&'a str>,
    /// Whether a program plays the clients: a failed run may then be the program's.
    played_by_program: bool,
}

impl SweepReport<'_> {
    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let tally = self.tally;
        if let Some(what) = self.what {
            writeln!(out, "{HEADER_LABEL}{what}")?;
        }
        writeln!(out, "expected:  {}", self.expected)?;
        writeln!(
            out,
            "runs:      {} in {:.2}s ({} runs/s, {} events): {} passed, {} failed",
            tally.runs,
            self.elapsed.as_secs_f64(),
            rate(tally.runs, self.elapsed),
            tally.events,
            tally.passed,
            tally.failed()
        )?;
        if let Some(shown) = &self.out {
            writeln!(out, "results:   {shown} (one JSON line per run)")?;
        }
        if tally.runs == 0 {
            return writeln!(out, "verdict:   nothing to run: this shard holds no seed");
        }
        if tally.groups.is_empty() {
            return writeln!(out, "verdict:   every run passed");
        }
        writeln!(
            out,
            "verdict:   {} FAILED; by kind:",
            count(tally.failed(), "run")
        )?;
        let scenario = shell_quote(&self.scenario_path.display().to_string());
        for (kind, group) in &tally.groups {
            writeln!(
                out,
                "  {}: {} run{}",
                kind_label(*kind, self.played_by_program),
                group.count,
                if group.count == 1 { "" } else { "s" }
            )?;
            for record in &group.examples {
                write_example(out, self.program, &scenario, self.node_cmd, record)?;
            }
            let more = group.count - group.examples.len() as u64;
            if more > 0 {
                let hint = match &self.out {
                    Some(shown) => format!("they are in {shown}"),
                    None => "--out FILE lists every run".to_string(),
                };
                writeln!(
                    out,
                    "    … and {more} more (the first {EXAMPLES_PER_GROUP} are shown; {hint})"
                )?;
            }
        }
        Ok(())
    }
}

fn kind_label(kind: FailureKind, played_by_program: bool) -> String {
    match kind {
        FailureKind::Nondeterministic => {
            "NOT deterministic (two runs of the same seed gave different digests)".to_string()
        }
        FailureKind::Panic if played_by_program => {
            "failed run (the node program broke the wire protocol, or the simulator crashed)"
                .to_string()
        }
        FailureKind::Panic => "panic (the simulator crashed: a bug in lamport-ledger)".to_string(),
        FailureKind::Violated(invariant) => invariant.name().to_string(),
        FailureKind::NoViolation => "no violation (every invariant held)".to_string(),
    }
}

fn write_example(
    out: &mut dyn Write,
    program: &Program,
    scenario: &str,
    node_cmd: Option<&str>,
    record: &RunRecord,
) -> io::Result<()> {
    let seed = record.seed;
    if record.nondeterministic() {
        writeln!(
            out,
            "    seed {seed} is NOT deterministic: digest {} on the first run, {} on the second",
            record.digest.as_deref().unwrap_or("-"),
            record.rerun_digest.as_deref().unwrap_or("-")
        )?;
    }
    if let Some(message) = &record.panic {
        // With a program playing the clients, a failed run is most likely the program's.
        let verb = if node_cmd.is_some() || message.starts_with(NODE_FAILED) {
            "failed"
        } else {
            "panicked"
        };
        writeln!(out, "    seed {seed} {verb}: {message}")?;
    }
    if let Some(drawn) = &record.drawn {
        writeln!(out, "    seed {seed} drew: {drawn}")?;
    }
    let swarm = if record.drawn.is_some() {
        " --swarm"
    } else {
        ""
    };
    let node = node_cmd_flag(node_cmd);
    let replay = match &record.digest {
        Some(digest) => {
            format!("replay {scenario} --seed {seed}{swarm}{node} --expect-digest {digest}")
        }
        None => format!("replay {scenario} --seed {seed}{swarm}{node}"),
    };
    writeln!(out, "    {}", program.command(&replay))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hunt::sweep::Outcome;

    fn record(seed: u64, passed: bool) -> RunRecord {
        RunRecord {
            seed,
            outcome: Outcome::Violation,
            invariant: Some(Invariant::Liveness),
            invariants: vec![Invariant::Liveness],
            events: 10,
            digest: Some("aa".repeat(32)),
            passed,
            rerun_digest: None,
            panic: None,
            drawn: None,
            over_budget: None,
        }
    }

    fn report(records: &[RunRecord]) -> String {
        let mut tally = Tally::default();
        tally.add(records);
        let report = SweepReport {
            what: Some("x"),
            program: &Program::default(),
            scenario_path: Path::new("scenarios/my scenario.json"),
            expected: "ok: no violation".into(),
            tally: &tally,
            elapsed: Duration::from_secs(1),
            out: None,
            node_cmd: None,
            played_by_program: false,
        };
        let mut text = Vec::new();
        report.write(&mut text).unwrap();
        String::from_utf8(text).unwrap()
    }

    #[test]
    fn a_nondeterministic_seed_is_named_with_both_digests() {
        let mut odd = record(17, false);
        odd.rerun_digest = Some("bb".repeat(32));
        let text = report(&[record(16, true), odd]);
        assert!(text.contains("NOT deterministic"), "{text}");
        assert!(
            text.contains(&format!(
                "seed 17 is NOT deterministic: digest {} on the first run, {} on the second",
                "aa".repeat(32),
                "bb".repeat(32)
            )),
            "{text}"
        );
    }

    #[test]
    fn failing_seeds_get_a_quoted_replay_command_and_long_groups_are_cut() {
        let records: Vec<RunRecord> = (0..25).map(|seed| record(seed, false)).collect();
        let text = report(&records);
        assert!(text.contains("  liveness: 25 runs"), "{text}");
        assert!(
            text.contains(&format!(
                "    lamport-ledger replay 'scenarios/my scenario.json' --seed 0 --expect-digest {}",
                "aa".repeat(32)
            )),
            "{text}"
        );
        assert!(text.contains("… and 15 more"), "{text}");
        assert!(!text.contains("--seed 10 "), "{text}");
    }

    #[test]
    fn the_rate_is_runs_per_second() {
        assert_eq!(rate(500, Duration::from_millis(250)), 2000);
        assert_eq!(rate(0, Duration::ZERO), 0);
    }
}
