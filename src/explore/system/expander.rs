//! The expander: the successors of a global state.

use std::cmp::Ordering;
use std::sync::Arc;

use super::effects::{
    EffectKey, INPUT_DELIVER, INPUT_ISSUE, INPUT_RESTART, INPUT_TIMER, intern_step, run_step,
};
use super::emit::Edit;
use super::encoding::{Global, Head, MAX_LINKS};
use super::intern::{INSIDE, MessageOrder};
use super::node::ExploredNode;
use super::step_table::{Effect, EffectTable};
use super::{Inner, MAX_CLIENTS, StepKind, SystemModel, SystemStep};
use crate::explore::search::{Expander, Finding, Model, Successors};
use crate::protocol::Client;

/// Expands global states; keeps its own copy of the remembered client steps so that the hot
/// path takes no lock.
pub struct SystemExpander<N = Client> {
    pub(super) inner: Arc<Inner<N>>,
    pub(super) effects: EffectTable,
    pub(super) sends: Vec<(u8, u32)>,
    pub(super) problems: Vec<Finding>,
    /// One word per client state, all that a check needs but to word a finding: [`INSIDE`],
    /// [`PROBLEM`](super::intern::PROBLEM), [`HAS_WORK`](super::intern::HAS_WORK) and the ledger
    /// number from [`LEDGER_SHIFT`](super::intern::LEDGER_SHIFT) on (a copy of
    /// `Shared::summaries`, read without a lock). A finding is worded from `Shared`: a copy
    /// per expander of everything a finding needs would be 60 MB of fresh pages each on the
    /// default scenario.
    pub(super) summaries: Vec<u64>,
    pub(super) orders: Vec<MessageOrder>,
    pub(super) current: Global,
    /// A link's messages while a successor is written.
    pub(super) list: Vec<u32>,
    /// Where a successor is written before it is appended to the output.
    pub(super) scratch: Vec<u8>,
    /// Per link: FIFO (else a bag).
    pub(super) fifo: [bool; MAX_LINKS],
    /// Every link FIFO: client steps take [`Self::emit_step`].
    pub(super) all_fifo: bool,
    /// A fault is possible: the encodings have the status bytes and the loss and duplication
    /// counts (see [`fixed_bytes`](super::encoding::fixed_bytes)).
    pub(super) faults: bool,
    /// Every link FIFO and no faults: states are decoded without their messages but the
    /// first of each link.
    pub(super) lean: bool,
    /// Per client: how many transfers it is asked for, how many crashes it may suffer.
    pub(super) transfer_counts: [usize; MAX_CLIENTS],
    pub(super) crash_counts: [usize; MAX_CLIENTS],
    /// (ledger number, ledger number) -> the first index where they differ, if any.
    /// Copies of the shared ledger chains (see `Shared`), for prefix tests without a lock.
    pub(super) ledger_parents: Vec<u32>,
    pub(super) ledger_lengths: Vec<u32>,
    /// `(from - 1) * N + (to - 1)` -> link index.
    pub(super) link_index: Vec<u8>,
    pub(super) positions: Vec<usize>,
    /// Partial-order reduction on (see [`reduce`](super::reduce)).
    pub(super) reduce: bool,
    /// A bit per client with a lossy (duplicating) link to it.
    pub(super) lossy_receivers: u32,
    pub(super) duplicating_receivers: u32,
    /// Counting `ReductionFigures` (a test's), if asked to.
    #[cfg(test)]
    pub(super) figures: Option<super::reduce::FigureSink>,
}

impl<N: ExploredNode> SystemExpander<N> {
    #[inline]
    pub(super) fn effect(&mut self, local: u32, input: u32, msg: u32) -> Effect {
        match self.effects.get(local, input, msg) {
            Some(effect) => effect,
            None => self.new_effect(local, input, msg),
        }
    }

    /// A client step this expander has not met: from the shared table, or run for real.
    #[cold]
    #[inline(never)]
    pub(super) fn new_effect(&mut self, local: u32, input: u32, msg: u32) -> Effect {
        let key = EffectKey { local, input, msg };
        let packed = EffectTable::key(local, input, msg);
        let sends_start = self.sends.len() as u32;
        // Copied out under the shard's lock (no clone of the step's list of sends).
        let known = {
            let shard = self.inner.effects.shard(key);
            let effect = shard.get(packed);
            effect.map(|effect| shard.copy_out(packed, effect, &mut self.sends))
        };
        let (next, problem) = match known {
            Some(known) => known,
            None => {
                let (before, delivered) = {
                    let shared = self.inner.lock();
                    (
                        Arc::clone(&shared.clients[local as usize]),
                        (input & (3 << 28) == INPUT_DELIVER)
                            .then(|| shared.messages[msg as usize].clone()),
                    )
                };
                // Run outside any lock; another thread may meanwhile run the same step, with
                // the same result (interning an equal value again gives the same number): the
                // first to remember it wins.
                let run = run_step(&self.inner, &before, delivered, key);
                let step = intern_step(&self.inner, &mut self.inner.lock(), run);
                let mut shard = self.inner.effects.shard(key);
                let effect = shard.remember(packed, step);
                shard.copy_out(packed, effect, &mut self.sends)
            }
        };
        let effect = Effect {
            next,
            sends_start,
            sends_len: self.sends.len() as u32 - sends_start,
            problem: match problem {
                Some(finding) => {
                    self.problems.push(finding);
                    self.problems.len() as u32
                }
                None => 0,
            },
        };
        self.effects.insert(local, input, msg, effect);
        effect
    }

    /// The one-word summary of a client state (see `summaries`).
    #[inline]
    pub(super) fn summary(&mut self, local: u32) -> u64 {
        match self.summaries.get(local as usize) {
            Some(&summary) => summary,
            None => {
                self.sync_infos();
                self.summaries[local as usize]
            }
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn sync_infos(&mut self) {
        let shared = self.inner.lock();
        let have = self.summaries.len();
        self.summaries.extend_from_slice(&shared.summaries[have..]);
        let have = self.ledger_lengths.len();
        self.ledger_parents
            .extend_from_slice(&shared.ledger_parents[have..]);
        self.ledger_lengths
            .extend_from_slice(&shared.ledger_lengths[have..]);
    }

    /// Is one of the two ledgers a prefix of the other? Walks the longer one back to the
    /// shorter one's length (both numbers are known: their clients' summaries were synced).
    #[inline]
    pub(super) fn is_prefix(&self, first: u32, second: u32) -> bool {
        let (mut short, mut long) = (first, second);
        if self.ledger_lengths[short as usize] > self.ledger_lengths[long as usize] {
            std::mem::swap(&mut short, &mut long);
        }
        let length = self.ledger_lengths[short as usize];
        while self.ledger_lengths[long as usize] > length {
            long = self.ledger_parents[long as usize];
        }
        short == long
    }

    /// Where two ledgers first differ: the length of their longest common prefix, found by
    /// walking both chains back to a common ledger (`None` if one is a prefix of the other).
    pub(super) fn fork(&self, first: u32, second: u32) -> Option<u32> {
        if self.is_prefix(first, second) {
            return None;
        }
        let length = |ledger: u32| self.ledger_lengths[ledger as usize];
        let parent = |ledger: u32| self.ledger_parents[ledger as usize];
        let (mut a, mut b) = (first, second);
        while length(a) > length(b) {
            a = parent(a);
        }
        while length(b) > length(a) {
            b = parent(b);
        }
        while a != b {
            (a, b) = (parent(a), parent(b));
        }
        Some(length(a))
    }

    pub(super) fn sync_orders(&mut self, msg: u32) {
        if msg as usize >= self.orders.len() {
            let shared = self.inner.lock();
            let have = self.orders.len();
            self.orders.extend_from_slice(&shared.orders[have..]);
        }
    }

    /// Puts `msg` into `self.list` (a bag link's messages): before the first message with a
    /// larger content, so that the order depends on the contents only.
    pub(super) fn insert_sorted(&mut self, msg: u32) {
        let highest = self.list.iter().copied().chain([msg]).max().unwrap_or(msg);
        self.sync_orders(highest);
        let order = &self.orders[msg as usize];
        let position = self
            .list
            .iter()
            .position(|&other| self.orders[other as usize].cmp(order) == Ordering::Greater)
            .unwrap_or(self.list.len());
        self.list.insert(position, msg);
    }

    /// The delivery of message `msg`, at `pos` of link `link`.
    #[inline(always)]
    pub(super) fn deliver(
        &mut self,
        state: &[u8],
        out: &mut Successors<SystemStep>,
        link: usize,
        pos: usize,
        msg: u32,
    ) {
        let (from, to) = self.inner.links[link];
        let receiver = to.index();
        let step = SystemStep {
            kind: StepKind::Deliver,
            client: receiver as u8,
            link: link as u8,
            pos: pos as u8,
            msg,
        };
        if self.current.down(receiver) {
            let removal = Edit {
                remove: Some((link, pos)),
                ..Edit::default()
            };
            self.emit(state, out, step, removal);
            return;
        }
        let local = self.current.locals[receiver];
        let effect = self.effect(local, INPUT_DELIVER | from.get(), msg);
        if self.all_fifo {
            self.emit_step(state, out, step, receiver, effect, false, link);
            return;
        }
        let edit = Edit {
            remove: Some((link, pos)),
            ..Edit::step(receiver, effect)
        };
        self.emit(state, out, step, edit);
    }

    /// The positions of a link worth a step. A delivery takes the head of a FIFO link; a
    /// fault may hit any position of a FIFO link. On a bag link, each distinct message once
    /// (equal messages give equal successors).
    pub(super) fn candidates(&self, link: usize, fault: bool, positions: &mut Vec<usize>) {
        positions.clear();
        let messages = self.current.link(link);
        let (from, to) = self.inner.links[link];
        if self.inner.config.rule(from, to).fifo {
            let last = if fault {
                messages.len()
            } else {
                messages.len().min(1)
            };
            positions.extend(0..last);
            return;
        }
        positions.extend(
            (0..messages.len()).filter(|&pos| pos == 0 || messages[pos] != messages[pos - 1]),
        );
    }

    /// The timer step of `client`, if it changes anything.
    pub(super) fn timer_effect(&mut self, local: u32) -> Option<Effect> {
        if self.summary(local) & INSIDE == 0 {
            return None;
        }
        let effect = self.effect(local, INPUT_TIMER, 0);
        // A timer that changes nothing is no step, unless it has a finding to report.
        (effect.next != local || effect.sends_len > 0 || effect.problem != 0).then_some(effect)
    }
}

impl<N: ExploredNode> Model for SystemModel<N> {
    type Step = SystemStep;
    type Expander = SystemExpander<N>;

    fn initial(&self, out: &mut Vec<u8>) {
        let mut global = Global {
            n: self.inner.initial_locals.len(),
            links: self.inner.links.len(),
            ..Global::default()
        };
        global.locals[..global.n].copy_from_slice(&self.inner.initial_locals);
        global.faults = self.inner.config.any_faults();
        global.encode(out);
    }

    fn expander(&self) -> SystemExpander<N> {
        SystemExpander {
            inner: Arc::clone(&self.inner),
            effects: EffectTable::new(),
            sends: Vec::new(),
            problems: Vec::new(),
            summaries: Vec::new(),
            orders: Vec::new(),
            current: Global::default(),
            list: Vec::new(),
            scratch: Vec::new(),
            fifo: {
                let mut fifo = [false; MAX_LINKS];
                for (at, &(from, to)) in self.inner.links.iter().enumerate() {
                    fifo[at] = self.inner.config.rule(from, to).fifo;
                }
                fifo
            },
            all_fifo: self.inner.config.all_fifo() == Some(true),
            lean: self.inner.config.all_fifo() == Some(true) && !self.inner.config.any_faults(),
            faults: self.inner.config.any_faults(),
            transfer_counts: {
                let mut counts = [0; MAX_CLIENTS];
                for (count, transfers) in counts.iter_mut().zip(&self.inner.config.transfers) {
                    *count = transfers.len();
                }
                counts
            },
            crash_counts: {
                let mut counts = [0; MAX_CLIENTS];
                for (count, crashes) in counts.iter_mut().zip(&self.inner.config.crashes) {
                    *count = crashes.len();
                }
                counts
            },
            ledger_parents: Vec::new(),
            ledger_lengths: Vec::new(),
            positions: Vec::new(),
            reduce: self.reduce,
            lossy_receivers: self.receivers(|rule| rule.lossy),
            duplicating_receivers: self.receivers(|rule| rule.duplicating),
            #[cfg(test)]
            figures: self.figure_sink(),
            link_index: {
                let n = self.inner.config.clients as usize;
                let mut index = vec![u8::MAX; n * n];
                for (at, &(from, to)) in self.inner.links.iter().enumerate() {
                    index[from.index() * n + to.index()] = at as u8;
                }
                index
            },
        }
    }
}

impl<N: ExploredNode> Expander for SystemExpander<N> {
    type Step = SystemStep;

    fn expand(&mut self, state: &[u8], out: &mut Successors<SystemStep>) {
        // `self.inner` is read in place (no clone of the `Arc`: an atomic increment per state).
        let n = self.inner.config.clients as usize;
        let links = self.inner.links.len();
        self.current.decode(state, n, links, self.lean, self.faults);
        let mut positions = std::mem::take(&mut self.positions);
        // Fetch the remembered steps of the likely inputs ahead of their turn.
        for client in 0..n {
            let issued = u32::from(self.current.issued[client]);
            let local = self.current.locals[client];
            self.effects.prefetch(local, INPUT_ISSUE | issued, 0);
        }
        for link in 0..links {
            if self.current.count(link) > 0 {
                let msg = self.current.heads[link];
                let (from, to) = self.inner.links[link];
                let local = self.current.locals[to.index()];
                self.effects
                    .prefetch(local, INPUT_DELIVER | from.get(), msg);
            }
        }
        let step = |kind, client: usize| SystemStep {
            kind,
            client: client as u8,
            ..SystemStep::default()
        };
        // The clients whose steps are taken: a bit each.
        let mask = if self.reduce {
            self.reduction_mask()
        } else {
            u32::MAX
        };
        #[cfg(test)]
        if self.figures.is_some() {
            self.note_figures();
        }
        let owned = |client: usize| mask & (1 << client) != 0;
        // Issue the next transfer.
        for client in 0..n {
            let issued = usize::from(self.current.issued[client]);
            if !owned(client) || self.current.down(client) || issued >= self.transfer_counts[client]
            {
                continue;
            }
            let effect = self.effect(self.current.locals[client], INPUT_ISSUE | issued as u32, 0);
            if self.all_fifo {
                let step = step(StepKind::Issue, client);
                self.emit_step(state, out, step, client, effect, true, usize::MAX);
                continue;
            }
            let edit = Edit {
                issued: Some(client),
                ..Edit::step(client, effect)
            };
            self.emit(state, out, step(StepKind::Issue, client), edit);
        }
        // Leave the critical section.
        for client in 0..n {
            if !owned(client) || self.current.down(client) {
                continue;
            }
            let local = self.current.locals[client];
            if let Some(effect) = self.timer_effect(local) {
                if self.all_fifo {
                    let step = step(StepKind::Timer, client);
                    self.emit_step(state, out, step, client, effect, false, usize::MAX);
                    continue;
                }
                let edit = Edit::step(client, effect);
                self.emit(state, out, step(StepKind::Timer, client), edit);
            }
        }
        // Deliver.
        for link in 0..links {
            if !owned(self.inner.links[link].1.index()) {
                continue;
            }
            if self.fifo[link] {
                // Only the oldest message of a FIFO link is in reach.
                if self.current.count(link) > 0 {
                    let msg = self.current.heads[link];
                    self.deliver(state, out, link, 0, msg);
                }
                continue;
            }
            self.candidates(link, false, &mut positions);
            for &pos in &positions {
                let msg = self.current.link(link)[pos];
                self.deliver(state, out, link, pos, msg);
            }
        }
        // Restart.
        for client in 0..n {
            let used = self.current.crashes_used(client);
            if !owned(client)
                || !self.current.down(client)
                || !self.inner.config.crashes[client][used - 1].restarts
            {
                continue;
            }
            let keep = u32::from(self.inner.config.crashes[client][used - 1].keep_ledger);
            let effect = self.effect(self.current.locals[client], INPUT_RESTART | keep, 0);
            let edit = Edit {
                status: Some((client, self.current.status[client] & !1)),
                ..Edit::step(client, effect)
            };
            self.emit(state, out, step(StepKind::Restart, client), edit);
        }
        // Faults: lose, duplicate, crash.
        if self.current.losses < self.inner.config.max_losses {
            for link in 0..links {
                let (from, to) = self.inner.links[link];
                if !owned(to.index()) || !self.inner.config.rule(from, to).lossy {
                    continue;
                }
                self.candidates(link, true, &mut positions);
                for &pos in &positions {
                    let step = SystemStep {
                        kind: StepKind::Lose,
                        client: from.index() as u8,
                        link: link as u8,
                        pos: pos as u8,
                        msg: self.current.link(link)[pos],
                    };
                    let edit = Edit {
                        remove: Some((link, pos)),
                        lost: true,
                        ..Edit::default()
                    };
                    self.emit(state, out, step, edit);
                }
            }
        }
        if self.current.duplicates < self.inner.config.max_duplicates {
            for link in 0..links {
                let (from, to) = self.inner.links[link];
                if !owned(to.index()) || !self.inner.config.rule(from, to).duplicating {
                    continue;
                }
                self.candidates(link, true, &mut positions);
                for &pos in &positions {
                    let step = SystemStep {
                        kind: StepKind::Duplicate,
                        client: from.index() as u8,
                        link: link as u8,
                        pos: pos as u8,
                        msg: self.current.link(link)[pos],
                    };
                    let edit = Edit {
                        copy: Some((link, pos)),
                        duplicated: true,
                        ..Edit::default()
                    };
                    self.emit(state, out, step, edit);
                }
            }
        }
        for client in 0..n {
            let used = self.current.crashes_used(client);
            if !owned(client) || self.current.down(client) || used >= self.crash_counts[client] {
                continue;
            }
            let edit = Edit {
                status: Some((client, (((used + 1) as u8) << 1) | 1)),
                ..Edit::default()
            };
            self.emit(state, out, step(StepKind::Crash, client), edit);
        }
        self.positions = positions;
    }

    fn check(&mut self, state: &[u8]) -> Vec<Finding> {
        let n = self.inner.config.clients as usize;
        let (head, in_flight) = Head::decode(state, n, self.inner.links.len(), self.faults);
        self.check_global(&head, in_flight)
    }
}
