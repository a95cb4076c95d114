//! Publisher confirms: sequence numbers, one ack or nack per publish, batching
//! with `multiple`, returns before acks, overflow nacks, and confirms held
//! back until the store has made persistent messages durable.

mod common;
use common::*;
use warren::broker::{BrokerConfig, ChannelRef, Effect, FieldValue, Properties, StoreRecord};

fn confirming() -> (World, ChannelRef) {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.confirm_select(ch);
    (w, ch)
}

fn durable_world() -> (World, ChannelRef) {
    let mut w = World::with(BrokerConfig {
        durable_store: true,
        events: true,
        ..Default::default()
    });
    let ch = w.client();
    (w, ch)
}

/// The store number of the last `Message` record emitted so far.
fn last_message_record(w: &mut World) -> u64 {
    let (first, records) = w.broker.take_store_records();
    let at = records
        .iter()
        .rposition(|r| matches!(r, StoreRecord::Message { .. }))
        .expect("a message record");
    first + at as u64
}

#[test]
fn sequence_numbers_start_at_one_and_each_publish_is_acked_once() {
    let (mut w, ch) = confirming();
    for body in ["a", "b", "c"] {
        w.publish(ch, "", "q", body).unwrap();
    }
    assert_eq!(
        w.confirms(ch),
        [(1, false, true), (2, false, true), (3, false, true)]
    );
    assert_eq!(w.ready("/", "q"), 3);
}

#[test]
fn a_burst_flushed_at_once_is_acked_with_one_multiple_ack() {
    let (mut w, ch) = confirming();
    for i in 0..5 {
        w.send(ch, "", "q", &format!("m{i}"), Properties::default(), false)
            .unwrap();
    }
    assert!(w.confirms(ch).is_empty());
    w.settle();
    assert_eq!(w.confirms(ch), [(5, true, true)]);
}

#[test]
fn a_single_publish_is_acked_without_multiple() {
    let (mut w, ch) = confirming();
    w.send(ch, "", "q", "one", Properties::default(), false)
        .unwrap();
    w.settle();
    assert_eq!(w.confirms(ch), [(1, false, true)]);
}

#[test]
fn confirm_select_is_idempotent_and_keeps_the_sequence() {
    let (mut w, ch) = confirming();
    w.publish(ch, "", "q", "a").unwrap();
    w.confirm_select(ch);
    w.publish(ch, "", "q", "b").unwrap();
    assert_eq!(w.confirms(ch), [(1, false, true), (2, false, true)]);
}

#[test]
fn a_channel_without_confirm_select_gets_no_confirms() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.publish(ch, "", "q", "a").unwrap();
    assert!(w.confirms(ch).is_empty());
}

#[test]
fn confirms_go_to_the_publishing_channel_only() {
    let (mut w, a) = confirming();
    let b = w.channel(a, 2);
    w.confirm_select(b);
    w.publish(b, "", "q", "x").unwrap();
    w.publish(b, "", "q", "y").unwrap();
    w.publish(a, "", "q", "z").unwrap();
    assert_eq!(w.confirms(a), [(1, false, true)]);
    assert_eq!(w.confirms(b), [(1, false, true), (2, false, true)]);
}

#[test]
fn unroutable_mandatory_publish_is_returned_before_its_ack() {
    let (mut w, ch) = confirming();
    w.send(ch, "", "nowhere", "lost", Properties::default(), true)
        .unwrap();
    w.settle();
    let effects = w.take_for(ch);
    assert_eq!(effects.len(), 2, "{effects:?}");
    match &effects[0] {
        Effect::Return {
            reply_code,
            reply_text,
            message,
            ..
        } => {
            assert_eq!(*reply_code, 312);
            assert_eq!(reply_text.as_str(), "NO_ROUTE");
            assert_eq!(message.body(), b"lost");
            assert_eq!(message.routing_key(), "nowhere");
        }
        other => panic!("expected basic.return first, got {other:?}"),
    }
    assert!(matches!(
        effects[1],
        Effect::Confirm {
            delivery_tag: 1,
            multiple: false,
            ack: true,
            ..
        }
    ));
}

#[test]
fn unroutable_publish_without_mandatory_is_acked_and_not_returned() {
    let (mut w, ch) = confirming();
    w.exchange(ch, "x", "direct");
    w.publish(ch, "x", "no-binding", "lost").unwrap();
    let effects = w.take_for(ch);
    assert_eq!(effects.len(), 1, "{effects:?}");
    assert!(matches!(
        effects[0],
        Effect::Confirm {
            delivery_tag: 1,
            ack: true,
            ..
        }
    ));
}

#[test]
fn reject_publish_overflow_nacks_and_does_not_enqueue() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(
        ch,
        "bounded",
        table(&[
            ("x-max-length", FieldValue::I32(1)),
            ("x-overflow", FieldValue::str("reject-publish")),
        ]),
    );
    w.confirm_select(ch);
    w.publish(ch, "", "bounded", "fits").unwrap();
    w.publish(ch, "", "bounded", "refused").unwrap();
    assert_eq!(w.confirms(ch), [(1, false, true), (2, false, false)]);
    assert_eq!(w.ready("/", "bounded"), 1);
    let c = w.client();
    w.consume(c, "bounded", true);
    assert_eq!(w.bodies(c), ["fits"]);
}

#[test]
fn acks_and_nacks_in_one_burst_are_batched_by_outcome_in_order() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(
        ch,
        "bounded",
        table(&[
            ("x-max-length", FieldValue::I32(2)),
            ("x-overflow", FieldValue::str("reject-publish")),
        ]),
    );
    w.confirm_select(ch);
    for body in ["1", "2", "3", "4"] {
        w.send(ch, "", "bounded", body, Properties::default(), false)
            .unwrap();
    }
    w.send(ch, "", "elsewhere", "5", Properties::default(), false)
        .unwrap();
    w.settle();
    let confirms = w.confirms(ch);
    assert_eq!(
        confirms,
        [(2, true, true), (4, true, false), (5, false, true)]
    );
    assert_eq!(
        per_publish(&confirms),
        [(1, true), (2, true), (3, false), (4, false), (5, true)]
    );
}

#[test]
fn mandatory_publish_refused_by_a_full_queue_is_nacked_not_returned() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(
        ch,
        "full",
        table(&[
            ("x-max-length", FieldValue::I32(0)),
            ("x-overflow", FieldValue::str("reject-publish")),
        ]),
    );
    w.confirm_select(ch);
    w.publish_mandatory(ch, "", "full", "m").unwrap();
    let effects = w.take_for(ch);
    assert_eq!(effects.len(), 1, "{effects:?}");
    assert!(matches!(
        effects[0],
        Effect::Confirm {
            delivery_tag: 1,
            ack: false,
            ..
        }
    ));
}

#[test]
fn fanout_publish_is_nacked_when_any_queue_refused_it() {
    let mut w = World::new();
    let ch = w.client();
    w.exchange(ch, "fan", "fanout");
    w.declare(ch, "open");
    w.declare_with(
        ch,
        "full",
        table(&[
            ("x-max-length", FieldValue::I32(0)),
            ("x-overflow", FieldValue::str("reject-publish")),
        ]),
    );
    w.declare(ch, "also-open");
    for q in ["open", "full", "also-open"] {
        w.bind(ch, q, "fan", "");
    }
    w.confirm_select(ch);
    w.publish(ch, "fan", "", "m").unwrap();
    assert_eq!(w.confirms(ch), [(1, false, false)]);
    // The queues with room still took it, as in RabbitMQ.
    assert_eq!(w.ready("/", "open"), 1);
    assert_eq!(w.ready("/", "also-open"), 1);
    assert_eq!(w.ready("/", "full"), 0);
}

#[test]
fn every_publish_gets_exactly_one_confirm_whatever_happens_to_it() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.declare_with(
        ch,
        "tiny",
        table(&[
            ("x-max-length", FieldValue::I32(1)),
            ("x-overflow", FieldValue::str("reject-publish")),
        ]),
    );
    w.confirm_select(ch);
    let targets = ["q", "tiny", "nowhere", "tiny", "q", "nowhere", "tiny", "q"];
    for (i, key) in targets.iter().enumerate() {
        w.send(
            ch,
            "",
            key,
            &i.to_string(),
            Properties::default(),
            i % 2 == 0,
        )
        .unwrap();
        if i % 3 == 2 {
            w.settle();
        }
    }
    w.settle();
    let outcomes = per_publish(&w.confirms(ch));
    let seqs: Vec<u64> = outcomes.iter().map(|o| o.0).collect();
    assert_eq!(seqs, (1..=targets.len() as u64).collect::<Vec<_>>());
    let acks: Vec<bool> = outcomes.iter().map(|o| o.1).collect();
    assert_eq!(acks, [true, true, true, false, true, true, false, true]);
}

#[test]
fn persistent_message_to_a_durable_queue_is_confirmed_once_stored() {
    let (mut w, ch) = durable_world();
    w.durable_queue(ch, "d");
    w.confirm_select(ch);
    w.publish_props(ch, "", "d", "keep me", persistent())
        .unwrap();
    assert!(w.confirms(ch).is_empty());
    let n = last_message_record(&mut w);
    w.broker.store_durable(n - 1);
    w.settle();
    assert!(w.confirms(ch).is_empty());
    w.broker.store_durable(n);
    w.settle();
    assert_eq!(w.confirms(ch), [(1, false, true)]);
}

#[test]
fn store_durable_past_the_record_releases_the_confirm() {
    let (mut w, ch) = durable_world();
    w.durable_queue(ch, "d");
    w.confirm_select(ch);
    w.publish_props(ch, "", "d", "m", persistent()).unwrap();
    let n = last_message_record(&mut w);
    w.broker.store_durable(n + 100);
    w.settle();
    assert_eq!(w.confirms(ch), [(1, false, true)]);
}

#[test]
fn transient_message_to_a_durable_queue_is_confirmed_at_once() {
    let (mut w, ch) = durable_world();
    w.durable_queue(ch, "d");
    w.confirm_select(ch);
    w.publish(ch, "", "d", "transient").unwrap();
    assert_eq!(w.confirms(ch), [(1, false, true)]);
    let (_, records) = w.broker.take_store_records();
    assert!(!records
        .iter()
        .any(|r| matches!(r, StoreRecord::Message { .. })));
}

#[test]
fn persistent_message_to_a_non_durable_queue_is_confirmed_at_once() {
    let (mut w, ch) = durable_world();
    w.declare(ch, "mem");
    w.confirm_select(ch);
    w.publish_props(ch, "", "mem", "m", persistent()).unwrap();
    assert_eq!(w.confirms(ch), [(1, false, true)]);
}

#[test]
fn persistent_message_without_a_durable_store_is_confirmed_at_once() {
    let (mut w, ch) = confirming();
    w.broker
        .queue_declare(
            w.now,
            ch,
            warren::broker::QueueDeclare {
                queue: s("d"),
                durable: true,
                ..Default::default()
            },
        )
        .unwrap();
    w.publish_props(ch, "", "d", "m", persistent()).unwrap();
    assert_eq!(w.confirms(ch), [(1, false, true)]);
}

#[test]
fn a_later_transient_confirm_waits_behind_an_earlier_persistent_one() {
    let (mut w, ch) = durable_world();
    w.durable_queue(ch, "d");
    w.declare(ch, "mem");
    w.confirm_select(ch);
    w.publish_props(ch, "", "d", "persistent", persistent())
        .unwrap();
    w.publish(ch, "", "d", "transient").unwrap();
    w.publish(ch, "", "mem", "elsewhere").unwrap();
    assert!(w.confirms(ch).is_empty());
    let n = last_message_record(&mut w);
    w.broker.store_durable(n);
    w.settle();
    assert_eq!(w.confirms(ch), [(3, true, true)]);
}

#[test]
fn persistent_confirms_are_released_as_far_as_the_store_got() {
    let (mut w, ch) = durable_world();
    w.durable_queue(ch, "d");
    w.confirm_select(ch);
    w.publish_props(ch, "", "d", "1", persistent()).unwrap();
    let first = last_message_record(&mut w);
    w.publish_props(ch, "", "d", "2", persistent()).unwrap();
    let second = last_message_record(&mut w);
    w.publish(ch, "", "d", "3").unwrap();
    w.broker.store_durable(first);
    w.settle();
    assert_eq!(w.confirms(ch), [(1, false, true)]);
    w.broker.store_durable(second);
    w.settle();
    assert_eq!(w.confirms(ch), [(3, true, true)]);
}

#[test]
fn persistent_fanout_to_durable_and_transient_queues_waits_for_the_store() {
    let (mut w, ch) = durable_world();
    w.broker
        .exchange_declare(
            w.now,
            ch,
            warren::broker::ExchangeDeclare {
                exchange: s("fan"),
                kind: s("fanout"),
                durable: true,
                ..Default::default()
            },
        )
        .unwrap();
    w.declare(ch, "mem");
    w.durable_queue(ch, "d");
    w.bind(ch, "mem", "fan", "");
    w.bind(ch, "d", "fan", "");
    w.confirm_select(ch);
    w.publish_props(ch, "fan", "", "m", persistent()).unwrap();
    assert!(w.confirms(ch).is_empty());
    let n = last_message_record(&mut w);
    w.broker.store_durable(n);
    w.settle();
    assert_eq!(w.confirms(ch), [(1, false, true)]);
}

#[test]
fn a_refused_persistent_message_is_nacked_without_waiting_for_the_store() {
    let (mut w, ch) = durable_world();
    w.durable_queue_with(
        ch,
        "d",
        table(&[
            ("x-max-length", FieldValue::I32(0)),
            ("x-overflow", FieldValue::str("reject-publish")),
        ]),
    );
    w.confirm_select(ch);
    w.publish_props(ch, "", "d", "m", persistent()).unwrap();
    assert_eq!(w.confirms(ch), [(1, false, false)]);
}

#[test]
fn closing_a_channel_with_confirms_waiting_for_the_store_drops_them() {
    let (mut w, ch) = durable_world();
    w.durable_queue(ch, "d");
    let other = w.channel(ch, 2);
    w.confirm_select(ch);
    w.confirm_select(other);
    w.publish_props(ch, "", "d", "m", persistent()).unwrap();
    w.publish_props(other, "", "d", "n", persistent()).unwrap();
    let n = last_message_record(&mut w);
    w.close_channel(ch);
    w.broker.store_durable(n);
    w.settle();
    assert!(w.confirms(ch).is_empty());
    assert_eq!(w.confirms(other), [(1, false, true)]);
    assert_eq!(w.ready("/", "d"), 2);
}

#[test]
fn confirm_select_on_a_transactional_channel_is_precondition_failed() {
    let mut w = World::new();
    let ch = w.client();
    w.broker.tx_select(w.now, ch).unwrap();
    let e = w.broker.confirm_select(w.now, ch).unwrap_err();
    assert_eq!(e.code.code(), 406);
    assert_eq!(
        e.text,
        "PRECONDITION_FAILED - cannot switch from tx to confirm mode"
    );
    assert!(!w.broker.channel_is_open(ch));
}

#[test]
fn tx_select_on_a_confirm_channel_is_precondition_failed() {
    let (mut w, ch) = confirming();
    let e = w.broker.tx_select(w.now, ch).unwrap_err();
    assert_eq!(e.code.code(), 406);
    assert_eq!(
        e.text,
        "PRECONDITION_FAILED - cannot switch from confirm to tx mode"
    );
    assert!(!w.broker.channel_is_open(ch));
}

#[test]
fn confirmed_events_follow_the_confirms_sent() {
    let (mut w, ch) = confirming();
    w.events();
    w.send(ch, "", "q", "a", Properties::default(), false)
        .unwrap();
    w.send(ch, "", "q", "b", Properties::default(), false)
        .unwrap();
    w.settle();
    let confirmed: Vec<(u64, bool)> = w
        .events()
        .into_iter()
        .filter_map(|e| match e {
            warren::broker::EventKind::Confirmed { to, seq, ack } if to == ch => Some((seq, ack)),
            _ => None,
        })
        .collect();
    assert_eq!(confirmed, [(1, true), (2, true)]);
}

/// Without events (as hosts run when nobody listens), a run of publishes
/// with one exchange and key goes the kept route's short way: each is
/// still confirmed, and delivered or queued, as the first one was.
#[test]
fn publishes_through_a_kept_route_are_confirmed_and_delivered_without_events() {
    let mut w = World::with(BrokerConfig::default());
    let ch = w.client();
    w.declare(ch, "q");
    w.exchange(ch, "x", "direct");
    w.bind(ch, "q", "x", "k");
    w.confirm_select(ch);
    let consumer = w.client();
    w.prefetch(consumer, 2);
    w.consume(consumer, "q", false);
    for body in ["a", "b", "c"] {
        w.publish(ch, "", "q", body).unwrap();
    }
    for body in ["d", "e"] {
        w.publish(ch, "x", "k", body).unwrap();
    }
    assert_eq!(
        per_publish(&w.confirms(ch)),
        (1..=5).map(|seq| (seq, true)).collect::<Vec<_>>()
    );
    // Two go out at once (prefetch 2); the rest wait in the queue.
    assert_eq!(w.bodies(consumer), ["a", "b"]);
    assert_eq!(w.ready("/", "q"), 3);
    w.ack(consumer, 2, true).unwrap();
    assert_eq!(w.bodies(consumer), ["c", "d"]);
}
