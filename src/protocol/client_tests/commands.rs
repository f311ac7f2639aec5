//! Balance reads, command validation and `wait_reason`.

use super::*;

// ----------------------------------------------------------------------------------------
// Balance reads and command validation.

#[test]
fn balance_read_reports_the_local_possibly_stale_value_and_is_not_a_clock_step() {
    let mut net = Net::new(&[10, 10, 10]);
    net.command(1, transfer(2, 3));
    net.deliver(1, 2);
    net.deliver(1, 3);
    net.deliver(2, 1);
    net.deliver(3, 1);
    assert_eq!(net.inside(), vec![1]);
    assert_eq!(table_of(net.client(1)), vec![7, 13, 10]);

    // Client 3 has not heard of the block yet: it reads the stale 10.
    let before = net.client(3).clone();
    let clock = before.clock();
    let outputs = net.command(3, Command::ReadBalance { of: 1 });
    assert_eq!(
        outputs,
        vec![at(clock, OutputKind::BalanceRead { of: 1, value: 10 })]
    );
    assert_eq!(
        net.client(3),
        &before,
        "a read changes nothing, not even the clock"
    );
    assert!(net.in_flight.is_empty(), "a read sends nothing");

    let clock = net.client(1).clock();
    let outputs = net.command(1, Command::ReadBalance { of: 1 });
    assert_eq!(
        outputs,
        vec![at(clock, OutputKind::BalanceRead { of: 1, value: 7 })]
    );

    net.fire(1);
    net.deliver(1, 3);
    let clock = net.client(3).clock();
    let outputs = net.command(3, Command::ReadBalance { of: 2 });
    assert_eq!(
        outputs,
        vec![at(clock, OutputKind::BalanceRead { of: 2, value: 13 })]
    );
}

#[test]
fn invalid_commands_are_refused_with_the_matching_error_and_no_outputs() {
    let mut client = new_client(2, &[10, 10, 10]);
    command(&mut client, transfer(1, 3)); // waiting: nothing may sneak into pending either
    let cases = [
        (
            transfer(4, 1),
            CommandError::UnknownClient { id: 4, clients: 3 },
        ),
        (
            transfer(0, 1),
            CommandError::UnknownClient { id: 0, clients: 3 },
        ),
        (
            Command::ReadBalance { of: 4 },
            CommandError::UnknownClient { id: 4, clients: 3 },
        ),
        (
            Command::ReadBalance { of: 0 },
            CommandError::UnknownClient { id: 0, clients: 3 },
        ),
        (transfer(2, 1), CommandError::TransferToSelf),
        (transfer(3, 0), CommandError::ZeroAmount),
    ];
    for (cmd, error) in cases {
        let before = client.clone();
        let mut out = Outbox::new();
        assert_eq!(client.validate(&cmd), Err(error), "{cmd:?}");
        assert_eq!(client.handle_command(cmd, &mut out), Err(error), "{cmd:?}");
        assert!(out.is_empty(), "{cmd:?} produced {:?}", out.as_slice());
        assert_eq!(client, before, "{cmd:?} changed the client");
    }
    assert_eq!(client.pending().len(), 0);
}

// ----------------------------------------------------------------------------------------
// wait_reason().

#[test]
fn wait_reason_names_the_request_ahead_and_the_silent_peers() {
    let mut client = new_client(2, &[10, 10, 10]);
    assert_eq!(client.wait_reason(), None, "idle: not waiting");

    receive(&mut client, 1, request(1)); // clock 2
    command(&mut client, transfer(3, 1)); // request ts 3
    assert_eq!(
        client.wait_reason(),
        Some(WaitReason {
            request: (3, 2),
            queued_behind: Some((1, 1)),
            silent_peers: vec![(1, 1), (3, 0)],
            ..WaitReason::default()
        })
    );

    receive(&mut client, 3, reply(5));
    assert_eq!(
        client.wait_reason(),
        Some(WaitReason {
            request: (3, 2),
            queued_behind: Some((1, 1)),
            silent_peers: vec![(1, 1)],
            ..WaitReason::default()
        })
    );

    // Exactly the own ts from client 1 still counts as silent, with that ts reported.
    receive(&mut client, 1, reply(3));
    assert_eq!(client.wait_reason().unwrap().silent_peers, vec![(1, 3)]);

    receive(&mut client, 1, reply(4));
    assert_eq!(
        client.wait_reason(),
        Some(WaitReason {
            request: (3, 2),
            queued_behind: Some((1, 1)),
            silent_peers: vec![],
            ..WaitReason::default()
        })
    );

    let outputs = receive(&mut client, 1, release(8, 1, None));
    assert!(entered(&outputs));
    assert_eq!(client.wait_reason(), None, "inside: not waiting");
}
