//! How a run explains its violations: with the messages involved, from logs kept from the
//! start or, for nodes that can be built afresh, from a replay made only once a violation is
//! found.

use std::io;
use std::sync::Arc;

use super::{RunOptions, Simulator, client_config};
use crate::drive::Driver;
use crate::protocol::{Amount, ClientId, Node};
use crate::scenario::Scenario;

/// How a run comes by the explanations of its violations.
#[derive(Clone, Copy, Debug)]
pub(super) enum Explaining {
    /// No message logs: explanations name no message.
    VerdictOnly,
    /// No message logs until a violation is found. Then the run so far is replayed
    /// ([`Explaining::Replay`]) with fresh nodes ([`Node::fresh`]), by the function held
    /// here, and the replay's checker, which kept the logs and is in the same state
    /// otherwise, takes over and explains. Keeping the logs is a large share of a
    /// many-client run's time; this way only a run that fails pays, about once more its
    /// length up to the violation.
    Lazily(ExplainByReplay),
    /// Message logs from the start: a lazily explaining run after its replay.
    WithMessages,
    /// Message logs from the start, and stop at the first violation found, before reporting
    /// it: the replay of a lazily explaining run. No sinks.
    Replay,
}

impl Explaining {
    pub(super) fn keeps_message_logs(self) -> bool {
        matches!(self, Explaining::WithMessages | Explaining::Replay)
    }
}

/// Replays a run up to the violations the driver just found and hands the driver the
/// replay's explanations ([`explain_with_messages`] for the run's kind of node).
pub(super) type ExplainByReplay = fn(&Scenario, RunOptions, &mut Driver) -> io::Result<()>;

/// The error a replay stops with when it reaches the violation it was made to explain.
#[derive(Debug)]
pub(super) struct ReplayReachedViolation;

impl std::fmt::Display for ReplayReachedViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the replay reached the violation to explain")
    }
}

impl std::error::Error for ReplayReachedViolation {}

/// Whether nodes of type `N` can be built afresh in-process ([`Node::fresh`]), so that a
/// run can be replayed to explain a violation.
pub(super) fn starts_afresh<N: Node>(scenario: &Scenario) -> bool {
    let first = ClientId::all(scenario.clients).next();
    first.is_some_and(|id| {
        N::fresh(
            &client_config(scenario, id),
            scenario.initial_balances.clone().into(),
        )
        .is_some()
    })
}

/// Replays the run so far with message logs, up to the violations `driver` just found, and
/// gives `driver` the replay's checker and its explanations of them ([`Explaining::Lazily`]).
/// Nodes that cannot be built afresh leave the violations explained without messages.
/// The run is deterministic, so the replay finds the same violations at the same event; if
/// it did not, the violations stay as found, explained without messages.
#[cold]
pub(super) fn explain_with_messages<N: Node>(
    scenario: &Scenario,
    options: RunOptions,
    driver: &mut Driver,
) -> io::Result<()> {
    let initial_balances: Arc<[Amount]> = scenario.initial_balances.clone().into();
    let fresh = ClientId::all(scenario.clients)
        .map(|id| N::fresh(&client_config(scenario, id), Arc::clone(&initial_balances)))
        .collect::<Option<Vec<N>>>();
    let Some(clients) = fresh else {
        return Ok(());
    };
    let mut replay = Simulator::new(scenario, options, Explaining::Replay, &mut [], clients);
    let stopped = match replay.run().and_then(|()| replay.judge_end()) {
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
    let same_point = replay.driver.events() == driver.events()
        && replay.driver.found().len() == driver.found().len();
    debug_assert!(stopped && same_point, "the replay diverged from the run");
    if stopped && same_point {
        driver.take_over(replay.driver);
    }
    Ok(())
}
