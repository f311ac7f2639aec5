//! The header line: the trace's format and version, its clients and their balances.

use super::wire::{WireCrash, WireHeader, by_id};
use super::{DeclaredCrash, MAX_TRACE_CLIENTS, ReadError, TraceHeader};
use crate::base::{TRACE_FORMAT, TRACE_VERSION};
use crate::protocol::Amount;
use crate::protocol::ClientId;
use crate::trace::Kept;

pub(super) fn header_from(wire: WireHeader) -> Result<TraceHeader, ReadError> {
    let err = |message: String| ReadError::at(1, message);
    match wire.line_type.as_deref() {
        Some("header") => {}
        Some(other) => {
            return Err(err(format!(
                "the trace must start with a header line, but the first line is of type \
                 {other:?}"
            )));
        }
        None => {
            return Err(err(
                "the trace must start with a header line, but the first line has no `type`".into(),
            ));
        }
    }
    match wire.format.as_deref() {
        Some(TRACE_FORMAT) => {}
        Some(other) => {
            return Err(err(format!(
                "`format` is {other:?}: this is not a {TRACE_FORMAT} trace"
            )));
        }
        None => return Err(err("the header has no `format` field".into())),
    }
    match wire.version {
        Some(version) if version == u64::from(TRACE_VERSION) => {}
        Some(version) => {
            return Err(err(format!(
                "trace format version {version} is not supported: this reader knows version \
                 {TRACE_VERSION}"
            )));
        }
        None => return Err(err("the header has no `version` field".into())),
    }
    let clients = wire
        .clients
        .ok_or_else(|| err("the header has no `clients` field".into()))?;
    if !(1..=u64::from(MAX_TRACE_CLIENTS)).contains(&clients) {
        return Err(err(format!(
            "`clients` is {clients}, but a trace has 1 to {MAX_TRACE_CLIENTS} clients"
        )));
    }
    let clients = clients as u32;
    let initial_balances = by_id(
        wire.initial_balances
            .ok_or_else(|| err("the header has no `initial_balances` field".into()))?,
        clients,
        "initial_balances",
        1,
    )?;
    // Blocks only move money, so no balance ever exceeds the total: a total that fits in 64
    // bits (as every scenario's and cluster's does) keeps every replay of the tables exact.
    if initial_balances
        .iter()
        .try_fold(0 as Amount, |total, &balance| total.checked_add(balance))
        .is_none()
    {
        return Err(err(format!(
            "the `initial_balances` add up to more than {}, which no run can hold",
            Amount::MAX
        )));
    }
    // A simulator's header (it has `limits`) lists every crash of the run under `faults`.
    let simulated = wire.limits.is_some() && wire.live.is_none();
    let crashes = match wire.faults.and_then(|faults| faults.crashes) {
        _ if !simulated => None,
        None => Some(Vec::new()),
        Some(listed) => Some(declared_crashes(listed, clients)?),
    };
    Ok(TraceHeader {
        scenario: wire.scenario,
        seed: wire.seed,
        clients,
        initial_balances,
        protocol: wire.protocol.unwrap_or_else(|| "lamport".to_string()),
        mutations: wire.mutations.unwrap_or_default(),
        cs_us: wire.cs_us,
        max_events: wire.limits.as_ref().and_then(|limits| limits.max_events),
        max_time_us: wire.limits.as_ref().and_then(|limits| limits.max_time_us),
        live: wire.live.is_some(),
        crashes,
    })
}

/// The header's crashes, each client's in the order of their times.
fn declared_crashes(listed: Vec<WireCrash>, clients: u32) -> Result<Vec<DeclaredCrash>, ReadError> {
    let mut crashes = Vec::with_capacity(listed.len());
    for crash in listed {
        let client = crash
            .client
            .filter(|&id| (1..=u64::from(clients)).contains(&id))
            .ok_or_else(|| {
                ReadError::at(
                    1,
                    format!(
                        "a crash under the header's `faults` names no client of 1 to {clients}"
                    ),
                )
            })?;
        let keep = match crash.keep.as_deref() {
            None | Some("ledger") => Kept::Ledger,
            Some("nothing") => Kept::Nothing,
            Some(other) => {
                return Err(ReadError::at(
                    1,
                    format!(
                        "a crash under the header's `faults` keeps {other:?}, but a crash keeps \
                         \"ledger\" or \"nothing\""
                    ),
                ));
            }
        };
        crashes.push(DeclaredCrash {
            client: ClientId::new(client as u32),
            at_us: crash.at_us.unwrap_or(0),
            restarts: crash.restart_us.is_some(),
            keep,
        });
    }
    crashes.sort_by_key(|crash| crash.at_us);
    Ok(crashes)
}
