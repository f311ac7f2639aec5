//! Reading a JSON Lines trace (docs/spec.md section 3) written by any source: the simulator, the
//! explorer's counterexamples, the TCP nodes and the merge of their traces.
//!
//! [`TraceReader`] streams: it holds one line at a time, so a trace of ten million events
//! reads in constant memory (plus the summary line, whose balance tables grow with the square
//! of the number of clients). It checks the structure as it goes and stops at the first
//! problem with a [`ReadError`] that names the 1-based line (and, for JSON, the column):
//!
//! - every line is one JSON object ending in `\n`; unknown fields are ignored;
//! - the first line is a header with `format` `lamport-ledger-trace` and `version` 1;
//! - event lines: `seq` counts from 0 without gaps, `t` never decreases, the fields of each
//!   kind are present with the right types, client ids are in `1..=clients`;
//! - the last line is the summary; its `digest` is the SHA-256 of every byte before it, its
//!   counts (`events`, `committed`, `aborted`, `messages_sent`) and its `violations` match the
//!   event lines; nothing follows it.
//!
//! Events of kinds this reader does not know, and sends and deliveries of message types it
//! does not know, are skipped and counted ([`TraceReader::skipped`]); so are the `drop`,
//! `duplicate` and `deliver` events of such messages. Their lines still count for `seq`, `t`,
//! the digest and the event count.

mod event;
mod header;
mod summary;
#[cfg(test)]
mod tests;
mod wire;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::{self, BufRead, Read};

use sha2::{Digest, Sha256};

use super::{Event, Kept};
use crate::base::Invariant;
use crate::protocol::{Amount, ClientId, Hash};
use header::header_from;
use wire::{WireHeader, WireLine, WireSummary, parse};

pub use wire::MAX_BLOCK_INDEX;

/// How the reader takes the message of a `send` or a `deliver`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Messages {
    /// The built-in protocols' messages; a message of another type is skipped and counted.
    #[default]
    BuiltIn,
    /// The built-in protocols' messages, and a message of another type as a node program's
    /// (`Message::Foreign`, kept whole): for drawing a trace whatever wrote it.
    BuiltInAndForeign,
    /// Every message as a node program's, kept whole as written: for holding a trace to the
    /// program that wrote it, which gets its messages back byte for byte.
    AsWritten,
}

/// The longest line the reader accepts.
pub const MAX_LINE_BYTES: usize = 256 << 20;
/// The most clients a header may declare: as many as a scenario may have (a live cluster has
/// at most 64). Checking and drawing keep per-client state for every client, so a header
/// cannot ask for more than any writer produces.
pub const MAX_TRACE_CLIENTS: u32 = crate::scenario::MAX_CLIENTS;

/// What is wrong with a trace, and where.
#[derive(Debug)]
pub enum ReadError {
    /// The trace breaks the format at `line` (1-based).
    Invalid {
        /// The line, from 1.
        line: u64,
        /// The column in that line, from 1, when known.
        column: Option<u64>,
        /// What is wrong, one sentence.
        message: String,
    },
    /// The file could not be read.
    Io(io::Error),
}

impl ReadError {
    pub(super) fn at(line: u64, message: impl Into<String>) -> Self {
        ReadError::Invalid {
            line,
            column: None,
            message: message.into(),
        }
    }

    /// The error as one sentence naming `file`, located as the scenario reader locates its
    /// errors (`FILE:LINE:COLUMN: …`, as compilers do, so that terminals and editors can jump
    /// there).
    pub fn in_file(&self, file: &str) -> String {
        match self {
            ReadError::Invalid {
                line,
                column: Some(column),
                message,
            } => format!("{file}:{line}:{column}: {message}"),
            ReadError::Invalid { line, message, .. } => format!("{file}:{line}: {message}"),
            ReadError::Io(error) => format!("{file}: {error}"),
        }
    }

    /// The line the problem is on, if it is a format problem.
    pub fn line(&self) -> Option<u64> {
        match self {
            ReadError::Invalid { line, .. } => Some(*line),
            ReadError::Io(_) => None,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Invalid {
                line,
                column: Some(column),
                message,
            } => write!(f, "line {line}, column {column}: {message}"),
            ReadError::Invalid { line, message, .. } => write!(f, "line {line}: {message}"),
            ReadError::Io(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<io::Error> for ReadError {
    fn from(error: io::Error) -> Self {
        ReadError::Io(error)
    }
}

/// The header line: what a reader needs to know about the rules the run followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceHeader {
    /// The scenario's name, when the header says.
    pub scenario: Option<String>,
    /// The run's seed, when the header says.
    pub seed: Option<u64>,
    /// How many clients.
    pub clients: u32,
    /// Index `id - 1` is client `id`.
    pub initial_balances: Vec<Amount>,
    /// `lamport` when the header does not say.
    pub protocol: String,
    /// The mutations' names.
    pub mutations: Vec<String>,
    /// How long a client stays inside the critical section, when the header says.
    pub cs_us: Option<u64>,
    /// The run's `limits.max_events`, when the header says.
    pub max_events: Option<u64>,
    /// The run's `limits.max_time_us`, when the header says.
    pub max_time_us: Option<u64>,
    /// The header has a `live` object: the trace is a live node's, or a merge of them.
    pub live: bool,
    /// A simulated run's crashes, as its header's `faults` list them (in time order);
    /// `None` for a header of another source, which need not list them.
    pub crashes: Option<Vec<DeclaredCrash>>,
}

/// A crash the header's `faults` schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeclaredCrash {
    /// The client that crashes.
    pub client: ClientId,
    /// When, in microseconds (the explorer crashes a client whenever it chooses).
    pub at_us: u64,
    /// It is followed by a restart.
    pub restarts: bool,
    /// What the restart keeps.
    pub keep: Kept,
}

impl TraceHeader {
    /// Whether some restart of the run may keep nothing (unknown counts as yes).
    pub fn restarts_from_nothing(&self) -> bool {
        self.crashes
            .as_ref()
            .is_none_or(|crashes| crashes.iter().any(|crash| crash.keep == Kept::Nothing))
    }
}

/// A violation as the summary lists it (a claim of the trace's author, not a fact).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedViolation {
    /// The invariant named.
    pub invariant: Invariant,
    /// The `seq` of its violation event.
    pub seq: Option<u64>,
    /// Its simulated time, when the summary says.
    pub t_us: Option<u64>,
    /// The explanation given.
    pub detail: String,
}

/// The summary line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceSummary {
    /// Its 1-based line number.
    pub line: u64,
    /// How many events the summary counts.
    pub events: u64,
    /// Transfers committed.
    pub committed: u64,
    /// Transfers aborted.
    pub aborted: u64,
    /// Messages sent, when the summary says.
    pub messages_sent: Option<u64>,
    /// `quiescent`, `violation`, `max_events`, `max_time`, or another source's word.
    pub end: Option<String>,
    /// The simulated time the run ended, when the summary says.
    pub end_us: Option<u64>,
    /// The violations the summary lists.
    pub violations: Vec<ClaimedViolation>,
    /// Index `id - 1`: that client's own balance table.
    pub final_balances: Vec<Vec<Amount>>,
    /// Index `id - 1`: that client's ledger head.
    pub heads: Vec<Hash>,
    /// The SHA-256 of every byte before the summary line, as the summary states it.
    pub digest: Hash,
}

/// Streams the events of a trace; see the module documentation for what it checks.
pub struct TraceReader<R> {
    input: R,
    buffer: Vec<u8>,
    line_no: u64,
    hasher: Sha256,
    header: TraceHeader,
    next_seq: u64,
    last_t: u64,
    committed: u64,
    aborted: u64,
    sends: u64,
    claims: Vec<ClaimedViolation>,
    skipped: BTreeMap<String, u64>,
    skipped_messages: HashSet<u64>,
    messages: Messages,
    summary: Option<TraceSummary>,
}

impl<R: BufRead> TraceReader<R> {
    /// Reads and checks the header line.
    pub fn new(input: R) -> Result<Self, ReadError> {
        let mut reader = TraceReader {
            input,
            buffer: Vec::with_capacity(1024),
            line_no: 0,
            hasher: Sha256::new(),
            header: TraceHeader {
                scenario: None,
                seed: None,
                clients: 0,
                initial_balances: Vec::new(),
                protocol: String::new(),
                mutations: Vec::new(),
                cs_us: None,
                max_events: None,
                max_time_us: None,
                live: false,
                crashes: None,
            },
            next_seq: 0,
            last_t: 0,
            committed: 0,
            aborted: 0,
            sends: 0,
            claims: Vec::new(),
            skipped: BTreeMap::new(),
            skipped_messages: HashSet::new(),
            messages: Messages::BuiltIn,
            summary: None,
        };
        if !reader.read_line()? {
            return Err(ReadError::at(
                1,
                "the file is empty, but a trace starts with a header line",
            ));
        }
        let first = reader.buffer.strip_suffix(b"\n").unwrap_or(&reader.buffer);
        let not_a_header = |error| {
            let scenario = std::str::from_utf8(first).is_ok_and(starts_a_scenario);
            if scenario {
                ReadError::at(1, SCENARIO_NOT_TRACE)
            } else {
                error
            }
        };
        let wire: WireHeader = parse(first, 1).map_err(not_a_header)?;
        reader.header = header_from(wire).map_err(not_a_header)?;
        reader.hasher.update(&reader.buffer);
        Ok(reader)
    }

    /// Reads the messages of the events from now on as `messages` says.
    pub fn read_messages(&mut self, messages: Messages) {
        self.messages = messages;
    }

    /// The header line, read when the reader was made.
    pub fn header(&self) -> &TraceHeader {
        &self.header
    }

    /// The summary, once [`Self::next_event`] has returned `None`.
    pub fn summary(&self) -> Option<&TraceSummary> {
        self.summary.as_ref()
    }

    /// The 1-based number of the line read last (the event [`Self::next_event`] returned).
    pub fn line_number(&self) -> u64 {
        self.line_no
    }

    /// How many event lines were read so far (skipped ones included).
    pub fn events_read(&self) -> u64 {
        self.next_seq
    }

    /// Skipped events by kind (`send of token`-style names for unknown message types).
    pub fn skipped(&self) -> &BTreeMap<String, u64> {
        &self.skipped
    }

    /// The violation events read so far (claims, in trace order).
    pub fn claims(&self) -> &[ClaimedViolation] {
        &self.claims
    }

    /// The next event; `None` after the summary line was read and checked.
    pub fn next_event(&mut self) -> Result<Option<Event>, ReadError> {
        loop {
            if self.summary.is_some() {
                return Ok(None);
            }
            if !self.read_line()? {
                return Err(ReadError::at(
                    self.line_no + 1,
                    format!(
                        "the trace ends after line {} without a summary line: it is truncated",
                        self.line_no
                    ),
                ));
            }
            let line_no = self.line_no;
            let buffer = std::mem::take(&mut self.buffer);
            let outcome = self.line(&buffer, line_no);
            self.buffer = buffer;
            match outcome? {
                Line::Event(event) => {
                    self.hasher.update(&self.buffer);
                    return Ok(Some(event));
                }
                Line::Skipped => self.hasher.update(&self.buffer),
                Line::Summary => return Ok(None),
            }
        }
    }

    /// Reads one line into the buffer; `false` at the end of the input.
    fn read_line(&mut self) -> Result<bool, ReadError> {
        self.buffer.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let read = (&mut self.input)
            .take(limit)
            .read_until(b'\n', &mut self.buffer)?;
        if read == 0 {
            return Ok(false);
        }
        self.line_no += 1;
        if self.buffer.last() != Some(&b'\n') {
            if self.buffer.len() > MAX_LINE_BYTES {
                return Err(ReadError::at(
                    self.line_no,
                    format!("the line is longer than {MAX_LINE_BYTES} bytes"),
                ));
            }
            return Err(ReadError::at(
                self.line_no,
                "the file ends in the middle of this line (no newline at its end): the trace is \
                 truncated",
            ));
        }
        Ok(true)
    }

    fn line(&mut self, bytes: &[u8], line_no: u64) -> Result<Line, ReadError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ReadError::at(
                line_no,
                "the line is empty, but every line of a trace holds one JSON object",
            ));
        }
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let wire: WireLine = parse(bytes, line_no)?;
        match wire.line_type.as_deref() {
            Some("event") => self.event(wire, bytes, line_no),
            Some("summary") => {
                let summary: WireSummary = parse(bytes, line_no)?;
                self.finish(summary, line_no)?;
                Ok(Line::Summary)
            }
            Some("header") => Err(ReadError::at(
                line_no,
                "a second header line: the header must be the first line only",
            )),
            Some(other) => Err(ReadError::at(
                line_no,
                format!(
                    "unknown line type {other:?}: a line is a \"header\", an \"event\" or the \
                     \"summary\""
                ),
            )),
            None => Err(ReadError::at(line_no, "the line has no `type` field")),
        }
    }
}

/// What one line after the header turned out to be.
pub(super) enum Line {
    Event(Event),
    Skipped,
    Summary,
}

/// What a command that reads traces says of a scenario file given in place of one (an easy
/// slip: `check scenario.json`), which the JSON parser alone would report as an object that
/// ends too early.
pub const SCENARIO_NOT_TRACE: &str = "this looks like a scenario file, not a JSON Lines trace: \
                                      run it with `lamport-ledger run SCENARIO --trace TRACE`, \
                                      then use TRACE";

/// Whether a file's first line starts a scenario file rather than a trace: a lone `{`
/// (pretty-printed JSON), or one object that has `clients` but no line `type`.
pub fn starts_a_scenario(first_line: &str) -> bool {
    let first_line = first_line.trim();
    first_line == "{"
        || serde_json::from_str::<serde_json::Value>(first_line)
            .is_ok_and(|line| line.get("clients").is_some() && line.get("type").is_none())
}
