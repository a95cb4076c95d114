//! Plain data for JavaScript (snapshots, events, users, policies, the
//! topology, recovery reports) written into one byte buffer that `js/data.js` turns into plain
//! objects: one crossing per call instead of one per field, and no generic
//! serializer compiled for every type.
//!
//! Layout: a value is a tag byte, then per tag: `UNDEFINED`, `FALSE`, `TRUE`,
//! `NULL` nothing; `NUMBER` an f64, little-endian; `STRING` its length (u32
//! LE) and UTF-8; `ARRAY` values up to `END`; `OBJECT` (key string, value)
//! pairs up to `END`, in the order written; for AMQP field values, `BIGINT`
//! an i64 (a `BigInt`), `BYTES` a length (u32) and bytes (a `Uint8Array`),
//! `DATE` an f64 of ms since the epoch (a `Date`).

use crate::broker::{FieldTable, FieldValue, Properties};

pub const UNDEFINED: u8 = 0;
pub const FALSE: u8 = 1;
pub const TRUE: u8 = 2;
pub const NUMBER: u8 = 3;
pub const STRING: u8 = 4;
pub const ARRAY: u8 = 5;
pub const OBJECT: u8 = 6;
pub const END: u8 = 7;
pub const NULL: u8 = 8;
pub const BIGINT: u8 = 9;
pub const BYTES: u8 = 10;
pub const DATE: u8 = 11;

/// A buffer of values in the layout above. The writers are out of line:
/// each field of each view is then one short call.
#[derive(Default)]
pub struct Data(pub Vec<u8>);

impl Data {
    #[inline(never)]
    pub fn object(&mut self) {
        self.0.push(OBJECT);
    }

    #[inline(never)]
    pub fn array(&mut self) {
        self.0.push(ARRAY);
    }

    #[inline(never)]
    pub fn end(&mut self) {
        self.0.push(END);
    }

    #[inline(never)]
    pub fn str(&mut self, s: &str) {
        self.0.push(STRING);
        self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }

    /// Integers are exact up to 2^53, as in any JS number.
    #[inline(never)]
    pub fn num(&mut self, n: f64) {
        self.0.push(NUMBER);
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    #[inline(never)]
    pub fn bool(&mut self, b: bool) {
        self.0.push(if b { TRUE } else { FALSE });
    }

    /// A field whose value the caller writes next.
    pub fn key(&mut self, k: &str) {
        self.str(k);
    }

    #[inline(never)]
    pub fn key_str(&mut self, k: &str, v: &str) {
        self.str(k);
        self.str(v);
    }

    #[inline(never)]
    pub fn key_num(&mut self, k: &str, v: f64) {
        self.str(k);
        self.num(v);
    }

    #[inline(never)]
    pub fn key_bool(&mut self, k: &str, v: bool) {
        self.str(k);
        self.bool(v);
    }

    /// A field present as `undefined` when absent (what callers had from
    /// serde-wasm-bindgen's `Option`).
    #[inline(never)]
    pub fn key_opt_str(&mut self, k: &str, v: Option<&str>) {
        self.str(k);
        match v {
            Some(s) => self.str(s),
            None => self.0.push(UNDEFINED),
        }
    }

    #[inline(never)]
    pub fn key_opt_num(&mut self, k: &str, v: Option<f64>) {
        self.str(k);
        match v {
            Some(n) => self.num(n),
            None => self.0.push(UNDEFINED),
        }
    }

    /// `{ conn, channel }`, the shape of a channel everywhere.
    #[inline(never)]
    pub fn channel(&mut self, k: &str, c: crate::broker::ChannelRef) {
        self.str(k);
        self.object();
        self.key_num("conn", c.conn.0.into());
        self.key_num("channel", c.channel.into());
        self.end();
    }

    #[inline(never)]
    pub fn key_opt_channel(&mut self, k: &str, c: Option<crate::broker::ChannelRef>) {
        match c {
            Some(c) => self.channel(k, c),
            None => {
                self.str(k);
                self.0.push(UNDEFINED);
            }
        }
    }
}

impl Data {
    /// An AMQP table as `js_value::table_to_js` makes it.
    pub fn table(&mut self, t: &FieldTable) {
        self.object();
        for (k, v) in t.iter() {
            self.str(k);
            self.field(v);
        }
        self.end();
    }

    fn field(&mut self, v: &FieldValue) {
        let n = match v {
            FieldValue::Bool(b) => return self.bool(*b),
            FieldValue::I8(n) => f64::from(*n),
            FieldValue::U8(n) => f64::from(*n),
            FieldValue::I16(n) => f64::from(*n),
            FieldValue::U16(n) => f64::from(*n),
            FieldValue::I32(n) => f64::from(*n),
            FieldValue::U32(n) => f64::from(*n),
            FieldValue::I64(n) if n.unsigned_abs() <= (1 << 53) => *n as f64,
            FieldValue::I64(n) => {
                self.0.push(BIGINT);
                return self.0.extend_from_slice(&n.to_le_bytes());
            }
            FieldValue::F32(n) => f64::from(*n),
            FieldValue::F64(n) => *n,
            FieldValue::Decimal { scale, value } => {
                f64::from(*value) / 10f64.powi(i32::from(*scale))
            }
            FieldValue::LongStr(b) => match std::str::from_utf8(b) {
                Ok(s) => return self.str(s),
                Err(_) => return self.bytes(b),
            },
            FieldValue::Bytes(b) => return self.bytes(b),
            FieldValue::Array(items) => {
                self.array();
                for item in items {
                    self.field(item);
                }
                return self.end();
            }
            FieldValue::Timestamp(t) => {
                self.0.push(DATE);
                return self
                    .0
                    .extend_from_slice(&(*t as f64 * 1000.0).to_le_bytes());
            }
            FieldValue::Table(t) => return self.table(t),
            FieldValue::Void => return self.0.push(NULL),
        };
        self.num(n);
    }

    /// A message's properties: `{ contentType, ..., headers, deliveryMode,
    /// priority, timestamp }` with the ones set only.
    pub fn properties(&mut self, p: &Properties) {
        self.object();
        for (k, v) in [
            ("contentType", &p.content_type),
            ("contentEncoding", &p.content_encoding),
            ("correlationId", &p.correlation_id),
            ("replyTo", &p.reply_to),
            ("expiration", &p.expiration),
            ("messageId", &p.message_id),
            ("type", &p.kind),
            ("userId", &p.user_id),
            ("appId", &p.app_id),
            ("clusterId", &p.cluster_id),
        ] {
            if let Some(v) = v {
                self.key_str(k, v);
            }
        }
        if let Some(h) = &p.headers {
            self.key("headers");
            self.table(h);
        }
        if let Some(m) = p.delivery_mode {
            self.key_num("deliveryMode", m.into());
        }
        if let Some(m) = p.priority {
            self.key_num("priority", m.into());
        }
        if let Some(t) = p.timestamp {
            self.key("timestamp");
            self.field(&FieldValue::Timestamp(t));
        }
        self.end();
    }

    fn bytes(&mut self, b: &[u8]) {
        self.0.push(BYTES);
        self.0.extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.0.extend_from_slice(b);
    }
}
