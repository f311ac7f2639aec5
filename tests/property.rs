//! Property: on reliable FIFO links with no mutations, the paper's algorithm never violates a
//! safety invariant, whatever the clients, latencies, workload and seed. A few thousand
//! generated configurations; a failure prints the scenario, its seed and the rerun command.

use lamport_ledger::check::Invariant;
use lamport_ledger::scenario::{Scenario, parse_scenario};
use lamport_ledger::sim::{RunOptions, simulate};
use proptest::prelude::*;
use serde_json::json;

/// A scenario file's text for the drawn configuration.
fn scenario_json(
    clients: u32,
    latency: serde_json::Value,
    transfers: &[(u64, u32, u32, u64)],
    cs_us: u64,
    seed: u64,
) -> String {
    let transfers: Vec<_> = transfers
        .iter()
        .map(|&(at_us, from, to, amount)| json!({"at_us": at_us, "from": from, "to": to, "amount": amount}))
        .collect();
    serde_json::to_string_pretty(&json!({
        "name": "property",
        "seed": seed,
        "clients": clients,
        "network": {"latency": latency, "fifo": true},
        "workload": {"transfers": transfers},
        "cs_us": cs_us,
        "expect": {"outcome": "ok"}
    }))
    .unwrap()
}

fn latency() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        (0u64..5000).prop_map(|us| json!({"kind": "constant", "us": us})),
        (0u64..3000, 0u64..8000).prop_map(
            |(min, extra)| json!({"kind": "uniform", "min_us": min, "max_us": min + extra})
        ),
        (0u64..2000, 0u64..6000).prop_map(
            |(min, extra)| json!({"kind": "exponential", "min_us": min, "mean_us": min + extra})
        ),
    ]
}

/// Clients 2..=8 and up to 12 transfers between distinct clients at times within 20 ms.
fn configuration() -> impl Strategy<Value = (u32, Vec<(u64, u32, u32, u64)>)> {
    (2u32..=8).prop_flat_map(|clients| {
        let transfer = (0u64..20_000, 1..=clients, 1..clients, 1u64..=15).prop_map(
            move |(at, from, offset, amount)| {
                let to = (from - 1 + offset) % clients + 1;
                (at, from, to, amount)
            },
        );
        (Just(clients), prop::collection::vec(transfer, 1..12))
    })
}

fn run(scenario: &Scenario) -> Vec<Invariant> {
    let result = simulate(scenario, RunOptions::default(), &mut []).expect("no I/O");
    result
        .violations
        .iter()
        .map(|recorded| recorded.violation.invariant)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn lamport_on_reliable_fifo_links_is_always_safe(
        (clients, transfers) in configuration(),
        latency in latency(),
        cs_us in 0u64..5000,
        seed in any::<u64>(),
    ) {
        let text = scenario_json(clients, latency, &transfers, cs_us, seed);
        let scenario = parse_scenario(&text, "property.json").expect("generated scenarios are valid");
        let violated = run(&scenario);
        let safety: Vec<_> = violated.iter().filter(|invariant| invariant.is_safety()).collect();
        prop_assert!(
            safety.is_empty(),
            "safety violated: {safety:?}\nsave this as property.json and rerun with \
             `lamport-ledger run property.json --seed {seed}`:\n{text}"
        );
        // Reliable links and no crashes: every transfer finishes too.
        prop_assert!(violated.is_empty(), "liveness violated: {violated:?}\n{text}");
    }
}
