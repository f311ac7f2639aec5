//! The text timeline: one line per event with time, client, clock and what happened in words,
//! then the verdict block.

use std::io::{self, Write};

use crate::protocol::ledger::short_hex;
use crate::protocol::{Block, ClientId, Message, Variant};
use crate::report::RunReport;
use crate::scenario::{LatencySpec, Scenario};
use crate::trace::read::TraceSummary;
use crate::trace::{Direction, DropReason, Event, EventKind, EventSink, Kept};
use crate::wording::{client_group, count};

use super::explain::{Explainer, table_text};
use super::state::Replay;
use super::{Capture, Rules};

/// Writes a line per event to `out`.
pub struct TextTimeline<W: Write> {
    out: W,
    /// Whose rules the run follows, which decides how a request and an entry are worded.
    rules: Rules,
    /// The `seq` of the latest event that is not a violation event: the one that revealed
    /// the violations written after it.
    last_regular: Option<u64>,
}

impl<W: Write> TextTimeline<W> {
    /// A timeline written to `out`.
    pub fn new(out: W) -> Self {
        TextTimeline {
            out,
            rules: Rules::Protocol(Variant::Lamport),
            last_regular: None,
        }
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// The lines before the first event: what is being run.
    pub fn write_intro(&mut self, scenario: &Scenario) -> io::Result<()> {
        self.rules = match scenario.node {
            Some(_) => Rules::Program,
            None => Rules::Protocol(scenario.protocol.to_protocol()),
        };
        writeln!(
            self.out,
            "scenario {:?}: {} clients, protocol {}, seed {}",
            scenario.name,
            scenario.clients,
            scenario.protocol.name(),
            scenario.seed
        )?;
        if !scenario.description.is_empty() {
            writeln!(self.out, "{}", scenario.description)?;
        }
        writeln!(
            self.out,
            "network: latency {}, FIFO {}{}; critical section {}us",
            describe_latency(&scenario.network.latency),
            if scenario.network.fifo { "on" } else { "off" },
            if scenario.network.links.is_empty() {
                String::new()
            } else {
                format!(", {}", count(scenario.network.links.len(), "link override"))
            },
            scenario.cs_us
        )?;
        writeln!(self.out)?;
        writeln!(self.out, "{}", column_heads())
    }
}

impl<W: Write> EventSink for TextTimeline<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        writeln!(
            self.out,
            "{}",
            timeline_line(event, self.rules, self.last_regular)
        )?;
        if !matches!(event.kind, EventKind::Violation { .. }) {
            self.last_regular = Some(event.seq);
        }
        Ok(())
    }
}

/// The heads of the timeline's columns.
fn column_heads() -> String {
    format!(
        "{:>7} {:>12}  {:<4} {:>5}  event",
        "seq", "time", "node", "clock"
    )
}

/// One line of the timeline: `#seq`, time, client, clock, the event in words
/// ([`describe_at`]).
fn timeline_line(event: &Event, rules: Rules, last_regular: Option<u64>) -> String {
    let node = event
        .node
        .map_or_else(|| "-".to_string(), |node| format!("c{node}"));
    format!(
        "{:>7} {:>12}  {:<4} {:>5}  {}",
        format!("#{}", event.seq),
        format_time(event.t_us),
        node,
        event.clock,
        describe_at(event, rules, last_regular)
    )
}

/// One event in words ([`describe`]); a violation event also says which event revealed it:
/// `last_regular`, the latest event before it that is not a violation event (unless it was
/// found when the run ended, which its first words say).
pub(crate) fn describe_at(event: &Event, rules: Rules, last_regular: Option<u64>) -> String {
    match &event.kind {
        EventKind::Violation { invariant, detail } => {
            // A violation found when the run ended says so in its first words.
            let found = if crate::check::found_at_end(detail) {
                String::new()
            } else {
                let by = last_regular.unwrap_or(event.seq.saturating_sub(1));
                format!(" at event {by}")
            };
            format!("VIOLATION of {invariant}{found}: {detail}")
        }
        _ => describe_under(event, rules),
    }
}

/// " at event 14 (t=14.162ms, recorded as event 15)": where a violation recorded as the
/// violation event `recorded` was found, by the event that revealed it (`None`: when the run
/// ended), in the trace's one numbering.
fn found_at(revealed_by: Option<u64>, recorded: u64, t_us: Option<u64>) -> String {
    let time = t_us.map_or_else(String::new, |t_us| format!("t={}, ", format_time(t_us)));
    match revealed_by {
        Some(by) => format!(" at event {by} ({time}recorded as event {recorded})"),
        None => format!(" at the end of the run ({time}recorded as event {recorded})"),
    }
}

/// Microseconds as milliseconds with three decimals: `12.345ms`.
pub fn format_time(t_us: u64) -> String {
    format!("{}.{:03}ms", t_us / 1000, t_us % 1000)
}

fn describe_latency(latency: &LatencySpec) -> String {
    match *latency {
        LatencySpec::Constant { us } => format!("constant {us}us"),
        LatencySpec::Uniform { min_us, max_us } => format!("uniform {min_us}..{max_us}us"),
        LatencySpec::Exponential { min_us, mean_us } => {
            format!("exponential, at least {min_us}us, mean {mean_us}us")
        }
    }
}

/// One event in words.
pub fn describe(event: &Event, variant: Variant) -> String {
    describe_under(event, Rules::Protocol(variant))
}

/// One event in words, as the clients' `rules` let it be explained.
pub fn describe_under(event: &Event, rules: Rules) -> String {
    let node = event.node.unwrap_or(ClientId::new(0));
    match &event.kind {
        EventKind::Send { msg_id, to, msg } => {
            format!("sends {} to c{to}  [m{msg_id}]", describe_message(msg))
        }
        EventKind::Deliver { msg_id, from, msg } => {
            format!(
                "receives {} from c{from}  [m{msg_id}]",
                describe_message(msg)
            )
        }
        EventKind::Transfer { to, amount } => format!("is asked to pay {amount} to c{to}"),
        EventKind::Request { ts } => match rules {
            Rules::Protocol(_) => {
                format!("requests the mutex: request ({ts},{node}) joins its queue")
            }
            Rules::Program => format!("requests the mutex with timestamp {ts}"),
        },
        EventKind::Enter { ts } => match rules {
            Rules::Protocol(variant) => format!(
                "ENTERS the critical section: {}",
                entry_reason(*ts, node, variant)
            ),
            Rules::Program => format!("ENTERS the critical section (request {ts})"),
        },
        EventKind::Exit { ts } => format!("leaves the critical section of request ({ts},{node})"),
        EventKind::Commit { block } => format!("COMMITS {}", describe_block(block)),
        EventKind::Abort {
            amount, balance, ..
        } => {
            format!("ABORTS: wants to pay {amount} but has only {balance}")
        }
        EventKind::Apply { block } => format!("applies {}", describe_block(block)),
        EventKind::Reject {
            from,
            block,
            reason,
        } => {
            format!("REJECTS {} from c{from}: {reason}", describe_block(block))
        }
        EventKind::Balance { of, value } => {
            format!("reads the balance of c{of} in its own table: {value}")
        }
        EventKind::Violation { invariant, detail } => format!("VIOLATION of {invariant}: {detail}"),
        EventKind::Drop { msg_id, reason } => match reason {
            DropReason::Loss => format!("message m{msg_id} is LOST by the network"),
            DropReason::Partition => {
                format!("message m{msg_id} is LOST: a partition cuts the link")
            }
            DropReason::Crashed => format!("message m{msg_id} is LOST: its receiver is down"),
        },
        EventKind::Duplicate { msg_id } => {
            format!("message m{msg_id} is DUPLICATED by the network")
        }
        EventKind::Crash => "CRASHES".to_string(),
        EventKind::Restart { kept } => match kept {
            Kept::Ledger => {
                "RESTARTS with its ledger; queue, clock and pending transfers are gone".to_string()
            }
            Kept::Nothing => "RESTARTS with nothing: initial balances, empty ledger".to_string(),
        },
        EventKind::Partition { groups, direction } => {
            format!("PARTITION {}", describe_groups(groups, *direction))
        }
        EventKind::Heal { groups, direction } => format!(
            "HEAL of the partition {}",
            describe_groups(groups, *direction)
        ),
    }
}

/// Why a client may enter, in the words of the variant's entry rule.
fn entry_reason(ts: u64, node: ClientId, variant: Variant) -> String {
    match variant {
        Variant::Lamport | Variant::UpdateAck => format!(
            "request ({ts},{node}) heads its queue and every peer has sent a timestamp later than {ts}"
        ),
        Variant::LamportReplyCount => {
            format!("request ({ts},{node}) heads its queue and it has counted a REPLY per peer")
        }
        Variant::RicartAgrawala => {
            format!("it has a REPLY from every peer for request ({ts},{node})")
        }
    }
}

pub(crate) fn describe_message(msg: &Message) -> String {
    match msg {
        Message::Request { ts } => format!("REQUEST(ts {ts})"),
        Message::Reply { ts } => format!("REPLY(ts {ts})"),
        Message::Update { ts, block } => format!("UPDATE(ts {ts}, block {})", block.index()),
        Message::Updated { ts } => format!("UPDATED(ts {ts})"),
        Message::Foreign(foreign) => format!("{}(ts {})", foreign.kind.to_uppercase(), foreign.ts),
        Message::Release {
            ts,
            request_ts,
            block,
        } => match block {
            Some(block) => format!(
                "RELEASE(ts {ts}, request {request_ts}, block {})",
                block.index()
            ),
            None => format!("RELEASE(ts {ts}, request {request_ts}, no block)"),
        },
    }
}

fn describe_groups(groups: &[Vec<ClientId>], direction: Direction) -> String {
    let names: Vec<String> = groups.iter().map(client_group).collect();
    match direction {
        Direction::Both => names.join(" | "),
        Direction::OneWay => format!("{} -/-> {} (one way)", names[0], names[1..].join(", ")),
    }
}

fn describe_block(block: &Block) -> String {
    format!(
        "block {} (c{} pays {} to c{}, hash {})",
        block.index(),
        block.from(),
        block.amount(),
        block.to(),
        short_hex(&block.hash_value())
    )
}

/// How many clients' balances or heads to list before summarising the rest.
const LISTED_CLIENTS: usize = 16;

/// The closing lines: verdict, expectation, counts, balances, heads, seed, digest, rerun.
pub fn write_verdict(out: &mut dyn Write, report: &RunReport, rerun: &str) -> io::Result<()> {
    let result = &report.result;
    writeln!(out)?;
    match report.result.violations.first() {
        None => writeln!(
            out,
            "verdict:   OK, every invariant held (the run ended {} at {})",
            result.end.name(),
            format_time(result.end_us)
        )?,
        Some(first) => {
            let revealed = crate::check::revealing_events(
                result
                    .violations
                    .iter()
                    .map(|recorded| (recorded.seq, recorded.violation.detail.as_str())),
            );
            for (rank, (recorded, by)) in result.violations.iter().zip(revealed).enumerate() {
                writeln!(
                    out,
                    "{}VIOLATION of {}{}: {}",
                    if rank == 0 {
                        "verdict:   "
                    } else {
                        "also:      "
                    },
                    recorded.violation.invariant,
                    found_at(by, recorded.seq, Some(recorded.t_us)),
                    recorded.violation.detail
                )?;
            }
            if first.violation.invariant.is_safety()
                && result.end == crate::sim::EndReason::Violation
            {
                writeln!(
                    out,
                    "           (the run stopped at the first safety violation)"
                )?;
            }
        }
    }
    if let Some(expect) = &report.expectation {
        writeln!(
            out,
            "expected:  {} ({})",
            expect.wanted,
            if expect.met { "matched" } else { "NOT matched" }
        )?;
    }
    let finished = result.committed + result.aborted;
    let per_transfer = match (result.messages_sent * 10).checked_div(finished) {
        Some(tenths) => format!("{}.{}", tenths / 10, tenths % 10),
        None => "n/a".to_string(),
    };
    writeln!(
        out,
        "transfers: {} committed, {} aborted; {} messages sent ({} per finished transfer); {} events",
        result.committed, result.aborted, result.messages_sent, per_transfer, result.events
    )?;
    write_balances(out, report)?;
    write_heads(out, report)?;
    writeln!(out, "seed:      {}", report.seed)?;
    writeln!(out, "digest:    {}", report.digest_hex)?;
    writeln!(out, "rerun:     {rerun}")
}

fn write_balances(out: &mut dyn Write, report: &RunReport) -> io::Result<()> {
    let clients = &report.result.clients;
    let render = |table: &[u64]| {
        let mut text: Vec<String> = table
            .iter()
            .take(LISTED_CLIENTS)
            .enumerate()
            .map(|(slot, b)| format!("c{}={b}", slot + 1))
            .collect();
        if table.len() > LISTED_CLIENTS {
            text.push(format!("… ({} more)", table.len() - LISTED_CLIENTS));
        }
        text.join(" ")
    };
    let first = clients[0].ledger().table().to_vec();
    if clients
        .iter()
        .all(|client| client.ledger().table().to_vec() == first)
    {
        return writeln!(
            out,
            "balances:  all {} tables agree: {}",
            clients.len(),
            render(&first)
        );
    }
    writeln!(out, "balances:  the tables differ:")?;
    for client in clients.iter().take(LISTED_CLIENTS) {
        writeln!(
            out,
            "           c{}'s table: {}",
            client.id(),
            render(&client.ledger().table().to_vec())
        )?;
    }
    Ok(())
}

fn write_heads(out: &mut dyn Write, report: &RunReport) -> io::Result<()> {
    let clients = &report.result.clients;
    let head = |client: &crate::protocol::Client| {
        format!(
            "{}, head {}",
            count(client.ledger().len(), "block"),
            short_hex(&client.ledger().head_hash())
        )
    };
    let first = clients[0].ledger().head_hash();
    if clients
        .iter()
        .all(|client| client.ledger().head_hash() == first)
    {
        return writeln!(
            out,
            "ledgers:   all {} agree: {}",
            clients.len(),
            head(&clients[0])
        );
    }
    writeln!(out, "ledgers:   they differ:")?;
    for client in clients.iter().take(LISTED_CLIENTS) {
        writeln!(out, "           c{}: {}", client.id(), head(client))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The explained timeline of `render --format text`.

/// The column where an event's words start, for the explanation lines under it.
const EXPLANATION_INDENT: usize = 34;

/// The timeline of the window with the reason for every decision under the event that made
/// it: why a client entered, what it waits for, why it aborted, when a balance read is stale.
/// The reasons come from the state rebuilt from the events ([`Replay`]).
pub fn write_explained(capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    let info = &capture.info;
    writeln!(out, "{}", info.headline())?;
    if let Some(description) = &info.description {
        writeln!(out, "{description}")?;
    }
    if let Some(cs_us) = info.cs_us {
        writeln!(out, "critical section: {cs_us}us")?;
    }
    writeln!(out, "{}", capture.range_text())?;
    if capture.before > 0 {
        writeln!(out)?;
        writeln!(out, "state before the first event shown:")?;
        write_states(out, &capture.start)?;
    }
    writeln!(out)?;
    writeln!(out, "{}", column_heads())?;
    let mut explainer = Explainer::new(&capture.start);
    let events = &capture.events;
    for index in 0..events.len() {
        let last_regular = explainer.replay().last_regular;
        let notes = explainer.explain(events, index);
        writeln!(
            out,
            "{}",
            timeline_line(&events[index], capture.rules(), last_regular)
        )?;
        for note in notes {
            writeln!(out, "{:EXPLANATION_INDENT$}{note}", "")?;
        }
    }
    writeln!(out)?;
    match events.last() {
        Some(last) => writeln!(out, "state after event {}:", last.seq)?,
        None => writeln!(out, "state:")?,
    }
    write_states(out, explainer.replay())?;
    match &capture.summary {
        Some(summary) => write_summary_verdict(out, summary),
        None => Ok(()),
    }
}

/// The verdict block of `run`, from a trace's summary line: what the trace's author found
/// (`check` rechecks it), the counts, and the digest the reader verified.
fn write_summary_verdict(out: &mut dyn Write, summary: &TraceSummary) -> io::Result<()> {
    writeln!(out)?;
    let ended = match (&summary.end, summary.end_us) {
        (Some(end), Some(end_us)) => format!(" (the run ended {end} at {})", format_time(end_us)),
        (Some(end), None) => format!(" (the run ended {end})"),
        _ => String::new(),
    };
    match summary.violations.split_first() {
        None => writeln!(out, "verdict:   OK, no violation in the summary{ended}")?,
        Some((first, rest)) => {
            let revealed = crate::check::revealing_events(
                summary
                    .violations
                    .iter()
                    .filter_map(|claim| Some((claim.seq?, claim.detail.as_str()))),
            );
            // Claims without a seq (which this program never writes) have no place.
            let mut revealed = revealed.into_iter();
            let mut place = |seq: Option<u64>, t_us: Option<u64>| match seq {
                Some(seq) => found_at(revealed.next().flatten(), seq, t_us),
                None => claimed_at(t_us),
            };
            writeln!(
                out,
                "verdict:   VIOLATION of {}{}: {}",
                first.invariant,
                place(first.seq, first.t_us),
                first.detail
            )?;
            for other in rest {
                writeln!(
                    out,
                    "           then {}{}",
                    other.invariant,
                    place(other.seq, other.t_us)
                )?;
            }
        }
    }
    let messages = summary
        .messages_sent
        .map_or_else(String::new, |sent| format!(", {sent} messages sent"));
    writeln!(
        out,
        "events:    {}, {} committed, {} aborted{messages}",
        summary.events, summary.committed, summary.aborted
    )?;
    writeln!(
        out,
        "digest:    {} (matches the trace's bytes)",
        crate::protocol::ledger::to_hex(&summary.digest)
    )
}

/// " at t=14.162ms" for a claimed violation without a `seq`, with what the summary gives.
fn claimed_at(t_us: Option<u64>) -> String {
    t_us.map_or_else(String::new, |t_us| format!(" at t={}", format_time(t_us)))
}

/// One line per client: phase, clock, queue, largest timestamps seen, table, ledger.
fn write_states(out: &mut dyn Write, replay: &Replay) -> io::Result<()> {
    for client in replay.clients.iter().take(LISTED_CLIENTS) {
        let seen: Vec<String> = client
            .peers()
            .take(LISTED_CLIENTS)
            .map(|peer| format!("c{peer}={}", client.seen(peer)))
            .collect();
        // A program's queue, if it keeps one, is not in the trace.
        let queue = match replay.rules() {
            Rules::Protocol(_) => format!("; queue {}", client.queue_text()),
            Rules::Program => String::new(),
        };
        writeln!(
            out,
            "  c{}: {}, clock {}{queue}; latest seen {}; table {}; ledger {}",
            client.id,
            client.phase_text(),
            client.clock,
            if seen.is_empty() {
                "-".to_string()
            } else {
                seen.join(" ")
            },
            table_text(&client.balances),
            replay.ledger_text(client.id)
        )?;
    }
    if replay.clients.len() > LISTED_CLIENTS {
        writeln!(
            out,
            "  … and {} more clients",
            replay.clients.len() - LISTED_CLIENTS
        )?;
    }
    Ok(())
}
