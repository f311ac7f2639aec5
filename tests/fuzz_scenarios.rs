//! A bounded, deterministic fuzz suite for scenario files: structured mutations of every file in
//! `scenarios/` (a field deleted, a value of another type, an extreme number, unusual unicode, a
//! truncated text, a key written twice). Each mutated file must either be refused with one
//! sentence naming the file, or parse and run to a verdict: never a panic, never a hang. The
//! library is called in-process; a few byte-level cases go through the binary, to see exit code
//! 2 and one line. The mutations come from a fixed seed, so a failure reproduces.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use lamport_ledger::scenario::parse_scenario;
use lamport_ledger::sim::RunOptions;
use lamport_ledger::{Scenario, run_scenario};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use common::{lamport_ledger, root};

/// Mutations per scenario file and kind: enough to reach every field of the small files.
const MUTATIONS_PER_FILE: usize = 200;
/// A valid mutant runs only this many events, and only with this many clients at most: the
/// suite is about the reader and the loop ending, not about long runs.
const RUN_EVENTS: u64 = 3_000;
const RUN_CLIENTS: u32 = 64;

const NAME: &str = "fuzz.json";

/// The scenario files, by name and text, in name order.
fn seeds() -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

/// The paths of every value in `value`, objects' members and lists' items alike.
fn paths(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(prefix.clone());
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                prefix.push(Step::Key(key.clone()));
                paths(item, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                prefix.push(Step::Index(index));
                paths(item, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn at_mut<'v>(value: &'v mut Value, path: &[Step]) -> &'v mut Value {
    path.iter().fold(value, |value, step| match step {
        Step::Key(key) => &mut value[key.as_str()],
        Step::Index(index) => &mut value[*index],
    })
}

/// Values of other types and extreme values, as JSON text.
const REPLACEMENTS: &[&str] = &[
    "null",
    "true",
    "\"\"",
    "\"3\"",
    "[]",
    "{}",
    "[1, 2]",
    "0",
    "-0",
    "-1",
    "1.5",
    "1e6",
    "1E3",
    "-0.0",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "99999999999999999999999999999",
    "1e308",
    "4294967296",
    "10000",
    "10001",
    "\"\\u0000\"",
    "\"é🦀\\ud800\"",
    "\"\u{feff}\u{202e}名前\"",
    "[[1], [2]]",
    "{\"kind\": \"constant\", \"us\": 1}",
];

/// One structured mutation of `original`.
fn mutate(original: &Value, text: &str, rng: &mut ChaCha8Rng) -> String {
    let mut value = original.clone();
    let mut all = Vec::new();
    paths(&value, &mut Vec::new(), &mut all);
    let path = &all[rng.random_range(0..all.len())];
    match rng.random_range(0..6u32) {
        // Delete the field (or list item) at the path.
        0 if !path.is_empty() => {
            let (last, parent) = path.split_last().unwrap();
            match (at_mut(&mut value, parent), last) {
                (Value::Object(map), Step::Key(key)) => {
                    map.remove(key);
                }
                (Value::Array(items), Step::Index(index)) => {
                    items.remove(*index);
                }
                _ => {}
            }
            value.to_string()
        }
        // Another type, or an extreme number.
        1 | 2 => {
            let replacement = REPLACEMENTS[rng.random_range(0..REPLACEMENTS.len())];
            let marker = "\"@@REPLACED@@\"";
            *at_mut(&mut value, path) = Value::String("@@REPLACED@@".into());
            value.to_string().replacen(marker, replacement, 1)
        }
        // An unknown field with an unusual name, or unusual unicode in a string.
        3 => {
            if let Value::Object(map) = at_mut(&mut value, path) {
                map.insert("nämé\u{0301}🦀".into(), Value::from(1));
            } else if let target @ Value::String(_) = at_mut(&mut value, path) {
                *target = Value::String("\u{0}\u{7f}\u{feff}\u{10ffff}\n\"\\".into());
            }
            value.to_string()
        }
        // The text cut short, at a character boundary.
        4 => {
            let mut cut = rng.random_range(0..text.len().max(1));
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text[..cut].to_string()
        }
        // A key of some object written twice.
        _ => duplicate_a_key(&value, path),
    }
}

/// The text of `value` with the first member of the object at `path` (or its nearest object)
/// written twice.
fn duplicate_a_key(value: &Value, path: &[Step]) -> String {
    let mut value = value.clone();
    let mut depth = path.len();
    loop {
        if let Value::Object(map) = at_mut(&mut value, &path[..depth])
            && let Some((key, item)) = map.iter().next().map(|(k, v)| (k.clone(), v.clone()))
        {
            let mut twice = Map::new();
            twice.insert("@@TWICE@@".into(), Value::Null);
            twice.extend(map.clone());
            *map = twice;
            let pair = format!("{}: {}", Value::from(key), item);
            return value.to_string().replacen("\"@@TWICE@@\":null", &pair, 1);
        }
        if depth == 0 {
            return value.to_string();
        }
        depth -= 1;
    }
}

/// Parses `text` and, when valid, runs it briefly: no panic, an error that is one sentence
/// about the file, a run that reaches a verdict. Returns whether it was valid.
fn exercise(text: &str, origin: &str) -> bool {
    let parsed = catch_unwind(|| parse_scenario(text, NAME))
        .unwrap_or_else(|_| panic!("parse panicked on a mutant of {origin}: {text}"));
    match parsed {
        Err(error) => {
            let sentence = error.to_string();
            assert!(
                sentence.starts_with(&format!("{NAME}:")) && !sentence.contains('\n'),
                "not one sentence about the file, from a mutant of {origin}: {sentence}\n{text}"
            );
            false
        }
        Ok(scenario) => {
            run_briefly(scenario, text, origin);
            true
        }
    }
}

fn run_briefly(mut scenario: Scenario, text: &str, origin: &str) {
    if scenario.clients > RUN_CLIENTS {
        return;
    }
    scenario.limits.max_events = scenario.limits.max_events.min(RUN_EVENTS);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        run_scenario(&scenario, RunOptions::default(), Vec::new(), &mut [])
    }))
    .unwrap_or_else(|_| panic!("the run panicked on a mutant of {origin}: {text}"));
    let report = outcome.unwrap_or_else(|error| panic!("{origin}: {error}\n{text}"));
    assert!(report.result.events <= RUN_EVENTS + 2 * u64::from(RUN_CLIENTS) + 8);
    assert_eq!(report.digest_hex.len(), 64);
}

#[test]
fn mutated_scenarios_are_refused_in_one_sentence_or_run_to_a_verdict() {
    let started = std::time::Instant::now();
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let (mut valid, mut refused) = (0, 0);
    for (name, text) in seeds() {
        let original: Value = serde_json::from_str(&text).unwrap();
        assert!(exercise(&text, &name), "{name} is valid");
        for _ in 0..MUTATIONS_PER_FILE {
            if exercise(&mutate(&original, &text, &mut rng), &name) {
                valid += 1;
            } else {
                refused += 1;
            }
        }
    }
    // Both sides are exercised: mutants that still run, and mutants refused.
    assert!(
        valid >= 300 && refused >= 1000,
        "{valid} valid, {refused} refused"
    );
    assert!(
        started.elapsed().as_secs() < 120,
        "the suite took {:?}",
        started.elapsed()
    );
}

/// Hand-made mutants the random ones may miss: every kind, on the smallest scenario.
#[test]
fn chosen_mutants_of_the_smallest_scenario() {
    let base = r#"{"name": "two-idle-clients", "clients": 2}"#;
    let original: Value = serde_json::from_str(base).unwrap();
    for replacement in REPLACEMENTS {
        for field in ["name", "clients"] {
            let mut value = original.clone();
            value[field] = Value::String("@@".into());
            exercise(&value.to_string().replacen("\"@@\"", replacement, 1), base);
        }
    }
    for cut in 0..base.len() {
        assert!(!exercise(&base[..cut], base));
    }
    exercise(r#"{"name": "a", "name": "b", "clients": 2}"#, base);
    exercise(r#"{"name": "a", "clients": 2, "clients": 2}"#, base);
    exercise(
        r#"{"name": "a", "clients": 2, "initial_balances": {"1": 5, "1": 6}}"#,
        base,
    );
    exercise(
        &format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        base,
    );
    exercise(
        &format!("{{\"name\": \"{}\", \"clients\": 2}}", "x".repeat(1 << 20)),
        base,
    );
}

/// Bytes that are not text reach the reader through the binary: exit 2, one line.
#[test]
fn byte_level_mutants_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let base = br#"{"name": "caf\xC3\xA9", "clients": 2}"#;
    let cases: Vec<Vec<u8>> = vec![
        base[..16].to_vec(),
        [base.as_slice(), b"\0"].concat(),
        base.iter()
            .map(|&b| if b == 0xC3 { 0xFF } else { b })
            .collect(),
        vec![0xEF, 0xBB, 0xBF, 0xFE],
        vec![0; 4096],
        Vec::new(),
    ];
    for (index, bytes) in cases.iter().enumerate() {
        let path = dir.path().join(format!("case-{index}.json"));
        std::fs::write(&path, bytes).unwrap();
        let output = lamport_ledger(&["run", path.to_str().unwrap()]);
        let message = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "case {index}: {message}");
        assert_eq!(message.lines().count(), 1, "case {index}: {message}");
        assert!(
            message.starts_with(&format!("lamport-ledger: {}:", path.display())),
            "case {index}: {message}"
        );
        assert!(output.stdout.is_empty(), "case {index}");
        assert!(Path::new(&path).exists());
    }
}
