//! The 8 bytes a client sends before any frame.

/// `AMQP 0-9-1`: what clients send first, and what the server answers with
/// before closing when it does not speak the client's protocol.
pub const PROTOCOL_HEADER: [u8; 8] = *b"AMQP\x00\x00\x09\x01";

/// The 0-9 header, which RabbitMQ accepts and serves as 0-9-1 (the two are
/// close enough for clients that still send it).
const PROTOCOL_HEADER_0_9: [u8; 8] = *b"AMQP\x01\x01\x00\x09";

/// What the first bytes from a client say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderStatus {
    /// A protocol we serve; the header is the first 8 bytes.
    Supported,
    /// So far a prefix of a header we serve.
    NeedMore,
    /// Another protocol or version (or HTTP, TLS ...): answer with
    /// [`PROTOCOL_HEADER`] and close.
    Unsupported,
}

/// Classifies the start of a client's byte stream. Decides as soon as the
/// bytes differ, so a stray HTTP request is refused without waiting.
pub fn check_protocol_header(received: &[u8]) -> HeaderStatus {
    let head = received.get(..8).unwrap_or(received);
    let matches = |h: &[u8; 8]| h.starts_with(head);
    if !matches(&PROTOCOL_HEADER) && !matches(&PROTOCOL_HEADER_0_9) {
        HeaderStatus::Unsupported
    } else if head.len() < 8 {
        HeaderStatus::NeedMore
    } else {
        HeaderStatus::Supported
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn classifies_headers() {
        assert_eq!(
            check_protocol_header(b"AMQP\x00\x00\x09\x01"),
            HeaderStatus::Supported
        );
        assert_eq!(
            check_protocol_header(b"AMQP\x00\x00\x09\x01\x01\x00"),
            HeaderStatus::Supported
        );
        assert_eq!(check_protocol_header(b""), HeaderStatus::NeedMore);
        assert_eq!(check_protocol_header(b"AMQP\x00"), HeaderStatus::NeedMore);
        assert_eq!(check_protocol_header(b"AMQP\x01"), HeaderStatus::NeedMore);
        assert_eq!(
            check_protocol_header(b"AMQP\x01\x01\x00\x09"),
            HeaderStatus::Supported
        );
        assert_eq!(
            check_protocol_header(b"AMQP\x00\x01\x00\x00"),
            HeaderStatus::Unsupported
        );
        assert_eq!(
            check_protocol_header(b"AMQP\x03\x01\x00\x00"),
            HeaderStatus::Unsupported
        );
        assert_eq!(check_protocol_header(b"GET "), HeaderStatus::Unsupported);
    }
}
