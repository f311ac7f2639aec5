//! The report on the exploration of a scenario's clients.

use std::io::{self, Write};
use std::path::Path;

use super::{
    completeness, path_kind, stats_json, write_nothing_found, write_search_line, write_speed,
};
use crate::check::revealing_events;
use crate::explore::replay::{Replayed, ReplayedViolation, describe_step};
use crate::explore::search::Stop;
use crate::explore::settings::{ExpectFrom, ExploreSetup};
use crate::explore::system::{LinkRule, SystemConfig};
use crate::explore::{ShortestCheck, SystemExploration};
use crate::wording::count;

/// Where the trace of the first violation went, for the report's `trace:` line.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TraceNote<'a> {
    /// No trace was asked for.
    None,
    /// On standard output (the report is then on standard error).
    StandardOutput,
    /// Into this file; `program` is how the user starts this program again (`lamport-ledger`,
    /// `cargo run --release --`), for the commands that read the trace.
    File { path: &'a Path, program: &'a str },
}

/// What the search was expected to find, said in words; whether it did; where the
/// expectation comes from.
pub(crate) type Expectation = (String, bool, ExpectFrom);

/// The JSON report: the search's numbers, the interned counts, the violations and the
/// expectation.
pub(crate) fn write_scenario_json(
    out: &mut dyn Write,
    setup: &ExploreSetup,
    exploration: &SystemExploration,
    expectation: Option<&Expectation>,
    peak: Option<u64>,
) -> io::Result<()> {
    let stats = &exploration.result.stats;
    let mut value = stats_json(stats, peak);
    value["scenario"] = setup.source.clone().into();
    value["clients"] = setup.system.clients.into();
    let interned = exploration.model.interned();
    value["client_states"] = interned.client_states.into();
    value["messages"] = interned.messages.into();
    value["client_steps_run"] = interned.client_steps.into();
    value["reduction"] = exploration.reduced.into();
    if let Some(check) = &exploration.shortest {
        value["shortest_check"] = serde_json::json!({
            "distinct": check.stats.distinct,
            "transitions": check.stats.transitions,
            "depth_bound": check.depth_bound,
            "seconds": check.stats.seconds,
            "conclusive": check.conclusive,
            "reduced_steps": check
                .reduced_paths
                .iter()
                .map(|(name, steps)| serde_json::json!({"invariant": name, "steps": steps}))
                .collect::<Vec<_>>(),
        });
    }
    value["violations"] = exploration
        .result
        .found
        .iter()
        .map(|found| {
            serde_json::json!({
                "invariant": found.finding.name,
                "steps": found.path.len(),
                "detail": found.finding.detail,
            })
        })
        .collect::<Vec<_>>()
        .into();
    if let Some((wanted, met, _)) = expectation {
        value["expected"] = wanted.clone().into();
        value["expectation_met"] = (*met).into();
    }
    writeln!(out, "{value}")
}

/// The text report: what was explored, how, the counts and the verdict, with the path to the
/// first violation replayed through the simulator's checker.
pub(crate) fn write_scenario_text(
    out: &mut dyn Write,
    trace: TraceNote,
    setup: &ExploreSetup,
    exploration: &SystemExploration,
    replayed: Option<&Replayed>,
    expectation: Option<&Expectation>,
    peak: Option<u64>,
) -> io::Result<()> {
    let system = &setup.system;
    let stats = &exploration.result.stats;
    writeln!(
        out,
        "explore:   {}: scenario {:?}, {} clients, protocol {}{}",
        setup.source,
        setup.scenario.name,
        system.clients,
        system.variant.name(),
        if system.mutations.list().is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = system.mutations.list().iter().map(|m| m.name()).collect();
            format!(", mutations {}", names.join(", "))
        }
    )?;
    let transfers: Vec<String> = system
        .transfers
        .iter()
        .enumerate()
        .flat_map(|(slot, list)| {
            list.iter()
                .map(move |t| format!("c{} pays {} to c{}", slot + 1, t.amount, t.to))
        })
        .collect();
    writeln!(
        out,
        "work:      {} (each issued at any point, in this order per client)",
        if transfers.is_empty() {
            "no transfers".to_string()
        } else {
            transfers.join(", ")
        }
    )?;
    writeln!(out, "network:   {}", describe_network(system))?;
    for note in &setup.notes {
        writeln!(out, "note:      {note}")?;
    }
    writeln!(
        out,
        "checks:    in every state mutual_exclusion, ledger_agreement (prefix), \
         chain_integrity, conservation, no_overdraft; clock_condition on every step; \
         deadlock (liveness) and equal ledgers where no step is possible"
    )?;
    let reduction = if exploration.reduced {
        "on (stubborn sets, see docs/explore.md; --no-reduce explores every interleaving)"
    } else {
        "off (--no-reduce: every interleaving)"
    };
    write_search_line(out, stats, reduction)?;
    let interned = exploration.model.interned();
    writeln!(
        out,
        "states:    {} distinct, {}; {} and {}; {} run on the real state machines (each \
         remembered)",
        stats.distinct,
        count(stats.transitions, "transition"),
        count(interned.client_states, "distinct client state"),
        count(interned.messages, "distinct message"),
        count(interned.client_steps, "client step")
    )?;
    writeln!(
        out,
        "depth:     {}{}",
        count(stats.depth, "step"),
        completeness(stats)
    )?;
    write_speed(out, stats, peak)?;
    if let Some(check) = &exploration.shortest {
        write_shortest(out, check, exploration)?;
    }
    match exploration.result.found.first() {
        None => write_nothing_found(out, stats, " in any reachable state")?,
        Some(found) => {
            writeln!(
                out,
                "verdict:   VIOLATION of {} after {} ({}): {}",
                found.finding.name,
                count(found.path.len(), "step"),
                match &exploration.shortest {
                    Some(check) if !check.conclusive => {
                        "found with reduction: not known to be the shortest"
                    }
                    _ => path_kind(stats),
                },
                found.finding.detail
            )?;
            if let Some(replayed) = replayed {
                for (index, events) in replayed.steps.iter().enumerate() {
                    writeln!(out, "   {:>3}. {}", index + 1, describe_step(events))?;
                }
                match replayed.violations.first() {
                    Some(first) if first.violation.invariant.name() == found.finding.name => {
                        writeln!(
                            out,
                            "checker:   replayed through the simulator's checker: {} {} (agrees)",
                            first.violation.invariant,
                            where_recorded(first)
                        )?
                    }
                    Some(first) => writeln!(
                        out,
                        "checker:   replayed through the simulator's checker: {} {} (the \
                         explorer's check saw {} first)",
                        first.violation.invariant,
                        where_recorded(first),
                        found.finding.name
                    )?,
                    None => writeln!(
                        out,
                        "checker:   replayed through the simulator's checker: it finds NO \
                         violation on this path (the explorer's state check and the checker \
                         DISAGREE)"
                    )?,
                }
                match trace {
                    TraceNote::None => {}
                    TraceNote::StandardOutput => writeln!(
                        out,
                        "trace:     on standard output ({} events, digest {})",
                        replayed.events, replayed.digest_hex
                    )?,
                    TraceNote::File { path, program } => {
                        let shown = path.display();
                        writeln!(
                            out,
                            "trace:     {shown} ({} events, digest {}): {program} check \
                             {shown}; {program} render {shown} --format html -o path.html",
                            replayed.events, replayed.digest_hex
                        )?;
                    }
                }
            }
            for other in exploration.result.found.iter().skip(1) {
                writeln!(
                    out,
                    "also:      VIOLATION of {} after {}: {}",
                    other.finding.name,
                    count(other.path.len(), "step"),
                    other.finding.detail
                )?;
            }
        }
    }
    if let Some((wanted, met, from)) = expectation {
        let from = match from {
            ExpectFrom::ExploreFile => "the exploration file",
            ExpectFrom::Scenario => "the scenario",
        };
        // Nothing found in a search cut short proves nothing about the states not reached.
        let unproven = exploration.result.found.is_empty()
            && !matches!(stats.stop, Stop::Exhausted | Stop::Finding);
        writeln!(
            out,
            "expected:  {wanted} (from {from}): {}{}",
            if *met { "matched" } else { "NOT matched" },
            if unproven {
                " as far as explored (INCOMPLETE)"
            } else {
                ""
            }
        )?;
    }
    Ok(())
}

/// The full search that followed a reduced one which found something: how many states it
/// visited, and whether the paths shown are the shortest.
fn write_shortest(
    out: &mut dyn Write,
    check: &ShortestCheck,
    exploration: &SystemExploration,
) -> io::Result<()> {
    let bound = check.depth_bound;
    let full = format!(
        "a full search (no reduction) to depth {bound}: {} distinct, {}, {:.6} s",
        check.stats.distinct,
        count(check.stats.transitions, "transition"),
        check.stats.seconds
    );
    if !check.conclusive {
        return writeln!(
            out,
            "shortest:  not known: {full}, stopped at its bound of states before it found \
             as much; the paths shown are the reduced search's (lamport-ledger explore \
             --no-reduce finds the shortest)"
        );
    }
    let shorter: Vec<String> = exploration
        .result
        .found
        .iter()
        .filter_map(|found| {
            let (_, reduced) = check
                .reduced_paths
                .iter()
                .find(|(name, _)| *name == found.finding.name)?;
            (found.path.len() < *reduced).then(|| {
                format!(
                    "{} in {} (the reduced search's path took {reduced})",
                    found.finding.name,
                    count(found.path.len(), "step")
                )
            })
        })
        .collect();
    if shorter.is_empty() {
        writeln!(
            out,
            "shortest:  {full}; it finds no shorter path: the paths shown are shortest"
        )
    } else {
        writeln!(
            out,
            "shortest:  {full}; shorter paths found, shown here: {}",
            shorter.join(", ")
        )
    }
}

fn describe_network(system: &SystemConfig) -> String {
    let links = system.link_list();
    let bag: Vec<String> = links
        .iter()
        .filter(|&&(from, to)| !system.rule(from, to).fifo)
        .map(|(from, to)| format!("{from}->{to}"))
        .collect();
    let mut text = match system.all_fifo() {
        Some(true) | None if bag.is_empty() => "FIFO links".to_string(),
        Some(false) => "bag links (any message in flight may be delivered next)".to_string(),
        _ => format!("FIFO links except {} (bags)", bag.join(", ")),
    };
    let named = |pick: &dyn Fn(LinkRule) -> bool| -> String {
        let chosen: Vec<String> = links
            .iter()
            .filter(|&&(from, to)| pick(system.rule(from, to)))
            .map(|(from, to)| format!("{from}->{to}"))
            .collect();
        if chosen.len() == links.len() {
            "any link".to_string()
        } else {
            chosen.join(", ")
        }
    };
    if system.max_losses > 0 {
        text.push_str(&format!(
            "; up to {} lost on {}",
            count(system.max_losses, "message"),
            named(&|rule| rule.lossy)
        ));
    }
    if system.max_duplicates > 0 {
        text.push_str(&format!(
            "; up to {} duplicated on {}",
            count(system.max_duplicates, "message"),
            named(&|rule| rule.duplicating)
        ));
    }
    for (slot, crashes) in system.crashes.iter().enumerate() {
        for crash in crashes {
            text.push_str(&format!(
                "; c{} may crash{}",
                slot + 1,
                match (crash.restarts, crash.keep_ledger) {
                    (false, _) => " for good".to_string(),
                    (true, true) => " and restart keeping its ledger".to_string(),
                    (true, false) => " and restart with nothing".to_string(),
                }
            ));
        }
    }
    if !system.any_faults() {
        text.push_str("; no loss, duplication or crash");
    }
    text
}

/// "at event 14, recorded as event 15": the event that revealed the violation and its own
/// line in the trace, numbered as `run` and `check` number them.
fn where_recorded(first: &ReplayedViolation) -> String {
    let revealed = revealing_events([(first.seq, first.violation.detail.as_str())]);
    match revealed.first().copied().flatten() {
        Some(event) => format!("at event {event}, recorded as event {}", first.seq),
        None => format!("at the end of the path, recorded as event {}", first.seq),
    }
}
