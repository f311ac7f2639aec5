//! The client steps every thread shares: each (client state, input) pair is run once on
//! the real state machine, outside any lock, and remembered in sharded tables.

use std::sync::{Mutex, MutexGuard};

use rustc_hash::FxHashMap;

use super::Inner;
use super::config::SystemConfig;
use super::intern::{Shared, intern_client, intern_message};
use super::node::ExploredNode;
use crate::check::Invariant;
use crate::explore::search::{Finding, NODE_ERROR};
use crate::protocol::node::{HandledStep, may_send};
use crate::protocol::{ClientId, Command, Message, Outbox, OutputKind, Timer};

/// A client step just run, its client state and messages interned.
#[derive(Clone, Debug)]
pub(super) struct InternedStep {
    pub(super) next: u32,
    pub(super) sends: Vec<(u8, u32)>,
    pub(super) problem: Option<Finding>,
}

/// A remembered client step, in its shard: one word, its sends and its finding (rare) kept
/// in the shard's lists. The shards hold one per step run (1.45 million for the default
/// scenario), so an entry is four `u32`s and no heap block of its own: a list of sends and an
/// inline finding per entry would take about 250 MB there.
#[derive(Clone, Copy, Debug)]
pub(super) struct SharedEffect {
    pub(super) next: u32,
    pub(super) sends_start: u32,
    pub(super) sends_len: u32,
    /// The step broke the clock condition or is a node error (the finding is in the shard's
    /// `problems`).
    pub(super) broke: bool,
}

impl SharedEffect {
    /// The next client state in the top 32 bits, where the sends start (27 bits), how many
    /// (4 bits), whether the step has a finding (1 bit): the layout of
    /// [`EffectTable`](super::step_table::EffectTable)'s slots.
    pub(super) fn pack(self) -> u64 {
        assert!(
            self.sends_start < 1 << 27 && self.sends_len < 16,
            "more sends than a shard takes"
        );
        u64::from(self.next) << 32
            | u64::from(self.sends_start) << 5
            | u64::from(self.sends_len) << 1
            | u64::from(self.broke)
    }

    pub(super) fn unpack(value: u64) -> Self {
        SharedEffect {
            next: (value >> 32) as u32,
            sends_start: ((value >> 5) & ((1 << 27) - 1)) as u32,
            sends_len: ((value >> 1) & 0xf) as u32,
            broke: value & 1 != 0,
        }
    }
}

/// The remembered client steps, shared by every thread: in shards with a lock each, so
/// that a thread looking a step up (a cache miss or two in a big table) does not hold up
/// the others.
pub(super) struct SharedEffects {
    pub(super) shards: Vec<Mutex<EffectShard>>,
}

/// One shard of the remembered client steps.
#[derive(Default)]
pub(super) struct EffectShard {
    /// [`EffectTable::key`](super::step_table::EffectTable::key) -> [`SharedEffect::pack`]:
    /// 16 bytes an entry, both packed, since these tables double as they grow and every byte
    /// of an entry is a fresh page to fill.
    pub(super) steps: FxHashMap<u64, u64>,
    /// The sends of every step, back to back.
    pub(super) sends: Vec<(u8, u32)>,
    /// The findings of the steps that have one (rare), by key.
    pub(super) problems: FxHashMap<u64, Finding>,
}

impl EffectShard {
    pub(super) fn get(&self, key: u64) -> Option<SharedEffect> {
        self.steps.get(&key).copied().map(SharedEffect::unpack)
    }

    /// Appends the sends of `effect` (remembered under `key`) to `sends`; its next client
    /// state and finding.
    pub(super) fn copy_out(
        &self,
        key: u64,
        effect: SharedEffect,
        sends: &mut Vec<(u8, u32)>,
    ) -> (u32, Option<Finding>) {
        let start = effect.sends_start as usize;
        sends.extend_from_slice(&self.sends[start..start + effect.sends_len as usize]);
        let problem = effect.broke.then(|| self.problems[&key].clone());
        (effect.next, problem)
    }

    /// Remembers `step` under `key`, unless a step is there already (run meanwhile by
    /// another thread, with the same result); the one kept.
    pub(super) fn remember(&mut self, key: u64, step: InternedStep) -> SharedEffect {
        if let Some(effect) = self.get(key) {
            return effect;
        }
        let effect = SharedEffect {
            next: step.next,
            sends_start: u32::try_from(self.sends.len()).expect("a shard's sends fit in u32"),
            sends_len: step.sends.len() as u32,
            broke: step.problem.is_some(),
        };
        if let Some(finding) = step.problem {
            self.problems.insert(key, finding);
        }
        self.sends.extend_from_slice(&step.sends);
        self.steps.insert(key, effect.pack());
        effect
    }
}

pub(super) const EFFECT_SHARDS: usize = 64;

impl SharedEffects {
    pub(super) fn new() -> Self {
        SharedEffects {
            shards: (0..EFFECT_SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    pub(super) fn shard(&self, key: EffectKey) -> MutexGuard<'_, EffectShard> {
        let packed = (u64::from(key.local) << 32 | u64::from(key.input))
            ^ u64::from(key.msg).rotate_left(47);
        let index = (packed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58) as usize;
        self.shards[index % EFFECT_SHARDS]
            .lock()
            .expect("no thread panics while holding the tables")
    }

    pub(super) fn len(&self) -> usize {
        (0..EFFECT_SHARDS)
            .map(|index| {
                self.shards[index]
                    .lock()
                    .expect("no thread panics while holding the tables")
                    .steps
                    .len()
            })
            .sum()
    }
}

/// A client step's input, packed: (client state number, input kind and argument, message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct EffectKey {
    pub(super) local: u32,
    pub(super) input: u32,
    pub(super) msg: u32,
}

pub(super) const INPUT_ISSUE: u32 = 0;
pub(super) const INPUT_DELIVER: u32 = 1 << 28;
pub(super) const INPUT_TIMER: u32 = 2 << 28;
pub(super) const INPUT_RESTART: u32 = 3 << 28;

/// A client step run for real, before its results are interned.
pub(super) struct StepRun<N> {
    pub(super) client: N,
    pub(super) sends: Vec<(u8, Message)>,
    /// The clock condition broke.
    pub(super) problem: Option<String>,
    /// The step is one the explorer cannot follow (see [`misstep`]): its sentence. Its bad
    /// sends are left out of `sends`.
    pub(super) misstep: Option<String>,
}

/// Runs one client step for real on `before` (client state `key.local`); `delivered` is
/// message `key.msg` for a delivery. Takes no lock: the costly part of a new step (the state
/// machine, its hashing and cloning) runs while other threads go on.
pub(super) fn run_step<N: ExploredNode>(
    inner: &Inner<N>,
    before: &N,
    delivered: Option<Message>,
    key: EffectKey,
) -> StepRun<N> {
    let mut client = before.clone();
    let mut outbox = Outbox::new();
    take_input(inner, &mut client, delivered.as_ref(), key, &mut outbox);
    // A step of a node of another implementation may be one the explorer cannot follow.
    let misstep = client.misstep(
        before,
        key.input,
        delivered.as_ref(),
        &mut outbox,
        &inner.config,
    );
    let (sends, problem) = judge(inner, before, delivered.as_ref(), &outbox);
    StepRun {
        client,
        sends,
        problem,
        misstep,
    }
}

/// Hands `client` the input of `key` (`delivered`: the message of a delivery). Inlined, as
/// [`judge`]: with one call site each, `run_step` compiles as one function.
#[inline(always)]
fn take_input<N: ExploredNode>(
    inner: &Inner<N>,
    client: &mut N,
    delivered: Option<&Message>,
    key: EffectKey,
    outbox: &mut Outbox,
) {
    match decode_input(&inner.config, client.id(), key.input, delivered) {
        HandledStep::Transfer { to, amount, .. } => {
            // Scenario validation made every transfer valid; a refused one changes nothing.
            let _ = client.handle_command(Command::Transfer { to, amount }, outbox);
        }
        HandledStep::BalanceRead { of } => {
            let _ = client.handle_command(Command::ReadBalance { of }, outbox);
        }
        HandledStep::Delivery { from, msg } => client.handle_message(from, msg, outbox),
        HandledStep::Timer => client.handle_timer(Timer::LeaveCriticalSection, outbox),
        HandledStep::Restart { keep_ledger } => client.restart(keep_ledger),
    }
}

/// The step of client `id` with input `input` (`delivered`: its message, for a delivery).
pub(super) fn decode_input<'a>(
    config: &SystemConfig,
    id: ClientId,
    input: u32,
    delivered: Option<&'a Message>,
) -> HandledStep<'a> {
    let argument = input & ((1 << 28) - 1);
    match input & (3 << 28) {
        INPUT_ISSUE => {
            let transfer = config.transfers[id.index()][argument as usize];
            HandledStep::Transfer {
                number: argument as usize + 1,
                to: transfer.to,
                amount: transfer.amount,
            }
        }
        INPUT_DELIVER => HandledStep::Delivery {
            from: ClientId::new(argument),
            msg: delivered.expect("a delivery has its message"),
        },
        INPUT_TIMER => HandledStep::Timer,
        _ => HandledStep::Restart {
            keep_ledger: argument == 1,
        },
    }
}

/// The sends of a step of `before` with `outbox`, and whether it broke the clock condition,
/// as `check::ClockCondition` judges the events: a client's clock never decreases, a receive
/// is later than its send, a message carries the send's clock.
#[inline(always)]
fn judge<N: ExploredNode>(
    inner: &Inner<N>,
    before: &N,
    delivered: Option<&Message>,
    outbox: &Outbox,
) -> (Vec<(u8, Message)>, Option<String>) {
    let id = before.id();
    let mut problem = None;
    let mut last = before.clock();
    let mut sends = Vec::new();
    for output in outbox.as_slice() {
        if output.clock < last && problem.is_none() {
            problem = Some(format!(
                "client {id}'s clock went back from {last} to {}",
                output.clock
            ));
        }
        last = output.clock;
        match &output.kind {
            OutputKind::Received { from } => {
                let msg = delivered.expect("only a delivery receives");
                if output.clock <= msg.ts() && problem.is_none() {
                    problem = Some(format!(
                        "client {id} received {} (sent by client {from} at clock {}) with its \
                         clock at {}: a receive must be later than its send",
                        msg.type_name().to_uppercase(),
                        msg.ts(),
                        output.clock
                    ));
                }
            }
            OutputKind::Send { to, msg } => {
                // The built-in client never does this; `ExploredNode::misstep` takes such sends
                // of another node out.
                assert!(
                    may_send(id, *to, inner.config.clients),
                    "client {id} sent {} to client {to}: a node sends only to another client \
                     of the system",
                    msg.type_name().to_uppercase()
                );
                if msg.ts() != output.clock && problem.is_none() {
                    problem = Some(format!(
                        "client {id} sent {} to client {to} with ts {} while its clock was {}",
                        msg.type_name().to_uppercase(),
                        msg.ts(),
                        output.clock
                    ));
                }
                sends.push((to.index() as u8, msg.clone()));
            }
            _ => {}
        }
    }
    (sends, problem)
}

/// Interns what a step sent (in order) and the client state it left, and remembers the step.
pub(super) fn intern_step<N: ExploredNode>(
    inner: &Inner<N>,
    shared: &mut Shared<N>,
    run: StepRun<N>,
) -> InternedStep {
    let sends = run
        .sends
        .iter()
        .map(|(to, msg)| (*to, intern_message(shared, msg)))
        .collect();
    let next = intern_client(inner, shared, run.client);
    InternedStep {
        next,
        sends,
        // A step the explorer cannot follow ends the search: it is the finding to report.
        problem: match run.misstep {
            Some(detail) => Some(Finding {
                name: NODE_ERROR,
                detail,
                stuck: false,
            }),
            None => run.problem.map(|detail| Finding {
                name: Invariant::ClockCondition.name(),
                detail,
                stuck: false,
            }),
        },
    }
}
