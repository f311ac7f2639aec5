//! A client of the library user's own, held to the rules the driver builds on (docs/nodes.md,
//! "A client in Rust"): after every step its outputs are checked, and a step that breaks a
//! rule ends the run with one sentence naming the client, the step and the output, where the
//! driver would otherwise fail deep inside (an index out of range, a block that is not there).
//! The built-in clients and the node programs (whose lines the wire reader checks) do not
//! need it.

use std::fmt;
use std::sync::Arc;

use crate::protocol::{
    Amount, Block, ClientConfig, ClientId, Command, CommandError, Ledger, Message, Node, Outbox,
    Output, OutputKind, Timer, Timestamp, Transfer, WaitReason,
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
enum Step {
    Command,
    Delivery { from: ClientId },
    Timer,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Command => f.write_str("a command"),
            Step::Delivery { from } => write!(f, "a message from client {from}"),
            Step::Timer => f.write_str("a timer"),
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

    /// Checks the outputs `step` added to the outbox; the first rule broken becomes the
    /// node's failure.
    fn check(&mut self, step: Step, outputs: &[Output]) {
        if self.failure.is_some() {
            return;
        }
        if let Err(broken) = self.rules_kept(step, outputs) {
            let id = self.node.id();
            self.failure = Some(format!(
                "client {id}, handling {step}, {broken}; see docs/nodes.md, \"A client in Rust\""
            ));
        }
    }

    /// The rules: a delivery's outputs start with its `Received`, and no other step has
    /// one; a message goes to another client of the scenario; a commit or an apply names a
    /// block of the own ledger. The error completes "client C, handling S, …".
    fn rules_kept(&self, step: Step, outputs: &[Output]) -> Result<(), String> {
        if let Step::Delivery { from } = step {
            match outputs.first().map(|output| &output.kind) {
                Some(OutputKind::Received { from: said }) if *said == from => {}
                Some(OutputKind::Received { from: said }) => {
                    return Err(format!("output Received from client {said}"));
                }
                _ => return Err("did not output Received first".to_string()),
            }
        }
        let skip = usize::from(matches!(step, Step::Delivery { .. }));
        for output in &outputs[skip..] {
            self.output_kept(&output.kind)?;
        }
        Ok(())
    }

    fn output_kept(&self, kind: &OutputKind) -> Result<(), String> {
        let own = self.node.id();
        match kind {
            OutputKind::Received { .. } => Err("output a second Received".to_string()),
            OutputKind::Send { to, .. } if *to == own => {
                Err("sent a message to itself".to_string())
            }
            OutputKind::Send { to, .. } if !to.is_among(self.clients) => Err(format!(
                "sent a message to client {to}, but the scenario has clients 1 to {}",
                self.clients
            )),
            OutputKind::Committed { index } | OutputKind::Applied { index }
                if self.node.ledger().block(*index).is_none() =>
            {
                Err(format!(
                    "named block {index}, but its ledger holds {} blocks",
                    self.node.ledger().len()
                ))
            }
            _ => Ok(()),
        }
    }

    /// Runs a step and checks what it added to the outbox.
    fn step(&mut self, step: Step, out: &mut Outbox, run: impl FnOnce(&mut N, &mut Outbox)) {
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
        self.step(Step::Command, out, |node, out| {
            result = node.handle_command(command, out);
        });
        result
    }

    fn handle_message(&mut self, from: ClientId, msg: &Message, out: &mut Outbox) {
        let step = Step::Delivery { from };
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
