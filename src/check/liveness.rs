//! `liveness`: every requested transfer is committed or aborted before the run ends; when not,
//! say who waits for whom and why.

use std::fmt::Write as _;

use super::{Invariant, Violation};
use crate::protocol::{Amount, ClientId, WaitReason};

/// A client that still had work when the run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiter {
    pub node: ClientId,
    /// The transfer holding or waiting for the mutex, if any: (to, amount).
    pub current: Option<(ClientId, Amount)>,
    /// Why it has not entered, if it is waiting for the mutex.
    pub reason: Option<WaitReason>,
    /// Transfers queued behind the current one.
    pub queued: usize,
}

/// One violation per client that still had work. `why_ended` completes the sentence "the run
/// ended …", e.g. "with nothing left in flight" or "at limits.max_time_us".
pub fn liveness_violations(waiters: &[Waiter], why_ended: &str) -> Vec<Violation> {
    waiters
        .iter()
        .map(|waiter| {
            Violation::new(
                Invariant::Liveness,
                Some(waiter.node),
                describe(waiter, why_ended),
            )
        })
        .collect()
}

fn describe(waiter: &Waiter, why_ended: &str) -> String {
    let node = waiter.node;
    let mut text = match waiter.current {
        Some((to, amount)) => format!(
            "the run ended {why_ended} but client {node}'s transfer of {amount} to client {to} never finished"
        ),
        None => {
            format!("the run ended {why_ended} with transfers of client {node} never requested")
        }
    };
    if let Some(reason) = &waiter.reason {
        let (ts, _) = reason.request;
        let _ = write!(text, ": its request ({ts},{node})");
        if let Some((head_ts, head_id)) = reason.queued_behind {
            let _ = write!(
                text,
                " waits behind request ({head_ts},{head_id}) in its queue"
            );
            if !reason.silent_peers.is_empty() {
                text.push_str(", and");
            }
        }
        if !reason.silent_peers.is_empty() {
            let peers: Vec<String> = reason
                .silent_peers
                .iter()
                .map(|(peer, seen)| format!("client {peer} (largest seen: {seen})"))
                .collect();
            let _ = write!(
                text,
                " it has received nothing later than ts {ts} from {}",
                peers.join(", ")
            );
        }
    }
    if waiter.queued > 0 {
        let _ = write!(text, "; {} more transfer(s) wait behind it", waiter.queued);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_who_waits_for_whom() {
        let waiter = Waiter {
            node: 2,
            current: Some((1, 3)),
            reason: Some(WaitReason {
                request: (3, 2),
                queued_behind: Some((2, 1)),
                silent_peers: vec![(1, 2)],
                ..WaitReason::default()
            }),
            queued: 1,
        };
        let violations = liveness_violations(&[waiter], "at limits.max_time_us");
        assert_eq!(violations.len(), 1);
        assert_eq!(
            violations[0].detail,
            "the run ended at limits.max_time_us but client 2's transfer of 3 to client 1 never \
             finished: its request (3,2) waits behind request (2,1) in its queue, and it has \
             received nothing later than ts 3 from client 1 (largest seen: 2); 1 more transfer(s) \
             wait behind it"
        );
    }
}
