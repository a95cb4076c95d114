//! Random input never panics the server, and how bytes are split across
//! reads never changes what comes out.

mod protocol_support;

use proptest::prelude::*;
use protocol_support::*;
use warren::amqp::server::{ConnToken, Output, Server};

/// Everything a server sends to each connection, and the closes, in order.
fn run(chunks: &[Vec<u8>], second: &[u8]) -> Vec<(u64, Vec<u8>, bool)> {
    let mut server = Server::new(Default::default(), Default::default());
    let a = server.accept(0, "127.0.0.1:1");
    let b = server.accept(0, "127.0.0.1:2");
    let mut log: Vec<(u64, Vec<u8>, bool)> = Vec::new();
    let mut collect = |server: &mut Server| {
        while let Some(out) = server.poll_output() {
            match out {
                Output::Send { conn, bytes } => log.push((conn.0, bytes, false)),
                Output::Close { conn, .. } => log.push((conn.0, Vec::new(), true)),
                Output::Closed { .. } | Output::Flush { .. } => {}
                other => panic!("{other:?}"),
            }
        }
    };
    let mut now = 0;
    for chunk in chunks {
        now += 7;
        server.receive(now, a, chunk);
        collect(&mut server);
    }
    server.receive(now, b, second);
    server.tick(now + 120_000);
    collect(&mut server);
    server.transport_closed(now, a);
    server.transport_closed(now, b);
    collect(&mut server);
    assert_eq!(server.connection_count(), 0);
    // Merge consecutive sends so that only the byte stream counts.
    let mut merged: Vec<(u64, Vec<u8>, bool)> = Vec::new();
    for (conn, bytes, close) in log {
        match merged.iter_mut().rev().find(|(c, _, _)| *c == conn) {
            Some((_, prev, false)) if !close => prev.extend(bytes),
            _ => merged.push((conn, bytes, close)),
        }
    }
    merged.sort_by_key(|(c, _, _)| *c);
    merged
}

fn handshake() -> Vec<u8> {
    let mut v = HEADER.to_vec();
    v.extend(start_ok_plain("guest", "guest", true));
    v.extend(tune_ok(2047, 131_072, 0));
    v.extend(connection_open("/"));
    v
}

/// Well-formed pieces a client sends, to build random but plausible streams.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    let ch = 0u16..4;
    prop_oneof![
        ch.clone().prop_map(channel_open),
        ch.clone().prop_map(|c| queue_declare(c, "q", false, false)),
        ch.clone()
            .prop_map(|c| queue_declare(c, "missing", false, true)),
        ch.clone().prop_map(|c| publish(c, "", "q", true)),
        (ch.clone(), 0u64..20).prop_map(|(c, n)| header(c, n, &[])),
        (ch.clone(), prop::collection::vec(any::<u8>(), 0..12)).prop_map(|(c, b)| body(c, &b)),
        (ch.clone(), any::<bool>()).prop_map(|(c, noack)| consume(c, "q", "", noack)),
        (ch.clone(), 0u64..4, any::<bool>()).prop_map(|(c, t, m)| ack(c, t, m)),
        ch.clone().prop_map(confirm_select),
        ch.clone().prop_map(channel_close_ok),
        ch.clone()
            .prop_map(|c| method(c, 20, 40, Args::new().u16(200).short("").u16(0).u16(0))),
        ch.clone()
            .prop_map(|c| method(c, 20, 20, Args::new().bits(&[false]))),
        ch.clone()
            .prop_map(|c| method(c, 60, 70, Args::new().u16(0).short("q").bits(&[false]))),
        Just(heartbeat()),
        prop::collection::vec(any::<u8>(), 0..16),
    ]
}

fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut chunks = Vec::new();
    let mut start = 0;
    for p in points {
        chunks.push(bytes[start..p].to_vec());
        start = p;
    }
    chunks.push(bytes[start..].to_vec());
    chunks
}

/// 256 cases, or as many as `PROPTEST_CASES` asks for (proptest's own
/// variable, which a fixed count in the config would override).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_bytes_without_a_handshake(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        run(&[bytes], &[]);
    }

    #[test]
    fn random_bytes_after_a_handshake(tail in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut bytes = handshake();
        bytes.extend(tail);
        run(&[bytes], &[]);
    }

    #[test]
    fn plausible_streams_give_the_same_output_however_split(
        pieces in prop::collection::vec(piece(), 0..40),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        other in prop::collection::vec(piece(), 0..10),
    ) {
        let mut bytes = handshake();
        bytes.extend(pieces.concat());
        let mut second = handshake();
        second.extend(other.concat());
        let whole = run(std::slice::from_ref(&bytes), &second);
        let pieces = run(&split(&bytes, &cuts), &second);
        prop_assert_eq!(whole, pieces);
    }
}

#[test]
fn unknown_tokens_are_ignored() {
    let mut server = Server::new(Default::default(), Default::default());
    server.receive(0, ConnToken(99), b"AMQP");
    server.transport_closed(0, ConnToken(99));
    assert!(server.poll_output().is_none());
    assert!(!server.wants_read(ConnToken(99)));
}
