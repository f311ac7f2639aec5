//! Steps the explorer cannot follow: a node of another implementation that sends to itself or
//! to a client the scenario does not have, names an unknown client in an output, reports a
//! receive that did not happen, commits a block its ledger does not hold, or reports a failure
//! of its own ([`Node::take_failure`](crate::protocol::Node::take_failure)). Such a step is a
//! [`NODE_ERROR`](crate::explore::search::NODE_ERROR) finding, worded here: one sentence
//! naming the client, what it was handling and the offending output. What an invariant judges
//! (a block with a wrong hash, a clock that goes back) stays that invariant's finding.

use super::config::{PlannedTransfer, SystemConfig};
use super::effects::{INPUT_DELIVER, INPUT_ISSUE, INPUT_TIMER};
use super::node::ExploredNode;
use crate::protocol::{ClientId, Message, Outbox, Output, OutputKind};

/// The most messages one client step may send: the step tables keep the count in 4 bits.
pub(super) const MAX_SENDS: usize = 15;

/// What a client step handled.
#[derive(Clone, Copy)]
enum Step<'a> {
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

impl<'a> Step<'a> {
    /// The step of client `id` with input `input` (`delivered`: its message, for a delivery).
    fn of(config: &SystemConfig, id: ClientId, input: u32, delivered: Option<&'a Message>) -> Self {
        let argument = input & ((1 << 28) - 1);
        match input & (3 << 28) {
            INPUT_ISSUE => Step::Issue {
                number: argument as usize,
                transfer: config.transfers[id.index()][argument as usize],
            },
            INPUT_DELIVER => Step::Deliver {
                from: ClientId::new(argument),
                msg: delivered.expect("a delivery has its message"),
            },
            INPUT_TIMER => Step::Timer,
            _ => Step::Restart {
                keep_ledger: argument == 1,
            },
        }
    }

    fn words(self) -> String {
        match self {
            Step::Issue { number, transfer } => format!(
                "the issue of its transfer {} (pay {} to client {})",
                number + 1,
                transfer.amount,
                transfer.to
            ),
            Step::Deliver { from, msg } => {
                format!("the delivery of {} from client {from}", message_words(msg))
            }
            Step::Timer => "its LeaveCriticalSection timer".to_string(),
            Step::Restart { keep_ledger: true } => "a restart keeping its ledger".to_string(),
            Step::Restart { keep_ledger: false } => "a restart keeping nothing".to_string(),
        }
    }
}

fn message_words(msg: &Message) -> String {
    format!("{}(ts {})", msg.type_name().to_uppercase(), msg.ts())
}

/// The sentence of a node error: client `id`, in `step`, `what` (a clause such as "sent
/// REPLY(ts 2) to itself").
fn sentence(id: ClientId, step: Step<'_>, what: &str) -> String {
    format!("client {id}, handling {}, {what}", step.words())
}

/// The clause for a send from `id` to `to` that the explorer cannot take: to itself, to a
/// client the scenario does not have (it has `clients`), or past [`MAX_SENDS`] in one step.
fn bad_send(id: ClientId, to: ClientId, msg: &Message, clients: u32) -> String {
    let sent = format!("sent {} to", message_words(msg));
    if to == id {
        format!("{sent} itself (client {to}): a node sends only to the other clients")
    } else if !to.is_among(clients) {
        format!("{sent} {}", unknown(to, clients))
    } else {
        format!(
            "{sent} client {to}, past {MAX_SENDS} messages in one step (the most the explorer takes)"
        )
    }
}

fn unknown(id: ClientId, clients: u32) -> String {
    format!("client {id}, which the scenario does not have (its clients are 1 to {clients})")
}

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
    let step = Step::of(config, id, input, delivered);
    let what = odd_output(before, after, step, outbox.as_slice(), clients)?;
    let mut sends = 0;
    let outputs: Vec<Output> = outbox.drain().collect();
    for output in outputs {
        let takes = match &output.kind {
            OutputKind::Send { to, .. } => {
                let takes = *to != id && to.is_among(clients) && sends < MAX_SENDS;
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
    Some(sentence(id, step, &what))
}

/// The first output of a step of `before` (now `after`) that the explorer cannot follow, or
/// the failure the node reports itself (`Node::take_failure`), as a clause of [`sentence`].
fn odd_output<N: ExploredNode>(
    before: &N,
    after: &mut N,
    step: Step<'_>,
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
    let delivered_from = match step {
        Step::Deliver { from, .. } => Some(from),
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
    let mut sends = 0;
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
            OutputKind::Send { to, msg } => {
                sends += 1;
                let bad = *to == id || !to.is_among(clients) || sends > MAX_SENDS;
                bad.then(|| bad_send(id, *to, msg, clients))
            }
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
