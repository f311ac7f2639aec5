//! A naive enumerator of the client system, written independently of the explorer, and the
//! explorer's counts against it.

use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::keep_going;
use crate::check::Invariant;
use crate::explore::explore_system;
use crate::explore::search::{SearchOptions, Stop};
use crate::explore::settings::{self, Overrides};
use crate::explore::system::{CrashRule, LinkRule, PlannedTransfer, SystemConfig};
use crate::protocol::{
    Amount, Client, ClientConfig, ClientId, Command as ClientCommand, Message, Mutations, Outbox,
    OutputKind, Phase, Timer, Variant,
};

/// A message with `Hash` and `Ord` (by content), for sets of states and sorted bags.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Msg(Message);

/// type, ts, request_ts, and the block's index, from, to, amount, ts and hash.
type MsgParts = (
    &'static str,
    u64,
    u64,
    Option<(u64, u32, u32, u64, u64, [u8; 32])>,
);

impl Msg {
    fn parts(&self) -> MsgParts {
        let request_ts = match &self.0 {
            Message::Release { request_ts, .. } => *request_ts,
            _ => 0,
        };
        let block = self.0.block().map(|b| {
            (
                b.index(),
                b.from().get(),
                b.to().get(),
                b.amount(),
                b.ts(),
                b.hash_value(),
            )
        });
        (self.0.type_name(), self.0.ts(), request_ts, block)
    }
}

impl Hash for Msg {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl PartialOrd for Msg {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Msg {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.parts().cmp(&other.parts())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct NaiveState {
    clients: Vec<Client>,
    down: Vec<bool>,
    crashes_used: Vec<usize>,
    issued: Vec<usize>,
    losses: u8,
    duplicates: u8,
    /// Index `(from - 1) * n + (to - 1)`; FIFO links in order, bag links sorted.
    links: Vec<Vec<Msg>>,
}

pub(super) struct NaiveResult {
    distinct: u64,
    transitions: u64,
    depth: u32,
    /// The depth of the first state with two clients inside, if any.
    pub(super) first_two_inside: Option<u32>,
    /// The depth of the first state where two ledgers fork (neither a prefix of the other).
    first_fork: Option<u32>,
}

/// Whether two clients' ledgers fork, compared block by block.
fn ledgers_fork(clients: &[Client]) -> bool {
    let hashes: Vec<Vec<[u8; 32]>> = clients
        .iter()
        .map(|client| {
            client
                .ledger()
                .blocks()
                .iter()
                .map(|b| b.hash_value())
                .collect()
        })
        .collect();
    hashes.iter().enumerate().any(|(a, first)| {
        hashes[a + 1..]
            .iter()
            .any(|second| first.iter().zip(second).any(|(x, y)| x != y))
    })
}

fn naive_clients(config: &SystemConfig) -> Vec<Client> {
    let balances: Arc<[Amount]> = config.initial_balances.clone().into();
    ClientId::all(config.clients)
        .map(|id| {
            let client_config = ClientConfig {
                id,
                clients: config.clients,
                cs_us: config.cs_us,
                variant: config.variant,
                mutations: config.mutations,
            };
            Client::new(&client_config, Arc::clone(&balances))
        })
        .collect()
}

/// Runs one client input; the messages it sends go onto the links. Returns whether the
/// client changed or sent anything.
fn naive_step(
    config: &SystemConfig,
    state: &mut NaiveState,
    client: usize,
    input: impl FnOnce(&mut Client, &mut Outbox),
) -> bool {
    let n = config.clients as usize;
    let mut outbox = Outbox::new();
    let before = state.clients[client].clone();
    input(&mut state.clients[client], &mut outbox);
    let mut changed = state.clients[client] != before;
    for output in outbox.drain() {
        if let OutputKind::Send { to, msg } = output.kind {
            let link = client * n + to.index();
            state.links[link].push(Msg(msg));
            if !config.links[link].fifo {
                state.links[link].sort();
            }
            changed = true;
        }
    }
    changed
}

fn naive_successors(config: &SystemConfig, state: &NaiveState) -> Vec<NaiveState> {
    let n = config.clients as usize;
    let mut next = Vec::new();
    for c in 0..n {
        let k = state.issued[c];
        if !state.down[c] && k < config.transfers[c].len() {
            let mut s = state.clone();
            s.issued[c] += 1;
            let t = config.transfers[c][k];
            naive_step(config, &mut s, c, |client, out| {
                let _ = client.handle_command(
                    ClientCommand::Transfer {
                        to: t.to,
                        amount: t.amount,
                    },
                    out,
                );
            });
            next.push(s);
        }
    }
    for c in 0..n {
        if !state.down[c] && matches!(state.clients[c].phase(), Phase::Inside { .. }) {
            let mut s = state.clone();
            let mut sent = false;
            {
                let mut outbox = Outbox::new();
                s.clients[c].handle_timer(Timer::LeaveCriticalSection, &mut outbox);
                sent |= outbox
                    .as_slice()
                    .iter()
                    .any(|o| matches!(o.kind, OutputKind::Send { .. }));
            }
            if s.clients[c] != state.clients[c] || sent {
                let mut s = state.clone();
                naive_step(config, &mut s, c, |client, out| {
                    client.handle_timer(Timer::LeaveCriticalSection, out)
                });
                next.push(s);
            }
        }
    }
    for from in 0..n {
        for to in (0..n).filter(|&to| to != from) {
            let link = from * n + to;
            let messages = &state.links[link];
            let positions: Vec<usize> = if config.links[link].fifo {
                (0..messages.len().min(1)).collect()
            } else {
                (0..messages.len())
                    .filter(|&p| p == 0 || messages[p] != messages[p - 1])
                    .collect()
            };
            for p in positions {
                let mut s = state.clone();
                let Msg(msg) = s.links[link].remove(p);
                if !s.down[to] {
                    naive_step(config, &mut s, to, |client, out| {
                        client.handle_message(ClientId::from_index(from), &msg, out)
                    });
                }
                next.push(s);
            }
        }
    }
    for c in 0..n {
        if state.down[c] {
            let rule = config.crashes[c][state.crashes_used[c] - 1];
            if rule.restarts {
                let mut s = state.clone();
                s.down[c] = false;
                s.clients[c].restart(rule.keep_ledger);
                next.push(s);
            }
        }
    }
    let fault_positions = |link: usize| -> Vec<usize> {
        let messages = &state.links[link];
        if config.links[link].fifo {
            (0..messages.len()).collect()
        } else {
            (0..messages.len())
                .filter(|&p| p == 0 || messages[p] != messages[p - 1])
                .collect()
        }
    };
    if state.losses < config.max_losses {
        for link in (0..n * n).filter(|&l| config.links[l].lossy) {
            for p in fault_positions(link) {
                let mut s = state.clone();
                s.links[link].remove(p);
                s.losses += 1;
                next.push(s);
            }
        }
    }
    if state.duplicates < config.max_duplicates {
        for link in (0..n * n).filter(|&l| config.links[l].duplicating) {
            for p in fault_positions(link) {
                let mut s = state.clone();
                let copy = s.links[link][p].clone();
                s.links[link].insert(p + 1, copy);
                s.duplicates += 1;
                next.push(s);
            }
        }
    }
    for c in 0..n {
        if !state.down[c] && state.crashes_used[c] < config.crashes[c].len() {
            let mut s = state.clone();
            s.down[c] = true;
            s.crashes_used[c] += 1;
            next.push(s);
        }
    }
    next
}

pub(super) fn naive_explore(config: &SystemConfig) -> NaiveResult {
    let n = config.clients as usize;
    let initial = NaiveState {
        clients: naive_clients(config),
        down: vec![false; n],
        crashes_used: vec![0; n],
        issued: vec![0; n],
        losses: 0,
        duplicates: 0,
        links: vec![Vec::new(); n * n],
    };
    let mut seen: HashSet<NaiveState> = HashSet::new();
    let mut queue = VecDeque::new();
    seen.insert(initial.clone());
    queue.push_back((initial, 0u32));
    let mut result = NaiveResult {
        distinct: 1,
        transitions: 0,
        depth: 0,
        first_two_inside: None,
        first_fork: None,
    };
    while let Some((state, depth)) = queue.pop_front() {
        let inside = (0..n)
            .filter(|&c| !state.down[c] && matches!(state.clients[c].phase(), Phase::Inside { .. }))
            .count();
        if inside > 1 && result.first_two_inside.is_none() {
            result.first_two_inside = Some(depth);
        }
        if result.first_fork.is_none() && ledgers_fork(&state.clients) {
            result.first_fork = Some(depth);
        }
        for next in naive_successors(config, &state) {
            result.transitions += 1;
            if seen.insert(next.clone()) {
                result.distinct += 1;
                result.depth = result.depth.max(depth + 1);
                queue.push_back((next, depth + 1));
            }
        }
    }
    result
}

/// N clients, the given transfers, every link FIFO or bag, no faults.
fn config(
    clients: u32,
    transfers: &[(u32, u32, u64)],
    fifo: bool,
    variant: Variant,
) -> SystemConfig {
    let n = clients as usize;
    let mut planned = vec![Vec::new(); n];
    for &(from, to, amount) in transfers {
        planned[ClientId::new(from).index()].push(PlannedTransfer {
            to: ClientId::new(to),
            amount,
        });
    }
    let links = (0..n * n)
        .map(|_| LinkRule {
            fifo,
            lossy: false,
            duplicating: false,
        })
        .collect();
    SystemConfig {
        clients,
        initial_balances: vec![10; n],
        variant,
        mutations: Mutations::none(),
        cs_us: 1000,
        transfers: planned,
        links,
        max_losses: 0,
        max_duplicates: 0,
        crashes: vec![Vec::new(); n],
    }
}

fn assert_same_counts(name: &str, config: &SystemConfig) {
    let naive = naive_explore(config);
    let (stats, found) = explore_system_config(config, &keep_going());
    assert_eq!(stats.stop, Stop::Exhausted, "{name}");
    assert_eq!(stats.distinct, naive.distinct, "{name}: distinct states");
    assert_eq!(stats.transitions, naive.transitions, "{name}: transitions");
    assert_eq!(stats.depth, naive.depth, "{name}: depth");
    let explorer_me = steps_to(&found, Invariant::MutualExclusion).map(|(steps, _)| steps);
    assert_eq!(
        explorer_me, naive.first_two_inside,
        "{name}: depth of the first mutual exclusion violation"
    );
    // The shortest path to each invariant, even where the state that ends it breaks another
    // one first (both clients inside, each with its own block 0).
    let explorer_agreement = steps_to(&found, Invariant::LedgerAgreement);
    match naive.first_fork {
        Some(fork) => assert_eq!(
            explorer_agreement.map(|(steps, _)| steps),
            Some(fork),
            "{name}: depth of the first ledger fork"
        ),
        None => assert!(
            explorer_agreement.is_none_or(|(_, at_rest)| at_rest),
            "{name}: a fork where there is none"
        ),
    }
    // A search for the expected invariant alone finds it as far away.
    if let Some((steps, _)) = explorer_agreement {
        let wanted = SearchOptions {
            wanted: Some(Invariant::LedgerAgreement.name()),
            ..SearchOptions::default()
        };
        let (_, found) = explore_system_config(config, &wanted);
        assert_eq!(
            steps_to(&found, Invariant::LedgerAgreement).map(|(steps, _)| steps),
            Some(steps),
            "{name}: the expected ledger_agreement"
        );
    }
    assert!(
        naive.distinct > 10,
        "{name}: a configuration worth checking"
    );
}

/// The path length to the finding of `invariant`, and whether it was found where no step is
/// possible.
fn steps_to(found: &[(&'static str, usize, bool)], invariant: Invariant) -> Option<(u32, bool)> {
    found
        .iter()
        .find(|(name, _, _)| *name == invariant.name())
        .map(|&(_, steps, stuck)| (steps as u32, stuck))
}

/// (stats, [(finding name, path length, found where no step is possible)]).
fn explore_system_config(
    config: &SystemConfig,
    options: &SearchOptions,
) -> (
    crate::explore::search::Stats,
    Vec<(&'static str, usize, bool)>,
) {
    let scenario = crate::scenario::parse_scenario(
        &format!(r#"{{"name": "generated", "clients": {}}}"#, config.clients),
        "generated",
    )
    .unwrap();
    let mut setup =
        settings::from_scenario("generated".into(), scenario, &Overrides::default()).unwrap();
    setup.system = config.clone();
    let exploration = explore_system(&setup, options);
    let found = exploration
        .result
        .found
        .iter()
        .map(|f| (f.finding.name, f.path.len(), f.finding.stuck))
        .collect();
    (exploration.result.stats, found)
}

#[test]
fn two_clients_fifo_counts_match_a_naive_enumeration() {
    let c = config(2, &[(1, 2, 3), (2, 1, 4)], true, Variant::Lamport);
    assert_same_counts("2 clients, FIFO", &c);
}

#[test]
fn two_clients_bag_counts_match_a_naive_enumeration() {
    let c = config(2, &[(1, 2, 3), (2, 1, 4)], false, Variant::Lamport);
    assert_same_counts("2 clients, bag", &c);
}

#[test]
fn two_transfers_each_and_other_variants_match_a_naive_enumeration() {
    let c = config(
        2,
        &[(1, 2, 3), (1, 2, 9), (2, 1, 4)],
        true,
        Variant::Lamport,
    );
    assert_same_counts("2 clients, 3 transfers, FIFO", &c);
    for variant in [
        Variant::LamportReplyCount,
        Variant::RicartAgrawala,
        Variant::UpdateAck,
    ] {
        let c = config(2, &[(1, 2, 3), (2, 1, 4)], false, variant);
        assert_same_counts(variant.name(), &c);
    }
}

#[test]
fn three_clients_match_a_naive_enumeration() {
    // Two of the three clients pay (three payers make 731,427 states: too many for the naive
    // enumerator in a debug build).
    let c = config(3, &[(1, 2, 3), (2, 3, 4)], true, Variant::Lamport);
    assert_same_counts("3 clients, FIFO", &c);
    let c = config(3, &[(1, 2, 3), (2, 3, 4)], false, Variant::Lamport);
    assert_same_counts("3 clients, bag", &c);
}

#[test]
fn faults_match_a_naive_enumeration() {
    let mut c = config(2, &[(1, 2, 3), (2, 1, 4)], true, Variant::Lamport);
    c.max_losses = 1;
    c.max_duplicates = 1;
    for (l, rule) in c.links.iter_mut().enumerate() {
        rule.lossy = l / 2 != l % 2;
        rule.duplicating = l / 2 != l % 2;
    }
    assert_same_counts("2 clients, one loss and one duplicate", &c);
    let mut c = config(2, &[(1, 2, 3), (2, 1, 4)], true, Variant::Lamport);
    c.crashes[1] = vec![CrashRule {
        keep_ledger: false,
        restarts: true,
    }];
    assert_same_counts("2 clients, client 2 crashes and restarts with nothing", &c);
}
