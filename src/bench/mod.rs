//! The benchmark suite behind `lamport-ledger bench`: a fixed set of cases, each measured for
//! events/s, transfers/s, runs/s and peak memory. Speed is measured here and recorded in
//! docs/performance.md; no test ever asserts a time.

pub mod null_loop;
mod program;

use std::io::{self, BufWriter};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::runner::run_scenario;
use crate::scenario::{Scenario, parse_scenario};
use crate::sim::{RunOptions, simulate};
use crate::trace::TraceOutput;

/// One benchmark case.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub name: &'static str,
    pub what: &'static str,
}

/// The cases in the order `bench` runs them.
pub const CASES: [Case; 10] = [
    Case {
        name: "n3-1m",
        what: "3 clients, 1,000,000 transfers, ledger and online checks on, trace off",
    },
    Case {
        name: "n3-1m-trace",
        what: "the same, streaming the JSONL trace to a file",
    },
    Case {
        name: "n64",
        what: "64 clients, 10,000 transfers",
    },
    Case {
        name: "n1024",
        what: "1,024 clients, 100 transfers",
    },
    Case {
        name: "n4096",
        what: "4,096 clients, 20 transfers",
    },
    Case {
        name: "sweep-n5-1",
        what: "10,000 seeds of 5 clients x 100 transfers, one core",
    },
    Case {
        name: "sweep-n5-all",
        what: "10,000 seeds of 5 clients x 100 transfers, all cores",
    },
    Case {
        name: "explore-default",
        what: "explore scenarios/default.json, partial-order reduction, one thread (events: states)",
    },
    Case {
        name: "python-default",
        what: "scenarios/default.json played by examples/python/lamport_client.py, 20 runs",
    },
    Case {
        name: "null-loop",
        what: "n3-1m's message pattern through the same event queue, no protocol: the ceiling",
    },
];

/// What one case measured.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    pub case: String,
    pub runs: u64,
    pub events: u64,
    pub transfers: u64,
    pub seconds: f64,
    pub events_per_s: f64,
    pub transfers_per_s: f64,
    pub runs_per_s: f64,
    /// The process's peak resident memory (VmHWM) after the case, in KiB; `None` where
    /// /proc is not available.
    pub peak_rss_kib: Option<u64>,
    pub threads: usize,
    /// A case of process nodes: the real time of one lockstep step (the write, the program's
    /// work, the read), in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_us: Option<f64>,
    /// `step_us` less the built-in client's time per step on the same run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overhead_us: Option<f64>,
    /// Why the case measured nothing (a program it needs is missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `scale` divides every case's size (1 for the real suite; larger for a quick smoke run).
pub fn run_case(name: &str, scale: u64) -> io::Result<Option<Measurement>> {
    let scale = scale.max(1);
    if name == "python-default" {
        return python_default(scale).map(Some);
    }
    let started = Instant::now();
    let (runs, events, transfers, threads) = match name {
        "n3-1m" => single(&generated(3, 1_000_000 / scale, 0), false)?,
        "n3-1m-trace" => single(&generated(3, 1_000_000 / scale, 0), true)?,
        "n64" => single(&generated(64, 10_000 / scale, 0), false)?,
        "n1024" => single(&generated(1024, (100 / scale).max(1), 0), false)?,
        "n4096" => single(&generated(4096, (20 / scale).max(1), 0), false)?,
        "sweep-n5-1" => sweep(10_000 / scale, 1),
        "sweep-n5-all" => sweep(10_000 / scale, rayon::current_num_threads()),
        "explore-default" => explore_default(scale)?,
        "null-loop" => {
            let scenario = generated(3, 1_000_000 / scale, 0);
            let (events, transfers) = null_loop::run(&scenario);
            (1, events, transfers, 1)
        }
        _ => return Ok(None),
    };
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    Ok(Some(Measurement {
        case: name.to_string(),
        runs,
        events,
        transfers,
        seconds,
        events_per_s: events as f64 / seconds,
        transfers_per_s: transfers as f64 / seconds,
        runs_per_s: runs as f64 / seconds,
        peak_rss_kib: peak_rss_kib(),
        threads,
        step_us: None,
        overhead_us: None,
        note: None,
    }))
}

/// The Python example client on the default scenario, or a note when python3 is missing.
fn python_default(scale: u64) -> io::Result<Measurement> {
    let mut measurement = Measurement {
        case: "python-default".to_string(),
        runs: 0,
        events: 0,
        transfers: 0,
        seconds: 0.0,
        events_per_s: 0.0,
        transfers_per_s: 0.0,
        runs_per_s: 0.0,
        peak_rss_kib: None,
        threads: 1,
        step_us: None,
        overhead_us: None,
        note: program::missing_python(),
    };
    if measurement.note.is_some() {
        return Ok(measurement);
    }
    let started = Instant::now();
    let figures = program::run(scale)?;
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    measurement.runs = figures.runs;
    measurement.events = figures.events;
    measurement.transfers = figures.transfers;
    measurement.seconds = seconds;
    measurement.events_per_s = figures.events as f64 / seconds;
    measurement.transfers_per_s = figures.transfers as f64 / seconds;
    measurement.runs_per_s = figures.runs as f64 / seconds;
    measurement.peak_rss_kib = peak_rss_kib();
    measurement.step_us = Some(figures.step_us);
    measurement.overhead_us = Some(figures.overhead_us);
    Ok(measurement)
}

/// `scenarios/default.json` explored to the end with partial-order reduction on one thread
/// (with `scale` above 1, stopped after 1/`scale` of its states): one run, its distinct states
/// as the events, its transitions as the transfers.
fn explore_default(scale: u64) -> io::Result<(u64, u64, u64, usize)> {
    let text = include_str!("../../scenarios/default.json");
    let scenario = parse_scenario(text, "scenarios/default.json").map_err(io::Error::other)?;
    let setup = crate::explore::settings::from_scenario(
        "scenarios/default.json".into(),
        scenario,
        &crate::explore::settings::Overrides::default(),
    )
    .map_err(|error| io::Error::other(error.0))?;
    let options = crate::explore::SearchOptions {
        reduce: true,
        max_states: (scale > 1).then_some(EXPLORE_DEFAULT_STATES / scale),
        ..crate::explore::SearchOptions::default()
    };
    let stats = crate::explore::explore_system(&setup, &options)
        .result
        .stats;
    Ok((1, stats.distinct, stats.transitions, 1))
}

/// About the distinct states of `explore-default`, to scale it down for a quick run.
const EXPLORE_DEFAULT_STATES: u64 = 20_000_000;

/// A scenario with `clients` clients and `transfers` generated transfers arriving about as
/// fast as the mutex serves them, on reliable FIFO links.
pub fn generated(clients: u32, transfers: u64, seed: u64) -> Scenario {
    let text = serde_json::json!({
        "name": format!("bench-n{clients}"),
        "seed": seed,
        "clients": clients,
        "network": {"latency": {"kind": "uniform", "min_us": 200, "max_us": 1500}},
        "workload": {"generated": {
            "count": transfers,
            "gap": {"kind": "uniform", "min_us": 0, "max_us": 3000},
            "amount_min": 1,
            "amount_max": 4
        }},
        "cs_us": 200,
        "limits": {"max_events": 10_000_000_000u64, "max_time_us": 1_000_000_000_000u64}
    })
    .to_string();
    parse_scenario(&text, "bench").expect("benchmark scenarios are valid")
}

/// One run. Trace off means no trace at all: events go to the online checker only, and no
/// line is encoded or hashed. With `trace`, the JSONL trace streams to a temporary file (and
/// its digest is computed, as `run --trace` does).
fn single(scenario: &Scenario, trace: bool) -> io::Result<(u64, u64, u64, usize)> {
    let result = if trace {
        let file = tempfile_in_tmp()?;
        let outputs: Vec<TraceOutput> = vec![Box::new(BufWriter::with_capacity(1 << 16, file))];
        run_scenario(scenario, RunOptions::default(), outputs, &mut [])?.result
    } else {
        simulate(scenario, RunOptions::default(), &mut [])?
    };
    assert!(
        result.violations.is_empty(),
        "benchmark runs hold every invariant"
    );
    let transfers = result.committed + result.aborted;
    Ok((1, result.events, transfers, 1))
}

fn tempfile_in_tmp() -> io::Result<std::fs::File> {
    let path =
        std::env::temp_dir().join(format!("lamport-ledger-bench-{}.jsonl", std::process::id()));
    let file = std::fs::File::create(&path)?;
    // Unlinked at once: the data stays reachable through the handle until it is dropped.
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// `seeds` runs of 5 clients x 100 transfers on `threads` threads; each run single-threaded.
fn sweep(seeds: u64, threads: usize) -> (u64, u64, u64, usize) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    let template = generated(5, 100, 0);
    let (events, transfers) = pool.install(|| {
        (0..seeds)
            .into_par_iter()
            .map(|seed| {
                let scenario = Scenario {
                    seed,
                    ..template.clone()
                };
                // As `sweep` runs a passing seed (without --out): for its verdict alone.
                let result =
                    simulate(&scenario, RunOptions::verdict_only(), &mut []).expect("no I/O");
                (result.events, result.committed + result.aborted)
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    (seeds, events, transfers, threads)
}

/// VmHWM from /proc/self/status, in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
