//! Commands of in-process client connections: one method per AMQP method,
//! forwarded to the engine. Replies are return values; what the command
//! caused (deliveries, confirms, closes) comes out of `takeOutput`.

use super::js_value::{properties_from_js, short, table_from_js};
use super::options::ms;
use super::wire::{self, TO_BROKER, TO_CLIENT};
use super::{amqp_error, WasmBroker};
use crate::amqp::codec::method::{
    BasicAck, BasicCancel, BasicCancelOk, BasicConsume, BasicConsumeOk, BasicGet, BasicNack,
    BasicPublish, BasicQos, BasicQosOk, BasicRecover, BasicRecoverOk, BasicReject, ChannelClose,
    ChannelCloseOk, ChannelOpen, ChannelOpenOk, ConfirmSelect, ConfirmSelectOk, Method,
};
use crate::broker::ShortStr;
use crate::broker::{
    AmqpError, ApplyTo, Bind, Broker, ChannelRef, ConnId, ConnectionInfo, Consume, ExchangeDeclare,
    Message, Policy, Qos, QueueDeclare,
};
use wasm_bindgen::prelude::*;

const PASSIVE: u8 = 1;
const DURABLE: u8 = 2;
const AUTO_DELETE: u8 = 4;
const INTERNAL: u8 = 8;
const EXCLUSIVE: u8 = 16;
const NO_ACK: u8 = 32;

fn chan(conn: u32, ch: u16) -> ChannelRef {
    ChannelRef::new(ConnId(conn), ch)
}

fn tag(t: f64) -> Result<u64, JsValue> {
    if t.is_finite() && t >= 0.0 && t.fract() == 0.0 {
        Ok(t as u64)
    } else {
        Err(js_sys::TypeError::new("a delivery tag is a non-negative integer").into())
    }
}

/// The limit AMQP connections enforce on content headers, applied to
/// in-process publishes too: 406 and the channel is closed, as RabbitMQ does.
fn check_size(
    b: &mut Broker,
    now: u64,
    ch: ChannelRef,
    len: usize,
    max: u64,
) -> Result<(), AmqpError> {
    if len as u64 <= max {
        return Ok(());
    }
    b.channel_close(now, ch);
    Err(AmqpError::precondition(format_args!(
        "message size {len} is larger than configured max size {max}"
    )))
}

impl WasmBroker {
    fn max_message_size(&self) -> u64 {
        self.server.config().limits.max_message_size
    }

    /// Runs one engine command, then lets the server route what it caused
    /// (to AMQP connections or to `takeOutput`). After an error the engine
    /// has already closed the channel (soft) or connection (hard).
    /// `method`: the AMQP (class, method) the command stands for, named in
    /// errors as a client would see them.
    fn run<T>(
        &mut self,
        now: f64,
        (class_id, method_id): (u16, u16),
        f: impl FnOnce(&mut Broker, u64) -> Result<T, AmqpError>,
    ) -> Result<T, JsValue> {
        let now = ms(now);
        let r = f(self.server.broker_mut(), now).map_err(|e| {
            if e.class_id == 0 {
                e.on(class_id, method_id)
            } else {
                e
            }
        });
        self.server.tick(now);
        if let (Err(e), Some((conn, ch))) = (&r, self.wire_chan.take()) {
            // What a connection sends for the error: the tapped wire shows it too.
            let (soft, close) = wire::close_for(e);
            self.tap_reply((conn, if soft { ch } else { 0 }), || close);
        }
        r.map_err(amqp_error)
    }

    /// With the wire tap on: the frame command `method` stands for, client
    /// to broker, on channel `at` (an error then closes that channel).
    fn tap(&mut self, at: (u32, u16), method: impl FnOnce() -> Method, content: Option<&Message>) {
        if self.record_wire(at, TO_BROKER, method, content) {
            self.wire_chan = Some(at);
        }
    }

    /// With the wire tap on: a reply the broker sends on channel `at`.
    fn tap_reply(&mut self, at: (u32, u16), method: impl FnOnce() -> Method) {
        self.record_wire(at, TO_CLIENT, method, None);
    }

    /// Records one tapped frame if the tap is on; false when it is off.
    fn record_wire(
        &mut self,
        at: (u32, u16),
        dir: u8,
        method: impl FnOnce() -> Method,
        content: Option<&Message>,
    ) -> bool {
        if !self.wire {
            return false;
        }
        let frame_max = self.server.config().frame_max;
        wire::record(&mut self.wire_out, at, dir, &method(), content, frame_max);
        true
    }

    /// Runs a tapped command: its frame, then its reply `ok` when it succeeds.
    #[allow(clippy::too_many_arguments)]
    fn run_tapped<T>(
        &mut self,
        now: f64,
        ids: (u16, u16),
        at: (u32, u16),
        frame: Option<Method>,
        ok: impl FnOnce(&T) -> Option<Method>,
        f: impl FnOnce(&mut Broker, u64) -> Result<T, AmqpError>,
    ) -> Result<T, JsValue> {
        if let Some(frame) = frame {
            self.tap(at, || frame, None);
        }
        let r = self.run(now, ids, f);
        if let Ok(v) = &r {
            if let Some(reply) = ok(v) {
                self.tap_reply(at, || reply);
            }
        }
        r
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
        let b = self.server.broker();
        if b.users().is_some() && b.authenticate(user, Some(password.as_bytes())).is_none() {
            return Err(amqp_error(
                AmqpError::access_refused(
                    "Login was refused using authentication mechanism PLAIN. \
                     For details see the broker logfile.",
                )
                .on(10, 11),
            ));
        }
        self.run(now, (10, 40), |b, now| {
            b.connection_open(now, info).map(|c| c.0)
        })
    }

    #[wasm_bindgen(js_name = closeConnection)]
    pub fn close_connection(&mut self, now: f64, conn: u32) {
        let _ = self.run(now, (10, 50), |b, now| {
            b.connection_close(now, ConnId(conn));
            Ok(())
        });
    }

    #[wasm_bindgen(js_name = openChannel)]
    pub fn open_channel(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        let open = self.wire.then(|| {
            ChannelOpen {
                out_of_band: ShortStr::empty(),
            }
            .into()
        });
        let ok = |_: &()| Some(ChannelOpenOk { channel_id: vec![] }.into());
        self.run_tapped(now, (20, 10), (conn, ch), open, ok, |b, now| {
            b.channel_open(now, chan(conn, ch))
        })
    }

    #[wasm_bindgen(js_name = closeChannel)]
    pub fn close_channel(&mut self, now: f64, conn: u32, ch: u16) {
        let close = self.wire.then(|| {
            ChannelClose {
                reply_code: 200,
                reply_text: ShortStr::truncated("Goodbye"),
                class_id: 0,
                method_id: 0,
            }
            .into()
        });
        let ok = |_: &()| Some(ChannelCloseOk {}.into());
        let _ = self.run_tapped(now, (20, 40), (conn, ch), close, ok, |b, now| {
            b.channel_close(now, chan(conn, ch));
            Ok(())
        });
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
            exchange: short(name, "exchange name")?,
            kind: short(kind, "exchange type")?,
            passive: flags & PASSIVE != 0,
            durable: flags & DURABLE != 0,
            auto_delete: flags & AUTO_DELETE != 0,
            internal: flags & INTERNAL != 0,
            arguments: table_from_js(&args)?,
        };
        self.run(now, (40, 10), |b, now| {
            b.exchange_declare(now, chan(conn, ch), d)
        })
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
        self.run(now, (40, 20), |b, now| {
            b.exchange_delete(now, chan(conn, ch), name, if_unused)
        })
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
        let bind = Bind {
            destination: short(destination, "destination")?,
            source: short(source, "source exchange")?,
            routing_key: short(routing_key, "routing key")?,
            arguments: table_from_js(&args)?,
        };
        let method = match kind {
            0 => (50, 20),
            1 => (50, 50),
            2 => (40, 30),
            _ => (40, 40),
        };
        self.run(now, method, |b, now| {
            let c = chan(conn, ch);
            match kind {
                0 => b.queue_bind(now, c, bind),
                1 => b.queue_unbind(now, c, bind),
                2 => b.exchange_bind(now, c, bind),
                _ => b.exchange_unbind(now, c, bind),
            }
        })
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
            queue: short(name, "queue name")?,
            passive: flags & PASSIVE != 0,
            durable: flags & DURABLE != 0,
            exclusive: flags & EXCLUSIVE != 0,
            auto_delete: flags & AUTO_DELETE != 0,
            arguments: table_from_js(&args)?,
        };
        let ok = self.run(now, (50, 10), |b, now| {
            b.queue_declare(now, chan(conn, ch), d)
        })?;
        Ok(js_sys::Array::of3(
            &ok.queue.as_str().into(),
            &ok.message_count.into(),
            &ok.consumer_count.into(),
        ))
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
        self.run(now, (50, 40), |b, now| {
            b.queue_delete(now, chan(conn, ch), name, if_unused, if_empty)
        })
    }

    #[wasm_bindgen(js_name = queuePurge)]
    pub fn queue_purge(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        name: &str,
    ) -> Result<u32, JsValue> {
        self.run(now, (50, 30), |b, now| {
            b.queue_purge(now, chan(conn, ch), name)
        })
    }

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
        let m = Message::new(
            short(exchange, "exchange name")?,
            short(routing_key, "routing key")?,
            properties_from_js(&properties)?,
            body,
        );
        let max = self.max_message_size();
        if self.wire {
            self.tap((conn, ch), || publish_method(&m, mandatory), Some(&m));
        }
        self.run(now, (60, 40), |b, now| {
            check_size(b, now, chan(conn, ch), body.len(), max)?;
            b.basic_publish(now, chan(conn, ch), m, mandatory, false)
        })
    }

    /// Publishes many bodies with the same exchange, routing key and
    /// properties. `bodies` is packed as `(len u32 LE, bytes)*`. Returns how
    /// many were published; an engine error stops the batch (the channel is
    /// then closed).
    #[allow(clippy::too_many_arguments)]
    #[wasm_bindgen(js_name = publishBatch)]
    pub fn publish_batch(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        exchange: &str,
        routing_key: &str,
        properties: JsValue,
        bodies: &[u8],
        mandatory: bool,
    ) -> Result<u32, JsValue> {
        let exchange = short(exchange, "exchange name")?;
        let routing_key = short(routing_key, "routing key")?;
        let properties = properties_from_js(&properties)?;
        let mut parts = Vec::new();
        let mut rest = bodies;
        while let Some((len, tail)) = rest.split_first_chunk::<4>() {
            let len = u32::from_le_bytes(*len) as usize;
            let (body, tail) = tail
                .split_at_checked(len)
                .ok_or_else(|| js_sys::TypeError::new("publishBatch: truncated body"))?;
            parts.push(body);
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(js_sys::TypeError::new("publishBatch: truncated length").into());
        }
        let mut published = 0u32;
        let max = self.max_message_size();
        let mut tapped = self.wire.then(Vec::new);
        let mark = self.wire_out.len();
        if self.wire {
            self.wire_chan = Some((conn, ch));
        }
        let r = self.run(now, (60, 40), |b, now| {
            for body in parts {
                check_size(b, now, chan(conn, ch), body.len(), max)?;
                let m = Message::new(
                    exchange.clone(),
                    routing_key.clone(),
                    properties.clone(),
                    body,
                );
                if let Some(t) = tapped.as_mut() {
                    t.push(m.clone());
                }
                b.basic_publish(now, chan(conn, ch), m, mandatory, false)?;
                published += 1;
            }
            Ok(())
        });
        // The batch is many publishes on the wire: their frames go ahead of what they caused.
        let mut frames = Vec::new();
        let frame_max = self.server.config().frame_max;
        for m in tapped.iter().flatten() {
            let method = publish_method(m, mandatory);
            wire::record(
                &mut frames,
                (conn, ch),
                TO_BROKER,
                &method,
                Some(m),
                frame_max,
            );
        }
        self.wire_out.splice(mark..mark, frames);
        r?;
        Ok(published)
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
        let c = Consume {
            queue: short(queue, "queue name")?,
            consumer_tag: short(consumer_tag, "consumer tag")?,
            no_local: false,
            no_ack: flags & NO_ACK != 0,
            exclusive: flags & EXCLUSIVE != 0,
            arguments: table_from_js(&args)?,
        };
        let frame = self.wire.then(|| {
            BasicConsume {
                ticket: 0,
                queue: c.queue.clone(),
                consumer_tag: c.consumer_tag.clone(),
                no_local: c.no_local,
                no_ack: c.no_ack,
                exclusive: c.exclusive,
                nowait: false,
                arguments: c.arguments.clone(),
            }
            .into()
        });
        let ok = |t: &ShortStr| {
            Some(
                BasicConsumeOk {
                    consumer_tag: t.clone(),
                }
                .into(),
            )
        };
        self.run_tapped(now, (60, 20), (conn, ch), frame, ok, |b, now| {
            b.basic_consume(now, chan(conn, ch), c)
        })
        .map(|t| t.to_string())
    }

    pub fn cancel(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        consumer_tag: &str,
    ) -> Result<(), JsValue> {
        let frame = self.wire.then(|| {
            BasicCancel {
                consumer_tag: ShortStr::truncated(consumer_tag),
                nowait: false,
            }
            .into()
        });
        let ok = |_: &()| {
            Some(
                BasicCancelOk {
                    consumer_tag: ShortStr::truncated(consumer_tag),
                }
                .into(),
            )
        };
        self.run_tapped(now, (60, 30), (conn, ch), frame, ok, |b, now| {
            b.basic_cancel(now, chan(conn, ch), consumer_tag)
        })
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
        let frame = self.wire.then(|| {
            BasicGet {
                ticket: 0,
                queue: ShortStr::truncated(queue),
                no_ack,
            }
            .into()
        });
        self.run_tapped(
            now,
            (60, 70),
            (conn, ch),
            frame,
            |_| None,
            |b, now| b.basic_get(now, chan(conn, ch), queue, no_ack),
        )
    }

    pub fn ack(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        delivery_tag: f64,
        multiple: bool,
    ) -> Result<(), JsValue> {
        let t = tag(delivery_tag)?;
        let frame = self.wire.then(|| {
            BasicAck {
                delivery_tag: t,
                multiple,
            }
            .into()
        });
        self.run_tapped(
            now,
            (60, 80),
            (conn, ch),
            frame,
            |_| None,
            |b, now| b.basic_ack(now, chan(conn, ch), t, multiple),
        )
    }

    pub fn nack(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        delivery_tag: f64,
        multiple: bool,
        requeue: bool,
    ) -> Result<(), JsValue> {
        let t = tag(delivery_tag)?;
        let frame = self.wire.then(|| {
            BasicNack {
                delivery_tag: t,
                multiple,
                requeue,
            }
            .into()
        });
        self.run_tapped(
            now,
            (60, 120),
            (conn, ch),
            frame,
            |_| None,
            |b, now| b.basic_nack(now, chan(conn, ch), t, multiple, requeue),
        )
    }

    pub fn reject(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        delivery_tag: f64,
        requeue: bool,
    ) -> Result<(), JsValue> {
        let t = tag(delivery_tag)?;
        let frame = self.wire.then(|| {
            BasicReject {
                delivery_tag: t,
                requeue,
            }
            .into()
        });
        self.run_tapped(
            now,
            (60, 90),
            (conn, ch),
            frame,
            |_| None,
            |b, now| b.basic_reject(now, chan(conn, ch), t, requeue),
        )
    }

    #[wasm_bindgen(js_name = recoverChannel)]
    pub fn recover_channel(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        requeue: bool,
    ) -> Result<(), JsValue> {
        let frame = self.wire.then(|| BasicRecover { requeue }.into());
        let ok = |_: &()| Some(BasicRecoverOk {}.into());
        self.run_tapped(now, (60, 110), (conn, ch), frame, ok, |b, now| {
            b.basic_recover(now, chan(conn, ch), requeue)
        })
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
        let q = Qos {
            prefetch_size,
            prefetch_count,
            global,
        };
        let frame = self.wire.then(|| {
            BasicQos {
                prefetch_size,
                prefetch_count,
                global,
            }
            .into()
        });
        let ok = |_: &()| Some(BasicQosOk {}.into());
        self.run_tapped(now, (60, 10), (conn, ch), frame, ok, |b, now| {
            b.basic_qos(now, chan(conn, ch), q)
        })
    }

    pub fn flow(&mut self, now: f64, conn: u32, ch: u16, active: bool) -> Result<bool, JsValue> {
        self.run(now, (20, 20), |b, now| {
            b.channel_flow(now, chan(conn, ch), active)
        })
    }

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
        self.run(now, (0, 0), |b, now| {
            b.extend_lease(now, chan(conn, ch), t, ms(lease_ms))
        })
    }

    #[wasm_bindgen(js_name = confirmSelect)]
    pub fn confirm_select(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        let frame = self.wire.then(|| ConfirmSelect { nowait: false }.into());
        let ok = |_: &()| Some(ConfirmSelectOk {}.into());
        self.run_tapped(now, (85, 10), (conn, ch), frame, ok, |b, now| {
            b.confirm_select(now, chan(conn, ch))
        })
    }

    #[wasm_bindgen(js_name = txSelect)]
    pub fn tx_select(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        self.run(now, (90, 10), |b, now| b.tx_select(now, chan(conn, ch)))
    }

    #[wasm_bindgen(js_name = txCommit)]
    pub fn tx_commit(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        self.run(now, (90, 20), |b, now| b.tx_commit(now, chan(conn, ch)))
    }

    #[wasm_bindgen(js_name = txRollback)]
    pub fn tx_rollback(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        self.run(now, (90, 30), |b, now| b.tx_rollback(now, chan(conn, ch)))
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

    /// Every policy: `[{ vhost, name, pattern, applyTo, priority, definition }]`.
    pub fn policies(&self) -> Result<JsValue, JsValue> {
        let all = self.server.broker().policies();
        let out = js_sys::Array::new();
        for (vhost, policy) in &all {
            let o = super::to_js(policy)?;
            js_sys::Reflect::set(&o, &"vhost".into(), &vhost.as_str().into())?;
            out.push(&o);
        }
        Ok(out.into())
    }
}

#[wasm_bindgen]
impl WasmBroker {
    /// The declared topology in the shape of RabbitMQ's definitions:
    /// `{ vhosts, exchanges, queues, bindings }` (see `broker::definitions`).
    pub fn topology(&self) -> JsValue {
        use super::js_value::table_to_js;
        use js_sys::{Array, Object, Reflect};
        let obj = |pairs: &[(&str, JsValue)]| -> JsValue {
            let o = Object::new();
            for (k, v) in pairs {
                let _ = Reflect::set(&o, &JsValue::from_str(k), v);
            }
            o.into()
        };
        let s = |x: &str| JsValue::from_str(x);
        let t = self.server.broker().topology();
        let vhosts: Array = t.vhosts.iter().map(|v| s(v)).collect();
        let exchanges: Array = t
            .exchanges
            .iter()
            .map(|(v, x)| {
                obj(&[
                    ("name", s(&x.exchange)),
                    ("vhost", s(v)),
                    ("type", s(&x.kind)),
                    ("durable", x.durable.into()),
                    ("auto_delete", x.auto_delete.into()),
                    ("internal", x.internal.into()),
                    ("arguments", table_to_js(&x.arguments)),
                ])
            })
            .collect();
        let queues: Array = t
            .queues
            .iter()
            .map(|(v, q)| {
                obj(&[
                    ("name", s(&q.queue)),
                    ("vhost", s(v)),
                    ("durable", q.durable.into()),
                    ("auto_delete", q.auto_delete.into()),
                    ("arguments", table_to_js(&q.arguments)),
                ])
            })
            .collect();
        let bindings: Array = t
            .bindings
            .iter()
            .map(|(v, to_queue, b)| {
                obj(&[
                    ("source", s(&b.source)),
                    ("vhost", s(v)),
                    ("destination", s(&b.destination)),
                    (
                        "destination_type",
                        s(if *to_queue { "queue" } else { "exchange" }),
                    ),
                    ("routing_key", s(&b.routing_key)),
                    ("arguments", table_to_js(&b.arguments)),
                ])
            })
            .collect();
        obj(&[
            ("vhosts", vhosts.into()),
            ("exchanges", exchanges.into()),
            ("queues", queues.into()),
            ("bindings", bindings.into()),
        ])
    }
}

/// `basic.publish` as a client sends it for message `m`.
fn publish_method(m: &Message, mandatory: bool) -> Method {
    BasicPublish {
        ticket: 0,
        exchange: ShortStr::truncated(m.exchange()),
        routing_key: ShortStr::truncated(m.routing_key()),
        mandatory,
        immediate: false,
    }
    .into()
}
