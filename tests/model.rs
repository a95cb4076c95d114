//! The engine as a whole under random command sequences: a few queues with
//! random arguments (TTL, length limits with each overflow mode, dead-lettering
//! to another queue, delivery limits), publishes with random properties on
//! confirm and plain channels, consumers, gets, settlements with valid and
//! invalid tags, recover, channel and connection closes, reopening, and time.
//!
//! After every step the engine is checked against a model built from its own
//! events and effects:
//! 1. every copy of an accepted message is in exactly one place: ready,
//!    unacked or delayed in its queue, or ended by an event saying why;
//! 2. every publish on a confirm channel gets exactly one confirm (counting
//!    `multiple` ranges) unless its channel closed first;
//! 3. within a queue, first deliveries come in the order messages entered it
//!    (requeued messages go back to their place, so they never overtake);
//! 4. nothing panics, and a command fails only with the AMQP error the model
//!    expects (and then closes exactly what that error closes).
//!
//! Half the sessions run with a memory budget of a few messages, so queues
//! page runs of one message to the store on almost every step; the test's
//! host keeps the pages and answers reads only at a `Pages` step, in order
//! or in reverse, so consumers wait on pages in flight.

use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use warren::broker::DropReason;
use warren::broker::{
    AmqpError, Bind, Broker, BrokerConfig, ChannelRef, ConnId, ConnectionInfo, Consume, Effect,
    EventKind, FieldTable, FieldValue, Message, MsgId, PageOp, Properties, Qos, QueueDeclare,
    ShortStr,
};

const QUEUES: usize = 3;
/// Two connections with two channels each.
const SLOTS: usize = 4;

fn qname(i: usize) -> String {
    format!("q{i}")
}

fn s(x: &str) -> ShortStr {
    ShortStr::new(x).unwrap()
}

#[derive(Clone, Copy, Debug)]
enum Overflow {
    DropHead,
    RejectPublish,
    RejectPublishDlx,
}

#[derive(Clone, Debug)]
struct QueueSpec {
    ttl: Option<u8>,
    max_len: Option<(u8, Overflow)>,
    dlx_to: Option<usize>,
    delivery_limit: Option<u8>,
    auto_delete: bool,
    durable: bool,
    fanout: bool,
}

impl QueueSpec {
    fn arguments(&self, me: usize) -> FieldTable {
        let mut t = FieldTable::new();
        if let Some(ms) = self.ttl {
            t = t.with("x-message-ttl", FieldValue::I32(ms.into()));
        }
        if let Some((n, overflow)) = self.max_len {
            let mode = match overflow {
                Overflow::DropHead => "drop-head",
                Overflow::RejectPublish => "reject-publish",
                Overflow::RejectPublishDlx => "reject-publish-dlx",
            };
            t = t
                .with("x-max-length", FieldValue::U8(n))
                .with("x-overflow", FieldValue::str(mode));
        }
        if let Some(j) = self.dlx_to {
            let j = if j == me { (j + 1) % QUEUES } else { j };
            t = t
                .with("x-dead-letter-exchange", FieldValue::str(""))
                .with("x-dead-letter-routing-key", FieldValue::str(&qname(j)));
        }
        if let Some(n) = self.delivery_limit {
            t = t.with("x-delivery-limit", FieldValue::I64(n.into()));
        }
        t
    }
}

#[derive(Clone, Copy, Debug)]
enum Target {
    /// Through the default exchange; `QUEUES` names a queue never declared.
    Queue(usize),
    /// Through `amq.fanout`, to the queues bound there.
    Fanout,
}

/// How a settlement picks its delivery tag.
#[derive(Clone, Copy, Debug)]
enum Tag {
    /// One of the outstanding tags (or past the last one when there is none).
    Outstanding(usize),
    /// Tag 0: with `multiple`, everything outstanding.
    Zero,
    /// A tag settled before.
    Settled(usize),
    /// A tag never handed out.
    Unused(u8),
}

#[derive(Clone, Debug)]
enum Op {
    Declare {
        slot: usize,
        q: usize,
    },
    Delete {
        slot: usize,
        q: usize,
    },
    Purge {
        slot: usize,
        q: usize,
    },
    Publish {
        slot: usize,
        target: Target,
        persistent: bool,
        expiration: Option<u8>,
        priority: Option<u8>,
        cc: Option<usize>,
        mandatory: bool,
    },
    Consume {
        slot: usize,
        q: usize,
        prefetch: u8,
        global: bool,
        no_ack: bool,
    },
    Cancel {
        slot: usize,
        which: usize,
    },
    Get {
        slot: usize,
        q: usize,
        no_ack: bool,
    },
    Ack {
        slot: usize,
        tag: Tag,
        multiple: bool,
    },
    Nack {
        slot: usize,
        tag: Tag,
        multiple: bool,
        requeue: bool,
    },
    Reject {
        slot: usize,
        tag: Tag,
        requeue: bool,
    },
    Recover {
        slot: usize,
    },
    Confirm {
        slot: usize,
    },
    CloseChannel {
        slot: usize,
    },
    CloseConnection {
        conn: usize,
    },
    Reopen {
        slot: usize,
    },
    Tick {
        ms: u8,
    },
    StoreDurable,
    /// The host hands back the pages asked for (in reverse: last asked first).
    Pages {
        reverse: bool,
    },
}

/// What the model expects a command to return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Ok,
    Err(u16),
}

/// The model's view of one channel.
#[derive(Default)]
struct Slot {
    open: bool,
    /// The confirm sequence number of the next publish, in confirm mode.
    confirm_next: Option<u64>,
    unconfirmed: BTreeSet<u64>,
    outstanding: BTreeSet<u64>,
    settled: Vec<u64>,
    max_tag: u64,
    /// Consumer tag and whether it acknowledges automatically.
    consumers: Vec<(String, bool)>,
}

type CopyKey = (MsgId, String);

struct Run {
    b: Broker,
    now: u64,
    durable: bool,
    specs: Vec<QueueSpec>,
    conns: [Option<ConnId>; 2],
    slots: Vec<Slot>,
    /// Live copies per (message, queue); queue "" holds the unacked copies of
    /// deleted queues.
    copies: HashMap<CopyKey, i64>,
    /// Per queue: the next enqueue position and the position of the latest
    /// first delivery.
    order: HashMap<String, (u64, Option<u64>)>,
    /// Enqueue positions of copies not yet delivered.
    undelivered: HashMap<CopyKey, VecDeque<u64>>,
    /// The enqueue position of each live copy.
    positions: HashMap<CopyKey, u64>,
    /// (message, queue) pairs that had two live copies at once: their
    /// deliveries cannot be told apart, so their order is not checked.
    ambiguous: HashSet<CopyKey>,
    /// The confirm sequence number the next `Published` event must carry.
    publishing: Option<Option<u64>>,
    last_record: u64,
    step: usize,
    log: Vec<String>,
    /// The host's pages, and those asked for and not yet handed back.
    pages: HashMap<u64, Vec<u8>>,
    asked: Vec<u64>,
    /// `PagedDropped` events of the step: (queue, count).
    paged_drops: Vec<(String, u64)>,
}

impl Run {
    fn new(specs: Vec<QueueSpec>, durable: bool, paging: bool) -> Result<Run, String> {
        let b = Broker::new(BrokerConfig {
            durable_store: durable,
            events: true,
            // About three messages in memory per queue, pages of one.
            page_budget_bytes: paging.then_some(300),
            ..Default::default()
        });
        let mut r = Run {
            b,
            now: 1_000,
            durable,
            specs,
            conns: [None, None],
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
            copies: HashMap::new(),
            order: HashMap::new(),
            undelivered: HashMap::new(),
            positions: HashMap::new(),
            ambiguous: HashSet::new(),
            publishing: None,
            last_record: 0,
            step: 0,
            log: Vec::new(),
            pages: HashMap::new(),
            asked: Vec::new(),
            paged_drops: Vec::new(),
        };
        for slot in 0..SLOTS {
            r.apply(&Op::Reopen { slot })?;
        }
        for q in 0..QUEUES {
            r.apply(&Op::Declare { slot: 0, q })?;
        }
        Ok(r)
    }

    fn ch(&self, slot: usize) -> Option<ChannelRef> {
        let conn = self.conns[slot / 2]?;
        Some(ChannelRef::new(conn, (slot % 2 + 1) as u16))
    }

    fn slot_of(&self, ch: ChannelRef) -> Option<usize> {
        (0..SLOTS).find(|&i| self.ch(i) == Some(ch))
    }

    fn exists(&self, q: usize) -> bool {
        self.b.queue_counts("/", &qname(q)).is_some()
    }

    fn fail(&self, what: impl std::fmt::Display) -> String {
        let tail: Vec<&String> = self.log.iter().rev().take(40).rev().collect();
        format!("step {}: {what}\nrecent history:\n{tail:#?}", self.step)
    }

    fn close_slot(&mut self, slot: usize) {
        self.slots[slot] = Slot::default();
    }

    fn close_conn(&mut self, conn: usize) {
        self.close_slot(conn * 2);
        self.close_slot(conn * 2 + 1);
        self.conns[conn] = None;
    }

    /// For a settlement asking for an outstanding tag: the slot itself if it
    /// has deliveries out, else the first open slot that has; None if none.
    fn settling_slot(&self, slot: usize, t: Tag) -> Option<usize> {
        if !matches!(t, Tag::Outstanding(_)) {
            return self.slots[slot].open.then_some(slot);
        }
        (0..SLOTS)
            .map(|i| (slot + i) % SLOTS)
            .find(|&i| self.slots[i].open && !self.slots[i].outstanding.is_empty())
    }

    /// The tag a settlement uses and whether it names outstanding deliveries.
    fn pick(&self, slot: usize, t: Tag, multiple: bool) -> (u64, bool) {
        let sl = &self.slots[slot];
        match t {
            Tag::Outstanding(i) if !sl.outstanding.is_empty() => {
                let tag = *sl.outstanding.iter().nth(i % sl.outstanding.len()).unwrap();
                (tag, true)
            }
            Tag::Zero => (0, multiple),
            Tag::Settled(i) if !sl.settled.is_empty() => (sl.settled[i % sl.settled.len()], false),
            Tag::Unused(k) => (sl.max_tag + 1 + u64::from(k), false),
            _ => (sl.max_tag + 1, false),
        }
    }

    fn settle_model(&mut self, slot: usize, tag: u64, multiple: bool) {
        let sl = &mut self.slots[slot];
        let gone: Vec<u64> = if multiple {
            sl.outstanding
                .iter()
                .copied()
                .filter(|t| tag == 0 || *t <= tag)
                .collect()
        } else {
            vec![tag]
        };
        for t in gone {
            sl.outstanding.remove(&t);
            sl.settled.push(t);
        }
    }

    fn apply(&mut self, op: &Op) -> Result<(), String> {
        self.step += 1;
        self.log.push(format!("{op:?}"));
        let open = |r: &Run, slot: usize| r.slots[slot].open.then(|| r.ch(slot)).flatten();
        let now = self.now;
        let mut flushed = false;
        let (slot, expect, result): (Option<usize>, Expect, Result<(), AmqpError>) = match *op {
            Op::Declare { slot, q } => {
                let Some(ch) = open(self, slot) else {
                    return Ok(());
                };
                let spec = self.specs[q].clone();
                let d = QueueDeclare {
                    queue: s(&qname(q)),
                    durable: spec.durable,
                    auto_delete: spec.auto_delete,
                    arguments: spec.arguments(q),
                    ..Default::default()
                };
                let mut r = self.b.queue_declare(now, ch, d).map(|_| ());
                if r.is_ok() && spec.fanout {
                    let bind = Bind {
                        destination: s(&qname(q)),
                        source: s("amq.fanout"),
                        routing_key: s(""),
                        arguments: FieldTable::new(),
                    };
                    r = self.b.queue_bind(now, ch, bind);
                }
                (Some(slot), Expect::Ok, r)
            }
            Op::Delete { slot, q } => {
                let Some(ch) = open(self, slot) else {
                    return Ok(());
                };
                let r = self.b.queue_delete(now, ch, &qname(q), false, false);
                (Some(slot), Expect::Ok, r.map(|_| ()))
            }
            Op::Purge { slot, q } => {
                let Some(ch) = open(self, slot) else {
                    return Ok(());
                };
                let expect = if self.exists(q) {
                    Expect::Ok
                } else {
                    Expect::Err(404)
                };
                let r = self.b.queue_purge(now, ch, &qname(q));
                (Some(slot), expect, r.map(|_| ()))
            }
            Op::Publish {
                slot,
                target,
                persistent,
                expiration,
                priority,
                cc,
                mandatory,
            } => {
                let Some(ch) = open(self, slot) else {
                    return Ok(());
                };
                let (exchange, key) = match target {
                    Target::Queue(q) => ("", qname(q)),
                    Target::Fanout => ("amq.fanout", String::new()),
                };
                let props = Properties {
                    delivery_mode: persistent.then_some(2),
                    expiration: expiration.map(|e| s(&e.to_string())),
                    priority,
                    headers: cc.map(|k| {
                        FieldTable::new()
                            .with("CC", FieldValue::Array(vec![FieldValue::str(&qname(k))]))
                    }),
                    ..Default::default()
                };
                let seq = self.slots[slot].confirm_next;
                if let Some(n) = seq {
                    self.slots[slot].confirm_next = Some(n + 1);
                    self.slots[slot].unconfirmed.insert(n);
                }
                self.publishing = Some(seq);
                let m = Message::new(s(exchange), s(&key), props, b"body");
                let r = self.b.basic_publish(now, ch, m, mandatory, false);
                (Some(slot), Expect::Ok, r)
            }
            Op::Consume {
                slot,
                q,
                prefetch,
                global,
                no_ack,
            } => {
                let Some(ch) = open(self, slot) else {
                    return Ok(());
                };
                let qos = Qos {
                    prefetch_size: 0,
                    prefetch_count: prefetch.into(),
                    global,
                };
                let mut r = self.b.basic_qos(now, ch, qos);
                let expect = if self.exists(q) {
                    Expect::Ok
                } else {
                    Expect::Err(404)
                };
                if r.is_ok() {
                    let c = Consume {
                        queue: s(&qname(q)),
                        no_ack,
                        ..Default::default()
                    };
                    r = self.b.basic_consume(now, ch, c).map(|tag| {
                        self.slots[slot].consumers.push((tag.to_string(), no_ack));
                    });
                }
                (Some(slot), expect, r)
            }
            Op::Cancel { slot, which } => {
                let Some(ch) = open(self, slot) else {
                    return Ok(());
                };
                let consumers = &mut self.slots[slot].consumers;
                let tag = if consumers.is_empty() {
                    "not-a-consumer".to_owned()
                } else {
                    consumers.remove(which % consumers.len()).0
                };
                let r = self.b.basic_cancel(now, ch, &tag);
                (Some(slot), Expect::Ok, r)
            }
            Op::Get { slot, q, no_ack } => {
                let Some(ch) = open(self, slot) else {
                    return Ok(());
                };
                let expect = if self.exists(q) {
                    Expect::Ok
                } else {
                    Expect::Err(404)
                };
                let r = self.b.basic_get(now, ch, &qname(q), no_ack);
                (Some(slot), expect, r)
            }
            Op::Ack {
                slot,
                tag,
                multiple,
            } => {
                let Some(slot) = self.settling_slot(slot, tag) else {
                    return Ok(());
                };
                let ch = self.ch(slot).ok_or_else(|| self.fail("no connection"))?;
                let (tag, valid) = self.pick(slot, tag, multiple);
                let r = self.b.basic_ack(now, ch, tag, multiple);
                if valid {
                    self.settle_model(slot, tag, multiple);
                }
                let expect = if valid { Expect::Ok } else { Expect::Err(406) };
                (Some(slot), expect, r)
            }
            Op::Nack {
                slot,
                tag,
                multiple,
                requeue,
            } => {
                let Some(slot) = self.settling_slot(slot, tag) else {
                    return Ok(());
                };
                let ch = self.ch(slot).ok_or_else(|| self.fail("no connection"))?;
                let (tag, valid) = self.pick(slot, tag, multiple);
                let r = self.b.basic_nack(now, ch, tag, multiple, requeue);
                if valid {
                    self.settle_model(slot, tag, multiple);
                }
                let expect = if valid { Expect::Ok } else { Expect::Err(406) };
                (Some(slot), expect, r)
            }
            Op::Reject { slot, tag, requeue } => {
                let Some(slot) = self.settling_slot(slot, tag) else {
                    return Ok(());
                };
                let ch = self.ch(slot).ok_or_else(|| self.fail("no connection"))?;
                let (tag, valid) = self.pick(slot, tag, false);
                let r = self.b.basic_reject(now, ch, tag, requeue);
                if valid {
                    self.settle_model(slot, tag, false);
                }
                let expect = if valid { Expect::Ok } else { Expect::Err(406) };
                (Some(slot), expect, r)
            }
            Op::Recover { slot } => {
                let Some(ch) = open(self, slot) else {
                    return Ok(());
                };
                let r = self.b.basic_recover(now, ch, true);
                self.settle_model(slot, 0, true);
                (Some(slot), Expect::Ok, r)
            }
            Op::Confirm { slot } => {
                let Some(ch) = open(self, slot) else {
                    return Ok(());
                };
                let r = self.b.confirm_select(now, ch);
                let sl = &mut self.slots[slot];
                sl.confirm_next = sl.confirm_next.or(Some(1));
                (Some(slot), Expect::Ok, r)
            }
            Op::CloseChannel { slot } => {
                let Some(ch) = open(self, slot) else {
                    return Ok(());
                };
                self.b.channel_close(now, ch);
                self.close_slot(slot);
                (None, Expect::Ok, Ok(()))
            }
            Op::CloseConnection { conn } => {
                let Some(id) = self.conns[conn] else {
                    return Ok(());
                };
                self.b.connection_close(now, id);
                self.close_conn(conn);
                (None, Expect::Ok, Ok(()))
            }
            Op::Reopen { slot } => {
                let c = slot / 2;
                let mut r = Ok(());
                if self.conns[c].is_none() {
                    match self.b.connection_open(now, ConnectionInfo::default()) {
                        Ok(id) => self.conns[c] = Some(id),
                        Err(e) => r = Err(e),
                    }
                }
                if r.is_ok() && !self.slots[slot].open {
                    let ch = self.ch(slot).ok_or_else(|| self.fail("no connection"))?;
                    r = self.b.channel_open(now, ch);
                    self.slots[slot].open = r.is_ok();
                }
                (None, Expect::Ok, r)
            }
            Op::Tick { ms } => {
                self.now += u64::from(ms);
                self.b.flush(self.now);
                flushed = true;
                (None, Expect::Ok, Ok(()))
            }
            Op::StoreDurable => {
                self.b.store_durable(self.last_record);
                self.b.flush(self.now);
                flushed = true;
                (None, Expect::Ok, Ok(()))
            }
            Op::Pages { reverse } => {
                let mut asked = std::mem::take(&mut self.asked);
                if reverse {
                    asked.reverse();
                }
                for page in asked {
                    match self.pages.get(&page) {
                        Some(bytes) => {
                            let bytes = bytes.clone();
                            self.b
                                .page_loaded(now, page, &bytes)
                                .map_err(|e| self.fail(e))?;
                        }
                        None if self.b.live_pages().contains(&page) => {
                            return Err(self.fail(format!("page {page} deleted while in use")));
                        }
                        None => {} // dropped with its queue meanwhile
                    }
                }
                (None, Expect::Ok, Ok(()))
            }
        };
        self.b.poll(self.now);
        self.serve_pages()?;
        self.observe(op, slot, expect, result, flushed)
    }

    /// Writes and deletes pages as the engine asks; keeps reads for `Pages`.
    fn serve_pages(&mut self) -> Result<(), String> {
        for op in self.b.take_page_ops() {
            match op {
                PageOp::Write { page, bytes, .. } => {
                    if self.pages.insert(page, bytes).is_some() {
                        return Err(self.fail(format!("page {page} written twice")));
                    }
                }
                PageOp::Read { page } => {
                    if !self.pages.contains_key(&page) {
                        return Err(self.fail(format!("page {page} read, never written")));
                    }
                    self.asked.push(page);
                }
                PageOp::Delete { page } => {
                    self.pages.remove(&page);
                }
            }
        }
        Ok(())
    }

    fn observe(
        &mut self,
        op: &Op,
        slot: Option<usize>,
        expect: Expect,
        result: Result<(), AmqpError>,
        flushed: bool,
    ) -> Result<(), String> {
        match (expect, &result) {
            (Expect::Ok, Ok(())) => {}
            (Expect::Ok, Err(e)) => return Err(self.fail(format!("{op:?} failed: {e}"))),
            (Expect::Err(code), Ok(())) => {
                return Err(self.fail(format!("{op:?} succeeded, expected {code}")))
            }
            (Expect::Err(code), Err(e)) => {
                if e.code.code() != code {
                    return Err(self.fail(format!("{op:?}: expected {code}, got {e}")));
                }
                let slot = slot.ok_or_else(|| self.fail("error without a channel"))?;
                if e.is_soft() {
                    self.close_slot(slot);
                } else {
                    self.close_conn(slot / 2);
                }
            }
        }
        let effects = self.b.take_effects();
        let mut handed_out = 0usize;
        for e in &effects {
            self.effect(e, &mut handed_out)?;
        }
        let events = self.b.take_events();
        let mut delivered = 0usize;
        let mut refused: Option<CopyKey> = None;
        for ev in events {
            let after_refusal = refused.take();
            self.event(ev.kind, after_refusal, &mut refused, &mut delivered)?;
        }
        if let Some(p) = self.publishing.take() {
            return Err(self.fail(format!("publish without a Published event ({p:?})")));
        }
        for (q, count) in std::mem::take(&mut self.paged_drops) {
            self.paged_dropped(&q, count)?;
        }
        if delivered != handed_out {
            return Err(self.fail(format!(
                "{delivered} Delivered events but {handed_out} deliveries sent"
            )));
        }
        let (first, records) = self.b.take_store_records();
        if !records.is_empty() {
            self.last_record = first + records.len() as u64 - 1;
        }
        if !self.durable && !records.is_empty() {
            return Err(self.fail("store records from a memory-only broker"));
        }
        self.check_state()?;
        if flushed && !self.durable {
            for (i, sl) in self.slots.iter().enumerate() {
                if sl.open && !sl.unconfirmed.is_empty() {
                    return Err(self.fail(format!(
                        "slot {i}: publishes {:?} not confirmed after a flush",
                        sl.unconfirmed
                    )));
                }
            }
        }
        Ok(())
    }

    fn effect(&mut self, e: &Effect, handed_out: &mut usize) -> Result<(), String> {
        let to = match e {
            Effect::CloseConnection { .. } | Effect::Blocked { .. } => {
                return Err(self.fail(format!("unexpected {e:?}")))
            }
            Effect::Deliver { to, .. }
            | Effect::GetOk { to, .. }
            | Effect::GetEmpty { to }
            | Effect::Confirm { to, .. }
            | Effect::TxCommitOk { to }
            | Effect::Return { to, .. }
            | Effect::Cancel { to, .. }
            | Effect::CloseChannel { to, .. } => *to,
        };
        let slot = self
            .slot_of(to)
            .filter(|s| self.slots[*s].open)
            .ok_or_else(|| self.fail(format!("{e:?} to a channel that is not open")))?;
        match e {
            Effect::Deliver {
                consumer_tag,
                delivery_tag,
                ..
            } => {
                *handed_out += 1;
                let known = self.slots[slot]
                    .consumers
                    .iter()
                    .any(|(t, _)| t.as_str() == consumer_tag.as_str());
                if !known {
                    return Err(self.fail(format!(
                        "delivery to consumer {consumer_tag} not on the channel"
                    )));
                }
                self.new_tag(slot, *delivery_tag)?;
            }
            Effect::GetOk { delivery_tag, .. } => {
                *handed_out += 1;
                self.new_tag(slot, *delivery_tag)?;
            }
            Effect::Confirm {
                delivery_tag,
                multiple,
                ..
            } => {
                let sl = &mut self.slots[slot];
                if sl.confirm_next.is_none() || !sl.unconfirmed.contains(delivery_tag) {
                    let msg = format!("confirm {delivery_tag} (multiple {multiple}) not expected on slot {slot}: {:?}", sl.unconfirmed);
                    return Err(self.fail(msg));
                }
                if *multiple {
                    sl.unconfirmed.retain(|s| s > delivery_tag);
                } else {
                    sl.unconfirmed.remove(delivery_tag);
                }
            }
            Effect::Cancel { consumer_tag, .. } => {
                self.slots[slot]
                    .consumers
                    .retain(|(t, _)| t.as_str() != consumer_tag.as_str());
            }
            Effect::CloseChannel { .. } => return Err(self.fail(format!("unexpected {e:?}"))),
            _ => {}
        }
        Ok(())
    }

    fn new_tag(&mut self, slot: usize, tag: u64) -> Result<(), String> {
        let sl = &mut self.slots[slot];
        if tag <= sl.max_tag {
            let msg = format!("delivery tag {tag} after {}", sl.max_tag);
            return Err(self.fail(msg));
        }
        sl.max_tag = tag;
        Ok(())
    }

    fn remove_copy(&mut self, key: CopyKey, why: &str) -> Result<(), String> {
        let n = self.copies.get(&key).copied().unwrap_or(0);
        if n <= 0 {
            return Err(self.fail(format!("{why}: no live copy of {key:?}")));
        }
        if n == 1 {
            self.copies.remove(&key);
            self.positions.remove(&key);
        } else {
            self.copies.insert(key.clone(), n - 1);
        }
        Ok(())
    }

    /// A copy left its queue without being delivered now: if it was never
    /// delivered, its position is no longer waiting.
    fn forget_position(&mut self, key: &CopyKey, live_before: i64) {
        if let Some(u) = self.undelivered.get_mut(key) {
            if live_before == 1 || self.ambiguous.contains(key) {
                // One copy: it is the undelivered one if any position waits.
                u.pop_front();
            }
            if u.is_empty() {
                self.undelivered.remove(key);
            }
        }
    }

    fn event(
        &mut self,
        kind: EventKind,
        after_refusal: Option<CopyKey>,
        refused: &mut Option<CopyKey>,
        delivered: &mut usize,
    ) -> Result<(), String> {
        match kind {
            EventKind::Published {
                channel,
                confirm_seq,
                ..
            } => {
                let Some(expected) = self.publishing.take() else {
                    return Err(self.fail("Published without a publish"));
                };
                if expected != confirm_seq {
                    return Err(self.fail(format!(
                        "publish on {channel:?} numbered {confirm_seq:?}, expected {expected:?}"
                    )));
                }
            }
            EventKind::Enqueued { msg, queue } => {
                let q = queue.to_string();
                let key = (msg, q.clone());
                let n = self.copies.entry(key.clone()).or_insert(0);
                *n += 1;
                if *n > 1 {
                    self.ambiguous.insert(key.clone());
                }
                let o = self.order.entry(q).or_insert((0, None));
                let pos = o.0;
                o.0 += 1;
                self.positions.insert(key.clone(), pos);
                self.undelivered.entry(key).or_default().push_back(pos);
            }
            EventKind::Delivered {
                msg,
                queue,
                to,
                delivery_tag,
                redelivered,
                delivery_count,
                auto_ack,
                ..
            } => {
                *delivered += 1;
                if redelivered != (delivery_count > 0) {
                    return Err(self.fail("redelivered flag disagrees with the delivery count"));
                }
                let slot = self
                    .slot_of(to)
                    .ok_or_else(|| self.fail("delivery to an unknown channel"))?;
                if !auto_ack {
                    self.slots[slot].outstanding.insert(delivery_tag);
                }
                let q = queue.to_string();
                let key = (msg, q.clone());
                if delivery_count == 0 {
                    let pos = self.undelivered.get_mut(&key).and_then(VecDeque::pop_front);
                    if self.undelivered.get(&key).is_some_and(VecDeque::is_empty) {
                        self.undelivered.remove(&key);
                    }
                    if !self.ambiguous.contains(&key) {
                        let pos = pos.ok_or_else(|| {
                            self.fail(format!("first delivery of {key:?}, which never waited"))
                        })?;
                        let last = &mut self.order.entry(q).or_insert((0, None)).1;
                        if last.is_some_and(|l| pos <= l) {
                            let msg = format!(
                                "{key:?} (position {pos}) delivered after position {last:?}"
                            );
                            return Err(self.fail(msg));
                        }
                        *last = Some(pos);
                    }
                }
                if auto_ack {
                    self.remove_copy(key, "auto-ack delivery")?;
                }
            }
            EventKind::Acked { msg, queue } => {
                self.remove_copy((msg, queue.to_string()), "ack")?;
            }
            EventKind::Refused { msg, queue } => {
                *refused = Some((msg, queue.to_string()));
            }
            EventKind::Dropped { msg, queue, reason } => {
                if matches!(reason, DropReason::DeadLetterFailed | DropReason::Duplicate) {
                    return Ok(()); // about a dead-letter copy that never entered a queue
                }
                let key = (msg, queue.to_string());
                if after_refusal.as_ref() == Some(&key) {
                    return Ok(()); // the refused publish itself
                }
                let live = self.copies.get(&key).copied().unwrap_or(0);
                self.remove_copy(key.clone(), &format!("drop ({reason:?})"))?;
                self.forget_position(&key, live);
            }
            EventKind::PagedDropped { queue, count, .. } => {
                // Which copies were in the pages is known once the rest of
                // the batch is (see `paged_dropped`).
                self.paged_drops.push((queue.to_string(), count));
            }
            EventKind::DeadLettered { msg, queue, .. } => {
                let key = (msg, queue.to_string());
                if after_refusal.as_ref() == Some(&key) {
                    return Ok(());
                }
                let live = self.copies.get(&key).copied().unwrap_or(0);
                self.remove_copy(key.clone(), "dead-lettering")?;
                self.forget_position(&key, live);
            }
            EventKind::QueueDeleted { queue } => {
                let q = queue.to_string();
                let moved: Vec<(CopyKey, i64)> = self
                    .copies
                    .iter()
                    .filter(|((_, qq), _)| *qq == q)
                    .map(|(k, n)| (k.clone(), *n))
                    .collect();
                for (key, n) in moved {
                    self.copies.remove(&key);
                    *self.copies.entry((key.0, String::new())).or_insert(0) += n;
                }
                self.undelivered.retain(|(_, qq), _| *qq != q);
                self.positions.retain(|(_, qq), _| *qq != q);
                self.ambiguous.retain(|(_, qq)| *qq != q);
                self.order.remove(&q);
            }
            _ => {}
        }
        Ok(())
    }

    /// Messages in pages dropped unread (purge, queue deleted) carry no ids:
    /// once the step's other events are applied, what the model still has
    /// of the queue (of deleted queues, for a deletion) and is not out on a
    /// channel was in those pages, and must be exactly `count` copies.
    fn paged_dropped(&mut self, q: &str, count: u64) -> Result<(), String> {
        let bucket = if self.b.queue_counts("/", q).is_some() {
            q.to_string()
        } else {
            String::new()
        };
        let mut out: HashMap<MsgId, i64> = HashMap::new();
        for c in &self.b.snapshot().channels {
            for (_, m, qq) in &c.unacked {
                if qq.as_str() == bucket {
                    *out.entry(*m).or_insert(0) += 1;
                }
            }
        }
        let keys: Vec<(CopyKey, i64)> = self
            .copies
            .iter()
            .filter(|((_, qq), _)| *qq == bucket)
            .map(|(k, n)| (k.clone(), *n))
            .collect();
        let mut paged = 0;
        for (key, n) in keys {
            let unacked = out.get(&key.0).copied().unwrap_or(0).min(n);
            for i in 0..(n - unacked) {
                self.remove_copy(key.clone(), "paged drop")?;
                self.forget_position(&key, n - i);
                paged += 1;
            }
        }
        if paged != count {
            return Err(self.fail(format!(
                "{count} paged messages of {q} dropped, the model has {paged}"
            )));
        }
        Ok(())
    }

    fn check_state(&self) -> Result<(), String> {
        let snap = self.b.snapshot();
        let mut model: HashMap<&str, i64> = HashMap::new();
        for ((_, q), n) in &self.copies {
            *model.entry(q.as_str()).or_insert(0) += n;
        }
        let mut out: HashMap<String, usize> = HashMap::new();
        for c in &snap.channels {
            for (_, _, q) in &c.unacked {
                *out.entry(q.to_string()).or_insert(0) += 1;
            }
        }
        for q in &snap.queues {
            let c = q.counts;
            let held = (c.ready + c.unacked + c.delayed) as i64;
            let expected = model.remove(q.name.as_str()).unwrap_or(0);
            if held != expected {
                return Err(self.fail(format!(
                    "queue {}: holds {held} ({c:?}) but the events say {expected}",
                    q.name
                )));
            }
            // Ready messages wait in the order they entered the queue, the
            // requeued ones back at their place.
            let mut last = None;
            for (msg, _) in &q.ready {
                let key = (*msg, q.name.to_string());
                if self.ambiguous.contains(&key) {
                    continue;
                }
                let pos = self.positions.get(&key).copied();
                let pos = pos.ok_or_else(|| self.fail(format!("{key:?} ready, never enqueued")))?;
                if last.is_some_and(|l| pos <= l) {
                    return Err(self.fail(format!(
                        "queue {}: ready out of order {:?}",
                        q.name, q.ready
                    )));
                }
                last = Some(pos);
            }
            let on_channels = out.get(q.name.as_str()).copied().unwrap_or(0);
            if c.unacked != on_channels {
                return Err(self.fail(format!(
                    "queue {}: {} unacked but {on_channels} on channels",
                    q.name, c.unacked
                )));
            }
        }
        let orphans = model.remove("").unwrap_or(0);
        let orphans_out = out.get("").copied().unwrap_or(0) as i64;
        if orphans != orphans_out {
            return Err(self.fail(format!(
                "{orphans_out} deliveries of deleted queues out, the events say {orphans}"
            )));
        }
        if let Some((q, n)) = model.iter().find(|(_, n)| **n != 0) {
            return Err(self.fail(format!("{n} copies in {q}, which does not exist")));
        }
        for (i, sl) in self.slots.iter().enumerate() {
            let Some(ch) = self.ch(i) else {
                continue;
            };
            if self.b.channel_is_open(ch) != sl.open {
                return Err(self.fail(format!("slot {i}: open is {}", sl.open)));
            }
            if !sl.open {
                continue;
            }
            let tags: BTreeSet<u64> = snap
                .channels
                .iter()
                .find(|c| c.channel == ch)
                .map(|c| c.unacked.iter().map(|u| u.0).collect())
                .unwrap_or_default();
            if tags != sl.outstanding {
                return Err(self.fail(format!(
                    "slot {i}: unacked tags {tags:?}, the model has {:?}",
                    sl.outstanding
                )));
            }
        }
        for (i, c) in self.conns.iter().enumerate() {
            if let Some(id) = c {
                if self.b.connection_info(*id).is_none() {
                    return Err(self.fail(format!("connection {i} closed unexpectedly")));
                }
            }
        }
        Ok(())
    }

    /// Everything becomes durable and is flushed: every publish on a channel
    /// still open must have its confirm by now.
    fn finish(&mut self) -> Result<(), String> {
        for _ in 0..100 {
            if self.asked.is_empty() {
                break;
            }
            self.apply(&Op::Pages { reverse: false })?;
        }
        // Every page left is one a queue still holds.
        let live: BTreeSet<u64> = self.b.live_pages().into_iter().collect();
        let kept: BTreeSet<u64> = self.pages.keys().copied().collect();
        if live != kept {
            return Err(self.fail(format!("pages kept {kept:?}, in use {live:?}")));
        }
        self.now += 1_000;
        self.b.store_durable(u64::MAX);
        self.apply(&Op::Tick { ms: 0 })?;
        self.b.store_durable(u64::MAX);
        self.apply(&Op::Tick { ms: 0 })?;
        for (i, sl) in self.slots.iter().enumerate() {
            if sl.open && !sl.unconfirmed.is_empty() {
                return Err(self.fail(format!(
                    "slot {i}: publishes {:?} never confirmed",
                    sl.unconfirmed
                )));
            }
        }
        Ok(())
    }
}

// ---- strategies ----------------------------------------------------------------

fn overflow() -> impl Strategy<Value = Overflow> {
    prop_oneof![
        Just(Overflow::DropHead),
        Just(Overflow::RejectPublish),
        Just(Overflow::RejectPublishDlx),
    ]
}

fn queue_spec() -> impl Strategy<Value = QueueSpec> {
    (
        prop::option::weighted(0.3, 0u8..60),
        prop::option::weighted(0.4, (1u8..4, overflow())),
        prop::option::weighted(0.5, 0usize..QUEUES),
        prop::option::weighted(0.3, 0u8..3),
        prop::bool::weighted(0.2),
        any::<bool>(),
        prop::bool::weighted(0.4),
    )
        .prop_map(
            |(ttl, max_len, dlx_to, delivery_limit, auto_delete, durable, fanout)| QueueSpec {
                ttl,
                max_len,
                dlx_to,
                delivery_limit,
                auto_delete,
                durable,
                fanout,
            },
        )
}

fn tag() -> impl Strategy<Value = Tag> {
    prop_oneof![
        12 => any::<usize>().prop_map(Tag::Outstanding),
        1 => Just(Tag::Zero),
        1 => any::<usize>().prop_map(Tag::Settled),
        1 => (0u8..3).prop_map(Tag::Unused),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..SLOTS;
    let q = 0..QUEUES;
    let publish = (
        slot.clone(),
        prop_oneof![4 => (0..=QUEUES).prop_map(Target::Queue), 1 => Just(Target::Fanout)],
        any::<bool>(),
        prop::option::weighted(0.2, 0u8..60),
        prop::option::weighted(0.2, any::<u8>()),
        prop::option::weighted(0.15, 0..QUEUES),
        any::<bool>(),
    )
        .prop_map(
            |(slot, target, persistent, expiration, priority, cc, mandatory)| Op::Publish {
                slot,
                target,
                persistent,
                expiration,
                priority,
                cc,
                mandatory,
            },
        );
    prop_oneof![
        2 => (slot.clone(), q.clone()).prop_map(|(slot, q)| Op::Declare { slot, q }),
        1 => (slot.clone(), q.clone()).prop_map(|(slot, q)| Op::Delete { slot, q }),
        1 => (slot.clone(), q.clone()).prop_map(|(slot, q)| Op::Purge { slot, q }),
        10 => publish,
        3 => (slot.clone(), q.clone(), 0u8..4, prop::bool::weighted(0.2), prop::bool::weighted(0.3))
            .prop_map(|(slot, q, prefetch, global, no_ack)| Op::Consume { slot, q, prefetch, global, no_ack }),
        1 => (slot.clone(), any::<usize>()).prop_map(|(slot, which)| Op::Cancel { slot, which }),
        2 => (slot.clone(), q.clone(), any::<bool>()).prop_map(|(slot, q, no_ack)| Op::Get { slot, q, no_ack }),
        5 => (slot.clone(), tag(), any::<bool>()).prop_map(|(slot, tag, multiple)| Op::Ack { slot, tag, multiple }),
        2 => (slot.clone(), tag(), any::<bool>(), any::<bool>())
            .prop_map(|(slot, tag, multiple, requeue)| Op::Nack { slot, tag, multiple, requeue }),
        2 => (slot.clone(), tag(), any::<bool>()).prop_map(|(slot, tag, requeue)| Op::Reject { slot, tag, requeue }),
        1 => slot.clone().prop_map(|slot| Op::Recover { slot }),
        2 => slot.clone().prop_map(|slot| Op::Confirm { slot }),
        1 => slot.clone().prop_map(|slot| Op::CloseChannel { slot }),
        1 => (0usize..2).prop_map(|conn| Op::CloseConnection { conn }),
        3 => slot.prop_map(|slot| Op::Reopen { slot }),
        3 => (0u8..40).prop_map(|ms| Op::Tick { ms }),
        1 => Just(Op::StoreDurable),
        3 => any::<bool>().prop_map(|reverse| Op::Pages { reverse }),
    ]
}

fn run(specs: Vec<QueueSpec>, ops: Vec<Op>, durable: bool, paging: bool) -> Result<(), String> {
    let mut r = Run::new(specs, durable, paging)?;
    for op in &ops {
        r.apply(op)?;
    }
    r.finish()
}

/// 256 cases, or as many as `PROPTEST_CASES` asks for (proptest's own
/// variable, which a fixed count in the config would override).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_sessions_keep_every_invariant(
        specs in prop::collection::vec(queue_spec(), QUEUES),
        ops in prop::collection::vec(op(), 1..150),
        durable in any::<bool>(),
        paging in any::<bool>(),
    ) {
        run(specs, ops, durable, paging).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn a_quiet_session_passes_the_checks() {
    let spec = QueueSpec {
        ttl: None,
        max_len: None,
        dlx_to: None,
        delivery_limit: None,
        auto_delete: false,
        durable: true,
        fanout: true,
    };
    let ops = vec![
        Op::Confirm { slot: 0 },
        Op::Consume {
            slot: 1,
            q: 0,
            prefetch: 1,
            global: false,
            no_ack: false,
        },
        Op::Publish {
            slot: 0,
            target: Target::Fanout,
            persistent: true,
            expiration: None,
            priority: None,
            cc: None,
            mandatory: true,
        },
        Op::Publish {
            slot: 0,
            target: Target::Queue(0),
            persistent: false,
            expiration: None,
            priority: None,
            cc: Some(1),
            mandatory: false,
        },
        Op::Ack {
            slot: 1,
            tag: Tag::Outstanding(0),
            multiple: false,
        },
        Op::StoreDurable,
    ];
    run(vec![spec.clone(); QUEUES], ops.clone(), true, false).unwrap();
    run(vec![spec; QUEUES], ops, true, true).unwrap();
}
