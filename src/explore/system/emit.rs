//! Writing a successor: the parent's encoding with the changed parts only.

use super::SystemStep;
use super::encoding::{copy_bytes, issued_at, write_varint};
use super::expander::SystemExpander;
use super::node::ExploredNode;
use super::step_table::Effect;
use crate::explore::hash::hash_bytes;
use crate::explore::search::Successors;

/// How a successor differs from the state being expanded.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Edit {
    /// A client's new local state.
    pub(super) client: Option<(usize, u32)>,
    /// A client's new status byte.
    pub(super) status: Option<(usize, u8)>,
    /// A client asked for its next transfer.
    pub(super) issued: Option<usize>,
    pub(super) lost: bool,
    pub(super) duplicated: bool,
    /// A message leaves a link: (link, position).
    pub(super) remove: Option<(usize, usize)>,
    /// A message is copied right behind itself: (link, position).
    pub(super) copy: Option<(usize, usize)>,
    /// A client's step and what it sends.
    pub(super) effect: Option<(usize, Effect)>,
}

impl Edit {
    pub(super) fn step(client: usize, effect: Effect) -> Self {
        Edit {
            client: Some((client, effect.next)),
            effect: Some((client, effect)),
            ..Edit::default()
        }
    }
}

impl<N: ExploredNode> SystemExpander<N> {
    /// [`Self::emit`] for the common case, every link FIFO: `client` takes a step with
    /// `effect` (its next local state, its sends appended to its links), having been asked
    /// for a transfer (`issued`) or having received the first message of link `removed`
    /// (`usize::MAX`: none). A link the client receives on is never one it sends on, so each
    /// changed link either loses its first message or gains messages at its end.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit_step(
        &mut self,
        state: &[u8],
        out: &mut Successors<SystemStep>,
        step: SystemStep,
        client: usize,
        effect: Effect,
        issued: bool,
        removed: usize,
    ) {
        let SystemExpander {
            scratch,
            sends,
            current,
            link_index,
            problems,
            ..
        } = self;
        let n = current.n;
        let sends =
            &sends[effect.sends_start as usize..(effect.sends_start + effect.sends_len) as usize];
        let links = &link_index[client * n..client * n + n];
        let mut changed: u64 = if removed == usize::MAX {
            0
        } else {
            1 << removed
        };
        for &(to, _) in sends {
            changed |= 1 << links[usize::from(to)];
        }
        // At most: the state, a longer local number and count per changed link, the sends.
        let most = state.len() + 5 + 10 * (sends.len() + 1);
        if scratch.len() < most {
            scratch.resize(most.next_power_of_two(), 0);
        }
        let buffer = &mut scratch[..];
        let start = if client == 0 {
            0
        } else {
            current.local_ends[client - 1] as usize
        };
        let mut at = copy_bytes(buffer, 0, &state[..start]);
        at = write_varint(buffer, at, effect.next);
        let mut run_start = current.local_ends[client] as usize;
        // Where the bytes of [`fixed_bytes`] are in `buffer`.
        let base = at + current.local_ends[n - 1] as usize - run_start;
        while changed != 0 {
            let link = changed.trailing_zeros() as usize;
            changed &= changed - 1;
            at = copy_bytes(
                buffer,
                at,
                &state[run_start..current.link_bytes[link] as usize],
            );
            run_start = current.link_bytes[link + 1] as usize;
            let count = (current.starts[link + 1] - current.starts[link]) as usize;
            if link == removed {
                at = write_varint(buffer, at, count as u32 - 1);
                at = copy_bytes(
                    buffer,
                    at,
                    &state[current.head_ends[link] as usize..run_start],
                );
            } else {
                let gets = sends
                    .iter()
                    .filter(|&&(to, _)| usize::from(links[usize::from(to)]) == link)
                    .count();
                at = write_varint(buffer, at, (count + gets) as u32);
                at = copy_bytes(buffer, at, &state[current.bodies[link] as usize..run_start]);
                for &(to, msg) in sends {
                    if usize::from(links[usize::from(to)]) == link {
                        at = write_varint(buffer, at, msg);
                    }
                }
            }
        }
        at = copy_bytes(buffer, at, &state[run_start..]);
        if issued {
            buffer[base + issued_at(n, self.faults) + client] += 1;
        }
        let encoding = &buffer[..at];
        out.buffer().extend_from_slice(encoding);
        out.push_hashed(step, true, hash_bytes(encoding));
        if effect.problem != 0 {
            out.flag_last(problems[effect.problem as usize - 1].clone());
        }
    }

    /// Writes the successor `edit` makes of `state` (decoded in `self.current`) and pushes it.
    ///
    /// The successor is written into `self.scratch` (a plain slice, long enough for any
    /// successor of `state`: no length to keep up to date per byte, no call per copy) and
    /// appended to `out` in one copy. Unchanged parts are copied from `state` in runs; a link
    /// that only loses its first message or gains messages at its end (FIFO) is written as
    /// its new count, its other messages' bytes as they are and the new messages; anything
    /// else (a message taken from the middle, a copy, a bag that gains a message) through
    /// the list of its messages.
    pub(super) fn emit(
        &mut self,
        state: &[u8],
        out: &mut Successors<SystemStep>,
        step: SystemStep,
        edit: Edit,
    ) {
        let n = self.current.n;
        let head_at = self.current.local_ends[n - 1] as usize;
        // The links that change: those the sender's messages go to, and the one a message
        // leaves or is copied on.
        let (sender, sends) = match edit.effect {
            Some((sender, effect)) => (
                sender,
                effect.sends_start as usize..(effect.sends_start + effect.sends_len) as usize,
            ),
            None => (0, 0..0),
        };
        let mut changed: u64 = 0;
        for index in sends.clone() {
            let (to, _) = self.sends[index];
            changed |= 1 << self.link_index[sender * n + usize::from(to)];
        }
        if let Some((link, _)) = edit.remove {
            changed |= 1 << link;
        }
        if let Some((link, _)) = edit.copy {
            changed |= 1 << link;
        }
        // At most: the state, a longer local number, a longer count per changed link, the
        // messages sent and a copied one.
        let most = state.len() + 5 + 5 * (changed.count_ones() as usize + sends.len() + 1);
        if self.scratch.len() < most {
            self.scratch.resize(most.next_power_of_two(), 0);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let buffer = &mut scratch[..];
        let mut at = 0;
        let mut run_start = 0;
        if let Some((client, local)) = edit.client {
            let start = if client == 0 {
                0
            } else {
                self.current.local_ends[client - 1] as usize
            };
            at = copy_bytes(buffer, at, &state[..start]);
            at = write_varint(buffer, at, local);
            run_start = self.current.local_ends[client] as usize;
        }
        // Where the bytes of [`fixed_bytes`] are in `buffer`.
        let base = at + head_at - run_start;
        while changed != 0 {
            let link = changed.trailing_zeros() as usize;
            changed &= changed - 1;
            at = copy_bytes(
                buffer,
                at,
                &state[run_start..self.current.link_bytes[link] as usize],
            );
            run_start = self.current.link_bytes[link + 1] as usize;
            let removed = edit.remove.filter(|&(l, _)| l == link).map(|(_, pos)| pos);
            let copied = edit.copy.is_some_and(|(l, _)| l == link);
            let fifo = self.fifo[link];
            let mut gets = 0;
            for index in sends.clone() {
                let (to, _) = self.sends[index];
                gets +=
                    usize::from(usize::from(self.link_index[sender * n + usize::from(to)]) == link);
            }
            if !copied && removed.is_none_or(|pos| pos == 0) && (fifo || gets == 0) {
                let count = self.current.count(link) as usize;
                let count = count - usize::from(removed.is_some()) + gets;
                at = write_varint(buffer, at, count as u32);
                let body = if removed.is_some() {
                    self.current.head_ends[link]
                } else {
                    self.current.bodies[link]
                } as usize;
                at = copy_bytes(buffer, at, &state[body..run_start]);
                if gets > 0 {
                    for index in sends.clone() {
                        let (to, msg) = self.sends[index];
                        if usize::from(self.link_index[sender * n + usize::from(to)]) == link {
                            at = write_varint(buffer, at, msg);
                        }
                    }
                }
                continue;
            }
            self.list.clear();
            self.list.extend_from_slice(self.current.link(link));
            if let Some(pos) = removed {
                self.list.remove(pos);
            }
            if let Some((_, pos)) = edit.copy.filter(|_| copied) {
                // The copy travels right behind the original (on a bag link, equal messages
                // sit together anyway).
                let msg = self.list[pos];
                self.list.insert(pos + 1, msg);
            }
            for index in sends.clone() {
                let (to, msg) = self.sends[index];
                if usize::from(self.link_index[sender * n + usize::from(to)]) != link {
                    continue;
                }
                if fifo {
                    self.list.push(msg);
                } else {
                    self.insert_sorted(msg);
                }
            }
            at = write_varint(buffer, at, self.list.len() as u32);
            for &msg in &self.list {
                at = write_varint(buffer, at, msg);
            }
        }
        at = copy_bytes(buffer, at, &state[run_start..]);
        // Statuses, losses and duplications change only where faults are possible, and only
        // then are they encoded.
        debug_assert!(self.faults || (edit.status.is_none() && !edit.lost && !edit.duplicated));
        if let Some((client, status)) = edit.status {
            buffer[base + client] = status;
        }
        if let Some(client) = edit.issued {
            buffer[base + issued_at(n, self.faults) + client] += 1;
        }
        if edit.lost {
            buffer[base + 2 * n] += 1;
        }
        if edit.duplicated {
            buffer[base + 2 * n + 1] += 1;
        }
        debug_assert!(at > 0);
        out.buffer().extend_from_slice(&buffer[..at]);
        self.scratch = scratch;
        out.push(step, true);
        if let Some((_, effect)) = edit.effect.filter(|(_, effect)| effect.problem != 0) {
            out.flag_last(self.problems[effect.problem as usize - 1].clone());
        }
    }
}
