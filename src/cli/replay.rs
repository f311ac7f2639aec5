//! `lamport-ledger replay`: rerun one seed, print its timeline, and prove it is the same run
//! as before: its digest equals the expected one, or its trace equals an earlier trace line for
//! line; when not, say where the runs first part.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::files::{open_input, refuse_input_as_output, report_writer, shown_input};
use super::program::Program;
use super::run::{
    load_scenario, node_cmd_flag, rerun_command, seeded, stdout_error, with_node_cmd,
};
use super::{CliError, EXIT_OK, EXIT_USAGE, EXIT_VIOLATION, PendingFile};
use crate::hunt::{LiveComparer, write_report};
use crate::runner::run_with_timeline;
use crate::sim::{RunOptions, node_failure};
use crate::trace::TraceOutput;

#[derive(Debug, Args)]
pub(super) struct ReplayArgs {
    /// The scenario file (JSON).
    scenario: PathBuf,
    /// The seed to rerun.
    #[arg(long)]
    seed: u64,
    /// The digest the run must reproduce (64 hex digits, as `sweep` and `run` print it).
    #[arg(long, value_name = "HEX", value_parser = parse_digest)]
    expect_digest: Option<String>,
    /// Compare this run's trace line by line with an earlier trace and show where they part
    /// (`-` reads it from standard input).
    #[arg(long, value_name = "OLD_TRACE")]
    against: Option<PathBuf>,
    /// Also write this run's JSON Lines trace to FILE (as `run --trace`); `-` writes it on
    /// standard output and the timeline on standard error.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Lines of context shown on each side of the first difference.
    #[arg(long, value_name = "N", default_value_t = 3)]
    context: usize,
    /// Rerun the configuration this seed draws from the scenario's `swarm` bounds.
    #[arg(long)]
    swarm: bool,
    /// Play every client with this program, one process each (docs/nodes.md), as for `run`.
    #[arg(long, value_name = "CMD")]
    node_cmd: Option<String>,
}

fn parse_digest(text: &str) -> Result<String, String> {
    if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(format!(
            "\"{text}\" is not a digest: it must be 64 hexadecimal digits (a SHA-256)"
        ))
    }
}

/// The name the new run goes by in the comparison.
const THIS_RUN: &str = "this run";

pub(super) fn replay_command(args: &ReplayArgs, program: &Program) -> Result<u8, CliError> {
    let scenario = seeded(
        load_scenario(Some(&args.scenario))?,
        Some(args.seed),
        args.swarm,
    )?;
    let scenario = with_node_cmd(scenario, args.node_cmd.as_deref())?;
    let old_name = args.against.as_deref().map(shown_input);
    let comparer = match (&args.against, &old_name) {
        (Some(path), Some(name)) => Some(LiveComparer::new(
            open_input(path)?,
            name,
            THIS_RUN,
            args.context,
        )),
        _ => None,
    };
    // `--against F --trace F` is fine: the comparison reads F to its end before the new trace
    // is renamed over it.
    refuse_input_as_output(args.trace.as_deref(), "--trace", &[Some(&args.scenario)])?;
    let trace_file = args.trace.as_deref().map(PendingFile::create).transpose()?;
    let mut outputs: Vec<TraceOutput> = Vec::new();
    if let Some(file) = &trace_file {
        outputs.push(file.writer()?);
    }
    if let Some(comparer) = &comparer {
        outputs.push(comparer.writer());
    }
    let mut rerun = rerun_command(program, Some(&args.scenario), scenario.seed);
    if args.swarm {
        rerun.push_str(" --swarm");
    }
    rerun.push_str(&node_cmd_flag(args.node_cmd.as_deref()));
    let out = report_writer(args.trace.as_deref());
    let (report, mut out) = run_with_timeline(
        &scenario,
        RunOptions::default(),
        outputs,
        out,
        &rerun,
        &mut [],
    )
    .map_err(|source| match node_failure(&source) {
        Some(sentence) => CliError::Usage(sentence.to_string()),
        None => CliError::Io {
            path: trace_file
                .as_ref()
                .map_or_else(|| "standard output".to_string(), PendingFile::shown),
            source,
        },
    })?;
    // Finish the comparison before the new trace is renamed into place: --trace may name the
    // very file --against reads.
    let diff = comparer.map(LiveComparer::finish).transpose();
    if let Some(file) = trace_file {
        file.commit()?;
    }
    let diff = match diff {
        Ok(diff) => diff,
        Err(error) => {
            out.flush().map_err(stdout_error)?;
            eprintln!("lamport-ledger: {error}");
            return Ok(EXIT_USAGE);
        }
    };

    let mut same = true;
    writeln!(out).map_err(stdout_error)?;
    if let Some(expected) = &args.expect_digest {
        if *expected == report.digest_hex {
            writeln!(out, "replay:    digest matches: {expected}").map_err(stdout_error)?;
        } else {
            same = false;
            writeln!(
                out,
                "replay:    digest DIFFERS: expected {expected}, this run gave {}",
                report.digest_hex
            )
            .map_err(stdout_error)?;
            if diff.is_none() {
                writeln!(
                    out,
                    "           to see where the runs part, pass --against OLD_TRACE (the earlier \
                     run's trace, from run --trace or replay --trace)"
                )
                .map_err(stdout_error)?;
            }
        }
    }
    if let (Some(diff), Some(old_name)) = (&diff, &old_name) {
        if diff.identical() {
            writeln!(
                out,
                "replay:    the trace is identical to {old_name}, line for line ({} lines)",
                diff.lines
            )
            .map_err(stdout_error)?;
        } else {
            same = false;
            writeln!(out, "replay:    the trace DIFFERS from {old_name}:").map_err(stdout_error)?;
            write_report(&mut out, diff, old_name, THIS_RUN).map_err(stdout_error)?;
        }
    }
    out.flush().map_err(stdout_error)?;
    let checked = args.expect_digest.is_some() || args.against.is_some();
    Ok(match (checked, same, report.passed()) {
        (true, true, _) | (false, _, true) => EXIT_OK,
        _ => EXIT_VIOLATION,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_64_hex_digits_compared_in_lowercase() {
        let upper = "AB".repeat(32);
        assert_eq!(parse_digest(&upper).unwrap(), "ab".repeat(32));
        assert!(parse_digest("abc").is_err());
        assert!(parse_digest(&"zz".repeat(32)).is_err());
    }
}
