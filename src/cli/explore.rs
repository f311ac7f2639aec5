//! `lamport-ledger explore`: every reachable state of a scenario's clients (or of the port of
//! the TLA+ spec `LamportMutex.tla`), the invariants checked in each, and the shortest path to
//! a violation. See `docs/explore.md`.
//!
//! Exit codes: 0 no violation (or the expectation matched), 1 a violation or deadlock (or a
//! mismatch), 2 bad input or usage.

use super::program::Program;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::files::{is_standard_stream, refuse_input_as_output, report_writer};
use super::run::stdout_error;
use super::{CliError, EXIT_OK, EXIT_VIOLATION, PendingFile};
use crate::check::Invariant;
use crate::explore::replay::write_trace;
use crate::explore::report::{self, TraceNote, cut_short};
use crate::explore::settings::{self, Channels, Overrides, describe_expect, meets};
use crate::explore::tla::{MAX_CLOCK, MAX_PROCESSES};
use crate::explore::{
    Order, SearchOptions, SearchProgress, Stats, TlaConfig, default_memory_budget,
    explore_system_with_progress, explore_tla_with_progress, peak_rss_kib,
};

#[derive(Debug, Args)]
pub(super) struct ExploreArgs {
    /// A scenario file, or an exploration file that names one (see docs/explore.md).
    #[arg(required_unless_present = "model", conflicts_with = "model")]
    scenario: Option<PathBuf>,
    /// Explore a built-in model instead of a scenario: the port of Stephan Merz's TLA+ spec
    /// LamportMutex.tla (tlaplus/Examples).
    #[arg(long, value_enum)]
    model: Option<BuiltinModel>,
    /// The spec's N (with --model).
    #[arg(long, value_name = "N", requires = "model")]
    clients: Option<u8>,
    /// The spec's maxClock, the bound of its ClockConstraint (with --model).
    #[arg(long, value_name = "C", requires = "model")]
    max_clock: Option<u8>,
    /// Channels as multisets: any message in flight may be delivered next, not only the oldest
    /// of its link.
    #[arg(long)]
    bag: bool,
    /// Do not expand states this many steps from the initial state.
    #[arg(long, value_name = "D")]
    max_depth: Option<u32>,
    /// Stop after storing this many distinct states (at least 1).
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(1..))]
    max_states: Option<u64>,
    /// Stop before the state store could outgrow this many MiB (default: half the machine's
    /// memory; at least 1).
    #[arg(long, value_name = "MIB",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_memory: Option<usize>,
    /// Breadth-first search (the default): a violation is reached by a shortest path.
    #[arg(long, conflicts_with = "dfs")]
    bfs: bool,
    /// Depth-first search: less memory for the frontier; paths are not the shortest.
    #[arg(long)]
    dfs: bool,
    /// Threads for breadth-first search (0: one per core). Results do not depend on it.
    #[arg(long, value_name = "J", default_value_t = 1)]
    jobs: usize,
    /// Explore every interleaving: no partial-order reduction (see docs/explore.md). The
    /// verdict is the same either way; the reduction visits fewer states.
    #[arg(long)]
    no_reduce: bool,
    /// Go on after a violation and report the shortest path to each invariant broken.
    #[arg(long)]
    keep_going: bool,
    /// Exit 1 when a search that found nothing was cut short by --max-states, --max-depth or
    /// --max-memory: for jobs that must prove the absence of violations, not sample.
    #[arg(long)]
    require_complete: bool,
    /// Write the path to the (first) violation as a JSON Lines trace (docs/spec.md section 3); `-`
    /// writes it on standard output and the report on standard error.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Text for people, or one JSON object with the numbers.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum BuiltinModel {
    /// LamportMutex.tla from tlaplus/Examples, ported step for step.
    TlaplusLamportMutex,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(super) enum Format {
    Text,
    Json,
}

pub(super) fn explore_command(args: &ExploreArgs, program: &Program) -> Result<u8, CliError> {
    let jobs = match args.jobs {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        jobs => jobs,
    };
    if args.dfs && jobs > 1 {
        return Err(CliError::Usage(format!(
            "--jobs {} applies to breadth-first search; --dfs runs on one thread",
            args.jobs
        )));
    }
    if jobs > 64 {
        return Err(CliError::Usage(format!(
            "--jobs takes at most 64 threads, not {jobs}"
        )));
    }
    let options = SearchOptions {
        order: if args.dfs {
            Order::DepthFirst
        } else {
            Order::BreadthFirst
        },
        max_depth: args.max_depth,
        max_states: args.max_states,
        max_memory: Some(
            args.max_memory
                .map_or_else(default_memory_budget, |mib| mib.saturating_mul(1 << 20)),
        ),
        jobs,
        keep_going: args.keep_going,
        wanted: None,
        reduce: !args.no_reduce,
    };
    let mut out = report_writer(args.trace.as_deref());
    let code = match args.model {
        Some(BuiltinModel::TlaplusLamportMutex) => tla_command(args, &options, &mut out)?,
        None => scenario_command(args, &options, program, &mut out)?,
    };
    out.flush().map_err(stdout_error)?;
    Ok(code)
}

fn tla_command(
    args: &ExploreArgs,
    options: &SearchOptions,
    out: &mut dyn Write,
) -> Result<u8, CliError> {
    let (Some(processes), Some(max_clock)) = (args.clients, args.max_clock) else {
        return Err(CliError::Usage(
            "--model tlaplus-lamport-mutex needs the spec's constants: --clients N and \
             --max-clock C"
                .into(),
        ));
    };
    if !(1..=MAX_PROCESSES).contains(&processes) {
        return Err(CliError::Usage(format!(
            "--clients must be between 1 and {MAX_PROCESSES}, not {processes}"
        )));
    }
    if max_clock > MAX_CLOCK {
        return Err(CliError::Usage(format!(
            "--max-clock must be at most {MAX_CLOCK}, not {max_clock}"
        )));
    }
    if args.trace.is_some() {
        return Err(CliError::Usage(
            "--trace needs a scenario: the TLA+ model has no ledger to write a trace of".into(),
        ));
    }
    let config = TlaConfig {
        processes,
        max_clock,
        bag: args.bag,
    };
    let exploration =
        with_progress(|progress| explore_tla_with_progress(config, options, progress));
    let peak = peak_rss_kib();
    let code = if exploration.result.found.is_empty() {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    };
    match args.format {
        Format::Json => report::write_tla_json(out, &exploration, peak),
        Format::Text => report::write_tla_text(out, &exploration, peak),
    }
    .map_err(stdout_error)?;
    let nothing_found = exploration.result.found.is_empty();
    Ok(require_complete(
        args,
        code,
        nothing_found,
        &exploration.result.stats,
    ))
}

fn scenario_command(
    args: &ExploreArgs,
    options: &SearchOptions,
    program: &Program,
    out: &mut dyn Write,
) -> Result<u8, CliError> {
    if args.clients.is_some() || args.max_clock.is_some() {
        return Err(CliError::Usage(
            "--clients and --max-clock set the TLA+ model's constants; a scenario sets its own"
                .into(),
        ));
    }
    let path = args
        .scenario
        .as_deref()
        .expect("clap requires a scenario without --model");
    let mut setup = settings::load(path).map_err(|error| CliError::Usage(error.0))?;
    if args.bag {
        let shown = setup.source.clone();
        let overrides = Overrides {
            channels: Some(Channels::Bag),
            ..Overrides::default()
        };
        let expect = setup.expect;
        setup = settings::from_scenario(shown, setup.scenario, &overrides)
            .map_err(|error| CliError::Usage(error.0))?;
        // Keep the exploration file's bounds and expectation.
        setup.expect = expect;
    }
    refuse_input_as_output(
        args.trace.as_deref(),
        "--trace",
        &[args.scenario.as_deref()],
    )?;
    let trace_file = args.trace.as_deref().map(PendingFile::create).transpose()?;
    // An expected invariant is looked for past other findings, as `run` judges it among
    // every violation its stopping step revealed.
    let options = &SearchOptions {
        wanted: setup.expect.and_then(|(expect, _)| {
            (expect.outcome == crate::scenario::ExpectedOutcome::Violation)
                .then_some(expect.invariant?.name())
        }),
        ..*options
    };
    let exploration =
        with_progress(|progress| explore_system_with_progress(&setup, options, progress));
    let peak = peak_rss_kib();
    let found: Vec<Invariant> = exploration
        .result
        .found
        .iter()
        .filter_map(|found| invariant_named(found.finding.name))
        .collect();
    let expectation = setup
        .expect
        .map(|(expect, from)| (describe_expect(&expect), meets(&expect, &found), from));
    // The trace of the first violation, replayed through the simulator's checker.
    let replayed = match exploration.result.found.first() {
        Some(first) => {
            let outputs = match &trace_file {
                Some(file) => vec![file.writer()?],
                None => Vec::new(),
            };
            let replayed = write_trace(
                &exploration.model,
                &setup.scenario,
                &first.path,
                first.finding.stuck,
                outputs,
            )
            .map_err(|source| CliError::Io {
                path: args
                    .trace
                    .as_ref()
                    .map_or_else(|| "the trace".into(), |p| p.display().to_string()),
                source,
            })?;
            Some(replayed)
        }
        None => None,
    };
    let trace_shown = trace_file.as_ref().map(PendingFile::shown);
    if let Some(file) = trace_file
        && replayed.is_some()
    {
        file.commit()?;
    }
    let trace_note = match args.trace.as_deref() {
        None => TraceNote::None,
        Some(path) if is_standard_stream(path) => TraceNote::StandardOutput,
        Some(path) => TraceNote::File {
            path,
            program: program.words(),
        },
    };
    match args.format {
        Format::Json => {
            report::write_scenario_json(out, &setup, &exploration, expectation.as_ref(), peak)
        }
        Format::Text => report::write_scenario_text(
            out,
            trace_note,
            &setup,
            &exploration,
            replayed.as_ref(),
            expectation.as_ref(),
            peak,
        ),
    }
    .map_err(stdout_error)?;
    if let Some(shown) = trace_shown.filter(|_| replayed.is_none()) {
        eprintln!("lamport-ledger: no violation was found, so no trace was written to {shown}");
    }
    let nothing_found = found.is_empty() && exploration.result.found.is_empty();
    let code = match expectation {
        Some((_, met, _)) => {
            if met {
                EXIT_OK
            } else {
                EXIT_VIOLATION
            }
        }
        None if nothing_found => EXIT_OK,
        None => EXIT_VIOLATION,
    };
    Ok(require_complete(
        args,
        code,
        nothing_found,
        &exploration.result.stats,
    ))
}

/// `--require-complete`: a passing verdict that rests on finding nothing in a search cut short
/// proves nothing, so it becomes a failure (exit 1), said on standard error. A violation found
/// (expected or not) is conclusive however far the search went.
fn require_complete(args: &ExploreArgs, code: u8, nothing_found: bool, stats: &Stats) -> u8 {
    let Some(why) = cut_short(stats.stop) else {
        return code;
    };
    if !(args.require_complete && code == EXIT_OK && nothing_found) {
        return code;
    }
    eprintln!(
        "lamport-ledger: --require-complete: nothing was found, but the search is INCOMPLETE: \
         {why}"
    );
    EXIT_VIOLATION
}

fn invariant_named(name: &str) -> Option<Invariant> {
    Invariant::ALL
        .into_iter()
        .find(|invariant| invariant.name() == name)
}

/// How often the progress line is refreshed.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Runs `search` with a progress line on standard error when it is a terminal (states,
/// transitions, depth, states per second; cleared at the end); otherwise nothing extra.
fn with_progress<R>(search: impl FnOnce(Option<&SearchProgress>) -> R) -> R {
    if !std::io::stderr().is_terminal() {
        return search(None);
    }
    let progress = SearchProgress::default();
    let (stop, stopped) = mpsc::channel::<()>();
    thread::scope(|scope| {
        let shown = &progress;
        scope.spawn(move || show_progress(shown, &stopped));
        let result = search(Some(&progress));
        drop(stop);
        result
    })
}

fn show_progress(progress: &SearchProgress, stopped: &mpsc::Receiver<()>) {
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{elapsed_precise} {spinner} explore: {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    spinner.set_style(style);
    let started = Instant::now();
    loop {
        let states = progress.states.load(Ordering::Relaxed);
        let micros = started.elapsed().as_micros().max(1);
        spinner.set_message(format!(
            "{states} states, {} transitions, depth {}, {} states/s",
            progress.transitions.load(Ordering::Relaxed),
            progress.depth.load(Ordering::Relaxed),
            u128::from(states) * 1_000_000 / micros
        ));
        spinner.tick();
        match stopped.recv_timeout(PROGRESS_EVERY) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => break,
        }
    }
    spinner.finish_and_clear();
}
