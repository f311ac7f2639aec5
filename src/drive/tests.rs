//! The driver on one client, with a host that keeps everything it is handed.

use super::*;
use crate::protocol::{ClientConfig, Command};

#[derive(Default)]
struct Kept {
    events: Vec<Event>,
    carried: Vec<(ClientId, ClientId, u64, Message)>,
    timers: Vec<(ClientId, u64, Timer)>,
}

impl<W: Watch> Host<W> for Kept {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.events.push(event.clone());
        Ok(())
    }

    fn carry(
        &mut self,
        _driver: &mut Driver<W>,
        from: ClientId,
        _clock: Timestamp,
        to: ClientId,
        msg_id: u64,
        msg: Message,
    ) -> io::Result<()> {
        self.carried.push((from, to, msg_id, msg));
        Ok(())
    }

    fn set_timer(&mut self, node: ClientId, after_us: u64, timer: Timer) {
        self.timers.push((node, after_us, timer));
    }
}

fn two_clients() -> Vec<Client> {
    ClientId::all(2)
        .map(|id| {
            let config = ClientConfig {
                id,
                clients: 2,
                ..ClientConfig::default()
            };
            Client::new(&config, vec![10, 10])
        })
        .collect()
}

/// Client 1 pays 3 to client 2 and hears client 2's REPLY: every output becomes its event,
/// in order, numbered and stamped; the send is carried and the timer armed.
fn pay_and_enter<W: Watch>(driver: &mut Driver<W>) -> (Kept, Vec<Client>) {
    let mut clients = two_clients();
    let mut host = Kept::default();
    let mut outbox = Outbox::new();
    driver.attach(&host);
    driver.set_now(5);
    let command = Command::Transfer {
        to: ClientId::new(2),
        amount: 3,
    };
    clients[0].handle_command(command, &mut outbox).unwrap();
    driver
        .outputs(
            &mut host,
            clients.as_slice(),
            ClientId::new(1),
            None,
            &mut outbox,
        )
        .unwrap();
    driver.set_now(9);
    let reply = Message::Reply { ts: 2 };
    clients[0].handle_message(ClientId::new(2), &reply, &mut outbox);
    driver
        .outputs(
            &mut host,
            clients.as_slice(),
            ClientId::new(1),
            Some((7, &reply)),
            &mut outbox,
        )
        .unwrap();
    (host, clients)
}

#[test]
fn every_output_becomes_its_event_in_order() {
    let mut driver = Driver::new(Unchecked, false);
    let (host, clients) = pay_and_enter(&mut driver);
    let kinds: Vec<&str> = host.events.iter().map(|event| event.kind.name()).collect();
    assert_eq!(
        kinds,
        ["transfer", "request", "send", "deliver", "enter", "commit"]
    );
    let seqs: Vec<u64> = host.events.iter().map(|event| event.seq).collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4, 5]);
    let times: Vec<u64> = host.events.iter().map(|event| event.t_us).collect();
    assert_eq!(times, [5, 5, 5, 9, 9, 9]);
    assert!(
        host.events
            .iter()
            .all(|event| event.node == Some(ClientId::new(1)))
    );
    let EventKind::Commit { block } = &host.events[5].kind else {
        panic!("the last event is the commit");
    };
    assert_eq!(block, clients[0].output_block(0));
    let [(from, to, msg_id, msg)] = &host.carried[..] else {
        panic!("one message carried: {:?}", host.carried);
    };
    assert_eq!(
        (*from, *to, *msg_id),
        (ClientId::new(1), ClientId::new(2), 0)
    );
    assert_eq!(*msg, Message::Request { ts: 1 });
    assert_eq!(host.timers.len(), 1);
    assert_eq!(
        driver.counts(),
        Counts {
            events: 6,
            committed: 1,
            aborted: 0,
            messages_sent: 1,
        }
    );
    assert!(driver.violations().is_empty());
}

#[test]
fn a_checked_run_of_correct_steps_finds_nothing() {
    let mut driver = Driver::new(Checker::new(&[10, 10]), true);
    let (host, _) = pay_and_enter(&mut driver);
    assert_eq!(host.events.len(), 6);
    assert!(driver.found().is_empty() && driver.violations().is_empty());
    assert!(!driver.stopped());
}
