//! The HTML page in a real headless Chromium, driven by keys and clicks.

use super::*;

/// The state cells of a dumped page: (client, field) -> text.
pub(super) fn state_cells(dom: &str) -> BTreeMap<(u32, String), String> {
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
pub(super) fn loaded_step(dom: &str, context: &str) -> usize {
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
pub(super) fn expected_cells(capture: &Capture, step: usize) -> BTreeMap<(u32, String), String> {
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
    assert_eq!(pictures, 7, "the guide shows seven pictures");
}
