//! The reasons behind each decision of a run, in words, event by event: why a client entered
//! (and which earlier request it could not know of), what it waits for, why it aborted, when a
//! balance read is stale, when a block is held back, and a client's table after a commit. The
//! explained text timeline prints them under each event, and the step-through page shows them
//! at the step they belong to; both take them from [`Explainer`], so the two never disagree.

use crate::protocol::{Block, ClientId};
use crate::trace::{Event, EventKind};
use crate::wording::count;

use super::Rules;
use super::state::Replay;

/// How many clients' balances to list before summarising the rest.
pub(crate) const LISTED_CLIENTS: usize = 16;

/// Walks the events of a window with the state they rebuild, and says what each one means.
#[derive(Clone, Debug)]
pub struct Explainer {
    replay: Replay,
    /// The last wait reason given per client, so an unchanged reason is not repeated.
    last_wait: Vec<Option<String>>,
}

impl Explainer {
    /// Starts from `start`, the state just before the first event to explain.
    pub fn new(start: &Replay) -> Self {
        Explainer {
            last_wait: vec![None; start.clients.len()],
            replay: start.clone(),
        }
    }

    /// The state after the events explained so far.
    pub fn replay(&self) -> &Replay {
        &self.replay
    }

    /// Applies `events[index]` (the events of the window, in order) and returns the
    /// explanations that belong under it, in the order the timeline prints them.
    pub fn explain(&mut self, events: &[Event], index: usize) -> Vec<String> {
        let event = &events[index];
        let mut notes = notes_before(&self.replay, event);
        self.replay.apply(event);
        let Some(node) = event.node else {
            return notes;
        };
        let Some(slot) = node
            .checked_index()
            .filter(|&slot| slot < self.last_wait.len())
        else {
            return notes;
        };
        match &event.kind {
            EventKind::Enter { .. } | EventKind::Exit { .. } | EventKind::Restart { .. } => {
                self.last_wait[slot] = None;
            }
            EventKind::Request { .. } | EventKind::Deliver { .. } | EventKind::Commit { .. } => {
                if !decides_in_step(events, index, node)
                    && let Some(reason) = self.replay.wait_reason(node)
                    && self.last_wait[slot].as_ref() != Some(&reason)
                {
                    notes.push(reason.clone());
                    self.last_wait[slot] = Some(reason);
                }
            }
            _ => {}
        }
        if let EventKind::Commit { .. } = &event.kind
            && let Some(client) = self.replay.client(node)
        {
            notes.push(format!(
                "its table now: {}; ledger {}",
                table_text(&client.balances),
                self.replay.ledger_text(node)
            ));
        }
        notes
    }
}

/// Explanations that need the state just before the event.
fn notes_before(replay: &Replay, event: &Event) -> Vec<String> {
    let Some(node) = event.node else {
        return Vec::new();
    };
    match &event.kind {
        EventKind::Enter { ts } if replay.rules() != Rules::Program => {
            vec![format!("why: {}", replay.entry_reason(node, *ts))]
        }
        EventKind::Abort { amount, .. } => {
            vec![format!("why: {}", replay.abort_reason(node, *amount))]
        }
        EventKind::Balance { of, value } => replay
            .stale_read_note(node, *of, *value)
            .into_iter()
            .collect(),
        EventKind::Deliver { from, msg, .. } => msg
            .block()
            .and_then(|block| held_back_note(replay, node, *from, block))
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// A block that arrives ahead of a gap in the receiver's ledger waits, with no event of its
/// own, until the blocks before it are in (docs/protocol.md); say so at its delivery.
fn held_back_note(
    replay: &Replay,
    node: ClientId,
    from: ClientId,
    block: &Block,
) -> Option<String> {
    let client = replay.client(node)?;
    let length = client.ledger_len;
    let index = block.index();
    if index <= length {
        return None;
    }
    let blocks = |first: u64, last: u64| {
        if first == last {
            format!("block {first}")
        } else {
            format!("blocks {first} to {last}")
        }
    };
    let has = format!(
        "holds c{from}'s block {index} back: its ledger has {}",
        count(length, "block")
    );
    // Blocks it held before a restart that kept nothing: their RELEASEs were delivered
    // before, and no peer sends a block twice.
    let lost_end = client.lost_below.min(index);
    if lost_end > length {
        let lost = blocks(length, lost_end - 1);
        let (verb, pronoun) = if lost_end - 1 == length {
            ("was", "it")
        } else {
            ("were", "them")
        };
        let rest = if lost_end < index {
            format!(
                "; {} (on other links) may still come, but",
                blocks(lost_end, index - 1)
            )
        } else {
            ", so".to_string()
        };
        return Some(format!(
            "{has} since it restarted with nothing; {lost} {verb} lost in that restart and no \
             peer sends {pronoun} again{rest} block {index} waits for blocks that will not come"
        ));
    }
    Some(format!(
        "{has}, and {} (on other links) must be appended first",
        blocks(length, index - 1)
    ))
}

/// Does the step that `events[index]` belongs to go on to an enter or an exit of `node`? A
/// step is the run of events of one client at one time that one input produced: it ends at the
/// next input (a delivery, a command, a crash or restart) or at another client's event.
fn decides_in_step(events: &[Event], index: usize, node: ClientId) -> bool {
    let t_us = events[index].t_us;
    for event in &events[index + 1..] {
        if matches!(event.kind, EventKind::Violation { .. }) {
            continue;
        }
        if event.node != Some(node) || event.t_us != t_us {
            return false;
        }
        match event.kind {
            EventKind::Enter { .. } | EventKind::Exit { .. } => return true,
            EventKind::Deliver { .. }
            | EventKind::Transfer { .. }
            | EventKind::Balance { .. }
            | EventKind::Crash
            | EventKind::Restart { .. } => return false,
            _ => {}
        }
    }
    false
}

/// `c1=3 c2=17 c3=10`, the first [`LISTED_CLIENTS`] of them.
pub(crate) fn table_text(table: &[u64]) -> String {
    let mut text: Vec<String> = table
        .iter()
        .take(LISTED_CLIENTS)
        .enumerate()
        .map(|(slot, balance)| format!("c{}={balance}", slot + 1))
        .collect();
    if table.len() > LISTED_CLIENTS {
        text.push(format!("… ({} more)", table.len() - LISTED_CLIENTS));
    }
    text.join(" ")
}
