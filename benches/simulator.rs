//! `cargo bench`: the hot paths at sizes that take milliseconds, for comparing two commits
//! (divan prints the fastest, slowest, median and mean of many samples, and the rate per
//! counter). The full-size cases of issue 7 and their targets are `lamport-ledger bench`;
//! docs/performance.md records both.

use divan::Bencher;
use divan::counter::ItemsCount;
use lamport_ledger::benchmarks::{explore_tla_states, generated, null_loop};
use lamport_ledger::protocol::{Block, ClientId, GENESIS_PREV};
use lamport_ledger::runner::run_scenario;
use lamport_ledger::sim::{RunOptions, simulate};

fn main() {
    divan::main();
}

/// One run of `clients` clients and 100 transfers with every check on and no trace, as `run`
/// makes it (explanations included); the counter is trace events.
#[divan::bench(args = [3, 5, 64])]
fn run_100_transfers(bencher: Bencher, clients: u32) {
    let scenario = generated(clients, 100, 0);
    let events = simulate(&scenario, RunOptions::default(), &mut [])
        .expect("no I/O")
        .events;
    bencher
        .counter(ItemsCount::new(events))
        .bench(|| simulate(&scenario, RunOptions::default(), &mut []));
}

/// One seed of a sweep of 5 clients x 100 transfers as `sweep` runs a passing seed: for its
/// verdict alone (`sweep-n5` of `lamport-ledger bench`).
#[divan::bench]
fn sweep_seed_verdict_only(bencher: Bencher) {
    let scenario = generated(5, 100, 0);
    bencher.bench(|| simulate(&scenario, RunOptions::verdict_only(), &mut []));
}

/// The same seed in full: the trace encoded and hashed for its digest (`sweep --out`).
#[divan::bench]
fn sweep_seed_with_digest(bencher: Bencher) {
    let scenario = generated(5, 100, 0);
    bencher.bench(|| run_scenario(&scenario, RunOptions::default(), Vec::new(), &mut []));
}

/// The ceiling: the message pattern of 3 clients x 1,000 transfers with no protocol.
#[divan::bench]
fn null_loop_1000_transfers(bencher: Bencher) {
    let scenario = generated(3, 1000, 0);
    let (events, _) = null_loop(&scenario);
    bencher
        .counter(ItemsCount::new(events))
        .bench(|| null_loop(&scenario));
}

/// One block hash by the rule of docs/spec.md section 2 (preimage and SHA-256).
#[divan::bench]
fn block_hash(bencher: Bencher) {
    bencher.bench(|| {
        Block::new(
            41,
            GENESIS_PREV,
            1_234_567,
            ClientId::new(3),
            ClientId::new(1),
            7,
        )
    });
}

/// The TLA+ port for N = 2, maxClock = 5: the explorer's search and state store.
#[divan::bench(sample_count = 20)]
fn explore_tla_n2_clock5(bencher: Bencher) {
    bencher.bench(|| explore_tla_states(2, 5, false));
}
