//! The client state machine: commands and messages in, outputs into an [`Outbox`].
//!
//! It follows SPEC section 1. Two choices the SPEC leaves open, documented in
//! `docs/protocol.md`:
//! - a REPLY is part of the receive step that handles the REQUEST: it carries the clock value
//!   of that step and does not raise the clock again;
//! - the messages of one broadcast (REQUEST, RELEASE) share the clock of the step that sent
//!   them;
//! - a block that arrives ahead of a gap (its index is past the own ledger length, because
//!   RELEASEs from different senders travel on different links and may arrive out of order) is
//!   held back and appended, with rule 6's checks, as soon as the blocks before it are in.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::ledger::BlockRejection;
use super::mutex::PeerWatermarks;
use super::{
    Amount, Block, ClientId, LamportClock, Ledger, Message, RequestId, RequestQueue, Timestamp,
};

/// What a client needs to know about its setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    pub id: ClientId,
    /// N: the clients are `1..=N`.
    pub clients: u32,
    /// How long the client stays in the critical section, in microseconds.
    pub cs_us: u64,
}

/// A command typed by a user (or issued by a scenario's workload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Move `amount` of the own money to `to`. Needs the mutex.
    Transfer { to: ClientId, amount: Amount },
    /// Read the local balance table. No mutex, no messages; may be stale.
    ReadBalance { of: ClientId },
}

/// Why a command was refused before it changed anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("there is no client {id} (clients are 1 to {clients})")]
    UnknownClient { id: ClientId, clients: u32 },
    #[error("a client cannot transfer to itself")]
    TransferToSelf,
    #[error("the amount must be at least 1")]
    ZeroAmount,
}

/// A timer the client asks its driver to arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The critical section has lasted `cs_us`: release the mutex.
    LeaveCriticalSection,
}

/// A transfer waiting for, or holding, the mutex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transfer {
    pub to: ClientId,
    pub amount: Amount,
}

/// One effect of handling an input, stamped with the client's clock after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub clock: Timestamp,
    pub kind: OutputKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// A message from `from` was received (always the first output of `handle_message`).
    Received { from: ClientId },
    /// Send `msg` to `to`.
    Send { to: ClientId, msg: Message },
    /// A transfer command arrived and waits its turn.
    TransferQueued { to: ClientId, amount: Amount },
    /// The client asked for the mutex with request timestamp `ts`.
    Requested { ts: Timestamp },
    /// The client entered the critical section for its request `ts`.
    Entered { ts: Timestamp },
    /// A block was committed and applied to the own table.
    Committed { block: Arc<Block> },
    /// The transfer was aborted inside the critical section for lack of funds.
    Aborted {
        ts: Timestamp,
        amount: Amount,
        balance: Amount,
    },
    /// The client left the critical section of request `ts`.
    Exited { ts: Timestamp },
    /// A block that came with a RELEASE was appended.
    Applied { block: Arc<Block> },
    /// A block that came with a RELEASE failed verification and was not appended.
    Rejected {
        from: ClientId,
        block: Arc<Block>,
        reason: BlockRejection,
    },
    /// A balance read and the value it saw.
    BalanceRead { of: ClientId, value: Amount },
    /// Arm a timer that fires after `after_us` microseconds.
    SetTimer { after_us: u64, timer: Timer },
}

/// Where a client puts its outputs; the driver drains it after every input. Reused between
/// inputs so the hot path does not allocate.
#[derive(Debug, Default)]
pub struct Outbox {
    outputs: Vec<Output>,
}

impl Outbox {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, clock: Timestamp, kind: OutputKind) {
        self.outputs.push(Output { clock, kind });
    }

    pub fn drain(&mut self) -> std::vec::Drain<'_, Output> {
        self.outputs.drain(..)
    }

    pub fn as_slice(&self) -> &[Output] {
        &self.outputs
    }

    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }
}

/// Where the client stands with respect to the mutex.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// No outstanding request.
    Idle,
    /// Requested the mutex with timestamp `ts`, not yet inside.
    Waiting { ts: Timestamp, transfer: Transfer },
    /// Inside the critical section; `block` is what it committed (none after an abort).
    Inside {
        ts: Timestamp,
        transfer: Transfer,
        block: Option<Arc<Block>>,
    },
}

/// Why a waiting client has not entered yet (for liveness reports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitReason {
    /// The own request.
    pub request: RequestId,
    /// Rule 5(i): the request ahead of the own one in the own queue, if any.
    pub queued_behind: Option<RequestId>,
    /// Rule 5(ii): the peers that have sent nothing later than the own request, with the
    /// largest timestamp seen from each.
    pub silent_peers: Vec<(ClientId, Timestamp)>,
}

/// One client: clock, request queue, ledger and the transfers it still has to make.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Client {
    id: ClientId,
    clients: u32,
    cs_us: u64,
    clock: LamportClock,
    queue: RequestQueue,
    watermarks: PeerWatermarks,
    ledger: Ledger,
    pending: VecDeque<Transfer>,
    phase: Phase,
    /// Blocks that arrived before the blocks preceding them: index -> (sender, block).
    held_back: BTreeMap<u64, (ClientId, Arc<Block>)>,
}

impl Client {
    /// A client with the given initial balance table (index `id - 1` is client `id`).
    pub fn new(config: &ClientConfig, initial_balances: &[Amount]) -> Self {
        debug_assert_eq!(initial_balances.len(), config.clients as usize);
        Client {
            id: config.id,
            clients: config.clients,
            cs_us: config.cs_us,
            clock: LamportClock::new(),
            queue: RequestQueue::new(),
            watermarks: PeerWatermarks::new(config.id, config.clients),
            ledger: Ledger::new(initial_balances),
            pending: VecDeque::new(),
            phase: Phase::Idle,
            held_back: BTreeMap::new(),
        }
    }

    pub fn id(&self) -> ClientId {
        self.id
    }

    pub fn clock(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn queue(&self) -> &RequestQueue {
        &self.queue
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Blocks received ahead of a gap in the own ledger, waiting for the blocks before them.
    pub fn held_back(&self) -> impl ExactSizeIterator<Item = &Arc<Block>> {
        self.held_back.values().map(|(_, block)| block)
    }

    /// Transfers accepted but not yet requested.
    pub fn pending(&self) -> impl ExactSizeIterator<Item = &Transfer> {
        self.pending.iter()
    }

    /// The largest timestamp received from `peer`.
    pub fn largest_seen(&self, peer: ClientId) -> Timestamp {
        self.watermarks.largest_seen(peer)
    }

    /// Checks a command without changing anything.
    pub fn validate(&self, command: &Command) -> Result<(), CommandError> {
        let known = |id: ClientId| {
            if (1..=self.clients).contains(&id) {
                Ok(())
            } else {
                Err(CommandError::UnknownClient {
                    id,
                    clients: self.clients,
                })
            }
        };
        match *command {
            Command::Transfer { to, amount } => {
                known(to)?;
                if to == self.id {
                    return Err(CommandError::TransferToSelf);
                }
                if amount == 0 {
                    return Err(CommandError::ZeroAmount);
                }
                Ok(())
            }
            Command::ReadBalance { of } => known(of),
        }
    }

    /// A command from the user or the workload.
    pub fn handle_command(
        &mut self,
        command: Command,
        out: &mut Outbox,
    ) -> Result<(), CommandError> {
        self.validate(&command)?;
        match command {
            Command::Transfer { to, amount } => {
                out.push(self.clock(), OutputKind::TransferQueued { to, amount });
                self.pending.push_back(Transfer { to, amount });
                if self.phase == Phase::Idle {
                    self.request_next(out);
                }
            }
            Command::ReadBalance { of } => {
                let value = self.ledger.balance(of);
                out.push(self.clock(), OutputKind::BalanceRead { of, value });
            }
        }
        Ok(())
    }

    /// A message from peer `from`. Rules 2 and 6, then the entry check.
    pub fn handle_message(&mut self, from: ClientId, msg: &Message, out: &mut Outbox) {
        let clock = self.clock.receive(msg.ts());
        out.push(clock, OutputKind::Received { from });
        self.watermarks.observe(from, msg.ts());
        match msg {
            Message::Request { ts } => {
                self.queue.insert((*ts, from));
                out.push(
                    clock,
                    OutputKind::Send {
                        to: from,
                        msg: Message::Reply { ts: clock },
                    },
                );
            }
            Message::Reply { .. } => {}
            Message::Release {
                request_ts, block, ..
            } => {
                self.queue.remove((*request_ts, from));
                if let Some(block) = block {
                    self.accept_block(from, block, out);
                }
            }
            Message::Update { block, .. } => self.accept_block(from, block, out),
            Message::Updated { .. } => {}
        }
        self.try_enter(out);
    }

    /// A timer armed through [`OutputKind::SetTimer`] fired.
    pub fn handle_timer(&mut self, timer: Timer, out: &mut Outbox) {
        match timer {
            Timer::LeaveCriticalSection => self.release(out),
        }
    }

    /// Why the client, if waiting, has not entered yet.
    pub fn wait_reason(&self) -> Option<WaitReason> {
        let Phase::Waiting { ts, .. } = self.phase else {
            return None;
        };
        let request = (ts, self.id);
        let queued_behind = self.queue.head().filter(|&head| head != request);
        let silent_peers = self
            .watermarks
            .peers_not_later_than(ts)
            .map(|peer| (peer, self.watermarks.largest_seen(peer)))
            .collect();
        Some(WaitReason {
            request,
            queued_behind,
            silent_peers,
        })
    }

    /// Rule 1: ask for the mutex for the next pending transfer, if any.
    fn request_next(&mut self, out: &mut Outbox) {
        debug_assert_eq!(self.phase, Phase::Idle);
        let Some(transfer) = self.pending.pop_front() else {
            return;
        };
        let ts = self.clock.tick();
        self.queue.insert((ts, self.id));
        self.phase = Phase::Waiting { ts, transfer };
        out.push(ts, OutputKind::Requested { ts });
        self.broadcast(Message::Request { ts }, out);
        self.try_enter(out);
    }

    /// Rules 3 and 4: enter when the own request heads the queue and every peer has sent a
    /// later message; then commit or abort.
    fn try_enter(&mut self, out: &mut Outbox) {
        let Phase::Waiting { ts, transfer } = self.phase else {
            return;
        };
        if self.queue.head() != Some((ts, self.id)) || !self.watermarks.all_peers_later_than(ts) {
            return;
        }
        let clock = self.clock();
        out.push(clock, OutputKind::Entered { ts });
        let block = match self
            .ledger
            .commit(ts, self.id, transfer.to, transfer.amount)
        {
            Ok(block) => {
                out.push(
                    clock,
                    OutputKind::Committed {
                        block: Arc::clone(&block),
                    },
                );
                Some(block)
            }
            Err(_) => {
                let balance = self.ledger.balance(self.id);
                out.push(
                    clock,
                    OutputKind::Aborted {
                        ts,
                        amount: transfer.amount,
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
        out.push(
            clock,
            OutputKind::SetTimer {
                after_us: self.cs_us,
                timer: Timer::LeaveCriticalSection,
            },
        );
    }

    /// Rule 5: leave, remove the own request, tick, tell every peer; then the next transfer.
    fn release(&mut self, out: &mut Outbox) {
        let Phase::Inside { ts, ref block, .. } = self.phase else {
            debug_assert!(false, "release timer fired outside the critical section");
            return;
        };
        let block = block.clone();
        out.push(self.clock(), OutputKind::Exited { ts });
        self.queue.remove((ts, self.id));
        let clock = self.clock.tick();
        self.phase = Phase::Idle;
        self.broadcast(
            Message::Release {
                ts: clock,
                request_ts: ts,
                block,
            },
            out,
        );
        self.request_next(out);
    }

    /// Rule 6: verify a block that came with a RELEASE and append it. A block ahead of a gap
    /// waits until the blocks before it are in; a block behind the head is rejected.
    fn accept_block(&mut self, from: ClientId, block: &Arc<Block>, out: &mut Outbox) {
        if block.index > self.ledger.len() {
            self.held_back
                .insert(block.index, (from, Arc::clone(block)));
            return;
        }
        self.append_block(from, block, out);
        while let Some(entry) = self.held_back.first_entry() {
            if *entry.key() > self.ledger.len() {
                break;
            }
            let (from, block) = entry.remove();
            self.append_block(from, &block, out);
        }
    }

    fn append_block(&mut self, from: ClientId, block: &Arc<Block>, out: &mut Outbox) {
        let clock = self.clock();
        match self.ledger.append(Arc::clone(block)) {
            Ok(()) => out.push(
                clock,
                OutputKind::Applied {
                    block: Arc::clone(block),
                },
            ),
            Err(reason) => out.push(
                clock,
                OutputKind::Rejected {
                    from,
                    block: Arc::clone(block),
                    reason,
                },
            ),
        }
    }

    fn broadcast(&self, msg: Message, out: &mut Outbox) {
        let clock = msg.ts();
        for peer in (1..=self.clients).filter(|&peer| peer != self.id) {
            out.push(
                clock,
                OutputKind::Send {
                    to: peer,
                    msg: msg.clone(),
                },
            );
        }
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
