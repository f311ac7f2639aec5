//! The rules of the network (latencies, loss and duplication ratios, per-link settings) and
//! of the schedule's pinned messages.

use std::collections::BTreeMap;

use super::locate::Path;
use super::rules::{Check, at_most, between, check_id};
use super::{MAX_DELAY_US, ONE_HOUR, Problem};
use crate::protocol::ClientId;
use crate::scenario::{LatencySpec, NetworkSpec, Ratio, ScheduleSpec};

/// One hour: the longest a pinned delay may be.
const MAX_SCHEDULE_DELAY_US: u64 = 3_600_000_000;

pub(super) fn check_latency(spec: &LatencySpec, path: &Path) -> Check {
    let hour = |field: &str, value: u64| {
        if value > MAX_DELAY_US {
            let message = at_most(field, ONE_HOUR, value);
            return Err(Problem::value(path.at(field), message));
        }
        Ok(())
    };
    match *spec {
        LatencySpec::Constant { us } => hour("us", us),
        LatencySpec::Uniform { min_us, max_us } => {
            hour("min_us", min_us)?;
            if max_us < min_us {
                let low = format!("min_us ({min_us})");
                return Err(Problem::value(
                    path.at("max_us"),
                    between("max_us", low, ONE_HOUR, max_us),
                ));
            }
            hour("max_us", max_us)
        }
        LatencySpec::Exponential { min_us, mean_us } => {
            hour("min_us", min_us)?;
            if mean_us < min_us {
                let low = format!("min_us ({min_us})");
                let message = between("mean_us", low, ONE_HOUR, mean_us);
                return Err(Problem::value(path.at("mean_us"), message));
            }
            hour("mean_us", mean_us)
        }
    }
}

pub(super) fn check_network(network: &NetworkSpec, clients: u32) -> Check {
    let path = Path::root().at("network");
    check_latency(&network.latency, &path.at("latency"))?;
    check_ratio(&network.drop_ratio, &path.at("drop_ratio"))?;
    check_ratio(&network.duplicate_ratio, &path.at("duplicate_ratio"))?;
    let mut seen: BTreeMap<(ClientId, ClientId), usize> = BTreeMap::new();
    for (i, link) in network.links.iter().enumerate() {
        let link_path = path.at("links").at(i);
        check_id(link_path.at("from"), "from", link.from, clients)?;
        check_id(link_path.at("to"), "to", link.to, clients)?;
        if link.from == link.to {
            let message = format!(
                "a link joins two different clients, but from and to are both {}",
                link.from
            );
            return Err(Problem::value(link_path.at("to"), message));
        }
        if let Some(first) = seen.insert((link.from, link.to), i) {
            let message = format!(
                "the link {} -> {} is already given by network.links[{first}]; each directed \
                 link may appear once",
                link.from, link.to
            );
            return Err(Problem::value(link_path, message));
        }
        if let Some(latency) = &link.latency {
            check_latency(latency, &link_path.at("latency"))?;
        }
        if let Some(ratio) = &link.drop_ratio {
            check_ratio(ratio, &link_path.at("drop_ratio"))?;
        }
        if let Some(ratio) = &link.duplicate_ratio {
            check_ratio(ratio, &link_path.at("duplicate_ratio"))?;
        }
    }
    Ok(())
}

/// A share `[numerator, denominator]`: a denominator of at least 1 and a numerator at most the
/// denominator.
pub(super) fn check_ratio(ratio: &Ratio, path: &Path) -> Check {
    if ratio.denominator == 0 {
        let message = "the denominator (the second number) must be at least 1";
        return Err(Problem::value(path.at(1), message));
    }
    if ratio.numerator > ratio.denominator {
        let message = format!(
            "a ratio is a share, so the numerator must be at most the denominator ({}), not {}",
            ratio.denominator, ratio.numerator
        );
        return Err(Problem::value(path.at(0), message));
    }
    Ok(())
}

/// Pins: known distinct clients, one fate each (a delay or `drop`), a duplicate only with a
/// delay, sane delays, and one pin per message.
pub(super) fn check_schedule(schedule: &ScheduleSpec, clients: u32) -> Check {
    let path = Path::root().at("schedule").at("messages");
    let mut seen: BTreeMap<(ClientId, ClientId, u64), usize> = BTreeMap::new();
    for (i, pin) in schedule.messages.iter().enumerate() {
        let at = path.at(i);
        check_id(at.at("from"), "the sender", pin.from, clients)?;
        check_id(at.at("to"), "the receiver", pin.to, clients)?;
        if pin.from == pin.to {
            return Err(Problem::value(
                at.at("to"),
                "a client sends no message to itself",
            ));
        }
        match (pin.delay_us, pin.drop) {
            (Some(_), true) => {
                let message =
                    "a pinned message is either delayed (delay_us) or lost (drop), not both";
                return Err(Problem::value(at.at("drop"), message));
            }
            (None, false) => {
                let message = "a pinned message needs delay_us, or \"drop\": true";
                return Err(Problem::value(at, message));
            }
            _ => {}
        }
        if pin.drop && pin.duplicate_delay_us.is_some() {
            let message = "a lost message has no duplicate";
            return Err(Problem::value(at.at("duplicate_delay_us"), message));
        }
        for (field, value) in [
            ("delay_us", pin.delay_us),
            ("duplicate_delay_us", pin.duplicate_delay_us),
        ] {
            if let Some(us) = value.filter(|&us| us > MAX_SCHEDULE_DELAY_US) {
                let message = at_most("a delay", MAX_SCHEDULE_DELAY_US, us);
                return Err(Problem::value(at.at(field), message));
            }
        }
        if let Some(first) = seen.insert((pin.from, pin.to, pin.nth), i) {
            let message = format!(
                "message {} from {} to {} is already pinned by schedule.messages[{first}]",
                pin.nth, pin.from, pin.to
            );
            return Err(Problem::value(at.at("nth"), message));
        }
    }
    Ok(())
}
