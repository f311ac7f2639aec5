//! A node's data directory: its ledger, appended durably and verified on start.
//!
//! - `node.json`: which node and cluster the directory belongs to (`node`, `clients`,
//!   `initial_balances`), written once; a directory of another node or cluster is refused.
//! - `ledger.jsonl`: one block per line, as in traces (`index`, `prev`, `hash`, `ts`, `from`,
//!   `to`, `amount`). New blocks are appended and `fsync`ed before the node traces them or
//!   sends any message that follows them. On start every block is verified against the chain
//!   (index, `prev`, recomputed hash, no overdraft). A last line without its newline is the
//!   trace of a write cut short by a crash: it was never synced, so no peer can have heard
//!   of it from this node, and it is cut off.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::wire::WireBlock;
use crate::protocol::{Amount, Block, ClientId, Ledger};

const META_FILE: &str = "node.json";
const LEDGER_FILE: &str = "ledger.jsonl";

/// A data directory that cannot be used, in one sentence.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Meta {
    node: ClientId,
    clients: u32,
    initial_balances: Vec<Amount>,
}

/// The open data directory.
#[derive(Debug)]
pub struct Storage {
    ledger_file: File,
    /// Blocks on disk.
    stored: u64,
}

/// What opening the directory found.
#[derive(Debug)]
pub struct Opened {
    pub storage: Storage,
    /// The verified blocks, in order.
    pub blocks: Vec<Arc<Block>>,
    /// A note for the user when a torn last line was cut off.
    pub repaired: Option<String>,
}

impl Storage {
    /// Opens (or creates) the data directory of node `node`.
    pub fn open(
        dir: &Path,
        node: ClientId,
        initial_balances: &[Amount],
    ) -> Result<Opened, StorageError> {
        let shown = |file: &str| dir.join(file).display().to_string();
        let io_error = |what: String, error: io::Error| StorageError(format!("{what}: {error}"));
        fs::create_dir_all(dir)
            .map_err(|e| io_error(format!("cannot create {}", dir.display()), e))?;
        let meta_path = dir.join(META_FILE);
        let meta = Meta {
            node,
            clients: initial_balances.len() as u32,
            initial_balances: initial_balances.to_vec(),
        };
        let created = !meta_path.exists();
        if created {
            let mut text = serde_json::to_vec_pretty(&meta).expect("the meta data serialises");
            text.push(b'\n');
            write_durably(&meta_path, &text)
                .map_err(|e| io_error(format!("cannot write {}", shown(META_FILE)), e))?;
            sync_dir(dir).map_err(|e| io_error(format!("cannot sync {}", dir.display()), e))?;
        } else {
            let text = fs::read(&meta_path)
                .map_err(|e| io_error(format!("cannot read {}", shown(META_FILE)), e))?;
            let found: Meta = serde_json::from_slice(&text).map_err(|error| {
                StorageError(format!(
                    "{}: {error}: it is not a lamport-ledger data directory",
                    shown(META_FILE)
                ))
            })?;
            if found.node != node {
                return Err(StorageError(format!(
                    "{} belongs to node {}, not node {node}: give each node its own --data-dir",
                    dir.display(),
                    found.node
                )));
            }
            if found != meta {
                return Err(StorageError(format!(
                    "{} was made for a cluster of {} nodes with balances {:?}, but this cluster \
                     has {} nodes with balances {:?}",
                    dir.display(),
                    found.clients,
                    found.initial_balances,
                    meta.clients,
                    meta.initial_balances
                )));
            }
        }
        let ledger_path = dir.join(LEDGER_FILE);
        let mut text = match fs::read(&ledger_path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(error) => {
                return Err(io_error(
                    format!("cannot read {}", shown(LEDGER_FILE)),
                    error,
                ));
            }
        };
        let mut repaired = None;
        let complete = text
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |at| at + 1);
        if complete < text.len() {
            repaired = Some(format!(
                "{}: cut off a last line of {} bytes without its newline (a write cut short when \
                 the node stopped; it was never synced, so no peer has it from this node)",
                shown(LEDGER_FILE),
                text.len() - complete
            ));
            text.truncate(complete);
        }
        let blocks = verify(&text, &shown(LEDGER_FILE), initial_balances)?;
        let ledger_file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&ledger_path)
            .map_err(|e| io_error(format!("cannot open {}", shown(LEDGER_FILE)), e))?;
        if repaired.is_some() {
            ledger_file
                .set_len(complete as u64)
                .and_then(|()| ledger_file.sync_all())
                .map_err(|e| io_error(format!("cannot repair {}", shown(LEDGER_FILE)), e))?;
        }
        if created {
            ledger_file
                .sync_all()
                .and_then(|()| sync_dir(dir))
                .map_err(|e| io_error(format!("cannot sync {}", dir.display()), e))?;
        }
        Ok(Opened {
            storage: Storage {
                ledger_file,
                stored: blocks.len() as u64,
            },
            blocks,
            repaired,
        })
    }

    /// Appends the blocks of `ledger` past what is stored and syncs them to disk.
    pub fn append_from(&mut self, ledger: &Ledger) -> io::Result<()> {
        let new_blocks = ledger.blocks_from(self.stored);
        if new_blocks.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::new();
        for block in new_blocks {
            serde_json::to_writer(&mut lines, &WireBlock::from_block(block))?;
            lines.push(b'\n');
        }
        self.ledger_file.write_all(&lines)?;
        self.ledger_file.sync_data()?;
        self.stored = ledger.len();
        Ok(())
    }
}

/// Parses and verifies the ledger lines.
fn verify(
    text: &[u8],
    shown: &str,
    initial_balances: &[Amount],
) -> Result<Vec<Arc<Block>>, StorageError> {
    let clients = initial_balances.len() as u32;
    let mut ledger = Ledger::new(initial_balances.to_vec());
    for (line_no, line) in text.split(|&b| b == b'\n').enumerate() {
        let line_no = line_no + 1;
        if line.is_empty() {
            continue;
        }
        let corrupt = |why: String| {
            StorageError(format!(
                "{shown}:{line_no}: {why}: the data directory is damaged (move it away to \
                 start this node over; it then catches up from its peers)"
            ))
        };
        let wire: WireBlock = serde_json::from_slice(line)
            .map_err(|error| corrupt(format!("not a block ({error})")))?;
        let block = wire.to_block(clients).map_err(corrupt)?;
        ledger
            .append(Arc::new(block))
            .map_err(|reason| corrupt(format!("block {} does not verify: {reason}", wire.index)))?;
    }
    Ok(ledger.blocks().to_vec())
}

fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes a new directory entry durable (no-op where directories cannot be opened).
fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir) {
        Ok(handle) => handle.sync_all().or(Ok(())),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_survive_a_reopen_and_a_torn_line_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!dir.path().join(META_FILE).exists(), "a new directory");
        let opened = Storage::open(dir.path(), ClientId::new(1), &[10, 10]).unwrap();
        assert!(dir.path().join(META_FILE).exists() && opened.blocks.is_empty());
        let mut storage = opened.storage;
        let mut ledger = Ledger::new(vec![10, 10]);
        ledger
            .commit(1, ClientId::new(1), ClientId::new(2), 3)
            .unwrap();
        ledger
            .commit(4, ClientId::new(2), ClientId::new(1), 5)
            .unwrap();
        storage.append_from(&ledger).unwrap();
        storage.append_from(&ledger).unwrap();
        drop(storage);
        let path = dir.path().join(LEDGER_FILE);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"index\":2,\"pr").unwrap();
        let opened = Storage::open(dir.path(), ClientId::new(1), &[10, 10]).unwrap();
        assert_eq!(opened.blocks.len(), 2);
        assert_eq!(opened.blocks[1].hash_value(), ledger.head_hash());
        assert!(
            opened
                .repaired
                .unwrap()
                .contains("cut off a last line of 14 bytes")
        );
        assert_eq!(fs::read(&path).unwrap().last(), Some(&b'\n'));
    }

    #[test]
    fn a_changed_block_and_a_foreign_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut storage = Storage::open(dir.path(), ClientId::new(1), &[10, 10])
            .unwrap()
            .storage;
        let mut ledger = Ledger::new(vec![10, 10]);
        ledger
            .commit(1, ClientId::new(1), ClientId::new(2), 3)
            .unwrap();
        storage.append_from(&ledger).unwrap();
        drop(storage);
        let other = Storage::open(dir.path(), ClientId::new(2), &[10, 10])
            .unwrap_err()
            .0;
        assert!(other.contains("belongs to node 1, not node 2"), "{other}");
        let cluster = Storage::open(dir.path(), ClientId::new(1), &[10, 9])
            .unwrap_err()
            .0;
        assert!(cluster.contains("was made for a cluster"), "{cluster}");
        let path = dir.path().join(LEDGER_FILE);
        let text = fs::read_to_string(&path)
            .unwrap()
            .replace("\"amount\":3", "\"amount\":4");
        fs::write(&path, text).unwrap();
        let error = Storage::open(dir.path(), ClientId::new(1), &[10, 10])
            .unwrap_err()
            .0;
        assert!(
            error.contains("ledger.jsonl:1: block 0 does not verify"),
            "{error}"
        );
    }
}
