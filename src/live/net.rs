//! TCP: the listener, one dialer per higher peer, the handshake, and a reader and a writer
//! thread per connection. Blocking std::net and threads; everything they learn goes to the node
//! loop as an [`Input`], which alone owns the protocol state.
//!
//! Who dials whom: the lower id dials the higher one, so each pair has exactly one connection.
//! A dialer retries with backoff (100 ms doubling to 2 s) until its peer is up, and again
//! after the connection breaks.
//!
//! Anything wrong with a frame (length over the limit, a MAC that does not match, a body that
//! does not parse, an id not in the cluster, a hello from the wrong direction) is logged on
//! standard error and closes that connection. Bad frames never reach the node loop, so they
//! cannot change its state. A handshake has one deadline and a limited number of slots, and
//! what peers make the node log is limited ([`super::guard`]).

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::cluster::Cluster;
use super::guard::{self, Deadline, Handshakes, LogLimit, MAX_HANDSHAKES, clip, quote};
use super::input::{Connection, Input, SessionFrame};
use super::wire::{
    self, ConnectionKeys, FrameError, Hello, MAX_HANDSHAKE_FRAME_BYTES, SessionBody, WIRE_VERSION,
    body_bytes, parse_body, read_frame, read_frame_up_to,
};
use crate::node::live::read_foreign_message;
use crate::protocol::ClientId;

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a write may block before the connection counts as broken.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the network threads share.
pub struct NetConfig {
    pub me: ClientId,
    pub cluster: Cluster,
    pub incarnation: u64,
    pub inputs: Sender<Input>,
    /// Where log lines go (standard error, or a buffer in tests).
    pub log: Arc<Mutex<dyn Write + Send>>,
    /// Peers cause these log lines: how many may be written.
    pub log_limit: LogLimit,
}

impl NetConfig {
    /// Writes a log line, cut to a bounded length, unless too many were written just now
    /// (the next one written says how many were not).
    pub fn log(&self, line: &str) {
        let Some(held_back) = self.log_limit.admit(Instant::now()) else {
            return;
        };
        if let Ok(mut log) = self.log.lock() {
            if held_back > 0 {
                let _ = writeln!(
                    log,
                    "node {}: {}",
                    self.me,
                    guard::held_back_note(held_back)
                );
            }
            let _ = writeln!(log, "node {}: {}", self.me, guard::log_line(line));
            let _ = log.flush();
        }
    }
}

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// Binds the listener (before anything else, so a busy port stops the node at once).
pub fn listen(bind: SocketAddr) -> io::Result<TcpListener> {
    TcpListener::bind(bind)
}

/// Starts accepting on `listener` and dialing the higher peers.
pub fn start(config: Arc<NetConfig>, listener: TcpListener) -> io::Result<SocketAddr> {
    let bound = listener.local_addr()?;
    {
        let config = Arc::clone(&config);
        thread::Builder::new()
            .name("listener".into())
            .spawn(move || accept_loop(listener, config))?;
    }
    let me = config.me;
    for peer in config.cluster.peers(me).filter(|&peer| peer > me) {
        let config = Arc::clone(&config);
        thread::Builder::new()
            .name(format!("dial-{peer}"))
            .spawn(move || dial_loop(peer, config))?;
    }
    Ok(bound)
}

fn accept_loop(listener: TcpListener, config: Arc<NetConfig>) {
    let handshakes = Handshakes::new();
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                config.log(&format!("accepting a connection failed: {error}"));
                thread::sleep(FIRST_BACKOFF);
                continue;
            }
        };
        let remote = stream
            .peer_addr()
            .map_or_else(|_| "an unknown address".into(), |a| a.to_string());
        let (slot, eviction) = match handshakes.admit(&stream, &remote) {
            Ok(admitted) => admitted,
            Err(error) => {
                config.log(&format!("cannot use a connection from {remote}: {error}"));
                continue;
            }
        };
        if let Some(evicted) = eviction {
            config.log(&format!(
                "closed the handshake of {} after {} ms to make room for a connection from \
                 {remote}: {MAX_HANDSHAKES} handshakes were in progress",
                evicted.remote,
                evicted.age.as_millis()
            ));
        }
        let shared = Arc::clone(&config);
        let spawned = thread::Builder::new()
            .name("inbound".into())
            .spawn(move || {
                let accepted = accept_handshake(&stream, &shared);
                let evicted = slot.was_evicted();
                drop(slot);
                match accepted {
                    Ok((peer, incarnation, keys)) => {
                        run_connection(stream, peer, incarnation, keys, &shared);
                    }
                    Err(why) => {
                        // An evicted handshake was logged when it was pushed out.
                        if !evicted {
                            shared.log(&format!("{why} (from {remote}); closed the connection"));
                        }
                        let _ = stream.shutdown(Shutdown::Both);
                    }
                }
            });
        if spawned.is_err() {
            config.log("cannot start a thread for an incoming connection");
        }
    }
}

fn dial_loop(peer: ClientId, config: Arc<NetConfig>) {
    let Some(address) = config.cluster.node(peer).map(|node| node.address) else {
        return;
    };
    let mut backoff = FIRST_BACKOFF;
    let mut told = false;
    loop {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(stream) => match dial_handshake(&stream, peer, &config) {
                Ok((incarnation, keys)) => {
                    told = false;
                    backoff = FIRST_BACKOFF;
                    run_connection(stream, peer, incarnation, keys, &config);
                }
                Err(why) => {
                    config.log(&format!(
                        "handshake with node {peer} at {address} failed: {why}"
                    ));
                    let _ = stream.shutdown(Shutdown::Both);
                }
            },
            Err(error) => {
                if !told {
                    config.log(&format!(
                        "cannot reach node {peer} at {address} yet ({error}); retrying until it \
                         is up"
                    ));
                    told = true;
                }
            }
        }
        thread::sleep(backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Why a handshake failed, for the log.
type Refusal = String;

fn nonce() -> [u8; 32] {
    let mut nonce = [0u8; 32];
    rand::fill(&mut nonce[..]);
    nonce
}

fn hello(config: &NetConfig, to: ClientId, nonce: &[u8; 32]) -> Hello {
    Hello {
        version: WIRE_VERSION,
        cluster: config.cluster.name.clone(),
        from: config.me,
        to,
        incarnation: config.incarnation,
        nonce: hex(nonce),
        program: config.cluster.program.is_some(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).ok())
        .collect()
}

/// Checks the peer's hello: the same cluster and version, addressed to this node, from a node
/// of the cluster. Returns the peer's nonce.
fn check_hello(hello: &Hello, config: &NetConfig) -> Result<Vec<u8>, Refusal> {
    let clients = config.cluster.clients();
    if !hello.from.is_among(clients) {
        return Err(format!(
            "dropped a hello from unknown id {}: the cluster has nodes 1 to {clients}",
            hello.from
        ));
    }
    if hello.version != WIRE_VERSION {
        return Err(format!(
            "dropped a hello from node {}: wire version {}, this node speaks {WIRE_VERSION}",
            hello.from, hello.version
        ));
    }
    if hello.cluster != config.cluster.name {
        return Err(format!(
            "dropped a hello from node {}: it is in cluster {}, this node in {:?}",
            hello.from,
            quote(&hello.cluster),
            config.cluster.name
        ));
    }
    let own_program = config.cluster.program.is_some();
    if hello.program != own_program {
        let client = |program: bool| {
            if program {
                "a client program (--node-cmd)"
            } else {
                "the built-in client"
            }
        };
        return Err(format!(
            "dropped a hello from node {}: it runs {} and this node runs {}, and a cluster runs \
             one or the other (their messages differ)",
            hello.from,
            client(hello.program),
            client(own_program)
        ));
    }
    if hello.to != config.me {
        return Err(format!(
            "dropped a hello from node {}: it is addressed to node {}",
            hello.from, hello.to
        ));
    }
    match unhex(&hello.nonce) {
        Some(nonce) if nonce.len() == 32 => Ok(nonce),
        _ => Err(format!(
            "dropped a malformed hello from node {}: its nonce is not 64 hex digits",
            hello.from
        )),
    }
}

/// Names a frame problem for the log ("dropped an oversized frame: …").
fn refusal(error: FrameError, during: &str) -> Refusal {
    match error {
        FrameError::Io(error) if error.kind() == io::ErrorKind::TimedOut => {
            format!("gave up {during}: {error}")
        }
        error if error.is_bad_frame() => format!("dropped a frame during {during}: {error}"),
        error => format!("the connection ended during {during}: {error}"),
    }
}

fn read_body(stream: &TcpStream, key: &[u8]) -> Result<Vec<u8>, FrameError> {
    let mut reader = stream;
    read_frame(&mut reader, key)
}

/// Reads a handshake frame: small, and by the handshake's deadline.
fn read_handshake(stream: &mut Deadline, key: &[u8]) -> Result<Vec<u8>, FrameError> {
    read_frame_up_to(stream, key, MAX_HANDSHAKE_FRAME_BYTES)
}

/// Both sides prove they derived the connection keys.
fn exchange_ready(stream: &mut Deadline, keys: &ConnectionKeys) -> Result<(), Refusal> {
    wire::write_frame(stream, &keys.send, &body_bytes(&SessionBody::Ready))
        .map_err(|e| format!("cannot send ready: {e}"))?;
    let body = read_handshake(stream, &keys.receive).map_err(|e| refusal(e, "the handshake"))?;
    match parse_body::<SessionBody>(&body) {
        Ok(SessionBody::Ready) => Ok(()),
        Ok(_) => Err("dropped a malformed frame: expected ready".into()),
        Err(error) => Err(refusal(error, "the handshake")),
    }
}

fn dial_handshake(
    stream: &TcpStream,
    peer: ClientId,
    config: &NetConfig,
) -> Result<(u64, ConnectionKeys), Refusal> {
    let mut timed = Deadline::handshake(stream);
    let own_nonce = nonce();
    let key = &config.cluster.key;
    wire::write_frame(&mut timed, key, &hello(config, peer, &own_nonce).to_body())
        .map_err(|e| format!("cannot send hello: {e}"))?;
    let body = read_handshake(&mut timed, key).map_err(|e| refusal(e, "the handshake"))?;
    let theirs = Hello::parse(&body).map_err(|e| refusal(e, "the handshake"))?;
    let their_nonce = check_hello(&theirs, config)?;
    if theirs.from != peer {
        return Err(format!(
            "dropped a hello: node {peer}'s address answered as node {}",
            theirs.from
        ));
    }
    let keys = wire::connection_keys(key, &own_nonce, &their_nonce, true);
    exchange_ready(&mut timed, &keys)?;
    stream.set_read_timeout(None).map_err(|e| e.to_string())?;
    Ok((theirs.incarnation, keys))
}

fn accept_handshake(
    stream: &TcpStream,
    config: &NetConfig,
) -> Result<(ClientId, u64, ConnectionKeys), Refusal> {
    let mut timed = Deadline::handshake(stream);
    let key = &config.cluster.key;
    let body = read_handshake(&mut timed, key).map_err(|e| refusal(e, "the handshake"))?;
    let theirs = Hello::parse(&body).map_err(|e| refusal(e, "the handshake"))?;
    let their_nonce = check_hello(&theirs, config)?;
    if theirs.from >= config.me {
        return Err(format!(
            "dropped a hello from node {}: node {} dials node {} (the lower id dials), not the \
             other way round",
            theirs.from, config.me, theirs.from
        ));
    }
    let own_nonce = nonce();
    wire::write_frame(
        &mut timed,
        key,
        &hello(config, theirs.from, &own_nonce).to_body(),
    )
    .map_err(|e| format!("cannot send hello: {e}"))?;
    let keys = wire::connection_keys(key, &their_nonce, &own_nonce, false);
    exchange_ready(&mut timed, &keys)?;
    stream.set_read_timeout(None).map_err(|e| e.to_string())?;
    Ok((theirs.from, theirs.incarnation, keys))
}

/// Runs an authenticated connection until it ends: announces it to the node loop, starts its
/// writer, and reads frames.
fn run_connection(
    stream: TcpStream,
    peer: ClientId,
    incarnation: u64,
    keys: ConnectionKeys,
    config: &NetConfig,
) {
    let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let (Ok(write_half), Ok(handle)) = (stream.try_clone(), stream.try_clone()) else {
        config.log(&format!("cannot use the connection to node {peer}"));
        return;
    };
    let (writer, bodies) = mpsc::channel();
    let send_key = Arc::clone(&keys.send);
    let spawned = thread::Builder::new()
        .name(format!("write-{peer}"))
        .spawn(move || write_loop(write_half, &send_key, bodies));
    if spawned.is_err() {
        config.log(&format!("cannot start a writer for node {peer}"));
        return;
    }
    let connection = Connection::new(id, writer, handle);
    if config
        .inputs
        .send(Input::Connected {
            peer,
            incarnation,
            connection,
        })
        .is_err()
    {
        return;
    }
    let clients = config.cluster.clients();
    let program = config.cluster.program.is_some();
    let reason = loop {
        let body = match read_body(&stream, &keys.receive) {
            Ok(body) => body,
            Err(error) if error.is_bad_frame() => {
                let why = format!("dropped a frame from node {peer}: {error}");
                config.log(&format!("{why}; closed the connection"));
                break why;
            }
            Err(error) => break error.to_string(),
        };
        match parse_session_frame(&body, peer, clients, program) {
            Ok(frame) => {
                if config
                    .inputs
                    .send(Input::Frame {
                        peer,
                        connection: id,
                        frame,
                    })
                    .is_err()
                {
                    return;
                }
            }
            Err(why) => {
                let why = format!("dropped a malformed frame from node {peer}: {}", clip(&why));
                config.log(&format!("{why}; closed the connection"));
                break why;
            }
        }
    };
    let _ = stream.shutdown(Shutdown::Both);
    let _ = config.inputs.send(Input::Disconnected {
        peer,
        connection: id,
        reason,
    });
}

/// A session frame, checked. `program` says the node's client is a program: its messages
/// come in foreign frames, and built-in messages are refused (and the other way round).
fn parse_session_frame(
    body: &[u8],
    peer: ClientId,
    clients: u32,
    program: bool,
) -> Result<SessionFrame, String> {
    if program && wire::is_foreign_body(body) {
        return parse_foreign_frame(body, peer);
    }
    let body: SessionBody = match serde_json::from_slice(body) {
        Ok(body) => body,
        Err(_) if wire::is_foreign_body(body) => {
            return Err(
                "a client program's message, but this node runs the built-in client".into(),
            );
        }
        Err(error) => return Err(error.to_string()),
    };
    Ok(match body {
        SessionBody::Ready => return Err("a second ready".into()),
        SessionBody::Resume {
            incarnation_seen,
            received,
            bound_to,
            ledger_len,
            needs_sync,
        } => SessionFrame::Resume(super::session::Resume {
            incarnation_seen,
            received,
            bound_to,
            ledger_len,
            needs_sync,
        }),
        SessionBody::Msg { .. } if program => {
            return Err("a built-in message, but this node runs a client program".into());
        }
        SessionBody::Msg {
            seq,
            ack,
            msg_id,
            purpose,
            msg,
        } => SessionFrame::Msg {
            seq,
            ack,
            msg_id: checked_msg_id(msg_id, peer)?,
            purpose,
            msg: msg.to_message(clients)?,
        },
        SessionBody::Ack { ack } => SessionFrame::Ack(ack),
    })
}

/// A foreign message's frame: the program's object, checked as a node's `send` line's `msg`
/// is (docs/nodes.md) and kept byte for byte.
fn parse_foreign_frame(body: &[u8], peer: ClientId) -> Result<SessionFrame, String> {
    let body = wire::parse_foreign_body(body).map_err(|error| error.to_string())?;
    let msg = read_foreign_message(body.msg.get()).map_err(|what| format!("its message {what}"))?;
    if msg.ts() > wire::MAX_COUNTED {
        return Err(format!(
            "its message's `ts` is {}, more than any count of events reaches ({})",
            msg.ts(),
            wire::MAX_COUNTED
        ));
    }
    Ok(SessionFrame::Msg {
        seq: body.seq,
        ack: body.ack,
        msg_id: checked_msg_id(body.msg_id, peer)?,
        purpose: None,
        msg,
    })
}

/// A message id must carry its sender's node id in its high bits.
fn checked_msg_id(msg_id: u64, peer: ClientId) -> Result<u64, String> {
    if msg_id >> wire::MSG_ID_NODE_SHIFT != u64::from(peer.get()) {
        return Err(format!(
            "message id {msg_id} does not carry node {peer}'s id in its high bits"
        ));
    }
    Ok(msg_id)
}

fn write_loop(stream: TcpStream, key: &[u8], bodies: Receiver<Vec<u8>>) {
    let mut output = io::BufWriter::new(&stream);
    while let Ok(body) = bodies.recv() {
        let mut ok = output.write_all(&wire::encode_frame(key, &body)).is_ok();
        // Write everything queued, then flush once.
        while ok {
            match bodies.try_recv() {
                Ok(body) => ok = output.write_all(&wire::encode_frame(key, &body)).is_ok(),
                Err(_) => break,
            }
        }
        if !ok || output.flush().is_err() {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Message;

    const PEER: ClientId = ClientId::new(2);
    const MSG_ID: u64 = 2 << wire::MSG_ID_NODE_SHIFT;

    fn parsed(body: &[u8], program: bool) -> Result<SessionFrame, String> {
        parse_session_frame(body, PEER, 3, program)
    }

    #[test]
    fn a_program_node_takes_foreign_frames_byte_for_byte_and_refuses_built_in_ones() {
        let json = r#"{"type":"request", "ts":4,"z":{}}"#;
        let body = wire::foreign_body(1, 0, MSG_ID, json);
        let Ok(SessionFrame::Msg {
            seq: 1,
            msg: Message::Foreign(foreign),
            ..
        }) = parsed(&body, true)
        else {
            panic!("not a foreign message");
        };
        assert_eq!(&*foreign.json, json);
        assert_eq!(
            parsed(&body, false).unwrap_err(),
            "a client program's message, but this node runs the built-in client"
        );
        let built_in = body_bytes(&SessionBody::Msg {
            seq: 1,
            ack: 0,
            msg_id: MSG_ID,
            purpose: None,
            msg: wire::WireMessage::Request { ts: 4 },
        });
        assert!(parsed(&built_in, false).is_ok());
        assert_eq!(
            parsed(&built_in, true).unwrap_err(),
            "a built-in message, but this node runs a client program"
        );
        let wrong_id = wire::foreign_body(1, 0, 1 << wire::MSG_ID_NODE_SHIFT, json);
        assert!(parsed(&wrong_id, true).unwrap_err().contains("node 2's id"));
        let no_ts = wire::foreign_body(1, 0, MSG_ID, r#"{"type":"request"}"#);
        assert_eq!(
            parsed(&no_ts, true).unwrap_err(),
            "its message has no \"ts\""
        );
        let huge = wire::foreign_body(
            1,
            0,
            MSG_ID,
            &format!(r#"{{"type":"x","ts":{}}}"#, u64::MAX),
        );
        assert!(
            parsed(&huge, true)
                .unwrap_err()
                .contains("more than any count")
        );
        assert!(parsed(&body_bytes(&SessionBody::Ack { ack: 3 }), true).is_ok());
    }
}
