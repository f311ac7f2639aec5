//! Rules 4 to 6: inside the critical section, release, and blocks that arrive.

use super::*;

// ----------------------------------------------------------------------------------------
// Rule 4: inside the critical section.

#[test]
fn entering_with_enough_balance_commits_the_next_block_and_arms_the_leave_timer() {
    let mut client = new_client(ClientId::new(2), &[10, 10, 10]);
    // A block from client 1 first, so that the new block really chains onto a head.
    let first = Arc::new(Block::new(
        0,
        GENESIS_PREV,
        1,
        ClientId::new(1),
        ClientId::new(3),
        4,
    ));
    receive(&mut client, ClientId::new(1), request(1));
    let outputs = receive(&mut client, ClientId::new(1), release(3, 1, Some(&first)));
    assert!(matches!(outputs[1].kind, OutputKind::Applied { .. }));
    let head = client.ledger().head_hash();

    command(&mut client, transfer(ClientId::new(3), 6)); // clock 4 -> request ts 5
    receive(&mut client, ClientId::new(1), reply(6)); // clock 7
    let outputs = receive(&mut client, ClientId::new(3), reply(6)); // clock 8, enters
    let block = committed_block(&client, &outputs);
    assert_eq!(
        outputs,
        vec![
            at(
                8,
                OutputKind::Received {
                    from: ClientId::new(3)
                }
            ),
            at(8, OutputKind::Entered { ts: 5 }),
            at(8, OutputKind::Committed { index: 1 }),
            at(8, timer_armed()),
        ]
    );
    assert_eq!(block.index(), 1);
    assert_eq!(block.prev(), head);
    assert_eq!(block.prev(), first.hash_value());
    assert_eq!(
        (block.ts(), block.from(), block.to(), block.amount()),
        (5, ClientId::new(2), ClientId::new(3), 6)
    );
    assert_eq!(block.hash_value(), block.recomputed_hash());
    assert_eq!(
        *block,
        Block::new(
            1,
            first.hash_value(),
            5,
            ClientId::new(2),
            ClientId::new(3),
            6
        )
    );
    // Appended and applied to the own table.
    assert_eq!(client.ledger().len(), 2);
    assert_eq!(client.ledger().head_hash(), block.hash_value());
    assert_eq!(table_of(&client), vec![6, 4, 20]);
    assert_eq!(
        client.phase(),
        &Phase::Inside {
            ts: 5,
            transfer: Transfer {
                to: ClientId::new(3),
                amount: 6
            },
            block: Some(block)
        }
    );
    // Inside, the client is no longer waiting for anything.
    assert_eq!(client.wait_reason(), None);
}

#[test]
fn paying_exactly_the_whole_balance_commits() {
    let (client, outputs) = client_one_inside(&[5, 10], ClientId::new(2), 5);
    assert_eq!(committed_block(&client, &outputs).amount(), 5);
    assert_eq!(table_of(&client), vec![0, 15]);
}

#[test]
fn entering_with_too_little_balance_aborts_without_a_block() {
    let (mut client, outputs) = client_one_inside(&[2, 10], ClientId::new(2), 5);
    assert_eq!(
        outputs,
        vec![
            at(
                3,
                OutputKind::Received {
                    from: ClientId::new(2)
                }
            ),
            at(3, OutputKind::Entered { ts: 1 }),
            at(
                3,
                OutputKind::Aborted {
                    ts: 1,
                    amount: 5,
                    balance: 2
                }
            ),
            at(3, timer_armed()),
        ]
    );
    assert!(client.ledger().is_empty());
    assert_eq!(table_of(&client), vec![2, 10]);
    assert_eq!(
        client.phase(),
        &Phase::Inside {
            ts: 1,
            transfer: Transfer {
                to: ClientId::new(2),
                amount: 5
            },
            block: None
        }
    );

    // Rule 5 after an abort: the RELEASE carries no block.
    let outputs = leave(&mut client);
    assert_eq!(
        outputs,
        vec![
            at(4, OutputKind::Exited { ts: 1 }),
            at(4, send(ClientId::new(2), release(4, 1, None)))
        ]
    );
    assert!(client.ledger().is_empty());
}

#[test]
fn inside_the_critical_section_the_client_keeps_answering_requests() {
    let (mut client, _) = client_one_inside(&[10, 10, 10], ClientId::new(2), 3);
    let phase = client.phase().clone();
    assert_eq!(client.clock(), 4);

    let outputs = receive(&mut client, ClientId::new(2), request(9));
    assert_eq!(
        outputs,
        vec![
            at(
                10,
                OutputKind::Received {
                    from: ClientId::new(2)
                }
            ),
            at(10, send(ClientId::new(2), reply(10)))
        ]
    );
    let outputs = receive(&mut client, ClientId::new(3), request(4));
    assert_eq!(
        outputs,
        vec![
            at(
                11,
                OutputKind::Received {
                    from: ClientId::new(3)
                }
            ),
            at(11, send(ClientId::new(3), reply(11)))
        ]
    );

    assert_eq!(client.phase(), &phase, "the phase must stay Inside");
    assert_eq!(
        queue_of(&client),
        vec![
            (1, ClientId::new(1)),
            (4, ClientId::new(3)),
            (9, ClientId::new(2))
        ]
    );
}

// ----------------------------------------------------------------------------------------
// Rule 5: release.

#[test]
fn leaving_exits_removes_the_own_request_ticks_and_broadcasts_the_release_with_the_block() {
    let (mut client, outputs) = client_one_inside(&[10, 10, 10], ClientId::new(3), 4);
    let block = committed_block(&client, &outputs);
    receive(&mut client, ClientId::new(2), request(5)); // clock 6, queue [(1, 1), (5, 2)]

    let outputs = leave(&mut client);
    assert_eq!(
        outputs,
        vec![
            at(7, OutputKind::Exited { ts: 1 }),
            at(7, send(ClientId::new(2), release(7, 1, Some(&block)))),
            at(7, send(ClientId::new(3), release(7, 1, Some(&block)))),
        ]
    );
    assert_eq!(client.clock(), 7);
    assert_eq!(
        queue_of(&client),
        vec![(5, ClientId::new(2))],
        "only the own request is removed"
    );
    assert_eq!(client.phase(), &Phase::Idle);
    // The committed block stays in the own ledger, and the very same block travels to both.
    assert_eq!(client.ledger().blocks(), &[Arc::clone(&block)]);
    for (_, msg) in sends(&outputs) {
        let Message::Release {
            block: Some(sent), ..
        } = msg
        else {
            panic!("{msg:?}")
        };
        assert!(
            Arc::ptr_eq(&sent, &block),
            "the block is shared, not copied"
        );
    }
}

// ----------------------------------------------------------------------------------------
// Rule 6: on RELEASE.

#[test]
fn release_from_a_peer_removes_its_request_by_request_ts_even_if_not_the_head() {
    let mut client = new_client(ClientId::new(3), &[10, 10, 10]);
    receive(&mut client, ClientId::new(1), request(1));
    receive(&mut client, ClientId::new(2), request(2)); // clock 3
    assert_eq!(
        queue_of(&client),
        vec![(1, ClientId::new(1)), (2, ClientId::new(2))]
    );

    // Client 2's RELEASE (ts 9) names request 2, which is behind (1, 1).
    let outputs = receive(&mut client, ClientId::new(2), release(9, 2, None));
    assert_eq!(
        outputs,
        vec![at(
            10,
            OutputKind::Received {
                from: ClientId::new(2)
            }
        )]
    );
    assert_eq!(client.clock(), 10);
    assert_eq!(queue_of(&client), vec![(1, ClientId::new(1))]);

    // A RELEASE naming a request that is not there removes nothing (not "whatever 1 has").
    receive(&mut client, ClientId::new(1), release(11, 7, None));
    assert_eq!(queue_of(&client), vec![(1, ClientId::new(1))]);
    assert_eq!(client.clock(), 12);
    receive(&mut client, ClientId::new(1), release(13, 1, None));
    assert!(client.queue().is_empty());
}

#[test]
fn release_with_a_valid_block_appends_and_applies_it() {
    let mut client = new_client(ClientId::new(3), &[10, 10, 10]);
    let b0 = Arc::new(Block::new(
        0,
        GENESIS_PREV,
        1,
        ClientId::new(1),
        ClientId::new(2),
        3,
    ));
    receive(&mut client, ClientId::new(1), request(1)); // clock 2
    let outputs = receive(&mut client, ClientId::new(1), release(4, 1, Some(&b0)));
    assert_eq!(
        outputs,
        vec![
            at(
                5,
                OutputKind::Received {
                    from: ClientId::new(1)
                }
            ),
            at(5, OutputKind::Applied { index: 0 })
        ]
    );
    assert_eq!(client.ledger().blocks(), &[Arc::clone(&b0)]);
    assert_eq!(client.ledger().head_hash(), b0.hash_value());
    assert_eq!(table_of(&client), vec![7, 13, 10]);
    assert!(client.queue().is_empty());

    // The next block chains on it.
    let b1 = Arc::new(Block::new(
        1,
        b0.hash_value(),
        6,
        ClientId::new(2),
        ClientId::new(3),
        5,
    ));
    receive(&mut client, ClientId::new(2), request(6));
    let outputs = receive(&mut client, ClientId::new(2), release(8, 6, Some(&b1)));
    assert_eq!(outputs[1].kind, OutputKind::Applied { index: 1 });
    assert_eq!(client.ledger().len(), 2);
    assert_eq!(client.ledger().head_hash(), b1.hash_value());
    assert_eq!(table_of(&client), vec![7, 8, 15]);
}

#[test]
fn release_with_a_bad_block_is_rejected_and_changes_neither_ledger_nor_table() {
    let mut client = new_client(ClientId::new(3), &[10, 10, 10]);
    let b0 = Arc::new(Block::new(
        0,
        GENESIS_PREV,
        1,
        ClientId::new(1),
        ClientId::new(2),
        3,
    ));
    receive(&mut client, ClientId::new(1), release(1, 1, Some(&b0)));
    let good = Block::new(1, b0.hash_value(), 6, ClientId::new(2), ClientId::new(1), 4);

    let cases = [
        (
            Block::new(0, GENESIS_PREV, 6, ClientId::new(2), ClientId::new(1), 4),
            BlockRejection::WrongIndex {
                expected: 1,
                got: 0,
            },
        ),
        (
            Block::new(1, GENESIS_PREV, 6, ClientId::new(2), ClientId::new(1), 4),
            BlockRejection::WrongPrev {
                expected: b0.hash_value(),
                got: GENESIS_PREV,
            },
        ),
        (
            Block::with_hash(
                1,
                b0.hash_value(),
                6,
                ClientId::new(2),
                ClientId::new(1),
                9,
                good.hash_value(),
            ),
            BlockRejection::BadHash {
                expected: Block::new(1, b0.hash_value(), 6, ClientId::new(2), ClientId::new(1), 9)
                    .hash_value(),
                got: good.hash_value(),
            },
        ),
    ];
    for (bad, reason) in cases {
        let bad = Arc::new(bad);
        let ledger_before = client.ledger().clone();
        let clock = client.clock();
        receive(&mut client, ClientId::new(2), request(clock));
        assert_eq!(queue_of(&client), vec![(clock, ClientId::new(2))]);
        let outputs = receive(
            &mut client,
            ClientId::new(2),
            release(clock + 2, clock, Some(&bad)),
        );
        let after = client.clock();
        assert_eq!(
            outputs,
            vec![
                at(
                    after,
                    OutputKind::Received {
                        from: ClientId::new(2)
                    }
                ),
                at(
                    after,
                    OutputKind::Rejected {
                        from: ClientId::new(2),
                        block: bad,
                        reason: Box::new(reason)
                    }
                ),
            ]
        );
        assert_eq!(client.ledger(), &ledger_before);
        assert_eq!(client.ledger().len(), 1);
        assert_eq!(client.ledger().head_hash(), b0.hash_value());
        assert_eq!(table_of(&client), vec![7, 13, 10]);
        // The rest of rule 6 still happened: clock updated, request removed.
        assert_eq!(after, clock + 3);
        assert!(client.queue().is_empty());
    }

    // The good block is still accepted afterwards.
    let ts = client.clock();
    let outputs = receive(
        &mut client,
        ClientId::new(2),
        release(ts, 6, Some(&Arc::new(good))),
    );
    assert!(matches!(outputs[1].kind, OutputKind::Applied { .. }));
    assert_eq!(table_of(&client), vec![11, 9, 10]);
}
