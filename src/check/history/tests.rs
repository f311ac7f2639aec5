use super::*;

fn event(seq: u64, node: Option<ClientId>, kind: EventKind) -> Event {
    Event {
        seq,
        t_us: seq * 100,
        node,
        clock: seq,
        kind,
    }
}

fn send(seq: u64, from: ClientId, to: ClientId, msg_id: u64, ts: Timestamp) -> Event {
    event(
        seq,
        Some(from),
        EventKind::Send {
            msg_id,
            to,
            msg: Message::Request { ts },
        },
    )
}

#[test]
fn the_log_keeps_the_latest_messages_of_a_link_and_their_fate() {
    let mut history = History::new(2);
    for msg_id in 0..(LINK_LOG_LEN as u64 + 3) {
        history.observe(
            &send(
                msg_id,
                ClientId::new(1),
                ClientId::new(2),
                msg_id,
                msg_id + 1,
            ),
            None,
        );
    }
    let ids: Vec<u64> = history
        .messages(ClientId::new(1), ClientId::new(2))
        .map(|r| r.msg_id)
        .collect();
    assert_eq!(ids.len(), LINK_LOG_LEN);
    assert_eq!(ids[0], 3, "the oldest were forgotten");
    assert_eq!(*ids.last().unwrap(), LINK_LOG_LEN as u64 + 2);

    let last = LINK_LOG_LEN as u64 + 2;
    let drop = EventKind::Drop {
        msg_id: last,
        reason: DropReason::Loss,
    };
    // No route given: the history finds the link from the node (the sender here).
    history.observe(&event(100, Some(ClientId::new(1)), drop), None);
    let record = history
        .message(ClientId::new(1), ClientId::new(2), last)
        .unwrap();
    assert_eq!(
        record.dropped.map(|(reason, _)| reason),
        Some(DropReason::Loss)
    );
    assert_eq!(record.copies_in_flight(), 0);
    assert_eq!(history.message(ClientId::new(1), ClientId::new(2), 0), None);
}

#[test]
fn a_restart_forgets_what_the_client_had_heard() {
    let mut history = History::new(2);
    history.track_receivers();
    history.observe(&send(0, ClientId::new(1), ClientId::new(2), 0, 5), None);
    let deliver = EventKind::Deliver {
        msg_id: 0,
        from: ClientId::new(1),
        msg: Message::Request { ts: 5 },
    };
    history.observe(&event(1, Some(ClientId::new(2)), deliver), None);
    assert_eq!(history.largest_seen(ClientId::new(1), ClientId::new(2)), 5);
    assert_eq!(
        history.open_request(ClientId::new(1), ClientId::new(2)),
        Some(5)
    );
    history.observe(&event(2, Some(ClientId::new(2)), EventKind::Crash), None);
    assert!(
        history
            .client(ClientId::new(2))
            .unwrap()
            .down_since
            .is_some()
    );
    let restart = EventKind::Restart {
        kept: crate::trace::Kept::Ledger,
    };
    history.observe(&event(3, Some(ClientId::new(2)), restart), None);
    assert_eq!(history.largest_seen(ClientId::new(1), ClientId::new(2)), 0);
    assert_eq!(
        history.open_request(ClientId::new(1), ClientId::new(2)),
        None
    );
    assert!(
        history
            .client(ClientId::new(2))
            .unwrap()
            .down_since
            .is_none()
    );
}

#[test]
fn partitions_cut_the_right_links() {
    let both = PartitionSeen {
        groups: vec![
            vec![ClientId::new(1)],
            vec![ClientId::new(2), ClientId::new(3)],
        ],
        direction: Direction::Both,
        since: Moment { seq: 0, t_us: 0 },
    };
    assert!(
        both.cuts(ClientId::new(1), ClientId::new(2))
            && both.cuts(ClientId::new(3), ClientId::new(1))
    );
    assert!(!both.cuts(ClientId::new(2), ClientId::new(3)));
    let one_way = PartitionSeen {
        direction: Direction::OneWay,
        ..both
    };
    assert!(one_way.cuts(ClientId::new(1), ClientId::new(3)));
    assert!(!one_way.cuts(ClientId::new(3), ClientId::new(1)));
    assert_eq!(
        name_clients(&[ClientId::new(1), ClientId::new(2), ClientId::new(3)]),
        "clients 1, 2 and 3"
    );
}
