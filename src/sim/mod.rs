//! The deterministic discrete-event simulator: one single-threaded loop over an event queue
//! keyed by (time, insertion sequence), integer microseconds, seeded `ChaCha8Rng` streams, a
//! network model, and a loop bounded by `limits.max_events` and `limits.max_time_us`.
//!
//! It drives [`Node`]s (the pure [`crate::protocol::Client`]s, or another implementation)
//! through the shared driver (`crate::drive`), which turns their outputs into trace
//! [`Event`]s for the online [`Checker`] and the caller's sinks. It keeps no trace in memory.
//! The loop is generic over the node type, so the built-in clients' path is compiled for
//! them alone.

mod checked;
mod explain;
pub mod network;
mod queue;
pub mod rng;
#[cfg(test)]
mod tests;
mod workload;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::check::Checker;
use crate::drive::{Driver, Host};
use crate::node::{NodeSpec, ProcessNode};
use crate::protocol::node::NodeWrapper;
use crate::protocol::{
    Amount, Client, ClientConfig, ClientId, Message, Node, Outbox, Timer, Timestamp,
};
use crate::scenario::{FaultsSpec, Keep, MemoryBudgetExceeded, NodeProgram, Scenario};
use crate::trace::{Direction, DropReason, Event, EventKind, EventSink, Kept};

pub use crate::drive::RecordedViolation;

pub use queue::EventQueue;
pub use workload::{WorkItem, Workload};

use checked::Checked;
use explain::{Explaining, ReplayReachedViolation, explain_with_messages, starts_afresh};
use network::{Network, Route};
use rng::{Stream, stream_rng};

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Nothing was left to happen.
    Quiescent,
    /// A safety invariant broke and the run stopped there.
    Violation,
    /// `limits.max_events` trace events were written (the step that reached the limit
    /// completes, so a trace may hold a few events more).
    MaxEvents,
    /// The next event lay beyond `limits.max_time_us`.
    MaxTime,
}

impl EndReason {
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Quiescent => "quiescent",
            EndReason::Violation => "violation",
            EndReason::MaxEvents => "max_events",
            EndReason::MaxTime => "max_time",
        }
    }
}

/// Options that change how a run proceeds (not what the scenario is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Stop at the first safety violation (the default) or keep going.
    pub stop_at_first_violation: bool,
    /// Explain violations with the messages involved (the default). Without, the same
    /// violations are found, at the same events, but their `detail` names no message, so the
    /// trace differs. For runs that only need the verdict. Either way the checker keeps no
    /// message logs while the run passes: a run that finds a violation is replayed up to it
    /// with the logs, to explain it.
    pub explain_with_messages: bool,
    /// Every this many commits, the clients (and the checker) forget the ledger blocks no
    /// message can bring back, so memory stays flat over long runs (`u64::MAX`: never).
    /// Nothing observable depends on it; the tests vary it to show that.
    pub forget_blocks_every: u64,
}

/// Commits between two passes that forget unreachable blocks: the retained blocks stay in the
/// thousands, and the pass's scan of the messages in flight is rare.
pub const FORGET_BLOCKS_EVERY: u64 = 1024;

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            stop_at_first_violation: true,
            explain_with_messages: true,
            forget_blocks_every: FORGET_BLOCKS_EVERY,
        }
    }
}

impl RunOptions {
    /// The fastest run that still checks every invariant: for a verdict and nothing else.
    pub fn verdict_only() -> Self {
        RunOptions {
            explain_with_messages: false,
            ..RunOptions::default()
        }
    }
}

/// What a finished run leaves behind.
pub struct RunResult<N = Client> {
    pub events: u64,
    pub end: EndReason,
    /// Simulated time of the last event processed.
    pub end_us: u64,
    pub committed: u64,
    pub aborted: u64,
    pub messages_sent: u64,
    pub violations: Vec<RecordedViolation>,
    /// The clients in their final state.
    pub clients: Vec<N>,
}

impl<N> RunResult<N> {
    /// The same result with each client turned into another type.
    pub fn map_clients<M>(self, into: impl FnMut(N) -> M) -> RunResult<M> {
        RunResult {
            events: self.events,
            end: self.end,
            end_us: self.end_us,
            committed: self.committed,
            aborted: self.aborted,
            messages_sent: self.messages_sent,
            violations: self.violations,
            clients: self.clients.into_iter().map(into).collect(),
        }
    }
}

enum Pending {
    Deliver {
        from: ClientId,
        to: ClientId,
        msg_id: u64,
        msg: Message,
    },
    Fault(Fault),
    Work(WorkItem),
    Timer {
        client: ClientId,
        /// The client's incarnation when the timer was armed.
        incarnation: u32,
        timer: Timer,
    },
}

/// A scheduled fault, by its index in the scenario's `faults` lists.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Partition(usize),
    Heal(usize),
    Crash(usize),
    Restart(usize),
}

/// The error of a run whose node failed: its sentence, as the error's message.
#[cold]
fn node_failed(sentence: String) -> io::Error {
    io::Error::other(NodeFailed(sentence))
}

/// A node failed (it exited, hung or broke the wire protocol): one sentence naming the
/// client, the step and the offending line.
#[derive(Debug)]
pub struct NodeFailed(pub String);

impl std::fmt::Display for NodeFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NodeFailed {}

/// The sentence of a run's error if a node failed.
pub fn node_failure(error: &io::Error) -> Option<&str> {
    let failed = error.get_ref()?.downcast_ref::<NodeFailed>()?;
    Some(&failed.0)
}

/// Runs a scenario to its end, handing every event to `sinks` as it happens.
pub fn simulate(
    scenario: &Scenario,
    options: RunOptions,
    sinks: &mut [&mut dyn EventSink],
) -> io::Result<RunResult> {
    if let Some(program) = &scenario.node {
        return simulate_programs(scenario, options, sinks, program);
    }
    let clients = builtin_clients(scenario);
    run_nodes(scenario, options, sinks, clients)
}

/// Runs a scenario whose clients are played by a program (docs/nodes.md), one process per
/// client. The result holds, for each client, a built-in client holding the node's final
/// ledger.
fn simulate_programs(
    scenario: &Scenario,
    options: RunOptions,
    sinks: &mut [&mut dyn EventSink],
    program: &NodeProgram,
) -> io::Result<RunResult> {
    let spec = NodeSpec {
        cmd: program.cmd.clone(),
        step_timeout: Duration::from_millis(program.step_timeout_ms),
    };
    let initial_balances: Arc<[Amount]> = scenario.initial_balances.clone().into();
    let configs = ClientId::all(scenario.clients).map(|id| client_config(scenario, id));
    let nodes = ProcessNode::start_all(&spec, configs, initial_balances).map_err(node_failed)?;
    let mut result = run_nodes(scenario, options, sinks, nodes)?;
    result.clients.iter_mut().for_each(ProcessNode::close_input);
    let mut ids = ClientId::all(scenario.clients);
    Ok(result.map_clients(|node| {
        let id = ids.next().expect("one node per client");
        Client::with_ledger(&client_config(scenario, id), node.into_ledger())
    }))
}

/// Runs a scenario with the given nodes (index `id - 1` is client `id`), as [`simulate`]
/// does with the built-in clients. Nodes that cannot be replayed in-process keep the message
/// logs from the start when the violations are to be explained with messages.
///
/// The nodes must be one per client, each made for its client (its `id()`); every step's
/// outputs are held to the rules of docs/nodes.md ("A client in Rust",
/// [`broken_rule`](crate::protocol::node::broken_rule)). A node that breaks one, changes its
/// id or reports a failure ([`Node::take_failure`]) ends the run with an error whose message
/// is one sentence naming the client, the step and the output ([`node_failure`] reads it).
pub fn simulate_nodes<N: Node>(
    scenario: &Scenario,
    options: RunOptions,
    sinks: &mut [&mut dyn EventSink],
    clients: Vec<N>,
) -> io::Result<RunResult<N>> {
    if let Some(misfit) = checked::misfit(&clients, scenario.clients) {
        return Err(node_failed(misfit));
    }
    let checked = clients
        .into_iter()
        .enumerate()
        .map(|(slot, node)| Checked::new(node, ClientId::from_index(slot), scenario.clients))
        .collect();
    let result = run_nodes(scenario, options, sinks, checked)?;
    Ok(result.map_clients(Checked::into_inner))
}

/// [`simulate_nodes`] for nodes whose outputs need no check: the built-in clients, and node
/// programs (the wire reader checks their lines).
pub(crate) fn run_nodes<N: Node>(
    scenario: &Scenario,
    options: RunOptions,
    sinks: &mut [&mut dyn EventSink],
    clients: Vec<N>,
) -> io::Result<RunResult<N>> {
    let explaining = if !options.explain_with_messages {
        Explaining::VerdictOnly
    } else if starts_afresh::<N>(scenario) {
        Explaining::Lazily(explain_with_messages::<N>)
    } else {
        Explaining::WithMessages
    };
    let mut simulator = Simulator::new(scenario, options, explaining, sinks, clients);
    simulator.run()?;
    simulator.finish()
}

/// The built-in clients of a scenario, in id order.
pub fn builtin_clients(scenario: &Scenario) -> Vec<Client> {
    let initial_balances: Arc<[Amount]> = scenario.initial_balances.clone().into();
    ClientId::all(scenario.clients)
        .map(|id| {
            // One shared copy of the initial balances for every client's table.
            Client::new(&client_config(scenario, id), Arc::clone(&initial_balances))
        })
        .collect()
}

/// Client `id`'s settings in a run of `scenario`.
pub fn client_config(scenario: &Scenario, id: ClientId) -> ClientConfig {
    ClientConfig {
        id,
        clients: scenario.clients,
        cs_us: scenario.cs_us,
        variant: scenario.protocol.to_protocol(),
        mutations: scenario.mutation_set(),
    }
}

/// Every how many commits the run forgets unreachable blocks: never if some client restarts
/// with nothing, as its ledger then starts over and its new blocks meet the old ones (in the
/// peers' ledgers and in the checker's comparison).
fn forget_blocks_every(scenario: &Scenario, options: RunOptions) -> u64 {
    let ledgers_never_shrink = scenario
        .faults
        .crashes
        .iter()
        .all(|crash| crash.keep == Keep::Ledger);
    if ledgers_never_shrink {
        options.forget_blocks_every
    } else {
        u64::MAX
    }
}

/// The online checker for a run: with message logs only if `explaining` keeps them, and
/// forgetting the blocks every client holds when the run forgets blocks at all.
fn checker_for(scenario: &Scenario, options: RunOptions, explaining: Explaining) -> Checker {
    let mut checker =
        Checker::new(&scenario.initial_balances).reserving_blocks(blocks_to_reserve(scenario));
    if !explaining.keeps_message_logs() {
        checker = checker.without_message_logs();
    }
    if forget_blocks_every(scenario, options) != u64::MAX {
        checker = checker.forgetting_agreed_blocks();
    }
    checker
}

/// How many blocks to make room for at the start of a run, in every ledger and the checker's
/// chain: one per transfer of the workload, at most [`FORGET_BLOCKS_EVERY`] (a longer run
/// grows past that, or forgets blocks), so that a short run's ledgers never reallocate and
/// copy their blocks as they grow.
fn blocks_to_reserve(scenario: &Scenario) -> usize {
    let generated = scenario
        .generated
        .as_ref()
        .map_or(0, |generated| generated.count);
    let transfers = (scenario.transfers.len() as u64).saturating_add(generated);
    transfers.min(FORGET_BLOCKS_EVERY) as usize
}

/// A run in progress: the driver, the clients, and the world around them.
struct Simulator<'s, 'a, 'k, N: Node> {
    /// Numbers, checks and counts the events; see [`crate::drive`].
    driver: Driver,
    clients: Vec<N>,
    world: World<'s, 'a, 'k>,
    faults: FaultsSpec,
    /// Index `id - 1`: the client is crashed.
    down: Vec<bool>,
    workload: Workload<'s>,
    max_events: u64,
    max_time_us: u64,
    /// The most events the run may hold queued (`limits.max_memory_mib`).
    max_queued_events: usize,
    /// Commits between two passes that forget unreachable blocks (`u64::MAX`: never).
    forget_blocks_every: u64,
    /// The commit count at which to forget unreachable blocks next.
    forget_at_commits: u64,
    end: Option<EndReason>,
}

/// What the driver hands back to during a run: the sinks for events, the network for sends,
/// the event queue for timers and deliveries.
struct World<'s, 'a, 'k> {
    scenario: &'s Scenario,
    options: RunOptions,
    explaining: Explaining,
    network: Network,
    queue: EventQueue<Pending>,
    /// Index `id - 1`: how many times the client crashed.
    incarnations: Vec<u32>,
    now_us: u64,
    sinks: &'a mut [&'k mut dyn EventSink],
}

impl Host for World<'_, '_, '_> {
    #[inline]
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.sinks.iter_mut().try_for_each(|sink| sink.event(event))
    }

    /// A run with no sinks (a run for its verdict) need not build its message and block
    /// events.
    fn wants_events(&self) -> bool {
        !self.sinks.is_empty()
    }

    /// The network's verdict on a sent message: lost (a `drop` event), delivered once, or
    /// delivered twice (a `duplicate` event). Inlined into the loop of every node type: two
    /// events in three are a message's.
    #[inline(always)]
    fn carry(
        &mut self,
        driver: &mut Driver,
        from: ClientId,
        clock: Timestamp,
        to: ClientId,
        msg_id: u64,
        msg: Message,
    ) -> io::Result<()> {
        match self.network.route(from, to, self.now_us) {
            Route::Lost(reason) => {
                driver.emit(self, Some(from), clock, EventKind::Drop { msg_id, reason })
            }
            Route::Deliver {
                at_us,
                duplicate_at_us,
            } => {
                if let Some(duplicate_at_us) = duplicate_at_us {
                    driver.emit(self, Some(from), clock, EventKind::Duplicate { msg_id })?;
                    let copy = Pending::Deliver {
                        from,
                        to,
                        msg_id,
                        msg: msg.clone(),
                    };
                    self.queue.push(duplicate_at_us, copy);
                }
                self.queue.push_with(at_us, || Pending::Deliver {
                    from,
                    to,
                    msg_id,
                    msg,
                });
                Ok(())
            }
        }
    }

    /// Inlined into the loop of every node type, as [`Self::carry`]: a timer per transfer.
    #[inline(always)]
    fn set_timer(&mut self, node: ClientId, after_us: u64, timer: Timer) {
        let incarnation = self.incarnations[node.index()];
        self.queue.push(
            self.now_us.saturating_add(after_us),
            Pending::Timer {
                client: node,
                incarnation,
                timer,
            },
        );
    }

    fn before_reporting(&mut self, driver: &mut Driver) -> io::Result<()> {
        match self.explaining {
            Explaining::Replay => Err(io::Error::other(ReplayReachedViolation)),
            Explaining::Lazily(explain) => {
                self.explaining = Explaining::WithMessages;
                explain(self.scenario, self.options, driver)
            }
            Explaining::VerdictOnly | Explaining::WithMessages => Ok(()),
        }
    }
}

impl<'s, 'a, 'k, N: Node> Simulator<'s, 'a, 'k, N> {
    fn new(
        scenario: &'s Scenario,
        options: RunOptions,
        explaining: Explaining,
        sinks: &'a mut [&'k mut dyn EventSink],
        mut clients: Vec<N>,
    ) -> Self {
        debug_assert_eq!(clients.len(), scenario.clients as usize);
        for client in &mut clients {
            client.reserve_blocks(blocks_to_reserve(scenario));
        }
        let clients_len = scenario.clients as usize;
        let checker = checker_for(scenario, options, explaining);
        let network = {
            let rng = stream_rng(scenario.seed, Stream::Network);
            let mut network = Network::new(&scenario.network, scenario.clients, rng);
            network.pin(&scenario.schedule);
            network
        };
        Simulator {
            driver: Driver::new(checker, options.stop_at_first_violation),
            clients,
            world: World {
                scenario,
                options,
                explaining,
                network,
                queue: EventQueue::new(),
                incarnations: vec![0; clients_len],
                now_us: 0,
                sinks,
            },
            faults: scenario.faults.clone(),
            down: vec![false; clients_len],
            workload: Workload::new(scenario, stream_rng(scenario.seed, Stream::Workload)),
            max_events: scenario.limits.max_events,
            max_time_us: scenario.limits.max_time_us,
            max_queued_events: scenario.max_queued_events(),
            forget_blocks_every: forget_blocks_every(scenario, options),
            forget_at_commits: forget_blocks_every(scenario, options),
            end: None,
        }
    }

    /// Writes one event that is not a client's output, then reports what the checker found.
    fn emit(
        &mut self,
        node: Option<ClientId>,
        clock: Timestamp,
        kind: EventKind,
    ) -> io::Result<()> {
        let clients = self.clients.as_slice();
        self.driver
            .emit_and_report(&mut self.world, clients, node, clock, kind)
    }

    /// Lets every client forget the blocks that no message can bring back to it: those
    /// below the shortest ledger and below every block still in flight. A client looks an
    /// old block up only when one with that index arrives, and every later commit extends
    /// some ledger at its end, so nothing observable changes; memory stays flat over long
    /// runs. Called once per batch of commits: the in-flight scan is O(queue).
    fn forget_unreachable_blocks(&mut self) {
        let committed = self.driver.counts().committed;
        self.forget_at_commits = committed.saturating_add(self.forget_blocks_every);
        let shortest = self
            .clients
            .iter()
            .map(|client| client.ledger().len())
            .min();
        let in_flight = self
            .world
            .queue
            .items()
            .filter_map(|pending| match pending {
                Pending::Deliver { msg, .. } => msg.block().map(|block| block.index()),
                _ => None,
            });
        let Some(reachable_from) = shortest.into_iter().chain(in_flight).min() else {
            return;
        };
        for client in &mut self.clients {
            client.forget_blocks_before(reachable_from);
        }
    }

    fn run(&mut self) -> io::Result<()> {
        // Where the clients put their outputs, reused for every step. Kept out of `self` so
        // that handling the outputs can borrow both without moving the outbox in and out.
        let mut outbox = Outbox::new();
        self.driver.attach(&self.world);
        let faults = self.faults.clone();
        self.schedule_faults(&faults);
        self.schedule_next_work();
        while self.end.is_none() {
            if self.driver.events() >= self.max_events {
                self.end = Some(EndReason::MaxEvents);
                break;
            }
            let Some((at_us, pending)) = self.world.queue.pop() else {
                self.end = Some(EndReason::Quiescent);
                break;
            };
            if at_us > self.max_time_us {
                // The run is judged at the limit, not at its last event.
                self.set_now(self.max_time_us);
                self.end = Some(EndReason::MaxTime);
                break;
            }
            debug_assert!(at_us >= self.world.now_us, "simulated time went backwards");
            self.set_now(at_us);
            self.dispatch(pending, &mut outbox)?;
            if self.world.queue.len() > self.max_queued_events {
                return Err(self.over_memory_budget());
            }
            if self.driver.stopped() {
                self.end = Some(EndReason::Violation);
            }
            if self.driver.counts().committed >= self.forget_at_commits {
                self.forget_unreachable_blocks();
            }
        }
        Ok(())
    }

    #[cold]
    fn over_memory_budget(&self) -> io::Error {
        io::Error::other(MemoryBudgetExceeded {
            source: self.world.scenario.source.clone(),
            queued_events: self.world.queue.len(),
            at_us: self.world.now_us,
            max_memory_mib: self.world.scenario.limits.max_memory_mib,
        })
    }

    #[inline]
    fn set_now(&mut self, now_us: u64) {
        self.world.now_us = now_us;
        self.driver.set_now(now_us);
    }

    /// Hands one pending item to its client and emits what comes out. Inlined into the
    /// loop, so that the item's fields are read where the queue kept it: passed as an
    /// argument, it is copied whole first, and its fields read back from the copy stall the
    /// CPU (a wide store does not forward to the narrower loads that follow).
    #[inline(always)]
    fn dispatch(&mut self, pending: Pending, outbox: &mut Outbox) -> io::Result<()> {
        match pending {
            Pending::Deliver {
                from,
                to,
                msg_id,
                msg,
            } => {
                self.world.network.delivered(from, to, self.world.now_us);
                if self.down[to.index()] {
                    let clock = self.clients[to.index()].clock();
                    let reason = DropReason::Crashed;
                    return self.emit(Some(to), clock, EventKind::Drop { msg_id, reason });
                }
                self.clients[to.index()].handle_message(from, &msg, outbox);
                self.check_node(to)?;
                self.emit_outputs(to, Some((msg_id, &msg)), outbox)
            }
            Pending::Work(item) => {
                self.schedule_next_work();
                // A command typed into a crashed client's terminal is lost.
                if self.down[item.client.index()] {
                    return Ok(());
                }
                let client = &mut self.clients[item.client.index()];
                // Scenario validation makes every workload command valid; a refused one would
                // change nothing and emit nothing, so there is nothing to trace.
                let _ = client.handle_command(item.command, outbox);
                self.check_node(item.client)?;
                self.emit_outputs(item.client, None, outbox)
            }
            Pending::Timer {
                client,
                incarnation,
                timer,
            } => {
                if self.world.incarnations[client.index()] != incarnation {
                    return Ok(());
                }
                self.clients[client.index()].handle_timer(timer, outbox);
                self.check_node(client)?;
                self.emit_outputs(client, None, outbox)
            }
            Pending::Fault(fault) => self.apply_fault(fault),
        }
    }

    /// Ends the run with the node's failure, if its last step failed (a node in another
    /// program that exited or broke the wire protocol). The built-in clients never fail.
    #[inline(always)]
    fn check_node(&mut self, node: ClientId) -> io::Result<()> {
        match self.clients[node.index()].take_failure() {
            None => Ok(()),
            Some(sentence) => Err(node_failed(sentence)),
        }
    }

    fn schedule_next_work(&mut self) {
        if let Some(item) = self.workload.next_item() {
            self.world.queue.push(item.at_us, Pending::Work(item));
        }
    }

    /// Hands the client's outputs to the driver. `delivered` is the message being handled,
    /// lent rather than moved: a run for its verdict only reads it.
    #[inline]
    fn emit_outputs(
        &mut self,
        node: ClientId,
        delivered: Option<(u64, &Message)>,
        outbox: &mut Outbox,
    ) -> io::Result<()> {
        let clients = self.clients.as_slice();
        self.driver
            .outputs(&mut self.world, clients, node, delivered, outbox)
    }

    /// Partitions and crashes at their times. Scheduled before any workload, so a fault and a
    /// command at the same time happen in that order.
    fn schedule_faults(&mut self, faults: &FaultsSpec) {
        let queue = &mut self.world.queue;
        for (id, partition) in faults.partitions.iter().enumerate() {
            queue.push(partition.at_us, Pending::Fault(Fault::Partition(id)));
            if let Some(heal_us) = partition.heal_us {
                queue.push(heal_us, Pending::Fault(Fault::Heal(id)));
            }
        }
        for (id, crash) in faults.crashes.iter().enumerate() {
            queue.push(crash.at_us, Pending::Fault(Fault::Crash(id)));
            if let Some(restart_us) = crash.restart_us {
                queue.push(restart_us, Pending::Fault(Fault::Restart(id)));
            }
        }
    }

    fn apply_fault(&mut self, fault: Fault) -> io::Result<()> {
        match fault {
            Fault::Partition(id) | Fault::Heal(id) => {
                let partition = &self.faults.partitions[id];
                let groups = partition.groups.clone();
                let direction = if partition.one_way {
                    Direction::OneWay
                } else {
                    Direction::Both
                };
                let network = &mut self.world.network;
                let kind = if matches!(fault, Fault::Partition(_)) {
                    network.cut(id, partition);
                    EventKind::Partition { groups, direction }
                } else {
                    network.heal(id);
                    EventKind::Heal { groups, direction }
                };
                self.emit(None, 0, kind)
            }
            Fault::Crash(id) => {
                let node = self.faults.crashes[id].client;
                let slot = node.index();
                self.down[slot] = true;
                // Timers armed before the crash must not fire into the next incarnation.
                self.world.incarnations[slot] += 1;
                let clock = self.clients[slot].clock();
                self.emit(Some(node), clock, EventKind::Crash)
            }
            Fault::Restart(id) => {
                let crash = self.faults.crashes[id];
                let slot = crash.client.index();
                let keep_ledger = crash.keep == Keep::Ledger;
                self.clients[slot].restart(keep_ledger);
                self.check_node(crash.client)?;
                self.down[slot] = false;
                let kept = if keep_ledger {
                    Kept::Ledger
                } else {
                    Kept::Nothing
                };
                let clock = self.clients[slot].clock();
                self.emit(Some(crash.client), clock, EventKind::Restart { kept })
            }
        }
    }

    /// End-of-run checks: ledgers equal at quiescence, and liveness.
    fn finish(mut self) -> io::Result<RunResult<N>> {
        let end = self.end.unwrap_or(EndReason::Quiescent);
        if end != EndReason::Violation {
            self.judge_end()?;
        }
        let counts = self.driver.counts();
        Ok(RunResult {
            events: counts.events,
            end,
            end_us: self.world.now_us,
            committed: counts.committed,
            aborted: counts.aborted,
            messages_sent: counts.messages_sent,
            violations: self.driver.into_violations(),
            clients: self.clients,
        })
    }

    /// The checks of a run that ended without a safety violation stopping it.
    fn judge_end(&mut self) -> io::Result<()> {
        let end = self.end.unwrap_or(EndReason::Quiescent);
        let why_ended = match end {
            EndReason::MaxEvents => {
                format!("at limits.max_events ({} events)", self.max_events)
            }
            EndReason::MaxTime => format!("at limits.max_time_us ({}us)", self.max_time_us),
            _ => "with nothing left in flight".to_string(),
        };
        let quiescent = end == EndReason::Quiescent;
        let (world, clients) = (&mut self.world, self.clients.as_slice());
        self.driver
            .judge_end(world, clients, &self.down, quiescent, &why_ended)
    }
}
