//! Turns a path found by the search into a trace (docs/spec.md section 3): the path is replayed on
//! fresh clients (the model's, in their initial state) through the simulator's [`Driver`], so every output becomes an [`Event`]
//! as in the simulator, and every event goes through the online [`Checker`], whose findings
//! become `violation` events.
//! So the trace says what the checker sees, `lamport-ledger check` re-checks it offline, and
//! `render` draws it.
//!
//! Time: step `k` (from 0) happens at `t = k` milliseconds. The explorer has no clock; the
//! times only keep the steps apart on a timeline.

use std::collections::VecDeque;
use std::io;

use super::system::{ExploredNode, StepKind, SystemConfig, SystemModel, SystemStep};
use crate::check::Checker;
use crate::drive::{self, Driver, Host};
use crate::protocol::ledger::{short_hex, to_hex};
use crate::protocol::{ClientId, Command, Message, Outbox, Timer, Timestamp};
use crate::scenario::Scenario;
use crate::trace::{
    DropReason, EXPLORED_SUFFIX, Event, EventKind, EventSink, Kept, TraceEncoder, TraceOutput,
};

pub use crate::drive::RecordedViolation as ReplayedViolation;

/// Microseconds between two steps in the trace.
pub const STEP_US: u64 = 1000;

/// A replayed path.
pub struct Replayed {
    /// The events of each step, in order.
    pub steps: Vec<Vec<Event>>,
    /// What the checker found.
    pub violations: Vec<ReplayedViolation>,
    pub digest_hex: String,
    pub events: u64,
}

struct Replay<'a, N> {
    config: &'a SystemConfig,
    clients: Vec<N>,
    driver: Driver,
    host: ReplayHost<'a, N>,
    down: Vec<bool>,
    crashes_used: Vec<usize>,
    issued: Vec<usize>,
    outbox: Outbox,
}

/// Where the replay's events go (the trace and the current step's list) and where its
/// messages wait (the explored system's links).
struct ReplayHost<'a, N> {
    model: &'a SystemModel<N>,
    config: &'a SystemConfig,
    encoder: TraceEncoder,
    /// Link index (in [`SystemModel::links`] order) -> (msg_id, message) in flight, in the
    /// order the explorer keeps them on a FIFO link.
    links: Vec<VecDeque<(u64, Message)>>,
    step_events: Vec<Event>,
}

impl<N: ExploredNode> Host for ReplayHost<'_, N> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.encoder.event(event)?;
        self.step_events.push(event.clone());
        Ok(())
    }

    fn carry(
        &mut self,
        _driver: &mut Driver,
        from: ClientId,
        _clock: Timestamp,
        to: ClientId,
        msg_id: u64,
        msg: Message,
    ) -> io::Result<()> {
        let link = self.link_index(from, to);
        self.links[link].push_back((msg_id, msg));
        Ok(())
    }

    /// The explorer decides when a critical section ends.
    fn set_timer(&mut self, _node: ClientId, _after_us: u64, _timer: Timer) {}
}

/// Replays `path` and writes the trace to `outputs` (none: only the digest is computed).
/// `stuck` says that the path ends in a state where no step is possible, so the end-of-run
/// checks (`ledger_agreement` at quiescence, `liveness`) apply.
pub fn write_trace<N: ExploredNode>(
    model: &SystemModel<N>,
    scenario: &Scenario,
    path: &[SystemStep],
    stuck: bool,
    outputs: Vec<TraceOutput>,
) -> io::Result<Replayed> {
    let config = model.config();
    let mut encoder = TraceEncoder::new(outputs);
    let mut header = crate::runner::header(scenario);
    header.scenario = format!("{}{EXPLORED_SUFFIX}", scenario.name);
    encoder.header(&header)?;
    let mut replay = Replay {
        config,
        clients: model.initial_clients(),
        driver: Driver::new(Checker::new(&config.initial_balances), true),
        host: ReplayHost {
            model,
            config,
            encoder,
            links: vec![VecDeque::new(); model.links().len()],
            step_events: Vec::new(),
        },
        down: vec![false; config.clients as usize],
        crashes_used: vec![0; config.clients as usize],
        issued: vec![0; config.clients as usize],
        outbox: Outbox::new(),
    };
    replay.driver.attach(&replay.host);
    let mut steps = Vec::with_capacity(path.len());
    for (index, step) in path.iter().enumerate() {
        replay.driver.set_now(index as u64 * STEP_US);
        replay.step(*step)?;
        steps.push(std::mem::take(&mut replay.host.step_events));
        if replay.driver.stopped() {
            break;
        }
    }
    let in_flight = replay.host.links.iter().any(|link| !link.is_empty());
    let end = if replay.driver.stopped() {
        "violation"
    } else if stuck && !in_flight {
        let Replay {
            clients,
            driver,
            host,
            down,
            ..
        } = &mut replay;
        driver.judge_end(host, clients, down, true, "with nothing left in flight")?;
        if let Some(last) = steps.last_mut() {
            last.append(&mut replay.host.step_events);
        }
        "quiescent"
    } else {
        // The explorer saw something the checker did not: the path stops mid-run.
        "explored"
    };
    let (balances, heads) = drive::tables_and_heads(&replay.clients);
    let counts = replay.driver.counts();
    let now_us = replay.driver.now_us();
    let violations = replay.driver.into_violations();
    let mut summary = drive::summary(end, now_us, counts, &violations, balances, &heads);
    let digest = replay.host.encoder.finish(&mut summary)?;
    Ok(Replayed {
        steps,
        violations,
        digest_hex: to_hex(&digest),
        events: counts.events,
    })
}

impl<N: ExploredNode> Replay<'_, N> {
    fn step(&mut self, step: SystemStep) -> io::Result<()> {
        let client = usize::from(step.client);
        let node = ClientId::from_index(client);
        match step.kind {
            StepKind::Start => {}
            StepKind::Issue => {
                let transfer = self.config.transfers[client][self.issued[client]];
                self.issued[client] += 1;
                let command = Command::Transfer {
                    to: transfer.to,
                    amount: transfer.amount,
                };
                // Validated with the scenario; a refused command changes nothing.
                let _ = self.clients[client].handle_command(command, &mut self.outbox);
                self.emit_outputs(node, None)?;
            }
            StepKind::Timer => {
                self.clients[client].handle_timer(Timer::LeaveCriticalSection, &mut self.outbox);
                self.emit_outputs(node, None)?;
            }
            StepKind::Deliver => {
                let (from, to) = self.host.model.links()[usize::from(step.link)];
                let (msg_id, msg) = self.host.take(step);
                if self.down[to.index()] {
                    let clock = self.clients[to.index()].clock();
                    let reason = DropReason::Crashed;
                    return self.emit(Some(to), clock, EventKind::Drop { msg_id, reason });
                }
                self.clients[to.index()].handle_message(from, &msg, &mut self.outbox);
                self.emit_outputs(to, Some((msg_id, &msg)))?;
            }
            StepKind::Lose => {
                let (from, _) = self.host.model.links()[usize::from(step.link)];
                let (msg_id, _) = self.host.take(step);
                let clock = self.clients[from.index()].clock();
                let reason = DropReason::Loss;
                self.emit(Some(from), clock, EventKind::Drop { msg_id, reason })?;
            }
            StepKind::Duplicate => {
                let (from, _) = self.host.model.links()[usize::from(step.link)];
                let index = self.host.find(step);
                let link = &mut self.host.links[usize::from(step.link)];
                let copy = link[index].clone();
                let msg_id = copy.0;
                link.insert(index + 1, copy);
                let clock = self.clients[from.index()].clock();
                self.emit(Some(from), clock, EventKind::Duplicate { msg_id })?;
            }
            StepKind::Crash => {
                self.down[client] = true;
                self.crashes_used[client] += 1;
                let clock = self.clients[client].clock();
                self.emit(Some(node), clock, EventKind::Crash)?;
            }
            StepKind::Restart => {
                let rule = self.config.crashes[client][self.crashes_used[client] - 1];
                self.clients[client].restart(rule.keep_ledger);
                self.down[client] = false;
                let kept = if rule.keep_ledger {
                    Kept::Ledger
                } else {
                    Kept::Nothing
                };
                let clock = self.clients[client].clock();
                self.emit(Some(node), clock, EventKind::Restart { kept })?;
            }
        }
        Ok(())
    }

    /// As the simulator: the driver turns the outputs into events in order.
    fn emit_outputs(
        &mut self,
        node: ClientId,
        delivered: Option<(u64, &Message)>,
    ) -> io::Result<()> {
        let clients = self.clients.as_slice();
        self.driver
            .outputs(&mut self.host, clients, node, delivered, &mut self.outbox)
    }

    /// One event that is not a client's output, then what the checker found.
    fn emit(
        &mut self,
        node: Option<ClientId>,
        clock: Timestamp,
        kind: EventKind,
    ) -> io::Result<()> {
        let clients = self.clients.as_slice();
        self.driver
            .emit_and_report(&mut self.host, clients, node, clock, kind)
    }
}

impl<N: ExploredNode> ReplayHost<'_, N> {
    /// Where the message a step names is on its link: at the step's position on a FIFO link
    /// (the explorer keeps FIFO links in this order), the first copy with the same content on
    /// a bag link.
    fn find(&self, step: SystemStep) -> usize {
        let (from, to) = self.model.links()[usize::from(step.link)];
        let link = &self.links[usize::from(step.link)];
        if self.config.rule(from, to).fifo {
            return usize::from(step.pos);
        }
        let wanted = self.model.message(step.msg);
        link.iter()
            .position(|(_, msg)| *msg == wanted)
            .expect("the search only names messages in flight")
    }

    fn take(&mut self, step: SystemStep) -> (u64, Message) {
        let index = self.find(step);
        self.links[usize::from(step.link)]
            .remove(index)
            .expect("the search only names messages in flight")
    }

    fn link_index(&self, from: ClientId, to: ClientId) -> usize {
        self.model
            .links()
            .iter()
            .position(|&link| link == (from, to))
            .expect("every pair of distinct clients has a link")
    }
}

/// One step in words, from its events: `c2 receives REPLY(ts 2) from c1 [m2]; ENTERS …`.
pub fn describe_step(events: &[Event]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut node = None;
    for event in events {
        if node.is_none() {
            node = event.node;
        }
        let here = event.node;
        let mut text = describe_event(event);
        if here != node
            && let Some(other) = here
        {
            text = format!("c{other} {text}");
        }
        parts.push(text);
    }
    match node {
        Some(node) => format!("c{node} {}", parts.join("; ")),
        None => parts.join("; "),
    }
}

fn message_words(msg: &Message) -> String {
    match msg {
        Message::Release {
            ts,
            request_ts,
            block,
        } => {
            let block = block
                .as_ref()
                .map_or(String::new(), |b| format!(", block {}", b.index()));
            format!("RELEASE(ts {ts}, of request {request_ts}{block})")
        }
        Message::Update { ts, block } => format!("UPDATE(ts {ts}, block {})", block.index()),
        other => format!("{}(ts {})", other.type_name().to_uppercase(), other.ts()),
    }
}

fn describe_event(event: &Event) -> String {
    let node = event.node.unwrap_or(ClientId::new(0));
    match &event.kind {
        EventKind::Send { msg_id, to, msg } => {
            format!("sends {} to c{to} [m{msg_id}]", message_words(msg))
        }
        EventKind::Deliver { msg_id, from, msg } => {
            format!("receives {} from c{from} [m{msg_id}]", message_words(msg))
        }
        EventKind::Transfer { to, amount } => format!("is asked to pay {amount} to c{to}"),
        EventKind::Request { ts } => format!("requests the mutex ({ts},{node})"),
        EventKind::Enter { ts } => format!("ENTERS the critical section ({ts},{node})"),
        EventKind::Exit { ts } => format!("leaves the critical section ({ts},{node})"),
        EventKind::Commit { block } => format!(
            "commits block {} (c{} pays {} to c{}, hash {})",
            block.index(),
            block.from(),
            block.amount(),
            block.to(),
            short_hex(&block.hash_value())
        ),
        EventKind::Abort {
            amount, balance, ..
        } => format!("aborts: {amount} is more than its balance {balance}"),
        EventKind::Apply { block } => format!("appends block {}", block.index()),
        EventKind::Reject { block, reason, .. } => {
            format!("rejects block {}: {reason}", block.index())
        }
        EventKind::Balance { of, value } => format!("reads c{of}'s balance: {value}"),
        EventKind::Violation { invariant, detail } => {
            format!("VIOLATION of {invariant}: {detail}")
        }
        EventKind::Drop { msg_id, reason } => match reason {
            DropReason::Crashed => format!("is down: message m{msg_id} is lost"),
            _ => format!("loses message m{msg_id} in the network"),
        },
        EventKind::Duplicate { msg_id } => format!("message m{msg_id} is duplicated"),
        EventKind::Crash => "CRASHES".to_string(),
        EventKind::Restart { kept } => format!("restarts keeping {}", kept.name()),
        EventKind::Partition { .. } => "partition".to_string(),
        EventKind::Heal { .. } => "heal".to_string(),
    }
}
