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

/// What a [`Flawed`] node does wrong, once client 2 handles its first message.
#[derive(Clone, Copy)]
enum Flaw {
    SendsToItself,
    SendsToClient(u32),
    NoReceivedFirst,
    CommitsMissingBlock,
    /// Sends a REQUEST to itself when it takes its first transfer.
    RequestsFromItself,
    /// Reports a failure of its own after its first delivery.
    Fails,
}

/// The built-in client with one flaw switched in by the test.
struct Flawed {
    client: Client,
    flaw: Flaw,
}

impl Flawed {
    fn flawed(&self, from: ClientId, msg: &Message, out: &mut Outbox) {
        let clock = self.client.clock();
        match self.flaw {
            Flaw::SendsToItself => out.push(
                clock,
                crate::protocol::OutputKind::Send {
                    to: self.client.id(),
                    msg: msg.clone(),
                },
            ),
            Flaw::SendsToClient(to) => out.push(
                clock,
                crate::protocol::OutputKind::Send {
                    to: ClientId::new(to),
                    msg: msg.clone(),
                },
            ),
            Flaw::NoReceivedFirst => {
                out.push(clock, crate::protocol::OutputKind::Requested { ts: clock });
                out.push(clock, crate::protocol::OutputKind::Received { from });
            }
            Flaw::CommitsMissingBlock => {
                out.push(clock, crate::protocol::OutputKind::Received { from });
                out.push(clock, crate::protocol::OutputKind::Committed { index: 99 });
            }
            Flaw::RequestsFromItself | Flaw::Fails => {}
        }
    }
}

impl Node for Flawed {
    fn id(&self) -> ClientId {
        self.client.id()
    }
    fn clock(&self) -> Timestamp {
        self.client.clock()
    }
    fn handle_command(&mut self, command: Command, out: &mut Outbox) -> Result<(), CommandError> {
        let result = Node::handle_command(&mut self.client, command, out);
        if matches!(self.flaw, Flaw::RequestsFromItself) && self.client.id() == ClientId::new(2) {
            let ts = self.client.clock();
            let to = self.client.id();
            let msg = Message::Request { ts };
            out.push(ts, crate::protocol::OutputKind::Send { to, msg });
        }
        result
    }
    fn take_failure(&mut self) -> Option<String> {
        let failing = matches!(self.flaw, Flaw::Fails) && self.client.id() == ClientId::new(2);
        failing.then(|| "its disk is full".to_string())
    }
    fn handle_message(&mut self, from: ClientId, msg: &Message, out: &mut Outbox) {
        match self.flaw {
            _ if self.client.id() != ClientId::new(2) => {
                Node::handle_message(&mut self.client, from, msg, out);
            }
            Flaw::SendsToItself | Flaw::SendsToClient(_) => {
                Node::handle_message(&mut self.client, from, msg, out);
                self.flawed(from, msg, out);
            }
            Flaw::RequestsFromItself | Flaw::Fails => {
                Node::handle_message(&mut self.client, from, msg, out);
            }
            Flaw::NoReceivedFirst | Flaw::CommitsMissingBlock => self.flawed(from, msg, out),
        }
    }
    fn handle_timer(&mut self, timer: Timer, out: &mut Outbox) {
        Node::handle_timer(&mut self.client, timer, out);
    }
    fn restart(&mut self, keep_ledger: bool) {
        Node::restart(&mut self.client, keep_ledger);
    }
    fn ledger(&self) -> &Ledger {
        self.client.ledger()
    }
    fn into_ledger(self) -> Ledger {
        self.client.into_ledger()
    }
    fn current_transfer(&self) -> Option<Transfer> {
        Node::current_transfer(&self.client)
    }
    fn queued_transfers(&self) -> usize {
        Node::queued_transfers(&self.client)
    }
}

/// The error of a run of `scenarios/default.json` whose client 2 has `flaw`.
fn failure_of(flaw: Flaw) -> String {
    let scenario = scenario("scenarios/default.json");
    let nodes = builtin_clients(&scenario)
        .into_iter()
        .map(|client| Flawed { client, flaw })
        .collect();
    let error = match simulate_nodes(&scenario, RunOptions::default(), &mut [], nodes) {
        Ok(_) => panic!("a flawed node ends the run with an error"),
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
    let delivery = "client 2, handling the delivery of ";
    let cases = [
        (Flaw::SendsToItself, delivery, "to itself (client 2)"),
        (
            Flaw::SendsToClient(9),
            delivery,
            "to client 9, which the scenario does not have (its clients are 1 to 3)",
        ),
        (
            Flaw::SendsToClient(0),
            delivery,
            "to client 0, which the scenario does not have (its clients are 1 to 3)",
        ),
        (
            Flaw::NoReceivedFirst,
            delivery,
            "did not output Received first",
        ),
        (
            Flaw::CommitsMissingBlock,
            delivery,
            "output Committed naming block 99, which its ledger does not hold",
        ),
        (
            Flaw::RequestsFromItself,
            "client 2, handling the issue of its transfer 1 (pay 4 to client 3), ",
            "sent REQUEST(ts 1) to itself (client 2)",
        ),
        (
            Flaw::Fails,
            "client 2, handling ",
            "failed: its disk is full",
        ),
    ];
    for (flaw, step, broken) in cases {
        let sentence = failure_of(flaw);
        assert!(sentence.starts_with(step), "{sentence}");
        assert!(sentence.contains(broken), "{sentence}");
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
