//! Settling deliveries: ack, nack, reject, recover, requeue to the original
//! position, delivery limits, dead-lettering and expiry.

use super::channel::{Channel, Mode, Settle, Unacked};
use super::dead_letter::{dead_letter, DeadLetterReason};
use super::engine::{channel_not_open, Broker};
use super::error::{AmqpError, Result};
use super::event::{DropReason, EventKind};
use super::ids::{ChannelRef, QueueId};
use super::queue::{Entry, NEVER};
use super::store::StoreRecord;

impl Broker {
    pub fn basic_ack(
        &mut self,
        now_ms: u64,
        ch: ChannelRef,
        delivery_tag: u64,
        multiple: bool,
    ) -> Result<()> {
        self.settle(
            now_ms,
            ch,
            Settle::Ack {
                tag: delivery_tag,
                multiple,
            },
        )
    }

    pub fn basic_nack(
        &mut self,
        now_ms: u64,
        ch: ChannelRef,
        delivery_tag: u64,
        multiple: bool,
        requeue: bool,
    ) -> Result<()> {
        self.settle(
            now_ms,
            ch,
            Settle::Nack {
                tag: delivery_tag,
                multiple,
                requeue,
            },
        )
    }

    pub fn basic_reject(
        &mut self,
        now_ms: u64,
        ch: ChannelRef,
        delivery_tag: u64,
        requeue: bool,
    ) -> Result<()> {
        self.settle(
            now_ms,
            ch,
            Settle::Reject {
                tag: delivery_tag,
                requeue,
            },
        )
    }

    fn settle(&mut self, now_ms: u64, ch: ChannelRef, s: Settle) -> Result<()> {
        self.advance(now_ms);
        // The channel borrowed through `conns` alone: the settle scratch and
        // the rest of the broker stay free for the paths below.
        let Some(c) = self
            .conns
            .get_mut(&ch.conn)
            .and_then(|conn| conn.channels.get_mut(ch.channel as usize))
            .and_then(|c| c.as_deref_mut())
        else {
            let r = Err(channel_not_open(ch));
            return self.fail(ch, r);
        };
        if matches!(c.mode, Mode::Tx { .. }) {
            // The settlement itself waits for the commit.
            let r = c
                .hold(s)
                .map_err(|tag| AmqpError::precondition(format_args!("unknown delivery tag {tag}")));
            return self.fail(ch, r);
        }
        // An ack of the oldest delivery alone (a client acking each message,
        // or a batch of one): the record moves out by itself, with no scratch
        // buffer to trade and no slice to drop. Tags rise along the list, so
        // with `multiple` too it is the only one the ack names.
        if let Settle::Ack { tag, .. } = s {
            if let Some(u) = c.unacked.front().filter(|u| u.tag == tag) {
                // Read in place and the record dropped where it lies: no
                // copy of it moved out.
                let a = Acked::of(u, self.config.durable_store);
                let wake = c.channel_prefetch != 0;
                c.unacked.pop_front();
                if wake {
                    self.wake_channel_queues(ch);
                }
                self.acked(ch, a);
                self.free_slots_inline(ch, a.queue, a.consumer, 1, 1);
                return Ok(());
            }
        }
        let mut taken = std::mem::take(&mut self.settle_scratch);
        // Given back empty after an ack: no call to drop an empty slice.
        if !taken.is_empty() {
            taken.clear();
        }
        // The channel looked up once: its deliveries are taken here.
        match take_settled(c, s, &mut taken) {
            Ok(()) => {
                // Read from the channel at hand: no second look-up.
                if c.channel_prefetch != 0 && !taken.is_empty() {
                    self.wake_channel_queues(ch);
                }
                self.settle_taken(ch, s, taken);
                Ok(())
            }
            Err(e) => {
                self.settle_scratch = taken;
                self.fail(ch, Err(e))
            }
        }
    }

    /// Applies one settlement: 406 for a tag that is not outstanding.
    pub(crate) fn apply_settle(&mut self, ch: ChannelRef, s: Settle) -> Result<()> {
        let mut taken = std::mem::take(&mut self.settle_scratch);
        // Given back empty after an ack: no call to drop an empty slice.
        if !taken.is_empty() {
            taken.clear();
        }
        let r = self.open_channel(ch).and_then(|c| {
            take_settled(c, s, &mut taken)?;
            Ok(c.channel_prefetch != 0)
        });
        match r {
            Ok(wake) => {
                if wake && !taken.is_empty() {
                    self.wake_channel_queues(ch);
                }
                self.settle_taken(ch, s, taken)
            }
            Err(_) => self.settle_scratch = taken,
        }
        r.map(|_| ())
    }

    /// Acks, or returns or dead-letters, the deliveries a settlement took
    /// from channel `ch` (the settle scratch buffer, given back after an ack).
    /// Under a channel-wide prefetch the caller has woken the channel's
    /// queues already, once, as the first release of a slot would have.
    fn settle_taken(&mut self, ch: ChannelRef, s: Settle, mut taken: Vec<Unacked>) {
        match s {
            Settle::Ack { .. } => {
                // (queue, consumer, count) of the run of deliveries so far.
                let mut run: Option<(QueueId, u32, u32)> = None;
                // By reference, then cleared: no drain to set up and drop.
                for u in &taken {
                    if u.deadline != NEVER {
                        self.timeouts.remove(&(u.deadline, ch, u.tag));
                    }
                    match &mut run {
                        Some((q, c, n)) if *q == u.queue && *c == u.consumer => *n += 1,
                        _ => {
                            if let Some((q, c, n)) = run.take() {
                                self.free_slots(ch, q, c, n, n);
                            }
                            run = Some((u.queue, u.consumer, 1));
                        }
                    }
                    if self.config.events {
                        let queue = self.queue_name(u.queue);
                        self.event(|| EventKind::Acked {
                            msg: u.entry.msg_id,
                            queue,
                        });
                    }
                    self.entry_settled(u.queue, &u.entry);
                }
                if let Some((q, c, n)) = run {
                    self.free_slots(ch, q, c, n, n);
                }
                taken.clear();
                // Back in place of the empty one `take` left, which owns no
                // memory: forgotten rather than run through Vec<Unacked>'s
                // drop (a call at the size-tuned inline threshold).
                let left = std::mem::replace(&mut self.settle_scratch, taken);
                if left.capacity() == 0 {
                    std::mem::forget(left);
                }
            }
            Settle::Nack { requeue, .. } | Settle::Reject { requeue, .. } => {
                let nack = matches!(s, Settle::Nack { .. });
                for u in &taken {
                    if self.config.events {
                        let (msg, queue) = (u.entry.msg_id, self.queue_name(u.queue));
                        self.event_cold(|| match nack {
                            true => EventKind::Nacked {
                                msg,
                                queue,
                                requeue,
                            },
                            false => EventKind::Rejected {
                                msg,
                                queue,
                                requeue,
                            },
                        });
                    }
                }
                if requeue {
                    // RabbitMQ 4.3: basic.reject is a failed delivery
                    // (x-delivery-count); basic.nack only hands it back.
                    self.requeue_all(ch, taken, !nack);
                } else {
                    // Dead-lettered in the order they were rejected.
                    for u in taken {
                        self.release_unacked(ch, &u);
                        self.dead_letter(u.queue, u.entry, DeadLetterReason::Rejected);
                    }
                }
            }
        }
    }

    /// A lone ack's timeout, event and store record, its slot freed by the
    /// caller. `settle_taken` does the same for each record by reference:
    /// through `Acked` its loop grew by a few instructions per message.
    #[inline(always)]
    fn acked(&mut self, ch: ChannelRef, a: Acked) {
        if a.deadline != NEVER {
            self.timeouts.remove(&(a.deadline, ch, a.tag));
        }
        if self.config.events {
            let queue = self.queue_name(a.queue);
            self.event(|| EventKind::Acked {
                msg: a.msg_id,
                queue,
            });
        }
        if a.stored {
            self.settled_record(a.queue, a.seq);
        }
    }

    /// `basic.recover`: every unacked delivery of the channel is requeued,
    /// but those its transaction settled. `requeue = false` is not
    /// supported, as in RabbitMQ (540).
    pub fn basic_recover(&mut self, now_ms: u64, ch: ChannelRef, requeue: bool) -> Result<()> {
        self.advance(now_ms);
        let r = if !requeue {
            Err(AmqpError::not_implemented("requeue=false"))
        } else {
            self.open_channel(ch).map(|c| match c.mode {
                Mode::Tx { .. } => c.take_unsettled(&|_| true),
                _ => c.unacked.drain(..).collect::<Vec<_>>(),
            })
        };
        let r = r.map(|taken| self.requeue_all(ch, taken, false));
        self.fail(ch, r)
    }

    /// Moves one delivery's consumer-timeout deadline to `now + ms` (a lease
    /// for long processing). 406 for a tag that is not outstanding.
    pub fn extend_lease(
        &mut self,
        now_ms: u64,
        ch: ChannelRef,
        delivery_tag: u64,
        ms: u64,
    ) -> Result<()> {
        let now = self.advance(now_ms);
        let r = self.open_channel(ch).and_then(|c| {
            let at = c.position(delivery_tag).ok_or_else(|| {
                AmqpError::precondition(format_args!("unknown delivery tag {delivery_tag}"))
            })?;
            let u = c.unacked.get_mut(at).ok_or_else(|| {
                AmqpError::precondition(format_args!("unknown delivery tag {delivery_tag}"))
            })?;
            let old = u.deadline;
            u.deadline = now
                .saturating_add(ms)
                .max(if old == NEVER { 0 } else { old });
            Ok((old, u.deadline))
        });
        let r = r.map(|(old, new)| {
            self.timeouts.remove(&(old, ch, delivery_tag));
            self.timeouts.insert((new, ch, delivery_tag));
            self.schedule(new);
        });
        self.fail(ch, r)
    }

    pub(crate) fn queue_name(&self, q: QueueId) -> super::value::ShortStr {
        self.queue(q)
            .map(|q| q.name.clone())
            .unwrap_or_else(super::value::ShortStr::empty)
    }

    /// Frees the consumer's prefetch slot and the timeout of a settled delivery.
    pub(crate) fn release_unacked(&mut self, ch: ChannelRef, u: &Unacked) {
        if u.deadline != NEVER {
            self.timeouts.remove(&(u.deadline, ch, u.tag));
        }
        self.release_slots(ch, u.queue, u.consumer, 1, 0);
    }

    /// Frees `n` prefetch slots of one consumer (its number; 0: `basic.get`)
    /// of queue `q`, `acked` of them counted as acks in the queue's stats: an
    /// ack of many settles each run of one consumer's deliveries with one
    /// look-up of its channel, queue and consumer.
    fn release_slots(&mut self, ch: ChannelRef, q: QueueId, consumer: u32, n: u32, acked: u32) {
        // A slot under the channel-wide prefetch is free: every queue the
        // channel consumes from may deliver again, not only this one.
        if self.channel(ch).is_some_and(|c| c.channel_prefetch != 0) {
            self.wake_channel_queues(ch);
        }
        self.free_slots(ch, q, consumer, n, acked);
    }

    /// [`release_slots`](Self::release_slots) on the queue's side alone: the
    /// channel's queues are woken by the caller.
    fn free_slots(&mut self, ch: ChannelRef, q: QueueId, consumer: u32, n: u32, acked: u32) {
        self.free_slots_inline(ch, q, consumer, n, acked);
    }

    /// [`free_slots`](Self::free_slots) in its caller: the lone ack's path,
    /// where a call and its stacked arguments cost as much as the work.
    #[inline(always)]
    fn free_slots_inline(&mut self, ch: ChannelRef, q: QueueId, consumer: u32, n: u32, acked: u32) {
        let Some(queue) = self.queue_mut(q) else {
            return;
        };
        queue.stats.acked += u64::from(acked);
        queue.unacked = queue.unacked.saturating_sub(u64::from(n));
        if consumer != 0 {
            if let Some(c) = queue
                .consumers
                .iter_mut()
                .find(|c| c.id == consumer && c.channel == ch)
            {
                c.unacked = c.unacked.saturating_sub(n);
                if c.blocked {
                    // Room again: to the back of the round.
                    c.rejoin(&mut queue.turns);
                }
            }
        }
        // With nothing ready (paged runs count as ready) there is nothing for
        // the freed slots to take: no dispatch pass.
        if !queue.consumers.is_empty() && !queue.ready.is_empty() {
            self.mark_dirty(q);
        }
    }

    /// Marks every queue the channel consumes from for a dispatch pass; its
    /// consumers passed over for the channel's lack of room join the back of
    /// their rounds.
    #[cold]
    pub(crate) fn wake_channel_queues(&mut self, ch: ChannelRef) {
        let wake: Vec<QueueId> = self
            .channel(ch)
            .map(|c| c.consumers.iter().map(|(q, _)| *q).collect())
            .unwrap_or_default();
        for q in wake {
            if let Some(queue) = self.queue_mut(q) {
                for c in &mut queue.consumers {
                    if c.channel == ch && c.blocked {
                        c.rejoin(&mut queue.turns);
                    }
                }
            }
            self.mark_dirty(q);
        }
    }

    /// Returns deliveries to their queues, each at its original position, in
    /// tag order; past a delivery limit or expired ones are dead-lettered.
    /// `failed`: the deliveries failed (see `queue::Entry::failed`). A length
    /// limit is applied once all are back, as RabbitMQ does: `drop-head`
    /// then drops the oldest, not whichever came back last.
    pub(crate) fn requeue_all(&mut self, ch: ChannelRef, taken: Vec<Unacked>, failed: bool) {
        let mut limited: Vec<QueueId> = Vec::new();
        for u in taken {
            self.release_unacked(ch, &u);
            if self.requeue(u.queue, u.entry, failed) && !limited.contains(&u.queue) {
                limited.push(u.queue);
            }
        }
        for q in limited {
            self.enforce_limits(q);
        }
    }

    /// One delivery back to its queue; true when it went back to a queue
    /// with a length limit, which the caller then applies.
    #[must_use]
    fn requeue(&mut self, q: QueueId, mut entry: Entry, failed: bool) -> bool {
        if failed {
            entry.failed = entry.failed.saturating_add(1);
        }
        let now = self.now;
        let Some(queue) = self.queue(q) else {
            // Its queue was deleted: the message goes with it.
            self.entry_gone(q, &entry, DropReason::QueueDeleted);
            return false;
        };
        if entry.expires_at <= now {
            self.expire(q, entry);
            return false;
        }
        if queue
            .args
            .delivery_limit
            .is_some_and(|limit| u64::from(entry.failed) > limit)
        {
            // (The count stops at 65535: a limit of 65535 or more is never
            // passed, which only a message failed that often could tell.)
            // RabbitMQ 4.3 (quorum queues): a message whose failed deliveries
            // (x-delivery-count) exceed the limit is dead-lettered; returns
            // that are not failures (nack, recover, consumer timeout) do not
            // count. LavinMQ counts every delivery; Warren follows RabbitMQ.
            self.dead_letter(q, entry, DeadLetterReason::DeliveryLimit);
            return false;
        }
        let delay = queue
            .args
            .delayed_retry
            .map_or(0, |d| d.delay(entry.deliveries.into()));
        let persisted = self.persists_queue(queue) && entry.msg.persistent();
        let name = queue.name.clone();
        if persisted {
            self.record(StoreRecord::Returned {
                seq: entry.seq,
                deliveries: entry.deliveries.into(),
                failed: entry.failed.into(),
            });
        }
        self.event_cold(|| EventKind::Requeued {
            msg: entry.msg_id,
            queue: name,
            delay_ms: delay,
        });
        let Some(queue) = self.queue_mut(q) else {
            return false;
        };
        if delay > 0 {
            let due = now.saturating_add(delay);
            queue.delayed.insert(due, entry);
            self.schedule(due);
            false
        } else {
            queue.push_ready(entry);
            let limited = queue.has_length_limit();
            self.mark_dirty(q);
            limited
        }
    }

    /// Sends an entry to its queue's dead-letter exchange, or drops it.
    pub(crate) fn dead_letter(&mut self, q: QueueId, entry: Entry, reason: DeadLetterReason) {
        let now = self.now;
        let Some(queue) = self.queue(q) else {
            // A delivery of a deleted queue: nothing to dead-letter it from.
            return self.entry_gone(q, &entry, DropReason::QueueDeleted);
        };
        let Some(dlx) = queue.args.dead_letter_exchange.clone() else {
            let why = match reason {
                DeadLetterReason::Rejected => DropReason::Rejected,
                DeadLetterReason::Expired => DropReason::Expired,
                DeadLetterReason::MaxLen => DropReason::MaxLen,
                DeadLetterReason::DeliveryLimit => DropReason::DeliveryLimit,
            };
            if reason == DeadLetterReason::Expired {
                let queue = queue.name.clone();
                self.event_cold(|| EventKind::Expired {
                    msg: entry.msg_id,
                    queue,
                });
            }
            return self.entry_gone(q, &entry, why);
        };
        let (name, vhost) = (queue.name.clone(), queue.vhost);
        let message = dead_letter(
            &entry.msg,
            &name,
            reason,
            now,
            &dlx,
            queue.args.dead_letter_routing_key.as_deref(),
        );
        if let Some(queue) = self.queue_mut(q) {
            queue.stats.dead_lettered += 1;
        }
        if reason == DeadLetterReason::Expired {
            let queue = name.clone();
            self.event_cold(|| EventKind::Expired {
                msg: entry.msg_id,
                queue,
            });
        }
        let (msg, queue, exchange) = (entry.msg_id, name.clone(), dlx.clone());
        self.event_cold(|| EventKind::DeadLettered {
            msg,
            queue,
            reason,
            exchange,
        });
        // The copy is stored before the original is settled: a crash between
        // the two records (a torn write) leaves the message twice, never
        // nowhere.
        self.route_dead_letter(&name, vhost, message, entry.msg_id);
        self.entry_settled(q, &entry);
    }

    pub(crate) fn expire(&mut self, q: QueueId, entry: Entry) {
        self.dead_letter(q, entry, DeadLetterReason::Expired);
    }

    /// The entry left its queue without being dead-lettered.
    pub(crate) fn entry_gone(&mut self, q: QueueId, entry: &Entry, reason: DropReason) {
        let queue = self.queue_name(q);
        self.event_cold(|| EventKind::Dropped {
            msg: entry.msg_id,
            queue,
            reason,
        });
        self.entry_settled(q, entry);
    }

    /// The entry's life in its queue is over: its store record goes.
    pub(crate) fn entry_settled(&mut self, q: QueueId, entry: &Entry) {
        if !self.config.durable_store || !entry.msg.persistent() {
            return;
        }
        if self
            .queue(q)
            .is_some_and(|queue| self.persists_queue(queue))
        {
            self.record(StoreRecord::Settled { seq: entry.seq });
        }
    }

    /// The Settled record of a persistent message's entry, if its queue
    /// keeps its messages in the store.
    fn settled_record(&mut self, q: QueueId, seq: u64) {
        if self
            .queue(q)
            .is_some_and(|queue| self.persists_queue(queue))
        {
            self.record(StoreRecord::Settled { seq });
        }
    }
}

/// Takes the deliveries `s` names from channel `c` into `taken`, in tag
/// order: 406 for a tag that is not outstanding.
fn take_settled(c: &mut Channel, s: Settle, taken: &mut Vec<Unacked>) -> Result<()> {
    let (tag, multiple) = match s {
        Settle::Ack { tag, multiple } | Settle::Nack { tag, multiple, .. } => (tag, multiple),
        Settle::Reject { tag, .. } => (tag, false),
    };
    c.take_into(tag, multiple, taken)
        .ok_or_else(|| AmqpError::precondition(format_args!("unknown delivery tag {tag}")))
}

/// What settling needs of an acked delivery's record, read before the
/// record is dropped.
#[derive(Clone, Copy)]
struct Acked {
    tag: u64,
    queue: QueueId,
    consumer: u32,
    deadline: u64,
    msg_id: super::ids::MsgId,
    /// Persistent, under a durable store: its queue may hold a record of it.
    stored: bool,
    seq: u64,
}

impl Acked {
    #[inline(always)]
    fn of(u: &Unacked, durable_store: bool) -> Acked {
        Acked {
            tag: u.tag,
            queue: u.queue,
            consumer: u.consumer,
            deadline: u.deadline,
            msg_id: u.entry.msg_id,
            stored: durable_store && u.entry.msg.persistent(),
            seq: u.entry.seq,
        }
    }
}
