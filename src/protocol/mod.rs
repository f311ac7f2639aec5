//! The protocol, pure: Lamport clock, the mutex (request queue and entry rule), the ledger
//! (balance table, hash-chained blocks) and the client state machine that ties them together.
//!
//! Nothing under this module knows about simulated time, the network, random numbers or I/O:
//! inputs arrive through `Client::handle_*` methods and every effect (a message to send, a
//! timer to arm, an event worth tracing) is pushed into an [`Outbox`]. The simulator, the
//! exhaustive explorer and the TCP node all drive this same type, through the [`Node`]
//! boundary that a client in another program implements too.

pub mod balance;
pub mod block;
pub mod client;
pub mod clock;
pub mod id;
pub mod ledger;
pub mod message;
pub mod mutex;
pub mod node;
pub mod output;
pub mod variant;

pub use client::{Client, ClientConfig, Command, CommandError, Phase, Transfer, WaitReason};
pub use clock::LamportClock;
pub use id::ClientId;
pub use ledger::{Block, BlockRejection, GENESIS_PREV, Hash, HashRule, Ledger};
pub use message::{ForeignMessage, Message};
pub use mutex::RequestQueue;
pub use node::Node;
pub use output::{Outbox, Output, OutputKind, Timer};
pub use variant::{Mutation, Mutations, Variant};

/// A Lamport timestamp (a clock value).
pub type Timestamp = u64;
/// Money, in whole units.
pub type Amount = u64;

/// A request's identity and its priority: ordered by timestamp, then by client id.
pub type RequestId = (Timestamp, ClientId);
