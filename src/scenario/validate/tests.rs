//! One test per rule, each asserting the exact field path, line and column. The JSON is written
//! out in each test so that the positions can be counted by eye (columns count characters,
//! starting at 1). Each test changes one value of a template with `replace`, which leaves the
//! positions before it unchanged.

use super::parse::names_of;
use super::rules::total_fits;
use super::*;
use crate::base::Invariant;
use crate::scenario::{
    BalanceReadSpec, DEFAULT_BALANCE, DEFAULT_SCENARIO_JSON, DEFAULT_SCENARIO_SOURCE, Expect,
    ExpectedOutcome, GeneratedSpec, LatencySpec, Limits, LinkSpec, NetworkSpec, ProtocolVariant,
    Scenario, ScenarioFile, TransferSpec,
};

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
                    from: 1,
                    to: 2,
                    latency: Some(LatencySpec::Constant { us: 50 }),
                    fifo: None,
                    drop_ratio: None,
                    duplicate_ratio: None,
                },
                // Links are directed: 2 -> 1 is not a duplicate of 1 -> 2.
                LinkSpec {
                    from: 2,
                    to: 1,
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
            transfer(100, 2, 3, 2),
            transfer(100, 1, 3, 4),
            transfer(900, 1, 2, 1),
            transfer(900, 3, 1, 3),
        ],
        balance_reads: vec![read(10, 2, 1), read(50, 1, 2)],
        generated: Some(GeneratedSpec {
            count: 10,
            start_us: 5,
            gap: LatencySpec::Uniform {
                min_us: 1,
                max_us: 9,
            },
            amount_min: 1,
            amount_max: 2,
            payers: Some(vec![1, 2]),
            payees: Some(vec![2, 3]),
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
        },
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

// ---------------------------------------------------------------------------------------------
// Syntax, types, missing and unknown fields (serde_json's positions).

#[test]
fn syntax_error_trailing_comma() {
    let text = "{\n  \"name\": \"t\",\n  \"clients\": 2,\n}";
    assert_error(
        text,
        "",
        4,
        1,
        "invalid JSON: a comma after the last item is not allowed",
    );
}

#[test]
fn syntax_error_missing_comma_names_the_enclosing_field() {
    let text = "{\n  \"name\": \"t\",\n  \"network\": {\"fifo\": true \"links\": []}\n}";
    assert_error(text, "network", 3, 28, "expected `,` or `}`");
}

#[test]
fn syntax_error_comment_and_empty_file() {
    let text = "{\n  // a comment\n  \"name\": \"t\"\n}";
    assert_error(text, "", 2, 3, "JSON has no comments");
    assert_error("", "", 1, 1, "the file is empty");
    assert_error(
        "{\"name\": \"t\"",
        "",
        1,
        12,
        "before this object is closed",
    );
}

#[test]
fn text_after_the_object_is_an_error() {
    assert_error(
        "{\"name\": \"t\", \"clients\": 2} x",
        "",
        1,
        29,
        "unexpected text after",
    );
}

#[test]
fn unknown_field_with_a_suggestion() {
    let text = "{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"netwrk\": {}\n}";
    assert_error(
        text,
        "netwrk",
        4,
        10,
        "unknown field `netwrk` (did you mean `network`?)",
    );
}

#[test]
fn unknown_nested_field() {
    let text = r#"{
  "name": "t",
  "clients": 2,
  "workload": {"transfers": [{"at_us": 0, "from": 1, "too": 2, "amount": 1}]}
}"#;
    assert_error(
        text,
        "workload.transfers[0].too",
        4,
        58,
        "did you mean `to`?",
    );
}

#[test]
fn wrong_type() {
    let text = "{\n  \"name\": \"t\",\n  \"clients\": \"two\"\n}";
    assert_error(
        text,
        "clients",
        3,
        18,
        "expected a whole number from 0 to 4294967295, found the string \"two\"",
    );
    let text = "{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"network\": {\"fifo\": 1}\n}";
    assert_error(
        text,
        "network.fifo",
        4,
        23,
        "expected true or false, found 1",
    );
}

#[test]
fn negative_number() {
    let text = r#"{
  "name": "t",
  "clients": 2,
  "workload": {"transfers": [{"at_us": 0, "from": 1, "to": 2, "amount": -3}]}
}"#;
    assert_error(text, "workload.transfers[0].amount", 4, 74, "found -3");
}

#[test]
fn missing_required_field() {
    assert_error(
        "{\n  \"clients\": 2\n}",
        "name",
        3,
        1,
        "the required field `name` is missing",
    );
    let text = r#"{
  "name": "t",
  "clients": 2,
  "workload": {"transfers": [{"at_us": 0, "from": 1, "to": 2}]}
}"#;
    assert_error(
        text,
        "workload.transfers[0].amount",
        4,
        61,
        "`amount` is missing",
    );
}

#[test]
fn duplicate_field() {
    let text = "{\n  \"name\": \"t\",\n  \"name\": \"u\",\n  \"clients\": 2\n}";
    assert_error(text, "name", 3, 8, "the field `name` is given twice");
}

#[test]
fn unknown_protocol_and_outcome_and_invariant() {
    let text = "{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"protocol\": \"paxos\"\n}";
    assert_error(text, "protocol", 4, 21, "unknown protocol `paxos`; the ");
    assert!(error(text).message.contains("`lamport`"));
    let text = "{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"protocol\": 1\n}";
    assert_error(
        text,
        "protocol",
        4,
        15,
        "expected one of these names in double quotes: \"lamport\"",
    );
    let text = "{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"expect\": {\"outcome\": \"fine\"}\n}";
    assert_error(
        text,
        "expect.outcome",
        4,
        30,
        "the allowed names are `ok`, `violation`",
    );
    let text = r#"{
  "name": "t",
  "clients": 2,
  "expect": {"outcome": "violation", "invariant": "mutex"}
}"#;
    assert_error(text, "expect.invariant", 4, 57, "`mutual_exclusion`");
}

#[test]
fn the_allowed_names_follow_the_types() {
    assert_eq!(names_of::<ExpectedOutcome>(), ["ok", "violation"]);
    let invariants: Vec<String> = Invariant::ALL
        .iter()
        .map(|i| i.name().to_string())
        .collect();
    assert_eq!(names_of::<Invariant>(), invariants);
    assert_eq!(names_of::<ProtocolVariant>()[0], "lamport");
}

#[test]
fn unknown_mutation() {
    let text = "{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"mutations\": [\"skip-reply\"]\n}";
    let text_number = "{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"mutations\": [7]\n}";
    if names_of::<crate::scenario::Mutation>().is_empty() {
        assert_error(text, "mutations[0]", 4, 28, "no mutations exist yet");
        assert_error(text_number, "mutations[0]", 4, 17, "no mutations exist yet");
    } else {
        assert_error(
            text,
            "mutations[0]",
            4,
            28,
            "unknown mutation `skip-reply`; the mutations are",
        );
        assert_error(
            text_number,
            "mutations[0]",
            4,
            17,
            "expected one of these names",
        );
        let name = &names_of::<crate::scenario::Mutation>()[0];
        let text = format!(
            "{{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"mutations\": [\"{name}\", \"{name}\"]\n}}"
        );
        // `  "mutations": [` is 16 characters, then the first name in quotes, `, `.
        let column = 16 + (name.len() + 2) + 2 + 1;
        assert_error(&text, "mutations[1]", 4, column, "is listed twice");
    }
}

#[test]
fn a_list_where_an_object_belongs() {
    // serde would read these positionally; the format does not allow it.
    let text = "{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"limits\": [5, 6]\n}";
    assert_error(
        text,
        "limits",
        4,
        13,
        "expected an object {...} with named fields here, found a list",
    );
    let text = r#"{
  "name": "t",
  "clients": 2,
  "workload": {"transfers": [[0, 1, 2, 3]]}
}"#;
    assert_error(text, "workload.transfers[0]", 4, 30, "found a list");
    assert_error("[\"t\", \"\", 0, 2]", "", 1, 1, "found a list");
}

// Errors inside a latency object: serde reads it through a buffer, so these are located by
// the scanner at the exact member.

const LATENCY: &str =
    "{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"network\": {\n    \"latency\": LAT\n  }\n}";

fn with_latency(latency: &str) -> String {
    LATENCY.replace("LAT", latency)
}

#[test]
fn latency_unknown_kind() {
    let text = with_latency(r#"{"kind": "normal", "us": 5}"#);
    assert_error(
        &text,
        "network.latency.kind",
        5,
        25,
        "unknown latency kind \"normal\"",
    );
}

#[test]
fn latency_missing_kind_and_missing_parameter() {
    let text = with_latency(r#"{"us": 5}"#);
    assert_error(
        &text,
        "network.latency.kind",
        5,
        16,
        "a latency needs a `kind`",
    );
    let text = with_latency(r#"{"kind": "uniform", "min_us": 5}"#);
    assert_error(
        &text,
        "network.latency.max_us",
        5,
        16,
        "a uniform latency needs `max_us`",
    );
}

#[test]
fn latency_field_of_another_kind() {
    let text = with_latency(r#"{"kind": "constant", "min_us": 5}"#);
    assert_error(
        &text,
        "network.latency.min_us",
        5,
        37,
        "a constant latency takes `kind` and `us`",
    );
}

#[test]
fn latency_wrong_type() {
    let text = with_latency(r#"{"kind": "constant", "us": "fast"}"#);
    assert_error(
        &text,
        "network.latency.us",
        5,
        43,
        "found the string \"fast\"",
    );
    let text = with_latency("1000");
    assert_error(
        &text,
        "network.latency",
        5,
        19,
        "expected a latency object such as",
    );
}

// ---------------------------------------------------------------------------------------------
// Semantic rules (positions found by path).

#[test]
fn name_must_not_be_empty() {
    assert_error(
        "{\n  \"name\": \" \",\n  \"clients\": 2\n}",
        "name",
        2,
        11,
        "must not be empty",
    );
}

#[test]
fn clients_between_1_and_10000() {
    let text = "{\n  \"name\": \"t\",\n  \"clients\": 0\n}";
    assert_error(
        text,
        "clients",
        3,
        14,
        "the number of clients must be between 1 and 10000, not 0",
    );
    let text = "{\n  \"name\": \"t\",\n  \"clients\": 10001\n}";
    assert_error(text, "clients", 3, 14, "not 10001");
    assert!(parse_scenario("{\"name\": \"t\", \"clients\": 10000}", "t.json").is_ok());
}

const BALANCES: &str =
    "{\n  \"name\": \"t\",\n  \"clients\": 3,\n  \"initial_balances\": {\"1\": 5, KEY: VALUE}\n}";

fn with_balance(key: &str, value: &str) -> String {
    BALANCES.replace("KEY", key).replace("VALUE", value)
}

#[test]
fn initial_balance_keys_are_client_ids() {
    assert_error(
        &with_balance("\"x\"", "5"),
        "initial_balances.x",
        4,
        32,
        "\"x\" is not a client id",
    );
    assert_error(
        &with_balance("\"01\"", "5"),
        "initial_balances.01",
        4,
        32,
        "without leading zeros",
    );
    assert_error(
        &with_balance("\"a b\"", "5"),
        "initial_balances[\"a b\"]",
        4,
        32,
        "not a client id",
    );
}

#[test]
fn initial_balance_keys_in_range() {
    let text = with_balance("\"4\"", "5");
    assert_error(
        &text,
        "initial_balances.4",
        4,
        32,
        "there is no client 4: the clients are 1 to 3",
    );
    let text = with_balance("\"0\"", "5");
    assert_error(&text, "initial_balances.0", 4, 32, "there is no client 0");
}

#[test]
fn initial_balance_keys_once_each() {
    let text = with_balance("\"1\"", "6");
    assert_error(
        &text,
        "initial_balances.1",
        4,
        32,
        "client 1 is given twice",
    );
}

#[test]
fn initial_balance_at_most_10_to_the_12() {
    let text = with_balance("\"2\"", "1000000000001");
    assert_error(
        &text,
        "initial_balances.2",
        4,
        37,
        "between 0 and 1000000000000, not 1000000000001",
    );
    let scenario = parse_scenario(&with_balance("\"2\"", "1000000000000"), "t.json").unwrap();
    assert_eq!(
        scenario.initial_balances,
        vec![5, 1_000_000_000_000, DEFAULT_BALANCE]
    );
}

#[test]
fn initial_balances_total_must_fit() {
    // Unreachable through a file while each balance is at most 10^12 and there are at most
    // 10^4 clients; the guard itself:
    assert!(total_fits(&[MAX_BALANCE; MAX_CLIENTS as usize]));
    assert!(total_fits(&[u64::MAX / 2]));
    assert!(!total_fits(&[u64::MAX / 2, 1]));
}

const TRANSFERS: &str = r#"{
  "name": "t",
  "clients": 3,
  "workload": {"transfers": [
    {"at_us": 0, "from": 1, "to": 2, "amount": 3},
    {"at_us": 0, "from": 2, "to": 3, "amount": 3}
  ]}
}"#;

/// TRANSFERS with the second transfer's fields replaced.
fn with_transfer(at_us: &str, from: &str, to: &str, amount: &str) -> String {
    let second =
        format!("{{\"at_us\": {at_us}, \"from\": {from}, \"to\": {to}, \"amount\": {amount}}}");
    TRANSFERS.replace(r#"{"at_us": 0, "from": 2, "to": 3, "amount": 3}"#, &second)
}

#[test]
fn transfer_from_in_range() {
    let text = with_transfer("0", "4", "3", "3");
    assert_error(
        &text,
        "workload.transfers[1].from",
        6,
        26,
        "the payer (from) must be a client id between 1 and 3, not 4",
    );
}

#[test]
fn transfer_to_in_range() {
    let text = with_transfer("0", "2", "0", "3");
    assert_error(
        &text,
        "workload.transfers[1].to",
        6,
        35,
        "the payee (to) must be a client id between 1 and 3, not 0",
    );
}

#[test]
fn transfer_to_itself() {
    let text = with_transfer("0", "2", "2", "3");
    assert_error(
        &text,
        "workload.transfers[1].to",
        6,
        35,
        "a client cannot transfer to itself",
    );
}

#[test]
fn transfer_amount_between_1_and_10_to_the_12() {
    let text = with_transfer("0", "2", "3", "0");
    assert_error(
        &text,
        "workload.transfers[1].amount",
        6,
        48,
        "the amount must be between 1 and 1000000000000, not 0",
    );
    let text = with_transfer("0", "2", "3", "1000000000001");
    assert_error(
        &text,
        "workload.transfers[1].amount",
        6,
        48,
        "not 1000000000001",
    );
}

#[test]
fn transfer_time_within_max_time() {
    let text = with_transfer("3600000001", "2", "3", "3");
    assert_error(
        &text,
        "workload.transfers[1].at_us",
        6,
        15,
        "between 0 and limits.max_time_us (3600000000)",
    );
    assert!(parse_scenario(&with_transfer("3600000000", "2", "3", "3"), "t.json").is_ok());
}

#[test]
fn at_most_so_many_explicit_transfers() {
    assert!(parse_with(TRANSFERS, "t.json", 2).is_ok());
    let error = parse_with(TRANSFERS, "t.json", 1).unwrap_err();
    assert_eq!(
        (error.field.as_str(), error.line, error.column),
        ("workload.transfers[1]", 6, 5)
    );
    assert!(
        error
            .message
            .contains("at most 1 transfers; use workload.generated"),
        "{error}"
    );
}

const READS: &str = r#"{
  "name": "t",
  "clients": 3,
  "workload": {"balance_reads": [
    {"at_us": 0, "client": 1, "of": 2}
  ]}
}"#;

#[test]
fn balance_read_client_and_of_in_range() {
    let text = READS.replace("\"client\": 1", "\"client\": 4");
    assert_error(
        &text,
        "workload.balance_reads[0].client",
        5,
        28,
        "the reading client must be a client id between 1 and 3, not 4",
    );
    let text = READS.replace("\"of\": 2", "\"of\": 0");
    assert_error(
        &text,
        "workload.balance_reads[0].of",
        5,
        37,
        "between 1 and 3, not 0",
    );
}

#[test]
fn balance_read_time_at_most_10_to_the_12() {
    let text = READS.replace("\"at_us\": 0", "\"at_us\": 1000000000001");
    assert_error(
        &text,
        "workload.balance_reads[0].at_us",
        5,
        15,
        "between 0 and 1000000000000",
    );
}

#[test]
fn uniform_min_at_most_max() {
    let text = with_latency(r#"{"kind": "uniform", "min_us": 5000, "max_us": 3000}"#);
    assert_error(
        &text,
        "network.latency.max_us",
        5,
        62,
        "max_us must be between min_us (5000) and 3600000000 (one hour), not 3000",
    );
}

#[test]
fn exponential_mean_at_least_min() {
    let text = with_latency(r#"{"kind": "exponential", "min_us": 5000, "mean_us": 3000}"#);
    assert_error(
        &text,
        "network.latency.mean_us",
        5,
        67,
        "mean_us must be between min_us (5000)",
    );
}

#[test]
fn delays_at_most_one_hour() {
    let text = with_latency(r#"{"kind": "constant", "us": 3600000001}"#);
    assert_error(
        &text,
        "network.latency.us",
        5,
        43,
        "us must be at most 3600000000 (one hour), not 3600000001",
    );
    let text = with_latency(r#"{"kind": "uniform", "min_us": 3600000001, "max_us": 3600000002}"#);
    assert_error(
        &text,
        "network.latency.min_us",
        5,
        46,
        "at most 3600000000 (one hour)",
    );
    let text = with_latency(r#"{"kind": "uniform", "min_us": 5000, "max_us": 3600000001}"#);
    assert_error(
        &text,
        "network.latency.max_us",
        5,
        62,
        "at most 3600000000 (one hour)",
    );
    let text = with_latency(r#"{"kind": "exponential", "min_us": 5000, "mean_us": 3600000001}"#);
    assert_error(
        &text,
        "network.latency.mean_us",
        5,
        67,
        "at most 3600000000 (one hour)",
    );
    let text =
        with_latency(r#"{"kind": "exponential", "min_us": 3600000000, "mean_us": 3600000000}"#);
    assert!(parse_scenario(&text, "t.json").is_ok());
}

const LINKS: &str = r#"{
  "name": "t",
  "clients": 2,
  "network": {
    "links": [
      {"from": 1, "to": 2, "latency": {"kind": "constant", "us": 10}},
      {"from": 2, "to": 1}
    ]
  }
}"#;

#[test]
fn link_latency_is_checked() {
    let text = LINKS.replace("\"us\": 10", "\"us\": 3600000001");
    assert_error(
        &text,
        "network.links[0].latency.us",
        6,
        66,
        "at most 3600000000 (one hour)",
    );
}

#[test]
fn link_ends_in_range() {
    let text = LINKS.replace("{\"from\": 1, \"to\": 2", "{\"from\": 3, \"to\": 2");
    assert_error(
        &text,
        "network.links[0].from",
        6,
        16,
        "from must be a client id between 1 and 2, not 3",
    );
    let text = LINKS.replace("{\"from\": 1, \"to\": 2", "{\"from\": 1, \"to\": 9");
    assert_error(
        &text,
        "network.links[0].to",
        6,
        25,
        "between 1 and 2, not 9",
    );
}

#[test]
fn link_joins_two_different_clients() {
    let text = LINKS.replace("{\"from\": 1, \"to\": 2", "{\"from\": 1, \"to\": 1");
    assert_error(
        &text,
        "network.links[0].to",
        6,
        25,
        "from and to are both 1",
    );
}

#[test]
fn link_given_once() {
    let text = LINKS.replace("{\"from\": 2, \"to\": 1}", "{\"from\": 1, \"to\": 2}");
    assert_error(
        &text,
        "network.links[1]",
        7,
        7,
        "the link 1 -> 2 is already given by network.links[0]",
    );
}

const GENERATED: &str = r#"{
  "name": "t",
  "clients": 3,
  "workload": {"generated": {
    "count": 5,
    "gap": {"kind": "uniform", "min_us": 10, "max_us": 50},
    "amount_min": 1,
    "amount_max": 3,
    "payers": [1, 2],
    "payees": [1, 2, 3]
  }}
}"#;

#[test]
fn generated_valid_as_written() {
    assert!(parse_scenario(GENERATED, "t.json").is_ok());
}

#[test]
fn generated_count_at_most_10_to_the_8() {
    let text = GENERATED.replace("\"count\": 5", "\"count\": 100000001");
    assert_error(
        &text,
        "workload.generated.count",
        5,
        14,
        "count must be at most 100000000, not 100000001",
    );
}

#[test]
fn generated_start_within_max_time() {
    let text = GENERATED.replace("\"count\": 5,", "\"count\": 5, \"start_us\": 3600000001,");
    assert_error(
        &text,
        "workload.generated.start_us",
        5,
        29,
        "between 0 and limits.max_time_us",
    );
}

#[test]
fn generated_gap_is_a_checked_latency() {
    let text = GENERATED.replace("\"max_us\": 50", "\"max_us\": 5");
    assert_error(
        &text,
        "workload.generated.gap.max_us",
        6,
        56,
        "between min_us (10)",
    );
    let text = GENERATED.replace("\"kind\": \"uniform\"", "\"kind\": \"gaussian\"");
    assert_error(
        &text,
        "workload.generated.gap.kind",
        6,
        21,
        "unknown latency kind",
    );
}

#[test]
fn generated_amount_min_at_least_1() {
    let text = GENERATED.replace("\"amount_min\": 1", "\"amount_min\": 0");
    assert_error(
        &text,
        "workload.generated.amount_min",
        7,
        19,
        "amount_min must be between 1 and 1000000000000, not 0",
    );
}

#[test]
fn generated_amount_max_between_min_and_10_to_the_12() {
    let text = GENERATED.replace("\"amount_min\": 1", "\"amount_min\": 5");
    assert_error(
        &text,
        "workload.generated.amount_max",
        8,
        19,
        "amount_max must be between amount_min (5) and 1000000000000, not 3",
    );
    let text = GENERATED.replace("\"amount_max\": 3", "\"amount_max\": 1000000000001");
    assert_error(
        &text,
        "workload.generated.amount_max",
        8,
        19,
        "not 1000000000001",
    );
}

#[test]
fn generated_payers_and_payees_non_empty() {
    let text = GENERATED.replace("\"payers\": [1, 2]", "\"payers\": []");
    assert_error(
        &text,
        "workload.generated.payers",
        9,
        15,
        "payers must name at least one client",
    );
    let text = GENERATED.replace("\"payees\": [1, 2, 3]", "\"payees\": []");
    assert_error(
        &text,
        "workload.generated.payees",
        10,
        15,
        "payees must name at least one client",
    );
}

#[test]
fn generated_payers_and_payees_in_range_and_once_each() {
    let text = GENERATED.replace("\"payers\": [1, 2]", "\"payers\": [1, 4]");
    assert_error(
        &text,
        "workload.generated.payers[1]",
        9,
        19,
        "a payer must be a client id between 1 and 3, not 4",
    );
    let text = GENERATED.replace("\"payees\": [1, 2, 3]", "\"payees\": [1, 2, 9]");
    assert_error(
        &text,
        "workload.generated.payees[2]",
        10,
        22,
        "a payee must be a client id between 1 and 3, not 9",
    );
    let text = GENERATED.replace("\"payers\": [1, 2]", "\"payers\": [1, 1]");
    assert_error(
        &text,
        "workload.generated.payers[1]",
        9,
        19,
        "client 1 is listed twice in payers",
    );
}

#[test]
fn generated_every_payer_has_another_payee() {
    let text = GENERATED.replace("\"payees\": [1, 2, 3]", "\"payees\": [2]");
    assert_error(
        &text,
        "workload.generated.payers[1]",
        9,
        19,
        "client 2 pays but has no payee other than itself",
    );
    // Without `payers`, every client pays: located at `payees`.
    let text = GENERATED
        .replace("    \"payers\": [1, 2],\n", "")
        .replace("\"payees\": [1, 2, 3]", "\"payees\": [3]");
    assert_error(
        &text,
        "workload.generated.payees",
        9,
        15,
        "every client pays when payers is left out",
    );
    // One client alone cannot pay anyone.
    let text = GENERATED
        .replace("\"clients\": 3", "\"clients\": 1")
        .replace(",\n    \"payers\": [1, 2],\n    \"payees\": [1, 2, 3]", "");
    assert_error(
        &text,
        "workload.generated",
        4,
        29,
        "needs at least two clients",
    );
}

#[test]
fn cs_us_at_most_one_hour() {
    let text = "{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"cs_us\": 3600000001\n}";
    assert_error(
        text,
        "cs_us",
        4,
        12,
        "must be at most 3600000000 (one hour), not 3600000001",
    );
}

const LIMITS: &str = "{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"limits\": {\"max_events\": 5, \"max_time_us\": 7}\n}";

#[test]
fn max_events_between_1_and_10_to_the_10() {
    let text = LIMITS.replace("\"max_events\": 5", "\"max_events\": 0");
    assert_error(
        &text,
        "limits.max_events",
        4,
        28,
        "max_events must be between 1 and 10000000000, not 0",
    );
    let text = LIMITS.replace("{\"max_events\": 5, ", "{\"max_events\": 10000000001, ");
    assert_error(&text, "limits.max_events", 4, 28, "not 10000000001");
}

#[test]
fn max_time_at_least_1() {
    let text = LIMITS.replace("\"max_time_us\": 7", "\"max_time_us\": 0");
    assert_error(
        &text,
        "limits.max_time_us",
        4,
        46,
        "max_time_us must be between 1 and 1000000000000, not 0",
    );
    let text = LIMITS.replace("\"max_time_us\": 7", "\"max_time_us\": 1000000000001");
    assert_error(&text, "limits.max_time_us", 4, 46, "not 1000000000001");
}

#[test]
fn expected_invariant_only_with_violation() {
    let text = "{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"expect\": {\"outcome\": \"ok\", \"invariant\": \"liveness\"}\n}";
    assert_error(
        text,
        "expect.invariant",
        4,
        44,
        "only goes with \"outcome\": \"violation\"",
    );
    let text = text.replace("\"ok\"", "\"violation\"");
    assert!(parse_scenario(&text, "t.json").is_ok());
}

#[test]
fn a_missing_value_is_located_at_its_object() {
    // `payers` is absent, so the error about it points at the nearest enclosing value.
    let path = Path::root().at("workload").at("generated").at("payers");
    let text = "{\"workload\": {\"generated\": {}}}";
    assert_eq!(nearest(text, &path), (1, 28));
}

#[test]
fn damaged_files_give_errors_inside_the_text_and_never_panic() {
    // Every one-character deletion and a few replacements of a full valid file.
    let lines = FULL.lines().count();
    for (at, _) in FULL.char_indices() {
        let deleted = format!("{}{}", &FULL[..at], &FULL[at + 1..]);
        let mut variants = vec![deleted];
        for replacement in ["[", "{", "\"", "-", "é", "0", "}"] {
            variants.push(format!("{}{replacement}{}", &FULL[..at], &FULL[at + 1..]));
        }
        for text in variants {
            if let Err(error) = parse_scenario(&text, "t.json") {
                let line_text = text.split('\n').nth(error.line - 1).unwrap_or("");
                assert!(error.line >= 1 && error.line <= lines + 1, "{error}");
                assert!(error.column >= 1, "{error}");
                assert!(error.column <= line_text.chars().count() + 1, "{error}");
                assert!(!error.message.is_empty(), "{error}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Message loss and duplication ratios, partitions and crashes.

const RATIOS: &str = "{\n  \"name\": \"t\",\n  \"clients\": 2,\n  \"network\": {\"drop_ratio\": [1, 10], \"duplicate_ratio\": [0, 1]}\n}";

#[test]
fn ratios_valid_as_written() {
    let scenario = parse_scenario(RATIOS, "t.json").unwrap();
    assert_eq!(
        (
            scenario.network.drop_ratio.numerator,
            scenario.network.drop_ratio.denominator
        ),
        (1, 10)
    );
    assert!(scenario.network.duplicate_ratio.is_zero());
}

#[test]
fn ratio_denominator_at_least_1() {
    let text = RATIOS.replace("[1, 10]", "[1, 0]");
    assert_error(
        &text,
        "network.drop_ratio[1]",
        4,
        33,
        "the denominator (the second number) must be at least 1",
    );
}

#[test]
fn ratio_numerator_at_most_denominator() {
    let text = RATIOS.replace("[1, 10]", "[11, 10]");
    assert_error(
        &text,
        "network.drop_ratio[0]",
        4,
        30,
        "the numerator must be at most the denominator (10), not 11",
    );
    let text = RATIOS.replace("[0, 1]", "[2, 1]");
    assert_error(
        &text,
        "network.duplicate_ratio[0]",
        4,
        58,
        "at most the denominator (1), not 2",
    );
}

#[test]
fn ratio_is_a_list_of_two() {
    let text = RATIOS.replace("[1, 10]", "[1]");
    assert_error(
        &text,
        "network.drop_ratio",
        4,
        31,
        "expected a list of two whole numbers [numerator, denominator], found a list of 1 item",
    );
    let text = RATIOS.replace("[1, 10]", "[1, 10, 100]");
    assert_error(
        &text,
        "network.drop_ratio",
        4,
        37,
        "this list has too many items",
    );
    let text = RATIOS.replace("[1, 10]", "0.1");
    assert_error(&text, "network.drop_ratio", 4, 31, "found 0.1");
}

#[test]
fn link_ratio_is_checked() {
    let text = LINKS.replace(
        "{\"from\": 2, \"to\": 1}",
        "{\"from\": 2, \"to\": 1, \"drop_ratio\": [1, 0]}",
    );
    assert_error(&text, "network.links[1].drop_ratio[1]", 7, 46, "at least 1");
}

const FAULTS: &str = r#"{
  "name": "t",
  "clients": 3,
  "faults": {
    "partitions": [
      {"at_us": 10, "heal_us": 20, "groups": [[1], [2, 3]]}
    ],
    "crashes": [
      {"client": 1, "at_us": 10, "restart_us": 20},
      {"client": 1, "at_us": 30}
    ]
  }
}"#;

#[test]
fn faults_valid_as_written_and_copied() {
    let scenario = parse_scenario(FAULTS, "t.json").unwrap();
    let file: ScenarioFile = serde_json::from_str(FAULTS).unwrap();
    assert_eq!(scenario.faults, file.faults);
    assert_eq!(scenario.faults.partitions.len(), 1);
    assert_eq!(scenario.faults.crashes.len(), 2);
}

#[test]
fn partition_times() {
    let text = FAULTS.replace(
        "{\"at_us\": 10, \"heal_us\"",
        "{\"at_us\": 3600000001, \"heal_us\"",
    );
    assert_error(
        &text,
        "faults.partitions[0].at_us",
        6,
        17,
        "between 0 and limits.max_time_us (3600000000)",
    );
    let text = FAULTS.replace("\"heal_us\": 20", "\"heal_us\": 10");
    assert_error(
        &text,
        "faults.partitions[0].heal_us",
        6,
        32,
        "heal_us must be between at_us + 1 (11) and",
    );
}

#[test]
fn partition_groups() {
    let groups = |g: &str| FAULTS.replace("[[1], [2, 3]]", g);
    assert_error(
        &groups("[[1, 2, 3]]"),
        "faults.partitions[0].groups",
        6,
        46,
        "at least two groups",
    );
    assert_error(
        &groups("[[1], []]"),
        "faults.partitions[0].groups[1]",
        6,
        52,
        "a group must name at least one client",
    );
    assert_error(
        &groups("[[1], [2, 4]]"),
        "faults.partitions[0].groups[1][1]",
        6,
        56,
        "a group member must be a client id between 1 and 3, not 4",
    );
    assert_error(
        &groups("[[1], [2, 1]]"),
        "faults.partitions[0].groups[1][1]",
        6,
        56,
        "client 1 is already in groups[0]",
    );
    assert_error(
        &groups("[[1, 1], [2]]"),
        "faults.partitions[0].groups[0][1]",
        6,
        51,
        "client 1 is listed twice in this group",
    );
    let text = groups("[[1], [2], [3]], \"one_way\": true");
    assert_error(
        &text,
        "faults.partitions[0].groups",
        6,
        46,
        "a one-way partition has exactly two groups",
    );
    assert!(parse_scenario(&groups("[[1], [2, 3]], \"one_way\": true"), "t.json").is_ok());
}

#[test]
fn crash_client_and_times() {
    let text = FAULTS.replace(
        "{\"client\": 1, \"at_us\": 10",
        "{\"client\": 4, \"at_us\": 10",
    );
    assert_error(
        &text,
        "faults.crashes[0].client",
        9,
        18,
        "the crashing client must be a client id between 1 and 3, not 4",
    );
    let text = FAULTS.replace("\"restart_us\": 20", "\"restart_us\": 10");
    assert_error(
        &text,
        "faults.crashes[0].restart_us",
        9,
        48,
        "restart_us must be between at_us + 1 (11)",
    );
    let text = FAULTS.replace("\"at_us\": 30", "\"at_us\": 3600000001");
    assert_error(
        &text,
        "faults.crashes[1].at_us",
        10,
        30,
        "between 0 and limits.max_time_us",
    );
}

#[test]
fn crashes_of_one_client_do_not_overlap() {
    let text = FAULTS.replace("\"at_us\": 30", "\"at_us\": 15");
    assert_error(
        &text,
        "faults.crashes[1].at_us",
        10,
        30,
        "client 1 is already down from 10 until it restarts at 20 (faults.crashes[0])",
    );
    // A crash for good, earlier in time but later in the file.
    let text = FAULTS.replace("\"at_us\": 30", "\"at_us\": 5");
    assert_error(
        &text,
        "faults.crashes[0].at_us",
        9,
        30,
        "client 1 is already down from 5 for good (faults.crashes[1])",
    );
    // Another client's crash may overlap.
    let text = FAULTS.replace(
        "{\"client\": 1, \"at_us\": 30}",
        "{\"client\": 2, \"at_us\": 15}",
    );
    assert!(parse_scenario(&text, "t.json").is_ok());
}

#[test]
fn a_crash_is_an_object() {
    let text = FAULTS.replace("{\"client\": 1, \"at_us\": 30}", "[1, 30]");
    assert_error(&text, "faults.crashes[1]", 10, 7, "found a list");
}
