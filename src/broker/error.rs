//! AMQP reply codes and the engine's error type.
//!
//! Soft (channel) errors close only the channel; hard (connection) errors close
//! the connection. Texts follow RabbitMQ's style: `NOT_FOUND - no queue 'q' in vhost '/'`.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReplyCode {
    ContentTooLarge = 311,
    NoRoute = 312,
    NoConsumers = 313,
    ConnectionForced = 320,
    InvalidPath = 402,
    AccessRefused = 403,
    NotFound = 404,
    ResourceLocked = 405,
    PreconditionFailed = 406,
    FrameError = 501,
    SyntaxError = 502,
    CommandInvalid = 503,
    ChannelError = 504,
    UnexpectedFrame = 505,
    ResourceError = 506,
    NotAllowed = 530,
    NotImplemented = 540,
    InternalError = 541,
}

impl ReplyCode {
    pub fn code(self) -> u16 {
        self as u16
    }

    /// The constant's name as RabbitMQ prints it at the start of a reply text.
    pub fn name(self) -> &'static str {
        use ReplyCode::*;
        match self {
            ContentTooLarge => "CONTENT_TOO_LARGE",
            NoRoute => "NO_ROUTE",
            NoConsumers => "NO_CONSUMERS",
            ConnectionForced => "CONNECTION_FORCED",
            InvalidPath => "INVALID_PATH",
            AccessRefused => "ACCESS_REFUSED",
            NotFound => "NOT_FOUND",
            ResourceLocked => "RESOURCE_LOCKED",
            PreconditionFailed => "PRECONDITION_FAILED",
            FrameError => "FRAME_ERROR",
            SyntaxError => "SYNTAX_ERROR",
            CommandInvalid => "COMMAND_INVALID",
            ChannelError => "CHANNEL_ERROR",
            UnexpectedFrame => "UNEXPECTED_FRAME",
            ResourceError => "RESOURCE_ERROR",
            NotAllowed => "NOT_ALLOWED",
            NotImplemented => "NOT_IMPLEMENTED",
            InternalError => "INTERNAL_ERROR",
        }
    }

    /// Channel-level ("soft") errors close only the channel.
    pub fn is_soft(self) -> bool {
        matches!(
            self,
            ReplyCode::ContentTooLarge
                | ReplyCode::NoRoute
                | ReplyCode::NoConsumers
                | ReplyCode::AccessRefused
                | ReplyCode::NotFound
                | ReplyCode::ResourceLocked
                | ReplyCode::PreconditionFailed
        )
    }

    pub fn from_code(code: u16) -> Option<ReplyCode> {
        use ReplyCode::*;
        Some(match code {
            311 => ContentTooLarge,
            312 => NoRoute,
            313 => NoConsumers,
            320 => ConnectionForced,
            402 => InvalidPath,
            403 => AccessRefused,
            404 => NotFound,
            405 => ResourceLocked,
            406 => PreconditionFailed,
            501 => FrameError,
            502 => SyntaxError,
            503 => CommandInvalid,
            504 => ChannelError,
            505 => UnexpectedFrame,
            506 => ResourceError,
            530 => NotAllowed,
            540 => NotImplemented,
            541 => InternalError,
            _ => return None,
        })
    }
}

/// An AMQP exception: a reply code and the full reply text (`NAME - detail`).
/// `class_id`/`method_id` name the method that caused it, where known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AmqpError {
    pub code: ReplyCode,
    pub text: String,
    pub class_id: u16,
    pub method_id: u16,
}

impl AmqpError {
    pub fn new(code: ReplyCode, detail: impl fmt::Display) -> Self {
        let mut text = format!("{} - {}", code.name(), detail);
        // reply-text is a shortstr on the wire
        if text.len() > 255 {
            let mut end = 255;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        AmqpError {
            code,
            text,
            class_id: 0,
            method_id: 0,
        }
    }

    /// Records which method failed (reported in `channel.close`/`connection.close`).
    pub fn on(mut self, class_id: u16, method_id: u16) -> Self {
        self.class_id = class_id;
        self.method_id = method_id;
        self
    }

    pub fn is_soft(&self) -> bool {
        self.code.is_soft()
    }

    pub fn not_found(detail: impl fmt::Display) -> Self {
        Self::new(ReplyCode::NotFound, detail)
    }
    /// 404 for a queue the vhost does not have, in RabbitMQ's words.
    pub fn no_queue(name: &str, vhost: &str) -> Self {
        Self::not_found(format_args!("no queue '{name}' in vhost '{vhost}'"))
    }
    /// 404 for an exchange the vhost does not have, in RabbitMQ's words.
    pub fn no_exchange(name: &str, vhost: &str) -> Self {
        Self::not_found(format_args!("no exchange '{name}' in vhost '{vhost}'"))
    }
    pub fn precondition(detail: impl fmt::Display) -> Self {
        Self::new(ReplyCode::PreconditionFailed, detail)
    }
    pub fn access_refused(detail: impl fmt::Display) -> Self {
        Self::new(ReplyCode::AccessRefused, detail)
    }
    pub fn locked(detail: impl fmt::Display) -> Self {
        Self::new(ReplyCode::ResourceLocked, detail)
    }
    pub fn command_invalid(detail: impl fmt::Display) -> Self {
        Self::new(ReplyCode::CommandInvalid, detail)
    }
    pub fn not_implemented(detail: impl fmt::Display) -> Self {
        Self::new(ReplyCode::NotImplemented, detail)
    }
}

impl fmt::Display for AmqpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code.code(), self.text)
    }
}

impl std::error::Error for AmqpError {}

pub type Result<T, E = AmqpError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn text_follows_rabbitmq_style() {
        let e = AmqpError::precondition("unknown delivery tag 7");
        assert_eq!(e.text, "PRECONDITION_FAILED - unknown delivery tag 7");
        assert_eq!(e.code.code(), 406);
        assert!(e.is_soft());
        assert!(!AmqpError::command_invalid("x").is_soft());
    }

    #[test]
    fn long_texts_fit_a_short_string() {
        let e = AmqpError::not_found("q".repeat(400));
        assert_eq!(e.text.len(), 255);
    }

    #[test]
    fn codes_round_trip() {
        for c in [
            311u16, 312, 313, 320, 402, 403, 404, 405, 406, 501, 502, 503, 504, 505, 506, 530, 540,
            541,
        ] {
            assert_eq!(ReplyCode::from_code(c).unwrap().code(), c);
        }
        assert_eq!(ReplyCode::from_code(200), None);
    }
}
