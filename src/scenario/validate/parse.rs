//! Stage 1: serde_json reads the text into a [`ScenarioFile`], recording the path of the value
//! being read, and its errors become located sentences. The wording of serde's messages that
//! any JSON file shares is in `json_message`; what is said here needs the scenario format
//! (its enums, its latency objects, its ratios).

use serde_json::error::Category;

use super::locate::{Path, Seg};
use super::shape::{diagnose_latency, latency_path, list_for_object, wants_object};
use super::{Place, Problem, locate};
use crate::base::Invariant;
use crate::json_message::{
    bare_message, between_backticks, expected_names, syntax_words, type_message,
    unknown_field_message, unknown_name, unknown_variant,
};
use crate::scenario::{ExpectedOutcome, ScenarioFile};

pub(super) fn deserialize(text: &str) -> Result<ScenarioFile, Problem> {
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
        "trailing characters" => "unexpected text after the end of the scenario object",
        other => syntax_words(other),
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

pub(super) const NO_MUTATIONS: &str =
    "no mutations exist yet, so `mutations` must be the empty list []";

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
        ["protocol"] => names_of::<crate::scenario::ProtocolVariant>(),
        ["mutations", "[]"] => names_of::<crate::scenario::Mutation>(),
        ["expect", "outcome"] => names_of::<ExpectedOutcome>(),
        ["expect", "invariant"] => names_of::<Invariant>(),
        _ => return None,
    })
}

/// The variant names of a unit-variant enum, read from serde's "unknown variant" message.
pub(super) fn names_of<T: serde::de::DeserializeOwned>() -> Vec<String> {
    match serde_json::from_str::<T>("\"\\u0000\"") {
        Ok(_) => Vec::new(),
        Err(error) => expected_names(&bare_message(&error)),
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
    if let Some(message) = unknown_field_message(raw) {
        return Problem {
            path,
            place,
            message,
        };
    }
    if let Some((name, allowed)) = unknown_variant(raw) {
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
    let raw = number_as_written(text, &path, raw).unwrap_or_else(|| raw.to_string());
    let message = type_message(&raw, scenario_type_words).unwrap_or_else(|| raw.to_string());
    Problem {
        path,
        place,
        message,
    }
}

/// serde's message about a number with the number as the file writes it: serde_json reads
/// `-0` as the float -0.0 and would report "found -0.0"; `1E3` it reports as 1000.0.
fn number_as_written(text: &str, path: &Path, raw: &str) -> Option<String> {
    let rest = raw
        .strip_prefix("invalid type: floating point `")
        .or_else(|| raw.strip_prefix("invalid value: floating point `"))?;
    let (_, expected) = rest.split_once("`, expected ")?;
    let at = locate::find_value(text, path)?;
    let literal: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        .collect();
    if literal.is_empty() {
        return None;
    }
    Some(format!(
        "invalid type: floating point `{literal}`, expected {expected}"
    ))
}

const RATIO: &str = "a list of two whole numbers [numerator, denominator]";

/// The expected types whose names only the scenario format knows, in its words; the rest are
/// worded by [`type_message`].
fn scenario_type_words(expected: &str) -> Option<String> {
    match expected {
        "a tuple of size 2" => Some(RATIO.to_string()),
        e if e.contains("LatencySpec") => {
            Some("a latency object such as {\"kind\": \"constant\", \"us\": 1000}".to_string())
        }
        _ => None,
    }
}
