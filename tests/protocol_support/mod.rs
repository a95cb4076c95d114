//! A hand-written AMQP client for the protocol scenario tests: frames are
//! built byte by byte from the 0-9-1 spec, never with the codec under test,
//! and the server's output is split into raw frames the same way.
#![allow(dead_code, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use warren::amqp::connection::{CloseReport, ServerConfig};
use warren::amqp::server::{ConnToken, Output, Server};
use warren::broker::Broker;

pub const HEADER: &[u8; 8] = b"AMQP\x00\x00\x09\x01";
pub const FRAME_END: u8 = 0xCE;

/// Method arguments, appended field by field in spec order.
#[derive(Default, Clone)]
pub struct Args(pub Vec<u8>);

impl Args {
    pub fn new() -> Args {
        Args(Vec::new())
    }
    pub fn u8(mut self, v: u8) -> Args {
        self.0.push(v);
        self
    }
    pub fn u16(mut self, v: u16) -> Args {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u32(mut self, v: u32) -> Args {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn u64(mut self, v: u64) -> Args {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn short(mut self, s: &str) -> Args {
        self.0.push(s.len() as u8);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    pub fn long(mut self, b: &[u8]) -> Args {
        self.0.extend_from_slice(&(b.len() as u32).to_be_bytes());
        self.0.extend_from_slice(b);
        self
    }
    /// Consecutive bit fields packed into one octet, first bit lowest.
    pub fn bits(mut self, bits: &[bool]) -> Args {
        let mut octet = 0u8;
        for (i, b) in bits.iter().enumerate() {
            if *b {
                octet |= 1 << i;
            }
        }
        self.0.push(octet);
        self
    }
    /// A field table from its already-encoded entries.
    pub fn table(self, entries: &[u8]) -> Args {
        self.long(entries)
    }
    pub fn empty_table(self) -> Args {
        self.u32(0)
    }
    pub fn bytes(mut self, b: &[u8]) -> Args {
        self.0.extend_from_slice(b);
        self
    }
}

/// One field-table entry: key, type letter, encoded value.
pub fn entry(key: &str, kind: u8, value: &[u8]) -> Vec<u8> {
    let mut e = vec![key.len() as u8];
    e.extend_from_slice(key.as_bytes());
    e.push(kind);
    e.extend_from_slice(value);
    e
}

pub fn frame(kind: u8, channel: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![kind];
    f.extend_from_slice(&channel.to_be_bytes());
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(payload);
    f.push(FRAME_END);
    f
}

pub fn method(channel: u16, class: u16, method: u16, args: Args) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&class.to_be_bytes());
    p.extend_from_slice(&method.to_be_bytes());
    p.extend_from_slice(&args.0);
    frame(1, channel, &p)
}

/// A `basic` content header; `props` is the property flags word and the
/// properties it announces.
pub fn header(channel: u16, body_size: u64, props: &[u8]) -> Vec<u8> {
    let mut p = vec![0, 60, 0, 0];
    p.extend_from_slice(&body_size.to_be_bytes());
    if props.is_empty() {
        p.extend_from_slice(&[0, 0]);
    } else {
        p.extend_from_slice(props);
    }
    frame(2, channel, &p)
}

pub fn body(channel: u16, bytes: &[u8]) -> Vec<u8> {
    frame(3, channel, bytes)
}

pub fn heartbeat() -> Vec<u8> {
    frame(8, 0, &[])
}

/// Client properties with the capabilities a modern client announces.
pub fn client_properties(auth_failure_close: bool) -> Vec<u8> {
    let mut caps = Vec::new();
    caps.extend(entry(
        "authentication_failure_close",
        b't',
        &[auth_failure_close as u8],
    ));
    caps.extend(entry("consumer_cancel_notify", b't', &[1]));
    caps.extend(entry("connection.blocked", b't', &[1]));
    caps.extend(entry("publisher_confirms", b't', &[1]));
    let mut props = Vec::new();
    props.extend(entry(
        "product",
        b'S',
        &long_str(b"hand-written test client"),
    ));
    props.extend(entry("capabilities", b'F', &long_str(&caps)));
    props
}

pub fn long_str(b: &[u8]) -> Vec<u8> {
    let mut v = (b.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

pub fn start_ok_plain(user: &str, password: &str, auth_failure_close: bool) -> Vec<u8> {
    let response = format!("\0{user}\0{password}");
    method(
        0,
        10,
        11,
        Args::new()
            .table(&client_properties(auth_failure_close))
            .short("PLAIN")
            .long(response.as_bytes())
            .short("en_US"),
    )
}

pub fn tune_ok(channel_max: u16, frame_max: u32, heartbeat: u16) -> Vec<u8> {
    method(
        0,
        10,
        31,
        Args::new().u16(channel_max).u32(frame_max).u16(heartbeat),
    )
}

pub fn connection_open(vhost: &str) -> Vec<u8> {
    method(0, 10, 40, Args::new().short(vhost).short("").bits(&[false]))
}

pub fn channel_open(channel: u16) -> Vec<u8> {
    method(channel, 20, 10, Args::new().short(""))
}

pub fn queue_declare(channel: u16, queue: &str, durable: bool, passive: bool) -> Vec<u8> {
    let bits = [passive, durable, false, false, false];
    method(
        channel,
        50,
        10,
        Args::new().u16(0).short(queue).bits(&bits).empty_table(),
    )
}

pub fn publish(channel: u16, exchange: &str, key: &str, mandatory: bool) -> Vec<u8> {
    let args = Args::new()
        .u16(0)
        .short(exchange)
        .short(key)
        .bits(&[mandatory, false]);
    method(channel, 60, 40, args)
}

/// `basic.publish`, header without properties, one body frame.
pub fn publish_message(channel: u16, exchange: &str, key: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = publish(channel, exchange, key, false);
    v.extend(header(channel, payload.len() as u64, &[]));
    if !payload.is_empty() {
        v.extend(body(channel, payload));
    }
    v
}

pub fn consume(channel: u16, queue: &str, tag: &str, no_ack: bool) -> Vec<u8> {
    let bits = [false, no_ack, false, false];
    method(
        channel,
        60,
        20,
        Args::new()
            .u16(0)
            .short(queue)
            .short(tag)
            .bits(&bits)
            .empty_table(),
    )
}

pub fn ack(channel: u16, tag: u64, multiple: bool) -> Vec<u8> {
    method(channel, 60, 80, Args::new().u64(tag).bits(&[multiple]))
}

pub fn confirm_select(channel: u16) -> Vec<u8> {
    method(channel, 85, 10, Args::new().bits(&[false]))
}

pub fn channel_close_ok(channel: u16) -> Vec<u8> {
    method(channel, 20, 41, Args::new())
}

pub fn connection_close_ok() -> Vec<u8> {
    method(0, 10, 51, Args::new())
}

/// A frame as the server sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFrame {
    pub kind: u8,
    pub channel: u16,
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// (class, method) of a method frame.
    pub fn ids(&self) -> (u16, u16) {
        assert_eq!(self.kind, 1, "not a method frame: {self:?}");
        (
            u16::from_be_bytes([self.payload[0], self.payload[1]]),
            u16::from_be_bytes([self.payload[2], self.payload[3]]),
        )
    }
    pub fn args(&self) -> &[u8] {
        &self.payload[4..]
    }
    /// The whole frame's bytes again.
    pub fn bytes(&self) -> Vec<u8> {
        frame(self.kind, self.channel, &self.payload)
    }
}

/// Splits the server's output into frames; panics on anything malformed.
pub fn split_frames(mut bytes: &[u8]) -> Vec<RawFrame> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        assert!(bytes.len() >= 8, "truncated frame: {bytes:?}");
        let size = u32::from_be_bytes(bytes[3..7].try_into().unwrap()) as usize;
        assert_eq!(bytes[7 + size], FRAME_END, "bad frame end");
        frames.push(RawFrame {
            kind: bytes[0],
            channel: u16::from_be_bytes([bytes[1], bytes[2]]),
            payload: bytes[7..7 + size].to_vec(),
        });
        bytes = &bytes[8 + size..];
    }
    frames
}

/// Reads a close method's (reply code, reply text, class, method).
pub fn close_args(f: &RawFrame) -> (u16, String, u16, u16) {
    let a = f.args();
    let code = u16::from_be_bytes([a[0], a[1]]);
    let len = a[2] as usize;
    let text = String::from_utf8(a[3..3 + len].to_vec()).unwrap();
    let rest = &a[3 + len..];
    (
        code,
        text,
        u16::from_be_bytes([rest[0], rest[1]]),
        u16::from_be_bytes([rest[2], rest[3]]),
    )
}

/// What one connection received, and whether its transport was closed.
#[derive(Default, Debug)]
pub struct Received {
    pub bytes: Vec<u8>,
    pub closed: bool,
    /// The close said the client closes its end (`Output::Close`).
    pub client_closes: bool,
    /// The closes the server reported (`Output::Closed`).
    pub closes: Vec<CloseReport>,
    /// Offsets in `bytes` where the server asked for the write to end.
    pub flushed_at: Vec<usize>,
}

/// A server with a manual clock.
pub struct Harness {
    pub server: Server,
    pub now: u64,
    pub inbox: HashMap<ConnToken, Received>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with_config(ServerConfig::default())
    }

    pub fn with_config(config: ServerConfig) -> Harness {
        Harness {
            server: Server::new(config, Broker::default()),
            now: 1_000,
            inbox: HashMap::new(),
        }
    }

    pub fn accept(&mut self) -> ConnToken {
        // A loopback peer: `guest` may log in.
        self.server.accept(self.now, "127.0.0.1:40000")
    }

    pub fn send(&mut self, conn: ConnToken, bytes: &[u8]) {
        self.server.receive(self.now, conn, bytes);
        self.drain();
    }

    pub fn tick(&mut self, now: u64) {
        self.now = now;
        self.server.tick(now);
        self.drain();
    }

    /// Moves every output into the per-connection inboxes.
    pub fn drain(&mut self) {
        while let Some(out) = self.server.poll_output() {
            match out {
                Output::Send { conn, bytes } => {
                    self.inbox
                        .entry(conn)
                        .or_default()
                        .bytes
                        .extend_from_slice(&bytes);
                    self.server.recycle(bytes);
                }
                Output::Close {
                    conn,
                    client_closes,
                } => {
                    let r = self.inbox.entry(conn).or_default();
                    r.closed = true;
                    r.client_closes = client_closes;
                }
                Output::Closed { conn, report } => {
                    self.inbox.entry(conn).or_default().closes.push(report)
                }
                Output::Flush { conn } => {
                    let r = self.inbox.entry(conn).or_default();
                    r.flushed_at.push(r.bytes.len());
                }
                other => panic!("unexpected output {other:?}"),
            }
        }
    }

    /// The bytes received since the last call.
    pub fn take_bytes(&mut self, conn: ConnToken) -> Vec<u8> {
        std::mem::take(&mut self.inbox.entry(conn).or_default().bytes)
    }

    /// The bytes received since the last call, cut where the server asked
    /// the host to end a write.
    pub fn take_writes(&mut self, conn: ConnToken) -> Vec<Vec<u8>> {
        let r = self.inbox.entry(conn).or_default();
        let bytes = std::mem::take(&mut r.bytes);
        let mut writes = Vec::new();
        let mut from = 0;
        for at in std::mem::take(&mut r.flushed_at) {
            writes.push(bytes[from..at].to_vec());
            from = at;
        }
        writes.push(bytes[from..].to_vec());
        writes.retain(|w| !w.is_empty());
        writes
    }

    pub fn take_frames(&mut self, conn: ConnToken) -> Vec<RawFrame> {
        split_frames(&self.take_bytes(conn))
    }

    pub fn closed(&self, conn: ConnToken) -> bool {
        self.inbox.get(&conn).is_some_and(|r| r.closed)
    }

    /// Closed, and the client is to close its end (it was sent close-ok).
    pub fn client_closes(&self, conn: ConnToken) -> bool {
        self.inbox
            .get(&conn)
            .is_some_and(|r| r.closed && r.client_closes)
    }

    /// A client through header, start-ok, tune-ok (default limits, no
    /// heartbeat) and open on `/`, with channel 1 open.
    pub fn connect(&mut self) -> ConnToken {
        let c = self.connect_with(131_072, 0);
        self.send(c, &channel_open(1));
        let f = self.take_frames(c);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].ids(), (20, 11));
        c
    }

    pub fn connect_with(&mut self, frame_max: u32, heartbeat: u16) -> ConnToken {
        let c = self.accept();
        self.send(c, HEADER);
        let start = self.take_frames(c);
        assert_eq!(start[0].ids(), (10, 10));
        self.send(c, &start_ok_plain("guest", "guest", true));
        let tune = self.take_frames(c);
        assert_eq!(tune[0].ids(), (10, 30));
        let mut bytes = tune_ok(2047, frame_max, heartbeat);
        bytes.extend(connection_open("/"));
        self.send(c, &bytes);
        let open_ok = self.take_frames(c);
        assert_eq!(open_ok.len(), 1);
        assert_eq!(open_ok[0].ids(), (10, 41));
        c
    }
}
