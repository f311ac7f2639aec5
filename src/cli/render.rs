//! `lamport-ledger render`: draw a JSON Lines trace as an explained timeline, an SVG
//! space-time diagram, a step-through HTML page, a ShiViz log or a Mermaid sequence diagram;
//! and the `--render FORMAT -o FILE` option of `run`, which draws the run it just made.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::files::{is_standard_stream, open_input, refuse_input_as_output, shown_input};
use super::run::stdout_error;
use super::{CliError, EXIT_OK, PendingFile};
use crate::render::{
    Capture, RenderFormat, TraceInfo, Window, read_capture, render, too_many_clients,
};
use crate::runner::header;
use crate::scenario::Scenario;
use crate::trace::EventSink;
use crate::trace::read::ReadError;

#[derive(Debug, Args)]
pub(super) struct RenderArgs {
    /// The JSON Lines trace to draw (as written by `run --trace`); `-` reads standard input.
    trace: PathBuf,
    /// What to draw: the explained timeline, a space-time diagram, a step-through page, a
    /// ShiViz log or a Mermaid sequence diagram.
    #[arg(long, value_enum, default_value_t = RenderFormat::Text)]
    format: RenderFormat,
    /// Write to FILE (it appears whole or not at all) instead of standard output (`-`).
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The first event to draw, by its seq.
    #[arg(long, value_name = "SEQ")]
    from: Option<u64>,
    /// The last event to draw, by its seq.
    #[arg(long, value_name = "SEQ")]
    to: Option<u64>,
}

pub(super) fn render_command(args: &RenderArgs) -> Result<u8, CliError> {
    let window = window(args.from, args.to)?;
    refuse_input_as_output(args.output.as_deref(), "-o", &[Some(&args.trace)])?;
    let shown = shown_input(&args.trace);
    let capture = read_capture(open_input(&args.trace)?, window).map_err(|error| match error {
        ReadError::Io(source) => CliError::Io {
            path: shown.clone(),
            source,
        },
        invalid => CliError::Usage(invalid.in_file(&shown)),
    })?;
    if capture.events.is_empty() {
        let total = capture.before + capture.after;
        return Err(CliError::Usage(if total == 0 {
            format!("{shown} has no events to draw")
        } else {
            format!(
                "{shown}: --from/--to select no events; the trace's events are 0 to {}",
                total - 1
            )
        }));
    }
    match &args.output {
        Some(path) if !is_standard_stream(path) => write_file(&capture, args.format, path)?,
        _ => {
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            render(args.format, &capture, &mut out).map_err(stdout_error)?;
            out.flush().map_err(stdout_error)?;
        }
    }
    Ok(EXIT_OK)
}

/// The window of `--from` and `--to`, or a usage error when it is empty by construction.
fn window(from: Option<u64>, to: Option<u64>) -> Result<Window, CliError> {
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(CliError::Usage(format!(
            "--from {from} is after --to {to}: the window would hold no events"
        )));
    }
    Ok(Window::new(from, to))
}

/// Renders into `path`, written under a temporary name and renamed when complete.
fn write_file(capture: &Capture, format: RenderFormat, path: &Path) -> Result<(), CliError> {
    let file = PendingFile::create(path)?;
    write_pending(capture, format, &file)?;
    file.commit()
}

/// Renders into `file`, a pending output.
fn write_pending(
    capture: &Capture,
    format: RenderFormat,
    file: &PendingFile,
) -> Result<(), CliError> {
    let io_error = |source| CliError::Io {
        path: file.shown(),
        source,
    };
    let mut out = file.writer()?;
    render(format, capture, &mut out).map_err(io_error)?;
    out.flush().map_err(io_error)
}

/// What `run --render FORMAT -o FILE` asked for.
pub(super) struct RunRendering {
    format: RenderFormat,
    /// Opened before the run, so that a bad `-o` is reported before any work is done.
    file: PendingFile,
    capture: Capture,
}

impl RunRendering {
    /// `None` unless both `--render` and `-o` were given (clap makes each require the other).
    /// Opens the output file (under its temporary name) at once.
    pub(super) fn new(
        format: Option<RenderFormat>,
        path: Option<&Path>,
        scenario: &Scenario,
    ) -> Result<Option<Self>, CliError> {
        let (Some(format), Some(path)) = (format, path) else {
            return Ok(None);
        };
        if let Some(message) = too_many_clients("the scenario", scenario.clients) {
            return Err(CliError::Usage(format!(
                "{}: --render: {message}",
                scenario.source
            )));
        }
        let file = PendingFile::create(path)?;
        let mut info = TraceInfo::from_header(&header(scenario));
        if !scenario.description.is_empty() {
            info.description = Some(scenario.description.clone());
        }
        Ok(Some(RunRendering {
            format,
            file,
            capture: Capture::new(info, Window::all()),
        }))
    }

    /// The watcher that records the run's events.
    pub(super) fn watcher(&mut self) -> &mut dyn EventSink {
        &mut self.capture
    }

    /// Writes the drawing of the finished run into the file's temporary name; the caller
    /// commits it once every output of the run is complete.
    pub(super) fn finish(self) -> Result<PendingFile, CliError> {
        write_pending(&self.capture, self.format, &self.file)?;
        Ok(self.file)
    }
}
