//! The rules of what happens during a run: the workload (transfers, balance reads, generated
//! transfers), the faults (partitions, crashes) and the swarm's ranges.

use std::collections::{BTreeMap, BTreeSet};

use super::locate::Path;
use super::network::{check_latency, check_ratio};
use super::rules::{Check, at_most, between, check_id, check_id_list, check_later};
use super::{MAX_AMOUNT, MAX_GENERATED, MAX_READ_TIME_US, Problem};
use crate::protocol::ClientId;
use crate::scenario::{FaultsSpec, SwarmSpec, WorkloadSpec};

/// Swarm bounds: ranges in order and within the limits of hand-written scenarios.
pub(super) fn check_swarm(swarm: &SwarmSpec) -> Check {
    let path = Path::root().at("swarm");
    let ranges: [(&str, (u64, u64), u64, u64); 4] = [
        (
            "clients",
            (u64::from(swarm.clients.0), u64::from(swarm.clients.1)),
            2,
            1000,
        ),
        ("latency_us", swarm.latency_us, 0, 3_600_000_000),
        ("transfers", swarm.transfers, 1, 1_000_000),
        ("cs_us", swarm.cs_us, 0, 3_600_000_000),
    ];
    for (field, (low, high), min, max) in ranges {
        if low > high {
            let message = format!("the range [{low}, {high}] must have its minimum first");
            return Err(Problem::value(path.at(field), message));
        }
        if low < min || high > max {
            let message = between(
                &format!("the range of {field}"),
                min,
                max,
                format!("[{low}, {high}]"),
            );
            return Err(Problem::value(path.at(field), message));
        }
    }
    if swarm.fifo.is_empty() {
        let message =
            "list at least one FIFO setting to draw from: [true], [false] or [true, false]";
        return Err(Problem::value(path.at("fifo"), message));
    }
    check_ratio(&swarm.drop_ratio_max, &path.at("drop_ratio_max"))?;
    check_ratio(&swarm.duplicate_ratio_max, &path.at("duplicate_ratio_max"))?;
    for (field, value) in [
        ("partitions_max", swarm.partitions_max),
        ("crashes_max", swarm.crashes_max),
    ] {
        if value > 16 {
            return Err(Problem::value(
                path.at(field),
                at_most(field, 16, u64::from(value)),
            ));
        }
    }
    Ok(())
}

pub(super) fn check_faults(faults: &FaultsSpec, clients: u32, max_time_us: u64) -> Check {
    let path = Path::root().at("faults");
    let time_limit = format!("limits.max_time_us ({max_time_us})");
    for (i, partition) in faults.partitions.iter().enumerate() {
        let at = path.at("partitions").at(i);
        if partition.at_us > max_time_us {
            let message = between("the time at_us", 0, &time_limit, partition.at_us);
            return Err(Problem::value(at.at("at_us"), message));
        }
        if let Some(heal_us) = partition.heal_us {
            check_later(at.at("heal_us"), "heal_us", partition.at_us, heal_us)?;
        }
        let groups = at.at("groups");
        if partition.groups.len() < 2 {
            let message = "a partition needs at least two groups: the clients on each side";
            return Err(Problem::value(groups, message));
        }
        if partition.one_way && partition.groups.len() != 2 {
            let message = format!(
                "a one-way partition has exactly two groups (messages from the first to the \
                 second are lost), not {}",
                partition.groups.len()
            );
            return Err(Problem::value(groups, message));
        }
        let mut group_of: BTreeMap<ClientId, usize> = BTreeMap::new();
        for (g, group) in partition.groups.iter().enumerate() {
            if group.is_empty() {
                let message = "a group must name at least one client";
                return Err(Problem::value(groups.at(g), message));
            }
            for (k, &id) in group.iter().enumerate() {
                let member = groups.at(g).at(k);
                check_id(member.clone(), "a group member", id, clients)?;
                if let Some(first) = group_of.insert(id, g) {
                    let message = if first == g {
                        format!("client {id} is listed twice in this group")
                    } else {
                        format!(
                            "client {id} is already in groups[{first}]; a client can be in one group only"
                        )
                    };
                    return Err(Problem::value(member, message));
                }
            }
        }
    }
    for (i, crash) in faults.crashes.iter().enumerate() {
        let at = path.at("crashes").at(i);
        check_id(
            at.at("client"),
            "the crashing client",
            crash.client,
            clients,
        )?;
        if crash.at_us > max_time_us {
            let message = between("the time at_us", 0, &time_limit, crash.at_us);
            return Err(Problem::value(at.at("at_us"), message));
        }
        if let Some(restart_us) = crash.restart_us {
            check_later(at.at("restart_us"), "restart_us", crash.at_us, restart_us)?;
        }
    }
    // One client's down times (crash to restart, or for good) must not overlap: sorted by
    // client and start, each must begin after every earlier one has ended.
    let mut order: Vec<usize> = (0..faults.crashes.len()).collect();
    order.sort_by_key(|&i| (faults.crashes[i].client, faults.crashes[i].at_us, i));
    let mut previous: Option<(ClientId, usize)> = None;
    for &i in &order {
        let crash = &faults.crashes[i];
        if let Some((client, j)) = previous.filter(|&(client, _)| client == crash.client) {
            let earlier = &faults.crashes[j];
            if earlier
                .restart_us
                .is_none_or(|restart| crash.at_us <= restart)
            {
                let until = match earlier.restart_us {
                    Some(t) => format!("until it restarts at {t}"),
                    None => "for good".to_string(),
                };
                let message = format!(
                    "client {client} is already down from {} {until} (faults.crashes[{j}]); one \
                     client's crashes must not overlap",
                    earlier.at_us
                );
                return Err(Problem::value(
                    path.at("crashes").at(i).at("at_us"),
                    message,
                ));
            }
        }
        // No overlap: this crash starts after the previous one ended, so it ends last.
        previous = Some((crash.client, i));
    }
    Ok(())
}

pub(super) fn check_workload(
    workload: &WorkloadSpec,
    clients: u32,
    max_time_us: u64,
    max_transfers: usize,
) -> Check {
    let path = Path::root().at("workload");
    let transfers = path.at("transfers");
    if workload.transfers.len() > max_transfers {
        let message = format!(
            "a scenario may list at most {max_transfers} transfers; use workload.generated for \
             longer workloads"
        );
        return Err(Problem::value(transfers.at(max_transfers), message));
    }
    let time_limit = format!("limits.max_time_us ({max_time_us})");
    for (i, transfer) in workload.transfers.iter().enumerate() {
        let at = transfers.at(i);
        if transfer.at_us > max_time_us {
            let message = between("the time at_us", 0, &time_limit, transfer.at_us);
            return Err(Problem::value(at.at("at_us"), message));
        }
        check_id(at.at("from"), "the payer (from)", transfer.from, clients)?;
        check_id(at.at("to"), "the payee (to)", transfer.to, clients)?;
        if transfer.to == transfer.from {
            let message = format!(
                "a client cannot transfer to itself, but from and to are both {}",
                transfer.from
            );
            return Err(Problem::value(at.at("to"), message));
        }
        if !(1..=MAX_AMOUNT).contains(&transfer.amount) {
            let message = between("the amount", 1, MAX_AMOUNT, transfer.amount);
            return Err(Problem::value(at.at("amount"), message));
        }
    }
    for (i, read) in workload.balance_reads.iter().enumerate() {
        let at = path.at("balance_reads").at(i);
        if read.at_us > MAX_READ_TIME_US {
            let message = between("the time at_us", 0, MAX_READ_TIME_US, read.at_us);
            return Err(Problem::value(at.at("at_us"), message));
        }
        check_id(at.at("client"), "the reading client", read.client, clients)?;
        check_id(at.at("of"), "the client read (of)", read.of, clients)?;
    }
    let Some(generated) = &workload.generated else {
        return Ok(());
    };
    let path = path.at("generated");
    if generated.count > MAX_GENERATED {
        let message = at_most("count", MAX_GENERATED, generated.count);
        return Err(Problem::value(path.at("count"), message));
    }
    if generated.start_us > max_time_us {
        let message = between("start_us", 0, &time_limit, generated.start_us);
        return Err(Problem::value(path.at("start_us"), message));
    }
    check_latency(&generated.gap, &path.at("gap"))?;
    if !(1..=MAX_AMOUNT).contains(&generated.amount_min) {
        let message = between("amount_min", 1, MAX_AMOUNT, generated.amount_min);
        return Err(Problem::value(path.at("amount_min"), message));
    }
    if !(generated.amount_min..=MAX_AMOUNT).contains(&generated.amount_max) {
        let low = format!("amount_min ({})", generated.amount_min);
        let message = between("amount_max", low, MAX_AMOUNT, generated.amount_max);
        return Err(Problem::value(path.at("amount_max"), message));
    }
    let payers_path = path.at("payers");
    let payees_path = path.at("payees");
    if let Some(payers) = &generated.payers {
        check_id_list(&payers_path, payers, clients, "a payer", "pay")?;
    }
    if let Some(payees) = &generated.payees {
        check_id_list(&payees_path, payees, clients, "a payee", "be paid")?;
    }
    // Every payer needs a payee other than itself; only a single distinct payee can fail that.
    let payees: BTreeSet<ClientId> = match &generated.payees {
        Some(payees) => payees.iter().copied().collect(),
        None => ClientId::all(clients).collect(),
    };
    let mut only = payees.iter();
    if let (Some(&only_payee), None) = (only.next(), only.next()) {
        match &generated.payers {
            Some(payers) => {
                if let Some(i) = payers.iter().position(|&p| p == only_payee) {
                    let message = format!(
                        "client {only_payee} pays but has no payee other than itself; add \
                         another client to payees"
                    );
                    return Err(Problem::value(payers_path.at(i), message));
                }
            }
            None if generated.payees.is_some() => {
                let message = format!(
                    "every client pays when payers is left out, but client {only_payee} has no \
                     payee other than itself; list the payers or add another payee"
                );
                return Err(Problem::value(payees_path, message));
            }
            None => {
                let message = "a generated workload needs at least two clients, so that a \
                               payer has someone else to pay";
                return Err(Problem::value(path, message));
            }
        }
    }
    Ok(())
}
