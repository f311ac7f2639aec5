//! `lamport-ledger shrink SCENARIO --seed S [-o minimal.json]`: cut a failing run down to the
//! smallest scenario that still fails the same invariant, with every message pinned.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::files::{is_standard_stream, refuse_input_as_output};
use super::program::Program;
use super::run::{load_scenario, node_cmd_flag, seeded, shell_quote, stdout_error, with_node_cmd};
use super::{CliError, EXIT_OK, EXIT_VIOLATION, PendingFile};
use crate::hunt::{ShrinkError, shrink, shrink_within};
use crate::sim::node_failure;
use crate::wording::count;

#[derive(Debug, Args)]
pub(super) struct ShrinkArgs {
    /// The scenario file (JSON) whose run fails.
    scenario: PathBuf,
    /// The failing seed (the scenario's own seed when absent).
    #[arg(long)]
    seed: Option<u64>,
    /// Write the minimal scenario here (standard output when absent or `-`).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Shrink the configuration this seed draws from the scenario's `swarm` bounds.
    #[arg(long)]
    swarm: bool,
    /// Play every client with this program, one process each (docs/nodes.md), as for `run`;
    /// the minimal scenario names it in its `node` key.
    #[arg(long, value_name = "CMD")]
    node_cmd: Option<String>,
    /// The most runs the search may take (default 20,000; 100 when a program plays the
    /// clients, whose runs each start a process per client).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_runs: Option<u64>,
}

pub(super) fn shrink_command(args: &ShrinkArgs, program: &Program) -> Result<u8, CliError> {
    let scenario = seeded(load_scenario(Some(&args.scenario))?, args.seed, args.swarm)?;
    let scenario = with_node_cmd(scenario, args.node_cmd.as_deref())?;
    // Opened before the search, so that a bad `-o` is reported before minutes of work.
    refuse_input_as_output(args.output.as_deref(), "-o", &[Some(&args.scenario)])?;
    let output = args
        .output
        .as_deref()
        .filter(|path| !is_standard_stream(path))
        .map(|path| PendingFile::create(path).map(|file| (path, file)))
        .transpose()?;
    let shrunk = match args
        .max_runs
        .map_or_else(|| shrink(&scenario), |runs| shrink_within(&scenario, runs))
    {
        Ok(shrunk) => shrunk,
        Err(ShrinkError::NoFailure { .. }) => {
            eprintln!(
                "lamport-ledger: seed {} of {} violates no invariant: nothing to shrink",
                scenario.seed,
                args.scenario.display()
            );
            return Ok(EXIT_VIOLATION);
        }
        Err(ShrinkError::Io(source)) if node_failure(&source).is_some() => {
            return Err(CliError::Usage(
                node_failure(&source).unwrap_or_default().to_string(),
            ));
        }
        Err(ShrinkError::Io(source)) => {
            return Err(CliError::Io {
                path: args.scenario.display().to_string(),
                source,
            });
        }
        Err(error) => return Err(CliError::Usage(error.to_string())),
    };
    let mut minimal = shrunk.scenario.clone();
    minimal.name = format!("{}-shrunk", scenario.name);
    // The file names the installed program whoever started this one: what a file says must
    // not depend on the environment it was written in.
    minimal.description = format!(
        "Shrunk by `lamport-ledger shrink {} --seed {}{}{}` from a run that violated {}. Every \
         message is pinned in `schedule`, so the run does not depend on random draws.",
        shell_quote(&args.scenario.display().to_string()),
        scenario.seed,
        if args.swarm { " --swarm" } else { "" },
        node_cmd_flag(args.node_cmd.as_deref()),
        shrunk.invariant
    );
    let json =
        serde_json::to_string_pretty(&minimal.to_file()).expect("a scenario serialises") + "\n";
    eprintln!(
        "shrunk a violation of {} in {} runs",
        shrunk.invariant, shrunk.attempts
    );
    eprintln!(
        "before: {}{}",
        shrunk.before,
        not_come(shrunk.before.transfers, scenario.transfer_count())
    );
    eprintln!("after:  {}", shrunk.after);
    match output {
        Some((path, file)) => {
            write_file(path, file, &json)?;
            eprintln!(
                "wrote {}; rerun with: {}",
                path.display(),
                program.command(&format!("run {}", shell_quote(&path.display().to_string())))
            );
        }
        None => {
            let mut stdout = io::stdout().lock();
            stdout
                .write_all(json.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(stdout_error)?;
        }
    }
    Ok(EXIT_OK)
}

fn write_file(path: &Path, file: PendingFile, text: &str) -> Result<(), CliError> {
    let mut writer = file.writer()?;
    writer
        .write_all(text.as_bytes())
        .and_then(|()| writer.flush())
        .map_err(|source| CliError::Io {
            path: path.display().to_string(),
            source,
        })?;
    drop(writer);
    file.commit()
}

/// Why the failing run counts fewer transfers than its scenario holds, if it does: it ended
/// (at its violation, or at the time limit) before the rest came, so they are not part of the
/// size that the shrink starts from.
fn not_come(run_transfers: u64, scenario_transfers: u64) -> String {
    if run_transfers >= scenario_transfers {
        return String::new();
    }
    format!(
        " ({run_transfers} of the scenario's {} came before the run ended)",
        count(scenario_transfers, "transfer")
    )
}

#[cfg(test)]
mod tests {
    use super::not_come;

    #[test]
    fn the_before_line_says_when_the_run_ended_before_the_scenario_s_transfers_came() {
        assert_eq!(not_come(12, 12), "");
        assert_eq!(
            not_come(11, 12),
            " (11 of the scenario's 12 transfers came before the run ended)"
        );
        assert_eq!(
            not_come(0, 1),
            " (0 of the scenario's 1 transfer came before the run ended)"
        );
    }
}
