//! Process nodes (docs/nodes.md): the Python example client plays every client of a scenario
//! over JSON Lines, and nodes that break the wire protocol end the run with one sentence.

mod common;

use common::{lamport_ledger, stderr};

const PYTHON_CLIENT: &str = "python3 examples/python/lamport_client.py";

fn digest(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout);
    let summary = text.lines().last().expect("a summary line");
    let at = summary.find("\"digest\":\"").expect("a digest") + 10;
    summary[at..at + 64].to_string()
}

/// On FIFO links without faults the example client does what the built-in client does, step
/// for step and byte for byte: its messages are written in the trace's own field order.
#[test]
fn the_python_client_gives_the_built_in_clients_trace() {
    for scenario in [
        "scenarios/default.json",
        "scenarios/reorder-2.json",
        "scenarios/contention-5.json",
    ] {
        let builtin = lamport_ledger(&["run", scenario, "--format", "jsonl"]);
        let python = lamport_ledger(&[
            "run",
            scenario,
            "--format",
            "jsonl",
            "--node-cmd",
            PYTHON_CLIENT,
        ]);
        assert_eq!(
            python.status.code(),
            builtin.status.code(),
            "{scenario}: {}",
            stderr(&python)
        );
        assert_eq!(
            digest(&python.stdout),
            digest(&builtin.stdout),
            "{scenario}"
        );
    }
}

#[test]
fn the_python_client_passes_the_default_scenario_and_says_how_to_rerun() {
    let output = lamport_ledger(&["run", "--node-cmd", PYTHON_CLIENT]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(text.contains("every invariant held"), "{text}");
    assert!(
        text.contains("--node-cmd 'python3 examples/python/lamport_client.py'"),
        "{text}"
    );
}

/// Clients 1 and 2 request with the same timestamp at time 0: both count as first, both
/// enter, and their ledgers fork.
#[test]
fn the_classic_tiebreak_bug_is_caught() {
    let output = lamport_ledger(&[
        "run",
        "--format",
        "jsonl",
        "--node-cmd",
        "python3 examples/python/lamport_client.py --bug tiebreak",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("\"invariant\":\"ledger_agreement\""),
        "{text}"
    );
}

#[test]
fn a_scenario_names_its_node_program() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("python.json");
    let mut scenario: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("scenarios/default.json")).unwrap(),
    )
    .unwrap();
    let cmd = format!(
        "python3 {}",
        common::root()
            .join("examples/python/lamport_client.py")
            .display()
    );
    scenario["node"] = serde_json::json!({"cmd": cmd, "step_timeout_ms": 20000});
    std::fs::write(&path, scenario.to_string()).unwrap();
    let output = lamport_ledger(&["run", path.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let builtin = lamport_ledger(&["run", "--format", "jsonl"]);
    assert_eq!(digest(&output.stdout), digest(&builtin.stdout));
}

#[test]
fn mutations_do_not_go_with_a_node_program() {
    let output = lamport_ledger(&[
        "run",
        "scenarios/mutation-tiebreak-timestamp-only.json",
        "--node-cmd",
        PYTHON_CLIENT,
    ]);
    assert_eq!(output.status.code(), Some(2));
    let error = stderr(&output);
    assert!(error.contains("mutations"), "{error}");
    assert_eq!(error.lines().count(), 1, "{error}");
}

/// Runs the default scenario with `bad_node.py MODE` and returns its one-line error.
fn bad_node_error(mode: &str, extra: &[&str]) -> String {
    let cmd = format!("python3 tests/fixtures/nodes/bad_node.py {mode}");
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--node-cmd", &cmd]);
    let output = lamport_ledger(&args);
    let error = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{mode}: {error}");
    assert_eq!(error.lines().count(), 1, "{mode}: one sentence: {error}");
    assert!(
        error.starts_with("lamport-ledger: client "),
        "{mode}: {error}"
    );
    assert!(error.contains("at step 1 (a command)"), "{mode}: {error}");
    error
}

#[test]
fn a_node_that_exits_is_named_with_its_step() {
    let error = bad_node_error("exit", &[]);
    assert!(error.contains("exited (exit status: 3)"), "{error}");
}

#[test]
fn a_node_that_writes_no_json_is_quoted() {
    let error = bad_node_error("malformed", &[]);
    assert!(
        error.contains("wrote a line that is not JSON") && error.ends_with("transfer accepted!\n"),
        "{error}"
    );
}

#[test]
fn a_node_that_sends_to_an_unknown_client_is_refused() {
    let error = bad_node_error("unknown-client", &[]);
    assert!(error.contains("names client 9"), "{error}");
}

#[test]
fn a_node_that_commits_a_block_with_a_wrong_hash_is_refused() {
    let error = bad_node_error("wrong-hash", &[]);
    assert!(error.contains("does not recompute"), "{error}");
}

#[test]
fn a_node_that_hangs_meets_the_step_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hang.json");
    let mut scenario: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("scenarios/default.json")).unwrap(),
    )
    .unwrap();
    scenario["node"] = serde_json::json!({"cmd": "unused", "step_timeout_ms": 2000});
    std::fs::write(&path, scenario.to_string()).unwrap();
    let started = std::time::Instant::now();
    let error = bad_node_error("hang", &[path.to_str().unwrap()]);
    assert!(error.contains("no done line within 2000 ms"), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn a_node_program_that_cannot_start_is_one_sentence() {
    let output = lamport_ledger(&["run", "--node-cmd", "exit 0"]);
    let error = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{error}");
    assert!(
        error.contains("client 1's node, at step 0 (init)"),
        "{error}"
    );
}

/// `--node-cmd` on `sweep`, `replay` and `shrink`: the same program, and every printed
/// command repeats it.
#[test]
fn sweep_replay_and_shrink_take_the_node_program() {
    let buggy = "python3 examples/python/lamport_client.py --bug tiebreak";
    let sweep = lamport_ledger(&[
        "sweep",
        "scenarios/default.json",
        "--seeds",
        "1..2",
        "--node-cmd",
        buggy,
    ]);
    let text = String::from_utf8_lossy(&sweep.stdout);
    assert_eq!(sweep.status.code(), Some(1), "{text}{}", stderr(&sweep));
    assert!(text.contains("ledger_agreement: 1 run"), "{text}");
    let replay_line = text
        .lines()
        .find(|line| line.contains(" replay "))
        .expect("a replay command");
    assert!(
        replay_line.contains(&format!("--node-cmd '{buggy}'")),
        "{replay_line}"
    );
    let digest = replay_line.rsplit(' ').next().unwrap();

    let replay = lamport_ledger(&[
        "replay",
        "scenarios/default.json",
        "--seed",
        "1",
        "--node-cmd",
        buggy,
        "--expect-digest",
        digest,
    ]);
    // The same run again: the digest matches, which is what replay is asked.
    assert_eq!(replay.status.code(), Some(0), "{}", stderr(&replay));
    let text = String::from_utf8_lossy(&replay.stdout);
    assert!(text.contains("VIOLATION of ledger_agreement"), "{text}");
    assert!(text.contains("digest matches"), "{text}");
    assert!(text.contains(&format!("--node-cmd '{buggy}'")), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let minimal = dir.path().join("minimal.json");
    let shrink = lamport_ledger(&[
        "shrink",
        "scenarios/default.json",
        "--seed",
        "1",
        "--node-cmd",
        buggy,
        "--max-runs",
        "20",
        "-o",
        minimal.to_str().unwrap(),
    ]);
    assert_eq!(shrink.status.code(), Some(0), "{}", stderr(&shrink));
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&minimal).unwrap()).unwrap();
    assert_eq!(file["node"]["cmd"], buggy, "{file}");
    assert_eq!(file["clients"], 2, "{file}");
    let rerun = lamport_ledger(&["run", minimal.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&rerun.stdout);
    assert!(
        text.contains("VIOLATION of ledger_agreement") && text.contains("(matched)"),
        "{text}"
    );
}

/// A program that breaks the wire protocol: `sweep` counts the seed as failed with the
/// program's sentence; `replay` and `shrink` end with that sentence and exit code 2.
#[test]
fn a_bad_node_under_sweep_replay_and_shrink() {
    let bad = "python3 tests/fixtures/nodes/bad_node.py malformed";
    let sweep = lamport_ledger(&[
        "sweep",
        "scenarios/default.json",
        "--seeds",
        "0..1",
        "--node-cmd",
        bad,
    ]);
    let text = String::from_utf8_lossy(&sweep.stdout);
    assert_eq!(sweep.status.code(), Some(1), "{text}");
    assert!(
        text.contains("seed 0 failed: the node program failed: client 1's node"),
        "{text}"
    );
    for args in [
        &[
            "replay",
            "scenarios/default.json",
            "--seed",
            "1",
            "--node-cmd",
            bad,
        ][..],
        &[
            "shrink",
            "scenarios/default.json",
            "--seed",
            "1",
            "--node-cmd",
            bad,
        ],
    ] {
        let output = lamport_ledger(args);
        let error = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {error}");
        assert!(
            error.starts_with("lamport-ledger: client 1's node, at step 1 (a command)"),
            "{args:?}: {error}"
        );
    }
}

/// The node processes `pid` has started, from /proc.
#[cfg(target_os = "linux")]
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return children;
    };
    for task in tasks.flatten() {
        let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        children.extend(
            text.split_whitespace()
                .filter_map(|id| id.parse::<u32>().ok()),
        );
    }
    children
}

/// Ctrl-C sent to lamport-ledger alone (not to its process group, as a terminal would) kills
/// and reaps every node: a node that sleeps through its step does not outlive the run. With
/// `--trace` the interrupt handler is the one that removes the pending file; without, the
/// node layer's own.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupt_kills_and_reaps_every_node() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hang.json");
    let mut scenario: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("scenarios/default.json")).unwrap(),
    )
    .unwrap();
    scenario["node"] = serde_json::json!({"cmd": "unused", "step_timeout_ms": 60000});
    std::fs::write(&path, scenario.to_string()).unwrap();
    let trace = dir.path().join("trace.jsonl");
    let with_trace = ["--trace", trace.to_str().unwrap()];
    for extra in [&[][..], &with_trace[..]] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lamport-ledger"))
            .args(["run", path.to_str().unwrap()])
            .args(extra)
            .args([
                "--node-cmd",
                "python3 tests/fixtures/nodes/bad_node.py hang",
            ])
            .current_dir(common::root())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let nodes = loop {
            let nodes = children_of(child.id());
            if nodes.len() == 3 || started.elapsed() > Duration::from_secs(30) {
                break nodes;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(nodes.len(), 3, "{extra:?}: three node processes");
        // Client 1's node is inside its 30 s sleep once the run waits on it.
        std::thread::sleep(Duration::from_millis(500));
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        // SAFETY: kill takes plain integers; `pid` is our own unreaped child.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{extra:?}");
        assert!(started.elapsed() < Duration::from_secs(25), "{extra:?}");
        for node in nodes {
            let gone = Instant::now();
            while std::path::Path::new(&format!("/proc/{node}")).exists() {
                assert!(
                    gone.elapsed() < Duration::from_secs(5),
                    "{extra:?}: node process {node} outlived the interrupt"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        assert!(!trace.exists(), "an interrupted run leaves no trace file");
    }
}

/// Each node program leads a process group of its own, and an interrupt kills the whole
/// group: what a node command starts beside the program (here a `sleep`) goes with it.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupt_kills_what_a_node_command_started_too() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let helpers = dir.path().join("helpers");
    let cmd = format!(
        "sh -c 'sleep 300 & echo $! >> {}; exec python3 tests/fixtures/nodes/bad_node.py hang'",
        helpers.display()
    );
    let path = dir.path().join("hang.json");
    let mut scenario: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::root().join("scenarios/default.json")).unwrap(),
    )
    .unwrap();
    scenario["node"] = serde_json::json!({"cmd": cmd, "step_timeout_ms": 60000});
    std::fs::write(&path, scenario.to_string()).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lamport-ledger"))
        .args(["run", path.to_str().unwrap()])
        .current_dir(common::root())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let sleepers = loop {
        let text = std::fs::read_to_string(&helpers).unwrap_or_default();
        let pids: Vec<String> = text.lines().map(str::to_string).collect();
        if pids.len() == 3 || started.elapsed() > Duration::from_secs(30) {
            break pids;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(sleepers.len(), 3, "each node command started its sleep");
    std::thread::sleep(Duration::from_millis(500));
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill takes plain integers; `pid` is our own unreaped child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    assert_eq!(child.wait().unwrap().code(), Some(130));
    for sleeper in sleepers {
        let gone = Instant::now();
        while runs(&sleeper) {
            assert!(
                gone.elapsed() < Duration::from_secs(5),
                "the sleep {sleeper} a node command started outlived the interrupt"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether process `pid` exists and is not a zombie waiting for a parent to reap it.
#[cfg(target_os = "linux")]
fn runs(pid: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses.
    let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
    state != Some(Some('Z'))
}

/// A run whose node fails keeps its trace file up to the failure, and a run played by a
/// program writes the same trace file as the trace it prints.
#[test]
fn the_trace_up_to_a_node_failure_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.jsonl");
    let error = bad_node_error("malformed", &["--trace", trace.to_str().unwrap()]);
    assert!(
        error.ends_with(&format!("(the trace up to it is in {})\n", trace.display())),
        "{error}"
    );
    let kept = std::fs::read_to_string(&trace).unwrap();
    assert!(kept.starts_with("{\"type\":\"header\""), "{kept}");

    let whole = lamport_ledger(&[
        "run",
        "scenarios/reorder-2.json",
        "--trace",
        trace.to_str().unwrap(),
        "--node-cmd",
        PYTHON_CLIENT,
    ]);
    assert_eq!(whole.status.code(), Some(0), "{}", stderr(&whole));
    let printed = lamport_ledger(&[
        "run",
        "scenarios/reorder-2.json",
        "--format",
        "jsonl",
        "--node-cmd",
        PYTHON_CLIENT,
    ]);
    assert_eq!(std::fs::read(&trace).unwrap(), printed.stdout);
}
