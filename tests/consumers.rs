//! Consumers: round-robin, prefetch per consumer and per channel, automatic
//! acknowledgment, exclusive consumers, single active consumer, priority
//! queues, consumer priorities, `basic.get`, consumer tags and channel flow.

mod common;
use common::*;
use warren::broker::{
    AmqpError, BrokerConfig, ChannelRef, Consume, Effect, FieldValue, Message, Properties, Qos,
    QueueDeclare, ShortStr, DISPATCH_ROUND,
};

fn numbered(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("m{i}")).collect()
}

fn fill_n(w: &mut World, ch: ChannelRef, q: &str, n: usize) {
    for b in numbered(n) {
        w.publish(ch, "", q, &b).unwrap();
    }
}

fn consume_req(w: &mut World, ch: ChannelRef, c: Consume) -> Result<ShortStr, AmqpError> {
    let r = w.broker.basic_consume(w.now, ch, c);
    w.settle();
    r
}

fn consume_tagged(
    w: &mut World,
    ch: ChannelRef,
    q: &str,
    tag: &str,
) -> Result<ShortStr, AmqpError> {
    consume_req(
        w,
        ch,
        Consume {
            queue: s(q),
            consumer_tag: s(tag),
            ..Default::default()
        },
    )
}

fn consume_exclusive(w: &mut World, ch: ChannelRef, q: &str) -> Result<ShortStr, AmqpError> {
    consume_req(
        w,
        ch,
        Consume {
            queue: s(q),
            exclusive: true,
            ..Default::default()
        },
    )
}

fn cancel(w: &mut World, ch: ChannelRef, tag: &str) {
    w.broker.basic_cancel(w.now, ch, tag).unwrap();
    w.settle();
}

fn global_prefetch(w: &mut World, ch: ChannelRef, n: u16) {
    w.broker
        .basic_qos(
            w.now,
            ch,
            Qos {
                prefetch_count: n,
                global: true,
                ..Default::default()
            },
        )
        .unwrap();
    w.settle();
}

fn get(w: &mut World, ch: ChannelRef, q: &str, no_ack: bool) -> Option<String> {
    w.broker.basic_get(w.now, ch, q, no_ack).unwrap();
    w.settle();
    w.bodies(ch).pop()
}

fn priority(p: u8) -> Properties {
    Properties {
        priority: Some(p),
        ..Default::default()
    }
}

fn with_priority(p: i32) -> warren::broker::FieldTable {
    table(&[("x-priority", FieldValue::I32(p))])
}

#[test]
fn messages_are_shared_round_robin_between_consumers() {
    let mut w = World::new();
    let a = w.client();
    let b = w.client();
    let c = w.client();
    w.declare(a, "q");
    for ch in [a, b, c] {
        w.consume(ch, "q", false);
    }
    fill_n(&mut w, a, "q", 7);
    assert_eq!(w.bodies(a), ["m1", "m4", "m7"]);
    assert_eq!(w.bodies(b), ["m2", "m5"]);
    assert_eq!(w.bodies(c), ["m3", "m6"]);
}

#[test]
fn a_consumer_without_room_is_skipped_by_round_robin() {
    let mut w = World::new();
    let a = w.client();
    let b = w.client();
    w.declare(a, "q");
    w.prefetch(a, 1);
    w.consume(a, "q", false);
    w.consume(b, "q", false);
    fill_n(&mut w, a, "q", 4);
    assert_eq!(w.bodies(a), ["m1"]);
    assert_eq!(w.bodies(b), ["m2", "m3", "m4"]);
}

#[test]
fn a_new_consumer_joins_the_back_of_the_round() {
    // RabbitMQ 3.10 (tests/rabbitmq/dispatch-walk.mjs): b got the
    // last message, yet a new consumer c waits behind it.
    let mut w = World::new();
    let (a, b, c) = (w.client(), w.client(), w.client());
    w.declare(a, "q");
    w.consume(a, "q", false);
    w.consume(b, "q", false);
    fill_n(&mut w, a, "q", 2);
    w.consume(c, "q", false);
    fill_n(&mut w, a, "q", 3);
    assert_eq!(w.bodies(a), ["m1", "m1"]);
    assert_eq!(w.bodies(b), ["m2", "m2"]);
    assert_eq!(w.bodies(c), ["m3"]);
}

#[test]
fn each_priority_keeps_its_own_round() {
    // RabbitMQ 3.10 (dispatch-walk.mjs): the high-priority consumer's
    // deliveries do not move the round of those below it.
    let mut w = World::new();
    let (a, high, b) = (w.client(), w.client(), w.client());
    w.declare(a, "q");
    w.consume(a, "q", false);
    w.prefetch(high, 1);
    w.consume_with(high, "q", false, with_priority(1));
    w.consume(b, "q", false);
    fill_n(&mut w, a, "q", 3);
    assert_eq!(w.bodies(high), ["m1"]);
    assert_eq!(w.bodies(a), ["m2"]);
    assert_eq!(w.bodies(b), ["m3"]);
}

#[test]
fn a_consumer_passed_over_while_full_joins_the_back_once_it_has_room() {
    // RabbitMQ 3.10 (dispatch-walk.mjs): a was full when its turn
    // came, so after its ack it waits behind b, which had room all along.
    let mut w = World::new();
    let (a, b) = (w.client(), w.client());
    w.declare(a, "q");
    w.prefetch(a, 1);
    w.consume(a, "q", false);
    w.consume(b, "q", false);
    fill_n(&mut w, a, "q", 3);
    assert_eq!(w.bodies(a), ["m1"]);
    assert_eq!(w.bodies(b), ["m2", "m3"]);
    w.ack(a, 1, false).unwrap();
    w.settle();
    fill_n(&mut w, a, "q", 2);
    assert_eq!(w.bodies(b), ["m1"]);
    assert_eq!(w.bodies(a), ["m2"]);
}

#[test]
fn a_per_consumer_prefetch_set_after_a_channel_prefetch_lifts_it() {
    // As RabbitMQ 3.10 (tests/rabbitmq/dispatch-walk.mjs): basic.qos
    // with global=false ends the channel-wide limit; the other order keeps
    // both (per_consumer_and_global_prefetch_both_apply).
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    global_prefetch(&mut w, ch, 2);
    w.prefetch(ch, 3);
    w.consume(ch, "q", false);
    fill_n(&mut w, ch, "q", 4);
    assert_eq!(w.bodies(ch), ["m1", "m2", "m3"]);
}

#[test]
fn prefetch_applies_to_each_consumer_of_the_channel() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "a");
    w.declare(ch, "b");
    w.prefetch(ch, 2);
    w.consume(ch, "a", false);
    w.consume(ch, "b", false);
    fill_n(&mut w, ch, "a", 3);
    fill_n(&mut w, ch, "b", 3);
    // Each consumer holds up to two: four in all on the one channel.
    assert_eq!(w.deliveries(ch).len(), 4);
    assert_eq!((w.unacked("/", "a"), w.unacked("/", "b")), (2, 2));
    assert_eq!((w.ready("/", "a"), w.ready("/", "b")), (1, 1));
}

#[test]
fn per_consumer_prefetch_only_affects_consumers_created_after_it() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "a");
    w.declare(ch, "b");
    w.consume(ch, "a", false);
    w.prefetch(ch, 1);
    w.consume(ch, "b", false);
    fill_n(&mut w, ch, "a", 3);
    fill_n(&mut w, ch, "b", 3);
    assert_eq!((w.unacked("/", "a"), w.unacked("/", "b")), (3, 1));
}

#[test]
fn a_channel_wide_prefetch_does_not_count_basic_get_deliveries() {
    // As RabbitMQ's limiter (tests/rabbitmq/channel-walk.mjs seed 222): a
    // get's unacked message leaves the consumers their whole window.
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    global_prefetch(&mut w, ch, 2);
    fill_n(&mut w, ch, "q", 5);
    assert_eq!(get(&mut w, ch, "q", false).as_deref(), Some("m1"));
    assert_eq!(get(&mut w, ch, "q", false).as_deref(), Some("m2"));
    w.consume(ch, "q", false);
    assert_eq!(w.bodies(ch), ["m3", "m4"]);
    // Acking the gets makes no room for the consumer; acking its own does.
    w.ack(ch, 2, true).unwrap();
    assert!(w.bodies(ch).is_empty());
    w.ack(ch, 3, false).unwrap();
    assert_eq!(w.bodies(ch), ["m5"]);
}

#[test]
fn global_prefetch_limits_the_channel_as_a_whole() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "a");
    w.declare(ch, "b");
    global_prefetch(&mut w, ch, 3);
    w.consume(ch, "a", false);
    w.consume(ch, "b", false);
    fill_n(&mut w, ch, "a", 4);
    fill_n(&mut w, ch, "b", 4);
    assert_eq!(w.deliveries(ch).len(), 3);
    w.ack(ch, 2, true).unwrap();
    assert_eq!(w.deliveries(ch).len(), 2);
    assert_eq!(w.unacked("/", "a") + w.unacked("/", "b"), 3);
}

#[test]
fn per_consumer_and_global_prefetch_both_apply() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "a");
    w.declare(ch, "b");
    global_prefetch(&mut w, ch, 3);
    w.prefetch(ch, 1);
    w.consume(ch, "a", false);
    w.consume(ch, "b", false);
    fill_n(&mut w, ch, "a", 4);
    fill_n(&mut w, ch, "b", 4);
    // Per consumer 1 is the tighter limit here: two deliveries.
    assert_eq!(w.deliveries(ch).len(), 2);
}

#[test]
fn raising_the_channel_prefetch_delivers_more_at_once() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    global_prefetch(&mut w, ch, 1);
    w.consume(ch, "q", false);
    fill_n(&mut w, ch, "q", 3);
    assert_eq!(w.bodies(ch), ["m1"]);
    global_prefetch(&mut w, ch, 3);
    assert_eq!(w.bodies(ch), ["m2", "m3"]);
}

#[test]
fn no_ack_consumer_gets_everything_and_holds_nothing() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.prefetch(ch, 1);
    global_prefetch(&mut w, ch, 1);
    w.consume(ch, "q", true);
    fill_n(&mut w, ch, "q", 5);
    assert_eq!(w.bodies(ch), numbered(5));
    assert_eq!((w.ready("/", "q"), w.unacked("/", "q")), (0, 0));
    // There is nothing to ack.
    assert_eq!(w.ack(ch, 1, false).unwrap_err().code.code(), 406);
}

#[test]
fn exclusive_consume_on_a_queue_with_consumers_is_access_refused() {
    let mut w = World::new();
    let a = w.client();
    let b = w.client();
    w.declare(a, "q");
    w.consume(a, "q", false);
    let e = consume_exclusive(&mut w, b, "q").unwrap_err();
    assert_eq!(
        (e.code.code(), e.text.as_str()),
        (
            403,
            "ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use"
        )
    );
    assert!(!w.broker.channel_is_open(b));
    assert!(w.broker.connection_info(b.conn).is_some());
}

#[test]
fn an_exclusive_consumer_keeps_others_out_until_it_cancels() {
    let mut w = World::new();
    let a = w.client();
    let b = w.client();
    w.declare(a, "q");
    let tag = consume_exclusive(&mut w, a, "q").unwrap();
    let e = consume_tagged(&mut w, b, "q", "later").unwrap_err();
    assert_eq!(
        (e.code.code(), e.text.as_str()),
        (
            403,
            "ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use"
        )
    );
    // The same channel cannot add another consumer either.
    let a2 = w.channel(a, 2);
    assert_eq!(
        consume_tagged(&mut w, a2, "q", "again")
            .unwrap_err()
            .code
            .code(),
        403
    );
    fill_n(&mut w, a, "q", 2);
    assert_eq!(w.bodies(a), ["m1", "m2"]);
    cancel(&mut w, a, &tag);
    let b = w.channel(b, 2);
    consume_tagged(&mut w, b, "q", "later").unwrap();
}

#[test]
fn single_active_consumer_gets_everything_and_the_next_takes_over() {
    let mut w = World::new();
    let a = w.client();
    let b = w.client();
    w.declare_with(
        a,
        "sac",
        table(&[("x-single-active-consumer", FieldValue::Bool(true))]),
    );
    let ta = w.consume(a, "sac", false);
    w.consume(b, "sac", false);
    fill_n(&mut w, a, "sac", 4);
    assert_eq!(w.bodies(a), ["m1", "m2", "m3", "m4"]);
    assert!(w.bodies(b).is_empty());
    w.ack(a, 2, true).unwrap();
    // The active consumer goes: its unacked ones come back, the next one gets
    // them in order, then everything after.
    cancel(&mut w, a, &ta);
    w.close_channel(a);
    fill_n(&mut w, b, "sac", 1);
    let got = w.deliveries(b);
    assert_eq!(
        got.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        ["m3", "m4", "m1"]
    );
    assert_eq!(
        got.iter().map(|d| d.redelivered).collect::<Vec<_>>(),
        [true, true, false]
    );
}

#[test]
fn single_active_consumer_that_is_full_holds_back_the_queue() {
    let mut w = World::new();
    let a = w.client();
    let b = w.client();
    w.declare_with(
        a,
        "sac",
        table(&[("x-single-active-consumer", FieldValue::Bool(true))]),
    );
    w.prefetch(a, 1);
    w.consume(a, "sac", false);
    w.consume(b, "sac", false);
    fill_n(&mut w, a, "sac", 3);
    assert_eq!(w.bodies(a), ["m1"]);
    assert!(w.bodies(b).is_empty());
    assert_eq!(w.ready("/", "sac"), 2);
    w.ack(a, 1, false).unwrap();
    assert_eq!(w.bodies(a), ["m2"]);
}

#[test]
fn priority_queue_delivers_higher_priority_first_and_fifo_within_one() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(ch, "pq", table(&[("x-max-priority", FieldValue::U8(5))]));
    for (body, p) in [
        ("low1", 1),
        ("high1", 5),
        ("none", 0),
        ("low2", 1),
        ("above-max", 9),
        ("high2", 5),
    ] {
        w.publish_props(ch, "", "pq", body, priority(p)).unwrap();
    }
    w.publish(ch, "", "pq", "unset").unwrap();
    w.consume(ch, "pq", true);
    assert_eq!(
        w.bodies(ch),
        [
            "high1",
            "above-max",
            "high2",
            "low1",
            "low2",
            "none",
            "unset"
        ]
    );
}

#[test]
fn queue_without_max_priority_ignores_message_priority() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.publish_props(ch, "", "q", "a", priority(1)).unwrap();
    w.publish_props(ch, "", "q", "b", priority(9)).unwrap();
    w.consume(ch, "q", true);
    assert_eq!(w.bodies(ch), ["a", "b"]);
}

#[test]
fn requeued_message_keeps_its_place_within_its_priority() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(ch, "pq", table(&[("x-max-priority", FieldValue::I32(2))]));
    for (body, p) in [("h1", 2), ("h2", 2), ("l1", 0)] {
        w.publish_props(ch, "", "pq", body, priority(p)).unwrap();
    }
    assert_eq!(get(&mut w, ch, "pq", false).as_deref(), Some("h1"));
    w.reject(ch, 1, true).unwrap();
    let c = w.client();
    w.consume(c, "pq", true);
    assert_eq!(w.bodies(c), ["h1", "h2", "l1"]);
}

#[test]
fn higher_priority_consumer_gets_messages_while_it_has_room() {
    let mut w = World::new();
    let hi = w.client();
    let lo = w.client();
    w.declare(hi, "q");
    w.prefetch(hi, 2);
    w.consume_with(hi, "q", false, with_priority(10));
    w.consume_with(lo, "q", false, with_priority(1));
    fill_n(&mut w, hi, "q", 2);
    assert_eq!(w.bodies(hi), ["m1", "m2"]);
    assert!(w.bodies(lo).is_empty());
    // Full: the lower one gets what comes next.
    fill_n(&mut w, hi, "q", 3);
    assert_eq!(w.bodies(lo), ["m1", "m2", "m3"]);
    // Room again: back to the higher one.
    w.ack(hi, 1, false).unwrap();
    w.publish(hi, "", "q", "next").unwrap();
    assert_eq!(w.bodies(hi), ["next"]);
    assert!(w.bodies(lo).is_empty());
}

#[test]
fn consumers_of_equal_priority_share_round_robin() {
    let mut w = World::new();
    let a = w.client();
    let b = w.client();
    let low = w.client();
    w.declare(a, "q");
    w.consume_with(a, "q", false, with_priority(5));
    w.consume_with(low, "q", false, with_priority(-1));
    w.consume_with(b, "q", false, with_priority(5));
    fill_n(&mut w, a, "q", 4);
    assert_eq!(w.bodies(a), ["m1", "m3"]);
    assert_eq!(w.bodies(b), ["m2", "m4"]);
    assert!(w.bodies(low).is_empty());
}

#[test]
fn consumer_priority_that_is_not_an_integer_is_precondition_failed() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    let e = consume_req(
        &mut w,
        ch,
        Consume {
            queue: s("q"),
            arguments: table(&[("x-priority", FieldValue::str("high"))]),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.code.code(), 406);
}

#[test]
fn basic_get_ignores_prefetch() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.declare(ch, "other");
    fill_n(&mut w, ch, "q", 3);
    fill_n(&mut w, ch, "other", 1);
    w.prefetch(ch, 1);
    global_prefetch(&mut w, ch, 1);
    // A consumer fills the channel's prefetch...
    w.consume(ch, "other", false);
    assert_eq!(w.bodies(ch), ["m1"]);
    // ...and get still hands out everything.
    for expect in ["m1", "m2", "m3"] {
        assert_eq!(get(&mut w, ch, "q", false).as_deref(), Some(expect));
    }
    assert_eq!(w.unacked("/", "q"), 3);
}

#[test]
fn basic_get_on_a_missing_queue_is_not_found() {
    let mut w = World::new();
    let ch = w.client();
    let e = w.broker.basic_get(w.now, ch, "nope", false).unwrap_err();
    assert_eq!(
        (e.code.code(), e.text.as_str()),
        (404, "NOT_FOUND - no queue 'nope' in vhost '/'")
    );
}

#[test]
fn consuming_from_a_missing_queue_is_not_found() {
    let mut w = World::new();
    let ch = w.client();
    let e = consume_tagged(&mut w, ch, "nope", "c").unwrap_err();
    assert_eq!(
        (e.code.code(), e.text.as_str()),
        (404, "NOT_FOUND - no queue 'nope' in vhost '/'")
    );
    assert!(!w.broker.channel_is_open(ch));
}

#[test]
fn reusing_a_consumer_tag_on_the_channel_is_not_allowed_and_closes_the_connection() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "a");
    w.declare(ch, "b");
    consume_tagged(&mut w, ch, "a", "worker").unwrap();
    let e = consume_tagged(&mut w, ch, "b", "worker").unwrap_err();
    assert_eq!(
        (e.code.code(), e.text.as_str()),
        (530, "NOT_ALLOWED - attempt to reuse consumer tag 'worker'")
    );
    assert!(!e.is_soft());
    assert!(w.broker.connection_info(ch.conn).is_none());
}

#[test]
fn the_same_consumer_tag_on_another_channel_is_fine() {
    let mut w = World::new();
    let a = w.client();
    w.declare(a, "q");
    let b = w.channel(a, 2);
    consume_tagged(&mut w, a, "q", "worker").unwrap();
    consume_tagged(&mut w, b, "q", "worker").unwrap();
    assert_eq!(w.broker.queue_counts("/", "q").unwrap().consumers, 2);
}

#[test]
fn a_cancelled_tag_can_be_used_again() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    consume_tagged(&mut w, ch, "q", "worker").unwrap();
    cancel(&mut w, ch, "worker");
    consume_tagged(&mut w, ch, "q", "worker").unwrap();
}

#[test]
fn acking_a_cancelled_consumers_delivery_frees_no_room_of_a_new_one_with_its_tag() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.prefetch(ch, 1);
    fill_n(&mut w, ch, "q", 3);
    consume_tagged(&mut w, ch, "q", "worker").unwrap();
    let first = w.deliveries(ch);
    assert_eq!(
        first.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        ["m1"]
    );
    cancel(&mut w, ch, "worker");
    // The same tag again: another consumer, with its own prefetch of 1.
    consume_tagged(&mut w, ch, "q", "worker").unwrap();
    assert_eq!(w.bodies(ch), ["m2"]);
    // The old delivery's ack is the old consumer's: the new one still
    // holds m2, so m3 waits.
    w.ack(ch, first[0].tag, false).unwrap();
    assert!(w.bodies(ch).is_empty());
    assert_eq!(w.ready("/", "q"), 1);
}

#[test]
fn generated_consumer_tags_are_amq_ctag_and_unique() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    let a = w.consume(ch, "q", false);
    let b = w.consume(ch, "q", false);
    for t in [&a, &b] {
        let rest = t.strip_prefix("amq.ctag-").unwrap();
        assert_eq!(rest.len(), 22, "{t}");
    }
    assert_ne!(a, b);
    w.fill(ch, "q", &["x"]);
    let snap = w.broker.snapshot();
    assert!(snap.consumers.iter().any(|c| c.tag.as_str() == a));
}

#[test]
fn cancelling_an_unknown_tag_is_fine() {
    let mut w = World::new();
    let ch = w.client();
    w.broker.basic_cancel(w.now, ch, "never-existed").unwrap();
    assert!(w.broker.channel_is_open(ch));
}

#[test]
fn channel_flow_off_stops_deliveries_and_on_resumes_them() {
    let mut w = World::new();
    let ch = w.client();
    let p = w.client();
    w.declare(ch, "q");
    w.consume(ch, "q", false);
    assert_eq!(w.broker.channel_flow(w.now, ch, false), Ok(false));
    w.settle();
    fill_n(&mut w, p, "q", 2);
    assert!(w.bodies(ch).is_empty());
    assert_eq!(w.ready("/", "q"), 2);
    assert_eq!(w.broker.channel_flow(w.now, ch, true), Ok(true));
    w.settle();
    assert_eq!(w.bodies(ch), ["m1", "m2"]);
}

#[test]
fn channel_flow_off_also_stops_no_ack_consumers() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.consume(ch, "q", true);
    w.broker.channel_flow(w.now, ch, false).unwrap();
    fill_n(&mut w, ch, "q", 1);
    assert!(w.bodies(ch).is_empty());
    w.broker.channel_flow(w.now, ch, true).unwrap();
    w.settle();
    assert_eq!(w.bodies(ch), ["m1"]);
}

#[test]
fn exclusive_queue_consumers_may_come_from_any_channel_of_the_owner() {
    let mut w = World::new();
    let ch = w.client();
    w.broker
        .queue_declare(
            w.now,
            ch,
            QueueDeclare {
                queue: s("mine"),
                exclusive: true,
                ..Default::default()
            },
        )
        .unwrap();
    let second = w.channel(ch, 2);
    w.consume(second, "mine", true);
    w.fill(ch, "mine", &["x"]);
    assert_eq!(w.bodies(second), ["x"]);
}

/// The bodies of the deliveries among `effects`, in order.
fn delivered_bodies(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Deliver { message, .. } => {
                Some(String::from_utf8_lossy(message.body()).into_owned())
            }
            _ => None,
        })
        .collect()
}

/// A consumer without a prefetch limit (automatic acknowledgment, or
/// manual with prefetch 0) on a 100 k backlog gets it in rounds of at most
/// `DISPATCH_ROUND` per poll, in order, until all of it is out; publishes
/// meanwhile add no deliveries outside the polls and go behind the backlog.
#[test]
fn a_backlog_reaches_an_unlimited_consumer_in_bounded_rounds() {
    const N: usize = 100_000;
    for no_ack in [true, false] {
        let mut w = World::with(BrokerConfig::default());
        let ch = w.client();
        w.declare(ch, "q");
        // Message i, its number as its body, to "q".
        let publish = |w: &mut World, i: usize| {
            let m = Message::new(
                s(""),
                s("q"),
                Properties::default(),
                i.to_string().as_bytes(),
            );
            w.broker.basic_publish(w.now, ch, m, false, false).unwrap();
        };
        for i in 0..N {
            publish(&mut w, i);
        }
        w.broker.flush(w.now);
        let consume = Consume {
            queue: s("q"),
            no_ack,
            ..Default::default()
        };
        w.broker.basic_consume(w.now, ch, consume).unwrap();
        let mut next = 0;
        let mut polls = 0;
        while w.broker.has_pending_dispatch() {
            w.broker.poll(w.now);
            polls += 1;
            let bodies = delivered_bodies(&w.broker.take_effects());
            assert!(!bodies.is_empty() && bodies.len() <= DISPATCH_ROUND);
            for b in bodies {
                assert_eq!(b, next.to_string());
                next += 1;
            }
            if polls == 1 {
                // Into the backlog between two polls: nothing goes out now.
                for i in N..N + 10 {
                    publish(&mut w, i);
                }
                assert!(delivered_bodies(&w.broker.take_effects()).is_empty());
            }
            assert!(polls <= N, "the rounds never end");
        }
        assert_eq!(next, N + 10);
        assert_eq!(polls, (N + 10).div_ceil(DISPATCH_ROUND));
        assert_eq!(w.broker.queue_counts("/", "q").unwrap().ready, 0);
    }
}

/// A queue whose consumer (prefetch 1) is full behind a backlog: m1 out,
/// m2 and m3 ready, then m4 published while the queue waits for room (a
/// publish then makes no dispatch pass: nothing could go).
/// Returns the consumer's channel, the publisher's and the consumer tag.
fn full_behind_a_backlog(
    w: &mut World,
    args: warren::broker::FieldTable,
) -> (ChannelRef, ChannelRef, String) {
    let ch = w.client();
    let p = w.client();
    w.declare_with(ch, "q", args);
    w.prefetch(ch, 1);
    let tag = w.consume(ch, "q", false);
    fill_n(w, p, "q", 3);
    assert_eq!(w.bodies(ch), ["m1"]);
    w.publish(p, "", "q", "m4").unwrap();
    assert!(w.bodies(ch).is_empty());
    assert_eq!(w.ready("/", "q"), 3);
    (ch, p, tag)
}

#[test]
fn a_backlog_behind_a_full_consumer_flows_on_each_ack_while_publishing_goes_on() {
    let mut w = World::new();
    let (ch, p, _) = full_behind_a_backlog(&mut w, table(&[]));
    for (tag, next) in [(1, "m2"), (2, "m3"), (3, "m4")] {
        w.ack(ch, tag, false).unwrap();
        assert_eq!(w.bodies(ch), [next]);
        w.publish(p, "", "q", &format!("late{tag}")).unwrap();
        assert!(w.bodies(ch).is_empty());
    }
    w.reject(ch, 4, false).unwrap();
    assert_eq!(w.bodies(ch), ["late1"]);
    w.nack(ch, 5, false, true).unwrap();
    let again = w.deliveries(ch);
    assert_eq!(
        (again[0].body.as_str(), again[0].redelivered),
        ("late1", true)
    );
}

#[test]
fn a_backlog_behind_a_full_channel_flows_when_its_prefetch_is_raised() {
    let mut w = World::new();
    let ch = w.client();
    let p = w.client();
    w.declare(ch, "q");
    global_prefetch(&mut w, ch, 1);
    w.consume(ch, "q", false);
    fill_n(&mut w, p, "q", 3);
    assert_eq!(w.bodies(ch), ["m1"]);
    w.publish(p, "", "q", "m4").unwrap();
    assert!(w.bodies(ch).is_empty());
    global_prefetch(&mut w, ch, 3);
    assert_eq!(w.bodies(ch), ["m2", "m3"]);
}

#[test]
fn a_backlog_behind_a_full_consumer_goes_to_a_new_consumer() {
    let mut w = World::new();
    let (ch, _, _) = full_behind_a_backlog(&mut w, table(&[]));
    let other = w.client();
    w.consume(other, "q", false);
    assert_eq!(w.bodies(other), ["m2", "m3", "m4"]);
    assert!(w.bodies(ch).is_empty());
}

#[test]
fn a_backlog_behind_a_full_consumer_flows_when_channel_flow_comes_back_on() {
    let mut w = World::new();
    let (ch, p, _) = full_behind_a_backlog(&mut w, table(&[]));
    w.broker.channel_flow(w.now, ch, false).unwrap();
    w.settle();
    w.ack(ch, 1, false).unwrap();
    w.publish(p, "", "q", "m5").unwrap();
    assert!(w.bodies(ch).is_empty());
    w.broker.channel_flow(w.now, ch, true).unwrap();
    w.settle();
    assert_eq!(w.bodies(ch), ["m2"]);
}

#[test]
fn a_backlog_behind_the_single_active_consumer_goes_to_the_next_when_it_cancels() {
    let mut w = World::new();
    let sac = table(&[("x-single-active-consumer", FieldValue::Bool(true))]);
    let (ch, _, tag) = full_behind_a_backlog(&mut w, sac);
    let next = w.client();
    w.consume(next, "q", false);
    assert!(w.bodies(next).is_empty());
    cancel(&mut w, ch, &tag);
    // m1 stays with the cancelled consumer's channel, unacked.
    assert_eq!(w.bodies(next), ["m2", "m3", "m4"]);
}

#[test]
fn a_backlog_behind_a_full_channel_flows_when_an_ack_on_another_queue_frees_the_channel() {
    let mut w = World::new();
    let ch = w.client();
    let p = w.client();
    w.declare(ch, "a");
    w.declare(ch, "b");
    global_prefetch(&mut w, ch, 1);
    w.consume(ch, "a", false);
    w.consume(ch, "b", false);
    w.publish(p, "", "a", "a1").unwrap();
    fill_n(&mut w, p, "b", 2);
    assert_eq!(w.bodies(ch), ["a1"]);
    w.publish(p, "", "b", "m3").unwrap();
    assert_eq!(w.ready("/", "b"), 3);
    w.ack(ch, 1, false).unwrap();
    assert_eq!(w.bodies(ch), ["m1"]);
}
