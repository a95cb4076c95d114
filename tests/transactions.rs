//! Transactions: publishes and settlements held until `tx.commit`, discarded
//! by `tx.rollback`; returns sent before commit-ok; 406 outside a transaction.

mod common;
use common::*;
use warren::broker::{BrokerConfig, ChannelRef, Effect, FieldValue, Message, Properties};

fn tx_world() -> (World, ChannelRef) {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.broker.tx_select(w.now, ch).unwrap();
    w.settle();
    (w, ch)
}

fn commit(w: &mut World, ch: ChannelRef) {
    w.broker.tx_commit(w.now, ch).unwrap();
    w.settle();
}

fn rollback(w: &mut World, ch: ChannelRef) {
    w.broker.tx_rollback(w.now, ch).unwrap();
    w.settle();
}

#[test]
fn publishes_are_invisible_until_commit() {
    let (mut w, ch) = tx_world();
    let c = w.client();
    w.consume(c, "q", false);
    w.publish(ch, "", "q", "a").unwrap();
    w.publish(ch, "", "q", "b").unwrap();
    assert_eq!(w.ready("/", "q"), 0);
    assert!(w.bodies(c).is_empty());
    commit(&mut w, ch);
    assert_eq!(w.bodies(c), ["a", "b"]);
}

#[test]
fn acks_take_effect_at_commit() {
    let (mut w, ch) = tx_world();
    let p = w.client();
    w.fill(p, "q", &["a", "b"]);
    w.consume(ch, "q", false);
    assert_eq!(w.bodies(ch), ["a", "b"]);
    w.ack(ch, 1, false).unwrap();
    assert_eq!(w.unacked("/", "q"), 2);
    commit(&mut w, ch);
    assert_eq!(w.unacked("/", "q"), 1);
    w.ack(ch, 2, false).unwrap();
    commit(&mut w, ch);
    assert_eq!(w.unacked("/", "q"), 0);
    assert_eq!(w.ready("/", "q"), 0);
}

#[test]
fn nack_with_requeue_takes_effect_at_commit() {
    let (mut w, ch) = tx_world();
    let p = w.client();
    w.fill(p, "q", &["a"]);
    w.consume(ch, "q", false);
    assert_eq!(w.bodies(ch), ["a"]);
    w.nack(ch, 1, false, true).unwrap();
    assert!(w.deliveries(ch).is_empty());
    assert_eq!(w.unacked("/", "q"), 1);
    commit(&mut w, ch);
    let again = w.deliveries(ch);
    assert_eq!(again.len(), 1);
    assert!(again[0].redelivered);
}

#[test]
fn rollback_discards_publishes() {
    let (mut w, ch) = tx_world();
    w.publish(ch, "", "q", "a").unwrap();
    rollback(&mut w, ch);
    assert_eq!(w.ready("/", "q"), 0);
    commit(&mut w, ch);
    assert_eq!(w.ready("/", "q"), 0);
}

#[test]
fn rollback_keeps_deliveries_unacked_and_does_not_redeliver_them() {
    let (mut w, ch) = tx_world();
    let p = w.client();
    w.fill(p, "q", &["a"]);
    w.consume(ch, "q", false);
    assert_eq!(w.bodies(ch), ["a"]);
    w.ack(ch, 1, false).unwrap();
    rollback(&mut w, ch);
    assert_eq!(w.unacked("/", "q"), 1);
    assert!(w.deliveries(ch).is_empty());
    // Still outstanding: it can be acked in the next transaction.
    w.ack(ch, 1, false).unwrap();
    commit(&mut w, ch);
    assert_eq!(w.unacked("/", "q"), 0);
}

#[test]
fn a_commit_starts_a_new_transaction() {
    let (mut w, ch) = tx_world();
    w.publish(ch, "", "q", "first").unwrap();
    commit(&mut w, ch);
    assert_eq!(w.ready("/", "q"), 1);
    w.publish(ch, "", "q", "second").unwrap();
    assert_eq!(w.ready("/", "q"), 1);
    rollback(&mut w, ch);
    assert_eq!(w.ready("/", "q"), 1);
}

#[test]
fn committed_publishes_keep_their_order() {
    let (mut w, ch) = tx_world();
    for b in ["1", "2", "3"] {
        w.publish(ch, "", "q", b).unwrap();
    }
    commit(&mut w, ch);
    let c = w.client();
    w.consume(c, "q", true);
    assert_eq!(w.bodies(c), ["1", "2", "3"]);
}

#[test]
fn mandatory_unroutable_publish_is_returned_at_commit_before_commit_ok() {
    let (mut w, ch) = tx_world();
    w.publish_mandatory(ch, "", "nowhere", "lost").unwrap();
    assert!(
        w.take_for(ch).is_empty(),
        "nothing is returned before commit"
    );
    w.broker.tx_commit(w.now, ch).unwrap();
    // The commit-ok follows the effects queued while the command ran.
    let effects = w.broker.take_effects();
    assert_eq!(effects.len(), 2, "{effects:?}");
    assert_eq!(effects[1], Effect::TxCommitOk { to: ch });
    match &effects[0] {
        Effect::Return {
            to,
            reply_code,
            reply_text,
            message,
        } => {
            assert_eq!(*to, ch);
            assert_eq!(*reply_code, 312);
            assert_eq!(reply_text.as_str(), "NO_ROUTE");
            assert_eq!(message.body(), b"lost");
        }
        other => panic!("expected basic.return, got {other:?}"),
    }
}

#[test]
fn rolled_back_mandatory_publish_is_never_returned() {
    let (mut w, ch) = tx_world();
    let m = Message::new(s(""), s("nowhere"), Properties::default(), b"x");
    w.broker.basic_publish(w.now, ch, m, true, false).unwrap();
    rollback(&mut w, ch);
    commit(&mut w, ch);
    assert_eq!(w.take_for(ch), [Effect::TxCommitOk { to: ch }]);
}

#[test]
fn commit_on_a_non_transactional_channel_is_precondition_failed() {
    let mut w = World::new();
    let ch = w.client();
    let e = w.broker.tx_commit(w.now, ch).unwrap_err();
    assert_eq!(e.code.code(), 406);
    assert_eq!(e.text, "PRECONDITION_FAILED - channel is not transactional");
    assert!(!w.broker.channel_is_open(ch));
}

#[test]
fn rollback_on_a_non_transactional_channel_is_precondition_failed() {
    let mut w = World::new();
    let ch = w.client();
    let e = w.broker.tx_rollback(w.now, ch).unwrap_err();
    assert_eq!(e.code.code(), 406);
    assert_eq!(e.text, "PRECONDITION_FAILED - channel is not transactional");
    assert!(!w.broker.channel_is_open(ch));
}

#[test]
fn tx_select_twice_is_fine() {
    let (mut w, ch) = tx_world();
    w.broker.tx_select(w.now, ch).unwrap();
    w.publish(ch, "", "q", "a").unwrap();
    commit(&mut w, ch);
    assert_eq!(w.ready("/", "q"), 1);
}

#[test]
fn publish_to_a_missing_exchange_fails_at_once_in_a_transaction() {
    let (mut w, ch) = tx_world();
    let e = w.publish(ch, "no-such-exchange", "k", "m").unwrap_err();
    assert_eq!(e.code.code(), 404);
    assert_eq!(
        e.text,
        "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'"
    );
    assert!(!w.broker.channel_is_open(ch));
}

#[test]
fn closing_the_channel_discards_the_open_transaction_and_requeues_deliveries() {
    let (mut w, ch) = tx_world();
    let p = w.client();
    w.fill(p, "q", &["a"]);
    w.consume(ch, "q", false);
    assert_eq!(w.bodies(ch), ["a"]);
    w.ack(ch, 1, false).unwrap();
    w.publish(ch, "", "q", "uncommitted").unwrap();
    w.close_channel(ch);
    assert_eq!(w.ready("/", "q"), 1);
    let c = w.client();
    w.consume(c, "q", true);
    let d = w.deliveries(c);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].body, "a");
    assert!(d[0].redelivered);
}

#[test]
fn acking_an_unknown_tag_in_a_transaction_fails_at_once() {
    let (mut w, ch) = tx_world();
    let e = w.ack(ch, 9, false).unwrap_err();
    assert_eq!(e.code.code(), 406);
    assert_eq!(e.text, "PRECONDITION_FAILED - unknown delivery tag 9");
    assert!(!w.broker.channel_is_open(ch));
}

#[test]
fn a_delivery_settled_in_a_transaction_cannot_be_settled_again() {
    // RabbitMQ takes it from the channel's unacked list at the settle.
    let (mut w, ch) = tx_world();
    let p = w.client();
    w.fill(p, "q", &["a", "b"]);
    w.consume(ch, "q", false);
    assert_eq!(w.bodies(ch), ["a", "b"]);
    w.ack(ch, 2, true).unwrap();
    let e = w.reject(ch, 1, true).unwrap_err();
    assert_eq!(e.text, "PRECONDITION_FAILED - unknown delivery tag 1");
    assert!(!w.broker.channel_is_open(ch));
    // The close requeues both: the ack was never committed.
    assert_eq!(w.ready("/", "q"), 2);
}

#[test]
fn recover_leaves_what_the_transaction_settled() {
    // RabbitMQ 3.10 (tests/rabbitmq/random-walk.mjs, seed 136): the nack
    // waits for the commit; the recover requeues only b.
    let (mut w, ch) = tx_world();
    let p = w.client();
    w.fill(p, "q", &["a", "b"]);
    let a = w.get(ch, "q", false).unwrap();
    w.get(ch, "q", false).unwrap();
    w.nack(ch, a.tag, false, false).unwrap();
    w.broker.basic_recover(w.now, ch, true).unwrap();
    w.settle();
    assert_eq!(w.ready("/", "q"), 1);
    assert_eq!(w.unacked("/", "q"), 1);
    commit(&mut w, ch);
    assert_eq!(w.unacked("/", "q"), 0);
    assert_eq!(w.get(p, "q", true).unwrap().body, "b");
}

#[test]
fn a_rollback_makes_settled_deliveries_outstanding_again() {
    let (mut w, ch) = tx_world();
    let p = w.client();
    w.fill(p, "q", &["a", "b"]);
    w.consume(ch, "q", false);
    assert_eq!(w.bodies(ch), ["a", "b"]);
    w.ack(ch, 0, true).unwrap();
    rollback(&mut w, ch);
    w.broker.basic_recover(w.now, ch, true).unwrap();
    w.settle();
    assert_eq!(w.deliveries(ch).len(), 2);
    assert_eq!(w.unacked("/", "q"), 2);
}

#[test]
fn ack_all_in_a_transaction_reaches_only_what_was_delivered_before_it() {
    let (mut w, ch) = tx_world();
    let p = w.client();
    w.fill(p, "q", &["a"]);
    w.consume(ch, "q", false);
    assert_eq!(w.bodies(ch), ["a"]);
    w.ack(ch, 0, true).unwrap();
    w.fill(p, "q", &["b"]);
    assert_eq!(w.bodies(ch), ["b"]);
    commit(&mut w, ch);
    assert_eq!(w.unacked("/", "q"), 1);
    w.ack(ch, 2, false).unwrap();
    commit(&mut w, ch);
    assert_eq!(w.unacked("/", "q"), 0);
}

#[test]
fn a_commit_with_a_publish_a_queue_refused_fails_after_applying_the_rest() {
    // RabbitMQ 3.10 (tests/rabbitmq/random-walk.mjs, seed 139): 406
    // "partial tx completion"; the other publish and the ack stand.
    let mut w = World::new();
    let ch = w.client();
    let args = table(&[
        ("x-max-length", FieldValue::I32(1)),
        ("x-overflow", FieldValue::str("reject-publish")),
    ]);
    w.declare_with(ch, "q", args);
    w.declare(ch, "other");
    w.fill(ch, "other", &["x"]);
    w.broker.tx_select(w.now, ch).unwrap();
    let x = w.get(ch, "other", false).unwrap();
    w.publish(ch, "", "q", "a").unwrap();
    w.publish(ch, "", "q", "refused").unwrap();
    w.ack(ch, x.tag, false).unwrap();
    let e = w.broker.tx_commit(w.now, ch).unwrap_err();
    assert_eq!(e.code.code(), 406);
    assert_eq!(e.text, "PRECONDITION_FAILED - partial tx completion");
    assert!(!w.broker.channel_is_open(ch));
    let c = w.client();
    assert_eq!(w.get(c, "q", true).unwrap().body, "a");
    assert!(w.get(c, "q", true).is_none());
    assert_eq!(w.ready("/", "other"), 0);
}

fn durable_tx_world() -> (World, ChannelRef) {
    let mut w = World::with(BrokerConfig {
        durable_store: true,
        ..Default::default()
    });
    let ch = w.client();
    w.durable_queue(ch, "d");
    w.broker.tx_select(w.now, ch).unwrap();
    (w, ch)
}

fn commit_oks(w: &mut World, ch: ChannelRef) -> usize {
    w.settle();
    let oks = w.take_for(ch);
    assert!(
        oks.iter().all(|e| *e == Effect::TxCommitOk { to: ch }),
        "{oks:?}"
    );
    oks.len()
}

#[test]
fn commit_ok_waits_until_the_commits_persistent_messages_are_durable() {
    // As RabbitMQ: tx.commit-ok once the queues have confirmed the publishes,
    // which for a persistent message in a durable queue is once it is stored.
    let (mut w, ch) = durable_tx_world();
    w.publish_props(ch, "", "d", "kept", persistent()).unwrap();
    let before = w.broker.store_emitted();
    w.broker.tx_commit(w.now, ch).unwrap();
    let until = w.broker.store_emitted();
    assert!(until > before, "the commit stored the message");
    assert_eq!(commit_oks(&mut w, ch), 0);
    w.broker.store_durable(until - 1);
    assert_eq!(commit_oks(&mut w, ch), 0);
    w.broker.store_durable(until);
    assert_eq!(commit_oks(&mut w, ch), 1);
}

#[test]
fn a_commit_that_stores_nothing_is_answered_at_once_unless_one_before_it_waits() {
    let (mut w, ch) = durable_tx_world();
    w.publish(ch, "", "d", "transient").unwrap();
    w.broker.tx_commit(w.now, ch).unwrap();
    assert_eq!(commit_oks(&mut w, ch), 1);
    // A stored commit, then one with nothing stored: answered in order.
    w.publish_props(ch, "", "d", "kept", persistent()).unwrap();
    w.broker.tx_commit(w.now, ch).unwrap();
    let until = w.broker.store_emitted();
    w.broker.tx_commit(w.now, ch).unwrap();
    assert_eq!(commit_oks(&mut w, ch), 0);
    w.broker.store_durable(until);
    assert_eq!(commit_oks(&mut w, ch), 2);
}

#[test]
fn a_channel_closed_while_its_commit_waits_gets_no_commit_ok() {
    let (mut w, ch) = durable_tx_world();
    w.publish_props(ch, "", "d", "kept", persistent()).unwrap();
    w.broker.tx_commit(w.now, ch).unwrap();
    let until = w.broker.store_emitted();
    w.close_channel(ch);
    w.broker.store_durable(until);
    w.settle();
    assert!(w.take_for(ch).is_empty());
    // The commit stands: the message was published.
    assert_eq!(w.ready("/", "d"), 1);
}
