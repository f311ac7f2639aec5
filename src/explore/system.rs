//! The explored system: N real [`Client`] state machines and the network between them.
//!
//! # Global states and their encoding
//!
//! A global state is: each client's local state, whether it is down and how many of its
//! crashes it has used, how many of its transfers it has been asked to make, how many
//! messages have been lost and duplicated, and the messages in flight on every directed link
//! (in order on a FIFO link; as a multiset, sorted by content, on a bag link).
//!
//! Clients and messages are *interned*: every distinct `Client` value (by its derived `Eq`, so
//! every field of the real state machine counts; hashed by a few of its parts) and every
//! distinct `Message` gets a number the first time it appears. The encoding of a global state
//! is then a short string of small integers (LEB128): about 20-40 bytes for three clients,
//! whatever the ledgers hold. Two global states are equal exactly when their encodings are.
//!
//! # Steps
//!
//! From a global state the search may: ask a client for its next transfer (`issue`); deliver a
//! message (the head of a FIFO link, any message of a bag link; to a crashed client the
//! message is lost); end a critical section (the client's `LeaveCriticalSection` timer fires:
//! a client inside may leave at any point); and, within the bounds, lose or duplicate a
//! message on a link that allows it, crash a client, or restart a crashed one.
//!
//! A client's step depends only on its own state and its input, so the result of running the
//! real `handle_command` / `handle_message` / `handle_timer` / `restart` on a (client, input)
//! pair is computed once and remembered: the next client state's number, the messages sent,
//! and whether the clock condition held. Every client step of the search is a real call into
//! `protocol::Client` the first time it is taken, and a table look-up afterwards.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use super::hash::{IndexTable, MixHasher, MixMap, hash_bytes};
use super::region::Region;
use super::search::{Expander, Finding, Model, Successors};
use super::store::prefetch;
use super::table::double_in_place;
use crate::check::Invariant;
use crate::protocol::{
    Amount, Block, Client, ClientConfig, ClientId, Command, GENESIS_PREV, Message, Mutations,
    Outbox, OutputKind, Phase, Timer, Timestamp, Variant, WaitReason,
};
use crate::wording::count;

/// A transfer a client will be asked to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedTransfer {
    pub to: ClientId,
    pub amount: Amount,
}

/// What a directed link does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkRule {
    /// Deliver in order (else any message in flight may be next).
    pub fifo: bool,
    /// May lose messages (within `max_losses`).
    pub lossy: bool,
    /// May duplicate messages (within `max_duplicates`).
    pub duplicating: bool,
}

/// One crash a client may suffer, at any point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashRule {
    /// Restart with the ledger and balance table (else with nothing).
    pub keep_ledger: bool,
    /// Comes back at some later point (else stays down).
    pub restarts: bool,
}

/// Everything the exploration of the client system needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemConfig {
    pub clients: u32,
    /// Index `id - 1`.
    pub initial_balances: Vec<Amount>,
    pub variant: Variant,
    pub mutations: Mutations,
    pub cs_us: u64,
    /// Index `id - 1`: the transfers that client is asked to make, in order.
    pub transfers: Vec<Vec<PlannedTransfer>>,
    /// Index `(from - 1) * N + (to - 1)`.
    pub links: Vec<LinkRule>,
    pub max_losses: u8,
    pub max_duplicates: u8,
    /// Index `id - 1`: the crashes that client may suffer, in order.
    pub crashes: Vec<Vec<CrashRule>>,
}

impl SystemConfig {
    /// The directed links in encoding order.
    pub fn link_list(&self) -> Vec<(ClientId, ClientId)> {
        let n = self.clients;
        (1..=n)
            .flat_map(|from| {
                (1..=n)
                    .filter(move |&to| to != from)
                    .map(move |to| (from, to))
            })
            .collect()
    }

    pub fn rule(&self, from: ClientId, to: ClientId) -> LinkRule {
        self.links[((from - 1) * self.clients + (to - 1)) as usize]
    }

    /// The clients in their initial state.
    pub fn initial_clients(&self) -> Vec<Client> {
        let balances: Arc<[Amount]> = self.initial_balances.clone().into();
        (1..=self.clients)
            .map(|id| {
                let config = ClientConfig {
                    id,
                    clients: self.clients,
                    cs_us: self.cs_us,
                    variant: self.variant,
                    mutations: self.mutations,
                };
                Client::new(&config, Arc::clone(&balances))
            })
            .collect()
    }

    pub fn any_faults(&self) -> bool {
        self.max_losses > 0 || self.max_duplicates > 0 || self.crashes.iter().any(|c| !c.is_empty())
    }

    pub fn all_fifo(&self) -> Option<bool> {
        let mut kinds = self
            .link_list()
            .into_iter()
            .map(|(from, to)| self.rule(from, to).fifo);
        let first = kinds.next()?;
        kinds.all(|kind| kind == first).then_some(first)
    }
}

/// Counts of what the search met (see [`SystemModel::interned`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interned {
    pub client_states: usize,
    pub messages: usize,
    pub client_steps: usize,
}

/// What a step does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StepKind {
    /// Not a step: the initial state.
    #[default]
    Start,
    /// `client` is asked for its next transfer.
    Issue,
    /// The message `msg` at position `pos` of link `link` is delivered (or, if the receiver is
    /// down, lost).
    Deliver,
    /// `client`'s critical-section timer fires.
    Timer,
    /// The message at `pos` of `link` is lost.
    Lose,
    /// The message at `pos` of `link` is duplicated.
    Duplicate,
    Crash,
    Restart,
}

/// One step of the search (8 bytes: it is stored for every state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemStep {
    pub kind: StepKind,
    /// 0-based client index (issue, timer, crash, restart).
    pub client: u8,
    /// Link index in [`SystemConfig::link_list`] order (deliver, lose, duplicate).
    pub link: u8,
    /// Position in the link's encoding (sorted by content on a bag link).
    pub pos: u8,
    /// The message's interned number.
    pub msg: u32,
}

/// A message as a hash key (`Message` has `Eq` but no `Hash`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct MessageKey(Message);

impl Hash for MessageKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let msg = &self.0;
        msg.type_name().hash(state);
        msg.ts().hash(state);
        if let Message::Release { request_ts, .. } = msg {
            request_ts.hash(state);
        }
        if let Some(block) = msg.block() {
            block.hash(state);
        }
    }
}

/// A block's fields in the order messages are sorted by: index, from, to, amount, ts, prev,
/// hash.
type BlockOrder = (
    u64,
    ClientId,
    ClientId,
    Amount,
    Timestamp,
    [u8; 32],
    [u8; 32],
);

/// Orders messages by content, so that a bag's order does not depend on when each message
/// was first seen (and so not on the number of threads).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct MessageOrder {
    kind: &'static str,
    ts: Timestamp,
    request_ts: Timestamp,
    block: Option<BlockOrder>,
}

impl MessageOrder {
    fn of(msg: &Message) -> Self {
        MessageOrder {
            kind: msg.type_name(),
            ts: msg.ts(),
            request_ts: match msg {
                Message::Release { request_ts, .. } => *request_ts,
                _ => 0,
            },
            block: msg.block().map(|b| {
                (
                    b.index(),
                    b.from(),
                    b.to(),
                    b.amount(),
                    b.ts(),
                    b.prev(),
                    b.hash_value(),
                )
            }),
        }
    }
}

/// What the invariants need to know about one client state, computed once per state and
/// kept as its summary word (and its finding, if any, apart).
struct ClientInfo {
    /// Inside the critical section.
    inside: bool,
    /// Has a transfer it has not finished (waiting, inside, or queued).
    has_work: bool,
    /// The number of its ledger among the distinct ledgers met (a chain: see `Shared`).
    ledger_number: u32,
    /// A broken invariant of its own ledger or table.
    problem: Option<Finding>,
}

const INSIDE: u64 = 1;
const PROBLEM: u64 = 2;
const HAS_WORK: u64 = 4;
const LEDGER_SHIFT: u32 = 32;

impl ClientInfo {
    fn summary(&self) -> u64 {
        u64::from(self.inside)
            | if self.problem.is_some() { PROBLEM } else { 0 }
            | if self.has_work { HAS_WORK } else { 0 }
            | u64::from(self.ledger_number) << LEDGER_SHIFT
    }
}

/// A client step just run, its client state and messages interned.
#[derive(Clone, Debug)]
struct InternedStep {
    next: u32,
    sends: Vec<(u8, u32)>,
    problem: Option<Finding>,
}

/// A remembered client step, in its shard: one word, its sends and its finding (rare) kept
/// in the shard's lists. The shards hold one per step run (1.45 million for the default
/// scenario): with its own list of sends and an inline finding an entry took 96 bytes and a
/// heap block, about 250 MB in all; as four `u32`s behind a three-`u32` key, 28 bytes.
#[derive(Clone, Copy, Debug)]
struct SharedEffect {
    next: u32,
    sends_start: u32,
    sends_len: u32,
    /// The clock condition broke (the finding is in the shard's `problems`).
    broke: bool,
}

impl SharedEffect {
    /// The next client state in the top 32 bits, where the sends start (27 bits), how many
    /// (4 bits), whether the step broke the clock condition (1 bit): the layout of
    /// [`EffectTable`]'s slots.
    fn pack(self) -> u64 {
        assert!(
            self.sends_start < 1 << 27 && self.sends_len < 16,
            "more sends than a shard takes"
        );
        u64::from(self.next) << 32
            | u64::from(self.sends_start) << 5
            | u64::from(self.sends_len) << 1
            | u64::from(self.broke)
    }

    fn unpack(value: u64) -> Self {
        SharedEffect {
            next: (value >> 32) as u32,
            sends_start: ((value >> 5) & ((1 << 27) - 1)) as u32,
            sends_len: ((value >> 1) & 0xf) as u32,
            broke: value & 1 != 0,
        }
    }
}

/// What every thread shares: the interned clients, messages and blocks, and the remembered
/// client steps.
#[derive(Default)]
struct Shared {
    clients: Vec<Arc<Client>>,
    client_numbers: IndexTable,
    /// Per client state: its summary word (see `SystemExpander::summaries`); 8 bytes for
    /// each of the default scenario's 622,407 client states, where a `ClientInfo` took 88.
    summaries: Vec<u64>,
    /// Client state number -> what its own ledger or table breaks (rare).
    client_problems: MixMap<u32, Finding>,
    messages: Vec<Message>,
    message_numbers: MixMap<MessageKey, u32>,
    orders: Vec<MessageOrder>,
    blocks: Vec<Arc<Block>>,
    block_numbers: MixMap<Block, u32>,
    /// Per block number: whether its hash recomputes by the SPEC rule. Worked out once, when
    /// the block is interned: a block sits in many ledgers, and SHA-256 over every block of
    /// every new client state's ledger was a tenth of the search's first million states.
    block_hash_ok: Vec<bool>,
    /// Ledgers as chains: (the ledger without its last block, that block) -> number. Number 0
    /// is the empty ledger.
    ledger_numbers: MixMap<(u32, u32), u32>,
    /// Per ledger number: the number of the ledger without its last block, and the length.
    ledger_parents: Vec<u32>,
    ledger_lengths: Vec<u32>,
}

/// The remembered client steps, shared by every thread: in shards with a lock each, so
/// that a thread looking a step up (a cache miss or two in a big table) does not hold up
/// the others.
struct SharedEffects {
    shards: Vec<Mutex<EffectShard>>,
}

/// One shard of the remembered client steps.
#[derive(Default)]
struct EffectShard {
    /// [`EffectTable::key`] -> [`SharedEffect::pack`]: 16 bytes an entry where the key and
    /// the step unpacked took 28, in hash tables that double (about 100 MB of fresh pages on
    /// the default scenario before).
    steps: MixMap<u64, u64>,
    /// The sends of every step, back to back.
    sends: Vec<(u8, u32)>,
    /// The findings of the steps that broke the clock condition, by key.
    problems: MixMap<u64, Finding>,
}

impl EffectShard {
    fn get(&self, key: u64) -> Option<SharedEffect> {
        self.steps.get(&key).copied().map(SharedEffect::unpack)
    }

    /// Appends the sends of `effect` (remembered under `key`) to `sends`; its next client
    /// state and finding.
    fn copy_out(
        &self,
        key: u64,
        effect: SharedEffect,
        sends: &mut Vec<(u8, u32)>,
    ) -> (u32, Option<Finding>) {
        let start = effect.sends_start as usize;
        sends.extend_from_slice(&self.sends[start..start + effect.sends_len as usize]);
        let problem = effect.broke.then(|| self.problems[&key].clone());
        (effect.next, problem)
    }

    /// Remembers `step` under `key`, unless a step is there already (run meanwhile by
    /// another thread, with the same result); the one kept.
    fn remember(&mut self, key: u64, step: InternedStep) -> SharedEffect {
        if let Some(effect) = self.get(key) {
            return effect;
        }
        let effect = SharedEffect {
            next: step.next,
            sends_start: u32::try_from(self.sends.len()).expect("a shard's sends fit in u32"),
            sends_len: step.sends.len() as u32,
            broke: step.problem.is_some(),
        };
        if let Some(finding) = step.problem {
            self.problems.insert(key, finding);
        }
        self.sends.extend_from_slice(&step.sends);
        self.steps.insert(key, effect.pack());
        effect
    }
}

const EFFECT_SHARDS: usize = 64;

impl SharedEffects {
    fn new() -> Self {
        SharedEffects {
            shards: (0..EFFECT_SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn shard(&self, key: EffectKey) -> MutexGuard<'_, EffectShard> {
        let packed = (u64::from(key.local) << 32 | u64::from(key.input))
            ^ u64::from(key.msg).rotate_left(47);
        let index = (packed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize;
        self.shards[index % EFFECT_SHARDS]
            .lock()
            .expect("no thread panics while holding the tables")
    }

    fn len(&self) -> usize {
        (0..EFFECT_SHARDS)
            .map(|index| {
                self.shards[index]
                    .lock()
                    .expect("no thread panics while holding the tables")
                    .steps
                    .len()
            })
            .sum()
    }
}

/// A client step's input, packed: (client state number, input kind and argument, message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EffectKey {
    local: u32,
    input: u32,
    msg: u32,
}

const INPUT_ISSUE: u32 = 0;
const INPUT_DELIVER: u32 = 1 << 28;
const INPUT_TIMER: u32 = 2 << 28;
const INPUT_RESTART: u32 = 3 << 28;

struct Inner {
    config: SystemConfig,
    links: Vec<(ClientId, ClientId)>,
    initial_total: u128,
    shared: Mutex<Shared>,
    effects: SharedEffects,
    initial_locals: Vec<u32>,
}

/// The client system as a [`Model`]. Cloning shares the interned tables.
#[derive(Clone)]
pub struct SystemModel {
    inner: Arc<Inner>,
}

impl SystemModel {
    pub fn new(config: SystemConfig) -> Self {
        let initial_total = config.initial_balances.iter().map(|&b| u128::from(b)).sum();
        let links = config.link_list();
        let mut inner = Inner {
            links,
            initial_total,
            shared: Mutex::new(Shared::default()),
            effects: SharedEffects::new(),
            initial_locals: Vec::new(),
            config,
        };
        let clients = inner.config.initial_clients();
        let locals = {
            let mut shared = inner.shared.lock().expect("not poisoned");
            clients
                .into_iter()
                .map(|client| intern_client(&inner, &mut shared, client))
                .collect()
        };
        inner.initial_locals = locals;
        SystemModel {
            inner: Arc::new(inner),
        }
    }

    pub fn config(&self) -> &SystemConfig {
        &self.inner.config
    }

    /// The directed links in encoding order.
    pub fn links(&self) -> &[(ClientId, ClientId)] {
        &self.inner.links
    }

    /// The message with interned number `number`.
    pub fn message(&self, number: u32) -> Message {
        self.inner.lock().messages[number as usize].clone()
    }

    /// What the search met: distinct client states, distinct messages, and client steps
    /// run for real (each (client state, input) pair once).
    pub fn interned(&self) -> Interned {
        let client_steps = self.inner.effects.len();
        let shared = self.inner.lock();
        Interned {
            client_states: shared.clients.len(),
            messages: shared.messages.len(),
            client_steps,
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .expect("no thread panics while holding the tables")
    }
}

/// A hash of a client's state from a few of its parts. Equal clients (the derived `Eq`: every
/// field) have equal parts, so equal hashes; the interner compares whole clients to tell
/// apart the rare different clients with equal parts. Much cheaper than the derived `Hash`,
/// which walks every block of the ledger.
fn client_hash(client: &Client, clients: u32) -> u64 {
    let mut hasher = MixHasher::default();
    hasher.write_u32(client.id());
    hasher.write_u64(client.clock());
    match client.phase() {
        Phase::Idle => hasher.write_u8(0),
        Phase::Waiting { ts, .. } => hasher.write_u64(ts << 2 | 1),
        Phase::Inside { ts, .. } => hasher.write_u64(ts << 2 | 2),
    }
    hasher.write_usize(client.queue().len());
    for (ts, id) in client.queue().iter() {
        hasher.write_u64(ts << 8 ^ u64::from(id));
    }
    hasher.write_u64(client.ledger().len());
    hasher.write(&client.ledger().head_hash()[..8]);
    hasher.write_usize(client.pending().len());
    hasher.write_usize(client.held_back().len());
    for peer in 1..=clients {
        hasher.write_u64(client.largest_seen(peer));
    }
    hasher.finish()
}

fn intern_client(inner: &Inner, shared: &mut Shared, client: Client) -> u32 {
    let hash = client_hash(&client, inner.config.clients);
    let clients = &shared.clients;
    if let Some(number) = shared
        .client_numbers
        .find(hash, |number| *clients[number as usize] == client)
    {
        return number;
    }
    let number = shared.clients.len() as u32;
    assert!(
        number < MAX_CLIENT_STATES,
        "more client states than the step table takes"
    );
    let info = client_info(inner, shared, &client);
    shared.clients.push(Arc::new(client));
    shared.client_numbers.insert(hash, number);
    shared.summaries.push(info.summary());
    if let Some(problem) = info.problem {
        shared.client_problems.insert(number, problem);
    }
    number
}

fn intern_message(shared: &mut Shared, msg: &Message) -> u32 {
    let key = MessageKey(msg.clone());
    if let Some(&number) = shared.message_numbers.get(&key) {
        return number;
    }
    let number = shared.messages.len() as u32;
    assert!(
        number < MAX_MESSAGES,
        "more messages than the step table takes"
    );
    shared.messages.push(msg.clone());
    shared.orders.push(MessageOrder::of(msg));
    shared.message_numbers.insert(key, number);
    number
}

fn intern_block(shared: &mut Shared, block: &Arc<Block>) -> u32 {
    if let Some(&number) = shared.block_numbers.get(&**block) {
        return number;
    }
    let number = shared.blocks.len() as u32;
    shared.block_hash_ok.push(block.spec_hash_ok());
    shared.blocks.push(Arc::clone(block));
    shared.block_numbers.insert((**block).clone(), number);
    number
}

/// The per-client invariants: `chain_integrity` of its ledger (SPEC section 2's hash,
/// whatever rule the client itself uses), `conservation` of its table, and `no_overdraft`
/// along its ledger.
fn client_info(inner: &Inner, shared: &mut Shared, client: &Client) -> ClientInfo {
    let id = client.id();
    let blocks = client.ledger().blocks();
    let ledger: Vec<u32> = blocks.iter().map(|b| intern_block(shared, b)).collect();
    if shared.ledger_lengths.is_empty() {
        shared.ledger_parents.push(u32::MAX);
        shared.ledger_lengths.push(0);
    }
    let mut ledger_number = 0;
    for &block in ledger.iter() {
        let next_number = shared.ledger_lengths.len() as u32;
        let number = *shared
            .ledger_numbers
            .entry((ledger_number, block))
            .or_insert(next_number);
        if number == next_number {
            shared.ledger_parents.push(ledger_number);
            let length = shared.ledger_lengths[ledger_number as usize] + 1;
            shared.ledger_lengths.push(length);
        }
        ledger_number = number;
    }
    let mut problem = None;
    let mut prev = GENESIS_PREV;
    let mut balances = inner.config.initial_balances.clone();
    for (index, (block, &number)) in blocks.iter().zip(ledger.iter()).enumerate() {
        let broken = if block.index() != index as u64 {
            Some(format!(
                "its block at position {index} says index {}",
                block.index()
            ))
        } else if block.prev() != prev {
            Some(format!(
                "block {index}'s prev {} is not the hash of the block before it ({})",
                short(&block.prev()),
                short(&prev)
            ))
        } else if !shared.block_hash_ok[number as usize] {
            Some(format!(
                "block {index}'s hash {} does not recompute by the SPEC rule (it should be {})",
                short(&block.hash_value()),
                short(&block.recomputed_hash())
            ))
        } else {
            None
        };
        if let Some(broken) = broken {
            problem.get_or_insert(Finding {
                name: Invariant::ChainIntegrity.name(),
                detail: format!("client {id}'s ledger: {broken}"),
                stuck: false,
            });
        }
        prev = block.hash_value();
        let (from, to) = (block.from() as usize, block.to() as usize);
        if (1..=balances.len()).contains(&from) && (1..=balances.len()).contains(&to) {
            let balance = balances[from - 1];
            if balance < block.amount() {
                problem.get_or_insert(Finding {
                    name: Invariant::NoOverdraft.name(),
                    detail: format!(
                        "client {id}'s ledger: block {index} has client {from} pay {} with a \
                         balance of {balance}",
                        block.amount()
                    ),
                    stuck: false,
                });
            }
            let paid = balance.min(block.amount());
            balances[from - 1] -= paid;
            balances[to - 1] += paid;
        }
    }
    let total = client.ledger().table().total();
    if total != inner.initial_total {
        problem.get_or_insert(Finding {
            name: Invariant::Conservation.name(),
            detail: format!(
                "client {id}'s balance table sums to {total}, not the initial total {}",
                inner.initial_total
            ),
            stuck: false,
        });
    }
    ClientInfo {
        inside: matches!(client.phase(), Phase::Inside { .. }),
        has_work: *client.phase() != Phase::Idle || client.pending().len() > 0,
        ledger_number,
        problem,
    }
}

fn short(hash: &[u8; 32]) -> String {
    crate::protocol::ledger::short_hex(hash)
}

/// A client step run for real, before its results are interned.
struct StepRun {
    client: Client,
    sends: Vec<(u8, Message)>,
    problem: Option<String>,
}

/// Runs one client step for real on `before` (client state `key.local`); `delivered` is
/// message `key.msg` for a delivery. Takes no lock: the costly part of a new step (the state
/// machine, its hashing and cloning) runs while other threads go on.
fn run_step(inner: &Inner, before: &Client, delivered: Option<Message>, key: EffectKey) -> StepRun {
    let mut client = before.clone();
    let id = client.id();
    let mut outbox = Outbox::new();
    let kind = key.input & (3 << 28);
    let argument = key.input & ((1 << 28) - 1);
    match kind {
        INPUT_ISSUE => {
            let transfer = inner.config.transfers[id as usize - 1][argument as usize];
            let command = Command::Transfer {
                to: transfer.to,
                amount: transfer.amount,
            };
            // Scenario validation made every transfer valid; a refused one changes nothing.
            let _ = client.handle_command(command, &mut outbox);
        }
        INPUT_DELIVER => {
            let msg = delivered.as_ref().expect("a delivery has its message");
            client.handle_message(argument, msg, &mut outbox);
        }
        INPUT_TIMER => client.handle_timer(Timer::LeaveCriticalSection, &mut outbox),
        _ => client.restart(argument == 1),
    }
    // The clock condition, as `check::ClockCondition` judges the events: a client's clock
    // never decreases, a receive is later than its send, a message carries the send's clock.
    let mut problem = None;
    let mut last = before.clock();
    let mut sends = Vec::new();
    for output in outbox.as_slice() {
        if output.clock < last && problem.is_none() {
            problem = Some(format!(
                "client {id}'s clock went back from {last} to {}",
                output.clock
            ));
        }
        last = output.clock;
        match &output.kind {
            OutputKind::Received { from } => {
                let msg = delivered.as_ref().expect("only a delivery receives");
                if output.clock <= msg.ts() && problem.is_none() {
                    problem = Some(format!(
                        "client {id} received {} (sent by client {from} at clock {}) with its \
                         clock at {}: a receive must be later than its send",
                        msg.type_name().to_uppercase(),
                        msg.ts(),
                        output.clock
                    ));
                }
            }
            OutputKind::Send { to, msg } => {
                if msg.ts() != output.clock && problem.is_none() {
                    problem = Some(format!(
                        "client {id} sent {} to client {to} with ts {} while its clock was {}",
                        msg.type_name().to_uppercase(),
                        msg.ts(),
                        output.clock
                    ));
                }
                sends.push(((*to - 1) as u8, msg.clone()));
            }
            _ => {}
        }
    }
    StepRun {
        client,
        sends,
        problem,
    }
}

/// Interns what a step sent (in order) and the client state it left, and remembers the step.
fn intern_step(inner: &Inner, shared: &mut Shared, run: StepRun) -> InternedStep {
    let sends = run
        .sends
        .iter()
        .map(|(to, msg)| (*to, intern_message(shared, msg)))
        .collect();
    let next = intern_client(inner, shared, run.client);
    InternedStep {
        next,
        sends,
        problem: run.problem.map(|detail| Finding {
            name: Invariant::ClockCondition.name(),
            detail,
            stuck: false,
        }),
    }
}

/// The most clients a model takes (the settings allow fewer).
pub const MAX_CLIENTS: usize = 8;

/// A global state's clients, decoded without its messages (what a check needs).
#[derive(Clone, Copy, Debug, Default)]
struct Head {
    n: usize,
    locals: [u32; MAX_CLIENTS],
    status: [u8; MAX_CLIENTS],
    issued: [u8; MAX_CLIENTS],
}

impl Head {
    /// Decodes everything but the messages; says whether any message is in flight: then some
    /// link's count is not zero, and the tail is longer than one byte (a zero count) per link.
    fn decode(bytes: &[u8], clients: usize, links: usize, faults: bool) -> (Head, bool) {
        let mut head = Head {
            n: clients,
            ..Head::default()
        };
        let mut at = 0;
        for client in 0..clients {
            head.locals[client] = get_varint(bytes, &mut at);
        }
        let issued = at + issued_at(clients, faults);
        head.issued = read_counts(bytes, issued, clients);
        if faults {
            head.status[..clients].copy_from_slice(&bytes[at..at + clients]);
        }
        at += fixed_bytes(clients, faults);
        (head, bytes.len() - at > links)
    }

    fn locals(&self) -> &[u32] {
        &self.locals[..self.n]
    }

    fn down(&self, client: usize) -> bool {
        self.status[client] & 1 != 0
    }

    fn crashes_used(&self, client: usize) -> usize {
        usize::from(self.status[client] >> 1)
    }
}

/// The most directed links a model has.
const MAX_LINKS: usize = MAX_CLIENTS * (MAX_CLIENTS - 1);

/// A global state, decoded. Fixed-size arrays for everything but the messages: decoding
/// fills them without a length to check and keep up to date per number.
#[derive(Clone, Debug)]
struct Global {
    /// How many clients and links (the first `n` and `links` entries of the arrays count).
    n: usize,
    links: usize,
    locals: [u32; MAX_CLIENTS],
    /// Bit 0: down; the rest: crashes used.
    status: [u8; MAX_CLIENTS],
    issued: [u8; MAX_CLIENTS],
    losses: u8,
    duplicates: u8,
    /// Link `l`'s messages are `msgs[starts[l]..starts[l + 1]]`.
    starts: [u32; MAX_LINKS + 1],
    msgs: Vec<u32>,
    /// Where things are in the encoding this was decoded from: the end of each client's
    /// local-state number, and the start of each link (and the end of the last).
    local_ends: [u32; MAX_CLIENTS],
    link_bytes: [u32; MAX_LINKS + 1],
    /// Where each link's messages start (after its count), and where its first message ends
    /// (its messages' start when it has none): [`SystemExpander::emit`] copies a link's
    /// messages as bytes, without the first one when it is delivered.
    bodies: [u32; MAX_LINKS],
    head_ends: [u32; MAX_LINKS],
    /// Each link's first message (0 when it has none).
    heads: [u32; MAX_LINKS],
    /// Decoded without `msgs` (every link FIFO and no fault: only the first message of a link
    /// is ever looked at).
    lean: bool,
    /// The encoding has the status bytes and the loss and duplication counts (see
    /// [`fixed_bytes`]).
    faults: bool,
}

/// The bytes between the clients' local-state numbers and the links in an encoding: per
/// client its status (down, crashes used) and transfers asked for, then the losses and the
/// duplications used. Without any fault possible the statuses and the counts never change,
/// so only the transfers asked for are encoded: 5 bytes less of the default scenario's 26.5
/// per state (a fifth of the store's arena, written once and compared on every look-up).
fn fixed_bytes(clients: usize, faults: bool) -> usize {
    if faults { 2 * clients + 2 } else { clients }
}

/// The `clients` bytes at `at` of `bytes`, the rest zero. Read as one word when the encoding
/// has 8 bytes from `at` on (nearly always): a copy of a length not known at compile time,
/// or a loop of byte copies (which the compiler turns into one), is a call to `memcpy`, and
/// this runs for every state decoded.
fn read_counts(bytes: &[u8], at: usize, clients: usize) -> [u8; MAX_CLIENTS] {
    const { assert!(MAX_CLIENTS == 8, "the counts of the clients fill one word") };
    if let Some(window) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(window.try_into().expect("8 bytes"));
        let keep = u64::MAX.checked_shr(64 - 8 * clients as u32).unwrap_or(0);
        return (word & keep).to_le_bytes();
    }
    let mut counts = [0; MAX_CLIENTS];
    counts[..clients].copy_from_slice(&bytes[at..at + clients]);
    counts
}

/// Where the transfers asked for are among [`fixed_bytes`]: behind the statuses, if any.
fn issued_at(clients: usize, faults: bool) -> usize {
    if faults { clients } else { 0 }
}

impl Default for Global {
    fn default() -> Self {
        Global {
            n: 0,
            links: 0,
            locals: [0; MAX_CLIENTS],
            status: [0; MAX_CLIENTS],
            issued: [0; MAX_CLIENTS],
            losses: 0,
            duplicates: 0,
            starts: [0; MAX_LINKS + 1],
            msgs: Vec::new(),
            local_ends: [0; MAX_CLIENTS],
            link_bytes: [0; MAX_LINKS + 1],
            bodies: [0; MAX_LINKS],
            head_ends: [0; MAX_LINKS],
            heads: [0; MAX_LINKS],
            lean: false,
            faults: true,
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Writes `value` as LEB128 into `buffer` at `at`; where it ends.
#[inline(always)]
fn write_varint(buffer: &mut [u8], mut at: usize, mut value: u32) -> usize {
    while value >= 0x80 {
        buffer[at] = (value as u8) | 0x80;
        value >>= 7;
        at += 1;
    }
    buffer[at] = value as u8;
    at + 1
}

/// Copies `source` into `buffer` at `at`; where it ends. A few fixed-size moves for the few
/// bytes an encoding's runs have, where `copy_from_slice` of a length not known would call
/// `memcpy`.
#[inline(always)]
fn copy_bytes(buffer: &mut [u8], at: usize, source: &[u8]) -> usize {
    let len = source.len();
    let target = &mut buffer[at..at + len];
    if len >= 8 {
        let mut done = 0;
        while done + 8 < len {
            target[done..done + 8].copy_from_slice(&source[done..done + 8]);
            done += 8;
        }
        target[len - 8..].copy_from_slice(&source[len - 8..]);
    } else if len >= 4 {
        target[..4].copy_from_slice(&source[..4]);
        target[len - 4..].copy_from_slice(&source[len - 4..]);
    } else if len > 0 {
        target[0] = source[0];
        target[len / 2] = source[len / 2];
        target[len - 1] = source[len - 1];
    }
    at + len
}

/// Reads a LEB128 number at `at` and moves `at` past it. Unrolled for the lengths an
/// encoding has (counts take one byte, messages two, client states up to three).
#[inline(always)]
fn get_varint(bytes: &[u8], at: &mut usize) -> u32 {
    let first = bytes[*at];
    if first < 0x80 {
        *at += 1;
        return u32::from(first);
    }
    let second = bytes[*at + 1];
    let value = u32::from(first & 0x7f) | u32::from(second & 0x7f) << 7;
    if second < 0x80 {
        *at += 2;
        return value;
    }
    let third = bytes[*at + 2];
    let value = value | u32::from(third & 0x7f) << 14;
    if third < 0x80 {
        *at += 3;
        return value;
    }
    get_varint_slow(bytes, at)
}

#[cold]
fn get_varint_slow(bytes: &[u8], at: &mut usize) -> u32 {
    let mut value = 0u32;
    let mut shift = 0;
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= u32::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return value;
        }
        shift += 7;
    }
}

impl Global {
    fn decode(&mut self, bytes: &[u8], clients: usize, links: usize, lean: bool, faults: bool) {
        let mut at = 0;
        self.n = clients;
        self.links = links;
        self.lean = lean;
        self.faults = faults;
        for client in 0..clients {
            self.locals[client] = get_varint(bytes, &mut at);
            self.local_ends[client] = at as u32;
        }
        let issued = at + issued_at(clients, faults);
        self.issued = read_counts(bytes, issued, clients);
        if faults {
            self.status[..clients].copy_from_slice(&bytes[at..at + clients]);
            self.losses = bytes[at + 2 * clients];
            self.duplicates = bytes[at + 2 * clients + 1];
        }
        at += fixed_bytes(clients, faults);
        // Every message takes a byte at least: room for all of them, written by index (the
        // list keeps its longest length; only `starts` says what counts).
        if !lean && self.msgs.len() < bytes.len() {
            self.msgs.resize(bytes.len(), 0);
        }
        let mut count_all = 0;
        for link in 0..links {
            self.starts[link] = count_all as u32;
            self.link_bytes[link] = at as u32;
            let count = get_varint(bytes, &mut at) as usize;
            self.bodies[link] = at as u32;
            self.heads[link] = 0;
            if count > 0 {
                let head = get_varint(bytes, &mut at);
                self.heads[link] = head;
                if !lean {
                    self.msgs[count_all] = head;
                }
            }
            self.head_ends[link] = at as u32;
            if lean {
                // Past the other messages: a message ends at a byte below 0x80.
                let mut left = count.saturating_sub(1);
                while left > 0 {
                    left -= usize::from(bytes[at] < 0x80);
                    at += 1;
                }
            } else {
                for index in 1..count {
                    self.msgs[count_all + index] = get_varint(bytes, &mut at);
                }
            }
            count_all += count;
        }
        self.starts[links] = count_all as u32;
        self.link_bytes[links] = at as u32;
        debug_assert_eq!(at, bytes.len());
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let n = self.n;
        for &local in &self.locals[..n] {
            put_varint(out, local);
        }
        if self.faults {
            out.extend_from_slice(&self.status[..n]);
            out.extend_from_slice(&self.issued[..n]);
            out.push(self.losses);
            out.push(self.duplicates);
        } else {
            out.extend_from_slice(&self.issued[..n]);
        }
        for link in 0..self.links {
            let messages = self.link(link);
            put_varint(out, messages.len() as u32);
            for &msg in messages {
                put_varint(out, msg);
            }
        }
    }

    fn link(&self, link: usize) -> &[u32] {
        debug_assert!(!self.lean, "a lean decoding has no messages");
        &self.msgs[self.starts[link] as usize..self.starts[link + 1] as usize]
    }

    /// How many messages link `link` holds.
    fn count(&self, link: usize) -> u32 {
        self.starts[link + 1] - self.starts[link]
    }

    fn down(&self, client: usize) -> bool {
        self.status[client] & 1 != 0
    }

    fn crashes_used(&self, client: usize) -> usize {
        usize::from(self.status[client] >> 1)
    }
}

impl Model for SystemModel {
    type Step = SystemStep;
    type Expander = SystemExpander;

    fn initial(&self, out: &mut Vec<u8>) {
        let mut global = Global {
            n: self.inner.initial_locals.len(),
            links: self.inner.links.len(),
            ..Global::default()
        };
        global.locals[..global.n].copy_from_slice(&self.inner.initial_locals);
        global.faults = self.inner.config.any_faults();
        global.encode(out);
    }

    fn expander(&self) -> SystemExpander {
        SystemExpander {
            inner: Arc::clone(&self.inner),
            effects: EffectTable::new(),
            sends: Vec::new(),
            problems: Vec::new(),
            summaries: Vec::new(),
            orders: Vec::new(),
            current: Global::default(),
            list: Vec::new(),
            scratch: Vec::new(),
            fifo: {
                let mut fifo = [false; MAX_LINKS];
                for (at, &(from, to)) in self.inner.links.iter().enumerate() {
                    fifo[at] = self.inner.config.rule(from, to).fifo;
                }
                fifo
            },
            all_fifo: self.inner.config.all_fifo() == Some(true),
            lean: self.inner.config.all_fifo() == Some(true) && !self.inner.config.any_faults(),
            faults: self.inner.config.any_faults(),
            transfer_counts: {
                let mut counts = [0; MAX_CLIENTS];
                for (count, transfers) in counts.iter_mut().zip(&self.inner.config.transfers) {
                    *count = transfers.len();
                }
                counts
            },
            crash_counts: {
                let mut counts = [0; MAX_CLIENTS];
                for (count, crashes) in counts.iter_mut().zip(&self.inner.config.crashes) {
                    *count = crashes.len();
                }
                counts
            },
            ledger_parents: Vec::new(),
            ledger_lengths: Vec::new(),
            positions: Vec::new(),
            link_index: {
                let n = self.inner.config.clients as usize;
                let mut index = vec![u8::MAX; n * n];
                for (at, &(from, to)) in self.inner.links.iter().enumerate() {
                    index[(from as usize - 1) * n + (to as usize - 1)] = at as u8;
                }
                index
            },
        }
    }
}

/// A remembered client step, in an expander's own table.
#[derive(Clone, Copy, Debug, Default)]
struct Effect {
    next: u32,
    sends_start: u32,
    sends_len: u32,
    /// 0: the clock condition held; otherwise 1 + index into `problems`.
    problem: u32,
}

/// An expander's own table of client steps: open addressing over 16-byte slots (four to a
/// cache line), the key and the step packed into one word each, in a [`Region`] (a few dozen
/// MiB for a few million steps, read at random), in huge pages from 2 MiB on: in 4 KiB pages
/// nearly every look-up also missed the TLB (a long walk on the project's virtual machine),
/// and the table is small next to the store, so filling in its huge pages costs little (see
/// `docs/performance.md`, the eighth round). It doubles in place ([`double_in_place`]).
///
/// Key: `(local + 1)` in the top 26 bits, the input kind and argument in 10, the message in
/// 28. Step: the next client state in the top 32 bits, where its sends start (27 bits), how
/// many (4 bits), and whether the clock condition broke (1 bit; the finding itself is kept on
/// the side).
struct EffectTable {
    slots: Region<[u64; 2]>,
    bits: u32,
    len: usize,
    /// Packed key -> 1 + index into the expander's `problems`.
    problems: MixMap<u64, u32>,
}

/// The most client states and messages a search interns: a step table key has 26 bits for
/// the client state (plus one) and 28 for the message.
const MAX_CLIENT_STATES: u32 = (1 << 26) - 1;
const MAX_MESSAGES: u32 = 1 << 28;

/// Spreads a step's key over the table (Fibonacci hashing: the home is the product's top bits).
const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

impl EffectTable {
    fn new() -> Self {
        EffectTable {
            slots: Region::zeroed_in_huge_pages(1 << 12),
            bits: 12,
            len: 0,
            problems: MixMap::default(),
        }
    }

    fn key(local: u32, input: u32, msg: u32) -> u64 {
        let (kind, argument) = (input >> 28, input & ((1 << 28) - 1));
        // Interning refuses more client states or messages than this takes (see
        // `MAX_CLIENT_STATES`), and the settings more than 255 transfers per client.
        debug_assert!(
            local < MAX_CLIENT_STATES && argument < 1 << 8 && msg < MAX_MESSAGES,
            "more client states or messages than the step table takes"
        );
        (u64::from(local) + 1) << 38 | u64::from(kind << 8 | argument) << 28 | u64::from(msg)
    }

    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(MULTIPLIER) >> (64 - self.bits)) as usize
    }

    #[inline]
    fn prefetch(&self, local: u32, input: u32, msg: u32) {
        let home = self.home(Self::key(local, input, msg));
        prefetch(self.slots.as_ptr().wrapping_add(home));
    }

    fn get(&self, local: u32, input: u32, msg: u32) -> Option<Effect> {
        let key = Self::key(local, input, msg);
        let mask = self.slots.len() - 1;
        let mut index = self.home(key);
        loop {
            let [slot_key, value] = self.slots[index];
            if slot_key == 0 {
                return None;
            }
            if slot_key == key {
                let problem = if value & 1 != 0 {
                    self.problems[&key]
                } else {
                    0
                };
                return Some(Effect {
                    next: (value >> 32) as u32,
                    sends_start: ((value >> 5) & ((1 << 27) - 1)) as u32,
                    sends_len: ((value >> 1) & 0xf) as u32,
                    problem,
                });
            }
            index = (index + 1) & mask;
        }
    }

    fn insert(&mut self, local: u32, input: u32, msg: u32, effect: Effect) {
        // Doubles above a load of 3/4: a look-up that hits (nearly all) probes about two
        // slots there, mostly in the same cache line, and the table is filled in as huge
        // pages, one per thread (at 5/8 the default scenario's 1.45 million steps needed 64
        // MiB per thread, at 3/4 32 MiB).
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.bits += 1;
            let bits = self.bits;
            double_in_place(&mut self.slots, |[key, _]| {
                (key.wrapping_mul(MULTIPLIER) >> (64 - bits)) as usize
            });
        }
        assert!(
            effect.sends_start < 1 << 27 && effect.sends_len < 16,
            "more sends than the step table takes"
        );
        let key = Self::key(local, input, msg);
        if effect.problem != 0 {
            self.problems.insert(key, effect.problem);
        }
        let value = u64::from(effect.next) << 32
            | u64::from(effect.sends_start) << 5
            | u64::from(effect.sends_len) << 1
            | u64::from(effect.problem != 0);
        self.place([key, value]);
    }

    fn place(&mut self, slot: [u64; 2]) {
        let mask = self.slots.len() - 1;
        let mut index = self.home(slot[0]);
        while self.slots[index][0] != 0 {
            index = (index + 1) & mask;
        }
        self.slots[index] = slot;
        self.len += 1;
    }
}

/// How a successor differs from the state being expanded.
#[derive(Clone, Copy, Debug, Default)]
struct Edit {
    /// A client's new local state.
    client: Option<(usize, u32)>,
    /// A client's new status byte.
    status: Option<(usize, u8)>,
    /// A client asked for its next transfer.
    issued: Option<usize>,
    lost: bool,
    duplicated: bool,
    /// A message leaves a link: (link, position).
    remove: Option<(usize, usize)>,
    /// A message is copied right behind itself: (link, position).
    copy: Option<(usize, usize)>,
    /// A client's step and what it sends.
    effect: Option<(usize, Effect)>,
}

impl Edit {
    fn step(client: usize, effect: Effect) -> Self {
        Edit {
            client: Some((client, effect.next)),
            effect: Some((client, effect)),
            ..Edit::default()
        }
    }
}

/// Expands global states; keeps its own copy of the remembered client steps so that the hot
/// path takes no lock.
pub struct SystemExpander {
    inner: Arc<Inner>,
    effects: EffectTable,
    sends: Vec<(u8, u32)>,
    problems: Vec<Finding>,
    /// One word per client state, all that a check needs but to word a finding: [`INSIDE`],
    /// [`PROBLEM`], [`HAS_WORK`] and the ledger number from [`LEDGER_SHIFT`] on (a copy of
    /// `Shared::summaries`, read without a lock). A finding is worded from `Shared`: a copy
    /// per expander of everything a finding needs was 60 MB of fresh pages each on the
    /// default scenario.
    summaries: Vec<u64>,
    orders: Vec<MessageOrder>,
    current: Global,
    /// A link's messages while a successor is written.
    list: Vec<u32>,
    /// Where a successor is written before it is appended to the output.
    scratch: Vec<u8>,
    /// Per link: FIFO (else a bag).
    fifo: [bool; MAX_LINKS],
    /// Every link FIFO: client steps take [`Self::emit_step`].
    all_fifo: bool,
    /// A fault is possible: the encodings have the status bytes and the loss and duplication
    /// counts (see [`fixed_bytes`]).
    faults: bool,
    /// Every link FIFO and no faults: states are decoded without their messages but the
    /// first of each link.
    lean: bool,
    /// Per client: how many transfers it is asked for, how many crashes it may suffer.
    transfer_counts: [usize; MAX_CLIENTS],
    crash_counts: [usize; MAX_CLIENTS],
    /// (ledger number, ledger number) -> the first index where they differ, if any.
    /// Copies of the shared ledger chains (see `Shared`), for prefix tests without a lock.
    ledger_parents: Vec<u32>,
    ledger_lengths: Vec<u32>,
    /// `(from - 1) * N + (to - 1)` -> link index.
    link_index: Vec<u8>,
    positions: Vec<usize>,
}

impl SystemExpander {
    #[inline]
    fn effect(&mut self, local: u32, input: u32, msg: u32) -> Effect {
        match self.effects.get(local, input, msg) {
            Some(effect) => effect,
            None => self.new_effect(local, input, msg),
        }
    }

    /// A client step this expander has not met: from the shared table, or run for real.
    #[cold]
    #[inline(never)]
    fn new_effect(&mut self, local: u32, input: u32, msg: u32) -> Effect {
        let key = EffectKey { local, input, msg };
        let packed = EffectTable::key(local, input, msg);
        let sends_start = self.sends.len() as u32;
        // Copied out under the shard's lock (no clone of the step's list of sends).
        let known = {
            let shard = self.inner.effects.shard(key);
            let effect = shard.get(packed);
            effect.map(|effect| shard.copy_out(packed, effect, &mut self.sends))
        };
        let (next, problem) = match known {
            Some(known) => known,
            None => {
                let (before, delivered) = {
                    let shared = self.inner.lock();
                    (
                        Arc::clone(&shared.clients[local as usize]),
                        (input & (3 << 28) == INPUT_DELIVER)
                            .then(|| shared.messages[msg as usize].clone()),
                    )
                };
                // Run outside any lock; another thread may meanwhile run the same step, with
                // the same result (interning an equal value again gives the same number): the
                // first to remember it wins.
                let run = run_step(&self.inner, &before, delivered, key);
                let step = intern_step(&self.inner, &mut self.inner.lock(), run);
                let mut shard = self.inner.effects.shard(key);
                let effect = shard.remember(packed, step);
                shard.copy_out(packed, effect, &mut self.sends)
            }
        };
        let effect = Effect {
            next,
            sends_start,
            sends_len: self.sends.len() as u32 - sends_start,
            problem: match problem {
                Some(finding) => {
                    self.problems.push(finding);
                    self.problems.len() as u32
                }
                None => 0,
            },
        };
        self.effects.insert(local, input, msg, effect);
        effect
    }

    /// The one-word summary of a client state (see `summaries`).
    #[inline]
    fn summary(&mut self, local: u32) -> u64 {
        match self.summaries.get(local as usize) {
            Some(&summary) => summary,
            None => {
                self.sync_infos();
                self.summaries[local as usize]
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn sync_infos(&mut self) {
        let shared = self.inner.lock();
        let have = self.summaries.len();
        self.summaries.extend_from_slice(&shared.summaries[have..]);
        let have = self.ledger_lengths.len();
        self.ledger_parents
            .extend_from_slice(&shared.ledger_parents[have..]);
        self.ledger_lengths
            .extend_from_slice(&shared.ledger_lengths[have..]);
    }

    /// Is one of the two ledgers a prefix of the other? Walks the longer one back to the
    /// shorter one's length (both numbers are known: their clients' summaries were synced).
    #[inline]
    fn is_prefix(&self, first: u32, second: u32) -> bool {
        let (mut short, mut long) = (first, second);
        if self.ledger_lengths[short as usize] > self.ledger_lengths[long as usize] {
            std::mem::swap(&mut short, &mut long);
        }
        let length = self.ledger_lengths[short as usize];
        while self.ledger_lengths[long as usize] > length {
            long = self.ledger_parents[long as usize];
        }
        short == long
    }

    /// Where two ledgers first differ: the length of their longest common prefix, found by
    /// walking both chains back to a common ledger (`None` if one is a prefix of the other).
    fn fork(&self, first: u32, second: u32) -> Option<u32> {
        if self.is_prefix(first, second) {
            return None;
        }
        let length = |ledger: u32| self.ledger_lengths[ledger as usize];
        let parent = |ledger: u32| self.ledger_parents[ledger as usize];
        let (mut a, mut b) = (first, second);
        while length(a) > length(b) {
            a = parent(a);
        }
        while length(b) > length(a) {
            b = parent(b);
        }
        while a != b {
            (a, b) = (parent(a), parent(b));
        }
        Some(length(a))
    }

    fn sync_orders(&mut self, msg: u32) {
        if msg as usize >= self.orders.len() {
            let shared = self.inner.lock();
            let have = self.orders.len();
            self.orders.extend_from_slice(&shared.orders[have..]);
        }
    }

    /// Puts `msg` into `self.list` (a bag link's messages): before the first message with a
    /// larger content, so that the order depends on the contents only.
    fn insert_sorted(&mut self, msg: u32) {
        let highest = self.list.iter().copied().chain([msg]).max().unwrap_or(msg);
        self.sync_orders(highest);
        let order = &self.orders[msg as usize];
        let position = self
            .list
            .iter()
            .position(|&other| self.orders[other as usize].cmp(order) == Ordering::Greater)
            .unwrap_or(self.list.len());
        self.list.insert(position, msg);
    }

    /// The delivery of message `msg`, at `pos` of link `link`.
    #[inline(always)]
    fn deliver(
        &mut self,
        state: &[u8],
        out: &mut Successors<SystemStep>,
        link: usize,
        pos: usize,
        msg: u32,
    ) {
        let (from, to) = self.inner.links[link];
        let receiver = to as usize - 1;
        let step = SystemStep {
            kind: StepKind::Deliver,
            client: receiver as u8,
            link: link as u8,
            pos: pos as u8,
            msg,
        };
        if self.current.down(receiver) {
            let removal = Edit {
                remove: Some((link, pos)),
                ..Edit::default()
            };
            self.emit(state, out, step, removal);
            return;
        }
        let local = self.current.locals[receiver];
        let effect = self.effect(local, INPUT_DELIVER | from, msg);
        if self.all_fifo {
            self.emit_step(state, out, step, receiver, effect, false, link);
            return;
        }
        let edit = Edit {
            remove: Some((link, pos)),
            ..Edit::step(receiver, effect)
        };
        self.emit(state, out, step, edit);
    }

    /// [`Self::emit`] for the common case, every link FIFO: `client` takes a step with
    /// `effect` (its next local state, its sends appended to its links), having been asked
    /// for a transfer (`issued`) or having received the first message of link `removed`
    /// (`usize::MAX`: none). A link the client receives on is never one it sends on, so each
    /// changed link either loses its first message or gains messages at its end.
    #[allow(clippy::too_many_arguments)]
    fn emit_step(
        &mut self,
        state: &[u8],
        out: &mut Successors<SystemStep>,
        step: SystemStep,
        client: usize,
        effect: Effect,
        issued: bool,
        removed: usize,
    ) {
        let SystemExpander {
            scratch,
            sends,
            current,
            link_index,
            problems,
            ..
        } = self;
        let n = current.n;
        let sends =
            &sends[effect.sends_start as usize..(effect.sends_start + effect.sends_len) as usize];
        let links = &link_index[client * n..client * n + n];
        let mut changed: u64 = if removed == usize::MAX {
            0
        } else {
            1 << removed
        };
        for &(to, _) in sends {
            changed |= 1 << links[usize::from(to)];
        }
        // At most: the state, a longer local number and count per changed link, the sends.
        let most = state.len() + 5 + 10 * (sends.len() + 1);
        if scratch.len() < most {
            scratch.resize(most.next_power_of_two(), 0);
        }
        let buffer = &mut scratch[..];
        let start = if client == 0 {
            0
        } else {
            current.local_ends[client - 1] as usize
        };
        let mut at = copy_bytes(buffer, 0, &state[..start]);
        at = write_varint(buffer, at, effect.next);
        let mut run_start = current.local_ends[client] as usize;
        // Where the bytes of [`fixed_bytes`] are in `buffer`.
        let base = at + current.local_ends[n - 1] as usize - run_start;
        while changed != 0 {
            let link = changed.trailing_zeros() as usize;
            changed &= changed - 1;
            at = copy_bytes(
                buffer,
                at,
                &state[run_start..current.link_bytes[link] as usize],
            );
            run_start = current.link_bytes[link + 1] as usize;
            let count = (current.starts[link + 1] - current.starts[link]) as usize;
            if link == removed {
                at = write_varint(buffer, at, count as u32 - 1);
                at = copy_bytes(
                    buffer,
                    at,
                    &state[current.head_ends[link] as usize..run_start],
                );
            } else {
                let gets = sends
                    .iter()
                    .filter(|&&(to, _)| usize::from(links[usize::from(to)]) == link)
                    .count();
                at = write_varint(buffer, at, (count + gets) as u32);
                at = copy_bytes(buffer, at, &state[current.bodies[link] as usize..run_start]);
                for &(to, msg) in sends {
                    if usize::from(links[usize::from(to)]) == link {
                        at = write_varint(buffer, at, msg);
                    }
                }
            }
        }
        at = copy_bytes(buffer, at, &state[run_start..]);
        if issued {
            buffer[base + issued_at(n, self.faults) + client] += 1;
        }
        let encoding = &buffer[..at];
        out.buffer().extend_from_slice(encoding);
        out.push_hashed(step, true, hash_bytes(encoding));
        if effect.problem != 0 {
            out.flag_last(problems[effect.problem as usize - 1].clone());
        }
    }

    /// Writes the successor `edit` makes of `state` (decoded in `self.current`) and pushes it.
    ///
    /// The successor is written into `self.scratch` (a plain slice, long enough for any
    /// successor of `state`: no length to keep up to date per byte, no call per copy) and
    /// appended to `out` in one copy. Unchanged parts are copied from `state` in runs; a link
    /// that only loses its first message or gains messages at its end (FIFO) is written as
    /// its new count, its other messages' bytes as they are and the new messages; anything
    /// else (a message taken from the middle, a copy, a bag that gains a message) through
    /// the list of its messages.
    fn emit(
        &mut self,
        state: &[u8],
        out: &mut Successors<SystemStep>,
        step: SystemStep,
        edit: Edit,
    ) {
        let n = self.current.n;
        let head_at = self.current.local_ends[n - 1] as usize;
        // The links that change: those the sender's messages go to, and the one a message
        // leaves or is copied on.
        let (sender, sends) = match edit.effect {
            Some((sender, effect)) => (
                sender,
                effect.sends_start as usize..(effect.sends_start + effect.sends_len) as usize,
            ),
            None => (0, 0..0),
        };
        let mut changed: u64 = 0;
        for index in sends.clone() {
            let (to, _) = self.sends[index];
            changed |= 1 << self.link_index[sender * n + usize::from(to)];
        }
        if let Some((link, _)) = edit.remove {
            changed |= 1 << link;
        }
        if let Some((link, _)) = edit.copy {
            changed |= 1 << link;
        }
        // At most: the state, a longer local number, a longer count per changed link, the
        // messages sent and a copied one.
        let most = state.len() + 5 + 5 * (changed.count_ones() as usize + sends.len() + 1);
        if self.scratch.len() < most {
            self.scratch.resize(most.next_power_of_two(), 0);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let buffer = &mut scratch[..];
        let mut at = 0;
        let mut run_start = 0;
        if let Some((client, local)) = edit.client {
            let start = if client == 0 {
                0
            } else {
                self.current.local_ends[client - 1] as usize
            };
            at = copy_bytes(buffer, at, &state[..start]);
            at = write_varint(buffer, at, local);
            run_start = self.current.local_ends[client] as usize;
        }
        // Where the bytes of [`fixed_bytes`] are in `buffer`.
        let base = at + head_at - run_start;
        while changed != 0 {
            let link = changed.trailing_zeros() as usize;
            changed &= changed - 1;
            at = copy_bytes(
                buffer,
                at,
                &state[run_start..self.current.link_bytes[link] as usize],
            );
            run_start = self.current.link_bytes[link + 1] as usize;
            let removed = edit.remove.filter(|&(l, _)| l == link).map(|(_, pos)| pos);
            let copied = edit.copy.is_some_and(|(l, _)| l == link);
            let fifo = self.fifo[link];
            let mut gets = 0;
            for index in sends.clone() {
                let (to, _) = self.sends[index];
                gets +=
                    usize::from(usize::from(self.link_index[sender * n + usize::from(to)]) == link);
            }
            if !copied && removed.is_none_or(|pos| pos == 0) && (fifo || gets == 0) {
                let count = self.current.count(link) as usize;
                let count = count - usize::from(removed.is_some()) + gets;
                at = write_varint(buffer, at, count as u32);
                let body = if removed.is_some() {
                    self.current.head_ends[link]
                } else {
                    self.current.bodies[link]
                } as usize;
                at = copy_bytes(buffer, at, &state[body..run_start]);
                if gets > 0 {
                    for index in sends.clone() {
                        let (to, msg) = self.sends[index];
                        if usize::from(self.link_index[sender * n + usize::from(to)]) == link {
                            at = write_varint(buffer, at, msg);
                        }
                    }
                }
                continue;
            }
            self.list.clear();
            self.list.extend_from_slice(self.current.link(link));
            if let Some(pos) = removed {
                self.list.remove(pos);
            }
            if let Some((_, pos)) = edit.copy.filter(|_| copied) {
                // The copy travels right behind the original (on a bag link, equal messages
                // sit together anyway).
                let msg = self.list[pos];
                self.list.insert(pos + 1, msg);
            }
            for index in sends.clone() {
                let (to, msg) = self.sends[index];
                if usize::from(self.link_index[sender * n + usize::from(to)]) != link {
                    continue;
                }
                if fifo {
                    self.list.push(msg);
                } else {
                    self.insert_sorted(msg);
                }
            }
            at = write_varint(buffer, at, self.list.len() as u32);
            for &msg in &self.list {
                at = write_varint(buffer, at, msg);
            }
        }
        at = copy_bytes(buffer, at, &state[run_start..]);
        // Statuses, losses and duplications change only where faults are possible, and only
        // then are they encoded.
        debug_assert!(self.faults || (edit.status.is_none() && !edit.lost && !edit.duplicated));
        if let Some((client, status)) = edit.status {
            buffer[base + client] = status;
        }
        if let Some(client) = edit.issued {
            buffer[base + issued_at(n, self.faults) + client] += 1;
        }
        if edit.lost {
            buffer[base + 2 * n] += 1;
        }
        if edit.duplicated {
            buffer[base + 2 * n + 1] += 1;
        }
        debug_assert!(at > 0);
        out.buffer().extend_from_slice(&buffer[..at]);
        self.scratch = scratch;
        out.push(step, true);
        if let Some((_, effect)) = edit.effect.filter(|(_, effect)| effect.problem != 0) {
            out.flag_last(self.problems[effect.problem as usize - 1].clone());
        }
    }

    /// The positions of a link worth a step. A delivery takes the head of a FIFO link; a
    /// fault may hit any position of a FIFO link. On a bag link, each distinct message once
    /// (equal messages give equal successors).
    fn candidates(&self, link: usize, fault: bool, positions: &mut Vec<usize>) {
        positions.clear();
        let messages = self.current.link(link);
        let (from, to) = self.inner.links[link];
        if self.inner.config.rule(from, to).fifo {
            let last = if fault {
                messages.len()
            } else {
                messages.len().min(1)
            };
            positions.extend(0..last);
            return;
        }
        positions.extend(
            (0..messages.len()).filter(|&pos| pos == 0 || messages[pos] != messages[pos - 1]),
        );
    }

    /// The timer step of `client`, if it changes anything.
    fn timer_effect(&mut self, local: u32) -> Option<Effect> {
        if self.summary(local) & INSIDE == 0 {
            return None;
        }
        let effect = self.effect(local, INPUT_TIMER, 0);
        (effect.next != local || effect.sends_len > 0).then_some(effect)
    }

    fn describe_waiter(&self, local: u32) -> String {
        let shared = self.inner.lock();
        let client = &shared.clients[local as usize];
        let id = client.id();
        match client.wait_reason() {
            None => format!("client {id} has transfers queued but never asks for the mutex"),
            Some(reason) => describe_wait(id, &reason),
        }
    }
}

fn describe_wait(id: ClientId, reason: &WaitReason) -> String {
    let (ts, _) = reason.request;
    let mut text = format!("client {id} waits with request ({ts},{id})");
    let mut because = Vec::new();
    if let Some((head_ts, head_id)) = reason.queued_behind {
        because.push(format!("behind ({head_ts},{head_id}) in its queue"));
    }
    if !reason.silent_peers.is_empty() {
        let peers: Vec<String> = reason
            .silent_peers
            .iter()
            .map(|(peer, seen)| format!("client {peer} (latest {seen})"))
            .collect();
        because.push(format!(
            "with nothing later than {ts} from {}",
            peers.join(", ")
        ));
    }
    if !reason.missing_replies.is_empty() {
        let peers: Vec<String> = reason
            .missing_replies
            .iter()
            .map(|p| p.to_string())
            .collect();
        because.push(format!(
            "without a REPLY from {} {}",
            clients_word(peers.len()),
            peers.join(", ")
        ));
    }
    if !reason.missing_acks.is_empty() {
        let peers: Vec<String> = reason.missing_acks.iter().map(|p| p.to_string()).collect();
        because.push(format!(
            "inside, without UPDATED from {} {}",
            clients_word(peers.len()),
            peers.join(", ")
        ));
    }
    if !because.is_empty() {
        let _ = write!(text, " {}", because.join(" and "));
    }
    text
}

/// "client" or "clients", for a list of that many client ids.
fn clients_word(listed: usize) -> &'static str {
    if listed == 1 { "client" } else { "clients" }
}

impl Expander for SystemExpander {
    type Step = SystemStep;

    fn expand(&mut self, state: &[u8], out: &mut Successors<SystemStep>) {
        // `self.inner` is read in place (no clone of the `Arc`: an atomic increment per state).
        let n = self.inner.config.clients as usize;
        let links = self.inner.links.len();
        self.current.decode(state, n, links, self.lean, self.faults);
        let mut positions = std::mem::take(&mut self.positions);
        // Fetch the remembered steps of the likely inputs ahead of their turn.
        for client in 0..n {
            let issued = u32::from(self.current.issued[client]);
            let local = self.current.locals[client];
            self.effects.prefetch(local, INPUT_ISSUE | issued, 0);
        }
        for link in 0..links {
            if self.current.count(link) > 0 {
                let msg = self.current.heads[link];
                let (from, to) = self.inner.links[link];
                let local = self.current.locals[to as usize - 1];
                self.effects.prefetch(local, INPUT_DELIVER | from, msg);
            }
        }
        let step = |kind, client: usize| SystemStep {
            kind,
            client: client as u8,
            ..SystemStep::default()
        };
        // Issue the next transfer.
        for client in 0..n {
            let issued = usize::from(self.current.issued[client]);
            if self.current.down(client) || issued >= self.transfer_counts[client] {
                continue;
            }
            let effect = self.effect(self.current.locals[client], INPUT_ISSUE | issued as u32, 0);
            if self.all_fifo {
                let step = step(StepKind::Issue, client);
                self.emit_step(state, out, step, client, effect, true, usize::MAX);
                continue;
            }
            let edit = Edit {
                issued: Some(client),
                ..Edit::step(client, effect)
            };
            self.emit(state, out, step(StepKind::Issue, client), edit);
        }
        // Leave the critical section.
        for client in 0..n {
            if self.current.down(client) {
                continue;
            }
            let local = self.current.locals[client];
            if let Some(effect) = self.timer_effect(local) {
                if self.all_fifo {
                    let step = step(StepKind::Timer, client);
                    self.emit_step(state, out, step, client, effect, false, usize::MAX);
                    continue;
                }
                let edit = Edit::step(client, effect);
                self.emit(state, out, step(StepKind::Timer, client), edit);
            }
        }
        // Deliver.
        for link in 0..links {
            if self.fifo[link] {
                // Only the oldest message of a FIFO link is in reach.
                if self.current.count(link) > 0 {
                    let msg = self.current.heads[link];
                    self.deliver(state, out, link, 0, msg);
                }
                continue;
            }
            self.candidates(link, false, &mut positions);
            for &pos in &positions {
                let msg = self.current.link(link)[pos];
                self.deliver(state, out, link, pos, msg);
            }
        }
        // Restart.
        for client in 0..n {
            let used = self.current.crashes_used(client);
            if !self.current.down(client) || !self.inner.config.crashes[client][used - 1].restarts {
                continue;
            }
            let keep = u32::from(self.inner.config.crashes[client][used - 1].keep_ledger);
            let effect = self.effect(self.current.locals[client], INPUT_RESTART | keep, 0);
            let edit = Edit {
                status: Some((client, self.current.status[client] & !1)),
                ..Edit::step(client, effect)
            };
            self.emit(state, out, step(StepKind::Restart, client), edit);
        }
        // Faults: lose, duplicate, crash.
        if self.current.losses < self.inner.config.max_losses {
            for link in 0..links {
                let (from, to) = self.inner.links[link];
                if !self.inner.config.rule(from, to).lossy {
                    continue;
                }
                self.candidates(link, true, &mut positions);
                for &pos in &positions {
                    let step = SystemStep {
                        kind: StepKind::Lose,
                        client: (from - 1) as u8,
                        link: link as u8,
                        pos: pos as u8,
                        msg: self.current.link(link)[pos],
                    };
                    let edit = Edit {
                        remove: Some((link, pos)),
                        lost: true,
                        ..Edit::default()
                    };
                    self.emit(state, out, step, edit);
                }
            }
        }
        if self.current.duplicates < self.inner.config.max_duplicates {
            for link in 0..links {
                let (from, to) = self.inner.links[link];
                if !self.inner.config.rule(from, to).duplicating {
                    continue;
                }
                self.candidates(link, true, &mut positions);
                for &pos in &positions {
                    let step = SystemStep {
                        kind: StepKind::Duplicate,
                        client: (from - 1) as u8,
                        link: link as u8,
                        pos: pos as u8,
                        msg: self.current.link(link)[pos],
                    };
                    let edit = Edit {
                        copy: Some((link, pos)),
                        duplicated: true,
                        ..Edit::default()
                    };
                    self.emit(state, out, step, edit);
                }
            }
        }
        for client in 0..n {
            let used = self.current.crashes_used(client);
            if self.current.down(client) || used >= self.crash_counts[client] {
                continue;
            }
            let edit = Edit {
                status: Some((client, (((used + 1) as u8) << 1) | 1)),
                ..Edit::default()
            };
            self.emit(state, out, step(StepKind::Crash, client), edit);
        }
        self.positions = positions;
    }

    fn check(&mut self, state: &[u8]) -> Option<Finding> {
        let n = self.inner.config.clients as usize;
        let (head, in_flight) = Head::decode(state, n, self.inner.links.len(), self.faults);
        self.check_global(&head, in_flight)
    }
}

impl SystemExpander {
    /// `global`'s messages are not decoded; `in_flight` says whether there are any.
    fn check_global(&mut self, global: &Head, in_flight: bool) -> Option<Finding> {
        let n = global.n;
        let mut summaries = [0; MAX_CLIENTS];
        for (summary, &local) in summaries.iter_mut().zip(global.locals()) {
            *summary = self.summary(local);
        }
        // The common case, from one word per client: nothing is wrong and a message is in
        // flight. Anything else takes the full check below.
        if in_flight {
            let mut inside = 0;
            let mut suspect = false;
            for (client, &summary) in summaries[..n].iter().enumerate() {
                inside += usize::from(summary & INSIDE != 0 && !global.down(client));
                suspect |= summary & PROBLEM != 0;
            }
            for a in 0..n {
                let first = summaries[a] >> LEDGER_SHIFT;
                for &second in &summaries[a + 1..n] {
                    let second = second >> LEDGER_SHIFT;
                    if first != second {
                        suspect |= !self.is_prefix(first as u32, second as u32);
                    }
                }
            }
            if inside < 2 && !suspect {
                return None;
            }
        }
        let inside = |client: usize| !global.down(client) && summaries[client] & INSIDE != 0;
        // mutual_exclusion: two clients inside (a crashed client is not inside).
        if (0..n).filter(|&client| inside(client)).nth(1).is_some() {
            let shared = self.inner.lock();
            let listed: Vec<String> = (0..n)
                .filter(|&client| inside(client))
                .map(|client| {
                    let state = &shared.clients[global.locals[client] as usize];
                    let id = state.id();
                    let ts = match state.phase() {
                        Phase::Inside { ts, .. } => *ts,
                        _ => 0,
                    };
                    format!("client {id} with request ({ts},{id})")
                })
                .collect();
            return Some(Finding {
                name: Invariant::MutualExclusion.name(),
                detail: format!(
                    "{} are inside the critical section at the same time",
                    listed.join(" and ")
                ),
                stuck: false,
            });
        }
        // Each client's own ledger and table.
        if let Some(client) = (0..n).find(|&client| summaries[client] & PROBLEM != 0) {
            return self
                .inner
                .lock()
                .client_problems
                .get(&global.locals[client])
                .cloned();
        }
        // ledger_agreement: of every two ledgers, one is a prefix of the other.
        let ledger = |client: usize| (summaries[client] >> LEDGER_SHIFT) as u32;
        for a in 0..n {
            for b in a + 1..n {
                if let Some(index) = self.fork(ledger(a), ledger(b)) {
                    return Some(Finding {
                        name: Invariant::LedgerAgreement.name(),
                        detail: format!(
                            "client {} and client {} hold different blocks at index {index}: \
                             neither ledger is a prefix of the other",
                            a + 1,
                            b + 1
                        ),
                        stuck: false,
                    });
                }
            }
        }
        // Is any step of the protocol possible? (Faults do not count: a state that only a
        // loss, duplication or crash could leave is stuck.)
        if in_flight {
            return None;
        }
        let inner = Arc::clone(&self.inner);
        let config = &inner.config;
        for client in 0..n {
            let down = global.down(client);
            if !down && usize::from(global.issued[client]) < config.transfers[client].len() {
                return None;
            }
            let used = global.crashes_used(client);
            if down && config.crashes[client][used - 1].restarts {
                return None;
            }
            if !down && self.timer_effect(global.locals[client]).is_some() {
                return None;
            }
        }
        // Stuck: a client with work left is deadlocked.
        let waiting: Vec<u32> = (0..n)
            .filter(|&client| !global.down(client) && summaries[client] & HAS_WORK != 0)
            .map(|client| global.locals[client])
            .collect();
        if !waiting.is_empty() {
            let who: Vec<String> = waiting
                .iter()
                .map(|&local| self.describe_waiter(local))
                .collect();
            return Some(Finding {
                name: Invariant::Liveness.name(),
                detail: format!(
                    "deadlock: no step is possible and nothing is in flight, but {}",
                    who.join("; ")
                ),
                stuck: true,
            });
        }
        // Quiescent: every ledger must be equal (they are prefixes of each other by now).
        let length = |client: usize| self.ledger_lengths[ledger(client) as usize];
        for client in 1..n {
            if length(client) != length(0) {
                return Some(Finding {
                    name: Invariant::LedgerAgreement.name(),
                    detail: format!(
                        "nothing is left to happen, but client 1 holds {} and client {} holds {}",
                        count(length(0), "block"),
                        client + 1,
                        length(client)
                    ),
                    stuck: true,
                });
            }
        }
        None
    }
}
