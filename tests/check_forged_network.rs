//! `lamport-ledger check` against a forger who can recompute the digest, on the network's
//! events: genuine traces of every network fault pass, while a simulated run's losses,
//! duplicates, partitions, heals and deliveries that its header's network, faults and
//! schedule do not allow are rejected (exit code 2) with the line and why.
//! `check_forged_clients.rs` holds the clients' events and the summary.

mod common;
mod forged_common;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use common::{check, check_written, forged, stderr};
use forged_common::{first_with, trace_of, traced_run};

/// The trace with its header changed by `edit`; [`forged`] then recomputes the digest.
fn with_header(trace: &str, edit: impl FnOnce(&mut Value)) -> String {
    let (header, rest) = trace.split_once('\n').unwrap();
    let mut header: Value = serde_json::from_str(header).unwrap();
    edit(&mut header);
    format!("{header}\n{rest}")
}

/// Checks the forged `text` as `name` and asserts a rejection at trace line `line` whose
/// sentence contains every one of `expected`.
fn rejected_at(dir: &Path, name: &str, text: &str, line: usize, expected: &[&str]) {
    let output = check_written(dir, name, text, 2);
    let error = stderr(&output);
    assert!(
        error.contains(&format!("{name}:{line}: ")),
        "{name}: {error}"
    );
    for part in expected {
        assert!(error.contains(part), "{name}: {error}");
    }
}

/// The trace of a scenario given inline, run with `run --trace` (it may end in a violation).
fn traced_inline(dir: &Path, name: &str, scenario: Value) -> String {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, scenario.to_string()).unwrap();
    let trace = dir.join(format!("{name}.jsonl"));
    let output = common::lamport_ledger(&[
        "run",
        &path.display().to_string(),
        "--trace",
        &trace.display().to_string(),
    ]);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        stderr(&output)
    );
    std::fs::read_to_string(trace).unwrap()
}

/// `explore scenarios/explore/NAME.json --trace DIR/explored.jsonl`; returns the trace path.
fn traced_explore(dir: &Path, name: &str) -> PathBuf {
    let trace = dir.join("explored.jsonl");
    let output = common::lamport_ledger(&[
        "explore",
        &format!("scenarios/explore/{name}.json"),
        "--trace",
        &trace.display().to_string(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    trace
}

/// Every line of `trace`, header and summary included, so that an event's index is its seq
/// plus one.
fn parsed_lines(trace: &str) -> Vec<Value> {
    trace
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The position in `events` of the first event of `kind`.
fn first_of_kind(events: &[Value], kind: &str) -> usize {
    events.iter().position(|e| e["kind"] == kind).unwrap()
}

#[test]
fn genuine_traces_of_every_network_fault_pass_the_network_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for name in [
        "loss-lamport",
        "duplication-lamport",
        "partition-heal",
        "partition-one-way",
        "reorder-2",
        "crash-restart-ledger",
    ] {
        let path = traced_run(dir.path(), name);
        let output = check(&path, &[]);
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{name}: {}",
            stderr(&output)
        );
        let trace = std::fs::read_to_string(&path).unwrap();
        for fault in ["\"loss\"", "\"duplicate\"", "\"partition\"", "\"heal\""] {
            if trace.contains(fault) {
                seen.insert(fault);
            }
        }
    }
    assert_eq!(seen.len(), 4, "every fault kind is among them: {seen:?}");

    // A message that reaches a client that is down, and fates the schedule pins.
    let crashed = traced_inline(dir.path(), "crashed", crashed_scenario());
    assert!(crashed.contains("\"reason\":\"crashed\""));
    check_written(dir.path(), "crashed-genuine.jsonl", &crashed, 1);
    let pinned = traced_inline(dir.path(), "pinned", pinned_scenario());
    assert!(pinned.contains("\"duplicate\"") && pinned.contains("\"reason\":\"loss\""));
    assert!(matches!(
        check(&dir.path().join("pinned.jsonl"), &[]).status.code(),
        Some(0 | 1)
    ));

    // A run cut at limits.max_events just after a partition's heal, with another partition
    // due at that same time: its closing violation carries that time.
    let cut = traced_inline(dir.path(), "cut", cut_scenario());
    assert!(cut.contains("\"end\":\"max_events\"") && cut.contains("\"heal\""));
    assert_eq!(cut.matches("\"kind\":\"partition\"").count(), 1, "{cut}");
    check_written(dir.path(), "cut-genuine.jsonl", &cut, 1);

    // A FIFO link holds client 1's REPLY (pinned to 0.1ms) behind its slower REQUEST.
    let held = traced_inline(dir.path(), "held", held_scenario());
    let events = parsed_lines(&held);
    let reply = first_with(&events, "deliver", "from", 1);
    assert_eq!(events[reply]["msg"]["type"], "request");
    assert_eq!(events[reply + 1]["msg"]["type"], "reply");
    assert_eq!(
        events[reply + 1]["t"],
        5000,
        "held back until the REQUEST arrived"
    );
    assert!(matches!(
        check(&dir.path().join("held.jsonl"), &[]).status.code(),
        Some(0 | 1)
    ));

    // The explorer duplicates whenever it likes, not right after the send: its traces are
    // held only to what every explored path keeps.
    let explored = traced_explore(dir.path(), "duplication-reply-count");
    let trace = std::fs::read_to_string(&explored).unwrap();
    let events = parsed_lines(&trace);
    let duplicate = first_of_kind(&events, "duplicate");
    let sent = events
        .iter()
        .position(|e| e["kind"] == "send" && e["msg_id"] == events[duplicate]["msg_id"])
        .unwrap();
    assert!(sent + 1 < duplicate, "a later duplicate");
    assert_eq!(check(&explored, &[]).status.code(), Some(1));
}

/// Client 2 is down when client 1's REQUEST reaches it (t=1ms).
fn crashed_scenario() -> Value {
    json!({
        "name": "crashed", "clients": 2,
        "network": {"latency": {"kind": "constant", "us": 1000}},
        "workload": {"transfers": [{"at_us": 0, "from": 1, "to": 2, "amount": 3}]},
        "faults": {"crashes": [{"client": 2, "at_us": 500, "restart_us": 5000}]}
    })
}

/// Partitioned from 1ms to 2ms and again from 2ms, cut at five events.
fn cut_scenario() -> Value {
    json!({
        "name": "cut", "clients": 2,
        "network": {"latency": {"kind": "constant", "us": 5000}},
        "faults": {"partitions": [
            {"at_us": 1000, "heal_us": 2000, "groups": [[1], [2]]},
            {"at_us": 2000, "groups": [[1], [2]]}
        ]},
        "workload": {"transfers": [{"at_us": 0, "from": 1, "to": 2, "amount": 1}]},
        "limits": {"max_events": 5}
    })
}

/// Client 1's REQUEST to client 2 takes 5ms; its REPLY to client 2's REQUEST, sent at 1ms,
/// is pinned to 0.1ms, and the FIFO link holds it back until the REQUEST has arrived.
fn held_scenario() -> Value {
    json!({
        "name": "held", "clients": 2,
        "network": {"latency": {"kind": "constant", "us": 1000}},
        "workload": {"transfers": [
            {"at_us": 0, "from": 1, "to": 2, "amount": 3},
            {"at_us": 0, "from": 2, "to": 1, "amount": 2}
        ]},
        "schedule": {"messages": [
            {"from": 1, "to": 2, "nth": 0, "delay_us": 5000},
            {"from": 1, "to": 2, "nth": 1, "delay_us": 100}
        ]}
    })
}

/// A lossless network whose schedule duplicates client 1's REQUEST and loses client 1's
/// RELEASE to client 2.
fn pinned_scenario() -> Value {
    json!({
        "name": "pinned", "clients": 2,
        "network": {"latency": {"kind": "constant", "us": 1000}},
        "workload": {"transfers": [{"at_us": 0, "from": 1, "to": 2, "amount": 3}]},
        "schedule": {"messages": [
            {"from": 1, "to": 2, "nth": 0, "delay_us": 1000, "duplicate_delay_us": 1500},
            {"from": 1, "to": 2, "nth": 1, "drop": true}
        ]}
    })
}

#[test]
fn a_loss_or_duplicate_the_links_do_not_allow_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let loss = trace_of(dir.path(), "loss-lamport");
    // The header's lossy link 2 -> 1 made lossless.
    let lossless = with_header(&loss, |h| h["network"]["links"] = json!([]));
    let lossless = forged(&lossless, |_| {});
    rejected_at(
        dir.path(),
        "lossless.jsonl",
        &lossless,
        7,
        &[
            "event 5 (the drop of m1 (client 2's message to client 1) for `loss`) cannot \
             happen: the header's `network` gives the link from client 2 to client 1 a \
             drop_ratio of 0, so it loses no message",
        ],
    );
    // The drop moved after the event that followed its send.
    let late = forged(&loss, |events| {
        let drop = first_of_kind(events, "drop");
        let moved = events.remove(drop);
        events.insert(drop + 1, moved);
    });
    rejected_at(
        dir.path(),
        "late-loss.jsonl",
        &late,
        8,
        &[
            "event 6 (the drop of m1 (client 2's message to client 1) for `loss`) cannot \
             happen: the network decides whether a message is lost when it is sent, so the \
             drop comes right after its send (event 4)",
        ],
    );

    // The loss written at the receiver.
    let at_receiver = forged(&loss, |events| {
        let drop = first_of_kind(events, "drop");
        events[drop]["node"] = 1.into();
    });
    rejected_at(
        dir.path(),
        "at-receiver.jsonl",
        &at_receiver,
        7,
        &["a message is lost for `loss` at its sender, client 2, but the event's `node` is 1"],
    );

    let duplicated = trace_of(dir.path(), "duplication-lamport");
    let once = with_header(&duplicated, |h| {
        h["network"]["links"][1]["duplicate_ratio"] = json!([0, 1]);
    });
    rejected_at(
        dir.path(),
        "once.jsonl",
        &forged(&once, |_| {}),
        12,
        &[
            "event 10 (the duplicate of m4 (client 1's message to client 3)) cannot happen: the \
             header's `network` gives the link from client 1 to client 3 a duplicate_ratio of \
             0, so it duplicates no message",
        ],
    );

    // The schedule pins client 1's REQUEST as delivered twice: its duplicate cannot go.
    let pinned = traced_inline(dir.path(), "pinned", pinned_scenario());
    let undone = forged(&pinned, |events| {
        events.remove(first_of_kind(events, "duplicate"));
    });
    let send = pinned
        .lines()
        .position(|line| line.contains("\"kind\":\"duplicate\""))
        .unwrap();
    rejected_at(
        dir.path(),
        "undone.jsonl",
        &undone,
        send + 1,
        &[
            "cannot happen here: the header's `schedule` pins m0 (message 0 from client 1 to \
             client 2, sent at event 2) as delivered twice, so its `duplicate` comes right \
             after its send",
        ],
    );
}

#[test]
fn a_drop_for_a_partition_or_a_crash_that_did_not_happen_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let loss = trace_of(dir.path(), "loss-lamport");
    let partition = forged(&loss, |events| {
        let drop = first_of_kind(events, "drop");
        events[drop]["reason"] = "partition".into();
    });
    rejected_at(
        dir.path(),
        "no-partition.jsonl",
        &partition,
        7,
        &[
            "event 5 (the drop of m1 (client 2's message to client 1) for `partition`) cannot \
             happen: no partition in force when it is sent (event 4) separates client 2 from \
             client 1",
        ],
    );
    let at_sender = forged(&loss, |events| {
        let drop = first_of_kind(events, "drop");
        events[drop]["reason"] = "crashed".into();
    });
    rejected_at(
        dir.path(),
        "at-sender.jsonl",
        &at_sender,
        7,
        &["a message is lost for `crashed` at its receiver, client 1, but the event's `node` is 2"],
    );
    let receiver_up = forged(&loss, |events| {
        let drop = first_of_kind(events, "drop");
        events[drop]["reason"] = "crashed".into();
        events[drop]["node"] = 1.into();
        events[drop]["clock"] = 1.into();
    });
    rejected_at(
        dir.path(),
        "receiver-up.jsonl",
        &receiver_up,
        7,
        &[
            "event 5 (the drop of m1 (client 2's message to client 1) for `crashed`) cannot \
             happen: its receiver, client 1, is up (it has not crashed)",
        ],
    );

    // The genuine crashed drop, moved after client 2's restart.
    let crashed = traced_inline(dir.path(), "crashed", crashed_scenario());
    let after_restart = forged(&crashed, |events| {
        let drop = first_of_kind(events, "drop");
        let mut moved = events.remove(drop);
        let restart = first_of_kind(events, "restart");
        moved["t"] = events[restart]["t"].clone();
        moved["clock"] = events[restart]["clock"].clone();
        events.insert(restart + 1, moved);
    });
    let events = parsed_lines(&after_restart);
    let drop = first_of_kind(&events, "drop");
    rejected_at(
        dir.path(),
        "after-restart.jsonl",
        &after_restart,
        drop + 1,
        &[&format!(
            "cannot happen: its receiver, client 2, is up (it restarted at event {})",
            drop - 2
        )],
    );
}

#[test]
fn partitions_the_header_does_not_schedule_or_messages_that_cross_one_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let trace = trace_of(dir.path(), "partition-heal");
    // Event 0 is the partition {c1} | {c2,c3} at t=0.5ms; events 4 and 6 drop client 1's
    // REQUESTs to it; event 7 heals it at t=20ms.
    let regrouped = forged(&trace, |events| {
        events[0]["groups"] = json!([[1, 2], [3]]);
    });
    rejected_at(
        dir.path(),
        "regrouped.jsonl",
        &regrouped,
        2,
        &[
            "event 0 (the partition {c1,c2} | {c3} at t=0.500ms) cannot happen: the header's \
             `faults` start the partition {c1} | {c2,c3} at t=0.500ms next",
        ],
    );
    let crossing = forged(&trace, |events| {
        events.remove(first_with(events, "drop", "reason", "partition"));
    });
    rejected_at(
        dir.path(),
        "crossing.jsonl",
        &crossing,
        6,
        &[
            "event 4 (client 1's send of REQUEST(ts 1) to client 3 at clock 1) cannot happen \
             here: m0, sent at event 3 from client 1 to client 2, crosses the partition {c1} | \
             {c2,c3} (in force since event 0), so the network drops it for `partition` right \
             after its send",
        ],
    );
    let unhealed = forged(&trace, |events| {
        events.remove(first_of_kind(events, "heal"));
    });
    rejected_at(
        dir.path(),
        "unhealed.jsonl",
        &unhealed,
        9,
        &[
            "event 7 (client 2's transfer of 1 to client 3 at clock 0, at t=25.000ms) comes \
             at or after t=20.000ms, when the header's `faults` heal the partition {c1} | {c2,c3}, \
             but no `heal` event before it shows that",
        ],
    );

    // The run cut before the heal, yet said to have ended quiescent.
    let cut_short = forged(&trace, |events| {
        events.truncate(first_of_kind(events, "heal"));
    });
    rejected_at(
        dir.path(),
        "cut-short.jsonl",
        &cut_short,
        9,
        &[
            "the summary says the run ended quiescent, but the header's `faults` heal the \
             partition {c1} | {c2,c3} at t=20.000ms, and the trace has no `heal` event for it",
        ],
    );

    // A partition no fault of the header schedules.
    let default = trace_of(dir.path(), "default");
    let invented = forged(&default, |events| {
        events.insert(
            0,
            json!({"type": "event", "seq": 0, "t": 0, "node": null, "clock": 0,
                "kind": "partition", "groups": [[1], [2, 3]], "direction": "both"}),
        );
    });
    rejected_at(
        dir.path(),
        "invented.jsonl",
        &invented,
        2,
        &[
            "event 0 (the partition {c1} | {c2,c3} at t=0.000ms) cannot happen: the header's \
             `faults` schedule no partition",
        ],
    );
}

#[test]
fn an_overtaking_message_on_a_fifo_link_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let trace = trace_of(dir.path(), "reorder-2");
    // Client 1's REPLY (m2) overtakes its REQUEST (m0): the run's links are not FIFO.
    let fifo = with_header(&trace, |h| h["network"]["fifo"] = true.into());
    rejected_at(
        dir.path(),
        "fifo.jsonl",
        &forged(&fifo, |_| {}),
        10,
        &[
            "event 8 (client 2's delivery of REPLY(ts 2) from client 1 at clock 3) cannot \
             happen: the header's `network` makes the link from client 1 to client 2 FIFO, but \
             m0, sent on it before m2 (at event 2), has not arrived yet",
        ],
    );
}

#[test]
fn an_explored_trace_holds_no_partition() {
    let dir = tempfile::tempdir().unwrap();
    let trace = std::fs::read_to_string(traced_explore(dir.path(), "loss-one-message")).unwrap();
    let to_partition = forged(&trace, |events| {
        let drop = first_of_kind(events, "drop");
        events[drop]["reason"] = "partition".into();
    });
    rejected_at(
        dir.path(),
        "explored-partition.jsonl",
        &to_partition,
        7,
        &[
            "event 5 (the drop of m1 (client 2's message to client 1) for `partition`) cannot \
             happen: the header names an explored scenario, and the explorer leaves partitions \
             out",
        ],
    );
}

#[test]
fn a_message_that_arrives_sooner_or_later_than_its_link_allows_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let default = trace_of(dir.path(), "default");
    let slow = with_header(&default, |h| {
        h["network"]["latency"] = json!({"kind": "constant", "us": 999_999});
    });
    rejected_at(
        dir.path(),
        "slow.jsonl",
        &forged(&slow, |_| {}),
        15,
        &[
            "event 13 (client 3's delivery of REQUEST(ts 1) from client 1 at clock 2) cannot \
             happen: m1 was sent at t=0.000ms (event 3), and the header's `network` delays a \
             message from client 1 to client 3 by 999999us, so it arrives at t=999.999ms at \
             the earliest",
        ],
    );
    // reorder-2's links are not FIFO: client 1's REPLY (m2, sent at t=1.072ms) arrives at
    // t=7.845ms, later than 1 to 2 ms allow.
    let reorder = trace_of(dir.path(), "reorder-2");
    let fast = with_header(&reorder, |h| {
        h["network"]["latency"] = json!({"kind": "uniform", "min_us": 1000, "max_us": 2000});
    });
    rejected_at(
        dir.path(),
        "fast.jsonl",
        &forged(&fast, |_| {}),
        10,
        &[
            "event 8 (client 2's delivery of REPLY(ts 2) from client 1 at clock 3) cannot \
             happen: m2 was sent at t=1.072ms (event 7), and the header's `network` delays a \
             message from client 1 to client 2 by 1000 to 2000us, so it arrives by t=3.072ms",
        ],
    );
}
