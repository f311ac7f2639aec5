//! Live mode: the same [`Client`](crate::protocol::Client) state machine that the simulator
//! checks, run for real as one process per node over TCP (see docs/live.md).
//!
//! - [`cluster`]: who is in the cluster (the built-in three nodes, or a JSON cluster file);
//! - [`wire`]: length-prefixed frames authenticated with HMAC-SHA256, and their JSON bodies;
//! - `input`: what the input threads hand the node loop;
//! - `net`: listener, dialers, handshake, one reader and one writer thread per connection;
//! - `guard`: the handshake's slots and deadline, and limits on what peers make the node log;
//! - `session`: numbered frames and acknowledgements per peer, resumed or reset on reconnect;
//! - [`storage`]: the data directory, an fsynced ledger verified on start;
//! - `trace`: the node's own trace (docs/spec.md section 3); [`merge`]: all nodes' traces as one;
//! - `prompt`: the original commands; `node`: the loop that drives the client.
//!
//! Nothing here reaches into the protocol: the node only calls `Client::handle_command`,
//! `handle_message` and `handle_timer`, and hands the outputs to the shared driver
//! ([`crate::drive`]), which makes the trace events; the node turns those into frames and
//! text.

pub mod cluster;
mod guard;
mod input;
pub mod merge;
mod net;
mod node;
mod prompt;
mod session;
pub mod storage;
mod trace;
pub mod wire;

pub use cluster::{KEY_ENV, default_cluster, load_cluster};
pub use merge::merge_traces;
pub use node::{NodeOptions, run_node};
