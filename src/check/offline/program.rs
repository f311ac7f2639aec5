//! Holding a trace to a node program (docs/nodes.md): each client's recorded inputs go to a
//! process of the program, through the same replay as the built-in client's, and every
//! event must be what the program answers. The program is the one the user names: a check
//! never runs a command found inside the file it checks.

use std::io::BufRead;

use super::{CheckError, OfflineOptions, OfflineReport, check_events, header_line, network_check};
use crate::check::replay::{Replay, StartNode, protocol_of};
use crate::node::{NodeSpec, ProcessNode};
use crate::protocol::{Mutations, Variant};
use crate::trace::read::{Messages, TraceReader};

/// Reads and checks a whole trace, replaying each client's inputs through a process of the
/// program `spec` names (one per client, started at the client's first event). Messages are
/// read as written, so that the program gets back the bytes it sent. A program that fails is
/// a [`CheckError::NodeFailed`]; every process is reaped before this returns.
pub fn check_program_trace<R: BufRead>(
    input: R,
    options: OfflineOptions,
    spec: &NodeSpec,
) -> Result<OfflineReport, CheckError> {
    let (first_line, input) = header_line(input)?;
    let mut reader = TraceReader::new(input)?;
    let header = reader.header().clone();
    reader.read_messages(Messages::AsWritten);
    // The program is the protocol: the header's protocol only fills the node's settings.
    let (variant, _) = protocol_of(&header).unwrap_or((Variant::default(), Mutations::none()));
    let replay = (!options.invariants_only).then(|| {
        let spec = spec.clone();
        let start: StartNode<ProcessNode> =
            Box::new(move |config, initial| ProcessNode::start(&spec, config, initial));
        Replay::with_nodes(&header, variant, Mutations::none(), start)
    });
    let network = network_check(&header, &first_line, options)?;
    let mut report = check_events(reader, replay, network, options)?;
    report.played_by = Some(spec.cmd.clone());
    Ok(report)
}
