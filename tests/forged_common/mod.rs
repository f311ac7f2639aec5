//! Helpers shared by the tests of forged traces (`tests/check_forged*.rs`): genuine traces
//! to start from, and events to edit. The check of an edited trace is in `common`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::lamport_ledger;

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

/// The position in `events` of the first event of `kind` with `field` = `value`.
pub fn first_with(events: &[Value], kind: &str, field: &str, value: impl Into<Value>) -> usize {
    let value = value.into();
    events
        .iter()
        .position(|e| e["kind"] == kind && e[field] == value)
        .unwrap()
}
