//! The text timeline: what it explains, and the verdict of a trace file.

use super::*;

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
