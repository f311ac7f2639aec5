//! The lines between the simulator and a node in another program (docs/nodes.md): the inputs
//! it writes, one JSON object a line, and the effect lines it reads back up to `done`.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::protocol::ledger::{from_hex, to_hex};
use crate::protocol::{Amount, Block, ClientId, Command, ForeignMessage, Message, Timestamp};

/// The most distinct message `type`s a run may use: each name is kept for the whole process.
const MAX_MESSAGE_TYPES: usize = 64;
/// The longest message `type`.
const MAX_TYPE_LEN: usize = 32;

/// What a node starts with: its id, the number of clients, the initial balances, the time in
/// the critical section and the ledger it keeps (empty unless a restart kept it).
pub struct Init<'a> {
    pub id: ClientId,
    pub clients: u32,
    pub initial_balances: &'a [Amount],
    pub cs_us: u64,
    pub ledger: &'a [Arc<Block>],
}

/// The `init` line.
pub fn init_line(init: &Init<'_>) -> String {
    let mut line = format!(
        "{{\"type\":\"init\",\"id\":{},\"clients\":{},\"initial_balances\":[",
        init.id, init.clients
    );
    let balances: Vec<String> = init.initial_balances.iter().map(u64::to_string).collect();
    line.push_str(&balances.join(","));
    let _ = write!(line, "],\"cs_us\":{},\"ledger\":[", init.cs_us);
    for (at, block) in init.ledger.iter().enumerate() {
        if at > 0 {
            line.push(',');
        }
        push_block(&mut line, block);
    }
    line.push_str("]}\n");
    line
}

/// The `command` line of a transfer or a balance read.
pub fn command_line(command: &Command) -> String {
    match *command {
        Command::Transfer { to, amount } => format!(
            "{{\"type\":\"command\",\"command\":\"transfer\",\"to\":{to},\"amount\":{amount}}}\n"
        ),
        Command::ReadBalance { of } => {
            format!("{{\"type\":\"command\",\"command\":\"balance\",\"of\":{of}}}\n")
        }
    }
}

/// The `message` line of a message from `from`: the sender's object as it sent it.
pub fn message_line(from: ClientId, msg: &Message) -> Option<String> {
    let Message::Foreign(foreign) = msg else {
        return None;
    };
    Some(format!(
        "{{\"type\":\"message\",\"from\":{from},\"msg\":{}}}\n",
        foreign.json
    ))
}

/// The `timer` line: the timer a node armed has fired.
pub const TIMER_LINE: &str = "{\"type\":\"timer\"}\n";

fn push_block(line: &mut String, block: &Block) {
    let _ = write!(
        line,
        "{{\"index\":{},\"prev\":\"{}\",\"hash\":\"{}\",\"ts\":{},\"from\":{},\"to\":{},\"amount\":{}}}",
        block.index(),
        to_hex(&block.prev()),
        to_hex(&block.hash_value()),
        block.ts(),
        block.from(),
        block.to(),
        block.amount()
    );
}

/// One effect a node reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Send {
        to: ClientId,
        msg: Message,
    },
    Request {
        ts: Timestamp,
    },
    Enter {
        ts: Timestamp,
    },
    Commit {
        block: Block,
    },
    Abort {
        ts: Timestamp,
        amount: Amount,
        balance: Amount,
    },
    Exit {
        ts: Timestamp,
    },
    Apply {
        block: Block,
    },
    Reject {
        from: ClientId,
        block: Block,
        reason: String,
    },
    Balance {
        of: ClientId,
        value: Amount,
    },
    SetTimer {
        after_us: u64,
    },
}

/// A line the node wrote: an effect at a clock, or the end of the step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    Effect { clock: Timestamp, effect: Effect },
    Done { clock: Timestamp },
}

/// Reads one line a node wrote; the error completes "the line …".
pub fn parse_line(text: &str, clients: u32) -> Result<Line, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|error| format!("is not JSON ({error})"))?;
    let Value::Object(object) = value else {
        return Err("is not a JSON object".into());
    };
    let fields = Fields(&object);
    let kind = fields.string("type")?;
    let clock = fields.int("clock")?;
    if kind == "done" {
        return Ok(Line::Done { clock });
    }
    let effect = match kind {
        "send" => Effect::Send {
            to: fields.client("to", clients)?,
            msg: foreign_message(fields.get("msg")?, raw_msg(text)?)?,
        },
        "request" => Effect::Request {
            ts: fields.int("ts")?,
        },
        "enter" => Effect::Enter {
            ts: fields.int("ts")?,
        },
        "exit" => Effect::Exit {
            ts: fields.int("ts")?,
        },
        "commit" => Effect::Commit {
            block: block(fields.get("block")?, clients)?,
        },
        "apply" => Effect::Apply {
            block: block(fields.get("block")?, clients)?,
        },
        "abort" => Effect::Abort {
            ts: fields.int("ts")?,
            amount: fields.int("amount")?,
            balance: fields.int("balance")?,
        },
        "reject" => Effect::Reject {
            from: fields.client("from", clients)?,
            block: block(fields.get("block")?, clients)?,
            reason: fields.string("reason")?.to_string(),
        },
        "balance" => Effect::Balance {
            of: fields.client("of", clients)?,
            value: fields.int("value")?,
        },
        "set_timer" => Effect::SetTimer {
            after_us: fields.int("after_us")?,
        },
        other => return Err(format!("has an unknown type {other:?}")),
    };
    Ok(Line::Effect { clock, effect })
}

/// The `msg` of a send line as the node wrote it.
fn raw_msg(text: &str) -> Result<&str, String> {
    #[derive(serde::Deserialize)]
    struct SendLine<'a> {
        #[serde(borrow)]
        msg: &'a RawValue,
    }
    serde_json::from_str::<SendLine<'_>>(text)
        .map(|line| line.msg.get())
        .map_err(|error| format!("is not JSON ({error})"))
}

/// A message as its JSON text (`msg` of a send line or of a trace event), kept whole as a
/// node's message; the error completes "the line has a msg that …" or "… is not JSON".
pub fn message_from_json(raw: &str) -> Result<Message, String> {
    let value: Value =
        serde_json::from_str(raw).map_err(|error| format!("is not JSON ({error})"))?;
    foreign_message(&value, raw)
}

/// A node's message: a JSON object with a string `type` and an integer `ts`, kept whole and
/// as written (`raw`), so that a trace shows the node's own bytes.
fn foreign_message(value: &Value, raw: &str) -> Result<Message, String> {
    let Value::Object(object) = value else {
        return Err("has a msg that is not a JSON object".into());
    };
    let fields = Fields(object);
    let ts = fields
        .int("ts")
        .map_err(|error| format!("has a msg that {error}"))?;
    let kind = fields
        .string("type")
        .map_err(|error| format!("has a msg that {error}"))?;
    let kind = intern_type(kind)?;
    Ok(Message::Foreign(Arc::new(ForeignMessage {
        ts,
        kind,
        json: raw.into(),
    })))
}

/// A block as docs/spec.md section 2 writes it; its hash is checked by the ledger it joins.
fn block(value: &Value, clients: u32) -> Result<Block, String> {
    let Value::Object(object) = value else {
        return Err("has a block that is not a JSON object".into());
    };
    let fields = Fields(object);
    let hash = |name: &str| {
        from_hex(fields.string(name)?)
            .ok_or_else(|| format!("has a block whose {name} is not 64 lowercase hex digits"))
    };
    Ok(Block::with_hash(
        fields.int("index")?,
        hash("prev")?,
        fields.int("ts")?,
        fields.client("from", clients)?,
        fields.client("to", clients)?,
        fields.int("amount")?,
        hash("hash")?,
    ))
}

/// The fields of one JSON object, each read with an error that names it.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn get(&self, name: &str) -> Result<&Value, String> {
        self.0.get(name).ok_or_else(|| format!("has no {name:?}"))
    }

    fn int(&self, name: &str) -> Result<u64, String> {
        self.get(name)?
            .as_u64()
            .ok_or_else(|| format!("has a {name:?} that is not an unsigned integer"))
    }

    fn string(&self, name: &str) -> Result<&str, String> {
        self.get(name)?
            .as_str()
            .ok_or_else(|| format!("has a {name:?} that is not a string"))
    }

    fn client(&self, name: &str, clients: u32) -> Result<ClientId, String> {
        let id = self.int(name)?;
        u32::try_from(id)
            .ok()
            .map(ClientId::new)
            .filter(|id| id.is_among(clients))
            .ok_or_else(|| format!("names client {id} in {name:?}, which does not exist (clients are 1 to {clients})"))
    }
}

/// The message type names seen so far, each kept once for the life of the process so that a
/// message names its type without an allocation of its own.
static MESSAGE_TYPES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

fn intern_type(kind: &str) -> Result<&'static str, String> {
    let valid = !kind.is_empty()
        && kind.len() <= MAX_TYPE_LEN
        && kind
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
    if !valid {
        return Err(format!(
            "has a msg type {kind:?}: a type is 1 to {MAX_TYPE_LEN} lowercase letters, digits or underscores"
        ));
    }
    let mut known = MESSAGE_TYPES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(name) = known.iter().find(|name| **name == kind) {
        return Ok(name);
    }
    if known.len() >= MAX_MESSAGE_TYPES {
        return Err(format!(
            "has a msg type {kind:?} beyond the {MAX_MESSAGE_TYPES} distinct types a run may use"
        ));
    }
    let name: &'static str = Box::leak(kind.to_string().into_boxed_str());
    known.push(name);
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_keeps_the_message_whole() {
        let line = r#"{"type":"send","clock":3,"to":2,"msg":{"type":"request","ts":3,"x":[1]}}"#;
        let Line::Effect {
            clock: 3,
            effect: Effect::Send { to, msg },
        } = parse_line(line, 3).unwrap()
        else {
            panic!("not a send");
        };
        assert_eq!(to, ClientId::new(2));
        assert_eq!(msg.ts(), 3);
        assert_eq!(msg.type_name(), "request");
        let Message::Foreign(foreign) = &msg else {
            panic!("not foreign")
        };
        assert_eq!(&*foreign.json, r#"{"type":"request","ts":3,"x":[1]}"#);
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let error = |line: &str| parse_line(line, 3).unwrap_err();
        assert!(error("nope").starts_with("is not JSON"));
        assert_eq!(error("[1]"), "is not a JSON object");
        assert_eq!(error(r#"{"type":"done"}"#), "has no \"clock\"");
        assert!(error(r#"{"type":"send","clock":1,"to":9,"msg":{}}"#).contains("client 9"));
        assert_eq!(
            error(r#"{"type":"send","clock":1,"to":2,"msg":{"type":"x"}}"#),
            "has a msg that has no \"ts\""
        );
        assert!(error(r#"{"type":"fly","clock":1}"#).contains("unknown type"));
    }

    #[test]
    fn the_init_line_carries_the_kept_ledger() {
        let block = Arc::new(Block::new(
            0,
            crate::protocol::GENESIS_PREV,
            1,
            ClientId::new(1),
            ClientId::new(2),
            3,
        ));
        let line = init_line(&Init {
            id: ClientId::new(2),
            clients: 2,
            initial_balances: &[10, 10],
            cs_us: 1000,
            ledger: &[block],
        });
        assert_eq!(
            line,
            "{\"type\":\"init\",\"id\":2,\"clients\":2,\"initial_balances\":[10,10],\"cs_us\":1000,\
             \"ledger\":[{\"index\":0,\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\
             \"hash\":\"4ee7f3f9c7a92a3c0c7d53bc48e6bd2533261e359eef1275a44cf7be8157391c\",\
             \"ts\":1,\"from\":1,\"to\":2,\"amount\":3}]}\n"
        );
    }
}
