//! The wasm build's allocator (talc) behind calls that are never inlined:
//! with LTO, talc's allocate and free were otherwise copied into the
//! functions that allocate, several KiB of the shipped wasm for no speed
//! (the instructions per message of `bench/js-api-instructions.mjs` are the
//! same either way).

use core::alloc::{GlobalAlloc, Layout};

pub struct Outlined<A>(pub A);

unsafe impl<A: GlobalAlloc> GlobalAlloc for Outlined<A> {
    #[inline(never)]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        self.0.alloc(l)
    }

    #[inline(never)]
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        self.0.alloc_zeroed(l)
    }

    #[inline(never)]
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        self.0.dealloc(p, l)
    }

    #[inline(never)]
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        self.0.realloc(p, l, new_size)
    }
}
