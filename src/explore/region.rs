//! Big arrays for the state store that grow in place.
//!
//! A `Region` reserves address space for far more elements than it holds (no memory is
//! taken for that) and makes it usable a slice at a time as the array grows. So growing never
//! copies the array nor touches its pages twice (a `Vec` that doubles does both). Where
//! address space cannot be reserved (a tight `ulimit -v`), a full region moves to a bigger
//! one, as a `Vec` would.
//!
//! The pages are the kernel's ordinary 4 KiB pages, not 2 MiB huge pages (see
//! [`HUGE_PAGES`]), except in a table made by [`Region::zeroed_in_huge_pages`].
//!
//! The memory comes from the kernel zero-filled and a region hands out its elements without
//! writing them first, so it only holds types for which all-zero bytes are a valid value:
//! `bytemuck`'s [`Zeroable`] (integers and arrays of them, not references, `NonZero` or
//! enums).

use std::marker::PhantomData;

use bytemuck::Zeroable;

/// Huge page size, and the step in which a region of at least that size is made usable.
const HUGE: usize = 2 << 20;

/// Whether to ask the kernel for transparent huge pages (`MADV_HUGEPAGE`). They spare TLB
/// misses on the random reads into the table and the arena, but on virtual machines the
/// first write to a fresh huge page costs more than the same memory in 4 KiB pages (two to
/// eight times the system time, measured on the project's machines), and a search writes
/// almost all of its memory once.
const HUGE_PAGES: bool = false;

/// The step for a smaller region, which doubles until it reaches [`HUGE`]: a small search
/// (the TLA+ port at N = 2, a test) would otherwise pay for clearing 2 MiB per array when
/// huge pages are asked for.
const PAGE: usize = 4 << 10;

/// The address space a region asks for at first, at most (it moves if it ever needs more).
const DEFAULT_RESERVE: usize = 1 << 40;

/// A growable array of plain values (`Copy`, valid when all bytes are zero) at a fixed
/// address.
pub(crate) struct Region<T: Copy + Zeroable> {
    ptr: *mut T,
    len: usize,
    /// Bytes usable from `ptr` on.
    committed: usize,
    /// Bytes the region counts as its size: what growing by demand alone would have made
    /// usable (at most `committed`; see [`Self::commit_ahead`]).
    accounted: usize,
    /// Bytes of address space reserved from `ptr` on.
    reserved: usize,
    /// Whether its pages are asked to be huge: [`HUGE_PAGES`], or always for a table made by
    /// [`Self::zeroed_in_huge_pages`].
    huge: bool,
    _owns: PhantomData<T>,
}

// SAFETY: a region owns its memory and its elements like a `Vec` does (no other pointer to
// them exists), so moving it to another thread moves the `T`s, which `T: Send` allows.
unsafe impl<T: Copy + Zeroable + Send> Send for Region<T> {}
// SAFETY: through `&Region` the elements are only read (`Deref` to `&[T]`; `populate_ahead`
// changes no value), which `T: Sync` allows from several threads.
unsafe impl<T: Copy + Zeroable + Sync> Sync for Region<T> {}

impl<T: Copy + Zeroable> Region<T> {
    /// An empty region.
    pub fn new() -> Self {
        Region {
            ptr: std::ptr::NonNull::dangling().as_ptr(),
            len: 0,
            committed: 0,
            accounted: 0,
            reserved: 0,
            huge: HUGE_PAGES,
            _owns: PhantomData,
        }
    }

    /// `len` elements, all bytes zero (a valid `T`: [`Zeroable`]).
    pub fn zeroed(len: usize) -> Self {
        Self::zeroed_with(len, HUGE_PAGES)
    }

    /// The same, in huge pages where the kernel has them (for a table read at random all
    /// along and written little: its TLB misses cost more than filling in its pages).
    pub fn zeroed_in_huge_pages(len: usize) -> Self {
        Self::zeroed_with(len, true)
    }

    fn zeroed_with(len: usize, huge: bool) -> Self {
        let mut region = Self::new();
        region.huge = huge;
        let bytes = step_up(len * size_of::<T>());
        // Room to grow in place (see [`Self::extend_zeroed`]).
        region.relocate(bytes, DEFAULT_RESERVE.max(bytes));
        os::commit(region.ptr.cast(), 0, bytes, huge);
        region.committed = bytes;
        region.accounted = bytes;
        region.len = len;
        region
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes of memory made usable by demand (what the region costs, like a `Vec`'s
    /// capacity); the same whether or not room was made ahead with [`Self::commit_ahead`].
    pub fn memory_bytes(&self) -> usize {
        self.accounted
    }

    /// Makes room for `more` elements past `len` now, without counting it in
    /// [`Self::memory_bytes`] until pushes need it.
    pub fn commit_ahead(&mut self, more: usize) {
        let accounted = self.accounted;
        self.reserve(more);
        self.accounted = accounted;
    }

    /// Asks the kernel to fill in the pages for elements `len..len + more` (within the room
    /// made) now, so that writing them later takes no page fault; `part` of `parts` of that
    /// range, for sharing the work among threads. A hint: it changes no value.
    pub fn populate_ahead(&self, more: usize, part: usize, parts: usize) {
        let from = (self.len * size_of::<T>()).next_multiple_of(HUGE);
        let to = ((self.len + more) * size_of::<T>())
            .next_multiple_of(HUGE)
            .min(self.committed);
        if to <= from {
            return;
        }
        let share = ((to - from) / HUGE).div_ceil(parts) * HUGE;
        let start = from + share * part;
        let end = (start + share).min(to);
        if start < end {
            os::populate(self.ptr.cast(), start, end);
        }
    }

    /// Lengthens the region to `len` elements, the new ones all bytes zero, and fills in
    /// their pages now, in one call to the kernel: a table reads its empty slots before it
    /// writes them, and a fresh page first read then written faults twice (the read maps
    /// the shared zero page, the write faults again for a page of its own).
    pub fn extend_zeroed(&mut self, len: usize) {
        assert!(len >= self.len, "a region only grows");
        if len * size_of::<T>() > self.accounted {
            self.reserve(len - self.len);
        }
        // Nothing past `len` was ever written: those bytes are still zero.
        let from_bytes = (self.len * size_of::<T>()) / PAGE * PAGE;
        self.len = len;
        let to_bytes = (len * size_of::<T>()).min(self.committed);
        if from_bytes < to_bytes {
            os::populate(self.ptr.cast(), from_bytes, to_bytes);
        }
    }

    pub fn as_ptr(&self) -> *const T {
        self.ptr
    }

    #[inline]
    pub fn push(&mut self, value: T) {
        if (self.len + 1) * size_of::<T>() > self.accounted {
            self.reserve(1);
        }
        // SAFETY: `reserve` made bytes up to `accounted` (never above `committed`) readable and
        // writable, and `(len + 1) * size_of::<T>() <= accounted` now, so slot `len` lies in
        // memory this region alone owns; `ptr` is aligned for `T` (page-aligned mapping).
        unsafe { self.ptr.add(self.len).write(value) };
        self.len += 1;
    }

    #[inline]
    pub fn extend_from_slice(&mut self, values: &[T]) {
        if (self.len + values.len()) * size_of::<T>() > self.accounted {
            self.reserve(values.len());
        }
        // SAFETY: as in `push`, slots `len..len + values.len()` are usable and owned by the
        // region; `values` is a shared borrow, so it cannot point into them (only `&mut self`
        // reaches past `len`).
        unsafe {
            std::ptr::copy_nonoverlapping(values.as_ptr(), self.ptr.add(self.len), values.len())
        };
        self.len += values.len();
    }

    /// What [`Self::memory_bytes`] becomes once `more` elements are pushed.
    #[inline]
    pub fn memory_bytes_after_push(&self, more: usize) -> usize {
        let needed = (self.len + more).saturating_mul(size_of::<T>());
        if needed > self.accounted {
            self.grown_to(needed)
        } else {
            self.accounted
        }
    }

    /// At most what [`Self::memory_bytes`] becomes once `more` elements are pushed, in any
    /// number of pushes: a growth comes only when the elements need more than the region
    /// has, and at most doubles that, so none takes it past twice what they need in the end.
    pub fn memory_bytes_bound_after_pushes(&self, more: usize) -> usize {
        let needed = (self.len + more).saturating_mul(size_of::<T>());
        self.accounted.max(step_up(needed.saturating_mul(2)))
    }

    /// The size growing by demand to `needed` bytes makes usable: about an eighth more than
    /// now (below one huge page: twice as much), in whole pages or huge pages.
    #[cold]
    fn grown_to(&self, needed: usize) -> usize {
        let grown = if self.accounted < HUGE {
            self.accounted * 2
        } else {
            self.accounted + self.accounted / 8
        };
        step_up(needed.max(grown))
    }

    /// Makes room for `more` elements past `len`: about an eighth more than now, in whole
    /// huge pages (below one huge page: twice as much, in whole pages).
    #[cold]
    #[inline(never)]
    fn reserve(&mut self, more: usize) {
        assert!(size_of::<T>() > 0, "a region holds sized values");
        let needed = (self.len + more)
            .checked_mul(size_of::<T>())
            .expect("a region's size fits in memory");
        let wanted = self.grown_to(needed);
        if wanted > self.committed {
            if wanted > self.reserved {
                self.relocate(wanted, DEFAULT_RESERVE.max(wanted));
            }
            os::commit(self.ptr.cast(), self.committed, wanted, self.huge);
            self.committed = wanted;
        }
        self.accounted = wanted;
    }

    /// Moves to a new reservation of at least `wanted` bytes, at most `most` (the first time:
    /// from nothing).
    fn relocate(&mut self, wanted: usize, most: usize) {
        let (ptr, reserved) = os::reserve(wanted, most);
        let ptr = ptr.cast::<T>();
        if self.committed > 0 {
            os::commit(ptr.cast(), 0, self.committed, self.huge);
            // SAFETY: the old mapping holds `len` initialised elements; the new one was just
            // made usable for `committed >= len * size_of::<T>()` bytes; two distinct
            // mappings do not overlap.
            unsafe { std::ptr::copy_nonoverlapping(self.ptr, ptr, self.len) };
            os::release(self.ptr.cast(), self.reserved);
        }
        self.ptr = ptr;
        self.reserved = reserved;
    }
}

/// `bytes` rounded up to whole pages below [`HUGE`], to whole huge pages from there on.
fn step_up(bytes: usize) -> usize {
    if bytes < HUGE {
        bytes.next_multiple_of(PAGE)
    } else {
        bytes.next_multiple_of(HUGE)
    }
}

impl<T: Copy + Zeroable> Default for Region<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Zeroable> std::ops::Deref for Region<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: the first `len` elements lie in usable memory owned by the region and are
        // initialised: written by `push` / `extend_from_slice`, or still the kernel's zero bytes,
        // a valid `T` because `T: Zeroable`. `ptr` is aligned and non-null (dangling only when
        // `len` is 0).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl<T: Copy + Zeroable> std::ops::DerefMut for Region<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`; `&mut self` makes this the only borrow of the elements.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl<T: Copy + Zeroable> Drop for Region<T> {
    fn drop(&mut self) {
        if self.reserved > 0 {
            os::release(self.ptr.cast(), self.reserved);
        }
    }
}

/// The calls to the kernel. Not `memmap2`: its maps are readable and writable from the start,
/// while a reservation here is `PROT_NONE` so that it takes no commit charge (under strict
/// overcommit too) until `commit` makes a part of it usable.
#[cfg(unix)]
mod os {
    use super::HUGE;

    /// Reserves between `least` and `most` bytes of address space (no memory yet), aligned
    /// to a huge page. Returns the start and the size reserved.
    pub fn reserve(least: usize, most: usize) -> (*mut u8, usize) {
        let mut size = most.next_multiple_of(HUGE);
        loop {
            // SAFETY: a new private mapping that no one else refers to; PROT_NONE takes no
            // memory and no commit charge.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    size + HUGE,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                    -1,
                    0,
                )
            };
            if ptr != libc::MAP_FAILED {
                // Trim to a huge-page boundary at both ends.
                let start = (ptr as usize).next_multiple_of(HUGE);
                let head = start - ptr as usize;
                // SAFETY: both pieces are parts of the mapping just made, outside the kept part.
                unsafe {
                    if head > 0 {
                        libc::munmap(ptr, head);
                    }
                    libc::munmap((start + size) as *mut libc::c_void, HUGE - head);
                }
                return (start as *mut u8, size);
            }
            assert!(
                size > least,
                "cannot reserve {least} bytes of address space"
            );
            size = (size / 2).max(least).next_multiple_of(HUGE);
        }
    }

    /// Makes bytes `from..to` of a reservation usable (zero-filled on first touch), backed by
    /// huge pages where the kernel can if `huge` (see [`HUGE_PAGES`](super::HUGE_PAGES)).
    pub fn commit(ptr: *mut u8, from: usize, to: usize, huge: bool) {
        if to <= from {
            return;
        }
        // SAFETY: the range lies inside a reservation this region owns.
        unsafe {
            let start = ptr.add(from).cast::<libc::c_void>();
            let done = libc::mprotect(start, to - from, libc::PROT_READ | libc::PROT_WRITE);
            assert!(done == 0, "cannot commit {} bytes of memory", to - from);
            #[cfg(target_os = "linux")]
            if huge {
                libc::madvise(start, to - from, libc::MADV_HUGEPAGE);
            }
        }
    }

    /// Fills in the pages of bytes `from..to` (usable already) without changing them.
    pub fn populate(ptr: *mut u8, from: usize, to: usize) {
        #[cfg(target_os = "linux")]
        // SAFETY: the range lies inside the usable part of a region; MADV_POPULATE_WRITE
        // faults pages in as a write would, but writes nothing (Linux 5.14 on; an older kernel
        // refuses it, and the pages fill in when first written instead).
        unsafe {
            libc::madvise(ptr.add(from).cast(), to - from, libc::MADV_POPULATE_WRITE);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (ptr, from, to);
    }

    pub fn release(ptr: *mut u8, size: usize) {
        // SAFETY: the whole reservation, owned by the region being dropped or moved.
        unsafe { libc::munmap(ptr.cast(), size) };
    }
}

#[cfg(not(unix))]
mod os {
    //! Without `mmap`: plain zeroed allocations, committed all at once.
    use super::HUGE;
    use std::alloc::{Layout, alloc_zeroed, dealloc};

    pub fn reserve(least: usize, _most: usize) -> (*mut u8, usize) {
        // Reserve only what is needed now, doubled: a region then moves as a `Vec` does.
        let size = (least * 2).next_multiple_of(HUGE);
        let layout = Layout::from_size_align(size, HUGE).expect("a valid layout");
        // SAFETY: a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "cannot allocate {size} bytes");
        (ptr, size)
    }

    pub fn commit(_ptr: *mut u8, _from: usize, _to: usize, _huge: bool) {}

    pub fn populate(_ptr: *mut u8, _from: usize, _to: usize) {}

    pub fn release(ptr: *mut u8, size: usize) {
        let layout = Layout::from_size_align(size, HUGE).expect("a valid layout");
        // SAFETY: allocated by `reserve` with this layout.
        unsafe { dealloc(ptr, layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_grows_in_place_and_keeps_its_values() {
        let mut region: Region<u64> = Region::new();
        assert_eq!(region.len(), 0);
        for n in 0..1_000_000u64 {
            region.push(n * 3);
        }
        let start = region.as_ptr();
        assert_eq!(region.len(), 1_000_000);
        assert!(region.iter().enumerate().all(|(i, &v)| v == i as u64 * 3));
        region.extend_from_slice(&[7; 5000]);
        assert_eq!(region[1_000_000..], [7; 5000]);
        assert!(region.memory_bytes() >= region.len() * 8);
        #[cfg(unix)]
        assert_eq!(region.as_ptr(), start, "no move within the reservation");
        let _ = start;
        let zeros: Region<u64> = Region::zeroed(123_456);
        assert!(zeros.iter().all(|&v| v == 0));
    }

    #[test]
    fn a_full_region_moves_and_keeps_its_values() {
        let mut region: Region<u32> = Region::new();
        region.extend_from_slice(&[1, 2, 3]);
        let size = region.memory_bytes();
        region.relocate(size * 2, size * 2);
        assert_eq!(region[..], [1, 2, 3]);
        // Full: the next growth moves it again.
        region.extend_from_slice(&vec![9; size / 4 * 3]);
        assert_eq!(region[..3], [1, 2, 3]);
        assert_eq!(region.len(), 3 + size / 4 * 3);
    }
}
