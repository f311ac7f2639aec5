//! The simulator over a node of another implementation.

use std::sync::Arc;

use super::{RunOptions, builtin_clients, simulate, simulate_nodes};
use crate::protocol::node::bad_node::{BadNode, Fault};
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

/// The error of a run of `scenarios/default.json` whose nodes have `fault`.
fn failure_of(fault: Fault) -> String {
    let scenario = scenario("scenarios/default.json");
    let balances: Arc<[Amount]> = scenario.initial_balances.clone().into();
    let nodes = builtin_clients(&scenario)
        .iter()
        .map(|client| BadNode::new(&client.config(), Arc::clone(&balances), fault))
        .collect();
    let error = match simulate_nodes(&scenario, RunOptions::default(), &mut [], nodes) {
        Ok(_) => panic!("a node with {fault:?} ends the run with an error"),
        Err(error) => error,
    };
    super::node_failure(&error)
        .expect("the error is the node's failure")
        .to_string()
}

/// A node of the user's own that breaks a rule of the node boundary ends the run with one
/// sentence naming the client, the step and the output, not with a panic in the driver.
#[test]
fn a_node_breaking_the_boundarys_rules_ends_the_run_with_one_sentence() {
    let unknown = |id: u32| {
        format!(") to client {id}, which the scenario does not have (its clients are 1 to 3)")
    };
    let cases = [
        (
            Fault::SendsToItself,
            vec![
                "client 2, handling the issue of its transfer 1 (pay 4 to client 3), ".to_string(),
                "sent REQUEST(ts 1) to itself (client 2)".to_string(),
            ],
        ),
        (
            Fault::SendsToClient(9),
            vec![
                "client 1, handling the delivery of REQUEST(ts ".to_string(),
                unknown(9),
            ],
        ),
        (
            Fault::SendsToClient(0),
            vec![
                "client 1, handling the delivery of REQUEST(ts ".to_string(),
                unknown(0),
            ],
        ),
        (
            Fault::SkipsReceived,
            vec![
                "client 3, handling the delivery of REPLY(ts ".to_string(),
                "did not output Received first".to_string(),
            ],
        ),
        (
            Fault::ReceivesTwice,
            vec!["output Received twice".to_string()],
        ),
        (
            Fault::ReceivesFromAnother,
            vec![" for a message from client ".to_string()],
        ),
        (
            Fault::CommitsMissingBlock,
            vec![
                "client 1, handling its LeaveCriticalSection timer, ".to_string(),
                "output Committed naming block 99, which its ledger does not hold".to_string(),
            ],
        ),
        (
            Fault::ReadsUnknownBalance,
            vec![
                "output BalanceRead naming client 9, which the scenario does not have".to_string(),
            ],
        ),
        (
            Fault::Fails,
            vec![
                "client 3, handling its LeaveCriticalSection timer, failed: its disk is full"
                    .to_string(),
            ],
        ),
    ];
    for (fault, parts) in cases {
        let sentence = failure_of(fault);
        for part in &parts {
            assert!(
                sentence.contains(part.as_str()),
                "{fault:?}: {part:?} is not in {sentence:?}"
            );
        }
        assert!(
            sentence.ends_with("; see docs/nodes.md, \"A client in Rust\""),
            "{sentence}"
        );
        assert_eq!(sentence.lines().count(), 1, "{sentence}");
    }
}

/// Nodes that cannot play the scenario's clients are refused before the run, in one
/// sentence: too few of them, or one made for another client than its place.
#[test]
fn nodes_that_do_not_fit_the_clients_are_refused_in_one_sentence() {
    let scenario = scenario("scenarios/default.json");
    let refusal = |nodes: Vec<Client>| {
        let error = simulate_nodes(&scenario, RunOptions::default(), &mut [], nodes)
            .err()
            .expect("refused");
        super::node_failure(&error)
            .expect("one sentence")
            .to_string()
    };
    let mut clients = builtin_clients(&scenario);
    clients.pop();
    assert_eq!(
        refusal(clients),
        "the run was given 2 nodes for the scenario's 3 clients"
    );
    let mut clients = builtin_clients(&scenario);
    clients.swap(0, 1);
    assert_eq!(
        refusal(clients),
        "the node made for client 1 says its id is 2"
    );
}
