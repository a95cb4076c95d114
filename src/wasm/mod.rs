//! The JavaScript binding layer: converts between JS values and engine types
//! and forwards calls. No broker logic lives here; `js/` drives it.
//!
//! [`WasmBroker`] holds an [`amqp::Server`](crate::amqp::server::Server)
//! that owns the engine: AMQP connections over any byte transport
//! (`transport.rs`) and in-process client connections (`commands.rs`) share
//! one broker. Every call takes `now` (ms) and ends with a server tick, so
//! effects are routed before the call returns: bytes for transports and
//! effects for in-process clients come out of [`WasmBroker::take_output`] as
//! one packed buffer in wasm memory (see `output.rs`). Engine errors are thrown as `Error`s
//! carrying `code`, `replyText`, `classId`, `methodId` and `soft` (the channel
//! is closed) ; bad arguments as `TypeError`s.

mod allocator;
mod batch;
#[cfg(feature = "bench")]
mod bench;
mod commands;
mod data;
mod events;
mod js_value;
mod options;
mod output;
mod paging;
mod transport;
mod users;
mod views;
mod wire;

use crate::alloc_cache::SizeClasses;
use crate::amqp::codec::decode_content_header;
use crate::amqp::server::{Output, Server};
use crate::broker::{AmqpError, Broker};
use crate::storage::log;
use data::Data;
use js_sys::{Reflect, Uint8Array};
use options::{ms, Options};
use wasm_bindgen::prelude::*;

#[cfg(feature = "bench")]
pub use bench::bench_engine;

// Talc instead of the default dlmalloc: every publish allocates (the message,
// its queue entry), and talc is both faster and smaller on wasm; small freed
// blocks are kept by size for the next publish (see `alloc_cache`). Called,
// not inlined (see `allocator`).
#[global_allocator]
static ALLOCATOR: allocator::Outlined<SizeClasses<talc::wasm::WasmDynamicTalc>> =
    allocator::Outlined(SizeClasses::new(talc::wasm::new_wasm_dynamic_allocator()));

/// The crate version, so JS can check which engine build it loaded.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Properties from an AMQP content header (as packed in the output buffer),
/// as plain data for `js/data.js`.
#[wasm_bindgen(js_name = decodeProperties)]
pub fn decode_properties(header: &[u8]) -> Result<Vec<u8>, JsValue> {
    let mut d = Data::default();
    if header.is_empty() {
        d.object();
        d.end();
        return Ok(d.0);
    }
    let h = decode_content_header(header).map_err(|e| js_sys::Error::new(&e.to_string()))?;
    d.properties(&h.properties);
    Ok(d.0)
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
    set("soft", e.is_soft().into());
    err.into()
}

impl WasmBroker {
    /// The output packed by the last `take_output`, for Rust callers (tests).
    pub fn output(&self) -> &[u8] {
        &self.out
    }
}

/// Output buffers above this are not kept between drains.
const OUT_KEEP: usize = 1 << 20;

#[wasm_bindgen]
pub struct WasmBroker {
    server: Server,
    out: Vec<u8>,
    /// `[address of out, next deadline]` after `take_output` (boxed: JS keeps its address).
    status: Box<[f64; 2]>,
    /// The wire tap is on (`setWireTap`).
    wire: bool,
    /// Output ahead of what commands caused, in the next `takeOutput`: their
    /// tapped frames, and the closes errors in a batch made.
    front: Vec<u8>,
    /// The last delivery in `out`, for `DELIVER_NEXT` records.
    deliveries: output::Deliveries,
    /// Where JS writes batched commands, in place (`commandBuffer`, `batch.rs`).
    commands: Vec<u8>,
}

#[wasm_bindgen]
impl WasmBroker {
    /// `options`: `{ durable, events, consumerTimeout, vhosts, users, limits }`
    /// (see `BrokerOptions` in `js/index.d.ts`).
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<WasmBroker, JsValue> {
        let o = Options::from_js(options)?;
        let broker = Broker::new(o.broker_config());
        let config = o
            .server_config()
            .map_err(|e| js_sys::TypeError::new(&format!("Broker options: {e}")))?;
        Ok(WasmBroker {
            server: Server::new(config, broker),
            out: Vec::new(),
            status: Box::new([0.0, -1.0]),
            wire: false,
            front: Vec::new(),
            deliveries: Default::default(),
            commands: Vec::new(),
        })
    }

    /// A broker resumed from an image taken by [`image`](Self::image), with
    /// the same options a new one takes. Connections opened in-process are
    /// closed (their clients are gone): their deliveries are requeued.
    pub fn resume(options: JsValue, image: &[u8], now: f64) -> Result<WasmBroker, JsValue> {
        let o = Options::from_js(options)?;
        let config = o
            .server_config()
            .map_err(|e| js_sys::TypeError::new(&format!("Broker options: {e}")))?;
        let mut server = Server::resume(config, o.broker_config(), image)
            .map_err(|e| js_sys::Error::new(&e.to_string()))?;
        server.close_direct_connections(ms(now));
        Ok(WasmBroker {
            server,
            out: Vec::new(),
            status: Box::new([0.0, -1.0]),
            wire: false,
            front: Vec::new(),
            deliveries: Default::default(),
            commands: Vec::new(),
        })
    }

    /// The whole broker (engine and every connection) as an image; the
    /// broker goes on unchanged. Take output first.
    pub fn image(&self) -> Result<Uint8Array, JsValue> {
        let image = self
            .server
            .image()
            .map_err(|e| js_sys::Error::new(&e.to_string()))?;
        Ok(Uint8Array::from(&image[..]))
    }

    /// The ids of the transports accepted and not yet closed.
    #[wasm_bindgen(js_name = transportIds)]
    pub fn transport_ids(&self) -> Vec<f64> {
        self.server.tokens().iter().map(|t| t.0 as f64).collect()
    }

    /// Rebuilds the broker from a store log (see `storage::log`). Returns,
    /// as plain data for `js/data.js`, `{ validLength, version, damage }`: the bytes to keep (a torn or corrupt
    /// tail beyond them must be cut by the host), the format version read, and
    /// why the scan stopped early (`{ kind, offset, message }`) or null. A log
    /// that cannot be read at all (an unknown version, a foreign header) throws
    /// an `Error` named `StoreLogError`; the host must leave it untouched.
    ///
    /// `clean`: the host knows the broker that wrote the log stopped cleanly
    /// (every record written); otherwise, as after a crash, every recovered
    /// message comes back flagged redelivered (see `Broker::recover_after_crash`).
    pub fn recover(
        &mut self,
        now: f64,
        log_bytes: &[u8],
        clean: Option<bool>,
    ) -> Result<Vec<u8>, JsValue> {
        let scan = log::scan(log_bytes).map_err(|e| {
            let err = js_sys::Error::new(&e.to_string());
            err.set_name("StoreLogError");
            JsValue::from(err)
        })?;
        let mut report = Data::default();
        views::write_log_report(&scan, &mut report);
        let config = self.server.broker().config().clone();
        let recovered = if clean == Some(true) {
            Broker::recover(config, ms(now), scan.records)
        } else {
            Broker::recover_after_crash(config, ms(now), scan.records)
        };
        let mut b = recovered.map_err(|e| js_sys::Error::new(&e.to_string()))?;
        for v in &self.server.config().vhosts {
            b.add_vhost(v);
        }
        // Users live beside the durable records: carried over.
        if let Some(users) = self.server.broker().users() {
            let _ = b.set_users(users.to_vec());
        }
        *self.server.broker_mut() = b;
        self.server.tick(ms(now));
        Ok(report.0)
    }

    /// The log format version this build writes (older ones it reads).
    #[wasm_bindgen(js_name = logVersion)]
    pub fn log_version() -> u32 {
        log::VERSION
    }

    /// The header that starts a log in the format this build writes.
    #[wasm_bindgen(js_name = logHeader)]
    pub fn log_header() -> Uint8Array {
        Uint8Array::from(&log::header()[..])
    }

    /// Store records emitted since the last call, framed for the log; the
    /// number of the last one is in `storeEmitted`.
    #[wasm_bindgen(js_name = takeStoreBytes)]
    pub fn take_store_bytes(&mut self) -> Option<Uint8Array> {
        let (_, records) = self.server.broker_mut().take_store_records();
        if records.is_empty() {
            return None;
        }
        let mut buf = Vec::new();
        log::append_batch(&records, &mut buf);
        Some(Uint8Array::from(&buf[..]))
    }

    /// The number of store records emitted so far.
    #[wasm_bindgen(js_name = storeEmitted)]
    pub fn store_emitted(&self) -> f64 {
        self.server.broker().store_emitted() as f64
    }

    /// The host made records up to `n` durable: their confirms go out.
    #[wasm_bindgen(js_name = storeDurable)]
    pub fn store_durable(&mut self, now: f64, n: f64) {
        self.server.broker_mut().store_durable(ms(n));
        self.server.tick(ms(now));
    }

    /// The whole durable state as a log (header and frames), for compaction.
    #[wasm_bindgen(js_name = snapshotLog)]
    pub fn snapshot_log(&self) -> Uint8Array {
        let mut buf = log::header().to_vec();
        for r in self.server.broker().snapshot_records() {
            log::append(&r, &mut buf);
        }
        Uint8Array::from(&buf[..])
    }

    /// Runs what is due at `now`: engine timers, heartbeats, timeouts.
    pub fn tick(&mut self, now: f64) {
        self.server.tick(ms(now));
    }

    /// Packs everything for the host since the last call (see `js/output.js`)
    /// and returns its length, 0 when there is nothing. The bytes stay at
    /// `status[0]` in wasm memory until the next call; `status[1]` is then
    /// the next deadline (see `statusPtr`). JS reads both in place: no JS
    /// object is made per call.
    #[wasm_bindgen(js_name = takeOutput)]
    pub fn take_output(&mut self) -> u32 {
        if self.out.capacity() > OUT_KEEP {
            self.out = Vec::new();
        }
        self.out.clear();
        self.deliveries = Default::default();
        self.out.append(&mut self.front);
        // One round of a backlog per call: JS takes output until there is
        // none, yielding to the event loop every few calls.
        self.server.next_round();
        let frame_max = self.server.config().frame_max;
        while let Some(o) = self.server.poll_output() {
            match o {
                Output::Send { conn, bytes } => {
                    output::send(conn.0 as u32, &bytes, &mut self.out);
                    self.server.recycle(bytes);
                }
                Output::Close {
                    conn,
                    client_closes,
                } => output::close(conn.0 as u32, client_closes, &mut self.out),
                Output::Flush { conn } => output::flush(conn.0 as u32, &mut self.out),
                Output::Effect(e) => {
                    if self.wire {
                        wire::effect(&e, &mut self.out, frame_max);
                    }
                    self.deliveries.pack(&e, &mut self.out)
                }
                Output::Closed { conn, report } => {
                    output::closed(conn.0 as u32, &report, &mut self.out)
                }
            }
        }
        self.status[0] = self.out.as_ptr() as usize as f64;
        self.status[1] = self.server.next_deadline().map_or(-1.0, |d| d as f64);
        self.out.len() as u32
    }

    /// Turns the wire tap on or off: with it on, `takeOutput` also carries
    /// `WIRE` records, the AMQP frames of in-process connections (`wire.rs`).
    #[wasm_bindgen(js_name = setWireTap)]
    pub fn set_wire_tap(&mut self, on: bool) {
        self.wire = on;
    }

    /// Where in wasm memory `takeOutput` leaves `[output address, next
    /// deadline or -1]`, two f64s. Fixed for the broker's lifetime.
    #[wasm_bindgen(js_name = statusPtr)]
    pub fn status_ptr(&self) -> u32 {
        self.status.as_ptr() as usize as u32
    }

    /// Engine events since the last call, as plain data for `js/data.js`.
    #[wasm_bindgen(js_name = takeEvents)]
    pub fn take_events(&mut self) -> Vec<u8> {
        let mut d = Data::default();
        events::write_events(&self.server.broker_mut().take_events(), &mut d);
        d.0
    }

    /// Records events from now on, or stops (dropping what was recorded).
    #[wasm_bindgen(js_name = recordEvents)]
    pub fn record_events(&mut self, on: bool) {
        self.server.broker_mut().set_events(on);
    }

    /// An estimate of the memory queued messages take: their bodies plus a
    /// fixed overhead per message (`bench/memory.mjs` measures about 85 bytes
    /// in wasm, `bench/engine.rs` 83 natively; rounded up for headroom).
    #[wasm_bindgen(js_name = heldBytes)]
    pub fn held_bytes(&self) -> f64 {
        const PER_MESSAGE: usize = 96;
        let (messages, bytes) = self.server.broker().held();
        (bytes + messages * PER_MESSAGE) as f64
    }

    /// The broker as plain data for `js/data.js`. `messages`: include each
    /// queue's ready messages (false for the cheap summary management views need).
    pub fn snapshot(&self, messages: Option<bool>) -> Vec<u8> {
        let b = self.server.broker();
        let snap = match messages.unwrap_or(true) {
            true => b.snapshot(),
            false => b.summary(),
        };
        let mut d = Data::default();
        views::write_snapshot(&snap, &mut d);
        d.0
    }

    #[wasm_bindgen(js_name = setBlocked)]
    pub fn set_blocked(&mut self, now: f64, reason: Option<String>) {
        self.server.broker_mut().set_blocked(reason.as_deref());
        self.server.tick(ms(now));
    }
}
