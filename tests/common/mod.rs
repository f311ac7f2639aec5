//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lamport_ledger::runner::{RunReport, run_with_timeline};
use lamport_ledger::scenario::{Scenario, parse_scenario};
use lamport_ledger::sim::RunOptions;

/// What a finished command wrote on its standard output, which must be UTF-8.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("standard output is UTF-8")
}

/// What a finished command wrote on its standard error, which must be UTF-8.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("standard error is UTF-8")
}

/// Runs the built binary from the crate's top folder and waits for it.
pub fn lamport_ledger(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_lamport-ledger"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs")
}

/// Runs the built binary with `input` on its standard input.
pub fn lamport_ledger_with_input(args: &[&str], input: &[u8]) -> std::process::Output {
    use std::process::Stdio;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lamport-ledger"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut stdin = child.stdin.take().expect("a piped stdin");
    // Written from another thread: a child that answers before reading everything would
    // otherwise fill its output pipe while this one blocks on the input.
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().expect("the binary runs");
    writer.join().expect("the input is written");
    output
}

/// The crate's top folder.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every scenario file in `scenarios/`, sorted by name.
pub fn scenario_paths() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/ exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
}

/// `scenarios/<file name>`, as a user would type it from the crate's top folder.
pub fn relative_name(path: &Path) -> String {
    format!("scenarios/{}", path.file_name().unwrap().to_string_lossy())
}

pub fn load(path: &Path) -> Scenario {
    let text = std::fs::read_to_string(path).expect("readable scenario");
    parse_scenario(&text, &relative_name(path)).unwrap_or_else(|error| panic!("{error}"))
}

/// A scenario written inline in a test, as JSON; `name` is also its source.
pub fn scenario_from_json(name: &str, json: serde_json::Value) -> Scenario {
    parse_scenario(&json.to_string(), name).unwrap_or_else(|error| panic!("{error}"))
}

/// A writer whose bytes the test can read after the run took ownership of it.
#[derive(Clone, Default)]
pub struct SharedBuffer(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuffer {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

/// Runs a scenario as `lamport-ledger run` does: returns the report, the text output and the
/// JSONL trace.
pub fn run(scenario: &Scenario) -> (RunReport, String, Vec<u8>) {
    run_with(scenario, RunOptions::default())
}

/// [`run`] with other run options.
pub fn run_with(scenario: &Scenario, options: RunOptions) -> (RunReport, String, Vec<u8>) {
    let trace = SharedBuffer::default();
    let rerun = format!(
        "lamport-ledger run {} --seed {}",
        scenario.source, scenario.seed
    );
    let (report, text) = run_with_timeline(
        scenario,
        options,
        vec![Box::new(trace.clone())],
        Vec::new(),
        &rerun,
        &mut [],
    )
    .expect("writing to memory cannot fail");
    (
        report,
        String::from_utf8(text).expect("the timeline is UTF-8"),
        trace.bytes(),
    )
}

/// `lamport-ledger check PATH EXTRA…`.
pub fn check(path: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["check", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    lamport_ledger(&args)
}

/// Writes `text` to `name` in `dir`, checks it, and asserts the exit code (showing both
/// streams when it differs).
pub fn check_written(
    dir: &Path,
    name: &str,
    text: &str,
    expected_code: i32,
) -> std::process::Output {
    check_written_with(dir, name, text, &[], expected_code)
}

/// As [`check_written`], with extra arguments to `check`.
pub fn check_written_with(
    dir: &Path,
    name: &str,
    text: &str,
    extra: &[&str],
    expected_code: i32,
) -> std::process::Output {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let output = check(&path, extra);
    assert_eq!(
        output.status.code(),
        Some(expected_code),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    output
}

/// The summary, the last line of `trace`.
pub fn summary_of(trace: &str) -> serde_json::Value {
    serde_json::from_str(trace.trim_end().lines().last().unwrap()).unwrap()
}

/// The trace with its summary line changed by `edit` (the digest does not cover the summary).
pub fn with_summary(trace: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let body_end = trace.trim_end().rfind('\n').unwrap() + 1;
    let mut summary = summary_of(trace);
    edit(&mut summary);
    format!("{}{summary}\n", &trace[..body_end])
}

/// The trace with its event lines replaced by `edit`'s (renumbered from 0), and a summary
/// whose counts, violations and digest fit them: what anyone can forge without the simulator.
pub fn forged(trace: &str, edit: impl FnOnce(&mut Vec<serde_json::Value>)) -> String {
    let mut lines = trace.lines();
    let header = lines.next().unwrap();
    let mut events: Vec<serde_json::Value> = lines
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let summary = events.pop().unwrap();
    edit(&mut events);
    forge(header, &events, &summary)
}

/// A trace of `header`, `events` (renumbered from 0) and `summary` with its counts, its list
/// of violations and its digest recomputed from the events.
pub fn forge(header: &str, events: &[serde_json::Value], summary: &serde_json::Value) -> String {
    let mut text = format!("{header}\n");
    let mut violations = Vec::new();
    for (seq, event) in events.iter().enumerate() {
        let mut event = event.clone();
        event["seq"] = seq.into();
        if event["kind"] == "violation" {
            violations.push(
                serde_json::json!({"invariant": event["invariant"], "seq": seq,
                "t": event["t"], "detail": event["detail"]}),
            );
        }
        text.push_str(&format!("{event}\n"));
    }
    let count = |kind: &str| events.iter().filter(|e| e["kind"] == kind).count();
    let mut summary = summary.clone();
    summary["events"] = events.len().into();
    summary["committed"] = count("commit").into();
    summary["aborted"] = count("abort").into();
    summary["messages_sent"] = count("send").into();
    summary["violations"] = violations.into();
    summary["digest"] = digest_hex(&text).into();
    format!("{text}{summary}\n")
}

/// The SHA-256 of `text` in lowercase hex: a trace's digest of the lines before its summary.
pub fn digest_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
