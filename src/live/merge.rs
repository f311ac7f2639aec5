//! Merging the traces of a live cluster into one trace that `lamport-ledger check` reads.
//!
//! Each run of a node (a *life*) writes its own trace: its events, `t` in microseconds since
//! it started, and in the header's `live` object its node id, incarnation and start time
//! (`epoch_unix_us`). A node that was killed leaves a trace without a summary (and perhaps
//! half a last line): it is read up to its last complete line.
//!
//! The rule (docs/live.md, "Merging traces"):
//!
//! 1. Each node's lives are put one after the other in the order they started. Between two
//!    lives the merged trace gets a `crash` (the earlier life stopped) and a `restart` with
//!    `kept: "nothing"` (the next life starts from nothing in memory; the blocks it read from
//!    its data directory follow as `apply` events, as the node traced them).
//! 2. The nodes' events are interleaved by time (`epoch_unix_us + t`, then node id), except
//!    that a delivery never comes before the send (or `duplicate`) that made its copy: a
//!    delivery whose message has no copy yet waits. So the order is a linear extension of
//!    causality whatever the clocks of the machines say, and each node's own order is kept.
//! 3. `t` becomes microseconds since the earliest start, raised where needed so that it never
//!    decreases; `seq` counts from 0; message ids are renumbered from 0 in the order of their
//!    sends.
//! 4. A message that was never delivered and whose receiver stopped after it was sent gets a
//!    `drop` (reason `crashed`) right after that stop. If nothing is left in flight the
//!    summary says `quiescent`, else `stopped`.
//! 5. The summary is computed as for any trace: counts, each node's final table and head
//!    (replayed from its commit and apply events), and the digest.

mod lives;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::trace::{LineWriter, header_line, live_header};
use crate::protocol::ledger::to_hex;
use crate::protocol::{Amount, ClientId, Ledger};
use crate::trace::encode::{IdMap, Summary};
use crate::trace::{DropReason, Event, EventKind, Kept};
use lives::{Cluster, Life, read_life};

pub use lives::expand;

/// Why a merge failed.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// Traces that cannot be merged, in one sentence.
    #[error("{0}")]
    Input(String),
    /// The merged trace could not be written: kept whole, so that the caller can tell a reader
    /// that went away (`merge … | head`) from a real failure.
    #[error("cannot write the merged trace: {0}")]
    Write(#[source] std::io::Error),
}

/// What was merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeReport {
    /// Lives per node, index `id - 1`.
    pub lives: Vec<usize>,
    /// Files that ended without a summary (the node was killed).
    pub truncated: Vec<String>,
    pub events: u64,
    /// Messages given a `drop` because their receiver stopped.
    pub dropped: u64,
    /// Messages still in flight at the end.
    pub in_flight: u64,
}

/// What the merged header's `live` object lists.
#[derive(Serialize)]
struct MergedLive {
    cluster: String,
    epoch_unix_us: u64,
    merged_from: Vec<MergedFrom>,
}

#[derive(Serialize)]
struct MergedFrom {
    file: String,
    node: ClientId,
    incarnation: u64,
    epoch_unix_us: u64,
    complete: bool,
}

/// Moves every `duplicate` event to right after its message's send, with the send's clock
/// and time (the sender's clock then; both belong to the sender).
fn relocate_duplicates(merged: Vec<Event>) -> Vec<Event> {
    let mut duplicates: BTreeMap<u64, Vec<Event>> = BTreeMap::new();
    let mut rest = Vec::with_capacity(merged.len());
    for event in merged {
        match event.kind {
            EventKind::Duplicate { msg_id } => duplicates.entry(msg_id).or_default().push(event),
            _ => rest.push(event),
        }
    }
    if duplicates.is_empty() {
        return rest;
    }
    let mut out = Vec::with_capacity(rest.len() + duplicates.len());
    for event in rest {
        let moved = match event.kind {
            EventKind::Send { msg_id, .. } => duplicates.remove(&msg_id),
            _ => None,
        };
        let (t_us, clock) = (event.t_us, event.clock);
        out.push(event);
        for mut duplicate in moved.into_iter().flatten() {
            duplicate.t_us = t_us;
            duplicate.clock = clock;
            out.push(duplicate);
        }
    }
    out
}

/// Where the `left` undelivered copies of a message to `to`, sent at `sent_at`, are lost:
/// right after the send if `to` was down then (between a crash and its restart), else right
/// after `to`'s first crash after the send; failing that (a later delivery still needs the
/// copy), after the last event if `to` crashed at all after the send. `None`: the message is
/// still in flight.
fn drop_position(
    merged: &[Event],
    to: ClientId,
    sent_at: usize,
    uses: &[(usize, i64)],
    left: i64,
) -> Option<usize> {
    let stops: Vec<(usize, bool)> = merged
        .iter()
        .enumerate()
        .filter(|(_, event)| event.node == Some(to))
        .filter_map(|(position, event)| match event.kind {
            EventKind::Crash => Some((position, true)),
            EventKind::Restart { .. } => Some((position, false)),
            _ => None,
        })
        .collect();
    let down_at_send = stops
        .iter()
        .rev()
        .find(|&&(position, _)| position < sent_at)
        .is_some_and(|&(_, crash)| crash);
    let crash_after = stops
        .iter()
        .find(|&&(position, crash)| crash && position > sent_at)
        .map(|&(position, _)| position);
    let candidate = if down_at_send {
        Some(sent_at)
    } else {
        crash_after
    }?;
    // Every later use must still find a copy once the dropped ones are gone.
    let mut available = 0i64;
    let fits = uses.iter().all(|&(position, delta)| {
        available += delta;
        available - if position > candidate { left } else { 0 } >= 0
    });
    if fits {
        Some(candidate)
    } else {
        crash_after.map(|_| merged.len() - 1)
    }
}

/// An event of a node's stream with its absolute time (microseconds since the Unix epoch).
struct Item {
    at_us: u64,
    event: Event,
}

/// Merges the node traces in `paths` (files or directories) and writes the merged trace.
pub fn merge_traces(paths: &[PathBuf], out: &mut dyn Write) -> Result<MergeReport, MergeError> {
    let mut lives = Vec::new();
    for file in &expand(paths)? {
        if let Some(life) = read_life(file)? {
            lives.push(life);
        }
    }
    let cluster = Cluster::of(&lives)?;
    lives.sort_by_key(|life| {
        (
            life.live.node,
            life.live.epoch_unix_us,
            life.live.incarnation,
        )
    });
    let epoch_us = lives
        .iter()
        .map(|life| life.live.epoch_unix_us)
        .min()
        .unwrap_or(0);
    let mut report = MergeReport {
        lives: vec![0; cluster.header.clients as usize],
        truncated: lives
            .iter()
            .filter(|life| !life.complete)
            .map(|life| life.shown.clone())
            .collect(),
        events: 0,
        dropped: 0,
        in_flight: 0,
    };
    let streams = node_streams(&lives, cluster.header.clients, &mut report);
    let (merged, end_us) = interleave(streams, epoch_us)?;
    // A message sent again to a restarted receiver was delivered twice, once to each run: the
    // model's `duplicate` adds a copy while the first is in flight, so it goes right after
    // the send.
    let merged = relocate_duplicates(merged);
    let mut events = with_crash_drops(merged, &mut report);
    let merged_live = MergedLive {
        cluster: cluster.name.clone(),
        epoch_unix_us: epoch_us,
        merged_from: lives
            .iter()
            .map(|life| MergedFrom {
                file: life.shown.clone(),
                node: life.live.node,
                incarnation: life.live.incarnation,
                epoch_unix_us: life.live.epoch_unix_us,
                complete: life.complete,
            })
            .collect(),
    };
    write_merged(
        &cluster,
        &merged_live,
        &mut events,
        end_us,
        &mut report,
        out,
    )?;
    Ok(report)
}

/// Rule 1: one stream per node, its lives (sorted by node and start) in order, with a crash
/// and a restart between two of them. Counts each node's lives in `report`.
fn node_streams(lives: &[Life], clients: u32, report: &mut MergeReport) -> Vec<Vec<Item>> {
    let mut streams: Vec<Vec<Item>> = (0..clients).map(|_| Vec::new()).collect();
    for (place, life) in lives.iter().enumerate() {
        let node = life.live.node;
        let slot = node.index();
        report.lives[slot] += 1;
        let stream = &mut streams[slot];
        if !stream.is_empty() || lives[..place].iter().any(|l| l.live.node == node) {
            stream.push(Item {
                at_us: life.live.epoch_unix_us,
                event: Event {
                    seq: 0,
                    t_us: 0,
                    node: Some(node),
                    clock: 0,
                    kind: EventKind::Restart {
                        kept: Kept::Nothing,
                    },
                },
            });
        }
        for event in &life.events {
            stream.push(Item {
                at_us: life.live.epoch_unix_us.saturating_add(event.t_us),
                event: event.clone(),
            });
        }
        let another_life_follows = lives[place + 1..].iter().any(|l| l.live.node == node);
        if another_life_follows {
            let (at_us, clock) = stream.last().map_or((life.live.epoch_unix_us, 0), |item| {
                (item.at_us, item.event.clock)
            });
            stream.push(Item {
                at_us,
                event: Event {
                    seq: 0,
                    t_us: 0,
                    node: Some(node),
                    clock,
                    kind: EventKind::Crash,
                },
            });
        }
    }
    streams
}

/// Rules 2 and 3: interleaves the streams by time, a delivery only after its copy exists;
/// renumbers message ids in the order of their sends and makes `t` microseconds since
/// `epoch_us` that never decrease. Returns the events and the last `t`.
fn interleave(streams: Vec<Vec<Item>>, epoch_us: u64) -> Result<(Vec<Event>, u64), MergeError> {
    let mut heads = vec![0usize; streams.len()];
    let mut copies: BTreeMap<u64, i64> = BTreeMap::new();
    let mut renumbered: BTreeMap<u64, u64> = BTreeMap::new();
    let mut merged: Vec<Event> = Vec::new();
    let mut last_t = 0u64;
    loop {
        let mut best: Option<(u64, ClientId, usize)> = None;
        let mut blocked: Option<(ClientId, u64, ClientId)> = None;
        for (slot, stream) in streams.iter().enumerate() {
            let Some(item) = stream.get(heads[slot]) else {
                continue;
            };
            if let EventKind::Deliver { msg_id, from, .. } = &item.event.kind
                && copies.get(msg_id).copied().unwrap_or(0) <= 0
            {
                blocked.get_or_insert((ClientId::from_index(slot), *msg_id, *from));
                continue;
            }
            let key = (item.at_us, ClientId::from_index(slot), slot);
            if best.is_none_or(|b| (key.0, key.1) < (b.0, b.1)) {
                best = Some(key);
            }
        }
        let Some((at_us, _, slot)) = best else {
            if let Some((node, msg_id, from)) = blocked {
                return Err(MergeError::Input(format!(
                    "node {node}'s trace delivers message {msg_id} from node {from}, which none \
                     of the traces sends: merge needs the traces of every node and every run of \
                     it"
                )));
            }
            break;
        };
        let mut event = streams[slot][heads[slot]].event.clone();
        heads[slot] += 1;
        renumber(&mut event, &mut copies, &mut renumbered)?;
        last_t = last_t.max(at_us.saturating_sub(epoch_us));
        event.t_us = last_t;
        merged.push(event);
    }
    Ok((merged, last_t))
}

/// Counts the copies of `event`'s message in flight and gives it its new id.
fn renumber(
    event: &mut Event,
    copies: &mut BTreeMap<u64, i64>,
    renumbered: &mut BTreeMap<u64, u64>,
) -> Result<(), MergeError> {
    let node = event.node;
    match &mut event.kind {
        EventKind::Send { msg_id, .. } => {
            if copies.insert(*msg_id, 1).is_some() {
                return Err(MergeError::Input(format!(
                    "message id {msg_id} is sent twice (by node {node:?}): are two traces of the \
                     same run given, or do two nodes share an id?"
                )));
            }
            let new_id = renumbered.len() as u64;
            renumbered.insert(*msg_id, new_id);
            *msg_id = new_id;
        }
        EventKind::Duplicate { msg_id } => {
            *copies.entry(*msg_id).or_insert(0) += 1;
            if let Some(&new_id) = renumbered.get(msg_id) {
                *msg_id = new_id;
            }
        }
        EventKind::Deliver { msg_id, .. } | EventKind::Drop { msg_id, .. } => {
            *copies.entry(*msg_id).or_insert(0) -= 1;
            if let Some(&new_id) = renumbered.get(msg_id) {
                *msg_id = new_id;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Rule 4: a `drop` for every copy a stopped receiver never got, right after its stop;
/// counts them, and the copies still in flight, in `report`.
fn with_crash_drops(merged: Vec<Event>, report: &mut MergeReport) -> Vec<Event> {
    // New id -> (receiver, position of the send), and the positions of the events that add
    // (+1) or use (-1) a copy.
    let mut sends: BTreeMap<u64, (ClientId, usize)> = BTreeMap::new();
    let mut uses: BTreeMap<u64, Vec<(usize, i64)>> = BTreeMap::new();
    for (position, event) in merged.iter().enumerate() {
        let (msg_id, delta) = match event.kind {
            EventKind::Send { msg_id, to, .. } => {
                sends.insert(msg_id, (to, position));
                (msg_id, 1)
            }
            EventKind::Duplicate { msg_id } => (msg_id, 1),
            EventKind::Deliver { msg_id, .. } | EventKind::Drop { msg_id, .. } => (msg_id, -1),
            _ => continue,
        };
        uses.entry(msg_id).or_default().push((position, delta));
    }
    let mut inserts: BTreeMap<usize, Vec<Event>> = BTreeMap::new();
    for (&new_id, &(to, sent_at)) in &sends {
        let left: i64 = uses[&new_id].iter().map(|&(_, delta)| delta).sum();
        if left <= 0 {
            continue;
        }
        match drop_position(&merged, to, sent_at, &uses[&new_id], left) {
            Some(position) => {
                let clock = merged[..=position]
                    .iter()
                    .rev()
                    .find(|event| event.node == Some(to))
                    .map_or(0, |event| event.clock);
                let t_us = merged[position].t_us;
                for _ in 0..left {
                    inserts.entry(position).or_default().push(Event {
                        seq: 0,
                        t_us,
                        node: Some(to),
                        clock,
                        kind: EventKind::Drop {
                            msg_id: new_id,
                            reason: DropReason::Crashed,
                        },
                    });
                    report.dropped += 1;
                }
            }
            None => report.in_flight += left as u64,
        }
    }
    let mut events = Vec::with_capacity(merged.len() + report.dropped as usize);
    for (position, event) in merged.into_iter().enumerate() {
        events.push(event);
        if let Some(drops) = inserts.remove(&position) {
            events.extend(drops);
        }
    }
    events
}

/// Rules 3 and 5: numbers the events and writes the header, the events and the summary
/// (each node's table and head replayed from its commit and apply events).
fn write_merged(
    cluster: &Cluster,
    merged_live: &MergedLive,
    events: &mut [Event],
    end_us: u64,
    report: &mut MergeReport,
    out: &mut dyn Write,
) -> Result<(), MergeError> {
    let initial: Vec<Amount> = cluster.header.initial_balances.clone();
    let mut ledgers: Vec<Ledger> = (0..cluster.header.clients)
        .map(|_| Ledger::new(initial.clone()))
        .collect();
    let (mut committed, mut aborted, mut sent) = (0u64, 0u64, 0u64);
    let write_error = MergeError::Write;
    let merged_header = live_header(
        &cluster.name,
        initial.clone(),
        cluster.protocol.name(),
        cluster.header.cs_us.unwrap_or(0),
    );
    let mut writer = LineWriter::new(out);
    writer
        .raw_line(&header_line(&merged_header, merged_live))
        .map_err(write_error)?;
    for (seq, event) in events.iter_mut().enumerate() {
        event.seq = seq as u64;
        let slot = event.node.map(|node| node.index());
        match (&event.kind, slot) {
            (EventKind::Commit { block } | EventKind::Apply { block }, Some(slot)) => {
                if matches!(event.kind, EventKind::Commit { .. }) {
                    committed += 1;
                }
                // A block that does not extend the ledger is the checker's to report.
                let _ = ledgers[slot].append(Arc::clone(block));
            }
            (
                EventKind::Restart {
                    kept: Kept::Nothing,
                },
                Some(slot),
            ) => {
                ledgers[slot] = Ledger::new(initial.clone());
            }
            (EventKind::Abort { .. }, _) => aborted += 1,
            (EventKind::Send { .. }, _) => sent += 1,
            _ => {}
        }
        writer.event(event).map_err(write_error)?;
    }
    report.events = events.len() as u64;
    let mut summary = Summary {
        line_type: "summary",
        events: report.events,
        committed,
        aborted,
        messages_sent: sent,
        end: if report.in_flight == 0 {
            "quiescent"
        } else {
            "stopped"
        },
        end_us,
        violations: Vec::new(),
        final_balances: IdMap(
            ledgers
                .iter()
                .map(|ledger| IdMap(ledger.table().to_vec()))
                .collect(),
        ),
        heads: IdMap(ledgers.iter().map(|l| to_hex(&l.head_hash())).collect()),
        digest: String::new(),
    };
    writer.finish(&mut summary).map_err(write_error)?;
    Ok(())
}
