//! One store record <-> bytes. The first byte names the record; the layout
//! after it is fixed per kind. Input is untrusted (a damaged file): decoding
//! never panics.

use crate::amqp::codec::{
    decode_content_header, decode_field_table, encode_content_header, encode_field_table,
    DecodeError, Malformed, Reader, Writer,
};
use crate::broker::{
    ApplyTo, Bind, ExchangeDeclare, FieldTable, Message, Policy, QueueDeclare, ShortStr,
    StoreRecord, VhostLimits,
};
use std::fmt;

const EXCHANGE: u8 = 1;
const EXCHANGE_DELETED: u8 = 2;
const QUEUE: u8 = 3;
const QUEUE_DELETED: u8 = 4;
const BINDING: u8 = 5;
const UNBINDING: u8 = 6;
const MESSAGE: u8 = 7;
const DELIVERED: u8 = 8;
const SETTLED: u8 = 9;
const POLICY: u8 = 10;
const POLICY_DELETED: u8 = 11;
const RETURNED: u8 = 12;
const VHOST_DELETED: u8 = 13;
const VHOST_LIMITS: u8 = 14;
const CRASH_RECOVERED: u8 = 15;
const PAGED: u8 = 16;
const UNPAGED: u8 = 17;
const PAGE_DROPPED: u8 = 18;

/// A missing limit in a `VhostLimits` record.
const NO_LIMIT: u64 = u64::MAX;

/// Why a record's bytes could not be decoded. Input is a damaged file, so each
/// cause is named exactly rather than described in text.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The record is empty: not even its kind byte is there.
    Empty,
    /// The first byte names no record kind this version writes.
    UnknownKind { kind: u8 },
    /// A field is malformed: cut short, not UTF-8, trailing bytes, a bad table.
    Field(Malformed),
    /// A message's content header (its properties) is malformed.
    ContentHeader(DecodeError),
    /// A message's body is not as long as its content header says.
    BodySize { header: u64, body: usize },
    /// A policy's `apply-to` is none RabbitMQ knows.
    UnknownApplyTo(String),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Empty => write!(f, "empty record"),
            RecordError::UnknownKind { kind } => write!(f, "unknown record kind {kind}"),
            RecordError::Field(m) => write!(f, "malformed field: {m}"),
            RecordError::ContentHeader(e) => write!(f, "malformed content header: {e}"),
            RecordError::BodySize { header, body } => {
                write!(f, "body of {body} bytes, its header says {header}")
            }
            RecordError::UnknownApplyTo(a) => write!(f, "unknown apply-to '{a}'"),
        }
    }
}

impl std::error::Error for RecordError {}

impl From<Malformed> for RecordError {
    fn from(m: Malformed) -> Self {
        RecordError::Field(m)
    }
}

impl From<DecodeError> for RecordError {
    fn from(e: DecodeError) -> Self {
        RecordError::ContentHeader(e)
    }
}

// Out of line: records are cold next to the wire codec, whose `Writer` and
// `Reader` methods inline, and a copy per field made `encode` and `decode`
// kilobytes of wasm each.
#[inline(never)]
fn put_short_str(buf: &mut Vec<u8>, s: &str) {
    buf.put_short_str(s);
}

#[inline(never)]
fn put_u64(buf: &mut Vec<u8>, v: u64) {
    buf.put_u64(v);
}

/// A record's fields as it is decoded. The first failure is kept and later
/// reads give empty values, so `decode` checks for an error once, at its
/// end: a `?` per field carried a copy of the error and drops of the fields
/// read before it, kilobytes of wasm. Each read is out of line for the same
/// reason as the writers above.
struct Fields<'a> {
    r: Reader<'a>,
    err: Option<RecordError>,
}

impl<'a> Fields<'a> {
    #[inline(never)]
    fn fail(&mut self, e: RecordError) {
        if self.err.is_none() {
            self.err = Some(e);
        }
    }

    #[inline(never)]
    fn short_str(&mut self) -> ShortStr {
        self.r.short_str().unwrap_or_else(|e| {
            self.fail(e.into());
            ShortStr::empty()
        })
    }

    #[inline(never)]
    fn u64(&mut self) -> u64 {
        self.r.u64().unwrap_or_else(|e| {
            self.fail(e.into());
            0
        })
    }

    #[inline(never)]
    fn u32(&mut self) -> u32 {
        self.r.u32().unwrap_or_else(|e| {
            self.fail(e.into());
            0
        })
    }

    #[inline(never)]
    fn u8(&mut self) -> u8 {
        self.r.u8().unwrap_or_else(|e| {
            self.fail(e.into());
            0
        })
    }

    #[inline(never)]
    fn long_bytes(&mut self) -> &'a [u8] {
        self.r.long_bytes().unwrap_or_else(|e| {
            self.fail(e.into());
            &[]
        })
    }

    #[inline(never)]
    fn table(&mut self) -> FieldTable {
        let bytes = self.long_bytes();
        if self.err.is_some() {
            return FieldTable::new();
        }
        decode_field_table(bytes).unwrap_or_else(|e| {
            self.fail(e.into());
            FieldTable::new()
        })
    }

    #[inline(never)]
    fn bind(&mut self) -> (ShortStr, bool, Bind) {
        let vhost = self.short_str();
        let to_queue = self.u8() != 0;
        let source = self.short_str();
        let destination = self.short_str();
        let routing_key = self.short_str();
        let arguments = self.table();
        (
            vhost,
            to_queue,
            Bind {
                destination,
                source,
                routing_key,
                arguments,
            },
        )
    }

    /// The record, or the first failure (trailing bytes if none before).
    #[inline(never)]
    fn finish(mut self, rec: StoreRecord) -> Result<StoreRecord, RecordError> {
        if let Err(e) = self.r.finish() {
            self.fail(e.into());
        }
        match self.err {
            Some(e) => Err(e),
            None => Ok(rec),
        }
    }
}

fn put_table(buf: &mut Vec<u8>, t: &FieldTable) {
    let mut tmp = Vec::new();
    encode_field_table(t, &mut tmp);
    buf.put_long_bytes(&tmp);
}

fn flags(bits: &[bool]) -> u8 {
    bits.iter()
        .enumerate()
        .fold(0, |acc, (i, b)| acc | (u8::from(*b) << i))
}

fn bit(f: u8, i: u8) -> bool {
    f & (1 << i) != 0
}

fn put_bind(buf: &mut Vec<u8>, vhost: &ShortStr, to_queue: bool, b: &Bind) {
    put_short_str(buf, vhost);
    buf.put_u8(u8::from(to_queue));
    put_short_str(buf, &b.source);
    put_short_str(buf, &b.destination);
    put_short_str(buf, &b.routing_key);
    put_table(buf, &b.arguments);
}

/// Appends one record's bytes to `buf`.
pub fn encode(rec: &StoreRecord, buf: &mut Vec<u8>) {
    match rec {
        StoreRecord::Exchange { vhost, declare: d } => {
            buf.put_u8(EXCHANGE);
            put_short_str(buf, vhost);
            put_short_str(buf, &d.exchange);
            put_short_str(buf, &d.kind);
            buf.put_u8(flags(&[d.durable, d.auto_delete, d.internal]));
            put_table(buf, &d.arguments);
        }
        StoreRecord::ExchangeDeleted { vhost, name } => {
            buf.put_u8(EXCHANGE_DELETED);
            put_short_str(buf, vhost);
            put_short_str(buf, name);
        }
        StoreRecord::Queue { vhost, declare: d } => {
            buf.put_u8(QUEUE);
            put_short_str(buf, vhost);
            put_short_str(buf, &d.queue);
            buf.put_u8(flags(&[d.durable, d.exclusive, d.auto_delete]));
            put_table(buf, &d.arguments);
        }
        StoreRecord::QueueDeleted { vhost, name } => {
            buf.put_u8(QUEUE_DELETED);
            put_short_str(buf, vhost);
            put_short_str(buf, name);
        }
        StoreRecord::Binding {
            vhost,
            to_queue,
            bind,
        } => {
            buf.put_u8(BINDING);
            put_bind(buf, vhost, *to_queue, bind);
        }
        StoreRecord::Unbinding {
            vhost,
            to_queue,
            bind,
        } => {
            buf.put_u8(UNBINDING);
            put_bind(buf, vhost, *to_queue, bind);
        }
        StoreRecord::Message {
            vhost,
            queue,
            seq,
            msg_id,
            deliveries,
            expires_at,
            message,
        } => {
            buf.put_u8(MESSAGE);
            put_short_str(buf, vhost);
            put_short_str(buf, queue);
            put_u64(buf, *seq);
            put_u64(buf, *msg_id);
            buf.put_u32(*deliveries);
            put_u64(buf, *expires_at);
            put_short_str(buf, message.exchange());
            put_short_str(buf, message.routing_key());
            // The header straight into the record, its length filled in after.
            let at = buf.begin_len32();
            encode_content_header(message.body().len() as u64, &message.properties, buf);
            buf.end_len32(at);
            buf.put_long_bytes(message.body());
        }
        StoreRecord::Delivered { seq, deliveries } => {
            buf.put_u8(DELIVERED);
            put_u64(buf, *seq);
            buf.put_u32(*deliveries);
        }
        StoreRecord::Settled { seq } => {
            buf.put_u8(SETTLED);
            put_u64(buf, *seq);
        }
        StoreRecord::Returned {
            seq,
            deliveries,
            failed,
        } => {
            buf.put_u8(RETURNED);
            put_u64(buf, *seq);
            buf.put_u32(*deliveries);
            buf.put_u32(*failed);
        }
        StoreRecord::Policy { vhost, policy: p } => {
            buf.put_u8(POLICY);
            put_short_str(buf, vhost);
            put_short_str(buf, &p.name);
            buf.put_long_bytes(p.pattern.as_bytes());
            put_short_str(buf, &ShortStr::truncated(p.apply_to.as_str()));
            put_u64(buf, p.priority as u64);
            put_table(buf, &p.definition);
        }
        StoreRecord::PolicyDeleted { vhost, name } => {
            buf.put_u8(POLICY_DELETED);
            put_short_str(buf, vhost);
            put_short_str(buf, name);
        }
        StoreRecord::VhostDeleted { vhost } => {
            buf.put_u8(VHOST_DELETED);
            put_short_str(buf, vhost);
        }
        StoreRecord::VhostLimits { vhost, limits } => {
            buf.put_u8(VHOST_LIMITS);
            put_short_str(buf, vhost);
            for l in [limits.max_connections, limits.max_queues] {
                put_u64(buf, l.map_or(NO_LIMIT, u64::from));
            }
        }
        StoreRecord::CrashRecovered { below } => {
            buf.put_u8(CRASH_RECOVERED);
            put_u64(buf, *below);
        }
        StoreRecord::Paged {
            vhost,
            queue,
            level,
            page,
            first_seq,
            last_seq,
            count,
            bytes,
            min_expires_at,
            max_msg_id,
        } => {
            buf.put_u8(PAGED);
            put_short_str(buf, vhost);
            put_short_str(buf, queue);
            buf.put_u8(*level);
            for v in [
                *page,
                *first_seq,
                *last_seq,
                *bytes,
                *min_expires_at,
                *max_msg_id,
            ] {
                put_u64(buf, v);
            }
            buf.put_u32(*count);
        }
        StoreRecord::Unpaged { page } => {
            buf.put_u8(UNPAGED);
            put_u64(buf, *page);
        }
        StoreRecord::PageDropped {
            vhost,
            queue,
            page,
            first_seq,
            last_seq,
        } => {
            buf.put_u8(PAGE_DROPPED);
            put_short_str(buf, vhost);
            put_short_str(buf, queue);
            for v in [*page, *first_seq, *last_seq] {
                put_u64(buf, v);
            }
        }
    }
}

/// Decodes one record that fills `bytes` exactly.
pub fn decode(bytes: &[u8]) -> Result<StoreRecord, RecordError> {
    let mut r = Reader::new(bytes);
    let kind = r.u8().map_err(|_| RecordError::Empty)?;
    let mut f = Fields { r, err: None };
    let rec = match kind {
        EXCHANGE => {
            let vhost = f.short_str();
            let exchange = f.short_str();
            let kind = f.short_str();
            let b = f.u8();
            let arguments = f.table();
            StoreRecord::Exchange {
                vhost,
                declare: ExchangeDeclare {
                    exchange,
                    kind,
                    passive: false,
                    durable: bit(b, 0),
                    auto_delete: bit(b, 1),
                    internal: bit(b, 2),
                    arguments,
                },
            }
        }
        EXCHANGE_DELETED => StoreRecord::ExchangeDeleted {
            vhost: f.short_str(),
            name: f.short_str(),
        },
        QUEUE => {
            let vhost = f.short_str();
            let queue = f.short_str();
            let b = f.u8();
            let arguments = f.table();
            StoreRecord::Queue {
                vhost,
                declare: QueueDeclare {
                    queue,
                    passive: false,
                    durable: bit(b, 0),
                    exclusive: bit(b, 1),
                    auto_delete: bit(b, 2),
                    arguments,
                },
            }
        }
        QUEUE_DELETED => StoreRecord::QueueDeleted {
            vhost: f.short_str(),
            name: f.short_str(),
        },
        BINDING => {
            let (vhost, to_queue, bind) = f.bind();
            StoreRecord::Binding {
                vhost,
                to_queue,
                bind,
            }
        }
        UNBINDING => {
            let (vhost, to_queue, bind) = f.bind();
            StoreRecord::Unbinding {
                vhost,
                to_queue,
                bind,
            }
        }
        MESSAGE => {
            let vhost = f.short_str();
            let queue = f.short_str();
            let seq = f.u64();
            let msg_id = f.u64();
            let deliveries = f.u32();
            let expires_at = f.u64();
            let exchange = f.short_str();
            let routing_key = f.short_str();
            let header = match decode_content_header(f.long_bytes()) {
                Ok(h) => h,
                Err(e) => return Err(f.err.take().unwrap_or(e.into())),
            };
            let body = f.long_bytes();
            if let Some(e) = f.err.take() {
                return Err(e);
            }
            if header.body_size != body.len() as u64 {
                return Err(RecordError::BodySize {
                    header: header.body_size,
                    body: body.len(),
                });
            }
            StoreRecord::Message {
                vhost,
                queue,
                seq,
                msg_id,
                deliveries,
                expires_at,
                message: Message::from_parts(&exchange, &routing_key, header.properties, body),
            }
        }
        DELIVERED => StoreRecord::Delivered {
            seq: f.u64(),
            deliveries: f.u32(),
        },
        SETTLED => StoreRecord::Settled { seq: f.u64() },
        POLICY => {
            let vhost = f.short_str();
            let name = f.short_str();
            let pattern = std::str::from_utf8(f.long_bytes()).unwrap_or_else(|_| {
                f.fail(RecordError::Field(Malformed::NotUtf8));
                ""
            });
            let pattern = pattern.to_owned();
            let apply_to = f.short_str();
            let apply_to = ApplyTo::parse(&apply_to).unwrap_or_else(|| {
                f.fail(RecordError::UnknownApplyTo(apply_to.to_string()));
                ApplyTo::All
            });
            let priority = f.u64() as i64;
            let definition = f.table();
            StoreRecord::Policy {
                vhost,
                policy: Policy {
                    name,
                    pattern,
                    apply_to,
                    priority,
                    definition,
                },
            }
        }
        RETURNED => StoreRecord::Returned {
            seq: f.u64(),
            deliveries: f.u32(),
            failed: f.u32(),
        },
        POLICY_DELETED => StoreRecord::PolicyDeleted {
            vhost: f.short_str(),
            name: f.short_str(),
        },
        VHOST_DELETED => StoreRecord::VhostDeleted {
            vhost: f.short_str(),
        },
        VHOST_LIMITS => {
            let vhost = f.short_str();
            let mut limit = || {
                let v = f.u64();
                (v != NO_LIMIT).then(|| u32::try_from(v).unwrap_or(u32::MAX))
            };
            let max_connections = limit();
            let max_queues = limit();
            StoreRecord::VhostLimits {
                vhost,
                limits: VhostLimits {
                    max_connections,
                    max_queues,
                },
            }
        }
        CRASH_RECOVERED => StoreRecord::CrashRecovered { below: f.u64() },
        PAGED => StoreRecord::Paged {
            vhost: f.short_str(),
            queue: f.short_str(),
            level: f.u8(),
            page: f.u64(),
            first_seq: f.u64(),
            last_seq: f.u64(),
            bytes: f.u64(),
            min_expires_at: f.u64(),
            max_msg_id: f.u64(),
            count: f.u32(),
        },
        UNPAGED => StoreRecord::Unpaged { page: f.u64() },
        PAGE_DROPPED => StoreRecord::PageDropped {
            vhost: f.short_str(),
            queue: f.short_str(),
            page: f.u64(),
            first_seq: f.u64(),
            last_seq: f.u64(),
        },
        kind => return Err(RecordError::UnknownKind { kind }),
    };
    f.finish(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::{FieldValue, Properties};

    fn s(x: &str) -> ShortStr {
        ShortStr::new(x).unwrap()
    }

    fn round_trip(rec: StoreRecord) {
        let mut buf = Vec::new();
        encode(&rec, &mut buf);
        assert_eq!(decode(&buf).unwrap(), rec);
        // every strict prefix is an error, never a panic
        for cut in 0..buf.len() {
            assert!(
                decode(&buf[..cut]).is_err(),
                "prefix of {cut} bytes decoded"
            );
        }
    }

    #[test]
    fn every_record_kind_round_trips() {
        let args = FieldTable::new().with("x-max-length", FieldValue::I32(10));
        round_trip(StoreRecord::Exchange {
            vhost: s("/"),
            declare: ExchangeDeclare {
                exchange: s("x"),
                kind: s("topic"),
                durable: true,
                internal: true,
                arguments: args.clone(),
                ..Default::default()
            },
        });
        round_trip(StoreRecord::ExchangeDeleted {
            vhost: s("/"),
            name: s("x"),
        });
        round_trip(StoreRecord::Queue {
            vhost: s("v"),
            declare: QueueDeclare {
                queue: s("q"),
                durable: true,
                auto_delete: true,
                arguments: args.clone(),
                ..Default::default()
            },
        });
        round_trip(StoreRecord::QueueDeleted {
            vhost: s("/"),
            name: s("q"),
        });
        let bind = Bind {
            destination: s("q"),
            source: s("x"),
            routing_key: s("a.*"),
            arguments: args,
        };
        round_trip(StoreRecord::Binding {
            vhost: s("/"),
            to_queue: true,
            bind: bind.clone(),
        });
        round_trip(StoreRecord::Unbinding {
            vhost: s("/"),
            to_queue: false,
            bind,
        });
        let props = Properties {
            delivery_mode: Some(2),
            message_id: Some(s("m-1")),
            ..Default::default()
        };
        round_trip(StoreRecord::Message {
            vhost: s("/"),
            queue: s("q"),
            seq: 42,
            msg_id: 7,
            deliveries: 2,
            expires_at: u64::MAX,
            message: Message::new(s("x"), s("a.b"), props, b"hello"),
        });
        round_trip(StoreRecord::Delivered {
            seq: 42,
            deliveries: 3,
        });
        round_trip(StoreRecord::Settled { seq: 42 });
        round_trip(StoreRecord::Returned {
            seq: 42,
            deliveries: 5,
            failed: 2,
        });
        round_trip(StoreRecord::Policy {
            vhost: s("/"),
            policy: crate::broker::Policy {
                name: s("p"),
                pattern: "^a\\.".to_owned(),
                apply_to: ApplyTo::Queues,
                priority: -3,
                definition: FieldTable::new().with("max-length", FieldValue::I64(5)),
            },
        });
        round_trip(StoreRecord::PolicyDeleted {
            vhost: s("/"),
            name: s("p"),
        });
        round_trip(StoreRecord::VhostDeleted { vhost: s("v") });
        round_trip(StoreRecord::CrashRecovered { below: 1 << 40 });
        round_trip(StoreRecord::Paged {
            vhost: s("v"),
            queue: s("q"),
            level: 3,
            page: 7,
            first_seq: 10,
            last_seq: 99,
            count: 40,
            bytes: 1 << 33,
            min_expires_at: u64::MAX,
            max_msg_id: 12,
        });
        round_trip(StoreRecord::Unpaged { page: 1 << 50 });
        round_trip(StoreRecord::PageDropped {
            vhost: s("v"),
            queue: s("q"),
            page: 2,
            first_seq: 5,
            last_seq: 6,
        });
        for (max_connections, max_queues) in [(Some(0), None), (None, Some(7)), (Some(3), Some(9))]
        {
            round_trip(StoreRecord::VhostLimits {
                vhost: s("v"),
                limits: VhostLimits {
                    max_connections,
                    max_queues,
                },
            });
        }
    }

    /// Fields are read on past a failure; the error is the first one met.
    #[test]
    fn the_first_failure_is_the_error() {
        let mut buf = Vec::new();
        encode(
            &StoreRecord::Policy {
                vhost: s("/"),
                policy: crate::broker::Policy {
                    name: s("p"),
                    pattern: "^a".to_owned(),
                    apply_to: ApplyTo::Queues,
                    priority: 1,
                    definition: FieldTable::new(),
                },
            },
            &mut buf,
        );
        let at = buf.iter().position(|&b| b == b'q').unwrap();
        buf[at] = b'x'; // "xueues"
        let cut = buf.len() - 2; // and the definition cut short
        assert_eq!(
            decode(&buf[..cut]),
            Err(RecordError::UnknownApplyTo("xueues".to_owned()))
        );
        assert_eq!(
            decode(&[SETTLED, 0, 0]),
            Err(RecordError::Field(Malformed::Truncated))
        );
    }

    #[test]
    fn unknown_kind_and_trailing_bytes_are_errors() {
        assert_eq!(decode(&[]), Err(RecordError::Empty));
        assert_eq!(decode(&[99]), Err(RecordError::UnknownKind { kind: 99 }));
        let mut buf = Vec::new();
        encode(&StoreRecord::Settled { seq: 1 }, &mut buf);
        buf.push(0);
        assert_eq!(
            decode(&buf),
            Err(RecordError::Field(Malformed::TrailingBytes { count: 1 }))
        );
    }
}
