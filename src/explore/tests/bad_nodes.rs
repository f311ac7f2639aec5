//! Nodes of another implementation that misbehave: `explore_nodes` ends with one sentence
//! naming the client, what it was handling and the offending output, never a panic, and the
//! same sentence with one thread or two, with reduction or without.

use std::sync::Arc;

use super::root;
use crate::explore::settings;
use crate::explore::{ExploreOptions, explore_nodes};
use crate::protocol::node::bad_node::{BadNode, Fault};
use crate::protocol::{Amount, Client, ClientConfig, ClientId};
use crate::scenario::Scenario;

fn scenario() -> Scenario {
    let path = root().join("scenarios/explore/three-payers.json");
    let setup = settings::load(&path).unwrap_or_else(|error| panic!("{error}"));
    setup.scenario
}

fn make(fault: Fault) -> impl FnMut(&ClientConfig, Arc<[Amount]>) -> BadNode {
    move |config, balances| BadNode::new(config, balances, fault)
}

/// The error of exploring nodes with `fault`: the same with one thread or two, with
/// reduction or without, and with or without `keep_going`.
fn error_of(fault: Fault) -> String {
    let scenario = scenario();
    let mut sentences = Vec::new();
    for reduce in [false, true] {
        for jobs in [1, 2] {
            for keep_going in [false, true] {
                let options = ExploreOptions {
                    reduce,
                    jobs,
                    keep_going,
                    ..ExploreOptions::default()
                };
                let explored = explore_nodes(&scenario, &options, make(fault));
                let error = explored.expect_err("a node error ends the exploration");
                sentences.push((reduce, jobs, keep_going, error.to_string()));
            }
        }
    }
    let first = sentences[0].3.clone();
    for (reduce, jobs, keep_going, sentence) in &sentences {
        assert_eq!(
            *sentence, first,
            "{fault:?}: reduce {reduce}, jobs {jobs}, keep_going {keep_going}"
        );
    }
    first
}

fn assert_contains(sentence: &str, parts: &[&str]) {
    for part in parts {
        assert!(sentence.contains(part), "{part:?} is not in {sentence:?}");
    }
}

#[test]
fn a_node_that_sends_to_itself_is_an_error_naming_the_client_step_and_target() {
    let sentence = error_of(Fault::SendsToItself);
    assert_contains(
        &sentence,
        &[
            "client 2, handling the issue of its transfer 1 (pay 4 to client 3), ",
            "sent REQUEST(ts 1) to itself (client 2)",
        ],
    );
}

#[test]
fn a_node_that_sends_to_client_9_of_3_is_an_error_naming_the_client_step_and_target() {
    let sentence = error_of(Fault::SendsToClient(9));
    assert_contains(
        &sentence,
        &[
            "client 1, handling the delivery of REQUEST(ts ",
            ") from client ",
            "sent REPLY(ts ",
            ") to client 9, which the scenario does not have (its clients are 1 to 3)",
        ],
    );
}

#[test]
fn a_node_that_commits_a_block_its_ledger_does_not_hold_is_an_error() {
    let sentence = error_of(Fault::CommitsMissingBlock);
    assert_contains(
        &sentence,
        &[
            "client 1, handling its LeaveCriticalSection timer, ",
            "output Committed naming block 99, which its ledger does not hold (its length is 1)",
        ],
    );
}

#[test]
fn a_node_that_skips_or_repeats_its_receive_is_an_error() {
    let skipped = error_of(Fault::SkipsReceived);
    assert_contains(
        &skipped,
        &[
            "client 3, handling the delivery of REPLY(ts ",
            "did not output Received first",
        ],
    );
    let twice = error_of(Fault::ReceivesTwice);
    assert_contains(
        &twice,
        &[
            "client 3, handling the delivery of REPLY(ts ",
            "output Received twice",
        ],
    );
}

#[test]
fn a_node_that_names_an_unknown_client_or_fails_is_an_error() {
    let read = error_of(Fault::ReadsUnknownBalance);
    assert_contains(
        &read,
        &[
            "client 2, handling the issue of its transfer 1 (pay 4 to client 3), ",
            "output BalanceRead naming client 9, which the scenario does not have",
        ],
    );
    let failed = error_of(Fault::Fails);
    assert_contains(
        &failed,
        &["client 3, handling its LeaveCriticalSection timer, failed: its disk is full"],
    );
}

#[test]
fn a_node_made_with_another_id_than_its_clients_is_an_error() {
    let wrong_id = |config: &ClientConfig, balances: Arc<[Amount]>| {
        let id = ClientId::new(config.id.get() % config.clients + 1);
        Client::new(&ClientConfig { id, ..*config }, balances)
    };
    let error = explore_nodes(&scenario(), &ExploreOptions::default(), wrong_id).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the node made for client 1 says its id is 2"
    );
}

#[test]
fn a_node_that_sends_past_15_messages_in_a_step_is_an_error() {
    let sentence = error_of(Fault::SendsSeventeen);
    assert_contains(
        &sentence,
        &[
            "client 1, handling the issue of its transfer 1 (pay 3 to client 2), ",
            "sent REQUEST(ts 1) to client 2, past 15 messages in one step",
        ],
    );
}

#[test]
fn a_node_that_receives_from_another_client_than_the_sender_is_an_error() {
    let sentence = error_of(Fault::ReceivesFromAnother);
    assert_contains(
        &sentence,
        &[
            "client 3, handling the delivery of REPLY(ts ",
            "output Received from client ",
            " for a message from client ",
        ],
    );
}
