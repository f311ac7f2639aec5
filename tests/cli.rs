//! The binary as a user runs it: exit codes, trace files, formats, bad input.

mod common;

use common::{lamport_ledger, lamport_ledger_with_input, root, stderr, stdout};

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

/// How a user starts the binary: the program name the shell passes (`lamport-ledger` when it
/// found it on the `PATH`, or the path typed) and whether cargo started it (`cargo run` sets
/// `CARGO` and `CARGO_PKG_NAME`; a test run under cargo inherits them, so they are set or
/// removed here explicitly).
struct StartedAs<'a> {
    argv0: &'a str,
    by_cargo: bool,
}

/// Found on the `PATH`, as after `cargo install --path .`.
const INSTALLED: StartedAs = StartedAs {
    argv0: "lamport-ledger",
    by_cargo: false,
};

fn lamport_ledger_as(started: &StartedAs, dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lamport-ledger"));
    command.arg0(started.argv0).args(args).current_dir(dir);
    if started.by_cargo {
        command
            .env("CARGO", "cargo")
            .env("CARGO_PKG_NAME", "lamport-ledger");
    } else {
        command.env_remove("CARGO").env_remove("CARGO_PKG_NAME");
    }
    command.output().expect("the binary runs")
}

#[test]
fn no_arguments_runs_the_default_scenario_and_ends_with_verdict_seed_digest_and_rerun() {
    let output = lamport_ledger_as(&INSTALLED, &root(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    // The verdict block, before the next steps.
    let (verdict, _) = text.split_once("\n\nnext:").expect("next steps follow");
    let last: Vec<&str> = verdict.lines().rev().take(4).collect();
    assert!(last[3].starts_with("ledgers:"), "{text}");
    assert_eq!(last[2], "seed:      1");
    assert!(
        last[1].starts_with("digest:    ") && last[1].len() == 11 + 64,
        "{}",
        last[1]
    );
    assert_eq!(last[0], "rerun:     lamport-ledger run --seed 1");
    assert!(text.contains("verdict:   OK"), "{text}");
    assert!(text.contains("ABORTS"), "{text}");
}

#[test]
fn the_rerun_command_reproduces_the_digest() {
    let first = stdout(&lamport_ledger_as(
        &INSTALLED,
        &root(),
        &["run", "scenarios/contention-5.json", "--seed", "9"],
    ));
    let rerun_line = first.lines().last().unwrap();
    let rerun: Vec<&str> = rerun_line
        .trim_start_matches("rerun:")
        .split_whitespace()
        .collect();
    assert_eq!(rerun[0], "lamport-ledger");
    let second = stdout(&lamport_ledger(&rerun[1..]));
    let digest = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("digest:"))
            .unwrap()
            .to_string()
    };
    assert_eq!(digest(&first), digest(&second));
}

#[test]
fn a_violation_exits_1_unless_the_scenario_expects_it() {
    // reorder-2 expects its mutual_exclusion violation: exit 0.
    let output = lamport_ledger(&["run", "scenarios/reorder-2.json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).contains("VIOLATION of mutual_exclusion"));

    // The same scenario without the expect block: exit 1.
    let dir = tempfile::tempdir().unwrap();
    let mut scenario: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("scenarios/reorder-2.json")).unwrap(),
    )
    .unwrap();
    scenario.as_object_mut().unwrap().remove("expect");
    let path = dir.path().join("no-expect.json");
    std::fs::write(&path, serde_json::to_string_pretty(&scenario).unwrap()).unwrap();
    let output = lamport_ledger(&["run", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));

    // And a seed where nothing overtakes: the expected violation does not happen, exit 1.
    let output = lamport_ledger(&["run", "scenarios/reorder-2.json", "--seed", "2"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("NOT matched"));
}

#[test]
fn trace_file_follows_the_spec_format() {
    let dir = tempfile::tempdir().unwrap();
    let trace_path = dir.path().join("run.jsonl");
    let output = lamport_ledger(&[
        "run",
        "scenarios/default.json",
        "--trace",
        trace_path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert!(!Path::new(&format!("{}.partial", trace_path.display())).exists());
    let text = std::fs::read_to_string(&trace_path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();

    let header = &lines[0];
    assert_eq!(header["type"], "header");
    assert_eq!(header["format"], "lamport-ledger-trace");
    assert_eq!(header["version"], 1);
    assert_eq!(header["clients"], 3);
    assert_eq!(header["initial_balances"]["2"], 10);
    assert_eq!(header["protocol"], "lamport");

    let events = &lines[1..lines.len() - 1];
    let mut last_t = 0;
    for (seq, event) in events.iter().enumerate() {
        assert_eq!(event["type"], "event");
        assert_eq!(event["seq"], seq as u64);
        let t = event["t"].as_u64().unwrap();
        assert!(t >= last_t, "time went back at seq {seq}");
        last_t = t;
        if event["kind"] == "send" {
            assert_eq!(
                event["msg"]["ts"], event["clock"],
                "a send's ts is the sender's clock"
            );
        }
    }

    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["events"], events.len() as u64);
    let before_summary = &text.as_bytes()[..text.trim_end().rfind('\n').unwrap() + 1];
    let digest: String = Sha256::digest(before_summary)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(summary["digest"], digest.as_str());
    assert!(
        stdout(&output).contains(&digest),
        "the text output names the digest"
    );
}

#[test]
fn jsonl_format_prints_the_trace_on_stdout_and_the_verdict_on_stderr() {
    let output = lamport_ledger_as(&INSTALLED, &root(), &["run", "--format", "jsonl"]);
    assert_eq!(output.status.code(), Some(0));
    for line in stdout(&output).lines() {
        let _: serde_json::Value = serde_json::from_str(line).expect("every stdout line is JSON");
    }
    assert!(stderr(&output).contains("verdict:   OK"));
    assert!(stderr(&output).contains("rerun:     lamport-ledger run --seed 1"));
}

#[test]
fn bad_input_exits_2_with_one_sentence_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("bad.json");
    std::fs::write(
        &scenario,
        r#"{
  "name": "bad",
  "clients": 2,
  "workload": {"transfers": [{"at_us": 0, "from": 1, "to": 2, "amount": 0}]}
}"#,
    )
    .unwrap();
    let trace = dir.path().join("never.jsonl");
    let output = lamport_ledger(&[
        "run",
        scenario.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert_eq!(message.trim_end().lines().count(), 1, "{message}");
    assert!(message.contains("bad.json"), "{message}");
    assert!(
        message.contains("workload.transfers[0].amount"),
        "{message}"
    );
    assert!(message.contains(":4:"), "names line 4: {message}");
    assert!(!trace.exists());
    assert!(!Path::new(&format!("{}.partial", trace.display())).exists());
    assert!(stdout(&output).is_empty());
}

#[test]
fn missing_file_and_unknown_flag_exit_2() {
    let output = lamport_ledger(&["run", "no/such/scenario.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no/such/scenario.json"));
    let output = lamport_ledger(&["run", "--sed", "3"]);
    assert_eq!(output.status.code(), Some(2));
    let output = lamport_ledger(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn keep_going_runs_past_the_first_safety_violation() {
    let events = |args: &[&str]| {
        let output = lamport_ledger(args);
        let text = stdout(&output);
        let line = text
            .lines()
            .find(|l| l.starts_with("transfers:"))
            .unwrap()
            .to_string();
        let count: u64 = line
            .rsplit("; ")
            .next()
            .unwrap()
            .trim_end_matches(" events")
            .parse()
            .unwrap();
        (count, text)
    };
    let (stopped, stopped_text) = events(&["run", "scenarios/reorder-2.json"]);
    let (kept, kept_text) = events(&["run", "scenarios/reorder-2.json", "--keep-going"]);
    assert!(stopped_text.contains("the run stopped at the first safety violation"));
    assert!(!kept_text.contains("the run stopped at the first safety violation"));
    assert!(
        kept > stopped,
        "{kept} events with --keep-going, {stopped} without"
    );
    assert!(
        kept_text.ends_with("--keep-going\n"),
        "the rerun command keeps the flag"
    );
}

/// `bench --json` is the short form of `--format json`.
#[test]
fn bench_json_is_also_format_json() {
    let output = lamport_ledger(&["bench", "--quick", "--json", "--case", "n64"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let line: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(line["case"], "n64");
}

/// `bench --quick` measures nothing worth keeping, but it runs the real harness: every case
/// asked for, in a child process, with its counts, rates and peak memory.
#[test]
fn bench_quick_reports_each_case_asked_for_with_counts_rates_and_memory() {
    let output = lamport_ledger(&[
        "bench",
        "--quick",
        "--format",
        "json",
        "--repeat",
        "2",
        "--case",
        "n3-1m",
        "--case",
        "sweep-n5-1",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["case"], "n3-1m");
    assert_eq!(lines[0]["transfers"], 10_000);
    assert_eq!(lines[1]["case"], "sweep-n5-1");
    assert_eq!(lines[1]["runs"], 100);
    for line in &lines {
        assert_eq!(line["repeats"], 2);
        assert!(line["events"].as_u64().unwrap() > 0, "{line}");
        assert!(line["events_per_s"].as_f64().unwrap() > 0.0, "{line}");
        assert!(
            line["seconds"].as_f64() <= line["slowest_seconds"].as_f64(),
            "{line}"
        );
        if cfg!(target_os = "linux") {
            assert!(line["peak_rss_kib"].as_u64().unwrap() > 0, "{line}");
        }
    }

    // The table ends with each one-thread case's time per event against the null loop's,
    // measured in the same invocation.
    let table = lamport_ledger(&[
        "bench",
        "--quick",
        "--case",
        "n3-1m",
        "--case",
        "sweep-n5-all",
        "--case",
        "null-loop",
    ]);
    assert_eq!(table.status.code(), Some(0), "{}", stderr(&table));
    let text = stdout(&table);
    let ratios = text
        .lines()
        .find_map(|line| line.strip_prefix("time per event against null-loop in this run: "))
        .unwrap_or_else(|| panic!("no ratio line in:\n{text}"));
    let (case, ratio) = ratios.split_once(' ').unwrap();
    assert_eq!(case, "n3-1m", "only one-thread cases: {ratios}");
    let ratio: f64 = ratio.strip_suffix('x').unwrap().parse().unwrap();
    let events_per_s = |case: &str| -> f64 {
        let row = text.lines().find(|line| line.starts_with(case)).unwrap();
        row.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let expected = events_per_s("null-loop ") / events_per_s("n3-1m ");
    assert!(
        (ratio - expected).abs() <= 0.051,
        "{ratios}, expected {expected:.2}x"
    );

    let unknown = lamport_ledger(&["bench", "--case", "n5"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("unknown benchmark case `n5`"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn an_output_that_is_a_pipe_is_written_in_place_not_replaced_by_a_file() {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("trace.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success(), "mkfifo");
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            std::fs::File::open(&fifo)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            text
        })
    };
    let fifo_arg = fifo.to_str().unwrap();
    let output = lamport_ledger(&["run", "scenarios/reorder-2.json", "--trace", fifo_arg]);
    // The violation reorder-2 expects: exit code 0.
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // Renaming a finished file over the path (as for a regular file) would have replaced the
    // pipe, as `--trace /dev/null` replaced /dev/null when run as root.
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the pipe is still a pipe");
    let text = reader.join().unwrap();
    assert!(text.starts_with("{\"type\":\"header\""), "{text}");
    assert!(text.contains("\"type\":\"summary\""));
    assert!(!dir.path().join("trace.fifo.partial").exists());
}

/// `-` is standard output for an output and standard input for a trace read; what a command
/// would have printed on standard output then goes to standard error.
#[test]
fn a_dash_is_standard_output_or_input() {
    const REORDER: &str = "scenarios/reorder-2.json";
    let jsonl = lamport_ledger(&["run", REORDER, "--format", "jsonl"]);
    let trace = jsonl.stdout.clone();
    assert!(trace.starts_with(b"{\"type\":\"header\""));

    let dashed = lamport_ledger(&["run", REORDER, "--trace", "-"]);
    assert_eq!(dashed.status.code(), jsonl.status.code());
    assert_eq!(
        dashed.stdout, trace,
        "--trace - prints what --format jsonl prints"
    );
    assert!(stderr(&dashed).contains("verdict:"), "{}", stderr(&dashed));

    let replayed = lamport_ledger(&["replay", REORDER, "--seed", "7", "--trace", "-"]);
    assert_eq!(replayed.stdout, trace, "{}", stderr(&replayed));
    assert!(stderr(&replayed).contains("ENTERS the critical section"));

    let drawn = lamport_ledger(&["run", REORDER, "--render", "mermaid", "-o", "-"]);
    assert!(
        stdout(&drawn).starts_with("sequenceDiagram"),
        "{}",
        stdout(&drawn)
    );
    assert!(
        stderr(&drawn).contains("verdict:"),
        "the timeline moved to stderr"
    );

    let checked = lamport_ledger_with_input(&["check", "-"], &trace);
    assert_eq!(checked.status.code(), Some(1), "{}", stderr(&checked));
    assert!(
        stdout(&checked).contains("standard input"),
        "{}",
        stdout(&checked)
    );
    assert!(stdout(&checked).contains("mutual_exclusion"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reorder.jsonl");
    std::fs::write(&file, &trace).unwrap();
    let file = file.to_str().unwrap();
    let from_file = lamport_ledger(&["render", file, "--format", "mermaid"]);
    let from_stdin = lamport_ledger_with_input(&["render", "-", "--format", "mermaid"], &trace);
    assert_eq!(
        from_stdin.stdout,
        from_file.stdout,
        "{}",
        stderr(&from_stdin)
    );
    let same = lamport_ledger_with_input(&["diff", "-", file], &trace);
    assert_eq!(same.status.code(), Some(0), "{}", stdout(&same));

    let swept = lamport_ledger(&["sweep", REORDER, "--seeds", "0..20", "--out", "-"]);
    let records: Vec<serde_json::Value> = stdout(&swept)
        .lines()
        .map(|line| serde_json::from_str(line).expect("every stdout line is a record"))
        .collect();
    assert_eq!(records.len(), 20);
    assert_eq!(records[3]["seed"], 3);
    assert!(stderr(&swept).contains("results:   standard output"));
    assert!(stderr(&swept).contains("verdict:"));

    let explored = lamport_ledger(&[
        "explore",
        "scenarios/explore/reorder-2-bag.json",
        "--trace",
        "-",
    ]);
    assert_eq!(explored.status.code(), Some(0), "{}", stderr(&explored));
    let path = lamport_ledger_with_input(&["check", "-"], &explored.stdout);
    assert!(
        stdout(&path).contains("mutual_exclusion"),
        "{}",
        stdout(&path)
    );
    assert!(stderr(&explored).contains("trace:     on standard output"));

    let shrunk = lamport_ledger(&["shrink", REORDER, "-o", "-"]);
    let scenario: serde_json::Value = serde_json::from_slice(&shrunk.stdout).unwrap();
    assert_eq!(scenario["name"], "reorder-2-shrunk");
    assert!(!Path::new("-").exists() && !root().join("-").exists());
}

/// `… | head -1`: when the reader of standard output goes away, the command ends quietly with
/// 141 (as the shell reports a program that SIGPIPE ended), leaving no partial file behind.
#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lamport-ledger"))
        .args(["run", "scenarios/long-run-10k.json", "--trace"])
        .arg(&trace)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here, mid-timeline (the whole timeline is megabytes).
    assert!(first.starts_with("scenario"), "{first}");
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(141), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "nothing to say about a closed pipe");
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
}

/// `explore --require-complete`: finding nothing in a search cut short fails (exit 1); a
/// violation found is conclusive however far the search went; the JSON names the stop.
#[test]
fn require_complete_fails_an_incomplete_search_that_found_nothing() {
    let capped = ["explore", "scenarios/default.json", "--max-states", "1000"];
    let lenient = lamport_ledger(&capped);
    assert_eq!(lenient.status.code(), Some(0), "{}", stderr(&lenient));
    assert!(stdout(&lenient).contains("INCOMPLETE"));

    let strict = lamport_ledger(&[&capped[..], &["--require-complete"]].concat());
    assert_eq!(strict.status.code(), Some(1));
    assert!(
        stderr(&strict).contains("nothing was found, but the search is INCOMPLETE"),
        "{}",
        stderr(&strict)
    );

    let found = lamport_ledger(&[
        "explore",
        "scenarios/explore/reorder-2-bag.json",
        "--max-states",
        "100000",
        "--require-complete",
    ]);
    assert_eq!(found.status.code(), Some(0), "{}", stderr(&found));

    let json = lamport_ledger(&[&capped[..], &["--format", "json"]].concat());
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["stop"], "max_states");
    assert_eq!(value["complete"], false);
}

#[test]
fn sweep_jobs_0_is_one_per_core_and_output_has_the_usual_names() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("r.jsonl");
    let records = records.to_str().unwrap();
    let args = ["sweep", "scenarios/reorder-2.json", "--seeds", "0..8"];
    let all_cores = lamport_ledger(&[&args[..], &["--jobs", "0", "-o", records]].concat());
    assert_eq!(all_cores.status.code(), Some(1), "{}", stderr(&all_cores));
    // One per core, but no more than the 8 seeds.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    assert!(
        stdout(&all_cores).contains(&format!("on {threads} thread")),
        "{}",
        stdout(&all_cores)
    );
    let first = std::fs::read(records).unwrap();
    let again = lamport_ledger(&[&args[..], &["--jobs", "1", "--output", records]].concat());
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(std::fs::read(records).unwrap(), first);
}

/// An expectation that names an invariant other than the first one found is judged alike by
/// `run` (among every violation its stopping step revealed) and `explore` (which goes on past
/// other findings until the expected one).
#[test]
fn explore_and_run_judge_an_expected_second_invariant_alike() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("scenarios/reorder-2.json")).unwrap();
    let mut scenario: serde_json::Value = serde_json::from_str(&text).unwrap();
    scenario["expect"]["invariant"] = "ledger_agreement".into();
    let path = dir.path().join("fork.json");
    std::fs::write(&path, scenario.to_string()).unwrap();
    let path = path.to_str().unwrap();

    let ran = lamport_ledger(&["run", path]);
    assert_eq!(ran.status.code(), Some(0), "{}", stdout(&ran));
    let explored = lamport_ledger(&["explore", path, "--bag"]);
    assert_eq!(explored.status.code(), Some(0), "{}", stdout(&explored));
    let report = stdout(&explored);
    assert!(report.contains("VIOLATION of mutual_exclusion"), "{report}");
    assert!(
        report.contains("also:      VIOLATION of ledger_agreement"),
        "{report}"
    );
    assert!(report.contains("ledger_agreement (from the scenario): matched"));
}

/// Every command printed for the user to type (the `rerun:` of run and replay, the replay
/// lines of sweep, the rerun of shrink) starts the way the binary was started, so that it
/// works where the user is; nothing the run computes or writes to a file depends on it.
#[test]
fn printed_commands_start_the_way_the_binary_was_started() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root().join("scenarios"), dir.path().join("scenarios")).unwrap();
    let started = |argv0, by_cargo| StartedAs { argv0, by_cargo };
    let ways = [
        (
            started("target/release/lamport-ledger", true),
            "cargo run --release --",
        ),
        (
            started("/home/me/ledger/target/debug/lamport-ledger", true),
            "cargo run --",
        ),
        (
            started("target/optimized/lamport-ledger", true),
            "cargo run --profile optimized --",
        ),
        (
            started("target/release/lamport-ledger", false),
            "target/release/lamport-ledger",
        ),
        (started("lamport-ledger", true), "lamport-ledger"),
    ];
    let scenario = "scenarios/reorder-2.json";
    let mut files = Vec::new();
    for (started, words) in &ways {
        let run = lamport_ledger_as(
            started,
            dir.path(),
            &["run", scenario, "--trace", "t.jsonl"],
        );
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
        let rerun = format!("\nrerun:     {words} run {scenario} --seed 7\n");
        assert!(stdout(&run).contains(&rerun), "{}", stdout(&run));

        let replay = lamport_ledger_as(started, dir.path(), &["replay", scenario, "--seed", "7"]);
        assert!(stdout(&replay).contains(&rerun), "{}", stdout(&replay));

        let sweep = lamport_ledger_as(started, dir.path(), &["sweep", scenario, "--seeds", "0..3"]);
        let replay_line = format!("\n    {words} replay {scenario} --seed 0 --expect-digest ");
        assert!(stdout(&sweep).contains(&replay_line), "{}", stdout(&sweep));

        let shrink = lamport_ledger_as(started, dir.path(), &["shrink", scenario, "-o", "m.json"]);
        assert_eq!(shrink.status.code(), Some(0), "{}", stderr(&shrink));
        let shrunk = format!("wrote m.json; rerun with: {words} run m.json\n");
        assert!(stderr(&shrink).contains(&shrunk), "{}", stderr(&shrink));

        let trace = std::fs::read(dir.path().join("t.jsonl")).unwrap();
        let minimal = std::fs::read(dir.path().join("m.json")).unwrap();
        files.push((trace, minimal));
    }
    assert!(
        files.windows(2).all(|pair| pair[0] == pair[1]),
        "the trace and the shrunk scenario do not depend on how the binary was started"
    );
}

/// The default run is what `cargo run --release` shows a newcomer: it ends by saying what to
/// try next, in commands that work where the user is.
#[test]
fn the_default_run_ends_with_next_steps_that_work() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root().join("scenarios"), dir.path().join("scenarios")).unwrap();
    let output = lamport_ledger_as(&INSTALLED, dir.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let (_, next) = text
        .split_once("\nrerun:     lamport-ledger run --seed 1\n\nnext:")
        .unwrap();
    let commands: Vec<&str> = next
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("lamport-ledger ") && !line.ends_with("every command"))
        .collect();
    assert_eq!(commands.len(), 3, "{next}");
    for (command, what) in commands.iter().zip(["run", "sweep", "explore"]) {
        let words: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(words[1], what, "{command}");
        let ran = lamport_ledger_as(&INSTALLED, dir.path(), &words[1..]);
        assert!(
            matches!(ran.status.code(), Some(0 | 1)),
            "`{command}` exited with {:?}: {}",
            ran.status.code(),
            stderr(&ran)
        );
    }
    assert!(dir.path().join("reorder-2.html").exists());
    assert!(text.ends_with("\n           lamport-ledger --help lists every command\n"));

    // Started by `cargo run --release`: the commands are cargo's, and installing is one step.
    let by_cargo = StartedAs {
        argv0: "target/release/lamport-ledger",
        by_cargo: true,
    };
    let text = stdout(&lamport_ledger_as(&by_cargo, dir.path(), &[]));
    assert!(
        text.contains(
            "\nnext:      cargo run --release -- run scenarios/reorder-2.json --render html -o \
             reorder-2.html\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("\n           cargo install --path . puts lamport-ledger on your PATH\n"),
        "{text}"
    );

    // A scenario named on the command line is past the first contact.
    let named = stdout(&lamport_ledger_as(
        &INSTALLED,
        dir.path(),
        &["run", "scenarios/default.json"],
    ));
    assert!(!named.contains("next:"), "{named}");
    assert!(
        named.lines().last().unwrap().starts_with("rerun:"),
        "{named}"
    );
}
