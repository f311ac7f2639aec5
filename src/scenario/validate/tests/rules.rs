//! The rules of the scenario as a whole: its name, clients, balances, limits and `expect`.

use super::*;

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
fn max_memory_between_1_mib_and_1_tib() {
    let text = LIMITS.replace("{\"max_events\": 5, ", "{\"max_memory_mib\": 0, ");
    assert_error(
        &text,
        "limits.max_memory_mib",
        4,
        32,
        "max_memory_mib must be between 1 and 1048576, not 0",
    );
}

#[test]
fn a_run_estimated_over_the_memory_budget_is_refused() {
    let everyone_pays = r#"{"name": "n", "clients": 10000, "workload": {"generated": {"count": 10000,
        "gap": {"kind": "constant", "us": 0}, "amount_min": 1, "amount_max": 1}}}"#;
    assert_error(
        everyone_pays,
        "workload",
        1,
        45,
        "needs about 11.3 GiB (2.4 GiB of client state, 8.9 GiB for up to 99990000 messages in \
         flight when 10000 payers ask for the mutex at once), more than limits.max_memory_mib \
         allows (4096 MiB); raise limits.max_memory_mib to run it",
    );
    let idle = r#"{"name": "n", "clients": 10000, "limits": {"max_memory_mib": 1024}}"#;
    assert_error(
        idle,
        "clients",
        1,
        26,
        "10000 clients need about 2.4 GiB for their tables alone",
    );
    let raised = everyone_pays.replace(
        "\"clients\": 10000,",
        "\"clients\": 10000, \"limits\": {\"max_memory_mib\": 12000},",
    );
    assert!(parse_scenario(&raised, "t.json").is_ok());
    let crashed = r#"{"name": "n", "clients": 3, "workload": {"generated": {"count": 100000000,
        "gap": {"kind": "constant", "us": 0}, "amount_min": 1, "amount_max": 1}},
        "faults": {"crashes": [{"client": 3, "at_us": 5}]}, "limits": {"max_memory_mib": 1024}}"#;
    assert_error(
        crashed,
        "workload",
        1,
        41,
        "ledger blocks that a crash keeps",
    );
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
