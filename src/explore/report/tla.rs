//! The report on the TLA+ port, in TLC's terms.

use std::io::{self, Write};

use super::{
    completeness, path_kind, stats_json, write_nothing_found, write_search_line, write_speed,
};
use crate::explore::TlaExploration;
use crate::wording::count;

pub(crate) fn write_tla_text(
    out: &mut dyn Write,
    exploration: &TlaExploration,
    peak: Option<u64>,
) -> io::Result<()> {
    let config = exploration.model.config();
    let stats = &exploration.result.stats;
    writeln!(
        out,
        "model:     LamportMutex.tla (Stephan Merz, tlaplus/Examples), ported: N = {}, \
         maxClock = {}, channels {}",
        config.processes,
        config.max_clock,
        if config.bag {
            "as multisets (bag)"
        } else {
            "FIFO per pair (as in the spec)"
        }
    )?;
    writeln!(
        out,
        "checks:    invariants Mutex and BoundedNetwork (TypeOK holds by construction), \
         deadlock; state constraint ClockConstraint"
    )?;
    write_search_line(
        out,
        stats,
        "none (it applies to scenarios; the port keeps TLC's counts)",
    )?;
    writeln!(
        out,
        "states:    {} distinct, {} generated (TLC's count: the initial state and every \
         successor), {} outside ClockConstraint (generated, not kept)",
        stats.distinct,
        exploration.generated(),
        stats.outside_model
    )?;
    writeln!(
        out,
        "depth:     {} (TLC's convention: states on the longest shortest path; {}){}",
        exploration.tlc_depth(),
        count(stats.depth, "step"),
        completeness(stats)
    )?;
    write_speed(out, stats, peak)?;
    match exploration.result.found.first() {
        None => write_nothing_found(out, stats, ""),
        Some(found) => {
            writeln!(
                out,
                "verdict:   {} is violated after {} ({}): {}",
                found.finding.name,
                count(found.path.len(), "step"),
                path_kind(stats),
                found.finding.detail
            )?;
            let states = exploration
                .model
                .replay(&found.path)
                .expect("a path the search found replays");
            for (index, state) in states.iter().enumerate() {
                let label = match index {
                    0 => "Initial predicate".to_string(),
                    _ => found.path[index - 1].to_string(),
                };
                writeln!(out, "State {}: <{label}>", index + 1)?;
                writeln!(out, "{}", exploration.model.describe(state))?;
            }
            for other in exploration.result.found.iter().skip(1) {
                writeln!(
                    out,
                    "also:      {} after {}: {}",
                    other.finding.name,
                    count(other.path.len(), "step"),
                    other.finding.detail
                )?;
            }
            Ok(())
        }
    }
}

pub(crate) fn write_tla_json(
    out: &mut dyn Write,
    exploration: &TlaExploration,
    peak: Option<u64>,
) -> io::Result<()> {
    let config = exploration.model.config();
    let stats = &exploration.result.stats;
    let mut value = stats_json(stats, peak);
    value["reduction"] = false.into();
    value["model"] = "tlaplus-lamport-mutex".into();
    value["clients"] = config.processes.into();
    value["max_clock"] = config.max_clock.into();
    value["bag"] = config.bag.into();
    value["generated"] = exploration.generated().into();
    value["tlc_depth"] = exploration.tlc_depth().into();
    value["violations"] = exploration
        .result
        .found
        .iter()
        .map(|found| {
            serde_json::json!({
                "invariant": found.finding.name,
                "steps": found.path.len(),
                "path": found.path.iter().map(|step| step.to_string()).collect::<Vec<_>>(),
                "detail": found.finding.detail,
            })
        })
        .collect::<Vec<_>>()
        .into();
    writeln!(out, "{value}")
}
