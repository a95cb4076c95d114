//! The content header payload: class id, weight, body size, property flags and
//! the 14 properties of the `basic` class.
//!
//! Flags are 16-bit words, most significant bit first in property order; bit 0
//! of a word says another flags word follows. `basic` has 14 properties, so
//! one word is enough: any flag for a 15th property or later is an error, since
//! its type (and so its length) is unknown.

use super::error::{DecodeError, Malformed};
use super::method::FieldKind;
use super::reader::Reader;
use super::table::{encode_field_table, read_table};
use super::writer::Writer;
use crate::broker::{Properties, Props};

/// The class whose content header carries [`Properties`]: `basic`.
pub const BASIC_CLASS_ID: u16 = 60;

/// Class id, weight, body size and one flags word: the least a header holds.
pub const CONTENT_HEADER_MIN: usize = 14;

/// The `basic` properties in wire (and flag) order, named as the fields of
/// [`Properties`] (`kind` for the spec's `type`).
pub const BASIC_PROPERTIES: &[(&str, FieldKind)] = &[
    ("content_type", FieldKind::ShortStr),
    ("content_encoding", FieldKind::ShortStr),
    ("headers", FieldKind::Table),
    ("delivery_mode", FieldKind::Octet),
    ("priority", FieldKind::Octet),
    ("correlation_id", FieldKind::ShortStr),
    ("reply_to", FieldKind::ShortStr),
    ("expiration", FieldKind::ShortStr),
    ("message_id", FieldKind::ShortStr),
    ("timestamp", FieldKind::Timestamp),
    ("kind", FieldKind::ShortStr),
    ("user_id", FieldKind::ShortStr),
    ("app_id", FieldKind::ShortStr),
    ("cluster_id", FieldKind::ShortStr),
];

const CONTENT_TYPE: u16 = 1 << 15;
const CONTENT_ENCODING: u16 = 1 << 14;
const HEADERS: u16 = 1 << 13;
pub(super) const DELIVERY_MODE: u16 = 1 << 12;
const PRIORITY: u16 = 1 << 11;
const CORRELATION_ID: u16 = 1 << 10;
const REPLY_TO: u16 = 1 << 9;
const EXPIRATION: u16 = 1 << 8;
const MESSAGE_ID: u16 = 1 << 7;
const TIMESTAMP: u16 = 1 << 6;
const TYPE: u16 = 1 << 5;
const USER_ID: u16 = 1 << 4;
const APP_ID: u16 = 1 << 3;
const CLUSTER_ID: u16 = 1 << 2;
const CONTINUATION: u16 = 1;

/// A decoded content header (class `basic`, weight 0).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContentHeader {
    /// Total size of the body frames that follow.
    pub body_size: u64,
    /// The 14 `basic` properties, each optional; out of line, so frames stay small.
    pub properties: Props,
}

/// Decodes a header frame's payload. Only `basic` carries content, and weight
/// must be 0; anything else is the wrong frame here (505), as in RabbitMQ.
pub fn decode_content_header(payload: &[u8]) -> Result<ContentHeader, DecodeError> {
    Ok(ContentHeader {
        body_size: header_body_size(payload)?,
        properties: header_properties(payload)?,
    })
}

/// The properties of the last content header a connection decoded, by their
/// encoded bytes. A publisher usually sends the same properties with every
/// message (a delivery mode, a content type): a header with the same bytes
/// shares the block already decoded, with no decoding and no allocation, and
/// the messages queued share it too until one is changed (`Props::make_mut`
/// copies). A cache, not state: a resumed connection starts without it.
#[derive(Default)]
pub struct LastProperties {
    bytes: Vec<u8>,
    props: Props,
}

/// Property lists longer than this (large headers tables) are decoded each
/// time rather than kept.
const LAST_PROPERTIES_MAX: usize = 256;

/// [`decode_content_header`], sharing the properties of the connection's
/// last header when they are the same bytes.
pub fn decode_content_header_sharing(
    payload: &[u8],
    last: &mut LastProperties,
) -> Result<ContentHeader, DecodeError> {
    let body_size = header_body_size(payload)?;
    let bytes = payload.get(12..).unwrap_or_default();
    // No properties (a zero flags word), the usual publish under load:
    // told by two bytes, with no call to compare them with the last.
    let properties = if bytes == [0, 0] {
        Props::default()
    } else if bytes == last.bytes.as_slice() {
        last.props.clone()
    } else {
        let props = header_properties(payload)?;
        if bytes.len() <= LAST_PROPERTIES_MAX {
            last.bytes.clear();
            last.bytes.extend_from_slice(bytes);
            last.props = props.clone();
        }
        props
    };
    Ok(ContentHeader {
        body_size,
        properties,
    })
}

/// The body size of a header payload, after checking its class and weight.
fn header_body_size(payload: &[u8]) -> Result<u64, DecodeError> {
    if payload.len() < CONTENT_HEADER_MIN {
        return Err(too_short(payload));
    }
    let mut r = Reader::new(payload);
    let (Ok(class_id), Ok(weight), Ok(body_size)) = (r.u16(), r.u16(), r.u64()) else {
        return Err(too_short(payload));
    };
    if class_id != BASIC_CLASS_ID || weight != 0 {
        return Err(DecodeError::UnexpectedContentHeader { class_id, weight });
    }
    Ok(body_size)
}

/// The properties of a header payload whose first 12 bytes
/// [`header_body_size`] checked. Out of line: one copy serves both decoders.
#[inline(never)]
fn header_properties(payload: &[u8]) -> Result<Props, DecodeError> {
    // Most publishes under load carry no properties: a zero flags word and
    // nothing after it need no `Properties` built, checked and dropped.
    if payload.get(12..) == Some(&[0, 0]) {
        return Ok(Props::default());
    }
    let mut r = Reader::new(payload.get(12..).unwrap_or_default());
    let properties =
        read_properties(&mut r).map_err(|cause| DecodeError::ContentHeader { cause })?;
    Ok(Props::new(properties))
}

fn too_short(payload: &[u8]) -> DecodeError {
    DecodeError::FrameTooShort {
        frame_type: super::frame::FRAME_HEADER,
        len: payload.len(),
    }
}

/// Appends a `basic` content header payload (no frame around it).
pub fn encode_content_header(body_size: u64, properties: &Properties, buf: &mut Vec<u8>) {
    let [k0, k1] = BASIC_CLASS_ID.to_be_bytes();
    let [s0, s1, s2, s3, s4, s5, s6, s7] = body_size.to_be_bytes();
    if let Some(mode) = only_delivery_mode(properties) {
        // A persistent message's usual header: one write, as for no properties.
        let [f0, f1] = DELIVERY_MODE.to_be_bytes();
        buf.extend_from_slice(&[k0, k1, 0, 0, s0, s1, s2, s3, s4, s5, s6, s7, f0, f1, mode]);
        return;
    }
    let flags = property_flags(properties);
    let [f0, f1] = flags.to_be_bytes();
    buf.extend_from_slice(&[k0, k1, 0, 0, s0, s1, s2, s3, s4, s5, s6, s7, f0, f1]);
    write_property_values(properties, flags, buf);
}

/// The delivery mode if it is the only property set (the header a
/// persistent publisher sends). Tested field by field, each test a branch
/// that the usual case falls through: cheaper than building the flags word.
#[inline]
pub(crate) fn only_delivery_mode(p: &Properties) -> Option<u8> {
    let others_unset = p.content_type.is_none()
        && p.content_encoding.is_none()
        && p.headers.is_none()
        && p.priority.is_none()
        && p.correlation_id.is_none()
        && p.reply_to.is_none()
        && p.expiration.is_none()
        && p.message_id.is_none()
        && p.timestamp.is_none()
        && p.kind.is_none()
        && p.user_id.is_none()
        && p.app_id.is_none()
        && p.cluster_id.is_none();
    if others_unset {
        p.delivery_mode
    } else {
        None
    }
}

/// The flags word announcing the properties that are set.
#[inline]
pub(crate) fn property_flags(p: &Properties) -> u16 {
    let flag = |set: bool, bit: u16| if set { bit } else { 0 };
    flag(p.content_type.is_some(), CONTENT_TYPE)
        | flag(p.content_encoding.is_some(), CONTENT_ENCODING)
        | flag(p.headers.is_some(), HEADERS)
        | flag(p.delivery_mode.is_some(), DELIVERY_MODE)
        | flag(p.priority.is_some(), PRIORITY)
        | flag(p.correlation_id.is_some(), CORRELATION_ID)
        | flag(p.reply_to.is_some(), REPLY_TO)
        | flag(p.expiration.is_some(), EXPIRATION)
        | flag(p.message_id.is_some(), MESSAGE_ID)
        | flag(p.timestamp.is_some(), TIMESTAMP)
        | flag(p.kind.is_some(), TYPE)
        | flag(p.user_id.is_some(), USER_ID)
        | flag(p.app_id.is_some(), APP_ID)
        | flag(p.cluster_id.is_some(), CLUSTER_ID)
}

/// Reads property flags and the properties they announce, to the end of `r`.
pub(crate) fn read_properties(r: &mut Reader<'_>) -> Result<Properties, Malformed> {
    let flags = r.u16()?;
    if flags & 0b10 != 0 {
        return Err(Malformed::UnknownProperty { flags });
    }
    let mut more = flags & CONTINUATION != 0;
    while more {
        let extra = r.u16()?;
        if extra & !CONTINUATION != 0 {
            return Err(Malformed::UnknownProperty { flags: extra });
        }
        more = extra & CONTINUATION != 0;
    }
    let has = |bit: u16| flags & bit != 0;
    let mut p = Properties::default();
    if has(CONTENT_TYPE) {
        p.content_type = Some(r.short_str()?);
    }
    if has(CONTENT_ENCODING) {
        p.content_encoding = Some(r.short_str()?);
    }
    if has(HEADERS) {
        p.headers = Some(read_table(r)?);
    }
    if has(DELIVERY_MODE) {
        p.delivery_mode = Some(r.u8()?);
    }
    if has(PRIORITY) {
        p.priority = Some(r.u8()?);
    }
    if has(CORRELATION_ID) {
        p.correlation_id = Some(r.short_str()?);
    }
    if has(REPLY_TO) {
        p.reply_to = Some(r.short_str()?);
    }
    if has(EXPIRATION) {
        p.expiration = Some(r.short_str()?);
    }
    if has(MESSAGE_ID) {
        p.message_id = Some(r.short_str()?);
    }
    if has(TIMESTAMP) {
        p.timestamp = Some(r.u64()?);
    }
    if has(TYPE) {
        p.kind = Some(r.short_str()?);
    }
    if has(USER_ID) {
        p.user_id = Some(r.short_str()?);
    }
    if has(APP_ID) {
        p.app_id = Some(r.short_str()?);
    }
    if has(CLUSTER_ID) {
        p.cluster_id = Some(r.short_str()?);
    }
    r.finish()?;
    Ok(p)
}

/// Appends property flags and the properties that are set.
pub(crate) fn write_properties(p: &Properties, buf: &mut Vec<u8>) {
    let flags = property_flags(p);
    buf.put_u16(flags);
    write_property_values(p, flags, buf);
}

/// Appends the properties that `flags` (from [`property_flags`]) announces.
fn write_property_values(p: &Properties, flags: u16, buf: &mut Vec<u8>) {
    if flags == 0 {
        return;
    }
    if let Some(v) = &p.content_type {
        buf.put_short_str(v);
    }
    if let Some(v) = &p.content_encoding {
        buf.put_short_str(v);
    }
    if let Some(v) = &p.headers {
        encode_field_table(v, buf);
    }
    if let Some(v) = p.delivery_mode {
        buf.put_u8(v);
    }
    if let Some(v) = p.priority {
        buf.put_u8(v);
    }
    for v in [&p.correlation_id, &p.reply_to, &p.expiration, &p.message_id]
        .into_iter()
        .flatten()
    {
        buf.put_short_str(v);
    }
    if let Some(v) = p.timestamp {
        buf.put_u64(v);
    }
    for v in [&p.kind, &p.user_id, &p.app_id, &p.cluster_id]
        .into_iter()
        .flatten()
    {
        buf.put_short_str(v);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::broker::{FieldTable, FieldValue, ShortStr};

    fn s(v: &str) -> Option<ShortStr> {
        Some(ShortStr::new(v).unwrap())
    }

    #[test]
    fn decodes_a_header_written_by_hand() {
        #[rustfmt::skip]
        let payload = [
            0, 60, 0, 0,                 // class basic, weight 0
            0, 0, 0, 0, 0, 0, 0, 5,      // body size 5
            0b1001_0000, 0b0100_0000,    // content-type, delivery-mode, timestamp
            10, b't', b'e', b'x', b't', b'/', b'p', b'l', b'a', b'i', b'n',
            2,
            0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00,
        ];
        let h = decode_content_header(&payload).unwrap();
        assert_eq!(h.body_size, 5);
        assert_eq!(h.properties.content_type, s("text/plain"));
        assert!(h.properties.persistent());
        assert_eq!(h.properties.timestamp, Some(0x6553_f100));
        let mut out = Vec::new();
        encode_content_header(5, &h.properties, &mut out);
        assert_eq!(out, payload);
    }

    #[test]
    fn every_property_round_trips() {
        let p = Properties {
            content_type: s("application/json"),
            content_encoding: s("gzip"),
            headers: Some(FieldTable::new().with("x", FieldValue::I32(1))),
            delivery_mode: Some(2),
            priority: Some(9),
            correlation_id: s("c"),
            reply_to: s("amq.rabbitmq.reply-to"),
            expiration: s("60000"),
            message_id: s("m"),
            timestamp: Some(1),
            kind: s("t"),
            user_id: s("guest"),
            app_id: s("app"),
            cluster_id: s("cl"),
        };
        let mut out = Vec::new();
        encode_content_header(u64::MAX, &p, &mut out);
        assert_eq!(&out[12..14], &[0xff, 0xfc]);
        let h = decode_content_header(&out).unwrap();
        assert_eq!(*h.properties, p);
        assert_eq!(h.body_size, u64::MAX);
    }

    #[test]
    fn continuation_words_may_only_continue() {
        let base: &[u8] = &[0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            decode_content_header(base),
            Err(DecodeError::FrameTooShort { len: 12, .. })
        ));
        let ok = [base, &[0, 1, 0, 1, 0, 0]].concat();
        assert_eq!(
            decode_content_header(&ok).unwrap(),
            ContentHeader::default()
        );
        let extra = [base, &[0, 1, 0x80, 0]].concat();
        assert_eq!(
            decode_content_header(&extra),
            Err(DecodeError::ContentHeader {
                cause: Malformed::UnknownProperty { flags: 0x8000 }
            })
        );
        let reserved = [base, &[0, 2]].concat();
        assert!(decode_content_header(&reserved).is_err());
    }

    #[test]
    fn wrong_class_weight_or_size_are_refused() {
        let other = [0, 50, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            decode_content_header(&other),
            Err(DecodeError::UnexpectedContentHeader {
                class_id: 50,
                weight: 0
            })
        );
        let weighted = [0, 60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            decode_content_header(&weighted),
            Err(DecodeError::UnexpectedContentHeader { weight: 1, .. })
        ));
        assert!(matches!(
            decode_content_header(&[0, 60, 0]),
            Err(DecodeError::FrameTooShort { .. })
        ));
        let trailing = [0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
        assert_eq!(
            decode_content_header(&trailing),
            Err(DecodeError::ContentHeader {
                cause: Malformed::TrailingBytes { count: 1 }
            })
        );
    }

    #[test]
    fn a_header_with_the_last_headers_property_bytes_shares_its_block() {
        let payload = |props: &[u8]| [&[0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5][..], props].concat();
        let persistent = payload(&[0x10, 0, 2]);
        let transient = payload(&[0x10, 0, 1]);
        let mut last = LastProperties::default();
        let a = decode_content_header_sharing(&persistent, &mut last).unwrap();
        let b = decode_content_header_sharing(&persistent, &mut last).unwrap();
        assert_eq!(a, decode_content_header(&persistent).unwrap());
        assert!(a.properties.same_block(&b.properties));
        let c = decode_content_header_sharing(&transient, &mut last).unwrap();
        assert_eq!(c.properties.delivery_mode, Some(1));
        assert!(!c.properties.same_block(&a.properties));
        // A refused header leaves the last one kept.
        let bad = payload(&[0x10, 0]);
        assert!(decode_content_header_sharing(&bad, &mut last).is_err());
        let d = decode_content_header_sharing(&transient, &mut last).unwrap();
        assert!(d.properties.same_block(&c.properties));
        // Long property lists are decoded each time, not kept.
        let id = "m".repeat(255);
        let mut long = vec![0x10, 0x80, 2, 255];
        long.extend_from_slice(id.as_bytes());
        let long = payload(&long);
        let e = decode_content_header_sharing(&long, &mut last).unwrap();
        let f = decode_content_header_sharing(&long, &mut last).unwrap();
        assert_eq!(e, f);
        assert_eq!(f.properties.message_id.as_deref(), Some(id.as_str()));
        assert!(!e.properties.same_block(&f.properties));
    }
}
