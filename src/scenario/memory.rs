//! How much memory a scenario's run needs: an estimate made when the file is read, which
//! refuses a run that would not fit in `limits.max_memory_mib` before it starts, and the
//! budget of events the run may hold queued, which stops a run the estimate misjudged before
//! it exhausts the memory.
//!
//! The figures are measured on the simulator (`/usr/bin/time -v`, peak resident memory) and
//! rounded up: what grows with the square of the client count (every client's timestamps and
//! balance table), what each message in flight costs (its place in the event queue, its
//! link's FIFO bookkeeping, the checker's record of it), and what each ledger block kept
//! costs.

use std::fmt;

use super::{Keep, Scenario};

/// `limits.max_memory_mib` when the file does not say.
pub const DEFAULT_MAX_MEMORY_MIB: u64 = 4096;
/// The largest `limits.max_memory_mib`: 1 TiB.
pub const MAX_MEMORY_MIB: u64 = 1 << 20;

/// Per pair of clients: each client's two timestamps of each peer and its balance of each
/// client, with the checker's share.
const PAIR_BYTES: u64 = 26;
/// Per event waiting in the queue (a message in flight, a timer, a command).
const QUEUED_EVENT_BYTES: u64 = 96;
/// Per ledger block kept: the block, shared by every ledger that holds it and the checker.
const BLOCK_BYTES: u64 = 128;
/// Per ledger block kept, per client: the ledger's pointer to it.
const BLOCK_SLOT_BYTES: u64 = 8;
/// The program itself, its buffers and the scenario's lists, rounded up.
const BASE_BYTES: u64 = 16 << 20;
/// Per explicit transfer or balance read held by the scenario.
const WORK_ITEM_BYTES: u64 = 32;

/// What a run of a scenario is expected to need at its peak, in bytes, by part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// What does not change during the run: the clients' tables, the scenario's lists.
    pub fixed_bytes: u64,
    /// The most payers with a transfer under way at once.
    pub concurrent_payers: u64,
    /// The messages in flight when those payers all ask for the mutex together.
    pub messages_in_flight: u64,
    /// Their memory.
    pub messages_bytes: u64,
    /// The ledger blocks kept to the end (when a crash keeps the ledgers from being trimmed).
    pub blocks_bytes: u64,
}

impl MemoryEstimate {
    /// The whole estimate.
    pub fn total_bytes(&self) -> u64 {
        self.fixed_bytes
            .saturating_add(self.messages_bytes)
            .saturating_add(self.blocks_bytes)
    }
}

/// A run stopped because the events it held queued would have outgrown its memory budget.
#[derive(Debug)]
pub struct MemoryBudgetExceeded {
    /// The scenario's source, for the message.
    pub source: String,
    /// The events queued when it stopped.
    pub queued_events: usize,
    /// The simulated time, in microseconds.
    pub at_us: u64,
    /// The budget in force.
    pub max_memory_mib: u64,
}

impl fmt::Display for MemoryBudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: limits.max_memory_mib: the run stopped at {}us with {} events queued (messages \
             in flight, timers and commands), more than its memory budget of {} MiB holds; \
             raise limits.max_memory_mib to let it go on",
            self.source, self.at_us, self.queued_events, self.max_memory_mib
        )
    }
}

impl std::error::Error for MemoryBudgetExceeded {}

impl MemoryBudgetExceeded {
    /// The budget error inside an I/O error (as a run's sinks and the simulator return
    /// errors), if that is what it is.
    pub fn within(error: &std::io::Error) -> Option<&MemoryBudgetExceeded> {
        error.get_ref()?.downcast_ref()
    }
}

impl Scenario {
    /// What a run of this scenario is expected to need at its peak.
    pub fn memory_estimate(&self) -> MemoryEstimate {
        let clients = u64::from(self.clients);
        let work_items = (self.transfers.len() + self.balance_reads.len()) as u64;
        let fixed_bytes = BASE_BYTES
            .saturating_add(clients * clients * PAIR_BYTES)
            .saturating_add(work_items.saturating_mul(WORK_ITEM_BYTES));
        let concurrent_payers = self.concurrent_payers();
        let copies = if self.may_duplicate() { 2 } else { 1 };
        let messages_in_flight = concurrent_payers
            .saturating_mul(clients.saturating_sub(1))
            .saturating_mul(copies);
        MemoryEstimate {
            fixed_bytes,
            concurrent_payers,
            messages_in_flight,
            messages_bytes: messages_in_flight.saturating_mul(QUEUED_EVENT_BYTES),
            blocks_bytes: self
                .blocks_kept()
                .saturating_mul(BLOCK_BYTES + clients * BLOCK_SLOT_BYTES),
        }
    }

    /// The budget in bytes.
    pub fn memory_budget_bytes(&self) -> u64 {
        self.limits.max_memory_mib.saturating_mul(1 << 20)
    }

    /// The most events the run may hold queued: what the budget leaves after the memory that
    /// does not depend on the queue, at `QUEUED_EVENT_BYTES` each. A scenario whose estimate
    /// fits its budget may hold at least the messages in flight the estimate counts.
    pub fn max_queued_events(&self) -> usize {
        let estimate = self.memory_estimate();
        let left = self
            .memory_budget_bytes()
            .saturating_sub(estimate.fixed_bytes)
            .saturating_sub(estimate.blocks_bytes);
        usize::try_from(left / QUEUED_EVENT_BYTES).unwrap_or(usize::MAX)
    }

    /// The most clients with a transfer under way at once: a client asks for the mutex for
    /// one transfer at a time (the next waits in its local queue), so at most every payer,
    /// and at most one per transfer.
    fn concurrent_payers(&self) -> u64 {
        let clients = self.clients as usize;
        let mut pays = vec![false; clients];
        for transfer in &self.transfers {
            if let Some(slot) = pays.get_mut(transfer.from.index()) {
                *slot = true;
            }
        }
        let mut transfers = self.transfers.len() as u64;
        if let Some(generated) = self.generated.as_ref().filter(|g| g.count > 0) {
            transfers = transfers.saturating_add(generated.count);
            match &generated.payers {
                Some(payers) => {
                    for payer in payers {
                        if let Some(slot) = pays.get_mut(payer.index()) {
                            *slot = true;
                        }
                    }
                }
                None => pays.fill(true),
            }
        }
        let payers = pays.iter().filter(|&&pays| pays).count() as u64;
        payers.min(transfers)
    }

    /// Whether the network may deliver a message twice.
    fn may_duplicate(&self) -> bool {
        !self.network.duplicate_ratio.is_zero()
            || self
                .network
                .links
                .iter()
                .any(|link| link.duplicate_ratio.is_some_and(|ratio| !ratio.is_zero()))
            || self
                .schedule
                .messages
                .iter()
                .any(|pin| pin.duplicate_delay_us.is_some())
    }

    /// The ledger blocks a run may keep to its end. Without crashes every ledger is trimmed to
    /// the blocks still in reach as the run goes; a crashed client's short ledger, or one
    /// started over, stops that, and then every block stays: at most one per transfer, and at
    /// most one per `clients` events, since a commit follows the replies of every peer.
    fn blocks_kept(&self) -> u64 {
        let trimmed = self.faults.crashes.is_empty()
            || self
                .faults
                .crashes
                .iter()
                .all(|crash| crash.keep == Keep::Ledger && crash.restart_us.is_some());
        if trimmed {
            return 0;
        }
        let by_events = self.limits.max_events / u64::from(self.clients.max(1));
        self.transfer_count().min(by_events)
    }
}

/// `bytes` in MiB or GiB, one decimal, for messages.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    if bytes >= GIB {
        format!("{}.{} GiB", bytes / GIB, bytes % GIB * 10 / GIB)
    } else if bytes < MIB {
        "less than 1 MiB".to_string()
    } else {
        format!("{} MiB", bytes.div_ceil(MIB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse_scenario;

    fn scenario(text: &str) -> Scenario {
        parse_scenario(text, "m.json").unwrap()
    }

    #[test]
    fn idle_clients_cost_the_square_of_their_count() {
        let idle = scenario(r#"{"name": "idle", "clients": 4096}"#).memory_estimate();
        assert_eq!(idle.messages_in_flight, 0);
        assert_eq!(idle.fixed_bytes, BASE_BYTES + 4096 * 4096 * PAIR_BYTES);
    }

    #[test]
    fn every_payer_at_once_sends_to_every_peer() {
        let text = r#"{"name": "pay", "clients": 100, "workload": {"generated": {"count": 1000,
            "gap": {"kind": "constant", "us": 0}, "amount_min": 1, "amount_max": 1,
            "payers": [1, 2, 3]}}}"#;
        let estimate = scenario(text).memory_estimate();
        assert_eq!(estimate.concurrent_payers, 3);
        assert_eq!(estimate.messages_in_flight, 3 * 99);
        let one = r#"{"name": "one", "clients": 100, "workload": {"transfers": [
            {"at_us": 0, "from": 1, "to": 2, "amount": 1},
            {"at_us": 0, "from": 1, "to": 3, "amount": 1}]}}"#;
        assert_eq!(scenario(one).memory_estimate().concurrent_payers, 1);
    }

    #[test]
    fn the_queue_budget_is_what_the_memory_budget_leaves() {
        let mut small =
            scenario(r#"{"name": "s", "clients": 2, "limits": {"max_memory_mib": 17}}"#);
        let fixed = small.memory_estimate().fixed_bytes;
        let left = (17 << 20) - fixed;
        assert_eq!(small.max_queued_events() as u64, left / QUEUED_EVENT_BYTES);
        small.limits.max_memory_mib = 1;
        assert_eq!(small.max_queued_events(), 0);
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(3 << 20), "3 MiB");
        assert_eq!(human_bytes(576), "less than 1 MiB");
        assert_eq!(human_bytes((5 << 30) + (1 << 29)), "5.5 GiB");
    }
}
