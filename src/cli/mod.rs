//! The command line: parses flags with clap and calls the library. Exit codes: 0 the run held
//! every invariant (or matched its `expect`), 1 a violation (or a mismatch), 2 bad input or
//! usage.

mod bench;
mod check;
mod diff;
mod explore;
mod files;
mod node;
mod play;
mod program;
mod render;
mod replay;
mod run;
mod shrink;
mod sweep;
mod test_node;

use std::ffi::OsString;
use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::scenario::{MemoryBudgetExceeded, ScenarioError};

pub use files::PendingFile;

/// Exit code of a run that held every invariant or matched its `expect`.
pub const EXIT_OK: u8 = 0;
/// Exit code of a run that found a violation or missed its `expect`.
pub const EXIT_VIOLATION: u8 = 1;
/// Exit code for bad input or usage.
pub const EXIT_USAGE: u8 = 2;
/// Exit code when the reader of standard output went away (`… | head`): what the shell
/// reports for a program that SIGPIPE ended, as 130 is for an interrupted one.
pub const EXIT_BROKEN_PIPE: u8 = 141;

#[derive(Debug, Parser)]
#[command(
    name = "lamport-ledger",
    version,
    about = "Simulate, check and teach Lamport's mutual exclusion on a replicated ledger.",
    long_about = "Simulate, check and teach Lamport's mutual exclusion on a replicated ledger.\n\n\
                  With no command, runs the built-in default scenario (three clients with 10 each) \
                  and prints its timeline, its verdict and what to try next.\n\n\
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
    Run(run::RunArgs),
    /// Run a scenario once per seed, in parallel, and list the failing seeds by invariant.
    Sweep(sweep::SweepArgs),
    /// Rerun one seed and prove it is the same run (digest, or line by line against a trace).
    Replay(replay::ReplayArgs),
    /// Show where two JSON Lines traces first differ.
    Diff(diff::DiffArgs),
    /// Cut a failing run down to a small scenario with every message pinned.
    Shrink(shrink::ShrinkArgs),
    /// Measure speed and memory on a fixed set of cases (see docs/performance.md).
    Bench(bench::BenchArgs),
    /// Re-check a JSON Lines trace file offline with the same invariants and exit codes as run.
    Check(check::CheckArgs),
    /// Draw a JSON Lines trace: explained timeline, SVG diagram, step-through HTML, ShiViz, Mermaid.
    Render(render::RenderArgs),
    /// Explore every reachable state of a small scenario (or of the TLA+ model
    /// LamportMutex.tla) and print the shortest path to a violation.
    Explore(explore::ExploreArgs),
    /// Run one node of a live cluster over TCP, with the original commands at a prompt.
    Node(node::NodeArgs),
    /// Merge the trace files of a live cluster's nodes into one trace for check and render.
    Merge(node::MergeArgs),
    /// Be the network on a local web page: choose every delivery, undo, branch, export.
    Play(play::PlayArgs),
    /// Test a client program (--node-cmd): conformance, determinism, safety and liveness on
    /// FIFO-reliable links, then what breaks without each assumption.
    TestNode(test_node::TestNodeArgs),
}

/// A failure that is the user's to fix: reported as one sentence, exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    #[error("{path}: {}", without_os_code(source))]
    Io { path: String, source: io::Error },
    /// A command-line mistake clap cannot see, in one sentence.
    #[error("{0}")]
    Usage(String),
}

/// Parses `args` (including the program name) and runs the command.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    // The commands printed for the user to type start the way this process was started.
    let program = program::Program::of_this_process(args.first().map(OsString::as_os_str));
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) if error.use_stderr() => {
            eprintln!("{}", one_line(&error.render().to_string()));
            return ExitCode::from(EXIT_USAGE);
        }
        Err(help_or_version) => {
            let _ = help_or_version.print();
            return ExitCode::from(EXIT_OK);
        }
    };
    let outcome = match cli.command {
        None => run::run_command(&run::RunArgs::default(), &program),
        Some(Command::Run(args)) => run::run_command(&args, &program),
        Some(Command::Sweep(args)) => sweep::sweep_command(&args, &program),
        Some(Command::Replay(args)) => replay::replay_command(&args, &program),
        Some(Command::Diff(args)) => diff::diff_command(&args),
        Some(Command::Shrink(args)) => shrink::shrink_command(&args, &program),
        Some(Command::Bench(args)) => bench::bench_command(&args),
        Some(Command::Check(args)) => check::check_command(&args),
        Some(Command::Render(args)) => render::render_command(&args),
        Some(Command::Explore(args)) => explore::explore_command(&args, &program),
        Some(Command::Node(args)) => node::node_command(&args),
        Some(Command::Merge(args)) => node::merge_command(&args),
        Some(Command::Play(args)) => play::play_command(&args),
        Some(Command::TestNode(args)) => test_node::test_node_command(&args, &program),
    };
    match outcome {
        Ok(code) => ExitCode::from(code),
        // Not a mistake of the user's: the output was simply no longer wanted. Say nothing;
        // the pending output files were removed on the way out.
        Err(CliError::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
            ExitCode::from(EXIT_BROKEN_PIPE)
        }
        // A run over its memory budget names its scenario, not the output it was writing.
        Err(CliError::Io { source, .. }) if MemoryBudgetExceeded::within(&source).is_some() => {
            eprintln!("lamport-ledger: {source}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(error) => {
            eprintln!("lamport-ledger: {error}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// An I/O error as a sentence for people: "No such file or directory", without the
/// " (os error 2)" that the standard library appends for programmers.
fn without_os_code(error: &io::Error) -> String {
    let text = error.to_string();
    match (error.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(at)) => text[..at].to_string(),
        _ => text,
    }
}

/// A command-line mistake as clap words it, in one line, as every other bad input is reported:
/// the error and its tip, without the usage summary and the pointer to `--help` that follow.
fn one_line(rendered: &str) -> String {
    let mut line = String::new();
    for part in rendered
        .lines()
        .take_while(|text| !text.starts_with("Usage:") && !text.starts_with("For more information"))
        .map(str::trim)
        .filter(|text| !text.is_empty())
    {
        if !line.is_empty() {
            line.push_str(if line.ends_with(':') { " " } else { "; " });
        }
        line.push_str(part);
    }
    line
}
