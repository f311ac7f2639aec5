//! Syntax, types, missing and unknown fields (serde_json's positions), and errors inside a
//! latency object.

use super::*;

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
