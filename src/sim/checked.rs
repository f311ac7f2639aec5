//! A client of the library user's own, held to the rules the driver builds on
//! ([`broken_rule`]; docs/nodes.md, "A client in Rust"): after every step its outputs are
//! checked, and a step that breaks a rule ends the run with one sentence naming the client,
//! the step and the output, where the driver would otherwise fail deep inside (an index out
//! of range, a block that is not there).
//! The built-in clients and the node programs (whose lines the wire reader checks) do not
//! need it.

use std::fmt;
use std::sync::Arc;

use crate::protocol::node::{broken_rule, message_words};
use crate::protocol::{
    Amount, Block, ClientConfig, ClientId, Command, CommandError, Ledger, Message, Node, Outbox,
    Output, Timer, Timestamp, Transfer, WaitReason,
};

/// A node whose outputs are checked after every step; see the module's comment.
pub(super) struct Checked<N> {
    node: N,
    /// The scenario's number of clients: the ids a message may go to.
    clients: u32,
    failure: Option<String>,
}

/// The step a node was taking, for the sentence.
#[derive(Clone, Copy)]
enum Step<'m> {
    Command(Command),
    Delivery { from: ClientId, msg: &'m Message },
    Timer,
}

impl Step<'_> {
    fn delivered_from(self) -> Option<ClientId> {
        match self {
            Step::Delivery { from, .. } => Some(from),
            _ => None,
        }
    }
}

impl fmt::Display for Step<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Command(Command::Transfer { to, amount }) => {
                write!(f, "the command to pay {amount} to client {to}")
            }
            Step::Command(Command::ReadBalance { of }) => {
                write!(f, "the command to read client {of}'s balance")
            }
            Step::Delivery { from, msg } => {
                write!(
                    f,
                    "the delivery of {} from client {from}",
                    message_words(msg)
                )
            }
            Step::Timer => f.write_str("its LeaveCriticalSection timer"),
        }
    }
}

impl<N: Node> Checked<N> {
    pub(super) fn new(node: N, clients: u32) -> Self {
        Checked {
            node,
            clients,
            failure: None,
        }
    }

    pub(super) fn into_inner(self) -> N {
        self.node
    }

    /// Checks the outputs `step` added to the outbox; the first rule broken
    /// ([`broken_rule`]) becomes the node's failure.
    fn check(&mut self, step: Step<'_>, outputs: &[Output]) {
        if self.failure.is_some() {
            return;
        }
        let id = self.node.id();
        let ledger = self.node.ledger();
        if let Some(broken) = broken_rule(id, self.clients, step.delivered_from(), outputs, ledger)
        {
            self.failure = Some(format!(
                "client {id}, handling {step}, {broken}; see docs/nodes.md, \"A client in Rust\""
            ));
        }
    }

    /// Runs a step and checks what it added to the outbox.
    fn step(&mut self, step: Step<'_>, out: &mut Outbox, run: impl FnOnce(&mut N, &mut Outbox)) {
        let first = out.as_slice().len();
        run(&mut self.node, out);
        self.check(step, &out.as_slice()[first..]);
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
        self.step(Step::Command(command), out, |node, out| {
            result = node.handle_command(command, out);
        });
        result
    }

    fn handle_message(&mut self, from: ClientId, msg: &Message, out: &mut Outbox) {
        let step = Step::Delivery { from, msg };
        self.step(step, out, |node, out| node.handle_message(from, msg, out));
    }

    fn handle_timer(&mut self, timer: Timer, out: &mut Outbox) {
        self.step(Step::Timer, out, |node, out| node.handle_timer(timer, out));
    }

    fn restart(&mut self, keep_ledger: bool) {
        self.node.restart(keep_ledger);
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
        self.failure.take().or_else(|| self.node.take_failure())
    }

    fn fresh(config: &ClientConfig, initial_balances: Arc<[Amount]>) -> Option<Self> {
        N::fresh(config, initial_balances).map(|node| Checked::new(node, config.clients))
    }
}
