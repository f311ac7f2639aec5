//! What a persistent-set reduction could do if it knew the whole state graph: an experiment
//! for docs/explore.md ("How far it reaches, and why not further"), run by tests.
//!
//! The search's reduction brings a sender `j` into the set `P` of clients whose steps it
//! takes whenever the link from `j` to a client of `P` is empty (condition 2): it cannot know
//! whether `j` will put a message there before a client of `P` moves. Here that is known. The
//! whole graph is built first (every link FIFO, no fault, no cycle); then a pass from the
//! states at rest up to the initial one finds, for every state `s` and every set `P`, whether
//! some path from `s` of steps of clients outside `P` sends a message that counts to a client
//! of `P` on an empty link. Two readings of "counts":
//!
//! - **any message**: every such message counts. No other step left out can enable, disable
//!   or fail to commute with a step of `P` (docs/explore.md, "Why the steps left out can
//!   wait"), so where no such path exists `P`'s steps are a persistent set, and with
//!   conditions 1, 3 and 4 of the search this is a sound reduction: the exact form of
//!   condition 2.
//! - **racing messages only**: a message counts if its delivery does not commute with a
//!   step its receiver has enabled when it is sent (run on the real client steps), or the
//!   receiver has none. Optimistic: where the delivery commutes, what the receiver does after
//!   it is not followed, so the sets may be too small.
//!
//! Each reading then drives a breadth-first search over the graph that takes, in each state,
//! the steps of the qualifying set with the fewest enabled steps (ties: the lowest mask), as
//! the search's reduction chooses among its closures. Condition 1 is read as "a client of the
//! set has a step of the protocol": without faults every enabled step is one.

use std::hash::{BuildHasher, BuildHasherDefault};

use hashbrown::HashTable;
use rustc_hash::FxHasher;

use super::super::SystemModel;
use super::super::effects::INPUT_DELIVER;
use super::super::expander::SystemExpander;
use super::figures::Enabled;
use crate::explore::search::{Expander, Model, Successors};

/// A client's enabled steps in a state, summed up in a byte: their count (low four bits),
/// whether one is a step of the protocol, whether one is invisible, whether one stalls (the
/// search's [`Owner`](super::Owner)).
const PROTOCOL: u8 = 1 << 4;
const INVISIBLE: u8 = 1 << 5;
const STALLS: u8 = 1 << 6;
const STEP_COUNT: u8 = 0xf;

/// The state graph, its states numbered breadth-first from the initial one (0).
struct Graph {
    clients: usize,
    /// State `s`'s steps are `first_step[s]..first_step[s + 1]`.
    first_step: Vec<u32>,
    target: Vec<u32>,
    /// Each step's client (its owner).
    owner: Vec<u8>,
    /// The clients a step sends to on an empty link: a bit each, for racing messages in the
    /// low four bits, for any message in the high four.
    sends_into: Vec<u8>,
    /// Per state, a byte per client (see [`PROTOCOL`]).
    summed: Vec<u32>,
    /// Per state, the clients whose steps the search's reduction takes.
    chosen: Vec<u8>,
}

impl Graph {
    fn states(&self) -> usize {
        self.first_step.len() - 1
    }

    fn steps(&self, state: usize) -> std::ops::Range<usize> {
        self.first_step[state] as usize..self.first_step[state + 1] as usize
    }
}

/// What a breadth-first search over the graph visits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Reach {
    pub states: u64,
    pub transitions: u64,
    /// States with no step at all.
    pub at_rest: u64,
}

/// The figures of the experiment.
#[derive(Clone, Debug)]
pub(crate) struct OracleFigures {
    /// Every step taken.
    pub full: Reach,
    /// The sets of the search's reduction.
    pub search: Reach,
    /// The exact condition 2, any message counting (sound).
    pub exact: Reach,
    /// ... racing messages only (optimistic).
    pub racing: Reach,
    /// The same two without condition 3 (a step taken need not be invisible): reductions
    /// that keep the states at rest but may hide a broken invariant, so an estimate from
    /// below of what a reduction could do if no step were visible to the invariants.
    pub exact_unobserved: Reach,
    pub racing_unobserved: Reach,
}

/// Builds the graph of `model` (every link FIFO, no fault, no cycle) and searches it the six
/// ways of [`OracleFigures`].
///
/// # Panics
///
/// If the model has more than four clients, a bag link, a fault or a cycle of states, or if
/// the sets of the search's own reduction are not persistent by the graph.
pub(crate) fn oracle_figures(model: &SystemModel) -> OracleFigures {
    let config = model.config();
    assert!(
        config.all_fifo() == Some(true) && !config.any_faults(),
        "the graph is built for FIFO links without faults"
    );
    // A bit per set of clients in a `u16`, four bits per client's sends in a byte.
    assert!(
        config.clients <= 4,
        "the graph is built for four clients at most"
    );
    let graph = build(model);
    let order = children_first(&graph);
    let exact = reaches_into(&graph, &order, |into| into >> 4);
    let racing = reaches_into(&graph, &order, |into| into & 0xf);
    let every = (1u8 << graph.clients) - 1;
    for (state, &chosen) in graph.chosen.iter().enumerate() {
        assert!(
            chosen == every || exact[state] & 1 << chosen == 0,
            "state {state}: the search's set {chosen:#b} is not persistent"
        );
    }
    OracleFigures {
        full: search(&graph, |_| every),
        search: search(&graph, |state| graph.chosen[state]),
        exact: search(&graph, |state| choose(&graph, state, exact[state], true)),
        racing: search(&graph, |state| choose(&graph, state, racing[state], true)),
        exact_unobserved: search(&graph, |state| choose(&graph, state, exact[state], false)),
        racing_unobserved: search(&graph, |state| choose(&graph, state, racing[state], false)),
    }
}

/// Every state reachable from the initial one, with its steps.
fn build(model: &SystemModel) -> Graph {
    let clients = model.config().clients as usize;
    let mut expander = model.reducing(false).expander();
    let mut states = States::default();
    let mut initial = Vec::new();
    model.initial(&mut initial);
    states.intern(&initial);
    let mut graph = Graph {
        clients,
        first_step: vec![0],
        target: Vec::new(),
        owner: Vec::new(),
        sends_into: Vec::new(),
        summed: Vec::new(),
        chosen: Vec::new(),
    };
    let mut successors = Successors::new();
    let mut state = Vec::new();
    let mut next = 0;
    while next < states.len() {
        state.clear();
        state.extend_from_slice(states.get(next));
        successors.clear_all();
        expander.expand(&state, &mut successors);
        let enabled = expander.enabled_steps();
        for (step, in_model, bytes) in successors.iter() {
            assert!(in_model, "a scenario's states are all in the model");
            let taken = *enabled
                .iter()
                .find(|enabled| expander.is_step(**enabled, &step))
                .expect("every step is an enabled one");
            let (racing, any) = expander.sends_into(&enabled, taken);
            graph.target.push(states.intern(bytes));
            graph.owner.push(taken.client as u8);
            graph.sends_into.push(racing | any << 4);
        }
        graph.summed.push(summed(&mut expander, clients));
        graph.chosen.push(expander.reduction_mask() as u8);
        let steps = u32::try_from(graph.target.len()).expect("fewer than 2^32 steps");
        graph.first_step.push(steps);
        next += 1;
    }
    graph
}

/// The byte per client of [`Graph::summed`], for the state the expander holds.
fn summed(expander: &mut SystemExpander, clients: usize) -> u32 {
    (0..clients).fold(0, |word, client| {
        let owner = expander.owner(client);
        assert!(owner.steps <= u32::from(STEP_COUNT));
        let byte = owner.steps as u8
            | if owner.protocol { PROTOCOL } else { 0 }
            | if owner.invisible { INVISIBLE } else { 0 }
            | if owner.stalls { STALLS } else { 0 };
        word | u32::from(byte) << (8 * client)
    })
}

/// The states met, numbered, their encodings end to end.
#[derive(Default)]
struct States {
    bytes: Vec<u8>,
    starts: Vec<usize>,
    table: HashTable<u32>,
    hasher: BuildHasherDefault<FxHasher>,
}

impl States {
    fn len(&self) -> usize {
        self.starts.len()
    }

    fn get(&self, number: usize) -> &[u8] {
        let end = self.starts.get(number + 1).copied();
        &self.bytes[self.starts[number]..end.unwrap_or(self.bytes.len())]
    }

    /// The number of `state`, a new one if it was not met before.
    fn intern(&mut self, state: &[u8]) -> u32 {
        let hash = self.hasher.hash_one(state);
        let Self {
            bytes,
            starts,
            table,
            hasher,
        } = self;
        let get = |number: u32| {
            let start = starts[number as usize];
            let end = starts.get(number as usize + 1).copied();
            &bytes[start..end.unwrap_or(bytes.len())]
        };
        if let Some(&number) = table.find(hash, |&number| get(number) == state) {
            return number;
        }
        let number = u32::try_from(starts.len()).expect("fewer than 2^32 states");
        table.insert_unique(hash, number, |&number| hasher.hash_one(get(number)));
        starts.push(bytes.len());
        bytes.extend_from_slice(state);
        number
    }
}

/// The states in an order where every state comes after the states its steps lead to.
///
/// # Panics
///
/// If the graph has a cycle.
fn children_first(graph: &Graph) -> Vec<u32> {
    const UNSEEN: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut mark = vec![UNSEEN; graph.states()];
    let mut order = Vec::with_capacity(graph.states());
    // (state, its next step to follow)
    let mut stack = vec![(0usize, graph.steps(0).start)];
    mark[0] = OPEN;
    while let Some((state, step)) = stack.last_mut() {
        if *step == graph.steps(*state).end {
            mark[*state] = DONE;
            order.push(*state as u32);
            stack.pop();
            continue;
        }
        let target = graph.target[*step] as usize;
        *step += 1;
        match mark[target] {
            UNSEEN => {
                mark[target] = OPEN;
                stack.push((target, graph.steps(target).start));
            }
            OPEN => panic!("a cycle of states through state {target}"),
            _ => {}
        }
    }
    order
}

/// Per state, a bit per set `P` of clients (the set's mask is the bit's index): some path
/// of steps of clients outside `P` sends a message that counts (by `counts`, from
/// [`Graph::sends_into`]) to a client of `P` on an empty link.
fn reaches_into(graph: &Graph, order: &[u32], counts: impl Fn(u8) -> u8) -> Vec<u16> {
    let sets = 1usize << graph.clients;
    // outside[c]: the sets without client c; meeting[m]: the sets that hold a client of m.
    let bits = |keep: &dyn Fn(usize) -> bool| -> u16 {
        (0..sets)
            .filter(|&set| keep(set))
            .fold(0, |b, set| b | 1 << set)
    };
    let outside: Vec<u16> = (0..graph.clients)
        .map(|client| bits(&|set| set & 1 << client == 0))
        .collect();
    let meeting: Vec<u16> = (0..sets).map(|mask| bits(&|set| set & mask != 0)).collect();
    let mut into = vec![0u16; graph.states()];
    for &state in order {
        let state = state as usize;
        let mut found = 0;
        for step in graph.steps(state) {
            let owner = usize::from(graph.owner[step]);
            let sent = usize::from(counts(graph.sends_into[step]));
            let later = into[graph.target[step] as usize];
            found |= outside[owner] & (meeting[sent] | later);
        }
        into[state] = found;
    }
    into
}

/// The clients whose steps to take from `state`: of the sets into which no message that
/// counts is sent (`into`, from [`reaches_into`]) and that meet conditions 1, 3 (if
/// `invisible`) and 4, the one with the fewest enabled steps (ties: the lowest mask); every
/// client if none has fewer than all.
fn choose(graph: &Graph, state: usize, into: u16, invisible: bool) -> u8 {
    let every = (1u8 << graph.clients) - 1;
    let word = graph.summed[state];
    let sum = |set: u8| {
        let bytes = (0..graph.clients)
            .filter(|&client| set & 1 << client != 0)
            .map(|client| (word >> (8 * client)) as u8);
        bytes.fold((0, 0), |(steps, flags), byte| {
            (steps + (byte & STEP_COUNT), flags | byte)
        })
    };
    let (total, _) = sum(every);
    let mut best = (total, every);
    for set in 1..every {
        let (steps, flags) = sum(set);
        let qualifies = into & 1 << set == 0
            && flags & PROTOCOL != 0
            && (!invisible || flags & INVISIBLE != 0)
            && flags & STALLS == 0;
        if qualifies && steps < best.0 {
            best = (steps, set);
        }
    }
    best.1
}

/// Breadth-first from the initial state, taking in each state the steps of the clients
/// `chosen` gives.
fn search(graph: &Graph, chosen: impl Fn(usize) -> u8) -> Reach {
    let mut seen = vec![false; graph.states()];
    let mut queue = vec![0u32];
    seen[0] = true;
    let mut reach = Reach::default();
    let mut next = 0;
    while let Some(&state) = queue.get(next) {
        next += 1;
        let state = state as usize;
        let steps = graph.steps(state);
        reach.at_rest += u64::from(steps.is_empty());
        let mask = chosen(state);
        for step in steps {
            if mask & 1 << graph.owner[step] == 0 {
                continue;
            }
            reach.transitions += 1;
            let target = graph.target[step] as usize;
            if !seen[target] {
                seen[target] = true;
                queue.push(target as u32);
            }
        }
    }
    reach.states = queue.len() as u64;
    reach
}

impl SystemExpander {
    /// The clients `step` (enabled in the current state, every link FIFO) sends to on an
    /// empty link, a bit each: those whose message races (its delivery does not commute with
    /// a step of the receiver among `enabled`, or the receiver has none), and all.
    fn sends_into(&mut self, enabled: &[Enabled], step: Enabled) -> (u8, u8) {
        let n = self.current.n;
        let effect = self
            .step_from(self.current.locals[step.client], step)
            .expect("an enabled step");
        let (mut racing, mut any) = (0u8, 0u8);
        for (to, msg) in self.sent(effect) {
            let receiver = usize::from(to);
            let link = usize::from(self.link_index[step.client * n + receiver]);
            // Only the first message to a receiver is the head of an empty link.
            if any & 1 << receiver != 0 || self.current.count(link) > 0 {
                continue;
            }
            any |= 1 << receiver;
            let delivery = Enabled {
                client: receiver,
                input: INPUT_DELIVER | (step.client as u32 + 1),
                msg,
            };
            let own: Vec<Enabled> = enabled
                .iter()
                .filter(|other| other.client == receiver)
                .copied()
                .collect();
            if own.is_empty()
                || own
                    .iter()
                    .any(|&other| !self.commute(receiver, other, delivery))
            {
                racing |= 1 << receiver;
            }
        }
        (racing, any)
    }
}
