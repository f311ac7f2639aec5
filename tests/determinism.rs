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
    let scenario = lamport_ledger::bench::generated(3, 1_000, 11);
    let (report, _, trace) = common::run(&scenario);
    assert!(
        trace.len() > 2 << 20,
        "the trace is long: {} bytes",
        trace.len()
    );
    assert_digest_covers_every_line_before_the_summary(&trace, &report.digest_hex, "long run");
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
