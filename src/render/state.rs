//! Every client's state rebuilt from the events of a trace, and the reasons behind each
//! decision in words.
//!
//! A trace records what happened, not what each client held. The renderers need both: the
//! step-through page shows each client's clock, request queue, largest timestamp seen per
//! peer, balance table and ledger head at every step, and the text timeline says why a client
//! entered, what it waits for, why it aborted. [`Replay`] applies the protocol's bookkeeping
//! rules (docs/spec.md section 1, `docs/protocol.md`) to the events one at a time, for the
//! variant and mutations the header names. It never decides anything: entering, committing and aborting
//! are read off the events. A test checks that, at the end of every scenario, the rebuilt
//! state equals the simulator's clients field by field.

use std::collections::{BTreeSet, VecDeque};

use crate::protocol::ledger::short_hex;
use crate::protocol::{
    Amount, Block, ClientId, GENESIS_PREV, Hash, Message, Mutation, Mutations, RequestId,
    Timestamp, Variant,
};
use crate::trace::{Direction, Event, EventKind, Kept};
use crate::wording::count;

use super::{Rules, TraceInfo};

/// Where a client stands with respect to the mutex.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Neither waiting for the mutex nor inside.
    Idle,
    /// Asked for the mutex with request `ts`, not yet inside.
    Waiting {
        /// The request's timestamp.
        ts: Timestamp,
    },
    /// Inside the critical section of request `ts`.
    Inside {
        /// The request's timestamp.
        ts: Timestamp,
    },
}

/// What became of the transfer a client is making inside the critical section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It committed the block with this index.
    Committed {
        /// The block's index in the ledger.
        index: u64,
    },
    /// It aborted: its own table gave it only `balance`.
    Aborted {
        /// The payer's balance in its own table.
        balance: Amount,
    },
}

/// A transfer accepted by a client: to whom and how much.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingTransfer {
    /// The payee.
    pub to: ClientId,
    /// How much.
    pub amount: Amount,
}

/// One client's state as the events show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientState {
    /// Which client.
    pub id: ClientId,
    /// False between a crash and the restart.
    pub up: bool,
    /// The Lamport clock after the client's latest event.
    pub clock: Timestamp,
    /// The request queue, ordered by `(timestamp, client id)`; empty for Ricart-Agrawala.
    pub queue: BTreeSet<RequestId>,
    /// Index `peer - 1`: the largest timestamp received from that peer (0: nothing yet).
    pub largest_seen: Vec<Timestamp>,
    /// The own balance table, index `id - 1`.
    pub balances: Vec<Amount>,
    /// How many blocks its ledger holds.
    pub ledger_len: u64,
    /// The hash of its latest block (all zeros when there is none).
    pub head: Hash,
    /// The blocks below this index were in its ledger before a restart that kept nothing:
    /// their RELEASEs came and went, so no peer sends them again.
    pub lost_below: u64,
    /// Where it stands with respect to the mutex.
    pub phase: Phase,
    /// The transfer being requested or made.
    pub current: Option<PendingTransfer>,
    /// Inside the critical section: whether the current transfer committed or aborted yet.
    pub outcome: Option<Outcome>,
    /// Transfers accepted but not yet requested.
    pub pending: VecDeque<PendingTransfer>,
    /// Index `peer - 1`: the latest request of that peer released so far.
    served: Vec<Timestamp>,
    /// Counting variants: REPLY messages counted for the current request, and from whom.
    replies: u32,
    replied: Vec<bool>,
    /// `update-ack`: UPDATED messages counted inside the critical section, and from whom.
    acks: u32,
    acked: Vec<bool>,
    /// Whether the current critical section committed a block (`update-ack` waits for acks).
    committed_inside: bool,
    /// `ricart-agrawala`: peers whose REQUEST waits for the own exit.
    pub deferred: Vec<ClientId>,
}

impl ClientState {
    fn new(id: ClientId, initial_balances: &[Amount]) -> Self {
        let clients = initial_balances.len();
        ClientState {
            id,
            up: true,
            clock: 0,
            queue: BTreeSet::new(),
            largest_seen: vec![0; clients],
            balances: initial_balances.to_vec(),
            ledger_len: 0,
            head: GENESIS_PREV,
            lost_below: 0,
            phase: Phase::Idle,
            current: None,
            outcome: None,
            pending: VecDeque::new(),
            served: vec![0; clients],
            replies: 0,
            replied: vec![false; clients],
            acks: 0,
            acked: vec![false; clients],
            committed_inside: false,
            deferred: Vec::new(),
        }
    }

    /// The peers of this client, in id order.
    pub fn peers(&self) -> impl Iterator<Item = ClientId> + '_ {
        (0..self.balances.len())
            .map(ClientId::from_index)
            .filter(move |&peer| peer != self.id)
    }

    /// The largest timestamp received from `peer`.
    pub fn seen(&self, peer: ClientId) -> Timestamp {
        self.largest_seen.get(slot(peer)).copied().unwrap_or(0)
    }

    /// The peers it has received no timestamp later than `ts` from: Lamport's rule 5(ii)
    /// waits for one from each.
    fn not_heard_after(&self, ts: Timestamp) -> Vec<ClientId> {
        self.peers().filter(|&peer| self.seen(peer) <= ts).collect()
    }

    /// The peers whose REPLY it still lacks (Ricart-Agrawala).
    fn without_reply(&self) -> Vec<ClientId> {
        self.peers()
            .filter(|&peer| !self.replied[peer.index()])
            .collect()
    }

    /// How many REPLY messages a counting client needs: one from every peer.
    fn replies_needed(&self) -> u32 {
        self.balances.len() as u32 - 1
    }

    /// The own balance.
    pub fn own_balance(&self) -> Amount {
        self.balance(self.id)
    }

    /// The balance of client `of` in this client's own table (0 for a client not in it).
    pub fn balance(&self, of: ClientId) -> Amount {
        self.balances.get(slot(of)).copied().unwrap_or(0)
    }

    /// `(1,2) (3,1)`, or `empty`.
    pub fn queue_text(&self) -> String {
        if self.queue.is_empty() {
            return "empty".to_string();
        }
        self.queue
            .iter()
            .map(|&request| request_text(request))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// `idle`, `waiting with request (3,1)`, `inside with request (3,1)`, `down`.
    pub fn phase_text(&self) -> String {
        if !self.up {
            return "down (crashed)".to_string();
        }
        match self.phase {
            Phase::Idle => "idle".to_string(),
            Phase::Waiting { ts } => format!("waiting, request {}", request_text((ts, self.id))),
            Phase::Inside { ts } => format!("inside, request {}", request_text((ts, self.id))),
        }
    }

    fn apply_block(&mut self, block: &Block) {
        let debit = |balance: &mut Amount| *balance = balance.saturating_sub(block.amount());
        if let Some(balance) = self.balances.get_mut(slot(block.from())) {
            debit(balance);
        }
        if let Some(balance) = self.balances.get_mut(slot(block.to())) {
            *balance = balance.saturating_add(block.amount());
        }
        self.ledger_len = block.index() + 1;
        self.head = block.hash_value();
    }
}

/// Client `id`'s index in the per-client lists; for id 0, which a block in an edited trace
/// can name, an index no list has (so a lookup finds nothing rather than underflowing).
fn slot(id: ClientId) -> usize {
    id.checked_index().unwrap_or(usize::MAX)
}

/// `(3,1)`: a request as `(timestamp,client)`.
pub fn request_text((ts, id): RequestId) -> String {
    format!("({ts},{id})")
}

/// Every client's state, advanced one event at a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replay {
    variant: Variant,
    /// The clients follow a program's rules, not `variant`'s: nothing is explained from the
    /// protocol's rules.
    program_rules: bool,
    mutations: Mutations,
    initial_balances: Vec<Amount>,
    /// Index `id - 1`.
    pub clients: Vec<ClientState>,
    /// Partitions in force, in the order they began.
    pub partitions: Vec<(Vec<Vec<ClientId>>, Direction)>,
    /// The `seq` of the latest event applied that is not a violation event: the event that
    /// revealed a violation event that comes next.
    pub last_regular: Option<u64>,
}

impl Replay {
    /// Every client at the start of a run.
    pub fn new(info: &TraceInfo) -> Self {
        Replay {
            variant: info.variant,
            program_rules: false,
            mutations: info.mutations,
            initial_balances: info.initial_balances.clone(),
            clients: info
                .client_ids()
                .map(|id| ClientState::new(id, &info.initial_balances))
                .collect(),
            partitions: Vec::new(),
            last_regular: None,
        }
    }

    /// From now on the clients are taken to follow a program's rules ([`Rules::Program`]).
    pub fn follow_program_rules(&mut self) {
        self.program_rules = true;
    }

    /// Whose rules the clients follow.
    pub fn rules(&self) -> Rules {
        match self.program_rules {
            true => Rules::Program,
            false => Rules::Protocol(self.variant),
        }
    }

    /// The protocol whose rules the replay follows.
    pub fn variant(&self) -> Variant {
        self.variant
    }

    /// Client `id`, if there is one.
    pub fn client(&self, id: ClientId) -> Option<&ClientState> {
        id.checked_index().and_then(|slot| self.clients.get(slot))
    }

    fn client_mut(&mut self, id: ClientId) -> Option<&mut ClientState> {
        id.checked_index()
            .and_then(|slot| self.clients.get_mut(slot))
    }

    /// Applies one event. Events naming clients the header does not know change nothing.
    pub fn apply(&mut self, event: &Event) {
        if !matches!(event.kind, EventKind::Violation { .. }) {
            self.last_regular = Some(event.seq);
        }
        match &event.kind {
            EventKind::Partition { groups, direction } => {
                self.partitions.push((groups.clone(), *direction));
                return;
            }
            EventKind::Heal { groups, direction } => {
                if let Some(place) = self
                    .partitions
                    .iter()
                    .position(|(cut, way)| cut == groups && way == direction)
                {
                    self.partitions.remove(place);
                }
                return;
            }
            _ => {}
        }
        let Some(node) = event.node else {
            return;
        };
        let (variant, mutations) = (self.variant, self.mutations);
        let initial_balances = self.initial_balances.clone();
        let Some(client) = self.client_mut(node) else {
            return;
        };
        client.clock = event.clock;
        match &event.kind {
            EventKind::Transfer { to, amount } => {
                client.pending.push_back(PendingTransfer {
                    to: *to,
                    amount: *amount,
                });
            }
            EventKind::Request { ts } => {
                client.current = client.pending.pop_front();
                client.outcome = None;
                client.phase = Phase::Waiting { ts: *ts };
                if variant.uses_queue() {
                    client.queue.insert((*ts, node));
                }
                client.replies = 0;
                client.replied.iter_mut().for_each(|heard| *heard = false);
            }
            EventKind::Deliver { from, msg, .. } => {
                deliver(client, variant, mutations, *from, msg);
            }
            EventKind::Enter { ts } => {
                client.phase = Phase::Inside { ts: *ts };
                client.acks = 0;
                client.acked.iter_mut().for_each(|heard| *heard = false);
                client.committed_inside = false;
            }
            EventKind::Commit { block } => {
                client.apply_block(block);
                client.committed_inside = true;
                client.outcome = Some(Outcome::Committed {
                    index: block.index(),
                });
            }
            EventKind::Abort { balance, .. } => {
                client.outcome = Some(Outcome::Aborted { balance: *balance });
            }
            EventKind::Apply { block } => client.apply_block(block),
            EventKind::Exit { ts } => {
                client.queue.remove(&(*ts, node));
                client.phase = Phase::Idle;
                client.current = None;
                client.outcome = None;
                if variant == Variant::RicartAgrawala {
                    client.deferred.clear();
                }
            }
            EventKind::Crash => client.up = false,
            EventKind::Restart { kept } => {
                let mut fresh = ClientState::new(node, &initial_balances);
                if *kept == Kept::Ledger {
                    fresh.balances = std::mem::take(&mut client.balances);
                    fresh.ledger_len = client.ledger_len;
                    fresh.head = client.head;
                    fresh.lost_below = client.lost_below;
                } else {
                    fresh.lost_below = client.lost_below.max(client.ledger_len);
                }
                fresh.clock = event.clock;
                *client = fresh;
            }
            EventKind::Send { .. }
            | EventKind::Reject { .. }
            | EventKind::Balance { .. }
            | EventKind::Violation { .. }
            | EventKind::Drop { .. }
            | EventKind::Duplicate { .. }
            | EventKind::Partition { .. }
            | EventKind::Heal { .. } => {}
        }
    }

    /// Why client `id` has not entered yet, or (`update-ack`) not left yet; `None` when it
    /// waits for nothing.
    pub fn wait_reason(&self, id: ClientId) -> Option<String> {
        let client = self.client(id)?;
        if !client.up || self.program_rules {
            return None;
        }
        match client.phase {
            Phase::Idle => None,
            Phase::Waiting { ts } => Some(self.waiting_for(client, ts)),
            Phase::Inside { .. } => {
                if self.variant != Variant::UpdateAck || !client.committed_inside {
                    return None;
                }
                let missing: Vec<ClientId> = client
                    .peers()
                    .filter(|&peer| !client.acked[peer.index()])
                    .collect();
                (!missing.is_empty()).then(|| {
                    format!(
                        "stays inside until every peer acknowledges its block: no UPDATED yet \
                         from {}",
                        client_list(&missing)
                    )
                })
            }
        }
    }

    /// [`wait_reason`](Self::wait_reason) in a few words for a table cell: peers in the same
    /// situation are named together, runs of ids as ranges (`c2–c8`), so that sixteen
    /// clients still fit on a line or two.
    pub fn wait_summary(&self, id: ClientId) -> Option<String> {
        let client = self.client(id)?;
        if self.program_rules {
            return None;
        }
        let Phase::Waiting { ts } = client.phase else {
            return self
                .wait_reason(id)
                .map(|reason| reason.trim_start_matches("waits: ").to_string());
        };
        if !client.up {
            return None;
        }
        let mut reasons = Vec::new();
        if self.variant.uses_queue()
            && let Some(&head) = client.queue.first()
            && !self.heads_queue(client, ts)
        {
            reasons.push(format!("behind {} in its queue", request_text(head)));
        }
        match self.variant {
            Variant::Lamport | Variant::UpdateAck => {
                // The latest timestamp from each of them is in the table's next columns.
                let silent = client.not_heard_after(ts);
                if !silent.is_empty() {
                    reasons.push(format!(
                        "needs a timestamp > {ts} from {}",
                        client_ranges(&silent)
                    ));
                }
            }
            Variant::LamportReplyCount => {
                let needed = client.replies_needed();
                if client.replies < needed {
                    reasons.push(format!("{} of {needed} REPLY messages", client.replies));
                }
            }
            Variant::RicartAgrawala => {
                let missing = client.without_reply();
                if !missing.is_empty() {
                    reasons.push(format!("a REPLY from {}", client_ranges(&missing)));
                }
            }
        }
        if reasons.is_empty() {
            return Some(format!("nothing: {} may enter now", request_text((ts, id))));
        }
        Some(reasons.join("; "))
    }

    fn waiting_for(&self, client: &ClientState, ts: Timestamp) -> String {
        let own = (ts, client.id);
        let mut reasons = Vec::new();
        if self.variant.uses_queue()
            && let Some(&head) = client.queue.first()
            && !self.heads_queue(client, ts)
        {
            reasons.push(format!(
                "{} is ahead of its request {} in its queue",
                request_text(head),
                request_text(own)
            ));
        }
        match self.variant {
            Variant::Lamport | Variant::UpdateAck => {
                let silent: Vec<String> = client
                    .not_heard_after(ts)
                    .into_iter()
                    .map(|peer| match client.seen(peer) {
                        0 => format!("c{peer} (nothing received yet)"),
                        seen => format!("c{peer} (latest {seen})"),
                    })
                    .collect();
                if !silent.is_empty() {
                    reasons.push(format!(
                        "it needs a message with a timestamp later than {ts} from {}",
                        silent.join(", ")
                    ));
                }
            }
            Variant::LamportReplyCount => {
                let needed = client.replies_needed();
                if client.replies < needed {
                    reasons.push(format!(
                        "it has counted {} of the {} it needs",
                        client.replies,
                        count(needed, "REPLY message")
                    ));
                }
            }
            Variant::RicartAgrawala => {
                let missing = client.without_reply();
                if !missing.is_empty() {
                    reasons.push(format!("no REPLY yet from {}", client_list(&missing)));
                }
            }
        }
        if reasons.is_empty() {
            // The events never leave a client here: it enters in the step that makes the
            // condition true. Say so rather than invent a reason.
            return format!("request {} may enter now", request_text(own));
        }
        format!("waits: {}", reasons.join("; "))
    }

    /// Rule 5(i) as the client applies it (with the timestamp-only tiebreak mutation).
    fn heads_queue(&self, client: &ClientState, ts: Timestamp) -> bool {
        match client.queue.first() {
            None => false,
            Some(&(head_ts, _)) if self.mutations.contains(Mutation::TiebreakTimestampOnly) => {
                head_ts == ts
            }
            Some(&head) => head == (ts, client.id),
        }
    }

    /// Why client `id` may enter with request `ts`, as its state shows just before the enter
    /// event; names earlier requests it has not heard of (the mark of a safety violation).
    pub fn entry_reason(&self, id: ClientId, ts: Timestamp) -> String {
        let Some(client) = self.client(id) else {
            return String::new();
        };
        let own = (ts, id);
        // Rule 5(i) in words; with the timestamp-only tiebreak, a tie counts as the head.
        let tied_head = client
            .queue
            .first()
            .filter(|&&(head_ts, head_id)| {
                self.mutations.contains(Mutation::TiebreakTimestampOnly)
                    && head_ts == ts
                    && head_id != id
            })
            .copied();
        let heads = match tied_head {
            Some(head) => format!(
                "own request {} ties with {} for the smallest timestamp in its queue [{}], and \
                 the mutation compares timestamps only (by client id {} comes first)",
                request_text(own),
                request_text(head),
                client.queue_text(),
                request_text(head)
            ),
            None => format!(
                "own request {} heads its queue [{}]",
                request_text(own),
                client.queue_text()
            ),
        };
        let mut text = match self.variant {
            Variant::Lamport | Variant::UpdateAck => {
                let seen: Vec<String> = client
                    .peers()
                    .map(|peer| format!("c{peer} ({})", client.seen(peer)))
                    .collect();
                format!(
                    "{heads}; timestamps later than {ts} seen from {}",
                    if seen.is_empty() {
                        "every peer (it has none)".to_string()
                    } else {
                        seen.join(", ")
                    }
                )
            }
            Variant::LamportReplyCount => format!(
                "{heads} and it has counted {}, one per peer as it believes",
                count(client.replies, "REPLY message")
            ),
            Variant::RicartAgrawala => format!(
                "a REPLY for request {} from every peer ({})",
                request_text(own),
                client_list(&client.peers().collect::<Vec<_>>())
            ),
        };
        let unknown: Vec<String> = self
            .clients
            .iter()
            .filter(|other| other.id != id && other.up)
            .filter_map(|other| match other.phase {
                Phase::Waiting { ts: other_ts } | Phase::Inside { ts: other_ts } => {
                    Some((other_ts, other.id))
                }
                Phase::Idle => None,
            })
            .filter(|&request| request < own && !client.queue.contains(&request))
            .map(|request| {
                let inside = matches!(
                    self.client(request.1).map(|other| other.phase),
                    Some(Phase::Inside { .. })
                );
                format!(
                    "{}{}",
                    request_text(request),
                    if inside { ", which is inside" } else { "" }
                )
            })
            .collect();
        if !unknown.is_empty() && self.variant.uses_queue() {
            text.push_str(&format!(
                "; but the earlier request {} is not in its queue: its REQUEST has not arrived",
                unknown.join(" and ")
            ));
        }
        text
    }

    /// Why client `id` aborted: what its own table says.
    pub fn abort_reason(&self, id: ClientId, amount: Amount) -> String {
        let Some(client) = self.client(id) else {
            return String::new();
        };
        // What a RELEASE carries is the built-in protocols' rule, not a program's.
        let release = match self.program_rules {
            false => "; nothing is committed and the RELEASE will carry no block",
            true => "; nothing is committed",
        };
        format!(
            "its own table gives it {} (after {}), less than the {amount} it wants to pay{release}",
            client.own_balance(),
            count(client.ledger_len, "block")
        )
    }

    /// A note on a balance read that shows an older value than the owner's own table.
    pub fn stale_read_note(&self, reader: ClientId, of: ClientId, value: Amount) -> Option<String> {
        let owner = self.client(of)?;
        let reader = self.client(reader)?;
        if of == reader.id || owner.own_balance() == value {
            return None;
        }
        Some(format!(
            "stale: c{of}'s own table already says {} (its ledger has {}, this one {})",
            owner.own_balance(),
            count(owner.ledger_len, "block"),
            reader.ledger_len
        ))
    }

    /// `c3: 2 blocks, head 1a2b3c4d`.
    pub fn ledger_text(&self, id: ClientId) -> String {
        self.client(id).map_or_else(String::new, |client| {
            format!(
                "{}, head {}",
                count(client.ledger_len, "block"),
                short_hex(&client.head)
            )
        })
    }
}

/// The bookkeeping of a delivered message (rules 2 and 6, the variants' counters).
fn deliver(
    client: &mut ClientState,
    variant: Variant,
    mutations: Mutations,
    from: ClientId,
    msg: &Message,
) {
    let Some(slot) = from.checked_index() else {
        return;
    };
    if slot >= client.largest_seen.len() {
        return;
    }
    client.largest_seen[slot] = client.largest_seen[slot].max(msg.ts());
    match msg {
        Message::Request { ts } => {
            if variant == Variant::RicartAgrawala && defers(client, mutations, from, *ts) {
                client.deferred.push(from);
            } else if variant.uses_queue() && *ts > client.served[slot] {
                client.queue.insert((*ts, from));
            }
        }
        Message::Reply { .. } => {
            if variant.counts_replies() && matches!(client.phase, Phase::Waiting { .. }) {
                client.replies += 1;
                client.replied[slot] = true;
            }
        }
        Message::Release { request_ts, .. } => {
            if mutations.contains(Mutation::ReleasePopsHead) {
                client.queue.pop_first();
            } else {
                client.queue.remove(&(*request_ts, from));
            }
            client.served[slot] = client.served[slot].max(*request_ts);
        }
        Message::Update { .. } | Message::Foreign(_) => {}
        Message::Updated { .. } => {
            if variant == Variant::UpdateAck && matches!(client.phase, Phase::Inside { .. }) {
                client.acks += 1;
                client.acked[slot] = true;
            }
        }
    }
}

/// Ricart-Agrawala: a REQUEST waits while the client is inside or its own request comes first.
fn defers(client: &ClientState, mutations: Mutations, from: ClientId, ts: Timestamp) -> bool {
    match client.phase {
        Phase::Idle => false,
        Phase::Inside { .. } => true,
        Phase::Waiting { ts: own_ts } => {
            if mutations.contains(Mutation::TiebreakTimestampOnly) {
                own_ts < ts
            } else {
                (own_ts, client.id) < (ts, from)
            }
        }
    }
}

/// `c2, c3`.
pub fn client_list(ids: &[ClientId]) -> String {
    ids.iter()
        .map(|id| format!("c{id}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `c2–c5, c7`: ids in order, runs of three or more as ranges.
pub fn client_ranges(ids: &[ClientId]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run_start = 0;
    for index in 0..ids.len() {
        let run_ends = ids
            .get(index + 1)
            .is_none_or(|next| next.get() != ids[index].get() + 1);
        if !run_ends {
            continue;
        }
        let (first, last) = (ids[run_start], ids[index]);
        match index - run_start {
            0 => parts.push(format!("c{first}")),
            1 => parts.push(format!("c{first}, c{last}")),
            _ => parts.push(format!("c{first}–c{last}")),
        }
        run_start = index + 1;
    }
    parts.join(", ")
}
