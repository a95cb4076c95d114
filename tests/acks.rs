//! Acknowledgments: ack, nack, reject with `multiple` and `requeue`; requeue to
//! the original position; redelivery on channel and connection close.

mod common;
use common::*;
use warren::broker::{ConnectionInfo, Effect, FieldValue};

fn setup(n: usize) -> (World, warren::broker::ChannelRef) {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    let bodies: Vec<String> = (1..=n).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
    w.fill(ch, "q", &refs);
    (w, ch)
}

/// `basic.qos` with `global`: one limit shared by the channel's consumers.
fn global_prefetch(w: &mut World, ch: warren::broker::ChannelRef, count: u16) {
    w.broker
        .basic_qos(
            w.now,
            ch,
            warren::broker::Qos {
                prefetch_count: count,
                global: true,
                ..Default::default()
            },
        )
        .unwrap();
}

#[test]
fn manual_ack_removes_the_message() {
    let (mut w, ch) = setup(1);
    w.consume(ch, "q", false);
    let d = w.deliveries(ch);
    assert_eq!(d.len(), 1);
    assert!(!d[0].redelivered);
    assert_eq!(w.unacked("/", "q"), 1);
    w.ack(ch, d[0].tag, false).unwrap();
    assert_eq!(w.unacked("/", "q"), 0);
    assert_eq!(w.ready("/", "q"), 0);
}

#[test]
fn nack_multiple_requeue_returns_earlier_tags_in_order_and_leaves_later_ones_out() {
    let (mut w, ch) = setup(4);
    w.consume(ch, "q", false);
    let d = w.deliveries(ch);
    assert_eq!(d.iter().map(|d| d.tag).collect::<Vec<_>>(), [1, 2, 3, 4]);
    // Stop redelivery so the requeued messages stay visible as ready.
    w.broker.channel_flow(w.now, ch, false).unwrap();
    w.nack(ch, 3, true, true).unwrap();
    assert_eq!(w.ready("/", "q"), 3);
    assert_eq!(w.unacked("/", "q"), 1);
    w.broker.channel_flow(w.now, ch, true).unwrap();
    w.settle();
    let again = w.deliveries(ch);
    assert_eq!(
        again.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        ["m1", "m2", "m3"]
    );
    assert!(again.iter().all(|d| d.redelivered));
    // tag 4 is still outstanding and can be acked
    w.ack(ch, 4, false).unwrap();
}

#[test]
fn requeued_message_goes_back_to_its_original_position() {
    let (mut w, ch) = setup(3);
    let tag = {
        w.broker.basic_get(w.now, ch, "q", false).unwrap();
        w.settle();
        w.deliveries(ch)[0].tag
    };
    w.reject(ch, tag, true).unwrap();
    let c = w.client();
    w.consume(c, "q", true);
    let d = w.deliveries(c);
    assert_eq!(
        d.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        ["m1", "m2", "m3"]
    );
    assert_eq!(
        d.iter().map(|d| d.redelivered).collect::<Vec<_>>(),
        [true, false, false]
    );
}

#[test]
fn closing_a_channel_redelivers_its_messages_in_order_to_the_other_consumer() {
    let mut w = World::new();
    let a = w.client();
    let b = w.client();
    w.declare(a, "q");
    w.prefetch(a, 2);
    w.prefetch(b, 2);
    w.consume(a, "q", false);
    w.consume(b, "q", false);
    w.fill(a, "q", &["m1", "m2", "m3", "m4"]);
    let got_a = w.bodies(a);
    let got_b = w.bodies(b);
    assert_eq!(got_a, ["m1", "m3"]);
    assert_eq!(got_b, ["m2", "m4"]);
    w.close_channel(a);
    // b is full (prefetch 2); acking frees room for a's messages, in order.
    w.ack(b, 2, true).unwrap();
    let d = w.deliveries(b);
    assert_eq!(
        d.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(),
        ["m1", "m3"]
    );
    assert!(d.iter().all(|d| d.redelivered));
}

#[test]
fn connection_loss_before_ack_brings_the_message_back_redelivered() {
    let mut w = World::new();
    let worker = w.client();
    let p = w.client();
    w.declare(p, "tasks");
    w.consume(worker, "tasks", false);
    w.publish(p, "", "tasks", "Hello").unwrap();
    assert_eq!(w.bodies(worker), ["Hello"]);
    w.close_connection(worker);
    let second = w.client();
    w.consume(second, "tasks", false);
    let d = w.deliveries(second);
    assert_eq!(d.len(), 1);
    assert!(d[0].redelivered);
    assert_eq!(d[0].header("x-delivery-count"), Some(&FieldValue::I64(1)));
}

#[test]
fn auto_ack_message_is_gone_when_the_consumer_dies() {
    let mut w = World::new();
    let worker = w.client();
    w.declare(worker, "tasks");
    w.consume(worker, "tasks", true);
    w.fill(worker, "tasks", &["Hello"]);
    assert_eq!(w.bodies(worker), ["Hello"]);
    w.close_connection(worker);
    let c = w.client();
    assert_eq!(w.ready("/", "tasks"), 0);
    w.consume(c, "tasks", false);
    assert!(w.deliveries(c).is_empty());
}

#[test]
fn double_ack_is_precondition_failed_and_closes_the_channel() {
    let (mut w, ch) = setup(2);
    w.consume(ch, "q", false);
    w.deliveries(ch);
    w.ack(ch, 1, false).unwrap();
    let e = w.ack(ch, 1, false).unwrap_err();
    assert_eq!(e.code.code(), 406);
    assert_eq!(e.text, "PRECONDITION_FAILED - unknown delivery tag 1");
    assert!(!w.broker.channel_is_open(ch));
    // the channel's other delivery went back to the queue
    assert_eq!(w.ready("/", "q"), 1);
}

#[test]
fn unknown_tag_is_precondition_failed() {
    let (mut w, ch) = setup(1);
    assert_eq!(
        w.ack(ch, 7, false).unwrap_err().text,
        "PRECONDITION_FAILED - unknown delivery tag 7"
    );
}

#[test]
fn ack_multiple_over_a_settled_tag_is_precondition_failed() {
    let (mut w, ch) = setup(4);
    w.consume(ch, "q", false);
    w.deliveries(ch);
    w.ack(ch, 2, false).unwrap();
    assert_eq!(w.ack(ch, 2, true).unwrap_err().code.code(), 406);
}

#[test]
fn ack_zero_multiple_with_nothing_outstanding_is_fine() {
    let (mut w, ch) = setup(0);
    w.ack(ch, 0, true).unwrap();
    assert!(w.broker.channel_is_open(ch));
}

#[test]
fn ack_zero_multiple_acks_everything_outstanding() {
    let (mut w, ch) = setup(3);
    w.consume(ch, "q", false);
    assert_eq!(w.deliveries(ch).len(), 3);
    w.ack(ch, 0, true).unwrap();
    assert_eq!(w.unacked("/", "q"), 0);
}

#[test]
fn ack_multiple_settles_up_to_the_tag_only() {
    let (mut w, ch) = setup(4);
    w.consume(ch, "q", false);
    w.deliveries(ch);
    w.ack(ch, 3, true).unwrap();
    assert_eq!(w.unacked("/", "q"), 1);
    w.ack(ch, 4, false).unwrap();
}

#[test]
fn reject_without_requeue_drops_without_a_dead_letter_exchange() {
    let (mut w, ch) = setup(1);
    w.consume(ch, "q", false);
    w.deliveries(ch);
    w.reject(ch, 1, false).unwrap();
    assert_eq!(w.ready("/", "q"), 0);
    assert_eq!(w.unacked("/", "q"), 0);
}

#[test]
fn recover_requeues_every_unacked_delivery() {
    let (mut w, ch) = setup(2);
    w.consume(ch, "q", false);
    assert_eq!(w.deliveries(ch).len(), 2);
    w.broker.basic_recover(w.now, ch, true).unwrap();
    w.settle();
    let d = w.deliveries(ch);
    assert_eq!(
        d.iter().map(|d| (d.tag, d.redelivered)).collect::<Vec<_>>(),
        [(3, true), (4, true)]
    );
    assert_eq!(
        w.broker
            .basic_recover(w.now, ch, false)
            .unwrap_err()
            .code
            .code(),
        540
    );
}

#[test]
fn cancelled_consumer_keeps_its_deliveries_ackable() {
    let (mut w, ch) = setup(2);
    let tag = w.consume(ch, "q", false);
    w.deliveries(ch);
    w.broker.basic_cancel(w.now, ch, &tag).unwrap();
    w.settle();
    assert_eq!(w.unacked("/", "q"), 2);
    w.ack(ch, 2, true).unwrap();
    assert_eq!(w.unacked("/", "q"), 0);
    assert_eq!(w.ready("/", "q"), 0);
}

#[test]
fn get_ignores_prefetch_and_reports_the_remaining_count() {
    let (mut w, ch) = setup(2);
    w.prefetch(ch, 1);
    for expect in [1u32, 0] {
        w.broker.basic_get(w.now, ch, "q", false).unwrap();
        w.settle();
        let got = w.take_for(ch);
        assert!(
            matches!(got.as_slice(), [Effect::GetOk { message_count, .. }] if *message_count == expect)
        );
    }
    w.broker.basic_get(w.now, ch, "q", false).unwrap();
    w.settle();
    assert!(matches!(
        w.take_for(ch).as_slice(),
        [Effect::GetEmpty { .. }]
    ));
}

#[test]
fn prefetch_limits_what_a_consumer_holds() {
    let (mut w, ch) = setup(5);
    w.prefetch(ch, 2);
    w.consume(ch, "q", false);
    assert_eq!(w.bodies(ch), ["m1", "m2"]);
    w.ack(ch, 1, false).unwrap();
    assert_eq!(w.bodies(ch), ["m3"]);
    assert_eq!(w.ready("/", "q"), 2);
}

#[test]
fn global_prefetch_is_shared_by_the_channel_consumers() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "a");
    w.declare(ch, "b");
    global_prefetch(&mut w, ch, 3);
    w.consume(ch, "a", false);
    w.consume(ch, "b", false);
    w.fill(ch, "a", &["a1", "a2"]);
    w.fill(ch, "b", &["b1", "b2"]);
    assert_eq!(w.bodies(ch), ["a1", "a2", "b1"]);
}

#[test]
fn acking_the_oldest_delivery_alone_frees_a_slot_of_the_global_prefetch() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "a");
    w.declare(ch, "b");
    global_prefetch(&mut w, ch, 2);
    w.consume(ch, "a", false);
    w.consume(ch, "b", false);
    w.fill(ch, "a", &["a1", "a2"]);
    w.fill(ch, "b", &["b1"]);
    assert_eq!(w.bodies(ch), ["a1", "a2"]);
    // Tag 1 with and without `multiple`: each names the oldest alone, and
    // the slot it frees goes to queue b, whose consumer waited on the
    // channel's limit, not its own.
    w.ack(ch, 1, true).unwrap();
    assert_eq!(w.bodies(ch), ["b1"]);
    w.fill(ch, "b", &["b2"]);
    w.ack(ch, 2, false).unwrap();
    assert_eq!(w.bodies(ch), ["b2"]);
    assert_eq!(w.unacked("/", "a"), 0);
    assert_eq!(w.unacked("/", "b"), 2);
}

#[test]
fn acking_the_oldest_timed_delivery_alone_leaves_the_next_on_its_own_timeout() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(
        ch,
        "q",
        table(&[("x-consumer-timeout", FieldValue::I32(1000))]),
    );
    w.consume(ch, "q", false);
    let start = w.now;
    w.fill(ch, "q", &["m1"]);
    w.advance(500);
    w.fill(ch, "q", &["m2"]);
    assert_eq!(w.bodies(ch), ["m1", "m2"]);
    w.ack(ch, 1, false).unwrap();
    w.advance(600);
    assert_eq!(w.unacked("/", "q"), 1, "m1's deadline passed after its ack");
    assert!(w.take_for(ch).is_empty());
    assert_eq!(w.broker.next_deadline(), Some(start + 1500));
    w.advance(400);
    assert_eq!(w.unacked("/", "q"), 0);
    assert_eq!(w.ready("/", "q"), 1, "m2 timed out and went back");
}

#[test]
fn timed_out_consumer_is_cancelled_and_its_message_requeued() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(
        ch,
        "q",
        table(&[("x-consumer-timeout", FieldValue::I32(1000))]),
    );
    w.consume(ch, "q", false);
    w.fill(ch, "q", &["slow"]);
    assert_eq!(w.bodies(ch), ["slow"]);
    assert_eq!(w.broker.next_deadline(), Some(w.now + 1000));
    w.advance(999);
    assert_eq!(w.unacked("/", "q"), 1);
    w.advance(1);
    assert!(w
        .take_for(ch)
        .iter()
        .any(|e| matches!(e, Effect::Cancel { .. })));
    assert_eq!(w.ready("/", "q"), 1);
    assert_eq!(w.broker.queue_counts("/", "q").unwrap().consumers, 0);
}

#[test]
fn timed_out_consumer_without_cancel_notify_loses_its_channel() {
    let mut w = World::new();
    let ch = w.client_with(ConnectionInfo {
        consumer_cancel_notify: false,
        ..Default::default()
    });
    w.declare_with(
        ch,
        "q",
        table(&[("x-consumer-timeout", FieldValue::I32(50))]),
    );
    w.consume(ch, "q", false);
    w.fill(ch, "q", &["slow"]);
    w.advance(60);
    let closed = w.take_for(ch);
    assert!(closed.iter().any(|e| matches!(e, Effect::CloseChannel { error, .. } if error.code.code() == 406 && error.text.contains("timed out"))));
    assert!(!w.broker.channel_is_open(ch));
    assert_eq!(w.ready("/", "q"), 1);
}

#[test]
fn lease_extension_pushes_the_timeout_back() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(
        ch,
        "q",
        table(&[("x-consumer-timeout", FieldValue::I32(100))]),
    );
    w.consume(ch, "q", false);
    w.fill(ch, "q", &["long job"]);
    w.advance(90);
    w.broker.extend_lease(w.now, ch, 1, 500).unwrap();
    w.advance(400);
    assert_eq!(w.unacked("/", "q"), 1);
    w.ack(ch, 1, false).unwrap();
    assert_eq!(
        w.broker
            .extend_lease(w.now, ch, 1, 5)
            .unwrap_err()
            .code
            .code(),
        406
    );
}

#[test]
fn ack_multiple_over_interleaved_consumers_and_a_get_frees_each_ones_slots() {
    let mut w = World::new();
    let ch = w.client();
    for q in ["q1", "q2"] {
        w.declare(ch, q);
        w.fill(ch, q, &["m1", "m2", "m3", "m4", "m5", "m6"]);
    }
    w.prefetch(ch, 2);
    w.consume(ch, "q1", false);
    w.consume(ch, "q2", false);
    let d = w.deliveries(ch);
    assert_eq!(d.iter().map(|d| d.tag).collect::<Vec<_>>(), [1, 2, 3, 4]);
    // Tag 5 goes to q1's consumer again, tag 6 is a basic.get from q1:
    // outstanding are runs of q1's consumer, q2's, q1's, then the get.
    w.ack(ch, 1, false).unwrap();
    assert_eq!(w.bodies(ch), ["m3"]);
    let got = w.get(ch, "q1", false).unwrap();
    assert_eq!((got.tag, got.body.as_str()), (6, "m4"));
    assert_eq!((w.unacked("/", "q1"), w.unacked("/", "q2")), (3, 2));
    w.ack(ch, 6, true).unwrap();
    // Every slot freed, each consumer's own: both take two more at once.
    assert_eq!(w.deliveries(ch).len(), 4);
    assert_eq!((w.unacked("/", "q1"), w.unacked("/", "q2")), (2, 2));
    assert_eq!((w.ready("/", "q1"), w.ready("/", "q2")), (0, 2));
    let per_consumer: Vec<u32> = w
        .broker
        .snapshot()
        .consumers
        .iter()
        .map(|c| c.unacked)
        .collect();
    assert_eq!(per_consumer, [2, 2]);
}
