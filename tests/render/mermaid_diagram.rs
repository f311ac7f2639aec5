//! The Mermaid sequence diagram: one arrow per delivered message.

use super::*;

pub(super) fn check_mermaid(text: &str, capture: &Capture, context: &str) {
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
