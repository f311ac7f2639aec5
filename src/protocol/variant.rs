//! Protocol variants and deliberate bugs (mutations). Plain data: the client consults them at
//! the few points where the variants differ.

/// Which mutual exclusion protocol the clients run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Lamport 1978 with the paper's entry rule 5(ii) (docs/spec.md section 1).
    #[default]
    Lamport,
    /// Lamport's queue, but enter once N-1 REPLY messages have been counted, as most
    /// classroom versions do. A duplicated REPLY is counted twice.
    LamportReplyCount,
    /// Ricart and Agrawala 1981: replies are deferred while the own request has priority; no
    /// RELEASE. The committed block is broadcast as an UPDATE just before the deferred
    /// replies, so FIFO links deliver it before the next holder's permission.
    RicartAgrawala,
    /// The original three-terminal program: after the commit, send the block as UPDATE, wait
    /// for UPDATED from every peer, then RELEASE (without the block).
    UpdateAck,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::Lamport,
        Variant::LamportReplyCount,
        Variant::RicartAgrawala,
        Variant::UpdateAck,
    ];

    /// The name used in scenario files and traces.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Lamport => "lamport",
            Variant::LamportReplyCount => "lamport-reply-count",
            Variant::RicartAgrawala => "ricart-agrawala",
            Variant::UpdateAck => "update-ack",
        }
    }

    /// Does entry depend on counting REPLY messages (rather than on rule 5(ii))?
    pub fn counts_replies(self) -> bool {
        matches!(self, Variant::LamportReplyCount | Variant::RicartAgrawala)
    }

    /// Does the client keep Lamport's request queue?
    pub fn uses_queue(self) -> bool {
        self != Variant::RicartAgrawala
    }
}

/// A deliberate bug, off unless a scenario lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mutation {
    /// Equal timestamps are not broken by client id: a request counts as the head when no
    /// request has a strictly smaller timestamp.
    TiebreakTimestampOnly,
    /// On receive, clock += 1 instead of max(clock, ts) + 1.
    ReceiveClockNoMax,
    /// A RELEASE removes the head of the queue instead of the sender's request.
    ReleasePopsHead,
    /// The block hash leaves out `prev`, so the chain is not really chained.
    UnchainedHash,
}

impl Mutation {
    pub const ALL: [Mutation; 4] = [
        Mutation::TiebreakTimestampOnly,
        Mutation::ReceiveClockNoMax,
        Mutation::ReleasePopsHead,
        Mutation::UnchainedHash,
    ];

    /// The name used in scenario files and traces.
    pub fn name(self) -> &'static str {
        match self {
            Mutation::TiebreakTimestampOnly => "tiebreak-timestamp-only",
            Mutation::ReceiveClockNoMax => "receive-clock-no-max",
            Mutation::ReleasePopsHead => "release-pops-head",
            Mutation::UnchainedHash => "unchained-hash",
        }
    }
}

/// The set of mutations in force.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Mutations {
    bits: u8,
}

impl Mutations {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn of(list: &[Mutation]) -> Self {
        list.iter()
            .fold(Self::none(), |set, &mutation| set.with(mutation))
    }

    pub fn with(self, mutation: Mutation) -> Self {
        Mutations {
            bits: self.bits | (1 << mutation as u8),
        }
    }

    pub fn contains(self, mutation: Mutation) -> bool {
        self.bits & (1 << mutation as u8) != 0
    }

    /// The mutations in their fixed order.
    pub fn list(self) -> Vec<Mutation> {
        Mutation::ALL
            .into_iter()
            .filter(|&mutation| self.contains(mutation))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_holds_exactly_what_was_put_in() {
        let set = Mutations::of(&[Mutation::UnchainedHash, Mutation::ReceiveClockNoMax]);
        assert!(set.contains(Mutation::UnchainedHash));
        assert!(set.contains(Mutation::ReceiveClockNoMax));
        assert!(!set.contains(Mutation::ReleasePopsHead));
        assert_eq!(
            set.list(),
            vec![Mutation::ReceiveClockNoMax, Mutation::UnchainedHash]
        );
        assert_eq!(Mutations::none().list(), vec![]);
    }
}
