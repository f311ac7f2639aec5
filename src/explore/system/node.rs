//! What the explorer needs from a client state beyond [`Node`]: a hash that agrees with its
//! `Eq`, whether it is inside the critical section, whether it has work left, and whether a
//! step is one the explorer can follow (see `misstep`). The built-in [`Client`] answers from
//! its own fields and is not checked (the fast path); any other node that can be cloned,
//! compared and hashed is explored as a [`Tracked`] node, which follows the critical section
//! through the node's `Entered` and `Exited` outputs, as the checker does.

use std::hash::{Hash, Hasher};

use rustc_hash::FxHasher;

use super::config::SystemConfig;
use super::misstep;

use crate::protocol::node::{NodeWrapper, WrappedStep};
use crate::protocol::{
    Client, ClientConfig, ClientId, Message, Node, Outbox, Output, OutputKind, Phase, Timestamp,
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
/// leave on different sides of the critical section stay apart. It is a [`Node`] as a
/// [`NodeWrapper`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tracked<N> {
    pub node: N,
    pub inside: Option<Timestamp>,
}

impl<N> Tracked<N> {
    pub fn new(node: N) -> Self {
        Tracked { node, inside: None }
    }

    /// Follows the critical section through a step's outputs.
    fn follow(&mut self, outputs: &[Output]) {
        for output in outputs {
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

impl<N: Node> NodeWrapper for Tracked<N> {
    type Inner = N;

    fn inner(&self) -> &N {
        &self.node
    }

    fn inner_mut(&mut self) -> &mut N {
        &mut self.node
    }

    fn into_inner(self) -> N {
        self.node
    }

    fn wrap_fresh(node: N, _config: &ClientConfig) -> Self {
        Tracked::new(node)
    }

    fn after_step(&mut self, step: WrappedStep<'_>, outputs: &[Output]) {
        match step {
            WrappedStep::Restart { .. } => self.inside = None,
            _ => self.follow(outputs),
        }
    }
}
