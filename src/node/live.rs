//! What a live node (`lamport-ledger node --node-cmd CMD`, docs/live.md) needs of process
//! nodes beyond what the simulator uses: a start with the ledger read from a data directory,
//! and the reading of a message a peer's program sent, which reaches this node over TCP.

use std::sync::Arc;

use super::wire::{self, Effect, Line};
use super::{NodeSpec, ProcessNode};
use crate::protocol::{Amount, Block, ClientConfig, Ledger, Message};

impl ProcessNode {
    /// Starts the program for client `config.id` and hands it its `init` line with `blocks`
    /// as its ledger (a data directory's blocks, already verified by the caller).
    pub fn start_with_ledger(
        spec: &NodeSpec,
        config: ClientConfig,
        initial_balances: Arc<[Amount]>,
        blocks: &[Arc<Block>],
    ) -> Result<ProcessNode, String> {
        let mut node = ProcessNode::new(spec, config, initial_balances);
        node.ledger = node.ledger_of(blocks)?;
        node.launch();
        match node.failure.take() {
            Some(failure) => Err(failure),
            None => Ok(node),
        }
    }

    /// Starts the program again, as a live node does when it starts in a data directory
    /// holding `blocks`: the process is stopped and started anew with them in its `init`
    /// line. The node's steps go on being counted from where they were.
    pub fn restart_with_ledger(&mut self, blocks: &[Arc<Block>]) -> Result<(), String> {
        let ledger = self.ledger_of(blocks)?;
        self.stop_for_restart();
        self.ledger = ledger;
        self.launch();
        match self.failure.take() {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// `blocks` as a ledger of this client's, each checked as it is appended.
    fn ledger_of(&self, blocks: &[Arc<Block>]) -> Result<Ledger, String> {
        let mut ledger = Ledger::new(Arc::clone(&self.initial_balances));
        for block in blocks {
            ledger.append(Arc::clone(block)).map_err(|reason| {
                format!(
                    "client {}'s ledger cannot hold block {}: {reason}",
                    self.config.id,
                    block.index()
                )
            })?;
        }
        Ok(ledger)
    }

    /// How many clients the run has.
    pub fn clients(&self) -> u32 {
        self.config.clients
    }
}

/// A message a peer's program sent, as the JSON text it wrote (`raw`), read by the rules of a
/// node's `send` line (docs/nodes.md): an object with a string `type` and an integer `ts`,
/// kept byte for byte. The error completes "the message …".
pub fn read_foreign_message(raw: &str) -> Result<Message, String> {
    // One rule for both ends: the message is checked as the `msg` of a send line would be.
    let line = format!("{{\"type\":\"send\",\"clock\":0,\"to\":1,\"msg\":{raw}}}");
    match wire::parse_line(&line, 1) {
        Ok(Line::Effect {
            effect: Effect::Send { msg, .. },
            ..
        }) => Ok(msg),
        Ok(_) => Err("is not a message".into()),
        Err(what) => Err(what
            .strip_prefix("has a msg that ")
            .map_or(what.clone(), str::to_string)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_message_is_kept_byte_for_byte_and_checked_as_a_send_is() {
        let raw = r#"{ "ts": 7, "type":"request","note":"é\u00e9" }"#;
        let Message::Foreign(foreign) = read_foreign_message(raw).unwrap() else {
            panic!("not foreign");
        };
        assert_eq!(&*foreign.json, raw);
        assert_eq!((foreign.ts, foreign.kind), (7, "request"));
        assert_eq!(
            read_foreign_message(r#"{"type":"x"}"#).unwrap_err(),
            "has no \"ts\""
        );
        assert!(
            read_foreign_message("[1]")
                .unwrap_err()
                .contains("not a JSON object")
        );
    }
}
