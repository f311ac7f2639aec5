//! `lamport-ledger node ID`: run one node of a live cluster over TCP, with the original
//! commands at a prompt; `lamport-ledger merge`: merge the nodes' traces into one that `check`
//! reads. See docs/live.md.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::files::{is_standard_stream, refuse_input_as_output};
use super::run::require_node_cmd;
use super::{CliError, EXIT_OK, PendingFile};
use crate::live::merge::MergeError;
use crate::live::{self, KEY_ENV, NodeOptions};
use crate::node::NodeSpec as ProgramSpec;
use crate::protocol::ClientId;
use crate::scenario::DEFAULT_STEP_TIMEOUT_MS;
use crate::wording::count;

#[derive(Debug, Args)]
pub(super) struct NodeArgs {
    /// This node's id (1 to N).
    id: u32,
    /// The cluster file (JSON, see docs/live.md); without it, nodes 1-3 on 127.0.0.1:7301-7303
    /// with 10 each.
    #[arg(long, value_name = "FILE")]
    cluster: Option<PathBuf>,
    /// Keep the ledger in this directory (appended with fsync, verified on start).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Write this node's trace to FILE (never overwritten), or under a fresh name into an
    /// existing directory.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Listen on this address instead of the node's cluster address (needed to listen on
    /// anything but loopback).
    #[arg(long, value_name = "ADDR")]
    bind: Option<SocketAddr>,
    /// Play the client with this program (run by `sh -c`), driven in lockstep over JSON Lines
    /// as in the simulator (docs/nodes.md); overrides the cluster file's `node.cmd`. Every
    /// node of the cluster must run a program.
    #[arg(long, value_name = "CMD")]
    node_cmd: Option<String>,
}

#[derive(Debug, Args)]
pub(super) struct MergeArgs {
    /// The nodes' trace files, or directories holding them (*.jsonl).
    #[arg(required = true)]
    traces: Vec<PathBuf>,
    /// Write the merged trace here (it appears whole or not at all) instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub(super) fn node_command(args: &NodeArgs) -> Result<u8, CliError> {
    if args.trace.as_deref().is_some_and(is_standard_stream) {
        return Err(CliError::Usage(
            "node --trace -: a node's standard output is its prompt; give the trace a file or \
             a directory"
                .into(),
        ));
    }
    let env_key = std::env::var(KEY_ENV).ok();
    let mut cluster = match &args.cluster {
        Some(path) => live::load_cluster(path, env_key),
        None => live::default_cluster(env_key),
    }
    .map_err(|error| CliError::Usage(error.0))?;
    if let Some(cmd) = &args.node_cmd {
        cluster.program = Some(program_spec(cmd, cluster.program.take())?);
    }
    live::run_node(NodeOptions {
        id: ClientId::new(args.id),
        cluster,
        data_dir: args.data_dir.clone(),
        trace: args.trace.clone(),
        bind: args.bind,
    })
    .map_err(|error| CliError::Usage(error.0))
}

/// `--node-cmd CMD` over the cluster file's `node` key: its command, the key's step deadline
/// or the default one.
fn program_spec(cmd: &str, from_file: Option<ProgramSpec>) -> Result<ProgramSpec, CliError> {
    require_node_cmd(cmd)?;
    let step_timeout = from_file
        .map_or(Duration::from_millis(DEFAULT_STEP_TIMEOUT_MS), |program| {
            program.step_timeout
        });
    Ok(ProgramSpec {
        cmd: cmd.to_string(),
        step_timeout,
    })
}

pub(super) fn merge_command(args: &MergeArgs) -> Result<u8, CliError> {
    let inputs: Vec<Option<&Path>> = args
        .traces
        .iter()
        .map(|path| Some(path.as_path()))
        .collect();
    refuse_input_as_output(args.output.as_deref(), "-o", &inputs)?;
    let pending = args
        .output
        .as_deref()
        .map(PendingFile::create)
        .transpose()?;
    let mut output: Box<dyn Write> = match &pending {
        Some(file) => file.writer()?,
        None => Box::new(io::BufWriter::new(io::stdout().lock())),
    };
    let report = live::merge_traces(&args.traces, &mut output).map_err(|error| match error {
        // An I/O error, so that a reader that went away (`merge … | head`) ends the command
        // quietly, as it does every other command.
        MergeError::Write(source) => CliError::Io {
            path: pending
                .as_ref()
                .map_or_else(|| "standard output".into(), PendingFile::shown),
            source,
        },
        MergeError::Input(sentence) => CliError::Usage(sentence),
    })?;
    drop(output);
    if let Some(file) = pending {
        file.commit()?;
    }
    let lives: Vec<String> = report
        .lives
        .iter()
        .enumerate()
        .filter(|&(_, &lives)| lives > 0)
        .map(|(slot, &lives)| match lives {
            1 => format!("node {}", slot + 1),
            n => format!("node {} ({n} runs)", slot + 1),
        })
        .collect();
    let mut note = format!(
        "merged the traces of {}: {}",
        lives.join(", "),
        count(report.events, "event")
    );
    if report.dropped > 0 {
        note.push_str(&format!(
            "; {} lost when their receiver stopped",
            count(report.dropped, "message")
        ));
    }
    if report.in_flight > 0 {
        note.push_str(&format!(
            "; {} still in flight",
            count(report.in_flight, "message")
        ));
    }
    if !report.truncated.is_empty() {
        note.push_str(&format!(
            "; ended without a summary (killed): {}",
            report.truncated.join(", ")
        ));
    }
    eprintln!("{note}");
    Ok(EXIT_OK)
}
