//! Output for the host, packed into one byte buffer per drain so a burst of
//! deliveries crosses into JavaScript in one call: effects for in-process
//! (direct) clients, and bytes to send / transports to close for AMQP
//! connections (`conn` is then the id `accept` returned, `channel` 0).
//!
//! Layout, little-endian: per record `kind u8, conn u32, channel u16`, then
//! the kind's fields. Strings are `len u8 + UTF-8`; blobs `len u32 + bytes`;
//! tags are f64 (exact up to 2^53). Properties travel as an AMQP content
//! header, decoded on demand by `decodeProperties`. `js/output.js` reads it.
//!
//! A burst of deliveries to one consumer repeats everything but the body:
//! `DELIVER_NEXT` is only `kind u8, body blob`, a delivery with the
//! connection, channel, consumer tag, exchange and routing key of the
//! output's previous delivery, the tag after its tag, not redelivered and
//! without properties (see [`Deliveries`]).

use crate::amqp::codec::encode_content_header;
use crate::amqp::connection::CloseReport;
use crate::broker::{Effect, Message, Props, ShortStr};
use crate::short_bytes::{put_bytes, same};

pub const DELIVER: u8 = 1;
pub const GET_OK: u8 = 2;
pub const GET_EMPTY: u8 = 3;
pub const CONFIRM: u8 = 4;
pub const RETURN: u8 = 5;
pub const CANCEL: u8 = 6;
pub const CLOSE_CHANNEL: u8 = 7;
pub const CLOSE_CONNECTION: u8 = 8;
pub const BLOCKED: u8 = 9;
pub const SEND: u8 = 10;
pub const CLOSE: u8 = 11;
pub const CLOSED: u8 = 12;
pub const FLUSH: u8 = 13;
/// Frames of an in-process connection, for a host watching the wire (`wire.rs`).
pub const WIRE: u8 = 14;
/// A delivery like the previous one (see the module docs): no head of its own.
pub const DELIVER_NEXT: u8 = 15;
/// `tx.commit-ok`: the head alone.
pub const TX_COMMIT_OK: u8 = 16;

#[inline]
fn str8(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    let n = b.len().min(255);
    out.push(n as u8);
    put_bytes(out, &b[..n]);
}

#[inline]
pub(super) fn blob(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    put_bytes(out, b);
}

#[inline]
pub(super) fn head(out: &mut Vec<u8>, kind: u8, conn: u32, channel: u16) {
    out.push(kind);
    out.extend_from_slice(&conn.to_le_bytes());
    out.extend_from_slice(&channel.to_le_bytes());
}

fn message(out: &mut Vec<u8>, m: &Message) {
    str8(out, m.exchange());
    str8(out, m.routing_key());
    header(out, m);
    blob(out, m.body());
}

fn error(out: &mut Vec<u8>, code: u16, text: &str, class_id: u16, method_id: u16) {
    out.extend_from_slice(&code.to_le_bytes());
    str8(out, text);
    out.extend_from_slice(&class_id.to_le_bytes());
    out.extend_from_slice(&method_id.to_le_bytes());
}

/// The last delivery packed into one output buffer, so that the next one
/// like it goes out as `DELIVER_NEXT`. Reset whenever the buffer is.
#[derive(Default)]
pub struct Deliveries {
    /// conn, channel and consumer tag of the last delivery
    last: Option<(u32, u16, ShortStr)>,
    /// its exchange and routing key as at the head of its block
    names: Vec<u8>,
    /// its tag
    tag: u64,
}

impl Deliveries {
    /// Appends one effect; a delivery like the last one as `DELIVER_NEXT`.
    pub fn pack(&mut self, e: &Effect, out: &mut Vec<u8>) {
        let Effect::Deliver {
            to,
            consumer_tag,
            delivery_tag,
            redelivered,
            message: m,
        } = e
        else {
            return pack(e, out);
        };
        let (block, body) = (m.block(), m.body());
        // The exchange and routing key at the head of the block.
        let names = block.get(..block.len() - body.len()).unwrap_or_default();
        let tag = std::mem::replace(&mut self.tag, *delivery_tag);
        let like_last = !*redelivered
            && *delivery_tag == tag.wrapping_add(1)
            && bare(m)
            && self.last.as_ref().is_some_and(|(c, ch, t)| {
                (*c, *ch) == (to.conn.0, to.channel) && t == consumer_tag
            })
            && same(names, &self.names);
        if like_last {
            out.push(DELIVER_NEXT);
        } else {
            // head, consumer tag, exchange, routing key, tag f64, redelivered
            // u8, content header, body
            head(out, DELIVER, to.conn.0, to.channel);
            str8(out, consumer_tag);
            str8(out, m.exchange());
            str8(out, m.routing_key());
            out.extend_from_slice(&(*delivery_tag as f64).to_le_bytes());
            out.push(u8::from(*redelivered));
            header(out, m);
            self.last = Some((to.conn.0, to.channel, consumer_tag.clone()));
            self.names.clear();
            self.names.extend_from_slice(names);
        }
        blob(out, body);
    }
}

/// No properties: most messages have none (`Props::default()`), told
/// without looking at each of the fourteen fields.
#[inline]
fn bare(m: &Message) -> bool {
    m.properties == Props::default() || m.properties.is_empty()
}

fn header(out: &mut Vec<u8>, m: &Message) {
    if m.properties.is_empty() {
        blob(out, &[]);
    } else {
        let mut h = Vec::new();
        encode_content_header(m.body().len() as u64, &m.properties, &mut h);
        blob(out, &h);
    }
}

/// Appends one effect.
pub fn pack(e: &Effect, out: &mut Vec<u8>) {
    match e {
        Effect::Deliver { .. } => Deliveries::default().pack(e, out),
        Effect::GetOk {
            to,
            delivery_tag,
            redelivered,
            message_count,
            message: m,
        } => {
            head(out, GET_OK, to.conn.0, to.channel);
            out.extend_from_slice(&(*delivery_tag as f64).to_le_bytes());
            out.push(u8::from(*redelivered));
            out.extend_from_slice(&message_count.to_le_bytes());
            message(out, m);
        }
        Effect::GetEmpty { to } => head(out, GET_EMPTY, to.conn.0, to.channel),
        Effect::Confirm {
            to,
            delivery_tag,
            multiple,
            ack,
        } => {
            head(out, CONFIRM, to.conn.0, to.channel);
            out.extend_from_slice(&(*delivery_tag as f64).to_le_bytes());
            out.push(u8::from(*multiple));
            out.push(u8::from(*ack));
        }
        Effect::TxCommitOk { to } => head(out, TX_COMMIT_OK, to.conn.0, to.channel),
        Effect::Return {
            to,
            reply_code,
            reply_text,
            message: m,
        } => {
            head(out, RETURN, to.conn.0, to.channel);
            out.extend_from_slice(&reply_code.to_le_bytes());
            str8(out, reply_text);
            message(out, m);
        }
        Effect::Cancel { to, consumer_tag } => {
            head(out, CANCEL, to.conn.0, to.channel);
            str8(out, consumer_tag);
        }
        Effect::CloseChannel { to, error: e } => {
            head(out, CLOSE_CHANNEL, to.conn.0, to.channel);
            error(out, e.code.code(), &e.text, e.class_id, e.method_id);
        }
        Effect::CloseConnection { to, error: e } => {
            head(out, CLOSE_CONNECTION, to.0, 0);
            error(out, e.code.code(), &e.text, e.class_id, e.method_id);
        }
        Effect::Blocked { to, reason } => {
            head(out, BLOCKED, to.0, 0);
            out.push(u8::from(reason.is_some()));
            str8(out, reason.as_ref().map_or("", ShortStr::as_str));
        }
    }
}

/// Bytes for a transport: `SEND, conn, 0, blob`.
pub fn send(conn: u32, bytes: &[u8], out: &mut Vec<u8>) {
    head(out, SEND, conn, 0);
    blob(out, bytes);
}

/// Why the server closed a channel (channel > 0) or the connection of a
/// transport: `CLOSED, conn, channel, code u16, text, class u16, method u16`
/// (code 0: the transport was dropped without `connection.close`).
pub fn closed(conn: u32, r: &CloseReport, out: &mut Vec<u8>) {
    head(out, CLOSED, conn, r.channel);
    error(out, r.code, &r.text, r.class_id, r.method_id);
}

/// Close a transport (after the bytes sent before): `CLOSE, conn, 0,
/// client_closes u8` (1: the client was sent close-ok and closes its end
/// next; see `Output::Close`).
pub fn close(conn: u32, client_closes: bool, out: &mut Vec<u8>) {
    head(out, CLOSE, conn, 0);
    out.push(u8::from(client_closes));
}

/// End the transport's current write: `FLUSH, conn, 0` (see `Output::Flush`).
pub fn flush(conn: u32, out: &mut Vec<u8>) {
    head(out, FLUSH, conn, 0);
}
