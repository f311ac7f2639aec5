//! A search's state ([`Run`]: the store, the tally, the options) and breadth-first search: one
//! level at a time, in batches, expanded on one or more threads and merged into the store in
//! state order.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, RwLock};

use super::successors::{Known, PREFETCH_AHEAD, Successors, steps_to};
use super::{
    BATCH_PER_JOB, CHUNK, Expander, Finding, Found, Model, NODE_ERROR, Order, SearchOptions,
    SearchProgress, Stop,
};
use crate::explore::hash::hash_bytes;
use crate::explore::store::{Inserted, MAX_STATES, NO_PARENT, StateStore};

pub(super) struct Run<'o, M: Model> {
    pub(super) store: StateStore,
    /// Index 0 also checks new states; the others only expand.
    pub(super) expanders: Vec<M::Expander>,
    pub(super) tally: Tally<'o, M::Step>,
    pub(super) scratch: Vec<u8>,
    /// States and encoding bytes the last batch added to the store.
    pub(super) last_batch: (usize, usize),
    /// A copy of the states being expanded, so that the store can take new states meanwhile.
    pub(super) sources: Sources,
    /// The buffers of the batch being expanded, one per chunk.
    pub(super) expanding: Vec<Mutex<Successors<M::Step>>>,
    /// The buffers of the batch expanded before it, waiting for their merge.
    pub(super) merging: Vec<Mutex<Successors<M::Step>>>,
    /// Where to note how far the search has come.
    pub(super) progress: Option<&'o SearchProgress>,
}

/// What the merge counts and finds.
pub(super) struct Tally<'o, S> {
    pub(super) options: &'o SearchOptions,
    pub(super) found: Vec<Found<S>>,
    pub(super) transitions: u64,
    pub(super) outside_model: u64,
    pub(super) depth: u32,
    /// The depth of the states being merged (their sources').
    pub(super) source_depth: u32,
}

/// What to do after recording a finding.
#[derive(PartialEq, Eq)]
pub(super) enum Flow {
    Go,
    Stop(Stop),
}

/// The encodings of a run of consecutive states, copied out of the store.
#[derive(Default)]
pub(super) struct Sources {
    pub(super) first: u32,
    pub(super) bytes: Vec<u8>,
    /// `ends[i]` is where state `first + i` ends in `bytes`.
    pub(super) ends: Vec<usize>,
}

impl Sources {
    pub(super) fn load(&mut self, store: &StateStore, start: u32, end: u32) {
        self.first = start;
        store.copy_out(start, end, &mut self.bytes, &mut self.ends);
    }

    pub(super) fn get(&self, id: u32) -> &[u8] {
        let index = (id - self.first) as usize;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.bytes[start..self.ends[index]]
    }
}

/// Where the states being expanded are read from: a copy while the store takes new states
/// on another thread, else the store itself.
#[derive(Clone, Copy)]
pub(super) enum Origin<'a> {
    Copy(&'a Sources),
    Store(&'a StateStore),
}

impl<'a> Origin<'a> {
    pub(super) fn get(self, id: u32) -> &'a [u8] {
        match self {
            Origin::Copy(sources) => sources.get(id),
            Origin::Store(store) => store.get(id),
        }
    }
}

/// A thread's place at the barrier between expanding and sorting out: when dropped before
/// it has waited there (a panic), it waits then, so that the other threads are not left
/// waiting for it; the scope then passes the panic on.
pub(super) struct Arrival<'b> {
    pub(super) barrier: &'b Barrier,
    pub(super) waited: bool,
}

impl Arrival<'_> {
    pub(super) fn wait(mut self) {
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
    /// expands a state per step). A [`NODE_ERROR`] always stops the search.
    pub(super) fn record(&mut self, finding: Finding, path: impl FnOnce() -> Vec<S>) -> Flow {
        let finding_name = finding.name;
        if self.found.iter().all(|f| f.finding.name != finding.name) {
            let path = path();
            self.found.push(Found { finding, path });
        }
        let looked_for = self
            .options
            .wanted
            .is_none_or(|wanted| wanted == finding_name);
        if finding_name != NODE_ERROR && (self.options.keep_going || !looked_for) {
            Flow::Go
        } else {
            Flow::Stop(Stop::Finding)
        }
    }

    pub(super) fn full(&self, store: &StateStore) -> bool {
        let limit = self
            .options
            .max_states
            .unwrap_or(u64::MAX)
            .min(u64::from(MAX_STATES));
        store.len() as u64 >= limit
    }

    /// Whether storing a new state of `encoding_bytes` bytes could take the store past
    /// `max_memory`.
    fn over_memory_budget(&self, store: &StateStore, encoding_bytes: usize) -> bool {
        self.options
            .max_memory
            .is_some_and(|budget| store.memory_bytes_after_insert(encoding_bytes) > budget)
    }

    /// Inserts the successors in `output`, whose states are numbered from `first_source` on,
    /// in order; `expander` checks the new ones not checked yet.
    /// The successors must be hashed ([`Successors::hash_items`]); the hashes are known ahead,
    /// so the table slot of each is fetched from memory a few insertions ahead of its turn.
    pub(super) fn merge<E: Expander<Step = S>>(
        &mut self,
        store: &mut StateStore,
        expander: &mut E,
        output: &Successors<S>,
        first_source: u32,
    ) -> Flow {
        let mut problems = output.problems.iter().peekable();
        let mut checks = output.checks.iter().peekable();
        let near_budget = self.options.max_memory.is_some_and(|budget| {
            store.memory_bytes_bound_after(output.items.len(), output.bytes.len()) > budget
        });
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
                // Before looking at `known`: where the search stops must not depend on which
                // successors other threads found stored already.
                if near_budget && self.over_memory_budget(store, output.item_bytes(index).len()) {
                    return Flow::Stop(Stop::MaxMemory);
                }
                if item.known == Known::Stored {
                    continue;
                }
                let bytes = output.item_bytes(index);
                if let Inserted::New(id) = store.insert(bytes, item.hash, source) {
                    self.depth = self.depth.max(self.source_depth + 1);
                    if item.known == Known::Checked {
                        while checks.next_if(|(i, _)| (*i as usize) < index).is_some() {}
                        while let Some((_, finding)) = checks.next_if(|(i, _)| *i as usize == index)
                        {
                            let path = || steps_to(store, expander, id);
                            if let Flow::Stop(stop) = self.record(finding.clone(), path) {
                                return Flow::Stop(stop);
                            }
                        }
                    } else {
                        for finding in expander.check(bytes) {
                            let path = || steps_to(store, expander, id);
                            if let Flow::Stop(stop) = self.record(finding, path) {
                                return Flow::Stop(stop);
                            }
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
    pub(super) fn new(model: &M, options: &'o SearchOptions) -> Self {
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
            progress: None,
        }
    }

    /// Stores the initial state and checks it.
    pub(super) fn start(&mut self, model: &M) -> Flow {
        let mut initial = Vec::new();
        model.initial(&mut initial);
        let hash = hash_bytes(&initial);
        self.store.insert(&initial, hash, NO_PARENT);
        for finding in self.expanders[0].check(&initial) {
            if let Flow::Stop(stop) = self.tally.record(finding, Vec::new) {
                return Flow::Stop(stop);
            }
        }
        Flow::Go
    }

    /// Breadth-first search, a level at a time and each level in batches. The merge of one
    /// batch (one thread) overlaps the expansion of the next batch of the same level (every
    /// thread; the sources are stored already, and copied out of the store): a state's
    /// successors and the order of the merge are the same as without the overlap.
    pub(super) fn breadth_first(&mut self, model: &M) -> Stop {
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
            self.note_progress();
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
    pub(super) fn merge_and_expand(
        &mut self,
        pending: Option<(u32, u32)>,
        next: Option<(u32, u32)>,
    ) -> Flow {
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
                let budget = tally.options.max_memory;
                store_now.prepare(2 * states + 1024, 2 * bytes + (64 << 10), budget);
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

    pub(super) fn note_progress(&self) {
        if let Some(progress) = self.progress {
            let tally = &self.tally;
            progress.note(self.store.len(), tally.transitions, tally.source_depth);
        }
    }

    /// At the depth bound: were any successors left unexplored?
    pub(super) fn cut_at_depth(&mut self, start: u32, end: u32) -> Stop {
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
