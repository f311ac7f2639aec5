//! A log for ShiViz (<https://distributedclocks.github.io/shiviz/>), which draws space-time
//! diagrams from vector clocks and offers motif search and clustering.
//!
//! The file is what ShiViz's "upload a file" reads: the first line is the regular expression
//! that parses every event line (with the named groups `host`, `clock` and `event`, plus
//! `seq`, `time`, `lamport` and `kind`, which ShiViz shows as fields), the second line is the
//! delimiter between executions (empty: one execution), then one line per event:
//!
//! ```text
//! c2 {"c1":1,"c2":4} seq=12 t=7.845ms lamport=3 kind=deliver | receives REPLY(ts 2) from c1  [m2]
//! ```
//!
//! The vector clocks follow ShiViz's rules: a host's own entry is 1 at its first event and
//! grows by exactly 1 per event of that host; a delivery merges (entry-wise maximum) the clock
//! the sender had at the send event; entries that are 0 are left out. Within a `--from/--to`
//! window the clocks start over at the window, and deliveries of messages sent before it merge
//! nothing. Network-wide events (partitions) belong to a host called `network`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use crate::protocol::ClientId;
use crate::trace::EventKind;

use super::Capture;
use super::text::{describe_under, format_time};

/// The first line of the log: how ShiViz parses every event line.
pub const SHIVIZ_REGEX: &str = r"^(?<host>\S+) (?<clock>\{[^}]*\}) seq=(?<seq>\d+) t=(?<time>\S+) lamport=(?<lamport>\d+) kind=(?<kind>\S+) \| (?<event>.*)$";

/// The host of events that belong to no client.
pub const NETWORK_HOST: &str = "network";

/// A vector clock: host index (0 = network, `id` = client) -> count.
type VectorClock = BTreeMap<u32, u64>;

/// Writes the ShiViz log of `capture`.
pub fn write_shiviz(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    let rules = capture.rules();
    let mut text = String::with_capacity(64 + capture.events.len() * 140);
    text.push_str(SHIVIZ_REGEX);
    text.push_str("\n\n");
    let mut clocks: BTreeMap<u32, VectorClock> = BTreeMap::new();
    // The sender's vector clock at each send inside the window, by msg_id.
    let mut sent: BTreeMap<u64, VectorClock> = BTreeMap::new();
    for event in &capture.events {
        let host = event.node.map_or(0, ClientId::get);
        let mut clock = clocks.remove(&host).unwrap_or_default();
        *clock.entry(host).or_insert(0) += 1;
        if let EventKind::Deliver { msg_id, .. } = &event.kind
            && let Some(at_send) = sent.get(msg_id)
        {
            for (&other, &count) in at_send {
                let entry = clock.entry(other).or_insert(0);
                *entry = (*entry).max(count);
            }
        }
        if let EventKind::Send { msg_id, .. } = &event.kind {
            sent.insert(*msg_id, clock.clone());
        }
        text.push_str(&host_name(host));
        text.push(' ');
        write_clock(&mut text, &clock);
        let description = describe_under(event, rules).replace(['\n', '\r'], " ");
        let _ = writeln!(
            text,
            " seq={} t={} lamport={} kind={} | {description}",
            event.seq,
            format_time(event.t_us),
            event.clock,
            event.kind.name()
        );
        clocks.insert(host, clock);
    }
    out.write_all(text.as_bytes())
}

/// `c3`, or `network` for host 0.
fn host_name(host: u32) -> String {
    if host == 0 {
        NETWORK_HOST.to_string()
    } else {
        format!("c{host}")
    }
}

/// `{"c1":2,"c3":1}` in host order.
fn write_clock(text: &mut String, clock: &VectorClock) {
    text.push('{');
    for (place, (&host, &count)) in clock.iter().filter(|(_, count)| **count > 0).enumerate() {
        if place > 0 {
            text.push(',');
        }
        let _ = write!(text, "\"{}\":{count}", host_name(host));
    }
    text.push('}');
}
