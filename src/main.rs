//! The `lamport-ledger` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    lamport_ledger::run_cli(std::env::args_os())
}
