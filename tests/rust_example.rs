//! The Rust example `examples/central_server` (a central-server mutex of its own behind
//! `protocol::Node`) run for real: its modules are compiled into this test, so the example
//! cannot stop working without this test failing.

#[path = "../examples/central_server/demo.rs"]
mod demo;
#[path = "../examples/central_server/node.rs"]
mod node;

use std::sync::Arc;

use lamport_ledger::protocol::{Amount, ClientConfig};
use lamport_ledger::{ExploreOptions, default_scenario, explore_nodes};
use node::{CentralClient, Flaw};

fn make(flaw: Flaw) -> impl Fn(&ClientConfig, Arc<[Amount]>) -> CentralClient {
    move |config, balances| CentralClient::new(config, balances, flaw)
}

#[test]
fn the_protocol_as_described_passes_the_simulator_and_the_explorer() {
    let mut out = Vec::new();
    let verdicts = demo::run(Flaw::None, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(verdicts.passed(), "{text}");
    assert!(verdicts.explored.conclusive, "{text}");
    assert!(verdicts.explored.states > 100, "{text}");
    assert!(
        text.contains("simulate:  passed: 3 committed, 1 aborted"),
        "{text}"
    );
    assert!(text.contains("(complete)"), "{text}");
    assert!(text.contains("verdict:   OK"), "{text}");
}

#[test]
fn the_flaw_is_caught_by_both_with_a_replayed_path_the_checker_agrees_with() {
    let mut out = Vec::new();
    let verdicts = demo::run(Flaw::GrantsEveryRequest, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        verdicts.simulated.first(),
        Some(&"mutual_exclusion"),
        "{text}"
    );
    let found = &verdicts.explored.violations;
    assert_eq!(found.len(), 1, "{text}");
    assert_eq!(found[0].invariant, "mutual_exclusion");
    assert!(found[0].checker_agrees, "{text}");
    // Breadth-first: the shortest path, c2's grant while c1 (the server) is inside.
    assert_eq!(found[0].steps.len(), 4, "{text}");
    assert!(found[0].steps[3].contains("ENTERS"), "{text}");
    assert!(
        text.contains("verdict:   VIOLATION of mutual_exclusion after 4 steps"),
        "{text}"
    );

    // The trace is JSON Lines: a header, then the events of the path.
    let trace = String::from_utf8(found[0].trace.clone()).unwrap();
    assert!(trace.starts_with("{\"type\":\"header\""), "{trace}");
    assert!(trace.contains("\"kind\":\"violation\""), "{trace}");
}

#[test]
fn the_verdict_is_the_same_without_reduction_and_on_two_threads() {
    let scenario = default_scenario();
    let full = ExploreOptions {
        reduce: false,
        ..ExploreOptions::default()
    };
    let reduced = explore_nodes(&scenario, &ExploreOptions::default(), make(Flaw::None)).unwrap();
    let every = explore_nodes(&scenario, &full, make(Flaw::None)).unwrap();
    assert!(reduced.passed() && every.passed());
    assert!(every.states >= reduced.states);
    let two_threads = ExploreOptions {
        jobs: 2,
        ..ExploreOptions::default()
    };
    let threaded = explore_nodes(&scenario, &two_threads, make(Flaw::None)).unwrap();
    assert_eq!(
        threaded, reduced,
        "the results do not depend on the threads"
    );
    let flawed = explore_nodes(&scenario, &full, make(Flaw::GrantsEveryRequest)).unwrap();
    assert_eq!(flawed.violations[0].invariant, "mutual_exclusion");
    assert_eq!(flawed.violations[0].steps.len(), 4);
}

#[test]
fn the_protocol_needs_fifo_links_and_the_explorer_shows_why() {
    // On bags a grant may overtake the block the server forwarded before it: the next
    // holder commits at an index another client already has, and the ledgers fork.
    let bag = ExploreOptions {
        bag: true,
        ..ExploreOptions::default()
    };
    let explored = explore_nodes(&default_scenario(), &bag, make(Flaw::None)).unwrap();
    let first = explored.violations.first().expect("a violation on bags");
    assert_eq!(first.invariant, "ledger_agreement", "{}", first.detail);
    assert!(first.checker_agrees);
}
