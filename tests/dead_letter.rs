//! Dead-lettering: the dead-letter exchange and routing key, the reasons,
//! the `x-death` history and `x-first/last-death-*` headers, CC routing,
//! cycles, and the lifecycle events of a dead-lettered message.

mod common;
use common::*;
use warren::broker::DropReason;
use warren::broker::{ChannelRef, EventKind, FieldTable, FieldValue, Properties};

/// Queue `work` dead-letters into direct exchange `dlx`, where queue `dead`
/// is bound with `key`.
fn with_dlx(extra: &[(&str, FieldValue)], key: &str) -> (World, ChannelRef) {
    let mut w = World::new();
    let ch = w.client();
    w.exchange(ch, "dlx", "direct");
    w.declare(ch, "dead");
    w.bind(ch, "dead", "dlx", key);
    let mut args = vec![("x-dead-letter-exchange", FieldValue::str("dlx"))];
    args.extend(extra.iter().cloned());
    w.declare_with(ch, "work", table(&args));
    (w, ch)
}

/// Takes the one message in `q` (`basic.get` with automatic ack).
fn take_dead(w: &mut World, q: &str) -> Seen {
    assert_eq!(w.ready("/", q), 1, "expected one message in {q}");
    let c = w.client();
    w.get(c, q, true).unwrap()
}

fn count(t: &FieldTable) -> Option<i64> {
    t.get("count").and_then(FieldValue::as_i64)
}

fn routing_keys(t: &FieldTable) -> Vec<String> {
    match t.get("routing-keys") {
        Some(FieldValue::Array(items)) => items
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect(),
        other => panic!("routing-keys is {other:?}"),
    }
}

#[test]
fn rejected_message_is_dead_lettered_with_a_full_x_death_entry() {
    let (mut w, ch) = with_dlx(&[], "work");
    w.now = 1_700_000_123_456;
    w.publish(ch, "", "work", "job").unwrap();
    w.consume(ch, "work", false);
    let d = w.deliveries(ch);
    w.reject(ch, d[0].tag, false).unwrap();
    assert_eq!(w.ready("/", "work"), 0);
    let dead = take_dead(&mut w, "dead");
    assert_eq!(dead.body, "job");
    assert_eq!(dead.message.exchange(), "dlx");
    assert_eq!(dead.message.routing_key(), "work");
    let x = deaths(&dead.message);
    assert_eq!(x.len(), 1);
    assert_eq!(count(&x[0]), Some(1));
    assert_eq!(text(&x[0], "reason").as_deref(), Some("rejected"));
    assert_eq!(text(&x[0], "queue").as_deref(), Some("work"));
    assert_eq!(
        x[0].get("time"),
        Some(&FieldValue::Timestamp(1_700_000_123))
    );
    assert_eq!(text(&x[0], "exchange").as_deref(), Some(""));
    assert_eq!(routing_keys(&x[0]), ["work"]);
    assert!(x[0].get("original-expiration").is_none());
    for (k, v) in [
        ("x-first-death-reason", "rejected"),
        ("x-first-death-queue", "work"),
        ("x-first-death-exchange", ""),
        ("x-last-death-reason", "rejected"),
        ("x-last-death-queue", "work"),
        ("x-last-death-exchange", ""),
    ] {
        assert_eq!(header_text(&dead.message, k).as_deref(), Some(v), "{k}");
    }
}

#[test]
fn nack_without_requeue_is_dead_lettered_as_rejected() {
    let (mut w, ch) = with_dlx(&[], "work");
    w.publish(ch, "", "work", "job").unwrap();
    w.consume(ch, "work", false);
    w.deliveries(ch);
    w.nack(ch, 1, false, false).unwrap();
    let dead = take_dead(&mut w, "dead");
    assert_eq!(
        text(&deaths(&dead.message)[0], "reason").as_deref(),
        Some("rejected")
    );
}

#[test]
fn requeued_rejection_is_not_dead_lettered() {
    let (mut w, ch) = with_dlx(&[], "work");
    w.publish(ch, "", "work", "job").unwrap();
    w.consume(ch, "work", false);
    w.deliveries(ch);
    w.reject(ch, 1, true).unwrap();
    assert_eq!(w.ready("/", "dead"), 0);
}

#[test]
fn dead_letter_routing_key_replaces_the_routing_key() {
    let (mut w, ch) = with_dlx(
        &[("x-dead-letter-routing-key", FieldValue::str("parked"))],
        "parked",
    );
    w.declare(ch, "by-old-key");
    w.bind(ch, "by-old-key", "dlx", "work");
    w.publish(ch, "", "work", "job").unwrap();
    w.consume(ch, "work", false);
    w.deliveries(ch);
    w.reject(ch, 1, false).unwrap();
    let dead = take_dead(&mut w, "dead");
    assert_eq!(dead.message.routing_key(), "parked");
    assert_eq!(routing_keys(&deaths(&dead.message)[0]), ["work"]);
    assert_eq!(w.ready("/", "by-old-key"), 0);
}

#[test]
fn expired_message_is_dead_lettered_as_expired() {
    let (mut w, ch) = with_dlx(&[("x-message-ttl", FieldValue::I32(100))], "work");
    w.publish(ch, "", "work", "stale").unwrap();
    w.advance(100);
    let dead = take_dead(&mut w, "dead");
    let x = deaths(&dead.message);
    assert_eq!(text(&x[0], "reason").as_deref(), Some("expired"));
    // A queue TTL leaves no original-expiration.
    assert!(x[0].get("original-expiration").is_none());
}

#[test]
fn per_message_expiration_is_removed_and_kept_as_original_expiration() {
    let (mut w, ch) = with_dlx(&[], "work");
    w.publish_props(ch, "", "work", "stale", expiring("50"))
        .unwrap();
    w.advance(50);
    let dead = take_dead(&mut w, "dead");
    assert_eq!(dead.message.properties.expiration, None);
    let x = deaths(&dead.message);
    assert_eq!(text(&x[0], "original-expiration").as_deref(), Some("50"));
    assert_eq!(text(&x[0], "reason").as_deref(), Some("expired"));
}

#[test]
fn message_pushed_out_by_max_length_is_dead_lettered_as_maxlen() {
    let (mut w, ch) = with_dlx(&[("x-max-length", FieldValue::I32(1))], "work");
    w.fill(ch, "work", &["old", "new"]);
    let dead = take_dead(&mut w, "dead");
    assert_eq!(dead.body, "old");
    assert_eq!(
        text(&deaths(&dead.message)[0], "reason").as_deref(),
        Some("maxlen")
    );
}

#[test]
fn other_properties_survive_dead_lettering() {
    let (mut w, ch) = with_dlx(&[], "work");
    let props = Properties {
        delivery_mode: Some(2),
        content_type: Some(s("text/plain")),
        message_id: Some(s("id-7")),
        headers: Some(table(&[("app", FieldValue::str("billing"))])),
        ..Default::default()
    };
    w.publish_props(ch, "", "work", "job", props).unwrap();
    w.consume(ch, "work", false);
    w.deliveries(ch);
    w.reject(ch, 1, false).unwrap();
    let dead = take_dead(&mut w, "dead");
    let p = &dead.message.properties;
    assert!(p.persistent());
    assert_eq!(p.content_type.as_deref(), Some("text/plain"));
    assert_eq!(p.message_id.as_deref(), Some("id-7"));
    assert_eq!(
        header_text(&dead.message, "app").as_deref(),
        Some("billing")
    );
}

#[test]
fn bulk_nack_dead_letters_in_rejection_order() {
    let (mut w, ch) = with_dlx(&[], "work");
    w.fill(ch, "work", &["m1", "m2", "m3", "m4"]);
    w.consume(ch, "work", false);
    assert_eq!(w.deliveries(ch).len(), 4);
    w.nack(ch, 3, true, false).unwrap();
    assert_eq!(w.unacked("/", "work"), 1);
    let c = w.client();
    w.consume(c, "dead", true);
    assert_eq!(w.bodies(c), ["m1", "m2", "m3"]);
}

#[test]
fn single_rejections_dead_letter_in_the_order_they_came() {
    let (mut w, ch) = with_dlx(&[], "work");
    w.fill(ch, "work", &["m1", "m2", "m3"]);
    w.consume(ch, "work", false);
    w.deliveries(ch);
    w.reject(ch, 3, false).unwrap();
    w.reject(ch, 1, false).unwrap();
    w.nack(ch, 2, false, false).unwrap();
    let c = w.client();
    w.consume(c, "dead", true);
    assert_eq!(w.bodies(c), ["m3", "m1", "m2"]);
}

/// `work` rejects into `retry` through `retry-x`; `retry` expires back into
/// `work` through `work-x`: the classic retry loop.
fn retry_loop() -> (World, ChannelRef) {
    let mut w = World::new();
    let ch = w.client();
    w.exchange(ch, "in", "direct");
    w.exchange(ch, "retry-x", "direct");
    w.exchange(ch, "work-x", "direct");
    w.declare_with(
        ch,
        "work",
        table(&[("x-dead-letter-exchange", FieldValue::str("retry-x"))]),
    );
    w.declare_with(
        ch,
        "retry",
        table(&[
            ("x-message-ttl", FieldValue::I32(1_000)),
            ("x-dead-letter-exchange", FieldValue::str("work-x")),
        ]),
    );
    w.bind(ch, "work", "in", "job");
    w.bind(ch, "retry", "retry-x", "job");
    w.bind(ch, "work", "work-x", "job");
    (w, ch)
}

#[test]
fn repeated_death_in_the_same_queue_for_the_same_reason_increments_and_moves_first() {
    let (mut w, ch) = retry_loop();
    w.now = 10_000;
    w.publish(ch, "in", "job", "task").unwrap();
    w.consume(ch, "work", false);
    let mut d = w.deliveries(ch).remove(0);
    assert!(deaths(&d.message).is_empty());
    let peek = w.client();
    for round in 1..=3i64 {
        w.reject(ch, d.tag, false).unwrap();
        // In `retry`, the rejection just recorded is the newest entry.
        let waiting = w.get(peek, "retry", false).expect("in retry");
        let x = deaths(&waiting.message);
        assert_eq!(
            text(&x[0], "queue").as_deref(),
            Some("work"),
            "round {round}"
        );
        assert_eq!(count(&x[0]), Some(round));
        w.reject(peek, waiting.tag, true).unwrap();
        w.advance(1_000);
        d = w.deliveries(ch).remove(0);
        let x = deaths(&d.message);
        assert_eq!(x.len(), 2, "round {round}");
        assert_eq!(text(&x[0], "queue").as_deref(), Some("retry"));
        assert_eq!(text(&x[0], "reason").as_deref(), Some("expired"));
        assert_eq!(count(&x[0]), Some(round));
        assert_eq!(text(&x[1], "queue").as_deref(), Some("work"));
        assert_eq!(text(&x[1], "reason").as_deref(), Some("rejected"));
        assert_eq!(count(&x[1]), Some(round));
        // Time, exchange and routing keys are those of the first time.
        assert_eq!(x[1].get("time"), Some(&FieldValue::Timestamp(10)));
        assert_eq!(x[0].get("time"), Some(&FieldValue::Timestamp(11)));
        assert_eq!(text(&x[1], "exchange").as_deref(), Some("in"));
        assert_eq!(text(&x[0], "exchange").as_deref(), Some("retry-x"));
        assert_eq!(routing_keys(&x[0]), ["job"]);
    }
    let m = &d.message;
    assert_eq!(
        header_text(m, "x-first-death-queue").as_deref(),
        Some("work")
    );
    assert_eq!(
        header_text(m, "x-first-death-reason").as_deref(),
        Some("rejected")
    );
    assert_eq!(
        header_text(m, "x-first-death-exchange").as_deref(),
        Some("in")
    );
    assert_eq!(
        header_text(m, "x-last-death-queue").as_deref(),
        Some("retry")
    );
    assert_eq!(
        header_text(m, "x-last-death-reason").as_deref(),
        Some("expired")
    );
    assert_eq!(
        header_text(m, "x-last-death-exchange").as_deref(),
        Some("retry-x")
    );
}

#[test]
fn republished_message_with_an_old_x_death_continues_its_history() {
    let (mut w, ch) = with_dlx(&[], "work");
    w.now = 5_000;
    w.publish(ch, "", "work", "job").unwrap();
    w.consume(ch, "work", false);
    w.deliveries(ch);
    w.reject(ch, 1, false).unwrap();
    let first = take_dead(&mut w, "dead");
    // A client takes it from the dead-letter queue and publishes it again
    // with the headers it received.
    w.now = 60_000;
    let props = Properties {
        headers: first.message.properties.headers.clone(),
        ..Default::default()
    };
    w.publish_props(ch, "", "work", "job", props).unwrap();
    let d = w.deliveries(ch);
    w.reject(ch, d[0].tag, false).unwrap();
    let again = take_dead(&mut w, "dead");
    let x = deaths(&again.message);
    assert_eq!(x.len(), 1);
    assert_eq!(count(&x[0]), Some(2));
    assert_eq!(x[0].get("time"), Some(&FieldValue::Timestamp(5)));
    assert_eq!(
        header_text(&again.message, "x-first-death-queue").as_deref(),
        Some("work")
    );
}

#[test]
fn a_message_republished_by_a_client_may_return_to_a_queue_it_died_in() {
    // The history records an expiry in `work`; a client publishing it again
    // is not an automatic cycle, and its next death is recorded.
    let (mut w, ch) = with_dlx(&[("x-message-ttl", FieldValue::I32(10))], "work");
    w.publish(ch, "", "work", "job").unwrap();
    w.advance(10);
    let first = take_dead(&mut w, "dead");
    let props = Properties {
        headers: first.message.properties.headers.clone(),
        ..Default::default()
    };
    w.publish_props(ch, "", "work", "job", props).unwrap();
    assert_eq!(w.ready("/", "work"), 1);
    w.advance(10);
    let again = take_dead(&mut w, "dead");
    assert_eq!(count(&deaths(&again.message)[0]), Some(2));
}

#[test]
fn two_queues_expiring_into_each_other_drop_the_message_after_one_round() {
    let mut w = World::new();
    let ch = w.client();
    w.exchange(ch, "to-a", "fanout");
    w.exchange(ch, "to-b", "fanout");
    w.declare_with(
        ch,
        "a",
        table(&[
            ("x-message-ttl", FieldValue::I32(10)),
            ("x-dead-letter-exchange", FieldValue::str("to-b")),
        ]),
    );
    w.declare_with(
        ch,
        "b",
        table(&[
            ("x-message-ttl", FieldValue::I32(10)),
            ("x-dead-letter-exchange", FieldValue::str("to-a")),
        ]),
    );
    w.bind(ch, "a", "to-a", "");
    w.bind(ch, "b", "to-b", "");
    w.publish(ch, "", "a", "ping").unwrap();
    w.events();
    w.advance(10);
    assert_eq!((w.ready("/", "a"), w.ready("/", "b")), (0, 1));
    w.advance(10);
    assert_eq!((w.ready("/", "a"), w.ready("/", "b")), (0, 0));
    assert_eq!(w.broker.next_deadline(), None);
    let events = w.events();
    assert!(
        events.iter().any(|e| matches!(
            e,
            EventKind::Dropped {
                reason: DropReason::DeadLetterFailed,
                ..
            }
        )),
        "{events:?}"
    );
    w.advance(1_000);
    assert_eq!((w.ready("/", "a"), w.ready("/", "b")), (0, 0));
}

#[test]
fn a_queue_dead_lettering_into_itself_drops_expired_messages() {
    // RabbitMQ's example: the default exchange and no dead-letter routing key.
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(
        ch,
        "loop",
        table(&[
            ("x-message-ttl", FieldValue::I32(10)),
            ("x-dead-letter-exchange", FieldValue::str("")),
        ]),
    );
    w.publish(ch, "", "loop", "m").unwrap();
    w.advance(10);
    assert_eq!(w.ready("/", "loop"), 0);
    assert_eq!(w.broker.next_deadline(), None);
}

#[test]
fn a_long_chain_of_dead_letter_queues_does_not_overflow_the_stack() {
    // Each queue (x-max-length 0) passes what it gets on to the next; the
    // last feeds the first. Run on a small stack, as a wasm instance has.
    let chain = || {
        let mut w = World::new();
        let ch = w.client();
        let n = 1_000;
        for i in 0..n {
            w.declare_with(
                ch,
                &format!("q{i}"),
                table(&[
                    ("x-max-length", FieldValue::I32(0)),
                    ("x-dead-letter-exchange", FieldValue::str("")),
                    (
                        "x-dead-letter-routing-key",
                        FieldValue::str(&format!("q{}", (i + 1) % n)),
                    ),
                ]),
            );
        }
        w.events();
        w.publish(ch, "", "q0", "m").unwrap();
        let dead_lettered = w
            .events()
            .iter()
            .filter(|e| matches!(e, EventKind::DeadLettered { .. }))
            .count();
        (0..n).all(|i| w.ready("/", &format!("q{i}")) == 0) && dead_lettered == n
    };
    let done = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(chain)
        .unwrap()
        .join()
        .unwrap();
    assert!(done);
}

#[test]
fn a_rejection_in_the_loop_keeps_the_message_going_round() {
    // Rejected in `work`, expired in `retry`, back to `work`: not a cycle.
    let (mut w, ch) = retry_loop();
    w.publish(ch, "in", "job", "task").unwrap();
    w.consume(ch, "work", false);
    for _ in 0..5 {
        let d = w.deliveries(ch);
        assert_eq!(d.len(), 1);
        w.reject(ch, d[0].tag, false).unwrap();
        w.advance(1_000);
    }
    assert_eq!(w.deliveries(ch).len(), 1);
}

#[test]
fn a_missing_dead_letter_exchange_drops_the_message() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(
        ch,
        "work",
        table(&[("x-dead-letter-exchange", FieldValue::str("not-declared"))]),
    );
    w.publish(ch, "", "work", "job").unwrap();
    w.consume(ch, "work", false);
    w.deliveries(ch);
    w.events();
    w.reject(ch, 1, false).unwrap();
    assert!(w.broker.channel_is_open(ch));
    assert_eq!(w.ready("/", "work"), 0);
    assert_eq!(w.unacked("/", "work"), 0);
    assert!(w.events().iter().any(|e| matches!(
        e,
        EventKind::Dropped {
            reason: DropReason::DeadLetterFailed,
            ..
        }
    )));
}

#[test]
fn a_dead_letter_exchange_that_routes_nowhere_drops_the_message() {
    let (mut w, ch) = with_dlx(&[], "some-other-key");
    w.publish(ch, "", "work", "job").unwrap();
    w.consume(ch, "work", false);
    w.deliveries(ch);
    w.reject(ch, 1, false).unwrap();
    assert_eq!(w.ready("/", "dead"), 0);
    assert_eq!(w.ready("/", "work"), 0);
}

#[test]
fn a_fanout_dead_letter_exchange_reaches_every_bound_queue() {
    let mut w = World::new();
    let ch = w.client();
    w.exchange(ch, "dlx", "fanout");
    for q in ["dead1", "dead2"] {
        w.declare(ch, q);
        w.bind(ch, q, "dlx", "");
    }
    w.declare_with(
        ch,
        "work",
        table(&[("x-dead-letter-exchange", FieldValue::str("dlx"))]),
    );
    w.publish(ch, "", "work", "job").unwrap();
    w.consume(ch, "work", false);
    w.deliveries(ch);
    w.reject(ch, 1, false).unwrap();
    assert_eq!(w.ready("/", "dead1"), 1);
    assert_eq!(w.ready("/", "dead2"), 1);
}

/// Messages published to `in` (direct) with key `k1` and CC `k2` reach
/// `work`; `work` dead-letters into direct `dlx`, where `by-k1`, `by-k2`
/// and `by-parked` are bound by those keys.
fn cc_setup(dlrk: Option<&str>) -> (World, ChannelRef) {
    let mut w = World::new();
    let ch = w.client();
    w.exchange(ch, "in", "direct");
    w.exchange(ch, "dlx", "direct");
    let mut args = vec![("x-dead-letter-exchange", FieldValue::str("dlx"))];
    if let Some(k) = dlrk {
        args.push(("x-dead-letter-routing-key", FieldValue::str(k)));
    }
    w.declare_with(ch, "work", table(&args));
    w.bind(ch, "work", "in", "k1");
    for (q, k) in [("by-k1", "k1"), ("by-k2", "k2"), ("by-parked", "parked")] {
        w.declare(ch, q);
        w.bind(ch, q, "dlx", k);
    }
    let props = with_headers(&[
        ("CC", FieldValue::Array(vec![FieldValue::str("k2")])),
        ("BCC", FieldValue::Array(vec![FieldValue::str("hidden")])),
    ]);
    w.publish_props(ch, "in", "k1", "job", props).unwrap();
    w.consume(ch, "work", false);
    let d = w.deliveries(ch);
    assert_eq!(d.len(), 1);
    assert!(d[0].header("BCC").is_none());
    w.reject(ch, d[0].tag, false).unwrap();
    (w, ch)
}

#[test]
fn without_a_dead_letter_routing_key_the_cc_keys_route_the_dead_letter_too() {
    let (mut w, _) = cc_setup(None);
    assert_eq!(w.ready("/", "by-k1"), 1);
    assert_eq!(w.ready("/", "by-k2"), 1);
    assert_eq!(w.ready("/", "by-parked"), 0);
    let dead = take_dead(&mut w, "by-k1");
    assert!(dead.header("CC").is_some());
    assert!(dead.header("BCC").is_none());
    assert_eq!(routing_keys(&deaths(&dead.message)[0]), ["k1", "k2"]);
}

#[test]
fn a_dead_letter_routing_key_replaces_the_cc_keys_and_removes_cc() {
    let (mut w, _) = cc_setup(Some("parked"));
    assert_eq!(w.ready("/", "by-k1"), 0);
    assert_eq!(w.ready("/", "by-k2"), 0);
    let dead = take_dead(&mut w, "by-parked");
    assert!(dead.header("CC").is_none());
    assert!(dead.header("BCC").is_none());
    assert_eq!(routing_keys(&deaths(&dead.message)[0]), ["k1", "k2"]);
}

#[test]
fn dead_letter_routing_key_requires_a_dead_letter_exchange() {
    let mut w = World::new();
    let ch = w.client();
    let e = w
        .broker
        .queue_declare(
            w.now,
            ch,
            warren::broker::QueueDeclare {
                queue: s("q"),
                arguments: table(&[("x-dead-letter-routing-key", FieldValue::str("k"))]),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.code.code(), 406);
}

#[test]
fn events_follow_a_dead_lettered_message_from_publish_to_its_new_queue() {
    let (mut w, ch) = with_dlx(&[], "work");
    let c = w.client();
    w.consume(c, "work", false);
    w.events();
    w.publish(ch, "", "work", "job").unwrap();
    let d = w.deliveries(c);
    w.reject(c, d[0].tag, false).unwrap();
    let seen: Vec<String> = w
        .events()
        .into_iter()
        .filter_map(|e| match e {
            EventKind::Published { .. } => Some("published".to_owned()),
            EventKind::Routed { queues, .. } => Some(format!(
                "routed {}",
                queues
                    .iter()
                    .map(|q| q.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            EventKind::Enqueued { queue, .. } => Some(format!("enqueued {queue}")),
            EventKind::Delivered { queue, .. } => Some(format!("delivered {queue}")),
            EventKind::Rejected { queue, requeue, .. } => {
                Some(format!("rejected {queue} requeue={requeue}"))
            }
            EventKind::DeadLettered {
                queue,
                reason,
                exchange,
                ..
            } => Some(format!("dead-lettered {queue} {reason} to {exchange}")),
            EventKind::Confirmed { .. }
            | EventKind::ConsumerAdded { .. }
            | EventKind::ConsumerRemoved { .. } => None,
            other => Some(format!("{other:?}")),
        })
        .collect();
    assert_eq!(
        seen,
        [
            "published",
            "routed work",
            "enqueued work",
            "delivered work",
            "rejected work requeue=false",
            "dead-lettered work rejected to dlx",
            "enqueued dead",
        ]
    );
}

#[test]
fn events_of_one_message_share_its_id_across_dead_lettering() {
    let (mut w, ch) = with_dlx(&[("x-message-ttl", FieldValue::I32(5))], "work");
    w.events();
    w.publish(ch, "", "work", "job").unwrap();
    w.advance(5);
    let events = w.events();
    let ids: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            EventKind::Published { msg, .. }
            | EventKind::Enqueued { msg, .. }
            | EventKind::Expired { msg, .. }
            | EventKind::DeadLettered { msg, .. } => Some(*msg),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 5, "{events:?}");
    assert!(ids.iter().all(|&m| m == ids[0]));
    assert!(events.iter().any(|e| matches!(
        e,
        EventKind::DeadLettered {
            reason: warren::broker::DeadLetterReason::Expired,
            ..
        }
    )));
}

#[test]
fn an_internal_exchange_can_be_a_dead_letter_exchange() {
    // `internal` only keeps clients from publishing to it.
    let mut w = World::new();
    let ch = w.client();
    w.broker
        .exchange_declare(
            w.now,
            ch,
            warren::broker::ExchangeDeclare {
                exchange: s("dlx"),
                kind: s("fanout"),
                internal: true,
                ..Default::default()
            },
        )
        .unwrap();
    w.declare(ch, "dead");
    w.bind(ch, "dead", "dlx", "");
    w.declare_with(
        ch,
        "work",
        table(&[("x-dead-letter-exchange", FieldValue::str("dlx"))]),
    );
    w.publish(ch, "", "work", "job").unwrap();
    w.consume(ch, "work", false);
    w.deliveries(ch);
    w.reject(ch, 1, false).unwrap();
    assert_eq!(w.ready("/", "dead"), 1);
}
