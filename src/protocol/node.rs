//! The node boundary: what the simulator, the checker, the explanations and the tools need
//! from one client, whatever implements it. The built-in [`Client`] is one implementation; a
//! client in another program, spoken to over a pipe, is another.
//!
//! A node takes its inputs through the `handle_*` methods and pushes every effect into an
//! [`Outbox`], exactly as [`Client`] does. Besides, it reports its Lamport clock, the ledger
//! its commits and applies built (the ledger checks and the summary read it), and, when it
//! can, what it waits for.

#[cfg(test)]
pub(crate) mod bad_node;
mod rules;
mod wrapper;

use std::sync::Arc;

pub use rules::{HandledStep, broken_rule, changed_id, may_send, message_words, node_error};
pub(crate) use wrapper::{NodeWrapper, WrappedStep};

use super::client::Transfer;
use super::{
    Amount, Block, Client, ClientConfig, ClientId, Command, CommandError, Ledger, Message, Outbox,
    Phase, Timer, Timestamp, WaitReason,
};

/// One client as its driver sees it.
pub trait Node {
    fn id(&self) -> ClientId;

    /// The Lamport clock after the last step.
    fn clock(&self) -> Timestamp;

    /// A command from the user or the workload; an invalid one is refused before anything
    /// changes.
    fn handle_command(&mut self, command: Command, out: &mut Outbox) -> Result<(), CommandError>;

    /// A message from peer `from`. The first output is always [`super::OutputKind::Received`].
    fn handle_message(&mut self, from: ClientId, msg: &Message, out: &mut Outbox);

    /// A timer the node armed has fired.
    fn handle_timer(&mut self, timer: Timer, out: &mut Outbox);

    /// A crash and restart: volatile state is lost; the ledger survives with `keep_ledger`.
    fn restart(&mut self, keep_ledger: bool);

    /// The own ledger, as the node's commits and applies built it.
    fn ledger(&self) -> &Ledger;

    /// The own ledger, for the end of a run.
    fn into_ledger(self) -> Ledger;

    /// The block a `Committed` or `Applied` output of the last step names.
    fn output_block(&self, index: u64) -> &Arc<Block> {
        self.ledger()
            .block(index)
            .expect("a block committed or applied in the last step is in the own ledger")
    }

    /// The transfer holding or waiting for the mutex, if any.
    fn current_transfer(&self) -> Option<Transfer>;

    /// Transfers accepted and not yet requested.
    fn queued_transfers(&self) -> usize;

    /// Why the node, if it asked for the mutex, has not finished yet; `None` when it does not
    /// wait for anyone or cannot say.
    fn wait_reason(&self) -> Option<WaitReason> {
        None
    }

    /// Lets the node forget ledger blocks below `index` (see
    /// [`Client::forget_blocks_before`]); a node may keep them.
    fn forget_blocks_before(&mut self, _index: u64) {}

    /// Makes room for `blocks` more blocks.
    fn reserve_blocks(&mut self, _blocks: usize) {}

    /// Why the node failed in its last step (it exited, broke the wire protocol, …), as one
    /// sentence; taken once. A node that fails produces no more outputs.
    fn take_failure(&mut self) -> Option<String> {
        None
    }

    /// The node for client `config.id` in its initial state, built afresh in-process, when
    /// the node can be (`None`, the default, when it cannot: a program's process). With it the
    /// simulator keeps no message logs and, at a violation, replays the run up to it with
    /// fresh nodes to explain the violation with the messages involved; without it the
    /// messages are logged from the start.
    fn fresh(_config: &ClientConfig, _initial_balances: Arc<[Amount]>) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

impl Node for Client {
    #[inline(always)]
    fn id(&self) -> ClientId {
        Client::id(self)
    }

    #[inline(always)]
    fn clock(&self) -> Timestamp {
        Client::clock(self)
    }

    #[inline(always)]
    fn handle_command(&mut self, command: Command, out: &mut Outbox) -> Result<(), CommandError> {
        Client::handle_command(self, command, out)
    }

    #[inline(always)]
    fn handle_message(&mut self, from: ClientId, msg: &Message, out: &mut Outbox) {
        Client::handle_message(self, from, msg, out);
    }

    #[inline(always)]
    fn handle_timer(&mut self, timer: Timer, out: &mut Outbox) {
        Client::handle_timer(self, timer, out);
    }

    fn restart(&mut self, keep_ledger: bool) {
        Client::restart(self, keep_ledger);
    }

    #[inline(always)]
    fn ledger(&self) -> &Ledger {
        Client::ledger(self)
    }

    fn into_ledger(self) -> Ledger {
        Client::into_ledger(self)
    }

    #[inline(always)]
    fn output_block(&self, index: u64) -> &Arc<Block> {
        Client::output_block(self, index)
    }

    fn current_transfer(&self) -> Option<Transfer> {
        match self.phase() {
            Phase::Idle => None,
            Phase::Waiting { transfer, .. } | Phase::Inside { transfer, .. } => Some(*transfer),
        }
    }

    fn queued_transfers(&self) -> usize {
        self.pending().len()
    }

    fn wait_reason(&self) -> Option<WaitReason> {
        Client::wait_reason(self)
    }

    #[inline(always)]
    fn forget_blocks_before(&mut self, index: u64) {
        Client::forget_blocks_before(self, index);
    }

    fn reserve_blocks(&mut self, blocks: usize) {
        Client::reserve_blocks(self, blocks);
    }

    fn fresh(config: &ClientConfig, initial_balances: Arc<[Amount]>) -> Option<Self> {
        Some(Client::new(config, initial_balances))
    }
}
