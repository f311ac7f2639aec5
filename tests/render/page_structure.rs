//! What the page embeds and prints, without a browser: the text view's explanations, the
//! header's event numbers, a legend of what the run has.

use super::*;
use html_structure::page_data;

/// The explanation lines of the text view, by the seq of the event they follow.
fn text_notes(text: &str) -> BTreeMap<u64, Vec<String>> {
    let event_line = regex::Regex::new(r"^\s+#(\d+)\s").unwrap();
    let mut notes: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut current = None;
    let mut in_timeline = false;
    for line in text.lines() {
        if line.trim_start().starts_with("seq ") {
            in_timeline = true;
            continue;
        }
        if !in_timeline {
            continue;
        }
        if line.is_empty() {
            break;
        }
        if let Some(found) = event_line.captures(line) {
            current = Some(found[1].parse().unwrap());
        } else if let Some(seq) = current {
            notes.entry(seq).or_default().push(line.trim().to_string());
        }
    }
    notes
}

#[test]
fn page_has_every_explanation_of_the_text_view_at_its_event() {
    let mut total = 0;
    for file in VARIED
        .iter()
        .chain(&["contention-5.json", "crash-restart-nothing.json"])
    {
        let (_, capture, _) = run_captured(&scenario(file), Window::all());
        let text = text_notes(&rendered(RenderFormat::Text, &capture));
        let data = page_data(&rendered(RenderFormat::Html, &capture));
        let mut page: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for entry in data["notes"].as_array().unwrap() {
            let row = entry[0].as_u64().unwrap() as usize;
            let notes = entry[1]
                .as_array()
                .unwrap()
                .iter()
                .map(|note| note.as_str().unwrap().to_string())
                .collect();
            page.insert(capture.events[row].seq, notes);
        }
        assert_eq!(page, text, "{file}");
        total += text.len();
    }
    assert!(total > 50, "only {total} explained events");
}

#[test]
fn page_header_names_events_by_their_numbers() {
    let (_, capture, _) = run_captured(&scenario("reorder-2.json"), Window::all());
    let page = rendered(RenderFormat::Html, &capture);
    assert!(page.contains("<p class=\"range\">18 events, #0 to #17</p>"));
    assert!(!page.contains("..="));
    let (_, capture, _) = run_captured(&scenario("default.json"), Window::new(Some(10), Some(30)));
    let page = rendered(RenderFormat::Html, &capture);
    assert!(
        page.contains("<p class=\"range\">21 events, #10 to #30, of the run&#39;s 75</p>"),
        "{page}"
    );
}

/// The words of a legend: the text from `start` to `end` without its tags.
fn legend_words(drawing: &str, start: &str, end: &str) -> String {
    let from = drawing.find(start).expect("a legend");
    let rest = &drawing[from..];
    let to = rest.find(end).expect("the legend's end");
    let tags = regex::Regex::new(r"<[^>]*>").unwrap();
    tags.replace_all(&rest[..to], " ").to_string()
}

#[test]
fn the_legend_lists_only_what_the_run_has() {
    for (file, has, has_not) in [
        (
            "default.json",
            &["REQUEST", "REPLY", "RELEASE", "critical section"][..],
            &["UPDATE", "overlap", "lost", "crashed"][..],
        ),
        (
            "reorder-2.json",
            &["REQUEST", "REPLY", "overlap"],
            &["RELEASE", "lost", "crashed"],
        ),
        ("loss-lamport.json", &["lost"], &["crashed", "overlap"]),
        ("crash-restart-ledger.json", &["crashed"], &["overlap"]),
        ("fifo-update-ack.json", &["UPDATE", "UPDATED"], &["lost"]),
    ] {
        let (_, capture, _) = run_captured(&scenario(file), Window::all());
        let page = rendered(RenderFormat::Html, &capture);
        let svg = rendered(RenderFormat::Svg, &capture);
        for legend in [
            legend_words(&page, "<svg class=\"legendbar\"", "</svg>"),
            legend_words(&svg, "<text class=\"title\"", "<text class=\"seq\""),
        ] {
            let words: Vec<&str> = legend.split_whitespace().collect();
            let joined = words.join(" ");
            for word in has {
                assert!(joined.contains(word), "{file}: no {word} in {joined}");
            }
            for word in has_not {
                assert!(
                    !words.contains(word) && !joined.contains(&format!(" {word} ")),
                    "{file}: {word} in {joined}"
                );
            }
        }
    }
}

#[test]
fn client_lists_name_runs_of_ids_as_ranges() {
    use lamport_ledger::protocol::ClientId;
    use lamport_ledger::render::state::client_ranges;
    let ids = |list: &[u32]| list.iter().map(|&id| ClientId::new(id)).collect::<Vec<_>>();
    assert_eq!(client_ranges(&ids(&[2])), "c2");
    assert_eq!(client_ranges(&ids(&[2, 3])), "c2, c3");
    assert_eq!(client_ranges(&ids(&[2, 3, 4, 5, 7])), "c2–c5, c7");
    assert_eq!(
        client_ranges(&ids(&[1, 3, 4, 5, 6, 9, 10])),
        "c1, c3–c6, c9, c10"
    );
    assert_eq!(client_ranges(&[]), "");
}

/// With more than four clients, the page's per-client lists name the entries that differ
/// from the common value and then the others; with four or fewer, every entry.
#[test]
fn long_per_client_lists_are_compact_on_the_page() {
    let (_, capture, _) = run_captured(&scenario("contention-8.json"), Window::new(None, Some(0)));
    let fields = html::state_fields(&capture.start, lamport_ledger::protocol::ClientId::new(3));
    let field = |name: &str| {
        fields
            .iter()
            .find(|(field, _)| *field == name)
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(field("table"), "others=10");
    assert_eq!(field("seen"), "others: 0");
    let (_, capture, _) = run_captured(&scenario("default.json"), Window::new(None, Some(0)));
    let fields = html::state_fields(&capture.start, lamport_ledger::protocol::ClientId::new(1));
    assert!(fields.contains(&("table", "c1=10 c2=10 c3=10".to_string())));
    assert!(fields.contains(&("seen", "c2: 0, c3: 0".to_string())));
}
