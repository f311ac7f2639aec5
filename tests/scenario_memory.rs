//! The memory a scenario file takes to read, counted by this test binary's allocator: a long
//! list of transfers written on one line must not be held as a tree of JSON values (which
//! took 8.3 GB for ten million transfers), only as the typed list. Alone in its binary, so
//! that no other test's allocations count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes in use and their peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on unchanged to `System`, which upholds `GlobalAlloc`'s
// contract; the counters only add and subtract the sizes of the layouts passed through.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout goes to `System` as given.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` came from `alloc` above with this layout, as the caller promises.
        unsafe { System.dealloc(pointer, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_long_transfer_list_on_one_line_is_read_without_a_tree_of_values() {
    let transfers: Vec<String> = (0..200_000)
        .map(|i| {
            format!(
                "{{\"at_us\": {i}, \"from\": {}, \"to\": {}, \"amount\": 1}}",
                i % 3 + 1,
                (i + 1) % 3 + 1
            )
        })
        .collect();
    let text = format!(
        "{{\"name\": \"long\", \"clients\": 3, \"workload\": {{\"transfers\": [{}]}}}}",
        transfers.join(", ")
    );
    drop(transfers);
    let before = IN_USE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let scenario = lamport_ledger::parse_scenario(&text, "long.json").unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    assert_eq!(scenario.transfers.len(), 200_000);
    // The typed list takes 32 bytes a transfer (twice that while it grows, and half again to
    // sort it); a tree of values took about 20 times the text.
    assert!(
        peak < 2 * text.len(),
        "reading {} bytes of text took {peak} bytes at the peak",
        text.len()
    );
}
