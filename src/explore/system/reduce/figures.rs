//! Figures on what the reduction does and what any reduction of this kind could do, counted
//! over the states a search expands (with [`SystemModel::with_figures`]; off otherwise).
//!
//! Besides how each state was expanded and why, it computes a lower bound on the steps of
//! *any* persistent set (the sets of Godefroid's and Peled's ample-set reductions, and of
//! Valmari's stubborn sets) from the state, with exact knowledge of the client steps: a set
//! `T` of enabled steps is persistent when no path of steps outside `T` holds a step that
//! fails to commute with a step of `T`, or enables or disables one. Two facts, both checked
//! by running the real client steps, force steps into `T`:
//!
//! - two enabled steps of one client that do not commute (other orders, other client
//!   state or other messages sent): the path of the one alone is outside `T`;
//! - an enabled step `d` of client `i` and an enabled step `t` of client `j` that sends `m`
//!   to `i` on an empty FIFO link, where `d` and the delivery of `m` do not commute: the
//!   path `t`, deliver `m` is outside `T` unless `t` is in it.
//!
//! The smallest set closed under both, over every seed step, is a lower bound on every
//! persistent set (only these two-step paths are looked at, so the true bound may be
//! larger). Where it holds every enabled step, every such reduction expands the state in
//! full. It is computed where every link is FIFO and no fault is possible.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use super::super::effects::{INPUT_DELIVER, INPUT_ISSUE, INPUT_TIMER};
use super::super::expander::SystemExpander;
use super::super::intern::{INSIDE, LEDGER_SHIFT};
use super::super::node::ExploredNode;
use super::super::step_table::Effect;
use super::super::{MAX_CLIENTS, SystemModel};
use super::{Pull, Why};

/// The counts, summed over every expander of a search.
#[derive(Clone, Debug, Default)]
pub(crate) struct ReductionFigures {
    /// States expanded.
    pub expanded: u64,
    /// States with no enabled step at all.
    pub terminal: u64,
    /// States by how the reduction expands (or, in a search without it, would expand) them
    /// ([`Why`], in its order).
    pub why: [u64; 6],
    /// Enabled steps, and steps the reduction takes, summed over the states.
    pub enabled_steps: u64,
    pub taken_steps: u64,
    /// In the states where every closure holds every client: `[receiver][sender]` is the
    /// number of states where the empty-link rule brings `sender` in for `receiver`.
    pub pulled_by_empty_link: [[u64; MAX_CLIENTS]; MAX_CLIENTS],
    /// ... the states where each rule brings a client in.
    pub pulled_by: [u64; 4],
    /// States where the persistent-set bound was computed.
    pub bounded: u64,
    /// ... where it is every enabled step: no persistent-set reduction leaves a step out.
    pub forced_full: u64,
    /// ... of those, how many the reduction expands in full too.
    pub forced_full_and_expanded_full: u64,
    /// ... where a race of a sender with a receiver's step (the second fact) is found.
    pub with_race: u64,
    /// The bound's steps, summed over the states where it was computed.
    pub bound_steps: u64,
    /// The enabled steps of those states.
    pub bound_enabled_steps: u64,
    /// States where the bound is above the steps the reduction takes: none, if both the
    /// bound and the reduction are right (the reduction's sets are persistent).
    pub bound_above_taken: u64,
    /// Per client, the distinct local states met.
    pub locals: Vec<HashSet<u32>>,
    /// Distinct tuples of what the invariants compare between clients (inside and up,
    /// ledger), and of the ledgers in the terminal states.
    pub observed: HashSet<Vec<u64>>,
    pub terminal_ledgers: HashSet<Vec<u64>>,
}

impl ReductionFigures {
    fn merge(&mut self, other: &ReductionFigures) {
        self.expanded += other.expanded;
        self.terminal += other.terminal;
        for (sum, add) in self.why.iter_mut().zip(other.why) {
            *sum += add;
        }
        self.enabled_steps += other.enabled_steps;
        self.taken_steps += other.taken_steps;
        for (row, add) in self
            .pulled_by_empty_link
            .iter_mut()
            .zip(&other.pulled_by_empty_link)
        {
            for (sum, add) in row.iter_mut().zip(add) {
                *sum += add;
            }
        }
        for (sum, add) in self.pulled_by.iter_mut().zip(other.pulled_by) {
            *sum += add;
        }
        self.bounded += other.bounded;
        self.forced_full += other.forced_full;
        self.forced_full_and_expanded_full += other.forced_full_and_expanded_full;
        self.with_race += other.with_race;
        self.bound_steps += other.bound_steps;
        self.bound_enabled_steps += other.bound_enabled_steps;
        self.bound_above_taken += other.bound_above_taken;
        if self.locals.len() < other.locals.len() {
            self.locals.resize_with(other.locals.len(), HashSet::new);
        }
        for (mine, theirs) in self.locals.iter_mut().zip(&other.locals) {
            mine.extend(theirs);
        }
        self.observed.extend(other.observed.iter().cloned());
        self.terminal_ledgers
            .extend(other.terminal_ledgers.iter().cloned());
    }

    /// The figures as a few lines of text.
    #[cfg(test)]
    pub fn render(&self, clients: usize) -> String {
        use std::fmt::Write as _;
        let mut text = String::new();
        let share = |part: u64, whole: u64| 100.0 * part as f64 / whole.max(1) as f64;
        let e = self.expanded;
        let _ = writeln!(text, "states expanded:            {e}");
        let _ = writeln!(text, "  terminal (no step):       {}", self.terminal);
        let names = [
            "reduced (clients left out)",
            "full: every closure is all",
            "full: no protocol seed",
            "full: only visible steps",
            "full: a step without progress",
            "full: not fewer steps",
        ];
        for (name, &count) in names.iter().zip(&self.why) {
            let _ = writeln!(text, "  {name:<29} {count} ({:.1}%)", share(count, e));
        }
        let _ = writeln!(
            text,
            "steps per state:            {:.3} enabled, {:.3} taken",
            self.enabled_steps as f64 / e.max(1) as f64,
            self.taken_steps as f64 / e.max(1) as f64
        );
        let rules = [
            "empty FIFO link",
            "bag link",
            "loss bound",
            "duplication bound",
        ];
        let full = self.why[1];
        for (rule, &count) in rules.iter().zip(&self.pulled_by) {
            if count > 0 {
                let _ = writeln!(
                    text,
                    "  pulled in by {rule:<18} in {count} of the {full} states where every closure is all ({:.1}%)",
                    share(count, full)
                );
            }
        }
        for receiver in 0..clients {
            for sender in 0..clients {
                let count = self.pulled_by_empty_link[receiver][sender];
                if count > 0 {
                    let _ = writeln!(
                        text,
                        "    c{} brings in c{} (empty link c{} -> c{}): {count} ({:.1}%)",
                        receiver + 1,
                        sender + 1,
                        sender + 1,
                        receiver + 1,
                        share(count, full)
                    );
                }
            }
        }
        if self.bounded > 0 {
            let b = self.bounded;
            let _ = writeln!(text, "persistent-set bound, over {b} states:");
            let _ = writeln!(
                text,
                "  every enabled step forced:  {} ({:.1}%), of them expanded in full by the reduction: {}",
                self.forced_full,
                share(self.forced_full, b),
                self.forced_full_and_expanded_full
            );
            let _ = writeln!(
                text,
                "  a sender races a receiver:  {} ({:.1}%)",
                self.with_race,
                share(self.with_race, b)
            );
            let _ = writeln!(
                text,
                "  steps per state:            {:.3} at least, of {:.3} enabled",
                self.bound_steps as f64 / b as f64,
                self.bound_enabled_steps as f64 / b as f64
            );
            let _ = writeln!(
                text,
                "  above the steps the reduction takes: {} states",
                self.bound_above_taken
            );
        }
        let per_client: Vec<String> = self
            .locals
            .iter()
            .map(|set| set.len().to_string())
            .collect();
        let product: f64 = self.locals.iter().map(|set| set.len() as f64).product();
        let _ = writeln!(
            text,
            "local states per client:    {} (product {product:.3e})",
            per_client.join(", ")
        );
        let _ = writeln!(
            text,
            "distinct (inside, ledger) tuples: {}; distinct ledger tuples at rest: {}",
            self.observed.len(),
            self.terminal_ledgers.len()
        );
        text
    }
}

/// An expander's own counts, and where they go when it is dropped.
pub(in crate::explore::system) struct FigureSink {
    own: Box<ReductionFigures>,
    shared: Arc<Mutex<ReductionFigures>>,
}

impl<N: ExploredNode> SystemModel<N> {
    /// The same model, counting [`ReductionFigures`] over every state its expanders expand.
    #[cfg(test)]
    pub(crate) fn with_figures(&self) -> Self {
        let mut model = self.clone();
        model.figures = Some(Arc::new(Mutex::new(ReductionFigures::default())));
        model
    }

    /// What the expanders dropped so far counted (after a search: all of it).
    #[cfg(test)]
    pub(crate) fn figures(&self) -> Option<ReductionFigures> {
        let figures = self.figures.as_ref()?;
        Some(figures.lock().expect("not poisoned").clone())
    }

    pub(in crate::explore::system) fn figure_sink(&self) -> Option<FigureSink> {
        let shared = Arc::clone(self.figures.as_ref()?);
        Some(FigureSink {
            own: Box::default(),
            shared,
        })
    }
}

impl Drop for FigureSink {
    fn drop(&mut self) {
        if let Ok(mut shared) = self.shared.lock() {
            shared.merge(&self.own);
        }
    }
}

/// An enabled step, for the bound: its client and input.
#[derive(Clone, Copy)]
pub(super) struct Enabled {
    pub(super) client: usize,
    pub(super) input: u32,
    pub(super) msg: u32,
}

impl<N: ExploredNode> SystemExpander<N> {
    /// Counts the state in `self.current`, as the search expands it.
    pub(in crate::explore::system) fn note_figures(&mut self) {
        let Some(mut sink) = self.figures.take() else {
            return;
        };
        let n = self.current.n;
        let every = (1u32 << n) - 1;
        // The closures of the search, against the closures computed client by client.
        let silent = self.silent_clients();
        let closures = self.closures();
        for (seed, &closure) in closures.iter().enumerate().take(n) {
            assert_eq!(
                closure,
                self.closure(seed, silent, |_, _, _| {}),
                "seed {seed}"
            );
        }
        // Without reduction: every step is taken, and `why` says what the reduction would do.
        let (chosen, why) = self.reduction_choice();
        let mask = if self.reduce { chosen } else { every };
        let figures = &mut *sink.own;
        figures.expanded += 1;
        figures.why[why as usize] += 1;
        let mut enabled = 0;
        let mut taken = 0;
        for client in 0..n {
            let steps = u64::from(self.owner(client).steps);
            enabled += steps;
            if mask & (1 << client) != 0 {
                taken += steps;
            }
        }
        figures.enabled_steps += enabled;
        figures.taken_steps += taken;
        figures.terminal += u64::from(enabled == 0);
        if why == Why::ClosureAll {
            self.note_pulls(figures);
        }
        if figures.locals.len() < n {
            figures.locals.resize_with(n, HashSet::new);
        }
        let mut observed = Vec::with_capacity(n);
        let mut ledgers = Vec::with_capacity(n);
        for client in 0..n {
            let local = self.current.locals[client];
            figures.locals[client].insert(local);
            let summary = self.summary(local);
            let inside = summary & INSIDE != 0 && !self.current.down(client);
            observed.push(summary >> LEDGER_SHIFT << 1 | u64::from(inside));
            ledgers.push(summary >> LEDGER_SHIFT);
        }
        figures.observed.insert(observed);
        if enabled == 0 {
            figures.terminal_ledgers.insert(ledgers);
        }
        if self.all_fifo && !self.faults {
            let (bound, race) = self.persistent_bound();
            figures.bounded += 1;
            figures.bound_steps += bound;
            figures.bound_enabled_steps += enabled;
            figures.with_race += u64::from(race);
            figures.bound_above_taken += u64::from(bound > taken);
            if bound == enabled && enabled > 0 {
                figures.forced_full += 1;
                figures.forced_full_and_expanded_full += u64::from(mask == every);
            }
        }
        self.figures = Some(sink);
    }

    fn note_pulls(&self, figures: &mut ReductionFigures) {
        let n = self.current.n;
        let silent = self.silent_clients();
        let mut edges = [[false; MAX_CLIENTS]; MAX_CLIENTS];
        let mut rules = [false; 4];
        for seed in 0..n {
            self.closure(seed, silent, |receiver, sender, rule| {
                rules[rule as usize] = true;
                if rule == Pull::EmptyLink {
                    edges[receiver][sender] = true;
                }
            });
        }
        for (sum, used) in figures.pulled_by.iter_mut().zip(rules) {
            *sum += u64::from(used);
        }
        for (row, used) in figures.pulled_by_empty_link.iter_mut().zip(edges) {
            for (sum, used) in row.iter_mut().zip(used) {
                *sum += u64::from(used);
            }
        }
    }

    /// The persistent-set bound of the module's comment for the state in `self.current`
    /// (every link FIFO, no fault): its steps, and whether a race of the second kind was met.
    fn persistent_bound(&mut self) -> (u64, bool) {
        let (_, set, race) = self.smallest_persistent();
        (u64::from(set.count_ones()), race)
    }

    /// The enabled steps of the state in `self.current` (every link FIFO, no fault), the
    /// smallest set of them closed under the two facts of the module's comment (a bit per
    /// step; of equal sets, the one of the lowest seed), and whether a race of the second kind
    /// was met.
    fn smallest_persistent(&mut self) -> (Vec<Enabled>, u64, bool) {
        let steps = self.enabled_steps();
        let count = steps.len();
        // needs[a] has bit b: with step a in the set, step b must be too.
        let mut needs = vec![0u64; count];
        let mut race = false;
        for a in 0..count {
            for b in 0..count {
                if a == b {
                    continue;
                }
                let (first, second) = (steps[a], steps[b]);
                let forced = if first.client == second.client {
                    !self.commute(first.client, first, second)
                } else {
                    let raced = self.races(first, second);
                    race |= raced;
                    raced
                };
                if forced {
                    needs[a] |= 1 << b;
                }
            }
        }
        let closed = |seed: usize| {
            let mut set = 1u64 << seed;
            loop {
                let grown = (0..count)
                    .filter(|&a| set & (1 << a) != 0)
                    .fold(set, |grown, a| grown | needs[a]);
                if grown == set {
                    return set;
                }
                set = grown;
            }
        };
        let smallest = (0..count)
            .map(closed)
            .min_by_key(|set| set.count_ones())
            .unwrap_or(0);
        (steps, smallest, race)
    }

    /// The enabled steps of the state in `self.current` (every link FIFO, no fault).
    pub(super) fn enabled_steps(&mut self) -> Vec<Enabled> {
        let n = self.current.n;
        let mut steps = Vec::new();
        for client in 0..n {
            let issued = usize::from(self.current.issued[client]);
            if issued < self.transfer_counts[client] {
                let input = INPUT_ISSUE | issued as u32;
                steps.push(Enabled {
                    client,
                    input,
                    msg: 0,
                });
            }
            if self.timer_effect(self.current.locals[client]).is_some() {
                steps.push(Enabled {
                    client,
                    input: INPUT_TIMER,
                    msg: 0,
                });
            }
            for sender in 0..n {
                let link = usize::from(self.link_index[sender * n + client]);
                if sender != client && self.current.count(link) > 0 {
                    let input = INPUT_DELIVER | (sender as u32 + 1);
                    let msg = self.current.heads[link];
                    steps.push(Enabled { client, input, msg });
                }
            }
        }
        debug_assert!(steps.len() <= 64);
        steps
    }

    /// Whether `step` of `client` is enabled in client state `local`, and its effect.
    pub(super) fn step_from(&mut self, local: u32, step: Enabled) -> Option<Effect> {
        if step.input == INPUT_TIMER {
            return self.timer_effect(local);
        }
        Some(self.effect(local, step.input, step.msg))
    }

    /// Whether two steps of `client`, enabled in the current state, lead to the same client
    /// state and the same messages on each link out, in either order.
    pub(super) fn commute(&mut self, client: usize, first: Enabled, second: Enabled) -> bool {
        let local = self.current.locals[client];
        let one = self.in_order(local, first, second);
        let other = self.in_order(local, second, first);
        one.is_some() && one == other
    }

    /// `first` then `second` from client state `local`: the client state reached and the
    /// messages sent, per receiver in order (`None`: `second` is not enabled after `first`).
    fn in_order(
        &mut self,
        local: u32,
        first: Enabled,
        second: Enabled,
    ) -> Option<(u32, Vec<(u8, u32)>)> {
        let a = self.step_from(local, first)?;
        let b = self.step_from(a.next, second)?;
        let mut sent = self.sent(a);
        sent.extend(self.sent(b));
        // Per receiver in order: a stable sort by receiver keeps each link's order.
        sent.sort_by_key(|&(to, _)| to);
        Some((b.next, sent))
    }

    pub(super) fn sent(&self, effect: Effect) -> Vec<(u8, u32)> {
        let start = effect.sends_start as usize;
        self.sends[start..start + effect.sends_len as usize].to_vec()
    }

    /// Whether `step` (every link FIFO, no fault) is the enabled step `enabled`.
    pub(super) fn is_step(&self, enabled: Enabled, step: &SystemStep) -> bool {
        let kind = enabled.input & (3 << 28);
        let client = usize::from(step.client);
        match step.kind {
            StepKind::Issue => kind == INPUT_ISSUE && enabled.client == client,
            StepKind::Timer => enabled.input == INPUT_TIMER && enabled.client == client,
            StepKind::Deliver => {
                let n = self.current.n;
                let sender = (enabled.input & 0xff) as usize;
                kind == INPUT_DELIVER
                    && self.link_index[(sender - 1) * n + enabled.client] == step.link
            }
            _ => false,
        }
    }

    /// Whether `sender_step` of another client sends a message to `step`'s client on an
    /// empty link, whose delivery does not commute with `step`.
    fn races(&mut self, step: Enabled, sender_step: Enabled) -> bool {
        let (receiver, sender) = (step.client, sender_step.client);
        let n = self.current.n;
        let link = usize::from(self.link_index[sender * n + receiver]);
        if self.current.count(link) > 0 {
            return false;
        }
        let Some(effect) = self.step_from(self.current.locals[sender], sender_step) else {
            return false;
        };
        let Some(&(_, msg)) = self
            .sent(effect)
            .iter()
            .find(|&&(to, _)| usize::from(to) == receiver)
        else {
            return false;
        };
        let delivery = Enabled {
            client: receiver,
            input: INPUT_DELIVER | (sender as u32 + 1),
            msg,
        };
        !self.commute(receiver, step, delivery)
    }
}

/// The client system expanded, in each state, with only the steps of the persistent-set bound
/// (every link FIFO, no fault). Not a sound reduction: the bound looks at two-step paths
/// only, so the sets it takes may be too small. How many states it visits estimates, from
/// below, what any persistent-set reduction with exact knowledge of the client steps
/// visits.
#[cfg(test)]
pub(crate) struct BoundModel {
    pub(crate) model: SystemModel,
    /// The states it expanded that have no enabled step.
    pub(crate) terminal: Arc<std::sync::atomic::AtomicU64>,
}

#[cfg(test)]
impl BoundModel {
    pub(crate) fn new(model: SystemModel) -> Self {
        BoundModel {
            model,
            terminal: Arc::default(),
        }
    }
}

#[cfg(test)]
pub(crate) struct BoundExpander {
    inner: SystemExpander,
    every: Successors<SystemStep>,
    terminal: Arc<std::sync::atomic::AtomicU64>,
}

#[cfg(test)]
use super::super::{StepKind, SystemStep};
#[cfg(test)]
use crate::explore::search::{Expander, Finding, Model, Successors};

#[cfg(test)]
impl Model for BoundModel {
    type Step = SystemStep;
    type Expander = BoundExpander;

    fn initial(&self, out: &mut Vec<u8>) {
        self.model.initial(out);
    }

    fn expander(&self) -> BoundExpander {
        let config = self.model.config();
        assert!(
            config.all_fifo() == Some(true) && !config.any_faults(),
            "the bound is computed for FIFO links without faults"
        );
        BoundExpander {
            inner: self.model.reducing(false).expander(),
            every: Successors::new(),
            terminal: Arc::clone(&self.terminal),
        }
    }
}

#[cfg(test)]
impl Expander for BoundExpander {
    type Step = SystemStep;

    fn expand(&mut self, state: &[u8], out: &mut Successors<SystemStep>) {
        self.every.clear_all();
        self.inner.expand(state, &mut self.every);
        let (steps, set, _) = self.inner.smallest_persistent();
        if steps.is_empty() {
            self.terminal
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let inner = &self.inner;
        let taken = |step: &SystemStep| {
            steps
                .iter()
                .enumerate()
                .any(|(index, &enabled)| set & (1 << index) != 0 && inner.is_step(enabled, step))
        };
        out.extend_from(&self.every, taken);
    }

    fn check(&mut self, state: &[u8]) -> Vec<Finding> {
        self.inner.check(state)
    }
}
