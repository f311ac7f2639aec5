//! The network model: per-link latency (constant, uniform, exponential with a minimum), set
//! globally and overridable per directed link, and per-link FIFO on or off.
//!
//! With FIFO on, a message is never delivered before an earlier message on the same link: its
//! delivery time is at least the previous one's, and the event queue's insertion order breaks
//! the tie. With FIFO off, each message takes its own latency and may overtake.

use std::collections::{BTreeMap, HashMap};

use rand::{Rng, RngExt};
use rand_chacha::ChaCha8Rng;

use crate::protocol::ClientId;
use crate::scenario::{LatencySpec, NetworkSpec};

/// How long an exponential delay's random part may be, in multiples of its mean: keeps every
/// delay finite and bounded (the tail beyond has probability e^-64).
const EXPONENTIAL_CAP_MEANS: f64 = 64.0;

/// Draws one delay in microseconds.
pub fn sample_delay(spec: &LatencySpec, rng: &mut ChaCha8Rng) -> u64 {
    match *spec {
        LatencySpec::Constant { us } => us,
        LatencySpec::Uniform { min_us, max_us } => rng.random_range(min_us..=max_us),
        LatencySpec::Exponential { min_us, mean_us } => {
            let extra_mean = mean_us.saturating_sub(min_us);
            if extra_mean == 0 {
                return min_us;
            }
            // u in [0, 1) from the top 53 bits; -ln(1 - u) is exponential with mean 1. libm is
            // a pure-Rust port of musl's, so the result does not depend on the platform.
            let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let extra = -libm::log1p(-unit) * extra_mean as f64;
            let capped = extra.min(EXPONENTIAL_CAP_MEANS * extra_mean as f64);
            min_us + capped as u64
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct LinkModel {
    latency: LatencySpec,
    fifo: bool,
}

/// The simulated network of one run.
pub struct Network {
    default_link: LinkModel,
    /// Directed (from, to) -> model, for the links the scenario overrides.
    overrides: BTreeMap<(ClientId, ClientId), LinkModel>,
    /// FIFO bookkeeping: the latest delivery time scheduled on each link. Only looked up,
    /// never iterated, so its order cannot reach any output.
    last_delivery_us: HashMap<(ClientId, ClientId), u64>,
    rng: ChaCha8Rng,
}

impl Network {
    pub fn new(spec: &NetworkSpec, rng: ChaCha8Rng) -> Self {
        let default_link = LinkModel {
            latency: spec.latency,
            fifo: spec.fifo,
        };
        let overrides = spec
            .links
            .iter()
            .map(|link| {
                let model = LinkModel {
                    latency: link.latency.unwrap_or(default_link.latency),
                    fifo: link.fifo.unwrap_or(default_link.fifo),
                };
                ((link.from, link.to), model)
            })
            .collect();
        Network {
            default_link,
            overrides,
            last_delivery_us: HashMap::new(),
            rng,
        }
    }

    /// When a message sent now on `from` -> `to` arrives.
    pub fn delivery_time(&mut self, from: ClientId, to: ClientId, now_us: u64) -> u64 {
        let link = self.link(from, to);
        let arrival_us = now_us.saturating_add(sample_delay(&link.latency, &mut self.rng));
        if !link.fifo {
            return arrival_us;
        }
        let last = self.last_delivery_us.entry((from, to)).or_insert(0);
        *last = (*last).max(arrival_us);
        *last
    }

    fn link(&self, from: ClientId, to: ClientId) -> LinkModel {
        if self.overrides.is_empty() {
            return self.default_link;
        }
        self.overrides
            .get(&(from, to))
            .copied()
            .unwrap_or(self.default_link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::LinkSpec;
    use crate::sim::rng::{Stream, stream_rng};

    fn network(latency: LatencySpec, fifo: bool, links: Vec<LinkSpec>) -> Network {
        Network::new(
            &NetworkSpec {
                latency,
                fifo,
                links,
            },
            stream_rng(3, Stream::Network),
        )
    }

    #[test]
    fn uniform_delays_stay_within_bounds() {
        let mut rng = stream_rng(1, Stream::Network);
        let spec = LatencySpec::Uniform {
            min_us: 100,
            max_us: 200,
        };
        for _ in 0..1000 {
            let delay = sample_delay(&spec, &mut rng);
            assert!((100..=200).contains(&delay), "{delay}");
        }
    }

    #[test]
    fn exponential_delays_respect_the_minimum_and_the_mean() {
        let mut rng = stream_rng(1, Stream::Network);
        let spec = LatencySpec::Exponential {
            min_us: 1000,
            mean_us: 3000,
        };
        let draws = 20_000u64;
        let total: u64 = (0..draws)
            .map(|_| sample_delay(&spec, &mut rng))
            .inspect(|&d| assert!(d >= 1000))
            .sum();
        let mean = total / draws;
        assert!((2900..=3100).contains(&mean), "mean {mean}");
    }

    #[test]
    fn fifo_links_never_reorder_but_non_fifo_links_do() {
        let spec = LatencySpec::Uniform {
            min_us: 0,
            max_us: 10_000,
        };
        let mut fifo = network(spec, true, vec![]);
        let arrivals: Vec<u64> = (0..200).map(|i| fifo.delivery_time(1, 2, i * 10)).collect();
        assert!(arrivals.windows(2).all(|pair| pair[0] <= pair[1]));

        let mut unordered = network(spec, false, vec![]);
        let arrivals: Vec<u64> = (0..200)
            .map(|i| unordered.delivery_time(1, 2, i * 10))
            .collect();
        assert!(arrivals.windows(2).any(|pair| pair[0] > pair[1]));
    }

    #[test]
    fn a_link_override_applies_to_its_direction_only() {
        let slow = LinkSpec {
            from: 1,
            to: 2,
            latency: Some(LatencySpec::Constant { us: 9000 }),
            fifo: None,
        };
        let mut net = network(LatencySpec::Constant { us: 100 }, true, vec![slow]);
        assert_eq!(net.delivery_time(1, 2, 0), 9000);
        assert_eq!(net.delivery_time(2, 1, 0), 100);
    }
}
