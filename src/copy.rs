//! Appending short byte slices without a `memory.copy` in wasm.
//!
//! In wasm, a copy whose length is known only at run time is a
//! `memory.copy`, which V8 (as in Node 20) runs as a call out of the wasm
//! code: some 50 instructions before the first byte moves. Names, consumer
//! tags and small bodies are copied several times per message, so those of
//! up to 32 bytes are moved here, in wasm, in fixed-size pieces, which
//! compile to plain loads and stores (`bench/wire-instructions.mjs`).

/// The longest slice moved in fixed-size pieces.
pub const SHORT: usize = 32;

/// Appends `bytes` to `buf`, as `extend_from_slice` does; in wasm, without
/// a `memory.copy` for one of up to [`SHORT`] bytes. Natively `memcpy` is the
/// cheaper of the two (`PROTOCOL_CASE=single` in `bench/protocol.rs`).
#[inline]
pub fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    if cfg!(target_family = "wasm") && bytes.len() <= SHORT {
        put_short(buf, bytes);
    } else {
        buf.extend_from_slice(bytes);
    }
}

/// [`put_bytes`] of at most [`SHORT`] bytes in fixed-size moves.
#[inline]
fn put_short(buf: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len().min(SHORT);
    buf.reserve(n);
    let len = buf.len();
    // SAFETY: `reserve` made room for `n` bytes past the length, which
    // `write_short` initialises before the length takes them in.
    unsafe {
        write_short(
            buf.as_mut_ptr().add(len),
            bytes.get(..n).unwrap_or_default(),
        );
        buf.set_len(len + n);
    }
}

/// Copies `bytes` to `at`: in wasm, one of up to [`SHORT`] bytes without a
/// `memory.copy` (see [`write_short`]).
///
/// # Safety
/// `at` must be valid for writing `bytes.len()` bytes that do not overlap
/// `bytes`.
#[inline(always)]
pub unsafe fn write(at: *mut u8, bytes: &[u8]) {
    // SAFETY: as this function's.
    unsafe {
        match bytes {
            // A name's length byte: no call to `memcpy` natively either.
            [b] => at.write(*b),
            _ if cfg!(target_family = "wasm") && bytes.len() <= SHORT => write_short(at, bytes),
            _ => std::ptr::copy_nonoverlapping(bytes.as_ptr(), at, bytes.len()),
        }
    }
}

/// Copies `bytes` (at most [`SHORT`]) to `at` as two moves of a fixed size
/// W, the widest with W <= len <= 2W: one from its start and one ending at
/// its end, which overlap in the middle.
///
/// # Safety
/// As [`write`]'s.
#[inline(always)]
unsafe fn write_short(at: *mut u8, bytes: &[u8]) {
    // SAFETY: as this function's.
    unsafe {
        match bytes.len() {
            0 => {}
            1 => pieces::<1>(at, bytes),
            2..=3 => pieces::<2>(at, bytes),
            4..=7 => pieces::<4>(at, bytes),
            8..=15 => pieces::<8>(at, bytes),
            16..=SHORT => pieces::<16>(at, bytes),
            n => std::ptr::copy_nonoverlapping(bytes.as_ptr(), at, n),
        }
    }
}

/// # Safety
/// As [`write`]'s, with `W <= bytes.len() <= 2W`.
#[inline(always)]
unsafe fn pieces<const W: usize>(at: *mut u8, bytes: &[u8]) {
    if let (Some(head), Some(tail)) = (bytes.first_chunk::<W>(), bytes.last_chunk::<W>()) {
        // SAFETY: both moves end within the `bytes.len()` bytes from `at`.
        unsafe {
            at.cast::<[u8; W]>().write_unaligned(*head);
            at.add(bytes.len() - W)
                .cast::<[u8; W]>()
                .write_unaligned(*tail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_as_extend_from_slice_does_at_every_length() {
        let data: Vec<u8> = (1..=48u8).collect();
        for before in [0usize, 3, 40] {
            for n in 0..=data.len() {
                let part = data.get(..n).unwrap_or_default();
                let mut want: Vec<u8> = vec![0xAA; before];
                want.extend_from_slice(part);
                let mut got = vec![0xAA; before];
                put_bytes(&mut got, part);
                assert_eq!(got, want, "{n} bytes after {before}");
                // The wasm build's moves, natively.
                if n <= SHORT {
                    let mut got = vec![0xAA; before];
                    put_short(&mut got, part);
                    assert_eq!(got, want, "{n} bytes in pieces after {before}");
                }
            }
        }
    }
}
