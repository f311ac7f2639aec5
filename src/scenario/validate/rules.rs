//! Stage 3: the semantic rules over the typed values (ranges, cross-field rules), then the
//! validated scenario. Each problem names its path; the caller finds it in the text.

use std::collections::BTreeSet;
use std::fmt;

use super::locate::{self, Path};
use super::network::{check_network, check_schedule};
use super::workload::{check_faults, check_swarm, check_workload};
use super::{MAX_BALANCE, MAX_CLIENTS, MAX_DELAY_US, MAX_EVENTS, MAX_TIME_US, ONE_HOUR, Problem};
use crate::json_message::shown;
use crate::protocol::{Amount, ClientId};
use crate::scenario::MAX_MEMORY_MIB;
use crate::scenario::memory::human_bytes;
use crate::scenario::{
    DEFAULT_BALANCE, Expect, ExpectedOutcome, Limits, Mutation, NodeProgram, Scenario,
    ScenarioFile, WorkloadSpec,
};

pub(super) type Check = Result<(), Problem>;

pub(super) fn validate(
    file: ScenarioFile,
    text: &str,
    source_name: &str,
    max_transfers: usize,
) -> Result<Scenario, Problem> {
    let root = Path::root();
    if file.name.trim().is_empty() {
        let message = "the name must not be empty: give the scenario a short name such as \
                       \"reorder-2\"";
        return Err(Problem::value(root.at("name"), message));
    }
    let clients = file.clients;
    if !(1..=MAX_CLIENTS).contains(&clients) {
        let message = between("the number of clients", 1, MAX_CLIENTS, clients);
        return Err(Problem::value(root.at("clients"), message));
    }
    check_limits(&file.limits)?;
    let initial_balances = initial_balances(&file, text)?;
    check_network(&file.network, clients)?;
    check_workload(
        &file.workload,
        clients,
        file.limits.max_time_us,
        max_transfers,
    )?;
    check_faults(&file.faults, clients, file.limits.max_time_us)?;
    check_schedule(&file.schedule, clients)?;
    if let Some(swarm) = &file.swarm {
        check_swarm(swarm)?;
    }
    let mut seen = BTreeSet::new();
    for (i, mutation) in file.mutations.iter().enumerate() {
        if !seen.insert(*mutation) {
            let message = format!("the mutation `{}` is listed twice", mutation.name());
            return Err(Problem::value(root.at("mutations").at(i), message));
        }
    }
    if file.cs_us > MAX_DELAY_US {
        let message = at_most("the time in the critical section", ONE_HOUR, file.cs_us);
        return Err(Problem::value(root.at("cs_us"), message));
    }
    if let Some(Expect {
        outcome: ExpectedOutcome::Ok,
        invariant: Some(_),
    }) = file.expect
    {
        let message = "an expected invariant only goes with \"outcome\": \"violation\"; remove \
                       `invariant` or expect a violation";
        return Err(Problem::value(root.at("expect").at("invariant"), message));
    }

    if let Some(node) = &file.node {
        check_node(node, clients, &file.mutations)?;
    }
    let WorkloadSpec {
        mut transfers,
        mut balance_reads,
        generated,
    } = file.workload;
    // Stable sorts: file order among equal times.
    transfers.sort_by_key(|t| t.at_us);
    balance_reads.sort_by_key(|r| r.at_us);
    let scenario = Scenario {
        source: source_name.to_string(),
        name: file.name,
        description: file.description,
        seed: file.seed,
        clients,
        initial_balances,
        network: file.network,
        transfers,
        balance_reads,
        generated,
        faults: file.faults,
        schedule: file.schedule,
        swarm: file.swarm,
        cs_us: file.cs_us,
        protocol: file.protocol,
        mutations: file.mutations,
        expect: file.expect,
        limits: file.limits,
        node: file.node,
    };
    check_memory(&scenario)?;
    Ok(scenario)
}

pub(super) fn between(
    what: &str,
    low: impl fmt::Display,
    high: impl fmt::Display,
    found: impl fmt::Display,
) -> String {
    format!("{what} must be between {low} and {high}, not {found}")
}

pub(super) fn at_most(what: &str, high: impl fmt::Display, found: u64) -> String {
    format!("{what} must be at most {high}, not {found}")
}

/// Checks that `id` names a client.
pub(super) fn check_id(path: Path, what: &str, id: ClientId, clients: u32) -> Check {
    if id.is_among(clients) {
        return Ok(());
    }
    let message = format!("{what} must be a client id between 1 and {clients}, not {id}");
    Err(Problem::value(path, message))
}

/// The most clients a scenario played by programs may have: one process each.
pub(crate) const MAX_NODE_PROCESSES: u32 = 64;

/// A node program: a command, a deadline within reason, few enough processes, and no
/// mutation (those change the built-in client; a program has its own bugs).
fn check_node(node: &NodeProgram, clients: u32, mutations: &[Mutation]) -> Check {
    let path = Path::root().at("node");
    if node.cmd.trim().is_empty() {
        let message = "the node command must not be empty: give the program to run, such as \
                       \"python3 examples/python/lamport_client.py\"";
        return Err(Problem::value(path.at("cmd"), message));
    }
    if !(1..=3_600_000).contains(&node.step_timeout_ms) {
        let message = between("step_timeout_ms", 1, 3_600_000, node.step_timeout_ms);
        return Err(Problem::value(path.at("step_timeout_ms"), message));
    }
    if clients > MAX_NODE_PROCESSES {
        let message = format!(
            "a scenario played by a node program has at most {MAX_NODE_PROCESSES} clients (one \
             process each), not {clients}"
        );
        return Err(Problem::value(Path::root().at("clients"), message));
    }
    if !mutations.is_empty() {
        let message = "mutations change the built-in client; a node program has none: remove \
                       `mutations` or `node`";
        return Err(Problem::value(Path::root().at("mutations"), message));
    }
    Ok(())
}

pub(super) fn check_limits(limits: &Limits) -> Check {
    let path = Path::root().at("limits");
    if !(1..=MAX_EVENTS).contains(&limits.max_events) {
        let message = between("max_events", 1, MAX_EVENTS, limits.max_events);
        return Err(Problem::value(path.at("max_events"), message));
    }
    if !(1..=MAX_TIME_US).contains(&limits.max_time_us) {
        let message = between("max_time_us", 1, MAX_TIME_US, limits.max_time_us);
        return Err(Problem::value(path.at("max_time_us"), message));
    }
    if !(1..=MAX_MEMORY_MIB).contains(&limits.max_memory_mib) {
        let message = between("max_memory_mib", 1, MAX_MEMORY_MIB, limits.max_memory_mib);
        return Err(Problem::value(path.at("max_memory_mib"), message));
    }
    Ok(())
}

/// Refuses a scenario whose run is estimated to need more memory than its budget, naming
/// what makes it large: the clients alone, or the workload that keeps many of them busy.
pub(super) fn check_memory(scenario: &Scenario) -> Check {
    let estimate = scenario.memory_estimate();
    let budget_mib = scenario.limits.max_memory_mib;
    if estimate.total_bytes() <= scenario.memory_budget_bytes() {
        return Ok(());
    }
    let clients = scenario.clients;
    let over = format!(
        "more than limits.max_memory_mib allows ({budget_mib} MiB); raise limits.max_memory_mib \
         to run it"
    );
    let root = Path::root();
    if estimate.fixed_bytes > scenario.memory_budget_bytes() {
        let message = format!(
            "{clients} clients need about {} for their tables alone (it grows with the square \
             of the number of clients), {over}",
            human_bytes(estimate.fixed_bytes)
        );
        return Err(Problem::value(root.at("clients"), message));
    }
    let mut parts = vec![format!(
        "{} of client state",
        human_bytes(estimate.fixed_bytes)
    )];
    if estimate.messages_bytes > 0 {
        parts.push(format!(
            "{} for up to {} messages in flight when {} payers ask for the mutex at once",
            human_bytes(estimate.messages_bytes),
            estimate.messages_in_flight,
            estimate.concurrent_payers
        ));
    }
    if estimate.blocks_bytes > 0 {
        parts.push(format!(
            "{} for ledger blocks that a crash keeps to the end",
            human_bytes(estimate.blocks_bytes)
        ));
    }
    let message = format!(
        "this workload among {clients} clients needs about {} ({}), {over}",
        human_bytes(estimate.total_bytes()),
        parts.join(", ")
    );
    Err(Problem::value(root.at("workload"), message))
}

/// The initial balances as a vector indexed `id - 1`, checked in file order.
pub(super) fn initial_balances(file: &ScenarioFile, text: &str) -> Result<Vec<Amount>, Problem> {
    let clients = file.clients;
    let mut balances = vec![DEFAULT_BALANCE; clients as usize];
    let Some(given) = &file.initial_balances else {
        return Ok(balances);
    };
    let base = Path::root().at("initial_balances");
    // The keys in file order, duplicates kept (the map kept only the last of each).
    let keys: Vec<String> = locate::find_value(text, &base)
        .and_then(|at| locate::members(text, at))
        .map(|members| members.into_iter().map(|m| m.key).collect())
        .unwrap_or_else(|| given.keys().cloned().collect());
    let mut seen = BTreeSet::new();
    for key in &keys {
        let path = base.at(key.as_str());
        if !seen.insert(key.as_str()) {
            let message = format!(
                "client {} is given twice; give each client one balance",
                shown(key)
            );
            return Err(Problem::key(path, message));
        }
        let Some(id) = parse_id(key) else {
            let message = format!(
                "\"{}\" is not a client id: the keys here are client ids written in decimal \
                 without leading zeros, from 1 to {clients}",
                shown(key)
            );
            return Err(Problem::key(path, message));
        };
        if !id.is_among(clients) {
            let message = format!("there is no client {id}: the clients are 1 to {clients}");
            return Err(Problem::key(path, message));
        }
        let Some(&balance) = given.get(key) else {
            continue;
        };
        if balance > MAX_BALANCE {
            return Err(Problem::value(
                path,
                between("a balance", 0, MAX_BALANCE, balance),
            ));
        }
        balances[id.index()] = balance;
    }
    if !total_fits(&balances) {
        let message = format!("the initial balances add up to more than {}", u64::MAX / 2);
        return Err(Problem::value(base, message));
    }
    Ok(balances)
}

/// A canonical decimal id: digits, no sign, no leading zero (so "01" cannot alias "1").
pub(super) fn parse_id(key: &str) -> Option<ClientId> {
    let canonical = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'));
    canonical
        .then(|| key.parse().ok().map(ClientId::new))
        .flatten()
}

/// The total money must stay far from overflow: at most `u64::MAX / 2`. (With the per-balance
/// and client-count bounds it always does; the check guards against those bounds changing.)
pub(super) fn total_fits(balances: &[Amount]) -> bool {
    balances.iter().map(|&b| u128::from(b)).sum::<u128>() <= u128::from(u64::MAX / 2)
}

/// A time that must come after `start_us` (and stay within the largest time limit).
pub(super) fn check_later(path: Path, what: &str, start_us: u64, time_us: u64) -> Check {
    if time_us <= start_us || time_us > MAX_TIME_US {
        let low = format!("at_us + 1 ({})", start_us.saturating_add(1));
        return Err(Problem::value(
            path,
            between(what, low, MAX_TIME_US, time_us),
        ));
    }
    Ok(())
}

/// `payers` or `payees`: non-empty, every id a client, no id twice.
pub(super) fn check_id_list(
    path: &Path,
    ids: &[ClientId],
    clients: u32,
    who: &str,
    role: &str,
) -> Check {
    let name = path.last_key().unwrap_or_default();
    if ids.is_empty() {
        let message = format!(
            "{name} must name at least one client; leave it out to let every client {role}"
        );
        return Err(Problem::value(path.clone(), message));
    }
    let mut seen = BTreeSet::new();
    for (i, &id) in ids.iter().enumerate() {
        check_id(path.at(i), who, id, clients)?;
        if !seen.insert(id) {
            let message = format!("client {id} is listed twice in {name}");
            return Err(Problem::value(path.at(i), message));
        }
    }
    Ok(())
}
