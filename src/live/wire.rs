//! The wire format: length-prefixed frames, each authenticated with HMAC-SHA256, carrying one
//! JSON body (see docs/live.md, "Wire format").
//!
//! ```text
//! frame = length (u32, big-endian) | body (JSON, UTF-8) | mac (32 bytes)
//! length = len(body) + 32, at most MAX_FRAME_BYTES
//! mac = HMAC-SHA256(key, length bytes | body)
//! ```
//!
//! The two handshake frames (`hello`) are authenticated with the cluster key; everything after
//! them with a key for each direction of the connection, derived from the cluster key and both
//! sides' fresh nonces, so a frame recorded on one connection is worthless on any other.

use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::Sha256;

use super::guard::clip;
use crate::protocol::ledger::{from_hex, to_hex};
use crate::protocol::{Amount, Block, ClientId, Message, Timestamp};

/// The largest frame accepted (length field: body plus MAC), 1 MiB.
pub const MAX_FRAME_BYTES: u32 = 1 << 20;
/// The largest handshake frame accepted (`hello`, `ready`): a hello with the longest cluster
/// name, every character escaped, is under 1 KiB.
pub const MAX_HANDSHAKE_FRAME_BYTES: u32 = 4096;
/// The size of the MAC at the end of every frame.
pub const MAC_BYTES: usize = 32;
/// The version of the wire format, checked in the handshake.
pub const WIRE_VERSION: u32 = 1;
/// Bits of a message id below the sender's node id: ids are `node << 52 | life << 32 | n`.
pub const MSG_ID_NODE_SHIFT: u32 = 52;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of the concatenation of `parts`.
pub fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The whole frame for `body`, authenticated with `key`.
pub fn encode_frame(key: &[u8], body: &[u8]) -> Vec<u8> {
    let length = (body.len() + MAC_BYTES) as u32;
    let length_bytes = length.to_be_bytes();
    let tag = mac(key, &[&length_bytes, body]);
    let mut frame = Vec::with_capacity(4 + body.len() + MAC_BYTES);
    frame.extend_from_slice(&length_bytes);
    frame.extend_from_slice(body);
    frame.extend_from_slice(&tag);
    frame
}

/// Why a frame was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The connection ended (cleanly, between frames).
    #[error("the connection was closed")]
    Closed,
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("oversized frame: its length field says {length} bytes, the limit is {limit}")]
    Oversized { length: u32, limit: u32 },
    #[error("malformed frame: its length field says {length} bytes, too short for the MAC")]
    TooShort { length: u32 },
    #[error("unauthenticated frame: its HMAC does not match the cluster key")]
    Unauthenticated,
    #[error("malformed frame: {0}")]
    Malformed(String),
}

impl FrameError {
    /// A frame that was received and refused (rather than a connection that ended).
    pub fn is_bad_frame(&self) -> bool {
        !matches!(self, FrameError::Closed | FrameError::Io(_))
    }
}

/// Reads one frame and checks its length and MAC; returns the body. Never reads more than
/// `MAX_FRAME_BYTES` past the length field.
pub fn read_frame(input: &mut impl Read, key: &[u8]) -> Result<Vec<u8>, FrameError> {
    read_frame_up_to(input, key, MAX_FRAME_BYTES)
}

/// [`read_frame`] for frames of at most `limit` bytes (length field): a longer one is refused
/// before anything past its length is read.
pub fn read_frame_up_to(
    input: &mut impl Read,
    key: &[u8],
    limit: u32,
) -> Result<Vec<u8>, FrameError> {
    let mut length_bytes = [0u8; 4];
    if let Err(error) = input.read_exact(&mut length_bytes) {
        return Err(match error.kind() {
            io::ErrorKind::UnexpectedEof => FrameError::Closed,
            _ => FrameError::Io(error),
        });
    }
    let length = u32::from_be_bytes(length_bytes);
    if length > limit {
        return Err(FrameError::Oversized { length, limit });
    }
    if (length as usize) < MAC_BYTES {
        return Err(FrameError::TooShort { length });
    }
    let mut rest = vec![0u8; length as usize];
    input.read_exact(&mut rest)?;
    let (body, tag) = rest.split_at(length as usize - MAC_BYTES);
    let mut check = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    check.update(&length_bytes);
    check.update(body);
    // Constant-time comparison.
    check
        .verify_slice(tag)
        .map_err(|_| FrameError::Unauthenticated)?;
    rest.truncate(length as usize - MAC_BYTES);
    Ok(rest)
}

/// Writes one frame.
pub fn write_frame(output: &mut impl Write, key: &[u8], body: &[u8]) -> io::Result<()> {
    output.write_all(&encode_frame(key, body))
}

/// The first frame each side sends, authenticated with the cluster key: `{"type":"hello",…}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    pub cluster: String,
    pub from: ClientId,
    pub to: ClientId,
    /// A random number drawn when the node started: a restarted node is a new incarnation.
    pub incarnation: u64,
    /// 32 fresh random bytes in hex, for the connection's keys.
    pub nonce: String,
    /// The sender's client is a program (`--node-cmd`); left out for the built-in client. A
    /// cluster runs one or the other: their messages differ.
    #[serde(default, skip_serializing_if = "is_false")]
    pub program: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// A handshake frame's body. Only a `hello` is one: a tag on the struct itself would be
/// written but not checked when read, and a body of another kind, or of none, would pass.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum HandshakeBody {
    Hello(Hello),
}

impl Hello {
    /// The frame body, `{"type":"hello",…}`.
    pub fn to_body(&self) -> Vec<u8> {
        body_bytes(&HandshakeBody::Hello(self.clone()))
    }

    /// Parses a frame body that must be a hello.
    pub fn parse(body: &[u8]) -> Result<Hello, FrameError> {
        let HandshakeBody::Hello(hello) = parse_body(body)?;
        Ok(hello)
    }
}

/// The keys of one connection, one per direction.
#[derive(Clone, Debug)]
pub struct ConnectionKeys {
    pub send: Arc<[u8]>,
    pub receive: Arc<[u8]>,
}

/// Derives the two directions' keys from the cluster key and both nonces. `dialer` says which
/// side this is.
pub fn connection_keys(
    cluster_key: &[u8],
    dialer_nonce: &[u8],
    acceptor_nonce: &[u8],
    dialer: bool,
) -> ConnectionKeys {
    let derive = |label: &[u8]| -> Arc<[u8]> {
        Arc::from(&mac(cluster_key, &[label, dialer_nonce, acceptor_nonce])[..])
    };
    let to_acceptor = derive(b"lamport-ledger v1 dialer to acceptor");
    let to_dialer = derive(b"lamport-ledger v1 acceptor to dialer");
    if dialer {
        ConnectionKeys {
            send: to_acceptor,
            receive: to_dialer,
        }
    } else {
        ConnectionKeys {
            send: to_dialer,
            receive: to_acceptor,
        }
    }
}

/// Why a session frame carries a message, besides the protocol itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A block the receiver's ledger lacks, sent when a session starts (as an UPDATE).
    CatchUp,
    /// The sender's clock (as an UPDATED), so that a (re)started receiver's clock passes every
    /// timestamp its earlier incarnation used before it asks for the mutex.
    Sync,
}

/// A frame after the handshake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionBody {
    /// Proves the sender derived the connection keys; the first frame in each direction.
    Ready,
    /// What the sender knows about the session with the receiver, sent once per connection.
    Resume {
        /// The receiver's incarnation whose frames the sender has been receiving, if any.
        incarnation_seen: Option<u64>,
        /// The sequence number of the last frame received from it.
        received: u64,
        /// The receiver's incarnation the sender's outgoing frames are numbered for, if any.
        bound_to: Option<u64>,
        /// The sender's ledger length, so the receiver can send the blocks it lacks.
        ledger_len: u64,
        /// The sender has not yet received a `sync` from the receiver since it started.
        needs_sync: bool,
    },
    /// One protocol message.
    Msg {
        seq: u64,
        /// The last sequence number the sender received from the receiver.
        ack: u64,
        msg_id: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        purpose: Option<Purpose>,
        msg: WireMessage,
    },
    /// Acknowledges frames up to `ack` when there is nothing else to send.
    Ack { ack: u64 },
}

/// A protocol message on the wire: the trace's `msg` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WireMessage {
    Request {
        ts: Timestamp,
    },
    Reply {
        ts: Timestamp,
    },
    Release {
        ts: Timestamp,
        request_ts: Timestamp,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        block: Option<WireBlock>,
    },
    Update {
        ts: Timestamp,
        block: WireBlock,
    },
    Updated {
        ts: Timestamp,
    },
}

/// A block as JSON: the trace's `block` object, and one line of a data directory's ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireBlock {
    pub index: u64,
    pub prev: String,
    pub hash: String,
    pub ts: Timestamp,
    pub from: ClientId,
    pub to: ClientId,
    pub amount: Amount,
}

impl WireBlock {
    pub fn from_block(block: &Block) -> Self {
        WireBlock {
            index: block.index(),
            prev: to_hex(&block.prev()),
            hash: to_hex(&block.hash_value()),
            ts: block.ts(),
            from: block.from(),
            to: block.to(),
            amount: block.amount(),
        }
    }

    /// The block, if its hashes are 64 hex digits and it names clients `1..=clients`. The
    /// hash is not recomputed here: rule 6 does that (and a bad one is traced as a `reject`).
    pub fn to_block(&self, clients: u32) -> Result<Block, String> {
        counted("block `index`", self.index)?;
        counted("block `ts`", self.ts)?;
        let prev = from_hex(&self.prev).ok_or_else(|| {
            format!(
                "block {} has a `prev` that is not 64 hex digits",
                self.index
            )
        })?;
        let hash = from_hex(&self.hash).ok_or_else(|| {
            format!(
                "block {} has a `hash` that is not 64 hex digits",
                self.index
            )
        })?;
        for (field, id) in [("from", self.from), ("to", self.to)] {
            if !id.is_among(clients) {
                return Err(format!(
                    "block {} has `{field}` {id}, but the clients are 1 to {clients}",
                    self.index
                ));
            }
        }
        Ok(Block::with_hash(
            self.index,
            prev,
            self.ts,
            self.from,
            self.to,
            self.amount,
            hash,
        ))
    }
}

impl WireMessage {
    pub fn from_message(msg: &Message) -> Self {
        match msg {
            Message::Request { ts } => WireMessage::Request { ts: *ts },
            Message::Reply { ts } => WireMessage::Reply { ts: *ts },
            Message::Release {
                ts,
                request_ts,
                block,
            } => WireMessage::Release {
                ts: *ts,
                request_ts: *request_ts,
                block: block.as_deref().map(WireBlock::from_block),
            },
            Message::Update { ts, block } => WireMessage::Update {
                ts: *ts,
                block: WireBlock::from_block(block),
            },
            Message::Updated { ts } => WireMessage::Updated { ts: *ts },
            Message::Foreign(_) => {
                unreachable!("a program's message travels in a foreign frame (foreign_body)")
            }
        }
    }

    pub fn to_message(&self, clients: u32) -> Result<Message, String> {
        let msg = match self {
            WireMessage::Request { ts } => Message::Request { ts: *ts },
            WireMessage::Reply { ts } => Message::Reply { ts: *ts },
            WireMessage::Release {
                ts,
                request_ts,
                block,
            } => Message::Release {
                ts: *ts,
                request_ts: *request_ts,
                block: block
                    .as_ref()
                    .map(|block| block.to_block(clients).map(Arc::new))
                    .transpose()?,
            },
            WireMessage::Update { ts, block } => Message::Update {
                ts: *ts,
                block: Arc::new(block.to_block(clients)?),
            },
            WireMessage::Updated { ts } => Message::Updated { ts: *ts },
        };
        counted("message `ts`", msg.ts())?;
        if let Message::Release { request_ts, .. } = msg {
            counted("message `request_ts`", request_ts)?;
        }
        Ok(msg)
    }
}

/// A message of a client played by a program (`--node-cmd`), in a frame of its own kind so that
/// `msg` is the program's object byte for byte:
/// `{"type":"foreign","seq":…,"ack":…,"msg_id":…,"msg":{…}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignBody<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    pub seq: u64,
    /// The last sequence number the sender received from the receiver.
    pub ack: u64,
    pub msg_id: u64,
    #[serde(borrow)]
    pub msg: &'a RawValue,
}

/// The `type` of a foreign message's frame.
const FOREIGN: &str = "foreign";

/// The body of a foreign message's frame; `json` is the program's object as it wrote it.
pub fn foreign_body(seq: u64, ack: u64, msg_id: u64, json: &str) -> Vec<u8> {
    format!(
        "{{\"type\":\"{FOREIGN}\",\"seq\":{seq},\"ack\":{ack},\"msg_id\":{msg_id},\"msg\":{json}}}"
    )
    .into_bytes()
}

/// Whether a body is a foreign message's frame (whatever else is wrong with it).
pub fn is_foreign_body(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Kind<'a> {
        #[serde(rename = "type", borrow)]
        kind: Cow<'a, str>,
    }
    serde_json::from_slice::<Kind<'_>>(body).is_ok_and(|body| body.kind == FOREIGN)
}

/// Parses a foreign message's frame.
pub fn parse_foreign_body(body: &[u8]) -> Result<ForeignBody<'_>, FrameError> {
    let parsed: ForeignBody<'_> = parse_body(body)?;
    if parsed.kind != FOREIGN {
        return Err(FrameError::Malformed(format!(
            "a frame of type {} where a foreign message was expected",
            clip(&parsed.kind)
        )));
    }
    Ok(parsed)
}

/// The largest clock value or block index a peer may send. Clocks and indexes count events
/// and blocks, so no cluster comes near it; the bound keeps a receiver's `max(clock, ts) + 1`
/// (and a ledger's `index + 1`) from overflowing on a peer's bad value.
pub const MAX_COUNTED: u64 = i64::MAX as u64;

fn counted(what: &str, value: u64) -> Result<(), String> {
    if value > MAX_COUNTED {
        return Err(format!(
            "{what} is {value}, more than any count of events or blocks reaches ({MAX_COUNTED})"
        ));
    }
    Ok(())
}

/// Parses a JSON body into `T`, as a malformed-frame error on failure. The error quotes what
/// the peer sent only escaped and cut short.
pub fn parse_body<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, FrameError> {
    serde_json::from_slice(body).map_err(|error| FrameError::Malformed(clip(&error.to_string())))
}

/// Serialises a body (these types always serialise).
pub fn body_bytes<T: Serialize>(body: &T) -> Vec<u8> {
    serde_json::to_vec(body).expect("wire bodies always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::GENESIS_PREV;

    const KEY: &[u8] = b"0123456789abcdef0123";

    #[test]
    fn a_frame_round_trips_and_a_changed_byte_is_caught() {
        let body = body_bytes(&SessionBody::Ack { ack: 7 });
        let frame = encode_frame(KEY, &body);
        assert_eq!(frame.len(), 4 + body.len() + MAC_BYTES);
        let read = read_frame(&mut frame.as_slice(), KEY).unwrap();
        assert_eq!(
            parse_body::<SessionBody>(&read).unwrap(),
            SessionBody::Ack { ack: 7 }
        );
        for place in [0, 5, frame.len() - 1] {
            let mut changed = frame.clone();
            changed[place] ^= 1;
            let error = read_frame(&mut changed.as_slice(), KEY).unwrap_err();
            assert!(error.is_bad_frame(), "byte {place}: {error}");
        }
        let wrong_key = read_frame(&mut frame.as_slice(), b"another key entirely");
        assert!(matches!(wrong_key, Err(FrameError::Unauthenticated)));
    }

    #[test]
    fn oversized_and_short_lengths_are_refused_before_reading_on() {
        let mut oversized = (MAX_FRAME_BYTES + 1).to_be_bytes().to_vec();
        oversized.extend_from_slice(&[0; 64]);
        assert!(matches!(
            read_frame(&mut oversized.as_slice(), KEY),
            Err(FrameError::Oversized { .. })
        ));
        let short = 3u32.to_be_bytes();
        let hello_sized = (MAX_HANDSHAKE_FRAME_BYTES + 1).to_be_bytes();
        assert!(matches!(
            read_frame_up_to(&mut hello_sized.as_slice(), KEY, MAX_HANDSHAKE_FRAME_BYTES),
            Err(FrameError::Oversized { limit, .. }) if limit == MAX_HANDSHAKE_FRAME_BYTES
        ));
        assert!(matches!(
            read_frame(&mut short.as_slice(), KEY),
            Err(FrameError::TooShort { length: 3 })
        ));
        assert!(matches!(
            read_frame(&mut [].as_slice(), KEY),
            Err(FrameError::Closed)
        ));
    }

    #[test]
    fn messages_round_trip_and_bad_blocks_are_malformed() {
        let block = Arc::new(Block::new(
            0,
            GENESIS_PREV,
            1,
            ClientId::new(1),
            ClientId::new(2),
            3,
        ));
        let msg = Message::Release {
            ts: 5,
            request_ts: 1,
            block: Some(block),
        };
        let wire = WireMessage::from_message(&msg);
        let text = serde_json::to_string(&wire).unwrap();
        assert!(text.starts_with(r#"{"type":"release","ts":5,"request_ts":1,"block":{"index":0"#));
        let back: WireMessage = serde_json::from_str(&text).unwrap();
        assert_eq!(back.to_message(3).unwrap(), msg);
        assert!(
            back.to_message(1)
                .unwrap_err()
                .contains("clients are 1 to 1")
        );
        let bad_hex = text.replace("\"prev\":\"0000", "\"prev\":\"zz00");
        let bad: WireMessage = serde_json::from_str(&bad_hex).unwrap();
        assert!(bad.to_message(3).unwrap_err().contains("64 hex digits"));
    }

    #[test]
    fn clocks_and_indexes_past_any_count_are_malformed() {
        let huge = u64::MAX.to_string();
        let cases = [
            format!(r#"{{"type":"request","ts":{huge}}}"#),
            format!(r#"{{"type":"release","ts":5,"request_ts":{huge}}}"#),
            serde_json::to_string(&WireMessage::from_message(&Message::Release {
                ts: 5,
                request_ts: 1,
                block: Some(Arc::new(Block::new(
                    0,
                    GENESIS_PREV,
                    1,
                    ClientId::new(1),
                    ClientId::new(2),
                    3,
                ))),
            }))
            .unwrap()
            .replace("\"index\":0", &format!("\"index\":{huge}")),
        ];
        for text in cases {
            let wire: WireMessage = serde_json::from_str(&text).unwrap();
            let refused = wire.to_message(3).unwrap_err();
            assert!(refused.contains("more than any count"), "{text}: {refused}");
        }
        let top = format!(r#"{{"type":"reply","ts":{MAX_COUNTED}}}"#);
        let wire: WireMessage = serde_json::from_str(&top).unwrap();
        assert!(wire.to_message(3).is_ok());
    }

    #[test]
    fn a_hello_is_tagged_and_only_a_hello_tag_passes() {
        let hello = Hello {
            version: WIRE_VERSION,
            cluster: "c".into(),
            from: ClientId::new(1),
            to: ClientId::new(2),
            incarnation: 7,
            nonce: "ab".repeat(32),
            program: false,
        };
        let body = hello.to_body();
        assert!(body.starts_with(br#"{"type":"hello","version":1,"cluster":"c","from":1"#));
        assert_eq!(Hello::parse(&body).unwrap(), hello);
        let program = Hello {
            program: true,
            ..hello.clone()
        };
        let program_body = program.to_body();
        assert!(program_body.ends_with(br#","program":true}"#));
        assert_eq!(Hello::parse(&program_body).unwrap(), program);
        let text = String::from_utf8(body).unwrap();
        assert!(!text.contains("program"), "{text}");
        for other in [
            text.replace(r#""type":"hello","#, ""),
            text.replace(r#""hello""#, r#""Hello""#),
            text.replace(r#""hello""#, r#""ready""#),
        ] {
            let refused = Hello::parse(other.as_bytes()).unwrap_err();
            assert!(matches!(refused, FrameError::Malformed(_)), "{other}");
        }
    }

    #[test]
    fn a_foreign_message_round_trips_byte_for_byte() {
        let json = r#"{ "ts":3,"type":"request", "x":[1.50,"\u00e9"] }"#;
        let body = foreign_body(4, 2, 9, json);
        assert!(is_foreign_body(&body));
        let parsed = parse_foreign_body(&body).unwrap();
        assert_eq!((parsed.seq, parsed.ack, parsed.msg_id), (4, 2, 9));
        assert_eq!(parsed.msg.get(), json);
        let frame = encode_frame(KEY, &body);
        let read = read_frame(&mut frame.as_slice(), KEY).unwrap();
        assert_eq!(parse_foreign_body(&read).unwrap().msg.get(), json);
        let built_in = body_bytes(&SessionBody::Ack { ack: 1 });
        assert!(!is_foreign_body(&built_in));
        assert!(parse_foreign_body(&built_in).is_err());
        let extra = String::from_utf8(body)
            .unwrap()
            .replace("\"seq\"", "\"extra\":1,\"seq\"");
        assert!(parse_foreign_body(extra.as_bytes()).is_err());
    }

    #[test]
    fn the_two_directions_have_different_keys() {
        let dialer = connection_keys(KEY, b"d", b"a", true);
        let acceptor = connection_keys(KEY, b"d", b"a", false);
        assert_eq!(dialer.send, acceptor.receive);
        assert_eq!(dialer.receive, acceptor.send);
        assert_ne!(dialer.send, dialer.receive);
    }
}
