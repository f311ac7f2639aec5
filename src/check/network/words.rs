//! The sentences of the network check: its events in words, and why a copy cannot arrive
//! when it does.

use std::collections::BTreeMap;

use super::header::partition_words;
use super::{Decided, Sent};
use crate::check::history::format_time;
use crate::check::replay::describe;
use crate::protocol::ClientId;
use crate::trace::{Event, EventKind};

/// The event, in words; `messages` names the links of the messages it drops or duplicates.
pub(super) fn describe_event(event: &Event, messages: &BTreeMap<u64, Sent>) -> String {
    let link = |msg_id: &u64| match messages.get(msg_id) {
        Some(sent) => format!(
            "m{msg_id} (client {}'s message to client {})",
            sent.from, sent.to
        ),
        None => format!("m{msg_id}"),
    };
    match &event.kind {
        EventKind::Drop { msg_id, reason } => {
            format!("the drop of {} for `{}`", link(msg_id), reason.name())
        }
        EventKind::Duplicate { msg_id } => format!("the duplicate of {}", link(msg_id)),
        EventKind::Partition { groups, direction } => format!(
            "{} at t={}",
            partition_words(groups, *direction),
            format_time(event.t_us)
        ),
        EventKind::Heal { groups, direction } => format!(
            "the heal of {} at t={}",
            partition_words(groups, *direction),
            format_time(event.t_us)
        ),
        kind => match event.node {
            Some(node) => describe(node, event.clock, kind),
            None => format!("a `{}` event", kind.name()),
        },
    }
}

/// Why a copy of `msg_id` cannot arrive at `t_us`, if it cannot: the header fixes its delay
/// (by its link's latency, or its pin), and a FIFO link may hold it back until
/// `held_until_us`, when the copy before it arrived.
pub(super) fn untimely_words(
    msg_id: u64,
    sent: &Sent,
    t_us: u64,
    held_until_us: Option<u64>,
) -> Option<String> {
    let delay = match sent.decided {
        Decided::Drawn(link) => link.delay,
        Decided::Pinned { delay, .. } => delay,
        Decided::Cut(..) | Decided::OnTrust => return None,
    };
    let earliest_us = sent.sent_us.saturating_add(delay.min_us);
    let latest_us = sent.sent_us.saturating_add(delay.max_us);
    let too_early = t_us < earliest_us;
    let too_late = t_us > latest_us && held_until_us != Some(t_us);
    // Every arrival comes here: the words are made only for one that breaks the rule.
    if !too_early && !too_late {
        return None;
    }
    let whose = match sent.decided {
        Decided::Pinned { nth, .. } => format!(
            "the header's `schedule` pins its delay (message {nth} from client {} to client {}) \
             to {}",
            sent.from,
            sent.to,
            delay.words()
        ),
        _ => format!(
            "the header's `network` delays a message from client {} to client {} by {}",
            sent.from,
            sent.to,
            delay.words()
        ),
    };
    let sent_words = format!(
        "m{msg_id} was sent at t={} (event {}), and {whose}",
        format_time(sent.sent_us),
        sent.seq
    );
    Some(match held_until_us {
        _ if too_early => format!(
            "{sent_words}, so it arrives at t={} at the earliest",
            format_time(earliest_us)
        ),
        Some(held_us) => format!(
            "{sent_words}, so it arrives by t={}, or at t={} with the copy before it on this FIFO \
             link",
            format_time(latest_us),
            format_time(held_us)
        ),
        None => format!(
            "{sent_words}, so it arrives by t={}",
            format_time(latest_us)
        ),
    })
}

pub(super) fn node_words(node: Option<ClientId>) -> String {
    node.map_or("null".to_string(), |id| id.to_string())
}
