//! The AMQP 0-9-1 wire protocol, sans-IO: bytes in, engine calls, bytes out.

pub mod codec;
pub mod connection;
pub mod password;
pub mod server;
