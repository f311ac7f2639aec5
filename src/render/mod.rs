//! Renderers: turn trace events and run reports into something a person reads. One file per
//! output format:
//!
//! - [`text`]: the timeline, and with [`text::write_explained`] the reason for every decision
//!   (in words by [`explain`], which the page shows too);
//! - [`svg`]: a space-time diagram, one lane per client;
//! - [`html`]: one self-contained page with the diagram and a step-through view;
//! - [`shiviz`]: a log with vector clocks that ShiViz loads as is;
//! - [`mermaid`]: a `sequenceDiagram` for small runs.
//!
//! Every renderer works on the same input, a [`Capture`]: the trace's [`TraceInfo`], the
//! events of the selected [`Window`], and the state of every client just before the window
//! ([`state::Replay`]), so that a window in the middle of a long run still knows who was
//! inside the critical section and what each queue held. A capture is filled one event at a
//! time, from the simulator in process (`run --render`) or from a trace file (`render`): the
//! events before the window are replayed and dropped, the ones after it only counted.

pub mod explain;
pub mod html;
pub mod mermaid;
pub mod shiviz;
pub mod state;
pub mod svg;
pub mod text;

use std::io::{self, Write};

use crate::protocol::{Amount, ClientId, Message, Mutation, Mutations, Variant};
use crate::trace::read::{Messages, ReadError, TraceHeader, TraceReader, TraceSummary};
use crate::trace::{Event, EventKind, EventSink, Header};

use state::Replay;

/// What the renderers need to know about a run, from either kind of header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceInfo {
    /// The scenario's name (`unnamed` when the trace does not say).
    pub scenario: String,
    /// The scenario's description, when rendering in process.
    pub description: Option<String>,
    /// The run's seed, when the trace says.
    pub seed: Option<u64>,
    /// Index `id - 1` is client `id`.
    pub initial_balances: Vec<Amount>,
    /// The protocol as the trace names it.
    pub protocol: String,
    /// The protocol's rules, [`Variant::Lamport`] for a name this program does not know.
    pub variant: Variant,
    /// The mutations as the trace names them.
    pub mutation_names: Vec<String>,
    /// The mutations this program knows, which change how the state is rebuilt.
    pub mutations: Mutations,
    /// How long a client stays inside the critical section, when the trace says.
    pub cs_us: Option<u64>,
}

impl TraceInfo {
    /// From the header the simulator writes.
    pub fn from_header(header: &Header) -> Self {
        Self::new(
            Some(header.scenario.clone()),
            Some(header.seed),
            header.initial_balances.0.clone(),
            header.protocol,
            header
                .mutations
                .iter()
                .map(|name| name.to_string())
                .collect(),
            Some(header.cs_us),
        )
    }

    /// From the header a trace file starts with.
    pub fn from_trace_header(header: &TraceHeader) -> Self {
        Self::new(
            header.scenario.clone(),
            header.seed,
            header.initial_balances.clone(),
            &header.protocol,
            header.mutations.clone(),
            header.cs_us,
        )
    }

    fn new(
        scenario: Option<String>,
        seed: Option<u64>,
        initial_balances: Vec<Amount>,
        protocol: &str,
        mutation_names: Vec<String>,
        cs_us: Option<u64>,
    ) -> Self {
        let variant = Variant::ALL
            .into_iter()
            .find(|variant| variant.name() == protocol)
            .unwrap_or_default();
        let known: Vec<Mutation> = Mutation::ALL
            .into_iter()
            .filter(|mutation| mutation_names.iter().any(|name| name == mutation.name()))
            .collect();
        TraceInfo {
            scenario: scenario.unwrap_or_else(|| "unnamed".to_string()),
            description: None,
            seed,
            initial_balances,
            protocol: protocol.to_string(),
            variant,
            mutation_names,
            mutations: Mutations::of(&known),
            cs_us,
        }
    }

    /// N: the clients are `1..=N`.
    pub fn clients(&self) -> u32 {
        self.initial_balances.len() as u32
    }

    /// The client ids in order.
    pub fn client_ids(&self) -> impl Iterator<Item = ClientId> + use<> {
        ClientId::all(self.clients())
    }

    /// `scenario "default", seed 1: 3 clients, protocol lamport` and the mutations, if any.
    pub fn headline(&self) -> String {
        let seed = self
            .seed
            .map_or_else(String::new, |seed| format!(", seed {seed}"));
        let mutations = if self.mutation_names.is_empty() {
            String::new()
        } else {
            format!(", mutations {}", self.mutation_names.join(", "))
        };
        format!(
            "scenario {:?}{seed}: {} clients, protocol {}{mutations}",
            self.scenario,
            self.clients(),
            self.protocol
        )
    }
}

/// Whose rules the clients of a run follow, which decides what a drawing can explain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rules {
    /// A built-in protocol's: why a client enters, what it waits for, what its queue holds.
    Protocol(Variant),
    /// A program's own (`run --node-cmd`, docs/nodes.md), whose messages are its own: only
    /// what the events say is shown, not the reasons a built-in protocol would have.
    Program,
}

/// Whether `event` carries a message of a node program ([`Message::Foreign`]).
fn carries_programs_message(event: &Event) -> bool {
    matches!(
        &event.kind,
        EventKind::Send {
            msg: Message::Foreign(_),
            ..
        } | EventKind::Deliver {
            msg: Message::Foreign(_),
            ..
        }
    )
}

/// The output formats of `render` and `run --render`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RenderFormat {
    /// The timeline with the reason for every decision.
    Text,
    /// A space-time diagram (SVG).
    Svg,
    /// One self-contained page: the diagram and a step-through view of every client's state.
    Html,
    /// A log with vector clocks for ShiViz (<https://distributedclocks.github.io/shiviz/>).
    Shiviz,
    /// A Mermaid sequenceDiagram, for small runs.
    Mermaid,
}

impl RenderFormat {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            RenderFormat::Text => "text",
            RenderFormat::Svg => "svg",
            RenderFormat::Html => "html",
            RenderFormat::Shiviz => "shiviz",
            RenderFormat::Mermaid => "mermaid",
        }
    }
}

/// Which events to draw, by `seq`, both ends included; `None` is open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// The first event drawn.
    pub from: Option<u64>,
    /// The last event drawn.
    pub to: Option<u64>,
}

impl Window {
    /// Every event.
    pub fn all() -> Self {
        Self::default()
    }

    /// The events from `from` to `to`, both included.
    pub fn new(from: Option<u64>, to: Option<u64>) -> Self {
        Window { from, to }
    }

    fn is_before(&self, seq: u64) -> bool {
        self.from.is_some_and(|from| seq < from)
    }

    fn is_after(&self, seq: u64) -> bool {
        self.to.is_some_and(|to| seq > to)
    }
}

/// The input of every renderer, filled one event at a time (it is an [`EventSink`]).
#[derive(Clone, Debug)]
pub struct Capture {
    /// What the trace says about the run.
    pub info: TraceInfo,
    /// The events kept.
    pub window: Window,
    /// Every client's state just before the first event of the window.
    pub start: Replay,
    /// The events inside the window, in trace order.
    pub events: Vec<Event>,
    /// How many events came before the window (replayed, not kept).
    pub before: u64,
    /// How many events came after it (counted, not kept).
    pub after: u64,
    /// The trace's summary line, when the events came from a trace file.
    pub summary: Option<TraceSummary>,
}

impl Capture {
    /// An empty capture of a run described by `info`, keeping the events in `window`.
    pub fn new(info: TraceInfo, window: Window) -> Self {
        Capture {
            start: Replay::new(&info),
            info,
            window,
            events: Vec::new(),
            before: 0,
            after: 0,
            summary: None,
        }
    }

    /// Takes one event of the trace, in order. A message of a node program anywhere in the
    /// run makes the whole drawing follow [`Rules::Program`].
    pub fn push(&mut self, event: &Event) {
        if carries_programs_message(event) {
            self.start.follow_program_rules();
        }
        if self.window.is_before(event.seq) {
            self.start.apply(event);
            self.before += 1;
        } else if self.window.is_after(event.seq) {
            self.after += 1;
        } else {
            self.events.push(event.clone());
        }
    }

    /// Whose rules the run follows.
    pub fn rules(&self) -> Rules {
        self.start.rules()
    }

    /// Does the window reach the end of the trace (nothing happened after it)?
    pub fn reaches_end(&self) -> bool {
        self.after == 0
    }

    /// `18 events, #0 to #17`, or for a window `21 events, #10 to #30, of the run's 75`: the
    /// event numbers the diagrams and the page's event box use, for titles.
    pub fn range_text(&self) -> String {
        let shown = self.events.len() as u64;
        let total = self.before + shown + self.after;
        let events = crate::wording::count(shown, "event");
        match (self.events.first(), self.events.last()) {
            (Some(first), Some(last)) if shown == total => {
                format!("{events}, #{} to #{}", first.seq, last.seq)
            }
            (Some(first), Some(last)) => {
                format!(
                    "{events}, #{} to #{}, of the run's {total}",
                    first.seq, last.seq
                )
            }
            _ => format!("no events of the run's {total}"),
        }
    }
}

impl EventSink for Capture {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.push(event);
        Ok(())
    }
}

/// The most clients a drawing has: one lane each, and the step-through state keeps every
/// client's view of every other client (memory grows with the square of the count: about
/// 25 MB at this bound, 2.5 GB at the simulator's 10000).
pub const MAX_RENDER_CLIENTS: u32 = 1000;

/// Why `what` (`this trace`, a scenario) with `clients` clients is not drawn, or `None` if it
/// is.
pub fn too_many_clients(what: &str, clients: u32) -> Option<String> {
    (clients > MAX_RENDER_CLIENTS).then(|| {
        format!(
            "a drawing has at most {MAX_RENDER_CLIENTS} clients (one lane each), but {what} has \
             {clients}"
        )
    })
}

/// Reads a whole JSON Lines trace into a capture of `window`; the reader checks the format and
/// says on which line it breaks.
pub fn read_capture(input: impl io::BufRead, window: Window) -> Result<Capture, ReadError> {
    let mut reader = TraceReader::new(input)?;
    if let Some(message) = too_many_clients("this trace", reader.header().clients) {
        return Err(ReadError::Invalid {
            line: 1,
            column: None,
            message,
        });
    }
    // A program's messages are drawn too, not skipped: their type and timestamp are known.
    reader.read_messages(Messages::BuiltInAndForeign);
    let mut capture = Capture::new(TraceInfo::from_trace_header(reader.header()), window);
    while let Some(event) = reader.next_event()? {
        capture.push(&event);
    }
    capture.summary = reader.summary().cloned();
    Ok(capture)
}

/// Writes `capture` in `format` to `out`.
pub fn render(format: RenderFormat, capture: &Capture, out: &mut dyn Write) -> io::Result<()> {
    match format {
        RenderFormat::Text => text::write_explained(capture, out),
        RenderFormat::Svg => svg::write_svg(capture, out),
        RenderFormat::Html => html::write_html(capture, out),
        RenderFormat::Shiviz => shiviz::write_shiviz(capture, out),
        RenderFormat::Mermaid => mermaid::write_mermaid(capture, out),
    }
}

/// Escapes text for XML and HTML content and attribute values.
pub(crate) fn escape_xml(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    std::borrow::Cow::Owned(escaped)
}
