//! Holding every event of a trace to the protocol: each client's inputs, as the trace
//! records them, go through the same state machine the simulator drives
//! ([`crate::protocol::Client`], with the header's protocol and mutations), and every event
//! must be one the client's step produces, in order, with the same fields and clock. The
//! replay is generic over the node boundary: with `check --node-cmd` the state machine is a
//! process of the user's program per client, held to the trace the same way.
//!
//! The inputs are the events that start a step: a command (`transfer`, `balance`), a
//! delivery, a crash and a restart. A client's critical-section timer is the one input
//! without an event of its own: it fires when the next event of that client is none of
//! those and no step of it is under way (it only ever ends the critical section, so firing
//! it there is the same as firing it at its time). Every other event of a client must be
//! the next output of its step under way. Network events (`drop`, `duplicate`,
//! `partition`, `heal`) and `violation` claims are no client's step.
//!
//! A live node's trace (the header has a `live` object) may also hold what the node's
//! session does outside the state machine: the `apply` events of the blocks it restores
//! from its data directory when it starts, and the UPDATE (catch-up) and UPDATED (sync)
//! messages it sends to a peer that connects; and a node killed in the middle of a step
//! leaves the rest of that step out. A program's live node (`node --node-cmd`) sends no
//! session messages, and hands the restored blocks to its program in `init` (`restore`).

mod expect;
mod nodes;
mod restore;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use crate::protocol::{
    Amount, Client, ClientConfig, ClientId, Command, Message, Mutation, Mutations, Outbox, Timer,
    Variant,
};
use crate::trace::read::{DeclaredCrash, TraceHeader};
use crate::trace::{DropReason, Event, EventKind, Kept};
pub(crate) use expect::describe;
use expect::{Expected, describe_expected, matches, step_events};
pub use nodes::{Refusal, ReplayNode, StartNode};
use restore::{Restoring, restore_block};

/// Commits between two passes that forget the blocks no message can bring back, as the
/// simulator does, so that a long trace replays in flat memory.
const FORGET_BLOCKS_EVERY: u64 = 1024;

/// The largest message timestamp a delivery may carry. Every clock then stays below it plus
/// the number of events, far from overflowing, however the messages are forged.
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// The protocol a header names, or why it names none this checker knows.
pub fn protocol_of(header: &TraceHeader) -> Result<(Variant, Mutations), String> {
    let variant = Variant::ALL
        .into_iter()
        .find(|variant| variant.name() == header.protocol)
        .ok_or_else(|| {
            format!(
                "the header's `protocol` is {:?}, which is none of the protocols: {}",
                header.protocol,
                names(Variant::ALL.map(Variant::name))
            )
        })?;
    let mut mutations = Mutations::none();
    for name in &header.mutations {
        let mutation = Mutation::ALL
            .into_iter()
            .find(|mutation| mutation.name() == name)
            .ok_or_else(|| {
                format!(
                    "the header's `mutations` list {name:?}, which is none of the mutations: {}",
                    names(Mutation::ALL.map(Mutation::name))
                )
            })?;
        mutations = mutations.with(mutation);
    }
    Ok((variant, mutations))
}

fn names<const N: usize>(names: [&str; N]) -> String {
    names
        .iter()
        .map(|name| format!("{name:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One client as the replay sees it.
struct Replayed<N> {
    client: N,
    /// The `seq` of the crash it is down since.
    down_since: Option<u64>,
    /// Its critical-section timer is armed and has not fired.
    timer_armed: bool,
    /// The events its step under way must still produce, in order.
    step: VecDeque<Expected>,
    /// The `seq` of the event that began its last step.
    step_began: u64,
    /// The clock of its last event.
    last_clock: u64,
    /// Nothing has happened at it since it started (a live node restores its data directory
    /// then).
    fresh: bool,
    /// Its crashes so far.
    crashes: usize,
    /// The blocks it restored since it started, while it has done nothing else; only for a
    /// node that [restores at start](ReplayNode::RESTORES_AT_START).
    restoring: Option<Restoring>,
}

/// The replay of a whole trace, event by event, through nodes of type `N`: the built-in
/// [`Client`], or any other implementation of the node boundary (a program's, through
/// a process node, `--node-cmd`).
pub struct Replay<N: ReplayNode = Client> {
    config: ClientConfig,
    start: StartNode<N>,
    initial_balances: Arc<[Amount]>,
    live: bool,
    /// The crashes the header schedules, when it is a simulator's.
    declared_crashes: Option<Vec<DeclaredCrash>>,
    /// Index `id - 1`; made at the client's first event.
    nodes: Vec<Option<Box<Replayed<N>>>>,
    outbox: Outbox,
    forgetting: Option<Forgetting>,
}

/// What forgetting unreachable blocks needs to know: the blocks in flight.
struct Forgetting {
    /// Message id -> (block index, copies in flight), for messages that carry a block.
    carried: BTreeMap<u64, (u64, u64)>,
    /// Block index -> copies in flight.
    in_flight: BTreeMap<u64, u64>,
    commits: u64,
    forget_at: u64,
}

impl Replay<Client> {
    /// A replay of a trace with this header through the built-in client, with the header's
    /// protocol and mutations; an error if it names no protocol known here.
    pub fn new(header: &TraceHeader) -> Result<Replay<Client>, String> {
        let (variant, mutations) = protocol_of(header)?;
        // The built-in client restores blocks as messages, so it is always started empty.
        let start: StartNode<Client> =
            Box::new(|config, initial| Ok(Client::new(&config, initial)));
        Ok(Replay::with_nodes(header, variant, mutations, start))
    }
}

impl<N: ReplayNode> Replay<N> {
    /// A replay of a trace with this header through the nodes `start` makes, each at its
    /// client's first event.
    pub fn with_nodes(
        header: &TraceHeader,
        variant: Variant,
        mutations: Mutations,
        start: StartNode<N>,
    ) -> Replay<N> {
        let config = ClientConfig {
            id: ClientId::new(1),
            clients: header.clients,
            cs_us: header.cs_us.unwrap_or(1000),
            variant,
            mutations,
        };
        // A restart that keeps nothing starts a ledger over, whose blocks then meet the old
        // ones: forgetting is only safe when the header rules that out, as the simulator's is.
        let simulated = header.max_events.is_some() && !header.live;
        let forgets = simulated && N::FORGETS_BLOCKS && !header.restarts_from_nothing();
        let forgetting = forgets.then(|| Forgetting {
            carried: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            commits: 0,
            forget_at: FORGET_BLOCKS_EVERY,
        });
        Replay {
            config,
            start,
            initial_balances: header.initial_balances.clone().into(),
            live: header.live,
            declared_crashes: header.crashes.clone(),
            nodes: (0..header.clients).map(|_| None).collect(),
            outbox: Outbox::new(),
            forgetting,
        }
    }

    /// Holds one event to the protocol. `Ok(true)` if it began a step of the run of its own
    /// (an input to a client, or a fault), `Ok(false)` if it continued one (or is a claim);
    /// an error says why the event cannot follow from the ones before it.
    pub fn observe(&mut self, event: &Event) -> Result<bool, Refusal> {
        match &event.kind {
            EventKind::Violation { .. } => return Ok(false),
            EventKind::Partition { .. } | EventKind::Heal { .. } => return Ok(true),
            EventKind::Duplicate { msg_id } => {
                self.copies(*msg_id, true);
                return Ok(false);
            }
            EventKind::Drop { msg_id, reason } => {
                self.copies(*msg_id, false);
                return Ok(*reason == DropReason::Crashed);
            }
            _ => {}
        }
        let Some(id) = event.node.filter(|id| id.is_among(self.config.clients)) else {
            return Err(Refusal::NotFollowing(format!(
                "a `{}` event happens at a client, but its `node` names none",
                event.kind.name()
            )));
        };
        let began = self.step_of(id, event)?;
        let node = self.nodes[id.index()].as_mut().expect("made by step_of");
        node.last_clock = event.clock;
        self.after(event);
        Ok(began)
    }

    /// Holds `event` at client `id` to its step under way, or to the step it begins.
    fn step_of(&mut self, id: ClientId, event: &Event) -> Result<bool, Refusal> {
        let live = self.live;
        if N::RESTORES_AT_START {
            self.node(id)?;
            self.start_restored(id, Some(event))?;
        }
        let node = self.node(id)?;
        if let Some(next) = node.step.front() {
            if matches(next, event) {
                node.step.pop_front();
                return Ok(false);
            }
            if !(live && event.kind == EventKind::Crash) {
                return Err(Refusal::NotFollowing(format!(
                    "event {} ({}) does not follow from the events before it: the step of \
                     client {id} that began at event {} produces {} next",
                    event.seq,
                    describe(id, event.clock, &event.kind),
                    node.step_began,
                    describe_expected(id, next)
                )));
            }
            // A live node killed in the middle of a step: the rest of it never happened.
            node.step.clear();
        }
        let outbox = &mut self.outbox;
        let initial_balances = &self.initial_balances;
        let node = self.nodes[id.index()].as_mut().expect("made above");
        if matches!(event.kind, EventKind::Crash | EventKind::Restart { .. })
            && let Some(declared) = &self.declared_crashes
        {
            scheduled(declared, id, event, node)?;
        }
        match &event.kind {
            EventKind::Crash => return Ok(node.crash(id, event, live).map(|()| true)?),
            EventKind::Restart { kept } => {
                if *kept == Kept::Nothing {
                    // The header did not say: forgetting blocks is no longer safe.
                    self.forgetting = None;
                }
                return node.restart(id, event, *kept).map(|()| true);
            }
            _ => {}
        }
        if let Some(crashed) = node.down_since {
            return Err(Refusal::NotFollowing(format!(
                "event {} ({}) cannot happen: client {id} is down (it crashed at event \
                 {crashed} and has not restarted)",
                event.seq,
                describe(id, event.clock, &event.kind)
            )));
        }
        let fresh = std::mem::replace(&mut node.fresh, false);
        let mut delivered = None;
        let mut only_applied = false;
        let input = match &event.kind {
            EventKind::Transfer { to, amount } => {
                let command = Command::Transfer {
                    to: *to,
                    amount: *amount,
                };
                node.command(id, event, command, outbox)?;
                "the transfer command"
            }
            EventKind::Balance { of, .. } => {
                node.command(id, event, Command::ReadBalance { of: *of }, outbox)?;
                "the balance command"
            }
            EventKind::Deliver { msg_id, from, msg } => {
                if msg.ts() > MAX_TIMESTAMP {
                    return Err(Refusal::NotFollowing(format!(
                        "event {} ({}) cannot happen: the message's timestamp {} is past \
                         {MAX_TIMESTAMP}, which no clock reaches (clocks count events)",
                        event.seq,
                        describe(id, event.clock, &event.kind),
                        msg.ts()
                    )));
                }
                if *from == id {
                    return Err(Refusal::NotFollowing(format!(
                        "event {} ({}) cannot happen: a client sends no message to itself",
                        event.seq,
                        describe(id, event.clock, &event.kind)
                    )));
                }
                node.client.handle_message(*from, msg, outbox);
                delivered = Some((*msg_id, msg));
                "the delivery"
            }
            EventKind::Send { to, msg, .. } if live => {
                node.session_send(id, event, *to, msg)?;
                return Ok(true);
            }
            EventKind::Apply { block } if live && fresh && N::RESTORES_AT_START => {
                node.fresh = true;
                let held = node.client.ledger().len();
                restore_block(
                    &mut node.restoring,
                    id,
                    event,
                    block,
                    initial_balances,
                    held,
                )?;
                return Ok(true);
            }
            EventKind::Apply { block } if live && fresh => {
                node.fresh = true;
                // As the node restores a block: an UPDATE from a peer the block names.
                let (from, msg) = Message::restoring(block, id);
                node.client.handle_message(from, &msg, outbox);
                only_applied = true;
                "the restore of a block from the node's data directory"
            }
            _ if node.timer_armed => {
                node.timer_armed = false;
                node.client
                    .handle_timer(Timer::LeaveCriticalSection, outbox);
                "the critical-section timer, the one input without an event of its own"
            }
            _ => {
                return Err(Refusal::NotFollowing(format!(
                    "event {} ({}) does not follow from the events before it: it is no input \
                     (a command, a delivery, a crash or a restart), client {id} has no step \
                     under way that produces it and no timer armed; client {id} is {}",
                    event.seq,
                    describe(id, event.clock, &event.kind),
                    node.client.standing()
                )));
            }
        };
        if let Some(failure) = node.client.take_failure() {
            return Err(Refusal::NodeFailed(failure));
        }
        let produced = step_events(&node.client, delivered, outbox, only_applied);
        node.timer_armed |= produced.armed_timer;
        node.step = produced.events;
        node.step_began = event.seq;
        match node.step.pop_front() {
            Some(first) if matches(&first, event) => Ok(true),
            Some(first) => Err(Refusal::NotFollowing(format!(
                "event {} ({}) does not follow from the events before it: client {id}, then \
                 {}, answers {input} with {} first",
                event.seq,
                describe(id, event.clock, &event.kind),
                node.client.standing(),
                describe_expected(id, &first)
            ))),
            None => Err(Refusal::NotFollowing(format!(
                "event {} ({}) does not follow from the events before it: client {id} answers \
                 {input} with no event at all; it is now {}",
                event.seq,
                describe(id, event.clock, &event.kind),
                node.client.standing()
            ))),
        }
    }

    /// Client `id`, made at its first event.
    fn node(&mut self, id: ClientId) -> Result<&mut Replayed<N>, Refusal> {
        let slot = &mut self.nodes[id.index()];
        if slot.is_none() {
            let config = ClientConfig { id, ..self.config };
            let client = (self.start)(config, Arc::clone(&self.initial_balances))
                .map_err(Refusal::NodeFailed)?;
            *slot = Some(Box::new(Replayed {
                client,
                down_since: None,
                timer_armed: false,
                step: VecDeque::new(),
                step_began: 0,
                last_clock: 0,
                fresh: true,
                crashes: 0,
                restoring: None,
            }));
        }
        Ok(slot.as_mut().expect("made above"))
    }

    /// Ends the restore of client `id` unless `next` (its next event; `None` at the end of
    /// the trace) goes on with it: the node is started anew with the blocks restored, and the
    /// clock it reports must be the one the restore's `apply` events carry.
    fn start_restored(&mut self, id: ClientId, next: Option<&Event>) -> Result<(), Refusal> {
        let Some(node) = self.nodes[id.index()].as_mut() else {
            return Ok(());
        };
        let goes_on = next.is_some_and(|event| {
            node.fresh && matches!(event.kind, EventKind::Apply { .. }) && node.down_since.is_none()
        });
        if goes_on {
            return Ok(());
        }
        let Some(restoring) = node.restoring.take() else {
            return Ok(());
        };
        node.client
            .restore(restoring.blocks())
            .map_err(Refusal::NodeFailed)?;
        restoring.check_clock(id, node.client.clock())?;
        Ok(())
    }

    /// Keeps count of the blocks in flight and forgets the unreachable ones now and then.
    fn after(&mut self, event: &Event) {
        let Some(forgetting) = &mut self.forgetting else {
            return;
        };
        match &event.kind {
            EventKind::Send { msg_id, msg, .. } => {
                if let Some(block) = msg.block() {
                    forgetting.carried.insert(*msg_id, (block.index(), 1));
                    *forgetting.in_flight.entry(block.index()).or_insert(0) += 1;
                }
            }
            EventKind::Deliver { msg_id, .. } => self.copies(*msg_id, false),
            EventKind::Commit { .. } => {
                forgetting.commits += 1;
                if forgetting.commits >= forgetting.forget_at {
                    forgetting.forget_at = forgetting.commits + FORGET_BLOCKS_EVERY;
                    self.forget_unreachable_blocks();
                }
            }
            _ => {}
        }
    }

    /// One copy of message `msg_id` more (a duplicate) or less (a delivery or a drop).
    fn copies(&mut self, msg_id: u64, more: bool) {
        let Some(forgetting) = &mut self.forgetting else {
            return;
        };
        let Some((index, copies)) = forgetting.carried.get_mut(&msg_id) else {
            return;
        };
        let index = *index;
        if more {
            *copies += 1;
            *forgetting.in_flight.entry(index).or_insert(0) += 1;
            return;
        }
        *copies = copies.saturating_sub(1);
        if *copies == 0 {
            forgetting.carried.remove(&msg_id);
        }
        if let Some(count) = forgetting.in_flight.get_mut(&index) {
            *count -= 1;
            if *count == 0 {
                forgetting.in_flight.remove(&index);
            }
        }
    }

    /// Every client forgets the blocks below the shortest ledger, below every block held
    /// back and below every block in flight: a client looks an old block up only when one
    /// with that index reaches it, so none of its later steps changes.
    fn forget_unreachable_blocks(&mut self) {
        let Some(forgetting) = &self.forgetting else {
            return;
        };
        let mut reachable_from = forgetting.in_flight.keys().next().copied();
        for node in &self.nodes {
            let Some(node) = node else {
                return;
            };
            let lowest = node.client.lowest_block_needed();
            reachable_from = reachable_from.min(lowest).or(lowest);
        }
        let Some(reachable_from) = reachable_from else {
            return;
        };
        for node in self.nodes.iter_mut().flatten() {
            node.client.forget_blocks_before(reachable_from);
        }
    }

    /// The checks after the last event. `quiescent`: the run ended with nothing left to
    /// happen, so no timer may still be due to end a critical section.
    pub fn finish(&mut self, quiescent: bool) -> Result<(), Refusal> {
        if N::RESTORES_AT_START {
            for slot in 0..self.nodes.len() {
                self.start_restored(ClientId::from_index(slot), None)?;
            }
        }
        let live = self.live;
        for (slot, node) in self.nodes.iter_mut().enumerate() {
            let Some(node) = node else { continue };
            let id = ClientId::from_index(slot);
            if let Some(next) = node.step.front()
                && !live
            {
                return Err(Refusal::NotFollowing(format!(
                    "the trace ends in the middle of client {id}'s step that began at event {}: \
                     it still produces {}",
                    node.step_began,
                    describe_expected(id, next)
                )));
            }
            if quiescent && !live && node.timer_armed && node.down_since.is_none() {
                node.client
                    .handle_timer(Timer::LeaveCriticalSection, &mut self.outbox);
                if let Some(failure) = node.client.take_failure() {
                    return Err(Refusal::NodeFailed(failure));
                }
                let produced = step_events(&node.client, None, &mut self.outbox, false);
                if let Some(first) = produced.events.front() {
                    return Err(Refusal::NotFollowing(format!(
                        "the summary says the run ended quiescent, but client {id}'s \
                         critical-section timer has not fired, and firing it produces {}",
                        describe_expected(id, first)
                    )));
                }
            }
        }
        Ok(())
    }
}

impl<N: ReplayNode> Drop for Replay<N> {
    /// Tells every node the replay is over before any is reaped, so that programs exit side
    /// by side rather than one after the other.
    fn drop(&mut self) {
        for node in self.nodes.iter_mut().flatten() {
            node.client.close_input();
        }
    }
}

/// A crash or restart of a simulated run must be one its header schedules: the `n`th crash
/// of a client is its `n`th in the header's `faults`, and a restart follows only a crash that
/// restarts, keeping what that crash keeps.
fn scheduled<N>(
    declared: &[DeclaredCrash],
    id: ClientId,
    event: &Event,
    node: &Replayed<N>,
) -> Result<(), String> {
    let mut of_client = declared.iter().filter(|crash| crash.client == id);
    let what = describe(id, event.clock, &event.kind);
    match event.kind {
        EventKind::Crash => match of_client.nth(node.crashes) {
            Some(_) => Ok(()),
            None => Err(format!(
                "event {} ({what}) cannot happen: the header's `faults` let client {id} crash \
                 {}, and this would be one more",
                event.seq,
                crate::wording::count(declared.iter().filter(|c| c.client == id).count(), "time")
            )),
        },
        EventKind::Restart { kept } => {
            let crash = node.crashes.checked_sub(1).and_then(|n| of_client.nth(n));
            match crash {
                Some(crash) if crash.restarts && crash.keep == kept => Ok(()),
                Some(crash) if crash.restarts => Err(format!(
                    "event {} ({what}) cannot happen: the header's `faults` restart client \
                     {id} keeping {}",
                    event.seq,
                    crash.keep.name()
                )),
                _ => Err(format!(
                    "event {} ({what}) cannot happen: the header's `faults` schedule no restart \
                     of client {id} after this crash",
                    event.seq
                )),
            }
        }
        _ => Ok(()),
    }
}

impl<N: ReplayNode> Replayed<N> {
    /// A command: the client must accept it (the writer traces only accepted ones).
    fn command(
        &mut self,
        id: ClientId,
        event: &Event,
        command: Command,
        outbox: &mut Outbox,
    ) -> Result<(), String> {
        self.client
            .handle_command(command, outbox)
            .map_err(|error| {
                format!(
                    "event {} ({}) cannot happen: client {id} refuses the command before \
                     anything changes: {error}",
                    event.seq,
                    describe(id, event.clock, &event.kind)
                )
            })
    }

    fn crash(&mut self, id: ClientId, event: &Event, live: bool) -> Result<(), String> {
        if let Some(crashed) = self.down_since {
            return Err(format!(
                "event {}: client {id} crashes, but it is down already (it crashed at event \
                 {crashed} and has not restarted)",
                event.seq
            ));
        }
        // A live node cut in the middle of a step leaves the clock of its last event.
        let clock = self.client.clock();
        let cut_clock = live.then_some(self.last_clock);
        if event.clock != clock && Some(event.clock) != cut_clock {
            return Err(format!(
                "event {}: client {id} crashes with clock {}, but its clock is {clock}",
                event.seq, event.clock
            ));
        }
        self.down_since = Some(event.seq);
        self.crashes += 1;
        self.timer_armed = false;
        Ok(())
    }

    fn restart(&mut self, id: ClientId, event: &Event, kept: Kept) -> Result<(), Refusal> {
        if self.down_since.is_none() {
            return Err(Refusal::NotFollowing(format!(
                "event {}: client {id} restarts, but it is up: a restart follows a crash",
                event.seq
            )));
        }
        self.client.restart(kept == Kept::Ledger);
        if let Some(failure) = self.client.take_failure() {
            return Err(Refusal::NodeFailed(failure));
        }
        self.down_since = None;
        self.fresh = true;
        let clock = self.client.clock();
        if event.clock != clock {
            return Err(Refusal::NotFollowing(format!(
                "event {}: client {id} restarts with clock {}, but a restart starts a new clock \
                 at {clock}",
                event.seq, event.clock
            )));
        }
        Ok(())
    }

    /// A live node's session sends a peer a block of the own ledger it lacks (UPDATE) or the
    /// end of a catch-up (UPDATED), stamped with the own clock, which it does not change.
    fn session_send(
        &mut self,
        id: ClientId,
        event: &Event,
        to: ClientId,
        msg: &Message,
    ) -> Result<(), String> {
        if !N::SESSION_MESSAGES {
            return Err(format!(
                "event {} ({}) does not follow from the events before it: no step of client \
                 {id} is under way, and a program node's live session sends no message of its \
                 own",
                event.seq,
                describe(id, event.clock, &event.kind)
            ));
        }
        let clock = self.client.clock();
        let own_block = match msg {
            Message::Update { block, .. } => self
                .client
                .ledger()
                .block(block.index())
                .is_some_and(|own| own == block),
            Message::Updated { .. } => true,
            _ => false,
        };
        if to == id || msg.ts() != clock || event.clock != clock || !own_block {
            return Err(format!(
                "event {} ({}) does not follow from the events before it: no step of client \
                 {id} is under way, and a live node's session only sends a peer an UPDATE with \
                 a block of its own ledger, or an UPDATED, stamped with its clock ({clock})",
                event.seq,
                describe(id, event.clock, &event.kind)
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
