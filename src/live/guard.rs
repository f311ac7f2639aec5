//! What a connection that has not proved itself may cost the node, and what a peer may make it
//! print:
//!
//! - [`Handshakes`]: a fixed number of handshake slots; when all are taken, a new connection
//!   takes the slot of the oldest handshake. A real peer's handshake takes milliseconds, so it
//!   finishes long before connections that trickle bytes can push it out again.
//! - [`Deadline`]: one deadline for the whole handshake, every read and write together, so a
//!   peer that sends a byte now and then cannot hold its slot past it.
//! - [`LogLimit`] and [`clip`]: log lines that peers cause are limited in number and length,
//!   and what a peer wrote is shown escaped and cut short.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a whole handshake (hello, hello, ready, ready) may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Unauthenticated connections handled at once.
pub const MAX_HANDSHAKES: usize = 16;
/// The characters of a peer's text shown in a log line.
pub const MAX_SHOWN_CHARS: usize = 160;
/// The longest log line the network threads write, in characters.
const MAX_LOG_LINE_CHARS: usize = 600;
/// Log lines written at once before the limit applies.
pub const LOG_BURST: u32 = 20;
/// After a burst, one more log line is allowed this often.
pub const LOG_REFILL_EVERY: Duration = Duration::from_millis(500);

/// The handshakes in progress, oldest first.
pub struct Handshakes {
    slots: Mutex<Vec<Slot>>,
    next_id: AtomicU64,
}

struct Slot {
    id: u64,
    started: Instant,
    remote: String,
    stream: TcpStream,
    evicted: Arc<AtomicBool>,
}

/// A handshake's claim on a slot, given back when dropped.
pub struct Admitted {
    id: u64,
    evicted: Arc<AtomicBool>,
    owner: Arc<Handshakes>,
}

/// A handshake closed to make room for a new connection.
#[derive(Debug)]
pub struct Eviction {
    pub remote: String,
    pub age: Duration,
}

impl Handshakes {
    pub fn new() -> Arc<Self> {
        Arc::new(Handshakes {
            slots: Mutex::new(Vec::with_capacity(MAX_HANDSHAKES)),
            next_id: AtomicU64::new(0),
        })
    }

    /// Gives `stream` a slot. When every slot is taken, the oldest handshake's connection is
    /// shut down and its slot given to `stream`: a peer that trickles bytes is pushed out by
    /// newer connections, while a real peer's handshake finishes before that.
    pub fn admit(
        self: &Arc<Self>,
        stream: &TcpStream,
        remote: &str,
    ) -> io::Result<(Admitted, Option<Eviction>)> {
        let handle = stream.try_clone()?;
        let evicted = Arc::new(AtomicBool::new(false));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let eviction = (slots.len() >= MAX_HANDSHAKES).then(|| {
            let oldest = slots.remove(0);
            oldest.evicted.store(true, Ordering::SeqCst);
            let _ = oldest.stream.shutdown(Shutdown::Both);
            Eviction {
                remote: oldest.remote,
                age: oldest.started.elapsed(),
            }
        });
        slots.push(Slot {
            id,
            started: Instant::now(),
            remote: remote.to_string(),
            stream: handle,
            evicted: Arc::clone(&evicted),
        });
        let admitted = Admitted {
            id,
            evicted,
            owner: Arc::clone(self),
        };
        Ok((admitted, eviction))
    }

    /// Handshakes in progress.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Admitted {
    /// Whether a newer connection took this handshake's slot (and shut its connection).
    pub fn was_evicted(&self) -> bool {
        self.evicted.load(Ordering::SeqCst)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut slots = self
            .owner
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        slots.retain(|slot| slot.id != self.id);
    }
}

/// A stream whose reads and writes all end by one moment.
pub struct Deadline<'a> {
    stream: &'a TcpStream,
    until: Instant,
}

impl<'a> Deadline<'a> {
    /// The handshake's deadline, from now.
    pub fn handshake(stream: &'a TcpStream) -> Self {
        Deadline {
            stream,
            until: Instant::now() + HANDSHAKE_TIMEOUT,
        }
    }

    fn left(&self) -> io::Result<Duration> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(expired())
        } else {
            Ok(left)
        }
    }
}

/// The error of a handshake past its deadline.
fn expired() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "it did not finish within {} s (a peer needs milliseconds)",
            HANDSHAKE_TIMEOUT.as_secs()
        ),
    )
}

/// A socket timeout is the deadline passing.
fn past_deadline(error: io::Error) -> io::Error {
    match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => expired(),
        _ => error,
    }
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.set_read_timeout(Some(self.left()?))?;
        let mut stream = self.stream;
        stream.read(buf).map_err(past_deadline)
    }
}

impl Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.set_write_timeout(Some(self.left()?))?;
        let mut stream = self.stream;
        stream.write(buf).map_err(past_deadline)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A token bucket for log lines: [`LOG_BURST`] at once, then one per [`LOG_REFILL_EVERY`].
pub struct LogLimit {
    bucket: Mutex<Bucket>,
}

struct Bucket {
    tokens: u32,
    refilled: Instant,
    held_back: u64,
}

impl LogLimit {
    pub fn new() -> Self {
        LogLimit {
            bucket: Mutex::new(Bucket {
                tokens: LOG_BURST,
                refilled: Instant::now(),
                held_back: 0,
            }),
        }
    }

    /// Whether a line may be written at `now`: `Some(n)` with the lines held back since the
    /// last one written, or `None` to hold this one back too.
    pub fn admit(&self, now: Instant) -> Option<u64> {
        let mut bucket = self.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(bucket.refilled);
        let earned = elapsed.as_nanos() / LOG_REFILL_EVERY.as_nanos();
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            bucket.tokens = bucket.tokens.saturating_add(earned).min(LOG_BURST);
            bucket.refilled = now;
        }
        if bucket.tokens == 0 {
            bucket.held_back += 1;
            return None;
        }
        bucket.tokens -= 1;
        Some(std::mem::take(&mut bucket.held_back))
    }
}

/// The sentence that stands for `held_back` lines not written.
pub fn held_back_note(held_back: u64) -> String {
    format!(
        "{held_back} more log line{} about connections {} not written (at most {LOG_BURST} at \
         once, then {} a second, so that no peer can flood the log)",
        if held_back == 1 { "" } else { "s" },
        if held_back == 1 { "was" } else { "were" },
        Duration::from_secs(1).as_nanos() / LOG_REFILL_EVERY.as_nanos()
    )
}

/// A log line cut to its first [`MAX_LOG_LINE_CHARS`] characters, control characters escaped.
pub fn log_line(line: &str) -> String {
    clip_to(line, MAX_LOG_LINE_CHARS)
}

/// A text a peer wrote, for a log line: control and direction-changing characters escaped,
/// cut after [`MAX_SHOWN_CHARS`] characters with the number of bytes left out.
pub fn clip(text: &str) -> String {
    clip_to(text, MAX_SHOWN_CHARS)
}

/// [`clip`] in quotes, escaped as Rust's `{:?}` does.
pub fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_SHOWN_CHARS) {
        None => format!("{text:?}"),
        Some((at, _)) => format!("{:?}… ({} more bytes)", &text[..at], text.len() - at),
    }
}

fn clip_to(text: &str, max_chars: usize) -> String {
    let mut shown = String::new();
    for (count, (at, c)) in text.char_indices().enumerate() {
        if count == max_chars {
            shown.push_str(&format!("… ({} more bytes)", text.len() - at));
            break;
        }
        if c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
            shown.extend(c.escape_unicode());
        } else {
            shown.push(c);
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn a_full_house_pushes_out_the_oldest_handshake() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let handshakes = Handshakes::new();
        let mut held = Vec::new();
        for n in 0..MAX_HANDSHAKES {
            let (client, server) = pair(&listener);
            let (admitted, eviction) = handshakes.admit(&server, &format!("c{n}")).unwrap();
            assert!(eviction.is_none());
            held.push((client, server, admitted));
        }
        assert_eq!(handshakes.len(), MAX_HANDSHAKES);
        let (_client, server) = pair(&listener);
        let (newest, eviction) = handshakes.admit(&server, "newest").unwrap();
        assert_eq!(eviction.unwrap().remote, "c0");
        assert!(held[0].2.was_evicted() && !held[1].2.was_evicted() && !newest.was_evicted());
        // The evicted connection is shut: its peer reads the end of the stream.
        let mut rest = Vec::new();
        held[0].0.read_to_end(&mut rest).unwrap();
        assert_eq!(handshakes.len(), MAX_HANDSHAKES);
        drop(held);
        assert_eq!(handshakes.len(), 1, "slots are given back when dropped");
    }

    #[test]
    fn the_deadline_covers_every_read_together() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (mut client, server) = pair(&listener);
        let mut reader = Deadline {
            stream: &server,
            until: Instant::now() + Duration::from_millis(300),
        };
        client.write_all(b"ab").unwrap();
        let mut two = [0u8; 2];
        reader.read_exact(&mut two).unwrap();
        let started = Instant::now();
        let error = reader.read_exact(&mut two).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(
            error.to_string().contains("did not finish within"),
            "{error}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        let error = reader.read(&mut two).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut, "past it, at once");
    }

    #[test]
    fn the_log_allows_a_burst_then_a_trickle_and_counts_the_rest() {
        let limit = LogLimit::new();
        let start = Instant::now();
        for _ in 0..LOG_BURST {
            assert_eq!(limit.admit(start), Some(0));
        }
        assert_eq!(limit.admit(start), None);
        assert_eq!(limit.admit(start + LOG_REFILL_EVERY / 2), None);
        assert_eq!(limit.admit(start + LOG_REFILL_EVERY), Some(2));
        assert_eq!(limit.admit(start + LOG_REFILL_EVERY), None);
        assert!(held_back_note(3).starts_with("3 more log lines about connections were not"));
    }

    #[test]
    fn peer_text_is_escaped_and_cut() {
        assert_eq!(clip("short"), "short");
        assert_eq!(clip("a\nb\u{1b}[31m"), "a\\u{a}b\\u{1b}[31m");
        assert_eq!(clip("x\u{202e}y"), "x\\u{202e}y");
        let long = "é".repeat(1000);
        let clipped = clip(&long);
        assert!(clipped.ends_with("… (1680 more bytes)"), "{clipped}");
        assert_eq!(
            clipped.chars().filter(|&c| c == 'é').count(),
            MAX_SHOWN_CHARS
        );
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
        assert!(quote(&"n".repeat(5000)).ends_with("\"… (4840 more bytes)"));
    }
}
