//! A tiny network for the multi-client tests: per-channel FIFO delivery in an order the test
//! chooses, and `LeaveCriticalSection` timers fired when told.

use std::collections::VecDeque;

use super::*;

pub(super) struct InFlight {
    pub(super) from: ClientId,
    pub(super) to: ClientId,
    pub(super) msg: Message,
}

/// One handled message: who got what, and the first output it produced.
pub(super) struct Receipt {
    pub(super) to: ClientId,
    pub(super) from: ClientId,
    pub(super) msg_ts: Timestamp,
    pub(super) first: Output,
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Deliver { from: ClientId, to: ClientId },
    Fire(ClientId),
    Issue(ClientId),
}

pub(super) struct Net {
    pub(super) clients: Vec<Client>,
    /// Messages sent and not yet delivered, in send order.
    pub(super) in_flight: Vec<InFlight>,
    /// Clients with an armed `LeaveCriticalSection` timer, in arming order.
    pub(super) timers: Vec<ClientId>,
    /// Commands a random schedule may still issue, per client.
    pub(super) commands: Vec<VecDeque<Command>>,
    /// Every output of every client, per client, in order.
    pub(super) log: Vec<Vec<Output>>,
    pub(super) receipts: Vec<Receipt>,
    /// The clients that entered the critical section, in order.
    pub(super) entries: Vec<ClientId>,
}

impl Net {
    pub(super) fn new(balances: &[Amount]) -> Self {
        let n = balances.len();
        Net {
            clients: (0..n)
                .map(ClientId::from_index)
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

    pub(super) fn client(&self, id: ClientId) -> &Client {
        &self.clients[id.index()]
    }

    pub(super) fn inside(&self) -> Vec<ClientId> {
        self.clients
            .iter()
            .filter(|c| matches!(c.phase(), Phase::Inside { .. }))
            .map(Client::id)
            .collect()
    }

    /// Takes one input's outputs: queues sends, arms timers, logs, checks mutual exclusion.
    pub(super) fn take(&mut self, id: ClientId, outputs: Vec<Output>) -> Vec<Output> {
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
        self.log[id.index()].extend(outputs.iter().cloned());
        let inside = self.inside();
        assert!(
            inside.len() <= 1,
            "mutual exclusion violated: clients {inside:?} are inside"
        );
        outputs
    }

    pub(super) fn command(&mut self, id: ClientId, cmd: Command) -> Vec<Output> {
        let outputs = command(&mut self.clients[id.index()], cmd);
        self.take(id, outputs)
    }

    /// Delivers the oldest message in flight from `from` to `to`.
    pub(super) fn deliver(&mut self, from: ClientId, to: ClientId) -> Vec<Output> {
        let index = self
            .in_flight
            .iter()
            .position(|m| m.from == from && m.to == to)
            .unwrap_or_else(|| panic!("no message in flight from {from} to {to}"));
        let InFlight { msg, .. } = self.in_flight.remove(index);
        let outputs = receive(&mut self.clients[to.index()], from, msg.clone());
        self.receipts.push(Receipt {
            to,
            from,
            msg_ts: msg.ts(),
            first: outputs[0].clone(),
        });
        self.take(to, outputs)
    }

    /// Fires the armed `LeaveCriticalSection` timer of `id`.
    pub(super) fn fire(&mut self, id: ClientId) -> Vec<Output> {
        let index = self
            .timers
            .iter()
            .position(|&t| t == id)
            .expect("an armed timer");
        self.timers.remove(index);
        let outputs = leave(&mut self.clients[id.index()]);
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
                let cmd = self.commands[id.index()]
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
                steps.push(Step::Issue(ClientId::from_index(index)));
            }
        }
        steps
    }

    /// Delivers messages in global send order (so FIFO on every channel); fires the oldest
    /// armed timer only when nothing is in flight, so a client inside handles messages.
    pub(super) fn run_fifo(&mut self) {
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
    pub(super) fn run_random(&mut self, seed: u64) {
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
    pub(super) fn assert_agreement(&self, total: u128) {
        assert!(self.in_flight.is_empty() && self.timers.is_empty());
        let reference = self.client(ClientId::new(1)).ledger();
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

    pub(super) fn count(&self, pred: impl Fn(&OutputKind) -> bool) -> usize {
        self.log.iter().flatten().filter(|o| pred(&o.kind)).count()
    }
}
