//! Round trips for every method, field tables and properties, and the promise
//! that no input makes a decoder panic.
//!
//! Method arguments are built here from the codec's metadata (`METHODS`) with
//! their own bit packing, so a codec whose metadata and wire format disagreed
//! would fail: decode must accept the bytes and encode must give them back.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use warren::amqp::codec::{
    check_protocol_header, decode_content_header, decode_field_table, encode_content_header,
    encode_field_table, parse_frame, write_header_frame, write_message, FieldKind, FrameDecoder,
    Method, MethodInfo, PublishRef, FRAME_MIN_SIZE, METHODS,
};
use warren::broker::{FieldTable, FieldValue, Properties, ShortStr};

/// One argument value, typed by the spec's field kind.
#[derive(Clone, Debug)]
enum Arg {
    Bit(bool),
    Octet(u8),
    Short(u16),
    Long(u32),
    LongLong(u64),
    ShortStr(String),
    LongStr(Vec<u8>),
    Table(FieldTable),
}

/// Packs arguments as the 0-9-1 spec says: big-endian, consecutive bits
/// sharing an octet from the least significant bit, eight at most.
fn pack(args: &[Arg]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bit = 8;
    for a in args {
        if !matches!(a, Arg::Bit(_)) {
            bit = 8;
        }
        match a {
            Arg::Bit(v) => {
                if bit == 8 {
                    out.push(0);
                    bit = 0;
                }
                if *v {
                    *out.last_mut().unwrap() |= 1 << bit;
                }
                bit += 1;
            }
            Arg::Octet(v) => out.push(*v),
            Arg::Short(v) => out.extend_from_slice(&v.to_be_bytes()),
            Arg::Long(v) => out.extend_from_slice(&v.to_be_bytes()),
            Arg::LongLong(v) => out.extend_from_slice(&v.to_be_bytes()),
            Arg::ShortStr(v) => {
                out.push(v.len() as u8);
                out.extend_from_slice(v.as_bytes());
            }
            Arg::LongStr(v) => {
                out.extend_from_slice(&(v.len() as u32).to_be_bytes());
                out.extend_from_slice(v);
            }
            Arg::Table(t) => encode_field_table(t, &mut out),
        }
    }
    out
}

/// Text of at most 255 bytes, cut at a character boundary.
fn short_text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,16}", "[a-z]{250,300}"].prop_map(|s| ShortStr::truncated(&s).to_string())
}

fn short_str() -> impl Strategy<Value = ShortStr> {
    short_text().prop_map(|s| ShortStr::new(&s).unwrap())
}

fn field_value() -> impl Strategy<Value = FieldValue> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(FieldValue::Bool),
        any::<i8>().prop_map(FieldValue::I8),
        any::<u8>().prop_map(FieldValue::U8),
        any::<i16>().prop_map(FieldValue::I16),
        any::<u16>().prop_map(FieldValue::U16),
        any::<i32>().prop_map(FieldValue::I32),
        any::<u32>().prop_map(FieldValue::U32),
        any::<i64>().prop_map(FieldValue::I64),
        // NaN != NaN would fail the comparison, not the codec.
        any::<f32>()
            .prop_filter("not NaN", |f| !f.is_nan())
            .prop_map(FieldValue::F32),
        any::<f64>()
            .prop_filter("not NaN", |f| !f.is_nan())
            .prop_map(FieldValue::F64),
        (any::<u8>(), any::<u32>()).prop_map(|(scale, value)| FieldValue::Decimal { scale, value }),
        vec(any::<u8>(), 0..24).prop_map(FieldValue::LongStr),
        vec(any::<u8>(), 0..24).prop_map(FieldValue::Bytes),
        any::<u64>().prop_map(FieldValue::Timestamp),
        Just(FieldValue::Void),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(FieldValue::Array),
            vec((short_str(), inner), 0..6).prop_map(|e| FieldValue::Table(FieldTable(e))),
        ]
    })
}

fn field_table() -> impl Strategy<Value = FieldTable> {
    vec((short_str(), field_value()), 0..6).prop_map(FieldTable)
}

fn properties() -> impl Strategy<Value = Properties> {
    use proptest::option::of;
    let first = (
        of(short_str()),
        of(short_str()),
        of(field_table()),
        of(any::<u8>()),
        of(any::<u8>()),
        of(short_str()),
        of(short_str()),
    );
    let second = (
        of(short_str()),
        of(short_str()),
        of(any::<u64>()),
        of(short_str()),
        of(short_str()),
        of(short_str()),
        of(short_str()),
    );
    (first, second).prop_map(
        |((ct, ce, h, dm, pr, corr, reply), (exp, mid, ts, kind, user, app, cluster))| Properties {
            content_type: ct,
            content_encoding: ce,
            headers: h,
            delivery_mode: dm,
            priority: pr,
            correlation_id: corr,
            reply_to: reply,
            expiration: exp,
            message_id: mid,
            timestamp: ts,
            kind,
            user_id: user,
            app_id: app,
            cluster_id: cluster,
        },
    )
}

fn arg(kind: FieldKind) -> BoxedStrategy<Arg> {
    match kind {
        FieldKind::Bit => any::<bool>().prop_map(Arg::Bit).boxed(),
        FieldKind::Octet => any::<u8>().prop_map(Arg::Octet).boxed(),
        FieldKind::Short => any::<u16>().prop_map(Arg::Short).boxed(),
        FieldKind::Long => any::<u32>().prop_map(Arg::Long).boxed(),
        FieldKind::LongLong | FieldKind::Timestamp => any::<u64>().prop_map(Arg::LongLong).boxed(),
        FieldKind::ShortStr => short_text().prop_map(Arg::ShortStr).boxed(),
        FieldKind::LongStr => vec(any::<u8>(), 0..40).prop_map(Arg::LongStr).boxed(),
        FieldKind::Table => field_table().prop_map(Arg::Table).boxed(),
    }
}

/// A method from the codec's list with arbitrary arguments, as wire bytes.
fn method_args() -> impl Strategy<Value = (MethodInfo, Vec<u8>)> {
    select(METHODS).prop_flat_map(|info| {
        let args: Vec<_> = info.fields.iter().map(|(_, k)| arg(*k)).collect();
        (Just(info), args.prop_map(|a| pack(&a)))
    })
}

/// Decoding `args` gives a method that encodes back to the same bytes.
fn check_round_trip(info: &MethodInfo, args: &[u8]) -> Method {
    let m = Method::decode(info.class_id, info.method_id, args)
        .unwrap_or_else(|e| panic!("{}: {e}", info.name));
    assert_eq!(m.info(), info);
    assert_eq!(
        (m.class_id(), m.method_id(), m.name()),
        (info.class_id, info.method_id, info.name)
    );
    let mut out = Vec::new();
    m.encode_args(&mut out);
    assert_eq!(out, args, "{}", info.name);
    let mut payload = Vec::new();
    m.encode(&mut payload);
    assert_eq!(Method::decode_payload(&payload).unwrap(), m);
    m
}

#[test]
fn every_method_round_trips() {
    for info in METHODS {
        let args: Vec<Arg> = info
            .fields
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| match kind {
                FieldKind::Bit => Arg::Bit(i % 2 == 0),
                FieldKind::Octet => Arg::Octet(i as u8 + 1),
                FieldKind::Short => Arg::Short(0x0102 + i as u16),
                FieldKind::Long => Arg::Long(0x0102_0304 + i as u32),
                FieldKind::LongLong | FieldKind::Timestamp => Arg::LongLong(u64::MAX - i as u64),
                FieldKind::ShortStr => Arg::ShortStr(format!("field-{i}")),
                FieldKind::LongStr => Arg::LongStr(vec![0, 1, 2, i as u8]),
                FieldKind::Table => {
                    Arg::Table(FieldTable::new().with("k", FieldValue::I32(i as i32)))
                }
            })
            .collect();
        let bytes = pack(&args);
        check_round_trip(info, &bytes);
        // Every shorter prefix is refused, never half-decoded.
        for n in 0..bytes.len() {
            assert!(
                Method::decode(info.class_id, info.method_id, &bytes[..n]).is_err(),
                "{} {n}",
                info.name
            );
        }
    }
}

proptest! {
    #[test]
    fn methods_round_trip((info, args) in method_args()) {
        check_round_trip(&info, &args);
    }

    #[test]
    fn field_tables_round_trip(table in field_table()) {
        let mut bytes = Vec::new();
        encode_field_table(&table, &mut bytes);
        prop_assert_eq!(decode_field_table(&bytes).unwrap(), table);
    }

    #[test]
    fn properties_round_trip(p in properties(), body_size in any::<u64>()) {
        let mut bytes = Vec::new();
        encode_content_header(body_size, &p, &mut bytes);
        let header = decode_content_header(&bytes).unwrap();
        prop_assert_eq!(header.body_size, body_size);
        prop_assert_eq!(&*header.properties, &p);
    }

    /// Header frames, the fixed one for no properties included, frame
    /// exactly the payload `encode_content_header` gives.
    #[test]
    fn header_frames_frame_the_content_header(
        p in prop_oneof![Just(Properties::default()), properties()],
        body_size in any::<u64>(),
        channel in any::<u16>(),
    ) {
        let mut frame = Vec::new();
        write_header_frame(channel, body_size, &p, &mut frame);
        let mut payload = Vec::new();
        encode_content_header(body_size, &p, &mut payload);
        let mut expected = vec![2];
        expected.extend_from_slice(&channel.to_be_bytes());
        expected.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        expected.extend_from_slice(&payload);
        expected.push(0xce);
        prop_assert_eq!(frame, expected);
    }

    #[test]
    fn messages_split_and_reassemble(
        p in properties(),
        body in vec(any::<u8>(), 0..20_000),
        frame_max in prop_oneof![Just(0u32), FRAME_MIN_SIZE..20_000],
    ) {
        let (info, args) = (METHODS.iter().find(|m| m.name == "basic.deliver").unwrap(), vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let method = Method::decode(info.class_id, info.method_id, &args).unwrap();
        let mut out = Vec::new();
        write_message(7, &method, &p, &body, frame_max, &mut out);
        let mut decoder = FrameDecoder::new(0);
        decoder.push(&out);
        let mut joined = Vec::new();
        let mut frames = 0;
        while let Some(f) = decoder.next_frame().unwrap() {
            frames += 1;
            if let warren::amqp::codec::Frame::Body { payload, .. } = f {
                prop_assert!(frame_max == 0 || payload.len() + 8 <= frame_max as usize);
                joined.extend_from_slice(payload);
            }
        }
        prop_assert_eq!(joined, body);
        prop_assert!(frames >= 2);
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in vec(any::<u8>(), 0..600),
        frame_max in prop_oneof![Just(0u32), 0u32..5000],
    ) {
        if let Ok(Some((_, used))) = parse_frame(&bytes, frame_max) {
            prop_assert!(used <= bytes.len());
        }
        let mut decoder = FrameDecoder::new(frame_max);
        decoder.push(&bytes);
        while let Ok(Some(_)) = decoder.next_frame() {}
        let _ = Method::decode_payload(&bytes);
        let _ = decode_content_header(&bytes);
        let _ = decode_field_table(&bytes);
        let _ = check_protocol_header(&bytes);
    }

    #[test]
    fn arbitrary_arguments_never_panic(info in select(METHODS), args in vec(any::<u8>(), 0..300)) {
        let _ = Method::decode(info.class_id, info.method_id, &args);
    }

    #[test]
    fn well_framed_garbage_never_panics(
        frame_type in select(vec![1u8, 2, 3, 8]),
        channel in any::<u16>(),
        ids in select(METHODS).prop_map(|m| [m.class_id.to_be_bytes(), m.method_id.to_be_bytes()].concat()),
        payload in vec(any::<u8>(), 0..300),
    ) {
        let payload = if frame_type == 1 { [ids, payload].concat() } else { payload };
        let mut bytes = vec![frame_type];
        bytes.extend_from_slice(&channel.to_be_bytes());
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&payload);
        bytes.push(0xce);
        if let Ok(Some((frame, used))) = parse_frame(&bytes, 0) {
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(frame.channel(), channel);
        }
    }

    #[test]
    fn mutated_valid_input_never_panics(
        (info, args) in method_args(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut payload = Vec::new();
        payload.extend_from_slice(&info.class_id.to_be_bytes());
        payload.extend_from_slice(&info.method_id.to_be_bytes());
        payload.extend_from_slice(&args);
        for (at, byte) in flips {
            let i = at.index(payload.len());
            payload[i] = byte;
        }
        let _ = Method::decode_payload(&payload);
        let _ = Method::decode_payload(&payload[..cut.index(payload.len() + 1)]);
    }
}

/// The no-properties shortcut takes only a header that ends at its zero
/// flags word: bytes after it are still refused.
#[test]
fn empty_flags_with_trailing_bytes_are_refused() {
    let mut bytes = Vec::new();
    encode_content_header(5, &Properties::default(), &mut bytes);
    let header = decode_content_header(&bytes).unwrap();
    assert_eq!(
        (header.body_size, &*header.properties),
        (5, &Properties::default())
    );
    bytes.push(0);
    assert!(decode_content_header(&bytes).is_err());
}

/// `PublishRef::read` (the connection's allocation-free path) takes a
/// payload only where the method decoder reads the same `basic.publish`;
/// whatever it refuses goes to the decoder for the canonical error.
fn check_publish_ref(payload: &[u8]) -> Result<(), TestCaseError> {
    let decoded = Method::decode_payload(payload);
    match (PublishRef::read(payload), decoded) {
        (Some(p), Ok(Method::BasicPublish(m))) => {
            prop_assert_eq!(p.ticket, m.ticket);
            prop_assert_eq!(p.exchange, m.exchange.as_str());
            prop_assert_eq!(p.routing_key, m.routing_key.as_str());
            prop_assert_eq!((p.mandatory, p.immediate), (m.mandatory, m.immediate));
        }
        (Some(p), other) => prop_assert!(false, "read {p:?}, the decoder gave {other:?}"),
        (None, Ok(Method::BasicPublish(m))) => prop_assert!(false, "refused {m:?}"),
        (None, _) => {}
    }
    Ok(())
}

proptest! {
    #[test]
    fn publishes_read_in_place_match_the_decoder(
        ticket in any::<u16>(),
        exchange in short_text(),
        routing_key in short_text(),
        bits in any::<u8>(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut payload = vec![0, 60, 0, 40];
        payload.extend_from_slice(&ticket.to_be_bytes());
        for name in [&exchange, &routing_key] {
            payload.push(name.len() as u8);
            payload.extend_from_slice(name.as_bytes());
        }
        payload.push(bits);
        check_publish_ref(&payload)?;
        let n = payload.len();
        for (at, byte) in flips {
            payload[at.index(n)] = byte;
        }
        check_publish_ref(&payload)?;
        check_publish_ref(&payload[..cut.index(n + 1)])?;
        payload.push(0);
        check_publish_ref(&payload)?;
    }
}
