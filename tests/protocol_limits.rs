//! What the server does on its own: back-pressure on a backed-up
//! connection, broker-initiated cancels and blocks, and effects for clients
//! that live on the broker directly.

mod protocol_support;

use protocol_support::*;
use warren::amqp::connection::{Limits, ServerConfig};
use warren::amqp::server::{Output, Server};
use warren::broker::{
    Broker, BrokerConfig, ChannelRef, ConnectionInfo, Consume, Effect, ShortStr, DISPATCH_ROUND,
};

fn count_deliveries(frames: &[RawFrame]) -> usize {
    frames
        .iter()
        .filter(|f| f.kind == 1 && f.ids() == (60, 60))
        .count()
}

#[test]
fn deliveries_pause_while_output_is_backed_up() {
    let config = ServerConfig {
        limits: Limits {
            max_output_bytes: 4_000,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut h = Harness::with_config(config);
    let producer = h.connect();
    let consumer = h.connect();
    h.send(producer, &queue_declare(1, "q", false, false));
    h.take_bytes(producer);
    h.send(consumer, &consume(1, "q", "c", true));
    h.take_bytes(consumer);

    let one = publish_message(1, "", "q", &[7; 100]);
    // 50 messages of ~170 bytes on the wire: over the limit in one read.
    h.server.receive(h.now, producer, &one.repeat(50));
    assert!(!h.server.wants_read(consumer));
    h.drain();
    assert!(h.server.wants_read(consumer));
    assert_eq!(count_deliveries(&h.take_frames(consumer)), 50);

    // The host says its socket still holds 10 kB: deliveries stop...
    h.server.set_backlog(consumer, 10_000);
    assert!(!h.server.wants_read(consumer));
    h.send(producer, &one.repeat(5));
    assert_eq!(count_deliveries(&h.take_frames(consumer)), 0);
    // ... until it has drained below half the limit.
    h.server.set_backlog(consumer, 2_500);
    h.drain();
    assert_eq!(count_deliveries(&h.take_frames(consumer)), 0);
    h.server.set_backlog(consumer, 0);
    h.drain();
    assert!(h.server.wants_read(consumer));
    assert_eq!(count_deliveries(&h.take_frames(consumer)), 5);
}

/// A backlog goes to an automatic-acknowledgment consumer one round per
/// engine poll: the connection polls after the method and after the read
/// (two rounds for the read holding basic.consume), then one per
/// `next_round`, or per `tick` at `next_deadline`, which says now while
/// rounds wait. The host gets bounded output between which it can write
/// and read.
#[test]
fn a_backlog_goes_out_in_rounds_the_host_drives() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &queue_declare(1, "q", false, false));
    let n = 3 * DISPATCH_ROUND + 10;
    h.send(c, &publish_message(1, "", "q", b"x").repeat(n));
    h.take_bytes(c);
    assert_eq!(h.server.next_deadline(), None);
    h.send(c, &consume(1, "q", "c", true));
    assert_eq!(count_deliveries(&h.take_frames(c)), 2 * DISPATCH_ROUND);
    assert_eq!(h.server.next_deadline(), Some(h.now));
    assert!(h.server.next_round());
    h.drain();
    assert_eq!(count_deliveries(&h.take_frames(c)), DISPATCH_ROUND);
    h.tick(h.now);
    assert_eq!(count_deliveries(&h.take_frames(c)), 10);
    assert_eq!(h.server.next_deadline(), None);
    assert!(!h.server.next_round());
}

#[test]
fn consumer_timeout_cancels_the_consumer_and_requeues() {
    let broker = Broker::new(BrokerConfig {
        consumer_timeout_ms: Some(5_000),
        ..Default::default()
    });
    let mut h = Harness::with_config(ServerConfig::default());
    h.server = Server::new(ServerConfig::default(), broker);
    let c = h.connect();
    h.send(c, &queue_declare(1, "slow", false, false));
    h.send(c, &publish_message(1, "", "slow", b"x"));
    h.send(c, &consume(1, "slow", "c", false));
    h.take_bytes(c);
    let at = h.server.next_deadline().expect("a consumer timeout");
    h.tick(at);
    // The client announced consumer_cancel_notify: basic.cancel, nowait.
    assert_eq!(
        h.take_bytes(c),
        method(1, 60, 30, Args::new().short("c").bits(&[true]))
    );
    h.send(c, &queue_declare(1, "slow", false, true));
    assert_eq!(
        h.take_bytes(c),
        method(1, 50, 11, Args::new().short("slow").u32(1).u32(0))
    );
}

#[test]
fn connection_blocked_reaches_clients_that_understand_it() {
    let mut h = Harness::new();
    let c = h.connect();
    h.server.broker_mut().set_blocked(Some("low on memory"));
    h.tick(h.now);
    assert_eq!(
        h.take_bytes(c),
        method(0, 10, 60, Args::new().short("low on memory"))
    );
    h.server.broker_mut().set_blocked(None);
    h.tick(h.now);
    assert_eq!(h.take_bytes(c), method(0, 10, 61, Args::new()));
}

#[test]
fn effects_for_in_process_clients_come_out_as_effects() {
    let mut h = Harness::new();
    let c = h.connect();
    h.send(c, &queue_declare(1, "mixed", false, false));
    h.take_bytes(c);
    let broker = h.server.broker_mut();
    let local = broker
        .connection_open(h.now, ConnectionInfo::default())
        .unwrap();
    let ch = ChannelRef::new(local, 1);
    broker.channel_open(h.now, ch).unwrap();
    let consume = Consume {
        queue: ShortStr::new("mixed").unwrap(),
        consumer_tag: ShortStr::new("js").unwrap(),
        no_ack: true,
        ..Default::default()
    };
    broker.basic_consume(h.now, ch, consume).unwrap();
    h.server
        .receive(h.now, c, &publish_message(1, "", "mixed", b"to js"));
    let mut delivered = Vec::new();
    while let Some(out) = h.server.poll_output() {
        if let Output::Effect(Effect::Deliver { to, message, .. }) = out {
            assert_eq!(to, ch);
            delivered.push(message.body().to_vec());
        }
    }
    assert_eq!(delivered, [b"to js".to_vec()]);
}

#[test]
fn server_side_close_is_320() {
    let mut h = Harness::new();
    let c = h.connect();
    h.server.close(h.now, c, "shutdown");
    h.drain();
    let f = h.take_frames(c);
    assert_eq!(
        close_args(&f[0]),
        (
            320,
            "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
                .to_owned(),
            0,
            0
        )
    );
    h.send(c, &connection_close_ok());
    assert!(h.closed(c));
}
