//! What a waiting transfer waits for, said when asked and every few seconds, and the
//! loop's periodic work: acknowledgements, heartbeats, silent peers.

use std::time::Instant;

use super::super::prompt::name_nodes;
use super::super::wire::SessionBody;
use super::{Current, HEARTBEAT_EVERY, LiveClient, Node, Note, SILENCE_LIMIT, WAIT_REPORT_EVERY};
use crate::protocol::ClientId;

impl<C: LiveClient> Node<C> {
    /// "node 3 (not connected)", "nodes 2 and 3 (3 not connected)".
    pub(super) fn describe_peers(&self, peers: &[ClientId]) -> String {
        let down: Vec<String> = peers
            .iter()
            .filter(|&&peer| !self.connected_now(peer))
            .map(ToString::to_string)
            .collect();
        let mut text = name_nodes(peers);
        if !down.is_empty() {
            if down.len() == peers.len() {
                text.push_str(" (not connected)");
            } else {
                text.push_str(&format!(" ({} not connected)", down.join(", ")));
            }
        }
        text
    }

    /// Whether the own transfer waits for the mutex (requested, not yet entered).
    pub(super) fn waiting(&self) -> bool {
        self.current.is_some_and(|current| !current.entered)
    }

    /// Who the current transfer waits for, in one line.
    pub(super) fn wait_description(&self) -> Option<String> {
        let current = self.current.as_ref()?;
        let Some(reason) = self.client.wait_reason() else {
            return Some(self.unexplained_wait(current));
        };
        let not_connected = |peer: ClientId| {
            if self.connected_now(peer) {
                ""
            } else {
                ", not connected"
            }
        };
        let mut parts = Vec::new();
        if let Some((ts, id)) = reason.queued_behind {
            let stale = self
                .earlier_runs_up_to
                .get(&id)
                .is_some_and(|&up_to| ts <= up_to);
            parts.push(if stale {
                format!(
                    "behind request ({ts},{id}) of an earlier run of node {id}, which stopped \
                     before releasing it; Lamport's algorithm never drops a request, so this \
                     transfer cannot finish (exit every node and start them again: the ledgers \
                     stay in their data directories)"
                )
            } else {
                format!(
                    "behind request ({ts},{id}) of node {id}{}",
                    if self.connected_now(id) {
                        ""
                    } else {
                        " (not connected)"
                    }
                )
            });
        }
        for (peer, seen) in &reason.silent_peers {
            parts.push(format!(
                "for node {peer} to send a timestamp later than {} (latest from it: {seen}{})",
                current.ts,
                not_connected(*peer)
            ));
        }
        for peer in &reason.missing_replies {
            parts.push(format!(
                "for a REPLY from node {peer}{}",
                not_connected(*peer)
            ));
        }
        for peer in &reason.missing_acks {
            parts.push(format!(
                "for an UPDATED from node {peer}{}",
                not_connected(*peer)
            ));
        }
        if parts.is_empty() {
            return None;
        }
        Some(format!(
            "{} waits with request ({},{}): {}",
            current.note.name(),
            current.ts,
            self.id,
            parts.join("; ")
        ))
    }

    /// A wait the client cannot explain (a program does not say what it waits for): the
    /// request, and the peers not connected, any of which it may wait for.
    fn unexplained_wait(&self, current: &Current) -> String {
        let down: Vec<ClientId> = self
            .cluster
            .peers(self.id)
            .filter(|&peer| !self.connected_now(peer))
            .collect();
        let mut text = format!(
            "{} waits with request ({},{}); the client program does not say for whom",
            current.note.name(),
            current.ts,
            self.id
        );
        if !down.is_empty() {
            text.push_str(&format!("; not connected: {}", name_nodes(&down)));
        }
        text
    }

    /// The peers the current transfer waits for: every peer when the client cannot say.
    pub(super) fn waited_peers(&self) -> Vec<ClientId> {
        let Some(reason) = self.client.wait_reason() else {
            return self.cluster.peers(self.id).collect();
        };
        let mut peers: Vec<ClientId> = reason
            .queued_behind
            .map(|(_, id)| id)
            .into_iter()
            .chain(reason.silent_peers.iter().map(|&(peer, _)| peer))
            .chain(reason.missing_replies.iter().copied())
            .chain(reason.missing_acks.iter().copied())
            .filter(|&peer| peer != self.id)
            .collect();
        peers.sort_unstable();
        peers.dedup();
        peers
    }

    /// Says at once who a transfer waits for when one of them is not connected (and has not
    /// been said since the request).
    pub(super) fn report_if_waiting_on_a_lost_peer(&mut self) {
        let Some(current) = self.current else {
            return;
        };
        if current.last_report.is_some()
            || !self.waiting()
            || self
                .waited_peers()
                .iter()
                .all(|&peer| self.connected_now(peer))
        {
            return;
        }
        self.report_wait(Instant::now());
    }

    pub(super) fn report_wait(&mut self, now: Instant) {
        if let Some(text) = self.wait_description() {
            self.console.say(&text);
        }
        if let Some(current) = &mut self.current {
            current.last_report = Some(now);
        }
    }

    pub(super) fn tick(&mut self, now: Instant) {
        let heartbeat = self
            .last_heartbeat
            .is_none_or(|at| now.duration_since(at) >= HEARTBEAT_EVERY);
        if heartbeat {
            self.last_heartbeat = Some(now);
        }
        let peers: Vec<ClientId> = self.links.keys().copied().collect();
        for peer in peers {
            let (Some(link), Some(conn)) = (self.links.get_mut(&peer), self.conns.get(&peer))
            else {
                continue;
            };
            if now.duration_since(conn.last_heard) >= SILENCE_LIMIT {
                self.give_up_silent(peer);
                continue;
            }
            if conn.started && (link.owes_ack() || heartbeat) {
                conn.connection.send(&SessionBody::Ack {
                    ack: link.ack_to_send(),
                });
            }
        }
        if let Some(current) = self.current
            && self.waiting()
        {
            let since = current.last_report.unwrap_or(current.requested_at);
            let due = now.duration_since(since) >= WAIT_REPORT_EVERY;
            if due {
                self.report_wait(now);
            }
        }
        if !self.held.is_empty() {
            let due = self
                .held_reported
                .is_none_or(|at| now.duration_since(at) >= WAIT_REPORT_EVERY);
            if due {
                self.held_reported = Some(now);
                let names: Vec<String> = self.held.iter().map(Note::name).collect();
                let silent = self.not_synced();
                self.console.say(&format!(
                    "{} still {} to hear from {} before asking for the mutex",
                    names.join(", "),
                    if names.len() == 1 { "waits" } else { "wait" },
                    self.describe_peers(&silent)
                ));
            }
        }
    }
}
