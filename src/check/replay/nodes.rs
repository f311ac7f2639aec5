//! The nodes a replay holds a trace to: what it needs of one besides the node boundary (for
//! the built-in client and for a program's node), how it starts one, and why it stops.

use std::fmt;
use std::sync::Arc;

use crate::node::ProcessNode;
use crate::protocol::{Amount, Block, Client, ClientConfig, Node};

use super::expect::state;

/// Why the replay stops: an event that does not follow, or a node program that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The event cannot follow from the ones before it (the trace is not a run of the nodes).
    NotFollowing(String),
    /// A node program failed while the trace was held to it (it exited, hung, broke the wire
    /// protocol): one sentence naming the client and the step.
    NodeFailed(String),
}

impl From<String> for Refusal {
    fn from(sentence: String) -> Self {
        Refusal::NotFollowing(sentence)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotFollowing(sentence) | Refusal::NodeFailed(sentence) => {
                f.write_str(sentence)
            }
        }
    }
}

/// Starts client `config.id`'s node, holding the initial balances.
pub type StartNode<N> = Box<dyn FnMut(ClientConfig, Arc<[Amount]>) -> Result<N, String>>;

/// A node the replay can hold a trace to.
pub trait ReplayNode: Node {
    /// Whether the replay may make it forget the blocks no message can bring back
    /// ([`Node::forget_blocks_before`]), which keeps a long replay in flat memory.
    const FORGETS_BLOCKS: bool;

    /// Whether a live node hands this node the blocks of its data directory when it starts it
    /// (a program gets them in its `init` line), rather than one at a time as messages (the
    /// built-in client's UPDATEs).
    const RESTORES_AT_START: bool;

    /// Whether a live node's session sends a peer messages of its own outside the node's
    /// steps (the built-in client's catch-up: UPDATE and UPDATED); a program's session sends
    /// none.
    const SESSION_MESSAGES: bool;

    /// Where the node stands, for a rejection: "idle (no request outstanding)", "waiting for
    /// the mutex with request (3,1)", …
    fn standing(&self) -> String;

    /// The lowest block index the node may still look up: its ledger's length, or a block it
    /// holds back below that. Only asked when [`Self::FORGETS_BLOCKS`].
    fn lowest_block_needed(&self) -> Option<u64> {
        Some(self.ledger().len())
    }

    /// The replay is over: a node in another program is told so, to exit side by side with
    /// the others before it is reaped.
    fn close_input(&mut self) {}

    /// Starts the node again holding `blocks`, the restore a live node makes of its data
    /// directory when it starts; only asked when [`Self::RESTORES_AT_START`].
    fn restore(&mut self, blocks: &[Arc<Block>]) -> Result<(), String>;
}

impl ReplayNode for Client {
    const FORGETS_BLOCKS: bool = true;
    const RESTORES_AT_START: bool = false;
    const SESSION_MESSAGES: bool = true;

    fn standing(&self) -> String {
        state(self)
    }

    fn restore(&mut self, _blocks: &[Arc<Block>]) -> Result<(), String> {
        unreachable!("the built-in client restores its blocks one UPDATE at a time")
    }

    fn lowest_block_needed(&self) -> Option<u64> {
        self.held_back()
            .map(|block| block.index())
            .chain([self.ledger().len()])
            .min()
    }
}

impl ReplayNode for ProcessNode {
    /// A program keeps its whole ledger, and so does the mirror of it.
    const FORGETS_BLOCKS: bool = false;
    const RESTORES_AT_START: bool = true;
    const SESSION_MESSAGES: bool = false;

    /// A program says nothing of its queue: only the transfers it works on are known.
    fn standing(&self) -> String {
        let queued = self.queued_transfers();
        let more = match queued {
            0 => String::new(),
            _ => format!(
                ", {} more accepted",
                crate::wording::count(queued, "transfer")
            ),
        };
        match self.current_transfer() {
            None if queued == 0 => "idle (no transfer under way)".to_string(),
            None => format!("idle{more}"),
            Some(transfer) => format!(
                "at work on its transfer of {} to client {}{more}",
                transfer.amount, transfer.to
            ),
        }
    }

    fn close_input(&mut self) {
        ProcessNode::close_input(self);
    }

    fn restore(&mut self, blocks: &[Arc<Block>]) -> Result<(), String> {
        self.restart_with_ledger(blocks)
    }
}
