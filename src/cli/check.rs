//! `lamport-ledger check TRACE.jsonl`: re-check a trace offline (see docs/checking.md).
//! Exit codes as `run`: 0 every invariant holds, 1 a violation, 2 a malformed, truncated or
//! edited trace (with the line number) or a usage error.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::files::{open_input, shown_input};
use super::run::require_node_cmd;
use super::{CliError, EXIT_OK, EXIT_VIOLATION};
use crate::check::history::{format_time, name_clients};
use crate::check::offline::{
    CheckError, Finding, OfflineOptions, OfflineReport, check_program_trace, check_trace,
};
use crate::node::NodeSpec;
use crate::scenario::DEFAULT_STEP_TIMEOUT_MS;
use crate::trace::read::ReadError;
use crate::wording::count;

#[derive(Debug, Args)]
pub(super) struct CheckArgs {
    /// The JSON Lines trace (docs/spec.md section 3), e.g. written by `run --trace FILE`; `-` reads
    /// standard input.
    trace: PathBuf,
    /// Report every violation instead of stopping at the first safety violation.
    #[arg(long)]
    keep_going: bool,
    /// Check the invariants only, without holding every event to the protocol's state
    /// machine: for traces of another implementation of the protocol (docs/checking.md).
    #[arg(long)]
    invariants_only: bool,
    /// Hold every event to this program instead of the built-in client: each client's inputs
    /// go to a process of it (docs/nodes.md), as in `run --node-cmd`; run by `sh -c`.
    #[arg(long, value_name = "CMD", conflicts_with = "invariants_only")]
    node_cmd: Option<String>,
    /// With `--node-cmd`: how long one step of the program may take in real time, in
    /// milliseconds.
    #[arg(long, default_value_t = DEFAULT_STEP_TIMEOUT_MS, value_name = "MS",
          requires = "node_cmd",
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    step_timeout_ms: u64,
}

pub(super) fn check_command(args: &CheckArgs) -> Result<u8, CliError> {
    let shown = shown_input(&args.trace);
    let input = open_input(&args.trace)?;
    let options = OfflineOptions {
        keep_going: args.keep_going,
        invariants_only: args.invariants_only,
    };
    let report = match &args.node_cmd {
        None => check_trace(input, options).map_err(|error| read_error(error, &shown))?,
        Some(cmd) => {
            let spec = node_spec(cmd, args.step_timeout_ms)?;
            check_program_trace(input, options, &spec).map_err(|error| match error {
                CheckError::Read(error) => read_error(error, &shown),
                CheckError::NodeFailed { line, sentence } => CliError::Usage(format!(
                    "{shown}:{line}: {sentence}, so the trace cannot be held to the program"
                )),
            })?
        }
    };
    let mut out = BufWriter::new(io::stdout().lock());
    write_report(&mut out, &shown, &report)
        .and_then(|()| out.flush())
        .map_err(|source| CliError::Io {
            path: "standard output".into(),
            source,
        })?;
    Ok(if report.passed() {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    })
}

/// The program `--node-cmd` names, with its per-step deadline.
fn node_spec(cmd: &str, step_timeout_ms: u64) -> Result<NodeSpec, CliError> {
    require_node_cmd(cmd)?;
    Ok(NodeSpec {
        cmd: cmd.to_string(),
        step_timeout: Duration::from_millis(step_timeout_ms),
    })
}

fn read_error(error: ReadError, shown: &str) -> CliError {
    match error {
        ReadError::Io(source) => CliError::Io {
            path: shown.to_string(),
            source,
        },
        invalid => CliError::Usage(invalid.in_file(shown)),
    }
}

/// The report: what was checked, one line per violation, the trace's own claims, the verdict.
pub(crate) fn write_report(
    out: &mut dyn Write,
    shown: &str,
    report: &OfflineReport,
) -> io::Result<()> {
    let header = &report.header;
    let mut about = Vec::new();
    if let Some(scenario) = &header.scenario {
        about.push(format!("scenario {scenario:?}"));
    }
    about.push(format!("{} clients", header.clients));
    match &report.played_by {
        None => about.push(format!("protocol {}", header.protocol)),
        Some(cmd) => about.push(format!("played by the program {cmd:?}")),
    }
    if report.played_by.is_none() && !header.mutations.is_empty() {
        about.push(format!("mutations {}", header.mutations.join(", ")));
    }
    if let Some(seed) = header.seed {
        about.push(format!("seed {seed}"));
    }
    writeln!(out, "trace:     {shown} ({})", about.join(", "))?;
    if let (Some(_), false) = (&report.played_by, report.invariants_only) {
        writeln!(
            out,
            "replay:    every event held to the program, one process per client"
        )?;
    }
    if report.invariants_only {
        writeln!(
            out,
            "replay:    skipped (--invariants-only): the events were not held to the \
             protocol's state machine"
        )?;
    }
    for finding in &report.findings {
        writeln!(out, "{}", describe(finding))?;
    }
    if !report.skipped.is_empty() {
        let total: u64 = report.skipped.values().sum();
        let kinds: Vec<String> = report
            .skipped
            .iter()
            .map(|(kind, count)| format!("{kind} x{count}"))
            .collect();
        writeln!(
            out,
            "skipped:   {} this checker does not know: {}",
            count(total, "event"),
            kinds.join(", ")
        )?;
    }
    writeln!(out, "recorded:  {}", report.agreement())?;
    let verdict = match report.findings.first() {
        None => "OK, every invariant holds".to_string(),
        Some(first) => {
            let mut verdict = format!(
                "VIOLATION of {} ({} found",
                first.violation.invariant,
                count(report.findings.len(), "violation")
            );
            if let Some(seq) = report.stopped_at {
                verdict.push_str(&format!(
                    "; stopped at the first safety violation, event {seq}: --keep-going checks \
                     the rest"
                ));
            }
            verdict.push(')');
            verdict
        }
    };
    writeln!(
        out,
        "verdict:   {} events, {} checked: {verdict}",
        report.events, report.checked
    )
}

/// "VIOLATION of mutual_exclusion at event 14 (t=14.162ms), clients 1 and 2: …".
pub(crate) fn describe(finding: &Finding) -> String {
    let place = match finding.seq {
        Some(seq) => format!("at event {seq} (t={})", format_time(finding.t_us)),
        None => format!("at the end of the trace (t={})", format_time(finding.t_us)),
    };
    let violation = &finding.violation;
    let clients = if violation.clients.is_empty() {
        String::new()
    } else {
        format!(", {}", name_clients(&violation.clients))
    };
    format!(
        "VIOLATION of {} {place}{clients}: {}",
        violation.invariant, violation.detail
    )
}
