//! Time to live: `x-message-ttl`, per-message `expiration`, TTL 0, expiry of
//! unacked messages once they return, the engine's wake-up deadlines, and
//! queue expiry (`x-expires`).

mod common;
use common::*;
use warren::broker::{ChannelRef, FieldValue};

fn declare_err(w: &mut World, ch: ChannelRef, args: &[(&str, FieldValue)]) -> (u16, String) {
    let e = w.declare_error(ch, args);
    (e.code.code(), e.text)
}

fn reason_of(w: &mut World) -> String {
    let c = w.client();
    let m = w.get(c, "dead", true).expect("a dead-lettered message");
    text(&deaths(&m.message)[0], "reason").unwrap()
}

#[test]
fn queue_ttl_expires_ready_messages_on_time() {
    let (mut w, ch) = dead_lettering_queue(&[("x-message-ttl", FieldValue::I32(100))]);
    w.publish(ch, "", "q", "m").unwrap();
    assert_eq!(w.broker.next_deadline(), Some(w.now + 100));
    w.advance(99);
    assert_eq!(w.ready("/", "q"), 1);
    w.advance(1);
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.ready("/", "dead"), 1);
    assert_eq!(reason_of(&mut w), "expired");
    assert_eq!(w.broker.next_deadline(), None);
}

#[test]
fn queue_ttl_counts_from_when_each_message_entered() {
    let (mut w, ch) = dead_lettering_queue(&[("x-message-ttl", FieldValue::I32(100))]);
    w.publish(ch, "", "q", "first").unwrap();
    w.advance(60);
    w.publish(ch, "", "q", "second").unwrap();
    w.advance(40);
    assert_eq!(w.ready("/", "q"), 1);
    assert_eq!(w.broker.next_deadline(), Some(w.now + 60));
    w.advance(60);
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.ready("/", "dead"), 2);
}

#[test]
fn per_message_expiration_expires_the_message() {
    let (mut w, ch) = dead_lettering_queue(&[]);
    w.publish_props(ch, "", "q", "m", expiring("250")).unwrap();
    assert_eq!(w.broker.next_deadline(), Some(w.now + 250));
    w.advance(249);
    assert_eq!(w.ready("/", "q"), 1);
    w.advance(1);
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(reason_of(&mut w), "expired");
}

#[test]
fn the_lower_of_queue_ttl_and_message_expiration_wins() {
    let (mut w, ch) = dead_lettering_queue(&[("x-message-ttl", FieldValue::I32(100))]);
    w.publish_props(ch, "", "q", "short", expiring("30"))
        .unwrap();
    w.publish_props(ch, "", "q", "long", expiring("5000"))
        .unwrap();
    w.advance(30);
    assert_eq!(w.ready("/", "q"), 1);
    w.advance(70);
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.ready("/", "dead"), 2);
}

#[test]
fn expiration_is_removed_on_dead_lettering_and_kept_as_original_expiration() {
    let (mut w, ch) = dead_lettering_queue(&[]);
    w.publish_props(ch, "", "q", "m", expiring("20")).unwrap();
    w.advance(20);
    let c = w.client();
    let m = w.get(c, "dead", true).unwrap();
    assert_eq!(m.message.properties.expiration, None);
    assert_eq!(
        text(&deaths(&m.message)[0], "original-expiration").as_deref(),
        Some("20")
    );
    // It cannot expire again in the dead-letter queue.
    assert_eq!(w.broker.next_deadline(), None);
}

#[test]
fn a_short_ttl_message_behind_a_long_one_expires_on_time() {
    let (mut w, ch) = dead_lettering_queue(&[]);
    w.publish_props(ch, "", "q", "long", expiring("10000"))
        .unwrap();
    w.publish_props(ch, "", "q", "short", expiring("10"))
        .unwrap();
    assert_eq!(w.broker.next_deadline(), Some(w.now + 10));
    w.advance(10);
    assert_eq!(w.ready("/", "q"), 1);
    let c = w.client();
    assert_eq!(w.get(c, "dead", true).unwrap().body, "short");
    assert_eq!(w.broker.next_deadline(), Some(w.now + 9_990));
    w.consume(c, "q", true);
    assert_eq!(w.bodies(c), ["long"]);
}

#[test]
fn ttl_zero_reaches_a_consumer_that_is_ready() {
    let (mut w, ch) = dead_lettering_queue(&[("x-message-ttl", FieldValue::I32(0))]);
    let c = w.client();
    w.consume(c, "q", false);
    w.publish(ch, "", "q", "now").unwrap();
    assert_eq!(w.bodies(c), ["now"]);
    assert_eq!(w.ready("/", "dead"), 0);
}

#[test]
fn ttl_zero_without_a_ready_consumer_expires_at_once() {
    let (mut w, ch) = dead_lettering_queue(&[("x-message-ttl", FieldValue::I32(0))]);
    w.publish(ch, "", "q", "nobody").unwrap();
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.ready("/", "dead"), 1);
    assert_eq!(reason_of(&mut w), "expired");
}

#[test]
fn ttl_zero_expires_when_the_consumer_has_no_room() {
    let (mut w, ch) = dead_lettering_queue(&[("x-message-ttl", FieldValue::I32(0))]);
    let c = w.client();
    w.prefetch(c, 1);
    w.consume(c, "q", false);
    w.publish(ch, "", "q", "taken").unwrap();
    w.publish(ch, "", "q", "no room").unwrap();
    assert_eq!(w.bodies(c), ["taken"]);
    assert_eq!(w.ready("/", "q"), 0);
    let d = w.client();
    assert_eq!(w.get(d, "dead", true).unwrap().body, "no room");
}

#[test]
fn per_message_expiration_zero_behaves_like_ttl_zero() {
    let (mut w, ch) = dead_lettering_queue(&[]);
    w.publish_props(ch, "", "q", "gone", expiring("0")).unwrap();
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.ready("/", "dead"), 1);
    let c = w.client();
    w.consume(c, "q", true);
    w.publish_props(ch, "", "q", "caught", expiring("0"))
        .unwrap();
    assert_eq!(w.bodies(c), ["caught"]);
}

#[test]
fn an_unacked_message_does_not_expire_while_it_is_out() {
    let (mut w, ch) = dead_lettering_queue(&[("x-message-ttl", FieldValue::I32(100))]);
    let c = w.client();
    w.consume(c, "q", false);
    w.publish(ch, "", "q", "m").unwrap();
    assert_eq!(w.bodies(c), ["m"]);
    w.advance(500);
    assert_eq!(w.unacked("/", "q"), 1);
    assert_eq!(w.ready("/", "dead"), 0);
    w.ack(c, 1, false).unwrap();
    assert_eq!(w.ready("/", "dead"), 0);
}

#[test]
fn a_message_that_expired_while_unacked_is_dead_lettered_when_nacked_back() {
    let (mut w, ch) = dead_lettering_queue(&[("x-message-ttl", FieldValue::I32(100))]);
    let c = w.client();
    w.consume(c, "q", false);
    w.publish(ch, "", "q", "m").unwrap();
    w.deliveries(c);
    w.advance(100);
    w.nack(c, 1, false, true).unwrap();
    assert!(w.deliveries(c).is_empty());
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.unacked("/", "q"), 0);
    assert_eq!(reason_of(&mut w), "expired");
}

#[test]
fn a_message_that_expired_while_unacked_is_dead_lettered_when_its_channel_closes() {
    let (mut w, ch) = dead_lettering_queue(&[]);
    let c = w.client();
    w.consume(c, "q", false);
    w.publish_props(ch, "", "q", "m", expiring("100")).unwrap();
    w.deliveries(c);
    w.advance(150);
    w.close_channel(c);
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(reason_of(&mut w), "expired");
}

#[test]
fn a_message_requeued_before_its_ttl_keeps_its_original_deadline() {
    let (mut w, ch) = dead_lettering_queue(&[("x-message-ttl", FieldValue::I32(100))]);
    let c = w.client();
    w.publish(ch, "", "q", "m").unwrap();
    let got = w.get(c, "q", false).unwrap();
    w.advance(60);
    w.reject(c, got.tag, true).unwrap();
    assert_eq!(w.ready("/", "q"), 1);
    w.advance(39);
    assert_eq!(w.ready("/", "q"), 1);
    w.advance(1);
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.ready("/", "dead"), 1);
}

#[test]
fn basic_get_never_returns_an_expired_message() {
    let (mut w, ch) = dead_lettering_queue(&[("x-message-ttl", FieldValue::I32(100))]);
    w.publish(ch, "", "q", "m").unwrap();
    let c = w.client();
    // The get arrives after the deadline, before any timer ran.
    w.now += 100;
    w.broker.basic_get(w.now, c, "q", true).unwrap();
    w.effects.extend(w.broker.take_effects());
    assert!(w.deliveries(c).is_empty());
    assert_eq!(w.ready("/", "dead"), 1);
}

#[test]
fn expired_messages_without_a_dead_letter_exchange_are_dropped() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(ch, "q", table(&[("x-message-ttl", FieldValue::I32(10))]));
    w.fill(ch, "q", &["a", "b"]);
    w.advance(10);
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.broker.next_deadline(), None);
}

#[test]
fn a_dead_lettered_message_gets_the_ttl_of_the_queue_it_lands_in() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(
        ch,
        "delay",
        table(&[
            ("x-message-ttl", FieldValue::I32(100)),
            ("x-dead-letter-exchange", FieldValue::str("")),
            ("x-dead-letter-routing-key", FieldValue::str("work")),
        ]),
    );
    w.declare(ch, "work");
    let c = w.client();
    w.consume(c, "work", true);
    w.publish_props(ch, "", "delay", "later", expiring("5000"))
        .unwrap();
    w.advance(99);
    assert!(w.bodies(c).is_empty());
    w.advance(1);
    assert_eq!(w.bodies(c), ["later"]);
}

#[test]
fn invalid_ttl_arguments_are_precondition_failed() {
    let mut w = World::new();
    for args in [
        vec![("x-message-ttl", FieldValue::I32(-1))],
        vec![("x-message-ttl", FieldValue::str("1000"))],
        vec![("x-expires", FieldValue::I32(0))],
        vec![("x-expires", FieldValue::I64(-5))],
        vec![("x-expires", FieldValue::Bool(true))],
    ] {
        let ch = w.client();
        let (code, text) = declare_err(&mut w, ch, &args);
        assert_eq!(code, 406, "{args:?}");
        assert!(
            text.starts_with(&format!(
                "PRECONDITION_FAILED - invalid arg '{}'",
                args[0].0
            )),
            "{text}"
        );
        assert!(!w.broker.channel_is_open(ch));
    }
}

#[test]
fn an_invalid_per_message_expiration_is_precondition_failed() {
    let mut w = World::new();
    for bad in ["abc", "-1", "", "10s"] {
        let ch = w.client();
        w.declare(ch, "q");
        let e = w
            .publish_props(ch, "", "q", "m", expiring(bad))
            .unwrap_err();
        assert_eq!(e.code.code(), 406, "{bad:?}");
        assert!(
            e.text
                .starts_with(&format!("PRECONDITION_FAILED - invalid expiration '{bad}'")),
            "{}",
            e.text
        );
        assert!(!w.broker.channel_is_open(ch));
    }
    assert_eq!(w.ready("/", "q"), 0);
}

// ---- queue expiry (x-expires) --------------------------------------------

#[test]
fn an_unused_queue_is_deleted_after_x_expires() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(ch, "temp", table(&[("x-expires", FieldValue::I32(1_000))]));
    w.publish(ch, "", "temp", "publishing does not count as use")
        .unwrap();
    assert_eq!(w.broker.next_deadline(), Some(w.now + 1_000));
    w.advance(999);
    assert!(w.exists("temp"));
    w.advance(1);
    assert!(!w.exists("temp"));
    assert_eq!(w.broker.next_deadline(), None);
}

#[test]
fn a_consumer_keeps_an_expiring_queue_alive() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(ch, "temp", table(&[("x-expires", FieldValue::I32(1_000))]));
    let tag = w.consume(ch, "temp", false);
    w.advance(5_000);
    assert!(w.exists("temp"));
    w.broker.basic_cancel(w.now, ch, &tag).unwrap();
    w.settle();
    assert_eq!(w.broker.next_deadline(), Some(w.now + 1_000));
    w.advance(999);
    assert!(w.exists("temp"));
    w.advance(1);
    assert!(!w.exists("temp"));
}

#[test]
fn redeclaring_an_expiring_queue_restarts_its_timer() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(ch, "temp", table(&[("x-expires", FieldValue::I32(1_000))]));
    w.advance(800);
    w.declare_with(ch, "temp", table(&[("x-expires", FieldValue::I32(1_000))]));
    w.advance(800);
    assert!(w.exists("temp"));
    w.advance(200);
    assert!(!w.exists("temp"));
}

#[test]
fn basic_get_counts_as_use_of_an_expiring_queue() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(ch, "temp", table(&[("x-expires", FieldValue::I32(1_000))]));
    w.advance(900);
    assert!(w.get(ch, "temp", true).is_none());
    w.advance(900);
    assert!(w.exists("temp"));
    w.advance(100);
    assert!(!w.exists("temp"));
}

#[test]
fn a_closed_consumer_connection_starts_the_expiry_timer() {
    let mut w = World::new();
    let owner = w.client();
    let c = w.client();
    w.declare_with(
        owner,
        "temp",
        table(&[("x-expires", FieldValue::I32(1_000))]),
    );
    w.consume(c, "temp", false);
    w.advance(2_000);
    w.close_connection(c);
    w.advance(999);
    assert!(w.exists("temp"));
    w.advance(1);
    assert!(!w.exists("temp"));
}

#[test]
fn ttl_zero_reaches_a_ready_consumer_when_dead_lettered_in() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(
        ch,
        "instant",
        table(&[("x-message-ttl", FieldValue::I32(0))]),
    );
    w.declare_with(
        ch,
        "work",
        table(&[
            ("x-dead-letter-exchange", FieldValue::str("")),
            ("x-dead-letter-routing-key", FieldValue::str("instant")),
        ]),
    );
    let c = w.client();
    w.consume(c, "instant", true);
    w.publish(ch, "", "work", "m").unwrap();
    let got = w.get(ch, "work", false).unwrap();
    w.reject(ch, got.tag, false).unwrap();
    assert_eq!(w.bodies(c), ["m"]);
}
