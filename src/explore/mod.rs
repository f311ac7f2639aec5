//! Exhaustive exploration: every reachable state of a small configuration, and the shortest
//! path to any violation (see `docs/explore.md`).
//!
//! - [`mod@search`]: breadth-first or depth-first search over canonical state encodings, the same
//!   for every model; [`store`] keeps the states seen (exact: full encodings, no hash alone).
//! - [`system`]: the model of N real [`crate::protocol::Client`] state machines and the
//!   network (FIFO or bag links, bounded loss, duplication and crashes), checked against the
//!   safety invariants of SPEC section 4 in every state and for deadlock.
//! - [`replay`]: a path found turns into a SPEC trace, checked by the simulator's checker.
//! - [`settings`]: what to explore, from a scenario file or an exploration file.
//! - [`tla`]: a port of the TLA+ spec `LamportMutex.tla`, to cross-check the search against
//!   TLC's published counts.
//!
//! Nothing here is random and nothing depends on hash iteration order or thread timing: the
//! same input gives the same counts and the same counterexample on every run.

pub mod hash;
pub mod region;
pub mod replay;
pub mod search;
pub mod settings;
pub mod store;
pub mod system;
pub mod table;
pub mod tla;

use search::{SearchOptions, SearchResult, search};
use settings::ExploreSetup;
use system::{SystemModel, SystemStep};
use tla::{LamportMutex, TlaConfig, TlaStep};

/// The exploration of a scenario's clients.
pub struct SystemExploration {
    pub model: SystemModel,
    pub result: SearchResult<SystemStep>,
}

/// Explores the clients of `setup`.
pub fn explore_system(setup: &ExploreSetup, options: &SearchOptions) -> SystemExploration {
    let model = SystemModel::new(setup.system.clone());
    let result = search(&model, options);
    SystemExploration { model, result }
}

/// The exploration of the TLA+ port.
pub struct TlaExploration {
    pub model: LamportMutex,
    pub result: SearchResult<TlaStep>,
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
