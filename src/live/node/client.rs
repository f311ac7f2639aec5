//! The client a live node drives: the built-in [`Client`], or a program of one's own
//! ([`ProcessNode`], `--node-cmd`). The node loop is generic over [`LiveClient`], which adds to
//! the node boundary ([`crate::protocol::Node`]) what a live node needs besides.

use std::sync::Arc;

use crate::drive::Clients;
use crate::node::ProcessNode;
use crate::protocol::{
    Block, Client, ClientId, Command, CommandError, Message, Node, Outbox, OutputKind, Timestamp,
};

/// What the live node needs of its client beyond the node boundary.
pub(crate) trait LiveClient: Node + Clients<Node = Self> {
    /// Whether the session may hand the client messages it makes itself: blocks a restarted
    /// node lacks (as UPDATEs) and a peer's clock (as an UPDATED), both built-in messages. A
    /// program reads only its peers' own messages, so its sessions send neither.
    const SESSION_MESSAGES: bool;

    /// Checks a typed command without changing anything.
    fn validate(&self, command: &Command) -> Result<(), CommandError>;

    /// The largest timestamp heard from `peer`, or 0 when the client cannot say.
    fn largest_seen(&self, peer: ClientId) -> Timestamp;

    /// Hands the client one block read from the data directory at start; the step's outputs,
    /// among them the block's `Applied`, go to `out`.
    fn restore_block(&mut self, block: &Arc<Block>, out: &mut Outbox);
}

impl LiveClient for Client {
    const SESSION_MESSAGES: bool = true;

    fn validate(&self, command: &Command) -> Result<(), CommandError> {
        Client::validate(self, command)
    }

    fn largest_seen(&self, peer: ClientId) -> Timestamp {
        Client::largest_seen(self, peer)
    }

    /// The block as an UPDATE from a peer named in it: it changes nothing but the ledger and
    /// the clock.
    fn restore_block(&mut self, block: &Arc<Block>, out: &mut Outbox) {
        let (from, msg) = Message::restoring(block, self.id());
        self.handle_message(from, &msg, out);
    }
}

/// A lone program-played client (a live node): every event is its own.
impl Clients for ProcessNode {
    type Node = ProcessNode;
    fn client(&self, _id: ClientId) -> &ProcessNode {
        self
    }
}

impl LiveClient for ProcessNode {
    const SESSION_MESSAGES: bool = false;

    /// The rules of [`Client::validate`]: the program is handed only commands the built-in
    /// client would take.
    fn validate(&self, command: &Command) -> Result<(), CommandError> {
        let clients = self.clients();
        let known = |id: ClientId| {
            if id.is_among(clients) {
                Ok(())
            } else {
                Err(CommandError::UnknownClient { id, clients })
            }
        };
        match *command {
            Command::Transfer { to, amount } => {
                known(to)?;
                if to == self.id() {
                    return Err(CommandError::TransferToSelf);
                }
                if amount == 0 {
                    return Err(CommandError::ZeroAmount);
                }
                Ok(())
            }
            Command::ReadBalance { of } => known(of),
        }
    }

    fn largest_seen(&self, _peer: ClientId) -> Timestamp {
        0
    }

    /// The program was started with the data directory's ledger in its `init` line, so the
    /// block is only traced, at the clock the program reported.
    fn restore_block(&mut self, block: &Arc<Block>, out: &mut Outbox) {
        out.push(
            self.clock(),
            OutputKind::Applied {
                index: block.index(),
            },
        );
    }
}
