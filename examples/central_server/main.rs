//! A client of one's own in Rust: a central-server mutual exclusion (`node.rs`) implements
//! `lamport_ledger::protocol::Node`, runs the default scenario through the simulator and
//! has every interleaving of it explored (`demo.rs`).
//!
//! ```sh
//! cargo run --example central_server            # the protocol as described: both pass
//! cargo run --example central_server -- --flawed # the server grants every request at once
//! ```
//!
//! Exit code 0 when both runs passed, 1 when either found a violation, 2 on an error.

mod demo;
mod node;

use std::process::ExitCode;

use node::Flaw;

fn main() -> ExitCode {
    let flaw = if std::env::args().skip(1).any(|arg| arg == "--flawed") {
        Flaw::GrantsEveryRequest
    } else {
        Flaw::None
    };
    match demo::run(flaw, &mut std::io::stdout().lock()) {
        Ok(verdicts) if verdicts.passed() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(error) => {
            eprintln!("central_server: {error}");
            ExitCode::from(2)
        }
    }
}
