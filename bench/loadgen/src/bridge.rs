//! TCP to WebSocket relay, so lapin (TCP only) can reach a broker that only
//! speaks AMQP over WebSocket (a Durable Object). It listens on a loopback
//! port; each connection accepted there opens a WebSocket of its own. Each
//! TCP read goes out as one binary message, each message's payload is written
//! to TCP: the relay adds no batching the client would not do over TCP.
//! RFC 6455 client side, by hand: no extensions (so no compression), masked
//! frames out, unmasked frames in.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// Data messages sent, over all connections: each is an event for a
/// WebSocket server such as a Durable Object, so the report shows them.
pub static MESSAGES_OUT: AtomicU64 = AtomicU64::new(0);

/// Where the WebSocket endpoint is: `ws://host:port/path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsUrl {
    pub host: String,
    pub port: u16,
    pub path: String,
}

pub fn parse_ws_url(url: &str) -> Result<WsUrl, String> {
    let rest = url
        .strip_prefix("ws://")
        .ok_or_else(|| format!("--ws-url: only ws:// URLs are supported: {url:?}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse().map_err(|_| format!("--ws-url: bad port {p:?}"))?,
        ),
        None => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("--ws-url: no host in {url:?}"));
    }
    Ok(WsUrl {
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

/// Starts the relay; returns the loopback port the client should connect to.
pub async fn start(target: WsUrl) -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bridge: bind: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("bridge: {e}"))?
        .port();
    let target = Arc::new(target);
    tokio::spawn(async move {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ u64::from(std::process::id());
        while let Ok((tcp, _)) = listener.accept().await {
            seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let target = target.clone();
            tokio::spawn(async move {
                if let Err(e) = relay(tcp, &target, seed).await {
                    eprintln!("bridge: {e}");
                }
            });
        }
    });
    Ok(port)
}

async fn relay(tcp: TcpStream, target: &WsUrl, seed: u64) -> Result<(), String> {
    let _ = tcp.set_nodelay(true);
    let ws = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| format!("connect to {}:{}: {e}", target.host, target.port))?;
    let _ = ws.set_nodelay(true);
    let (ws_read, mut ws_write) = ws.into_split();
    let mut ws_read = BufReader::with_capacity(64 * 1024, ws_read);
    handshake(&mut ws_read, &mut ws_write, target, seed).await?;
    let (tcp_read, mut tcp_write) = tcp.into_split();
    let ws_write = Arc::new(Mutex::new(ws_write));
    let mut mask = Mask(seed | 1);
    let upstream = tokio::spawn(tcp_to_ws(
        tcp_read,
        ws_write.clone(),
        Mask(seed.rotate_left(17) | 1),
    ));
    let result = ws_to_tcp(&mut ws_read, &mut tcp_write, &ws_write, &mut mask).await;
    let _ = tcp_write.shutdown().await;
    upstream.abort();
    result
}

/// Opening handshake; fails unless the server switches protocols.
async fn handshake(
    read: &mut BufReader<OwnedReadHalf>,
    write: &mut OwnedWriteHalf,
    target: &WsUrl,
    seed: u64,
) -> Result<(), String> {
    // The key only has to be 16 bytes, base64: its echo is not checked here.
    let key = base64_16(&[seed.to_le_bytes(), seed.rotate_left(32).to_le_bytes()].concat());
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        target.path, target.host, target.port
    );
    write
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let b = read
            .read_u8()
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        head.push(b);
        if head.len() > 16 * 1024 {
            return Err("handshake: response head too long".into());
        }
    }
    let head = String::from_utf8_lossy(&head);
    let status = head.lines().next().unwrap_or("");
    if status.split(' ').nth(1) != Some("101") {
        return Err(format!(
            "{}:{}{}: no WebSocket upgrade: {status}",
            target.host, target.port, target.path
        ));
    }
    Ok(())
}

fn base64_16(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Masking keys from xorshift: RFC 6455 asks for a fresh key per frame.
struct Mask(u64);

impl Mask {
    fn next(&mut self) -> [u8; 4] {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 as u32).to_le_bytes()
    }
}

/// One masked frame (FIN set) holding `payload`.
fn frame(opcode: u8, payload: &[u8], key: [u8; 4], out: &mut Vec<u8>) {
    out.clear();
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
}

async fn tcp_to_ws(
    mut tcp: OwnedReadHalf,
    ws: Arc<Mutex<OwnedWriteHalf>>,
    mut mask: Mask,
) -> Result<(), String> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(buf.len() + 14);
    loop {
        let n = tcp.read(&mut buf).await.map_err(|e| e.to_string())?;
        let opcode = if n == 0 { CLOSE } else { BINARY };
        // A close carries status 1000 (normal closure).
        let payload: &[u8] = if n == 0 { &[0x03, 0xe8] } else { &buf[..n] };
        frame(opcode, payload, mask.next(), &mut out);
        ws.lock()
            .await
            .write_all(&out)
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        MESSAGES_OUT.fetch_add(1, Ordering::Relaxed);
    }
}

/// Writes each data frame's payload to TCP until the server closes; answers pings.
async fn ws_to_tcp(
    ws: &mut BufReader<OwnedReadHalf>,
    tcp: &mut OwnedWriteHalf,
    ws_write: &Mutex<OwnedWriteHalf>,
    mask: &mut Mask,
) -> Result<(), String> {
    let mut payload = Vec::new();
    let mut out = Vec::new();
    loop {
        let Ok(b0) = ws.read_u8().await else {
            return Ok(()); // the server went away: end the TCP side too
        };
        let b1 = ws.read_u8().await.map_err(|e| e.to_string())?;
        let len = match b1 & 0x7f {
            126 => u64::from(ws.read_u16().await.map_err(|e| e.to_string())?),
            127 => ws.read_u64().await.map_err(|e| e.to_string())?,
            n => u64::from(n),
        };
        let key = if b1 & 0x80 != 0 {
            Some(
                ws.read_u32()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_be_bytes(),
            )
        } else {
            None
        };
        let len = usize::try_from(len).map_err(|_| "frame too long".to_string())?;
        payload.resize(len, 0);
        ws.read_exact(&mut payload)
            .await
            .map_err(|e| e.to_string())?;
        if let Some(key) = key {
            for (b, k) in payload.iter_mut().zip(key.iter().cycle()) {
                *b ^= k;
            }
        }
        match b0 & 0x0f {
            CLOSE => return Ok(()),
            PING => {
                frame(PONG, &payload, mask.next(), &mut out);
                ws_write
                    .lock()
                    .await
                    .write_all(&out)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            PONG => {}
            // Binary, text and continuation frames: the AMQP byte stream.
            _ => tcp.write_all(&payload).await.map_err(|e| e.to_string())?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_urls_split_into_host_port_and_path() {
        assert_eq!(
            parse_ws_url("ws://127.0.0.1:8787/ws/amqp").unwrap(),
            WsUrl {
                host: "127.0.0.1".into(),
                port: 8787,
                path: "/ws/amqp".into()
            }
        );
        assert_eq!(parse_ws_url("ws://h").unwrap().port, 80);
        assert_eq!(parse_ws_url("ws://h").unwrap().path, "/");
        assert!(parse_ws_url("wss://h/").is_err());
        assert!(parse_ws_url("ws://h:x/").is_err());
    }

    #[test]
    fn base64_of_sixteen_bytes_matches_the_rfc_example() {
        // RFC 6455 section 4.1's key is the base64 of "the sample nonce".
        assert_eq!(base64_16(b"the sample nonce"), "dGhlIHNhbXBsZSBub25jZQ==");
    }

    #[test]
    fn frames_are_masked_with_the_length_in_the_right_width() {
        let mut out = Vec::new();
        frame(BINARY, b"ab", [1, 2, 3, 4], &mut out);
        assert_eq!(out, [0x82, 0x82, 1, 2, 3, 4, b'a' ^ 1, b'b' ^ 2]);
        frame(BINARY, &[0; 300], [0; 4], &mut out);
        assert_eq!(&out[..4], &[0x82, 0x80 | 126, 1, 44]);
        assert_eq!(out.len(), 4 + 4 + 300);
    }
}
