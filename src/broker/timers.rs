//! What happens with time: message expiry, delayed retries, unused queues
//! expiring, and consumer timeouts.

use super::effect::Effect;
use super::engine::Broker;
use super::error::AmqpError;
use super::ids::{ChannelRef, QueueId};
use super::queue::NEVER;

impl Broker {
    pub(crate) fn run_timers(&mut self, now: u64) {
        while let Some((deadline, ch, tag)) = self.timeouts.first() {
            if deadline > now {
                break;
            }
            self.timeouts.pop_first();
            self.consumer_timed_out(ch, tag, deadline);
        }
        let ids: Vec<QueueId> = self
            .queues
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.queue
                    .as_ref()
                    .and_then(|q| q.next_deadline())
                    .is_some_and(|d| d <= now)
            })
            .map(|(i, s)| QueueId::new(i as u32, s.gen))
            .collect();
        for q in ids {
            self.queue_timers(q, now);
        }
        self.wake_at = self
            .queues
            .iter()
            .filter_map(|s| s.queue.as_ref()?.next_deadline())
            .chain(self.timeouts.first().map(|t| t.0))
            .min()
            .unwrap_or(NEVER);
    }

    fn queue_timers(&mut self, q: QueueId, now: u64) {
        while let Some(e) = self.queue_mut(q).and_then(|queue| queue.pop_expired(now)) {
            self.expire(q, e);
        }
        let Some(queue) = self.queue_mut(q) else {
            return;
        };
        let mut retried = false;
        while let Some(e) = queue.delayed.pop_due(now) {
            queue.push_ready(e);
            retried = true;
        }
        let unused = queue.consumers.is_empty()
            && queue
                .args
                .expires
                .is_some_and(|ms| queue.last_used.saturating_add(ms) <= now);
        if retried {
            self.mark_dirty(q);
        }
        self.page_service(q);
        if unused {
            self.delete_queue(q);
        }
    }

    /// A delivery outlived its consumer timeout. A client that understands
    /// broker-initiated cancels loses that consumer (its deliveries requeued);
    /// any other has its channel closed with 406, as RabbitMQ does.
    fn consumer_timed_out(&mut self, ch: ChannelRef, tag: u64, deadline: u64) {
        let Some(channel) = self.channel(ch) else {
            return;
        };
        let Some(u) = channel.position(tag).and_then(|i| channel.unacked.get(i)) else {
            return;
        };
        if u.deadline != deadline {
            return; // the lease was extended
        }
        let (queue, consumer) = (u.queue, u.consumer);
        let notify = self
            .conns
            .get(&ch.conn)
            .is_some_and(|c| c.info.consumer_cancel_notify);
        // The consumer, if it is still there: a delivery of one cancelled
        // since (or of `basic.get`) has nothing to cancel, so its channel
        // closes, as in RabbitMQ 4.4.
        let (consumer_tag, timeout) = match self.queue(queue) {
            Some(q) => {
                let c = q
                    .consumers
                    .iter()
                    .find(|c| consumer != 0 && c.id == consumer && c.channel == ch);
                let timeout = c.and_then(|c| c.timeout_ms).or(q.args.consumer_timeout);
                (c.map(|c| c.tag.clone()), timeout)
            }
            None => (None, None),
        };
        let timeout = timeout.or(self.config.consumer_timeout_ms).unwrap_or(0);
        match consumer_tag {
            Some(consumer_tag) if notify => {
                let mine: Vec<_> = match self.channel_mut(ch) {
                    Some(c) => {
                        c.consumers
                            .retain(|(q, t)| !(*q == queue && *t == consumer_tag));
                        // What its transaction settled stays for the commit
                        // (it still times out: the queue has not seen the settle).
                        c.take_unsettled(&|u| u.queue == queue && u.consumer == consumer)
                    }
                    None => Vec::new(),
                };
                self.emit(Effect::Cancel {
                    to: ch,
                    consumer_tag: consumer_tag.clone(),
                });
                self.remove_consumer(queue, &consumer_tag, ch);
                // RabbitMQ 4.3: a consumer timeout is not a failed delivery.
                self.requeue_all(ch, mine, false);
            }
            _ => {
                let error = AmqpError::precondition(format_args!(
                    "delivery acknowledgement on channel {} timed out. Timeout value used: {} ms. This timeout value can be configured, see consumers doc guide to learn more",
                    ch.channel, timeout
                ));
                // Returned first, not as failures (RabbitMQ 4.3), then the
                // channel closes.
                let taken: Vec<_> = match self.channel_mut(ch) {
                    Some(c) => c.unacked.drain(..).collect(),
                    None => Vec::new(),
                };
                self.requeue_all(ch, taken, false);
                self.close_channel_state(ch);
                self.emit(Effect::CloseChannel { to: ch, error });
            }
        }
    }
}
