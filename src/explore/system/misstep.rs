//! Steps the explorer cannot follow: a node of another implementation that sends to itself or
//! to a client the scenario does not have, names an unknown client in an output, reports a
//! receive that did not happen, commits a block its ledger does not hold, or reports a failure
//! of its own ([`Node::take_failure`](crate::protocol::Node::take_failure)). Such a step is a
//! [`NODE_ERROR`](crate::explore::search::NODE_ERROR) finding, worded here: one sentence
//! naming the client, what it was handling and the offending output. What an invariant judges
//! (a block with a wrong hash, a clock that goes back) stays that invariant's finding.

use super::config::SystemConfig;
use super::effects::decode_input;
use super::node::ExploredNode;
use crate::protocol::node::{
    HandledStep, broken_rule, changed_id, may_send, message_words, node_error,
};
use crate::protocol::{Message, Outbox, Output, OutputKind};

/// The most messages one client step may send: the step tables keep the count in 4 bits.
pub(super) const MAX_SENDS: usize = 15;

/// The sentence of what the explorer cannot follow in the step `input` of `before`, now
/// `after` with `outbox` (`delivered`: the message of a delivery), if anything. Then the
/// outputs the search cannot take (sends to itself, to an unknown client or past
/// [`MAX_SENDS`], a receive without a delivery) are taken out of `outbox`: the search stops
/// at this step, and the rest of the step is judged as any other.
pub(super) fn check<N: ExploredNode>(
    config: &SystemConfig,
    before: &N,
    after: &mut N,
    input: u32,
    delivered: Option<&Message>,
    outbox: &mut Outbox,
) -> Option<String> {
    let id = before.id();
    let clients = config.clients;
    let step = decode_input(config, id, input, delivered);
    let what = odd_output(before, after, step, outbox.as_slice(), clients)?;
    let mut sends = 0;
    let outputs: Vec<Output> = outbox.drain().collect();
    for output in outputs {
        let takes = match &output.kind {
            OutputKind::Send { to, .. } => {
                let takes = may_send(id, *to, clients) && sends < MAX_SENDS;
                sends += usize::from(takes);
                takes
            }
            OutputKind::Received { .. } => delivered.is_some(),
            _ => true,
        };
        if takes {
            outbox.push(output.clock, output.kind);
        }
    }
    Some(node_error(id, step, &what))
}

/// The first output of a step of `before` (now `after`) that the explorer cannot follow, or
/// the failure the node reports itself (`Node::take_failure`), as a clause of [`node_error`]:
/// a rule of the node boundary broken ([`broken_rule`]), or more sends than [`MAX_SENDS`].
fn odd_output<N: ExploredNode>(
    before: &N,
    after: &mut N,
    step: HandledStep<'_>,
    outputs: &[Output],
    clients: u32,
) -> Option<String> {
    let id = before.id();
    if let Some(failure) = after.take_failure() {
        return Some(format!("failed: {failure}"));
    }
    if let Some(changed) = changed_id(id, after.id()) {
        return Some(changed);
    }
    let delivered_from = step.delivered_from();
    if let Some(broken) = broken_rule(id, clients, delivered_from, outputs, after.ledger()) {
        return Some(broken);
    }
    let mut sends = outputs.iter().filter_map(|output| match &output.kind {
        OutputKind::Send { to, msg } => Some((*to, msg)),
        _ => None,
    });
    let (to, msg) = sends.nth(MAX_SENDS)?;
    Some(format!(
        "sent {} to client {to}, past {MAX_SENDS} messages in one step (the most the explorer takes)",
        message_words(msg)
    ))
}
