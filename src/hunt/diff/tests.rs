use super::*;

const HEADER: &str = r#"{"type":"header","seed":1}"#;

fn event(seq: u64, t: u64, kind: &str) -> String {
    format!(r#"{{"type":"event","seq":{seq},"t":{t},"node":1,"clock":{seq},"kind":"{kind}"}}"#)
}

fn trace(lines: &[String]) -> String {
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

fn diff(a: &str, b: &str, context: usize) -> TraceDiff {
    diff_readers(a.as_bytes(), b.as_bytes(), "a", "b", context).unwrap()
}

fn base() -> Vec<String> {
    let mut lines = vec![HEADER.to_string()];
    lines.extend((0..10).map(|seq| event(seq, seq * 100, "send")));
    lines.push(r#"{"type":"summary","events":10}"#.to_string());
    lines
}

#[test]
fn identical_traces_have_no_difference() {
    let text = trace(&base());
    let result = diff(&text, &text, 3);
    assert!(result.identical());
    assert_eq!(result.lines, 12);
}

#[test]
fn the_first_differing_event_names_its_seq_fields_and_context() {
    let a = base();
    let mut b = base();
    b[5] = event(4, 450, "deliver");
    b[6] = event(5, 999, "send");
    let result = diff(&trace(&a), &trace(&b), 2);
    let first = result.first.expect("a difference");
    assert_eq!(first.diff.label, "event seq 4");
    assert_eq!(first.diff.number, 6);
    let paths: Vec<&str> = first.diff.fields.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["t", "kind"]);
    assert_eq!(
        first.before.iter().map(|l| l.number).collect::<Vec<_>>(),
        [4, 5]
    );
    assert_eq!(first.after_a.len(), 2);
    assert_eq!(first.after_b[0].text, event(5, 999, "send"));
    assert!(result.header.is_none());
}

#[test]
fn a_differing_header_is_reported_and_the_comparison_goes_on() {
    let a = base();
    let mut b = base();
    b[0] = r#"{"type":"header","seed":2}"#.to_string();
    b[8] = event(7, 1, "send");
    let result = diff(&trace(&a), &trace(&b), 3);
    let header = result.header.expect("header differs");
    assert_eq!(header.fields[0].path, "seed");
    assert_eq!(
        result.first.expect("event differs").diff.label,
        "event seq 7"
    );
}

#[test]
fn a_shorter_trace_is_a_difference_at_its_end() {
    let a = base();
    let b = base()[..4].to_vec();
    let result = diff(&trace(&a), &trace(&b), 3);
    let first = result.first.expect("a difference");
    assert_eq!(first.diff.number, 5);
    assert!(first.b.is_none());
    assert_eq!(first.after_a.len(), 3);
    let mut text = Vec::new();
    write_report(&mut text, &diff(&trace(&a), &trace(&b), 3), "a", "b").unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("b ends after line 4"), "{text}");
}

#[test]
fn same_value_different_bytes_is_a_difference_of_encoding() {
    let a = trace(&[HEADER.to_string(), r#"{"seq":1,"t":2}"#.to_string()]);
    let b = trace(&[HEADER.to_string(), r#"{"t":2,"seq":1}"#.to_string()]);
    let result = diff(&a, &b, 1);
    assert!(result.first.unwrap().diff.bytes_only);
}

#[test]
fn nested_fields_are_named_by_path() {
    let a = r#"{"msg":{"type":"release","block":{"hash":"aa"}},"list":[1,2]}"#;
    let b = r#"{"msg":{"type":"release","block":{"hash":"bb"}},"list":[1]}"#;
    let result = diff(&trace(&[a.into()]), &trace(&[b.into()]), 0);
    let paths: Vec<String> = result
        .first
        .unwrap()
        .diff
        .fields
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(paths, ["msg.block.hash", "list[1]"]);
}

#[test]
fn a_line_that_is_not_json_is_an_error_with_its_position() {
    let a = trace(&[HEADER.to_string(), "{\"seq\": 1}".into()]);
    let b = trace(&[HEADER.to_string(), "{\"seq\": oops}".into()]);
    let error = diff_readers(a.as_bytes(), b.as_bytes(), "a.jsonl", "b.jsonl", 3)
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("b.jsonl:2:9: not JSON"), "{error}");
}

#[test]
fn the_live_comparer_finds_the_same_difference_as_two_files() {
    let a = base();
    let mut b = base();
    b[3] = event(2, 1, "send");
    let (text_a, text_b) = (trace(&a), trace(&b));
    let expected = diff(&text_a, &text_b, 3);
    let live = LiveComparer::new(Box::new(io::Cursor::new(text_a.clone())), "a", "b", 3);
    {
        let mut writer = live.writer();
        // Written in odd pieces, as an encoder might.
        for piece in text_b.as_bytes().chunks(7) {
            writer.write_all(piece).unwrap();
        }
    }
    assert_eq!(live.finish().unwrap(), expected);
    let same = LiveComparer::new(Box::new(io::Cursor::new(text_a.clone())), "a", "b", 3);
    same.writer().write_all(text_a.as_bytes()).unwrap();
    assert!(same.finish().unwrap().identical());
}
