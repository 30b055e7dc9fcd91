//! [`LineAlignedAlloc`]: the system allocator, with every block of 2 KiB or more aligned to 64 bytes.
//!
//! Why: glibc (2.36, Debian 12) copies 2112 bytes or more with `rep movsb`, and on AMD Zen 4 that
//! instruction is about 25 times slower (3 GB/s against 40–100 GB/s) when the destination lies 1–12
//! bytes past the source modulo 4096 (nearly the same offset in their pages). rustls copies every
//! received record's plaintext out of its deframer buffer (payload 5 bytes into the record) into a
//! freshly allocated `Vec`, so whether a TLS session decrypts at full speed or spends a third of its
//! CPU in `memmove` depended on where malloc happened to put those two buffers (measured on the tls
//! hop: docs/performance.md, "TLS hop: aligned large blocks and read-ahead"). With both blocks
//! 64-byte aligned the destination lies 5 bytes *before* the source modulo 64, hence never 1–12
//! bytes past it modulo 4096, on every session. 64 bytes is also a cache line and an AVX-512 vector.
//!
//! Hand-written because it is a thin wrapper over [`System`] (no crate offers "raise the alignment of
//! large blocks" alone; swapping in jemalloc or mimalloc would change every allocation's behaviour and
//! the idle-session memory the benchmarks track). Small blocks, the bulk of a session's allocations,
//! keep malloc's own alignment and cost.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks at least this large get [`LARGE_ALIGN`]: below glibc's `rep movsb` threshold (2112 bytes)
/// memcpy uses vector loops, which do not care about alignment.
pub const LARGE_BLOCK: usize = 2048;

/// Alignment of every block of [`LARGE_BLOCK`] bytes or more.
pub const LARGE_ALIGN: usize = 64;

/// The system allocator with large blocks aligned to [`LARGE_ALIGN`]; install it with
/// `#[global_allocator] static ALLOC: LineAlignedAlloc = LineAlignedAlloc;`.
#[derive(Debug, Default, Clone, Copy)]
pub struct LineAlignedAlloc;

/// The layout actually requested from [`System`] for `layout`.
fn raised(layout: Layout) -> Layout {
    if layout.size() >= LARGE_BLOCK && layout.align() < LARGE_ALIGN {
        // Cannot fail: LARGE_ALIGN is a power of two and rounding a size that already fits in a
        // Layout up to 64 cannot overflow isize (Layout caps size at isize::MAX - (align - 1)).
        Layout::from_size_align(layout.size(), LARGE_ALIGN).unwrap_or(layout)
    } else {
        layout
    }
}

// SAFETY: every method forwards to `System` with a layout of the same size and an alignment at least
// the caller's, and a block is always freed or resized with the layout `raised` gave when it was
// allocated (`raised` depends only on the size and alignment the caller passes back, which the
// GlobalAlloc contract requires to be the allocation's own).
unsafe impl GlobalAlloc for LineAlignedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: `raised` keeps the non-zero size of `layout`.
        unsafe { System.alloc(raised(layout)) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(raised(layout)) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator with `layout`, hence by System with `raised(layout)`.
        unsafe { System.dealloc(ptr, raised(layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = raised(layout);
        // The caller guarantees `new_size` with `layout.align()` is a valid layout.
        let Ok(wanted) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        let new = raised(wanted);
        if new.align() == old.align() {
            // SAFETY: `ptr` is System's block of layout `old`; the new size is valid for its alignment.
            return unsafe { System.realloc(ptr, old, new_size) };
        }
        // Crossing LARGE_BLOCK changes the alignment, which System.realloc cannot: move the block.
        // SAFETY: `new` has a non-zero size (it is at least the caller's new size, which is non-zero).
        let moved = unsafe { System.alloc(new) };
        if !moved.is_null() {
            // SAFETY: both blocks are valid for the smaller of the two sizes and do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                System.dealloc(ptr, old);
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aligned(p: *const u8) -> bool {
        (p as usize).is_multiple_of(LARGE_ALIGN)
    }

    #[test]
    fn large_blocks_are_line_aligned_and_small_ones_untouched() {
        let l = Layout::from_size_align(16384, 1).unwrap();
        assert_eq!(raised(l).align(), LARGE_ALIGN);
        assert_eq!(raised(l).size(), 16384);
        let small = Layout::from_size_align(LARGE_BLOCK - 1, 1).unwrap();
        assert_eq!(raised(small), small);
        let page = Layout::from_size_align(8192, 4096).unwrap();
        assert_eq!(raised(page), page, "a stricter alignment is kept");
    }

    #[test]
    fn realloc_across_the_threshold_keeps_bytes_and_alignment() {
        let a = LineAlignedAlloc;
        let small = Layout::from_size_align(100, 1).unwrap();
        // SAFETY: non-zero sizes; each block is freed with the layout it has at that point.
        unsafe {
            let p = a.alloc(small);
            assert!(!p.is_null());
            for i in 0..100 {
                *p.add(i) = i as u8;
            }
            let big = a.realloc(p, small, 20_000);
            assert!(!big.is_null() && aligned(big));
            let grown = a.realloc(big, Layout::from_size_align(20_000, 1).unwrap(), 40_000);
            assert!(!grown.is_null() && aligned(grown));
            let shrunk = a.realloc(grown, Layout::from_size_align(40_000, 1).unwrap(), 50);
            assert!(!shrunk.is_null());
            for i in 0..50 {
                assert_eq!(*shrunk.add(i), i as u8);
            }
            a.dealloc(shrunk, Layout::from_size_align(50, 1).unwrap());
            let z = a.alloc_zeroed(Layout::from_size_align(4096, 1).unwrap());
            assert!(aligned(z) && (0..4096).all(|i| *z.add(i) == 0));
            a.dealloc(z, Layout::from_size_align(4096, 1).unwrap());
        }
    }

    #[test]
    fn vec_growth_through_it_is_aligned() {
        #[global_allocator]
        static ALLOC: LineAlignedAlloc = LineAlignedAlloc;
        let mut v: Vec<u8> = Vec::with_capacity(10);
        for i in 0..100_000u32 {
            v.push(i as u8);
            if v.capacity() >= LARGE_BLOCK {
                assert!(aligned(v.as_ptr()), "capacity {}", v.capacity());
            }
        }
        assert!(v.iter().enumerate().all(|(i, &b)| b == i as u8));
    }
}
