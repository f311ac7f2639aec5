//! Every scenario in `scenarios/` runs, meets its `expect`, and matches its snapshots (the
//! text timeline with the verdict, and the trace summary) in the top-level `snapshots/`.

mod common;

use std::path::Path;

use insta::{Settings, assert_json_snapshot, assert_snapshot};

fn snapshot_settings(path: &Path) -> Settings {
    let mut settings = Settings::clone_current();
    settings.set_snapshot_path(common::root().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_snapshot_suffix(path.file_stem().unwrap().to_string_lossy().to_string());
    settings.set_input_file(path);
    settings
}

#[test]
fn every_scenario_meets_its_expect_and_matches_its_snapshots() {
    let paths = common::scenario_paths();
    assert!(
        paths.len() >= 3,
        "expected the default, contention and reordering scenarios"
    );
    for path in paths {
        let scenario = common::load(&path);
        assert!(
            scenario.expect.is_some(),
            "{} has no expect block",
            path.display()
        );
        let (report, text, _) = common::run(&scenario);
        assert!(
            report.passed(),
            "{} did not meet its expect:\n{}",
            path.display(),
            text.lines().rev().take(12).collect::<Vec<_>>().join("\n")
        );
        snapshot_settings(&path).bind(|| {
            assert_snapshot!("timeline", text);
            assert_json_snapshot!("summary", report.summary);
        });
    }
}

#[test]
fn the_built_in_default_is_the_default_scenario_file() {
    let from_file = common::load(&common::root().join("scenarios/default.json"));
    assert_eq!(lamport_ledger::scenario::default_scenario(), from_file);
}

#[test]
fn the_default_scenario_shows_an_abort_and_a_stale_balance_read() {
    let scenario = lamport_ledger::scenario::default_scenario();
    let (report, text, _) = common::run(&scenario);
    assert_eq!(scenario.clients, 3);
    assert!(
        scenario
            .initial_balances
            .iter()
            .all(|&balance| balance == 10)
    );
    assert!(report.result.aborted >= 1, "no transfer aborted");
    assert!(
        report.result.committed >= 2,
        "fewer than two transfers committed"
    );
    // The read of client 1's balance happens after client 1 committed but before its RELEASE
    // reached the reader, so it still shows the initial 10.
    let commit_line = text
        .lines()
        .position(|line| line.contains("c1") && line.contains("COMMITS"))
        .unwrap();
    let read_line = text
        .lines()
        .position(|line| line.contains("reads the balance of c1"))
        .unwrap();
    assert!(
        read_line > commit_line,
        "the read should come after client 1's commit"
    );
    assert!(
        text.lines().nth(read_line).unwrap().ends_with(": 10"),
        "the read is not stale"
    );
}

#[test]
fn the_reordering_scenario_is_the_known_minimal_schedule() {
    let scenario = common::load(&common::root().join("scenarios/reorder-2.json"));
    let (report, _, trace) = common::run(&scenario);
    assert_eq!(
        report.result.violations[0].violation.invariant.name(),
        "mutual_exclusion"
    );
    // Client 1's REPLY reaches client 2 before client 1's own earlier REQUEST does.
    let deliveries: Vec<serde_json::Value> = String::from_utf8(trace)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|event: &serde_json::Value| event["kind"] == "deliver" && event["node"] == 2)
        .collect();
    let position = |msg_type: &str| {
        deliveries
            .iter()
            .position(|event| event["msg"]["type"] == msg_type)
    };
    let reply = position("reply").expect("client 2 received a REPLY");
    let request = position("request").expect("client 2 received a REQUEST");
    assert!(reply < request, "the REPLY did not overtake the REQUEST");
    assert!(deliveries[reply]["msg_id"].as_u64() > deliveries[request]["msg_id"].as_u64());
}
