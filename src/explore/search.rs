//! The search itself, the same for every model: breadth-first (shortest counterexamples) or
//! depth-first, over canonical state encodings kept in a [`StateStore`].
//!
//! A [`Model`] gives the initial state and makes [`Expander`]s; an expander lists the
//! successors of a state and checks the invariants of a state seen for the first time. The
//! search numbers the states in the order it discovers them, checks each new state once, and
//! stops at the first finding (or, with `keep_going`, records the first finding of each kind
//! and goes on; or, when it looks for one finding, records the others and goes on until it).
//!
//! Breadth-first search expands one level at a time, in batches. With `jobs > 1` the states of
//! a batch are expanded on several threads, in chunks, each into its own buffer; the buffers
//! are then merged into the store by one thread in the order the states were numbered, while
//! the other threads expand the next batch of the level. The successors of a state, their
//! order, and the order of insertion are therefore the same whatever the number of threads,
//! and so are the state numbers, the counts, and the counterexample found.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, RwLock};
use std::time::Instant;

use super::hash::hash_bytes;
use super::store::{Inserted, MAX_STATES, NO_PARENT, StateStore};

/// A broken property: a stable name (an invariant of SPEC section 4, or the TLA+ spec's) and
/// a sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub name: &'static str,
    pub detail: String,
    /// Found because no step is possible (a deadlock, or a check that only applies once
    /// everything has come to rest).
    pub stuck: bool,
}

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

    /// The invariants of a state seen for the first time (including "no step is possible").
    fn check(&mut self, state: &[u8]) -> Option<Finding>;
}

/// The successors of one or more states, encoded back to back.
pub struct Successors<S> {
    bytes: Vec<u8>,
    items: Vec<Item<S>>,
    /// (item index, what the transition broke).
    problems: Vec<(u32, Finding)>,
    /// (item index, what the state breaks), for the items marked [`Known::Checked`].
    checks: Vec<(u32, Finding)>,
    /// [`Self::sort_out`]'s table of the items not in the store.
    local: Vec<u32>,
    /// For each state expanded into this buffer: where its items end.
    marks: Vec<u32>,
}

#[derive(Clone, Copy)]
struct Item<S> {
    step: S,
    end: u32,
    /// A successor outside the model (TLA+'s state constraint): counted, never stored.
    in_model: bool,
    known: Known,
    /// [`hash_bytes`] of the encoding, once [`Successors::hash_items`] has run.
    hash: u64,
}

/// What the expanding thread found out about a successor before the merge (with `jobs > 1`,
/// so that this work is shared among the threads).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Known {
    Nothing,
    /// Already in the store when the batch began, or equal to an earlier successor in the
    /// same buffer: the merge will find it stored.
    Stored,
    /// Not in the store when the batch began, and checked (its finding, if any, is in
    /// `checks`): if the merge finds it new, it needs no check.
    Checked,
}

impl<S: Copy> Successors<S> {
    pub fn new() -> Self {
        Successors {
            bytes: Vec::with_capacity(1 << 16),
            items: Vec::new(),
            problems: Vec::new(),
            checks: Vec::new(),
            local: Vec::new(),
            marks: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.items.clear();
        self.problems.clear();
        self.checks.clear();
        self.marks.clear();
    }

    /// The buffer to write the next successor's encoding into (append only).
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Closes the successor written into [`Self::buffer`] since the previous push.
    pub fn push(&mut self, step: S, in_model: bool) {
        self.items.push(Item {
            step,
            end: self.bytes.len() as u32,
            in_model,
            known: Known::Nothing,
            hash: 0,
        });
    }

    /// [`Self::push`] for a successor whose [`hash_bytes`] is known already (computed where
    /// its encoding was written, while it is in the cache).
    pub fn push_hashed(&mut self, step: S, in_model: bool, hash: u64) {
        self.items.push(Item {
            step,
            end: self.bytes.len() as u32,
            in_model,
            known: Known::Nothing,
            hash,
        });
    }

    /// Marks the successor pushed last as breaking a property on the way (a transition
    /// invariant such as the clock condition).
    pub fn flag_last(&mut self, finding: Finding) {
        debug_assert!(!self.items.is_empty());
        self.problems.push((self.items.len() as u32 - 1, finding));
    }

    /// How many successors have been pushed since the last state was closed.
    pub fn pending(&self) -> usize {
        self.items.len() - self.marks.last().copied().unwrap_or(0) as usize
    }

    /// Every successor pushed so far: its step, whether it is inside the model, its encoding.
    pub fn iter(&self) -> impl Iterator<Item = (S, bool, &[u8])> + '_ {
        (0..self.items.len()).map(|index| {
            let item = self.items[index];
            (item.step, item.in_model, self.item_bytes(index))
        })
    }

    fn close_state(&mut self) {
        self.marks.push(self.items.len() as u32);
    }

    fn item_bytes(&self, index: usize) -> &[u8] {
        let start = if index == 0 {
            0
        } else {
            self.items[index - 1].end as usize
        };
        &self.bytes[start..self.items[index].end as usize]
    }

    /// Hashes every successor not hashed yet (for the merge, and for [`Self::sort_out`]). A
    /// hash of 0 counts as not known: such a successor is hashed again, to the same value.
    fn hash_items(&mut self) {
        let mut start = 0;
        for item in &mut self.items {
            if item.hash == 0 {
                item.hash = hash_bytes(&self.bytes[start..item.end as usize]);
            }
            start = item.end as usize;
        }
    }

    /// Looks every hashed successor up in `store` (which the merge has not changed yet):
    /// those already there are marked [`Known::Stored`]; the others are checked with
    /// `expander` and marked [`Known::Checked`]. This is the merge's work for most successors
    /// (most are seen before), done on the expanding threads; the merge then skips what is
    /// known and gets the same answers it would have got itself, in the same order.
    fn sort_out<E: Expander<Step = S>>(&mut self, store: &StateStore, expander: &mut E) {
        let size = (self.items.len() * 2).next_power_of_two().max(16);
        self.local.clear();
        self.local.resize(size, 0);
        let mut start = 0;
        for index in 0..self.items.len() {
            if index % PREFETCH_AHEAD == 0 {
                let ahead = (index + PREFETCH_AHEAD).min(self.items.len());
                let end = (index + 2 * PREFETCH_AHEAD).min(self.items.len());
                for item in &self.items[ahead..end] {
                    store.prefetch(item.hash);
                }
            }
            let item = self.items[index];
            let range = start..item.end as usize;
            start = item.end as usize;
            if !item.in_model {
                continue;
            }
            self.items[index].known = if store.contains(&self.bytes[range.clone()], item.hash) {
                Known::Stored
            } else if self.earlier_copy(index, range.start) {
                // The merge meets the first copy first, so it finds this one stored.
                Known::Stored
            } else {
                if let Some(finding) = expander.check(&self.bytes[range]) {
                    self.checks.push((index as u32, finding));
                }
                Known::Checked
            };
        }
    }
}

impl<S: Copy> Successors<S> {
    /// Whether an earlier item of this buffer (not in the store, as it was looked up first) has
    /// the same encoding as item `index`, which starts at `start`; if not, records this one in
    /// `local`, a small table of such items (their index + 1), for the items after it.
    fn earlier_copy(&mut self, index: usize, start: usize) -> bool {
        let hash = self.items[index].hash;
        let bytes = &self.bytes[start..self.items[index].end as usize];
        let mask = self.local.len() - 1;
        let mut at = (hash >> 32) as usize & mask;
        loop {
            let other = self.local[at];
            if other == 0 {
                self.local[at] = index as u32 + 1;
                return false;
            }
            let other = other as usize - 1;
            if self.items[other].hash == hash && self.item_bytes(other) == bytes {
                return true;
            }
            at = (at + 1) & mask;
        }
    }
}

/// The steps from the initial state to state `id`. The store keeps each state's parent but
/// not the step from it (8 bytes a state, a tenth of the store, written once and read only
/// for a finding): each parent on the path is expanded again, and its first successor with the
/// child's encoding is the step the merge recorded the child by, since the merge takes a
/// state's successors in this same order and stores the child at the first equal one.
fn steps_to<E: Expander>(store: &StateStore, expander: &mut E, id: u32) -> Vec<E::Step> {
    let states = store.path_to(id);
    let mut successors = Successors::new();
    states
        .windows(2)
        .map(|pair| {
            successors.clear();
            expander.expand(store.get(pair[0]), &mut successors);
            let child = store.get(pair[1]);
            successors
                .iter()
                .find(|&(_, in_model, bytes)| in_model && bytes == child)
                .map(|(step, _, _)| step)
                .expect("a state's parent has it as a successor")
        })
        .collect()
}

/// How many successors ahead of its lookup a successor's table slot is fetched. The slots
/// are fetched in groups of this many, one after the other: each fetch most often misses the
/// TLB too (the table is in 4 KiB pages), and fetches issued together walk the page tables
/// at the same time.
const PREFETCH_AHEAD: usize = 16;

impl<S: Copy> Default for Successors<S> {
    fn default() -> Self {
        Self::new()
    }
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
    /// Stop before the state store could outgrow this many bytes (it grows by doubling, so
    /// the search stops once the store holds half of it).
    pub max_memory: Option<usize>,
    /// Threads for breadth-first search.
    pub jobs: usize,
    /// Go on after a finding, keeping the first finding of each name.
    pub keep_going: bool,
    /// Without `keep_going`: the finding the search looks for (a scenario's expected
    /// invariant). Findings of other names are kept and the search goes on until this one, so
    /// it is judged as `run` judges an expectation; `None` stops at the first finding.
    pub wanted: Option<&'static str>,
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
    /// The state store reached half of `max_memory`.
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

/// Explores `model`.
pub fn search<M: Model>(model: &M, options: &SearchOptions) -> SearchResult<M::Step> {
    let mut run = Run::new(model, options);
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

struct Run<'o, M: Model> {
    store: StateStore,
    /// Index 0 also checks new states; the others only expand.
    expanders: Vec<M::Expander>,
    tally: Tally<'o, M::Step>,
    scratch: Vec<u8>,
    /// States and encoding bytes the last batch added to the store.
    last_batch: (usize, usize),
    /// A copy of the states being expanded, so that the store can take new states meanwhile.
    sources: Sources,
    /// The buffers of the batch being expanded, one per chunk.
    expanding: Vec<Mutex<Successors<M::Step>>>,
    /// The buffers of the batch expanded before it, waiting for their merge.
    merging: Vec<Mutex<Successors<M::Step>>>,
}

/// What the merge counts and finds.
struct Tally<'o, S> {
    options: &'o SearchOptions,
    found: Vec<Found<S>>,
    transitions: u64,
    outside_model: u64,
    depth: u32,
    /// The depth of the states being merged (their sources').
    source_depth: u32,
}

/// What to do after recording a finding.
#[derive(PartialEq, Eq)]
enum Flow {
    Go,
    Stop(Stop),
}

/// The encodings of a run of consecutive states, copied out of the store.
#[derive(Default)]
struct Sources {
    first: u32,
    bytes: Vec<u8>,
    /// `ends[i]` is where state `first + i` ends in `bytes`.
    ends: Vec<usize>,
}

impl Sources {
    fn load(&mut self, store: &StateStore, start: u32, end: u32) {
        self.first = start;
        store.copy_out(start, end, &mut self.bytes, &mut self.ends);
    }

    fn get(&self, id: u32) -> &[u8] {
        let index = (id - self.first) as usize;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.bytes[start..self.ends[index]]
    }
}

/// Where the states being expanded are read from: a copy while the store takes new states
/// on another thread, else the store itself.
#[derive(Clone, Copy)]
enum Origin<'a> {
    Copy(&'a Sources),
    Store(&'a StateStore),
}

impl<'a> Origin<'a> {
    fn get(self, id: u32) -> &'a [u8] {
        match self {
            Origin::Copy(sources) => sources.get(id),
            Origin::Store(store) => store.get(id),
        }
    }
}

/// A thread's place at the barrier between expanding and sorting out: when dropped before
/// it has waited there (a panic), it waits then, so that the other threads are not left
/// waiting for it; the scope then passes the panic on.
struct Arrival<'b> {
    barrier: &'b Barrier,
    waited: bool,
}

impl Arrival<'_> {
    fn wait(mut self) {
        self.waited = true;
        self.barrier.wait();
    }
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        if !self.waited {
            self.barrier.wait();
        }
    }
}

impl<S: Copy> Tally<'_, S> {
    /// Keeps `finding` if it is the first of its name; `path` makes its path (only then: it
    /// expands a state per step).
    fn record(&mut self, finding: Finding, path: impl FnOnce() -> Vec<S>) -> Flow {
        let finding_name = finding.name;
        if self.found.iter().all(|f| f.finding.name != finding.name) {
            let path = path();
            self.found.push(Found { finding, path });
        }
        let looked_for = self
            .options
            .wanted
            .is_none_or(|wanted| wanted == finding_name);
        if self.options.keep_going || !looked_for {
            Flow::Go
        } else {
            Flow::Stop(Stop::Finding)
        }
    }

    fn full(&self, store: &StateStore) -> bool {
        let limit = self
            .options
            .max_states
            .unwrap_or(u64::MAX)
            .min(u64::from(MAX_STATES));
        store.len() as u64 >= limit
    }

    /// Inserts the successors in `output`, whose states are numbered from `first_source` on,
    /// in order; `expander` checks the new ones not checked yet.
    /// The successors must be hashed ([`Successors::hash_items`]); the hashes are known ahead,
    /// so the table slot of each is fetched from memory a few insertions ahead of its turn.
    fn merge<E: Expander<Step = S>>(
        &mut self,
        store: &mut StateStore,
        expander: &mut E,
        output: &Successors<S>,
        first_source: u32,
    ) -> Flow {
        let mut problems = output.problems.iter().peekable();
        let mut checks = output.checks.iter().peekable();
        let mut from = 0usize;
        for (offset, &mark) in output.marks.iter().enumerate() {
            let source = first_source + offset as u32;
            for index in from..mark as usize {
                if index % PREFETCH_AHEAD == 0 {
                    let ahead = (index + PREFETCH_AHEAD).min(output.items.len());
                    let end = (index + 2 * PREFETCH_AHEAD).min(output.items.len());
                    for item in &output.items[ahead..end] {
                        if item.known != Known::Stored {
                            store.prefetch(item.hash);
                        }
                    }
                }
                self.transitions += 1;
                let item = output.items[index];
                if let Some((_, finding)) = problems.next_if(|(i, _)| *i as usize == index) {
                    let path = || {
                        let mut path = steps_to(store, expander, source);
                        path.push(item.step);
                        path
                    };
                    if let Flow::Stop(stop) = self.record(finding.clone(), path) {
                        return Flow::Stop(stop);
                    }
                }
                if !item.in_model {
                    self.outside_model += 1;
                    continue;
                }
                if self.full(store) {
                    return Flow::Stop(Stop::MaxStates);
                }
                if self
                    .options
                    .max_memory
                    .is_some_and(|budget| store.memory_bytes() > budget / 2)
                {
                    return Flow::Stop(Stop::MaxMemory);
                }
                if item.known == Known::Stored {
                    continue;
                }
                let bytes = output.item_bytes(index);
                if let Inserted::New(id) = store.insert(bytes, item.hash, source) {
                    self.depth = self.depth.max(self.source_depth + 1);
                    let finding = if item.known == Known::Checked {
                        while checks.next_if(|(i, _)| (*i as usize) < index).is_some() {}
                        checks
                            .next_if(|(i, _)| *i as usize == index)
                            .map(|(_, finding)| finding.clone())
                    } else {
                        expander.check(bytes)
                    };
                    if let Some(finding) = finding {
                        let path = || steps_to(store, expander, id);
                        if let Flow::Stop(stop) = self.record(finding, path) {
                            return Flow::Stop(stop);
                        }
                    }
                }
            }
            from = mark as usize;
        }
        Flow::Go
    }
}

impl<'o, M: Model> Run<'o, M> {
    fn new(model: &M, options: &'o SearchOptions) -> Self {
        let jobs = match options.order {
            Order::BreadthFirst => options.jobs.max(1),
            Order::DepthFirst => 1,
        };
        Run {
            store: StateStore::new(),
            expanders: (0..jobs).map(|_| model.expander()).collect(),
            tally: Tally {
                options,
                found: Vec::new(),
                transitions: 0,
                outside_model: 0,
                depth: 0,
                source_depth: 0,
            },
            scratch: Vec::new(),
            last_batch: (0, 0),
            sources: Sources::default(),
            expanding: Vec::new(),
            merging: Vec::new(),
        }
    }

    /// Stores the initial state and checks it.
    fn start(&mut self, model: &M) -> Flow {
        let mut initial = Vec::new();
        model.initial(&mut initial);
        let hash = hash_bytes(&initial);
        self.store.insert(&initial, hash, NO_PARENT);
        match self.expanders[0].check(&initial) {
            Some(finding) => self.tally.record(finding, Vec::new),
            None => Flow::Go,
        }
    }

    /// Breadth-first search, a level at a time and each level in batches. The merge of one
    /// batch (one thread) overlaps the expansion of the next batch of the same level (every
    /// thread; the sources are stored already, and copied out of the store): a state's
    /// successors and the order of the merge are the same as without the overlap.
    fn breadth_first(&mut self, model: &M) -> Stop {
        if let Flow::Stop(stop) = self.start(model) {
            return stop;
        }
        let batch = (BATCH_PER_JOB * self.expanders.len()) as u32;
        let (mut level_start, mut level_end) = (0u32, 1u32);
        let mut level_begins = true;
        let mut next_start = level_start;
        // The batch expanded and not merged yet.
        let mut pending: Option<(u32, u32)> = None;
        loop {
            if level_begins {
                if level_start == level_end {
                    return Stop::Exhausted;
                }
                if self
                    .tally
                    .options
                    .max_depth
                    .is_some_and(|max| self.tally.source_depth >= max)
                {
                    return self.cut_at_depth(level_start, level_end);
                }
                level_begins = false;
            }
            // The next batch of this level; none at its end, as the sources of the next
            // level are known only once the level's last batch is merged.
            let next =
                (next_start < level_end).then(|| (next_start, level_end.min(next_start + batch)));
            if let Flow::Stop(stop) = self.merge_and_expand(pending, next) {
                return stop;
            }
            pending = next;
            match next {
                Some((_, end)) => next_start = end,
                None => {
                    level_start = level_end;
                    level_end = self.store.len() as u32;
                    next_start = level_start;
                    self.tally.source_depth += 1;
                    level_begins = true;
                }
            }
        }
    }

    /// Merges the batch `pending` (expanded before) while expanding the batch `next`, which
    /// is then sorted out against the store (with `jobs > 1`) and waits for its merge.
    fn merge_and_expand(&mut self, pending: Option<(u32, u32)>, next: Option<(u32, u32)>) -> Flow {
        std::mem::swap(&mut self.expanding, &mut self.merging);
        let jobs = self.expanders.len();
        // With one thread, looking successors up ahead of the merge, filling in the store's
        // pages ahead of the inserts, or copying the sources would only add work.
        let sort_out = jobs > 1;
        let chunk_size = if sort_out { CHUNK } else { BATCH_PER_JOB } as u32;
        let chunks = next.map_or(0, |(start, end)| {
            (end - start).div_ceil(chunk_size) as usize
        });
        if let Some((start, end)) = next {
            if sort_out {
                self.sources.load(&self.store, start, end);
            }
            while self.expanding.len() < chunks {
                self.expanding.push(Mutex::new(Successors::new()));
            }
        }
        let Run {
            store,
            expanders,
            tally,
            last_batch,
            sources,
            expanding,
            merging,
            ..
        } = self;
        let expanding = &expanding[..chunks];
        let sources = &*sources;
        let claimed = AtomicUsize::new(0);
        let sorted = AtomicUsize::new(0);
        let stopped = AtomicBool::new(false);
        let barrier = Barrier::new(jobs);
        let first = next.map_or(0, |(start, _)| start);
        let last = next.map_or(0, |(_, end)| end);
        let store = RwLock::new(store);
        // Claims chunks of `next` and expands them. Once a thread starts, the whole batch is
        // expanded, even if the merge stops the search meanwhile: what the search met (the
        // client states interned) then does not depend on thread timing.
        let expand = |expander: &mut M::Expander, origin: Origin<'_>| {
            loop {
                let chunk = claimed.fetch_add(1, Ordering::Relaxed);
                let Some(output) = expanding.get(chunk) else {
                    break;
                };
                let mut output = output.lock().expect("no thread panics with a buffer");
                output.clear();
                let from = first + chunk as u32 * chunk_size;
                for id in from..last.min(from + chunk_size) {
                    expander.expand(origin.get(id), &mut output);
                    output.close_state();
                }
                output.hash_items();
            }
        };
        // Once every chunk is expanded and `pending` merged (unless the merge stopped the
        // search): claims chunks and sorts them out.
        let sort = |expander: &mut M::Expander, job: usize, arrival: Arrival<'_>| {
            arrival.wait();
            if stopped.load(Ordering::Relaxed) {
                return;
            }
            let store = store.read().expect("no thread panics with the store");
            loop {
                let chunk = sorted.fetch_add(1, Ordering::Relaxed);
                let Some(output) = expanding.get(chunk) else {
                    break;
                };
                let mut output = output.lock().expect("no thread panics with a buffer");
                output.sort_out(&store, expander);
            }
            store.populate(job, jobs);
        };
        let (main_expander, helpers) = expanders.split_first_mut().expect("at least one job");
        let together = sort_out && next.is_some();
        let arrival = || Arrival {
            barrier: &barrier,
            waited: false,
        };
        std::thread::scope(|scope| {
            if together {
                for (job, expander) in helpers.iter_mut().enumerate() {
                    let (expand, sort, arrival) = (&expand, &sort, arrival());
                    scope.spawn(move || {
                        expand(expander, Origin::Copy(sources));
                        sort(expander, job + 1, arrival);
                    });
                }
            }
            let main_arrival = together.then(arrival);
            let mut flow = Flow::Go;
            let mut store_now = store.write().expect("no thread panics with the store");
            if let Some((start, end)) = pending {
                let before = (store_now.len(), store_now.encoding_bytes());
                let chunks = (end - start).div_ceil(chunk_size) as usize;
                for (chunk, output) in merging[..chunks].iter_mut().enumerate() {
                    let output = output.get_mut().expect("no thread panics with a buffer");
                    let first_source = start + chunk as u32 * chunk_size;
                    flow = tally.merge(&mut store_now, main_expander, output, first_source);
                    if flow != Flow::Go {
                        stopped.store(true, Ordering::Relaxed);
                        break;
                    }
                }
                *last_batch = (
                    store_now.len() - before.0,
                    store_now.encoding_bytes() - before.1,
                );
            }
            if sort_out && next.is_some() && flow == Flow::Go {
                // Room for twice what the last batch added, filled in while the threads sort
                // out the next one.
                let (states, bytes) = *last_batch;
                store_now.prepare(2 * states + 1024, 2 * bytes + (64 << 10));
            }
            drop(store_now);
            if next.is_some() {
                // With one thread, nothing more is expanded after a stop.
                if flow == Flow::Go {
                    let store = store.read().expect("no thread panics with the store");
                    let origin = if sort_out {
                        Origin::Copy(sources)
                    } else {
                        Origin::Store(&store)
                    };
                    expand(main_expander, origin);
                }
                if let Some(arrival) = main_arrival {
                    sort(main_expander, 0, arrival);
                }
            }
            flow
        })
    }

    /// At the depth bound: were any successors left unexplored?
    fn cut_at_depth(&mut self, start: u32, end: u32) -> Stop {
        let mut output = Successors::new();
        for id in start..end {
            self.scratch.clear();
            self.scratch.extend_from_slice(self.store.get(id));
            self.expanders[0].expand(&self.scratch, &mut output);
            if output.pending() > 0 {
                return Stop::MaxDepth;
            }
        }
        Stop::Exhausted
    }
}

impl<M: Model> Run<'_, M> {
    /// Depth-first search: a stack of (state, depth); successors pushed in reverse so that the
    /// first successor is explored first.
    fn depth_first(&mut self, model: &M) -> Stop {
        if let Flow::Stop(stop) = self.start(model) {
            return stop;
        }
        let mut stack: Vec<(u32, u32)> = vec![(0, 0)];
        let mut cut = false;
        let mut output = Successors::new();
        while let Some((id, depth)) = stack.pop() {
            self.tally.source_depth = depth;
            self.scratch.clear();
            self.scratch.extend_from_slice(self.store.get(id));
            output.clear();
            self.expanders[0].expand(&self.scratch, &mut output);
            if self.tally.options.max_depth.is_some_and(|max| depth >= max) {
                cut |= output.pending() > 0;
                continue;
            }
            output.close_state();
            output.hash_items();
            let before = self.store.len() as u32;
            let flow = self
                .tally
                .merge(&mut self.store, &mut self.expanders[0], &output, id);
            if let Flow::Stop(stop) = flow {
                return stop;
            }
            let after = self.store.len() as u32;
            for new in (before..after).rev() {
                stack.push((new, depth + 1));
            }
        }
        if cut { Stop::MaxDepth } else { Stop::Exhausted }
    }
}
