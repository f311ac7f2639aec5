//! Where a trace's bytes go: its outputs (files, standard output, a live comparison) and the
//! running SHA-256 that becomes the summary's `digest` (docs/spec.md section 3).
//!
//! Hashing and writing are about half the time of a long run that writes its trace. A short
//! trace (a sweep's run, a test) is handled on the caller's thread; once a trace is long, the
//! outputs and the hasher move to a helper thread, so that they overlap the simulation. The
//! blocks reach the helper in order through a bounded channel, so the outputs get the same
//! bytes and the digest is the same, and memory stays bounded: at most [`QUEUED_BLOCKS`]
//! blocks wait, and their buffers come back for reuse.

use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SendError, SyncSender, sync_channel};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use crate::protocol::Hash;

/// A destination for trace lines. `Send`, so that a long trace can be written by a helper
/// thread; so it must not need a lock that the caller holds during the run (a locked
/// standard output, say).
pub type TraceOutput = Box<dyn Write + Send>;

/// After this many blocks on the caller's thread, the work moves to a helper thread. A
/// sweep's run (usually a few hundred KiB of trace) does not get there, so a sweep that keeps
/// every digest starts no threads.
const INLINE_BLOCKS: u32 = 4;

/// How many blocks may wait for the helper before the caller waits for it.
const QUEUED_BLOCKS: usize = 4;

/// Writes blocks of whole lines to every output and hashes them, in order.
pub struct BlockWriter {
    state: State,
    /// Blocks handled on the caller's thread so far.
    inline_blocks: u32,
}

/// The outputs and the hasher, wherever they are.
struct Sinks {
    hasher: Sha256,
    outputs: Vec<TraceOutput>,
}

enum State {
    Inline(Sinks),
    Helper {
        blocks: SyncSender<Vec<u8>>,
        /// Handled blocks, emptied, for reuse.
        spares: Receiver<Vec<u8>>,
        helper: JoinHandle<io::Result<Sinks>>,
    },
    /// After the outputs came back to [`BlockWriter::finish`] or failed.
    Closed,
}

impl Sinks {
    fn take(&mut self, block: &[u8]) -> io::Result<()> {
        for output in &mut self.outputs {
            output.write_all(block)?;
        }
        self.hasher.update(block);
        Ok(())
    }
}

impl BlockWriter {
    pub fn new(outputs: Vec<TraceOutput>) -> Self {
        BlockWriter {
            state: State::Inline(Sinks {
                hasher: Sha256::new(),
                outputs,
            }),
            inline_blocks: 0,
        }
    }

    /// Writes and hashes `block` and leaves it empty (possibly holding a buffer of an earlier
    /// block). An output's error is returned here or, once the helper writes, by a later call
    /// or by [`Self::finish`]; after an error the writer takes nothing more.
    pub fn write(&mut self, block: &mut Vec<u8>) -> io::Result<()> {
        if self.inline_blocks == INLINE_BLOCKS {
            // One attempt: if no thread can be started, the work stays on this thread.
            self.inline_blocks += 1;
            self.move_to_helper();
        }
        match &mut self.state {
            State::Inline(sinks) => {
                if let Err(error) = sinks.take(block) {
                    self.state = State::Closed;
                    return Err(error);
                }
                block.clear();
                self.inline_blocks += 1;
                Ok(())
            }
            State::Helper { blocks, spares, .. } => {
                let capacity = block.capacity();
                let spare = spares
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(capacity));
                let full = std::mem::replace(block, spare);
                if blocks.send(full).is_err() {
                    // The helper stopped at an output's error: report it now.
                    return match self.join() {
                        Err(error) => Err(error),
                        Ok(_) => Err(io::Error::other("the trace writing thread ended early")),
                    };
                }
                Ok(())
            }
            State::Closed => Err(closed()),
        }
    }

    /// Writes and hashes `tail`; then calls `summary_line` with the digest of every byte so
    /// far, writes the line it returns without hashing it (the summary holds the digest of
    /// everything before it), flushes every output and returns the digest.
    pub fn finish(
        mut self,
        tail: &[u8],
        summary_line: impl FnOnce(&Hash) -> io::Result<Vec<u8>>,
    ) -> io::Result<Hash> {
        let mut sinks = self.join()?;
        sinks.take(tail)?;
        let digest: Hash = sinks.hasher.finalize().into();
        let line = summary_line(&digest)?;
        for output in &mut sinks.outputs {
            output.write_all(&line)?;
            output.flush()?;
        }
        Ok(digest)
    }

    /// Brings the outputs and the hasher back to this thread, with the helper's error if it
    /// had one; a panic on the helper (a bug, not an I/O error) goes on here.
    fn join(&mut self) -> io::Result<Sinks> {
        match std::mem::replace(&mut self.state, State::Closed) {
            State::Inline(sinks) => Ok(sinks),
            State::Helper { blocks, helper, .. } => {
                drop(blocks);
                helper
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }
            State::Closed => Err(closed()),
        }
    }

    /// Hands the outputs and the hasher to a helper thread; if no thread can be started, the
    /// work stays here.
    fn move_to_helper(&mut self) {
        if let State::Inline(sinks) = std::mem::replace(&mut self.state, State::Closed) {
            self.state = start_helper(sinks);
        }
    }
}

impl Drop for BlockWriter {
    /// A run that stops early (an error elsewhere, a panic) still waits for the helper, so no
    /// output is left half-written by a thread nobody waits for.
    fn drop(&mut self) {
        if let State::Helper { blocks, helper, .. } =
            std::mem::replace(&mut self.state, State::Closed)
        {
            drop(blocks);
            let _ = helper.join();
        }
    }
}

fn closed() -> io::Error {
    io::Error::other("the trace's outputs failed earlier")
}

/// A helper thread that takes blocks for `sinks`; `sinks` stay inline if none can start.
fn start_helper(sinks: Sinks) -> State {
    let (blocks, incoming) = sync_channel::<Vec<u8>>(QUEUED_BLOCKS);
    let (give_back, spares) = sync_channel::<Vec<u8>>(QUEUED_BLOCKS);
    let (handoff, returned) = sync_channel::<Sinks>(1);
    let started = std::thread::Builder::new()
        .name("trace-writer".into())
        .spawn(move || {
            let mut sinks = returned.recv().map_err(io::Error::other)?;
            for mut block in incoming {
                // On an error the helper ends, which the caller sees at its next send or at
                // `finish`.
                sinks.take(&block)?;
                block.clear();
                // When the caller has spares enough, this one is freed.
                let _ = give_back.try_send(block);
            }
            Ok(sinks)
        });
    let Ok(helper) = started else {
        return State::Inline(sinks);
    };
    match handoff.send(sinks) {
        Ok(()) => State::Helper {
            blocks,
            spares,
            helper,
        },
        // The helper is gone already (it cannot be, short of a panic); keep the work here.
        Err(SendError(sinks)) => State::Inline(sinks),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// An output that keeps what it gets, and fails once it holds `fail_after` bytes.
    #[derive(Clone)]
    struct Kept {
        bytes: Arc<Mutex<Vec<u8>>>,
        fail_after: usize,
    }

    impl Write for Kept {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut kept = self.bytes.lock().unwrap();
            if kept.len() + bytes.len() > self.fail_after {
                return Err(io::Error::other("disk full"));
            }
            kept.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn kept(fail_after: usize) -> Kept {
        Kept {
            bytes: Arc::default(),
            fail_after,
        }
    }

    fn blocks(count: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|i| (0..1000 + i).map(|j| (i * 31 + j * 7) as u8).collect())
            .collect()
    }

    fn write_all(writer: &mut BlockWriter, blocks: &[Vec<u8>]) -> io::Result<()> {
        for block in blocks {
            let mut block = block.clone();
            writer.write(&mut block)?;
            assert!(block.is_empty());
        }
        Ok(())
    }

    #[test]
    fn a_long_trace_written_by_a_helper_thread_has_the_same_bytes_and_digest() {
        for count in [0, 1, INLINE_BLOCKS as usize, 50] {
            let blocks = blocks(count);
            let (first, second) = (kept(usize::MAX), kept(usize::MAX));
            let mut writer =
                BlockWriter::new(vec![Box::new(first.clone()), Box::new(second.clone())]);
            write_all(&mut writer, &blocks).unwrap();
            let digest = writer
                .finish(b"tail\n", |digest| {
                    Ok(format!("{}\n", digest[0]).into_bytes())
                })
                .unwrap();
            let mut hashed = blocks.concat();
            hashed.extend_from_slice(b"tail\n");
            let expected: Hash = Sha256::digest(&hashed).into();
            assert_eq!(digest, expected, "{count} blocks");
            hashed.extend_from_slice(format!("{}\n", expected[0]).as_bytes());
            assert_eq!(*first.bytes.lock().unwrap(), hashed);
            assert_eq!(*second.bytes.lock().unwrap(), hashed);
        }
    }

    #[test]
    fn an_output_error_is_returned_inline_and_from_the_helper() {
        // Inline: the first block fails, and the writer takes nothing more.
        let mut writer = BlockWriter::new(vec![Box::new(kept(10))]);
        let error = writer.write(&mut blocks(1)[0].clone()).unwrap_err();
        assert_eq!(error.to_string(), "disk full");
        assert!(writer.write(&mut vec![1]).is_err());
        // On the helper: a later write or the finish reports it, and nothing panics.
        let mut writer = BlockWriter::new(vec![Box::new(kept(20_000))]);
        let error = match write_all(&mut writer, &blocks(50)) {
            Err(error) => error,
            Ok(()) => writer.finish(b"", |_| Ok(Vec::new())).unwrap_err(),
        };
        assert_eq!(error.to_string(), "disk full");
    }
}
