//! The summary line that ends every trace.

use super::RecordedViolation;
use crate::protocol::ledger::to_hex;
use crate::protocol::{Amount, Hash, Node};
use crate::trace::Summary;
use crate::trace::encode::{IdMap, SummaryViolation};

/// What a run counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub events: u64,
    pub committed: u64,
    pub aborted: u64,
    pub messages_sent: u64,
}

/// Each client's final balance table and head hash, in id order, as [`summary`] takes them.
pub fn tables_and_heads<N: Node>(clients: &[N]) -> (Vec<Vec<Amount>>, Vec<Hash>) {
    clients
        .iter()
        .map(|client| {
            (
                client.ledger().table().to_vec(),
                client.ledger().head_hash(),
            )
        })
        .unzip()
}

/// The summary of a run that ended (`end`) at `end_us`, with each client's final balance
/// table and head hash in id order. The digest is filled in by the trace's writer.
pub fn summary(
    end: &'static str,
    end_us: u64,
    counts: Counts,
    violations: &[RecordedViolation],
    final_balances: Vec<Vec<Amount>>,
    heads: &[Hash],
) -> Summary {
    Summary {
        line_type: "summary",
        events: counts.events,
        committed: counts.committed,
        aborted: counts.aborted,
        messages_sent: counts.messages_sent,
        end,
        end_us,
        violations: violations
            .iter()
            .map(|recorded| SummaryViolation {
                invariant: recorded.violation.invariant,
                seq: recorded.seq,
                t: recorded.t_us,
                detail: recorded.violation.detail.clone(),
            })
            .collect(),
        final_balances: IdMap(final_balances.into_iter().map(IdMap).collect()),
        heads: IdMap(heads.iter().map(to_hex).collect()),
        digest: String::new(),
    }
}
