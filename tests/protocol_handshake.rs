//! The connection handshake played byte by byte as a client sends it:
//! header, start/start-ok, tune/tune-ok, open/open-ok; refused headers,
//! logins and vhosts; heartbeats and timeouts.

mod protocol_support;

use protocol_support::*;
use warren::amqp::connection::{ServerConfig, User};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn handshake_with_plain() {
    let mut h = Harness::new();
    let c = h.accept();
    h.send(c, HEADER);
    let start = h.take_frames(c);
    assert_eq!(start.len(), 1);
    let s = &start[0];
    assert_eq!((s.kind, s.channel, s.ids()), (1, 0, (10, 10)));
    let args = s.args();
    assert_eq!(&args[..2], &[0, 9], "version 0-9");
    let table_len = u32::from_be_bytes(args[2..6].try_into().unwrap()) as usize;
    let table = &args[6..6 + table_len];
    assert!(contains(table, b"\x07productS\x00\x00\x00\x06Warren"));
    for cap in [
        "publisher_confirms",
        "exchange_exchange_bindings",
        "basic.nack",
        "consumer_cancel_notify",
        "connection.blocked",
        "consumer_priorities",
        "authentication_failure_close",
        "per_consumer_qos",
        "direct_reply_to",
    ] {
        let mut e = vec![cap.len() as u8];
        e.extend_from_slice(cap.as_bytes());
        e.extend_from_slice(b"t\x01");
        assert!(contains(table, &e), "capability {cap}");
    }
    let rest = &args[6 + table_len..];
    assert_eq!(rest, b"\x00\x00\x00\x0ePLAIN AMQPLAIN\x00\x00\x00\x05en_US");

    h.send(c, &start_ok_plain("guest", "guest", true));
    // connection.tune: channel_max 2047, frame_max 131072, heartbeat 60
    assert_eq!(
        h.take_bytes(c),
        [1, 0, 0, 0, 0, 0, 12, 0, 10, 0, 30, 0x07, 0xff, 0, 2, 0, 0, 0, 60, 0xce]
    );
    h.send(c, &tune_ok(2047, 131_072, 60));
    assert!(h.take_bytes(c).is_empty());
    h.send(c, &connection_open("/"));
    // connection.open-ok with an empty known-hosts
    assert_eq!(
        h.take_bytes(c),
        [1, 0, 0, 0, 0, 0, 5, 0, 10, 0, 41, 0, 0xce]
    );
    h.send(c, &channel_open(1));
    assert_eq!(
        h.take_bytes(c),
        [1, 0, 1, 0, 0, 0, 8, 0, 20, 0, 11, 0, 0, 0, 0, 0xce]
    );
    assert!(h.server.conn_id(c).is_some());
}

#[test]
fn handshake_one_byte_at_a_time() {
    let mut h = Harness::new();
    let c = h.accept();
    let mut all = HEADER.to_vec();
    all.extend(start_ok_plain("guest", "guest", true));
    all.extend(tune_ok(2047, 131_072, 0));
    all.extend(connection_open("/"));
    all.extend(channel_open(7));
    for b in &all {
        h.send(c, &[*b]);
    }
    let frames = h.take_frames(c);
    let ids: Vec<_> = frames.iter().map(|f| f.ids()).collect();
    assert_eq!(ids, [(10, 10), (10, 30), (10, 41), (20, 11)]);
    assert_eq!(frames[3].channel, 7);
}

#[test]
fn amqplain_login() {
    let mut h = Harness::new();
    let c = h.accept();
    h.send(c, HEADER);
    h.take_bytes(c);
    let mut response = entry("LOGIN", b'S', &long_str(b"guest"));
    response.extend(entry("PASSWORD", b'S', &long_str(b"guest")));
    let start_ok = method(
        0,
        10,
        11,
        Args::new()
            .table(&client_properties(true))
            .short("AMQPLAIN")
            .long(&response)
            .short("en_US"),
    );
    h.send(c, &start_ok);
    assert_eq!(h.take_frames(c)[0].ids(), (10, 30));
}

#[test]
fn foreign_protocol_headers_get_ours_back_and_a_close() {
    for foreign in [
        &b"AMQP\x00\x01\x00\x00"[..],
        b"AMQP\x03\x01\x00\x00",
        b"GET / HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00",
    ] {
        let mut h = Harness::new();
        let c = h.accept();
        h.send(c, foreign);
        assert_eq!(h.take_bytes(c), b"AMQP\x00\x00\x09\x01", "{foreign:?}");
        assert!(h.closed(c));
        assert_eq!(h.server.connection_count(), 0);
    }
}

#[test]
fn bad_password_is_403_access_refused() {
    let mut h = Harness::new();
    let c = h.accept();
    h.send(c, HEADER);
    h.take_bytes(c);
    h.send(c, &start_ok_plain("guest", "wrong", true));
    let f = h.take_frames(c);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].ids(), (10, 50));
    assert_eq!(
        close_args(&f[0]),
        (
            403,
            "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. \
             For details see the broker logfile."
                .to_owned(),
            10,
            11
        )
    );
    assert!(!h.closed(c));
    h.send(c, &connection_close_ok());
    assert!(h.closed(c));
}

#[test]
fn bad_password_without_the_capability_just_closes() {
    let mut h = Harness::new();
    let c = h.accept();
    h.send(c, HEADER);
    h.take_bytes(c);
    h.send(c, &start_ok_plain("nobody", "guest", false));
    assert!(h.take_bytes(c).is_empty());
    assert!(h.closed(c));
}

#[test]
fn unknown_vhost_is_530() {
    let mut h = Harness::new();
    let c = h.accept();
    let mut bytes = HEADER.to_vec();
    bytes.extend(start_ok_plain("guest", "guest", true));
    bytes.extend(tune_ok(2047, 131_072, 0));
    bytes.extend(connection_open("nope"));
    h.send(c, &bytes);
    let f = h.take_frames(c);
    let close = f.last().unwrap();
    assert_eq!(close.ids(), (10, 50));
    assert_eq!(
        close_args(close),
        (530, "NOT_ALLOWED - vhost nope not found".to_owned(), 10, 40)
    );
}

#[test]
fn user_without_access_to_a_vhost_is_530() {
    let mut config = ServerConfig {
        vhosts: vec!["/".into(), "other".into()],
        ..Default::default()
    };
    config.users.push(User::new("app", "secret", &["other"]));
    let mut h = Harness::with_config(config);
    let c = h.accept();
    let mut bytes = HEADER.to_vec();
    bytes.extend(start_ok_plain("guest", "guest", true));
    bytes.extend(tune_ok(2047, 131_072, 0));
    bytes.extend(connection_open("other"));
    h.send(c, &bytes);
    let f = h.take_frames(c);
    assert_eq!(
        close_args(f.last().unwrap()),
        (
            530,
            "NOT_ALLOWED - access to vhost 'other' refused for user 'guest'".to_owned(),
            10,
            40
        )
    );
    // ... while the user it was made for gets in.
    let c = h.accept();
    let mut bytes = HEADER.to_vec();
    bytes.extend(start_ok_plain("app", "secret", true));
    bytes.extend(tune_ok(2047, 131_072, 0));
    bytes.extend(connection_open("other"));
    h.send(c, &bytes);
    assert_eq!(h.take_frames(c).last().unwrap().ids(), (10, 41));
}

#[test]
fn frame_max_below_4096_is_refused() {
    let mut h = Harness::new();
    let c = h.accept();
    let mut bytes = HEADER.to_vec();
    bytes.extend(start_ok_plain("guest", "guest", true));
    bytes.extend(tune_ok(2047, 1024, 0));
    h.send(c, &bytes);
    let f = h.take_frames(c);
    assert_eq!(
        close_args(f.last().unwrap()),
        (
            530,
            "NOT_ALLOWED - negotiated frame_max = 1024 is lower than the minimum allowed value (4096)"
                .to_owned(),
            10,
            30
        )
    );
}

#[test]
fn heartbeats_are_sent_and_a_silent_peer_is_dropped() {
    let mut h = Harness::new();
    let c = h.connect_with(131_072, 10);
    let start = h.now;
    // Half the interval without output: a heartbeat goes out.
    assert_eq!(h.server.next_deadline(), Some(start + 5_000));
    h.tick(start + 5_000);
    assert_eq!(h.take_bytes(c), [8, 0, 0, 0, 0, 0, 0, 0xce]);
    // The client's heartbeats keep it alive past two intervals.
    for t in [9_000, 18_000, 27_000] {
        h.now = start + t;
        h.send(c, &heartbeat());
        h.tick(start + t);
    }
    assert!(!h.closed(c));
    // Then it goes silent: two intervals later the transport is closed.
    h.tick(start + 27_000 + 19_999);
    assert!(!h.closed(c));
    h.tick(start + 27_000 + 20_000);
    assert!(h.closed(c));
    assert_eq!(h.server.connection_count(), 0);
}

#[test]
fn a_handshake_that_never_finishes_times_out() {
    let mut h = Harness::new();
    let c = h.accept();
    h.send(c, HEADER);
    h.take_bytes(c);
    assert_eq!(h.server.next_deadline(), Some(h.now + 10_000));
    h.tick(h.now + 10_000);
    assert!(h.closed(c));
}

#[test]
fn a_handshake_dripped_a_byte_a_second_still_times_out() {
    let mut h = Harness::new();
    let start = h.now;
    let c = h.accept();
    for (i, b) in HEADER.iter().enumerate() {
        h.now = start + 1000 * i as u64;
        h.send(c, &[*b]);
        // the host ticks whenever the server asks it to
        while let Some(at) = h.server.next_deadline().filter(|&at| at <= h.now) {
            h.tick(at);
        }
    }
    h.take_bytes(c);
    assert_eq!(h.server.next_deadline(), Some(start + 10_000));
    h.tick(start + 10_000);
    assert!(h.closed(c));
}

#[test]
fn client_close_gets_close_ok_and_the_transport_closes() {
    let mut h = Harness::new();
    let c = h.connect();
    let close = method(0, 10, 50, Args::new().u16(200).short("bye").u16(0).u16(0));
    h.send(c, &close);
    assert_eq!(h.take_bytes(c), [1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 51, 0xce]);
    assert!(h.closed(c));
    // The recipient of close-ok closes the socket: the client, here.
    assert!(h.client_closes(c));
}

#[test]
fn heartbeat_zero_from_the_client_turns_them_off() {
    let mut h = Harness::new();
    let _c = h.connect_with(131_072, 0);
    assert_eq!(h.server.next_deadline(), None);
}
