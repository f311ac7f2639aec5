//! The step-through page's teaching features in a real headless Chromium, driven by keys and
//! clicks (the `&keys=` actions of the address: key names go to the focused element as a
//! keyboard's would, `click:ID` clicks a control, `event:SEQ` clicks an event of the diagram,
//! `type:TEXT` types into the event box and presses Enter).

use std::path::PathBuf;

use super::in_browser::{expected_cells, loaded_step, state_cells};
use super::*;

/// A page of `capture` written into `dir`, and its `file://` URL.
fn page(dir: &Path, name: &str, capture: &Capture) -> String {
    let path = dir.join(format!("{name}.html"));
    std::fs::write(&path, rendered(RenderFormat::Html, capture)).unwrap();
    browser::file_url(&path)
}

fn dom_at(chromium: &Path, url: &str, address: &str) -> String {
    browser::dump_dom(chromium, &format!("{url}#{address}"), (1400, 900))
}

/// The value of a `<body data-NAME="…">` attribute.
fn body_attribute(dom: &str, name: &str) -> Option<String> {
    let pattern = regex::Regex::new(&format!(r#"<body[^>]* data-{name}="([^"]*)""#)).unwrap();
    pattern.captures(dom).map(|found| found[1].to_string())
}

/// The seqs of the events drawn, in order.
fn drawn_seqs(dom: &str) -> Vec<u64> {
    let event =
        regex::Regex::new(r#"<g class="ev [^"]*" data-row="\d+" data-seq="(\d+)""#).unwrap();
    event
        .captures_iter(dom)
        .map(|found| found[1].parse().unwrap())
        .collect()
}

/// The text of the element with `id` (tags removed, the page's own escaping undone).
fn text_of(dom: &str, id: &str) -> String {
    let element =
        regex::Regex::new(&format!(r#"(?s)<(\w+)[^>]* id="{id}"[^>]*>(.*?)</(\w+)>"#)).unwrap();
    let found = element.captures(dom).unwrap_or_else(|| panic!("no #{id}"));
    let tags = regex::Regex::new(r"<[^>]*>").unwrap();
    tags.replace_all(&found[2], " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// How many drawn elements of the diagram's `class` there are (not the legend's samples,
/// nor the script's text): a critical section has its lane, a violation row its place.
fn drawn(dom: &str, tag: &str, class: &str) -> usize {
    let lane = if class.starts_with("cs") {
        r#" data-lane="\d+""#
    } else {
        ""
    };
    let element =
        regex::Regex::new(&format!(r#"<{tag} class="{class}"{lane} x="-?\d+" y="\d"#)).unwrap();
    element.find_iter(dom).count()
}

fn chromium_or_skip(test: &str) -> Option<PathBuf> {
    browser::chromium(test)
}

#[test]
fn page_reveals_the_run_step_by_step_and_shows_it_all_on_request() {
    let Some(chromium) = chromium_or_skip("page_reveals_the_run_step_by_step") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, capture, _) = run_captured(&scenario("reorder-2.json"), Window::all());
    let url = page(dir.path(), "reorder-2", &capture);
    let n = capture.events.len();
    // At step 0 nothing is drawn: no red row, no red section, no overlap in the legend.
    let dom = dom_at(&chromium, &url, "step=0");
    assert_eq!(loaded_step(&dom, "step 0"), 0);
    assert!(drawn_seqs(&dom).is_empty(), "step 0 draws no event");
    assert_eq!(
        drawn(&dom, "rect", "vrow"),
        0,
        "step 0 shows a violation row"
    );
    assert_eq!(
        drawn(&dom, "rect", "cs overlap"),
        0,
        "step 0 shows an overlap"
    );
    assert!(
        dom.contains("class=\"legend-overlap\" style=\"display: none;\""),
        "the legend names an overlap at step 0"
    );
    // After event #9 (c2 enters): the events up to #9, m0 still on its way, no red yet.
    let dom = dom_at(&chromium, &url, "seq=9");
    assert_eq!(drawn_seqs(&dom), (0..=9).collect::<Vec<u64>>());
    assert!(dom.contains("class=\"msg m-request flight\" data-msg=\"0\""));
    assert_eq!(
        drawn(&dom, "rect", "cs overlap") + drawn(&dom, "rect", "vrow"),
        0
    );
    assert_eq!(drawn(&dom, "rect", "cs"), 1, "c2's section, not c1's");
    // After #14 (c1 enters too): both sections are red and the legend names the overlap.
    let dom = dom_at(&chromium, &url, "seq=14");
    assert_eq!(drawn(&dom, "rect", "cs overlap"), 2);
    assert_eq!(
        drawn(&dom, "rect", "vrow"),
        0,
        "#15's red row is still to come"
    );
    assert!(dom.contains("class=\"legend-overlap\" style=\"\""));
    // The toggle, by key and by clicking the box, draws every event; again hides them.
    for keys in ["r", "click:reveal-all"] {
        let dom = dom_at(&chromium, &url, &format!("step=3&keys={keys}"));
        assert_eq!(
            body_attribute(&dom, "reveal").as_deref(),
            Some("all"),
            "{keys}"
        );
        assert_eq!(drawn_seqs(&dom).len(), n, "{keys}");
        assert_eq!(drawn(&dom, "rect", "vrow"), 2, "{keys}");
        assert_eq!(
            loaded_step(&dom, keys),
            3,
            "showing all does not move the step"
        );
        let dom = dom_at(&chromium, &url, &format!("step=3&keys={keys},{keys}"));
        assert_eq!(drawn_seqs(&dom).len(), 3, "{keys} twice");
    }
}

#[test]
fn page_shows_the_text_views_explanations_at_their_event() {
    let Some(chromium) = chromium_or_skip("page_shows_the_text_views_explanations") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for (file, seq, wanted) in [
        (
            "reorder-2.json",
            9,
            "but the earlier request (1,1) is not in its queue: its REQUEST has not arrived",
        ),
        ("default.json", 32, "stale: c1's own table already says 3"),
        (
            "default.json",
            0,
            "why: its own table gives it 5 (after 3 blocks), less than the 6 it wants to pay",
        ),
    ] {
        let (_, capture, _) = run_captured(&scenario(file), Window::all());
        // 0: the abort, wherever it is.
        let seq = if seq > 0 {
            seq
        } else {
            let abort = capture
                .events
                .iter()
                .find(|event| event.kind.name() == "abort");
            abort.unwrap().seq
        };
        let url = page(dir.path(), file, &capture);
        let dom = dom_at(&chromium, &url, &format!("seq={seq}"));
        let current = text_of(&dom, "current");
        assert!(current.contains(wanted), "{file} #{seq}: {current}");
        // The event before has none of it.
        let dom = dom_at(&chromium, &url, &format!("seq={}", seq - 1));
        assert!(!text_of(&dom, "current").contains(wanted), "{file} #{seq}");
    }
}

#[test]
fn page_lists_the_messages_in_flight() {
    let Some(chromium) = chromium_or_skip("page_lists_the_messages_in_flight") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, capture, _) = run_captured(&scenario("default.json"), Window::all());
    let url = page(dir.path(), "default", &capture);
    let item = regex::Regex::new(r#"<li data-msg="(\d+)">"#).unwrap();
    for step in [0, 3, 12, 27, 40, capture.events.len()] {
        let dom = dom_at(&chromium, &url, &format!("step={step}"));
        let shown: Vec<u64> = item
            .captures_iter(&dom)
            .map(|found| found[1].parse().unwrap())
            .collect();
        assert_eq!(shown, in_flight(&capture.events[..step]), "step {step}");
        assert!(
            text_of(&dom, "inflight-head").contains(&format!("({})", shown.len())),
            "step {step}"
        );
    }
    let dom = dom_at(&chromium, &url, "step=0");
    assert!(text_of(&dom, "inflight").contains("none"));
}

/// The messages sent and neither delivered nor lost by the end of `done`, by id.
fn in_flight(done: &[Event]) -> Vec<u64> {
    let mut flying = std::collections::BTreeSet::new();
    for event in done {
        match &event.kind {
            EventKind::Send { msg_id, .. } => {
                flying.insert(*msg_id);
            }
            EventKind::Deliver { msg_id, .. } | EventKind::Drop { msg_id, .. } => {
                flying.remove(msg_id);
            }
            _ => {}
        }
    }
    flying.into_iter().collect()
}

/// Rows that happened before `row` (`-1`) or after it (`1`) by Lamport's relation: program
/// order on a client, and a message's send before its deliveries.
fn causal_marks(events: &[Event], row: usize) -> Vec<i8> {
    let n = events.len();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut last_on: BTreeMap<u32, usize> = BTreeMap::new();
    let mut send_row: BTreeMap<u64, usize> = BTreeMap::new();
    for (at, event) in events.iter().enumerate() {
        let Some(node) = event.node else { continue };
        if let Some(&before) = last_on.get(&node.get()) {
            edges[before].push(at);
        }
        last_on.insert(node.get(), at);
        match &event.kind {
            EventKind::Send { msg_id, .. } => {
                send_row.insert(*msg_id, at);
            }
            EventKind::Deliver { msg_id, .. } => {
                if let Some(&sent) = send_row.get(msg_id) {
                    edges[sent].push(at);
                }
            }
            _ => {}
        }
    }
    let reaches = |from: usize, to: usize| {
        let mut seen = vec![false; n];
        let mut stack = vec![from];
        while let Some(at) = stack.pop() {
            if at == to {
                return true;
            }
            for &next in &edges[at] {
                if !seen[next] {
                    seen[next] = true;
                    stack.push(next);
                }
            }
        }
        false
    };
    (0..n)
        .map(|other| {
            if other == row {
                0
            } else if reaches(other, row) {
                -1
            } else if reaches(row, other) {
                1
            } else {
                0
            }
        })
        .collect()
}

#[test]
fn clicking_an_event_lights_up_its_causal_past_and_future() {
    let Some(chromium) = chromium_or_skip("clicking_an_event_lights_up") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, capture, _) = run_captured(&scenario("reorder-2.json"), Window::all());
    let url = page(dir.path(), "reorder-2", &capture);
    let n = capture.events.len();
    let cone = regex::Regex::new(r#"data-seq="(\d+)" data-cone="(\w+)""#).unwrap();
    for seq in [3, 9, 12] {
        let dom = dom_at(&chromium, &url, &format!("step={n}&keys=event:{seq}"));
        assert_eq!(body_attribute(&dom, "selected"), Some(seq.to_string()));
        let marks = causal_marks(&capture.events, seq as usize);
        let mut past = Vec::new();
        let mut future = Vec::new();
        for found in cone.captures_iter(&dom) {
            let at: usize = found[1].parse().unwrap();
            match &found[2] {
                "past" => past.push(at),
                "future" => future.push(at),
                _ => {}
            }
        }
        let expected = |sign: i8| -> Vec<usize> {
            (0..n)
                .filter(|&at| marks[at] == sign && capture.events[at].node.is_some())
                .collect()
        };
        assert_eq!(past, expected(-1), "#{seq}: past");
        assert_eq!(future, expected(1), "#{seq}: future");
        // Escape clears the selection.
        let dom = dom_at(
            &chromium,
            &url,
            &format!("step={n}&keys=event:{seq},Escape"),
        );
        assert_eq!(body_attribute(&dom, "selected"), None);
        assert!(cone.find(&dom).is_none(), "#{seq}: still lit after Escape");
    }
    // The page finds two concurrent events whose clocks are ordered, among those shown.
    for (address, limit) in [
        (format!("step={n}&keys=p"), n),
        ("seq=5&keys=click:find-pair".to_string(), 6),
    ] {
        let dom = dom_at(&chromium, &url, &address);
        let pair = body_attribute(&dom, "pair").unwrap_or_else(|| panic!("{address}: no pair"));
        let (a, b) = pair.split_once(',').unwrap();
        let (a, b): (usize, usize) = (a.parse().unwrap(), b.parse().unwrap());
        assert!(a < limit && b < limit, "{address}: {pair} is not shown yet");
        assert_eq!(
            causal_marks(&capture.events, a)[b],
            0,
            "{pair} are not concurrent"
        );
        assert!(
            capture.events[a].clock < capture.events[b].clock,
            "{pair}: the clocks are not ordered"
        );
        assert!(
            text_of(&dom, "causal").contains("are concurrent"),
            "{address}"
        );
    }
}

/// contention-8 with `clients` clients.
fn contention(clients: u32) -> Scenario {
    let path = common::root().join("scenarios/contention-8.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    json["clients"] = clients.into();
    json["name"] = format!("contention-{clients}").into();
    common::scenario_from_json(&format!("contention-{clients}"), json)
}

#[test]
fn page_of_8_and_16_clients_follows_the_current_event_and_stays_short() {
    let Some(chromium) = chromium_or_skip("page_of_8_and_16_clients") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for clients in [8, 16] {
        let (_, capture, _) = run_captured(&contention(clients), Window::new(None, Some(2000)));
        let url = page(dir.path(), &format!("c{clients}"), &capture);
        let data = html_structure::page_data(&rendered(RenderFormat::Html, &capture));
        let (lane0, lane_w) = (
            data["geometry"]["lane0"].as_i64().unwrap(),
            data["geometry"]["lane_w"].as_i64().unwrap(),
        );
        // Steps whose event is on the last lanes, then back on the first.
        let on_lane = |lane: u32, after: usize| {
            (after..capture.events.len())
                .find(|&row| capture.events[row].node.map(|node| node.get()) == Some(lane))
                .unwrap()
                + 1
        };
        let far = on_lane(clients, 40);
        let near = on_lane(1, far);
        // Stepping to an event on the last lane, then typing the number of one on the first.
        for (address, step) in [
            (format!("step={far}"), far),
            (
                format!("step={far}&keys=type:{}", capture.events[near - 1].seq),
                near,
            ),
        ] {
            let dom = dom_at(&chromium, &url, &address);
            assert_eq!(loaded_step(&dom, &address), step, "{clients} clients");
            let lane = capture.events[step - 1].node.unwrap().get() as i64;
            let x = lane0 + (lane - 1) * lane_w;
            let view = body_attribute(&dom, "view-x").unwrap();
            let (left, width) = view.split_once(',').unwrap();
            let (left, width): (i64, i64) = (left.parse().unwrap(), width.parse().unwrap());
            assert!(
                x - 20 >= left && x + 20 <= left + width,
                "{clients} clients, {address}: lane c{lane} at {x} is outside {left}..{}",
                left + width
            );
            assert_eq!(body_attribute(&dom, "transposed").as_deref(), Some("yes"));
            let cells = state_cells(&dom);
            assert_eq!(cells, expected_cells(&capture, step), "{clients} clients");
            for ((client, field), text) in &cells {
                if field == "why" {
                    assert!(
                        text.chars().count() <= 100,
                        "{clients} clients, c{client} {field}: {text}"
                    );
                }
            }
        }
        // Every client that waits says for what, in a line or two, at every step.
        let mut replay = capture.start.clone();
        for event in &capture.events {
            replay.apply(event);
            for id in capture.info.client_ids() {
                let why = html::state_fields(&replay, id)[2].1.clone();
                assert!(why.chars().count() <= 100, "c{id} waits for {why}");
            }
        }
    }
}

#[test]
fn arrow_keys_work_after_typing_an_event_number() {
    let Some(chromium) = chromium_or_skip("arrow_keys_work_after_typing") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, capture, _) = run_captured(&scenario("default.json"), Window::all());
    let url = page(dir.path(), "default", &capture);
    // The box takes event numbers, as the diagram shows them: 9 goes to event #9.
    let dom = dom_at(&chromium, &url, "step=0&keys=type:9");
    assert_eq!(body_attribute(&dom, "seq").as_deref(), Some("9"));
    assert_eq!(loaded_step(&dom, "type"), 10);
    let next_enter = capture
        .events
        .iter()
        .find(|event| event.seq > 10 && event.kind.name() == "enter")
        .unwrap()
        .seq;
    for (keys, seq) in [
        ("type:9,ArrowRight,ArrowRight", 11),
        ("type:20,ArrowLeft", 19),
        ("type:9,j,e", next_enter),
    ] {
        let dom = dom_at(&chromium, &url, &format!("step=0&keys={keys}"));
        assert_eq!(body_attribute(&dom, "seq"), Some(seq.to_string()), "{keys}");
        assert_eq!(
            state_cells(&dom),
            expected_cells(&capture, seq as usize + 1),
            "{keys}"
        );
    }
}

/// The page draws each message as the SVG does (its rows start 76 pixels higher, under no
/// title and legend), so no arrow of the page crosses its own events' labels either.
#[test]
fn page_draws_the_arrows_of_the_svg() {
    let Some(chromium) = chromium_or_skip("page_draws_the_arrows_of_the_svg") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let line =
        regex::Regex::new(r#"<polyline class="msg ([^"]*)" data-msg="(\d+)" points="([^"]*)""#)
            .unwrap();
    for file in ["reorder-2.json", "loss-lamport.json"] {
        let (_, capture, _) = run_captured(&scenario(file), Window::new(None, Some(30)));
        let url = page(dir.path(), file, &capture);
        let dom = dom_at(&chromium, &url, "step=0&keys=r");
        let on_page: Vec<(String, String)> = line
            .captures_iter(&dom)
            .map(|found| (found[2].to_string(), found[3].to_string()))
            .collect();
        let svg = rendered(RenderFormat::Svg, &capture);
        let in_svg: Vec<(String, String)> = line
            .captures_iter(&svg)
            .map(|found| {
                let moved: Vec<String> = found[3]
                    .split_whitespace()
                    .map(|pair| {
                        let (x, y) = pair.split_once(',').unwrap();
                        format!("{x},{}", y.parse::<i64>().unwrap() - 76)
                    })
                    .collect();
                (found[2].to_string(), moved.join(" "))
            })
            .collect();
        assert!(!on_page.is_empty(), "{file}");
        for arrow in &on_page {
            assert!(
                in_svg.contains(arrow),
                "{file}: the page's {arrow:?} is not the SVG's"
            );
        }
    }
}
