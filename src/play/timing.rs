//! When each move of a session happens, so that `run` replays the exported scenario in the
//! same order: a step lasts [`STEP_US`], a lost or duplicated message takes no time (its fate
//! belongs to its send), and a critical section lasts the same `cs_us` every time, as the
//! simulator's timer makes it. A student may leave a critical section after any number of
//! steps, so the step that ends one waits until `cs_us` has passed since the entry, and
//! `cs_us` is the scenario's unless a critical section needs more steps than it holds.

use super::world::{ArmedTimer, StepShape};

/// The time one step takes, in microseconds.
pub const STEP_US: u64 = 1000;

/// How many times the critical section's length is raised before giving up: each raise makes
/// one constraint hold, and critical sections follow each other, so two suffice in practice.
const MAX_RAISES: usize = 64;

/// The times of a session's steps and the length of its critical sections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Index `k`: when step `k` happens, in microseconds.
    pub times: Vec<u64>,
    pub cs_us: u64,
}

impl Timing {
    /// When the last step happens (0 before any).
    pub fn last_us(&self) -> u64 {
        self.times.last().copied().unwrap_or(0)
    }
}

/// The timing of `shapes`, given the timers armed (`open` says which timers are still to
/// fire in their client's current incarnation) and the scenario's `cs_us`. `None` when no
/// single `cs_us` fits, which only critical sections that overlap could cause.
pub fn solve(
    shapes: &[StepShape],
    timers: &[ArmedTimer],
    open: &[bool],
    cs_us: u64,
) -> Option<Timing> {
    let mut cs_us = cs_us.max(1);
    for _ in 0..MAX_RAISES {
        let times = times_for(shapes, timers, cs_us);
        let needed = needed_cs_us(shapes, timers, open, &times, cs_us);
        if needed <= cs_us {
            return Some(Timing { times, cs_us });
        }
        cs_us = needed;
    }
    None
}

fn times_for(shapes: &[StepShape], timers: &[ArmedTimer], cs_us: u64) -> Vec<u64> {
    let mut times: Vec<u64> = Vec::with_capacity(shapes.len());
    for shape in shapes {
        let previous = times.last().copied();
        let t = match (shape.fired, previous) {
            (Some(timer), _) => times[timers[timer].armed_step].saturating_add(cs_us),
            (None, None) => 0,
            (None, Some(previous)) if shape.fate => previous,
            (None, Some(previous)) => previous + STEP_US,
        };
        times.push(t);
    }
    times
}

/// The smallest `cs_us` that keeps every step after the one before it and every timer still
/// to fire after the last step.
fn needed_cs_us(
    shapes: &[StepShape],
    timers: &[ArmedTimer],
    open: &[bool],
    times: &[u64],
    cs_us: u64,
) -> u64 {
    let mut needed = cs_us;
    for (step, shape) in shapes.iter().enumerate().skip(1) {
        if let Some(timer) = shape.fired {
            let armed = times[timers[timer].armed_step];
            let previous = times[step - 1];
            needed = needed.max(previous - armed + 1);
        }
    }
    let last = times.last().copied().unwrap_or(0);
    for (timer, _) in timers.iter().zip(open).filter(|(_, open)| **open) {
        needed = needed.max(last - times[timer.armed_step] + 1);
    }
    needed
}
