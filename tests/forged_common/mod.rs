//! Helpers shared by the tests of forged traces (`tests/check_forged*.rs`): genuine traces
//! to start from, and the check of an edited one.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::{check, lamport_ledger, stderr};

/// `run scenarios/NAME.json --trace DIR/NAME.jsonl`; returns the trace path.
pub fn traced_run(dir: &Path, name: &str) -> PathBuf {
    let scenario = format!("scenarios/{name}.json");
    let trace = dir.join(format!("{name}.jsonl"));
    let output = lamport_ledger(&["run", &scenario, "--trace", &trace.display().to_string()]);
    assert_eq!(output.status.code(), Some(0), "{scenario}");
    trace
}

/// The text of [`traced_run`]'s trace.
pub fn trace_of(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(traced_run(dir, name)).unwrap()
}

/// Writes `text` to `name` in `dir`, checks it, and asserts the exit code (showing both
/// streams when it differs).
pub fn check_written(dir: &Path, name: &str, text: &str, expected_code: i32) -> Output {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let output = check(&path, &[]);
    assert_eq!(
        output.status.code(),
        Some(expected_code),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    output
}

/// The position in `events` of the first event of `kind` with `field` = `value`.
pub fn first_with(events: &[Value], kind: &str, field: &str, value: impl Into<Value>) -> usize {
    let value = value.into();
    events
        .iter()
        .position(|e| e["kind"] == kind && e[field] == value)
        .unwrap()
}
