//! A live node under attack, over real loopback TCP: connections that trickle a handshake
//! cannot keep its peers out, and what a peer sends is never echoed whole or without end.
//! Helpers in `live_common`; every wait has a deadline.

mod live_common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use live_common::*;

/// The node's deadline for a whole handshake (docs/live.md, "Who may talk to whom").
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(5);

/// Opens a connection to `port`, announces a frame of `announced` bytes and sends one byte of
/// it every `every`, until the node closes the connection, `stop` is set or `limit` has
/// passed. Returns how long the connection lived.
fn trickle(
    port: u16,
    announced: u32,
    every: Duration,
    stop: &AtomicBool,
    limit: Duration,
) -> Duration {
    let opened = Instant::now();
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return opened.elapsed();
    };
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let _ = stream.write_all(&announced.to_be_bytes());
    let mut sent_at = Instant::now();
    let mut answer = [0u8; 256];
    while !stop.load(Ordering::Relaxed) && opened.elapsed() < limit {
        match stream.read(&mut answer) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        if sent_at.elapsed() >= every {
            if stream.write_all(b"x").is_err() {
                break;
            }
            sent_at = Instant::now();
        }
    }
    opened.elapsed()
}

/// `connections` threads that each [`trickle`] and open a new connection 200 ms after the node
/// closed the last one, until dropped.
struct Attack {
    stop: Arc<AtomicBool>,
    opened: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<()>>,
}

impl Attack {
    fn start(port: u16, connections: usize, announced: u32, every: Duration) -> Attack {
        let stop = Arc::new(AtomicBool::new(false));
        let opened = Arc::new(AtomicUsize::new(0));
        let threads = (0..connections)
            .map(|_| {
                let (stop, opened) = (Arc::clone(&stop), Arc::clone(&opened));
                thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        opened.fetch_add(1, Ordering::Relaxed);
                        trickle(port, announced, every, &stop, Duration::MAX);
                        thread::sleep(Duration::from_millis(200));
                    }
                })
            })
            .collect();
        Attack {
            stop,
            opened,
            threads,
        }
    }

    fn opened(&self) -> usize {
        self.opened.load(Ordering::Relaxed)
    }
}

impl Drop for Attack {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[test]
fn trickled_handshakes_are_cut_at_the_deadline_and_cannot_keep_a_restarted_peer_out() {
    let (tmp, traces) = workspace();
    let root = tmp.path();
    let ports = free_ports(3);
    let cluster = write_cluster(root, &ports, 10_000);
    let n1 = Node::in_cluster(1, &cluster, None, &traces);
    let n2 = Node::in_cluster(2, &cluster, None, &traces);
    let mut n3 = Node::in_cluster(3, &cluster, None, &traces);
    all_ready([&n1, &n2, &n3]);

    // One connection that sends a byte every 3 s: each read comes in time, the whole
    // handshake does not.
    let lived = trickle(
        ports[2],
        1000,
        Duration::from_secs(3),
        &AtomicBool::new(false),
        DEADLINE,
    );
    assert!(
        lived >= HANDSHAKE_DEADLINE - Duration::from_millis(500)
            && lived < HANDSHAKE_DEADLINE + Duration::from_secs(3),
        "the trickling connection lived {lived:?}"
    );
    n3.expect_log(&["gave up the handshake: it did not finish within 5 s"]);

    // The attack: 20 connections announcing a 1 MiB frame and 20 announcing a handshake-sized
    // one, each sending a byte every 3 s and coming back when closed.
    let oversized = Attack::start(ports[2], 20, 1 << 20, Duration::from_secs(3));
    let trickling = Attack::start(ports[2], 20, 4000, Duration::from_secs(3));
    thread::sleep(Duration::from_secs(1));
    n3.expect_log(&["oversized frame", "the limit is 4096"]);

    // Node 2 restarts during the attack; it must get through to node 3 and work.
    n2.kill();
    n3.expect(&["lost the connection to node 2"]);
    let restarted = Instant::now();
    let mut n2 = Node::in_cluster(2, &cluster, None, &traces);
    n2.expect(&["ready: heard from every peer"]);
    let reconnect = restarted.elapsed();
    n2.send("transfer 3 1");
    n2.expect(&["transfer #1 (1 to node 3): committed block 0"]);
    n3.chain(1);
    n3.expect_log(&["closed the handshake of", "to make room for a connection"]);
    assert!(
        trickling.opened() > 20 && oversized.opened() > 20,
        "the node closed the attack's connections: {} and {} opened",
        trickling.opened(),
        oversized.opened()
    );
    drop((oversized, trickling));
    assert!(
        reconnect < Duration::from_secs(20),
        "node 2 needed {reconnect:?} to rejoin during the attack"
    );
    assert!(n3.child.try_wait().unwrap().is_none(), "node 3 still runs");
    for node in [n1, n2, n3] {
        assert!(node.exit().success());
    }
}

#[test]
fn what_a_peer_makes_the_node_print_is_escaped_cut_short_and_rate_limited() {
    let tmp = tempfile::tempdir().unwrap();
    let ports = free_ports(3);
    let cluster = write_cluster(tmp.path(), &ports, 10_000);
    // Node 3 dials no one, so whatever it logs, peers made it log.
    let mut n3 = Node::start(3, &["--cluster", &cluster.display().to_string()]);
    n3.expect(&["waiting to hear from nodes 1 and 2"]);
    let port = ports[2];
    let key = KEY.as_bytes();

    // Hellos with a valid MAC and a name of 3000 bytes, with a terminal escape and a line
    // break that would forge a log line, and of 1 MB (it fits a frame, not a handshake).
    for _ in 0..10 {
        send_raw(port, &encode_frame(key, &hello(1, 3, &"M".repeat(3000))));
    }
    let forged = "\u{1b}[2J\nnode 3: connected to node 1";
    send_raw(port, &encode_frame(key, &hello(1, 3, forged)));
    for _ in 0..20 {
        send_raw(
            port,
            &encode_frame(key, &hello(1, 3, &"N".repeat(1_000_000))),
        );
    }
    // A flood of garbage.
    let mut garbage = 40u32.to_be_bytes().to_vec();
    garbage.extend_from_slice(&[0x55; 40]);
    for _ in 0..100 {
        send_raw(port, &garbage);
    }
    // Once a line may be written again, it says how many were not.
    thread::sleep(Duration::from_millis(600));
    send_raw(port, &garbage);
    let note = n3.expect_log(&["more log lines about connections were not written"]);
    let held_back: usize = note
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{note}"));

    let log = n3.err.text();
    let lines: Vec<&str> = log.lines().collect();
    assert!(log.len() < 32 * 1024, "{} bytes of log", log.len());
    assert!(lines.iter().all(|line| line.chars().count() <= 700));
    assert!(
        !log.contains('\u{1b}'),
        "no terminal escape reaches the log"
    );
    assert!(
        !lines
            .iter()
            .any(|line| line.starts_with("node 3: connected")),
        "no forged line"
    );
    assert!(
        lines.len() + held_back >= 132,
        "every refusal is written or counted: {} lines, {held_back} held back\n{log}",
        lines.len()
    );
    assert!(lines.len() < 40, "{log}");
    assert!(
        log.contains("\"\\u{1b}[2J\\nnode 3: connected to node 1\""),
        "the forged name is shown escaped\n{log}"
    );
    assert!(
        log.contains("oversized frame: its length field says 1000"),
        "{log}"
    );
    let cut = lines
        .iter()
        .find(|line| line.contains("it is in cluster \"MMM"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        cut.contains("\"… (2840 more bytes), this node in \"test\""),
        "{cut}"
    );

    // The node is unharmed.
    n3.send("balance");
    n3.expect(&["balance of node 3: 10"]);
    assert!(n3.exit().success());
}
