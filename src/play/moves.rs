//! The moves of a session and how the page lists them.

use serde::{Deserialize, Serialize};

use super::world::InFlight;
use crate::protocol::{ClientId, Command};
use crate::render::text::describe_message;
use crate::scenario::Keep;

/// One decision of the student: the network's (deliver, lose, duplicate), a user's (issue a
/// command), time's (a critical section is over), or a fault's (crash, restart).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Move {
    /// The client is given its next command of the scenario's workload.
    Issue { client: ClientId },
    /// The oldest copy in flight of the message arrives.
    Deliver { msg_id: u64 },
    /// The client's critical section is over: it leaves.
    Leave { client: ClientId },
    /// The network loses the message (decided at its send, as the simulator decides it).
    Drop { msg_id: u64 },
    /// The network delivers the message twice (decided at its send).
    Duplicate { msg_id: u64 },
    /// The client crashes, as the scenario's next crash rule for it says.
    Crash { client: ClientId },
    /// The crashed client comes back.
    Restart { client: ClientId },
}

impl Move {
    /// Whether the move is a fault the scenario allows rather than an ordinary step.
    pub fn is_fault(self) -> bool {
        matches!(
            self,
            Move::Drop { .. } | Move::Duplicate { .. } | Move::Crash { .. } | Move::Restart { .. }
        )
    }
}

/// A move possible now, in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Choice {
    #[serde(rename = "move")]
    pub mv: Move,
    /// What it does: `deliver m0: c1 → c2 REQUEST(ts 1)`.
    pub text: String,
    pub fault: bool,
    /// On a FIFO link, the earlier message this one waits behind.
    pub blocked: Option<u64>,
}

impl Choice {
    pub(super) fn deliver(copy: &InFlight, blocked: Option<u64>, down: bool) -> Self {
        let mut text = format!(
            "deliver m{}: c{} → c{} {}",
            copy.msg_id,
            copy.from,
            copy.to,
            describe_message(&copy.msg)
        );
        if let Some(earlier) = blocked {
            text.push_str(&format!(" (FIFO link: waits behind m{earlier})"));
        } else if down {
            text.push_str(&format!(" (c{} is down: it is lost)", copy.to));
        }
        Choice {
            mv: Move::Deliver {
                msg_id: copy.msg_id,
            },
            text,
            fault: false,
            blocked,
        }
    }

    pub(super) fn fault(mv: Move, copy: &InFlight) -> Self {
        let what = match mv {
            Move::Drop { .. } => "lose",
            _ => "duplicate",
        };
        Choice {
            mv,
            text: format!(
                "{what} m{}: c{} → c{} {}",
                copy.msg_id,
                copy.from,
                copy.to,
                describe_message(&copy.msg)
            ),
            fault: true,
            blocked: None,
        }
    }

    pub(super) fn issue(client: ClientId, command: Command) -> Self {
        let text = match command {
            Command::Transfer { to, amount } => format!("c{client}: pay {amount} to c{to}"),
            Command::ReadBalance { of } => format!("c{client}: read c{of}'s balance"),
        };
        Choice {
            mv: Move::Issue { client },
            text,
            fault: false,
            blocked: None,
        }
    }

    pub(super) fn leave(client: ClientId) -> Self {
        Choice {
            mv: Move::Leave { client },
            text: format!("c{client}: its critical section is over, it leaves"),
            fault: false,
            blocked: None,
        }
    }

    pub(super) fn crash(client: ClientId, keep: Keep) -> Self {
        Choice {
            mv: Move::Crash { client },
            text: format!("crash c{client} (it will keep {})", keep_words(keep)),
            fault: true,
            blocked: None,
        }
    }

    pub(super) fn restart(client: ClientId, keep: Option<Keep>) -> Self {
        let keep = keep.map_or(String::new(), |keep| {
            format!(", keeping {}", keep_words(keep))
        });
        Choice {
            mv: Move::Restart { client },
            text: format!("restart c{client}{keep}"),
            fault: true,
            blocked: None,
        }
    }
}

fn keep_words(keep: Keep) -> &'static str {
    match keep {
        Keep::Ledger => "its ledger",
        Keep::Nothing => "nothing",
    }
}
