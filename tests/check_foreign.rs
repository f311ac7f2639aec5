//! `check` and `render` on traces that node programs wrote (`run --node-cmd`, docs/nodes.md):
//! `check --node-cmd CMD` holds every event to the program, so a forged event is rejected as
//! for the built-in client; without it, a trace with messages no built-in protocol has is
//! refused with a sentence naming the way out; a program that fails during the check ends it
//! with one sentence and no process left behind; every drawing shows a program's messages.
//! A live cluster of program nodes (`node --node-cmd`) is held to its program the same way,
//! restarts from a data directory included.

mod common;
mod live_common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{check, forged, stderr, stdout};

const PYTHON_CLIENT: &str = "python3 examples/python/lamport_client.py";

fn both(output: &Output) -> String {
    format!("{}{}", stdout(output), stderr(output))
}

/// Asserts that `check` passed with every event held to the program; its report.
fn passed_held_to_the_program(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(0), "{}", both(output));
    let text = stdout(output);
    assert!(
        text.contains("replay:    every event held to the program"),
        "{text}"
    );
    assert!(text.contains("OK, every invariant holds"), "{text}");
    text
}

/// `run --node-cmd CMD --trace DIR/NAME` on the default scenario; the trace's path.
fn traced(dir: &Path, name: &str, cmd: &str) -> PathBuf {
    let trace = dir.join(name);
    let output =
        common::lamport_ledger(&["run", "--node-cmd", cmd, "--trace", trace.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    trace
}

/// The example client with REPLY renamed ACK and given a field of its own: a protocol with a
/// message type no built-in protocol has. Returns the command that runs it.
fn ack_client(dir: &Path) -> String {
    let source =
        std::fs::read_to_string(common::root().join("examples/python/lamport_client.py")).unwrap();
    let reply = r#"self.send(sender, {"type": "reply", "ts": self.clock})"#;
    assert!(
        source.contains(reply),
        "the example still sends its REPLY so"
    );
    let ack = r#"self.send(sender, {"type": "ack", "ts": self.clock, "note": "ok"})"#;
    let path = dir.join("ack_client.py");
    std::fs::write(&path, source.replace(reply, ack)).unwrap();
    format!("python3 {}", path.display())
}

/// The 1-based line of the first event matching `pick`, and its position among the events.
fn find(events: &[Value], pick: impl Fn(&Value) -> bool) -> usize {
    events.iter().position(pick).expect("the event is there")
}

#[test]
fn a_programs_trace_passes_when_held_to_the_same_program() {
    let dir = tempfile::tempdir().unwrap();
    let trace = traced(dir.path(), "python.jsonl", PYTHON_CLIENT);
    let output = check(&trace, &["--node-cmd", PYTHON_CLIENT]);
    let text = passed_held_to_the_program(&output);
    assert!(
        text.contains("played by the program \"python3 examples/python/lamport_client.py\""),
        "{text}"
    );
}

#[test]
fn a_forged_event_is_rejected_with_its_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let trace = std::fs::read_to_string(traced(dir.path(), "python.jsonl", PYTHON_CLIENT)).unwrap();
    // The forger's tool alone (which writes every message's fields in another order) changes
    // nothing that matters.
    let same = dir.path().join("same.jsonl");
    std::fs::write(&same, forged(&trace, |_| {})).unwrap();
    let output = check(&same, &["--node-cmd", PYTHON_CLIENT]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    // Client 1 is asked for 6, not 7: the program's commit then differs from the trace's.
    let edited = forged(&trace, |events| {
        let at = find(events, |e| e["kind"] == "transfer" && e["node"] == 1);
        events[at]["amount"] = 6.into();
    });
    let path = dir.path().join("amount.jsonl");
    std::fs::write(&path, edited).unwrap();
    let output = check(&path, &["--node-cmd", PYTHON_CLIENT]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let error = stderr(&output);
    assert!(
        error.contains("amount.jsonl:32: event 30 (client 1's commit of block 0 (1 pays 7 to 2"),
        "{error}"
    );
    assert!(
        error.contains("does not follow from the events before it"),
        "{error}"
    );
    assert!(error.contains("1 pays 6 to 2"), "{error}");
}

#[test]
fn a_forged_field_of_a_programs_own_message_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = ack_client(dir.path());
    let trace = std::fs::read_to_string(traced(dir.path(), "ack.jsonl", &cmd)).unwrap();
    let mut line = 0;
    let edited = forged(&trace, |events| {
        let at = find(events, |e| e["kind"] == "send" && e["msg"]["type"] == "ack");
        events[at]["msg"]["note"] = "forged".into();
        line = at + 2;
    });
    let path = dir.path().join("note.jsonl");
    std::fs::write(&path, edited).unwrap();
    let output = check(&path, &["--node-cmd", &cmd]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let error = stderr(&output);
    assert!(
        error.contains(&format!("note.jsonl:{line}: ")),
        "line {line}: {error}"
    );
    assert!(
        error.contains("does not follow from the events before it"),
        "{error}"
    );
}

#[test]
fn a_program_that_behaves_otherwise_is_rejected_where_it_differs() {
    let dir = tempfile::tempdir().unwrap();
    let trace = traced(dir.path(), "python.jsonl", PYTHON_CLIENT);
    let buggy = format!("{PYTHON_CLIENT} --bug tiebreak");
    let output = check(&trace, &["--node-cmd", &buggy]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    // Client 2's tie with client 1's request (1,1) lets it enter as soon as client 1 replies.
    let error = stderr(&output);
    assert!(
        error.contains(
            "python.jsonl:42: event 40 (client 2's delivery of RELEASE message \
             {\"type\":\"release\",\"ts\":6,\"request_ts\":1,"
        ),
        "{error}"
    );
    assert!(
        error.contains(
            "from client 1 at clock 7) does not follow from the events before it: the step of \
             client 2 that began at event 26 produces client 2's entry into the critical section \
             for request 1 at clock 5 next"
        ),
        "{error}"
    );
}

#[test]
fn a_trace_with_messages_of_its_own_needs_the_program_or_invariants_only() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = ack_client(dir.path());
    let trace = traced(dir.path(), "ack.jsonl", &cmd);
    let output = check(&trace, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let error = stderr(&output);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(
        error.contains(
            "the trace holds messages of types no built-in protocol has (\"ack\"), so a program \
             of its own wrote it (`--node-cmd`)"
        ),
        "{error}"
    );
    assert!(
        error.contains("`check --node-cmd CMD`") && error.contains("`check --invariants-only`"),
        "{error}"
    );
    let output = check(&trace, &["--invariants-only"]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    let output = check(&trace, &["--node-cmd", &cmd]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    // Both ways at once is a usage error.
    let output = check(&trace, &["--node-cmd", &cmd, "--invariants-only"]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let output = check(&trace, &["--node-cmd", " "]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    assert!(stderr(&output).contains("--node-cmd needs a command"));
}

/// The example client, except that client 3 exits at its first message and the others sleep
/// through the end of their input; every process notes its id in `pids`.
fn failing_client(dir: &Path) -> String {
    let pids = dir.join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    let script = format!(
        r#"import json, os, sys, time
sys.path.insert(0, {examples:?})
from lamport_client import Client
open(os.path.join({pids:?}, str(os.getpid())), "w").close()
client = Client(None)
me = None
for text in sys.stdin:
    line = json.loads(text)
    kind = line["type"]
    if kind == "init":
        me = line["id"]
        client.init(line)
    elif kind == "command":
        client.command(line)
    elif kind == "message":
        if me == 3:
            sys.exit(3)
        client.message(line)
    elif kind == "timer":
        client.timer()
    client.finish_step()
time.sleep(60)
"#,
        examples = common::root().join("examples/python").display().to_string(),
        pids = pids.display().to_string(),
    );
    let path = dir.join("failing_client.py");
    std::fs::write(&path, script).unwrap();
    format!("python3 {}", path.display())
}

fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim()
            .starts_with('Z')
    })
}

#[test]
#[cfg(target_os = "linux")]
fn a_program_that_fails_during_the_check_ends_it_with_one_sentence_and_no_process_left() {
    let dir = tempfile::tempdir().unwrap();
    let trace = traced(dir.path(), "python.jsonl", PYTHON_CLIENT);
    let cmd = failing_client(dir.path());
    let started = Instant::now();
    let output = check(&trace, &["--node-cmd", &cmd]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let error = stderr(&output);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(
        error.contains(
            "python.jsonl:15: client 3's node, at step 2 (a message from client 1), exited (exit \
             status: 3) before its done line, so the trace cannot be held to the program"
        ),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    let pids: Vec<String> = std::fs::read_dir(dir.path().join("pids"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(pids.len(), 3, "one process per client was started");
    for pid in pids {
        assert!(!alive(&pid), "node process {pid} outlived the check");
    }
}

/// `--step-timeout-ms` bounds each step of the program: one that sleeps through its step
/// ends the check at the deadline with one sentence, not at the default 10 s.
#[test]
fn a_program_that_hangs_meets_the_step_deadline_given() {
    let dir = tempfile::tempdir().unwrap();
    let trace = traced(dir.path(), "python.jsonl", PYTHON_CLIENT);
    let started = Instant::now();
    let output = check(
        &trace,
        &[
            "--node-cmd",
            "python3 tests/fixtures/nodes/bad_node.py hang",
            "--step-timeout-ms",
            "300",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let error = stderr(&output);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(error.contains("within 300 ms"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(8), "{error}");
    let output = check(&trace, &["--step-timeout-ms", "300"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "needs --node-cmd: {}",
        both(&output)
    );
}

#[test]
fn every_drawing_shows_a_programs_own_messages() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = ack_client(dir.path());
    let trace = traced(dir.path(), "ack.jsonl", &cmd);
    let trace = trace.to_str().unwrap();
    let render = |format: &str| {
        let output = common::lamport_ledger(&["render", trace, "--format", format]);
        assert_eq!(output.status.code(), Some(0), "{format}: {}", both(&output));
        stdout(&output)
    };
    let text = render("text");
    assert!(text.contains("75 events, #0 to #74"), "{text}");
    assert!(text.contains("sends ACK(ts 2) to c1  [m6]"), "{text}");
    assert!(text.contains("receives ACK(ts 2) from c3  [m6]"), "{text}");
    // The built-in protocol's reasons are left out: a program's rules are its own.
    assert!(!text.contains("joins its queue"), "{text}");
    assert!(!text.contains("waits:"), "{text}");
    assert!(!text.contains("heads its queue"), "{text}");
    assert!(
        text.contains("requests the mutex with timestamp 1"),
        "{text}"
    );
    assert!(
        text.contains("ENTERS the critical section (request 1)"),
        "{text}"
    );
    let svg = render("svg");
    assert!(svg.contains("ACK(ts 2)"), "{svg}");
    let html = render("html");
    assert!(html.contains("ACK(ts 2)"), "the page names the message");
    assert!(!html.contains("heads its queue"));
    let mermaid = render("mermaid");
    assert!(mermaid.contains("ACK(ts 2)"), "{mermaid}");
    // A message whose type no program may use is skipped, as by every other reader.
    let odd = forged(&std::fs::read_to_string(trace).unwrap(), |events| {
        for event in events.iter_mut() {
            if event["msg"]["type"] == "ack" {
                event["msg"]["type"] = "Not A Type".into();
            }
        }
    });
    let odd_path = dir.path().join("odd.jsonl");
    std::fs::write(&odd_path, odd).unwrap();
    let output = common::lamport_ledger(&["render", odd_path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(stdout(&output).contains("59 events, #0 to #74"));
}

/// Live node `id` of the cluster at `cluster`, its client the Python example, with its data
/// directory, tracing into `traces`.
fn live_program_node(id: u32, cluster: &Path, data_dir: &Path, traces: &Path) -> live_common::Node {
    live_common::program_node(id, cluster, Some(data_dir), traces, PYTHON_CLIENT)
}

/// The merged trace of a live cluster of two Python program nodes, made once for every test
/// here. Both first transfers are typed before the nodes meet (node 1 is frozen while node 2
/// starts), so both clients request the mutex with timestamp 1, a tie their ids break; then
/// node 2 stops, restarts from its data directory with its 2 blocks, and each node transfers
/// once more.
fn live_trace() -> &'static str {
    static TRACE: OnceLock<String> = OnceLock::new();
    TRACE.get_or_init(run_live_cluster)
}

fn run_live_cluster() -> String {
    let (tmp, traces) = live_common::workspace();
    let root = tmp.path();
    let cluster = live_common::write_cluster(root, &live_common::free_ports(2), 10_000);
    let data = |id: u32| root.join(format!("data-{id}"));
    let start = |id: u32| live_program_node(id, &cluster, &data(id), &traces);

    let mut n1 = start(1);
    n1.expect(&["waiting to hear from node 2"]);
    n1.send("transfer 2 3");
    n1.expect(&["transfer #1 (3 to node 2): accepted; it waits"]);
    // Frozen, node 1 does not dial node 2 before node 2 holds its transfer too.
    n1.signal("STOP");
    let mut n2 = start(2);
    n2.expect(&["waiting to hear from node 1"]);
    n2.send("transfer 1 4");
    n2.expect(&["transfer #1 (4 to node 1): accepted; it waits"]);
    n1.signal("CONT");
    n1.expect(&["transfer #1 (3 to node 2): released the mutex"]);
    n2.expect(&["transfer #1 (4 to node 1): released the mutex"]);
    n1.chain(2);
    n2.chain(2);

    assert!(n2.exit().success());
    let mut n2 = start(2);
    n2.expect(&["restored 2 blocks from"]);
    n2.expect(&["ready: heard from every peer"]);
    n1.send("transfer 2 2");
    n2.expect(&["applied block 2 from node 1"]);
    n2.send("transfer 1 1");
    n1.expect(&["applied block 3 from node 2"]);
    n1.chain(4);
    n2.chain(4);
    assert!(n1.exit().success());
    assert!(n2.exit().success());

    let merged = root.join("merged.jsonl");
    let (code, _, merge_err) = live_common::run_bin(&[
        "merge",
        &traces.display().to_string(),
        "-o",
        &merged.display().to_string(),
    ]);
    assert_eq!(code, 0, "{merge_err}");
    assert!(merge_err.contains("node 2 (2 runs)"), "{merge_err}");
    std::fs::read_to_string(&merged).unwrap()
}

/// The live trace's events (without the header and summary lines).
fn live_events() -> Vec<Value> {
    let lines: Vec<&str> = live_trace().lines().collect();
    lines[1..lines.len() - 1]
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn write_trace(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_live_program_clusters_trace_with_a_restart_passes_when_held_to_the_program() {
    let events = live_events();
    let requests: Vec<&Value> = events.iter().filter(|e| e["kind"] == "request").collect();
    assert!(
        requests[0]["ts"] == 1 && requests[1]["ts"] == 1,
        "the first two requests tie: {requests:?}"
    );
    let restart = find(&events, |e| e["kind"] == "restart" && e["node"] == 2);
    assert!(
        events[restart + 1]["kind"] == "apply" && events[restart + 2]["kind"] == "apply",
        "node 2 restores its 2 blocks as it starts again"
    );
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path(), "merged.jsonl", live_trace());
    let output = check(&trace, &["--node-cmd", PYTHON_CLIENT]);
    passed_held_to_the_program(&output);
}

#[test]
fn a_live_trace_held_to_the_flawed_client_is_rejected_where_it_differs() {
    let events = live_events();
    // The flawed client takes the tie at timestamp 1 for its own turn: node 2 enters as soon
    // as node 1's REPLY tells it no earlier request can come, which the trace does not show.
    let reply = find(&events, |e| {
        e["kind"] == "deliver" && e["node"] == 2 && e["msg"]["type"] == "reply"
    });
    let next = reply + 1 + find(&events[reply + 1..], |e| e["node"] == 2);
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path(), "merged.jsonl", live_trace());
    let buggy = format!("{PYTHON_CLIENT} --bug tiebreak");
    let output = check(&trace, &["--node-cmd", &buggy]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let error = stderr(&output);
    assert!(
        error.contains(&format!("merged.jsonl:{}: event {next} (", next + 2)),
        "line {}: {error}",
        next + 2
    );
    assert!(
        error.contains(&format!(
            "the step of client 2 that began at event {reply} produces client 2's entry into \
             the critical section for request 1"
        )),
        "{error}"
    );
}

#[test]
fn a_forged_amount_in_a_live_trace_is_rejected_at_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let events = live_events();
    let commit = find(&events, |e| e["kind"] == "commit" && e["node"] == 1);
    let edited = forged(live_trace(), |events| {
        let at = find(events, |e| e["kind"] == "transfer" && e["node"] == 1);
        events[at]["amount"] = 2.into();
    });
    let trace = write_trace(dir.path(), "amount.jsonl", &edited);
    let output = check(&trace, &["--node-cmd", PYTHON_CLIENT]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let error = stderr(&output);
    assert!(
        error.contains(&format!(
            "amount.jsonl:{}: event {commit} (client 1's commit of block 0 (1 pays 3 to 2",
            commit + 2
        )),
        "{error}"
    );
    assert!(error.contains("1 pays 2 to 2"), "{error}");
}

#[test]
fn a_restore_at_another_clock_than_the_programs_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let events = live_events();
    let restart = find(&events, |e| e["kind"] == "restart" && e["node"] == 2);
    let edited = forged(live_trace(), |events| {
        for event in &mut events[restart + 1..restart + 3] {
            event["clock"] = 7.into();
        }
    });
    let trace = write_trace(dir.path(), "restore.jsonl", &edited);
    let output = check(&trace, &["--node-cmd", PYTHON_CLIENT]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let error = stderr(&output);
    assert!(
        error.contains(&format!(
            "event {} (client 2's apply of block 0",
            restart + 1
        )) && error.contains(
            "client 2's program, started with the 2 blocks restored from the data directory in \
             its init line, reports clock 0"
        ),
        "{error}"
    );
    // A restart that keeps the ledger leaves nothing to restore.
    let edited = forged(live_trace(), |events| {
        events[restart]["kept"] = "ledger".into();
    });
    let trace = write_trace(dir.path(), "kept.jsonl", &edited);
    let output = check(&trace, &["--node-cmd", PYTHON_CLIENT]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let error = stderr(&output);
    assert!(
        error.contains(&format!(
            "kept.jsonl:{}: event {} (client 2's apply of block 0",
            restart + 3,
            restart + 1
        )) && error.contains("client 2 started with 2 blocks already"),
        "{error}"
    );
}

/// A send outside any step of a program node is refused as what it is: a program's live
/// session sends nothing of its own (the built-in client's catch-up UPDATEs do not apply).
#[test]
fn a_send_outside_a_step_of_a_program_node_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let edited = forged(live_trace(), |events| {
        let send = find(events, |e| e["kind"] == "send" && e["node"] == 2);
        let mut copy = events[send].clone();
        let last = events.last().unwrap().clone();
        copy["seq"] = (last["seq"].as_u64().unwrap() + 1).into();
        copy["t"] = last["t"].clone();
        copy["msg_id"] = 1_000_000.into();
        events.push(copy);
    });
    let trace = write_trace(dir.path(), "session.jsonl", &edited);
    let output = check(&trace, &["--node-cmd", PYTHON_CLIENT]);
    assert_eq!(output.status.code(), Some(2), "{}", both(&output));
    let error = stderr(&output);
    assert!(
        error.contains("a program node's live session sends no message of its own"),
        "{error}"
    );
}
