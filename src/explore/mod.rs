//! Exhaustive exploration: every reachable state of small configurations.
pub mod hash;
pub mod search;
pub mod settings;
pub mod store;
pub mod system;
pub mod tla;
