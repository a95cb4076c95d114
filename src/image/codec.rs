//! The primitives an image is written in: LEB128 integers, length-prefixed
//! bytes and strings, and AMQP's own encodings for field tables and message
//! properties (reused from the codec, so the image cannot disagree with the
//! wire). Reading is bounds-checked and names the offset of what is wrong.

use super::ImageError;
use crate::amqp::codec::{
    decode_field_table, encode_field_table, read_properties, write_properties, Reader,
};
use crate::broker::{FieldTable, Message, Properties, Props, ShortStr};

/// Appends image primitives to a buffer. Every method is `inline(never)`:
/// images are taken and read once per sleep, and inlined copies at each of
/// hundreds of call sites would be most of the image code's size in wasm.
#[derive(Default)]
pub(crate) struct Enc {
    pub buf: Vec<u8>,
}

impl Enc {
    #[inline(never)]
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    #[inline(never)]
    pub fn bool(&mut self, v: bool) {
        self.buf.push(u8::from(v));
    }

    /// Unsigned LEB128: small numbers (counts, tags, most times) stay small.
    #[inline(never)]
    pub fn u64(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.buf.push(byte);
                return;
            }
            self.buf.push(byte | 0x80);
        }
    }

    #[inline(never)]
    pub fn usize(&mut self, v: usize) {
        self.u64(v as u64);
    }

    #[inline(never)]
    pub fn i64(&mut self, v: i64) {
        // Zig-zag, so small negative numbers stay small too.
        self.u64(((v << 1) ^ (v >> 63)) as u64);
    }

    #[inline(never)]
    pub fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.u64(v);
            }
        }
    }

    #[inline(never)]
    pub fn bytes(&mut self, b: &[u8]) {
        self.usize(b.len());
        self.buf.extend_from_slice(b);
    }

    #[inline(never)]
    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    #[inline(never)]
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }

    /// AMQP's encoding, with its 32-bit length prefix.
    #[inline(never)]
    pub fn table(&mut self, t: &FieldTable) {
        encode_field_table(t, &mut self.buf);
    }

    #[inline(never)]
    pub fn properties(&mut self, p: &Properties) {
        let mut tmp = Vec::new();
        write_properties(p, &mut tmp);
        self.bytes(&tmp);
    }

    #[inline(never)]
    pub fn message(&mut self, m: &Message) {
        self.str(m.exchange());
        self.str(m.routing_key());
        self.properties(&m.properties);
        self.bytes(m.body());
    }
}

/// Reads image primitives; every failure names its offset in the body.
///
/// A failure is kept in the reader and reads return [`Bad`], a marker with
/// nothing in it: the `?` after each of hundreds of reads passes on one
/// word, not a whole error with its text (kilobytes of wasm). Whoever
/// started reading takes the error with [`Dec::error`].
pub(crate) struct Dec<'a> {
    all: &'a [u8],
    at: usize,
    err: Option<ImageError>,
}

/// A read failed; the reader holds the error.
#[derive(Debug)]
pub(crate) struct Bad;

impl<'a> Dec<'a> {
    #[inline(never)]
    pub fn new(body: &'a [u8]) -> Self {
        Dec {
            all: body,
            at: 0,
            err: None,
        }
    }

    /// A failure at the current offset, kept for [`Dec::error`].
    pub fn bad(&mut self, what: impl Into<String>) -> Bad {
        self.bad_at(self.at, what.into())
    }

    /// A failure whose text is `before`, the number `n`, then `after`: one
    /// copy of the formatting for the many texts of that shape.
    #[inline(never)]
    pub fn bad_n(&mut self, before: &str, n: u64, after: &str) -> Bad {
        self.bad(format!("{before}{n}{after}"))
    }

    /// A failure whose text is `before`, the name `s`, then `after`: joined
    /// by one copy of the formatting.
    #[inline(never)]
    pub fn bad_s(&mut self, before: &str, s: &str, after: &str) -> Bad {
        self.bad(format!("{before}{s}{after}"))
    }

    /// A failure at `at`; the first one is kept.
    #[inline(never)]
    fn bad_at(&mut self, at: usize, what: String) -> Bad {
        if self.err.is_none() {
            self.err = Some(ImageError::Malformed { at, what });
        }
        Bad
    }

    /// The failure that made a read return [`Bad`].
    #[inline(never)]
    pub fn error(&mut self) -> ImageError {
        self.err.take().unwrap_or(ImageError::Malformed {
            at: self.at,
            what: String::new(),
        })
    }

    #[inline(never)]
    pub fn finish(&mut self) -> Result<(), Bad> {
        match self.all.len() - self.at.min(self.all.len()) {
            0 => Ok(()),
            n => Err(self.bad_n("", n as u64, " bytes left over after the image")),
        }
    }

    #[inline(never)]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Bad> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.all.len());
        let Some(slice) = end.and_then(|e| self.all.get(self.at..e)) else {
            return Err(self.bad("unexpected end of image"));
        };
        self.at += n;
        Ok(slice)
    }

    #[inline(never)]
    pub fn u8(&mut self) -> Result<u8, Bad> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }

    #[inline(never)]
    pub fn bool(&mut self) -> Result<bool, Bad> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.bad_n("", u64::from(b), " is not a boolean")),
        }
    }

    #[inline(never)]
    pub fn u64(&mut self) -> Result<u64, Bad> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(self.bad("integer overflows 64 bits"));
            }
            v |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.bad("integer longer than 10 bytes"))
    }

    #[inline(never)]
    pub fn u32(&mut self) -> Result<u32, Bad> {
        let v = self.u64()?;
        u32::try_from(v).map_err(|_| self.bad_n("", v, " does not fit 32 bits"))
    }

    #[inline(never)]
    pub fn u16(&mut self) -> Result<u16, Bad> {
        let v = self.u64()?;
        u16::try_from(v).map_err(|_| self.bad_n("", v, " does not fit 16 bits"))
    }

    #[inline(never)]
    pub fn usize(&mut self) -> Result<usize, Bad> {
        let v = self.u64()?;
        usize::try_from(v).map_err(|_| self.bad_n("", v, " does not fit a size"))
    }

    /// A count of items that each take at least one byte: never more than
    /// the bytes left, so a damaged count cannot make a huge allocation.
    #[inline(never)]
    pub fn count(&mut self) -> Result<usize, Bad> {
        let n = self.usize()?;
        if n > self.all.len().saturating_sub(self.at) {
            return Err(self.bad_n("count ", n as u64, " exceeds the bytes left"));
        }
        Ok(n)
    }

    #[inline(never)]
    pub fn i64(&mut self) -> Result<i64, Bad> {
        let v = self.u64()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    #[inline(never)]
    pub fn opt_u64(&mut self) -> Result<Option<u64>, Bad> {
        Ok(if self.bool()? {
            Some(self.u64()?)
        } else {
            None
        })
    }

    #[inline(never)]
    pub fn bytes(&mut self) -> Result<&'a [u8], Bad> {
        let n = self.usize()?;
        self.take(n)
    }

    #[inline(never)]
    pub fn string(&mut self) -> Result<String, Bad> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| self.bad("string is not UTF-8"))
    }

    #[inline(never)]
    pub fn opt_string(&mut self) -> Result<Option<String>, Bad> {
        Ok(if self.bool()? {
            Some(self.string()?)
        } else {
            None
        })
    }

    #[inline(never)]
    pub fn short_str(&mut self) -> Result<ShortStr, Bad> {
        let b = self.bytes()?;
        let s = std::str::from_utf8(b).map_err(|_| self.bad("short string is not UTF-8"))?;
        ShortStr::new(s).map_err(|e| self.bad(e.to_string()))
    }

    #[inline(never)]
    pub fn opt_short_str(&mut self) -> Result<Option<ShortStr>, Bad> {
        Ok(if self.bool()? {
            Some(self.short_str()?)
        } else {
            None
        })
    }

    #[inline(never)]
    pub fn table(&mut self) -> Result<FieldTable, Bad> {
        let at = self.at;
        let len = self.take(4)?;
        let len = <[u8; 4]>::try_from(len).map_or(0, u32::from_be_bytes) as usize;
        self.at = at;
        let bytes = self.take(4usize.saturating_add(len))?;
        decode_field_table(bytes).map_err(|e| self.bad_at(at, format!("field table: {e}")))
    }

    #[inline(never)]
    pub fn properties(&mut self) -> Result<Props, Bad> {
        let at = self.at;
        let bytes = self.bytes()?;
        let mut r = Reader::new(bytes);
        let p = read_properties(&mut r)
            .and_then(|p| r.finish().map(|()| p))
            .map_err(|e| self.bad_at(at, format!("message properties: {e}")))?;
        Ok(Props::new(p))
    }

    #[inline(never)]
    pub fn message(&mut self) -> Result<Message, Bad> {
        let exchange = self.short_str()?;
        let routing_key = self.short_str()?;
        let properties = self.properties()?;
        let body = self.bytes()?;
        Ok(Message::from_parts(
            &exchange,
            &routing_key,
            properties,
            body,
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::broker::FieldValue;

    #[test]
    fn primitives_round_trip() {
        let mut e = Enc::default();
        for v in [0, 1, 127, 128, 300, u64::MAX] {
            e.u64(v);
        }
        for v in [0, -1, 1, i64::MIN, i64::MAX] {
            e.i64(v);
        }
        let t = FieldTable::new().with("x-death", FieldValue::I32(3));
        e.table(&t);
        e.opt_str(Some("café"));
        let mut d = Dec::new(&e.buf);
        for v in [0, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(d.u64().unwrap(), v);
        }
        for v in [0, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(d.i64().unwrap(), v);
        }
        assert_eq!(d.table().unwrap(), t);
        assert_eq!(d.opt_string().unwrap().as_deref(), Some("café"));
        d.finish().unwrap();
    }

    #[test]
    fn failures_name_their_text_and_offset_and_the_first_is_kept() {
        let mut d = Dec::new(&[5, 0]);
        d.u8().unwrap();
        let _ = d.bad_s("unknown exchange type '", "x-fancy", "'");
        let _ = d.bad_n("channel state ", 7, "");
        let ImageError::Malformed { at, what } = d.error() else {
            panic!("not a malformed image");
        };
        assert_eq!((at, what.as_str()), (1, "unknown exchange type 'x-fancy'"));
        let _ = d.bad_n("channel state ", 7, "");
        assert!(d.error().to_string().contains("channel state 7"));
    }

    #[test]
    fn a_damaged_count_is_refused_before_allocating() {
        let mut e = Enc::default();
        e.u64(1 << 40);
        let mut d = Dec::new(&e.buf);
        assert!(d.count().is_err());
        assert!(matches!(d.error(), ImageError::Malformed { at: 6, .. }));
    }
}
