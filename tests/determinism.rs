//! The same scenario and seed give a byte-identical trace; different seeds give different ones.

mod common;

use sha2::{Digest, Sha256};

#[test]
fn every_scenario_runs_twice_to_the_same_bytes_and_digest() {
    for path in common::scenario_paths() {
        let scenario = common::load(&path);
        let (first, first_text, first_trace) = common::run(&scenario);
        let (second, second_text, second_trace) = common::run(&scenario);
        assert_eq!(first.digest_hex, second.digest_hex, "{}", path.display());
        assert_eq!(
            first_trace,
            second_trace,
            "{}: traces differ",
            path.display()
        );
        assert_eq!(
            first_text,
            second_text,
            "{}: timelines differ",
            path.display()
        );
    }
}

#[test]
fn different_seeds_give_different_traces() {
    for path in common::scenario_paths() {
        let mut scenario = common::load(&path);
        let (first, _, _) = common::run(&scenario);
        scenario.seed += 1;
        let (second, _, _) = common::run(&scenario);
        assert_ne!(
            first.digest_hex,
            second.digest_hex,
            "{}: seed makes no difference",
            path.display()
        );
    }
}

/// Checks that a trace's digest (as the run reported it and as its summary line says) is the
/// SHA-256 of every byte before the summary line.
fn assert_digest_covers_every_line_before_the_summary(trace: &[u8], digest_hex: &str, what: &str) {
    let text = std::str::from_utf8(trace).unwrap();
    let summary_start = text.trim_end().rfind('\n').unwrap() + 1;
    let digest = Sha256::digest(&trace[..summary_start]);
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(hex, digest_hex, "{what}");
    let summary: serde_json::Value = serde_json::from_str(&text[summary_start..]).unwrap();
    assert_eq!(summary["digest"], hex.as_str(), "{what}");
}

#[test]
fn the_digest_is_the_sha256_of_every_line_before_the_summary() {
    for path in common::scenario_paths() {
        let (report, _, trace) = common::run(&common::load(&path));
        let what = path.display().to_string();
        assert_digest_covers_every_line_before_the_summary(&trace, &report.digest_hex, &what);
    }
}

/// A long trace is written and hashed on a helper thread (after its first MiB); the digest
/// must still be the SHA-256 of every byte before the summary.
#[test]
fn a_long_trace_has_the_sha256_of_its_bytes_as_its_digest() {
    let scenario = lamport_ledger::benchmarks::generated(3, 1_000, 11);
    let (report, _, trace) = common::run(&scenario);
    assert!(
        trace.len() > 2 << 20,
        "the trace is long: {} bytes",
        trace.len()
    );
    assert_digest_covers_every_line_before_the_summary(&trace, &report.digest_hex, "long run");
}

/// Forgetting the ledger blocks no message can bring back (what keeps a long run's memory
/// flat) must change nothing a user sees: every scenario, over several seeds, gives the same
/// trace and timeline whether blocks are forgotten after every commit, every 1,024 commits
/// (the default) or never.
#[test]
fn forgetting_unreachable_blocks_changes_no_trace() {
    use lamport_ledger::sim::RunOptions;
    let every = |forget_blocks_every| RunOptions {
        forget_blocks_every,
        ..RunOptions::default()
    };
    let mut scenarios: Vec<_> = common::scenario_paths()
        .iter()
        .map(|path| common::load(path))
        .collect();
    scenarios.push(lamport_ledger::benchmarks::generated(3, 3_000, 5));
    scenarios.push(duplicating_and_reordering(400));
    for mut scenario in scenarios {
        for seed in scenario.seed..scenario.seed + 3 {
            scenario.seed = seed;
            let (_, never_text, never_trace) = common::run_with(&scenario, every(u64::MAX));
            for forget in [1, RunOptions::default().forget_blocks_every] {
                let (_, text, trace) = common::run_with(&scenario, every(forget));
                let what = format!("{} seed {seed}, forgetting every {forget}", scenario.source);
                assert!(trace == never_trace, "{what}: traces differ");
                assert_eq!(text, never_text, "{what}: timelines differ");
            }
        }
    }
}

/// Many transfers over links that duplicate every fifth message and reorder: late copies of
/// blocks keep arriving at clients that already hold them.
fn duplicating_and_reordering(transfers: u64) -> lamport_ledger::scenario::Scenario {
    let json = serde_json::json!({
        "name": "duplicating-and-reordering",
        "seed": 1,
        "clients": 4,
        "network": {
            "latency": {"kind": "uniform", "min_us": 100, "max_us": 9000},
            "fifo": false,
            "duplicate_ratio": [1, 5]
        },
        "workload": {"generated": {
            "count": transfers,
            "gap": {"kind": "uniform", "min_us": 0, "max_us": 3000},
            "amount_min": 1,
            "amount_max": 4
        }},
        "cs_us": 200
    });
    common::scenario_from_json("duplicating-and-reordering", json)
}

/// With forgetting on, a long run holds only the last few blocks in each client.
#[test]
fn a_long_run_holds_few_blocks_but_the_whole_chain_length() {
    use lamport_ledger::sim::{RunOptions, simulate};
    let scenario = lamport_ledger::benchmarks::generated(3, 5_000, 3);
    let result = simulate(&scenario, RunOptions::default(), &mut []).unwrap();
    assert!(result.committed > 4_000, "{} commits", result.committed);
    for client in &result.clients {
        assert_eq!(client.ledger().len(), result.committed);
        let held = client.ledger().blocks().len() as u64;
        assert!(
            held <= 2 * RunOptions::default().forget_blocks_every,
            "client {} holds {held} of {} blocks",
            client.id(),
            result.committed
        );
    }
}

/// A run for its verdict alone (what `sweep` runs first for each seed) must find the same
/// violations at the same events as the full run, or a sweep would pass a failing seed.
#[test]
fn a_verdict_only_run_finds_the_same_violations_at_the_same_events() {
    use lamport_ledger::sim::{RunOptions, simulate};
    let key = |result: &lamport_ledger::sim::RunResult| {
        let violations: Vec<_> = result
            .violations
            .iter()
            .map(|v| (v.violation.invariant, v.violation.node, v.seq, v.t_us))
            .collect();
        (result.events, result.end, result.end_us, violations)
    };
    let mut violating = 0;
    for path in common::scenario_paths() {
        let mut scenario = common::load(&path);
        for seed in scenario.seed..scenario.seed + 5 {
            scenario.seed = seed;
            let full = simulate(&scenario, RunOptions::default(), &mut []).unwrap();
            let verdict = simulate(&scenario, RunOptions::verdict_only(), &mut []).unwrap();
            assert_eq!(key(&verdict), key(&full), "{} seed {seed}", path.display());
            violating += usize::from(!full.violations.is_empty());
        }
    }
    assert!(
        violating > 20,
        "only {violating} runs with violations were compared"
    );
}
