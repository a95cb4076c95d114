//! A page: a run of one queue's entries as bytes, written to the store when
//! the queue passes its memory budget and read back ahead of its consumers.
//!
//! ```text
//! magic "WP" | version u8 | count | entries (seq, msg_id, deliveries, failed, expires_at + 1, message)
//! ```
//! In the image's primitives (LEB128 integers, AMQP properties), so a page
//! cannot disagree with an image about what a message is.

use crate::broker::queue::Entry;
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
        w.message(&e.msg);
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
        out.push(Entry {
            seq: d.u64().map_err(err)?,
            msg_id: d.u64().map_err(err)?,
            deliveries: d.u32().map_err(err)?,
            failed: d.u32().map_err(err)?,
            expires_at: d.u64().map_err(err)?.wrapping_sub(1),
            msg: d.message().map_err(err)?,
        });
    }
    d.finish().map_err(err)?;
    Ok(out)
}
