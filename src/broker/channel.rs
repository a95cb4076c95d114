//! A channel's state in the engine: its outstanding deliveries, prefetch,
//! confirm or transaction mode.

use super::ids::{ChannelRef, QueueId};
use super::message::Message;
use super::queue::Entry;
use super::value::ShortStr;
use std::collections::VecDeque;

/// A delivery waiting for its ack.
#[derive(Debug)]
pub struct Unacked {
    pub tag: u64,
    pub queue: QueueId,
    pub entry: Entry,
    /// The consumer's number on the channel (`QueueConsumer::id`); 0 for
    /// `basic.get`. A number, not the tag: no reference count to move, and
    /// a consumer cancelled and made again with the same tag is another.
    pub consumer: u32,
    /// Consumer timeout deadline (NEVER without one).
    pub deadline: u64,
}

/// A settlement as the client sent it, kept until `tx.commit` in a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settle {
    Ack {
        tag: u64,
        multiple: bool,
    },
    Nack {
        tag: u64,
        multiple: bool,
        requeue: bool,
    },
    Reject {
        tag: u64,
        requeue: bool,
    },
}

impl Settle {
    /// The same settlement of delivery `tag`.
    pub fn naming(self, tag: u64) -> Settle {
        match self {
            Settle::Ack { multiple, .. } => Settle::Ack { tag, multiple },
            Settle::Nack {
                multiple, requeue, ..
            } => Settle::Nack {
                tag,
                multiple,
                requeue,
            },
            Settle::Reject { requeue, .. } => Settle::Reject { tag, requeue },
        }
    }
}

/// A publisher confirm not yet sent, in publish order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    /// Decided: ack (true) or nack.
    Ready(bool),
    /// Acked once the store reports this record number durable.
    Durable(u64),
}

#[derive(Debug, Default)]
pub enum Mode {
    #[default]
    Plain,
    Confirm {
        next_seq: u64,
        pending: VecDeque<(u64, Pending)>,
    },
    Tx {
        publishes: Vec<(Message, bool)>,
        settles: Vec<Settle>,
        /// The deliveries `settles` names.
        held: Held,
        /// Commit-oks not sent yet (see [`CommitsOwed`]).
        owed: CommitsOwed,
    },
}

/// Commit-oks owed to a transactional channel: a commit whose records are
/// not durable yet is answered once they are, as RabbitMQ answers once its
/// queues have confirmed the publishes, and each later commit after it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CommitsOwed {
    /// How many.
    pub count: u32,
    /// The store record (`Broker::store_emitted`) that must be durable first.
    pub until: u64,
}

/// The deliveries a transaction has settled but not committed. RabbitMQ
/// takes them from the channel's unacked list at once: settling one again
/// is an unknown tag, and `basic.recover` leaves them. A rollback gives
/// them back. Here they stay in the list, where the prefetch, the views and
/// a channel's close still count them (the queue has not seen the settle),
/// and are marked. It follows from `settles` (see [`Held::of`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Held {
    /// Every delivery up to this tag (a `multiple` settle); 0: none.
    upto: u64,
    /// Single deliveries, sorted (some may be below `upto` too).
    tags: Vec<u64>,
}

impl Held {
    pub fn contains(&self, tag: u64) -> bool {
        tag <= self.upto || self.tags.binary_search(&tag).is_ok()
    }

    /// Marks what `s` settles: with `multiple`, every delivery up to its
    /// tag (never 0: the settle names the newest it reaches).
    pub fn hold(&mut self, s: Settle) {
        match s {
            Settle::Ack {
                tag,
                multiple: true,
            }
            | Settle::Nack {
                tag,
                multiple: true,
                ..
            } => self.upto = self.upto.max(tag),
            Settle::Ack { tag, .. } | Settle::Nack { tag, .. } | Settle::Reject { tag, .. } => {
                if let Err(at) = self.tags.binary_search(&tag) {
                    self.tags.insert(at, tag);
                }
            }
        }
    }

    /// What a transaction's settles hold (a channel read back from an image).
    pub fn of(settles: &[Settle]) -> Held {
        let mut held = Held::default();
        for &s in settles {
            held.hold(s);
        }
        held
    }
}

#[derive(Debug)]
pub struct Channel {
    pub id: ChannelRef,
    pub next_tag: u64,
    /// The number the next consumer on this channel gets (from 1).
    pub next_consumer_id: u32,
    /// Sorted by tag: tags only grow.
    pub unacked: VecDeque<Unacked>,
    /// Prefetch given to consumers created from now on (`global = false`).
    pub consumer_prefetch: u16,
    /// Limit over all the channel's consumers (`global = true`; 0: none).
    pub channel_prefetch: u16,
    /// A `basic.get` has left a delivery unacked here at some time. The
    /// channel-wide limit then counts consumers' deliveries one by one:
    /// RabbitMQ's limiter never counts a get's.
    pub has_got: bool,
    pub flow_active: bool,
    pub mode: Mode,
    /// (queue, consumer tag) of the channel's consumers.
    pub consumers: Vec<(QueueId, ShortStr)>,
    /// The direct reply-to consumer: (consumer tag, the channel's
    /// `amq.rabbitmq.reply-to.<suffix>` name).
    pub reply_consumer: Option<(ShortStr, ShortStr)>,
    /// The queue last declared on this channel: what an empty queue name
    /// stands for in consume, get, bind, unbind, purge and delete.
    pub last_queue: Option<ShortStr>,
}

impl Channel {
    pub fn new(id: ChannelRef) -> Self {
        Channel {
            id,
            next_tag: 1,
            next_consumer_id: 1,
            unacked: VecDeque::new(),
            consumer_prefetch: 0,
            channel_prefetch: 0,
            has_got: false,
            flow_active: true,
            mode: Mode::Plain,
            consumers: Vec::new(),
            reply_consumer: None,
            last_queue: None,
        }
    }

    /// A number for a new consumer: never 0 (`basic.get`), and after 2^32 - 1
    /// consumers on one channel it wraps.
    pub fn take_consumer_id(&mut self) -> u32 {
        let id = self.next_consumer_id.max(1);
        self.next_consumer_id = id.wrapping_add(1);
        id
    }

    pub fn take_tag(&mut self) -> u64 {
        let t = self.next_tag;
        self.next_tag += 1;
        t
    }

    /// Room left under the channel-wide prefetch.
    #[inline]
    pub fn has_room(&self) -> bool {
        let limit = self.channel_prefetch as usize;
        self.flow_active
            && (limit == 0
                || self.unacked.len() < limit
                || (self.has_got && self.consumers_below(limit)))
    }

    /// Fewer than `limit` of the unacked deliveries are consumers': the
    /// count past a `basic.get`'s, which is rare and kept off the hot path.
    #[inline(never)]
    fn consumers_below(&self, limit: usize) -> bool {
        let mut of_consumers = self.unacked.iter().filter(|u| u.consumer != 0);
        of_consumers.nth(limit - 1).is_none()
    }

    /// In a transaction, marks the deliveries `s` names and keeps it for
    /// the commit, as RabbitMQ takes them from the channel then: a tag
    /// settled already in it is unknown (`Err` with the tag).
    #[inline(never)]
    pub fn hold(&mut self, s: Settle) -> Result<(), u64> {
        let (tag, reach_all) = match s {
            Settle::Ack { tag, multiple } | Settle::Nack { tag, multiple, .. } => {
                (tag, multiple && tag == 0)
            }
            Settle::Reject { tag, .. } => (tag, false),
        };
        let outstanding = self.position(tag).is_some();
        let Mode::Tx { settles, held, .. } = &mut self.mode else {
            return Ok(());
        };
        let named = if reach_all {
            // Up to the newest not settled yet: what is delivered before
            // the commit stays out of it.
            self.unacked
                .iter()
                .rev()
                .map(|u| u.tag)
                .find(|&t| !held.contains(t))
        } else if outstanding && !held.contains(tag) {
            Some(tag)
        } else {
            return Err(tag);
        };
        if let Some(tag) = named {
            let s = s.naming(tag);
            held.hold(s);
            settles.push(s);
        }
        Ok(())
    }

    /// Takes out the deliveries `take` picks, in tag order, but those the
    /// transaction settled, which stay for its commit; the rest stay too.
    /// (`dyn`: one copy of the loop for its few, cold callers.)
    pub fn take_unsettled(&mut self, take: &dyn Fn(&Unacked) -> bool) -> Vec<Unacked> {
        let held = match &self.mode {
            Mode::Tx { held, .. } => Some(held),
            _ => None,
        };
        let mut taken = Vec::new();
        let mut kept = VecDeque::new();
        for u in self.unacked.drain(..) {
            match take(&u) && !held.is_some_and(|h| h.contains(u.tag)) {
                true => taken.push(u),
                false => kept.push_back(u),
            }
        }
        self.unacked = kept;
        taken
    }

    pub fn position(&self, tag: u64) -> Option<usize> {
        self.unacked.binary_search_by_key(&tag, |u| u.tag).ok()
    }

    /// Moves the deliveries a settlement names into `out`, in tag order.
    /// `None` when a tag is unknown (the caller closes the channel with 406).
    /// `out` is the caller's reused buffer: an ack makes no allocation,
    /// but for one of most of a long list, which trades buffers (below).
    pub fn take_into(&mut self, tag: u64, multiple: bool, out: &mut Vec<Unacked>) -> Option<()> {
        if multiple {
            // tag 0 with multiple: everything outstanding. Otherwise the tag
            // itself must be outstanding, as in RabbitMQ: acking "up to 5"
            // after 5 was settled is an unknown tag.
            // Most acks name the last delivery: no search.
            let len = self.unacked.len();
            let end = if tag == 0 || self.unacked.back().is_some_and(|u| u.tag == tag) {
                len
            } else {
                self.position(tag)? + 1
            };
            // All of them (the usual ack of a batch) into an empty `out`:
            // the two buffers trade places, moving no record; the list,
            // filled from the front of its buffer, needs no rotation.
            if end == len && out.is_empty() {
                let spare = VecDeque::from(std::mem::take(out));
                *out = Vec::from(std::mem::replace(&mut self.unacked, spare));
                return Some(());
            }
            // Most of the list (an ack of the older half of a prefetch
            // window, say): the newer records move, each slice in one copy,
            // to a buffer of their own, and the list's buffer, holding the
            // taken ones from its front, becomes `out`. Moved one by one,
            // as a drain moves them, each record is a call to `memcpy` in
            // wasm.
            if out.is_empty() && end >= 64 && len - end <= end {
                let rest = self.unacked.split_off(end);
                *out = Vec::from(std::mem::replace(&mut self.unacked, rest));
                return Some(());
            }
            // A drain costs more than it saves for one or two.
            if end <= 2 {
                // `push`, not `extend(Option)`: the latter stays a call at
                // the size-tuned inline threshold (.cargo/config.toml).
                for _ in 0..end {
                    if let Some(u) = self.unacked.pop_front() {
                        out.push(u);
                    }
                }
            } else {
                out.extend(self.unacked.drain(..end));
            }
            return Some(());
        }
        if self.unacked.front().is_some_and(|u| u.tag == tag) {
            out.push(self.unacked.pop_front()?);
            return Some(());
        }
        let at = self.position(tag)?;
        out.push(self.unacked.remove(at)?);
        Some(())
    }

    /// Confirm sequence number of the next publish, when in confirm mode.
    pub fn next_confirm_seq(&mut self) -> Option<u64> {
        match &mut self.mode {
            Mode::Confirm { next_seq, .. } => {
                let s = *next_seq;
                *next_seq += 1;
                Some(s)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::broker::ids::ConnId;
    use crate::broker::message::Properties;

    fn record(tag: u64) -> Unacked {
        let name = ShortStr::new("q").unwrap();
        let msg = Message::new(name.clone(), name, Properties::default(), tag.to_be_bytes());
        Unacked {
            tag,
            queue: QueueId::new(0, 0),
            entry: Entry {
                seq: tag,
                msg_id: tag,
                msg,
                deliveries: 1,
                failed: 0,
                expires_at: 0,
            },
            consumer: 1,
            deadline: 0,
        }
    }

    /// A channel with tags `first..=last` outstanding, its list's buffer
    /// wrapped around when `wrap` (records taken from its front before).
    fn channel(first: u64, last: u64, wrap: bool) -> Channel {
        let mut ch = Channel::new(ChannelRef::new(ConnId(1), 1));
        ch.unacked.reserve(256);
        if wrap {
            for tag in 0..200 {
                ch.unacked.push_back(record(tag));
            }
            ch.unacked.drain(..200);
        }
        for tag in first..=last {
            ch.unacked.push_back(record(tag));
        }
        ch
    }

    fn tags(records: impl IntoIterator<Item = Unacked>) -> Vec<u64> {
        records.into_iter().map(|u| u.tag).collect()
    }

    #[test]
    fn a_multiple_ack_takes_exactly_the_tags_up_to_its_own_in_order() {
        // Outstanding 1..=len; every way `take_into` takes records: all of
        // them, one or two, most of the list (it trades buffers), and a
        // drain, with `out` empty or not, the list wrapped or not.
        for len in [1u64, 2, 3, 63, 64, 100, 127, 128, 129, 200] {
            for upto in [1, 2, 3, len / 2, len / 2 + 1, len - 1, len] {
                if upto == 0 || upto > len {
                    continue;
                }
                for (wrap, leftover) in [(false, false), (true, false), (false, true), (true, true)]
                {
                    let mut ch = channel(1, len, wrap);
                    let mut out = if leftover {
                        vec![record(0)]
                    } else {
                        Vec::new()
                    };
                    ch.take_into(upto, true, &mut out).unwrap();
                    let mut want: Vec<u64> = (1..=upto).collect();
                    if leftover {
                        want.insert(0, 0);
                    }
                    assert_eq!(tags(out), want, "{len} outstanding, up to {upto}");
                    assert_eq!(
                        tags(ch.unacked.drain(..)),
                        (upto + 1..=len).collect::<Vec<_>>(),
                        "{len} outstanding, up to {upto}: what is left"
                    );
                }
            }
        }
    }

    #[test]
    fn deliveries_after_a_multiple_ack_queue_behind_the_rest() {
        let mut ch = channel(1, 200, true);
        let mut out = Vec::new();
        ch.take_into(150, true, &mut out).unwrap();
        assert_eq!(tags(out.drain(..)), (1..=150).collect::<Vec<_>>());
        for tag in 201..=400 {
            ch.unacked.push_back(record(tag));
        }
        // Unknown: settled already.
        assert!(ch.take_into(150, true, &mut out).is_none());
        ch.take_into(300, true, &mut out).unwrap();
        assert_eq!(tags(out.drain(..)), (151..=300).collect::<Vec<_>>());
        ch.take_into(0, true, &mut out).unwrap();
        assert_eq!(tags(out), (301..=400).collect::<Vec<_>>());
        assert!(ch.unacked.is_empty());
    }
}
