//! Hunting failures: sweep a scenario over many seeds ([`mod@sweep`]), choose the seeds of one
//! machine's share ([`seeds`]), cut a failure down to a small pinned scenario ([`mod@shrink`]),
//! find where two traces first differ ([`diff`]), and test a client program ([`battery`]).
//!
//! The command line (`sweep`, `replay`, `diff` and `run --check-determinism`) lives in
//! `crate::cli`; docs/hunting.md describes it.

pub mod battery;
pub mod diff;
pub mod seeds;
pub mod shrink;
pub mod swarm;
pub mod sweep;

pub use diff::{LiveComparer, diff_readers, write_report};
pub use seeds::{SeedRange, SeedSet, Shard};
pub use shrink::{ShrinkError, shrink, shrink_within};
pub use sweep::{
    Digests, FailureKind, Progress, RunRecord, SweepConfig, Tally, sweep, worker_threads,
};
