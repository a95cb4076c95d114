//! The three methods that carry a message to a client (`basic.deliver`,
//! `basic.get-ok`, `basic.return`), encoded with the exchange and routing key
//! read in place from the message's block: a delivery copies no names.
//! `tests::same_bytes_as_the_method_encoder` keeps them equal to [`Method::encode`].

use super::frame::{
    begin_frame, end_frame, write_bare_header_frame, write_body_frame, write_body_frames,
    write_header_frame, FRAME_END, FRAME_METHOD,
};
use super::writer::Writer;
use crate::broker::{Message, ShortStr};
use crate::short_bytes::put_bytes;

/// What a carrying method says besides the message's exchange and routing key.
#[derive(Clone, Copy, Debug)]
pub enum Carrier<'a> {
    Deliver {
        consumer_tag: &'a ShortStr,
        delivery_tag: u64,
        redelivered: bool,
    },
    GetOk {
        delivery_tag: u64,
        redelivered: bool,
        message_count: u32,
    },
    Return {
        reply_code: u16,
        reply_text: &'a ShortStr,
    },
}

fn write_method(carrier: Carrier<'_>, message: &Message, buf: &mut Vec<u8>) {
    // The block starts with exchange and routing key as two short strings,
    // exactly their wire form: copied in one piece, not decoded as text.
    let names = message.address_bytes();
    match carrier {
        Carrier::Deliver {
            consumer_tag,
            delivery_tag,
            redelivered,
        } => {
            buf.put_u16(60);
            buf.put_u16(60);
            buf.put_short_str(consumer_tag);
            buf.put_u64(delivery_tag);
            buf.put_u8(u8::from(redelivered));
            buf.extend_from_slice(names);
        }
        Carrier::GetOk {
            delivery_tag,
            redelivered,
            message_count,
        } => {
            buf.put_u16(60);
            buf.put_u16(71);
            buf.put_u64(delivery_tag);
            buf.put_u8(u8::from(redelivered));
            buf.extend_from_slice(names);
            buf.put_u32(message_count);
        }
        Carrier::Return {
            reply_code,
            reply_text,
        } => {
            buf.put_u16(60);
            buf.put_u16(50);
            buf.put_u16(reply_code);
            buf.put_short_str(reply_text);
            buf.extend_from_slice(names);
        }
    }
}

/// The `basic.deliver` frame, every delivery's, in three appends: the
/// fixed head with the size computed up front, the consumer tag, then the
/// tag, flag and names (a frame built field by field pays a length check
/// per field and a size written back at the end).
fn write_deliver_frame(
    channel: u16,
    consumer_tag: &ShortStr,
    delivery_tag: u64,
    redelivered: bool,
    names: &[u8],
    buf: &mut Vec<u8>,
) {
    let tag = consumer_tag.as_bytes();
    // A short string is at most 255 bytes, the names two of them: the
    // payload is far below u32::MAX.
    let tag_len = u8::try_from(tag.len()).unwrap_or(u8::MAX);
    let tag = tag.get(..usize::from(tag_len)).unwrap_or_default();
    let size = 4 + 1 + tag.len() + 8 + 1 + names.len();
    let [c0, c1] = channel.to_be_bytes();
    let [s0, s1, s2, s3] = u32::try_from(size).unwrap_or(u32::MAX).to_be_bytes();
    #[rustfmt::skip]
    buf.extend_from_slice(&[FRAME_METHOD, c0, c1, s0, s1, s2, s3, 0, 60, 0, 60, tag_len]);
    put_bytes(buf, tag);
    let [d0, d1, d2, d3, d4, d5, d6, d7] = delivery_tag.to_be_bytes();
    buf.extend_from_slice(&[d0, d1, d2, d3, d4, d5, d6, d7, u8::from(redelivered)]);
    put_bytes(buf, names);
    buf.push(FRAME_END);
}

/// Appends the method, content header and body frames of a carried message.
pub fn write_carried(
    channel: u16,
    carrier: Carrier<'_>,
    message: &Message,
    frame_max: u32,
    buf: &mut Vec<u8>,
) {
    let body = message.body();
    let max_payload = super::max_body_payload(frame_max);
    let frames = body.len() / max_payload.max(1) + 1;
    buf.reserve(128 + body.len() + frames * super::FRAME_OVERHEAD);
    match carrier {
        Carrier::Deliver {
            consumer_tag,
            delivery_tag,
            redelivered,
        } => {
            let names = message.address_bytes();
            write_deliver_frame(channel, consumer_tag, delivery_tag, redelivered, names, buf);
        }
        _ => {
            let at = begin_frame(FRAME_METHOD, channel, buf);
            write_method(carrier, message, buf);
            end_frame(at, buf);
        }
    }
    let body_size = u64::try_from(body.len()).unwrap_or(u64::MAX);
    // No properties block: one pointer test, where the header's own test
    // reads all fourteen fields.
    if message.properties.is_unset() {
        write_bare_header_frame(channel, body_size, buf);
    } else {
        write_header_frame(channel, body_size, &message.properties, buf);
    }
    // Most bodies fit one frame: written without the split's loop.
    match body.len() {
        0 => {}
        n if n <= max_payload => write_body_frame(channel, body, buf),
        _ => write_body_frames(channel, body, frame_max, buf),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::amqp::codec::method::{BasicDeliver, BasicGetOk, BasicReturn, Method};
    use crate::amqp::codec::write_message;
    use crate::broker::Properties;

    #[test]
    fn same_bytes_as_the_method_encoder() {
        let s = |t: &str| ShortStr::new(t).unwrap();
        let props = Properties {
            delivery_mode: Some(2),
            ..Default::default()
        };
        let m = Message::new(s("logs"), s("a.b.c"), props, b"hello world");
        let (tag, text) = (s("ctag-1"), s("NO_ROUTE"));
        let cases: [(Carrier<'_>, Method); 3] = [
            (
                Carrier::Deliver {
                    consumer_tag: &tag,
                    delivery_tag: 7,
                    redelivered: true,
                },
                BasicDeliver {
                    consumer_tag: tag.clone(),
                    delivery_tag: 7,
                    redelivered: true,
                    exchange: s("logs"),
                    routing_key: s("a.b.c"),
                }
                .into(),
            ),
            (
                Carrier::GetOk {
                    delivery_tag: 9,
                    redelivered: false,
                    message_count: 3,
                },
                BasicGetOk {
                    delivery_tag: 9,
                    redelivered: false,
                    exchange: s("logs"),
                    routing_key: s("a.b.c"),
                    message_count: 3,
                }
                .into(),
            ),
            (
                Carrier::Return {
                    reply_code: 312,
                    reply_text: &text,
                },
                BasicReturn {
                    reply_code: 312,
                    reply_text: text.clone(),
                    exchange: s("logs"),
                    routing_key: s("a.b.c"),
                }
                .into(),
            ),
        ];
        for (carrier, method) in cases {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            write_carried(3, carrier, &m, 4096, &mut ours);
            write_message(3, &method, &m.properties, m.body(), 4096, &mut theirs);
            assert_eq!(ours, theirs, "{}", method.name());
        }
    }

    #[test]
    fn bodies_split_as_the_message_writer_splits_them() {
        // Empty, one full frame (4096 - 8 bytes), one byte more, several.
        let tag = ShortStr::new("c").unwrap();
        for size in [0, 1, 4088, 4089, 10_000] {
            let body = vec![7u8; size];
            let m = Message::new(ShortStr::empty(), tag.clone(), Properties::default(), &body);
            let carrier = Carrier::Deliver {
                consumer_tag: &tag,
                delivery_tag: 1,
                redelivered: false,
            };
            let method = BasicDeliver {
                consumer_tag: tag.clone(),
                delivery_tag: 1,
                redelivered: false,
                exchange: ShortStr::empty(),
                routing_key: tag.clone(),
            };
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            write_carried(1, carrier, &m, 4096, &mut ours);
            write_message(1, &method.into(), &m.properties, &body, 4096, &mut theirs);
            assert_eq!(ours, theirs, "body of {size} bytes");
        }
    }
}
