//! `new WasmBroker(options)`: the JS options object, read through serde.
//! (serde-wasm-bindgen reads only the fields it knows: `js/broker.js`
//! rejects unknown ones with a message naming them.)

use crate::amqp::connection::{ServerConfig, User};
use crate::amqp::password::{self, PasswordHash};
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
    password: Option<String>,
    /// RabbitMQ's base64 salted hash, as in its definitions.
    password_hash: Option<String>,
    hashing_algorithm: Option<String>,
    vhosts: Option<Vec<String>>,
}

/// A login from a name and either a password or RabbitMQ's password hash.
pub fn user(
    name: &str,
    password: Option<String>,
    password_hash: Option<&str>,
    hashing_algorithm: Option<&str>,
    vhosts: Option<Vec<String>>,
) -> Result<User, String> {
    let password_hash = match password_hash {
        None => None,
        Some(text) => {
            if let Some(a) = hashing_algorithm.filter(|a| *a != password::SHA256) {
                return Err(format!(
                    "user '{name}': hashing_algorithm '{a}' is not supported (only {})",
                    password::SHA256
                ));
            }
            Some(PasswordHash::from_base64(text).ok_or_else(|| {
                format!("user '{name}': password_hash is not a base64 salted SHA-256 hash")
            })?)
        }
    };
    if password.is_none() && password_hash.is_none() {
        return Err(format!(
            "user '{name}': needs a password or a password_hash"
        ));
    }
    Ok(User {
        name: name.to_owned(),
        password: password.unwrap_or_default(),
        password_hash,
        vhosts,
    })
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
    pub fn broker_config(&self) -> BrokerConfig {
        BrokerConfig {
            durable_store: self.durable,
            events: self.events.unwrap_or(true),
            consumer_timeout_ms: self.consumer_timeout.map(ms),
        }
    }

    pub fn server_config(&self) -> Result<ServerConfig, String> {
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
                .map(|(name, u)| {
                    user(
                        name,
                        u.password.clone(),
                        u.password_hash.as_deref(),
                        u.hashing_algorithm.as_deref(),
                        u.vhosts.clone(),
                    )
                })
                .collect::<Result<_, _>>()?;
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
        Ok(c)
    }
}
