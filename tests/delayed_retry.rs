//! Delayed retry (`x-delayed-retry-min`/`x-delayed-retry-max`): a requeued
//! message waits `min * delivery count` (at most `max`) before it is ready
//! again, and then goes back to its original position.

mod common;
use common::*;
use warren::broker::{ChannelRef, EventKind, FieldValue};

fn retrying(min: i32, max: Option<i32>) -> (World, ChannelRef) {
    let mut w = World::new();
    let ch = w.client();
    let mut args = vec![("x-delayed-retry-min", FieldValue::I32(min))];
    if let Some(max) = max {
        args.push(("x-delayed-retry-max", FieldValue::I32(max)));
    }
    w.declare_with(ch, "q", table(&args));
    (w, ch)
}

fn delayed(w: &World) -> usize {
    w.broker.queue_counts("/", "q").unwrap().delayed
}

#[test]
fn a_requeued_message_waits_the_minimum_delay_before_redelivery() {
    let (mut w, ch) = retrying(100, Some(1_000));
    w.publish(ch, "", "q", "m").unwrap();
    w.consume(ch, "q", false);
    let d = w.deliveries(ch);
    w.nack(ch, d[0].tag, false, true).unwrap();
    assert!(w.deliveries(ch).is_empty());
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(delayed(&w), 1);
    assert_eq!(w.broker.next_deadline(), Some(w.now + 100));
    w.advance(99);
    assert!(w.deliveries(ch).is_empty());
    w.advance(1);
    let again = w.deliveries(ch);
    assert_eq!(again.len(), 1);
    assert!(again[0].redelivered);
    assert_eq!(delayed(&w), 0);
}

#[test]
fn the_delay_grows_with_the_delivery_count_up_to_the_maximum() {
    let (mut w, ch) = retrying(100, Some(250));
    w.publish(ch, "", "q", "m").unwrap();
    w.consume(ch, "q", false);
    let mut waits = Vec::new();
    for _ in 0..4 {
        let d = w.deliveries(ch);
        assert_eq!(d.len(), 1);
        w.reject(ch, d[0].tag, true).unwrap();
        let wait = w.broker.next_deadline().unwrap() - w.now;
        waits.push(wait);
        w.advance(wait);
    }
    assert_eq!(waits, [100, 200, 250, 250]);
}

#[test]
fn without_a_maximum_the_delay_stays_at_the_minimum() {
    let (mut w, ch) = retrying(50, None);
    w.publish(ch, "", "q", "m").unwrap();
    w.consume(ch, "q", false);
    for _ in 0..3 {
        let d = w.deliveries(ch);
        w.reject(ch, d[0].tag, true).unwrap();
        assert_eq!(w.broker.next_deadline(), Some(w.now + 50));
        w.advance(50);
    }
    assert_eq!(w.deliveries(ch).len(), 1);
}

#[test]
fn after_the_delay_the_message_goes_back_to_its_original_position() {
    let (mut w, ch) = retrying(100, Some(100));
    w.fill(ch, "q", &["m1", "m2", "m3"]);
    let first = w.get(ch, "q", false).unwrap();
    assert_eq!(first.body, "m1");
    w.reject(ch, first.tag, true).unwrap();
    assert_eq!(w.ready("/", "q"), 2);
    w.advance(100);
    assert_eq!(w.ready("/", "q"), 3);
    let c = w.client();
    w.consume(c, "q", true);
    assert_eq!(w.bodies(c), ["m1", "m2", "m3"]);
}

#[test]
fn other_messages_are_delivered_while_one_waits() {
    let (mut w, ch) = retrying(1_000, Some(1_000));
    w.fill(ch, "q", &["m1", "m2"]);
    w.prefetch(ch, 1);
    w.consume(ch, "q", false);
    assert_eq!(w.bodies(ch), ["m1"]);
    w.nack(ch, 1, false, true).unwrap();
    assert_eq!(w.bodies(ch), ["m2"]);
    w.ack(ch, 2, false).unwrap();
    w.advance(1_000);
    let d = w.deliveries(ch);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].body, "m1");
    assert_eq!(
        d[0].header("x-acquired-count").and_then(FieldValue::as_i64),
        Some(1)
    );
}

#[test]
fn messages_returned_by_a_closed_channel_are_delayed_too() {
    let (mut w, p) = retrying(200, Some(200));
    w.publish(p, "", "q", "m").unwrap();
    let c = w.client();
    w.consume(c, "q", false);
    assert_eq!(w.bodies(c), ["m"]);
    w.close_connection(c);
    assert_eq!(delayed(&w), 1);
    let d = w.client();
    w.consume(d, "q", false);
    assert!(w.bodies(d).is_empty());
    w.advance(200);
    assert_eq!(w.bodies(d), ["m"]);
}

#[test]
fn the_requeued_event_carries_the_delay() {
    let (mut w, ch) = retrying(100, Some(1_000));
    w.publish(ch, "", "q", "m").unwrap();
    w.consume(ch, "q", false);
    w.deliveries(ch);
    w.events();
    w.nack(ch, 1, false, true).unwrap();
    assert!(w
        .events()
        .iter()
        .any(|e| matches!(e, EventKind::Requeued { delay_ms: 100, .. })));
}

#[test]
fn a_delivery_limit_still_applies_before_any_delay() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "dead");
    w.declare_with(
        ch,
        "q",
        table(&[
            ("x-delayed-retry-min", FieldValue::I32(100)),
            ("x-delivery-limit", FieldValue::I32(1)),
            ("x-dead-letter-exchange", FieldValue::str("")),
            ("x-dead-letter-routing-key", FieldValue::str("dead")),
        ]),
    );
    w.publish(ch, "", "q", "m").unwrap();
    w.consume(ch, "q", false);
    let d = w.deliveries(ch);
    w.reject(ch, d[0].tag, true).unwrap();
    w.advance(100);
    let d = w.deliveries(ch);
    w.reject(ch, d[0].tag, true).unwrap();
    assert_eq!(delayed(&w), 0);
    assert_eq!(w.ready("/", "dead"), 1);
}

#[test]
fn a_message_whose_ttl_runs_out_while_delayed_expires() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "dead");
    w.declare_with(
        ch,
        "q",
        table(&[
            ("x-delayed-retry-min", FieldValue::I32(500)),
            ("x-message-ttl", FieldValue::I32(300)),
            ("x-dead-letter-exchange", FieldValue::str("")),
            ("x-dead-letter-routing-key", FieldValue::str("dead")),
        ]),
    );
    w.publish(ch, "", "q", "m").unwrap();
    w.consume(ch, "q", false);
    let d = w.deliveries(ch);
    w.nack(ch, d[0].tag, false, true).unwrap();
    w.advance(500);
    assert!(w.deliveries(ch).is_empty());
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.ready("/", "dead"), 1);
}

#[test]
fn invalid_delayed_retry_arguments_are_precondition_failed() {
    let mut w = World::new();
    for args in [
        vec![("x-delayed-retry-max", FieldValue::I32(100))],
        vec![
            ("x-delayed-retry-min", FieldValue::I32(100)),
            ("x-delayed-retry-max", FieldValue::I32(50)),
        ],
        vec![("x-delayed-retry-min", FieldValue::I32(0))],
        vec![("x-delayed-retry-min", FieldValue::str("100"))],
    ] {
        let ch = w.client();
        let e = w.declare_error(ch, &args);
        assert_eq!(e.code.code(), 406, "{args:?}");
        assert!(e.text.contains("x-delayed-retry"), "{}", e.text);
    }
}
