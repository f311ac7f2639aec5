//! The faults' rules: partitions and crashes.

use super::*;

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
