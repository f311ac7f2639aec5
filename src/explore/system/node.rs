//! What the explorer needs from a client state beyond [`Node`]: a hash that agrees with its
//! `Eq`, whether it is inside the critical section, whether it has work left, and whether a
//! step is one the explorer can follow (see `misstep`). The built-in [`Client`] answers from
//! its own fields and is not checked (the fast path); any other node that can be cloned,
//! compared and hashed is explored as a [`Tracked`] node, which follows the critical section
//! through the node's `Entered` and `Exited` outputs, as the checker does.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rustc_hash::FxHasher;

use super::config::SystemConfig;
use super::misstep;

use crate::protocol::{
    Amount, Client, ClientConfig, ClientId, Command, CommandError, Ledger, Message, Node, Outbox,
    OutputKind, Phase, Timer, Timestamp, Transfer, WaitReason,
};

/// A client state the explorer can intern: compared by `Eq`, hashed by
/// [`Self::state_hash`], and shared between the search's threads.
pub trait ExploredNode: Node + Clone + Eq + Send + Sync + 'static {
    /// A hash of the whole state: equal states (by `Eq`) hash equal. `clients` is how many
    /// clients the system has.
    fn state_hash(&self, clients: u32) -> u64;

    /// The timestamp of the request whose critical section the node is inside, if it is.
    fn inside(&self) -> Option<Timestamp>;

    /// Has a transfer it has not finished (waiting for the mutex, inside, or queued).
    fn has_work(&self) -> bool {
        self.current_transfer().is_some() || self.queued_transfers() > 0
    }

    /// The sentence of what the explorer cannot follow in the step from `before` to `self`
    /// (the input `input` of the step tables; `delivered`: the message of a delivery) with
    /// `outbox`, if anything; then the outputs the search cannot take are left out of
    /// `outbox` (see `misstep`).
    fn misstep(
        &mut self,
        before: &Self,
        input: u32,
        delivered: Option<&Message>,
        outbox: &mut Outbox,
        config: &SystemConfig,
    ) -> Option<String> {
        misstep::check(config, before, self, input, delivered, outbox)
    }
}

impl ExploredNode for Client {
    /// The built-in client's steps are well formed by construction: not checked.
    #[inline(always)]
    fn misstep(
        &mut self,
        _before: &Self,
        _input: u32,
        _delivered: Option<&Message>,
        _outbox: &mut Outbox,
        _config: &SystemConfig,
    ) -> Option<String> {
        None
    }

    /// From a few of its parts: equal clients (the derived `Eq`: every field) have equal
    /// parts, so equal hashes; the interner compares whole clients to tell apart the rare
    /// different clients with equal parts. Much cheaper than the derived `Hash`, which walks
    /// every block of the ledger.
    fn state_hash(&self, clients: u32) -> u64 {
        let mut hasher = FxHasher::default();
        hasher.write_u32(self.id().get());
        hasher.write_u64(Client::clock(self));
        match self.phase() {
            Phase::Idle => hasher.write_u8(0),
            Phase::Waiting { ts, .. } => hasher.write_u64(ts << 2 | 1),
            Phase::Inside { ts, .. } => hasher.write_u64(ts << 2 | 2),
        }
        hasher.write_usize(self.queue().len());
        for (ts, id) in self.queue().iter() {
            hasher.write_u64(ts << 8 ^ u64::from(id.get()));
        }
        hasher.write_u64(Client::ledger(self).len());
        hasher.write(&Client::ledger(self).head_hash()[..8]);
        hasher.write_usize(self.pending().len());
        hasher.write_usize(self.held_back().len());
        for peer in ClientId::all(clients) {
            hasher.write_u64(self.largest_seen(peer));
        }
        hasher.finish()
    }

    fn inside(&self) -> Option<Timestamp> {
        match self.phase() {
            Phase::Inside { ts, .. } => Some(*ts),
            _ => None,
        }
    }

    fn has_work(&self) -> bool {
        *self.phase() != Phase::Idle || self.pending().len() > 0
    }
}

/// A node of another implementation with the critical section it is in, as its outputs say:
/// inside from an `Entered` output to the next `Exited` one, and out after a restart. The
/// explorer's state of such a client is the pair, so two states of the node that the outputs
/// leave on different sides of the critical section stay apart.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tracked<N> {
    pub node: N,
    pub inside: Option<Timestamp>,
}

impl<N> Tracked<N> {
    pub fn new(node: N) -> Self {
        Tracked { node, inside: None }
    }

    /// Follows the critical section through the outputs from `from` on.
    fn follow(&mut self, out: &Outbox, from: usize) {
        for output in &out.as_slice()[from..] {
            match output.kind {
                OutputKind::Entered { ts } => self.inside = Some(ts),
                OutputKind::Exited { .. } => self.inside = None,
                _ => {}
            }
        }
    }
}

impl<N: Node + Clone + Eq + Hash + Send + Sync + 'static> ExploredNode for Tracked<N> {
    fn state_hash(&self, _clients: u32) -> u64 {
        let mut hasher = FxHasher::default();
        self.hash(&mut hasher);
        hasher.finish()
    }

    fn inside(&self) -> Option<Timestamp> {
        self.inside
    }
}

impl<N: Node> Node for Tracked<N> {
    fn id(&self) -> ClientId {
        self.node.id()
    }

    fn clock(&self) -> Timestamp {
        self.node.clock()
    }

    fn handle_command(&mut self, command: Command, out: &mut Outbox) -> Result<(), CommandError> {
        let from = out.as_slice().len();
        let result = self.node.handle_command(command, out);
        self.follow(out, from);
        result
    }

    fn handle_message(&mut self, from: ClientId, msg: &Message, out: &mut Outbox) {
        let start = out.as_slice().len();
        self.node.handle_message(from, msg, out);
        self.follow(out, start);
    }

    fn handle_timer(&mut self, timer: Timer, out: &mut Outbox) {
        let from = out.as_slice().len();
        self.node.handle_timer(timer, out);
        self.follow(out, from);
    }

    fn restart(&mut self, keep_ledger: bool) {
        self.node.restart(keep_ledger);
        self.inside = None;
    }

    fn ledger(&self) -> &Ledger {
        self.node.ledger()
    }

    fn into_ledger(self) -> Ledger {
        self.node.into_ledger()
    }

    fn output_block(&self, index: u64) -> &std::sync::Arc<crate::protocol::Block> {
        self.node.output_block(index)
    }

    fn current_transfer(&self) -> Option<Transfer> {
        self.node.current_transfer()
    }

    fn queued_transfers(&self) -> usize {
        self.node.queued_transfers()
    }

    fn wait_reason(&self) -> Option<WaitReason> {
        self.node.wait_reason()
    }

    fn forget_blocks_before(&mut self, index: u64) {
        self.node.forget_blocks_before(index);
    }

    fn reserve_blocks(&mut self, blocks: usize) {
        self.node.reserve_blocks(blocks);
    }

    fn take_failure(&mut self) -> Option<String> {
        self.node.take_failure()
    }

    fn fresh(config: &ClientConfig, initial_balances: Arc<[Amount]>) -> Option<Self> {
        N::fresh(config, initial_balances).map(Tracked::new)
    }
}
