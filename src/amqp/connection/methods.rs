//! The per-method layer every client goes through, on the wire or in-process:
//! one flat match from a channel method to its engine command and its reply,
//! and the rules a method is checked against (message size, channel number).
//! `dispatch.rs` feeds it decoded frames; `src/wasm` feeds it the methods of
//! in-process clients.

use crate::amqp::codec::method::*;
use crate::broker::{self, AmqpError, Broker, ChannelRef, Message, PublishRun, ReplyCode};

/// What the per-method layer made of a channel method.
pub enum Step {
    /// An engine command ran: its reply (none with `nowait`, or for a method
    /// without one), or its error naming the method. After a soft error the
    /// engine has released the channel, after a hard one the connection.
    Ran(Result<Option<Method>, AmqpError>),
    /// Not an engine command: the connection handles it (content, flow,
    /// channel open and close, methods a client may not send).
    Connection(Method),
}

/// `basic.ack`: also called with an ack read in place (`AckRef`), which
/// has no reply.
pub fn basic_ack(
    broker: &mut Broker,
    now: u64,
    ch: ChannelRef,
    delivery_tag: u64,
    multiple: bool,
) -> Result<(), AmqpError> {
    broker.basic_ack(now, ch, delivery_tag, multiple)
}

/// Runs channel method `method` on channel `ch` as an engine command.
pub fn run_channel_method(broker: &mut Broker, now: u64, ch: ChannelRef, method: Method) -> Step {
    let ids = (method.class_id(), method.method_id());
    let r = match method {
        Method::BasicAck(m) => {
            basic_ack(broker, now, ch, m.delivery_tag, m.multiple).map(|()| None)
        }
        Method::BasicNack(m) => broker
            .basic_nack(now, ch, m.delivery_tag, m.multiple, m.requeue)
            .map(|()| None),
        Method::BasicReject(m) => broker
            .basic_reject(now, ch, m.delivery_tag, m.requeue)
            .map(|()| None),
        Method::BasicGet(m) => broker.basic_get(now, ch, &m.queue, m.no_ack).map(|()| None),
        Method::BasicConsume(m) => {
            let c = broker::Consume {
                queue: m.queue,
                consumer_tag: m.consumer_tag,
                no_local: m.no_local,
                no_ack: m.no_ack,
                exclusive: m.exclusive,
                arguments: m.arguments,
            };
            broker
                .basic_consume(now, ch, c)
                .map(|consumer_tag| (!m.nowait).then(|| BasicConsumeOk { consumer_tag }.into()))
        }
        Method::BasicCancel(m) => broker.basic_cancel(now, ch, &m.consumer_tag).map(|()| {
            let consumer_tag = m.consumer_tag;
            (!m.nowait).then(|| BasicCancelOk { consumer_tag }.into())
        }),
        Method::BasicQos(m) => {
            let qos = broker::Qos {
                prefetch_size: m.prefetch_size,
                prefetch_count: m.prefetch_count,
                global: m.global,
            };
            broker
                .basic_qos(now, ch, qos)
                .map(|()| Some(BasicQosOk {}.into()))
        }
        Method::BasicRecoverAsync(m) => broker.basic_recover(now, ch, m.requeue).map(|()| None),
        Method::BasicRecover(m) => broker
            .basic_recover(now, ch, m.requeue)
            .map(|()| Some(BasicRecoverOk {}.into())),
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
            broker
                .exchange_declare(now, ch, d)
                .map(|()| (!m.nowait).then(|| ExchangeDeclareOk {}.into()))
        }
        Method::ExchangeDelete(m) => broker
            .exchange_delete(now, ch, &m.exchange, m.if_unused)
            .map(|()| (!m.nowait).then(|| ExchangeDeleteOk {}.into())),
        Method::ExchangeBind(m) => {
            let b = bind(m.destination, m.source, m.routing_key, m.arguments);
            broker
                .exchange_bind(now, ch, b)
                .map(|()| (!m.nowait).then(|| ExchangeBindOk {}.into()))
        }
        Method::ExchangeUnbind(m) => {
            let b = bind(m.destination, m.source, m.routing_key, m.arguments);
            broker
                .exchange_unbind(now, ch, b)
                .map(|()| (!m.nowait).then(|| ExchangeUnbindOk {}.into()))
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
            broker.queue_declare(now, ch, d).map(|ok| {
                let reply = QueueDeclareOk {
                    queue: ok.queue,
                    message_count: ok.message_count,
                    consumer_count: ok.consumer_count,
                };
                (!m.nowait).then(|| reply.into())
            })
        }
        Method::QueueBind(m) => {
            let b = bind(m.queue, m.exchange, m.routing_key, m.arguments);
            broker
                .queue_bind(now, ch, b)
                .map(|()| (!m.nowait).then(|| QueueBindOk {}.into()))
        }
        Method::QueueUnbind(m) => {
            let b = bind(m.queue, m.exchange, m.routing_key, m.arguments);
            broker
                .queue_unbind(now, ch, b)
                .map(|()| Some(QueueUnbindOk {}.into()))
        }
        Method::QueuePurge(m) => broker
            .queue_purge(now, ch, &m.queue)
            .map(|message_count| (!m.nowait).then(|| QueuePurgeOk { message_count }.into())),
        Method::QueueDelete(m) => broker
            .queue_delete(now, ch, &m.queue, m.if_unused, m.if_empty)
            .map(|message_count| (!m.nowait).then(|| QueueDeleteOk { message_count }.into())),
        Method::ConfirmSelect(m) => broker
            .confirm_select(now, ch)
            .map(|()| (!m.nowait).then(|| ConfirmSelectOk {}.into())),
        Method::TxSelect(_) => broker
            .tx_select(now, ch)
            .map(|()| Some(TxSelectOk {}.into())),
        // Answered by Effect::TxCommitOk, once what it stored is durable.
        Method::TxCommit(_) => broker.tx_commit(now, ch).map(|()| None),
        Method::TxRollback(_) => broker
            .tx_rollback(now, ch)
            .map(|()| Some(TxRollbackOk {}.into())),
        m => return Step::Connection(m),
    };
    Step::Ran(r.map_err(|e| e.on(ids.0, ids.1)))
}

/// A message whose content header announces `size` bytes is refused above
/// `max` (406, the channel is closed), as RabbitMQ does.
pub fn check_message_size(size: u64, max: u64) -> Result<(), AmqpError> {
    if size <= max {
        return Ok(());
    }
    Err(AmqpError::precondition(format_args!(
        "message size {size} is larger than configured max size {max}"
    ))
    .on(BasicPublish::CLASS_ID, BasicPublish::METHOD_ID))
}

/// Channel numbers above a non-zero `channel_max` are refused (530, the
/// connection is closed).
pub fn check_channel_number(channel: u16, channel_max: u16) -> Result<(), AmqpError> {
    if channel_max == 0 || channel <= channel_max {
        return Ok(());
    }
    Err(AmqpError::new(
        ReplyCode::NotAllowed,
        format_args!(
            "channel number {channel} is higher than the negotiated channel_max ({channel_max})"
        ),
    )
    .on(ChannelOpen::CLASS_ID, ChannelOpen::METHOD_ID))
}

/// The size rule for one complete message: one over `max_size` closes the
/// channel and is refused (406).
fn size_rule(
    broker: &mut Broker,
    now: u64,
    ch: ChannelRef,
    message: &Message,
    max_size: u64,
) -> Result<(), AmqpError> {
    let checked = check_message_size(message.body().len() as u64, max_size);
    if checked.is_err() {
        broker.channel_close(now, ch);
    }
    checked
}

/// A complete `basic.publish` with its content: the size rule, then the
/// engine command. A message over the size limit closes the channel.
pub fn publish(
    broker: &mut Broker,
    now: u64,
    ch: ChannelRef,
    (mandatory, immediate): (bool, bool),
    message: Message,
    max_size: u64,
) -> Result<(), AmqpError> {
    size_rule(broker, now, ch, &message, max_size)?;
    broker
        .basic_publish(now, ch, message, mandatory, immediate)
        .map_err(|e| e.on(BasicPublish::CLASS_ID, BasicPublish::METHOD_ID))
}

/// [`publish`] of a message of a run driven one at a time
/// ([`Broker::basic_publish_in_run`]): the first (`run` None) checked
/// whole, each later one with the first's channel, exchange, routing key,
/// flags and properties only routed. An error ends the run.
pub fn publish_in_run(
    broker: &mut Broker,
    now: u64,
    ch: ChannelRef,
    flags: (bool, bool),
    run: &mut Option<PublishRun>,
    message: Message,
    max_size: u64,
) -> Result<(), AmqpError> {
    if let Err(e) = size_rule(broker, now, ch, &message, max_size) {
        *run = None;
        return Err(e);
    }
    broker
        .basic_publish_in_run(now, ch, flags, run, message)
        .map_err(|e| e.on(BasicPublish::CLASS_ID, BasicPublish::METHOD_ID))
}

/// A run of complete `basic.publish`es on one channel with one exchange,
/// routing key, flags and properties: `first`, then each message `next`
/// gives. The size rule for each, the engine's checks once for the run
/// ([`Broker::basic_publish_run`]). A message over the size limit closes
/// the channel; the messages before it are published.
pub fn publish_run(
    broker: &mut Broker,
    now: u64,
    ch: ChannelRef,
    flags: (bool, bool),
    first: Message,
    mut next: impl FnMut() -> Option<Message>,
    max_size: u64,
) -> Result<(), AmqpError> {
    let mut too_big = check_message_size(first.body().len() as u64, max_size).err();
    if too_big.is_none() {
        let sized = || {
            let m = next()?;
            match check_message_size(m.body().len() as u64, max_size) {
                Ok(()) => Some(m),
                Err(e) => {
                    too_big = Some(e);
                    None
                }
            }
        };
        broker
            .basic_publish_run(now, ch, flags, first, sized)
            .map_err(|e| e.on(BasicPublish::CLASS_ID, BasicPublish::METHOD_ID))?;
    }
    match too_big {
        Some(e) => {
            broker.channel_close(now, ch);
            Err(e)
        }
        None => Ok(()),
    }
}

fn bind(
    destination: broker::ShortStr,
    source: broker::ShortStr,
    routing_key: broker::ShortStr,
    arguments: broker::FieldTable,
) -> broker::Bind {
    broker::Bind {
        destination,
        source,
        routing_key,
        arguments,
    }
}
