//! Reading a scenario (or exploration, or cluster) file's text with a bound on its size,
//! refusing bytes that are not text where they are found.

/// The largest scenario (or exploration) file read: ten million explicit transfers (the most a
/// file may list) written one per line take about 800 MB.
pub(crate) const MAX_SCENARIO_BYTES: u64 = 1 << 30;

/// Why a file's text could not be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BoundedReadError {
    /// The file could not be read.
    #[error("{0}")]
    Io(std::io::Error),
    /// More than the limit: refused before reading it all.
    #[error("the file is larger than {} MiB, the most such a file may be", limit >> 20)]
    TooLarge {
        /// The most bytes read.
        limit: u64,
    },
    /// Not UTF-8 text, or a NUL byte, which no JSON text holds: refused where it was found,
    /// without reading the rest.
    #[error("{line}:{column}: {what}")]
    NotText {
        /// 1-based line of the offending byte.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// What was found there.
        what: String,
    },
}

impl BoundedReadError {
    /// The error as a sentence about the file `shown`: `FILE:LINE:COLUMN: ...` for a byte
    /// that is not text, `FILE: ...` otherwise.
    pub(crate) fn located(&self, shown: &str) -> String {
        match self {
            BoundedReadError::NotText { .. } => format!("{shown}:{self}"),
            _ => format!("{shown}: {self}"),
        }
    }
}

/// How much of a file is read at a time: a file that is not text is refused after the first
/// piece that shows it, not after reading a gigabyte of NUL bytes.
const READ_PIECE_BYTES: usize = 1 << 16;

/// Reads a text file of at most `limit` bytes. A regular file's size is known up front; a
/// device such as `/dev/zero`, or a pipe, is read only up to the limit, so neither fills the
/// memory. The bytes are checked piece by piece as they come: invalid UTF-8 or a NUL byte
/// stops the reading there, with its line and column.
pub(crate) fn read_bounded(path: &std::path::Path, limit: u64) -> Result<String, BoundedReadError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(BoundedReadError::Io)?;
    let known = file.metadata().map_or(0, |metadata| metadata.len());
    if known > limit {
        return Err(BoundedReadError::TooLarge { limit });
    }
    let mut reader = file.take(limit + 1);
    let mut bytes = Vec::with_capacity(usize::try_from(known).unwrap_or(0));
    // Bytes before this offset are known to be text.
    let mut text_up_to = 0;
    loop {
        let before = bytes.len();
        let read = (&mut reader)
            .take(READ_PIECE_BYTES as u64)
            .read_to_end(&mut bytes)
            .map_err(BoundedReadError::Io)?;
        if bytes.len() as u64 > limit {
            return Err(BoundedReadError::TooLarge { limit });
        }
        let end_of_file = read == 0;
        text_up_to = check_text(&bytes, text_up_to, before, end_of_file)?;
        if end_of_file {
            break;
        }
    }
    // Every byte was checked above, so this only moves the buffer into a String.
    String::from_utf8(bytes).map_err(|error| {
        let bad = error.utf8_error().valid_up_to() + 1;
        not_utf8(&error.as_bytes()[..bad.min(error.as_bytes().len())])
    })
}

/// Checks `bytes[from..]` for a NUL byte among the bytes read last (`fresh..`) and for invalid
/// UTF-8; returns how far the bytes are known to be text (a character cut at the end of the
/// bytes read so far is left for the next piece, unless the file ends there).
fn check_text(
    bytes: &[u8],
    from: usize,
    fresh: usize,
    end_of_file: bool,
) -> Result<usize, BoundedReadError> {
    if let Some(at) = bytes[fresh..].iter().position(|&byte| byte == 0) {
        let (line, column) = text_position(&bytes[..fresh + at]);
        return Err(BoundedReadError::NotText {
            line,
            column,
            what: "the file holds a NUL byte here, so it is not a text file (a JSON file is \
                   UTF-8 text)"
                .to_string(),
        });
    }
    match std::str::from_utf8(&bytes[from..]) {
        Ok(_) => Ok(bytes.len()),
        Err(error) if error.error_len().is_none() && !end_of_file => Ok(from + error.valid_up_to()),
        Err(error) => Err(not_utf8(&bytes[..from + error.valid_up_to() + 1])),
    }
}

/// The error for the byte that ends `through`, the first that is not UTF-8.
fn not_utf8(through: &[u8]) -> BoundedReadError {
    let (before, byte) = match through.split_last() {
        Some((&byte, before)) => (before, byte),
        None => (through, 0),
    };
    let (line, column) = text_position(before);
    BoundedReadError::NotText {
        line,
        column,
        what: format!(
            "the byte 0x{byte:02X} here is not UTF-8 text; save the file as UTF-8 (editors \
             offer it under \"encoding\")"
        ),
    }
}

/// The 1-based line and character column just after `before`, which is valid UTF-8 up to
/// its end (a cut character counts as one). A leading byte-order mark is not counted, as
/// editors hide it.
fn text_position(before: &[u8]) -> (usize, usize) {
    let before = before.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(before);
    let line_start = before
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |at| at + 1);
    let line = before.iter().filter(|&&byte| byte == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_up_to_the_bound_and_no_further() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, "0123456789").unwrap();
        assert_eq!(read_bounded(&path, 10).unwrap(), "0123456789");
        // A regular file: refused by its size, before reading.
        assert!(matches!(
            read_bounded(&path, 9),
            Err(BoundedReadError::TooLarge { limit: 9 })
        ));
        // A device has no size: it is read only one byte past the bound.
        assert!(matches!(
            read_bounded(std::path::Path::new("/dev/zero"), 1 << 10),
            Err(BoundedReadError::TooLarge { limit: 1024 })
        ));
        assert!(matches!(
            read_bounded(&dir.path().join("missing.json"), 10),
            Err(BoundedReadError::Io(_))
        ));
    }

    fn not_text(bytes: &[u8]) -> (usize, usize, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, bytes).unwrap();
        match read_bounded(&path, 1 << 30) {
            Err(BoundedReadError::NotText { line, column, what }) => (line, column, what),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_text_are_located() {
        let (line, column, what) = not_text(b"{\n  \"name\": \"\xC3\xA9t\xE9\"}");
        assert_eq!((line, column), (2, 14));
        assert!(what.contains("0xE9"), "{what}");
        // A byte-order mark is not counted; a character cut by the end of the file is an error.
        assert_eq!(not_text(b"\xEF\xBB\xBF{\xFF").0..=1, 1..=1);
        assert_eq!(not_text(b"\xEF\xBB\xBF{\xFF").1, 2);
        assert_eq!(not_text(b"{\"a\": \"\xC3").1, 8);
        // A character cut between two pieces read is whole, not an error.
        let mut long = vec![b' '; READ_PIECE_BYTES - 1];
        long.extend_from_slice("{\"name\": \"é\"}".as_bytes());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.json");
        std::fs::write(&path, &long).unwrap();
        assert!(read_bounded(&path, 1 << 30).is_ok());
    }

    #[test]
    fn a_gigabyte_of_nul_bytes_is_refused_at_its_first_piece() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zeros.json");
        // Sparse: a gigabyte of NUL bytes that takes no disk.
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(1_000_000_000).unwrap();
        let started = std::time::Instant::now();
        match read_bounded(&path, MAX_SCENARIO_BYTES) {
            Err(BoundedReadError::NotText { line, column, what }) => {
                assert_eq!((line, column), (1, 1));
                assert!(what.contains("NUL"), "{what}");
            }
            other => panic!("{:?}", other.map(|text| text.len())),
        }
        assert!(started.elapsed().as_secs() < 5, "read too much");
        let located = read_bounded(&path, MAX_SCENARIO_BYTES)
            .unwrap_err()
            .located("zeros.json");
        assert!(located.starts_with("zeros.json:1:1: the file holds a NUL byte"));
    }
}
