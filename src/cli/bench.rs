//! `lamport-ledger bench`: runs the benchmark cases, each in a fresh child process so that its
//! peak memory is its own, and prints a table (or JSON lines).

use std::io::{self, Write};
use std::process::Command;

use clap::Args;

use super::run::stdout_error;
use super::{CliError, EXIT_OK, EXIT_VIOLATION};
use crate::bench::{CASES, Measurement, run_case};

#[derive(Debug, Args)]
pub(super) struct BenchArgs {
    /// Run only these cases (repeatable); all of them by default.
    #[arg(long = "case", value_name = "NAME")]
    cases: Vec<String>,
    /// Print one JSON object per case instead of a table (the same as `--format json`).
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// A table for people, or one JSON object per case, as `explore --format` offers.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Divide every case's size by 100: a smoke run of the harness, not a measurement.
    #[arg(long)]
    quick: bool,
    /// Measure each case this many times and report the fastest: on a machine shared with
    /// other work, the best of a few runs is the steadiest figure.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// Internal: measure one case in this process and print its JSON.
    #[arg(long, hide = true)]
    child: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Format {
    Text,
    Json,
}

pub(super) fn bench_command(args: &BenchArgs) -> Result<u8, CliError> {
    let json = args.json || args.format == Format::Json;
    let scale = if args.quick { 100 } else { 1 };
    let names: Vec<String> = if args.cases.is_empty() {
        CASES.iter().map(|case| case.name.to_string()).collect()
    } else {
        args.cases.clone()
    };
    if let Some(unknown) = names
        .iter()
        .find(|name| !CASES.iter().any(|case| case.name == name.as_str()))
    {
        let known: Vec<&str> = CASES.iter().map(|case| case.name).collect();
        return Err(CliError::Usage(format!(
            "unknown benchmark case `{unknown}`; the cases are {}",
            known.join(", ")
        )));
    }
    // Written through a handle, not `println!`, which panics when the reader has gone.
    let mut out = io::stdout().lock();
    if args.child {
        for name in &names {
            let measurement = run_case(name, scale)
                .map_err(io_error)?
                .expect("known case");
            writeln!(
                out,
                "{}",
                serde_json::to_string(&measurement).expect("a measurement serialises")
            )
            .map_err(stdout_error)?;
        }
        return Ok(EXIT_OK);
    }
    if !json {
        writeln!(
            out,
            "{:<14} {:>12} {:>12} {:>10} {:>9} {:>10}  what",
            "case", "events/s", "transfers/s", "runs/s", "seconds", "peak MiB"
        )
        .map_err(stdout_error)?;
    }
    let mut fastest_of_each = Vec::with_capacity(names.len());
    for name in &names {
        let mut measurements = Vec::with_capacity(args.repeat as usize);
        for _ in 0..args.repeat {
            let Some(measurement) = measure_in_child(name, args.quick)? else {
                eprintln!("lamport-ledger: benchmark case {name} failed");
                return Ok(EXIT_VIOLATION);
            };
            measurements.push(measurement);
        }
        let slowest_s = measurements.iter().map(|m| m.seconds).fold(0.0, f64::max);
        let fastest = measurements
            .into_iter()
            .min_by(|a, b| a.seconds.total_cmp(&b.seconds))
            .expect("at least one measurement");
        if json {
            let mut value = serde_json::to_value(&fastest).expect("a measurement serialises");
            value["repeats"] = args.repeat.into();
            value["slowest_seconds"] = slowest_s.into();
            writeln!(out, "{value}").map_err(stdout_error)?;
        } else {
            print_row(&mut out, &fastest)?;
            if args.repeat > 1 {
                writeln!(
                    out,
                    "{:<14} best of {}; the slowest took {slowest_s:.2} s",
                    "", args.repeat
                )
                .map_err(stdout_error)?;
            }
        }
        fastest_of_each.push(fastest);
    }
    if !json {
        print_null_loop_ratios(&mut out, &fastest_of_each)?;
    }
    Ok(EXIT_OK)
}

/// The case that moves the same messages with no protocol: the ceiling.
const NULL_LOOP: &str = "null-loop";

/// Each one-thread case's time per event as a multiple of the null loop's, both measured in
/// this invocation: the host's speed drifts from one half hour to the next, and a ratio taken
/// within the same minutes mostly cancels that out (`n3-1m`'s target is 1.5x).
fn print_null_loop_ratios(out: &mut dyn Write, measured: &[Measurement]) -> Result<(), CliError> {
    let Some(ceiling) = measured.iter().find(|m| m.case == NULL_LOOP) else {
        return Ok(());
    };
    let ratios: Vec<String> = measured
        .iter()
        .filter(|m| m.case != NULL_LOOP && m.threads == 1 && m.events_per_s > 0.0)
        .filter(|m| m.step_us.is_none())
        .map(|m| format!("{} {:.1}x", m.case, ceiling.events_per_s / m.events_per_s))
        .collect();
    if !ratios.is_empty() {
        writeln!(
            out,
            "time per event against {NULL_LOOP} in this run: {}",
            ratios.join(", ")
        )
        .map_err(stdout_error)?;
    }
    Ok(())
}

fn measure_in_child(name: &str, quick: bool) -> Result<Option<Measurement>, CliError> {
    let exe = std::env::current_exe().map_err(io_error)?;
    let mut command = Command::new(exe);
    command.args(["bench", "--child", "--case", name]);
    if quick {
        command.arg("--quick");
    }
    let output = command.output().map_err(io_error)?;
    if !output.status.success() {
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let value: serde_json::Value = serde_json::from_str(text.trim()).map_err(|error| {
        CliError::Usage(format!("benchmark child printed no measurement: {error}"))
    })?;
    Ok(Some(from_value(value)))
}

fn from_value(value: serde_json::Value) -> Measurement {
    let number = |key: &str| value[key].as_f64().unwrap_or(0.0);
    let integer = |key: &str| value[key].as_u64().unwrap_or(0);
    Measurement {
        case: value["case"].as_str().unwrap_or_default().to_string(),
        runs: integer("runs"),
        events: integer("events"),
        transfers: integer("transfers"),
        seconds: number("seconds"),
        events_per_s: number("events_per_s"),
        transfers_per_s: number("transfers_per_s"),
        runs_per_s: number("runs_per_s"),
        peak_rss_kib: value["peak_rss_kib"].as_u64(),
        threads: integer("threads") as usize,
        step_us: value["step_us"].as_f64(),
        overhead_us: value["overhead_us"].as_f64(),
        note: value["note"].as_str().map(str::to_string),
    }
}

fn print_row(out: &mut dyn Write, m: &Measurement) -> Result<(), CliError> {
    let what = CASES
        .iter()
        .find(|case| case.name == m.case)
        .map_or("", |case| case.what);
    let peak = m.peak_rss_kib.map_or_else(
        || "n/a".to_string(),
        |kib| format!("{:.1}", kib as f64 / 1024.0),
    );
    if let Some(note) = &m.note {
        return writeln!(out, "{:<14} {note}", m.case).map_err(stdout_error);
    }
    writeln!(
        out,
        "{:<14} {:>12.0} {:>12.0} {:>10.1} {:>9.2} {:>10}  {what}",
        m.case, m.events_per_s, m.transfers_per_s, m.runs_per_s, m.seconds, peak
    )
    .map_err(stdout_error)?;
    if let (Some(step_us), Some(overhead_us)) = (m.step_us, m.overhead_us) {
        writeln!(
            out,
            "{:<14} lockstep: {step_us:.0} us per step, {overhead_us:.0} us more than the built-in client",
            ""
        )
        .map_err(stdout_error)?;
    }
    Ok(())
}

fn io_error(source: std::io::Error) -> CliError {
    CliError::Io {
        path: "benchmark".into(),
        source,
    }
}
