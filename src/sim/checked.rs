//! A client of the library user's own, held to the rules the driver builds on
//! ([`broken_rule`]; docs/nodes.md, "A client in Rust"): after every step its outputs are
//! checked, and a step that breaks a rule ends the run with one sentence naming the client,
//! the step and the output, where the driver would otherwise fail deep inside (an index out
//! of range, a block that is not there). The built-in clients and the node programs (whose
//! lines the wire reader checks) do not need it.

use crate::protocol::node::{
    HandledStep, NodeWrapper, WrappedStep, broken_rule, changed_id, node_error,
};
use crate::protocol::{ClientConfig, ClientId, Command, Node, Output};

/// A node whose outputs are checked after every step; see the module's comment. It is a
/// [`Node`] as a [`NodeWrapper`].
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

impl<N: Node> NodeWrapper for Checked<N> {
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

    fn wrap_fresh(node: N, config: &ClientConfig) -> Self {
        Checked::new(node, config.id, config.clients)
    }

    // Inlined so that each step's call builds its `HandledStep` directly.
    #[inline(always)]
    fn after_step(&mut self, step: WrappedStep<'_>, outputs: &[Output]) {
        let step = match step {
            WrappedStep::Command(command) => self.command_step(command),
            WrappedStep::Delivery { from, msg } => HandledStep::Delivery { from, msg },
            WrappedStep::Timer => HandledStep::Timer,
            WrappedStep::Restart { keep_ledger } => HandledStep::Restart { keep_ledger },
        };
        self.check(step, outputs);
    }

    /// The first failure of a step, which [`Self::check`] took from the node or found.
    fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }
}
