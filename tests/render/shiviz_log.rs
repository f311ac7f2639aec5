//! The ShiViz log: vector clocks that obey ShiViz's rules.

use super::*;

/// Checks ShiViz's rules and returns the number of event lines.
pub(super) fn check_shiviz(log: &str, capture: &Capture, context: &str) -> usize {
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
