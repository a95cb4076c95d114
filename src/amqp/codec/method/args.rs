//! Method arguments on the wire: one [`Arg`] impl per Rust type, and the
//! reader/writer that pack consecutive `bit` arguments into shared octets.
//!
//! Bits are packed least significant first, eight to an octet; any other
//! argument ends the run, as the 0-9-1 spec (section 4.2.5.2) says.

use super::super::error::Malformed;
use super::super::reader::Reader;
use super::super::table::{encode_field_table, read_table};
use super::super::writer::Writer;
use crate::broker::{FieldTable, ShortStr};

/// The spec's domain types a method argument or property can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// One bit, packed with its neighbours (`bool`).
    Bit,
    /// `u8`
    Octet,
    /// `u16`
    Short,
    /// `u32`
    Long,
    /// `u64`
    LongLong,
    /// Length octet and UTF-8 text ([`ShortStr`]).
    ShortStr,
    /// 32-bit length and bytes (`Vec<u8>`).
    LongStr,
    /// `u64` seconds since the epoch.
    Timestamp,
    /// A [`FieldTable`].
    Table,
}

/// Reads arguments in order, keeping the octet that holds a run of bits.
pub(crate) struct ArgReader<'a> {
    r: Reader<'a>,
    bits: u8,
    // The next bit to read in `bits`; 0 when a new octet must be read.
    mask: u8,
}

impl<'a> ArgReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        ArgReader {
            r: Reader::new(bytes),
            bits: 0,
            mask: 0,
        }
    }

    /// The plain reader, for any argument that is not a bit.
    fn plain(&mut self) -> &mut Reader<'a> {
        self.mask = 0;
        &mut self.r
    }

    fn bit(&mut self) -> Result<bool, Malformed> {
        if self.mask == 0 {
            self.bits = self.r.u8()?;
            self.mask = 1;
        }
        let set = self.bits & self.mask != 0;
        self.mask <<= 1;
        Ok(set)
    }

    pub(crate) fn finish(&self) -> Result<(), Malformed> {
        self.r.finish()
    }

    /// Reads arguments of these kinds as their `Arg` impls do, keeping
    /// nothing: the same bytes fail with the same [`Malformed`].
    #[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
    pub(crate) fn check(&mut self, fields: &[(&str, FieldKind)]) -> Result<(), Malformed> {
        for &(_, kind) in fields {
            match kind {
                FieldKind::Bit => self.bit().map(drop)?,
                FieldKind::Octet => self.plain().u8().map(drop)?,
                FieldKind::Short => self.plain().u16().map(drop)?,
                FieldKind::Long => self.plain().u32().map(drop)?,
                FieldKind::LongLong | FieldKind::Timestamp => self.plain().u64().map(drop)?,
                FieldKind::ShortStr => self.plain().short_str().map(drop)?,
                FieldKind::LongStr => self.plain().long_bytes().map(drop)?,
                FieldKind::Table => read_table(self.plain()).map(drop)?,
            }
        }
        Ok(())
    }
}

/// Writes arguments in order into the output buffer, packing runs of bits.
pub(crate) struct ArgWriter<'a> {
    buf: &'a mut Vec<u8>,
    // Where the octet of the current bit run sits, and its next bit.
    at: usize,
    mask: u8,
}

impl<'a> ArgWriter<'a> {
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> Self {
        ArgWriter {
            buf,
            at: 0,
            mask: 0,
        }
    }

    fn plain(&mut self) -> &mut Vec<u8> {
        self.mask = 0;
        self.buf
    }

    fn bit(&mut self, set: bool) {
        if self.mask == 0 {
            self.at = self.buf.len();
            self.buf.push(0);
            self.mask = 1;
        }
        if set {
            if let Some(octet) = self.buf.get_mut(self.at) {
                *octet |= self.mask;
            }
        }
        self.mask <<= 1;
    }
}

/// A Rust type that is a method argument: its spec kind and wire form.
pub(crate) trait Arg: Sized {
    const KIND: FieldKind;
    fn read(r: &mut ArgReader<'_>) -> Result<Self, Malformed>;
    fn write(&self, w: &mut ArgWriter<'_>);
}

impl Arg for bool {
    const KIND: FieldKind = FieldKind::Bit;
    #[inline]
    fn read(r: &mut ArgReader<'_>) -> Result<Self, Malformed> {
        r.bit()
    }
    #[inline]
    fn write(&self, w: &mut ArgWriter<'_>) {
        w.bit(*self);
    }
}

impl Arg for u8 {
    const KIND: FieldKind = FieldKind::Octet;
    #[inline]
    fn read(r: &mut ArgReader<'_>) -> Result<Self, Malformed> {
        r.plain().u8()
    }
    #[inline]
    fn write(&self, w: &mut ArgWriter<'_>) {
        w.plain().put_u8(*self);
    }
}

impl Arg for u16 {
    const KIND: FieldKind = FieldKind::Short;
    #[inline]
    fn read(r: &mut ArgReader<'_>) -> Result<Self, Malformed> {
        r.plain().u16()
    }
    #[inline]
    fn write(&self, w: &mut ArgWriter<'_>) {
        w.plain().put_u16(*self);
    }
}

impl Arg for u32 {
    const KIND: FieldKind = FieldKind::Long;
    #[inline]
    fn read(r: &mut ArgReader<'_>) -> Result<Self, Malformed> {
        r.plain().u32()
    }
    #[inline]
    fn write(&self, w: &mut ArgWriter<'_>) {
        w.plain().put_u32(*self);
    }
}

impl Arg for u64 {
    const KIND: FieldKind = FieldKind::LongLong;
    #[inline]
    fn read(r: &mut ArgReader<'_>) -> Result<Self, Malformed> {
        r.plain().u64()
    }
    #[inline]
    fn write(&self, w: &mut ArgWriter<'_>) {
        w.plain().put_u64(*self);
    }
}

impl Arg for ShortStr {
    const KIND: FieldKind = FieldKind::ShortStr;
    #[inline]
    fn read(r: &mut ArgReader<'_>) -> Result<Self, Malformed> {
        r.plain().short_str()
    }
    #[inline]
    fn write(&self, w: &mut ArgWriter<'_>) {
        w.plain().put_short_str(self);
    }
}

/// `longstr` arguments (SASL responses, secrets) are bytes, not text.
impl Arg for Vec<u8> {
    const KIND: FieldKind = FieldKind::LongStr;
    fn read(r: &mut ArgReader<'_>) -> Result<Self, Malformed> {
        r.plain().long_bytes().map(<[u8]>::to_vec)
    }
    fn write(&self, w: &mut ArgWriter<'_>) {
        w.plain().put_long_bytes(self);
    }
}

impl Arg for FieldTable {
    const KIND: FieldKind = FieldKind::Table;
    fn read(r: &mut ArgReader<'_>) -> Result<Self, Malformed> {
        read_table(r.plain())
    }
    fn write(&self, w: &mut ArgWriter<'_>) {
        encode_field_table(self, w.plain());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::broker::FieldValue;

    #[test]
    fn consecutive_bits_share_an_octet_and_others_break_the_run() {
        let mut buf = Vec::new();
        let mut w = ArgWriter::new(&mut buf);
        for set in [true, false, true] {
            set.write(&mut w);
        }
        7u8.write(&mut w);
        true.write(&mut w);
        assert_eq!(buf, [0b101, 7, 1]);

        let mut r = ArgReader::new(&buf);
        assert!(bool::read(&mut r).unwrap());
        assert!(!bool::read(&mut r).unwrap());
        assert!(bool::read(&mut r).unwrap());
        assert_eq!(u8::read(&mut r).unwrap(), 7);
        assert!(bool::read(&mut r).unwrap());
        assert!(r.finish().is_ok());
    }

    /// Arguments of every kind in `fields`, each with some content.
    fn sample(fields: &[(&str, FieldKind)]) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut w = ArgWriter::new(&mut buf);
        for (i, &(_, kind)) in fields.iter().enumerate() {
            match kind {
                FieldKind::Bit => (i % 2 == 0).write(&mut w),
                FieldKind::Octet => 9u8.write(&mut w),
                FieldKind::Short => 300u16.write(&mut w),
                FieldKind::Long => 70_000u32.write(&mut w),
                FieldKind::LongLong | FieldKind::Timestamp => u64::MAX.write(&mut w),
                FieldKind::ShortStr => ShortStr::truncated("näme").write(&mut w),
                FieldKind::LongStr => b"\0guest\0guest".to_vec().write(&mut w),
                FieldKind::Table => {
                    let t = FieldTable(vec![(ShortStr::truncated("k"), FieldValue::I32(-1))]);
                    t.write(&mut w)
                }
            }
        }
        buf
    }

    /// What the wasm build does with a method only servers send must fail
    /// exactly as the full decode does, on every cut, corruption and excess.
    #[test]
    fn checking_arguments_fails_as_decoding_them_does() {
        use crate::amqp::codec::{DecodeError, Method, METHODS};
        for info in METHODS {
            let good = sample(info.fields);
            let mut inputs: Vec<Vec<u8>> = (0..=good.len()).map(|n| good[..n].to_vec()).collect();
            inputs.push([good.as_slice(), &[0]].concat());
            for at in 0..good.len() {
                for byte in [0xff, 0xc3, 0x3f, 0] {
                    let mut bad = good.clone();
                    bad[at] = byte;
                    inputs.push(bad);
                }
            }
            for bytes in inputs {
                let decoded = match Method::decode(info.class_id, info.method_id, &bytes) {
                    Ok(_) => Ok(()),
                    Err(DecodeError::Method { cause, .. }) => Err(cause),
                    Err(e) => panic!("{}: {e}", info.name),
                };
                let mut r = ArgReader::new(&bytes);
                let checked = r.check(info.fields).and_then(|()| r.finish());
                assert_eq!(checked, decoded, "{} on {bytes:?}", info.name);
            }
        }
    }

    #[test]
    fn a_ninth_bit_starts_a_new_octet() {
        let mut buf = Vec::new();
        let mut w = ArgWriter::new(&mut buf);
        for _ in 0..9 {
            true.write(&mut w);
        }
        assert_eq!(buf, [0xff, 1]);
        let mut r = ArgReader::new(&buf);
        for _ in 0..9 {
            assert!(bool::read(&mut r).unwrap());
        }
        assert!(r.finish().is_ok());
    }
}
