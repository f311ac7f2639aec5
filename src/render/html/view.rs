//! One client's state as the page's state table shows it, field by field.

use crate::protocol::ClientId;
use crate::render::Rules;
use crate::render::state::{self, ClientState, Outcome, Phase, Replay};

/// The fields of a client's state the page shows, besides the clock (which comes from the
/// events): the names of the state table's `data-field` attributes.
pub const VIEW_FIELDS: [&str; 7] = [
    "phase", "why", "queue", "seen", "table", "ledger", "pending",
];

/// One client's state as the page shows it, in [`VIEW_FIELDS`] order.
pub(super) fn view_of(replay: &Replay, id: ClientId) -> [String; 7] {
    let Some(client) = replay.client(id) else {
        return Default::default();
    };
    let seen = compact(
        client
            .peers()
            .map(|peer| (format!("c{peer}: "), client.seen(peer)))
            .collect(),
        &|common| format!("others: {common}"),
    );
    let table = compact(
        client
            .balances
            .iter()
            .enumerate()
            .map(|(slot, &balance)| (format!("c{}=", slot + 1), balance))
            .collect(),
        &|common| format!("others={common}"),
    );
    let mut pending: Vec<String> = Vec::new();
    if let Some(current) = client.current {
        pending.push(format!(
            "pay {} to c{} ({})",
            current.amount,
            current.to,
            transfer_status(client)
        ));
    }
    pending.extend(
        client
            .pending
            .iter()
            .map(|transfer| format!("pay {} to c{}", transfer.amount, transfer.to)),
    );
    let queue = if replay.rules() == Rules::Program {
        "(the program's own: not in the trace)".to_string()
    } else if replay.variant().uses_queue() {
        client.queue_text()
    } else if client.deferred.is_empty() {
        "(no queue in this protocol)".to_string()
    } else {
        format!(
            "(no queue) deferred replies to {}",
            state::client_list(&client.deferred)
        )
    };
    [
        client.phase_text(),
        replay.wait_summary(id).unwrap_or_default(),
        queue,
        if seen.is_empty() {
            "-".to_string()
        } else {
            seen.join(", ")
        },
        table.join(" "),
        replay.ledger_text(id),
        if pending.is_empty() {
            "none".to_string()
        } else {
            pending.join("; ")
        },
    ]
}

/// The most entries a per-client list shows one by one; a longer one names only the entries
/// that differ from its most common value, then says what the others hold.
const LISTED_ENTRIES: usize = 4;

/// `name` and value pairs in order, one by one, or (more than [`LISTED_ENTRIES`], and a
/// value most of them share) the ones that differ from that value and then `rest(value)`:
/// `c1=3 c2=17 others=10` for a table of sixteen clients.
fn compact(entries: Vec<(String, u64)>, rest: &dyn Fn(u64) -> String) -> Vec<String> {
    let mut tally = std::collections::BTreeMap::new();
    for (_, value) in &entries {
        *tally.entry(*value).or_insert(0usize) += 1;
    }
    // The most common value; the smallest of equally common ones.
    let (common, times) =
        tally.iter().fold(
            (0, 0),
            |best, (&value, &times)| {
                if times > best.1 { (value, times) } else { best }
            },
        );
    let summarise = entries.len() > LISTED_ENTRIES && times >= 3;
    let mut listed: Vec<String> = entries
        .iter()
        .filter(|(_, value)| !summarise || *value != common)
        .map(|(name, value)| format!("{name}{value}"))
        .collect();
    if summarise {
        listed.push(rest(common));
    }
    listed
}

/// Where the transfer a client is making stands: requested, inside, committed or aborted
/// (until the client leaves, when it is done), and whether the client has crashed since.
fn transfer_status(client: &ClientState) -> String {
    let status = match (client.phase, client.outcome) {
        (Phase::Inside { .. }, Some(Outcome::Committed { index })) => {
            format!("committed as block {index}, inside until it leaves")
        }
        (Phase::Inside { .. }, Some(Outcome::Aborted { balance })) => {
            format!("aborted, its balance is only {balance}; inside until it leaves")
        }
        (Phase::Inside { .. }, None) => "inside the critical section".to_string(),
        (Phase::Waiting { .. } | Phase::Idle, _) => "requested, waiting for the mutex".to_string(),
    };
    if client.up {
        status
    } else {
        format!("{status}; then it crashed")
    }
}

/// What the page's state table shows for client `id` in `replay`: `(data-field, text)` for
/// the clock and every [`VIEW_FIELDS`] entry (for tests that read the page back).
pub fn state_fields(replay: &Replay, id: ClientId) -> Vec<(&'static str, String)> {
    let clock = replay.client(id).map_or(0, |client| client.clock);
    let mut fields = vec![("clock", clock.to_string())];
    fields.extend(VIEW_FIELDS.into_iter().zip(view_of(replay, id)));
    fields
}
