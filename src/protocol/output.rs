//! What a client's step produces: its outputs, gathered in an [`Outbox`] that the driver
//! reads and empties after every input, and the timers it asks for.

use std::sync::Arc;

use super::{Amount, Block, BlockRejection, ClientId, Message, Timestamp};

/// A timer the client asks its driver to arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The critical section has lasted `cs_us`: release the mutex.
    LeaveCriticalSection,
}

/// One effect of handling an input, stamped with the client's clock after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub clock: Timestamp,
    pub kind: OutputKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// A message from `from` was received (always the first output of `handle_message`).
    Received { from: ClientId },
    /// Send `msg` to `to`.
    Send { to: ClientId, msg: Message },
    /// A transfer command arrived and waits its turn.
    TransferQueued { to: ClientId, amount: Amount },
    /// The client asked for the mutex with request timestamp `ts`.
    Requested { ts: Timestamp },
    /// The client entered the critical section for its request `ts`.
    Entered { ts: Timestamp },
    /// The block at `index` of the own ledger was committed and applied to the own table. The
    /// output names the block by its index: the ledger holds it right after the step
    /// ([`super::Client::output_block`]).
    Committed { index: u64 },
    /// The transfer was aborted inside the critical section for lack of funds.
    Aborted {
        ts: Timestamp,
        amount: Amount,
        balance: Amount,
    },
    /// The client left the critical section of request `ts`.
    Exited { ts: Timestamp },
    /// A block that came with a RELEASE was appended at `index` of the own ledger (named, not
    /// held, as for [`OutputKind::Committed`]).
    Applied { index: u64 },
    /// A block that came with a RELEASE failed verification and was not appended.
    Rejected {
        from: ClientId,
        block: Arc<Block>,
        /// Boxed: it is rare and large (two hashes), and every output is as big as the largest.
        reason: Box<BlockRejection>,
    },
    /// A balance read and the value it saw.
    BalanceRead { of: ClientId, value: Amount },
    /// Arm a timer that fires after `after_us` microseconds.
    SetTimer { after_us: u64, timer: Timer },
}

/// Where a client puts its outputs; the driver reads and empties it after every input. Reused between
/// inputs so the hot path does not allocate.
#[derive(Debug, Default)]
pub struct Outbox {
    outputs: Vec<Output>,
}

impl Outbox {
    pub fn new() -> Self {
        Self::default()
    }

    /// With room to spare (always, once the outbox has grown to its working size), the
    /// output is written straight into the vector. A plain `push` builds it on the stack
    /// first, to keep it across the call that may grow the vector, and copies it over whole,
    /// padding and all: the copy reads back stores of other widths and stalls the CPU.
    #[inline]
    pub fn push(&mut self, clock: Timestamp, kind: OutputKind) {
        if self.outputs.len() < self.outputs.capacity() {
            self.outputs.push(Output { clock, kind });
        } else {
            self.push_growing(Output { clock, kind });
        }
    }

    #[cold]
    #[inline(never)]
    fn push_growing(&mut self, output: Output) {
        self.outputs.push(output);
    }

    pub fn drain(&mut self) -> std::vec::Drain<'_, Output> {
        self.outputs.drain(..)
    }

    /// The outputs, for the driver, which reads them in place, may move a send's message out
    /// (leaving a stand-in), and then [`Self::clear`]s them.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [Output] {
        &mut self.outputs
    }

    /// Throws the outputs away.
    pub(crate) fn clear(&mut self) {
        self.outputs.clear();
    }

    pub fn as_slice(&self) -> &[Output] {
        &self.outputs
    }

    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }
}
