//! A live program node's restore of its data directory. The node hands the blocks to the
//! program in its `init` line, all at once, and traces each as an `apply` event at the clock
//! the program reports after `init`. So the replay gathers the restored blocks (each must
//! extend the ones before it) and, at the node's next event or at the end of the trace,
//! starts the program anew with them, and the clock it reports must be the one the `apply`
//! events carry.

use std::sync::Arc;

use crate::protocol::{Amount, Block, ClientId, Ledger, Timestamp};
use crate::trace::Event;

use super::expect::describe;

/// The blocks a live program node restores, as the trace shows them so far.
pub(super) struct Restoring {
    ledger: Ledger,
    /// The clock every `apply` event of the restore carries.
    clock: Timestamp,
    /// The first `apply` event of the restore, as a rejection names it.
    first_seq: u64,
    first_described: String,
}

impl Restoring {
    /// The blocks restored, in order.
    pub(super) fn blocks(&self) -> &[Arc<Block>] {
        self.ledger.blocks()
    }

    /// The node started with [`Self::blocks`] reports `clock` after its `init`: it must be the
    /// clock of the restore's `apply` events.
    pub(super) fn check_clock(&self, id: ClientId, clock: Timestamp) -> Result<(), String> {
        if clock == self.clock {
            return Ok(());
        }
        Err(format!(
            "event {} ({}) does not follow from the events before it: client {id}'s program, \
             started with the {} restored from the data directory in its init line, reports \
             clock {clock}, and a live node traces the blocks it restores at that clock",
            self.first_seq,
            self.first_described,
            crate::wording::count(self.ledger.len(), "block")
        ))
    }
}

/// Adds the block of `event` (an `apply` at client `id`, which has done nothing else since it
/// started, holding `held` blocks) to the restore under way at `restoring`, or begins one.
pub(super) fn restore_block(
    restoring: &mut Option<Restoring>,
    id: ClientId,
    event: &Event,
    block: &Arc<Block>,
    initial_balances: &Arc<[Amount]>,
    held: u64,
) -> Result<(), String> {
    if restoring.is_none() && held > 0 {
        return Err(format!(
            "event {} ({}) cannot happen: a live node restores its data directory when it starts \
             from nothing, and client {id} started with {} already",
            event.seq,
            describe(id, event.clock, &event.kind),
            crate::wording::count(held, "block")
        ));
    }
    let restore = restoring.get_or_insert_with(|| Restoring {
        ledger: Ledger::new(Arc::clone(initial_balances)),
        clock: event.clock,
        first_seq: event.seq,
        first_described: describe(id, event.clock, &event.kind),
    });
    let what = || describe(id, event.clock, &event.kind);
    if event.clock != restore.clock {
        return Err(format!(
            "event {} ({}) does not follow from the events before it: a live node traces every \
             block it restores at the clock its program reports after init, and client {id}'s \
             restore began at clock {} (event {})",
            event.seq,
            what(),
            restore.clock,
            restore.first_seq
        ));
    }
    restore.ledger.append(Arc::clone(block)).map_err(|reason| {
        format!(
            "event {} ({}) cannot happen: the blocks a live node restores from its data \
             directory are its ledger, and client {id}'s refuses this one: {reason}",
            event.seq,
            what()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::GENESIS_PREV;
    use crate::trace::EventKind;

    fn apply(seq: u64, clock: Timestamp, block: &Arc<Block>) -> Event {
        Event {
            seq,
            t_us: seq,
            node: Some(ClientId::new(2)),
            clock,
            kind: EventKind::Apply {
                block: Arc::clone(block),
            },
        }
    }

    #[test]
    fn restored_blocks_must_form_a_ledger_at_one_clock() {
        let initial: Arc<[Amount]> = vec![10, 10].into();
        let (one, two) = (ClientId::new(1), ClientId::new(2));
        let first = Arc::new(Block::new(0, GENESIS_PREV, 1, one, two, 3));
        let second = Arc::new(Block::new(1, first.hash_value(), 2, two, one, 4));
        let mut restoring = None;
        let mut restore =
            |event: &Event, block| restore_block(&mut restoring, two, event, block, &initial, 0);
        let error =
            restore_block(&mut None, two, &apply(0, 0, &first), &first, &initial, 1).unwrap_err();
        assert!(error.contains("started with 1 block already"), "{error}");
        restore(&apply(0, 0, &first), &first).unwrap();
        let error = restore(&apply(1, 5, &second), &second).unwrap_err();
        assert!(
            error.contains("restore began at clock 0 (event 0)"),
            "{error}"
        );
        let error = restore(&apply(1, 0, &first), &first).unwrap_err();
        assert!(error.contains("client 2's refuses this one"), "{error}");
        restore(&apply(1, 0, &second), &second).unwrap();
        let restored = restoring.unwrap();
        assert_eq!(restored.blocks().len(), 2);
        restored.check_clock(two, 0).unwrap();
        let error = restored.check_clock(two, 4).unwrap_err();
        assert!(
            error.starts_with("event 0 (client 2's apply of block 0")
                && error.contains(
                    "with the 2 blocks restored from the data directory in its \
                                   init line, reports clock 4"
                ),
            "{error}"
        );
    }
}
