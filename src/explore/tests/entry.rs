//! The entry points as the command line calls them: a scenario explored to the end, and the
//! port of the TLA+ spec.

use super::{bfs, root};
use crate::explore::search::Stop;
use crate::explore::settings::load;
use crate::explore::{TlaConfig, explore_system, explore_tla};

#[test]
fn a_fifo_scenario_is_explored_to_the_end_without_a_violation() {
    let setup = load(&root().join("scenarios/explore/reorder-2-fifo.json")).unwrap();
    let exploration = explore_system(&setup, &bfs());
    assert_eq!(exploration.result.stats.stop, Stop::Exhausted);
    assert_eq!(exploration.result.found.len(), 0);
}

#[test]
fn the_tla_port_for_two_processes_has_states_and_no_violation() {
    let config = TlaConfig {
        processes: 2,
        max_clock: 3,
        bag: false,
    };
    let exploration = explore_tla(config, &bfs());
    assert!(exploration.result.stats.distinct > 0);
    assert_eq!(exploration.result.found.len(), 0);
}
