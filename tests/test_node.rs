//! `test-node`: the battery run on the Python example client (docs/nodes.md). The clean client
//! passes; the classic tie-break bug is caught on FIFO links, shrunk, and written to a file
//! that reruns it. Seed counts and shrink budgets are small: every run starts a process per
//! client.

mod common;

use common::lamport_ledger;
use serde_json::Value;

const PYTHON_CLIENT: &str = "python3 examples/python/lamport_client.py";

fn battery(node_cmd: &str, out: &std::path::Path, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec![
        "test-node",
        "--node-cmd",
        node_cmd,
        "--seeds",
        "0..1",
        "--shrink-runs",
        "12",
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = lamport_ledger(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("one JSON object ({error}); stderr: {stderr}"));
    (output.status.code(), report)
}

fn part<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|part| part["assumption"] == name)
        .unwrap_or_else(|| panic!("a {name} part: {report}"))
}

#[test]
fn the_clean_client_passes_and_broken_assumptions_are_reported_not_failed() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = battery(PYTHON_CLIENT, dir.path(), &[]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["passed"], true);
    assert_eq!(report["conformance"]["passed"], true);
    assert_eq!(report["determinism"]["passed"], true);
    let digests = report["determinism"]["digests"].as_array().unwrap();
    assert_eq!(digests[0], digests[1]);
    let fifo = part(&report, "fifo-reliable");
    assert_eq!(fifo["passed"], true, "{report}");
    // The default scenario and seed 0.
    assert_eq!(fifo["runs"], 2);
    let names: Vec<&str> = report["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|part| part["assumption"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "fifo-reliable",
            "reordering",
            "loss",
            "duplication",
            "crash"
        ]
    );
    // Every broken part that broke the client left a file that reruns its failure.
    for broken in report["broken_by"].as_array().unwrap() {
        let failure = &part(&report, broken.as_str().unwrap())["failure"];
        assert!(
            std::path::Path::new(failure["file"].as_str().unwrap()).is_file(),
            "{failure}"
        );
    }
}

#[test]
fn the_tiebreak_bug_is_caught_shrunk_and_rerun_from_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = format!("{PYTHON_CLIENT} --bug tiebreak");
    let (code, report) = battery(&cmd, dir.path(), &[]);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["passed"], false);
    let failure = &part(&report, "fifo-reliable")["failure"];
    assert_eq!(failure["invariant"], "ledger_agreement", "{report}");
    assert_eq!(
        failure["seed"],
        Value::Null,
        "the default scenario: {failure}"
    );
    let shrunk = &failure["shrunk"];
    assert!(
        shrunk["after"].as_str().unwrap().starts_with("2 clients"),
        "{shrunk}"
    );
    let file = failure["file"].as_str().unwrap();
    assert!(
        failure["rerun"]
            .as_str()
            .unwrap()
            .ends_with(&format!("run {file}"))
    );
    // The file names the program: `run` alone replays the violation, which it expects.
    let rerun = lamport_ledger(&["run", file]);
    let text = String::from_utf8_lossy(&rerun.stdout);
    assert_eq!(rerun.status.code(), Some(0), "{text}");
    assert!(
        text.contains("VIOLATION of ledger_agreement") && text.contains("(matched)"),
        "{text}"
    );
}

#[test]
fn the_text_report_names_each_part_and_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let output = lamport_ledger(&[
        "test-node",
        "--node-cmd",
        "python3 tests/fixtures/nodes/bad_node.py malformed",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("conformance   FAILED"), "{text}");
    assert!(text.contains("wrote a line that is not JSON"), "{text}");
    assert!(text.contains("skipped"), "{text}");
    assert!(text.contains("verdict: FAILED"), "{text}");
}

#[test]
fn bad_input_is_one_sentence_and_exit_code_2() {
    for args in [
        &["test-node", "--node-cmd", " "][..],
        &["test-node", "--node-cmd", "true", "--seeds", "5..2"],
        &["test-node", "--node-cmd", "true", "--shrink-runs", "0"],
        &["test-node"],
    ] {
        let output = lamport_ledger(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
}
