//! A message's bytes behind a thin, reference-counted pointer.
//!
//! `Rc<[u8]>` is a fat pointer (address and length) to a block with two
//! word-sized counts. Every queued message holds one, so here the length
//! lives in the block and the handle is one address: 4 bytes in wasm instead
//! of 8, 8 natively instead of 16. There is one count (the engine is
//! single-threaded and never needs a weak reference), of 32 bits.
//!
//! The only `unsafe` code in the engine, kept to this module: allocation,
//! the count, and reading the bytes back.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::Cell;
use std::ptr::NonNull;

/// What precedes the bytes. `len` is a `usize` so that any slice fits.
#[repr(C)]
struct Header {
    count: Cell<u32>,
    len: usize,
}

/// A count that reached this stays there: the block is then never freed
/// (a leak, which is safe, rather than a count that wraps, which is not).
const STUCK: u32 = u32::MAX;

/// An immutable byte block shared by reference count. Not `Send`: as `Rc`,
/// it belongs to the thread that made it.
pub struct Block(NonNull<Header>);

impl Block {
    const DATA: usize = std::mem::size_of::<Header>();

    fn layout(len: usize) -> Layout {
        match Self::DATA
            .checked_add(len)
            .and_then(|size| Layout::from_size_align(size, std::mem::align_of::<Header>()).ok())
        {
            Some(l) => l,
            // Beyond the address space: no allocation could succeed either.
            None => handle_alloc_error(Layout::new::<Header>()),
        }
    }

    /// One block holding `parts` one after another: a single allocation.
    pub fn from_parts(parts: &[&[u8]]) -> Block {
        let len = parts.iter().fold(0usize, |n, p| n.saturating_add(p.len()));
        let layout = Self::layout(len);
        // SAFETY: the layout is never zero-sized (it holds the header). The
        // header is written before any reference to it is made, and the
        // parts, whose lengths add up to `len`, are copied into the `len`
        // bytes that follow it, which nothing else points to yet.
        unsafe {
            let Some(header) = NonNull::new(alloc(layout).cast::<Header>()) else {
                handle_alloc_error(layout)
            };
            header.as_ptr().write(Header {
                count: Cell::new(1),
                len,
            });
            let mut at = header.as_ptr().cast::<u8>().add(Self::DATA);
            for p in parts {
                std::ptr::copy_nonoverlapping(p.as_ptr(), at, p.len());
                at = at.add(p.len());
            }
            Block(header)
        }
    }

    fn header(&self) -> &Header {
        // SAFETY: the header lives as long as any handle to it.
        unsafe { self.0.as_ref() }
    }

    /// The address of the bytes: the block's identity, shared by its clones.
    pub fn as_ptr(&self) -> *const u8 {
        self.0.as_ptr().cast::<u8>().wrapping_add(Self::DATA)
    }
}

impl std::ops::Deref for Block {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `len` initialised bytes follow the header (see `from_parts`)
        // and stay unchanged until the last handle goes.
        unsafe { std::slice::from_raw_parts(self.as_ptr(), self.header().len) }
    }
}

impl Clone for Block {
    fn clone(&self) -> Self {
        let count = &self.header().count;
        if count.get() != STUCK {
            count.set(count.get() + 1);
        }
        Block(self.0)
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        let header = self.header();
        let count = header.count.get();
        if count == STUCK {
            return;
        }
        if count > 1 {
            header.count.set(count - 1);
            return;
        }
        let layout = Self::layout(header.len);
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
        assert_eq!(b.header().count.get(), 2);
        drop(b);
        assert_eq!(&*c, b"abcde");
        assert_eq!(c.header().count.get(), 1);
        let empty = Block::from_parts(&[]);
        assert!(empty.is_empty());
        assert_eq!(Block::from_parts(&[b"x"]), Block::from_parts(&[b"x"]));
    }

    #[test]
    fn a_handle_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Block>(), std::mem::size_of::<usize>());
        assert_eq!(
            std::mem::size_of::<Option<Block>>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn a_count_at_its_limit_stays_there() {
        let b = Block::from_parts(&[b"x"]);
        b.header().count.set(STUCK);
        let c = b.clone();
        drop(c);
        assert_eq!(b.header().count.get(), STUCK);
        // Reset so the test frees what it made.
        b.header().count.set(1);
    }
}
