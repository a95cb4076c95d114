//! Queue arguments (`x-...`), parsed and checked once at declare.

use super::command::QueueDeclare;
use super::dedup::DedupCache;
use super::error::AmqpError;
use super::value::{FieldTable, FieldValue, ShortStr};

/// What happens to a publish when a queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Drop (or dead-letter as `maxlen`) the oldest ready messages.
    #[default]
    DropHead,
    /// Refuse the publish: a confirm nack.
    RejectPublish,
    /// Refuse the publish and dead-letter the refused message.
    RejectPublishDlx,
}

/// RabbitMQ's rules for a new queue's `x-queue-type`, with its texts: a
/// string, classic or quorum, and a quorum queue durable, neither exclusive
/// nor auto-delete, without classic-only arguments. Warren's queues are of one
/// kind: a quorum queue is declared under these rules and shown as one.
/// Streams are refused: a classic queue would consume destructively what a
/// stream's readers expect to read again. Only new declarations are checked:
/// queues stored or imaged before these rules come back as they were.
pub fn check_queue_type(d: &QueueDeclare, what: &str) -> Result<(), AmqpError> {
    let invalid = |why: &str| {
        AmqpError::precondition(format_args!("invalid arg 'x-queue-type' for {what}: {why}"))
    };
    match d.arguments.get("x-queue-type").map(FieldValue::as_str) {
        None | Some(Some("classic")) => return Ok(()),
        Some(Some("quorum")) => {}
        Some(Some("stream")) => {
            return Err(invalid(
                "\"unsupported queue type 'stream'\" (Warren has no streams)",
            ))
        }
        Some(Some(other)) => return Err(invalid(&format!("\"unsupported queue type '{other}'\""))),
        Some(None) => return Err(invalid("must be a string")),
    }
    // RabbitMQ 3.10's order: a classic-only argument, then each property.
    if let Some(key) = CLASSIC_ONLY.iter().find(|k| d.arguments.get(k).is_some()) {
        return Err(AmqpError::precondition(format_args!(
            "invalid arg '{key}' for {what} of queue type rabbit_quorum_queue"
        )));
    }
    let refused = if d.auto_delete {
        "auto-delete"
    } else if d.exclusive {
        "exclusive-owner"
    } else if !d.durable {
        "non-durable"
    } else {
        return Ok(());
    };
    Err(AmqpError::precondition(format_args!(
        "invalid property '{refused}' for {what}"
    )))
}

/// Arguments RabbitMQ refuses on a quorum queue.
const CLASSIC_ONLY: &[&str] = &[
    "x-max-priority",
    "x-queue-mode",
    "x-queue-master-locator",
    "x-queue-version",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dedup {
    pub cache_size: usize,
    pub cache_ttl_ms: Option<u64>,
    pub header: Option<ShortStr>,
}

/// A requeued message waits `min(min_ms * delivery_count, max_ms)` before it is
/// ready again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DelayedRetry {
    pub min_ms: u64,
    pub max_ms: u64,
}

impl DelayedRetry {
    pub fn delay(&self, delivery_count: u32) -> u64 {
        self.min_ms
            .saturating_mul(delivery_count.max(1) as u64)
            .min(self.max_ms)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueArgs {
    pub message_ttl: Option<u64>,
    pub expires: Option<u64>,
    pub max_length: Option<u64>,
    pub max_length_bytes: Option<u64>,
    pub overflow: Overflow,
    pub dead_letter_exchange: Option<ShortStr>,
    pub dead_letter_routing_key: Option<ShortStr>,
    pub max_priority: Option<u8>,
    pub delivery_limit: Option<u64>,
    pub single_active_consumer: bool,
    pub consumer_timeout: Option<u64>,
    pub dedup: Option<Dedup>,
    pub delayed_retry: Option<DelayedRetry>,
}

/// The arguments compared when a queue is declared again (RabbitMQ answers a
/// difference in any of these with 406, naming the first in its order for
/// classic queues; Warren's own arguments come before the type).
pub const EQUIVALENCE_KEYS: &[&str] = &[
    "x-expires",
    "x-message-ttl",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-max-length",
    "x-max-length-bytes",
    "x-max-priority",
    "x-overflow",
    "x-single-active-consumer",
    "x-delivery-limit",
    "x-message-deduplication",
    "x-delayed-retry-min",
    "x-delayed-retry-max",
    "x-queue-type",
];

/// Checks one argument: RabbitMQ rejects a bad value with 406 naming the argument.
/// Reads the arguments; the first invalid one is kept and later reads give
/// none, so `parse` checks for an error once, at its end, rather than a `?`
/// carrying an `AmqpError` out of each read.
struct Checker<'a> {
    args: &'a FieldTable,
    what: &'a str,
    err: Option<AmqpError>,
}

impl Checker<'_> {
    #[inline(never)]
    fn invalid(&mut self, key: &str, why: &str) {
        if self.err.is_none() {
            self.err = Some(AmqpError::precondition(format_args!(
                "invalid arg '{key}' for {}: {why}",
                self.what
            )));
        }
    }

    #[inline(never)]
    fn uint(&mut self, key: &str, min: u64) -> Option<u64> {
        let n = self.args.get(key).map(FieldValue::as_i64)?;
        match n {
            Some(n) if n >= min as i64 => return Some(n as u64),
            Some(_) if min > 0 => self.invalid(key, &format!("must be at least {min}")),
            Some(_) => self.invalid(key, "must not be negative"),
            None => self.invalid(key, "must be an integer"),
        }
        None
    }

    #[inline(never)]
    fn string(&mut self, key: &str) -> Option<ShortStr> {
        let v = self.args.get(key)?;
        let s = v.as_str().and_then(|s| ShortStr::new(s).ok());
        if s.is_none() {
            self.invalid(key, "must be a string of at most 255 bytes");
        }
        s
    }

    #[inline(never)]
    fn boolean(&mut self, key: &str) -> bool {
        let v = self.args.get(key).map(FieldValue::as_bool);
        if v == Some(None) {
            self.invalid(key, "must be a boolean");
        }
        v.flatten().unwrap_or(false)
    }
}

impl QueueArgs {
    /// Parses `arguments`; `what` names the queue for error texts
    /// (`queue 'q' in vhost '/'`). Unknown arguments are kept but ignored, as
    /// RabbitMQ does.
    pub fn parse(arguments: &FieldTable, what: &str) -> Result<QueueArgs, AmqpError> {
        let c = &mut Checker {
            args: arguments,
            what,
            err: None,
        };
        let overflow = match c.string("x-overflow").as_deref() {
            None | Some("drop-head") => Overflow::DropHead,
            Some("reject-publish") => Overflow::RejectPublish,
            Some("reject-publish-dlx") => Overflow::RejectPublishDlx,
            Some(other) => {
                let why =
                    format!("'{other}' is not drop-head, reject-publish or reject-publish-dlx");
                c.invalid("x-overflow", &why);
                Overflow::DropHead
            }
        };
        let max_priority = match c.uint("x-max-priority", 0) {
            None => None,
            Some(p) if p <= 255 => Some(p as u8),
            Some(_) => {
                c.invalid("x-max-priority", "must be at most 255");
                None
            }
        };
        let dedup = if c.boolean("x-message-deduplication") {
            Some(Dedup {
                cache_size: c
                    .uint("x-cache-size", 1)
                    .unwrap_or(DedupCache::DEFAULT_SIZE as u64)
                    as usize,
                cache_ttl_ms: c.uint("x-cache-ttl", 0),
                header: c.string("x-deduplication-header"),
            })
        } else {
            None
        };
        let delayed_retry = match (
            c.uint("x-delayed-retry-min", 1),
            c.uint("x-delayed-retry-max", 1),
        ) {
            (None, None) => None,
            (Some(min), max) => {
                let max = max.unwrap_or(min);
                if max < min {
                    c.invalid(
                        "x-delayed-retry-max",
                        "must not be below x-delayed-retry-min",
                    );
                }
                Some(DelayedRetry {
                    min_ms: min,
                    max_ms: max,
                })
            }
            (None, Some(_)) => {
                c.invalid("x-delayed-retry-max", "needs x-delayed-retry-min");
                None
            }
        };
        let dead_letter_routing_key = c.string("x-dead-letter-routing-key");
        let dead_letter_exchange = c.string("x-dead-letter-exchange");
        if dead_letter_routing_key.is_some() && dead_letter_exchange.is_none() && c.err.is_none() {
            c.err = Some(AmqpError::precondition(format_args!(
                "invalid arg 'x-dead-letter-routing-key' for {what}: requires x-dead-letter-exchange"
            )));
        }
        let args = QueueArgs {
            message_ttl: c.uint("x-message-ttl", 0),
            expires: c.uint("x-expires", 1),
            max_length: c.uint("x-max-length", 0),
            max_length_bytes: c.uint("x-max-length-bytes", 0),
            overflow,
            dead_letter_exchange,
            dead_letter_routing_key,
            max_priority,
            delivery_limit: c.uint("x-delivery-limit", 0),
            single_active_consumer: c.boolean("x-single-active-consumer"),
            consumer_timeout: c.uint("x-consumer-timeout", 1),
            dedup,
            delayed_retry,
        };
        match c.err.take() {
            Some(e) => Err(e),
            None => Ok(args),
        }
    }
}

/// The first argument whose value differs between two declarations.
pub fn inequivalent_key<'a>(current: &FieldTable, received: &FieldTable) -> Option<&'a str> {
    EQUIVALENCE_KEYS
        .iter()
        .find(|k| match **k {
            // As RabbitMQ: no type is the classic type.
            "x-queue-type" => type_name(current) != type_name(received),
            _ => !same_value(current.get(k), received.get(k)),
        })
        .copied()
}

/// Was the queue declared as a quorum queue?
pub fn is_quorum(args: &FieldTable) -> bool {
    type_name(args) == Some("quorum")
}

/// The queue's type as declared (none given: `classic`); none for a value
/// that is not a string, which only a queue stored before type checks has.
pub fn type_name(args: &FieldTable) -> Option<&str> {
    args.get("x-queue-type")
        .map_or(Some("classic"), FieldValue::as_str)
}

/// Integers compare by value whatever their wire type: clients differ in the
/// type they pick for the same number.
fn same_value(a: Option<&FieldValue>, b: Option<&FieldValue>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => x == y,
        },
        (None, None) => true,
        _ => false,
    }
}

/// A consumer's `x-priority` and `x-consumer-timeout` arguments.
pub fn consumer_args(arguments: &FieldTable, what: &str) -> Result<(i32, Option<u64>), AmqpError> {
    let c = &mut Checker {
        args: arguments,
        what,
        err: None,
    };
    let priority = match arguments.get("x-priority") {
        None => 0,
        Some(v) => match v.as_i64() {
            Some(p) if i32::try_from(p).is_ok() => p as i32,
            _ => {
                c.invalid("x-priority", "must be a 32-bit integer");
                0
            }
        },
    };
    let timeout = c.uint("x-consumer-timeout", 1);
    match c.err.take() {
        Some(e) => Err(e),
        None => Ok((priority, timeout)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    fn what() -> &'static str {
        "queue 'q' in vhost '/'"
    }

    #[test]
    fn parses_known_arguments() {
        let t = FieldTable::new()
            .with("x-message-ttl", FieldValue::I32(1000))
            .with("x-max-length", FieldValue::I64(3))
            .with("x-overflow", FieldValue::str("reject-publish"))
            .with("x-dead-letter-exchange", FieldValue::str("dlx"))
            .with("x-delivery-limit", FieldValue::U8(2));
        let a = QueueArgs::parse(&t, what()).unwrap();
        assert_eq!(a.message_ttl, Some(1000));
        assert_eq!(a.max_length, Some(3));
        assert_eq!(a.overflow, Overflow::RejectPublish);
        assert_eq!(a.dead_letter_exchange.as_deref(), Some("dlx"));
        assert_eq!(a.delivery_limit, Some(2));
    }

    #[test]
    fn negative_ttl_is_precondition_failed() {
        let t = FieldTable::new().with("x-message-ttl", FieldValue::I32(-1));
        let e = QueueArgs::parse(&t, what()).unwrap_err();
        assert_eq!(e.code.code(), 406);
        assert!(e.text.contains("x-message-ttl"), "{}", e.text);
    }

    /// Arguments are read on past an invalid one: the error names the
    /// first, in the order RabbitMQ's checks run here.
    #[test]
    fn the_first_invalid_argument_is_named() {
        let t = FieldTable::new()
            .with("x-message-ttl", FieldValue::I32(-1))
            .with("x-dead-letter-routing-key", FieldValue::str("k"))
            .with("x-overflow", FieldValue::str("drop-tail"));
        let e = QueueArgs::parse(&t, what()).unwrap_err();
        assert!(e.text.contains("'x-overflow'"), "{}", e.text);
        let t = FieldTable::new()
            .with("x-message-ttl", FieldValue::I32(-1))
            .with("x-dead-letter-routing-key", FieldValue::str("k"));
        let e = QueueArgs::parse(&t, what()).unwrap_err();
        assert!(
            e.text.contains("requires x-dead-letter-exchange"),
            "{}",
            e.text
        );
        let t = FieldTable::new()
            .with("x-priority", FieldValue::str("high"))
            .with("x-consumer-timeout", FieldValue::I32(0));
        let e = consumer_args(&t, "consumer").unwrap_err();
        assert!(e.text.contains("'x-priority'"), "{}", e.text);
    }

    #[test]
    fn unknown_overflow_mode_is_refused() {
        let t = FieldTable::new().with("x-overflow", FieldValue::str("drop-tail"));
        assert_eq!(QueueArgs::parse(&t, what()).unwrap_err().code.code(), 406);
    }

    #[test]
    fn equivalence_ignores_integer_width() {
        let a = FieldTable::new().with("x-max-length", FieldValue::I32(5));
        let b = FieldTable::new().with("x-max-length", FieldValue::I64(5));
        assert_eq!(inequivalent_key(&a, &b), None);
        let c = FieldTable::new().with("x-max-length", FieldValue::I64(6));
        assert_eq!(inequivalent_key(&a, &c), Some("x-max-length"));
        assert_eq!(
            inequivalent_key(&a, &FieldTable::new()),
            Some("x-max-length")
        );
    }

    #[test]
    fn delayed_retry_grows_linearly_up_to_the_max() {
        let d = DelayedRetry {
            min_ms: 100,
            max_ms: 250,
        };
        assert_eq!(d.delay(1), 100);
        assert_eq!(d.delay(2), 200);
        assert_eq!(d.delay(3), 250);
    }
}
