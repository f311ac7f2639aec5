//! One way to write a node that wraps another: the wrapper names its inner node and says what
//! it does after each step ([`NodeWrapper`]); the blanket `impl Node` below forwards every
//! [`Node`] method to the inner node and calls the wrapper's hook after the three step methods
//! and a restart, so no wrapper forwards the methods by hand and none forgets one (a method
//! left to `Node`'s default would hide an override of the inner node's, such as a faster
//! `output_block`).
//!
//! Coherence accepts the blanket impl next to the nodes that implement [`Node`] themselves:
//! the trait is the crate's own, so no other crate can implement it, and a type with its own
//! `impl Node` (the built-in client, a user's node) does not implement it.

use std::sync::Arc;

use super::Node;
use crate::protocol::client::Transfer;
use crate::protocol::{
    Amount, Block, ClientConfig, ClientId, Command, CommandError, Ledger, Message, Outbox, Output,
    Timer, Timestamp, WaitReason,
};

/// The step the inner node has just taken, as its wrapper's hook sees it.
#[derive(Clone, Copy)]
pub(crate) enum WrappedStep<'m> {
    Command(Command),
    Delivery {
        from: ClientId,
        msg: &'m Message,
    },
    /// A timer the node armed has fired.
    Timer,
    /// A crash and restart ([`Node::restart`]); it has no outputs.
    Restart {
        keep_ledger: bool,
    },
}

/// A node that holds another and watches its steps; it is a [`Node`] through the blanket
/// impl, which forwards every method to [`Self::inner`] (see the module's comment).
pub(crate) trait NodeWrapper {
    type Inner: Node;

    fn inner(&self) -> &Self::Inner;

    fn inner_mut(&mut self) -> &mut Self::Inner;

    fn into_inner(self) -> Self::Inner;

    /// The wrapper of `inner`, a node made afresh for client `config.id` ([`Node::fresh`]).
    fn wrap_fresh(inner: Self::Inner, config: &ClientConfig) -> Self;

    /// Called after the inner node took `step`, with the outputs the step added to the
    /// outbox (none for a restart). A command the node refused is a step too.
    fn after_step(&mut self, step: WrappedStep<'_>, outputs: &[Output]);

    /// [`Node::take_failure`]: the inner node's, unless the wrapper has failures of its own.
    fn take_failure(&mut self) -> Option<String> {
        self.inner_mut().take_failure()
    }
}

// Hidden: the documentation of `Node` is the user's, and the user can name no `NodeWrapper`.
#[doc(hidden)]
impl<W: NodeWrapper> Node for W {
    fn id(&self) -> ClientId {
        self.inner().id()
    }

    fn clock(&self) -> Timestamp {
        self.inner().clock()
    }

    fn handle_command(&mut self, command: Command, out: &mut Outbox) -> Result<(), CommandError> {
        let first = out.as_slice().len();
        let result = self.inner_mut().handle_command(command, out);
        self.after_step(WrappedStep::Command(command), &out.as_slice()[first..]);
        result
    }

    fn handle_message(&mut self, from: ClientId, msg: &Message, out: &mut Outbox) {
        let first = out.as_slice().len();
        self.inner_mut().handle_message(from, msg, out);
        self.after_step(
            WrappedStep::Delivery { from, msg },
            &out.as_slice()[first..],
        );
    }

    fn handle_timer(&mut self, timer: Timer, out: &mut Outbox) {
        let first = out.as_slice().len();
        self.inner_mut().handle_timer(timer, out);
        self.after_step(WrappedStep::Timer, &out.as_slice()[first..]);
    }

    fn restart(&mut self, keep_ledger: bool) {
        self.inner_mut().restart(keep_ledger);
        self.after_step(WrappedStep::Restart { keep_ledger }, &[]);
    }

    fn ledger(&self) -> &Ledger {
        self.inner().ledger()
    }

    fn into_ledger(self) -> Ledger {
        self.into_inner().into_ledger()
    }

    fn output_block(&self, index: u64) -> &Arc<Block> {
        self.inner().output_block(index)
    }

    fn current_transfer(&self) -> Option<Transfer> {
        self.inner().current_transfer()
    }

    fn queued_transfers(&self) -> usize {
        self.inner().queued_transfers()
    }

    fn wait_reason(&self) -> Option<WaitReason> {
        self.inner().wait_reason()
    }

    fn forget_blocks_before(&mut self, index: u64) {
        self.inner_mut().forget_blocks_before(index);
    }

    fn reserve_blocks(&mut self, blocks: usize) {
        self.inner_mut().reserve_blocks(blocks);
    }

    fn take_failure(&mut self) -> Option<String> {
        NodeWrapper::take_failure(self)
    }

    fn fresh(config: &ClientConfig, initial_balances: Arc<[Amount]>) -> Option<Self> {
        W::Inner::fresh(config, initial_balances).map(|inner| W::wrap_fresh(inner, config))
    }
}
