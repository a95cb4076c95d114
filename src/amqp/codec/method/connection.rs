//! Class `connection` (10): handshake, tuning, close, flow blocking and
//! RabbitMQ's secret update.

use super::define::define_method;
use crate::broker::{FieldTable, ShortStr};

define_method! {
    /// Server to client, first method: protocol version, server properties,
    /// SASL mechanisms and locales (space-separated).
    ConnectionStart(10, 10, "connection.start") from server {
        version_major: u8,
        version_minor: u8,
        server_properties: FieldTable,
        mechanisms: Vec<u8>,
        locales: Vec<u8>,
    }
}

define_method! {
    /// Client's answer to `start`: its properties (including `capabilities`),
    /// chosen mechanism and the SASL response (for PLAIN: `\0user\0password`).
    ConnectionStartOk(10, 11, "connection.start-ok") {
        client_properties: FieldTable,
        mechanism: ShortStr,
        response: Vec<u8>,
        locale: ShortStr,
    }
}

define_method! {
    /// A further SASL challenge.
    ConnectionSecure(10, 20, "connection.secure") from server {
        challenge: Vec<u8>,
    }
}

define_method! {
    /// The response to a SASL challenge.
    ConnectionSecureOk(10, 21, "connection.secure-ok") {
        response: Vec<u8>,
    }
}

define_method! {
    /// Server's proposed limits; 0 means no limit (heartbeat: off).
    ConnectionTune(10, 30, "connection.tune") from server {
        channel_max: u16,
        frame_max: u32,
        heartbeat: u16,
    }
}

define_method! {
    /// The limits the client settles on.
    ConnectionTuneOk(10, 31, "connection.tune-ok") {
        channel_max: u16,
        frame_max: u32,
        heartbeat: u16,
    }
}

define_method! {
    /// Opens the connection to a virtual host.
    ConnectionOpen(10, 40, "connection.open") {
        virtual_host: ShortStr,
        /// Deprecated, empty.
        capabilities: ShortStr,
        /// Deprecated.
        insist: bool,
    }
}

define_method! {
    ConnectionOpenOk(10, 41, "connection.open-ok") from server {
        /// Deprecated, empty.
        known_hosts: ShortStr,
    }
}

define_method! {
    /// Closes the connection, naming the method that caused it, if any.
    ConnectionClose(10, 50, "connection.close") {
        reply_code: u16,
        reply_text: ShortStr,
        class_id: u16,
        method_id: u16,
    }
}

define_method! {
    ConnectionCloseOk(10, 51, "connection.close-ok") {}
}

define_method! {
    /// RabbitMQ: the server stopped reading publishes (resource alarm).
    ConnectionBlocked(10, 60, "connection.blocked") from server {
        reason: ShortStr,
    }
}

define_method! {
    /// RabbitMQ: publishing may resume.
    ConnectionUnblocked(10, 61, "connection.unblocked") from server {}
}

define_method! {
    /// RabbitMQ: replaces the credentials of a live connection (OAuth tokens).
    ConnectionUpdateSecret(10, 70, "connection.update-secret") {
        new_secret: Vec<u8>,
        reason: ShortStr,
    }
}

define_method! {
    ConnectionUpdateSecretOk(10, 71, "connection.update-secret-ok") from server {}
}
