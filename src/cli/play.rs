//! `lamport-ledger play SCENARIO [--port P]`: the student is the network, on a local page.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;

use super::run::load_scenario;
use super::{CliError, EXIT_OK};
use crate::play::Session;
use crate::play::server::PlayServer;
use crate::render::too_many_clients;

#[derive(Debug, Args)]
pub(super) struct PlayArgs {
    /// The scenario to play (default: the built-in one).
    scenario: Option<PathBuf>,
    /// The port to listen on, on 127.0.0.1 only; 0 takes any free port.
    #[arg(long, default_value_t = 8024, value_name = "P")]
    port: u16,
}

pub(super) fn play_command(args: &PlayArgs) -> Result<u8, CliError> {
    let scenario = load_scenario(args.scenario.as_deref())?;
    if let Some(message) = too_many_clients("this scenario", scenario.clients) {
        return Err(CliError::Usage(message));
    }
    let io_error = |source| CliError::Io {
        path: scenario.source.clone(),
        source,
    };
    let session = Session::new(&scenario).map_err(io_error)?;
    let server = PlayServer::bind(session, args.port).map_err(|source| {
        CliError::Usage(format!(
            "cannot listen on 127.0.0.1:{}: {source} (choose another with --port, or --port 0)",
            args.port
        ))
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|error| CliError::Usage(format!("cannot catch Ctrl-C: {error}")))?;
    println!("play: {} ({})", server.url(), scenario.source);
    println!("open the address in a browser; Ctrl-C stops the server");
    let _ = std::io::stdout().flush();
    server.serve(&stop).map_err(|source| CliError::Io {
        path: "the play server".to_string(),
        source,
    })?;
    println!("play: stopped");
    Ok(EXIT_OK)
}
