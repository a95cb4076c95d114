//! The handshake (start, tune, open) and the other methods of channel 0.
//!
//! Reply codes and texts follow RabbitMQ's `rabbit_reader`: an out-of-order
//! method is 504 "unexpected method in connection state ...", negotiation
//! failures are 530 naming the limit, a refused login is 403.

use super::{Connection, Env, Phase};
use crate::amqp::codec::method::{
    ConnectionCloseOk, ConnectionOpen, ConnectionOpenOk, ConnectionStartOk, ConnectionTune,
    ConnectionTuneOk, ConnectionUpdateSecretOk, Method,
};
use crate::amqp::codec::{decode_field_table, Frame, FRAME_MIN_SIZE};
use crate::broker::{AmqpError, ConnectionInfo, FieldTable, FieldValue, ReplyCode, ShortStr};

/// RabbitMQ's lowest `channel_max` a client may choose.
const CHANNEL_MIN: u32 = 1;

impl Connection {
    pub(super) fn handshake_frame(&mut self, env: &mut Env<'_>, frame: Frame<'_>) {
        let method = match frame {
            Frame::Heartbeat { channel: 0 } => return,
            Frame::Method { channel: 0, method } => method,
            _ => {
                let e = AmqpError::new(
                    ReplyCode::UnexpectedFrame,
                    format_args!("unexpected frame in connection state {}", self.state_name()),
                );
                return self.fail_connection(env, e);
            }
        };
        match (self.phase, method) {
            (Phase::AwaitStartOk, Method::ConnectionStartOk(m)) => self.start_ok(env, m),
            (Phase::AwaitTuneOk, Method::ConnectionTuneOk(m)) => self.tune_ok(env, m),
            (Phase::AwaitOpen, Method::ConnectionOpen(m)) => self.open(env, m),
            (_, Method::ConnectionClose(_)) => self.close_requested(env),
            (_, m) => self.unexpected_on_channel_zero(env, &m),
        }
    }

    /// Methods on channel 0 once the connection is open.
    pub(super) fn connection_method(&mut self, env: &mut Env<'_>, method: Method) {
        match method {
            Method::ConnectionClose(_) => self.close_requested(env),
            // Credentials are checked at login only; the new secret is
            // accepted as RabbitMQ accepts one its backends approve.
            Method::ConnectionUpdateSecret(_) => {
                self.send_method(0, &ConnectionUpdateSecretOk {}.into());
            }
            m => self.unexpected_on_channel_zero(env, &m),
        }
    }

    /// The client's `connection.close`: close-ok, and the client closes the
    /// transport once it has it.
    fn close_requested(&mut self, env: &mut Env<'_>) {
        self.send_method(0, &ConnectionCloseOk {}.into());
        self.client_closes = true;
        self.finish(env);
    }

    fn unexpected_on_channel_zero(&mut self, env: &mut Env<'_>, m: &Method) {
        let e = AmqpError::new(
            ReplyCode::ChannelError,
            format_args!(
                "unexpected method {} in connection state {}",
                m.name(),
                self.state_name()
            ),
        );
        self.fail_connection(env, e.on(m.class_id(), m.method_id()));
    }

    /// The connection state as RabbitMQ names it in its errors.
    fn state_name(&self) -> &'static str {
        match self.phase {
            Phase::AwaitHeader | Phase::AwaitStartOk => "starting",
            Phase::AwaitTuneOk => "tuning",
            Phase::AwaitOpen => "opening",
            Phase::Open => "running",
            Phase::Closing | Phase::Closed => "closing",
        }
    }

    fn start_ok(&mut self, env: &mut Env<'_>, m: ConnectionStartOk) {
        let props = &m.client_properties;
        let caps = props.get("capabilities").and_then(FieldValue::as_table);
        let cap = |name: &str| {
            caps.and_then(|c| c.get(name))
                .and_then(FieldValue::as_bool)
                .unwrap_or(false)
        };
        self.client.consumer_cancel_notify = cap("consumer_cancel_notify");
        self.client.connection_blocked = cap("connection.blocked");
        self.client.authentication_failure_close = cap("authentication_failure_close");
        self.client.connection_name = props
            .get("connection_name")
            .and_then(FieldValue::as_str)
            .map(str::to_owned);

        let mechanism = m.mechanism.as_str();
        let cert_user = self.peer_auth.cert_user.clone();
        let credentials = match (mechanism, cert_user) {
            ("PLAIN", _) => parse_plain(&m.response).map(|(u, p)| (u, Some(p))),
            ("AMQPLAIN", _) => parse_amqplain(&m.response).map(|(u, p)| (u, Some(p))),
            // The certificate's CN, verified by the host, is the user.
            ("EXTERNAL", Some(user)) => Some((user.into_bytes(), None)),
            (other, _) => {
                let e = AmqpError::command_invalid(format_args!(
                    "unknown authentication mechanism '{other}'"
                ));
                return self.fail_connection(env, e.on(10, 11));
            }
        };
        let Some((user, password)) = credentials else {
            let e = AmqpError::new(
                ReplyCode::SyntaxError,
                format_args!("malformed {mechanism} login response"),
            );
            return self.fail_connection(env, e.on(10, 11));
        };
        let name = String::from_utf8_lossy(&user).into_owned();
        // RabbitMQ (3.10) tells the client only that the login was refused;
        // why goes to its log, here to the host's close report.
        let e = AmqpError::access_refused(format_args!(
            "Login was refused using authentication mechanism {mechanism}. \
             For details see the broker logfile."
        ));
        if env
            .broker
            .authenticate(&name, password.as_deref())
            .is_none()
        {
            let why = format!("{mechanism} login refused: user '{name}' - invalid credentials");
            return self.refuse_login(env, e, why);
        }
        let config = &self.settings.config;
        if !self.peer_auth.loopback && config.loopback_users.contains(&name) {
            // RabbitMQ's loopback_users: `guest` only from this machine.
            let why =
                format!("{mechanism} login refused: user '{name}' can only connect via localhost");
            return self.refuse_login(env, e, why);
        }
        self.client.user = ShortStr::truncated(&name);
        let config = &self.settings.config;
        let tune = ConnectionTune {
            channel_max: config.channel_max,
            frame_max: config.frame_max,
            heartbeat: config.heartbeat_secs,
        };
        self.send_method(0, &tune.into());
        self.phase = Phase::AwaitTuneOk;
    }

    /// 403 at login: a `connection.close` for clients that announced
    /// `authentication_failure_close`, the transport closed for others. The
    /// host's close report says `why`.
    fn refuse_login(&mut self, env: &mut Env<'_>, e: AmqpError, why: String) {
        let code = e.code.code();
        if self.client.authentication_failure_close {
            self.fail_connection(env, e.on(10, 11));
        } else {
            self.finish(env);
        }
        let report = super::CloseReport {
            channel: 0,
            code,
            text: format!("ACCESS_REFUSED - {why}"),
            class_id: 10,
            method_id: 11,
        };
        match self.closes.last_mut() {
            Some(last) if last.code == report.code => *last = report,
            _ => self.closes.push(report),
        }
    }

    fn tune_ok(&mut self, env: &mut Env<'_>, m: ConnectionTuneOk) {
        let config = &self.settings.config;
        let checked = negotiate("frame_max", FRAME_MIN_SIZE, config.frame_max, m.frame_max)
            .and_then(|()| {
                negotiate(
                    "channel_max",
                    CHANNEL_MIN,
                    u32::from(config.channel_max),
                    u32::from(m.channel_max),
                )
            });
        if let Err(e) = checked {
            return self.fail_connection(env, e);
        }
        self.frame_max = m.frame_max;
        self.channel_max = m.channel_max;
        // The client's value counts, as in RabbitMQ: it may turn heartbeats
        // off (0) or choose another interval.
        self.heartbeat_ms = u64::from(m.heartbeat) * 1000;
        self.last_send = self.now;
        self.phase = Phase::AwaitOpen;
    }

    fn open(&mut self, env: &mut Env<'_>, m: ConnectionOpen) {
        let vhost = m.virtual_host;
        if env.broker.vhost_id(&vhost).is_none() {
            let e = AmqpError::new(
                ReplyCode::NotAllowed,
                format_args!("vhost {vhost} not found"),
            );
            return self.fail_connection(env, e.on(10, 40));
        }
        let user = self.client.user.clone();
        let info = ConnectionInfo {
            vhost,
            user,
            consumer_cancel_notify: self.client.consumer_cancel_notify,
            connection_blocked: self.client.connection_blocked,
            name: self
                .client
                .connection_name
                .clone()
                .unwrap_or_else(|| self.peer.clone()),
        };
        match env.broker.connection_open(env.now, info) {
            Ok(id) => {
                self.id = Some(id);
                self.phase = Phase::Open;
                self.phase_deadline = None;
                // open-ok first: a `connection.blocked` the engine queued for
                // this connection only makes sense to an open connection.
                let ok = ConnectionOpenOk {
                    known_hosts: ShortStr::empty(),
                };
                self.send_method(0, &ok.into());
                self.route(env);
            }
            Err(e) => self.fail_connection(env, e.on(10, 40)),
        }
    }
}

/// RabbitMQ's rule for `tune-ok`: a client value (0 meaning "no limit") may
/// not be below the protocol minimum nor above the server's limit.
fn negotiate(field: &str, min: u32, server: u32, client: u32) -> Result<(), AmqpError> {
    let detail = if client == 0 { " (no limit)" } else { "" };
    let fail = |how: &str, bound: u32| {
        AmqpError::new(
            ReplyCode::NotAllowed,
            format_args!("negotiated {field} = {client}{detail} is {how} allowed value ({bound})"),
        )
        .on(10, 30)
    };
    if client != 0 && client < min {
        return Err(fail("lower than the minimum", min));
    }
    if server != 0 && (client == 0 || client > server) {
        return Err(fail("higher than the maximum", server));
    }
    Ok(())
}

/// SASL PLAIN: `[authzid] NUL user NUL password`.
fn parse_plain(response: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut parts = response.split(|&b| b == 0);
    let (_authzid, user, password) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || user.is_empty() {
        return None;
    }
    Some((user.to_vec(), password.to_vec()))
}

/// AMQPLAIN: the entries of a field table holding `LOGIN` and `PASSWORD`,
/// without the table's length prefix (as RabbitMQ and its clients send it).
fn parse_amqplain(response: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let len = u32::try_from(response.len()).ok()?;
    let mut table = Vec::with_capacity(response.len() + 4);
    table.extend_from_slice(&len.to_be_bytes());
    table.extend_from_slice(response);
    let table: FieldTable = decode_field_table(&table).ok()?;
    let text = |key: &str| match table.get(key)? {
        FieldValue::LongStr(b) | FieldValue::Bytes(b) => Some(b.clone()),
        _ => None,
    };
    Some((text("LOGIN")?, text("PASSWORD")?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn plain_with_and_without_authzid() {
        assert_eq!(
            parse_plain(b"\0guest\0pw"),
            Some((b"guest".to_vec(), b"pw".to_vec()))
        );
        assert_eq!(
            parse_plain(b"admin\0guest\0"),
            Some((b"guest".to_vec(), b"".to_vec()))
        );
        assert_eq!(parse_plain(b"guest"), None);
        assert_eq!(parse_plain(b"\0\0pw"), None);
        assert_eq!(parse_plain(b"\0a\0b\0c"), None);
    }

    #[test]
    fn amqplain_is_a_table_without_its_length() {
        let mut r = Vec::new();
        r.extend_from_slice(b"\x05LOGINS\x00\x00\x00\x05guest");
        r.extend_from_slice(b"\x08PASSWORDS\x00\x00\x00\x02pw");
        assert_eq!(
            parse_amqplain(&r),
            Some((b"guest".to_vec(), b"pw".to_vec()))
        );
        assert_eq!(parse_amqplain(b"\x05LOGINS\x00\x00\x00\x05guest"), None);
        assert_eq!(parse_amqplain(b"\xff"), None);
    }

    #[test]
    fn negotiation_follows_rabbitmq() {
        assert!(negotiate("frame_max", 4096, 131_072, 131_072).is_ok());
        assert!(negotiate("frame_max", 4096, 131_072, 4096).is_ok());
        let e = negotiate("frame_max", 4096, 131_072, 1000).unwrap_err();
        assert_eq!(e.code, ReplyCode::NotAllowed);
        assert_eq!(
            e.text,
            "NOT_ALLOWED - negotiated frame_max = 1000 is lower than the minimum allowed value (4096)"
        );
        let e = negotiate("channel_max", 1, 2047, 0).unwrap_err();
        assert_eq!(
            e.text,
            "NOT_ALLOWED - negotiated channel_max = 0 (no limit) is higher than the maximum allowed value (2047)"
        );
        assert!(negotiate("channel_max", 1, 0, 0).is_ok());
    }
}
