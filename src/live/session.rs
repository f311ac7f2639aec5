//! The session with one peer: numbered frames, acknowledgements, and what survives a broken
//! connection. Pure state, no I/O: the node loop drives it.
//!
//! Frames to a peer are numbered 1, 2, … within a session, which is bound to one incarnation
//! of each side. The sender keeps every frame until the peer acknowledges it. When a new
//! connection starts, both sides exchange a `resume` frame and apply the same rule to both
//! directions:
//!
//! - **resume** (same incarnations on both sides): the sender drops the frames the receiver
//!   says it has and sends the rest again, in order; the receiver ignores sequence numbers it
//!   has seen. Nothing is lost or delivered twice, so the channel stays reliable and FIFO
//!   across a broken connection.
//! - **reset** (either side is a new incarnation): frames already handed to an earlier
//!   connection are dropped (they were meant for, or sent by, an incarnation that is gone;
//!   the merged trace shows them as lost), frames never handed to a connection go out first
//!   under new numbers, starting at 1.

use std::collections::VecDeque;

use crate::protocol::{ClientId, Message};

use super::wire::Purpose;

/// A message waiting for the peer's acknowledgement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutFrame {
    /// `None` until handed to a connection.
    pub seq: Option<u64>,
    pub msg_id: u64,
    pub msg: Message,
    pub purpose: Option<Purpose>,
}

/// The `resume` frame's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resume {
    pub incarnation_seen: Option<u64>,
    pub received: u64,
    pub bound_to: Option<u64>,
    pub ledger_len: u64,
    pub needs_sync: bool,
}

/// What starting a session decided.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionStart {
    /// The outgoing direction starts over (the peer gets no frame of an earlier session).
    pub reset_out: bool,
    /// The incoming direction starts over.
    pub reset_in: bool,
    /// Frames handed to an earlier connection and dropped by a reset.
    pub discarded: Vec<OutFrame>,
}

/// What to do with an incoming numbered frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incoming {
    Deliver,
    /// Seen before (sent again after a reconnection): ignore.
    Duplicate,
    /// A gap: a frame is missing. The connection is broken; the next one resumes.
    Gap {
        expected: u64,
    },
}

/// One peer's session state.
#[derive(Clone, Debug)]
pub struct Link {
    pub peer: ClientId,
    /// The peer's incarnation whose frames we receive.
    in_incarnation: Option<u64>,
    received: u64,
    ack_sent: u64,
    /// The peer's incarnation our outgoing frames are numbered for.
    bound_to: Option<u64>,
    next_seq: u64,
    queue: VecDeque<OutFrame>,
    /// The current connection has exchanged `resume` frames: frames go out at once.
    ready: bool,
    /// A `sync` from this peer arrived since this node started.
    pub synced: bool,
}

impl Link {
    pub fn new(peer: ClientId) -> Self {
        Link {
            peer,
            in_incarnation: None,
            received: 0,
            ack_sent: 0,
            bound_to: None,
            next_seq: 1,
            queue: VecDeque::new(),
            ready: false,
            synced: false,
        }
    }

    /// Our `resume` frame for a new connection.
    pub fn resume(&self, ledger_len: u64) -> Resume {
        Resume {
            incarnation_seen: self.in_incarnation,
            received: self.received,
            bound_to: self.bound_to,
            ledger_len,
            needs_sync: !self.synced,
        }
    }

    /// A new connection: frames wait until its session starts.
    pub fn connection_opened(&mut self) {
        self.ready = false;
    }

    pub fn connection_lost(&mut self) {
        self.ready = false;
    }

    /// Both `resume` frames are known (`ours` is what we sent on this connection): decide
    /// resume or reset for each direction. Both sides compute the same answer.
    pub fn start(
        &mut self,
        own_incarnation: u64,
        peer_incarnation: u64,
        ours: &Resume,
        theirs: &Resume,
    ) -> SessionStart {
        let reset_out = theirs.incarnation_seen != Some(own_incarnation)
            || ours.bound_to != Some(peer_incarnation);
        let reset_in = ours.incarnation_seen != Some(peer_incarnation)
            || theirs.bound_to != Some(own_incarnation);
        let mut start = SessionStart {
            reset_out,
            reset_in,
            discarded: Vec::new(),
        };
        if reset_in {
            self.in_incarnation = Some(peer_incarnation);
            self.received = 0;
            self.ack_sent = 0;
        }
        if reset_out {
            self.bound_to = Some(peer_incarnation);
            self.next_seq = 1;
            let (handed, waiting): (VecDeque<OutFrame>, VecDeque<OutFrame>) =
                self.queue.drain(..).partition(|frame| frame.seq.is_some());
            start.discarded = handed.into();
            self.queue = waiting;
        } else {
            self.acknowledged(theirs.received);
        }
        self.ready = true;
        start
    }

    /// Queues a message; returns the frames to write now (none while not ready).
    pub fn push(&mut self, msg_id: u64, msg: Message, purpose: Option<Purpose>) {
        self.queue.push_back(OutFrame {
            seq: None,
            msg_id,
            msg,
            purpose,
        });
    }

    /// Queues a message ahead of every frame not yet handed to a connection (a REQUEST sent
    /// again to a new incarnation goes before the messages that followed it).
    pub fn push_front(&mut self, msg_id: u64, msg: Message) {
        let first_waiting = self
            .queue
            .iter()
            .position(|frame| frame.seq.is_none())
            .unwrap_or(self.queue.len());
        self.queue.insert(
            first_waiting,
            OutFrame {
                seq: None,
                msg_id,
                msg,
                purpose: None,
            },
        );
    }

    /// Is a frame with this message id still waiting to be handed to a connection?
    pub fn waiting(&self, msg_id: u64) -> bool {
        self.queue
            .iter()
            .any(|frame| frame.seq.is_none() && frame.msg_id == msg_id)
    }

    /// The frames to write on the (ready) connection now: after a session start every frame
    /// in the queue (re-sent ones keep their numbers), later only the new ones. Each is
    /// numbered when first handed out. `all` asks for the whole queue.
    pub fn take_sendable(&mut self, all: bool) -> Vec<(u64, OutFrame)> {
        if !self.ready {
            return Vec::new();
        }
        let mut out = Vec::new();
        for frame in &mut self.queue {
            match frame.seq {
                Some(seq) if all => out.push((seq, frame.clone())),
                Some(_) => {}
                None => {
                    let seq = self.next_seq;
                    self.next_seq += 1;
                    frame.seq = Some(seq);
                    out.push((seq, frame.clone()));
                }
            }
        }
        out
    }

    /// The peer has every frame up to `ack`.
    pub fn acknowledged(&mut self, ack: u64) {
        while self
            .queue
            .front()
            .is_some_and(|frame| frame.seq.is_some_and(|seq| seq <= ack))
        {
            self.queue.pop_front();
        }
    }

    /// An incoming numbered frame.
    pub fn incoming(&mut self, seq: u64) -> Incoming {
        if seq <= self.received {
            Incoming::Duplicate
        } else if seq == self.received + 1 {
            self.received = seq;
            Incoming::Deliver
        } else {
            Incoming::Gap {
                expected: self.received + 1,
            }
        }
    }

    /// The acknowledgement to piggyback on an outgoing frame (and remember as sent).
    pub fn ack_to_send(&mut self) -> u64 {
        self.ack_sent = self.received;
        self.received
    }

    /// Frames were received since the last acknowledgement went out.
    pub fn owes_ack(&self) -> bool {
        self.ready && self.received > self.ack_sent
    }

    /// Frames waiting for an acknowledgement or a connection.
    #[cfg(test)]
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(ts: u64) -> Message {
        Message::Request { ts }
    }

    /// Two links talking to each other: a's view of b and b's view of a.
    fn connect(a: &mut Link, a_inc: u64, b: &mut Link, b_inc: u64) -> (SessionStart, SessionStart) {
        a.connection_opened();
        b.connection_opened();
        let (ra, rb) = (a.resume(0), b.resume(0));
        (
            a.start(a_inc, b_inc, &ra, &rb),
            b.start(b_inc, a_inc, &rb, &ra),
        )
    }

    /// Delivers `frames` from a sender to a receiver link, returning the delivered ids.
    /// Each frame's sequence number and the message id it carries.
    fn seqs_and_ids(frames: &[(u64, OutFrame)]) -> Vec<(u64, u64)> {
        frames.iter().map(|(seq, f)| (*seq, f.msg_id)).collect()
    }

    fn deliver(receiver: &mut Link, frames: &[(u64, OutFrame)]) -> Vec<u64> {
        frames
            .iter()
            .filter(|(seq, _)| receiver.incoming(*seq) == Incoming::Deliver)
            .map(|(_, frame)| frame.msg_id)
            .collect()
    }

    #[test]
    fn frames_wait_for_a_session_then_go_out_in_order() {
        let (mut a, mut b) = (Link::new(ClientId::new(2)), Link::new(ClientId::new(1)));
        a.push(10, request(1), None);
        assert!(a.take_sendable(false).is_empty(), "no connection yet");
        let (sa, sb) = connect(&mut a, 100, &mut b, 200);
        assert!(sa.reset_out && sa.reset_in && sb.reset_out && sb.reset_in);
        a.push(11, request(2), None);
        let frames = a.take_sendable(true);
        assert_eq!(seqs_and_ids(&frames), vec![(1, 10), (2, 11)]);
        assert_eq!(deliver(&mut b, &frames), vec![10, 11]);
    }

    #[test]
    fn a_broken_connection_resumes_without_loss_or_duplicates() {
        let (mut a, mut b) = (Link::new(ClientId::new(2)), Link::new(ClientId::new(1)));
        connect(&mut a, 100, &mut b, 200);
        for id in 0..4 {
            a.push(id, request(id + 1), None);
        }
        let frames = a.take_sendable(false);
        // Only the first two arrive before the connection breaks; b acknowledged one.
        assert_eq!(deliver(&mut b, &frames[..2]), vec![0, 1]);
        a.acknowledged(1);
        a.connection_lost();
        b.connection_lost();
        a.push(4, request(5), None);
        let (sa, sb) = connect(&mut a, 100, &mut b, 200);
        assert!(!sa.reset_out && !sa.reset_in && !sb.reset_out && !sb.reset_in);
        let frames = a.take_sendable(true);
        assert_eq!(
            seqs_and_ids(&frames),
            vec![(3, 2), (4, 3), (5, 4)],
            "frame 2 was acknowledged in b's resume; 3 and 4 go again, 5 is new"
        );
        assert_eq!(deliver(&mut b, &frames), vec![2, 3, 4]);
        assert_eq!(b.incoming(2), Incoming::Duplicate);
        assert_eq!(b.incoming(9), Incoming::Gap { expected: 6 });
    }

    #[test]
    fn a_restarted_peer_gets_only_what_was_never_handed_out() {
        let (mut a, mut b) = (Link::new(ClientId::new(2)), Link::new(ClientId::new(1)));
        connect(&mut a, 100, &mut b, 200);
        a.push(0, request(1), None);
        let handed = a.take_sendable(false);
        assert_eq!(handed.len(), 1);
        a.connection_lost();
        a.push(1, request(2), None);
        // b restarts: a new incarnation that knows nothing.
        let mut b = Link::new(ClientId::new(1));
        let (sa, _) = connect(&mut a, 100, &mut b, 201);
        assert!(sa.reset_out);
        assert_eq!(
            sa.discarded.iter().map(|f| f.msg_id).collect::<Vec<_>>(),
            vec![0]
        );
        a.push_front(0, request(1));
        let frames = a.take_sendable(true);
        assert_eq!(seqs_and_ids(&frames), vec![(1, 0), (2, 1)]);
        assert_eq!(deliver(&mut b, &frames), vec![0, 1]);
    }

    #[test]
    fn acknowledgements_are_owed_until_sent() {
        let (mut a, mut b) = (Link::new(ClientId::new(2)), Link::new(ClientId::new(1)));
        connect(&mut a, 1, &mut b, 2);
        a.push(0, request(1), None);
        deliver(&mut b, &a.take_sendable(false));
        assert!(b.owes_ack());
        assert_eq!(b.ack_to_send(), 1);
        assert!(!b.owes_ack());
        a.acknowledged(1);
        assert_eq!(a.queued(), 0);
    }
}
