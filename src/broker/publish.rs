//! Publishing: routing through exchanges, enqueueing under each queue's
//! limits, mandatory returns, publisher confirms and transactions.

use super::access::{Perm, Resource};
use super::args::Overflow;
use super::channel::{CommitsOwed, Held, Mode, Pending};
use super::dead_letter::{is_cycle, DeadLetterReason};
use super::direct_reply::REPLY_TO_PREFIX;
use super::effect::Effect;
use super::engine::Broker;
use super::error::{AmqpError, ReplyCode, Result};
use super::event::{DropReason, EventKind};
use super::exchange::Destination;
use super::ids::{ChannelRef, MsgId, QueueId, VhostId};
use super::message::Message;
use super::queue::Entry;
use super::routing::ExchangeKind;
use super::store::StoreRecord;
use super::value::{FieldValue, ShortStr};

/// What one queue did with a message offered to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// Accepted; `Some(n)` when it waits for store record `n`.
    Accepted(Option<u64>),
    /// Accepted and handed to a consumer at once: nothing left to dispatch.
    Delivered(Option<u64>),
    /// A duplicate under deduplication: accepted and dropped.
    Duplicate,
    /// Refused by `reject-publish` overflow.
    Refused,
}

impl Broker {
    /// `basic.publish` with its content. `mandatory` messages that reach no
    /// queue come back as a `basic.return`. `immediate` is not supported, as
    /// in RabbitMQ (540).
    pub fn basic_publish(
        &mut self,
        now_ms: u64,
        ch: ChannelRef,
        message: Message,
        mandatory: bool,
        immediate: bool,
    ) -> Result<()> {
        let now = self.advance(now_ms);
        let r = self.publish_inner(now, ch, message, mandatory, immediate);
        self.fail(ch, r)
    }

    pub(crate) fn publish_inner(
        &mut self,
        now: u64,
        ch: ChannelRef,
        mut message: Message,
        mandatory: bool,
        immediate: bool,
    ) -> Result<()> {
        if immediate {
            return Err(AmqpError::not_implemented("immediate=true"));
        }
        if self.access_control {
            self.open_channel(ch)?;
            self.check_access(ch, Resource::Exchange, message.exchange(), Perm::Write)?;
            self.check_user_id(ch, message.properties.user_id.as_deref())?;
        }
        if !message.properties.is_unset() {
            if let Some(e) = message.properties.expiration.as_deref() {
                // RabbitMQ refuses what is not a non-negative integer, even
                // in a transaction.
                if e.parse::<u64>().is_err() {
                    return Err(AmqpError::precondition(format_args!(
                        "invalid expiration '{e}'"
                    )));
                }
            }
            self.set_reply_to(ch, &mut message)?;
        }
        let (v, channel) = self.vhost_and_channel(ch)?;
        if let Mode::Tx { publishes, .. } = &mut channel.mode {
            // Checked now so the client hears of a bad exchange at once.
            publishes.push((message, mandatory));
            let Some((m, _)) = publishes.last() else {
                return Ok(());
            };
            let exchange = ShortStr::truncated(m.exchange());
            return self.check_publishable(v, &exchange).map(|_| ());
        }
        let seq = channel.next_confirm_seq();
        self.publish_one(now, ch, v, message, mandatory, seq)
    }

    /// `publish_one` of a message whose route is the one queue `q` kept for
    /// its exchange and key, with events off: offered at once.
    #[inline(always)]
    pub(crate) fn publish_kept(
        &mut self,
        now: u64,
        ch: ChannelRef,
        q: QueueId,
        message: Message,
        seq: Option<u64>,
    ) {
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        let mut outcome = Pending::Ready(true);
        // A reply name is never kept as a route (see `publish_one`): no
        // reply to deliver here.
        self.offer(now, q, message, msg_id, &mut outcome);
        if seq.is_some() {
            self.settle_confirm(ch, seq, outcome);
        }
    }

    /// A client may publish to `exchange`: it exists and is not internal.
    /// Returns whether the exchange deduplicates.
    fn check_publishable(&self, v: VhostId, exchange: &str) -> Result<bool> {
        let vname = self.vhost_name(v);
        match self.vhost_ref(v).exchanges.get(exchange) {
            None => Err(AmqpError::no_exchange(exchange, vname)),
            Some(x) if x.internal => Err(AmqpError::access_refused(format_args!(
                "cannot publish to internal exchange '{exchange}' in vhost '{vname}'"
            ))),
            Some(x) => Ok(x.dedup.is_some()),
        }
    }

    /// Routes and enqueues one publish; settles its confirm (`seq`).
    pub(crate) fn publish_one(
        &mut self,
        now: u64,
        ch: ChannelRef,
        v: VhostId,
        mut message: Message,
        mandatory: bool,
        seq: Option<u64>,
    ) -> Result<()> {
        // BCC routes but is never seen by consumers.
        let bcc = if message.properties.is_unset() {
            None
        } else {
            match message.properties.header("BCC") {
                Some(_) => message
                    .properties
                    .make_mut()
                    .headers
                    .as_mut()
                    .and_then(|h| h.remove("BCC")),
                None => None,
            }
        };
        // One queue kept for this exchange and key, the usual case: offered
        // at once, without the scratch list of targets. It is never a
        // deduplicating exchange nor a mandatory publish that reached nothing;
        // with events recorded, the general path below says what was routed.
        if let Some(&[q]) = self.cached_route(v, &message, bcc.as_ref()) {
            if !self.config.events {
                self.publish_kept(now, ch, q, message, seq);
                return Ok(());
            }
        }
        let mut targets = std::mem::take(&mut self.route_scratch);
        targets.clear();
        // The default exchange is in every vhost, never internal and never
        // deduplicating (declare, delete and bind refuse it): no check.
        let dedup = if let Some(queues) = self.cached_route(v, &message, bcc.as_ref()) {
            targets.extend_from_slice(queues);
            false
        } else if message.to_default_exchange() {
            // A reply name (`amq.rabbitmq.reply-to.*`) is not kept, so that
            // a route kept never needs the look for a reply consumer.
            if self.route(v, &message, bcc.as_ref(), &mut targets)
                && !message
                    .routing_key_bytes()
                    .starts_with(REPLY_TO_PREFIX.as_bytes())
            {
                self.route_cache.set(v, &message, &targets);
            }
            false
        } else {
            match self.route_publish(v, &message, bcc.as_ref(), &mut targets) {
                Ok(dedup) => dedup,
                Err(e) => {
                    self.route_scratch = targets;
                    return Err(e);
                }
            }
        };
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        self.event(|| EventKind::Published {
            msg: msg_id,
            channel: Some(ch),
            exchange: ShortStr::truncated(message.exchange()),
            routing_key: ShortStr::truncated(message.routing_key()),
            size: message.body().len(),
            persistent: message.persistent(),
            confirm_seq: seq,
        });
        if dedup {
            if self.exchange_drops_duplicate(v, &message, now) {
                self.event_cold(|| EventKind::Dropped {
                    msg: msg_id,
                    queue: ShortStr::empty(),
                    reason: DropReason::Duplicate,
                });
                self.route_scratch = targets;
                self.settle_confirm(ch, seq, Pending::Ready(true));
                return Ok(());
            }
            self.route(v, &message, bcc.as_ref(), &mut targets);
        }
        if self.config.events {
            let queues = targets
                .iter()
                .filter_map(|q| self.queue(*q).map(|q| q.name.clone()))
                .collect();
            self.event(|| EventKind::Routed {
                msg: msg_id,
                queues,
            });
        }
        let mut outcome = Pending::Ready(true);
        let replied = message.to_default_exchange()
            && message
                .routing_key_bytes()
                .starts_with(REPLY_TO_PREFIX.as_bytes())
            && self.deliver_reply(&message);
        if targets.is_empty() && mandatory && !replied {
            self.emit(Effect::Return {
                to: ch,
                reply_code: ReplyCode::NoRoute.code(),
                reply_text: ShortStr::truncated("NO_ROUTE"),
                message: message.clone(),
            });
            self.event_cold(|| EventKind::Returned { msg: msg_id });
        }
        // The last queue takes the message itself: one copy fewer to count
        // and drop.
        if let Some((&last, rest)) = targets.split_last() {
            for &q in rest {
                self.offer(now, q, message.clone(), msg_id, &mut outcome);
            }
            self.offer(now, last, message, msg_id, &mut outcome);
        }
        self.route_scratch = targets;
        self.settle_confirm(ch, seq, outcome);
        Ok(())
    }

    /// Enqueues a routed message on one queue and dispatches the queue
    /// unless it went to a consumer at once; `outcome` is its confirm's.
    #[inline]
    fn offer(
        &mut self,
        now: u64,
        q: QueueId,
        message: Message,
        msg_id: MsgId,
        outcome: &mut Pending,
    ) {
        let r = self.enqueue(now, q, message, msg_id);
        match r {
            Enqueued::Refused => {
                *outcome = Pending::Ready(false);
                self.publish_refused = true;
            }
            Enqueued::Accepted(Some(n)) | Enqueued::Delivered(Some(n))
                if *outcome != Pending::Ready(false) =>
            {
                *outcome = Pending::Durable(n)
            }
            _ => {}
        }
        if !matches!(r, Enqueued::Delivered(_)) {
            self.dispatch_after_enqueue(q);
        }
    }

    fn exchange_drops_duplicate(&mut self, v: VhostId, message: &Message, now: u64) -> bool {
        let Some(x) = self.vhost_mut(v).exchanges.get_mut(message.exchange()) else {
            return false;
        };
        if x.dedup.is_none() {
            return false;
        }
        let header = x
            .arguments
            .get("x-deduplication-header")
            .and_then(FieldValue::as_str)
            .map(str::to_owned);
        // The message's own `x-cache-ttl` header, if any, sets its key's TTL.
        x.dedup
            .as_mut()
            .is_some_and(|cache| cache.is_duplicate_message(message, header.as_deref(), now))
    }

    /// Routes a client's publish to a named exchange into `out`. The exchange
    /// must exist and not be internal, which the look-up that routes checks.
    /// Returns whether it deduplicates: then nothing is routed yet, for the
    /// caller looks for a duplicate first.
    fn route_publish(
        &mut self,
        v: VhostId,
        message: &Message,
        bcc: Option<&FieldValue>,
        out: &mut Vec<QueueId>,
    ) -> Result<bool> {
        let name = message.exchange();
        let keyed = match self.vhost_ref(v).exchanges.get(name) {
            Some(x) if !x.internal && x.dedup.is_none() => {
                self.route_via(v, message, bcc, Some((name, x)), out)
            }
            _ => return self.check_publishable(v, name),
        };
        if keyed {
            self.route_cache.set(v, message, out);
        }
        Ok(false)
    }

    /// The queues of a publish, when they were kept for its exchange and
    /// routing key (see `route_cache`).
    /// Always inlined: called twice in `publish_one`, it otherwise stays a
    /// call on every publish.
    #[inline(always)]
    fn cached_route(
        &self,
        v: VhostId,
        message: &Message,
        bcc: Option<&FieldValue>,
    ) -> Option<&[QueueId]> {
        if !message.properties.is_unset()
            && (bcc.is_some() || message.properties.header("CC").is_some())
        {
            return None;
        }
        self.route_cache.get(v, message)
    }

    /// Collects the queues a message reaches: bindings (exchange to exchange
    /// included), CC/BCC routing keys, and alternate exchanges when an
    /// exchange routes nowhere. True when they depend only on the exchange
    /// and the routing key (see `route_via`).
    pub(crate) fn route(
        &self,
        v: VhostId,
        message: &Message,
        bcc: Option<&FieldValue>,
        out: &mut Vec<QueueId>,
    ) -> bool {
        // Most publishes: the default exchange, one routing key (no CC or
        // BCC), so one look-up, without the general walk's setup.
        if message.to_default_exchange()
            && bcc.is_none()
            && message.properties.header("CC").is_none()
        {
            if let Some(&q) = self.vhost_ref(v).queues.get(message.routing_key()) {
                if !out.contains(&q) {
                    out.push(q);
                }
            }
            return true;
        }
        self.route_via(v, message, bcc, None, out)
    }

    /// [`route`](Self::route), given the message's exchange when the caller
    /// has looked it up already. True when the queues reached depend only on
    /// the exchange and the routing key (no CC or BCC, no headers exchange,
    /// no second exchange), so the route may be kept (see `route_cache`).
    fn route_via(
        &self,
        v: VhostId,
        message: &Message,
        bcc: Option<&FieldValue>,
        found: Option<(&str, &super::exchange::Exchange)>,
        out: &mut Vec<QueueId>,
    ) -> bool {
        let vhost = self.vhost_ref(v);
        let cc = message.properties.header("CC");
        let single = [message.routing_key()];
        let mut extra: Vec<&str> = Vec::new();
        if cc.is_some() || bcc.is_some() {
            extra.push(message.routing_key());
            for list in [cc, bcc].into_iter().flatten() {
                if let Some(items) = list.as_array() {
                    extra.extend(items.iter().filter_map(FieldValue::as_str));
                }
            }
        }
        // Most publishes carry one routing key: no allocation for them.
        let keys: &[&str] = if extra.is_empty() { &single } else { &extra };
        let headers = message.properties.headers.as_ref();
        if message.to_default_exchange() {
            // The default exchange binds every queue by its name.
            for k in keys {
                if let Some(&q) = vhost.queues.get(*k) {
                    if !out.contains(&q) {
                        out.push(q);
                    }
                }
            }
            return false;
        }
        // The exchanges reached beyond the first (bindings between exchanges,
        // alternate exchanges) go through `pending` and `visited`: most
        // publishes reach none, and allocate nothing.
        let first = found.map_or_else(|| message.exchange(), |(name, _)| name);
        let mut known = found.map(|(_, x)| x);
        let mut visited: Vec<&str> = Vec::new();
        let mut pending: Vec<&str> = Vec::new();
        let mut next = Some(first);
        let mut keyed = extra.is_empty();
        while let Some(name) = next {
            if let Some(x) = known.take().or_else(|| vhost.exchanges.get(name)) {
                keyed &= x.kind != ExchangeKind::Headers;
                let mut routed = false;
                x.route(keys, headers, |d| {
                    routed = true;
                    match d {
                        Destination::Queue(q, _) => {
                            if !out.contains(q) {
                                out.push(*q);
                            }
                        }
                        Destination::Exchange(n) => pending.push(n.as_str()),
                    }
                });
                if !routed {
                    if let Some(ae) = x.alternate() {
                        pending.push(ae);
                    }
                }
            }
            next = loop {
                match pending.pop() {
                    Some(n) if n == first || visited.contains(&n) => {}
                    Some(n) => {
                        visited.push(n);
                        break Some(n);
                    }
                    None => break None,
                }
            };
        }
        keyed && visited.is_empty()
    }

    /// A queue past its length limit with `drop-head` overflow (a limit
    /// lowered by a policy, messages requeued) drops or dead-letters from its
    /// head until within it; with `reject-publish` it keeps them and refuses
    /// new ones. Both as RabbitMQ does.
    pub(crate) fn enforce_limits(&mut self, id: QueueId) {
        loop {
            let Some(q) = self.queue_mut(id) else {
                return;
            };
            if q.args.overflow != Overflow::DropHead || !q.over_limit(0, 0) {
                return;
            }
            let Some(e) = q.pop_ready() else {
                return;
            };
            self.dead_letter(id, e, DeadLetterReason::MaxLen);
        }
    }

    /// Offers a message to one queue: deduplication, then the length limit and
    /// its overflow mode, then a consumer with room or the ready list. Unless
    /// it was delivered at once, the caller dispatches the queue next (see
    /// [`dispatch`](Self::dispatch)), which also pages.
    pub(crate) fn enqueue(
        &mut self,
        now: u64,
        q: QueueId,
        msg: Message,
        msg_id: MsgId,
    ) -> Enqueued {
        let persist = msg.persistent() && self.queue(q).is_some_and(|q| self.persists_queue(q));
        let crash_below = self.crash_below;
        let Some(queue) = self.queue_mut(q) else {
            return Enqueued::Refused;
        };
        if let Some(cache) = &mut queue.dedup {
            let header = queue.args.dedup.as_ref().and_then(|d| d.header.clone());
            // The message's own `x-cache-ttl` header, if any, sets its key's TTL.
            if cache.is_duplicate_message(&msg, header.as_deref(), now) {
                let queue = queue.name.clone();
                self.event(|| EventKind::Dropped {
                    msg: msg_id,
                    queue,
                    reason: DropReason::Duplicate,
                });
                return Enqueued::Duplicate;
            }
        }
        queue.stats.published += 1;
        let expires_at = queue.expiry_for(&msg, now);
        let mut entry = Entry {
            seq: 0,
            msg_id,
            msg,
            // A dead-lettered copy of a message recovered after a crash
            // (copies keep the original's id) may repeat one delivered
            // before it: flagged, as the recovered messages are.
            deliveries: u16::from(msg_id < crash_below),
            failed: 0,
            expires_at,
        };
        if queue.has_length_limit() && queue.over_limit(1, entry.size()) {
            match queue.args.overflow {
                Overflow::DropHead => {
                    // RabbitMQ adds the message, then drops from the head (the
                    // next to deliver) while over the limit. So a message of a
                    // higher priority than any ready is the head itself.
                    let level = queue.ready.level_index(queue.priority_of(&entry.msg));
                    let mut dropped = Vec::new();
                    while queue.over_limit(1, entry.size()) {
                        if queue.ready.head_level().map_or(true, |head| level > head) {
                            break;
                        }
                        match queue.pop_ready() {
                            Some(e) => dropped.push(e),
                            None => break,
                        }
                    }
                    let fits = !queue.over_limit(1, entry.size());
                    for e in dropped {
                        self.dead_letter(q, e, DeadLetterReason::MaxLen);
                    }
                    // The new message is the head (x-max-length 0, a body over
                    // x-max-length-bytes, a higher priority): it goes, unless a
                    // consumer is ready to take it at once, as in RabbitMQ.
                    if !fits && self.pick_consumer(q).is_none() {
                        self.dead_letter(q, entry, DeadLetterReason::MaxLen);
                        return Enqueued::Accepted(None);
                    }
                }
                Overflow::RejectPublish | Overflow::RejectPublishDlx => {
                    let dlx = queue.args.overflow == Overflow::RejectPublishDlx;
                    if let Some(cache) = &mut queue.dedup {
                        let header = queue.args.dedup.as_ref().and_then(|d| d.header.clone());
                        cache.forget_message(&entry.msg, header.as_deref());
                    }
                    let name = queue.name.clone();
                    self.event(|| EventKind::Refused {
                        msg: msg_id,
                        queue: name,
                    });
                    if dlx {
                        self.dead_letter(q, entry, DeadLetterReason::MaxLen);
                    }
                    return Enqueued::Refused;
                }
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        entry.seq = seq;
        let record = persist.then(|| self.message_record(q, &entry)).flatten();
        let waits_for = record.map(|r| self.record(r));
        if expires_at != super::queue::NEVER {
            self.schedule(expires_at);
        }
        if self.config.events {
            let queue = self.queue_name(q);
            self.event(|| EventKind::Enqueued { msg: msg_id, queue });
        }
        let Some(entry) = self.deliver_at_once(q, entry) else {
            return Enqueued::Delivered(waits_for);
        };
        if let Some(queue) = self.queue_mut(q) {
            queue.push_ready(entry);
        }
        // No paging here: the caller dispatches next, which pages out or
        // reads ahead once for both.
        Enqueued::Accepted(waits_for)
    }

    pub(crate) fn message_record(&self, q: QueueId, e: &Entry) -> Option<StoreRecord> {
        let queue = self.queue(q)?;
        Some(StoreRecord::Message {
            vhost: self.vhost_ref(queue.vhost).name.clone(),
            queue: queue.name.clone(),
            seq: e.seq,
            msg_id: e.msg_id,
            deliveries: e.deliveries.into(),
            expires_at: e.expires_at,
            message: e.msg.clone(),
        })
    }

    /// Routes a dead-lettered message from queue `from` through `dlx`. Messages
    /// that would return to a queue they died in without a rejection along the
    /// way are dropped, as RabbitMQ does, so cycles end.
    ///
    /// Dead letters caused while one is being routed (a full queue on the way
    /// dropping its head, say) wait in a queue and are routed after it, so a
    /// long chain of dead-letter queues cannot overflow the stack.
    pub(crate) fn route_dead_letter(
        &mut self,
        from: &ShortStr,
        v: VhostId,
        message: Message,
        msg_id: MsgId,
    ) {
        self.dead_letters
            .push_back((from.clone(), v, message, msg_id));
        if self.routing_dead_letters {
            return;
        }
        self.routing_dead_letters = true;
        while let Some((from, v, message, msg_id)) = self.dead_letters.pop_front() {
            self.route_one_dead_letter(&from, v, message, msg_id);
        }
        self.routing_dead_letters = false;
    }

    fn route_one_dead_letter(
        &mut self,
        from: &ShortStr,
        v: VhostId,
        message: Message,
        msg_id: MsgId,
    ) {
        let now = self.now;
        // An internal exchange is fine: it only refuses clients' publishes.
        if !self.vhost_ref(v).exchanges.contains_key(message.exchange()) {
            self.event_cold(|| EventKind::Dropped {
                msg: msg_id,
                queue: from.clone(),
                reason: DropReason::DeadLetterFailed,
            });
            return;
        }
        let mut targets = Vec::new();
        self.route(v, &message, None, &mut targets);
        targets.retain(|q| {
            self.queue(*q)
                .is_some_and(|queue| !is_cycle(&message, &queue.name))
        });
        if targets.is_empty() {
            self.event_cold(|| EventKind::Dropped {
                msg: msg_id,
                queue: from.clone(),
                reason: DropReason::DeadLetterFailed,
            });
            return;
        }
        for q in targets {
            // At once, as for a publish: a TTL of 0 still reaches a consumer
            // that is ready now (the timers would expire it first).
            if !matches!(
                self.enqueue(now, q, message.clone(), msg_id),
                Enqueued::Delivered(_)
            ) {
                self.dispatch_after_enqueue(q);
            }
        }
    }

    // ---- confirms ----------------------------------------------------------

    /// Records the outcome of publish `seq` (if the channel is in confirm mode).
    fn settle_confirm(&mut self, ch: ChannelRef, seq: Option<u64>, outcome: Pending) {
        let Some(seq) = seq else {
            return;
        };
        if let Some(Mode::Confirm { pending, .. }) = self.channel_mut(ch).map(|c| &mut c.mode) {
            let first = pending.is_empty();
            pending.push_back((seq, outcome));
            if first {
                self.confirm_dirty.push(ch);
            }
        }
    }

    /// Sends the decided confirms at the front of a channel's queue, in order,
    /// one `multiple` confirm per run of the same outcome.
    pub(crate) fn release_confirms(&mut self, ch: ChannelRef) {
        let durable = self.store_durable;
        let Some(channel) = self.channel_mut(ch) else {
            return;
        };
        let Mode::Confirm { pending, .. } = &mut channel.mode else {
            return;
        };
        let mut runs: Vec<(u64, u64, bool)> = Vec::new(); // (first, last, ack)
        while let Some(&(seq, p)) = pending.front() {
            let ack = match p {
                Pending::Ready(ack) => ack,
                Pending::Durable(n) if n <= durable => true,
                Pending::Durable(_) => break,
            };
            pending.pop_front();
            match runs.last_mut() {
                Some(run) if run.2 == ack && run.1 + 1 == seq => run.1 = seq,
                _ => runs.push((seq, seq, ack)),
            }
        }
        for (first, last, ack) in runs {
            self.emit(Effect::Confirm {
                to: ch,
                delivery_tag: last,
                multiple: last > first,
                ack,
            });
            if self.config.events {
                for seq in first..=last {
                    self.event(|| EventKind::Confirmed { to: ch, seq, ack });
                }
            }
        }
    }

    pub fn confirm_select(&mut self, now_ms: u64, ch: ChannelRef) -> Result<()> {
        self.advance(now_ms);
        let r = self.open_channel(ch).and_then(|c| match c.mode {
            Mode::Tx { .. } => Err(AmqpError::precondition(
                "cannot switch from tx to confirm mode",
            )),
            Mode::Confirm { .. } => Ok(()),
            Mode::Plain => {
                c.mode = Mode::Confirm {
                    next_seq: 1,
                    pending: Default::default(),
                };
                Ok(())
            }
        });
        self.fail(ch, r)
    }

    // ---- transactions ------------------------------------------------------

    pub fn tx_select(&mut self, now_ms: u64, ch: ChannelRef) -> Result<()> {
        self.advance(now_ms);
        let r = self.open_channel(ch).and_then(|c| match c.mode {
            Mode::Confirm { .. } => Err(AmqpError::precondition(
                "cannot switch from confirm to tx mode",
            )),
            Mode::Tx { .. } => Ok(()),
            Mode::Plain => {
                c.mode = Mode::Tx {
                    publishes: Vec::new(),
                    settles: Vec::new(),
                    held: Held::default(),
                    owed: CommitsOwed::default(),
                };
                Ok(())
            }
        });
        self.fail(ch, r)
    }

    /// Applies the transaction's publishes, then its acks, in the order they
    /// came; `Effect::TxCommitOk` answers it, after the returns of mandatory
    /// publishes, once the store records it made are durable. A publish a
    /// queue refused (`reject-publish`) fails the commit once all is
    /// applied, as RabbitMQ does: 406 `partial tx completion`, which closes
    /// the channel.
    pub fn tx_commit(&mut self, now_ms: u64, ch: ChannelRef) -> Result<()> {
        let now = self.advance(now_ms);
        let r = self.tx_commit_inner(now, ch);
        self.fail(ch, r)
    }

    fn tx_commit_inner(&mut self, now: u64, ch: ChannelRef) -> Result<()> {
        let v = self.conn_vhost(ch.conn)?;
        let (publishes, settles, _) = self.take_tx(ch)?;
        let emitted = self.store_emitted;
        self.publish_refused = false;
        for (message, mandatory) in publishes {
            self.publish_one(now, ch, v, message, mandatory, None)?;
        }
        for s in settles {
            self.apply_settle(ch, s)?;
        }
        if std::mem::take(&mut self.publish_refused) {
            return Err(AmqpError::precondition("partial tx completion"));
        }
        let (until, durable) = (self.store_emitted, self.store_durable);
        if let Mode::Tx { owed, .. } = &mut self.open_channel(ch)?.mode {
            let waits = until > emitted && until > durable;
            if waits || owed.count > 0 {
                if waits {
                    owed.until = until;
                }
                owed.count += 1;
                return Ok(());
            }
        }
        self.emit(Effect::TxCommitOk { to: ch });
        Ok(())
    }

    /// Drops the transaction's publishes and settles: what it settled is
    /// outstanding again.
    pub fn tx_rollback(&mut self, now_ms: u64, ch: ChannelRef) -> Result<()> {
        self.advance(now_ms);
        let r = self.take_tx(ch).map(|_| ());
        self.fail(ch, r)
    }

    #[allow(clippy::type_complexity)]
    fn take_tx(
        &mut self,
        ch: ChannelRef,
    ) -> Result<(Vec<(Message, bool)>, Vec<super::channel::Settle>, Held)> {
        match &mut self.open_channel(ch)?.mode {
            Mode::Tx {
                publishes,
                settles,
                held,
                ..
            } => Ok((
                std::mem::take(publishes),
                std::mem::take(settles),
                std::mem::take(held),
            )),
            _ => Err(AmqpError::precondition("channel is not transactional")),
        }
    }
}
