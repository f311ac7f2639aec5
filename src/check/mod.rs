//! Invariant checks, one file per invariant. The same units run online (inside the simulator,
//! stopping at the first safety violation) and offline over a trace file.

mod invariant;

pub use invariant::Invariant;
