//! Trace events (docs/spec.md section 3) and their JSON Lines encoding with the running digest.
//!
//! The simulator produces [`Event`]s and hands each to a list of [`EventSink`]s: the
//! [`TraceEncoder`] (always present: it computes the digest, and writes JSONL when asked to),
//! the text timeline, and whatever else wants to watch.

pub mod encode;
mod event;
pub mod read;
mod writer;

pub use encode::{Header, Summary, TraceEncoder, encode_event};
pub use event::{Direction, DropReason, Event, EventKind, EventSink, Kept};
pub use writer::TraceOutput;

pub use crate::base::{TRACE_FORMAT, TRACE_VERSION};

/// What the explorer appends to the scenario's name in the header of the traces it writes,
/// by which `check` tells them from a simulated run's (docs/spec.md, section 3).
pub const EXPLORED_SUFFIX: &str = " (explored)";
