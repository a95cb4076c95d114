//! Policies: pattern, priority and apply-to choose one policy per queue; its
//! definition combines with the queue's arguments as in RabbitMQ (the lower
//! limit; the argument's DLX and overflow); adding or removing one re-applies
//! it to existing queues at once; policies survive a restart.

mod common;
use common::*;
use warren::broker::{ApplyTo, Broker, BrokerConfig, FieldTable, FieldValue, Policy, QueueDeclare};

fn policy(name: &str, pattern: &str, priority: i64, def: &[(&str, FieldValue)]) -> Policy {
    Policy {
        name: s(name),
        pattern: pattern.to_owned(),
        apply_to: ApplyTo::Queues,
        priority,
        definition: table(def),
    }
}

fn set(w: &mut World, p: Policy) {
    w.broker.set_policy(w.now, "/", p).unwrap();
    w.settle();
}

#[test]
fn a_policy_applies_to_existing_and_new_queues_and_goes_with_its_removal() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "orders.eu");
    w.declare(ch, "billing");
    w.fill(ch, "orders.eu", &["1", "2", "3", "4"]);
    set(
        &mut w,
        policy(
            "short",
            "^orders\\.",
            0,
            &[("max-length", FieldValue::I64(2))],
        ),
    );
    // Applied at once: drop-head keeps the newest two.
    assert_eq!(w.ready("/", "orders.eu"), 2);
    assert_eq!(
        w.broker.queue_policy("/", "orders.eu").as_deref(),
        Some("short")
    );
    assert_eq!(w.broker.queue_policy("/", "billing"), None);
    w.declare(ch, "orders.us");
    assert_eq!(
        w.broker.queue_policy("/", "orders.us").as_deref(),
        Some("short")
    );
    w.fill(ch, "orders.us", &["a", "b", "c"]);
    assert_eq!(w.ready("/", "orders.us"), 2);
    w.fill(ch, "billing", &["a", "b", "c"]);
    assert_eq!(w.ready("/", "billing"), 3);

    assert!(w.broker.delete_policy(w.now, "/", "short"));
    assert!(!w.broker.delete_policy(w.now, "/", "short"));
    w.fill(ch, "orders.us", &["d", "e"]);
    assert_eq!(w.ready("/", "orders.us"), 4);
    assert_eq!(w.broker.queue_policy("/", "orders.us"), None);
}

#[test]
fn a_lowered_limit_dead_letters_the_surplus_through_the_policy_dlx() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "dead");
    w.declare(ch, "work");
    w.fill(ch, "work", &["old", "mid", "new"]);
    set(
        &mut w,
        policy(
            "dlx",
            "^work$",
            0,
            &[
                ("dead-letter-exchange", FieldValue::str("")),
                ("dead-letter-routing-key", FieldValue::str("dead")),
                ("max-length", FieldValue::I64(1)),
            ],
        ),
    );
    assert_eq!(w.ready("/", "work"), 1);
    assert_eq!(w.ready("/", "dead"), 2);
    let got = w.get(ch, "dead", true).unwrap();
    assert_eq!(got.body, "old");
    let death = &deaths(&got.message)[0];
    assert_eq!(text(death, "reason").as_deref(), Some("maxlen"));
}

#[test]
fn policy_and_arguments_combine_as_in_rabbitmq() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "dlx-arg-target");
    w.declare(ch, "dlx-policy-target");
    // Lower limit wins either way round; the argument's DLX wins.
    w.declare_with(
        ch,
        "a",
        table(&[
            ("x-max-length", FieldValue::I32(5)),
            ("x-dead-letter-exchange", FieldValue::str("")),
            (
                "x-dead-letter-routing-key",
                FieldValue::str("dlx-arg-target"),
            ),
        ]),
    );
    w.declare_with(ch, "b", table(&[("x-max-length", FieldValue::I32(1))]));
    set(
        &mut w,
        policy(
            "p",
            "^[ab]$",
            0,
            &[
                ("max-length", FieldValue::I64(2)),
                ("dead-letter-exchange", FieldValue::str("")),
                (
                    "dead-letter-routing-key",
                    FieldValue::str("dlx-policy-target"),
                ),
            ],
        ),
    );
    w.fill(ch, "a", &["1", "2", "3"]);
    assert_eq!(w.ready("/", "a"), 2, "policy 2 < argument 5");
    assert_eq!(w.ready("/", "dlx-arg-target"), 1, "the argument's DLX");
    w.fill(ch, "b", &["1", "2", "3"]);
    assert_eq!(w.ready("/", "b"), 1, "argument 1 < policy 2");
    assert_eq!(w.ready("/", "dlx-policy-target"), 2, "the policy's DLX");
    // Redeclaring with the original arguments is still equivalent.
    w.declare_with(ch, "b", table(&[("x-max-length", FieldValue::I32(1))]));
}

#[test]
fn the_highest_priority_matching_policy_wins_and_apply_to_is_respected() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "jobs");
    set(
        &mut w,
        policy("wide", ".*", 1, &[("max-length", FieldValue::I64(3))]),
    );
    set(
        &mut w,
        policy("narrow", "^jobs$", 5, &[("max-length", FieldValue::I64(1))]),
    );
    let mut exchanges_only = policy("x", ".*", 10, &[("max-length", FieldValue::I64(0))]);
    exchanges_only.apply_to = ApplyTo::Exchanges;
    set(&mut w, exchanges_only);
    assert_eq!(
        w.broker.queue_policy("/", "jobs").as_deref(),
        Some("narrow")
    );
    w.fill(ch, "jobs", &["1", "2"]);
    assert_eq!(w.ready("/", "jobs"), 1);
    // Replacing a policy by name re-applies it.
    set(
        &mut w,
        policy("narrow", "^jobs$", 0, &[("max-length", FieldValue::I64(1))]),
    );
    assert_eq!(w.broker.queue_policy("/", "jobs").as_deref(), Some("wide"));
    w.fill(ch, "jobs", &["3", "4", "5"]);
    assert_eq!(w.ready("/", "jobs"), 3);
    let names: Vec<String> = w
        .broker
        .policies()
        .into_iter()
        .map(|(_, p)| p.name.to_string())
        .collect();
    assert_eq!(names, ["narrow", "wide", "x"]);
}

#[test]
fn message_ttl_delivery_limit_and_expires_from_a_policy() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "ttl");
    set(
        &mut w,
        policy(
            "t",
            "^ttl$",
            0,
            &[
                ("message-ttl", FieldValue::I64(100)),
                ("delivery-limit", FieldValue::I64(0)),
                ("expires", FieldValue::I64(10_000)),
            ],
        ),
    );
    w.fill(ch, "ttl", &["gone"]);
    w.advance(150);
    assert_eq!(w.ready("/", "ttl"), 0);
    w.fill(ch, "ttl", &["once"]);
    let got = w.get(ch, "ttl", false).unwrap();
    w.reject(ch, got.tag, true).unwrap();
    assert_eq!(w.ready("/", "ttl"), 0, "delivery-limit 0: no redelivery");
    w.advance(10_001);
    assert!(!w.exists("ttl"), "expires");
}

#[test]
fn bad_policies_are_refused_with_the_reason() {
    let mut w = World::new();
    let e =
        |w: &mut World, vhost: &str, p: Policy| w.broker.set_policy(w.now, vhost, p).unwrap_err().0;
    let err = e(
        &mut w,
        "/",
        policy("p", "(", 0, &[("max-length", FieldValue::I64(1))]),
    );
    assert!(
        err.contains("pattern '(' is not a valid regular expression"),
        "{err}"
    );
    let err = e(
        &mut w,
        "/",
        policy("p", ".*", 0, &[("ha-mode", FieldValue::str("all"))]),
    );
    assert!(
        err.contains("'ha-mode' is not a recognised policy setting"),
        "{err}"
    );
    let err = e(
        &mut w,
        "/",
        policy("p", ".*", 0, &[("message-ttl", FieldValue::I64(-5))]),
    );
    assert!(
        err.starts_with("invalid value for 'message-ttl'") && err.contains("must not be negative"),
        "{err}"
    );
    // The argument's name is reworded, not a policy name that looks like it.
    let err = e(
        &mut w,
        "/",
        policy(
            "invalid arg 'x-",
            ".*",
            0,
            &[("message-ttl", FieldValue::I64(-5))],
        ),
    );
    assert!(
        err.starts_with("invalid value for 'message-ttl' for policy 'invalid arg 'x-'"),
        "{err}"
    );
    let err = e(
        &mut w,
        "/",
        policy("p", ".*", 0, &[("overflow", FieldValue::str("drop-tail"))]),
    );
    assert!(err.contains("'overflow'"), "{err}");
    let err = e(&mut w, "/", policy("p", ".*", 0, &[]));
    assert!(err.contains("empty"), "{err}");
    let err = e(
        &mut w,
        "nope",
        policy("p", ".*", 0, &[("max-length", FieldValue::I64(1))]),
    );
    assert_eq!(err, "no vhost 'nope'");
    assert!(w.broker.policies().is_empty());
}

#[test]
fn policies_are_stored_and_recovered() {
    let config = BrokerConfig {
        durable_store: true,
        ..Default::default()
    };
    let mut w = World::with(config.clone());
    let ch = w.client();
    w.broker
        .queue_declare(
            w.now,
            ch,
            QueueDeclare {
                queue: s("kept"),
                durable: true,
                arguments: FieldTable::new(),
                ..Default::default()
            },
        )
        .unwrap();
    set(
        &mut w,
        policy("keep", "^kept$", 3, &[("max-length", FieldValue::I64(1))]),
    );
    set(
        &mut w,
        policy("gone", "^x$", 0, &[("max-length", FieldValue::I64(1))]),
    );
    assert!(w.broker.delete_policy(w.now, "/", "gone"));
    let (_, records) = w.broker.take_store_records();
    let mut bytes = warren::storage::log::header().to_vec();
    for r in &records {
        warren::storage::log::append(r, &mut bytes);
    }
    let scanned = warren::storage::log::scan(&bytes).unwrap();
    assert_eq!(scanned.records, records);
    let b = Broker::recover(config.clone(), w.now, scanned.records).unwrap();
    assert_eq!(b.queue_policy("/", "kept").as_deref(), Some("keep"));
    assert_eq!(b.policies().len(), 1);
    let again = Broker::recover(config, w.now, b.snapshot_records()).unwrap();
    assert_eq!(again.policies(), b.policies());
}

#[test]
fn apply_to_a_queue_type_matches_the_declared_x_queue_type() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "plain");
    // (A quorum queue must be durable.)
    w.durable_queue_with(
        ch,
        "qq",
        table(&[("x-queue-type", FieldValue::str("quorum"))]),
    );
    let mut quorum = policy("q", ".*", 0, &[("max-length", FieldValue::I64(1))]);
    quorum.apply_to = ApplyTo::QuorumQueues;
    set(&mut w, quorum);
    let mut classic = policy("c", ".*", 0, &[("max-length", FieldValue::I64(2))]);
    classic.apply_to = ApplyTo::ClassicQueues;
    set(&mut w, classic);
    assert_eq!(w.broker.queue_policy("/", "qq").as_deref(), Some("q"));
    assert_eq!(w.broker.queue_policy("/", "plain").as_deref(), Some("c"));
    let mut streams = policy("s", ".*", 9, &[("max-length", FieldValue::I64(3))]);
    streams.apply_to = ApplyTo::Streams;
    set(&mut w, streams);
    assert_eq!(w.broker.queue_policy("/", "plain").as_deref(), Some("c"));
}
