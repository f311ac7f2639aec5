//! Unit tests of the `Client` state machine (docs/spec.md section 1, rules 1-6), driven by hand.
//!
//! Single-client tests feed hand-made messages to one client. The multi-client tests use a
//! tiny in-test network, [`Net`], that moves `OutputKind::Send` messages between clients in an
//! order the test chooses (per-channel FIFO) and fires `LeaveCriticalSection` timers when told.

use super::*;
use crate::protocol::{BlockRejection, GENESIS_PREV, Output};

mod commands;
mod entry;
mod net;
mod release;
mod runs;

use net::Net;

/// A `cs_us` that differs from the default so that the timer's duration is really checked.
const CS_US: u64 = 2500;

// ----------------------------------------------------------------------------------------
// Helpers for driving one client by hand.

fn new_client(id: ClientId, balances: &[Amount]) -> Client {
    let config = ClientConfig {
        id,
        clients: balances.len() as u32,
        cs_us: CS_US,
        ..ClientConfig::default()
    };
    Client::new(&config, balances)
}

fn transfer(to: ClientId, amount: Amount) -> Command {
    Command::Transfer { to, amount }
}

fn command(client: &mut Client, command: Command) -> Vec<Output> {
    let mut out = Outbox::new();
    client
        .handle_command(command, &mut out)
        .expect("a valid command");
    out.drain().collect()
}

fn receive(client: &mut Client, from: ClientId, msg: Message) -> Vec<Output> {
    let mut out = Outbox::new();
    client.handle_message(from, &msg, &mut out);
    out.drain().collect()
}

fn leave(client: &mut Client) -> Vec<Output> {
    let mut out = Outbox::new();
    client.handle_timer(Timer::LeaveCriticalSection, &mut out);
    out.drain().collect()
}

fn at(clock: Timestamp, kind: OutputKind) -> Output {
    Output { clock, kind }
}

fn request(ts: Timestamp) -> Message {
    Message::Request { ts }
}

fn reply(ts: Timestamp) -> Message {
    Message::Reply { ts }
}

fn release(ts: Timestamp, request_ts: Timestamp, block: Option<&Arc<Block>>) -> Message {
    Message::Release {
        ts,
        request_ts,
        block: block.cloned(),
    }
}

fn send(to: ClientId, msg: Message) -> OutputKind {
    OutputKind::Send { to, msg }
}

fn timer_armed() -> OutputKind {
    OutputKind::SetTimer {
        after_us: CS_US,
        timer: Timer::LeaveCriticalSection,
    }
}

fn queue_of(client: &Client) -> Vec<RequestId> {
    client.queue().iter().collect()
}

fn pending_of(client: &Client) -> Vec<Transfer> {
    client.pending().copied().collect()
}

fn table_of(client: &Client) -> Vec<Amount> {
    client.ledger().table().to_vec()
}

fn entered(outputs: &[Output]) -> bool {
    outputs
        .iter()
        .any(|o| matches!(o.kind, OutputKind::Entered { .. }))
}

fn sends(outputs: &[Output]) -> Vec<(ClientId, Message)> {
    outputs
        .iter()
        .filter_map(|o| match &o.kind {
            OutputKind::Send { to, msg } => Some((*to, msg.clone())),
            _ => None,
        })
        .collect()
}

fn committed_block(client: &Client, outputs: &[Output]) -> Arc<Block> {
    outputs
        .iter()
        .find_map(|o| match o.kind {
            OutputKind::Committed { index } => Some(Arc::clone(client.output_block(index))),
            _ => None,
        })
        .expect("a Committed output")
}

/// Client 1 of `balances.len()` clients, inside the critical section for `transfer(to,
/// amount)` with request ts 1 (every peer has replied with ts 2).
fn client_one_inside(balances: &[Amount], to: ClientId, amount: Amount) -> (Client, Vec<Output>) {
    let mut client = new_client(ClientId::new(1), balances);
    command(&mut client, transfer(to, amount));
    let mut last = Vec::new();
    for peer in (1..balances.len()).map(ClientId::from_index) {
        last = receive(&mut client, peer, reply(2));
    }
    assert!(entered(&last), "client 1 should have entered: {last:?}");
    (client, last)
}
