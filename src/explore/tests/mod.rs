//! The explorer checked against enumerators written here from scratch: a naive breadth-first
//! search over plain values (no encoding, no interning, no remembered client steps, no state
//! store), once for the real clients and once for the TLA+ spec LamportMutex.tla. The port of
//! that spec is also checked against the numbers TLC publishes for N = 3, maxClock = 6 in
//! tlaplus/Examples' manifest.json. The command line is tested in `tests/explore.rs`.

mod bad_nodes;
mod entry;
mod generic;
mod naive_system;
mod reduction;
mod scenarios;
mod tla;

use std::path::PathBuf;

use crate::explore::search::SearchOptions;

pub(super) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(super) fn bfs() -> SearchOptions {
    SearchOptions::default()
}

pub(super) fn keep_going() -> SearchOptions {
    SearchOptions {
        keep_going: true,
        ..SearchOptions::default()
    }
}
