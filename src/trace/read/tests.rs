use super::*;
use crate::protocol::{ClientId, Message};
use crate::trace::EventKind;

const HEADER: &str = r#"{"type":"header","format":"lamport-ledger-trace","version":1,"clients":2,"initial_balances":{"1":10,"2":10}}"#;

/// A trace from lines between header and summary, with a correct digest.
fn trace(events: &[&str], summary_fields: &str) -> String {
    let mut text = format!("{HEADER}\n");
    for event in events {
        text.push_str(event);
        text.push('\n');
    }
    let digest = crate::protocol::ledger::to_hex(&Sha256::digest(text.as_bytes()).into());
    let zero = "0".repeat(64);
    text.push_str(&format!(
        r#"{{"type":"summary",{summary_fields}"violations":[],"final_balances":{{"1":{{"1":10,"2":10}},"2":{{"1":10,"2":10}}}},"heads":{{"1":"{zero}","2":"{zero}"}},"digest":"{digest}"}}"#
    ));
    text.push('\n');
    text
}

fn read_all(text: &str) -> Result<(Vec<Event>, TraceReader<&[u8]>), ReadError> {
    let mut reader = TraceReader::new(text.as_bytes())?;
    let mut events = Vec::new();
    while let Some(event) = reader.next_event()? {
        events.push(event);
    }
    Ok((events, reader))
}

fn error(text: &str) -> String {
    match read_all(text) {
        Ok(_) => panic!("the trace was accepted"),
        Err(error) => error.to_string(),
    }
}

const SEND: &str = r#"{"type":"event","seq":0,"t":0,"node":1,"clock":1,"kind":"send","msg_id":0,"to":2,"msg":{"type":"request","ts":1}}"#;
const DELIVER: &str = r#"{"type":"event","seq":1,"t":5,"node":2,"clock":2,"kind":"deliver","msg_id":0,"from":1,"msg":{"type":"request","ts":1},"extra":[1,2]}"#;

#[test]
fn a_well_formed_trace_reads_with_unknown_fields_ignored() {
    let text = trace(
        &[SEND, DELIVER],
        r#""events":2,"committed":0,"aborted":0,"messages_sent":1,"end":"quiescent","#,
    );
    let (events, reader) = read_all(&text).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[1].kind,
        EventKind::Deliver {
            msg_id: 0,
            from: ClientId::new(1),
            msg: Message::Request { ts: 1 }
        }
    );
    let summary = reader.summary().unwrap();
    assert_eq!(summary.line, 4);
    assert_eq!(summary.end.as_deref(), Some("quiescent"));
    assert_eq!(reader.header().initial_balances, vec![10, 10]);
    assert_eq!(reader.header().protocol, "lamport");
}

#[test]
fn malformed_json_names_line_and_column() {
    let text = trace(
        &[SEND, r#"{"type":"event","seq":1,"#],
        r#""events":2,"committed":0,"aborted":0,"#,
    );
    let message = error(&text);
    assert!(
        message.starts_with("line 3, column 24: malformed JSON"),
        "{message}"
    );
}

#[test]
fn a_line_that_is_not_an_object_is_named() {
    let message = error(&trace(
        &["[1,2]"],
        r#""events":1,"committed":0,"aborted":0,"#,
    ));
    assert_eq!(
        message,
        "line 2: the line is not a JSON object, but every line of a trace is one"
    );
}

#[test]
fn a_wrong_typed_field_is_named() {
    let bad = r#"{"type":"event","seq":1,"t":5,"node":2,"clock":2,"kind":"deliver","msg_id":0,"from":1,"msg":{"type":"request","ts":"one"}}"#;
    let message = error(&trace(
        &[SEND, bad],
        r#""events":2,"committed":0,"aborted":0,"#,
    ));
    assert!(message.starts_with("line 3, column"), "{message}");
    assert!(
        message.contains("field `msg.ts`: invalid type: string \"one\""),
        "{message}"
    );
}

#[test]
fn a_missing_field_is_named() {
    let bad = r#"{"type":"event","seq":1,"t":5,"node":2,"clock":2,"kind":"deliver","from":1,"msg":{"type":"request","ts":1}}"#;
    let message = error(&trace(
        &[SEND, bad],
        r#""events":2,"committed":0,"aborted":0,"#,
    ));
    assert_eq!(message, "line 3: the deliver event has no `msg_id` field");
}

#[test]
fn the_header_is_checked() {
    assert_eq!(
        error(""),
        "line 1: the file is empty, but a trace starts with a header line"
    );
    let message = error(&format!("{SEND}\n"));
    assert!(
        message.contains("must start with a header line"),
        "{message}"
    );
    let message = error(&format!(
        "{}\n",
        HEADER.replace("\"version\":1", "\"version\":2")
    ));
    assert!(message.contains("version 2 is not supported"), "{message}");
    let message = error(&format!(
        "{}\n",
        HEADER.replace("lamport-ledger-trace", "other")
    ));
    assert!(
        message.contains("not a lamport-ledger-trace trace"),
        "{message}"
    );
}

#[test]
fn seq_gaps_and_time_going_back_are_caught() {
    let gap = SEND.replace("\"seq\":0", "\"seq\":1");
    let message = error(&trace(&[&gap], r#""events":1,"committed":0,"aborted":0,"#));
    assert!(
        message.starts_with("line 2: `seq` is 1 but 0 was expected"),
        "{message}"
    );
    let early = DELIVER.replace("\"t\":5", "\"t\":0");
    let late_send = SEND.replace("\"t\":0", "\"t\":9");
    let message = error(&trace(
        &[&late_send, &early],
        r#""events":2,"committed":0,"aborted":0,"#,
    ));
    assert!(
        message.starts_with("line 3: `t` is 0 but the event before was at 9"),
        "{message}"
    );
}

#[test]
fn truncation_digest_and_trailing_content_are_caught() {
    let text = trace(&[SEND, DELIVER], r#""events":2,"committed":0,"aborted":0,"#);
    let without_summary: String = text
        .lines()
        .take(3)
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(
        error(&without_summary),
        "line 4: the trace ends after line 3 without a summary line: it is truncated"
    );
    let cut = &text[..text.len() - 10];
    assert!(error(cut).starts_with("line 4: the file ends in the middle of this line"));
    let edited = text.replacen("\"t\":5", "\"t\":6", 1);
    let message = error(&edited);
    assert!(
        message.starts_with("line 4: the summary's digest"),
        "{message}"
    );
    let message = error(&format!("{text}\n"));
    assert_eq!(
        message,
        "line 5: there is more after the summary line, which must be the last line"
    );
}

#[test]
fn summary_counts_must_match() {
    let text = trace(&[SEND, DELIVER], r#""events":3,"committed":0,"aborted":0,"#);
    assert_eq!(
        error(&text),
        "line 4: the summary says `events` is 3, but the trace has 2 event lines"
    );
}

#[test]
fn unknown_kinds_and_message_types_are_skipped_and_counted() {
    let token_send = SEND.replace("\"request\"", "\"token\"");
    let token_deliver = DELIVER.replace("\"request\"", "\"token\"");
    let future =
        r#"{"type":"event","seq":2,"t":6,"node":1,"clock":3,"kind":"checkpoint","what":1}"#;
    let text = trace(
        &[&token_send, &token_deliver, future],
        r#""events":3,"committed":0,"aborted":0,"messages_sent":1,"#,
    );
    let (events, reader) = read_all(&text).unwrap();
    assert!(events.is_empty());
    let skipped: Vec<(&str, u64)> = reader
        .skipped()
        .iter()
        .map(|(kind, count)| (kind.as_str(), *count))
        .collect();
    assert_eq!(
        skipped,
        vec![
            ("\"checkpoint\"", 1),
            ("deliver of a \"token\" message", 1),
            ("send of a \"token\" message", 1)
        ]
    );
}

#[test]
fn out_of_range_clients_are_caught() {
    let bad = SEND.replace("\"to\":2", "\"to\":3");
    let message = error(&trace(&[&bad], r#""events":1,"committed":0,"aborted":0,"#));
    assert_eq!(
        message,
        "line 2: `to` is 3, but the trace has clients 1 to 2"
    );
}
