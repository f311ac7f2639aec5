//! `lamport-ledger check`: traces written by `run` pass or fail as their runs did, tampered or
//! broken traces are caught with the right exit code and line, and hand-made traces from
//! "another source" are checked the same way.

mod common;

use common::{
    check, check_written, check_written_with, lamport_ledger, stderr, stdout, summary_of,
    with_summary,
};

use std::collections::BTreeSet;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Output;

use lamport_ledger::check::offline::{OfflineOptions, OfflineReport, check_trace};
use lamport_ledger::check::{Checker, Invariant, Waiter};
use lamport_ledger::protocol::{Client, Phase};
use lamport_ledger::runner::run_scenario;
use lamport_ledger::sim::RunOptions;
use lamport_ledger::trace::EventKind;
use lamport_ledger::trace::read::TraceReader;
use serde_json::{Value, json};

/// `run SCENARIO --trace DIR/NAME.jsonl`; returns the trace path.
fn traced_run(dir: &Path, scenario: &Path) -> PathBuf {
    let trace = dir.join(format!(
        "{}.jsonl",
        scenario.file_stem().unwrap().to_string_lossy()
    ));
    let output = lamport_ledger(&[
        "run",
        &scenario.display().to_string(),
        "--trace",
        &trace.display().to_string(),
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{} did not meet its expect",
        scenario.display()
    );
    trace
}

/// The invariant of the first "VIOLATION of …" line of `check`'s output.
fn first_reported(output: &Output) -> Option<String> {
    stdout(output)
        .lines()
        .find_map(|line| line.strip_prefix("VIOLATION of "))
        .map(|rest| rest.split_whitespace().next().unwrap().to_string())
}

/// Replaces the summary's digest with the SHA-256 of everything before the summary line.
fn redigest(trace: &str) -> String {
    let body_end = trace.trim_end().rfind('\n').unwrap() + 1;
    let body = &trace[..body_end];
    let mut summary = summary_of(trace);
    summary["digest"] = Value::from(common::digest_hex(body));
    format!("{body}{summary}\n")
}

#[test]
fn every_scenario_trace_checks_as_its_run_ended() {
    let dir = tempfile::tempdir().unwrap();
    for path in common::scenario_paths() {
        let scenario = common::load(&path);
        let expect = scenario.expect.unwrap();
        let trace_path = traced_run(dir.path(), &path);
        let trace = std::fs::read_to_string(&trace_path).unwrap();
        let recorded_first = summary_of(&trace)["violations"]
            .as_array()
            .unwrap()
            .first()
            .map(|v| v["invariant"].as_str().unwrap().to_string());
        for keep_going in [false, true] {
            let extra: &[&str] = if keep_going { &["--keep-going"] } else { &[] };
            let output = check(&trace_path, extra);
            let name = path.display();
            match &expect.invariant {
                None => {
                    assert_eq!(
                        output.status.code(),
                        Some(0),
                        "{name}: {}{}",
                        stdout(&output),
                        stderr(&output)
                    );
                    assert!(stdout(&output).contains("OK, every invariant holds"));
                }
                Some(invariant) => {
                    assert_eq!(
                        output.status.code(),
                        Some(1),
                        "{name}: {}{}",
                        stdout(&output),
                        stderr(&output)
                    );
                    let first = first_reported(&output);
                    assert_eq!(first, recorded_first, "{name}: {}", stdout(&output));
                    if !keep_going {
                        assert_eq!(first.as_deref(), Some(invariant.name()), "{name}");
                    }
                }
            }
            if !keep_going {
                let recorded = stdout(&output)
                    .lines()
                    .find(|line| line.starts_with("recorded:"))
                    .unwrap()
                    .to_string();
                assert!(!recorded.contains("DISAGREE"), "{name}: {recorded}");
            }
        }
    }
}

fn report(trace: &[u8], keep_going: bool) -> OfflineReport {
    check_trace(
        trace,
        OfflineOptions {
            keep_going,
            ..OfflineOptions::default()
        },
    )
    .unwrap_or_else(|error| panic!("{error}"))
}

/// The simulator and the offline check share one checker: every safety violation the run
/// recorded is found offline with the very same words.
#[test]
fn offline_findings_repeat_the_runs_words() {
    for path in common::scenario_paths() {
        let (_, _, trace) = common::run(&common::load(&path));
        let report = report(&trace, true);
        let safety_claims: Vec<_> = report
            .claims
            .iter()
            .filter(|claim| claim.invariant.is_safety())
            .collect();
        let safety_found: Vec<_> = report
            .findings
            .iter()
            .filter(|finding| finding.violation.invariant.is_safety())
            .collect();
        for (claim, finding) in safety_claims.iter().zip(&safety_found) {
            assert_eq!(claim.invariant, finding.violation.invariant);
            assert_eq!(claim.detail, finding.violation.detail, "{}", path.display());
            assert!(claim.seq.unwrap() > finding.seq.unwrap());
        }
    }
}

/// The waiters rebuilt from the events are the simulator's own (built from its clients as
/// `sim::waiters` does), so online and offline liveness reports say the same.
#[test]
fn waiters_rebuilt_from_events_match_the_clients() {
    for path in common::scenario_paths() {
        let scenario = common::load(&path);
        let trace = common::SharedBuffer::default();
        let report = run_scenario(
            &scenario,
            RunOptions::default(),
            vec![Box::new(trace.clone())],
            &mut [],
        )
        .unwrap();
        let bytes = trace.bytes();
        let mut reader = TraceReader::new(BufReader::new(&bytes[..])).unwrap();
        let mut checker = Checker::for_trace(&reader.header().initial_balances);
        // As inside the simulator: no delivery matching, no receivers' counters.
        let mut online = Checker::new(&reader.header().initial_balances);
        let mut found = Vec::new();
        // The clients down when the run ends: crashed and not restarted since.
        let mut down_at_end = BTreeSet::new();
        while let Some(event) = reader.next_event().unwrap() {
            match event.kind {
                EventKind::Crash => {
                    down_at_end.insert(event.node);
                }
                EventKind::Restart { .. } => {
                    down_at_end.remove(&event.node);
                }
                _ => {}
            }
            checker.observe(&event, &mut found);
            online.observe(&event, &mut found);
        }
        let down = |client: &Client| down_at_end.contains(&Some(client.id()));
        let from_clients: Vec<Waiter> = report
            .result
            .clients
            .iter()
            .filter(|client| !down(client))
            .filter(|client| *client.phase() != Phase::Idle || client.pending().len() > 0)
            .map(|client| Waiter {
                node: client.id(),
                current: match client.phase() {
                    Phase::Idle => None,
                    Phase::Waiting { transfer, .. } | Phase::Inside { transfer, .. } => {
                        Some((transfer.to, transfer.amount))
                    }
                },
                reason: client.wait_reason(),
                queued: client.pending().len(),
            })
            .collect();
        let from_events = checker.waiters_from_events(scenario.protocol.name());
        // A run stopped at a violation is judged by its safety violation, not by who waits.
        if report.result.end != lamport_ledger::sim::EndReason::Violation {
            assert_eq!(from_events, from_clients, "{}", path.display());
            // So the simulator, calling Checker::liveness_violations with its own waiters,
            // explains a liveness violation in the very words of the offline check.
            let why = "with nothing left in flight";
            assert_eq!(
                online.liveness_violations(&from_clients, why),
                checker.liveness_violations(&from_events, why),
                "{}",
                path.display()
            );
        }
    }
}

/// Builds a trace as another source might write it: `events` without `type` and `seq`
/// (added here), then a summary with correct counts and digest.
fn hand_made(clients: u32, events: &[Value], end: &str) -> String {
    let balances: serde_json::Map<String, Value> = (1..=clients)
        .map(|id| (id.to_string(), Value::from(10)))
        .collect();
    let header = json!({
        "type": "header", "format": "lamport-ledger-trace", "version": 1,
        "scenario": "hand-made", "clients": clients, "initial_balances": balances,
        "protocol": "lamport", "source": "a test"
    });
    let mut text = format!("{header}\n");
    let count = |kind: &str| events.iter().filter(|e| e["kind"] == kind).count();
    for (seq, event) in events.iter().enumerate() {
        let mut line = json!({"type": "event", "seq": seq});
        for (key, value) in event.as_object().unwrap() {
            line[key] = value.clone();
        }
        text.push_str(&format!("{line}\n"));
    }
    let tables: serde_json::Map<String, Value> = (1..=clients)
        .map(|id| (id.to_string(), Value::Object(balances.clone())))
        .collect();
    let heads: serde_json::Map<String, Value> = (1..=clients)
        .map(|id| (id.to_string(), Value::from("0".repeat(64))))
        .collect();
    let summary = json!({
        "type": "summary", "events": events.len(), "committed": count("commit"),
        "aborted": count("abort"), "end": end, "violations": [],
        "final_balances": tables, "heads": heads, "digest": common::digest_hex(&text)
    });
    text.push_str(&format!("{summary}\n"));
    text
}

fn ev(t: u64, node: u32, clock: u64, kind: &str, fields: Value) -> Value {
    let mut event = json!({"t": t, "node": node, "clock": clock, "kind": kind});
    for (key, value) in fields.as_object().unwrap() {
        event[key] = value.clone();
    }
    event
}

#[test]
fn two_overlapping_critical_sections_are_a_mutual_exclusion_violation() {
    let events = [
        ev(0, 1, 1, "request", json!({"ts": 1})),
        ev(0, 2, 1, "request", json!({"ts": 1})),
        ev(10, 1, 1, "enter", json!({"ts": 1})),
        ev(20, 2, 1, "enter", json!({"ts": 1})),
        ev(30, 1, 2, "exit", json!({"ts": 1})),
        ev(40, 2, 2, "exit", json!({"ts": 1})),
    ];
    let dir = tempfile::tempdir().unwrap();
    // No step of the protocol enters without its request being granted ...
    let output = check_written(
        dir.path(),
        "overlap.jsonl",
        &hand_made(2, &events, "quiescent"),
        2,
    );
    assert!(
        stderr(&output).contains(
            "overlap.jsonl:2: event 0 (client 1's request with timestamp 1 at clock 1) does not \
             follow from the events before it: it is no input"
        ),
        "{}",
        stderr(&output)
    );
    // ... but the invariants alone judge the intervals.
    let output = check_written_with(
        dir.path(),
        "overlap.jsonl",
        &hand_made(2, &events, "quiescent"),
        &["--invariants-only"],
        1,
    );
    let text = stdout(&output);
    assert!(
        text.contains("replay:    skipped (--invariants-only)"),
        "{text}"
    );
    assert!(
        text.contains(
            "VIOLATION of mutual_exclusion at event 3 (t=0.020ms), clients 2 and 1: client 2 \
             entered the critical section with request (1,2) at t=0.020ms while client 1 was \
             still inside with request (1,1) since t=0.010ms (event 2)"
        ),
        "{text}"
    );
    assert!(text.contains("the trace records no violation, but the checker finds"));

    // The same intervals one after the other are fine.
    let mut apart = events.to_vec();
    apart.swap(3, 4);
    apart[3]["t"] = 20.into();
    apart[4]["t"] = 30.into();
    check_written_with(
        dir.path(),
        "apart.jsonl",
        &hand_made(2, &apart, "quiescent"),
        &["--invariants-only"],
        0,
    );
}

#[test]
fn a_transfer_that_never_finishes_is_a_liveness_violation_with_its_cause() {
    let request = json!({"type": "request", "ts": 1});
    let events = [
        ev(0, 1, 0, "transfer", json!({"to": 2, "amount": 3})),
        ev(0, 1, 1, "request", json!({"ts": 1})),
        ev(
            0,
            1,
            1,
            "send",
            json!({"msg_id": 0, "to": 2, "msg": request}),
        ),
        ev(0, 1, 1, "drop", json!({"msg_id": 0, "reason": "loss"})),
    ];
    let dir = tempfile::tempdir().unwrap();
    let output = check_written(
        dir.path(),
        "stuck.jsonl",
        &hand_made(2, &events, "quiescent"),
        1,
    );
    let text = stdout(&output);
    assert!(
        text.contains(
            "VIOLATION of liveness at the end of the trace (t=0.000ms), clients 1 and 2: the run \
             ended with nothing left in flight but client 1's transfer of 3 to client 2 never \
             finished: it waits for client 2: it has received nothing later than its request \
             (1,1) from client 2 (largest timestamp seen: 0), because client 1's REQUEST (m0, \
             sent at t=0.000ms) to client 2 was lost by the network"
        ),
        "{text}"
    );

    // Delivered, replied to and committed: no liveness violation.
    let reply = json!({"type": "reply", "ts": 2});
    let block = json!({"index": 0, "prev": "0".repeat(64),
        "hash": "4ee7f3f9c7a92a3c0c7d53bc48e6bd2533261e359eef1275a44cf7be8157391c",
        "ts": 1, "from": 1, "to": 2, "amount": 3});
    let finished = [
        events[0].clone(),
        events[1].clone(),
        events[2].clone(),
        ev(
            5,
            2,
            2,
            "deliver",
            json!({"msg_id": 0, "from": 1, "msg": request}),
        ),
        ev(5, 2, 2, "send", json!({"msg_id": 1, "to": 1, "msg": reply})),
        ev(
            9,
            1,
            3,
            "deliver",
            json!({"msg_id": 1, "from": 2, "msg": reply}),
        ),
        ev(9, 1, 3, "enter", json!({"ts": 1})),
        ev(9, 1, 3, "commit", json!({"block": block})),
        ev(20, 1, 4, "exit", json!({"ts": 1})),
        ev(
            20,
            1,
            4,
            "send",
            json!({"msg_id": 2, "to": 2, "msg": {"type": "release", "ts": 4, "request_ts": 1,
                "block": block}}),
        ),
    ];
    let mut trace = hand_made(2, &finished, "max_time");
    // The commit moved 3 from client 1 to client 2 in client 1's table, and changed its head.
    let mut summary = summary_of(&trace);
    summary["final_balances"]["1"] = json!({"1": 7, "2": 13});
    summary["heads"]["1"] = block["hash"].clone();
    let body_end = trace.trim_end().rfind('\n').unwrap() + 1;
    trace = format!("{}{summary}\n", &trace[..body_end]);
    check_written(dir.path(), "finished.jsonl", &trace, 0);
}

#[test]
fn a_delivery_of_a_message_never_sent_is_caught() {
    let events = [ev(
        5,
        2,
        2,
        "deliver",
        json!({"msg_id": 7, "from": 1, "msg": {"type": "reply", "ts": 1}}),
    )];
    let dir = tempfile::tempdir().unwrap();
    let output = check_written(
        dir.path(),
        "orphan.jsonl",
        &hand_made(2, &events, "quiescent"),
        1,
    );
    assert!(
        stdout(&output).contains(
            "VIOLATION of clock_condition at event 0 (t=0.005ms), clients 2 and 1: client 2 \
             received REPLY m7 from client 1, but no event before it sends m7"
        ),
        "{}",
        stdout(&output)
    );

    // The same in a simulated trace: point a delivery at an id nobody used.
    let dir = tempfile::tempdir().unwrap();
    let trace_path = traced_run(dir.path(), &common::root().join("scenarios/default.json"));
    let trace = std::fs::read_to_string(&trace_path).unwrap();
    let line = trace
        .lines()
        .position(|line| line.contains("\"kind\":\"deliver\""))
        .unwrap();
    let edited: Vec<String> = trace
        .lines()
        .enumerate()
        .map(|(at, text)| {
            if at == line {
                let mut event: Value = serde_json::from_str(text).unwrap();
                event["msg_id"] = 999_999.into();
                event.to_string()
            } else {
                text.to_string()
            }
        })
        .collect();
    let output = check_written(
        dir.path(),
        "edited.jsonl",
        &redigest(&(edited.join("\n") + "\n")),
        1,
    );
    assert_eq!(first_reported(&output).as_deref(), Some("clock_condition"));
    assert!(stdout(&output).contains("no event before it sends m999999"));
}

#[test]
fn a_changed_amount_in_a_commit_is_caught_by_the_hash_even_with_a_new_digest() {
    let dir = tempfile::tempdir().unwrap();
    let trace_path = traced_run(dir.path(), &common::root().join("scenarios/default.json"));
    let trace = std::fs::read_to_string(&trace_path).unwrap();
    assert_eq!(check(&trace_path, &[]).status.code(), Some(0));
    let commit = trace
        .lines()
        .position(|line| line.contains("\"kind\":\"commit\""))
        .unwrap();
    let mut lines: Vec<String> = trace.lines().map(str::to_string).collect();
    let mut event: Value = serde_json::from_str(&lines[commit]).unwrap();
    let amount = event["block"]["amount"].as_u64().unwrap();
    event["block"]["amount"] = (amount - 1).into();
    lines[commit] = event.to_string();
    let tampered = lines.join("\n") + "\n";

    // With the old digest the edit is a broken trace (exit 2) ...
    let output = check_written(dir.path(), "old-digest.jsonl", &tampered, 2);
    assert!(
        stderr(&output).contains("the summary's digest"),
        "{}",
        stderr(&output)
    );
    // ... and with a recomputed digest, the replay gives it away: the client's step commits
    // the block of its transfer, not this one ...
    let seq = event["seq"].as_u64().unwrap();
    let output = check_written(dir.path(), "new-digest.jsonl", &redigest(&tampered), 2);
    assert!(
        stderr(&output).contains(&format!(
            "new-digest.jsonl:{}: event {seq} (client 1's commit of block 0 (1 pays {} to 2",
            seq + 2,
            amount - 1
        )),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains(&format!(
            "produces client 1's commit of block 0 (1 pays {amount} to 2"
        )),
        "{}",
        stderr(&output)
    );
    // ... and so does the block hash, to the invariants alone.
    let output = check_written_with(
        dir.path(),
        "new-digest.jsonl",
        &redigest(&tampered),
        &["--invariants-only"],
        1,
    );
    assert_eq!(first_reported(&output).as_deref(), Some("chain_integrity"));
    assert!(
        stdout(&output).contains(&format!("at event {}", event["seq"].as_u64().unwrap())),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("does not recompute from its fields"));
}

#[test]
fn broken_traces_exit_2_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let trace_path = traced_run(dir.path(), &common::root().join("scenarios/default.json"));
    let trace = std::fs::read_to_string(&trace_path).unwrap();
    let lines: Vec<&str> = trace.lines().collect();
    let shown = |name: &str| dir.path().join(name).display().to_string();

    // A deleted event line: the next line's seq skips one.
    let mut deleted = lines.clone();
    deleted.remove(10);
    let output = check_written(dir.path(), "deleted.jsonl", &(deleted.join("\n") + "\n"), 2);
    assert_eq!(
        stderr(&output).trim_end(),
        format!(
            "lamport-ledger: {}:11: `seq` is 10 but 9 was expected: seq counts from 0 \
             without gaps, so an event is missing or out of place",
            shown("deleted.jsonl")
        )
    );

    // Truncated in the middle of a line, and cut after a whole line.
    let output = check_written(dir.path(), "cut.jsonl", &trace[..trace.len() / 2], 2);
    assert!(
        stderr(&output).contains("the trace is truncated"),
        "{}",
        stderr(&output)
    );
    let whole_lines = lines[..20].join("\n") + "\n";
    let output = check_written(dir.path(), "short.jsonl", &whole_lines, 2);
    assert!(
        stderr(&output).contains(
            "short.jsonl:21: the trace ends after line 20 without a summary line: it is truncated"
        ),
        "{}",
        stderr(&output)
    );

    // One edited byte with the old digest.
    let edited = trace.replacen("\"of\":1,\"value\":10", "\"of\":1,\"value\":11", 1);
    assert_ne!(edited, trace);
    let output = check_written(dir.path(), "byte.jsonl", &edited, 2);
    assert!(
        stderr(&output).contains(&format!(".jsonl:{}: the summary's digest", lines.len())),
        "{}",
        stderr(&output)
    );

    // Malformed JSON: line and column.
    let mut broken = lines.clone();
    broken[5] = "{\"type\":\"event\",\"seq\":4,,}";
    let output = check_written(dir.path(), "json.jsonl", &(broken.join("\n") + "\n"), 2);
    assert!(
        stderr(&output).contains("json.jsonl:6:25: malformed JSON"),
        "{}",
        stderr(&output)
    );

    // Something after the summary.
    let output = check_written(
        dir.path(),
        "after.jsonl",
        &format!("{trace}{}\n", lines[3]),
        2,
    );
    assert!(stderr(&output).contains("more after the summary line"));

    // A summary whose counts disagree with the events.
    let mut summary = summary_of(&trace);
    summary["committed"] = (summary["committed"].as_u64().unwrap() + 1).into();
    let body = lines[..lines.len() - 1].join("\n") + "\n";
    let output = check_written(dir.path(), "counts.jsonl", &format!("{body}{summary}\n"), 2);
    assert!(stderr(&output).contains("the summary says `committed` is"));

    // No such file, no such flag.
    assert_eq!(
        check(&dir.path().join("missing.jsonl"), &[]).status.code(),
        Some(2)
    );
    assert_eq!(check(&trace_path, &["--bogus"]).status.code(), Some(2));
}

#[test]
fn keep_going_reports_more_than_the_first_violation() {
    let dir = tempfile::tempdir().unwrap();
    let trace_path = traced_run(dir.path(), &common::root().join("scenarios/reorder-2.json"));
    let count = |output: &Output| {
        stdout(output)
            .lines()
            .filter(|line| line.starts_with("VIOLATION of"))
            .count()
    };
    let first = check(&trace_path, &[]);
    let all = check(&trace_path, &["--keep-going"]);
    assert_eq!(count(&first), 1);
    assert!(count(&all) >= 2, "{}", stdout(&all));
    assert!(stdout(&first).contains("--keep-going checks the rest"));
    assert!(
        stdout(&all).contains("VIOLATION of ledger_agreement"),
        "{}",
        stdout(&all)
    );
}

#[test]
fn violation_events_are_claims_not_facts() {
    // A trace that claims a violation the events do not show: the checker finds none and
    // says they disagree.
    let events = [
        ev(0, 1, 0, "balance", json!({"of": 1, "value": 10})),
        ev(
            0,
            1,
            0,
            "violation",
            json!({"invariant": "mutual_exclusion", "detail": "made up"}),
        ),
    ];
    let claimed = |end: &str| {
        with_summary(&hand_made(2, &events, end), |summary| {
            summary["violations"] = json!([{"invariant": "mutual_exclusion", "seq": 1, "t": 0,
                "detail": "made up"}]);
        })
    };
    // Nor is the summary's word that the run stopped at it.
    let error = check_trace(claimed("violation").as_bytes(), OfflineOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "line 4: the summary says the run stopped at a violation, but the checker finds no \
             safety violation in the events"
        ),
        "{error}"
    );
    let trace = claimed("quiescent");
    let report = report(trace.as_bytes(), false);
    assert!(report.passed());
    assert!(!report.agrees());
    assert_eq!(
        report.agreement(),
        "the trace records 1 violation: mutual_exclusion at event 0 (recorded as event 1); \
         the checker finds none: they DISAGREE"
    );
    assert_eq!(report.claims[0].invariant, Invariant::MutualExclusion);
}

/// A run that ends quiescent one event short of `limits.max_events` and then writes its
/// closing violation: the limit does not count that violation, and neither does `check`.
#[test]
fn closing_violations_do_not_count_against_the_event_limit() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(common::root().join("scenarios/loss-lamport.json"));
    let mut scenario: Value = serde_json::from_str(&text.unwrap()).unwrap();
    scenario["limits"] = json!({"max_events": 7});
    let path = dir.path().join("loss-lamport-7.json");
    std::fs::write(&path, scenario.to_string()).unwrap();
    let trace = std::fs::read_to_string(traced_run(dir.path(), &path)).unwrap();
    let summary = summary_of(&trace);
    assert_eq!(summary["end"], "quiescent");
    assert_eq!(summary["events"], 7);
    // Exit 1: the trace's liveness violation, found again; not 2, a summary rejected.
    let output = check_written(dir.path(), "genuine.jsonl", &trace, 1);
    assert!(stdout(&output).contains("VIOLATION of liveness"));
}
