//! Bytes out: replies, closes, and engine effects encoded into the
//! connection's one output buffer.

use super::channels::ChanState;
use super::{CloseReport, Connection, Phase};
use crate::amqp::codec::method::{
    BasicAck, BasicCancel, BasicGetEmpty, BasicNack, ChannelClose, ConnectionBlocked,
    ConnectionClose, ConnectionUnblocked, Method, TxCommitOk,
};
use crate::amqp::codec::{write_carried, write_method_frame, Carrier};
use crate::broker::{AmqpError, Effect, Message, ShortStr};

impl Connection {
    pub(super) fn send_method(&mut self, channel: u16, method: &Method) {
        write_method_frame(channel, method, &mut self.out);
        self.last_send = self.now;
    }

    fn send_message(&mut self, channel: u16, carrier: Carrier<'_>, message: &Message) {
        write_carried(channel, carrier, message, self.frame_max, &mut self.out);
        self.last_send = self.now;
    }

    pub(super) fn write_connection_close(&mut self, e: &AmqpError) {
        self.report_close(0, e);
        let close = ConnectionClose {
            reply_code: e.code.code(),
            reply_text: ShortStr::truncated(&e.text),
            class_id: e.class_id,
            method_id: e.method_id,
        };
        self.send_method(0, &close.into());
    }

    pub(super) fn write_channel_close(&mut self, channel: u16, e: &AmqpError) {
        self.report_close(channel, e);
        let close = ChannelClose {
            reply_code: e.code.code(),
            reply_text: ShortStr::truncated(&e.text),
            class_id: e.class_id,
            method_id: e.method_id,
        };
        self.send_method(channel, &close.into());
    }

    /// Records a close the server sends, for the host's logs and counts.
    fn report_close(&mut self, channel: u16, e: &AmqpError) {
        self.closes.push(CloseReport {
            channel,
            code: e.code.code(),
            text: e.text.clone(),
            class_id: e.class_id,
            method_id: e.method_id,
        });
    }

    /// Records a transport the server drops without a `connection.close`
    /// (a foreign protocol header, missed heartbeats, a refused login of a
    /// client that does not expect a close): code 0 unless one is known.
    pub(super) fn report_drop(&mut self, text: &str) {
        self.closes.push(CloseReport {
            channel: 0,
            code: 0,
            text: text.to_owned(),
            class_id: 0,
            method_id: 0,
        });
    }

    /// The closes made since the last call, oldest first.
    pub fn take_closes(&mut self) -> Vec<CloseReport> {
        std::mem::take(&mut self.closes)
    }

    /// An engine effect addressed to this connection that arose elsewhere
    /// (another connection's command, a timer).
    pub fn apply_effect(&mut self, now: u64, effect: Effect) {
        self.enter(now);
        self.write_effect(effect);
    }

    /// Encodes an effect. Effects for a connection or channel that is
    /// closing are dropped: the engine has already released it.
    pub(super) fn write_effect(&mut self, effect: Effect) {
        if self.phase != Phase::Open {
            return;
        }
        let channel = match &effect {
            Effect::CloseConnection { .. } | Effect::Blocked { .. } => 0,
            Effect::Deliver { to, .. }
            | Effect::GetOk { to, .. }
            | Effect::GetEmpty { to }
            | Effect::Confirm { to, .. }
            | Effect::TxCommitOk { to }
            | Effect::Return { to, .. }
            | Effect::Cancel { to, .. }
            | Effect::CloseChannel { to, .. } => to.channel,
        };
        if channel != 0 && self.channels.state(channel) != ChanState::Open {
            return;
        }
        match effect {
            Effect::Deliver {
                consumer_tag,
                delivery_tag,
                redelivered,
                message,
                ..
            } => {
                let carrier = Carrier::Deliver {
                    consumer_tag: &consumer_tag,
                    delivery_tag,
                    redelivered,
                };
                self.send_message(channel, carrier, &message);
            }
            Effect::GetOk {
                delivery_tag,
                redelivered,
                message_count,
                message,
                ..
            } => {
                let carrier = Carrier::GetOk {
                    delivery_tag,
                    redelivered,
                    message_count,
                };
                self.send_message(channel, carrier, &message);
            }
            Effect::GetEmpty { .. } => {
                let m = BasicGetEmpty {
                    cluster_id: ShortStr::empty(),
                };
                self.send_method(channel, &m.into());
            }
            Effect::Confirm {
                delivery_tag,
                multiple,
                ack: true,
                ..
            } => self.send_method(
                channel,
                &BasicAck {
                    delivery_tag,
                    multiple,
                }
                .into(),
            ),
            Effect::Confirm {
                delivery_tag,
                multiple,
                ack: false,
                ..
            } => {
                let m = BasicNack {
                    delivery_tag,
                    multiple,
                    requeue: false,
                };
                self.send_method(channel, &m.into());
            }
            Effect::TxCommitOk { .. } => self.send_method(channel, &TxCommitOk {}.into()),
            Effect::Return {
                reply_code,
                reply_text,
                message,
                ..
            } => {
                let carrier = Carrier::Return {
                    reply_code,
                    reply_text: &reply_text,
                };
                self.send_message(channel, carrier, &message);
            }
            // RabbitMQ sends it with nowait: clients do not answer.
            Effect::Cancel { consumer_tag, .. } => {
                let m = BasicCancel {
                    consumer_tag,
                    nowait: true,
                };
                self.send_method(channel, &m.into());
            }
            Effect::CloseChannel { error, .. } => {
                self.write_channel_close(channel, &error);
                self.channels.set_state(channel, ChanState::Closing);
            }
            Effect::CloseConnection { error, .. } => {
                self.write_connection_close(&error);
                self.begin_closing();
            }
            Effect::Blocked {
                reason: Some(reason),
                ..
            } => self.send_method(0, &ConnectionBlocked { reason }.into()),
            Effect::Blocked { reason: None, .. } => {
                self.send_method(0, &ConnectionUnblocked {}.into())
            }
        }
    }
}
