//! Arguments and replies of the engine's commands: the AMQP methods' fields
//! without the wire's reserved ones.

use super::value::{FieldTable, ShortStr};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExchangeDeclare {
    pub exchange: ShortStr,
    /// `direct`, `fanout`, `topic` or `headers`.
    pub kind: ShortStr,
    pub passive: bool,
    pub durable: bool,
    pub auto_delete: bool,
    pub internal: bool,
    pub arguments: FieldTable,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueDeclare {
    /// Empty asks the broker for a name (`amq.gen-...`).
    pub queue: ShortStr,
    pub passive: bool,
    pub durable: bool,
    pub exclusive: bool,
    pub auto_delete: bool,
    pub arguments: FieldTable,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueDeclareOk {
    pub queue: ShortStr,
    pub message_count: u32,
    pub consumer_count: u32,
}

/// A binding between exchanges (`exchange.bind`) or of a queue (`queue.bind`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bind {
    /// The queue or exchange that receives.
    pub destination: ShortStr,
    /// The exchange that routes.
    pub source: ShortStr,
    pub routing_key: ShortStr,
    pub arguments: FieldTable,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Consume {
    pub queue: ShortStr,
    /// Empty asks the broker for a tag (`amq.ctag-...`).
    pub consumer_tag: ShortStr,
    pub no_local: bool,
    pub no_ack: bool,
    pub exclusive: bool,
    pub arguments: FieldTable,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Qos {
    pub prefetch_size: u32,
    pub prefetch_count: u16,
    pub global: bool,
}

/// What a connection told the broker about itself at open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub vhost: ShortStr,
    pub user: ShortStr,
    /// Peer capability: broker-initiated `basic.cancel` is understood.
    pub consumer_cancel_notify: bool,
    /// Peer capability: `connection.blocked` is understood.
    pub connection_blocked: bool,
    /// A name for logs and the management view (for example the peer address).
    pub name: String,
}

impl Default for ConnectionInfo {
    fn default() -> Self {
        ConnectionInfo {
            vhost: ShortStr::truncated("/"),
            user: ShortStr::truncated("guest"),
            consumer_cancel_notify: true,
            connection_blocked: true,
            name: String::new(),
        }
    }
}
