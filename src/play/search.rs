//! The search behind the challenge's last hint: breadth first over the ordinary moves (no
//! faults) from the session's state, on copies of the real clients, for a shortest way to two
//! clients inside at once. It steps the clients directly rather than through the driver, so
//! that a state is a cheap copy; the hint then replays the way found through the driver to
//! explain it.

use std::collections::{BTreeSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use super::Move;
use super::world::{Setup, World};
use crate::protocol::{Client, ClientId, Message, Outbox, OutputKind, Timer};
use crate::render::text::describe_message;

/// The most distinct states visited, and the most moves looked ahead: enough for the two-
/// client scenarios a class starts with, and an answer within a fraction of a second on
/// larger ones, since the page asks again after every move while it shows the hints.
pub const MAX_STATES: usize = 5_000;
pub const MAX_DEPTH: usize = 14;

/// What the search found.
pub enum Found {
    /// A shortest way, in moves.
    Way(Vec<Move>),
    /// No way within [`MAX_DEPTH`] moves (every state that near was visited).
    NoneNear,
    /// The search stopped at [`MAX_STATES`] states.
    TooMany,
}

/// A state of the clients and what surrounds them, as the search sees it.
#[derive(Clone)]
struct Node {
    clients: Vec<Client>,
    /// (msg_id, from, to, message), in send order.
    in_flight: Vec<(u64, ClientId, ClientId, Message)>,
    issued: Vec<usize>,
    /// Index `id - 1`: the client's critical-section timer is armed.
    timer: Vec<bool>,
    /// Index `id - 1`: the client is inside (between its enter and its exit).
    inside: Vec<bool>,
    down: Vec<bool>,
    next_msg_id: u64,
    path: Vec<Move>,
}

impl Node {
    fn of(world: &World) -> Self {
        let n = world.clients().len();
        let ids = ClientId::all(n as u32);
        Node {
            clients: world.clients().to_vec(),
            in_flight: world
                .in_flight()
                .iter()
                .map(|copy| (copy.msg_id, copy.from, copy.to, copy.msg.clone()))
                .collect(),
            issued: world.issued().to_vec(),
            timer: ids.clone().map(|id| world.has_live_timer(id)).collect(),
            inside: world
                .clients()
                .iter()
                .map(|client| matches!(client.phase(), crate::protocol::Phase::Inside { .. }))
                .collect(),
            down: world.down().to_vec(),
            next_msg_id: world.driver().counts().messages_sent,
            path: Vec::new(),
        }
    }

    fn two_inside(&self) -> bool {
        self.inside.iter().filter(|inside| **inside).count() >= 2
    }

    /// The ordinary moves possible, as [`World::choices`] lists them.
    fn moves(&self, setup: &Setup) -> Vec<Move> {
        let mut moves = Vec::new();
        for (index, (msg_id, from, to, _)) in self.in_flight.iter().enumerate() {
            let behind = setup.fifo(*from, *to)
                && self.in_flight[..index]
                    .iter()
                    .any(|(_, f, t, _)| f == from && t == to);
            let first_copy = !self.in_flight[..index].iter().any(|(id, ..)| id == msg_id);
            if !behind && first_copy {
                moves.push(Move::Deliver { msg_id: *msg_id });
            }
        }
        for id in ClientId::all(self.clients.len() as u32) {
            let slot = id.index();
            if self.down[slot] {
                continue;
            }
            if self.timer[slot] {
                moves.push(Move::Leave { client: id });
            }
            if setup.commands[slot].get(self.issued[slot]).is_some() {
                moves.push(Move::Issue { client: id });
            }
        }
        moves
    }

    fn step(&self, setup: &Setup, mv: Move, outbox: &mut Outbox) -> Node {
        let mut next = self.clone();
        next.path.push(mv);
        let node = match mv {
            Move::Issue { client } => {
                let slot = client.index();
                let command = setup.commands[slot][next.issued[slot]];
                next.issued[slot] += 1;
                let _ = next.clients[slot].handle_command(command, outbox);
                client
            }
            Move::Deliver { msg_id } => {
                let at = next
                    .in_flight
                    .iter()
                    .position(|(id, ..)| *id == msg_id)
                    .expect("a listed message is in flight");
                let (_, from, to, msg) = next.in_flight.remove(at);
                if next.down[to.index()] {
                    return next;
                }
                next.clients[to.index()].handle_message(from, &msg, outbox);
                to
            }
            Move::Leave { client } => {
                next.timer[client.index()] = false;
                let timer = Timer::LeaveCriticalSection;
                next.clients[client.index()].handle_timer(timer, outbox);
                client
            }
            _ => unreachable!("the search makes no faults"),
        };
        for output in outbox.drain() {
            match output.kind {
                OutputKind::Send { to, msg } => {
                    next.in_flight.push((next.next_msg_id, node, to, msg));
                    next.next_msg_id += 1;
                }
                OutputKind::SetTimer { .. } => next.timer[node.index()] = true,
                OutputKind::Entered { .. } => next.inside[node.index()] = true,
                OutputKind::Exited { .. } => next.inside[node.index()] = false,
                _ => {}
            }
        }
        next
    }

    /// What makes two states the same: the clients, the messages in flight (not their ids),
    /// the commands given, the timers and who is inside or down.
    fn fingerprint(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        self.clients.hash(&mut hasher);
        for (_, from, to, msg) in &self.in_flight {
            (from, to, describe_message(msg)).hash(&mut hasher);
        }
        (&self.issued, &self.timer, &self.inside, &self.down).hash(&mut hasher);
        hasher.finish()
    }
}

/// A shortest list of ordinary moves from `world` to two clients inside at once.
pub fn search(setup: &Arc<Setup>, world: &World) -> Found {
    let start = Node::of(world);
    if start.two_inside() || world.stopped() {
        return Found::NoneNear;
    }
    let mut outbox = Outbox::new();
    let mut seen = BTreeSet::from([start.fingerprint()]);
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        if node.path.len() >= MAX_DEPTH {
            continue;
        }
        for mv in node.moves(setup) {
            let next = node.step(setup, mv, &mut outbox);
            if next.two_inside() {
                return Found::Way(next.path);
            }
            if seen.insert(next.fingerprint()) {
                if seen.len() > MAX_STATES {
                    return Found::TooMany;
                }
                queue.push_back(next);
            }
        }
    }
    Found::NoneNear
}
