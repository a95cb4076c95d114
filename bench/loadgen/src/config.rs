//! Command-line options, parsed by hand to keep the build small.

use std::time::Duration;

use crate::bridge::{parse_ws_url, WsUrl};

/// What the publishers and consumers do per message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    AutoAck,
    ManualAck,
    ConfirmsAcks,
    PersistentConfirmsAcks,
}

impl Mode {
    pub const ALL: [Mode; 4] = [
        Mode::AutoAck,
        Mode::ManualAck,
        Mode::ConfirmsAcks,
        Mode::PersistentConfirmsAcks,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mode::AutoAck => "auto-ack",
            Mode::ManualAck => "manual-ack",
            Mode::ConfirmsAcks => "confirms-acks",
            Mode::PersistentConfirmsAcks => "persistent-confirms-acks",
        }
    }

    pub fn manual_ack(self) -> bool {
        self != Mode::AutoAck
    }

    pub fn confirms(self) -> bool {
        matches!(self, Mode::ConfirmsAcks | Mode::PersistentConfirmsAcks)
    }

    pub fn persistent(self) -> bool {
        self == Mode::PersistentConfirmsAcks
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub vhost: String,
    pub mode: Mode,
    pub size: usize,
    pub count: u64,
    pub publishers: usize,
    pub consumers: usize,
    pub queues: usize,
    pub prefetch: u16,
    pub window: usize,
    pub backlog: u64,
    pub timeout: Duration,
    pub threads: usize,
    pub json: bool,
    /// Reach the broker over WebSocket through an in-process relay.
    pub ws_url: Option<WsUrl>,
}

pub const USAGE: &str = "\
usage: warren-loadgen [options]
  --url amqp://user:pass@host:port[/vhost]  broker (default amqp://guest:guest@127.0.0.1:5672)
  --mode auto-ack|manual-ack|confirms-acks|persistent-confirms-acks  (default auto-ack)
  --size BYTES           message body size, at least 16 (default 16)
  --count N              messages in all, across publishers (default 200000)
  --publishers N         publishing connections (default 2)
  --consumers N          consuming connections (default 2)
  --queues N             queues, messages spread round robin (default: --consumers)
  --prefetch N           consumer prefetch with manual acks (default 256)
  --window N             publishes in flight per publisher: unconfirmed with confirms,
                         not yet written without (default 512)
  --backlog N            publishers wait while this many messages are published but
                         not yet consumed, so queues stay short (default 2000; 0: no limit)
  --timeout SECS         give up after this long (default 120)
  --threads N            runtime worker threads (default 2)
  --ws-url ws://host:port/path  reach the broker over WebSocket: the client connects to
                         an in-process relay, one WebSocket per connection (user,
                         password and vhost still come from --url)
  --json                 print one JSON object instead of text";

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: not a number: {value:?}"))
}

/// Splits `amqp://user:pass@host:port/vhost`; missing parts take the defaults.
fn apply_url(config: &mut Config, url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("amqp://")
        .ok_or_else(|| format!("--url: only amqp:// URLs are supported: {url:?}"))?;
    let (authority, vhost) = match rest.split_once('/') {
        Some((a, v)) => (a, Some(v)),
        None => (rest, None),
    };
    let host_port = match authority.rsplit_once('@') {
        Some((userinfo, hp)) => {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            config.user = user.to_string();
            config.password = password.to_string();
            hp
        }
        None => authority,
    };
    match host_port.rsplit_once(':') {
        Some((host, port)) => {
            config.host = host.to_string();
            config.port = number("--url port", port)?;
        }
        None => config.host = host_port.to_string(),
    }
    if let Some(v) = vhost.filter(|v| !v.is_empty()) {
        config.vhost = v.replace("%2F", "/").replace("%2f", "/");
    }
    Ok(())
}

pub fn parse(args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut config = Config {
        host: "127.0.0.1".into(),
        port: 5672,
        user: "guest".into(),
        password: "guest".into(),
        vhost: "/".into(),
        mode: Mode::AutoAck,
        size: 16,
        count: 200_000,
        publishers: 2,
        consumers: 2,
        queues: 0,
        prefetch: 256,
        window: 512,
        backlog: 2_000,
        timeout: Duration::from_secs(120),
        threads: 2,
        json: false,
        ws_url: None,
    };
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        if flag == "--json" {
            config.json = true;
            continue;
        }
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_string());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag}: needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--url" => apply_url(&mut config, &value)?,
            "--mode" => {
                config.mode = Mode::ALL
                    .into_iter()
                    .find(|m| m.name() == value)
                    .ok_or_else(|| format!("--mode: unknown mode {value:?}\n{USAGE}"))?;
            }
            "--size" => config.size = number(&flag, &value)?,
            "--count" => config.count = number(&flag, &value)?,
            "--publishers" => config.publishers = number(&flag, &value)?,
            "--consumers" => config.consumers = number(&flag, &value)?,
            "--queues" => config.queues = number(&flag, &value)?,
            "--prefetch" => config.prefetch = number(&flag, &value)?,
            "--window" => config.window = number(&flag, &value)?,
            "--backlog" => config.backlog = number(&flag, &value)?,
            "--timeout" => config.timeout = Duration::from_secs(number(&flag, &value)?),
            "--threads" => config.threads = number(&flag, &value)?,
            "--ws-url" => config.ws_url = Some(parse_ws_url(&value)?),
            _ => return Err(format!("unknown option {flag:?}\n{USAGE}")),
        }
    }
    if config.queues == 0 {
        config.queues = config.consumers;
    }
    // The body carries the publish time and a message id in its first 16 bytes.
    if config.size < 16 {
        return Err("--size: at least 16 bytes (the body carries a timestamp and an id)".into());
    }
    for (name, n) in [
        ("--publishers", config.publishers),
        ("--consumers", config.consumers),
        ("--queues", config.queues),
        ("--window", config.window),
        ("--threads", config.threads),
    ] {
        if n == 0 {
            return Err(format!("{name}: at least 1"));
        }
    }
    if config.count == 0 {
        return Err("--count: at least 1".into());
    }
    if config.consumers < config.queues {
        return Err("--queues: at most --consumers (every queue needs a consumer)".into());
    }
    Ok(config)
}
