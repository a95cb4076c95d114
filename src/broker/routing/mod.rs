//! How exchanges choose queues: the exchange types and their matching rules.

pub mod headers;
pub mod topic;

use std::fmt;

/// The built-in exchange types. Anything else in `exchange.declare` is a
/// `COMMAND_INVALID` ("invalid exchange type"), decided by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExchangeKind {
    Direct,
    Fanout,
    Topic,
    Headers,
}

impl ExchangeKind {
    #[cfg(test)]
    pub const ALL: [ExchangeKind; 4] = [
        ExchangeKind::Direct,
        ExchangeKind::Fanout,
        ExchangeKind::Topic,
        ExchangeKind::Headers,
    ];

    /// The type name as sent in `exchange.declare` (case-sensitive, as in
    /// RabbitMQ).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "direct" => ExchangeKind::Direct,
            "fanout" => ExchangeKind::Fanout,
            "topic" => ExchangeKind::Topic,
            "headers" => ExchangeKind::Headers,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeKind::Direct => "direct",
            ExchangeKind::Fanout => "fanout",
            ExchangeKind::Topic => "topic",
            ExchangeKind::Headers => "headers",
        }
    }
}

impl fmt::Display for ExchangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn exchange_kind_names_round_trip() {
        for kind in ExchangeKind::ALL {
            assert_eq!(ExchangeKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }

    #[test]
    fn unknown_or_miscased_exchange_kinds_are_refused() {
        assert_eq!(ExchangeKind::parse("Direct"), None);
        assert_eq!(ExchangeKind::parse("x-delayed-message"), None);
        assert_eq!(ExchangeKind::parse(""), None);
    }
}
