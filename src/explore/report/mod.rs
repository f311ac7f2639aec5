//! The reports of `lamport-ledger explore`: the text for people and the JSON object, for a
//! scenario's clients ([`scenario`]) and for the TLA+ port ([`tla`]). What the lines mean is
//! documented in `docs/explore.md`; the command line only picks the writer.

mod scenario;
mod tla;

use std::io::{self, Write};

pub(crate) use scenario::{TraceNote, write_scenario_json, write_scenario_text};
pub(crate) use tla::{write_tla_json, write_tla_text};

use super::search::{Order, Stats, Stop};
use crate::wording::count;

/// The search line; `reduction` says whether partial-order reduction ran, or why not.
pub(super) fn write_search_line(
    out: &mut dyn Write,
    stats: &Stats,
    reduction: &str,
) -> io::Result<()> {
    writeln!(
        out,
        "search:    {}, {}; partial-order reduction: {reduction}; symmetry reduction: none \
         (client ids break ties between requests, so no two clients are interchangeable); \
         states told apart by their full encoding",
        match stats.order {
            Order::BreadthFirst => "breadth-first",
            Order::DepthFirst => "depth-first",
        },
        count(stats.jobs, "thread")
    )
}

/// The verdict of a search that found nothing. An incomplete one says so on this line too:
/// "OK" alone would read as a proof for the whole state space. `everywhere` ends the sentence
/// of a complete search.
pub(super) fn write_nothing_found(
    out: &mut dyn Write,
    stats: &Stats,
    everywhere: &str,
) -> io::Result<()> {
    if stats.stop == Stop::Exhausted {
        writeln!(
            out,
            "verdict:   OK: no invariant is violated and no deadlock{everywhere}"
        )
    } else {
        writeln!(
            out,
            "verdict:   OK as far as explored: no invariant is violated and no deadlock in the \
             {} explored{}",
            count(stats.distinct, "state"),
            completeness(stats)
        )
    }
}

pub(super) fn completeness(stats: &Stats) -> String {
    match (stats.stop, cut_short(stats.stop)) {
        (_, Some(why)) => format!(" (INCOMPLETE: {why})"),
        (Stop::Exhausted, None) => " (complete: every reachable state explored)".into(),
        (_, None) => " (reached when the search stopped at the first violation)".into(),
    }
}

/// Why a search ended before every reachable state was explored, if a bound ended it.
pub(crate) fn cut_short(stop: Stop) -> Option<&'static str> {
    match stop {
        Stop::Exhausted | Stop::Finding => None,
        Stop::MaxStates => Some("stopped at --max-states"),
        Stop::MaxDepth => Some("states beyond --max-depth not explored"),
        Stop::MaxMemory => Some(
            "stopped before the state store outgrew --max-memory, by default half the \
             machine's memory",
        ),
    }
}

pub(super) fn path_kind(stats: &Stats) -> &'static str {
    match stats.order {
        Order::BreadthFirst => "a shortest path",
        Order::DepthFirst => "depth-first: not necessarily the shortest path",
    }
}

pub(super) fn write_speed(out: &mut dyn Write, stats: &Stats, peak: Option<u64>) -> io::Result<()> {
    let per_second = if stats.seconds > 0.0 {
        stats.distinct as f64 / stats.seconds
    } else {
        0.0
    };
    let peak = peak.map_or_else(
        || "unknown".to_string(),
        |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
    );
    writeln!(
        out,
        "speed:     {:.6} s, {:.0} distinct states/s; peak memory {peak} (state store {:.1} \
         MiB: {:.1} bytes/state, of which {:.1} encoding)",
        stats.seconds,
        per_second,
        stats.store_bytes as f64 / (1024.0 * 1024.0),
        stats.store_bytes as f64 / stats.distinct.max(1) as f64,
        stats.encoding_bytes as f64 / stats.distinct.max(1) as f64
    )
}

/// Why the search ended, as the JSON report names it.
pub(super) fn stop_name(stop: Stop) -> &'static str {
    match stop {
        Stop::Exhausted => "exhausted",
        Stop::Finding => "finding",
        Stop::MaxStates => "max_states",
        Stop::MaxMemory => "max_memory",
        Stop::MaxDepth => "max_depth",
    }
}

pub(super) fn stats_json(stats: &Stats, peak: Option<u64>) -> serde_json::Value {
    serde_json::json!({
        "distinct": stats.distinct,
        "transitions": stats.transitions,
        "depth": stats.depth,
        "complete": stats.stop == Stop::Exhausted,
        "stop": stop_name(stats.stop),
        "seconds": stats.seconds,
        "states_per_s": if stats.seconds > 0.0 { stats.distinct as f64 / stats.seconds } else { 0.0 },
        "peak_rss_kib": peak,
        "store_bytes": stats.store_bytes,
        "encoding_bytes": stats.encoding_bytes,
        "jobs": stats.jobs,
        "symmetry_reduction": false,
    })
}
