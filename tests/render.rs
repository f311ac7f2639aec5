//! The teaching views as a user sees them: every format is checked for its structure (the SVG
//! parses as XML with one element per event, the ShiViz log obeys ShiViz's vector clock rules,
//! the Mermaid diagram has one arrow per delivered message), every renderer is deterministic,
//! `--from/--to` select windows, the state rebuilt from the events equals the simulator's, and
//! the HTML page is stepped through in a real headless Chromium.

mod browser;
mod common;

use common::lamport_ledger;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use lamport_ledger::protocol::Variant;
use lamport_ledger::render::state::{Phase, Replay};
use lamport_ledger::render::{
    Capture, RenderFormat, TraceInfo, Window, html, read_capture, render, shiviz,
};
use lamport_ledger::runner::{RunReport, header, run_scenario};
use lamport_ledger::scenario::Scenario;
use lamport_ledger::sim::RunOptions;
use lamport_ledger::trace::{Event, EventKind};

const ALL_FORMATS: [RenderFormat; 5] = [
    RenderFormat::Text,
    RenderFormat::Svg,
    RenderFormat::Html,
    RenderFormat::Shiviz,
    RenderFormat::Mermaid,
];

/// Scenarios that between them have every event kind: faults, variants, violations.
const VARIED: [&str; 8] = [
    "default.json",
    "reorder-2.json",
    "partition-heal.json",
    "crash-restart-ledger.json",
    "loss-lamport.json",
    "duplication-lamport.json",
    "fifo-ricart-agrawala.json",
    "mutation-release-pops-head.json",
];

fn scenario(file: &str) -> Scenario {
    common::load(&common::root().join("scenarios").join(file))
}

/// Runs `scenario` in process with a capture of `window` watching; also returns the trace.
fn run_captured(scenario: &Scenario, window: Window) -> (RunReport, Capture, Vec<u8>) {
    let trace = common::SharedBuffer::default();
    let mut capture = Capture::new(TraceInfo::from_header(&header(scenario)), window);
    let report = run_scenario(
        scenario,
        RunOptions::default(),
        vec![Box::new(trace.clone())],
        &mut [&mut capture],
    )
    .expect("a run in memory cannot fail");
    (report, capture, trace.bytes())
}

fn rendered(format: RenderFormat, capture: &Capture) -> String {
    let mut out = Vec::new();
    render(format, capture, &mut out).expect("rendering into memory cannot fail");
    String::from_utf8(out).expect("every format is UTF-8")
}

fn count_kind(events: &[Event], kind: &str) -> usize {
    events
        .iter()
        .filter(|event| event.kind.name() == kind)
        .count()
}

// ---------------------------------------------------------------------------------------------
// The state behind the explanations and the step-through page.

#[test]
fn rebuilt_state_equals_the_simulators_clients_at_the_end_of_every_scenario() {
    for path in common::scenario_paths() {
        let scenario = common::load(&path);
        let (report, capture, _) = run_captured(&scenario, Window::all());
        let mut replay = capture.start.clone();
        for event in &capture.events {
            replay.apply(event);
        }
        let name = path.file_name().unwrap().to_string_lossy();
        for client in &report.result.clients {
            let rebuilt = replay.client(client.id()).expect("every client is rebuilt");
            // The one step the trace cannot show: under Ricart-Agrawala a release with no block
            // and no deferred reply sends nothing, so its clock tick has no event.
            let silent_tick = scenario.protocol.to_protocol() == Variant::RicartAgrawala
                && rebuilt.phase == Phase::Idle
                && rebuilt.clock + 1 == client.clock();
            assert!(
                rebuilt.clock == client.clock() || silent_tick,
                "{name}: c{} clock {} rebuilt as {}",
                client.id(),
                client.clock(),
                rebuilt.clock
            );
            assert_eq!(
                rebuilt.queue.iter().copied().collect::<Vec<_>>(),
                client.queue().iter().collect::<Vec<_>>(),
                "{name}: c{} request queue",
                client.id()
            );
            for peer in rebuilt.peers() {
                assert_eq!(
                    rebuilt.seen(peer),
                    client.largest_seen(peer),
                    "{name}: c{} largest timestamp seen from c{peer}",
                    client.id()
                );
            }
            assert_eq!(
                rebuilt.balances,
                client.ledger().table().to_vec(),
                "{name}: c{} balance table",
                client.id()
            );
            assert_eq!(rebuilt.ledger_len, client.ledger().len(), "{name}: ledger");
            assert_eq!(rebuilt.head, client.ledger().head_hash(), "{name}: head");
        }
    }
}

#[test]
fn a_trace_file_gives_the_same_events_and_drawings_as_the_run_itself() {
    for file in VARIED {
        let (_, in_process, trace) = run_captured(&scenario(file), Window::all());
        let from_file = read_capture(&trace[..], Window::all()).expect("the trace reads back");
        assert_eq!(from_file.events, in_process.events, "{file}");
        assert_eq!(from_file.start, in_process.start, "{file}");
        for format in [
            RenderFormat::Svg,
            RenderFormat::Shiviz,
            RenderFormat::Mermaid,
        ] {
            assert_eq!(
                rendered(format, &from_file),
                rendered(format, &in_process),
                "{file}: {} differs between the file and the run",
                format.name()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// text

#[test]
fn text_says_when_a_block_is_held_back_and_it_is_applied_later() {
    let (_, capture, _) = run_captured(&scenario("contention-5.json"), Window::all());
    let text = rendered(RenderFormat::Text, &capture);
    let lines: Vec<&str> = text.lines().collect();
    let node_of = |line: &str| line.split_whitespace().nth(2).unwrap_or("").to_string();
    let mut held = 0;
    for (at, line) in lines.iter().enumerate() {
        let Some(rest) = line
            .split("'s block ")
            .nth(1)
            .filter(|_| line.contains("holds c"))
        else {
            continue;
        };
        held += 1;
        let index = rest.split_whitespace().next().unwrap();
        let delivery = lines[at - 1];
        assert!(
            delivery.contains("receives RELEASE") && delivery.contains(&format!("block {index})")),
            "{delivery}\n{line}"
        );
        let node = node_of(delivery);
        let applied = format!("applies block {index} (");
        assert!(
            lines[at + 1..]
                .iter()
                .any(|later| node_of(later) == node && later.contains(&applied)),
            "{node} never applies the block it held back: {line}"
        );
    }
    assert!(held > 0, "contention-5 holds blocks back:\n{text}");
}

/// After a restart that kept nothing, the blocks the client had are gone for good: their
/// RELEASEs came before the crash, and nobody sends a block twice. The note says so rather
/// than promise that they will be appended first.
#[test]
fn text_says_when_a_held_back_block_waits_for_blocks_lost_in_a_restart() {
    let (_, capture, _) = run_captured(&scenario("crash-restart-nothing.json"), Window::all());
    let text = rendered(RenderFormat::Text, &capture);
    let note = "holds c1's block 2 back: its ledger has 0 blocks since it restarted with \
                nothing; blocks 0 to 1 were lost in that restart and no peer sends them again, \
                so block 2 waits for blocks that will not come";
    assert!(text.contains(note), "{text}");
    assert!(!text.contains("must be appended first"), "{text}");
}

#[test]
fn text_of_a_trace_file_ends_with_the_verdict_of_its_summary() {
    let (report, in_process, trace) = run_captured(&scenario("reorder-2.json"), Window::all());
    let from_file = read_capture(&trace[..], Window::all()).expect("the trace reads back");
    let text = rendered(RenderFormat::Text, &from_file);
    // The event that revealed the violation and the violation event, by their `seq`, as the
    // timeline shows them (`#14`) and as `run` says them.
    let first = &report.result.violations[0];
    let verdict = format!(
        "verdict:   VIOLATION of {} at event {} (t=14.162ms, recorded as event {})",
        first.violation.invariant,
        first.seq - 1,
        first.seq
    );
    assert!(text.contains(&verdict), "{text}");
    assert!(text.contains("then ledger_agreement at event 16 (t=14.162ms, recorded as event 17)"));
    assert!(
        text.contains(
            "    #14     14.162ms  c1       5  ENTERS the critical section: request (1,1) heads"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "    #15     14.162ms  c1       5  VIOLATION of mutual_exclusion at event 14: "
        ),
        "{text}"
    );
    let digest = format!("digest:    {} (matches", report.digest_hex);
    assert!(text.contains(&digest), "{text}");
    // Rendered in process there is no summary yet: `run` prints its own verdict block.
    assert!(!rendered(RenderFormat::Text, &in_process).contains("verdict:"));
}

#[test]
fn text_explains_entries_waits_aborts_and_stale_reads() {
    let (_, capture, _) = run_captured(&scenario("default.json"), Window::all());
    let text = rendered(RenderFormat::Text, &capture);
    for expected in [
        "why: own request (1,1) heads its queue [(1,1) (1,2) (1,3)]; timestamps later than 1 \
         seen from c2 (3), c3 (2)",
        "waits: (1,1) is ahead of its request (1,3) in its queue",
        "it needs a message with a timestamp later than 1 from c2",
        "why: its own table gives it 5 (after 3 blocks), less than the 6 it wants to pay",
        "stale: c1's own table already says 3",
        "state after event 74:",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let (_, capture, _) = run_captured(&scenario("reorder-2.json"), Window::all());
    let text = rendered(RenderFormat::Text, &capture);
    assert!(
        text.contains(
            "but the earlier request (1,1) is not in its queue: its REQUEST has not arrived"
        ),
        "{text}"
    );
    // Every event line of the timeline is there, in order, numbered by its `seq`.
    let seqs: Vec<String> = capture
        .events
        .iter()
        .map(|event| format!("#{}", event.seq))
        .collect();
    let event_lines: Vec<String> = text
        .lines()
        .filter(|line| line.trim_start().starts_with('#'))
        .filter(|line| line.contains("ms  c") || line.contains("ms  -"))
        .map(|line| {
            line.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(event_lines, seqs, "{text}");
}

// ---------------------------------------------------------------------------------------------
// svg

fn classes<'a>(node: &roxmltree::Node<'a, 'a>) -> Vec<&'a str> {
    node.attribute("class")
        .map(|class| class.split_whitespace().collect())
        .unwrap_or_default()
}

fn check_svg(svg: &str, capture: &Capture, context: &str) {
    let document = roxmltree::Document::parse(svg)
        .unwrap_or_else(|error| panic!("{context}: the SVG is not XML: {error}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg", "{context}");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg"),
        "{context}"
    );
    let events = &capture.events;
    let event_nodes: Vec<_> = document
        .descendants()
        .filter(|node| node.tag_name().name() == "g" && classes(node).contains(&"ev"))
        .collect();
    assert_eq!(
        event_nodes.len(),
        events.len(),
        "{context}: one <g> per event"
    );
    for (node, event) in event_nodes.iter().zip(events) {
        assert_eq!(
            node.attribute("data-seq"),
            Some(event.seq.to_string().as_str()),
            "{context}"
        );
        let kind_class = format!("k-{}", event.kind.name());
        assert!(classes(node).contains(&kind_class.as_str()), "{context}");
    }
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().map(|event| event.kind.name()).collect();
    for kind in kinds {
        let class = format!("k-{kind}");
        let drawn = event_nodes
            .iter()
            .filter(|node| classes(node).contains(&class.as_str()))
            .count();
        assert_eq!(drawn, count_kind(events, kind), "{context}: {class}");
    }
    // Message lines: one per delivery, one (lost) per loss of a message sent in the window.
    let lines: Vec<_> = document
        .descendants()
        .filter(|node| node.tag_name().name() == "line" && node.has_attribute("data-msg"))
        .collect();
    let delivered_lines = lines
        .iter()
        .filter(|line| !classes(line).contains(&"lost") && !classes(line).contains(&"beyond"))
        .count();
    assert_eq!(
        delivered_lines,
        count_kind(events, "deliver"),
        "{context}: one arrow per delivery"
    );
    for event in events {
        if let EventKind::Deliver { msg_id, msg, .. } = &event.kind {
            let type_class = format!("m-{}", msg.type_name());
            assert!(
                lines.iter().any(|line| {
                    line.attribute("data-msg") == Some(msg_id.to_string().as_str())
                        && classes(line).contains(&type_class.as_str())
                }),
                "{context}: no {type_class} arrow for m{msg_id}"
            );
        }
    }
    let sent_in_window: std::collections::BTreeSet<u64> = events
        .iter()
        .filter_map(|event| match event.kind {
            EventKind::Send { msg_id, .. } => Some(msg_id),
            _ => None,
        })
        .collect();
    let losses = events
        .iter()
        .filter(|event| matches!(event.kind, EventKind::Drop { msg_id, .. } if sent_in_window.contains(&msg_id)))
        .count();
    let lost_lines = lines
        .iter()
        .filter(|line| classes(line).contains(&"lost"))
        .count();
    assert_eq!(lost_lines, losses, "{context}: one lost arrow per loss");
    // Backgrounds of rows and lanes (the legend's samples have no data attributes).
    let rects = |class: &str| {
        document
            .descendants()
            .filter(|node| node.tag_name().name() == "rect" && classes(node).contains(&class))
            .filter(|node| class == "vrow" || node.has_attribute("data-lane"))
            .count()
    };
    assert_eq!(rects("vrow"), count_kind(events, "violation"), "{context}");
    let open_at_start = capture
        .start
        .clients
        .iter()
        .filter(|client| matches!(client.phase, Phase::Inside { .. }))
        .count();
    assert_eq!(
        rects("cs"),
        count_kind(events, "enter") + open_at_start,
        "{context}: one shaded critical section per entry"
    );
}

#[test]
fn svg_parses_as_xml_with_one_element_per_event_and_one_arrow_per_delivery() {
    for file in VARIED {
        let (_, capture, _) = run_captured(&scenario(file), Window::all());
        check_svg(&rendered(RenderFormat::Svg, &capture), &capture, file);
    }
}

/// docs/teaching.md tells students to read the Lamport clock left of each mark: no
/// arrowhead may cover one (reorder-2 row #8 had REPLY m2's head on c2's "3"), nor the first
/// letters of the words right of a mark. Each arrowhead is placed as its marker says (tip,
/// length, width from `refX`, `markerWidth` and the line's stroke width); each label is a
/// box of 6 pixels per character of the 10-pixel monospace font.
#[test]
fn svg_arrowheads_stay_clear_of_the_clock_labels() {
    let stroke_width = regex::Regex::new(r"\.msg\{stroke-width:([0-9.]+)").unwrap();
    for file in VARIED {
        let (_, capture, _) = run_captured(&scenario(file), Window::all());
        let svg = rendered(RenderFormat::Svg, &capture);
        let document = roxmltree::Document::parse(&svg).unwrap();
        let number = |node: &roxmltree::Node, name: &str| -> f64 {
            node.attribute(name).unwrap().parse().unwrap()
        };
        let stroke: f64 = stroke_width
            .captures(&svg)
            .expect("the message lines' stroke width")[1]
            .parse()
            .unwrap();
        // Boxes (left, top, right, bottom) of every clock label, and of the first letters
        // of the words right of each mark.
        let labels: Vec<(f64, f64, f64, f64, String)> = document
            .descendants()
            .filter(|node| node.tag_name().name() == "text")
            .filter_map(|node| {
                let (x, y) = (number(&node, "x"), number(&node, "y"));
                let text = node.text().unwrap_or_default().to_string();
                if classes(&node).contains(&"clk") {
                    Some((x - 6.0 * text.len() as f64 - 1.0, y - 8.0, x, y + 1.0, text))
                } else if classes(&node).contains(&"lbl") {
                    Some((x, y - 8.0, x + 10.0, y + 1.0, text))
                } else {
                    None
                }
            })
            .collect();
        let mut heads = 0;
        for line in document.descendants().filter(|node| {
            classes(node).contains(&"msg")
                && !classes(node).contains(&"lost")
                && node.attribute("data-msg").is_some()
        }) {
            let head_id = line.attribute("marker-end").unwrap();
            let head_id = &head_id["url(#".len()..head_id.len() - 1];
            let marker = document
                .descendants()
                .find(|node| node.attribute("id") == Some(head_id))
                .unwrap();
            let scale = number(&marker, "markerWidth") / 10.0 * stroke;
            let (x1, y1, x2, y2) = (
                number(&line, "x1"),
                number(&line, "y1"),
                number(&line, "x2"),
                number(&line, "y2"),
            );
            let length = ((x2 - x1).powi(2) + (y2 - y1).powi(2)).sqrt();
            let (ux, uy) = ((x2 - x1) / length, (y2 - y1) / length);
            let back = number(&marker, "refX") - 10.0;
            let tip = (x2 - ux * back * scale, y2 - uy * back * scale);
            let base = (tip.0 - ux * 10.0 * scale, tip.1 - uy * 10.0 * scale);
            let half = 5.0 * scale;
            let corners = [
                tip,
                (base.0 - uy * half, base.1 + ux * half),
                (base.0 + uy * half, base.1 - ux * half),
            ];
            let left = corners.iter().map(|c| c.0).fold(f64::MAX, f64::min);
            let right = corners.iter().map(|c| c.0).fold(f64::MIN, f64::max);
            let top = corners.iter().map(|c| c.1).fold(f64::MAX, f64::min);
            let bottom = corners.iter().map(|c| c.1).fold(f64::MIN, f64::max);
            heads += 1;
            for (l, t, r, b, text) in &labels {
                assert!(
                    right <= *l || left >= *r || bottom <= *t || top >= *b,
                    "{file}: the head of message {} covers the label {text:?} at \
                     ({l}, {b})",
                    line.attribute("data-msg").unwrap()
                );
            }
        }
        assert!(heads > 0, "{file}");
    }
}

#[test]
fn svg_marks_the_overlapping_critical_sections_of_the_reordering_violation() {
    let (_, capture, _) = run_captured(&scenario("reorder-2.json"), Window::all());
    let svg = rendered(RenderFormat::Svg, &capture);
    assert_eq!(
        svg.matches("class=\"cs overlap\" data-lane").count(),
        2,
        "{svg}"
    );
    // The REQUEST m0 is sent before the REPLY m2 and delivered after it: the arrows cross.
    let document = roxmltree::Document::parse(&svg).unwrap();
    let arrow = |id: &str| {
        document
            .descendants()
            .find(|node| node.attribute("data-msg") == Some(id))
            .map(|node| {
                let number = |name| node.attribute(name).unwrap().parse::<i64>().unwrap();
                (number("y1"), number("y2"))
            })
            .unwrap()
    };
    let (request_sent, request_delivered) = arrow("0");
    let (reply_sent, reply_delivered) = arrow("2");
    assert!(request_sent < reply_sent && request_delivered > reply_delivered);
}

// ---------------------------------------------------------------------------------------------
// shiviz

/// Checks ShiViz's rules and returns the number of event lines.
fn check_shiviz(log: &str, capture: &Capture, context: &str) -> usize {
    let mut lines = log.lines();
    let pattern = lines.next().expect("the regex line");
    assert_eq!(pattern, shiviz::SHIVIZ_REGEX, "{context}");
    assert_eq!(
        lines.next(),
        Some(""),
        "{context}: the delimiter line is empty"
    );
    let regex = regex::Regex::new(pattern).expect("the regex line compiles");
    let message_id = regex::Regex::new(r"\[m(\d+)\]$").unwrap();
    let mut last: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut at_send: BTreeMap<u64, BTreeMap<String, u64>> = BTreeMap::new();
    let mut count = 0;
    for (line, event) in lines.zip(&capture.events) {
        count += 1;
        let fields = regex
            .captures(line)
            .unwrap_or_else(|| panic!("{context}: the regex does not match {line:?}"));
        let host = fields["host"].to_string();
        let clock: BTreeMap<String, u64> = serde_json::from_str(&fields["clock"])
            .unwrap_or_else(|error| panic!("{context}: clock of {line:?}: {error}"));
        assert_eq!(
            fields["seq"].parse::<u64>().unwrap(),
            event.seq,
            "{context}"
        );
        assert_eq!(&fields["kind"], event.kind.name(), "{context}");
        assert!(clock.values().all(|&value| value >= 1), "{context}: {line}");
        // Own entry: 1 at the host's first event, then exactly one more per event.
        let previous = last.get(&host).cloned().unwrap_or_default();
        let own_before = previous.get(&host).copied().unwrap_or(0);
        assert_eq!(
            clock.get(&host),
            Some(&(own_before + 1)),
            "{context}: {line}"
        );
        // Other entries: unchanged, except that a delivery merges the clock at the send.
        let mut expected = previous.clone();
        expected.insert(host.clone(), own_before + 1);
        if fields["kind"] == *"deliver" {
            let id: u64 = message_id.captures(&fields["event"]).expect("[mN]")[1]
                .parse()
                .unwrap();
            if let Some(sent) = at_send.get(&id) {
                for (other, &value) in sent {
                    let entry = expected.entry(other.clone()).or_insert(0);
                    *entry = (*entry).max(value);
                }
                // The send happened before the delivery.
                assert!(
                    sent.iter()
                        .all(|(other, value)| clock.get(other).is_some_and(|v| v >= value)),
                    "{context}: {line}"
                );
                assert_ne!(sent, &clock, "{context}");
            }
        }
        assert_eq!(clock, expected, "{context}: {line}");
        if fields["kind"] == *"send" {
            let id: u64 = message_id.captures(&fields["event"]).expect("[mN]")[1]
                .parse()
                .unwrap();
            at_send.insert(id, clock.clone());
        }
        last.insert(host, clock);
    }
    // Every host named in a clock has events of its own (ShiViz refuses unknown hosts).
    for clock in last.values() {
        for host in clock.keys() {
            assert!(last.contains_key(host), "{context}: unknown host {host}");
        }
    }
    count
}

#[test]
fn shiviz_log_obeys_shivizs_vector_clock_rules() {
    for file in VARIED {
        let (_, capture, _) = run_captured(&scenario(file), Window::all());
        let log = rendered(RenderFormat::Shiviz, &capture);
        let lines = check_shiviz(&log, &capture, file);
        assert_eq!(lines, capture.events.len(), "{file}: one line per event");
    }
}

// ---------------------------------------------------------------------------------------------
// mermaid

fn check_mermaid(text: &str, capture: &Capture, context: &str) {
    let arrow = regex::Regex::new(r"^    c\d+->>c\d+: \S").unwrap();
    let note = regex::Regex::new(r"^    Note over c\d+(,c\d+)?: \S").unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("sequenceDiagram"), "{context}");
    let mut arrows = 0;
    let mut participants = 0;
    for line in lines {
        if arrow.is_match(line) {
            arrows += 1;
        } else if line.starts_with("    participant c") {
            participants += 1;
        } else {
            assert!(
                note.is_match(line) || line.starts_with("    %% "),
                "{context}: unexpected line {line:?}"
            );
            assert!(!line.contains(';'), "{context}: {line}");
        }
    }
    assert_eq!(
        arrows,
        count_kind(&capture.events, "deliver"),
        "{context}: one arrow per delivered message"
    );
    assert_eq!(participants, capture.info.clients() as usize, "{context}");
    assert!(
        text.contains("cannot show")
            && text.contains("overtaking")
            && text.contains("--format svg"),
        "{context}: the overtaking comment"
    );
}

#[test]
fn mermaid_has_one_arrow_per_delivered_message_and_says_it_cannot_show_overtaking() {
    for file in VARIED {
        let (_, capture, _) = run_captured(&scenario(file), Window::all());
        check_mermaid(&rendered(RenderFormat::Mermaid, &capture), &capture, file);
    }
}

// ---------------------------------------------------------------------------------------------
// html (structure; the browser tests are below)

/// The JSON block of a page.
fn page_data(page: &str) -> serde_json::Value {
    let start_tag = "<script type=\"application/json\" id=\"trace-data\">";
    let start = page.find(start_tag).expect("the data block") + start_tag.len();
    let end = start + page[start..].find("</script>").expect("its end");
    serde_json::from_str(&page[start..end]).expect("the data block is JSON")
}

#[test]
fn html_is_one_self_contained_file_with_the_events_embedded() {
    for file in VARIED {
        let (_, capture, _) = run_captured(&scenario(file), Window::all());
        let page = rendered(RenderFormat::Html, &capture);
        for outside in [
            "<link",
            " src=",
            "@import",
            "url(http",
            "fetch(",
            "XMLHttpRequest",
        ] {
            assert!(!page.contains(outside), "{file}: {outside} in the page");
        }
        let without_namespace = page.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !without_namespace.contains("http://") && !without_namespace.contains("https://"),
            "{file}: a network address in the page"
        );
        let data = page_data(&page);
        assert_eq!(
            data["events"].as_array().unwrap().len(),
            capture.events.len(),
            "{file}"
        );
        let views = data["views"].as_array().unwrap();
        assert_eq!(views.len(), capture.info.clients() as usize, "{file}");
        for fields in views {
            assert_eq!(fields.as_array().unwrap().len(), html::VIEW_FIELDS.len());
        }
    }
}

/// The page and the SVG's tooltips number a violation as the timeline does: the event that
/// revealed it (#14, c1's entry), while the violation itself is row #15.
#[test]
fn html_and_svg_name_the_event_that_revealed_a_violation() {
    let (_, capture, _) = run_captured(&scenario("reorder-2.json"), Window::all());
    let page = page_data(&rendered(RenderFormat::Html, &capture));
    let row = &page["events"][15];
    assert_eq!(row[0], 15);
    assert!(
        row[6]
            .as_str()
            .unwrap()
            .starts_with("VIOLATION of mutual_exclusion at event 14: client 1 entered"),
        "{row}"
    );
    let svg = rendered(RenderFormat::Svg, &capture);
    assert!(
        svg.contains(
            "<title>#15 t=14.162ms c1 clock 5: VIOLATION of mutual_exclusion at event 14:"
        ),
        "{svg}"
    );
}

#[test]
fn html_data_cannot_close_its_script_element() {
    let (_, capture, _) = run_captured(&scenario("default.json"), Window::all());
    let mut capture = capture;
    capture.info.description = Some("</script><script>alert(1)</script> <!-- a & b".into());
    let page = rendered(RenderFormat::Html, &capture);
    assert_eq!(
        page.matches("</script>").count(),
        2,
        "only the two real ones"
    );
    assert!(page.contains("&lt;/script&gt;&lt;script&gt;"));
    assert_eq!(
        page_data(&page)["description"],
        "</script><script>alert(1)</script> <!-- a & b"
    );
}

// ---------------------------------------------------------------------------------------------
// determinism and windows

#[test]
fn every_renderer_gives_the_same_bytes_for_the_same_run() {
    for file in ["default.json", "reorder-2.json", "partition-heal.json"] {
        let scenario = scenario(file);
        let (_, first, _) = run_captured(&scenario, Window::all());
        let (_, second, _) = run_captured(&scenario, Window::all());
        for format in ALL_FORMATS {
            assert_eq!(
                rendered(format, &first),
                rendered(format, &second),
                "{file}: {} is not deterministic",
                format.name()
            );
        }
    }
}

#[test]
fn from_and_to_select_a_window_with_the_state_before_it() {
    let scenario = scenario("default.json");
    let (_, whole, _) = run_captured(&scenario, Window::all());
    let (_, capture, _) = run_captured(&scenario, Window::new(Some(10), Some(30)));
    let seqs: Vec<u64> = capture.events.iter().map(|event| event.seq).collect();
    assert_eq!(seqs, (10..=30).collect::<Vec<_>>());
    assert_eq!((capture.before, capture.after), (10, 44));
    let mut replay = whole.start.clone();
    for event in &whole.events[..10] {
        replay.apply(event);
    }
    assert_eq!(capture.start, replay, "the state before the window");

    let svg = rendered(RenderFormat::Svg, &capture);
    check_svg(&svg, &capture, "window 10..=30");
    // Messages sent before the window come in from its top edge.
    let document = roxmltree::Document::parse(&svg).unwrap();
    let from_above = document
        .descendants()
        .filter(|node| node.has_attribute("data-msg") && node.attribute("y1") == Some("84"))
        .count();
    let sent_before = capture
        .events
        .iter()
        .filter(|event| {
            matches!(event.kind, EventKind::Deliver { msg_id, .. }
                if !capture.events.iter().any(|send| matches!(send.kind, EventKind::Send { msg_id: id, .. } if id == msg_id)))
        })
        .count();
    assert!(sent_before > 0);
    assert_eq!(from_above, sent_before);

    assert_eq!(
        check_shiviz(
            &rendered(RenderFormat::Shiviz, &capture),
            &capture,
            "window"
        ),
        21
    );
    check_mermaid(
        &rendered(RenderFormat::Mermaid, &capture),
        &capture,
        "window",
    );
    let text = rendered(RenderFormat::Text, &capture);
    assert!(text.contains("events 10..=30 of 75"), "{text}");
    assert!(
        text.contains("state before the first event shown:"),
        "{text}"
    );
    let data = page_data(&rendered(RenderFormat::Html, &capture));
    assert_eq!(data["events"].as_array().unwrap().len(), 21);
    assert_eq!(data["events"][0][0], 10);
}

// ---------------------------------------------------------------------------------------------
// the command line

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn render_and_run_render_write_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("reorder.jsonl");
    let output = lamport_ledger(&[
        "run",
        "scenarios/reorder-2.json",
        "--trace",
        path_str(&trace),
        "--render",
        "svg",
        "-o",
        path_str(&dir.path().join("run.svg")),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // Drawing the run changes nothing in what `run` prints.
    let plain = lamport_ledger(&["run", "scenarios/reorder-2.json"]);
    assert_eq!(output.stdout, plain.stdout);
    for format in ALL_FORMATS {
        let target = dir.path().join(format!("render.{}", format.name()));
        let output = lamport_ledger(&[
            "render",
            path_str(&trace),
            "--format",
            format.name(),
            "-o",
            path_str(&target),
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(output.stdout.is_empty());
        assert!(std::fs::metadata(&target).unwrap().len() > 0);
    }
    assert_eq!(
        std::fs::read(dir.path().join("run.svg")).unwrap(),
        std::fs::read(dir.path().join("render.svg")).unwrap()
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Without -o the drawing goes to standard output.
    let output = lamport_ledger(&["render", path_str(&trace), "--format", "mermaid"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("sequenceDiagram\n"));
}

#[test]
fn bad_input_is_one_sentence_and_exit_2_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let output = lamport_ledger(&["run", "--trace", path_str(&trace)]);
    assert_eq!(output.status.code(), Some(0));
    let mut lines: Vec<String> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    lines[3] = "{\"type\":\"event\",\"seq\":2,".to_string();
    let broken = dir.path().join("broken.jsonl");
    std::fs::write(&broken, lines.join("\n") + "\n").unwrap();
    let target = dir.path().join("out.svg");
    // (arguments, what the message names, whether it is ours (one sentence) or clap's)
    let cases: Vec<(Vec<&str>, &str, bool)> = vec![
        (
            vec![
                "render",
                path_str(&broken),
                "--format",
                "svg",
                "-o",
                path_str(&target),
            ],
            "broken.jsonl:4:",
            true,
        ),
        (
            vec![
                "render",
                path_str(&trace),
                "--from",
                "40",
                "--to",
                "30",
                "-o",
                path_str(&target),
            ],
            "--from 40 is after --to 30",
            true,
        ),
        (
            vec![
                "render",
                path_str(&trace),
                "--from",
                "5000",
                "-o",
                path_str(&target),
            ],
            "select no events",
            true,
        ),
        (
            vec!["render", "no/such/trace.jsonl", "-o", path_str(&target)],
            "no/such/trace.jsonl",
            true,
        ),
        (
            vec!["render", path_str(&trace), "--format", "png"],
            "png",
            false,
        ),
        (vec!["run", "--render", "svg"], "--output", false),
    ];
    for (args, expected, ours) in cases {
        let output = lamport_ledger(&args);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
        assert!(message.contains(expected), "{args:?}: {message}");
        if ours {
            assert_eq!(
                message.trim_end().lines().count(),
                1,
                "{args:?}: one sentence: {message}"
            );
            assert!(message.starts_with("lamport-ledger: "), "{message}");
        }
        assert!(!target.exists(), "{args:?} left {}", target.display());
        assert!(!dir.path().join("out.svg.partial").exists());
    }
}

// ---------------------------------------------------------------------------------------------
// the HTML page in headless Chromium

/// The state cells of a dumped page: (client, field) -> text.
fn state_cells(dom: &str) -> BTreeMap<(u32, String), String> {
    let cell = regex::Regex::new(r#"<td data-client="(\d+)" data-field="(\w+)"[^>]*>([^<]*)</td>"#)
        .unwrap();
    cell.captures_iter(dom)
        .map(|found| {
            let text = found[3]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&nbsp;", "\u{a0}")
                .replace("&amp;", "&");
            ((found[1].parse().unwrap(), found[2].to_string()), text)
        })
        .collect()
}

/// Checks that the page loaded without script errors and returns its `data-step`.
fn loaded_step(dom: &str, context: &str) -> usize {
    assert!(
        dom.contains("data-ready=\"yes\""),
        "{context}: the script did not finish"
    );
    assert!(
        !dom.contains("data-errors=\"yes\""),
        "{context}: script errors"
    );
    assert!(
        dom.contains("<pre id=\"errors\"></pre>"),
        "{context}: script errors"
    );
    let step = regex::Regex::new(r#"data-step="(\d+)""#).unwrap();
    step.captures(dom).expect("data-step")[1].parse().unwrap()
}

/// The state the page must show after `step` events of `capture`.
fn expected_cells(capture: &Capture, step: usize) -> BTreeMap<(u32, String), String> {
    let mut replay: Replay = capture.start.clone();
    for event in &capture.events[..step] {
        replay.apply(event);
    }
    let mut cells = BTreeMap::new();
    for id in capture.info.client_ids() {
        for (field, value) in html::state_fields(&replay, id) {
            cells.insert((id.get(), field.to_string()), value);
        }
    }
    cells
}

/// The page's transfers cell follows the transfer a client is making: requested, then
/// committed (or aborted) while the client is still inside, then gone at the release.
#[test]
fn html_transfers_cell_says_requested_committed_or_aborted_until_the_release() {
    let (_, capture, _) = run_captured(&scenario("default.json"), Window::all());
    // default.html#step=33, the step the teaching guide shows: c1 committed block 0 at #30.
    assert_eq!(
        expected_cells(&capture, 33)[&(1, "pending".to_string())],
        "pay 7 to c2 (committed as block 0, inside until it leaves); pay 6 to c3"
    );
    let mut replay: Replay = capture.start.clone();
    let mut seen = BTreeMap::new();
    for event in &capture.events {
        replay.apply(event);
        let Some(node) = event.node else { continue };
        let cell = html::state_fields(&replay, node)
            .into_iter()
            .find(|(field, _)| *field == "pending")
            .unwrap()
            .1;
        let current = cell.split("; pay").next().unwrap_or_default().to_string();
        let expected = match &event.kind {
            EventKind::Request { .. } => "(requested, waiting for the mutex)".to_string(),
            EventKind::Enter { .. } => "(inside the critical section)".to_string(),
            EventKind::Commit { block } => {
                format!(
                    "(committed as block {}, inside until it leaves)",
                    block.index()
                )
            }
            EventKind::Abort { balance, .. } => {
                format!("(aborted, its balance is only {balance}; inside until it leaves)")
            }
            EventKind::Exit { .. } => {
                assert!(!current.contains('('), "#{}: {cell}", event.seq);
                continue;
            }
            _ => continue,
        };
        assert!(current.ends_with(&expected), "#{}: {cell}", event.seq);
        *seen.entry(event.kind.name()).or_insert(0) += 1;
    }
    for kind in ["request", "enter", "commit", "abort"] {
        assert!(
            seen.contains_key(kind),
            "no {kind} in the default run: {seen:?}"
        );
    }
}

#[test]
fn html_steps_through_in_chromium_and_shows_the_rebuilt_state() {
    let Some(chromium) = browser::chromium("html_steps_through_in_chromium") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A window in the middle starts from the rebuilt state of the events before it.
    for (file, window) in [
        ("reorder-2.json", Window::all()),
        ("default.json", Window::all()),
        ("crash-restart-ledger.json", Window::all()),
        ("default.json", Window::new(Some(30), Some(60))),
    ] {
        let (_, capture, _) = run_captured(&scenario(file), window);
        let page_path = dir
            .path()
            .join(format!("{}-{}.html", file, capture.events[0].seq));
        std::fs::write(&page_path, rendered(RenderFormat::Html, &capture)).unwrap();
        let url = browser::file_url(&page_path);
        let n = capture.events.len();
        for step in [0, 1, n / 3, n / 2 + 1, n] {
            let dom = browser::dump_dom(&chromium, &format!("{url}#step={step}"), (1400, 900));
            let context = format!("{file} #step={step}");
            assert_eq!(loaded_step(&dom, &context), step, "{context}");
            let shown = state_cells(&dom);
            assert_eq!(shown, expected_cells(&capture, step), "{context}");
        }
        // #seq=S: up to and including event S.
        let seq = capture.events[n / 2].seq;
        let dom = browser::dump_dom(&chromium, &format!("{url}#seq={seq}"), (1400, 900));
        assert_eq!(loaded_step(&dom, "seq"), n / 2 + 1);
    }
    // The keyboard: step, jump to the next and previous enter, commit, violation.
    let (_, capture, _) = run_captured(&scenario("reorder-2.json"), Window::all());
    let page_path = dir.path().join("keys.html");
    std::fs::write(&page_path, rendered(RenderFormat::Html, &capture)).unwrap();
    let url = browser::file_url(&page_path);
    let row_of = |kind: &str, which: usize| {
        capture
            .events
            .iter()
            .enumerate()
            .filter(|(_, event)| event.kind.name() == kind)
            .nth(which)
            .map(|(row, _)| row + 1)
            .unwrap()
    };
    let n = capture.events.len();
    for (keys, expected) in [
        ("ArrowRight,ArrowRight,ArrowRight,ArrowLeft", 2),
        ("e", row_of("enter", 0)),
        ("e,e", row_of("enter", 1)),
        ("c", row_of("commit", 0)),
        ("v", row_of("violation", 0)),
        ("End,Shift+e", row_of("enter", 1)),
        ("End,Home,Space", 1),
    ] {
        let dom = browser::dump_dom(&chromium, &format!("{url}#step=0&keys={keys}"), (1400, 900));
        assert_eq!(loaded_step(&dom, keys), expected, "keys {keys}");
        assert!(expected <= n);
        assert_eq!(
            state_cells(&dom),
            expected_cells(&capture, expected),
            "{keys}"
        );
    }
}

#[test]
fn html_of_100000_events_loads_and_draws_only_the_rows_on_screen() {
    let Some(chromium) = browser::chromium("html_of_100000_events") else {
        return;
    };
    let (_, capture, _) = run_captured(
        &scenario("long-run-10k.json"),
        Window::new(None, Some(99_999)),
    );
    assert_eq!(capture.events.len(), 100_000);
    let dir = tempfile::tempdir().unwrap();
    let page_path = dir.path().join("long.html");
    std::fs::write(&page_path, rendered(RenderFormat::Html, &capture)).unwrap();
    let url = browser::file_url(&page_path);
    for step in [73_123, 100_000] {
        let dom = browser::dump_dom(&chromium, &format!("{url}#step={step}"), (1400, 900));
        assert_eq!(loaded_step(&dom, "100k"), step);
        let drawn = dom.matches("<g class=\"ev ").count();
        assert!(
            drawn > 10 && drawn < 200,
            "{drawn} events drawn: only the rows on screen should be"
        );
        assert_eq!(
            state_cells(&dom),
            expected_cells(&capture, step),
            "step {step}"
        );
    }
}

#[test]
fn the_pictures_of_the_teaching_guide_exist_and_stay_small() {
    let guide = std::fs::read_to_string(common::root().join("docs/teaching.md")).unwrap();
    let picture = regex::Regex::new(r"\]\((images/[a-z0-9-]+\.png)\)").unwrap();
    let mut pictures = 0;
    for found in picture.captures_iter(&guide) {
        let path = common::root().join("docs").join(&found[1]);
        let bytes =
            std::fs::read(&path).unwrap_or_else(|_| panic!("{} is missing", path.display()));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{}",
            path.display()
        );
        assert!(
            bytes.len() < 300 * 1024,
            "{} is {} bytes",
            path.display(),
            bytes.len()
        );
        pictures += 1;
    }
    assert_eq!(pictures, 4, "the guide shows four pictures");
}
