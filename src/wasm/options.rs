//! `new WasmBroker(options)`: the JS options object, read through serde.
//! (serde-wasm-bindgen reads only the fields it knows: `js/broker.js`
//! rejects unknown ones with a message naming them.)

use crate::amqp::connection::{ServerConfig, User};
use crate::broker::BrokerConfig;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Options {
    durable: bool,
    events: Option<bool>,
    consumer_timeout: Option<f64>,
    vhosts: Option<Vec<String>>,
    users: Option<BTreeMap<String, UserEntry>>,
    limits: Limits,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserEntry {
    password: String,
    vhosts: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Limits {
    max_message_size: Option<f64>,
    channel_max: Option<u16>,
    frame_max: Option<u32>,
    heartbeat: Option<u16>,
    max_queued_bytes: Option<f64>,
}

/// Milliseconds (or bytes) from a JS number: negative and NaN count as 0.
pub fn ms(n: f64) -> u64 {
    if n.is_finite() && n > 0.0 {
        n as u64
    } else {
        0
    }
}

impl Options {
    /// The options JS passed (undefined or null: all defaults).
    pub fn from_js(options: wasm_bindgen::JsValue) -> Result<Options, wasm_bindgen::JsValue> {
        if options.is_undefined() || options.is_null() {
            return Ok(Options::default());
        }
        serde_wasm_bindgen::from_value(options)
            .map_err(|e| js_sys::TypeError::new(&format!("Broker options: {e}")).into())
    }

    pub fn broker_config(&self) -> BrokerConfig {
        BrokerConfig {
            durable_store: self.durable,
            events: self.events.unwrap_or(true),
            consumer_timeout_ms: self.consumer_timeout.map(ms),
        }
    }

    pub fn server_config(&self) -> ServerConfig {
        let mut c = ServerConfig::default();
        if let Some(vhosts) = &self.vhosts {
            for v in vhosts {
                if !c.vhosts.contains(v) {
                    c.vhosts.push(v.clone());
                }
            }
        }
        if let Some(users) = &self.users {
            c.users = users
                .iter()
                .map(|(name, u)| User {
                    name: name.clone(),
                    password: u.password.clone(),
                    vhosts: u.vhosts.clone(),
                })
                .collect();
        }
        let l = &self.limits;
        if let Some(n) = l.max_message_size {
            c.limits.max_message_size = ms(n);
        }
        if let Some(n) = l.max_queued_bytes {
            c.limits.max_output_bytes = ms(n) as usize;
        }
        if let Some(n) = l.channel_max {
            c.channel_max = n;
        }
        if let Some(n) = l.frame_max {
            c.frame_max = n;
        }
        if let Some(n) = l.heartbeat {
            c.heartbeat_secs = n;
        }
        c.platform = "WebAssembly".to_owned();
        c
    }
}
