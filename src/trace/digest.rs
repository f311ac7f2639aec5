//! The running SHA-256 of a trace (SPEC section 3: the summary's `digest`).
//!
//! Hashing is about a quarter of the time of a long run that writes its trace. A short trace
//! (a sweep's run, a test) is hashed on the caller's thread; once a trace is long, the
//! hashing moves to a helper thread, so that it overlaps the simulation. The blocks reach the
//! helper in order through a bounded channel, so the digest is the same byte for byte and the
//! memory stays bounded: at most [`QUEUED_BLOCKS`] blocks wait, and their buffers come back
//! for reuse.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use crate::protocol::Hash;

/// After this many blocks on the caller's thread, the hashing moves to a helper thread. A
/// sweep's run (a few hundred KiB of trace) never gets there, so a sweep that keeps every
/// digest starts no threads.
const INLINE_BLOCKS: u32 = 4;

/// How many blocks may wait for the helper before the caller waits for it.
const QUEUED_BLOCKS: usize = 4;

pub struct RunningDigest {
    state: State,
    /// Blocks hashed on the caller's thread so far.
    inline_blocks: u32,
}

enum State {
    Inline(Sha256),
    Helper {
        blocks: SyncSender<Vec<u8>>,
        /// Hashed blocks, emptied, for reuse.
        spares: Receiver<Vec<u8>>,
        helper: JoinHandle<Sha256>,
    },
}

impl Default for RunningDigest {
    fn default() -> Self {
        RunningDigest {
            state: State::Inline(Sha256::new()),
            inline_blocks: 0,
        }
    }
}

impl RunningDigest {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `block` to the digest and leaves `block` empty (possibly holding another buffer of
    /// about the same capacity).
    pub fn update(&mut self, block: &mut Vec<u8>) {
        match &mut self.state {
            State::Inline(hasher) => {
                hasher.update(&block[..]);
                block.clear();
                self.inline_blocks += 1;
                if self.inline_blocks >= INLINE_BLOCKS {
                    self.move_to_helper();
                }
            }
            State::Helper { blocks, spares, .. } => {
                let capacity = block.capacity();
                let spare = spares
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(capacity));
                // A helper that is gone has panicked; `finish` reports it.
                let _ = blocks.send(std::mem::replace(block, spare));
            }
        }
    }

    /// The digest of every block, then of `tail`.
    pub fn finish(self, tail: &[u8]) -> Hash {
        let mut hasher = match self.state {
            State::Inline(hasher) => hasher,
            State::Helper { blocks, helper, .. } => {
                drop(blocks);
                helper
                    .join()
                    .expect("the trace hashing thread does not panic")
            }
        };
        hasher.update(tail);
        hasher.finalize().into()
    }

    /// Hands the hasher to a helper thread; if no thread can be started, hashing stays here.
    fn move_to_helper(&mut self) {
        let State::Inline(hasher) = &self.state else {
            return;
        };
        let mut hasher = hasher.clone();
        let (blocks, incoming) = sync_channel::<Vec<u8>>(QUEUED_BLOCKS);
        let (give_back, spares) = sync_channel::<Vec<u8>>(QUEUED_BLOCKS);
        let started = std::thread::Builder::new()
            .name("trace-digest".into())
            .spawn(move || {
                for mut block in incoming {
                    hasher.update(&block);
                    block.clear();
                    // When the caller has enough spares, this one is freed.
                    let _ = give_back.try_send(block);
                }
                hasher
            });
        if let Ok(helper) = started {
            self.state = State::Helper {
                blocks,
                spares,
                helper,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(count: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|i| (0..1000 + i).map(|j| (i * 31 + j * 7) as u8).collect())
            .collect()
    }

    fn digest_of(blocks: &[Vec<u8>], tail: &[u8]) -> Hash {
        let mut digest = RunningDigest::new();
        for block in blocks {
            let mut block = block.clone();
            digest.update(&mut block);
            assert!(block.is_empty());
        }
        digest.finish(tail)
    }

    #[test]
    fn a_long_trace_hashed_on_a_helper_thread_has_the_same_digest() {
        for count in [0, 1, INLINE_BLOCKS as usize, 50] {
            let blocks = blocks(count);
            let mut everything: Vec<u8> = blocks.concat();
            everything.extend_from_slice(b"tail");
            let expected: Hash = Sha256::digest(&everything).into();
            assert_eq!(digest_of(&blocks, b"tail"), expected, "{count} blocks");
        }
    }
}
