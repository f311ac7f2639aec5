use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use super::*;
use crate::live::trace::LiveHeader;
use crate::protocol::Message;
use crate::trace::read::TraceReader;

const EPOCH: u64 = 1_000_000;
const A: u64 = 1 << 52;
const B: u64 = (1 << 52) | 1;

fn event(t_us: u64, node: ClientId, clock: u64, kind: EventKind) -> Event {
    Event {
        seq: 0,
        t_us,
        node: Some(node),
        clock,
        kind,
    }
}

/// Writes one node run's trace; without `complete` it ends like a killed node's.
fn write_life(path: &Path, node: ClientId, epoch: u64, events: Vec<Event>, complete: bool) {
    let header = live_header("t", vec![10, 10], "lamport", 1000);
    let live = LiveHeader {
        node,
        cluster: "t".into(),
        incarnation: epoch,
        epoch_unix_us: epoch,
    };
    let mut writer = LineWriter::new(BufWriter::new(File::create(path).unwrap()));
    writer.raw_line(&header_line(&header, &live)).unwrap();
    let count = events.len() as u64;
    let sent = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Send { .. }))
        .count() as u64;
    for (seq, mut event) in events.into_iter().enumerate() {
        event.seq = seq as u64;
        writer.event(&event).unwrap();
    }
    if complete {
        let mut summary = Summary {
            line_type: "summary",
            events: count,
            committed: 0,
            aborted: 0,
            messages_sent: sent,
            end: "stopped",
            end_us: 0,
            violations: Vec::new(),
            final_balances: IdMap(vec![IdMap(vec![10, 10]); 2]),
            heads: IdMap(vec![to_hex(&crate::protocol::GENESIS_PREV); 2]),
            digest: String::new(),
        };
        writer.finish(&mut summary).unwrap();
    } else {
        let mut file = writer.finish_partial();
        file.write_all(b"{\"type\":\"event\",\"seq\":").unwrap();
    }
}

fn request() -> Message {
    Message::Request { ts: 1 }
}

#[test]
fn runs_are_joined_by_crash_and_restart_and_lost_messages_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    write_life(
        &path("n1.jsonl"),
        ClientId::new(1),
        EPOCH,
        vec![
            event(0, ClientId::new(1), 1, EventKind::Request { ts: 1 }),
            event(
                1,
                ClientId::new(1),
                1,
                EventKind::Send {
                    msg_id: A,
                    to: ClientId::new(2),
                    msg: request(),
                },
            ),
            event(
                2,
                ClientId::new(1),
                1,
                EventKind::Send {
                    msg_id: B,
                    to: ClientId::new(2),
                    msg: Message::Reply { ts: 1 },
                },
            ),
            // Sent again to node 2's second run.
            event(
                5000,
                ClientId::new(1),
                1,
                EventKind::Duplicate { msg_id: A },
            ),
        ],
        true,
    );
    let deliver = EventKind::Deliver {
        msg_id: A,
        from: ClientId::new(1),
        msg: request(),
    };
    write_life(
        &path("n2-a.jsonl"),
        ClientId::new(2),
        EPOCH + 10,
        vec![event(5, ClientId::new(2), 2, deliver.clone())],
        false,
    );
    write_life(
        &path("n2-b.jsonl"),
        ClientId::new(2),
        EPOCH + 3000,
        vec![event(100, ClientId::new(2), 2, deliver)],
        true,
    );

    let mut out = Vec::new();
    let report = merge_traces(&[dir.path().to_path_buf()], &mut out).unwrap();
    assert_eq!(report.lives, vec![1, 2]);
    assert_eq!(report.truncated.len(), 1);
    assert_eq!((report.dropped, report.in_flight, report.events), (1, 0, 9));

    let mut reader = TraceReader::new(out.as_slice()).unwrap();
    let mut merged = Vec::new();
    while let Some(event) = reader.next_event().unwrap() {
        merged.push(event);
    }
    let shape: Vec<(Option<ClientId>, &str, Option<u64>)> = merged
        .iter()
        .map(|e| {
            let id = match e.kind {
                EventKind::Send { msg_id, .. }
                | EventKind::Deliver { msg_id, .. }
                | EventKind::Duplicate { msg_id }
                | EventKind::Drop { msg_id, .. } => Some(msg_id),
                _ => None,
            };
            (e.node, e.kind.name(), id)
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            (Some(ClientId::new(1)), "request", None),
            (Some(ClientId::new(1)), "send", Some(0)),
            (Some(ClientId::new(1)), "duplicate", Some(0)),
            (Some(ClientId::new(1)), "send", Some(1)),
            (Some(ClientId::new(2)), "deliver", Some(0)),
            (Some(ClientId::new(2)), "crash", None),
            (Some(ClientId::new(2)), "drop", Some(1)),
            (Some(ClientId::new(2)), "restart", None),
            (Some(ClientId::new(2)), "deliver", Some(0)),
        ]
    );
    // The second delivery waited for the re-send at 5000us; t never goes back.
    assert_eq!(merged.last().unwrap().t_us, 5000);
    assert_eq!(reader.summary().unwrap().end.as_deref(), Some("quiescent"));
}

#[test]
fn a_delivery_nobody_sent_names_the_missing_trace() {
    let dir = tempfile::tempdir().unwrap();
    let deliver = EventKind::Deliver {
        msg_id: A,
        from: ClientId::new(1),
        msg: request(),
    };
    write_life(
        &dir.path().join("n2.jsonl"),
        ClientId::new(2),
        EPOCH,
        vec![event(5, ClientId::new(2), 2, deliver)],
        true,
    );
    let error = merge_traces(&[dir.path().to_path_buf()], &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("node 2's trace delivers message") && error.contains("every node"),
        "{error}"
    );
}
