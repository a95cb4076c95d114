//! Commands of in-process client connections. Each becomes the AMQP method
//! a client would send and goes through the per-method layer wire
//! connections use (`amqp::connection::run_channel_method`): the engine
//! command, its reply and its error (code, text, class and method ids) are
//! decided there, once. Replies are return values; what a command caused
//! (deliveries, confirms, closes) comes out of `takeOutput`. Publishes and
//! acknowledgements also come in batches (`runCommands`, see `batch.rs`).

use super::js_value::{properties_from_js, short, table_from_js};
use super::options::ms;
use super::wire::{self, TO_BROKER, TO_CLIENT};
use super::{amqp_error, WasmBroker};
use crate::amqp::codec::method::*;
use crate::amqp::connection::{check_channel_number, run_channel_method, Step};
use crate::broker::{
    AmqpError, ApplyTo, ChannelRef, ConnId, ConnectionInfo, Message, Policy, ReplyCode, ShortStr,
};
use wasm_bindgen::prelude::*;

const PASSIVE: u8 = 1;
const DURABLE: u8 = 2;
const AUTO_DELETE: u8 = 4;
const INTERNAL: u8 = 8;
const EXCLUSIVE: u8 = 16;
const NO_ACK: u8 = 32;

pub(super) fn chan(conn: u32, ch: u16) -> ChannelRef {
    ChannelRef::new(ConnId(conn), ch)
}

fn tag(t: f64) -> Result<u64, JsValue> {
    if t.is_finite() && t >= 0.0 && t.fract() == 0.0 {
        Ok(t as u64)
    } else {
        Err(js_sys::TypeError::new("a delivery tag is a non-negative integer").into())
    }
}

fn unexpected<T>(what: &str) -> Result<T, JsValue> {
    Err(js_sys::Error::new(&format!("warren: unexpected reply to {what}")).into())
}

impl WasmBroker {
    /// Runs `method` of in-process connection `conn` on channel `ch` through
    /// the per-method layer and routes what it caused. The wire tap sees the
    /// method, then its reply or the close its error makes.
    pub(super) fn method(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        method: Method,
    ) -> Result<Option<Method>, JsValue> {
        let now = ms(now);
        let r = self.run_method(now, conn, ch, method, None);
        self.server.tick(now);
        r.map_err(amqp_error)
    }

    /// [`method`](Self::method) without the tick, for batches: the engine
    /// command (with `content` for a publish), tapped both ways.
    pub(super) fn run_method(
        &mut self,
        now: u64,
        conn: u32,
        ch: u16,
        method: Method,
        content: Option<Message>,
    ) -> Result<Option<Method>, AmqpError> {
        let at = (conn, ch);
        self.record_wire(at, TO_BROKER, &method, content.as_ref());
        let c = chan(conn, ch);
        let r = match method {
            Method::BasicPublish(p) => {
                let m = content.unwrap_or_else(|| {
                    Message::from_parts(&p.exchange, &p.routing_key, Default::default(), &[])
                });
                self.publish_content(now, c, (p.mandatory, p.immediate), m)
                    .map(|()| None)
            }
            m => match run_channel_method(self.server.broker_mut(), now, c, m) {
                Step::Ran(r) => r,
                Step::Connection(m) => self.connection_method(now, c, m),
            },
        };
        match &r {
            Ok(Some(reply)) => self.record_wire(at, TO_CLIENT, reply, None),
            Ok(None) => {}
            Err(e) => {
                let (soft, close) = wire::close_for(e);
                self.record_wire((conn, if soft { ch } else { 0 }), TO_CLIENT, &close, None);
            }
        }
        r
    }

    /// The methods a wire connection handles itself, for an in-process one:
    /// channel open, close and flow.
    fn connection_method(
        &mut self,
        now: u64,
        c: ChannelRef,
        method: Method,
    ) -> Result<Option<Method>, AmqpError> {
        let ids = (method.class_id(), method.method_id());
        let channel_max = self.server.config().channel_max;
        let b = self.server.broker_mut();
        let r = match method {
            Method::ChannelOpen(_) => match check_channel_number(c.channel, channel_max) {
                Err(e) => {
                    b.connection_close(now, c.conn);
                    return Err(e);
                }
                Ok(()) => b
                    .channel_open(now, c)
                    .map(|()| Some(ChannelOpenOk { channel_id: vec![] }.into())),
            },
            Method::ChannelClose(_) => {
                b.channel_close(now, c);
                Ok(Some(ChannelCloseOk {}.into()))
            }
            Method::ChannelFlow(m) => b
                .channel_flow(now, c, m.active)
                .map(|active| Some(ChannelFlowOk { active }.into())),
            m => {
                b.connection_close(now, c.conn);
                Err(AmqpError::new(
                    ReplyCode::CommandInvalid,
                    format_args!("{} is not a method an in-process client sends", m.name()),
                ))
            }
        };
        r.map_err(|e| e.on(ids.0, ids.1))
    }

    /// A `basic.publish` with its content, past the wire tap: the size rule,
    /// then the engine command (`amqp::connection::publish`).
    pub(super) fn publish_content(
        &mut self,
        now: u64,
        c: ChannelRef,
        flags: (bool, bool),
        m: Message,
    ) -> Result<(), AmqpError> {
        let max = self.server.config().limits.max_message_size;
        crate::amqp::connection::publish(self.server.broker_mut(), now, c, flags, m, max)
    }

    /// With the wire tap on: records one frame (and its content).
    pub(super) fn record_wire(
        &mut self,
        at: (u32, u16),
        dir: u8,
        method: &Method,
        content: Option<&Message>,
    ) {
        if self.wire {
            let frame_max = self.server.config().frame_max;
            wire::record(&mut self.front, at, dir, method, content, frame_max);
        }
    }
}

#[wasm_bindgen]
impl WasmBroker {
    /// Opens an in-process connection; returns its id.
    /// `user` logs in with `password` (in-process clients count as on this
    /// machine, so loopback-only users may).
    #[wasm_bindgen(js_name = openConnection)]
    pub fn open_connection(
        &mut self,
        now: f64,
        vhost: &str,
        name: &str,
        user: &str,
        password: &str,
    ) -> Result<u32, JsValue> {
        let info = ConnectionInfo {
            vhost: short(vhost, "vhost")?,
            user: short(user, "user name")?,
            name: name.to_owned(),
            ..Default::default()
        };
        let open = ConnectionOpen {
            virtual_host: info.vhost.clone(),
            capabilities: ShortStr::empty(),
            insist: false,
        };
        let b = self.server.broker();
        if b.users().is_some() && b.authenticate(user, Some(password.as_bytes())).is_none() {
            let e = AmqpError::access_refused(
                "Login was refused using authentication mechanism PLAIN. \
                 For details see the broker logfile.",
            );
            return Err(amqp_error(
                e.on(ConnectionStartOk::CLASS_ID, ConnectionStartOk::METHOD_ID),
            ));
        }
        let now = ms(now);
        let r = self
            .server
            .broker_mut()
            .connection_open(now, info)
            .map_err(|e| e.on(ConnectionOpen::CLASS_ID, ConnectionOpen::METHOD_ID));
        self.server.tick(now);
        let id = r.map_err(amqp_error)?;
        self.record_wire((id.0, 0), TO_BROKER, &open.into(), None);
        let ok = ConnectionOpenOk {
            known_hosts: ShortStr::empty(),
        };
        self.record_wire((id.0, 0), TO_CLIENT, &ok.into(), None);
        Ok(id.0)
    }

    #[wasm_bindgen(js_name = closeConnection)]
    pub fn close_connection(&mut self, now: f64, conn: u32) {
        let close = ConnectionClose {
            reply_code: 200,
            reply_text: ShortStr::truncated("Goodbye"),
            class_id: 0,
            method_id: 0,
        };
        self.record_wire((conn, 0), TO_BROKER, &close.into(), None);
        let now = ms(now);
        self.server.broker_mut().connection_close(now, ConnId(conn));
        self.server.tick(now);
        self.record_wire((conn, 0), TO_CLIENT, &ConnectionCloseOk {}.into(), None);
    }

    #[wasm_bindgen(js_name = openChannel)]
    pub fn open_channel(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        let open = ChannelOpen {
            out_of_band: ShortStr::empty(),
        };
        self.method(now, conn, ch, open.into()).map(drop)
    }

    #[wasm_bindgen(js_name = closeChannel)]
    pub fn close_channel(&mut self, now: f64, conn: u32, ch: u16) {
        let close = ChannelClose {
            reply_code: 200,
            reply_text: ShortStr::truncated("Goodbye"),
            class_id: 0,
            method_id: 0,
        };
        let _ = self.method(now, conn, ch, close.into());
    }

    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = exchangeDeclare)]
    pub fn exchange_declare(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        name: &str,
        kind: &str,
        flags: u8,
        args: JsValue,
    ) -> Result<(), JsValue> {
        let d = ExchangeDeclare {
            ticket: 0,
            exchange: short(name, "exchange name")?,
            kind: short(kind, "exchange type")?,
            passive: flags & PASSIVE != 0,
            durable: flags & DURABLE != 0,
            auto_delete: flags & AUTO_DELETE != 0,
            internal: flags & INTERNAL != 0,
            nowait: false,
            arguments: table_from_js(&args)?,
        };
        self.method(now, conn, ch, d.into()).map(drop)
    }

    #[wasm_bindgen(js_name = exchangeDelete)]
    pub fn exchange_delete(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        name: &str,
        if_unused: bool,
    ) -> Result<(), JsValue> {
        let d = ExchangeDelete {
            ticket: 0,
            exchange: short(name, "exchange name")?,
            if_unused,
            nowait: false,
        };
        self.method(now, conn, ch, d.into()).map(drop)
    }

    /// `kind`: 0 queue.bind, 1 queue.unbind, 2 exchange.bind, 3 exchange.unbind.
    #[allow(clippy::too_many_arguments)]
    pub fn bind(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        kind: u8,
        destination: &str,
        source: &str,
        routing_key: &str,
        args: JsValue,
    ) -> Result<(), JsValue> {
        let destination = short(destination, "destination")?;
        let source = short(source, "source exchange")?;
        let routing_key = short(routing_key, "routing key")?;
        let arguments = table_from_js(&args)?;
        let method: Method = match kind {
            0 => QueueBind {
                ticket: 0,
                queue: destination,
                exchange: source,
                routing_key,
                nowait: false,
                arguments,
            }
            .into(),
            1 => QueueUnbind {
                ticket: 0,
                queue: destination,
                exchange: source,
                routing_key,
                arguments,
            }
            .into(),
            2 => ExchangeBind {
                ticket: 0,
                destination,
                source,
                routing_key,
                nowait: false,
                arguments,
            }
            .into(),
            _ => ExchangeUnbind {
                ticket: 0,
                destination,
                source,
                routing_key,
                nowait: false,
                arguments,
            }
            .into(),
        };
        self.method(now, conn, ch, method).map(drop)
    }

    /// Returns `[name, messageCount, consumerCount]`.
    #[wasm_bindgen(js_name = queueDeclare)]
    pub fn queue_declare(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        name: &str,
        flags: u8,
        args: JsValue,
    ) -> Result<js_sys::Array, JsValue> {
        let d = QueueDeclare {
            ticket: 0,
            queue: short(name, "queue name")?,
            passive: flags & PASSIVE != 0,
            durable: flags & DURABLE != 0,
            exclusive: flags & EXCLUSIVE != 0,
            auto_delete: flags & AUTO_DELETE != 0,
            nowait: false,
            arguments: table_from_js(&args)?,
        };
        match self.method(now, conn, ch, d.into())? {
            Some(Method::QueueDeclareOk(ok)) => Ok(js_sys::Array::of3(
                &ok.queue.as_str().into(),
                &ok.message_count.into(),
                &ok.consumer_count.into(),
            )),
            _ => unexpected("queue.declare"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = queueDelete)]
    pub fn queue_delete(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        name: &str,
        if_unused: bool,
        if_empty: bool,
    ) -> Result<u32, JsValue> {
        let d = QueueDelete {
            ticket: 0,
            queue: short(name, "queue name")?,
            if_unused,
            if_empty,
            nowait: false,
        };
        match self.method(now, conn, ch, d.into())? {
            Some(Method::QueueDeleteOk(ok)) => Ok(ok.message_count),
            _ => unexpected("queue.delete"),
        }
    }

    #[wasm_bindgen(js_name = queuePurge)]
    pub fn queue_purge(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        name: &str,
    ) -> Result<u32, JsValue> {
        let p = QueuePurge {
            ticket: 0,
            queue: short(name, "queue name")?,
            nowait: false,
        };
        match self.method(now, conn, ch, p.into())? {
            Some(Method::QueuePurgeOk(ok)) => Ok(ok.message_count),
            _ => unexpected("queue.purge"),
        }
    }

    /// One `basic.publish` with its content (publishes without properties
    /// usually come batched through `runCommands`).
    #[allow(clippy::too_many_arguments)]
    pub fn publish(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        exchange: &str,
        routing_key: &str,
        properties: JsValue,
        body: &[u8],
        mandatory: bool,
    ) -> Result<(), JsValue> {
        let p = BasicPublish {
            ticket: 0,
            exchange: short(exchange, "exchange name")?,
            routing_key: short(routing_key, "routing key")?,
            mandatory,
            immediate: false,
        };
        let m = Message::new(
            p.exchange.clone(),
            p.routing_key.clone(),
            properties_from_js(&properties)?,
            body,
        );
        let now = ms(now);
        let r = self.run_method(now, conn, ch, p.into(), Some(m));
        self.server.tick(now);
        r.map(drop).map_err(amqp_error)
    }

    /// Returns the consumer tag.
    #[allow(clippy::too_many_arguments)]
    pub fn consume(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        queue: &str,
        consumer_tag: &str,
        flags: u8,
        args: JsValue,
    ) -> Result<String, JsValue> {
        let c = BasicConsume {
            ticket: 0,
            queue: short(queue, "queue name")?,
            consumer_tag: short(consumer_tag, "consumer tag")?,
            no_local: false,
            no_ack: flags & NO_ACK != 0,
            exclusive: flags & EXCLUSIVE != 0,
            nowait: false,
            arguments: table_from_js(&args)?,
        };
        match self.method(now, conn, ch, c.into())? {
            Some(Method::BasicConsumeOk(ok)) => Ok(ok.consumer_tag.to_string()),
            _ => unexpected("basic.consume"),
        }
    }

    pub fn cancel(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        consumer_tag: &str,
    ) -> Result<(), JsValue> {
        let c = BasicCancel {
            consumer_tag: short(consumer_tag, "consumer tag")?,
            nowait: false,
        };
        self.method(now, conn, ch, c.into()).map(drop)
    }

    /// The answer (get-ok or get-empty) comes out of `takeOutput`.
    pub fn get(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        queue: &str,
        no_ack: bool,
    ) -> Result<(), JsValue> {
        let g = BasicGet {
            ticket: 0,
            queue: short(queue, "queue name")?,
            no_ack,
        };
        self.method(now, conn, ch, g.into()).map(drop)
    }

    /// `kind`: 0 ack (`requeue` unused), 1 nack, 2 reject (`multiple` unused).
    /// Valid tags usually come batched through `runCommands`.
    #[allow(clippy::too_many_arguments)]
    pub fn settle(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        kind: u8,
        delivery_tag: f64,
        multiple: bool,
        requeue: bool,
    ) -> Result<(), JsValue> {
        let method = super::batch::settle_method(kind, tag(delivery_tag)?, multiple, requeue);
        self.method(now, conn, ch, method).map(drop)
    }

    #[wasm_bindgen(js_name = recoverChannel)]
    pub fn recover_channel(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        requeue: bool,
    ) -> Result<(), JsValue> {
        self.method(now, conn, ch, BasicRecover { requeue }.into())
            .map(drop)
    }

    pub fn qos(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        prefetch_count: u16,
        prefetch_size: u32,
        global: bool,
    ) -> Result<(), JsValue> {
        let q = BasicQos {
            prefetch_size,
            prefetch_count,
            global,
        };
        self.method(now, conn, ch, q.into()).map(drop)
    }

    pub fn flow(&mut self, now: f64, conn: u32, ch: u16, active: bool) -> Result<bool, JsValue> {
        match self.method(now, conn, ch, ChannelFlow { active }.into())? {
            Some(Method::ChannelFlowOk(ok)) => Ok(ok.active),
            _ => unexpected("channel.flow"),
        }
    }

    /// Not an AMQP method: Warren's lease on a delivery (consumer timeout).
    #[wasm_bindgen(js_name = extendLease)]
    pub fn extend_lease(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        delivery_tag: f64,
        lease_ms: f64,
    ) -> Result<(), JsValue> {
        let t = tag(delivery_tag)?;
        let now = ms(now);
        let r = self
            .server
            .broker_mut()
            .extend_lease(now, chan(conn, ch), t, ms(lease_ms));
        self.server.tick(now);
        r.map_err(amqp_error)
    }

    #[wasm_bindgen(js_name = confirmSelect)]
    pub fn confirm_select(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        self.method(now, conn, ch, ConfirmSelect { nowait: false }.into())
            .map(drop)
    }

    #[wasm_bindgen(js_name = txSelect)]
    pub fn tx_select(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        self.method(now, conn, ch, TxSelect {}.into()).map(drop)
    }

    #[wasm_bindgen(js_name = txCommit)]
    pub fn tx_commit(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        self.method(now, conn, ch, TxCommit {}.into()).map(drop)
    }

    #[wasm_bindgen(js_name = txRollback)]
    pub fn tx_rollback(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        self.method(now, conn, ch, TxRollback {}.into()).map(drop)
    }
}

#[wasm_bindgen]
impl WasmBroker {
    /// Adds or replaces a policy; a bad one is a `TypeError` naming what is wrong.
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = setPolicy)]
    pub fn set_policy(
        &mut self,
        now: f64,
        vhost: &str,
        name: &str,
        pattern: &str,
        apply_to: &str,
        priority: f64,
        definition: JsValue,
    ) -> Result<(), JsValue> {
        let bad = |m: &str| -> JsValue { js_sys::TypeError::new(m).into() };
        let apply_to = ApplyTo::parse(apply_to).ok_or_else(|| {
            bad(&format!(
                "policy '{name}': apply-to is all, queues, exchanges, classic_queues, quorum_queues or streams, not '{apply_to}'"
            ))
        })?;
        if !(priority.is_finite() && priority.fract() == 0.0 && priority.abs() < 9.0e15) {
            return Err(bad(&format!(
                "policy '{name}': priority must be an integer"
            )));
        }
        let policy = Policy {
            name: short(name, "policy name")?,
            pattern: pattern.to_owned(),
            apply_to,
            priority: priority as i64,
            definition: table_from_js(&definition)?,
        };
        let now = ms(now);
        let r = self.server.broker_mut().set_policy(now, vhost, policy);
        self.server.tick(now);
        r.map_err(|e| bad(&e.0))
    }

    /// Removes a policy; false when there was none of that name.
    #[wasm_bindgen(js_name = deletePolicy)]
    pub fn delete_policy(&mut self, now: f64, vhost: &str, name: &str) -> bool {
        let now = ms(now);
        let r = self.server.broker_mut().delete_policy(now, vhost, name);
        self.server.tick(now);
        r
    }

    /// Every policy, as plain data for `js/data.js`:
    /// `[{ name, pattern, applyTo, priority, definition, vhost }]`.
    pub fn policies(&self) -> Vec<u8> {
        let mut d = super::data::Data::default();
        super::views::write_policies(&self.server.broker().policies(), &mut d);
        d.0
    }
}

#[wasm_bindgen]
impl WasmBroker {
    /// The declared topology in the shape of RabbitMQ's definitions, as
    /// plain data for `js/data.js`: `{ vhosts, exchanges, queues, bindings }`
    /// (see `broker::definitions`); `exclusive`: with exclusive queues.
    pub fn topology(&self, exclusive: bool) -> Vec<u8> {
        let mut d = super::data::Data::default();
        let t = self.server.broker().topology(exclusive);
        super::views::write_topology(&t, &mut d);
        d.0
    }
}
