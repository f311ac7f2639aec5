//! Unit tests of the `Client` state machine (SPEC section 1, rules 1-6), driven by hand.
//!
//! Single-client tests feed hand-made messages to one client. The multi-client tests use a
//! tiny in-test network, [`Net`], that moves `OutputKind::Send` messages between clients in an
//! order the test chooses (per-channel FIFO) and fires `LeaveCriticalSection` timers when told.

use std::collections::VecDeque;

use super::*;
use crate::protocol::GENESIS_PREV;

/// A `cs_us` that differs from the default so that the timer's duration is really checked.
const CS_US: u64 = 2500;

// ----------------------------------------------------------------------------------------
// Helpers for driving one client by hand.

fn new_client(id: ClientId, balances: &[Amount]) -> Client {
    let config = ClientConfig {
        id,
        clients: balances.len() as u32,
        cs_us: CS_US,
        ..ClientConfig::default()
    };
    Client::new(&config, balances)
}

fn transfer(to: ClientId, amount: Amount) -> Command {
    Command::Transfer { to, amount }
}

fn command(client: &mut Client, command: Command) -> Vec<Output> {
    let mut out = Outbox::new();
    client
        .handle_command(command, &mut out)
        .expect("a valid command");
    out.drain().collect()
}

fn receive(client: &mut Client, from: ClientId, msg: Message) -> Vec<Output> {
    let mut out = Outbox::new();
    client.handle_message(from, &msg, &mut out);
    out.drain().collect()
}

fn leave(client: &mut Client) -> Vec<Output> {
    let mut out = Outbox::new();
    client.handle_timer(Timer::LeaveCriticalSection, &mut out);
    out.drain().collect()
}

fn at(clock: Timestamp, kind: OutputKind) -> Output {
    Output { clock, kind }
}

fn request(ts: Timestamp) -> Message {
    Message::Request { ts }
}

fn reply(ts: Timestamp) -> Message {
    Message::Reply { ts }
}

fn release(ts: Timestamp, request_ts: Timestamp, block: Option<&Arc<Block>>) -> Message {
    Message::Release {
        ts,
        request_ts,
        block: block.cloned(),
    }
}

fn send(to: ClientId, msg: Message) -> OutputKind {
    OutputKind::Send { to, msg }
}

fn timer_armed() -> OutputKind {
    OutputKind::SetTimer {
        after_us: CS_US,
        timer: Timer::LeaveCriticalSection,
    }
}

fn queue_of(client: &Client) -> Vec<RequestId> {
    client.queue().iter().collect()
}

fn pending_of(client: &Client) -> Vec<Transfer> {
    client.pending().copied().collect()
}

fn table_of(client: &Client) -> Vec<Amount> {
    client.ledger().table().to_vec()
}

fn entered(outputs: &[Output]) -> bool {
    outputs
        .iter()
        .any(|o| matches!(o.kind, OutputKind::Entered { .. }))
}

fn sends(outputs: &[Output]) -> Vec<(ClientId, Message)> {
    outputs
        .iter()
        .filter_map(|o| match &o.kind {
            OutputKind::Send { to, msg } => Some((*to, msg.clone())),
            _ => None,
        })
        .collect()
}

fn committed_block(client: &Client, outputs: &[Output]) -> Arc<Block> {
    outputs
        .iter()
        .find_map(|o| match o.kind {
            OutputKind::Committed { index } => Some(Arc::clone(client.output_block(index))),
            _ => None,
        })
        .expect("a Committed output")
}

/// Client 1 of `balances.len()` clients, inside the critical section for `transfer(to,
/// amount)` with request ts 1 (every peer has replied with ts 2).
fn client_one_inside(balances: &[Amount], to: ClientId, amount: Amount) -> (Client, Vec<Output>) {
    let mut client = new_client(1, balances);
    command(&mut client, transfer(to, amount));
    let mut last = Vec::new();
    for peer in 2..=balances.len() as ClientId {
        last = receive(&mut client, peer, reply(2));
    }
    assert!(entered(&last), "client 1 should have entered: {last:?}");
    (client, last)
}

// ----------------------------------------------------------------------------------------
// A tiny network: per-channel FIFO delivery in an order the test chooses.

struct InFlight {
    from: ClientId,
    to: ClientId,
    msg: Message,
}

/// One handled message: who got what, and the first output it produced.
struct Receipt {
    to: ClientId,
    from: ClientId,
    msg_ts: Timestamp,
    first: Output,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Deliver { from: ClientId, to: ClientId },
    Fire(ClientId),
    Issue(ClientId),
}

struct Net {
    clients: Vec<Client>,
    /// Messages sent and not yet delivered, in send order.
    in_flight: Vec<InFlight>,
    /// Clients with an armed `LeaveCriticalSection` timer, in arming order.
    timers: Vec<ClientId>,
    /// Commands a random schedule may still issue, per client.
    commands: Vec<VecDeque<Command>>,
    /// Every output of every client, per client, in order.
    log: Vec<Vec<Output>>,
    receipts: Vec<Receipt>,
    /// The clients that entered the critical section, in order.
    entries: Vec<ClientId>,
}

impl Net {
    fn new(balances: &[Amount]) -> Self {
        let n = balances.len();
        Net {
            clients: (1..=n as ClientId)
                .map(|id| new_client(id, balances))
                .collect(),
            in_flight: Vec::new(),
            timers: Vec::new(),
            commands: vec![VecDeque::new(); n],
            log: vec![Vec::new(); n],
            receipts: Vec::new(),
            entries: Vec::new(),
        }
    }

    fn client(&self, id: ClientId) -> &Client {
        &self.clients[id as usize - 1]
    }

    fn inside(&self) -> Vec<ClientId> {
        self.clients
            .iter()
            .filter(|c| matches!(c.phase(), Phase::Inside { .. }))
            .map(Client::id)
            .collect()
    }

    /// Takes one input's outputs: queues sends, arms timers, logs, checks mutual exclusion.
    fn take(&mut self, id: ClientId, outputs: Vec<Output>) -> Vec<Output> {
        for output in &outputs {
            match &output.kind {
                OutputKind::Send { to, msg } => {
                    assert_ne!(*to, id, "a client sent to itself");
                    self.in_flight.push(InFlight {
                        from: id,
                        to: *to,
                        msg: msg.clone(),
                    });
                }
                OutputKind::SetTimer {
                    timer: Timer::LeaveCriticalSection,
                    ..
                } => self.timers.push(id),
                OutputKind::Entered { .. } => self.entries.push(id),
                _ => {}
            }
        }
        self.log[id as usize - 1].extend(outputs.iter().cloned());
        let inside = self.inside();
        assert!(
            inside.len() <= 1,
            "mutual exclusion violated: clients {inside:?} are inside"
        );
        outputs
    }

    fn command(&mut self, id: ClientId, cmd: Command) -> Vec<Output> {
        let outputs = command(&mut self.clients[id as usize - 1], cmd);
        self.take(id, outputs)
    }

    /// Delivers the oldest message in flight from `from` to `to`.
    fn deliver(&mut self, from: ClientId, to: ClientId) -> Vec<Output> {
        let index = self
            .in_flight
            .iter()
            .position(|m| m.from == from && m.to == to)
            .unwrap_or_else(|| panic!("no message in flight from {from} to {to}"));
        let InFlight { msg, .. } = self.in_flight.remove(index);
        let outputs = receive(&mut self.clients[to as usize - 1], from, msg.clone());
        self.receipts.push(Receipt {
            to,
            from,
            msg_ts: msg.ts(),
            first: outputs[0].clone(),
        });
        self.take(to, outputs)
    }

    /// Fires the armed `LeaveCriticalSection` timer of `id`.
    fn fire(&mut self, id: ClientId) -> Vec<Output> {
        let index = self
            .timers
            .iter()
            .position(|&t| t == id)
            .expect("an armed timer");
        self.timers.remove(index);
        let outputs = leave(&mut self.clients[id as usize - 1]);
        self.take(id, outputs)
    }

    fn step(&mut self, step: Step) {
        match step {
            Step::Deliver { from, to } => {
                self.deliver(from, to);
            }
            Step::Fire(id) => {
                self.fire(id);
            }
            Step::Issue(id) => {
                let cmd = self.commands[id as usize - 1]
                    .pop_front()
                    .expect("a command to issue");
                self.command(id, cmd);
            }
        }
    }

    /// Everything that could happen next: the head of every non-empty channel, every armed
    /// timer, every client's next scripted command.
    fn possible_steps(&self) -> Vec<Step> {
        let mut steps: Vec<Step> = Vec::new();
        for m in &self.in_flight {
            let already = steps
                .iter()
                .any(|s| matches!(*s, Step::Deliver { from, to } if from == m.from && to == m.to));
            if !already {
                steps.push(Step::Deliver {
                    from: m.from,
                    to: m.to,
                });
            }
        }
        steps.extend(self.timers.iter().map(|&id| Step::Fire(id)));
        for (index, cmds) in self.commands.iter().enumerate() {
            if !cmds.is_empty() {
                steps.push(Step::Issue(index as ClientId + 1));
            }
        }
        steps
    }

    /// Delivers messages in global send order (so FIFO on every channel); fires the oldest
    /// armed timer only when nothing is in flight, so a client inside handles messages.
    fn run_fifo(&mut self) {
        loop {
            if let Some(m) = self.in_flight.first() {
                let (from, to) = (m.from, m.to);
                self.deliver(from, to);
            } else if let Some(&id) = self.timers.first() {
                self.fire(id);
            } else {
                break;
            }
        }
    }

    /// A pseudo-random schedule (xorshift64, so the test is deterministic), FIFO per channel.
    fn run_random(&mut self, seed: u64) {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        loop {
            let steps = self.possible_steps();
            if steps.is_empty() {
                break;
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            self.step(steps[(state % steps.len() as u64) as usize]);
        }
    }

    /// At quiescence: everybody idle, every ledger identical (same blocks, same head), every
    /// table summing to `total`.
    fn assert_agreement(&self, total: u128) {
        assert!(self.in_flight.is_empty() && self.timers.is_empty());
        let reference = self.client(1).ledger();
        for client in &self.clients {
            assert_eq!(
                client.phase(),
                &Phase::Idle,
                "client {} not idle",
                client.id()
            );
            assert_eq!(client.pending().len(), 0);
            assert!(
                client.queue().is_empty(),
                "client {} queue: {:?}",
                client.id(),
                queue_of(client)
            );
            assert_eq!(
                client.ledger(),
                reference,
                "client {} ledger differs",
                client.id()
            );
            assert_eq!(client.ledger().head_hash(), reference.head_hash());
            assert_eq!(
                client.ledger().table().total(),
                total,
                "client {} table",
                client.id()
            );
        }
        let mut prev = GENESIS_PREV;
        for (index, block) in reference.blocks().iter().enumerate() {
            assert_eq!(block.index(), index as u64);
            assert_eq!(block.prev(), prev);
            assert_eq!(block.hash_value(), block.recomputed_hash());
            prev = block.hash_value();
        }
    }

    fn count(&self, pred: impl Fn(&OutputKind) -> bool) -> usize {
        self.log.iter().flatten().filter(|o| pred(&o.kind)).count()
    }
}

// ----------------------------------------------------------------------------------------
// Rule 1: request.

#[test]
fn transfer_ticks_the_clock_queues_the_own_request_and_broadcasts_it() {
    // Fresh client: clock 0 -> request ts 1.
    let mut client = new_client(1, &[10, 10, 10]);
    let outputs = command(&mut client, transfer(2, 3));
    assert_eq!(
        outputs,
        vec![
            // The command's arrival is not a clock step: stamped with the clock before the tick.
            at(0, OutputKind::TransferQueued { to: 2, amount: 3 }),
            at(1, OutputKind::Requested { ts: 1 }),
            at(1, send(2, request(1))),
            at(1, send(3, request(1))),
        ]
    );
    assert_eq!(client.clock(), 1);
    assert_eq!(queue_of(&client), vec![(1, 1)]);
    assert_eq!(
        client.phase(),
        &Phase::Waiting {
            ts: 1,
            transfer: Transfer { to: 2, amount: 3 }
        }
    );
    assert_eq!(client.pending().len(), 0);

    // A client whose clock was already raised by a receive ticks from there (+1, not "= 1").
    let mut client = new_client(2, &[10, 10, 10]);
    receive(&mut client, 3, reply(6)); // clock 7
    let outputs = command(&mut client, transfer(1, 4));
    assert_eq!(
        outputs,
        vec![
            at(7, OutputKind::TransferQueued { to: 1, amount: 4 }),
            at(8, OutputKind::Requested { ts: 8 }),
            at(8, send(1, request(8))),
            at(8, send(3, request(8))),
        ]
    );
    assert_eq!(client.clock(), 8);
    assert_eq!(queue_of(&client), vec![(8, 2)]);
}

#[test]
fn a_second_transfer_waits_in_pending_and_is_requested_only_after_the_release() {
    let mut client = new_client(1, &[10, 10]);
    command(&mut client, transfer(2, 3));
    assert_eq!(client.clock(), 1);

    // While request 1 is outstanding: queued, nothing requested, nothing sent, no tick.
    let outputs = command(&mut client, transfer(2, 4));
    assert_eq!(
        outputs,
        vec![at(1, OutputKind::TransferQueued { to: 2, amount: 4 })]
    );
    let outputs = command(&mut client, transfer(2, 5));
    assert_eq!(
        outputs,
        vec![at(1, OutputKind::TransferQueued { to: 2, amount: 5 })]
    );
    assert_eq!(client.clock(), 1);
    assert_eq!(queue_of(&client), vec![(1, 1)]);
    assert_eq!(
        pending_of(&client),
        vec![Transfer { to: 2, amount: 4 }, Transfer { to: 2, amount: 5 }]
    );

    // Entering for the first transfer does not request the second either.
    let outputs = receive(&mut client, 2, reply(2));
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
            at(4, send(2, release(4, 1, Some(&block)))),
            at(5, OutputKind::Requested { ts: 5 }),
            at(5, send(2, request(5))),
        ]
    );
    assert_eq!(
        client.phase(),
        &Phase::Waiting {
            ts: 5,
            transfer: Transfer { to: 2, amount: 4 }
        }
    );
    assert_eq!(queue_of(&client), vec![(5, 1)]);
    assert_eq!(pending_of(&client), vec![Transfer { to: 2, amount: 5 }]);
}

// ----------------------------------------------------------------------------------------
// Rule 2: on REQUEST.

#[test]
fn request_from_a_peer_updates_the_clock_queues_it_and_replies_to_that_peer_only() {
    let mut client = new_client(1, &[10, 10, 10]);

    // A message from the future: clock = max(0, 5) + 1.
    let outputs = receive(&mut client, 3, request(5));
    assert_eq!(
        outputs,
        vec![
            at(6, OutputKind::Received { from: 3 }),
            at(6, send(3, reply(6)))
        ]
    );
    assert_eq!(client.clock(), 6);
    assert_eq!(queue_of(&client), vec![(5, 3)]);
    assert_eq!(client.largest_seen(3), 5);

    // A message from the past: clock = max(6, 2) + 1. Queue order is by (ts, id).
    let outputs = receive(&mut client, 2, request(2));
    assert_eq!(
        outputs,
        vec![
            at(7, OutputKind::Received { from: 2 }),
            at(7, send(2, reply(7)))
        ]
    );
    assert_eq!(client.clock(), 7);
    assert_eq!(queue_of(&client), vec![(2, 2), (5, 3)]);
    assert_eq!(client.largest_seen(2), 2);
    assert_eq!(client.phase(), &Phase::Idle);
}

// ----------------------------------------------------------------------------------------
// Rule 3 / 5(ii): entry.

#[test]
fn no_entry_while_another_request_heads_the_queue_and_entry_on_its_release() {
    let mut client = new_client(2, &[10, 10]);
    receive(&mut client, 1, request(1)); // clock 2, queue [(1, 1)]
    command(&mut client, transfer(1, 3)); // request ts 3
    assert_eq!(queue_of(&client), vec![(1, 1), (3, 2)]);

    // Rule 5(ii) holds (5 > 3) but (1, 1) is ahead: no entry.
    let outputs = receive(&mut client, 1, reply(5));
    assert_eq!(outputs, vec![at(6, OutputKind::Received { from: 1 })]);
    assert!(matches!(client.phase(), Phase::Waiting { ts: 3, .. }));

    // Client 1's RELEASE removes (1, 1): both conditions hold, entry in this very step.
    let outputs = receive(&mut client, 1, release(7, 1, None));
    assert_eq!(
        outputs,
        vec![
            at(8, OutputKind::Received { from: 1 }),
            at(8, OutputKind::Entered { ts: 3 }),
            at(8, OutputKind::Committed { index: 0 }),
            at(8, timer_armed()),
        ]
    );
    assert_eq!(
        **client.output_block(0),
        Block::new(0, GENESIS_PREV, 3, 2, 1, 3)
    );
    assert!(matches!(client.phase(), Phase::Inside { ts: 3, .. }));
}

#[test]
fn no_entry_until_every_peer_has_sent_a_strictly_later_timestamp() {
    let mut client = new_client(1, &[10, 10, 10]);
    command(&mut client, transfer(2, 1)); // request ts 1, the head of the own queue

    // Only client 2 has sent something later than 1.
    let outputs = receive(&mut client, 2, reply(2));
    assert!(!entered(&outputs));

    // Client 3's own concurrent REQUEST has ts 1: equal, not later. (1, 1) stays the head.
    let outputs = receive(&mut client, 3, request(1));
    assert!(
        !entered(&outputs),
        "entered on an equal timestamp: {outputs:?}"
    );
    assert_eq!(queue_of(&client), vec![(1, 1), (1, 3)]);
    assert!(matches!(client.phase(), Phase::Waiting { ts: 1, .. }));

    // Client 3's later REPLY completes rule 5(ii): entry in this very step.
    let outputs = receive(&mut client, 3, reply(2));
    let kinds: Vec<_> = outputs.iter().map(|o| &o.kind).collect();
    assert!(matches!(
        kinds.as_slice(),
        [
            OutputKind::Received { from: 3 },
            OutputKind::Entered { ts: 1 },
            OutputKind::Committed { .. },
            OutputKind::SetTimer { .. },
        ]
    ));
}

#[test]
fn a_message_with_an_equal_timestamp_is_not_enough() {
    let mut client = new_client(1, &[10, 10]);
    receive(&mut client, 2, reply(4)); // clock 5
    command(&mut client, transfer(2, 1)); // request ts 6

    let outputs = receive(&mut client, 2, reply(6));
    assert_eq!(outputs, vec![at(7, OutputKind::Received { from: 2 })]);
    assert!(matches!(client.phase(), Phase::Waiting { ts: 6, .. }));
    assert_eq!(client.wait_reason().unwrap().silent_peers, vec![(2, 6)]);

    let outputs = receive(&mut client, 2, reply(7));
    assert!(entered(&outputs));
    assert!(matches!(client.phase(), Phase::Inside { ts: 6, .. }));
}

#[test]
fn ties_in_timestamp_are_broken_by_the_lower_client_id() {
    // Client 3 asks first, client 2 second; both requests carry ts 1. Client 2 goes first.
    let mut net = Net::new(&[10, 10, 10]);
    net.command(3, transfer(1, 2));
    net.command(2, transfer(1, 4));
    // Deliver every message without letting anybody leave.
    while let Some(m) = net.in_flight.first() {
        let (from, to) = (m.from, m.to);
        net.deliver(from, to);
    }
    assert_eq!(net.inside(), vec![2]);
    assert!(matches!(net.client(2).phase(), Phase::Inside { ts: 1, .. }));
    assert!(matches!(
        net.client(3).phase(),
        Phase::Waiting { ts: 1, .. }
    ));
    assert_eq!(queue_of(net.client(3)), vec![(1, 2), (1, 3)]);
    let reason = net.client(3).wait_reason().unwrap();
    assert_eq!(reason.queued_behind, Some((1, 2)));
    assert_eq!(reason.silent_peers, vec![]);

    net.run_fifo();
    assert_eq!(net.entries, vec![2, 3]);
    net.assert_agreement(30);
    let blocks = net.client(1).ledger().blocks();
    assert_eq!((blocks[0].from(), blocks[0].ts()), (2, 1));
    assert_eq!((blocks[1].from(), blocks[1].ts()), (3, 1));
}

// ----------------------------------------------------------------------------------------
// Rule 4: inside the critical section.

#[test]
fn entering_with_enough_balance_commits_the_next_block_and_arms_the_leave_timer() {
    let mut client = new_client(2, &[10, 10, 10]);
    // A block from client 1 first, so that the new block really chains onto a head.
    let first = Arc::new(Block::new(0, GENESIS_PREV, 1, 1, 3, 4));
    receive(&mut client, 1, request(1));
    let outputs = receive(&mut client, 1, release(3, 1, Some(&first)));
    assert!(matches!(outputs[1].kind, OutputKind::Applied { .. }));
    let head = client.ledger().head_hash();

    command(&mut client, transfer(3, 6)); // clock 4 -> request ts 5
    receive(&mut client, 1, reply(6)); // clock 7
    let outputs = receive(&mut client, 3, reply(6)); // clock 8, enters
    let block = committed_block(&client, &outputs);
    assert_eq!(
        outputs,
        vec![
            at(8, OutputKind::Received { from: 3 }),
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
        (5, 2, 3, 6)
    );
    assert_eq!(block.hash_value(), block.recomputed_hash());
    assert_eq!(*block, Block::new(1, first.hash_value(), 5, 2, 3, 6));
    // Appended and applied to the own table.
    assert_eq!(client.ledger().len(), 2);
    assert_eq!(client.ledger().head_hash(), block.hash_value());
    assert_eq!(table_of(&client), vec![6, 4, 20]);
    assert_eq!(
        client.phase(),
        &Phase::Inside {
            ts: 5,
            transfer: Transfer { to: 3, amount: 6 },
            block: Some(block)
        }
    );
    // Inside, the client is no longer waiting for anything.
    assert_eq!(client.wait_reason(), None);
}

#[test]
fn paying_exactly_the_whole_balance_commits() {
    let (client, outputs) = client_one_inside(&[5, 10], 2, 5);
    assert_eq!(committed_block(&client, &outputs).amount(), 5);
    assert_eq!(table_of(&client), vec![0, 15]);
}

#[test]
fn entering_with_too_little_balance_aborts_without_a_block() {
    let (mut client, outputs) = client_one_inside(&[2, 10], 2, 5);
    assert_eq!(
        outputs,
        vec![
            at(3, OutputKind::Received { from: 2 }),
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
            transfer: Transfer { to: 2, amount: 5 },
            block: None
        }
    );

    // Rule 5 after an abort: the RELEASE carries no block.
    let outputs = leave(&mut client);
    assert_eq!(
        outputs,
        vec![
            at(4, OutputKind::Exited { ts: 1 }),
            at(4, send(2, release(4, 1, None)))
        ]
    );
    assert!(client.ledger().is_empty());
}

#[test]
fn inside_the_critical_section_the_client_keeps_answering_requests() {
    let (mut client, _) = client_one_inside(&[10, 10, 10], 2, 3);
    let phase = client.phase().clone();
    assert_eq!(client.clock(), 4);

    let outputs = receive(&mut client, 2, request(9));
    assert_eq!(
        outputs,
        vec![
            at(10, OutputKind::Received { from: 2 }),
            at(10, send(2, reply(10)))
        ]
    );
    let outputs = receive(&mut client, 3, request(4));
    assert_eq!(
        outputs,
        vec![
            at(11, OutputKind::Received { from: 3 }),
            at(11, send(3, reply(11)))
        ]
    );

    assert_eq!(client.phase(), &phase, "the phase must stay Inside");
    assert_eq!(queue_of(&client), vec![(1, 1), (4, 3), (9, 2)]);
}

// ----------------------------------------------------------------------------------------
// Rule 5: release.

#[test]
fn leaving_exits_removes_the_own_request_ticks_and_broadcasts_the_release_with_the_block() {
    let (mut client, outputs) = client_one_inside(&[10, 10, 10], 3, 4);
    let block = committed_block(&client, &outputs);
    receive(&mut client, 2, request(5)); // clock 6, queue [(1, 1), (5, 2)]

    let outputs = leave(&mut client);
    assert_eq!(
        outputs,
        vec![
            at(7, OutputKind::Exited { ts: 1 }),
            at(7, send(2, release(7, 1, Some(&block)))),
            at(7, send(3, release(7, 1, Some(&block)))),
        ]
    );
    assert_eq!(client.clock(), 7);
    assert_eq!(
        queue_of(&client),
        vec![(5, 2)],
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
    let mut client = new_client(3, &[10, 10, 10]);
    receive(&mut client, 1, request(1));
    receive(&mut client, 2, request(2)); // clock 3
    assert_eq!(queue_of(&client), vec![(1, 1), (2, 2)]);

    // Client 2's RELEASE (ts 9) names request 2, which is behind (1, 1).
    let outputs = receive(&mut client, 2, release(9, 2, None));
    assert_eq!(outputs, vec![at(10, OutputKind::Received { from: 2 })]);
    assert_eq!(client.clock(), 10);
    assert_eq!(queue_of(&client), vec![(1, 1)]);

    // A RELEASE naming a request that is not there removes nothing (not "whatever 1 has").
    receive(&mut client, 1, release(11, 7, None));
    assert_eq!(queue_of(&client), vec![(1, 1)]);
    assert_eq!(client.clock(), 12);
    receive(&mut client, 1, release(13, 1, None));
    assert!(client.queue().is_empty());
}

#[test]
fn release_with_a_valid_block_appends_and_applies_it() {
    let mut client = new_client(3, &[10, 10, 10]);
    let b0 = Arc::new(Block::new(0, GENESIS_PREV, 1, 1, 2, 3));
    receive(&mut client, 1, request(1)); // clock 2
    let outputs = receive(&mut client, 1, release(4, 1, Some(&b0)));
    assert_eq!(
        outputs,
        vec![
            at(5, OutputKind::Received { from: 1 }),
            at(5, OutputKind::Applied { index: 0 })
        ]
    );
    assert_eq!(client.ledger().blocks(), &[Arc::clone(&b0)]);
    assert_eq!(client.ledger().head_hash(), b0.hash_value());
    assert_eq!(table_of(&client), vec![7, 13, 10]);
    assert!(client.queue().is_empty());

    // The next block chains on it.
    let b1 = Arc::new(Block::new(1, b0.hash_value(), 6, 2, 3, 5));
    receive(&mut client, 2, request(6));
    let outputs = receive(&mut client, 2, release(8, 6, Some(&b1)));
    assert_eq!(outputs[1].kind, OutputKind::Applied { index: 1 });
    assert_eq!(client.ledger().len(), 2);
    assert_eq!(client.ledger().head_hash(), b1.hash_value());
    assert_eq!(table_of(&client), vec![7, 8, 15]);
}

#[test]
fn release_with_a_bad_block_is_rejected_and_changes_neither_ledger_nor_table() {
    let mut client = new_client(3, &[10, 10, 10]);
    let b0 = Arc::new(Block::new(0, GENESIS_PREV, 1, 1, 2, 3));
    receive(&mut client, 1, release(1, 1, Some(&b0)));
    let good = Block::new(1, b0.hash_value(), 6, 2, 1, 4);

    let cases = [
        (
            Block::new(0, GENESIS_PREV, 6, 2, 1, 4),
            BlockRejection::WrongIndex {
                expected: 1,
                got: 0,
            },
        ),
        (
            Block::new(1, GENESIS_PREV, 6, 2, 1, 4),
            BlockRejection::WrongPrev {
                expected: b0.hash_value(),
                got: GENESIS_PREV,
            },
        ),
        (
            Block::with_hash(1, b0.hash_value(), 6, 2, 1, 9, good.hash_value()),
            BlockRejection::BadHash {
                expected: Block::new(1, b0.hash_value(), 6, 2, 1, 9).hash_value(),
                got: good.hash_value(),
            },
        ),
    ];
    for (bad, reason) in cases {
        let bad = Arc::new(bad);
        let ledger_before = client.ledger().clone();
        let clock = client.clock();
        receive(&mut client, 2, request(clock));
        assert_eq!(queue_of(&client), vec![(clock, 2)]);
        let outputs = receive(&mut client, 2, release(clock + 2, clock, Some(&bad)));
        let after = client.clock();
        assert_eq!(
            outputs,
            vec![
                at(after, OutputKind::Received { from: 2 }),
                at(
                    after,
                    OutputKind::Rejected {
                        from: 2,
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
    let outputs = receive(&mut client, 2, release(ts, 6, Some(&Arc::new(good))));
    assert!(matches!(outputs[1].kind, OutputKind::Applied { .. }));
    assert_eq!(table_of(&client), vec![11, 9, 10]);
}

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

// ----------------------------------------------------------------------------------------
// Whole runs.

#[test]
fn three_clients_two_concurrent_transfers_fifo_run_agree() {
    let mut net = Net::new(&[10, 10, 10]);
    net.command(1, transfer(2, 3));
    net.command(3, transfer(1, 4));
    // `take` asserts after every single step that at most one client is inside.
    net.run_fifo();

    assert_eq!(net.entries, vec![1, 3], "both entered, in (ts, id) order");
    assert_eq!(net.count(|k| matches!(k, OutputKind::Committed { .. })), 2);
    assert_eq!(net.count(|k| matches!(k, OutputKind::Applied { .. })), 4);
    assert_eq!(net.count(|k| matches!(k, OutputKind::Rejected { .. })), 0);
    net.assert_agreement(30);
    let head = net.client(1).ledger().head_hash();
    for id in 1..=3 {
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
    net.commands[0].extend([transfer(2, 3), transfer(3, 8)]);
    net.commands[1].push_back(transfer(3, 5));
    net.commands[2].push_back(transfer(1, 4));
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
            net.client(1).ledger().len() as usize,
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
    net.command(1, transfer(3, 3));
    net.command(2, transfer(3, 4));
    // Every REQUEST and REPLY: client 1 enters, client 2 waits behind (1, 1).
    while let Some(m) = net.in_flight.first() {
        let (from, to) = (m.from, m.to);
        net.deliver(from, to);
    }
    assert_eq!(net.inside(), vec![1]);
    net.fire(1); // RELEASE with block 0 to clients 2 and 3
    let outputs = net.deliver(1, 2);
    assert!(entered(&outputs), "client 2 enters on client 1's RELEASE");
    assert_eq!(committed_block(&net.clients[1], &outputs).index(), 1);
    net.fire(2); // RELEASE with block 1 to clients 1 and 3
    net.deliver(2, 1);
    // Client 3 gets block 1 first (channel 2->3), then block 0 (channel 1->3): both FIFO.
    let overtaking = net.deliver(2, 3);
    let late = net.deliver(1, 3);
    assert!(net.in_flight.is_empty());
    assert!(
        !overtaking
            .iter()
            .chain(&late)
            .any(|o| matches!(o.kind, OutputKind::Rejected { .. })),
        "client 3 rejected a block: {overtaking:?} {late:?}"
    );
    net.assert_agreement(30);
    assert_eq!(net.client(3).ledger().len(), 2);
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
    net.command(1, transfer(2, 3));
    net.command(3, transfer(1, 4));
    net.command(1, transfer(3, 2));
    net.run_fifo();
    assert_clock_properties(&net, "fifo");

    for seed in 0..100 {
        let mut net = Net::new(&[10, 10, 10]);
        net.commands[0].extend([
            transfer(2, 3),
            Command::ReadBalance { of: 2 },
            transfer(3, 1),
        ]);
        net.commands[1].extend([Command::ReadBalance { of: 1 }, transfer(3, 5)]);
        net.commands[2].push_back(transfer(1, 4));
        net.run_random(seed);
        assert_clock_properties(&net, &format!("seed {seed}"));
    }
}
