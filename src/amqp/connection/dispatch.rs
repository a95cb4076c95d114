//! A channel method on an open channel: engine commands go through the
//! per-method layer every client shares (`methods.rs`); what is left is the
//! connection's own (content, flow, channel close, methods out of place).
//!
//! Order, per the engine's contract: the command runs, the effects it queued
//! go out, then the reply (unless `nowait`), then `Broker::poll` runs and
//! its deliveries follow (so `basic.deliver` comes after `consume-ok`, and in
//! a later write: see `Connection::output_cut`).

use super::methods::{basic_ack, run_channel_method, Step};
use super::{Connection, Env};
use crate::amqp::codec::method::*;
use crate::amqp::codec::{AckRef, PublishRef};
use crate::broker::{AmqpError, ReplyCode};

/// The class of `connection.*`, whose methods belong on channel 0.
#[cfg(target_family = "wasm")]
const CONNECTION_CLASS: u16 = ConnectionStart::CLASS_ID;

impl Connection {
    pub(super) fn dispatch(&mut self, env: &mut Env<'_>, channel: u16, method: Method) {
        let Some(ch) = self.channel_ref(channel) else {
            return;
        };
        let ids = (method.class_id(), method.method_id());
        let now = env.now;
        let method = match run_channel_method(env.broker, now, ch, method) {
            Step::Ran(r) => return self.answer(env, channel, ids, r, |reply| reply),
            Step::Connection(m) => m,
        };
        match method {
            Method::BasicPublish(m) => {
                let publish = PublishRef {
                    ticket: m.ticket,
                    exchange: &m.exchange,
                    routing_key: &m.routing_key,
                    mandatory: m.mandatory,
                    immediate: m.immediate,
                };
                self.start_content(channel, publish)
            }
            Method::ChannelFlow(m) => {
                let r = self.client_flow(env, channel, m.active);
                self.answer(env, channel, ids, r, |active| {
                    Some(ChannelFlowOk { active }.into())
                });
            }
            Method::ChannelClose(_) => self.client_closes_channel(env, channel),
            // Open already: the engine answers 504 "second 'channel.open'".
            Method::ChannelOpen(_) => {
                let r = env.broker.channel_open(now, ch);
                self.answer(env, channel, ids, r, |()| None);
            }
            // Deprecated; RabbitMQ answers with ticket 1.
            Method::AccessRequest(_) => {
                self.send_method(channel, &AccessRequestOk { ticket: 1 }.into());
            }
            // Answers to what the broker sent with `nowait` or never sends:
            // nothing to do.
            Method::BasicCancelOk(_) | Method::ChannelFlowOk(_) => {}
            // The wasm build's server-only methods, by class as below.
            #[cfg(target_family = "wasm")]
            m @ Method::SentByServer(info) if info.class_id != CONNECTION_CLASS => {
                self.server_only(env, ids, &m)
            }
            m @ (Method::ConnectionStart(_)
            | Method::ConnectionStartOk(_)
            | Method::ConnectionSecure(_)
            | Method::ConnectionSecureOk(_)
            | Method::ConnectionTune(_)
            | Method::ConnectionTuneOk(_)
            | Method::ConnectionOpen(_)
            | Method::ConnectionOpenOk(_)
            | Method::ConnectionClose(_)
            | Method::ConnectionCloseOk(_)
            | Method::ConnectionBlocked(_)
            | Method::ConnectionUnblocked(_)
            | Method::ConnectionUpdateSecret(_)
            | Method::ConnectionUpdateSecretOk(_)) => self.channel_zero_only(env, channel, ids, &m),
            #[cfg(target_family = "wasm")]
            m @ Method::SentByServer(_) => self.channel_zero_only(env, channel, ids, &m),
            Method::ChannelCloseOk(_) => {
                let e = AmqpError::command_invalid(format_args!(
                    "channel.close-ok on channel {channel}, which the server did not close"
                ));
                self.fail_connection(env, e.on(ids.0, ids.1));
            }
            // Sent by servers only (RabbitMQ: 503 "unimplemented method").
            m @ (Method::ChannelOpenOk(_)
            | Method::AccessRequestOk(_)
            | Method::ExchangeDeclareOk(_)
            | Method::ExchangeDeleteOk(_)
            | Method::ExchangeBindOk(_)
            | Method::ExchangeUnbindOk(_)
            | Method::QueueDeclareOk(_)
            | Method::QueueBindOk(_)
            | Method::QueuePurgeOk(_)
            | Method::QueueDeleteOk(_)
            | Method::QueueUnbindOk(_)
            | Method::BasicQosOk(_)
            | Method::BasicConsumeOk(_)
            | Method::BasicReturn(_)
            | Method::BasicDeliver(_)
            | Method::BasicGetOk(_)
            | Method::BasicGetEmpty(_)
            | Method::BasicRecoverOk(_)
            | Method::TxSelectOk(_)
            | Method::TxCommitOk(_)
            | Method::TxRollbackOk(_)
            | Method::ConfirmSelectOk(_)) => self.server_only(env, ids, &m),
            // Engine commands: run above.
            _ => {}
        }
    }

    fn channel_zero_only(&mut self, env: &mut Env<'_>, channel: u16, ids: (u16, u16), m: &Method) {
        let e = AmqpError::command_invalid(format_args!(
            "{} is only valid on channel 0, not on channel {channel}",
            m.name()
        ));
        self.fail_connection(env, e.on(ids.0, ids.1));
    }

    fn server_only(&mut self, env: &mut Env<'_>, ids: (u16, u16), m: &Method) {
        let e = AmqpError::new(
            ReplyCode::CommandInvalid,
            format_args!("{} is not a method a client may send", m.name()),
        );
        self.fail_connection(env, e.on(ids.0, ids.1));
    }

    /// `basic.ack` read in place (see `input.rs`): the command the decoded
    /// method runs, without a [`Method`] made for it. It has no reply, and
    /// what the freed slots take goes out with the rest of the read's, as a
    /// publish's deliveries do: one dispatch pass for a read of acks rather
    /// than one per ack (or at the next frame that polls the engine). An
    /// error is answered as the decoded method's is, after what earlier
    /// frames made.
    pub(super) fn ack(&mut self, env: &mut Env<'_>, channel: u16, ack: AckRef) {
        let Some(ch) = self.channel_ref(channel) else {
            return;
        };
        let r = basic_ack(env.broker, env.now, ch, ack.delivery_tag, ack.multiple);
        if r.is_err() {
            let ids = (BasicAck::CLASS_ID, BasicAck::METHOD_ID);
            self.answer(env, channel, ids, r, |()| None);
        }
    }

    /// Finishes an engine command: its effects, then the reply (or the
    /// error's close), then the engine's deliveries.
    pub(super) fn answer<T>(
        &mut self,
        env: &mut Env<'_>,
        channel: u16,
        (class_id, method_id): (u16, u16),
        r: Result<T, AmqpError>,
        reply: impl FnOnce(T) -> Option<Method>,
    ) {
        self.route(env);
        match r {
            Ok(v) => {
                if let Some(m) = reply(v) {
                    self.send_method(channel, &m);
                    if matches!(m, Method::BasicConsumeOk(_)) {
                        self.cut_output();
                    }
                }
            }
            Err(e) => self.engine_error(env, channel, e.on(class_id, method_id)),
        }
        self.poll_engine(env);
    }
}
