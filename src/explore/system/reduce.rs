//! Partial-order reduction: from a global state, the steps of a few clients only, chosen so
//! that no violation, deadlock or broken step reachable from the state is missed (the argument
//! is in docs/explore.md, "Partial-order reduction").
//!
//! Every step belongs to one client, its *owner*: issue, timer, restart and crash to their
//! client; a delivery, loss or duplication to the client at the receiving end of its link.
//! Steps of different owners commute and neither disables the other, with two exceptions:
//! a step can put a message on an empty FIFO link or on a bag (enabling its receiver's
//! delivery of it, which then competes with the receiver's other steps), and losses
//! (duplications) share one bound. So the clients whose steps are taken form a set closed
//! under "receives on an empty FIFO link or a bag from" and, while losses (duplications) are
//! left, "shares the loss (duplication) bound with". Of the sets so closed, the one with the
//! fewest enabled steps is taken if it has a step that changes nothing the invariants compare
//! between clients (inside, ledger) and every one of its steps makes progress (see
//! [`Progress`]); otherwise every step is.

// Counts what the reduction does state by state, for docs/explore.md's figures (an ignored
// test); not part of the explorer itself.
#[cfg(test)]
mod figures;
// What the reduction could do with the whole state graph in hand, for the same page.
#[cfg(test)]
mod oracle;

#[cfg(test)]
pub(crate) use figures::BoundModel;
#[cfg(test)]
pub(super) use figures::FigureSink;
#[cfg(test)]
pub(crate) use figures::ReductionFigures;
#[cfg(test)]
pub(crate) use oracle::{Reach, oracle_figures};

use super::MAX_CLIENTS;
use super::effects::{INPUT_DELIVER, INPUT_ISSUE, INPUT_RESTART};
use super::expander::SystemExpander;
use super::intern::{CLOCK_UNKNOWN, INSIDE, LEDGER_SHIFT, summary_clock};
use super::node::ExploredNode;
use super::step_table::Effect;

/// What the invariants compare between clients: whether a client is inside, and its ledger.
const OBSERVED: u64 = INSIDE | (u32::MAX as u64) << LEDGER_SHIFT;

/// The rules of the closure, as masks: `pulls[i]`, the clients the link rule brings in for
/// client `i`; `pushes[j]`, the clients it brings `j` in for; the groups that share a
/// fault bound (a client of one brings in all).
#[derive(Clone, Copy, Default)]
struct ClosureRules {
    pulls: [u32; MAX_CLIENTS],
    pushes: [u32; MAX_CLIENTS],
    bound_groups: [u32; 2],
}

impl ClosureRules {
    /// The smallest set holding `start` closed under `edges` and the bound groups (which
    /// are symmetric, so this is also the set of clients whose closure meets `start` when
    /// `edges` are the [`Self::pushes`]).
    fn reach(&self, start: u32, edges: &[u32; MAX_CLIENTS]) -> u32 {
        let mut mask = start;
        let mut frontier = start;
        while frontier != 0 {
            let mut grown = mask;
            while frontier != 0 {
                grown |= edges[frontier.trailing_zeros() as usize % MAX_CLIENTS];
                frontier &= frontier - 1;
            }
            for group in self.bound_groups {
                if grown & group != 0 {
                    grown |= group;
                }
            }
            frontier = grown & !mask;
            mask = grown;
        }
        mask
    }
}

/// The rule of the closure that brought a client in.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pull {
    /// The link from it to a client in the set is FIFO and empty.
    EmptyLink,
    /// The link from it to a client in the set is a bag.
    Bag,
    /// It shares the loss bound with a client in the set.
    LossBound,
    /// It shares the duplication bound with a client in the set.
    DuplicationBound,
}

/// Whether a step makes progress: it raises a count that never falls (transfers asked for,
/// crashes and restarts, losses, duplications), else its client's clock, else (the clock
/// unchanged) it leaves fewer messages in flight. In that order these form a measure that
/// every step with progress raises, so a cycle of states has a step without progress; the
/// source of such a step is expanded in full, which is the cycle proviso.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Progress {
    Yes,
    No,
}

/// One client's enabled steps, summed up.
#[derive(Clone, Copy, Default)]
struct Owner {
    /// Enabled steps (each delivery candidate, fault position counted once).
    steps: u32,
    /// A step of the protocol is enabled (not a loss, duplication or crash).
    protocol: bool,
    /// An enabled step changes nothing in [`OBSERVED`] (and keeps the client up or down).
    invisible: bool,
    /// An enabled step lacks [`Progress`].
    stalls: bool,
}

impl Owner {
    fn add(&mut self, visible: bool, progress: Progress, protocol: bool) {
        self.steps += 1;
        self.invisible |= !visible;
        self.stalls |= progress == Progress::No;
        self.protocol |= protocol;
    }
}

/// Why a state is expanded as it is (see [`SystemExpander::reduction_choice`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Why {
    /// A set of fewer clients qualified.
    Reduced,
    /// Every seed's closure holds every client.
    ClosureAll,
    /// The smallest closure short of every client has no step of the protocol to seed it.
    NoProtocolSeed,
    /// ... has only visible steps.
    NoInvisible,
    /// ... has a step without progress.
    Stalls,
    /// ... has no fewer steps than all the clients together.
    NotFewer,
}

impl<N: ExploredNode> SystemExpander<N> {
    /// The clients whose steps to take from the state in `self.current`, a bit each; every
    /// client when no smaller set qualifies.
    pub(super) fn reduction_mask(&mut self) -> u32 {
        self.reduction_choice().0
    }

    /// [`Self::reduction_mask`], and why.
    pub(super) fn reduction_choice(&mut self) -> (u32, Why) {
        let n = self.current.n;
        let every = (1u32 << n) - 1;
        // The closures need only the link counts and who is down for good: when every one
        // holds every client, no client step need be looked up.
        let closures = self.closures();
        if closures[..n].iter().all(|&closure| closure == every) {
            return (every, Why::ClosureAll);
        }
        let mut owners = [Owner::default(); MAX_CLIENTS];
        for (client, owner) in owners.iter_mut().enumerate().take(n) {
            *owner = self.owner(client);
        }
        let total: u32 = owners[..n].iter().map(|owner| owner.steps).sum();
        let mut best: Option<(u32, u32)> = None;
        // The smallest closure that does not qualify, and why.
        let mut rejected: Option<(u32, Why)> = None;
        for seed in 0..n {
            let mask = closures[seed];
            if mask == every {
                continue;
            }
            let chosen = owners[..n]
                .iter()
                .enumerate()
                .filter(|(client, _)| mask & (1 << client) != 0)
                .map(|(_, owner)| *owner);
            let (mut steps, mut invisible, mut stalls) = (0, false, false);
            for owner in chosen {
                steps += owner.steps;
                invisible |= owner.invisible;
                stalls |= owner.stalls;
            }
            let why = if !owners[seed].protocol {
                Why::NoProtocolSeed
            } else if !invisible {
                Why::NoInvisible
            } else if stalls {
                Why::Stalls
            } else if steps >= total {
                Why::NotFewer
            } else {
                Why::Reduced
            };
            if why == Why::Reduced {
                if best.is_none_or(|(most, _)| steps < most) {
                    best = Some((steps, mask));
                }
            } else if rejected.is_none_or(|(most, _)| steps < most) {
                rejected = Some((steps, why));
            }
        }
        match (best, rejected) {
            (Some((_, mask)), _) => (mask, Why::Reduced),
            (None, Some((_, why))) => (every, why),
            (None, None) => (every, Why::ClosureAll),
        }
    }

    /// Every seed's [`Self::closure`] (the first `n` entries), from one mask per client of
    /// the clients the link rule brings in for it: a few bit operations per seed.
    pub(super) fn closures(&self) -> [u32; MAX_CLIENTS] {
        let n = self.current.n;
        let every = (1u32 << n) - 1;
        let rules = self.closure_rules();
        let mut closures = [every; MAX_CLIENTS];
        // Most often every closure is every client: so it is when seed 0's is, and seed 0 is
        // in every seed's (every client reaches it backwards).
        if rules.reach(1, &rules.pulls) == every && rules.reach(1, &rules.pushes) == every {
            return closures;
        }
        for (seed, closure) in closures.iter_mut().enumerate().take(n) {
            *closure = rules.reach(1 << seed, &rules.pulls);
        }
        closures
    }

    /// The rules of [`Self::closure`] in the state in `self.current`, as masks.
    fn closure_rules(&self) -> ClosureRules {
        let n = self.current.n;
        let config = &self.inner.config;
        // Only a crash makes a client silent.
        let silent = if self.faults {
            self.silent_clients()
        } else {
            0
        };
        let mut rules = ClosureRules::default();
        for (link, &(from, to)) in self.inner.links.iter().enumerate() {
            let (from, to) = (from.index(), to.index());
            if (!self.fifo[link] || self.current.count(link) == 0) && silent & (1 << from) == 0 {
                rules.pulls[to] |= 1 << from;
                rules.pushes[from] |= 1 << to;
            }
        }
        debug_assert!(rules.pulls[n..].iter().all(|&pull| pull == 0));
        if self.current.losses < config.max_losses {
            rules.bound_groups[0] = self.lossy_receivers;
        }
        if self.current.duplicates < config.max_duplicates {
            rules.bound_groups[1] = self.duplicating_receivers;
        }
        rules
    }

    /// A bit per client that is down for good.
    pub(super) fn silent_clients(&self) -> u32 {
        (0..self.current.n)
            .filter(|&client| self.silent(client))
            .fold(0u32, |mask, client| mask | 1 << client)
    }

    /// The smallest set of clients holding `seed` and closed under the two rules of the
    /// module's comment, client by client: the reference that [`Self::closures`], which
    /// computes every seed's at once, is tested against. `pulled(receiver, sender, rule)`
    /// hears of each client the first rule brings in, `pulled(client, client, rule)` of the
    /// fault bounds.
    #[cfg(test)]
    pub(super) fn closure(
        &self,
        seed: usize,
        silent: u32,
        mut pulled: impl FnMut(usize, usize, Pull),
    ) -> u32 {
        let n = self.current.n;
        let config = &self.inner.config;
        let losses_left = self.current.losses < config.max_losses;
        let duplicates_left = self.current.duplicates < config.max_duplicates;
        let mut mask = 1u32 << seed;
        loop {
            let before = mask;
            for receiver in 0..n {
                if mask & (1 << receiver) == 0 {
                    continue;
                }
                for sender in 0..n {
                    if sender == receiver || (mask | silent) & (1 << sender) != 0 {
                        continue;
                    }
                    // What the sender sends next is received before the receiver's steps
                    // now in reach when the link is empty, or a bag (any message may be
                    // delivered next).
                    let link = usize::from(self.link_index[sender * n + receiver]);
                    if !self.fifo[link] {
                        mask |= 1 << sender;
                        pulled(receiver, sender, Pull::Bag);
                    } else if self.current.count(link) == 0 {
                        mask |= 1 << sender;
                        pulled(receiver, sender, Pull::EmptyLink);
                    }
                }
            }
            if losses_left && mask & self.lossy_receivers != 0 {
                if self.lossy_receivers & !mask != 0 {
                    pulled(seed, seed, Pull::LossBound);
                }
                mask |= self.lossy_receivers;
            }
            if duplicates_left && mask & self.duplicating_receivers != 0 {
                if self.duplicating_receivers & !mask != 0 {
                    pulled(seed, seed, Pull::DuplicationBound);
                }
                mask |= self.duplicating_receivers;
            }
            if mask == before {
                return mask;
            }
        }
    }

    /// Down for good: it never takes a step that sends.
    fn silent(&self, client: usize) -> bool {
        if !self.current.down(client) {
            return false;
        }
        let used = self.current.crashes_used(client);
        !self.inner.config.crashes[client][used - 1].restarts
    }

    /// The enabled steps owned by `client`, summed up.
    fn owner(&mut self, client: usize) -> Owner {
        let mut owner = Owner::default();
        let n = self.current.n;
        let down = self.current.down(client);
        let used = self.current.crashes_used(client);
        let local = self.current.locals[client];
        let losses_left = self.current.losses < self.inner.config.max_losses;
        let duplicates_left = self.current.duplicates < self.inner.config.max_duplicates;
        if down {
            let crash = self.inner.config.crashes[client][used - 1];
            if crash.restarts {
                let keep = u32::from(crash.keep_ledger);
                let effect = self.effect(local, INPUT_RESTART | keep, 0);
                // Up again: visible if it comes back inside or with another ledger.
                let after = self.summary(effect.next);
                let visible = after & INSIDE != 0 || self.changes_ledger(local, effect.next);
                owner.add(visible, Progress::Yes, true);
            }
        } else {
            let issued = usize::from(self.current.issued[client]);
            if issued < self.transfer_counts[client] {
                let effect = self.effect(local, INPUT_ISSUE | issued as u32, 0);
                let visible = self.visible(local, effect);
                owner.add(visible, Progress::Yes, true);
            }
            if let Some(effect) = self.timer_effect(local) {
                let visible = self.visible(local, effect);
                let progress = self.progress(local, effect, false);
                owner.add(visible, progress, true);
            }
            if used < self.crash_counts[client] {
                let visible = self.summary(local) & INSIDE != 0;
                owner.add(visible, Progress::Yes, false);
            }
        }
        for sender in 0..n {
            if sender == client {
                continue;
            }
            let link = usize::from(self.link_index[sender * n + client]);
            let count = self.current.count(link);
            if count == 0 {
                continue;
            }
            let rule = self.inner.config.links[sender * n + client];
            // Every position is a fault's candidate on FIFO, each distinct message on a bag.
            let faulty = if self.fifo[link] {
                count
            } else {
                self.distinct_messages(link)
            };
            if losses_left && rule.lossy {
                for _ in 0..faulty {
                    owner.add(false, Progress::Yes, false);
                }
            }
            if duplicates_left && rule.duplicating {
                for _ in 0..faulty {
                    owner.add(false, Progress::Yes, false);
                }
            }
            if down {
                // Delivered to a crashed client: lost, one message fewer in flight.
                owner.add(false, Progress::Yes, true);
                continue;
            }
            if self.fifo[link] {
                let msg = self.current.heads[link];
                self.add_delivery(&mut owner, local, sender, msg);
            } else {
                let mut positions = std::mem::take(&mut self.positions);
                self.candidates(link, false, &mut positions);
                for &pos in &positions {
                    let msg = self.current.link(link)[pos];
                    self.add_delivery(&mut owner, local, sender, msg);
                }
                self.positions = positions;
            }
        }
        owner
    }

    fn add_delivery(&mut self, owner: &mut Owner, local: u32, sender: usize, msg: u32) {
        let effect = self.effect(local, INPUT_DELIVER | (sender as u32 + 1), msg);
        let visible = self.visible(local, effect);
        let progress = self.progress(local, effect, true);
        owner.add(visible, progress, true);
    }

    fn distinct_messages(&self, link: usize) -> u32 {
        let messages = self.current.link(link);
        (0..messages.len())
            .filter(|&pos| pos == 0 || messages[pos] != messages[pos - 1])
            .count() as u32
    }

    /// Whether a step of a client that is up changes what [`OBSERVED`] holds.
    fn visible(&mut self, local: u32, effect: Effect) -> bool {
        let before = self.summary(local);
        let after = self.summary(effect.next);
        (before ^ after) & OBSERVED != 0
    }

    fn changes_ledger(&mut self, local: u32, next: u32) -> bool {
        (self.summary(local) ^ self.summary(next)) >> LEDGER_SHIFT != 0
    }

    /// [`Progress`] of a timer or delivery step (`removes`: it takes a message off a link).
    fn progress(&mut self, local: u32, effect: Effect, removes: bool) -> Progress {
        let before = summary_clock(self.summary(local));
        let after = summary_clock(self.summary(effect.next));
        if before == CLOCK_UNKNOWN || after == CLOCK_UNKNOWN {
            return Progress::No;
        }
        if after > before || (after == before && removes && effect.sends_len == 0) {
            Progress::Yes
        } else {
            Progress::No
        }
    }
}
