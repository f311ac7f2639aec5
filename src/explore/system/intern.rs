//! Interning: every distinct client state, message, block and ledger gets a number the
//! first time the search meets it, and each client state a one-word summary of what the
//! invariants need.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::Inner;
use super::node::ExploredNode;
use super::step_table::{MAX_CLIENT_STATES, MAX_MESSAGES};
use crate::check::Invariant;
use hashbrown::HashTable;
use rustc_hash::FxHashMap;

use crate::explore::search::Finding;
use crate::protocol::{Amount, Block, ClientId, GENESIS_PREV, Message, Timestamp};

/// A message as a hash key (`Message` has `Eq` but no `Hash`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct MessageKey(Message);

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
pub(super) type BlockOrder = (
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
pub(super) struct MessageOrder {
    pub(super) kind: &'static str,
    pub(super) ts: Timestamp,
    pub(super) request_ts: Timestamp,
    pub(super) block: Option<BlockOrder>,
}

impl MessageOrder {
    pub(super) fn of(msg: &Message) -> Self {
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
pub(super) struct ClientInfo {
    /// Inside the critical section.
    pub(super) inside: bool,
    /// Has a transfer it has not finished (waiting, inside, or queued).
    pub(super) has_work: bool,
    /// The number of its ledger among the distinct ledgers met (a chain: see `Shared`).
    pub(super) ledger_number: u32,
    /// The invariants its own ledger and table break: the first finding of each.
    pub(super) problems: Vec<Finding>,
    /// Its Lamport clock (the partial-order reduction's progress measure).
    pub(super) clock: u64,
}

pub(super) const INSIDE: u64 = 1;
pub(super) const PROBLEM: u64 = 2;
pub(super) const HAS_WORK: u64 = 4;
pub(super) const LEDGER_SHIFT: u32 = 32;
/// The clock sits in bits 3 to 31 of a summary; [`CLOCK_UNKNOWN`] stands for every clock too
/// large for them.
pub(super) const CLOCK_SHIFT: u32 = 3;
pub(super) const CLOCK_UNKNOWN: u64 = (1 << (LEDGER_SHIFT - CLOCK_SHIFT)) - 1;

/// The clock of a summary word ([`CLOCK_UNKNOWN`] if it does not fit).
pub(super) fn summary_clock(summary: u64) -> u64 {
    (summary >> CLOCK_SHIFT) & CLOCK_UNKNOWN
}

impl ClientInfo {
    pub(super) fn summary(&self) -> u64 {
        u64::from(self.inside)
            | if self.problems.is_empty() { 0 } else { PROBLEM }
            | if self.has_work { HAS_WORK } else { 0 }
            | self.clock.min(CLOCK_UNKNOWN) << CLOCK_SHIFT
            | u64::from(self.ledger_number) << LEDGER_SHIFT
    }
}

/// What every thread shares: the interned clients, messages and blocks, and the remembered
/// client steps.
pub(super) struct Shared<N> {
    pub(super) clients: Vec<Arc<N>>,
    /// Client state numbers by [`ExploredNode::state_hash`] (recomputed from `clients` when the table
    /// grows: 4 bytes an entry).
    pub(super) client_numbers: HashTable<u32>,
    /// Per client state: its summary word (see `SystemExpander::summaries`): 8 bytes for
    /// each of the default scenario's 622,407 client states, not a whole `ClientInfo`.
    pub(super) summaries: Vec<u64>,
    /// Client state number -> what its own ledger or table breaks (rare).
    pub(super) client_problems: FxHashMap<u32, Vec<Finding>>,
    pub(super) messages: Vec<Message>,
    pub(super) message_numbers: FxHashMap<MessageKey, u32>,
    pub(super) orders: Vec<MessageOrder>,
    pub(super) blocks: Vec<Arc<Block>>,
    pub(super) block_numbers: FxHashMap<Block, u32>,
    /// Per block number: whether its hash recomputes by the rule of docs/spec.md section 2. Worked
    /// out once, when the block is interned: a block sits in many ledgers, and SHA-256 over every
    /// block of every new client state's ledger would cost a tenth of the search's time.
    pub(super) block_hash_ok: Vec<bool>,
    /// Ledgers as chains: (the ledger without its last block, that block) -> number. Number 0
    /// is the empty ledger.
    pub(super) ledger_numbers: FxHashMap<(u32, u32), u32>,
    /// Per ledger number: the number of the ledger without its last block, and the length.
    pub(super) ledger_parents: Vec<u32>,
    pub(super) ledger_lengths: Vec<u32>,
}

impl<N> Default for Shared<N> {
    fn default() -> Self {
        Shared {
            clients: Vec::new(),
            client_numbers: HashTable::new(),
            summaries: Vec::new(),
            client_problems: FxHashMap::default(),
            messages: Vec::new(),
            message_numbers: FxHashMap::default(),
            orders: Vec::new(),
            blocks: Vec::new(),
            block_numbers: FxHashMap::default(),
            block_hash_ok: Vec::new(),
            ledger_numbers: FxHashMap::default(),
            ledger_parents: Vec::new(),
            ledger_lengths: Vec::new(),
        }
    }
}

pub(super) fn intern_client<N: ExploredNode>(
    inner: &Inner<N>,
    shared: &mut Shared<N>,
    client: N,
) -> u32 {
    let hash = client.state_hash(inner.config.clients);
    let clients = &shared.clients;
    if let Some(&number) = shared
        .client_numbers
        .find(hash, |&number| *clients[number as usize] == client)
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
    let clients = &shared.clients;
    let peers = inner.config.clients;
    shared
        .client_numbers
        .insert_unique(hash, number, |&number| {
            clients[number as usize].state_hash(peers)
        });
    shared.summaries.push(info.summary());
    if !info.problems.is_empty() {
        shared.client_problems.insert(number, info.problems);
    }
    number
}

pub(super) fn intern_message<N>(shared: &mut Shared<N>, msg: &Message) -> u32 {
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

pub(super) fn intern_block<N>(shared: &mut Shared<N>, block: &Arc<Block>) -> u32 {
    if let Some(&number) = shared.block_numbers.get(&**block) {
        return number;
    }
    let number = shared.blocks.len() as u32;
    shared.block_hash_ok.push(block.spec_hash_ok());
    shared.blocks.push(Arc::clone(block));
    shared.block_numbers.insert((**block).clone(), number);
    number
}

/// The per-client invariants: `chain_integrity` of its ledger (docs/spec.md section 2's hash,
/// whatever rule the client itself uses), `conservation` of its table, and `no_overdraft`
/// along its ledger.
pub(super) fn client_info<N: ExploredNode>(
    inner: &Inner<N>,
    shared: &mut Shared<N>,
    client: &N,
) -> ClientInfo {
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
    let mut problems = Vec::new();
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
                "block {index}'s hash {} does not recompute by the rule of docs/spec.md section 2 \
                 (it should be {})",
                short(&block.hash_value()),
                short(&block.recomputed_hash())
            ))
        } else {
            None
        };
        if let Some(broken) = broken {
            note(&mut problems, Invariant::ChainIntegrity, || {
                format!("client {id}'s ledger: {broken}")
            });
        }
        prev = block.hash_value();
        let (from, to) = (block.from(), block.to());
        if from.is_among(balances.len() as u32) && to.is_among(balances.len() as u32) {
            let balance = balances[from.index()];
            if balance < block.amount() {
                note(&mut problems, Invariant::NoOverdraft, || {
                    format!(
                        "client {id}'s ledger: block {index} has client {from} pay {} with a \
                         balance of {balance}",
                        block.amount()
                    )
                });
            }
            let paid = balance.min(block.amount());
            balances[from.index()] -= paid;
            balances[to.index()] += paid;
        }
    }
    let total = client.ledger().table().total();
    if total != inner.initial_total {
        note(&mut problems, Invariant::Conservation, || {
            format!(
                "client {id}'s balance table sums to {total}, not the initial total {}",
                inner.initial_total
            )
        });
    }
    ClientInfo {
        inside: client.inside().is_some(),
        has_work: client.has_work(),
        ledger_number,
        problems,
        clock: client.clock(),
    }
}

/// Adds a finding of `invariant` to `problems` unless it has one already.
fn note(problems: &mut Vec<Finding>, invariant: Invariant, detail: impl FnOnce() -> String) {
    let name = invariant.name();
    if problems.iter().all(|finding| finding.name != name) {
        problems.push(Finding {
            name,
            detail: detail(),
            stuck: false,
        });
    }
}

pub(super) fn short(hash: &[u8; 32]) -> String {
    crate::protocol::ledger::short_hex(hash)
}
