//! The JavaScript binding layer: converts between JS values and engine types
//! and forwards calls. No broker logic lives here; `js/` drives it.
//!
//! Every command takes `now` (ms). Effects for in-process clients come out of
//! [`WasmBroker::take_output`] as one packed buffer (see `output.rs`); errors
//! are thrown as `Error`s carrying `code`, `replyText`, `classId`, `methodId`.

mod js_value;
mod output;

use crate::amqp::codec::decode_content_header;
use crate::broker::{
    AmqpError, Bind, Broker, BrokerConfig, ChannelRef, ConnId, ConnectionInfo, Consume, Effect,
    ExchangeDeclare, Message, Qos, QueueDeclare,
};
use crate::storage::log;
use js_sys::{Object, Reflect, Uint8Array};
use js_value::{properties_from_js, properties_to_js, short, table_from_js};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

/// The crate version, so JS can check which engine build it loaded.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Properties from an AMQP content header (as packed in the output buffer).
#[wasm_bindgen(js_name = decodeProperties)]
pub fn decode_properties(header: &[u8]) -> Result<JsValue, JsValue> {
    if header.is_empty() {
        return Ok(Object::new().into());
    }
    let h = decode_content_header(header).map_err(|e| js_sys::Error::new(&e.to_string()))?;
    Ok(properties_to_js(&h.properties))
}

fn amqp_error(e: AmqpError) -> JsValue {
    let err = js_sys::Error::new(&e.text);
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&err, &JsValue::from_str(k), &v);
    };
    set("code", e.code.code().into());
    set("replyText", JsValue::from_str(&e.text));
    set("classId", e.class_id.into());
    set("methodId", e.method_id.into());
    err.into()
}

fn ms(now: f64) -> u64 {
    if now.is_finite() && now > 0.0 {
        now as u64
    } else {
        0
    }
}

fn tag(t: f64) -> Result<u64, JsValue> {
    if t.is_finite() && t >= 0.0 && t.fract() == 0.0 {
        Ok(t as u64)
    } else {
        Err(js_sys::TypeError::new("a delivery tag is a non-negative integer").into())
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Options {
    durable: bool,
    events: Option<bool>,
    consumer_timeout: Option<f64>,
    vhosts: Option<Vec<String>>,
}

const PASSIVE: u8 = 1;
const DURABLE: u8 = 2;
const AUTO_DELETE: u8 = 4;
const INTERNAL: u8 = 8;
const EXCLUSIVE: u8 = 16;
const NO_ACK: u8 = 32;

#[wasm_bindgen]
pub struct WasmBroker {
    broker: Broker,
    out: Vec<u8>,
    effects: Vec<Effect>,
}

#[wasm_bindgen]
impl WasmBroker {
    /// `options`: `{ durable, events, consumerTimeout, vhosts }`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<WasmBroker, JsValue> {
        let o: Options = if options.is_undefined() || options.is_null() {
            Options::default()
        } else {
            serde_wasm_bindgen::from_value(options)?
        };
        let config = BrokerConfig {
            durable_store: o.durable,
            events: o.events.unwrap_or(true),
            consumer_timeout_ms: o.consumer_timeout.map(ms),
        };
        let mut broker = Broker::new(config);
        for v in o.vhosts.unwrap_or_default() {
            broker.add_vhost(&v);
        }
        Ok(WasmBroker {
            broker,
            out: Vec::new(),
            effects: Vec::new(),
        })
    }

    /// Rebuilds the broker from a store log (framed records). Returns the
    /// number of valid bytes: a torn tail beyond it must be cut by the host.
    pub fn recover(&mut self, now: f64, log_bytes: &[u8]) -> Result<f64, JsValue> {
        let scan = log::scan(log_bytes);
        let config = self.broker.config().clone();
        let vhosts: Vec<String> = self
            .broker
            .snapshot()
            .queues
            .iter()
            .map(|q| q.vhost.to_string())
            .collect();
        let mut b = Broker::recover(config, ms(now), scan.records)
            .map_err(|e| js_sys::Error::new(&e.to_string()))?;
        for v in vhosts {
            b.add_vhost(&v);
        }
        self.broker = b;
        Ok(scan.valid_len as f64)
    }

    /// Why the last `recover` stopped early, for the host's log.
    #[wasm_bindgen(js_name = scanDamage)]
    pub fn scan_damage(log_bytes: &[u8]) -> Option<String> {
        log::scan(log_bytes).damage
    }

    /// Store records emitted since the last call, framed for the log; the
    /// number of the last one is in `storeEmitted`.
    #[wasm_bindgen(js_name = takeStoreBytes)]
    pub fn take_store_bytes(&mut self) -> Option<Uint8Array> {
        let (_, records) = self.broker.take_store_records();
        if records.is_empty() {
            return None;
        }
        let mut buf = Vec::new();
        for r in &records {
            log::append(r, &mut buf);
        }
        Some(Uint8Array::from(&buf[..]))
    }

    /// The number of store records emitted so far.
    #[wasm_bindgen(js_name = storeEmitted)]
    pub fn store_emitted(&self) -> f64 {
        self.broker.store_emitted() as f64
    }

    /// The host made records up to `n` durable: their confirms may go out.
    #[wasm_bindgen(js_name = storeDurable)]
    pub fn store_durable(&mut self, n: f64) {
        self.broker.store_durable(ms(n));
    }

    /// The whole durable state as a framed log, for compaction.
    #[wasm_bindgen(js_name = snapshotLog)]
    pub fn snapshot_log(&self) -> Uint8Array {
        let mut buf = Vec::new();
        for r in self.broker.snapshot_records() {
            log::append(&r, &mut buf);
        }
        Uint8Array::from(&buf[..])
    }

    pub fn poll(&mut self, now: f64) {
        self.broker.poll(ms(now));
    }

    pub fn flush(&mut self, now: f64) {
        self.broker.flush(ms(now));
    }

    /// When the engine must next be polled, or -1.
    #[wasm_bindgen(js_name = nextDeadline)]
    pub fn next_deadline(&self) -> f64 {
        self.broker.next_deadline().map_or(-1.0, |d| d as f64)
    }

    /// Effects since the last call, packed (see `js/output.js`), or undefined.
    #[wasm_bindgen(js_name = takeOutput)]
    pub fn take_output(&mut self) -> Option<Uint8Array> {
        self.broker.drain_effects_into(&mut self.effects);
        if self.effects.is_empty() {
            return None;
        }
        self.out.clear();
        for e in self.effects.drain(..) {
            output::pack(&e, &mut self.out);
        }
        Some(Uint8Array::from(&self.out[..]))
    }

    #[wasm_bindgen(js_name = takeEvents)]
    pub fn take_events(&mut self) -> Result<JsValue, JsValue> {
        let events = self.broker.take_events();
        Ok(serde_wasm_bindgen::to_value(&events)?)
    }

    pub fn snapshot(&self) -> Result<JsValue, JsValue> {
        Ok(serde_wasm_bindgen::to_value(&self.broker.snapshot())?)
    }

    #[wasm_bindgen(js_name = setBlocked)]
    pub fn set_blocked(&mut self, reason: Option<String>) {
        self.broker.set_blocked(reason.as_deref());
    }

    // ---- in-process connections ----------------------------------------

    /// Opens an in-process connection; returns its id.
    #[wasm_bindgen(js_name = openConnection)]
    pub fn open_connection(&mut self, now: f64, vhost: &str, name: &str) -> Result<u32, JsValue> {
        let info = ConnectionInfo {
            vhost: short(vhost, "vhost")?,
            name: name.to_owned(),
            ..Default::default()
        };
        self.broker
            .connection_open(ms(now), info)
            .map(|c| c.0)
            .map_err(amqp_error)
    }

    #[wasm_bindgen(js_name = closeConnection)]
    pub fn close_connection(&mut self, now: f64, conn: u32) {
        self.broker.connection_close(ms(now), ConnId(conn));
    }

    #[wasm_bindgen(js_name = openChannel)]
    pub fn open_channel(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        self.broker
            .channel_open(ms(now), chan(conn, ch))
            .map_err(amqp_error)
    }

    #[wasm_bindgen(js_name = closeChannel)]
    pub fn close_channel(&mut self, now: f64, conn: u32, ch: u16) {
        self.broker.channel_close(ms(now), chan(conn, ch));
    }

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
        self.broker
            .exchange_declare(ms(now), chan(conn, ch), d)
            .map_err(amqp_error)
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
        self.broker
            .exchange_delete(ms(now), chan(conn, ch), name, if_unused)
            .map_err(amqp_error)
    }

    /// `kind`: 0 queue.bind, 1 queue.unbind, 2 exchange.bind, 3 exchange.unbind.
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
        let b = Bind {
            destination: short(destination, "destination")?,
            source: short(source, "source exchange")?,
            routing_key: short(routing_key, "routing key")?,
            arguments: table_from_js(&args)?,
        };
        let (now, c) = (ms(now), chan(conn, ch));
        match kind {
            0 => self.broker.queue_bind(now, c, b),
            1 => self.broker.queue_unbind(now, c, b),
            2 => self.broker.exchange_bind(now, c, b),
            _ => self.broker.exchange_unbind(now, c, b),
        }
        .map_err(amqp_error)
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
        let ok = self
            .broker
            .queue_declare(ms(now), chan(conn, ch), d)
            .map_err(amqp_error)?;
        Ok(js_sys::Array::of3(
            &ok.queue.as_str().into(),
            &ok.message_count.into(),
            &ok.consumer_count.into(),
        ))
    }

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
        self.broker
            .queue_delete(ms(now), chan(conn, ch), name, if_unused, if_empty)
            .map_err(amqp_error)
    }

    #[wasm_bindgen(js_name = queuePurge)]
    pub fn queue_purge(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        name: &str,
    ) -> Result<u32, JsValue> {
        self.broker
            .queue_purge(ms(now), chan(conn, ch), name)
            .map_err(amqp_error)
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
        self.broker
            .basic_publish(ms(now), chan(conn, ch), m, mandatory, false)
            .map_err(amqp_error)
    }

    /// Returns the consumer tag.
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
        self.broker
            .basic_consume(ms(now), chan(conn, ch), c)
            .map(|t| t.to_string())
            .map_err(amqp_error)
    }

    pub fn cancel(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        consumer_tag: &str,
    ) -> Result<(), JsValue> {
        self.broker
            .basic_cancel(ms(now), chan(conn, ch), consumer_tag)
            .map_err(amqp_error)
    }

    pub fn get(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        queue: &str,
        no_ack: bool,
    ) -> Result<(), JsValue> {
        self.broker
            .basic_get(ms(now), chan(conn, ch), queue, no_ack)
            .map_err(amqp_error)
    }

    pub fn ack(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        delivery_tag: f64,
        multiple: bool,
    ) -> Result<(), JsValue> {
        self.broker
            .basic_ack(ms(now), chan(conn, ch), tag(delivery_tag)?, multiple)
            .map_err(amqp_error)
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
        self.broker
            .basic_nack(
                ms(now),
                chan(conn, ch),
                tag(delivery_tag)?,
                multiple,
                requeue,
            )
            .map_err(amqp_error)
    }

    pub fn reject(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        delivery_tag: f64,
        requeue: bool,
    ) -> Result<(), JsValue> {
        self.broker
            .basic_reject(ms(now), chan(conn, ch), tag(delivery_tag)?, requeue)
            .map_err(amqp_error)
    }

    pub fn recover_channel(
        &mut self,
        now: f64,
        conn: u32,
        ch: u16,
        requeue: bool,
    ) -> Result<(), JsValue> {
        self.broker
            .basic_recover(ms(now), chan(conn, ch), requeue)
            .map_err(amqp_error)
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
        self.broker
            .basic_qos(ms(now), chan(conn, ch), q)
            .map_err(amqp_error)
    }

    pub fn flow(&mut self, now: f64, conn: u32, ch: u16, active: bool) -> Result<bool, JsValue> {
        self.broker
            .channel_flow(ms(now), chan(conn, ch), active)
            .map_err(amqp_error)
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
        self.broker
            .extend_lease(ms(now), chan(conn, ch), tag(delivery_tag)?, ms(lease_ms))
            .map_err(amqp_error)
    }

    #[wasm_bindgen(js_name = confirmSelect)]
    pub fn confirm_select(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        self.broker
            .confirm_select(ms(now), chan(conn, ch))
            .map_err(amqp_error)
    }

    #[wasm_bindgen(js_name = txSelect)]
    pub fn tx_select(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        self.broker
            .tx_select(ms(now), chan(conn, ch))
            .map_err(amqp_error)
    }

    #[wasm_bindgen(js_name = txCommit)]
    pub fn tx_commit(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        self.broker
            .tx_commit(ms(now), chan(conn, ch))
            .map_err(amqp_error)
    }

    #[wasm_bindgen(js_name = txRollback)]
    pub fn tx_rollback(&mut self, now: f64, conn: u32, ch: u16) -> Result<(), JsValue> {
        self.broker
            .tx_rollback(ms(now), chan(conn, ch))
            .map_err(amqp_error)
    }
}

fn chan(conn: u32, ch: u16) -> ChannelRef {
    ChannelRef::new(ConnId(conn), ch)
}
