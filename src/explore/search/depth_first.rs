//! Depth-first search, on one thread.

use super::breadth_first::{Flow, Run};
use super::successors::Successors;
use super::{Expander, Model, Stop};

/// How often (in states) depth-first search notes its progress.
const PROGRESS_EVERY: u32 = 1 << 12;

impl<M: Model> Run<'_, M> {
    /// Depth-first search: a stack of (state, depth); successors pushed in reverse so that the
    /// first successor is explored first.
    pub(super) fn depth_first(&mut self, model: &M) -> Stop {
        if let Flow::Stop(stop) = self.start(model) {
            return stop;
        }
        let mut stack: Vec<(u32, u32)> = vec![(0, 0)];
        let mut cut = false;
        let mut output = Successors::new();
        while let Some((id, depth)) = stack.pop() {
            self.tally.source_depth = depth;
            if id % PROGRESS_EVERY == 0 {
                self.note_progress();
            }
            self.scratch.clear();
            self.scratch.extend_from_slice(self.store.get(id));
            output.clear();
            self.expanders[0].expand(&self.scratch, &mut output);
            if self.tally.options.max_depth.is_some_and(|max| depth >= max) {
                cut |= output.pending() > 0;
                continue;
            }
            output.close_state();
            output.hash_items();
            let before = self.store.len() as u32;
            let flow = self
                .tally
                .merge(&mut self.store, &mut self.expanders[0], &output, id);
            if let Flow::Stop(stop) = flow {
                return stop;
            }
            let after = self.store.len() as u32;
            for new in (before..after).rev() {
                stack.push((new, depth + 1));
            }
        }
        if cut { Stop::MaxDepth } else { Stop::Exhausted }
    }
}
