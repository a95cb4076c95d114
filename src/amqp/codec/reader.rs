//! A bounds-checked cursor over received bytes: every read either succeeds or
//! returns [`Malformed::Truncated`], never panics.

use super::error::Malformed;
use crate::broker::ShortStr;

/// Reads big-endian AMQP primitives from a byte slice.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// The bytes not read yet.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// Every byte was read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Fails unless every byte was read (decoders reject trailing bytes).
    pub fn finish(&self) -> Result<(), Malformed> {
        match self.rest.len() {
            0 => Ok(()),
            count => Err(Malformed::TrailingBytes { count }),
        }
    }

    /// The next `n` bytes.
    #[inline]
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if n > self.rest.len() {
            return Err(Malformed::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array. Returns a reference: building the array
    /// in a `Result` costs a store-forwarding stall on every integer read.
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Result<&'a [u8; N], Malformed> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(Malformed::Truncated)?;
        self.rest = tail;
        Ok(head)
    }

    /// An `octet`.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, Malformed> {
        let (&b, tail) = self.rest.split_first().ok_or(Malformed::Truncated)?;
        self.rest = tail;
        Ok(b)
    }

    /// A big-endian `short`.
    #[inline]
    pub fn u16(&mut self) -> Result<u16, Malformed> {
        self.array().map(|b| u16::from_be_bytes(*b))
    }

    /// A big-endian `long`.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, Malformed> {
        self.array().map(|b| u32::from_be_bytes(*b))
    }

    /// A big-endian `longlong` (or `timestamp`).
    #[inline]
    pub fn u64(&mut self) -> Result<u64, Malformed> {
        self.array().map(|b| u64::from_be_bytes(*b))
    }

    /// A `shortstr`: one length octet, then UTF-8 text.
    #[inline]
    pub fn short_str(&mut self) -> Result<ShortStr, Malformed> {
        let len = self.u8()?;
        let bytes = self.bytes(usize::from(len))?;
        short_str_from(bytes)
    }

    /// A `longstr`: a 32-bit length, then that many bytes.
    #[inline]
    pub fn long_bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let len = self.u32()?;
        let len = usize::try_from(len).map_err(|_| Malformed::Truncated)?;
        self.bytes(len)
    }
}

/// Checks UTF-8 and wraps bytes of at most 255 bytes as a [`ShortStr`].
pub(crate) fn short_str_from(bytes: &[u8]) -> Result<ShortStr, Malformed> {
    if bytes.is_empty() {
        // The default exchange arrives on most publishes: the shared empty
        // string saves an allocation each time.
        return Ok(ShortStr::empty());
    }
    let text = std::str::from_utf8(bytes).map_err(|_| Malformed::NotUtf8)?;
    // Cannot fail: the length came from one octet.
    ShortStr::new(text).map_err(|_| Malformed::Truncated)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn reads_big_endian_primitives() {
        let mut r = Reader::new(&[1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4]);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(2));
        assert_eq!(r.u32(), Ok(3));
        assert_eq!(r.u64(), Ok(4));
        assert!(r.finish().is_ok());
    }

    #[test]
    fn short_reads_are_truncated_not_panics() {
        let mut r = Reader::new(&[0, 1]);
        assert_eq!(r.u32(), Err(Malformed::Truncated));
        assert_eq!(r.bytes(3), Err(Malformed::Truncated));
        assert_eq!(r.u16(), Ok(1));
        assert_eq!(r.u8(), Err(Malformed::Truncated));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 1]);
        assert_eq!(r.long_bytes(), Err(Malformed::Truncated));
    }

    #[test]
    fn short_strings_must_be_utf8() {
        assert_eq!(Reader::new(&[2, b'h', b'i']).short_str().unwrap(), "hi");
        assert_eq!(
            Reader::new(&[2, 0xc3, 0x28]).short_str(),
            Err(Malformed::NotUtf8)
        );
        assert_eq!(
            Reader::new(&[5, b'a']).short_str(),
            Err(Malformed::Truncated)
        );
        assert_eq!(Reader::new(&[0]).short_str().unwrap(), "");
    }

    #[test]
    fn trailing_bytes_are_counted() {
        let mut r = Reader::new(&[1, 2, 3]);
        r.u8().unwrap();
        assert_eq!(r.finish(), Err(Malformed::TrailingBytes { count: 2 }));
    }
}
