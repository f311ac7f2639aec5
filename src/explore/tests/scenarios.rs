//! The scenarios and exploration files: counterexamples, mutations, expectations, threads
//! and bounds.

use std::path::Path;

use super::naive_system::naive_explore;
use super::{bfs, root};
use crate::check::Invariant;
use crate::explore::explore_system;
use crate::explore::search::{Order, SearchOptions, Stop};
use crate::explore::settings::{self, Channels, Overrides};
use crate::explore::system::StepKind;
use crate::protocol::Mutations;

fn setup(path: &str) -> settings::ExploreSetup {
    settings::load(&root().join(path)).unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn the_shortest_reordering_counterexample_for_two_clients_has_six_steps() {
    let setup = setup("scenarios/explore/reorder-2-bag.json");
    let exploration = explore_system(&setup, &bfs());
    let found = &exploration.result.found[0];
    assert_eq!(found.finding.name, "mutual_exclusion");
    // Two requests, the REQUEST from client 2 and the REPLY that overtakes client 1's REQUEST,
    // then that REQUEST and its REPLY: six steps, and none shorter exists (BFS).
    let kinds: Vec<StepKind> = found.path.iter().map(|step| step.kind).collect();
    assert_eq!(
        kinds,
        [
            StepKind::Issue,
            StepKind::Issue,
            StepKind::Deliver,
            StepKind::Deliver,
            StepKind::Deliver,
            StepKind::Deliver
        ]
    );
    // The naive enumerator agrees that no shorter path puts two clients inside.
    let naive = naive_explore(&setup.system);
    assert_eq!(naive.first_two_inside, Some(6));
    // Under FIFO the same clients never break mutual exclusion.
    let fifo = settings::from_scenario(
        "reorder-2 (fifo)".into(),
        setup.scenario.clone(),
        &Overrides {
            channels: Some(Channels::Fifo),
            ..Overrides::default()
        },
    )
    .unwrap();
    let exploration = explore_system(&fifo, &bfs());
    assert!(exploration.result.found.is_empty());
    assert_eq!(exploration.result.stats.stop, Stop::Exhausted);
}

#[test]
fn every_mutation_is_caught_where_its_scenario_says() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("mutation-") {
            continue;
        }
        let setup = settings::load(&path).unwrap();
        let (expect, _) = setup.expect.expect("every mutation scenario has an expect");
        let wanted = expect.invariant.expect("it names the invariant");
        let exploration = explore_system(&setup, &bfs());
        let found = exploration
            .result
            .found
            .first()
            .unwrap_or_else(|| panic!("{name}: exhaustive search finds no violation"));
        assert_eq!(found.finding.name, wanted.name(), "{name}");
        // The trace of that path, through the simulator's checker, agrees.
        let replayed = crate::explore::replay::write_trace(
            &exploration.model,
            &setup.scenario,
            &found.path,
            found.finding.stuck,
            Vec::new(),
        )
        .unwrap();
        assert_eq!(
            replayed.violations.first().map(|v| v.violation.invariant),
            Some(wanted),
            "{name}: the checker sees the same violation"
        );
        // And without the mutation the same exploration finds nothing.
        let mut clean = setup.clone();
        clean.system.mutations = Mutations::none();
        let exploration = explore_system(&clean, &bfs());
        assert!(
            exploration.result.found.is_empty(),
            "{name} without its mutation: {:?}",
            exploration.result.found[0].finding
        );
        assert_eq!(exploration.result.stats.stop, Stop::Exhausted, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 4, "one scenario per mutation");
}

#[test]
fn every_exploration_file_meets_its_expectation() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("scenarios/explore")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let setup = settings::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let (expect, _) = setup
            .expect
            .expect("every exploration file says what it expects");
        // As the command does: the first violation (or none in the whole state space).
        let exploration = explore_system(&setup, &bfs());
        let found: Vec<Invariant> = exploration
            .result
            .found
            .iter()
            .filter_map(|f| {
                Invariant::ALL
                    .into_iter()
                    .find(|i| i.name() == f.finding.name)
            })
            .collect();
        assert!(
            settings::meets(&expect, &found),
            "{}: expected {}, found {:?}",
            path.display(),
            settings::describe_expect(&expect),
            found
        );
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} exploration files checked");
}

#[test]
fn more_threads_give_the_same_result() {
    let setup = setup("scenarios/mutation-release-pops-head.json");
    let one = explore_system(&setup, &bfs());
    let two = explore_system(
        &setup,
        &SearchOptions {
            jobs: 2,
            ..SearchOptions::default()
        },
    );
    let (a, b) = (&one.result.stats, &two.result.stats);
    assert_eq!(
        (a.distinct, a.transitions, a.depth, a.stop),
        (b.distinct, b.transitions, b.depth, b.stop)
    );
    assert_eq!(one.result.found[0].finding, two.result.found[0].finding);
    // Messages are numbered as threads meet them, so the steps may name a message by another
    // number; the path is the same, and so is its trace, byte for byte.
    let trace = |exploration: &crate::explore::SystemExploration| {
        let found = &exploration.result.found[0];
        crate::explore::replay::write_trace(
            &exploration.model,
            &setup.scenario,
            &found.path,
            found.finding.stuck,
            Vec::new(),
        )
        .unwrap()
        .digest_hex
    };
    assert_eq!(trace(&one), trace(&two));
}

#[test]
fn bounds_stop_the_search_and_say_so() {
    let setup = setup("scenarios/explore/reorder-2-fifo.json");
    let full = explore_system(&setup, &bfs());
    assert_eq!(full.result.stats.stop, Stop::Exhausted);
    let capped = explore_system(
        &setup,
        &SearchOptions {
            max_states: Some(10),
            ..SearchOptions::default()
        },
    );
    assert_eq!(capped.result.stats.stop, Stop::MaxStates);
    assert_eq!(capped.result.stats.distinct, 10);
    let shallow = explore_system(
        &setup,
        &SearchOptions {
            max_depth: Some(2),
            ..SearchOptions::default()
        },
    );
    assert_eq!(shallow.result.stats.stop, Stop::MaxDepth);
    assert_eq!(shallow.result.stats.depth, 2);
    let deep = explore_system(
        &setup,
        &SearchOptions {
            order: Order::DepthFirst,
            ..SearchOptions::default()
        },
    );
    assert_eq!(deep.result.stats.distinct, full.result.stats.distinct);
    assert_eq!(deep.result.stats.transitions, full.result.stats.transitions);
}

#[test]
fn scenario_paths_resolve_against_the_exploration_file() {
    let setup = setup("scenarios/explore/reorder-2-bag.json");
    assert_eq!(setup.scenario.name, "reorder-2");
    assert!(
        setup
            .system
            .link_list()
            .iter()
            .all(|&(from, to)| !setup.system.rule(from, to).fifo)
    );
    assert!(Path::new(&setup.source).ends_with("reorder-2-bag.json"));
}
