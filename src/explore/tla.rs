//! A port of Stephan Merz's TLA+ specification `LamportMutex.tla` (tlaplus/Examples,
//! `specifications/lamport_mutex/`), to cross-check the search against TLC.
//!
//! The spec, in short (process ids `1..N`; here `0..N` inside, `1..N` in every output):
//!
//! - variables `clock[p]` (starts at 1), `req[p][q]` (the clock of q's request as p knows it,
//!   0 for none), `ack[p]` (who acknowledged p's request), `network[p][q]` (a FIFO queue of
//!   messages from p to q), `crit` (who is in the critical section);
//! - messages `req(c)`, `ack` and `rel`; acks and releases carry no clock (their `clock`
//!   field is 0 in the spec);
//! - `Request(p)`: when `req[p][p] = 0`: `req[p][p] := clock[p]`, `ack[p] := {p}`, `req(clock[p])`
//!   appended to every other process's channel. The clock does not move.
//! - `ReceiveRequest(p, q)`: the head of `network[q][p]` is `req(c)`: `req[p][q] := c`,
//!   `clock[p] := c + 1` if `c > clock[p]`, else `clock[p] + 1`; the head is removed and an `ack`
//!   appended to `network[p][q]`.
//! - `ReceiveAck(p, q)`: the head is `ack`: `ack[p] := ack[p] ∪ {q}`, head removed.
//! - `Enter(p)`: `ack[p] = Proc` and `beats(p, q)` for every other q, where `beats(p, q)` is
//!   `req[p][q] = 0`, or `req[p][p] < req[p][q]`, or equal with `p < q`; `crit := crit ∪ {p}`
//!   (enabled again while p is inside: a step back to the same state, which TLC generates
//!   and counts too).
//! - `Exit(p)`: `p ∈ crit`: leave, `req[p][p] := 0`, `ack[p] := {}`, `rel` to every other
//!   process.
//! - `ReceiveRelease(p, q)`: the head is `rel`: `req[p][q] := 0`, head removed.
//! - the state constraint `ClockConstraint`: every `clock[p] <= maxClock`. As TLC does, a
//!   successor that breaks it is generated (and counted as generated) but neither stored,
//!   counted as distinct, nor expanded.
//! - invariants `Mutex` (at most one process in `crit`) and `BoundedNetwork` (no channel holds
//!   more than 3 messages); `TypeOK` holds by construction of the encoding. TLC also reports
//!   a deadlock (a state with no successor at all), and so does this port.
//!
//! With `bag`, every channel is a multiset: a receive may take any message in it, not only
//! the head. That is the spec with its FIFO assumption removed; it breaks `Mutex`.
//!
//! Encoding of a state: `clock[N]`, `req[N][N]`, `ack[N]` (bit sets), `crit` (a bit set), then
//! for every ordered pair p ≠ q a length byte and the messages of `network[p][q]` (`ack` = 0,
//! `rel` = 1, `req(c)` = 2 + c), in queue order (FIFO) or sorted (bag). About 30 bytes for N = 3.

use std::fmt::Write as _;

use super::search::{Expander, Finding, Model, Successors};

/// The largest N this port takes (bit sets are one byte).
pub const MAX_PROCESSES: u8 = 8;
/// The largest maxClock (message codes are one byte).
pub const MAX_CLOCK: u8 = 250;

const ACK: u8 = 0;
const REL: u8 = 1;
const REQ_BASE: u8 = 2;
/// Longest channel the encoding takes (one length byte).
const MAX_CHANNEL: usize = 255;

/// The constants of the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlaConfig {
    /// N.
    pub processes: u8,
    /// maxClock.
    pub max_clock: u8,
    /// Channels as multisets instead of FIFO queues.
    pub bag: bool,
}

/// The spec's actions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Action {
    /// Not an action: the initial state.
    #[default]
    Init,
    Request,
    Enter,
    Exit,
    ReceiveRequest,
    ReceiveAck,
    ReceiveRelease,
}

/// One step: an action, its processes (0-based), and for receives the message taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TlaStep {
    pub action: Action,
    pub p: u8,
    pub q: u8,
    pub msg: u8,
}

impl std::fmt::Display for TlaStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (p, q) = (self.p + 1, self.q + 1);
        match self.action {
            Action::Init => write!(f, "Initial predicate"),
            Action::Request => write!(f, "Request({p})"),
            Action::Enter => write!(f, "Enter({p})"),
            Action::Exit => write!(f, "Exit({p})"),
            Action::ReceiveRequest => write!(f, "ReceiveRequest({p}, {q})"),
            Action::ReceiveAck => write!(f, "ReceiveAck({p}, {q})"),
            Action::ReceiveRelease => write!(f, "ReceiveRelease({p}, {q})"),
        }
    }
}

/// The model: the spec's constants and the layout of the encoding.
#[derive(Clone, Debug)]
pub struct LamportMutex {
    config: TlaConfig,
    n: usize,
    /// Offset of `req[0][0]`, `ack[0]`, `crit`, and the first channel.
    req_at: usize,
    ack_at: usize,
    crit_at: usize,
    channels_at: usize,
}

impl LamportMutex {
    pub fn new(config: TlaConfig) -> Self {
        assert!(
            (1..=MAX_PROCESSES).contains(&config.processes) && config.max_clock <= MAX_CLOCK,
            "the command line checks the constants"
        );
        let n = usize::from(config.processes);
        LamportMutex {
            config,
            n,
            req_at: n,
            ack_at: n + n * n,
            crit_at: 2 * n + n * n,
            channels_at: 2 * n + n * n + 1,
        }
    }

    pub fn config(&self) -> TlaConfig {
        self.config
    }

    /// The channels in encoding order: (from, to) for every ordered pair from ≠ to.
    fn channels(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let n = self.n;
        (0..n).flat_map(move |from| {
            (0..n)
                .filter(move |&to| to != from)
                .map(move |to| (from, to))
        })
    }

    /// Offsets of every channel's length byte, indexed `from * n + to`.
    fn channel_offsets(&self, state: &[u8], offsets: &mut [usize; 64]) {
        let mut at = self.channels_at;
        for (from, to) in self.channels() {
            offsets[from * self.n + to] = at;
            at += 1 + usize::from(state[at]);
        }
        debug_assert_eq!(at, state.len());
    }

    /// Replays `steps` from the initial state: every state on the way, the initial one first.
    /// `None` if a step is not possible (the steps came from another model).
    pub fn replay(&self, steps: &[TlaStep]) -> Option<Vec<Vec<u8>>> {
        let mut expander = self.expander();
        let mut state = Vec::new();
        self.initial(&mut state);
        let mut states = vec![state];
        for step in steps {
            let current = states.last().expect("the initial state is there");
            let mut successors = Successors::new();
            expander.expand(current, &mut successors);
            let next = successors
                .iter()
                .find(|(taken, _, _)| taken == step)
                .map(|(_, _, bytes)| bytes.to_vec())?;
            states.push(next);
        }
        Some(states)
    }

    /// A state in TLC's notation (`/\ clock = <<1, 2>>` ...).
    pub fn describe(&self, state: &[u8]) -> String {
        let n = self.n;
        let tuple = |items: Vec<String>| format!("<<{}>>", items.join(", "));
        let set = |bits: u8| {
            let members: Vec<String> = (0..n)
                .filter(|p| bits & (1 << p) != 0)
                .map(|p| (p + 1).to_string())
                .collect();
            format!("{{{}}}", members.join(", "))
        };
        let message = |code: u8| match code {
            ACK => "[type |-> \"ack\", clock |-> 0]".to_string(),
            REL => "[type |-> \"rel\", clock |-> 0]".to_string(),
            req => format!("[type |-> \"req\", clock |-> {}]", req - REQ_BASE),
        };
        let mut offsets = [0usize; 64];
        self.channel_offsets(state, &mut offsets);
        let clock = tuple((0..n).map(|p| state[p].to_string()).collect());
        let req = tuple(
            (0..n)
                .map(|p| {
                    tuple(
                        (0..n)
                            .map(|q| state[self.req_at + p * n + q].to_string())
                            .collect(),
                    )
                })
                .collect(),
        );
        let ack = tuple((0..n).map(|p| set(state[self.ack_at + p])).collect());
        let network = tuple(
            (0..n)
                .map(|from| {
                    tuple(
                        (0..n)
                            .map(|to| {
                                if from == to {
                                    return "<<>>".to_string();
                                }
                                let at = offsets[from * n + to];
                                let len = usize::from(state[at]);
                                tuple(
                                    state[at + 1..at + 1 + len]
                                        .iter()
                                        .map(|&code| message(code))
                                        .collect(),
                                )
                            })
                            .collect(),
                    )
                })
                .collect(),
        );
        let mut text = String::new();
        let _ = writeln!(text, "/\\ clock = {clock}");
        let _ = writeln!(text, "/\\ req = {req}");
        let _ = writeln!(text, "/\\ ack = {ack}");
        let _ = writeln!(text, "/\\ network = {network}");
        let _ = write!(text, "/\\ crit = {}", set(state[self.crit_at]));
        text
    }
}

impl Model for LamportMutex {
    type Step = TlaStep;
    type Expander = TlaExpander;

    /// `Init`: every clock 1, nothing requested, acknowledged, sent or inside.
    fn initial(&self, out: &mut Vec<u8>) {
        out.clear();
        out.extend(std::iter::repeat_n(1u8, self.n));
        out.extend(std::iter::repeat_n(0u8, self.n * self.n + self.n + 1));
        out.extend(self.channels().map(|_| 0u8));
    }

    fn expander(&self) -> TlaExpander {
        TlaExpander {
            model: self.clone(),
            header: Vec::new(),
            offsets: [0; 64],
        }
    }
}

/// Expands states of [`LamportMutex`].
pub struct TlaExpander {
    model: LamportMutex,
    /// The fixed-size part of the successor being built.
    header: Vec<u8>,
    offsets: [usize; 64],
}

/// A change to the channels of a successor.
#[derive(Clone, Copy)]
enum Appends {
    None,
    /// One message to one channel (from, to).
    One(usize, usize, u8),
    /// The same message from `from` to every other process.
    Broadcast(usize, u8),
}

impl TlaExpander {
    fn beats(&self, state: &[u8], p: usize, q: usize) -> bool {
        let n = self.model.n;
        let own = state[self.model.req_at + p * n + p];
        let theirs = state[self.model.req_at + p * n + q];
        theirs == 0 || own < theirs || (own == theirs && p < q)
    }

    fn may_enter(&self, state: &[u8], p: usize) -> bool {
        let n = self.model.n;
        let everyone = ((1u16 << n) - 1) as u8;
        state[self.model.ack_at + p] == everyone
            && (0..n).filter(|&q| q != p).all(|q| self.beats(state, p, q))
    }

    /// Writes a successor: `self.header` followed by the channels of `state`, minus the message
    /// at `remove` = (from, to, index), plus `appends`.
    fn emit(
        &self,
        state: &[u8],
        out: &mut Successors<TlaStep>,
        remove: Option<(usize, usize, usize)>,
        appends: Appends,
        step: TlaStep,
        in_model: bool,
    ) {
        let n = self.model.n;
        let bag = self.model.config.bag;
        let buffer = out.buffer();
        buffer.extend_from_slice(&self.header);
        for (from, to) in self.model.channels() {
            let at = self.offsets[from * n + to];
            let messages = &state[at + 1..at + 1 + usize::from(state[at])];
            let removed = match remove {
                Some((f, t, index)) if f == from && t == to => Some(index),
                _ => None,
            };
            let added = match appends {
                Appends::One(f, t, code) if f == from && t == to => Some(code),
                Appends::Broadcast(f, code) if f == from => Some(code),
                _ => None,
            };
            let len =
                messages.len() - usize::from(removed.is_some()) + usize::from(added.is_some());
            assert!(len <= MAX_CHANNEL, "a channel longer than 255 messages");
            buffer.push(len as u8);
            let start = buffer.len();
            for (index, &code) in messages.iter().enumerate() {
                if removed != Some(index) {
                    buffer.push(code);
                }
            }
            if let Some(code) = added {
                if bag {
                    // Keep the multiset sorted: insert before the first larger code.
                    let place = buffer[start..]
                        .iter()
                        .position(|&c| c > code)
                        .map_or(buffer.len(), |offset| start + offset);
                    buffer.insert(place, code);
                } else {
                    buffer.push(code);
                }
            }
        }
        out.push(step, in_model);
    }

    fn load_header(&mut self, state: &[u8]) {
        self.header.clear();
        self.header
            .extend_from_slice(&state[..self.model.channels_at]);
    }
}

impl Expander for TlaExpander {
    type Step = TlaStep;

    fn expand(&mut self, state: &[u8], out: &mut Successors<TlaStep>) {
        let model = self.model.clone();
        let n = model.n;
        let (req_at, ack_at, crit_at) = (model.req_at, model.ack_at, model.crit_at);
        let mut offsets = [0usize; 64];
        model.channel_offsets(state, &mut offsets);
        self.offsets = offsets;
        let crit = state[crit_at];
        for p in 0..n {
            let step = |action| TlaStep {
                action,
                p: p as u8,
                q: 0,
                msg: 0,
            };
            // Request(p)
            if state[req_at + p * n + p] == 0 {
                self.load_header(state);
                self.header[req_at + p * n + p] = state[p];
                self.header[ack_at + p] = 1 << p;
                let request = REQ_BASE + state[p];
                let appends = Appends::Broadcast(p, request);
                self.emit(state, out, None, appends, step(Action::Request), true);
            }
            // Enter(p)
            if self.may_enter(state, p) {
                self.load_header(state);
                self.header[crit_at] |= 1 << p;
                self.emit(state, out, None, Appends::None, step(Action::Enter), true);
            }
            // Exit(p)
            if crit & (1 << p) != 0 {
                self.load_header(state);
                self.header[crit_at] &= !(1 << p);
                self.header[req_at + p * n + p] = 0;
                self.header[ack_at + p] = 0;
                let appends = Appends::Broadcast(p, REL);
                self.emit(state, out, None, appends, step(Action::Exit), true);
            }
        }
        for p in 0..n {
            for q in (0..n).filter(|&q| q != p) {
                // Messages from q to p: the head (FIFO) or every distinct message (bag).
                let at = offsets[q * n + p];
                let messages = &state[at + 1..at + 1 + usize::from(state[at])];
                let candidates = if model.config.bag {
                    messages.len()
                } else {
                    messages.len().min(1)
                };
                for index in 0..candidates {
                    let code = messages[index];
                    if index > 0 && messages[index - 1] == code {
                        continue; // the same message again: the same successor
                    }
                    let step = |action| TlaStep {
                        action,
                        p: p as u8,
                        q: q as u8,
                        msg: code,
                    };
                    let remove = Some((q, p, index));
                    self.load_header(state);
                    match code {
                        ACK => {
                            self.header[ack_at + p] |= 1 << q;
                            let step = step(Action::ReceiveAck);
                            self.emit(state, out, remove, Appends::None, step, true);
                        }
                        REL => {
                            self.header[req_at + p * n + q] = 0;
                            let step = step(Action::ReceiveRelease);
                            self.emit(state, out, remove, Appends::None, step, true);
                        }
                        request => {
                            let c = request - REQ_BASE;
                            self.header[req_at + p * n + q] = c;
                            let clock = if c > state[p] { c + 1 } else { state[p] + 1 };
                            self.header[p] = clock;
                            let appends = Appends::One(p, q, ACK);
                            let in_model = clock <= model.config.max_clock;
                            let step = step(Action::ReceiveRequest);
                            self.emit(state, out, remove, appends, step, in_model);
                        }
                    }
                }
            }
        }
    }

    fn check(&mut self, state: &[u8]) -> Vec<Finding> {
        let model = &self.model;
        let n = model.n;
        let crit = state[model.crit_at];
        let mut findings = Vec::new();
        if crit.count_ones() > 1 {
            let inside: Vec<String> = (0..n)
                .filter(|p| crit & (1 << p) != 0)
                .map(|p| (p + 1).to_string())
                .collect();
            findings.push(Finding {
                name: "Mutex",
                detail: format!(
                    "processes {} are in the critical section at the same time",
                    inside.join(" and ")
                ),
                stuck: false,
            });
        }
        let mut offsets = [0usize; 64];
        model.channel_offsets(state, &mut offsets);
        let overfull = model.channels().find_map(|(from, to)| {
            let len = state[offsets[from * n + to]];
            (len > 3).then(|| Finding {
                name: "BoundedNetwork",
                detail: format!(
                    "the channel from process {} to process {} holds {len} messages",
                    from + 1,
                    to + 1
                ),
                stuck: false,
            })
        });
        findings.extend(overfull);
        // TLC's deadlock check: no action enabled at all. A receive is always enabled while a
        // message is in flight (every message is a req, an ack or a rel).
        let in_flight = model.channels().any(|(f, t)| state[offsets[f * n + t]] > 0);
        let any_enabled = in_flight
            || (0..n).any(|p| {
                state[model.req_at + p * n + p] == 0
                    || crit & (1 << p) != 0
                    || self.may_enter(state, p)
            });
        if !any_enabled {
            findings.push(Finding {
                name: "Deadlock",
                detail: "no action of the spec is enabled".to_string(),
                stuck: true,
            });
        }
        findings
    }
}
