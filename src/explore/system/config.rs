//! What the exploration of the client system is configured with: clients, transfers,
//! link rules and fault bounds.

use std::sync::Arc;

use crate::protocol::{Amount, Client, ClientConfig, ClientId, Mutations, Variant};

/// A transfer a client will be asked to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedTransfer {
    pub to: ClientId,
    pub amount: Amount,
}

/// What a directed link does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkRule {
    /// Deliver in order (else any message in flight may be next).
    pub fifo: bool,
    /// May lose messages (within `max_losses`).
    pub lossy: bool,
    /// May duplicate messages (within `max_duplicates`).
    pub duplicating: bool,
}

/// One crash a client may suffer, at any point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrashRule {
    /// Restart with the ledger and balance table (else with nothing).
    pub keep_ledger: bool,
    /// Comes back at some later point (else stays down).
    pub restarts: bool,
}

/// Everything the exploration of the client system needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemConfig {
    pub clients: u32,
    /// Index `id - 1`.
    pub initial_balances: Vec<Amount>,
    pub variant: Variant,
    pub mutations: Mutations,
    pub cs_us: u64,
    /// Index `id - 1`: the transfers that client is asked to make, in order.
    pub transfers: Vec<Vec<PlannedTransfer>>,
    /// Index `(from - 1) * N + (to - 1)`.
    pub links: Vec<LinkRule>,
    pub max_losses: u8,
    pub max_duplicates: u8,
    /// Index `id - 1`: the crashes that client may suffer, in order.
    pub crashes: Vec<Vec<CrashRule>>,
}

impl SystemConfig {
    /// The directed links in encoding order.
    pub fn link_list(&self) -> Vec<(ClientId, ClientId)> {
        let n = self.clients;
        ClientId::all(n)
            .flat_map(|from| {
                ClientId::all(n)
                    .filter(move |&to| to != from)
                    .map(move |to| (from, to))
            })
            .collect()
    }

    pub fn rule(&self, from: ClientId, to: ClientId) -> LinkRule {
        self.links[from.index() * self.clients as usize + to.index()]
    }

    /// The built-in clients in their initial state.
    pub fn initial_clients(&self) -> Vec<Client> {
        self.initial_nodes(Client::new)
    }

    /// The clients `make` builds from each client's settings and one shared copy of the
    /// initial balances, in id order.
    pub fn initial_nodes<N>(
        &self,
        mut make: impl FnMut(&ClientConfig, Arc<[Amount]>) -> N,
    ) -> Vec<N> {
        let balances: Arc<[Amount]> = self.initial_balances.clone().into();
        ClientId::all(self.clients)
            .map(|id| {
                let config = ClientConfig {
                    id,
                    clients: self.clients,
                    cs_us: self.cs_us,
                    variant: self.variant,
                    mutations: self.mutations,
                };
                make(&config, Arc::clone(&balances))
            })
            .collect()
    }

    pub fn any_faults(&self) -> bool {
        self.max_losses > 0 || self.max_duplicates > 0 || self.crashes.iter().any(|c| !c.is_empty())
    }

    pub fn all_fifo(&self) -> Option<bool> {
        let mut kinds = self
            .link_list()
            .into_iter()
            .map(|(from, to)| self.rule(from, to).fifo);
        let first = kinds.next()?;
        kinds.all(|kind| kind == first).then_some(first)
    }
}
