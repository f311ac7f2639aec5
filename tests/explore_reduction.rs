//! `lamport-ledger explore` with partial-order reduction (the default) and without
//! (`--no-reduce`): the report says which ran, the verdict and the counterexample are the
//! same, and a path found under reduction is checked for the shortest. The reduction's
//! soundness is tested against the full search in `src/explore/tests/reduction.rs`.

use std::path::PathBuf;
use std::process::Command;

fn explore(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lamport-ledger"))
        .arg("explore")
        .args(args)
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .output()
        .expect("the binary runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

fn json(args: &[&str]) -> serde_json::Value {
    let (_, out) = explore(&[args, &["--format", "json"]].concat());
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn the_report_says_whether_the_reduction_ran() {
    let fifo = "scenarios/explore/reorder-2-fifo.json";
    let (code, reduced) = explore(&[fifo]);
    assert_eq!(code, 0, "{reduced}");
    assert!(reduced.contains("partial-order reduction: on"), "{reduced}");
    let (code, full) = explore(&[fifo, "--no-reduce"]);
    assert_eq!(code, 0, "{full}");
    assert!(full.contains("partial-order reduction: off"), "{full}");
    let (reduced, full) = (json(&[fifo]), json(&[fifo, "--no-reduce"]));
    assert_eq!(reduced["reduction"], true);
    assert_eq!(full["reduction"], false);
    assert!(reduced["distinct"].as_u64() < full["distinct"].as_u64());
    assert_eq!(reduced["complete"], full["complete"]);
    // The TLA+ port is never reduced: its counts are TLC's.
    let tla = [
        "--model",
        "tlaplus-lamport-mutex",
        "--clients",
        "2",
        "--max-clock",
        "3",
    ];
    let (code, out) = explore(&tla);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("partial-order reduction: none"), "{out}");
    assert_eq!(
        json(&tla)["distinct"],
        json(&[&tla[..], &["--no-reduce"]].concat())["distinct"]
    );
}

#[test]
fn a_counterexample_under_reduction_is_the_shortest_and_the_same() {
    let bag = "scenarios/explore/reorder-2-bag.json";
    let (code, out) = explore(&[bag]);
    assert_eq!(code, 0, "{out}");
    let shortest = out.lines().find(|line| line.starts_with("shortest:"));
    let shortest = shortest.unwrap_or_else(|| panic!("a shortest line: {out}"));
    assert!(
        shortest.contains("a full search (no reduction) to depth 6"),
        "{shortest}"
    );
    assert!(out.contains("VIOLATION of mutual_exclusion after 6 steps (a shortest path)"));
    assert!(out.contains("(agrees)"), "{out}");
    let (reduced, full) = (json(&[bag]), json(&[bag, "--no-reduce"]));
    assert_eq!(reduced["violations"], full["violations"]);
    assert_eq!(reduced["shortest_check"]["conclusive"], true);
    assert!(full.get("shortest_check").is_none());
    // The trace is byte for byte the one of the full search.
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"));
    explore(&[bag, "--trace", a.to_str().unwrap()]);
    explore(&[bag, "--no-reduce", "--trace", b.to_str().unwrap()]);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}

#[test]
fn no_progress_line_is_written_when_standard_error_is_not_a_terminal() {
    let (code, out) = explore(&["scenarios/explore/reorder-2-fifo.json", "--format", "json"]);
    assert_eq!(code, 0, "{out}");
    // Standard output and standard error together: the JSON object alone.
    assert_eq!(out.trim().lines().count(), 1, "{out}");
}
