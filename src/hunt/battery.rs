//! The battery `test-node` runs on a client program (docs/nodes.md): wire conformance on the
//! default scenario, determinism (one seed twice, one digest), safety and liveness over a swarm
//! of seeds on FIFO-reliable links, then each of those assumptions switched off in turn to
//! show what breaks. Every failing seed is cut down by [`shrink_within`] to a small pinned
//! scenario. The command line writes the files and the report; this module only runs.

use std::io;

use crate::check::Invariant;
use crate::runner::run_scenario;
use crate::scenario::{NodeProgram, Ratio, Scenario, SwarmSpec, default_scenario};
use crate::sim::{RunOptions, node_failure};

use super::seeds::SeedRange;
use super::shrink::{Shrunk, shrink_within};
use super::swarm;

/// The network and fault model a part of the battery runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assumption {
    /// FIFO links, no loss, no duplication, no crash: what the paper assumes. Must hold.
    FifoReliable,
    /// Links that reorder messages.
    Reordering,
    /// Links that lose messages.
    Loss,
    /// Links that deliver some messages twice.
    Duplication,
    /// A client that crashes and restarts.
    Crash,
}

impl Assumption {
    /// Every part, in the order the battery runs them: the one that must hold first.
    pub const ALL: [Assumption; 5] = [
        Assumption::FifoReliable,
        Assumption::Reordering,
        Assumption::Loss,
        Assumption::Duplication,
        Assumption::Crash,
    ];

    /// The name reports, files and JSON use.
    pub fn name(self) -> &'static str {
        match self {
            Assumption::FifoReliable => "fifo-reliable",
            Assumption::Reordering => "reordering",
            Assumption::Loss => "loss",
            Assumption::Duplication => "duplication",
            Assumption::Crash => "crash",
        }
    }

    /// What the part's runs are, for a reader.
    pub fn described(self) -> &'static str {
        match self {
            Assumption::FifoReliable => "FIFO links, no loss, no duplication, no crash",
            Assumption::Reordering => "links that reorder messages",
            Assumption::Loss => "links that lose up to 1 message in 5",
            Assumption::Duplication => "links that duplicate up to 1 message in 5",
            Assumption::Crash => "one client that may crash and restart",
        }
    }

    /// Whether a client must pass this part: only the paper's own assumptions must hold.
    pub fn must_hold(self) -> bool {
        self == Assumption::FifoReliable
    }

    /// The swarm bounds of the part: small runs (a program costs a process per client), with
    /// requests close together so that concurrent requests and ties in the queue are common.
    fn bounds(self) -> SwarmSpec {
        let mut bounds = SwarmSpec {
            clients: (2, 4),
            latency_us: (0, 4_000),
            fifo: vec![true],
            drop_ratio_max: Ratio::ZERO,
            duplicate_ratio_max: Ratio::ZERO,
            partitions_max: 0,
            crashes_max: 0,
            transfers: (2, 8),
            cs_us: (0, 2_000),
        };
        match self {
            Assumption::FifoReliable => {}
            Assumption::Reordering => bounds.fifo = vec![false],
            Assumption::Loss => bounds.drop_ratio_max = ratio(1, 5),
            Assumption::Duplication => bounds.duplicate_ratio_max = ratio(1, 5),
            Assumption::Crash => bounds.crashes_max = 1,
        }
        bounds
    }
}

fn ratio(numerator: u64, denominator: u64) -> Ratio {
    Ratio {
        numerator,
        denominator,
    }
}

/// What one run showed.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// Every invariant held.
    Held,
    /// The first violation.
    Violated {
        invariant: Invariant,
        detail: String,
    },
    /// The node broke the wire protocol (one sentence naming client, step and line).
    NodeFailed(String),
}

/// One run: its verdict and its trace digest (none when the node failed).
#[derive(Clone, Debug)]
pub struct Outcome {
    pub verdict: Verdict,
    pub digest_hex: Option<String>,
}

/// A failing seed of a part, with what shrinking it gave.
#[derive(Debug)]
pub struct Failure {
    /// The swarm seed, or `None` for the built-in default scenario.
    pub seed: Option<u64>,
    pub verdict: Verdict,
    /// The configuration the seed drew, as it ran.
    pub scenario: Scenario,
    /// The shrunk scenario, or why there is none (a node failure is not shrunk; a shrink that
    /// failed says why).
    pub shrunk: Result<Shrunk, String>,
}

/// One part of the battery.
#[derive(Debug)]
pub struct PartReport {
    pub assumption: Assumption,
    /// Runs made (the part stops at its first failure).
    pub runs: u64,
    pub failure: Option<Failure>,
}

impl PartReport {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// The determinism check: one seed run twice.
#[derive(Clone, Debug)]
pub struct Determinism {
    pub seed: u64,
    pub first: Outcome,
    pub second: Outcome,
}

impl Determinism {
    /// Both runs ended the same way with the same digest.
    pub fn passed(&self) -> bool {
        match (&self.first.digest_hex, &self.second.digest_hex) {
            (Some(first), Some(second)) => first == second,
            (None, None) => match (&self.first.verdict, &self.second.verdict) {
                (Verdict::NodeFailed(first), Verdict::NodeFailed(second)) => first == second,
                _ => false,
            },
            _ => false,
        }
    }
}

/// What the battery runs: the program, the seeds and the shrink budget.
#[derive(Clone, Debug)]
pub struct Battery {
    pub node: NodeProgram,
    pub seeds: SeedRange,
    /// The most candidate runs one shrink may take.
    pub shrink_runs: u64,
}

impl Battery {
    /// The built-in default scenario played by the program: every line the node writes is
    /// read by the wire layer, which refuses anything malformed, a missing `done`, effects
    /// answering `init`, and sends to a client that does not exist.
    pub fn conformance(&self) -> io::Result<Outcome> {
        run(&self.default_run())
    }

    /// The first seed of the FIFO-reliable swarm, run twice.
    pub fn determinism(&self) -> io::Result<Determinism> {
        let scenario = self.scenario(Assumption::FifoReliable, self.seeds.first);
        Ok(Determinism {
            seed: self.seeds.first,
            first: run(&scenario)?,
            second: run(&scenario)?,
        })
    }

    /// The configuration seed `seed` draws for `assumption`, played by the program.
    pub fn scenario(&self, assumption: Assumption, seed: u64) -> Scenario {
        let base = Scenario {
            name: format!("test-node-{}", assumption.name()),
            source: format!("test-node's {} part", assumption.name()),
            swarm: Some(assumption.bounds()),
            node: Some(self.node.clone()),
            expect: None,
            ..default_scenario()
        };
        swarm::draw(&base, seed).expect("the base has swarm bounds")
    }

    /// The built-in default scenario played by the program.
    pub fn default_run(&self) -> Scenario {
        Scenario {
            node: Some(self.node.clone()),
            expect: None,
            ..default_scenario()
        }
    }

    /// Runs the part's seeds in order up to the first failure, and shrinks that one. The
    /// FIFO-reliable part runs the built-in default scenario first: its three requests at
    /// time 0 are where a wrong tie-break shows.
    pub fn part(&self, assumption: Assumption) -> io::Result<PartReport> {
        let mut runs = 0;
        let default = assumption.must_hold().then(|| (None, self.default_run()));
        let seeds = (self.seeds.first..=self.seeds.last)
            .map(|seed| (Some(seed), self.scenario(assumption, seed)));
        for (seed, scenario) in default.into_iter().chain(seeds) {
            runs += 1;
            let outcome = run(&scenario)?;
            if matches!(outcome.verdict, Verdict::Held) {
                continue;
            }
            let shrunk = match outcome.verdict {
                Verdict::Violated { .. } => {
                    shrink_within(&scenario, self.shrink_runs).map_err(|error| error.to_string())
                }
                _ => Err("a node that breaks the wire protocol is not shrunk".to_string()),
            };
            let failure = Failure {
                seed,
                verdict: outcome.verdict,
                scenario,
                shrunk,
            };
            return Ok(PartReport {
                assumption,
                runs,
                failure: Some(failure),
            });
        }
        Ok(PartReport {
            assumption,
            runs,
            failure: None,
        })
    }
}

/// One run with no trace kept: its first violation, or the node's failure.
pub fn run(scenario: &Scenario) -> io::Result<Outcome> {
    match run_scenario(scenario, RunOptions::default(), Vec::new(), &mut []) {
        Ok(report) => {
            let verdict = match report.result.violations.first() {
                None => Verdict::Held,
                Some(found) => Verdict::Violated {
                    invariant: found.violation.invariant,
                    detail: found.violation.detail.clone(),
                },
            };
            Ok(Outcome {
                verdict,
                digest_hex: Some(report.digest_hex),
            })
        }
        Err(error) => match node_failure(&error) {
            Some(sentence) => Ok(Outcome {
                verdict: Verdict::NodeFailed(sentence.to_string()),
                digest_hex: None,
            }),
            None => Err(error),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each part switches off exactly its own assumption.
    #[test]
    fn each_part_draws_only_its_own_fault() {
        let battery = Battery {
            node: NodeProgram {
                cmd: "true".into(),
                step_timeout_ms: 1000,
            },
            seeds: SeedRange { first: 0, last: 63 },
            shrink_runs: 1,
        };
        for assumption in Assumption::ALL {
            let mut faulty = 0;
            for seed in 0..64 {
                let scenario = battery.scenario(assumption, seed);
                let network = &scenario.network;
                let reorders = !network.fifo;
                let loses = !network.drop_ratio.is_zero();
                let duplicates = !network.duplicate_ratio.is_zero();
                let crashes = !scenario.faults.crashes.is_empty();
                assert!(scenario.faults.partitions.is_empty());
                let faults = [reorders, loses, duplicates, crashes];
                let own = match assumption {
                    Assumption::FifoReliable => None,
                    Assumption::Reordering => Some(0),
                    Assumption::Loss => Some(1),
                    Assumption::Duplication => Some(2),
                    Assumption::Crash => Some(3),
                };
                for (index, on) in faults.into_iter().enumerate() {
                    assert!(!on || Some(index) == own, "{assumption:?} seed {seed}");
                }
                faulty += u32::from(own.is_some_and(|index| faults[index]));
                assert_eq!(scenario.node, Some(battery.node.clone()));
                assert!(scenario.expect.is_none());
            }
            assert!(
                assumption.must_hold() || faulty > 16,
                "{assumption:?}: only {faulty} of 64 seeds have the fault"
            );
        }
    }
}
