//! Frames: `type u8, channel u16, size u32, payload, 0xCE`.
//!
//! [`parse_frame`] decodes one frame from the front of a buffer, or says it
//! needs more bytes; [`FrameDecoder`] keeps the bytes of a frame split across
//! reads. The `write_*` functions append whole frames to an output buffer.

use super::error::DecodeError;
use super::method::Method;
use super::properties::{
    decode_content_header, encode_content_header, only_delivery_mode, ContentHeader,
    BASIC_CLASS_ID, DELIVERY_MODE,
};
use super::writer::Writer;
use crate::broker::Properties;
use crate::short_bytes::put_bytes;

/// Frame type of a method frame.
pub const FRAME_METHOD: u8 = 1;
/// Frame type of a content header frame.
pub const FRAME_HEADER: u8 = 2;
/// Frame type of a content body frame.
pub const FRAME_BODY: u8 = 3;
/// Frame type of a heartbeat frame.
pub const FRAME_HEARTBEAT: u8 = 8;
/// The octet that ends every frame.
pub const FRAME_END: u8 = 0xCE;
/// Type, channel and size.
pub const FRAME_HEADER_SIZE: usize = 7;
/// Header and end marker: what a frame adds to its payload.
pub const FRAME_OVERHEAD: usize = 8;
/// The smallest `frame_max` every peer must accept.
pub const FRAME_MIN_SIZE: u32 = 4096;

/// One decoded frame. Body payloads borrow the input.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame<'a> {
    /// A method; if it [has content](Method::has_content), a header and
    /// body frames follow on the same channel.
    Method { channel: u16, method: Method },
    /// The content header: body size and properties.
    Header { channel: u16, header: ContentHeader },
    /// A piece of a message body.
    Body { channel: u16, payload: &'a [u8] },
    /// A heartbeat (valid on channel 0 only; the connection checks).
    Heartbeat { channel: u16 },
}

impl Frame<'_> {
    /// The channel the frame was sent on.
    pub fn channel(&self) -> u16 {
        match *self {
            Frame::Method { channel, .. }
            | Frame::Header { channel, .. }
            | Frame::Body { channel, .. }
            | Frame::Heartbeat { channel } => channel,
        }
    }
}

/// Decodes the frame at the front of `buf`: `Ok(None)` until it is complete,
/// then the frame and how many bytes it took. `frame_max` (0: no limit)
/// bounds the whole frame, header and end included; a frame over it, or of an
/// unknown type, is refused as soon as its 7-byte header is in.
pub fn parse_frame(buf: &[u8], frame_max: u32) -> Result<Option<(Frame<'_>, usize)>, DecodeError> {
    match parse_raw_frame(buf, frame_max)? {
        Some((raw, used)) => Ok(Some((raw.decode()?, used))),
        None => Ok(None),
    }
}

/// A whole, well-framed frame whose payload is not decoded yet: a reader
/// with a faster way for some payloads (see `PublishRef`) looks first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawFrame<'a> {
    pub frame_type: u8,
    pub channel: u16,
    pub payload: &'a [u8],
}

impl<'a> RawFrame<'a> {
    /// The payload decoded, as [`parse_frame`] gives it.
    pub fn decode(self) -> Result<Frame<'a>, DecodeError> {
        let RawFrame {
            frame_type,
            channel,
            payload,
        } = self;
        Ok(match frame_type {
            FRAME_METHOD => Frame::Method {
                channel,
                method: Method::decode_payload(payload)?,
            },
            FRAME_HEADER => Frame::Header {
                channel,
                header: decode_content_header(payload)?,
            },
            FRAME_BODY => Frame::Body { channel, payload },
            _ => Frame::Heartbeat { channel },
        })
    }
}

/// [`parse_frame`] up to the payload: the framing checked (size, type, end
/// octet), the payload left as bytes.
pub fn parse_raw_frame(
    buf: &[u8],
    frame_max: u32,
) -> Result<Option<(RawFrame<'_>, usize)>, DecodeError> {
    let Some(([frame_type, c0, c1, s0, s1, s2, s3], rest)) =
        buf.split_first_chunk::<FRAME_HEADER_SIZE>()
    else {
        return Ok(None);
    };
    let (frame_type, channel) = (*frame_type, u16::from_be_bytes([*c0, *c1]));
    let size = u32::from_be_bytes([*s0, *s1, *s2, *s3]);
    let total = u64::from(size) + FRAME_OVERHEAD as u64;
    if frame_max != 0 && total > u64::from(frame_max) {
        return Err(DecodeError::FrameTooLarge {
            size: total,
            frame_max,
        });
    }
    match frame_type {
        FRAME_METHOD | FRAME_HEADER | FRAME_BODY => {}
        FRAME_HEARTBEAT if size == 0 => {}
        FRAME_HEARTBEAT => return Err(DecodeError::HeartbeatPayload { len: size }),
        _ => return Err(DecodeError::UnknownFrameType { frame_type }),
    }
    // Cannot fail where usize is 64 bits; on wasm32 such a frame could never
    // be buffered anyway.
    let Ok(size) = usize::try_from(size) else {
        return Err(DecodeError::FrameTooLarge {
            size: total,
            frame_max,
        });
    };
    let Some((payload, after)) = rest.split_at_checked(size) else {
        return Ok(None);
    };
    match after.first() {
        None => return Ok(None),
        Some(&FRAME_END) => {}
        Some(&found) => return Err(DecodeError::BadFrameEnd { found }),
    }
    let raw = RawFrame {
        frame_type,
        channel,
        payload,
    };
    Ok(Some((raw, size + FRAME_OVERHEAD)))
}

/// Collects bytes as they arrive and hands out whole frames.
///
/// ```text
/// decoder.push(bytes);
/// while let Some(frame) = decoder.next_frame()? { ... }
/// ```
///
/// After an error the stream cannot be resynchronised: close the connection
/// (`next_frame` keeps returning the same error).
#[derive(Clone, Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    // Bytes of `buf` already handed out as frames.
    start: usize,
    frame_max: u32,
}

impl FrameDecoder {
    /// `frame_max` as for [`parse_frame`]; until `connection.tune-ok`, use
    /// [`FRAME_MIN_SIZE`].
    pub fn new(frame_max: u32) -> Self {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            frame_max,
        }
    }

    /// Changes the limit for frames not decoded yet (after tuning).
    pub fn set_frame_max(&mut self, frame_max: u32) {
        self.frame_max = frame_max;
    }

    /// The current limit (0: none).
    pub fn frame_max(&self) -> u32 {
        self.frame_max
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            // Only the tail of a partial frame moves.
            let start = self.start.min(self.buf.len());
            self.buf.drain(..start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, or `Ok(None)` until more bytes are pushed.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, DecodeError> {
        let pending = self.buf.get(self.start..).unwrap_or_default();
        match parse_frame(pending, self.frame_max)? {
            Some((frame, used)) => {
                self.start += used;
                Ok(Some(frame))
            }
            None => Ok(None),
        }
    }

    /// Bytes received but not yet handed out as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }
}

/// Starts a frame: type, channel and a size to fill in by [`end_frame`].
#[inline]
pub(super) fn begin_frame(frame_type: u8, channel: u16, buf: &mut Vec<u8>) -> usize {
    buf.put_u8(frame_type);
    buf.put_u16(channel);
    buf.begin_len32()
}

pub(super) fn end_frame(size_at: usize, buf: &mut Vec<u8>) {
    buf.end_len32(size_at);
    buf.put_u8(FRAME_END);
}

/// Appends a method frame.
pub fn write_method_frame(channel: u16, method: &Method, buf: &mut Vec<u8>) {
    let at = begin_frame(FRAME_METHOD, channel, buf);
    method.encode(buf);
    end_frame(at, buf);
}

/// Appends a content header frame for a `basic` message.
pub fn write_header_frame(
    channel: u16,
    body_size: u64,
    properties: &Properties,
    buf: &mut Vec<u8>,
) {
    if properties.is_empty() {
        return write_bare_header_frame(channel, body_size, buf);
    }
    write_header_frame_with_properties(channel, body_size, properties, buf);
}

/// Appends the content header frame of a message without properties: the
/// usual delivery, a fixed 22-byte frame written in one piece.
#[inline]
pub fn write_bare_header_frame(channel: u16, body_size: u64, buf: &mut Vec<u8>) {
    let [c0, c1] = channel.to_be_bytes();
    let [s0, s1, s2, s3, s4, s5, s6, s7] = body_size.to_be_bytes();
    let [k0, k1] = BASIC_CLASS_ID.to_be_bytes();
    #[rustfmt::skip]
    buf.extend_from_slice(&[
        FRAME_HEADER, c0, c1, 0, 0, 0, 14,
        k0, k1, 0, 0, s0, s1, s2, s3, s4, s5, s6, s7, 0, 0,
        FRAME_END,
    ]);
}

// Out of line, so the no-properties path above stays as short as it was.
#[inline(never)]
fn write_header_frame_with_properties(
    channel: u16,
    body_size: u64,
    properties: &Properties,
    buf: &mut Vec<u8>,
) {
    if let Some(mode) = only_delivery_mode(properties) {
        let [c0, c1] = channel.to_be_bytes();
        let [s0, s1, s2, s3, s4, s5, s6, s7] = body_size.to_be_bytes();
        let [k0, k1] = BASIC_CLASS_ID.to_be_bytes();
        // A persistent publisher's usual header, likewise in one piece.
        let [f0, f1] = DELIVERY_MODE.to_be_bytes();
        #[rustfmt::skip]
        buf.extend_from_slice(&[
            FRAME_HEADER, c0, c1, 0, 0, 0, 15,
            k0, k1, 0, 0, s0, s1, s2, s3, s4, s5, s6, s7, f0, f1, mode,
            FRAME_END,
        ]);
        return;
    }
    let at = begin_frame(FRAME_HEADER, channel, buf);
    encode_content_header(body_size, properties, buf);
    end_frame(at, buf);
}

/// Appends one body frame holding all of `payload` (see [`write_body_frames`]
/// to respect `frame_max`).
#[inline]
pub fn write_body_frame(channel: u16, payload: &[u8], buf: &mut Vec<u8>) {
    // The size is known: written with the head, not filled in afterwards.
    let [c0, c1] = channel.to_be_bytes();
    let [s0, s1, s2, s3] = u32::try_from(payload.len())
        .unwrap_or(u32::MAX)
        .to_be_bytes();
    buf.extend_from_slice(&[FRAME_BODY, c0, c1, s0, s1, s2, s3]);
    put_bytes(buf, payload);
    buf.push(FRAME_END);
}

/// Appends a heartbeat frame (always on channel 0).
pub fn write_heartbeat(buf: &mut Vec<u8>) {
    buf.extend_from_slice(&[FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END]);
}

/// The largest body payload per frame under `frame_max`. A `frame_max` below
/// the protocol minimum is taken as [`FRAME_MIN_SIZE`], which every peer
/// accepts, so a bad value cannot stall the split.
pub fn max_body_payload(frame_max: u32) -> usize {
    let limit = match frame_max {
        0 => u32::MAX,
        n => n.max(FRAME_MIN_SIZE),
    };
    usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_sub(FRAME_OVERHEAD)
}

/// Appends `body` as body frames of at most `frame_max` bytes each (none for
/// an empty body).
pub fn write_body_frames(channel: u16, body: &[u8], frame_max: u32, buf: &mut Vec<u8>) {
    for chunk in body.chunks(max_body_payload(frame_max)) {
        write_body_frame(channel, chunk, buf);
    }
}

/// Appends a whole message: the method (`basic.deliver`, `basic.get-ok`,
/// `basic.return`, or `basic.publish` for a client), its content header and
/// the body split so that no body frame exceeds `frame_max`. Method and header
/// frames cannot be split; they are written whole.
pub fn write_message(
    channel: u16,
    method: &Method,
    properties: &Properties,
    body: &[u8],
    frame_max: u32,
    buf: &mut Vec<u8>,
) {
    let frames = body.len() / max_body_payload(frame_max).max(1) + 1;
    buf.reserve(128 + body.len() + frames * FRAME_OVERHEAD);
    write_method_frame(channel, method, buf);
    let body_size = u64::try_from(body.len()).unwrap_or(u64::MAX);
    write_header_frame(channel, body_size, properties, buf);
    write_body_frames(channel, body, frame_max, buf);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::amqp::codec::method::BasicAck;

    #[test]
    fn needs_more_until_the_frame_end() {
        let mut bytes = Vec::new();
        write_heartbeat(&mut bytes);
        for n in 0..bytes.len() {
            assert_eq!(parse_frame(&bytes[..n], 0), Ok(None));
        }
        let (frame, used) = parse_frame(&bytes, 0).unwrap().unwrap();
        assert_eq!(frame, Frame::Heartbeat { channel: 0 });
        assert_eq!(used, 8);
    }

    #[test]
    fn refuses_bad_end_unknown_type_and_oversize() {
        assert_eq!(
            parse_frame(&[8, 0, 0, 0, 0, 0, 0, 0], 0),
            Err(DecodeError::BadFrameEnd { found: 0 })
        );
        assert_eq!(
            parse_frame(&[4, 0, 0, 0, 0, 0, 0], 0),
            Err(DecodeError::UnknownFrameType { frame_type: 4 })
        );
        assert_eq!(
            parse_frame(&[3, 0, 1, 0, 0, 0x0f, 0xf9], 4096),
            Err(DecodeError::FrameTooLarge {
                size: 4097,
                frame_max: 4096
            })
        );
        assert_eq!(parse_frame(&[3, 0, 1, 0, 0, 0x0f, 0xf8], 4096), Ok(None));
        assert_eq!(
            parse_frame(&[8, 0, 0, 0, 0, 0, 1, 0, 0xce], 0),
            Err(DecodeError::HeartbeatPayload { len: 1 })
        );
        assert_eq!(
            parse_frame(&[1, 0, 1, 0, 0, 0, 2, 0, 60, 0xce], 0),
            Err(DecodeError::FrameTooShort {
                frame_type: 1,
                len: 2
            })
        );
    }

    #[test]
    fn decoder_keeps_partial_frames_across_pushes() {
        let mut bytes = Vec::new();
        let ack = Method::from(BasicAck {
            delivery_tag: 1,
            multiple: false,
        });
        write_method_frame(1, &ack, &mut bytes);
        write_body_frame(1, b"hello", &mut bytes);
        let mut d = FrameDecoder::new(FRAME_MIN_SIZE);
        d.push(&bytes[..5]);
        assert_eq!(d.next_frame(), Ok(None));
        d.push(&bytes[5..25]);
        assert!(matches!(d.next_frame(), Ok(Some(Frame::Method { .. }))));
        assert_eq!(d.next_frame(), Ok(None));
        d.push(&bytes[25..]);
        assert_eq!(
            d.next_frame(),
            Ok(Some(Frame::Body {
                channel: 1,
                payload: b"hello"
            }))
        );
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn tiny_frame_max_still_terminates() {
        assert_eq!(max_body_payload(1), 4088);
        assert_eq!(max_body_payload(131_072), 131_064);
        let mut out = Vec::new();
        write_body_frames(1, &[0; 5000], 5, &mut out);
        assert_eq!(out.len(), 5000 + 2 * FRAME_OVERHEAD);
    }
}
