//! Queue length limits: `x-max-length`, `x-max-length-bytes` over ready
//! messages, and the overflow modes `drop-head`, `reject-publish` and
//! `reject-publish-dlx`.

mod common;
use common::*;
use warren::broker::{FieldValue, Properties};

fn drain(w: &mut World, q: &str) -> Vec<String> {
    let c = w.client();
    let mut out = Vec::new();
    while let Some(m) = w.get(c, q, true) {
        out.push(m.body);
    }
    out
}

fn reasons(w: &mut World) -> Vec<String> {
    let c = w.client();
    let mut out = Vec::new();
    while let Some(m) = w.get(c, "dead", true) {
        out.push(text(&deaths(&m.message)[0], "reason").unwrap());
    }
    out
}

#[test]
fn max_length_drops_the_oldest_ready_messages() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(ch, "q", table(&[("x-max-length", FieldValue::I32(2))]));
    w.fill(ch, "q", &["m1", "m2", "m3", "m4"]);
    assert_eq!(w.ready("/", "q"), 2);
    assert_eq!(drain(&mut w, "q"), ["m3", "m4"]);
}

#[test]
fn drop_head_dead_letters_as_maxlen_oldest_first() {
    let (mut w, ch) = dead_lettering_queue(&[("x-max-length", FieldValue::I32(1))]);
    w.fill(ch, "q", &["m1", "m2", "m3"]);
    assert_eq!(drain(&mut w, "q"), ["m3"]);
    let c = w.client();
    let first = w.get(c, "dead", true).unwrap();
    assert_eq!(first.body, "m1");
    assert_eq!(
        text(&deaths(&first.message)[0], "reason").as_deref(),
        Some("maxlen")
    );
    assert_eq!(w.get(c, "dead", true).unwrap().body, "m2");
}

#[test]
fn drop_head_in_a_priority_queue_drops_the_next_to_deliver() {
    // As RabbitMQ 3.10 does (tests/rabbitmq/semantics.mjs, priorityOverflow):
    // the message is added, then the head goes, which may be the new one.
    let (mut w, ch) = dead_lettering_queue(&[
        ("x-max-length", FieldValue::I32(3)),
        ("x-max-priority", FieldValue::I32(5)),
    ]);
    for (body, priority) in [("p1", 1), ("p5", 5), ("p3", 3), ("p2", 2), ("p4", 4)] {
        let props = Properties {
            priority: Some(priority),
            ..Default::default()
        };
        w.publish_props(ch, "", "q", body, props).unwrap();
    }
    assert_eq!(drain(&mut w, "q"), ["p3", "p2", "p1"]);
    assert_eq!(drain(&mut w, "dead"), ["p5", "p4"]);
}

#[test]
fn a_requeue_past_the_limit_drops_from_the_head_at_once() {
    // RabbitMQ 3.10 (tests/rabbitmq/semantics.mjs, requeueOverLimit).
    let (mut w, ch) = dead_lettering_queue(&[("x-max-length", FieldValue::I32(2))]);
    w.fill(ch, "q", &["a", "b"]);
    let c = w.client();
    let a = w.get(c, "q", false).unwrap();
    let b = w.get(c, "q", false).unwrap();
    w.fill(ch, "q", &["c", "d"]);
    w.nack(c, b.tag, true, true).unwrap();
    assert_eq!(w.ready("/", "q"), 2);
    assert_eq!(drain(&mut w, "dead"), [a.body.as_str(), "b"]);
    assert_eq!(drain(&mut w, "q"), ["c", "d"]);
}

#[test]
fn a_requeue_past_a_reject_publish_limit_keeps_the_messages() {
    let (mut w, ch) = dead_lettering_queue(&[
        ("x-max-length", FieldValue::I32(1)),
        ("x-overflow", FieldValue::str("reject-publish")),
    ]);
    w.fill(ch, "q", &["a"]);
    let c = w.client();
    let a = w.get(c, "q", false).unwrap();
    w.fill(ch, "q", &["b"]);
    w.nack(c, a.tag, false, true).unwrap();
    assert_eq!(drain(&mut w, "q"), ["a", "b"]);
    assert!(drain(&mut w, "dead").is_empty());
}

#[test]
fn max_length_bytes_counts_message_bodies() {
    let (mut w, ch) = dead_lettering_queue(&[("x-max-length-bytes", FieldValue::I32(10))]);
    w.fill(ch, "q", &["12345", "abcde"]);
    assert_eq!(w.broker.queue_counts("/", "q").unwrap().ready_bytes, 10);
    w.publish(ch, "", "q", "xyz").unwrap();
    assert_eq!(drain(&mut w, "q"), ["abcde", "xyz"]);
    assert_eq!(reasons(&mut w), ["maxlen"]);
}

#[test]
fn a_message_larger_than_max_length_bytes_is_dropped_itself() {
    let (mut w, ch) = dead_lettering_queue(&[("x-max-length-bytes", FieldValue::I32(4))]);
    w.fill(ch, "q", &["ok"]);
    w.publish(ch, "", "q", "far too large").unwrap();
    assert_eq!(w.ready("/", "q"), 0);
    let c = w.client();
    assert_eq!(w.get(c, "dead", true).unwrap().body, "ok");
    assert_eq!(w.get(c, "dead", true).unwrap().body, "far too large");
}

#[test]
fn both_limits_apply_together() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(
        ch,
        "q",
        table(&[
            ("x-max-length", FieldValue::I32(3)),
            ("x-max-length-bytes", FieldValue::I32(4)),
        ]),
    );
    w.fill(ch, "q", &["aa", "bb", "cc"]);
    assert_eq!(drain(&mut w, "q"), ["bb", "cc"]);
    w.fill(ch, "q", &["a", "b", "c", "d"]);
    assert_eq!(drain(&mut w, "q"), ["b", "c", "d"]);
}

#[test]
fn unacked_messages_do_not_count_against_the_limit() {
    let (mut w, ch) = dead_lettering_queue(&[
        ("x-max-length", FieldValue::I32(1)),
        ("x-max-length-bytes", FieldValue::I32(100)),
    ]);
    let c = w.client();
    w.prefetch(c, 1);
    w.consume(c, "q", false);
    w.publish(ch, "", "q", "out").unwrap();
    assert_eq!(w.bodies(c), ["out"]);
    w.publish(ch, "", "q", "ready").unwrap();
    assert_eq!(w.ready("/", "q"), 1);
    assert_eq!(w.unacked("/", "q"), 1);
    assert_eq!(w.ready("/", "dead"), 0);
    w.publish(ch, "", "q", "newer").unwrap();
    assert_eq!(w.ready("/", "q"), 1);
    let d = w.client();
    assert_eq!(w.get(d, "dead", true).unwrap().body, "ready");
}

#[test]
fn reject_publish_refuses_new_messages_with_a_nack() {
    let (mut w, ch) = dead_lettering_queue(&[
        ("x-max-length", FieldValue::I32(2)),
        ("x-overflow", FieldValue::str("reject-publish")),
    ]);
    w.confirm_select(ch);
    w.fill(ch, "q", &["m1", "m2", "m3"]);
    assert_eq!(
        w.confirms(ch),
        [(1, false, true), (2, false, true), (3, false, false)]
    );
    assert_eq!(drain(&mut w, "q"), ["m1", "m2"]);
    // Not dead-lettered: the publisher was told.
    assert_eq!(w.ready("/", "dead"), 0);
}

#[test]
fn reject_publish_without_confirms_drops_silently() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(
        ch,
        "q",
        table(&[
            ("x-max-length", FieldValue::I32(1)),
            ("x-overflow", FieldValue::str("reject-publish")),
        ]),
    );
    w.fill(ch, "q", &["m1", "m2"]);
    assert!(w.broker.channel_is_open(ch));
    assert!(w.take_for(ch).is_empty());
    assert_eq!(drain(&mut w, "q"), ["m1"]);
}

#[test]
fn reject_publish_accepts_again_once_there_is_room() {
    let (mut w, ch) = dead_lettering_queue(&[
        ("x-max-length", FieldValue::I32(1)),
        ("x-overflow", FieldValue::str("reject-publish")),
    ]);
    w.confirm_select(ch);
    w.fill(ch, "q", &["m1", "m2"]);
    assert_eq!(drain(&mut w, "q"), ["m1"]);
    w.fill(ch, "q", &["m3"]);
    assert_eq!(
        w.confirms(ch),
        [(1, false, true), (2, false, false), (3, false, true)]
    );
}

#[test]
fn reject_publish_by_bytes_refuses_what_does_not_fit() {
    let (mut w, ch) = dead_lettering_queue(&[
        ("x-max-length-bytes", FieldValue::I32(5)),
        ("x-overflow", FieldValue::str("reject-publish")),
    ]);
    w.confirm_select(ch);
    w.fill(ch, "q", &["abc", "defg", "hi"]);
    assert_eq!(
        w.confirms(ch),
        [(1, false, true), (2, false, false), (3, false, true)]
    );
    assert_eq!(drain(&mut w, "q"), ["abc", "hi"]);
}

#[test]
fn reject_publish_dlx_nacks_and_dead_letters_the_refused_message() {
    let (mut w, ch) = dead_lettering_queue(&[
        ("x-max-length", FieldValue::I32(1)),
        ("x-overflow", FieldValue::str("reject-publish-dlx")),
    ]);
    w.confirm_select(ch);
    w.fill(ch, "q", &["m1", "m2"]);
    assert_eq!(w.confirms(ch), [(1, false, true), (2, false, false)]);
    assert_eq!(drain(&mut w, "q"), ["m1"]);
    let c = w.client();
    let dead = w.get(c, "dead", true).unwrap();
    assert_eq!(dead.body, "m2");
    let x = deaths(&dead.message);
    assert_eq!(text(&x[0], "reason").as_deref(), Some("maxlen"));
    assert_eq!(text(&x[0], "queue").as_deref(), Some("q"));
}

#[test]
fn a_requeued_message_is_accepted_even_when_the_queue_is_full() {
    let (mut w, ch) = dead_lettering_queue(&[
        ("x-max-length", FieldValue::I32(1)),
        ("x-overflow", FieldValue::str("reject-publish")),
    ]);
    let c = w.client();
    w.publish(ch, "", "q", "m1").unwrap();
    let got = w.get(c, "q", false).unwrap();
    w.publish(ch, "", "q", "m2").unwrap();
    assert_eq!(w.ready("/", "q"), 1);
    w.reject(c, got.tag, true).unwrap();
    assert_eq!(w.ready("/", "q"), 2);
    assert_eq!(w.ready("/", "dead"), 0);
    assert_eq!(drain(&mut w, "q"), ["m1", "m2"]);
}

#[test]
fn a_message_requeued_by_a_close_past_the_limit_is_the_head_dropped() {
    // RabbitMQ 3.10 does the same: m1 is requeued to the head, then dropped.
    let (mut w, ch) = dead_lettering_queue(&[("x-max-length", FieldValue::I32(1))]);
    let c = w.client();
    w.publish(ch, "", "q", "m1").unwrap();
    let got = w.get(c, "q", false).unwrap();
    w.publish(ch, "", "q", "m2").unwrap();
    w.close_channel(c);
    assert_eq!(got.body, "m1");
    assert_eq!(drain(&mut w, "q"), ["m2"]);
    assert_eq!(drain(&mut w, "dead"), ["m1"]);
}

#[test]
fn a_close_requeues_everything_before_drop_head_drops_the_oldest() {
    // RabbitMQ 3.10 (tests/rabbitmq/random-walk.mjs, seed 7118): the close
    // returns m2 (tag 2) and m1 (tag 3) together, then drops from the head,
    // m1 first. One at a time in tag order, m2 would go first.
    let (mut w, ch) = dead_lettering_queue(&[("x-max-length", FieldValue::I32(2))]);
    w.fill(ch, "q", &["m1", "m2"]);
    let c = w.client();
    let m1 = w.get(c, "q", false).unwrap();
    w.get(c, "q", false).unwrap();
    w.reject(c, m1.tag, true).unwrap();
    assert_eq!(w.get(c, "q", false).unwrap().body, "m1");
    w.fill(ch, "q", &["m3", "m4"]);
    w.close_channel(c);
    assert_eq!(drain(&mut w, "dead"), ["m1", "m2"]);
    assert_eq!(drain(&mut w, "q"), ["m3", "m4"]);
}

#[test]
fn max_length_zero_with_drop_head_passes_everything_to_the_dead_letter_exchange() {
    let (mut w, ch) = dead_lettering_queue(&[("x-max-length", FieldValue::I32(0))]);
    w.confirm_select(ch);
    w.fill(ch, "q", &["a", "b"]);
    assert_eq!(w.confirms(ch), [(1, false, true), (2, false, true)]);
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(reasons(&mut w), ["maxlen", "maxlen"]);
}

#[test]
fn max_length_zero_with_drop_head_still_reaches_a_ready_consumer() {
    // As RabbitMQ: a message handed straight to a consumer is never in the
    // queue, so there is no head to drop.
    let (mut w, ch) = dead_lettering_queue(&[("x-max-length", FieldValue::I32(0))]);
    let c = w.client();
    w.prefetch(c, 1);
    w.consume(c, "q", false);
    w.confirm_select(ch);
    w.fill(ch, "q", &["taken", "no room"]);
    assert_eq!(w.bodies(c), ["taken"]);
    assert_eq!(w.confirms(ch), [(1, false, true), (2, false, true)]);
    assert_eq!(w.ready("/", "q"), 0);
    let d = w.client();
    assert_eq!(w.get(d, "dead", true).unwrap().body, "no room");
}

#[test]
fn reject_publish_refuses_at_max_length_zero_even_with_a_ready_consumer() {
    let (mut w, ch) = dead_lettering_queue(&[
        ("x-max-length", FieldValue::I32(0)),
        ("x-overflow", FieldValue::str("reject-publish")),
    ]);
    let c = w.client();
    w.consume(c, "q", false);
    w.confirm_select(ch);
    w.publish(ch, "", "q", "m").unwrap();
    // RabbitMQ checks the length the queue would have before delivering.
    assert_eq!(w.confirms(ch), [(1, false, false)]);
    assert!(w.bodies(c).is_empty());
}

#[test]
fn invalid_length_arguments_are_precondition_failed() {
    let mut w = World::new();
    for args in [
        vec![("x-max-length", FieldValue::I32(-1))],
        vec![("x-max-length-bytes", FieldValue::I64(-10))],
        vec![("x-max-length", FieldValue::str("10"))],
        vec![("x-overflow", FieldValue::str("drop-tail"))],
        vec![("x-overflow", FieldValue::I32(1))],
    ] {
        let ch = w.client();
        let e = w.declare_error(ch, &args);
        assert_eq!(e.code.code(), 406, "{args:?}");
        assert!(e.text.contains(args[0].0), "{}", e.text);
        assert!(!w.broker.channel_is_open(ch));
    }
}
