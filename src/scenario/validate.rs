//! Parsing and validation of scenario files, with every error located by field path, line and
//! column.
//!
//! Three stages, each stopping at the first problem:
//!
//! 1. serde_json reads the text into [`ScenarioFile`](super::ScenarioFile) through `serde_path_to_error`, which
//!    records the path of the value being read. Syntax errors, wrong types, missing and unknown
//!    fields and unknown names come from here, at serde_json's line and column, reworded into a
//!    sentence a student understands.
//! 2. A shape check: serde accepts a list where a struct is expected (it reads the fields by
//!    position), which the format does not allow; [`locate::find_list_for_object`] finds such
//!    lists.
//! 3. The semantic rules (ranges, cross-field rules). They run on the typed values, which
//!    carry no positions, so each problem names its path and [`locate`] finds that path again
//!    in the text.
//!
//! Columns count characters (not bytes) from 1, as editors do.

pub(crate) mod locate;
mod network;
mod parse;
mod rules;
mod shape;
#[cfg(test)]
mod tests;
mod workload;

use std::fmt;

use super::Scenario;
use crate::protocol::Amount;
use locate::Path;
use parse::deserialize;
use rules::validate;
use shape::{list_for_object, may_descend, wants_object};

/// At most this many clients.
pub const MAX_CLIENTS: u32 = 10_000;
/// The largest initial balance.
pub const MAX_BALANCE: Amount = 1_000_000_000_000;
/// The largest transfer amount.
pub const MAX_AMOUNT: Amount = 1_000_000_000_000;
/// At most this many explicit transfers (`workload.generated` makes longer workloads).
pub const MAX_TRANSFERS: usize = 10_000_000;
/// At most this many generated transfers.
pub const MAX_GENERATED: u64 = 100_000_000;
/// The latest time of a balance read, in microseconds.
pub const MAX_READ_TIME_US: u64 = 1_000_000_000_000;
/// The largest value of any delay parameter and of `cs_us`: one hour in microseconds.
pub const MAX_DELAY_US: u64 = 3_600_000_000;
/// The largest `limits.max_events`.
pub const MAX_EVENTS: u64 = 10_000_000_000;
/// The largest `limits.max_time_us` (about 11.6 simulated days), so that no time overflows.
pub const MAX_TIME_US: u64 = 1_000_000_000_000;

const ONE_HOUR: &str = "3600000000 (one hour)";
const LATENCY_KINDS: &str = "\"constant\" (with `us`), \"uniform\" (with `min_us` and \
    `max_us`) or \"exponential\" (with `min_us` and `mean_us`)";

/// A scenario that cannot be run: one sentence naming the file, the field and, for JSON, the
/// line and column, e.g.
/// `scenarios/x.json:12:19: workload.transfers[2].amount: the amount must be between 1 and
/// 1000000000000, not 0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file's name as given (or the built-in default's).
    pub source_name: String,
    /// The path of the offending value (`network.latency.min_us`); empty for an error about
    /// the file as a whole (say, a syntax error before the first field).
    pub field: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    /// What is wrong, one sentence.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ScenarioError {
            source_name,
            field,
            line,
            column,
            message,
        } = self;
        if field.is_empty() {
            write!(f, "{source_name}:{line}:{column}: {message}")
        } else {
            // A field's path holds the file's keys, which may hold anything.
            let field = crate::json_message::shown(field);
            write!(f, "{source_name}:{line}:{column}: {field}: {message}")
        }
    }
}

impl std::error::Error for ScenarioError {}

/// Parses and validates a scenario file's text; `source_name` names it in errors.
pub fn parse_scenario(text: &str, source_name: &str) -> Result<Scenario, ScenarioError> {
    parse_with(text, source_name, MAX_TRANSFERS)
}

/// [`parse_scenario`] with the transfer-count bound as a parameter, so that a test can reach
/// it without writing ten million transfers.
fn parse_with(
    text: &str,
    source_name: &str,
    max_transfers: usize,
) -> Result<Scenario, ScenarioError> {
    // Editors hide a byte-order mark, so positions are counted without it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let fail = |problem: Problem| problem.into_error(text, source_name);
    if is_trace(text) {
        return Err(fail(Problem {
            path: Path::root(),
            place: Place::Offset(0),
            message: TRACE_NOT_SCENARIO.into(),
        }));
    }
    let file = deserialize(text).map_err(fail)?;
    if let Some((path, at)) = locate::find_list_for_object(text, &wants_object, &may_descend) {
        return Err(fail(list_for_object(path, Place::Offset(at))));
    }
    validate(file, text, source_name, max_transfers).map_err(fail)
}

/// What a command that reads scenarios says of a trace given in place of one: an easy slip,
/// which the JSON parser alone would report as "trailing characters" on line 2.
pub(crate) const TRACE_NOT_SCENARIO: &str = "this is a JSON Lines trace (as `run --trace` writes), not \
                                      a scenario file: `check`, `render` and `diff` read traces";

/// Whether `text` starts with a trace's header line. The line is read for two fields only,
/// every other value skipped unbuilt: a scenario written on one line may hold ten million
/// transfers, whose tree of JSON values would take many times the file's size.
pub(crate) fn is_trace(text: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct HeaderProbe<'a> {
        #[serde(rename = "type", borrow)]
        line_type: Option<&'a str>,
        #[serde(borrow)]
        format: Option<&'a str>,
    }
    let first = text.lines().next().unwrap_or("");
    serde_json::from_str::<HeaderProbe>(first).is_ok_and(|line| {
        line.line_type == Some("header") && line.format == Some(crate::base::TRACE_FORMAT)
    })
}

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Problems and where they are.

/// A problem before it is located.
#[derive(Debug)]
pub(super) struct Problem {
    path: Path,
    place: Place,
    message: String,
}

#[derive(Debug)]
pub(super) enum Place {
    /// The start of the value at the path.
    Value,
    /// The start of the path's last key.
    Key,
    /// A known position (serde_json's), character column.
    Known { line: usize, column: usize },
    /// A byte offset in the text.
    Offset(usize),
}

impl Problem {
    pub(super) fn value(path: Path, message: impl Into<String>) -> Self {
        Problem {
            path,
            place: Place::Value,
            message: message.into(),
        }
    }

    pub(super) fn key(path: Path, message: impl Into<String>) -> Self {
        Problem {
            path,
            place: Place::Key,
            message: message.into(),
        }
    }

    fn into_error(self, text: &str, source_name: &str) -> ScenarioError {
        let (line, column) = match self.place {
            Place::Known { line, column } => (line, column),
            Place::Offset(at) => locate::line_column(text, at),
            Place::Key => match locate::find_key(text, &self.path) {
                Some(at) => locate::line_column(text, at),
                None => nearest(text, &self.path),
            },
            Place::Value => nearest(text, &self.path),
        };
        ScenarioError {
            source_name: source_name.to_string(),
            field: self.path.to_string(),
            line,
            column,
            message: self.message,
        }
    }
}

/// The position of the value at `path`, or of its nearest enclosing value that the text has
/// (a defaulted field is not in the text: its object is).
fn nearest(text: &str, path: &Path) -> (usize, usize) {
    (0..=path.0.len())
        .rev()
        .find_map(|len| locate::find_value(text, &Path(path.0[..len].to_vec())))
        .map_or((1, 1), |at| locate::line_column(text, at))
}
