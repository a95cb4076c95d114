//! Publishing and consuming as a client's bytes: confirms, deliveries and
//! acks, returns, content split across reads and channels, frame_max
//! splitting, requeue on connection loss.

mod protocol_support;

use protocol_support::*;
use warren::amqp::connection::{Limits, ServerConfig};

/// `queue.declare-ok` for an empty queue without consumers.
fn declare_ok(channel: u16, queue: &str, messages: u32, consumers: u32) -> Vec<u8> {
    method(
        channel,
        50,
        11,
        Args::new().short(queue).u32(messages).u32(consumers),
    )
}

#[test]
fn publish_with_confirms() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &confirm_select(1));
    // confirm.select-ok
    assert_eq!(h.take_bytes(c), [1, 0, 1, 0, 0, 0, 4, 0, 85, 0, 11, 0xce]);
    h.send(c, &queue_declare(1, "jobs", true, false));
    assert_eq!(h.take_bytes(c), declare_ok(1, "jobs", 0, 0));

    h.send(c, &publish_message(1, "", "jobs", b"one"));
    // basic.ack, delivery-tag 1, multiple false
    assert_eq!(
        h.take_bytes(c),
        [1, 0, 1, 0, 0, 0, 13, 0, 60, 0, 80, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xce]
    );
    // Two publishes in one read are confirmed together.
    let mut two = publish_message(1, "", "jobs", b"two");
    two.extend(publish_message(1, "", "jobs", b"three"));
    h.send(c, &two);
    assert_eq!(
        h.take_bytes(c),
        [1, 0, 1, 0, 0, 0, 13, 0, 60, 0, 80, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0xce]
    );
    h.send(c, &queue_declare(1, "jobs", true, true));
    assert_eq!(h.take_bytes(c), declare_ok(1, "jobs", 3, 0));
}

#[test]
fn unroutable_mandatory_publish_comes_back_before_its_confirm() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &confirm_select(1));
    h.take_bytes(c);
    let mut bytes = publish(1, "amq.direct", "nowhere", true);
    bytes.extend(header(1, 2, &[]));
    bytes.extend(body(1, b"hi"));
    h.send(c, &bytes);
    let f = h.take_frames(c);
    assert_eq!(f.len(), 4, "{f:?}");
    // basic.return 312 NO_ROUTE, exchange, routing key
    assert_eq!(
        f[0].bytes(),
        method(
            1,
            60,
            50,
            Args::new()
                .u16(312)
                .short("NO_ROUTE")
                .short("amq.direct")
                .short("nowhere")
        )
    );
    assert_eq!(f[1].bytes(), header(1, 2, &[]));
    assert_eq!(f[2].bytes(), body(1, b"hi"));
    assert_eq!(f[3].ids(), (60, 80));
}

#[test]
fn consume_deliver_ack() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &queue_declare(1, "work", false, false));
    h.take_bytes(c);
    // delivery-mode 2 (persistent): flags bit 12, then the octet
    let mut bytes = publish(1, "", "work", false);
    bytes.extend(header(1, 5, &[0x10, 0x00, 2]));
    bytes.extend(body(1, b"hello"));
    h.send(c, &bytes);
    assert!(h.take_bytes(c).is_empty());

    h.send(c, &consume(1, "work", "c1", false));
    let f = h.take_frames(c);
    assert_eq!(f.len(), 4, "{f:?}");
    // consume-ok first, then the delivery
    assert_eq!(f[0].bytes(), method(1, 60, 21, Args::new().short("c1")));
    assert_eq!(
        f[1].bytes(),
        method(
            1,
            60,
            60,
            Args::new()
                .short("c1")
                .u64(1)
                .bits(&[false])
                .short("")
                .short("work")
        )
    );
    assert_eq!(f[2].bytes(), header(1, 5, &[0x10, 0x00, 2]));
    assert_eq!(f[3].bytes(), body(1, b"hello"));

    h.send(c, &ack(1, 1, false));
    assert!(h.take_bytes(c).is_empty());
    h.send(c, &queue_declare(1, "work", false, true));
    assert_eq!(h.take_bytes(c), declare_ok(1, "work", 0, 1));
}

#[test]
fn basic_get_ok_and_empty() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &queue_declare(1, "q", false, false));
    h.take_bytes(c);
    h.send(c, &publish_message(1, "", "q", b"x"));
    let get = method(1, 60, 70, Args::new().u16(0).short("q").bits(&[true]));
    h.send(c, &get);
    let f = h.take_frames(c);
    assert_eq!(
        f[0].bytes(),
        method(
            1,
            60,
            71,
            Args::new()
                .u64(1)
                .bits(&[false])
                .short("")
                .short("q")
                .u32(0)
        )
    );
    assert_eq!(f[2].bytes(), body(1, b"x"));
    h.send(c, &get);
    assert_eq!(h.take_bytes(c), method(1, 60, 72, Args::new().short("")));
}

#[test]
fn content_split_across_reads_and_interleaved_across_channels() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &channel_open(2));
    h.take_bytes(c);
    h.send(c, &queue_declare(1, "q", false, false));
    h.take_bytes(c);
    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    // Channel 1 starts a message, channel 2 publishes a whole one in the
    // middle, then channel 1's bodies follow in two frames.
    let mut bytes = publish(1, "", "q", false);
    bytes.extend(header(1, payload.len() as u64, &[]));
    bytes.extend(body(1, &payload[..1000]));
    bytes.extend(publish_message(2, "", "q", b"from two"));
    bytes.extend(body(1, &payload[1000..]));
    // ... delivered to the server in pieces of 7 bytes.
    for piece in bytes.chunks(7) {
        h.send(c, piece);
    }
    assert!(h.take_bytes(c).is_empty());
    h.send(c, &consume(1, "q", "t", true));
    let f = h.take_frames(c);
    let bodies: Vec<&[u8]> = f
        .iter()
        .filter(|f| f.kind == 3)
        .map(|f| &f.payload[..])
        .collect();
    assert_eq!(bodies, [&b"from two"[..], &payload[..]]);
}

#[test]
fn large_deliveries_are_split_by_frame_max() {
    let mut h = Harness::new();
    let c = h.connect_with(4096, 0);
    h.send(c, &channel_open(1));
    h.take_bytes(c);
    h.send(c, &queue_declare(1, "big", false, false));
    h.take_bytes(c);
    let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    let mut bytes = publish(1, "", "big", false);
    bytes.extend(header(1, payload.len() as u64, &[]));
    for chunk in payload.chunks(4088) {
        bytes.extend(body(1, chunk));
    }
    h.send(c, &bytes);
    h.send(c, &consume(1, "big", "t", true));
    let f = h.take_frames(c);
    let sizes: Vec<usize> = f
        .iter()
        .filter(|f| f.kind == 3)
        .map(|f| f.payload.len())
        .collect();
    // 4096 bytes per frame: 4088 of payload and 8 of framing.
    assert_eq!(sizes, [4088, 4088, 1824]);
    let got: Vec<u8> = f
        .iter()
        .filter(|f| f.kind == 3)
        .flat_map(|f| f.payload.clone())
        .collect();
    assert_eq!(got, payload);
}

#[test]
fn transport_loss_requeues_to_another_consumer_as_redelivered() {
    let mut h = Harness::new();
    let a = h.connect();
    let b = h.connect();
    h.send(a, &queue_declare(1, "tasks", true, false));
    h.take_bytes(a);
    h.send(a, &publish_message(1, "", "tasks", b"job"));
    h.send(a, &consume(1, "tasks", "first", false));
    let f = h.take_frames(a);
    assert_eq!(f[1].ids(), (60, 60));
    h.send(b, &consume(1, "tasks", "second", false));
    assert_eq!(h.take_frames(b).len(), 1, "only consume-ok");

    h.server.transport_closed(h.now, a);
    h.drain();
    let f = h.take_frames(b);
    assert_eq!(f.len(), 3, "{f:?}");
    assert_eq!(
        f[0].bytes(),
        method(
            1,
            60,
            60,
            Args::new()
                .short("second")
                .u64(1)
                .bits(&[true])
                .short("")
                .short("tasks")
        )
    );
    assert_eq!(f[2].bytes(), body(1, b"job"));
    assert_eq!(h.server.connection_count(), 1);
}

#[test]
fn a_message_over_the_size_limit_closes_only_its_channel() {
    let config = ServerConfig {
        limits: Limits {
            max_message_size: 100,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut h = Harness::with_config(config);
    let c = h.connect();
    h.send(c, &channel_open(2));
    h.take_bytes(c);
    let mut bytes = publish(1, "", "q", false);
    bytes.extend(header(1, 101, &[]));
    bytes.extend(body(1, &[0; 101]));
    h.send(c, &bytes);
    let f = h.take_frames(c);
    assert_eq!(f.len(), 1);
    assert_eq!(
        close_args(&f[0]),
        (
            406,
            "PRECONDITION_FAILED - message size 101 is larger than configured max size 100"
                .to_owned(),
            60,
            40
        )
    );
    h.send(c, &channel_close_ok(1));
    h.send(c, &queue_declare(2, "still-here", false, false));
    assert_eq!(h.take_bytes(c), declare_ok(2, "still-here", 0, 0));
}

#[test]
fn transactions_commit_publishes() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &queue_declare(1, "tx", false, false));
    h.take_bytes(c);
    h.send(c, &method(1, 90, 10, Args::new()));
    assert_eq!(h.take_frames(c)[0].ids(), (90, 11));
    h.send(c, &publish_message(1, "", "tx", b"a"));
    h.send(c, &queue_declare(1, "tx", false, true));
    assert_eq!(h.take_bytes(c), declare_ok(1, "tx", 0, 0));
    h.send(c, &method(1, 90, 20, Args::new()));
    assert_eq!(h.take_frames(c)[0].ids(), (90, 21));
    h.send(c, &queue_declare(1, "tx", false, true));
    assert_eq!(h.take_bytes(c), declare_ok(1, "tx", 1, 0));
}

#[test]
fn consume_ok_is_written_alone_ahead_of_the_first_deliveries() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &queue_declare(1, "ready", false, false));
    for body in [&b"a"[..], b"b", b"c"] {
        h.send(c, &publish_message(1, "", "ready", body));
    }
    h.take_writes(c);
    h.send(c, &consume(1, "ready", "t", true));
    let writes = h.take_writes(c);
    assert_eq!(writes.len(), 2, "consume-ok, then the deliveries");
    let first = split_frames(&writes[0]);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].ids(), (60, 21));
    let rest = split_frames(&writes[1]);
    assert_eq!(rest[0].ids(), (60, 60));
    assert_eq!(rest.iter().filter(|f| f.kind == 1).count(), 3);

    // Without messages waiting there is nothing to separate.
    h.send(c, &queue_declare(1, "empty", false, false));
    h.take_writes(c);
    h.send(c, &consume(1, "empty", "u", true));
    assert_eq!(h.take_writes(c).len(), 1);
}

#[test]
fn publishes_with_the_same_properties_each_keep_their_own() {
    // Headers {BCC: ["copy"]} and delivery-mode 2, as each of a publisher's
    // messages would carry them. The connection shares one decoded block
    // among them: the BCC header routes and is removed from every one.
    let item = [&b"S"[..], &4u32.to_be_bytes(), b"copy"].concat();
    let bcc = entry(
        "BCC",
        b'A',
        &[&(item.len() as u32).to_be_bytes()[..], &item].concat(),
    );
    let bcc_props = [
        &[0x30, 0x00][..],
        &(bcc.len() as u32).to_be_bytes(),
        &bcc,
        &[2],
    ]
    .concat();
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &queue_declare(1, "work", false, false));
    h.send(c, &queue_declare(1, "copy", false, false));
    h.take_bytes(c);
    for (body_byte, props) in [
        (b'a', &bcc_props[..]),
        (b'b', &bcc_props),
        (b'c', &[0x10, 0x00, 1]),
        (b'd', &bcc_props),
    ] {
        let mut bytes = publish(1, "", "work", false);
        bytes.extend(header(1, 1, props));
        bytes.extend(body(1, &[body_byte]));
        h.send(c, &bytes);
    }
    h.send(c, &queue_declare(1, "work", false, true));
    assert_eq!(h.take_bytes(c), declare_ok(1, "work", 4, 0));
    h.send(c, &queue_declare(1, "copy", false, true));
    assert_eq!(h.take_bytes(c), declare_ok(1, "copy", 3, 0));
    let get = method(1, 60, 70, Args::new().u16(0).short("copy").bits(&[true]));
    for expected in [b"a", b"b", b"d"] {
        h.send(c, &get);
        let f = h.take_frames(c);
        assert_eq!(f.len(), 3, "{f:?}");
        let header = f[1].bytes();
        assert!(
            !header.windows(3).any(|w| w == b"BCC"),
            "BCC is not delivered: {header:?}"
        );
        assert_eq!(f[2].bytes(), body(1, expected));
    }
}

/// A connection with channel 1 to publish on and a no-ack consumer `c2` of
/// queue `mine` on channel 2; the consume-ok taken.
fn publisher_and_own_consumer(config: ServerConfig) -> (Harness, warren::amqp::server::ConnToken) {
    let mut h = Harness::with_config(config);
    let c = h.connect();
    h.send(c, &channel_open(2));
    h.send(c, &queue_declare(2, "mine", false, false));
    h.send(c, &consume(2, "mine", "c2", true));
    let f = h.take_frames(c);
    assert_eq!(f.last().map(RawFrame::ids), Some((60, 21)), "{f:?}");
    (h, c)
}

/// `basic.deliver` of a no-ack consumer's first delivery on channel 2.
fn first_delivery(tag: &str, queue: &str) -> Vec<u8> {
    let args = Args::new().short(tag).u64(1).bits(&[false]);
    method(2, 60, 60, args.short("").short(queue))
}

#[test]
fn a_delivery_made_by_a_publish_goes_out_before_what_the_rest_of_the_read_writes() {
    // channel.close on the consumer's channel, in the read that delivered
    // to it: the message (already settled, no-ack) reaches the client
    // before close-ok, as it would had the read been split there.
    let (mut h, c) = publisher_and_own_consumer(ServerConfig::default());
    let mut bytes = publish_message(1, "", "mine", b"one");
    bytes.extend(method(
        2,
        20,
        40,
        Args::new().u16(200).short("bye").u16(0).u16(0),
    ));
    h.send(c, &bytes);
    let f = h.take_frames(c);
    assert_eq!(f.len(), 4, "{f:?}");
    assert_eq!(f[0].bytes(), first_delivery("c2", "mine"));
    assert_eq!(f[2].bytes(), body(2, b"one"));
    assert_eq!(f[3].bytes(), channel_close_ok(2));

    // A connection error after the publish: the delivery, then the close.
    let (mut h, c) = publisher_and_own_consumer(ServerConfig::default());
    let mut bytes = publish_message(1, "", "mine", b"two");
    bytes.extend(body(1, b"stray"));
    h.send(c, &bytes);
    let f = h.take_frames(c);
    assert_eq!(f.len(), 4, "{f:?}");
    assert_eq!(f[0].bytes(), first_delivery("c2", "mine"));
    assert_eq!(f[2].bytes(), body(2, b"two"));
    assert_eq!(f[3].ids(), (10, 50));
    assert_eq!(close_args(&f[3]).0, 505);

    // A channel error on the publishing channel: the delivery, then the
    // channel's close.
    let config = ServerConfig {
        limits: Limits {
            max_message_size: 100,
            ..Default::default()
        },
        ..Default::default()
    };
    let (mut h, c) = publisher_and_own_consumer(config);
    let mut bytes = publish_message(1, "", "mine", b"three");
    bytes.extend(publish(1, "", "mine", false));
    bytes.extend(header(1, 101, &[]));
    h.send(c, &bytes);
    let f = h.take_frames(c);
    assert_eq!(f.len(), 4, "{f:?}");
    assert_eq!(f[0].bytes(), first_delivery("c2", "mine"));
    assert_eq!(f[2].bytes(), body(2, b"three"));
    assert_eq!(f[3].ids(), (20, 40));
    assert_eq!(close_args(&f[3]).0, 406);
}

/// Mandatory `basic.publish` of a one-byte body with the given properties
/// bytes.
fn publish_props(channel: u16, exchange: &str, key: &str, props: &[u8], byte: u8) -> Vec<u8> {
    let mut v = publish(channel, exchange, key, true);
    v.extend(header(channel, 1, props));
    v.extend(body(channel, &[byte]));
    v
}

/// Publishes with changes between them: routing key, properties, a queue
/// unbound and one deleted by another channel, a transaction (rolled back)
/// and confirms begun, a bad expiration, a body over the size limit. Each is one segment of a read.
fn changing_publishes() -> Vec<Vec<u8>> {
    let persistent = [0x10, 0x00, 2];
    let plain = [0x10, 0x00, 1];
    let unbind = method(
        2,
        50,
        50,
        Args::new()
            .u16(0)
            .short("b")
            .short("amq.direct")
            .short("k")
            .empty_table(),
    );
    let delete = method(2, 50, 40, Args::new().u16(0).short("c").bits(&[false; 3]));
    let mut s = Vec::new();
    for (i, (key, props)) in [
        ("a", &persistent[..]),
        ("a", &persistent),
        ("c", &persistent),
        ("a", &plain),
        ("a", &plain),
        ("c", &[]),
    ]
    .into_iter()
    .enumerate()
    {
        s.push(publish_props(1, "", key, props, b'a' + i as u8));
    }
    for byte in [b'k', b'l'] {
        s.push(publish_props(1, "amq.direct", "k", &[], byte));
    }
    s.push(unbind);
    s.push(publish_props(1, "amq.direct", "k", &[], b'm'));
    s.push(publish_props(1, "", "c", &[], b'n'));
    s.push(delete);
    s.push(publish_props(1, "", "c", &[], b'o'));
    s.push(publish_props(1, "", "c", &[], b'p'));
    s.push(publish_props(3, "", "a", &[], b'q'));
    s.push(method(3, 90, 10, Args::new()));
    s.push(publish_props(3, "", "a", &[], b'r'));
    s.push(publish_props(3, "", "a", &[], b's'));
    s.push(method(3, 90, 30, Args::new()));
    // Not mandatory, then mandatory: only the second comes back.
    let mut quiet = publish(1, "", "nowhere", false);
    quiet.extend(header(1, 1, &[]));
    quiet.extend(body(1, b"0"));
    s.push(quiet);
    s.push(publish_props(1, "", "nowhere", &[], b'0'));
    // An expiration that is not a number closes the channel (406).
    let expiring = [0x11, 0x00, 2, 1, b'x'];
    for (props, byte) in [
        (&persistent[..], b'y'),
        (&persistent, b'y'),
        (&expiring, b'z'),
    ] {
        s.push(publish_props(5, "", "a", props, byte));
    }
    // So does a body over the size limit, after the publishes before it.
    s.push(publish_props(4, "", "a", &[], b'1'));
    s.push(publish_props(4, "", "a", &[], b'2'));
    let mut big = publish(4, "", "a", true);
    big.extend(header(4, 101, &[]));
    big.extend(body(4, &[0; 101]));
    s.push(big);
    s.push(publish_props(4, "", "a", &[], b'3'));
    s.push(publish_props(1, "", "a", &[], b't'));
    s.push(confirm_select(1));
    s.push(publish_props(1, "", "a", &[], b'u'));
    s.push(publish_props(1, "", "a", &[], b'v'));
    s.push(publish_props(1, "", "nowhere", &[], b'w'));
    s
}

/// What a read of `segments` leaves: every frame written, then each
/// queue's messages as `basic.get` hands them out.
fn publish_outcome(segments: &[Vec<u8>], reads: usize) -> (Vec<u8>, Vec<u8>) {
    let config = ServerConfig {
        limits: Limits {
            max_message_size: 100,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut h = Harness::with_config(config);
    let c = h.connect();
    let mut setup = channel_open(2);
    setup.extend(channel_open(3));
    setup.extend(channel_open(4));
    setup.extend(channel_open(5));
    for q in ["a", "b", "c"] {
        setup.extend(queue_declare(2, q, false, false));
    }
    setup.extend(method(
        2,
        50,
        20,
        Args::new()
            .u16(0)
            .short("b")
            .short("amq.direct")
            .short("k")
            .bits(&[false])
            .empty_table(),
    ));
    h.send(c, &setup);
    h.take_bytes(c);
    for part in segments.chunks(segments.len().div_ceil(reads)) {
        h.send(c, &part.concat());
    }
    let written = h.take_bytes(c);
    let mut queues = Vec::new();
    for q in ["a", "b", "c"] {
        let get = method(2, 60, 70, Args::new().u16(0).short(q).bits(&[true]));
        for _ in 0..12 {
            h.send(c, &get);
            queues.extend(h.take_bytes(c));
        }
    }
    (written, queues)
}

/// The frames written, with `basic.ack`s (batched per read) left out, and
/// the delivery tags they confirm in order.
fn frames_and_confirms(bytes: &[u8]) -> (Vec<Vec<u8>>, Vec<u64>) {
    let (mut frames, mut confirmed) = (Vec::new(), Vec::new());
    for f in split_frames(bytes) {
        if f.kind != 1 || f.ids() != (60, 80) {
            frames.push(f.bytes());
            continue;
        }
        let args = f.args();
        let tag = u64::from_be_bytes(args[..8].try_into().unwrap());
        let from = match args[8] {
            0 => tag,
            _ => confirmed.last().map_or(1, |t| t + 1),
        };
        confirmed.extend(from..=tag);
    }
    (frames, confirmed)
}

#[test]
fn a_run_of_publishes_in_one_read_does_what_they_do_one_by_one() {
    let segments = changing_publishes();
    let (written, queues) = publish_outcome(&segments, 1);
    // One read per publish or change: no run spans two of them.
    let (apart, apart_queues) = publish_outcome(&segments, segments.len());
    assert_eq!(queues, apart_queues);
    let (frames, confirmed) = frames_and_confirms(&written);
    let (apart_frames, apart_confirmed) = frames_and_confirms(&apart);
    assert_eq!(frames, apart_frames);
    assert_eq!(confirmed, apart_confirmed);
    assert_eq!(confirmed, [1, 2, 3]);
    // The returns (the unbound key, the deleted queue twice, nowhere twice), the
    // transaction's ok frames, and the closes for a bad expiration and the
    // size limit.
    let ids: Vec<(u16, u16)> = split_frames(&written)
        .iter()
        .filter(|f| f.kind == 1)
        .map(RawFrame::ids)
        .collect();
    assert_eq!(ids.iter().filter(|i| **i == (60, 50)).count(), 5, "{ids:?}");
    assert!(
        ids.contains(&(90, 11)) && ids.contains(&(90, 31)),
        "{ids:?}"
    );
    let closes: Vec<u16> = split_frames(&written)
        .iter()
        .filter(|f| f.kind == 1 && f.ids() == (20, 40))
        .map(|f| f.channel)
        .collect();
    assert_eq!(closes, [5, 4]);
}

/// Acks read in place hand the slots they free out once the read is done,
/// in one pass, as a read's publishes deliver: a reply that a later frame of
/// the same read asks for goes out first.
#[test]
fn what_a_read_of_acks_frees_goes_out_after_the_read() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &queue_declare(1, "q", false, false));
    h.send(
        c,
        &method(1, 60, 10, Args::new().u32(0).u16(2).bits(&[false])),
    );
    h.send(c, &consume(1, "q", "c1", false));
    for body in [&b"m1"[..], b"m2", b"m3", b"m4"] {
        h.send(c, &publish_message(1, "", "q", body));
    }
    let delivered = |f: &[RawFrame]| -> Vec<Vec<u8>> {
        f.iter()
            .filter(|f| f.kind == 3)
            .map(|f| f.payload.clone())
            .collect()
    };
    assert_eq!(delivered(&h.take_frames(c)), [b"m1", b"m2"]);
    let mut read = ack(1, 1, false);
    read.extend(ack(1, 2, false));
    read.extend(queue_declare(1, "q", false, true));
    h.send(c, &read);
    let f = h.take_frames(c);
    // declare-ok counts m3 and m4 still ready; then both go out.
    assert_eq!(f[0].bytes(), declare_ok(1, "q", 2, 1));
    assert_eq!(delivered(&f), [b"m3", b"m4"]);
}
