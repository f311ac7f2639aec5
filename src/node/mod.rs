//! Process nodes: a client in another program, any language, driven in lockstep over JSON
//! Lines on its standard input and output (docs/nodes.md). The simulator writes one input and
//! reads the node's effects up to its `done` line, so the program needs no clock of its own
//! and a run replays from its seed whenever the program is deterministic.
//!
//! [`ProcessNode`] implements the [`Node`] boundary: it turns the node's effect lines into
//! outputs, keeps a mirror of the node's ledger from its commits and applies (the ledger
//! checks and the summary read it; a block that does not extend it by the hash rule of
//! docs/spec.md is the node's failure), and follows its transfers for the liveness check.

pub mod live;
mod process;
pub mod wire;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::protocol::{
    Amount, Block, BlockRejection, ClientConfig, ClientId, Command, CommandError, Ledger, Message,
    Node, Outbox, OutputKind, Timer, Timestamp, Transfer,
};
pub use process::stop_all;
use process::{Process, ReadFailure};
use wire::{Effect, Init, Line};

/// The longest part of an offending line quoted in an error.
const QUOTED_CHARS: usize = 200;

/// How to start the nodes of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSpec {
    /// The command, run by `sh -c`, once per client.
    pub cmd: String,
    /// How long one step may take in real time.
    pub step_timeout: Duration,
}

/// One client played by a program: the process and what the simulator knows of it.
pub struct ProcessNode {
    spec: NodeSpec,
    config: ClientConfig,
    initial_balances: Arc<[Amount]>,
    process: Option<Process>,
    clock: Timestamp,
    /// The node's ledger as its commits and applies built it.
    ledger: Ledger,
    /// Inputs handed to the node so far (its steps, counted from 1; `init` is step 0).
    steps: u64,
    /// Real time spent in the steps after `init`: writing the input and waiting for the
    /// answer, the program's own work included.
    stepping: Duration,
    current: Option<Transfer>,
    queued: VecDeque<Transfer>,
    failure: Option<String>,
    /// Effect lines of the step being read, before they become outputs.
    lines: Vec<(Timestamp, Effect, String)>,
}

impl ProcessNode {
    /// Starts the program for client `config.id` and hands it its `init` line.
    pub fn start(
        spec: &NodeSpec,
        config: ClientConfig,
        initial_balances: Arc<[Amount]>,
    ) -> Result<ProcessNode, String> {
        let mut nodes = Self::start_all(spec, [config], initial_balances)?;
        Ok(nodes.pop().expect("one node per config"))
    }

    /// Starts the program once for each of `configs`, side by side: every process is started
    /// and handed its `init` line before any answer is awaited, so that the programs' start-ups
    /// (tens of milliseconds for an interpreter) overlap rather than add up.
    pub fn start_all(
        spec: &NodeSpec,
        configs: impl IntoIterator<Item = ClientConfig>,
        initial_balances: Arc<[Amount]>,
    ) -> Result<Vec<ProcessNode>, String> {
        let mut nodes: Vec<ProcessNode> = configs
            .into_iter()
            .map(|config| ProcessNode::new(spec, config, Arc::clone(&initial_balances)))
            .collect();
        for node in &mut nodes {
            node.spawn_and_init();
        }
        for node in &mut nodes {
            node.await_init();
        }
        match nodes.iter_mut().find_map(|node| node.failure.take()) {
            Some(failure) => Err(failure),
            None => Ok(nodes),
        }
    }

    fn new(spec: &NodeSpec, config: ClientConfig, initial_balances: Arc<[Amount]>) -> Self {
        ProcessNode {
            spec: spec.clone(),
            config,
            ledger: Ledger::new(Arc::clone(&initial_balances)),
            initial_balances,
            process: None,
            clock: 0,
            steps: 0,
            stepping: Duration::ZERO,
            current: None,
            queued: VecDeque::new(),
            failure: None,
            lines: Vec::new(),
        }
    }

    /// Stops the process and forgets what it held but its ledger, before a restart.
    fn stop_for_restart(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
        self.clock = 0;
        self.current = None;
        self.queued.clear();
    }

    /// Starts the process and initializes it with the ledger held.
    fn launch(&mut self) {
        self.spawn_and_init();
        self.await_init();
    }

    /// Starts the process and writes its `init` line, with the ledger held.
    fn spawn_and_init(&mut self) {
        let process = match Process::spawn(&self.spec.cmd) {
            Ok(process) => process,
            Err(error) => {
                self.fail(format!(
                    "node command {:?} for client {} could not be started: {error}",
                    self.spec.cmd, self.config.id
                ));
                return;
            }
        };
        self.process = Some(process);
        let line = wire::init_line(&Init {
            id: self.config.id,
            clients: self.config.clients,
            initial_balances: &self.initial_balances,
            cs_us: self.config.cs_us,
            ledger: self.ledger.blocks(),
        });
        self.send(&line, "init");
    }

    /// Reads the answer to `init`: a `done` line and no effect.
    fn await_init(&mut self) {
        let mut out = Outbox::new();
        self.read_answer("init", None, &mut out);
        if !out.is_empty() && self.failure.is_none() {
            self.fail_at("init", "answered init with effects; init expects only done");
        }
    }

    fn fail(&mut self, sentence: String) {
        if self.failure.is_none() {
            self.failure = Some(sentence);
        }
        self.process = None;
    }

    fn fail_at(&mut self, input: &str, what: &str) {
        let sentence = format!(
            "client {}'s node, at step {} ({input}), {what}",
            self.config.id, self.steps
        );
        self.fail(sentence);
    }

    fn fail_on_line(&mut self, input: &str, line: &str, what: &str) {
        let quoted: String = line.chars().take(QUOTED_CHARS).collect();
        let more = if line.chars().count() > QUOTED_CHARS {
            "…"
        } else {
            ""
        };
        let what = format!("wrote a line that {what}: {quoted}{more}");
        self.fail_at(input, &what);
    }

    /// Hands the node one input and turns the effects it answers with into outputs, after
    /// `first` (a `Received` or `TransferQueued`, stamped with the clock it reports).
    fn step(&mut self, line: &str, input: &str, out: &mut Outbox) {
        self.step_with(line, input, None, out);
    }

    fn step_with(&mut self, line: &str, input: &str, first: Option<OutputKind>, out: &mut Outbox) {
        let started = Instant::now();
        self.send(line, input);
        self.read_answer(input, first, out);
        self.stepping += started.elapsed();
    }

    /// The inputs handed to the node after its `init` (restarts included), and the real time
    /// the steps took: each a write and the wait for its answer, the program's work included.
    pub fn lockstep(&self) -> (u64, Duration) {
        (self.steps, self.stepping)
    }

    /// Hands the node one input line.
    fn send(&mut self, line: &str, input: &str) {
        let Some(process) = self.process.as_mut() else {
            return;
        };
        if let Err(error) = process.send(line) {
            let what = format!("could not take its input ({error}): it has exited");
            self.fail_at(input, &what);
        }
    }

    /// Reads the node's answer to `input`, its effects up to `done`, as outputs after `first`.
    fn read_answer(&mut self, input: &str, first: Option<OutputKind>, out: &mut Outbox) {
        if self.process.is_none() {
            return;
        }
        let deadline = Instant::now() + self.spec.step_timeout;
        self.lines.clear();
        let done_clock = loop {
            let text = match self.process.as_mut().map(|process| process.read(deadline)) {
                Some(Ok(text)) => text,
                Some(Err(failure)) => {
                    self.read_failed(input, failure);
                    return;
                }
                None => return,
            };
            match wire::parse_line(&text, self.config.clients) {
                Ok(Line::Done { clock }) => break clock,
                Ok(Line::Effect { clock, effect }) => self.lines.push((clock, effect, text)),
                Err(what) => {
                    self.fail_on_line(input, &text, &what);
                    return;
                }
            }
        };
        let lines = std::mem::take(&mut self.lines);
        if let Some(kind) = first {
            let clock = lines.first().map_or(done_clock, |(clock, _, _)| *clock);
            out.push(clock, kind);
        }
        for (clock, effect, text) in &lines {
            if let Err(what) = self.effect(*clock, effect.clone(), out) {
                self.fail_on_line(input, text, &what);
                return;
            }
        }
        self.lines = lines;
        self.clock = done_clock;
    }

    fn read_failed(&mut self, input: &str, failure: ReadFailure) {
        let what = match failure {
            ReadFailure::Ended(Some(status)) => {
                format!("exited ({status}) before its done line")
            }
            ReadFailure::Ended(None) => "closed its output before its done line".to_string(),
            ReadFailure::TimedOut => format!(
                "wrote no done line within {} ms (the per-step deadline)",
                self.spec.step_timeout.as_millis()
            ),
            ReadFailure::Bad(what) => format!("wrote a line that {what}"),
        };
        self.fail_at(input, &what);
    }

    /// One effect as an output; the error completes "wrote a line that …".
    fn effect(&mut self, clock: Timestamp, effect: Effect, out: &mut Outbox) -> Result<(), String> {
        let kind = match effect {
            Effect::Send { to, msg } => {
                if to == self.config.id {
                    return Err("sends to the node itself".into());
                }
                OutputKind::Send { to, msg }
            }
            Effect::Request { ts } => {
                self.current = self.queued.pop_front();
                OutputKind::Requested { ts }
            }
            Effect::Enter { ts } => OutputKind::Entered { ts },
            Effect::Exit { ts } => {
                self.current = None;
                OutputKind::Exited { ts }
            }
            Effect::Commit { block } => {
                let index = self.append(block, "commits")?;
                OutputKind::Committed { index }
            }
            Effect::Apply { block } => {
                let index = self.append(block, "applies")?;
                OutputKind::Applied { index }
            }
            Effect::Abort {
                ts,
                amount,
                balance,
            } => OutputKind::Aborted {
                ts,
                amount,
                balance,
            },
            Effect::Reject {
                from,
                block,
                reason,
            } => OutputKind::Rejected {
                from,
                block: Arc::new(block),
                reason: Box::new(BlockRejection::Reported(reason.into())),
            },
            Effect::Balance { of, value } => OutputKind::BalanceRead { of, value },
            Effect::SetTimer { after_us } => OutputKind::SetTimer {
                after_us,
                timer: Timer::LeaveCriticalSection,
            },
        };
        out.push(clock, kind);
        Ok(())
    }

    /// Appends a block the node committed or applied to the mirror of its ledger.
    fn append(&mut self, block: Block, verb: &str) -> Result<u64, String> {
        let index = block.index();
        self.ledger
            .append(Arc::new(block))
            .map_err(|reason| format!("{verb} a block its own ledger refuses: {reason}"))?;
        Ok(index)
    }
}

impl ProcessNode {
    /// Tells the program the run is over by closing its input; it is reaped when the node is
    /// dropped. Closing every node's input first lets the programs exit side by side.
    pub fn close_input(&mut self) {
        if let Some(process) = self.process.as_mut() {
            process.close_input();
        }
    }
}

impl Node for ProcessNode {
    fn id(&self) -> ClientId {
        self.config.id
    }

    fn clock(&self) -> Timestamp {
        self.clock
    }

    fn handle_command(&mut self, command: Command, out: &mut Outbox) -> Result<(), CommandError> {
        self.steps += 1;
        let line = wire::command_line(&command);
        let first = match command {
            Command::Transfer { to, amount } => {
                self.queued.push_back(Transfer { to, amount });
                // The command reaches the client before anything it does about it.
                out.push(self.clock, OutputKind::TransferQueued { to, amount });
                None
            }
            Command::ReadBalance { .. } => None,
        };
        self.step_with(&line, "a command", first, out);
        Ok(())
    }

    fn handle_message(&mut self, from: ClientId, msg: &Message, out: &mut Outbox) {
        self.steps += 1;
        let input = format!("a message from client {from}");
        let Some(line) = wire::message_line(from, msg) else {
            self.fail_at(&input, "was sent a message of the built-in client");
            return;
        };
        self.step_with(&line, &input, Some(OutputKind::Received { from }), out);
    }

    fn handle_timer(&mut self, _timer: Timer, out: &mut Outbox) {
        self.steps += 1;
        self.step(wire::TIMER_LINE, "its timer", out);
    }

    fn restart(&mut self, keep_ledger: bool) {
        self.stop_for_restart();
        if !keep_ledger {
            self.ledger = Ledger::new(Arc::clone(&self.initial_balances));
        }
        self.steps += 1;
        self.launch();
    }

    fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    fn into_ledger(self) -> Ledger {
        self.ledger
    }

    fn current_transfer(&self) -> Option<Transfer> {
        self.current
    }

    fn queued_transfers(&self) -> usize {
        self.queued.len()
    }

    fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }
}
