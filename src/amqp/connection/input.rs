//! Bytes in: the protocol header, then frames. Whole frames are decoded
//! straight from the caller's bytes; only a frame split across reads is
//! copied, and only its own bytes.

use super::channels::ChanState;
use super::{Connection, Env, Phase};
use crate::amqp::codec::{
    check_protocol_header, decode_content_header_sharing, parse_frame, parse_raw_frame, AckRef,
    DecodeError, Frame, HeaderStatus, PublishRef, RawFrame, FRAME_BODY, FRAME_HEADER,
    FRAME_HEADER_SIZE, FRAME_METHOD, FRAME_OVERHEAD, PROTOCOL_HEADER,
};
use crate::broker::{AmqpError, ReplyCode};

impl Connection {
    /// Bytes from the transport, split anywhere.
    pub fn receive(&mut self, env: &mut Env<'_>, bytes: &[u8]) {
        self.enter(env.now);
        if self.phase == Phase::Closed || self.input_dead || bytes.is_empty() {
            return;
        }
        self.last_recv = self.now;
        let mut rest = bytes;
        if self.phase == Phase::AwaitHeader {
            match self.read_protocol_header(rest) {
                Some(r) => rest = r,
                None => return,
            }
        }
        if !self.partial.is_empty() {
            match self.complete_partial(env, rest) {
                Some(r) => rest = r,
                None => return self.end_of_input(env),
            }
        }
        while !self.stopped_reading() {
            match parse_raw_frame(rest, self.decode_limit()) {
                Ok(Some((raw, used))) => {
                    if let Err(e) = self.handle_raw_frame(env, raw) {
                        self.decode_error(env, e);
                        break;
                    }
                    rest = rest.get(used..).unwrap_or_default();
                }
                Ok(None) => {
                    self.partial.extend_from_slice(rest);
                    break;
                }
                Err(e) => {
                    self.decode_error(env, e);
                    break;
                }
            }
        }
        self.end_of_input(env);
    }

    /// After a batch of input: release publisher confirms and route.
    fn end_of_input(&mut self, env: &mut Env<'_>) {
        self.run.end();
        env.broker.flush(env.now);
        self.route(env);
    }

    fn stopped_reading(&self) -> bool {
        self.phase == Phase::Closed || self.input_dead
    }

    /// The largest frame accepted. RabbitMQ lets frames exceed the
    /// negotiated `frame_max` by the 8 bytes of frame overhead, since some
    /// clients count the payload alone; so do we.
    fn decode_limit(&self) -> u32 {
        match self.frame_max {
            0 => 0,
            n => n.saturating_add(FRAME_OVERHEAD as u32),
        }
    }

    /// Collects the 8-byte header; answers a foreign one with ours and
    /// closes, as the spec says. Returns the bytes after the header.
    fn read_protocol_header<'b>(&mut self, bytes: &'b [u8]) -> Option<&'b [u8]> {
        let want = PROTOCOL_HEADER.len().saturating_sub(self.partial.len());
        let (head, rest) = bytes
            .split_at_checked(want.min(bytes.len()))
            .unwrap_or((bytes, &[]));
        self.partial.extend_from_slice(head);
        match check_protocol_header(&self.partial) {
            HeaderStatus::NeedMore => None,
            HeaderStatus::Unsupported => {
                self.report_drop("unsupported protocol header");
                self.out.extend_from_slice(&PROTOCOL_HEADER);
                self.phase = Phase::Closed;
                self.partial = Vec::new();
                None
            }
            HeaderStatus::Supported => {
                self.partial.clear();
                let settings = self.settings.clone();
                let start = match self.peer_auth.cert_user {
                    Some(_) => &settings.start_frame_external,
                    None => &settings.start_frame,
                };
                self.out.extend_from_slice(start);
                self.last_send = self.now;
                self.phase = Phase::AwaitStartOk;
                Some(rest)
            }
        }
    }

    /// Completes a frame begun in an earlier read with just the bytes it
    /// still lacks; returns the rest, or None while it is incomplete.
    fn complete_partial<'b>(&mut self, env: &mut Env<'_>, mut bytes: &'b [u8]) -> Option<&'b [u8]> {
        if self.partial.is_empty() {
            return Some(bytes);
        }
        let mut buf = std::mem::take(&mut self.partial);
        let rest = loop {
            match parse_frame(&buf, self.decode_limit()) {
                Ok(Some((frame, _))) => {
                    self.handle_frame(env, frame);
                    break Some(bytes);
                }
                Err(e) => {
                    self.decode_error(env, e);
                    break None;
                }
                Ok(None) => {
                    let need = missing_bytes(&buf);
                    if bytes.is_empty() || need == 0 {
                        // Keep what we have for the next read.
                        self.partial = buf;
                        return None;
                    }
                    let (head, tail) = bytes
                        .split_at_checked(need.min(bytes.len()))
                        .unwrap_or((bytes, &[]));
                    buf.extend_from_slice(head);
                    bytes = tail;
                }
            }
        };
        buf.clear();
        if self.partial.is_empty() {
            self.partial = buf; // keep the allocation
        }
        rest
    }

    /// A whole frame. On an open connection's channel (not 0), content
    /// frames go straight to assembly and a `basic.publish` that starts
    /// content on an open channel is read in place (no names allocated):
    /// the three frames of every message skip the general `Frame` match.
    /// Everything else, a malformed publish included, is decoded and
    /// handled as usual.
    #[inline(always)]
    fn handle_raw_frame(
        &mut self,
        env: &mut Env<'_>,
        raw: RawFrame<'_>,
    ) -> Result<(), DecodeError> {
        if self.phase == Phase::Open && raw.channel != 0 {
            match raw.frame_type {
                FRAME_METHOD
                    if self.id.is_some()
                        && self.channels.state(raw.channel) == ChanState::Open
                        && !self.channels.assembling(raw.channel) =>
                {
                    if let Some(publish) = PublishRef::read(raw.payload) {
                        self.start_content(raw.channel, publish);
                        return Ok(());
                    }
                    // A client acking each delivery: one per message.
                    if let Some(ack) = AckRef::read(raw.payload) {
                        self.run.end();
                        self.ack(env, raw.channel, ack);
                        return Ok(());
                    }
                }
                FRAME_HEADER => {
                    let header =
                        decode_content_header_sharing(raw.payload, &mut self.last_properties)?;
                    self.content_header(env, raw.channel, header);
                    return Ok(());
                }
                FRAME_BODY => {
                    self.content_body(env, raw.channel, raw.payload);
                    return Ok(());
                }
                _ => {}
            }
        }
        let frame = if raw.frame_type == FRAME_HEADER {
            Frame::Header {
                channel: raw.channel,
                header: decode_content_header_sharing(raw.payload, &mut self.last_properties)?,
            }
        } else {
            raw.decode()?
        };
        // A publish run ends at any other frame; earlier publishes' effects
        // go out before whatever this frame writes.
        self.run.end();
        self.route(env);
        self.handle_frame(env, frame);
        Ok(())
    }

    #[inline(always)]
    fn handle_frame(&mut self, env: &mut Env<'_>, frame: Frame<'_>) {
        match self.phase {
            Phase::AwaitStartOk | Phase::AwaitTuneOk | Phase::AwaitOpen => {
                self.handshake_frame(env, frame)
            }
            Phase::Open => self.open_frame(env, frame),
            Phase::Closing => self.closing_frame(env, frame),
            Phase::AwaitHeader | Phase::Closed => {}
        }
    }

    #[inline(always)]
    fn open_frame(&mut self, env: &mut Env<'_>, frame: Frame<'_>) {
        match frame {
            Frame::Heartbeat { channel: 0 } => {}
            Frame::Heartbeat { channel } => self.fail_connection(
                env,
                AmqpError::new(
                    ReplyCode::UnexpectedFrame,
                    format_args!("heartbeat frame on channel {channel}"),
                ),
            ),
            Frame::Method { channel: 0, method } => self.connection_method(env, method),
            Frame::Method { channel, method } => self.channel_method(env, channel, method),
            Frame::Header { channel: 0, .. } | Frame::Body { channel: 0, .. } => self
                .fail_connection(
                    env,
                    AmqpError::new(ReplyCode::UnexpectedFrame, "content frame on channel 0"),
                ),
            Frame::Header { channel, header } => self.content_header(env, channel, header),
            Frame::Body { channel, payload } => self.content_body(env, channel, payload),
        }
    }

    /// After sending `connection.close`: RabbitMQ's rule, everything but
    /// `close` and `close-ok` is ignored.
    fn closing_frame(&mut self, env: &mut Env<'_>, frame: Frame<'_>) {
        use crate::amqp::codec::method::{ConnectionCloseOk, Method};
        match frame {
            Frame::Method {
                channel: 0,
                method: Method::ConnectionCloseOk(_),
            } => self.finish(env),
            Frame::Method {
                channel: 0,
                method: Method::ConnectionClose(_),
            } => {
                self.send_method(0, &ConnectionCloseOk {}.into());
                self.finish(env);
            }
            _ => {}
        }
    }

    /// Bytes that cannot be decoded. A broken frame leaves the stream out of
    /// step, so after sending `connection.close` nothing more is read and the
    /// transport closes; a malformed method inside a sound frame is an
    /// ordinary connection exception.
    fn decode_error(&mut self, env: &mut Env<'_>, e: DecodeError) {
        let error = e.to_amqp_error();
        self.run.end();
        if self.phase == Phase::Closing {
            return self.finish(env);
        }
        if error.code == ReplyCode::FrameError {
            self.input_dead = true;
            self.fail_connection(env, error);
            self.finish(env);
        } else {
            self.fail_connection(env, error);
        }
    }
}

/// How many more bytes the frame begun in `buf` needs (0 if it is whole).
fn missing_bytes(buf: &[u8]) -> usize {
    let Some(size) = buf
        .get(3..FRAME_HEADER_SIZE)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_be_bytes)
    else {
        return FRAME_HEADER_SIZE.saturating_sub(buf.len());
    };
    let total = usize::try_from(size)
        .unwrap_or(usize::MAX)
        .saturating_add(FRAME_OVERHEAD);
    total.saturating_sub(buf.len())
}
