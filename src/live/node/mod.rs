//! The node loop: one thread owns the client and everything that changes state. Lines from
//! standard input and frames from the network threads arrive as [`Input`]s on one channel;
//! the timers the client arms are deadlines the loop waits for. After every input the loop
//! does, in this order: append new blocks to the data directory and sync them, write the
//! step's trace lines and hand them to the operating system, then queue the step's messages.
//! So nothing a peer hears about is missing from the disk or the trace.
//!
//! The client is the built-in [`Client`] or a program of one's own (`--node-cmd`, a
//! [`ProcessNode`] driven in lockstep as in the simulator): the loop is generic over
//! [`LiveClient`].
//!
//! Here: start-up and the loop. `client` says what the loop needs of a client; `commands`
//! handles what the user types; `step` hands a client step to the shared driver and says its
//! events on the console; `peers` handles connections and sessions; `wait` says what a
//! waiting transfer waits for and does the loop's periodic work.

mod client;
mod commands;
mod peers;
mod step;
mod wait;

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufRead, IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use client::LiveClient;
use step::NodeHost;

use super::cluster::{Cluster, KeySource, NodeSpec};
use super::guard::LogLimit;
use super::input::{Connection, Input};
use super::net::{self, NetConfig};
use super::prompt::name_nodes;
use super::session::{Link, Resume};
use super::storage::Storage;
use super::trace::{LiveHeader, NodeTrace, live_header, node_summary};
use super::wire::{MSG_ID_NODE_SHIFT, Purpose};
use crate::drive::{Driver, Unchecked};
use crate::node::ProcessNode;
use crate::protocol::ledger::short_hex;
use crate::protocol::{
    Amount, Block, Client, ClientConfig, ClientId, Message, Mutations, Outbox, Timer, Timestamp,
};
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
    /// The client entered the critical section for it.
    entered: bool,
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

/// The REQUEST messages of the outstanding request (a message of type `request` carrying the
/// request's timestamp, the built-in client's or a program's), by peer: sent again to a peer
/// that comes back as a new incarnation.
#[derive(Clone, Debug)]
struct Outstanding {
    ts: Timestamp,
    sent: BTreeMap<ClientId, (u64, Message)>,
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

struct Node<C: LiveClient> {
    id: ClientId,
    cluster: Cluster,
    client: C,
    outbox: Outbox,
    links: BTreeMap<ClientId, Link>,
    conns: BTreeMap<ClientId, Conn>,
    /// The last incarnation each peer connected with.
    peer_incarnations: BTreeMap<ClientId, u64>,
    /// For a peer that restarted: the largest timestamp heard from its earlier runs. A request
    /// of that peer at or below it was made by a run that is gone and will never be released.
    earlier_runs_up_to: BTreeMap<ClientId, Timestamp>,
    incarnation: u64,
    /// Numbers and counts the node's events (it checks nothing: a node sees one client).
    driver: Driver<Unchecked>,
    /// The trace file and what the driver hands back during a step.
    host: NodeHost,
    storage: Option<Storage>,
    /// The timers the client armed, by deadline (in the order armed for equal deadlines).
    timers: Vec<(Instant, Timer)>,
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
    /// A script's `wait`: lines that come in before this moment run after it.
    paused_until: Option<Instant>,
    after_pause: VecDeque<String>,
    exit: bool,
    /// When the last round of heartbeats went out.
    last_heartbeat: Option<Instant>,
    /// Why the client program failed (it exited, hung or broke the wire protocol): the node
    /// stops with this sentence.
    failure: Option<String>,
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
            // A client program must not outlive the node.
            crate::node::stop_all();
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
    let initial = cluster.initial_balances();
    let console = Console {
        out,
        log: Arc::clone(&log),
        id,
    };
    let (inputs, receiver) = mpsc::channel();
    // Before a client program starts, so that Ctrl-C is this node's to handle.
    watch_interrupts(inputs.clone(), &console);

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
    let config = ClientConfig {
        id,
        clients: cluster.clients(),
        cs_us: cluster.cs_us,
        variant: cluster.variant,
        mutations: Mutations::none(),
    };
    let program = cluster.program.clone();
    let start = Start {
        id,
        cluster,
        data_dir,
        trace,
        listener,
        storage,
        restored,
        console,
        inputs,
        receiver,
        log,
    };
    match program {
        None => start.serve(Client::new(&config, initial)),
        Some(program) => {
            let client =
                ProcessNode::start_with_ledger(&program, config, initial.into(), &start.restored)
                    .map_err(usage)?;
            start.serve(client)
        }
    }
}

/// What a node has when its client is about to run: the listener, the data directory's
/// ledger, the console and the loop's channel.
struct Start {
    id: ClientId,
    cluster: Cluster,
    data_dir: Option<PathBuf>,
    trace: Option<PathBuf>,
    listener: std::net::TcpListener,
    storage: Option<Storage>,
    restored: Vec<Arc<Block>>,
    console: Console,
    inputs: mpsc::Sender<Input>,
    receiver: mpsc::Receiver<Input>,
    log: Arc<Mutex<dyn Write + Send>>,
}

impl Start {
    /// Runs the node with `client` until the user types `exit` or the client fails.
    fn serve<C: LiveClient>(self, client: C) -> Result<u8, NodeError> {
        let Start {
            id,
            cluster,
            data_dir,
            trace,
            listener,
            storage,
            restored,
            console,
            inputs,
            receiver,
            log,
        } = self;
        let usage = |text: String| NodeError(text);
        let started = Instant::now();
        let epoch_unix_us = micros_since_epoch();
        let incarnation: u64 = rand::random();
        let life_tag: u64 = rand::random::<u64>() & 0xF_FFFF;
        let trace_file = match &trace {
            Some(path) => {
                let live = LiveHeader {
                    node: id,
                    cluster: cluster.name.clone(),
                    incarnation,
                    epoch_unix_us,
                };
                Some(create_trace(path, &cluster, &live)?)
            }
            None => None,
        };
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
            driver: Driver::new(Unchecked, false),
            host: NodeHost::new(
                trace_file,
                (u64::from(id.get()) << MSG_ID_NODE_SHIFT) | (life_tag << 32),
                started,
            ),
            storage,
            timers: Vec::new(),
            held: VecDeque::new(),
            accepted: VecDeque::new(),
            current: None,
            outstanding: None,
            joined: false,
            held_reported: None,
            next_transfer: 1,
            console,
            interactive: io::stdin().is_terminal(),
            paused_until: None,
            after_pause: VecDeque::new(),
            exit: false,
            last_heartbeat: None,
            failure: None,
        };
        let restored_note = node
            .restore(&restored, data_dir.as_deref())
            .map_err(|e| usage(format!("cannot write the trace: {e}")))?;

        let net_config = Arc::new(NetConfig {
            me: id,
            cluster: cluster.clone(),
            incarnation,
            inputs: inputs.clone(),
            log,
            log_limit: LogLimit::new(),
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
        // The loop owns a sender, so the channel never closes under it.
        let _keep = inputs;
        node.run(&receiver)
            .map_err(|e| NodeError(format!("node {id} stopped: {e}")))?;
        match node.failure.take() {
            None => Ok(0),
            Some(sentence) => {
                let kept = trace
                    .map(|path| {
                        let path = trace_path(&path, id, epoch_unix_us);
                        format!(" (its trace up to the failure is in {})", path.display())
                    })
                    .unwrap_or_default();
                Err(NodeError(format!("{sentence}; node {id} stopped{kept}")))
            }
        }
    }
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
fn create_trace(path: &Path, cluster: &Cluster, live: &LiveHeader) -> Result<NodeTrace, NodeError> {
    let path = trace_path(path, live.node, live.epoch_unix_us);
    let header = live_header(
        &cluster.name,
        cluster.initial_balances(),
        cluster.variant.name(),
        cluster.cs_us,
    );
    NodeTrace::create(&path, &header, live).map_err(|error| {
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

impl<C: LiveClient> Node<C> {
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
        let client = match &self.cluster.program {
            None => format!("protocol {}", self.cluster.variant.name()),
            Some(program) => format!("client program {:?}", program.cmd),
        };
        self.console.say(&format!(
            "node {} of cluster {:?}: listening on {bound}; peers {}; {client}, critical \
             section {} ms; frames authenticated with {key}",
            self.id,
            self.cluster.name,
            peers.join(", "),
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

    fn run(&mut self, inputs: &mpsc::Receiver<Input>) -> io::Result<()> {
        let mut next_tick = Instant::now() + TICK;
        while !self.exit {
            let now = Instant::now();
            let deadline = [self.timers.first().map(|&(at, _)| at), self.paused_until]
                .into_iter()
                .flatten()
                .fold(next_tick, Instant::min);
            match inputs.recv_timeout(deadline.saturating_duration_since(now)) {
                Ok(input) => self.input(input)?,
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let now = Instant::now();
            while let Some(&(at, timer)) = self.timers.first()
                && at <= now
            {
                self.timers.remove(0);
                self.client.handle_timer(timer, &mut self.outbox);
                self.after_step(None)?;
            }
            if next_tick <= now {
                next_tick = now + TICK;
                self.tick(now);
            }
            self.resume_script(now)?;
        }
        self.finish()
    }

    fn input(&mut self, input: Input) -> io::Result<()> {
        match input {
            Input::Line(line) => self.line(line)?,
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

    fn finish(&mut self) -> io::Result<()> {
        for conn in self.conns.values() {
            conn.connection.close();
        }
        if self.failure.is_some() {
            // The trace stays as it is, up to the failure and without a summary, as a killed
            // node's does.
            return self.host.flush();
        }
        if let Some(trace) = self.host.trace.take() {
            let ledger = self.client.ledger();
            let mut summary = node_summary(
                &self.driver,
                self.id,
                &self.cluster.initial_balances(),
                ledger.table().to_vec(),
                ledger.head_hash(),
            );
            trace.finish(&mut summary)?;
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
