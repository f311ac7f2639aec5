//! What a driver feeds its events to: the online checker, or nothing.

use crate::check::{BlockStep, Checker, Violation};
use crate::protocol::{ClientId, Message, Timestamp};
use crate::trace::Event;

/// The checks a driver runs on its events as they happen. [`Checker`] checks every invariant;
/// [`Unchecked`] checks nothing, for a live node, which sees the events of one client of many.
pub trait Watch {
    /// Feeds one event; pushes what it reveals onto `found`.
    fn observe(&mut self, event: &Event, found: &mut Vec<Violation>);

    /// Whether the checks need `send` and `deliver` events built (see
    /// [`Checker::watches_messages`]).
    fn watches_messages(&self) -> bool;

    /// A `send` event, not built; only while [`Self::watches_messages`] is false.
    fn observe_send(
        &mut self,
        node: ClientId,
        clock: Timestamp,
        to: ClientId,
        msg_id: u64,
        msg: &Message,
        found: &mut Vec<Violation>,
    );

    /// A `deliver` event, not built; only while [`Self::watches_messages`] is false.
    fn observe_deliver(
        &mut self,
        node: ClientId,
        clock: Timestamp,
        from: ClientId,
        msg_id: u64,
        msg: &Message,
        found: &mut Vec<Violation>,
    );

    /// A `commit` or `apply` event, not built; only while [`Self::watches_messages`] is false.
    fn observe_block(&mut self, step: BlockStep<'_>, found: &mut Vec<Violation>);

    /// A client's balance table, by its sum, after a block changed it.
    fn observe_table_total(&mut self, node: ClientId, total: u128) -> Option<Violation>;
}

impl Watch for Checker {
    #[inline(always)]
    fn observe(&mut self, event: &Event, found: &mut Vec<Violation>) {
        Checker::observe(self, event, found);
    }

    #[inline(always)]
    fn watches_messages(&self) -> bool {
        Checker::watches_messages(self)
    }

    #[inline(always)]
    fn observe_send(
        &mut self,
        node: ClientId,
        clock: Timestamp,
        to: ClientId,
        msg_id: u64,
        msg: &Message,
        found: &mut Vec<Violation>,
    ) {
        Checker::observe_send(self, node, clock, to, msg_id, msg, found);
    }

    #[inline(always)]
    fn observe_deliver(
        &mut self,
        node: ClientId,
        clock: Timestamp,
        from: ClientId,
        msg_id: u64,
        msg: &Message,
        found: &mut Vec<Violation>,
    ) {
        Checker::observe_deliver(self, node, clock, from, msg_id, msg, found);
    }

    #[inline(always)]
    fn observe_block(&mut self, step: BlockStep<'_>, found: &mut Vec<Violation>) {
        Checker::observe_block(self, step, found);
    }

    #[inline(always)]
    fn observe_table_total(&mut self, node: ClientId, total: u128) -> Option<Violation> {
        Checker::observe_table_total(self, node, total)
    }
}

/// No checks: the events are only numbered, counted and handed to the host.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unchecked;

impl Watch for Unchecked {
    fn observe(&mut self, _event: &Event, _found: &mut Vec<Violation>) {}

    /// Events are always built: there is nothing to check them without building them.
    fn watches_messages(&self) -> bool {
        true
    }

    fn observe_send(
        &mut self,
        _node: ClientId,
        _clock: Timestamp,
        _to: ClientId,
        _msg_id: u64,
        _msg: &Message,
        _found: &mut Vec<Violation>,
    ) {
    }

    fn observe_deliver(
        &mut self,
        _node: ClientId,
        _clock: Timestamp,
        _from: ClientId,
        _msg_id: u64,
        _msg: &Message,
        _found: &mut Vec<Violation>,
    ) {
    }

    fn observe_block(&mut self, _step: BlockStep<'_>, _found: &mut Vec<Violation>) {}

    fn observe_table_total(&mut self, _node: ClientId, _total: u128) -> Option<Violation> {
        None
    }
}
