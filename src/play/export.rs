//! A played path as a scenario `run` replays event for event, and as that run's trace.
//!
//! The scenario pins every message (`schedule`): its delay is the time between the steps that
//! sent and delivered it, a lost one is `drop`, a duplicated one has both delays. Commands
//! happen at the steps that issued them, crashes and restarts at theirs, and a critical
//! section lasts the path's `cs_us` ([`super::timing`]). What the path left pending (messages
//! in flight, a client still inside) is pinned after `limits.max_time_us`, which is the last
//! step's time: the run ends there, as the session does, and judges liveness then. Partitions
//! are left out (the student loses messages instead), and so are commands never issued.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use super::Session;
use super::world::{Fate, Sent, Setup};
use crate::base::Invariant;
use crate::drive;
use crate::protocol::ledger::to_hex;
use crate::protocol::{ClientId, Command};
use crate::runner::header;
use crate::scenario::{
    BalanceReadSpec, CrashSpec, Expect, ExpectedOutcome, FaultsSpec, Limits, PinnedMessage,
    ScheduleSpec, TransferSpec, WorkloadSpec, parse_scenario,
};
use crate::trace::{Event, EventSink, TraceEncoder, TraceOutput};

/// A path exported.
pub struct Exported {
    /// The scenario file's text (pretty JSON).
    pub scenario_json: String,
    /// The trace `run` writes for it, byte for byte.
    pub trace: Vec<u8>,
    pub digest_hex: String,
    /// The invariant of the first violation, if any.
    pub violated: Option<Invariant>,
}

/// How the exported run ends.
struct Ending {
    name: &'static str,
    end_us: u64,
    events: Vec<Event>,
}

/// Exports `session`'s path; `source` names the file it is saved as, for the description.
pub fn export(session: &Session) -> io::Result<Exported> {
    // A fresh replay: the end-of-run checks change the world they run on.
    let mut played = super::replay(&session.setup, &session.moves)?;
    let timing = played.timing.clone();
    let max_time_us = timing.last_us().max(1);
    let world = &played.world;
    let pending = !world.in_flight().is_empty() || timer_after(&played, max_time_us);
    let file = scenario_file(session, &played, max_time_us);
    let ending = if played.world.stopped() {
        let end_us = played.world.driver().now_us();
        Ending {
            name: "violation",
            end_us,
            events: Vec::new(),
        }
    } else if pending {
        let why = format!("at limits.max_time_us ({max_time_us}us)");
        let events = played.world.judge_end(max_time_us, false, &why)?;
        Ending {
            name: "max_time",
            end_us: max_time_us,
            events,
        }
    } else {
        let end_us = timing.last_us();
        let events = played
            .world
            .judge_end(end_us, true, "with nothing left in flight")?;
        Ending {
            name: "quiescent",
            end_us,
            events,
        }
    };
    let (driver, clients) = played.world.into_driver();
    let counts = driver.counts();
    let violations = driver.into_violations();
    let violated = violations
        .first()
        .map(|recorded| recorded.violation.invariant);
    let mut file = file;
    file.expect = Some(match violated {
        Some(invariant) => Expect {
            outcome: ExpectedOutcome::Violation,
            invariant: Some(invariant),
        },
        None => Expect {
            outcome: ExpectedOutcome::Ok,
            invariant: None,
        },
    });
    let scenario_json = serde_json::to_string_pretty(&file).map_err(io::Error::other)? + "\n";
    // Parsed back: the file is valid, and the trace's header is the one `run` writes.
    let scenario = parse_scenario(&scenario_json, "played.json")
        .map_err(|error| io::Error::other(format!("the exported scenario is invalid: {error}")))?;
    let bytes = Arc::new(Mutex::new(Vec::new()));
    let mut encoder = TraceEncoder::new(vec![Box::new(Shared(Arc::clone(&bytes))) as TraceOutput]);
    encoder.header(&header(&scenario))?;
    for event in played.steps.iter().flat_map(|step| &step.events) {
        encoder.event(event)?;
    }
    for event in &ending.events {
        encoder.event(event)?;
    }
    let (balances, heads) = drive::tables_and_heads(&clients);
    let mut summary = drive::summary(
        ending.name,
        ending.end_us,
        counts,
        &violations,
        balances,
        &heads,
    );
    let digest = encoder.finish(&mut summary)?;
    let trace = std::mem::take(&mut *bytes.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(Exported {
        scenario_json,
        trace,
        digest_hex: to_hex(&digest),
        violated,
    })
}

/// Whether a timer armed on the path fires after `max_time_us` in the exported run (one of a
/// client still inside, or one a crash cancelled, which the simulator still pops).
fn timer_after(played: &super::Played, max_time_us: u64) -> bool {
    let times = &played.timing.times;
    played.world.timers().iter().any(|timer| {
        timer.fired_step.is_none()
            && times[timer.armed_step].saturating_add(played.timing.cs_us) > max_time_us
    })
}

/// The scenario file of the path, without its `expect`.
fn scenario_file(
    session: &Session,
    played: &super::Played,
    max_time_us: u64,
) -> crate::scenario::ScenarioFile {
    let setup: &Setup = &session.setup;
    let scenario = &setup.scenario;
    let times = &played.timing.times;
    let world = &played.world;
    let mut file = scenario.to_file();
    file.name = format!("{} (played)", scenario.name);
    file.description = format!(
        "{} moves played by hand in `lamport-ledger play` on {}; every message's fate is \
         pinned, so `run` replays the path event for event.",
        session.moves.len(),
        scenario.source
    );
    let mut workload = WorkloadSpec::default();
    for &(step, client, command) in &world.issued_at {
        match command {
            Command::Transfer { to, amount } => workload.transfers.push(TransferSpec {
                at_us: times[step],
                from: client,
                to,
                amount,
            }),
            Command::ReadBalance { of } => workload.balance_reads.push(BalanceReadSpec {
                at_us: times[step],
                client,
                of,
            }),
        }
    }
    file.workload = workload;
    file.faults = FaultsSpec {
        partitions: Vec::new(),
        crashes: crashes(world, times),
    };
    file.schedule = ScheduleSpec {
        messages: pins(world.sent(), times, max_time_us),
    };
    file.swarm = None;
    file.cs_us = played.timing.cs_us;
    let events: u64 = played
        .steps
        .iter()
        .map(|step| step.events.len() as u64)
        .sum();
    file.limits = Limits {
        max_events: scenario.limits.max_events.max(events + 1),
        max_time_us,
        max_memory_mib: scenario.limits.max_memory_mib,
    };
    file
}

/// The crashes played, each with its restart if the student restarted the client.
fn crashes(world: &super::world::World, times: &[u64]) -> Vec<CrashSpec> {
    let mut restarts: BTreeMap<ClientId, Vec<usize>> = BTreeMap::new();
    for &(step, client) in &world.restarted_at {
        restarts.entry(client).or_default().push(step);
    }
    let mut used: BTreeMap<ClientId, usize> = BTreeMap::new();
    world
        .crashed_at
        .iter()
        .map(|&(step, client, rule)| {
            let nth = used.entry(client).or_insert(0);
            let restart = restarts.get(&client).and_then(|steps| steps.get(*nth));
            *nth += 1;
            CrashSpec {
                client,
                at_us: times[step],
                restart_us: restart.map(|&step| times[step]),
                keep: rule.keep,
            }
        })
        .collect()
}

/// One pin per message sent: its delays, or its loss. A copy still in flight arrives after
/// the run's time limit, in send order (which keeps a FIFO link in order).
fn pins(sent: &[Sent], times: &[u64], max_time_us: u64) -> Vec<PinnedMessage> {
    let mut later_us = max_time_us;
    let mut arrival = |delivery: Option<&usize>| match delivery {
        Some(&step) => times[step],
        None => {
            later_us += 1;
            later_us
        }
    };
    sent.iter()
        .map(|message| {
            let sent_us = times[message.step];
            let mut pin = PinnedMessage {
                from: message.from,
                to: message.to,
                nth: message.nth,
                delay_us: None,
                drop: false,
                duplicate_delay_us: None,
            };
            match message.fate {
                Some(Fate::Lost) => pin.drop = true,
                fate => {
                    pin.delay_us = Some(arrival(message.deliveries.first()) - sent_us);
                    if fate == Some(Fate::Duplicated) {
                        let second = arrival(message.deliveries.get(1));
                        pin.duplicate_delay_us = Some(second - sent_us);
                    }
                }
            }
            pin
        })
        .collect()
}

/// A trace output the exporter reads back when the encoder is done.
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
