//! The `lamport-ledger explore` command (`src/explore/`, `src/cli/explore.rs`): the trace it
//! writes, its exit codes and its reports. The explorer's counts are checked against naive
//! enumerations in the unit tests of `src/explore/tests/`.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The TLA+ port with two processes and maxClock 3: small enough for any test.
const TLA_TWO_CLIENTS: [&str; 7] = [
    "explore",
    "--model",
    "tlaplus-lamport-mutex",
    "--clients",
    "2",
    "--max-clock",
    "3",
];

fn lamport_ledger(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lamport-ledger"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_command_writes_a_trace_that_check_and_render_accept() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("reorder.jsonl");
    let trace_arg = trace.to_str().unwrap();
    let (code, out, err) = lamport_ledger(&[
        "explore",
        "scenarios/explore/reorder-2-bag.json",
        "--trace",
        trace_arg,
    ]);
    assert_eq!(code, 0, "the expected violation was found: {out}{err}");
    assert!(
        out.contains("VIOLATION of mutual_exclusion after 6 steps"),
        "{out}"
    );
    assert!(out.contains("(agrees)"), "{out}");
    assert!(out.contains("symmetry reduction: none"), "{out}");
    let (code, out, err) = lamport_ledger(&["check", trace_arg]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("VIOLATION of mutual_exclusion"), "{out}");
    assert!(out.contains("agrees"), "{out}");
    let html = dir.path().join("path.html");
    let (code, _, err) = lamport_ledger(&[
        "render",
        trace_arg,
        "--format",
        "html",
        "-o",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::metadata(&html).unwrap().len() > 1000);
}

#[test]
fn exit_codes_follow_the_verdict() {
    // A violation and no expectation: 1.
    let (code, out, _) =
        lamport_ledger(&["explore", "scenarios/explore/reorder-2-bag.json", "--bag"]);
    assert_eq!(code, 0, "{out}"); // the exploration file expects the violation
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.json");
    std::fs::write(
        &plain,
        r#"{"name": "plain", "clients": 2, "network": {"fifo": false},
            "workload": {"transfers": [{"at_us": 0, "from": 1, "to": 2, "amount": 1},
                                       {"at_us": 0, "from": 2, "to": 1, "amount": 1}]}}"#,
    )
    .unwrap();
    let (code, out, _) = lamport_ledger(&["explore", plain.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    let (code, out, _) = lamport_ledger(&["explore", plain.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1);
    let value: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(value["violations"][0]["invariant"], "mutual_exclusion");
    assert_eq!(value["violations"][0]["steps"], 6);
    assert_eq!(value["symmetry_reduction"], false);
    // No violation: 0.
    let (code, out, _) = lamport_ledger(&["explore", "scenarios/explore/reorder-2-fifo.json"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("complete: every reachable state explored"),
        "{out}"
    );
    // The TLA+ model: 0 under FIFO, 1 with bags.
    let (code, out, _) = lamport_ledger(&TLA_TWO_CLIENTS);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = lamport_ledger(&[&TLA_TWO_CLIENTS[..], &["--bag"]].concat());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("State 1: <Initial predicate>"), "{out}");
    assert!(out.contains("/\\ crit = {1, 2}"), "{out}");
    // Bad input: 2, one sentence naming the file and position.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"scenario\": \"x.json\", \"chanels\": \"bag\"}").unwrap();
    let (code, _, err) = lamport_ledger(&["explore", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.json:1:"), "{err}");
    assert!(err.contains("chanels"), "{err}");
    let (code, _, err) = lamport_ledger(&["explore", "--model", "tlaplus-lamport-mutex"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--clients"), "{err}");
    let (code, _, _) = lamport_ledger(&["explore"]);
    assert_eq!(code, 2);
}

#[test]
fn a_memory_budget_stops_the_store_within_it() {
    let budget_mib = 4;
    let (code, out, err) = lamport_ledger(&[
        "explore",
        "scenarios/explore/three-payers.json",
        "--max-memory",
        &budget_mib.to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("a JSON report");
    assert_eq!(report["stop"], "max_memory", "{out}");
    assert_eq!(report["complete"], false, "{out}");
    let store_bytes = report["store_bytes"].as_u64().expect("store_bytes");
    let budget_bytes = budget_mib << 20;
    // The store is filled up to its budget, not stopped at the table's last doubling.
    assert!(
        store_bytes <= budget_bytes && store_bytes > budget_bytes * 3 / 4,
        "a store of {store_bytes} bytes for a budget of {budget_bytes}"
    );
}

#[test]
fn a_search_cut_short_says_so_on_its_verdict() {
    let verdict = |args: &[&str]| {
        let (code, out, err) = lamport_ledger(args);
        assert_eq!(code, 0, "{out}{err}");
        let line = out.lines().find(|line| line.starts_with("verdict:"));
        line.expect("a verdict line").to_string()
    };
    let fifo = "scenarios/explore/reorder-2-fifo.json";
    let complete = verdict(&["explore", fifo]);
    assert!(
        complete.contains("OK: no invariant is violated"),
        "{complete}"
    );
    assert!(!complete.contains("INCOMPLETE"), "{complete}");
    let expected = |args: &[&str]| {
        let (_, out, _) = lamport_ledger(args);
        let line = out.lines().find(|line| line.starts_with("expected:"));
        line.expect("an expected line").to_string()
    };
    assert!(expected(&["explore", fifo]).ends_with("): matched"));
    let capped = expected(&["explore", fifo, "--max-states", "10"]);
    assert!(
        capped.ends_with("): matched as far as explored (INCOMPLETE)"),
        "{capped}"
    );
    let capped = verdict(&["explore", fifo, "--max-states", "10"]);
    assert!(
        capped.contains("OK as far as explored")
            && capped.contains("in the 10 states explored (INCOMPLETE: stopped at --max-states)"),
        "{capped}"
    );
    let shallow = verdict(&["explore", fifo, "--max-depth", "2"]);
    assert!(
        shallow.contains("(INCOMPLETE: states beyond --max-depth"),
        "{shallow}"
    );
    let tla = TLA_TWO_CLIENTS;
    let tla_complete = verdict(&tla);
    assert!(tla_complete.ends_with("OK: no invariant is violated and no deadlock"));
    let tla_capped = verdict(&[&tla[..], &["--max-states", "10"]].concat());
    assert!(tla_capped.contains("OK as far as explored"), "{tla_capped}");
}
