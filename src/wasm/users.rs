//! Users, permissions and vhosts for the hosts' management API: thin
//! forwards to the engine's access control (`broker/access.rs`).

use super::data::Data;
use super::WasmBroker;
use crate::broker::float_text::write_f64_display;
use crate::broker::{Password, Permission, User};
use wasm_bindgen::prelude::*;

/// `{ name, tags, passwordHash, hashingAlgorithm, permissions: [{ vhost,
/// configure, write, read }] }`: RabbitMQ's shape, the hash in base64 with
/// its salt in front, or "" for a plain password (never sent out).
fn write_user(u: &User, d: &mut Data) {
    let password_hash = match &u.password {
        Password::Sha256 { salt, hash } => {
            let mut all = salt.to_vec();
            all.extend_from_slice(hash);
            crate::broker::access::base64(&all)
        }
        _ => String::new(),
    };
    d.object();
    d.key_str("name", &u.name);
    d.key("tags");
    d.array();
    for t in &u.tags {
        d.str(t);
    }
    d.end();
    d.key_str("passwordHash", &password_hash);
    d.key_str("hashingAlgorithm", "rabbit_password_hashing_sha256");
    d.key("permissions");
    d.array();
    for p in &u.permissions {
        d.object();
        d.key_str("vhost", &p.vhost);
        d.key_str("configure", &p.configure);
        d.key_str("write", &p.write);
        d.key_str("read", &p.read);
        d.end();
    }
    d.end();
    d.end();
}

fn type_error(e: String) -> JsValue {
    js_sys::TypeError::new(&e).into()
}

#[wasm_bindgen]
impl WasmBroker {
    /// Every user with tags and permissions (empty when access control is
    /// off), as plain data for `js/data.js`.
    pub fn users(&self) -> Vec<u8> {
        let mut d = Data::default();
        d.array();
        for u in self.server.broker().users().unwrap_or_default() {
            write_user(u, &mut d);
        }
        d.end();
        d.0
    }

    /// Checks a login as the management API does: the user's tags, or
    /// undefined when the name or password is wrong, or the user may only
    /// log in from this machine and `loopback` is false.
    pub fn authenticate(&self, name: &str, password: &str, loopback: bool) -> Option<Vec<String>> {
        let b = self.server.broker();
        b.users()?;
        let u = b.authenticate(name, Some(password.as_bytes()))?;
        let local_only = self
            .server
            .config()
            .loopback_users
            .iter()
            .any(|l| l == name);
        if local_only && !loopback {
            return None;
        }
        Some(u.tags.clone())
    }

    /// Adds or updates a user. `password` (plain) or `password_hash`
    /// (`rabbit_password_hashing_sha256`, base64), or neither for a user
    /// without a password; an existing user keeps its permissions.
    #[wasm_bindgen(js_name = putUser)]
    pub fn put_user(
        &mut self,
        name: &str,
        password: Option<String>,
        password_hash: Option<String>,
        tags: Vec<String>,
    ) -> Result<(), JsValue> {
        let password = match (password, password_hash) {
            (Some(p), _) => Password::Plain(p),
            (None, Some(h)) => Password::sha256_from_base64(&h).map_err(type_error)?,
            (None, None) => Password::None,
        };
        let b = self.server.broker_mut();
        let permissions = b
            .user(name)
            .map(|u| u.permissions.clone())
            .unwrap_or_default();
        b.put_user(User {
            name: name.to_owned(),
            password,
            tags,
            permissions,
        })
        .map_err(type_error)
    }

    /// Removes a user; returns whether it existed.
    #[wasm_bindgen(js_name = deleteUser)]
    pub fn delete_user(&mut self, name: &str) -> bool {
        self.server.broker_mut().delete_user(name)
    }

    /// Sets a user's configure, write and read expressions in a vhost.
    #[wasm_bindgen(js_name = setPermission)]
    pub fn set_permission(
        &mut self,
        user: &str,
        vhost: &str,
        configure: &str,
        write: &str,
        read: &str,
    ) -> Result<(), JsValue> {
        let p = Permission {
            vhost: vhost.to_owned(),
            configure: configure.to_owned(),
            write: write.to_owned(),
            read: read.to_owned(),
        };
        self.server
            .broker_mut()
            .set_permission(user, p)
            .map_err(type_error)
    }

    /// Removes a user's permissions in a vhost; returns whether it had any.
    #[wasm_bindgen(js_name = clearPermission)]
    pub fn clear_permission(&mut self, user: &str, vhost: &str) -> bool {
        self.server.broker_mut().clear_permission(user, vhost)
    }

    /// RabbitMQ's `rabbit_password_hashing_sha256` hash of `password` with
    /// a 4-byte `salt` the host draws at random.
    #[wasm_bindgen(js_name = hashPassword)]
    pub fn hash_password(password: &str, salt: &[u8]) -> Result<String, JsValue> {
        let salt: [u8; 4] = salt
            .try_into()
            .map_err(|_| type_error("the salt is 4 bytes".to_owned()))?;
        Ok(Password::sha256_base64(salt, password))
    }

    /// Adds a vhost (its standard exchanges with it); existing ones are kept.
    #[wasm_bindgen(js_name = addVhost)]
    pub fn add_vhost(&mut self, name: &str) -> Result<(), JsValue> {
        if name.is_empty() || name.len() > 255 {
            return Err(type_error("a vhost name is 1 to 255 bytes".to_owned()));
        }
        self.server.broker_mut().add_vhost(name);
        Ok(())
    }

    /// The vhosts, in the order they were added.
    #[wasm_bindgen(js_name = vhostNames)]
    pub fn vhost_names(&self) -> Vec<String> {
        self.server.broker().vhost_names()
    }

    /// Deletes a vhost and everything in it; its connections are closed
    /// with 320. False when there is no such vhost.
    #[wasm_bindgen(js_name = deleteVhost)]
    pub fn delete_vhost(&mut self, now: f64, name: &str) -> bool {
        let now = super::options::ms(now);
        let deleted = self.server.broker_mut().delete_vhost(now, name);
        self.server.tick(now);
        deleted
    }

    /// Sets one limit (`max-connections`, `max-queues`) of a vhost; `value`
    /// null or negative removes it. A `TypeError` names what is wrong.
    #[wasm_bindgen(js_name = setVhostLimit)]
    pub fn set_vhost_limit(
        &mut self,
        now: f64,
        vhost: &str,
        name: &str,
        value: Option<f64>,
    ) -> Result<(), JsValue> {
        let b = self.server.broker_mut();
        let Some(mut limits) = b.vhost_limits(vhost) else {
            return Err(type_error(format!("no vhost '{vhost}'")));
        };
        let value = match value {
            None => None,
            Some(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 => Some(v as i64),
            Some(v) => {
                let mut text = format!("{name}: ");
                write_f64_display(&mut text, v);
                text.push_str(" is not an integer");
                return Err(type_error(text));
            }
        };
        limits.set(name, value).map_err(type_error)?;
        b.set_vhost_limits(super::options::ms(now), vhost, limits);
        Ok(())
    }

    /// Every vhost with limits, as RabbitMQ's `GET /api/vhost-limits`, as
    /// plain data for `js/data.js`:
    /// `[{ vhost, value: { "max-connections": n, "max-queues": n } }]`.
    #[wasm_bindgen(js_name = vhostLimits)]
    pub fn vhost_limits(&self) -> Vec<u8> {
        let b = self.server.broker();
        let mut d = Data::default();
        d.array();
        for name in b.vhost_names() {
            let Some(l) = b.vhost_limits(&name).filter(|l| !l.is_empty()) else {
                continue;
            };
            d.object();
            d.key_str("vhost", &name);
            d.key("value");
            d.object();
            for (k, v) in [
                ("max-connections", l.max_connections),
                ("max-queues", l.max_queues),
            ] {
                if let Some(v) = v {
                    d.key_num(k, v.into());
                }
            }
            d.end();
            d.end();
        }
        d.end();
        d.0
    }
}
