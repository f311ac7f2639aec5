//! The network's rules: latency ranges, links, and loss and duplication ratios.

use super::*;

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
