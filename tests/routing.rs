//! Routing through `basic.publish`: the default exchange, the standard
//! exchanges, direct, fanout, topic and headers matching, exchange-to-exchange
//! bindings and alternate exchanges.

mod common;
use common::*;
use warren::broker::{
    Bind, ChannelRef, Effect, ExchangeDeclare, FieldTable, FieldValue, Properties,
};

/// Publishes one message and returns the queues (of `queues`) it reached,
/// emptying them again for the next publish.
fn reached(
    w: &mut World,
    ch: ChannelRef,
    queues: &[&str],
    exchange: &str,
    key: &str,
    props: Properties,
) -> Vec<String> {
    w.publish_props(ch, exchange, key, "m", props).unwrap();
    let mut out = Vec::new();
    for q in queues {
        let n = w.ready("/", q);
        assert!(n <= 1, "queue {q} got {n} copies of one publish");
        if n == 1 {
            out.push(q.to_string());
            w.broker.queue_purge(w.now, ch, q).unwrap();
        }
    }
    out
}

fn to(w: &mut World, ch: ChannelRef, queues: &[&str], exchange: &str, key: &str) -> Vec<String> {
    reached(w, ch, queues, exchange, key, Properties::default())
}

fn with_headers(
    w: &mut World,
    ch: ChannelRef,
    queues: &[&str],
    exchange: &str,
    headers: FieldTable,
) -> Vec<String> {
    let props = Properties {
        headers: Some(headers),
        ..Default::default()
    };
    reached(w, ch, queues, exchange, "", props)
}

fn bind_args(w: &mut World, ch: ChannelRef, q: &str, x: &str, key: &str, args: FieldTable) {
    w.broker
        .queue_bind(
            w.now,
            ch,
            Bind {
                destination: s(q),
                source: s(x),
                routing_key: s(key),
                arguments: args,
            },
        )
        .unwrap();
}

fn exchange_bind(w: &mut World, ch: ChannelRef, dest: &str, source: &str, key: &str) {
    w.broker
        .exchange_bind(
            w.now,
            ch,
            Bind {
                destination: s(dest),
                source: s(source),
                routing_key: s(key),
                arguments: FieldTable::new(),
            },
        )
        .unwrap();
}

fn queues(w: &mut World, ch: ChannelRef, names: &[&str]) {
    for q in names {
        w.declare(ch, q);
    }
}

fn str_val(v: &str) -> FieldValue {
    FieldValue::str(v)
}

#[test]
fn default_exchange_routes_to_the_queue_named_by_the_key() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["a", "b"]);
    assert_eq!(to(&mut w, ch, &["a", "b"], "", "a"), ["a"]);
    assert_eq!(to(&mut w, ch, &["a", "b"], "", "b"), ["b"]);
    assert!(to(&mut w, ch, &["a", "b"], "", "c").is_empty());
    assert!(w.broker.channel_is_open(ch));
}

#[test]
fn direct_exchange_routes_on_the_exact_key_to_every_matching_queue() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["a", "b", "c"]);
    w.exchange(ch, "logs", "direct");
    w.bind(ch, "a", "logs", "error");
    w.bind(ch, "b", "logs", "error");
    w.bind(ch, "b", "logs", "info");
    w.bind(ch, "c", "logs", "");
    let all = ["a", "b", "c"];
    assert_eq!(to(&mut w, ch, &all, "logs", "error"), ["a", "b"]);
    assert_eq!(to(&mut w, ch, &all, "logs", "info"), ["b"]);
    assert_eq!(to(&mut w, ch, &all, "logs", ""), ["c"]);
    assert!(to(&mut w, ch, &all, "logs", "Error").is_empty());
    assert!(to(&mut w, ch, &all, "logs", "error.x").is_empty());
}

#[test]
fn amq_direct_is_a_direct_exchange() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["a", "b"]);
    w.bind(ch, "a", "amq.direct", "k");
    assert_eq!(to(&mut w, ch, &["a", "b"], "amq.direct", "k"), ["a"]);
    assert!(to(&mut w, ch, &["a", "b"], "amq.direct", "other").is_empty());
}

#[test]
fn fanout_exchange_ignores_the_routing_key() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["a", "b", "c"]);
    w.exchange(ch, "fan", "fanout");
    w.bind(ch, "a", "fan", "");
    w.bind(ch, "b", "fan", "whatever");
    let all = ["a", "b", "c"];
    assert_eq!(to(&mut w, ch, &all, "fan", "anything"), ["a", "b"]);
    assert_eq!(to(&mut w, ch, &all, "fan", ""), ["a", "b"]);
    w.bind(ch, "c", "amq.fanout", "");
    assert_eq!(to(&mut w, ch, &all, "amq.fanout", "x"), ["c"]);
}

#[test]
fn a_queue_bound_twice_gets_one_copy() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["a"]);
    w.exchange(ch, "t", "topic");
    w.bind(ch, "a", "t", "a.*");
    w.bind(ch, "a", "t", "#");
    assert_eq!(to(&mut w, ch, &["a"], "t", "a.b"), ["a"]);
}

#[test]
fn topic_star_matches_exactly_one_word() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["q"]);
    w.exchange(ch, "t", "topic");
    w.bind(ch, "q", "t", "*.orange.*");
    for (key, hit) in [
        ("quick.orange.rabbit", true),
        ("lazy.orange.elephant", true),
        (".orange.", true),
        ("orange", false),
        ("quick.orange", false),
        ("quick.orange.male.rabbit", false),
        ("quick.brown.fox", false),
    ] {
        assert_eq!(!to(&mut w, ch, &["q"], "t", key).is_empty(), hit, "{key}");
    }
}

#[test]
fn topic_hash_matches_zero_or_more_words() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["lazy", "all", "mid"]);
    w.exchange(ch, "t", "topic");
    w.bind(ch, "lazy", "t", "lazy.#");
    w.bind(ch, "all", "t", "#");
    w.bind(ch, "mid", "t", "a.#.b");
    let qs = ["lazy", "all", "mid"];
    assert_eq!(to(&mut w, ch, &qs, "t", "lazy"), ["lazy", "all"]);
    assert_eq!(
        to(&mut w, ch, &qs, "t", "lazy.orange.male.rabbit"),
        ["lazy", "all"]
    );
    assert_eq!(to(&mut w, ch, &qs, "t", "quick.lazy"), ["all"]);
    assert_eq!(to(&mut w, ch, &qs, "t", ""), ["all"]);
    assert_eq!(to(&mut w, ch, &qs, "t", "a.b"), ["all", "mid"]);
    assert_eq!(to(&mut w, ch, &qs, "t", "a.x.y.b"), ["all", "mid"]);
    assert_eq!(to(&mut w, ch, &qs, "t", "a.x.y.c"), ["all"]);
}

#[test]
fn topic_empty_words_are_words_and_the_empty_key_has_none() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["star", "two", "gap", "empty"]);
    w.exchange(ch, "t", "topic");
    w.bind(ch, "star", "t", "*");
    w.bind(ch, "two", "t", "*.*");
    w.bind(ch, "gap", "t", "a.*.b");
    w.bind(ch, "empty", "t", "");
    let qs = ["star", "two", "gap", "empty"];
    // The empty key is zero words: only the empty binding key matches it.
    assert_eq!(to(&mut w, ch, &qs, "t", ""), ["empty"]);
    // "." is two empty words.
    assert_eq!(to(&mut w, ch, &qs, "t", "."), ["two"]);
    assert_eq!(to(&mut w, ch, &qs, "t", "a..b"), ["gap"]);
    assert_eq!(to(&mut w, ch, &qs, "t", "a"), ["star"]);
    assert_eq!(to(&mut w, ch, &qs, "t", "a."), ["two"]);
}

#[test]
fn amq_topic_is_a_topic_exchange() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["q"]);
    w.bind(ch, "q", "amq.topic", "stock.#");
    assert_eq!(to(&mut w, ch, &["q"], "amq.topic", "stock.usd.nyse"), ["q"]);
    assert!(to(&mut w, ch, &["q"], "amq.topic", "bond.usd").is_empty());
}

fn headers_setup(exchange: &str) -> (World, ChannelRef) {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["all", "any", "allx", "anyx"]);
    let x = exchange;
    let pairs = [
        ("all", "all"),
        ("any", "any"),
        ("allx", "all-with-x"),
        ("anyx", "any-with-x"),
    ];
    for (q, mode) in pairs {
        bind_args(
            &mut w,
            ch,
            q,
            x,
            "ignored",
            table(&[
                ("x-match", str_val(mode)),
                ("format", str_val("pdf")),
                ("type", str_val("report")),
                ("x-tenant", str_val("acme")),
            ]),
        );
    }
    (w, ch)
}

const HQS: [&str; 4] = ["all", "any", "allx", "anyx"];

#[test]
fn headers_all_needs_every_header_and_ignores_x_arguments() {
    let (mut w, ch) = headers_setup("amq.headers");
    let both = table(&[("format", str_val("pdf")), ("type", str_val("report"))]);
    assert_eq!(
        with_headers(&mut w, ch, &HQS, "amq.headers", both),
        ["all", "any", "anyx"]
    );
    let one = table(&[("format", str_val("pdf"))]);
    assert_eq!(
        with_headers(&mut w, ch, &HQS, "amq.headers", one),
        ["any", "anyx"]
    );
    let wrong = table(&[("format", str_val("zip")), ("type", str_val("log"))]);
    assert!(with_headers(&mut w, ch, &HQS, "amq.headers", wrong).is_empty());
}

#[test]
fn headers_with_x_variants_compare_x_headers_too() {
    let (mut w, ch) = headers_setup("amq.headers");
    let everything = table(&[
        ("format", str_val("pdf")),
        ("type", str_val("report")),
        ("x-tenant", str_val("acme")),
    ]);
    assert_eq!(
        with_headers(&mut w, ch, &HQS, "amq.headers", everything),
        HQS
    );
    // Only the x- header: plain `any` skips x- arguments, `any-with-x` does not.
    let only_x = table(&[("x-tenant", str_val("acme"))]);
    assert_eq!(
        with_headers(&mut w, ch, &HQS, "amq.headers", only_x),
        ["anyx"]
    );
}

#[test]
fn headers_values_compare_integers_by_value_and_void_by_presence() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["n", "v"]);
    w.exchange(ch, "h", "headers");
    bind_args(&mut w, ch, "n", "h", "", table(&[("n", FieldValue::I8(5))]));
    bind_args(
        &mut w,
        ch,
        "v",
        "h",
        "",
        table(&[("flag", FieldValue::Void)]),
    );
    let qs = ["n", "v"];
    assert_eq!(
        with_headers(&mut w, ch, &qs, "h", table(&[("n", FieldValue::I64(5))])),
        ["n"]
    );
    assert!(with_headers(&mut w, ch, &qs, "h", table(&[("n", FieldValue::F64(5.0))])).is_empty());
    assert_eq!(
        with_headers(&mut w, ch, &qs, "h", table(&[("flag", str_val("any"))])),
        ["v"]
    );
    // No headers at all: an `all` binding with arguments matches nothing.
    assert!(reached(&mut w, ch, &qs, "h", "", Properties::default()).is_empty());
}

#[test]
fn amq_match_is_a_headers_exchange() {
    let (mut w, ch) = headers_setup("amq.match");
    let both = table(&[("format", str_val("pdf")), ("type", str_val("report"))]);
    assert_eq!(
        with_headers(&mut w, ch, &HQS, "amq.match", both),
        ["all", "any", "anyx"]
    );
}

#[test]
fn headers_binding_with_an_unknown_x_match_is_precondition_failed() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["q"]);
    let e = w
        .broker
        .queue_bind(
            w.now,
            ch,
            Bind {
                destination: s("q"),
                source: s("amq.headers"),
                routing_key: s(""),
                arguments: table(&[("x-match", str_val("some"))]),
            },
        )
        .unwrap_err();
    assert_eq!(e.code.code(), 406);
    assert!(!w.broker.channel_is_open(ch));
}

#[test]
fn exchange_to_exchange_binding_routes_through_both() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["direct-q", "fan-q"]);
    w.exchange(ch, "front", "topic");
    w.exchange(ch, "back", "fanout");
    exchange_bind(&mut w, ch, "back", "front", "orders.*");
    w.bind(ch, "fan-q", "back", "");
    w.bind(ch, "direct-q", "front", "orders.new");
    let qs = ["direct-q", "fan-q"];
    assert_eq!(
        to(&mut w, ch, &qs, "front", "orders.new"),
        ["direct-q", "fan-q"]
    );
    assert_eq!(to(&mut w, ch, &qs, "front", "orders.old"), ["fan-q"]);
    assert!(to(&mut w, ch, &qs, "front", "invoices.new").is_empty());
    // Unbinding the exchanges cuts the path.
    w.broker
        .exchange_unbind(
            w.now,
            ch,
            Bind {
                destination: s("back"),
                source: s("front"),
                routing_key: s("orders.*"),
                arguments: FieldTable::new(),
            },
        )
        .unwrap();
    assert!(to(&mut w, ch, &qs, "front", "orders.old").is_empty());
}

#[test]
fn a_cycle_of_exchange_bindings_delivers_once_and_terminates() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["qa", "qb", "qc"]);
    for x in ["xa", "xb", "xc"] {
        w.exchange(ch, x, "fanout");
    }
    exchange_bind(&mut w, ch, "xb", "xa", "");
    exchange_bind(&mut w, ch, "xc", "xb", "");
    exchange_bind(&mut w, ch, "xa", "xc", "");
    w.bind(ch, "qa", "xa", "");
    w.bind(ch, "qb", "xb", "");
    w.bind(ch, "qc", "xc", "");
    let qs = ["qa", "qb", "qc"];
    assert_eq!(to(&mut w, ch, &qs, "xb", "k"), ["qa", "qb", "qc"]);
    // An exchange bound to itself is fine too.
    exchange_bind(&mut w, ch, "xa", "xa", "");
    assert_eq!(to(&mut w, ch, &qs, "xa", "k"), ["qa", "qb", "qc"]);
}

#[test]
fn alternate_exchange_takes_what_the_exchange_cannot_route() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["main", "unrouted"]);
    w.exchange(ch, "ae", "fanout");
    w.bind(ch, "unrouted", "ae", "");
    w.exchange_with(
        ch,
        "x",
        "direct",
        table(&[("alternate-exchange", str_val("ae"))]),
    );
    w.bind(ch, "main", "x", "good");
    let qs = ["main", "unrouted"];
    assert_eq!(to(&mut w, ch, &qs, "x", "good"), ["main"]);
    assert_eq!(to(&mut w, ch, &qs, "x", "bad"), ["unrouted"]);
}

#[test]
fn a_message_routed_by_the_alternate_exchange_is_not_returned() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["unrouted"]);
    w.exchange(ch, "ae", "fanout");
    w.bind(ch, "unrouted", "ae", "");
    w.exchange_with(
        ch,
        "x",
        "direct",
        table(&[("alternate-exchange", str_val("ae"))]),
    );
    w.publish_mandatory(ch, "x", "nowhere", "m").unwrap();
    assert_eq!(w.ready("/", "unrouted"), 1);
    assert!(!w
        .take_for(ch)
        .iter()
        .any(|e| matches!(e, Effect::Return { .. })));
}

#[test]
fn alternate_exchanges_chain_and_a_missing_one_routes_nowhere() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["last"]);
    w.exchange(ch, "ae2", "fanout");
    w.bind(ch, "last", "ae2", "");
    w.exchange_with(
        ch,
        "ae1",
        "direct",
        table(&[("alternate-exchange", str_val("ae2"))]),
    );
    w.exchange_with(
        ch,
        "x",
        "direct",
        table(&[("alternate-exchange", str_val("ae1"))]),
    );
    w.exchange_with(
        ch,
        "y",
        "direct",
        table(&[("alternate-exchange", str_val("missing"))]),
    );
    assert_eq!(to(&mut w, ch, &["last"], "x", "k"), ["last"]);
    assert!(to(&mut w, ch, &["last"], "y", "k").is_empty());
    assert!(w.broker.channel_is_open(ch));
}

#[test]
fn alternate_exchange_cycle_terminates() {
    let mut w = World::new();
    let ch = w.client();
    w.exchange_with(
        ch,
        "a",
        "direct",
        table(&[("alternate-exchange", str_val("b"))]),
    );
    w.exchange_with(
        ch,
        "b",
        "direct",
        table(&[("alternate-exchange", str_val("a"))]),
    );
    w.publish_mandatory(ch, "a", "k", "m").unwrap();
    assert!(w.take_for(ch).iter().any(|e| matches!(
        e,
        Effect::Return {
            reply_code: 312,
            ..
        }
    )));
}

#[test]
fn unroutable_mandatory_message_is_returned_with_no_route() {
    let mut w = World::new();
    let ch = w.client();
    w.publish_mandatory(ch, "amq.direct", "nobody", "lost")
        .unwrap();
    let got = w.take_for(ch);
    assert!(matches!(
        got.as_slice(),
        [Effect::Return { reply_code: 312, reply_text, message, .. }]
            if reply_text.as_str() == "NO_ROUTE" && message.body() == b"lost"
    ));
    // Without mandatory it is silently dropped.
    w.publish(ch, "amq.direct", "nobody", "lost").unwrap();
    assert!(w.take_for(ch).is_empty());
}

#[test]
fn internal_exchange_routes_what_other_exchanges_send_it() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["q"]);
    w.broker
        .exchange_declare(
            w.now,
            ch,
            ExchangeDeclare {
                exchange: s("inner"),
                kind: s("fanout"),
                internal: true,
                ..Default::default()
            },
        )
        .unwrap();
    w.bind(ch, "q", "inner", "");
    exchange_bind(&mut w, ch, "inner", "amq.fanout", "");
    assert_eq!(to(&mut w, ch, &["q"], "amq.fanout", ""), ["q"]);
}

#[test]
fn cc_and_bcc_headers_add_routing_keys_and_bcc_is_hidden() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["a", "b", "c"]);
    let props = Properties {
        headers: Some(table(&[
            ("CC", FieldValue::Array(vec![str_val("b")])),
            ("BCC", FieldValue::Array(vec![str_val("c")])),
        ])),
        ..Default::default()
    };
    w.publish_props(ch, "", "a", "m", props).unwrap();
    assert_eq!(
        (w.ready("/", "a"), w.ready("/", "b"), w.ready("/", "c")),
        (1, 1, 1)
    );
    w.consume(ch, "c", true);
    let d = w.deliveries(ch);
    assert_eq!(d.len(), 1);
    assert!(d[0].header("BCC").is_none());
    assert!(d[0].header("CC").is_some());
}

/// Default-exchange publishes in a run go to the queue the last one reached
/// only while it is that queue: not once it is deleted (even when a new
/// queue of the same name takes its place), nor from another vhost.
#[test]
fn the_default_exchange_follows_queues_deleted_redeclared_and_in_other_vhosts() {
    let mut w = World::new();
    w.broker.add_vhost("v");
    let ch = w.client();
    let other = w.client_with(warren::broker::ConnectionInfo {
        vhost: s("v"),
        ..Default::default()
    });
    w.declare(ch, "a");
    w.declare(ch, "b");
    w.declare(other, "a");
    w.publish(ch, "", "a", "1").unwrap();
    w.publish(ch, "", "b", "2").unwrap();
    w.publish(ch, "", "a", "3").unwrap();
    w.publish(other, "", "a", "4").unwrap();
    assert_eq!(
        (w.ready("/", "a"), w.ready("/", "b"), w.ready("v", "a")),
        (2, 1, 1)
    );
    w.publish(ch, "", "a", "5").unwrap();
    w.broker.queue_delete(w.now, ch, "a", false, false).unwrap();
    // Unroutable: dropped, not put in the deleted queue.
    w.publish(ch, "", "a", "6").unwrap();
    w.declare(ch, "a");
    assert_eq!(w.ready("/", "a"), 0);
    w.publish(ch, "", "a", "7").unwrap();
    assert_eq!((w.ready("/", "a"), w.ready("v", "a")), (1, 1));
}

#[test]
fn a_named_exchange_follows_bindings_queues_and_exchanges_changing_between_publishes() {
    let mut w = World::new();
    let ch = w.client();
    queues(&mut w, ch, &["a", "b"]);
    let all = ["a", "b"];
    w.exchange(ch, "x", "direct");
    w.bind(ch, "a", "x", "k");
    // The same exchange and key again and again, as a producer publishes.
    assert_eq!(to(&mut w, ch, &all, "x", "k"), ["a"]);
    assert_eq!(to(&mut w, ch, &all, "x", "k"), ["a"]);
    w.bind(ch, "b", "x", "k");
    assert_eq!(to(&mut w, ch, &all, "x", "k"), ["a", "b"]);
    let unbind = Bind {
        destination: s("a"),
        source: s("x"),
        routing_key: s("k"),
        arguments: FieldTable::new(),
    };
    w.broker.queue_unbind(w.now, ch, unbind).unwrap();
    assert_eq!(to(&mut w, ch, &all, "x", "k"), ["b"]);
    // Another key, then back: each publish goes where its own key says.
    assert!(to(&mut w, ch, &all, "x", "other").is_empty());
    assert_eq!(to(&mut w, ch, &all, "x", "k"), ["b"]);
    // A deleted queue is no longer reached: the publish is unroutable, not
    // refused (a confirm would say nack).
    w.confirm_select(ch);
    w.broker.queue_delete(w.now, ch, "b", false, false).unwrap();
    w.publish_mandatory(ch, "x", "k", "m").unwrap();
    assert_eq!(w.confirms(ch), [(1, false, true)]);
    let returned = w
        .take_for(ch)
        .into_iter()
        .filter(|e| matches!(e, Effect::Return { .. }))
        .count();
    assert_eq!(returned, 1);
    w.declare(ch, "b");
    w.bind(ch, "b", "x", "k");
    assert_eq!(to(&mut w, ch, &all, "x", "k"), ["b"]);
    // A deleted exchange is not found (the channel closes)...
    w.broker.exchange_delete(w.now, ch, "x", false).unwrap();
    let e = w.publish(ch, "x", "k", "m").unwrap_err();
    assert_eq!(e.code, warren::broker::ReplyCode::NotFound);
    // ...and one declared in its place, with an alternate exchange, routes
    // by its own bindings.
    let ch = w.client();
    let args = table(&[("alternate-exchange", str_val("amq.fanout"))]);
    w.exchange_with(ch, "x", "direct", args);
    w.bind(ch, "a", "amq.fanout", "");
    assert_eq!(to(&mut w, ch, &all, "x", "k"), ["a"]);
    w.bind(ch, "b", "x", "k");
    assert_eq!(to(&mut w, ch, &all, "x", "k"), ["b"]);
}
