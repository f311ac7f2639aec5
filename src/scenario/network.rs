//! The network model's rules that the simulator applies and the checker holds a trace to:
//! which settings a directed link has, which messages a partition stops, and the delays a
//! latency draws. The simulator cannot be imported by the checker, so both read them here.

use crate::protocol::ClientId;

use super::{LatencySpec, NetworkSpec, PartitionSpec, Ratio};

/// One directed link's settings: its override's, each field it leaves out the network's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkSettings {
    /// The delay of a message on the link.
    pub latency: LatencySpec,
    /// Whether messages on the link arrive in the order they were sent.
    pub fifo: bool,
    /// The share of the link's messages lost.
    pub drop_ratio: Ratio,
    /// The share of the link's messages delivered twice.
    pub duplicate_ratio: Ratio,
}

impl NetworkSpec {
    /// The settings of a link without an override.
    pub fn default_link(&self) -> LinkSettings {
        LinkSettings {
            latency: self.latency,
            fifo: self.fifo,
            drop_ratio: self.drop_ratio,
            duplicate_ratio: self.duplicate_ratio,
        }
    }

    /// Each overridden link (`from`, `to`) with its settings, in the scenario's order: of
    /// two overrides of one link, the later is the one that holds once collected.
    pub fn link_overrides(&self) -> impl Iterator<Item = ((ClientId, ClientId), LinkSettings)> {
        let network = self.default_link();
        self.links.iter().map(move |link| {
            let settings = LinkSettings {
                latency: link.latency.unwrap_or(network.latency),
                fifo: link.fifo.unwrap_or(network.fifo),
                drop_ratio: link.drop_ratio.unwrap_or(network.drop_ratio),
                duplicate_ratio: link.duplicate_ratio.unwrap_or(network.duplicate_ratio),
            };
            ((link.from, link.to), settings)
        })
    }
}

/// How far an exponential delay's random part may reach, in multiples of its mean: keeps every
/// delay finite and bounded (the tail beyond has probability e^-64).
pub const EXPONENTIAL_CAP_MEANS: u64 = 64;

impl LatencySpec {
    /// The shortest delay it draws, in microseconds.
    pub fn shortest_us(&self) -> u64 {
        match *self {
            LatencySpec::Constant { us } => us,
            LatencySpec::Uniform { min_us, max_us } => min_us.min(max_us),
            LatencySpec::Exponential { min_us, .. } => min_us,
        }
    }

    /// The longest delay it draws, in microseconds: an exponential's random part stops at
    /// [`EXPONENTIAL_CAP_MEANS`] means.
    pub fn longest_us(&self) -> u64 {
        match *self {
            LatencySpec::Constant { us } => us,
            LatencySpec::Uniform { min_us, max_us } => max_us.max(min_us),
            LatencySpec::Exponential { min_us, mean_us } => {
                let extra_mean_us = mean_us.saturating_sub(min_us);
                min_us.saturating_add(extra_mean_us.saturating_mul(EXPONENTIAL_CAP_MEANS))
            }
        }
    }
}

/// Which messages a partition stops while it is in force: those between clients of different
/// groups or, one way, only those from the first group to the second. A client in no group is
/// not cut off. A client listed in several groups belongs to the last that lists it (a valid
/// scenario lists each client once; a trace's header is not validated as a scenario).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Each client listed, by id, with its group: a lookup per message sent, in memory that
    /// grows with the lists, not with the number of clients.
    members: Vec<(ClientId, usize)>,
    one_way: bool,
}

impl Partition {
    /// The partition into `groups`; with `one_way`, only the first group's messages to the
    /// second are stopped.
    pub fn new(groups: &[Vec<ClientId>], one_way: bool) -> Self {
        let mut members: Vec<(ClientId, usize)> = groups
            .iter()
            .enumerate()
            .flat_map(|(group, ids)| ids.iter().map(move |&id| (id, group)))
            .collect();
        // The last listing wins: put the later listings first, sort stably, and keep the
        // first of each id.
        members.reverse();
        members.sort_by_key(|&(id, _)| id);
        members.dedup_by_key(|&mut (id, _)| id);
        Partition { members, one_way }
    }

    /// The partition a scenario's `faults.partitions` entry makes.
    pub fn of(spec: &PartitionSpec) -> Self {
        Partition::new(&spec.groups, spec.one_way)
    }

    /// Whether it stops a message sent from `from` to `to`.
    #[inline]
    pub fn separates(&self, from: ClientId, to: ClientId) -> bool {
        match (self.group_of(from), self.group_of(to)) {
            (Some(a), Some(b)) if self.one_way => a == 0 && b == 1,
            (Some(a), Some(b)) => a != b,
            _ => false,
        }
    }

    #[inline]
    fn group_of(&self, id: ClientId) -> Option<usize> {
        self.members
            .binary_search_by_key(&id, |&(member, _)| member)
            .ok()
            .map(|at| self.members[at].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[u32]) -> Vec<ClientId> {
        list.iter().map(|&id| ClientId::new(id)).collect()
    }

    #[test]
    fn a_partition_separates_groups_and_one_way_only_the_first_from_the_second() {
        let (c1, c2, c3, c4) = (
            ClientId::new(1),
            ClientId::new(2),
            ClientId::new(3),
            ClientId::new(4),
        );
        let both = Partition::new(&[ids(&[1, 2]), ids(&[3])], false);
        assert!(both.separates(c1, c3) && both.separates(c3, c2));
        assert!(!both.separates(c1, c2), "same group");
        assert!(!both.separates(c4, c3), "client 4 is in no group");
        assert!(!both.separates(c3, c4), "client 4 is in no group");
        // One way: only the first group's messages to the second, not to a third group.
        let one_way = Partition::new(&[ids(&[1]), ids(&[2]), ids(&[3])], true);
        assert!(one_way.separates(c1, c2));
        assert!(!one_way.separates(c2, c1) && !one_way.separates(c1, c3));
        assert!(!one_way.separates(c2, c3) && !one_way.separates(c3, c1));
        // A client listed twice belongs to the last group that lists it.
        let twice = Partition::new(&[ids(&[1, 2]), ids(&[2, 3])], false);
        assert!(twice.separates(c1, c2) && !twice.separates(c2, c3));
        // Ids no scenario has (0, beyond the clients) are in no group unless listed.
        let odd = Partition::new(&[ids(&[0]), ids(&[u32::MAX])], false);
        assert!(odd.separates(ClientId::new(0), ClientId::new(u32::MAX)));
        assert!(!odd.separates(c1, ClientId::new(0)));
    }

    #[test]
    fn a_partition_of_a_spec_keeps_its_groups_and_direction() {
        let spec = PartitionSpec {
            at_us: 0,
            heal_us: None,
            groups: vec![ids(&[1]), ids(&[2])],
            one_way: true,
        };
        assert_eq!(Partition::of(&spec), Partition::new(&spec.groups, true));
        assert!(Partition::of(&spec).separates(ClientId::new(1), ClientId::new(2)));
        assert!(!Partition::of(&spec).separates(ClientId::new(2), ClientId::new(1)));
    }

    #[test]
    fn delays_are_bounded_as_the_latency_draws_them() {
        let bounds = |latency: LatencySpec| (latency.shortest_us(), latency.longest_us());
        assert_eq!(bounds(LatencySpec::Constant { us: 7 }), (7, 7));
        assert_eq!(
            bounds(LatencySpec::Uniform {
                min_us: 10,
                max_us: 20
            }),
            (10, 20)
        );
        // The exponential part is capped at 64 means.
        assert_eq!(
            bounds(LatencySpec::Exponential {
                min_us: 100,
                mean_us: 300
            }),
            (100, 100 + 64 * 200)
        );
        assert_eq!(
            bounds(LatencySpec::Exponential {
                min_us: 100,
                mean_us: 50
            }),
            (100, 100),
            "a mean below the minimum leaves no random part"
        );
        assert_eq!(
            bounds(LatencySpec::Exponential {
                min_us: 1,
                mean_us: u64::MAX
            }),
            (1, u64::MAX),
            "saturates"
        );
    }
}
