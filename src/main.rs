//! The `lamport-ledger` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    lamport_ledger::cli::run(std::env::args_os())
}
