//! Partial-order reduction against the full search: the same verdict and the same invariants
//! on every exploration file and on a grid of small generated configurations (every protocol
//! variant and mutation, FIFO and bag links, loss, duplication and crashes), and the same
//! first counterexample once the shortest check has run.

use std::collections::BTreeSet;

use super::root;
use crate::explore::search::{Expander, Model, SearchOptions, Stop, Successors, search};
use crate::explore::settings::{self, ExploreSetup, Overrides};
use crate::explore::system::{
    BoundModel, Reach, ReductionFigures, StepKind, SystemExpander, SystemModel, SystemStep,
    oracle_figures,
};
use crate::explore::system::{CrashRule, LinkRule, PlannedTransfer, SystemConfig};
use crate::explore::{SystemExploration, explore_system};
use crate::protocol::{ClientId, Mutation, Mutations, Variant};

fn options(reduce: bool, keep_going: bool, wanted: Option<&'static str>) -> SearchOptions {
    SearchOptions {
        reduce,
        keep_going,
        wanted,
        ..SearchOptions::default()
    }
}

fn names(exploration: &SystemExploration) -> BTreeSet<&'static str> {
    exploration
        .result
        .found
        .iter()
        .map(|found| found.finding.name)
        .collect()
}

/// The first finding as the command reports it: its name and the length of its path.
fn first(exploration: &SystemExploration) -> Option<(&'static str, usize)> {
    let found = exploration.result.found.first()?;
    Some((found.finding.name, found.path.len()))
}

/// With and without reduction: the same invariants broken (every one, with `keep_going`),
/// the same first finding and path length as the command reports it, and no more states
/// with reduction. Returns (states with reduction, states without).
fn assert_same_verdict(
    name: &str,
    setup: &ExploreSetup,
    wanted: Option<&'static str>,
) -> (u64, u64) {
    let full = explore_system(setup, &options(false, true, None));
    let reduced = explore_system(setup, &options(true, true, None));
    assert_eq!(full.result.stats.stop, Stop::Exhausted, "{name}");
    assert_eq!(reduced.result.stats.stop, Stop::Exhausted, "{name}");
    assert_eq!(
        names(&reduced),
        names(&full),
        "{name}: the invariants broken"
    );
    assert!(
        reduced.result.stats.distinct <= full.result.stats.distinct,
        "{name}: more states with reduction"
    );
    let full_first = explore_system(setup, &options(false, false, wanted));
    let reduced_first = explore_system(setup, &options(true, false, wanted));
    assert_eq!(
        first(&reduced_first),
        first(&full_first),
        "{name}: the first finding and its path length"
    );
    if let Some(check) = &reduced_first.shortest {
        assert!(check.conclusive, "{name}: the shortest check is conclusive");
    }
    (reduced.result.stats.distinct, full.result.stats.distinct)
}

fn generated_setup(config: SystemConfig) -> ExploreSetup {
    let scenario = crate::scenario::parse_scenario(
        &format!(r#"{{"name": "generated", "clients": {}}}"#, config.clients),
        "generated",
    )
    .unwrap();
    let mut setup =
        settings::from_scenario("generated".into(), scenario, &Overrides::default()).unwrap();
    setup.system = config;
    setup
}

/// Two or three clients, each paying the next; every link FIFO or a bag.
fn small(clients: u32, fifo: bool, variant: Variant, mutations: Mutations) -> SystemConfig {
    let n = clients as usize;
    let transfers = (0..n)
        .map(|client| {
            if clients == 3 && client == 2 {
                return Vec::new();
            }
            vec![PlannedTransfer {
                to: ClientId::new(((client + 1) % n) as u32 + 1),
                amount: 3 + client as u64,
            }]
        })
        .collect();
    SystemConfig {
        clients,
        initial_balances: vec![10; n],
        variant,
        mutations,
        cs_us: 1000,
        transfers,
        links: vec![
            LinkRule {
                fifo,
                lossy: false,
                duplicating: false,
            };
            n * n
        ],
        max_losses: 0,
        max_duplicates: 0,
        crashes: vec![Vec::new(); n],
    }
}

/// The faults of the grid: none, one loss, one duplication, a crash of the last client with
/// each kind of restart, or for good.
fn with_fault(mut config: SystemConfig, fault: usize) -> SystemConfig {
    let last = config.clients as usize - 1;
    match fault {
        1 => {
            config.max_losses = 1;
            config.links.iter_mut().for_each(|rule| rule.lossy = true);
        }
        2 => {
            config.max_duplicates = 1;
            config
                .links
                .iter_mut()
                .for_each(|rule| rule.duplicating = true);
        }
        3..=5 => {
            config.crashes[last] = vec![CrashRule {
                keep_ledger: fault == 3,
                restarts: fault != 5,
            }];
        }
        _ => {}
    }
    config
}

#[test]
fn every_exploration_file_has_the_same_verdict_with_and_without_reduction() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("scenarios/explore")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let name = path.display().to_string();
        let setup = settings::load(&path).unwrap_or_else(|e| panic!("{e}"));
        // As the command runs it: looking for the expected invariant, if any.
        let wanted = setup.expect.and_then(|(expect, _)| {
            (expect.outcome == crate::scenario::ExpectedOutcome::Violation)
                .then_some(expect.invariant?.name())
        });
        let full = explore_system(&setup, &options(false, false, wanted));
        let reduced = explore_system(&setup, &options(true, false, wanted));
        assert_eq!(first(&reduced), first(&full), "{name}: the first finding");
        assert_eq!(names(&reduced), names(&full), "{name}: the findings");
        assert_eq!(
            reduced.result.stats.stop == Stop::Exhausted,
            full.result.stats.stop == Stop::Exhausted,
            "{name}: complete"
        );
        assert!(
            reduced.result.stats.distinct <= full.result.stats.distinct,
            "{name}: more states with reduction"
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} exploration files checked");
}

#[test]
fn small_configurations_have_the_same_verdict_with_and_without_reduction() {
    let mut mutation_sets = vec![Mutations::none()];
    mutation_sets.extend(Mutation::ALL.iter().map(|&m| Mutations::of(&[m])));
    let variants = [
        Variant::Lamport,
        Variant::LamportReplyCount,
        Variant::RicartAgrawala,
        Variant::UpdateAck,
    ];
    let (mut reduced_states, mut full_states, mut with_findings) = (0, 0, 0);
    for variant in variants {
        for &mutations in &mutation_sets {
            for fifo in [true, false] {
                for fault in 0..6 {
                    let config = with_fault(small(2, fifo, variant, mutations), fault);
                    let name = format!(
                        "2 clients, {}, {:?}, {}, fault {fault}",
                        variant.name(),
                        mutations.list(),
                        if fifo { "FIFO" } else { "bag" }
                    );
                    let setup = generated_setup(config);
                    let (reduced, full) = assert_same_verdict(&name, &setup, None);
                    reduced_states += reduced;
                    full_states += full;
                    let found = explore_system(&setup, &options(false, true, None));
                    with_findings += usize::from(!found.result.found.is_empty());
                }
            }
        }
    }
    // The grid is worth checking: violations and deadlocks to find, states to save.
    assert!(
        with_findings >= 40,
        "only {with_findings} configurations break something"
    );
    assert!(reduced_states < full_states);
}

#[test]
fn three_clients_have_the_same_verdict_with_and_without_reduction() {
    for variant in [Variant::Lamport, Variant::RicartAgrawala] {
        for fifo in [true, false] {
            for fault in [0, 1, 4] {
                let config = with_fault(small(3, fifo, variant, Mutations::none()), fault);
                let name = format!(
                    "3 clients, {}, {}, fault {fault}",
                    variant.name(),
                    if fifo { "FIFO" } else { "bag" }
                );
                assert_same_verdict(&name, &generated_setup(config), None);
            }
        }
    }
    let config = small(
        3,
        true,
        Variant::Lamport,
        Mutations::of(&[Mutation::ReleasePopsHead]),
    );
    assert_same_verdict(
        "3 clients, release-pops-head",
        &generated_setup(config),
        None,
    );
}

/// A step's identity across states: what it does, not where its message sits in a bag.
fn identity(step: &SystemStep, fifo_fault: bool) -> (StepKind, u8, u8, u32, u8) {
    let pos = if fifo_fault { step.pos } else { 0 };
    (step.kind, step.client, step.link, step.msg, pos)
}

/// Every reachable state's successors, without and with reduction: each (encoding, step).
fn successors(expander: &mut SystemExpander, state: &[u8]) -> Vec<(SystemStep, Vec<u8>)> {
    let mut out = Successors::new();
    expander.expand(state, &mut out);
    out.iter()
        .map(|(step, _, bytes)| (step, bytes.to_vec()))
        .collect()
}

/// The independence the reduction rests on, checked on every reachable state of `config`
/// where it leaves steps out: a step taken (of the chosen clients) and a step left out
/// commute, neither disables the other, and a step left out enables no step of a chosen
/// client.
fn assert_independence(name: &str, config: SystemConfig) -> usize {
    let fifo_fault = config.all_fifo() == Some(true);
    let full = SystemModel::new(config);
    let (mut expander, mut reducer) = (full.expander(), full.reducing(true).expander());
    let owner = |step: &SystemStep| match step.kind {
        StepKind::Deliver | StepKind::Lose | StepKind::Duplicate => {
            full.links()[usize::from(step.link)].1.index()
        }
        _ => usize::from(step.client),
    };
    let mut initial = Vec::new();
    full.initial(&mut initial);
    let mut seen = std::collections::HashSet::new();
    let mut queue = vec![initial];
    let mut reduced_states = 0;
    while let Some(state) = queue.pop() {
        if !seen.insert(state.clone()) {
            continue;
        }
        let every = successors(&mut expander, &state);
        let taken = successors(&mut reducer, &state);
        queue.extend(every.iter().map(|(_, bytes)| bytes.clone()));
        if taken.len() == every.len() {
            continue;
        }
        reduced_states += 1;
        let chosen: BTreeSet<usize> = taken.iter().map(|(step, _)| owner(step)).collect();
        let find = |list: &[(SystemStep, Vec<u8>)], step: &SystemStep| {
            list.iter()
                .find(|(other, _)| identity(other, fifo_fault) == identity(step, fifo_fault))
                .map(|(_, bytes)| bytes.clone())
        };
        for (left_out, after_left_out) in &every {
            if chosen.contains(&owner(left_out)) {
                continue;
            }
            let from_left_out = successors(&mut expander, after_left_out);
            let chosen_after: Vec<_> = from_left_out
                .iter()
                .filter(|(step, _)| chosen.contains(&owner(step)))
                .collect();
            assert_eq!(
                chosen_after.len(),
                taken.len(),
                "{name}: {left_out:?} enables or disables a step of the chosen clients"
            );
            for (step, after_step) in &taken {
                let one = find(&from_left_out, step)
                    .unwrap_or_else(|| panic!("{name}: {left_out:?} disables {step:?}"));
                let other = find(&successors(&mut expander, after_step), left_out)
                    .unwrap_or_else(|| panic!("{name}: {step:?} disables {left_out:?}"));
                assert_eq!(
                    one, other,
                    "{name}: {step:?} and {left_out:?} do not commute"
                );
            }
        }
    }
    reduced_states
}

#[test]
fn steps_taken_and_steps_left_out_are_independent() {
    let mut reduced = 0;
    for variant in [Variant::Lamport, Variant::UpdateAck] {
        for fifo in [true, false] {
            for fault in 0..6 {
                let config = with_fault(small(2, fifo, variant, Mutations::none()), fault);
                let name = format!("2 clients, {}, fifo {fifo}, fault {fault}", variant.name());
                reduced += assert_independence(&name, config);
            }
        }
    }
    let config = small(3, true, Variant::Lamport, Mutations::none());
    reduced += assert_independence("3 clients, lamport, FIFO", config);
    assert!(reduced > 100, "only {reduced} reduced states checked");
}

/// Searches `setup` breadth-first, counting the reduction's figures.
fn figures(setup: &ExploreSetup, reduce: bool, jobs: usize) -> (u64, ReductionFigures) {
    let model = SystemModel::new(setup.system.clone())
        .reducing(reduce)
        .with_figures();
    let options = SearchOptions {
        jobs,
        ..options(reduce, true, None)
    };
    let result = search(&model, &options, None);
    assert_eq!(result.stats.stop, Stop::Exhausted);
    let figures = model.figures().expect("counted");
    (result.stats.distinct, figures)
}

#[test]
fn the_figures_add_up_and_the_reduction_takes_no_fewer_steps_than_the_bound() {
    let setup = settings::load(&root().join("scenarios/explore/three-payers.json")).unwrap();
    let (states, reduced) = figures(&setup, true, 2);
    assert_eq!(reduced.expanded, states, "each state is expanded once");
    assert_eq!(reduced.why.iter().sum::<u64>(), states);
    assert!(reduced.why[0] > 0 && reduced.why[1] > 0, "{reduced:?}");
    assert_eq!(reduced.bounded, states, "every link FIFO, no fault");
    // The reduction's sets are persistent: none is below the bound.
    assert_eq!(reduced.bound_above_taken, 0);
    assert!(reduced.forced_full > 0 && reduced.with_race > 0);
    assert!(reduced.bound_steps <= reduced.taken_steps);
    assert!(reduced.taken_steps < reduced.enabled_steps);
    let (full_states, full) = figures(&setup, false, 1);
    assert_eq!(full.expanded, full_states);
    assert_eq!(full.taken_steps, full.enabled_steps);
    // Every state at rest is met with reduction too (with its ledgers).
    assert_eq!(full.terminal_ledgers, reduced.terminal_ledgers);
    assert_eq!(full.terminal, reduced.terminal);
    assert!(full.observed.len() >= reduced.observed.len());
    let text = reduced.render(3);
    assert!(text.contains("every enabled step forced"), "{text}");
    // The search with the bound's sets only runs, and visits fewer states.
    let bound_model = BoundModel::new(SystemModel::new(setup.system.clone()));
    let bound = search(&bound_model, &options(false, true, None), None);
    assert_eq!(bound.stats.stop, Stop::Exhausted);
    assert!(bound.stats.distinct < states);
    // It is not a sound reduction: it misses states at rest.
    let terminal = bound_model
        .terminal
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(terminal < full.terminal, "{terminal}");
}

#[test]
fn the_closures_of_the_search_are_those_computed_client_by_client() {
    // Counting the figures compares them on every state (loss and duplication bounds, crashes
    // for good, bags).
    for clients in [2, 3] {
        for fifo in [true, false] {
            for fault in 0..6 {
                let config = with_fault(
                    small(clients, fifo, Variant::Lamport, Mutations::none()),
                    fault,
                );
                let (states, figures) = figures(&generated_setup(config), true, 1);
                // (and the states on the paths to findings, expanded again to list them)
                assert!(figures.expanded >= states);
            }
        }
    }
}

/// What a search visits from `setup`, as a [`Reach`] (the states at rest are not counted).
fn reach(setup: &ExploreSetup, reduce: bool) -> Reach {
    let model = SystemModel::new(setup.system.clone()).reducing(reduce);
    let result = search(&model, &options(reduce, true, None), None);
    assert_eq!(result.stats.stop, Stop::Exhausted);
    Reach {
        states: result.stats.distinct,
        transitions: result.stats.transitions,
        at_rest: 0,
    }
}

/// The reduction that knows the whole state graph (reduce/oracle.rs): its graph is the full
/// search's, the search's own sets are persistent by it and, replayed on it, visit what the
/// reduced search visits; and with the exact form of condition 2 (any message counting) it
/// meets every state at rest, as a sound reduction must.
#[test]
fn a_reduction_that_knows_the_whole_graph_meets_every_state_at_rest() {
    let configs = [
        small(3, true, Variant::Lamport, Mutations::none()),
        small(3, true, Variant::RicartAgrawala, Mutations::none()),
        small(
            3,
            true,
            Variant::Lamport,
            Mutations::of(&[Mutation::ReleasePopsHead]),
        ),
    ];
    for config in configs {
        let setup = generated_setup(config);
        let figures = oracle_figures(&SystemModel::new(setup.system.clone()));
        let at_rest = |reach: Reach| Reach {
            at_rest: 0,
            ..reach
        };
        assert_eq!(at_rest(figures.full), reach(&setup, false));
        assert_eq!(at_rest(figures.search), reach(&setup, true));
        assert!(figures.full.at_rest > 0);
        assert_eq!(figures.search.at_rest, figures.full.at_rest);
        assert_eq!(figures.exact.at_rest, figures.full.at_rest, "{figures:?}");
        assert!(figures.exact.states < figures.full.states, "{figures:?}");
        assert!(figures.racing.states <= figures.exact.states, "{figures:?}");
        assert_eq!(figures.exact_unobserved.at_rest, figures.full.at_rest);
        assert!(figures.exact_unobserved.states <= figures.exact.states);
    }
}

/// The figures of docs/explore.md ("How far it reaches, and why not further"), for the
/// scenario or exploration file in `EXPLORE_FIGURES` (default: `scenarios/default.json`):
/// `cargo test --release --lib explore::tests::reduction::figures_of_the_reduction -- --ignored --nocapture`.
#[test]
#[ignore = "minutes: run by hand for docs/explore.md's figures"]
fn figures_of_the_reduction_and_of_the_full_search() {
    let file = std::env::var("EXPLORE_FIGURES").unwrap_or("scenarios/default.json".into());
    let setup = settings::load(&root().join(&file)).unwrap_or_else(|e| panic!("{e}"));
    let clients = setup.system.clients as usize;
    if setup.system.all_fifo() == Some(true) && !setup.system.any_faults() {
        let started = std::time::Instant::now();
        let model = BoundModel::new(SystemModel::new(setup.system.clone()));
        let options = SearchOptions {
            jobs: 2,
            ..options(false, true, None)
        };
        let result = search(&model, &options, None);
        println!(
            "{file}, the persistent-set bound's sets only: {} states ({} with no step), {} transitions, {:?}, {:.1} s\n",
            result.stats.distinct,
            model.terminal.load(std::sync::atomic::Ordering::Relaxed),
            result.stats.transitions,
            result.stats.stop,
            started.elapsed().as_secs_f64()
        );
    }
    for reduce in [true, false] {
        let started = std::time::Instant::now();
        let (states, figures) = figures(&setup, reduce, 2);
        println!(
            "{file}, {}: {states} states, {:.1} s\n{}",
            if reduce { "reduced" } else { "--no-reduce" },
            started.elapsed().as_secs_f64(),
            figures.render(clients)
        );
    }
}

/// The figures of the reduction that knows the whole state graph, for docs/explore.md, for
/// the scenario or exploration file in `EXPLORE_FIGURES` (default: `scenarios/default.json`;
/// every link FIFO, no fault):
/// `cargo test --release --lib explore::tests::reduction::figures_of_a_reduction -- --ignored --nocapture`.
#[test]
#[ignore = "minutes and gigabytes: run by hand for docs/explore.md's figures"]
fn figures_of_a_reduction_that_knows_the_whole_graph() {
    let file = std::env::var("EXPLORE_FIGURES").unwrap_or("scenarios/default.json".into());
    let setup = settings::load(&root().join(&file)).unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let figures = oracle_figures(&SystemModel::new(setup.system.clone()));
    println!("{file}, {:.1} s:", started.elapsed().as_secs_f64());
    let full = figures.full.states as f64;
    for (name, reach) in [
        ("every step", figures.full),
        ("the search's reduction", figures.search),
        ("exact condition 2, any message", figures.exact),
        ("exact condition 2, racing messages", figures.racing),
        ("  the same, without condition 3", figures.exact_unobserved),
        ("  racing, without condition 3", figures.racing_unobserved),
    ] {
        println!(
            "  {name:<36} {:>11} states ({:.2}x fewer), {:>11} transitions, {:>9} at rest",
            reach.states,
            full / reach.states as f64,
            reach.transitions,
            reach.at_rest
        );
    }
}
