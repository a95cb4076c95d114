//! Wire bytes written by hand from the 0-9-1 spec (not from the codec's own
//! output), split reads, and body splitting under `frame_max`.

use warren::amqp::codec::method::*;
use warren::amqp::codec::{
    check_protocol_header, encode_content_header, parse_frame, write_header_frame, write_heartbeat,
    write_message, write_method_frame, ContentHeader, DecodeError, Frame, FrameDecoder,
    HeaderStatus, Malformed, Method, FRAME_MIN_SIZE, PROTOCOL_HEADER,
};
use warren::broker::{FieldTable, FieldValue, Properties, ShortStr};

fn s(v: &str) -> ShortStr {
    ShortStr::new(v).unwrap()
}

/// A frame around a payload given as byte pieces.
fn frame(frame_type: u8, channel: u16, pieces: &[&[u8]]) -> Vec<u8> {
    let payload = pieces.concat();
    let mut out = vec![frame_type];
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    out.push(0xce);
    out
}

/// Decodes exactly one frame filling `bytes`.
fn one_frame(bytes: &[u8]) -> Frame<'_> {
    let (f, used) = parse_frame(bytes, FRAME_MIN_SIZE).unwrap().unwrap();
    assert_eq!(used, bytes.len());
    f
}

fn one_method(bytes: &[u8]) -> (u16, Method) {
    match one_frame(bytes) {
        Frame::Method { channel, method } => (channel, method),
        other => panic!("not a method frame: {other:?}"),
    }
}

fn encoded(channel: u16, method: impl Into<Method>) -> Vec<u8> {
    let mut out = Vec::new();
    write_method_frame(channel, &method.into(), &mut out);
    out
}

#[test]
fn protocol_header() {
    assert_eq!(&PROTOCOL_HEADER, &[b'A', b'M', b'Q', b'P', 0, 0, 9, 1]);
    assert_eq!(
        check_protocol_header(&[b'A', b'M', b'Q', b'P', 0, 0, 9, 1]),
        HeaderStatus::Supported
    );
    assert_eq!(check_protocol_header(b"AMQ"), HeaderStatus::NeedMore);
    assert_eq!(
        check_protocol_header(&[b'A', b'M', b'Q', b'P', 1, 0, 0, 0]),
        HeaderStatus::Unsupported
    );
    assert_eq!(
        check_protocol_header(b"HTTP/1.1"),
        HeaderStatus::Unsupported
    );
}

#[test]
fn connection_start_from_the_server() {
    let start = ConnectionStart {
        version_major: 0,
        version_minor: 9,
        server_properties: FieldTable::new().with("product", FieldValue::str("Warren")),
        mechanisms: b"PLAIN AMQPLAIN".to_vec(),
        locales: b"en_US".to_vec(),
    };
    #[rustfmt::skip]
    let expected = frame(1, 0, &[
        &[0, 10, 0, 10],                                    // connection.start
        &[0, 9],                                            // version 0-9
        &[0, 0, 0, 19], &[7], b"product", b"S", &[0, 0, 0, 6], b"Warren",
        &[0, 0, 0, 14], b"PLAIN AMQPLAIN",                  // mechanisms
        &[0, 0, 0, 5], b"en_US",                            // locales
    ]);
    assert_eq!(encoded(0, start.clone()), expected);
    assert_eq!(one_method(&expected), (0, Method::ConnectionStart(start)));
}

#[test]
fn connection_start_ok_with_a_plain_response() {
    #[rustfmt::skip]
    let bytes = frame(1, 0, &[
        &[0, 10, 0, 11],                                    // connection.start-ok
        &[0, 0, 0, 17], &[7], b"product", b"S", &[0, 0, 0, 4], b"pika",
        &[5], b"PLAIN",                                     // mechanism
        &[0, 0, 0, 12], b"\0guest\0guest",                  // response
        &[5], b"en_US",                                     // locale
    ]);
    let (channel, method) = one_method(&bytes);
    assert_eq!(channel, 0);
    let Method::ConnectionStartOk(ok) = method else {
        panic!("{method:?}")
    };
    assert_eq!(
        ok.client_properties.get("product").unwrap().as_str(),
        Some("pika")
    );
    assert_eq!(ok.mechanism, "PLAIN");
    assert_eq!(ok.response, b"\0guest\0guest");
    assert_eq!(ok.locale, "en_US");
    assert_eq!(encoded(0, ok), bytes);
}

#[test]
fn tune_and_tune_ok() {
    let tune = ConnectionTune {
        channel_max: 2047,
        frame_max: 131_072,
        heartbeat: 60,
    };
    let expected = frame(
        1,
        0,
        &[&[0, 10, 0, 30], &[0x07, 0xff], &[0, 2, 0, 0], &[0, 60]],
    );
    assert_eq!(encoded(0, tune), expected);
    let ok = frame(1, 0, &[&[0, 10, 0, 31], &[0, 0], &[0, 0, 0x10, 0], &[0, 0]]);
    assert_eq!(
        one_method(&ok).1,
        Method::ConnectionTuneOk(ConnectionTuneOk {
            channel_max: 0,
            frame_max: 4096,
            heartbeat: 0
        })
    );
}

#[test]
fn connection_open() {
    let bytes = frame(1, 0, &[&[0, 10, 0, 40], &[1], b"/", &[0], &[0]]);
    let open = ConnectionOpen {
        virtual_host: s("/"),
        capabilities: s(""),
        insist: false,
    };
    assert_eq!(one_method(&bytes).1, Method::ConnectionOpen(open.clone()));
    assert_eq!(encoded(0, open), bytes);
    let ok = frame(1, 0, &[&[0, 10, 0, 41], &[0]]);
    assert_eq!(encoded(0, ConnectionOpenOk { known_hosts: s("") }), ok);
}

#[test]
fn channel_open() {
    let bytes = frame(1, 1, &[&[0, 20, 0, 10], &[0]]);
    assert_eq!(
        one_method(&bytes),
        (1, Method::ChannelOpen(ChannelOpen { out_of_band: s("") }))
    );
    let ok = frame(1, 1, &[&[0, 20, 0, 11], &[0, 0, 0, 0]]);
    assert_eq!(encoded(1, ChannelOpenOk { channel_id: vec![] }), ok);
}

#[test]
fn queue_declare_with_arguments() {
    #[rustfmt::skip]
    let bytes = frame(1, 1, &[
        &[0, 50, 0, 10],                                    // queue.declare
        &[0, 0],                                            // ticket
        &[5], b"hello",                                     // queue
        &[0b0000_0010],                                     // passive, DURABLE, exclusive, auto-delete, nowait
        &[0, 0, 0, 18], &[12], b"x-max-length", b"I", &[0, 0, 0, 10],
    ]);
    let declare = QueueDeclare {
        ticket: 0,
        queue: s("hello"),
        passive: false,
        durable: true,
        exclusive: false,
        auto_delete: false,
        nowait: false,
        arguments: FieldTable::new().with("x-max-length", FieldValue::I32(10)),
    };
    assert_eq!(
        one_method(&bytes),
        (1, Method::QueueDeclare(declare.clone()))
    );
    assert_eq!(encoded(1, declare), bytes);
    #[rustfmt::skip]
    let ok = frame(1, 1, &[
        &[0, 50, 0, 11],                                    // queue.declare-ok
        &[5], b"hello",
        &[0, 0, 0, 3],                                      // message count
        &[0, 0, 0, 1],                                      // consumer count
    ]);
    let declare_ok = QueueDeclareOk {
        queue: s("hello"),
        message_count: 3,
        consumer_count: 1,
    };
    assert_eq!(encoded(1, declare_ok), ok);
}

fn publish_bytes() -> Vec<u8> {
    #[rustfmt::skip]
    let frames = [
        frame(1, 1, &[
            &[0, 60, 0, 40],                                // basic.publish
            &[0, 0],                                        // ticket
            &[0],                                           // exchange ""
            &[5], b"hello",                                 // routing key
            &[0b0000_0001],                                 // MANDATORY, immediate
        ]),
        frame(2, 1, &[
            &[0, 60], &[0, 0],                              // class basic, weight 0
            &[0, 0, 0, 0, 0, 0, 0, 5],                      // body size
            &[0b1001_0000, 0],                              // content-type, delivery-mode
            &[10], b"text/plain",
            &[2],
        ]),
        frame(3, 1, &[b"hello"]),
    ];
    frames.concat()
}

#[test]
fn basic_publish_header_and_body() {
    let bytes = publish_bytes();
    let mut decoder = FrameDecoder::new(FRAME_MIN_SIZE);
    decoder.push(&bytes);
    let publish = BasicPublish {
        ticket: 0,
        exchange: s(""),
        routing_key: s("hello"),
        mandatory: true,
        immediate: false,
    };
    assert_eq!(
        decoder.next_frame().unwrap(),
        Some(Frame::Method {
            channel: 1,
            method: Method::BasicPublish(publish)
        })
    );
    let properties = Properties {
        content_type: Some(s("text/plain")),
        delivery_mode: Some(2),
        ..Properties::default()
    };
    assert_eq!(
        decoder.next_frame().unwrap(),
        Some(Frame::Header {
            channel: 1,
            header: ContentHeader {
                body_size: 5,
                properties: properties.into()
            }
        })
    );
    assert_eq!(
        decoder.next_frame().unwrap(),
        Some(Frame::Body {
            channel: 1,
            payload: b"hello"
        })
    );
    assert_eq!(decoder.next_frame().unwrap(), None);
}

#[test]
fn basic_deliver_as_a_whole_message() {
    let deliver = BasicDeliver {
        consumer_tag: s("ctag"),
        delivery_tag: 1,
        redelivered: true,
        exchange: s(""),
        routing_key: s("hello"),
    };
    #[rustfmt::skip]
    let expected = [
        frame(1, 1, &[
            &[0, 60, 0, 60],                                // basic.deliver
            &[4], b"ctag",
            &[0, 0, 0, 0, 0, 0, 0, 1],                      // delivery tag
            &[1],                                           // redelivered
            &[0],                                           // exchange ""
            &[5], b"hello",                                 // routing key
        ]),
        frame(2, 1, &[&[0, 60, 0, 0], &[0, 0, 0, 0, 0, 0, 0, 5], &[0, 0]]),
        frame(3, 1, &[b"hello"]),
    ]
    .concat();
    let mut out = Vec::new();
    let method = Method::BasicDeliver(deliver);
    write_message(
        1,
        &method,
        &Properties::default(),
        b"hello",
        131_072,
        &mut out,
    );
    assert_eq!(out, expected);
}

/// The headers written in one piece (none, or only `delivery_mode`) and the
/// general path next to them (`delivery_mode` with `priority`), both as a
/// frame and as the bare payload the store records.
#[test]
fn content_headers_with_delivery_mode() {
    let cases: [(Properties, &[u8]); 3] = [
        (Properties::default(), &[0x00, 0x00]),
        (
            Properties {
                delivery_mode: Some(2),
                ..Properties::default()
            },
            &[0x10, 0x00, 2],
        ),
        (
            Properties {
                delivery_mode: Some(1),
                priority: Some(9),
                ..Properties::default()
            },
            &[0x18, 0x00, 1, 9],
        ),
    ];
    for (properties, flags_and_values) in cases {
        let payload = [
            &[0, 60, 0, 0][..],
            &[0, 0, 0, 0, 0, 0, 0x01, 0x02],
            flags_and_values,
        ]
        .concat();
        let mut bare = Vec::new();
        encode_content_header(0x102, &properties, &mut bare);
        assert_eq!(bare, payload);
        let mut out = vec![0xaa];
        write_header_frame(0x0203, 0x102, &properties, &mut out);
        let expected = frame(2, 0x0203, &[&payload]);
        assert_eq!(out.get(1..), Some(&expected[..]));
        assert_eq!(
            one_frame(&expected),
            Frame::Header {
                channel: 0x0203,
                header: ContentHeader {
                    body_size: 0x102,
                    properties: properties.into()
                }
            }
        );
    }
}

/// A header announcing `delivery_mode` alone but holding one octet too few
/// or too many is refused, as any malformed header is.
#[test]
fn delivery_mode_headers_of_the_wrong_length() {
    let head = [0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0x10, 0x00];
    for tail in [&[][..], &[2, 7]] {
        let bytes = frame(2, 1, &[&head, tail]);
        assert!(matches!(
            parse_frame(&bytes, FRAME_MIN_SIZE),
            Err(DecodeError::ContentHeader { .. })
        ));
    }
}

#[test]
fn basic_ack() {
    let bytes = frame(1, 1, &[&[0, 60, 0, 80], &[0, 0, 0, 0, 0, 0, 0, 7], &[1]]);
    let ack = BasicAck {
        delivery_tag: 7,
        multiple: true,
    };
    assert_eq!(one_method(&bytes), (1, Method::BasicAck(ack.clone())));
    assert_eq!(encoded(1, ack), bytes);
}

#[test]
fn heartbeat() {
    let mut out = Vec::new();
    write_heartbeat(&mut out);
    assert_eq!(out, frame(8, 0, &[]));
}

#[test]
fn method_errors_name_the_cause_and_the_method() {
    // basic.publish cut short inside its routing key.
    let bytes = frame(1, 1, &[&[0, 60, 0, 40], &[0, 0], &[0], &[5], b"hel"]);
    let err = parse_frame(&bytes, 0).unwrap_err();
    assert_eq!(
        err,
        DecodeError::Method {
            class_id: 60,
            method_id: 40,
            cause: Malformed::Truncated
        }
    );
    assert_eq!(err.to_amqp_error().code.code(), 502);
    // basic.ack with a byte too many.
    let bytes = frame(1, 1, &[&[0, 60, 0, 80], &[0; 8], &[0], &[0]]);
    assert!(matches!(
        parse_frame(&bytes, 0),
        Err(DecodeError::Method {
            cause: Malformed::TrailingBytes { count: 1 },
            ..
        })
    ));
    // basic.bogus.
    let bytes = frame(1, 1, &[&[0, 60, 0, 99]]);
    let err = parse_frame(&bytes, 0).unwrap_err();
    assert_eq!(
        err,
        DecodeError::UnknownMethod {
            class_id: 60,
            method_id: 99
        }
    );
    assert_eq!(err.to_amqp_error().code.code(), 540);
    // A routing key that is not UTF-8.
    let bytes = frame(1, 1, &[&[0, 60, 0, 40], &[0, 0], &[0], &[1, 0xff], &[0]]);
    assert!(matches!(
        parse_frame(&bytes, 0),
        Err(DecodeError::Method {
            cause: Malformed::NotUtf8,
            ..
        })
    ));
}

/// Frames with owned payloads, to compare decodes done at different times.
fn owned(f: Frame<'_>) -> (u16, String) {
    let channel = f.channel();
    let text = match f {
        Frame::Body { payload, .. } => format!("body {payload:?}"),
        other => format!("{other:?}"),
    };
    (channel, text)
}

#[test]
fn split_reads_one_byte_at_a_time() {
    let mut bytes = publish_bytes();
    write_heartbeat(&mut bytes);
    bytes.extend(frame(
        1,
        1,
        &[&[0, 60, 0, 80], &[0, 0, 0, 0, 0, 0, 0, 7], &[1]],
    ));
    bytes.extend(publish_bytes());

    let mut whole = Vec::new();
    let mut rest = &bytes[..];
    while let Some((f, used)) = parse_frame(rest, FRAME_MIN_SIZE).unwrap() {
        whole.push(owned(f));
        rest = &rest[used..];
    }
    assert!(rest.is_empty());
    assert_eq!(whole.len(), 8);

    let mut decoder = FrameDecoder::new(FRAME_MIN_SIZE);
    let mut split = Vec::new();
    for b in &bytes {
        decoder.push(std::slice::from_ref(b));
        while let Some(f) = decoder.next_frame().unwrap() {
            split.push(owned(f));
        }
    }
    assert_eq!(split, whole);
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn frame_max_splits_a_large_body() {
    let body: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    let method = Method::BasicDeliver(BasicDeliver {
        consumer_tag: s("c"),
        delivery_tag: 9,
        redelivered: false,
        exchange: s("x"),
        routing_key: s("k"),
    });
    let properties = Properties {
        message_id: Some(s("m-1")),
        ..Properties::default()
    };
    let mut out = Vec::new();
    write_message(3, &method, &properties, &body, 4096, &mut out);

    let mut rest = &out[..];
    let mut sizes = Vec::new();
    let mut frames = Vec::new();
    while let Some((f, used)) = parse_frame(rest, 4096).unwrap() {
        sizes.push(used);
        frames.push(f);
        rest = &rest[used..];
    }
    assert!(rest.is_empty());
    assert!(sizes.iter().all(|&n| n <= 4096), "{sizes:?}");
    assert_eq!(&sizes[2..], &[4096, 4096, 1824 + 8]);
    assert_eq!(frames[0], Frame::Method { channel: 3, method });
    assert_eq!(
        frames[1],
        Frame::Header {
            channel: 3,
            header: ContentHeader {
                body_size: 10_000,
                properties: properties.into()
            }
        }
    );
    let mut joined = Vec::new();
    for f in &frames[2..] {
        let Frame::Body {
            channel: 3,
            payload,
        } = f
        else {
            panic!("{f:?}")
        };
        joined.extend_from_slice(payload);
    }
    assert_eq!(joined, body);

    // An empty body has no body frames.
    let mut out = Vec::new();
    write_message(
        3,
        &frames[0].clone().into_method(),
        &Properties::default(),
        &[],
        4096,
        &mut out,
    );
    let (_, first) = parse_frame(&out, 0).unwrap().unwrap();
    let (_, second) = parse_frame(&out[first..], 0).unwrap().unwrap();
    assert_eq!(first + second, out.len());
}

trait IntoMethod {
    fn into_method(self) -> Method;
}

impl IntoMethod for Frame<'_> {
    fn into_method(self) -> Method {
        match self {
            Frame::Method { method, .. } => method,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn oversized_frames_are_refused_from_their_header() {
    let big = frame(3, 1, &[&[0; 4089]]);
    assert_eq!(
        parse_frame(&big[..7], 4096),
        Err(DecodeError::FrameTooLarge {
            size: 4097,
            frame_max: 4096
        })
    );
    assert!(parse_frame(&big, 0).unwrap().is_some());
    assert_eq!(
        DecodeError::FrameTooLarge {
            size: 4097,
            frame_max: 4096
        }
        .to_amqp_error()
        .code
        .code(),
        501
    );
}
