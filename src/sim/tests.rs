//! The simulator over a node of another implementation.

use std::sync::Arc;

use super::{RunOptions, builtin_clients, simulate, simulate_nodes};
use crate::protocol::{
    Amount, Client, ClientConfig, ClientId, Command, CommandError, Ledger, Message, Mutation, Node,
    Outbox, Timer, Timestamp, Transfer,
};
use crate::scenario::{Scenario, parse_scenario};

/// A node of its own kind that can be built afresh: the built-in client with ties broken by
/// timestamp alone, whatever the scenario says.
struct TimestampOnly(Client);

impl TimestampOnly {
    fn new(config: &ClientConfig, initial_balances: Arc<[Amount]>) -> Self {
        let config = ClientConfig {
            mutations: config.mutations.with(Mutation::TiebreakTimestampOnly),
            ..*config
        };
        TimestampOnly(Client::new(&config, initial_balances))
    }
}

impl Node for TimestampOnly {
    fn id(&self) -> ClientId {
        self.0.id()
    }
    fn clock(&self) -> Timestamp {
        self.0.clock()
    }
    fn handle_command(&mut self, command: Command, out: &mut Outbox) -> Result<(), CommandError> {
        Node::handle_command(&mut self.0, command, out)
    }
    fn handle_message(&mut self, from: ClientId, msg: &Message, out: &mut Outbox) {
        Node::handle_message(&mut self.0, from, msg, out);
    }
    fn handle_timer(&mut self, timer: Timer, out: &mut Outbox) {
        Node::handle_timer(&mut self.0, timer, out);
    }
    fn restart(&mut self, keep_ledger: bool) {
        Node::restart(&mut self.0, keep_ledger);
    }
    fn ledger(&self) -> &Ledger {
        self.0.ledger()
    }
    fn into_ledger(self) -> Ledger {
        self.0.into_ledger()
    }
    fn current_transfer(&self) -> Option<Transfer> {
        Node::current_transfer(&self.0)
    }
    fn queued_transfers(&self) -> usize {
        Node::queued_transfers(&self.0)
    }
    fn fresh(config: &ClientConfig, initial_balances: Arc<[Amount]>) -> Option<Self> {
        Some(TimestampOnly::new(config, initial_balances))
    }
}

fn scenario(path: &str) -> Scenario {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/{path}")).expect("the scenario exists");
    parse_scenario(&text, path).expect("a valid scenario")
}

/// The replay that explains a violation with its messages is made of the run's own kind of
/// node, not of built-in clients: built-in clients would not break mutual exclusion here,
/// the replay would not reach the violation, and its explanation would name no message.
#[test]
fn a_violation_is_explained_by_replaying_the_runs_own_nodes() {
    let mutated = scenario("scenarios/mutation-tiebreak-timestamp-only.json");
    let plain = Scenario {
        mutations: Vec::new(),
        ..mutated.clone()
    };
    let expected = simulate(&mutated, RunOptions::default(), &mut []).expect("runs");
    assert!(
        !expected.violations.is_empty(),
        "the mutation breaks the run"
    );

    let nodes = builtin_clients(&plain)
        .iter()
        .map(|client| TimestampOnly::new(&client.config(), plain.initial_balances.clone().into()))
        .collect();
    let run = simulate_nodes(&plain, RunOptions::default(), &mut [], nodes).expect("runs");
    assert_eq!(run.violations, expected.violations);
    let without_messages = RunOptions {
        explain_with_messages: false,
        ..RunOptions::default()
    };
    let terse = simulate(&mutated, without_messages, &mut []).expect("runs");
    assert_ne!(
        run.violations[0].violation.detail, terse.violations[0].violation.detail,
        "the explanation names the messages involved"
    );
}
