//! Exhaustive exploration of a client of one's own: any [`Node`] whose state can be cloned,
//! compared and hashed, explored as the built-in clients are (docs/explore.md, "Exploring a
//! client of your own").

use std::hash::Hash;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, PoisonError};

use super::replay::{describe_step, write_trace};
use super::search::{NODE_ERROR, Order, SearchOptions, Stop};
use super::settings::{Channels, Overrides, from_scenario};
use super::system::{SystemModel, Tracked};
use super::{default_memory_budget, explore_model};
use crate::protocol::{Amount, ClientConfig, ClientId, Node};
use crate::scenario::Scenario;

/// How far [`explore_nodes`] searches, and over which channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExploreOptions {
    /// Take the steps of some clients only where that misses nothing (partial-order
    /// reduction, docs/explore.md); `false` takes every interleaving. On by default.
    pub reduce: bool,
    /// Stop once this many distinct states are stored; `None` (the default): no bound.
    pub max_states: Option<u64>,
    /// Do not expand states this many steps from the start; `None` (the default): no bound.
    pub max_depth: Option<u32>,
    /// Threads for the search (default 1; 0 counts as 1); the results do not depend on it.
    pub jobs: usize,
    /// Go on after the first violation, for the shortest path to each invariant broken.
    pub keep_going: bool,
    /// Every link a bag (any message in flight may be delivered next), whatever the scenario
    /// says of its links.
    pub bag: bool,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            reduce: true,
            max_states: None,
            max_depth: None,
            jobs: 1,
            keep_going: false,
            bag: false,
        }
    }
}

/// What [`explore_nodes`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeExploration {
    /// Distinct global states explored.
    pub states: u64,
    /// Steps taken between them.
    pub transitions: u64,
    /// The longest shortest path, in steps.
    pub depth: u32,
    /// Every reachable state was explored (no bound cut the search short) or the search
    /// stopped at a violation: what it says holds for the whole state space.
    pub conclusive: bool,
    /// The violations found, in the order found: the first only, unless
    /// [`ExploreOptions::keep_going`].
    pub violations: Vec<ExploredViolation>,
}

impl NodeExploration {
    /// No violation or deadlock was found.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }
}

/// A violation the search found, with the path to it replayed through the simulator's
/// checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExploredViolation {
    /// The invariant broken (docs/spec.md section 4), or `liveness` for a deadlock.
    pub invariant: &'static str,
    /// What is wrong, in one sentence.
    pub detail: String,
    /// The path from the initial state, one line per step in words.
    pub steps: Vec<String>,
    /// The path as a JSON Lines trace (docs/spec.md section 3), for `lamport-ledger check`
    /// and `render`.
    pub trace: Vec<u8>,
    /// The simulator's checker, fed the replayed path, found this invariant broken too.
    pub checker_agrees: bool,
}

/// Why a scenario cannot be explored, or why its nodes cannot be, in one sentence.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExploreError(String);

/// Explores every reachable state of `scenario`'s clients as `make` builds them (from each
/// client's settings and the initial balances), every order of their steps, and checks the
/// safety invariants in each state and for deadlock, as `lamport-ledger explore` does for
/// the built-in clients.
///
/// The node's state is what is explored: two states equal by `Eq` are one state, so `Eq`
/// and `Hash` must cover everything its next steps depend on, and a step must depend on
/// nothing else (no clock, no randomness). The node is inside the critical section from an
/// `Entered` output to the next `Exited` one; its `LeaveCriticalSection` timer may fire at
/// any point while it is inside. The scenario gives the clients, the balances, the
/// transfers (their order per client, not their times), the links and the faults, as for
/// `explore` (docs/explore.md).
///
/// A node that takes a step the search cannot follow ends it with an [`ExploreError`]: one
/// sentence naming the client, what it was handling (the delivery of which message from
/// whom, the issue of which transfer, its timer) and the offending output. Such steps: a send
/// to itself or to a client the scenario does not have, or more than 15 sends in one step;
/// an output naming a client the scenario does not have; a `Received` output anywhere but
/// first in a delivery, or from another client than the sender; a `Committed` or `Applied`
/// output for a block its [`Node::ledger`] does not hold; a change of its id; a failure it
/// reports through [`Node::take_failure`]. So is a node `make` builds with another id than
/// its client's. The search meets the steps in a fixed order, so the error is the same
/// whatever `jobs`: that of the first such step it meets (without
/// [`ExploreOptions::keep_going`], a violation met before it ends the search as a violation).
/// A node whose ledger breaks the hash chain, or whose clock goes back, breaks an invariant
/// instead: a violation, as for the built-in clients.
///
/// # Panics
///
/// Where the node's own code panics (its handlers, `Clone`, `Eq` or `Hash`), and where a
/// search outgrows the explorer's tables (more than 2^26 distinct client states or 2^28
/// distinct messages) before a bound stops it.
pub fn explore_nodes<N, F>(
    scenario: &Scenario,
    options: &ExploreOptions,
    make: F,
) -> Result<NodeExploration, ExploreError>
where
    N: Node + Clone + Eq + Hash + Send + Sync + 'static,
    F: FnMut(&ClientConfig, Arc<[Amount]>) -> N,
{
    let overrides = Overrides {
        channels: options.bag.then_some(Channels::Bag),
        ..Overrides::default()
    };
    let setup = from_scenario(scenario.source.clone(), scenario.clone(), &overrides)
        .map_err(|error| ExploreError(error.0))?;
    let nodes = setup.system.initial_nodes(make);
    if let Some((slot, node)) = nodes
        .iter()
        .enumerate()
        .find(|(slot, node)| node.id() != ClientId::from_index(*slot))
    {
        return Err(ExploreError(format!(
            "the node made for client {} says its id is {}",
            ClientId::from_index(slot),
            node.id()
        )));
    }
    let model = SystemModel::with_clients(
        setup.system.clone(),
        nodes.into_iter().map(Tracked::new).collect(),
    );
    let search_options = SearchOptions {
        order: Order::BreadthFirst,
        max_depth: options.max_depth,
        max_states: options.max_states,
        max_memory: Some(default_memory_budget()),
        jobs: options.jobs.max(1),
        keep_going: options.keep_going,
        wanted: None,
        reduce: options.reduce,
    };
    let exploration = explore_model(model, &search_options, None);
    if let Some(error) = exploration
        .result
        .found
        .iter()
        .find(|found| found.finding.name == NODE_ERROR)
    {
        return Err(ExploreError(error.finding.detail.clone()));
    }
    let stats = exploration.result.stats;
    let mut violations = Vec::new();
    for found in &exploration.result.found {
        let buffer = SharedBuffer::default();
        let replayed = write_trace(
            &exploration.model,
            scenario,
            &found.path,
            found.finding.stuck,
            vec![Box::new(buffer.clone())],
        )
        .map_err(|error| ExploreError(format!("replaying the path failed: {error}")))?;
        violations.push(ExploredViolation {
            invariant: found.finding.name,
            detail: found.finding.detail.clone(),
            steps: replayed
                .steps
                .iter()
                .map(|events| describe_step(events))
                .collect(),
            trace: buffer.take(),
            checker_agrees: replayed
                .violations
                .iter()
                .any(|recorded| recorded.violation.invariant.name() == found.finding.name),
        });
    }
    Ok(NodeExploration {
        states: stats.distinct,
        transitions: stats.transitions,
        depth: stats.depth,
        conclusive: matches!(stats.stop, Stop::Exhausted | Stop::Finding),
        violations,
    })
}

/// A trace output that keeps what is written, for the caller to take.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let mut buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
