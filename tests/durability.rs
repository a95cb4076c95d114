//! Durability as store records: what durable topology and persistent messages
//! emit, confirms held for the store, and brokers rebuilt from a record log or
//! from a snapshot of one.

mod common;
use common::*;
use warren::broker::Snapshot;
use warren::broker::{
    Bind, Broker, BrokerConfig, ChannelRef, ExchangeDeclare, FieldTable, FieldValue, Properties,
    QueueDeclare, StoreRecord,
};

fn config() -> BrokerConfig {
    BrokerConfig {
        durable_store: true,
        events: true,
        ..Default::default()
    }
}

fn durable_world() -> (World, ChannelRef) {
    let mut w = World::with(config());
    let ch = w.client();
    (w, ch)
}

fn persistent() -> Properties {
    Properties {
        delivery_mode: Some(2),
        ..Default::default()
    }
}

fn transient() -> Properties {
    Properties {
        delivery_mode: Some(1),
        ..Default::default()
    }
}

fn durable_exchange(w: &mut World, ch: ChannelRef, name: &str, kind: &str) {
    w.broker
        .exchange_declare(
            w.now,
            ch,
            ExchangeDeclare {
                exchange: s(name),
                kind: s(kind),
                durable: true,
                ..Default::default()
            },
        )
        .unwrap();
}

fn exclusive_durable_queue(w: &mut World, ch: ChannelRef, name: &str) {
    w.broker
        .queue_declare(
            w.now,
            ch,
            QueueDeclare {
                queue: s(name),
                durable: true,
                exclusive: true,
                ..Default::default()
            },
        )
        .unwrap();
}

fn send(w: &mut World, ch: ChannelRef, x: &str, key: &str, body: &str, props: Properties) {
    w.publish_props(ch, x, key, body, props).unwrap();
}

/// Every record emitted so far (the whole log, when taken from the start).
fn log(w: &mut World) -> Vec<StoreRecord> {
    w.broker.take_store_records().1
}

fn kinds(records: &[StoreRecord]) -> Vec<&'static str> {
    records
        .iter()
        .map(|r| match r {
            StoreRecord::Exchange { .. } => "exchange",
            StoreRecord::ExchangeDeleted { .. } => "exchange-deleted",
            StoreRecord::Queue { .. } => "queue",
            StoreRecord::QueueDeleted { .. } => "queue-deleted",
            StoreRecord::Binding { .. } => "binding",
            StoreRecord::Unbinding { .. } => "unbinding",
            StoreRecord::Message { .. } => "message",
            StoreRecord::Delivered { .. } => "delivered",
            StoreRecord::Returned { .. } => "returned",
            StoreRecord::Settled { .. } => "settled",
            StoreRecord::Policy { .. } => "policy",
            StoreRecord::PolicyDeleted { .. } => "policy-deleted",
            StoreRecord::VhostDeleted { .. } => "vhost-deleted",
            StoreRecord::VhostLimits { .. } => "vhost-limits",
            StoreRecord::CrashRecovered { .. } => "crash-recovered",
            StoreRecord::Paged { .. } => "paged",
            StoreRecord::Unpaged { .. } => "unpaged",
            StoreRecord::PageDropped { .. } => "page-dropped",
        })
        .collect()
}

/// A world around a broker recovered from `records`.
fn recovered(records: Vec<StoreRecord>) -> World {
    let mut w = World::with(config());
    w.broker = Broker::recover(config(), w.now, records).unwrap();
    w
}

fn exchange_bind(w: &mut World, ch: ChannelRef, dest: &str, source: &str, key: &str) {
    w.broker
        .exchange_bind(
            w.now,
            ch,
            Bind {
                destination: s(dest),
                source: s(source),
                routing_key: s(key),
                arguments: FieldTable::new(),
            },
        )
        .unwrap();
}

/// The parts of a snapshot that recovery must reproduce: queues with their
/// flags and ready messages (those `keep` accepts), exchanges with their
/// bindings; queues and exchanges named in `skip` (and bindings to them) left
/// out.
fn durable_view(
    snap: &Snapshot,
    skip: &[&str],
    keep: impl Fn(u64) -> bool,
) -> (Vec<String>, Vec<String>) {
    let queues = snap
        .queues
        .iter()
        .filter(|q| !skip.contains(&q.name.as_str()))
        .map(|q| {
            let ready: Vec<_> = q.ready.iter().filter(|(id, _)| keep(*id)).collect();
            format!(
                "{}:{} durable={} unacked={} ready={:?}",
                q.vhost, q.name, q.durable, q.counts.unacked, ready
            )
        })
        .collect();
    let exchanges = snap
        .exchanges
        .iter()
        .filter(|x| !skip.contains(&x.name.as_str()))
        .map(|x| {
            let mut b: Vec<_> = x
                .bindings
                .iter()
                .filter(|(d, _)| !skip.contains(&d.as_str()))
                .collect();
            b.sort();
            format!(
                "{}:{} {} durable={} {:?}",
                x.vhost, x.name, x.kind, x.durable, b
            )
        })
        .collect();
    (queues, exchanges)
}

fn all(_: u64) -> bool {
    true
}

#[test]
fn durable_topology_emits_store_records() {
    let (mut w, ch) = durable_world();
    durable_exchange(&mut w, ch, "orders", "topic");
    durable_exchange(&mut w, ch, "audit", "fanout");
    w.durable_queue(ch, "dq");
    w.bind(ch, "dq", "orders", "order.#");
    exchange_bind(&mut w, ch, "audit", "orders", "#");
    let (first, records) = w.broker.take_store_records();
    assert_eq!(first, 1);
    assert_eq!(
        kinds(&records),
        ["exchange", "exchange", "queue", "binding", "binding"]
    );
    assert!(matches!(
        &records[3],
        StoreRecord::Binding { to_queue: true, bind, .. }
            if bind.destination.as_str() == "dq" && bind.source.as_str() == "orders"
    ));
    assert!(matches!(
        &records[4],
        StoreRecord::Binding { to_queue: false, bind, .. } if bind.destination.as_str() == "audit"
    ));
    // Numbering continues across takes.
    w.durable_queue(ch, "dq2");
    assert_eq!(w.broker.take_store_records().0, 6);
}

#[test]
fn transient_topology_emits_nothing() {
    let (mut w, ch) = durable_world();
    w.exchange(ch, "tx", "direct");
    w.declare(ch, "tq");
    w.bind(ch, "tq", "tx", "k");
    durable_exchange(&mut w, ch, "dx", "direct");
    // A binding with one transient end is not durable.
    w.bind(ch, "tq", "dx", "k");
    exclusive_durable_queue(&mut w, ch, "mine");
    w.bind(ch, "mine", "dx", "k");
    assert_eq!(kinds(&log(&mut w)), ["exchange"]);
}

#[test]
fn a_memory_only_broker_emits_no_records() {
    let mut w = World::new();
    let ch = w.client();
    durable_exchange(&mut w, ch, "dx", "direct");
    w.durable_queue(ch, "dq");
    send(&mut w, ch, "", "dq", "m", persistent());
    assert!(log(&mut w).is_empty());
}

#[test]
fn only_persistent_messages_in_durable_queues_are_recorded() {
    let (mut w, ch) = durable_world();
    w.durable_queue(ch, "dq");
    w.declare(ch, "tq");
    log(&mut w);
    send(&mut w, ch, "", "dq", "p", persistent());
    send(&mut w, ch, "", "dq", "t", transient());
    send(&mut w, ch, "", "dq", "none", Properties::default());
    send(&mut w, ch, "", "tq", "p-in-transient-queue", persistent());
    let records = log(&mut w);
    assert_eq!(kinds(&records), ["message"]);
    assert!(matches!(
        &records[0],
        StoreRecord::Message { queue, deliveries: 0, message, .. }
            if queue.as_str() == "dq" && message.body() == b"p"
    ));
}

#[test]
fn settling_a_persistent_message_is_recorded() {
    let (mut w, ch) = durable_world();
    w.durable_queue(ch, "dq");
    for b in ["ack", "requeue", "drop"] {
        send(&mut w, ch, "", "dq", b, persistent());
    }
    let seqs: Vec<u64> = log(&mut w)
        .iter()
        .filter_map(|r| match r {
            StoreRecord::Message { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect();
    assert_eq!(seqs.len(), 3);
    w.prefetch(ch, 3);
    let manual = w.consume(ch, "dq", false);
    assert_eq!(w.bodies(ch), ["ack", "requeue", "drop"]);
    // Each delivery of a persistent message is recorded, so a crash while it
    // is out brings it back marked redelivered.
    let delivered: Vec<StoreRecord> = seqs
        .iter()
        .map(|&seq| StoreRecord::Delivered { seq, deliveries: 1 })
        .collect();
    assert_eq!(log(&mut w), delivered);
    w.broker.channel_flow(w.now, ch, false).unwrap();
    w.ack(ch, 1, false).unwrap();
    w.reject(ch, 2, true).unwrap();
    w.reject(ch, 3, false).unwrap();
    assert_eq!(
        log(&mut w),
        [
            StoreRecord::Settled { seq: seqs[0] },
            StoreRecord::Returned {
                seq: seqs[1],
                deliveries: 1,
                failed: 1
            },
            StoreRecord::Settled { seq: seqs[2] },
        ]
    );
    // A purge settles what it removes; an auto-ack delivery settles at once.
    assert_eq!(w.broker.queue_purge(w.now, ch, "dq"), Ok(1));
    assert_eq!(log(&mut w), [StoreRecord::Settled { seq: seqs[1] }]);
    send(&mut w, ch, "", "dq", "auto", persistent());
    w.broker.channel_flow(w.now, ch, true).unwrap();
    w.broker.basic_cancel(w.now, ch, &manual).unwrap();
    w.consume(ch, "dq", true);
    assert_eq!(kinds(&log(&mut w)), ["message", "settled"]);
}

#[test]
fn confirm_of_a_persistent_message_waits_for_the_store() {
    let (mut w, ch) = durable_world();
    w.durable_queue(ch, "dq");
    w.broker.confirm_select(w.now, ch).unwrap();
    send(&mut w, ch, "", "dq", "p", persistent());
    assert!(w.confirms(ch).is_empty());
    let (first, records) = w.broker.take_store_records();
    let last = first + records.len() as u64 - 1;
    w.broker.store_durable(last - 1);
    w.settle();
    assert!(w.confirms(ch).is_empty());
    w.broker.store_durable(last);
    w.settle();
    assert_eq!(w.confirms(ch), [(1, false, true)]);
    // A transient message needs no store: confirmed at once.
    send(&mut w, ch, "", "dq", "t", transient());
    assert_eq!(w.confirms(ch), [(2, false, true)]);
}

#[test]
fn recovery_rebuilds_durable_topology_and_unsettled_persistent_messages() {
    let (mut w, ch) = durable_world();
    durable_exchange(&mut w, ch, "orders", "topic");
    w.durable_queue(ch, "dq");
    w.bind(ch, "dq", "orders", "order.*");
    w.exchange(ch, "scratch", "fanout");
    w.declare(ch, "tq");
    for b in ["one", "two", "three"] {
        send(&mut w, ch, "orders", "order.new", b, persistent());
    }
    send(&mut w, ch, "orders", "order.new", "transient", transient());
    w.broker.basic_get(w.now, ch, "dq", false).unwrap();
    w.settle();
    assert_eq!(w.bodies(ch), ["one"]);
    w.ack(ch, 1, false).unwrap();

    let mut r = recovered(log(&mut w));
    let snap = r.broker.snapshot();
    let x = snap.exchanges.iter().find(|x| x.name.as_str() == "orders");
    let x = x.expect("durable exchange recovered");
    assert_eq!((x.kind, x.durable), ("topic", true));
    assert!(!snap.exchanges.iter().any(|x| x.name.as_str() == "scratch"));
    assert!(r.broker.queue_counts("/", "tq").is_none());
    assert_eq!(r.ready("/", "dq"), 2);
    let c = r.client();
    r.consume(c, "dq", true);
    let got = r.deliveries(c);
    assert_eq!(
        got.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        ["two", "three"]
    );
    assert!(got.iter().all(|d| !d.redelivered));
    // The binding came back too.
    send(&mut r, c, "orders", "order.more", "after", persistent());
    assert_eq!(r.bodies(c), ["after"]);
}

#[test]
fn recovery_keeps_delivery_counts() {
    let (mut w, ch) = durable_world();
    w.durable_queue(ch, "dq");
    send(&mut w, ch, "", "dq", "twice", persistent());
    for tag in [1, 2] {
        w.broker.basic_get(w.now, ch, "dq", false).unwrap();
        w.settle();
        assert_eq!(w.deliveries(ch)[0].tag, tag);
        w.reject(ch, tag, true).unwrap();
    }
    let mut r = recovered(log(&mut w));
    let c = r.client();
    r.consume(c, "dq", false);
    let got = r.deliveries(c);
    assert_eq!(got.len(), 1);
    assert!(got[0].redelivered);
    assert_eq!(got[0].header("x-delivery-count"), Some(&FieldValue::I64(2)));
}

#[test]
fn unacked_messages_at_a_crash_come_back() {
    let (mut w, ch) = durable_world();
    w.durable_queue(ch, "dq");
    send(&mut w, ch, "", "dq", "held", persistent());
    w.consume(ch, "dq", false);
    assert_eq!(w.bodies(ch), ["held"]);
    // The broker dies while the delivery is out: it was never settled.
    let mut r = recovered(log(&mut w));
    assert_eq!(r.ready("/", "dq"), 1);
    let c = r.client();
    r.consume(c, "dq", false);
    let got = r.deliveries(c);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "held");
    // It had been delivered once: it comes back marked so, as in RabbitMQ.
    // The broker's own crash is not a failed delivery of the message.
    assert!(got[0].redelivered);
    assert_eq!(got[0].header("x-acquired-count"), Some(&FieldValue::I64(1)));
    assert_eq!(got[0].header("x-delivery-count"), None);
}

#[test]
fn after_a_crash_a_message_whose_delivery_record_was_lost_comes_back_flagged() {
    let (mut w, ch) = durable_world();
    w.durable_queue(ch, "dq");
    send(&mut w, ch, "", "dq", "seen", persistent());
    send(&mut w, ch, "", "dq", "waiting", persistent());
    let stored = log(&mut w);
    // Delivered, and acked by the client, but the process dies before the
    // batch holding the delivery record (and the ack) is written.
    w.broker.basic_get(w.now, ch, "dq", false).unwrap();
    w.settle();
    assert_eq!(w.deliveries(ch)[0].body, "seen");
    let unwritten = log(&mut w);
    assert_eq!(kinds(&unwritten), ["delivered"]);

    // Restarted cleanly, the log is exact: nothing was delivered.
    let mut clean = recovered(stored.clone());
    let c = clean.client();
    let got = clean.get(c, "dq", true).unwrap();
    assert!(!got.redelivered);

    // After a crash nothing says which were seen: all come back flagged, so
    // a consumer may trust an unflagged message to be new.
    let mut r = World::with(config());
    r.broker = Broker::recover_after_crash(config(), r.now, stored.clone()).unwrap();
    // The flags are recorded, so that a clean restart after this one keeps them.
    let flags = log(&mut r);
    assert_eq!(kinds(&flags), ["crash-recovered", "delivered", "delivered"]);
    let c = r.client();
    for body in ["seen", "waiting"] {
        let got = r.get(c, "dq", true).unwrap();
        assert_eq!(got.body, body);
        assert!(got.redelivered, "{body} not flagged");
        assert_eq!(got.header("x-acquired-count"), Some(&FieldValue::I64(1)));
        assert_eq!(got.header("x-delivery-count"), None);
    }
    let mut again = recovered(stored.into_iter().chain(flags).collect());
    let c = again.client();
    assert!(again.get(c, "dq", true).unwrap().redelivered);
}

#[test]
fn exclusive_queues_are_not_recovered() {
    let (mut w, ch) = durable_world();
    exclusive_durable_queue(&mut w, ch, "mine");
    send(&mut w, ch, "", "mine", "m", persistent());
    let r = recovered(log(&mut w));
    assert!(r.broker.queue_counts("/", "mine").is_none());
}

#[test]
fn deleted_topology_stays_deleted_after_recovery() {
    let (mut w, ch) = durable_world();
    durable_exchange(&mut w, ch, "gone", "direct");
    durable_exchange(&mut w, ch, "kept", "direct");
    w.durable_queue(ch, "dq");
    w.durable_queue(ch, "dead");
    send(&mut w, ch, "", "dead", "m", persistent());
    w.bind(ch, "dq", "kept", "a");
    w.bind(ch, "dq", "kept", "b");
    w.broker
        .queue_unbind(
            w.now,
            ch,
            Bind {
                destination: s("dq"),
                source: s("kept"),
                routing_key: s("a"),
                arguments: FieldTable::new(),
            },
        )
        .unwrap();
    w.broker.exchange_delete(w.now, ch, "gone", false).unwrap();
    w.broker
        .queue_delete(w.now, ch, "dead", false, false)
        .unwrap();
    let mut r = recovered(log(&mut w));
    let snap = r.broker.snapshot();
    assert!(!snap.exchanges.iter().any(|x| x.name.as_str() == "gone"));
    assert!(r.broker.queue_counts("/", "dead").is_none());
    let kept = snap
        .exchanges
        .iter()
        .find(|x| x.name.as_str() == "kept")
        .unwrap();
    assert_eq!(kept.bindings, [(s("dq"), s("b"))]);
    // Declaring the deleted queue again finds it empty.
    let c = r.client();
    r.durable_queue(c, "dead");
    assert_eq!(r.ready("/", "dead"), 0);
}

fn message_seqs(records: &[StoreRecord]) -> Vec<u64> {
    records
        .iter()
        .filter_map(|r| match r {
            StoreRecord::Message { seq, .. } => Some(*seq),
            _ => None,
        })
        .collect()
}

#[test]
fn recovered_broker_goes_on_numbering_after_the_recovered_messages() {
    let (mut w, ch) = durable_world();
    w.durable_queue(ch, "dq");
    send(&mut w, ch, "", "dq", "old", persistent());
    let records = log(&mut w);
    let old = message_seqs(&records);
    let mut r = recovered(records);
    let c = r.client();
    send(&mut r, c, "", "dq", "new", persistent());
    let new = message_seqs(&log(&mut r));
    assert!(new[0] > old[0], "{new:?} after {old:?}");
    r.consume(c, "dq", true);
    assert_eq!(r.bodies(c), ["old", "new"]);
}

fn busy_broker() -> (World, ChannelRef) {
    let (mut w, ch) = durable_world();
    durable_exchange(&mut w, ch, "events", "topic");
    durable_exchange(&mut w, ch, "fan", "fanout");
    w.exchange(ch, "temp", "direct");
    w.durable_queue(ch, "a");
    w.durable_queue(ch, "b");
    w.declare(ch, "transient-q");
    w.bind(ch, "a", "events", "user.*");
    w.bind(ch, "b", "events", "#");
    w.bind(ch, "transient-q", "events", "#");
    exchange_bind(&mut w, ch, "fan", "events", "audit.#");
    w.bind(ch, "b", "fan", "");
    for (key, body) in [
        ("user.created", "u1"),
        ("audit.login", "a1"),
        ("user.deleted", "u2"),
        ("misc", "x1"),
    ] {
        send(&mut w, ch, "events", key, body, persistent());
    }
    send(&mut w, ch, "events", "user.x", "transient", transient());
    (w, ch)
}

#[test]
fn snapshot_records_recover_into_an_equivalent_broker() {
    let (w, _) = busy_broker();
    let mut r = recovered(w.broker.snapshot_records());
    // The transient queue and exchange are not there, and neither is the
    // transient message (the fifth published); everything else is the same.
    let skip = ["transient-q", "temp"];
    assert_eq!(
        durable_view(&r.broker.snapshot(), &skip, all),
        durable_view(&w.broker.snapshot(), &skip, |id| id != 5)
    );
    assert_eq!((r.ready("/", "a"), r.ready("/", "b")), (2, 4));
    let c = r.client();
    r.consume(c, "b", true);
    assert_eq!(r.bodies(c), ["u1", "a1", "u2", "x1"]);
    // A second round trip changes nothing.
    let again = recovered(r.broker.snapshot_records());
    assert_eq!(
        durable_view(&again.broker.snapshot(), &[], all),
        durable_view(&r.broker.snapshot(), &[], all)
    );
}

#[test]
fn the_record_log_and_the_snapshot_recover_the_same_broker() {
    let (mut w, ch) = busy_broker();
    w.consume(ch, "a", false);
    assert_eq!(w.bodies(ch), ["u1", "u2", "transient"]);
    w.broker.channel_flow(w.now, ch, false).unwrap();
    w.ack(ch, 1, false).unwrap();
    w.reject(ch, 2, true).unwrap();
    w.ack(ch, 3, false).unwrap();
    w.broker.basic_get(w.now, ch, "b", false).unwrap();
    w.settle();
    w.nack(ch, 4, false, false).unwrap();
    let from_snapshot = recovered(w.broker.snapshot_records());
    let from_log = recovered(log(&mut w));
    assert_eq!(
        durable_view(&from_snapshot.broker.snapshot(), &[], all),
        durable_view(&from_log.broker.snapshot(), &[], all)
    );
}

#[test]
fn unacked_persistent_messages_are_in_the_snapshot() {
    let (mut w, ch) = durable_world();
    w.durable_queue(ch, "dq");
    for b in ["m1", "m2", "m3"] {
        send(&mut w, ch, "", "dq", b, persistent());
    }
    w.prefetch(ch, 2);
    w.consume(ch, "dq", false);
    assert_eq!(w.bodies(ch), ["m1", "m2"]);
    w.broker.channel_flow(w.now, ch, false).unwrap();
    w.ack(ch, 1, false).unwrap();
    // m2 is out unacked, m3 ready.
    let records = w.broker.snapshot_records();
    let held: Vec<&[u8]> = records
        .iter()
        .filter_map(|r| match r {
            StoreRecord::Message { message, .. } => Some(message.body()),
            _ => None,
        })
        .collect();
    assert_eq!(held, [b"m2".as_slice(), b"m3".as_slice()]);
    let mut r = recovered(records);
    let c = r.client();
    r.consume(c, "dq", false);
    let got = r.deliveries(c);
    assert_eq!(
        got.iter()
            .map(|d| (d.body.as_str(), d.redelivered))
            .collect::<Vec<_>>(),
        [("m2", true), ("m3", false)]
    );
}

#[test]
fn recovery_reports_a_record_that_does_not_fit() {
    let bad = vec![StoreRecord::Binding {
        vhost: s("/"),
        to_queue: true,
        bind: Bind {
            destination: s("missing"),
            source: s("amq.direct"),
            routing_key: s("k"),
            arguments: FieldTable::new(),
        },
    }];
    let e = Broker::recover(config(), 0, bad).err().unwrap();
    assert_eq!(e.index, 0);
    assert_eq!(e.error.code.code(), 404);
}

#[test]
fn recovery_creates_the_vhosts_it_names() {
    let records = vec![StoreRecord::Queue {
        vhost: s("tenant"),
        declare: QueueDeclare {
            queue: s("q"),
            durable: true,
            ..Default::default()
        },
    }];
    let r = recovered(records);
    assert!(r.broker.queue_counts("tenant", "q").is_some());
    assert!(r.broker.queue_counts("/", "q").is_none());
}

/// Durable queues "ttl" (100 ms TTL, dead-lettered to "dead") and "dead",
/// and one persistent message "expiring" in "ttl".
fn expiring_into_dead(w: &mut World, ch: ChannelRef) {
    w.durable_queue(ch, "dead");
    w.durable_queue_with(
        ch,
        "ttl",
        table(&[
            ("x-message-ttl", FieldValue::I32(100)),
            ("x-dead-letter-exchange", FieldValue::LongStr(b"".to_vec())),
            (
                "x-dead-letter-routing-key",
                FieldValue::LongStr(b"dead".to_vec()),
            ),
        ]),
    );
    send(w, ch, "", "ttl", "expiring", persistent());
}

#[test]
fn a_dead_letter_is_stored_before_its_original_is_settled_so_no_cut_loses_it() {
    // Found by bench/crash-cycles.mjs: a TTL'd message settled in its queue and
    // lost, its dead-lettered copy cut off by a torn write after the settle.
    let (mut w, ch) = durable_world();
    expiring_into_dead(&mut w, ch);
    let mut records = log(&mut w);
    let before = records.len();
    w.advance(150);
    records.extend(log(&mut w));
    assert_eq!(kinds(&records[before..]), ["message", "settled"]);
    // Recovery from every prefix of the log: the message is in one queue or
    // the other (or both, at least once), never gone.
    for cut in before..=records.len() {
        let w = recovered(records[..cut].to_vec());
        let found = w.ready("/", "ttl") + w.ready("/", "dead");
        assert!(found >= 1, "cut after {cut} records: the message is gone");
    }
}

#[test]
fn after_a_crash_a_dead_lettered_copy_of_a_recovered_message_comes_flagged() {
    // Found by bench/crash-cycles.mjs: a message expires, its dead-lettered
    // copy is delivered and acked, and the crash takes the batch holding the
    // copy and the original's removal. After the restart the original expires
    // again and makes a new copy, which the consumer has seen before.
    let (mut w, ch) = durable_world();
    expiring_into_dead(&mut w, ch);
    let stored = log(&mut w);
    w.advance(150);
    let seen = w.get(ch, "dead", true).unwrap();
    assert!(!seen.redelivered, "a first copy is not flagged");
    let copy = |w: &mut World| {
        w.advance(150);
        let c = w.client();
        w.get(c, "dead", true).unwrap()
    };

    // Restarted cleanly from the same log, nothing was seen: not flagged.
    let mut clean = recovered(stored.clone());
    assert!(!copy(&mut clean).redelivered);

    // After a crash the copy is flagged, as every recovered message is.
    let mut r = World::with(config());
    r.broker = Broker::recover_after_crash(config(), r.now, stored.clone()).unwrap();
    let marks = log(&mut r);
    assert_eq!(kinds(&marks), ["crash-recovered", "delivered"]);
    assert!(copy(&mut r).redelivered);

    // A clean restart after the crash's recovery keeps it so, from the log
    // and from a compacted one.
    let mut after = recovered(stored.iter().cloned().chain(marks).collect());
    let compacted = after.broker.snapshot_records();
    assert!(copy(&mut after).redelivered);
    let mut again = recovered(compacted);
    assert!(copy(&mut again).redelivered);

    // Messages published after the restart are new: their copies are not flagged.
    let mut fresh = World::with(config());
    fresh.broker = Broker::recover_after_crash(config(), fresh.now, stored).unwrap();
    let c = fresh.client();
    send(&mut fresh, c, "", "ttl", "later", persistent());
    fresh.advance(150);
    let got: Vec<_> = std::iter::from_fn(|| fresh.get(c, "dead", true)).collect();
    let later = got.iter().find(|m| m.body == "later").unwrap();
    assert!(!later.redelivered);
}

#[test]
fn queues_stored_before_the_queue_type_rules_come_back() {
    // Earlier versions stored any x-queue-type, and a quorum queue with
    // classic-only arguments; a new declaration of either is refused now.
    let typed = |name: &str, args: FieldTable| StoreRecord::Queue {
        vhost: s("/"),
        declare: QueueDeclare {
            queue: s(name),
            durable: true,
            auto_delete: name == "old.auto",
            arguments: args,
            ..Default::default()
        },
    };
    let kind = |k: &str| FieldTable::new().with("x-queue-type", FieldValue::str(k));
    let r = recovered(vec![
        typed("old.stream", kind("stream")),
        typed("old.auto", kind("quorum")),
        typed(
            "old.priority",
            kind("quorum").with("x-max-priority", FieldValue::I32(3)),
        ),
    ]);
    for q in ["old.stream", "old.auto", "old.priority"] {
        assert!(r.broker.queue_counts("/", q).is_some(), "{q}");
    }
}
