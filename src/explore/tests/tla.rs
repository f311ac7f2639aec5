//! LamportMutex.tla: a naive enumerator of the spec, written from its text, against the port.

use std::collections::{BTreeSet, HashSet, VecDeque};

use super::{bfs, keep_going};
use crate::explore::explore_tla;
use crate::explore::search::Stop;
use crate::explore::tla::TlaConfig;

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
