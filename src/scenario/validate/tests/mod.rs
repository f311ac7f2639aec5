//! One test per rule, each asserting the exact field path, line and column. The JSON is written
//! out in each test so that the positions can be counted by eye (columns count characters,
//! starting at 1). Each test changes one value of a template with `replace`, which leaves the
//! positions before it unchanged.

use super::parse::names_of;
use super::rules::total_fits;
use super::*;
use crate::base::Invariant;
use crate::protocol::ClientId;
use crate::scenario::{
    BalanceReadSpec, DEFAULT_BALANCE, DEFAULT_SCENARIO_JSON, DEFAULT_SCENARIO_SOURCE, Expect,
    ExpectedOutcome, GeneratedSpec, LatencySpec, Limits, LinkSpec, NetworkSpec, ProtocolVariant,
    Scenario, ScenarioFile, TransferSpec,
};

mod faults;
mod network;
mod parse;
mod rules;
mod workload;

fn error(text: &str) -> ScenarioError {
    match parse_scenario(text, "t.json") {
        Ok(scenario) => panic!("expected an error, got {scenario:?}"),
        Err(error) => error,
    }
}

/// Asserts the error's field, line and column exactly and that its message contains `needle`.
#[track_caller]
fn assert_error(text: &str, field: &str, line: usize, column: usize, needle: &str) {
    let error = error(text);
    assert_eq!(
        (error.field.as_str(), error.line, error.column),
        (field, line, column),
        "{error}"
    );
    assert!(
        error.message.contains(needle),
        "message lacks {needle:?}: {error}"
    );
    assert_eq!(error.source_name, "t.json");
}

// ---------------------------------------------------------------------------------------------
// Valid files.

#[test]
fn the_built_in_default_scenario_parses() {
    let scenario = parse_scenario(DEFAULT_SCENARIO_JSON, DEFAULT_SCENARIO_SOURCE).unwrap();
    assert_eq!(scenario.name, "default");
    assert_eq!(scenario.clients, 3);
    assert_eq!(scenario.initial_balances, vec![10, 10, 10]);
    assert_eq!(scenario.source, DEFAULT_SCENARIO_SOURCE);
    assert!(!scenario.transfers.is_empty());
}

const FULL: &str = r#"{
  "name": "full",
  "description": "d",
  "seed": 7,
  "clients": 3,
  "initial_balances": {"1": 5, "3": 0},
  "network": {
    "latency": {"kind": "exponential", "min_us": 100, "mean_us": 300},
    "fifo": false,
    "links": [
      {"from": 1, "to": 2, "latency": {"kind": "constant", "us": 50}},
      {"from": 2, "to": 1, "fifo": true}
    ]
  },
  "workload": {
    "transfers": [
      {"at_us": 900, "from": 1, "to": 2, "amount": 1},
      {"at_us": 100, "from": 2, "to": 3, "amount": 2},
      {"at_us": 900, "from": 3, "to": 1, "amount": 3},
      {"at_us": 100, "from": 1, "to": 3, "amount": 4}
    ],
    "balance_reads": [
      {"at_us": 50, "client": 1, "of": 2},
      {"at_us": 10, "client": 2, "of": 1}
    ],
    "generated": {
      "count": 10, "start_us": 5,
      "gap": {"kind": "uniform", "min_us": 1, "max_us": 9},
      "amount_min": 1, "amount_max": 2,
      "payers": [1, 2], "payees": [2, 3]
    }
  },
  "cs_us": 2000,
  "protocol": "lamport",
  "mutations": [],
  "expect": {"outcome": "violation", "invariant": "mutual_exclusion"},
  "limits": {"max_events": 1000, "max_time_us": 100000}
}"#;

#[test]
fn a_valid_file_parses_into_the_expected_scenario() {
    let transfer = |at_us, from, to, amount| TransferSpec {
        at_us,
        from,
        to,
        amount,
    };
    let read = |at_us, client, of| BalanceReadSpec { at_us, client, of };
    let expected = Scenario {
        source: "t.json".into(),
        name: "full".into(),
        description: "d".into(),
        seed: 7,
        clients: 3,
        // Client 2 is not mentioned: the default balance.
        initial_balances: vec![5, DEFAULT_BALANCE, 0],
        network: NetworkSpec {
            latency: LatencySpec::Exponential {
                min_us: 100,
                mean_us: 300,
            },
            fifo: false,
            links: vec![
                LinkSpec {
                    from: ClientId::new(1),
                    to: ClientId::new(2),
                    latency: Some(LatencySpec::Constant { us: 50 }),
                    fifo: None,
                    drop_ratio: None,
                    duplicate_ratio: None,
                },
                // Links are directed: 2 -> 1 is not a duplicate of 1 -> 2.
                LinkSpec {
                    from: ClientId::new(2),
                    to: ClientId::new(1),
                    latency: None,
                    fifo: Some(true),
                    drop_ratio: None,
                    duplicate_ratio: None,
                },
            ],
            ..NetworkSpec::default()
        },
        // Sorted by time; file order among equal times.
        transfers: vec![
            transfer(100, ClientId::new(2), ClientId::new(3), 2),
            transfer(100, ClientId::new(1), ClientId::new(3), 4),
            transfer(900, ClientId::new(1), ClientId::new(2), 1),
            transfer(900, ClientId::new(3), ClientId::new(1), 3),
        ],
        balance_reads: vec![
            read(10, ClientId::new(2), ClientId::new(1)),
            read(50, ClientId::new(1), ClientId::new(2)),
        ],
        generated: Some(GeneratedSpec {
            count: 10,
            start_us: 5,
            gap: LatencySpec::Uniform {
                min_us: 1,
                max_us: 9,
            },
            amount_min: 1,
            amount_max: 2,
            payers: Some(vec![ClientId::new(1), ClientId::new(2)]),
            payees: Some(vec![ClientId::new(2), ClientId::new(3)]),
        }),
        faults: Default::default(),
        schedule: Default::default(),
        swarm: None,
        cs_us: 2000,
        protocol: ProtocolVariant::Lamport,
        mutations: vec![],
        expect: Some(Expect {
            outcome: ExpectedOutcome::Violation,
            invariant: Some(Invariant::MutualExclusion),
        }),
        limits: Limits {
            max_events: 1000,
            max_time_us: 100_000,
            ..Limits::default()
        },
        node: None,
    };
    assert_eq!(parse_scenario(FULL, "t.json").unwrap(), expected);
}

#[test]
fn a_minimal_file_gets_the_defaults() {
    let scenario = parse_scenario(r#"{"name": "m", "clients": 2}"#, "m.json").unwrap();
    assert_eq!(scenario.initial_balances, vec![DEFAULT_BALANCE; 2]);
    assert_eq!(scenario.network, NetworkSpec::default());
    assert!(scenario.network.fifo);
    assert_eq!(scenario.cs_us, 1000);
    assert_eq!(scenario.limits, Limits::default());
    assert_eq!(scenario.protocol, ProtocolVariant::Lamport);
    assert_eq!((scenario.seed, scenario.description.as_str()), (0, ""));
    assert!(scenario.transfers.is_empty() && scenario.generated.is_none());
    assert_eq!(scenario.expect, None);
}

#[test]
fn a_byte_order_mark_is_ignored_and_positions_do_not_count_it() {
    assert!(parse_scenario("\u{feff}{\"name\": \"m\", \"clients\": 2}", "m.json").is_ok());
    let error = error("\u{feff}{\"name\": \"m\", \"clients\": 0}");
    assert_eq!((error.line, error.column), (1, 26));
}

// ---------------------------------------------------------------------------------------------
// The error text.

#[test]
fn the_message_is_one_sentence_naming_file_line_column_and_field() {
    let error = ScenarioError {
        source_name: "scenarios/x.json".into(),
        field: "workload.transfers[2].amount".into(),
        line: 12,
        column: 19,
        message: "the amount must be between 1 and 1000000000000, not 0".into(),
    };
    assert_eq!(
        error.to_string(),
        "scenarios/x.json:12:19: workload.transfers[2].amount: the amount must be between 1 \
         and 1000000000000, not 0"
    );
    let whole_file = ScenarioError {
        field: String::new(),
        ..error
    };
    assert!(
        whole_file
            .to_string()
            .starts_with("scenarios/x.json:12:19: the amount")
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let text = "{\"name\": \"café\", \"clients\": 0}";
    assert_error(text, "clients", 1, 29, "between 1 and 10000, not 0");
    // serde_json's own positions are converted too: "x" ends at character 31 (byte 32).
    let text = "{\"name\": \"café\", \"clients\": \"x\"}";
    assert_error(text, "clients", 1, 31, "found the string \"x\"");
}

/// A file whose `network.latency` is `latency`.
const LATENCY: &str =
    "{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"network\": {\n    \"latency\": LAT\n  }\n}";

fn with_latency(latency: &str) -> String {
    LATENCY.replace("LAT", latency)
}
