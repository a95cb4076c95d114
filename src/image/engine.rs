//! The engine's part of an image: vhosts, exchanges and bindings, queues
//! with every message at its position, connections and channels with their
//! unacked deliveries, confirms owed and transactions, timers.
//!
//! Messages shared by several queues (fan-out) are written once, in a table
//! ahead of everything else, and shared again on resume. What the engine can
//! derive is not written: the name maps of each vhost, queue expiry indexes,
//! parsed queue arguments, compiled topic patterns.

use super::codec::{Bad, Dec, Enc};
use super::ImageError;
use crate::broker::args::QueueArgs;
use crate::broker::channel::{Channel, CommitsOwed, Held, Mode, Pending, Settle, Unacked};
use crate::broker::dedup::DedupCache;
use crate::broker::exchange::{Binding, Destination, Exchange};
use crate::broker::fxhash::FxHashMap;
use crate::broker::ids::{ChannelRef, ConnId, QueueId, VhostId};
use crate::broker::queue::{count16, Entry, PageRun, Queue, QueueConsumer, QueueStats, RunState};
use crate::broker::routing::topic::TopicPattern;
use crate::broker::routing::ExchangeKind;
use crate::broker::{
    ApplyTo, Broker, BrokerConfig, Conn, ConnectionInfo, Message, Policy, QueueDeclare, QueueSlot,
    Vhost,
};
use crate::storage::record;

/// Writes the engine. Events not yet taken are not part of an image; the
/// engine's effects must have been taken (a server routes them after every
/// call).
pub(crate) fn write_broker(b: &Broker, out: &mut Enc) -> Result<(), ImageError> {
    // Page writes not yet taken would be lost with the sleeping host.
    if b.has_effects() || b.has_page_ops() {
        return Err(ImageError::OutputPending);
    }
    let mut w = Writer {
        main: Enc::default(),
        table: Enc::default(),
        ids: FxHashMap::default(),
    };
    w.broker(b);
    out.usize(w.ids.len());
    out.buf.extend_from_slice(&w.table.buf);
    out.buf.extend_from_slice(&w.main.buf);
    Ok(())
}

/// Reads the engine written by [`write_broker`], with the host's `config`.
pub(crate) fn read_broker(config: BrokerConfig, d: &mut Dec<'_>) -> Result<Broker, Bad> {
    let n = d.count()?;
    let mut messages = Vec::with_capacity(n);
    for _ in 0..n {
        messages.push(d.message()?);
    }
    let mut r = Reader { d, messages };
    r.broker(config)
}

/// Expiry and deadline times use NEVER (u64::MAX) for "none": written as 0.
fn time(t: u64) -> u64 {
    t.wrapping_add(1)
}

fn untime(t: u64) -> u64 {
    t.wrapping_sub(1)
}

struct Writer {
    main: Enc,
    table: Enc,
    /// Each message block's number in `table`, by the block's address (the
    /// key and value types of a ready list's expiry map: one hash table's
    /// code in the wasm for both).
    ids: FxHashMap<u64, u64>,
}

impl Writer {
    fn broker(&mut self, b: &Broker) {
        let w = &mut self.main;
        w.u64(b.now);
        w.u64(u64::from(b.next_conn));
        w.u64(b.next_seq);
        w.u64(b.next_msg_id);
        w.u64(b.crash_below);
        w.u64(b.next_page);
        w.u64(b.name_counter);
        w.u64(b.store_emitted);
        w.u64(b.store_durable);
        w.u64(time(b.wake_at));
        w.opt_str(b.blocked.as_deref());
        w.usize(b.vhosts.len());
        for v in &b.vhosts {
            self.vhost(v);
        }
        self.main.usize(b.queues.len());
        for slot in &b.queues {
            self.main.u64(u64::from(slot.gen));
            match &slot.queue {
                None => self.main.bool(false),
                Some(q) => {
                    self.main.bool(true);
                    self.queue(q);
                }
            }
        }
        let w = &mut self.main;
        w.usize(b.free_queue_slots.len());
        for &i in &b.free_queue_slots {
            w.u64(u64::from(i));
        }
        let conns: Vec<_> = b
            .connection_ids()
            .into_iter()
            .filter_map(|id| Some((id, b.conns.get(&id)?)))
            .collect();
        self.main.usize(conns.len());
        for (id, c) in conns {
            self.conn(id, c);
        }
        let w = &mut self.main;
        w.usize(b.dirty.len());
        for &q in &b.dirty {
            queue_id(w, q);
        }
        w.usize(b.confirm_dirty.len());
        for &ch in &b.confirm_dirty {
            channel_ref(w, ch);
        }
        w.usize(b.timeouts.len());
        for (at, ch, tag) in b.timeouts.iter() {
            w.u64(at);
            channel_ref(w, ch);
            w.u64(tag);
        }
        w.usize(b.dead_letters.len());
        for (reason, vhost, msg, msg_id) in &b.dead_letters {
            w.str(reason);
            w.u64(u64::from(vhost.0));
            w.message(msg);
            w.u64(*msg_id);
        }
        w.bool(b.routing_dead_letters);
        w.usize(b.store.len());
        let mut tmp = Vec::new();
        for rec in &b.store {
            tmp.clear();
            record::encode(rec, &mut tmp);
            w.bytes(&tmp);
        }
    }

    fn vhost(&mut self, v: &Vhost) {
        self.main.str(&v.name);
        let xs = v.exchanges_by_name();
        self.main.usize(xs.len());
        for x in xs {
            exchange(&mut self.main, x);
        }
        let w = &mut self.main;
        w.usize(v.policies.len());
        for p in &v.policies {
            w.str(&p.name);
            w.str(&p.pattern);
            w.str(p.apply_to.as_str());
            w.i64(p.priority);
            w.table(&p.definition);
        }
        w.bool(v.deleted);
        w.opt_u64(v.limits.max_connections.map(u64::from));
        w.opt_u64(v.limits.max_queues.map(u64::from));
    }

    fn queue(&mut self, q: &Queue) {
        let w = &mut self.main;
        w.u64(u64::from(q.vhost.0));
        w.str(&q.name);
        w.bool(q.durable);
        w.opt_u64(q.exclusive_owner.map(|c| u64::from(c.0)));
        w.bool(q.auto_delete);
        w.table(&q.arguments);
        // Paged runs by their bounds, then the entries in memory. A page
        // asked for (or read and waiting for an earlier one) is on the store
        // still: the resumed host asks for it again (`pages_reading`).
        let runs: Vec<_> = q.ready.runs().collect();
        w.usize(runs.len());
        for (level, r) in runs {
            w.usize(level);
            for v in [
                r.page,
                r.first_seq,
                r.last_seq,
                u64::from(r.count),
                r.bytes,
                time(r.min_expires_at),
                r.max_msg_id,
                u64::from(r.persistent),
                r.persistent_bytes,
            ] {
                w.u64(v);
            }
            w.bool(r.recovered);
            w.bool(r.crashed);
            w.bool(!matches!(r.state, RunState::Out));
        }
        let in_memory: Vec<Entry> = q.ready.iter().collect();
        self.main.usize(in_memory.len());
        for e in &in_memory {
            self.entry(e);
        }
        self.main.usize(q.delayed.len());
        for (due, e) in q.delayed.iter() {
            self.main.u64(due);
            self.entry(e);
        }
        let w = &mut self.main;
        w.usize(q.consumers.len());
        for c in &q.consumers {
            w.str(&c.tag);
            channel_ref(w, c.channel);
            w.u64(u64::from(c.id));
            w.bool(c.no_ack);
            w.bool(c.exclusive);
            w.u64(u64::from(c.prefetch));
            w.u64(u64::from(c.unacked));
            w.i64(i64::from(c.priority));
            w.opt_u64(c.timeout_ms);
            w.u64(c.turn);
            w.bool(c.blocked);
        }
        w.u64(q.turns);
        w.bool(q.had_consumer);
        w.u64(q.unacked);
        w.u64(q.last_used);
        dedup(w, q.dedup.as_ref());
        let s = &q.stats;
        for n in [
            s.published,
            s.delivered,
            s.redelivered,
            s.acked,
            s.dead_lettered,
        ] {
            w.u64(n);
        }
    }

    // Out of line: three callers, and its hash map entry is large inlined.
    #[inline(never)]
    fn entry(&mut self, e: &Entry) {
        let next = self.ids.len() as u64;
        let id = *self
            .ids
            .entry(e.msg.block_ptr() as usize as u64)
            .or_insert_with(|| {
                self.table.message(&e.msg);
                next
            });
        let w = &mut self.main;
        w.u64(e.seq);
        w.u64(e.msg_id);
        w.u64(id);
        w.u64(u64::from(e.deliveries));
        w.u64(u64::from(e.failed));
        w.u64(time(e.expires_at));
    }

    fn conn(&mut self, id: ConnId, c: &Conn) {
        let w = &mut self.main;
        w.u64(u64::from(id.0));
        w.str(&c.info.vhost);
        w.str(&c.info.user);
        w.bool(c.info.consumer_cancel_notify);
        w.bool(c.info.connection_blocked);
        w.str(&c.info.name);
        w.u64(u64::from(c.vhost.0));
        w.usize(c.channels.len());
        for ch in &c.channels {
            match ch {
                None => self.main.bool(false),
                Some(ch) => {
                    self.main.bool(true);
                    self.channel(ch);
                }
            }
        }
    }

    fn channel(&mut self, ch: &Channel) {
        let w = &mut self.main;
        w.u64(ch.next_tag);
        w.u64(u64::from(ch.next_consumer_id));
        w.usize(ch.unacked.len());
        for u in &ch.unacked {
            let w = &mut self.main;
            w.u64(u.tag);
            queue_id(w, u.queue);
            w.u64(u64::from(u.consumer));
            w.u64(time(u.deadline));
            self.entry(&u.entry);
        }
        let w = &mut self.main;
        w.u64(u64::from(ch.consumer_prefetch));
        w.u64(u64::from(ch.channel_prefetch));
        w.bool(ch.flow_active);
        match &ch.mode {
            Mode::Plain => w.u8(0),
            Mode::Confirm { next_seq, pending } => {
                w.u8(1);
                w.u64(*next_seq);
                w.usize(pending.len());
                for (seq, p) in pending {
                    w.u64(*seq);
                    match p {
                        Pending::Ready(ack) => {
                            w.u8(0);
                            w.bool(*ack);
                        }
                        Pending::Durable(n) => {
                            w.u8(1);
                            w.u64(*n);
                        }
                    }
                }
            }
            Mode::Tx {
                publishes,
                settles,
                owed,
                ..
            } => {
                w.u8(2);
                w.u64(u64::from(owed.count));
                w.u64(owed.until);
                w.usize(publishes.len());
                for (msg, mandatory) in publishes {
                    w.message(msg);
                    w.bool(*mandatory);
                }
                w.usize(settles.len());
                for s in settles {
                    match *s {
                        Settle::Ack { tag, multiple } => {
                            w.u8(0);
                            w.u64(tag);
                            w.bool(multiple);
                        }
                        Settle::Nack {
                            tag,
                            multiple,
                            requeue,
                        } => {
                            w.u8(1);
                            w.u64(tag);
                            w.bool(multiple);
                            w.bool(requeue);
                        }
                        Settle::Reject { tag, requeue } => {
                            w.u8(2);
                            w.u64(tag);
                            w.bool(requeue);
                        }
                    }
                }
            }
        }
        w.usize(ch.consumers.len());
        for (q, tag) in &ch.consumers {
            queue_id(w, *q);
            w.str(tag);
        }
        match &ch.reply_consumer {
            None => w.bool(false),
            Some((tag, name)) => {
                w.bool(true);
                w.str(tag);
                w.str(name);
            }
        }
        w.opt_str(ch.last_queue.as_deref());
    }
}

fn queue_id(w: &mut Enc, q: QueueId) {
    w.u64(q.index() as u64);
    w.u64(u64::from(q.gen()));
}

fn channel_ref(w: &mut Enc, ch: ChannelRef) {
    w.u64(u64::from(ch.conn.0));
    w.u64(u64::from(ch.channel));
}

fn exchange(w: &mut Enc, x: &Exchange) {
    w.str(&x.name);
    w.str(x.kind.as_str());
    w.bool(x.durable);
    w.bool(x.auto_delete);
    w.bool(x.internal);
    w.table(&x.arguments);
    w.usize(x.bindings.len());
    for b in &x.bindings {
        match &b.destination {
            Destination::Queue(q, name) => {
                w.u8(0);
                queue_id(w, *q);
                w.str(name);
            }
            Destination::Exchange(name) => {
                w.u8(1);
                w.str(name);
            }
        }
        w.str(&b.routing_key);
        w.table(&b.arguments);
    }
    dedup(w, x.dedup.as_ref());
}

fn dedup(w: &mut Enc, cache: Option<&DedupCache>) {
    let Some(c) = cache else {
        return w.bool(false);
    };
    w.bool(true);
    w.usize(c.capacity());
    w.opt_u64(c.ttl_ms());
    let keys: Vec<_> = c.live_keys().collect();
    w.usize(keys.len());
    for (key, expires_at) in keys {
        w.bytes(key);
        w.opt_u64(expires_at);
    }
}

struct Reader<'d, 'a> {
    d: &'d mut Dec<'a>,
    messages: Vec<Message>,
}

impl Reader<'_, '_> {
    fn broker(&mut self, config: BrokerConfig) -> Result<Broker, Bad> {
        let mut b = Broker::new(config);
        b.vhosts.clear();
        let d = &mut *self.d;
        b.now = d.u64()?;
        b.next_conn = d.u32()?;
        b.next_seq = d.u64()?;
        b.next_msg_id = d.u64()?;
        b.crash_below = d.u64()?;
        b.next_page = d.u64()?;
        b.name_counter = d.u64()?;
        b.store_emitted = d.u64()?;
        b.store_durable = d.u64()?;
        if b.store_durable > b.store_emitted {
            return Err(d.bad("more store records durable than emitted"));
        }
        b.wake_at = untime(d.u64()?);
        b.blocked = d.opt_short_str()?;
        for _ in 0..d.count()? {
            let v = self.vhost()?;
            b.vhosts.push(v);
        }
        if b.vhosts.is_empty() {
            return Err(self.d.bad("an image has at least the vhost '/'"));
        }
        let slots = self.d.count()?;
        for index in 0..slots {
            let gen = self.d.u32()?;
            let queue = match self.d.bool()? {
                false => None,
                true => {
                    let q = self.queue(&b)?;
                    let v = b.vhosts.get_mut(q.vhost.0 as usize);
                    let id = QueueId::new(index as u32, gen);
                    if let Some(v) = v {
                        if v.deleted {
                            let e = self.d.bad_s("queue '", &q.name, "' in a deleted vhost");
                            return Err(e);
                        }
                        if v.queues.insert(q.name.clone(), id).is_some() {
                            return Err(self.d.bad_s("queue '", &q.name, "' twice"));
                        }
                    }
                    Some(Box::new(q))
                }
            };
            b.queues.push(QueueSlot { gen, queue });
        }
        for _ in 0..self.d.count()? {
            let i = self.d.u32()?;
            let free = b.queues.get(i as usize).is_some_and(|s| s.queue.is_none());
            if !free || b.free_queue_slots.contains(&i) {
                return Err(self.d.bad_n("queue slot ", u64::from(i), " is not free"));
            }
            b.free_queue_slots.push(i);
        }
        for _ in 0..self.d.count()? {
            let (id, conn) = self.conn(&b)?;
            // Direct reply-to names lead to their channels.
            for ch in conn.channels.iter().flatten() {
                if let Some((_, name)) = &ch.reply_consumer {
                    b.replies.insert(name.clone(), ch.id);
                }
            }
            if b.conns.insert(id, conn).is_some() {
                return Err(self.d.bad_n("connection ", u64::from(id.0), " twice"));
            }
        }
        for q in b.queue_ids() {
            let reading: Vec<u64> = b.queue(q).map_or(Vec::new(), |queue| {
                queue
                    .ready
                    .runs()
                    .filter(|(_, r)| matches!(r.state, RunState::Reading))
                    .map(|(_, r)| r.page)
                    .collect()
            });
            for page in reading {
                b.reading.insert(page, q.to_bits());
            }
        }
        let d = &mut *self.d;
        for _ in 0..d.count()? {
            b.dirty.push(queue_id_from(d)?);
        }
        for _ in 0..d.count()? {
            b.confirm_dirty.push(channel_ref_from(d)?);
        }
        for _ in 0..d.count()? {
            let at = d.u64()?;
            let ch = channel_ref_from(d)?;
            let tag = d.u64()?;
            b.timeouts.insert((at, ch, tag));
        }
        for _ in 0..d.count()? {
            let reason = d.short_str()?;
            let vhost = vhost_id(d, &b)?;
            let msg = d.message()?;
            let msg_id = d.u64()?;
            b.dead_letters.push_back((reason, vhost, msg, msg_id));
        }
        b.routing_dead_letters = d.bool()?;
        for _ in 0..d.count()? {
            let at = d.bytes()?;
            let rec = record::decode(at).map_err(|e| d.bad(e.to_string()))?;
            b.store.push(rec);
        }
        if b.store.len() as u64 > b.store_emitted {
            return Err(d.bad("more store records pending than emitted"));
        }
        Ok(b)
    }

    fn vhost(&mut self) -> Result<Vhost, Bad> {
        let name = self.d.short_str()?;
        let mut v = Vhost {
            name,
            exchanges: Default::default(),
            queues: Default::default(),
            policies: Vec::new(),
            limits: Default::default(),
            deleted: false,
        };
        for _ in 0..self.d.count()? {
            let x = self.exchange()?;
            if v.exchanges.insert(x.name.clone(), x).is_some() {
                return Err(self.d.bad("an exchange twice in one vhost"));
            }
        }
        let d = &mut *self.d;
        for _ in 0..d.count()? {
            let name = d.short_str()?;
            let pattern = d.string()?;
            let apply_to = d.string()?;
            let apply_to = ApplyTo::parse(&apply_to)
                .ok_or_else(|| d.bad_s("unknown apply-to '", &apply_to, "'"))?;
            v.policies.push(Policy {
                name,
                pattern,
                apply_to,
                priority: d.i64()?,
                definition: d.table()?,
            });
        }
        v.deleted = d.bool()?;
        if v.deleted && !(v.exchanges.is_empty() && v.policies.is_empty()) {
            return Err(d.bad_s("deleted vhost '", &v.name, "' is not empty"));
        }
        let mut limit = || -> Result<Option<u32>, Bad> {
            d.opt_u64()?
                .map(|l| u32::try_from(l).map_err(|_| d.bad("a vhost limit over u32")))
                .transpose()
        };
        v.limits.max_connections = limit()?;
        v.limits.max_queues = limit()?;
        Ok(v)
    }

    fn exchange(&mut self) -> Result<Exchange, Bad> {
        let d = &mut *self.d;
        let name = d.short_str()?;
        let kind = d.string()?;
        let kind = ExchangeKind::parse(&kind)
            .ok_or_else(|| d.bad_s("unknown exchange type '", &kind, "'"))?;
        let durable = d.bool()?;
        let auto_delete = d.bool()?;
        let internal = d.bool()?;
        let arguments = d.table()?;
        let mut bindings = Vec::new();
        for _ in 0..d.count()? {
            let destination = match d.u8()? {
                0 => {
                    let q = queue_id_from(d)?;
                    Destination::Queue(q, d.short_str()?)
                }
                1 => Destination::Exchange(d.short_str()?),
                t => return Err(d.bad_n("binding destination kind ", u64::from(t), "")),
            };
            let routing_key = d.short_str()?;
            let arguments = d.table()?;
            let topic = (kind == ExchangeKind::Topic).then(|| TopicPattern::new(&routing_key));
            bindings.push(Binding {
                destination,
                routing_key,
                arguments,
                topic,
            });
        }
        let dedup = dedup_from(d)?;
        Ok(Exchange {
            name,
            kind,
            durable,
            auto_delete,
            internal,
            arguments,
            bindings,
            dedup,
        })
    }

    fn queue(&mut self, b: &Broker) -> Result<Queue, Bad> {
        let d = &mut *self.d;
        let vhost = vhost_id(d, b)?;
        let name = d.short_str()?;
        let durable = d.bool()?;
        let owner = d.opt_u64()?;
        let owner = owner
            .map(|o| u32::try_from(o).map(ConnId))
            .transpose()
            .map_err(|_| d.bad("connection id does not fit 32 bits"))?;
        let auto_delete = d.bool()?;
        let arguments = d.table()?;
        // The arguments it runs with, and its policy, follow from its own
        // arguments and the vhost's policies (read before the queues).
        let what = format!("queue '{name}' in vhost '{}'", b.vhost_name(vhost));
        let (policy, args) = b.queue_settings(vhost, &name, &arguments, &what);
        let args = match args {
            Some(a) => a,
            None => QueueArgs::parse(&arguments, &what).map_err(|e| d.bad(e.text.clone()))?,
        };
        let declare = QueueDeclare {
            queue: name,
            passive: false,
            durable,
            exclusive: owner.is_some(),
            auto_delete,
            arguments,
        };
        let mut q = Queue::new(vhost, declare, owner, args, 0);
        q.policy = policy;
        let d = &mut *self.d;
        for _ in 0..d.count()? {
            let level = d.usize()?;
            if level >= q.ready.levels().len() {
                return Err(d.bad_n("paged run at priority level ", level as u64, ""));
            }
            let run = PageRun {
                page: d.u64()?,
                first_seq: d.u64()?,
                last_seq: d.u64()?,
                count: d.u32()?,
                bytes: d.u64()?,
                min_expires_at: untime(d.u64()?),
                max_msg_id: d.u64()?,
                persistent: d.u32()?,
                persistent_bytes: d.u64()?,
                recovered: d.bool()?,
                crashed: d.bool()?,
                state: RunState::Out,
            };
            let run = PageRun {
                state: match d.bool()? {
                    true => RunState::Reading,
                    false => RunState::Out,
                },
                ..run
            };
            q.ready.push_run(level, run);
        }
        for _ in 0..self.d.count()? {
            let e = self.entry()?;
            q.push_ready(e);
        }
        for _ in 0..self.d.count()? {
            let due = self.d.u64()?;
            let e = self.entry()?;
            q.delayed.insert(due, e);
        }
        let d = &mut *self.d;
        for _ in 0..d.count()? {
            q.consumers.push(QueueConsumer {
                tag: d.short_str()?,
                channel: channel_ref_from(d)?,
                id: d.u32()?,
                no_ack: d.bool()?,
                exclusive: d.bool()?,
                prefetch: d.u16()?,
                unacked: d.u32()?,
                priority: i32::try_from(d.i64()?)
                    .map_err(|_| d.bad("consumer priority does not fit 32 bits"))?,
                timeout_ms: d.opt_u64()?,
                turn: d.u64()?,
                blocked: d.bool()?,
            });
        }
        q.turns = d.u64()?;
        q.had_consumer = d.bool()?;
        q.unacked = d.u64()?;
        q.last_used = d.u64()?;
        q.dedup = dedup_from(d)?;
        q.stats = QueueStats {
            published: d.u64()?,
            delivered: d.u64()?,
            redelivered: d.u64()?,
            acked: d.u64()?,
            dead_lettered: d.u64()?,
        };
        Ok(q)
    }

    fn entry(&mut self) -> Result<Entry, Bad> {
        let d = &mut *self.d;
        let seq = d.u64()?;
        let msg_id = d.u64()?;
        let index = d.usize()?;
        let msg = self
            .messages
            .get(index)
            .cloned()
            .ok_or_else(|| d.bad_n("message ", index as u64, " is not in the image"))?;
        Ok(Entry {
            seq,
            msg_id,
            msg,
            deliveries: count16(d.u32()?),
            failed: count16(d.u32()?),
            expires_at: untime(d.u64()?),
        })
    }

    fn conn(&mut self, b: &Broker) -> Result<(ConnId, Conn), Bad> {
        let d = &mut *self.d;
        let id = ConnId(d.u32()?);
        let info = ConnectionInfo {
            vhost: d.short_str()?,
            user: d.short_str()?,
            consumer_cancel_notify: d.bool()?,
            connection_blocked: d.bool()?,
            name: d.string()?,
        };
        let vhost = vhost_id(d, b)?;
        let n = d.count()?;
        if n > usize::from(u16::MAX) + 1 {
            return Err(d.bad("more than 65536 channels"));
        }
        let mut channels = Vec::with_capacity(n);
        for number in 0..n {
            channels.push(match self.d.bool()? {
                false => None,
                true => Some(Box::new(self.channel(ChannelRef::new(id, number as u16))?)),
            });
        }
        Ok((
            id,
            Conn {
                info,
                vhost,
                channels,
                // Derived from the users, which come from the resuming host.
                perms: None,
            },
        ))
    }

    fn channel(&mut self, id: ChannelRef) -> Result<Channel, Bad> {
        let mut ch = Channel::new(id);
        ch.next_tag = self.d.u64()?;
        ch.next_consumer_id = self.d.u32()?;
        for _ in 0..self.d.count()? {
            let d = &mut *self.d;
            let tag = d.u64()?;
            let queue = queue_id_from(d)?;
            let consumer = d.u32()?;
            let deadline = untime(d.u64()?);
            let entry = self.entry()?;
            if ch.unacked.back().is_some_and(|u| u.tag >= tag) || tag >= ch.next_tag {
                return Err(self.d.bad_n("delivery tag ", tag, " out of order"));
            }
            ch.unacked.push_back(Unacked {
                tag,
                queue,
                entry,
                consumer,
                deadline,
            });
        }
        ch.has_got = ch.unacked.iter().any(|u| u.consumer == 0);
        let d = &mut *self.d;
        ch.consumer_prefetch = d.u16()?;
        ch.channel_prefetch = d.u16()?;
        ch.flow_active = d.bool()?;
        ch.mode = match d.u8()? {
            0 => Mode::Plain,
            1 => {
                let next_seq = d.u64()?;
                let mut pending = std::collections::VecDeque::new();
                for _ in 0..d.count()? {
                    let seq = d.u64()?;
                    let p = match d.u8()? {
                        0 => Pending::Ready(d.bool()?),
                        1 => Pending::Durable(d.u64()?),
                        t => return Err(d.bad_n("confirm kind ", u64::from(t), "")),
                    };
                    pending.push_back((seq, p));
                }
                Mode::Confirm { next_seq, pending }
            }
            2 => {
                let owed = CommitsOwed {
                    count: d.u32()?,
                    until: d.u64()?,
                };
                let mut publishes = Vec::new();
                for _ in 0..d.count()? {
                    publishes.push((d.message()?, d.bool()?));
                }
                let mut settles = Vec::new();
                for _ in 0..d.count()? {
                    settles.push(match d.u8()? {
                        0 => Settle::Ack {
                            tag: d.u64()?,
                            multiple: d.bool()?,
                        },
                        1 => Settle::Nack {
                            tag: d.u64()?,
                            multiple: d.bool()?,
                            requeue: d.bool()?,
                        },
                        2 => Settle::Reject {
                            tag: d.u64()?,
                            requeue: d.bool()?,
                        },
                        t => return Err(d.bad_n("settlement kind ", u64::from(t), "")),
                    });
                }
                let held = Held::of(&settles);
                Mode::Tx {
                    publishes,
                    settles,
                    held,
                    owed,
                }
            }
            m => return Err(d.bad_n("channel mode ", u64::from(m), "")),
        };
        for _ in 0..d.count()? {
            let q = queue_id_from(d)?;
            ch.consumers.push((q, d.short_str()?));
        }
        if d.bool()? {
            ch.reply_consumer = Some((d.short_str()?, d.short_str()?));
        }
        ch.last_queue = d.opt_short_str()?;
        Ok(ch)
    }
}

fn vhost_id(d: &mut Dec<'_>, b: &Broker) -> Result<VhostId, Bad> {
    let v = d.u32()?;
    if v as usize >= b.vhosts.len() {
        return Err(d.bad_n("vhost ", u64::from(v), " is not in the image"));
    }
    Ok(VhostId(v))
}

fn queue_id_from(d: &mut Dec<'_>) -> Result<QueueId, Bad> {
    Ok(QueueId::new(d.u32()?, d.u32()?))
}

fn channel_ref_from(d: &mut Dec<'_>) -> Result<ChannelRef, Bad> {
    Ok(ChannelRef::new(ConnId(d.u32()?), d.u16()?))
}

fn dedup_from(d: &mut Dec<'_>) -> Result<Option<DedupCache>, Bad> {
    if !d.bool()? {
        return Ok(None);
    }
    let capacity = d.usize()?;
    let ttl = d.opt_u64()?;
    let mut keys = Vec::new();
    for _ in 0..d.count()? {
        keys.push((d.bytes()?.to_vec(), d.opt_u64()?));
    }
    Ok(Some(DedupCache::restore(capacity, ttl, keys)))
}

/// Never-expiring entries are the common case: check that they cost one byte.
#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::broker::queue::NEVER;

    #[test]
    fn never_is_written_as_zero() {
        assert_eq!(time(NEVER), 0);
        assert_eq!(untime(0), NEVER);
        assert_eq!(untime(time(42)), 42);
    }
}
