//! A page: a run of one queue's entries as bytes, written to the store when
//! the queue passes its memory budget and read back ahead of its consumers.
//!
//! ```text
//! magic "WP" | version u8 | count | entries:
//!   seq - previous seq, zig-zag(msg_id - previous msg_id), deliveries,
//!   failed, expires_at + 1, properties, message block
//! ```
//! In the image's primitives (LEB128 integers, length-prefixed bytes; AMQP's
//! encoding for properties, empty when there are none); "previous" is 0 for
//! the first entry. The message is its block as it is in memory, so reading
//! a page back makes one allocation per message and parses nothing but
//! lengths. Version 2 stores seq and msg_id as differences (one byte each for
//! a run of consecutive publishes, where version 1, still read, stored them
//! whole: three or four bytes each past a few million messages).

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

use crate::amqp::codec::{read_properties, Reader as AmqpReader};
use crate::broker::queue::{count16, Entry};
use crate::broker::{Message, Props};
use crate::image::codec::Enc;

const MAGIC: &[u8; 2] = b"WP";
const VERSION: u8 = 2;
/// Whole seq and msg_id.
const VERSION_1: u8 = 1;

/// The bytes of a page holding `entries`.
pub fn encode(entries: &[Entry]) -> Vec<u8> {
    encode_version(entries, VERSION)
}

fn encode_version(entries: &[Entry], version: u8) -> Vec<u8> {
    let mut w = Enc::default();
    w.buf.extend_from_slice(MAGIC);
    w.u8(version);
    w.usize(entries.len());
    let (mut seq, mut msg_id) = (0u64, 0u64);
    for e in entries {
        if version == VERSION_1 {
            w.u64(e.seq);
            w.u64(e.msg_id);
        } else {
            w.u64(e.seq.wrapping_sub(seq));
            w.i64(e.msg_id.wrapping_sub(msg_id) as i64);
        }
        (seq, msg_id) = (e.seq, e.msg_id);
        w.u64(u64::from(e.deliveries));
        w.u64(u64::from(e.failed));
        w.u64(e.expires_at.wrapping_add(1));
        if e.msg.properties.is_empty() {
            w.bytes(&[]);
        } else {
            w.properties(&e.msg.properties);
        }
        w.bytes(e.msg.block());
    }
    w.buf
}

/// The entries of a page, or why its bytes are not one.
///
/// The hot path of a paged queue's consumers: one pass, integers read
/// inline (most are one byte), the entries' vector reserved exactly, one
/// allocation per message for its block. The host checked the page's
/// checksum; lengths are still checked, so damage never reads out of bounds.
pub fn decode(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    if bytes.get(..2) != Some(&MAGIC[..]) {
        return Err("not a page".into());
    }
    let mut r = Reader { b: bytes, at: 2 };
    let version = r.byte().ok_or_else(|| r.damaged())?;
    if version != VERSION && version != VERSION_1 {
        return Err(format!(
            "page format version {version} (this build reads {VERSION_1} and {VERSION})"
        ));
    }
    let n = r.uleb().ok_or_else(|| r.damaged())?;
    // Each entry takes at least seven bytes: a damaged count cannot make a
    // huge allocation.
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n <= bytes.len() / 7)
        .ok_or_else(|| format!("damaged page: count {n} exceeds its bytes"))?;
    let mut out = Vec::with_capacity(n);
    // Version 1 adds each whole number to 0.
    let deltas = version != VERSION_1;
    let mut prev = (0u64, 0u64);
    for _ in 0..n {
        let e = r.entry(prev, deltas).ok_or_else(|| r.damaged())??;
        prev = (e.seq, e.msg_id);
        out.push(e);
    }
    if r.at != bytes.len() {
        return Err(format!(
            "damaged page: {} bytes left over after its entries",
            bytes.len() - r.at
        ));
    }
    Ok(out)
}

/// A cursor over a page's bytes; `None` where they end too early.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    #[inline(always)]
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.at)?;
        self.at += 1;
        Some(v)
    }

    /// Unsigned LEB128 (as `image::codec`), the one-byte case first.
    #[inline(always)]
    fn uleb(&mut self) -> Option<u64> {
        let first = self.byte()?;
        if first < 0x80 {
            return Some(u64::from(first));
        }
        self.uleb_rest(first)
    }

    #[inline(never)]
    fn uleb_rest(&mut self, first: u8) -> Option<u64> {
        let mut v = u64::from(first & 0x7f);
        for shift in (7..64).step_by(7) {
            let byte = self.byte()?;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return None;
            }
            v |= bits << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    #[inline(always)]
    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.uleb()?).ok()
    }

    /// Length-prefixed bytes.
    #[inline(always)]
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.uleb()?).ok()?;
        let end = self.at.checked_add(len)?;
        let v = self.b.get(self.at..end)?;
        self.at = end;
        Some(v)
    }

    /// One entry after the one with `(seq, msg_id)`; the outer `None` where
    /// the bytes end, the inner error for fields that do not decode.
    #[inline(always)]
    fn entry(&mut self, (seq, msg_id): (u64, u64), deltas: bool) -> Option<Result<Entry, String>> {
        let (seq, msg_id) = if deltas {
            let ds = self.uleb()?;
            let dm = self.uleb()?;
            // Zig-zag: msg ids of requeued or routed-again entries may fall.
            let dm = (dm >> 1) ^ (dm & 1).wrapping_neg();
            (seq.wrapping_add(ds), msg_id.wrapping_add(dm))
        } else {
            (self.uleb()?, self.uleb()?)
        };
        let deliveries = self.u32()?;
        let failed = self.u32()?;
        let expires_at = self.uleb()?.wrapping_sub(1);
        let props = self.bytes()?;
        let props = if props.is_empty() {
            Props::default()
        } else {
            match properties(props) {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            }
        };
        let block = self.bytes()?;
        Some(
            Message::from_block(block, props)
                .map(|msg| Entry {
                    seq,
                    msg_id,
                    msg,
                    deliveries: count16(deliveries),
                    failed: count16(failed),
                    expires_at,
                })
                .ok_or_else(|| format!("damaged page: message {seq} is not a message")),
        )
    }

    #[cold]
    fn damaged(&self) -> String {
        format!(
            "damaged page: it ends early or holds a bad number at byte {}",
            self.at
        )
    }
}

/// Properties as AMQP encodes them (what [`Enc::properties`] wrote after
/// its length).
#[cold]
fn properties(bytes: &[u8]) -> Result<Props, String> {
    let mut r = AmqpReader::new(bytes);
    read_properties(&mut r)
        .and_then(|p| r.finish().map(|()| p))
        .map(Props::new)
        .map_err(|e| format!("damaged page: message properties: {e}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;
    use crate::broker::{Properties, ShortStr};

    fn entries() -> Vec<Entry> {
        let s = |t: &str| ShortStr::new(t).unwrap();
        let plain = Properties::default();
        let rich = Properties {
            delivery_mode: Some(2),
            priority: Some(3),
            expiration: Some(s("60000")),
            ..Default::default()
        };
        // Seqs far apart and msg ids that fall (a requeued entry routed again).
        let rows = [
            (
                5_000_000_000u64,
                7_000_000u64,
                0u16,
                0u16,
                crate::broker::queue::NEVER,
            ),
            (5_000_000_001, 6_999_990, 2, 1, 1_700_000_000_000),
            (5_000_000_002, 7_000_001, 0, 0, 0),
            (
                9_000_000_000,
                1,
                u16::MAX,
                7,
                crate::broker::queue::NEVER - 1,
            ),
        ];
        rows.iter()
            .enumerate()
            .map(
                |(i, &(seq, msg_id, deliveries, failed, expires_at))| Entry {
                    seq,
                    msg_id,
                    msg: Message::new(
                        s("ex"),
                        s(&format!("key.{i}")),
                        if i % 2 == 0 {
                            plain.clone()
                        } else {
                            rich.clone()
                        },
                        vec![i as u8; i * 100],
                    ),
                    deliveries,
                    failed,
                    expires_at,
                },
            )
            .collect()
    }

    fn same(a: &[Entry], b: &[Entry]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert_eq!(
                (x.seq, x.msg_id, x.deliveries, x.failed, x.expires_at),
                (y.seq, y.msg_id, y.deliveries, y.failed, y.expires_at)
            );
            assert_eq!(x.msg.block(), y.msg.block());
            assert_eq!(*x.msg.properties, *y.msg.properties);
        }
    }

    #[test]
    fn entries_come_back_as_written() {
        let e = entries();
        same(&decode(&encode(&e)).unwrap(), &e);
        same(&decode(&encode(&[])).unwrap(), &[]);
    }

    #[test]
    fn pages_of_version_1_are_still_read() {
        let e = entries();
        let v1 = encode_version(&e, VERSION_1);
        assert_eq!(v1[2], 1);
        same(&decode(&v1).unwrap(), &e);
    }

    #[test]
    fn consecutive_entries_take_one_byte_each_for_seq_and_msg_id() {
        let e: Vec<Entry> = (0..100u64)
            .map(|i| Entry {
                seq: 3_000_000 + i,
                msg_id: 2_000_000 + i,
                msg: Message::new(
                    ShortStr::empty(),
                    ShortStr::empty(),
                    Properties::default(),
                    b"x",
                ),
                deliveries: 0,
                failed: 0,
                expires_at: crate::broker::queue::NEVER,
            })
            .collect();
        let (v1, v2) = (encode_version(&e, VERSION_1).len(), encode(&e).len());
        // Whole, seq takes four bytes and msg_id three; as differences, one
        // each. The first entry's msg_id, zig-zagged, takes one byte more.
        assert_eq!(v1 - v2, 99 * 5 - 1);
    }

    #[test]
    fn damaged_pages_are_refused_without_panicking() {
        let page = encode(&entries());
        for cut in 0..page.len() {
            assert!(decode(&page[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = page.clone();
        longer.push(0);
        assert!(decode(&longer).unwrap_err().contains("left over"));
        let mut future = page.clone();
        future[2] = 9;
        assert!(decode(&future).unwrap_err().contains("version 9"));
        assert_eq!(decode(b"XX\x02\x00").unwrap_err(), "not a page");
        // A count no page of this size can hold.
        assert!(decode(b"WP\x02\xff\xff\xff\x7f")
            .unwrap_err()
            .contains("count"));
        // Every byte flipped in turn: an error or entries, never a panic.
        for at in 3..page.len() {
            let mut bad = page.clone();
            bad[at] ^= 0xff;
            let _ = decode(&bad);
        }
    }
}
