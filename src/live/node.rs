//! The node loop: one thread owns the [`Client`] and everything that changes state. Lines from
//! standard input and frames from the network threads arrive as [`Input`]s on one channel;
//! the critical-section timer is a deadline the loop waits for. After every input the loop
//! does, in this order: append new blocks to the data directory and sync them, write the
//! step's trace lines and hand them to the operating system, then queue the step's messages.
//! So nothing a peer hears about is missing from the disk or the trace.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::cluster::{Cluster, KeySource, NodeSpec};
use super::net::{self, Connection, NetConfig, SessionFrame};
use super::prompt::{self, UserCommand, name_nodes};
use super::session::{Incoming, Link, Resume};
use super::storage::Storage;
use super::trace::{LiveHeader, NodeTrace, live_header};
use super::wire::{MSG_ID_NODE_SHIFT, Purpose, SessionBody, WireMessage};
use crate::protocol::ledger::short_hex;
use crate::protocol::{
    Amount, Block, Client, ClientConfig, ClientId, Command, Message, Mutations, Outbox, OutputKind,
    Phase, Timer, Timestamp,
};
use crate::trace::EventKind;
use crate::wording::count;

/// How often a transfer that waits says again who it waits for.
pub const WAIT_REPORT_EVERY: Duration = Duration::from_secs(3);
/// How often the loop wakes up for acknowledgements and reports.
const TICK: Duration = Duration::from_millis(200);
/// Every connection carries a frame at least this often (an acknowledgement restating the
/// last one, when there is nothing else), so that a silent peer stands out.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// A connection that brings nothing for this long is given up (a peer that froze, or whose
/// machine or network vanished without closing the connection); the link then reconnects
/// and resumes as after any broken connection.
const SILENCE_LIMIT: Duration = Duration::from_secs(5);
/// The longest command line read at once; a longer one is cut into pieces.
const MAX_LINE_BYTES: u64 = 64 * 1024;

/// Everything that reaches the node loop.
#[derive(Debug)]
pub enum Input {
    /// A line from standard input.
    Line(String),
    StdinClosed,
    /// Ctrl-C (SIGINT), or SIGTERM or SIGHUP: stop as `exit` does.
    Interrupted,
    /// An authenticated connection to `peer` (its incarnation from the handshake).
    Connected {
        peer: ClientId,
        incarnation: u64,
        connection: Connection,
    },
    /// A checked frame from an established connection.
    Frame {
        peer: ClientId,
        connection: u64,
        frame: SessionFrame,
    },
    Disconnected {
        peer: ClientId,
        connection: u64,
        reason: String,
    },
}

/// How to run a node.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    pub id: ClientId,
    pub cluster: Cluster,
    /// Keep the ledger here (appended durably, verified on start).
    pub data_dir: Option<PathBuf>,
    /// Write the trace to this file, or into this existing directory under a fresh name.
    pub trace: Option<PathBuf>,
    /// Listen here instead of the node's cluster address.
    pub bind: Option<SocketAddr>,
}

/// Why a node could not start (exit code 2) or had to stop.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NodeError(pub String);

/// A transfer the user typed, as the prompt names it.
#[derive(Clone, Copy, Debug)]
struct Note {
    number: u64,
    to: ClientId,
    amount: Amount,
}

impl Note {
    fn name(&self) -> String {
        format!(
            "transfer #{} ({} to node {})",
            self.number, self.amount, self.to
        )
    }
}

/// The transfer that holds the own request.
#[derive(Clone, Copy, Debug)]
struct Current {
    note: Note,
    ts: Timestamp,
    requested_at: Instant,
    last_report: Option<Instant>,
}

/// The message a step handled.
#[derive(Clone, Copy, Debug)]
struct Delivered<'a> {
    from: ClientId,
    msg_id: u64,
    msg: &'a Message,
    purpose: Option<Purpose>,
}

/// The REQUEST messages of the outstanding request, by peer: sent again to a peer that comes
/// back as a new incarnation.
#[derive(Clone, Debug)]
struct Outstanding {
    ts: Timestamp,
    msg_ids: BTreeMap<ClientId, u64>,
}

/// A connection as the loop sees it.
#[derive(Debug)]
struct Conn {
    connection: Connection,
    incarnation: u64,
    /// The `resume` frame sent on this connection.
    sent: Resume,
    started: bool,
    /// When the connection was made or last brought a frame.
    last_heard: Instant,
}

/// Where user-facing lines go, and the log.
struct Console {
    out: Box<dyn Write>,
    log: Arc<Mutex<dyn Write + Send>>,
    id: ClientId,
}

impl Console {
    fn say(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    fn log(&self, text: &str) {
        if let Ok(mut log) = self.log.lock() {
            let _ = writeln!(log, "node {}: {text}", self.id);
            let _ = log.flush();
        }
    }
}

struct Node {
    id: ClientId,
    cluster: Cluster,
    client: Client,
    outbox: Outbox,
    links: BTreeMap<ClientId, Link>,
    conns: BTreeMap<ClientId, Conn>,
    /// The last incarnation each peer connected with.
    peer_incarnations: BTreeMap<ClientId, u64>,
    /// For a peer that restarted: the largest timestamp heard from its earlier runs. A request
    /// of that peer at or below it was made by a run that is gone and will never be released.
    earlier_runs_up_to: BTreeMap<ClientId, Timestamp>,
    incarnation: u64,
    msg_id_base: u64,
    next_msg: u64,
    trace: Option<NodeTrace>,
    storage: Option<Storage>,
    cs_timer: Option<(Instant, Timer)>,
    /// Transfers typed before the node heard from every peer.
    held: VecDeque<Note>,
    /// Transfers handed to the client and not yet requested.
    accepted: VecDeque<Note>,
    current: Option<Current>,
    outstanding: Option<Outstanding>,
    joined: bool,
    held_reported: Option<Instant>,
    next_transfer: u64,
    console: Console,
    interactive: bool,
    exit: bool,
    /// When the last round of heartbeats went out.
    last_heartbeat: Option<Instant>,
}

/// Runs node `options.id` until the user types `exit`. Returns the exit code.
pub fn run_node(options: NodeOptions) -> Result<u8, NodeError> {
    let log: Arc<Mutex<dyn Write + Send>> = Arc::new(Mutex::new(io::stderr()));
    let stdout: Box<dyn Write> = Box::new(io::stdout());
    run_node_with(options, stdout, log)
}

/// The first Ctrl-C (or SIGTERM, SIGHUP) asks the loop to stop as `exit` does, so the trace
/// gets its summary line; a second one ends the process at once (exit code 130, the shell's
/// code for an interrupted program).
fn watch_interrupts(inputs: mpsc::Sender<Input>, console: &Console) {
    let signals = AtomicU32::new(0);
    let installed = ctrlc::set_handler(move || {
        if signals.fetch_add(1, Ordering::SeqCst) == 0 {
            let _ = inputs.send(Input::Interrupted);
        } else {
            std::process::exit(130);
        }
    });
    if let Err(error) = installed {
        console.log(&format!(
            "Ctrl-C will stop the node without the trace summary: {error}"
        ));
    }
}

fn micros_since_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// The trace file: `path` itself, or a fresh name in `path` if it is a directory.
fn trace_path(path: &Path, id: ClientId, epoch_unix_us: u64) -> PathBuf {
    if path.is_dir() {
        path.join(format!("node-{id}-{}.jsonl", epoch_unix_us / 1000))
    } else {
        path.to_path_buf()
    }
}

fn run_node_with(
    options: NodeOptions,
    out: Box<dyn Write>,
    log: Arc<Mutex<dyn Write + Send>>,
) -> Result<u8, NodeError> {
    let NodeOptions {
        id,
        cluster,
        data_dir,
        trace,
        bind,
    } = options;
    let usage = |text: String| NodeError(text);
    let spec = cluster.node(id).cloned().ok_or_else(|| {
        usage(format!(
            "there is no node {id} in cluster {:?} (its nodes are 1 to {})",
            cluster.name,
            cluster.clients()
        ))
    })?;
    let bind = listen_address(&spec, bind)?;
    let listener = net::listen(bind).map_err(|error| {
        usage(format!(
            "cannot listen on {bind}: {error} (is node {id} already running?)"
        ))
    })?;
    let started = Instant::now();
    let epoch_unix_us = micros_since_epoch();
    let incarnation: u64 = rand::random();
    let life_tag: u64 = rand::random::<u64>() & 0xF_FFFF;
    let initial = cluster.initial_balances();
    let console = Console {
        out,
        log: Arc::clone(&log),
        id,
    };

    let mut restored = Vec::new();
    let storage = match &data_dir {
        Some(dir) => {
            let opened = Storage::open(dir, id, &initial).map_err(|e| usage(e.0))?;
            if let Some(note) = &opened.repaired {
                console.log(note);
            }
            restored = opened.blocks;
            Some(opened.storage)
        }
        None => None,
    };
    let trace = match &trace {
        Some(path) => {
            let live = LiveHeader {
                node: id,
                cluster: cluster.name.clone(),
                incarnation,
                epoch_unix_us,
            };
            Some(create_trace(path, &cluster, &live, started)?)
        }
        None => None,
    };

    let config = ClientConfig {
        id,
        clients: cluster.clients(),
        cs_us: cluster.cs_us,
        variant: cluster.variant,
        mutations: Mutations::none(),
    };
    let client = Client::new(&config, initial.clone());
    let links = cluster
        .peers(id)
        .map(|peer| (peer, Link::new(peer)))
        .collect();
    let mut node = Node {
        id,
        cluster: cluster.clone(),
        client,
        outbox: Outbox::new(),
        links,
        conns: BTreeMap::new(),
        peer_incarnations: BTreeMap::new(),
        earlier_runs_up_to: BTreeMap::new(),
        incarnation,
        msg_id_base: (u64::from(id) << MSG_ID_NODE_SHIFT) | (life_tag << 32),
        next_msg: 0,
        trace,
        storage,
        cs_timer: None,
        held: VecDeque::new(),
        accepted: VecDeque::new(),
        current: None,
        outstanding: None,
        joined: false,
        held_reported: None,
        next_transfer: 1,
        console,
        interactive: io::stdin().is_terminal(),
        exit: false,
        last_heartbeat: None,
    };
    let restored_note = node
        .restore(&restored, data_dir.as_deref())
        .map_err(|e| usage(format!("cannot write the trace: {e}")))?;

    let (inputs, receiver) = mpsc::channel();
    let net_config = Arc::new(NetConfig {
        me: id,
        cluster: cluster.clone(),
        incarnation,
        inputs: inputs.clone(),
        log,
    });
    let bound = net::start(net_config, listener)
        .map_err(|error| usage(format!("cannot start the network threads: {error}")))?;
    node.banner(bound);
    if let Some(text) = restored_note {
        node.console.say(&text);
    }
    node.prompt();
    {
        let inputs = inputs.clone();
        thread::Builder::new()
            .name("stdin".into())
            .spawn(move || read_stdin(&inputs))
            .map_err(|e| usage(format!("cannot start the input thread: {e}")))?;
    }
    watch_interrupts(inputs.clone(), &node.console);
    // The loop owns a sender, so the channel never closes under it.
    let _keep = inputs;
    node.run(&receiver)
        .map_err(|e| NodeError(format!("node {id} stopped: {e}")))?;
    Ok(0)
}

/// Where the node listens: `--bind`, else its own address if that is a loopback one.
fn listen_address(spec: &NodeSpec, bind: Option<SocketAddr>) -> Result<SocketAddr, NodeError> {
    match bind {
        Some(bind) => Ok(bind),
        None if spec.address.ip().is_loopback() => Ok(spec.address),
        None => Err(NodeError(format!(
            "node {}'s address {} is not a loopback address: nodes listen on loopback unless \
             told otherwise, so pass --bind {} to listen on it",
            spec.id, spec.address, spec.address
        ))),
    }
}

/// Creates this life's trace at `path` (or under a fresh name if `path` is a directory) and
/// writes its header. An existing file is never overwritten: it may be an earlier life's.
fn create_trace(
    path: &Path,
    cluster: &Cluster,
    live: &LiveHeader,
    started: Instant,
) -> Result<NodeTrace, NodeError> {
    let path = trace_path(path, live.node, live.epoch_unix_us);
    let header = live_header(
        &cluster.name,
        cluster.initial_balances(),
        cluster.variant.name(),
        cluster.cs_us,
    );
    NodeTrace::create(&path, &header, live, started).map_err(|error| {
        if error.kind() == io::ErrorKind::AlreadyExists {
            NodeError(format!(
                "{}: the file exists, and a node never overwrites a trace: give a new file, or \
                 a directory for a fresh name in it",
                path.display()
            ))
        } else {
            NodeError(format!(
                "{}: cannot create the trace: {error}",
                path.display()
            ))
        }
    })
}

fn read_stdin(inputs: &mpsc::Sender<Input>) {
    let stdin = io::stdin();
    let mut lock = stdin.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut lock)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => {
                let _ = inputs.send(Input::StdinClosed);
                return;
            }
            Ok(_) => {
                let text = String::from_utf8_lossy(&line).into_owned();
                if inputs.send(Input::Line(text)).is_err() {
                    return;
                }
            }
        }
    }
}

impl Node {
    fn banner(&mut self, bound: SocketAddr) {
        let peers: Vec<String> = self
            .cluster
            .peers(self.id)
            .filter_map(|peer| self.cluster.node(peer))
            .map(|node| format!("{} at {}", node.id, node.address))
            .collect();
        let key = match self.cluster.key_source {
            KeySource::Environment => "the key in LAMPORT_LEDGER_KEY",
            KeySource::ClusterFile => "the cluster file's key",
            KeySource::BuiltIn => "the built-in key (set LAMPORT_LEDGER_KEY for your own)",
        };
        self.console.say(&format!(
            "node {} of cluster {:?}: listening on {bound}; peers {}; protocol {}, critical \
             section {} ms; frames authenticated with {key}",
            self.id,
            self.cluster.name,
            peers.join(", "),
            self.cluster.variant.name(),
            self.cluster.cs_us / 1000
        ));
        self.console.say(&format!(
            "waiting to hear from {} before asking for the mutex; type help for the commands",
            name_nodes(&self.cluster.peers(self.id).collect::<Vec<_>>())
        ));
    }

    fn prompt(&mut self) {
        if self.interactive {
            let _ = write!(self.console.out, "node {}> ", self.id);
            let _ = self.console.out.flush();
        }
    }

    /// Replays the blocks found in the data directory into the client (as UPDATEs from a
    /// peer named in the block; they change nothing but the ledger and the clock), traced as
    /// `apply` events.
    fn restore(&mut self, blocks: &[Arc<Block>], dir: Option<&Path>) -> io::Result<Option<String>> {
        for block in blocks {
            let from = if block.from() == self.id {
                block.to()
            } else {
                block.from()
            };
            let msg = Message::Update {
                ts: 0,
                block: Arc::clone(block),
            };
            self.client.handle_message(from, &msg, &mut self.outbox);
            let outputs: Vec<_> = self.outbox.drain().collect();
            for output in outputs {
                if let OutputKind::Applied { index } = output.kind {
                    let block = Arc::clone(self.client.output_block(index));
                    self.trace_event(output.clock, EventKind::Apply { block })?;
                }
            }
        }
        if let Some(trace) = &mut self.trace {
            trace.flush()?;
        }
        Ok(dir.map(|dir| {
            let ledger = self.client.ledger();
            if ledger.is_empty() {
                format!("data directory {}: no blocks yet", dir.display())
            } else {
                format!(
                    "restored {} from {} (head {}); own balance {}",
                    count(ledger.len(), "block"),
                    dir.display(),
                    short_hex(&ledger.head_hash()),
                    ledger.balance(self.id)
                )
            }
        }))
    }

    fn run(&mut self, inputs: &mpsc::Receiver<Input>) -> io::Result<()> {
        let mut next_tick = Instant::now() + TICK;
        while !self.exit {
            let now = Instant::now();
            let deadline = match self.cs_timer {
                Some((at, _)) => at.min(next_tick),
                None => next_tick,
            };
            match inputs.recv_timeout(deadline.saturating_duration_since(now)) {
                Ok(input) => self.input(input)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = Instant::now();
            if let Some((at, timer)) = self.cs_timer
                && at <= now
            {
                self.cs_timer = None;
                self.client.handle_timer(timer, &mut self.outbox);
                self.after_step(None)?;
            }
            if next_tick <= now {
                next_tick = now + TICK;
                self.tick(now);
            }
        }
        self.finish()
    }

    fn input(&mut self, input: Input) -> io::Result<()> {
        match input {
            Input::Line(line) => {
                self.command(&line)?;
                if !self.exit {
                    self.prompt();
                }
            }
            Input::Interrupted => {
                self.console.say(
                    "interrupted: stopping as `exit` does (a second Ctrl-C stops at once, \
                     leaving the trace without its summary)",
                );
                self.say_unfinished();
                self.exit = true;
            }
            Input::StdinClosed => {
                self.console.log(
                    "standard input closed; the node keeps running for its peers (stop it with \
                     Ctrl-C)",
                );
            }
            Input::Connected {
                peer,
                incarnation,
                connection,
            } => self.connected(peer, incarnation, connection),
            Input::Frame {
                peer,
                connection,
                frame,
            } => self.frame(peer, connection, frame)?,
            Input::Disconnected {
                peer,
                connection,
                reason,
            } => self.disconnected(peer, connection, &reason),
        }
        Ok(())
    }

    fn command(&mut self, line: &str) -> io::Result<()> {
        let command = match prompt::parse_command(line) {
            Ok(command) => command,
            Err(sentence) => {
                self.console.say(&sentence);
                return Ok(());
            }
        };
        match command {
            UserCommand::Nothing => {}
            UserCommand::Help => self.console.say(prompt::HELP),
            UserCommand::Exit => {
                self.say_unfinished();
                self.exit = true;
            }
            UserCommand::PrintBalanceTable => {
                let text = prompt::balance_table(self.id, self.client.ledger());
                self.console.say(&text);
            }
            UserCommand::PrintBlockchain => {
                let text = prompt::blockchain(self.id, self.client.ledger());
                self.console.say(&text);
            }
            UserCommand::Balance { of } => {
                let command = Command::ReadBalance {
                    of: of.unwrap_or(self.id),
                };
                if let Err(error) = self.client.validate(&command) {
                    self.console.say(&format!("cannot read a balance: {error}"));
                    return Ok(());
                }
                self.client
                    .handle_command(command, &mut self.outbox)
                    .expect("the command was validated");
                self.after_step(None)?;
            }
            UserCommand::Transfer { to, amount } => {
                let command = Command::Transfer { to, amount };
                if let Err(error) = self.client.validate(&command) {
                    self.console.say(&format!("cannot transfer: {error}"));
                    return Ok(());
                }
                let note = Note {
                    number: self.next_transfer,
                    to,
                    amount,
                };
                self.next_transfer += 1;
                if self.joined {
                    self.hand_over(note)?;
                } else {
                    let silent = self.not_synced();
                    self.console.say(&format!(
                        "{}: accepted; it waits until this node has heard from {} before it \
                         asks for the mutex",
                        note.name(),
                        self.describe_peers(&silent)
                    ));
                    self.held.push_back(note);
                }
            }
        }
        Ok(())
    }

    /// Gives a transfer to the client.
    fn hand_over(&mut self, note: Note) -> io::Result<()> {
        let busy = self.current.is_some() || !self.accepted.is_empty();
        let ahead = self.accepted.len() + usize::from(self.current.is_some());
        self.accepted.push_back(note);
        if busy {
            self.console.say(&format!(
                "{}: queued behind {} of this node",
                note.name(),
                count(ahead, "earlier transfer")
            ));
        }
        self.client
            .handle_command(
                Command::Transfer {
                    to: note.to,
                    amount: note.amount,
                },
                &mut self.outbox,
            )
            .expect("the command was validated");
        self.after_step(None)
    }

    fn say_unfinished(&mut self) {
        // Only a transfer whose REQUEST went out leaves anything behind at the peers.
        if let Some(current) = &self.current {
            let state = match self.client.phase() {
                Phase::Inside { .. } => "inside the critical section",
                _ => "waiting for the mutex",
            };
            self.console.say(&format!(
                "exiting with {} ({state}) not finished: its request stays in the peers' \
                 queues, so their transfers wait until every node is restarted",
                current.note.name()
            ));
        }
        let never_asked: Vec<String> = self
            .accepted
            .iter()
            .chain(&self.held)
            .map(Note::name)
            .collect();
        if !never_asked.is_empty() {
            self.console.say(&format!(
                "exiting with {} not started: no request went out for {}, so nothing is left \
                 behind at the peers; {} dropped",
                never_asked.join(", "),
                if never_asked.len() == 1 { "it" } else { "them" },
                if never_asked.len() == 1 {
                    "it is"
                } else {
                    "they are"
                },
            ));
        }
    }

    /// Traces and queues a message the session itself sends (a catch-up block, the end of
    /// a sync), not one the client's state machine asked for.
    fn send_for_session(
        &mut self,
        peer: ClientId,
        clock: Timestamp,
        msg: Message,
        purpose: Purpose,
    ) -> io::Result<()> {
        let msg_id = self.new_msg_id();
        self.trace_event(
            clock,
            EventKind::Send {
                msg_id,
                to: peer,
                msg: msg.clone(),
            },
        )?;
        self.links
            .get_mut(&peer)
            .expect("a connected peer has a link")
            .push(msg_id, msg, Some(purpose));
        Ok(())
    }

    fn new_msg_id(&mut self) -> u64 {
        let id = self.msg_id_base | (self.next_msg & 0xFFFF_FFFF);
        self.next_msg += 1;
        id
    }

    fn trace_event(&mut self, clock: Timestamp, kind: EventKind) -> io::Result<()> {
        match &mut self.trace {
            Some(trace) => trace.event(clock, kind),
            None => Ok(()),
        }
    }

    /// Handles the client's outputs after one input; see the module documentation for the
    /// order. `delivered` is the message that was handled, if any.
    fn after_step(&mut self, delivered: Option<Delivered<'_>>) -> io::Result<()> {
        if let Some(storage) = &mut self.storage {
            storage.append_from(self.client.ledger())?;
        }
        let outputs: Vec<_> = self.outbox.drain().collect();
        let mut sends: Vec<(ClientId, u64, Message)> = Vec::new();
        for output in outputs {
            if let Some(kind) = self.event_for_output(output.kind, delivered, &mut sends) {
                self.trace_event(output.clock, kind)?;
            }
        }
        if let Some(trace) = &mut self.trace {
            trace.flush()?;
        }
        let mut touched: Vec<ClientId> = Vec::new();
        for (to, msg_id, msg) in sends {
            if let Some(link) = self.links.get_mut(&to) {
                link.push(msg_id, msg, None);
                if !touched.contains(&to) {
                    touched.push(to);
                }
            }
        }
        for peer in touched {
            self.send_ready_frames(peer, false);
        }
        self.report_if_waiting_on_a_lost_peer();
        Ok(())
    }

    /// Acts on one output of the client's step (says it, notes sends and timers) and
    /// returns the event that traces it; a timer has none. `delivered` is the message the
    /// step handled, if any.
    fn event_for_output(
        &mut self,
        output: OutputKind,
        delivered: Option<Delivered<'_>>,
        sends: &mut Vec<(ClientId, u64, Message)>,
    ) -> Option<EventKind> {
        let kind = match output {
            OutputKind::Received { from } => {
                let delivered =
                    delivered.expect("only a delivered message makes a Received output");
                EventKind::Deliver {
                    msg_id: delivered.msg_id,
                    from,
                    msg: delivered.msg.clone(),
                }
            }
            OutputKind::Send { to, msg } => {
                let msg_id = self.new_msg_id();
                if let (Message::Request { ts }, Some(outstanding)) = (&msg, &mut self.outstanding)
                    && *ts == outstanding.ts
                {
                    outstanding.msg_ids.insert(to, msg_id);
                }
                sends.push((to, msg_id, msg.clone()));
                EventKind::Send { msg_id, to, msg }
            }
            OutputKind::SetTimer { after_us, timer } => {
                self.cs_timer = Some((Instant::now() + Duration::from_micros(after_us), timer));
                return None;
            }
            OutputKind::TransferQueued { to, amount } => EventKind::Transfer { to, amount },
            OutputKind::Requested { ts } => {
                if let Some(note) = self.accepted.pop_front() {
                    self.console.say(&format!(
                        "{}: requested the mutex with request ({ts},{})",
                        note.name(),
                        self.id
                    ));
                    self.current = Some(Current {
                        note,
                        ts,
                        requested_at: Instant::now(),
                        last_report: None,
                    });
                }
                self.outstanding = Some(Outstanding {
                    ts,
                    msg_ids: BTreeMap::new(),
                });
                EventKind::Request { ts }
            }
            OutputKind::Entered { ts } => {
                self.say_current("entered the critical section");
                EventKind::Enter { ts }
            }
            OutputKind::Committed { index } => {
                let block = Arc::clone(self.client.output_block(index));
                let balance = self.client.ledger().balance(self.id);
                self.say_current(&format!(
                    "committed block {} (hash {}); own balance now {balance}",
                    block.index(),
                    short_hex(&block.hash_value())
                ));
                EventKind::Commit { block }
            }
            OutputKind::Aborted {
                ts,
                amount,
                balance,
            } => {
                self.say_current(&format!(
                    "aborted: the own balance is {balance}, less than {amount}; nothing was \
                 committed"
                ));
                EventKind::Abort {
                    ts,
                    amount,
                    balance,
                }
            }
            OutputKind::Exited { ts } => {
                self.say_current("released the mutex");
                self.current = None;
                self.outstanding = None;
                EventKind::Exit { ts }
            }
            OutputKind::Applied { index } => {
                let block = Arc::clone(self.client.output_block(index));
                let how = match delivered.and_then(|d| d.purpose) {
                    Some(Purpose::CatchUp) => "caught up",
                    _ => "applied",
                };
                let from = delivered
                    .map(|d| format!(" from node {}", d.from))
                    .unwrap_or_default();
                self.console.say(&format!(
                    "{how} block {}{from}: node {} pays {} to node {} (hash {})",
                    block.index(),
                    block.from(),
                    block.amount(),
                    block.to(),
                    short_hex(&block.hash_value())
                ));
                EventKind::Apply { block }
            }
            OutputKind::Rejected {
                from,
                block,
                reason,
            } => {
                self.console.say(&format!(
                    "rejected block {} from node {from}: {reason}",
                    block.index()
                ));
                EventKind::Reject {
                    from,
                    block,
                    reason: reason.to_string(),
                }
            }
            OutputKind::BalanceRead { of, value } => {
                self.console.say(&format!(
                    "balance of node {of}: {value} (node {}'s table after {}; it may be \
                 stale)",
                    self.id,
                    count(self.client.ledger().len(), "block")
                ));
                EventKind::Balance { of, value }
            }
        };
        Some(kind)
    }

    fn say_current(&mut self, what: &str) {
        let name = match &self.current {
            Some(current) => current.note.name(),
            None => "the transfer".into(),
        };
        self.console.say(&format!("{name}: {what}"));
    }

    /// Writes the link's frames that are ready to go on its connection.
    fn send_ready_frames(&mut self, peer: ClientId, all: bool) {
        let (Some(link), Some(conn)) = (self.links.get_mut(&peer), self.conns.get(&peer)) else {
            return;
        };
        if !conn.started {
            return;
        }
        for (seq, frame) in link.take_sendable(all) {
            let body = SessionBody::Msg {
                seq,
                ack: link.ack_to_send(),
                msg_id: frame.msg_id,
                purpose: frame.purpose,
                msg: WireMessage::from_message(&frame.msg),
            };
            if !conn.connection.send(&body) {
                break;
            }
        }
    }

    fn connected(&mut self, peer: ClientId, incarnation: u64, connection: Connection) {
        let ledger_len = self.client.ledger().len();
        let Some(link) = self.links.get_mut(&peer) else {
            connection.close();
            return;
        };
        if let Some(old) = self.conns.remove(&peer) {
            old.connection.close();
        }
        link.connection_opened();
        let sent = link.resume(ledger_len);
        let body = SessionBody::Resume {
            incarnation_seen: sent.incarnation_seen,
            received: sent.received,
            bound_to: sent.bound_to,
            ledger_len: sent.ledger_len,
            needs_sync: sent.needs_sync,
        };
        connection.send(&body);
        self.conns.insert(
            peer,
            Conn {
                connection,
                incarnation,
                sent,
                started: false,
                last_heard: Instant::now(),
            },
        );
    }

    fn disconnected(&mut self, peer: ClientId, connection: u64, reason: &str) {
        if self.conns.get(&peer).map(|c| c.connection.id) != Some(connection) {
            return;
        }
        self.conns.remove(&peer);
        if let Some(link) = self.links.get_mut(&peer) {
            link.connection_lost();
        }
        self.console
            .say(&format!("lost the connection to node {peer} ({reason})"));
        self.report_if_waiting_on_a_lost_peer();
    }

    /// A peer that sent nothing, not even a heartbeat, for [`SILENCE_LIMIT`]: the connection
    /// is closed as if it had broken, and the link reconnects when the peer answers again.
    fn give_up_silent(&mut self, peer: ClientId) {
        let silent_s = SILENCE_LIMIT.as_secs();
        self.close(peer, &format!("node {peer} sent nothing for {silent_s} s"));
        self.console.say(&format!(
            "lost the connection to node {peer} (it sent nothing for {silent_s} s, not even a \
             heartbeat)"
        ));
        self.report_if_waiting_on_a_lost_peer();
    }

    fn close(&mut self, peer: ClientId, why: &str) {
        self.console
            .log(&format!("{why}; closed the connection to node {peer}"));
        if let Some(conn) = self.conns.remove(&peer) {
            conn.connection.close();
        }
        if let Some(link) = self.links.get_mut(&peer) {
            link.connection_lost();
        }
    }

    fn frame(&mut self, peer: ClientId, connection: u64, frame: SessionFrame) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(&peer) else {
            return Ok(());
        };
        if conn.connection.id != connection {
            return Ok(());
        }
        conn.last_heard = Instant::now();
        match frame {
            SessionFrame::Resume(theirs) => {
                if conn.started {
                    self.close(peer, &format!("node {peer} sent a second resume"));
                    return Ok(());
                }
                self.start_session(peer, &theirs)?;
            }
            SessionFrame::Msg {
                seq,
                ack,
                msg_id,
                purpose,
                msg,
            } => {
                if !conn.started {
                    self.close(peer, &format!("node {peer} sent a message before resume"));
                    return Ok(());
                }
                let link = self
                    .links
                    .get_mut(&peer)
                    .expect("a connected peer has a link");
                link.acknowledged(ack);
                match link.incoming(seq) {
                    Incoming::Deliver => self.deliver(peer, msg_id, &msg, purpose)?,
                    Incoming::Duplicate => {}
                    Incoming::Gap { expected } => self.close(
                        peer,
                        &format!("node {peer} sent frame {seq} while {expected} was next"),
                    ),
                }
            }
            SessionFrame::Ack(ack) => {
                if let Some(link) = self.links.get_mut(&peer) {
                    link.acknowledged(ack);
                }
            }
        }
        Ok(())
    }

    fn deliver(
        &mut self,
        peer: ClientId,
        msg_id: u64,
        msg: &Message,
        purpose: Option<Purpose>,
    ) -> io::Result<()> {
        self.client.handle_message(peer, msg, &mut self.outbox);
        self.after_step(Some(Delivered {
            from: peer,
            msg_id,
            msg,
            purpose,
        }))?;
        if purpose == Some(Purpose::Sync) {
            if let Some(link) = self.links.get_mut(&peer) {
                link.synced = true;
            }
            self.join_if_synced()?;
        }
        Ok(())
    }

    /// Both `resume` frames are in: resume or reset each direction, send again what the peer
    /// lacks, then what is new: the own REQUEST (to a new incarnation), catch-up blocks, a sync.
    fn start_session(&mut self, peer: ClientId, theirs: &Resume) -> io::Result<()> {
        let conn = self.conns.get_mut(&peer).expect("checked by the caller");
        conn.started = true;
        let peer_incarnation = conn.incarnation;
        let ours = conn.sent;
        let link = self
            .links
            .get_mut(&peer)
            .expect("a connected peer has a link");
        let start = link.start(self.incarnation, peer_incarnation, &ours, theirs);
        let restarted = self
            .peer_incarnations
            .insert(peer, peer_incarnation)
            .is_some_and(|before| before != peer_incarnation);
        if restarted {
            self.earlier_runs_up_to
                .insert(peer, self.client.largest_seen(peer));
        }
        let clock = self.client.clock();
        if start.reset_out
            && let Some(outstanding) = &self.outstanding
            && let Some(&msg_id) = outstanding.msg_ids.get(&peer)
            && !link.waiting(msg_id)
        {
            // The peer never got this incarnation's REQUEST, or lost it with its restart.
            let msg = Message::Request { ts: outstanding.ts };
            link.push_front(msg_id, msg);
            self.trace_event(clock, EventKind::Duplicate { msg_id })?;
        }
        let mut catch_up = Vec::new();
        let own_len = self.client.ledger().len();
        if start.reset_out && theirs.ledger_len < own_len {
            catch_up = self.client.ledger().blocks_from(theirs.ledger_len).to_vec();
        }
        for block in &catch_up {
            let msg = Message::Update {
                ts: clock,
                block: Arc::clone(block),
            };
            self.send_for_session(peer, clock, msg, Purpose::CatchUp)?;
        }
        if theirs.needs_sync {
            self.send_for_session(peer, clock, Message::Updated { ts: clock }, Purpose::Sync)?;
        }
        if let Some(trace) = &mut self.trace {
            trace.flush()?;
        }
        self.send_ready_frames(peer, true);
        let mut text = format!("connected to node {peer}");
        if restarted {
            text.push_str(" (it restarted)");
        }
        if !catch_up.is_empty() {
            text.push_str(&format!(
                "; sending it the {} it lacks",
                count(catch_up.len(), "block")
            ));
        }
        self.console.say(&text);
        Ok(())
    }

    fn not_synced(&self) -> Vec<ClientId> {
        self.links
            .values()
            .filter(|link| !link.synced)
            .map(|link| link.peer)
            .collect()
    }

    fn join_if_synced(&mut self) -> io::Result<()> {
        if self.joined || !self.not_synced().is_empty() {
            return Ok(());
        }
        self.joined = true;
        self.console.say(&format!(
            "ready: heard from every peer; ledger has {}, own balance {}",
            count(self.client.ledger().len(), "block"),
            self.client.ledger().balance(self.id)
        ));
        while let Some(note) = self.held.pop_front() {
            self.hand_over(note)?;
        }
        Ok(())
    }

    fn connected_now(&self, peer: ClientId) -> bool {
        self.conns.get(&peer).is_some_and(|conn| conn.started)
    }

    /// "node 3 (not connected)", "nodes 2 and 3 (3 not connected)".
    fn describe_peers(&self, peers: &[ClientId]) -> String {
        let down: Vec<String> = peers
            .iter()
            .filter(|&&peer| !self.connected_now(peer))
            .map(ToString::to_string)
            .collect();
        let mut text = name_nodes(peers);
        if !down.is_empty() {
            if down.len() == peers.len() {
                text.push_str(" (not connected)");
            } else {
                text.push_str(&format!(" ({} not connected)", down.join(", ")));
            }
        }
        text
    }

    /// Who the current transfer waits for, in one line.
    fn wait_description(&self) -> Option<String> {
        let current = self.current.as_ref()?;
        let reason = self.client.wait_reason()?;
        let not_connected = |peer: ClientId| {
            if self.connected_now(peer) {
                ""
            } else {
                ", not connected"
            }
        };
        let mut parts = Vec::new();
        if let Some((ts, id)) = reason.queued_behind {
            let stale = self
                .earlier_runs_up_to
                .get(&id)
                .is_some_and(|&up_to| ts <= up_to);
            parts.push(if stale {
                format!(
                    "behind request ({ts},{id}) of an earlier run of node {id}, which stopped \
                     before releasing it; Lamport's algorithm never drops a request, so this \
                     transfer cannot finish (exit every node and start them again: the ledgers \
                     stay in their data directories)"
                )
            } else {
                format!(
                    "behind request ({ts},{id}) of node {id}{}",
                    if self.connected_now(id) {
                        ""
                    } else {
                        " (not connected)"
                    }
                )
            });
        }
        for (peer, seen) in &reason.silent_peers {
            parts.push(format!(
                "for node {peer} to send a timestamp later than {} (latest from it: {seen}{})",
                current.ts,
                not_connected(*peer)
            ));
        }
        for peer in &reason.missing_replies {
            parts.push(format!(
                "for a REPLY from node {peer}{}",
                not_connected(*peer)
            ));
        }
        for peer in &reason.missing_acks {
            parts.push(format!(
                "for an UPDATED from node {peer}{}",
                not_connected(*peer)
            ));
        }
        if parts.is_empty() {
            return None;
        }
        Some(format!(
            "{} waits with request ({},{}): {}",
            current.note.name(),
            current.ts,
            self.id,
            parts.join("; ")
        ))
    }

    /// The peers the current transfer waits for.
    fn waited_peers(&self) -> Vec<ClientId> {
        let Some(reason) = self.client.wait_reason() else {
            return Vec::new();
        };
        let mut peers: Vec<ClientId> = reason
            .queued_behind
            .map(|(_, id)| id)
            .into_iter()
            .chain(reason.silent_peers.iter().map(|&(peer, _)| peer))
            .chain(reason.missing_replies.iter().copied())
            .chain(reason.missing_acks.iter().copied())
            .filter(|&peer| peer != self.id)
            .collect();
        peers.sort_unstable();
        peers.dedup();
        peers
    }

    /// Says at once who a transfer waits for when one of them is not connected (and has not
    /// been said since the request).
    fn report_if_waiting_on_a_lost_peer(&mut self) {
        let Some(current) = self.current else {
            return;
        };
        if current.last_report.is_some()
            || !matches!(self.client.phase(), Phase::Waiting { .. })
            || self
                .waited_peers()
                .iter()
                .all(|&peer| self.connected_now(peer))
        {
            return;
        }
        self.report_wait(Instant::now());
    }

    fn report_wait(&mut self, now: Instant) {
        if let Some(text) = self.wait_description() {
            self.console.say(&text);
        }
        if let Some(current) = &mut self.current {
            current.last_report = Some(now);
        }
    }

    fn tick(&mut self, now: Instant) {
        let heartbeat = self
            .last_heartbeat
            .is_none_or(|at| now.duration_since(at) >= HEARTBEAT_EVERY);
        if heartbeat {
            self.last_heartbeat = Some(now);
        }
        let peers: Vec<ClientId> = self.links.keys().copied().collect();
        for peer in peers {
            let (Some(link), Some(conn)) = (self.links.get_mut(&peer), self.conns.get(&peer))
            else {
                continue;
            };
            if now.duration_since(conn.last_heard) >= SILENCE_LIMIT {
                self.give_up_silent(peer);
                continue;
            }
            if conn.started && (link.owes_ack() || heartbeat) {
                conn.connection.send(&SessionBody::Ack {
                    ack: link.ack_to_send(),
                });
            }
        }
        if let Some(current) = self.current
            && matches!(self.client.phase(), Phase::Waiting { .. })
        {
            let since = current.last_report.unwrap_or(current.requested_at);
            let due = now.duration_since(since) >= WAIT_REPORT_EVERY;
            if due {
                self.report_wait(now);
            }
        }
        if !self.held.is_empty() {
            let due = self
                .held_reported
                .is_none_or(|at| now.duration_since(at) >= WAIT_REPORT_EVERY);
            if due {
                self.held_reported = Some(now);
                let names: Vec<String> = self.held.iter().map(Note::name).collect();
                let silent = self.not_synced();
                self.console.say(&format!(
                    "{} still {} to hear from {} before asking for the mutex",
                    names.join(", "),
                    if names.len() == 1 { "waits" } else { "wait" },
                    self.describe_peers(&silent)
                ));
            }
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        for conn in self.conns.values() {
            conn.connection.close();
        }
        if let Some(trace) = self.trace.take() {
            let ledger = self.client.ledger();
            trace.finish(
                &self.cluster.initial_balances(),
                ledger.table().to_vec(),
                ledger.head_hash(),
            )?;
        }
        self.console.say(&format!(
            "node {} stopped with {}, head {}",
            self.id,
            count(self.client.ledger().len(), "block"),
            short_hex(&self.client.ledger().head_hash())
        ));
        Ok(())
    }
}
