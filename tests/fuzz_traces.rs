//! A bounded fuzz of what `check` believes. Genuine traces of several scenarios are mutated
//! the way a forger with a text editor can: a field of an event edited, an event deleted,
//! duplicated or moved, a summary field changed; then the event lines are renumbered and the
//! summary's counts, violations and digest recomputed, as anyone can. Each mutated trace must
//! end in a clean rejection (an error naming a line) or a verdict that is right for it, never
//! a panic, a hang or an accepted forgery:
//!
//! - a trace that passes must show every client doing exactly what it did in the genuine
//!   trace (the same events with the same fields and clocks, in the same order per client;
//!   only times, message ids, the interleaving of clients, network events, balance reads,
//!   the payee of a transfer and claims may differ), and the genuine trace must have passed
//!   too;
//! - a trace that fails must name a violation (a forgery may at worst be flagged).
//!
//! Deterministic (ChaCha8Rng with a fixed seed) and bounded: `FUZZ_TRACES_CASES` sets the
//! mutations per scenario (default 300), `FUZZ_TRACES_SEED` the seed.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use lamport_ledger::check::offline::{END_WORDS, OfflineOptions, OfflineReport, check_trace};
use lamport_ledger::trace::read::ReadError;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// Scenarios whose traces cover every protocol, crashes of both kinds, partitions, loss,
/// duplication, reordering, a mutation, and runs that pass and fail.
const SCENARIOS: &[&str] = &[
    "default.json",
    "reorder-2.json",
    "partition-heal.json",
    "crash-restart-nothing.json",
    "crash-restart-ledger.json",
    "duplication-lamport.json",
    "loss-lamport.json",
    "fifo-update-ack.json",
    "fifo-ricart-agrawala.json",
    "reorder-reply-count.json",
    "mutation-release-pops-head.json",
];

/// The longest a single check may take before it counts as a hang.
const SLOW: Duration = Duration::from_secs(10);

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// A trace split into its header line, its events and its summary.
#[derive(Clone)]
struct Parts {
    header: String,
    events: Vec<Value>,
    summary: Value,
}

impl Parts {
    fn of(trace: &str) -> Parts {
        let mut lines = trace.lines();
        let header = lines.next().unwrap().to_string();
        let mut events: Vec<Value> = lines
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let summary = events.pop().unwrap();
        Parts {
            header,
            events,
            summary,
        }
    }

    /// The trace, renumbered, with the counts, violations and digest a forger recomputes.
    fn forge(&self) -> String {
        common::forge(&self.header, &self.events, &self.summary)
    }
}

/// The kinds of events a client's step produces (balance reads change nothing).
const CLIENT_KINDS: &[&str] = &[
    "send", "deliver", "transfer", "request", "enter", "exit", "commit", "apply", "abort",
    "reject", "crash", "restart",
];

/// What each client did: its events other than network events, balance reads and claims,
/// without times, sequence numbers and message ids.
fn per_client(events: &[Value]) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = events
        .iter()
        .filter(|e| {
            let kind = e["kind"].as_str().unwrap_or("");
            // Events of unknown kinds are skipped (and listed) by the reader, as the format
            // lets new writers add kinds: they cannot make a client do anything.
            e["node"].is_u64() && CLIENT_KINDS.contains(&kind)
        })
        .map(|e| {
            let mut e = e.clone();
            let object = e.as_object_mut().unwrap();
            for field in ["seq", "t", "msg_id", "type"] {
                object.remove(field);
            }
            // The payee of a transfer that aborts shows in no later event, so any payee makes
            // a valid run; a committed transfer's payee is its block's, which stays.
            if object["kind"] == "transfer" {
                object.remove("to");
            }
            (e["node"].as_u64().unwrap(), e.to_string())
        })
        .collect();
    // Stable: each client's own order is kept.
    out.sort_by_key(|(node, _)| *node);
    out
}

/// Every leaf of `value` as a JSON pointer.
fn leaves(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                leaves(inner, format!("{at}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                leaves(inner, format!("{at}/{index}"), out);
            }
        }
        _ => out.push(at),
    }
}

const WORDS: &[&str] = &[
    "send",
    "deliver",
    "transfer",
    "request",
    "enter",
    "exit",
    "commit",
    "apply",
    "abort",
    "crash",
    "restart",
    "reply",
    "release",
    "update",
    "updated",
    "ledger",
    "nothing",
    "loss",
    "partition",
    "crashed",
];

/// A value near `old`, or another word of the format.
fn another(rng: &mut ChaCha8Rng, old: &Value) -> Value {
    match old {
        Value::Number(number) => {
            let n = number.as_u64().unwrap_or(0);
            match rng.random_range(0..4) {
                0 => (n + 1).into(),
                1 => n.saturating_sub(1).into(),
                2 => rng.random_range(0..5u64).into(),
                _ => (n + rng.random_range(2..1000u64)).into(),
            }
        }
        Value::String(text) if text.len() == 64 => {
            let mut hex: Vec<char> = text.chars().collect();
            let at = rng.random_range(0..hex.len());
            hex[at] = if hex[at] == '0' { '1' } else { '0' };
            hex.into_iter().collect::<String>().into()
        }
        _ => WORDS[rng.random_range(0..WORDS.len())].into(),
    }
}

/// One mutation of `parts`, and its name for the failure message.
fn mutate(rng: &mut ChaCha8Rng, parts: &Parts) -> (Parts, String) {
    let mut out = parts.clone();
    let events = &mut out.events;
    let at = rng.random_range(0..events.len());
    let name = match rng.random_range(0..10) {
        0..=3 => {
            let mut pointers = Vec::new();
            leaves(&events[at], String::new(), &mut pointers);
            pointers.retain(|pointer| pointer != "/type" && pointer != "/seq");
            let pointer = &pointers[rng.random_range(0..pointers.len())];
            let old = events[at].pointer(pointer).unwrap().clone();
            let new = another(rng, &old);
            *events[at].pointer_mut(pointer).unwrap() = new.clone();
            format!("event {at}: {pointer} {old} -> {new}")
        }
        4 => {
            events.remove(at);
            format!("event {at} deleted")
        }
        5 => {
            let copy = events[at].clone();
            events.insert(at + 1, copy);
            format!("event {at} duplicated")
        }
        6 | 7 => {
            let other = (at + rng.random_range(1..5)).min(events.len() - 1);
            events.swap(at, other);
            // Keep time in order, as a forger would, so the reader's time check is no help.
            let (t_at, t_other) = (events[at]["t"].clone(), events[other]["t"].clone());
            events[at]["t"] = t_other;
            events[other]["t"] = t_at;
            format!("events {at} and {other} swapped")
        }
        _ => {
            let summary = &mut out.summary;
            match rng.random_range(0..4) {
                0 => {
                    let word = END_WORDS[rng.random_range(0..END_WORDS.len())];
                    summary["end"] = word.into();
                    format!("summary end -> {word}")
                }
                1 => {
                    let old = summary["end_us"].clone();
                    summary["end_us"] = another(rng, &old);
                    format!("summary end_us {old} -> {}", summary["end_us"])
                }
                2 => {
                    let mut pointers = Vec::new();
                    leaves(&summary["final_balances"], String::new(), &mut pointers);
                    let pointer = &pointers[rng.random_range(0..pointers.len())];
                    let cell = summary["final_balances"].pointer_mut(pointer).unwrap();
                    *cell = another(rng, &cell.clone());
                    format!("summary final_balances{pointer} -> {cell}")
                }
                _ => {
                    summary.as_object_mut().unwrap().remove("end");
                    "summary end removed".to_string()
                }
            }
        }
    };
    (out, name)
}

fn check(text: &str) -> Result<OfflineReport, ReadError> {
    check_trace(text.as_bytes(), OfflineOptions::default())
}

#[test]
fn forged_traces_are_rejected_or_judged_rightly() {
    let cases = env_or("FUZZ_TRACES_CASES", 300);
    let seed = env_or("FUZZ_TRACES_SEED", 23);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut failures = Vec::new();
    let mut outcomes = [0usize; 3];
    for name in SCENARIOS {
        let scenario = common::load(&common::root().join("scenarios").join(name));
        let (_, _, trace) = common::run(&scenario);
        let trace = String::from_utf8(trace).unwrap();
        let genuine = check(&trace).unwrap_or_else(|error| panic!("{name}: {error}"));
        let parts = Parts::of(&trace);
        let genuine_clients = per_client(&parts.events);
        for _ in 0..cases {
            let (mutated, what) = mutate(&mut rng, &parts);
            let text = mutated.forge();
            let started = Instant::now();
            let outcome = catch_unwind(AssertUnwindSafe(|| check(&text)));
            let took = started.elapsed();
            let about = format!("{name}, {what}");
            if took > SLOW {
                failures.push(format!("{about}: took {took:?}"));
            }
            match outcome {
                Err(_) => failures.push(format!("{about}: panicked")),
                Ok(Err(ReadError::Invalid { line, message, .. })) => {
                    outcomes[0] += 1;
                    if line == 0 || message.is_empty() {
                        failures.push(format!("{about}: an error without a line or words"));
                    }
                }
                Ok(Err(ReadError::Io(error))) => {
                    failures.push(format!("{about}: an I/O error reading memory: {error}"));
                }
                Ok(Ok(report)) if report.passed() => {
                    outcomes[1] += 1;
                    let same = per_client(&mutated.events) == genuine_clients;
                    if !same || !genuine.passed() {
                        failures.push(format!(
                            "{about}: ACCEPTED ({}), the clients {} and the genuine trace {}",
                            report.agreement(),
                            if same {
                                "did the same"
                            } else {
                                "did otherwise"
                            },
                            if genuine.passed() { "passed" } else { "failed" }
                        ));
                    }
                }
                Ok(Ok(_)) => outcomes[2] += 1,
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} forged traces were mishandled (seed {seed}; rejected {}, passed {}, \
         violation {}):\n{}",
        failures.len(),
        cases as usize * SCENARIOS.len(),
        outcomes[0],
        outcomes[1],
        outcomes[2],
        failures.join("\n")
    );
}
