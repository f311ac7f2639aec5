//! `lamport-ledger play`: the student is the network. A [`Session`] runs the real client state
//! machines through the one driver ([`crate::drive`]) with its own host ([`world`]): at each
//! step the student delivers a message in flight, issues a command, ends a critical section or
//! makes a fault the scenario allows; every check runs as in `run`, and a safety violation
//! stops the session at the event that reveals it. Moves can be undone and the path branched
//! anywhere; the path exports as a scenario whose `schedule` pins every message, which `run`
//! replays event for event, and as that run's trace ([`export`]).
//!
//! A session is its list of moves: every change replays them on fresh clients, so undo and
//! branching are exact and the times ([`timing`]) can follow from the whole path. Nothing here
//! knows HTTP: [`server`] serves the page over a session, and [`view`] is what the page shows.

pub mod challenge;
pub mod export;
pub mod moves;
pub mod search;
pub mod server;
pub mod timing;
pub mod view;
pub mod world;

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;

use rand::{RngExt, SeedableRng};

use rand_chacha::ChaCha8Rng;

use crate::scenario::Scenario;
use crate::trace::Event;

pub use moves::{Choice, Move};
use timing::Timing;
use world::{Fate, Setup, StepShape, World};

/// The most steps one request may let the seed choose.
pub const MAX_AUTO_STEPS: u64 = 10_000;

/// The ChaCha stream of the seed's choices, apart from the simulator's streams.
const AUTO_STREAM: u64 = 0x706c_6179 << 32;

/// One step taken: the move and the events it made.
#[derive(Clone, Debug)]
pub struct Step {
    pub mv: Move,
    pub events: Vec<Event>,
    pub t_us: u64,
}

/// The path replayed: its steps and the world after them.
pub struct Played {
    pub steps: Vec<Step>,
    pub world: World,
    pub timing: Timing,
}

impl Played {
    /// Every event of the path, in order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.steps.iter().flat_map(|step| step.events.iter())
    }
}

/// Why a move was refused.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error("that move is not possible now: {0}")]
    NotPossible(String),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// A played path: the moves made, the moves undone (to redo, until a different move is made)
/// and the path replayed.
pub struct Session {
    setup: Arc<Setup>,
    moves: Vec<Move>,
    redo: Vec<Move>,
    played: Played,
}

impl Session {
    pub fn new(scenario: &Scenario) -> io::Result<Self> {
        let setup = Arc::new(Setup::new(scenario));
        let played = replay(&setup, &[])?;
        Ok(Session {
            setup,
            moves: Vec::new(),
            redo: Vec::new(),
            played,
        })
    }

    /// A session after `moves`, each checked as if the student made it.
    #[cfg(test)]
    pub fn with_moves(scenario: &Scenario, moves: &[Move]) -> Result<Self, PlayError> {
        let mut session = Session::new(scenario)?;
        for mv in moves {
            session.make(*mv)?;
        }
        Ok(session)
    }

    pub fn scenario(&self) -> &Scenario {
        &self.setup.scenario
    }

    pub fn moves(&self) -> &[Move] {
        &self.moves
    }

    pub fn redo_moves(&self) -> &[Move] {
        &self.redo
    }

    pub fn played(&self) -> &Played {
        &self.played
    }

    /// The moves possible now.
    pub fn choices(&self) -> Vec<Choice> {
        self.played.world.choices()
    }

    /// Makes `mv`, if it is possible now. A move other than the next one undone forgets the
    /// undone ones: the path branches here.
    pub fn make(&mut self, mv: Move) -> Result<(), PlayError> {
        if !self.played.world.allows(mv) {
            return Err(PlayError::NotPossible(self.why_not(mv)));
        }
        if self.redo.last() == Some(&mv) {
            self.redo.pop();
        } else {
            self.redo.clear();
        }
        self.moves.push(mv);
        self.refresh()
    }

    fn why_not(&self, mv: Move) -> String {
        if self.played.world.stopped() {
            return "a violation stopped the run; undo to go on".to_string();
        }
        match self
            .choices()
            .into_iter()
            .find(|choice| choice.mv == mv && choice.blocked.is_some())
        {
            Some(choice) => choice.text,
            None => format!("{mv:?} is not among the moves listed"),
        }
    }

    /// Goes back to just after `steps` moves; the later moves can be redone in order.
    pub fn go_back(&mut self, steps: usize) -> Result<(), PlayError> {
        if steps >= self.moves.len() {
            return Ok(());
        }
        let undone = self.moves.split_off(steps);
        self.redo.extend(undone.into_iter().rev());
        self.refresh()
    }

    /// Undoes the last move.
    pub fn undo(&mut self) -> Result<(), PlayError> {
        self.go_back(self.moves.len().saturating_sub(1))
    }

    /// Makes the next undone move again.
    pub fn redo(&mut self) -> Result<(), PlayError> {
        match self.redo.last() {
            Some(&mv) => self.make(mv),
            None => Ok(()),
        }
    }

    /// Lets the scenario's seed choose up to `count` ordinary moves (no faults), uniformly
    /// among those possible; stops early when none is. Returns how many it made.
    pub fn auto(&mut self, count: u64) -> Result<u64, PlayError> {
        let count = count.min(MAX_AUTO_STEPS);
        let seed = self.setup.scenario.seed;
        // Its own stream per starting point: the same path and seed always choose alike.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(AUTO_STREAM ^ self.moves.len() as u64);
        let mut made = 0;
        while made < count {
            let choices: Vec<Move> = self
                .played
                .world
                .choices()
                .into_iter()
                .filter(|choice| !choice.fault && choice.blocked.is_none())
                .map(|choice| choice.mv)
                .collect();
            if choices.is_empty() {
                break;
            }
            let mv = choices[rng.random_range(0..choices.len())];
            // Times do not change what a client does; the replay below sets them.
            self.played.world.step(mv, 0)?;
            self.moves.push(mv);
            made += 1;
        }
        if made > 0 {
            self.redo.clear();
            self.refresh()?;
        }
        Ok(made)
    }

    fn refresh(&mut self) -> Result<(), PlayError> {
        self.played = replay(&self.setup, &self.moves)?;
        Ok(())
    }
}

/// The fates the moves decide, by message id.
fn fates(moves: &[Move]) -> BTreeMap<u64, Fate> {
    moves
        .iter()
        .filter_map(|mv| match *mv {
            Move::Drop { msg_id } => Some((msg_id, Fate::Lost)),
            Move::Duplicate { msg_id } => Some((msg_id, Fate::Duplicated)),
            _ => None,
        })
        .collect()
}

/// Replays `moves` on fresh clients: once to learn the path's shape, once with its times.
pub fn replay(setup: &Arc<Setup>, moves: &[Move]) -> io::Result<Played> {
    let fates = fates(moves);
    let mut world = World::new(Arc::clone(setup), fates.clone());
    let mut shapes: Vec<StepShape> = Vec::with_capacity(moves.len());
    for mv in moves {
        shapes.push(world.step(*mv, 0)?.1);
    }
    let open = open_timers(&world);
    let timing = timing::solve(&shapes, world.timers(), &open, setup.scenario.cs_us)
        .ok_or_else(|| io::Error::other("no single critical-section length fits this path"))?;
    let mut world = World::new(Arc::clone(setup), fates);
    let mut steps = Vec::with_capacity(moves.len());
    for (mv, &t_us) in moves.iter().zip(&timing.times) {
        let (events, _) = world.step(*mv, t_us)?;
        steps.push(Step {
            mv: *mv,
            events,
            t_us,
        });
    }
    Ok(Played {
        steps,
        world,
        timing,
    })
}

/// Which armed timers are still to fire: not fired, and armed in the client's current
/// incarnation (a crash cancels a timer, as in the simulator).
fn open_timers(world: &World) -> Vec<bool> {
    let incarnation_now = world.incarnations();
    world
        .timers()
        .iter()
        .map(|timer| {
            timer.fired_step.is_none() && timer.incarnation == incarnation_now[timer.client.index()]
        })
        .collect()
}

#[cfg(test)]
mod tests;
