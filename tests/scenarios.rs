//! Every scenario in `scenarios/` runs, meets its `expect`, and matches its snapshots (the
//! text timeline with the verdict, and the trace summary) in the top-level `snapshots/`.

mod common;

use std::path::Path;

use insta::{Settings, assert_json_snapshot, assert_snapshot};

/// Snapshots go to the top-level `snapshots/`, named without the test module.
fn shared_snapshot_settings() -> Settings {
    let mut settings = Settings::clone_current();
    settings.set_snapshot_path(common::root().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings
}

fn snapshot_settings(path: &Path) -> Settings {
    let mut settings = shared_snapshot_settings();
    settings.set_snapshot_suffix(path.file_stem().unwrap().to_string_lossy().to_string());
    settings.set_input_file(path);
    settings
}

/// Long timelines are pinned by their beginning and their end (the verdict block); the trace
/// digest in the verdict block pins everything in between.
fn abridged(text: &str) -> String {
    const HEAD: usize = 150;
    const TAIL: usize = 40;
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= HEAD + TAIL + 20 {
        return text.to_string();
    }
    let omitted = lines.len() - HEAD - TAIL;
    let mut kept = lines[..HEAD].to_vec();
    let marker = format!("[... {omitted} lines omitted from the snapshot ...]");
    kept.push(&marker);
    kept.extend_from_slice(&lines[lines.len() - TAIL..]);
    kept.join("\n") + "\n"
}

#[test]
fn every_scenario_meets_its_expect_and_matches_its_snapshots() {
    let paths = common::scenario_paths();
    assert!(
        paths.len() >= 3,
        "expected the default, contention and reordering scenarios"
    );
    for path in paths {
        let scenario = common::load(&path);
        assert!(
            scenario.expect.is_some(),
            "{} has no expect block",
            path.display()
        );
        let (report, text, _) = common::run(&scenario);
        assert!(
            report.passed(),
            "{} did not meet its expect:\n{}",
            path.display(),
            text.lines().rev().take(12).collect::<Vec<_>>().join("\n")
        );
        snapshot_settings(&path).bind(|| {
            assert_snapshot!("timeline", abridged(&text));
            assert_json_snapshot!("summary", report.summary);
        });
    }
}

#[test]
fn the_built_in_default_is_the_default_scenario_file() {
    let from_file = common::load(&common::root().join("scenarios/default.json"));
    assert_eq!(lamport_ledger::scenario::default_scenario(), from_file);
}

#[test]
fn the_default_scenario_shows_an_abort_and_a_stale_balance_read() {
    let scenario = lamport_ledger::scenario::default_scenario();
    let (report, text, _) = common::run(&scenario);
    assert_eq!(scenario.clients, 3);
    assert!(
        scenario
            .initial_balances
            .iter()
            .all(|&balance| balance == 10)
    );
    assert!(report.result.aborted >= 1, "no transfer aborted");
    assert!(
        report.result.committed >= 2,
        "fewer than two transfers committed"
    );
    // The read of client 1's balance happens after client 1 committed but before its RELEASE
    // reached the reader, so it still shows the initial 10.
    let commit_line = text
        .lines()
        .position(|line| line.contains("c1") && line.contains("COMMITS"))
        .unwrap();
    let read_line = text
        .lines()
        .position(|line| line.contains("reads the balance of c1"))
        .unwrap();
    assert!(
        read_line > commit_line,
        "the read should come after client 1's commit"
    );
    assert!(
        text.lines().nth(read_line).unwrap().ends_with(": 10"),
        "the read is not stale"
    );
}

#[test]
fn the_reordering_scenario_is_the_known_minimal_schedule() {
    let scenario = common::load(&common::root().join("scenarios/reorder-2.json"));
    let (report, _, trace) = common::run(&scenario);
    assert_eq!(
        report.result.violations[0].violation.invariant.name(),
        "mutual_exclusion"
    );
    // Client 1's REPLY reaches client 2 before client 1's own earlier REQUEST does.
    let deliveries: Vec<serde_json::Value> = String::from_utf8(trace)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|event: &serde_json::Value| event["kind"] == "deliver" && event["node"] == 2)
        .collect();
    let position = |msg_type: &str| {
        deliveries
            .iter()
            .position(|event| event["msg"]["type"] == msg_type)
    };
    let reply = position("reply").expect("client 2 received a REPLY");
    let request = position("request").expect("client 2 received a REQUEST");
    assert!(reply < request, "the REPLY did not overtake the REQUEST");
    assert!(deliveries[reply]["msg_id"].as_u64() > deliveries[request]["msg_id"].as_u64());
}

/// The library covers every assumption and every deliberate bug: each mutation, each fault and
/// each variant under FIFO and under reordering has a scenario, and each mutation's scenario
/// expects a violation.
#[test]
fn the_library_covers_every_fault_variant_and_mutation() {
    use lamport_ledger::protocol::{Mutation, Variant};
    use lamport_ledger::scenario::ExpectedOutcome;

    let scenarios: Vec<_> = common::scenario_paths()
        .iter()
        .map(|path| common::load(path))
        .collect();
    for mutation in Mutation::ALL {
        let found = scenarios.iter().any(|s| {
            s.mutation_set().contains(mutation)
                && s.expect.is_some_and(|e| {
                    e.outcome == ExpectedOutcome::Violation && e.invariant.is_some()
                })
        });
        assert!(found, "no scenario shows the mutation {}", mutation.name());
    }
    for variant in Variant::ALL {
        for fifo in [true, false] {
            let found = scenarios.iter().any(|s| {
                s.protocol.to_protocol() == variant
                    && s.network.fifo == fifo
                    && s.mutations.is_empty()
                    && s.network.duplicate_ratio.is_zero()
                    && s.network.drop_ratio.is_zero()
            });
            assert!(
                found,
                "no scenario runs {} with FIFO {fifo}",
                variant.name()
            );
        }
    }
    let has = |what: &str, test: &dyn Fn(&lamport_ledger::scenario::Scenario) -> bool| {
        assert!(scenarios.iter().any(test), "no scenario with {what}");
    };
    let links = |s: &lamport_ledger::scenario::Scenario,
                 f: &dyn Fn(&lamport_ledger::scenario::LinkSpec) -> bool| {
        s.network.links.iter().any(f)
    };
    has("message loss", &|s| {
        !s.network.drop_ratio.is_zero() || links(s, &|l| l.drop_ratio.is_some())
    });
    has("duplication", &|s| {
        !s.network.duplicate_ratio.is_zero() || links(s, &|l| l.duplicate_ratio.is_some())
    });
    has("a symmetric partition that heals", &|s| {
        s.faults
            .partitions
            .iter()
            .any(|p| !p.one_way && p.heal_us.is_some())
    });
    has("a one-way partition", &|s| {
        s.faults.partitions.iter().any(|p| p.one_way)
    });
    has("a crash keeping the ledger", &|s| {
        s.faults
            .crashes
            .iter()
            .any(|c| c.restart_us.is_some() && c.keep == lamport_ledger::scenario::Keep::Ledger)
    });
    has("a crash losing everything", &|s| {
        s.faults
            .crashes
            .iter()
            .any(|c| c.restart_us.is_some() && c.keep == lamport_ledger::scenario::Keep::Nothing)
    });
    has("8 or more clients", &|s| s.clients >= 8);
    has("10,000 or more transfers", &|s| {
        s.transfer_count() >= 10_000
    });
}

/// With `--keep-going` a run reports every violation. The checker keeps no message logs until
/// the first one, then a replay's checker, which kept them, takes over (docs/checking.md):
/// the explanations of the later violations, which only the logs can give, are pinned here for
/// every scenario that has more than one (they were the same before explanations became lazy).
#[test]
fn keep_going_runs_explain_every_violation_with_the_messages() {
    use lamport_ledger::sim::RunOptions;
    let options = RunOptions {
        stop_at_first_violation: false,
        ..RunOptions::default()
    };
    let mut scenarios: Vec<_> = common::scenario_paths()
        .iter()
        .map(|path| common::load(path))
        .collect();
    scenarios.push(tiebreak_bug_twice());
    let mut explained: Vec<String> = Vec::new();
    for scenario in &scenarios {
        let (report, _, _) = common::run_with(scenario, options);
        if report.result.violations.len() < 2 {
            continue;
        }
        for recorded in &report.result.violations {
            explained.push(format!(
                "{} event {}: {}: {}",
                scenario.source,
                recorded.seq,
                recorded.violation.invariant.name(),
                recorded.violation.detail
            ));
        }
    }
    assert!(explained.len() > 20, "{} violations", explained.len());
    let second_entry = explained
        .iter()
        .filter(|line| line.starts_with("tiebreak-bug-twice"))
        .filter(|line| line.contains("mutual_exclusion"))
        .nth(1);
    assert!(
        second_entry.is_some_and(|line| line.contains("REQUEST (m")),
        "the second entry is explained with the message that announced the request: \
         {second_entry:?}"
    );
    shared_snapshot_settings()
        .bind(|| assert_snapshot!("keep_going_explanations", explained.join("\n")));
}

/// The tie-break bug of `mutation-tiebreak-timestamp-only` hit twice, 50 ms apart: the second
/// double entry is explained, like the first, by the REQUEST message each client had
/// received, which only the message logs can name.
fn tiebreak_bug_twice() -> lamport_ledger::scenario::Scenario {
    let json = serde_json::json!({
        "name": "tiebreak-bug-twice",
        "seed": 0,
        "clients": 2,
        "network": {"latency": {"kind": "constant", "us": 1000}},
        "workload": {"transfers": [
            {"at_us": 0, "from": 1, "to": 2, "amount": 1},
            {"at_us": 0, "from": 2, "to": 1, "amount": 1},
            {"at_us": 50_000, "from": 1, "to": 2, "amount": 1},
            {"at_us": 50_000, "from": 2, "to": 1, "amount": 1}
        ]},
        "mutations": ["tiebreak-timestamp-only"]
    });
    common::scenario_from_json("tiebreak-bug-twice", json)
}

/// One numbering everywhere, the trace's `seq`: the timeline prints it in front of every
/// event (`#14`); the verdict names the event that revealed each violation and the violation
/// event it was recorded as; `check` finds the first violation at the same event.
#[test]
fn timeline_verdict_and_check_number_the_events_alike() {
    use lamport_ledger::check::offline::{OfflineOptions, check_trace};
    let mut violations_seen = 0;
    for path in common::scenario_paths() {
        let scenario = common::load(&path);
        let (report, text, trace) = common::run(&scenario);
        let name = path.display();
        let event_lines: Vec<&str> = text
            .lines()
            .filter(|line| line.trim_start().starts_with('#'))
            .collect();
        assert_eq!(event_lines.len() as u64, report.result.events, "{name}");
        for (seq, line) in event_lines.iter().enumerate() {
            assert!(
                line.trim_start().starts_with(&format!("#{seq} ")),
                "{name}: line {seq} is {line:?}"
            );
        }
        let verdicts: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with("verdict:   VIOLATION") || line.starts_with("also:"))
            .collect();
        assert_eq!(verdicts.len(), report.result.violations.len(), "{name}");
        let number_after = |line: &str, words: &str| -> Option<u64> {
            let rest = &line[line.find(words)? + words.len()..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        };
        let mut revealed = Vec::new();
        for (line, recorded) in verdicts.iter().zip(&report.result.violations) {
            violations_seen += 1;
            let invariant = recorded.violation.invariant.name();
            assert_eq!(
                number_after(line, "recorded as event "),
                Some(recorded.seq),
                "{name}: {line}"
            );
            let violation_line = event_lines[recorded.seq as usize];
            assert!(
                violation_line.contains(&format!("VIOLATION of {invariant}")),
                "{name}: #{} is {violation_line:?}",
                recorded.seq
            );
            match number_after(line, &format!("VIOLATION of {invariant} at event ")) {
                Some(by) => {
                    let by_line = event_lines[by as usize];
                    assert!(
                        by < recorded.seq && !by_line.contains("VIOLATION"),
                        "{name}"
                    );
                    assert!(
                        violation_line.contains(&format!("at event {by}:")),
                        "{name}: {violation_line}"
                    );
                    revealed.push(Some(by));
                }
                None => {
                    assert!(line.contains("at the end of the run"), "{name}: {line}");
                    revealed.push(None);
                }
            }
        }
        let checked = check_trace(&trace[..], OfflineOptions::default()).expect("a valid trace");
        assert_eq!(
            checked.findings.first().map(|finding| finding.seq),
            revealed.first().copied(),
            "{name}: check and run name different events"
        );
    }
    assert!(violations_seen > 20, "{violations_seen} violations");
}

/// scenarios/partition-one-way.json: client 2 waits because client 1's REPLY m1 was lost to
/// the one-way partition (client 1's later REQUEST m2 too); the explanation names both, the
/// REPLY first, and not only the last message on the link.
#[test]
fn a_liveness_explanation_names_every_lost_message_the_waiter_needed() {
    let scenario = common::load(&common::root().join("scenarios/partition-one-way.json"));
    let (report, _, _) = common::run(&scenario);
    let waiter = report
        .result
        .violations
        .iter()
        .find(|recorded| recorded.violation.detail.contains("client 2's transfer"))
        .expect("client 2 never finishes");
    assert!(
        waiter.violation.detail.contains(
            "because client 1's REPLY (m1, sent at t=2.000ms) and its REQUEST (m2, sent at \
             t=3.000ms) to client 2 were lost to a partition"
        ),
        "{}",
        waiter.violation.detail
    );
}
