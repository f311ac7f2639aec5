//! Output files that appear whole or not at all.

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use super::CliError;
use crate::trace::TraceOutput;

/// An output file written under a temporary name and renamed into place only when the run
/// finished, so a failed run never leaves a half-written file behind.
pub struct PendingFile {
    path: PathBuf,
    partial: PathBuf,
    file: File,
}

impl PendingFile {
    pub fn create(path: &Path) -> Result<Self, CliError> {
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

    pub fn writer(&self) -> Result<TraceOutput, CliError> {
        let file = self.file.try_clone().map_err(|source| self.error(source))?;
        Ok(Box::new(BufWriter::new(file)))
    }

    pub fn commit(self) -> Result<(), CliError> {
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
