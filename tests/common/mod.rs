//! A deterministic harness for engine tests: one broker, a manual clock,
//! clients as (connection, channel) pairs, and the effects each one received.
#![allow(dead_code)]

use warren::broker::{
    AmqpError, Bind, Broker, BrokerConfig, ChannelRef, ConnectionInfo, Consume, Effect,
    ExchangeDeclare, FieldTable, FieldValue, Message, Properties, Qos, QueueDeclare, ShortStr,
};

pub fn s(x: &str) -> ShortStr {
    ShortStr::new(x).unwrap()
}

pub struct World {
    pub broker: Broker,
    pub now: u64,
    pub effects: Vec<Effect>,
}

/// What a client saw: deliveries in order, with the fields tests look at.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    pub tag: u64,
    pub body: String,
    pub redelivered: bool,
    pub message: Message,
}

impl Seen {
    pub fn header(&self, k: &str) -> Option<&FieldValue> {
        self.message.properties.header(k)
    }
}

impl World {
    pub fn new() -> World {
        World::with(BrokerConfig {
            events: true,
            ..Default::default()
        })
    }

    pub fn with(config: BrokerConfig) -> World {
        World {
            broker: Broker::new(config),
            now: 1_000,
            effects: Vec::new(),
        }
    }

    /// Opens a connection with one channel (number 1).
    pub fn client(&mut self) -> ChannelRef {
        self.client_with(ConnectionInfo::default())
    }

    pub fn client_with(&mut self, info: ConnectionInfo) -> ChannelRef {
        let c = self.broker.connection_open(self.now, info).unwrap();
        let ch = ChannelRef::new(c, 1);
        self.broker.channel_open(self.now, ch).unwrap();
        ch
    }

    pub fn channel(&mut self, of: ChannelRef, n: u16) -> ChannelRef {
        let ch = ChannelRef::new(of.conn, n);
        self.broker.channel_open(self.now, ch).unwrap();
        ch
    }

    /// Runs timers and deliveries, releases confirms, collects effects.
    pub fn settle(&mut self) {
        self.broker.flush(self.now);
        self.effects.extend(self.broker.take_effects());
    }

    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
        self.settle();
    }

    pub fn declare(&mut self, ch: ChannelRef, q: &str) -> String {
        self.declare_with(ch, q, FieldTable::new())
    }

    pub fn declare_with(&mut self, ch: ChannelRef, q: &str, args: FieldTable) -> String {
        let ok = self
            .broker
            .queue_declare(
                self.now,
                ch,
                QueueDeclare {
                    queue: s(q),
                    arguments: args,
                    ..Default::default()
                },
            )
            .unwrap();
        self.settle();
        ok.queue.to_string()
    }

    pub fn durable_queue(&mut self, ch: ChannelRef, q: &str) {
        self.broker
            .queue_declare(
                self.now,
                ch,
                QueueDeclare {
                    queue: s(q),
                    durable: true,
                    ..Default::default()
                },
            )
            .unwrap();
        self.settle();
    }

    pub fn exchange(&mut self, ch: ChannelRef, x: &str, kind: &str) {
        self.exchange_with(ch, x, kind, FieldTable::new())
    }

    pub fn exchange_with(&mut self, ch: ChannelRef, x: &str, kind: &str, args: FieldTable) {
        self.broker
            .exchange_declare(
                self.now,
                ch,
                ExchangeDeclare {
                    exchange: s(x),
                    kind: s(kind),
                    arguments: args,
                    ..Default::default()
                },
            )
            .unwrap();
    }

    pub fn bind(&mut self, ch: ChannelRef, q: &str, x: &str, key: &str) {
        self.broker
            .queue_bind(
                self.now,
                ch,
                Bind {
                    destination: s(q),
                    source: s(x),
                    routing_key: s(key),
                    arguments: FieldTable::new(),
                },
            )
            .unwrap();
    }

    pub fn publish(
        &mut self,
        ch: ChannelRef,
        x: &str,
        key: &str,
        body: &str,
    ) -> Result<(), AmqpError> {
        self.publish_props(ch, x, key, body, Properties::default())
    }

    pub fn publish_props(
        &mut self,
        ch: ChannelRef,
        x: &str,
        key: &str,
        body: &str,
        props: Properties,
    ) -> Result<(), AmqpError> {
        let m = Message::new(s(x), s(key), props, body.as_bytes());
        let r = self.broker.basic_publish(self.now, ch, m, false, false);
        self.settle();
        r
    }

    pub fn publish_mandatory(
        &mut self,
        ch: ChannelRef,
        x: &str,
        key: &str,
        body: &str,
    ) -> Result<(), AmqpError> {
        let m = Message::new(s(x), s(key), Properties::default(), body.as_bytes());
        let r = self.broker.basic_publish(self.now, ch, m, true, false);
        self.settle();
        r
    }

    /// Publishes `bodies` to queue `q` through the default exchange.
    pub fn fill(&mut self, ch: ChannelRef, q: &str, bodies: &[&str]) {
        for b in bodies {
            self.publish(ch, "", q, b).unwrap();
        }
    }

    pub fn consume(&mut self, ch: ChannelRef, q: &str, no_ack: bool) -> String {
        self.consume_with(ch, q, no_ack, FieldTable::new())
    }

    pub fn consume_with(
        &mut self,
        ch: ChannelRef,
        q: &str,
        no_ack: bool,
        args: FieldTable,
    ) -> String {
        let tag = self
            .broker
            .basic_consume(
                self.now,
                ch,
                Consume {
                    queue: s(q),
                    no_ack,
                    arguments: args,
                    ..Default::default()
                },
            )
            .unwrap();
        self.settle();
        tag.to_string()
    }

    pub fn prefetch(&mut self, ch: ChannelRef, n: u16) {
        self.broker
            .basic_qos(
                self.now,
                ch,
                Qos {
                    prefetch_count: n,
                    ..Default::default()
                },
            )
            .unwrap();
        self.settle();
    }

    pub fn ack(&mut self, ch: ChannelRef, tag: u64, multiple: bool) -> Result<(), AmqpError> {
        let r = self.broker.basic_ack(self.now, ch, tag, multiple);
        self.settle();
        r
    }

    pub fn nack(
        &mut self,
        ch: ChannelRef,
        tag: u64,
        multiple: bool,
        requeue: bool,
    ) -> Result<(), AmqpError> {
        let r = self.broker.basic_nack(self.now, ch, tag, multiple, requeue);
        self.settle();
        r
    }

    pub fn reject(&mut self, ch: ChannelRef, tag: u64, requeue: bool) -> Result<(), AmqpError> {
        let r = self.broker.basic_reject(self.now, ch, tag, requeue);
        self.settle();
        r
    }

    pub fn close_channel(&mut self, ch: ChannelRef) {
        self.broker.channel_close(self.now, ch);
        self.settle();
    }

    pub fn close_connection(&mut self, ch: ChannelRef) {
        self.broker.connection_close(self.now, ch.conn);
        self.settle();
    }

    /// Takes the deliveries (basic.deliver and get-ok) received on `ch`.
    pub fn deliveries(&mut self, ch: ChannelRef) -> Vec<Seen> {
        let mut out = Vec::new();
        self.effects.retain(|e| match e {
            Effect::Deliver {
                to,
                delivery_tag,
                redelivered,
                message,
                ..
            }
            | Effect::GetOk {
                to,
                delivery_tag,
                redelivered,
                message,
                ..
            } if *to == ch => {
                out.push(Seen {
                    tag: *delivery_tag,
                    body: String::from_utf8_lossy(message.body()).into_owned(),
                    redelivered: *redelivered,
                    message: message.clone(),
                });
                false
            }
            _ => true,
        });
        out
    }

    pub fn bodies(&mut self, ch: ChannelRef) -> Vec<String> {
        self.deliveries(ch).into_iter().map(|d| d.body).collect()
    }

    /// Takes the confirms received on `ch` as (tag, multiple, ack).
    pub fn confirms(&mut self, ch: ChannelRef) -> Vec<(u64, bool, bool)> {
        let mut out = Vec::new();
        self.effects.retain(|e| match e {
            Effect::Confirm {
                to,
                delivery_tag,
                multiple,
                ack,
            } if *to == ch => {
                out.push((*delivery_tag, *multiple, *ack));
                false
            }
            _ => true,
        });
        out
    }

    /// Takes every other effect addressed to `ch`'s connection.
    pub fn take_for(&mut self, ch: ChannelRef) -> Vec<Effect> {
        let mut out = Vec::new();
        self.effects.retain(|e| {
            if e.conn() == ch.conn {
                out.push(e.clone());
                false
            } else {
                true
            }
        });
        out
    }

    pub fn ready(&self, vhost: &str, q: &str) -> usize {
        self.broker.queue_counts(vhost, q).map_or(0, |c| c.ready)
    }

    pub fn unacked(&self, vhost: &str, q: &str) -> usize {
        self.broker.queue_counts(vhost, q).map_or(0, |c| c.unacked)
    }
}

pub fn table(pairs: &[(&str, FieldValue)]) -> FieldTable {
    pairs
        .iter()
        .fold(FieldTable::new(), |t, (k, v)| t.with(k, v.clone()))
}

// ---- publishing in bursts, confirms, dead-letter headers -------------------

impl World {
    /// Publishes without running timers or releasing confirms, so that
    /// several publishes can be flushed together as one burst.
    pub fn send(
        &mut self,
        ch: ChannelRef,
        x: &str,
        key: &str,
        body: &str,
        props: Properties,
        mandatory: bool,
    ) -> Result<(), AmqpError> {
        let m = Message::new(s(x), s(key), props, body.as_bytes());
        self.broker.basic_publish(self.now, ch, m, mandatory, false)
    }

    pub fn confirm_select(&mut self, ch: ChannelRef) {
        self.broker.confirm_select(self.now, ch).unwrap();
        self.settle();
    }

    pub fn durable_queue_with(&mut self, ch: ChannelRef, q: &str, args: FieldTable) {
        self.broker
            .queue_declare(
                self.now,
                ch,
                QueueDeclare {
                    queue: s(q),
                    durable: true,
                    arguments: args,
                    ..Default::default()
                },
            )
            .unwrap();
        self.settle();
    }

    /// `basic.get`: the message, if the queue had one ready.
    pub fn get(&mut self, ch: ChannelRef, q: &str, no_ack: bool) -> Option<Seen> {
        self.broker.basic_get(self.now, ch, q, no_ack).unwrap();
        self.settle();
        let mut got = self.deliveries(ch);
        let empty = self
            .effects
            .iter()
            .position(|e| matches!(e, Effect::GetEmpty { to } if *to == ch));
        if let Some(at) = empty {
            self.effects.remove(at);
        }
        got.pop()
    }

    /// Does the queue exist?
    pub fn exists(&self, q: &str) -> bool {
        self.broker.queue_counts("/", q).is_some()
    }

    /// The lifecycle events recorded since the last call.
    pub fn events(&mut self) -> Vec<warren::broker::EventKind> {
        self.broker
            .take_events()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }
}

/// Properties of a persistent message (`delivery-mode = 2`).
pub fn persistent() -> Properties {
    Properties {
        delivery_mode: Some(2),
        ..Default::default()
    }
}

/// Properties with a per-message TTL (`expiration`).
pub fn expiring(ms: &str) -> Properties {
    Properties {
        expiration: Some(s(ms)),
        ..Default::default()
    }
}

/// Properties carrying the given headers.
pub fn with_headers(pairs: &[(&str, FieldValue)]) -> Properties {
    Properties {
        headers: Some(table(pairs)),
        ..Default::default()
    }
}

/// The entries of a message's `x-death` header, newest first.
pub fn deaths(m: &Message) -> Vec<FieldTable> {
    match m.properties.header("x-death") {
        Some(FieldValue::Array(items)) => items
            .iter()
            .map(|v| v.as_table().cloned().expect("x-death entry is a table"))
            .collect(),
        None => Vec::new(),
        Some(other) => panic!("x-death is {other:?}"),
    }
}

/// A string field of a table.
pub fn text(t: &FieldTable, k: &str) -> Option<String> {
    t.get(k).and_then(FieldValue::as_str).map(str::to_owned)
}

/// A string header of a message.
pub fn header_text(m: &Message, k: &str) -> Option<String> {
    m.properties
        .header(k)
        .and_then(FieldValue::as_str)
        .map(str::to_owned)
}

/// Confirms as (tag, multiple, ack) turned into one (sequence number, ack)
/// per publish, in the order they were confirmed.
pub fn per_publish(confirms: &[(u64, bool, bool)]) -> Vec<(u64, bool)> {
    let mut out = Vec::new();
    let mut last = 0;
    for &(tag, multiple, ack) in confirms {
        if multiple {
            out.extend((last + 1..=tag).map(|seq| (seq, ack)));
        } else {
            out.push((tag, ack));
        }
        last = last.max(tag);
    }
    out
}

/// A world with queue `q` declared with `args`, dead-lettering through the
/// default exchange into queue `dead`.
pub fn dead_lettering_queue(args: &[(&str, FieldValue)]) -> (World, ChannelRef) {
    let mut w = World::new();
    let ch = w.client();
    w.declare(ch, "dead");
    let mut all = vec![
        ("x-dead-letter-exchange", FieldValue::str("")),
        ("x-dead-letter-routing-key", FieldValue::str("dead")),
    ];
    all.extend(args.iter().cloned());
    w.declare_with(ch, "q", table(&all));
    (w, ch)
}

impl World {
    /// Declares queue `bad` with `args` on `ch`, expecting the engine to
    /// refuse it; returns the error.
    pub fn declare_error(&mut self, ch: ChannelRef, args: &[(&str, FieldValue)]) -> AmqpError {
        self.broker
            .queue_declare(
                self.now,
                ch,
                QueueDeclare {
                    queue: s("bad"),
                    arguments: table(args),
                    ..Default::default()
                },
            )
            .unwrap_err()
    }
}
