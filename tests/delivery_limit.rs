//! Delivery limit (`x-delivery-limit`, on any queue) and delivery counting
//! as in RabbitMQ 4.3 quorum queues: `x-acquired-count` counts every earlier
//! delivery, `x-delivery-count` the failed ones (basic.reject with requeue,
//! a channel or connection that goes with the message unacked); basic.nack,
//! basic.recover and a consumer timeout hand a message back without a
//! failure. The limit is checked against the failures: a limit of N allows
//! N + 1 failed deliveries, then the message is dead-lettered with reason
//! `delivery_limit`.

mod common;
use common::*;
use warren::broker::DropReason;
use warren::broker::{ChannelRef, EventKind, FieldValue};

/// Queue `q` with a delivery limit, dead-lettering into `dead` when `dlx`.
fn limited(limit: i64, dlx: bool) -> (World, ChannelRef) {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "dead");
    let mut args = vec![("x-delivery-limit", FieldValue::I64(limit))];
    if dlx {
        args.push(("x-dead-letter-exchange", FieldValue::str("")));
        args.push(("x-dead-letter-routing-key", FieldValue::str("dead")));
    }
    w.declare_with(ch, "q", table(&args));
    (w, ch)
}

/// Delivers the message in `q` to a consumer on `ch` and rejects it with
/// requeue until it stops coming back; returns how often it was delivered
/// and the `x-delivery-count` each delivery carried.
fn bounce(w: &mut World, ch: ChannelRef) -> Vec<Option<i64>> {
    w.consume(ch, "q", false);
    let mut counts = Vec::new();
    loop {
        let d = w.deliveries(ch);
        let Some(d) = d.first() else {
            return counts;
        };
        assert!(counts.len() < 100, "never stopped");
        counts.push(d.header("x-delivery-count").and_then(FieldValue::as_i64));
        w.reject(ch, d.tag, true).unwrap();
    }
}

#[test]
fn x_delivery_count_is_absent_first_then_counts_failed_deliveries() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.publish(ch, "", "q", "m").unwrap();
    w.consume(ch, "q", false);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let d = w.deliveries(ch).remove(0);
        seen.push((
            d.redelivered,
            d.header("x-delivery-count").and_then(FieldValue::as_i64),
        ));
        w.reject(ch, d.tag, true).unwrap();
    }
    assert_eq!(seen, [(false, None), (true, Some(1)), (true, Some(2))]);
}

#[test]
fn limit_n_allows_n_plus_one_deliveries_then_dead_letters() {
    let (mut w, ch) = limited(2, true);
    w.publish(ch, "", "q", "poison").unwrap();
    let counts = bounce(&mut w, ch);
    assert_eq!(counts, [None, Some(1), Some(2)]);
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.unacked("/", "q"), 0);
    let c = w.client();
    let dead = w.get(c, "dead", true).unwrap();
    assert_eq!(dead.body, "poison");
    let x = deaths(&dead.message);
    assert_eq!(text(&x[0], "reason").as_deref(), Some("delivery_limit"));
    assert_eq!(text(&x[0], "queue").as_deref(), Some("q"));
    assert_eq!(
        header_text(&dead.message, "x-first-death-reason").as_deref(),
        Some("delivery_limit")
    );
}

#[test]
fn limit_zero_allows_a_single_delivery() {
    let (mut w, ch) = limited(0, true);
    w.publish(ch, "", "q", "once").unwrap();
    assert_eq!(bounce(&mut w, ch), [None]);
    assert_eq!(w.ready("/", "dead"), 1);
}

#[test]
fn past_the_limit_without_a_dead_letter_exchange_the_message_is_dropped() {
    let (mut w, ch) = limited(1, false);
    w.publish(ch, "", "q", "poison").unwrap();
    w.events();
    assert_eq!(bounce(&mut w, ch).len(), 2);
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.ready("/", "dead"), 0);
    assert!(w.events().iter().any(|e| matches!(
        e,
        EventKind::Dropped {
            reason: DropReason::DeliveryLimit,
            ..
        }
    )));
}

#[test]
fn returns_by_channel_close_count_towards_the_limit() {
    let (mut w, p) = limited(1, true);
    w.publish(p, "", "q", "m").unwrap();
    for _ in 0..2 {
        let c = w.client();
        w.consume(c, "q", false);
        assert_eq!(w.deliveries(c).len(), 1);
        w.close_connection(c);
    }
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.ready("/", "dead"), 1);
}

#[test]
fn nack_and_recover_hand_back_without_a_failure_and_never_reach_the_limit() {
    let (mut w, ch) = limited(0, true);
    w.publish(ch, "", "q", "m").unwrap();
    let mut seen = Vec::new();
    for i in 0..4 {
        let d = w.get(ch, "q", false).unwrap();
        seen.push((
            d.redelivered,
            d.header("x-acquired-count").and_then(FieldValue::as_i64),
            d.header("x-delivery-count").and_then(FieldValue::as_i64),
        ));
        if i % 2 == 0 {
            w.nack(ch, d.tag, false, true).unwrap();
        } else {
            w.broker.basic_recover(w.now, ch, true).unwrap();
            w.settle();
        }
    }
    assert_eq!(
        seen,
        [
            (false, None, None),
            (true, Some(1), None),
            (true, Some(2), None),
            (true, Some(3), None)
        ]
    );
    assert_eq!(w.ready("/", "dead"), 0);
    // One failure then, with limit 0, ends it.
    let d = w.get(ch, "q", false).unwrap();
    w.reject(ch, d.tag, true).unwrap();
    assert_eq!(w.ready("/", "dead"), 1);
}

#[test]
fn acquired_and_failed_counts_grow_apart() {
    let (mut w, ch) = limited(10, true);
    w.publish(ch, "", "q", "m").unwrap();
    let d = w.get(ch, "q", false).unwrap();
    w.reject(ch, d.tag, true).unwrap();
    let d = w.get(ch, "q", false).unwrap();
    w.nack(ch, d.tag, false, true).unwrap();
    let d = w.get(ch, "q", false).unwrap();
    assert_eq!(
        d.header("x-acquired-count").and_then(FieldValue::as_i64),
        Some(2)
    );
    assert_eq!(
        d.header("x-delivery-count").and_then(FieldValue::as_i64),
        Some(1)
    );
}

#[test]
fn a_consumer_timeout_is_not_a_failed_delivery() {
    let (mut w, ch) = limited(0, true);
    w.publish(ch, "", "q", "slow").unwrap();
    w.consume_with(
        ch,
        "q",
        false,
        table(&[("x-consumer-timeout", FieldValue::I64(100))]),
    );
    assert_eq!(w.deliveries(ch).len(), 1);
    w.advance(150);
    assert_eq!(w.ready("/", "q"), 1, "requeued, not dead-lettered");
    assert_eq!(w.ready("/", "dead"), 0);
    let c = w.client();
    let d = w.get(c, "q", false).unwrap();
    assert_eq!(
        d.header("x-acquired-count").and_then(FieldValue::as_i64),
        Some(1)
    );
    assert_eq!(d.header("x-delivery-count"), None);
}

#[test]
fn acked_messages_are_not_affected_by_the_limit() {
    let (mut w, ch) = limited(0, true);
    w.fill(ch, "q", &["a", "b"]);
    w.consume(ch, "q", false);
    assert_eq!(w.deliveries(ch).len(), 2);
    w.ack(ch, 2, true).unwrap();
    assert_eq!(w.ready("/", "dead"), 0);
}

#[test]
fn each_message_has_its_own_count() {
    let (mut w, ch) = limited(1, true);
    w.fill(ch, "q", &["a", "b"]);
    w.consume(ch, "q", false);
    let d = w.deliveries(ch);
    assert_eq!(d.len(), 2);
    // a goes back twice, b once.
    w.reject(ch, d[0].tag, true).unwrap();
    let again = w.deliveries(ch);
    assert_eq!(again[0].body, "a");
    w.reject(ch, again[0].tag, true).unwrap();
    w.reject(ch, d[1].tag, true).unwrap();
    let last = w.deliveries(ch);
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].body, "b");
    assert_eq!(
        last[0]
            .header("x-delivery-count")
            .and_then(FieldValue::as_i64),
        Some(1)
    );
    let c = w.client();
    assert_eq!(w.get(c, "dead", true).unwrap().body, "a");
}

#[test]
fn delivery_counts_stop_at_65535_and_never_wrap() {
    // An entry keeps its counts in 16 bits (see `queue::Entry`): past that
    // they stay at the top, so a message bounced for ever never looks new.
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.publish(ch, "", "q", "m").unwrap();
    w.consume(ch, "q", false);
    let counts = |d: &Seen| {
        (
            d.redelivered,
            d.header("x-acquired-count").and_then(FieldValue::as_i64),
            d.header("x-delivery-count").and_then(FieldValue::as_i64),
        )
    };
    let mut last = None;
    for _ in 0..65_538 {
        let d = w.deliveries(ch).remove(0);
        last = Some(counts(&d));
        w.reject(ch, d.tag, true).unwrap();
    }
    assert_eq!(last, Some((true, Some(65_535), Some(65_535))));
}
