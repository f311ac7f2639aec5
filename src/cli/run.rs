//! `lamport-ledger run`: one scenario, its timeline (or JSONL trace) and its verdict.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::files::{is_standard_stream, read_text, refuse_input_as_output, report_writer};
use super::program::Program;
use super::render::RunRendering;
use super::{CliError, EXIT_OK, EXIT_VIOLATION, PendingFile};
use crate::render::RenderFormat;
use crate::render::text::write_verdict;
use crate::runner::{RunReport, run_scenario, run_with_timeline};
use crate::scenario::{
    DEFAULT_STEP_TIMEOUT_MS, MAX_SCENARIO_BYTES, NodeProgram, Scenario, default_scenario,
    parse_scenario,
};
use crate::sim::{RunOptions, node_failure};
use crate::trace::TraceOutput;

#[derive(Debug, Default, Args)]
pub(super) struct RunArgs {
    /// The scenario file (JSON); the built-in default scenario when absent.
    scenario: Option<PathBuf>,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Also write the JSON Lines trace (docs/spec.md section 3) to this file; `-` prints it on
    /// standard output instead of the timeline (as `--format jsonl`).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// What to print on standard output: the text timeline or the JSONL trace.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Run the scenario a second time in memory and fail (exit 1) if the digests differ.
    #[arg(long)]
    check_determinism: bool,
    /// Keep running after a safety violation instead of stopping at the first one.
    #[arg(long)]
    keep_going: bool,
    /// Run the configuration this seed draws from the scenario's `swarm` bounds.
    #[arg(long)]
    swarm: bool,
    /// Also draw the run in this format (as `render` does) into the file given with -o.
    #[arg(long, value_enum, value_name = "FORMAT", requires = "output")]
    render: Option<RenderFormat>,
    /// The file for --render (it appears whole or not at all); `-` is standard output, and the
    /// timeline then goes to standard error.
    #[arg(short = 'o', long, value_name = "FILE", requires = "render")]
    output: Option<PathBuf>,
    /// Play every client with this program, one process each, over JSON Lines on its
    /// standard input and output (docs/nodes.md); run by `sh -c`.
    #[arg(long, value_name = "CMD")]
    node_cmd: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(super) enum Format {
    /// A timeline a student can follow, then the verdict.
    #[default]
    Text,
    /// The trace as JSON Lines; the verdict goes to standard error.
    Jsonl,
}

pub(super) fn run_command(args: &RunArgs, program: &Program) -> Result<u8, CliError> {
    if args.swarm && args.scenario.is_none() {
        return Err(CliError::Usage(
            "--swarm needs a scenario file with a `swarm` section (e.g. \
             scenarios/swarm-lamport.json); the built-in default scenario has none"
                .into(),
        ));
    }
    let scenario = seeded(
        load_scenario(args.scenario.as_deref())?,
        args.seed,
        args.swarm,
    )?;
    let scenario = with_node_cmd(scenario, args.node_cmd.as_deref())?;
    let options = RunOptions {
        stop_at_first_violation: !args.keep_going,
        ..RunOptions::default()
    };
    let mut rerun = rerun_command(program, args.scenario.as_deref(), scenario.seed);
    if args.swarm {
        rerun.push_str(" --swarm");
    }
    if args.keep_going {
        rerun.push_str(" --keep-going");
    }
    rerun.push_str(&node_cmd_flag(args.node_cmd.as_deref()));
    refuse_shared_outputs(args)?;
    // `--trace -` is the trace on standard output: what `--format jsonl` prints.
    let trace_to_stdout = args.trace.as_deref().is_some_and(is_standard_stream);
    let format = if trace_to_stdout {
        Format::Jsonl
    } else {
        args.format
    };
    let mut trace_file = args
        .trace
        .as_deref()
        .filter(|_| !trace_to_stdout)
        .map(PendingFile::create)
        .transpose()?;
    let mut rendering = RunRendering::new(args.render, args.output.as_deref(), &scenario)?;
    // A run played by programs writes its trace file as it goes, so that the trace up to a
    // node's failure is kept; the encoder gets the file only for built-in runs.
    let mut tee = match (&trace_file, &scenario.node) {
        (Some(file), Some(_)) => Some(TraceTee::start(file.writer()?, &scenario)?),
        _ => None,
    };
    let encoder_file = trace_file.as_ref().filter(|_| tee.is_none());
    let mut watchers: Vec<&mut dyn crate::trace::EventSink> =
        rendering.iter_mut().map(RunRendering::watcher).collect();
    if let Some(tee) = tee.as_mut() {
        watchers.push(tee);
    }
    let report = match format {
        Format::Text => {
            let outputs = encoder_file
                .iter()
                .map(|file| file.writer())
                .collect::<Result<_, _>>()?;
            // With `-o -` the drawing has standard output; the timeline goes to standard error.
            let out = report_writer(args.output.as_deref());
            let (report, mut out) =
                run_with_timeline(&scenario, options, outputs, out, &rerun, &mut watchers)
                    .map_err(|source| run_failed(&mut trace_file, source))?;
            // The built-in default is what a newcomer runs first: say where to go from it.
            if args.scenario.is_none() && args.output.is_none() {
                write_next_steps(&mut out, program)
                    .and_then(|()| out.flush())
                    .map_err(stdout_error)?;
            }
            report
        }
        Format::Jsonl => {
            let mut outputs: Vec<TraceOutput> = vec![Box::new(BufWriter::new(io::stdout()))];
            if let Some(file) = encoder_file {
                outputs.push(file.writer()?);
            }
            let report = run_scenario(&scenario, options, outputs, &mut watchers)
                .map_err(|source| run_failed(&mut trace_file, source))?;
            write_verdict(&mut io::stderr().lock(), &report, &rerun).map_err(stdout_error)?;
            report
        }
    };
    drop(watchers);
    if let Some(tee) = tee {
        tee.finish(&report.summary)
            .map_err(|source| io_error(trace_file.as_ref(), source))?;
    }
    // Every output is complete before any is renamed into place: a run that fails leaves no
    // file behind.
    let drawing = rendering.map(RunRendering::finish).transpose()?;
    if let Some(file) = trace_file {
        file.commit()?;
    }
    if let Some(file) = drawing {
        file.commit()?;
    }
    if args.check_determinism {
        let second = run_scenario(&scenario, options, Vec::new(), &mut []).map_err(stdout_error)?;
        if second.digest_hex != report.digest_hex {
            eprintln!(
                "lamport-ledger: NOT deterministic: {} with seed {} gave digest {} on the first \
                 run and {} on the second",
                scenario.source, scenario.seed, report.digest_hex, second.digest_hex
            );
            return Ok(EXIT_VIOLATION);
        }
        eprintln!(
            "determinism: a second run of seed {} gave the same digest",
            scenario.seed
        );
    }
    Ok(exit_code(&report))
}

/// Refuses an output that is the scenario file, and two outputs in one place: the trace and
/// the drawing in the same file, or both on standard output (`-`, or `--format jsonl`, which
/// prints the trace there).
fn refuse_shared_outputs(args: &RunArgs) -> Result<(), CliError> {
    let scenario = [args.scenario.as_deref()];
    refuse_input_as_output(args.trace.as_deref(), "--trace", &scenario)?;
    refuse_input_as_output(args.output.as_deref(), "-o", &scenario)?;
    let drawing_to_stdout = args.output.as_deref().is_some_and(is_standard_stream);
    if drawing_to_stdout && args.format == Format::Jsonl {
        return Err(CliError::Usage(
            "-o - and --format jsonl both write to standard output: give the drawing a file".into(),
        ));
    }
    if let (Some(trace), Some(output)) = (&args.trace, &args.output)
        && trace == output
    {
        return Err(CliError::Usage(if drawing_to_stdout {
            "--trace - and -o - both write to standard output: give one of them a file".into()
        } else {
            format!(
                "--trace and --output both name {}: give the trace and the drawing a file each",
                trace.display()
            )
        }));
    }
    Ok(())
}

fn exit_code(report: &RunReport) -> u8 {
    if report.passed() {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    }
}

/// The scenario with `seed` in force; with `swarm`, the configuration that seed draws from
/// the scenario's `swarm` bounds (an error, in one sentence, when there are none).
pub(crate) fn seeded(
    scenario: Scenario,
    seed: Option<u64>,
    swarm: bool,
) -> Result<Scenario, CliError> {
    let seed = seed.unwrap_or(scenario.seed);
    if !swarm {
        return Ok(Scenario { seed, ..scenario });
    }
    crate::hunt::swarm::draw(&scenario, seed).ok_or_else(|| {
        CliError::Usage(format!(
            "{}: --swarm needs a `swarm` section with the bounds to draw from",
            scenario.source
        ))
    })
}

pub(crate) fn load_scenario(path: Option<&Path>) -> Result<Scenario, CliError> {
    let Some(path) = path else {
        return Ok(default_scenario());
    };
    let shown = path.display().to_string();
    let text = read_text(path, MAX_SCENARIO_BYTES)?;
    Ok(parse_scenario(&text, &shown)?)
}

/// The scenario the next steps lead to: two clients in the critical section at once.
const NEXT_SCENARIO: &str = "scenarios/reorder-2.json";

/// What to try after the default scenario, each command with what it shows, started as this
/// program was.
fn write_next_steps(out: &mut dyn Write, program: &Program) -> io::Result<()> {
    let steps = [
        (
            format!("run {NEXT_SCENARIO} --render html -o reorder-2.html"),
            "both clients enter the critical section, and the timeline says why; \
             reorder-2.html steps through it in a browser",
        ),
        (
            format!("sweep {NEXT_SCENARIO} --seeds 0..1000 --expect ok"),
            "which of a thousand seeds break mutual exclusion there, each with its replay command",
        ),
        (
            format!("explore {NEXT_SCENARIO}"),
            "every interleaving of it, and the shortest that breaks mutual exclusion",
        ),
    ];
    writeln!(out)?;
    for (rank, (command, shows)) in steps.iter().enumerate() {
        let label = if rank == 0 { "next:" } else { "" };
        writeln!(out, "{label:<11}{}", program.command(command))?;
        writeln!(out, "             {shows}")?;
    }
    writeln!(
        out,
        "           {} lists every command",
        program.command("--help")
    )?;
    if program.by_cargo() {
        writeln!(
            out,
            "           cargo install --path . puts lamport-ledger on your PATH"
        )?;
    }
    Ok(())
}

/// The command that reruns this run exactly, started as `program` was.
pub(crate) fn rerun_command(program: &Program, scenario: Option<&Path>, seed: u64) -> String {
    program.command(&match scenario {
        Some(path) => format!(
            "run {} --seed {seed}",
            shell_quote(&path.display().to_string())
        ),
        None => format!("run --seed {seed}"),
    })
}

pub(crate) fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

pub(crate) fn stdout_error(source: io::Error) -> CliError {
    if let Some(sentence) = node_failure(&source) {
        return CliError::Usage(sentence.to_string());
    }
    CliError::Io {
        path: "standard output".into(),
        source,
    }
}

/// Refuses an empty `--node-cmd` with one sentence that shows what one looks like.
pub(crate) fn require_node_cmd(cmd: &str) -> Result<(), CliError> {
    if cmd.trim().is_empty() {
        return Err(CliError::Usage(
            "--node-cmd needs a command, such as \"python3 examples/python/lamport_client.py\""
                .into(),
        ));
    }
    Ok(())
}

/// The scenario played by the program `cmd`, if given (`--node-cmd`), with the scenario's
/// step deadline or the default.
pub(crate) fn with_node_cmd(scenario: Scenario, cmd: Option<&str>) -> Result<Scenario, CliError> {
    let Some(cmd) = cmd else {
        return Ok(scenario);
    };
    let step_timeout_ms = scenario
        .node
        .as_ref()
        .map_or(DEFAULT_STEP_TIMEOUT_MS, |node| node.step_timeout_ms);
    let node = NodeProgram {
        cmd: cmd.to_string(),
        step_timeout_ms,
    };
    require_node_cmd(cmd)?;
    if !scenario.mutations.is_empty() {
        return Err(CliError::Usage(format!(
            "{}: --node-cmd plays every client with a program, and `mutations` change only the \
             built-in client: remove them",
            scenario.source
        )));
    }
    Ok(Scenario {
        node: Some(node),
        ..scenario
    })
}

/// ` --node-cmd CMD` for a printed command when the program was given on the command line.
pub(crate) fn node_cmd_flag(cmd: Option<&str>) -> String {
    cmd.map_or_else(String::new, |cmd| {
        format!(" --node-cmd {}", shell_quoted(cmd))
    })
}

/// `text` quoted for a POSIX shell when it needs to be.
fn shell_quoted(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The trace file of a run played by programs, written line by line as the run goes (a
/// program's run is slow, so the writes cost little), byte for byte what the encoder writes.
struct TraceTee {
    out: TraceOutput,
    line: Vec<u8>,
}

impl TraceTee {
    fn start(out: TraceOutput, scenario: &Scenario) -> Result<TraceTee, CliError> {
        let mut tee = TraceTee {
            out,
            line: Vec::with_capacity(512),
        };
        serde_json::to_writer(&mut tee.line, &crate::runner::header(scenario))
            .expect("a header serialises");
        tee.end_line().map_err(stdout_error)?;
        Ok(tee)
    }

    fn end_line(&mut self) -> io::Result<()> {
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.line.clear();
        self.out.flush()
    }

    /// Writes the summary line, digest included, as the encoder computed it.
    fn finish(mut self, summary: &crate::trace::Summary) -> io::Result<()> {
        serde_json::to_writer(&mut self.line, summary)?;
        self.end_line()
    }
}

impl crate::trace::EventSink for TraceTee {
    fn event(&mut self, event: &crate::trace::Event) -> io::Result<()> {
        crate::trace::encode_event(event, &mut self.line);
        self.end_line()
    }
}

/// A run that ended in an error: a node that broke the wire protocol (its sentence; the trace
/// up to that point is kept, for it shows what led there), or a failed write.
fn run_failed(trace_file: &mut Option<PendingFile>, source: io::Error) -> CliError {
    let Some(sentence) = node_failure(&source) else {
        return io_error(trace_file.as_ref(), source);
    };
    let Some(file) = trace_file.take() else {
        return CliError::Usage(sentence.to_string());
    };
    let shown = file.shown();
    match file.commit() {
        Ok(()) => CliError::Usage(format!("{sentence} (the trace up to it is in {shown})")),
        Err(_) => CliError::Usage(sentence.to_string()),
    }
}

/// A failed write of the run: to the trace file when there is one (the timeline and the
/// JSONL on standard output rarely fail).
fn io_error(trace_file: Option<&PendingFile>, source: io::Error) -> CliError {
    if let Some(sentence) = node_failure(&source) {
        return CliError::Usage(sentence.to_string());
    }
    let path = trace_file.map_or_else(|| "standard output".to_string(), PendingFile::shown);
    CliError::Io { path, source }
}
