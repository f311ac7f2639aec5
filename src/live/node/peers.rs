//! The node's peers: connections made and lost, session frames, and the start of a session
//! with what the peer lacks.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use super::super::input::{Connection, SessionFrame};
use super::super::session::{Incoming, Resume};
use super::super::wire::{Purpose, SessionBody, WireMessage, foreign_body};
use super::{Conn, Delivered, LiveClient, Node, SILENCE_LIMIT};
use crate::protocol::{ClientId, Message};
use crate::trace::EventKind;
use crate::wording::count;

impl<C: LiveClient> Node<C> {
    /// Writes the link's frames that are ready to go on its connection.
    pub(super) fn send_ready_frames(&mut self, peer: ClientId, all: bool) {
        let (Some(link), Some(conn)) = (self.links.get_mut(&peer), self.conns.get(&peer)) else {
            return;
        };
        if !conn.started {
            return;
        }
        for (seq, frame) in link.take_sendable(all) {
            let ack = link.ack_to_send();
            let sent = match &frame.msg {
                Message::Foreign(foreign) => {
                    conn.connection
                        .send_body(foreign_body(seq, ack, frame.msg_id, &foreign.json))
                }
                msg => conn.connection.send(&SessionBody::Msg {
                    seq,
                    ack,
                    msg_id: frame.msg_id,
                    purpose: frame.purpose,
                    msg: WireMessage::from_message(msg),
                }),
            };
            if !sent {
                break;
            }
        }
    }

    pub(super) fn connected(&mut self, peer: ClientId, incarnation: u64, connection: Connection) {
        let ledger_len = self.client.ledger().len();
        let Some(link) = self.links.get_mut(&peer) else {
            connection.close();
            return;
        };
        if let Some(old) = self.conns.remove(&peer) {
            old.connection.close();
        }
        link.connection_opened();
        let sent = link.resume(ledger_len);
        let body = SessionBody::Resume {
            incarnation_seen: sent.incarnation_seen,
            received: sent.received,
            bound_to: sent.bound_to,
            ledger_len: sent.ledger_len,
            needs_sync: sent.needs_sync,
        };
        connection.send(&body);
        self.conns.insert(
            peer,
            Conn {
                connection,
                incarnation,
                sent,
                started: false,
                last_heard: Instant::now(),
            },
        );
    }

    pub(super) fn disconnected(&mut self, peer: ClientId, connection: u64, reason: &str) {
        if self.conns.get(&peer).map(|c| c.connection.id) != Some(connection) {
            return;
        }
        self.conns.remove(&peer);
        if let Some(link) = self.links.get_mut(&peer) {
            link.connection_lost();
        }
        self.console
            .say(&format!("lost the connection to node {peer} ({reason})"));
        self.report_if_waiting_on_a_lost_peer();
    }

    /// A peer that sent nothing, not even a heartbeat, for [`SILENCE_LIMIT`]: the connection
    /// is closed as if it had broken, and the link reconnects when the peer answers again.
    pub(super) fn give_up_silent(&mut self, peer: ClientId) {
        let silent_s = SILENCE_LIMIT.as_secs();
        self.close(peer, &format!("node {peer} sent nothing for {silent_s} s"));
        self.console.say(&format!(
            "lost the connection to node {peer} (it sent nothing for {silent_s} s, not even a \
             heartbeat)"
        ));
        self.report_if_waiting_on_a_lost_peer();
    }

    pub(super) fn close(&mut self, peer: ClientId, why: &str) {
        self.console
            .log(&format!("{why}; closed the connection to node {peer}"));
        if let Some(conn) = self.conns.remove(&peer) {
            conn.connection.close();
        }
        if let Some(link) = self.links.get_mut(&peer) {
            link.connection_lost();
        }
    }

    pub(super) fn frame(
        &mut self,
        peer: ClientId,
        connection: u64,
        frame: SessionFrame,
    ) -> io::Result<()> {
        let Some(conn) = self.conns.get_mut(&peer) else {
            return Ok(());
        };
        if conn.connection.id != connection {
            return Ok(());
        }
        conn.last_heard = Instant::now();
        match frame {
            SessionFrame::Resume(theirs) => {
                if conn.started {
                    self.close(peer, &format!("node {peer} sent a second resume"));
                    return Ok(());
                }
                self.start_session(peer, &theirs)?;
            }
            SessionFrame::Msg {
                seq,
                ack,
                msg_id,
                purpose,
                msg,
            } => {
                if !conn.started {
                    self.close(peer, &format!("node {peer} sent a message before resume"));
                    return Ok(());
                }
                let link = self
                    .links
                    .get_mut(&peer)
                    .expect("a connected peer has a link");
                link.acknowledged(ack);
                match link.incoming(seq) {
                    Incoming::Deliver => self.deliver(peer, msg_id, &msg, purpose)?,
                    Incoming::Duplicate => {}
                    Incoming::Gap { expected } => self.close(
                        peer,
                        &format!("node {peer} sent frame {seq} while {expected} was next"),
                    ),
                }
            }
            SessionFrame::Ack(ack) => {
                if let Some(link) = self.links.get_mut(&peer) {
                    link.acknowledged(ack);
                }
            }
        }
        Ok(())
    }

    pub(super) fn deliver(
        &mut self,
        peer: ClientId,
        msg_id: u64,
        msg: &Message,
        purpose: Option<Purpose>,
    ) -> io::Result<()> {
        self.client.handle_message(peer, msg, &mut self.outbox);
        self.after_step(Some(Delivered {
            from: peer,
            msg_id,
            msg,
            purpose,
        }))?;
        if purpose == Some(Purpose::Sync) {
            if let Some(link) = self.links.get_mut(&peer) {
                link.synced = true;
            }
            self.join_if_synced()?;
        }
        Ok(())
    }

    /// Both `resume` frames are in: resume or reset each direction, send again what the peer
    /// lacks, then what is new: the own REQUEST (to a new incarnation), catch-up blocks, a sync.
    pub(super) fn start_session(&mut self, peer: ClientId, theirs: &Resume) -> io::Result<()> {
        let conn = self.conns.get_mut(&peer).expect("checked by the caller");
        conn.started = true;
        let peer_incarnation = conn.incarnation;
        let ours = conn.sent;
        let link = self
            .links
            .get_mut(&peer)
            .expect("a connected peer has a link");
        let start = link.start(self.incarnation, peer_incarnation, &ours, theirs);
        let restarted = self
            .peer_incarnations
            .insert(peer, peer_incarnation)
            .is_some_and(|before| before != peer_incarnation);
        if restarted {
            self.earlier_runs_up_to
                .insert(peer, self.client.largest_seen(peer));
        }
        let clock = self.client.clock();
        if start.reset_out
            && let Some(outstanding) = &self.outstanding
            && let Some((msg_id, msg)) = outstanding.sent.get(&peer)
            && !link.waiting(*msg_id)
        {
            // The peer never got this incarnation's REQUEST, or lost it with its restart.
            let msg_id = *msg_id;
            link.push_front(msg_id, msg.clone());
            self.trace_event(clock, EventKind::Duplicate { msg_id })?;
        }
        let mut catch_up = Vec::new();
        let own_len = self.client.ledger().len();
        if C::SESSION_MESSAGES && start.reset_out && theirs.ledger_len < own_len {
            catch_up = self.client.ledger().blocks_from(theirs.ledger_len).to_vec();
        }
        for block in &catch_up {
            let msg = Message::Update {
                ts: clock,
                block: Arc::clone(block),
            };
            self.send_for_session(peer, clock, msg, Purpose::CatchUp)?;
        }
        if C::SESSION_MESSAGES && theirs.needs_sync {
            self.send_for_session(peer, clock, Message::Updated { ts: clock }, Purpose::Sync)?;
        }
        self.host.flush()?;
        self.send_ready_frames(peer, true);
        let mut text = format!("connected to node {peer}");
        if restarted {
            text.push_str(" (it restarted)");
        }
        if !catch_up.is_empty() {
            text.push_str(&format!(
                "; sending it the {} it lacks",
                count(catch_up.len(), "block")
            ));
        }
        self.console.say(&text);
        if !C::SESSION_MESSAGES {
            // No sync comes from a program's peer: its session is the word from it.
            if let Some(link) = self.links.get_mut(&peer) {
                link.synced = true;
            }
            self.join_if_synced()?;
        }
        Ok(())
    }

    pub(super) fn not_synced(&self) -> Vec<ClientId> {
        self.links
            .values()
            .filter(|link| !link.synced)
            .map(|link| link.peer)
            .collect()
    }

    pub(super) fn join_if_synced(&mut self) -> io::Result<()> {
        if self.joined || !self.not_synced().is_empty() {
            return Ok(());
        }
        self.joined = true;
        self.console.say(&format!(
            "ready: heard from every peer; ledger has {}, own balance {}",
            count(self.client.ledger().len(), "block"),
            self.client.ledger().balance(self.id)
        ));
        while let Some(note) = self.held.pop_front() {
            self.hand_over(note)?;
        }
        Ok(())
    }

    pub(super) fn connected_now(&self, peer: ClientId) -> bool {
        self.conns.get(&peer).is_some_and(|conn| conn.started)
    }
}
