//! The ground floor: names every layer shares and that belong to no single one of them.
//!
//! Scenarios name invariants in their `expect` block, traces record them, the checker finds
//! them; scenarios recognise a trace file by its format name, which the trace encoder writes
//! and the reader checks. Keeping these names here, in a module that imports nothing else of
//! the crate, lets every other module point one way: see the layers in docs/architecture.md.

mod invariant;

pub use invariant::Invariant;

/// The `format` field of a trace's header line.
pub const TRACE_FORMAT: &str = "lamport-ledger-trace";
/// The `version` field of a trace's header line.
pub const TRACE_VERSION: u32 = 1;
