//! Exhaustive exploration (`lamport-ledger explore`, `src/explore/`).
//!
//! The counts of the explorer are checked against enumerators written here from scratch: a
//! naive breadth-first search over plain values (no encoding, no interning, no remembered
//! client steps, no state store), once for the real clients and once for the TLA+ spec
//! LamportMutex.tla. The port of that spec is also checked against the numbers TLC publishes
//! for N = 3, maxClock = 6 in tlaplus/Examples' manifest.json.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use lamport_ledger::check::Invariant;
use lamport_ledger::explore::search::{Order, SearchOptions, Stop};
use lamport_ledger::explore::settings::{self, Channels, Overrides};
use lamport_ledger::explore::system::{
    CrashRule, LinkRule, PlannedTransfer, StepKind, SystemConfig,
};
use lamport_ledger::explore::tla::TlaConfig;
use lamport_ledger::explore::{explore_system, explore_tla};
use lamport_ledger::protocol::{
    Amount, Client, ClientConfig, Command as ClientCommand, Message, Mutations, Outbox, OutputKind,
    Phase, Timer, Variant,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bfs() -> SearchOptions {
    SearchOptions::default()
}

fn keep_going() -> SearchOptions {
    SearchOptions {
        keep_going: true,
        ..SearchOptions::default()
    }
}

// -------------------------------------------------------------------------------------------
// A naive enumerator of the client system, written independently of src/explore.

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
                b.from(),
                b.to(),
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

struct NaiveResult {
    distinct: u64,
    transitions: u64,
    depth: u32,
    /// The depth of the first state with two clients inside, if any.
    first_two_inside: Option<u32>,
}

fn naive_clients(config: &SystemConfig) -> Vec<Client> {
    let balances: Arc<[Amount]> = config.initial_balances.clone().into();
    (1..=config.clients)
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
            let link = client * n + (to as usize - 1);
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
                        client.handle_message(from as u32 + 1, &msg, out)
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

fn naive_explore(config: &SystemConfig) -> NaiveResult {
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
    };
    while let Some((state, depth)) = queue.pop_front() {
        let inside = (0..n)
            .filter(|&c| !state.down[c] && matches!(state.clients[c].phase(), Phase::Inside { .. }))
            .count();
        if inside > 1 && result.first_two_inside.is_none() {
            result.first_two_inside = Some(depth);
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
        planned[from as usize - 1].push(PlannedTransfer { to, amount });
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
    let explored = explore_system_config(config, &keep_going());
    let stats = &explored.0;
    assert_eq!(stats.stop, Stop::Exhausted, "{name}");
    assert_eq!(stats.distinct, naive.distinct, "{name}: distinct states");
    assert_eq!(stats.transitions, naive.transitions, "{name}: transitions");
    assert_eq!(stats.depth, naive.depth, "{name}: depth");
    let explorer_me = explored
        .1
        .iter()
        .find(|(name, _)| *name == Invariant::MutualExclusion.name())
        .map(|(_, steps)| *steps as u32);
    assert_eq!(
        explorer_me, naive.first_two_inside,
        "{name}: depth of the first mutual exclusion violation"
    );
    assert!(
        naive.distinct > 10,
        "{name}: a configuration worth checking"
    );
}

/// (stats, [(finding name, path length)]).
fn explore_system_config(
    config: &SystemConfig,
    options: &SearchOptions,
) -> (
    lamport_ledger::explore::search::Stats,
    Vec<(&'static str, usize)>,
) {
    let scenario = lamport_ledger::scenario::parse_scenario(
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
        .map(|f| (f.finding.name, f.path.len()))
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

// -------------------------------------------------------------------------------------------
// Scenarios.

fn setup(path: &str) -> settings::ExploreSetup {
    settings::load(&root().join(path)).unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn the_shortest_reordering_counterexample_for_two_clients_has_six_steps() {
    let setup = setup("scenarios/explore/reorder-2-bag.json");
    let exploration = explore_system(&setup, &bfs());
    let found = &exploration.result.found[0];
    assert_eq!(found.finding.name, "mutual_exclusion");
    // Two requests, the REQUEST from client 2 and the REPLY that overtakes client 1's REQUEST,
    // then that REQUEST and its REPLY: six steps, and none shorter exists (BFS).
    let kinds: Vec<StepKind> = found.path.iter().map(|step| step.kind).collect();
    assert_eq!(
        kinds,
        [
            StepKind::Issue,
            StepKind::Issue,
            StepKind::Deliver,
            StepKind::Deliver,
            StepKind::Deliver,
            StepKind::Deliver
        ]
    );
    // The naive enumerator agrees that no shorter path puts two clients inside.
    let naive = naive_explore(&setup.system);
    assert_eq!(naive.first_two_inside, Some(6));
    // Under FIFO the same clients never break mutual exclusion.
    let fifo = settings::from_scenario(
        "reorder-2 (fifo)".into(),
        setup.scenario.clone(),
        &Overrides {
            channels: Some(Channels::Fifo),
            ..Overrides::default()
        },
    )
    .unwrap();
    let exploration = explore_system(&fifo, &bfs());
    assert!(exploration.result.found.is_empty());
    assert_eq!(exploration.result.stats.stop, Stop::Exhausted);
}

#[test]
fn every_mutation_is_caught_where_its_scenario_says() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("mutation-") {
            continue;
        }
        let setup = settings::load(&path).unwrap();
        let (expect, _) = setup.expect.expect("every mutation scenario has an expect");
        let wanted = expect.invariant.expect("it names the invariant");
        let exploration = explore_system(&setup, &bfs());
        let found = exploration
            .result
            .found
            .first()
            .unwrap_or_else(|| panic!("{name}: exhaustive search finds no violation"));
        assert_eq!(found.finding.name, wanted.name(), "{name}");
        // The trace of that path, through the simulator's checker, agrees.
        let replayed = lamport_ledger::explore::replay::write_trace(
            &exploration.model,
            &setup.scenario,
            &found.path,
            found.finding.stuck,
            Vec::new(),
        )
        .unwrap();
        assert_eq!(
            replayed.violations.first().map(|v| v.violation.invariant),
            Some(wanted),
            "{name}: the checker sees the same violation"
        );
        // And without the mutation the same exploration finds nothing.
        let mut clean = setup.clone();
        clean.system.mutations = Mutations::none();
        let exploration = explore_system(&clean, &bfs());
        assert!(
            exploration.result.found.is_empty(),
            "{name} without its mutation: {:?}",
            exploration.result.found[0].finding
        );
        assert_eq!(exploration.result.stats.stop, Stop::Exhausted, "{name}");
        checked += 1;
    }
    assert_eq!(checked, 4, "one scenario per mutation");
}

#[test]
fn every_exploration_file_meets_its_expectation() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("scenarios/explore")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|ext| ext != "json") {
            continue;
        }
        let setup = settings::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let (expect, _) = setup
            .expect
            .expect("every exploration file says what it expects");
        // As the command does: the first violation (or none in the whole state space).
        let exploration = explore_system(&setup, &bfs());
        let found: Vec<Invariant> = exploration
            .result
            .found
            .iter()
            .filter_map(|f| {
                Invariant::ALL
                    .into_iter()
                    .find(|i| i.name() == f.finding.name)
            })
            .collect();
        assert!(
            settings::meets(&expect, &found),
            "{}: expected {}, found {:?}",
            path.display(),
            settings::describe_expect(&expect),
            found
        );
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} exploration files checked");
}

#[test]
fn more_threads_give_the_same_result() {
    let setup = setup("scenarios/mutation-release-pops-head.json");
    let one = explore_system(&setup, &bfs());
    let two = explore_system(
        &setup,
        &SearchOptions {
            jobs: 2,
            ..SearchOptions::default()
        },
    );
    let (a, b) = (&one.result.stats, &two.result.stats);
    assert_eq!(
        (a.distinct, a.transitions, a.depth, a.stop),
        (b.distinct, b.transitions, b.depth, b.stop)
    );
    assert_eq!(one.result.found[0].finding, two.result.found[0].finding);
    // Messages are numbered as threads meet them, so the steps may name a message by another
    // number; the path is the same, and so is its trace, byte for byte.
    let trace = |exploration: &lamport_ledger::explore::SystemExploration| {
        let found = &exploration.result.found[0];
        lamport_ledger::explore::replay::write_trace(
            &exploration.model,
            &setup.scenario,
            &found.path,
            found.finding.stuck,
            Vec::new(),
        )
        .unwrap()
        .digest_hex
    };
    assert_eq!(trace(&one), trace(&two));
}

#[test]
fn bounds_stop_the_search_and_say_so() {
    let setup = setup("scenarios/explore/reorder-2-fifo.json");
    let full = explore_system(&setup, &bfs());
    assert_eq!(full.result.stats.stop, Stop::Exhausted);
    let capped = explore_system(
        &setup,
        &SearchOptions {
            max_states: Some(10),
            ..SearchOptions::default()
        },
    );
    assert_eq!(capped.result.stats.stop, Stop::MaxStates);
    assert_eq!(capped.result.stats.distinct, 10);
    let shallow = explore_system(
        &setup,
        &SearchOptions {
            max_depth: Some(2),
            ..SearchOptions::default()
        },
    );
    assert_eq!(shallow.result.stats.stop, Stop::MaxDepth);
    assert_eq!(shallow.result.stats.depth, 2);
    let deep = explore_system(
        &setup,
        &SearchOptions {
            order: Order::DepthFirst,
            ..SearchOptions::default()
        },
    );
    assert_eq!(deep.result.stats.distinct, full.result.stats.distinct);
    assert_eq!(deep.result.stats.transitions, full.result.stats.transitions);
}

// -------------------------------------------------------------------------------------------
// LamportMutex.tla: a naive enumerator of the spec, written from its text.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum TlaMsg {
    Ack,
    Rel,
    Req(u32),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TlaState {
    clock: Vec<u32>,
    req: Vec<Vec<u32>>,
    ack: Vec<BTreeSet<usize>>,
    /// network[p][q]: from p to q; in order, or sorted for a bag.
    network: Vec<Vec<Vec<TlaMsg>>>,
    crit: BTreeSet<usize>,
}

struct TlaCounts {
    distinct: u64,
    generated: u64,
    depth: u64,
    first_mutex_violation: Option<u64>,
}

fn tla_naive(n: usize, max_clock: u32, bag: bool) -> TlaCounts {
    let init = TlaState {
        clock: vec![1; n],
        req: vec![vec![0; n]; n],
        ack: vec![BTreeSet::new(); n],
        network: vec![vec![Vec::new(); n]; n],
        crit: BTreeSet::new(),
    };
    let send = |s: &mut TlaState, from: usize, to: usize, m: TlaMsg| {
        s.network[from][to].push(m);
        if bag {
            s.network[from][to].sort();
        }
    };
    let beats = |s: &TlaState, p: usize, q: usize| {
        s.req[p][q] == 0 || s.req[p][p] < s.req[p][q] || (s.req[p][p] == s.req[p][q] && p < q)
    };
    let next = |s: &TlaState| -> Vec<TlaState> {
        let mut out = Vec::new();
        for p in 0..n {
            if s.req[p][p] == 0 {
                let mut t = s.clone();
                t.req[p][p] = s.clock[p];
                t.ack[p] = BTreeSet::from([p]);
                for r in (0..n).filter(|&r| r != p) {
                    send(&mut t, p, r, TlaMsg::Req(s.clock[p]));
                }
                out.push(t);
            }
            if s.ack[p].len() == n && (0..n).filter(|&q| q != p).all(|q| beats(s, p, q)) {
                let mut t = s.clone();
                t.crit.insert(p);
                out.push(t);
            }
            if s.crit.contains(&p) {
                let mut t = s.clone();
                t.crit.remove(&p);
                t.req[p][p] = 0;
                t.ack[p] = BTreeSet::new();
                for r in (0..n).filter(|&r| r != p) {
                    send(&mut t, p, r, TlaMsg::Rel);
                }
                out.push(t);
            }
        }
        for p in 0..n {
            for q in (0..n).filter(|&q| q != p) {
                let channel = &s.network[q][p];
                let mut candidates: Vec<usize> = Vec::new();
                if bag {
                    for (i, m) in channel.iter().enumerate() {
                        if i == 0 || channel[i - 1] != *m {
                            candidates.push(i);
                        }
                    }
                } else if !channel.is_empty() {
                    candidates.push(0);
                }
                for i in candidates {
                    let mut t = s.clone();
                    let m = t.network[q][p].remove(i);
                    match m {
                        TlaMsg::Req(c) => {
                            t.req[p][q] = c;
                            t.clock[p] = if c > s.clock[p] {
                                c + 1
                            } else {
                                s.clock[p] + 1
                            };
                            send(&mut t, p, q, TlaMsg::Ack);
                        }
                        TlaMsg::Ack => {
                            t.ack[p].insert(q);
                        }
                        TlaMsg::Rel => t.req[p][q] = 0,
                    }
                    out.push(t);
                }
            }
        }
        out
    };
    let mut seen = HashSet::from([init.clone()]);
    let mut queue = VecDeque::from([(init, 1u64)]);
    let mut counts = TlaCounts {
        distinct: 1,
        generated: 1,
        depth: 1,
        first_mutex_violation: None,
    };
    while let Some((s, depth)) = queue.pop_front() {
        if s.crit.len() > 1 && counts.first_mutex_violation.is_none() {
            counts.first_mutex_violation = Some(depth);
        }
        for t in next(&s) {
            counts.generated += 1;
            if t.clock.iter().all(|&c| c <= max_clock) && seen.insert(t.clone()) {
                counts.distinct += 1;
                counts.depth = counts.depth.max(depth + 1);
                queue.push_back((t, depth + 1));
            }
        }
    }
    counts
}

#[test]
fn the_tla_port_matches_a_naive_enumeration_of_the_spec() {
    for (n, max_clock) in [(1u8, 3u8), (2, 1), (2, 2), (2, 4), (2, 6), (3, 2), (3, 3)] {
        for bag in [false, true] {
            let naive = tla_naive(usize::from(n), u32::from(max_clock), bag);
            let config = TlaConfig {
                processes: n,
                max_clock,
                bag,
            };
            let port = explore_tla(config, &keep_going());
            let what = format!("N={n} maxClock={max_clock} bag={bag}");
            assert_eq!(port.result.stats.stop, Stop::Exhausted, "{what}");
            assert_eq!(
                port.result.stats.distinct, naive.distinct,
                "{what}: distinct"
            );
            assert_eq!(port.generated(), naive.generated, "{what}: generated");
            assert_eq!(port.tlc_depth(), naive.depth, "{what}: depth");
            let mutex = port
                .result
                .found
                .iter()
                .find(|f| f.finding.name == "Mutex")
                .map(|f| f.path.len() as u64 + 1);
            assert_eq!(mutex, naive.first_mutex_violation, "{what}: Mutex");
            if !bag {
                assert!(port.result.found.is_empty(), "{what}: the spec is safe");
            }
        }
    }
}

/// The numbers TLC reports for MCLamportMutex.cfg (N = 3, maxClock = 6), as published in
/// tlaplus/Examples, specifications/lamport_mutex/manifest.json: "distinctStates": 724274,
/// "totalStates": 2729079, "stateDepth": 61.
const TLC_DISTINCT_N3_C6: u64 = 724_274;
const TLC_TOTAL_N3_C6: u64 = 2_729_079;
const TLC_DEPTH_N3_C6: u64 = 61;

#[test]
fn the_tla_port_reports_what_tlc_reports_for_n3_max_clock_6() {
    let config = TlaConfig {
        processes: 3,
        max_clock: 6,
        bag: false,
    };
    let port = explore_tla(config, &bfs());
    assert_eq!(port.result.stats.stop, Stop::Exhausted);
    assert!(
        port.result.found.is_empty(),
        "Mutex, BoundedNetwork hold; no deadlock"
    );
    assert_eq!(port.result.stats.distinct, TLC_DISTINCT_N3_C6);
    assert_eq!(port.generated(), TLC_TOTAL_N3_C6);
    assert_eq!(port.tlc_depth(), TLC_DEPTH_N3_C6);
}

#[test]
fn the_tla_port_with_bags_breaks_mutex_by_a_shortest_path() {
    let config = TlaConfig {
        processes: 2,
        max_clock: 3,
        bag: true,
    };
    let port = explore_tla(config, &bfs());
    let found = &port.result.found[0];
    assert_eq!(found.finding.name, "Mutex");
    let naive = tla_naive(2, 3, true);
    assert_eq!(
        Some(found.path.len() as u64 + 1),
        naive.first_mutex_violation
    );
    // The path replays and ends with both processes inside.
    let states = port.model.replay(&found.path).unwrap();
    assert!(
        port.model
            .describe(states.last().unwrap())
            .contains("crit = {1, 2}")
    );
}

// -------------------------------------------------------------------------------------------
// The command line.

/// The TLA+ port with two processes and maxClock 3: small enough for any test.
const TLA_TWO_CLIENTS: [&str; 7] = [
    "explore",
    "--model",
    "tlaplus-lamport-mutex",
    "--clients",
    "2",
    "--max-clock",
    "3",
];

fn lamport_ledger(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lamport-ledger"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_command_writes_a_trace_that_check_and_render_accept() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("reorder.jsonl");
    let trace_arg = trace.to_str().unwrap();
    let (code, out, err) = lamport_ledger(&[
        "explore",
        "scenarios/explore/reorder-2-bag.json",
        "--trace",
        trace_arg,
    ]);
    assert_eq!(code, 0, "the expected violation was found: {out}{err}");
    assert!(
        out.contains("VIOLATION of mutual_exclusion after 6 steps"),
        "{out}"
    );
    assert!(out.contains("(agrees)"), "{out}");
    assert!(out.contains("symmetry reduction: none"), "{out}");
    let (code, out, err) = lamport_ledger(&["check", trace_arg]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("VIOLATION of mutual_exclusion"), "{out}");
    assert!(out.contains("agrees"), "{out}");
    let html = dir.path().join("path.html");
    let (code, _, err) = lamport_ledger(&[
        "render",
        trace_arg,
        "--format",
        "html",
        "-o",
        html.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(std::fs::metadata(&html).unwrap().len() > 1000);
}

#[test]
fn exit_codes_follow_the_verdict() {
    // A violation and no expectation: 1.
    let (code, out, _) =
        lamport_ledger(&["explore", "scenarios/explore/reorder-2-bag.json", "--bag"]);
    assert_eq!(code, 0, "{out}"); // the exploration file expects the violation
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.json");
    std::fs::write(
        &plain,
        r#"{"name": "plain", "clients": 2, "network": {"fifo": false},
            "workload": {"transfers": [{"at_us": 0, "from": 1, "to": 2, "amount": 1},
                                       {"at_us": 0, "from": 2, "to": 1, "amount": 1}]}}"#,
    )
    .unwrap();
    let (code, out, _) = lamport_ledger(&["explore", plain.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    let (code, out, _) = lamport_ledger(&["explore", plain.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1);
    let value: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(value["violations"][0]["invariant"], "mutual_exclusion");
    assert_eq!(value["violations"][0]["steps"], 6);
    assert_eq!(value["symmetry_reduction"], false);
    // No violation: 0.
    let (code, out, _) = lamport_ledger(&["explore", "scenarios/explore/reorder-2-fifo.json"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("complete: every reachable state explored"),
        "{out}"
    );
    // The TLA+ model: 0 under FIFO, 1 with bags.
    let (code, out, _) = lamport_ledger(&TLA_TWO_CLIENTS);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = lamport_ledger(&[&TLA_TWO_CLIENTS[..], &["--bag"]].concat());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("State 1: <Initial predicate>"), "{out}");
    assert!(out.contains("/\\ crit = {1, 2}"), "{out}");
    // Bad input: 2, one sentence naming the file and position.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"scenario\": \"x.json\", \"chanels\": \"bag\"}").unwrap();
    let (code, _, err) = lamport_ledger(&["explore", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.json:1:"), "{err}");
    assert!(err.contains("chanels"), "{err}");
    let (code, _, err) = lamport_ledger(&["explore", "--model", "tlaplus-lamport-mutex"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--clients"), "{err}");
    let (code, _, _) = lamport_ledger(&["explore"]);
    assert_eq!(code, 2);
}

#[test]
fn scenario_paths_resolve_against_the_exploration_file() {
    let setup = setup("scenarios/explore/reorder-2-bag.json");
    assert_eq!(setup.scenario.name, "reorder-2");
    assert!(
        setup
            .system
            .link_list()
            .iter()
            .all(|&(from, to)| !setup.system.rule(from, to).fifo)
    );
    assert!(Path::new(&setup.source).ends_with("reorder-2-bag.json"));
}

#[test]
fn a_search_cut_short_says_so_on_its_verdict() {
    let verdict = |args: &[&str]| {
        let (code, out, err) = lamport_ledger(args);
        assert_eq!(code, 0, "{out}{err}");
        let line = out.lines().find(|line| line.starts_with("verdict:"));
        line.expect("a verdict line").to_string()
    };
    let fifo = "scenarios/explore/reorder-2-fifo.json";
    let complete = verdict(&["explore", fifo]);
    assert!(
        complete.contains("OK: no invariant is violated"),
        "{complete}"
    );
    assert!(!complete.contains("INCOMPLETE"), "{complete}");
    let expected = |args: &[&str]| {
        let (_, out, _) = lamport_ledger(args);
        let line = out.lines().find(|line| line.starts_with("expected:"));
        line.expect("an expected line").to_string()
    };
    assert!(expected(&["explore", fifo]).ends_with("): matched"));
    let capped = expected(&["explore", fifo, "--max-states", "10"]);
    assert!(
        capped.ends_with("): matched as far as explored (INCOMPLETE)"),
        "{capped}"
    );
    let capped = verdict(&["explore", fifo, "--max-states", "10"]);
    assert!(
        capped.contains("OK as far as explored")
            && capped.contains("in the 10 states explored (INCOMPLETE: stopped at --max-states)"),
        "{capped}"
    );
    let shallow = verdict(&["explore", fifo, "--max-depth", "2"]);
    assert!(
        shallow.contains("(INCOMPLETE: states beyond --max-depth"),
        "{shallow}"
    );
    let tla = TLA_TWO_CLIENTS;
    let tla_complete = verdict(&tla);
    assert!(tla_complete.ends_with("OK: no invariant is violated and no deadlock"));
    let tla_capped = verdict(&[&tla[..], &["--max-states", "10"]].concat());
    assert!(tla_capped.contains("OK as far as explored"), "{tla_capped}");
}
