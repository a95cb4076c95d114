//! Appending AMQP primitives to a `Vec<u8>`. Encoding never fails: short strings
//! are at most 255 bytes by type, and lengths that would not fit their 32-bit
//! field are cut at `u32::MAX` so the output stays well-formed.

use crate::short_bytes::put_bytes;

/// Big-endian AMQP primitives written straight into the output buffer.
pub trait Writer {
    /// An `octet`.
    fn put_u8(&mut self, v: u8);
    /// A big-endian `short`.
    fn put_u16(&mut self, v: u16);
    /// A big-endian `long`.
    fn put_u32(&mut self, v: u32);
    /// A big-endian `longlong` (or `timestamp`).
    fn put_u64(&mut self, v: u64);
    /// A `shortstr`: length octet and text (cut at 255 bytes, which a
    /// `ShortStr` never exceeds).
    fn put_short_str(&mut self, s: &str);
    /// A `longstr`: 32-bit length and bytes.
    fn put_long_bytes(&mut self, bytes: &[u8]);
    /// Reserves a 32-bit length to fill in with [`Writer::end_len32`] once the
    /// bytes it counts are written; returns where it sits.
    fn begin_len32(&mut self) -> usize;
    /// Writes the number of bytes appended since `begin_len32` returned `at`.
    fn end_len32(&mut self, at: usize);
}

impl Writer for Vec<u8> {
    #[inline]
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }

    #[inline]
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    #[inline]
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    #[inline]
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }

    #[inline]
    fn put_short_str(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let len = u8::try_from(bytes.len()).unwrap_or(u8::MAX);
        self.push(len);
        put_bytes(self, bytes.get(..usize::from(len)).unwrap_or_default());
    }

    #[inline]
    fn put_long_bytes(&mut self, bytes: &[u8]) {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.put_u32(len);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.extend_from_slice(bytes.get(..len).unwrap_or(bytes));
    }

    #[inline]
    fn begin_len32(&mut self) -> usize {
        let at = self.len();
        self.extend_from_slice(&[0; 4]);
        at
    }

    #[inline]
    fn end_len32(&mut self, at: usize) {
        let counted = self.len().saturating_sub(at.saturating_add(4));
        let len = u32::try_from(counted).unwrap_or(u32::MAX);
        if let Some(slot) = self.get_mut(at..at.saturating_add(4)) {
            slot.copy_from_slice(&len.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn writes_big_endian_primitives() {
        let mut buf = Vec::new();
        buf.put_u8(1);
        buf.put_u16(2);
        buf.put_u32(3);
        buf.put_u64(4);
        assert_eq!(buf, [1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4]);
    }

    #[test]
    fn strings_carry_their_length() {
        let mut buf = Vec::new();
        buf.put_short_str("ab");
        buf.put_long_bytes(b"xyz");
        assert_eq!(buf, [2, b'a', b'b', 0, 0, 0, 3, b'x', b'y', b'z']);
    }

    #[test]
    fn lengths_are_filled_in_afterwards() {
        let mut buf = vec![9];
        let at = buf.begin_len32();
        buf.extend_from_slice(b"hello");
        buf.end_len32(at);
        assert_eq!(buf, [9, 0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']);
    }
}
