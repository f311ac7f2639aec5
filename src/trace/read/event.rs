//! Event lines: each kind's fields, checked and turned into an [`EventKind`].

use std::io::BufRead;
use std::sync::Arc;

use serde_json::value::RawValue;

use super::wire::{WireBlock, WireLine, WireMessage};
use super::{ClaimedViolation, Line, Messages, ReadError, TraceReader};
use crate::base::Invariant;
use crate::node::wire::message_from_json;
use crate::protocol::{Block, ClientId, Message};
use crate::trace::{Direction, DropReason, Event, EventKind, Kept};

impl<R: BufRead> TraceReader<R> {
    pub(super) fn event(
        &mut self,
        wire: WireLine,
        bytes: &[u8],
        line_no: u64,
    ) -> Result<Line, ReadError> {
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
            bytes,
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
        let msg = match (self.messages, wire.msg.as_ref()) {
            (Messages::AsWritten, Some(_)) => Some(as_written(fields)?),
            (messages, Some(msg)) => match message(msg, fields.line_no)? {
                // A message no program could have sent (its type is not a program's) is
                // skipped, as in the default reading.
                None if messages == Messages::BuiltInAndForeign => as_written(fields).ok(),
                known => known,
            },
            (_, None) => None,
        };
        match msg {
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
                    "`invariant` is {name:?}, which is not one of the invariant names of \
                     docs/spec.md section 4"
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
}

/// An event line's fields, with what an error about one of them names: the line, the
/// event's kind, the trace's client count and the event's node (once checked).
struct EventFields<'a> {
    wire: &'a WireLine<'a>,
    /// The whole line, for a message read as written.
    bytes: &'a [u8],
    line_no: u64,
    kind_name: &'a str,
    clients: u32,
    node: Option<ClientId>,
}

impl EventFields<'_> {
    fn err(&self, message: String) -> ReadError {
        ReadError::at(self.line_no, message)
    }

    /// `id`, if it is one of the trace's clients; `field` names it in the error.
    fn client(&self, id: ClientId, field: &str) -> Result<ClientId, ReadError> {
        if id.is_among(self.clients) {
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

/// The event's message as a node program's, kept whole as the line holds it.
fn as_written(fields: &EventFields) -> Result<Message, ReadError> {
    #[derive(serde::Deserialize)]
    struct WithMsg<'a> {
        #[serde(borrow)]
        msg: &'a RawValue,
    }
    let line: WithMsg = serde_json::from_slice(fields.bytes)
        .map_err(|error| fields.err(format!("the `msg` cannot be read: {error}")))?;
    message_from_json(line.msg.get())
        .map_err(|error| fields.err(format!("the {} event {error}", fields.kind_name)))
}

/// `None` for a message type this reader does not know.
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
    Block::new(0, [0; 32], 0, ClientId::new(0), ClientId::new(0), 0)
}
