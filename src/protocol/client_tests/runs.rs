//! Whole runs over the tiny network, and the clock properties they keep.

use super::*;

// ----------------------------------------------------------------------------------------
// Whole runs.

#[test]
fn three_clients_two_concurrent_transfers_fifo_run_agree() {
    let mut net = Net::new(&[10, 10, 10]);
    net.command(ClientId::new(1), transfer(ClientId::new(2), 3));
    net.command(ClientId::new(3), transfer(ClientId::new(1), 4));
    // `take` asserts after every single step that at most one client is inside.
    net.run_fifo();

    assert_eq!(
        net.entries,
        vec![ClientId::new(1), ClientId::new(3)],
        "both entered, in (ts, id) order"
    );
    assert_eq!(net.count(|k| matches!(k, OutputKind::Committed { .. })), 2);
    assert_eq!(net.count(|k| matches!(k, OutputKind::Applied { .. })), 4);
    assert_eq!(net.count(|k| matches!(k, OutputKind::Rejected { .. })), 0);
    net.assert_agreement(30);
    let head = net.client(ClientId::new(1)).ledger().head_hash();
    for id in ClientId::all(3) {
        let client = net.client(id);
        assert_eq!(client.ledger().len(), 2);
        assert_eq!(client.ledger().head_hash(), head);
        assert_eq!(table_of(client), vec![11, 13, 6]);
        assert_eq!(client.ledger().table().total(), 30);
    }
}

/// Four transfers (one of which may abort, depending on the order), 300 pseudo-random
/// schedules with FIFO channels and timers firing at any moment.
fn random_run(seed: u64) -> Net {
    let mut net = Net::new(&[10, 10, 10]);
    net.commands[0].extend([transfer(ClientId::new(2), 3), transfer(ClientId::new(3), 8)]);
    net.commands[1].push_back(transfer(ClientId::new(3), 5));
    net.commands[2].push_back(transfer(ClientId::new(1), 4));
    net.run_random(seed);
    net
}

#[test]
fn random_fifo_schedules_keep_mutual_exclusion_and_serve_every_request() {
    for seed in 0..300 {
        // `take` asserts after every single step that at most one client is inside.
        let net = random_run(seed);
        assert_eq!(
            net.entries.len(),
            4,
            "seed {seed}: every transfer got the mutex"
        );
        let committed = net.count(|k| matches!(k, OutputKind::Committed { .. }));
        let aborted = net.count(|k| matches!(k, OutputKind::Aborted { .. }));
        assert_eq!(committed + aborted, 4, "seed {seed}");
        assert!(net.in_flight.is_empty() && net.timers.is_empty());
        for client in &net.clients {
            assert_eq!(client.phase(), &Phase::Idle, "seed {seed}");
            assert!(
                client.queue().is_empty(),
                "seed {seed}: {:?}",
                queue_of(client)
            );
        }
    }
}

#[test]
fn random_fifo_schedules_agree_on_the_ledger() {
    for seed in 0..300 {
        let net = random_run(seed);
        assert_eq!(
            net.count(|k| matches!(k, OutputKind::Rejected { .. })),
            0,
            "seed {seed}"
        );
        net.assert_agreement(30);
        let committed = net.count(|k| matches!(k, OutputKind::Committed { .. }));
        assert_eq!(
            net.client(ClientId::new(1)).ledger().len() as usize,
            committed,
            "seed {seed}"
        );
    }
}

/// Channels are FIFO, but not causally ordered: client 1's RELEASE (block 0) to client 3 is
/// still on the wire when client 2, which entered after that RELEASE reached it, sends its
/// own RELEASE (block 1) to client 3 over another channel.
#[test]
fn a_block_that_overtakes_an_earlier_one_is_not_lost() {
    let mut net = Net::new(&[10, 10, 10]);
    net.command(ClientId::new(1), transfer(ClientId::new(3), 3));
    net.command(ClientId::new(2), transfer(ClientId::new(3), 4));
    // Every REQUEST and REPLY: client 1 enters, client 2 waits behind (1, 1).
    while let Some(m) = net.in_flight.first() {
        let (from, to) = (m.from, m.to);
        net.deliver(from, to);
    }
    assert_eq!(net.inside(), vec![ClientId::new(1)]);
    net.fire(ClientId::new(1)); // RELEASE with block 0 to clients 2 and 3
    let outputs = net.deliver(ClientId::new(1), ClientId::new(2));
    assert!(entered(&outputs), "client 2 enters on client 1's RELEASE");
    assert_eq!(committed_block(&net.clients[1], &outputs).index(), 1);
    net.fire(ClientId::new(2)); // RELEASE with block 1 to clients 1 and 3
    net.deliver(ClientId::new(2), ClientId::new(1));
    // Client 3 gets block 1 first (channel 2->3), then block 0 (channel 1->3): both FIFO.
    let overtaking = net.deliver(ClientId::new(2), ClientId::new(3));
    let late = net.deliver(ClientId::new(1), ClientId::new(3));
    assert!(net.in_flight.is_empty());
    assert!(
        !overtaking
            .iter()
            .chain(&late)
            .any(|o| matches!(o.kind, OutputKind::Rejected { .. })),
        "client 3 rejected a block: {overtaking:?} {late:?}"
    );
    net.assert_agreement(30);
    assert_eq!(net.client(ClientId::new(3)).ledger().len(), 2);
}

// ----------------------------------------------------------------------------------------
// Clock properties.

fn assert_clock_properties(net: &Net, what: &str) {
    for (index, outputs) in net.log.iter().enumerate() {
        for pair in outputs.windows(2) {
            assert!(
                pair[0].clock <= pair[1].clock,
                "{what}: client {} clock went down: {pair:?}",
                index + 1
            );
        }
        for output in outputs {
            if let OutputKind::Send { msg, .. } = &output.kind {
                assert_eq!(
                    msg.ts(),
                    output.clock,
                    "{what}: a message's ts is the send clock"
                );
            }
        }
        let last = outputs.last().map_or(0, |o| o.clock);
        assert_eq!(last, net.clients[index].clock(), "{what}: final clock");
    }
    assert!(!net.receipts.is_empty());
    for receipt in &net.receipts {
        assert_eq!(
            receipt.first.kind,
            OutputKind::Received { from: receipt.from },
            "{what}"
        );
        assert!(
            receipt.first.clock > receipt.msg_ts,
            "{what}: client {} received ts {} at clock {}",
            receipt.to,
            receipt.msg_ts,
            receipt.first.clock
        );
    }
}

#[test]
fn clocks_never_decrease_and_every_receive_is_later_than_its_send() {
    let mut net = Net::new(&[10, 10, 10]);
    net.command(ClientId::new(1), transfer(ClientId::new(2), 3));
    net.command(ClientId::new(3), transfer(ClientId::new(1), 4));
    net.command(ClientId::new(1), transfer(ClientId::new(3), 2));
    net.run_fifo();
    assert_clock_properties(&net, "fifo");

    for seed in 0..100 {
        let mut net = Net::new(&[10, 10, 10]);
        net.commands[0].extend([
            transfer(ClientId::new(2), 3),
            Command::ReadBalance {
                of: ClientId::new(2),
            },
            transfer(ClientId::new(3), 1),
        ]);
        net.commands[1].extend([
            Command::ReadBalance {
                of: ClientId::new(1),
            },
            transfer(ClientId::new(3), 5),
        ]);
        net.commands[2].push_back(transfer(ClientId::new(1), 4));
        net.run_random(seed);
        assert_clock_properties(&net, &format!("seed {seed}"));
    }
}
