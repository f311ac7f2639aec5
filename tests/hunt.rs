//! `sweep`, `replay`, `diff` and `run --check-determinism` as a user runs them.

mod common;

use common::{lamport_ledger, stderr, stdout};

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

const REORDER: &str = "scenarios/reorder-2.json";

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Runs `sweep` with `--out` into `dir` and returns the output and the result lines.
fn sweep(dir: &Path, name: &str, args: &[&str]) -> (Output, Vec<String>) {
    let out = dir.join(name);
    let mut all = vec!["sweep"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--out", path_str(&out)]);
    let output = lamport_ledger(&all);
    let text = fs::read_to_string(&out)
        .unwrap_or_else(|_| panic!("sweep wrote {name}: {}", stderr(&output)));
    (output, text.lines().map(str::to_string).collect())
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn seeds_where(lines: &[String], passed: bool) -> Vec<u64> {
    lines
        .iter()
        .map(|line| parse(line))
        .filter(|record| record["passed"] == passed)
        .map(|record| record["seed"].as_u64().unwrap())
        .collect()
}

/// A copy of reorder-2 with its `expect` replaced (or removed when `expect` is `None`).
fn reorder_copy(dir: &Path, expect: Option<Value>) -> PathBuf {
    let text = fs::read_to_string(common::root().join(REORDER)).unwrap();
    let mut scenario: Value = serde_json::from_str(&text).unwrap();
    let object = scenario.as_object_mut().unwrap();
    match expect {
        Some(expect) => object.insert("expect".into(), expect),
        None => object.remove("expect"),
    };
    let path = dir.join("reorder-copy.json");
    fs::write(&path, serde_json::to_string_pretty(&scenario).unwrap()).unwrap();
    path
}

/// The `digest:` line of `run`'s verdict.
fn run_digest(scenario: &str, seed: u64) -> String {
    let output = lamport_ledger(&["run", scenario, "--seed", &seed.to_string()]);
    stdout(&output)
        .lines()
        .find_map(|line| line.strip_prefix("digest:"))
        .expect("run prints the digest")
        .trim()
        .to_string()
}

#[test]
fn a_sweep_of_reorder_2_finds_failing_and_passing_seeds_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (output, lines) = sweep(dir.path(), "all.jsonl", &[REORDER, "--seeds", "0..200"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(lines.len(), 200);
    let passing = seeds_where(&lines, true);
    let failing = seeds_where(&lines, false);
    assert!(!passing.is_empty() && !failing.is_empty(), "{lines:?}");
    // reorder-2 expects mutual exclusion to break: a passing seed broke it, a failing one did
    // not break anything.
    for line in &lines {
        let record = parse(line);
        let broke = record["invariants"]
            .as_array()
            .unwrap()
            .contains(&Value::from("mutual_exclusion"));
        assert_eq!(record["passed"], broke, "{line}");
    }
    let text = stdout(&output);
    assert!(
        text.contains(&format!(
            "no violation (every invariant held): {} runs",
            failing.len()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{} passed, {} failed",
            passing.len(),
            failing.len()
        )),
        "{text}"
    );
    // How the replay command starts depends on how the binary was started (tests/cli.rs
    // checks each way); the rest does not.
    let first = failing[0];
    let digest = run_digest(REORDER, first);
    assert!(
        text.contains(&format!(
            " replay {REORDER} --seed {first} --expect-digest {digest}\n"
        )),
        "{text}"
    );
}

#[test]
fn with_expect_ok_the_failing_seeds_are_the_violating_ones_grouped_by_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let (_, original) = sweep(
        dir.path(),
        "original.jsonl",
        &[REORDER, "--seeds", "0..200"],
    );
    for expect in [Some(serde_json::json!({"outcome": "ok"})), None] {
        let copy = reorder_copy(dir.path(), expect);
        let (output, lines) = sweep(
            dir.path(),
            "copy.jsonl",
            &[path_str(&copy), "--seeds", "0..200"],
        );
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert_eq!(seeds_where(&lines, false), seeds_where(&original, true));
        assert_eq!(seeds_where(&lines, true), seeds_where(&original, false));
        let text = stdout(&output);
        assert!(text.contains("\n  mutual_exclusion: "), "{text}");
    }
}

#[test]
fn expect_on_the_command_line_judges_in_place_of_the_scenario_s() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = [REORDER, "--seeds", "0..200"];
    let (_, original) = sweep(dir.path(), "original.jsonl", &seeds);
    let violating = seeds_where(&original, true);
    let quiet = seeds_where(&original, false);

    // The seeds that violate, listed without editing the file.
    let (output, lines) = sweep(
        dir.path(),
        "ok.jsonl",
        &[&seeds[..], &["--expect", "ok"]].concat(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(seeds_where(&lines, false), violating);
    let text = stdout(&output);
    assert!(
        text.contains("\nexpected:  ok: no violation (from --expect)\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("\n  mutual_exclusion: {} runs\n", violating.len())),
        "{text}"
    );
    let first = violating[0];
    assert!(
        text.contains(&format!(
            " replay {REORDER} --seed {first} --expect-digest "
        )),
        "{text}"
    );

    // A file with no expect judged as the original is.
    let copy = reorder_copy(dir.path(), None);
    for expect in ["mutual_exclusion", "violation"] {
        let (output, lines) = sweep(
            dir.path(),
            "copy.jsonl",
            &[path_str(&copy), "--seeds", "0..200", "--expect", expect],
        );
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert_eq!(seeds_where(&lines, false), quiet, "--expect {expect}");
    }
    // An invariant the runs never violate: every run fails.
    let (_, lines) = sweep(
        dir.path(),
        "liveness.jsonl",
        &[&seeds[..], &["--expect", "liveness"]].concat(),
    );
    assert!(seeds_where(&lines, true).is_empty());
}

#[test]
fn a_sweep_with_no_failing_seed_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let (_, lines) = sweep(dir.path(), "all.jsonl", &[REORDER, "--seeds", "0..40"]);
    let passing = seeds_where(&lines, true);
    let seed = passing
        .first()
        .expect("some seed breaks mutual exclusion")
        .to_string();
    let (output, lines) = sweep(dir.path(), "one.jsonl", &[REORDER, "--seeds", &seed]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(lines.len(), 1);
    assert!(stdout(&output).contains("every run passed"));
}

#[test]
fn results_do_not_depend_on_the_number_of_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let args = [REORDER, "--seeds", "0..200", "--jobs"];
    let (one, lines_one) = sweep(dir.path(), "one.jsonl", &[&args[..], &["1"]].concat());
    let (two, lines_two) = sweep(dir.path(), "two.jsonl", &[&args[..], &["2"]].concat());
    assert_eq!(lines_one, lines_two);
    let seeds: Vec<u64> = lines_one
        .iter()
        .map(|line| parse(line)["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, (0..200).collect::<Vec<u64>>(), "seed order");
    // The report is the same too, but for the timing line and the thread count.
    let strip = |output: &Output| {
        stdout(output)
            .lines()
            .filter(|line| !line.starts_with("runs:") && !line.starts_with("sweep:"))
            .filter(|line| !line.starts_with("results:"))
            .map(|line| line.replace("one.jsonl", "X").replace("two.jsonl", "X"))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&one), strip(&two));
}

#[test]
fn the_union_of_all_shards_equals_the_unsharded_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let (_, whole) = sweep(dir.path(), "whole.jsonl", &[REORDER, "--seeds", "10..210"]);
    let mut union: Vec<String> = Vec::new();
    for k in 1..=3u64 {
        let shard = format!("{k}/3");
        let (output, lines) = sweep(
            dir.path(),
            &format!("shard-{k}.jsonl"),
            &[REORDER, "--seeds", "10..210", "--shard", &shard],
        );
        assert!(output.status.code().is_some_and(|c| c <= 1));
        for line in &lines {
            let seed = parse(line)["seed"].as_u64().unwrap();
            assert_eq!((seed - 10) % 3, k - 1, "shard {shard} ran seed {seed}");
        }
        union.extend(lines);
    }
    // Merging is `cat` and a sort by seed.
    union.sort_by_key(|line| parse(line)["seed"].as_u64().unwrap());
    assert_eq!(union, whole);
}

#[test]
fn a_sweep_line_carries_the_digest_that_run_prints() {
    let dir = tempfile::tempdir().unwrap();
    let (_, lines) = sweep(dir.path(), "all.jsonl", &[REORDER, "--seeds", "3..5"]);
    let record = parse(&lines[1]);
    assert_eq!(record["seed"], 4);
    assert_eq!(record["digest"], run_digest(REORDER, 4).as_str());
    let keys: Vec<&str> = record
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut documented = vec![
        "digest",
        "events",
        "invariant",
        "invariants",
        "outcome",
        "passed",
        "seed",
    ];
    documented.sort_unstable();
    assert_eq!(keys, documented);
    assert!(
        lines[0].starts_with(r#"{"seed":3,"outcome":"#),
        "{}",
        lines[0]
    );
}

#[test]
fn check_determinism_runs_every_seed_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, plain_lines) = sweep(dir.path(), "plain.jsonl", &[REORDER, "--seeds", "0..30"]);
    let (output, lines) = sweep(
        dir.path(),
        "checked.jsonl",
        &[REORDER, "--seeds", "0..30", "--check-determinism"],
    );
    assert_eq!(output.status.code(), plain.status.code());
    assert_eq!(lines.len(), plain_lines.len());
    for (line, plain) in lines.iter().zip(&plain_lines) {
        let record = parse(line);
        assert_eq!(record["rerun_digest"], record["digest"], "{line}");
        assert_eq!(record["passed"], parse(plain)["passed"]);
    }
    assert!(
        stderr(&output).contains("each seed twice"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn run_check_determinism_keeps_the_exit_code_and_says_it_checked() {
    let output = lamport_ledger(&["run", REORDER, "--check-determinism"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stderr(&output).contains("a second run of seed 7 gave the same digest"),
        "{}",
        stderr(&output)
    );
    let dir = tempfile::tempdir().unwrap();
    let copy = reorder_copy(dir.path(), Some(serde_json::json!({"outcome": "ok"})));
    let output = lamport_ledger(&["run", path_str(&copy), "--check-determinism"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("same digest"));
}

#[test]
fn replay_with_the_right_digest_exits_0_and_says_so() {
    let digest = run_digest(REORDER, 11);
    let output = lamport_ledger(&[
        "replay",
        REORDER,
        "--seed",
        "11",
        "--expect-digest",
        &digest,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(
        text.contains(&format!("replay:    digest matches: {digest}")),
        "{text}"
    );
    assert!(text.contains("receives REQUEST"), "the timeline: {text}");
}

#[test]
fn replay_with_a_wrong_digest_exits_1_and_names_the_first_difference_against_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("seed-3.jsonl");
    let run = lamport_ledger(&["run", REORDER, "--seed", "3", "--trace", path_str(&old)]);
    assert!(run.status.code().is_some_and(|c| c <= 1));
    let old_digest = run_digest(REORDER, 3);

    let output = lamport_ledger(&[
        "replay",
        REORDER,
        "--seed",
        "4",
        "--expect-digest",
        &old_digest,
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("digest DIFFERS"), "{text}");
    assert!(text.contains("--against OLD_TRACE"), "{text}");

    let output = lamport_ledger(&[
        "replay",
        REORDER,
        "--seed",
        "4",
        "--expect-digest",
        &old_digest,
        "--against",
        path_str(&old),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let (seq, field) = first_difference(&old, &trace_of(dir.path(), 4));
    assert!(
        text.contains(&format!("first difference: event seq {seq} ")),
        "{text}"
    );
    assert!(names_field(&text, &field), "{text}");
    assert!(text.contains("  seed: a 3, b 4"), "{text}");

    // The same seed against the same trace: identical line for line.
    let output = lamport_ledger(&[
        "replay",
        REORDER,
        "--seed",
        "3",
        "--against",
        path_str(&old),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("identical to"));
}

#[test]
fn replay_trace_writes_the_same_trace_as_run() {
    let dir = tempfile::tempdir().unwrap();
    let replayed = dir.path().join("replayed.jsonl");
    let output = lamport_ledger(&[
        "replay",
        REORDER,
        "--seed",
        "9",
        "--trace",
        path_str(&replayed),
    ]);
    assert!(output.status.code().is_some_and(|c| c <= 1));
    assert_eq!(
        fs::read(&replayed).unwrap(),
        fs::read(trace_of(dir.path(), 9)).unwrap()
    );
}

/// The report lists `field` (or a field inside it) among the fields that differ.
fn names_field(text: &str, field: &str) -> bool {
    text.contains(&format!("\n  {field}: a ")) || text.contains(&format!("\n  {field}."))
}

/// Writes the trace of reorder-2 with `seed` under `dir` and returns its path.
fn trace_of(dir: &Path, seed: u64) -> PathBuf {
    let path = dir.join(format!("run-{seed}.jsonl"));
    let seed = seed.to_string();
    let output = lamport_ledger(&["run", REORDER, "--seed", &seed, "--trace", path_str(&path)]);
    assert!(output.status.code().is_some_and(|c| c <= 1));
    path
}

/// Independently of the tool: the `seq` of the first event line that differs, and the first of
/// its fields (in the line's order) whose value differs.
fn first_difference(a: &Path, b: &Path) -> (u64, String) {
    let a = fs::read_to_string(a).unwrap();
    let b = fs::read_to_string(b).unwrap();
    for (line_a, line_b) in a.lines().zip(b.lines()).skip(1) {
        if line_a == line_b {
            continue;
        }
        let (value_a, value_b) = (parse(line_a), parse(line_b));
        let field = [
            "seq", "t", "node", "clock", "kind", "msg_id", "from", "to", "msg",
        ]
        .into_iter()
        .find(|key| value_a[key] != value_b[key])
        .expect("a differing top-level field");
        return (value_a["seq"].as_u64().unwrap(), field.to_string());
    }
    panic!("the traces do not differ after the header");
}

#[test]
fn diff_of_two_seeds_names_the_first_differing_seq_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (trace_of(dir.path(), 3), trace_of(dir.path(), 7));
    let output = lamport_ledger(&["diff", path_str(&a), path_str(&b)]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    let (seq, field) = first_difference(&a, &b);
    assert!(
        text.contains(&format!("first difference: event seq {seq} ")),
        "{text}"
    );
    assert!(names_field(&text, &field), "{text}");
    assert!(text.contains("the header (line 1) differs"), "{text}");
    assert!(text.contains("  seed: a 3, b 7"), "{text}");
    // Three lines of context before, the same in both traces.
    let line = seq + 2;
    for before in line - 3..line {
        assert!(text.contains(&format!("\n     {before:>6}  ")), "{text}");
    }
    assert!(text.contains(&format!("\n  a  {line:>6}  ")), "{text}");
    assert!(text.contains(&format!("\n  b  {line:>6}  ")), "{text}");
}

#[test]
fn diff_of_a_trace_with_itself_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let a = trace_of(dir.path(), 3);
    let output = lamport_ledger(&["diff", path_str(&a), path_str(&a)]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("identical"));
}

#[test]
fn diff_of_unreadable_input_exits_2_with_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let a = trace_of(dir.path(), 3);
    let missing = dir.path().join("missing.jsonl");
    let output = lamport_ledger(&["diff", path_str(&a), path_str(&missing)]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("missing.jsonl"),
        "{}",
        stderr(&output)
    );

    let broken = dir.path().join("broken.jsonl");
    let mut lines: Vec<String> = fs::read_to_string(&a)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines[1] = lines[1].replacen("\"kind\":", "\"kind\" ", 1);
    fs::write(&broken, lines.join("\n") + "\n").unwrap();
    let output = lamport_ledger(&["diff", path_str(&a), path_str(&broken)]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("broken.jsonl:2:"), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
}

#[test]
fn bad_seeds_shards_and_jobs_exit_2() {
    for args in [
        &["--seeds", "5..3"][..],
        &["--seeds", "5..5"],
        &["--seeds", "x..3"],
        &["--seeds", "0..10", "--shard", "4/3"],
        &["--seeds", "0..10", "--shard", "0/3"],
        &["--seeds", "0..10", "--shard", "1/0"],
        &["--seeds", "0..10", "--shard", "two"],
        &["--seeds", "0..10", "--jobs", "65536"],
    ] {
        let mut all = vec!["sweep", REORDER];
        all.extend_from_slice(args);
        let output = lamport_ledger(&all);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stdout(&output)
        );
        let message = stderr(&output);
        assert!(message.starts_with("error: invalid value"), "{message}");
        assert!(output.stdout.is_empty());
    }
    let output = lamport_ledger(&["sweep", REORDER, "--seeds", "0..3", "--expect", "mutex"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("\"mutex\" is not ok, violation or an invariant (mutual_exclusion, "),
        "{message}"
    );
    assert_eq!(message.lines().count(), 1, "{message}");
    let output = lamport_ledger(&["sweep", "no-such-file.json", "--seeds", "0..3"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no-such-file.json"));
    let output = lamport_ledger(&["replay", REORDER, "--seed", "1", "--expect-digest", "abc"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn swarm_sweep_draws_a_configuration_per_seed_and_replays_it() {
    // FIFO links only: the paper's algorithm survives every drawn configuration.
    let dir = tempfile::tempdir().unwrap();
    let mut base: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("scenarios/swarm-lamport.json")).unwrap(),
    )
    .unwrap();
    base["swarm"]["fifo"] = serde_json::json!([true]);
    let fifo_only = dir.path().join("fifo-only.json");
    std::fs::write(&fifo_only, base.to_string()).unwrap();
    let output = lamport_ledger(&[
        "sweep",
        fifo_only.to_str().unwrap(),
        "--seeds",
        "0..150",
        "--swarm",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    // FIFO on or off: some draws break it, each failure names what it drew and replays.
    let out = dir.path().join("swarm.jsonl");
    let output = lamport_ledger(&[
        "sweep",
        "scenarios/swarm-lamport.json",
        "--seeds",
        "0..300",
        "--swarm",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let report = stdout(&output);
    assert!(
        report.contains("drew: ") && report.contains("FIFO off"),
        "{report}"
    );
    let failing: serde_json::Value = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|run| run["passed"] == false)
        .expect("a failing seed");
    assert!(failing["drawn"].as_str().unwrap().contains("clients"));
    let seed = failing["seed"].as_u64().unwrap().to_string();
    let digest = failing["digest"].as_str().unwrap();
    let output = lamport_ledger(&[
        "replay",
        "scenarios/swarm-lamport.json",
        "--seed",
        &seed,
        "--swarm",
        "--expect-digest",
        digest,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    // Different seeds draw different configurations.
    let drawn: std::collections::BTreeSet<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .take(30)
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["drawn"].to_string())
        .collect();
    assert!(drawn.len() > 20);
}

#[test]
fn swarm_without_bounds_is_a_usage_error() {
    let output = lamport_ledger(&["run", "scenarios/default.json", "--swarm"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("swarm"));
    let output = lamport_ledger(&[
        "sweep",
        "scenarios/default.json",
        "--seeds",
        "0..3",
        "--swarm",
    ]);
    assert_eq!(output.status.code(), Some(2));
}

/// A trace over a MiB is written (and compared) by a helper thread: the comparison and the
/// digest must come out as for a short one.
#[test]
fn replay_against_a_long_trace_compares_every_line() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("long.json");
    let text = serde_json::json!({
        "name": "long",
        "seed": 5,
        "clients": 3,
        "network": {"latency": {"kind": "uniform", "min_us": 200, "max_us": 1500}},
        "workload": {"generated": {
            "count": 1500,
            "gap": {"kind": "uniform", "min_us": 0, "max_us": 3000},
            "amount_min": 1,
            "amount_max": 4
        }},
        "cs_us": 200
    });
    fs::write(&scenario, text.to_string()).unwrap();
    let scenario = path_str(&scenario);
    let old = dir.path().join("old.jsonl");
    let run = lamport_ledger(&["run", scenario, "--trace", path_str(&old)]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert!(
        fs::metadata(&old).unwrap().len() > 2 << 20,
        "the trace is long"
    );
    let check = lamport_ledger(&["check", path_str(&old)]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));

    let same = lamport_ledger(&[
        "replay",
        scenario,
        "--seed",
        "5",
        "--against",
        path_str(&old),
    ]);
    assert_eq!(same.status.code(), Some(0), "{}", stdout(&same));
    assert!(stdout(&same).contains("identical to"), "{}", stdout(&same));

    let other = lamport_ledger(&[
        "replay",
        scenario,
        "--seed",
        "6",
        "--against",
        path_str(&old),
    ]);
    assert_eq!(other.status.code(), Some(1), "{}", stdout(&other));
    assert!(stdout(&other).contains("first difference: event seq "));
}

/// The number of lines that name the sweep (`sweep:     SCENARIO ("name"), seeds …`), however
/// they are spaced.
fn headers(text: &str) -> usize {
    text.lines()
        .filter(|line| line.starts_with("sweep:") && line.contains(REORDER))
        .count()
}

#[test]
fn the_sweep_is_named_once_on_one_stream_and_on_each_of_two() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.txt");
    let file = fs::File::create(&log).unwrap();
    // Standard output and standard error into one file, as `2>&1` or a CI log does.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_lamport-ledger"))
        .args(["sweep", REORDER, "--seeds", "0..20"])
        .current_dir(common::root())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let text = fs::read_to_string(&log).unwrap();
    assert_eq!(headers(&text), 1, "{text}");
    assert!(text.starts_with("sweep:     "), "{text}");
    assert!(text.contains("\nexpected:  "), "{text}");

    // The report on standard error, the records on standard output.
    let output = lamport_ledger(&["sweep", REORDER, "--seeds", "0..20", "--out", "-"]);
    assert_eq!(headers(&stderr(&output)), 1, "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), 20);

    // Two streams: each names the sweep, so the report on its own is complete.
    let output = lamport_ledger(&["sweep", REORDER, "--seeds", "0..20"]);
    assert_eq!(headers(&stdout(&output)), 1, "{}", stdout(&output));
    assert_eq!(headers(&stderr(&output)), 1, "{}", stderr(&output));
}

#[test]
fn more_jobs_than_seeds_or_cores_start_no_more_threads_than_help() {
    let dir = tempfile::tempdir().unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (_, one) = sweep(
        dir.path(),
        "one.jsonl",
        &[REORDER, "--seeds", "0..10", "--jobs", "1"],
    );
    for jobs in ["5000", "10000", "65535"] {
        let started = std::time::Instant::now();
        let (output, many) = sweep(
            dir.path(),
            "many.jsonl",
            &[REORDER, "--seeds", "0..10", "--jobs", jobs],
        );
        // Thousands of threads took seconds to start (minutes at 10,000): a few at most now.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "--jobs {jobs} took {:?}",
            started.elapsed()
        );
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        assert_eq!(many, one, "--jobs {jobs}");
        let threads = 10.min(4 * cores);
        let header = format!(
            "10 runs on {threads} threads (not {jobs}: no more than one per run and 4 per core)"
        );
        assert!(stdout(&output).contains(&header), "{}", stdout(&output));
    }
}
