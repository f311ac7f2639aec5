//! Who is in the cluster: node ids, addresses, initial balances, the protocol variant, the
//! critical-section time and the cluster key. Either the built-in default (the original three
//! terminals) or a JSON cluster file, validated with one-sentence errors (see docs/live.md).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::json_message::serde_message;
use crate::node::NodeSpec as ProgramSpec;
use crate::protocol::{Amount, ClientId, Variant};
use crate::scenario::locate::{self, Path as JsonPath};
use crate::scenario::{BoundedReadError, NodeProgram, read_bounded};

/// The environment variable that holds the cluster key; it overrides the cluster file's `key`.
pub const KEY_ENV: &str = "LAMPORT_LEDGER_KEY";
/// The key of the built-in default cluster when `LAMPORT_LEDGER_KEY` is not set. It is public,
/// so it only keeps apart clusters that were not meant to meet; the default cluster listens on
/// loopback only.
pub const DEFAULT_KEY: &str = "lamport-ledger default cluster key (loopback only)";
/// The ports of the default cluster: node `i` listens on `127.0.0.1:(DEFAULT_FIRST_PORT + i - 1)`.
pub const DEFAULT_FIRST_PORT: u16 = 7301;
/// How long a client stays in the critical section unless the cluster file says otherwise:
/// one second, so a person watching the terminals sees the mutex being held.
pub const DEFAULT_CS_US: u64 = 1_000_000;
/// The balance of a node whose entry does not give one, as in the original program.
pub const DEFAULT_BALANCE: Amount = 10;
/// The most nodes a cluster may have (every pair keeps a TCP connection).
pub const MAX_NODES: u32 = 64;
/// The shortest cluster key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 16;
/// The largest cluster file read, in bytes.
pub const MAX_CLUSTER_FILE_BYTES: u64 = 1 << 20;
/// The longest critical section a cluster file may ask for: one hour.
pub const MAX_CS_US: u64 = 3_600_000_000;

/// One node of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    pub id: ClientId,
    /// Where the node listens and where its peers dial it.
    pub address: SocketAddr,
    pub balance: Amount,
}

/// Where the cluster key came from (for messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    ClusterFile,
    BuiltIn,
}

/// A validated cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// Shown in traces and checked in the handshake, so two clusters never mix.
    pub name: String,
    /// Index `id - 1` is node `id`.
    pub nodes: Vec<NodeSpec>,
    pub cs_us: u64,
    pub variant: Variant,
    pub key: Vec<u8>,
    pub key_source: KeySource,
    /// The program that plays every node's client (`node` in the file, or `--node-cmd`);
    /// `None` for the built-in client.
    pub program: Option<ProgramSpec>,
}

impl Cluster {
    pub fn clients(&self) -> u32 {
        self.nodes.len() as u32
    }

    pub fn node(&self, id: ClientId) -> Option<&NodeSpec> {
        id.checked_index().and_then(|slot| self.nodes.get(slot))
    }

    /// Initial balances, index `id - 1`.
    pub fn initial_balances(&self) -> Vec<Amount> {
        self.nodes.iter().map(|node| node.balance).collect()
    }

    /// The peers of `id`, in id order.
    pub fn peers(&self, id: ClientId) -> impl Iterator<Item = ClientId> + '_ {
        ClientId::all(self.clients()).filter(move |&peer| peer != id)
    }
}

/// A cluster file (or node id) that cannot be used, in one sentence.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClusterError(pub String);

/// The built-in cluster: nodes 1, 2 and 3 on 127.0.0.1 ports 7301 to 7303 with 10 each.
/// `env_key` is the value of `LAMPORT_LEDGER_KEY`, if set.
pub fn default_cluster(env_key: Option<String>) -> Result<Cluster, ClusterError> {
    let nodes = (1..=3u16)
        .map(|id| NodeSpec {
            id: ClientId::new(u32::from(id)),
            address: SocketAddr::from(([127, 0, 0, 1], DEFAULT_FIRST_PORT + id - 1)),
            balance: DEFAULT_BALANCE,
        })
        .collect();
    let (key, key_source) = match env_key {
        Some(key) => (checked_key(key, KEY_ENV)?, KeySource::Environment),
        None => (DEFAULT_KEY.as_bytes().to_vec(), KeySource::BuiltIn),
    };
    Ok(Cluster {
        name: "default".into(),
        nodes,
        cs_us: DEFAULT_CS_US,
        variant: Variant::Lamport,
        key,
        key_source,
        program: None,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    name: Option<String>,
    key: Option<String>,
    protocol: Option<String>,
    cs_us: Option<u64>,
    node: Option<NodeProgram>,
    nodes: Vec<NodeFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeFile {
    id: u32,
    address: String,
    balance: Option<Amount>,
}

/// Reads and validates a cluster file.
pub fn load_cluster(path: &Path, env_key: Option<String>) -> Result<Cluster, ClusterError> {
    let shown = path.display().to_string();
    // At most 64 nodes fit in a few KiB; the bound keeps a wrong path such as /dev/zero from
    // filling the memory.
    let text = read_bounded(path, MAX_CLUSTER_FILE_BYTES).map_err(|error| match error {
        BoundedReadError::Io(error) => {
            ClusterError(format!("{shown}: cannot read the cluster file: {error}"))
        }
        too_large => ClusterError(too_large.located(&shown)),
    })?;
    parse_cluster(&text, &shown, env_key)
}

/// Parses and validates the text of a cluster file; `shown` names it in errors.
pub fn parse_cluster(
    text: &str,
    shown: &str,
    env_key: Option<String>,
) -> Result<Cluster, ClusterError> {
    let file = read_cluster_json(text, shown)?;
    let at = Located { text, shown };
    let nodes = checked_nodes(&file.nodes, &at)?;
    let variant = match file.protocol.as_deref() {
        None => Variant::Lamport,
        Some(name) => Variant::ALL
            .into_iter()
            .find(|variant| variant.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Variant::ALL.iter().map(|v| v.name()).collect();
                at.bad(
                    JsonPath::root().at("protocol"),
                    format!(
                        "\"protocol\" is {name:?}, which is not one of {}",
                        names.join(", ")
                    ),
                )
            })?,
    };
    let cs_us = file.cs_us.unwrap_or(DEFAULT_CS_US);
    if cs_us > MAX_CS_US {
        return Err(at.bad(
            JsonPath::root().at("cs_us"),
            format!(
                "\"cs_us\" is {cs_us}, but a critical section lasts at most {MAX_CS_US} microseconds \
             (one hour)"
            ),
        ));
    }
    let (key, key_source) = match (env_key, file.key) {
        (Some(key), _) => (checked_key(key, KEY_ENV)?, KeySource::Environment),
        (None, Some(key)) => (
            checked_key(
                key,
                &format!("{}: \"key\"", at.place(JsonPath::root().at("key"))),
            )?,
            KeySource::ClusterFile,
        ),
        (None, None) => {
            return Err(ClusterError(format!(
                "{shown}: there is no \"key\" and {KEY_ENV} is not set, but every node needs the \
                 same cluster key to authenticate its frames"
            )));
        }
    };
    let name = file.name.unwrap_or_else(|| {
        Path::new(shown).file_stem().map_or_else(
            || "cluster".into(),
            |stem| stem.to_string_lossy().into_owned(),
        )
    });
    if name.is_empty() || name.len() > 100 {
        return Err(at.bad(
            JsonPath::root().at("name"),
            "\"name\" must have 1 to 100 characters (it is checked when nodes meet)".into(),
        ));
    }
    let program = file
        .node
        .map(|program| checked_program(program, &at))
        .transpose()?;
    Ok(Cluster {
        name,
        nodes,
        cs_us,
        variant,
        key,
        key_source,
        program,
    })
}

/// The longest per-step deadline of a client program, in milliseconds: one hour.
const MAX_STEP_TIMEOUT_MS: u64 = 3_600_000;

/// The file's `node` key: a command, and a per-step deadline of 1 ms to one hour.
fn checked_program(program: NodeProgram, at: &Located) -> Result<ProgramSpec, ClusterError> {
    if program.cmd.trim().is_empty() {
        return Err(at.bad(
            JsonPath::root().at("node").at("cmd"),
            "\"node.cmd\" is empty: it names the program that plays every client, such as \
             \"python3 examples/python/lamport_client.py\""
                .into(),
        ));
    }
    if !(1..=MAX_STEP_TIMEOUT_MS).contains(&program.step_timeout_ms) {
        return Err(at.bad(
            JsonPath::root().at("node").at("step_timeout_ms"),
            format!(
                "\"node.step_timeout_ms\" is {}, but a step's deadline is 1 to \
                 {MAX_STEP_TIMEOUT_MS} milliseconds",
                program.step_timeout_ms
            ),
        ));
    }
    Ok(ProgramSpec {
        cmd: program.cmd,
        step_timeout: Duration::from_millis(program.step_timeout_ms),
    })
}

/// The cluster file's JSON, or its first error worded as the scenario reader words one: the
/// place, the field, a "did you mean" for a misspelt name.
fn read_cluster_json(text: &str, shown: &str) -> Result<ClusterFile, ClusterError> {
    // serde would also read a struct from a list (`[1, 2]`: "expected a string (at [0])").
    let start = text.len() - text.trim_start().len();
    if !text[start..].starts_with('{') && !text[start..].is_empty() {
        let (line, column) = locate::line_column(text, start);
        return Err(ClusterError(format!(
            "{shown}:{line}:{column}: a cluster file holds one JSON object {{...}} \
             with \"nodes\" and its other fields"
        )));
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let file: ClusterFile =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let inner = error.inner();
            let message = serde_message(inner);
            let path = error.path().to_string();
            let field = if matches!(path.as_str(), "" | "." | "?") {
                String::new()
            } else {
                format!("{path}: ")
            };
            ClusterError(format!(
                "{shown}:{}:{}: {field}{message}",
                inner.line(),
                inner.column()
            ))
        })?;
    deserializer
        .end()
        .map_err(|error| ClusterError(format!("{shown}: {error}")))?;
    Ok(file)
}

/// The cluster file's text and name, to word a rule broken by one value with the line and
/// column where the value is.
struct Located<'a> {
    text: &'a str,
    shown: &'a str,
}

impl Located<'_> {
    /// `FILE:LINE:COLUMN`, where the value at `path` is.
    fn place(&self, path: JsonPath) -> String {
        let (line, column) = locate::find_value(self.text, &path)
            .map_or((1, 1), |offset| locate::line_column(self.text, offset));
        format!("{}:{line}:{column}", self.shown)
    }

    fn bad(&self, path: JsonPath, message: String) -> ClusterError {
        ClusterError(format!("{}: {message}", self.place(path)))
    }
}

/// The nodes, by id: 2 to `MAX_NODES` of them, ids 1 to N each once, each with its own
/// address and a port to dial, balances that add up to an amount.
fn checked_nodes(listed: &[NodeFile], at: &Located) -> Result<Vec<NodeSpec>, ClusterError> {
    let node_field = |place: usize, field: &str| JsonPath::root().at("nodes").at(place).at(field);
    let count = listed.len();
    if count < 2 {
        return Err(at.bad(
            JsonPath::root().at("nodes"),
            format!("a cluster needs at least 2 nodes in \"nodes\", but it lists {count}"),
        ));
    }
    if count > MAX_NODES as usize {
        return Err(at.bad(
            JsonPath::root().at("nodes"),
            format!("a cluster has at most {MAX_NODES} nodes, but \"nodes\" lists {count}"),
        ));
    }
    let mut slots: Vec<Option<NodeSpec>> = vec![None; count];
    for (place, node) in listed.iter().enumerate() {
        let field = format!("nodes[{place}]");
        if node.id == 0 || node.id as usize > count {
            return Err(at.bad(
                node_field(place, "id"),
                format!(
                    "{field}.id is {}, but with {count} nodes the ids are 1 to {count}",
                    node.id
                ),
            ));
        }
        let address: SocketAddr = node.address.parse().map_err(|_| {
            at.bad(
                node_field(place, "address"),
                format!(
                    "{field}.address {:?} is not an IP address with a port, like \
                     \"127.0.0.1:7301\"",
                    node.address
                ),
            )
        })?;
        if address.port() == 0 {
            return Err(at.bad(
                node_field(place, "address"),
                format!(
                    "{field}.address {:?} has port 0, but peers need a fixed port to dial",
                    node.address
                ),
            ));
        }
        let slot = &mut slots[ClientId::new(node.id).index()];
        if slot.is_some() {
            return Err(at.bad(
                node_field(place, "id"),
                format!(
                    "{field}.id is {}, which an earlier node already has: every id appears once",
                    node.id
                ),
            ));
        }
        *slot = Some(NodeSpec {
            id: ClientId::new(node.id),
            address,
            balance: node.balance.unwrap_or(DEFAULT_BALANCE),
        });
    }
    // Every slot is filled: `count` ids, each in 1..=count, none twice.
    let nodes: Vec<NodeSpec> = slots.into_iter().flatten().collect();
    for (slot, node) in nodes.iter().enumerate() {
        if let Some(other) = nodes[..slot].iter().find(|n| n.address == node.address) {
            let place = listed
                .iter()
                .position(|n| n.id == node.id.get())
                .unwrap_or(0);
            return Err(at.bad(
                node_field(place, "address"),
                format!(
                    "nodes {} and {} both have address {}: every node needs its own",
                    other.id, node.id, node.address
                ),
            ));
        }
    }
    let total = nodes
        .iter()
        .try_fold(0u64, |sum, node| sum.checked_add(node.balance));
    if total.is_none() {
        return Err(at.bad(
            JsonPath::root().at("nodes"),
            "the balances add up to more than 18446744073709551615, the largest amount".into(),
        ));
    }
    Ok(nodes)
}

fn checked_key(key: String, origin: &str) -> Result<Vec<u8>, ClusterError> {
    if key.len() < MIN_KEY_BYTES {
        return Err(ClusterError(format!(
            "{origin} is {} bytes long, but a cluster key needs at least {MIN_KEY_BYTES}",
            key.len()
        )));
    }
    Ok(key.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
        "name": "classroom",
        "key": "a key of sixteen or more bytes",
        "protocol": "lamport",
        "cs_us": 20000,
        "nodes": [
            {"id": 2, "address": "127.0.0.1:7402", "balance": 5},
            {"id": 1, "address": "127.0.0.1:7401"}
        ]
    }"#;

    fn error(text: &str) -> String {
        parse_cluster(text, "c.json", None).unwrap_err().0
    }

    #[test]
    fn a_good_file_is_read_in_id_order_with_defaults() {
        let cluster = parse_cluster(GOOD, "c.json", None).unwrap();
        assert_eq!(cluster.name, "classroom");
        assert_eq!(cluster.initial_balances(), vec![10, 5]);
        assert_eq!(cluster.nodes[0].address.port(), 7401);
        assert_eq!(cluster.cs_us, 20000);
        assert_eq!(cluster.key_source, KeySource::ClusterFile);
        let env = parse_cluster(GOOD, "c.json", Some("another key, long enough".into())).unwrap();
        assert_eq!(env.key, b"another key, long enough");
        assert_eq!(env.key_source, KeySource::Environment);
        assert_eq!(cluster.program, None);
    }

    #[test]
    fn the_node_key_names_the_program_and_its_step_deadline() {
        let with = |node: &str| GOOD.replace("\"cs_us\": 20000,", &format!("\"node\": {node},"));
        let cluster = parse_cluster(&with(r#"{"cmd": "python3 c.py"}"#), "c.json", None).unwrap();
        let program = cluster.program.unwrap();
        assert_eq!(program.cmd, "python3 c.py");
        assert_eq!(program.step_timeout, Duration::from_secs(10));
        let timed = parse_cluster(
            &with(r#"{"cmd": "c", "step_timeout_ms": 250}"#),
            "c.json",
            None,
        )
        .unwrap();
        assert_eq!(
            timed.program.unwrap().step_timeout,
            Duration::from_millis(250)
        );
        assert!(error(&with(r#"{"cmd": " "}"#)).contains("\"node.cmd\" is empty"));
        let zero = error(&with(r#"{"cmd": "c", "step_timeout_ms": 0}"#));
        assert!(zero.starts_with("c.json:5:"), "{zero}");
        assert!(
            zero.contains("is 0, but a step's deadline is 1 to 3600000"),
            "{zero}"
        );
        assert!(error(&with(r#"{"command": "c"}"#)).contains("unknown field `command`"));
    }

    #[test]
    fn the_default_cluster_is_the_three_terminals() {
        let cluster = default_cluster(None).unwrap();
        assert_eq!(cluster.initial_balances(), vec![10, 10, 10]);
        assert_eq!(cluster.nodes[2].address.to_string(), "127.0.0.1:7303");
        assert!(cluster.nodes.iter().all(|n| n.address.ip().is_loopback()));
    }

    #[test]
    fn mistakes_are_one_sentence_with_a_place() {
        let typo = error(r#"{"key": "0123456789abcdef", "nodes": [{"id": 1, "adress": "x"}]}"#);
        assert!(typo.starts_with("c.json:1:"), "{typo}");
        assert!(
            typo.contains("nodes[0].adress: unknown field `adress` (did you mean `address`?)"),
            "{typo}"
        );
        let twice = GOOD.replace("\"id\": 1", "\"id\": 2");
        assert!(error(&twice).contains("nodes[1].id is 2, which an earlier node already has"));
        let range = GOOD.replace("\"id\": 1", "\"id\": 7");
        assert!(error(&range).contains("the ids are 1 to 2"));
        let address = GOOD.replace("127.0.0.1:7401", "localhost");
        assert!(error(&address).contains("is not an IP address with a port"));
        let same = GOOD.replace("7402", "7401");
        assert!(error(&same).contains("both have address"));
        let protocol = GOOD.replace("\"lamport\"", "\"paxos\"");
        assert!(error(&protocol).contains("not one of lamport, lamport-reply-count"));
        let short = GOOD.replace("a key of sixteen or more bytes", "short");
        assert!(error(&short).contains("needs at least 16"));
        let keyless = GOOD.replace("\"key\": \"a key of sixteen or more bytes\",", "");
        assert!(error(&keyless).contains("there is no \"key\" and LAMPORT_LEDGER_KEY"));
        assert!(error("{").starts_with("c.json:1:1: EOF"));
    }

    #[test]
    fn a_file_too_large_for_a_cluster_is_refused_after_reading_at_most_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        let padding = " ".repeat(MAX_CLUSTER_FILE_BYTES as usize);
        std::fs::write(&path, format!("{padding}{GOOD}")).unwrap();
        let refused = load_cluster(&path, None).unwrap_err().0;
        assert!(refused.ends_with("the file is larger than 1 MiB, the most such a file may be"));
        std::fs::write(&path, GOOD).unwrap();
        assert!(load_cluster(&path, None).is_ok());
    }

    #[test]
    fn a_broken_rule_names_the_line_and_column_of_its_value() {
        // GOOD's node with id 1 is on line 8: its id at column 20, its address at column 34.
        let range = GOOD.replace("\"id\": 1", "\"id\": 7");
        assert!(
            error(&range).starts_with("c.json:8:20: nodes[1].id is 7"),
            "{}",
            error(&range)
        );
        let address = GOOD.replace("127.0.0.1:7401", "localhost");
        assert!(error(&address).starts_with("c.json:8:34: nodes[1].address"));
        let same = GOOD.replace("7402", "7401");
        assert!(error(&same).starts_with("c.json:7:34: nodes 1 and 2 both"));
        let protocol = GOOD.replace("\"lamport\"", "\"paxos\"");
        assert!(error(&protocol).starts_with("c.json:4:21: \"protocol\""));
        let short = GOOD.replace("a key of sixteen or more bytes", "short");
        assert!(error(&short).starts_with("c.json:3:16: \"key\" is 5 bytes"));
        let list = error("\n  [1, 2]");
        assert!(
            list.starts_with("c.json:2:3: a cluster file holds one JSON object"),
            "{list}"
        );
    }
}
