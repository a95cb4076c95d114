//! What the engine asks its host to do: send something to a client.
//!
//! Effects are queued in the order they must reach each connection. A command's
//! own reply (declare-ok, consume-ok, commit-ok ...) goes out after the effects
//! queued while the command ran; deliveries and confirms are produced by
//! `Broker::poll`/`Broker::flush`, so they follow the reply that enabled them.

use super::error::AmqpError;
use super::ids::{ChannelRef, ConnId};
use super::message::Message;
use super::value::ShortStr;

#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// `basic.deliver` to a consumer.
    Deliver {
        to: ChannelRef,
        consumer_tag: ShortStr,
        delivery_tag: u64,
        redelivered: bool,
        message: Message,
    },
    /// `basic.get-ok`.
    GetOk {
        to: ChannelRef,
        delivery_tag: u64,
        redelivered: bool,
        message_count: u32,
        message: Message,
    },
    /// `basic.get-empty`.
    GetEmpty { to: ChannelRef },
    /// `basic.ack` / `basic.nack` from the broker in confirm mode.
    Confirm {
        to: ChannelRef,
        delivery_tag: u64,
        multiple: bool,
        ack: bool,
    },
    /// `tx.commit-ok`, once what the commit stored is durable.
    TxCommitOk { to: ChannelRef },
    /// `basic.return` of a mandatory message that reached no queue.
    Return {
        to: ChannelRef,
        reply_code: u16,
        reply_text: ShortStr,
        message: Message,
    },
    /// A broker-initiated `basic.cancel` (queue deleted, consumer timeout).
    Cancel {
        to: ChannelRef,
        consumer_tag: ShortStr,
    },
    /// The broker closed a channel (`channel.close` to send; the engine has
    /// already released the channel's state).
    CloseChannel { to: ChannelRef, error: AmqpError },
    /// The broker closes a connection (`connection.close` to send).
    CloseConnection { to: ConnId, error: AmqpError },
    /// `connection.blocked` (with the reason) or `connection.unblocked` (None).
    Blocked {
        to: ConnId,
        reason: Option<ShortStr>,
    },
}

impl Effect {
    /// The connection this effect is addressed to.
    pub fn conn(&self) -> ConnId {
        match self {
            Effect::Deliver { to, .. }
            | Effect::GetOk { to, .. }
            | Effect::GetEmpty { to }
            | Effect::Confirm { to, .. }
            | Effect::TxCommitOk { to }
            | Effect::Return { to, .. }
            | Effect::Cancel { to, .. }
            | Effect::CloseChannel { to, .. } => to.conn,
            Effect::CloseConnection { to, .. } | Effect::Blocked { to, .. } => *to,
        }
    }
}
