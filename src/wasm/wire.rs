//! The wire tap: for in-process connections, the AMQP frames an AMQP
//! connection would carry, encoded by the codec from each command and from
//! each effect the engine routes to the host, so a page can show what crossed
//! without re-enacting it. Off until `setWireTap(true)`: it costs one encode
//! per command and effect.
//!
//! Record: `WIRE, conn, channel, dir u8, frames blob` (see `output.rs`),
//! `dir` 0 client to broker, 1 broker to client; a content method carries
//! its header and body frames after the method frame.

use super::output::{blob, head, WIRE};
use crate::amqp::codec::method::{
    BasicAck, BasicCancel, BasicDeliver, BasicGetEmpty, BasicGetOk, BasicNack, BasicReturn,
    ChannelClose, ConnectionBlocked, ConnectionClose, ConnectionUnblocked, Method, TxCommitOk,
};
use crate::amqp::codec::{write_message, write_method_frame};
use crate::broker::{AmqpError, Effect, Message, ShortStr};

pub const TO_BROKER: u8 = 0;
pub const TO_CLIENT: u8 = 1;

/// Appends one record: `method` on `channel` and, for a content method, `content`.
pub fn record(
    out: &mut Vec<u8>,
    (conn, channel): (u32, u16),
    dir: u8,
    method: &Method,
    content: Option<&Message>,
    frame_max: u32,
) {
    let mut frames = Vec::new();
    match content {
        Some(m) => write_message(
            channel,
            method,
            &m.properties,
            m.body(),
            frame_max,
            &mut frames,
        ),
        None => write_method_frame(channel, method, &mut frames),
    }
    head(out, WIRE, conn, channel);
    out.push(dir);
    blob(out, &frames);
}

/// The close a connection sends for an error: `channel.close` (soft) or `connection.close`.
pub fn close_for(e: &AmqpError) -> (bool, Method) {
    let text = ShortStr::truncated(&e.text);
    if e.is_soft() {
        let m = ChannelClose {
            reply_code: e.code.code(),
            reply_text: text,
            class_id: e.class_id,
            method_id: e.method_id,
        };
        (true, m.into())
    } else {
        let m = ConnectionClose {
            reply_code: e.code.code(),
            reply_text: text,
            class_id: e.class_id,
            method_id: e.method_id,
        };
        (false, m.into())
    }
}

/// Appends the frames an AMQP connection would send for effect `e`, as
/// `connection/output.rs` writes them.
pub fn effect(e: &Effect, out: &mut Vec<u8>, frame_max: u32) {
    let (at, method, content): ((u32, u16), Method, Option<&Message>) = match e {
        Effect::Deliver {
            to,
            consumer_tag,
            delivery_tag,
            redelivered,
            message,
        } => {
            let m = BasicDeliver {
                consumer_tag: consumer_tag.clone(),
                delivery_tag: *delivery_tag,
                redelivered: *redelivered,
                exchange: ShortStr::truncated(message.exchange()),
                routing_key: ShortStr::truncated(message.routing_key()),
            };
            ((to.conn.0, to.channel), m.into(), Some(message))
        }
        Effect::GetOk {
            to,
            delivery_tag,
            redelivered,
            message_count,
            message,
        } => {
            let m = BasicGetOk {
                delivery_tag: *delivery_tag,
                redelivered: *redelivered,
                exchange: ShortStr::truncated(message.exchange()),
                routing_key: ShortStr::truncated(message.routing_key()),
                message_count: *message_count,
            };
            ((to.conn.0, to.channel), m.into(), Some(message))
        }
        Effect::GetEmpty { to } => {
            let m = BasicGetEmpty {
                cluster_id: ShortStr::empty(),
            };
            ((to.conn.0, to.channel), m.into(), None)
        }
        Effect::Confirm {
            to,
            delivery_tag,
            multiple,
            ack,
        } => {
            let m: Method = if *ack {
                BasicAck {
                    delivery_tag: *delivery_tag,
                    multiple: *multiple,
                }
                .into()
            } else {
                BasicNack {
                    delivery_tag: *delivery_tag,
                    multiple: *multiple,
                    requeue: false,
                }
                .into()
            };
            ((to.conn.0, to.channel), m, None)
        }
        Effect::TxCommitOk { to } => ((to.conn.0, to.channel), TxCommitOk {}.into(), None),
        Effect::Return {
            to,
            reply_code,
            reply_text,
            message,
        } => {
            let m = BasicReturn {
                reply_code: *reply_code,
                reply_text: reply_text.clone(),
                exchange: ShortStr::truncated(message.exchange()),
                routing_key: ShortStr::truncated(message.routing_key()),
            };
            ((to.conn.0, to.channel), m.into(), Some(message))
        }
        Effect::Cancel { to, consumer_tag } => {
            let m = BasicCancel {
                consumer_tag: consumer_tag.clone(),
                nowait: true,
            };
            ((to.conn.0, to.channel), m.into(), None)
        }
        Effect::CloseChannel { to, error } => {
            let m = ChannelClose {
                reply_code: error.code.code(),
                reply_text: ShortStr::truncated(&error.text),
                class_id: error.class_id,
                method_id: error.method_id,
            };
            ((to.conn.0, to.channel), m.into(), None)
        }
        Effect::CloseConnection { to, error } => {
            let m = ConnectionClose {
                reply_code: error.code.code(),
                reply_text: ShortStr::truncated(&error.text),
                class_id: error.class_id,
                method_id: error.method_id,
            };
            ((to.0, 0), m.into(), None)
        }
        Effect::Blocked { to, reason } => {
            let m: Method = match reason {
                Some(reason) => ConnectionBlocked {
                    reason: reason.clone(),
                }
                .into(),
                None => ConnectionUnblocked {}.into(),
            };
            ((to.0, 0), m, None)
        }
    };
    record(out, at, TO_CLIENT, &method, content, frame_max);
}
