//! Direct reply-to (`amq.rabbitmq.reply-to`): RabbitMQ's checks and texts,
//! the rewritten `reply_to`, replies straight to the requesting channel, and
//! nothing left behind. Texts and codes were checked against RabbitMQ 3.10.

mod common;
use common::*;
use warren::broker::{Consume, Effect, Message, Properties, QueueDeclare};

const REPLY_TO: &str = "amq.rabbitmq.reply-to";

fn consume_reply(
    w: &mut World,
    ch: warren::broker::ChannelRef,
    no_ack: bool,
) -> Result<String, warren::broker::AmqpError> {
    let r = w.broker.basic_consume(
        w.now,
        ch,
        Consume {
            queue: s(REPLY_TO),
            no_ack,
            ..Default::default()
        },
    );
    w.settle();
    r.map(|t| t.to_string())
}

fn request(
    w: &mut World,
    ch: warren::broker::ChannelRef,
    q: &str,
) -> Result<(), warren::broker::AmqpError> {
    let props = Properties {
        reply_to: Some(s(REPLY_TO)),
        correlation_id: Some(s("c1")),
        ..Default::default()
    };
    w.publish_props(ch, "", q, "request", props)
}

fn reply_mandatory(w: &mut World, ch: warren::broker::ChannelRef, to: &str, body: &str) {
    let m = Message::new(s(""), s(to), Properties::default(), body.as_bytes());
    w.broker.basic_publish(w.now, ch, m, true, false).unwrap();
    w.settle();
}

fn returns(w: &mut World, ch: warren::broker::ChannelRef) -> Vec<(u16, String)> {
    w.take_for(ch)
        .into_iter()
        .filter_map(|e| match e {
            Effect::Return {
                reply_code,
                reply_text,
                ..
            } => Some((reply_code, reply_text.to_string())),
            _ => None,
        })
        .collect()
}

/// A requester with a reply consumer, a responder, and the request queue
/// holding one request; returns (requester, responder, rewritten reply_to).
fn rpc_setup(
    w: &mut World,
) -> (
    warren::broker::ChannelRef,
    warren::broker::ChannelRef,
    String,
) {
    let requester = w.client();
    let responder = w.client();
    w.declare(responder, "rpc");
    let tag = consume_reply(w, requester, true).unwrap();
    assert!(tag.starts_with("amq.ctag-"));
    request(w, requester, "rpc").unwrap();
    let got = w.get(responder, "rpc", true).unwrap();
    let reply_to = got
        .message
        .properties
        .reply_to
        .as_ref()
        .unwrap()
        .to_string();
    (requester, responder, reply_to)
}

#[test]
fn a_reply_goes_straight_to_the_requesting_channel() {
    let mut w = World::new();
    let (requester, responder, reply_to) = rpc_setup(&mut w);
    assert!(reply_to.starts_with("amq.rabbitmq.reply-to."), "{reply_to}");
    assert_ne!(reply_to, REPLY_TO);
    let queues_before = w.broker.queue_names("/");
    w.publish(responder, "", &reply_to, "answer").unwrap();
    let seen = w.deliveries(requester);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body, "answer");
    assert_eq!(seen[0].tag, 1);
    assert!(!seen[0].redelivered);
    assert_eq!(seen[0].message.routing_key(), reply_to);
    // No queue was made for it, and no ack is expected.
    assert_eq!(w.broker.queue_names("/"), queues_before);
    assert!(!w
        .broker
        .queue_names("/")
        .iter()
        .any(|q| q.starts_with("amq.")));
}

#[test]
fn the_reply_consumer_must_be_no_ack_and_single() {
    let mut w = World::new();
    let ch = w.client();
    let e = consume_reply(&mut w, ch, false).unwrap_err();
    assert_eq!(e.code.code(), 406);
    assert_eq!(
        e.text,
        "PRECONDITION_FAILED - reply consumer cannot acknowledge"
    );
    assert!(!w.broker.channel_is_open(ch));

    let ch = w.channel(ch, 2);
    consume_reply(&mut w, ch, true).unwrap();
    let e = consume_reply(&mut w, ch, true).unwrap_err();
    assert_eq!(e.code.code(), 406);
    assert_eq!(e.text, "PRECONDITION_FAILED - reply consumer already set");
}

#[test]
fn a_request_without_a_reply_consumer_is_refused() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "rpc");
    let e = request(&mut w, ch, "rpc").unwrap_err();
    assert_eq!(e.code.code(), 406);
    assert_eq!(
        e.text,
        "PRECONDITION_FAILED - fast reply consumer does not exist"
    );
    assert!(!w.broker.channel_is_open(ch));
    assert_eq!(w.ready("/", "rpc"), 0);
    // The consumer must be on the publishing channel itself.
    let other = w.client();
    let ch2 = w.channel(other, 2);
    consume_reply(&mut w, other, true).unwrap();
    assert!(request(&mut w, ch2, "rpc").is_err());
}

#[test]
fn declaring_reply_names_is_passive() {
    let mut w = World::new();
    let (requester, responder, reply_to) = rpc_setup(&mut w);
    let declare = |w: &mut World, ch, q: &str| {
        w.broker.queue_declare(
            w.now,
            ch,
            QueueDeclare {
                queue: s(q),
                ..Default::default()
            },
        )
    };
    let ok = declare(&mut w, responder, REPLY_TO).unwrap();
    assert_eq!((ok.message_count, ok.consumer_count), (0, 1));
    let ok = declare(&mut w, responder, &reply_to).unwrap();
    assert_eq!(ok.queue.as_str(), reply_to);
    assert_eq!((ok.message_count, ok.consumer_count), (0, 1));
    assert!(!w.exists(&reply_to));
    w.close_channel(requester);
    let e = declare(&mut w, responder, &reply_to).unwrap_err();
    assert_eq!(e.code.code(), 404);
    assert_eq!(
        e.text,
        format!("NOT_FOUND - no queue '{reply_to}' in vhost '/'")
    );
}

#[test]
fn a_mandatory_reply_comes_back_only_when_the_requester_is_gone() {
    let mut w = World::new();
    let (requester, responder, reply_to) = rpc_setup(&mut w);
    reply_mandatory(&mut w, responder, &reply_to, "one");
    assert_eq!(w.bodies(requester), ["one"]);
    assert!(returns(&mut w, responder).is_empty());

    w.close_connection(requester);
    reply_mandatory(&mut w, responder, &reply_to, "two");
    assert_eq!(returns(&mut w, responder), [(312, "NO_ROUTE".to_owned())]);
    // Not mandatory: dropped without a word.
    w.publish(responder, "", &reply_to, "three").unwrap();
    assert!(returns(&mut w, responder).is_empty());
    // A name never given out is no route either.
    reply_mandatory(&mut w, responder, "amq.rabbitmq.reply-to.nonsense", "x");
    assert_eq!(returns(&mut w, responder).len(), 1);
}

#[test]
fn cancelling_the_reply_consumer_forgets_its_name() {
    let mut w = World::new();
    let (requester, responder, reply_to) = rpc_setup(&mut w);
    let ch2 = w.channel(requester, 2);
    let t = consume_reply(&mut w, ch2, true).unwrap();
    w.broker.basic_cancel(w.now, ch2, &t).unwrap();
    w.settle();
    // After cancel a consume on the same channel works again, with a new name.
    let t2 = consume_reply(&mut w, ch2, true).unwrap();
    assert!(!t2.is_empty());
    request(&mut w, ch2, "rpc").unwrap();
    let got = w.get(responder, "rpc", true).unwrap();
    let second = got
        .message
        .properties
        .reply_to
        .as_ref()
        .unwrap()
        .to_string();
    assert_ne!(second, reply_to);
    w.broker.basic_cancel(w.now, ch2, &t2).unwrap();
    w.settle();
    reply_mandatory(&mut w, responder, &second, "late");
    assert_eq!(returns(&mut w, responder).len(), 1);
    assert!(w.bodies(ch2).is_empty());
    // The first channel's name still works.
    w.publish(responder, "", &reply_to, "still").unwrap();
    assert_eq!(w.bodies(requester), ["still"]);
}

#[test]
fn the_reply_consumer_tag_is_a_consumer_tag_of_the_channel() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    let r = w.broker.basic_consume(
        w.now,
        ch,
        Consume {
            queue: s(REPLY_TO),
            consumer_tag: s("mine"),
            no_ack: true,
            ..Default::default()
        },
    );
    assert_eq!(r.unwrap().as_str(), "mine");
    let e = w
        .broker
        .basic_consume(
            w.now,
            ch,
            Consume {
                queue: s("q"),
                consumer_tag: s("mine"),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.code.code(), 530);
}

#[test]
fn replies_inside_a_transaction_and_with_confirms() {
    let mut w = World::new();
    let (requester, responder, reply_to) = rpc_setup(&mut w);
    w.confirm_select(responder);
    w.publish(responder, "", &reply_to, "confirmed").unwrap();
    assert_eq!(w.bodies(requester), ["confirmed"]);
    assert_eq!(per_publish(&w.confirms(responder)), [(1, true)]);
    // A request in a transaction is checked and rewritten at publish time.
    w.broker.tx_select(w.now, requester).unwrap();
    request(&mut w, requester, "rpc").unwrap();
    assert_eq!(w.ready("/", "rpc"), 0);
    w.broker.tx_commit(w.now, requester).unwrap();
    w.settle();
    let got = w.get(responder, "rpc", true).unwrap();
    assert_eq!(
        got.message.properties.reply_to.as_ref().unwrap().as_str(),
        reply_to
    );
}

/// Replies to one reply name in a row, without events (the hosts' usual
/// setting): the name is never kept as a route, so each reply reaches the
/// requester, not only the first.
#[test]
fn every_reply_to_one_name_reaches_the_requester_without_events() {
    let mut w = World::with(warren::broker::BrokerConfig::default());
    let (requester, responder, reply_to) = rpc_setup(&mut w);
    for body in ["one", "two", "three"] {
        w.publish(responder, "", &reply_to, body).unwrap();
    }
    let bodies: Vec<String> = w
        .deliveries(requester)
        .into_iter()
        .map(|d| d.body)
        .collect();
    assert_eq!(bodies, ["one", "two", "three"]);
}
