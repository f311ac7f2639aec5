//! Exhaustive exploration: every reachable state of a small configuration, and the shortest
//! path to any violation (see `docs/explore.md`).
//!
//! The entry points: `settings::load` what to explore from a scenario or exploration file,
//! then [`explore_system`] it, or [`explore_tla`] the port of the TLA+ spec `LamportMutex.tla`;
//! both take [`SearchOptions`] and give the [`Stats`] and the violations found.
//! [`explore_nodes`] explores clients of another implementation (any [`crate::protocol::Node`]
//! that can be cloned, compared and hashed); the library re-exports it.
//!
//! Inside (crate-private):
//! - `search`: breadth-first or depth-first search over canonical state encodings, the same
//!   for every model; `store` keeps the states seen (exact: full encodings, no hash alone),
//!   in `region`s of memory that grow in place.
//! - `system`: the model of N real client state machines (the built-in
//!   [`crate::protocol::Client`], or another node through `system::Tracked`) and the network (FIFO or bag links, bounded loss, duplication and crashes), checked against the
//!   safety invariants of docs/spec.md section 4 in every state and for deadlock.
//! - `replay`: a path found turns into a trace (docs/spec.md section 3), checked by the
//!   simulator's checker.
//! - `settings`: what to explore, from a scenario file or an exploration file.
//! - `tla`: a port of the TLA+ spec `LamportMutex.tla`, to cross-check the search against
//!   TLC's published counts.
//! - `report`: the command's text and JSON reports.
//!
//! Nothing here is random and nothing depends on hash iteration order or thread timing: the
//! same input gives the same counts and the same counterexample on every run.

mod hash;
mod own;
mod region;
pub(crate) mod replay;
pub(crate) mod report;
pub(crate) mod search;
pub(crate) mod settings;
mod store;
pub(crate) mod system;
mod table;
#[cfg(test)]
mod tests;
pub(crate) mod tla;

pub use own::{ExploreError, ExploreOptions, ExploredViolation, NodeExploration, explore_nodes};
pub use search::{Order, SearchOptions, SearchProgress, Stats};
pub use settings::ExploreSetup;
pub use tla::TlaConfig;

use crate::protocol::Client;
use search::{SearchResult, Stop, search};
use system::{ExploredNode, SystemModel, SystemStep};
use tla::{LamportMutex, TlaStep};

/// The exploration of a scenario's clients (by default the built-in ones): the counts and
/// every violation found.
pub struct SystemExploration<N = Client> {
    pub(crate) model: SystemModel<N>,
    /// The search's counts, and its findings: with reduction, replaced by those of
    /// [`Self::shortest`]'s search when that one is conclusive.
    pub(crate) result: SearchResult<SystemStep>,
    /// Whether the search used partial-order reduction.
    pub(crate) reduced: bool,
    /// After a breadth-first search with reduction found something: the full search
    /// bounded to its depth, for the shortest paths.
    pub(crate) shortest: Option<ShortestCheck>,
}

/// The full search (no reduction) that follows a reduced one which found something: bounded
/// to the depth of the reduced search's findings, so that its findings are the shortest.
pub struct ShortestCheck {
    pub stats: Stats,
    /// The depth it was bounded to: the reduced search's longest path to a finding.
    pub depth_bound: u32,
    /// The reduced search's findings: (name, steps of its path).
    pub reduced_paths: Vec<(&'static str, usize)>,
    /// It explored every state within the bound (or stopped at the finding it looked for):
    /// its findings, now the exploration's, are the shortest.
    pub conclusive: bool,
}

/// States the full search that looks for the shortest path may store, at least; more if
/// the reduced search stored more (see [`SHORTEST_CHECK_FACTOR`]).
pub const SHORTEST_CHECK_STATES: u64 = 1 << 20;
/// The full search that looks for the shortest path may store this many times the states
/// of the reduced search.
pub const SHORTEST_CHECK_FACTOR: u64 = 8;

/// Explores the clients of `setup` (see `settings::load`) as `options` say.
pub fn explore_system(setup: &ExploreSetup, options: &SearchOptions) -> SystemExploration {
    explore_system_with_progress(setup, options, None)
}

/// [`explore_system`], noting how far each search has come in `progress`.
pub fn explore_system_with_progress(
    setup: &ExploreSetup,
    options: &SearchOptions,
    progress: Option<&SearchProgress>,
) -> SystemExploration {
    explore_model(SystemModel::new(setup.system.clone()), options, progress)
}

/// Explores `model` as `options` say: reduced or not, and after a reduced breadth-first
/// search that found something, the full search for the shortest paths.
pub(crate) fn explore_model<N: ExploredNode>(
    model: SystemModel<N>,
    options: &SearchOptions,
    progress: Option<&SearchProgress>,
) -> SystemExploration<N> {
    let model = model.reducing(options.reduce);
    let mut result = search(&model, options, progress);
    let shortest =
        (options.reduce && options.order == Order::BreadthFirst && !result.found.is_empty())
            .then(|| shortest_check(&model, options, &mut result, progress));
    SystemExploration {
        model,
        result,
        reduced: options.reduce,
        shortest,
    }
}

/// Searches `model` again without reduction, to the depth of the findings in `result`; when
/// that search is conclusive its findings (the shortest paths, and the first one the same
/// as a search without reduction reports) replace those in `result`.
fn shortest_check<N: ExploredNode>(
    model: &SystemModel<N>,
    options: &SearchOptions,
    result: &mut SearchResult<SystemStep>,
    progress: Option<&SearchProgress>,
) -> ShortestCheck {
    let reduced_paths: Vec<(&'static str, usize)> = result
        .found
        .iter()
        .map(|found| (found.finding.name, found.path.len()))
        .collect();
    let deepest = reduced_paths
        .iter()
        .map(|&(_, steps)| steps)
        .max()
        .unwrap_or(0) as u32;
    let budget = (result.stats.distinct * SHORTEST_CHECK_FACTOR).max(SHORTEST_CHECK_STATES);
    let full_options = SearchOptions {
        reduce: false,
        max_depth: Some(options.max_depth.map_or(deepest, |max| max.min(deepest))),
        max_states: Some(options.max_states.map_or(budget, |max| max.min(budget))),
        ..*options
    };
    let depth_bound = full_options.max_depth.unwrap_or(deepest);
    let full = search(&model.reducing(false), &full_options, progress);
    // Within the bound lie the reduced search's paths: a search that explored it all, or
    // stopped at the finding it looks for (the first, or the wanted one), is conclusive.
    let conclusive = match full.stats.stop {
        Stop::Finding => true,
        Stop::Exhausted | Stop::MaxDepth => !full.found.is_empty(),
        Stop::MaxStates | Stop::MaxMemory => false,
    };
    if conclusive {
        result.found = full.found;
    }
    ShortestCheck {
        stats: full.stats,
        depth_bound,
        reduced_paths,
        conclusive,
    }
}

/// The exploration of the port of the TLA+ spec `LamportMutex.tla`.
pub struct TlaExploration {
    pub(crate) model: LamportMutex,
    pub(crate) result: SearchResult<TlaStep>,
}

/// Explores the port of `LamportMutex.tla` with these constants.
pub fn explore_tla(config: TlaConfig, options: &SearchOptions) -> TlaExploration {
    explore_tla_with_progress(config, options, None)
}

/// [`explore_tla`], noting how far the search has come in `progress`.
pub fn explore_tla_with_progress(
    config: TlaConfig,
    options: &SearchOptions,
    progress: Option<&SearchProgress>,
) -> TlaExploration {
    let model = LamportMutex::new(config);
    let result = search(&model, options, progress);
    TlaExploration { model, result }
}

impl TlaExploration {
    /// TLC's "states generated": the initial state and every successor computed.
    pub fn generated(&self) -> u64 {
        self.result.stats.transitions + 1
    }

    /// TLC's "depth of the complete state graph search": states on the longest shortest
    /// path, the initial state included.
    pub fn tlc_depth(&self) -> u64 {
        u64::from(self.result.stats.depth) + 1
    }
}

/// Half of the machine's memory (MemTotal in /proc/meminfo), the default bound of the state
/// store; 4 GiB where the system does not say.
pub fn default_memory_budget() -> usize {
    let total_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<usize>().ok()
        });
    total_kib.map_or(4 << 30, |kib| kib * 1024 / 2)
}

/// The process's peak resident memory (VmHWM), in KiB, where the system reports it.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
