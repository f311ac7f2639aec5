//! Exhaustive exploration: every reachable state of a small configuration, and the shortest
//! path to any violation (see `docs/explore.md`).
//!
//! The entry points: `settings::load` what to explore from a scenario or exploration file,
//! then [`explore_system`] it, or [`explore_tla`] the port of the TLA+ spec `LamportMutex.tla`;
//! both take [`SearchOptions`] and give the [`Stats`] and the violations found.
//!
//! Inside (crate-private):
//! - `search`: breadth-first or depth-first search over canonical state encodings, the same
//!   for every model; `store` keeps the states seen (exact: full encodings, no hash alone),
//!   in `region`s of memory that grow in place.
//! - `system`: the model of N real [`crate::protocol::Client`] state machines and the
//!   network (FIFO or bag links, bounded loss, duplication and crashes), checked against the
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

pub use search::{Order, SearchOptions, Stats};
pub use settings::ExploreSetup;
pub use tla::TlaConfig;

use search::{SearchResult, search};
use system::{SystemModel, SystemStep};
use tla::{LamportMutex, TlaStep};

/// The exploration of a scenario's clients: the counts and every violation found.
pub struct SystemExploration {
    pub(crate) model: SystemModel,
    pub(crate) result: SearchResult<SystemStep>,
}

/// Explores the clients of `setup` (see `settings::load`) as `options` say.
pub fn explore_system(setup: &ExploreSetup, options: &SearchOptions) -> SystemExploration {
    let model = SystemModel::new(setup.system.clone());
    let result = search(&model, options);
    SystemExploration { model, result }
}

/// The exploration of the port of the TLA+ spec `LamportMutex.tla`.
pub struct TlaExploration {
    pub(crate) model: LamportMutex,
    pub(crate) result: SearchResult<TlaStep>,
}

/// Explores the port of `LamportMutex.tla` with these constants.
pub fn explore_tla(config: TlaConfig, options: &SearchOptions) -> TlaExploration {
    let model = LamportMutex::new(config);
    let result = search(&model, options);
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
