//! The one driver of [`Node`]s (the built-in [`Client`] or another implementation), shared by
//! the simulator, the explorer's replay and the live node: it turns a client's outputs into trace [`Event`]s, numbers them, feeds them to the
//! online [`Checker`], reports what the checker finds as `violation` events, counts the run
//! and writes its summary. A new event kind or check is added here, once.
//!
//! What differs between the three is behind [`Host`]: where events go (sinks, the explorer's
//! steps, a node's trace file and console), how a sent message travels (the simulated
//! network, a link of the explored system, a TCP session) and how a timer is kept.

mod summary;
mod watch;

use std::io;
use std::mem::ManuallyDrop;
use std::sync::Arc;

use crate::check::{BlockStep, Checker, Violation, Waiter};
use crate::protocol::{
    Client, ClientId, Message, Node, Outbox, Output, OutputKind, Timer, Timestamp,
};
use crate::trace::{Event, EventKind};

pub use summary::{Counts, summary, tables_and_heads};
pub use watch::{Unchecked, Watch};

/// A violation and where in the trace it was reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedViolation {
    pub violation: Violation,
    /// The `seq` of the violation event.
    pub seq: u64,
    pub t_us: u64,
}

/// What the driver's caller does with a run's events and messages.
pub trait Host<W: Watch = Checker> {
    /// Every event, in order, once the checker has seen it.
    fn event(&mut self, event: &Event) -> io::Result<()>;

    /// Whether [`Self::event`] must see the `send`, `deliver`, `commit` and `apply` events.
    /// When it need not and the checker needs no message log, the driver checks them
    /// without building them: two events in three are a message's, and a block event would
    /// count a reference to its block.
    fn wants_events(&self) -> bool {
        true
    }

    /// The id of a message, given how many messages the run sent before it.
    fn msg_id(&self, sent_before: u64) -> u64 {
        sent_before
    }

    /// Carries a message a client sent, after its `send` event: the events of its fate (a
    /// `drop`, a `duplicate`) go through `driver`.
    fn carry(
        &mut self,
        driver: &mut Driver<W>,
        from: ClientId,
        clock: Timestamp,
        to: ClientId,
        msg_id: u64,
        msg: Message,
    ) -> io::Result<()>;

    /// Arms a timer a client asked for.
    fn set_timer(&mut self, node: ClientId, after_us: u64, timer: Timer);

    /// Called when the checker found violations, before they are reported: a host may swap
    /// in a checker that explains them better ([`Driver::take_over`]) or stop with an error.
    fn before_reporting(&mut self, _driver: &mut Driver<W>) -> io::Result<()> {
        Ok(())
    }
}

/// The clients a driver reads after a step: their ledgers for the events, their clocks for
/// violation events.
pub trait Clients {
    type Node: Node;
    fn client(&self, id: ClientId) -> &Self::Node;
}

impl<N: Node> Clients for [N] {
    type Node = N;
    #[inline(always)]
    fn client(&self, id: ClientId) -> &N {
        &self[id.index()]
    }
}

/// A lone client (a live node): every event is its own.
impl Clients for Client {
    type Node = Client;
    fn client(&self, _id: ClientId) -> &Client {
        self
    }
}

/// The message a step delivered: its id and the message, lent.
pub type Delivered<'m> = Option<(u64, &'m Message)>;

/// Numbers, checks and counts a run's events.
pub struct Driver<W: Watch = Checker> {
    checker: W,
    /// Violations found and not yet reported.
    found: Vec<Violation>,
    violations: Vec<RecordedViolation>,
    next_seq: u64,
    now_us: u64,
    counts: Counts,
    stop_at_first_violation: bool,
    stopped: bool,
    /// Whether `send`, `deliver`, `commit` and `apply` events go to the checker without being
    /// built ([`Host::wants_events`]).
    bare_events: bool,
}

impl<W: Watch> Driver<W> {
    /// A driver that checks with `checker`; a safety violation stops the run when
    /// `stop_at_first_violation`.
    pub fn new(checker: W, stop_at_first_violation: bool) -> Self {
        Driver {
            checker,
            found: Vec::new(),
            violations: Vec::new(),
            next_seq: 0,
            now_us: 0,
            counts: Counts::default(),
            stop_at_first_violation,
            stopped: false,
            bare_events: false,
        }
    }

    /// Asks `host` once whether it reads every event; asked again after the checker
    /// changes. The answer is kept: the hot path reads one flag.
    pub fn attach(&mut self, host: &impl Host<W>) {
        self.bare_events = !host.wants_events() && !self.checker.watches_messages();
    }

    /// The time the next events happen at, in microseconds.
    #[inline]
    pub fn set_now(&mut self, now_us: u64) {
        self.now_us = now_us;
    }

    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// Events so far (the next event's `seq`).
    #[inline]
    pub fn events(&self) -> u64 {
        self.next_seq
    }

    pub fn counts(&self) -> Counts {
        Counts {
            events: self.next_seq,
            ..self.counts
        }
    }

    /// A safety violation stopped the run.
    #[inline]
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The violations recorded so far (the tests read them mid-run).
    #[cfg(test)]
    pub fn violations(&self) -> &[RecordedViolation] {
        &self.violations
    }

    pub fn into_violations(self) -> Vec<RecordedViolation> {
        self.violations
    }

    /// Violations found and not reported yet.
    pub fn found(&self) -> &[Violation] {
        &self.found
    }

    /// Turns the outputs of `node`'s last step into events, in order: sends go to
    /// [`Host::carry`], timers to [`Host::set_timer`], and what the checker finds after each
    /// output is reported. `delivered` is the message the step handled.
    ///
    /// The outputs are read in place, field by field, and cleared after. Moved out one by one,
    /// each would be copied whole in wide loads that the CPU cannot forward from the client's
    /// narrower stores of the same step, and its fields read back from the copy would wait
    /// again.
    #[inline]
    pub fn outputs<H: Host<W>, C: Clients + ?Sized>(
        &mut self,
        host: &mut H,
        clients: &C,
        node: ClientId,
        delivered: Delivered<'_>,
        outbox: &mut Outbox,
    ) -> io::Result<()> {
        let result = self.outputs_in_place(host, clients, node, delivered, outbox.as_mut_slice());
        outbox.clear();
        result
    }

    #[inline(always)]
    fn outputs_in_place<H: Host<W>, C: Clients + ?Sized>(
        &mut self,
        host: &mut H,
        clients: &C,
        node: ClientId,
        mut delivered: Delivered<'_>,
        mut outputs: &mut [Output],
    ) -> io::Result<()> {
        if self.bare_events
            && let Some((msg_id, msg)) = delivered.take()
        {
            // A delivery's first output is its receive, always: handled here, it skips the
            // jump on the output's kind below, which the outputs' varying order mispredicts.
            let Some((
                &mut Output {
                    clock,
                    kind: OutputKind::Received { from },
                },
                rest,
            )) = outputs.split_first_mut()
            else {
                unreachable!("a delivery's first output is its Received");
            };
            self.bare_deliver(node, clock, from, msg_id, msg);
            self.report_found(host, clients)?;
            outputs = rest;
        }
        for output in outputs {
            self.output(host, clients, node, &mut delivered, output)?;
        }
        Ok(())
    }

    /// One output of `node`'s last step: its event (if it has one), what follows from it, and
    /// the report of what the checker found. The one place where an output becomes an event.
    /// A send's message moves on to the network and leaves a `Reply { ts: 0 }` in its place,
    /// so the caller throws the output away afterwards ([`Self::outputs`] clears the outbox).
    #[inline(always)]
    pub fn output<H: Host<W>, C: Clients + ?Sized>(
        &mut self,
        host: &mut H,
        clients: &C,
        node: ClientId,
        delivered: &mut Delivered<'_>,
        output: &mut Output,
    ) -> io::Result<()> {
        let clock = output.clock;
        let kind = match &mut output.kind {
            &mut OutputKind::Received { from } => {
                let (msg_id, msg) = delivered.take().expect("a delivery produces one Received");
                if self.bare_events {
                    self.bare_deliver(node, clock, from, msg_id, msg);
                    return self.report_found(host, clients);
                }
                let msg = msg.clone();
                EventKind::Deliver { msg_id, from, msg }
            }
            OutputKind::Send { to, msg } => {
                let to = *to;
                // Checked where the client wrote it, before it moves.
                let msg_id = self.record_send(host, node, clock, to, msg)?;
                // Any message holding nothing to free would do: the outbox is cleared next.
                let msg = std::mem::replace(msg, Message::Reply { ts: 0 });
                host.carry(self, node, clock, to, msg_id, msg)?;
                return self.report_found(host, clients);
            }
            &mut OutputKind::SetTimer { after_us, timer } => {
                host.set_timer(node, after_us, timer);
                return Ok(());
            }
            &mut OutputKind::Committed { index } => {
                self.counts.committed += 1;
                return self.block_event(host, clients, node, clock, index, true);
            }
            &mut OutputKind::Applied { index } => {
                return self.block_event(host, clients, node, clock, index, false);
            }
            plain => {
                if matches!(plain, OutputKind::Aborted { .. }) {
                    self.counts.aborted += 1;
                }
                EventKind::of_output(plain).expect("the other outputs are matched above")
            }
        };
        self.emit(host, Some(node), clock, kind)?;
        self.report_found(host, clients)
    }

    /// A `commit` or `apply` event, then the check of the client's balance table, which the
    /// block changed.
    #[inline]
    fn block_event<H: Host<W>, C: Clients + ?Sized>(
        &mut self,
        host: &mut H,
        clients: &C,
        node: ClientId,
        clock: Timestamp,
        index: u64,
        committed: bool,
    ) -> io::Result<()> {
        let block = clients.client(node).output_block(index);
        if self.bare_events {
            let step = BlockStep {
                node,
                seq: self.next_seq,
                t_us: self.now_us,
                clock,
                block,
                committed,
            };
            self.next_seq += 1;
            self.checker.observe_block(step, &mut self.found);
        } else {
            let block = Arc::clone(block);
            let kind = if committed {
                EventKind::Commit { block }
            } else {
                EventKind::Apply { block }
            };
            let event = self.next_event(Some(node), clock, kind);
            self.checker.observe(&event, &mut self.found);
            let written = host.event(&event);
            // Only the block to free: dropped as itself rather than through the drop of a
            // whole event, which goes out of line through every kind's glue.
            match event.kind {
                EventKind::Commit { block } | EventKind::Apply { block } => drop(block),
                _ => unreachable!("a block event is a commit or an apply"),
            }
            written?;
        }
        let total = clients.client(node).ledger().table().total();
        self.found
            .extend(self.checker.observe_table_total(node, total));
        self.report_found(host, clients)
    }

    /// Numbers a message `from` sends and records its `send` event; returns its id.
    #[inline(always)]
    pub fn record_send<H: Host<W>>(
        &mut self,
        host: &mut H,
        from: ClientId,
        clock: Timestamp,
        to: ClientId,
        msg: &Message,
    ) -> io::Result<u64> {
        let msg_id = host.msg_id(self.counts.messages_sent);
        self.counts.messages_sent += 1;
        if self.bare_events {
            let found = &mut self.found;
            self.checker
                .observe_send(from, clock, to, msg_id, msg, found);
            self.next_seq += 1;
        } else {
            let msg = msg.clone();
            self.emit(host, Some(from), clock, EventKind::Send { msg_id, to, msg })?;
        }
        Ok(msg_id)
    }

    #[inline(always)]
    fn bare_deliver(
        &mut self,
        node: ClientId,
        clock: Timestamp,
        from: ClientId,
        msg_id: u64,
        msg: &Message,
    ) {
        let found = &mut self.found;
        self.checker
            .observe_deliver(node, clock, from, msg_id, msg, found);
        self.next_seq += 1;
    }

    /// Writes one event to the checker and the host.
    #[inline]
    pub fn emit<H: Host<W>>(
        &mut self,
        host: &mut H,
        node: Option<ClientId>,
        clock: Timestamp,
        kind: EventKind,
    ) -> io::Result<()> {
        // Dropped below only if it holds anything to free: the drop of an event goes out of
        // line through every kind's glue, for the four plain steps of every transfer too.
        let event = ManuallyDrop::new(self.next_event(node, clock, kind));
        self.checker.observe(&event, &mut self.found);
        let written = host.event(&event);
        if event.kind.holds_heap_data() {
            drop(ManuallyDrop::into_inner(event));
        }
        written
    }

    /// One event that is not a client's output ([`Self::emit`]), then what the checker found
    /// in it reported ([`Self::report_found`]): a crash, a restart, a fault, a drop.
    pub fn emit_and_report<H: Host<W>, C: Clients + ?Sized>(
        &mut self,
        host: &mut H,
        clients: &C,
        node: Option<ClientId>,
        clock: Timestamp,
        kind: EventKind,
    ) -> io::Result<()> {
        self.emit(host, node, clock, kind)?;
        self.report_found(host, clients)
    }

    /// The next event, at the current time with the next sequence number.
    #[inline(always)]
    fn next_event(&mut self, node: Option<ClientId>, clock: Timestamp, kind: EventKind) -> Event {
        let event = Event {
            seq: self.next_seq,
            t_us: self.now_us,
            node,
            clock,
            kind,
        };
        self.next_seq += 1;
        event
    }

    /// Emits a violation event for everything the checker found; a safety violation stops
    /// the run once the current step's outputs are out, if the driver stops at the first.
    #[inline]
    pub fn report_found<H: Host<W>, C: Clients + ?Sized>(
        &mut self,
        host: &mut H,
        clients: &C,
    ) -> io::Result<()> {
        // Called after every output; almost always there is nothing to report.
        if self.found.is_empty() {
            return Ok(());
        }
        self.report_violations(host, clients)
    }

    #[inline(never)]
    fn report_violations<H: Host<W>, C: Clients + ?Sized>(
        &mut self,
        host: &mut H,
        clients: &C,
    ) -> io::Result<()> {
        host.before_reporting(self)?;
        self.attach(host);
        for violation in std::mem::take(&mut self.found) {
            let clock = violation
                .node
                .map_or(0, |node| clients.client(node).clock());
            let seq = self.next_seq;
            let kind = EventKind::Violation {
                invariant: violation.invariant,
                detail: violation.detail.clone(),
            };
            self.emit(host, violation.node, clock, kind)?;
            if violation.invariant.is_safety() && self.stop_at_first_violation {
                self.stopped = true;
            }
            self.violations.push(RecordedViolation {
                violation,
                seq,
                t_us: self.now_us,
            });
        }
        Ok(())
    }
}

impl Driver<Checker> {
    /// Takes over `other`'s checker and unreported findings (a replay of the same run that
    /// kept more to explain them with).
    pub fn take_over(&mut self, other: Driver) {
        self.checker = other.checker;
        self.found = other.found;
    }

    /// The end-of-run checks: every ledger equal if nothing is left in flight (`quiescent`),
    /// and liveness for the clients that are up and still had work. `why_ended` completes
    /// "the run ended …".
    pub fn judge_end<H: Host, N: Node>(
        &mut self,
        host: &mut H,
        clients: &[N],
        down: &[bool],
        quiescent: bool,
        why_ended: &str,
    ) -> io::Result<()> {
        let checker = &self.checker;
        if quiescent {
            self.found.extend(checker.at_quiescence());
        }
        let waiters: Vec<Waiter> = clients
            .iter()
            // A client that is down when the run ends is not waiting: it is gone.
            .filter(|client| !down[client.id().index()])
            .filter_map(waiter)
            .collect();
        let liveness = checker.liveness_violations(&waiters, why_ended);
        self.found.extend(liveness);
        self.report_found(host, clients)
    }
}

/// A node as a waiter, if it still had a transfer to finish (as [`Waiter::of`] for a
/// built-in client).
fn waiter<N: Node>(node: &N) -> Option<Waiter> {
    let current = node.current_transfer();
    let queued = node.queued_transfers();
    if current.is_none() && queued == 0 {
        return None;
    }
    Some(Waiter {
        node: node.id(),
        current: current.map(|transfer| (transfer.to, transfer.amount)),
        reason: node.wait_reason(),
        queued,
    })
}

#[cfg(test)]
mod tests;
