//! The replay of live traces: what a live node's session does outside its steps.

use super::*;
use crate::protocol::{Block, GENESIS_PREV};

fn header(live: bool) -> TraceHeader {
    TraceHeader {
        scenario: None,
        seed: None,
        clients: 2,
        initial_balances: vec![10, 10],
        protocol: "lamport".into(),
        mutations: Vec::new(),
        cs_us: None,
        max_events: None,
        max_time_us: None,
        live,
        crashes: None,
    }
}

fn at(seq: u64, node: u32, clock: u64, kind: EventKind) -> Event {
    Event {
        seq,
        t_us: seq,
        node: Some(ClientId::new(node)),
        clock,
        kind,
    }
}

fn replay(live: bool, events: &[Event]) -> Result<(), String> {
    let mut replay = Replay::new(&header(live))?;
    for event in events {
        replay
            .observe(event)
            .map_err(|refusal| refusal.to_string())?;
    }
    replay.finish(false).map_err(|refusal| refusal.to_string())
}

#[test]
fn a_live_node_may_restore_blocks_and_send_them_to_a_peer_that_connects() {
    let block = Arc::new(Block::new(
        0,
        GENESIS_PREV,
        1,
        ClientId::new(1),
        ClientId::new(2),
        3,
    ));
    let events = [
        // Restored from the data directory: an UPDATE from the payee, at clock 1.
        at(
            0,
            1,
            1,
            EventKind::Apply {
                block: block.clone(),
            },
        ),
        at(
            1,
            1,
            1,
            EventKind::Send {
                msg_id: 0,
                to: ClientId::new(2),
                msg: Message::Update {
                    ts: 1,
                    block: block.clone(),
                },
            },
        ),
        at(
            2,
            1,
            1,
            EventKind::Send {
                msg_id: 1,
                to: ClientId::new(2),
                msg: Message::Updated { ts: 1 },
            },
        ),
    ];
    replay(true, &events).unwrap();
    let error = replay(false, &events).unwrap_err();
    assert!(error.contains("it is no input"), "{error}");
    // A session sends no REQUEST of its own.
    let request = at(
        1,
        1,
        1,
        EventKind::Send {
            msg_id: 0,
            to: ClientId::new(2),
            msg: Message::Request { ts: 1 },
        },
    );
    let error = replay(true, &[events[0].clone(), request]).unwrap_err();
    assert!(
        error.contains("a live node's session only sends"),
        "{error}"
    );
}

#[test]
fn a_live_node_killed_in_a_step_leaves_the_rest_of_it_out() {
    let events = [
        at(
            0,
            1,
            0,
            EventKind::Transfer {
                to: ClientId::new(2),
                amount: 3,
            },
        ),
        at(1, 1, 1, EventKind::Request { ts: 1 }),
        at(2, 1, 1, EventKind::Crash),
        at(
            3,
            1,
            0,
            EventKind::Restart {
                kept: Kept::Nothing,
            },
        ),
    ];
    replay(true, &events).unwrap();
    let error = replay(false, &events).unwrap_err();
    assert!(
        error.contains("produces client 1's send of REQUEST(ts 1) to client 2 at clock 1 next"),
        "{error}"
    );
    // Cut without a crash, the step is unfinished only in a simulated trace.
    replay(true, &events[..2]).unwrap();
    let error = replay(false, &events[..2]).unwrap_err();
    assert!(
        error.contains("the trace ends in the middle of client 1's step"),
        "{error}"
    );
}
