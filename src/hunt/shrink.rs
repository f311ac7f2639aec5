//! Shrinking a failing run to a small scenario that still fails the same way.
//!
//! 1. Run the scenario and seed, recording every transfer as it arrived and every message's
//!    fate (delay, duplicate, loss). The first violation's invariant is the target.
//! 2. Rewrite the scenario with explicit transfers and a `schedule` pinning every message, so
//!    it fails without any random draw.
//! 3. Greedily try smaller scenarios: without a client (the ids above it move down), runs of
//!    transfers or a single one (with the later transfers moved earlier to close the gap, or
//!    all the others issued at once, or neither), a balance read, a fault or a link override;
//!    last, when nothing else goes, a single transfer with the others issued a message delay
//!    (or half of one) apart, in their order or the reverse one. Keep a candidate when its
//!    first violation is still the target, with its inherited pins or, failing that, with the
//!    pins dropped under one of a few fresh seeds (removing a client changes every timing that
//!    waited for it; the spread ones get more seeds); then re-pin its messages from its own
//!    run, since message numbering shifts when something is removed. Repeat until nothing
//!    more can go.
//! 4. Cut the time limit to the violation and pin the final run once more.
//!
//! Messages that a candidate sends beyond the pins follow the network model, so a candidate
//! may fail or pass by chance; only failing ones are kept, and the result is pinned in full.

use std::collections::BTreeMap;
use std::io;
use std::ops::Range;

use crate::check::Invariant;
use crate::protocol::ClientId;
use crate::scenario::{
    BalanceReadSpec, Expect, ExpectedOutcome, LatencySpec, PinnedMessage, Scenario, ScheduleSpec,
    TransferSpec,
};
use crate::sim::{EndReason, RunOptions, simulate};
use crate::trace::{DropReason, Event, EventKind, EventSink};
use crate::wording::count;

/// How big a scenario's run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub clients: u32,
    pub transfers: u64,
    pub messages: u64,
    pub events: u64,
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, {}, {}, {}",
            count(self.clients, "client"),
            count(self.transfers, "transfer"),
            count(self.messages, "message"),
            count(self.events, "event")
        )
    }
}

/// The outcome of a shrink.
#[derive(Clone, Debug)]
pub struct Shrunk {
    pub invariant: Invariant,
    pub before: Size,
    pub after: Size,
    /// The minimal scenario, with every message pinned.
    pub scenario: Scenario,
    /// How many candidate runs were tried.
    pub attempts: u64,
}

/// Why a scenario could not be shrunk.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error("seed {seed} of {source_name} violates no invariant, so there is nothing to shrink")]
    NoFailure { source_name: String, seed: u64 },
    #[error(
        "the pinned rewrite of seed {seed} no longer fails with {invariant}; please report this \
         as a bug"
    )]
    NotReproduced { seed: u64, invariant: Invariant },
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// At most this many candidate runs, so a shrink always ends.
pub const MAX_ATTEMPTS: u64 = 20_000;

/// At most this many candidate runs when a program plays the clients: each run starts a
/// process per client, so a run costs milliseconds where a built-in one costs microseconds.
pub const NODE_MAX_ATTEMPTS: u64 = 100;

/// Shrinks the failing run of `scenario` (with its seed), within [`MAX_ATTEMPTS`] runs, or
/// [`NODE_MAX_ATTEMPTS`] when a program plays the clients.
pub fn shrink(scenario: &Scenario) -> Result<Shrunk, ShrinkError> {
    let budget = if scenario.node.is_some() {
        NODE_MAX_ATTEMPTS
    } else {
        MAX_ATTEMPTS
    };
    shrink_within(scenario, budget)
}

/// Shrinks the failing run of `scenario` in at most about `max_attempts` candidate runs (a
/// few more for the final pinning): a run of a program started per client costs far more
/// than a built-in one, so `test-node` spends a budget. The result fails as the original
/// did whatever the budget, only less small.
pub fn shrink_within(scenario: &Scenario, max_attempts: u64) -> Result<Shrunk, ShrinkError> {
    let original = record(scenario)?;
    let Some((invariant, _)) = original.first_violation else {
        return Err(ShrinkError::NoFailure {
            source_name: scenario.source.clone(),
            seed: scenario.seed,
        });
    };
    let before = original.size(scenario.clients);
    let mut best = pinned(scenario, &original, invariant);
    let mut best_run = record(&best)?;
    if best_run.first_violation.map(|(found, _)| found) != Some(invariant) {
        return Err(ShrinkError::NotReproduced {
            seed: scenario.seed,
            invariant,
        });
    }
    let mut attempts = 1;
    loop {
        let mut progressed = false;
        for (candidate, reseeds) in candidates(&best) {
            if attempts >= max_attempts {
                break;
            }
            let budget = Budget {
                reseeds,
                max_attempts,
            };
            if let Some((kept, run)) = still_fails(candidate, invariant, budget, &mut attempts)? {
                best = pinned(&kept, &run, invariant);
                best_run = run;
                progressed = true;
                break;
            }
        }
        if !progressed || attempts >= max_attempts {
            break;
        }
    }
    let scenario = finish(&best, &best_run, invariant)?;
    let after = record(&scenario)?.size(scenario.clients);
    Ok(Shrunk {
        invariant,
        before,
        after,
        scenario,
        attempts,
    })
}

/// How many fresh seeds a candidate gets when its pins no longer reproduce the failure.
const RESEEDS: u64 = 64;

/// How many fresh seeds a candidate with its transfers spread a message delay apart gets
/// ([`Gap::Spread`]). These come last and only while three or more transfers are left, so
/// most shrinks pay for them once or twice. What they look for can be rare: two requests a
/// delay apart fail `mutual_exclusion` only when one REPLY is faster than the critical
/// section: for swarm seed 2175 of `swarm-lamport.json` (delays 2,026-6,940 us, critical
/// section 2,258 us, requests 4,483 us apart) 10 of 20,000 seeds fail, the first being 676.
const SPREAD_RESEEDS: u64 = 1024;

/// How many fresh seeds one candidate gets, within the whole shrink's attempts.
#[derive(Clone, Copy)]
struct Budget {
    reseeds: u64,
    max_attempts: u64,
}

/// Does `candidate` still fail with `invariant`? First with the pins it inherited; when the
/// reduction moved the failure away (removing a client changes every timing that waited for
/// it), with its pins dropped and a few fresh seeds, so the smaller setting can find its own
/// failing schedule. Returns the failing variant and its recording.
fn still_fails(
    candidate: Scenario,
    invariant: Invariant,
    budget: Budget,
    attempts: &mut u64,
) -> Result<Option<(Scenario, Recording)>, ShrinkError> {
    *attempts += 1;
    let run = record(&candidate)?;
    if run.first_violation.map(|(found, _)| found) == Some(invariant) {
        return Ok(Some((candidate, run)));
    }
    for seed in 0..budget.reseeds {
        if *attempts >= budget.max_attempts {
            break;
        }
        *attempts += 1;
        let reseeded = Scenario {
            seed,
            schedule: ScheduleSpec::default(),
            ..candidate.clone()
        };
        let run = record(&reseeded)?;
        if run.first_violation.map(|(found, _)| found) == Some(invariant) {
            return Ok(Some((reseeded, run)));
        }
    }
    Ok(None)
}

/// The final form: the time limit cut to the violation (for a safety invariant) and every
/// message of the final run pinned.
fn finish(best: &Scenario, run: &Recording, invariant: Invariant) -> Result<Scenario, ShrinkError> {
    let mut scenario = pinned(best, run, invariant);
    if let Some((_, t_us)) = run.first_violation.filter(|_| invariant.is_safety()) {
        scenario.limits.max_time_us = t_us.max(1);
    }
    let check = record(&scenario)?;
    if check.first_violation.map(|(found, _)| found) == Some(invariant) {
        Ok(scenario)
    } else {
        // Cutting the time changed the run: keep the uncut one.
        Ok(pinned(best, run, invariant))
    }
}

/// `scenario` with the recorded transfers made explicit, every recorded message pinned, and
/// the expectation set to the target invariant.
fn pinned(scenario: &Scenario, run: &Recording, invariant: Invariant) -> Scenario {
    Scenario {
        transfers: run.transfers.clone(),
        generated: None,
        schedule: run.schedule(),
        expect: Some(Expect {
            outcome: ExpectedOutcome::Violation,
            invariant: Some(invariant),
        }),
        ..scenario.clone()
    }
}

/// Every one-step reduction of `scenario`, most promising first: the biggest cuts (a
/// client) before the small ones. Each comes with how many fresh seeds it gets.
fn candidates(scenario: &Scenario) -> Vec<(Scenario, u64)> {
    let mut out = Vec::new();
    if scenario.clients > 1 {
        for client in ClientId::all(scenario.clients).rev() {
            out.push(without_client(scenario, client));
        }
    }
    let transfers = scenario.transfers.len();
    // Runs of transfers first, halves down to pairs (as delta debugging does), then single
    // ones. A single one goes as it was, with the later transfers moved earlier to close the
    // gap, and with all the others issued at once: a failure that needs two requests to
    // overlap needs the transfers that remain to come close in time, which removing what came
    // between them alone does not give.
    let mut run = transfers / 2;
    while run >= 2 {
        for start in (0..=transfers - run).rev().step_by(run) {
            out.push(without_transfers(scenario, start..start + run, Gap::Close));
        }
        run /= 2;
    }
    for index in (0..transfers).rev() {
        out.push(without_transfers(scenario, index..index + 1, Gap::Keep));
        out.push(without_transfers(scenario, index..index + 1, Gap::Close));
        out.push(without_transfers(scenario, index..index + 1, Gap::All));
    }
    for index in (0..scenario.balance_reads.len()).rev() {
        let mut candidate = scenario.clone();
        candidate.balance_reads.remove(index);
        out.push(candidate);
    }
    for index in (0..scenario.faults.partitions.len()).rev() {
        let mut candidate = scenario.clone();
        candidate.faults.partitions.remove(index);
        out.push(candidate);
    }
    for index in (0..scenario.faults.crashes.len()).rev() {
        let mut candidate = scenario.clone();
        candidate.faults.crashes.remove(index);
        out.push(candidate);
    }
    for index in (0..scenario.network.links.len()).rev() {
        let mut candidate = scenario.clone();
        candidate.network.links.remove(index);
        out.push(candidate);
    }
    let mut out: Vec<(Scenario, u64)> = out.into_iter().map(|c| (c, RESEEDS)).collect();
    // Last, only when nothing above goes: a single transfer removed and the others issued a
    // message delay (or half of one) apart, in their order or the reverse one. Two requests
    // that must overlap often need exactly that: the second sent while the first is in
    // flight, by the client whose timestamp wins the tie. The transfers a failure leaves
    // behind were placed for a run with more of them (one of which moved a clock), so neither
    // keeping, closing nor removing their gap gives it. With two transfers left, one more
    // cannot go and the spread would only repeat `Gap::All`.
    if transfers >= 3 {
        let delay_us = typical_delay_us(&scenario.network.latency);
        for index in (0..transfers).rev() {
            for step_us in [delay_us / 2, delay_us].into_iter().filter(|&us| us > 0) {
                for reversed in [false, true] {
                    let gap = Gap::Spread { step_us, reversed };
                    out.push((
                        without_transfers(scenario, index..index + 1, gap),
                        SPREAD_RESEEDS,
                    ));
                }
            }
        }
    }
    out
}

/// A message's typical delay under the network's default latency.
fn typical_delay_us(latency: &LatencySpec) -> u64 {
    match *latency {
        LatencySpec::Constant { us } => us,
        LatencySpec::Uniform { min_us, max_us } => min_us / 2 + max_us / 2,
        LatencySpec::Exponential { mean_us, .. } => mean_us,
    }
}

/// What happens to the transfers after the ones removed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gap {
    /// They keep their times.
    Keep,
    /// They move earlier by the time between the first removed transfer and the first kept
    /// one after it.
    Close,
    /// Every transfer left is issued at the time of the first one.
    All,
    /// The transfers left are issued `step_us` apart from the time of the first one on, in
    /// their order or (`reversed`) the last one first.
    Spread { step_us: u64, reversed: bool },
}

/// `scenario` without the transfers at `removed` (indexes into its list, which is in time
/// order).
fn without_transfers(scenario: &Scenario, removed: Range<usize>, gap: Gap) -> Scenario {
    let mut candidate = scenario.clone();
    let transfers = &mut candidate.transfers;
    let shift_us = match (gap, transfers.get(removed.end)) {
        (Gap::Close, Some(next)) => next.at_us - transfers[removed.start].at_us,
        _ => 0,
    };
    transfers.drain(removed.clone());
    for later in &mut transfers[removed.start..] {
        later.at_us -= shift_us;
    }
    if gap == Gap::All
        && let Some(first_us) = transfers.first().map(|first| first.at_us)
    {
        transfers
            .iter_mut()
            .for_each(|transfer| transfer.at_us = first_us);
    }
    if let Gap::Spread { step_us, reversed } = gap
        && let Some(first_us) = transfers.first().map(|first| first.at_us)
    {
        let last = transfers.len() - 1;
        for (nth, transfer) in transfers.iter_mut().enumerate() {
            let slot = if reversed { last - nth } else { nth } as u64;
            transfer.at_us = first_us.saturating_add(slot.saturating_mul(step_us));
        }
        // Stable: the list stays in time order, file order among equal times.
        transfers.sort_by_key(|transfer| transfer.at_us);
    }
    candidate
}

/// `scenario` without client `gone`: what it does goes, transfers to it pay another client,
/// and ids above it move down.
fn without_client(scenario: &Scenario, gone: ClientId) -> Scenario {
    let renumber = |id: ClientId| {
        if id > gone {
            ClientId::new(id.get() - 1)
        } else {
            id
        }
    };
    let keeps = |id: ClientId| id != gone;
    let mut s = scenario.clone();
    s.clients -= 1;
    s.initial_balances.remove(gone.index());
    // A transfer *to* the client that goes is kept, paying someone else instead: who is paid
    // does not matter to the mutex, and the payer may be one of the two clients that collide.
    s.transfers = s
        .transfers
        .iter()
        .filter(|t| keeps(t.from) && s.clients >= 2)
        .map(|t| {
            let from = renumber(t.from);
            let to = if keeps(t.to) {
                renumber(t.to)
            } else if from == ClientId::new(1) {
                ClientId::new(2)
            } else {
                ClientId::new(1)
            };
            TransferSpec { from, to, ..*t }
        })
        .collect();
    s.balance_reads = s
        .balance_reads
        .iter()
        .filter(|r| keeps(r.client) && keeps(r.of))
        .map(|r| BalanceReadSpec {
            client: renumber(r.client),
            of: renumber(r.of),
            ..*r
        })
        .collect();
    s.network
        .links
        .retain(|link| keeps(link.from) && keeps(link.to));
    for link in &mut s.network.links {
        link.from = renumber(link.from);
        link.to = renumber(link.to);
    }
    s.faults.crashes.retain(|crash| keeps(crash.client));
    for crash in &mut s.faults.crashes {
        crash.client = renumber(crash.client);
    }
    for partition in &mut s.faults.partitions {
        for group in &mut partition.groups {
            group.retain(|&id| keeps(id));
            group.iter_mut().for_each(|id| *id = renumber(*id));
        }
    }
    s.faults
        .partitions
        .retain(|p| p.groups.len() >= 2 && p.groups.iter().all(|group| !group.is_empty()));
    s.schedule.messages = s
        .schedule
        .messages
        .iter()
        .filter(|pin| keeps(pin.from) && keeps(pin.to))
        .map(|pin| PinnedMessage {
            from: renumber(pin.from),
            to: renumber(pin.to),
            ..*pin
        })
        .collect();
    s
}

/// What one run showed: its transfers as they arrived, every message's fate, and the first
/// violation.
#[derive(Default)]
struct Recording {
    transfers: Vec<TransferSpec>,
    /// msg_id -> (from, to, nth on its link, sent at).
    sends: BTreeMap<u64, (ClientId, ClientId, u64, u64)>,
    /// msg_id -> arrival times (deliveries, and drops at a crashed receiver).
    arrivals: BTreeMap<u64, Vec<u64>>,
    /// Messages lost in the network (loss or partition).
    lost: BTreeMap<u64, ()>,
    sent_on_link: BTreeMap<(ClientId, ClientId), u64>,
    first_violation: Option<(Invariant, u64)>,
    events: u64,
    /// The time of the last event: the run ended there.
    last_t_us: u64,
}

impl Recording {
    fn size(&self, clients: u32) -> Size {
        Size {
            clients,
            transfers: self.transfers.len() as u64,
            messages: self.sends.len() as u64,
            events: self.events,
        }
    }

    /// One pin per message. A message still in flight when the run ended is pinned to arrive
    /// just after the end: left unpinned, it would take a fresh random delay in the rewrite
    /// (the pinned messages no longer draw, so the draws fall differently), arrive earlier, and
    /// change the run before its violation.
    fn schedule(&self) -> ScheduleSpec {
        let messages = self
            .sends
            .iter()
            .map(|(msg_id, &(from, to, nth, sent_us))| {
                let drop = self.lost.contains_key(msg_id);
                let (delay_us, duplicate_delay_us) = if drop {
                    (None, None)
                } else if let Some(arrivals) = self.arrivals.get(msg_id) {
                    let mut delays: Vec<u64> = arrivals.iter().map(|&t| t - sent_us).collect();
                    delays.sort_unstable();
                    (delays.first().copied(), delays.get(1).copied())
                } else {
                    (Some(self.last_t_us + 1 - sent_us), None)
                };
                PinnedMessage {
                    from,
                    to,
                    nth,
                    delay_us,
                    drop,
                    duplicate_delay_us,
                }
            })
            .collect();
        ScheduleSpec { messages }
    }
}

impl EventSink for Recording {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.events += 1;
        self.last_t_us = event.t_us;
        match &event.kind {
            EventKind::Transfer { to, amount } => {
                let from = event.node.unwrap_or_default();
                self.transfers.push(TransferSpec {
                    at_us: event.t_us,
                    from,
                    to: *to,
                    amount: *amount,
                });
            }
            EventKind::Send { msg_id, to, .. } => {
                let from = event.node.unwrap_or_default();
                let sent = self.sent_on_link.entry((from, *to)).or_insert(0);
                self.sends.insert(*msg_id, (from, *to, *sent, event.t_us));
                *sent += 1;
            }
            EventKind::Deliver { msg_id, .. } => {
                self.arrivals.entry(*msg_id).or_default().push(event.t_us)
            }
            EventKind::Drop {
                msg_id,
                reason: DropReason::Crashed,
            } => {
                self.arrivals.entry(*msg_id).or_default().push(event.t_us);
            }
            EventKind::Drop { msg_id, .. } => {
                self.lost.insert(*msg_id, ());
            }
            EventKind::Violation { invariant, .. } if self.first_violation.is_none() => {
                self.first_violation = Some((*invariant, event.t_us));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Runs `scenario` and records it. The explanations of violations are not needed here, only
/// which invariant broke and when, so the run is made for its verdict.
fn record(scenario: &Scenario) -> Result<Recording, ShrinkError> {
    let mut recording = Recording::default();
    let result = simulate(scenario, RunOptions::verdict_only(), &mut [&mut recording])?;
    debug_assert!(result.end != EndReason::Violation || recording.first_violation.is_some());
    Ok(recording)
}
