//! The workloads that `lamport-ledger bench` times, for a benchmark harness outside the crate
//! (`cargo bench` runs benches/simulator.rs on them at sizes that take milliseconds).
//!
//! ```
//! use lamport_ledger::benchmarks::{explore_tla_states, generated, null_loop};
//! use lamport_ledger::sim::{RunOptions, simulate};
//!
//! let scenario = generated(3, 20, 0);
//! let run = simulate(&scenario, RunOptions::default(), &mut [])?;
//! assert_eq!(run.committed + run.aborted, 20);
//! let (events, transfers) = null_loop(&scenario);
//! assert_eq!(transfers, 20);
//! assert!(events > 0);
//! assert!(explore_tla_states(2, 3, false) > 0);
//! # Ok::<(), std::io::Error>(())
//! ```

use crate::explore::{SearchOptions, TlaConfig, explore_tla};
use crate::scenario::Scenario;

/// A scenario of `clients` clients and `transfers` generated transfers arriving about as fast
/// as the mutex serves them, on reliable FIFO links: what every `bench` case runs.
pub fn generated(clients: u32, transfers: u64, seed: u64) -> Scenario {
    crate::bench::generated(clients, transfers, seed)
}

/// The ceiling of the simulator: `scenario`'s message pattern (REQUEST, REPLY and RELEASE to
/// every peer per transfer) through the simulator's event queue and network model, with the
/// protocol replaced by a no-op. Returns the events a trace would have had and the transfers.
pub fn null_loop(scenario: &Scenario) -> (u64, u64) {
    crate::bench::null_loop::run(scenario)
}

/// Explores every state of the port of the TLA+ spec `LamportMutex.tla` for N = `processes`
/// and maxClock = `max_clock` (channels as multisets with `bag`, else FIFO queues),
/// breadth-first on one thread with no bound, and returns the number of distinct states.
pub fn explore_tla_states(processes: u8, max_clock: u8, bag: bool) -> u64 {
    let config = TlaConfig {
        processes,
        max_clock,
        bag,
    };
    explore_tla(config, &SearchOptions::default())
        .result
        .stats
        .distinct
}
