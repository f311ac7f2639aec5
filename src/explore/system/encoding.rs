//! The encoding of a global state as a short string of LEB128 numbers, and its decoding.

use super::MAX_CLIENTS;

/// A global state's clients, decoded without its messages (what a check needs).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Head {
    pub(super) n: usize,
    pub(super) locals: [u32; MAX_CLIENTS],
    pub(super) status: [u8; MAX_CLIENTS],
    pub(super) issued: [u8; MAX_CLIENTS],
}

impl Head {
    /// Decodes everything but the messages; says whether any message is in flight: then some
    /// link's count is not zero, and the tail is longer than one byte (a zero count) per link.
    pub(super) fn decode(bytes: &[u8], clients: usize, links: usize, faults: bool) -> (Head, bool) {
        let mut head = Head {
            n: clients,
            ..Head::default()
        };
        let mut at = 0;
        for client in 0..clients {
            head.locals[client] = get_varint(bytes, &mut at);
        }
        let issued = at + issued_at(clients, faults);
        head.issued = read_counts(bytes, issued, clients);
        if faults {
            head.status[..clients].copy_from_slice(&bytes[at..at + clients]);
        }
        at += fixed_bytes(clients, faults);
        (head, bytes.len() - at > links)
    }

    pub(super) fn locals(&self) -> &[u32] {
        &self.locals[..self.n]
    }

    pub(super) fn down(&self, client: usize) -> bool {
        self.status[client] & 1 != 0
    }

    pub(super) fn crashes_used(&self, client: usize) -> usize {
        usize::from(self.status[client] >> 1)
    }
}

/// The most directed links a model has.
pub(super) const MAX_LINKS: usize = MAX_CLIENTS * (MAX_CLIENTS - 1);

/// A global state, decoded. Fixed-size arrays for everything but the messages: decoding
/// fills them without a length to check and keep up to date per number.
#[derive(Clone, Debug)]
pub(super) struct Global {
    /// How many clients and links (the first `n` and `links` entries of the arrays count).
    pub(super) n: usize,
    pub(super) links: usize,
    pub(super) locals: [u32; MAX_CLIENTS],
    /// Bit 0: down; the rest: crashes used.
    pub(super) status: [u8; MAX_CLIENTS],
    pub(super) issued: [u8; MAX_CLIENTS],
    pub(super) losses: u8,
    pub(super) duplicates: u8,
    /// Link `l`'s messages are `msgs[starts[l]..starts[l + 1]]`.
    pub(super) starts: [u32; MAX_LINKS + 1],
    pub(super) msgs: Vec<u32>,
    /// Where things are in the encoding this was decoded from: the end of each client's
    /// local-state number, and the start of each link (and the end of the last).
    pub(super) local_ends: [u32; MAX_CLIENTS],
    pub(super) link_bytes: [u32; MAX_LINKS + 1],
    /// Where each link's messages start (after its count), and where its first message ends
    /// (its messages' start when it has none):
    /// [`SystemExpander::emit`](super::expander::SystemExpander::emit) copies a link's messages
    /// as bytes, without the first one when it is delivered.
    pub(super) bodies: [u32; MAX_LINKS],
    pub(super) head_ends: [u32; MAX_LINKS],
    /// Each link's first message (0 when it has none).
    pub(super) heads: [u32; MAX_LINKS],
    /// Decoded without `msgs` (every link FIFO and no fault: only the first message of a link
    /// is ever looked at).
    pub(super) lean: bool,
    /// The encoding has the status bytes and the loss and duplication counts (see
    /// [`fixed_bytes`]).
    pub(super) faults: bool,
}

/// The bytes between the clients' local-state numbers and the links in an encoding: per
/// client its status (down, crashes used) and transfers asked for, then the losses and the
/// duplications used. Without any fault possible the statuses and the counts never change,
/// so only the transfers asked for are encoded: 5 bytes less of the default scenario's 26.5
/// per state (a fifth of the store's arena, written once and compared on every look-up).
pub(super) fn fixed_bytes(clients: usize, faults: bool) -> usize {
    if faults { 2 * clients + 2 } else { clients }
}

/// The `clients` bytes at `at` of `bytes`, the rest zero. Read as one word when the encoding
/// has 8 bytes from `at` on (nearly always): a copy of a length not known at compile time,
/// or a loop of byte copies (which the compiler turns into one), is a call to `memcpy`, and
/// this runs for every state decoded.
pub(super) fn read_counts(bytes: &[u8], at: usize, clients: usize) -> [u8; MAX_CLIENTS] {
    const { assert!(MAX_CLIENTS == 8, "the counts of the clients fill one word") };
    if let Some(window) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(window.try_into().expect("8 bytes"));
        let keep = u64::MAX.checked_shr(64 - 8 * clients as u32).unwrap_or(0);
        return (word & keep).to_le_bytes();
    }
    let mut counts = [0; MAX_CLIENTS];
    counts[..clients].copy_from_slice(&bytes[at..at + clients]);
    counts
}

/// Where the transfers asked for are among [`fixed_bytes`]: behind the statuses, if any.
pub(super) fn issued_at(clients: usize, faults: bool) -> usize {
    if faults { clients } else { 0 }
}

impl Default for Global {
    fn default() -> Self {
        Global {
            n: 0,
            links: 0,
            locals: [0; MAX_CLIENTS],
            status: [0; MAX_CLIENTS],
            issued: [0; MAX_CLIENTS],
            losses: 0,
            duplicates: 0,
            starts: [0; MAX_LINKS + 1],
            msgs: Vec::new(),
            local_ends: [0; MAX_CLIENTS],
            link_bytes: [0; MAX_LINKS + 1],
            bodies: [0; MAX_LINKS],
            head_ends: [0; MAX_LINKS],
            heads: [0; MAX_LINKS],
            lean: false,
            faults: true,
        }
    }
}

// LEB128 by hand, not a crate's: `integer-encoding`'s generic loop costs 6% more instructions
// on the default scenario's search.

/// Appends `value` as LEB128.
pub(super) fn put_varint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Writes `value` as LEB128 into `buffer` at `at`; where it ends.
#[inline(always)]
pub(super) fn write_varint(buffer: &mut [u8], mut at: usize, mut value: u32) -> usize {
    while value >= 0x80 {
        buffer[at] = (value as u8) | 0x80;
        value >>= 7;
        at += 1;
    }
    buffer[at] = value as u8;
    at + 1
}

/// Copies `source` into `buffer` at `at`; where it ends. A few fixed-size moves for the few
/// bytes an encoding's runs have, where `copy_from_slice` of a length not known would call
/// `memcpy`.
#[inline(always)]
pub(super) fn copy_bytes(buffer: &mut [u8], at: usize, source: &[u8]) -> usize {
    let len = source.len();
    let target = &mut buffer[at..at + len];
    if len >= 8 {
        let mut done = 0;
        while done + 8 < len {
            target[done..done + 8].copy_from_slice(&source[done..done + 8]);
            done += 8;
        }
        target[len - 8..].copy_from_slice(&source[len - 8..]);
    } else if len >= 4 {
        target[..4].copy_from_slice(&source[..4]);
        target[len - 4..].copy_from_slice(&source[len - 4..]);
    } else if len > 0 {
        target[0] = source[0];
        target[len / 2] = source[len / 2];
        target[len - 1] = source[len - 1];
    }
    at + len
}

/// Reads a LEB128 number at `at` and moves `at` past it. Unrolled for the lengths an
/// encoding has (counts take one byte, messages two, client states up to three).
#[inline(always)]
pub(super) fn get_varint(bytes: &[u8], at: &mut usize) -> u32 {
    let first = bytes[*at];
    if first < 0x80 {
        *at += 1;
        return u32::from(first);
    }
    let second = bytes[*at + 1];
    let value = u32::from(first & 0x7f) | u32::from(second & 0x7f) << 7;
    if second < 0x80 {
        *at += 2;
        return value;
    }
    let third = bytes[*at + 2];
    let value = value | u32::from(third & 0x7f) << 14;
    if third < 0x80 {
        *at += 3;
        return value;
    }
    get_varint_slow(bytes, at)
}

#[cold]
pub(super) fn get_varint_slow(bytes: &[u8], at: &mut usize) -> u32 {
    let mut value = 0u32;
    let mut shift = 0;
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= u32::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return value;
        }
        shift += 7;
    }
}

impl Global {
    pub(super) fn decode(
        &mut self,
        bytes: &[u8],
        clients: usize,
        links: usize,
        lean: bool,
        faults: bool,
    ) {
        let mut at = 0;
        self.n = clients;
        self.links = links;
        self.lean = lean;
        self.faults = faults;
        for client in 0..clients {
            self.locals[client] = get_varint(bytes, &mut at);
            self.local_ends[client] = at as u32;
        }
        let issued = at + issued_at(clients, faults);
        self.issued = read_counts(bytes, issued, clients);
        if faults {
            self.status[..clients].copy_from_slice(&bytes[at..at + clients]);
            self.losses = bytes[at + 2 * clients];
            self.duplicates = bytes[at + 2 * clients + 1];
        }
        at += fixed_bytes(clients, faults);
        // Every message takes a byte at least: room for all of them, written by index (the
        // list keeps its longest length; only `starts` says what counts).
        if !lean && self.msgs.len() < bytes.len() {
            self.msgs.resize(bytes.len(), 0);
        }
        let mut count_all = 0;
        for link in 0..links {
            self.starts[link] = count_all as u32;
            self.link_bytes[link] = at as u32;
            let count = get_varint(bytes, &mut at) as usize;
            self.bodies[link] = at as u32;
            self.heads[link] = 0;
            if count > 0 {
                let head = get_varint(bytes, &mut at);
                self.heads[link] = head;
                if !lean {
                    self.msgs[count_all] = head;
                }
            }
            self.head_ends[link] = at as u32;
            if lean {
                // Past the other messages: a message ends at a byte below 0x80.
                let mut left = count.saturating_sub(1);
                while left > 0 {
                    left -= usize::from(bytes[at] < 0x80);
                    at += 1;
                }
            } else {
                for index in 1..count {
                    self.msgs[count_all + index] = get_varint(bytes, &mut at);
                }
            }
            count_all += count;
        }
        self.starts[links] = count_all as u32;
        self.link_bytes[links] = at as u32;
        debug_assert_eq!(at, bytes.len());
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        let n = self.n;
        for &local in &self.locals[..n] {
            put_varint(out, local);
        }
        if self.faults {
            out.extend_from_slice(&self.status[..n]);
            out.extend_from_slice(&self.issued[..n]);
            out.push(self.losses);
            out.push(self.duplicates);
        } else {
            out.extend_from_slice(&self.issued[..n]);
        }
        for link in 0..self.links {
            let messages = self.link(link);
            put_varint(out, messages.len() as u32);
            for &msg in messages {
                put_varint(out, msg);
            }
        }
    }

    pub(super) fn link(&self, link: usize) -> &[u32] {
        debug_assert!(!self.lean, "a lean decoding has no messages");
        &self.msgs[self.starts[link] as usize..self.starts[link + 1] as usize]
    }

    /// How many messages link `link` holds.
    pub(super) fn count(&self, link: usize) -> u32 {
        self.starts[link + 1] - self.starts[link]
    }

    pub(super) fn down(&self, client: usize) -> bool {
        self.status[client] & 1 != 0
    }

    pub(super) fn crashes_used(&self, client: usize) -> usize {
        usize::from(self.status[client] >> 1)
    }
}
