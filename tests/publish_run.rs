//! A run of publishes to one place (`Broker::basic_publish_run`, checked
//! once for the run) does what the same publishes one by one do: the same
//! effects in the same order, events, queue contents and error, whether
//! plain, confirmed, in a transaction, mandatory to nowhere, fanned out,
//! to a missing exchange or with a direct reply-to.

mod common;
use common::*;
use warren::broker::{
    AmqpError, BrokerConfig, ChannelRef, Consume, EventKind, FieldTable, Message, Properties,
    ReplyCode,
};

/// How a scenario's channel is set up before the publishes; true for a
/// transaction, committed after them.
type Setup = fn(&mut World, ChannelRef) -> bool;

/// The outcome of one way of publishing: its result, then every effect,
/// event and queue count it left.
#[derive(Debug, PartialEq)]
struct Outcome {
    result: Result<(), AmqpError>,
    effects: String,
    events: Vec<EventKind>,
    counts: Vec<(usize, usize)>,
}

fn world(setup: Setup, events: bool) -> (World, ChannelRef, bool) {
    let mut w = World::with(BrokerConfig {
        events,
        ..Default::default()
    });
    let ch = w.client();
    w.declare(ch, "q1");
    w.declare(ch, "q2");
    w.exchange(ch, "fan", "fanout");
    w.bind(ch, "q1", "fan", "");
    w.bind(ch, "q2", "fan", "");
    let tx = setup(&mut w, ch);
    w.settle();
    w.effects.clear();
    w.events();
    (w, ch, tx)
}

fn finish(mut w: World, ch: ChannelRef, tx: bool, result: Result<(), AmqpError>) -> Outcome {
    w.settle();
    // A transaction's publishes show once committed.
    if tx && w.broker.channel_is_open(ch) {
        let _ = w.broker.tx_commit(w.now, ch);
        w.settle();
    }
    let counts = ["q1", "q2", "dl"]
        .iter()
        .map(|q| (w.ready("/", q), w.unacked("/", q)))
        .collect();
    Outcome {
        result,
        effects: format!("{:?}", w.effects),
        events: w.events(),
        counts,
    }
}

/// Publishes `bodies` one by one and as one run; both outcomes.
fn both(setup: Setup, x: &str, key: &str, props: Properties, mandatory: bool) -> [Outcome; 2] {
    both_with(true, setup, x, key, props, mandatory)
}

/// `both`, with lifecycle events recorded or not (without them a run takes
/// the queue kept for its address once and offers each message to it).
fn both_with(
    events: bool,
    setup: Setup,
    x: &str,
    key: &str,
    props: Properties,
    mandatory: bool,
) -> [Outcome; 2] {
    let bodies = ["a", "b", "c", "d"];
    let message = |b: &str| Message::new(s(x), s(key), props.clone(), b.as_bytes());
    let (mut w, ch, tx) = world(setup, events);
    let result = bodies.iter().try_for_each(|b| {
        w.broker
            .basic_publish(w.now, ch, message(b), mandatory, false)
    });
    let one_by_one = finish(w, ch, tx, result);
    let (mut w, ch, tx) = world(setup, events);
    let mut rest = bodies[1..].iter().map(|b| message(b));
    let result =
        w.broker
            .basic_publish_run(w.now, ch, (mandatory, false), message(bodies[0]), || {
                rest.next()
            });
    let run = finish(w, ch, tx, result);
    [one_by_one, run]
}

fn plain(_: &mut World, _: ChannelRef) -> bool {
    false
}

fn confirming(w: &mut World, ch: ChannelRef) -> bool {
    w.confirm_select(ch);
    false
}

fn transaction(w: &mut World, ch: ChannelRef) -> bool {
    w.broker.tx_select(w.now, ch).unwrap();
    true
}

fn consuming(w: &mut World, ch: ChannelRef) -> bool {
    w.consume(ch, "q1", false);
    let reply = Consume {
        queue: s("amq.rabbitmq.reply-to"),
        no_ack: true,
        ..Default::default()
    };
    w.broker.basic_consume(w.now, ch, reply).unwrap();
    false
}

#[test]
fn a_run_to_a_queue_is_the_publishes_one_by_one() {
    for setup in [plain as Setup, confirming, transaction, consuming] {
        let [one, run] = both(setup, "", "q1", Properties::default(), false);
        assert_eq!(one.result, Ok(()));
        assert!(one.counts[0].0 + one.counts[0].1 == 4, "{one:?}");
        assert_eq!(one, run);
    }
}

#[test]
fn a_confirmed_run_acks_each_publish_in_turn() {
    let [one, run] = both(confirming, "fan", "", persistent(), true);
    let confirmed = |o: &Outcome| {
        let acked = |e: &EventKind| matches!(e, EventKind::Confirmed { ack: true, .. });
        o.events.iter().filter(|e| acked(e)).count()
    };
    assert_eq!(confirmed(&one), 4, "{one:?}");
    assert_eq!(one.counts[..2], [(4, 0), (4, 0)]);
    assert_eq!(one, run);
}

#[test]
fn a_mandatory_run_to_nowhere_returns_each_message() {
    for setup in [plain as Setup, confirming] {
        let [one, run] = both(setup, "", "nowhere", Properties::default(), true);
        assert_eq!(one.effects.matches("Return").count(), 4, "{one:?}");
        assert_eq!(one, run);
    }
}

#[test]
fn a_run_to_a_missing_exchange_fails_at_its_first_publish() {
    for setup in [plain as Setup, confirming, transaction] {
        let [one, run] = both(setup, "missing", "q1", Properties::default(), false);
        assert_eq!(
            one.result.as_ref().map_err(|e| e.code),
            Err(ReplyCode::NotFound)
        );
        assert_eq!(one, run);
    }
}

#[test]
fn a_run_with_a_bad_expiration_or_direct_reply_to_is_checked_as_each_publish() {
    let expiring = Properties {
        expiration: Some(s("soon")),
        ..Default::default()
    };
    let [one, run] = both(plain, "", "q1", expiring, false);
    assert_eq!(
        one.result.as_ref().map_err(|e| e.code),
        Err(ReplyCode::PreconditionFailed)
    );
    assert_eq!(one, run);
    let reply = Properties {
        reply_to: Some(s("amq.rabbitmq.reply-to")),
        ..Default::default()
    };
    let [one, run] = both(consuming, "", "q1", reply.clone(), false);
    assert_eq!(one.result, Ok(()));
    assert_eq!(one, run);
    // Without a reply consumer on the channel, the first publish is refused.
    let [one, run] = both(plain, "", "q1", reply, false);
    assert_eq!(
        one.result.as_ref().map_err(|e| e.code),
        Err(ReplyCode::PreconditionFailed)
    );
    assert_eq!(one, run);
}

#[test]
fn a_run_over_a_queue_limit_refuses_what_does_not_fit() {
    fn limited(w: &mut World, ch: ChannelRef) -> bool {
        let args: FieldTable = table(&[
            ("x-max-length", warren::broker::FieldValue::I32(2)),
            (
                "x-overflow",
                warren::broker::FieldValue::LongStr("reject-publish".into()),
            ),
        ]);
        w.declare_with(ch, "limited", args);
        w.confirm_select(ch);
        false
    }
    let [one, run] = both(limited, "", "limited", Properties::default(), false);
    assert!(one.effects.contains("ack: false"), "{one:?}");
    assert_eq!(one, run);
}

#[test]
fn a_run_without_events_is_the_publishes_one_by_one() {
    // q2 holds one message; each later one pushes the oldest out to "dl",
    // so the run routes through the dead-letter path between its offers.
    fn dead_lettering(w: &mut World, ch: ChannelRef) -> bool {
        w.broker
            .queue_delete(w.now, ch, "q2", false, false)
            .unwrap();
        w.declare(ch, "dl");
        let args: FieldTable = table(&[
            ("x-max-length", warren::broker::FieldValue::I32(1)),
            (
                "x-dead-letter-exchange",
                warren::broker::FieldValue::LongStr("".into()),
            ),
            (
                "x-dead-letter-routing-key",
                warren::broker::FieldValue::LongStr("dl".into()),
            ),
        ]);
        w.declare_with(ch, "q2", args);
        w.confirm_select(ch);
        false
    }
    for setup in [
        plain as Setup,
        confirming,
        transaction,
        consuming,
        dead_lettering,
    ] {
        for (x, key) in [("", "q1"), ("", "q2"), ("fan", "")] {
            let [one, run] = both_with(false, setup, x, key, Properties::default(), false);
            assert!(one.events.is_empty(), "{one:?}");
            assert_eq!(one, run);
        }
    }
    let [one, _] = both_with(
        false,
        dead_lettering,
        "",
        "q2",
        Properties::default(),
        false,
    );
    assert_eq!(one.counts[1..], [(1, 0), (3, 0)], "{one:?}");
}

/// A run driven a message at a time (`basic_publish_in_run`, as the wire's
/// publishes come) with `between` done
/// after the third, against the same publishes one by one; each stops at
/// its first error.
fn stepwise(setup: Setup, between: fn(&mut World, ChannelRef)) -> [Outcome; 2] {
    let bodies = ["a", "b", "c", "d", "e"];
    let message = |b: &str| Message::new(s(""), s("q1"), Properties::default(), b.as_bytes());
    let (mut w, ch, tx) = world(setup, false);
    let mut result = Ok(());
    for (i, b) in bodies.iter().enumerate() {
        if i == 3 {
            between(&mut w, ch);
        }
        result = w.broker.basic_publish(w.now, ch, message(b), true, false);
        if result.is_err() {
            break;
        }
    }
    let one_by_one = finish(w, ch, tx, result);
    let (mut w, ch, tx) = world(setup, false);
    let mut run = None;
    let mut result = Ok(());
    for (i, b) in bodies.iter().enumerate() {
        if i == 3 {
            between(&mut w, ch);
        }
        result = w
            .broker
            .basic_publish_in_run(w.now, ch, (true, false), &mut run, message(b));
        if result.is_err() {
            assert!(run.is_none(), "an error ends the run");
            break;
        }
        assert!(run.is_some());
    }
    let stepped = finish(w, ch, tx, result);
    [one_by_one, stepped]
}

#[test]
fn a_run_a_message_at_a_time_follows_changes_between_its_publishes() {
    // The queue kept for the run is deleted: the rest route to nowhere and
    // come back (mandatory).
    fn delete(w: &mut World, ch: ChannelRef) {
        let other = w.channel(ch, 2);
        w.broker
            .queue_delete(w.now, other, "q1", false, false)
            .unwrap();
    }
    // The channel is closed under the run: the next publish is refused as
    // on any channel not open.
    fn close(w: &mut World, ch: ChannelRef) {
        w.broker.channel_close(w.now, ch);
    }
    for setup in [plain as Setup, confirming] {
        let [one, run] = stepwise(setup, delete);
        assert_eq!(one.result, Ok(()));
        assert_eq!(one.effects.matches("Return").count(), 2, "{one:?}");
        assert_eq!(one, run);
        let [one, run] = stepwise(setup, close);
        assert_eq!(
            one.result.as_ref().map_err(|e| e.code),
            Err(ReplyCode::ChannelError)
        );
        assert_eq!(one, run);
    }
}
