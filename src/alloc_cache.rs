//! Small freed blocks kept by size for the next allocation of that size, in
//! front of the wasm build's allocator. A message's block is freed when it is
//! acked and a block of the same size is asked for at the next publish; a
//! free list hands it back in a few instructions where talc searches its
//! bins and merges neighbours both ways.
//!
//! Blocks of up to `CLASSES * GRAIN` bytes and alignment up to `GRAIN` are
//! rounded up to a multiple of `GRAIN` for the allocator behind, so that
//! every block of a class has the class's size and can serve any request of
//! the class. A class keeps at most `KEEP_BYTES` of free blocks; beyond that
//! they go back. Single-threaded only (wasm32 without threads): the lists
//! are plain cells.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;

const GRAIN: usize = 8;
const CLASSES: usize = 32;
/// Free bytes a class may hold: 2,048 blocks of 32 bytes (a message's block
/// with a 16-byte body and a short routing key), so the blocks an ack of a
/// thousand messages frees are taken again by the publishes after it.
const KEEP_BYTES: usize = 64 * 1024;

/// A free block's first word: the next free block of its class.
struct Free {
    next: *mut Free,
}

#[derive(Clone, Copy)]
struct List {
    head: *mut Free,
    len: u32,
}

pub struct SizeClasses<A> {
    inner: A,
    lists: UnsafeCell<[List; CLASSES]>,
}

// SAFETY: the lists are used without a lock, which is sound only where there
// is one thread: wasm32 without the atomics feature (where the allocator is
// a static). Natively only the tests build it, each its own, not shared.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
unsafe impl<A: Sync> Sync for SizeClasses<A> {}

/// The class of blocks of this layout, if it has one.
#[inline]
fn class_of(l: Layout) -> Option<usize> {
    if l.align() > GRAIN || l.size() == 0 || l.size() > CLASSES * GRAIN {
        return None;
    }
    Some((l.size() - 1) / GRAIN)
}

/// The layout every block of class `c` has in the allocator behind.
#[inline]
fn class_layout(c: usize) -> Layout {
    // SAFETY: GRAIN is a power of two and the size is at most CLASSES * GRAIN.
    unsafe { Layout::from_size_align_unchecked((c + 1) * GRAIN, GRAIN) }
}

impl<A> SizeClasses<A> {
    pub const fn new(inner: A) -> Self {
        SizeClasses {
            inner,
            lists: UnsafeCell::new(
                [List {
                    head: ptr::null_mut(),
                    len: 0,
                }; CLASSES],
            ),
        }
    }

    /// The free list of class `c`.
    ///
    /// # Safety
    /// One thread; no other reference to the lists is alive.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    unsafe fn list(&self, c: usize) -> &mut List {
        // SAFETY: `c < CLASSES` (from `class_of`); the caller holds the only reference.
        unsafe { (*self.lists.get()).get_unchecked_mut(c) }
    }
}

#[cfg(test)]
impl<A: GlobalAlloc> SizeClasses<A> {
    /// Gives every kept block back to the allocator behind (so that Miri
    /// sees nothing leak).
    unsafe fn release(&self) {
        for c in 0..CLASSES {
            let list = unsafe { self.list(c) };
            while !list.head.is_null() {
                let p = list.head;
                list.head = unsafe { (*p).next };
                list.len -= 1;
                unsafe { self.inner.dealloc(p.cast(), class_layout(c)) };
            }
        }
    }
}

unsafe impl<A: GlobalAlloc> GlobalAlloc for SizeClasses<A> {
    #[inline]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let Some(c) = class_of(l) else {
            return unsafe { self.inner.alloc(l) };
        };
        let list = unsafe { self.list(c) };
        let p = list.head;
        if p.is_null() {
            return unsafe { self.inner.alloc(class_layout(c)) };
        }
        list.head = unsafe { (*p).next };
        list.len -= 1;
        p.cast()
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if class_of(l).is_none() {
            return unsafe { self.inner.alloc_zeroed(l) };
        }
        let p = unsafe { self.alloc(l) };
        if !p.is_null() {
            unsafe { p.write_bytes(0, l.size()) };
        }
        p
    }

    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        let Some(c) = class_of(l) else {
            return unsafe { self.inner.dealloc(p, l) };
        };
        let list = unsafe { self.list(c) };
        if (list.len as usize + 1) * class_layout(c).size() > KEEP_BYTES {
            return unsafe { self.inner.dealloc(p, class_layout(c)) };
        }
        let block = p.cast::<Free>();
        unsafe { block.write(Free { next: list.head }) };
        list.head = block;
        list.len += 1;
    }

    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller promises `new_size`, rounded up to `l.align()`, fits.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, l.align()) };
        match (class_of(l), class_of(new)) {
            (None, None) => unsafe { self.inner.realloc(p, l, new_size) },
            // The block has its class's size: it holds the new size too.
            (Some(a), Some(b)) if a == b => p,
            _ => {
                let q = unsafe { self.alloc(new) };
                if !q.is_null() {
                    unsafe {
                        ptr::copy_nonoverlapping(p, q, l.size().min(new_size));
                        self.dealloc(p, l);
                    }
                }
                q
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;
    use std::cell::RefCell;
    use std::collections::HashMap;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    /// The system allocator, keeping the layout of every block it handed
    /// out: a block must be freed with the layout it was made with (talc
    /// finds a block's end from the size it is told).
    #[derive(Default)]
    struct Ledger(RefCell<HashMap<usize, Layout>>);

    impl Ledger {
        /// The size the allocator behind made the block at `p`.
        fn size_of(&self, p: *mut u8) -> usize {
            self.0
                .borrow()
                .get(&(p as usize))
                .expect("a live block")
                .size()
        }

        fn take(&self, p: *mut u8, l: Layout) {
            let made = self.0.borrow_mut().remove(&(p as usize));
            assert_eq!(made, Some(l), "freed with a layout it was not made with");
        }
    }

    unsafe impl GlobalAlloc for Ledger {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let p = unsafe { System.alloc(l) };
            self.0.borrow_mut().insert(p as usize, l);
            p
        }

        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            self.take(p, l);
            unsafe { System.dealloc(p, l) }
        }

        unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
            self.take(p, l);
            let q = unsafe { System.realloc(p, l, new_size) };
            self.0
                .borrow_mut()
                .insert(q as usize, layout(new_size, l.align()));
            q
        }
    }

    #[test]
    fn a_freed_block_serves_the_next_request_of_its_class() {
        let a = SizeClasses::new(Ledger::default());
        unsafe {
            let p = a.alloc(layout(40, 8));
            a.dealloc(p, layout(40, 8));
            // 33..=40 bytes are one class: the same block comes back.
            let q = a.alloc(layout(33, 4));
            assert_eq!(p, q);
            // Another class does not take it.
            let r = a.alloc(layout(48, 8));
            assert_ne!(r, q);
            a.dealloc(q, layout(33, 4));
            a.dealloc(r, layout(48, 8));
            // Over-aligned and large requests go straight through.
            let big = a.alloc(layout(4096, 8));
            let aligned = a.alloc(layout(16, 64));
            assert_eq!(aligned as usize % 64, 0);
            a.dealloc(big, layout(4096, 8));
            a.dealloc(aligned, layout(16, 64));
            a.release();
        }
        assert!(a.inner.0.borrow().is_empty(), "every block went back");
    }

    #[test]
    fn a_class_keeps_no_more_than_its_share() {
        let a = SizeClasses::new(Ledger::default());
        let l = layout(256, 8);
        unsafe {
            let blocks: Vec<_> = (0..1000).map(|_| a.alloc(l)).collect();
            for &p in &blocks {
                a.dealloc(p, l);
            }
            // The rest went back to the allocator behind.
            assert_eq!(a.list(class_of(l).unwrap()).len as usize, KEEP_BYTES / 256);
            assert_eq!(a.inner.0.borrow().len(), KEEP_BYTES / 256);
            a.release();
        }
    }

    #[test]
    fn blocks_are_big_enough_and_keep_their_bytes_through_reuse_and_realloc() {
        let a = SizeClasses::new(Ledger::default());
        let fill = |p: *mut u8, size: usize| {
            (0..size).for_each(|i| unsafe { *p.add(i) = (size + i) as u8 })
        };
        let holds = |p: *mut u8, size: usize, n: usize| {
            (0..n).all(|i| unsafe { *p.add(i) } == (size + i) as u8)
        };
        unsafe {
            // Every size from 1 to 300 bytes (classes end at 256), written,
            // grown and shrunk across classes and out of them, freed and
            // taken again.
            let mut live: Vec<(*mut u8, usize)> = Vec::new();
            for round in 0..3 {
                for size in 1..300usize {
                    let p = if round == 1 {
                        a.alloc_zeroed(layout(size, 1))
                    } else {
                        a.alloc(layout(size, 1))
                    };
                    assert!(a.inner.size_of(p) >= size, "a block of {size}");
                    if round == 1 {
                        assert!((0..size).all(|i| *p.add(i) == 0), "alloc_zeroed of {size}");
                    }
                    fill(p, size);
                    live.push((p, size));
                }
                for (p, size) in live.iter_mut() {
                    let new_size = (*size * 3 + 5) % 400 + 1;
                    let q = a.realloc(*p, layout(*size, 1), new_size);
                    assert!(
                        a.inner.size_of(q) >= new_size,
                        "realloc {size} -> {new_size}"
                    );
                    assert!(
                        holds(q, *size, (*size).min(new_size)),
                        "realloc {size} -> {new_size}"
                    );
                    fill(q, new_size);
                    *p = q;
                    *size = new_size;
                }
                // Free every other one: later rounds reuse them.
                let mut kept = Vec::new();
                for (i, (p, size)) in live.drain(..).enumerate() {
                    if i % 2 == 0 {
                        a.dealloc(p, layout(size, 1));
                    } else {
                        kept.push((p, size));
                    }
                }
                for &(p, size) in &kept {
                    assert!(holds(p, size, size), "a kept block of {size}");
                }
                live = kept;
            }
            for (p, size) in live {
                a.dealloc(p, layout(size, 1));
            }
            a.release();
        }
        assert!(a.inner.0.borrow().is_empty(), "every block went back");
    }
}
