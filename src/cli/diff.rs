//! `lamport-ledger diff`: where two JSON Lines traces first differ.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::run::stdout_error;
use super::{CliError, EXIT_OK, EXIT_USAGE, EXIT_VIOLATION};
use crate::hunt::{diff_readers, write_report};

#[derive(Debug, Args)]
pub(super) struct DiffArgs {
    /// The first trace (shown as a).
    trace_a: PathBuf,
    /// The second trace (shown as b).
    trace_b: PathBuf,
    /// Lines of context shown on each side of the first difference.
    #[arg(long, value_name = "N", default_value_t = 3)]
    context: usize,
}

pub(super) fn diff_command(args: &DiffArgs) -> Result<u8, CliError> {
    let open = |path: &Path| {
        File::open(path)
            .map(BufReader::new)
            .map_err(|source| CliError::Io {
                path: path.display().to_string(),
                source,
            })
    };
    let (a, b) = (open(&args.trace_a)?, open(&args.trace_b)?);
    let (name_a, name_b) = (
        args.trace_a.display().to_string(),
        args.trace_b.display().to_string(),
    );
    let diff = match diff_readers(a, b, &name_a, &name_b, args.context) {
        Ok(diff) => diff,
        Err(error) => {
            eprintln!("lamport-ledger: {error}");
            return Ok(EXIT_USAGE);
        }
    };
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    write_report(&mut out, &diff, &name_a, &name_b).map_err(stdout_error)?;
    out.flush().map_err(stdout_error)?;
    Ok(if diff.identical() {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    })
}
