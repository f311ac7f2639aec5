//! What the replay needs of a node besides the node boundary, for the built-in client and
//! for a program's node.

use crate::node::ProcessNode;
use crate::protocol::{Client, Node};

use super::expect::state;

/// A node the replay can hold a trace to.
pub trait ReplayNode: Node {
    /// Whether the replay may make it forget the blocks no message can bring back
    /// ([`Node::forget_blocks_before`]), which keeps a long replay in flat memory.
    const FORGETS_BLOCKS: bool;

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
}

impl ReplayNode for Client {
    const FORGETS_BLOCKS: bool = true;

    fn standing(&self) -> String {
        state(self)
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
}
