//! One step of the client and what follows it: the shared [`Driver`] turns the outputs into
//! the node's trace events; the node says them on the console, queues the sends and arms the
//! timer.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::super::trace::NodeTrace;
use super::super::wire::Purpose;
use super::{Current, Delivered, LiveClient, Node, Outstanding};
use crate::drive::{Driver, Host, Unchecked};
use crate::protocol::ledger::short_hex;
use crate::protocol::{Block, ClientId, Message, OutputKind, Timer, Timestamp};
use crate::trace::{Event, EventKind};
use crate::wording::count;

/// What the driver hands back to the node during a step: events for the trace file (and,
/// kept until the step is over, for the console), sends for the links, the timer.
pub(super) struct NodeHost {
    pub(super) trace: Option<NodeTrace>,
    /// The node's id and this life's tag, in the high bits of every message id.
    pub(super) msg_id_base: u64,
    /// When the node started: the trace's `t` counts from here.
    pub(super) started: Instant,
    /// The events of the current step.
    events: Vec<Event>,
    sends: Vec<(ClientId, u64, Message)>,
    timers: Vec<(u64, Timer)>,
}

impl NodeHost {
    pub(super) fn new(trace: Option<NodeTrace>, msg_id_base: u64, started: Instant) -> Self {
        NodeHost {
            trace,
            msg_id_base,
            started,
            events: Vec::new(),
            sends: Vec::new(),
            timers: Vec::new(),
        }
    }

    /// Hands the trace's buffered lines to the operating system.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        match &mut self.trace {
            Some(trace) => trace.flush(),
            None => Ok(()),
        }
    }
}

impl Host<Unchecked> for NodeHost {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        if let Some(trace) = &mut self.trace {
            trace.event(event)?;
        }
        self.events.push(event.clone());
        Ok(())
    }

    fn msg_id(&self, sent_before: u64) -> u64 {
        self.msg_id_base | (sent_before & 0xFFFF_FFFF)
    }

    fn carry(
        &mut self,
        _driver: &mut Driver<Unchecked>,
        _from: ClientId,
        _clock: Timestamp,
        to: ClientId,
        msg_id: u64,
        msg: Message,
    ) -> io::Result<()> {
        self.sends.push((to, msg_id, msg));
        Ok(())
    }

    fn set_timer(&mut self, _node: ClientId, after_us: u64, timer: Timer) {
        self.timers.push((after_us, timer));
    }
}

impl<C: LiveClient> Node<C> {
    /// Sets the driver's clock to the time since the node started (never backwards).
    pub(super) fn stamp(&mut self) {
        let elapsed = self.host.started.elapsed().as_micros();
        let t_us = u64::try_from(elapsed).unwrap_or(u64::MAX);
        self.driver.set_now(t_us.max(self.driver.now_us()));
    }

    /// Hands the blocks found in the data directory to the client
    /// ([`LiveClient::restore_block`]), traced as `apply` events.
    pub(super) fn restore(
        &mut self,
        blocks: &[Arc<Block>],
        dir: Option<&Path>,
    ) -> io::Result<Option<String>> {
        self.stamp();
        for block in blocks {
            self.client.restore_block(block, &mut self.outbox);
            for mut output in self.outbox.drain() {
                if let OutputKind::Applied { .. } = output.kind {
                    let (host, client) = (&mut self.host, &self.client);
                    self.driver
                        .output(host, client, self.id, &mut None, &mut output)?;
                }
            }
        }
        self.host.events.clear();
        self.host.flush()?;
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

    /// Traces and queues a message the session itself sends (a catch-up block, the end of
    /// a sync), not one the client's state machine asked for.
    pub(super) fn send_for_session(
        &mut self,
        peer: ClientId,
        clock: Timestamp,
        msg: Message,
        purpose: Purpose,
    ) -> io::Result<()> {
        self.stamp();
        let msg_id = self
            .driver
            .record_send(&mut self.host, self.id, clock, peer, &msg)?;
        self.host.events.clear();
        self.links
            .get_mut(&peer)
            .expect("a connected peer has a link")
            .push(msg_id, msg, Some(purpose));
        Ok(())
    }

    /// Traces an event of the node's own (not a client output), such as a REQUEST sent
    /// again.
    pub(super) fn trace_event(&mut self, clock: Timestamp, kind: EventKind) -> io::Result<()> {
        self.stamp();
        self.driver
            .emit(&mut self.host, Some(self.id), clock, kind)?;
        self.host.events.clear();
        Ok(())
    }

    /// Handles the client's outputs after one input; see the module documentation for the
    /// order. `delivered` is the message that was handled, if any.
    pub(super) fn after_step(&mut self, delivered: Option<Delivered<'_>>) -> io::Result<()> {
        if let Some(sentence) = self.client.take_failure() {
            // A program that failed in this step: nothing of the step is traced or sent, as in
            // the simulator, and the node stops.
            self.outbox.clear();
            self.failure = Some(sentence);
            self.exit = true;
            return Ok(());
        }
        if let Some(storage) = &mut self.storage {
            storage.append_from(self.client.ledger())?;
        }
        self.stamp();
        let message = delivered.map(|delivered| (delivered.msg_id, delivered.msg));
        self.driver.outputs(
            &mut self.host,
            &self.client,
            self.id,
            message,
            &mut self.outbox,
        )?;
        self.host.flush()?;
        let now = Instant::now();
        for (after_us, timer) in self.host.timers.drain(..) {
            let at = now + Duration::from_micros(after_us);
            let place = self.timers.partition_point(|&(armed, _)| armed <= at);
            self.timers.insert(place, (at, timer));
        }
        let events = std::mem::take(&mut self.host.events);
        for event in &events {
            self.say_event(event, delivered);
        }
        self.host.events = events;
        self.host.events.clear();
        let mut touched: Vec<ClientId> = Vec::new();
        for (to, msg_id, msg) in std::mem::take(&mut self.host.sends) {
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

    /// Says one event of the client's step on the console and keeps the node's notes of the
    /// transfer in hand. `delivered` is the message the step handled, if any.
    fn say_event(&mut self, event: &Event, delivered: Option<Delivered<'_>>) {
        match &event.kind {
            EventKind::Send { msg_id, to, msg } if msg.type_name() == "request" => {
                if let Some(outstanding) = &mut self.outstanding
                    && msg.ts() == outstanding.ts
                {
                    outstanding.sent.insert(*to, (*msg_id, msg.clone()));
                }
            }
            EventKind::Request { ts } => {
                let ts = *ts;
                if let Some(note) = self.accepted.pop_front() {
                    self.console.say(&format!(
                        "{}: requested the mutex with request ({ts},{})",
                        note.name(),
                        self.id
                    ));
                    self.current = Some(Current {
                        note,
                        ts,
                        entered: false,
                        requested_at: Instant::now(),
                        last_report: None,
                    });
                }
                self.outstanding = Some(Outstanding {
                    ts,
                    sent: Default::default(),
                });
            }
            EventKind::Enter { .. } => {
                if let Some(current) = &mut self.current {
                    current.entered = true;
                }
                self.say_current("entered the critical section");
            }
            EventKind::Commit { block } => {
                let balance = self.client.ledger().balance(self.id);
                self.say_current(&format!(
                    "committed block {} (hash {}); own balance now {balance}",
                    block.index(),
                    short_hex(&block.hash_value())
                ));
            }
            EventKind::Abort {
                amount, balance, ..
            } => self.say_current(&format!(
                "aborted: the own balance is {balance}, less than {amount}; nothing was \
                 committed"
            )),
            EventKind::Exit { .. } => {
                self.say_current("released the mutex");
                self.current = None;
                self.outstanding = None;
            }
            EventKind::Apply { block } => {
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
            }
            EventKind::Reject {
                from,
                block,
                reason,
            } => self.console.say(&format!(
                "rejected block {} from node {from}: {reason}",
                block.index()
            )),
            EventKind::Balance { of, value } => self.console.say(&format!(
                "balance of node {of}: {value} (node {}'s table after {}; it may be stale)",
                self.id,
                count(self.client.ledger().len(), "block")
            )),
            _ => {}
        }
    }

    fn say_current(&mut self, what: &str) {
        let name = match &self.current {
            Some(current) => current.note.name(),
            None => "the transfer".into(),
        };
        self.console.say(&format!("{name}: {what}"));
    }
}
