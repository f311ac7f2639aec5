//! The rules a node's outputs keep, which the drivers build on (docs/nodes.md, "A client in
//! Rust"): the simulator and the explorer hold a node of the library user's own to them, so
//! that a node that breaks one is reported in one sentence rather than failing the driver.

use std::fmt;

use crate::protocol::{Amount, ClientId, Ledger, Message, Output, OutputKind};

/// The step a node was taking when it broke a rule, as a sentence names it.
#[derive(Clone, Copy)]
pub enum HandledStep<'m> {
    /// The issue of the client's transfer `number` (from 1): pay `amount` to `to`.
    Transfer {
        number: usize,
        to: ClientId,
        amount: Amount,
    },
    /// A command to read client `of`'s balance.
    BalanceRead {
        of: ClientId,
    },
    Delivery {
        from: ClientId,
        msg: &'m Message,
    },
    Timer,
    Restart {
        keep_ledger: bool,
    },
}

impl HandledStep<'_> {
    /// The sender, when the step is a delivery.
    pub fn delivered_from(self) -> Option<ClientId> {
        match self {
            HandledStep::Delivery { from, .. } => Some(from),
            _ => None,
        }
    }
}

impl fmt::Display for HandledStep<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandledStep::Transfer { number, to, amount } => write!(
                f,
                "the issue of its transfer {number} (pay {amount} to client {to})"
            ),
            HandledStep::BalanceRead { of } => {
                write!(f, "the command to read client {of}'s balance")
            }
            HandledStep::Delivery { from, msg } => {
                write!(
                    f,
                    "the delivery of {} from client {from}",
                    message_words(msg)
                )
            }
            HandledStep::Timer => f.write_str("its LeaveCriticalSection timer"),
            HandledStep::Restart { keep_ledger: true } => {
                f.write_str("a restart keeping its ledger")
            }
            HandledStep::Restart { keep_ledger: false } => f.write_str("a restart keeping nothing"),
        }
    }
}

/// The sentence of a node that broke a rule (or failed) in `step`: `clause` completes
/// "client C, handling S, …".
pub fn node_error(id: ClientId, step: HandledStep<'_>, clause: &str) -> String {
    format!("client {id}, handling {step}, {clause}; see docs/nodes.md, \"A client in Rust\"")
}

/// The clause of a step after which the node's id is not the one it was made with.
pub fn changed_id(made: ClientId, now: ClientId) -> Option<String> {
    (now != made).then(|| format!("changed its id to {now}"))
}

/// Whether a message from `id` may go to `to`: another client of the scenario's `clients`.
pub fn may_send(id: ClientId, to: ClientId, clients: u32) -> bool {
    to != id && to.is_among(clients)
}

/// The first rule the outputs of one step of client `id` break, as a clause that completes
/// "client C, handling S, …", or `None`. `clients`: the scenario's number of clients;
/// `delivered_from`: the sender, when the step is a delivery; `ledger`: the node's ledger
/// after the step.
///
/// The rules: a delivery's outputs start with its `Received` from the sender, and no other
/// output is a `Received`; a message goes to another client of the scenario; an output that
/// names a client names one of the scenario's; a `Committed` or `Applied` names a block the
/// ledger holds.
pub fn broken_rule(
    id: ClientId,
    clients: u32,
    delivered_from: Option<ClientId>,
    outputs: &[Output],
    ledger: &Ledger,
) -> Option<String> {
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
    outputs.iter().enumerate().find_map(|(position, output)| {
        broken_by(id, clients, delivered_from, position, &output.kind, ledger)
    })
}

/// The rule output `kind`, at `position` in its step, breaks, as [`broken_rule`] words it.
fn broken_by(
    id: ClientId,
    clients: u32,
    delivered_from: Option<ClientId>,
    position: usize,
    kind: &OutputKind,
    ledger: &Ledger,
) -> Option<String> {
    match kind {
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
        OutputKind::Send { to, msg } if *to == id => Some(format!(
            "sent {} to itself (client {to}): a node sends only to the other clients",
            message_words(msg)
        )),
        OutputKind::Send { to, msg } => {
            named(*to, clients).map(|unknown| format!("sent {} to {unknown}", message_words(msg)))
        }
        OutputKind::TransferQueued { to, .. } => named_in(*to, "TransferQueued", clients),
        OutputKind::Rejected { from, .. } => named_in(*from, "Rejected", clients),
        OutputKind::BalanceRead { of, .. } => named_in(*of, "BalanceRead", clients),
        OutputKind::Committed { index } => missing_block(ledger, *index, "Committed"),
        OutputKind::Applied { index } => missing_block(ledger, *index, "Applied"),
        _ => None,
    }
}

/// A message in a sentence: its type and timestamp, `REQUEST(ts 1)`.
pub fn message_words(msg: &Message) -> String {
    format!("{}(ts {})", msg.type_name().to_uppercase(), msg.ts())
}

/// Client `id`, if the scenario (of `clients` clients) does not have it, in words.
fn named(id: ClientId, clients: u32) -> Option<String> {
    (!id.is_among(clients)).then(|| {
        format!("client {id}, which the scenario does not have (its clients are 1 to {clients})")
    })
}

fn named_in(id: ClientId, output: &str, clients: u32) -> Option<String> {
    named(id, clients).map(|unknown| format!("output {output} naming {unknown}"))
}

/// An output that names block `index` of the node's ledger, if the ledger does not hold it.
fn missing_block(ledger: &Ledger, index: u64, output: &str) -> Option<String> {
    ledger.block(index).is_none().then(|| {
        format!(
            "output {output} naming block {index}, which its ledger does not hold (its length \
             is {})",
            ledger.len()
        )
    })
}
