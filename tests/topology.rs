//! Declaring, checking and deleting exchanges, queues and bindings: the
//! standard exchanges, reserved names, equivalence on redeclare, exclusive and
//! auto-delete lifetimes, server-named queues, purge and delete.

mod common;
use common::*;
use warren::broker::{
    AmqpError, Bind, ChannelRef, ConnectionInfo, Effect, ExchangeDeclare, FieldTable, FieldValue,
    QueueDeclare, QueueDeclareOk,
};

fn declare_exchange(w: &mut World, ch: ChannelRef, d: ExchangeDeclare) -> Result<(), AmqpError> {
    let r = w.broker.exchange_declare(w.now, ch, d);
    w.settle();
    r
}

fn exchange(name: &str, kind: &str) -> ExchangeDeclare {
    ExchangeDeclare {
        exchange: s(name),
        kind: s(kind),
        ..Default::default()
    }
}

fn declare_queue(
    w: &mut World,
    ch: ChannelRef,
    d: QueueDeclare,
) -> Result<QueueDeclareOk, AmqpError> {
    let r = w.broker.queue_declare(w.now, ch, d);
    w.settle();
    r
}

fn queue(name: &str) -> QueueDeclare {
    QueueDeclare {
        queue: s(name),
        ..Default::default()
    }
}

fn bind(q: &str, x: &str, key: &str) -> Bind {
    Bind {
        destination: s(q),
        source: s(x),
        routing_key: s(key),
        arguments: FieldTable::new(),
    }
}

fn exchange_exists(w: &mut World, name: &str) -> bool {
    w.broker
        .snapshot()
        .exchanges
        .iter()
        .any(|x| x.vhost.as_str() == "/" && x.name.as_str() == name)
}

fn queue_exists(w: &World, name: &str) -> bool {
    w.broker.queue_counts("/", name).is_some()
}

fn assert_error(r: Result<impl std::fmt::Debug, AmqpError>, code: u16, text: &str) {
    let e = r.unwrap_err();
    assert_eq!((e.code.code(), e.text.as_str()), (code, text));
}

// ---- exchanges -------------------------------------------------------------

#[test]
fn standard_exchanges_exist_with_their_types() {
    let mut w = World::new();
    let ch = w.client();
    let snap = w.broker.snapshot();
    for (name, kind) in [
        ("", "direct"),
        ("amq.direct", "direct"),
        ("amq.fanout", "fanout"),
        ("amq.topic", "topic"),
        ("amq.headers", "headers"),
        ("amq.match", "headers"),
    ] {
        let x = snap
            .exchanges
            .iter()
            .find(|x| x.name.as_str() == name)
            .unwrap_or_else(|| panic!("no exchange {name:?}"));
        assert_eq!(x.kind, kind);
        assert!(x.durable);
        if !name.is_empty() {
            let passive = ExchangeDeclare {
                passive: true,
                ..exchange(name, "")
            };
            declare_exchange(&mut w, ch, passive).unwrap();
            // Redeclaring a standard exchange the same way is allowed.
            let same = ExchangeDeclare {
                durable: true,
                ..exchange(name, kind)
            };
            declare_exchange(&mut w, ch, same).unwrap();
        }
    }
    assert!(w.broker.channel_is_open(ch));
}

#[test]
fn passive_declare_of_a_missing_exchange_is_not_found_and_closes_the_channel() {
    let mut w = World::new();
    let ch = w.client();
    let d = ExchangeDeclare {
        passive: true,
        ..exchange("nope", "direct")
    };
    assert_error(
        declare_exchange(&mut w, ch, d),
        404,
        "NOT_FOUND - no exchange 'nope' in vhost '/'",
    );
    assert!(!w.broker.channel_is_open(ch));
    assert!(w.broker.connection_info(ch.conn).is_some());
}

#[test]
fn declaring_a_new_exchange_with_the_amq_prefix_is_access_refused() {
    let mut w = World::new();
    let ch = w.client();
    assert_error(
        declare_exchange(&mut w, ch, exchange("amq.custom", "direct")),
        403,
        "ACCESS_REFUSED - exchange name 'amq.custom' contains reserved prefix 'amq.*'",
    );
    assert!(!w.broker.channel_is_open(ch));
    assert!(!exchange_exists(&mut w, "amq.custom"));
}

#[test]
fn redeclaring_an_exchange_with_another_type_is_inequivalent() {
    let mut w = World::new();
    let ch = w.client();
    declare_exchange(&mut w, ch, exchange("x", "direct")).unwrap();
    declare_exchange(&mut w, ch, exchange("x", "direct")).unwrap();
    assert_error(
        declare_exchange(&mut w, ch, exchange("x", "fanout")),
        406,
        "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'x' in vhost '/': received 'fanout' but current is 'direct'",
    );
    assert!(!w.broker.channel_is_open(ch));
}

#[test]
fn redeclaring_an_exchange_with_another_durability_is_inequivalent() {
    let mut w = World::new();
    let ch = w.client();
    declare_exchange(&mut w, ch, exchange("x", "topic")).unwrap();
    let durable = ExchangeDeclare {
        durable: true,
        ..exchange("x", "topic")
    };
    assert_error(
        declare_exchange(&mut w, ch, durable),
        406,
        "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'x' in vhost '/': received 'true' but current is 'false'",
    );
}

#[test]
fn redeclaring_an_exchange_with_another_alternate_exchange_is_inequivalent() {
    let mut w = World::new();
    let ch = w.client();
    let with = |name: &str, ae: Option<&str>| ExchangeDeclare {
        arguments: match ae {
            Some(ae) => FieldTable::new().with("alternate-exchange", FieldValue::str(ae)),
            None => FieldTable::new(),
        },
        ..exchange(name, "fanout")
    };
    declare_exchange(&mut w, ch, with("x", None)).unwrap();
    assert_error(
        declare_exchange(&mut w, ch, with("x", Some("ae"))),
        406,
        "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'x' in vhost '/': received the value 'ae' of type 'longstr' but current is none",
    );
    let ch = w.channel(ch, 2);
    declare_exchange(&mut w, ch, with("y", Some("ae"))).unwrap();
    assert_error(
        declare_exchange(&mut w, ch, with("y", Some("other"))),
        406,
        "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'y' in vhost '/': received 'other' but current is 'ae'",
    );
}

#[test]
fn redeclaring_amq_direct_as_another_type_is_inequivalent() {
    let mut w = World::new();
    let ch = w.client();
    let d = ExchangeDeclare {
        durable: true,
        ..exchange("amq.direct", "topic")
    };
    assert_eq!(
        declare_exchange(&mut w, ch, d).unwrap_err().code.code(),
        406
    );
}

#[test]
fn unknown_exchange_type_is_command_invalid_and_closes_the_connection() {
    let mut w = World::new();
    let ch = w.client();
    let e = declare_exchange(&mut w, ch, exchange("x", "x-unknown")).unwrap_err();
    assert_eq!(e.code.code(), 503);
    assert!(e.text.starts_with("COMMAND_INVALID - "), "{}", e.text);
    assert!(e.text.contains("'x-unknown'"), "{}", e.text);
    assert!(!e.is_soft());
    assert!(w.broker.connection_info(ch.conn).is_none());
    assert!(!exchange_exists(&mut w, "x"));
}

#[test]
fn declaring_the_default_exchange_is_access_refused() {
    let mut w = World::new();
    let ch = w.client();
    assert_error(
        declare_exchange(&mut w, ch, exchange("", "direct")),
        403,
        "ACCESS_REFUSED - operation not permitted on the default exchange",
    );
}

#[test]
fn exchange_delete_if_unused_refuses_an_exchange_with_bindings() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    declare_exchange(&mut w, ch, exchange("x", "direct")).unwrap();
    w.bind(ch, "q", "x", "k");
    assert_error(
        w.broker.exchange_delete(w.now, ch, "x", true),
        406,
        "PRECONDITION_FAILED - exchange 'x' in vhost '/' in use",
    );
    assert!(!w.broker.channel_is_open(ch));
    assert!(exchange_exists(&mut w, "x"));
    let ch = w.channel(ch, 2);
    w.broker
        .queue_unbind(w.now, ch, bind("q", "x", "k"))
        .unwrap();
    w.broker.exchange_delete(w.now, ch, "x", true).unwrap();
    assert!(!exchange_exists(&mut w, "x"));
}

#[test]
fn exchange_delete_without_if_unused_removes_its_bindings() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    declare_exchange(&mut w, ch, exchange("x", "fanout")).unwrap();
    w.bind(ch, "q", "x", "");
    w.broker.exchange_delete(w.now, ch, "x", false).unwrap();
    assert!(!exchange_exists(&mut w, "x"));
    // Declared again, it starts without the old binding.
    declare_exchange(&mut w, ch, exchange("x", "fanout")).unwrap();
    w.publish(ch, "x", "", "m").unwrap();
    assert_eq!(w.ready("/", "q"), 0);
}

#[test]
fn deleting_a_missing_exchange_succeeds() {
    let mut w = World::new();
    let ch = w.client();
    w.broker.exchange_delete(w.now, ch, "ghost", true).unwrap();
    assert!(w.broker.channel_is_open(ch));
}

#[test]
fn deleting_a_standard_exchange_is_access_refused() {
    let mut w = World::new();
    let ch = w.client();
    assert_error(
        w.broker.exchange_delete(w.now, ch, "amq.direct", false),
        403,
        "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed",
    );
    let ch = w.channel(ch, 2);
    assert_error(
        w.broker.exchange_delete(w.now, ch, "", false),
        403,
        "ACCESS_REFUSED - operation not permitted on the default exchange",
    );
    assert!(exchange_exists(&mut w, "amq.direct"));
}

#[test]
fn binding_a_queue_to_the_default_exchange_is_access_refused() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    assert_error(
        w.broker.queue_bind(w.now, ch, bind("q", "", "q")),
        403,
        "ACCESS_REFUSED - operation not permitted on the default exchange",
    );
    assert!(!w.broker.channel_is_open(ch));
    let ch = w.channel(ch, 2);
    assert_eq!(
        w.broker
            .queue_unbind(w.now, ch, bind("q", "", "q"))
            .unwrap_err()
            .code
            .code(),
        403
    );
}

#[test]
fn binding_exchanges_to_or_from_the_default_exchange_is_access_refused() {
    let mut w = World::new();
    let ch = w.client();
    declare_exchange(&mut w, ch, exchange("x", "direct")).unwrap();
    assert_error(
        w.broker.exchange_bind(w.now, ch, bind("", "x", "k")),
        403,
        "ACCESS_REFUSED - operation not permitted on the default exchange",
    );
    let ch = w.channel(ch, 2);
    assert_error(
        w.broker.exchange_bind(w.now, ch, bind("x", "", "k")),
        403,
        "ACCESS_REFUSED - operation not permitted on the default exchange",
    );
}

const DEFAULT_REFUSED: &str = "ACCESS_REFUSED - operation not permitted on the default exchange";

/// Each binding (to a queue, or else to an exchange) on a channel of its
/// own, with the error it must get.
fn assert_bind_errors(w: &mut World, cases: &[(bool, Bind, u16, &str)]) {
    for (to_queue, b, code, text) in cases {
        let ch = w.client();
        let r = match to_queue {
            true => w.broker.queue_bind(w.now, ch, b.clone()),
            false => w.broker.exchange_bind(w.now, ch, b.clone()),
        };
        assert_error(r, *code, text);
    }
}

#[test]
fn binding_to_a_missing_exchange_or_queue_is_not_found() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    assert_bind_errors(
        &mut w,
        &[
            (
                true,
                bind("q", "nope", "k"),
                404,
                "NOT_FOUND - no exchange 'nope' in vhost '/'",
            ),
            (
                true,
                bind("nope", "amq.direct", "k"),
                404,
                "NOT_FOUND - no queue 'nope' in vhost '/'",
            ),
            (
                false,
                bind("nope", "amq.direct", "k"),
                404,
                "NOT_FOUND - no exchange 'nope' in vhost '/'",
            ),
        ],
    );
}

#[test]
fn a_binding_names_its_missing_source_first_and_the_default_exchange_before_either() {
    let mut w = World::new();
    assert_bind_errors(
        &mut w,
        &[
            // Neither end is there: the source is named, as RabbitMQ does.
            (
                true,
                bind("nope", "none", "k"),
                404,
                "NOT_FOUND - no exchange 'none' in vhost '/'",
            ),
            (
                false,
                bind("nope", "none", "k"),
                404,
                "NOT_FOUND - no exchange 'none' in vhost '/'",
            ),
            // The default exchange is refused before anything is looked up.
            (true, bind("nope", "", "k"), 403, DEFAULT_REFUSED),
            (false, bind("", "none", "k"), 403, DEFAULT_REFUSED),
        ],
    );
}

#[test]
fn removing_a_binding_that_is_not_there_succeeds_whether_or_not_its_ends_are() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.broker
        .exchange_declare(w.now, ch, exchange("x", "direct"))
        .unwrap();
    for b in [
        bind("q", "x", "k"),
        bind("q", "none", "k"),
        bind("nope", "x", "k"),
        bind("nope", "none", "k"),
    ] {
        w.broker.queue_unbind(w.now, ch, b).unwrap();
    }
    for b in [
        bind("x", "none", "k"),
        bind("none", "x", "k"),
        bind("x", "amq.direct", "k"),
    ] {
        w.broker.exchange_unbind(w.now, ch, b).unwrap();
    }
    assert!(w.broker.channel_is_open(ch));
    // The default exchange is still refused.
    assert_error(
        w.broker.queue_unbind(w.now, ch, bind("q", "", "q")),
        403,
        "ACCESS_REFUSED - operation not permitted on the default exchange",
    );
}

#[test]
fn publishing_to_a_missing_exchange_is_not_found_and_closes_the_channel() {
    let mut w = World::new();
    let ch = w.client();
    assert_error(
        w.publish(ch, "nope", "k", "m"),
        404,
        "NOT_FOUND - no exchange 'nope' in vhost '/'",
    );
    assert!(!w.broker.channel_is_open(ch));
    assert!(w.broker.connection_info(ch.conn).is_some());
}

#[test]
fn publishing_to_an_internal_exchange_is_access_refused() {
    let mut w = World::new();
    let ch = w.client();
    let d = ExchangeDeclare {
        internal: true,
        ..exchange("inner", "fanout")
    };
    declare_exchange(&mut w, ch, d).unwrap();
    assert_error(
        w.publish(ch, "inner", "", "m"),
        403,
        "ACCESS_REFUSED - cannot publish to internal exchange 'inner' in vhost '/'",
    );
    assert!(!w.broker.channel_is_open(ch));
}

#[test]
fn auto_delete_exchange_goes_when_its_last_binding_is_removed() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "a");
    w.declare(ch, "b");
    let d = ExchangeDeclare {
        auto_delete: true,
        ..exchange("x", "direct")
    };
    declare_exchange(&mut w, ch, d).unwrap();
    // Without any binding yet it stays.
    assert!(exchange_exists(&mut w, "x"));
    w.bind(ch, "a", "x", "k");
    w.bind(ch, "b", "x", "k");
    w.broker
        .queue_unbind(w.now, ch, bind("a", "x", "k"))
        .unwrap();
    assert!(exchange_exists(&mut w, "x"));
    w.broker
        .queue_unbind(w.now, ch, bind("b", "x", "k"))
        .unwrap();
    assert!(!exchange_exists(&mut w, "x"));
}

#[test]
fn auto_delete_exchange_goes_when_its_last_bound_queue_is_deleted() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "a");
    let d = ExchangeDeclare {
        auto_delete: true,
        ..exchange("x", "fanout")
    };
    declare_exchange(&mut w, ch, d).unwrap();
    w.bind(ch, "a", "x", "");
    w.broker.queue_delete(w.now, ch, "a", false, false).unwrap();
    assert!(!exchange_exists(&mut w, "x"));
}

#[test]
fn auto_delete_exchange_goes_when_its_last_exchange_binding_is_removed() {
    let mut w = World::new();
    let ch = w.client();
    declare_exchange(&mut w, ch, exchange("dest", "fanout")).unwrap();
    let d = ExchangeDeclare {
        auto_delete: true,
        ..exchange("src", "fanout")
    };
    declare_exchange(&mut w, ch, d).unwrap();
    w.broker
        .exchange_bind(w.now, ch, bind("dest", "src", ""))
        .unwrap();
    w.broker.exchange_delete(w.now, ch, "dest", false).unwrap();
    assert!(!exchange_exists(&mut w, "src"));
}

// ---- queues ----------------------------------------------------------------

#[test]
fn durable_flag_is_kept() {
    let mut w = World::new();
    let ch = w.client();
    w.durable_queue(ch, "d");
    w.declare(ch, "t");
    let snap = w.broker.snapshot();
    let durable = |n: &str| {
        snap.queues
            .iter()
            .find(|q| q.name.as_str() == n)
            .unwrap()
            .durable
    };
    assert!(durable("d"));
    assert!(!durable("t"));
}

#[test]
fn server_named_queue_gets_amq_gen_and_22_characters() {
    let mut w = World::new();
    let ch = w.client();
    let a = declare_queue(&mut w, ch, queue("")).unwrap().queue;
    let b = declare_queue(&mut w, ch, queue("")).unwrap().queue;
    for name in [&a, &b] {
        let rest = name.strip_prefix("amq.gen-").unwrap();
        assert_eq!(rest.len(), 22, "{name}");
        assert!(rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert!(queue_exists(&w, name));
    }
    assert_ne!(a, b);
}

#[test]
fn declaring_a_queue_with_the_amq_prefix_is_access_refused() {
    let mut w = World::new();
    let ch = w.client();
    assert_error(
        declare_queue(&mut w, ch, queue("amq.mine")),
        403,
        "ACCESS_REFUSED - queue name 'amq.mine' contains reserved prefix 'amq.*'",
    );
}

#[test]
fn passive_declare_of_a_missing_queue_is_not_found() {
    let mut w = World::new();
    let ch = w.client();
    let d = QueueDeclare {
        passive: true,
        ..queue("q")
    };
    assert_error(
        declare_queue(&mut w, ch, d),
        404,
        "NOT_FOUND - no queue 'q' in vhost '/'",
    );
    assert!(!w.broker.channel_is_open(ch));
    assert!(!queue_exists(&w, "q"));
}

#[test]
fn declare_ok_reports_ready_messages_and_consumers() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.fill(ch, "q", &["a", "b", "c"]);
    let c = w.client();
    w.prefetch(c, 1);
    w.consume(c, "q", false);
    // One message is out unacked: declare-ok counts only the ready ones.
    let ok = declare_queue(&mut w, ch, queue("q")).unwrap();
    assert_eq!(
        ok,
        QueueDeclareOk {
            queue: s("q"),
            message_count: 2,
            consumer_count: 1
        }
    );
    let passive = QueueDeclare {
        passive: true,
        ..queue("q")
    };
    let ok = declare_queue(&mut w, ch, passive).unwrap();
    assert_eq!((ok.message_count, ok.consumer_count), (2, 1));
}

#[test]
fn redeclaring_a_queue_with_other_arguments_is_inequivalent() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(ch, "q", table(&[("x-max-length", FieldValue::I32(5))]));
    assert_error(
        declare_queue(
            &mut w,
            ch,
            QueueDeclare {
                arguments: table(&[("x-max-length", FieldValue::I64(6))]),
                ..queue("q")
            },
        ),
        406,
        "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received '6' but current is '5'",
    );
    // Both there: RabbitMQ shows the values bare, whatever their types.
    let ch = w.channel(ch, 3);
    assert_error(
        declare_queue(
            &mut w,
            ch,
            QueueDeclare {
                arguments: table(&[("x-max-length", FieldValue::LongStr("5".into()))]),
                ..queue("q")
            },
        ),
        406,
        "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received '5' but current is '5'",
    );
    let ch = w.channel(ch, 2);
    assert_error(
        declare_queue(&mut w, ch, queue("q")),
        406,
        "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q' in vhost '/': received none but current is the value '5' of type 'signedint'",
    );
}

#[test]
fn the_first_inequivalent_argument_is_named_in_rabbitmqs_order() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(ch, "q", table(&[("x-max-length", FieldValue::I32(5))]));
    let d = QueueDeclare {
        arguments: table(&[
            ("x-max-length", FieldValue::I32(2)),
            ("x-dead-letter-exchange", FieldValue::LongStr("dlx".into())),
        ]),
        ..queue("q")
    };
    assert_error(
        declare_queue(&mut w, ch, d),
        406,
        "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for queue 'q' in vhost '/': received the value 'dlx' of type 'longstr' but current is none",
    );
}

#[test]
fn integer_width_does_not_matter_for_queue_equivalence() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(
        ch,
        "q",
        table(&[
            ("x-max-length", FieldValue::I32(5)),
            ("x-message-ttl", FieldValue::U16(60_000)),
        ]),
    );
    for (len, ttl) in [
        (FieldValue::I64(5), FieldValue::I32(60_000)),
        (FieldValue::U8(5), FieldValue::I64(60_000)),
        (FieldValue::I16(5), FieldValue::U32(60_000)),
    ] {
        let d = QueueDeclare {
            arguments: table(&[("x-message-ttl", ttl), ("x-max-length", len)]),
            ..queue("q")
        };
        declare_queue(&mut w, ch, d).unwrap();
    }
    assert!(w.broker.channel_is_open(ch));
}

#[test]
fn unknown_queue_arguments_are_not_compared() {
    let mut w = World::new();
    let ch = w.client();
    w.declare_with(ch, "q", table(&[("x-custom", FieldValue::I32(1))]));
    let d = QueueDeclare {
        arguments: table(&[("x-custom", FieldValue::I32(2))]),
        ..queue("q")
    };
    declare_queue(&mut w, ch, d).unwrap();
}

#[test]
fn redeclaring_a_queue_with_another_durability_is_inequivalent() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    let d = QueueDeclare {
        durable: true,
        ..queue("q")
    };
    assert_error(
        declare_queue(&mut w, ch, d),
        406,
        "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/': received 'true' but current is 'false'",
    );
    assert!(!w.broker.channel_is_open(ch));
}

#[test]
fn redeclaring_a_queue_with_another_auto_delete_is_inequivalent() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    let d = QueueDeclare {
        auto_delete: true,
        ..queue("q")
    };
    assert_error(
        declare_queue(&mut w, ch, d),
        406,
        "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue 'q' in vhost '/': received 'true' but current is 'false'",
    );
}

const LOCKED: &str = "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'excl' in vhost '/'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.";

type Attempt = dyn Fn(&mut World, ChannelRef) -> Result<(), AmqpError>;

fn exclusive_setup() -> (World, ChannelRef, ChannelRef) {
    let mut w = World::new();
    let owner = w.client();
    let d = QueueDeclare {
        exclusive: true,
        ..queue("excl")
    };
    declare_queue(&mut w, owner, d).unwrap();
    // The binding another connection's unbind tries: removing one that is
    // not there succeeds.
    w.broker
        .queue_bind(w.now, owner, bind("excl", "amq.direct", "k"))
        .unwrap();
    w.fill(owner, "excl", &["m"]);
    let other = w.client();
    (w, owner, other)
}

#[test]
fn exclusive_queue_is_locked_to_other_connections() {
    let (mut w, owner, other) = exclusive_setup();
    let attempts: Vec<(&str, Box<Attempt>)> = vec![
        (
            "declare",
            Box::new(|w, ch| {
                let d = QueueDeclare {
                    exclusive: true,
                    ..queue("excl")
                };
                w.broker.queue_declare(w.now, ch, d).map(|_| ())
            }),
        ),
        (
            "passive declare",
            Box::new(|w, ch| {
                let d = QueueDeclare {
                    passive: true,
                    ..queue("excl")
                };
                w.broker.queue_declare(w.now, ch, d).map(|_| ())
            }),
        ),
        (
            "consume",
            Box::new(|w, ch| {
                let c = warren::broker::Consume {
                    queue: s("excl"),
                    ..Default::default()
                };
                w.broker.basic_consume(w.now, ch, c).map(|_| ())
            }),
        ),
        (
            "get",
            Box::new(|w, ch| w.broker.basic_get(w.now, ch, "excl", false)),
        ),
        (
            "bind",
            Box::new(|w, ch| {
                w.broker
                    .queue_bind(w.now, ch, bind("excl", "amq.direct", "k"))
            }),
        ),
        (
            "unbind",
            Box::new(|w, ch| {
                w.broker
                    .queue_unbind(w.now, ch, bind("excl", "amq.direct", "k"))
            }),
        ),
        (
            "purge",
            Box::new(|w, ch| w.broker.queue_purge(w.now, ch, "excl").map(|_| ())),
        ),
        (
            "delete",
            Box::new(|w, ch| {
                w.broker
                    .queue_delete(w.now, ch, "excl", false, false)
                    .map(|_| ())
            }),
        ),
    ];
    for (n, (what, attempt)) in attempts.iter().enumerate() {
        let ch = w.channel(other, 2 + n as u16);
        let e = attempt(&mut w, ch).unwrap_err();
        assert_eq!((e.code.code(), e.text.as_str()), (405, LOCKED), "{what}");
        assert!(!w.broker.channel_is_open(ch), "{what}");
    }
    // Nothing happened to the queue, and its owner still uses it.
    assert_eq!(w.ready("/", "excl"), 1);
    w.broker.basic_get(w.now, owner, "excl", true).unwrap();
    w.settle();
    assert_eq!(w.bodies(owner), ["m"]);
}

#[test]
fn exclusive_queue_redeclared_without_exclusive_is_locked() {
    let (mut w, owner, _) = exclusive_setup();
    assert_error(declare_queue(&mut w, owner, queue("excl")), 405, LOCKED);
}

#[test]
fn exclusive_queue_is_transient_whatever_its_durable_flag() {
    // As RabbitMQ 3.10: it shows such a queue as not durable, and a redeclare
    // with either flag is equivalent.
    let mut w = World::new();
    let owner = w.client();
    let declare = |durable| QueueDeclare {
        exclusive: true,
        durable,
        ..queue("excl")
    };
    declare_queue(&mut w, owner, declare(true)).unwrap();
    let t = w.broker.topology(true);
    let (_, d) = t
        .queues
        .iter()
        .find(|(_, q)| q.queue.as_str() == "excl")
        .unwrap();
    assert!(d.exclusive && !d.durable);
    declare_queue(&mut w, owner, declare(true)).unwrap();
    declare_queue(&mut w, owner, declare(false)).unwrap();
    assert!(w.broker.topology(false).queues.is_empty());
}

#[test]
fn exclusive_queue_is_removed_when_its_connection_closes() {
    let (mut w, owner, other) = exclusive_setup();
    w.close_channel(owner); // closing a channel is not enough
    assert!(queue_exists(&w, "excl"));
    w.close_connection(owner);
    assert!(!queue_exists(&w, "excl"));
    // Another connection may now declare it for itself.
    let d = QueueDeclare {
        exclusive: true,
        ..queue("excl")
    };
    declare_queue(&mut w, other, d).unwrap();
}

#[test]
fn auto_delete_queue_goes_when_its_last_consumer_cancels() {
    let mut w = World::new();
    let ch = w.client();
    let d = QueueDeclare {
        auto_delete: true,
        ..queue("ad")
    };
    declare_queue(&mut w, ch, d).unwrap();
    // Never having had a consumer, it stays.
    w.fill(ch, "ad", &["m"]);
    assert!(queue_exists(&w, "ad"));
    let c1 = w.consume(ch, "ad", true);
    let c2 = w.consume(ch, "ad", true);
    w.broker.basic_cancel(w.now, ch, &c1).unwrap();
    w.settle();
    assert!(queue_exists(&w, "ad"));
    w.broker.basic_cancel(w.now, ch, &c2).unwrap();
    w.settle();
    assert!(!queue_exists(&w, "ad"));
}

#[test]
fn auto_delete_queue_goes_when_its_last_consumer_channel_closes() {
    let mut w = World::new();
    let ch = w.client();
    let d = QueueDeclare {
        auto_delete: true,
        ..queue("ad")
    };
    declare_queue(&mut w, ch, d).unwrap();
    let c = w.client();
    w.consume(c, "ad", false);
    w.fill(ch, "ad", &["m"]);
    w.close_channel(c);
    assert!(!queue_exists(&w, "ad"));
}

#[test]
fn delete_if_unused_refuses_a_queue_with_consumers() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    let c = w.client();
    w.consume(c, "q", false);
    assert_error(
        w.broker.queue_delete(w.now, ch, "q", true, false),
        406,
        "PRECONDITION_FAILED - queue 'q' in vhost '/' in use",
    );
    assert!(queue_exists(&w, "q"));
}

#[test]
fn delete_if_empty_refuses_a_queue_with_ready_messages() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.fill(ch, "q", &["m"]);
    assert_error(
        w.broker.queue_delete(w.now, ch, "q", false, true),
        406,
        "PRECONDITION_FAILED - queue 'q' in vhost '/' not empty",
    );
    assert!(queue_exists(&w, "q"));
}

#[test]
fn delete_returns_the_message_count_and_removes_bindings() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.bind(ch, "q", "amq.direct", "k");
    w.fill(ch, "q", &["a", "b"]);
    assert_eq!(w.broker.queue_delete(w.now, ch, "q", true, false), Ok(2));
    assert!(!queue_exists(&w, "q"));
    let snap = w.broker.snapshot();
    let direct = snap
        .exchanges
        .iter()
        .find(|x| x.name.as_str() == "amq.direct");
    assert!(direct.unwrap().bindings.is_empty());
    // A queue of the same name starts empty and unbound.
    w.declare(ch, "q");
    w.publish(ch, "amq.direct", "k", "m").unwrap();
    assert_eq!(w.ready("/", "q"), 0);
}

#[test]
fn deleting_a_missing_queue_succeeds_with_zero() {
    let mut w = World::new();
    let ch = w.client();
    assert_eq!(w.broker.queue_delete(w.now, ch, "ghost", true, true), Ok(0));
    assert!(w.broker.channel_is_open(ch));
}

#[test]
fn purge_returns_the_ready_count_and_leaves_unacked_messages_alone() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.fill(ch, "q", &["a", "b", "c", "d"]);
    let c = w.client();
    w.prefetch(c, 1);
    w.consume(c, "q", false);
    assert_eq!(w.bodies(c), ["a"]);
    assert_eq!(w.broker.queue_purge(w.now, ch, "q"), Ok(3));
    w.settle();
    assert_eq!((w.ready("/", "q"), w.unacked("/", "q")), (0, 1));
    // The unacked one comes back on reject and is still deliverable.
    w.reject(c, 1, true).unwrap();
    let d = w.deliveries(c);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].body, "a");
    assert!(d[0].redelivered);
    assert_eq!(w.broker.queue_purge(w.now, ch, "q"), Ok(0));
}

#[test]
fn purging_a_missing_queue_is_not_found() {
    let mut w = World::new();
    let ch = w.client();
    assert_error(
        w.broker.queue_purge(w.now, ch, "ghost"),
        404,
        "NOT_FOUND - no queue 'ghost' in vhost '/'",
    );
}

#[test]
fn deleting_a_queue_cancels_its_consumers() {
    let mut w = World::new();
    let admin = w.client();
    w.declare(admin, "q");
    let a = w.client();
    let b = w.client_with(ConnectionInfo {
        consumer_cancel_notify: false,
        ..Default::default()
    });
    let tag_a = w.consume(a, "q", false);
    w.consume(b, "q", false);
    w.broker
        .queue_delete(w.now, admin, "q", false, false)
        .unwrap();
    w.settle();
    let got = w.take_for(a);
    assert!(
        matches!(got.as_slice(), [Effect::Cancel { to, consumer_tag }] if *to == a && consumer_tag.as_str() == tag_a),
        "{got:?}"
    );
    // A client without consumer_cancel_notify hears nothing.
    assert!(w.take_for(b).is_empty());
    assert!(w.broker.channel_is_open(a));
    assert!(w.broker.snapshot().consumers.is_empty());
}

#[test]
fn deliveries_from_a_deleted_queue_can_still_be_acked() {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "q");
    w.fill(ch, "q", &["a"]);
    w.consume(ch, "q", false);
    assert_eq!(w.bodies(ch), ["a"]);
    w.broker.queue_delete(w.now, ch, "q", false, false).unwrap();
    w.ack(ch, 1, false).unwrap();
    assert!(w.broker.channel_is_open(ch));
}

// ---- queue types -------------------------------------------------------------

fn typed(name: &str, kind: &str) -> QueueDeclare {
    QueueDeclare {
        durable: true,
        arguments: FieldTable::new().with("x-queue-type", FieldValue::str(kind)),
        ..queue(name)
    }
}

#[test]
fn a_quorum_queue_is_declared_under_quorum_rules_with_rabbitmq_texts() {
    let mut w = World::new();
    let c = w.client();
    declare_queue(&mut w, c, typed("qq", "quorum")).unwrap();
    let refused = [
        (QueueDeclare { durable: false, ..typed("qq.a", "quorum") }, "PRECONDITION_FAILED - invalid property 'non-durable' for queue 'qq.a' in vhost '/'"),
        // RabbitMQ's order: auto-delete, then exclusive, then non-durable.
        (QueueDeclare { durable: false, exclusive: true, ..typed("qq.a", "quorum") }, "PRECONDITION_FAILED - invalid property 'exclusive-owner' for queue 'qq.a' in vhost '/'"),
        (QueueDeclare { exclusive: true, auto_delete: true, ..typed("qq.a", "quorum") }, "PRECONDITION_FAILED - invalid property 'auto-delete' for queue 'qq.a' in vhost '/'"),
        // A classic-only argument before any of them.
        (
            QueueDeclare {
                durable: false,
                arguments: FieldTable::new()
                    .with("x-queue-type", FieldValue::str("quorum"))
                    .with("x-queue-mode", FieldValue::str("lazy")),
                ..typed("qq.a", "quorum")
            },
            "PRECONDITION_FAILED - invalid arg 'x-queue-mode' for queue 'qq.a' in vhost '/' of queue type rabbit_quorum_queue",
        ),
        (QueueDeclare { exclusive: true, ..typed("qq.a", "quorum") }, "PRECONDITION_FAILED - invalid property 'exclusive-owner' for queue 'qq.a' in vhost '/'"),
        (QueueDeclare { auto_delete: true, ..typed("qq.a", "quorum") }, "PRECONDITION_FAILED - invalid property 'auto-delete' for queue 'qq.a' in vhost '/'"),
        (
            QueueDeclare {
                arguments: FieldTable::new()
                    .with("x-queue-type", FieldValue::str("quorum"))
                    .with("x-max-priority", FieldValue::I32(5)),
                ..typed("qq.a", "quorum")
            },
            "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'qq.a' in vhost '/' of queue type rabbit_quorum_queue",
        ),
    ];
    for (d, text) in refused {
        let c = w.client();
        assert_error(declare_queue(&mut w, c, d), 406, text);
    }
    assert!(!queue_exists(&w, "qq.a"));
}

#[test]
fn deleting_a_quorum_queue_if_unused_or_if_empty_is_not_implemented() {
    let mut w = World::new();
    let c = w.client();
    declare_queue(&mut w, c, typed("qq", "quorum")).unwrap();
    for (if_unused, if_empty, flag) in [(true, true, "if-unused"), (false, true, "if-empty")] {
        let c = w.client();
        let e = w
            .broker
            .queue_delete(w.now, c, "qq", if_unused, if_empty)
            .unwrap_err();
        assert_eq!(
            (e.code.code(), e.text.as_str()),
            (540, format!("NOT_IMPLEMENTED - cannot delete queue 'qq' in vhost '/'. queue.delete operations with {flag} flag set are not supported by quorum queues").as_str())
        );
        // A hard error: the connection goes, the queue stays.
        assert!(w.broker.connection_info(c.conn).is_none());
        assert!(queue_exists(&w, "qq"));
    }
    let c = w.client();
    assert_eq!(w.broker.queue_delete(w.now, c, "qq", false, false), Ok(0));
    assert!(!queue_exists(&w, "qq"));
}

#[test]
fn a_stream_or_an_unknown_queue_type_is_refused_and_a_type_must_be_a_string() {
    let mut w = World::new();
    for (kind, text) in [
        ("stream", "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'q' in vhost '/': \"unsupported queue type 'stream'\" (Warren has no streams)"),
        ("foo", "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'q' in vhost '/': \"unsupported queue type 'foo'\""),
    ] {
        let c = w.client();
        assert_error(declare_queue(&mut w, c, typed("q", kind)), 406, text);
    }
    let c = w.client();
    let number = QueueDeclare {
        arguments: FieldTable::new().with("x-queue-type", FieldValue::I32(5)),
        ..queue("q")
    };
    assert_error(
        declare_queue(&mut w, c, number),
        406,
        "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'q' in vhost '/': must be a string",
    );
    assert!(!queue_exists(&w, "q"));
}

#[test]
fn a_redeclare_with_another_queue_type_is_inequivalent_and_no_type_is_classic() {
    let mut w = World::new();
    let c = w.client();
    declare_queue(
        &mut w,
        c,
        QueueDeclare {
            durable: true,
            ..queue("plain")
        },
    )
    .unwrap();
    declare_queue(&mut w, c, typed("plain", "classic")).unwrap();
    declare_queue(&mut w, c, typed("qq", "quorum")).unwrap();
    for (d, text) in [
        (typed("plain", "quorum"), "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'plain' in vhost '/': received the value 'quorum' of type 'longstr' but current is none"),
        (typed("qq", "classic"), "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'qq' in vhost '/': received 'classic' but current is 'quorum'"),
        (QueueDeclare { durable: true, ..queue("qq") }, "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'qq' in vhost '/': received none but current is the value 'quorum' of type 'longstr'"),
    ] {
        let c = w.client();
        assert_error(declare_queue(&mut w, c, d), 406, text);
    }
}
