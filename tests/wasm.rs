//! The wasm bindings, run in wasm: in Node by default, in headless Chromium
//! with `WASM_BINDGEN_USE_BROWSER=1` (see scripts/test.mjs).
//!
//! `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=.tools/bin/wasm-bindgen-test-runner
//!  cargo test --target wasm32-unknown-unknown --test wasm`
#![cfg(target_family = "wasm")]

use js_sys::{Array, Reflect, Uint8Array, JSON};
use warren::wasm::{decode_properties, WasmBroker};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

// The reader the JS API puts over snapshots, events, users, policies and
// recovery reports (src/wasm/data.rs).
#[wasm_bindgen(module = "/js/data.js")]
extern "C" {
    #[wasm_bindgen(js_name = readData)]
    fn read_data(bytes: &[u8]) -> JsValue;
}

const NOW: f64 = 1_000.0;
const DELIVER: u8 = 1;
const CLOSE_CHANNEL: u8 = 7;
const SEND: u8 = 10;

fn json(s: &str) -> JsValue {
    JSON::parse(s).unwrap()
}

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

/// Records of one packed output buffer: (kind, conn, channel, fields).
fn records(out: &[u8]) -> Vec<(u8, u32, u16, &[u8])> {
    // Only the record kinds these tests produce, each read to its end.
    let mut v = Vec::new();
    let mut at = 0;
    while at < out.len() {
        let kind = out[at];
        let conn = u32::from_le_bytes(out[at + 1..at + 5].try_into().unwrap());
        let ch = u16::from_le_bytes(out[at + 5..at + 7].try_into().unwrap());
        let start = at + 7;
        let end = match kind {
            SEND => {
                start + 4 + u32::from_le_bytes(out[start..start + 4].try_into().unwrap()) as usize
            }
            DELIVER => {
                // consumer tag, exchange, routing key, tag f64, redelivered u8, header, body
                let mut p = start;
                for _ in 0..3 {
                    p += 1 + out[p] as usize;
                }
                p += 9;
                for _ in 0..2 {
                    p += 4 + u32::from_le_bytes(out[p..p + 4].try_into().unwrap()) as usize;
                }
                p
            }
            // code u16, text, class u16, method u16
            CLOSE_CHANNEL => start + 2 + 1 + out[start + 2] as usize + 4,
            k => panic!("unexpected record kind {k}"),
        };
        v.push((kind, conn, ch, &out[start..end]));
        at = end;
    }
    v
}

fn open(b: &mut WasmBroker) -> u32 {
    let conn = b
        .open_connection(NOW, "/", "test", "guest", "guest")
        .unwrap();
    b.open_channel(NOW, conn, 1).unwrap();
    conn
}

/// A broker without events, queue "q" and consumer "c1" (consume `flags`)
/// on channel 1 of the returned connection.
fn consuming(flags: u8) -> (WasmBroker, u32) {
    let mut b = WasmBroker::new(json(r#"{"events": false}"#)).unwrap();
    let conn = open(&mut b);
    b.queue_declare(NOW, conn, 1, "q", 0, JsValue::UNDEFINED)
        .unwrap();
    let tag = b
        .consume(NOW, conn, 1, "q", "c1", flags, JsValue::UNDEFINED)
        .unwrap();
    assert_eq!(tag, "c1");
    (b, conn)
}

#[wasm_bindgen_test]
fn publish_reaches_a_consumer_as_a_packed_delivery_with_lazy_properties() {
    let (mut b, conn) = consuming(32);
    let props = json(r#"{"contentType": "text/plain", "headers": {"n": 7}}"#);
    b.publish(NOW, conn, 1, "", "q", props, b"hello", false)
        .unwrap();

    let len = b.take_output();
    let out = b.output().to_vec();
    assert_eq!(out.len(), len as usize);
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    let (kind, c, ch, fields) = recs[0];
    assert_eq!((kind, c, ch), (DELIVER, conn, 1));
    assert!(fields.ends_with(b"hello"));
    // The content header sits just before the body: find it by its class id (60).
    let header_at = fields.windows(2).position(|w| w == [0, 60]).unwrap();
    let len = u32::from_le_bytes(fields[header_at - 4..header_at].try_into().unwrap()) as usize;
    let p = read_data(&decode_properties(&fields[header_at..header_at + len]).unwrap());
    assert_eq!(get(&p, "contentType"), "text/plain");
    assert_eq!(get(&get(&p, "headers"), "n"), 7);
    assert_eq!(b.take_output(), 0, "drained");
}

#[wasm_bindgen_test]
fn engine_errors_carry_the_amqp_reply_and_bad_arguments_are_type_errors() {
    let mut b = WasmBroker::new(JsValue::UNDEFINED).unwrap();
    let conn = open(&mut b);
    let err = b
        .queue_declare(NOW, conn, 1, "missing", 1, JsValue::UNDEFINED)
        .unwrap_err();
    assert_eq!(get(&err, "code"), 404);
    assert_eq!(get(&err, "classId"), 50);
    assert_eq!(get(&err, "methodId"), 10);
    assert_eq!(get(&err, "soft"), true);
    assert!(get(&err, "replyText")
        .as_string()
        .unwrap()
        .starts_with("NOT_FOUND"));

    b.open_channel(NOW, conn, 2).unwrap();
    let long = "q".repeat(300);
    let err = b
        .queue_declare(NOW, conn, 2, &long, 0, JsValue::UNDEFINED)
        .unwrap_err();
    assert!(err.is_instance_of::<js_sys::TypeError>());
    let err = b.settle(NOW, conn, 2, 0, 1.5, false, false).unwrap_err();
    assert!(err.is_instance_of::<js_sys::TypeError>());
    let err = b
        .publish(
            NOW,
            conn,
            2,
            "",
            "q",
            json(r#"{"priority": "high"}"#),
            b"",
            false,
        )
        .unwrap_err();
    assert!(err.is_instance_of::<js_sys::TypeError>());
    // The channel is still open after the TypeErrors.
    b.queue_declare(NOW, conn, 2, "q", 0, JsValue::UNDEFINED)
        .unwrap();

    let bad = WasmBroker::new(json(r#"{"limits": {"channelMax": "many"}}"#))
        .err()
        .unwrap();
    assert!(bad.is_instance_of::<js_sys::TypeError>());
}

#[wasm_bindgen_test]
fn accepted_transports_get_bytes_out_as_send_records() {
    let mut b = WasmBroker::new(JsValue::UNDEFINED).unwrap();
    let id = b.accept(NOW, "127.0.0.1:1", None, None);
    assert!(b.wants_read(id));
    b.receive(NOW, id, b"AMQP\x00\x00\x09\x01");
    assert!(b.take_output() > 0);
    let out = b.output().to_vec();
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    let (kind, conn, ch, fields) = recs[0];
    assert_eq!((kind, conn, ch), (SEND, id, 0));
    // a method frame on channel 0: connection.start
    assert_eq!(&fields[4..7], &[1, 0, 0]);
    assert_eq!(&fields[11..15], &[0, 10, 0, 10]);
    b.transport_closed(NOW, id);
    assert!(!b.wants_read(id));
}

#[wasm_bindgen_test]
fn events_and_snapshots_are_plain_objects() {
    let mut b = WasmBroker::new(JsValue::UNDEFINED).unwrap();
    let conn = open(&mut b);
    b.queue_declare(NOW, conn, 1, "q", 0, JsValue::UNDEFINED)
        .unwrap();
    b.publish(NOW, conn, 1, "", "q", JsValue::UNDEFINED, b"x", false)
        .unwrap();
    let events: Array = read_data(&b.take_events()).dyn_into().unwrap();
    let types: Vec<String> = events
        .iter()
        .map(|e| get(&e, "type").as_string().unwrap())
        .collect();
    assert!(types.contains(&"published".to_string()), "{types:?}");
    assert!(types.contains(&"enqueued".to_string()), "{types:?}");
    // `at` first, then the kind's tag and fields, all on one plain object.
    let enqueued = events
        .iter()
        .find(|e| get(e, "type") == "enqueued")
        .unwrap();
    assert_eq!(
        String::from(JSON::stringify(&enqueued).unwrap()),
        r#"{"at":1000,"type":"enqueued","msg":1,"queue":"q"}"#
    );
    let snap = read_data(&b.snapshot(None));
    assert_eq!(get(&snap, "nowMs"), NOW);
    let queue = Array::from(&get(&snap, "queues")).get(0);
    assert_eq!(get(&get(&queue, "counts"), "ready"), 1);
}

#[wasm_bindgen_test]
fn store_records_come_out_framed_and_recover_into_a_new_broker() {
    let mut b = WasmBroker::new(json(r#"{"durable": true}"#)).unwrap();
    let conn = open(&mut b);
    b.queue_declare(NOW, conn, 1, "dq", 2, JsValue::UNDEFINED)
        .unwrap();
    b.publish(
        NOW,
        conn,
        1,
        "",
        "dq",
        json(r#"{"deliveryMode": 2}"#),
        b"kept",
        false,
    )
    .unwrap();
    let log: Uint8Array = b.take_store_bytes().unwrap();
    assert_eq!(b.store_emitted(), 2.0);
    let mut bytes = WasmBroker::log_header().to_vec();
    bytes.extend_from_slice(&log.to_vec());
    let valid = bytes.len() as f64;
    bytes.extend_from_slice(&[0, 0, 0, 50, 1]); // a torn tail

    let mut again = WasmBroker::new(json(r#"{"durable": true}"#)).unwrap();
    let report = read_data(&again.recover(NOW, &bytes, None).unwrap());
    assert_eq!(get(&report, "validLength").as_f64(), Some(valid));
    assert_eq!(get(&report, "version").as_f64(), Some(3.0));
    let damage = get(&report, "damage");
    assert_eq!(get(&damage, "offset").as_f64(), Some(valid));
    assert_eq!(
        get(&damage, "kind").as_string().as_deref(),
        Some("truncated-frame-header")
    );

    // a log from a newer format is refused with a named error
    let mut newer = bytes.clone();
    newer[11] = 9;
    let mut third = WasmBroker::new(json(r#"{"durable": true}"#)).unwrap();
    let err: js_sys::Error = third
        .recover(NOW, &newer, None)
        .unwrap_err()
        .unchecked_into();
    assert_eq!(String::from(err.name()), "StoreLogError");
    let conn = open(&mut again);
    let counts = again
        .queue_declare(NOW, conn, 1, "dq", 1, JsValue::UNDEFINED)
        .unwrap();
    assert_eq!(counts.get(1), 1);
}

/// One batched command: `op, conn, channel`, then its fields (src/wasm/batch.rs).
fn command(buf: &mut Vec<u8>, op: u8, conn: u32, ch: u16, fields: &[u8]) {
    buf.push(op);
    buf.extend_from_slice(&conn.to_le_bytes());
    buf.extend_from_slice(&ch.to_le_bytes());
    buf.extend_from_slice(fields);
}

#[wasm_bindgen_test]
fn a_batch_runs_through_the_wire_rules_and_an_error_closes_its_channel_as_output() {
    let mut b = WasmBroker::new(json(
        r#"{"events": false, "limits": {"maxMessageSize": 8}}"#,
    ))
    .unwrap();
    let conn = open(&mut b);
    b.queue_declare(NOW, conn, 1, "q", 0, JsValue::UNDEFINED)
        .unwrap();
    b.consume(NOW, conn, 1, "q", "c1", 0, JsValue::UNDEFINED)
        .unwrap();
    while b.take_output() > 0 {}
    let publish = |body: &[u8]| {
        let mut f = vec![0, 0, 1, b'q'];
        f.extend_from_slice(&(body.len() as u32).to_le_bytes());
        f.extend_from_slice(body);
        f
    };
    let mut batch = Vec::new();
    command(&mut batch, 1, conn, 1, &publish(b"small"));
    command(&mut batch, 1, conn, 1, &publish(b"far too large"));
    // After the error: skipped, the channel is closed.
    command(&mut batch, 1, conn, 1, &publish(b"never"));
    b.run_commands(NOW, &batch).unwrap();
    b.take_output();
    let out = b.output().to_vec();
    let recs = records(&out);
    let kinds: Vec<u8> = recs.iter().map(|r| r.0).collect();
    // The close comes ahead of what the batch caused: a client drops deliveries to a closed channel.
    assert_eq!(kinds, [CLOSE_CHANNEL, DELIVER]);
    let close = recs[0].3;
    assert_eq!(u16::from_le_bytes([close[0], close[1]]), 406);
    let text = std::str::from_utf8(&close[3..3 + close[2] as usize]).unwrap();
    // The wire connection's text, from the one per-method layer.
    assert_eq!(
        text,
        "PRECONDITION_FAILED - message size 13 is larger than configured max size 8"
    );
    assert_eq!(&close[close.len() - 4..], &[60, 0, 40, 0]);
    let snap = read_data(&b.snapshot(Some(false)));
    let queues: Array = get(&snap, "queues").unchecked_into();
    let counts = get(&queues.get(0), "counts");
    // "small" went out and came back when the channel closed; "never" was skipped.
    assert_eq!(get(&counts, "ready"), 1);

    // A buffer cut short is a TypeError (mismatched builds), not a panic.
    let err = b.run_commands(NOW, &batch[..9]).unwrap_err();
    assert!(err.is_instance_of::<js_sys::TypeError>());
}

/// The `TypeError` a bad options object gives, as text.
fn options_error(options: &str) -> String {
    let err = WasmBroker::new(json(options)).err().unwrap();
    assert!(err.is_instance_of::<js_sys::TypeError>());
    err.unchecked_into::<js_sys::Error>().message().into()
}

#[wasm_bindgen_test]
fn options_are_read_field_by_field_and_a_bad_one_is_named() {
    let b = WasmBroker::new(json(
        r#"{"vhosts": ["/", "b"], "events": null, "limits": {"channelMax": 7},
            "users": {"zed": {"password": "z", "tags": ["monitoring"], "vhosts": ["b"]},
                      "amy": {"password": "a", "permissions": {"b": {"read": ".*"}, "/": {"write": "q"}}}}}"#,
    ))
    .unwrap();
    // Users and their permissions come out sorted by name, with the tags and
    // permission patterns given (missing patterns are empty).
    let users = JSON::stringify(&read_data(&b.users())).unwrap();
    let users: String = users.into();
    let amy = r#"{"vhost":"/","configure":"","write":"q","read":""},{"vhost":"b","configure":"","write":"","read":".*"}"#;
    assert!(
        users.starts_with(r#"[{"name":"amy","tags":["administrator"]"#),
        "{users}"
    );
    assert!(users.contains(amy), "{users}");
    assert!(
        users.contains(r#"{"name":"zed","tags":["monitoring"]"#),
        "{users}"
    );
    assert_eq!(
        b.authenticate("zed", "z", false),
        Some(vec!["monitoring".to_owned()])
    );
    assert_eq!(b.authenticate("zed", "a", false), None);

    assert_eq!(
        options_error(r#"{"limits": {"channelMax": 65536}}"#),
        "Broker options: limits.channelMax must be an integer from 0 to 65535"
    );
    assert_eq!(
        options_error(r#"{"limits": {"heartbeat": 1.5}}"#),
        "Broker options: limits.heartbeat must be an integer from 0 to 65535"
    );
    assert_eq!(
        options_error(r#"{"durable": "yes"}"#),
        "Broker options: durable must be a boolean"
    );
    assert_eq!(
        options_error(r#"{"vhosts": ["/", 2]}"#),
        "Broker options: vhosts must be an array of strings"
    );
    assert_eq!(
        options_error(r#"{"users": {"amy": {"permissions": {"/": {"read": 1}}}}}"#),
        "Broker options: users.amy.permissions./.read must be a string"
    );
    assert_eq!(
        options_error(r#"{"users": {"amy": 5}}"#),
        "Broker options: users.amy must be an object"
    );
    assert_eq!(
        options_error(r#"{"pageBudget": "lots"}"#),
        "Broker options: pageBudget must be a number"
    );
    assert_eq!(
        options_error("[]"),
        "Broker options: options must be an object"
    );
}

#[wasm_bindgen_test]
fn a_vhost_limit_that_is_not_an_integer_is_quoted_in_the_type_error() {
    let mut b = WasmBroker::new(JsValue::UNDEFINED).unwrap();
    let err = b
        .set_vhost_limit(NOW, "/", "max-queues", Some(2.5))
        .unwrap_err();
    let text: String = err.unchecked_into::<js_sys::Error>().message().into();
    assert_eq!(text, "max-queues: 2.5 is not an integer");
    let err = b
        .set_vhost_limit(NOW, "/", "max-queues", Some(1e20))
        .unwrap_err();
    let text: String = err.unchecked_into::<js_sys::Error>().message().into();
    assert_eq!(text, "max-queues: 100000000000000000000 is not an integer");
    b.set_vhost_limit(NOW, "/", "max-queues", Some(3.0))
        .unwrap();
}

#[wasm_bindgen_test]
fn runs_of_publishes_and_acks_cross_compactly_and_a_burst_of_deliveries_repeats_no_names() {
    let (mut b, conn) = consuming(0);
    while b.take_output() > 0 {}
    // PUBLISH "a", then PUBLISH_NEXT "b" and "c": the same channel and names.
    let mut batch = Vec::new();
    command(&mut batch, 1, conn, 1, &[0, 0, 1, b'q', 1, 0, 0, 0, b'a']);
    for body in [b'b', b'c'] {
        batch.extend_from_slice(&[5, 1, 0, 0, 0, body]);
    }
    b.run_commands(NOW, &batch).unwrap();
    b.take_output();
    let out = b.output().to_vec();
    // DELIVER (head, "c1", "", "q", tag 1, not redelivered, no header, "a"),
    // then two DELIVER_NEXT: kind and body alone.
    let mut full = vec![DELIVER];
    full.extend_from_slice(&conn.to_le_bytes());
    full.extend_from_slice(&[1, 0, 2, b'c', b'1', 0, 1, b'q']);
    full.extend_from_slice(&1f64.to_le_bytes());
    full.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0, 0, b'a']);
    full.extend_from_slice(&[15, 1, 0, 0, 0, b'b', 15, 1, 0, 0, 0, b'c']);
    assert_eq!(out, full);

    // ACK_RUN of tags 1 and 2 (each alone), then tag 3 is still unacked.
    let mut acks = Vec::new();
    let mut run = 1f64.to_le_bytes().to_vec();
    run.extend_from_slice(&2u32.to_le_bytes());
    command(&mut acks, 6, conn, 1, &run);
    b.run_commands(NOW, &acks).unwrap();
    assert_eq!(b.take_output(), 0);
    let snap = read_data(&b.snapshot(Some(false)));
    let queues: Array = get(&snap, "queues").unchecked_into();
    assert_eq!(get(&get(&queues.get(0), "counts"), "unacked"), 1);

    // A run over a tag the channel never had closes it as one ack of it would.
    let mut bad = Vec::new();
    let mut run = 3f64.to_le_bytes().to_vec();
    run.extend_from_slice(&2u32.to_le_bytes());
    command(&mut bad, 6, conn, 1, &run);
    b.run_commands(NOW, &bad).unwrap();
    b.take_output();
    let out = b.output().to_vec();
    let recs = records(&out);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].0, CLOSE_CHANNEL);
    let text = std::str::from_utf8(&recs[0].3[3..3 + recs[0].3[2] as usize]).unwrap();
    assert_eq!(text, "PRECONDITION_FAILED - unknown delivery tag 4");

    // PUBLISH_NEXT with no PUBLISH before it in the batch: mismatched builds.
    let err = b.run_commands(NOW, &[5, 1, 0, 0, 0, b'x']).unwrap_err();
    assert!(err.is_instance_of::<js_sys::TypeError>());
    // The command buffer JS writes into: a length past it is refused, not
    // read beyond it.
    assert_ne!(b.command_buffer(16), 0);
    b.run_command_buffer(NOW, 0).unwrap();
    let err = b.run_command_buffer(NOW, 17).unwrap_err();
    assert!(err.is_instance_of::<js_sys::RangeError>());
}
