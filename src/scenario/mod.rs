//! Scenario files: the JSON format (docs/spec.md section 7 fixes its core keys), its
//! validation with located errors, and the built-in default scenario.
//!
//! Two layers: [`ScenarioFile`] mirrors the JSON as written (serde, unknown fields rejected);
//! [`Scenario`] is the validated form the simulator runs, with defaults filled in and every
//! cross-field rule checked.

mod memory;
mod network;
mod read;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::base::Invariant;
use crate::protocol::{self, Amount, ClientId, Mutations, Variant};

pub use memory::{DEFAULT_MAX_MEMORY_MIB, MAX_MEMORY_MIB, MemoryBudgetExceeded, MemoryEstimate};
pub use network::{EXPONENTIAL_CAP_MEANS, LinkSettings, Partition};
pub(crate) use read::{BoundedReadError, MAX_SCENARIO_BYTES, read_bounded};
/// Finds where a value sits in a JSON text by its path, for errors that name line and column.
pub(crate) use validate::locate;
pub use validate::{MAX_CLIENTS, ScenarioError, parse_scenario};
pub(crate) use validate::{TRACE_NOT_SCENARIO, is_trace};

/// The built-in default scenario: the original program's setting.
pub const DEFAULT_SCENARIO_JSON: &str = include_str!("../../scenarios/default.json");
/// The name under which the built-in default is reported.
pub const DEFAULT_SCENARIO_SOURCE: &str = "scenarios/default.json";

/// Loads the built-in default scenario.
pub fn default_scenario() -> Scenario {
    parse_scenario(DEFAULT_SCENARIO_JSON, DEFAULT_SCENARIO_SOURCE)
        .expect("the built-in default scenario is valid (a test checks it)")
}

// ---------------------------------------------------------------------------------------------
// The file as written.

/// A scenario file as written. Unknown fields are errors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// The scenario's name.
    pub name: String,
    /// What a reader should look at.
    #[serde(default)]
    pub description: String,
    /// The seed of every random draw.
    #[serde(default)]
    pub seed: u64,
    /// N: the clients are `1..=N`.
    pub clients: u32,
    /// Client id (as a string key, JSON objects have no integer keys) -> initial balance.
    /// Missing ids start with [`DEFAULT_BALANCE`].
    #[serde(default)]
    pub initial_balances: Option<BTreeMap<String, Amount>>,
    /// How messages travel.
    #[serde(default)]
    pub network: NetworkSpec,
    /// The transfers and balance reads.
    #[serde(default)]
    pub workload: WorkloadSpec,
    /// Partitions and crashes.
    #[serde(default)]
    pub faults: FaultsSpec,
    /// Message fates pinned one by one (what `shrink` writes), overriding the network model.
    #[serde(default, skip_serializing_if = "ScheduleSpec::is_empty")]
    pub schedule: ScheduleSpec,
    /// Bounds for swarm testing (`sweep --swarm`): each seed draws its own configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<SwarmSpec>,
    /// How long a client stays in the critical section, in microseconds.
    #[serde(default = "default_cs_us")]
    pub cs_us: u64,
    /// The protocol every client runs.
    #[serde(default)]
    pub protocol: ProtocolVariant,
    /// Deliberate bugs to apply to the protocol.
    #[serde(default)]
    pub mutations: Vec<Mutation>,
    /// What the run is expected to show.
    #[serde(default)]
    pub expect: Option<Expect>,
    /// Bounds that make the run finish.
    #[serde(default)]
    pub limits: Limits,
    /// Every client played by a program of its own, over JSON Lines (docs/nodes.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeProgram>,
}

/// The program that plays every client (docs/nodes.md): one process per client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeProgram {
    /// The command, run by `sh -c` once per client.
    pub cmd: String,
    /// How long one step may take in real time, in milliseconds.
    #[serde(default = "default_step_timeout_ms")]
    pub step_timeout_ms: u64,
}

/// A node's per-step deadline unless the scenario says otherwise: generous for a slow start.
pub const DEFAULT_STEP_TIMEOUT_MS: u64 = 10_000;

fn default_step_timeout_ms() -> u64 {
    DEFAULT_STEP_TIMEOUT_MS
}

/// The balance of a client that `initial_balances` does not mention.
pub const DEFAULT_BALANCE: Amount = 10;

fn default_cs_us() -> u64 {
    1000
}

/// How messages travel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// The delay of every message.
    #[serde(default)]
    pub latency: LatencySpec,
    /// Per-link FIFO delivery. Off: a later message may overtake an earlier one.
    #[serde(default = "default_true")]
    pub fifo: bool,
    /// Per-link overrides of latency and FIFO; links are directed (`from` -> `to`).
    #[serde(default)]
    pub links: Vec<LinkSpec>,
    /// The share of messages the network loses, `[numerator, denominator]`.
    #[serde(default, skip_serializing_if = "Ratio::is_zero")]
    pub drop_ratio: Ratio,
    /// The share of messages the network delivers twice, `[numerator, denominator]`.
    #[serde(default, skip_serializing_if = "Ratio::is_zero")]
    pub duplicate_ratio: Ratio,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            latency: LatencySpec::default(),
            fifo: true,
            links: Vec::new(),
            drop_ratio: Ratio::ZERO,
            duplicate_ratio: Ratio::ZERO,
        }
    }
}

/// A probability as an integer ratio `[numerator, denominator]`, so that no floating point
/// ever decides what happens in a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(u64, u64)", into = "(u64, u64)")]
pub struct Ratio {
    /// The numerator.
    pub numerator: u64,
    /// The denominator.
    pub denominator: u64,
}

impl Ratio {
    /// 0: it never happens.
    pub const ZERO: Ratio = Ratio {
        numerator: 0,
        denominator: 1,
    };

    /// Whether it is 0: it never happens.
    pub fn is_zero(&self) -> bool {
        self.numerator == 0
    }
}

impl Default for Ratio {
    fn default() -> Self {
        Ratio::ZERO
    }
}

impl From<(u64, u64)> for Ratio {
    fn from((numerator, denominator): (u64, u64)) -> Self {
        Ratio {
            numerator,
            denominator,
        }
    }
}

impl From<Ratio> for (u64, u64) {
    fn from(ratio: Ratio) -> Self {
        (ratio.numerator, ratio.denominator)
    }
}

/// Faults at given times: partitions and crashes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsSpec {
    /// The partitions, in any order.
    #[serde(default)]
    pub partitions: Vec<PartitionSpec>,
    /// The crashes, in any order.
    #[serde(default)]
    pub crashes: Vec<CrashSpec>,
}

impl FaultsSpec {
    /// Whether there are no partitions and no crashes.
    pub fn is_empty(&self) -> bool {
        self.partitions.is_empty() && self.crashes.is_empty()
    }
}

/// From `at_us` until `heal_us` (for ever without it), no message crosses between clients of
/// different `groups`; with `one_way`, only messages from `groups[0]` to `groups[1]` are lost.
/// Clients in no group are not cut off. A message is lost if its link is cut when it is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionSpec {
    /// When the partition begins, in microseconds.
    pub at_us: u64,
    /// When it heals (never, without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heal_us: Option<u64>,
    /// The groups of client ids.
    pub groups: Vec<Vec<ClientId>>,
    /// Only messages from the first group to the second are lost.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub one_way: bool,
}

/// `client` crashes at `at_us` and, with `restart_us`, comes back then, keeping its ledger or
/// nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashSpec {
    /// The client that crashes.
    pub client: ClientId,
    /// When it crashes, in microseconds.
    pub at_us: u64,
    /// When it restarts (never, without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_us: Option<u64>,
    /// What it keeps.
    #[serde(default)]
    pub keep: Keep,
}

/// Message fates fixed in advance: the `nth` message (counting from 0) sent on the directed
/// link `from` -> `to` takes `delay_us` (and a second copy `duplicate_delay_us`), or is lost
/// with `drop`. Messages without a pin follow the network model. A shrunk scenario pins every
/// message, so it replays the same way whatever the random draws.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// The pinned messages.
    #[serde(default)]
    pub messages: Vec<PinnedMessage>,
}

impl ScheduleSpec {
    /// Whether nothing is pinned.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }
}

/// One pinned message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinnedMessage {
    /// The sender.
    pub from: ClientId,
    /// The receiver.
    pub to: ClientId,
    /// Which message on the link, from 0.
    pub nth: u64,
    /// Its delay, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_us: Option<u64>,
    /// It is lost.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop: bool,
    /// A second copy's delay, in microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_delay_us: Option<u64>,
}

/// Bounds for swarm testing, in the manner of TigerBeetle's and FoundationDB's: with
/// `sweep --swarm` every seed draws its own configuration within these bounds (see
/// docs/hunting.md). Ranges are `[min, max]`, both included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmSpec {
    /// Bounds for the number of clients.
    #[serde(default = "SwarmSpec::default_clients")]
    pub clients: (u32, u32),
    /// Bounds for every latency parameter drawn (constant, uniform or exponential).
    #[serde(default = "SwarmSpec::default_latency_us")]
    pub latency_us: (u64, u64),
    /// The FIFO settings to draw from.
    #[serde(default = "SwarmSpec::default_fifo")]
    pub fifo: Vec<bool>,
    /// The loss ratio is drawn as `[k, d]` with k uniform in `0..=n` for this `[n, d]`.
    #[serde(default)]
    pub drop_ratio_max: Ratio,
    /// The duplication ratio, drawn like the loss ratio.
    #[serde(default)]
    pub duplicate_ratio_max: Ratio,
    /// The most partitions drawn.
    #[serde(default)]
    pub partitions_max: u32,
    /// The most crashes drawn.
    #[serde(default)]
    pub crashes_max: u32,
    /// Bounds for the number of transfers.
    #[serde(default = "SwarmSpec::default_transfers")]
    pub transfers: (u64, u64),
    /// Bounds for the time inside the critical section, in microseconds.
    #[serde(default = "SwarmSpec::default_cs_us")]
    pub cs_us: (u64, u64),
}

impl SwarmSpec {
    fn default_clients() -> (u32, u32) {
        (2, 6)
    }

    fn default_latency_us() -> (u64, u64) {
        (0, 10_000)
    }

    fn default_fifo() -> Vec<bool> {
        vec![true, false]
    }

    fn default_transfers() -> (u64, u64) {
        (1, 20)
    }

    fn default_cs_us() -> (u64, u64) {
        (0, 5000)
    }
}

/// What survives a crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    /// The ledger and the balance table (written to disk in a real system).
    #[default]
    Ledger,
    /// Nothing: the client starts over from the initial balances.
    Nothing,
}

fn default_true() -> bool {
    true
}

/// A delay distribution, in integer microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum LatencySpec {
    /// Always `us`.
    Constant {
        /// The delay.
        us: u64,
    },
    /// Uniform over `min_us..=max_us`.
    Uniform {
        /// The shortest delay.
        min_us: u64,
        /// The longest delay.
        max_us: u64,
    },
    /// `min_us` plus an exponential part, so that the mean is `mean_us`.
    Exponential {
        /// The shortest delay.
        min_us: u64,
        /// The mean delay.
        mean_us: u64,
    },
}

impl Default for LatencySpec {
    fn default() -> Self {
        LatencySpec::Uniform {
            min_us: 1000,
            max_us: 5000,
        }
    }
}

/// An override for the directed link `from` -> `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// The sender.
    pub from: ClientId,
    /// The receiver.
    pub to: ClientId,
    /// The link's latency instead of the network's.
    #[serde(default)]
    pub latency: Option<LatencySpec>,
    /// The link's FIFO setting instead of the network's.
    #[serde(default)]
    pub fifo: Option<bool>,
    /// The link's loss ratio instead of the network's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_ratio: Option<Ratio>,
    /// The link's duplication ratio instead of the network's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_ratio: Option<Ratio>,
}

/// What the clients are asked to do.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Explicit transfers.
    #[serde(default)]
    pub transfers: Vec<TransferSpec>,
    /// Explicit balance reads.
    #[serde(default)]
    pub balance_reads: Vec<BalanceReadSpec>,
    /// Transfers generated from the seed.
    #[serde(default)]
    pub generated: Option<GeneratedSpec>,
}

/// `from` asks to pay `amount` to `to` at simulated time `at_us`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferSpec {
    /// When the command arrives, in microseconds.
    pub at_us: u64,
    /// The payer, which receives the command.
    pub from: ClientId,
    /// The payee.
    pub to: ClientId,
    /// How much.
    pub amount: Amount,
}

/// `client` reads the balance of `of` from its own table at `at_us`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceReadSpec {
    /// When the read happens, in microseconds.
    pub at_us: u64,
    /// The client that reads its own table.
    pub client: ClientId,
    /// Whose balance it reads.
    pub of: ClientId,
}

/// A generated workload: `count` transfers, the first at `start_us`, then one every `gap`
/// (drawn from a delay distribution), each from a random payer to a random other payee with
/// an amount uniform in `amount_min..=amount_max`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratedSpec {
    /// How many transfers.
    pub count: u64,
    /// When the first arrives, in microseconds.
    #[serde(default)]
    pub start_us: u64,
    /// The time between two transfers.
    pub gap: LatencySpec,
    /// The smallest amount.
    pub amount_min: Amount,
    /// The largest amount.
    pub amount_max: Amount,
    /// Who may pay (default: every client).
    #[serde(default)]
    pub payers: Option<Vec<ClientId>>,
    /// Who may be paid (default: every client); a payer never pays itself.
    #[serde(default)]
    pub payees: Option<Vec<ClientId>>,
}

/// The protocol every client runs (see docs/variants.md).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProtocolVariant {
    /// Lamport 1978 with the paper's entry rule 5(ii) (docs/spec.md section 1).
    #[default]
    Lamport,
    /// Enter once N-1 replies have been counted.
    LamportReplyCount,
    /// Deferred replies, no RELEASE.
    RicartAgrawala,
    /// UPDATE the block, wait for UPDATED from every peer, then RELEASE.
    UpdateAck,
}

impl ProtocolVariant {
    /// The protocol's own variant.
    pub fn to_protocol(self) -> Variant {
        match self {
            ProtocolVariant::Lamport => Variant::Lamport,
            ProtocolVariant::LamportReplyCount => Variant::LamportReplyCount,
            ProtocolVariant::RicartAgrawala => Variant::RicartAgrawala,
            ProtocolVariant::UpdateAck => Variant::UpdateAck,
        }
    }

    /// The name a scenario file uses.
    pub fn name(self) -> &'static str {
        self.to_protocol().name()
    }
}

/// A deliberate bug (see docs/variants.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mutation {
    /// `tiebreak-timestamp-only`: equal timestamps are not broken by client id.
    TiebreakTimestampOnly,
    /// `receive-clock-no-max`: on receive, clock += 1 instead of max(clock, ts) + 1.
    ReceiveClockNoMax,
    /// `release-pops-head`: a RELEASE removes the head of the queue instead of the sender's
    /// request.
    ReleasePopsHead,
    /// `unchained-hash`: the block hash leaves out `prev`.
    UnchainedHash,
}

impl Mutation {
    /// The protocol's own mutation.
    pub fn to_protocol(self) -> protocol::Mutation {
        match self {
            Mutation::TiebreakTimestampOnly => protocol::Mutation::TiebreakTimestampOnly,
            Mutation::ReceiveClockNoMax => protocol::Mutation::ReceiveClockNoMax,
            Mutation::ReleasePopsHead => protocol::Mutation::ReleasePopsHead,
            Mutation::UnchainedHash => protocol::Mutation::UnchainedHash,
        }
    }

    /// The name a scenario file uses.
    pub fn name(self) -> &'static str {
        self.to_protocol().name()
    }
}

/// What the run is expected to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `ok` or `violation`.
    pub outcome: ExpectedOutcome,
    /// With `violation`: which invariant must be violated (any, if absent).
    #[serde(default)]
    pub invariant: Option<Invariant>,
}

/// What a run is expected to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedOutcome {
    /// Every invariant holds.
    Ok,
    /// Some invariant is violated.
    Violation,
}

/// Bounds that make every run finish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// A run stops once it has written this many trace events.
    #[serde(default = "default_max_events")]
    pub max_events: u64,
    /// A run stops before an event later than this, in microseconds.
    #[serde(default = "default_max_time_us")]
    pub max_time_us: u64,
    /// The memory a run may use, in MiB: a file whose run is estimated to need more is
    /// refused, and a run whose queued events outgrow it stops. Not written when it is the
    /// default, so traces and shrunk files of scenarios that leave it alone do not mention it.
    #[serde(
        default = "default_max_memory_mib",
        skip_serializing_if = "is_default_max_memory_mib"
    )]
    pub max_memory_mib: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events: default_max_events(),
            max_time_us: default_max_time_us(),
            max_memory_mib: DEFAULT_MAX_MEMORY_MIB,
        }
    }
}

fn default_max_memory_mib() -> u64 {
    DEFAULT_MAX_MEMORY_MIB
}

fn is_default_max_memory_mib(mib: &u64) -> bool {
    *mib == DEFAULT_MAX_MEMORY_MIB
}

fn default_max_events() -> u64 {
    50_000_000
}

fn default_max_time_us() -> u64 {
    // One simulated hour.
    3_600_000_000
}

// ---------------------------------------------------------------------------------------------
// The validated form.

/// A validated scenario, ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Where it came from (a path, or the built-in default's name), for messages and reruns.
    pub source: String,
    /// The scenario's name.
    pub name: String,
    /// What a reader should look at.
    pub description: String,
    /// The seed of every random draw.
    pub seed: u64,
    /// How many clients: the ids are `1..=clients`.
    pub clients: u32,
    /// Index `id - 1` holds client `id`'s initial balance.
    pub initial_balances: Vec<Amount>,
    /// How messages travel.
    pub network: NetworkSpec,
    /// Explicit transfers, sorted by time (stable: file order among equal times).
    pub transfers: Vec<TransferSpec>,
    /// Explicit balance reads, sorted by time (stable).
    pub balance_reads: Vec<BalanceReadSpec>,
    /// Transfers generated from the seed.
    pub generated: Option<GeneratedSpec>,
    /// Partitions and crashes.
    pub faults: FaultsSpec,
    /// Messages pinned one by one.
    pub schedule: ScheduleSpec,
    /// Bounds for `sweep --swarm`.
    pub swarm: Option<SwarmSpec>,
    /// How long a client stays in the critical section, in microseconds.
    pub cs_us: u64,
    /// The protocol every client runs.
    pub protocol: ProtocolVariant,
    /// Deliberate bugs applied to the protocol.
    pub mutations: Vec<Mutation>,
    /// What the run is expected to show.
    pub expect: Option<Expect>,
    /// Bounds that make the run finish.
    pub limits: Limits,
    /// The program playing every client, if not the built-in client.
    pub node: Option<NodeProgram>,
}

impl Scenario {
    /// The scenario as a file would hold it (what `shrink` writes). Parsing the file's JSON
    /// gives this scenario back.
    pub fn to_file(&self) -> ScenarioFile {
        ScenarioFile {
            name: self.name.clone(),
            description: self.description.clone(),
            seed: self.seed,
            clients: self.clients,
            initial_balances: Some(
                self.initial_balances
                    .iter()
                    .enumerate()
                    .map(|(slot, &balance)| ((slot + 1).to_string(), balance))
                    .collect(),
            ),
            network: self.network.clone(),
            workload: WorkloadSpec {
                transfers: self.transfers.clone(),
                balance_reads: self.balance_reads.clone(),
                generated: self.generated.clone(),
            },
            faults: self.faults.clone(),
            schedule: self.schedule.clone(),
            swarm: self.swarm.clone(),
            cs_us: self.cs_us,
            protocol: self.protocol,
            mutations: self.mutations.clone(),
            expect: self.expect,
            limits: self.limits,
            node: self.node.clone(),
        }
    }

    /// The sum of the initial balances: every table must always sum to it.
    pub fn initial_total(&self) -> u128 {
        self.initial_balances.iter().map(|&b| u128::from(b)).sum()
    }

    /// The mutations in force, as the protocol takes them.
    pub fn mutation_set(&self) -> Mutations {
        Mutations::of(
            &self
                .mutations
                .iter()
                .map(|m| m.to_protocol())
                .collect::<Vec<_>>(),
        )
    }

    /// How many transfers the workload issues in all.
    pub fn transfer_count(&self) -> u64 {
        self.transfers.len() as u64 + self.generated.as_ref().map_or(0, |g| g.count)
    }
}
