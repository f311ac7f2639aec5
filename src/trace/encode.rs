//! The JSON Lines encoding of a trace (docs/spec.md section 3) and its digest.
//!
//! Event lines are written by hand into a reused buffer rather than through serde: the field
//! order is part of the format, and this runs once per event on the hot path. The header and
//! summary go through serde.

use std::io;

use serde::Serialize;
use serde::ser::SerializeMap;

use super::writer::{BlockWriter, TraceOutput};
use super::{Event, EventKind, EventSink, TRACE_FORMAT, TRACE_VERSION};
use crate::base::Invariant;
use crate::protocol::ledger::{push_hex, to_hex};
use crate::protocol::{Amount, Block, Hash, Message};
use crate::scenario::{FaultsSpec, Limits, NetworkSpec, ScheduleSpec};

/// The first line: what a reader needs to know about the rules the run followed.
#[derive(Clone, Debug, Serialize)]
pub struct Header {
    /// Always `header`.
    #[serde(rename = "type")]
    pub line_type: &'static str,
    /// [`super::TRACE_FORMAT`].
    pub format: &'static str,
    /// [`super::TRACE_VERSION`].
    pub version: u32,
    /// The scenario's name.
    pub scenario: String,
    /// The run's seed.
    pub seed: u64,
    /// How many clients.
    pub clients: u32,
    /// Every client's balance at the start.
    pub initial_balances: IdMap<Amount>,
    /// The protocol variant's name.
    pub protocol: &'static str,
    /// The names of the mutations applied to the protocol.
    pub mutations: Vec<&'static str>,
    /// How long a client stays inside the critical section, in microseconds.
    pub cs_us: u64,
    /// The simulated network (none for a live cluster's trace, which has a real one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkSpec>,
    /// The scenario's partitions and crashes (left out when there are none).
    #[serde(skip_serializing_if = "FaultsSpec::is_empty")]
    pub faults: FaultsSpec,
    /// The scenario's pinned messages (left out when there are none).
    #[serde(skip_serializing_if = "ScheduleSpec::is_empty")]
    pub schedule: ScheduleSpec,
    /// The simulation's limits (none for a live cluster's trace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

impl Header {
    /// A header with no network, faults, schedule or limits; a simulation sets them.
    pub fn new(
        scenario: String,
        seed: u64,
        initial_balances: Vec<Amount>,
        protocol: &'static str,
        mutations: Vec<&'static str>,
        cs_us: u64,
    ) -> Self {
        Header {
            line_type: "header",
            format: TRACE_FORMAT,
            version: TRACE_VERSION,
            scenario,
            seed,
            clients: initial_balances.len() as u32,
            initial_balances: IdMap(initial_balances),
            protocol,
            mutations,
            cs_us,
            network: None,
            faults: FaultsSpec::default(),
            schedule: ScheduleSpec::default(),
            limits: None,
        }
    }
}

/// A per-client value written as a JSON object keyed `"1"`, `"2"`, … in id order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdMap<T>(pub Vec<T>);

impl<T: Serialize> Serialize for IdMap<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (slot, value) in self.0.iter().enumerate() {
            map.serialize_entry(&(slot + 1).to_string(), value)?;
        }
        map.end()
    }
}

/// A violation as listed in the summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SummaryViolation {
    /// The invariant broken.
    pub invariant: Invariant,
    /// The `seq` of the violation event.
    pub seq: u64,
    /// Its simulated time in microseconds.
    pub t: u64,
    /// The explanation, one sentence.
    pub detail: String,
}

/// The last line.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Always `summary`.
    #[serde(rename = "type")]
    pub line_type: &'static str,
    /// How many event lines the trace holds.
    pub events: u64,
    /// Transfers committed.
    pub committed: u64,
    /// Transfers aborted for lack of funds.
    pub aborted: u64,
    /// Messages sent (duplicates not counted).
    pub messages_sent: u64,
    /// `quiescent` (nothing left to happen), `violation`, `max_events` or `max_time`.
    pub end: &'static str,
    /// The simulated time of the last event.
    pub end_us: u64,
    /// Every violation found, in order.
    pub violations: Vec<SummaryViolation>,
    /// Every client's own balance table at the end.
    pub final_balances: IdMap<IdMap<Amount>>,
    /// Every client's head hash at the end, in hex.
    pub heads: IdMap<String>,
    /// Hex SHA-256 of every byte of the trace before this line.
    pub digest: String,
}

/// Encodes events as JSONL, keeps the running SHA-256 of every line, and writes the lines to
/// zero or more outputs. With no outputs it still computes the digest.
pub struct TraceEncoder {
    writer: BlockWriter,
    /// Whole lines not yet hashed or written. Lines are encoded straight into it and leave in
    /// blocks of about [`BLOCK_BYTES`]: one hash update and one write per block, not per line.
    pending: Vec<u8>,
}

/// How many bytes of lines the encoder gathers before hashing and writing them.
const BLOCK_BYTES: usize = 1 << 18;

impl TraceEncoder {
    /// An encoder writing to every one of `outputs` (none: it only computes the digest).
    pub fn new(outputs: Vec<TraceOutput>) -> Self {
        TraceEncoder {
            writer: BlockWriter::new(outputs),
            pending: Vec::with_capacity(BLOCK_BYTES + 4096),
        }
    }

    /// Writes the header line; call it first.
    pub fn header(&mut self, header: &Header) -> io::Result<()> {
        serde_json::to_writer(&mut self.pending, header)?;
        self.end_line()
    }

    /// Fills in the digest, writes the summary line and flushes every output.
    pub fn finish(self, summary: &mut Summary) -> io::Result<Hash> {
        self.writer.finish(&self.pending, |digest| {
            summary.digest = to_hex(digest);
            let mut line = Vec::with_capacity(512);
            serde_json::to_writer(&mut line, &*summary)?;
            line.push(b'\n');
            Ok(line)
        })
    }

    fn end_line(&mut self) -> io::Result<()> {
        self.pending.push(b'\n');
        if self.pending.len() >= BLOCK_BYTES {
            self.writer.write(&mut self.pending)?;
        }
        Ok(())
    }
}

impl EventSink for TraceEncoder {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        encode_event(event, &mut self.pending);
        self.end_line()
    }
}

/// Appends one event as a JSON object (no newline) to `out`.
pub fn encode_event(event: &Event, out: &mut Vec<u8>) {
    let mut json = Json(out);
    json.raw(b"{\"type\":\"event\",\"seq\":");
    json.int(event.seq);
    json.raw(b",\"t\":");
    json.int(event.t_us);
    json.raw(b",\"node\":");
    match event.node {
        Some(node) => json.int(node.get()),
        None => json.raw(b"null"),
    }
    json.raw(b",\"clock\":");
    json.int(event.clock);
    json.raw(b",\"kind\":\"");
    json.raw(event.kind.name().as_bytes());
    json.raw(b"\"");
    match &event.kind {
        EventKind::Send { msg_id, to, msg } => {
            json.field("msg_id", *msg_id);
            json.field("to", to.get());
            json.raw(b",\"msg\":");
            json.message(msg);
        }
        EventKind::Deliver { msg_id, from, msg } => {
            json.field("msg_id", *msg_id);
            json.field("from", from.get());
            json.raw(b",\"msg\":");
            json.message(msg);
        }
        EventKind::Transfer { to, amount } => {
            json.field("to", to.get());
            json.field("amount", *amount);
        }
        EventKind::Request { ts } | EventKind::Enter { ts } | EventKind::Exit { ts } => {
            json.field("ts", *ts);
        }
        EventKind::Commit { block } | EventKind::Apply { block } => {
            json.raw(b",\"block\":");
            json.block(block);
        }
        EventKind::Abort {
            ts,
            amount,
            balance,
        } => {
            json.field("ts", *ts);
            json.field("amount", *amount);
            json.field("balance", *balance);
        }
        EventKind::Reject {
            from,
            block,
            reason,
        } => {
            json.field("from", from.get());
            json.raw(b",\"block\":");
            json.block(block);
            json.raw(b",\"reason\":");
            json.string(reason);
        }
        EventKind::Balance { of, value } => {
            json.field("of", of.get());
            json.field("value", *value);
        }
        EventKind::Violation { invariant, detail } => {
            json.raw(b",\"invariant\":\"");
            json.raw(invariant.name().as_bytes());
            json.raw(b"\",\"detail\":");
            json.string(detail);
        }
        EventKind::Drop { msg_id, reason } => {
            json.field("msg_id", *msg_id);
            json.raw(b",\"reason\":\"");
            json.raw(reason.name().as_bytes());
            json.raw(b"\"");
        }
        EventKind::Duplicate { msg_id } => json.field("msg_id", *msg_id),
        EventKind::Crash => {}
        EventKind::Restart { kept } => {
            json.raw(b",\"kept\":\"");
            json.raw(kept.name().as_bytes());
            json.raw(b"\"");
        }
        EventKind::Partition { groups, direction } | EventKind::Heal { groups, direction } => {
            json.raw(b",\"groups\":[");
            for (rank, group) in groups.iter().enumerate() {
                if rank > 0 {
                    json.raw(b",");
                }
                json.raw(b"[");
                for (place, member) in group.iter().enumerate() {
                    if place > 0 {
                        json.raw(b",");
                    }
                    json.int(member.get());
                }
                json.raw(b"]");
            }
            json.raw(b"],\"direction\":\"");
            json.raw(direction.name().as_bytes());
            json.raw(b"\"");
        }
    }
    json.raw(b"}");
}

/// A tiny JSON writer for the fixed shapes of trace lines: integers through `itoa`, hashes as
/// hex straight into the buffer, strings escaped by serde_json. No allocation per call.
struct Json<'a>(&'a mut Vec<u8>);

impl Json<'_> {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn int(&mut self, value: impl itoa::Integer) {
        self.0
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// `,"name":value`
    fn field(&mut self, name: &str, value: impl itoa::Integer) {
        self.raw(b",\"");
        self.raw(name.as_bytes());
        self.raw(b"\":");
        self.int(value);
    }

    fn hex(&mut self, hash: &Hash) {
        self.raw(b"\"");
        push_hex(self.0, hash);
        self.raw(b"\"");
    }

    fn string(&mut self, text: &str) {
        // serde_json escapes exactly as JSON requires; a str always serialises.
        let _ = serde_json::to_writer(&mut *self.0, text);
    }

    fn message(&mut self, msg: &Message) {
        if let Message::Foreign(foreign) = msg {
            // The node's own object, as it came: its `type` and `ts` are among its fields.
            self.raw(foreign.json.as_bytes());
            return;
        }
        self.raw(b"{\"type\":\"");
        self.raw(msg.type_name().as_bytes());
        self.raw(b"\"");
        self.field("ts", msg.ts());
        if let Message::Release { request_ts, .. } = msg {
            self.field("request_ts", *request_ts);
        }
        if let Some(block) = msg.block() {
            self.raw(b",\"block\":");
            self.block(block);
        }
        self.raw(b"}");
    }

    fn block(&mut self, block: &Block) {
        self.raw(b"{\"index\":");
        self.int(block.index());
        self.raw(b",\"prev\":");
        self.hex(&block.prev());
        self.raw(b",\"hash\":");
        self.hex(&block.hash_value());
        self.field("ts", block.ts());
        self.field("from", block.from().get());
        self.field("to", block.to().get());
        self.field("amount", block.amount());
        self.raw(b"}");
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};
    use std::sync::Arc;

    use super::*;
    use crate::protocol::{ClientId, GENESIS_PREV};

    fn encoded(kind: EventKind) -> serde_json::Value {
        let event = Event {
            seq: 4,
            t_us: 1500,
            node: Some(ClientId::new(2)),
            clock: 7,
            kind,
        };
        let mut line = Vec::new();
        encode_event(&event, &mut line);
        serde_json::from_slice(&line).expect("every event encodes as valid JSON")
    }

    #[test]
    fn send_event_has_the_spec_fields_in_order() {
        let event = Event {
            seq: 0,
            t_us: 0,
            node: Some(ClientId::new(1)),
            clock: 1,
            kind: EventKind::Send {
                msg_id: 0,
                to: ClientId::new(2),
                msg: Message::Request { ts: 1 },
            },
        };
        let mut line = Vec::new();
        encode_event(&event, &mut line);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            r#"{"type":"event","seq":0,"t":0,"node":1,"clock":1,"kind":"send","msg_id":0,"to":2,"msg":{"type":"request","ts":1}}"#
        );
    }

    #[test]
    fn release_with_block_and_violation_detail_are_valid_json() {
        let block = Arc::new(Block::new(
            0,
            GENESIS_PREV,
            1,
            ClientId::new(1),
            ClientId::new(2),
            3,
        ));
        let value = encoded(EventKind::Deliver {
            msg_id: 9,
            from: ClientId::new(1),
            msg: Message::Release {
                ts: 5,
                request_ts: 1,
                block: Some(block),
            },
        });
        assert_eq!(value["msg"]["block"]["prev"], "0".repeat(64));
        assert_eq!(value["msg"]["request_ts"], 1);
        let value = encoded(EventKind::Violation {
            invariant: Invariant::MutualExclusion,
            detail: "a \"quoted\"\nline".into(),
        });
        assert_eq!(value["detail"], "a \"quoted\"\nline");
        assert_eq!(value["invariant"], "mutual_exclusion");
    }

    #[test]
    fn network_wide_event_has_null_node() {
        let event = Event {
            seq: 1,
            t_us: 2,
            node: None,
            clock: 0,
            kind: EventKind::Request { ts: 1 },
        };
        let mut line = Vec::new();
        encode_event(&event, &mut line);
        let value: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert!(value["node"].is_null());
    }

    #[test]
    fn digest_covers_every_line_before_the_summary() {
        let mut encoder = TraceEncoder::new(Vec::new());
        let event = Event {
            seq: 0,
            t_us: 0,
            node: Some(ClientId::new(1)),
            clock: 1,
            kind: EventKind::Request { ts: 1 },
        };
        encoder.event(&event).unwrap();
        let mut line = Vec::new();
        encode_event(&event, &mut line);
        line.push(b'\n');
        let expected: Hash = Sha256::digest(&line).into();
        let mut summary = Summary {
            line_type: "summary",
            events: 1,
            committed: 0,
            aborted: 0,
            messages_sent: 0,
            end: "quiescent",
            end_us: 0,
            violations: Vec::new(),
            final_balances: IdMap(Vec::new()),
            heads: IdMap(Vec::new()),
            digest: String::new(),
        };
        assert_eq!(encoder.finish(&mut summary).unwrap(), expected);
        assert_eq!(summary.digest, to_hex(&expected));
    }
}
