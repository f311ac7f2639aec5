//! What a simulated run's header says about its network: the links' latency, loss,
//! duplication and FIFO settings (`network`), the partitions and their heals (`faults.partitions`), and the
//! pinned message fates (`schedule`). The header is read a second time for them, since the
//! trace reader keeps only what every check needs.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::protocol::ClientId;
use crate::scenario::{
    LatencySpec, LinkSettings, NetworkSpec, Partition, PartitionSpec, PinnedMessage, Ratio,
};
use crate::trace::Direction;
use crate::wording::client_group;

/// The header's fields that concern the network; every one may be left out.
#[derive(Deserialize)]
struct NetworkHeader {
    network: Option<NetworkSpec>,
    faults: Option<HeaderFaults>,
    schedule: Option<HeaderSchedule>,
}

/// The header's `faults`: the crashes are the replay's to hold.
#[derive(Deserialize)]
struct HeaderFaults {
    #[serde(default)]
    partitions: Vec<PartitionSpec>,
}

#[derive(Deserialize)]
struct HeaderSchedule {
    #[serde(default)]
    messages: Vec<PinnedMessage>,
}

/// What one directed link does to a message, as the simulator's network decides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LinkModel {
    pub(super) fifo: bool,
    pub(super) drop_ratio: Ratio,
    pub(super) duplicate_ratio: Ratio,
    pub(super) delay: DelayBounds,
}

impl LinkModel {
    fn of(settings: LinkSettings) -> Self {
        LinkModel {
            fifo: settings.fifo,
            drop_ratio: settings.drop_ratio,
            duplicate_ratio: settings.duplicate_ratio,
            delay: DelayBounds::of(&settings.latency),
        }
    }
}

/// The shortest and the longest time a message may take, in microseconds, before a FIFO
/// link holds it back behind the message before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DelayBounds {
    pub(super) min_us: u64,
    pub(super) max_us: u64,
}

impl DelayBounds {
    /// The delays a latency draws.
    pub(super) fn of(latency: &LatencySpec) -> Self {
        DelayBounds {
            min_us: latency.shortest_us(),
            max_us: latency.longest_us(),
        }
    }

    /// The delays of a pinned message's copies.
    pub(super) fn pinned(pin: &PinnedMessage) -> Self {
        let first = pin.delay_us.unwrap_or(0);
        let second = pin.duplicate_delay_us.unwrap_or(first);
        DelayBounds {
            min_us: first.min(second),
            max_us: first.max(second),
        }
    }

    /// "1000us" or "1000 to 5000us".
    pub(super) fn words(self) -> String {
        if self.min_us == self.max_us {
            format!("{}us", self.min_us)
        } else {
            format!("{} to {}us", self.min_us, self.max_us)
        }
    }
}

/// The header's `network`, link by link.
pub(super) struct Links {
    default_link: LinkModel,
    overrides: BTreeMap<(ClientId, ClientId), LinkModel>,
}

impl Links {
    fn new(spec: &NetworkSpec) -> Self {
        let default_link = LinkModel::of(spec.default_link());
        let overrides = spec
            .link_overrides()
            .map(|(link, settings)| (link, LinkModel::of(settings)))
            .collect();
        Links {
            default_link,
            overrides,
        }
    }

    pub(super) fn link(&self, from: ClientId, to: ClientId) -> LinkModel {
        self.overrides
            .get(&(from, to))
            .copied()
            .unwrap_or(self.default_link)
    }
}

/// A partition of the header's `faults`, as the simulator cuts the network with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Cut {
    pub(super) groups: Vec<Vec<ClientId>>,
    pub(super) direction: Direction,
    pub(super) at_us: u64,
    pub(super) heal_us: Option<u64>,
    /// The messages it stops, as the simulator decides.
    pub(super) partition: Partition,
}

impl Cut {
    pub(super) fn new(
        groups: Vec<Vec<ClientId>>,
        direction: Direction,
        at_us: u64,
        heal_us: Option<u64>,
    ) -> Self {
        let partition = Partition::new(&groups, direction == Direction::OneWay);
        Cut {
            groups,
            direction,
            at_us,
            heal_us,
            partition,
        }
    }

    fn of(spec: &PartitionSpec) -> Self {
        let direction = if spec.one_way {
            Direction::OneWay
        } else {
            Direction::Both
        };
        Cut::new(spec.groups.clone(), direction, spec.at_us, spec.heal_us)
    }

    /// "the partition {c1} | {c2,c3}" or "the one-way partition {c1} -/-> {c2}".
    pub(super) fn describe(&self) -> String {
        partition_words(&self.groups, self.direction)
    }
}

/// "the partition {c1} | {c2,c3}" or "the one-way partition {c1} -/-> {c2}".
pub(super) fn partition_words(groups: &[Vec<ClientId>], direction: Direction) -> String {
    let names: Vec<String> = groups.iter().map(client_group).collect();
    match direction {
        Direction::Both => format!("the partition {}", names.join(" | ")),
        Direction::OneWay => format!("the one-way partition {}", names.join(" -/-> ")),
    }
}

/// A `partition` or `heal` event the header's `faults` schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FaultDue {
    /// Index into the header's partitions.
    pub(super) cut: usize,
    /// The partition begins (else it heals).
    pub(super) begins: bool,
    pub(super) at_us: u64,
}

/// Everything the header of a simulated run says about the network.
pub(super) struct NetworkDeclared {
    /// `None` when the header has no `network`: then loss, duplication and order are taken
    /// on trust.
    pub(super) links: Option<Links>,
    pub(super) cuts: Vec<Cut>,
    /// The partitions and heals in the order the simulator makes them: by time, and at equal
    /// times in the order it schedules them (each partition, then its heal, in the header's
    /// order).
    pub(super) faults_due: Vec<FaultDue>,
    /// Pinned fates by (from, to, nth message sent on that link).
    pub(super) pins: BTreeMap<(ClientId, ClientId, u64), PinnedMessage>,
}

impl NetworkDeclared {
    /// Reads the header line `first_line` (already accepted by the trace reader) for its
    /// network; an error is a sentence about the field that is not a scenario's.
    pub(super) fn read(first_line: &[u8]) -> Result<NetworkDeclared, String> {
        let deserializer = &mut serde_json::Deserializer::from_slice(first_line);
        let header: NetworkHeader =
            serde_path_to_error::deserialize(deserializer).map_err(|error| {
                format!(
                    "the header's field `{}` is not what a scenario has there: {}",
                    error.path(),
                    error.inner()
                )
            })?;
        let cuts: Vec<Cut> = header
            .faults
            .map(|faults| faults.partitions.iter().map(Cut::of).collect())
            .unwrap_or_default();
        let mut faults_due: Vec<FaultDue> = cuts
            .iter()
            .enumerate()
            .flat_map(|(index, cut)| {
                let begins = FaultDue {
                    cut: index,
                    begins: true,
                    at_us: cut.at_us,
                };
                let heals = cut.heal_us.map(|at_us| FaultDue {
                    cut: index,
                    begins: false,
                    at_us,
                });
                std::iter::once(begins).chain(heals)
            })
            .collect();
        // Stable: equal times keep the order of scheduling.
        faults_due.sort_by_key(|due| due.at_us);
        let pins = header
            .schedule
            .map(|schedule| {
                schedule
                    .messages
                    .into_iter()
                    .map(|pin| ((pin.from, pin.to, pin.nth), pin))
                    .collect()
            })
            .unwrap_or_default();
        Ok(NetworkDeclared {
            links: header.network.as_ref().map(Links::new),
            cuts,
            faults_due,
            pins,
        })
    }
}

/// "0" or "[1, 4]".
pub(super) fn ratio_words(ratio: Ratio) -> String {
    if ratio.is_zero() {
        "0".to_string()
    } else {
        format!("[{}, {}]", ratio.numerator, ratio.denominator)
    }
}
