//! The workload's rules: explicit transfers, balance reads and generated transfers.

use super::*;

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
