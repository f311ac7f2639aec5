//! The summary line, checked against every line before it.

use std::io::BufRead;

use sha2::Digest;

use super::wire::{WireSummary, by_id};
use super::{ClaimedViolation, ReadError, TraceReader, TraceSummary};
use crate::base::Invariant;
use crate::protocol::Hash;
use crate::protocol::ledger::short_hex;
use crate::wording::count;

impl<R: BufRead> TraceReader<R> {
    /// Checks the summary line against everything before it, then that nothing follows.
    pub(super) fn finish(&mut self, wire: WireSummary, line_no: u64) -> Result<(), ReadError> {
        let err = |message: String| ReadError::at(line_no, message);
        let missing = |field: &str| err(format!("the summary has no `{field}` field"));
        let digest = wire.digest.ok_or_else(|| missing("digest"))?.0;
        let computed: Hash = self.hasher.clone().finalize().into();
        if digest != computed {
            return Err(err(format!(
                "the summary's digest {}… does not match the SHA-256 of the {} lines before it \
                 ({}…): the trace was changed after it was written",
                short_hex(&digest),
                line_no - 1,
                short_hex(&computed)
            )));
        }
        let clients = self.header.clients;
        let events = wire.events.ok_or_else(|| missing("events"))?;
        let committed = wire.committed.ok_or_else(|| missing("committed"))?;
        let aborted = wire.aborted.ok_or_else(|| missing("aborted"))?;
        let counts = [
            ("events", events, self.next_seq, "event lines"),
            ("committed", committed, self.committed, "commit events"),
            ("aborted", aborted, self.aborted, "abort events"),
        ];
        let sent = wire
            .messages_sent
            .map(|sent| ("messages_sent", sent, self.sends, "send events"));
        for (field, claimed, counted, what) in counts.into_iter().chain(sent) {
            if claimed != counted {
                return Err(err(format!(
                    "the summary says `{field}` is {claimed}, but the trace has {counted} {what}"
                )));
            }
        }
        let violations = wire
            .violations
            .ok_or_else(|| missing("violations"))?
            .into_iter()
            .map(|claim| {
                let invariant = Invariant::ALL
                    .into_iter()
                    .find(|invariant| invariant.name() == claim.invariant)
                    .ok_or_else(|| {
                        err(format!(
                            "the summary lists a violation of {:?}, which is not one of the \
                             invariant names of docs/spec.md section 4",
                            claim.invariant
                        ))
                    })?;
                Ok(ClaimedViolation {
                    invariant,
                    seq: claim.seq,
                    t_us: claim.t,
                    detail: claim.detail.unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, ReadError>>()?;
        self.check_claims(&violations, line_no)?;
        let final_balances = by_id(
            wire.final_balances
                .ok_or_else(|| missing("final_balances"))?,
            clients,
            "final_balances",
            line_no,
        )?
        .into_iter()
        .enumerate()
        .map(|(slot, table)| {
            by_id(
                table,
                clients,
                &format!("final_balances.{}", slot + 1),
                line_no,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
        let heads = by_id(
            wire.heads.ok_or_else(|| missing("heads"))?,
            clients,
            "heads",
            line_no,
        )?
        .into_iter()
        .map(|hash| hash.0)
        .collect();
        self.summary = Some(TraceSummary {
            line: line_no,
            events,
            committed,
            aborted,
            messages_sent: wire.messages_sent,
            end: wire.end,
            end_us: wire.end_us,
            violations,
            final_balances,
            heads,
            digest,
        });
        let mut rest = [0u8; 1];
        if self.input.read(&mut rest)? > 0 {
            return Err(ReadError::at(
                line_no + 1,
                "there is more after the summary line, which must be the last line",
            ));
        }
        Ok(())
    }

    /// The summary's violations must be the violation events, in order.
    fn check_claims(&self, listed: &[ClaimedViolation], line_no: u64) -> Result<(), ReadError> {
        if listed.len() != self.claims.len() {
            return Err(ReadError::at(
                line_no,
                format!(
                    "the summary lists {}, but the trace has {}",
                    count(listed.len(), "violation"),
                    count(self.claims.len(), "violation event")
                ),
            ));
        }
        for (rank, (listed, event)) in listed.iter().zip(&self.claims).enumerate() {
            let same = listed.invariant == event.invariant
                && listed.seq.is_none_or(|seq| Some(seq) == event.seq)
                && listed.t_us.is_none_or(|t| Some(t) == event.t_us)
                && (listed.detail.is_empty() || listed.detail == event.detail);
            if !same {
                return Err(ReadError::at(
                    line_no,
                    format!(
                        "the summary's violation {} ({} at event {}) is not the violation event \
                         at event {} ({})",
                        rank + 1,
                        listed.invariant,
                        listed
                            .seq
                            .map_or_else(|| "?".to_string(), |seq| seq.to_string()),
                        event.seq.unwrap_or_default(),
                        event.invariant
                    ),
                ));
            }
        }
        Ok(())
    }
}
