//! Every class and method of AMQP 0-9-1 with RabbitMQ's extensions, as one
//! [`Method`] enum holding a struct per method.
//!
//! Structs are declared per class (`connection.rs`, `basic.rs` ...) with
//! fields in spec order; `tests/codec_spec.rs` checks them against the spec
//! JSON. Short strings decode as [`ShortStr`](crate::broker::ShortStr) (UTF-8
//! required), long strings as `Vec<u8>`.

pub(crate) mod args;
mod define;

mod access;
mod basic;
mod channel;
mod confirm;
mod connection;
mod exchange;
mod queue;
mod tx;

pub use access::*;
pub use args::FieldKind;
pub use basic::*;
pub use channel::*;
pub use confirm::*;
pub use connection::*;
pub use exchange::*;
pub use queue::*;
pub use tx::*;

use super::error::DecodeError;
use super::frame::FRAME_METHOD;
use super::writer::Writer;
use args::{ArgReader, ArgWriter};

/// What the codec knows about a method: ids, name, whether content follows,
/// and its arguments (Rust field name, which is the spec name with `_` for
/// `-` and `kind` for `type`) in wire order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodInfo {
    /// The class id on the wire (`basic` is 60).
    pub class_id: u16,
    /// The method id within the class.
    pub method_id: u16,
    /// As RabbitMQ prints it: `basic.publish`.
    pub name: &'static str,
    /// A content header and body frames follow this method.
    pub has_content: bool,
    /// Arguments in wire order: Rust field name and spec type.
    pub fields: &'static [(&'static str, FieldKind)],
}

macro_rules! methods {
    ($($name:ident),* $(,)?) => {
        /// A decoded AMQP method.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Method {
            $(
                #[allow(missing_docs)]
                $name($name),
            )*
            /// The wasm build's decode of a method only servers send (see
            /// `define_method!`): its arguments checked, only its identity kept.
            #[cfg(target_family = "wasm")]
            SentByServer(&'static MethodInfo),
        }

        /// Every method the codec knows, in spec order.
        pub const METHODS: &[MethodInfo] = &[$( $name::INFO, )*];


        impl Method {
            /// Decodes the arguments of method `class_id.method_id`, which must
            /// fill `args` exactly.
            pub fn decode(class_id: u16, method_id: u16, args: &[u8]) -> Result<Method, DecodeError> {
                let mut r = ArgReader::new(args);
                let decoded = match (class_id, method_id) {
                    $( ($name::CLASS_ID, $name::METHOD_ID) => {
                        $name::decode_args(&mut r)
                    } )*
                    _ => return Err(DecodeError::UnknownMethod { class_id, method_id }),
                };
                decoded
                    .and_then(|m| r.finish().map(|()| m))
                    .map_err(|cause| DecodeError::Method { class_id, method_id, cause })
            }

            /// Ids, name and argument list of this method.
            pub fn info(&self) -> &'static MethodInfo {
                match self {
                    $( Method::$name(_) => &$name::INFO, )*
                    #[cfg(target_family = "wasm")]
                    Method::SentByServer(info) => info,
                }
            }

            /// Appends the arguments only (no class and method ids).
            pub fn encode_args(&self, buf: &mut Vec<u8>) {
                let mut w = ArgWriter::new(buf);
                match self {
                    $( Method::$name(m) => m.write_args(&mut w), )*
                    // Only ever received: the broker does not send it on.
                    #[cfg(target_family = "wasm")]
                    Method::SentByServer(_) => {}
                }
            }
        }
    };
}

methods! {
    ConnectionStart, ConnectionStartOk, ConnectionSecure, ConnectionSecureOk,
    ConnectionTune, ConnectionTuneOk, ConnectionOpen, ConnectionOpenOk,
    ConnectionClose, ConnectionCloseOk, ConnectionBlocked, ConnectionUnblocked,
    ConnectionUpdateSecret, ConnectionUpdateSecretOk,
    ChannelOpen, ChannelOpenOk, ChannelFlow, ChannelFlowOk, ChannelClose, ChannelCloseOk,
    AccessRequest, AccessRequestOk,
    ExchangeDeclare, ExchangeDeclareOk, ExchangeDelete, ExchangeDeleteOk,
    ExchangeBind, ExchangeBindOk, ExchangeUnbind, ExchangeUnbindOk,
    QueueDeclare, QueueDeclareOk, QueueBind, QueueBindOk, QueuePurge, QueuePurgeOk,
    QueueDelete, QueueDeleteOk, QueueUnbind, QueueUnbindOk,
    BasicQos, BasicQosOk, BasicConsume, BasicConsumeOk, BasicCancel, BasicCancelOk,
    BasicPublish, BasicReturn, BasicDeliver, BasicGet, BasicGetOk, BasicGetEmpty,
    BasicAck, BasicReject, BasicRecoverAsync, BasicRecover, BasicRecoverOk, BasicNack,
    TxSelect, TxSelectOk, TxCommit, TxCommitOk, TxRollback, TxRollbackOk,
    ConfirmSelect, ConfirmSelectOk,
}

/// The method with these ids, if there is one. A search of [`METHODS`]:
/// only error texts and tests ask, and a match per method is 1 KB of wasm.
pub fn method_info(class_id: u16, method_id: u16) -> Option<&'static MethodInfo> {
    METHODS
        .iter()
        .find(|m| m.class_id == class_id && m.method_id == method_id)
}

/// The argument list of a method, for checking the codec against the spec.
pub fn spec_fields(class_id: u16, method_id: u16) -> Option<&'static [(&'static str, FieldKind)]> {
    method_info(class_id, method_id).map(|info| info.fields)
}

impl Method {
    /// Decodes a method frame's payload: class id, method id, arguments.
    pub fn decode_payload(payload: &[u8]) -> Result<Method, DecodeError> {
        match payload.split_first_chunk::<4>() {
            Some(([c0, c1, m0, m1], args)) => Method::decode(
                u16::from_be_bytes([*c0, *c1]),
                u16::from_be_bytes([*m0, *m1]),
                args,
            ),
            None => Err(DecodeError::FrameTooShort {
                frame_type: FRAME_METHOD,
                len: payload.len(),
            }),
        }
    }

    /// Appends a method frame's payload: class id, method id, arguments.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        let info = self.info();
        buf.put_u16(info.class_id);
        buf.put_u16(info.method_id);
        self.encode_args(buf);
    }

    /// The class id on the wire.
    pub fn class_id(&self) -> u16 {
        self.info().class_id
    }

    /// The method id within the class.
    pub fn method_id(&self) -> u16 {
        self.info().method_id
    }

    /// As RabbitMQ prints it: `basic.publish`.
    pub fn name(&self) -> &'static str {
        self.info().name
    }

    /// A content header and body frames follow this method.
    pub fn has_content(&self) -> bool {
        self.info().has_content
    }
}
