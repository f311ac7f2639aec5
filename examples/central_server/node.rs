//! A mutual exclusion of its own, written against `protocol::Node`: a central server.
//!
//! Client 1 is the server as well as a client. A client that wants the critical section
//! sends REQUEST to the server; the server keeps the requests in arrival order and grants the
//! section to one client at a time with a REPLY. The client enters, commits its transfer to
//! its own ledger and, when its critical section ends, sends RELEASE with the block to the
//! server. The server appends the block, forwards it to every other client as UPDATE, and
//! only then grants the next request: on FIFO links the block reaches each client before
//! that client's own grant, so every ledger grows by the same blocks in the same order.
//!
//! With [`Flaw::GrantsEveryRequest`] the server forgets to wait for a RELEASE: it grants each
//! request as soon as it arrives, and two clients can be inside at once.

use std::collections::VecDeque;
use std::sync::Arc;

use lamport_ledger::protocol::{
    Amount, Block, ClientConfig, ClientId, Command, CommandError, LamportClock, Ledger, Message,
    Node, Outbox, OutputKind, Timer, Timestamp, Transfer,
};

/// The client that is also the server.
pub const SERVER: ClientId = ClientId::new(1);

/// A deliberate bug to switch in, to see the simulator and the explorer catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flaw {
    /// The protocol as described.
    None,
    /// The server grants every request at once, without waiting for the holder's RELEASE.
    GrantsEveryRequest,
}

/// Where a client stands with respect to the critical section.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Phase {
    Idle,
    /// Asked the server for the section with request timestamp `ts`.
    Waiting {
        ts: Timestamp,
        transfer: Transfer,
    },
    /// Inside for request `ts`, with the block it committed (none after an abort).
    Inside {
        ts: Timestamp,
        transfer: Transfer,
        block: Option<Arc<Block>>,
    },
}

/// What only the server keeps: the requests waiting for the section, in arrival order, and
/// whether a client holds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct ServerState {
    waiting: VecDeque<(ClientId, Timestamp)>,
    busy: bool,
}

/// One client of the central-server protocol. Everything its next steps depend on is in its
/// fields, and it derives `Clone`, `Eq` and `Hash`: that is what the explorer needs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CentralClient {
    id: ClientId,
    clients: u32,
    cs_us: u64,
    flaw: Flaw,
    clock: LamportClock,
    ledger: Ledger,
    initial_balances: Arc<[Amount]>,
    phase: Phase,
    /// Transfers accepted and not yet requested, oldest first.
    queued: VecDeque<Transfer>,
    server: ServerState,
}

impl CentralClient {
    /// A client in its initial state; the constructor `simulate_nodes` and `explore_nodes`
    /// callers pass around.
    pub fn new(config: &ClientConfig, initial_balances: Arc<[Amount]>, flaw: Flaw) -> Self {
        CentralClient {
            id: config.id,
            clients: config.clients,
            cs_us: config.cs_us,
            flaw,
            clock: LamportClock::new(),
            ledger: Ledger::new(Arc::clone(&initial_balances)),
            initial_balances,
            phase: Phase::Idle,
            queued: VecDeque::new(),
            server: ServerState::default(),
        }
    }

    fn is_server(&self) -> bool {
        self.id == SERVER
    }

    /// A send is an event of its own: the clock ticks and the message carries it.
    fn send(&mut self, to: ClientId, msg: impl FnOnce(Timestamp) -> Message, out: &mut Outbox) {
        let ts = self.clock.tick();
        out.push(ts, OutputKind::Send { to, msg: msg(ts) });
    }

    /// Asks for the section for the oldest queued transfer, if idle.
    fn request_next(&mut self, out: &mut Outbox) {
        if self.phase != Phase::Idle {
            return;
        }
        let Some(transfer) = self.queued.pop_front() else {
            return;
        };
        let ts = self.clock.tick();
        out.push(ts, OutputKind::Requested { ts });
        self.phase = Phase::Waiting { ts, transfer };
        if self.is_server() {
            self.server.waiting.push_back((self.id, ts));
            self.grant_next(out);
        } else {
            self.send(SERVER, |ts| Message::Request { ts }, out);
        }
    }

    /// Server: grants the section to the oldest waiting request while nobody holds it (with
    /// the flaw, to every waiting request).
    fn grant_next(&mut self, out: &mut Outbox) {
        while self.flaw == Flaw::GrantsEveryRequest || !self.server.busy {
            let Some((client, request_ts)) = self.server.waiting.pop_front() else {
                return;
            };
            self.server.busy = true;
            if client == self.id {
                self.enter(request_ts, out);
            } else {
                self.send(client, |ts| Message::Reply { ts }, out);
            }
        }
    }

    /// Enters the section for request `ts`, commits the transfer (or aborts it for lack of
    /// funds) and asks for the timer that ends the section.
    fn enter(&mut self, ts: Timestamp, out: &mut Outbox) {
        let Phase::Waiting { transfer, .. } = self.phase else {
            return;
        };
        let now = self.clock.now();
        out.push(now, OutputKind::Entered { ts });
        let block = match self
            .ledger
            .commit(ts, self.id, transfer.to, transfer.amount)
        {
            Ok(block) => {
                out.push(
                    now,
                    OutputKind::Committed {
                        index: block.index(),
                    },
                );
                Some(block)
            }
            Err(_) => {
                let balance = self.ledger.balance(self.id);
                let amount = transfer.amount;
                out.push(
                    now,
                    OutputKind::Aborted {
                        ts,
                        amount,
                        balance,
                    },
                );
                None
            }
        };
        self.phase = Phase::Inside {
            ts,
            transfer,
            block,
        };
        let timer = Timer::LeaveCriticalSection;
        out.push(
            now,
            OutputKind::SetTimer {
                after_us: self.cs_us,
                timer,
            },
        );
    }

    /// Appends a block another client committed; a block that does not extend the own
    /// ledger is rejected (and the ledger checks will say why the ledgers differ).
    fn apply(&mut self, from: ClientId, block: &Arc<Block>, out: &mut Outbox) {
        let now = self.clock.now();
        match self.ledger.append(Arc::clone(block)) {
            Ok(()) => out.push(
                now,
                OutputKind::Applied {
                    index: block.index(),
                },
            ),
            Err(reason) => {
                let block = Arc::clone(block);
                let reason = Box::new(reason);
                out.push(
                    now,
                    OutputKind::Rejected {
                        from,
                        block,
                        reason,
                    },
                );
            }
        }
    }

    /// Server: the holder `from` released; forward its block to every other client, then
    /// grant the next request.
    fn released(&mut self, from: ClientId, block: Option<Arc<Block>>, out: &mut Outbox) {
        if let Some(block) = block {
            if from != self.id {
                self.apply(from, &block, out);
            }
            let own = self.id;
            for peer in ClientId::all(self.clients).filter(|&peer| peer != from && peer != own) {
                let block = Arc::clone(&block);
                self.send(peer, |ts| Message::Update { ts, block }, out);
            }
        }
        self.server.busy = false;
        self.grant_next(out);
    }
}

impl Node for CentralClient {
    fn id(&self) -> ClientId {
        self.id
    }

    fn clock(&self) -> Timestamp {
        self.clock.now()
    }

    fn handle_command(&mut self, command: Command, out: &mut Outbox) -> Result<(), CommandError> {
        match command {
            Command::Transfer { to, amount } => {
                if !to.is_among(self.clients) {
                    let clients = self.clients;
                    return Err(CommandError::UnknownClient { id: to, clients });
                }
                if to == self.id {
                    return Err(CommandError::TransferToSelf);
                }
                if amount == 0 {
                    return Err(CommandError::ZeroAmount);
                }
                out.push(self.clock.now(), OutputKind::TransferQueued { to, amount });
                self.queued.push_back(Transfer { to, amount });
                self.request_next(out);
            }
            Command::ReadBalance { of } => {
                let value = self.ledger.balance(of);
                out.push(self.clock.now(), OutputKind::BalanceRead { of, value });
            }
        }
        Ok(())
    }

    fn handle_message(&mut self, from: ClientId, msg: &Message, out: &mut Outbox) {
        let now = self.clock.receive(msg.ts());
        out.push(now, OutputKind::Received { from });
        match msg {
            Message::Request { ts } if self.is_server() => {
                self.server.waiting.push_back((from, *ts));
                self.grant_next(out);
            }
            Message::Reply { .. } => {
                if let Phase::Waiting { ts, .. } = self.phase {
                    self.enter(ts, out);
                }
            }
            Message::Release { block, .. } if self.is_server() => {
                self.released(from, block.clone(), out);
            }
            Message::Update { block, .. } => self.apply(from, block, out),
            // Nothing else is part of this protocol.
            _ => {}
        }
    }

    fn handle_timer(&mut self, timer: Timer, out: &mut Outbox) {
        let Timer::LeaveCriticalSection = timer;
        let Phase::Inside { ts, block, .. } = self.phase.clone() else {
            return;
        };
        let now = self.clock.tick();
        out.push(now, OutputKind::Exited { ts });
        self.phase = Phase::Idle;
        if self.is_server() {
            self.released(self.id, block, out);
        } else {
            let request_ts = ts;
            self.send(
                SERVER,
                |ts| Message::Release {
                    ts,
                    request_ts,
                    block,
                },
                out,
            );
        }
        self.request_next(out);
    }

    /// Volatile state is lost; the clock survives, so that it never goes back.
    fn restart(&mut self, keep_ledger: bool) {
        if !keep_ledger {
            self.ledger = Ledger::new(Arc::clone(&self.initial_balances));
        }
        self.phase = Phase::Idle;
        self.queued.clear();
        self.server = ServerState::default();
    }

    fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    fn into_ledger(self) -> Ledger {
        self.ledger
    }

    fn current_transfer(&self) -> Option<Transfer> {
        match &self.phase {
            Phase::Waiting { transfer, .. } | Phase::Inside { transfer, .. } => Some(*transfer),
            Phase::Idle => None,
        }
    }

    fn queued_transfers(&self) -> usize {
        self.queued.len()
    }
}
