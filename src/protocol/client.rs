//! The client state machine: commands and messages in, outputs into an [`Outbox`].
//!
//! It follows docs/spec.md section 1. Choices the contract (docs/spec.md) leaves open,
//! documented in `docs/protocol.md`:
//! - a REPLY is part of the receive step that handles the REQUEST: it carries the clock value
//!   of that step and does not raise the clock again;
//! - the messages of one broadcast (REQUEST, RELEASE) share the clock of the step that sent
//!   them; leaving the critical section is that step for RELEASE, so the `exit` event carries
//!   the clock after the tick;
//! - a block that arrives ahead of a gap (its index is past the own ledger length, because
//!   RELEASEs from different senders travel on different links and may arrive out of order) is
//!   held back and appended, with rule 6's checks, as soon as the blocks before it are in.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::mutex::{PeerTimestamps, PeerWatermarks};
use super::{
    Amount, Block, ClientId, HashRule, LamportClock, Ledger, Message, Mutation, Mutations, Outbox,
    OutputKind, RequestId, RequestQueue, Timer, Timestamp, Variant,
};

/// What a client needs to know about its setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    pub id: ClientId,
    /// N: the clients are `1..=N`.
    pub clients: u32,
    /// How long the client stays in the critical section, in microseconds.
    pub cs_us: u64,
    pub variant: Variant,
    pub mutations: Mutations,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            id: ClientId::new(1),
            clients: 1,
            cs_us: 1000,
            variant: Variant::Lamport,
            mutations: Mutations::none(),
        }
    }
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

/// A transfer waiting for, or holding, the mutex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Transfer {
    pub to: ClientId,
    pub amount: Amount,
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

/// Why a client that asked for the mutex has not finished yet (for liveness reports).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WaitReason {
    /// The own request.
    pub request: RequestId,
    /// Rule 5(i): the request ahead of the own one in the own queue, if any.
    pub queued_behind: Option<RequestId>,
    /// Rule 5(ii): the peers that have sent nothing later than the own request, with the
    /// largest timestamp seen from each (variants that enter by rule 5(ii)).
    pub silent_peers: Vec<(ClientId, Timestamp)>,
    /// The peers whose REPLY has not been counted (variants that count replies).
    pub missing_replies: Vec<ClientId>,
    /// `update-ack`, inside the critical section: the peers whose UPDATED is missing.
    pub missing_acks: Vec<ClientId>,
}

/// Messages of one kind counted per peer for the current request: how many arrived (a
/// duplicate counts again, as in the classroom versions this models) and from whom.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct PeerTally {
    messages: u32,
    /// Index `id - 1`; empty for variants that never count.
    heard_from: Vec<bool>,
}

impl PeerTally {
    fn new(clients: u32, needed: bool) -> Self {
        PeerTally {
            messages: 0,
            heard_from: if needed {
                vec![false; clients as usize]
            } else {
                Vec::new()
            },
        }
    }

    fn reset(&mut self) {
        self.messages = 0;
        self.heard_from.iter_mut().for_each(|heard| *heard = false);
    }

    fn record(&mut self, peer: ClientId) {
        self.messages += 1;
        if let Some(heard) = self.heard_from.get_mut(peer.index()) {
            *heard = true;
        }
    }

    fn missing(&self, own_id: ClientId) -> Vec<ClientId> {
        (0..self.heard_from.len())
            .map(ClientId::from_index)
            .filter(|&peer| peer != own_id && !self.heard_from[peer.index()])
            .collect()
    }
}

/// One client: clock, request queue, ledger and the transfers it still has to make.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Client {
    id: ClientId,
    clients: u32,
    cs_us: u64,
    variant: Variant,
    mutations: Mutations,
    clock: LamportClock,
    queue: RequestQueue,
    watermarks: PeerWatermarks,
    ledger: Ledger,
    pending: VecDeque<Transfer>,
    phase: Phase,
    /// Blocks that arrived before the blocks preceding them: index -> (sender, block).
    held_back: BTreeMap<u64, (ClientId, Arc<Block>)>,
    /// Counting variants: the REPLY messages for the current request.
    replies: PeerTally,
    /// `update-ack`: the UPDATED messages for the block committed in the critical section.
    acks: PeerTally,
    /// `ricart-agrawala`: peers whose REQUEST waits for the own exit, in arrival order.
    deferred: Vec<ClientId>,
    /// Index `id - 1`: the latest request of that peer released so far (queue variants).
    served: PeerTimestamps,
    /// The critical section has lasted `cs_us` (`update-ack` may still wait for acks).
    cs_time_over: bool,
}

impl Client {
    /// A client with the given initial balance table (index `id - 1` is client `id`).
    pub fn new(config: &ClientConfig, initial_balances: impl Into<Arc<[Amount]>>) -> Self {
        let initial_balances = initial_balances.into();
        debug_assert_eq!(initial_balances.len(), config.clients as usize);
        let rule = if config.mutations.contains(Mutation::UnchainedHash) {
            HashRule::Unchained
        } else {
            HashRule::Chained
        };
        Client {
            id: config.id,
            clients: config.clients,
            cs_us: config.cs_us,
            variant: config.variant,
            mutations: config.mutations,
            clock: LamportClock::new(),
            queue: RequestQueue::new(),
            watermarks: PeerWatermarks::new(config.id, config.clients),
            ledger: Ledger::with_rule(initial_balances, rule),
            pending: VecDeque::new(),
            phase: Phase::Idle,
            held_back: BTreeMap::new(),
            replies: PeerTally::new(config.clients, config.variant.counts_replies()),
            acks: PeerTally::new(config.clients, config.variant == Variant::UpdateAck),
            deferred: Vec::new(),
            served: PeerTimestamps::new(config.clients),
            cs_time_over: false,
        }
    }

    /// A client holding `ledger`, as [`Client::restart`] with the ledger kept leaves it: a
    /// driver reports the final ledger of a node of another kind this way.
    pub fn with_ledger(config: &ClientConfig, ledger: Ledger) -> Self {
        let initial_balances = Arc::clone(ledger.table().initial());
        let mut client = Client::new(config, initial_balances);
        client.ledger = ledger;
        client
    }

    /// The settings this client was made with.
    pub fn config(&self) -> ClientConfig {
        ClientConfig {
            id: self.id,
            clients: self.clients,
            cs_us: self.cs_us,
            variant: self.variant,
            mutations: self.mutations,
        }
    }

    /// A crash and restart: everything volatile is lost (clock, queue, what was heard from
    /// peers, the outstanding request and pending transfers). With `keep_ledger` the ledger
    /// and balance table survive; without, the client starts over from the initial balances.
    pub fn restart(&mut self, keep_ledger: bool) {
        let initial_balances = Arc::clone(self.ledger.table().initial());
        let mut fresh = Client::new(&self.config(), initial_balances);
        if keep_ledger {
            std::mem::swap(&mut fresh.ledger, &mut self.ledger);
        }
        *self = fresh;
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

    /// The own ledger, keeping nothing else.
    pub fn into_ledger(self) -> Ledger {
        self.ledger
    }

    /// The block an [`OutputKind::Committed`] or [`OutputKind::Applied`] output names, read
    /// right after the step that made the output (the ledger holds it then).
    pub fn output_block(&self, index: u64) -> &Arc<Block> {
        self.ledger
            .block(index)
            .expect("a block committed or applied in the last step is in the own ledger")
    }

    /// Forgets the ledger's blocks below `index`, keeping its length, head and balances. The
    /// client looks an old block up only when a block with that index arrives (to tell a
    /// duplicate from a conflicting block), so a driver may call this once no block below
    /// `index` can reach the client any more; a block that did would be rejected as out of
    /// place instead of ignored as a duplicate.
    pub fn forget_blocks_before(&mut self, index: u64) {
        self.ledger.forget_before(index);
    }

    /// Makes room in the ledger for `blocks` more blocks (a driver that knows how many
    /// transfers are coming saves the ledger growing step by step).
    pub fn reserve_blocks(&mut self, blocks: usize) {
        self.ledger.reserve(blocks);
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
            if id.is_among(self.clients) {
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

    /// A message from peer `from`: the clock update, the message's own rule, then the entry
    /// check.
    pub fn handle_message(&mut self, from: ClientId, msg: &Message, out: &mut Outbox) {
        let clock = if self.mutations.contains(Mutation::ReceiveClockNoMax) {
            self.clock.tick()
        } else {
            self.clock.receive(msg.ts())
        };
        out.push(clock, OutputKind::Received { from });
        self.watermarks.observe(from, msg.ts());
        match msg {
            Message::Request { ts } => self.on_request(from, *ts, clock, out),
            Message::Reply { .. } => {
                if self.variant.counts_replies() && matches!(self.phase, Phase::Waiting { .. }) {
                    self.replies.record(from);
                }
            }
            Message::Release {
                request_ts, block, ..
            } => {
                if self.mutations.contains(Mutation::ReleasePopsHead) {
                    self.queue.pop_head();
                } else {
                    self.queue.remove((*request_ts, from));
                }
                let served = self.served.get(from).max(*request_ts);
                self.served.set(from, served);
                if let Some(block) = block {
                    self.accept_block(from, block, out);
                }
            }
            Message::Update { block, .. } => {
                self.accept_block(from, block, out);
                if self.variant == Variant::UpdateAck {
                    out.push(
                        clock,
                        OutputKind::Send {
                            to: from,
                            msg: Message::Updated { ts: clock },
                        },
                    );
                }
            }
            Message::Updated { .. } => {
                if self.variant == Variant::UpdateAck && matches!(self.phase, Phase::Inside { .. })
                {
                    self.acks.record(from);
                    self.leave_if_done(out);
                }
            }
            // Another program's message means nothing to the built-in client.
            Message::Foreign(_) => {}
        }
        self.try_enter(out);
    }

    /// A timer armed through [`OutputKind::SetTimer`] fired.
    pub fn handle_timer(&mut self, timer: Timer, out: &mut Outbox) {
        match timer {
            Timer::LeaveCriticalSection => {
                if matches!(self.phase, Phase::Inside { .. }) {
                    self.cs_time_over = true;
                    self.leave_if_done(out);
                }
            }
        }
    }

    /// Why the client, if it asked for the mutex, has not finished yet.
    pub fn wait_reason(&self) -> Option<WaitReason> {
        match self.phase {
            Phase::Idle => None,
            Phase::Waiting { ts, .. } => {
                let request = (ts, self.id);
                let queued_behind = if self.variant.uses_queue() {
                    self.queue.head().filter(|&head| head != request)
                } else {
                    None
                };
                let (silent_peers, missing_replies) = if self.variant.counts_replies() {
                    (Vec::new(), self.replies.missing(self.id))
                } else {
                    let silent = self
                        .watermarks
                        .peers_not_later_than(ts)
                        .map(|peer| (peer, self.watermarks.largest_seen(peer)))
                        .collect();
                    (silent, Vec::new())
                };
                Some(WaitReason {
                    request,
                    queued_behind,
                    silent_peers,
                    missing_replies,
                    missing_acks: Vec::new(),
                })
            }
            Phase::Inside { ts, ref block, .. } => {
                let missing_acks = if self.variant == Variant::UpdateAck && block.is_some() {
                    self.acks.missing(self.id)
                } else {
                    Vec::new()
                };
                // Inside and not waiting for anyone: the timer will end the critical section.
                (!missing_acks.is_empty()).then(|| WaitReason {
                    request: (ts, self.id),
                    missing_acks,
                    ..WaitReason::default()
                })
            }
        }
    }

    /// Rule 2 (and Ricart-Agrawala's deferral).
    fn on_request(&mut self, from: ClientId, ts: Timestamp, clock: Timestamp, out: &mut Outbox) {
        if self.variant == Variant::RicartAgrawala && self.defers(from, ts) {
            self.deferred.push(from);
            return;
        }
        // A REQUEST no later than the peer's last released request is a duplicate (or a
        // straggler its own RELEASE overtook): queueing it again would block everyone behind
        // it for ever, so it only gets the REPLY that rule 2 always sends.
        if self.variant.uses_queue() && ts > self.served.get(from) {
            self.queue.insert((ts, from));
        }
        out.push(
            clock,
            OutputKind::Send {
                to: from,
                msg: Message::Reply { ts: clock },
            },
        );
    }

    /// Ricart-Agrawala: defer a request while inside, or while the own request has priority.
    fn defers(&self, from: ClientId, ts: Timestamp) -> bool {
        match self.phase {
            Phase::Idle => false,
            Phase::Inside { .. } => true,
            Phase::Waiting { ts: own_ts, .. } => {
                if self.mutations.contains(Mutation::TiebreakTimestampOnly) {
                    own_ts < ts
                } else {
                    (own_ts, self.id) < (ts, from)
                }
            }
        }
    }

    /// Rule 1: ask for the mutex for the next pending transfer, if any.
    fn request_next(&mut self, out: &mut Outbox) {
        debug_assert_eq!(self.phase, Phase::Idle);
        let Some(transfer) = self.pending.pop_front() else {
            return;
        };
        let ts = self.clock.tick();
        if self.variant.uses_queue() {
            self.queue.insert((ts, self.id));
        }
        self.replies.reset();
        self.phase = Phase::Waiting { ts, transfer };
        out.push(ts, OutputKind::Requested { ts });
        self.broadcast(Message::Request { ts }, out);
        self.try_enter(out);
    }

    /// Rule 5(i): does the own request head the own queue?
    fn heads_queue(&self, ts: Timestamp) -> bool {
        if !self.variant.uses_queue() {
            return true;
        }
        match self.queue.head() {
            None => false,
            // The bug: a request with an equal timestamp is not "ahead", whatever its id.
            Some((head_ts, _)) if self.mutations.contains(Mutation::TiebreakTimestampOnly) => {
                head_ts == ts
            }
            Some(head) => head == (ts, self.id),
        }
    }

    /// The entry condition of the variant in force.
    fn may_enter(&mut self, ts: Timestamp) -> bool {
        if !self.heads_queue(ts) {
            return false;
        }
        if self.variant.counts_replies() {
            self.replies.messages + 1 >= self.clients
        } else {
            self.watermarks.all_peers_later_than(ts)
        }
    }

    /// Rules 3 and 4: enter when the entry condition holds; then commit or abort. Inline up
    /// to the phase: every message ends with this, and most find the client not waiting.
    #[inline]
    fn try_enter(&mut self, out: &mut Outbox) {
        if let Phase::Waiting { ts, transfer } = self.phase {
            self.enter_if_allowed(ts, transfer, out);
        }
    }

    #[inline(never)]
    fn enter_if_allowed(&mut self, ts: Timestamp, transfer: Transfer, out: &mut Outbox) {
        if !self.may_enter(ts) {
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
                        index: block.index(),
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
        if self.variant == Variant::UpdateAck {
            self.acks.reset();
            if let Some(block) = &block {
                self.broadcast(
                    Message::Update {
                        ts: clock,
                        block: Arc::clone(block),
                    },
                    out,
                );
            }
        }
        self.phase = Phase::Inside {
            ts,
            transfer,
            block,
        };
        self.cs_time_over = false;
        out.push(
            clock,
            OutputKind::SetTimer {
                after_us: self.cs_us,
                timer: Timer::LeaveCriticalSection,
            },
        );
    }

    /// Leaves once the critical section has lasted `cs_us` and, under `update-ack`, every
    /// peer has acknowledged the block.
    fn leave_if_done(&mut self, out: &mut Outbox) {
        let Phase::Inside { ref block, .. } = self.phase else {
            return;
        };
        let acked = self.variant != Variant::UpdateAck
            || block.is_none()
            || self.acks.messages + 1 >= self.clients;
        if self.cs_time_over && acked {
            self.release(out);
        }
    }

    /// Rule 5 (or Ricart-Agrawala's exit): leave, tell the peers, then the next transfer.
    fn release(&mut self, out: &mut Outbox) {
        if !matches!(self.phase, Phase::Inside { .. }) {
            debug_assert!(false, "release outside the critical section");
            return;
        }
        // The block moves out of the phase rather than being copied and the copy dropped.
        let Phase::Inside { ts, block, .. } = std::mem::replace(&mut self.phase, Phase::Idle)
        else {
            unreachable!("the phase was just matched");
        };
        self.queue.remove((ts, self.id));
        // The exit is the step that ticks (rule 5), so it carries the new clock, which the
        // release messages share: every clock change has an event.
        let clock = self.clock.tick();
        out.push(clock, OutputKind::Exited { ts });
        match self.variant {
            Variant::Lamport | Variant::LamportReplyCount => {
                self.broadcast(
                    Message::Release {
                        ts: clock,
                        request_ts: ts,
                        block,
                    },
                    out,
                );
            }
            // The block already went out as an UPDATE.
            Variant::UpdateAck => {
                self.broadcast(
                    Message::Release {
                        ts: clock,
                        request_ts: ts,
                        block: None,
                    },
                    out,
                );
            }
            Variant::RicartAgrawala => {
                if let Some(block) = block {
                    self.broadcast(Message::Update { ts: clock, block }, out);
                }
                for peer in std::mem::take(&mut self.deferred) {
                    out.push(
                        clock,
                        OutputKind::Send {
                            to: peer,
                            msg: Message::Reply { ts: clock },
                        },
                    );
                }
            }
        }
        self.request_next(out);
    }

    /// Rule 6: verify a block that came with a RELEASE (or UPDATE) and append it. A block
    /// ahead of a gap waits until the blocks before it are in; a block behind the head is
    /// rejected.
    fn accept_block(&mut self, from: ClientId, block: &Arc<Block>, out: &mut Outbox) {
        let (index, hash) = (block.index(), block.hash_value());
        let already_have = self
            .ledger
            .block(index)
            .is_some_and(|own| own.hash_value() == hash);
        if already_have {
            // A duplicate of a block already appended: nothing to do.
            return;
        }
        if index > self.ledger.len() {
            self.held_back.insert(index, (from, Arc::clone(block)));
            return;
        }
        self.append_block(from, Arc::clone(block), out);
        while let Some(entry) = self.held_back.first_entry() {
            if *entry.key() > self.ledger.len() {
                break;
            }
            let (from, block) = entry.remove();
            self.append_block(from, block, out);
        }
    }

    fn append_block(&mut self, from: ClientId, block: Arc<Block>, out: &mut Outbox) {
        let clock = self.clock();
        let index = block.index();
        match self.ledger.try_append(block) {
            Ok(()) => out.push(clock, OutputKind::Applied { index }),
            Err((reason, block)) => out.push(
                clock,
                OutputKind::Rejected {
                    from,
                    block,
                    reason: Box::new(reason),
                },
            ),
        }
    }

    /// One send per peer, in id order. The last peer gets `msg` itself, the others copies: a
    /// RELEASE's block is counted once fewer up and down (atomic operations, which show).
    fn broadcast(&self, msg: Message, out: &mut Outbox) {
        let clock = msg.ts();
        let last = if self.id.get() == self.clients {
            self.clients - 1
        } else {
            self.clients
        };
        for peer in (1..last).map(ClientId::new).filter(|&peer| peer != self.id) {
            out.push(
                clock,
                OutputKind::Send {
                    to: peer,
                    msg: msg.clone(),
                },
            );
        }
        if last >= 1 {
            out.push(
                clock,
                OutputKind::Send {
                    to: ClientId::new(last),
                    msg,
                },
            );
        }
    }
}

#[cfg(test)]
#[path = "client_tests/mod.rs"]
mod tests;
