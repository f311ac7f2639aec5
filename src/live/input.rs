//! What crosses from the input threads (standard input, signals, the network) to the node
//! loop: the [`Input`]s on its one channel, with the connection handles and checked frames
//! they carry. Below both `net` and `node`, which share these types.

use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::Sender;

use super::session::Resume;
use super::wire::{Purpose, SessionBody, body_bytes};
use crate::protocol::{ClientId, Message};

/// Everything that reaches the node loop.
#[derive(Debug)]
pub enum Input {
    /// A line from standard input.
    Line(String),
    StdinClosed,
    /// Ctrl-C (SIGINT), or SIGTERM or SIGHUP: stop as `exit` does.
    Interrupted,
    /// An authenticated connection to `peer` (its incarnation from the handshake).
    Connected {
        peer: ClientId,
        incarnation: u64,
        connection: Connection,
    },
    /// A checked frame from an established connection.
    Frame {
        peer: ClientId,
        connection: u64,
        frame: SessionFrame,
    },
    Disconnected {
        peer: ClientId,
        connection: u64,
        reason: String,
    },
}

/// The node loop's handle on a connection: frames to write, and a way to close it.
#[derive(Debug)]
pub struct Connection {
    pub id: u64,
    writer: Sender<Vec<u8>>,
    stream: TcpStream,
}

impl Connection {
    pub fn new(id: u64, writer: Sender<Vec<u8>>, stream: TcpStream) -> Self {
        Connection { id, writer, stream }
    }

    /// Queues a frame body for the writer thread; `false` if the connection is gone.
    pub fn send(&self, body: &SessionBody) -> bool {
        self.send_body(body_bytes(body))
    }

    /// Queues a frame body already written (a foreign message's); `false` if the connection
    /// is gone.
    pub fn send_body(&self, body: Vec<u8>) -> bool {
        self.writer.send(body).is_ok()
    }

    pub fn close(&self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// A frame of an established session, checked: message ids carry the sender's node id, and
/// blocks name clients of the cluster. A message of a client program is a
/// [`Message::Foreign`].
#[derive(Clone, Debug)]
pub enum SessionFrame {
    Resume(Resume),
    Msg {
        seq: u64,
        ack: u64,
        msg_id: u64,
        purpose: Option<Purpose>,
        msg: Message,
    },
    Ack(u64),
}
