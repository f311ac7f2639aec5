//! Steps the explorer cannot follow: a node of another implementation that sends to itself or
//! to a client the scenario does not have, names an unknown client in an output, reports a
//! receive that did not happen, commits a block its ledger does not hold, or reports a failure
//! of its own ([`Node::take_failure`](crate::protocol::Node::take_failure)). Such a step is a
//! [`NODE_ERROR`](crate::explore::search::NODE_ERROR) finding, worded here: one sentence
//! naming the client, what it was handling and the offending output. What an invariant judges
//! (a block with a wrong hash, a clock that goes back) stays that invariant's finding.

use super::config::PlannedTransfer;
use super::node::ExploredNode;
use crate::protocol::{ClientId, Message, Output, OutputKind};

/// The most messages one client step may send: the step tables keep the count in 4 bits.
pub(super) const MAX_SENDS: usize = 15;

/// What a client step handled.
#[derive(Clone, Copy)]
pub(super) enum Handled<'a> {
    /// Its transfer `number` (from 0) was issued.
    Issue {
        number: usize,
        transfer: PlannedTransfer,
    },
    Deliver {
        from: ClientId,
        msg: &'a Message,
    },
    Timer,
    Restart {
        keep_ledger: bool,
    },
}

impl Handled<'_> {
    fn words(self) -> String {
        match self {
            Handled::Issue { number, transfer } => format!(
                "the issue of its transfer {} (pay {} to client {})",
                number + 1,
                transfer.amount,
                transfer.to
            ),
            Handled::Deliver { from, msg } => {
                format!("the delivery of {} from client {from}", message_words(msg))
            }
            Handled::Timer => "its LeaveCriticalSection timer".to_string(),
            Handled::Restart { keep_ledger: true } => "a restart keeping its ledger".to_string(),
            Handled::Restart { keep_ledger: false } => "a restart keeping nothing".to_string(),
        }
    }
}

fn message_words(msg: &Message) -> String {
    format!("{}(ts {})", msg.type_name().to_uppercase(), msg.ts())
}

/// The sentence of a node error: client `id`, handling `handled`, `what` (a clause such as
/// "sent REPLY(ts 2) to itself").
pub(super) fn sentence(id: ClientId, handled: Handled<'_>, what: &str) -> String {
    format!("client {id}, handling {}, {what}", handled.words())
}

/// What is wrong with a send from `id` to `to` in a system of `clients`, if anything.
pub(super) fn bad_send(id: ClientId, to: ClientId, msg: &Message, clients: u32) -> Option<String> {
    let sent = format!("sent {} to", message_words(msg));
    if to == id {
        Some(format!(
            "{sent} itself (client {to}): a node sends only to the other clients"
        ))
    } else if !to.is_among(clients) {
        Some(format!("{sent} {}", unknown(to, clients)))
    } else {
        None
    }
}

/// The clause for a send past [`MAX_SENDS`].
pub(super) fn too_many_sends() -> String {
    format!("sent more than {MAX_SENDS} messages in one step, more than the explorer takes")
}

fn unknown(id: ClientId, clients: u32) -> String {
    format!("client {id}, which the scenario does not have (its clients are 1 to {clients})")
}

/// The first output of a step of `before` (now `after`) that the explorer cannot follow, or
/// the failure the node reports itself (`Node::take_failure`), as a clause of [`sentence`];
/// sends are judged by [`bad_send`] in the same order. Only for nodes that are not
/// [`ExploredNode::TRUSTED`].
pub(super) fn odd_output<N: ExploredNode>(
    before: &N,
    after: &mut N,
    handled: Handled<'_>,
    outputs: &[Output],
    clients: u32,
) -> Option<String> {
    let id = before.id();
    if let Some(failure) = after.take_failure() {
        return Some(format!("failed: {failure}"));
    }
    if after.id() != id {
        return Some(format!("changed its id to {}", after.id()));
    }
    let delivered_from = match handled {
        Handled::Deliver { from, .. } => Some(from),
        _ => None,
    };
    if delivered_from.is_some()
        && !matches!(
            outputs.first(),
            Some(Output {
                kind: OutputKind::Received { .. },
                ..
            })
        )
    {
        return Some(
            "did not output Received first (the first output of a delivery is its receive)"
                .to_string(),
        );
    }
    for (position, output) in outputs.iter().enumerate() {
        let what = match &output.kind {
            OutputKind::Received { from } => match delivered_from {
                None => Some(format!(
                    "output Received (from client {from}) though no message was delivered"
                )),
                Some(_) if position > 0 => {
                    Some("output Received twice (a delivery has one receive)".to_string())
                }
                Some(sender) if *from != sender => Some(format!(
                    "output Received from client {from} for a message from client {sender}"
                )),
                Some(_) => None,
            },
            OutputKind::Send { to, msg } => bad_send(id, *to, msg, clients),
            OutputKind::TransferQueued { to, .. } => named(*to, "TransferQueued", clients),
            OutputKind::Rejected { from, .. } => named(*from, "Rejected", clients),
            OutputKind::BalanceRead { of, .. } => named(*of, "BalanceRead", clients),
            OutputKind::Committed { index } => missing_block(after, *index, "Committed"),
            OutputKind::Applied { index } => missing_block(after, *index, "Applied"),
            _ => None,
        };
        if what.is_some() {
            return what;
        }
    }
    None
}

/// An output that names client `id`, if the scenario does not have it.
fn named(id: ClientId, output: &str, clients: u32) -> Option<String> {
    (!id.is_among(clients)).then(|| format!("output {output} naming {}", unknown(id, clients)))
}

/// An output that names block `index` of the node's ledger, if the ledger does not hold it
/// (the trace reads the block from there).
fn missing_block<N: ExploredNode>(after: &N, index: u64, output: &str) -> Option<String> {
    let ledger = after.ledger();
    ledger.block(index).is_none().then(|| {
        format!(
            "output {output} naming block {index}, which its ledger does not hold (its length \
             is {})",
            ledger.len()
        )
    })
}
