//! A message's bytes behind a thin, reference-counted pointer.
//!
//! `Rc<[u8]>` is a fat pointer (address and length) to a block with two
//! word-sized counts. Every queued message holds one, so here the length
//! lives in the block and the handle is one address: 4 bytes in wasm instead
//! of 8, 8 natively instead of 16. The block's header is 8 bytes where `Rc`
//! has 16 natively: one count (the engine is single-threaded and never needs
//! a weak reference) and the length.
//!
//! The engine's `unsafe` code for blocks is kept to this module: allocation,
//! the count, and reading the bytes back.

use crate::short_bytes;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::Cell;
use std::mem::size_of;
use std::ptr::NonNull;

/// What precedes the bytes: the length's low 32 bits in `len`; in `word`,
/// the count in the low 24 bits and the length's next 8 bits above them, so
/// a block can hold up to 1 TiB and reading its length takes no branch.
#[repr(C)]
struct Header {
    word: Cell<u32>,
    len: u32,
}

const COUNT: u32 = (1 << 24) - 1;

/// A count that reached this stays there: the block is then never freed
/// (a leak, which is safe, rather than a count that wraps, which is not).
const STUCK: u32 = COUNT;

/// The longest block: 40 bits of length.
const MAX_LEN: u64 = (1 << 40) - 1;

/// An immutable byte block shared by reference count. Not `Send`: as `Rc`,
/// it belongs to the thread that made it.
pub struct Block(NonNull<Header>);

impl Block {
    fn layout(len: usize) -> Layout {
        match size_of::<Header>()
            .checked_add(len)
            .filter(|_| len as u64 <= MAX_LEN)
            .and_then(|size| Layout::from_size_align(size, std::mem::align_of::<Header>()).ok())
        {
            Some(l) => l,
            // Beyond what a block can say (1 TiB) or the address space: as
            // for an allocation that cannot succeed.
            None => handle_alloc_error(Layout::new::<Header>()),
        }
    }

    /// One block holding `parts` one after another: a single allocation.
    /// Inlined so the parts' count and small lengths are known where it is
    /// called (at the size-tuned inline threshold it would stay a call).
    #[inline]
    pub fn from_parts(parts: &[&[u8]]) -> Block {
        let len = parts.iter().fold(0usize, |n, p| n.saturating_add(p.len()));
        let layout = Self::layout(len);
        // At most MAX_LEN (see `layout`).
        let len = len as u64;
        // SAFETY: the layout is never zero-sized (it holds the header). The
        // header is written before any reference to it is made, and the
        // parts, whose lengths add up to `len`, are copied into the `len`
        // bytes that follow it, which nothing else points to yet.
        unsafe {
            let Some(header) = NonNull::new(alloc(layout).cast::<Header>()) else {
                handle_alloc_error(layout)
            };
            header.as_ptr().write(Header {
                word: Cell::new(1 | (((len >> 32) as u32) << 24)),
                len: len as u32,
            });
            let mut at = header.as_ptr().cast::<u8>().add(size_of::<Header>());
            for p in parts {
                // Names and small bodies: no call to `memcpy` (see `crate::short_bytes`).
                short_bytes::write(at, p);
                at = at.add(p.len());
            }
            Block(header)
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the header lives as long as any handle to it.
        unsafe { self.0.as_ref() }
    }

    fn count(&self) -> u32 {
        self.header().word.get() & COUNT
    }

    fn len(&self) -> usize {
        let h = self.header();
        (u64::from(h.len) | (u64::from(h.word.get() >> 24) << 32)) as usize
    }

    /// The address of the bytes: the block's identity, shared by its clones.
    pub fn as_ptr(&self) -> *const u8 {
        self.0
            .as_ptr()
            .cast::<u8>()
            .wrapping_add(size_of::<Header>())
    }
}

impl std::ops::Deref for Block {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `len` initialised bytes follow the header (see
        // `from_parts`) and stay unchanged until the last handle goes.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.len()) }
    }
}

impl Clone for Block {
    fn clone(&self) -> Self {
        if self.count() != STUCK {
            let word = &self.header().word;
            word.set(word.get() + 1);
        }
        Block(self.0)
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        let count = self.count();
        if count == STUCK {
            return;
        }
        if count > 1 {
            let word = &self.header().word;
            word.set(word.get() - 1);
            return;
        }
        let layout = Self::layout(self.len());
        // SAFETY: this was the last handle; the block was allocated with
        // this layout (the same length) in `from_parts`.
        unsafe { dealloc(self.0.as_ptr().cast::<u8>(), layout) }
    }
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl PartialEq for Block {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn parts_are_joined_and_clones_share_them() {
        let b = Block::from_parts(&[b"ab", b"", b"cde"]);
        assert_eq!(&*b, b"abcde");
        let c = b.clone();
        assert_eq!(b.as_ptr(), c.as_ptr());
        assert_eq!(b.count(), 2);
        drop(b);
        assert_eq!(&*c, b"abcde");
        assert_eq!(c.count(), 1);
        let empty = Block::from_parts(&[]);
        assert!(empty.is_empty());
        assert_eq!(Block::from_parts(&[b"x"]), Block::from_parts(&[b"x"]));
    }

    #[test]
    fn parts_of_every_short_length_are_copied_whole() {
        let data: Vec<u8> = (1..=40u8).collect();
        for n in 0..=data.len() {
            let part = &data[..n];
            let b = Block::from_parts(&[b"\x01", part, b"z"]);
            assert_eq!(&b[1..=n], part, "{n} bytes");
            assert_eq!((b[0], b[n + 1], b.len()), (1, b'z', n + 2));
        }
    }

    #[test]
    fn a_handle_is_one_pointer_and_the_header_eight_bytes() {
        assert_eq!(size_of::<Block>(), size_of::<usize>());
        assert_eq!(size_of::<Option<Block>>(), size_of::<usize>());
        assert_eq!(size_of::<Header>(), 8);
        assert_eq!(Block::layout(18).size(), 26);
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_length_has_40_bits_beside_the_count() {
        let b = Block::from_parts(&[b"xyz"]);
        // As a block of 2^32 + 3 bytes would say it, without allocating one.
        b.header().word.set(b.header().word.get() | (1 << 24));
        assert_eq!(b.len() as u64, (1 << 32) + 3);
        assert_eq!(b.count(), 1);
        b.header().word.set(1);
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn a_count_at_its_limit_stays_there() {
        let b = Block::from_parts(&[b"x"]);
        b.header().word.set(STUCK);
        let c = b.clone();
        drop(c);
        assert_eq!(b.count(), STUCK);
        assert_eq!(&*b, b"x");
        // Reset so the test frees what it made.
        b.header().word.set(1);
    }
}
