//! Field tables and arrays with RabbitMQ's type letters.
//!
//! RabbitMQ (like Qpid and every client that talks to it) departs from the
//! 0-9-1 spec's table of letters; clients follow RabbitMQ, so we do too:
//!
//! | letter | 0-9-1 spec           | RabbitMQ (used here)        |
//! |--------|----------------------|-----------------------------|
//! | `t`    | boolean              | boolean                     |
//! | `b`    | signed 8-bit         | signed 8-bit                |
//! | `B`    | unsigned 8-bit       | unsigned 8-bit              |
//! | `U`    | signed 16-bit        | (not used: rejected)        |
//! | `s`    | short string         | **signed 16-bit**           |
//! | `u`    | unsigned 16-bit      | unsigned 16-bit             |
//! | `I`    | signed 32-bit        | signed 32-bit               |
//! | `i`    | unsigned 32-bit      | unsigned 32-bit             |
//! | `L`    | signed 64-bit        | (not used: rejected)        |
//! | `l`    | unsigned 64-bit      | **signed 64-bit**           |
//! | `f`    | 32-bit float         | 32-bit float                |
//! | `d`    | 64-bit float         | 64-bit float                |
//! | `D`    | decimal              | decimal (scale u8, u32)     |
//! | `S`    | long string          | long string                 |
//! | `A`    | array                | array                       |
//! | `T`    | timestamp            | timestamp (u64 seconds)     |
//! | `F`    | table                | table                       |
//! | `V`    | void                 | void                        |
//! | `x`    | -                    | **byte array** (u32 length) |

use super::error::Malformed;
use super::reader::Reader;
use super::writer::Writer;
use crate::broker::{FieldTable, FieldValue};

/// How deep tables and arrays may nest. Real headers nest two or three levels;
/// the bound keeps hostile input from exhausting the stack.
pub const MAX_NESTING: usize = 64;

/// Decodes a length-prefixed field table that must fill `bytes` exactly.
pub fn decode_field_table(bytes: &[u8]) -> Result<FieldTable, Malformed> {
    let mut r = Reader::new(bytes);
    let table = read_table(&mut r)?;
    r.finish()?;
    Ok(table)
}

/// Appends a field table with its 32-bit length prefix.
pub fn encode_field_table(table: &FieldTable, buf: &mut Vec<u8>) {
    let at = buf.begin_len32();
    write_entries(table, buf);
    buf.end_len32(at);
}

/// Reads a length-prefixed field table.
pub(crate) fn read_table(r: &mut Reader<'_>) -> Result<FieldTable, Malformed> {
    read_table_at(r, 0)
}

fn read_table_at(r: &mut Reader<'_>, depth: usize) -> Result<FieldTable, Malformed> {
    let mut body = Reader::new(r.long_bytes()?);
    let mut entries = Vec::new();
    while !body.is_empty() {
        let key = body.short_str()?;
        let value = read_value(&mut body, depth)?;
        entries.push((key, value));
    }
    Ok(FieldTable(entries))
}

fn read_array_at(r: &mut Reader<'_>, depth: usize) -> Result<Vec<FieldValue>, Malformed> {
    let mut body = Reader::new(r.long_bytes()?);
    let mut values = Vec::new();
    while !body.is_empty() {
        values.push(read_value(&mut body, depth)?);
    }
    Ok(values)
}

fn read_value(r: &mut Reader<'_>, depth: usize) -> Result<FieldValue, Malformed> {
    let tag = r.u8()?;
    Ok(match tag {
        b't' => FieldValue::Bool(r.u8()? != 0),
        b'b' => FieldValue::I8(i8::from_be_bytes(*r.array()?)),
        b'B' => FieldValue::U8(r.u8()?),
        b's' => FieldValue::I16(i16::from_be_bytes(*r.array()?)),
        b'u' => FieldValue::U16(r.u16()?),
        b'I' => FieldValue::I32(i32::from_be_bytes(*r.array()?)),
        b'i' => FieldValue::U32(r.u32()?),
        b'l' => FieldValue::I64(i64::from_be_bytes(*r.array()?)),
        b'f' => FieldValue::F32(f32::from_be_bytes(*r.array()?)),
        b'd' => FieldValue::F64(f64::from_be_bytes(*r.array()?)),
        b'D' => FieldValue::Decimal {
            scale: r.u8()?,
            value: r.u32()?,
        },
        b'S' => FieldValue::LongStr(r.long_bytes()?.to_vec()),
        b'x' => FieldValue::Bytes(r.long_bytes()?.to_vec()),
        b'T' => FieldValue::Timestamp(r.u64()?),
        b'V' => FieldValue::Void,
        b'A' | b'F' => {
            let depth = depth + 1;
            if depth > MAX_NESTING {
                return Err(Malformed::TooDeep);
            }
            if tag == b'A' {
                FieldValue::Array(read_array_at(r, depth)?)
            } else {
                FieldValue::Table(read_table_at(r, depth)?)
            }
        }
        tag => return Err(Malformed::UnknownFieldType { tag }),
    })
}

fn write_entries(table: &FieldTable, buf: &mut Vec<u8>) {
    for (key, value) in table.iter() {
        buf.put_short_str(key);
        write_value(value, buf);
    }
}

fn write_value(value: &FieldValue, buf: &mut Vec<u8>) {
    match value {
        FieldValue::Bool(v) => {
            buf.put_u8(b't');
            buf.put_u8(u8::from(*v));
        }
        FieldValue::I8(v) => {
            buf.put_u8(b'b');
            buf.extend_from_slice(&v.to_be_bytes());
        }
        FieldValue::U8(v) => {
            buf.put_u8(b'B');
            buf.put_u8(*v);
        }
        FieldValue::I16(v) => {
            buf.put_u8(b's');
            buf.extend_from_slice(&v.to_be_bytes());
        }
        FieldValue::U16(v) => {
            buf.put_u8(b'u');
            buf.put_u16(*v);
        }
        FieldValue::I32(v) => {
            buf.put_u8(b'I');
            buf.extend_from_slice(&v.to_be_bytes());
        }
        FieldValue::U32(v) => {
            buf.put_u8(b'i');
            buf.put_u32(*v);
        }
        FieldValue::I64(v) => {
            buf.put_u8(b'l');
            buf.extend_from_slice(&v.to_be_bytes());
        }
        FieldValue::F32(v) => {
            buf.put_u8(b'f');
            buf.extend_from_slice(&v.to_be_bytes());
        }
        FieldValue::F64(v) => {
            buf.put_u8(b'd');
            buf.extend_from_slice(&v.to_be_bytes());
        }
        FieldValue::Decimal { scale, value } => {
            buf.put_u8(b'D');
            buf.put_u8(*scale);
            buf.put_u32(*value);
        }
        FieldValue::LongStr(bytes) => {
            buf.put_u8(b'S');
            buf.put_long_bytes(bytes);
        }
        FieldValue::Bytes(bytes) => {
            buf.put_u8(b'x');
            buf.put_long_bytes(bytes);
        }
        FieldValue::Timestamp(v) => {
            buf.put_u8(b'T');
            buf.put_u64(*v);
        }
        FieldValue::Void => buf.put_u8(b'V'),
        FieldValue::Array(values) => {
            buf.put_u8(b'A');
            let at = buf.begin_len32();
            for v in values {
                write_value(v, buf);
            }
            buf.end_len32(at);
        }
        FieldValue::Table(table) => {
            buf.put_u8(b'F');
            encode_field_table(table, buf);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn decodes_rabbitmq_letters_written_by_hand() {
        #[rustfmt::skip]
        let bytes = [
            0, 0, 0, 25,
            1, b'a', b's', 0xff, 0xfe,      // s: signed 16-bit -2
            1, b'b', b'l', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // l: i64 -1
            1, b'c', b'x', 0, 0, 0, 2, 7, 8, // x: byte array
        ];
        let t = decode_field_table(&bytes).unwrap();
        assert_eq!(t.get("a"), Some(&FieldValue::I16(-2)));
        assert_eq!(t.get("b"), Some(&FieldValue::I64(-1)));
        assert_eq!(t.get("c"), Some(&FieldValue::Bytes(vec![7, 8])));
        let mut out = Vec::new();
        encode_field_table(&t, &mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    fn rejects_letters_rabbitmq_does_not_define() {
        for tag in [b'U', b'L', b'Z', 0] {
            let bytes = [0, 0, 0, 4, 1, b'k', tag, 0];
            assert_eq!(
                decode_field_table(&bytes),
                Err(Malformed::UnknownFieldType { tag })
            );
        }
    }

    #[test]
    fn rejects_keys_that_are_not_utf8() {
        let bytes = [0, 0, 0, 3, 1, 0xff, b'V'];
        assert_eq!(decode_field_table(&bytes), Err(Malformed::NotUtf8));
    }

    #[test]
    fn rejects_values_running_past_the_table() {
        // The table says 4 bytes, the string inside says 9.
        let bytes = [0, 0, 0, 4, 1, b'k', b'S', 0, 0, 0, 9];
        assert_eq!(decode_field_table(&bytes), Err(Malformed::Truncated));
    }

    fn nested(depth: usize) -> FieldTable {
        let mut t = FieldTable::new();
        for _ in 0..depth {
            t = FieldTable::new().with("n", FieldValue::Table(t));
        }
        t
    }

    #[test]
    fn nesting_is_bounded() {
        let mut ok = Vec::new();
        encode_field_table(&nested(MAX_NESTING), &mut ok);
        assert_eq!(decode_field_table(&ok).unwrap(), nested(MAX_NESTING));
        let mut deep = Vec::new();
        encode_field_table(&nested(MAX_NESTING + 1), &mut deep);
        assert_eq!(decode_field_table(&deep), Err(Malformed::TooDeep));
    }

    #[test]
    fn hostile_nesting_does_not_overflow_the_stack() {
        // 100k nested arrays, each claiming the rest of the input.
        let n = 100_000;
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&((n * 5) as u32 + 2).to_be_bytes());
        bytes.extend_from_slice(&[1, b'k']);
        for i in 0..n {
            bytes.push(b'A');
            bytes.extend_from_slice(&(((n - i - 1) * 5) as u32).to_be_bytes());
        }
        assert_eq!(decode_field_table(&bytes), Err(Malformed::TooDeep));
    }

    #[test]
    fn arrays_and_every_type_round_trip() {
        let t = FieldTable::new()
            .with("t", FieldValue::Bool(true))
            .with("b", FieldValue::I8(-1))
            .with("B", FieldValue::U8(255))
            .with("u", FieldValue::U16(65535))
            .with("I", FieldValue::I32(-7))
            .with("i", FieldValue::U32(7))
            .with("f", FieldValue::F32(1.5))
            .with("d", FieldValue::F64(-2.25))
            .with(
                "D",
                FieldValue::Decimal {
                    scale: 2,
                    value: 314,
                },
            )
            .with("S", FieldValue::str("text"))
            .with("T", FieldValue::Timestamp(1_700_000_000))
            .with("V", FieldValue::Void)
            .with(
                "A",
                FieldValue::Array(vec![FieldValue::I32(1), FieldValue::Array(vec![])]),
            );
        let mut out = Vec::new();
        encode_field_table(&t, &mut out);
        assert_eq!(decode_field_table(&out).unwrap(), t);
        assert_eq!(t.get("S").unwrap().as_str(), Some("text"));
    }
}
