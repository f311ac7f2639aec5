//! Stage 2: shapes. serde reads a struct from a list too (by position); the format does not.
//! Also the latency objects, which serde reads through a buffer and so reports badly.

use std::collections::BTreeSet;

use super::locate::{Path, Seg, Shape};
use super::{LATENCY_KINDS, ONE_HOUR, Place, Problem, locate};
use crate::json_message::shown;

/// One step of a schema pattern: a named key or any index.
#[derive(Clone, Copy)]
pub(super) enum Pat {
    Key(&'static str),
    AnyIndex,
}

/// Where the format has an object (a struct or a map).
pub(super) const OBJECTS: &[&[Pat]] = &[
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

pub(super) fn matches_prefix(path: &Path, pattern: &[Pat]) -> bool {
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

pub(super) fn wants_object(path: &Path) -> bool {
    OBJECTS
        .iter()
        .any(|pattern| pattern.len() == path.0.len() && matches_prefix(path, pattern))
}

pub(super) fn may_descend(path: &Path) -> bool {
    OBJECTS
        .iter()
        .any(|pattern| pattern.len() > path.0.len() && matches_prefix(path, pattern))
}

pub(super) fn list_for_object(path: Path, place: Place) -> Problem {
    let message = "expected an object {...} with named fields here, found a list [...]";
    Problem {
        path,
        place,
        message: message.to_string(),
    }
}

/// The latency spec that `path` is in or at, if any (serde reads latency specs through a
/// buffer, so its errors stop at the spec or its `kind`).
pub(super) fn latency_path(path: &Path) -> Option<Path> {
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
pub(super) fn diagnose_latency(text: &str, path: Path) -> Option<Problem> {
    let at = locate::find_value(text, &path)?;
    if text.as_bytes().get(at) != Some(&b'{') {
        return None;
    }
    let members = locate::members(text, at)?;
    let mut seen = BTreeSet::new();
    for member in &members {
        if !seen.insert(member.key.as_str()) {
            let message = format!("the field `{}` is given twice", shown(&member.key));
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
            let message = format!(
                "unknown latency kind \"{}\"; the kinds are {LATENCY_KINDS}",
                shown(kind)
            );
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
                shown(&member.key)
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
