//! The workload of a run: explicit transfers and balance reads at given times, merged in time
//! order with a generated stream of transfers drawn from its own random stream.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::network::sample_delay;
use super::rng::uniform_inclusive;
use crate::protocol::{ClientId, Command};
use crate::scenario::{BalanceReadSpec, GeneratedSpec, Scenario, TransferSpec};

/// One command for one client at one time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkItem {
    pub at_us: u64,
    pub client: ClientId,
    pub command: Command,
}

/// Yields the scenario's commands in time order, lazily, so a run of a million generated
/// transfers never holds them all in memory. Among equal times: explicit transfers, then
/// balance reads, then generated transfers.
pub struct Workload<'s> {
    /// The scenario's lists, lent: a run of ten million explicit transfers does not copy them.
    transfers: &'s [TransferSpec],
    next_transfer: usize,
    reads: &'s [BalanceReadSpec],
    next_read: usize,
    generator: Option<Generator>,
}

impl<'s> Workload<'s> {
    pub fn new(scenario: &'s Scenario, rng: ChaCha8Rng) -> Self {
        Workload {
            transfers: &scenario.transfers,
            next_transfer: 0,
            reads: &scenario.balance_reads,
            next_read: 0,
            generator: scenario
                .generated
                .as_ref()
                .map(|spec| Generator::new(spec, scenario.clients, rng)),
        }
    }

    /// The next command, or `None` when the workload is exhausted.
    pub fn next_item(&mut self) -> Option<WorkItem> {
        let transfer_at = self.transfers.get(self.next_transfer).map(|t| t.at_us);
        let read_at = self.reads.get(self.next_read).map(|r| r.at_us);
        let generated_at = self.generator.as_ref().and_then(Generator::next_at_us);
        let earliest = [transfer_at, read_at, generated_at]
            .into_iter()
            .flatten()
            .min()?;
        if transfer_at == Some(earliest) {
            let spec = self.transfers[self.next_transfer];
            self.next_transfer += 1;
            let command = Command::Transfer {
                to: spec.to,
                amount: spec.amount,
            };
            return Some(WorkItem {
                at_us: spec.at_us,
                client: spec.from,
                command,
            });
        }
        if read_at == Some(earliest) {
            let spec = self.reads[self.next_read];
            self.next_read += 1;
            let command = Command::ReadBalance { of: spec.of };
            return Some(WorkItem {
                at_us: spec.at_us,
                client: spec.client,
                command,
            });
        }
        self.generator.as_mut()?.next_item()
    }
}

/// Draws transfers: payer uniform among the payers, payee uniform among the payees other than
/// the payer, amount uniform in range, gaps from the gap distribution.
struct Generator {
    payers: Vec<ClientId>,
    /// Index as `payers`: the payees other than that payer, in the order of the payees list
    /// (worked out once, not filtered twice per transfer).
    payees_of: Vec<Vec<ClientId>>,
    amount_min: u64,
    amount_max: u64,
    gap: crate::scenario::LatencySpec,
    remaining: u64,
    next_at_us: u64,
    rng: ChaCha8Rng,
}

impl Generator {
    fn new(spec: &GeneratedSpec, clients: u32, rng: ChaCha8Rng) -> Self {
        let everyone: Vec<ClientId> = ClientId::all(clients).collect();
        let payers = spec.payers.clone().unwrap_or_else(|| everyone.clone());
        let payees = spec.payees.clone().unwrap_or(everyone);
        let payees_of = payers
            .iter()
            .map(|&payer| {
                payees
                    .iter()
                    .copied()
                    .filter(|&payee| payee != payer)
                    .collect()
            })
            .collect();
        Generator {
            payers,
            payees_of,
            amount_min: spec.amount_min,
            amount_max: spec.amount_max,
            gap: spec.gap,
            remaining: spec.count,
            next_at_us: spec.start_us,
            rng,
        }
    }

    fn next_at_us(&self) -> Option<u64> {
        (self.remaining > 0).then_some(self.next_at_us)
    }

    fn next_item(&mut self) -> Option<WorkItem> {
        let at_us = self.next_at_us()?;
        self.remaining -= 1;
        let payer_slot = self.rng.random_range(0..self.payers.len());
        let payer = self.payers[payer_slot];
        let others = &self.payees_of[payer_slot];
        // Validation guarantees every payer has a payee other than itself.
        let pick = self.rng.random_range(0..others.len().max(1));
        let payee = *others.get(pick)?;
        let amount = uniform_inclusive(&mut self.rng, self.amount_min, self.amount_max);
        self.next_at_us = at_us.saturating_add(sample_delay(&self.gap, &mut self.rng));
        Some(WorkItem {
            at_us,
            client: payer,
            command: Command::Transfer { to: payee, amount },
        })
    }
}
