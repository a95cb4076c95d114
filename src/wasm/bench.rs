//! The engine loop of `bench/engine.rs` run entirely inside wasm, so
//! `bench/js-api.mjs` can set the wasm figure against the native one.

use crate::broker::{
    Broker, BrokerConfig, ChannelRef, ConnectionInfo, Consume, Effect, Message, Properties, Qos,
    QueueDeclare, ShortStr,
};
use wasm_bindgen::prelude::*;

const BODY: [u8; 16] = *b"0123456789abcdef";

/// Publish -> deliver -> ack of `n` 16-byte messages through one queue and
/// one consumer (prefetch 1000), `batch` publishes between flushes, acking
/// each batch with `multiple`. Returns messages per second.
#[wasm_bindgen(js_name = benchEngine)]
pub fn bench_engine(n: u32, batch: u32) -> Result<f64, JsValue> {
    let fail = |e: crate::broker::AmqpError| JsValue::from_str(&e.text);
    let mut b = Broker::new(BrokerConfig::default());
    let c = b
        .connection_open(0, ConnectionInfo::default())
        .map_err(fail)?;
    let ch = ChannelRef::new(c, 1);
    b.channel_open(0, ch).map_err(fail)?;
    let q = ShortStr::truncated("bench");
    let exchange = ShortStr::empty();
    let declare = QueueDeclare {
        queue: q.clone(),
        ..Default::default()
    };
    b.queue_declare(0, ch, declare).map_err(fail)?;
    let qos = Qos {
        prefetch_count: 1000,
        ..Default::default()
    };
    b.basic_qos(0, ch, qos).map_err(fail)?;
    let consume = Consume {
        queue: q.clone(),
        ..Default::default()
    };
    b.basic_consume(0, ch, consume).map_err(fail)?;
    b.poll(0);
    let batch = batch.max(1);
    let mut effects = Vec::with_capacity(batch as usize);
    let start = js_sys::Date::now();
    let mut delivered = 0u32;
    while delivered < n {
        for _ in 0..batch {
            let m = Message::new(exchange.clone(), q.clone(), Properties::default(), BODY);
            b.basic_publish(0, ch, m, false, false).map_err(fail)?;
        }
        b.flush(0);
        b.drain_effects_into(&mut effects);
        let mut last = 0;
        for e in effects.drain(..) {
            if let Effect::Deliver {
                delivery_tag,
                message,
                ..
            } = e
            {
                std::hint::black_box(&message.body);
                last = delivery_tag;
                delivered += 1;
            }
        }
        if last > 0 {
            b.basic_ack(0, ch, last, true).map_err(fail)?;
        }
    }
    let secs = (js_sys::Date::now() - start) / 1000.0;
    Ok(f64::from(delivered) / secs.max(1e-9))
}
