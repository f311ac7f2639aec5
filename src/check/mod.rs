//! Invariant checks (docs/spec.md section 4), one file per invariant.
//!
//! Every check reads trace [`Event`]s only, so the same units run online (inside the
//! simulator, which stops at the first safety violation) and offline over a trace file. Two
//! checks need more than events: `conservation` reads the clients' own balance tables (online
//! after every commit and apply, offline from the summary's final balances), and `liveness`
//! needs to know who still waits at the end of a run.
//!
//! Besides the invariants, the checker keeps a bounded history of the run (the latest
//! messages per link and their fate, crashes, partitions, each client's phase) to explain a
//! violation in words. A checker for a trace read offline ([`Checker::for_trace`]) also
//! matches every delivery with its send; inside the simulator, which
//! is the network, that would only cost time.
//! [`offline`] replays a trace file through the same [`Checker`].

mod chain_integrity;
mod clock_condition;
mod conservation;
mod delivery;
pub(crate) mod history;
mod ledger_agreement;
mod liveness;
mod mutual_exclusion;
mod network;
mod no_overdraft;
pub mod offline;
pub mod replay;

pub use crate::base::Invariant;
use chain_integrity::ChainIntegrity;
use clock_condition::ClockCondition;
use conservation::Conservation;
use delivery::DeliveryMatching;
use history::History;
use ledger_agreement::LedgerAgreement;
pub use liveness::Waiter;
use liveness::waiters_from_history;
use mutual_exclusion::MutualExclusion;
use no_overdraft::NoOverdraft;

use crate::protocol::{Amount, Block, ClientId, Hash, Message, Timestamp};
use crate::trace::{Event, EventKind};

/// A broken invariant: its stable name, the client it was seen at, the clients involved, and
/// a sentence a student understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The invariant broken.
    pub invariant: Invariant,
    /// The client it was seen at, if any.
    pub node: Option<ClientId>,
    /// The clients the explanation is about, the one it was seen at first.
    pub clients: Vec<ClientId>,
    /// The explanation, one sentence.
    pub detail: String,
}

impl Violation {
    /// A violation of `invariant` seen at `node`, about `node` alone until
    /// [`Violation::with_clients`] says otherwise.
    pub fn new(invariant: Invariant, node: Option<ClientId>, detail: impl Into<String>) -> Self {
        Violation {
            invariant,
            node,
            clients: node.into_iter().collect(),
            detail: detail.into(),
        }
    }

    /// Names the clients involved (the first should be `node`).
    pub fn with_clients(mut self, clients: &[ClientId]) -> Self {
        self.clients = clients.to_vec();
        self
    }
}

/// The words the detail of every violation found when a run ends (rather than at one of its
/// events) starts with: `liveness`, and `ledger_agreement` at quiescence.
pub const FOUND_AT_END: &str = "the run ended";

/// Was the violation with this `detail` found when the run ended, rather than at an event?
pub fn found_at_end(detail: &str) -> bool {
    detail.starts_with(FOUND_AT_END)
}

/// The event that revealed each violation event of a trace, given every violation event's
/// `seq` and `detail` in trace order; `None` for those found when the run ended.
///
/// A violation event is written right after the event that revealed it (after the other
/// violations that event revealed), so the event that revealed it is the last event before
/// it that is not a violation event: it and the trace's violation lines share one numbering,
/// the trace's `seq`.
pub fn revealing_events<'a>(
    violations: impl IntoIterator<Item = (u64, &'a str)>,
) -> Vec<Option<u64>> {
    let mut revealed: Vec<Option<u64>> = Vec::new();
    // The seq of the previous violation event and the event that revealed it.
    let mut previous: Option<(u64, u64)> = None;
    for (seq, detail) in violations {
        if found_at_end(detail) {
            revealed.push(None);
            continue;
        }
        let by = match previous {
            Some((prev_seq, prev_by)) if prev_seq + 1 == seq => prev_by,
            _ => seq.saturating_sub(1),
        };
        previous = Some((seq, by));
        revealed.push(Some(by));
    }
    revealed
}

/// Which of the step checks can find something in a step of some kind (see [`step_checks`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct StepChecks {
    mutual_exclusion: bool,
    /// chain_integrity and ledger_agreement: both look at the blocks a step adds.
    chain: bool,
    no_overdraft: bool,
}

impl StepChecks {
    const NONE: StepChecks = StepChecks {
        mutual_exclusion: false,
        chain: false,
        no_overdraft: false,
    };
}

/// The step checks that can find something in a step of this kind. Each check looks at a few
/// kinds and lets the others pass, so the kind picks the checks rather than each check
/// testing it again (about one step in two is a commit or an apply, most of the rest are left
/// alone by all four). A unit test holds every check to it: a check left out must neither
/// change nor find anything on that kind.
#[inline(always)]
fn step_checks(kind: &EventKind) -> StepChecks {
    match kind {
        EventKind::Commit { .. } | EventKind::Apply { .. } => StepChecks {
            chain: true,
            no_overdraft: true,
            ..StepChecks::NONE
        },
        EventKind::Enter { .. } | EventKind::Exit { .. } | EventKind::Crash => StepChecks {
            mutual_exclusion: true,
            ..StepChecks::NONE
        },
        EventKind::Restart { .. } => StepChecks {
            mutual_exclusion: true,
            chain: true,
            ..StepChecks::NONE
        },
        EventKind::Transfer { .. }
        | EventKind::Request { .. }
        | EventKind::Abort { .. }
        | EventKind::Reject { .. }
        | EventKind::Balance { .. }
        | EventKind::Violation { .. }
        | EventKind::Partition { .. }
        | EventKind::Heal { .. }
        | EventKind::Send { .. }
        | EventKind::Deliver { .. }
        | EventKind::Drop { .. }
        | EventKind::Duplicate { .. } => StepChecks::NONE,
    }
}

/// Adds a check's finding, if any. Not `Vec::extend`, which reserves room for an `Option`
/// on every call, finding or not: this runs several times per event.
#[inline]
fn note(found: &mut Vec<Violation>, violation: Option<Violation>) {
    if let Some(violation) = violation {
        found.push(violation);
    }
}

/// A `commit` (`committed`) or `apply` event by its parts, for [`Checker::observe_block`].
#[derive(Clone, Copy, Debug)]
pub struct BlockStep<'a> {
    /// The client whose ledger took the block.
    pub node: ClientId,
    /// The event's number in the trace.
    pub seq: u64,
    /// The event's time.
    pub t_us: u64,
    /// The client's clock at the event.
    pub clock: Timestamp,
    /// The block committed or appended.
    pub block: &'a Block,
    /// A commit (else an apply).
    pub committed: bool,
}

/// All event-driven checks together.
#[derive(Clone, Debug)]
pub struct Checker {
    mutual_exclusion: MutualExclusion,
    chain_integrity: ChainIntegrity,
    ledger_agreement: LedgerAgreement,
    no_overdraft: NoOverdraft,
    clock_condition: ClockCondition,
    conservation: Conservation,
    /// Offline only (see [`Checker::for_trace`]).
    delivery: Option<DeliveryMatching>,
    history: History,
}

impl Checker {
    /// A checker for a run whose clients start with `initial_balances` (index `id - 1`), as
    /// the simulator uses it: the simulator is the network, so deliveries need no matching.
    pub fn new(initial_balances: &[Amount]) -> Self {
        let clients = initial_balances.len() as u32;
        Checker {
            mutual_exclusion: MutualExclusion::new(clients),
            chain_integrity: ChainIntegrity::new(clients),
            ledger_agreement: LedgerAgreement::new(clients),
            no_overdraft: NoOverdraft::new(initial_balances),
            clock_condition: ClockCondition::new(clients),
            conservation: Conservation::new(initial_balances),
            delivery: None,
            history: History::new(clients),
        }
    }

    /// A checker for a trace read offline. It also matches every delivery, drop and
    /// duplicate with its send (violations of `clock_condition`), and keeps what each client
    /// has heard from each peer to rebuild the waiters at the end
    /// ([`Self::waiters_from_events`]).
    pub fn for_trace(initial_balances: &[Amount]) -> Self {
        let mut checker = Checker::new(initial_balances);
        checker.history.track_receivers();
        checker.delivery = Some(DeliveryMatching::new());
        checker
    }

    /// A checker that finds the same violations but explains them without naming the messages
    /// involved, keeping no message logs: for runs that only need the verdict.
    pub fn without_message_logs(mut self) -> Self {
        self.history.skip_message_logs();
        self
    }

    /// A checker that forgets the blocks every client holds, so that its memory stays flat
    /// over a long run. Only for runs in which no client restarts with nothing.
    pub fn forgetting_agreed_blocks(mut self) -> Self {
        self.ledger_agreement.forget_agreed_blocks();
        self
    }

    /// Makes room for `blocks` blocks in the checker's chain (a driver that knows how many
    /// transfers are coming saves it growing step by step).
    pub fn reserving_blocks(mut self, blocks: usize) -> Self {
        self.ledger_agreement.reserve(blocks);
        self
    }

    /// Feeds one event to every check; returns the violations it reveals, in a fixed order.
    /// `violation` events are a trace's claims, not facts: they are ignored.
    #[inline]
    pub fn observe(&mut self, event: &Event, found: &mut Vec<Violation>) {
        if matches!(event.kind, EventKind::Violation { .. }) {
            return;
        }
        note(found, self.clock_condition.observe(event));
        let route = match &mut self.delivery {
            Some(delivery) => delivery.observe(event, &self.history, found),
            None => None,
        };
        // Most events are messages sent, delivered, lost or copied; the checks of
        // `observe_step` look only at the clients' steps.
        if event.kind.is_about_a_message() {
            self.history.observe(event, route);
            return;
        }
        self.observe_step(event, route, found);
    }

    /// Whether any check needs the `send` and `deliver` events themselves. When none does,
    /// only their clocks are checked, and a driver may report them through
    /// [`Self::observe_send`] and [`Self::observe_deliver`] without building the events:
    /// the same checks, the same violations.
    #[inline]
    pub fn watches_messages(&self) -> bool {
        self.delivery.is_some() || self.history.watches_messages()
    }

    /// What [`Self::observe`] does with a `send` event, without the event; only while
    /// [`Self::watches_messages`] is false.
    #[inline]
    pub fn observe_send(
        &mut self,
        node: ClientId,
        clock: Timestamp,
        to: ClientId,
        msg_id: u64,
        msg: &Message,
        found: &mut Vec<Violation>,
    ) {
        debug_assert!(!self.watches_messages());
        note(
            found,
            self.clock_condition
                .observe_send(node, clock, to, msg_id, msg),
        );
    }

    /// What [`Self::observe`] does with a `deliver` event, without the event; only while
    /// [`Self::watches_messages`] is false.
    #[inline]
    pub fn observe_deliver(
        &mut self,
        node: ClientId,
        clock: Timestamp,
        from: ClientId,
        msg_id: u64,
        msg: &Message,
        found: &mut Vec<Violation>,
    ) {
        debug_assert!(!self.watches_messages());
        note(
            found,
            self.clock_condition
                .observe_deliver(node, clock, from, msg_id, msg),
        );
    }

    /// What [`Self::observe`] does with a `commit` or `apply` event, without the event (whose
    /// counted reference to the block would cost two atomic operations); only while
    /// [`Self::watches_messages`] is false. The same checks in the same order: the clock,
    /// the history, then chain_integrity, no_overdraft and ledger_agreement.
    #[inline]
    pub fn observe_block(&mut self, step: BlockStep<'_>, found: &mut Vec<Violation>) {
        debug_assert!(!self.watches_messages());
        let BlockStep {
            node,
            seq,
            t_us,
            clock,
            block,
            committed,
        } = step;
        let kind_name = if committed { "commit" } else { "apply" };
        note(
            found,
            self.clock_condition
                .observe_step(node, clock, kind_name, false),
        );
        if committed {
            self.history.observe_commit(node, seq, t_us);
        }
        note(
            found,
            self.chain_integrity.observe_block(node, block, committed),
        );
        note(found, self.no_overdraft.observe_block(Some(node), block));
        note(found, self.ledger_agreement.observe_block(node, block));
    }

    /// The history's part and the checks of a client's step (not a message's fate). Inline in
    /// [`Self::observe`]: a run with bare messages calls that for client steps alone, and a
    /// second call's entry and exit (registers saved and restored) would weigh on every
    /// client step. The history learns first, as for any event.
    #[inline(always)]
    fn observe_step(
        &mut self,
        event: &Event,
        route: Option<(ClientId, ClientId)>,
        found: &mut Vec<Violation>,
    ) {
        self.history.observe_step(event, route);
        // One call site per check, so that each stays inline.
        let checks = step_checks(&event.kind);
        if checks.mutual_exclusion {
            note(found, self.mutual_exclusion.observe(event, &self.history));
        }
        if checks.chain {
            note(found, self.chain_integrity.observe(event));
        }
        if checks.no_overdraft {
            note(found, self.no_overdraft.observe(event));
        }
        if checks.chain {
            note(found, self.ledger_agreement.observe(event));
        }
    }

    /// Checks a client's own balance table by its sum, after it changed (the ledger keeps the
    /// sum up to date, so this is O(1)).
    pub fn observe_table_total(&mut self, node: ClientId, sum: u128) -> Option<Violation> {
        self.conservation.check_total(node, sum)
    }

    /// At quiescence (nothing left in flight): every ledger must be equal.
    pub fn at_quiescence(&self) -> Option<Violation> {
        self.ledger_agreement.at_quiescence()
    }

    /// One liveness violation per waiter, explained with what the events showed: lost
    /// messages and why, crashed peers, partitions in place, messages still in flight, peers
    /// that wait themselves. `why_ended` completes "the run ended …".
    pub fn liveness_violations(&self, waiters: &[Waiter], why_ended: &str) -> Vec<Violation> {
        liveness::explained(waiters, why_ended, Some(&self.history))
    }

    /// The clients that still had work, rebuilt from the events (for a trace checked
    /// offline, with a checker made by [`Self::for_trace`]; the simulator knows them from its
    /// clients). `protocol` is the trace header's.
    pub fn waiters_from_events(&self, protocol: &str) -> Vec<Waiter> {
        waiters_from_history(&self.history, protocol)
    }

    /// Each client's ledger as replayed from its commit, apply and restart events:
    /// (length, head hash), index `id - 1`.
    pub fn ledger_heads(&self) -> &[(u64, Hash)] {
        self.chain_integrity.heads()
    }

    /// The message with the lowest id that still has a copy in flight: (msg_id, sender,
    /// receiver, seq of its send). Only a checker made by [`Self::for_trace`] knows.
    pub fn oldest_in_flight(&self) -> Option<(u64, ClientId, ClientId, u64)> {
        self.delivery.as_ref()?.oldest_in_flight()
    }

    /// Checks a table from outside the events (offline: the summary's final balances).
    pub fn check_table(&self, node: ClientId, table: &[Amount]) -> Option<Violation> {
        self.conservation.check(node, table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event of a run.
    struct Collect(Vec<Event>);

    impl crate::trace::EventSink for Collect {
        fn event(&mut self, event: &Event) -> std::io::Result<()> {
            self.0.push(event.clone());
            Ok(())
        }
    }

    /// The events of `scenario`'s run past its violations, which has its own checker; these
    /// go through another.
    fn events_of(name: &str, text: &str) -> (Vec<Amount>, Vec<Event>) {
        let scenario = crate::scenario::parse_scenario(text, name).unwrap();
        let mut collect = Collect(Vec::new());
        let keep_going = crate::sim::RunOptions {
            stop_at_first_violation: false,
            ..crate::sim::RunOptions::default()
        };
        crate::sim::simulate(&scenario, keep_going, &mut [&mut collect]).unwrap();
        (scenario.initial_balances.clone(), collect.0)
    }

    /// Each check that [`step_checks`] leaves out of `event`'s kind finds nothing in it and
    /// stays as it was.
    fn assert_left_out_checks_ignore(checker: &Checker, event: &Event, at: &str) {
        let checks = step_checks(&event.kind);
        fn unchanged<C: std::fmt::Debug + Clone>(
            check: &C,
            observe: impl FnOnce(&mut C) -> Option<Violation>,
            at: &str,
        ) {
            let mut copy = check.clone();
            assert!(observe(&mut copy).is_none(), "{at}");
            assert_eq!(format!("{copy:?}"), format!("{check:?}"), "{at}");
        }
        if !checks.mutual_exclusion {
            let history = &checker.history;
            unchanged(
                &checker.mutual_exclusion,
                |check| check.observe(event, history),
                at,
            );
        }
        if !checks.chain {
            unchanged(&checker.chain_integrity, |check| check.observe(event), at);
            unchanged(&checker.ledger_agreement, |check| check.observe(event), at);
        }
        if !checks.no_overdraft {
            unchanged(&checker.no_overdraft, |check| check.observe(event), at);
        }
    }

    #[test]
    fn a_check_that_step_checks_leaves_out_neither_changes_nor_finds_anything() {
        let runs = [
            ("default", include_str!("../../scenarios/default.json")),
            ("reorder-2", include_str!("../../scenarios/reorder-2.json")),
            ("loss", include_str!("../../scenarios/loss-lamport.json")),
            (
                "duplication",
                include_str!("../../scenarios/duplication-lamport.json"),
            ),
            (
                "partition",
                include_str!("../../scenarios/partition-heal.json"),
            ),
            (
                "crash-nothing",
                include_str!("../../scenarios/crash-restart-nothing.json"),
            ),
            (
                "crash-ledger",
                include_str!("../../scenarios/crash-restart-ledger.json"),
            ),
        ];
        let mut kinds_seen = std::collections::BTreeSet::new();
        for (name, text) in runs {
            let (balances, events) = events_of(name, text);
            let mut checker = Checker::for_trace(&balances);
            let mut found = Vec::new();
            for event in &events {
                // The simulator hands violation events to no check.
                if matches!(event.kind, EventKind::Violation { .. }) {
                    continue;
                }
                kinds_seen.insert(event.kind.name());
                assert_left_out_checks_ignore(
                    &checker,
                    event,
                    &format!("{name}, event {}", event.seq),
                );
                checker.observe(event, &mut found);
            }
        }
        let kinds_seen: Vec<&str> = kinds_seen.into_iter().collect();
        assert_eq!(
            kinds_seen,
            [
                "abort",
                "apply",
                "balance",
                "commit",
                "crash",
                "deliver",
                "drop",
                "duplicate",
                "enter",
                "exit",
                "heal",
                "partition",
                "reject",
                "request",
                "restart",
                "send",
                "transfer"
            ],
            "every kind but violation comes up in the runs"
        );
    }

    #[test]
    fn a_block_observed_by_its_parts_is_checked_as_its_event() {
        let runs = [
            ("default", include_str!("../../scenarios/default.json")),
            ("reorder-2", include_str!("../../scenarios/reorder-2.json")),
            (
                "unchained-hash",
                include_str!("../../scenarios/mutation-unchained-hash.json"),
            ),
            (
                "crash-nothing",
                include_str!("../../scenarios/crash-restart-nothing.json"),
            ),
        ];
        let mut findings = 0;
        for (name, text) in runs {
            let (balances, events) = events_of(name, text);
            // As the simulator checks a run for its verdict: no message logs.
            let mut checker = Checker::new(&balances).without_message_logs();
            assert!(!checker.watches_messages());
            for event in &events {
                let (block, committed) = match &event.kind {
                    EventKind::Violation { .. } => continue,
                    EventKind::Commit { block } => (block, true),
                    EventKind::Apply { block } => (block, false),
                    _ => {
                        checker.observe(event, &mut Vec::new());
                        continue;
                    }
                };
                let mut by_parts = checker.clone();
                let (mut found, mut found_by_parts) = (Vec::new(), Vec::new());
                checker.observe(event, &mut found);
                let step = BlockStep {
                    node: event.node.unwrap(),
                    seq: event.seq,
                    t_us: event.t_us,
                    clock: event.clock,
                    block,
                    committed,
                };
                by_parts.observe_block(step, &mut found_by_parts);
                let at = format!("{name}, event {}", event.seq);
                assert_eq!(found_by_parts, found, "{at}");
                assert_eq!(format!("{by_parts:?}"), format!("{checker:?}"), "{at}");
                findings += found.len();
            }
        }
        assert!(
            findings >= 2,
            "the runs reveal violations at blocks: {findings}"
        );
    }

    #[test]
    fn a_violation_event_was_revealed_by_the_last_event_before_it_that_is_not_one() {
        // reorder-2: the enter at 14 reveals mutual_exclusion (15); the commit at 16 reveals
        // ledger_agreement (17); a step that reveals two gives both the same event; a
        // liveness violation is found when the run ends.
        let revealed = revealing_events([
            (15, "client 1 entered the critical section"),
            (17, "client 1's block 0 differs"),
            (18, "client 1's table sums to 19"),
            (25, "client 2 committed block 1"),
            (
                26,
                "the run ended with nothing left in flight but client 2's transfer",
            ),
        ]);
        assert_eq!(revealed, vec![Some(14), Some(16), Some(16), Some(24), None]);
    }

    #[test]
    fn every_violation_found_at_the_end_says_so_first() {
        let mut checker = Checker::for_trace(&[10, 10]);
        let mut found = Vec::new();
        let block = crate::protocol::Block::new(
            0,
            crate::protocol::GENESIS_PREV,
            1,
            ClientId::new(1),
            ClientId::new(2),
            3,
        );
        checker.observe(
            &Event {
                seq: 0,
                t_us: 0,
                node: Some(ClientId::new(1)),
                clock: 1,
                kind: EventKind::Commit {
                    block: std::sync::Arc::new(block),
                },
            },
            &mut found,
        );
        let at_end = checker.at_quiescence().expect("client 2 has no block");
        assert!(found_at_end(&at_end.detail), "{}", at_end.detail);
        let waiter = Waiter {
            node: ClientId::new(1),
            current: Some((ClientId::new(2), 3)),
            reason: None,
            queued: 0,
        };
        for violation in checker.liveness_violations(&[waiter], "with nothing left in flight") {
            assert!(found_at_end(&violation.detail), "{}", violation.detail);
        }
    }
}
