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
