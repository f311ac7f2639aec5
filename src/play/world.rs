//! The clients of a played session and everything around them: the messages in flight (the
//! student decides which arrives next), the commands not yet issued, the critical-section
//! timers, the crashes. One [`World::step`] per move, through the one [`Driver`], so every
//! output becomes the same event, and every check runs, as in the simulator.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use super::moves::{Choice, Move};
use crate::check::Checker;
use crate::drive::{Driver, Host};
use crate::protocol::{
    Amount, Client, ClientConfig, ClientId, Command, Message, Outbox, Timer, Timestamp,
};
use crate::scenario::{CrashSpec, Keep, Scenario};
use crate::sim::Workload;
use crate::sim::rng::{Stream, stream_rng};
use crate::trace::{DropReason, Event, EventKind, Kept};

/// The most commands of a scenario's workload a session offers: a generated workload of a
/// long run has more than anyone plays by hand.
pub const MAX_COMMANDS: usize = 10_000;

/// What a session needs of its scenario, worked out once.
#[derive(Clone, Debug)]
pub struct Setup {
    pub scenario: Scenario,
    /// Index `id - 1`: that client's commands in the workload's order.
    pub commands: Vec<Vec<Command>>,
    /// Index `id - 1`: the crashes the scenario allows that client, in time order.
    pub crashes: Vec<Vec<CrashSpec>>,
    /// Whether the scenario's network (or a partition) may lose a message.
    pub may_lose: bool,
    /// Whether the scenario's network may deliver a message twice.
    pub may_duplicate: bool,
}

impl Setup {
    pub fn new(scenario: &Scenario) -> Self {
        let clients = scenario.clients as usize;
        let mut commands = vec![Vec::new(); clients];
        let mut workload = Workload::new(scenario, stream_rng(scenario.seed, Stream::Workload));
        for _ in 0..MAX_COMMANDS {
            let Some(item) = workload.next_item() else {
                break;
            };
            commands[item.client.index()].push(item.command);
        }
        let mut crashes = vec![Vec::new(); clients];
        let mut by_time = scenario.faults.crashes.clone();
        by_time.sort_by_key(|crash| crash.at_us);
        for crash in by_time {
            crashes[crash.client.index()].push(crash);
        }
        let network = &scenario.network;
        let may_lose = !network.drop_ratio.is_zero()
            || network
                .links
                .iter()
                .any(|link| link.drop_ratio.is_some_and(|ratio| !ratio.is_zero()))
            || !scenario.faults.partitions.is_empty();
        let may_duplicate = !network.duplicate_ratio.is_zero()
            || network
                .links
                .iter()
                .any(|link| link.duplicate_ratio.is_some_and(|ratio| !ratio.is_zero()));
        Setup {
            scenario: scenario.clone(),
            commands,
            crashes,
            may_lose,
            may_duplicate,
        }
    }

    /// Whether messages from `from` to `to` arrive in the order they were sent.
    pub fn fifo(&self, from: ClientId, to: ClientId) -> bool {
        let network = &self.scenario.network;
        network
            .links
            .iter()
            .find(|link| link.from == from && link.to == to)
            .and_then(|link| link.fifo)
            .unwrap_or(network.fifo)
    }
}

/// The fate of a message the student lost or duplicated. The simulator decides a message's
/// fate when it is sent, so a session replays such a message with its fate from its send on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Lost,
    Duplicated,
}

/// One message sent, and what became of it.
#[derive(Clone, Debug)]
pub struct Sent {
    pub msg_id: u64,
    pub from: ClientId,
    pub to: ClientId,
    /// Which message on its link, from 0.
    pub nth: u64,
    /// The step that sent it.
    pub step: usize,
    pub fate: Option<Fate>,
    /// The steps that delivered its copies, in order.
    pub deliveries: Vec<usize>,
}

/// A copy of a message in flight.
#[derive(Clone, Debug)]
pub struct InFlight {
    pub msg_id: u64,
    pub from: ClientId,
    pub to: ClientId,
    pub msg: Message,
}

/// A critical-section timer a client armed.
#[derive(Clone, Copy, Debug)]
pub struct ArmedTimer {
    pub client: ClientId,
    pub incarnation: u32,
    pub armed_step: usize,
    pub fired_step: Option<usize>,
}

/// Where the driver hands events and messages: the step's list, the messages in flight.
struct PlayHost {
    fates: BTreeMap<u64, Fate>,
    in_flight: Vec<InFlight>,
    sent: Vec<Sent>,
    sent_on_link: BTreeMap<(ClientId, ClientId), u64>,
    step_events: Vec<Event>,
    step: usize,
    /// Clients that armed a timer in the current step.
    armed: Vec<ClientId>,
}

impl Host for PlayHost {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.step_events.push(event.clone());
        Ok(())
    }

    /// A message's fate, as the simulator's network decides it at the send: lost (a `drop`
    /// event), duplicated (a `duplicate` event, two copies in flight) or in flight.
    fn carry(
        &mut self,
        driver: &mut Driver,
        from: ClientId,
        clock: Timestamp,
        to: ClientId,
        msg_id: u64,
        msg: Message,
    ) -> io::Result<()> {
        let nth = self.sent_on_link.entry((from, to)).or_insert(0);
        let fate = self.fates.get(&msg_id).copied();
        self.sent.push(Sent {
            msg_id,
            from,
            to,
            nth: *nth,
            step: self.step,
            fate,
            deliveries: Vec::new(),
        });
        *nth += 1;
        let copy = InFlight {
            msg_id,
            from,
            to,
            msg,
        };
        match fate {
            Some(Fate::Lost) => {
                let reason = DropReason::Loss;
                driver.emit(self, Some(from), clock, EventKind::Drop { msg_id, reason })
            }
            Some(Fate::Duplicated) => {
                driver.emit(self, Some(from), clock, EventKind::Duplicate { msg_id })?;
                self.in_flight.push(copy.clone());
                self.in_flight.push(copy);
                Ok(())
            }
            None => {
                self.in_flight.push(copy);
                Ok(())
            }
        }
    }

    /// The student decides when a critical section ends; the timer only makes the move.
    fn set_timer(&mut self, node: ClientId, _after_us: u64, _timer: Timer) {
        self.armed.push(node);
    }
}

/// The clients and their surroundings after some moves.
pub struct World {
    setup: Arc<Setup>,
    clients: Vec<Client>,
    driver: Driver,
    host: PlayHost,
    outbox: Outbox,
    /// Index `id - 1`: the client is down.
    down: Vec<bool>,
    incarnations: Vec<u32>,
    crashes_used: Vec<usize>,
    /// Index `id - 1`: how many of its commands the client was given.
    issued: Vec<usize>,
    timers: Vec<ArmedTimer>,
    /// Per step: the commands issued ((client, command)), for the exported workload.
    pub(super) issued_at: Vec<(usize, ClientId, Command)>,
    /// Per step: the crashes ((step, client, rule)) and restarts ((step, client)).
    pub(super) crashed_at: Vec<(usize, ClientId, CrashSpec)>,
    pub(super) restarted_at: Vec<(usize, ClientId)>,
    steps: usize,
}

/// What one step did, for the timing of the exported scenario.
#[derive(Clone, Debug, Default)]
pub struct StepShape {
    /// The step is a fate decided at a message's send: it takes no time of its own.
    pub fate: bool,
    /// The index (in [`World::timers`]) of the timer the step fired.
    pub fired: Option<usize>,
}

impl World {
    pub fn new(setup: Arc<Setup>, fates: BTreeMap<u64, Fate>) -> Self {
        let scenario = &setup.scenario;
        let initial: Arc<[Amount]> = scenario.initial_balances.clone().into();
        let clients = ClientId::all(scenario.clients)
            .map(|id| {
                let config = ClientConfig {
                    id,
                    clients: scenario.clients,
                    cs_us: scenario.cs_us,
                    variant: scenario.protocol.to_protocol(),
                    mutations: scenario.mutation_set(),
                };
                Client::new(&config, Arc::clone(&initial))
            })
            .collect();
        let n = scenario.clients as usize;
        let host = PlayHost {
            fates,
            in_flight: Vec::new(),
            sent: Vec::new(),
            sent_on_link: BTreeMap::new(),
            step_events: Vec::new(),
            step: 0,
            armed: Vec::new(),
        };
        let mut driver = Driver::new(Checker::new(&scenario.initial_balances), true);
        driver.attach(&host);
        World {
            setup,
            clients,
            driver,
            host,
            outbox: Outbox::new(),
            down: vec![false; n],
            incarnations: vec![0; n],
            crashes_used: vec![0; n],
            issued: vec![0; n],
            timers: Vec::new(),
            issued_at: Vec::new(),
            crashed_at: Vec::new(),
            restarted_at: Vec::new(),
            steps: 0,
        }
    }

    pub fn clients(&self) -> &[Client] {
        &self.clients
    }

    pub fn down(&self) -> &[bool] {
        &self.down
    }

    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    pub fn in_flight(&self) -> &[InFlight] {
        &self.host.in_flight
    }

    pub fn sent(&self) -> &[Sent] {
        &self.host.sent
    }

    pub fn timers(&self) -> &[ArmedTimer] {
        &self.timers
    }

    /// Index `id - 1`: how many of its commands the client was given.
    pub fn issued(&self) -> &[usize] {
        &self.issued
    }

    /// Index `id - 1`: how many times the client crashed.
    pub fn incarnations(&self) -> &[u32] {
        &self.incarnations
    }

    /// A safety violation stopped the session, as it stops a run.
    pub fn stopped(&self) -> bool {
        self.driver.stopped()
    }

    /// Whether `client` has a critical-section timer still to fire.
    pub fn has_live_timer(&self, client: ClientId) -> bool {
        self.live_timer(client).is_some()
    }

    /// The timer `client` armed in its current incarnation and that has not fired.
    fn live_timer(&self, client: ClientId) -> Option<usize> {
        self.timers.iter().position(|timer| {
            timer.client == client
                && timer.incarnation == self.incarnations[client.index()]
                && timer.fired_step.is_none()
        })
    }

    /// The command `client` would be given next.
    pub fn next_command(&self, client: ClientId) -> Option<Command> {
        let slot = client.index();
        self.setup.commands[slot].get(self.issued[slot]).copied()
    }

    /// Whether the copy at `index` of the in-flight list may arrive now: on a FIFO link only
    /// the oldest copy may.
    pub fn deliverable(&self, index: usize) -> Result<(), u64> {
        let copy = &self.host.in_flight[index];
        if !self.setup.fifo(copy.from, copy.to) {
            return Ok(());
        }
        match self.host.in_flight[..index]
            .iter()
            .find(|earlier| earlier.from == copy.from && earlier.to == copy.to)
        {
            Some(earlier) => Err(earlier.msg_id),
            None => Ok(()),
        }
    }

    /// Every move possible now (none once a violation stopped the session).
    pub fn choices(&self) -> Vec<Choice> {
        if self.stopped() {
            return Vec::new();
        }
        let mut choices = Vec::new();
        let mut seen = Vec::new();
        for (index, copy) in self.host.in_flight.iter().enumerate() {
            if seen.contains(&copy.msg_id) {
                continue;
            }
            seen.push(copy.msg_id);
            let blocked = self.deliverable(index).err();
            choices.push(Choice::deliver(copy, blocked, self.down[copy.to.index()]));
            let sent = self.sent_record(copy.msg_id);
            let untouched = sent.is_some_and(|sent| sent.fate.is_none());
            if self.setup.may_lose && untouched {
                choices.push(Choice::fault(
                    Move::Drop {
                        msg_id: copy.msg_id,
                    },
                    copy,
                ));
            }
            if self.setup.may_duplicate && untouched {
                choices.push(Choice::fault(
                    Move::Duplicate {
                        msg_id: copy.msg_id,
                    },
                    copy,
                ));
            }
        }
        for id in ClientId::all(self.setup.scenario.clients) {
            let slot = id.index();
            if self.down[slot] {
                if self
                    .crash_rule(id)
                    .is_some_and(|rule| rule.restart_us.is_some())
                {
                    choices.push(Choice::restart(id, self.crash_rule(id).map(|r| r.keep)));
                }
                continue;
            }
            if self.live_timer(id).is_some() {
                choices.push(Choice::leave(id));
            }
            if let Some(command) = self.next_command(id) {
                choices.push(Choice::issue(id, command));
            }
            if let Some(rule) = self.setup.crashes[slot].get(self.crashes_used[slot]) {
                choices.push(Choice::crash(id, rule.keep));
            }
        }
        choices
    }

    fn sent_record(&self, msg_id: u64) -> Option<&Sent> {
        self.host.sent.iter().find(|sent| sent.msg_id == msg_id)
    }

    /// The crash rule of `client`'s latest crash.
    fn crash_rule(&self, client: ClientId) -> Option<CrashSpec> {
        let used = self.crashes_used[client.index()];
        used.checked_sub(1)
            .and_then(|last| self.setup.crashes[client.index()].get(last).copied())
    }

    /// Whether `mv` is possible now.
    pub fn allows(&self, mv: Move) -> bool {
        self.choices()
            .iter()
            .any(|choice| choice.mv == mv && choice.blocked.is_none())
    }

    /// Makes `mv` at `t_us`; returns its events and its shape. The caller checks
    /// [`Self::allows`] first.
    pub fn step(&mut self, mv: Move, t_us: u64) -> io::Result<(Vec<Event>, StepShape)> {
        let step = self.steps;
        self.steps += 1;
        self.host.step = step;
        self.driver.set_now(t_us);
        let mut shape = StepShape::default();
        match mv {
            Move::Issue { client } => {
                let slot = client.index();
                let command = self.setup.commands[slot][self.issued[slot]];
                self.issued[slot] += 1;
                self.issued_at.push((step, client, command));
                // Validated with the scenario; a refused command changes nothing.
                let _ = self.clients[slot].handle_command(command, &mut self.outbox);
                self.emit_outputs(client, None)?;
            }
            Move::Deliver { msg_id } => {
                let index = self
                    .host
                    .in_flight
                    .iter()
                    .position(|copy| copy.msg_id == msg_id)
                    .expect("a delivered message is in flight");
                let copy = self.host.in_flight.remove(index);
                if let Some(sent) = self.host.sent.iter_mut().find(|s| s.msg_id == msg_id) {
                    sent.deliveries.push(step);
                }
                let to = copy.to;
                if self.down[to.index()] {
                    let clock = self.clients[to.index()].clock();
                    let reason = DropReason::Crashed;
                    self.emit(Some(to), clock, EventKind::Drop { msg_id, reason })?;
                } else {
                    self.clients[to.index()].handle_message(copy.from, &copy.msg, &mut self.outbox);
                    self.emit_outputs(to, Some((msg_id, &copy.msg)))?;
                }
            }
            Move::Leave { client } => {
                let timer = self
                    .live_timer(client)
                    .expect("a client leaves on its timer");
                self.timers[timer].fired_step = Some(step);
                shape.fired = Some(timer);
                let timer = Timer::LeaveCriticalSection;
                self.clients[client.index()].handle_timer(timer, &mut self.outbox);
                self.emit_outputs(client, None)?;
            }
            Move::Drop { .. } | Move::Duplicate { .. } => shape.fate = true,
            Move::Crash { client } => {
                let slot = client.index();
                let rule = self.setup.crashes[slot][self.crashes_used[slot]];
                self.crashes_used[slot] += 1;
                self.down[slot] = true;
                self.incarnations[slot] += 1;
                self.crashed_at.push((step, client, rule));
                let clock = self.clients[slot].clock();
                self.emit(Some(client), clock, EventKind::Crash)?;
            }
            Move::Restart { client } => {
                let slot = client.index();
                let rule = self.crash_rule(client).expect("a restart follows a crash");
                let keep_ledger = rule.keep == Keep::Ledger;
                self.clients[slot].restart(keep_ledger);
                self.down[slot] = false;
                self.restarted_at.push((step, client));
                let kept = if keep_ledger {
                    Kept::Ledger
                } else {
                    Kept::Nothing
                };
                let clock = self.clients[slot].clock();
                self.emit(Some(client), clock, EventKind::Restart { kept })?;
            }
        }
        for client in std::mem::take(&mut self.host.armed) {
            self.timers.push(ArmedTimer {
                client,
                incarnation: self.incarnations[client.index()],
                armed_step: step,
                fired_step: None,
            });
        }
        Ok((std::mem::take(&mut self.host.step_events), shape))
    }

    /// The end-of-run checks `run` makes when the exported scenario ends here: at
    /// quiescence, or at its time limit with `why_ended`. Returns their events.
    pub fn judge_end(
        &mut self,
        t_us: u64,
        quiescent: bool,
        why_ended: &str,
    ) -> io::Result<Vec<Event>> {
        self.driver.set_now(t_us);
        let World {
            clients,
            driver,
            host,
            down,
            ..
        } = self;
        driver.judge_end(host, clients, down, quiescent, why_ended)?;
        Ok(std::mem::take(&mut self.host.step_events))
    }

    /// Consumes the world for its violations and counts.
    pub fn into_driver(self) -> (Driver, Vec<Client>) {
        (self.driver, self.clients)
    }

    fn emit_outputs(
        &mut self,
        node: ClientId,
        delivered: Option<(u64, &Message)>,
    ) -> io::Result<()> {
        let clients = self.clients.as_slice();
        self.driver
            .outputs(&mut self.host, clients, node, delivered, &mut self.outbox)
    }

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
