//! The generic path against the built-in one: the built-in client wrapped as a node of
//! another implementation ([`Tracked`]: hashed by its derived `Hash`, inside the critical
//! section by its outputs) must give the very same exploration as the fast path.

use super::{keep_going, root};
use crate::explore::replay::write_trace;
use crate::explore::search::SearchOptions;
use crate::explore::settings::{self, ExploreSetup};
use crate::explore::system::{ExploredNode, SystemModel, Tracked};
use crate::explore::{SystemExploration, explore_model, explore_system};
use crate::protocol::Client;

/// Small files that between them have bag and FIFO links, a loss, a duplication, a crash,
/// and each kind of finding; the crash file's space is cut at `MAX_STATES`.
const FILES: [&str; 8] = [
    "scenarios/explore/reorder-2-bag.json",
    "scenarios/explore/reorder-2-fifo.json",
    "scenarios/explore/loss-one-message.json",
    "scenarios/explore/duplication-reply-count.json",
    "scenarios/explore/crash-restart-nothing.json",
    "scenarios/mutation-tiebreak-timestamp-only.json",
    "scenarios/mutation-unchained-hash.json",
    "scenarios/mutation-receive-clock-no-max.json",
];

const MAX_STATES: u64 = 20_000;

fn tracked(setup: &ExploreSetup, options: &SearchOptions) -> SystemExploration<Tracked<Client>> {
    let clients = setup.system.initial_clients().into_iter().map(Tracked::new);
    let model = SystemModel::with_clients(setup.system.clone(), clients.collect());
    explore_model(model, options, None)
}

/// Distinct states, transitions, depth, the findings (name, detail, path length) and the
/// first path's trace digest.
type Outcome = (
    u64,
    u64,
    u32,
    Vec<(&'static str, String, usize)>,
    Option<String>,
);

fn outcome<N: ExploredNode>(setup: &ExploreSetup, exploration: &SystemExploration<N>) -> Outcome {
    let stats = &exploration.result.stats;
    let found = exploration
        .result
        .found
        .iter()
        .map(|found| {
            (
                found.finding.name,
                found.finding.detail.clone(),
                found.path.len(),
            )
        })
        .collect();
    let digest = exploration.result.found.first().map(|first| {
        let model = &exploration.model;
        let stuck = first.finding.stuck;
        let replayed = write_trace(model, &setup.scenario, &first.path, stuck, Vec::new());
        replayed.unwrap().digest_hex
    });
    (
        stats.distinct,
        stats.transitions,
        stats.depth,
        found,
        digest,
    )
}

#[test]
fn the_built_in_client_explored_through_the_generic_path_gives_the_same_results() {
    for file in FILES {
        let setup = settings::load(&root().join(file)).unwrap_or_else(|error| panic!("{error}"));
        for reduce in [false, true] {
            let options = SearchOptions {
                reduce,
                max_states: Some(MAX_STATES),
                ..keep_going()
            };
            let fast = outcome(&setup, &explore_system(&setup, &options));
            let generic = outcome(&setup, &tracked(&setup, &options));
            assert_eq!(fast, generic, "{file}, reduce {reduce}");
        }
    }
}
