//! lamport-ledger: Lamport's mutual exclusion and a hash-chained ledger as pure state machines,
//! driven by a deterministic discrete-event simulator, checked by invariants and rendered for
//! people to read.
//!
//! Data flows one way: `scenario` -> `sim` (drives `protocol`) -> `trace` events -> `check` and
//! `render`. Nothing under `protocol` imports anything else of this crate.

pub mod base;
pub mod bench;
pub mod check;
pub mod cli;
pub mod drive;
pub mod explore;
pub mod hunt;
pub mod json_message;
pub mod live;
pub mod protocol;
pub mod render;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod sim;
pub mod trace;
pub mod wording;
