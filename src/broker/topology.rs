//! Exchanges, queues and bindings: declare, delete, bind, unbind, purge.

use super::access::{Perm, Resource};
use super::args::{check_queue_type, inequivalent_key, QueueArgs};
use super::command::{Bind, ExchangeDeclare, QueueDeclare, QueueDeclareOk};
use super::dedup::DedupCache;
use super::direct_reply::is_reply_name;
use super::effect::Effect;
use super::engine::{Broker, QueueSlot, Vhost};
use super::error::{AmqpError, Result};
use super::event::{DropReason, EventKind};
use super::exchange::{Binding, Destination, Exchange};
use super::ids::{ChannelRef, QueueId, VhostId};
use super::queue::Queue;
use super::routing::headers::validate_x_match;
use super::routing::topic::TopicPattern;
use super::routing::ExchangeKind;
use super::sort;
use super::store::StoreRecord;
use super::value::{FieldTable, FieldValue, ShortStr};

fn inequivalent(
    what: &str,
    arg: &str,
    received: impl std::fmt::Display,
    current: impl std::fmt::Display,
) -> AmqpError {
    AmqpError::precondition(format_args!(
        "inequivalent arg '{arg}' for {what}: received '{received}' but current is '{current}'"
    ))
}

/// A differing argument, in RabbitMQ's words: both values bare when both
/// are there (`received '5' but current is '3'`), each with its type when
/// one is missing (`the value '5' of type 'signedint'` against `none`).
fn inequivalent_arg(
    what: &str,
    key: &str,
    received: Option<&super::value::FieldValue>,
    current: Option<&super::value::FieldValue>,
) -> AmqpError {
    use super::routing::headers::{erlang_term, erlang_type};
    use super::value::FieldValue;
    let bare = |v: &FieldValue| match v {
        FieldValue::LongStr(b) | FieldValue::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => erlang_term(other),
    };
    let typed = |v: Option<&FieldValue>| match v {
        Some(v) => format!("the value '{}' of type '{}'", bare(v), erlang_type(v)),
        None => "none".to_owned(),
    };
    match (received, current) {
        (Some(r), Some(c)) => inequivalent(what, key, bare(r), bare(c)),
        (r, c) => AmqpError::precondition(format_args!(
            "inequivalent arg '{key}' for {what}: received {} but current is {}",
            typed(r),
            typed(c)
        )),
    }
}

fn locked_queue(name: &str, vname: &str) -> AmqpError {
    AmqpError::locked(format_args!(
        "cannot obtain exclusive access to locked queue '{name}' in vhost '{vname}'. It could be originally declared on another connection or the exclusive property value does not match that of the original declaration."
    ))
}

fn reserved(kind: &str, name: &str) -> AmqpError {
    AmqpError::access_refused(format_args!(
        "{kind} name '{name}' contains reserved prefix 'amq.*'"
    ))
}

fn default_exchange_refused() -> AmqpError {
    AmqpError::access_refused("operation not permitted on the default exchange")
}

impl Exchange {
    pub(crate) fn declaration(&self) -> ExchangeDeclare {
        ExchangeDeclare {
            exchange: self.name.clone(),
            kind: ShortStr::truncated(self.kind.as_str()),
            passive: false,
            durable: self.durable,
            auto_delete: self.auto_delete,
            internal: self.internal,
            arguments: self.arguments.clone(),
        }
    }
}

impl Queue {
    pub(crate) fn declaration(&self) -> QueueDeclare {
        QueueDeclare {
            queue: self.name.clone(),
            passive: false,
            durable: self.durable,
            exclusive: self.exclusive_owner.is_some(),
            auto_delete: self.auto_delete,
            arguments: self.arguments.clone(),
        }
    }
}

impl Broker {
    fn vhost_of(&self, ch: ChannelRef) -> Result<(VhostId, String)> {
        let v = self.conn_vhost(ch.conn)?;
        Ok((v, self.vhost_name(v).to_owned()))
    }

    // Vhost ids come from `add_vhost` and `vhost_id` (or an image that was
    // checked against its vhosts), and vhosts are never removed (a deleted
    // one stays as a tombstone, see `vhost`): indexing
    // cannot fail, and an Option here would spread through every caller.
    #[allow(clippy::indexing_slicing)]
    pub(crate) fn vhost_mut(&mut self, v: VhostId) -> &mut Vhost {
        // Whatever changes in it may change where publishes go.
        self.route_cache.forget();
        &mut self.vhosts[v.0 as usize]
    }

    #[allow(clippy::indexing_slicing)]
    pub(crate) fn vhost_ref(&self, v: VhostId) -> &Vhost {
        &self.vhosts[v.0 as usize]
    }

    pub(crate) fn persists_queue(&self, q: &Queue) -> bool {
        self.config.durable_store && q.durable && q.exclusive_owner.is_none()
    }

    /// A channel that exists, or the hard error for using one that does not.
    fn require_channel(&mut self, ch: ChannelRef) -> Result<()> {
        self.open_channel(ch).map(|_| ())
    }

    // ---- exchanges ---------------------------------------------------------

    pub fn exchange_declare(
        &mut self,
        now_ms: u64,
        ch: ChannelRef,
        d: ExchangeDeclare,
    ) -> Result<()> {
        self.advance(now_ms);
        let r = self.exchange_declare_inner(ch, d);
        self.fail(ch, r)
    }

    fn exchange_declare_inner(&mut self, ch: ChannelRef, d: ExchangeDeclare) -> Result<()> {
        self.require_channel(ch)?;
        let (v, vname) = self.vhost_of(ch)?;
        let what = format!("exchange '{}' in vhost '{}'", d.exchange, vname);
        if d.passive {
            return match self.vhost_ref(v).exchanges.contains_key(&d.exchange) {
                true => Ok(()),
                false => Err(AmqpError::not_found(format_args!("no {what}"))),
            };
        }
        if d.exchange.is_empty() {
            return Err(default_exchange_refused());
        }
        let kind = ExchangeKind::parse(&d.kind).ok_or_else(|| {
            AmqpError::command_invalid(format_args!("unknown exchange type '{}'", d.kind))
        })?;
        self.check_access(ch, Resource::Exchange, &d.exchange, Perm::Configure)?;
        if let Some(x) = self.vhost_ref(v).exchanges.get(&d.exchange) {
            if x.kind != kind {
                return Err(inequivalent(&what, "type", &d.kind, x.kind.as_str()));
            }
            if x.durable != d.durable {
                return Err(inequivalent(&what, "durable", d.durable, x.durable));
            }
            if x.auto_delete != d.auto_delete {
                return Err(inequivalent(
                    &what,
                    "auto_delete",
                    d.auto_delete,
                    x.auto_delete,
                ));
            }
            if x.internal != d.internal {
                return Err(inequivalent(&what, "internal", d.internal, x.internal));
            }
            for key in ["alternate-exchange", "x-message-deduplication"] {
                let [received, current] = [&d.arguments, &x.arguments].map(|a| a.get(key));
                if received != current {
                    return Err(inequivalent_arg(&what, key, received, current));
                }
            }
            return Ok(());
        }
        if d.exchange.starts_with("amq.") {
            return Err(reserved("exchange", &d.exchange));
        }
        if let Some(ae) = d
            .arguments
            .get("alternate-exchange")
            .and_then(FieldValue::as_str)
        {
            self.check_access(ch, Resource::Exchange, &d.exchange, Perm::Read)?;
            self.check_access(ch, Resource::Exchange, ae, Perm::Write)?;
        }
        let dedup = exchange_dedup(&d.arguments, &what)?;
        if d.durable && self.config.durable_store {
            self.record_cold(StoreRecord::Exchange {
                vhost: ShortStr::truncated(&vname),
                declare: ExchangeDeclare {
                    passive: false,
                    ..d.clone()
                },
            });
        }
        let x = Exchange {
            name: d.exchange.clone(),
            kind,
            durable: d.durable,
            auto_delete: d.auto_delete,
            internal: d.internal,
            arguments: d.arguments,
            bindings: Vec::new(),
            dedup,
        };
        self.vhost_mut(v).exchanges.insert(d.exchange, x);
        Ok(())
    }

    pub fn exchange_delete(
        &mut self,
        now_ms: u64,
        ch: ChannelRef,
        name: &str,
        if_unused: bool,
    ) -> Result<()> {
        self.advance(now_ms);
        let r = self.exchange_delete_inner(ch, name, if_unused);
        self.fail(ch, r)
    }

    fn exchange_delete_inner(&mut self, ch: ChannelRef, name: &str, if_unused: bool) -> Result<()> {
        self.require_channel(ch)?;
        let (v, vname) = self.vhost_of(ch)?;
        if name.is_empty() {
            return Err(default_exchange_refused());
        }
        if name.starts_with("amq.") {
            return Err(AmqpError::access_refused(format_args!(
                "deletion of system exchange '{name}' in vhost '{vname}' not allowed"
            )));
        }
        self.check_access(ch, Resource::Exchange, name, Perm::Configure)?;
        let Some(x) = self.vhost_ref(v).exchanges.get(name) else {
            return Ok(()); // deleting what is not there succeeds, as in RabbitMQ
        };
        if if_unused && !x.bindings.is_empty() {
            return Err(AmqpError::precondition(format_args!(
                "exchange '{name}' in vhost '{vname}' in use"
            )));
        }
        self.remove_exchange(v, name);
        Ok(())
    }

    /// Removes an exchange and every binding to or from it.
    fn remove_exchange(&mut self, v: VhostId, name: &str) {
        let Some(x) = self.vhost_mut(v).exchanges.remove(name) else {
            return;
        };
        if x.durable && self.config.durable_store {
            let vhost = self.vhost_ref(v).name.clone();
            self.record_cold(StoreRecord::ExchangeDeleted {
                vhost,
                name: x.name.clone(),
            });
        }
        let dest = Destination::Exchange(x.name);
        self.remove_bindings_to(v, &dest);
    }

    /// Drops every binding that leads to `dest`, then auto-deletes the
    /// exchanges that lost their last binding.
    fn remove_bindings_to(&mut self, v: VhostId, dest: &Destination) {
        let mut emptied = Vec::new();
        for x in self.vhost_mut(v).exchanges.values_mut() {
            let before = x.bindings.len();
            x.bindings.retain(|b| b.destination != *dest);
            if x.auto_delete && before > 0 && x.bindings.is_empty() {
                emptied.push(x.name.clone());
            }
        }
        sort::sort(&mut emptied); // the map's order is not the same after a resume
        for name in emptied {
            self.remove_exchange(v, &name);
        }
    }

    // ---- queues ------------------------------------------------------------

    pub fn queue_declare(
        &mut self,
        now_ms: u64,
        ch: ChannelRef,
        d: QueueDeclare,
    ) -> Result<QueueDeclareOk> {
        let now = self.advance(now_ms);
        let r = self.queue_declare_inner(now, ch, d);
        // Declaring a reply-to name does not change the last queue (as in
        // RabbitMQ 3.10).
        if let (Ok(ok), Some(c)) = (&r, self.channel_mut(ch)) {
            if !is_reply_name(&ok.queue) {
                c.last_queue = Some(ok.queue.clone());
            }
        }
        self.fail(ch, r)
    }

    /// An empty queue name stands for the queue last declared on the
    /// channel, as in RabbitMQ; with none declared it is 404.
    pub(crate) fn queue_shortcut(&self, ch: ChannelRef, name: ShortStr) -> Result<ShortStr> {
        if !name.is_empty() {
            return Ok(name);
        }
        self.channel(ch)
            .and_then(|c| c.last_queue.clone())
            .ok_or_else(|| AmqpError::not_found("no previously declared queue"))
    }

    fn queue_declare_inner(
        &mut self,
        now: u64,
        ch: ChannelRef,
        d: QueueDeclare,
    ) -> Result<QueueDeclareOk> {
        self.require_channel(ch)?;
        let (v, vname) = self.vhost_of(ch)?;
        let name = if d.queue.is_empty() && !d.passive {
            self.generate_name("amq.gen-")
        } else {
            d.queue.clone()
        };
        if !d.passive {
            self.check_access(ch, Resource::Queue, &name, Perm::Configure)?;
        }
        let what = format!("queue '{name}' in vhost '{vname}'");
        if is_reply_name(&name) {
            let (message_count, consumer_count) = self.declare_reply_to(&name, &vname)?;
            return Ok(QueueDeclareOk {
                queue: name,
                message_count,
                consumer_count,
            });
        }
        if let Some(&id) = self.vhost_ref(v).queues.get(&name) {
            self.check_exclusive(id, ch, &vname)?;
            let q = self
                .queue_mut(id)
                .ok_or_else(|| AmqpError::not_found(format_args!("no {what}")))?;
            if !d.passive {
                // As RabbitMQ: a differing `exclusive` is checked first and is
                // 405 (the owner must match exactly), not an inequivalent arg.
                if q.exclusive_owner.is_some() != d.exclusive {
                    return Err(locked_queue(&name, &vname));
                }
                // An exclusive queue is transient whatever it was declared as.
                if q.durable != d.durable && q.exclusive_owner.is_none() {
                    return Err(inequivalent(&what, "durable", d.durable, q.durable));
                }
                if q.auto_delete != d.auto_delete {
                    return Err(inequivalent(
                        &what,
                        "auto_delete",
                        d.auto_delete,
                        q.auto_delete,
                    ));
                }
                if let Some(key) = inequivalent_key(&q.arguments, &d.arguments) {
                    let [received, current] = [&d.arguments, &q.arguments].map(|a| a.get(key));
                    return Err(inequivalent_arg(&what, key, received, current));
                }
            }
            q.last_used = now;
            return Ok(QueueDeclareOk {
                queue: name,
                message_count: q.message_count(),
                consumer_count: q.consumer_count(),
            });
        }
        if d.passive {
            return Err(AmqpError::not_found(format_args!("no {what}")));
        }
        if name.starts_with("amq.") && !d.queue.is_empty() {
            return Err(reserved("queue", &name));
        }
        if let Some(dlx) = d
            .arguments
            .get("x-dead-letter-exchange")
            .and_then(FieldValue::as_str)
        {
            self.check_access(ch, Resource::Queue, &name, Perm::Read)?;
            self.check_access(ch, Resource::Exchange, dlx, Perm::Write)?;
        }
        let args = QueueArgs::parse(&d.arguments, &what)?;
        if ch.conn.0 != 0 {
            // not when recovering: queues stored before a lower limit or these type rules stay
            check_queue_type(&d, &what)?;
            self.check_queue_limit(v, &name)?;
        }
        let (policy, with_policy) = self.queue_settings(v, &name, &d.arguments, &what);
        let args = with_policy.unwrap_or(args);
        let owner = d.exclusive.then_some(ch.conn);
        let mut q = Queue::new(
            v,
            QueueDeclare {
                queue: name.clone(),
                // As RabbitMQ: an exclusive queue goes with its connection, so
                // it is transient (shown as not durable) whatever the flag.
                durable: d.durable && !d.exclusive,
                ..d
            },
            owner,
            args,
            now,
        );
        q.policy = policy;
        if let Some(ms) = q.args.expires {
            self.schedule(now.saturating_add(ms));
        }
        if self.persists_queue(&q) {
            self.record_cold(StoreRecord::Queue {
                vhost: ShortStr::truncated(&vname),
                declare: q.declaration(),
            });
        }
        let id = self.insert_queue(q);
        self.vhost_mut(v).queues.insert(name.clone(), id);
        self.event_cold(|| EventKind::QueueCreated {
            queue: name.clone(),
        });
        Ok(QueueDeclareOk {
            queue: name,
            message_count: 0,
            consumer_count: 0,
        })
    }

    fn insert_queue(&mut self, q: Queue) -> QueueId {
        let free = self.free_queue_slots.pop();
        match free.and_then(|i| Some((i, self.queues.get_mut(i as usize)?))) {
            Some((i, slot)) => {
                slot.gen = slot.gen.wrapping_add(1);
                slot.queue = Some(Box::new(q));
                QueueId::new(i, slot.gen)
            }
            None => {
                self.queues.push(QueueSlot {
                    gen: 0,
                    queue: Some(Box::new(q)),
                });
                QueueId::new(self.queues.len() as u32 - 1, 0)
            }
        }
    }

    /// 405 when another connection owns the exclusive queue.
    pub(crate) fn check_exclusive(&self, id: QueueId, ch: ChannelRef, vname: &str) -> Result<()> {
        match self.queue(id) {
            Some(q) if q.exclusive_owner.is_some_and(|o| o != ch.conn) => {
                Err(locked_queue(&q.name, vname))
            }
            _ => Ok(()),
        }
    }

    /// The queue a client named, checked for existence and exclusivity.
    pub(crate) fn find_queue(&self, ch: ChannelRef, name: &str) -> Result<QueueId> {
        let (v, vname) = self.vhost_of(ch)?;
        let id = self
            .vhost_ref(v)
            .queues
            .get(name)
            .copied()
            .ok_or_else(|| AmqpError::no_queue(name, &vname))?;
        self.check_exclusive(id, ch, &vname)?;
        Ok(id)
    }

    pub fn queue_delete(
        &mut self,
        now_ms: u64,
        ch: ChannelRef,
        name: &str,
        if_unused: bool,
        if_empty: bool,
    ) -> Result<u32> {
        self.advance(now_ms);
        let r = self.queue_delete_inner(ch, name, if_unused, if_empty);
        self.fail(ch, r)
    }

    fn queue_delete_inner(
        &mut self,
        ch: ChannelRef,
        name: &str,
        if_unused: bool,
        if_empty: bool,
    ) -> Result<u32> {
        self.require_channel(ch)?;
        let (v, vname) = self.vhost_of(ch)?;
        let name = self.queue_shortcut(ch, ShortStr::truncated(name))?;
        let name = name.as_str();
        self.check_access(ch, Resource::Queue, name, Perm::Configure)?;
        let Some(&id) = self.vhost_ref(v).queues.get(name) else {
            return Ok(0); // deleting what is not there succeeds, as in RabbitMQ
        };
        self.check_exclusive(id, ch, &vname)?;
        let q = self.queue(id).ok_or_else(|| AmqpError::not_found(name))?;
        if super::args::is_quorum(&q.arguments) && (if_unused || if_empty) {
            // RabbitMQ refuses both flags on a quorum queue, used or not, and
            // the refusal closes the connection.
            let flag = if if_unused { "if-unused" } else { "if-empty" };
            return Err(AmqpError::not_implemented(format_args!(
                "cannot delete queue '{name}' in vhost '{vname}'. queue.delete operations \
                 with {flag} flag set are not supported by quorum queues"
            )));
        }
        if if_unused && !q.consumers.is_empty() {
            return Err(AmqpError::precondition(format_args!(
                "queue '{name}' in vhost '{vname}' in use"
            )));
        }
        if if_empty && !q.ready.is_empty() {
            return Err(AmqpError::precondition(format_args!(
                "queue '{name}' in vhost '{vname}' not empty"
            )));
        }
        let count = q.message_count();
        self.delete_queue(id);
        Ok(count)
    }

    /// Deletes a queue: its consumers are cancelled (with a `basic.cancel`
    /// where the client understands it), its messages dropped, its bindings
    /// removed. Deliveries already out stay with their channels.
    pub(crate) fn delete_queue(&mut self, id: QueueId) {
        let Some(slot) = self.queues.get_mut(id.index()) else {
            return;
        };
        if slot.gen != id.gen() {
            return;
        }
        let Some(mut q) = slot.queue.take() else {
            return;
        };
        self.free_queue_slots.push(id.index() as u32);
        let persisted = self.persists_queue(&q);
        let vname = self.vhost_ref(q.vhost).name.clone();
        self.vhost_mut(q.vhost).queues.remove(&q.name);
        for c in std::mem::take(&mut q.consumers) {
            if let Some(chan) = self.channel_mut(c.channel) {
                chan.consumers.retain(|(qq, t)| !(*qq == id && *t == c.tag));
            }
            let notify = self
                .conns
                .get(&c.channel.conn)
                .is_some_and(|conn| conn.info.consumer_cancel_notify);
            if notify {
                self.emit(Effect::Cancel {
                    to: c.channel,
                    consumer_tag: c.tag.clone(),
                });
            }
            let queue = q.name.clone();
            self.event_cold(|| EventKind::ConsumerRemoved {
                queue,
                to: c.channel,
                consumer_tag: c.tag,
            });
        }
        let (mut dropped, runs) = q.ready.drain();
        dropped.extend(q.delayed.take_all());
        for e in dropped {
            let queue = q.name.clone();
            self.event_cold(|| EventKind::Dropped {
                msg: e.msg_id,
                queue,
                reason: DropReason::QueueDeleted,
            });
        }
        self.drop_runs((&vname, &q.name), runs, persisted, DropReason::QueueDeleted);
        if persisted {
            self.record_cold(StoreRecord::QueueDeleted {
                vhost: vname,
                name: q.name.clone(),
            });
        }
        self.remove_bindings_to(q.vhost, &Destination::Queue(id, q.name.clone()));
        let name = q.name.clone();
        self.event_cold(|| EventKind::QueueDeleted { queue: name });
    }

    pub fn queue_purge(&mut self, now_ms: u64, ch: ChannelRef, name: &str) -> Result<u32> {
        self.advance(now_ms);
        let r = self.queue_purge_inner(ch, name);
        self.fail(ch, r)
    }

    fn queue_purge_inner(&mut self, ch: ChannelRef, name: &str) -> Result<u32> {
        self.require_channel(ch)?;
        let name = self.queue_shortcut(ch, ShortStr::truncated(name))?;
        self.check_access(ch, Resource::Queue, &name, Perm::Read)?;
        let id = self.find_queue(ch, &name)?;
        let Some(q) = self.queue_mut(id) else {
            return Ok(0);
        };
        let (mut purged, runs) = q.ready.drain();
        q.expiry.clear();
        purged.extend(q.delayed.take_all());
        let paged: usize = runs.iter().map(|r| r.count as usize).sum();
        let count = (purged.len() + paged) as u32;
        let persisted = self.queue(id).is_some_and(|q| self.persists_queue(q));
        for e in purged {
            self.entry_gone(id, &e, DropReason::Purged);
        }
        if let Some(q) = self.queue(id) {
            let names = (self.vhost_ref(q.vhost).name.clone(), q.name.clone());
            self.drop_runs((&names.0, &names.1), runs, persisted, DropReason::Purged);
        }
        Ok(count)
    }

    // ---- bindings ----------------------------------------------------------

    pub fn queue_bind(&mut self, now_ms: u64, ch: ChannelRef, b: Bind) -> Result<()> {
        self.advance(now_ms);
        let r = self.bind_inner(ch, b, true, true);
        self.fail(ch, r)
    }

    pub fn queue_unbind(&mut self, now_ms: u64, ch: ChannelRef, b: Bind) -> Result<()> {
        self.advance(now_ms);
        let r = self.bind_inner(ch, b, true, false);
        self.fail(ch, r)
    }

    pub fn exchange_bind(&mut self, now_ms: u64, ch: ChannelRef, b: Bind) -> Result<()> {
        self.advance(now_ms);
        let r = self.bind_inner(ch, b, false, true);
        self.fail(ch, r)
    }

    pub fn exchange_unbind(&mut self, now_ms: u64, ch: ChannelRef, b: Bind) -> Result<()> {
        self.advance(now_ms);
        let r = self.bind_inner(ch, b, false, false);
        self.fail(ch, r)
    }

    pub(crate) fn bind_inner(
        &mut self,
        ch: ChannelRef,
        mut b: Bind,
        to_queue: bool,
        add: bool,
    ) -> Result<()> {
        self.require_channel(ch)?;
        let (v, vname) = self.vhost_of(ch)?;
        if to_queue && b.destination.is_empty() {
            // Both shortcuts of RabbitMQ: the last declared queue, and
            // with an empty routing key too, its name as the key.
            b.destination = self.queue_shortcut(ch, ShortStr::empty())?;
            if b.routing_key.is_empty() {
                b.routing_key = b.destination.clone();
            }
        }
        let kind = if to_queue {
            Resource::Queue
        } else {
            Resource::Exchange
        };
        // RabbitMQ's order: write access to the destination, the default
        // exchange at either end (403), read access to the source, then the
        // source's existence before the destination's (and its exclusivity).
        self.check_access(ch, kind, &b.destination, Perm::Write)?;
        if b.source.is_empty() || (!to_queue && b.destination.is_empty()) {
            return Err(default_exchange_refused());
        }
        self.check_access(ch, Resource::Exchange, &b.source, Perm::Read)?;
        // As RabbitMQ: removing a binding that is not there succeeds,
        // whether or not its ends are.
        let missing = |e: AmqpError| if add { Err(e) } else { Ok(()) };
        let vhost = self.vhost_ref(v);
        let Some(x) = vhost.exchanges.get(&b.source) else {
            return missing(AmqpError::no_exchange(&b.source, &vname));
        };
        let destination = if to_queue {
            match vhost.queues.get(&b.destination) {
                Some(&id) => Destination::Queue(id, b.destination.clone()),
                None => return missing(AmqpError::no_queue(&b.destination, &vname)),
            }
        } else if vhost.exchanges.contains_key(&b.destination) {
            Destination::Exchange(b.destination.clone())
        } else {
            return missing(AmqpError::no_exchange(&b.destination, &vname));
        };
        if !add && !x.has_binding(&destination, &b.routing_key, &b.arguments) {
            return Ok(());
        }
        if let Destination::Queue(id, _) = destination {
            self.check_exclusive(id, ch, &vname)?;
        }
        let dest_durable = match &destination {
            Destination::Queue(id, _) => self.queue(*id).is_some_and(|q| self.persists_queue(q)),
            Destination::Exchange(n) => self
                .vhost_ref(v)
                .exchanges
                .get(n)
                .is_some_and(|x| x.durable),
        };
        let store = self.config.durable_store;
        let x = self
            .vhost_mut(v)
            .exchanges
            .get_mut(&b.source)
            .ok_or_else(|| AmqpError::no_exchange(&b.source, &vname))?;
        let durable = store && x.durable && dest_durable;
        if add {
            if x.kind == ExchangeKind::Headers {
                validate_x_match(&b.arguments)?;
            }
            if x.has_binding(&destination, &b.routing_key, &b.arguments) {
                return Ok(());
            }
            let topic = (x.kind == ExchangeKind::Topic).then(|| TopicPattern::new(&b.routing_key));
            x.bindings.push(Binding {
                destination,
                routing_key: b.routing_key.clone(),
                arguments: b.arguments.clone(),
                topic,
            });
            if durable {
                self.record_cold(StoreRecord::Binding {
                    vhost: ShortStr::truncated(&vname),
                    to_queue,
                    bind: b,
                });
            }
        } else {
            let before = x.bindings.len();
            x.bindings.retain(|bb| {
                !(bb.destination == destination
                    && bb.routing_key == b.routing_key
                    && bb.arguments == b.arguments)
            });
            let removed = x.bindings.len() < before;
            let emptied = x.auto_delete && x.bindings.is_empty() && removed;
            let source = x.name.clone();
            if removed && durable {
                self.record_cold(StoreRecord::Unbinding {
                    vhost: ShortStr::truncated(&vname),
                    to_queue,
                    bind: b,
                });
            }
            if emptied {
                self.remove_exchange(v, &source);
            }
        }
        Ok(())
    }

    /// The binding as a store record, when both of its ends are durable.
    pub(crate) fn durable_binding(
        &self,
        v: &Vhost,
        x: &Exchange,
        b: &Binding,
    ) -> Option<(bool, Bind)> {
        if !x.durable || x.name.is_empty() {
            return None;
        }
        let (to_queue, durable) = match &b.destination {
            Destination::Queue(id, _) => (
                true,
                self.queue(*id).is_some_and(|q| self.persists_queue(q)),
            ),
            Destination::Exchange(n) => (false, v.exchanges.get(n).is_some_and(|d| d.durable)),
        };
        durable.then(|| {
            (
                to_queue,
                Bind {
                    destination: b.destination.name().clone(),
                    source: x.name.clone(),
                    routing_key: b.routing_key.clone(),
                    arguments: b.arguments.clone(),
                },
            )
        })
    }

    /// Names of the queues in a vhost (for management views).
    pub fn queue_names(&self, vhost: &str) -> Vec<ShortStr> {
        let Some(v) = self.vhost_id(vhost) else {
            return Vec::new();
        };
        let mut names: Vec<ShortStr> = self.vhost_ref(v).queues.keys().cloned().collect();
        sort::sort(&mut names);
        names
    }
}

/// `x-message-deduplication` on an exchange, with its cache settings.
fn exchange_dedup(args: &FieldTable, what: &str) -> Result<Option<DedupCache>> {
    let parsed = QueueArgs::parse(args, what)?;
    Ok(parsed
        .dedup
        .map(|d| DedupCache::new(d.cache_size, d.cache_ttl_ms)))
}
