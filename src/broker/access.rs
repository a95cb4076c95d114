//! Users, passwords, tags and permissions, as RabbitMQ's internal
//! authentication backend has them.
//!
//! - A user has a password (plain, or RabbitMQ's
//!   `rabbit_password_hashing_sha256` hash: base64 of a 4-byte salt followed
//!   by SHA-256 of salt ++ password), tags (`administrator`, `management`,
//!   `monitoring`, `policymaker`, `impersonator`, or any other word), and per
//!   vhost three regular expressions: configure, write and read.
//! - A connection may open a vhost only if its user has permissions there.
//! - Each command needs one permission on each resource it names; a name is
//!   allowed when the expression matches anywhere in it (RabbitMQ runs
//!   `re:run` unanchored), an empty expression allows nothing, and the
//!   default exchange is checked under the name `amq.default`.
//! - A refusal is 403 ACCESS_REFUSED, a channel error, with RabbitMQ 3.10's
//!   text "access to `<kind>` '`<name>`' in vhost '`<vhost>`' refused for
//!   user '`<user>`'" (it does not name the permission).
//!
//! Which operation needs which (RabbitMQ's `rabbit_channel`):
//! exchange.declare / queue.declare (not passive) and the deletes:
//! configure on the resource; a new exchange with `alternate-exchange` also
//! read on it and write on the alternate; a new queue with
//! `x-dead-letter-exchange` also read on it and write on the dead-letter
//! exchange; queue.bind / exchange.bind and their unbinds: write on the
//! destination, read on the source exchange; basic.publish: write on the
//! exchange; basic.get, basic.consume, queue.purge: read on the queue.

use super::engine::Broker;
use super::error::{AmqpError, ReplyCode, Result};
use super::ids::ChannelRef;
use super::regex::Regex;
use sha2::{Digest, Sha256};

/// A user's password as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Password {
    /// No password: the user can only log in with `EXTERNAL` (a client
    /// certificate), as RabbitMQ's users without a password.
    None,
    Plain(String),
    /// `rabbit_password_hashing_sha256`: the salt and SHA-256(salt ++ password).
    Sha256 {
        salt: [u8; 4],
        hash: [u8; 32],
    },
}

impl Password {
    /// Parses RabbitMQ's `password_hash` (base64 of salt ++ digest).
    pub fn sha256_from_base64(text: &str) -> std::result::Result<Password, String> {
        let bytes = base64_decode(text.trim())
            .ok_or_else(|| "password_hash is not valid base64".to_owned())?;
        if bytes.len() != 36 {
            return Err(format!(
                "password_hash decodes to {} bytes; rabbit_password_hashing_sha256 has 36 (4 of salt, 32 of SHA-256)",
                bytes.len()
            ));
        }
        let (salt, hash) = bytes.split_at(4);
        match (<[u8; 4]>::try_from(salt), <[u8; 32]>::try_from(hash)) {
            (Ok(salt), Ok(hash)) => Ok(Password::Sha256 { salt, hash }),
            _ => Err("password_hash has the wrong length".to_owned()),
        }
    }

    /// The hash of `password` with `salt`, in RabbitMQ's base64 form.
    pub fn sha256_base64(salt: [u8; 4], password: &str) -> String {
        let mut h = Sha256::new();
        h.update(salt);
        h.update(password.as_bytes());
        let mut all = salt.to_vec();
        all.extend_from_slice(&h.finalize());
        base64_encode(&all)
    }

    pub fn verify(&self, given: &[u8]) -> bool {
        match self {
            Password::None => false,
            Password::Plain(p) => same_bytes(p.as_bytes(), given),
            Password::Sha256 { salt, hash } => {
                let mut h = Sha256::new();
                h.update(salt);
                h.update(given);
                same_bytes(&h.finalize(), hash)
            }
        }
    }
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell how much of a password was right.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// One user's three expressions in one vhost, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    pub vhost: String,
    pub configure: String,
    pub write: String,
    pub read: String,
}

impl Permission {
    /// `.*` for all three: everything in the vhost.
    pub fn full(vhost: &str) -> Permission {
        Permission {
            vhost: vhost.to_owned(),
            configure: ".*".to_owned(),
            write: ".*".to_owned(),
            read: ".*".to_owned(),
        }
    }
}

/// A login the broker accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub password: Password,
    pub tags: Vec<String>,
    pub permissions: Vec<Permission>,
}

impl User {
    /// A user with a plain password, full permissions on `vhosts` and the
    /// `administrator` tag.
    pub fn new(name: &str, password: &str, vhosts: &[&str]) -> User {
        User {
            name: name.to_owned(),
            password: Password::Plain(password.to_owned()),
            tags: vec!["administrator".to_owned()],
            permissions: vhosts.iter().map(|v| Permission::full(v)).collect(),
        }
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    pub fn permission(&self, vhost: &str) -> Option<&Permission> {
        self.permissions.iter().find(|p| p.vhost == vhost)
    }
}

/// The three kinds of access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Perm {
    Configure,
    Write,
    Read,
}

/// What a resource is, as RabbitMQ names it in refusals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Exchange,
    Queue,
}

/// One compiled expression: `.*` (the usual case) matches without running
/// a regex; the empty expression matches nothing (RabbitMQ treats it as `^$`,
/// and names are never checked empty: the default exchange is `amq.default`).
#[derive(Clone, Debug)]
pub struct Pattern {
    /// None: matches every name.
    re: Option<Regex>,
    nothing: bool,
}

impl Pattern {
    pub fn compile(source: &str) -> std::result::Result<Pattern, String> {
        if source == ".*" || source == "^.*$" || source == "^.*" {
            return Ok(Pattern {
                re: None,
                nothing: false,
            });
        }
        if source.is_empty() {
            return Ok(Pattern {
                re: None,
                nothing: true,
            });
        }
        let re =
            Regex::new(source).map_err(|e| format!("bad regular expression '{source}': {e}"))?;
        Ok(Pattern {
            re: Some(re),
            nothing: false,
        })
    }

    fn allows(&self, name: &str) -> bool {
        if self.nothing {
            return name.is_empty();
        }
        self.re.as_ref().map_or(true, |re| re.is_match(name))
    }
}

/// A connection's permissions in its vhost, compiled at `connection.open`
/// (RabbitMQ also checks against what held when the connection opened or
/// the result cached since).
#[derive(Clone, Debug)]
pub struct Compiled {
    pub configure: Pattern,
    pub write: Pattern,
    pub read: Pattern,
}

impl Compiled {
    pub fn new(p: &Permission) -> std::result::Result<Compiled, String> {
        Ok(Compiled {
            configure: Pattern::compile(&p.configure)?,
            write: Pattern::compile(&p.write)?,
            read: Pattern::compile(&p.read)?,
        })
    }
}

/// Checks that every expression of every user compiles.
pub fn validate(users: &[User]) -> std::result::Result<(), String> {
    for u in users {
        if u.name.is_empty() || u.name.len() > 255 {
            return Err(format!(
                "user name '{}' must be 1 to 255 bytes long",
                u.name
            ));
        }
        for p in &u.permissions {
            Compiled::new(p).map_err(|e| format!("user '{}', vhost '{}': {e}", u.name, p.vhost))?;
        }
    }
    Ok(())
}

impl Broker {
    /// Turns access control on with these users (replacing any before).
    /// Without a call, every connection may do anything (the engine alone,
    /// as in tests). Connections already open keep what they had.
    /// An expression that does not compile is reported and allows nothing.
    pub fn set_users(&mut self, users: Vec<User>) -> std::result::Result<(), String> {
        let checked = validate(&users);
        self.users = users;
        self.access_control = true;
        self.refresh_permissions();
        checked
    }

    /// The users, if access control is on.
    pub fn users(&self) -> Option<&[User]> {
        self.access_control.then_some(&self.users[..])
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    /// Adds or replaces one user (management API). Connections of the user
    /// that are open get the new permissions for their vhost.
    pub fn put_user(&mut self, user: User) -> std::result::Result<(), String> {
        validate(std::slice::from_ref(&user))?;
        self.access_control = true;
        match self.users.iter_mut().find(|u| u.name == user.name) {
            Some(u) => *u = user,
            None => self.users.push(user),
        }
        self.refresh_permissions();
        Ok(())
    }

    /// Removes a user; returns whether it existed. Its open connections lose
    /// every permission (RabbitMQ closes them; the host may, too).
    pub fn delete_user(&mut self, name: &str) -> bool {
        let before = self.users.len();
        self.users.retain(|u| u.name != name);
        self.refresh_permissions();
        self.users.len() != before
    }

    /// Sets a user's permissions in one vhost (replacing what it had there).
    pub fn set_permission(&mut self, user: &str, p: Permission) -> std::result::Result<(), String> {
        Compiled::new(&p)?;
        let u = self
            .users
            .iter_mut()
            .find(|u| u.name == user)
            .ok_or_else(|| format!("no user '{user}'"))?;
        match u.permissions.iter_mut().find(|q| q.vhost == p.vhost) {
            Some(q) => *q = p,
            None => u.permissions.push(p),
        }
        self.refresh_permissions();
        Ok(())
    }

    /// Removes a user's permissions in a vhost; returns whether it had any.
    pub fn clear_permission(&mut self, user: &str, vhost: &str) -> bool {
        let Some(u) = self.users.iter_mut().find(|u| u.name == user) else {
            return false;
        };
        let before = u.permissions.len();
        u.permissions.retain(|p| p.vhost != vhost);
        let removed = u.permissions.len() != before;
        self.refresh_permissions();
        removed
    }

    /// Recompiles the permissions of open connections after a change (or
    /// after the broker is rebuilt from an image: `Conn::perms` is derived
    /// from `users`, the connection's user and its vhost).
    pub fn refresh_permissions(&mut self) {
        if !self.access_control {
            return;
        }
        let vhosts: Vec<String> = self.vhosts.iter().map(|v| v.name.to_string()).collect();
        for conn in self.conns.values_mut() {
            let vhost = vhosts.get(conn.vhost.0 as usize).map_or("", String::as_str);
            let user = self
                .users
                .iter()
                .find(|u| u.name == conn.info.user.as_str());
            let compiled = user
                .and_then(|u| u.permission(vhost))
                .and_then(|p| Compiled::new(p).ok());
            conn.perms = Some(compiled.unwrap_or_else(nothing));
        }
    }

    /// Checks a login: the user, if the password is right. `None` as the
    /// password: the peer was authenticated otherwise (`EXTERNAL`).
    pub fn authenticate(&self, name: &str, password: Option<&[u8]>) -> Option<&User> {
        let user = self.user(name)?;
        match password {
            Some(p) => user.password.verify(p).then_some(user),
            None => Some(user),
        }
    }

    /// The permissions a connection of `user` gets in `vhost`, or the 530
    /// refusal of `connection.open`. `None` when access control is off.
    pub(crate) fn vhost_access(&self, user: &str, vhost: &str) -> Result<Option<Compiled>> {
        if !self.access_control {
            return Ok(None);
        }
        let refused = || {
            AmqpError::new(
                ReplyCode::NotAllowed,
                format_args!("access to vhost '{vhost}' refused for user '{user}'"),
            )
        };
        let p = self
            .user(user)
            .and_then(|u| u.permission(vhost))
            .ok_or_else(refused)?;
        Compiled::new(p).map(Some).map_err(|_| refused())
    }

    /// 403 unless the channel's user has `perm` on the resource.
    pub(crate) fn check_access(
        &self,
        ch: ChannelRef,
        kind: Resource,
        name: &str,
        perm: Perm,
    ) -> Result<()> {
        let Some(conn) = self.conns.get(&ch.conn) else {
            return Ok(());
        };
        let Some(perms) = &conn.perms else {
            return Ok(());
        };
        let name = if kind == Resource::Exchange && name.is_empty() {
            "amq.default"
        } else {
            name
        };
        let pattern = match perm {
            Perm::Configure => &perms.configure,
            Perm::Write => &perms.write,
            Perm::Read => &perms.read,
        };
        if pattern.allows(name) {
            return Ok(());
        }
        let kind = match kind {
            Resource::Exchange => "exchange",
            Resource::Queue => "queue",
        };
        // RabbitMQ 3.10's text does not say which permission was missing.
        Err(AmqpError::access_refused(format_args!(
            "access to {kind} '{name}' in vhost '{}' refused for user '{}'",
            self.vhost_name(conn.vhost),
            conn.info.user
        )))
    }

    /// RabbitMQ's `user_id` rule: a published `user-id` property must name
    /// the connection's user, unless the user has the `impersonator` tag.
    pub(crate) fn check_user_id(&self, ch: ChannelRef, user_id: Option<&str>) -> Result<()> {
        let Some(claimed) = user_id else {
            return Ok(());
        };
        let Some(conn) = self.conns.get(&ch.conn) else {
            return Ok(());
        };
        if conn.perms.is_none() || claimed == conn.info.user.as_str() {
            return Ok(());
        }
        if self
            .user(conn.info.user.as_str())
            .is_some_and(|u| u.has_tag("impersonator"))
        {
            return Ok(());
        }
        Err(AmqpError::precondition(format_args!(
            "user_id property set to '{claimed}' but authenticated user was '{}'",
            conn.info.user
        )))
    }
}

/// Permissions that allow nothing (a user deleted while connected).
fn nothing() -> Compiled {
    let none = Pattern {
        re: None,
        nothing: true,
    };
    Compiled {
        configure: none.clone(),
        write: none.clone(),
        read: none,
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
#[cfg(target_family = "wasm")]
pub fn base64(bytes: &[u8]) -> String {
    base64_encode(bytes)
}

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            match B64.get(((n >> (18 - 6 * i)) & 63) as usize) {
                Some(&c) if i <= chunk.len() => out.push(c as char),
                _ => out.push('='),
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn base64_round_trip() {
        for n in 0..40 {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base64_decode(&base64_encode(&bytes)).unwrap(), bytes);
        }
        assert_eq!(base64_encode(b"Man"), "TWFu");
        assert_eq!(base64_encode(b"Ma"), "TWE=");
        assert_eq!(base64_decode("TWE="), Some(b"Ma".to_vec()));
        assert_eq!(base64_decode("T!E="), None);
    }

    #[test]
    fn sha256_hash_is_rabbitmqs() {
        // `rabbitmqctl hash_password` style: salt 908D C60A, password "test12".
        let text = Password::sha256_base64([0x90, 0x8d, 0xc6, 0x0a], "test12");
        let p = Password::sha256_from_base64(&text).unwrap();
        assert!(p.verify(b"test12"));
        assert!(!p.verify(b"test13"));
        assert!(Password::sha256_from_base64("abc").is_err());
    }

    #[test]
    fn patterns_match_unanchored_and_empty_matches_nothing() {
        let p = Pattern::compile("^app\\.").unwrap();
        assert!(p.allows("app.orders"));
        assert!(!p.allows("other.app.x"));
        let p = Pattern::compile("orders").unwrap();
        assert!(p.allows("my-orders-queue"));
        let p = Pattern::compile("").unwrap();
        assert!(!p.allows("x"));
        assert!(Pattern::compile("(").is_err());
    }
}
