//! Fuzzing a live node's wire, over real loopback TCP: structured mutations of handshake and
//! session frames (truncated, oversized or too short lengths, bad MACs, bad JSON, wrong types,
//! missing fields, unknown kinds), each sent on its own connection. Every one must end with the
//! node closing that connection; the node never panics, hangs or stops, and afterwards it joins
//! its real peers and transfers. Seeded, so a failure replays; about 10 s.

mod live_common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use sha2::Sha256;

use live_common::*;

/// Mutated frames sent before the handshake and after it.
const CASES: usize = 150;
/// How long the node may take to close a connection after a bad frame: well under the
/// handshake's deadline and a session's silence limit (5 s each), so a close within it is the
/// frame's refusal, not a timeout.
const CLOSE_WITHIN: Duration = Duration::from_secs(3);
/// The handshake frame limit and the frame limit (docs/live.md, "Wire format").
const HANDSHAKE_LIMIT: u32 = 4096;
const FRAME_LIMIT: u32 = 1 << 20;

fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// One frame's body as the node reads it, without checking its MAC.
fn read_body(stream: &mut TcpStream) -> Vec<u8> {
    let mut length = [0u8; 4];
    stream
        .read_exact(&mut length)
        .expect("a frame from the node");
    let mut rest = vec![0u8; u32::from_be_bytes(length) as usize];
    stream.read_exact(&mut rest).expect("a whole frame");
    rest.truncate(rest.len() - 32);
    rest
}

/// A connection as node 1 to `port` with the handshake done: (the stream, the key for frames
/// to the node).
fn handshake_as_node_1(port: u16) -> (TcpStream, Vec<u8>) {
    let key = KEY.as_bytes();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(CLOSE_WITHIN)).unwrap();
    stream
        .write_all(&encode_frame(key, &hello(1, 3, "test")))
        .unwrap();
    let theirs: Value = serde_json::from_slice(&read_body(&mut stream)).unwrap();
    let nonce = theirs["nonce"].as_str().unwrap();
    let their_nonce: Vec<u8> = (0..nonce.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&nonce[at..at + 2], 16).unwrap())
        .collect();
    // `hello` carries the nonce "abab…": 32 bytes of 0xab.
    let dialer_nonce = [0xabu8; 32];
    let to_acceptor = mac(
        key,
        &[
            b"lamport-ledger v1 dialer to acceptor",
            &dialer_nonce,
            &their_nonce,
        ],
    );
    stream
        .write_all(&encode_frame(&to_acceptor, b"{\"type\":\"ready\"}"))
        .unwrap();
    let ready: Value = serde_json::from_slice(&read_body(&mut stream)).unwrap();
    assert_eq!(ready["type"], "ready");
    (stream, to_acceptor)
}

/// How a mutated frame is sent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// A whole frame: the node must refuse it while the connection stays open.
    Whole,
    /// Part of a frame: the connection's end is what the node must handle.
    Cut,
}

/// Sends `bytes` (then ends the sending side if the frame is `Cut`), and waits until the node
/// closes the connection.
fn send_and_expect_close(mut stream: TcpStream, bytes: &[u8], ending: Ending, what: &str) {
    let _ = stream.write_all(bytes);
    if ending == Ending::Cut {
        let _ = stream.shutdown(Shutdown::Write);
    }
    stream.set_read_timeout(Some(CLOSE_WITHIN)).unwrap();
    let started = Instant::now();
    let mut sink = [0u8; 4096];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
            Err(e) => panic!("{what}: the node did not close the connection: {e}"),
        }
        assert!(
            started.elapsed() < CLOSE_WITHIN,
            "{what}: the node kept the connection open"
        );
    }
}

/// Values of a wrong type for a field that takes a number, a string or an object.
fn wrong_value(rng: &mut ChaCha8Rng, current: &Value) -> Value {
    let candidates = [
        json!("7"),
        json!(-1),
        json!(1.5),
        json!([]),
        json!({}),
        json!(true),
        json!("x".repeat(3000)),
        serde_json::from_str("18446744073709551616").unwrap(),
        json!(u64::MAX),
    ];
    loop {
        let value = candidates[rng.random_range(0..candidates.len())].clone();
        let same_kind = match current {
            Value::String(_) => value.is_string(),
            Value::Object(_) => value.is_object(),
            Value::Bool(_) => value.is_boolean(),
            // A u64 field takes u64::MAX (though clocks refuse it; `seq` and `ack` do not).
            Value::Number(_) => value.is_u64(),
            _ => false,
        };
        if !same_kind {
            return value;
        }
    }
}

/// The object that holds the field at `path`.
fn parent<'a>(value: &'a mut Value, path: &[&str]) -> &'a mut serde_json::Map<String, Value> {
    let mut at = value;
    for key in &path[..path.len() - 1] {
        at = at.get_mut(*key).unwrap();
    }
    at.as_object_mut().unwrap()
}

/// A path of keys to a field of a JSON body.
type Path = &'static [&'static str];

/// A valid frame body and what makes it invalid.
struct Shape {
    body: Value,
    /// Fields that must be present and well typed.
    required: Vec<Path>,
    /// Well-typed values the node must refuse (an unknown id, a clock past any count, …).
    refused: Vec<(Path, Value)>,
}

/// A structured mutation of a valid body: the result never parses as a valid frame of its
/// kind.
fn mutate_body(rng: &mut ChaCha8Rng, shape: &Shape) -> (String, Vec<u8>) {
    let text = serde_json::to_vec(&shape.body).unwrap();
    let field = shape.required[rng.random_range(0..shape.required.len())];
    let mut changed = shape.body.clone();
    if rng.random_range(0..7) == 0 {
        let (field, value) = &shape.refused[rng.random_range(0..shape.refused.len())];
        parent(&mut changed, field).insert(field[field.len() - 1].into(), value.clone());
        return (
            format!("{field:?} = {value}"),
            serde_json::to_vec(&changed).unwrap(),
        );
    }
    let object = parent(&mut changed, field);
    let key = field[field.len() - 1];
    match rng.random_range(0..6) {
        0 => {
            let cut = rng.random_range(0..text.len());
            (format!("body cut at byte {cut}"), text[..cut].to_vec())
        }
        1 => {
            let mut bytes = text.clone();
            let at = rng.random_range(0..bytes.len());
            bytes.insert(at, 0xff);
            (format!("byte 0xff at {at}"), bytes)
        }
        2 => {
            let mut bytes = text.clone();
            bytes.extend_from_slice(b"}x");
            ("trailing bytes".into(), bytes)
        }
        3 => {
            object.remove(key);
            (
                format!("without {field:?}"),
                serde_json::to_vec(&changed).unwrap(),
            )
        }
        4 => {
            let kinds = ["", "Hello", "requets", "msg ", "ready\u{0}", "nope"];
            let kind = kinds[rng.random_range(0..kinds.len())];
            object.insert("type".into(), json!(kind));
            (
                format!("kind {kind:?} at {field:?}"),
                serde_json::to_vec(&changed).unwrap(),
            )
        }
        _ => {
            let value = wrong_value(rng, &object[key]);
            let shown = value.to_string().chars().take(30).collect::<String>();
            object.insert(key.into(), value);
            (
                format!("{field:?} = {shown}"),
                serde_json::to_vec(&changed).unwrap(),
            )
        }
    }
}

/// A structured mutation of a whole frame: its length, its MAC, or its body (with a valid MAC,
/// so that the body is what the node refuses).
fn mutate_frame(
    rng: &mut ChaCha8Rng,
    key: &[u8],
    shape: &Shape,
    limit: u32,
) -> (String, Vec<u8>, Ending) {
    let valid = encode_frame(key, &serde_json::to_vec(&shape.body).unwrap());
    if rng.random_range(0..6) == 0 {
        let cut = rng.random_range(0..valid.len());
        return (
            format!("frame cut at byte {cut}"),
            valid[..cut].to_vec(),
            Ending::Cut,
        );
    }
    let (what, frame) = match rng.random_range(0..5) {
        0 => {
            let length = rng.random_range(limit + 1..=u32::MAX);
            let mut frame = valid.clone();
            frame[..4].copy_from_slice(&length.to_be_bytes());
            (format!("length {length}"), frame)
        }
        1 => {
            let length = rng.random_range(0..32u32);
            let mut frame = length.to_be_bytes().to_vec();
            frame.extend_from_slice(&valid[4..]);
            (format!("length {length}, under the MAC's"), frame)
        }
        2 => {
            let mut frame = valid.clone();
            let at = rng.random_range(4..frame.len());
            frame[at] ^= 1 << rng.random_range(0..8);
            (format!("bit flipped at byte {at}"), frame)
        }
        _ => {
            let (what, bytes) = mutate_body(rng, shape);
            (what, encode_frame(key, &bytes))
        }
    };
    (what, frame, Ending::Whole)
}

/// Node 1's hello to node 3.
fn hello_shape() -> Shape {
    Shape {
        body: serde_json::from_slice(&hello(1, 3, "test")).unwrap(),
        required: vec![
            &["type"],
            &["version"],
            &["cluster"],
            &["from"],
            &["to"],
            &["incarnation"],
            &["nonce"],
        ],
        refused: vec![
            (&["version"], json!(2)),
            (&["cluster"], json!("another")),
            (&["from"], json!(9)),
            (&["from"], json!(0)),
            (&["from"], json!(3)),
            (&["to"], json!(2)),
            (&["nonce"], json!("zz".repeat(32))),
            (&["nonce"], json!("ab")),
        ],
    }
}

/// A valid session frame of each kind from node 1; the resume first.
fn session_shapes() -> Vec<Shape> {
    let msg_id = 1u64 << 52;
    let past_any_count = json!(1u64 << 63);
    let block = json!({"index": 0, "prev": "00".repeat(32), "hash": "11".repeat(32), "ts": 3,
                       "from": 1, "to": 2, "amount": 1});
    vec![
        Shape {
            body: json!({"type": "resume", "incarnation_seen": null, "received": 0,
                         "bound_to": null, "ledger_len": 0, "needs_sync": true}),
            required: vec![&["type"], &["received"], &["ledger_len"], &["needs_sync"]],
            refused: vec![(&["incarnation_seen"], json!("7"))],
        },
        Shape {
            body: json!({"type": "msg", "seq": 1, "ack": 0, "msg_id": msg_id,
                         "msg": {"type": "request", "ts": 3}}),
            required: vec![
                &["type"],
                &["seq"],
                &["ack"],
                &["msg_id"],
                &["msg"],
                &["msg", "type"],
                &["msg", "ts"],
            ],
            refused: vec![
                (&["msg_id"], json!(2u64 << 52)),
                (&["msg_id"], json!(7)),
                (&["msg", "ts"], past_any_count.clone()),
                (&["purpose"], json!("gossip")),
            ],
        },
        Shape {
            body: json!({"type": "msg", "seq": 1, "ack": 0, "msg_id": msg_id,
                         "msg": {"type": "release", "ts": 5, "request_ts": 3, "block": block}}),
            required: vec![
                &["msg", "type"],
                &["msg", "ts"],
                &["msg", "request_ts"],
                &["msg", "block", "index"],
                &["msg", "block", "prev"],
                &["msg", "block", "from"],
                &["msg", "block", "amount"],
            ],
            refused: vec![
                (&["msg", "request_ts"], past_any_count.clone()),
                (&["msg", "block", "index"], past_any_count),
                (&["msg", "block", "prev"], json!("zz".repeat(32))),
                (&["msg", "block", "hash"], json!("11")),
                (&["msg", "block", "from"], json!(4)),
                (&["msg", "block", "to"], json!(0)),
                (&["msg", "block", "extra"], json!(1)),
            ],
        },
        Shape {
            body: json!({"type": "ack", "ack": 0}),
            required: vec![&["type"], &["ack"]],
            refused: vec![(&["ack"], json!(-3))],
        },
    ]
}

#[test]
fn mutated_frames_are_refused_and_the_node_carries_on() {
    let tmp = tempfile::tempdir().unwrap();
    let ports = free_ports(3);
    let cluster = write_cluster(tmp.path(), &ports, 10_000);
    let cluster_arg = cluster.display().to_string();
    // Node 1 is played by the test until the end.
    let n2 = Node::start(2, &["--cluster", &cluster_arg]);
    let mut n3 = Node::start(3, &["--cluster", &cluster_arg]);
    n3.expect(&["waiting to hear from nodes 1 and 2"]);
    n2.expect(&["connected to node 3"]);
    let port = ports[2];
    let key = KEY.as_bytes();
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let started = Instant::now();

    let hello = hello_shape();
    for case in 0..CASES {
        let (what, frame, ending) = mutate_frame(&mut rng, key, &hello, HANDSHAKE_LIMIT);
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        send_and_expect_close(
            stream,
            &frame,
            ending,
            &format!("hello case {case}: {what}"),
        );
    }

    let shapes = session_shapes();
    for case in 0..CASES {
        let shape = &shapes[rng.random_range(0..shapes.len())];
        let (stream, to_node) = handshake_as_node_1(port);
        let mut stream = stream;
        // Half the cases start the session first, so the frame meets a started one.
        let resumed = shape.body["type"] != "resume" && rng.random_bool(0.5);
        if resumed {
            let resume = &shapes[0].body;
            stream
                .write_all(&encode_frame(
                    &to_node,
                    &serde_json::to_vec(resume).unwrap(),
                ))
                .unwrap();
        }
        let (what, frame, ending) = mutate_frame(&mut rng, &to_node, shape, FRAME_LIMIT);
        let what = format!("session case {case} (resumed: {resumed}): {what}");
        send_and_expect_close(stream, &frame, ending, &what);
    }
    let fuzzed_in = started.elapsed();

    // Nothing got in: the node runs, never panicked, and with the real node 1 all three
    // transfer.
    assert!(n3.child.try_wait().unwrap().is_none(), "node 3 runs");
    let mut n1 = Node::start(1, &["--cluster", &cluster_arg]);
    all_ready([&n1, &n2, &n3]);
    n1.send("transfer 3 2");
    n1.expect(&["transfer #1 (2 to node 3): committed block 0"]);
    n3.chain(1);
    let log = n3.err.text();
    assert!(!log.contains("panicked"), "{log}");
    assert!(
        fuzzed_in < Duration::from_secs(40),
        "the fuzzing took {fuzzed_in:?}"
    );
    for node in [n1, n2, n3] {
        assert!(node.exit().success());
    }
}
