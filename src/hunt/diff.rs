//! Where two traces first differ.
//!
//! Works on any JSON Lines trace of docs/spec.md section 3 without knowing its event kinds:
//! lines are compared as bytes first and, only where the bytes differ, parsed as generic
//! `serde_json::Value`s to name the fields that differ. Both traces are streamed; memory holds
//! only the context lines. A header that differs is reported on its own and the comparison
//! goes on, so two runs of different seeds show both the header's `seed` and the first event
//! where the runs part.
//!
//! [`Differ`] is push-based (it is given one line of each trace at a time), so the same logic
//! compares two files ([`diff_readers`]) and a trace file against a run as it is being written
//! ([`LiveComparer`], used by `replay --against`).

mod report;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::io::{self, BufRead, Read, Write};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;

use crate::json_message::bare_message;
use crate::trace::TraceOutput;
use crate::trace::read::{MAX_LINE_BYTES, SCENARIO_NOT_TRACE, starts_a_scenario};

pub use report::write_report;

/// One line of a trace, without its newline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number.
    pub number: u64,
    pub text: String,
}

/// One field whose value differs; `None` means the field is absent on that side.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDiff {
    /// Dotted path, with `[i]` for array elements: `msg.block.hash`, `violations[0].detail`.
    pub path: String,
    pub a: Option<Value>,
    pub b: Option<Value>,
}

/// How two lines at the same position differ.
#[derive(Clone, Debug, PartialEq)]
pub struct LineDifference {
    pub number: u64,
    /// What the line is: `the header`, `event seq 12`, `the summary`, or `line 7`.
    pub label: String,
    /// The fields that differ, in trace field order (at most [`MAX_FIELDS`]).
    pub fields: Vec<FieldDiff>,
    /// How many more fields differ than are listed.
    pub more_fields: usize,
    /// The lines hold the same JSON value in different bytes (key order, spacing).
    pub bytes_only: bool,
}

/// The first line after the header where the traces differ, with its surroundings.
#[derive(Clone, Debug, PartialEq)]
pub struct FirstDifference {
    pub diff: LineDifference,
    /// The differing lines; `None` when that trace had already ended.
    pub a: Option<Line>,
    pub b: Option<Line>,
    /// Up to `context` lines before it, the same in both traces.
    pub before: Vec<Line>,
    /// Up to `context` lines after it, from each trace.
    pub after_a: Vec<Line>,
    pub after_b: Vec<Line>,
}

/// The result of comparing two traces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceDiff {
    /// The header lines differ (reported on their own; the comparison goes on past them).
    pub header: Option<LineDifference>,
    /// The first other difference, if any.
    pub first: Option<FirstDifference>,
    /// Lines compared (of the longer trace, up to the first difference).
    pub lines: u64,
}

impl TraceDiff {
    pub fn identical(&self) -> bool {
        self.header.is_none() && self.first.is_none()
    }
}

/// A trace that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{name}:{line}:{column}: not JSON: {message}")]
    Json {
        name: String,
        line: u64,
        column: usize,
        message: String,
    },
    #[error("{name}:1: {SCENARIO_NOT_TRACE}")]
    Scenario { name: String },
    #[error("{name}:{line}: not UTF-8 text")]
    Utf8 { name: String, line: u64 },
    #[error("{name}:{line}: longer than {MAX_LINE_BYTES} bytes, so not a trace line")]
    TooLong { name: String, line: u64 },
    #[error("{name}: {source}")]
    Io { name: String, source: io::Error },
}

/// Field differences listed per line; the rest are counted.
pub const MAX_FIELDS: usize = 16;

/// Compares two traces fed one line of each at a time.
pub struct Differ {
    context: usize,
    names: [String; 2],
    line: u64,
    before: VecDeque<Line>,
    header: Option<LineDifference>,
    first: Option<FirstDifference>,
    ended: [bool; 2],
    done: bool,
}

impl Differ {
    /// `names` name the two traces in error messages.
    pub fn new(context: usize, name_a: &str, name_b: &str) -> Self {
        Differ {
            context,
            names: [name_a.to_string(), name_b.to_string()],
            line: 0,
            // The context is the user's number (`--context`): room for a few lines up front,
            // and the queue grows only as far as the traces have lines, so a huge context
            // neither overflows nor reserves gigabytes.
            before: VecDeque::with_capacity(context.min(64) + 1),
            header: None,
            first: None,
            ended: [false; 2],
            done: false,
        }
    }

    /// Nothing more is needed: the traces both ended, or the first difference and its context
    /// are in.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Feeds the next line of each trace (`None` once a trace has ended) and returns
    /// [`Differ::done`].
    pub fn push(&mut self, a: Option<&str>, b: Option<&str>) -> Result<bool, DiffError> {
        if self.done {
            return Ok(true);
        }
        self.line += 1;
        let number = self.line;
        let context = self.context;
        if let Some(first) = &mut self.first {
            for (side, text, after) in [(0, a, &mut first.after_a), (1, b, &mut first.after_b)] {
                match text {
                    Some(text) if after.len() < context => after.push(Line {
                        number,
                        text: text.to_string(),
                    }),
                    Some(_) => {}
                    None => self.ended[side] = true,
                }
            }
            let full = |side: usize, after: &Vec<Line>| self.ended[side] || after.len() >= context;
            self.done = full(0, &first.after_a) && full(1, &first.after_b);
            return Ok(self.done);
        }
        if a == b {
            match a {
                None => self.done = true,
                Some(text) => {
                    if self.before.len() == self.context {
                        self.before.pop_front();
                    }
                    if self.context > 0 {
                        self.before.push_back(Line {
                            number,
                            text: text.to_string(),
                        });
                    }
                }
            }
            return Ok(self.done);
        }
        let value_a = a.map(|text| self.parse(0, text)).transpose()?;
        let value_b = b.map(|text| self.parse(1, text)).transpose()?;
        let label = value_a
            .as_ref()
            .or(value_b.as_ref())
            .map_or_else(|| format!("line {number}"), |value| label(value, number));
        let mut diff = LineDifference {
            number,
            label,
            fields: Vec::new(),
            more_fields: 0,
            bytes_only: false,
        };
        if let (Some(value_a), Some(value_b)) = (&value_a, &value_b) {
            let mut path = String::new();
            diff_values(&mut path, Some(value_a), Some(value_b), &mut diff);
            diff.bytes_only = diff.fields.is_empty();
            let is_header = |value: &Value| value.get("type") == Some(&Value::from("header"));
            if number == 1 && is_header(value_a) && is_header(value_b) {
                self.header = Some(diff);
                return Ok(false);
            }
        }
        let line = |text: Option<&str>| {
            text.map(|text| Line {
                number,
                text: text.to_string(),
            })
        };
        self.ended = [a.is_none(), b.is_none()];
        self.first = Some(FirstDifference {
            diff,
            a: line(a),
            b: line(b),
            before: self.before.drain(..).collect(),
            after_a: Vec::new(),
            after_b: Vec::new(),
        });
        self.done = self.context == 0 || (a.is_none() && b.is_none());
        Ok(self.done)
    }

    /// The comparison so far.
    pub fn finish(self) -> TraceDiff {
        TraceDiff {
            header: self.header,
            lines: self
                .first
                .as_ref()
                .map_or(self.line.saturating_sub(1), |first| first.diff.number),
            first: self.first,
        }
    }

    fn parse(&self, side: usize, text: &str) -> Result<Value, DiffError> {
        if self.line == 1 && starts_a_scenario(text) {
            return Err(DiffError::Scenario {
                name: self.names[side].clone(),
            });
        }
        serde_json::from_str(text).map_err(|error| DiffError::Json {
            name: self.names[side].clone(),
            line: self.line,
            column: error.column(),
            // The line within the one line parsed: the position in the file goes in front.
            message: bare_message(&error),
        })
    }
}

fn label(value: &Value, number: u64) -> String {
    match value.get("type").and_then(Value::as_str) {
        Some("header") => "the header".to_string(),
        Some("summary") => "the summary".to_string(),
        Some("event") => match value.get("seq").and_then(Value::as_u64) {
            Some(seq) => format!("event seq {seq}"),
            None => format!("an event (line {number})"),
        },
        _ => format!("line {number}"),
    }
}

/// The order of the fields an event line starts with (docs/traces.md); other keys follow in
/// alphabetical order.
const FIELD_ORDER: [&str; 10] = [
    "type", "seq", "t", "node", "clock", "kind", "msg_id", "from", "to", "msg",
];

fn field_rank(key: &str) -> (usize, &str) {
    let rank = FIELD_ORDER
        .iter()
        .position(|known| *known == key)
        .unwrap_or(FIELD_ORDER.len());
    (rank, key)
}

fn diff_values(path: &mut String, a: Option<&Value>, b: Option<&Value>, out: &mut LineDifference) {
    if a == b {
        return;
    }
    match (a, b) {
        (Some(Value::Object(map_a)), Some(Value::Object(map_b))) => {
            let mut keys: Vec<&String> = map_a.keys().chain(map_b.keys()).collect();
            keys.sort_by(|x, y| field_rank(x).cmp(&field_rank(y)));
            keys.dedup();
            for key in keys {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                diff_values(path, map_a.get(key), map_b.get(key), out);
                path.truncate(len);
            }
        }
        (Some(Value::Array(items_a)), Some(Value::Array(items_b))) => {
            for i in 0..items_a.len().max(items_b.len()) {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                diff_values(path, items_a.get(i), items_b.get(i), out);
                path.truncate(len);
            }
        }
        _ => {
            if out.fields.len() < MAX_FIELDS {
                out.fields.push(FieldDiff {
                    path: if path.is_empty() {
                        "(the whole line)".to_string()
                    } else {
                        path.clone()
                    },
                    a: a.cloned(),
                    b: b.cloned(),
                });
            } else {
                out.more_fields += 1;
            }
        }
    }
}

/// Reads the next line of `reader` without its `\n`; `None` at the end.
fn read_line(
    reader: &mut dyn BufRead,
    buffer: &mut Vec<u8>,
    name: &str,
    number: u64,
) -> Result<Option<String>, DiffError> {
    buffer.clear();
    // At most one byte more than the longest line a trace reader takes, so that a file with no
    // newline (a device, a binary) is refused rather than read into memory whole.
    let read = Read::take(&mut *reader, MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', buffer)
        .map_err(|source| DiffError::Io {
            name: name.to_string(),
            source,
        })?;
    if read == 0 {
        return Ok(None);
    }
    if buffer.len() > MAX_LINE_BYTES {
        return Err(DiffError::TooLong {
            name: name.to_string(),
            line: number,
        });
    }
    if buffer.last() == Some(&b'\n') {
        buffer.pop();
    }
    String::from_utf8(std::mem::take(buffer))
        .map(Some)
        .map_err(|_| DiffError::Utf8 {
            name: name.to_string(),
            line: number,
        })
}

/// Compares two traces read from `a` and `b`, streaming both.
pub fn diff_readers(
    mut a: impl BufRead,
    mut b: impl BufRead,
    name_a: &str,
    name_b: &str,
    context: usize,
) -> Result<TraceDiff, DiffError> {
    let mut differ = Differ::new(context, name_a, name_b);
    let (mut buffer_a, mut buffer_b) = (Vec::new(), Vec::new());
    let mut number = 0;
    while !differ.done() {
        number += 1;
        let line_a = read_line(&mut a, &mut buffer_a, name_a, number)?;
        let line_b = read_line(&mut b, &mut buffer_b, name_b, number)?;
        differ.push(line_a.as_deref(), line_b.as_deref())?;
    }
    Ok(differ.finish())
}

/// Compares an earlier trace (side a) with the trace of a run as the run writes it (side b):
/// hand [`LiveComparer::writer`] to the run as a trace output, then call
/// [`LiveComparer::finish`].
pub struct LiveComparer {
    inner: Arc<Mutex<LiveInner>>,
}

struct LiveInner {
    old: Box<dyn BufRead + Send>,
    old_name: String,
    old_line: u64,
    buffer: Vec<u8>,
    partial: Vec<u8>,
    differ: Differ,
    error: Option<DiffError>,
}

impl LiveInner {
    fn next_old(&mut self) -> Result<Option<String>, DiffError> {
        self.old_line += 1;
        read_line(
            &mut *self.old,
            &mut self.buffer,
            &self.old_name,
            self.old_line,
        )
    }

    /// Compares one line of the new trace with the next line of the old one.
    fn new_line(&mut self, new: Option<&str>) {
        if self.error.is_some() || self.differ.done() {
            return;
        }
        let result = self
            .next_old()
            .and_then(|old| self.differ.push(old.as_deref(), new));
        if let Err(error) = result {
            self.error = Some(error);
        }
    }
}

impl LiveComparer {
    pub fn new(
        old: Box<dyn BufRead + Send>,
        old_name: &str,
        new_name: &str,
        context: usize,
    ) -> Self {
        LiveComparer {
            inner: Arc::new(Mutex::new(LiveInner {
                old,
                old_name: old_name.to_string(),
                old_line: 0,
                buffer: Vec::new(),
                partial: Vec::new(),
                differ: Differ::new(context, old_name, new_name),
                error: None,
            })),
        }
    }

    /// A trace output for the run: every line written to it is compared as it comes.
    pub fn writer(&self) -> TraceOutput {
        Box::new(LiveWriter(Arc::clone(&self.inner)))
    }

    /// Ends the comparison (the run's trace is complete) and reads what the old trace still
    /// holds, as far as the report needs it.
    pub fn finish(self) -> Result<TraceDiff, DiffError> {
        let inner = Arc::try_unwrap(self.inner)
            .map_err(|_| ())
            .expect("finish is called once the run has dropped its trace outputs")
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let mut inner = inner;
        if !inner.partial.is_empty() {
            let text = String::from_utf8_lossy(&std::mem::take(&mut inner.partial)).into_owned();
            inner.new_line(Some(&text));
        }
        while inner.error.is_none() && !inner.differ.done() {
            inner.new_line(None);
        }
        match inner.error {
            Some(error) => Err(error),
            None => Ok(inner.differ.finish()),
        }
    }
}

/// Shared with the comparer; `Send`, as the run's trace may be written by a helper thread.
struct LiveWriter(Arc<Mutex<LiveInner>>);

impl Write for LiveWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut inner = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.error.is_some() || inner.differ.done() {
            return Ok(bytes.len());
        }
        inner.partial.extend_from_slice(bytes);
        while let Some(end) = inner.partial.iter().position(|&byte| byte == b'\n') {
            let line: Vec<u8> = inner.partial.drain(..=end).collect();
            // The encoder writes UTF-8 (serde_json and ASCII); lossy only guards the type.
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            inner.new_line(Some(&text));
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
