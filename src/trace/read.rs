//! Reading a JSON Lines trace (SPEC section 3) written by any source: the simulator today,
//! the TCP nodes later.
//!
//! [`TraceReader`] streams: it holds one line at a time, so a trace of ten million events
//! reads in constant memory (plus the summary line, whose balance tables grow with the square
//! of the number of clients). It checks the structure as it goes and stops at the first
//! problem with a [`ReadError`] that names the 1-based line (and, for JSON, the column):
//!
//! - every line is one JSON object ending in `\n`; unknown fields are ignored;
//! - the first line is a header with `format` `lamport-ledger-trace` and `version` 1;
//! - event lines: `seq` counts from 0 without gaps, `t` never decreases, the fields of each
//!   kind are present with the right types, client ids are in `1..=clients`;
//! - the last line is the summary; its `digest` is the SHA-256 of every byte before it, its
//!   counts (`events`, `committed`, `aborted`, `messages_sent`) and its `violations` match the
//!   event lines; nothing follows it.
//!
//! Events of kinds this reader does not know, and sends and deliveries of message types it
//! does not know, are skipped and counted ([`TraceReader::skipped`]); so are the `drop`,
//! `duplicate` and `deliver` events of such messages. Their lines still count for `seq`, `t`,
//! the digest and the event count.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::{self, BufRead, Read};
use std::ops::Deref;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::error::Category;
use sha2::{Digest, Sha256};

use super::{Direction, DropReason, Event, EventKind, Kept, TRACE_FORMAT, TRACE_VERSION};
use crate::base::Invariant;
use crate::json_message::bare_message;
use crate::protocol::ledger::{from_hex, short_hex};
use crate::protocol::{Amount, Block, ClientId, Hash, Message};
use crate::wording::count;

/// The longest line the reader accepts.
pub const MAX_LINE_BYTES: usize = 256 << 20;
/// The most clients a header may declare: as many as a scenario may have (a live cluster has
/// at most 64). Checking and drawing keep per-client state for every client, so a header
/// cannot ask for more than any writer produces.
pub const MAX_TRACE_CLIENTS: u32 = crate::scenario::MAX_CLIENTS;

/// What is wrong with a trace, and where.
#[derive(Debug)]
pub enum ReadError {
    /// The trace breaks the format at `line` (1-based).
    Invalid {
        line: u64,
        column: Option<u64>,
        message: String,
    },
    /// The file could not be read.
    Io(io::Error),
}

impl ReadError {
    fn at(line: u64, message: impl Into<String>) -> Self {
        ReadError::Invalid {
            line,
            column: None,
            message: message.into(),
        }
    }

    /// The error as one sentence naming `file`, located as the scenario reader locates its
    /// errors (`FILE:LINE:COLUMN: …`, as compilers do, so that terminals and editors can jump
    /// there).
    pub fn in_file(&self, file: &str) -> String {
        match self {
            ReadError::Invalid {
                line,
                column: Some(column),
                message,
            } => format!("{file}:{line}:{column}: {message}"),
            ReadError::Invalid { line, message, .. } => format!("{file}:{line}: {message}"),
            ReadError::Io(error) => format!("{file}: {error}"),
        }
    }

    /// The line the problem is on, if it is a format problem.
    pub fn line(&self) -> Option<u64> {
        match self {
            ReadError::Invalid { line, .. } => Some(*line),
            ReadError::Io(_) => None,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Invalid {
                line,
                column: Some(column),
                message,
            } => write!(f, "line {line}, column {column}: {message}"),
            ReadError::Invalid { line, message, .. } => write!(f, "line {line}: {message}"),
            ReadError::Io(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<io::Error> for ReadError {
    fn from(error: io::Error) -> Self {
        ReadError::Io(error)
    }
}

/// The header line: what a reader needs to know about the rules the run followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceHeader {
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    pub clients: u32,
    /// Index `id - 1` is client `id`.
    pub initial_balances: Vec<Amount>,
    /// `lamport` when the header does not say.
    pub protocol: String,
    pub mutations: Vec<String>,
    pub cs_us: Option<u64>,
    pub max_events: Option<u64>,
    pub max_time_us: Option<u64>,
}

/// A violation as the summary lists it (a claim of the trace's author, not a fact).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedViolation {
    pub invariant: Invariant,
    /// The `seq` of its violation event.
    pub seq: Option<u64>,
    pub t_us: Option<u64>,
    pub detail: String,
}

/// The summary line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceSummary {
    /// Its 1-based line number.
    pub line: u64,
    pub events: u64,
    pub committed: u64,
    pub aborted: u64,
    pub messages_sent: Option<u64>,
    /// `quiescent`, `violation`, `max_events`, `max_time`, or another source's word.
    pub end: Option<String>,
    pub end_us: Option<u64>,
    pub violations: Vec<ClaimedViolation>,
    /// Index `id - 1`: that client's own balance table.
    pub final_balances: Vec<Vec<Amount>>,
    /// Index `id - 1`: that client's ledger head.
    pub heads: Vec<Hash>,
    pub digest: Hash,
}

/// Streams the events of a trace; see the module documentation for what it checks.
pub struct TraceReader<R> {
    input: R,
    buffer: Vec<u8>,
    line_no: u64,
    hasher: Sha256,
    header: TraceHeader,
    next_seq: u64,
    last_t: u64,
    committed: u64,
    aborted: u64,
    sends: u64,
    claims: Vec<ClaimedViolation>,
    skipped: BTreeMap<String, u64>,
    skipped_messages: HashSet<u64>,
    summary: Option<TraceSummary>,
}

impl<R: BufRead> TraceReader<R> {
    /// Reads and checks the header line.
    pub fn new(input: R) -> Result<Self, ReadError> {
        let mut reader = TraceReader {
            input,
            buffer: Vec::with_capacity(1024),
            line_no: 0,
            hasher: Sha256::new(),
            header: TraceHeader {
                scenario: None,
                seed: None,
                clients: 0,
                initial_balances: Vec::new(),
                protocol: String::new(),
                mutations: Vec::new(),
                cs_us: None,
                max_events: None,
                max_time_us: None,
            },
            next_seq: 0,
            last_t: 0,
            committed: 0,
            aborted: 0,
            sends: 0,
            claims: Vec::new(),
            skipped: BTreeMap::new(),
            skipped_messages: HashSet::new(),
            summary: None,
        };
        if !reader.read_line()? {
            return Err(ReadError::at(
                1,
                "the file is empty, but a trace starts with a header line",
            ));
        }
        let first = reader.buffer.strip_suffix(b"\n").unwrap_or(&reader.buffer);
        let not_a_header = |error| {
            let scenario = std::str::from_utf8(first).is_ok_and(starts_a_scenario);
            if scenario {
                ReadError::at(1, SCENARIO_NOT_TRACE)
            } else {
                error
            }
        };
        let wire: WireHeader = parse(first, 1).map_err(not_a_header)?;
        reader.header = header_from(wire).map_err(not_a_header)?;
        reader.hasher.update(&reader.buffer);
        Ok(reader)
    }

    pub fn header(&self) -> &TraceHeader {
        &self.header
    }

    /// The summary, once [`Self::next_event`] has returned `None`.
    pub fn summary(&self) -> Option<&TraceSummary> {
        self.summary.as_ref()
    }

    /// How many event lines were read so far (skipped ones included).
    pub fn events_read(&self) -> u64 {
        self.next_seq
    }

    /// Skipped events by kind (`send of token`-style names for unknown message types).
    pub fn skipped(&self) -> &BTreeMap<String, u64> {
        &self.skipped
    }

    /// The violation events read so far (claims, in trace order).
    pub fn claims(&self) -> &[ClaimedViolation] {
        &self.claims
    }

    /// The next event; `None` after the summary line was read and checked.
    pub fn next_event(&mut self) -> Result<Option<Event>, ReadError> {
        loop {
            if self.summary.is_some() {
                return Ok(None);
            }
            if !self.read_line()? {
                return Err(ReadError::at(
                    self.line_no + 1,
                    format!(
                        "the trace ends after line {} without a summary line: it is truncated",
                        self.line_no
                    ),
                ));
            }
            let line_no = self.line_no;
            let buffer = std::mem::take(&mut self.buffer);
            let outcome = self.line(&buffer, line_no);
            self.buffer = buffer;
            match outcome? {
                Line::Event(event) => {
                    self.hasher.update(&self.buffer);
                    return Ok(Some(event));
                }
                Line::Skipped => self.hasher.update(&self.buffer),
                Line::Summary => return Ok(None),
            }
        }
    }

    /// Reads one line into the buffer; `false` at the end of the input.
    fn read_line(&mut self) -> Result<bool, ReadError> {
        self.buffer.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let read = (&mut self.input)
            .take(limit)
            .read_until(b'\n', &mut self.buffer)?;
        if read == 0 {
            return Ok(false);
        }
        self.line_no += 1;
        if self.buffer.last() != Some(&b'\n') {
            if self.buffer.len() > MAX_LINE_BYTES {
                return Err(ReadError::at(
                    self.line_no,
                    format!("the line is longer than {MAX_LINE_BYTES} bytes"),
                ));
            }
            return Err(ReadError::at(
                self.line_no,
                "the file ends in the middle of this line (no newline at its end): the trace is \
                 truncated",
            ));
        }
        Ok(true)
    }

    fn line(&mut self, bytes: &[u8], line_no: u64) -> Result<Line, ReadError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ReadError::at(
                line_no,
                "the line is empty, but every line of a trace holds one JSON object",
            ));
        }
        let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let wire: WireLine = parse(bytes, line_no)?;
        match wire.line_type.as_deref() {
            Some("event") => self.event(wire, line_no),
            Some("summary") => {
                let summary: WireSummary = parse(bytes, line_no)?;
                self.finish(summary, line_no)?;
                Ok(Line::Summary)
            }
            Some("header") => Err(ReadError::at(
                line_no,
                "a second header line: the header must be the first line only",
            )),
            Some(other) => Err(ReadError::at(
                line_no,
                format!(
                    "unknown line type {other:?}: a line is a \"header\", an \"event\" or the \
                     \"summary\""
                ),
            )),
            None => Err(ReadError::at(line_no, "the line has no `type` field")),
        }
    }

    fn event(&mut self, wire: WireLine, line_no: u64) -> Result<Line, ReadError> {
        let err = |message: String| ReadError::at(line_no, message);
        let seq = wire
            .seq
            .ok_or_else(|| err("the event has no `seq` field".into()))?;
        if seq != self.next_seq {
            return Err(err(format!(
                "`seq` is {seq} but {} was expected: seq counts from 0 without gaps, so an \
                 event is missing or out of place",
                self.next_seq
            )));
        }
        self.next_seq += 1;
        let t_us = wire
            .t
            .ok_or_else(|| err("the event has no `t` field".into()))?;
        if t_us < self.last_t {
            return Err(err(format!(
                "`t` is {t_us} but the event before was at {}: time never decreases",
                self.last_t
            )));
        }
        self.last_t = t_us;
        let kind_name: &str = wire
            .kind
            .as_deref()
            .ok_or_else(|| err("the event has no `kind` field".into()))?;
        let mut fields = EventFields {
            wire: &wire,
            line_no,
            kind_name,
            clients: self.header.clients,
            node: None,
        };
        let node = wire
            .node
            .ok_or_else(|| err(format!("the {kind_name} event has no `node` field")))?;
        let node = node.map(|id| fields.client(id, "node")).transpose()?;
        fields.node = node;
        let clock = match (wire.clock, node) {
            (Some(Some(clock)), _) => clock,
            (_, None) => 0,
            (_, Some(_)) => {
                return Err(err(format!(
                    "the {kind_name} event has no `clock` field (only events without a node may \
                     leave it out)"
                )));
            }
        };
        let Some(kind) = self.event_kind(&fields, seq, t_us)? else {
            return Ok(Line::Skipped);
        };
        if node.is_none()
            && !matches!(
                kind,
                EventKind::Partition { .. }
                    | EventKind::Heal { .. }
                    | EventKind::Drop { .. }
                    | EventKind::Duplicate { .. }
                    | EventKind::Violation { .. }
            )
        {
            fields.needs_node()?;
        }
        Ok(Line::Event(Event {
            seq,
            t_us,
            node,
            clock,
            kind,
        }))
    }

    /// The event's kind from its fields; `None` when the event is skipped (a kind or a
    /// message this reader does not know, or an event of a skipped message).
    fn event_kind(
        &mut self,
        fields: &EventFields,
        seq: u64,
        t_us: u64,
    ) -> Result<Option<EventKind>, ReadError> {
        let wire = fields.wire;
        Ok(Some(match fields.kind_name {
            "send" | "deliver" => return self.message_event(fields),
            "drop" | "duplicate" => return self.drop_or_duplicate(fields),
            "transfer" => {
                fields.needs_node()?;
                EventKind::Transfer {
                    to: fields.client(field!(fields, to), "to")?,
                    amount: field!(fields, amount),
                }
            }
            "request" => EventKind::Request {
                ts: field!(fields, ts),
            },
            "enter" => EventKind::Enter {
                ts: field!(fields, ts),
            },
            "exit" => EventKind::Exit {
                ts: field!(fields, ts),
            },
            "commit" | "apply" => {
                fields.needs_node()?;
                let block = fields.block()?;
                if fields.kind_name == "commit" {
                    self.committed += 1;
                    EventKind::Commit { block }
                } else {
                    EventKind::Apply { block }
                }
            }
            "abort" => {
                self.aborted += 1;
                EventKind::Abort {
                    ts: field!(fields, ts),
                    amount: field!(fields, amount),
                    balance: field!(fields, balance),
                }
            }
            "reject" => {
                let block = fields.block()?;
                EventKind::Reject {
                    from: fields.client(field!(fields, from), "from")?,
                    block,
                    reason: wire.reason.as_deref().unwrap_or_default().to_string(),
                }
            }
            "balance" => EventKind::Balance {
                of: fields.client(field!(fields, of), "of")?,
                value: field!(fields, value),
            },
            "violation" => self.violation(fields, seq, t_us)?,
            "crash" => {
                fields.needs_node()?;
                EventKind::Crash
            }
            "restart" => {
                fields.needs_node()?;
                restart(fields)?
            }
            "partition" | "heal" => partition_or_heal(fields)?,
            other => {
                self.skip(format!("{other:?}"));
                return Ok(None);
            }
        }))
    }

    /// A `send` or a `deliver`, or `None` for one of a message this reader skips.
    fn message_event(&mut self, fields: &EventFields) -> Result<Option<EventKind>, ReadError> {
        let wire = fields.wire;
        let sending = fields.kind_name == "send";
        fields.needs_node()?;
        let msg_id = field!(fields, msg_id);
        fields.need(wire.msg.is_some(), "msg")?;
        let peer = if sending {
            fields.client(field!(fields, to), "to")?
        } else {
            fields.client(field!(fields, from), "from")?
        };
        let msg = wire
            .msg
            .as_ref()
            .map(|msg| message(msg, fields.line_no))
            .transpose()?;
        match msg.flatten() {
            Some(msg) if !self.skipped_messages.contains(&msg_id) => {
                if sending {
                    self.sends += 1;
                    Ok(Some(EventKind::Send {
                        msg_id,
                        to: peer,
                        msg,
                    }))
                } else {
                    Ok(Some(EventKind::Deliver {
                        msg_id,
                        from: peer,
                        msg,
                    }))
                }
            }
            _ => {
                if sending {
                    self.sends += 1;
                    self.skipped_messages.insert(msg_id);
                }
                let msg_type = wire
                    .msg
                    .as_ref()
                    .and_then(|msg| msg.msg_type.as_deref())
                    .unwrap_or("?");
                self.skip(format!("{} of a {msg_type:?} message", fields.kind_name));
                Ok(None)
            }
        }
    }

    /// A `drop` or a `duplicate`, or `None` for one of a skipped message.
    fn drop_or_duplicate(&mut self, fields: &EventFields) -> Result<Option<EventKind>, ReadError> {
        let msg_id = field!(fields, msg_id);
        if self.skipped_messages.contains(&msg_id) {
            self.skip(format!("{} of a skipped message", fields.kind_name));
            return Ok(None);
        }
        if fields.kind_name == "duplicate" {
            return Ok(Some(EventKind::Duplicate { msg_id }));
        }
        let reason = match fields.wire.reason.as_deref() {
            None | Some("loss") => DropReason::Loss,
            Some("partition") => DropReason::Partition,
            Some("crashed") => DropReason::Crashed,
            Some(other) => {
                return Err(fields.err(format!(
                    "`reason` is {other:?}, but a drop's reason is \"loss\", \"partition\" or \
                     \"crashed\""
                )));
            }
        };
        Ok(Some(EventKind::Drop { msg_id, reason }))
    }

    /// A `violation` event, which is also kept as a claim for the offline check to compare.
    fn violation(
        &mut self,
        fields: &EventFields,
        seq: u64,
        t_us: u64,
    ) -> Result<EventKind, ReadError> {
        let name = fields.wire.invariant.as_deref().unwrap_or_default();
        fields.need(fields.wire.invariant.is_some(), "invariant")?;
        let invariant = Invariant::ALL
            .into_iter()
            .find(|invariant| invariant.name() == name)
            .ok_or_else(|| {
                fields.err(format!(
                    "`invariant` is {name:?}, which is not one of the invariant names of SPEC \
                     section 4"
                ))
            })?;
        let detail = fields.wire.detail.clone().unwrap_or_default();
        self.claims.push(ClaimedViolation {
            invariant,
            seq: Some(seq),
            t_us: Some(t_us),
            detail: detail.clone(),
        });
        Ok(EventKind::Violation { invariant, detail })
    }

    fn skip(&mut self, what: String) -> Line {
        *self.skipped.entry(what).or_insert(0) += 1;
        Line::Skipped
    }

    /// Checks the summary line against everything before it, then that nothing follows.
    fn finish(&mut self, wire: WireSummary, line_no: u64) -> Result<(), ReadError> {
        let err = |message: String| ReadError::at(line_no, message);
        let missing = |field: &str| err(format!("the summary has no `{field}` field"));
        let digest = wire.digest.ok_or_else(|| missing("digest"))?.0;
        let computed: Hash = self.hasher.clone().finalize().into();
        if digest != computed {
            return Err(err(format!(
                "the summary's digest {}… does not match the SHA-256 of the {} lines before it \
                 ({}…): the trace was changed after it was written",
                short_hex(&digest),
                line_no - 1,
                short_hex(&computed)
            )));
        }
        let clients = self.header.clients;
        let events = wire.events.ok_or_else(|| missing("events"))?;
        let committed = wire.committed.ok_or_else(|| missing("committed"))?;
        let aborted = wire.aborted.ok_or_else(|| missing("aborted"))?;
        let counts = [
            ("events", events, self.next_seq, "event lines"),
            ("committed", committed, self.committed, "commit events"),
            ("aborted", aborted, self.aborted, "abort events"),
        ];
        let sent = wire
            .messages_sent
            .map(|sent| ("messages_sent", sent, self.sends, "send events"));
        for (field, claimed, counted, what) in counts.into_iter().chain(sent) {
            if claimed != counted {
                return Err(err(format!(
                    "the summary says `{field}` is {claimed}, but the trace has {counted} {what}"
                )));
            }
        }
        let violations = wire
            .violations
            .ok_or_else(|| missing("violations"))?
            .into_iter()
            .map(|claim| {
                let invariant = Invariant::ALL
                    .into_iter()
                    .find(|invariant| invariant.name() == claim.invariant)
                    .ok_or_else(|| {
                        err(format!(
                            "the summary lists a violation of {:?}, which is not one of the \
                             invariant names of SPEC section 4",
                            claim.invariant
                        ))
                    })?;
                Ok(ClaimedViolation {
                    invariant,
                    seq: claim.seq,
                    t_us: claim.t,
                    detail: claim.detail.unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, ReadError>>()?;
        self.check_claims(&violations, line_no)?;
        let final_balances = by_id(
            wire.final_balances
                .ok_or_else(|| missing("final_balances"))?,
            clients,
            "final_balances",
            line_no,
        )?
        .into_iter()
        .enumerate()
        .map(|(slot, table)| {
            by_id(
                table,
                clients,
                &format!("final_balances.{}", slot + 1),
                line_no,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
        let heads = by_id(
            wire.heads.ok_or_else(|| missing("heads"))?,
            clients,
            "heads",
            line_no,
        )?
        .into_iter()
        .map(|hash| hash.0)
        .collect();
        self.summary = Some(TraceSummary {
            line: line_no,
            events,
            committed,
            aborted,
            messages_sent: wire.messages_sent,
            end: wire.end,
            end_us: wire.end_us,
            violations,
            final_balances,
            heads,
            digest,
        });
        let mut rest = [0u8; 1];
        if self.input.read(&mut rest)? > 0 {
            return Err(ReadError::at(
                line_no + 1,
                "there is more after the summary line, which must be the last line",
            ));
        }
        Ok(())
    }

    /// The summary's violations must be the violation events, in order.
    fn check_claims(&self, listed: &[ClaimedViolation], line_no: u64) -> Result<(), ReadError> {
        if listed.len() != self.claims.len() {
            return Err(ReadError::at(
                line_no,
                format!(
                    "the summary lists {}, but the trace has {}",
                    count(listed.len(), "violation"),
                    count(self.claims.len(), "violation event")
                ),
            ));
        }
        for (rank, (listed, event)) in listed.iter().zip(&self.claims).enumerate() {
            let same = listed.invariant == event.invariant
                && listed.seq.is_none_or(|seq| Some(seq) == event.seq)
                && listed.t_us.is_none_or(|t| Some(t) == event.t_us)
                && (listed.detail.is_empty() || listed.detail == event.detail);
            if !same {
                return Err(ReadError::at(
                    line_no,
                    format!(
                        "the summary's violation {} ({} at event {}) is not the violation event \
                         at event {} ({})",
                        rank + 1,
                        listed.invariant,
                        listed
                            .seq
                            .map_or_else(|| "?".to_string(), |seq| seq.to_string()),
                        event.seq.unwrap_or_default(),
                        event.invariant
                    ),
                ));
            }
        }
        Ok(())
    }
}

enum Line {
    Event(Event),
    Skipped,
    Summary,
}

/// Parses one line, turning serde's error into a located sentence.
fn parse<'de, T: Deserialize<'de>>(bytes: &'de [u8], line_no: u64) -> Result<T, ReadError> {
    if bytes.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ReadError::at(
            line_no,
            "the line is not a JSON object, but every line of a trace is one",
        ));
    }
    serde_json::from_slice(bytes).map_err(|error| {
        let column = Some(error.column() as u64).filter(|&column| column > 0);
        let text = bare_message(&error);
        let message = match error.classify() {
            Category::Syntax | Category::Eof => format!("malformed JSON: {text}"),
            Category::Data | Category::Io => {
                let mut deserializer = serde_json::Deserializer::from_slice(bytes);
                let path = serde_path_to_error::deserialize::<_, T>(&mut deserializer)
                    .err()
                    .map(|error| error.path().to_string())
                    .filter(|path| !path.is_empty() && path != ".");
                match path {
                    Some(path) => format!("field `{path}`: {text}"),
                    None => format!("the line is not a trace line: {text}"),
                }
            }
        };
        ReadError::Invalid {
            line: line_no,
            column,
            message,
        }
    })
}

/// What a command that reads traces says of a scenario file given in place of one (an easy
/// slip: `check scenario.json`), which the JSON parser alone would report as an object that
/// ends too early.
pub const SCENARIO_NOT_TRACE: &str = "this looks like a scenario file, not a JSON Lines trace: \
                                      run it with `lamport-ledger run SCENARIO --trace TRACE`, \
                                      then use TRACE";

/// Whether a file's first line starts a scenario file rather than a trace: a lone `{`
/// (pretty-printed JSON), or one object that has `clients` but no line `type`.
pub fn starts_a_scenario(first_line: &str) -> bool {
    let first_line = first_line.trim();
    first_line == "{"
        || serde_json::from_str::<serde_json::Value>(first_line)
            .is_ok_and(|line| line.get("clients").is_some() && line.get("type").is_none())
}

fn header_from(wire: WireHeader) -> Result<TraceHeader, ReadError> {
    let err = |message: String| ReadError::at(1, message);
    match wire.line_type.as_deref() {
        Some("header") => {}
        Some(other) => {
            return Err(err(format!(
                "the trace must start with a header line, but the first line is of type \
                 {other:?}"
            )));
        }
        None => {
            return Err(err(
                "the trace must start with a header line, but the first line has no `type`".into(),
            ));
        }
    }
    match wire.format.as_deref() {
        Some(TRACE_FORMAT) => {}
        Some(other) => {
            return Err(err(format!(
                "`format` is {other:?}: this is not a {TRACE_FORMAT} trace"
            )));
        }
        None => return Err(err("the header has no `format` field".into())),
    }
    match wire.version {
        Some(version) if version == u64::from(TRACE_VERSION) => {}
        Some(version) => {
            return Err(err(format!(
                "trace format version {version} is not supported: this reader knows version \
                 {TRACE_VERSION}"
            )));
        }
        None => return Err(err("the header has no `version` field".into())),
    }
    let clients = wire
        .clients
        .ok_or_else(|| err("the header has no `clients` field".into()))?;
    if !(1..=u64::from(MAX_TRACE_CLIENTS)).contains(&clients) {
        return Err(err(format!(
            "`clients` is {clients}, but a trace has 1 to {MAX_TRACE_CLIENTS} clients"
        )));
    }
    let clients = clients as u32;
    let initial_balances = by_id(
        wire.initial_balances
            .ok_or_else(|| err("the header has no `initial_balances` field".into()))?,
        clients,
        "initial_balances",
        1,
    )?;
    // Blocks only move money, so no balance ever exceeds the total: a total that fits in 64
    // bits (as every scenario's and cluster's does) keeps every replay of the tables exact.
    if initial_balances
        .iter()
        .try_fold(0 as Amount, |total, &balance| total.checked_add(balance))
        .is_none()
    {
        return Err(err(format!(
            "the `initial_balances` add up to more than {}, which no run can hold",
            Amount::MAX
        )));
    }
    Ok(TraceHeader {
        scenario: wire.scenario,
        seed: wire.seed,
        clients,
        initial_balances,
        protocol: wire.protocol.unwrap_or_else(|| "lamport".to_string()),
        mutations: wire.mutations.unwrap_or_default(),
        cs_us: wire.cs_us,
        max_events: wire.limits.as_ref().and_then(|limits| limits.max_events),
        max_time_us: wire.limits.as_ref().and_then(|limits| limits.max_time_us),
    })
}

/// A JSON object keyed `"1"` … `"N"` as a vector, index `id - 1`.
fn by_id<T>(
    map: BTreeMap<String, T>,
    clients: u32,
    field: &str,
    line_no: u64,
) -> Result<Vec<T>, ReadError> {
    let mut slots: Vec<Option<T>> = (0..clients).map(|_| None).collect();
    for (key, value) in map {
        let slot = key
            .parse::<u32>()
            .ok()
            .filter(|id| (1..=clients).contains(id))
            .ok_or_else(|| {
                ReadError::at(
                    line_no,
                    format!(
                        "`{field}` has the key {key:?}, but its keys are the client ids \"1\" to \
                         \"{clients}\""
                    ),
                )
            })?;
        slots[slot as usize - 1] = Some(value);
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(slot, value)| {
            value.ok_or_else(|| {
                ReadError::at(
                    line_no,
                    format!("`{field}` has no entry for client {}", slot + 1),
                )
            })
        })
        .collect()
}

/// `None` for a message type this reader does not know.
/// An event line's fields, with what an error about one of them names: the line, the
/// event's kind, the trace's client count and the event's node (once checked).
struct EventFields<'a> {
    wire: &'a WireLine<'a>,
    line_no: u64,
    kind_name: &'a str,
    clients: ClientId,
    node: Option<ClientId>,
}

impl EventFields<'_> {
    fn err(&self, message: String) -> ReadError {
        ReadError::at(self.line_no, message)
    }

    /// `id`, if it is one of the trace's clients; `field` names it in the error.
    fn client(&self, id: ClientId, field: &str) -> Result<ClientId, ReadError> {
        if (1..=self.clients).contains(&id) {
            Ok(id)
        } else {
            Err(self.err(format!(
                "`{field}` is {id}, but the trace has clients 1 to {}",
                self.clients
            )))
        }
    }

    fn need(&self, present: bool, field: &str) -> Result<(), ReadError> {
        if present {
            Ok(())
        } else {
            Err(self.err(format!(
                "the {} event has no `{field}` field",
                self.kind_name
            )))
        }
    }

    fn needs_node(&self) -> Result<ClientId, ReadError> {
        self.node.ok_or_else(|| {
            self.err(format!(
                "the {} event needs a client in `node`, not null",
                self.kind_name
            ))
        })
    }

    /// The event's `block`, which it must have.
    fn block(&self) -> Result<Arc<Block>, ReadError> {
        self.need(self.wire.block.is_some(), "block")?;
        Ok(Arc::new(
            self.wire
                .block
                .clone()
                .map(block_from)
                .unwrap_or_else(empty_block),
        ))
    }
}

/// `fields.wire.NAME`, or the error that the event has no `NAME` field.
macro_rules! field {
    ($fields:expr, $name:ident) => {{
        $fields.need($fields.wire.$name.is_some(), stringify!($name))?;
        $fields.wire.$name.unwrap_or_default()
    }};
}
use field;

/// A `restart` event: what the client kept.
fn restart(fields: &EventFields) -> Result<EventKind, ReadError> {
    let kept = match fields.wire.kept.as_deref() {
        Some("ledger") => Kept::Ledger,
        Some("nothing") => Kept::Nothing,
        Some(other) => {
            return Err(fields.err(format!(
                "`kept` is {other:?}, but a restart keeps \"ledger\" or \"nothing\""
            )));
        }
        None => return Err(fields.err("the restart event has no `kept` field".into())),
    };
    Ok(EventKind::Restart { kept })
}

/// A `partition` or a `heal` event: its groups of clients and its direction.
fn partition_or_heal(fields: &EventFields) -> Result<EventKind, ReadError> {
    fields.need(fields.wire.groups.is_some(), "groups")?;
    let groups = fields.wire.groups.clone().unwrap_or_default();
    for &id in groups.iter().flatten() {
        fields.client(id, "groups")?;
    }
    let direction = match fields.wire.direction.as_deref() {
        None | Some("both") => Direction::Both,
        Some("one_way") => Direction::OneWay,
        Some(other) => {
            return Err(fields.err(format!(
                "`direction` is {other:?}, but a partition cuts \"both\" ways or \"one_way\""
            )));
        }
    };
    if direction == Direction::OneWay && groups.len() < 2 {
        return Err(fields.err("a one-way partition needs at least two groups".into()));
    }
    Ok(if fields.kind_name == "partition" {
        EventKind::Partition { groups, direction }
    } else {
        EventKind::Heal { groups, direction }
    })
}

fn message(wire: &WireMessage, line_no: u64) -> Result<Option<Message>, ReadError> {
    let Some(msg_type) = wire.msg_type.as_deref() else {
        return Err(ReadError::at(line_no, "the message in `msg` has no `type`"));
    };
    let known = ["request", "reply", "release", "update", "updated"];
    if !known.contains(&msg_type) {
        return Ok(None);
    }
    let ts = wire.ts.ok_or_else(|| {
        ReadError::at(
            line_no,
            format!("the {msg_type} message in `msg` has no `ts`"),
        )
    })?;
    let block = wire.block.clone().map(|block| Arc::new(block_from(block)));
    Ok(Some(match msg_type {
        "request" => Message::Request { ts },
        "reply" => Message::Reply { ts },
        "release" => Message::Release {
            ts,
            request_ts: wire.request_ts.ok_or_else(|| {
                ReadError::at(line_no, "the release message in `msg` has no `request_ts`")
            })?,
            block,
        },
        "update" => Message::Update {
            ts,
            block: block.ok_or_else(|| {
                ReadError::at(line_no, "the update message in `msg` has no `block`")
            })?,
        },
        _ => Message::Updated { ts },
    }))
}

fn block_from(wire: WireBlock) -> Block {
    Block::with_hash(
        wire.index,
        wire.prev.0,
        wire.ts,
        wire.from,
        wire.to,
        wire.amount,
        wire.hash.0,
    )
}

fn empty_block() -> Block {
    Block::new(0, [0; 32], 0, 0, 0, 0)
}

/// A hash written as 64 hex digits.
#[derive(Clone, Copy, Debug)]
struct HexHash(Hash);

impl<'de> Deserialize<'de> for HexHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = HexHash;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a hash as 64 hex digits")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<HexHash, E> {
                from_hex(text)
                    .map(HexHash)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// A string borrowed from the line when it has no escapes.
#[derive(Debug)]
struct Str<'a>(Cow<'a, str>);

impl Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(text.to_string())))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Present (possibly null) versus absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The largest block index a trace may hold. A block's index counts the blocks before it, so
/// no run comes near this; the bound keeps `index + 1` (the ledger's length) from overflowing.
pub const MAX_BLOCK_INDEX: u64 = i64::MAX as u64;

/// A block's `index`: a whole number up to [`MAX_BLOCK_INDEX`].
fn block_index<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let index = u64::deserialize(deserializer)?;
    if index > MAX_BLOCK_INDEX {
        return Err(de::Error::custom(format_args!(
            "the block index {index} is too large: an index counts the blocks before it, and \
             is at most {MAX_BLOCK_INDEX}"
        )));
    }
    Ok(index)
}

#[derive(Deserialize)]
struct WireHeader {
    #[serde(rename = "type")]
    line_type: Option<String>,
    format: Option<String>,
    version: Option<u64>,
    scenario: Option<String>,
    seed: Option<u64>,
    clients: Option<u64>,
    initial_balances: Option<BTreeMap<String, Amount>>,
    protocol: Option<String>,
    mutations: Option<Vec<String>>,
    cs_us: Option<u64>,
    limits: Option<WireLimits>,
}

#[derive(Deserialize)]
struct WireLimits {
    max_events: Option<u64>,
    max_time_us: Option<u64>,
}

/// Any line after the header, read as an event (a summary is read again as such).
#[derive(Deserialize)]
struct WireLine<'a> {
    #[serde(rename = "type", borrow)]
    line_type: Option<Str<'a>>,
    seq: Option<u64>,
    t: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    node: Option<Option<ClientId>>,
    #[serde(default, deserialize_with = "present")]
    clock: Option<Option<u64>>,
    #[serde(borrow)]
    kind: Option<Str<'a>>,
    msg_id: Option<u64>,
    to: Option<ClientId>,
    from: Option<ClientId>,
    #[serde(borrow)]
    msg: Option<WireMessage<'a>>,
    amount: Option<Amount>,
    ts: Option<u64>,
    balance: Option<Amount>,
    of: Option<ClientId>,
    value: Option<Amount>,
    block: Option<WireBlock>,
    #[serde(borrow)]
    reason: Option<Str<'a>>,
    #[serde(borrow)]
    invariant: Option<Str<'a>>,
    detail: Option<String>,
    #[serde(borrow)]
    kept: Option<Str<'a>>,
    groups: Option<Vec<Vec<ClientId>>>,
    #[serde(borrow)]
    direction: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct WireMessage<'a> {
    #[serde(rename = "type", borrow)]
    msg_type: Option<Str<'a>>,
    ts: Option<u64>,
    request_ts: Option<u64>,
    block: Option<WireBlock>,
}

#[derive(Clone, Deserialize)]
struct WireBlock {
    #[serde(deserialize_with = "block_index")]
    index: u64,
    prev: HexHash,
    hash: HexHash,
    ts: u64,
    from: ClientId,
    to: ClientId,
    amount: Amount,
}

#[derive(Deserialize)]
struct WireSummary {
    events: Option<u64>,
    committed: Option<u64>,
    aborted: Option<u64>,
    messages_sent: Option<u64>,
    end: Option<String>,
    end_us: Option<u64>,
    violations: Option<Vec<WireClaim>>,
    final_balances: Option<BTreeMap<String, BTreeMap<String, Amount>>>,
    heads: Option<BTreeMap<String, HexHash>>,
    digest: Option<HexHash>,
}

#[derive(Deserialize)]
struct WireClaim {
    invariant: String,
    seq: Option<u64>,
    t: Option<u64>,
    detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"type":"header","format":"lamport-ledger-trace","version":1,"clients":2,"initial_balances":{"1":10,"2":10}}"#;

    /// A trace from lines between header and summary, with a correct digest.
    fn trace(events: &[&str], summary_fields: &str) -> String {
        let mut text = format!("{HEADER}\n");
        for event in events {
            text.push_str(event);
            text.push('\n');
        }
        let digest = crate::protocol::ledger::to_hex(&Sha256::digest(text.as_bytes()).into());
        let zero = "0".repeat(64);
        text.push_str(&format!(
            r#"{{"type":"summary",{summary_fields}"violations":[],"final_balances":{{"1":{{"1":10,"2":10}},"2":{{"1":10,"2":10}}}},"heads":{{"1":"{zero}","2":"{zero}"}},"digest":"{digest}"}}"#
        ));
        text.push('\n');
        text
    }

    fn read_all(text: &str) -> Result<(Vec<Event>, TraceReader<&[u8]>), ReadError> {
        let mut reader = TraceReader::new(text.as_bytes())?;
        let mut events = Vec::new();
        while let Some(event) = reader.next_event()? {
            events.push(event);
        }
        Ok((events, reader))
    }

    fn error(text: &str) -> String {
        match read_all(text) {
            Ok(_) => panic!("the trace was accepted"),
            Err(error) => error.to_string(),
        }
    }

    const SEND: &str = r#"{"type":"event","seq":0,"t":0,"node":1,"clock":1,"kind":"send","msg_id":0,"to":2,"msg":{"type":"request","ts":1}}"#;
    const DELIVER: &str = r#"{"type":"event","seq":1,"t":5,"node":2,"clock":2,"kind":"deliver","msg_id":0,"from":1,"msg":{"type":"request","ts":1},"extra":[1,2]}"#;

    #[test]
    fn a_well_formed_trace_reads_with_unknown_fields_ignored() {
        let text = trace(
            &[SEND, DELIVER],
            r#""events":2,"committed":0,"aborted":0,"messages_sent":1,"end":"quiescent","#,
        );
        let (events, reader) = read_all(&text).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1].kind,
            EventKind::Deliver {
                msg_id: 0,
                from: 1,
                msg: Message::Request { ts: 1 }
            }
        );
        let summary = reader.summary().unwrap();
        assert_eq!(summary.line, 4);
        assert_eq!(summary.end.as_deref(), Some("quiescent"));
        assert_eq!(reader.header().initial_balances, vec![10, 10]);
        assert_eq!(reader.header().protocol, "lamport");
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let text = trace(
            &[SEND, r#"{"type":"event","seq":1,"#],
            r#""events":2,"committed":0,"aborted":0,"#,
        );
        let message = error(&text);
        assert!(
            message.starts_with("line 3, column 24: malformed JSON"),
            "{message}"
        );
    }

    #[test]
    fn a_line_that_is_not_an_object_is_named() {
        let message = error(&trace(
            &["[1,2]"],
            r#""events":1,"committed":0,"aborted":0,"#,
        ));
        assert_eq!(
            message,
            "line 2: the line is not a JSON object, but every line of a trace is one"
        );
    }

    #[test]
    fn a_wrong_typed_field_is_named() {
        let bad = r#"{"type":"event","seq":1,"t":5,"node":2,"clock":2,"kind":"deliver","msg_id":0,"from":1,"msg":{"type":"request","ts":"one"}}"#;
        let message = error(&trace(
            &[SEND, bad],
            r#""events":2,"committed":0,"aborted":0,"#,
        ));
        assert!(message.starts_with("line 3, column"), "{message}");
        assert!(
            message.contains("field `msg.ts`: invalid type: string \"one\""),
            "{message}"
        );
    }

    #[test]
    fn a_missing_field_is_named() {
        let bad = r#"{"type":"event","seq":1,"t":5,"node":2,"clock":2,"kind":"deliver","from":1,"msg":{"type":"request","ts":1}}"#;
        let message = error(&trace(
            &[SEND, bad],
            r#""events":2,"committed":0,"aborted":0,"#,
        ));
        assert_eq!(message, "line 3: the deliver event has no `msg_id` field");
    }

    #[test]
    fn the_header_is_checked() {
        assert_eq!(
            error(""),
            "line 1: the file is empty, but a trace starts with a header line"
        );
        let message = error(&format!("{SEND}\n"));
        assert!(
            message.contains("must start with a header line"),
            "{message}"
        );
        let message = error(&format!(
            "{}\n",
            HEADER.replace("\"version\":1", "\"version\":2")
        ));
        assert!(message.contains("version 2 is not supported"), "{message}");
        let message = error(&format!(
            "{}\n",
            HEADER.replace("lamport-ledger-trace", "other")
        ));
        assert!(
            message.contains("not a lamport-ledger-trace trace"),
            "{message}"
        );
    }

    #[test]
    fn seq_gaps_and_time_going_back_are_caught() {
        let gap = SEND.replace("\"seq\":0", "\"seq\":1");
        let message = error(&trace(&[&gap], r#""events":1,"committed":0,"aborted":0,"#));
        assert!(
            message.starts_with("line 2: `seq` is 1 but 0 was expected"),
            "{message}"
        );
        let early = DELIVER.replace("\"t\":5", "\"t\":0");
        let late_send = SEND.replace("\"t\":0", "\"t\":9");
        let message = error(&trace(
            &[&late_send, &early],
            r#""events":2,"committed":0,"aborted":0,"#,
        ));
        assert!(
            message.starts_with("line 3: `t` is 0 but the event before was at 9"),
            "{message}"
        );
    }

    #[test]
    fn truncation_digest_and_trailing_content_are_caught() {
        let text = trace(&[SEND, DELIVER], r#""events":2,"committed":0,"aborted":0,"#);
        let without_summary: String = text
            .lines()
            .take(3)
            .map(|line| format!("{line}\n"))
            .collect();
        assert_eq!(
            error(&without_summary),
            "line 4: the trace ends after line 3 without a summary line: it is truncated"
        );
        let cut = &text[..text.len() - 10];
        assert!(error(cut).starts_with("line 4: the file ends in the middle of this line"));
        let edited = text.replacen("\"t\":5", "\"t\":6", 1);
        let message = error(&edited);
        assert!(
            message.starts_with("line 4: the summary's digest"),
            "{message}"
        );
        let message = error(&format!("{text}\n"));
        assert_eq!(
            message,
            "line 5: there is more after the summary line, which must be the last line"
        );
    }

    #[test]
    fn summary_counts_must_match() {
        let text = trace(&[SEND, DELIVER], r#""events":3,"committed":0,"aborted":0,"#);
        assert_eq!(
            error(&text),
            "line 4: the summary says `events` is 3, but the trace has 2 event lines"
        );
    }

    #[test]
    fn unknown_kinds_and_message_types_are_skipped_and_counted() {
        let token_send = SEND.replace("\"request\"", "\"token\"");
        let token_deliver = DELIVER.replace("\"request\"", "\"token\"");
        let future =
            r#"{"type":"event","seq":2,"t":6,"node":1,"clock":3,"kind":"checkpoint","what":1}"#;
        let text = trace(
            &[&token_send, &token_deliver, future],
            r#""events":3,"committed":0,"aborted":0,"messages_sent":1,"#,
        );
        let (events, reader) = read_all(&text).unwrap();
        assert!(events.is_empty());
        let skipped: Vec<(&str, u64)> = reader
            .skipped()
            .iter()
            .map(|(kind, count)| (kind.as_str(), *count))
            .collect();
        assert_eq!(
            skipped,
            vec![
                ("\"checkpoint\"", 1),
                ("deliver of a \"token\" message", 1),
                ("send of a \"token\" message", 1)
            ]
        );
    }

    #[test]
    fn out_of_range_clients_are_caught() {
        let bad = SEND.replace("\"to\":2", "\"to\":3");
        let message = error(&trace(&[&bad], r#""events":1,"committed":0,"aborted":0,"#));
        assert_eq!(
            message,
            "line 2: `to` is 3, but the trace has clients 1 to 2"
        );
    }
}
