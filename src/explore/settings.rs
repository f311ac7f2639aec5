//! What to explore: a scenario file, or an exploration file that points at one and adds the
//! settings only exhaustive search needs (see `docs/explore.md`).
//!
//! From the scenario the explorer takes the clients, initial balances, the transfers each
//! client is asked to make (in the order of their times; the times themselves are dropped:
//! issuing is a step the search may take at any point), the protocol, the mutations, the
//! channel kind of every link (`fifo`), which links may lose or duplicate messages (a nonzero
//! `drop_ratio` / `duplicate_ratio`) and which clients may crash (`faults.crashes`). Latencies,
//! `cs_us`, ratios' values and fault times do not matter: the search tries every order.
//!
//! An exploration file:
//!
//! ```json
//! {
//!   "scenario": "../reorder-2.json",
//!   "description": "Why this exploration exists.",
//!   "channels": "bag",
//!   "max_losses": 0,
//!   "max_duplicates": 0,
//!   "expect": {"outcome": "violation", "invariant": "mutual_exclusion"}
//! }
//! ```

use std::path::Path;

use serde::Deserialize;

use super::system::{CrashRule, LinkRule, PlannedTransfer, SystemConfig};
use crate::check::Invariant;
use crate::json_message::serde_message;
use crate::protocol::Command;
use crate::scenario::{
    Expect, ExpectedOutcome, Keep, MAX_SCENARIO_BYTES, Scenario, TRACE_NOT_SCENARIO, is_trace,
    parse_scenario, read_bounded,
};
use crate::sim::Workload;
use crate::sim::rng::{Stream, stream_rng};
use crate::wording::count;

/// At most this many clients: the search is exhaustive, and the encoding keeps small counts
/// in single bytes.
pub const MAX_EXPLORE_CLIENTS: u32 = 8;
/// At most this many transfers in all.
pub const MAX_EXPLORE_TRANSFERS: usize = 64;
/// The largest loss or duplication bound.
pub const MAX_FAULT_BOUND: u32 = 16;

/// Channel semantics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channels {
    /// Per-link queues: only the oldest message of a link can be delivered.
    Fifo,
    /// Any message in flight on a link can be delivered next.
    Bag,
}

/// The exploration file, as written. Unknown fields are errors.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExploreFile {
    scenario: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
    #[serde(default)]
    channels: Option<Channels>,
    #[serde(default)]
    max_losses: Option<u32>,
    #[serde(default)]
    max_duplicates: Option<u32>,
    #[serde(default)]
    expect: Option<Expect>,
}

/// Settings an exploration file adds to its scenario.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Every link FIFO or every link a bag (default: each link as the scenario says).
    pub channels: Option<Channels>,
    /// How many messages may be lost in all (default: 1 when a link has a drop_ratio).
    pub max_losses: Option<u32>,
    /// How many messages may be duplicated in all (default: 1 when a link has a
    /// duplicate_ratio).
    pub max_duplicates: Option<u32>,
    /// What exhaustive search must find (default: the scenario's `expect`).
    pub expect: Option<Expect>,
}

/// Where the expectation that decides the exit code came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectFrom {
    ExploreFile,
    Scenario,
}

/// A validated exploration.
#[derive(Clone, Debug)]
pub struct ExploreSetup {
    /// The file named on the command line.
    pub source: String,
    /// The scenario (also for the trace header of a counterexample).
    pub scenario: Scenario,
    pub system: SystemConfig,
    pub expect: Option<(Expect, ExpectFrom)>,
    /// What the scenario holds that exhaustive search leaves out, one sentence each.
    pub notes: Vec<String>,
}

/// A file that cannot be explored: one sentence with the file and, for JSON, line and column.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(pub String);

/// Reads `path`: a scenario file or an exploration file (recognised by its `scenario` key).
pub fn load(path: &Path) -> Result<ExploreSetup, SetupError> {
    let shown = path.display().to_string();
    let text = read(path, &shown)?;
    if is_trace(&text) {
        return Err(SetupError(format!("{shown}:1:1: {TRACE_NOT_SCENARIO}")));
    }
    let value: serde_json::Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|error| located(&shown, &error, ""))?;
    let is_explore_file = value
        .as_object()
        .is_some_and(|object| object.contains_key("scenario") && !object.contains_key("clients"));
    if !is_explore_file {
        let scenario = parse_scenario(&text, &shown).map_err(|e| SetupError(e.to_string()))?;
        return from_scenario(shown, scenario, &Overrides::default());
    }
    let deserializer = &mut serde_json::Deserializer::from_str(text.trim_start_matches('\u{feff}'));
    let file: ExploreFile = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let field = error.path().to_string();
        located(
            &shown,
            error.inner(),
            if field == "." { "" } else { &field },
        )
    })?;
    for (field, bound) in [
        ("max_losses", file.max_losses),
        ("max_duplicates", file.max_duplicates),
    ] {
        if bound.is_some_and(|bound| bound > MAX_FAULT_BOUND) {
            let (line, column) = value_position(&text, field);
            return Err(SetupError(format!(
                "{shown}:{line}:{column}: {field}: at most {MAX_FAULT_BOUND}, not {}",
                bound.unwrap_or_default()
            )));
        }
    }
    if let Some(expect) = file.expect
        && expect.outcome == ExpectedOutcome::Ok
        && expect.invariant.is_some()
    {
        let (line, column) = value_position(&text, "invariant");
        return Err(SetupError(format!(
            "{shown}:{line}:{column}: expect.invariant: an expected invariant only makes \
             sense with \"outcome\": \"violation\""
        )));
    }
    let scenario_path = path
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .join(&file.scenario);
    let scenario_shown = scenario_path.display().to_string();
    let scenario_text = read(&scenario_path, &scenario_shown)
        .map_err(|SetupError(message)| SetupError(format!("{shown}: scenario: {message}")))?;
    let scenario = parse_scenario(&scenario_text, &scenario_shown)
        .map_err(|error| SetupError(error.to_string()))?;
    let overrides = Overrides {
        channels: file.channels,
        max_losses: file.max_losses,
        max_duplicates: file.max_duplicates,
        expect: file.expect,
    };
    from_scenario(shown, scenario, &overrides)
}

/// The 1-based line and column (in characters) of the value of the first `"key":` in `text`
/// (1:1 if there is none).
fn value_position(text: &str, key: &str) -> (usize, usize) {
    let quoted = format!("\"{key}\"");
    let offset = text
        .find(&quoted)
        .map(|at| at + quoted.len())
        .and_then(|after| {
            let colon = after + text[after..].find(':')?;
            let value = text[colon + 1..].find(|c: char| !c.is_whitespace())?;
            Some(colon + 1 + value)
        })
        .unwrap_or(0);
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |tail| tail.chars().count())
        + 1;
    (line, column)
}

fn read(path: &Path, shown: &str) -> Result<String, SetupError> {
    read_bounded(path, MAX_SCENARIO_BYTES).map_err(|error| SetupError(error.located(shown)))
}

fn located(shown: &str, error: &serde_json::Error, field: &str) -> SetupError {
    // The position goes in front instead of after.
    let message = serde_message(error);
    let field = if field.is_empty() {
        String::new()
    } else {
        format!("{field}: ")
    };
    SetupError(format!(
        "{shown}:{}:{}: {field}{message}",
        error.line(),
        error.column()
    ))
}

/// The exploration of a scenario, with an exploration file's settings when there is one.
pub fn from_scenario(
    source: String,
    scenario: Scenario,
    overrides: &Overrides,
) -> Result<ExploreSetup, SetupError> {
    let n = scenario.clients;
    if n > MAX_EXPLORE_CLIENTS {
        return Err(SetupError(format!(
            "{}: exhaustive exploration takes at most {MAX_EXPLORE_CLIENTS} clients, and this \
             scenario has {n}",
            scenario.source
        )));
    }
    let mut notes = Vec::new();
    // Every command of the workload, in the order the simulator would issue them.
    let mut workload = Workload::new(&scenario, stream_rng(scenario.seed, Stream::Workload));
    let mut transfers: Vec<Vec<PlannedTransfer>> = vec![Vec::new(); n as usize];
    let mut total = 0usize;
    let mut reads = 0usize;
    while let Some(item) = workload.next_item() {
        match item.command {
            Command::Transfer { to, amount } => {
                total += 1;
                if total > MAX_EXPLORE_TRANSFERS {
                    return Err(SetupError(format!(
                        "{}: exhaustive exploration takes at most {MAX_EXPLORE_TRANSFERS} \
                         transfers in all, and this scenario has more",
                        scenario.source
                    )));
                }
                transfers[item.client.index()].push(PlannedTransfer { to, amount });
            }
            Command::ReadBalance { .. } => reads += 1,
        }
    }
    if transfers
        .iter()
        .any(|list| list.len() > usize::from(u8::MAX))
    {
        return Err(SetupError(format!(
            "{}: a client may make at most 255 transfers in an exploration",
            scenario.source
        )));
    }
    notes.push(
        "times are not explored one by one: latencies, at_us and cs_us are replaced by every \
         possible order of steps"
            .to_string(),
    );
    if reads > 0 {
        notes.push(format!(
            "{} left out: a read changes no state",
            count(reads, "balance read")
        ));
    }
    if !scenario.faults.partitions.is_empty() {
        notes.push(
            "faults.partitions left out: they are timed; to explore lost messages, give the \
             links a drop_ratio (or an exploration file max_losses)"
                .to_string(),
        );
    }
    // Links: FIFO or bag, lossy, duplicating.
    let network = &scenario.network;
    let mut links = Vec::with_capacity((n * n) as usize);
    for from in 1..=n {
        for to in 1..=n {
            let link = network
                .links
                .iter()
                .find(|link| link.from.get() == from && link.to.get() == to);
            let fifo = link.and_then(|link| link.fifo).unwrap_or(network.fifo);
            let drop_ratio = link
                .and_then(|link| link.drop_ratio)
                .unwrap_or(network.drop_ratio);
            let duplicate_ratio = link
                .and_then(|link| link.duplicate_ratio)
                .unwrap_or(network.duplicate_ratio);
            links.push(LinkRule {
                fifo: match overrides.channels {
                    Some(Channels::Fifo) => true,
                    Some(Channels::Bag) => false,
                    None => fifo,
                },
                lossy: from != to && !drop_ratio.is_zero(),
                duplicating: from != to && !duplicate_ratio.is_zero(),
            });
        }
    }
    let any_lossy = links.iter().any(|link| link.lossy);
    let any_duplicating = links.iter().any(|link| link.duplicating);
    for bound in [overrides.max_losses, overrides.max_duplicates]
        .into_iter()
        .flatten()
    {
        if bound > MAX_FAULT_BOUND {
            return Err(SetupError(format!(
                "{source}: fault bounds are at most {MAX_FAULT_BOUND}, not {bound}"
            )));
        }
    }
    let max_losses = overrides.max_losses.unwrap_or(u32::from(any_lossy));
    let max_duplicates = overrides
        .max_duplicates
        .unwrap_or(u32::from(any_duplicating));
    // A bound given with no ratio anywhere applies to every link.
    for (index, link) in links.iter_mut().enumerate() {
        let (from, to) = (index as u32 / n, index as u32 % n);
        if from == to {
            continue;
        }
        if max_losses > 0 && !any_lossy {
            link.lossy = true;
        }
        if max_duplicates > 0 && !any_duplicating {
            link.duplicating = true;
        }
    }
    let mut crashes: Vec<Vec<CrashRule>> = vec![Vec::new(); n as usize];
    let mut by_time = scenario.faults.crashes.clone();
    by_time.sort_by_key(|crash| crash.at_us);
    for crash in by_time {
        crashes[crash.client.index()].push(CrashRule {
            keep_ledger: crash.keep == Keep::Ledger,
            restarts: crash.restart_us.is_some(),
        });
    }
    let expect = match (overrides.expect, scenario.expect) {
        (Some(expect), _) => Some((expect, ExpectFrom::ExploreFile)),
        (None, Some(expect)) => Some((expect, ExpectFrom::Scenario)),
        (None, None) => None,
    };
    let system = SystemConfig {
        clients: n,
        initial_balances: scenario.initial_balances.clone(),
        variant: scenario.protocol.to_protocol(),
        mutations: scenario.mutation_set(),
        cs_us: scenario.cs_us,
        transfers,
        links,
        max_losses: max_losses as u8,
        max_duplicates: max_duplicates as u8,
        crashes,
    };
    Ok(ExploreSetup {
        source,
        scenario,
        system,
        expect,
        notes,
    })
}

/// "a violation of mutual_exclusion", "ok", "a violation".
pub fn describe_expect(expect: &Expect) -> String {
    match (expect.outcome, expect.invariant) {
        (ExpectedOutcome::Ok, _) => "ok".to_string(),
        (ExpectedOutcome::Violation, None) => "a violation".to_string(),
        (ExpectedOutcome::Violation, Some(invariant)) => format!("a violation of {invariant}"),
    }
}

/// Do the invariants found (in the order found) meet `expect`?
pub fn meets(expect: &Expect, found: &[Invariant]) -> bool {
    match (expect.outcome, expect.invariant) {
        (ExpectedOutcome::Ok, _) => found.is_empty(),
        (ExpectedOutcome::Violation, None) => !found.is_empty(),
        (ExpectedOutcome::Violation, Some(invariant)) => found.contains(&invariant),
    }
}
