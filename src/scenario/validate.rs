//! Parsing and validation of scenario files, with every error located by field path, line and
//! column.
//!
//! Three stages, each stopping at the first problem:
//!
//! 1. serde_json reads the text into [`ScenarioFile`] through `serde_path_to_error`, which
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
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::error::Category;

use super::{
    DEFAULT_BALANCE, Expect, ExpectedOutcome, FaultsSpec, LatencySpec, Limits, NetworkSpec, Ratio,
    Scenario, ScenarioFile, ScheduleSpec, SwarmSpec, WorkloadSpec,
};
use crate::base::Invariant;
use crate::json_message::{backticked, bare_message, between_backticks, unknown_name};
use crate::protocol::{Amount, ClientId};
use locate::{Path, Seg, Shape};

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
    pub source_name: String,
    /// The path of the offending value (`network.latency.min_us`); empty for an error about
    /// the file as a whole (say, a syntax error before the first field).
    pub field: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
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
pub const TRACE_NOT_SCENARIO: &str = "this is a JSON Lines trace (as `run --trace` writes), not \
                                      a scenario file: `check`, `render` and `diff` read traces";

/// Whether `text` starts with a trace's header line.
pub fn is_trace(text: &str) -> bool {
    let first = text.lines().next().unwrap_or("");
    serde_json::from_str::<serde_json::Value>(first)
        .is_ok_and(|line| line["type"] == "header" && line["format"] == crate::base::TRACE_FORMAT)
}

// ---------------------------------------------------------------------------------------------
// Problems and where they are.

/// A problem before it is located.
#[derive(Debug)]
struct Problem {
    path: Path,
    place: Place,
    message: String,
}

#[derive(Debug)]
enum Place {
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
    fn value(path: Path, message: impl Into<String>) -> Self {
        Problem {
            path,
            place: Place::Value,
            message: message.into(),
        }
    }

    fn key(path: Path, message: impl Into<String>) -> Self {
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

// ---------------------------------------------------------------------------------------------
// Stage 1: deserialisation.

fn deserialize(text: &str) -> Result<ScenarioFile, Problem> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let file = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| from_serde(text, error))?;
    deserializer.end().map_err(|error| {
        let place = serde_place(text, &error);
        Problem {
            path: Path::root(),
            place,
            message: syntax_message(&error, text),
        }
    })?;
    Ok(file)
}

fn serde_place(text: &str, error: &serde_json::Error) -> Place {
    Place::Known {
        line: error.line().max(1),
        column: locate::char_column(text, error.line(), error.column()),
    }
}

fn from_serde(text: &str, error: serde_path_to_error::Error<serde_json::Error>) -> Problem {
    let mut segs = Vec::new();
    for seg in error.path().iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => segs.push(Seg::Index(*index)),
            serde_path_to_error::Segment::Map { key } => segs.push(Seg::Key(key.clone())),
            serde_path_to_error::Segment::Enum { variant } => segs.push(Seg::Key(variant.clone())),
            serde_path_to_error::Segment::Unknown => break,
        }
    }
    let path = Path(segs);
    let error = error.into_inner();
    let place = serde_place(text, &error);
    let raw = bare_message(&error);
    let is_json = || serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
    match error.classify() {
        // serde_json reports a number or an object where a name (an enum) belongs as a
        // syntax error, "expected value", although the JSON is fine.
        Category::Syntax if raw == "expected value" && is_json() => enum_problem(path, place),
        // A fixed-size list (a ratio) with too many items: "trailing characters" inside it.
        Category::Syntax if raw == "trailing characters" && !path.0.is_empty() && is_json() => {
            let message = if path.last_key().is_some_and(|k| k.ends_with("_ratio")) {
                format!("this list has too many items: expected {RATIO}")
            } else {
                "this list has too many items".to_string()
            };
            Problem {
                path,
                place,
                message,
            }
        }
        Category::Syntax | Category::Eof | Category::Io => Problem {
            path,
            place,
            message: syntax_message(&error, text),
        },
        Category::Data => data_problem(text, path, place, &raw),
    }
}

fn syntax_message(error: &serde_json::Error, text: &str) -> String {
    let raw = bare_message(error);
    let friendly = match raw.as_str() {
        "EOF while parsing a value" if text.trim().is_empty() => "the file is empty",
        "EOF while parsing a value" => "the file ends where a value should follow",
        "EOF while parsing an object" => "the file ends before this object is closed with `}`",
        "EOF while parsing a list" => "the file ends before this list is closed with `]`",
        "EOF while parsing a string" => {
            "the file ends inside a string (is a closing `\"` missing?)"
        }
        "trailing comma" => "a comma after the last item is not allowed",
        "key must be a string" => {
            "expected a field name in double quotes (JSON has no comments and no unquoted names)"
        }
        "expected `,` or `}`" => "expected `,` or `}` (is a comma missing between two fields?)",
        "expected `,` or `]`" => "expected `,` or `]` (is a comma missing between two items?)",
        "expected `:`" => "expected `:` after the field name",
        "expected value" => {
            "expected a value: a number, a string in double quotes, true, false, null, an \
             object or a list"
        }
        "expected ident" => "expected true, false or null",
        "trailing characters" => "unexpected text after the end of the scenario object",
        other => other,
    };
    format!("invalid JSON: {friendly}")
}

/// A name that must be one of a fixed set (an enum), with what the file had instead.
fn enum_problem(path: Path, place: Place) -> Problem {
    let message = match enum_names(&path) {
        Some(names) if names.is_empty() && is_mutation(&path) => NO_MUTATIONS.to_string(),
        Some(names) if !names.is_empty() => {
            let names: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
            format!(
                "expected one of these names in double quotes: {}",
                names.join(", ")
            )
        }
        _ => "expected a name in double quotes".to_string(),
    };
    Problem {
        path,
        place,
        message,
    }
}

const NO_MUTATIONS: &str = "no mutations exist yet, so `mutations` must be the empty list []";

fn is_mutation(path: &Path) -> bool {
    matches!(path.0.as_slice(), [Seg::Key(key), Seg::Index(_)] if key == "mutations")
}

/// The names the enum at `path` accepts, as serde lists them (so they follow the types).
fn enum_names(path: &Path) -> Option<Vec<String>> {
    let keys: Vec<&str> = path
        .0
        .iter()
        .map(|seg| match seg {
            Seg::Key(key) => key.as_str(),
            Seg::Index(_) => "[]",
        })
        .collect();
    Some(match keys.as_slice() {
        ["protocol"] => names_of::<super::ProtocolVariant>(),
        ["mutations", "[]"] => names_of::<super::Mutation>(),
        ["expect", "outcome"] => names_of::<ExpectedOutcome>(),
        ["expect", "invariant"] => names_of::<Invariant>(),
        _ => return None,
    })
}

/// The variant names of a unit-variant enum, read from serde's "unknown variant" message.
fn names_of<T: serde::de::DeserializeOwned>() -> Vec<String> {
    match serde_json::from_str::<T>("\"\\u0000\"") {
        Ok(_) => Vec::new(),
        Err(error) => {
            let message = bare_message(&error);
            backticked(
                message
                    .split_once(", expected")
                    .map_or("", |(_, rest)| rest),
            )
        }
    }
}

fn data_problem(text: &str, path: Path, place: Place, raw: &str) -> Problem {
    // A list where an object belongs, anywhere on the way to the error, explains it best.
    for len in 0..=path.0.len() {
        let prefix = Path(path.0[..len].to_vec());
        if wants_object(&prefix)
            && locate::find_value(text, &prefix)
                .is_some_and(|at| text.as_bytes().get(at) == Some(&b'['))
        {
            return list_for_object(prefix, Place::Value);
        }
    }
    if let Some(problem) = latency_path(&path).and_then(|latency| diagnose_latency(text, latency)) {
        return problem;
    }
    if is_mutation(&path) && raw.ends_with("there are no variants") {
        let message = NO_MUTATIONS.to_string();
        return Problem {
            path,
            place,
            message,
        };
    }
    if let Some(name) = between_backticks(raw, "missing field ") {
        let message = format!("the required field `{name}` is missing");
        return Problem {
            path: path.at(name.as_str()),
            place,
            message,
        };
    }
    if let Some(name) = between_backticks(raw, "duplicate field ") {
        let message = format!("the field `{name}` is given twice");
        return Problem {
            path: path.at(name.as_str()),
            place,
            message,
        };
    }
    if let Some(name) = between_backticks(raw, "unknown field ") {
        let allowed = backticked(raw.split_once(", expected").map_or("", |(_, rest)| rest));
        let message = unknown_name("field", &name, &allowed, "the fields allowed here are");
        return Problem {
            path,
            place,
            message,
        };
    }
    if let Some(name) = between_backticks(raw, "unknown variant ") {
        let allowed = backticked(raw.split_once(", expected").map_or("", |(_, rest)| rest));
        let message = match path.0.as_slice() {
            [Seg::Key(key)] if key == "protocol" && allowed.len() == 1 => {
                unknown_name("protocol", &name, &allowed, "the only protocol so far is")
            }
            [Seg::Key(key)] if key == "protocol" => {
                unknown_name("protocol", &name, &allowed, "the protocols are")
            }
            _ if is_mutation(&path) => {
                unknown_name("mutation", &name, &allowed, "the mutations are")
            }
            _ => unknown_name("name", &name, &allowed, "the allowed names are"),
        };
        return Problem {
            path,
            place,
            message,
        };
    }
    let message = type_message(raw).unwrap_or_else(|| raw.to_string());
    Problem {
        path,
        place,
        message,
    }
}

/// "invalid type: string \"x\", expected u64" -> "expected a whole number ..., found the
/// string \"x\"".
fn type_message(raw: &str) -> Option<String> {
    if let Some(rest) = raw.strip_prefix("invalid length ") {
        let (length, expected) = rest.split_once(", expected ")?;
        let expected = friendly_expected(expected);
        let items = if length == "1" { "item" } else { "items" };
        return Some(format!(
            "expected {expected}, found a list of {length} {items}"
        ));
    }
    let rest = raw
        .strip_prefix("invalid type: ")
        .or_else(|| raw.strip_prefix("invalid value: "))?;
    let (found, expected) = rest.rsplit_once(", expected ")?;
    let expected = friendly_expected(expected);
    let found = if let Some(string) = found.strip_prefix("string ") {
        format!("the string {string}")
    } else if let Some(number) = found
        .strip_prefix("integer ")
        .or_else(|| found.strip_prefix("floating point "))
    {
        number.trim_matches('`').to_string()
    } else if let Some(boolean) = found.strip_prefix("boolean ") {
        boolean.trim_matches('`').to_string()
    } else {
        match found {
            "map" => "an object".to_string(),
            "sequence" => "a list".to_string(),
            "unit value" | "null" => "null".to_string(),
            other => other.to_string(),
        }
    };
    Some(format!("expected {expected}, found {found}"))
}

const RATIO: &str = "a list of two whole numbers [numerator, denominator]";

/// serde's name of an expected type, in the format's words.
fn friendly_expected(expected: &str) -> String {
    match expected {
        "u64" => format!("a whole number from 0 to {}", u64::MAX),
        "u32" => format!("a whole number from 0 to {}", u32::MAX),
        "a string" => "a string in double quotes".to_string(),
        "a boolean" => "true or false".to_string(),
        "a sequence" => "a list [...]".to_string(),
        "a map" => "an object {...}".to_string(),
        "variant identifier" => "a name in double quotes".to_string(),
        "a tuple of size 2" => RATIO.to_string(),
        e if e.contains("LatencySpec") => {
            "a latency object such as {\"kind\": \"constant\", \"us\": 1000}".to_string()
        }
        e if e.starts_with("struct ") => "an object {...}".to_string(),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Stage 2: shapes. serde reads a struct from a list too (by position); the format does not.

/// One step of a schema pattern: a named key or any index.
#[derive(Clone, Copy)]
enum Pat {
    Key(&'static str),
    AnyIndex,
}

/// Where the format has an object (a struct or a map).
const OBJECTS: &[&[Pat]] = &[
    &[],
    &[Pat::Key("initial_balances")],
    &[Pat::Key("network")],
    &[Pat::Key("network"), Pat::Key("latency")],
    &[Pat::Key("network"), Pat::Key("links"), Pat::AnyIndex],
    &[
        Pat::Key("network"),
        Pat::Key("links"),
        Pat::AnyIndex,
        Pat::Key("latency"),
    ],
    &[Pat::Key("workload")],
    &[Pat::Key("workload"), Pat::Key("transfers"), Pat::AnyIndex],
    &[
        Pat::Key("workload"),
        Pat::Key("balance_reads"),
        Pat::AnyIndex,
    ],
    &[Pat::Key("workload"), Pat::Key("generated")],
    &[Pat::Key("workload"), Pat::Key("generated"), Pat::Key("gap")],
    &[Pat::Key("faults")],
    &[Pat::Key("faults"), Pat::Key("partitions"), Pat::AnyIndex],
    &[Pat::Key("faults"), Pat::Key("crashes"), Pat::AnyIndex],
    &[Pat::Key("schedule")],
    &[Pat::Key("swarm")],
    &[Pat::Key("schedule"), Pat::Key("messages"), Pat::AnyIndex],
    &[Pat::Key("expect")],
    &[Pat::Key("limits")],
];

fn matches_prefix(path: &Path, pattern: &[Pat]) -> bool {
    path.0.len() <= pattern.len()
        && path
            .0
            .iter()
            .zip(pattern)
            .all(|(seg, pat)| match (seg, pat) {
                (Seg::Key(key), Pat::Key(name)) => key == name,
                (Seg::Index(_), Pat::AnyIndex) => true,
                _ => false,
            })
}

fn wants_object(path: &Path) -> bool {
    OBJECTS
        .iter()
        .any(|pattern| pattern.len() == path.0.len() && matches_prefix(path, pattern))
}

fn may_descend(path: &Path) -> bool {
    OBJECTS
        .iter()
        .any(|pattern| pattern.len() > path.0.len() && matches_prefix(path, pattern))
}

fn list_for_object(path: Path, place: Place) -> Problem {
    let message = "expected an object {...} with named fields here, found a list [...]";
    Problem {
        path,
        place,
        message: message.to_string(),
    }
}

/// The latency spec that `path` is in or at, if any (serde reads latency specs through a
/// buffer, so its errors stop at the spec or its `kind`).
fn latency_path(path: &Path) -> Option<Path> {
    (0..=path.0.len())
        .rev()
        .map(|len| Path(path.0[..len].to_vec()))
        .find(|p| {
            let is = |pattern: &[Pat]| pattern.len() == p.0.len() && matches_prefix(p, pattern);
            is(&[Pat::Key("network"), Pat::Key("latency")])
                || is(&[
                    Pat::Key("network"),
                    Pat::Key("links"),
                    Pat::AnyIndex,
                    Pat::Key("latency"),
                ])
                || is(&[Pat::Key("workload"), Pat::Key("generated"), Pat::Key("gap")])
        })
}

/// Finds exactly what is wrong inside a latency object; `None` leaves serde's message. (serde
/// reports these after buffering the whole object, at the token after it, which misleads; a
/// missing field is reported here at the object's start.)
fn diagnose_latency(text: &str, path: Path) -> Option<Problem> {
    let at = locate::find_value(text, &path)?;
    if text.as_bytes().get(at) != Some(&b'{') {
        return None;
    }
    let members = locate::members(text, at)?;
    let mut seen = BTreeSet::new();
    for member in &members {
        if !seen.insert(member.key.as_str()) {
            let message = format!("the field `{}` is given twice", member.key);
            return Some(Problem::key(path.at(member.key.as_str()), message));
        }
    }
    let Some(kind) = members.iter().find(|m| m.key == "kind") else {
        let message = format!("a latency needs a `kind`: {LATENCY_KINDS}");
        return Some(Problem::value(path.at("kind"), message));
    };
    let kind_path = path.at("kind");
    let Shape::String(kind) = &kind.value else {
        let message = format!("the latency kind must be a name in double quotes: {LATENCY_KINDS}");
        return Some(Problem::value(kind_path, message));
    };
    let fields: &[&str] = match kind.as_str() {
        "constant" => &["us"],
        "uniform" => &["min_us", "max_us"],
        "exponential" => &["min_us", "mean_us"],
        _ => {
            let message = format!("unknown latency kind \"{kind}\"; the kinds are {LATENCY_KINDS}");
            return Some(Problem::value(kind_path, message));
        }
    };
    let takes = fields
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(" and ");
    for member in members.iter().filter(|m| m.key != "kind") {
        let member_path = path.at(member.key.as_str());
        if !fields.contains(&member.key.as_str()) {
            let message = format!(
                "unknown field `{}`: a {kind} latency takes `kind` and {takes}",
                member.key
            );
            return Some(Problem::key(member_path, message));
        }
        let is_whole = matches!(&member.value, Shape::Literal(l) if l.parse::<u64>().is_ok());
        if !is_whole {
            let found = match &member.value {
                Shape::Object => "an object".to_string(),
                Shape::List => "a list".to_string(),
                Shape::String(s) => format!("the string {}", serde_json::json!(s)),
                Shape::Literal(l) => l.clone(),
            };
            let message = format!(
                "expected a whole number of microseconds from 0 to {ONE_HOUR}, found {found}"
            );
            return Some(Problem::value(member_path, message));
        }
    }
    for field in fields {
        if !members.iter().any(|m| m.key == *field) {
            let message = format!("a {kind} latency needs `{field}`");
            return Some(Problem::value(path.at(*field), message));
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Stage 3: the semantic rules, then the validated scenario.

type Check = Result<(), Problem>;

fn validate(
    file: ScenarioFile,
    text: &str,
    source_name: &str,
    max_transfers: usize,
) -> Result<Scenario, Problem> {
    let root = Path::root();
    if file.name.trim().is_empty() {
        let message = "the name must not be empty: give the scenario a short name such as \
                       \"reorder-2\"";
        return Err(Problem::value(root.at("name"), message));
    }
    let clients = file.clients;
    if !(1..=MAX_CLIENTS).contains(&clients) {
        let message = between("the number of clients", 1, MAX_CLIENTS, clients);
        return Err(Problem::value(root.at("clients"), message));
    }
    check_limits(&file.limits)?;
    let initial_balances = initial_balances(&file, text)?;
    check_network(&file.network, clients)?;
    check_workload(
        &file.workload,
        clients,
        file.limits.max_time_us,
        max_transfers,
    )?;
    check_faults(&file.faults, clients, file.limits.max_time_us)?;
    check_schedule(&file.schedule, clients)?;
    if let Some(swarm) = &file.swarm {
        check_swarm(swarm)?;
    }
    let mut seen = BTreeSet::new();
    for (i, mutation) in file.mutations.iter().enumerate() {
        if !seen.insert(*mutation) {
            let message = format!("the mutation `{}` is listed twice", mutation.name());
            return Err(Problem::value(root.at("mutations").at(i), message));
        }
    }
    if file.cs_us > MAX_DELAY_US {
        let message = at_most("the time in the critical section", ONE_HOUR, file.cs_us);
        return Err(Problem::value(root.at("cs_us"), message));
    }
    if let Some(Expect {
        outcome: ExpectedOutcome::Ok,
        invariant: Some(_),
    }) = file.expect
    {
        let message = "an expected invariant only goes with \"outcome\": \"violation\"; remove \
                       `invariant` or expect a violation";
        return Err(Problem::value(root.at("expect").at("invariant"), message));
    }

    let WorkloadSpec {
        mut transfers,
        mut balance_reads,
        generated,
    } = file.workload;
    // Stable sorts: file order among equal times.
    transfers.sort_by_key(|t| t.at_us);
    balance_reads.sort_by_key(|r| r.at_us);
    Ok(Scenario {
        source: source_name.to_string(),
        name: file.name,
        description: file.description,
        seed: file.seed,
        clients,
        initial_balances,
        network: file.network,
        transfers,
        balance_reads,
        generated,
        faults: file.faults,
        schedule: file.schedule,
        swarm: file.swarm,
        cs_us: file.cs_us,
        protocol: file.protocol,
        mutations: file.mutations,
        expect: file.expect,
        limits: file.limits,
    })
}

fn between(
    what: &str,
    low: impl fmt::Display,
    high: impl fmt::Display,
    found: impl fmt::Display,
) -> String {
    format!("{what} must be between {low} and {high}, not {found}")
}

fn at_most(what: &str, high: impl fmt::Display, found: u64) -> String {
    format!("{what} must be at most {high}, not {found}")
}

/// Checks that `id` names a client.
fn check_id(path: Path, what: &str, id: ClientId, clients: u32) -> Check {
    if (1..=clients).contains(&id) {
        return Ok(());
    }
    let message = format!("{what} must be a client id between 1 and {clients}, not {id}");
    Err(Problem::value(path, message))
}

fn check_limits(limits: &Limits) -> Check {
    let path = Path::root().at("limits");
    if !(1..=MAX_EVENTS).contains(&limits.max_events) {
        let message = between("max_events", 1, MAX_EVENTS, limits.max_events);
        return Err(Problem::value(path.at("max_events"), message));
    }
    if !(1..=MAX_TIME_US).contains(&limits.max_time_us) {
        let message = between("max_time_us", 1, MAX_TIME_US, limits.max_time_us);
        return Err(Problem::value(path.at("max_time_us"), message));
    }
    Ok(())
}

/// The initial balances as a vector indexed `id - 1`, checked in file order.
fn initial_balances(file: &ScenarioFile, text: &str) -> Result<Vec<Amount>, Problem> {
    let clients = file.clients;
    let mut balances = vec![DEFAULT_BALANCE; clients as usize];
    let Some(given) = &file.initial_balances else {
        return Ok(balances);
    };
    let base = Path::root().at("initial_balances");
    // The keys in file order, duplicates kept (the map kept only the last of each).
    let keys: Vec<String> = locate::find_value(text, &base)
        .and_then(|at| locate::members(text, at))
        .map(|members| members.into_iter().map(|m| m.key).collect())
        .unwrap_or_else(|| given.keys().cloned().collect());
    let mut seen = BTreeSet::new();
    for key in &keys {
        let path = base.at(key.as_str());
        if !seen.insert(key.as_str()) {
            let message = format!("client {key} is given twice; give each client one balance");
            return Err(Problem::key(path, message));
        }
        let Some(id) = parse_id(key) else {
            let message = format!(
                "\"{key}\" is not a client id: the keys here are client ids written in decimal \
                 without leading zeros, from 1 to {clients}"
            );
            return Err(Problem::key(path, message));
        };
        if !(1..=clients).contains(&id) {
            let message = format!("there is no client {id}: the clients are 1 to {clients}");
            return Err(Problem::key(path, message));
        }
        let Some(&balance) = given.get(key) else {
            continue;
        };
        if balance > MAX_BALANCE {
            return Err(Problem::value(
                path,
                between("a balance", 0, MAX_BALANCE, balance),
            ));
        }
        balances[id as usize - 1] = balance;
    }
    if !total_fits(&balances) {
        let message = format!("the initial balances add up to more than {}", u64::MAX / 2);
        return Err(Problem::value(base, message));
    }
    Ok(balances)
}

/// A canonical decimal id: digits, no sign, no leading zero (so "01" cannot alias "1").
fn parse_id(key: &str) -> Option<ClientId> {
    let canonical = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'));
    canonical.then(|| key.parse().ok()).flatten()
}

/// The total money must stay far from overflow: at most `u64::MAX / 2`. (With the per-balance
/// and client-count bounds it always does; the check guards against those bounds changing.)
fn total_fits(balances: &[Amount]) -> bool {
    balances.iter().map(|&b| u128::from(b)).sum::<u128>() <= u128::from(u64::MAX / 2)
}

fn check_latency(spec: &LatencySpec, path: &Path) -> Check {
    let hour = |field: &str, value: u64| {
        if value > MAX_DELAY_US {
            let message = at_most(field, ONE_HOUR, value);
            return Err(Problem::value(path.at(field), message));
        }
        Ok(())
    };
    match *spec {
        LatencySpec::Constant { us } => hour("us", us),
        LatencySpec::Uniform { min_us, max_us } => {
            hour("min_us", min_us)?;
            if max_us < min_us {
                let low = format!("min_us ({min_us})");
                return Err(Problem::value(
                    path.at("max_us"),
                    between("max_us", low, ONE_HOUR, max_us),
                ));
            }
            hour("max_us", max_us)
        }
        LatencySpec::Exponential { min_us, mean_us } => {
            hour("min_us", min_us)?;
            if mean_us < min_us {
                let low = format!("min_us ({min_us})");
                let message = between("mean_us", low, ONE_HOUR, mean_us);
                return Err(Problem::value(path.at("mean_us"), message));
            }
            hour("mean_us", mean_us)
        }
    }
}

fn check_network(network: &NetworkSpec, clients: u32) -> Check {
    let path = Path::root().at("network");
    check_latency(&network.latency, &path.at("latency"))?;
    check_ratio(&network.drop_ratio, &path.at("drop_ratio"))?;
    check_ratio(&network.duplicate_ratio, &path.at("duplicate_ratio"))?;
    let mut seen: BTreeMap<(ClientId, ClientId), usize> = BTreeMap::new();
    for (i, link) in network.links.iter().enumerate() {
        let link_path = path.at("links").at(i);
        check_id(link_path.at("from"), "from", link.from, clients)?;
        check_id(link_path.at("to"), "to", link.to, clients)?;
        if link.from == link.to {
            let message = format!(
                "a link joins two different clients, but from and to are both {}",
                link.from
            );
            return Err(Problem::value(link_path.at("to"), message));
        }
        if let Some(first) = seen.insert((link.from, link.to), i) {
            let message = format!(
                "the link {} -> {} is already given by network.links[{first}]; each directed \
                 link may appear once",
                link.from, link.to
            );
            return Err(Problem::value(link_path, message));
        }
        if let Some(latency) = &link.latency {
            check_latency(latency, &link_path.at("latency"))?;
        }
        if let Some(ratio) = &link.drop_ratio {
            check_ratio(ratio, &link_path.at("drop_ratio"))?;
        }
        if let Some(ratio) = &link.duplicate_ratio {
            check_ratio(ratio, &link_path.at("duplicate_ratio"))?;
        }
    }
    Ok(())
}

/// A share `[numerator, denominator]`: a denominator of at least 1 and a numerator at most the
/// denominator.
fn check_ratio(ratio: &Ratio, path: &Path) -> Check {
    if ratio.denominator == 0 {
        let message = "the denominator (the second number) must be at least 1";
        return Err(Problem::value(path.at(1), message));
    }
    if ratio.numerator > ratio.denominator {
        let message = format!(
            "a ratio is a share, so the numerator must be at most the denominator ({}), not {}",
            ratio.denominator, ratio.numerator
        );
        return Err(Problem::value(path.at(0), message));
    }
    Ok(())
}

/// Pins: known distinct clients, one fate each (a delay or `drop`), a duplicate only with a
/// delay, sane delays, and one pin per message.
fn check_schedule(schedule: &ScheduleSpec, clients: u32) -> Check {
    let path = Path::root().at("schedule").at("messages");
    let mut seen: BTreeMap<(ClientId, ClientId, u64), usize> = BTreeMap::new();
    for (i, pin) in schedule.messages.iter().enumerate() {
        let at = path.at(i);
        check_id(at.at("from"), "the sender", pin.from, clients)?;
        check_id(at.at("to"), "the receiver", pin.to, clients)?;
        if pin.from == pin.to {
            return Err(Problem::value(
                at.at("to"),
                "a client sends no message to itself",
            ));
        }
        match (pin.delay_us, pin.drop) {
            (Some(_), true) => {
                let message =
                    "a pinned message is either delayed (delay_us) or lost (drop), not both";
                return Err(Problem::value(at.at("drop"), message));
            }
            (None, false) => {
                let message = "a pinned message needs delay_us, or \"drop\": true";
                return Err(Problem::value(at, message));
            }
            _ => {}
        }
        if pin.drop && pin.duplicate_delay_us.is_some() {
            let message = "a lost message has no duplicate";
            return Err(Problem::value(at.at("duplicate_delay_us"), message));
        }
        for (field, value) in [
            ("delay_us", pin.delay_us),
            ("duplicate_delay_us", pin.duplicate_delay_us),
        ] {
            if let Some(us) = value.filter(|&us| us > MAX_SCHEDULE_DELAY_US) {
                let message = at_most("a delay", MAX_SCHEDULE_DELAY_US, us);
                return Err(Problem::value(at.at(field), message));
            }
        }
        if let Some(first) = seen.insert((pin.from, pin.to, pin.nth), i) {
            let message = format!(
                "message {} from {} to {} is already pinned by schedule.messages[{first}]",
                pin.nth, pin.from, pin.to
            );
            return Err(Problem::value(at.at("nth"), message));
        }
    }
    Ok(())
}

/// Swarm bounds: ranges in order and within the limits of hand-written scenarios.
fn check_swarm(swarm: &SwarmSpec) -> Check {
    let path = Path::root().at("swarm");
    let ranges: [(&str, (u64, u64), u64, u64); 4] = [
        (
            "clients",
            (u64::from(swarm.clients.0), u64::from(swarm.clients.1)),
            2,
            1000,
        ),
        ("latency_us", swarm.latency_us, 0, 3_600_000_000),
        ("transfers", swarm.transfers, 1, 1_000_000),
        ("cs_us", swarm.cs_us, 0, 3_600_000_000),
    ];
    for (field, (low, high), min, max) in ranges {
        if low > high {
            let message = format!("the range [{low}, {high}] must have its minimum first");
            return Err(Problem::value(path.at(field), message));
        }
        if low < min || high > max {
            let message = between(
                &format!("the range of {field}"),
                min,
                max,
                format!("[{low}, {high}]"),
            );
            return Err(Problem::value(path.at(field), message));
        }
    }
    if swarm.fifo.is_empty() {
        let message =
            "list at least one FIFO setting to draw from: [true], [false] or [true, false]";
        return Err(Problem::value(path.at("fifo"), message));
    }
    check_ratio(&swarm.drop_ratio_max, &path.at("drop_ratio_max"))?;
    check_ratio(&swarm.duplicate_ratio_max, &path.at("duplicate_ratio_max"))?;
    for (field, value) in [
        ("partitions_max", swarm.partitions_max),
        ("crashes_max", swarm.crashes_max),
    ] {
        if value > 16 {
            return Err(Problem::value(
                path.at(field),
                at_most(field, 16, u64::from(value)),
            ));
        }
    }
    Ok(())
}

/// One hour: the longest a pinned delay may be.
const MAX_SCHEDULE_DELAY_US: u64 = 3_600_000_000;

fn check_faults(faults: &FaultsSpec, clients: u32, max_time_us: u64) -> Check {
    let path = Path::root().at("faults");
    let time_limit = format!("limits.max_time_us ({max_time_us})");
    for (i, partition) in faults.partitions.iter().enumerate() {
        let at = path.at("partitions").at(i);
        if partition.at_us > max_time_us {
            let message = between("the time at_us", 0, &time_limit, partition.at_us);
            return Err(Problem::value(at.at("at_us"), message));
        }
        if let Some(heal_us) = partition.heal_us {
            check_later(at.at("heal_us"), "heal_us", partition.at_us, heal_us)?;
        }
        let groups = at.at("groups");
        if partition.groups.len() < 2 {
            let message = "a partition needs at least two groups: the clients on each side";
            return Err(Problem::value(groups, message));
        }
        if partition.one_way && partition.groups.len() != 2 {
            let message = format!(
                "a one-way partition has exactly two groups (messages from the first to the \
                 second are lost), not {}",
                partition.groups.len()
            );
            return Err(Problem::value(groups, message));
        }
        let mut group_of: BTreeMap<ClientId, usize> = BTreeMap::new();
        for (g, group) in partition.groups.iter().enumerate() {
            if group.is_empty() {
                let message = "a group must name at least one client";
                return Err(Problem::value(groups.at(g), message));
            }
            for (k, &id) in group.iter().enumerate() {
                let member = groups.at(g).at(k);
                check_id(member.clone(), "a group member", id, clients)?;
                if let Some(first) = group_of.insert(id, g) {
                    let message = if first == g {
                        format!("client {id} is listed twice in this group")
                    } else {
                        format!(
                            "client {id} is already in groups[{first}]; a client can be in one group only"
                        )
                    };
                    return Err(Problem::value(member, message));
                }
            }
        }
    }
    for (i, crash) in faults.crashes.iter().enumerate() {
        let at = path.at("crashes").at(i);
        check_id(
            at.at("client"),
            "the crashing client",
            crash.client,
            clients,
        )?;
        if crash.at_us > max_time_us {
            let message = between("the time at_us", 0, &time_limit, crash.at_us);
            return Err(Problem::value(at.at("at_us"), message));
        }
        if let Some(restart_us) = crash.restart_us {
            check_later(at.at("restart_us"), "restart_us", crash.at_us, restart_us)?;
        }
    }
    // One client's down times (crash to restart, or for good) must not overlap: sorted by
    // client and start, each must begin after every earlier one has ended.
    let mut order: Vec<usize> = (0..faults.crashes.len()).collect();
    order.sort_by_key(|&i| (faults.crashes[i].client, faults.crashes[i].at_us, i));
    let mut previous: Option<(ClientId, usize)> = None;
    for &i in &order {
        let crash = &faults.crashes[i];
        if let Some((client, j)) = previous.filter(|&(client, _)| client == crash.client) {
            let earlier = &faults.crashes[j];
            if earlier
                .restart_us
                .is_none_or(|restart| crash.at_us <= restart)
            {
                let until = match earlier.restart_us {
                    Some(t) => format!("until it restarts at {t}"),
                    None => "for good".to_string(),
                };
                let message = format!(
                    "client {client} is already down from {} {until} (faults.crashes[{j}]); one \
                     client's crashes must not overlap",
                    earlier.at_us
                );
                return Err(Problem::value(
                    path.at("crashes").at(i).at("at_us"),
                    message,
                ));
            }
        }
        // No overlap: this crash starts after the previous one ended, so it ends last.
        previous = Some((crash.client, i));
    }
    Ok(())
}

/// A time that must come after `start_us` (and stay within the largest time limit).
fn check_later(path: Path, what: &str, start_us: u64, time_us: u64) -> Check {
    if time_us <= start_us || time_us > MAX_TIME_US {
        let low = format!("at_us + 1 ({})", start_us.saturating_add(1));
        return Err(Problem::value(
            path,
            between(what, low, MAX_TIME_US, time_us),
        ));
    }
    Ok(())
}

fn check_workload(
    workload: &WorkloadSpec,
    clients: u32,
    max_time_us: u64,
    max_transfers: usize,
) -> Check {
    let path = Path::root().at("workload");
    let transfers = path.at("transfers");
    if workload.transfers.len() > max_transfers {
        let message = format!(
            "a scenario may list at most {max_transfers} transfers; use workload.generated for \
             longer workloads"
        );
        return Err(Problem::value(transfers.at(max_transfers), message));
    }
    let time_limit = format!("limits.max_time_us ({max_time_us})");
    for (i, transfer) in workload.transfers.iter().enumerate() {
        let at = transfers.at(i);
        if transfer.at_us > max_time_us {
            let message = between("the time at_us", 0, &time_limit, transfer.at_us);
            return Err(Problem::value(at.at("at_us"), message));
        }
        check_id(at.at("from"), "the payer (from)", transfer.from, clients)?;
        check_id(at.at("to"), "the payee (to)", transfer.to, clients)?;
        if transfer.to == transfer.from {
            let message = format!(
                "a client cannot transfer to itself, but from and to are both {}",
                transfer.from
            );
            return Err(Problem::value(at.at("to"), message));
        }
        if !(1..=MAX_AMOUNT).contains(&transfer.amount) {
            let message = between("the amount", 1, MAX_AMOUNT, transfer.amount);
            return Err(Problem::value(at.at("amount"), message));
        }
    }
    for (i, read) in workload.balance_reads.iter().enumerate() {
        let at = path.at("balance_reads").at(i);
        if read.at_us > MAX_READ_TIME_US {
            let message = between("the time at_us", 0, MAX_READ_TIME_US, read.at_us);
            return Err(Problem::value(at.at("at_us"), message));
        }
        check_id(at.at("client"), "the reading client", read.client, clients)?;
        check_id(at.at("of"), "the client read (of)", read.of, clients)?;
    }
    let Some(generated) = &workload.generated else {
        return Ok(());
    };
    let path = path.at("generated");
    if generated.count > MAX_GENERATED {
        let message = at_most("count", MAX_GENERATED, generated.count);
        return Err(Problem::value(path.at("count"), message));
    }
    if generated.start_us > max_time_us {
        let message = between("start_us", 0, &time_limit, generated.start_us);
        return Err(Problem::value(path.at("start_us"), message));
    }
    check_latency(&generated.gap, &path.at("gap"))?;
    if !(1..=MAX_AMOUNT).contains(&generated.amount_min) {
        let message = between("amount_min", 1, MAX_AMOUNT, generated.amount_min);
        return Err(Problem::value(path.at("amount_min"), message));
    }
    if !(generated.amount_min..=MAX_AMOUNT).contains(&generated.amount_max) {
        let low = format!("amount_min ({})", generated.amount_min);
        let message = between("amount_max", low, MAX_AMOUNT, generated.amount_max);
        return Err(Problem::value(path.at("amount_max"), message));
    }
    let payers_path = path.at("payers");
    let payees_path = path.at("payees");
    if let Some(payers) = &generated.payers {
        check_id_list(&payers_path, payers, clients, "a payer", "pay")?;
    }
    if let Some(payees) = &generated.payees {
        check_id_list(&payees_path, payees, clients, "a payee", "be paid")?;
    }
    // Every payer needs a payee other than itself; only a single distinct payee can fail that.
    let payees: BTreeSet<ClientId> = match &generated.payees {
        Some(payees) => payees.iter().copied().collect(),
        None => (1..=clients).collect(),
    };
    let mut only = payees.iter();
    if let (Some(&only_payee), None) = (only.next(), only.next()) {
        match &generated.payers {
            Some(payers) => {
                if let Some(i) = payers.iter().position(|&p| p == only_payee) {
                    let message = format!(
                        "client {only_payee} pays but has no payee other than itself; add \
                         another client to payees"
                    );
                    return Err(Problem::value(payers_path.at(i), message));
                }
            }
            None if generated.payees.is_some() => {
                let message = format!(
                    "every client pays when payers is left out, but client {only_payee} has no \
                     payee other than itself; list the payers or add another payee"
                );
                return Err(Problem::value(payees_path, message));
            }
            None => {
                let message = "a generated workload needs at least two clients, so that a \
                               payer has someone else to pay";
                return Err(Problem::value(path, message));
            }
        }
    }
    Ok(())
}

/// `payers` or `payees`: non-empty, every id a client, no id twice.
fn check_id_list(path: &Path, ids: &[ClientId], clients: u32, who: &str, role: &str) -> Check {
    let name = path.last_key().unwrap_or_default();
    if ids.is_empty() {
        let message = format!(
            "{name} must name at least one client; leave it out to let every client {role}"
        );
        return Err(Problem::value(path.clone(), message));
    }
    let mut seen = BTreeSet::new();
    for (i, &id) in ids.iter().enumerate() {
        check_id(path.at(i), who, id, clients)?;
        if !seen.insert(id) {
            let message = format!("client {id} is listed twice in {name}");
            return Err(Problem::value(path.at(i), message));
        }
    }
    Ok(())
}
