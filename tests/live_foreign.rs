//! Live nodes whose client is a program (`node --node-cmd CMD`, docs/live.md): real
//! `lamport-ledger node` processes on free loopback ports, each driving a real child process
//! (the Python example client) in lockstep, their messages crossing real TCP. Every wait has a
//! deadline, and every node is killed when its handle is dropped. Shared helpers:
//! `live_common`.

mod live_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use live_common::*;

const CLIENT: &str = "python3 examples/python/lamport_client.py";

/// The process ids of `node`'s children (its client program), waiting until it has one.
fn children(node: &Node) -> Vec<u32> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let output = Command::new("pgrep")
            .args(["-P", &node.child.id().to_string()])
            .output()
            .expect("pgrep runs");
        let pids: Vec<u32> = String::from_utf8_lossy(&output.stdout)
            .split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .collect();
        if !pids.is_empty() {
            return pids;
        }
        assert!(
            Instant::now() < deadline,
            "node {} started no program",
            node.id
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Whether a process still exists (a zombie counts: it has not been reaped).
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn assert_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|&pid| alive(pid)) {
        assert!(
            Instant::now() < deadline,
            "client programs {pids:?} outlived their node"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// The raw `msg` object of an event line (the rest of the line after `"msg":`, without the
/// closing brace of the event).
fn raw_msg(line: &str) -> Option<(&str, &str)> {
    let msg_id_at = line.find("\"msg_id\":")? + "\"msg_id\":".len();
    let msg_id = &line[msg_id_at..msg_id_at + line[msg_id_at..].find(',')?];
    let msg_at = line.find("\"msg\":")? + "\"msg\":".len();
    Some((msg_id, &line[msg_at..line.len() - 1]))
}

/// Every message delivered in `traces` carries the bytes its sender's program wrote, as the
/// sender's trace recorded them. Returns how many deliveries were compared.
fn deliveries_match_sends(traces: &Path) -> usize {
    let mut sent = std::collections::BTreeMap::new();
    let mut delivered = Vec::new();
    for entry in std::fs::read_dir(traces).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            let Some((msg_id, msg)) = raw_msg(line) else {
                continue;
            };
            if line.contains("\"kind\":\"send\"") {
                sent.insert(msg_id.to_string(), msg.to_string());
            } else if line.contains("\"kind\":\"deliver\"") {
                delivered.push((msg_id.to_string(), msg.to_string()));
            }
        }
    }
    for (msg_id, msg) in &delivered {
        assert_eq!(sent.get(msg_id), Some(msg), "message {msg_id}");
    }
    delivered.len()
}

#[test]
fn three_program_nodes_transfer_over_tcp_and_their_merged_trace_checks() {
    let (tmp, traces) = workspace();
    let root = tmp.path();
    let cluster = write_cluster(root, &free_ports(3), 30_000);
    let data = |id: u32| root.join(format!("data-{id}"));
    let start = |id: u32| program_node(id, &cluster, Some(&data(id)), &traces, CLIENT);
    let mut n1 = start(1);
    let mut n2 = start(2);
    let mut n3 = start(3);
    n1.expect(&["client program \"python3 examples/python/lamport_client.py\""]);
    all_ready([&n1, &n2, &n3]);

    // Two transfers typed at two prompts at once.
    n1.send("transfer 2 3");
    n2.send("transfer 3 4");
    n1.expect(&["transfer #1 (3 to node 2): committed block"]);
    n2.expect(&["transfer #1 (4 to node 3): committed block"]);
    n1.expect(&["transfer #1 (3 to node 2): released the mutex"]);
    n2.expect(&["transfer #1 (4 to node 3): released the mutex"]);
    for node in [&mut n1, &mut n2, &mut n3] {
        node.chain(2);
    }

    // Node 3 stops between transfers; a transfer at node 1 then waits, and says so.
    let programs = children(&n3);
    assert!(n3.exit().success());
    assert_gone(&programs);
    n1.send("transfer 3 1");
    let waiting = n1.expect(&["transfer #2 (1 to node 3) waits with request"]);
    assert!(
        waiting.contains("the client program does not say for whom; not connected: node 3"),
        "{waiting}"
    );

    // Node 3 comes back with its ledger in its program's init line; node 1's REQUEST reaches
    // the new run, and the transfer commits everywhere.
    let mut n3 = start(3);
    n3.expect(&["restored 2 blocks from"]);
    n1.expect(&["transfer #2 (1 to node 3): committed block 2"]);
    n3.send("transfer 1 2");
    n3.expect(&["transfer #1 (2 to node 1): committed block 3"]);
    assert_same_chains([&mut n1, &mut n2, &mut n3], 4);
    let tables: Vec<Vec<String>> = [&mut n1, &mut n2, &mut n3]
        .into_iter()
        .map(|node| node.table())
        .collect();
    assert_eq!(tables[0], tables[1]);
    assert_eq!(tables[0], tables[2]);
    assert_eq!(tables[0].last().unwrap().trim(), "total: 30");

    // Ctrl-C stops a node as `exit` does, and its program with it.
    let programs: Vec<u32> = [&n1, &n2, &n3].into_iter().flat_map(children).collect();
    assert!(n1.exit().success());
    assert!(n2.interrupt().success());
    assert!(n3.exit().success());
    assert_gone(&programs);

    assert!(deliveries_match_sends(&traces) >= 10);
    // The merged trace, restart and restored blocks included, is held to the program.
    let merged = root.join("merged.jsonl").display().to_string();
    let (code, _, merge_err) = run_bin(&["merge", &traces.display().to_string(), "-o", &merged]);
    assert_eq!(code, 0, "{merge_err}");
    assert!(merge_err.contains("node 3 (2 runs)"), "{merge_err}");
    let (code, out, err) = run_bin(&["check", &merged, "--node-cmd", CLIENT]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("OK, every invariant holds"), "{out}");
    let kinds = kinds(&std::fs::read_to_string(&merged).unwrap());
    assert_eq!(count(&kinds, "restart", 3), 1);
    assert_eq!(
        count(&kinds, "apply", 3),
        2 + 2 + 1,
        "applied, restored, applied"
    );
    let commits: usize = (1..=3).map(|node| count(&kinds, "commit", node)).sum();
    assert_eq!(commits, 4);
}

#[test]
fn a_restarted_program_node_gets_the_outstanding_request_again() {
    let (tmp, traces) = workspace();
    let root = tmp.path();
    let cluster = write_cluster(root, &free_ports(3), 10_000);
    let data = |id: u32| root.join(format!("data-{id}"));
    let start = |id: u32| program_node(id, &cluster, Some(&data(id)), &traces, CLIENT);
    let mut n1 = start(1);
    let n2 = start(2);
    let n3 = start(3);
    all_ready([&n1, &n2, &n3]);

    // Node 1's REQUEST reaches node 3 while node 2 is away, so the transfer waits.
    assert!(n2.exit().success());
    n1.send("transfer 3 1");
    n1.expect(&[
        "transfer #1 (1 to node 3) waits with request",
        "not connected: node 2",
    ]);
    wait_for_trace_line(
        &traces,
        3,
        &["\"kind\":\"deliver\"", "\"type\":\"request\""],
    );

    // Node 3 is killed and restarts: its new run must get the REQUEST again, or it could
    // enter while node 1 holds the mutex.
    n3.kill();
    let n3 = start(3);
    n1.expect(&["connected to node 3 (it restarted)"]);
    let n2 = start(2);
    n1.expect(&["transfer #1 (1 to node 3): committed block 0"]);
    n3.expect(&["applied block 0 from node 1"]);
    n2.expect(&["applied block 0 from node 1"]);
    for node in [n1, n2, n3] {
        assert!(node.exit().success());
    }

    let merged = root.join("merged.jsonl").display().to_string();
    let (code, _, merge_err) = run_bin(&["merge", &traces.display().to_string(), "-o", &merged]);
    assert_eq!(code, 0, "{merge_err}");
    // Held to the program: the REQUEST sent again is a network event, not a step.
    let (code, out, err) = run_bin(&["check", &merged, "--node-cmd", CLIENT]);
    assert_eq!(code, 0, "{out}{err}");
    let kinds = kinds(&std::fs::read_to_string(&merged).unwrap());
    assert_eq!(
        count(&kinds, "duplicate", 1),
        1,
        "node 1's REQUEST, sent again"
    );
}

/// A program that rewrites the Python client's messages with spaces, another key order and a
/// field of its own before they leave: the peers must get those bytes exactly.
const REWRITER: &str = r#"
import json, subprocess, sys
client = subprocess.Popen([sys.executable, "examples/python/lamport_client.py"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
for line in sys.stdin:
    client.stdin.write(line)
    client.stdin.flush()
    while True:
        out = json.loads(client.stdout.readline())
        if out["type"] == "send":
            msg = dict(reversed(list(out["msg"].items())), note="\u00e9 \\ \"")
            text = json.dumps(msg, separators=(" , ", " : "))
            sys.stdout.write('{"type":"send","clock":%d,"to":%d,"msg":%s}\n'
                             % (out["clock"], out["to"], text))
        else:
            sys.stdout.write(json.dumps(out) + "\n")
        if out["type"] == "done":
            sys.stdout.flush()
            break
"#;

#[test]
fn a_programs_messages_reach_its_peers_byte_for_byte() {
    let (tmp, traces) = workspace();
    let root = tmp.path();
    let cluster = write_cluster(root, &free_ports(3), 5_000);
    let script = root.join("rewriter.py");
    std::fs::write(&script, REWRITER).unwrap();
    let cmd = format!("python3 {}", script.display());
    let mut nodes: Vec<Node> = (1..=3)
        .map(|id| program_node(id, &cluster, None, &traces, &cmd))
        .collect();
    all_ready([&nodes[0], &nodes[1], &nodes[2]]);
    nodes[0].send("transfer 2 3");
    nodes[2].send("transfer 1 1");
    nodes[0].expect(&["transfer #1 (3 to node 2): committed"]);
    nodes[2].expect(&["transfer #1 (1 to node 1): committed"]);
    let [n1, n2, n3] = &mut nodes[..] else {
        unreachable!()
    };
    assert_same_chains([n1, n2, n3], 2);
    for node in nodes {
        assert!(node.exit().success());
    }
    let text: String = std::fs::read_dir(&traces)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect();
    assert!(
        text.contains(r#""msg":{"ts" : 1 , "type" : "request" , "note" : "\u00e9 \\ \""}"#),
        "{text}"
    );
    assert!(deliveries_match_sends(&traces) >= 8);
    merge_and_check(root, &traces);
}

fn cluster_with(root: &Path, ports: &[u16], node: &str) -> PathBuf {
    let nodes: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(slot, port)| format!(r#"{{"id": {}, "address": "127.0.0.1:{port}"}}"#, slot + 1))
        .collect();
    let text = format!(
        r#"{{"name": "test", "key": "{KEY}", "cs_us": 1000, "node": {node}, "nodes": [{}]}}"#,
        nodes.join(", ")
    );
    let path = root.join("programs.json");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_program_that_breaks_the_wire_protocol_stops_its_node_with_one_sentence() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cluster = write_cluster(root, &free_ports(2), 1000)
        .display()
        .to_string();

    // It exits before answering init.
    let (code, _, err) = run_bin(&["node", "1", "--cluster", &cluster, "--node-cmd", "true"]);
    assert_eq!(code, 2, "{err}");
    // Whether it is gone before or after its init line is written, it has exited.
    let said = err.trim();
    assert!(
        said.starts_with("lamport-ledger: client 1's node, at step 0 (init), ")
            && said.contains("exited")
            && said.lines().count() == 1,
        "{said}"
    );

    // It writes a line that is not JSON when handed a command; the trace up to it is kept.
    let garbage = root.join("garbage.py");
    std::fs::write(
        &garbage,
        "import sys\nfor line in sys.stdin:\n    \
         print('transfer accepted!' if 'command' in line else '{\"type\":\"done\",\"clock\":0}', \
         flush=True)\n",
    )
    .unwrap();
    let trace = root.join("garbage.jsonl");
    let cmd = format!("python3 {}", garbage.display());
    let mut node = Node::start(
        1,
        &[
            "--cluster",
            &cluster,
            "--trace",
            &trace.display().to_string(),
            "--node-cmd",
            &cmd,
        ],
    );
    let programs = children(&node);
    node.send("balance");
    let status = node.wait_exit();
    assert_eq!(status.code(), Some(2), "{}", node.dump());
    let said = node.err.text();
    let said = said.lines().last().unwrap_or_default();
    assert!(
        said.starts_with(
            "lamport-ledger: client 1's node, at step 1 (a command), wrote a line that is not \
             JSON"
        ) && said
            .contains("): transfer accepted!; node 1 stopped (its trace up to the failure is in"),
        "{said}"
    );
    assert_eq!(node.err.text().matches("lamport-ledger:").count(), 1);
    assert_gone(&programs);
    let kept = std::fs::read_to_string(&trace).unwrap();
    assert!(kept.starts_with("{\"type\":\"header\""), "{kept}");
    assert!(!kept.contains("\"summary\""), "{kept}");

    // It hangs at init: the cluster file's deadline ends it, and it is killed and reaped.
    let ports = free_ports(2);
    let hanging = cluster_with(
        root,
        &ports,
        r#"{"cmd": "sleep 600", "step_timeout_ms": 1500}"#,
    );
    let started = Instant::now();
    let mut node = Node::start(1, &["--cluster", &hanging.display().to_string()]);
    let programs = children(&node);
    let status = node.wait_exit();
    assert_eq!(status.code(), Some(2), "{}", node.dump());
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert_eq!(
        node.err.text().lines().last().unwrap_or_default(),
        "lamport-ledger: client 1's node, at step 0 (init), wrote no done line within 1500 ms \
         (the per-step deadline)"
    );
    assert_gone(&programs);

    assert_eq!(
        run_bin(&["node", "1", "--cluster", &cluster, "--node-cmd", " "])
            .2
            .trim(),
        "lamport-ledger: --node-cmd needs a command, such as \"python3 \
         examples/python/lamport_client.py\""
    );
}

/// A program that answers init, then ignores the end of its input: only a kill stops it.
const STUBBORN: &str = "import sys, time\nsys.stdin.readline()\n\
print('{\"type\":\"done\",\"clock\":0}', flush=True)\nsys.stdin.read()\ntime.sleep(600)\n";

#[test]
fn ctrl_c_stops_a_node_and_reaps_even_a_stubborn_program() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cluster = write_cluster(root, &free_ports(2), 1000)
        .display()
        .to_string();
    let script = root.join("stubborn.py");
    std::fs::write(&script, STUBBORN).unwrap();
    let cmd = format!("python3 {}", script.display());
    let node = Node::start(1, &["--cluster", &cluster, "--node-cmd", &cmd]);
    node.expect(&["waiting to hear from node 2"]);
    let programs = children(&node);
    assert!(node.interrupt().success());
    assert_gone(&programs);
}

#[test]
fn a_cluster_mixing_programs_and_the_built_in_client_is_refused_at_the_handshake() {
    let (tmp, traces) = workspace();
    let cluster = write_cluster(tmp.path(), &free_ports(2), 1000);
    let built_in = Node::in_cluster(1, &cluster, None, &traces);
    let program = program_node(2, &cluster, None, &traces, CLIENT);
    let refused = program.expect_log(&["dropped a hello from node 1"]);
    assert!(
        refused.contains(
            "it runs the built-in client and this node runs a client program (--node-cmd), and \
             a cluster runs one or the other (their messages differ)"
        ),
        "{refused}"
    );
    built_in.expect(&["waiting to hear from node 2"]);
    assert!(!built_in.out.text().contains("ready: heard from every peer"));
}
