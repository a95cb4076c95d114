//! Message deduplication (LavinMQ's `x-message-deduplication`) on queues and
//! exchanges: the key header, `x-cache-size`, `x-cache-ttl` (and a message's
//! own `x-cache-ttl`), duplicates confirmed but not enqueued.

mod common;
use common::*;
use warren::broker::DropReason;
use warren::broker::{ChannelRef, EventKind, FieldValue, Properties};

fn keyed(key: &str) -> Properties {
    with_headers(&[("x-deduplication-header", FieldValue::str(key))])
}

/// Queue `q` with deduplication and the given cache arguments.
fn dedup_queue(args: &[(&str, FieldValue)]) -> (World, ChannelRef) {
    let mut w = World::new();
    let ch = w.client();
    let mut all = vec![("x-message-deduplication", FieldValue::Bool(true))];
    all.extend(args.iter().cloned());
    w.declare_with(ch, "q", table(&all));
    (w, ch)
}

fn drain(w: &mut World, q: &str) -> Vec<String> {
    let c = w.client();
    let mut out = Vec::new();
    while let Some(m) = w.get(c, q, true) {
        out.push(m.body);
    }
    out
}

#[test]
fn a_duplicate_is_confirmed_but_not_enqueued() {
    let (mut w, ch) = dedup_queue(&[]);
    w.confirm_select(ch);
    w.events();
    w.publish_props(ch, "", "q", "first", keyed("k1")).unwrap();
    w.publish_props(ch, "", "q", "again", keyed("k1")).unwrap();
    w.publish_props(ch, "", "q", "other", keyed("k2")).unwrap();
    assert_eq!(
        w.confirms(ch),
        [(1, false, true), (2, false, true), (3, false, true)]
    );
    assert_eq!(drain(&mut w, "q"), ["first", "other"]);
    let dropped = w
        .events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                EventKind::Dropped {
                    reason: DropReason::Duplicate,
                    ..
                }
            )
        })
        .count();
    assert_eq!(dropped, 1);
}

#[test]
fn a_duplicate_is_not_delivered_to_a_waiting_consumer() {
    let (mut w, ch) = dedup_queue(&[]);
    let c = w.client();
    w.consume(c, "q", true);
    w.publish_props(ch, "", "q", "first", keyed("k")).unwrap();
    w.publish_props(ch, "", "q", "again", keyed("k")).unwrap();
    assert_eq!(w.bodies(c), ["first"]);
}

#[test]
fn a_key_is_remembered_after_its_message_left_the_queue() {
    let (mut w, ch) = dedup_queue(&[]);
    w.publish_props(ch, "", "q", "first", keyed("k")).unwrap();
    assert_eq!(drain(&mut w, "q"), ["first"]);
    w.publish_props(ch, "", "q", "again", keyed("k")).unwrap();
    assert_eq!(w.ready("/", "q"), 0);
}

#[test]
fn after_the_cache_ttl_the_key_is_accepted_again() {
    let (mut w, ch) = dedup_queue(&[("x-cache-ttl", FieldValue::I32(1_000))]);
    w.publish_props(ch, "", "q", "first", keyed("k")).unwrap();
    w.now += 999;
    w.publish_props(ch, "", "q", "dup", keyed("k")).unwrap();
    w.now += 1;
    w.publish_props(ch, "", "q", "later", keyed("k")).unwrap();
    assert_eq!(drain(&mut w, "q"), ["first", "later"]);
}

#[test]
fn a_message_x_cache_ttl_header_overrides_the_cache_ttl() {
    let (mut w, ch) = dedup_queue(&[("x-cache-ttl", FieldValue::I32(10_000))]);
    let short = with_headers(&[
        ("x-deduplication-header", FieldValue::str("k")),
        ("x-cache-ttl", FieldValue::I32(100)),
    ]);
    w.publish_props(ch, "", "q", "first", short).unwrap();
    w.now += 99;
    w.publish_props(ch, "", "q", "dup", keyed("k")).unwrap();
    w.now += 1;
    w.publish_props(ch, "", "q", "accepted", keyed("k"))
        .unwrap();
    assert_eq!(drain(&mut w, "q"), ["first", "accepted"]);
}

#[test]
fn the_cache_forgets_its_oldest_key_when_full() {
    let (mut w, ch) = dedup_queue(&[("x-cache-size", FieldValue::I32(2))]);
    for k in ["a", "b", "c"] {
        w.publish_props(ch, "", "q", k, keyed(k)).unwrap();
    }
    // `a` was forgotten to make room for `c`; `c` is still remembered.
    w.publish_props(ch, "", "q", "a again", keyed("a")).unwrap();
    w.publish_props(ch, "", "q", "c again", keyed("c")).unwrap();
    assert_eq!(drain(&mut w, "q"), ["a", "b", "c", "a again"]);
}

#[test]
fn x_deduplication_header_names_the_key_header() {
    let (mut w, ch) = dedup_queue(&[("x-deduplication-header", FieldValue::str("order-id"))]);
    let order = |id: i32| with_headers(&[("order-id", FieldValue::I32(id))]);
    w.publish_props(ch, "", "q", "o1", order(1)).unwrap();
    w.publish_props(ch, "", "q", "o1 again", order(1)).unwrap();
    w.publish_props(ch, "", "q", "o2", order(2)).unwrap();
    // The default header is not the key any more.
    w.publish_props(ch, "", "q", "k", keyed("x")).unwrap();
    w.publish_props(ch, "", "q", "k again", keyed("x")).unwrap();
    assert_eq!(drain(&mut w, "q"), ["o1", "o2", "k", "k again"]);
}

#[test]
fn a_message_without_the_key_header_is_never_a_duplicate() {
    let (mut w, ch) = dedup_queue(&[]);
    w.fill(ch, "q", &["a", "a"]);
    assert_eq!(drain(&mut w, "q"), ["a", "a"]);
}

#[test]
fn without_the_key_header_the_message_id_is_the_key() {
    let (mut w, ch) = dedup_queue(&[]);
    let with_id = |id: &str| Properties {
        message_id: Some(s(id)),
        ..Default::default()
    };
    w.publish_props(ch, "", "q", "a", with_id("id-1")).unwrap();
    w.publish_props(ch, "", "q", "a again", with_id("id-1"))
        .unwrap();
    w.publish_props(ch, "", "q", "b", with_id("id-2")).unwrap();
    assert_eq!(drain(&mut w, "q"), ["a", "b"]);
}

#[test]
fn the_key_header_takes_precedence_over_the_message_id() {
    let (mut w, ch) = dedup_queue(&[]);
    let both = |key: &str, id: &str| Properties {
        message_id: Some(s(id)),
        ..keyed(key)
    };
    w.publish_props(ch, "", "q", "1", both("k1", "same-id"))
        .unwrap();
    w.publish_props(ch, "", "q", "2", both("k2", "same-id"))
        .unwrap();
    w.publish_props(ch, "", "q", "3", both("k1", "other-id"))
        .unwrap();
    assert_eq!(drain(&mut w, "q"), ["1", "2"]);
}

#[test]
fn a_named_key_header_does_not_fall_back_to_the_message_id() {
    let (mut w, ch) = dedup_queue(&[("x-deduplication-header", FieldValue::str("order-id"))]);
    let with_id = || Properties {
        message_id: Some(s("id-1")),
        ..Default::default()
    };
    w.publish_props(ch, "", "q", "a", with_id()).unwrap();
    w.publish_props(ch, "", "q", "b", with_id()).unwrap();
    assert_eq!(drain(&mut w, "q"), ["a", "b"]);
}

#[test]
fn keys_of_different_types_are_different_keys() {
    let (mut w, ch) = dedup_queue(&[]);
    let by = |v: FieldValue| with_headers(&[("x-deduplication-header", v)]);
    w.publish_props(ch, "", "q", "string", by(FieldValue::str("1")))
        .unwrap();
    w.publish_props(ch, "", "q", "int", by(FieldValue::I32(1)))
        .unwrap();
    w.publish_props(ch, "", "q", "long", by(FieldValue::I64(1)))
        .unwrap();
    assert_eq!(drain(&mut w, "q"), ["string", "int"]);
}

#[test]
fn each_queue_has_its_own_cache() {
    let mut w = World::new();
    let ch = w.client();
    w.exchange(ch, "fan", "fanout");
    for q in ["a", "b"] {
        w.declare_with(
            ch,
            q,
            table(&[("x-message-deduplication", FieldValue::Bool(true))]),
        );
        w.bind(ch, q, "fan", "");
    }
    w.publish_props(ch, "fan", "", "m", keyed("k")).unwrap();
    w.publish_props(ch, "fan", "", "m again", keyed("k"))
        .unwrap();
    w.publish_props(ch, "", "b", "direct to b", keyed("k2"))
        .unwrap();
    w.publish_props(ch, "", "a", "direct to a", keyed("k2"))
        .unwrap();
    assert_eq!(drain(&mut w, "a"), ["m", "direct to a"]);
    assert_eq!(drain(&mut w, "b"), ["m", "direct to b"]);
}

#[test]
fn exchange_deduplication_drops_the_duplicate_before_routing() {
    let mut w = World::new();
    let ch = w.client();
    w.exchange_with(
        ch,
        "dx",
        "fanout",
        table(&[
            ("x-message-deduplication", FieldValue::Bool(true)),
            ("x-cache-ttl", FieldValue::I32(500)),
        ]),
    );
    for q in ["a", "b"] {
        w.declare(ch, q);
        w.bind(ch, q, "dx", "");
    }
    w.confirm_select(ch);
    w.publish_props(ch, "dx", "", "m", keyed("k")).unwrap();
    w.publish_props(ch, "dx", "", "dup", keyed("k")).unwrap();
    assert_eq!(w.confirms(ch), [(1, false, true), (2, false, true)]);
    assert_eq!(w.ready("/", "a"), 1);
    assert_eq!(w.ready("/", "b"), 1);
    w.now += 500;
    w.publish_props(ch, "dx", "", "later", keyed("k")).unwrap();
    assert_eq!(drain(&mut w, "a"), ["m", "later"]);
    assert_eq!(drain(&mut w, "b"), ["m", "later"]);
}

#[test]
fn a_duplicate_at_the_exchange_is_not_returned_even_if_mandatory() {
    let mut w = World::new();
    let ch = w.client();
    w.exchange_with(
        ch,
        "dx",
        "direct",
        table(&[("x-message-deduplication", FieldValue::Bool(true))]),
    );
    w.send(ch, "dx", "nowhere", "m", keyed("k"), true).unwrap();
    w.send(ch, "dx", "nowhere", "m", keyed("k"), true).unwrap();
    w.settle();
    let returns = w
        .take_for(ch)
        .into_iter()
        .filter(|e| matches!(e, warren::broker::Effect::Return { .. }))
        .count();
    assert_eq!(returns, 1);
}

#[test]
fn exchange_deduplication_per_message_ttl_header_applies() {
    let mut w = World::new();
    let ch = w.client();
    w.exchange_with(
        ch,
        "dx",
        "fanout",
        table(&[("x-message-deduplication", FieldValue::Bool(true))]),
    );
    w.declare(ch, "q");
    w.bind(ch, "q", "dx", "");
    let short = with_headers(&[
        ("x-deduplication-header", FieldValue::str("k")),
        ("x-cache-ttl", FieldValue::I32(50)),
    ]);
    w.publish_props(ch, "dx", "", "first", short).unwrap();
    w.now += 50;
    w.publish_props(ch, "dx", "", "second", keyed("k")).unwrap();
    assert_eq!(drain(&mut w, "q"), ["first", "second"]);
}

#[test]
fn invalid_cache_size_is_precondition_failed() {
    let mut w = World::new();
    for args in [
        vec![
            ("x-message-deduplication", FieldValue::Bool(true)),
            ("x-cache-size", FieldValue::I32(0)),
        ],
        vec![
            ("x-message-deduplication", FieldValue::Bool(true)),
            ("x-cache-ttl", FieldValue::I32(-1)),
        ],
        vec![("x-message-deduplication", FieldValue::str("yes"))],
    ] {
        let ch = w.client();
        let e = w.declare_error(ch, &args);
        assert_eq!(e.code.code(), 406, "{args:?}");
    }
}

#[test]
fn a_publish_refused_by_a_full_queue_can_be_retried_with_the_same_key() {
    let (mut w, ch) = dedup_queue(&[
        ("x-max-length", FieldValue::I32(1)),
        ("x-overflow", FieldValue::str("reject-publish")),
    ]);
    w.confirm_select(ch);
    w.publish_props(ch, "", "q", "fills", keyed("a")).unwrap();
    w.publish_props(ch, "", "q", "refused", keyed("b")).unwrap();
    assert_eq!(w.confirms(ch), [(1, false, true), (2, false, false)]);
    // Room again: the retry of the nacked publish is accepted, not dropped.
    assert_eq!(drain(&mut w, "q"), ["fills"]);
    w.publish_props(ch, "", "q", "retry", keyed("b")).unwrap();
    assert_eq!(w.confirms(ch), [(3, false, true)]);
    assert_eq!(drain(&mut w, "q"), ["retry"]);
}
