//! A test node: the built-in client with one fault switched in, for the tests that hold a
//! node of another implementation to the boundary's rules ([`super::broken_rule`]) in the
//! simulator and the explorer.

use std::sync::Arc;

use crate::protocol::{
    Amount, Client, ClientConfig, ClientId, Command, CommandError, Ledger, Message, Node, Outbox,
    OutputKind, Timer, Timestamp, Transfer,
};

/// What a [`BadNode`] does wrong, on top of the built-in client's steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Fault {
    /// Client 2, issued its transfer, also sends a REQUEST to itself.
    SendsToItself,
    /// Client 1, delivered a REQUEST, also sends a REPLY to client `N`.
    SendsToClient(u32),
    /// Client 1's timer also commits block 99.
    CommitsMissingBlock,
    /// Client 3 handles a REPLY without its Received output.
    SkipsReceived,
    /// Client 3 reports the receive of a REPLY twice.
    ReceivesTwice,
    /// Client 2, issued its transfer, also reads the balance of client 9.
    ReadsUnknownBalance,
    /// Client 3's timer reports a failure of its own.
    Fails,
    /// Client 1, issued its transfer, also sends 15 more REQUESTs to client 2.
    SendsSeventeen,
    /// Client 3 reports a REPLY as received from the other client than its sender.
    ReceivesFromAnother,
}

/// The built-in client with a [`Fault`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct BadNode {
    client: Client,
    fault: Fault,
    failure: Option<String>,
}

impl BadNode {
    /// The node for client `config.id`, with `fault`.
    pub(crate) fn new(
        config: &ClientConfig,
        initial_balances: Arc<[Amount]>,
        fault: Fault,
    ) -> Self {
        BadNode {
            client: Client::new(config, initial_balances),
            fault,
            failure: None,
        }
    }

    fn is(&self, fault: Fault, id: u32) -> bool {
        self.fault == fault && self.client.id() == ClientId::new(id)
    }

    fn push(&self, out: &mut Outbox, kind: OutputKind) {
        out.push(self.client.clock(), kind);
    }
}

impl Node for BadNode {
    fn id(&self) -> ClientId {
        self.client.id()
    }

    fn clock(&self) -> Timestamp {
        self.client.clock()
    }

    fn handle_command(&mut self, command: Command, out: &mut Outbox) -> Result<(), CommandError> {
        let result = Node::handle_command(&mut self.client, command, out);
        let ts = self.client.clock();
        if self.is(Fault::SendsToItself, 2) {
            let to = self.client.id();
            self.push(
                out,
                OutputKind::Send {
                    to,
                    msg: Message::Request { ts },
                },
            );
        }
        if self.is(Fault::SendsSeventeen, 1) {
            for _ in 0..15 {
                let to = ClientId::new(2);
                let msg = Message::Request { ts };
                self.push(out, OutputKind::Send { to, msg });
            }
        }
        if self.is(Fault::ReadsUnknownBalance, 2) {
            let of = ClientId::new(9);
            self.push(out, OutputKind::BalanceRead { of, value: 0 });
        }
        result
    }

    fn handle_message(&mut self, from: ClientId, msg: &Message, out: &mut Outbox) {
        let reply = matches!(msg, Message::Reply { .. });
        let skips = self.is(Fault::SkipsReceived, 3);
        if reply && (skips || self.is(Fault::ReceivesFromAnother, 3)) {
            let mut all = Outbox::new();
            self.client.handle_message(from, msg, &mut all);
            let mut outputs = all.drain();
            let received = outputs
                .next()
                .expect("a delivery's first output is its receive");
            if !skips {
                let another = ClientId::new(3 - from.get());
                out.push(received.clock, OutputKind::Received { from: another });
            }
            for output in outputs {
                out.push(output.clock, output.kind);
            }
            return;
        }
        self.client.handle_message(from, msg, out);
        if reply && self.is(Fault::ReceivesTwice, 3) {
            self.push(out, OutputKind::Received { from });
        }
        if let Fault::SendsToClient(to) = self.fault
            && matches!(msg, Message::Request { .. })
            && self.client.id() == ClientId::new(1)
        {
            let ts = self.client.clock();
            self.push(
                out,
                OutputKind::Send {
                    to: ClientId::new(to),
                    msg: Message::Reply { ts },
                },
            );
        }
    }

    fn handle_timer(&mut self, timer: Timer, out: &mut Outbox) {
        self.client.handle_timer(timer, out);
        if self.is(Fault::CommitsMissingBlock, 1) {
            self.push(out, OutputKind::Committed { index: 99 });
        }
        if self.is(Fault::Fails, 3) {
            self.failure = Some("its disk is full".to_string());
        }
    }

    fn restart(&mut self, keep_ledger: bool) {
        Node::restart(&mut self.client, keep_ledger);
    }

    fn ledger(&self) -> &Ledger {
        self.client.ledger()
    }

    fn into_ledger(self) -> Ledger {
        self.client.into_ledger()
    }

    fn current_transfer(&self) -> Option<Transfer> {
        Node::current_transfer(&self.client)
    }

    fn queued_transfers(&self) -> usize {
        Node::queued_transfers(&self.client)
    }

    fn take_failure(&mut self) -> Option<String> {
        self.failure.take()
    }
}
