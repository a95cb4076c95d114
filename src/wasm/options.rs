//! `new WasmBroker(options)`: the JS options object, read field by field.
//! (Only the fields known here are read: `js/broker.js` rejects unknown ones
//! with a message naming them.) Read by hand rather than through serde: a
//! deserializer's generic code was a large part of the wasm for one call.

use crate::amqp::connection::{validate_users, ServerConfig};
use crate::broker::sort;
use crate::broker::{BrokerConfig, Password, Permission, User};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};

#[derive(Default)]
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
#[derive(Default)]
pub struct UserEntry {
    password: Option<String>,
    password_hash: Option<String>,
    tags: Option<Vec<String>>,
    vhosts: Option<Vec<String>>,
    permissions: Option<Entries<PermissionEntry>>,
}

/// A JS object's entries sorted by key.
pub struct Entries<T>(Vec<(String, T)>);

#[derive(Default)]
pub struct PermissionEntry {
    configure: String,
    write: String,
    read: String,
}

/// One object of the options being read: its path names it in errors.
struct Reader<'a> {
    object: JsValue,
    path: &'a str,
}

impl Reader<'_> {
    /// The value at `key`; undefined and null are absent.
    fn get(&self, key: &str) -> Option<JsValue> {
        let v = Reflect::get(&self.object, &JsValue::from_str(key)).ok()?;
        (!v.is_undefined() && !v.is_null()).then_some(v)
    }

    fn error(&self, key: &str, what: &str) -> String {
        format!("{}{key} must be {what}", self.path)
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, String> {
        self.get(key)
            .map(|v| v.as_bool().ok_or_else(|| self.error(key, "a boolean")))
            .transpose()
    }

    fn number(&self, key: &str) -> Result<Option<f64>, String> {
        self.get(key)
            .map(|v| v.as_f64().ok_or_else(|| self.error(key, "a number")))
            .transpose()
    }

    /// A whole number from 0 to `max`.
    fn integer(&self, key: &str, max: u32) -> Result<Option<u32>, String> {
        match self.number(key) {
            Ok(Some(n)) if n.fract() == 0.0 && (0.0..=f64::from(max)).contains(&n) => {
                Ok(Some(n as u32))
            }
            Ok(None) => Ok(None),
            _ => Err(self.error(key, &format!("an integer from 0 to {max}"))),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, String> {
        self.get(key)
            .map(|v| v.as_string().ok_or_else(|| self.error(key, "a string")))
            .transpose()
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let what = "an array of strings";
        if !Array::is_array(&v) {
            return Err(self.error(key, what));
        }
        let array: Array = v.unchecked_into();
        let strings: Option<Vec<String>> = array.iter().map(|s| s.as_string()).collect();
        strings.map(Some).ok_or_else(|| self.error(key, what))
    }

    /// An object's entries sorted by key, each read by `read`.
    fn entries<T>(
        &self,
        key: &str,
        read: impl Fn(&Reader) -> Result<T, String>,
    ) -> Result<Option<Entries<T>>, String> {
        let mut out = Vec::new();
        let found = self.each_entry(key, &mut |name, r| {
            out.push((name, read(r)?));
            Ok(())
        })?;
        if !found {
            return Ok(None);
        }
        sort::sort_by(&mut out, |a, b| a.0.cmp(&b.0));
        Ok(Some(Entries(out)))
    }

    /// Calls `each` with every entry of the object at `key`, in JS order;
    /// false if there is none. Not generic: one copy of the walk for every
    /// kind of entry.
    fn each_entry(
        &self,
        key: &str,
        each: &mut dyn FnMut(String, &Reader) -> Result<(), String>,
    ) -> Result<bool, String> {
        let Some(v) = self.get(key) else {
            return Ok(false);
        };
        for pair in Object::entries(&object(&v, || self.error(key, "an object"))?).iter() {
            let pair: Array = pair.unchecked_into();
            let name = pair.get(0).as_string().unwrap_or_default();
            let path = format!("{}{key}.{name}.", self.path);
            let value = object(&pair.get(1), || {
                format!("{}{key}.{name} must be an object", self.path)
            })?;
            let reader = Reader {
                object: value.into(),
                path: &path,
            };
            each(name, &reader)?;
        }
        Ok(true)
    }
}

/// `v` as an object, or the error `err` gives.
fn object(v: &JsValue, err: impl Fn() -> String) -> Result<Object, String> {
    match v.is_object() && !Array::is_array(v) {
        true => Ok(v.clone().unchecked_into()),
        false => Err(err()),
    }
}

impl UserEntry {
    fn read(r: &Reader) -> Result<UserEntry, String> {
        Ok(UserEntry {
            password: r.string("password")?,
            password_hash: r.string("passwordHash")?,
            tags: r.strings("tags")?,
            vhosts: r.strings("vhosts")?,
            permissions: r.entries("permissions", |p| {
                Ok(PermissionEntry {
                    configure: p.string("configure")?.unwrap_or_default(),
                    write: p.string("write")?.unwrap_or_default(),
                    read: p.string("read")?.unwrap_or_default(),
                })
            })?,
        })
    }
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

#[derive(Default)]
struct Limits {
    max_message_size: Option<f64>,
    channel_max: Option<u32>,
    frame_max: Option<u32>,
    heartbeat: Option<u32>,
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
    pub fn from_js(options: JsValue) -> Result<Options, JsValue> {
        if options.is_undefined() || options.is_null() {
            return Ok(Options::default());
        }
        Options::read(options)
            .map_err(|e| js_sys::TypeError::new(&format!("Broker options: {e}")).into())
    }

    fn read(options: JsValue) -> Result<Options, String> {
        let o = Reader {
            object: object(&options, || "options must be an object".to_owned())?.into(),
            path: "",
        };
        let limits = match o.get("limits") {
            None => Limits::default(),
            Some(v) => {
                let l = Reader {
                    object: object(&v, || o.error("limits", "an object"))?.into(),
                    path: "limits.",
                };
                Limits {
                    max_message_size: l.number("maxMessageSize")?,
                    channel_max: l.integer("channelMax", u16::MAX.into())?,
                    frame_max: l.integer("frameMax", u32::MAX)?,
                    heartbeat: l.integer("heartbeat", u16::MAX.into())?,
                    max_queued_bytes: l.number("maxQueuedBytes")?,
                }
            }
        };
        Ok(Options {
            durable: o.bool("durable")?.unwrap_or(false),
            events: o.bool("events")?,
            consumer_timeout: o.number("consumerTimeout")?,
            page_budget: o.number("pageBudget")?,
            vhosts: o.strings("vhosts")?,
            users: o.entries("users", UserEntry::read)?,
            loopback_users: o.strings("loopbackUsers")?,
            limits,
        })
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
            c.channel_max = n as u16;
        }
        if let Some(n) = l.frame_max {
            c.frame_max = n;
        }
        if let Some(n) = l.heartbeat {
            c.heartbeat_secs = n as u16;
        }
        c.platform = "WebAssembly".to_owned();
        Ok(c)
    }
}
