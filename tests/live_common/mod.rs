//! Helpers shared by the live-mode tests (`tests/live*.rs`): real `lamport-ledger node`
//! processes on free loopback ports, driven through their standard input. Every wait has a
//! deadline, and every child process is killed when its handle is dropped (also when a test
//! fails).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const BIN: &str = env!("CARGO_BIN_EXE_lamport-ledger");
/// The longest any single wait may take.
pub const DEADLINE: Duration = Duration::from_secs(40);
pub const KEY: &str = "live test cluster key 0123456789";

/// Lines a child printed, shared with the thread that reads them.
#[derive(Default)]
pub struct Lines {
    lines: Mutex<Vec<String>>,
    more: Condvar,
}

impl Lines {
    pub fn collect(stream: impl Read + Send + 'static) -> Arc<Lines> {
        let lines = Arc::new(Lines::default());
        let shared = Arc::clone(&lines);
        thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                shared.lines.lock().unwrap().push(line);
                shared.more.notify_all();
            }
        });
        lines
    }

    pub fn len(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    pub fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// The first line at or after `from` that `matches`, waiting up to the deadline.
    pub fn wait(
        &self,
        from: usize,
        what: &str,
        matches: impl Fn(&str) -> bool,
    ) -> Option<(usize, String)> {
        let deadline = Instant::now() + DEADLINE;
        let mut lines = self.lines.lock().unwrap();
        loop {
            if let Some((at, line)) = lines
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, l)| matches(l))
            {
                return Some((at, line.clone()));
            }
            let now = Instant::now();
            if now >= deadline {
                eprintln!("gave up waiting for {what}");
                return None;
            }
            lines = self.more.wait_timeout(lines, deadline - now).unwrap().0;
        }
    }
}

/// A running node; killed when dropped.
pub struct Node {
    pub id: u32,
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub out: Arc<Lines>,
    pub err: Arc<Lines>,
}

impl Node {
    pub fn start(id: u32, args: &[&str]) -> Node {
        let mut child = Command::new(BIN)
            .arg("node")
            .arg(id.to_string())
            .args(args)
            .env_remove("LAMPORT_LEDGER_KEY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let out = Lines::collect(child.stdout.take().unwrap());
        let err = Lines::collect(child.stderr.take().unwrap());
        let stdin = child.stdin.take();
        Node {
            id,
            child,
            stdin,
            out,
            err,
        }
    }

    pub fn in_cluster(id: u32, cluster: &Path, data_dir: Option<&Path>, traces: &Path) -> Node {
        let mut args = vec![
            "--cluster".to_string(),
            cluster.display().to_string(),
            "--trace".into(),
            traces.display().to_string(),
        ];
        if let Some(dir) = data_dir {
            args.push("--data-dir".into());
            args.push(dir.display().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Node::start(id, &args)
    }

    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").expect("the node reads its input");
        stdin.flush().unwrap();
    }

    pub fn dump(&self) -> String {
        format!(
            "--- node {} stdout ---\n{}\n--- node {} stderr ---\n{}",
            self.id,
            self.out.text(),
            self.id,
            self.err.text()
        )
    }

    /// Waits for a stdout line at or after `from` containing every one of `parts`.
    pub fn expect_after(&self, from: usize, parts: &[&str]) -> (usize, String) {
        let what = format!("node {} to print a line with {parts:?}", self.id);
        match self
            .out
            .wait(from, &what, |line| parts.iter().all(|p| line.contains(p)))
        {
            Some(found) => found,
            None => panic!("{what}\n{}", self.dump()),
        }
    }

    pub fn expect(&self, parts: &[&str]) -> String {
        self.expect_after(0, parts).1
    }

    pub fn expect_log(&self, parts: &[&str]) -> String {
        let what = format!("node {} to log a line with {parts:?}", self.id);
        match self
            .err
            .wait(0, &what, |line| parts.iter().all(|p| line.contains(p)))
        {
            Some((_, line)) => line,
            None => panic!("{what}\n{}", self.dump()),
        }
    }

    /// The output of `print blockchain` once it shows `blocks` blocks (asking again while
    /// it shows fewer): the header line with the head hash, then one line per block.
    pub fn chain(&mut self, blocks: usize) -> Vec<String> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let mark = self.out.len();
            self.send("print blockchain");
            let (at, header) = self.expect_after(mark, &["blockchain of node"]);
            let counted = if blocks == 1 {
                "1 block".to_string()
            } else {
                format!("{blocks} blocks")
            };
            let prefix = format!("blockchain of node {}: {counted}, head ", self.id);
            if header.starts_with(&prefix) {
                let mut lines = vec![header.replacen(&format!("node {}", self.id), "node N", 1)];
                for index in 0..blocks {
                    let (_, line) = self.expect_after(at + 1 + index, &["  block "]);
                    lines.push(line);
                }
                return lines;
            }
            assert!(
                Instant::now() < deadline,
                "node {} never had {blocks} blocks\n{}",
                self.id,
                self.dump()
            );
            thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn table(&mut self) -> Vec<String> {
        let mark = self.out.len();
        self.send("print balance table");
        let (at, _) = self.expect_after(mark, &["balance table of node"]);
        let nodes = 3;
        (0..=nodes)
            .map(|row| self.expect_after(at + 1 + row, &["  "]).1)
            .collect()
    }

    /// Types `exit` and waits for the process to end.
    pub fn exit(mut self) -> ExitStatus {
        self.send("exit");
        self.wait_exit()
    }

    /// Sends SIGINT, as Ctrl-C in its terminal does, and waits for the process to end.
    pub fn interrupt(mut self) -> ExitStatus {
        self.signal("INT");
        self.expect(&["interrupted: stopping as `exit` does"]);
        self.wait_exit()
    }

    /// Sends `signal` to the process (`STOP` freezes it with its connections open, `CONT`
    /// thaws it).
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{signal} {pid} failed");
    }

    /// Kills the process (SIGKILL on Unix): no summary, no goodbye.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.wait_exit();
    }

    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "node {} did not stop\n{}",
                self.id,
                self.dump()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Free loopback ports: bound to port 0, noted, released.
pub fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

pub fn write_cluster(dir: &Path, ports: &[u16], cs_us: u64) -> PathBuf {
    let nodes: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(slot, port)| format!(r#"{{"id": {}, "address": "127.0.0.1:{port}"}}"#, slot + 1))
        .collect();
    let text = format!(
        r#"{{"name": "test", "key": "{KEY}", "cs_us": {cs_us}, "nodes": [{}]}}"#,
        nodes.join(", ")
    );
    let path = dir.join("cluster.json");
    std::fs::write(&path, text).unwrap();
    path
}

pub fn run_bin(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(BIN).args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// The `kind` of every event line of a trace, with its node.
pub fn kinds(trace: &str) -> Vec<(String, u64)> {
    trace
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|value| value["type"] == "event")
        .map(|value| {
            (
                value["kind"].as_str().unwrap().to_string(),
                value["node"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

pub fn count(kinds: &[(String, u64)], kind: &str, node: u64) -> usize {
    kinds
        .iter()
        .filter(|(k, n)| k == kind && *n == node)
        .count()
}

/// A fresh directory with an empty `traces` folder in it: (the directory, the traces path).
pub fn workspace() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let traces = tmp.path().join("traces");
    std::fs::create_dir(&traces).unwrap();
    (tmp, traces)
}

/// Waits until every node has heard from every peer.
pub fn all_ready(nodes: [&Node; 3]) {
    for node in nodes {
        node.expect(&["ready: heard from every peer"]);
    }
}

/// Every node prints the same chain of `blocks` blocks.
pub fn assert_same_chains(nodes: [&mut Node; 3], blocks: usize) {
    let chains: Vec<Vec<String>> = nodes.into_iter().map(|node| node.chain(blocks)).collect();
    assert_eq!(chains[0], chains[1]);
    assert_eq!(chains[0], chains[2]);
}

/// Merges the traces into `root/merged.jsonl` and checks it: (merged text, merge's stderr,
/// check's stdout). Both commands must succeed.
pub fn merge_and_check(root: &Path, traces: &Path) -> (String, String, String) {
    let merged = root.join("merged.jsonl");
    let merged_arg = merged.display().to_string();
    let (code, _, merge_err) =
        run_bin(&["merge", &traces.display().to_string(), "-o", &merged_arg]);
    assert_eq!(code, 0, "{merge_err}");
    let (code, out, err) = run_bin(&["check", &merged_arg]);
    assert_eq!(code, 0, "check failed:\n{out}\n{err}");
    (std::fs::read_to_string(&merged).unwrap(), merge_err, out)
}

/// Connects to a node, writes `bytes`, and waits until the node closes the connection.
pub fn send_raw(port: u16, bytes: &[u8]) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(Shutdown::Write);
    let mut rest = Vec::new();
    // The node answers nothing to a bad first frame and closes: read ends at once.
    let _ = stream.read_to_end(&mut rest);
}

/// A frame as docs/live.md ("Wire format") defines it, built here from the text so the test
/// checks the node against the documented format: the length (body and MAC) as a big-endian
/// u32, the body, then HMAC-SHA256 with `key` of the length bytes and the body.
pub fn encode_frame(key: &[u8], body: &[u8]) -> Vec<u8> {
    let length_bytes = ((body.len() + 32) as u32).to_be_bytes();
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(&length_bytes);
    mac.update(body);
    let mut frame = length_bytes.to_vec();
    frame.extend_from_slice(body);
    frame.extend_from_slice(&mac.finalize().into_bytes());
    frame
}

/// The body of a handshake `hello` of wire format version 1.
pub fn hello(from: u32, to: u32, cluster: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": "hello",
        "version": 1,
        "cluster": cluster,
        "from": from,
        "to": to,
        "incarnation": 7,
        "nonce": "ab".repeat(32),
    }))
    .unwrap()
}

/// A node of the cluster at `cluster` whose client is the program `cmd` (`--node-cmd`),
/// tracing into `traces`.
pub fn program_node(
    id: u32,
    cluster: &Path,
    data_dir: Option<&Path>,
    traces: &Path,
    cmd: &str,
) -> Node {
    let mut args = vec![
        "--cluster".to_string(),
        cluster.display().to_string(),
        "--trace".into(),
        traces.display().to_string(),
        "--node-cmd".into(),
        cmd.into(),
    ];
    if let Some(dir) = data_dir {
        args.push("--data-dir".into());
        args.push(dir.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Node::start(id, &args)
}

/// Waits until a trace of node `node` in `traces` has a line with every one of `parts`.
pub fn wait_for_trace_line(traces: &Path, node: u32, parts: &[&str]) {
    let deadline = Instant::now() + DEADLINE;
    let prefix = format!("node-{node}-");
    loop {
        for entry in std::fs::read_dir(traces).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with(&prefix)
                && std::fs::read_to_string(&path)
                    .unwrap()
                    .lines()
                    .any(|line| parts.iter().all(|part| line.contains(part)))
            {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no trace of node {node} shows {parts:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}
