//! One flat match from a channel method to its engine command and reply.
//!
//! Order, per the engine's contract: the command runs, the effects it queued
//! go out, then the reply (unless `nowait`), then `Broker::poll` runs and
//! its deliveries follow (so `basic.deliver` comes after `consume-ok`, and in
//! a later write: see `Connection::output_cut`).

use super::{Connection, Env};
use crate::amqp::codec::method::*;
use crate::broker::{self, AmqpError, ReplyCode};

impl Connection {
    pub(super) fn dispatch(&mut self, env: &mut Env<'_>, channel: u16, method: Method) {
        let Some(ch) = self.channel_ref(channel) else {
            return;
        };
        let ids = (method.class_id(), method.method_id());
        let now = env.now;
        match method {
            Method::BasicPublish(m) => self.start_content(channel, m),
            Method::BasicAck(m) => {
                let r = env.broker.basic_ack(now, ch, m.delivery_tag, m.multiple);
                self.answer(env, channel, ids, r, |()| None);
            }
            Method::BasicNack(m) => {
                let r = env
                    .broker
                    .basic_nack(now, ch, m.delivery_tag, m.multiple, m.requeue);
                self.answer(env, channel, ids, r, |()| None);
            }
            Method::BasicReject(m) => {
                let r = env.broker.basic_reject(now, ch, m.delivery_tag, m.requeue);
                self.answer(env, channel, ids, r, |()| None);
            }
            Method::BasicGet(m) => {
                let r = env.broker.basic_get(now, ch, &m.queue, m.no_ack);
                self.answer(env, channel, ids, r, |()| None);
            }
            Method::BasicConsume(m) => {
                let c = broker::Consume {
                    queue: m.queue,
                    consumer_tag: m.consumer_tag,
                    no_local: m.no_local,
                    no_ack: m.no_ack,
                    exclusive: m.exclusive,
                    arguments: m.arguments,
                };
                let r = env.broker.basic_consume(now, ch, c);
                self.answer(env, channel, ids, r, |consumer_tag| {
                    (!m.nowait).then(|| BasicConsumeOk { consumer_tag }.into())
                });
            }
            Method::BasicCancel(m) => {
                let r = env.broker.basic_cancel(now, ch, &m.consumer_tag);
                self.answer(env, channel, ids, r, |()| {
                    let consumer_tag = m.consumer_tag;
                    (!m.nowait).then(|| BasicCancelOk { consumer_tag }.into())
                });
            }
            Method::BasicQos(m) => {
                let qos = broker::Qos {
                    prefetch_size: m.prefetch_size,
                    prefetch_count: m.prefetch_count,
                    global: m.global,
                };
                let r = env.broker.basic_qos(now, ch, qos);
                self.answer(env, channel, ids, r, |()| Some(BasicQosOk {}.into()));
            }
            Method::BasicRecoverAsync(m) => {
                let r = env.broker.basic_recover(now, ch, m.requeue);
                self.answer(env, channel, ids, r, |()| None);
            }
            Method::BasicRecover(m) => {
                let r = env.broker.basic_recover(now, ch, m.requeue);
                self.answer(env, channel, ids, r, |()| Some(BasicRecoverOk {}.into()));
            }
            Method::ExchangeDeclare(m) => {
                let d = broker::ExchangeDeclare {
                    exchange: m.exchange,
                    kind: m.kind,
                    passive: m.passive,
                    durable: m.durable,
                    auto_delete: m.auto_delete,
                    internal: m.internal,
                    arguments: m.arguments,
                };
                let r = env.broker.exchange_declare(now, ch, d);
                self.answer(env, channel, ids, r, |()| {
                    (!m.nowait).then(|| ExchangeDeclareOk {}.into())
                });
            }
            Method::ExchangeDelete(m) => {
                let r = env
                    .broker
                    .exchange_delete(now, ch, &m.exchange, m.if_unused);
                self.answer(env, channel, ids, r, |()| {
                    (!m.nowait).then(|| ExchangeDeleteOk {}.into())
                });
            }
            Method::ExchangeBind(m) => {
                let b = bind(m.destination, m.source, m.routing_key, m.arguments);
                let r = env.broker.exchange_bind(now, ch, b);
                self.answer(env, channel, ids, r, |()| {
                    (!m.nowait).then(|| ExchangeBindOk {}.into())
                });
            }
            Method::ExchangeUnbind(m) => {
                let b = bind(m.destination, m.source, m.routing_key, m.arguments);
                let r = env.broker.exchange_unbind(now, ch, b);
                self.answer(env, channel, ids, r, |()| {
                    (!m.nowait).then(|| ExchangeUnbindOk {}.into())
                });
            }
            Method::QueueDeclare(m) => {
                let d = broker::QueueDeclare {
                    queue: m.queue,
                    passive: m.passive,
                    durable: m.durable,
                    exclusive: m.exclusive,
                    auto_delete: m.auto_delete,
                    arguments: m.arguments,
                };
                let r = env.broker.queue_declare(now, ch, d);
                self.answer(env, channel, ids, r, |ok| {
                    let reply = QueueDeclareOk {
                        queue: ok.queue,
                        message_count: ok.message_count,
                        consumer_count: ok.consumer_count,
                    };
                    (!m.nowait).then(|| reply.into())
                });
            }
            Method::QueueBind(m) => {
                let b = bind(m.queue, m.exchange, m.routing_key, m.arguments);
                let r = env.broker.queue_bind(now, ch, b);
                self.answer(env, channel, ids, r, |()| {
                    (!m.nowait).then(|| QueueBindOk {}.into())
                });
            }
            Method::QueueUnbind(m) => {
                let b = bind(m.queue, m.exchange, m.routing_key, m.arguments);
                let r = env.broker.queue_unbind(now, ch, b);
                self.answer(env, channel, ids, r, |()| Some(QueueUnbindOk {}.into()));
            }
            Method::QueuePurge(m) => {
                let r = env.broker.queue_purge(now, ch, &m.queue);
                self.answer(env, channel, ids, r, |message_count| {
                    (!m.nowait).then(|| QueuePurgeOk { message_count }.into())
                });
            }
            Method::QueueDelete(m) => {
                let r = env
                    .broker
                    .queue_delete(now, ch, &m.queue, m.if_unused, m.if_empty);
                self.answer(env, channel, ids, r, |message_count| {
                    (!m.nowait).then(|| QueueDeleteOk { message_count }.into())
                });
            }
            Method::ConfirmSelect(m) => {
                let r = env.broker.confirm_select(now, ch);
                self.answer(env, channel, ids, r, |()| {
                    (!m.nowait).then(|| ConfirmSelectOk {}.into())
                });
            }
            Method::TxSelect(_) => {
                let r = env.broker.tx_select(now, ch);
                self.answer(env, channel, ids, r, |()| Some(TxSelectOk {}.into()));
            }
            Method::TxCommit(_) => {
                let r = env.broker.tx_commit(now, ch);
                self.answer(env, channel, ids, r, |()| Some(TxCommitOk {}.into()));
            }
            Method::TxRollback(_) => {
                let r = env.broker.tx_rollback(now, ch);
                self.answer(env, channel, ids, r, |()| Some(TxRollbackOk {}.into()));
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
            | Method::ConnectionUpdateSecretOk(_)) => {
                let e = AmqpError::command_invalid(format_args!(
                    "{} is only valid on channel 0, not on channel {channel}",
                    m.name()
                ));
                self.fail_connection(env, e.on(ids.0, ids.1));
            }
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
            | Method::ConfirmSelectOk(_)) => {
                let e = AmqpError::new(
                    ReplyCode::CommandInvalid,
                    format_args!("{} is not a method a client may send", m.name()),
                );
                self.fail_connection(env, e.on(ids.0, ids.1));
            }
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

fn bind(
    destination: crate::broker::ShortStr,
    source: crate::broker::ShortStr,
    routing_key: crate::broker::ShortStr,
    arguments: crate::broker::FieldTable,
) -> broker::Bind {
    broker::Bind {
        destination,
        source,
        routing_key,
        arguments,
    }
}
