//! Bytes <-> frames, methods, field tables and properties. No state, no I/O.
//!
//! - [`check_protocol_header`]: the 8 bytes a client opens with.
//! - [`parse_frame`] / [`FrameDecoder`]: frames out of received bytes; "need
//!   more bytes" is `Ok(None)`, never an error.
//! - [`Method`]: every 0-9-1 method (RabbitMQ's extensions included), decoded
//!   from and encoded to a method frame's payload.
//! - [`ContentHeader`]: body size and [`Properties`](crate::broker::Properties).
//! - [`write_message`] and the `write_*` functions: frames appended to a
//!   `Vec<u8>` the host sends as is.
//! - [`DecodeError`]: the exact cause, and the reply code to close with.
//!
//! Input is untrusted: nothing here may panic, whatever the bytes. The lints
//! below keep indexing, `unwrap` and friends out of this module.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

mod ack;
mod carry;
mod error;
mod frame;
pub mod method;
mod properties;
mod protocol_header;
mod publish;
mod reader;
mod table;
mod writer;

pub use ack::AckRef;
pub use carry::{write_carried, Carrier};
pub use error::{DecodeError, Malformed};
pub use frame::{
    max_body_payload, parse_frame, parse_raw_frame, write_body_frame, write_body_frames,
    write_header_frame, write_heartbeat, write_message, write_method_frame, Frame, FrameDecoder,
    RawFrame, FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_HEADER_SIZE, FRAME_HEARTBEAT,
    FRAME_METHOD, FRAME_MIN_SIZE, FRAME_OVERHEAD,
};
pub use method::{method_info, spec_fields, FieldKind, Method, MethodInfo, METHODS};
pub use properties::{
    decode_content_header, decode_content_header_sharing, encode_content_header, ContentHeader,
    LastProperties, BASIC_CLASS_ID, BASIC_PROPERTIES, CONTENT_HEADER_MIN,
};
pub(crate) use properties::{read_properties, write_properties};
pub use protocol_header::{check_protocol_header, HeaderStatus, PROTOCOL_HEADER};
pub use publish::PublishRef;
pub use reader::Reader;
pub use table::{decode_field_table, encode_field_table, MAX_NESTING};
pub use writer::Writer;
