//! Bad input gets a clear error, never a panic: every scenario in `scenarios/` and every trace
//! the simulator writes, mutated many ways (truncated, bytes flipped, numbers replaced by 0,
//! -1, 1e30, 2^64, strings replaced, keys deleted or duplicated, wrong types, deep nesting),
//! is fed to the library entry points the command line uses: the scenario parser, the run
//! itself (bounded), the swarm draw and the explorer's setup; the trace reader, the offline
//! checker, every renderer and diff. Each must return (an `Err` with a message, or a result),
//! never panic. Deterministic (a fixed seed) and bounded: set `ROBUSTNESS_CASES` for a longer
//! hunt.
//!
//! A unit test rather than an integration test because the swarm draw, the diff and the
//! explorer's setup are crate-private.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::check::offline::{OfflineOptions, check_trace};
use crate::hunt::diff_readers;
use crate::render::{RenderFormat, Window, read_capture, render};
use crate::runner::run_with_timeline;
use crate::scenario::{Scenario, parse_scenario};
use crate::sim::RunOptions;
use crate::trace::read::ReadError;

/// The crate's top folder.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A writer whose bytes the test can read after the run took ownership of it.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs a scenario as `lamport-ledger run` does: returns the text output and the JSONL trace.
fn run_with(scenario: &Scenario, options: RunOptions) -> (String, Vec<u8>) {
    let trace = SharedBuffer::default();
    let rerun = format!(
        "lamport-ledger run {} --seed {}",
        scenario.source, scenario.seed
    );
    let (_, text) = run_with_timeline(
        scenario,
        options,
        vec![Box::new(trace.clone())],
        Vec::new(),
        &rerun,
        &mut [],
    )
    .expect("writing to memory cannot fail");
    let trace = trace.0.lock().unwrap().clone();
    (
        String::from_utf8(text).expect("the timeline is UTF-8"),
        trace,
    )
}

/// The scenario files in `scenarios/` as (name as a user types it, text), sorted by name.
fn scenario_files() -> Vec<(String, String)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/ exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| {
            (
                format!("scenarios/{}", path.file_name().unwrap().to_string_lossy()),
                std::fs::read_to_string(path).unwrap(),
            )
        })
        .collect()
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The generator's seed: fixed, or `ROBUSTNESS_SEED` for another sequence of cases.
fn seed(default: u64) -> u64 {
    std::env::var("ROBUSTNESS_SEED")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

fn cases(default: usize) -> usize {
    std::env::var("ROBUSTNESS_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

/// Numbers a mutation puts in place of a value.
const ODD_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "2",
    "3",
    "-0",
    "1e30",
    "-1e30",
    "1.5",
    "0.0",
    "4294967295",
    "4294967296",
    "2147483648",
    "9007199254740993",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "340282366920938463463374607431768211456",
    "1000000000000",
    "1000000000001",
    "3600000000",
    "3600000001",
    "10000",
    "10001",
    "100000000",
    "10000000000",
    "1e400",
];

/// Other values a mutation puts in place of a value.
fn odd_value(rng: &mut Rng) -> Value {
    match rng.below(14) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => Value::String(String::new()),
        3 => Value::String("x".repeat(rng.below(3) * 5000 + 1)),
        4 => Value::String("\u{0}\u{feff}é\u{1F600}\n\"".into()),
        5 => Value::Array(Vec::new()),
        6 => Value::Object(serde_json::Map::new()),
        7 => serde_json::json!([0, 0]),
        8 => serde_json::json!([5, 3]),
        9 => serde_json::json!([1, 0]),
        10 => serde_json::json!([18446744073709551615u64, 18446744073709551615u64]),
        11 => Value::String(rng.pick(ODD_NUMBERS).to_string()),
        _ => {
            let number: &&str = rng.pick(ODD_NUMBERS);
            serde_json::from_str(number).unwrap_or(Value::Null)
        }
    }
}

/// Every value in `value`, by pointer.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                pointers(item, format!("{at}/{escaped}"), out);
            }
        }
        _ => {}
    }
}

/// One structural mutation of a JSON document; `None` when `text` is not JSON.
fn mutate_value(rng: &mut Rng, text: &str) -> Option<String> {
    let mut value: Value = serde_json::from_str(text).ok()?;
    let mut all = Vec::new();
    pointers(&value, String::new(), &mut all);
    let at = rng.pick(&all).clone();
    let (parent_at, key) = match at.rfind('/') {
        Some(slash) => (
            at[..slash].to_string(),
            Some(at[slash + 1..].replace("~1", "/").replace("~0", "~")),
        ),
        None => (String::new(), None),
    };
    let choice = rng.below(10);
    match choice {
        // Delete the value (a key, or a list item).
        0 if key.is_some() => {
            let key = key.unwrap();
            match value.pointer_mut(&parent_at)? {
                Value::Object(map) => {
                    map.remove(&key);
                }
                Value::Array(items) => {
                    items.remove(key.parse::<usize>().ok()?);
                }
                _ => {}
            }
        }
        // Repeat a list item many times.
        1 => {
            if let Some(Value::Array(items)) = value.pointer_mut(&at)
                && let Some(first) = items.first().cloned()
            {
                let times = *rng.pick(&[2, 50, 3000]);
                items.extend(std::iter::repeat_n(first, times));
            }
        }
        // Bury it deep in lists.
        2 => {
            let depth = *rng.pick(&[3, 200, 5000]);
            let inner = value.pointer(&at)?.to_string();
            let buried = format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth));
            let marker = "\"__buried__\"";
            *value.pointer_mut(&at)? = Value::String("__buried__".into());
            return Some(
                serde_json::to_string(&value)
                    .ok()?
                    .replacen(marker, &buried, 1),
            );
        }
        // An unknown key next to it.
        3 => {
            if let Some(Value::Object(map)) = value.pointer_mut(&at) {
                map.insert("surprise".into(), odd_value(rng));
            } else {
                *value.pointer_mut(&at)? = odd_value(rng);
            }
        }
        // Write a key twice.
        4 if key.is_some() => {
            let key = key.unwrap();
            if let Some(Value::Object(_)) = value.pointer(&parent_at) {
                let again = format!("{}: {}, ", Value::String(key.clone()), odd_value(rng));
                let whole = serde_json::to_string_pretty(&value).ok()?;
                // Insert right after the object's opening brace (found by its first key).
                let needle = format!("{}: ", Value::String(key));
                let position = whole.find(&needle)?;
                let mut text = whole;
                text.insert_str(position, &again);
                return Some(text);
            }
            *value.pointer_mut(&at)? = odd_value(rng);
        }
        _ => {
            *value.pointer_mut(&at)? = odd_value(rng);
        }
    }
    Some(if rng.below(2) == 0 {
        serde_json::to_string_pretty(&value).ok()?
    } else {
        serde_json::to_string(&value).ok()?
    })
}

/// One mutation of `text`: byte-level or structural.
fn mutate(rng: &mut Rng, text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    match rng.below(8) {
        0 => {
            bytes.truncate(rng.below(bytes.len() + 1));
        }
        1 => {
            let i = rng.below(bytes.len());
            if !bytes.is_empty() {
                bytes[i] = *rng.pick(b"{}[]\",:0-9e.\n \\\xff\x00a");
            }
        }
        2 => {
            // Replace one number in the text.
            let starts: Vec<usize> = (0..bytes.len())
                .filter(|&i| {
                    bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric())
                })
                .collect();
            if !starts.is_empty() {
                let start = *rng.pick(&starts);
                let end = (start..bytes.len())
                    .find(|&i| !bytes[i].is_ascii_digit())
                    .unwrap_or(bytes.len());
                let number = rng.pick(ODD_NUMBERS).as_bytes().to_vec();
                bytes.splice(start..end, number);
            }
        }
        3 => {
            let i = rng.below(bytes.len());
            let n = rng.below(8).min(bytes.len() - i.min(bytes.len()));
            bytes.drain(i..i + n);
        }
        _ => {
            if let Some(mutated) = mutate_value(rng, text) {
                bytes = mutated.into_bytes();
            }
        }
    }
    bytes
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

fn scenario_texts() -> Vec<(String, String)> {
    let mut texts = scenario_files();
    let explore = root().join("scenarios").join("explore");
    let mut explore_paths: Vec<_> = std::fs::read_dir(&explore)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    explore_paths.sort();
    for path in explore_paths {
        let name = format!("explore/{}", path.file_name().unwrap().to_string_lossy());
        texts.push((name, std::fs::read_to_string(&path).unwrap()));
    }
    texts.push((
        "small.json".into(),
        serde_json::json!({
            "name": "small", "clients": 3,
            "workload": {"transfers": [{"at_us": 0, "from": 1, "to": 2, "amount": 3}],
                         "balance_reads": [{"at_us": 10, "client": 2, "of": 1}],
                         "generated": {"count": 5, "gap": {"kind": "constant", "us": 10},
                                       "amount_min": 1, "amount_max": 3, "payers": [1, 2], "payees": [2, 3]}},
            "faults": {"partitions": [{"at_us": 5, "heal_us": 100, "groups": [[1], [2, 3]]}],
                       "crashes": [{"client": 3, "at_us": 50, "restart_us": 60, "keep": "nothing"}]},
            "schedule": {"messages": [{"from": 1, "to": 2, "nth": 0, "delay_us": 10, "duplicate_delay_us": 20},
                                      {"from": 2, "to": 1, "nth": 0, "drop": true}]},
            "swarm": {"clients": [2, 4], "latency_us": [0, 100], "fifo": [true, false],
                      "drop_ratio_max": [1, 20], "duplicate_ratio_max": [1, 20],
                      "partitions_max": 1, "crashes_max": 1, "transfers": [1, 5], "cs_us": [0, 100]},
            "expect": {"outcome": "ok"},
            "limits": {"max_events": 5000, "max_time_us": 1000000}
        })
        .to_string(),
    ));
    texts
}

/// Parses, and for a parsed scenario small enough to run in a test, runs it (bounded) and
/// draws swarm configurations from it. Returns what panicked, if anything.
fn try_scenario(name: &str, bytes: &[u8], explore_at: &Path) -> Option<String> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        std::fs::write(explore_at, bytes).unwrap();
        let _ = crate::explore::settings::load(explore_at);
        let Ok(mut scenario) = parse_scenario(&text, name) else {
            return;
        };
        if scenario.clients > 16 {
            return;
        }
        for seed in 0..3 {
            let _ = crate::hunt::swarm::draw(&scenario, seed);
        }
        scenario.limits.max_events = scenario.limits.max_events.min(3000);
        let _ = run_with(&scenario, RunOptions::default());
    }));
    outcome.err().map(panic_text)
}

#[test]
fn mutated_scenarios_never_panic() {
    let texts = scenario_texts();
    // The explorer reads a file: an exploration file's `scenario` is relative to it, so the
    // copies live next to the scenarios they name.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("explore")).unwrap();
    for (name, text) in &texts {
        let file = name.trim_start_matches("scenarios/");
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    let explore_at = dir.path().join("explore").join("mutated.json");
    let mut rng = Rng(seed(0x5eed_0001));
    let mut failures = Vec::new();
    for case in 0..cases(1500) {
        let (name, text) = &texts[case % texts.len()];
        let mut bytes = mutate(&mut rng, text);
        if rng.below(3) == 0 {
            bytes = mutate(&mut rng, &String::from_utf8_lossy(&bytes));
        }
        let started = std::time::Instant::now();
        let panicked = try_scenario(name, &bytes, &explore_at);
        if std::env::var_os("ROBUSTNESS_SLOW").is_some() && started.elapsed().as_secs_f64() > 1.0 {
            eprintln!(
                "SLOW case {case} ({name}) {:.1}s:\n{}",
                started.elapsed().as_secs_f64(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(3000)])
            );
        }
        if let Some(panic) = panicked {
            failures.push(format!(
                "case {case} ({name}): {panic}\n--- input ---\n{}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(4000)])
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mutated scenarios panicked:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Traces the simulator writes, from every scenario (cut short).
fn trace_texts() -> Vec<(String, String)> {
    scenario_texts()
        .into_iter()
        .filter_map(|(name, text)| {
            let mut scenario = parse_scenario(&text, &name).ok()?;
            if scenario.clients > 8 {
                return None;
            }
            scenario.limits.max_events = scenario.limits.max_events.min(400);
            let (_, trace) = run_with(&scenario, RunOptions::default());
            Some((name, String::from_utf8(trace).unwrap()))
        })
        .collect()
}

/// Mutates one line of a trace (or the whole text) and returns the new trace.
fn mutate_trace(rng: &mut Rng, text: &str) -> Vec<u8> {
    if rng.below(4) == 0 {
        return mutate(rng, text);
    }
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let i = match rng.below(3) {
        0 => 0,
        1 => lines.len() - 1,
        _ => rng.below(lines.len()),
    };
    match rng.below(6) {
        0 => {
            lines.remove(i);
        }
        1 => {
            let copy = lines[i].clone();
            lines.insert(i, copy);
        }
        2 => {
            let j = rng.below(lines.len());
            lines.swap(i, j);
        }
        _ => {
            lines[i] = String::from_utf8_lossy(&mutate(rng, &lines[i])).into_owned();
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out.into_bytes()
}

fn try_trace(original: &str, bytes: &[u8], rng: &mut Rng) -> Option<String> {
    let window = match rng.below(3) {
        0 => Window::all(),
        1 => Window::new(Some(rng.next() % 50), None),
        _ => Window::new(Some(rng.next() % 50), Some(rng.next() % 100)),
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let keep_going = bytes.len().is_multiple_of(2);
        let _ = check_trace(
            Cursor::new(bytes),
            OfflineOptions {
                keep_going,
                ..OfflineOptions::default()
            },
        );
        if let Ok(capture) = read_capture(Cursor::new(bytes), window) {
            for format in [
                RenderFormat::Text,
                RenderFormat::Svg,
                RenderFormat::Html,
                RenderFormat::Shiviz,
                RenderFormat::Mermaid,
            ] {
                let _ = render(format, &capture, &mut std::io::sink());
            }
        }
        let _ = diff_readers(
            Cursor::new(original.as_bytes()),
            Cursor::new(bytes),
            "a.jsonl",
            "b.jsonl",
            3,
        );
    }));
    outcome.err().map(panic_text)
}

#[test]
fn mutated_traces_never_panic() {
    let traces = trace_texts();
    assert!(traces.len() > 10);
    let mut rng = Rng(seed(0x5eed_0002));
    let mut failures = Vec::new();
    for case in 0..cases(1500) {
        let (name, text) = &traces[case % traces.len()];
        let mut bytes = mutate_trace(&mut rng, text);
        if rng.below(3) == 0 {
            bytes = mutate_trace(&mut rng, &String::from_utf8_lossy(&bytes));
        }
        if let Some(panic) = try_trace(text, &bytes, &mut rng) {
            failures.push(format!(
                "case {case} (trace of {name}): {panic}\n--- input ---\n{}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(6000)])
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mutated traces panicked:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The trace of `scenarios/NAME` as `run --trace` writes it.
fn trace_of(name: &str) -> String {
    let path = format!("scenarios/{name}");
    let text = std::fs::read_to_string(root().join(&path)).unwrap();
    let scenario = parse_scenario(&text, &path).unwrap_or_else(|error| panic!("{error}"));
    String::from_utf8(run_with(&scenario, RunOptions::default()).1).unwrap()
}

/// Regression (found by `mutated_traces_never_panic`): a committed block that names client 0
/// made every renderer's state replay underflow an index.
#[test]
fn a_block_naming_client_0_is_drawn_or_refused_never_a_panic() {
    let trace = trace_of("reorder-2.json");
    let lines: Vec<&str> = trace.lines().collect();
    let commit = lines
        .iter()
        .position(|line| line.contains("\"kind\":\"commit\""))
        .expect("reorder-2 commits a block");
    for field in ["\"to\":1", "\"from\":2"] {
        let mut edited: Vec<String> = lines.iter().map(|line| line.to_string()).collect();
        assert!(edited[commit].contains(field), "{}", edited[commit]);
        let zero = format!("{}0", &field[..field.len() - 1]);
        edited[commit] = edited[commit].replace(field, &zero);
        // Whole (the digest then no longer matches) and cut just after the edited line.
        for end in [edited.len(), commit + 1] {
            let text = edited[..end].join("\n") + "\n";
            let mut rng = Rng(end as u64);
            assert_eq!(try_trace(&trace, text.as_bytes(), &mut rng), None);
            let capture = read_capture(
                Cursor::new(text.as_bytes()),
                Window::new(None, Some(commit as u64)),
            );
            if let Ok(capture) = capture {
                for format in [RenderFormat::Text, RenderFormat::Html] {
                    render(format, &capture, &mut std::io::sink()).unwrap();
                }
            }
        }
    }
}

/// Regression: `diff --context 18446744073709551615` overflowed computing the room for the
/// lines before the difference (and a large context reserved that room up front).
#[test]
fn a_huge_diff_context_neither_overflows_nor_reserves_memory() {
    let a = trace_of("reorder-2.json");
    let b = a.replacen("\"amount\":3", "\"amount\":2", 1);
    assert_ne!(a, b);
    for context in [usize::MAX, usize::MAX / 2, 1 << 40] {
        let diff = diff_readers(Cursor::new(&a), Cursor::new(&b), "a", "b", context).unwrap();
        assert!(!diff.identical());
        let same = diff_readers(Cursor::new(&a), Cursor::new(&a), "a", "b", context).unwrap();
        assert!(same.identical());
    }
}

/// A header line declaring `clients` clients (each with 10), then one event.
fn trace_declaring(clients: u32) -> String {
    let balances: serde_json::Map<String, Value> = (1..=clients)
        .map(|id| (id.to_string(), Value::from(10)))
        .collect();
    let header = serde_json::json!({
        "type": "header", "format": "lamport-ledger-trace", "version": 1, "scenario": "big",
        "seed": 1, "clients": clients, "initial_balances": balances, "protocol": "lamport",
        "mutations": [], "cs_us": 1000
    });
    format!(
        "{header}\n{}\n",
        r#"{"type":"event","seq":0,"t":0,"node":1,"clock":0,"kind":"transfer","to":2,"amount":7}"#
    )
}

fn read_error(result: Result<impl Sized, ReadError>) -> String {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(error) => error.to_string(),
    }
}

/// Regression: a trace header may declare at most as many clients as a scenario may have
/// (it allowed 100000, and checking or drawing such a header tried to allocate 160 GB up
/// front); checking a header of 10000 clients costs memory for the clients that work only
/// (it took 800 MB); drawing refuses more than 1000 clients (it took 2.3 GB for 10000).
#[test]
fn headers_with_absurd_client_counts_are_refused_or_cheap() {
    let over = trace_declaring(10_001);
    let message = read_error(check_trace(Cursor::new(&over), OfflineOptions::default()));
    assert!(message.starts_with("line 1"), "{message}");
    assert!(message.contains("1 to 10000 clients"), "{message}");
    let message = read_error(read_capture(Cursor::new(&over), Window::all()));
    assert!(message.contains("1 to 10000 clients"), "{message}");

    // 10000 clients: the check reads to the missing summary at once (no 800 MB of tables).
    let most = trace_declaring(10_000);
    let started = std::time::Instant::now();
    let message = read_error(check_trace(Cursor::new(&most), OfflineOptions::default()));
    assert!(message.contains("without a summary line"), "{message}");
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());

    let message = read_error(read_capture(
        Cursor::new(&trace_declaring(1001)),
        Window::all(),
    ));
    assert_eq!(
        message,
        "line 1: a drawing has at most 1000 clients (one lane each), but this trace has 1001"
    );
    let message = read_error(read_capture(
        Cursor::new(&trace_declaring(1000)),
        Window::all(),
    ));
    assert!(message.contains("without a summary line"), "{message}");
}

/// Regression (found by `mutated_traces_never_panic`): a block whose `index` is
/// 18446744073709551615 overflowed the chain check's and the renderers' ledger length
/// (`index + 1`); the reader now refuses such an index, naming line and column.
#[test]
fn a_block_index_that_cannot_be_counted_past_is_refused() {
    let trace = trace_of("reorder-2.json");
    let line = trace
        .lines()
        .position(|line| line.contains("\"kind\":\"commit\""))
        .expect("reorder-2 commits a block");
    let edited: String = trace
        .lines()
        .enumerate()
        .map(|(i, text)| {
            let text = if i == line {
                text.replace("\"index\":0", "\"index\":18446744073709551615")
            } else {
                text.to_string()
            };
            text + "\n"
        })
        .collect();
    assert_ne!(edited, trace);
    let message = read_error(check_trace(Cursor::new(&edited), OfflineOptions::default()));
    assert!(
        message.starts_with(&format!("line {}, column", line + 1)),
        "{message}"
    );
    assert!(
        message.contains("block index 18446744073709551615 is too large"),
        "{message}"
    );
    let message = read_error(read_capture(Cursor::new(&edited), Window::all()));
    assert!(message.contains("is too large"), "{message}");
    let mut rng = Rng(1);
    assert_eq!(try_trace(&trace, edited.as_bytes(), &mut rng), None);
}

/// Regression (found by `mutated_traces_never_panic`): initial balances near 2^64 in a trace
/// header overflowed the offline check's replay of the balance tables (and `no_overdraft`'s)
/// when a block paid into one of them. The reader now refuses a header whose balances add up
/// past 2^64 - 1; up to that, blocks only move money and nothing overflows.
#[test]
fn balances_near_the_top_of_u64_do_not_overflow_the_check() {
    let trace = trace_of("reorder-2.json");
    let original = r#""initial_balances":{"1":10,"2":10}"#;
    assert!(trace.contains(original));
    let over = trace.replacen(
        original,
        r#""initial_balances":{"1":18446744073709551615,"2":1}"#,
        1,
    );
    for keep_going in [false, true] {
        let message = read_error(check_trace(
            Cursor::new(&over),
            OfflineOptions {
                keep_going,
                ..OfflineOptions::default()
            },
        ));
        assert_eq!(
            message,
            "line 1: the `initial_balances` add up to more than 18446744073709551615, which no \
             run can hold"
        );
    }
    // At the top: the replay is exact, and the edited header only breaks the digest.
    let top = trace.replacen(
        original,
        r#""initial_balances":{"1":9223372036854775807,"2":9223372036854775808}"#,
        1,
    );
    for keep_going in [false, true] {
        let message = read_error(check_trace(
            Cursor::new(&top),
            OfflineOptions {
                keep_going,
                ..OfflineOptions::default()
            },
        ));
        assert!(message.contains("digest"), "{message}");
    }
    let mut rng = Rng(2);
    assert_eq!(try_trace(&trace, over.as_bytes(), &mut rng), None);
    assert_eq!(try_trace(&trace, top.as_bytes(), &mut rng), None);
}
