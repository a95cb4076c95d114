//! Short byte slices (names, consumer tags, small bodies), copied and
//! compared in fixed-size pieces that compile to plain loads and stores.
//!
//! In wasm, a copy whose length is known only at run time is a
//! `memory.copy`, which V8 (as in Node 20) runs as a call out of the wasm
//! code: some 50 instructions before the first byte moves. Such slices are
//! copied several times per message, so those of up to 32 bytes are moved
//! here, in wasm, in pieces (`bench/wire-instructions.mjs`). Comparing them
//! is a call to `memcmp` in any build, which costs more than their bytes.

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

/// Byte-wise equality of two short slices, inline: a few bytes, which words
/// compare in less than a call to `memcmp` costs. The last eight bytes (or
/// the first and last four) overlap the ones compared before them.
#[inline]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if let (Some((_, x)), Some((_, y))) = (a.split_last_chunk::<8>(), b.split_last_chunk::<8>()) {
        if x != y {
            return false;
        }
        let (mut a, mut b) = (a, b);
        while a.len() > 8 {
            let (Some((x, ra)), Some((y, rb))) =
                (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
            else {
                break;
            };
            if x != y {
                return false;
            }
            (a, b) = (ra, rb);
        }
        return true;
    }
    match (
        a.first_chunk::<4>(),
        a.last_chunk::<4>(),
        b.first_chunk::<4>(),
        b.last_chunk::<4>(),
    ) {
        (Some(a0), Some(a1), Some(b0), Some(b1)) => a0 == b0 && a1 == b1,
        _ => a.iter().zip(b).all(|(x, y)| x == y),
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

    #[test]
    fn names_are_equal_exactly_when_their_bytes_are() {
        for len in 0..=20u8 {
            let a: Vec<u8> = (1..=len).collect();
            assert!(same(&a, &a.clone()), "{len} bytes");
            let mut longer = a.clone();
            longer.push(0);
            assert!(!same(&a, &longer), "{len} bytes and one more");
            for at in 0..a.len() {
                let mut b = a.clone();
                if let Some(x) = b.get_mut(at) {
                    *x ^= 0x20;
                }
                assert!(!same(&a, &b), "{len} bytes, differing at {at}");
            }
        }
    }
}
