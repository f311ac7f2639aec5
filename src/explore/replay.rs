//! Turns a path found by the search into a trace (SPEC section 3): the path is replayed on
//! fresh [`Client`]s, every output becomes an [`Event`] as in the simulator, and every event
//! goes through the simulator's online [`Checker`], whose findings become `violation` events.
//! So the trace says what the checker sees, `lamport-ledger check` re-checks it offline, and
//! `render` draws it.
//!
//! Time: step `k` (from 0) happens at `t = k` milliseconds. The explorer has no clock; the
//! times only keep the steps apart on a timeline.

use std::collections::VecDeque;
use std::io;

use super::system::{StepKind, SystemConfig, SystemModel, SystemStep};
use crate::check::{Checker, Violation, Waiter};
use crate::protocol::ledger::{short_hex, to_hex};
use crate::protocol::{Client, ClientId, Command, Message, Outbox, OutputKind, Timer};
use crate::scenario::Scenario;
use crate::trace::encode::{IdMap, SummaryViolation};
use crate::trace::{
    DropReason, Event, EventKind, EventSink, Kept, Summary, TraceEncoder, TraceOutput,
};

/// Microseconds between two steps in the trace.
pub const STEP_US: u64 = 1000;

/// A violation the checker reported while replaying, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayedViolation {
    pub violation: Violation,
    /// The `seq` of its violation event.
    pub seq: u64,
    pub t_us: u64,
}

/// A replayed path.
pub struct Replayed {
    /// The events of each step, in order.
    pub steps: Vec<Vec<Event>>,
    /// What the checker found.
    pub violations: Vec<ReplayedViolation>,
    pub digest_hex: String,
    pub events: u64,
}

struct Replay<'a> {
    model: &'a SystemModel,
    config: &'a SystemConfig,
    clients: Vec<Client>,
    down: Vec<bool>,
    crashes_used: Vec<usize>,
    issued: Vec<usize>,
    /// Link index (in [`SystemModel::links`] order) -> (msg_id, message) in flight, in the
    /// order the explorer keeps them on a FIFO link.
    links: Vec<VecDeque<(u64, Message)>>,
    checker: Checker,
    outbox: Outbox,
    now_us: u64,
    next_seq: u64,
    next_msg_id: u64,
    committed: u64,
    aborted: u64,
    found: Vec<Violation>,
    violations: Vec<ReplayedViolation>,
    stopped: bool,
    step_events: Vec<Event>,
}

/// Replays `path` and writes the trace to `outputs` (none: only the digest is computed).
/// `stuck` says that the path ends in a state where no step is possible, so the end-of-run
/// checks (`ledger_agreement` at quiescence, `liveness`) apply.
pub fn write_trace(
    model: &SystemModel,
    scenario: &Scenario,
    path: &[SystemStep],
    stuck: bool,
    outputs: Vec<TraceOutput>,
) -> io::Result<Replayed> {
    let config = model.config();
    let mut encoder = TraceEncoder::new(outputs);
    let mut header = crate::runner::header(scenario);
    header.scenario = format!("{} (explored)", scenario.name);
    encoder.header(&header)?;
    let mut replay = Replay {
        model,
        config,
        clients: config.initial_clients(),
        down: vec![false; config.clients as usize],
        crashes_used: vec![0; config.clients as usize],
        issued: vec![0; config.clients as usize],
        links: vec![VecDeque::new(); model.links().len()],
        checker: Checker::new(&config.initial_balances),
        outbox: Outbox::new(),
        now_us: 0,
        next_seq: 0,
        next_msg_id: 0,
        committed: 0,
        aborted: 0,
        found: Vec::new(),
        violations: Vec::new(),
        stopped: false,
        step_events: Vec::new(),
    };
    let mut steps = Vec::with_capacity(path.len());
    for (index, step) in path.iter().enumerate() {
        replay.now_us = index as u64 * STEP_US;
        replay.step(*step, &mut encoder)?;
        steps.push(std::mem::take(&mut replay.step_events));
        if replay.stopped {
            break;
        }
    }
    let in_flight = replay.links.iter().any(|link| !link.is_empty());
    let end = if replay.stopped {
        "violation"
    } else if stuck && !in_flight {
        replay.found.extend(replay.checker.at_quiescence());
        let waiters = replay.waiters();
        let found = replay
            .checker
            .liveness_violations(&waiters, "with nothing left in flight");
        replay.found.extend(found);
        replay.report_found(&mut encoder)?;
        if let Some(last) = steps.last_mut() {
            last.append(&mut replay.step_events);
        }
        "quiescent"
    } else {
        // The explorer saw something the checker did not: the path stops mid-run.
        "explored"
    };
    let mut summary = Summary {
        line_type: "summary",
        events: replay.next_seq,
        committed: replay.committed,
        aborted: replay.aborted,
        messages_sent: replay.next_msg_id,
        end,
        end_us: replay.now_us,
        violations: replay
            .violations
            .iter()
            .map(|recorded| SummaryViolation {
                invariant: recorded.violation.invariant,
                seq: recorded.seq,
                t: recorded.t_us,
                detail: recorded.violation.detail.clone(),
            })
            .collect(),
        final_balances: IdMap(
            replay
                .clients
                .iter()
                .map(|client| IdMap(client.ledger().table().to_vec()))
                .collect(),
        ),
        heads: IdMap(
            replay
                .clients
                .iter()
                .map(|client| to_hex(&client.ledger().head_hash()))
                .collect(),
        ),
        digest: String::new(),
    };
    let digest = encoder.finish(&mut summary)?;
    Ok(Replayed {
        steps,
        violations: replay.violations,
        digest_hex: to_hex(&digest),
        events: replay.next_seq,
    })
}

impl Replay<'_> {
    fn step(&mut self, step: SystemStep, encoder: &mut TraceEncoder) -> io::Result<()> {
        let client = usize::from(step.client);
        let node = step.client as ClientId + 1;
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
                self.emit_outputs(node, None, encoder)?;
            }
            StepKind::Timer => {
                self.clients[client].handle_timer(Timer::LeaveCriticalSection, &mut self.outbox);
                self.emit_outputs(node, None, encoder)?;
            }
            StepKind::Deliver => {
                let (from, to) = self.model.links()[usize::from(step.link)];
                let (msg_id, msg) = self.take(step);
                if self.down[to as usize - 1] {
                    let clock = self.clients[to as usize - 1].clock();
                    let reason = DropReason::Crashed;
                    self.emit(Some(to), clock, EventKind::Drop { msg_id, reason }, encoder)?;
                    return self.report_found(encoder);
                }
                self.clients[to as usize - 1].handle_message(from, &msg, &mut self.outbox);
                self.emit_outputs(to, Some((msg_id, &msg)), encoder)?;
            }
            StepKind::Lose => {
                let (from, _) = self.model.links()[usize::from(step.link)];
                let (msg_id, _) = self.take(step);
                let clock = self.clients[from as usize - 1].clock();
                let reason = DropReason::Loss;
                self.emit(
                    Some(from),
                    clock,
                    EventKind::Drop { msg_id, reason },
                    encoder,
                )?;
                self.report_found(encoder)?;
            }
            StepKind::Duplicate => {
                let (from, _) = self.model.links()[usize::from(step.link)];
                let index = self.find(step);
                let link = &mut self.links[usize::from(step.link)];
                let copy = link[index].clone();
                let msg_id = copy.0;
                link.insert(index + 1, copy);
                let clock = self.clients[from as usize - 1].clock();
                self.emit(Some(from), clock, EventKind::Duplicate { msg_id }, encoder)?;
                self.report_found(encoder)?;
            }
            StepKind::Crash => {
                self.down[client] = true;
                self.crashes_used[client] += 1;
                let clock = self.clients[client].clock();
                self.emit(Some(node), clock, EventKind::Crash, encoder)?;
                self.report_found(encoder)?;
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
                self.emit(Some(node), clock, EventKind::Restart { kept }, encoder)?;
                self.report_found(encoder)?;
            }
        }
        Ok(())
    }

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

    /// As the simulator: outputs become events in order; sends get a message id.
    fn emit_outputs(
        &mut self,
        node: ClientId,
        delivered: Option<(u64, &Message)>,
        encoder: &mut TraceEncoder,
    ) -> io::Result<()> {
        let mut outbox = std::mem::take(&mut self.outbox);
        for output in outbox.drain() {
            let kind = match output.kind {
                OutputKind::Received { from } => {
                    let (msg_id, msg) = delivered.expect("only a delivery receives");
                    EventKind::Deliver {
                        msg_id,
                        from,
                        msg: msg.clone(),
                    }
                }
                OutputKind::Send { to, msg } => {
                    let msg_id = self.next_msg_id;
                    self.next_msg_id += 1;
                    let link = self.link_index(node, to);
                    self.links[link].push_back((msg_id, msg.clone()));
                    EventKind::Send { msg_id, to, msg }
                }
                // The explorer decides when a critical section ends.
                OutputKind::SetTimer { .. } => continue,
                local => {
                    let ledger = self.clients[node as usize - 1].ledger();
                    let kind = EventKind::from_local_output(local, ledger)
                        .expect("receives, sends and timers are handled above");
                    match kind {
                        EventKind::Commit { .. } => self.committed += 1,
                        EventKind::Abort { .. } => self.aborted += 1,
                        _ => {}
                    }
                    kind
                }
            };
            let changes_table = matches!(kind, EventKind::Commit { .. } | EventKind::Apply { .. });
            self.emit(Some(node), output.clock, kind, encoder)?;
            if changes_table {
                let table = self.clients[node as usize - 1].ledger().table();
                let total = table.total();
                self.found
                    .extend(self.checker.observe_table_total(node, total));
            }
            self.report_found(encoder)?;
        }
        self.outbox = outbox;
        Ok(())
    }

    fn emit(
        &mut self,
        node: Option<ClientId>,
        clock: u64,
        kind: EventKind,
        encoder: &mut TraceEncoder,
    ) -> io::Result<()> {
        let event = Event {
            seq: self.next_seq,
            t_us: self.now_us,
            node,
            clock,
            kind,
        };
        self.next_seq += 1;
        if !matches!(event.kind, EventKind::Violation { .. }) {
            self.checker.observe(&event, &mut self.found);
        }
        encoder.event(&event)?;
        self.step_events.push(event);
        Ok(())
    }

    /// Violation events for what the checker found; a safety violation ends the replay after
    /// the current step, as it ends a simulated run.
    fn report_found(&mut self, encoder: &mut TraceEncoder) -> io::Result<()> {
        for violation in std::mem::take(&mut self.found) {
            let clock = violation
                .node
                .map_or(0, |node| self.clients[node as usize - 1].clock());
            let seq = self.next_seq;
            let kind = EventKind::Violation {
                invariant: violation.invariant,
                detail: violation.detail.clone(),
            };
            self.emit(violation.node, clock, kind, encoder)?;
            if violation.invariant.is_safety() {
                self.stopped = true;
            }
            self.violations.push(ReplayedViolation {
                violation,
                seq,
                t_us: self.now_us,
            });
        }
        Ok(())
    }

    /// Clients still holding work (a crashed client is gone, not waiting).
    fn waiters(&self) -> Vec<Waiter> {
        self.clients
            .iter()
            .filter(|client| !self.down[client.id() as usize - 1])
            .filter_map(Waiter::of)
            .collect()
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
    let node = event.node.unwrap_or(0);
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
