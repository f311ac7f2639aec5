//! Unit tests of the network check: the header's network read as the simulator reads it.

use super::header::{Cut, NetworkDeclared};
use crate::protocol::ClientId;
use crate::scenario::Partition;
use crate::trace::Direction;

fn ids(list: &[u32]) -> Vec<ClientId> {
    list.iter().map(|&id| ClientId::new(id)).collect()
}

#[test]
fn a_cut_separates_as_the_simulator_decides() {
    // Which messages a partition stops is the scenario's rule (scenario::Partition, tested
    // there); a cut holds it with the header's groups and direction.
    let both = Cut::new(vec![ids(&[1, 2]), ids(&[3])], Direction::Both, 0, None);
    assert_eq!(
        both.partition,
        Partition::new(&[ids(&[1, 2]), ids(&[3])], false)
    );
    let (c1, c2, c3) = (ClientId::new(1), ClientId::new(2), ClientId::new(3));
    assert!(both.partition.separates(c3, c1) && !both.partition.separates(c1, c2));
    let one_way = Cut::new(
        vec![ids(&[1]), ids(&[2]), ids(&[3])],
        Direction::OneWay,
        0,
        None,
    );
    assert_eq!(
        one_way.partition,
        Partition::new(&[ids(&[1]), ids(&[2]), ids(&[3])], true)
    );
    assert!(one_way.partition.separates(c1, c2) && !one_way.partition.separates(c2, c1));
    assert_eq!(
        one_way.describe(),
        "the one-way partition {c1} -/-> {c2} -/-> {c3}"
    );
    assert_eq!(both.describe(), "the partition {c1,c2} | {c3}");
}

#[test]
fn partitions_and_heals_are_due_in_the_simulators_order() {
    let header = br#"{"type":"header","faults":{"partitions":[
        {"at_us":500,"heal_us":900,"groups":[[1],[2]]},
        {"at_us":500,"groups":[[2],[3]],"one_way":true},
        {"at_us":100,"heal_us":500,"groups":[[1],[3]]}]}}"#;
    let declared = NetworkDeclared::read(header).unwrap();
    let one_way = &declared.cuts[1];
    assert_eq!(
        (one_way.direction, &one_way.partition),
        (
            Direction::OneWay,
            &Partition::new(&[ids(&[2]), ids(&[3])], true)
        )
    );
    let order: Vec<(usize, bool, u64)> = declared
        .faults_due
        .iter()
        .map(|due| (due.cut, due.begins, due.at_us))
        .collect();
    // At equal times, the order of scheduling: each partition, then its heal.
    assert_eq!(
        order,
        [
            (2, true, 100),
            (0, true, 500),
            (1, true, 500),
            (2, false, 500),
            (0, false, 900)
        ]
    );
    assert!(declared.links.is_none(), "no `network`: taken on trust");
}

#[test]
fn a_header_network_no_scenario_has_is_one_sentence() {
    let header = br#"{"type":"header","network":{"drop_ratio":"often"}}"#;
    let error = NetworkDeclared::read(header).err().unwrap();
    assert!(
        error.starts_with(
            "the header's field `network.drop_ratio` is not what a scenario has there: invalid \
             type"
        ),
        "{error}"
    );
}

#[test]
fn delays_are_bounded_as_the_simulator_draws_them() {
    use super::header::DelayBounds;
    use crate::scenario::{LatencySpec, PinnedMessage};
    // A link's delays are its latency's own bounds (the scenario's rule, tested there).
    let latencies = [
        LatencySpec::Constant { us: 7 },
        LatencySpec::default(),
        LatencySpec::Exponential {
            min_us: 100,
            mean_us: 300,
        },
    ];
    for latency in latencies {
        let (min_us, max_us) = (latency.shortest_us(), latency.longest_us());
        assert_eq!(DelayBounds::of(&latency), DelayBounds { min_us, max_us });
    }
    assert_eq!(
        DelayBounds::of(&latencies[2]).words(),
        format!("100 to {}us", 100 + 64 * 200),
        "the exponential part is capped at 64 means"
    );
    let pin = PinnedMessage {
        from: ClientId::new(1),
        to: ClientId::new(2),
        nth: 0,
        delay_us: Some(900),
        drop: false,
        duplicate_delay_us: Some(400),
    };
    assert_eq!(
        DelayBounds::pinned(&pin),
        DelayBounds {
            min_us: 400,
            max_us: 900
        }
    );
}
