//! Why bytes could not be decoded, and the reply code the connection closes with.
//!
//! Every decode error is a hard (connection) error: once framing or syntax is
//! broken, the byte stream cannot be trusted. "Need more bytes" is not an error:
//! decoders return `Ok(None)` (or [`HeaderStatus::NeedMore`](super::HeaderStatus)).

use crate::broker::{AmqpError, ReplyCode};
use std::fmt;

/// A frame, method, content header or field table that could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The octet after the payload was not the frame-end marker 0xCE. (501)
    BadFrameEnd { found: u8 },
    /// The frame, counting its 8 bytes of header and end, exceeds the negotiated
    /// `frame_max`. (501)
    FrameTooLarge { size: u64, frame_max: u32 },
    /// The frame type octet is not method, header, body or heartbeat. (501)
    UnknownFrameType { frame_type: u8 },
    /// A heartbeat frame carried a payload. (501)
    HeartbeatPayload { len: u32 },
    /// A method frame shorter than its class and method ids, or a header frame
    /// shorter than class, weight, body size and property flags. (501)
    FrameTooShort { frame_type: u8, len: usize },
    /// No method with these ids in AMQP 0-9-1 (with RabbitMQ's extensions). (540)
    UnknownMethod { class_id: u16, method_id: u16 },
    /// The arguments of a known method are malformed. (502)
    Method {
        class_id: u16,
        method_id: u16,
        cause: Malformed,
    },
    /// A content header for a class that carries no content (only `basic`
    /// does), or with a non-zero weight. (505, as RabbitMQ answers)
    UnexpectedContentHeader { class_id: u16, weight: u16 },
    /// The properties of a content header are malformed. (502)
    ContentHeader { cause: Malformed },
}

/// What exactly is wrong inside a method's arguments, a content header's
/// properties or a field table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// The data ended inside a field.
    Truncated,
    /// Bytes were left over after the last field.
    TrailingBytes { count: usize },
    /// A short string (or a table key) is not valid UTF-8.
    NotUtf8,
    /// A field-table value has a type letter RabbitMQ does not define.
    UnknownFieldType { tag: u8 },
    /// Tables and arrays are nested deeper than [`MAX_NESTING`](super::MAX_NESTING).
    TooDeep,
    /// Property flags name a property the class does not have.
    UnknownProperty { flags: u16 },
}

impl DecodeError {
    /// The reply code to close the connection with.
    pub fn reply_code(&self) -> ReplyCode {
        match self {
            DecodeError::BadFrameEnd { .. }
            | DecodeError::FrameTooLarge { .. }
            | DecodeError::UnknownFrameType { .. }
            | DecodeError::HeartbeatPayload { .. }
            | DecodeError::FrameTooShort { .. } => ReplyCode::FrameError,
            // RabbitMQ drops the connection without a close here; LavinMQ answers
            // 540, which says what happened: the method is not one we implement.
            DecodeError::UnknownMethod { .. } => ReplyCode::NotImplemented,
            DecodeError::Method { .. } | DecodeError::ContentHeader { .. } => {
                ReplyCode::SyntaxError
            }
            DecodeError::UnexpectedContentHeader { .. } => ReplyCode::UnexpectedFrame,
        }
    }

    /// The class and method ids the error is about, when a method frame caused it
    /// (reported in `connection.close`).
    pub fn method_ids(&self) -> Option<(u16, u16)> {
        match *self {
            DecodeError::UnknownMethod {
                class_id,
                method_id,
            }
            | DecodeError::Method {
                class_id,
                method_id,
                ..
            } => Some((class_id, method_id)),
            _ => None,
        }
    }

    /// The `connection.close` to send: reply code, RabbitMQ-style text and ids.
    pub fn to_amqp_error(&self) -> AmqpError {
        let (class_id, method_id) = self.method_ids().unwrap_or((0, 0));
        AmqpError::new(self.reply_code(), self).on(class_id, method_id)
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BadFrameEnd { found } => {
                write!(f, "invalid frame end marker 0x{found:02x}")
            }
            DecodeError::FrameTooLarge { size, frame_max } => {
                write!(f, "frame of {size} bytes exceeds frame_max {frame_max}")
            }
            DecodeError::UnknownFrameType { frame_type } => {
                write!(f, "unknown frame type {frame_type}")
            }
            DecodeError::HeartbeatPayload { len } => {
                write!(f, "heartbeat frame with a payload of {len} bytes")
            }
            DecodeError::FrameTooShort { frame_type, len } => {
                write!(f, "frame of type {frame_type} too short ({len} bytes)")
            }
            DecodeError::UnknownMethod {
                class_id,
                method_id,
            } => write!(f, "unknown method {class_id}.{method_id}"),
            DecodeError::Method {
                class_id,
                method_id,
                cause,
            } => match super::method::method_info(*class_id, *method_id) {
                Some(info) => write!(f, "cannot decode {}: {cause}", info.name),
                None => write!(f, "cannot decode method {class_id}.{method_id}: {cause}"),
            },
            DecodeError::UnexpectedContentHeader { class_id, weight } => write!(
                f,
                "unexpected content header for class {class_id} with weight {weight}"
            ),
            DecodeError::ContentHeader { cause } => {
                write!(f, "cannot decode content header: {cause}")
            }
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Truncated => f.write_str("truncated field"),
            Malformed::TrailingBytes { count } => write!(f, "{count} trailing bytes"),
            Malformed::NotUtf8 => f.write_str("short string is not valid UTF-8"),
            Malformed::UnknownFieldType { tag } => {
                write!(f, "unknown field type 0x{tag:02x}")
            }
            Malformed::TooDeep => f.write_str("field tables nested too deep"),
            Malformed::UnknownProperty { flags } => {
                write!(f, "unknown property flags 0x{flags:04x}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}
impl std::error::Error for Malformed {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn framing_problems_are_frame_errors() {
        let e = DecodeError::BadFrameEnd { found: 0 };
        assert_eq!(e.reply_code(), ReplyCode::FrameError);
        let e = DecodeError::FrameTooLarge {
            size: 5000,
            frame_max: 4096,
        };
        assert_eq!(e.to_amqp_error().code.code(), 501);
    }

    #[test]
    fn malformed_arguments_are_syntax_errors_naming_the_method() {
        let e = DecodeError::Method {
            class_id: 60,
            method_id: 40,
            cause: Malformed::NotUtf8,
        };
        let amqp = e.to_amqp_error();
        assert_eq!(amqp.code, ReplyCode::SyntaxError);
        assert_eq!((amqp.class_id, amqp.method_id), (60, 40));
        assert_eq!(
            amqp.text,
            "SYNTAX_ERROR - cannot decode basic.publish: short string is not valid UTF-8"
        );
    }

    #[test]
    fn unknown_methods_are_not_implemented() {
        let e = DecodeError::UnknownMethod {
            class_id: 60,
            method_id: 99,
        };
        assert_eq!(e.reply_code(), ReplyCode::NotImplemented);
        assert_eq!(e.method_ids(), Some((60, 99)));
    }
}
