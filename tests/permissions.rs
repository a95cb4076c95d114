//! Users and permissions over the wire, as RabbitMQ has them: configure,
//! write and read expressions per vhost, 403 ACCESS_REFUSED with RabbitMQ's
//! texts, loopback-only users, hashed passwords, EXTERNAL logins, and the
//! close reports hosts log.

mod protocol_support;

use protocol_support::*;
use warren::amqp::connection::{PeerAuth, ServerConfig};
use warren::amqp::server::{ConnToken, Output};
use warren::broker::{Password, Permission, User};

fn user(name: &str, password: &str, configure: &str, write: &str, read: &str) -> User {
    User {
        name: name.to_owned(),
        password: Password::Plain(password.to_owned()),
        tags: vec![],
        permissions: vec![Permission {
            vhost: "/".to_owned(),
            configure: configure.to_owned(),
            write: write.to_owned(),
            read: read.to_owned(),
        }],
    }
}

fn harness(users: Vec<User>) -> Harness {
    let mut config = ServerConfig::default();
    config.users.extend(users);
    Harness::with_config(config)
}

/// Logs in as `name` on `/` and opens channel 1.
fn login(h: &mut Harness, name: &str, password: &str) -> ConnToken {
    let c = h.accept();
    let mut bytes = HEADER.to_vec();
    bytes.extend(start_ok_plain(name, password, true));
    bytes.extend(tune_ok(2047, 131_072, 0));
    bytes.extend(connection_open("/"));
    bytes.extend(channel_open(1));
    h.send(c, &bytes);
    let f = h.take_frames(c);
    assert_eq!(f.last().unwrap().ids(), (20, 11), "login as {name}");
    c
}

fn declare_exchange(channel: u16, name: &str, args: &[u8]) -> Vec<u8> {
    let a = Args::new()
        .u16(0)
        .short(name)
        .short("direct")
        .bits(&[false, false, false, false, false])
        .table(args);
    method(channel, 40, 10, a)
}

fn declare_queue_with(channel: u16, name: &str, args: &[u8]) -> Vec<u8> {
    let a = Args::new()
        .u16(0)
        .short(name)
        .bits(&[false, false, false, false, false])
        .table(args);
    method(channel, 50, 10, a)
}

fn bind(channel: u16, queue: &str, exchange: &str) -> Vec<u8> {
    let a = Args::new()
        .u16(0)
        .short(queue)
        .short(exchange)
        .short("k")
        .bits(&[false])
        .empty_table();
    method(channel, 50, 20, a)
}

fn purge(channel: u16, queue: &str) -> Vec<u8> {
    method(
        channel,
        50,
        30,
        Args::new().u16(0).short(queue).bits(&[false]),
    )
}

fn delete_queue(channel: u16, queue: &str) -> Vec<u8> {
    let a = Args::new().u16(0).short(queue).bits(&[false, false, false]);
    method(channel, 50, 40, a)
}

fn get(channel: u16, queue: &str) -> Vec<u8> {
    method(
        channel,
        60,
        70,
        Args::new().u16(0).short(queue).bits(&[true]),
    )
}

/// A `channel.close`'s code, text, class and method.
type Close = (u16, String, u16, u16);

/// The one frame the command got back: its ids, and its close arguments
/// when it is a `channel.close`.
fn answer(h: &mut Harness, c: ConnToken, bytes: &[u8]) -> ((u16, u16), Option<Close>) {
    h.send(c, bytes);
    let f = h.take_frames(c);
    let last = f.last().expect("an answer");
    let close = (last.ids() == (20, 40)).then(|| close_args(last));
    (last.ids(), close)
}

/// Runs a command expected to be refused; checks the 403 and reopens the channel.
fn refused(h: &mut Harness, c: ConnToken, bytes: &[u8], text: &str, ids: (u16, u16)) {
    let (_, close) = answer(h, c, bytes);
    assert_eq!(
        close,
        Some((403, format!("ACCESS_REFUSED - {text}"), ids.0, ids.1))
    );
    let mut again = channel_close_ok(1);
    again.extend(channel_open(1));
    h.send(c, &again);
    assert_eq!(h.take_frames(c).last().unwrap().ids(), (20, 11));
}

#[test]
fn configure_guards_declare_and_delete() {
    let mut h = harness(vec![user("app", "pw", "^app\\.", ".*", ".*")]);
    let c = login(&mut h, "app", "pw");
    assert_eq!(
        answer(&mut h, c, &queue_declare(1, "app.q", false, false)).0,
        (50, 11)
    );
    refused(
        &mut h,
        c,
        &queue_declare(1, "other", false, false),
        "access to queue 'other' in vhost '/' refused for user 'app'",
        (50, 10),
    );
    // Passive declares need no permission (RabbitMQ checks none).
    let guest = login(&mut h, "guest", "guest");
    answer(&mut h, guest, &queue_declare(1, "other", false, false));
    assert_eq!(
        answer(&mut h, c, &queue_declare(1, "other", false, true)).0,
        (50, 11)
    );
    refused(
        &mut h,
        c,
        &declare_exchange(1, "x", &[]),
        "access to exchange 'x' in vhost '/' refused for user 'app'",
        (40, 10),
    );
    refused(
        &mut h,
        c,
        &delete_queue(1, "other"),
        "access to queue 'other' in vhost '/' refused for user 'app'",
        (50, 40),
    );
    assert_eq!(answer(&mut h, c, &delete_queue(1, "app.q")).0, (50, 41));
}

#[test]
fn write_guards_publish_and_the_default_exchange_is_amq_default() {
    let mut h = harness(vec![user("pub", "pw", ".*", "^logs$", ".*")]);
    let c = login(&mut h, "pub", "pw");
    answer(&mut h, c, &declare_exchange(1, "logs", &[]));
    answer(&mut h, c, &queue_declare(1, "q", false, false));
    h.send(c, &publish_message(1, "logs", "k", b"fine"));
    assert!(
        h.take_frames(c).is_empty(),
        "no answer to an allowed publish"
    );
    refused(
        &mut h,
        c,
        &publish_message(1, "", "q", b"no"),
        "access to exchange 'amq.default' in vhost '/' refused for user 'pub'",
        (60, 40),
    );
}

#[test]
fn read_guards_consume_get_and_purge() {
    let mut h = harness(vec![user("reader", "pw", ".*", ".*", "^mine$")]);
    let c = login(&mut h, "reader", "pw");
    answer(&mut h, c, &queue_declare(1, "mine", false, false));
    answer(&mut h, c, &queue_declare(1, "theirs", false, false));
    assert_eq!(answer(&mut h, c, &get(1, "mine")).0, (60, 72));
    let text = "access to queue 'theirs' in vhost '/' refused for user 'reader'";
    refused(&mut h, c, &get(1, "theirs"), text, (60, 70));
    refused(&mut h, c, &consume(1, "theirs", "t", true), text, (60, 20));
    refused(&mut h, c, &purge(1, "theirs"), text, (50, 30));
    assert_eq!(answer(&mut h, c, &purge(1, "mine")).0, (50, 31));
}

#[test]
fn bind_needs_write_on_the_queue_and_read_on_the_exchange() {
    let mut h = harness(vec![user("b", "pw", ".*", "^q$", "^src$")]);
    let c = login(&mut h, "b", "pw");
    for x in ["src", "other"] {
        answer(&mut h, c, &declare_exchange(1, x, &[]));
    }
    for q in ["q", "r"] {
        answer(&mut h, c, &queue_declare(1, q, false, false));
    }
    assert_eq!(answer(&mut h, c, &bind(1, "q", "src")).0, (50, 21));
    refused(
        &mut h,
        c,
        &bind(1, "r", "src"),
        "access to queue 'r' in vhost '/' refused for user 'b'",
        (50, 20),
    );
    refused(
        &mut h,
        c,
        &bind(1, "q", "other"),
        "access to exchange 'other' in vhost '/' refused for user 'b'",
        (50, 20),
    );
}

#[test]
fn dead_letter_and_alternate_exchanges_need_write_on_them() {
    let mut h = harness(vec![user("d", "pw", ".*", "^(q|x)$", ".*")]);
    let c = login(&mut h, "d", "pw");
    let mut dlx = entry("x-dead-letter-exchange", b'S', &long_str(b"dlx"));
    refused(
        &mut h,
        c,
        &declare_queue_with(1, "q", &dlx),
        "access to exchange 'dlx' in vhost '/' refused for user 'd'",
        (50, 10),
    );
    dlx = entry("x-dead-letter-exchange", b'S', &long_str(b"x"));
    assert_eq!(
        answer(&mut h, c, &declare_queue_with(1, "q", &dlx)).0,
        (50, 11)
    );
    let ae = entry("alternate-exchange", b'S', &long_str(b"ae"));
    refused(
        &mut h,
        c,
        &declare_exchange(1, "x", &ae),
        "access to exchange 'ae' in vhost '/' refused for user 'd'",
        (40, 10),
    );
}

#[test]
fn an_empty_expression_allows_nothing() {
    let mut h = harness(vec![user("none", "pw", "", "", "")]);
    let c = login(&mut h, "none", "pw");
    refused(
        &mut h,
        c,
        &queue_declare(1, "q", false, false),
        "access to queue 'q' in vhost '/' refused for user 'none'",
        (50, 10),
    );
}

#[test]
fn user_id_must_be_the_connections_user() {
    let mut h = harness(vec![user("u", "pw", ".*", ".*", ".*")]);
    let c = login(&mut h, "u", "pw");
    answer(&mut h, c, &queue_declare(1, "q", false, false));
    let with_user_id = |id: &str| {
        let mut props = 0x0010u16.to_be_bytes().to_vec();
        props.push(id.len() as u8);
        props.extend_from_slice(id.as_bytes());
        let mut v = publish(1, "", "q", false);
        v.extend(header(1, 1, &props));
        v.extend(body(1, b"x"));
        v
    };
    h.send(c, &with_user_id("u"));
    assert!(h.take_frames(c).is_empty());
    let (_, close) = answer(&mut h, c, &with_user_id("admin"));
    assert_eq!(
        close,
        Some((
            406,
            "PRECONDITION_FAILED - user_id property set to 'admin' but authenticated user was 'u'"
                .to_owned(),
            60,
            40
        ))
    );
}

#[test]
fn guest_only_from_loopback_unless_configured() {
    let mut h = Harness::new();
    let c = h.server.accept(h.now, "10.1.2.3:5000");
    let mut bytes = HEADER.to_vec();
    bytes.extend(start_ok_plain("guest", "guest", true));
    h.send(c, &bytes);
    let f = h.take_frames(c);
    assert_eq!(
        close_args(f.last().unwrap()),
        (
            403,
            "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. \
             For details see the broker logfile."
                .to_owned(),
            10,
            11
        )
    );
    // The host hears why, with the code.
    let report = &h.inbox[&c].closes[0];
    assert_eq!(report.code, 403);
    assert_eq!(
        report.text,
        "ACCESS_REFUSED - PLAIN login refused: user 'guest' can only connect via localhost"
    );

    // A client that does not expect a close: the transport is closed, and
    // the host still gets the reason.
    let c = h.server.accept(h.now, "[2001:db8::1]:5000");
    let mut bytes = HEADER.to_vec();
    bytes.extend(start_ok_plain("guest", "guest", false));
    h.server.receive(h.now, c, &bytes);
    let mut order = Vec::new();
    while let Some(out) = h.server.poll_output() {
        order.push(match out {
            Output::Send { .. } => continue, // connection.start
            Output::Closed { report, .. } => report.code,
            Output::Close { .. } => 1,
            other => panic!("{other:?}"),
        });
    }
    assert_eq!(order, [403, 1], "the report comes before the close");

    for peer in ["127.0.0.1:5000", "[::1]:5000", "::ffff:127.0.0.1:5000"] {
        assert!(PeerAuth::from_peer_name(peer).loopback, "{peer}");
    }
    let config = ServerConfig {
        loopback_users: vec![],
        ..Default::default()
    };
    let mut h = Harness::with_config(config);
    let c = h.server.accept(h.now, "10.1.2.3:5000");
    let mut bytes = HEADER.to_vec();
    bytes.extend(start_ok_plain("guest", "guest", true));
    h.send(c, &bytes);
    assert_eq!(h.take_frames(c).last().unwrap().ids(), (10, 30));
}

#[test]
fn hashed_passwords_log_in() {
    let hash = Password::sha256_base64([1, 2, 3, 4], "s3cret");
    let mut u = user("h", "", ".*", ".*", ".*");
    u.password = Password::sha256_from_base64(&hash).unwrap();
    let mut h = harness(vec![u]);
    login(&mut h, "h", "s3cret");
    let c = h.accept();
    let mut bytes = HEADER.to_vec();
    bytes.extend(start_ok_plain("h", "wrong", true));
    h.send(c, &bytes);
    assert_eq!(
        close_args(h.take_frames(c).last().unwrap()).0,
        403,
        "a wrong password is refused"
    );
}

#[test]
fn external_logs_in_as_the_certificate_user() {
    let mut u = user("client-a", "", ".*", ".*", ".*");
    u.password = Password::None;
    let mut h = harness(vec![u]);
    let auth = PeerAuth {
        loopback: false,
        cert_user: Some("client-a".to_owned()),
    };
    let c = h.server.accept_with(h.now, "10.0.0.9:6000", auth);
    h.send(c, HEADER);
    let start = h.take_frames(c);
    let args = start[0].args();
    let mechanisms = b"EXTERNAL PLAIN AMQPLAIN";
    assert!(args.windows(mechanisms.len()).any(|w| w == mechanisms));
    let start_ok = method(
        0,
        10,
        11,
        Args::new()
            .table(&[])
            .short("EXTERNAL")
            .long(b"")
            .short("en_US"),
    );
    let mut bytes = start_ok;
    bytes.extend(tune_ok(2047, 131_072, 0));
    bytes.extend(connection_open("/"));
    h.send(c, &bytes);
    assert_eq!(h.take_frames(c).last().unwrap().ids(), (10, 41));
    // Without a certificate EXTERNAL is not offered, nor accepted; and a
    // user without a password cannot log in with PLAIN.
    let c = h.accept();
    h.send(c, HEADER);
    h.take_frames(c);
    let mut bytes = start_ok_plain("client-a", "", true);
    bytes.extend(tune_ok(2047, 131_072, 0));
    h.send(c, &bytes);
    assert_eq!(close_args(h.take_frames(c).last().unwrap()).0, 403);
}

#[test]
fn every_close_is_reported_with_code_and_text() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &get(1, "missing"));
    h.take_frames(c);
    let report = &h.inbox[&c].closes[0];
    assert_eq!(report.channel, 1);
    assert_eq!(report.code, 404);
    assert_eq!(report.text, "NOT_FOUND - no queue 'missing' in vhost '/'");
    assert_eq!((report.class_id, report.method_id), (60, 70));

    let c = h.accept();
    h.send(c, b"HTTP/1.1");
    let report = &h.inbox[&c].closes[0];
    assert_eq!(
        (report.code, report.text.as_str()),
        (0, "unsupported protocol header")
    );

    let c = h.connect();
    h.server.close(h.now, c, "maintenance");
    h.drain();
    let report = &h.inbox[&c].closes[0];
    assert_eq!(report.code, 320);
    assert_eq!(
        report.text,
        "CONNECTION_FORCED - broker forced connection closure with reason 'maintenance'"
    );
}
