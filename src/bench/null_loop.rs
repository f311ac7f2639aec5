//! The ceiling for `n3-1m`: the same workload, network model and event queue moving the same
//! messages (REQUEST, REPLY, RELEASE to every peer per transfer), with the protocol replaced by
//! a no-op automaton: no clock, queue, ledger, hashing, checks or trace encoding. Each client
//! serves its own transfers one at a time and "enters" once it has a reply from every peer,
//! without any mutual exclusion, so the message pattern per transfer is the real one.

use crate::protocol::ClientId;
use crate::scenario::Scenario;
use crate::sim::network::Network;
use crate::sim::rng::{Stream, stream_rng};
use crate::sim::{EventQueue, Workload};

enum Step {
    Command(ClientId),
    Request { from: ClientId, to: ClientId },
    Reply { to: ClientId },
    Release,
    Leave(ClientId),
}

#[derive(Clone, Copy, Default)]
struct NullClient {
    queued: u64,
    busy: bool,
    replies: u32,
}

/// Runs the pattern; returns (events a trace would have had, transfers).
pub fn run(scenario: &Scenario) -> (u64, u64) {
    let clients = scenario.clients;
    let mut queue = EventQueue::new();
    let mut network = Network::new(
        &scenario.network,
        clients,
        stream_rng(scenario.seed, Stream::Network),
    );
    let mut workload = Workload::new(scenario, stream_rng(scenario.seed, Stream::Workload));
    let mut state = vec![NullClient::default(); clients as usize];
    let (mut events, mut transfers) = (0u64, 0u64);
    if let Some(item) = workload.next_item() {
        queue.push(item.at_us, Step::Command(item.client));
    }
    let peers = |me: ClientId| ClientId::all(clients).filter(move |&peer| peer != me);
    while let Some((now_us, step)) = queue.pop() {
        match step {
            Step::Command(client) => {
                events += 1; // transfer
                if let Some(item) = workload.next_item() {
                    queue.push(item.at_us, Step::Command(item.client));
                }
                let slot = &mut state[client.index()];
                slot.queued += 1;
                if !slot.busy {
                    events += start(
                        client,
                        slot,
                        &mut queue,
                        &mut network,
                        now_us,
                        peers(client),
                    );
                }
            }
            Step::Request { from, to } => {
                events += 2; // deliver, send reply
                queue.push(
                    network.delivery_time(to, from, now_us),
                    Step::Reply { to: from },
                );
            }
            Step::Reply { to } => {
                events += 1; // deliver
                let slot = &mut state[to.index()];
                slot.replies += 1;
                if slot.replies + 1 == clients {
                    events += 2; // enter, commit
                    queue.push(now_us + scenario.cs_us, Step::Leave(to));
                }
            }
            Step::Release => events += 2, // deliver, apply
            Step::Leave(client) => {
                events += 1; // exit
                transfers += 1;
                for peer in peers(client) {
                    events += 1; // send
                    queue.push(network.delivery_time(client, peer, now_us), Step::Release);
                }
                let slot = &mut state[client.index()];
                slot.busy = false;
                if slot.queued > 0 {
                    events += start(
                        client,
                        slot,
                        &mut queue,
                        &mut network,
                        now_us,
                        peers(client),
                    );
                }
            }
        }
    }
    (events, transfers)
}

/// Takes the next transfer: a request broadcast. Returns the events it makes.
fn start(
    client: ClientId,
    slot: &mut NullClient,
    queue: &mut EventQueue<Step>,
    network: &mut Network,
    now_us: u64,
    peers: impl Iterator<Item = ClientId>,
) -> u64 {
    slot.queued -= 1;
    slot.busy = true;
    slot.replies = 0;
    let mut events = 1; // request
    for peer in peers {
        events += 1; // send
        queue.push(
            network.delivery_time(client, peer, now_us),
            Step::Request {
                from: client,
                to: peer,
            },
        );
    }
    events
}
