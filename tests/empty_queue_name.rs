//! The empty queue name: in consume, get, bind, unbind, purge and delete it
//! stands for the queue last declared on the channel (server-named or not,
//! passive declares included); with none it is 404 "no previously declared
//! queue" and the channel closes. Checked against RabbitMQ 3.10.

mod common;
use common::*;
use warren::broker::{Bind, Consume, FieldTable, QueueDeclare};

fn no_previous(e: warren::broker::AmqpError) {
    assert_eq!(e.code.code(), 404);
    assert_eq!(e.text, "NOT_FOUND - no previously declared queue");
}

#[test]
fn every_method_refuses_the_empty_name_before_any_declare() {
    let mut w = World::new();
    let mut ch = w.client();
    let mut n = 1;
    let mut next = |w: &mut World, ch: &mut warren::broker::ChannelRef| {
        assert!(!w.broker.channel_is_open(*ch));
        n += 1;
        *ch = w.channel(*ch, n);
    };
    no_previous(w.broker.basic_get(w.now, ch, "", true).unwrap_err());
    next(&mut w, &mut ch);
    no_previous(
        w.broker
            .basic_consume(w.now, ch, Consume::default())
            .unwrap_err(),
    );
    next(&mut w, &mut ch);
    no_previous(w.broker.queue_purge(w.now, ch, "").unwrap_err());
    next(&mut w, &mut ch);
    no_previous(
        w.broker
            .queue_delete(w.now, ch, "", false, false)
            .unwrap_err(),
    );
    next(&mut w, &mut ch);
    let b = Bind {
        source: s("amq.direct"),
        ..Default::default()
    };
    no_previous(w.broker.queue_bind(w.now, ch, b.clone()).unwrap_err());
    next(&mut w, &mut ch);
    no_previous(w.broker.queue_unbind(w.now, ch, b).unwrap_err());
}

#[test]
fn the_empty_name_is_the_last_declared_queue_of_the_channel() {
    let mut w = World::new();
    let ch = w.client();
    let named = w.declare(ch, "");
    assert!(named.starts_with("amq.gen-"));
    // Bind with both empty: the queue, and its name as the routing key.
    w.broker
        .queue_bind(
            w.now,
            ch,
            Bind {
                source: s("amq.direct"),
                ..Default::default()
            },
        )
        .unwrap();
    w.publish(ch, "amq.direct", &named, "one").unwrap();
    w.publish(ch, "amq.direct", &named, "two").unwrap();
    assert_eq!(w.ready("/", &named), 2);
    let got = w.get(ch, "", true).unwrap();
    assert_eq!(got.body, "one");
    assert_eq!(w.broker.queue_purge(w.now, ch, "").unwrap(), 1);
    w.broker
        .queue_unbind(
            w.now,
            ch,
            Bind {
                source: s("amq.direct"),
                ..Default::default()
            },
        )
        .unwrap();
    w.publish(ch, "amq.direct", &named, "unrouted").unwrap();
    assert_eq!(w.ready("/", &named), 0);

    // Another channel has its own last queue.
    let other = w.channel(ch, 2);
    w.declare(other, "elsewhere");
    w.fill(ch, &named, &["three"]);
    let tag = w.consume(ch, "", true);
    assert!(!tag.is_empty());
    assert_eq!(w.bodies(ch), ["three"]);
    assert_eq!(
        w.broker
            .queue_delete(w.now, other, "", false, false)
            .unwrap(),
        0
    );
    assert!(!w.exists("elsewhere"));
    assert!(w.exists(&named));
}

#[test]
fn a_passive_declare_counts_and_a_reply_to_declare_does_not() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "kept");
    let other = w.channel(ch, 2);
    w.broker
        .queue_declare(
            w.now,
            other,
            QueueDeclare {
                queue: s("kept"),
                passive: true,
                ..Default::default()
            },
        )
        .unwrap();
    w.broker
        .queue_declare(
            w.now,
            other,
            QueueDeclare {
                queue: s("amq.rabbitmq.reply-to"),
                ..Default::default()
            },
        )
        .unwrap();
    w.fill(ch, "kept", &["m"]);
    assert_eq!(w.get(other, "", true).unwrap().body, "m");
    // A bind with an explicit routing key keeps it.
    w.broker
        .queue_bind(
            w.now,
            other,
            Bind {
                source: s("amq.direct"),
                routing_key: s("k"),
                arguments: FieldTable::new(),
                ..Default::default()
            },
        )
        .unwrap();
    w.publish(ch, "amq.direct", "k", "by key").unwrap();
    assert_eq!(w.ready("/", "kept"), 1);
}
