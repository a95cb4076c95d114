//! What a host decides for its connections: users, vhosts, tuning proposals
//! and resource limits. The defaults follow RabbitMQ's.

use crate::amqp::codec::method::ConnectionStart;
use crate::amqp::codec::{write_method_frame, Method};
use crate::broker::{FieldTable, FieldValue};

pub use crate::broker::User;

/// Resource limits enforced per connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest message body accepted; a bigger `body-size` closes the channel
    /// with 406, as RabbitMQ's `max_message_size` does (default 128 MiB).
    pub max_message_size: u64,
    /// Output bytes a connection may have queued (produced and not yet
    /// handed out, plus what the host reports with
    /// [`Server::set_backlog`](crate::amqp::server::Server::set_backlog))
    /// before reading from it should stop and deliveries to it pause.
    pub max_output_bytes: usize,
    /// Time from accepting a transport to `connection.open-ok` (RabbitMQ:
    /// 10 s); a peer that takes longer is dropped.
    pub handshake_timeout_ms: u64,
    /// How long to wait for `connection.close-ok` after sending
    /// `connection.close` before dropping the transport.
    pub close_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 128 * 1024 * 1024,
            max_output_bytes: 4 * 1024 * 1024,
            handshake_timeout_ms: 10_000,
            close_timeout_ms: 10_000,
        }
    }
}

/// Settings for a [`Server`](crate::amqp::server::Server) and its connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Logins, their tags and permissions; `guest`/`guest` with every
    /// permission on `/` and the `administrator` tag by default.
    pub users: Vec<User>,
    /// Users who may log in only over a loopback transport (RabbitMQ's
    /// `loopback_users`, `guest` by default; empty to allow them anywhere).
    pub loopback_users: Vec<String>,
    /// Virtual hosts created in the broker at start (`/` always exists).
    pub vhosts: Vec<String>,
    /// Heartbeat interval proposed in `connection.tune`, in seconds (0: off).
    /// The client's answer in `tune-ok` is the one used, as in RabbitMQ.
    pub heartbeat_secs: u16,
    /// Largest frame the server accepts (0: no limit). A client may choose
    /// less, down to 4096, not more.
    pub frame_max: u32,
    /// Highest channel number (0: no limit). A client may choose less.
    pub channel_max: u16,
    pub limits: Limits,
    /// `product`, `version` and `platform` in `connection.start`.
    pub product: String,
    pub version: String,
    pub platform: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            users: vec![User::new("guest", "guest", &["/"])],
            loopback_users: vec!["guest".to_owned()],
            vhosts: vec!["/".to_owned()],
            heartbeat_secs: 60,
            frame_max: 131_072,
            channel_max: 2047,
            limits: Limits::default(),
            product: "Warren".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            platform: "Rust".to_owned(),
        }
    }
}

/// The configuration as connections use it: shared by all of them, with the
/// `connection.start` frame encoded once.
#[derive(Debug)]
pub struct Settings {
    pub(crate) config: ServerConfig,
    pub(crate) start_frame: Vec<u8>,
    /// The same, offering `EXTERNAL` first: for transports whose peer was
    /// authenticated by a client certificate.
    pub(crate) start_frame_external: Vec<u8>,
}

impl Settings {
    pub fn new(config: ServerConfig) -> Settings {
        let mut start_frame = Vec::new();
        write_method_frame(0, &start_method(&config, false), &mut start_frame);
        let mut start_frame_external = Vec::new();
        write_method_frame(0, &start_method(&config, true), &mut start_frame_external);
        Settings {
            config,
            start_frame,
            start_frame_external,
        }
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }
}

/// Capabilities the server announces; the client keys `Warren` reads back
/// from the client's properties are in `handshake.rs`.
const CAPABILITIES: &[&str] = &[
    "publisher_confirms",
    "exchange_exchange_bindings",
    "basic.nack",
    "consumer_cancel_notify",
    "connection.blocked",
    "consumer_priorities",
    "authentication_failure_close",
    "per_consumer_qos",
    "direct_reply_to",
];

fn start_method(config: &ServerConfig, external: bool) -> Method {
    let capabilities = CAPABILITIES
        .iter()
        .fold(FieldTable::new(), |t, c| t.with(c, FieldValue::Bool(true)));
    let server_properties = FieldTable::new()
        .with("capabilities", FieldValue::Table(capabilities))
        .with("product", FieldValue::str(&config.product))
        .with("version", FieldValue::str(&config.version))
        .with("platform", FieldValue::str(&config.platform))
        .with(
            "information",
            FieldValue::str("An AMQP 0-9-1 broker that runs natively and in WebAssembly"),
        );
    Method::from(ConnectionStart {
        version_major: 0,
        version_minor: 9,
        server_properties,
        mechanisms: if external {
            b"EXTERNAL PLAIN AMQPLAIN".to_vec()
        } else {
            b"PLAIN AMQPLAIN".to_vec()
        },
        locales: b"en_US".to_vec(),
    })
}
