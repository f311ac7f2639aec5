//! Bad input on the command line: every mistake below exits with code 2 and one line on
//! standard error, prints nothing on standard output, and leaves no file behind (not even a
//! `.partial` one).

mod common;

use common::lamport_ledger;

use std::fs;
use std::path::Path;
use std::process::Command;

const REORDER: &str = "scenarios/reorder-2.json";

/// A good trace, `good.jsonl` in `dir`: reorder-2's run with its expected violation.
fn good_trace(dir: &Path) -> String {
    let trace = dir.join("good.jsonl");
    let trace = trace.to_str().unwrap().to_string();
    let output = lamport_ledger(&["run", REORDER, "--trace", &trace]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "reorder-2 shows its expected violation"
    );
    trace
}

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Runs `args` and checks the rule; returns the one line on standard error.
fn refused(args: &[&str], dir: &Path) -> String {
    let before = listing(dir);
    let output = lamport_ledger(args);
    let message = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
    assert_eq!(
        message.lines().count(),
        1,
        "{args:?} says more than one line: {message}"
    );
    assert!(message.ends_with('\n'), "{args:?}: {message:?}");
    assert!(
        output.stdout.is_empty(),
        "{args:?} printed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(listing(dir), before, "{args:?} left files behind");
    message
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let trace = good_trace(dir.path());
    let trace = trace.as_str();
    let cases: &[(&[&str], &str)] = &[
        (&["sweep", REORDER, "--seeds", "5..3"], "is empty"),
        (&["sweep", REORDER, "--seeds", "3..3"], "is empty"),
        (
            &["sweep", REORDER, "--seeds", "0..18446744073709551616"],
            "not a whole number",
        ),
        (&["sweep", REORDER, "--seeds", "..", "--out", out], "'..'"),
        (&["sweep", REORDER, "--seeds", "-1..2"], "'-1'"),
        (
            &["sweep", REORDER, "--seeds", "0..3", "--shard", "0/0"],
            "0/0",
        ),
        (
            &["sweep", REORDER, "--seeds", "0..3", "--shard", "3/2"],
            "3/2",
        ),
        (
            &["sweep", REORDER, "--seeds", "0..3", "--jobs", "65536"],
            "--jobs",
        ),
        (
            &["explore", REORDER, "--dfs", "--jobs", "2"],
            "--dfs runs on one thread",
        ),
        (&["explore", REORDER, "--max-states", "0"], "--max-states"),
        (&["explore", REORDER, "--max-memory", "0"], "--max-memory"),
        (
            &["replay", REORDER, "--seed", "1", "--expect-digest", "zz"],
            "digest",
        ),
        (&["replay", REORDER, "--seed", "-1"], "'-1'"),
        (
            &["run", REORDER, "--seed", "18446744073709551616"],
            "--seed",
        ),
        (&["run", REORDER, "--sed", "3"], "--seed"),
        (&["run", REORDER, "--render", "svg"], "--output"),
        (&["run", REORDER, "--render", "gif", "-o", out], "gif"),
        (
            &["run", REORDER, "--trace", out, "--render", "svg", "-o", out],
            "both name",
        ),
        (
            &["run", "no/such/scenario.json", "--trace", out],
            "no/such/scenario.json: No such file or directory\n",
        ),
        (
            &["run", "--swarm"],
            "the built-in default scenario has none",
        ),
        (
            &["run", REORDER, "--trace", "-", "--render", "svg", "-o", "-"],
            "both write to standard output",
        ),
        (
            &[
                "run", REORDER, "--format", "jsonl", "--render", "svg", "-o", "-",
            ],
            "both write to standard output",
        ),
        (&["diff", "-", "-"], "at most one trace from standard input"),
        (&["render", trace, "--from", "10", "--to", "5"], "--from 10"),
        (
            &["render", trace, "--from", "18446744073709551615"],
            "select no events",
        ),
        (
            &["render", REORDER, "-o", out],
            "reorder-2.json:1: this looks like a scenario file",
        ),
        (
            &["check", REORDER],
            "reorder-2.json:1: this looks like a scenario file",
        ),
        (&["diff", REORDER, trace], "this looks like a scenario file"),
        (
            &["run", trace],
            "good.jsonl:1:1: this is a JSON Lines trace",
        ),
        (
            &["sweep", trace, "--seeds", "0..2"],
            "this is a JSON Lines trace",
        ),
        (
            &["explore", trace],
            "good.jsonl:1:1: this is a JSON Lines trace",
        ),
        (&["check", "scenarios"], "scenarios"),
        (&["diff", trace, "no/such.jsonl"], "no/such.jsonl"),
        (&["diff", trace, trace, "--context", "-1"], "'-1'"),
        (&["explore", REORDER, "--jobs", "100000"], "--jobs"),
        (
            &[
                "explore",
                "--model",
                "tlaplus-lamport-mutex",
                "--clients",
                "0",
            ],
            "--clients",
        ),
        (&["explore", "--model", "nope"], "nope"),
        (
            &["explore", "scenarios/contention-8.json"],
            "contention-8.json",
        ),
        (&["node", "0"], "no node 0"),
        (
            &["node", "1", "--trace", "-"],
            "standard output is its prompt",
        ),
        (&["node", "99999999999"], "99999999999"),
        (&["merge"], "<TRACES>"),
        (&["bogus"], "bogus"),
    ];
    let scenarios = tempfile::tempdir().unwrap();
    let mut bad = Vec::new();
    for (name, text, needle) in [
        ("cut.json", r#"{"name": "cut", "clients": "#, "cut.json:1:"),
        (
            "type.json",
            r#"{"name": "t", "clients": "3"}"#,
            "type.json:1:",
        ),
        (
            "self.json",
            r#"{"name": "s", "clients": 2, "workload": {"transfers": [{"at_us": 0, "from": 2, "to": 2, "amount": 1}]}}"#,
            "workload.transfers[0].to",
        ),
        (
            "zero.json",
            r#"{"name": "z", "clients": 2, "workload": {"transfers": [{"at_us": 0, "from": 1, "to": 2, "amount": 0}]}}"#,
            "workload.transfers[0].amount",
        ),
        (
            "huge.json",
            r#"{"name": "h", "clients": 1000000000}"#,
            "clients",
        ),
        (
            "count.json",
            r#"{"name": "c", "clients": 2, "workload": {"generated": {"count": 1000000000000000, "gap": {"kind": "constant", "us": 1}, "amount_min": 1, "amount_max": 1}}}"#,
            "workload.generated.count",
        ),
        (
            "ratio.json",
            r#"{"name": "r", "clients": 2, "network": {"drop_ratio": [5, 3]}}"#,
            "network.drop_ratio",
        ),
        (
            "latency.json",
            r#"{"name": "l", "clients": 2, "network": {"latency": {"kind": "uniform", "min_us": 9, "max_us": 1}}}"#,
            "network.latency.max_us",
        ),
    ] {
        let path = scenarios.path().join(name);
        fs::write(&path, text).unwrap();
        bad.push((path.to_str().unwrap().to_string(), needle));
    }
    for (path, needle) in &bad {
        for command in ["run", "sweep", "replay", "shrink", "explore"] {
            let mut args = vec![command, path.as_str()];
            match command {
                "run" => args.extend(["--trace", out]),
                "sweep" => args.extend(["--seeds", "0..2", "--out", out]),
                "replay" => args.extend(["--seed", "1", "--trace", out]),
                "shrink" => args.extend(["--seed", "1", "-o", out]),
                _ => args.extend(["--trace", out]),
            }
            let message = refused(&args, dir.path());
            assert!(message.contains(needle), "{args:?}: {message}");
        }
    }
    for (args, needle) in cases {
        let message = refused(args, dir.path());
        assert!(message.contains(needle), "{args:?}: {message}");
    }
}

/// An output path that is a folder is refused before any work: `run` used to print the whole
/// timeline and fail only when renaming the finished trace, `shrink` after the whole search.
#[test]
fn an_output_that_is_a_folder_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("folder");
    fs::create_dir(&folder).unwrap();
    let folder = folder.to_str().unwrap();
    let trace = good_trace(dir.path());
    let trace = trace.as_str();
    for args in [
        &["run", REORDER, "--trace", folder][..],
        &["run", REORDER, "--format", "jsonl", "--trace", folder],
        &["run", REORDER, "--render", "svg", "-o", folder],
        &["replay", REORDER, "--seed", "7", "--trace", folder],
        &["shrink", REORDER, "--seed", "7", "-o", folder],
        &["sweep", REORDER, "--seeds", "0..3", "--out", folder],
        &["render", trace, "--format", "svg", "-o", folder],
        &["explore", REORDER, "--trace", folder],
    ] {
        let message = refused(args, dir.path());
        assert!(
            message.contains(&format!("{folder}: is a folder")),
            "{args:?}: {message}"
        );
    }
}

/// A run that writes a trace and a drawing, where the drawing cannot be written, leaves
/// neither file (the trace used to be renamed into place before the drawing failed).
#[test]
fn a_run_whose_drawing_fails_leaves_no_trace_either() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("run.jsonl");
    let drawing = dir.path().join("missing-folder").join("run.svg");
    let output = lamport_ledger(&[
        "run",
        REORDER,
        "--trace",
        trace.to_str().unwrap(),
        "--render",
        "svg",
        "-o",
        drawing.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8(output.stderr).unwrap();
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("run.svg"), "{message}");
    assert!(output.stdout.is_empty());
    assert_eq!(listing(dir.path()), Vec::<String>::new());
}

/// A scenario with more clients than a drawing has is refused before the run, not after.
#[test]
fn run_render_of_too_many_clients_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("wide.json");
    fs::write(&scenario, r#"{"name": "wide", "clients": 1001}"#).unwrap();
    let drawing = dir.path().join("wide.svg");
    let message = refused(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--render",
            "svg",
            "-o",
            drawing.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(
        message.contains(
            "a drawing has at most 1000 clients (one lane each), but the scenario has 1001"
        ),
        "{message}"
    );
}

/// `diff --context` with the largest number clap accepts.
#[test]
fn diff_with_the_largest_context_compares() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("good.jsonl");
    let trace = trace.to_str().unwrap();
    let output = lamport_ledger(&["run", REORDER, "--trace", trace]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "reorder-2 shows its expected violation"
    );
    let output = lamport_ledger(&["diff", trace, trace, "--context", "18446744073709551615"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An interrupted command (Ctrl-C, SIGTERM, SIGHUP) removes its `.partial` files: an endless
/// `sweep --out` used to leave `FILE.partial` behind when stopped.
#[test]
fn an_interrupted_sweep_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("endless.jsonl");
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lamport-ledger"))
            .args([
                "sweep",
                REORDER,
                "--seeds",
                "0..18446744073709551615",
                "--jobs",
                "1",
            ])
            .arg("--out")
            .arg(&out)
            .current_dir(common::root())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let partial = dir.path().join("endless.jsonl.partial");
        let started = std::time::Instant::now();
        while !partial.exists() {
            assert!(
                started.elapsed().as_secs() < 30,
                "the sweep never opened its output"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // Let it run a little, so that the signal arrives mid-sweep.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // SAFETY: sends a signal to the child this test started and still owns.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "signal {signal}: {status:?}");
        assert_eq!(listing(dir.path()), Vec::<String>::new(), "signal {signal}");
    }
}

/// A typo in an exploration file gets the scenario reader's "did you mean".
#[test]
fn an_exploration_file_typo_gets_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.json");
    let scenario = common::root().join(REORDER);
    let text = format!(
        "{{\n \"scenario\": {:?},\n \"chanels\": \"bag\"\n}}\n",
        scenario.to_str().unwrap()
    );
    fs::write(&file, text).unwrap();
    let message = refused(&["explore", file.to_str().unwrap()], dir.path());
    assert!(
        message.contains("typo.json:3:") && message.contains("(did you mean `channels`?)"),
        "{message}"
    );
}

/// An output that is the command's own input would destroy it: refused, input intact. Links
/// and `..` name the same file.
#[test]
fn an_output_that_is_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.json");
    fs::copy(REORDER, &scenario).unwrap();
    let original = fs::read(&scenario).unwrap();
    let trace = good_trace(dir.path());
    let trace_bytes = fs::read(&trace).unwrap();
    let s = scenario.to_str().unwrap();
    let roundabout = dir.path().join("sub");
    fs::create_dir(&roundabout).unwrap();
    let roundabout = format!("{}/../s.json", roundabout.display());
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&scenario, &link).unwrap();
    let link = link.to_str().unwrap();
    let cases: &[&[&str]] = &[
        &["run", s, "--trace", s],
        &["run", s, "--trace", &roundabout],
        &["run", s, "--render", "svg", "-o", link],
        &["replay", s, "--seed", "1", "--trace", s],
        &["sweep", s, "--seeds", "0..2", "--out", s],
        &["shrink", s, "-o", s],
        &["explore", s, "--trace", s],
        &["render", &trace, "-o", &trace],
        &["merge", &trace, "-o", &trace],
    ];
    for args in cases {
        let message = refused(args, dir.path());
        assert!(message.contains("is also the input"), "{args:?}: {message}");
    }
    assert_eq!(fs::read(&scenario).unwrap(), original);
    assert_eq!(fs::read(&trace).unwrap(), trace_bytes);
}

/// A file of 190 bytes that asks 10,000 clients to pay at once: the run would need more than
/// 10 GiB. It is refused before it starts, naming the file, the field and the setting.
#[test]
fn a_scenario_too_large_for_the_memory_budget_is_refused_before_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("everyone-pays.json");
    let text = r#"{"name": "everyone-pays", "clients": 10000, "workload": {"generated": {"count": 10000, "gap": {"kind": "constant", "us": 0}, "amount_min": 1, "amount_max": 1}}}"#;
    assert!(text.len() <= 190);
    fs::write(&path, text).unwrap();
    let trace = dir.path().join("t.jsonl");
    let message = refused(
        &[
            "run",
            path.to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(
        message.contains("everyone-pays.json:1:57: workload: "),
        "{message}"
    );
    assert!(message.contains("raise limits.max_memory_mib"), "{message}");
    // Raised far enough, the same workload passes the estimate (it is not run here).
    let raised = text.replace(
        "\"clients\": 10000,",
        "\"clients\": 10000, \"limits\": {\"max_memory_mib\": 1048576},",
    );
    assert!(::lamport_ledger::parse_scenario(&raised, "raised.json").is_ok());
}

/// A swarm draw is not estimated when the file is read (its base is small), so the run's
/// budget of queued events stops it: exit 2, one sentence, no trace left behind.
#[test]
fn a_run_that_outgrows_its_memory_budget_stops_with_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("swarm-big.json");
    let text = r#"{"name": "swarm-big", "clients": 2, "swarm": {"clients": [1000, 1000], "transfers": [1000, 1000]}, "limits": {"max_memory_mib": 17}}"#;
    fs::write(&path, text).unwrap();
    let before = listing(dir.path());
    let trace = dir.path().join("t.jsonl");
    let output = lamport_ledger(&[
        "run",
        path.to_str().unwrap(),
        "--swarm",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    let message = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with(&format!(
            "lamport-ledger: {}: limits.max_memory_mib: the run stopped at ",
            path.display()
        )),
        "{message}"
    );
    assert!(message.contains("raise limits.max_memory_mib"), "{message}");
    assert_eq!(listing(dir.path()), before, "the trace was left behind");
}

/// In a sweep the same stop is not a seed's failure (nor a panic) but a setting to raise: the
/// sweep stops with the sentence, exit 2, and leaves no records file behind.
#[test]
fn a_sweep_whose_runs_outgrow_their_budget_stops_with_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("swarm-big.json");
    let text = r#"{"name": "swarm-big", "clients": 2, "swarm": {"clients": [1000, 1000], "transfers": [1000, 1000]}, "limits": {"max_memory_mib": 17}}"#;
    fs::write(&path, text).unwrap();
    let before = listing(dir.path());
    let records = dir.path().join("seeds.jsonl");
    let output = lamport_ledger(&[
        "sweep",
        path.to_str().unwrap(),
        "--swarm",
        "--seeds",
        "0..2",
        "--out",
        records.to_str().unwrap(),
    ]);
    let message = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{message}");
    let last = message.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("lamport-ledger: ")
            && last.contains("limits.max_memory_mib: the run stopped at ")
            && last.contains("raise limits.max_memory_mib"),
        "{message}"
    );
    assert!(!message.contains("panic"), "{message}");
    assert_eq!(
        listing(dir.path()),
        before,
        "the records file was left behind"
    );
}

/// Bytes that are not text are refused where they are, as FILE:LINE:COLUMN, in a scenario
/// and in a cluster file alike; `-0` is named as written.
#[test]
fn bytes_that_are_not_text_and_minus_zero_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    };
    let latin1 = write(
        "latin1.json",
        b"{\"name\": \"n\",\n \"description\": \"caf\xE9\", \"clients\": 2}",
    );
    let message = refused(&["run", &latin1], dir.path());
    assert!(
        message.starts_with(&format!(
            "lamport-ledger: {latin1}:2:21: the byte 0xE9 here is not UTF-8"
        )),
        "{message}"
    );
    let zeros = write("zeros.json", &[0; 100_000]);
    let message = refused(&["run", &zeros], dir.path());
    assert!(
        message.starts_with(&format!(
            "lamport-ledger: {zeros}:1:1: the file holds a NUL byte"
        )),
        "{message}"
    );
    let cluster = write("cluster.json", b"{\n  \"nodes\": [], \"name\": \"\xFF\"}");
    let message = refused(&["node", "--cluster", &cluster, "1"], dir.path());
    assert!(
        message.starts_with(&format!("lamport-ledger: {cluster}:2:25: the byte 0xFF")),
        "{message}"
    );
    let minus_zero = write(
        "minus-zero.json",
        br#"{"name": "n", "clients": 2, "workload": {"transfers": [{"at_us": 0, "from": 1, "to": 2, "amount": -0}]}}"#,
    );
    let message = refused(&["run", &minus_zero], dir.path());
    assert!(message.ends_with(", found -0\n"), "{message}");
}
