//! Consumers and deliveries: consume, cancel, get, prefetch, flow, and the
//! dispatch loop that hands ready messages to consumers with room.

use super::access::{Perm, Resource};
use super::args::consumer_args;
use super::channel::Unacked;
use super::command::{Consume, Qos};
use super::direct_reply::REPLY_TO;
use super::effect::Effect;
use super::engine::Broker;
use super::error::{AmqpError, ReplyCode, Result};
use super::event::EventKind;
use super::ids::{ChannelRef, QueueId};
use super::message::Message;
use super::queue::{Entry, QueueConsumer, NEVER};
use super::store::StoreRecord;
use super::value::{FieldValue, ShortStr};

/// Deliveries one queue makes in one dispatch round. A consumer without a
/// prefetch limit (automatic acknowledgment, or prefetch 0) on a long backlog
/// gets it in rounds, one per [`poll`](Broker::poll), as RabbitMQ's queues
/// deliver in bounded batches: no step builds an unbounded output, and the
/// host writes, reads and runs timers between rounds.
pub const DISPATCH_ROUND: usize = 1024;

impl Broker {
    /// `basic.consume`: returns the consumer tag (generated when empty).
    /// Deliveries start at the next [`poll`](Broker::poll), after the reply.
    pub fn basic_consume(&mut self, now_ms: u64, ch: ChannelRef, c: Consume) -> Result<ShortStr> {
        let now = self.advance(now_ms);
        let r = self.consume_inner(now, ch, c);
        self.fail(ch, r)
    }

    fn consume_inner(&mut self, now: u64, ch: ChannelRef, mut c: Consume) -> Result<ShortStr> {
        let prefetch = self.open_channel(ch)?.consumer_prefetch;
        c.queue = self.queue_shortcut(ch, c.queue)?;
        if c.queue.as_str() == REPLY_TO {
            return self.consume_reply_to(ch, &c.consumer_tag, c.no_ack);
        }
        self.check_access(ch, Resource::Queue, &c.queue, Perm::Read)?;
        let q = self.find_queue(ch, &c.queue)?;
        let vname = self.vhost_name(self.conn_vhost(ch.conn)?).to_owned();
        let what = format!("queue '{}' in vhost '{vname}'", c.queue);
        let (priority, timeout) = consumer_args(&c.arguments, &what)?;
        let tag = if c.consumer_tag.is_empty() {
            self.generate_name("amq.ctag-")
        } else {
            c.consumer_tag.clone()
        };
        let channel = self.open_channel(ch)?;
        let reply_tag = channel.reply_consumer.as_ref().map(|(t, _)| t);
        if channel.consumers.iter().any(|(_, t)| *t == tag) || reply_tag == Some(&tag) {
            return Err(AmqpError::new(
                ReplyCode::NotAllowed,
                format_args!("attempt to reuse consumer tag '{tag}'"),
            ));
        }
        // Taken from the channel once the consumer exists (below).
        let id = channel.next_consumer_id.max(1);
        let queue = self
            .queue_mut(q)
            .ok_or_else(|| AmqpError::not_found(&what))?;
        if queue.consumers.iter().any(|x| x.exclusive)
            || (c.exclusive && !queue.consumers.is_empty())
        {
            return Err(AmqpError::access_refused(format_args!(
                "{what} in exclusive use"
            )));
        }
        queue.turns += 1;
        queue.consumers.push(QueueConsumer {
            tag: tag.clone(),
            channel: ch,
            id,
            no_ack: c.no_ack,
            exclusive: c.exclusive,
            prefetch,
            unacked: 0,
            priority,
            timeout_ms: timeout,
            turn: queue.turns,
            blocked: false,
        });
        queue.had_consumer = true;
        queue.last_used = now;
        let name = queue.name.clone();
        if let Some(channel) = self.channel_mut(ch) {
            channel.take_consumer_id();
            channel.consumers.push((q, tag.clone()));
        }
        self.mark_dirty(q);
        let t = tag.clone();
        self.event_cold(|| EventKind::ConsumerAdded {
            queue: name,
            to: ch,
            consumer_tag: t,
        });
        Ok(tag)
    }

    /// `basic.cancel`: the consumer stops; its deliveries stay ackable. An
    /// unknown tag is not an error (RabbitMQ answers cancel-ok).
    pub fn basic_cancel(&mut self, now_ms: u64, ch: ChannelRef, consumer_tag: &str) -> Result<()> {
        self.advance(now_ms);
        if self.cancel_reply_to(ch, consumer_tag) {
            return Ok(());
        }
        let r = self.open_channel(ch).map(|c| {
            let at = c
                .consumers
                .iter()
                .position(|(_, t)| t.as_str() == consumer_tag);
            at.map(|i| c.consumers.remove(i))
        });
        let r = r.map(|found| {
            if let Some((q, tag)) = found {
                self.remove_consumer(q, &tag, ch);
            }
        });
        self.fail(ch, r)
    }

    /// Takes a consumer off its queue; an auto-delete queue goes with its
    /// last consumer.
    pub(crate) fn remove_consumer(&mut self, q: QueueId, tag: &ShortStr, ch: ChannelRef) {
        let now = self.now;
        let Some(queue) = self.queue_mut(q) else {
            return;
        };
        let Some(at) = queue
            .consumers
            .iter()
            .position(|c| c.tag == *tag && c.channel == ch)
        else {
            return;
        };
        queue.consumers.remove(at);
        queue.last_used = now;
        let delete = queue.auto_delete && queue.consumers.is_empty() && queue.had_consumer;
        let expires = queue.args.expires.filter(|_| queue.consumers.is_empty());
        let name = queue.name.clone();
        // Single active consumer: the next one takes over what is ready.
        self.mark_dirty(q);
        if let Some(ms) = expires {
            self.schedule(now.saturating_add(ms));
        }
        self.event_cold(|| EventKind::ConsumerRemoved {
            queue: name,
            to: ch,
            consumer_tag: tag.clone(),
        });
        if delete {
            self.delete_queue(q);
        }
    }

    /// `basic.get`: answers with a `GetOk` or `GetEmpty` effect.
    pub fn basic_get(
        &mut self,
        now_ms: u64,
        ch: ChannelRef,
        queue: &str,
        no_ack: bool,
    ) -> Result<()> {
        let now = self.advance(now_ms);
        let r = self.get_inner(now, ch, queue, no_ack);
        self.fail(ch, r)
    }

    fn get_inner(&mut self, now: u64, ch: ChannelRef, queue: &str, no_ack: bool) -> Result<()> {
        self.open_channel(ch)?;
        let queue = self.queue_shortcut(ch, ShortStr::truncated(queue))?;
        self.check_access(ch, Resource::Queue, &queue, Perm::Read)?;
        let q = self.find_queue(ch, &queue)?;
        let entry = loop {
            let Some(queue) = self.queue_mut(q) else {
                break None;
            };
            queue.last_used = now;
            match queue.pop_ready() {
                Some(e) if e.expires_at <= now => self.expire(q, e),
                other => break other,
            }
        };
        let Some(entry) = entry else {
            self.emit(Effect::GetEmpty { to: ch });
            return Ok(());
        };
        self.page_service(q);
        let message_count = self.queue(q).map_or(0, |q| q.message_count());
        let handed = self.hand_out(q, ch, None, no_ack, NEVER, entry, false);
        let (tag, redelivered, message) = match handed {
            Ok(out) => out,
            // The channel is gone (never, once `open_channel` passed): the
            // message stays where it was.
            Err(entry) => {
                if let Some(queue) = self.queue_mut(q) {
                    queue.push_ready(entry);
                }
                self.emit(Effect::GetEmpty { to: ch });
                return Ok(());
            }
        };
        self.emit(Effect::GetOk {
            to: ch,
            delivery_tag: tag,
            redelivered,
            message_count,
            message,
        });
        Ok(())
    }

    /// `basic.qos`. `prefetch_size` is not supported, as in RabbitMQ (540).
    pub fn basic_qos(&mut self, now_ms: u64, ch: ChannelRef, qos: Qos) -> Result<()> {
        self.advance(now_ms);
        let r = self.qos_inner(ch, qos);
        self.fail(ch, r)
    }

    fn qos_inner(&mut self, ch: ChannelRef, qos: Qos) -> Result<()> {
        if qos.prefetch_size != 0 {
            return Err(AmqpError::not_implemented(format_args!(
                "prefetch_size!=0 ({})",
                qos.prefetch_size
            )));
        }
        let c = self.open_channel(ch)?;
        if qos.global {
            c.channel_prefetch = qos.prefetch_count;
        } else {
            // As RabbitMQ: a prefetch for new consumers lifts the channel's
            // own limit (set it after them to have both).
            c.consumer_prefetch = qos.prefetch_count;
            c.channel_prefetch = 0;
        }
        self.wake_channel_queues(ch);
        Ok(())
    }

    /// `channel.flow`: pauses or resumes deliveries to the channel.
    pub fn channel_flow(&mut self, now_ms: u64, ch: ChannelRef, active: bool) -> Result<bool> {
        self.advance(now_ms);
        let r = self.open_channel(ch).map(|c| {
            c.flow_active = active;
            c.consumers.iter().map(|(q, _)| *q).collect::<Vec<_>>()
        });
        let r = r.map(|queues| {
            for q in queues {
                self.mark_dirty(q);
            }
            active
        });
        self.fail(ch, r)
    }

    // ---- dispatch ----------------------------------------------------------

    /// Hands ready messages to consumers with room until one side runs
    /// out or [`DISPATCH_ROUND`] have gone, then pages out or reads ahead as
    /// the queue now needs. False when the round ended with messages still
    /// deliverable: the caller puts the queue back for the next poll.
    pub(crate) fn dispatch(&mut self, q: QueueId) -> bool {
        let done = self.dispatch_ready(q);
        self.page_service(q);
        done
    }

    /// [`dispatch`](Self::dispatch) after a publish or a dead-lettering into
    /// `q`: a queue already waiting for the next poll gets no extra round
    /// here, so a burst of publishes to a backlog adds no deliveries to the
    /// step beyond the poll's own round.
    pub(crate) fn dispatch_after_enqueue(&mut self, q: QueueId) {
        // Behind a backlog whose consumers are full, a pass would find no
        // room: only whatever gives room (an ack, a qos, a new consumer)
        // marks the queue dirty for one.
        let waits = self.queue(q).is_some_and(|queue| queue.waits_for_room);
        if waits || self.dirty.contains(&q) {
            self.page_service(q);
        } else if !self.dispatch(q) {
            self.dirty.push(q);
        }
    }

    fn dispatch_ready(&mut self, q: QueueId) -> bool {
        let now = self.now;
        // Expired entries dropped on the way count too: each is work.
        for _ in 0..DISPATCH_ROUND {
            let Some(queue) = self.queue(q) else {
                return true;
            };
            if queue.ready.is_empty() || queue.consumers.is_empty() {
                return true;
            }
            let Some(at) = self.pick_consumer(q) else {
                self.block_passed(q, None);
                if let Some(queue) = self.queue_mut(q) {
                    queue.waits_for_room = true;
                }
                return true;
            };
            let Some(queue) = self.queue_mut(q) else {
                return true;
            };
            queue.block_passed(Some(at));
            queue.waits_for_room = false;
            let Some(entry) = queue.pop_ready() else {
                return true;
            };
            // Due now but not yet run by the timers: a TTL of 0 still reaches
            // a consumer that is ready at the moment of publishing.
            if entry.expires_at < now {
                self.expire(q, entry);
                continue;
            }
            if let Err(entry) = self.deliver_to(q, at, entry, false) {
                if let Some(queue) = self.queue_mut(q) {
                    queue.push_ready(entry);
                }
                return true;
            }
        }
        // The round is used up: done only if nothing more could go now.
        let Some(queue) = self.queue(q) else {
            return true;
        };
        queue.ready.is_empty() || queue.consumers.is_empty() || self.pick_consumer(q).is_none()
    }

    /// Hands a message just enqueued straight to a consumer when nothing is
    /// waiting before it and one has room: it never enters the ready list.
    /// Gives the entry back otherwise.
    pub(crate) fn deliver_at_once(&mut self, q: QueueId, entry: Entry) -> Option<Entry> {
        let queue = self.queue(q)?;
        if !queue.ready.is_empty() || queue.consumers.is_empty() {
            return Some(entry);
        }
        // The only candidate: its room is checked on the way, with the one
        // look-up of its channel that handing out makes anyway.
        if queue.consumers.len() == 1 || queue.args.single_active_consumer {
            return self.deliver_to(q, 0, entry, true).err();
        }
        let picked = self.pick_consumer(q);
        self.block_passed(q, picked);
        let Some(at) = picked else {
            return Some(entry);
        };
        self.deliver_to(q, at, entry, false).err()
    }

    /// Delivers an entry to the consumer at `at` in the queue's list, which
    /// has room, or, with `check_room`, may have (the room is checked here);
    /// the entry comes back if the consumer is gone or has no room.
    fn deliver_to(
        &mut self,
        q: QueueId,
        at: usize,
        entry: Entry,
        check_room: bool,
    ) -> Result<(), Entry> {
        let now = self.now;
        let default_timeout = self.config.consumer_timeout_ms;
        let Some(queue) = self.queue(q) else {
            return Err(entry);
        };
        let queue_timeout = queue.args.consumer_timeout;
        let Some(c) = queue.consumers.get(at) else {
            return Err(entry);
        };
        // The consumer's own limit; its channel's is checked in hand_out.
        if check_room && !c.no_ack && c.prefetch != 0 && c.unacked >= u32::from(c.prefetch) {
            return Err(entry);
        }
        let (tag, id, no_ack, ch) = (c.tag.clone(), c.id, c.no_ack, c.channel);
        let timeout = c.timeout_ms.or(queue_timeout).or(default_timeout);
        let deadline = timeout.map_or(NEVER, |t| now.saturating_add(t));
        let (delivery_tag, redelivered, message) = self.hand_out(
            q,
            ch,
            Some((at, id, &tag)),
            no_ack,
            deadline,
            entry,
            check_room,
        )?;
        self.emit(Effect::Deliver {
            to: ch,
            consumer_tag: tag,
            delivery_tag,
            redelivered,
            message,
        });
        Ok(())
    }

    /// The consumer that gets the next message: of those with room, the
    /// highest priority, and of those the one at the front of the round
    /// (see `Queue::turns`); with single active consumer, only the first.
    pub(crate) fn pick_consumer(&self, q: QueueId) -> Option<usize> {
        let queue = self.queue(q)?;
        let n = queue.consumers.len();
        let has_room = |c: &QueueConsumer| {
            let Some(ch) = self.channel(c.channel) else {
                return false;
            };
            if c.no_ack {
                return ch.flow_active;
            }
            (c.prefetch == 0 || c.unacked < c.prefetch as u32) && ch.has_room()
        };
        if queue.args.single_active_consumer {
            return queue.consumers.first().filter(|c| has_room(c)).map(|_| 0);
        }
        if n == 1 {
            return queue.consumers.first().filter(|c| has_room(c)).map(|_| 0);
        }
        let mut best: Option<(usize, &QueueConsumer)> = None;
        for (i, c) in queue.consumers.iter().enumerate() {
            // Compared first: the room, a channel look-up, only if it would win.
            if best.map_or(true, |(_, b)| c.before(b)) && has_room(c) {
                best = Some((i, c));
            }
        }
        best.map(|(i, _)| i)
    }

    /// [`Queue::block_passed`](super::queue::Queue::block_passed) for queue `q`.
    fn block_passed(&mut self, q: QueueId, winner: Option<usize>) {
        if let Some(queue) = self.queue_mut(q) {
            queue.block_passed(winner);
        }
    }

    /// Gives an entry to a channel: a tag, the redelivered flag, the
    /// `x-delivery-count` header on redeliveries, and an unacked record unless
    /// automatic acknowledgment ends the message here. `consumer`: its place
    /// in the queue's list, its number and its tag (None for `basic.get`). The entry
    /// comes back if the channel is gone or, with `check_room`, has no room.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn hand_out(
        &mut self,
        q: QueueId,
        ch: ChannelRef,
        consumer: Option<(usize, u32, &ShortStr)>,
        no_ack: bool,
        deadline: u64,
        mut entry: Entry,
        check_room: bool,
    ) -> Result<(u64, bool, Message), Entry> {
        let persisted = entry.msg.persistent()
            && self
                .queue(q)
                .is_some_and(|queue| self.persists_queue(queue));
        // One channel lookup: its room, the tag, and the unacked record
        // unless automatic acknowledgment ends the message here.
        let Some(channel) = self.channel_mut(ch) else {
            return Err(entry);
        };
        if check_room
            && !(if no_ack {
                channel.flow_active
            } else {
                channel.has_room()
            })
        {
            return Err(entry);
        }
        let redelivered = entry.deliveries > 0;
        // The counts as RabbitMQ 4.3 quorum queues set them, on every queue
        // type here: x-acquired-count, the earlier deliveries (absent on the
        // first), and x-delivery-count, the failed ones (absent while none).
        let message = if redelivered {
            // New properties, the same block: a redelivery copies no body.
            let mut props = entry.msg.properties.clone();
            let p = props.make_mut();
            let headers = p.headers.get_or_insert_with(Default::default);
            headers.insert(
                ShortStr::truncated("x-acquired-count"),
                FieldValue::I64(entry.deliveries as i64),
            );
            if entry.failed > 0 {
                headers.insert(
                    ShortStr::truncated("x-delivery-count"),
                    FieldValue::I64(entry.failed as i64),
                );
            }
            entry.msg.with_properties(props)
        } else {
            entry.msg.clone()
        };
        entry.deliveries = entry.deliveries.saturating_add(1);
        let (seq, msg_id, deliveries) = (entry.seq, entry.msg_id, entry.deliveries);
        let (at, id, consumer) = match consumer {
            Some((at, id, tag)) => (Some(at), id, Some(tag)),
            None => (None, 0, None),
        };
        let tag = channel.take_tag();
        let settled = if no_ack {
            Some(entry)
        } else {
            channel.has_got |= id == 0;
            channel.unacked.push_back(Unacked {
                tag,
                queue: q,
                entry,
                consumer: id,
                deadline,
            });
            None
        };
        // One queue look-up for its counts and the consumer's.
        if let Some(queue) = self.queue_mut(q) {
            queue.stats.delivered += 1;
            queue.stats.redelivered += u64::from(redelivered);
            queue.unacked += u64::from(!no_ack);
            if let Some(at) = at {
                queue.turns += 1;
                if let Some(c) = queue.consumers.get_mut(at) {
                    c.turn = queue.turns;
                    c.unacked += u32::from(!no_ack);
                }
            }
        }
        if self.config.events {
            let queue = self.queue_name(q);
            self.event(|| EventKind::Delivered {
                msg: msg_id,
                queue,
                to: ch,
                consumer_tag: consumer.cloned(),
                delivery_tag: tag,
                redelivered,
                delivery_count: u32::from(deliveries) - 1,
                auto_ack: no_ack,
            });
        }
        if let Some(entry) = settled {
            self.entry_settled(q, &entry);
            return Ok((tag, redelivered, message));
        }
        if persisted {
            // So that a message out at a crash comes back marked redelivered,
            // as RabbitMQ's queue index does.
            self.record(StoreRecord::Delivered {
                seq,
                deliveries: deliveries.into(),
            });
        }
        if deadline != NEVER {
            self.timeouts.insert((deadline, ch, tag));
            self.schedule(deadline);
        }
        Ok((tag, redelivered, message))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::broker::{
        Broker, ChannelRef, ConnectionInfo, Consume, Effect, Message, Properties, Qos,
        QueueDeclare, ShortStr,
    };

    fn s(t: &str) -> ShortStr {
        ShortStr::new(t).unwrap()
    }

    fn publish(b: &mut Broker, ch: ChannelRef, body: &str) {
        let m = Message::new(s(""), s("q"), Properties::default(), body.as_bytes());
        b.basic_publish(0, ch, m, false, false).unwrap();
        b.flush(0);
    }

    fn delivered(b: &mut Broker) -> Vec<String> {
        let bodies = b.take_effects().into_iter().filter_map(|e| match e {
            Effect::Deliver { message, .. } => Some(message.body().to_vec()),
            _ => None,
        });
        bodies.map(|b| String::from_utf8(b).unwrap()).collect()
    }

    /// Publishes behind a full consumer skip the dispatch pass: the queue
    /// waits for room, and the ack that makes some ends the wait.
    #[test]
    fn a_queue_waits_for_room_from_the_first_pass_that_finds_none_to_the_next_delivery() {
        let mut b = Broker::default();
        let c = b.connection_open(0, ConnectionInfo::default()).unwrap();
        let ch = ChannelRef::new(c, 1);
        b.channel_open(0, ch).unwrap();
        let declare = QueueDeclare {
            queue: s("q"),
            ..Default::default()
        };
        b.queue_declare(0, ch, declare).unwrap();
        let qos = Qos {
            prefetch_count: 1,
            ..Default::default()
        };
        b.basic_qos(0, ch, qos).unwrap();
        let consume = Consume {
            queue: s("q"),
            ..Default::default()
        };
        b.basic_consume(0, ch, consume).unwrap();
        let q = b.queue_id("/", "q").unwrap();
        let waits = |b: &Broker| b.queue(q).unwrap().waits_for_room;

        publish(&mut b, ch, "1");
        assert_eq!(delivered(&mut b), ["1"]);
        assert!(!waits(&b), "delivered at once: no pass ran");
        publish(&mut b, ch, "2");
        assert!(waits(&b), "the pass after the publish found no room");
        publish(&mut b, ch, "3");
        assert!(waits(&b) && delivered(&mut b).is_empty());

        b.basic_ack(0, ch, 1, false).unwrap();
        b.flush(0);
        assert_eq!(delivered(&mut b), ["2"]);
        // The pass delivered, then found the consumer full again.
        assert!(waits(&b));
        b.basic_ack(0, ch, 2, false).unwrap();
        b.flush(0);
        assert_eq!(delivered(&mut b), ["3"]);
        // The backlog is gone: the last pass ended on an empty queue.
        assert!(!waits(&b));
    }
}
