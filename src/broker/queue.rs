//! A queue: its ready messages in publish order (per priority level), the
//! index of their expiry times, delayed retries and its consumers.

use super::args::QueueArgs;
use super::command::QueueDeclare;
use super::dedup::DedupCache;
use super::ids::{ChannelRef, ConnId, MsgId, VhostId};
use super::message::Message;
use super::value::{FieldTable, ShortStr};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Never expires.
pub const NEVER: u64 = u64::MAX;

/// One message in one queue. `seq` is the position: a broker-wide counter given
/// at enqueue, so requeued messages go back exactly where they were.
#[derive(Clone, Debug)]
pub struct Entry {
    pub seq: u64,
    pub msg_id: MsgId,
    pub msg: Message,
    /// Earlier deliveries of this message from this queue: every time it was
    /// handed out (`x-acquired-count`, RabbitMQ 4.3).
    pub deliveries: u32,
    /// Failed deliveries (`x-delivery-count`, RabbitMQ 4.3): returned by
    /// `basic.reject` with requeue or by its channel closing or connection
    /// dropping; not by `basic.nack`, `basic.recover` or a consumer timeout.
    /// `x-delivery-limit` is checked against this count.
    pub failed: u32,
    pub expires_at: u64,
}

impl Entry {
    pub fn size(&self) -> usize {
        self.msg.body().len()
    }
}

/// Ready messages, one deque per priority level, each sorted by `seq`.
#[derive(Debug, Default)]
pub struct ReadyList {
    levels: Vec<VecDeque<Entry>>,
    len: usize,
    bytes: usize,
}

impl ReadyList {
    pub fn new(priority_levels: usize) -> Self {
        ReadyList {
            levels: (0..priority_levels.max(1))
                .map(|_| VecDeque::new())
                .collect(),
            len: 0,
            bytes: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The level of `prio`: higher priorities than the queue's maximum share its top level.
    fn level(&mut self, prio: u8) -> Option<&mut VecDeque<Entry>> {
        let top = self.levels.len().checked_sub(1)?;
        self.levels.get_mut((prio as usize).min(top))
    }

    /// Puts an entry at its place by `seq` (at the back for a new publish).
    pub fn insert(&mut self, entry: Entry, prio: u8) {
        self.len += 1;
        self.bytes += entry.size();
        if self.levels.is_empty() {
            self.levels.push(VecDeque::new()); // `new` makes one at least; never taken
        }
        let Some(level) = self.level(prio) else {
            return;
        };
        match level.back() {
            Some(last) if last.seq > entry.seq => {
                let at = level.partition_point(|e| e.seq < entry.seq);
                level.insert(at, entry);
            }
            _ => level.push_back(entry),
        }
    }

    /// The next message to deliver: the oldest of the highest priority.
    pub fn pop_front(&mut self) -> Option<Entry> {
        let entry = self.levels.iter_mut().rev().find_map(|l| l.pop_front())?;
        self.len -= 1;
        self.bytes -= entry.size();
        Some(entry)
    }

    /// The oldest message of the lowest priority: what `drop-head` drops.
    pub fn pop_oldest(&mut self) -> Option<Entry> {
        let entry = self.levels.iter_mut().find_map(|l| l.pop_front())?;
        self.len -= 1;
        self.bytes -= entry.size();
        Some(entry)
    }

    pub fn remove(&mut self, seq: u64, prio: u8) -> Option<Entry> {
        let level = self.level(prio)?;
        let at = level.binary_search_by_key(&seq, |e| e.seq).ok()?;
        let entry = level.remove(at)?;
        self.len -= 1;
        self.bytes -= entry.size();
        Some(entry)
    }

    pub fn drain(&mut self) -> impl Iterator<Item = Entry> + '_ {
        self.len = 0;
        self.bytes = 0;
        self.levels.iter_mut().rev().flat_map(|l| l.drain(..))
    }

    /// Ready entries in delivery order.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.levels.iter().rev().flat_map(|l| l.iter())
    }
}

/// A consumer as its queue sees it.
#[derive(Clone, Debug)]
pub struct QueueConsumer {
    pub tag: ShortStr,
    pub channel: ChannelRef,
    pub no_ack: bool,
    pub exclusive: bool,
    /// Per-consumer prefetch (0: unlimited).
    pub prefetch: u16,
    pub unacked: u32,
    pub priority: i32,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug)]
pub struct Queue {
    pub vhost: VhostId,
    pub name: ShortStr,
    pub durable: bool,
    pub exclusive_owner: Option<ConnId>,
    pub auto_delete: bool,
    pub arguments: FieldTable,
    pub args: QueueArgs,
    pub ready: ReadyList,
    /// Ready entries that can expire: (expires_at, seq, priority).
    pub expiry: BTreeSet<(u64, u64, u8)>,
    /// Requeued entries waiting out a delayed retry: (due, seq).
    pub delayed: BTreeMap<(u64, u64), Entry>,
    pub consumers: Vec<QueueConsumer>,
    /// Round-robin position among consumers.
    pub next_consumer: usize,
    pub had_consumer: bool,
    /// Messages delivered and not yet settled, over all channels.
    pub unacked: u64,
    /// For `x-expires`: last declare, get or consumer change.
    pub last_used: u64,
    pub dedup: Option<DedupCache>,
    /// Totals since the queue was declared, for metrics.
    pub stats: QueueStats,
    /// The policy in force (its settings are already in `args`).
    pub policy: Option<ShortStr>,
}

/// What went through a queue since it was declared (not kept across a
/// restart, as RabbitMQ's counters are not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueStats {
    /// Messages routed into the queue (duplicates dropped by deduplication not counted).
    pub published: u64,
    /// Deliveries to consumers and `basic.get`, redeliveries included.
    pub delivered: u64,
    pub redelivered: u64,
    /// Deliveries acknowledged by clients.
    pub acked: u64,
    /// Messages that left for a dead-letter exchange.
    pub dead_lettered: u64,
}

impl Queue {
    /// A new queue from its declaration (`d.queue` already resolved to the
    /// final name) and its parsed arguments.
    pub fn new(
        vhost: VhostId,
        d: QueueDeclare,
        owner: Option<ConnId>,
        args: QueueArgs,
        now: u64,
    ) -> Queue {
        let levels = args.max_priority.map_or(1, |p| p as usize + 1);
        let dedup = args
            .dedup
            .as_ref()
            .map(|d| DedupCache::new(d.cache_size, d.cache_ttl_ms));
        Queue {
            vhost,
            name: d.queue,
            durable: d.durable,
            exclusive_owner: owner,
            auto_delete: d.auto_delete,
            arguments: d.arguments,
            args,
            ready: ReadyList::new(levels),
            expiry: BTreeSet::new(),
            delayed: BTreeMap::new(),
            consumers: Vec::new(),
            next_consumer: 0,
            had_consumer: false,
            unacked: 0,
            last_used: now,
            dedup,
            stats: QueueStats::default(),
            policy: None,
        }
    }

    /// The priority level a message sits at.
    pub fn priority_of(&self, msg: &Message) -> u8 {
        match self.args.max_priority {
            None => 0,
            Some(max) => msg.properties.priority.unwrap_or(0).min(max),
        }
    }

    /// When a message published now expires here: the lower of the queue's
    /// `x-message-ttl` and the message's `expiration`.
    pub fn expiry_for(&self, msg: &Message, now: u64) -> u64 {
        let per_message = msg
            .properties
            .expiration
            .as_deref()
            .and_then(|e| e.parse::<u64>().ok());
        match (self.args.message_ttl, per_message) {
            (None, None) => NEVER,
            (a, b) => now.saturating_add(a.unwrap_or(u64::MAX).min(b.unwrap_or(u64::MAX))),
        }
    }

    pub fn push_ready(&mut self, entry: Entry) {
        let prio = self.priority_of(&entry.msg);
        if entry.expires_at != NEVER {
            self.expiry.insert((entry.expires_at, entry.seq, prio));
        }
        self.ready.insert(entry, prio);
    }

    pub fn pop_ready(&mut self) -> Option<Entry> {
        let entry = self.ready.pop_front()?;
        self.forget_expiry(&entry);
        Some(entry)
    }

    pub fn pop_oldest(&mut self) -> Option<Entry> {
        let entry = self.ready.pop_oldest()?;
        self.forget_expiry(&entry);
        Some(entry)
    }

    fn forget_expiry(&mut self, entry: &Entry) {
        if entry.expires_at != NEVER {
            let prio = self.priority_of(&entry.msg);
            self.expiry.remove(&(entry.expires_at, entry.seq, prio));
        }
    }

    /// Takes out the ready entry that expires first if it is due.
    pub fn pop_expired(&mut self, now: u64) -> Option<Entry> {
        let &(at, seq, prio) = self.expiry.first()?;
        if at > now {
            return None;
        }
        self.expiry.pop_first();
        self.ready.remove(seq, prio)
    }

    pub fn message_count(&self) -> u32 {
        u32::try_from(self.ready.len()).unwrap_or(u32::MAX)
    }

    pub fn consumer_count(&self) -> u32 {
        u32::try_from(self.consumers.len()).unwrap_or(u32::MAX)
    }

    /// Is the queue over `x-max-length`/`x-max-length-bytes` with `extra` more?
    pub fn over_limit(&self, extra_msgs: usize, extra_bytes: usize) -> bool {
        let len = (self.ready.len() + extra_msgs) as u64;
        let bytes = (self.ready.bytes() + extra_bytes) as u64;
        self.args.max_length.is_some_and(|m| len > m)
            || self.args.max_length_bytes.is_some_and(|m| bytes > m)
    }

    pub fn describe(&self, vhost: &str) -> String {
        format!("queue '{}' in vhost '{}'", self.name, vhost)
    }

    /// The earliest moment this queue needs the engine's attention.
    pub fn next_deadline(&self) -> Option<u64> {
        let expiry = self.expiry.first().map(|e| e.0);
        let retry = self.delayed.keys().next().map(|k| k.0);
        let unused = match self.args.expires {
            Some(ms) if self.consumers.is_empty() => Some(self.last_used.saturating_add(ms)),
            _ => None,
        };
        [expiry, retry, unused].into_iter().flatten().min()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    fn entry(seq: u64) -> Entry {
        Entry {
            seq,
            msg_id: seq,
            msg: Message::new(
                ShortStr::empty(),
                ShortStr::empty(),
                Default::default(),
                [0u8; 4],
            ),
            deliveries: 0,
            failed: 0,
            expires_at: NEVER,
        }
    }

    #[test]
    fn requeued_entries_go_back_to_their_position() {
        let mut r = ReadyList::new(1);
        for s in [1, 4, 6] {
            r.insert(entry(s), 0);
        }
        r.insert(entry(3), 0);
        r.insert(entry(5), 0);
        let order: Vec<u64> = r.iter().map(|e| e.seq).collect();
        assert_eq!(order, [1, 3, 4, 5, 6]);
        assert_eq!(r.bytes(), 20);
    }

    #[test]
    fn higher_priority_is_delivered_first_and_oldest_low_is_dropped_first() {
        let mut r = ReadyList::new(3);
        r.insert(entry(1), 0);
        r.insert(entry(2), 2);
        r.insert(entry(3), 1);
        assert_eq!(r.pop_front().unwrap().seq, 2);
        assert_eq!(r.pop_oldest().unwrap().seq, 1);
        assert_eq!(r.len(), 1);
    }
}
