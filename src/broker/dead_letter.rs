//! Dead-lettering: the message a queue republishes to its dead-letter exchange,
//! and the cycle check that keeps such messages from circulating forever.
//!
//! The new message follows RabbitMQ (3.10 and later, as documented on its
//! "Dead Letter Exchanges" page):
//!
//! - published to the DLX, with the queue's `x-dead-letter-routing-key` or
//!   else the original routing key;
//! - `x-death` is an array of tables, newest first, one per (queue, reason):
//!   a repeat death bumps `count` and moves the entry to the front, keeping
//!   its `time`, `exchange`, `routing-keys` and `original-expiration` from the
//!   first time (they describe "the first time ... for this reason");
//! - `routing-keys` are the routing key plus the `CC` header's keys, never BCC;
//! - the `expiration` property is removed (recorded as `original-expiration`),
//!   so the message cannot expire again wherever it lands;
//! - `x-first-death-{reason,queue,exchange}` are set once, and
//!   `x-last-death-{reason,queue,exchange}` on every death, as the page
//!   documents them now (RabbitMQ 3.10.8 sets only the first three);
//! - with a dead-letter routing key the `CC` header is dropped; `BCC` always is.
//!
//! An `x-death` header a client published (say, republishing a message it
//! got from a dead-letter queue) is treated as history and continued. That is
//! what RabbitMQ up to 3.12 and from 3.13.3 on the 3.13 line does, and what
//! LavinMQ does. RabbitMQ 4.x instead treats `x-` headers from clients as
//! opaque: its own history starts afresh (count 1) and overwrites the header.
//! Telling the two apart needs a mark on the message that is not a header;
//! `Message` has none, so the older, widely relied-on behaviour is kept.
//!
//! LavinMQ differs in details not followed here: it refreshes `time` and
//! `routing-keys` on a repeat death, writes `count` as a 32-bit integer, sets
//! no `x-last-death-*` headers and keeps `CC` under a dead-letter routing key.

use super::message::{Message, Properties, Props};
use super::value::{FieldTable, FieldValue, ShortStr};

/// Why a message was dead-lettered; the words are those of the `reason`
/// field in `x-death`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeadLetterReason {
    /// `basic.reject` or `basic.nack` with `requeue = false`.
    Rejected,
    /// Per-message or per-queue TTL ran out.
    Expired,
    /// Pushed out by `x-max-length`/`x-max-length-bytes` (`drop-head`).
    MaxLen,
    /// Returned more often than `x-delivery-limit` allows.
    DeliveryLimit,
}

impl DeadLetterReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::Rejected => "rejected",
            DeadLetterReason::Expired => "expired",
            DeadLetterReason::MaxLen => "maxlen",
            DeadLetterReason::DeliveryLimit => "delivery_limit",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "rejected" => DeadLetterReason::Rejected,
            "expired" => DeadLetterReason::Expired,
            "maxlen" => DeadLetterReason::MaxLen,
            "delivery_limit" => DeadLetterReason::DeliveryLimit,
            _ => return None,
        })
    }
}

impl std::fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Builds the message that `queue` publishes to its dead-letter exchange `dlx`
/// when `msg` dies there for `reason` at `now_ms`.
///
/// Route the result with its routing key plus its `CC` header keys (the CC
/// header survives only when no dead-letter routing key replaced the key),
/// then drop it from every target queue for which [`is_cycle`] holds.
pub fn dead_letter(
    msg: &Message,
    queue: &str,
    reason: DeadLetterReason,
    now_ms: u64,
    dlx: &str,
    dlx_routing_key: Option<&str>,
) -> Message {
    let mut props: Properties = (*msg.properties).clone();
    let mut headers = props.headers.take().unwrap_or_default();

    let original_expiration = props.expiration.take();

    let mut deaths = match headers.remove("x-death") {
        Some(FieldValue::Array(items)) => items,
        // A non-array `x-death` cannot be continued; the new history replaces it.
        _ => Vec::new(),
    };
    let existing = deaths.iter().position(|d| {
        d.as_table()
            .is_some_and(|t| is_entry_for(t, queue, reason.as_str()))
    });
    let entry = match existing {
        Some(at) => {
            let mut entry = match deaths.remove(at) {
                FieldValue::Table(t) => t,
                _ => FieldTable::new(),
            };
            let count = entry
                .get("count")
                .and_then(FieldValue::as_i64)
                .unwrap_or(0)
                .max(0)
                .saturating_add(1);
            set(&mut entry, "count", FieldValue::I64(count));
            entry
        }
        None => new_entry(msg, queue, reason, now_ms, original_expiration.as_deref()),
    };
    deaths.insert(0, FieldValue::Table(entry));
    set(&mut headers, "x-death", FieldValue::Array(deaths));

    let exchange = msg.exchange().as_bytes();
    for (name, value) in [
        ("x-first-death-reason", reason.as_str().as_bytes()),
        ("x-first-death-queue", queue.as_bytes()),
        ("x-first-death-exchange", exchange),
    ] {
        if !headers.contains_key(name) {
            set_str(&mut headers, name, value);
        }
    }
    set_str(
        &mut headers,
        "x-last-death-reason",
        reason.as_str().as_bytes(),
    );
    set_str(&mut headers, "x-last-death-queue", queue.as_bytes());
    set_str(&mut headers, "x-last-death-exchange", exchange);

    headers.remove("BCC");
    let routing_key = match dlx_routing_key {
        Some(rk) => {
            headers.remove("CC");
            ShortStr::truncated(rk)
        }
        None => ShortStr::truncated(msg.routing_key()),
    };
    props.headers = Some(headers);

    Message::from_parts(
        &ShortStr::truncated(dlx),
        &routing_key,
        Props::new(props),
        msg.body(),
    )
}

/// Whether delivering the dead-lettered `msg` (as returned by [`dead_letter`],
/// so its newest death is the one just recorded) to `target_queue` would close
/// a cycle that must be broken by dropping it there.
///
/// As RabbitMQ (`mc:is_death_cycle`, deaths v2): walking `x-death` newest
/// first up to and including the first death in `target_queue`, it is a cycle
/// when that death exists and no death on the way has reason `rejected`. A
/// client's explicit rejection anywhere in the loop means someone is
/// deciding, so the message keeps going round.
pub fn is_cycle(msg: &Message, target_queue: &str) -> bool {
    let Some(FieldValue::Array(deaths)) = msg.properties.header("x-death") else {
        return false;
    };
    for death in deaths.iter().filter_map(FieldValue::as_table) {
        if text_is(death.get("reason"), "rejected") {
            return false;
        }
        if text_is(death.get("queue"), target_queue) {
            return true;
        }
    }
    false
}

/// The queue names of a message's deaths, newest first (for the warning a
/// host may log when it drops a cycling message).
#[cfg(test)]
pub fn death_queues(msg: &Message) -> Vec<String> {
    let Some(FieldValue::Array(deaths)) = msg.properties.header("x-death") else {
        return Vec::new();
    };
    deaths
        .iter()
        .filter_map(FieldValue::as_table)
        .filter_map(|d| match d.get("queue") {
            Some(FieldValue::LongStr(q)) => Some(String::from_utf8_lossy(q).into_owned()),
            _ => None,
        })
        .collect()
}

fn new_entry(
    msg: &Message,
    queue: &str,
    reason: DeadLetterReason,
    now_ms: u64,
    original_expiration: Option<&str>,
) -> FieldTable {
    // Keys in RabbitMQ's order, so a delivered header reads the same.
    let mut entry = FieldTable::new();
    if let Some(exp) = original_expiration {
        set_str(&mut entry, "original-expiration", exp.as_bytes());
    }
    set(&mut entry, "count", FieldValue::I64(1));
    set_str(&mut entry, "reason", reason.as_str().as_bytes());
    set_str(&mut entry, "queue", queue.as_bytes());
    set(&mut entry, "time", FieldValue::Timestamp(now_ms / 1000));
    set_str(&mut entry, "exchange", msg.exchange().as_bytes());
    set(
        &mut entry,
        "routing-keys",
        FieldValue::Array(routing_keys(msg).collect()),
    );
    entry
}

/// The routing key and the `CC` header's keys (only long strings count, as in
/// RabbitMQ's `header_routes`).
fn routing_keys(msg: &Message) -> impl Iterator<Item = FieldValue> + '_ {
    let cc: &[FieldValue] = match msg.properties.header("CC") {
        Some(FieldValue::Array(items)) => items,
        _ => &[],
    };
    std::iter::once(FieldValue::LongStr(msg.routing_key().as_bytes().to_vec())).chain(
        cc.iter()
            .filter(|v| matches!(v, FieldValue::LongStr(_)))
            .cloned(),
    )
}

fn is_entry_for(entry: &FieldTable, queue: &str, reason: &str) -> bool {
    text_is(entry.get("queue"), queue) && text_is(entry.get("reason"), reason)
}

fn text_is(v: Option<&FieldValue>, want: &str) -> bool {
    matches!(v, Some(FieldValue::LongStr(b)) if b.as_slice() == want.as_bytes())
}

/// `table[name] = value`. Out of line, as is [`set_str`]: inlined, each of
/// the dozen header writes of a death carried its own copy of the allocation.
#[inline(never)]
fn set(table: &mut FieldTable, name: &'static str, value: FieldValue) {
    table.insert(ShortStr::truncated(name), value);
}

/// `table[name]` = the long string `value`.
#[inline(never)]
fn set_str(table: &mut FieldTable, name: &'static str, value: &[u8]) {
    set(table, name, FieldValue::LongStr(value.to_vec()));
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::unreachable
    )]
    use super::*;

    fn sstr(s: &str) -> ShortStr {
        ShortStr::new(s).unwrap()
    }

    fn published(exchange: &str, rk: &str, props: Properties) -> Message {
        Message::new(sstr(exchange), sstr(rk), props, &b"body"[..])
    }

    fn deaths(msg: &Message) -> Vec<FieldTable> {
        match msg.properties.header("x-death") {
            Some(FieldValue::Array(items)) => items
                .iter()
                .map(|v| v.as_table().cloned().unwrap())
                .collect(),
            other => panic!("x-death is {other:?}"),
        }
    }

    fn text(t: &FieldTable, k: &str) -> String {
        t.get(k).and_then(FieldValue::as_str).unwrap().to_owned()
    }

    fn header_text(m: &Message, k: &str) -> Option<String> {
        m.properties
            .header(k)
            .and_then(FieldValue::as_str)
            .map(str::to_owned)
    }

    #[test]
    fn first_death_records_a_full_entry_and_routes_to_the_dlx() {
        let msg = published("orders", "new", Properties::default());
        let dl = dead_letter(
            &msg,
            "work",
            DeadLetterReason::Rejected,
            1_700_000_123_456,
            "dlx",
            None,
        );
        assert_eq!(dl.exchange(), "dlx");
        assert_eq!(dl.routing_key(), "new");
        assert_eq!(dl.body(), b"body");
        let d = deaths(&dl);
        assert_eq!(d.len(), 1);
        let keys: Vec<&str> = d[0].iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "count",
                "reason",
                "queue",
                "time",
                "exchange",
                "routing-keys"
            ]
        );
        assert_eq!(d[0].get("count"), Some(&FieldValue::I64(1)));
        assert_eq!(text(&d[0], "reason"), "rejected");
        assert_eq!(text(&d[0], "queue"), "work");
        assert_eq!(
            d[0].get("time"),
            Some(&FieldValue::Timestamp(1_700_000_123))
        );
        assert_eq!(text(&d[0], "exchange"), "orders");
        assert_eq!(
            d[0].get("routing-keys"),
            Some(&FieldValue::Array(vec![FieldValue::str("new")]))
        );
        for (k, v) in [
            ("x-first-death-reason", "rejected"),
            ("x-first-death-queue", "work"),
            ("x-first-death-exchange", "orders"),
            ("x-last-death-reason", "rejected"),
            ("x-last-death-queue", "work"),
            ("x-last-death-exchange", "orders"),
        ] {
            assert_eq!(header_text(&dl, k).as_deref(), Some(v), "{k}");
        }
    }

    #[test]
    fn dead_letter_routing_key_replaces_the_key_and_drops_cc() {
        let props = Properties {
            headers: Some(FieldTable::new().with(
                "CC",
                FieldValue::Array(vec![FieldValue::str("audit"), FieldValue::I32(5)]),
            )),
            ..Default::default()
        };
        let msg = published("", "work", props);
        let dl = dead_letter(
            &msg,
            "work",
            DeadLetterReason::Expired,
            0,
            "dlx",
            Some("parking"),
        );
        assert_eq!(dl.routing_key(), "parking");
        assert!(dl.properties.header("CC").is_none());
        // The recorded routing keys are those it had before: key plus CC.
        assert_eq!(
            deaths(&dl)[0].get("routing-keys"),
            Some(&FieldValue::Array(vec![
                FieldValue::str("work"),
                FieldValue::str("audit")
            ]))
        );
    }

    #[test]
    fn cc_is_kept_without_a_dead_letter_routing_key_and_bcc_never() {
        let props = Properties {
            headers: Some(
                FieldTable::new()
                    .with("CC", FieldValue::Array(vec![FieldValue::str("audit")]))
                    .with("BCC", FieldValue::Array(vec![FieldValue::str("secret")])),
            ),
            ..Default::default()
        };
        let msg = published("amq.direct", "work", props);
        let dl = dead_letter(&msg, "work", DeadLetterReason::MaxLen, 0, "dlx", None);
        assert_eq!(dl.routing_key(), "work");
        assert!(dl.properties.header("CC").is_some());
        assert!(dl.properties.header("BCC").is_none());
        let rks = deaths(&dl)[0].get("routing-keys").cloned().unwrap();
        assert_eq!(
            rks,
            FieldValue::Array(vec![FieldValue::str("work"), FieldValue::str("audit")])
        );
    }

    #[test]
    fn expiration_moves_to_original_expiration() {
        let props = Properties {
            expiration: Some(sstr("5000")),
            delivery_mode: Some(2),
            ..Default::default()
        };
        let msg = published("", "q", props);
        let dl = dead_letter(&msg, "q", DeadLetterReason::Expired, 9_000, "dlx", None);
        assert_eq!(dl.properties.expiration, None);
        assert!(dl.persistent());
        let d = deaths(&dl);
        assert_eq!(
            d[0].iter().next().unwrap().0.as_str(),
            "original-expiration"
        );
        assert_eq!(text(&d[0], "original-expiration"), "5000");
        assert_eq!(text(&d[0], "reason"), "expired");
    }

    #[test]
    fn same_queue_and_reason_increments_count_and_moves_first() {
        let msg = published("ex", "k", Properties::default());
        let a = dead_letter(&msg, "q1", DeadLetterReason::Expired, 1_000, "dlx", None);
        let b = dead_letter(&a, "q2", DeadLetterReason::Expired, 2_000, "dlx", None);
        let c = dead_letter(&b, "q1", DeadLetterReason::Expired, 3_000, "dlx", None);
        let d = deaths(&c);
        assert_eq!(d.len(), 2);
        assert_eq!(text(&d[0], "queue"), "q1");
        assert_eq!(d[0].get("count"), Some(&FieldValue::I64(2)));
        // Still the first time and first exchange for this (queue, reason).
        assert_eq!(d[0].get("time"), Some(&FieldValue::Timestamp(1)));
        assert_eq!(text(&d[0], "exchange"), "ex");
        assert_eq!(text(&d[1], "queue"), "q2");
        assert_eq!(d[1].get("count"), Some(&FieldValue::I64(1)));
        assert_eq!(text(&d[1], "exchange"), "dlx");
    }

    #[test]
    fn new_queue_or_reason_adds_a_fresh_entry_in_front() {
        let msg = published("ex", "k", Properties::default());
        let a = dead_letter(&msg, "q1", DeadLetterReason::Rejected, 0, "dlx", None);
        let b = dead_letter(&a, "q1", DeadLetterReason::Expired, 0, "dlx", None);
        let d = deaths(&b);
        assert_eq!(d.len(), 2);
        assert_eq!(text(&d[0], "reason"), "expired");
        assert_eq!(text(&d[1], "reason"), "rejected");
        assert_eq!(d[0].get("count"), Some(&FieldValue::I64(1)));
        assert_eq!(d[1].get("count"), Some(&FieldValue::I64(1)));
    }

    #[test]
    fn first_death_headers_stay_and_last_death_headers_follow() {
        let msg = published("ex", "k", Properties::default());
        let a = dead_letter(&msg, "q1", DeadLetterReason::Rejected, 0, "dlx1", None);
        let b = dead_letter(&a, "q2", DeadLetterReason::MaxLen, 0, "dlx2", None);
        assert_eq!(
            header_text(&b, "x-first-death-reason").as_deref(),
            Some("rejected")
        );
        assert_eq!(
            header_text(&b, "x-first-death-queue").as_deref(),
            Some("q1")
        );
        assert_eq!(
            header_text(&b, "x-first-death-exchange").as_deref(),
            Some("ex")
        );
        assert_eq!(
            header_text(&b, "x-last-death-reason").as_deref(),
            Some("maxlen")
        );
        assert_eq!(header_text(&b, "x-last-death-queue").as_deref(), Some("q2"));
        assert_eq!(
            header_text(&b, "x-last-death-exchange").as_deref(),
            Some("dlx1")
        );
    }

    #[test]
    fn republished_x_death_from_a_client_is_continued() {
        // A consumer took a dead-lettered message and republished it with the
        // headers it received, to the default exchange.
        let first = dead_letter(
            &published("", "work", Properties::default()),
            "work",
            DeadLetterReason::Rejected,
            5_000,
            "dlx",
            None,
        );
        let props = Properties {
            headers: first.properties.headers.clone(),
            ..Default::default()
        };
        let republished = published("", "work", props);
        let again = dead_letter(
            &republished,
            "work",
            DeadLetterReason::Rejected,
            60_000,
            "dlx",
            None,
        );
        let d = deaths(&again);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].get("count"), Some(&FieldValue::I64(2)));
        assert_eq!(d[0].get("time"), Some(&FieldValue::Timestamp(5)));
        assert_eq!(
            header_text(&again, "x-first-death-queue").as_deref(),
            Some("work")
        );
    }

    #[test]
    fn client_count_of_another_integer_width_is_continued_as_long() {
        let entry = FieldTable::new()
            .with("count", FieldValue::I32(4))
            .with("reason", FieldValue::str("expired"))
            .with("queue", FieldValue::str("q"));
        let props = Properties {
            headers: Some(
                FieldTable::new()
                    .with("x-death", FieldValue::Array(vec![FieldValue::Table(entry)])),
            ),
            ..Default::default()
        };
        let dl = dead_letter(
            &published("", "q", props),
            "q",
            DeadLetterReason::Expired,
            0,
            "d",
            None,
        );
        assert_eq!(deaths(&dl)[0].get("count"), Some(&FieldValue::I64(5)));
    }

    #[test]
    fn malformed_x_death_is_replaced_or_skipped_without_panicking() {
        let props = Properties {
            headers: Some(FieldTable::new().with("x-death", FieldValue::str("garbage"))),
            ..Default::default()
        };
        let dl = dead_letter(
            &published("", "q", props),
            "q",
            DeadLetterReason::Expired,
            0,
            "d",
            None,
        );
        assert_eq!(deaths(&dl).len(), 1);

        let odd = FieldValue::Array(vec![
            FieldValue::I8(1),
            FieldValue::Table(
                FieldTable::new()
                    .with("queue", FieldValue::str("q"))
                    .with("reason", FieldValue::str("expired"))
                    .with("count", FieldValue::str("many")),
            ),
        ]);
        let props = Properties {
            headers: Some(FieldTable::new().with("x-death", odd)),
            ..Default::default()
        };
        let msg = published("", "q", props);
        let dl = dead_letter(&msg, "q", DeadLetterReason::Expired, 0, "d", None);
        let items = match dl.properties.header("x-death") {
            Some(FieldValue::Array(items)) => items.clone(),
            _ => unreachable!(),
        };
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].as_table().unwrap().get("count"),
            Some(&FieldValue::I64(1))
        );
        assert_eq!(items[1], FieldValue::I8(1));
        assert!(!is_cycle(&msg, "elsewhere"));
    }

    #[test]
    fn automatic_loop_back_to_a_queue_is_a_cycle() {
        // q1 expires into a DLX that routes back to q1.
        let msg = published("", "q1", Properties::default());
        let dl = dead_letter(&msg, "q1", DeadLetterReason::Expired, 0, "", None);
        assert!(is_cycle(&dl, "q1"));
        assert!(!is_cycle(&dl, "q2"));
        assert!(!is_cycle(&msg, "q1"));
        // q1 -> q2 -> q1, all automatic.
        let dl2 = dead_letter(&dl, "q2", DeadLetterReason::MaxLen, 0, "", None);
        assert!(is_cycle(&dl2, "q1"));
        assert!(is_cycle(&dl2, "q2"));
        assert_eq!(death_queues(&dl2), ["q2", "q1"]);
    }

    #[test]
    fn a_rejection_in_the_loop_is_not_a_cycle() {
        let msg = published("", "q1", Properties::default());
        let dl = dead_letter(&msg, "q1", DeadLetterReason::Rejected, 0, "", None);
        assert!(!is_cycle(&dl, "q1"));
        // Rejected in q1, then expired in q2: going back to q1 crosses the
        // rejection; going back to q2 does not.
        let dl2 = dead_letter(&dl, "q2", DeadLetterReason::Expired, 0, "", None);
        assert!(!is_cycle(&dl2, "q1"));
        assert!(is_cycle(&dl2, "q2"));
        // A rejection older than the target's death does not break it.
        let dl3 = dead_letter(&dl2, "q3", DeadLetterReason::Expired, 0, "", None);
        assert!(is_cycle(&dl3, "q2"));
        assert!(!is_cycle(&dl3, "q1"));
    }

    #[test]
    fn reasons_have_rabbitmq_names() {
        for r in [
            DeadLetterReason::Rejected,
            DeadLetterReason::Expired,
            DeadLetterReason::MaxLen,
            DeadLetterReason::DeliveryLimit,
        ] {
            assert_eq!(DeadLetterReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(DeadLetterReason::DeliveryLimit.as_str(), "delivery_limit");
        assert_eq!(DeadLetterReason::MaxLen.to_string(), "maxlen");
    }
}
