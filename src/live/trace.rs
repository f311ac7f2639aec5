//! One node's trace (docs/spec.md section 3): the header with a `live` object, the node's
//! events with `t` in microseconds since the node started, and, when the node exits, the summary with the
//! digest. Lines reach the file before any message that follows them leaves the node, so a
//! node that is killed leaves a trace that ends at a line boundary (or in the middle of its
//! last line) and never misses a send its peers saw.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::drive::{self, Driver, Unchecked};
use crate::protocol::ledger::to_hex;
use crate::protocol::{Amount, ClientId, GENESIS_PREV, Hash};
use crate::trace::encode::Summary;
use crate::trace::{Event, Header, encode_event};

/// What the header's `live` object says about the node that wrote the trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LiveHeader {
    pub node: ClientId,
    pub cluster: String,
    /// The random number of this run of the node.
    pub incarnation: u64,
    /// Microseconds since the Unix epoch when the node started: its `t` counts from here.
    pub epoch_unix_us: u64,
}

/// The JSON of a header line: the common header plus a `live` object, keeping the field order.
pub fn header_line(header: &Header, live: &impl Serialize) -> Vec<u8> {
    let mut line = serde_json::to_vec(header).expect("a header serialises");
    debug_assert_eq!(line.last(), Some(&b'}'));
    line.pop();
    line.extend_from_slice(b",\"live\":");
    serde_json::to_writer(&mut line, live).expect("the live object serialises");
    line.extend_from_slice(b"}\n");
    line
}

/// The header fields of a live cluster's trace.
pub fn live_header(
    cluster_name: &str,
    initial_balances: Vec<Amount>,
    protocol: &'static str,
    cs_us: u64,
) -> Header {
    Header::new(
        format!("live:{cluster_name}"),
        0,
        initial_balances,
        protocol,
        Vec::new(),
        cs_us,
    )
}

/// Writes lines and keeps the running digest.
pub struct LineWriter<W: Write> {
    output: W,
    hasher: Sha256,
    line: Vec<u8>,
}

impl<W: Write> LineWriter<W> {
    pub fn new(output: W) -> Self {
        LineWriter {
            output,
            hasher: Sha256::new(),
            line: Vec::with_capacity(512),
        }
    }

    /// A line with its newline.
    pub fn raw_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.hasher.update(line);
        self.output.write_all(line)
    }

    pub fn event(&mut self, event: &Event) -> io::Result<()> {
        self.line.clear();
        encode_event(event, &mut self.line);
        self.line.push(b'\n');
        self.hasher.update(&self.line);
        self.output.write_all(&self.line)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.output.flush()
    }

    /// Stops without a summary, as a killed node's trace does (for tests).
    #[cfg(test)]
    pub fn finish_partial(mut self) -> W {
        let _ = self.output.flush();
        self.output
    }

    /// Fills in the digest, writes the summary and flushes; returns the output.
    pub fn finish(mut self, summary: &mut Summary) -> io::Result<W> {
        let digest: Hash = self.hasher.clone().finalize().into();
        summary.digest = to_hex(&digest);
        let mut line = serde_json::to_vec(summary)?;
        line.push(b'\n');
        self.output.write_all(&line)?;
        self.output.flush()?;
        Ok(self.output)
    }
}

/// A node's own trace file. The node's [`crate::drive::Driver`] numbers and stamps the
/// events; this writes them and keeps the digest.
pub struct NodeTrace {
    writer: LineWriter<BufWriter<File>>,
}

impl NodeTrace {
    /// Creates the file (it must not exist) and writes the header.
    pub fn create(path: &Path, header: &Header, live: &LiveHeader) -> io::Result<Self> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        let mut writer = LineWriter::new(BufWriter::new(file));
        writer.raw_line(&header_line(header, live))?;
        writer.flush()?;
        Ok(NodeTrace { writer })
    }

    /// Appends one event (buffered until [`Self::flush`]).
    pub fn event(&mut self, event: &Event) -> io::Result<()> {
        self.writer.event(event)
    }

    /// Hands the buffered lines to the operating system.
    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    /// Writes the summary with the digest and syncs the file.
    pub fn finish(self, summary: &mut Summary) -> io::Result<()> {
        self.writer.finish(summary)?.get_ref().sync_all()
    }
}

/// The summary of a node's trace: the node's own table and head; the other clients as this
/// trace shows them (initial balances, empty ledgers).
pub fn node_summary(
    driver: &Driver<Unchecked>,
    node: ClientId,
    initial_balances: &[Amount],
    table: Vec<Amount>,
    head: Hash,
) -> Summary {
    let own = node.index();
    let clients = initial_balances.len();
    let final_balances = (0..clients)
        .map(|slot| {
            if slot == own {
                table.clone()
            } else {
                initial_balances.to_vec()
            }
        })
        .collect();
    let heads: Vec<Hash> = (0..clients)
        .map(|slot| if slot == own { head } else { GENESIS_PREV })
        .collect();
    drive::summary(
        "stopped",
        driver.now_us(),
        driver.counts(),
        &[],
        final_balances,
        &heads,
    )
}
