//! The engine loop of `bench/engine.rs` run entirely inside wasm, so
//! `bench/js-api.mjs` can set the wasm figure against the native one.

use crate::bench_loop::EngineLoop;
use wasm_bindgen::prelude::*;

/// Publish -> deliver -> ack of `n` 16-byte messages (see `bench_loop`),
/// `batch` publishes between flushes. Returns messages per second.
#[wasm_bindgen(js_name = benchEngine)]
pub fn bench_engine(n: u32, batch: u32) -> Result<f64, JsValue> {
    let fail = |e: crate::broker::AmqpError| JsValue::from_str(&e.text);
    let mut l = EngineLoop::new().map_err(fail)?;
    l.consume().map_err(fail)?;
    let start = js_sys::Date::now();
    let delivered = l.run(u64::from(n), u64::from(batch)).map_err(fail)?;
    let secs = (js_sys::Date::now() - start) / 1000.0;
    Ok(delivered as f64 / secs.max(1e-9))
}
