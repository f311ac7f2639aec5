//! The search itself, the same for every model: breadth-first (shortest counterexamples) or
//! depth-first, over canonical state encodings kept in a [`StateStore`](super::store::StateStore).
//!
//! A [`Model`] gives the initial state and makes [`Expander`]s; an expander lists the
//! successors of a state and checks the invariants of a state seen for the first time. The
//! search numbers the states in the order it discovers them, checks each new state once, and
//! stops at the first finding (or, with `keep_going`, records the first finding of each kind
//! and goes on; or, when it looks for one finding, records the others and goes on until it).
//! A [`NODE_ERROR`] stops it whatever the options.
//!
//! Breadth-first search expands one level at a time, in batches. With `jobs > 1` the states of
//! a batch are expanded on several threads, in chunks, each into its own buffer; the buffers
//! are then merged into the store by one thread in the order the states were numbered, while
//! the other threads expand the next batch of the level. The successors of a state, their
//! order, and the order of insertion are therefore the same whatever the number of threads,
//! and so are the state numbers, the counts, and the counterexample found.

mod breadth_first;
mod depth_first;
mod successors;

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use breadth_first::Run;
pub(crate) use successors::Successors;

/// A broken property: a stable name (an invariant of docs/spec.md section 4, or the TLA+ spec's)
/// and a sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub name: &'static str,
    pub detail: String,
    /// Found because no step is possible (a deadlock, or a check that only applies once
    /// everything has come to rest).
    pub stuck: bool,
}

/// The name of a finding that breaks no property: a client took a step the search cannot
/// follow (a node of another implementation that sends to itself, say). It ends the search
/// whatever the options say, since nothing past it means anything.
pub const NODE_ERROR: &str = "node_error";

/// A model to explore.
pub trait Model: Sync {
    /// How one state leads to the next (found again for the states on a finding's path, not
    /// stored per state).
    type Step: Copy + Default + Send + Sync + std::fmt::Debug;
    type Expander: Expander<Step = Self::Step> + Send;

    /// The encoding of the initial state.
    fn initial(&self, out: &mut Vec<u8>);

    /// A fresh expander (one per thread).
    fn expander(&self) -> Self::Expander;
}

/// Lists successors and checks states. May keep caches, hence `&mut self`.
pub trait Expander {
    type Step: Copy;

    /// Writes the successors of `state` into `out`, in a fixed order that depends only on
    /// the state.
    fn expand(&mut self, state: &[u8], out: &mut Successors<Self::Step>);

    /// The invariants a state seen for the first time breaks (including "no step is
    /// possible"), in a fixed order; empty when it breaks none.
    fn check(&mut self, state: &[u8]) -> Vec<Finding>;
}

/// Breadth-first or depth-first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    BreadthFirst,
    DepthFirst,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchOptions {
    pub order: Order,
    /// Do not expand states this many steps from the initial state.
    pub max_depth: Option<u32>,
    /// Stop once this many distinct states are stored.
    pub max_states: Option<u64>,
    /// Stop before the state store could outgrow this many bytes: at the first successor
    /// whose storing (with the growth of an array or the table it may need) would take the
    /// store past them.
    pub max_memory: Option<usize>,
    /// Threads for breadth-first search.
    pub jobs: usize,
    /// Go on after a finding, keeping the first finding of each name.
    pub keep_going: bool,
    /// Without `keep_going`: the finding the search looks for (a scenario's expected
    /// invariant). Findings of other names are kept and the search goes on until this one, so
    /// it is judged as `run` judges an expectation; `None` stops at the first finding.
    pub wanted: Option<&'static str>,
    /// Partial-order reduction, where the model has one (a scenario's clients; not the
    /// TLA+ port, whose counts are TLC's).
    pub reduce: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            order: Order::BreadthFirst,
            max_depth: None,
            max_states: None,
            max_memory: None,
            jobs: 1,
            keep_going: false,
            wanted: None,
            reduce: false,
        }
    }
}

/// A finding and how to get there.
#[derive(Clone, Debug)]
pub struct Found<S> {
    pub finding: Finding,
    /// The steps from the initial state. For a broken state, the path to it; for a broken
    /// transition, the path to its source followed by the transition.
    pub path: Vec<S>,
}

/// Why the search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Every reachable state was explored.
    Exhausted,
    /// The first finding ended it.
    Finding,
    /// `max_states` distinct states were stored.
    MaxStates,
    /// Storing the next successor could have taken the state store past `max_memory`.
    MaxMemory,
    /// Every state within `max_depth` was explored, and some had successors beyond it.
    MaxDepth,
}

#[derive(Clone, Debug)]
pub struct Stats {
    /// Distinct states stored (inside the model).
    pub distinct: u64,
    /// Successors generated, duplicates and states outside the model included.
    pub transitions: u64,
    /// Successors outside the model (never stored, never expanded).
    pub outside_model: u64,
    /// Steps from the initial state to the farthest state discovered (BFS: the length of the
    /// longest shortest path; DFS: the deepest point of the search).
    pub depth: u32,
    pub stop: Stop,
    pub seconds: f64,
    /// What the state store holds (capacity), in bytes.
    pub store_bytes: usize,
    /// Bytes of state encodings alone.
    pub encoding_bytes: usize,
    pub jobs: usize,
    pub order: Order,
}

pub struct SearchResult<S> {
    pub stats: Stats,
    /// The findings, in the order found (at most one per name).
    pub found: Vec<Found<S>>,
}

/// States per batch and thread.
const BATCH_PER_JOB: usize = 1 << 13;

/// States per chunk with `jobs > 1`: a batch is expanded in chunks, each into its own
/// buffer, claimed by whichever thread is free. One thread expands a batch in one chunk.
const CHUNK: usize = 1 << 10;

/// How far a search has come, for a display on another thread: written after each batch
/// (breadth-first) or every few thousand states (depth-first).
#[derive(Debug, Default)]
pub struct SearchProgress {
    /// Distinct states stored.
    pub states: AtomicU64,
    pub transitions: AtomicU64,
    /// The depth being expanded.
    pub depth: AtomicU32,
}

impl SearchProgress {
    pub(super) fn note(&self, states: usize, transitions: u64, depth: u32) {
        self.states.store(states as u64, Ordering::Relaxed);
        self.transitions.store(transitions, Ordering::Relaxed);
        self.depth.store(depth, Ordering::Relaxed);
    }
}

/// Explores `model`, noting how far it has come in `progress`.
pub fn search<M: Model>(
    model: &M,
    options: &SearchOptions,
    progress: Option<&SearchProgress>,
) -> SearchResult<M::Step> {
    let mut run = Run::new(model, options);
    run.progress = progress;
    let started = Instant::now();
    let stop = match options.order {
        Order::BreadthFirst => run.breadth_first(model),
        Order::DepthFirst => run.depth_first(model),
    };
    let seconds = started.elapsed().as_secs_f64();
    let tally = run.tally;
    SearchResult {
        stats: Stats {
            distinct: run.store.len() as u64,
            transitions: tally.transitions,
            outside_model: tally.outside_model,
            depth: tally.depth,
            stop,
            seconds,
            store_bytes: run.store.memory_bytes(),
            encoding_bytes: run.store.encoding_bytes(),
            jobs: if options.order == Order::BreadthFirst {
                options.jobs.max(1)
            } else {
                1
            },
            order: options.order,
        },
        found: tally.found,
    }
}
