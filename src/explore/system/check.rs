//! The checks of a global state: the safety invariants and, where no step is possible,
//! deadlock and equal ledgers.

use std::fmt::Write as _;
use std::sync::Arc;

use super::MAX_CLIENTS;
use super::encoding::Head;
use super::expander::SystemExpander;
use super::intern::{HAS_WORK, INSIDE, LEDGER_SHIFT, PROBLEM};
use super::node::ExploredNode;
use crate::check::Invariant;
use crate::explore::search::Finding;
use crate::protocol::{ClientId, WaitReason};
use crate::wording::count;

impl<N: ExploredNode> SystemExpander<N> {
    pub(super) fn describe_waiter(&self, local: u32) -> String {
        let shared = self.inner.lock();
        let client = &shared.clients[local as usize];
        let id = client.id();
        match client.wait_reason() {
            None => format!("client {id} has transfers queued but never asks for the mutex"),
            Some(reason) => describe_wait(id, &reason),
        }
    }

    /// `global`'s messages are not decoded; `in_flight` says whether there are any.
    pub(super) fn check_global(&mut self, global: &Head, in_flight: bool) -> Option<Finding> {
        let n = global.n;
        let mut summaries = [0; MAX_CLIENTS];
        for (summary, &local) in summaries.iter_mut().zip(global.locals()) {
            *summary = self.summary(local);
        }
        // The common case, from one word per client: nothing is wrong and a message is in
        // flight. Anything else takes the full check below.
        if in_flight {
            let mut inside = 0;
            let mut suspect = false;
            for (client, &summary) in summaries[..n].iter().enumerate() {
                inside += usize::from(summary & INSIDE != 0 && !global.down(client));
                suspect |= summary & PROBLEM != 0;
            }
            for a in 0..n {
                let first = summaries[a] >> LEDGER_SHIFT;
                for &second in &summaries[a + 1..n] {
                    let second = second >> LEDGER_SHIFT;
                    if first != second {
                        suspect |= !self.is_prefix(first as u32, second as u32);
                    }
                }
            }
            if inside < 2 && !suspect {
                return None;
            }
        }
        let inside = |client: usize| !global.down(client) && summaries[client] & INSIDE != 0;
        // mutual_exclusion: two clients inside (a crashed client is not inside).
        if (0..n).filter(|&client| inside(client)).nth(1).is_some() {
            let shared = self.inner.lock();
            let listed: Vec<String> = (0..n)
                .filter(|&client| inside(client))
                .map(|client| {
                    let state = &shared.clients[global.locals[client] as usize];
                    let id = state.id();
                    let ts = state.inside().unwrap_or(0);
                    format!("client {id} with request ({ts},{id})")
                })
                .collect();
            return Some(Finding {
                name: Invariant::MutualExclusion.name(),
                detail: format!(
                    "{} are inside the critical section at the same time",
                    listed.join(" and ")
                ),
                stuck: false,
            });
        }
        // Each client's own ledger and table.
        if let Some(client) = (0..n).find(|&client| summaries[client] & PROBLEM != 0) {
            return self
                .inner
                .lock()
                .client_problems
                .get(&global.locals[client])
                .cloned();
        }
        // ledger_agreement: of every two ledgers, one is a prefix of the other.
        let ledger = |client: usize| (summaries[client] >> LEDGER_SHIFT) as u32;
        for a in 0..n {
            for b in a + 1..n {
                if let Some(index) = self.fork(ledger(a), ledger(b)) {
                    return Some(Finding {
                        name: Invariant::LedgerAgreement.name(),
                        detail: format!(
                            "client {} and client {} hold different blocks at index {index}: \
                             neither ledger is a prefix of the other",
                            a + 1,
                            b + 1
                        ),
                        stuck: false,
                    });
                }
            }
        }
        // Is any step of the protocol possible? (Faults do not count: a state that only a
        // loss, duplication or crash could leave is stuck.)
        if in_flight {
            return None;
        }
        let inner = Arc::clone(&self.inner);
        let config = &inner.config;
        for client in 0..n {
            let down = global.down(client);
            if !down && usize::from(global.issued[client]) < config.transfers[client].len() {
                return None;
            }
            let used = global.crashes_used(client);
            if down && config.crashes[client][used - 1].restarts {
                return None;
            }
            if !down && self.timer_effect(global.locals[client]).is_some() {
                return None;
            }
        }
        // Stuck: a client with work left is deadlocked.
        let waiting: Vec<u32> = (0..n)
            .filter(|&client| !global.down(client) && summaries[client] & HAS_WORK != 0)
            .map(|client| global.locals[client])
            .collect();
        if !waiting.is_empty() {
            let who: Vec<String> = waiting
                .iter()
                .map(|&local| self.describe_waiter(local))
                .collect();
            return Some(Finding {
                name: Invariant::Liveness.name(),
                detail: format!(
                    "deadlock: no step is possible and nothing is in flight, but {}",
                    who.join("; ")
                ),
                stuck: true,
            });
        }
        // Quiescent: every ledger must be equal (they are prefixes of each other by now).
        let length = |client: usize| self.ledger_lengths[ledger(client) as usize];
        for client in 1..n {
            if length(client) != length(0) {
                return Some(Finding {
                    name: Invariant::LedgerAgreement.name(),
                    detail: format!(
                        "nothing is left to happen, but client 1 holds {} and client {} holds {}",
                        count(length(0), "block"),
                        client + 1,
                        length(client)
                    ),
                    stuck: true,
                });
            }
        }
        None
    }
}

pub(super) fn describe_wait(id: ClientId, reason: &WaitReason) -> String {
    let (ts, _) = reason.request;
    let mut text = format!("client {id} waits with request ({ts},{id})");
    let mut because = Vec::new();
    if let Some((head_ts, head_id)) = reason.queued_behind {
        because.push(format!("behind ({head_ts},{head_id}) in its queue"));
    }
    if !reason.silent_peers.is_empty() {
        let peers: Vec<String> = reason
            .silent_peers
            .iter()
            .map(|(peer, seen)| format!("client {peer} (latest {seen})"))
            .collect();
        because.push(format!(
            "with nothing later than {ts} from {}",
            peers.join(", ")
        ));
    }
    if !reason.missing_replies.is_empty() {
        let peers: Vec<String> = reason
            .missing_replies
            .iter()
            .map(|p| p.to_string())
            .collect();
        because.push(format!(
            "without a REPLY from {} {}",
            clients_word(peers.len()),
            peers.join(", ")
        ));
    }
    if !reason.missing_acks.is_empty() {
        let peers: Vec<String> = reason.missing_acks.iter().map(|p| p.to_string()).collect();
        because.push(format!(
            "inside, without UPDATED from {} {}",
            clients_word(peers.len()),
            peers.join(", ")
        ));
    }
    if !because.is_empty() {
        let _ = write!(text, " {}", because.join(" and "));
    }
    text
}

/// "client" or "clients", for a list of that many client ids.
pub(super) fn clients_word(listed: usize) -> &'static str {
    if listed == 1 { "client" } else { "clients" }
}
