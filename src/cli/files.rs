//! Output files that appear whole or not at all.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, PoisonError};

use super::CliError;
use crate::scenario::{BoundedReadError, read_bounded};
use crate::trace::TraceOutput;

/// What `-` names in place of a file: standard output for an output, standard input for a
/// trace read.
pub const STANDARD_STREAM: &str = "-";

/// Whether `path` is `-` (standard output or input).
pub fn is_standard_stream(path: &Path) -> bool {
    path.as_os_str() == STANDARD_STREAM
}

/// Where a command prints its report: standard output, or standard error when its `output`
/// is `-`, so that the report and the output never mix.
pub fn report_writer(output: Option<&Path>) -> Box<dyn Write> {
    if output.is_some_and(is_standard_stream) {
        Box::new(BufWriter::new(io::stderr()))
    } else {
        Box::new(BufWriter::new(io::stdout()))
    }
}

/// Refuses an output (named by `flag`) that is one of the command's `inputs`: writing it would
/// destroy the input before, or while, it is read (`run S.json --trace S.json`). Links and
/// `..` lead to the same file, so files are compared, not names.
pub fn refuse_input_as_output(
    output: Option<&Path>,
    flag: &str,
    inputs: &[Option<&Path>],
) -> Result<(), CliError> {
    let Some(output) = output.filter(|path| !is_standard_stream(path)) else {
        return Ok(());
    };
    // Only regular files can be destroyed this way, and comparing opens both files: opening a
    // named pipe would block until someone writes to it.
    let regular = |path: &Path| fs::metadata(path).is_ok_and(|metadata| metadata.is_file());
    if !regular(output) {
        return Ok(());
    }
    for input in inputs.iter().flatten().filter(|input| regular(input)) {
        if same_file::is_same_file(output, input).unwrap_or(false) {
            return Err(CliError::Usage(format!(
                "{flag} {} is also the input {}: writing it would destroy what is being read; \
                 give another file",
                output.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// An output file written under a temporary name and renamed into place only when the run
/// finished, so a failed run never leaves a half-written file behind.
///
/// An existing path that is not a regular file (`/dev/null`, `/dev/stdout`, a named pipe) is
/// written in place: renaming a file over it would replace the device or pipe with a regular
/// file (as root, `--trace /dev/null` would replace the machine's `/dev/null`), and what went
/// into a pipe cannot be taken back anyway. `-` is standard output, written in place too.
pub struct PendingFile {
    path: PathBuf,
    target: Target,
}

enum Target {
    /// `path.partial`, renamed over `path` by [`PendingFile::commit`].
    Partial { partial: PathBuf, file: File },
    /// An existing device or pipe.
    InPlace(File),
    /// `-`.
    Stdout,
}

impl PendingFile {
    /// Opens `path.partial` for writing. A `path` that is a folder is refused here, before any
    /// work, rather than when the finished file is renamed into place at the end.
    pub fn create(path: &Path) -> Result<Self, CliError> {
        if is_standard_stream(path) {
            return Ok(PendingFile {
                path: PathBuf::from("standard output"),
                target: Target::Stdout,
            });
        }
        if path.is_dir() {
            return Err(CliError::Usage(format!(
                "{}: is a folder; give the name of a file to write",
                path.display()
            )));
        }
        let io_error = |source| CliError::Io {
            path: path.display().to_string(),
            source,
        };
        let special = fs::metadata(path).is_ok_and(|metadata| !metadata.is_file());
        if special {
            let file = fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io_error)?;
            return Ok(PendingFile {
                path: path.to_path_buf(),
                target: Target::InPlace(file),
            });
        }
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        remove_on_interrupt(&partial);
        let file = File::create(&partial).map_err(|source| {
            forget(&partial);
            io_error(source)
        })?;
        Ok(PendingFile {
            path: path.to_path_buf(),
            target: Target::Partial { partial, file },
        })
    }

    pub fn writer(&self) -> Result<TraceOutput, CliError> {
        let file = match &self.target {
            Target::Partial { file, .. } | Target::InPlace(file) => file,
            Target::Stdout => return Ok(Box::new(BufWriter::new(io::stdout()))),
        };
        let file = file.try_clone().map_err(|source| self.error(source))?;
        Ok(Box::new(BufWriter::new(file)))
    }

    pub fn commit(self) -> Result<(), CliError> {
        // Written in place: the writers flushed; a device or pipe has nothing to sync.
        let Target::Partial { partial, file } = &self.target else {
            return Ok(());
        };
        file.sync_all().map_err(|source| self.error(source))?;
        fs::rename(partial, &self.path).map_err(|source| self.error(source))?;
        forget(partial);
        Ok(())
    }

    /// The name to show in messages: the path, or "standard output" for `-`.
    pub fn shown(&self) -> String {
        self.path.display().to_string()
    }

    fn error(&self, source: io::Error) -> CliError {
        CliError::Io {
            path: self.shown(),
            source,
        }
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        // After a successful commit the partial file no longer exists; otherwise remove it.
        if let Target::Partial { partial, .. } = &self.target {
            let _ = fs::remove_file(partial);
            forget(partial);
        }
    }
}

/// The partial files of this process not yet renamed or removed.
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Registers `partial` to be removed if the process is interrupted (Ctrl-C, SIGTERM, SIGHUP),
/// which ends it without running destructors: an interrupted `sweep --out` or `run --trace`
/// leaves no `.partial` file either. The handler exits with 130, as the shell reports an
/// interrupted program. (`node` installs its own handler and writes no pending files.)
fn remove_on_interrupt(partial: &Path) {
    static HANDLER: Once = Once::new();
    HANDLER.call_once(|| {
        // Another handler already installed (a test process, say) keeps its own behaviour.
        let _ = ctrlc::set_handler(|| {
            crate::node::stop_all();
            let pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
            for partial in pending.iter() {
                let _ = fs::remove_file(partial);
            }
            std::process::exit(130);
        });
    });
    PENDING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(partial.to_path_buf());
}

/// `partial` was renamed into place or removed.
fn forget(partial: &Path) {
    let mut pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(at) = pending.iter().position(|path| path == partial) {
        pending.swap_remove(at);
    }
}

/// Reads the text file `path`, refusing one of more than `limit` bytes before reading it all
/// (a device such as `/dev/zero`, or a runaway file, would otherwise fill the memory).
pub fn read_text(path: &Path, limit: u64) -> Result<String, CliError> {
    read_bounded(path, limit).map_err(|error| match error {
        BoundedReadError::Io(source) => CliError::Io {
            path: path.display().to_string(),
            source,
        },
        too_large @ BoundedReadError::TooLarge { .. } => CliError::Usage(format!(
            "{} (use workload.generated for long workloads)",
            too_large.located(&path.display().to_string())
        )),
        not_text => CliError::Usage(not_text.located(&path.display().to_string())),
    })
}

/// Opens a trace to read: the file at `path`, or standard input for `-`.
pub fn open_input(path: &Path) -> Result<Box<dyn BufRead + Send>, CliError> {
    if is_standard_stream(path) {
        return Ok(Box::new(BufReader::with_capacity(1 << 16, io::stdin())));
    }
    let file = File::open(path).map_err(|source| CliError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
}

/// How messages name an input: its path, or "standard input" for `-`.
pub fn shown_input(path: &Path) -> String {
    if is_standard_stream(path) {
        "standard input".to_string()
    } else {
        path.display().to_string()
    }
}
