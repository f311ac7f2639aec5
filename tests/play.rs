//! `lamport-ledger play` as a student uses it: the page in a real headless Chromium, driven by
//! clicks and keys, reaches the reorder-2 violation by choosing deliveries, undoes, and the
//! exported scenario runs to the same violation; Ctrl-C leaves nothing listening.

#[path = "render/browser.rs"]
mod browser;
#[path = "common/mod.rs"]
mod common;
#[path = "common/played.rs"]
mod played;

use std::io::{Read, Write};

use played::Played;
use std::net::TcpStream;

/// A plain HTTP/1.0 request; returns the status line, the headers and the body.
fn http(address: &str, method: &str, path: &str) -> (String, String) {
    http_with(address, method, path, "")
}

fn http_with(address: &str, method: &str, path: &str, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: {address}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

fn attribute(dom: &str, name: &str) -> String {
    let pattern = format!(r#"{name}="([^"]*)""#);
    regex::Regex::new(&pattern).unwrap().captures(dom).unwrap()[1].to_string()
}

/// Loads the page, plays `actions` (`click:ID` or `key:K`) and returns the DOM after them.
fn drive(chromium: &std::path::Path, played: &Played, actions: &[&str]) -> String {
    let url = format!("{}#do={}", played.url, actions.join(","));
    let dom = browser::dump_dom(chromium, &url, (1400, 1000));
    assert_eq!(
        attribute(&dom, "data-ready"),
        "yes",
        "{actions:?}: not ready"
    );
    assert!(
        dom.contains("<pre id=\"errors\"></pre>"),
        "{actions:?}: script errors in {dom}"
    );
    dom
}

#[test]
fn play_reaches_the_reorder_2_violation_by_clicks_undoes_by_key_and_exports_it() {
    let Some(chromium) = browser::chromium("play_in_chromium") else {
        return;
    };
    let played = Played::start(&common::root(), "scenarios/reorder-2.json");
    // Both clients request; c1's REPLY m2 overtakes its REQUEST m0 and c2 enters.
    let dom = drive(
        &chromium,
        &played,
        &[
            "click:m-issue-c1",
            "click:m-issue-c2",
            "click:m-deliver-1",
            "click:m-deliver-2",
        ],
    );
    assert_eq!(attribute(&dom, "data-step"), "4");
    assert!(
        dom.contains("the earlier request (1,1) is not in its queue"),
        "{dom}"
    );
    assert!(dom.contains(r#"data-client="2" data-field="phase""#));
    assert!(dom.contains("<svg"), "the diagram is drawn");
    // The page keeps the session: the next load goes on from step 4. m0 arrives, c2
    // replies with m3, and its arrival lets c1 enter too: the violation shows at once.
    let dom = drive(
        &chromium,
        &played,
        &["click:m-deliver-0", "click:m-deliver-3"],
    );
    assert_eq!(attribute(&dom, "data-step"), "6");
    assert_eq!(attribute(&dom, "data-stopped"), "yes");
    assert!(dom.contains("VIOLATION of mutual_exclusion"), "{dom}");
    assert!(dom.contains(r#"<section id="challenge" class="done">"#));
    // Undo with the key, redo with the button, go back with the path's button.
    let dom = drive(&chromium, &played, &["key:u"]);
    assert_eq!(attribute(&dom, "data-step"), "5");
    assert_eq!(attribute(&dom, "data-stopped"), "no");
    assert!(!dom.contains("VIOLATION of mutual_exclusion"));
    let dom = drive(&chromium, &played, &["click:redo"]);
    assert_eq!(attribute(&dom, "data-step"), "6");
    assert_eq!(attribute(&dom, "data-stopped"), "yes");
    // The exported scenario runs to the same violation, with the same trace.
    let (head, scenario) = http(&played.address(), "GET", "/export/scenario.json");
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{head}"
    );
    assert!(head.contains("X-Violation: mutual_exclusion"), "{head}");
    let digest = head
        .lines()
        .find_map(|line| line.strip_prefix("X-Trace-Digest: "))
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("played.json");
    std::fs::write(&file, &scenario).unwrap();
    let trace = dir.path().join("played.jsonl");
    let run = common::lamport_ledger(&[
        "run",
        file.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "the scenario expects it: {stdout}"
    );
    assert!(stdout.contains("VIOLATION of mutual_exclusion"), "{stdout}");
    assert!(stdout.contains(&digest), "{stdout}");
    let (_, exported_trace) = http(&played.address(), "GET", "/export/trace.jsonl");
    assert_eq!(std::fs::read_to_string(&trace).unwrap(), exported_trace);
    // Back to the start by the path's button, then the seed chooses with the key.
    let dom = drive(
        &chromium,
        &played,
        &["click:back-0", "key:a", "key:a", "key:1"],
    );
    assert_eq!(attribute(&dom, "data-step"), "3");
    played.interrupt();
}

#[test]
fn play_offers_the_faults_the_scenario_allows_and_refuses_bad_input_in_one_sentence() {
    let output = common::lamport_ledger(&["play", "scenarios/no-such.json", "--port", "0"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let played = Played::start(&common::root(), "scenarios/duplication-lamport.json");
    let (_, view) = http(&played.address(), "GET", "/api/view");
    let view: serde_json::Value = serde_json::from_str(&view).unwrap();
    let first = view["choices"][0]["move"].to_string();
    assert!(first.contains("issue"), "{first}");
    let (head, view) = http_with(&played.address(), "POST", "/api/move", &first);
    assert!(head.contains(" 200 "), "{head}");
    let view: serde_json::Value = serde_json::from_str(&view).unwrap();
    let faults: Vec<&str> = view["choices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|choice| choice["fault"] == true)
        .map(|choice| choice["move"]["kind"].as_str().unwrap())
        .collect();
    assert!(
        !faults.is_empty() && faults.iter().all(|kind| *kind == "duplicate"),
        "{faults:?}"
    );
    // A move that is not possible now is refused in one sentence.
    let (head, body) = http_with(
        &played.address(),
        "POST",
        "/api/move",
        r#"{"kind":"deliver","msg_id":99}"#,
    );
    assert!(head.contains(" 400 "), "{head}");
    assert!(body.contains("not possible now"), "{body}");
    let (head, body) = http(&played.address(), "POST", "/api/move");
    assert!(head.contains(" 400 "), "{head}");
    assert!(body.contains("not a move"), "{body}");
    let (head, _) = http(&played.address(), "GET", "/nowhere");
    assert!(head.contains(" 404 "), "{head}");
    played.interrupt();
}
