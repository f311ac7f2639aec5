//! The summary's `end` and `end_us`, held to what the events show. The summary line is not
//! covered by the digest, so anyone can write anything there: each claim is checked against
//! the events (and the header's limits), and one the events contradict makes the trace
//! inconsistent (exit code 2, on the summary's line).

use super::super::history::format_time;
use crate::trace::read::{ReadError, TraceHeader, TraceSummary};

/// The words a run's `end` may be (docs/spec.md section 3).
pub const END_WORDS: [&str; 6] = [
    "quiescent",
    "violation",
    "max_events",
    "max_time",
    "stopped",
    "explored",
];

/// What the events showed, for judging the summary's claims about how the run ended.
#[derive(Clone, Copy, Debug)]
pub struct EndFacts {
    /// Event lines in the trace.
    pub events: u64,
    /// Of them, the `violation` events after the last event of another kind: the run's
    /// closing checks, written once it has stopped (the limits do not count them).
    pub closing_violations: u64,
    /// The time of the last event (0 without events).
    pub last_t_us: u64,
    /// The `seq` of the first event that revealed a safety violation, if any.
    pub first_safety_violation: Option<u64>,
    /// The `seq` of the first event after that one that starts a new step of the run (not the
    /// rest of the step that revealed the violation), if any.
    pub next_step_after_violation: Option<u64>,
    /// Whether a copy of some message is still in flight after the last event.
    pub in_flight: bool,
}

/// Checks `end` and `end_us` against the facts; the error names the summary's line.
pub fn check_end(
    header: &TraceHeader,
    summary: &TraceSummary,
    facts: &EndFacts,
) -> Result<(), ReadError> {
    let inconsistent = |message: String| ReadError::Invalid {
        line: summary.line,
        column: None,
        message,
    };
    if let Some(end_us) = summary.end_us {
        if end_us < facts.last_t_us {
            return Err(inconsistent(format!(
                "the summary says the run ended at t={} (`end_us` {end_us}), before its last \
                 event at t={} ({}us): a run ends after its last event",
                format_time(end_us),
                format_time(facts.last_t_us),
                facts.last_t_us
            )));
        }
        if let Some(limit) = header.max_time_us
            && end_us > limit
        {
            return Err(inconsistent(format!(
                "the summary says the run ended at t={} (`end_us` {end_us}), after the header's \
                 limits.max_time_us ({limit}us), where every run stops",
                format_time(end_us)
            )));
        }
    }
    let Some(end) = summary.end.as_deref() else {
        return Ok(());
    };
    match end {
        "quiescent" | "max_time" => {
            let events_run = facts.events - facts.closing_violations;
            if let Some(limit) = header.max_events
                && events_run >= limit
            {
                return Err(inconsistent(format!(
                    "the summary says the run ended {end}, but it has {events_run} events before \
                     its closing violations, which reaches the header's limits.max_events \
                     ({limit}): such a run ends max_events"
                )));
            }
            if end == "max_time"
                && let (Some(limit), Some(end_us)) = (header.max_time_us, summary.end_us)
                && end_us != limit
            {
                return Err(inconsistent(format!(
                    "the summary says the run ended at its time limit, but `end_us` is {end_us} \
                     and the header's limits.max_time_us is {limit}: a run cut at its limit \
                     ends there"
                )));
            }
        }
        "max_events" => {
            if let Some(limit) = header.max_events
                && facts.events < limit
            {
                return Err(inconsistent(format!(
                    "the summary says the run ended at its event limit, but it has {} events, \
                     fewer than the header's limits.max_events ({limit})",
                    facts.events
                )));
            }
        }
        "violation" => check_violation_end(summary, facts).map_err(inconsistent)?,
        "stopped" => {
            if !header.live {
                return Err(inconsistent(
                    "the summary says the run ended `stopped`, which only the traces of live \
                     nodes say, but the header has no `live` object"
                        .into(),
                ));
            }
            if !facts.in_flight {
                return Err(inconsistent(
                    "the summary says the run ended `stopped`, but no message is left in \
                     flight: a merged live trace with nothing in flight ends quiescent"
                        .into(),
                ));
            }
        }
        "explored" => {}
        other => {
            return Err(inconsistent(format!(
                "the summary's `end` is {other:?}, but a run ends quiescent, violation, \
                 max_events, max_time, stopped or explored"
            )));
        }
    }
    Ok(())
}

/// `end` `violation`: the run stopped at a safety violation, so the events must show one, and
/// nothing may follow the step that revealed it.
fn check_violation_end(summary: &TraceSummary, facts: &EndFacts) -> Result<(), String> {
    let Some(seq) = facts.first_safety_violation else {
        return Err(
            "the summary says the run stopped at a violation, but the checker finds no safety \
             violation in the events: the claim is false, and liveness would go unjudged"
                .into(),
        );
    };
    if let Some(next) = facts.next_step_after_violation {
        return Err(format!(
            "the summary says the run stopped at a violation, but the run went on: the safety \
             violation revealed at event {seq} is followed by event {next}, a new step"
        ));
    }
    if let Some(end_us) = summary.end_us
        && end_us != facts.last_t_us
    {
        return Err(format!(
            "the summary says the run stopped at a violation at t={} (`end_us` {end_us}), but \
             the step that revealed it happened at t={} ({}us)",
            format_time(end_us),
            format_time(facts.last_t_us),
            facts.last_t_us
        ));
    }
    Ok(())
}
