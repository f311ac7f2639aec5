//! The explored system: N real client state machines and the network between them. The
//! clients are the built-in [`Client`](crate::protocol::Client)s, or nodes of another
//! implementation wrapped in [`Tracked`] (see [`node`](self::node) for what the explorer
//! needs of a client).
//!
//! # Global states and their encoding
//!
//! A global state is: each client's local state, whether it is down and how many of its
//! crashes it has used, how many of its transfers it has been asked to make, how many
//! messages have been lost and duplicated, and the messages in flight on every directed link
//! (in order on a FIFO link; as a multiset, sorted by content, on a bag link).
//!
//! Clients and messages are *interned*: every distinct client state (by its `Eq`: for the
//! built-in `Client` the derived one, so every field of the real state machine counts; hashed
//! by [`ExploredNode::state_hash`], for `Client` from a few of its parts) and every
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
//! the client's state machine the first time it is taken, and a table look-up afterwards.

mod check;
mod config;
mod effects;
mod emit;
mod encoding;
mod expander;
mod intern;
mod misstep;
mod node;
mod reduce;
mod step_table;

use std::sync::{Arc, Mutex, MutexGuard};

use crate::protocol::{Client, ClientId, Message};

pub(crate) use config::{CrashRule, LinkRule, PlannedTransfer, SystemConfig};
use effects::SharedEffects;
#[cfg(test)]
pub(crate) use expander::SystemExpander;
use intern::{Shared, intern_client};
pub(crate) use node::{ExploredNode, Tracked};
#[cfg(test)]
pub(crate) use reduce::{BoundModel, Reach, ReductionFigures, oracle_figures};

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

struct Inner<N> {
    config: SystemConfig,
    links: Vec<(ClientId, ClientId)>,
    initial_total: u128,
    shared: Mutex<Shared<N>>,
    effects: SharedEffects,
    initial_locals: Vec<u32>,
}

/// The client system as a [`Model`](super::search::Model), its clients of type `N` (by
/// default the built-in [`Client`]). Cloning shares the interned tables.
pub struct SystemModel<N = Client> {
    inner: Arc<Inner<N>>,
    /// Expand states with partial-order reduction (see [`reduce`]).
    reduce: bool,
    /// Where the expanders add up their `ReductionFigures` (a test's), if they count them.
    #[cfg(test)]
    figures: Option<Arc<Mutex<reduce::ReductionFigures>>>,
}

impl<N> Clone for SystemModel<N> {
    fn clone(&self) -> Self {
        SystemModel {
            inner: Arc::clone(&self.inner),
            reduce: self.reduce,
            #[cfg(test)]
            figures: self.figures.clone(),
        }
    }
}

impl SystemModel {
    /// The system of the built-in clients `config` describes.
    pub fn new(config: SystemConfig) -> Self {
        let clients = config.initial_clients();
        SystemModel::with_clients(config, clients)
    }
}

impl<N: ExploredNode> SystemModel<N> {
    /// The system of `clients` (in their initial state, in id order) as `config` describes.
    pub fn with_clients(config: SystemConfig, clients: Vec<N>) -> Self {
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
            reduce: false,
            #[cfg(test)]
            figures: None,
        }
    }

    /// The same model (sharing what was interned), expanded with partial-order reduction
    /// or without.
    pub fn reducing(&self, reduce: bool) -> Self {
        SystemModel {
            inner: Arc::clone(&self.inner),
            reduce,
            #[cfg(test)]
            figures: self.figures.clone(),
        }
    }

    /// A bit per client with a link to it that `pick` selects.
    fn receivers(&self, pick: impl Fn(LinkRule) -> bool) -> u32 {
        self.inner
            .links
            .iter()
            .filter(|&&(from, to)| pick(self.inner.config.rule(from, to)))
            .fold(0, |mask, &(_, to)| mask | 1 << to.index())
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

    /// The clients in their initial state, in id order.
    pub fn initial_clients(&self) -> Vec<N> {
        let shared = self.inner.lock();
        self.inner
            .initial_locals
            .iter()
            .map(|&local| N::clone(&shared.clients[local as usize]))
            .collect()
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

impl<N> Inner<N> {
    fn lock(&self) -> MutexGuard<'_, Shared<N>> {
        self.shared
            .lock()
            .expect("no thread panics while holding the tables")
    }
}

/// The most clients a model takes (the settings allow fewer).
pub const MAX_CLIENTS: usize = 8;
