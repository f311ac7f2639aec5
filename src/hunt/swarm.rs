//! Swarm testing: each seed draws its own configuration within the scenario's `swarm` bounds
//! (client count, latency model and bounds, FIFO or not, loss and duplication ratios,
//! partitions, crashes, workload size, critical-section length), then runs it with the same
//! seed. Like TigerBeetle's and FoundationDB's swarm testing, this explores corners that one
//! fixed configuration never reaches. The draw comes from its own ChaCha8 stream, so it is as
//! reproducible as the run: `run --swarm --seed S` rebuilds the same configuration.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::protocol::ClientId;
use crate::scenario::{
    CrashSpec, DEFAULT_BALANCE, FaultsSpec, GeneratedSpec, Keep, LatencySpec, NetworkSpec,
    PartitionSpec, Ratio, Scenario, ScheduleSpec, SwarmSpec,
};
use crate::sim::rng::{Stream, stream_rng};
use crate::wording::{count, count_as};

/// The configuration seed `seed` draws from `base`'s swarm bounds, or `None` when `base` has
/// no `swarm` section. Protocol, mutations, `expect` and limits come from `base`.
pub fn draw(base: &Scenario, seed: u64) -> Option<Scenario> {
    let bounds = base.swarm.as_ref()?;
    let mut rng = stream_rng(seed, Stream::Swarm);
    let clients = rng.random_range(bounds.clients.0..=bounds.clients.1);
    let latency = draw_latency(bounds.latency_us, &mut rng);
    let latency_max = match latency {
        LatencySpec::Constant { us } => us,
        LatencySpec::Uniform { max_us, .. } => max_us,
        LatencySpec::Exponential { mean_us, .. } => mean_us.saturating_mul(3),
    };
    let network = NetworkSpec {
        latency,
        fifo: bounds.fifo[rng.random_range(0..bounds.fifo.len())],
        links: Vec::new(),
        drop_ratio: draw_ratio(bounds.drop_ratio_max, &mut rng),
        duplicate_ratio: draw_ratio(bounds.duplicate_ratio_max, &mut rng),
    };
    let cs_us = rng.random_range(bounds.cs_us.0..=bounds.cs_us.1);
    let transfers = rng.random_range(bounds.transfers.0..=bounds.transfers.1);
    // Roughly how long the workload keeps the mutex busy: faults fall inside it.
    let round_us = cs_us.saturating_add(latency_max.saturating_mul(3)).max(1);
    let horizon_us = transfers
        .saturating_mul(round_us)
        .min(base.limits.max_time_us / 2)
        .max(1);
    let generated = GeneratedSpec {
        count: transfers,
        start_us: 0,
        gap: LatencySpec::Uniform {
            min_us: 0,
            max_us: round_us.saturating_mul(2),
        },
        amount_min: 1,
        amount_max: 5,
        payers: None,
        payees: None,
    };
    let faults = FaultsSpec {
        partitions: draw_partitions(bounds, clients, horizon_us, &mut rng),
        crashes: draw_crashes(bounds, clients, horizon_us, &mut rng),
    };
    let mut drawn = Scenario {
        name: format!("{}-swarm", base.name),
        description: String::new(),
        seed,
        clients,
        initial_balances: vec![DEFAULT_BALANCE; clients as usize],
        network,
        transfers: Vec::new(),
        balance_reads: Vec::new(),
        generated: Some(generated),
        faults,
        schedule: ScheduleSpec::default(),
        swarm: None,
        cs_us,
        ..base.clone()
    };
    drawn.description = format!(
        "Drawn by swarm seed {seed} from {}: {}.",
        base.source,
        describe(&drawn)
    );
    Some(drawn)
}

/// The drawn configuration in one line, as printed with every failure.
pub fn describe(scenario: &Scenario) -> String {
    let network = &scenario.network;
    let latency = match network.latency {
        LatencySpec::Constant { us } => format!("constant {us}us"),
        LatencySpec::Uniform { min_us, max_us } => format!("uniform {min_us}..{max_us}us"),
        LatencySpec::Exponential { min_us, mean_us } => {
            format!("exponential min {min_us}us mean {mean_us}us")
        }
    };
    format!(
        "{}, latency {latency}, FIFO {}, drop {}/{}, duplicate {}/{}, {}, {}, {}, cs {}us",
        count(scenario.clients, "client"),
        if network.fifo { "on" } else { "off" },
        network.drop_ratio.numerator,
        network.drop_ratio.denominator,
        network.duplicate_ratio.numerator,
        network.duplicate_ratio.denominator,
        count(scenario.faults.partitions.len(), "partition"),
        count_as(scenario.faults.crashes.len(), "crash", "crashes"),
        count(scenario.transfer_count(), "transfer"),
        scenario.cs_us
    )
}

fn draw_latency((low, high): (u64, u64), rng: &mut ChaCha8Rng) -> LatencySpec {
    let kind = rng.random_range(0..3u8);
    let (a, b) = (rng.random_range(low..=high), rng.random_range(low..=high));
    let (small, large) = (a.min(b), a.max(b));
    match kind {
        0 => LatencySpec::Constant { us: small },
        1 => LatencySpec::Uniform {
            min_us: small,
            max_us: large,
        },
        _ => LatencySpec::Exponential {
            min_us: small,
            mean_us: large,
        },
    }
}

fn draw_ratio(max: Ratio, rng: &mut ChaCha8Rng) -> Ratio {
    Ratio {
        numerator: rng.random_range(0..=max.numerator),
        denominator: max.denominator.max(1),
    }
}

fn draw_partitions(
    bounds: &SwarmSpec,
    clients: u32,
    horizon_us: u64,
    rng: &mut ChaCha8Rng,
) -> Vec<PartitionSpec> {
    if clients < 2 {
        return Vec::new();
    }
    let count = rng.random_range(0..=bounds.partitions_max);
    (0..count)
        .map(|_| {
            let at_us = rng.random_range(0..horizon_us);
            let heal_us = at_us + rng.random_range(1..=horizon_us);
            // Every client on a random side; client 1 and one other fixed so no side is empty.
            let other = rng.random_range(2..=clients);
            let mut groups = vec![vec![ClientId::new(1)], vec![ClientId::new(other)]];
            for id in (2..=clients).filter(|&id| id != other) {
                groups[rng.random_range(0..2usize)].push(ClientId::new(id));
            }
            groups.iter_mut().for_each(|group| group.sort_unstable());
            PartitionSpec {
                at_us,
                heal_us: Some(heal_us),
                groups,
                one_way: rng.random_range(0..2u8) == 1,
            }
        })
        .collect()
}

/// At most one crash per client, always with a restart, so down times never overlap.
fn draw_crashes(
    bounds: &SwarmSpec,
    clients: u32,
    horizon_us: u64,
    rng: &mut ChaCha8Rng,
) -> Vec<CrashSpec> {
    let count = rng.random_range(0..=bounds.crashes_max).min(clients);
    let mut candidates: Vec<ClientId> = ClientId::all(clients).collect();
    (0..count)
        .map(|_| {
            let client = candidates.remove(rng.random_range(0..candidates.len()));
            let at_us = rng.random_range(0..horizon_us);
            let restart_us = Some(at_us + rng.random_range(1..=horizon_us));
            let keep = if rng.random_range(0..2u8) == 0 {
                Keep::Ledger
            } else {
                Keep::Nothing
            };
            CrashSpec {
                client,
                at_us,
                restart_us,
                keep,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_scenario;

    fn base() -> Scenario {
        let text = r#"{
            "name": "swarm-base", "clients": 2,
            "swarm": {"clients": [2, 5], "latency_us": [100, 9000], "drop_ratio_max": [1, 10],
                      "duplicate_ratio_max": [1, 10], "partitions_max": 2, "crashes_max": 2,
                      "transfers": [1, 30], "cs_us": [0, 4000]}
        }"#;
        parse_scenario(text, "base.json").unwrap()
    }

    #[test]
    fn draws_stay_within_bounds_and_are_valid_scenarios() {
        let base = base();
        for seed in 0..300 {
            let drawn = draw(&base, seed).unwrap();
            assert!((2..=5).contains(&drawn.clients));
            assert!((1..=30).contains(&drawn.transfer_count()));
            assert!(
                drawn.network.drop_ratio.numerator <= 1
                    && drawn.network.drop_ratio.denominator == 10
            );
            assert!(drawn.faults.partitions.len() <= 2 && drawn.faults.crashes.len() <= 2);
            // What was drawn passes the same validation as a hand-written file.
            let text = serde_json::to_string(&drawn.to_file()).unwrap();
            let reparsed =
                parse_scenario(&text, "drawn.json").unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert_eq!(reparsed.clients, drawn.clients);
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_configuration_and_seeds_differ() {
        let base = base();
        assert_eq!(draw(&base, 7), draw(&base, 7));
        let distinct: std::collections::BTreeSet<String> = (0..20)
            .map(|seed| describe(&draw(&base, seed).unwrap()))
            .collect();
        assert!(distinct.len() > 10, "{distinct:?}");
    }

    #[test]
    fn a_tiny_time_limit_still_draws_valid_fault_times() {
        let text = r#"{"name": "tiny", "clients": 2, "limits": {"max_time_us": 1},
                      "swarm": {"partitions_max": 3, "crashes_max": 2}}"#;
        let base = parse_scenario(text, "tiny.json").unwrap();
        for seed in 0..50 {
            let drawn = draw(&base, seed).unwrap();
            let text = serde_json::to_string(&drawn.to_file()).unwrap();
            parse_scenario(&text, "drawn.json").unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
    }

    #[test]
    fn no_swarm_section_no_draw() {
        let plain = parse_scenario(r#"{"name": "plain", "clients": 2}"#, "plain.json").unwrap();
        assert_eq!(draw(&plain, 1), None);
    }
}
