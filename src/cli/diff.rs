//! `lamport-ledger diff`: where two JSON Lines traces first differ.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use clap::Args;

use super::files::{is_standard_stream, open_input, shown_input};
use super::run::stdout_error;
use super::{CliError, EXIT_OK, EXIT_USAGE, EXIT_VIOLATION};
use crate::hunt::{diff_readers, write_report};

#[derive(Debug, Args)]
pub(super) struct DiffArgs {
    /// The first trace (shown as a); `-` reads standard input.
    trace_a: PathBuf,
    /// The second trace (shown as b); `-` reads standard input.
    trace_b: PathBuf,
    /// Lines of context shown on each side of the first difference.
    #[arg(long, value_name = "N", default_value_t = 3)]
    context: usize,
}

pub(super) fn diff_command(args: &DiffArgs) -> Result<u8, CliError> {
    if is_standard_stream(&args.trace_a) && is_standard_stream(&args.trace_b) {
        return Err(CliError::Usage(
            "diff reads at most one trace from standard input (-): name a file for the other"
                .into(),
        ));
    }
    let (a, b) = (open_input(&args.trace_a)?, open_input(&args.trace_b)?);
    let (name_a, name_b) = (shown_input(&args.trace_a), shown_input(&args.trace_b));
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
