//! The diagram's content before it is drawn: the arrows of the messages (send paired with
//! delivery or loss), the critical sections, the downtimes and the partitions, in rows. The
//! SVG and the HTML page both draw it.

use std::collections::BTreeMap;

use crate::protocol::ClientId;
use crate::render::Capture;
use crate::render::state::{Phase, Replay};
use crate::trace::{DropReason, Event, EventKind};

/// How an arrow ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Delivered at the end row.
    Delivered,
    /// Lost at the sender's side (loss, partition): a short stroke ending in a cross.
    LostOnTheWay,
    /// Lost because the receiver was down: ends in a cross on the receiver's lane.
    LostAtReceiver,
    /// Not delivered inside the window (or never, if the window reaches the end of the run).
    Beyond,
}

impl Fate {
    pub(crate) fn code(self) -> u8 {
        match self {
            Fate::Delivered => 0,
            Fate::LostOnTheWay => 1,
            Fate::LostAtReceiver => 2,
            Fate::Beyond => 3,
        }
    }
}

/// One message line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Arrow {
    pub msg_id: u64,
    pub from: ClientId,
    pub to: ClientId,
    /// `request`, `reply`, … as in the trace.
    pub msg_type: &'static str,
    /// The message's Lamport timestamp.
    pub ts: u64,
    /// The send's row; `None` when it was sent before the window.
    pub start: Option<usize>,
    /// The delivery's (or loss's) row; `None` when that lies after the window.
    pub end: Option<usize>,
    pub fate: Fate,
}

/// A stretch of rows on one lane (a critical section, a crash) or across all (a partition).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Span {
    /// The client; 0 for a partition.
    pub lane: ClientId,
    /// `None`: it began before the window.
    pub start: Option<usize>,
    /// `None`: it goes on after the window.
    pub end: Option<usize>,
    /// A critical section that overlaps another client's (a mutual exclusion violation).
    pub overlap: bool,
    pub label: String,
}

/// What the diagram draws, in rows of the window.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Diagram {
    pub arrows: Vec<Arrow>,
    pub sections: Vec<Span>,
    pub downs: Vec<Span>,
    pub cuts: Vec<Span>,
}

impl Diagram {
    /// Pairs sends with deliveries and finds the critical sections, crashes and partitions.
    pub(crate) fn build(capture: &Capture) -> Self {
        let mut builder = Builder::default();
        builder.start(&capture.start);
        for (row, event) in capture.events.iter().enumerate() {
            builder.event(row, event);
        }
        builder.finish()
    }
}

/// Ends at `row` the first of the `open` spans (indices into `spans`) that `matches`, and
/// takes it off the open list.
fn close_first(
    open: &mut Vec<usize>,
    spans: &mut [Span],
    row: usize,
    matches: impl Fn(&Span) -> bool,
) {
    if let Some(place) = open.iter().position(|&index| matches(&spans[index])) {
        let index = open.remove(place);
        spans[index].end = Some(row);
    }
}

/// A send inside the window: its row, sender, receiver and type, and whether its fate (a
/// delivery or a drop) has been seen.
struct OpenSend {
    row: usize,
    from: ClientId,
    to: ClientId,
    msg_type: &'static str,
    ts: u64,
    resolved: bool,
}

impl OpenSend {
    /// The arrow of message `msg_id` from this send to `end`.
    fn arrow(&self, msg_id: u64, end: Option<usize>, fate: Fate) -> Arrow {
        Arrow {
            msg_id,
            from: self.from,
            to: self.to,
            msg_type: self.msg_type,
            ts: self.ts,
            start: Some(self.row),
            end,
            fate,
        }
    }
}

/// The diagram being built, with the spans still open (indices into its lists).
#[derive(Default)]
struct Builder {
    diagram: Diagram,
    sends: BTreeMap<u64, OpenSend>,
    open_sections: Vec<usize>,
    open_downs: BTreeMap<ClientId, usize>,
    open_cuts: Vec<usize>,
}

impl Builder {
    /// Opens the sections, downtimes and cuts already under way where the window starts.
    fn start(&mut self, start: &Replay) {
        for client in &start.clients {
            if let Phase::Inside { ts } = client.phase {
                self.open_section(client.id, None, format!("({ts},{})", client.id));
            }
            if !client.up {
                self.open_down(client.id, None);
            }
        }
        for (groups, direction) in &start.partitions {
            self.open_cut(None, groups_text(groups, direction.name()));
        }
    }

    fn event(&mut self, row: usize, event: &Event) {
        let node = event.node.unwrap_or(ClientId::new(0));
        match &event.kind {
            EventKind::Send { msg_id, to, msg } => {
                self.sends.insert(
                    *msg_id,
                    OpenSend {
                        row,
                        from: node,
                        to: *to,
                        msg_type: msg.type_name(),
                        ts: msg.ts(),
                        resolved: false,
                    },
                );
            }
            EventKind::Deliver { msg_id, from, msg } => {
                let start = self.sends.get_mut(msg_id).map(|send| {
                    send.resolved = true;
                    send.row
                });
                self.diagram.arrows.push(Arrow {
                    msg_id: *msg_id,
                    from: *from,
                    to: node,
                    msg_type: msg.type_name(),
                    ts: msg.ts(),
                    start,
                    end: Some(row),
                    fate: Fate::Delivered,
                });
            }
            EventKind::Drop { msg_id, reason } => self.dropped(row, *msg_id, *reason),
            EventKind::Enter { ts } => self.open_section(node, Some(row), format!("({ts},{node})")),
            EventKind::Exit { .. } => self.close_section(node, row),
            EventKind::Crash => self.open_down(node, Some(row)),
            EventKind::Restart { .. } => {
                if let Some(index) = self.open_downs.remove(&node) {
                    self.diagram.downs[index].end = Some(row);
                }
                // A restarted client is outside whatever section it was in.
                self.close_section(node, row);
            }
            EventKind::Partition { groups, direction } => {
                self.open_cut(Some(row), groups_text(groups, direction.name()));
            }
            EventKind::Heal { groups, direction } => {
                let label = groups_text(groups, direction.name());
                close_first(&mut self.open_cuts, &mut self.diagram.cuts, row, |cut| {
                    cut.label == label
                });
            }
            _ => {}
        }
    }

    /// An arrow that ends where the message was lost, on the way or at a crashed receiver.
    fn dropped(&mut self, row: usize, msg_id: u64, reason: DropReason) {
        let Some(send) = self.sends.get_mut(&msg_id) else {
            return;
        };
        send.resolved = true;
        let fate = if reason == DropReason::Crashed {
            Fate::LostAtReceiver
        } else {
            Fate::LostOnTheWay
        };
        self.diagram
            .arrows
            .push(send.arrow(msg_id, Some(row), fate));
    }

    /// A critical section from `row` (`None`: before the window); every section open at
    /// the same time overlaps it.
    fn open_section(&mut self, lane: ClientId, row: Option<usize>, label: String) {
        let overlap = !self.open_sections.is_empty();
        for &open in &self.open_sections {
            self.diagram.sections[open].overlap = true;
        }
        self.open_sections.push(self.diagram.sections.len());
        self.diagram.sections.push(Span {
            lane,
            start: row,
            end: None,
            overlap,
            label,
        });
    }

    fn close_section(&mut self, lane: ClientId, row: usize) {
        close_first(
            &mut self.open_sections,
            &mut self.diagram.sections,
            row,
            |section| section.lane == lane,
        );
    }

    fn open_down(&mut self, lane: ClientId, row: Option<usize>) {
        self.open_downs.insert(lane, self.diagram.downs.len());
        self.diagram.downs.push(Span {
            lane,
            start: row,
            end: None,
            overlap: false,
            label: String::new(),
        });
    }

    fn open_cut(&mut self, row: Option<usize>, label: String) {
        self.open_cuts.push(self.diagram.cuts.len());
        self.diagram.cuts.push(Span {
            lane: ClientId::new(0),
            start: row,
            end: None,
            overlap: false,
            label,
        });
    }

    /// The diagram, with an open arrow for every message whose fate lies beyond the window.
    fn finish(mut self) -> Diagram {
        for (&msg_id, send) in &self.sends {
            if !send.resolved {
                self.diagram
                    .arrows
                    .push(send.arrow(msg_id, None, Fate::Beyond));
            }
        }
        self.diagram
    }
}

/// `{1,2}|{3}` (both ways) or `{1,2}->{3}` (one way).
pub(super) fn groups_text(groups: &[Vec<ClientId>], direction: &str) -> String {
    let names: Vec<String> = groups
        .iter()
        .map(|group| {
            let ids: Vec<String> = group.iter().map(|id| id.to_string()).collect();
            format!("{{{}}}", ids.join(","))
        })
        .collect();
    if direction == "one_way" {
        format!("{} one way", names.join("->"))
    } else {
        names.join("|")
    }
}
