//! A page: a run of one queue's entries as bytes, written to the store when
//! the queue passes its memory budget and read back ahead of its consumers.
//!
//! ```text
//! magic "WP" | version u8 | count | entries:
//!   seq, msg_id, deliveries, failed, expires_at + 1, properties, message block
//! ```
//! In the image's primitives (LEB128 integers, length-prefixed bytes; AMQP's
//! encoding for properties, empty when there are none). The message is its
//! block as it is in memory, so reading a page back makes one allocation per
//! message and parses nothing but lengths.

use crate::broker::queue::{count16, Entry};
use crate::broker::{Message, Props};
use crate::image::codec::{Dec, Enc};

const MAGIC: &[u8; 2] = b"WP";
const VERSION: u8 = 1;

/// The bytes of a page holding `entries`.
pub fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut w = Enc::default();
    w.buf.extend_from_slice(MAGIC);
    w.u8(VERSION);
    w.usize(entries.len());
    for e in entries {
        w.u64(e.seq);
        w.u64(e.msg_id);
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
pub fn decode(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let mut d = Dec::new(bytes);
    let err = |e: crate::image::ImageError| format!("damaged page: {e}");
    if d.take(2).map_err(err)? != MAGIC {
        return Err("not a page".into());
    }
    let version = d.u8().map_err(err)?;
    if version != VERSION {
        return Err(format!(
            "page format version {version} (this build reads {VERSION})"
        ));
    }
    let n = d.count().map_err(err)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let seq = d.u64().map_err(err)?;
        let msg_id = d.u64().map_err(err)?;
        let deliveries = d.u32().map_err(err)?;
        let failed = d.u32().map_err(err)?;
        let expires_at = d.u64().map_err(err)?.wrapping_sub(1);
        let props = if d.peek_empty_bytes() {
            d.bytes().map_err(err)?;
            Props::default()
        } else {
            d.properties().map_err(err)?
        };
        let block = d.bytes().map_err(err)?;
        let msg = Message::from_block(block, props)
            .ok_or_else(|| format!("damaged page: message {seq} is not a message"))?;
        out.push(Entry {
            seq,
            msg_id,
            msg,
            deliveries: count16(deliveries),
            failed: count16(failed),
            expires_at,
        });
    }
    d.finish().map_err(err)?;
    Ok(out)
}
