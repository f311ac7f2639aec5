//! Reading the lives: each node trace file read up to its last complete line, and the cluster
//! every life must belong to.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::MergeError;
use crate::protocol::{ClientId, Variant};
use crate::trace::Event;
use crate::trace::read::{TraceHeader, TraceReader};

#[derive(Debug, Deserialize)]
pub(super) struct HeaderLive {
    pub(super) live: Option<LiveIn>,
}

#[derive(Clone, Debug, Deserialize)]
pub(super) struct LiveIn {
    pub(super) node: ClientId,
    pub(super) cluster: String,
    pub(super) incarnation: u64,
    pub(super) epoch_unix_us: u64,
}

/// One run of one node.
pub(super) struct Life {
    pub(super) shown: String,
    pub(super) live: LiveIn,
    pub(super) header: TraceHeader,
    pub(super) events: Vec<Event>,
    pub(super) complete: bool,
}

/// The trace files among `paths`: files as given, and the `*.jsonl` files of directories.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, MergeError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = fs::read_dir(path).map_err(|error| {
                MergeError::Input(format!(
                    "{}: cannot list the directory: {error}",
                    path.display()
                ))
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|file| file.extension().is_some_and(|ext| ext == "jsonl"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    if files.is_empty() {
        return Err(MergeError::Input(
            "no trace files to merge (a directory is searched for *.jsonl files)".into(),
        ));
    }
    Ok(files)
}

pub(super) fn read_life(path: &Path) -> Result<Option<Life>, MergeError> {
    let shown = path.display().to_string();
    let bytes = fs::read(path)
        .map_err(|error| MergeError::Input(format!("{shown}: cannot read the trace: {error}")))?;
    let complete_len = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |at| at + 1);
    if complete_len == 0 {
        // Killed before its header was out: it has nothing to tell.
        return Ok(None);
    }
    let text = &bytes[..complete_len];
    let lines = text.iter().filter(|&&b| b == b'\n').count() as u64;
    let first = &text[..text.iter().position(|&b| b == b'\n').unwrap_or(text.len())];
    let live = serde_json::from_slice::<HeaderLive>(first)
        .ok()
        .and_then(|header| header.live)
        .ok_or_else(|| {
            MergeError::Input(format!(
                "{shown}:1: the header has no `live` object, so this is not the trace of a \
                 node: merge takes the files written by `lamport-ledger node --trace`"
            ))
        })?;
    let mut reader =
        TraceReader::new(text).map_err(|error| MergeError::Input(error.in_file(&shown)))?;
    let header = reader.header().clone();
    let mut events = Vec::new();
    let complete = loop {
        match reader.next_event() {
            Ok(Some(event)) => {
                if event.node != Some(live.node) {
                    return Err(MergeError::Input(format!(
                        "{shown}: event {} happens at node {:?}, but the trace is node {}'s",
                        event.seq, event.node, live.node
                    )));
                }
                events.push(event);
            }
            Ok(None) => break true,
            // Stopped without a summary: keep every complete event line.
            Err(error) if error.line() == Some(lines + 1) => break false,
            Err(error) => return Err(MergeError::Input(error.in_file(&shown))),
        }
    };
    Ok(Some(Life {
        shown,
        live,
        header,
        events,
        complete,
    }))
}

/// What every life must agree on to be part of one cluster.
pub(super) struct Cluster {
    pub(super) header: TraceHeader,
    pub(super) name: String,
    pub(super) protocol: Variant,
}

impl Cluster {
    /// The cluster of the first life, once every other life is checked to share it.
    pub(super) fn of(lives: &[Life]) -> Result<Self, MergeError> {
        let Some(first) = lives.first() else {
            return Err(MergeError::Input(
                "none of the trace files has a complete header line".into(),
            ));
        };
        let header = &first.header;
        for life in &lives[1..] {
            let same = life.header.clients == header.clients
                && life.header.initial_balances == header.initial_balances
                && life.header.protocol == header.protocol
                && life.header.cs_us == header.cs_us
                && life.live.cluster == first.live.cluster;
            if !same {
                return Err(MergeError::Input(format!(
                    "{} and {} come from different clusters (name, nodes, balances, protocol or \
                     critical section differ)",
                    first.shown, life.shown
                )));
            }
        }
        let protocol = Variant::ALL
            .into_iter()
            .find(|variant| variant.name() == header.protocol)
            .ok_or_else(|| {
                MergeError::Input(format!(
                    "{}: protocol {:?} is not one the live nodes run",
                    first.shown, header.protocol
                ))
            })?;
        Ok(Self {
            header: header.clone(),
            name: first.live.cluster.clone(),
            protocol,
        })
    }
}
