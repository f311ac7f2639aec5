//! `lamport-ledger check` against a forger who can recompute the digest, on what the clients
//! do and how the run ends: a summary whose `end` or `end_us` the events contradict, client
//! events that do not follow from the ones before them, a trace that stops with a step or a
//! timer unfinished, and a crash the header does not schedule are rejected (exit code 2) with
//! the line and why. `check_forged_network.rs` holds the network's events.

mod common;
mod forged_common;

use serde_json::{Value, json};

use common::{check, check_written, forged, stderr, summary_of, with_summary};
use forged_common::{first_with, trace_of, traced_run};

#[test]
fn a_summary_whose_end_the_events_contradict_is_inconsistent() {
    let dir = tempfile::tempdir().unwrap();
    let trace_path = traced_run(dir.path(), "partition-heal");
    let trace = std::fs::read_to_string(&trace_path).unwrap();
    assert_eq!(summary_of(&trace)["end"], "quiescent");
    assert_eq!(check(&trace_path, &[]).status.code(), Some(1));
    let last_t = trace.lines().rev().nth(1).map(|line| {
        serde_json::from_str::<Value>(line).unwrap()["t"]
            .as_u64()
            .unwrap()
    });
    let summary_line = trace.lines().count();
    type SummaryEdit = Box<dyn Fn(&mut Value)>;
    let cases: [(&str, SummaryEdit, &str); 6] = [
        (
            "violation.jsonl",
            Box::new(|s| s["end"] = "violation".into()),
            "the summary says the run stopped at a violation, but the checker finds no safety \
             violation in the events",
        ),
        (
            "banana.jsonl",
            Box::new(|s| s["end"] = "banana".into()),
            "the summary's `end` is \"banana\", but a run ends quiescent, violation, max_events, \
             max_time, stopped or explored",
        ),
        (
            "end-zero.jsonl",
            Box::new(|s| s["end_us"] = 0.into()),
            "(`end_us` 0), before its last event",
        ),
        (
            "past-limit.jsonl",
            Box::new(|s| s["end_us"] = 3_600_000_001u64.into()),
            "after the header's limits.max_time_us (3600000000us)",
        ),
        (
            "max-events.jsonl",
            Box::new(|s| s["end"] = "max_events".into()),
            "fewer than the header's limits.max_events",
        ),
        (
            "stopped.jsonl",
            Box::new(|s| s["end"] = "stopped".into()),
            "which only the traces of live nodes say",
        ),
    ];
    for (name, edit, expected) in cases {
        let output = check_written(dir.path(), name, &with_summary(&trace, edit), 2);
        assert!(
            stderr(&output).contains(&format!("{name}:{summary_line}: ")),
            "{name}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(expected),
            "{name}: {}",
            stderr(&output)
        );
    }
    // The run's real end time, and any time after it, stay accepted.
    let later = with_summary(&trace, |s| s["end_us"] = (last_t.unwrap() + 5).into());
    check_written(dir.path(), "later.jsonl", &later, 1);
}

#[test]
fn a_run_that_stopped_at_a_violation_must_end_there() {
    let dir = tempfile::tempdir().unwrap();
    let trace = trace_of(dir.path(), "reorder-2");
    assert_eq!(summary_of(&trace)["end"], "violation");
    let end_us = summary_of(&trace)["end_us"].as_u64().unwrap();
    let output = check_written(
        dir.path(),
        "early.jsonl",
        &with_summary(&trace, |s| s["end_us"] = (end_us + 1).into()),
        2,
    );
    assert!(
        stderr(&output).contains("but the step that revealed it happened at t="),
        "{}",
        stderr(&output)
    );
}

#[test]
fn events_that_do_not_follow_from_the_ones_before_them_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let trace_path = traced_run(dir.path(), "default");
    let trace = std::fs::read_to_string(&trace_path).unwrap();
    assert_eq!(check(&trace_path, &[]).status.code(), Some(0));
    // The forger's tool alone changes nothing that matters.
    check_written(dir.path(), "same.jsonl", &forged(&trace, |_| {}), 0);
    type Edit = Box<dyn Fn(&mut Vec<Value>)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "no-enter.jsonl",
            Box::new(|events| {
                events.remove(first_with(events, "enter", "node", 1));
            }),
            "(client 1's commit of block 0 (1 pays 7 to 2 under request 1, hash",
        ),
        (
            "payee.jsonl",
            Box::new(|events| {
                let at = first_with(events, "transfer", "node", 1);
                events[at]["to"] = 3.into();
                events[at]["amount"] = 2.into();
            }),
            "(client 1's commit of block 0 (1 pays 7 to 2 under request 1, hash f6433d6d…) at \
             clock 5) does not follow from the events before it: the step of client 1 that \
             began at event 28 produces client 1's commit of block 0 (1 pays 2 to 3 under \
             request 1,",
        ),
        (
            "request-ts.jsonl",
            Box::new(|events| {
                let at = first_with(events, "request", "node", 1);
                events[at]["ts"] = 7.into();
            }),
            "client 1's request with timestamp 7 at clock 1) does not follow from the events \
             before it: the step of client 1 that began at event 0 produces client 1's request \
             with timestamp 1 at clock 1 next",
        ),
        (
            "exit-twice.jsonl",
            Box::new(|events| {
                let at = first_with(events, "exit", "node", 1);
                let exit = events[at].clone();
                events.insert(at + 1, exit);
            }),
            "client 1's exit from the critical section of request 1 at clock",
        ),
        (
            "commit-outside.jsonl",
            Box::new(|events| {
                let mut commit = events[first_with(events, "commit", "node", 1)].clone();
                commit["t"] = 0.into();
                events.insert(1, commit);
            }),
            "the step of client 1 that began at event 0 produces client 1's request with \
             timestamp 1 at clock 1 next",
        ),
    ];
    for (name, edit, expected) in cases {
        let output = check_written(dir.path(), name, &forged(&trace, edit), 2);
        let error = stderr(&output);
        assert!(
            error.contains(expected) && error.contains("does not follow"),
            "{name}: {error}"
        );
    }

    // A protocol nobody knows.
    let unknown = trace.replacen("\"protocol\":\"lamport\"", "\"protocol\":\"paxos\"", 1);
    let output = check_written(dir.path(), "paxos.jsonl", &forged(&unknown, |_| {}), 2);
    assert!(
        stderr(&output).contains(
            "paxos.jsonl:1: the header's `protocol` is \"paxos\", which is none of the \
             protocols: \"lamport\", \"lamport-reply-count\", \"ricart-agrawala\", \
             \"update-ack\""
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_quiescent_trace_cannot_leave_a_timer_unfired_or_a_step_unfinished() {
    let dir = tempfile::tempdir().unwrap();
    let trace = trace_of(dir.path(), "default");
    // The last critical section never ends: its exit and RELEASEs are gone.
    let cut = forged(&trace, |events| {
        let last_exit = events.iter().rposition(|e| e["kind"] == "exit").unwrap();
        let node = events[last_exit]["node"].clone();
        let mut at = last_exit;
        while at < events.len() {
            if events[at]["node"] == node {
                events.remove(at);
            } else {
                at += 1;
            }
        }
    });
    let output = check_written(dir.path(), "unfired.jsonl", &cut, 2);
    assert!(
        stderr(&output).contains(
            "the summary says the run ended quiescent, but client 3's critical-section timer \
             has not fired, and firing it produces client 3's exit"
        ) || stderr(&output).contains("critical-section timer has not fired"),
        "{}",
        stderr(&output)
    );
    // A step cut after its first event.
    let half = forged(&trace, |events| {
        let last_exit = events.iter().rposition(|e| e["kind"] == "exit").unwrap();
        events.truncate(last_exit + 1);
    });
    let output = check_written(dir.path(), "half.jsonl", &half, 2);
    assert!(
        stderr(&output).contains("the trace ends in the middle of client"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_crash_the_header_does_not_schedule_is_rejected() {
    // A client that crashes at the end is not waiting: a forged crash would excuse the
    // transfer partition-heal leaves unfinished.
    let dir = tempfile::tempdir().unwrap();
    let trace = trace_of(dir.path(), "partition-heal");
    let crashed = forged(&trace, |events| {
        let last = events.len() - 1;
        assert_eq!(events[last]["kind"], "violation");
        let clock = events
            .iter()
            .rev()
            .find(|e| e["node"] == 1 && e["kind"] != "violation")
            .unwrap()["clock"]
            .clone();
        events[last] = json!({"type": "event", "seq": last, "t": events[last]["t"],
            "node": 1, "clock": clock, "kind": "crash"});
    });
    let output = check_written(dir.path(), "crashed.jsonl", &crashed, 2);
    assert!(
        stderr(&output).contains("client 1's crash at clock")
            && stderr(&output).contains(
                "cannot happen: the header's `faults` let client 1 crash 0 times, and this would \
                 be one more"
            ),
        "{}",
        stderr(&output)
    );
}
