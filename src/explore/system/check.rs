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

    /// Every invariant `global` breaks, in a fixed order: mutual exclusion, each client's
    /// own ledger and table, ledger agreement and, where no step is possible, deadlock and
    /// equal ledgers. `global`'s messages are not decoded; `in_flight` says whether there
    /// are any.
    pub(super) fn check_global(&mut self, global: &Head, in_flight: bool) -> Vec<Finding> {
        let n = global.n;
        let mut summaries = [0; MAX_CLIENTS];
        for (summary, &local) in summaries.iter_mut().zip(global.locals()) {
            *summary = self.summary(local);
        }
        if in_flight && self.surely_fine(global, &summaries[..n]) {
            return Vec::new();
        }
        let mut findings = Vec::new();
        findings.extend(self.mutual_exclusion(global, &summaries[..n]));
        findings.extend(self.client_problems(global, &summaries[..n]));
        findings.extend(self.ledger_fork(&summaries[..n]));
        if !in_flight && self.stuck(global) {
            match self.deadlock(global, &summaries[..n]) {
                Some(deadlock) => findings.push(deadlock),
                None if findings.iter().all(|f| !is_ledger_agreement(f)) => {
                    findings.extend(self.unequal_ledgers(&summaries[..n]));
                }
                None => {}
            }
        }
        findings
    }

    /// The common case, from one word per client: a message is in flight (so the state is
    /// not stuck), at most one client is inside, no client's own ledger is broken and every
    /// two ledgers are prefixes of each other.
    fn surely_fine(&self, global: &Head, summaries: &[u64]) -> bool {
        let mut inside = 0;
        let mut suspect = false;
        for (client, &summary) in summaries.iter().enumerate() {
            inside += usize::from(summary & INSIDE != 0 && !global.down(client));
            suspect |= summary & PROBLEM != 0;
        }
        for (a, &first) in summaries.iter().enumerate() {
            let first = first >> LEDGER_SHIFT;
            for &second in &summaries[a + 1..] {
                let second = second >> LEDGER_SHIFT;
                if first != second {
                    suspect |= !self.is_prefix(first as u32, second as u32);
                }
            }
        }
        inside < 2 && !suspect
    }

    /// mutual_exclusion: two clients inside (a crashed client is not inside).
    fn mutual_exclusion(&self, global: &Head, summaries: &[u64]) -> Option<Finding> {
        let inside = |client: usize| !global.down(client) && summaries[client] & INSIDE != 0;
        let n = summaries.len();
        (0..n).filter(|&client| inside(client)).nth(1)?;
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
        Some(Finding {
            name: Invariant::MutualExclusion.name(),
            detail: format!(
                "{} are inside the critical section at the same time",
                listed.join(" and ")
            ),
            stuck: false,
        })
    }

    /// What each client's own ledger and table break, client by client.
    fn client_problems(&self, global: &Head, summaries: &[u64]) -> Vec<Finding> {
        let mut findings = Vec::new();
        let flagged = (0..summaries.len()).filter(|&client| summaries[client] & PROBLEM != 0);
        for client in flagged {
            let shared = self.inner.lock();
            if let Some(problems) = shared.client_problems.get(&global.locals[client]) {
                findings.extend(problems.iter().cloned());
            }
        }
        findings
    }

    /// ledger_agreement: of every two ledgers, one is a prefix of the other (the first pair
    /// that forks).
    fn ledger_fork(&self, summaries: &[u64]) -> Option<Finding> {
        let ledger = |client: usize| (summaries[client] >> LEDGER_SHIFT) as u32;
        let n = summaries.len();
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
        None
    }

    /// Whether no step of the protocol is possible, with no message in flight. (Faults do
    /// not count: a state that only a loss, duplication or crash could leave is stuck.)
    fn stuck(&mut self, global: &Head) -> bool {
        let inner = Arc::clone(&self.inner);
        let config = &inner.config;
        (0..global.n).all(|client| {
            if global.down(client) {
                !config.crashes[client][global.crashes_used(client) - 1].restarts
            } else {
                usize::from(global.issued[client]) >= config.transfers[client].len()
                    && self.timer_effect(global.locals[client]).is_none()
            }
        })
    }

    /// Stuck with a client that has work left: a deadlock.
    fn deadlock(&self, global: &Head, summaries: &[u64]) -> Option<Finding> {
        let who: Vec<String> = (0..global.n)
            .filter(|&client| !global.down(client) && summaries[client] & HAS_WORK != 0)
            .map(|client| self.describe_waiter(global.locals[client]))
            .collect();
        if who.is_empty() {
            return None;
        }
        Some(Finding {
            name: Invariant::Liveness.name(),
            detail: format!(
                "deadlock: no step is possible and nothing is in flight, but {}",
                who.join("; ")
            ),
            stuck: true,
        })
    }

    /// Quiescent: every ledger must be equal (they are prefixes of each other by now).
    fn unequal_ledgers(&self, summaries: &[u64]) -> Option<Finding> {
        let length =
            |client: usize| self.ledger_lengths[(summaries[client] >> LEDGER_SHIFT) as usize];
        let client = (1..summaries.len()).find(|&client| length(client) != length(0))?;
        Some(Finding {
            name: Invariant::LedgerAgreement.name(),
            detail: format!(
                "nothing is left to happen, but client 1 holds {} and client {} holds {}",
                count(length(0), "block"),
                client + 1,
                length(client)
            ),
            stuck: true,
        })
    }
}

fn is_ledger_agreement(finding: &Finding) -> bool {
    finding.name == Invariant::LedgerAgreement.name()
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
