//! The deterministic discrete-event simulator: one single-threaded loop over an event queue
//! keyed by (time, insertion sequence), integer microseconds, seeded `ChaCha8Rng` streams, a
//! network model, and a loop bounded by `limits.max_events` and `limits.max_time_us`.
//!
//! It drives the pure [`crate::protocol::Client`]s, turns their outputs into trace
//! [`Event`]s, feeds each event to the online [`Checker`] and to the caller's sinks. It keeps
//! no trace in memory.

pub mod network;
mod queue;
pub mod rng;
mod workload;

use std::io;
use std::mem::ManuallyDrop;
use std::sync::Arc;

use crate::check::{Checker, Violation, Waiter};
use crate::protocol::{
    Amount, Client, ClientConfig, ClientId, Message, Outbox, Output, OutputKind, Timer,
};
use crate::scenario::{FaultsSpec, Keep, Scenario};
use crate::trace::{Direction, DropReason, Event, EventKind, EventSink, Kept};

pub use queue::EventQueue;
pub use workload::{WorkItem, Workload};

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

/// A violation and where in the trace it was reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedViolation {
    pub violation: Violation,
    /// The `seq` of the violation event.
    pub seq: u64,
    pub t_us: u64,
}

/// Options that change how a run proceeds (not what the scenario is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOptions {
    /// Stop at the first safety violation (the default) or keep going.
    pub stop_at_first_violation: bool,
    /// Explain violations with the messages involved (the default). Without, the same
    /// violations are found, at the same events, but their `detail` names no message, so the
    /// trace differs. For runs that only need the verdict. Either way the checker keeps no
    /// message logs while the run passes (see [`Explaining::Lazily`]).
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
pub struct RunResult {
    pub events: u64,
    pub end: EndReason,
    /// Simulated time of the last event processed.
    pub end_us: u64,
    pub committed: u64,
    pub aborted: u64,
    pub messages_sent: u64,
    pub violations: Vec<RecordedViolation>,
    /// The clients in their final state.
    pub clients: Vec<Client>,
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

/// How a run comes by the explanations of its violations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Explaining {
    /// No message logs: explanations name no message.
    VerdictOnly,
    /// No message logs until a violation is found. Then the run so far is replayed
    /// ([`Explaining::Replay`]) and the replay's checker, which kept the logs and is in the
    /// same state otherwise, takes over and explains. Keeping the logs costs a quarter of a
    /// 64-client run's time; this way only a run that fails pays, about once more its length
    /// up to the violation.
    Lazily,
    /// Message logs from the start: a lazily explaining run after its replay.
    WithMessages,
    /// Message logs from the start, and stop at the first violation found, before reporting
    /// it: the replay of a lazily explaining run. No sinks.
    Replay,
}

impl Explaining {
    fn keeps_message_logs(self) -> bool {
        matches!(self, Explaining::WithMessages | Explaining::Replay)
    }
}

/// The error a replay stops with when it reaches the violation it was made to explain.
#[derive(Debug)]
struct ReplayReachedViolation;

impl std::fmt::Display for ReplayReachedViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the replay reached the violation to explain")
    }
}

impl std::error::Error for ReplayReachedViolation {}

/// Runs a scenario to its end, handing every event to `sinks` as it happens.
pub fn simulate(
    scenario: &Scenario,
    options: RunOptions,
    sinks: &mut [&mut dyn EventSink],
) -> io::Result<RunResult> {
    let explaining = if options.explain_with_messages {
        Explaining::Lazily
    } else {
        Explaining::VerdictOnly
    };
    let mut simulator = Simulator::new(scenario, options, explaining);
    simulator.run(sinks)?;
    simulator.finish(sinks)
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
/// grows past that, or forgets blocks). A sweep of 100-transfer runs grew each of 5 ledgers
/// 7 times per run (a reallocation and a copy each), which cost about 1% of its instructions.
fn blocks_to_reserve(scenario: &Scenario) -> usize {
    let generated = scenario
        .generated
        .as_ref()
        .map_or(0, |generated| generated.count);
    let transfers = (scenario.transfers.len() as u64).saturating_add(generated);
    transfers.min(FORGET_BLOCKS_EVERY) as usize
}

struct Simulator<'s> {
    scenario: &'s Scenario,
    clients: Vec<Client>,
    faults: FaultsSpec,
    /// Index `id - 1`: the client is crashed.
    down: Vec<bool>,
    /// Index `id - 1`: how many times the client crashed.
    incarnations: Vec<u32>,
    queue: EventQueue<Pending>,
    network: Network,
    workload: Workload,
    checker: Checker,
    options: RunOptions,
    explaining: Explaining,
    /// Whether `send` and `deliver` events go to the checker without being built
    /// ([`Self::messages_can_be_bare`]), for the sinks of the current run.
    bare_messages: bool,
    max_events: u64,
    max_time_us: u64,
    now_us: u64,
    next_seq: u64,
    next_msg_id: u64,
    committed: u64,
    /// Commits between two passes that forget unreachable blocks (`u64::MAX`: never).
    forget_blocks_every: u64,
    /// The commit count at which to forget unreachable blocks next.
    forget_at_commits: u64,
    aborted: u64,
    violations: Vec<RecordedViolation>,
    found: Vec<Violation>,
    end: Option<EndReason>,
}

impl<'s> Simulator<'s> {
    fn new(scenario: &'s Scenario, options: RunOptions, explaining: Explaining) -> Self {
        let initial_balances: Arc<[Amount]> = scenario.initial_balances.clone().into();
        let clients = (1..=scenario.clients)
            .map(|id| {
                let config = ClientConfig {
                    id,
                    clients: scenario.clients,
                    cs_us: scenario.cs_us,
                    variant: scenario.protocol.to_protocol(),
                    mutations: scenario.mutation_set(),
                };
                // One shared copy of the initial balances for every client's table.
                let mut client = Client::new(&config, Arc::clone(&initial_balances));
                client.reserve_blocks(blocks_to_reserve(scenario));
                client
            })
            .collect();
        let clients_len = scenario.clients as usize;
        Simulator {
            scenario,
            clients,
            faults: scenario.faults.clone(),
            down: vec![false; clients_len],
            incarnations: vec![0; clients_len],
            queue: EventQueue::new(),
            network: {
                let rng = stream_rng(scenario.seed, Stream::Network);
                let mut network = Network::new(&scenario.network, scenario.clients, rng);
                network.pin(&scenario.schedule);
                network
            },
            workload: Workload::new(scenario, stream_rng(scenario.seed, Stream::Workload)),
            checker: checker_for(scenario, options, explaining),
            options,
            explaining,
            bare_messages: false,
            max_events: scenario.limits.max_events,
            max_time_us: scenario.limits.max_time_us,
            now_us: 0,
            next_seq: 0,
            next_msg_id: 0,
            committed: 0,
            forget_blocks_every: forget_blocks_every(scenario, options),
            forget_at_commits: forget_blocks_every(scenario, options),
            aborted: 0,
            violations: Vec::new(),
            found: Vec::new(),
            end: None,
        }
    }

    /// Lets every client forget the blocks that no message can bring back to it: those
    /// below the shortest ledger and below every block still in flight. A client looks an
    /// old block up only when one with that index arrives, and every later commit extends
    /// some ledger at its end, so nothing observable changes; memory stays flat over long
    /// runs. Called once per batch of commits: the in-flight scan is O(queue).
    fn forget_unreachable_blocks(&mut self) {
        self.forget_at_commits = self.committed.saturating_add(self.forget_blocks_every);
        let shortest = self
            .clients
            .iter()
            .map(|client| client.ledger().len())
            .min();
        let in_flight = self.queue.items().filter_map(|pending| match pending {
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

    fn run(&mut self, sinks: &mut [&mut dyn EventSink]) -> io::Result<()> {
        // Where the clients put their outputs, reused for every step. Kept out of `self` so
        // that handling the outputs can borrow both without moving the outbox in and out.
        let mut outbox = Outbox::new();
        self.bare_messages = self.messages_can_be_bare(sinks);
        let faults = self.faults.clone();
        self.schedule_faults(&faults);
        self.schedule_next_work();
        while self.end.is_none() {
            if self.next_seq >= self.max_events {
                self.end = Some(EndReason::MaxEvents);
                break;
            }
            let Some((at_us, pending)) = self.queue.pop() else {
                self.end = Some(EndReason::Quiescent);
                break;
            };
            if at_us > self.max_time_us {
                // The run is judged at the limit, not at its last event.
                self.now_us = self.max_time_us;
                self.end = Some(EndReason::MaxTime);
                break;
            }
            debug_assert!(at_us >= self.now_us, "simulated time went backwards");
            self.now_us = at_us;
            self.dispatch(pending, &mut outbox, sinks)?;
            if self.committed >= self.forget_at_commits {
                self.forget_unreachable_blocks();
            }
        }
        Ok(())
    }

    /// Hands one pending item to its client and emits what comes out.
    fn dispatch(
        &mut self,
        pending: Pending,
        outbox: &mut Outbox,
        sinks: &mut [&mut dyn EventSink],
    ) -> io::Result<()> {
        match pending {
            Pending::Deliver {
                from,
                to,
                msg_id,
                msg,
            } => {
                self.network.delivered(from, to, self.now_us);
                if self.down[to as usize - 1] {
                    let clock = self.clients[to as usize - 1].clock();
                    let reason = DropReason::Crashed;
                    self.emit(Some(to), clock, EventKind::Drop { msg_id, reason }, sinks)?;
                    return self.report_found(sinks);
                }
                let client = &mut self.clients[to as usize - 1];
                client.handle_message(from, &msg, outbox);
                self.emit_outputs(to, Some((msg_id, &msg)), outbox, sinks)
            }
            Pending::Work(item) => {
                self.schedule_next_work();
                // A command typed into a crashed client's terminal is lost.
                if self.down[item.client as usize - 1] {
                    return Ok(());
                }
                let client = &mut self.clients[item.client as usize - 1];
                // Scenario validation makes every workload command valid; a refused one would
                // change nothing and emit nothing, so there is nothing to trace.
                let _ = client.handle_command(item.command, outbox);
                self.emit_outputs(item.client, None, outbox, sinks)
            }
            Pending::Timer {
                client,
                incarnation,
                timer,
            } => {
                if self.incarnations[client as usize - 1] != incarnation {
                    return Ok(());
                }
                self.clients[client as usize - 1].handle_timer(timer, outbox);
                self.emit_outputs(client, None, outbox, sinks)
            }
            Pending::Fault(fault) => {
                self.apply_fault(fault, sinks)?;
                self.report_found(sinks)
            }
        }
    }

    fn schedule_next_work(&mut self) {
        if let Some(item) = self.workload.next_item() {
            self.queue.push(item.at_us, Pending::Work(item));
        }
    }

    /// Turns the client's outputs into events (and sends, timers), in order. `delivered` is the
    /// message being handled, lent rather than moved: a run for its verdict only reads it, and
    /// moving it was a copy that stalled on reading back narrower stores.
    fn emit_outputs(
        &mut self,
        node: ClientId,
        mut delivered: Option<(u64, &Message)>,
        outbox: &mut Outbox,
        sinks: &mut [&mut dyn EventSink],
    ) -> io::Result<()> {
        let mut outputs = outbox.drain();
        if self.bare_messages
            && let Some((msg_id, msg)) = delivered.take()
        {
            // A delivery's first output is its receive, always: handled here, it skips the
            // jump on the output's kind below, which the outputs' varying order mispredicts.
            let Some(Output {
                clock,
                kind: OutputKind::Received { from },
            }) = outputs.next()
            else {
                unreachable!("a delivery's first output is its Received");
            };
            let found = &mut self.found;
            self.checker
                .observe_deliver(node, clock, from, msg_id, msg, found);
            self.next_seq += 1;
            self.report_found(sinks)?;
        }
        for output in outputs {
            let kind = match output.kind {
                OutputKind::Received { from } => {
                    let (msg_id, msg) = delivered.take().expect("a delivery produces one Received");
                    if self.bare_messages {
                        let found = &mut self.found;
                        self.checker
                            .observe_deliver(node, output.clock, from, msg_id, msg, found);
                        self.next_seq += 1;
                        self.report_found(sinks)?;
                        continue;
                    }
                    let msg = msg.clone();
                    EventKind::Deliver { msg_id, from, msg }
                }
                OutputKind::Send { to, msg } => {
                    self.send(node, output.clock, to, msg, sinks)?;
                    continue;
                }
                OutputKind::SetTimer { after_us, timer } => {
                    let incarnation = self.incarnations[node as usize - 1];
                    self.queue.push(
                        self.now_us.saturating_add(after_us),
                        Pending::Timer {
                            client: node,
                            incarnation,
                            timer,
                        },
                    );
                    continue;
                }
                OutputKind::Committed { index } => {
                    self.committed += 1;
                    self.emit_block_event(node, output.clock, index, true, sinks)?;
                    continue;
                }
                OutputKind::Applied { index } => {
                    self.emit_block_event(node, output.clock, index, false, sinks)?;
                    continue;
                }
                local => {
                    let ledger = self.clients[node as usize - 1].ledger();
                    let kind = EventKind::from_local_output(local, ledger)
                        .expect("receives, sends and timers are handled above");
                    if matches!(kind, EventKind::Abort { .. }) {
                        self.aborted += 1;
                    }
                    kind
                }
            };
            self.emit(Some(node), output.clock, kind, sinks)?;
            self.report_found(sinks)?;
        }
        Ok(())
    }

    /// The `commit` (`committed`) or `apply` event of the block at `index` of `node`'s ledger,
    /// then the check of the client's balance table, which the block changed.
    ///
    /// The event lends the ledger's block rather than holding a counted reference of its own:
    /// a clone and its drop were two atomic operations per commit and per apply, on a block
    /// that the ledger keeps anyway.
    fn emit_block_event(
        &mut self,
        node: ClientId,
        clock: u64,
        index: u64,
        committed: bool,
        sinks: &mut [&mut dyn EventSink],
    ) -> io::Result<()> {
        let client = &self.clients[node as usize - 1];
        let held = client.output_block(index);
        // The block is in the table already; the total is checked after the event.
        let total = client.ledger().table().total();
        // SAFETY: `lent` is a bitwise copy of the ledger's `Arc`, not counted. It goes into an
        // event that is never dropped (`ManuallyDrop`), so it is never counted down either,
        // and the checker and the sinks see the event only by shared reference: they can read
        // the block or clone the `Arc` (a real, counted reference to the same allocation), not
        // take the copy. The ledger's `Arc`, and so the allocation, outlives the event: nothing
        // here changes the ledger, and the event is gone at the end of this function.
        let lent = unsafe { std::ptr::read(held) };
        let kind = if committed {
            EventKind::Commit { block: lent }
        } else {
            EventKind::Apply { block: lent }
        };
        let event = self.next_event(Some(node), clock, kind);
        self.checker.observe(&event, &mut self.found);
        for sink in sinks.iter_mut() {
            sink.event(&event)?;
        }
        self.found
            .extend(self.checker.observe_table_total(node, total));
        self.report_found(sinks)
    }

    /// A send event, then the network's verdict: lost (a `drop` event), delivered once, or
    /// delivered twice (a `duplicate` event).
    fn send(
        &mut self,
        from: ClientId,
        clock: u64,
        to: ClientId,
        msg: Message,
        sinks: &mut [&mut dyn EventSink],
    ) -> io::Result<()> {
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        if self.bare_messages {
            let found = &mut self.found;
            self.checker
                .observe_send(from, clock, to, msg_id, &msg, found);
            self.next_seq += 1;
        } else {
            let kind = EventKind::Send {
                msg_id,
                to,
                msg: msg.clone(),
            };
            self.emit(Some(from), clock, kind, sinks)?;
        }
        match self.network.route(from, to, self.now_us) {
            Route::Lost(reason) => {
                self.emit(Some(from), clock, EventKind::Drop { msg_id, reason }, sinks)
            }
            Route::Deliver {
                at_us,
                duplicate_at_us,
            } => {
                if let Some(duplicate_at_us) = duplicate_at_us {
                    self.emit(Some(from), clock, EventKind::Duplicate { msg_id }, sinks)?;
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

    /// Partitions and crashes at their times. Scheduled before any workload, so a fault and a
    /// command at the same time happen in that order.
    fn schedule_faults(&mut self, faults: &FaultsSpec) {
        for (id, partition) in faults.partitions.iter().enumerate() {
            self.queue
                .push(partition.at_us, Pending::Fault(Fault::Partition(id)));
            if let Some(heal_us) = partition.heal_us {
                self.queue.push(heal_us, Pending::Fault(Fault::Heal(id)));
            }
        }
        for (id, crash) in faults.crashes.iter().enumerate() {
            self.queue
                .push(crash.at_us, Pending::Fault(Fault::Crash(id)));
            if let Some(restart_us) = crash.restart_us {
                self.queue
                    .push(restart_us, Pending::Fault(Fault::Restart(id)));
            }
        }
    }

    fn apply_fault(&mut self, fault: Fault, sinks: &mut [&mut dyn EventSink]) -> io::Result<()> {
        match fault {
            Fault::Partition(id) | Fault::Heal(id) => {
                let partition = &self.faults.partitions[id];
                let groups = partition.groups.clone();
                let direction = if partition.one_way {
                    Direction::OneWay
                } else {
                    Direction::Both
                };
                let kind = if matches!(fault, Fault::Partition(_)) {
                    self.network
                        .cut(id, self.clients.len() as u32, &groups, partition.one_way);
                    EventKind::Partition { groups, direction }
                } else {
                    self.network.heal(id);
                    EventKind::Heal { groups, direction }
                };
                self.emit(None, 0, kind, sinks)
            }
            Fault::Crash(id) => {
                let node = self.faults.crashes[id].client;
                let slot = node as usize - 1;
                self.down[slot] = true;
                // Timers armed before the crash must not fire into the next incarnation.
                self.incarnations[slot] += 1;
                let clock = self.clients[slot].clock();
                self.emit(Some(node), clock, EventKind::Crash, sinks)
            }
            Fault::Restart(id) => {
                let crash = self.faults.crashes[id];
                let slot = crash.client as usize - 1;
                let keep_ledger = crash.keep == Keep::Ledger;
                self.clients[slot].restart(keep_ledger);
                self.down[slot] = false;
                let kept = if keep_ledger {
                    Kept::Ledger
                } else {
                    Kept::Nothing
                };
                let clock = self.clients[slot].clock();
                self.emit(
                    Some(crash.client),
                    clock,
                    EventKind::Restart { kept },
                    sinks,
                )
            }
        }
    }

    /// A run with no sinks whose checker looks only at the clocks of messages (a run for its
    /// verdict): `send` and `deliver` events, two in three of all events, are numbered and
    /// checked without being built, cloned and dropped. Nothing can tell the difference.
    /// Asked once per run and again when the checker changes ([`Self::bare_messages`] holds
    /// the answer): the sinks and the checker's settings are loads the hot path can skip.
    fn messages_can_be_bare(&self, sinks: &[&mut dyn EventSink]) -> bool {
        sinks.is_empty() && !self.checker.watches_messages()
    }

    /// Writes one event to the checker and the sinks.
    fn emit(
        &mut self,
        node: Option<ClientId>,
        clock: u64,
        kind: EventKind,
        sinks: &mut [&mut dyn EventSink],
    ) -> io::Result<()> {
        // Dropped below only if it holds anything to free: the drop of an event goes out of
        // line through every kind's glue, for the four plain steps of every transfer too.
        let event = self.next_event(node, clock, kind);
        if !matches!(event.kind, EventKind::Violation { .. }) {
            self.checker.observe(&event, &mut self.found);
        }
        let written = sinks.iter_mut().try_for_each(|sink| sink.event(&event));
        if event.kind.holds_heap_data() {
            drop(ManuallyDrop::into_inner(event));
        }
        written
    }

    /// The next event, at the current time with the next sequence number. Not dropped unless
    /// the caller drops it (see [`Self::emit`] and [`Self::emit_block_event`]).
    #[inline(always)]
    fn next_event(
        &mut self,
        node: Option<ClientId>,
        clock: u64,
        kind: EventKind,
    ) -> ManuallyDrop<Event> {
        let event = ManuallyDrop::new(Event {
            seq: self.next_seq,
            t_us: self.now_us,
            node,
            clock,
            kind,
        });
        self.next_seq += 1;
        event
    }

    /// Emits a violation event for everything the checker found; a safety violation ends the
    /// run once the current step's outputs are out, unless the options say keep going.
    #[inline]
    fn report_found(&mut self, sinks: &mut [&mut dyn EventSink]) -> io::Result<()> {
        // Called after every step; almost always there is nothing to report.
        if self.found.is_empty() {
            return Ok(());
        }
        self.report_violations(sinks)
    }

    #[inline(never)]
    fn report_violations(&mut self, sinks: &mut [&mut dyn EventSink]) -> io::Result<()> {
        match self.explaining {
            Explaining::Replay => return Err(io::Error::other(ReplayReachedViolation)),
            Explaining::Lazily => {
                self.explain_with_messages()?;
                self.bare_messages = self.messages_can_be_bare(sinks);
            }
            Explaining::VerdictOnly | Explaining::WithMessages => {}
        }
        let found = std::mem::take(&mut self.found);
        for violation in found {
            let clock = violation
                .node
                .map_or(0, |node| self.clients[node as usize - 1].clock());
            let seq = self.next_seq;
            let kind = EventKind::Violation {
                invariant: violation.invariant,
                detail: violation.detail.clone(),
            };
            self.emit(violation.node, clock, kind, sinks)?;
            if violation.invariant.is_safety() && self.options.stop_at_first_violation {
                self.end = Some(EndReason::Violation);
            }
            self.violations.push(RecordedViolation {
                violation,
                seq,
                t_us: self.now_us,
            });
        }
        Ok(())
    }

    /// Replays the run so far with message logs, up to the violations just found, and takes
    /// over the replay's checker and its explanations of them ([`Explaining::Lazily`]). The
    /// run is deterministic, so the replay finds the same violations at the same event; if
    /// it did not, the violations stay as found, explained without messages.
    #[cold]
    fn explain_with_messages(&mut self) -> io::Result<()> {
        self.explaining = Explaining::WithMessages;
        let mut replay = Simulator::new(self.scenario, self.options, Explaining::Replay);
        let stopped = match replay.run(&mut []).and_then(|()| replay.judge_end(&mut [])) {
            Err(error)
                if error
                    .get_ref()
                    .is_some_and(|inner| inner.is::<ReplayReachedViolation>()) =>
            {
                true
            }
            Err(error) => return Err(error),
            Ok(()) => false,
        };
        let same_point = replay.next_seq == self.next_seq && replay.found.len() == self.found.len();
        debug_assert!(stopped && same_point, "the replay diverged from the run");
        if stopped && same_point {
            self.checker = replay.checker;
            self.found = replay.found;
        }
        Ok(())
    }

    /// End-of-run checks: ledgers equal at quiescence, and liveness.
    fn finish(mut self, sinks: &mut [&mut dyn EventSink]) -> io::Result<RunResult> {
        let end = self.end.unwrap_or(EndReason::Quiescent);
        if end != EndReason::Violation {
            self.judge_end(sinks)?;
        }
        Ok(RunResult {
            events: self.next_seq,
            end,
            end_us: self.now_us,
            committed: self.committed,
            aborted: self.aborted,
            messages_sent: self.next_msg_id,
            violations: self.violations,
            clients: self.clients,
        })
    }

    /// The checks of a run that ended without a safety violation stopping it.
    fn judge_end(&mut self, sinks: &mut [&mut dyn EventSink]) -> io::Result<()> {
        let end = self.end.unwrap_or(EndReason::Quiescent);
        if end == EndReason::Quiescent {
            self.found.extend(self.checker.at_quiescence());
        }
        let why_ended = match end {
            EndReason::MaxEvents => {
                format!("at limits.max_events ({} events)", self.max_events)
            }
            EndReason::MaxTime => format!("at limits.max_time_us ({}us)", self.max_time_us),
            _ => "with nothing left in flight".to_string(),
        };
        let liveness = self
            .checker
            .liveness_violations(&self.waiters(), &why_ended);
        self.found.extend(liveness);
        self.report_found(sinks)
    }

    /// Clients that still had a transfer to finish.
    fn waiters(&self) -> Vec<Waiter> {
        self.clients
            .iter()
            // A client that is down when the run ends is not waiting: it is gone.
            .filter(|client| !self.down[client.id() as usize - 1])
            .filter_map(Waiter::of)
            .collect()
    }
}
