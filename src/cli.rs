//! The command line: parses flags with clap and calls the library. Exit codes: 0 the run held
//! every invariant (or matched its `expect`), 1 a violation (or a mismatch), 2 bad input or
//! usage.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::render::text::write_verdict;
use crate::runner::{RunReport, run_scenario, run_with_timeline};
use crate::scenario::{Scenario, ScenarioError, default_scenario, parse_scenario};
use crate::sim::RunOptions;

/// Exit code of a run that held every invariant or matched its `expect`.
pub const EXIT_OK: u8 = 0;
/// Exit code of a run that found a violation or missed its `expect`.
pub const EXIT_VIOLATION: u8 = 1;
/// Exit code for bad input or usage.
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "lamport-ledger",
    version,
    about = "Simulate, check and teach Lamport's mutual exclusion on a replicated ledger.",
    long_about = "Simulate, check and teach Lamport's mutual exclusion on a replicated ledger.\n\n\
                  With no command, runs the built-in default scenario (three clients with 10 each) \
                  and prints its timeline and verdict.\n\n\
                  Exit codes: 0 every invariant held (or the scenario's expect matched), \
                  1 a violation (or a mismatch), 2 bad input or usage."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a scenario file (or the built-in default) and print its timeline and verdict.
    Run(RunArgs),
}

#[derive(Debug, Default, Args)]
struct RunArgs {
    /// The scenario file (JSON); the built-in default scenario when absent.
    scenario: Option<PathBuf>,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Also write the JSON Lines trace (SPEC section 3) to this file.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// What to print on standard output: the text timeline or the JSONL trace.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A timeline a student can follow, then the verdict.
    #[default]
    Text,
    /// The trace as JSON Lines; the verdict goes to standard error.
    Jsonl,
}

/// A failure that is the user's to fix: reported as one sentence, exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
}

/// Parses `args` (including the program name) and runs the command.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_OK
            });
        }
    };
    let outcome = match cli.command {
        None => run_command(&RunArgs::default()),
        Some(Command::Run(args)) => run_command(&args),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("lamport-ledger: {error}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn run_command(args: &RunArgs) -> Result<u8, CliError> {
    let mut scenario = load_scenario(args.scenario.as_deref())?;
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    let rerun = rerun_command(args.scenario.as_deref(), scenario.seed);
    let trace_file = args.trace.as_deref().map(PendingFile::create).transpose()?;
    let stdout = io::stdout();
    let report = match args.format {
        Format::Text => {
            let outputs = trace_file
                .iter()
                .map(PendingFile::writer)
                .collect::<Result<_, _>>()?;
            let out = BufWriter::new(stdout.lock());
            run_with_timeline(&scenario, RunOptions::default(), outputs, out, &rerun)
                .map_err(|source| io_error(args.trace.as_deref(), source))?
                .0
        }
        Format::Jsonl => {
            let mut outputs: Vec<Box<dyn Write>> = vec![Box::new(BufWriter::new(io::stdout()))];
            if let Some(file) = &trace_file {
                outputs.push(file.writer()?);
            }
            let report = run_scenario(&scenario, RunOptions::default(), outputs, &mut [])
                .map_err(|source| io_error(args.trace.as_deref(), source))?;
            write_verdict(&mut io::stderr().lock(), &report, &rerun).map_err(stdout_error)?;
            report
        }
    };
    if let Some(file) = trace_file {
        file.commit()?;
    }
    Ok(exit_code(&report))
}

fn exit_code(report: &RunReport) -> u8 {
    if report.passed() {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    }
}

fn load_scenario(path: Option<&Path>) -> Result<Scenario, CliError> {
    let Some(path) = path else {
        return Ok(default_scenario());
    };
    let shown = path.display().to_string();
    let text = fs::read_to_string(path).map_err(|source| CliError::Io {
        path: shown.clone(),
        source,
    })?;
    Ok(parse_scenario(&text, &shown)?)
}

/// The command that reruns this run exactly.
fn rerun_command(scenario: Option<&Path>, seed: u64) -> String {
    match scenario {
        Some(path) => format!(
            "lamport-ledger run {} --seed {seed}",
            shell_quote(&path.display().to_string())
        ),
        None => format!("lamport-ledger run --seed {seed}"),
    }
}

fn shell_quote(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn stdout_error(source: io::Error) -> CliError {
    CliError::Io {
        path: "standard output".into(),
        source,
    }
}

fn io_error(path: Option<&Path>, source: io::Error) -> CliError {
    let path = path.map_or_else(
        || "standard output".to_string(),
        |p| p.display().to_string(),
    );
    CliError::Io { path, source }
}

/// An output file written under a temporary name and renamed into place only when the run
/// finished, so a failed run never leaves a half-written file behind.
struct PendingFile {
    path: PathBuf,
    partial: PathBuf,
    file: File,
}

impl PendingFile {
    fn create(path: &Path) -> Result<Self, CliError> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = File::create(&partial).map_err(|source| CliError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(PendingFile {
            path: path.to_path_buf(),
            partial,
            file,
        })
    }

    fn writer(&self) -> Result<Box<dyn Write>, CliError> {
        let file = self.file.try_clone().map_err(|source| self.error(source))?;
        Ok(Box::new(BufWriter::new(file)))
    }

    fn commit(self) -> Result<(), CliError> {
        self.file.sync_all().map_err(|source| self.error(source))?;
        fs::rename(&self.partial, &self.path).map_err(|source| self.error(source))
    }

    fn error(&self, source: io::Error) -> CliError {
        CliError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        // After a successful commit the partial file no longer exists; otherwise remove it.
        let _ = fs::remove_file(&self.partial);
    }
}
