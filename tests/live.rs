//! Live mode end to end: real `lamport-ledger node` processes on free loopback ports, driven
//! through their standard input. Every wait has a deadline, and every child process is killed
//! when its handle is dropped (also when a test fails). Shared helpers: `live_common`.

mod live_common;

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use live_common::*;

#[test]
fn three_nodes_agree_across_restarts_and_their_merged_trace_checks() {
    let (tmp, traces) = workspace();
    let root = tmp.path();
    let cluster = write_cluster(root, &free_ports(3), 30_000);
    let data = |id: u32| root.join(format!("data-{id}"));
    let mut n1 = Node::in_cluster(1, &cluster, Some(&data(1)), &traces);
    let mut n2 = Node::in_cluster(2, &cluster, Some(&data(2)), &traces);
    let mut n3 = Node::in_cluster(3, &cluster, Some(&data(3)), &traces);
    all_ready([&n1, &n2, &n3]);

    // Round 1: all three at once, and one transfer that cannot be paid.
    n1.send("transfer 2 3");
    n2.send("transfer 3 4");
    n3.send("transfer 1 5");
    n1.send("transfer 3 50");
    n1.expect(&["transfer #1 (3 to node 2): committed block"]);
    n1.expect(&[
        "transfer #2 (50 to node 3): aborted: the own balance is",
        "less than 50",
    ]);
    n2.expect(&["transfer #1 (4 to node 3): committed block"]);
    n3.expect(&["transfer #1 (5 to node 1): committed block"]);
    for node in [&mut n1, &mut n2, &mut n3] {
        node.chain(3);
    }

    // Stop node 3 between transfers; a transfer then waits for it and says so.
    assert!(n3.exit().success());
    copy_dir(&data(3), &root.join("data-3-before"));
    n1.send("transfer 3 1");
    let waiting = n1.expect(&["transfer #3 (1 to node 3) waits with request", "node 3"]);
    assert!(waiting.contains("not connected"), "{waiting}");

    // Node 3 comes back with its ledger; the waiting transfer goes through.
    let mut n3 = Node::in_cluster(3, &cluster, Some(&data(3)), &traces);
    n3.expect(&["restored 3 blocks from"]);
    n3.expect(&["ready: heard from every peer; ledger has 3 blocks"]);
    n1.expect(&["transfer #3 (1 to node 3): committed block 3"]);
    n1.expect(&["connected to node 3 (it restarted)"]);
    for node in [&mut n1, &mut n2, &mut n3] {
        node.chain(4);
    }

    // Round 2 with the restarted node.
    n1.send("transfer 2 2");
    n2.send("transfer 1 1");
    n3.send("transfer 2 2");
    n1.expect(&["transfer #4 (2 to node 2): committed"]);
    n2.expect(&["transfer #2 (1 to node 1): committed"]);
    n3.expect(&["transfer #1 (2 to node 2): committed"]);
    for node in [&mut n1, &mut n2, &mut n3] {
        node.chain(7);
    }

    // Node 3 is killed between transfers, and comes back from an older copy of its data
    // directory: it must catch up on the 4 blocks it lacks before it transfers again.
    n3.kill();
    let mut n3 = Node::in_cluster(3, &cluster, Some(&root.join("data-3-before")), &traces);
    n3.expect(&["restored 3 blocks from"]);
    for index in 3..7 {
        n3.expect(&[&format!("caught up block {index} from node ")]);
    }
    n3.expect(&["ready: heard from every peer; ledger has 7 blocks"]);
    n3.send("transfer 1 1");
    n3.expect(&["transfer #1 (1 to node 1): committed block 7"]);

    assert_same_chains([&mut n1, &mut n2, &mut n3], 8);
    let tables: Vec<Vec<String>> = [&mut n1, &mut n2, &mut n3]
        .into_iter()
        .map(|node| node.table())
        .collect();
    assert_eq!(tables[0], tables[1]);
    assert_eq!(tables[0], tables[2]);
    assert_eq!(tables[0].last().unwrap().trim(), "total: 30");
    assert!(n1.exit().success());
    assert!(n3.exit().success());
    // Ctrl-C stops a node as `exit` does: its trace gets a summary line too.
    assert!(n2.interrupt().success());
    let mut runs = 0;
    let mut summarised = 0;
    for entry in std::fs::read_dir(&traces).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        runs += 1;
        summarised += usize::from(
            text.lines()
                .last()
                .unwrap()
                .contains("\"type\":\"summary\""),
        );
    }
    assert_eq!(
        (runs, summarised),
        (5, 4),
        "all but the run ended by SIGKILL"
    );

    // Five runs, one merged trace, and check passes on it.
    let (text, merge_err, out) = merge_and_check(root, &traces);
    assert!(merge_err.contains("node 3 (3 runs)"), "{merge_err}");
    assert!(out.contains("OK, every invariant holds"), "{out}");
    let header = text.lines().next().unwrap();
    assert!(
        !header.contains("\"network\"") && !header.contains("\"limits\""),
        "a live trace has a real network, not a simulated one: {header}"
    );
    let kinds = kinds(&text);
    assert_eq!(count(&kinds, "crash", 3), 2);
    assert_eq!(count(&kinds, "restart", 3), 2);
    assert_eq!(
        count(&kinds, "commit", 1) + count(&kinds, "commit", 2) + count(&kinds, "commit", 3),
        8
    );
    assert_eq!(count(&kinds, "abort", 1), 1);
    // Node 3 applies 2 blocks of others in its first run; in its second it reads 3 from disk
    // and applies 3 of others; in its third it reads 3 from the older copy and catches up 4.
    assert_eq!(count(&kinds, "apply", 3), 2 + (3 + 3) + (3 + 4));
    let summary: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["end"], "quiescent");
    assert_eq!(summary["heads"]["1"], summary["heads"]["3"]);
}

#[test]
fn a_frozen_peer_is_given_up_after_its_silence_and_rejoins_when_it_thaws() {
    let (tmp, traces) = workspace();
    let root = tmp.path();
    let cluster = write_cluster(root, &free_ports(3), 20_000);
    let mut n1 = Node::in_cluster(1, &cluster, None, &traces);
    let mut n2 = Node::in_cluster(2, &cluster, None, &traces);
    let mut n3 = Node::in_cluster(3, &cluster, None, &traces);
    all_ready([&n1, &n2, &n3]);
    // Frozen, node 3 keeps its connections open but sends nothing, not even heartbeats.
    n3.signal("STOP");
    let given_up = "lost the connection to node 3 (it sent nothing for 5 s";
    n1.expect(&[given_up]);
    n2.expect(&[given_up]);
    n1.send("transfer 3 2");
    let waiting = n1.expect(&["transfer #1 (2 to node 3) waits with request", "node 3"]);
    assert!(waiting.contains("not connected"), "{waiting}");
    // Thawed, it reconnects, and the transfer that waited for it goes through.
    n3.signal("CONT");
    n1.expect(&["transfer #1 (2 to node 3): committed block 0"]);
    assert_same_chains([&mut n1, &mut n2, &mut n3], 1);
    for node in [n1, n2, n3] {
        assert!(node.exit().success());
    }
}

#[test]
fn bad_frames_are_dropped_and_logged_and_change_nothing() {
    let (tmp, traces) = workspace();
    let root = tmp.path();
    let ports = free_ports(3);
    let cluster = write_cluster(root, &ports, 10_000);
    let mut n1 = Node::in_cluster(1, &cluster, None, &traces);
    let mut n2 = Node::in_cluster(2, &cluster, None, &traces);
    let mut n3 = Node::in_cluster(3, &cluster, None, &traces);
    all_ready([&n1, &n2, &n3]);
    n1.send("transfer 3 2");
    n1.expect(&["committed block 0"]);
    let before = (n3.chain(1), n3.table());

    // Node 3 accepts connections from nodes 1 and 2. Each of these is refused.
    let port = ports[2];
    let key = KEY.as_bytes();
    let mut garbage = 40u32.to_be_bytes().to_vec();
    garbage.extend_from_slice(&[0x55; 40]);
    send_raw(port, &garbage);
    n3.expect_log(&["dropped a frame", "unauthenticated frame"]);
    send_raw(port, &u32::MAX.to_be_bytes());
    n3.expect_log(&["dropped a frame", "oversized frame"]);
    send_raw(
        port,
        &encode_frame(key, b"{\"type\": \"hello\", \"from\": "),
    );
    n3.expect_log(&["dropped a frame", "malformed frame"]);
    send_raw(port, &encode_frame(key, &hello(9, 3, "test")));
    n3.expect_log(&["dropped a hello from unknown id 9"]);
    send_raw(
        port,
        &encode_frame(b"not the cluster key at all", &hello(1, 3, "test")),
    );
    n3.expect_log(&["unauthenticated frame"]);
    send_raw(port, &encode_frame(key, &hello(1, 3, "another cluster")));
    n3.expect_log(&["it is in cluster \"another cluster\""]);
    // A correct hello from "node 1", replayed without the connection keys: the node answers
    // with its own hello and waits for a ready frame that never verifies.
    let mut replay = encode_frame(key, &hello(1, 3, "test"));
    replay.extend_from_slice(&encode_frame(key, b"{\"type\":\"ready\"}"));
    send_raw(port, &replay);
    n3.expect_log(&["dropped a frame during the handshake: unauthenticated frame"]);

    // Nothing changed, and the node still works with its real peers.
    assert!(
        n3.child.try_wait().unwrap().is_none(),
        "node 3 is still running"
    );
    assert_eq!((n3.chain(1), n3.table()), before);
    n3.send("transfer 2 1");
    n3.expect(&["transfer #1 (1 to node 2): committed block 1"]);
    assert_same_chains([&mut n1, &mut n2, &mut n3], 2);
    for node in [n1, n2, n3] {
        assert!(node.exit().success());
    }
    merge_and_check(root, &traces);
}

#[test]
fn mistakes_in_commands_are_one_sentence_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cluster = write_cluster(root, &free_ports(3), 10_000);
    let trace = root.join("node-1.jsonl");
    // Nodes 2 and 3 never start.
    let mut n1 = Node::start(
        1,
        &[
            "--cluster",
            &cluster.display().to_string(),
            "--trace",
            &trace.display().to_string(),
        ],
    );
    n1.expect(&["waiting to hear from nodes 2 and 3 before asking for the mutex"]);
    let cases = [
        (
            "transfer 1 3",
            "cannot transfer: a client cannot transfer to itself",
        ),
        (
            "transfer 9 1",
            "cannot transfer: there is no client 9 (clients are 1 to 3)",
        ),
        (
            "transfer 2 0",
            "cannot transfer: the amount must be at least 1",
        ),
        (
            "transfer 2 -4",
            "cannot transfer: the amount must be a positive whole number, not -4",
        ),
        (
            "transfer two 4",
            "cannot transfer: \"two\" is not a node id",
        ),
        ("balance 4", "cannot read a balance: there is no client 4"),
        ("fly to the moon", "unknown command \"fly to the moon\""),
    ];
    for (command, answer) in cases {
        let mark = n1.out.len();
        n1.send(command);
        n1.expect_after(mark, &[answer]);
    }
    n1.send("balance");
    n1.expect(&["balance of node 1: 10"]);
    assert_eq!(n1.chain(0).len(), 1);
    // A good transfer waits for the peers, and says for whom.
    n1.send("transfer 2 4");
    n1.expect(&["transfer #1 (4 to node 2): accepted; it waits until this node has heard from nodes 2 and 3 (not connected)"]);
    assert!(n1.exit().success());
    let text = std::fs::read_to_string(&trace).unwrap();
    let kinds = kinds(&text);
    assert_eq!(
        count(&kinds, "transfer", 1),
        0,
        "no refused or held transfer reached the client"
    );
    assert_eq!(count(&kinds, "balance", 1), 1);
    assert_eq!(kinds.len(), 1);
}

#[test]
fn bad_cluster_files_and_arguments_exit_2_with_one_sentence() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let write = |name: &str, text: &str| {
        let path = root.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let typo = write(
        "typo.json",
        r#"{"key": "0123456789abcdef", "nodes": [{"id": 1, "adress": "127.0.0.1:1"}]}"#,
    );
    let twice = write(
        "twice.json",
        r#"{"key": "0123456789abcdef", "nodes": [{"id": 1, "address": "127.0.0.1:7401"}, {"id": 1, "address": "127.0.0.1:7402"}]}"#,
    );
    let remote = write(
        "remote.json",
        r#"{"key": "0123456789abcdef", "nodes": [{"id": 1, "address": "10.1.2.3:7401"}, {"id": 2, "address": "10.1.2.4:7402"}]}"#,
    );
    let ok = write_cluster(root, &free_ports(2), 1000)
        .display()
        .to_string();
    let existing = write("existing.jsonl", "");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["1", "--cluster", &typo], ":1:"),
        (
            vec!["1", "--cluster", &twice],
            "nodes[1].id is 1, which an earlier node already has",
        ),
        (
            vec!["3", "--cluster", &ok],
            "there is no node 3 in cluster \"test\"",
        ),
        (vec!["1", "--cluster", &remote], "is not a loopback address"),
        (
            vec!["1", "--cluster", &ok, "--trace", &existing],
            "a node never overwrites a trace",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["node"];
        all.extend(args.iter().copied());
        let (code, out, err) = run_bin(&all);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{args:?}: one sentence: {err}"
        );
    }
    let (code, _, err) = run_bin(&["merge", &existing]);
    assert_eq!(code, 2);
    assert!(
        err.contains("none of the trace files has a complete header line"),
        "{err}"
    );
}

/// A TCP relay between the nodes that can cut every connection through it at once.
struct Relay {
    port: u16,
    streams: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(target: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let shared = Arc::clone(&streams);
        thread::spawn(move || {
            for inbound in listener.incoming() {
                let Ok(inbound) = inbound else { return };
                let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                for (from, to) in [(&inbound, &outbound), (&outbound, &inbound)] {
                    let (mut from, mut to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
                    thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
                shared.lock().unwrap().extend([inbound, outbound]);
            }
        });
        Relay { port, streams }
    }

    /// Cuts every connection through the relay; returns how many it cut.
    fn cut(&self) -> usize {
        let mut streams = self.streams.lock().unwrap();
        for stream in streams.iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let cut = streams.len() / 2;
        streams.clear();
        cut
    }
}

#[test]
fn connections_cut_mid_transfer_resume_without_loss_or_duplicates() {
    let (tmp, traces) = workspace();
    let root = tmp.path();
    // Node 3 listens on its own port; the cluster file sends its peers through a relay.
    let ports = free_ports(3);
    let relay = Relay::start(ports[2]);
    let cluster = write_cluster(root, &[ports[0], ports[1], relay.port], 20_000);
    let mut n1 = Node::in_cluster(1, &cluster, None, &traces);
    let mut n2 = Node::in_cluster(2, &cluster, None, &traces);
    let bind = format!("127.0.0.1:{}", ports[2]);
    let mut n3 = Node::start(
        3,
        &[
            "--cluster",
            &cluster.display().to_string(),
            "--trace",
            &traces.display().to_string(),
            "--bind",
            &bind,
        ],
    );
    all_ready([&n1, &n2, &n3]);
    for round in 0..3 {
        n1.send("transfer 3 1");
        n2.send("transfer 3 1");
        n3.send("transfer 1 2");
        thread::sleep(Duration::from_millis(15 + 10 * round));
        assert_eq!(
            relay.cut(),
            2,
            "both of node 3's connections go through the relay"
        );
        n3.expect(&[&format!("transfer #{} (2 to node 1): committed", round + 1)]);
        n1.expect(&[&format!("transfer #{} (1 to node 3): committed", round + 1)]);
        n2.expect(&[&format!("transfer #{} (1 to node 3): committed", round + 1)]);
    }
    n3.expect(&["lost the connection to node 1"]);
    assert_same_chains([&mut n1, &mut n2, &mut n3], 9);
    for node in [n1, n2, n3] {
        assert!(node.exit().success());
    }
    let (text, _, _) = merge_and_check(root, &traces);
    let kinds = kinds(&text);
    for node in 1..=3 {
        for kind in ["crash", "restart", "drop", "duplicate"] {
            assert_eq!(
                count(&kinds, kind, node),
                0,
                "a cut connection is not a crash"
            );
        }
    }
}

/// A transfer typed before every peer is heard from never asks for the mutex: exiting then
/// leaves nothing behind at the peers, and the node says so rather than warn of a request
/// stuck in their queues.
#[test]
fn exiting_before_a_request_went_out_leaves_nothing_behind() {
    let (tmp, traces) = workspace();
    let cluster = write_cluster(tmp.path(), &free_ports(3), 30_000);
    let mut n1 = Node::in_cluster(1, &cluster, None, &traces);
    let _n2 = Node::in_cluster(2, &cluster, None, &traces);
    n1.send("transfer 2 3");
    n1.send("exit");
    let said = n1.expect(&["transfer #1 (3 to node 2) not started: no request went out"]);
    assert!(!said.contains("queues"), "{said}");
    assert!(n1.wait_exit().success());
}
