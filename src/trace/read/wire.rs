//! The lines as serde reads them, before any rule of the format is checked, and the parsing
//! that words serde's errors with the line and the field.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::error::Category;

use super::ReadError;
use crate::json_message::bare_message;
use crate::protocol::ledger::from_hex;
use crate::protocol::{Amount, ClientId, Hash};

/// Parses one line, turning serde's error into a located sentence.
pub(super) fn parse<'de, T: Deserialize<'de>>(
    bytes: &'de [u8],
    line_no: u64,
) -> Result<T, ReadError> {
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

/// A JSON object keyed `"1"` … `"N"` as a vector, index `id - 1`.
pub(super) fn by_id<T>(
    map: BTreeMap<String, T>,
    clients: u32,
    field: &str,
    line_no: u64,
) -> Result<Vec<T>, ReadError> {
    let mut slots: Vec<Option<T>> = (0..clients).map(|_| None).collect();
    for (key, value) in map {
        let id = key
            .parse::<u32>()
            .ok()
            .map(ClientId::new)
            .filter(|id| id.is_among(clients))
            .ok_or_else(|| {
                ReadError::at(
                    line_no,
                    format!(
                        "`{field}` has the key {key:?}, but its keys are the client ids \"1\" to \
                         \"{clients}\""
                    ),
                )
            })?;
        slots[id.index()] = Some(value);
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

/// A hash written as 64 hex digits.
#[derive(Clone, Copy, Debug)]
pub(super) struct HexHash(pub(super) Hash);

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
pub(super) struct Str<'a>(Cow<'a, str>);

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
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The largest block index a trace may hold. A block's index counts the blocks before it, so
/// no run comes near this; the bound keeps `index + 1` (the ledger's length) from overflowing.
pub const MAX_BLOCK_INDEX: u64 = i64::MAX as u64;

/// A block's `index`: a whole number up to [`MAX_BLOCK_INDEX`].
pub(super) fn block_index<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
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
pub(super) struct WireHeader {
    #[serde(rename = "type")]
    pub(super) line_type: Option<String>,
    pub(super) format: Option<String>,
    pub(super) version: Option<u64>,
    pub(super) scenario: Option<String>,
    pub(super) seed: Option<u64>,
    pub(super) clients: Option<u64>,
    pub(super) initial_balances: Option<BTreeMap<String, Amount>>,
    pub(super) protocol: Option<String>,
    pub(super) mutations: Option<Vec<String>>,
    pub(super) cs_us: Option<u64>,
    pub(super) limits: Option<WireLimits>,
    /// Only whether it is there matters: a live node's trace has it.
    pub(super) live: Option<serde::de::IgnoredAny>,
    pub(super) faults: Option<WireFaults>,
}

/// The header's `faults`: only the crashes are read.
#[derive(Deserialize)]
pub(super) struct WireFaults {
    pub(super) crashes: Option<Vec<WireCrash>>,
}

#[derive(Deserialize)]
pub(super) struct WireCrash {
    pub(super) client: Option<u64>,
    pub(super) at_us: Option<u64>,
    pub(super) restart_us: Option<u64>,
    pub(super) keep: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireLimits {
    pub(super) max_events: Option<u64>,
    pub(super) max_time_us: Option<u64>,
}

/// Any line after the header, read as an event (a summary is read again as such).
#[derive(Deserialize)]
pub(super) struct WireLine<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) line_type: Option<Str<'a>>,
    pub(super) seq: Option<u64>,
    pub(super) t: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    pub(super) node: Option<Option<ClientId>>,
    #[serde(default, deserialize_with = "present")]
    pub(super) clock: Option<Option<u64>>,
    #[serde(borrow)]
    pub(super) kind: Option<Str<'a>>,
    pub(super) msg_id: Option<u64>,
    pub(super) to: Option<ClientId>,
    pub(super) from: Option<ClientId>,
    #[serde(borrow)]
    pub(super) msg: Option<WireMessage<'a>>,
    pub(super) amount: Option<Amount>,
    pub(super) ts: Option<u64>,
    pub(super) balance: Option<Amount>,
    pub(super) of: Option<ClientId>,
    pub(super) value: Option<Amount>,
    pub(super) block: Option<WireBlock>,
    #[serde(borrow)]
    pub(super) reason: Option<Str<'a>>,
    #[serde(borrow)]
    pub(super) invariant: Option<Str<'a>>,
    pub(super) detail: Option<String>,
    #[serde(borrow)]
    pub(super) kept: Option<Str<'a>>,
    pub(super) groups: Option<Vec<Vec<ClientId>>>,
    #[serde(borrow)]
    pub(super) direction: Option<Str<'a>>,
}

#[derive(Deserialize)]
pub(super) struct WireMessage<'a> {
    #[serde(rename = "type", borrow)]
    pub(super) msg_type: Option<Str<'a>>,
    pub(super) ts: Option<u64>,
    pub(super) request_ts: Option<u64>,
    pub(super) block: Option<WireBlock>,
}

#[derive(Clone, Deserialize)]
pub(super) struct WireBlock {
    #[serde(deserialize_with = "block_index")]
    pub(super) index: u64,
    pub(super) prev: HexHash,
    pub(super) hash: HexHash,
    pub(super) ts: u64,
    pub(super) from: ClientId,
    pub(super) to: ClientId,
    pub(super) amount: Amount,
}

#[derive(Deserialize)]
pub(super) struct WireSummary {
    pub(super) events: Option<u64>,
    pub(super) committed: Option<u64>,
    pub(super) aborted: Option<u64>,
    pub(super) messages_sent: Option<u64>,
    pub(super) end: Option<String>,
    pub(super) end_us: Option<u64>,
    pub(super) violations: Option<Vec<WireClaim>>,
    pub(super) final_balances: Option<BTreeMap<String, BTreeMap<String, Amount>>>,
    pub(super) heads: Option<BTreeMap<String, HexHash>>,
    pub(super) digest: Option<HexHash>,
}

#[derive(Deserialize)]
pub(super) struct WireClaim {
    pub(super) invariant: String,
    pub(super) seq: Option<u64>,
    pub(super) t: Option<u64>,
    pub(super) detail: Option<String>,
}
