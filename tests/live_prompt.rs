//! The live node's prompt and the `merge` command, end to end: real `lamport-ledger node`
//! processes on free loopback ports, driven through their standard input (helpers in
//! `live_common`).

mod live_common;

use std::process::{Command, Stdio};

use live_common::*;

/// `merge … | head -1`: when the reader of standard output goes away, `merge` ends quietly
/// with 141, as every other command does.
#[test]
fn merge_into_a_closed_pipe_ends_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let cluster = write_cluster(root, &free_ports(3), 10_000);
    let trace = root.join("node-1.jsonl");
    let mut n1 = Node::start(
        1,
        &[
            "--cluster",
            &cluster.display().to_string(),
            "--trace",
            &trace.display().to_string(),
        ],
    );
    n1.send("balance");
    n1.expect(&["balance of node 1: 10"]);
    assert!(n1.exit().success());

    // A pipe whose reader is gone before merge writes a byte: the first write fails.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(BIN)
        .arg("merge")
        .arg(&trace)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(141), "{stderr}");
    assert_eq!(stderr, "", "nothing to say about a closed pipe");

    // Into a file, the same trace merges and says so.
    let merged = root.join("merged.jsonl");
    let (code, _, err) = run_bin(&[
        "merge",
        &trace.display().to_string(),
        "-o",
        &merged.display().to_string(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("merged the traces of node 1"), "{err}");
}

/// The original program's forms: `transfer <from> <to> <amount>` (only with this node as
/// `from`) and, in a script, `wait <seconds>`, during which the node keeps serving its peers.
#[test]
fn the_original_programs_transfer_and_wait_forms_work() {
    let (tmp, traces) = workspace();
    let cluster = write_cluster(tmp.path(), &free_ports(3), 10_000);
    let mut n1 = Node::in_cluster(1, &cluster, None, &traces);
    let mut n2 = Node::in_cluster(2, &cluster, None, &traces);
    let mut n3 = Node::in_cluster(3, &cluster, None, &traces);
    all_ready([&n1, &n2, &n3]);

    n1.send("transfer 1 2 3");
    n1.expect(&["transfer #1 (3 to node 2): committed block 0"]);
    let mark = n1.out.len();
    n1.send("transfer 2 3 1");
    let (_, refused) = n1.expect_after(mark, &["cannot transfer from node 2 at node 1"]);
    assert_eq!(
        refused,
        "cannot transfer from node 2 at node 1: a node moves only its own money, so type it at \
         node 2 (the original program let any client debit any account)"
    );
    for (line, answer) in [
        (
            "wait soon",
            "cannot wait: \"soon\" is not a number of seconds",
        ),
        ("wait -2", "cannot wait: -2 seconds is outside 0 to 3600"),
        ("wait", "cannot wait: the command is wait <seconds>"),
    ] {
        let mark = n1.out.len();
        n1.send(line);
        n1.expect_after(mark, &[answer]);
    }

    // Node 2's script waits 3 s before its transfer; meanwhile it answers node 1's request.
    let typed = std::time::Instant::now();
    n2.send("wait 3");
    n2.send("transfer 2 3 4");
    n1.send("transfer 2 1");
    n1.expect(&["transfer #2 (1 to node 2): committed block 1"]);
    let served = typed.elapsed();
    n2.expect(&["transfer #1 (4 to node 3): committed block 2"]);
    let paused = typed.elapsed();
    assert!(
        served < std::time::Duration::from_secs(3),
        "node 2 served node 1 during its wait ({served:?})"
    );
    assert!(
        paused >= std::time::Duration::from_secs(3),
        "node 2's transfer waited for the pause ({paused:?})"
    );
    assert_same_chains([&mut n1, &mut n2, &mut n3], 3);
    for node in [n1, n2, n3] {
        assert!(node.exit().success());
    }
    let (_, _, out) = merge_and_check(tmp.path(), &traces);
    assert!(out.contains("OK, every invariant holds"), "{out}");
}
