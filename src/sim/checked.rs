//! A client of the library user's own, held to the rules the driver builds on
//! ([`broken_rule`]; docs/nodes.md, "A client in Rust"): after every step its outputs are
//! checked, and a step that breaks a rule ends the run with one sentence naming the client,
//! the step and the output, where the driver would otherwise fail deep inside (an index out
//! of range, a block that is not there). The built-in clients and the node programs (whose
//! lines the wire reader checks) do not need it.

use std::sync::Arc;

use crate::protocol::node::{HandledStep, broken_rule, changed_id, node_error};
use crate::protocol::{
    Amount, Block, ClientConfig, ClientId, Command, CommandError, Ledger, Message, Node, Outbox,
    Output, Timer, Timestamp, Transfer, WaitReason,
};

/// A node whose outputs are checked after every step; see the module's comment.
pub(super) struct Checked<N> {
    node: N,
    /// The client the node was made for.
    id: ClientId,
    /// The scenario's number of clients: the ids a message may go to.
    clients: u32,
    /// Transfer commands handled so far, to number the next in a sentence.
    transfers: usize,
    failure: Option<String>,
}

/// Why the nodes given to a run cannot play its clients: one too few or too many, or one
/// made for another client than its place says.
pub(super) fn misfit<N: Node>(nodes: &[N], clients: u32) -> Option<String> {
    if nodes.len() != clients as usize {
        return Some(format!(
            "the run was given {} nodes for the scenario's {clients} clients",
            nodes.len()
        ));
    }
    nodes.iter().enumerate().find_map(|(slot, node)| {
        let made_for = ClientId::from_index(slot);
        (node.id() != made_for).then(|| {
            format!(
                "the node made for client {made_for} says its id is {}",
                node.id()
            )
        })
    })
}

impl<N: Node> Checked<N> {
    /// `node`, made for client `id` of `clients` ([`misfit`] checks the ids first).
    pub(super) fn new(node: N, id: ClientId, clients: u32) -> Self {
        Checked {
            node,
            id,
            clients,
            transfers: 0,
            failure: None,
        }
    }

    pub(super) fn into_inner(self) -> N {
        self.node
    }

    /// Checks the step's outputs; its first failure becomes the node's: one the node reports
    /// itself, a change of id, or a rule broken ([`broken_rule`]).
    fn check(&mut self, step: HandledStep<'_>, outputs: &[Output]) {
        if self.failure.is_some() {
            return;
        }
        let clause = match self.node.take_failure() {
            Some(failure) => Some(format!("failed: {failure}")),
            None => changed_id(self.id, self.node.id()).or_else(|| {
                let (delivered_from, ledger) = (step.delivered_from(), self.node.ledger());
                broken_rule(self.id, self.clients, delivered_from, outputs, ledger)
            }),
        };
        self.failure = clause.map(|clause| node_error(self.id, step, &clause));
    }

    /// Runs a step and checks what it added to the outbox.
    fn step(
        &mut self,
        step: HandledStep<'_>,
        out: &mut Outbox,
        run: impl FnOnce(&mut N, &mut Outbox),
    ) {
        let first = out.as_slice().len();
        run(&mut self.node, out);
        self.check(step, &out.as_slice()[first..]);
    }

    /// The step a command is, for a sentence.
    fn command_step(&mut self, command: Command) -> HandledStep<'static> {
        match command {
            Command::Transfer { to, amount } => {
                self.transfers += 1;
                HandledStep::Transfer {
                    number: self.transfers,
                    to,
                    amount,
                }
            }
            Command::ReadBalance { of } => HandledStep::BalanceRead { of },
        }
    }
}

impl<N: Node> Node for Checked<N> {
    fn id(&self) -> ClientId {
        self.node.id()
    }

    fn clock(&self) -> Timestamp {
        self.node.clock()
    }

    fn handle_command(&mut self, command: Command, out: &mut Outbox) -> Result<(), CommandError> {
        let mut result = Ok(());
        let step = self.command_step(command);
        self.step(step, out, |node, out| {
            result = node.handle_command(command, out);
        });
        result
    }

    fn handle_message(&mut self, from: ClientId, msg: &Message, out: &mut Outbox) {
        let step = HandledStep::Delivery { from, msg };
        self.step(step, out, |node, out| node.handle_message(from, msg, out));
    }

    fn handle_timer(&mut self, timer: Timer, out: &mut Outbox) {
        self.step(HandledStep::Timer, out, |node, out| {
            node.handle_timer(timer, out);
        });
    }

    fn restart(&mut self, keep_ledger: bool) {
        self.node.restart(keep_ledger);
        self.check(HandledStep::Restart { keep_ledger }, &[]);
    }

    fn ledger(&self) -> &Ledger {
        self.node.ledger()
    }

    fn into_ledger(self) -> Ledger {
        self.node.into_ledger()
    }

    fn output_block(&self, index: u64) -> &Arc<Block> {
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
        self.failure.take()
    }

    fn fresh(config: &ClientConfig, initial_balances: Arc<[Amount]>) -> Option<Self> {
        N::fresh(config, initial_balances).map(|node| Checked::new(node, config.id, config.clients))
    }
}
