//! Rules 1 to 3 and 5(ii): requests, the answers to them, and entry.

use super::*;

/// Client 3, as a constant so that patterns can name it.
const PEER_3: ClientId = ClientId::new(3);

// ----------------------------------------------------------------------------------------
// Rule 1: request.

#[test]
fn transfer_ticks_the_clock_queues_the_own_request_and_broadcasts_it() {
    // Fresh client: clock 0 -> request ts 1.
    let mut client = new_client(ClientId::new(1), &[10, 10, 10]);
    let outputs = command(&mut client, transfer(ClientId::new(2), 3));
    assert_eq!(
        outputs,
        vec![
            // The command's arrival is not a clock step: stamped with the clock before the tick.
            at(
                0,
                OutputKind::TransferQueued {
                    to: ClientId::new(2),
                    amount: 3
                }
            ),
            at(1, OutputKind::Requested { ts: 1 }),
            at(1, send(ClientId::new(2), request(1))),
            at(1, send(ClientId::new(3), request(1))),
        ]
    );
    assert_eq!(client.clock(), 1);
    assert_eq!(queue_of(&client), vec![(1, ClientId::new(1))]);
    assert_eq!(
        client.phase(),
        &Phase::Waiting {
            ts: 1,
            transfer: Transfer {
                to: ClientId::new(2),
                amount: 3
            }
        }
    );
    assert_eq!(client.pending().len(), 0);

    // A client whose clock was already raised by a receive ticks from there (+1, not "= 1").
    let mut client = new_client(ClientId::new(2), &[10, 10, 10]);
    receive(&mut client, ClientId::new(3), reply(6)); // clock 7
    let outputs = command(&mut client, transfer(ClientId::new(1), 4));
    assert_eq!(
        outputs,
        vec![
            at(
                7,
                OutputKind::TransferQueued {
                    to: ClientId::new(1),
                    amount: 4
                }
            ),
            at(8, OutputKind::Requested { ts: 8 }),
            at(8, send(ClientId::new(1), request(8))),
            at(8, send(ClientId::new(3), request(8))),
        ]
    );
    assert_eq!(client.clock(), 8);
    assert_eq!(queue_of(&client), vec![(8, ClientId::new(2))]);
}

#[test]
fn a_second_transfer_waits_in_pending_and_is_requested_only_after_the_release() {
    let mut client = new_client(ClientId::new(1), &[10, 10]);
    command(&mut client, transfer(ClientId::new(2), 3));
    assert_eq!(client.clock(), 1);

    // While request 1 is outstanding: queued, nothing requested, nothing sent, no tick.
    let outputs = command(&mut client, transfer(ClientId::new(2), 4));
    assert_eq!(
        outputs,
        vec![at(
            1,
            OutputKind::TransferQueued {
                to: ClientId::new(2),
                amount: 4
            }
        )]
    );
    let outputs = command(&mut client, transfer(ClientId::new(2), 5));
    assert_eq!(
        outputs,
        vec![at(
            1,
            OutputKind::TransferQueued {
                to: ClientId::new(2),
                amount: 5
            }
        )]
    );
    assert_eq!(client.clock(), 1);
    assert_eq!(queue_of(&client), vec![(1, ClientId::new(1))]);
    assert_eq!(
        pending_of(&client),
        vec![
            Transfer {
                to: ClientId::new(2),
                amount: 4
            },
            Transfer {
                to: ClientId::new(2),
                amount: 5
            }
        ]
    );

    // Entering for the first transfer does not request the second either.
    let outputs = receive(&mut client, ClientId::new(2), reply(2));
    assert!(entered(&outputs));
    assert!(
        !outputs
            .iter()
            .any(|o| matches!(o.kind, OutputKind::Requested { .. }))
    );
    assert_eq!(sends(&outputs), vec![]);
    assert_eq!(pending_of(&client).len(), 2);

    // The release requests the next pending transfer (FIFO), with a fresh tick.
    let outputs = leave(&mut client);
    let block = Arc::clone(&client.ledger().blocks()[0]);
    assert_eq!(
        outputs,
        vec![
            at(4, OutputKind::Exited { ts: 1 }),
            at(4, send(ClientId::new(2), release(4, 1, Some(&block)))),
            at(5, OutputKind::Requested { ts: 5 }),
            at(5, send(ClientId::new(2), request(5))),
        ]
    );
    assert_eq!(
        client.phase(),
        &Phase::Waiting {
            ts: 5,
            transfer: Transfer {
                to: ClientId::new(2),
                amount: 4
            }
        }
    );
    assert_eq!(queue_of(&client), vec![(5, ClientId::new(1))]);
    assert_eq!(
        pending_of(&client),
        vec![Transfer {
            to: ClientId::new(2),
            amount: 5
        }]
    );
}

// ----------------------------------------------------------------------------------------
// Rule 2: on REQUEST.

#[test]
fn request_from_a_peer_updates_the_clock_queues_it_and_replies_to_that_peer_only() {
    let mut client = new_client(ClientId::new(1), &[10, 10, 10]);

    // A message from the future: clock = max(0, 5) + 1.
    let outputs = receive(&mut client, ClientId::new(3), request(5));
    assert_eq!(
        outputs,
        vec![
            at(
                6,
                OutputKind::Received {
                    from: ClientId::new(3)
                }
            ),
            at(6, send(ClientId::new(3), reply(6)))
        ]
    );
    assert_eq!(client.clock(), 6);
    assert_eq!(queue_of(&client), vec![(5, ClientId::new(3))]);
    assert_eq!(client.largest_seen(ClientId::new(3)), 5);

    // A message from the past: clock = max(6, 2) + 1. Queue order is by (ts, id).
    let outputs = receive(&mut client, ClientId::new(2), request(2));
    assert_eq!(
        outputs,
        vec![
            at(
                7,
                OutputKind::Received {
                    from: ClientId::new(2)
                }
            ),
            at(7, send(ClientId::new(2), reply(7)))
        ]
    );
    assert_eq!(client.clock(), 7);
    assert_eq!(
        queue_of(&client),
        vec![(2, ClientId::new(2)), (5, ClientId::new(3))]
    );
    assert_eq!(client.largest_seen(ClientId::new(2)), 2);
    assert_eq!(client.phase(), &Phase::Idle);
}

// ----------------------------------------------------------------------------------------
// Rule 3 / 5(ii): entry.

#[test]
fn no_entry_while_another_request_heads_the_queue_and_entry_on_its_release() {
    let mut client = new_client(ClientId::new(2), &[10, 10]);
    receive(&mut client, ClientId::new(1), request(1)); // clock 2, queue [(1, 1)]
    command(&mut client, transfer(ClientId::new(1), 3)); // request ts 3
    assert_eq!(
        queue_of(&client),
        vec![(1, ClientId::new(1)), (3, ClientId::new(2))]
    );

    // Rule 5(ii) holds (5 > 3) but (1, 1) is ahead: no entry.
    let outputs = receive(&mut client, ClientId::new(1), reply(5));
    assert_eq!(
        outputs,
        vec![at(
            6,
            OutputKind::Received {
                from: ClientId::new(1)
            }
        )]
    );
    assert!(matches!(client.phase(), Phase::Waiting { ts: 3, .. }));

    // Client 1's RELEASE removes (1, 1): both conditions hold, entry in this very step.
    let outputs = receive(&mut client, ClientId::new(1), release(7, 1, None));
    assert_eq!(
        outputs,
        vec![
            at(
                8,
                OutputKind::Received {
                    from: ClientId::new(1)
                }
            ),
            at(8, OutputKind::Entered { ts: 3 }),
            at(8, OutputKind::Committed { index: 0 }),
            at(8, timer_armed()),
        ]
    );
    assert_eq!(
        **client.output_block(0),
        Block::new(0, GENESIS_PREV, 3, ClientId::new(2), ClientId::new(1), 3)
    );
    assert!(matches!(client.phase(), Phase::Inside { ts: 3, .. }));
}

#[test]
fn no_entry_until_every_peer_has_sent_a_strictly_later_timestamp() {
    let mut client = new_client(ClientId::new(1), &[10, 10, 10]);
    command(&mut client, transfer(ClientId::new(2), 1)); // request ts 1, the head of the own queue

    // Only client 2 has sent something later than 1.
    let outputs = receive(&mut client, ClientId::new(2), reply(2));
    assert!(!entered(&outputs));

    // Client 3's own concurrent REQUEST has ts 1: equal, not later. (1, 1) stays the head.
    let outputs = receive(&mut client, ClientId::new(3), request(1));
    assert!(
        !entered(&outputs),
        "entered on an equal timestamp: {outputs:?}"
    );
    assert_eq!(
        queue_of(&client),
        vec![(1, ClientId::new(1)), (1, ClientId::new(3))]
    );
    assert!(matches!(client.phase(), Phase::Waiting { ts: 1, .. }));

    // Client 3's later REPLY completes rule 5(ii): entry in this very step.
    let outputs = receive(&mut client, ClientId::new(3), reply(2));
    let kinds: Vec<_> = outputs.iter().map(|o| &o.kind).collect();
    assert!(matches!(
        kinds.as_slice(),
        [
            OutputKind::Received { from: PEER_3 },
            OutputKind::Entered { ts: 1 },
            OutputKind::Committed { .. },
            OutputKind::SetTimer { .. },
        ]
    ));
}

#[test]
fn a_message_with_an_equal_timestamp_is_not_enough() {
    let mut client = new_client(ClientId::new(1), &[10, 10]);
    receive(&mut client, ClientId::new(2), reply(4)); // clock 5
    command(&mut client, transfer(ClientId::new(2), 1)); // request ts 6

    let outputs = receive(&mut client, ClientId::new(2), reply(6));
    assert_eq!(
        outputs,
        vec![at(
            7,
            OutputKind::Received {
                from: ClientId::new(2)
            }
        )]
    );
    assert!(matches!(client.phase(), Phase::Waiting { ts: 6, .. }));
    assert_eq!(
        client.wait_reason().unwrap().silent_peers,
        vec![(ClientId::new(2), 6)]
    );

    let outputs = receive(&mut client, ClientId::new(2), reply(7));
    assert!(entered(&outputs));
    assert!(matches!(client.phase(), Phase::Inside { ts: 6, .. }));
}

#[test]
fn ties_in_timestamp_are_broken_by_the_lower_client_id() {
    // Client 3 asks first, client 2 second; both requests carry ts 1. Client 2 goes first.
    let mut net = Net::new(&[10, 10, 10]);
    net.command(ClientId::new(3), transfer(ClientId::new(1), 2));
    net.command(ClientId::new(2), transfer(ClientId::new(1), 4));
    // Deliver every message without letting anybody leave.
    while let Some(m) = net.in_flight.first() {
        let (from, to) = (m.from, m.to);
        net.deliver(from, to);
    }
    assert_eq!(net.inside(), vec![ClientId::new(2)]);
    assert!(matches!(
        net.client(ClientId::new(2)).phase(),
        Phase::Inside { ts: 1, .. }
    ));
    assert!(matches!(
        net.client(ClientId::new(3)).phase(),
        Phase::Waiting { ts: 1, .. }
    ));
    assert_eq!(
        queue_of(net.client(ClientId::new(3))),
        vec![(1, ClientId::new(2)), (1, ClientId::new(3))]
    );
    let reason = net.client(ClientId::new(3)).wait_reason().unwrap();
    assert_eq!(reason.queued_behind, Some((1, ClientId::new(2))));
    assert_eq!(reason.silent_peers, vec![]);

    net.run_fifo();
    assert_eq!(net.entries, vec![ClientId::new(2), ClientId::new(3)]);
    net.assert_agreement(30);
    let blocks = net.client(ClientId::new(1)).ledger().blocks();
    assert_eq!((blocks[0].from(), blocks[0].ts()), (ClientId::new(2), 1));
    assert_eq!((blocks[1].from(), blocks[1].ts()), (ClientId::new(3), 1));
}
