//! Balance reads, command validation and `wait_reason`.

use super::*;

// ----------------------------------------------------------------------------------------
// Balance reads and command validation.

#[test]
fn balance_read_reports_the_local_possibly_stale_value_and_is_not_a_clock_step() {
    let mut net = Net::new(&[10, 10, 10]);
    net.command(ClientId::new(1), transfer(ClientId::new(2), 3));
    net.deliver(ClientId::new(1), ClientId::new(2));
    net.deliver(ClientId::new(1), ClientId::new(3));
    net.deliver(ClientId::new(2), ClientId::new(1));
    net.deliver(ClientId::new(3), ClientId::new(1));
    assert_eq!(net.inside(), vec![ClientId::new(1)]);
    assert_eq!(table_of(net.client(ClientId::new(1))), vec![7, 13, 10]);

    // Client 3 has not heard of the block yet: it reads the stale 10.
    let before = net.client(ClientId::new(3)).clone();
    let clock = before.clock();
    let outputs = net.command(
        ClientId::new(3),
        Command::ReadBalance {
            of: ClientId::new(1),
        },
    );
    assert_eq!(
        outputs,
        vec![at(
            clock,
            OutputKind::BalanceRead {
                of: ClientId::new(1),
                value: 10
            }
        )]
    );
    assert_eq!(
        net.client(ClientId::new(3)),
        &before,
        "a read changes nothing, not even the clock"
    );
    assert!(net.in_flight.is_empty(), "a read sends nothing");

    let clock = net.client(ClientId::new(1)).clock();
    let outputs = net.command(
        ClientId::new(1),
        Command::ReadBalance {
            of: ClientId::new(1),
        },
    );
    assert_eq!(
        outputs,
        vec![at(
            clock,
            OutputKind::BalanceRead {
                of: ClientId::new(1),
                value: 7
            }
        )]
    );

    net.fire(ClientId::new(1));
    net.deliver(ClientId::new(1), ClientId::new(3));
    let clock = net.client(ClientId::new(3)).clock();
    let outputs = net.command(
        ClientId::new(3),
        Command::ReadBalance {
            of: ClientId::new(2),
        },
    );
    assert_eq!(
        outputs,
        vec![at(
            clock,
            OutputKind::BalanceRead {
                of: ClientId::new(2),
                value: 13
            }
        )]
    );
}

#[test]
fn invalid_commands_are_refused_with_the_matching_error_and_no_outputs() {
    let mut client = new_client(ClientId::new(2), &[10, 10, 10]);
    command(&mut client, transfer(ClientId::new(1), 3)); // waiting: nothing may sneak into pending either
    let cases = [
        (
            transfer(ClientId::new(4), 1),
            CommandError::UnknownClient {
                id: ClientId::new(4),
                clients: 3,
            },
        ),
        (
            transfer(ClientId::new(0), 1),
            CommandError::UnknownClient {
                id: ClientId::new(0),
                clients: 3,
            },
        ),
        (
            Command::ReadBalance {
                of: ClientId::new(4),
            },
            CommandError::UnknownClient {
                id: ClientId::new(4),
                clients: 3,
            },
        ),
        (
            Command::ReadBalance {
                of: ClientId::new(0),
            },
            CommandError::UnknownClient {
                id: ClientId::new(0),
                clients: 3,
            },
        ),
        (transfer(ClientId::new(2), 1), CommandError::TransferToSelf),
        (transfer(ClientId::new(3), 0), CommandError::ZeroAmount),
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
    let mut client = new_client(ClientId::new(2), &[10, 10, 10]);
    assert_eq!(client.wait_reason(), None, "idle: not waiting");

    receive(&mut client, ClientId::new(1), request(1)); // clock 2
    command(&mut client, transfer(ClientId::new(3), 1)); // request ts 3
    assert_eq!(
        client.wait_reason(),
        Some(WaitReason {
            request: (3, ClientId::new(2)),
            queued_behind: Some((1, ClientId::new(1))),
            silent_peers: vec![(ClientId::new(1), 1), (ClientId::new(3), 0)],
            ..WaitReason::default()
        })
    );

    receive(&mut client, ClientId::new(3), reply(5));
    assert_eq!(
        client.wait_reason(),
        Some(WaitReason {
            request: (3, ClientId::new(2)),
            queued_behind: Some((1, ClientId::new(1))),
            silent_peers: vec![(ClientId::new(1), 1)],
            ..WaitReason::default()
        })
    );

    // Exactly the own ts from client 1 still counts as silent, with that ts reported.
    receive(&mut client, ClientId::new(1), reply(3));
    assert_eq!(
        client.wait_reason().unwrap().silent_peers,
        vec![(ClientId::new(1), 3)]
    );

    receive(&mut client, ClientId::new(1), reply(4));
    assert_eq!(
        client.wait_reason(),
        Some(WaitReason {
            request: (3, ClientId::new(2)),
            queued_behind: Some((1, ClientId::new(1))),
            silent_peers: vec![],
            ..WaitReason::default()
        })
    );

    let outputs = receive(&mut client, ClientId::new(1), release(8, 1, None));
    assert!(entered(&outputs));
    assert_eq!(client.wait_reason(), None, "inside: not waiting");
}
