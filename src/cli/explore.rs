//! `lamport-ledger explore`: every reachable state of a scenario's clients (or of the port of
//! the TLA+ spec `LamportMutex.tla`), the invariants checked in each, and the shortest path to
//! a violation. See `docs/explore.md`.
//!
//! Exit codes: 0 no violation (or the expectation matched), 1 a violation or deadlock (or a
//! mismatch), 2 bad input or usage.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::files::{is_standard_stream, refuse_input_as_output, report_writer};
use super::run::stdout_error;
use super::{CliError, EXIT_OK, EXIT_VIOLATION, PendingFile};
use crate::check::{Invariant, revealing_events};
use crate::explore::replay::{ReplayedViolation, describe_step, write_trace};
use crate::explore::search::{Order, SearchOptions, Stats, Stop};
use crate::explore::settings::{
    self, Channels, ExpectFrom, ExploreSetup, Overrides, describe_expect, meets,
};
use crate::explore::tla::{MAX_CLOCK, MAX_PROCESSES, TlaConfig};
use crate::explore::{
    SystemExploration, TlaExploration, default_memory_budget, explore_system, explore_tla,
    peak_rss_kib,
};
use crate::wording::count;

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
    /// Go on after a violation and report the shortest path to each invariant broken.
    #[arg(long)]
    keep_going: bool,
    /// Exit 1 when a search that found nothing was cut short by --max-states, --max-depth or
    /// --max-memory: for jobs that must prove the absence of violations, not sample.
    #[arg(long)]
    require_complete: bool,
    /// Write the path to the (first) violation as a JSON Lines trace (SPEC section 3); `-`
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

pub(super) fn explore_command(args: &ExploreArgs) -> Result<u8, CliError> {
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
    };
    let mut out = report_writer(args.trace.as_deref());
    let code = match args.model {
        Some(BuiltinModel::TlaplusLamportMutex) => tla_command(args, &options, &mut out)?,
        None => scenario_command(args, &options, &mut out)?,
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
    let exploration = explore_tla(config, options);
    let peak = peak_rss_kib();
    let code = if exploration.result.found.is_empty() {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    };
    match args.format {
        Format::Json => write_tla_json(out, &exploration, peak),
        Format::Text => write_tla_text(out, &exploration, peak),
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

fn write_tla_text(
    out: &mut dyn Write,
    exploration: &TlaExploration,
    peak: Option<u64>,
) -> io::Result<()> {
    let config = exploration.model.config();
    let stats = &exploration.result.stats;
    writeln!(
        out,
        "model:     LamportMutex.tla (Stephan Merz, tlaplus/Examples), ported: N = {}, \
         maxClock = {}, channels {}",
        config.processes,
        config.max_clock,
        if config.bag {
            "as multisets (bag)"
        } else {
            "FIFO per pair (as in the spec)"
        }
    )?;
    writeln!(
        out,
        "checks:    invariants Mutex and BoundedNetwork (TypeOK holds by construction), \
         deadlock; state constraint ClockConstraint"
    )?;
    write_search_line(out, stats)?;
    writeln!(
        out,
        "states:    {} distinct, {} generated (TLC's count: the initial state and every \
         successor), {} outside ClockConstraint (generated, not kept)",
        stats.distinct,
        exploration.generated(),
        stats.outside_model
    )?;
    writeln!(
        out,
        "depth:     {} (TLC's convention: states on the longest shortest path; {}){}",
        exploration.tlc_depth(),
        count(stats.depth, "step"),
        completeness(stats)
    )?;
    write_speed(out, stats, peak)?;
    match exploration.result.found.first() {
        None => write_nothing_found(out, stats, ""),
        Some(found) => {
            writeln!(
                out,
                "verdict:   {} is violated after {} ({}): {}",
                found.finding.name,
                count(found.path.len(), "step"),
                path_kind(stats),
                found.finding.detail
            )?;
            let states = exploration
                .model
                .replay(&found.path)
                .expect("a path the search found replays");
            for (index, state) in states.iter().enumerate() {
                let label = match index {
                    0 => "Initial predicate".to_string(),
                    _ => found.path[index - 1].to_string(),
                };
                writeln!(out, "State {}: <{label}>", index + 1)?;
                writeln!(out, "{}", exploration.model.describe(state))?;
            }
            for other in exploration.result.found.iter().skip(1) {
                writeln!(
                    out,
                    "also:      {} after {}: {}",
                    other.finding.name,
                    count(other.path.len(), "step"),
                    other.finding.detail
                )?;
            }
            Ok(())
        }
    }
}

fn write_tla_json(
    out: &mut dyn Write,
    exploration: &TlaExploration,
    peak: Option<u64>,
) -> io::Result<()> {
    let config = exploration.model.config();
    let stats = &exploration.result.stats;
    let mut value = stats_json(stats, peak);
    value["model"] = "tlaplus-lamport-mutex".into();
    value["clients"] = config.processes.into();
    value["max_clock"] = config.max_clock.into();
    value["bag"] = config.bag.into();
    value["generated"] = exploration.generated().into();
    value["tlc_depth"] = exploration.tlc_depth().into();
    value["violations"] = exploration
        .result
        .found
        .iter()
        .map(|found| {
            serde_json::json!({
                "invariant": found.finding.name,
                "steps": found.path.len(),
                "path": found.path.iter().map(|step| step.to_string()).collect::<Vec<_>>(),
                "detail": found.finding.detail,
            })
        })
        .collect::<Vec<_>>()
        .into();
    writeln!(out, "{value}")
}

fn scenario_command(
    args: &ExploreArgs,
    options: &SearchOptions,
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
    let exploration = explore_system(&setup, options);
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
    match args.format {
        Format::Json => {
            let stats = &exploration.result.stats;
            let mut value = stats_json(stats, peak);
            value["scenario"] = setup.source.clone().into();
            value["clients"] = setup.system.clients.into();
            let interned = exploration.model.interned();
            value["client_states"] = interned.client_states.into();
            value["messages"] = interned.messages.into();
            value["client_steps_run"] = interned.client_steps.into();
            value["violations"] = exploration
                .result
                .found
                .iter()
                .map(|found| {
                    serde_json::json!({
                        "invariant": found.finding.name,
                        "steps": found.path.len(),
                        "detail": found.finding.detail,
                    })
                })
                .collect::<Vec<_>>()
                .into();
            if let Some((wanted, met, _)) = &expectation {
                value["expected"] = wanted.clone().into();
                value["expectation_met"] = (*met).into();
            }
            writeln!(out, "{value}").map_err(stdout_error)?;
        }
        Format::Text => write_scenario_text(
            out,
            args,
            &setup,
            &exploration,
            replayed.as_ref(),
            expectation.as_ref(),
            peak,
        )
        .map_err(stdout_error)?,
    }
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

#[allow(clippy::too_many_arguments)]
fn write_scenario_text(
    out: &mut dyn Write,
    args: &ExploreArgs,
    setup: &ExploreSetup,
    exploration: &SystemExploration,
    replayed: Option<&crate::explore::replay::Replayed>,
    expectation: Option<&(String, bool, ExpectFrom)>,
    peak: Option<u64>,
) -> io::Result<()> {
    let system = &setup.system;
    let stats = &exploration.result.stats;
    writeln!(
        out,
        "explore:   {}: scenario {:?}, {} clients, protocol {}{}",
        setup.source,
        setup.scenario.name,
        system.clients,
        system.variant.name(),
        if system.mutations.list().is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = system.mutations.list().iter().map(|m| m.name()).collect();
            format!(", mutations {}", names.join(", "))
        }
    )?;
    let transfers: Vec<String> = system
        .transfers
        .iter()
        .enumerate()
        .flat_map(|(slot, list)| {
            list.iter()
                .map(move |t| format!("c{} pays {} to c{}", slot + 1, t.amount, t.to))
        })
        .collect();
    writeln!(
        out,
        "work:      {} (each issued at any point, in this order per client)",
        if transfers.is_empty() {
            "no transfers".to_string()
        } else {
            transfers.join(", ")
        }
    )?;
    writeln!(out, "network:   {}", describe_network(system))?;
    for note in &setup.notes {
        writeln!(out, "note:      {note}")?;
    }
    writeln!(
        out,
        "checks:    in every state mutual_exclusion, ledger_agreement (prefix), \
         chain_integrity, conservation, no_overdraft; clock_condition on every step; \
         deadlock (liveness) and equal ledgers where no step is possible"
    )?;
    write_search_line(out, stats)?;
    let interned = exploration.model.interned();
    writeln!(
        out,
        "states:    {} distinct, {}; {} and {}; {} run on the real state machines (each \
         remembered)",
        stats.distinct,
        count(stats.transitions, "transition"),
        count(interned.client_states, "distinct client state"),
        count(interned.messages, "distinct message"),
        count(interned.client_steps, "client step")
    )?;
    writeln!(
        out,
        "depth:     {}{}",
        count(stats.depth, "step"),
        completeness(stats)
    )?;
    write_speed(out, stats, peak)?;
    match exploration.result.found.first() {
        None => write_nothing_found(out, stats, " in any reachable state")?,
        Some(found) => {
            writeln!(
                out,
                "verdict:   VIOLATION of {} after {} ({}): {}",
                found.finding.name,
                count(found.path.len(), "step"),
                path_kind(stats),
                found.finding.detail
            )?;
            if let Some(replayed) = replayed {
                for (index, events) in replayed.steps.iter().enumerate() {
                    writeln!(out, "   {:>3}. {}", index + 1, describe_step(events))?;
                }
                match replayed.violations.first() {
                    Some(first) if first.violation.invariant.name() == found.finding.name => {
                        writeln!(
                            out,
                            "checker:   replayed through the simulator's checker: {} {} (agrees)",
                            first.violation.invariant,
                            where_recorded(first)
                        )?
                    }
                    Some(first) => writeln!(
                        out,
                        "checker:   replayed through the simulator's checker: {} {} (the \
                         explorer's check saw {} first)",
                        first.violation.invariant,
                        where_recorded(first),
                        found.finding.name
                    )?,
                    None => writeln!(
                        out,
                        "checker:   replayed through the simulator's checker: it finds NO \
                         violation on this path (the explorer's state check and the checker \
                         DISAGREE)"
                    )?,
                }
                if args.trace.as_deref().is_some_and(is_standard_stream) {
                    writeln!(
                        out,
                        "trace:     on standard output ({} events, digest {})",
                        replayed.events, replayed.digest_hex
                    )?;
                } else if let Some(path) = &args.trace {
                    let shown = path.display();
                    writeln!(
                        out,
                        "trace:     {shown} ({} events, digest {}): lamport-ledger check \
                         {shown}; lamport-ledger render {shown} --format html -o path.html",
                        replayed.events, replayed.digest_hex
                    )?;
                }
            }
            for other in exploration.result.found.iter().skip(1) {
                writeln!(
                    out,
                    "also:      VIOLATION of {} after {}: {}",
                    other.finding.name,
                    count(other.path.len(), "step"),
                    other.finding.detail
                )?;
            }
        }
    }
    if let Some((wanted, met, from)) = expectation {
        let from = match from {
            ExpectFrom::ExploreFile => "the exploration file",
            ExpectFrom::Scenario => "the scenario",
        };
        // Nothing found in a search cut short proves nothing about the states not reached.
        let unproven = exploration.result.found.is_empty()
            && !matches!(stats.stop, Stop::Exhausted | Stop::Finding);
        writeln!(
            out,
            "expected:  {wanted} (from {from}): {}{}",
            if *met { "matched" } else { "NOT matched" },
            if unproven {
                " as far as explored (INCOMPLETE)"
            } else {
                ""
            }
        )?;
    }
    Ok(())
}

fn describe_network(system: &crate::explore::system::SystemConfig) -> String {
    let links = system.link_list();
    let bag: Vec<String> = links
        .iter()
        .filter(|&&(from, to)| !system.rule(from, to).fifo)
        .map(|(from, to)| format!("{from}->{to}"))
        .collect();
    let mut text = match system.all_fifo() {
        Some(true) | None if bag.is_empty() => "FIFO links".to_string(),
        Some(false) => "bag links (any message in flight may be delivered next)".to_string(),
        _ => format!("FIFO links except {} (bags)", bag.join(", ")),
    };
    let named = |pick: &dyn Fn(crate::explore::system::LinkRule) -> bool| -> String {
        let chosen: Vec<String> = links
            .iter()
            .filter(|&&(from, to)| pick(system.rule(from, to)))
            .map(|(from, to)| format!("{from}->{to}"))
            .collect();
        if chosen.len() == links.len() {
            "any link".to_string()
        } else {
            chosen.join(", ")
        }
    };
    if system.max_losses > 0 {
        text.push_str(&format!(
            "; up to {} lost on {}",
            count(system.max_losses, "message"),
            named(&|rule| rule.lossy)
        ));
    }
    if system.max_duplicates > 0 {
        text.push_str(&format!(
            "; up to {} duplicated on {}",
            count(system.max_duplicates, "message"),
            named(&|rule| rule.duplicating)
        ));
    }
    for (slot, crashes) in system.crashes.iter().enumerate() {
        for crash in crashes {
            text.push_str(&format!(
                "; c{} may crash{}",
                slot + 1,
                match (crash.restarts, crash.keep_ledger) {
                    (false, _) => " for good".to_string(),
                    (true, true) => " and restart keeping its ledger".to_string(),
                    (true, false) => " and restart with nothing".to_string(),
                }
            ));
        }
    }
    if !system.any_faults() {
        text.push_str("; no loss, duplication or crash");
    }
    text
}

fn write_search_line(out: &mut dyn Write, stats: &Stats) -> io::Result<()> {
    writeln!(
        out,
        "search:    {}, {}; symmetry reduction: none (client ids break ties between \
         requests, so no two clients are interchangeable); states told apart by their full \
         encoding",
        match stats.order {
            Order::BreadthFirst => "breadth-first",
            Order::DepthFirst => "depth-first",
        },
        count(stats.jobs, "thread")
    )
}

/// The verdict of a search that found nothing. An incomplete one says so on this line too:
/// "OK" alone would read as a proof for the whole state space. `everywhere` ends the sentence
/// of a complete search.
fn write_nothing_found(out: &mut dyn Write, stats: &Stats, everywhere: &str) -> io::Result<()> {
    if stats.stop == Stop::Exhausted {
        writeln!(
            out,
            "verdict:   OK: no invariant is violated and no deadlock{everywhere}"
        )
    } else {
        writeln!(
            out,
            "verdict:   OK as far as explored: no invariant is violated and no deadlock in the \
             {} explored{}",
            count(stats.distinct, "state"),
            completeness(stats)
        )
    }
}

fn completeness(stats: &Stats) -> String {
    match (stats.stop, cut_short(stats.stop)) {
        (_, Some(why)) => format!(" (INCOMPLETE: {why})"),
        (Stop::Exhausted, None) => " (complete: every reachable state explored)".into(),
        (_, None) => " (reached when the search stopped at the first violation)".into(),
    }
}

/// Why a search ended before every reachable state was explored, if a bound ended it.
fn cut_short(stop: Stop) -> Option<&'static str> {
    match stop {
        Stop::Exhausted | Stop::Finding => None,
        Stop::MaxStates => Some("stopped at --max-states"),
        Stop::MaxDepth => Some("states beyond --max-depth not explored"),
        Stop::MaxMemory => Some(
            "stopped before the state store outgrew --max-memory, by default half the \
             machine's memory",
        ),
    }
}

fn path_kind(stats: &Stats) -> &'static str {
    match stats.order {
        Order::BreadthFirst => "a shortest path",
        Order::DepthFirst => "depth-first: not necessarily the shortest path",
    }
}

fn write_speed(out: &mut dyn Write, stats: &Stats, peak: Option<u64>) -> io::Result<()> {
    let per_second = if stats.seconds > 0.0 {
        stats.distinct as f64 / stats.seconds
    } else {
        0.0
    };
    let peak = peak.map_or_else(
        || "unknown".to_string(),
        |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
    );
    writeln!(
        out,
        "speed:     {:.6} s, {:.0} distinct states/s; peak memory {peak} (state store {:.1} \
         MiB: {:.1} bytes/state, of which {:.1} encoding)",
        stats.seconds,
        per_second,
        stats.store_bytes as f64 / (1024.0 * 1024.0),
        stats.store_bytes as f64 / stats.distinct.max(1) as f64,
        stats.encoding_bytes as f64 / stats.distinct.max(1) as f64
    )
}

/// "at event 14, recorded as event 15": the event that revealed the violation and its own
/// line in the trace, numbered as `run` and `check` number them.
fn where_recorded(first: &ReplayedViolation) -> String {
    let revealed = revealing_events([(first.seq, first.violation.detail.as_str())]);
    match revealed.first().copied().flatten() {
        Some(event) => format!("at event {event}, recorded as event {}", first.seq),
        None => format!("at the end of the path, recorded as event {}", first.seq),
    }
}

/// Why the search ended, as the JSON report names it.
fn stop_name(stop: Stop) -> &'static str {
    match stop {
        Stop::Exhausted => "exhausted",
        Stop::Finding => "finding",
        Stop::MaxStates => "max_states",
        Stop::MaxMemory => "max_memory",
        Stop::MaxDepth => "max_depth",
    }
}

fn stats_json(stats: &Stats, peak: Option<u64>) -> serde_json::Value {
    serde_json::json!({
        "distinct": stats.distinct,
        "transitions": stats.transitions,
        "depth": stats.depth,
        "complete": stats.stop == Stop::Exhausted,
        "stop": stop_name(stats.stop),
        "seconds": stats.seconds,
        "states_per_s": if stats.seconds > 0.0 { stats.distinct as f64 / stats.seconds } else { 0.0 },
        "peak_rss_kib": peak,
        "store_bytes": stats.store_bytes,
        "encoding_bytes": stats.encoding_bytes,
        "jobs": stats.jobs,
        "symmetry_reduction": false,
    })
}
