//! `new WasmBroker(options)`: the JS options object, read through serde.
//! (serde-wasm-bindgen reads only the fields it knows: `js/broker.js`
//! rejects unknown ones with a message naming them.)

use crate::amqp::connection::{validate_users, ServerConfig};
use crate::broker::sort;
use crate::broker::{BrokerConfig, Password, Permission, User};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::marker::PhantomData;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Options {
    durable: bool,
    events: Option<bool>,
    consumer_timeout: Option<f64>,
    /// Bytes of messages a queue keeps in memory before paging (None: never).
    page_budget: Option<f64>,
    vhosts: Option<Vec<String>>,
    users: Option<Entries<UserEntry>>,
    loopback_users: Option<Vec<String>>,
    limits: Limits,
}

/// One user as JS gives it: `password` (plain) or `passwordHash`
/// (`rabbit_password_hashing_sha256`), `tags`, and either `permissions`
/// per vhost or `vhosts` (every permission on each; all vhosts if neither).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UserEntry {
    password: Option<String>,
    password_hash: Option<String>,
    tags: Option<Vec<String>>,
    vhosts: Option<Vec<String>>,
    permissions: Option<Entries<PermissionEntry>>,
}

/// A JS object's entries by key, in the order a `BTreeMap` would give them,
/// without a B-tree's code in the wasm for each value type.
pub struct Entries<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Object<T> {
            type Value = Entries<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<T>, A::Error> {
                let mut out: Vec<(String, T)> = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                sort::sort_by(&mut out, |a, b| a.0.cmp(&b.0));
                Ok(Entries(out))
            }
        }
        d.deserialize_map(Object(PhantomData))
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PermissionEntry {
    configure: String,
    write: String,
    read: String,
}

impl UserEntry {
    /// The engine's user; `all_vhosts` stand for "every vhost". Tags default
    /// to `administrator` (a user given as just a password is trusted).
    pub fn to_user(&self, name: &str, all_vhosts: &[String]) -> Result<User, String> {
        let password = match (&self.password, &self.password_hash) {
            (Some(_), Some(_)) => {
                return Err(format!(
                    "user '{name}': give password or passwordHash, not both"
                ))
            }
            (Some(p), None) => Password::Plain(p.clone()),
            (None, Some(h)) => {
                Password::sha256_from_base64(h).map_err(|e| format!("user '{name}': {e}"))?
            }
            (None, None) => Password::None,
        };
        let permissions = match (&self.permissions, &self.vhosts) {
            (Some(p), _) => {
                p.0.iter()
                    .map(|(vhost, p)| Permission {
                        vhost: vhost.clone(),
                        configure: p.configure.clone(),
                        write: p.write.clone(),
                        read: p.read.clone(),
                    })
                    .collect()
            }
            (None, Some(v)) => v.iter().map(|v| Permission::full(v)).collect(),
            (None, None) => all_vhosts.iter().map(|v| Permission::full(v)).collect(),
        };
        Ok(User {
            name: name.to_owned(),
            password,
            tags: self
                .tags
                .clone()
                .unwrap_or_else(|| vec!["administrator".to_owned()]),
            permissions,
        })
    }
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
            page_budget_bytes: self
                .page_budget
                .filter(|b| b.is_finite() && *b >= 0.0)
                .map(|b| b as usize),
        }
    }

    /// The server's settings; an error names the user or option at fault.
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
                .0
                .iter()
                .map(|(name, u)| u.to_user(name, &c.vhosts))
                .collect::<Result<_, _>>()?;
            validate_users(&c.users)?;
        }
        if let Some(l) = &self.loopback_users {
            c.loopback_users = l.clone();
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
