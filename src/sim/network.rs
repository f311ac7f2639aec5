//! The network model: per-link latency (constant, uniform, exponential with a minimum), set
//! globally and overridable per directed link, and per-link FIFO on or off.
//!
//! With FIFO on, a message is never delivered before an earlier message on the same link: its
//! delivery time is at least the previous one's, and the event queue's insertion order breaks
//! the tie. With FIFO off, each message takes its own latency and may overtake.

use std::collections::BTreeMap;
use std::collections::hash_map::Entry;

use rand::{Rng, RngExt};
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap as FastMap;

use crate::protocol::ClientId;
use crate::scenario::{
    EXPONENTIAL_CAP_MEANS, LatencySpec, LinkSettings, NetworkSpec, Partition, PartitionSpec,
    PinnedMessage, Ratio, ScheduleSpec,
};
use crate::trace::DropReason;

use super::rng::uniform_inclusive;

/// Draws one delay in microseconds. Inline (every message sent comes here), the exponential's
/// logarithm out of line.
#[inline]
pub fn sample_delay(spec: &LatencySpec, rng: &mut ChaCha8Rng) -> u64 {
    match *spec {
        LatencySpec::Constant { us } => us,
        LatencySpec::Uniform { min_us, max_us } => uniform_inclusive(rng, min_us, max_us),
        LatencySpec::Exponential { min_us, mean_us } => exponential(min_us, mean_us, rng),
    }
}

#[inline(never)]
fn exponential(min_us: u64, mean_us: u64, rng: &mut ChaCha8Rng) -> u64 {
    let extra_mean = mean_us.saturating_sub(min_us);
    if extra_mean == 0 {
        return min_us;
    }
    // u in [0, 1) from the top 53 bits; -ln(1 - u) is exponential with mean 1. libm is a
    // pure-Rust port of musl's, so the result does not depend on the platform.
    let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let extra = -libm::log1p(-unit) * extra_mean as f64;
    let capped = extra.min(EXPONENTIAL_CAP_MEANS as f64 * extra_mean as f64);
    min_us + capped as u64
}

/// What the network does with one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Lost for this reason.
    Lost(DropReason),
    /// Delivered at this time, and a second time at the other if duplicated.
    Deliver {
        at_us: u64,
        duplicate_at_us: Option<u64>,
    },
}

/// A partition in force: the scenario's `faults.partitions` index, and what it separates.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Cut {
    id: usize,
    partition: Partition,
}

/// `true` with probability `ratio`; draws nothing when the ratio is zero, so adding a zero
/// ratio to a scenario changes no other draw.
fn chance(ratio: Ratio, rng: &mut ChaCha8Rng) -> bool {
    ratio.numerator > 0 && rng.random_range(0..ratio.denominator) < ratio.numerator
}

/// The simulated network of one run.
pub struct Network {
    default_link: LinkSettings,
    /// Directed (from, to) -> model, for the links the scenario overrides.
    overrides: BTreeMap<(ClientId, ClientId), LinkSettings>,
    /// FIFO bookkeeping: the latest delivery time scheduled on each link.
    last_delivery_us: LatestDelivery,
    /// Partitions in force.
    cuts: Vec<Cut>,
    /// Pinned fates by (from, to, nth message on that link).
    pins: BTreeMap<(ClientId, ClientId, u64), PinnedMessage>,
    /// Messages sent so far per link; kept only when there are pins.
    sent_on_link: FastMap<(ClientId, ClientId), u64>,
    rng: ChaCha8Rng,
}

impl Network {
    /// The network among clients `1..=clients`.
    pub fn new(spec: &NetworkSpec, clients: u32, rng: ChaCha8Rng) -> Self {
        let default_link = spec.default_link();
        let overrides = spec.link_overrides().collect();
        Network {
            default_link,
            overrides,
            last_delivery_us: LatestDelivery::new(clients),
            cuts: Vec::new(),
            pins: BTreeMap::new(),
            sent_on_link: FastMap::default(),
            rng,
        }
    }

    /// Fixes the fates of the messages the schedule names.
    pub fn pin(&mut self, schedule: &ScheduleSpec) {
        self.pins = schedule
            .messages
            .iter()
            .map(|pin| ((pin.from, pin.to, pin.nth), *pin))
            .collect();
    }

    /// Starts partition `id`, the scenario's `spec`.
    pub fn cut(&mut self, id: usize, spec: &PartitionSpec) {
        self.cuts.push(Cut {
            id,
            partition: Partition::of(spec),
        });
    }

    /// Ends partition `id`.
    pub fn heal(&mut self, id: usize) {
        self.cuts.retain(|cut| cut.id != id);
    }

    /// What happens to a message sent now on `from` -> `to`: a partition in force loses it;
    /// otherwise the loss ratio, the latency and the duplication ratio decide, in that order.
    /// Inlined into the simulator's loop of every node type: every message takes it.
    #[inline(always)]
    pub fn route(&mut self, from: ClientId, to: ClientId, now_us: u64) -> Route {
        let pin = self.next_pin(from, to);
        if !self.cuts.is_empty() && self.partitioned(from, to) {
            return Route::Lost(DropReason::Partition);
        }
        if let Some(pin) = pin {
            return self.pinned_route(&pin, from, to, now_us);
        }
        // One copy of the link's model for the whole route: this runs for every message.
        let link = *self.link(from, to);
        if chance(link.drop_ratio, &mut self.rng) {
            return Route::Lost(DropReason::Loss);
        }
        let at_us = self.delivery_time_on(&link, from, to, now_us);
        let duplicate_at_us = chance(link.duplicate_ratio, &mut self.rng)
            .then(|| self.delivery_time_on(&link, from, to, now_us));
        Route::Deliver {
            at_us,
            duplicate_at_us,
        }
    }

    /// Whether a partition in force stops messages on `from` -> `to`. Out of line: most runs
    /// have no partition, and their route stays as small as the check for none.
    #[cold]
    #[inline(never)]
    fn partitioned(&self, from: ClientId, to: ClientId) -> bool {
        self.cuts
            .iter()
            .any(|cut| cut.partition.separates(from, to))
    }

    /// When a message sent now on `from` -> `to` arrives.
    pub fn delivery_time(&mut self, from: ClientId, to: ClientId, now_us: u64) -> u64 {
        let link = *self.link(from, to);
        self.delivery_time_on(&link, from, to, now_us)
    }

    #[inline(always)]
    fn delivery_time_on(
        &mut self,
        link: &LinkSettings,
        from: ClientId,
        to: ClientId,
        now_us: u64,
    ) -> u64 {
        let arrival_us = now_us.saturating_add(sample_delay(&link.latency, &mut self.rng));
        self.in_fifo_order(link.fifo, from, to, arrival_us)
    }

    /// On a FIFO link, no earlier than the latest delivery already scheduled on it.
    #[inline]
    fn in_fifo_order(&mut self, fifo: bool, from: ClientId, to: ClientId, arrival_us: u64) -> u64 {
        if !fifo {
            return arrival_us;
        }
        self.last_delivery_us.raise(from, to, arrival_us)
    }

    /// The pin of the message being sent now on `from` -> `to`, if any.
    #[inline(always)]
    fn next_pin(&mut self, from: ClientId, to: ClientId) -> Option<PinnedMessage> {
        if self.pins.is_empty() {
            return None;
        }
        let sent = self.sent_on_link.entry((from, to)).or_insert(0);
        let nth = *sent;
        *sent += 1;
        self.pins.get(&(from, to, nth)).copied()
    }

    /// A pinned fate, still kept in FIFO order on a FIFO link (a pin recorded from a run
    /// already is, so replaying one changes nothing).
    fn pinned_route(
        &mut self,
        pin: &PinnedMessage,
        from: ClientId,
        to: ClientId,
        now_us: u64,
    ) -> Route {
        let Some(delay_us) = pin.delay_us else {
            return Route::Lost(DropReason::Loss);
        };
        let fifo = self.link(from, to).fifo;
        let at_us = self.in_fifo_order(fifo, from, to, now_us.saturating_add(delay_us));
        let duplicate_at_us = pin
            .duplicate_delay_us
            .map(|delay_us| self.in_fifo_order(fifo, from, to, now_us.saturating_add(delay_us)));
        Route::Deliver {
            at_us,
            duplicate_at_us,
        }
    }

    /// A message on `from` -> `to` scheduled for `at_us` arrived. If it was the last one
    /// scheduled on its link, the link's FIFO bookkeeping is dropped: a later send arrives
    /// after now anyway. So the map holds only links with messages in flight, not all N².
    #[inline(always)]
    pub fn delivered(&mut self, from: ClientId, to: ClientId, at_us: u64) {
        self.last_delivery_us.forget_up_to(from, to, at_us);
    }

    fn link(&self, from: ClientId, to: ClientId) -> &LinkSettings {
        if self.overrides.is_empty() {
            return &self.default_link;
        }
        self.overrides
            .get(&(from, to))
            .unwrap_or(&self.default_link)
    }
}

/// Up to this many clients the FIFO bookkeeping is a dense N x N table (32 KiB at 64).
const DENSE_LINK_CLIENTS: u32 = 64;

/// The latest delivery time scheduled on each directed link (0: none in flight, which orders
/// like "no earlier than time 0").
enum LatestDelivery {
    /// Index `(from - 1) * clients + (to - 1)`.
    Dense { clients: usize, at_us: Vec<u64> },
    /// Only the links with messages in flight: N² entries would not fit for thousands of
    /// clients. Only looked up, never iterated, so its order cannot reach any output.
    Sparse(FastMap<(ClientId, ClientId), u64>),
}

impl LatestDelivery {
    fn new(clients: u32) -> Self {
        if clients <= DENSE_LINK_CLIENTS {
            let clients = clients as usize;
            LatestDelivery::Dense {
                clients,
                at_us: vec![0; clients * clients],
            }
        } else {
            LatestDelivery::Sparse(FastMap::default())
        }
    }

    /// Raises the link's latest delivery to at least `arrival_us`; returns the new value.
    /// Inline for the dense table (every message of a small run comes here); the hash map's
    /// code stays out of line so that it does not keep this from inlining.
    #[inline]
    fn raise(&mut self, from: ClientId, to: ClientId, arrival_us: u64) -> u64 {
        let latest = match self {
            LatestDelivery::Dense { clients, at_us } => {
                &mut at_us[from.index() * *clients + to.index()]
            }
            LatestDelivery::Sparse(map) => Self::sparse_entry(map, from, to),
        };
        *latest = (*latest).max(arrival_us);
        *latest
    }

    #[inline(never)]
    fn sparse_entry(
        map: &mut FastMap<(ClientId, ClientId), u64>,
        from: ClientId,
        to: ClientId,
    ) -> &mut u64 {
        map.entry((from, to)).or_insert(0)
    }

    /// A message scheduled for `at_us` arrived now: a link whose latest delivery is no later
    /// has nothing in flight, and a later send arrives after now anyway, so a sparse table
    /// drops the link. (A dense one keeps the value: it can no longer delay anything.)
    #[inline(always)]
    fn forget_up_to(&mut self, from: ClientId, to: ClientId, at_us: u64) {
        if let LatestDelivery::Sparse(map) = self
            && let Entry::Occupied(entry) = map.entry((from, to))
            && *entry.get() <= at_us
        {
            entry.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::LinkSpec;
    use crate::sim::rng::{Stream, stream_rng};

    fn network(latency: LatencySpec, fifo: bool, links: Vec<LinkSpec>) -> Network {
        let spec = NetworkSpec {
            latency,
            fifo,
            links,
            ..NetworkSpec::default()
        };
        Network::new(&spec, 4, stream_rng(3, Stream::Network))
    }

    fn lossy(drop: (u64, u64), duplicate: (u64, u64)) -> Network {
        let spec = NetworkSpec {
            latency: LatencySpec::Constant { us: 10 },
            drop_ratio: drop.into(),
            duplicate_ratio: duplicate.into(),
            ..NetworkSpec::default()
        };
        Network::new(&spec, 4, stream_rng(5, Stream::Network))
    }

    #[test]
    fn loss_and_duplication_follow_their_ratios() {
        let mut net = lossy((1, 4), (1, 10));
        let (mut lost, mut duplicated) = (0, 0);
        for _ in 0..40_000 {
            match net.route(ClientId::new(1), ClientId::new(2), 0) {
                Route::Lost(reason) => {
                    assert_eq!(reason, DropReason::Loss);
                    lost += 1;
                }
                Route::Deliver {
                    duplicate_at_us, ..
                } => duplicated += u32::from(duplicate_at_us.is_some()),
            }
        }
        assert!((9_500..=10_500).contains(&lost), "lost {lost}");
        assert!(
            (2_700..=3_300).contains(&duplicated),
            "duplicated {duplicated}"
        );
        let mut never = lossy((0, 1), (0, 1));
        let always_once = |route| {
            matches!(
                route,
                Route::Deliver {
                    duplicate_at_us: None,
                    ..
                }
            )
        };
        assert!((0..1000).all(|_| always_once(never.route(ClientId::new(1), ClientId::new(2), 0))));
    }

    #[test]
    fn partitions_cut_between_groups_and_heal() {
        let partition = |groups: &[&[u32]], one_way| PartitionSpec {
            at_us: 0,
            heal_us: None,
            groups: groups
                .iter()
                .map(|group| group.iter().map(|&id| ClientId::new(id)).collect())
                .collect(),
            one_way,
        };
        let mut net = lossy((0, 1), (0, 1));
        net.cut(0, &partition(&[&[1, 2], &[3]], false));
        assert_eq!(
            net.route(ClientId::new(1), ClientId::new(3), 0),
            Route::Lost(DropReason::Partition)
        );
        assert_eq!(
            net.route(ClientId::new(3), ClientId::new(2), 0),
            Route::Lost(DropReason::Partition)
        );
        assert!(matches!(
            net.route(ClientId::new(1), ClientId::new(2), 0),
            Route::Deliver { .. }
        ));
        assert!(
            matches!(
                net.route(ClientId::new(4), ClientId::new(3), 0),
                Route::Deliver { .. }
            ),
            "client 4 is in no group"
        );
        net.heal(0);
        assert!(matches!(
            net.route(ClientId::new(1), ClientId::new(3), 0),
            Route::Deliver { .. }
        ));

        net.cut(1, &partition(&[&[1], &[2]], true));
        assert_eq!(
            net.route(ClientId::new(1), ClientId::new(2), 0),
            Route::Lost(DropReason::Partition)
        );
        assert!(
            matches!(
                net.route(ClientId::new(2), ClientId::new(1), 0),
                Route::Deliver { .. }
            ),
            "one way only"
        );
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
    fn every_delay_drawn_is_within_the_latencys_bounds() {
        let mut rng = stream_rng(2, Stream::Network);
        let latencies = [
            LatencySpec::Constant { us: 70 },
            LatencySpec::Uniform {
                min_us: 0,
                max_us: 3,
            },
            LatencySpec::Exponential {
                min_us: 10,
                mean_us: 11,
            },
            LatencySpec::Exponential {
                min_us: 10,
                mean_us: 10,
            },
        ];
        for latency in latencies {
            let bounds = latency.shortest_us()..=latency.longest_us();
            let mut drawn: Vec<u64> = (0..5000)
                .map(|_| sample_delay(&latency, &mut rng))
                .collect();
            assert!(
                drawn.iter().all(|delay| bounds.contains(delay)),
                "{latency:?}"
            );
            drawn.sort_unstable();
            drawn.dedup();
            if let LatencySpec::Uniform { .. } = latency {
                assert_eq!(drawn, [0, 1, 2, 3], "both ends are drawn");
            }
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
        let arrivals: Vec<u64> = (0..200)
            .map(|i| fifo.delivery_time(ClientId::new(1), ClientId::new(2), i * 10))
            .collect();
        assert!(arrivals.windows(2).all(|pair| pair[0] <= pair[1]));

        let mut unordered = network(spec, false, vec![]);
        let arrivals: Vec<u64> = (0..200)
            .map(|i| unordered.delivery_time(ClientId::new(1), ClientId::new(2), i * 10))
            .collect();
        assert!(arrivals.windows(2).any(|pair| pair[0] > pair[1]));
    }

    #[test]
    fn a_link_override_applies_to_its_direction_only() {
        let slow = LinkSpec {
            from: ClientId::new(1),
            to: ClientId::new(2),
            latency: Some(LatencySpec::Constant { us: 9000 }),
            fifo: None,
            drop_ratio: None,
            duplicate_ratio: None,
        };
        let mut net = network(LatencySpec::Constant { us: 100 }, true, vec![slow]);
        assert_eq!(
            net.delivery_time(ClientId::new(1), ClientId::new(2), 0),
            9000
        );
        assert_eq!(
            net.delivery_time(ClientId::new(2), ClientId::new(1), 0),
            100
        );
    }
}
