//! A queue: its ready messages in publish order (per priority level), the
//! index of their expiry times, delayed retries and its consumers.

use super::args::QueueArgs;
use super::command::QueueDeclare;
use super::dedup::DedupCache;
use super::delayed::Delayed;
use super::fxhash::FxHashMap;
use super::ids::{ChannelRef, ConnId, MsgId, VhostId};
use super::message::Message;
use super::timer_set::TimerSet;
use super::value::{FieldTable, ShortStr};
use std::collections::VecDeque;

/// Never expires.
pub const NEVER: u64 = u64::MAX;

/// One message in one queue. `seq` is the position: a broker-wide counter given
/// at enqueue, so requeued messages go back exactly where they were. The ready
/// list keeps it as a smaller [`Slot`].
#[derive(Clone, Debug)]
pub struct Entry {
    pub seq: u64,
    pub msg_id: MsgId,
    pub msg: Message,
    /// Earlier deliveries of this message from this queue: every time it was
    /// handed out (`x-acquired-count`, RabbitMQ 4.3). Both counts are 16-bit
    /// and stop at 65535, which keeps a [`Slot`] at 28 bytes in wasm.
    pub deliveries: u16,
    /// Failed deliveries (`x-delivery-count`, RabbitMQ 4.3): returned by
    /// `basic.reject` with requeue or by its channel closing or connection
    /// dropping; not by `basic.nack`, `basic.recover` or a consumer timeout.
    /// `x-delivery-limit` is checked against this count.
    pub failed: u16,
    pub expires_at: u64,
}

/// A delivery count as stored (records, pages, images keep 32 bits) to the
/// count an entry holds, which stops at 65535.
pub fn count16(n: u32) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

impl Entry {
    pub fn size(&self) -> usize {
        self.msg.body().len()
    }
}

/// A `u64` as two halves, so that a struct holding it needs only 4-byte
/// alignment: in wasm a [`Slot`] is then 28 bytes, not 32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct U64([u32; 2]);

impl U64 {
    fn new(v: u64) -> Self {
        U64([v as u32, (v >> 32) as u32])
    }
    fn get(self) -> u64 {
        let [lo, hi] = self.0;
        u64::from(lo) | (u64::from(hi) << 32)
    }
}

/// An [`Entry`] as the ready list holds it, one per queued message, so its
/// size is most of a queued message's cost: 28 bytes in wasm, 40 natively.
/// The expiry is not here: most messages have none, and the list keeps the
/// ones that do on the side (see [`ReadyList::insert`]).
#[derive(Debug)]
pub struct Slot {
    seq: U64,
    msg_id: U64,
    msg: Message,
    deliveries: u16,
    failed: u16,
}

impl Slot {
    pub fn seq(&self) -> u64 {
        self.seq.get()
    }

    fn mem(&self) -> usize {
        message_mem(&self.msg)
    }
}

/// Memory an entry costs beyond its body: the entry, the block's header and
/// names, the deque slot. What paging weighs against the budget.
pub const ENTRY_OVERHEAD: usize = 96;

/// The memory one in-memory entry costs.
pub fn mem_size(e: &Entry) -> usize {
    message_mem(&e.msg)
}

/// What an entry or slot holding `msg` is counted at: its body and the overhead.
fn message_mem(msg: &Message) -> usize {
    msg.body().len() + ENTRY_OVERHEAD
}

/// Where a paged run's entries are.
#[derive(Debug)]
pub enum RunState {
    /// Only on the store.
    Out,
    /// The host was asked for the page.
    Reading,
    /// Decoded, waiting for an earlier run of its level to arrive.
    Loaded(Vec<Entry>),
}

/// A contiguous stretch of one priority level's entries that lives in a
/// page on the store: tens of bytes in memory for a page of many messages.
#[derive(Debug)]
pub struct PageRun {
    pub page: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub count: u32,
    pub bytes: u64,
    /// The earliest expiry in the page: the timer loads the first run when due.
    pub min_expires_at: u64,
    /// The highest message id in the page, so a recovery gives out none again.
    pub max_msg_id: u64,
    /// Persistent entries and their bytes: what a recovery from the log keeps.
    pub persistent: u32,
    pub persistent_bytes: u64,
    /// Rebuilt from the store log: its transient entries are gone, and after
    /// a crash its entries come back flagged redelivered.
    pub recovered: bool,
    pub crashed: bool,
    pub state: RunState,
}

/// One priority level: `[head in memory][paged runs][tail in memory]`, each
/// part sorted by `seq` and every head seq below every run's, every run's
/// below the tail's. Without runs the tail is empty.
#[derive(Debug, Default)]
pub struct Level {
    pub head: VecDeque<Slot>,
    pub runs: VecDeque<PageRun>,
    pub tail: VecDeque<Slot>,
    /// Memory of the head and the tail (see [`mem_size`]).
    pub head_mem: usize,
    pub tail_mem: usize,
}

impl Level {
    fn insert_sorted(part: &mut VecDeque<Slot>, entry: Slot) {
        let seq = entry.seq();
        match part.back() {
            Some(last) if last.seq() > seq => {
                let at = part.partition_point(|e| e.seq() < seq);
                part.insert(at, entry);
            }
            _ => part.push_back(entry),
        }
    }

    /// `m`: the entry's [`mem_size`], worked out once by the caller.
    fn insert(&mut self, entry: Slot, m: usize) {
        match self.runs.back() {
            Some(run) if entry.seq() > run.last_seq => {
                self.tail_mem += m;
                Self::insert_sorted(&mut self.tail, entry);
            }
            _ => {
                self.head_mem += m;
                Self::insert_sorted(&mut self.head, entry);
            }
        }
    }

    /// The head's first entry, and its [`mem_size`].
    fn pop_head(&mut self) -> Option<(Slot, usize)> {
        let e = self.head.pop_front()?;
        let m = e.mem();
        self.head_mem -= m;
        Some((e, m))
    }

    /// Without runs, the tail is simply the rest of the head.
    pub fn merge_tail(&mut self) {
        if self.runs.is_empty() && !self.tail.is_empty() {
            self.head.append(&mut self.tail);
            self.head_mem += std::mem::take(&mut self.tail_mem);
        }
    }

    fn remove(&mut self, seq: u64) -> Option<(Slot, usize)> {
        for (part, mem) in [
            (&mut self.head, &mut self.head_mem),
            (&mut self.tail, &mut self.tail_mem),
        ] {
            if let Ok(at) = part.binary_search_by_key(&seq, Slot::seq) {
                let e = part.remove(at)?;
                let m = e.mem();
                *mem -= m;
                return Some((e, m));
            }
        }
        None
    }
}

/// Ready messages, one [`Level`] per priority level. Counts and bytes
/// include paged runs.
#[derive(Debug, Default)]
pub struct ReadyList {
    levels: Vec<Level>,
    len: usize,
    bytes: usize,
    /// Memory of the entries held in memory (heads and tails), and how many.
    mem: usize,
    in_mem: usize,
    /// The expiry of each entry in memory that has one, by seq.
    expires: FxHashMap<u64, u64>,
}

impl ReadyList {
    pub fn new(priority_levels: usize) -> Self {
        ReadyList {
            levels: (0..priority_levels.max(1))
                .map(|_| Level::default())
                .collect(),
            len: 0,
            bytes: 0,
            mem: 0,
            in_mem: 0,
            expires: FxHashMap::default(),
        }
    }

    /// The slot an entry is kept in; its expiry, if any, goes to the side.
    fn slot(&mut self, e: Entry) -> Slot {
        if e.expires_at != NEVER {
            self.expires.insert(e.seq, e.expires_at);
        }
        Slot {
            seq: U64::new(e.seq),
            msg_id: U64::new(e.msg_id),
            msg: e.msg,
            deliveries: e.deliveries,
            failed: e.failed,
        }
    }

    /// The entry of a slot leaving the list, with its expiry back.
    fn unslot(&mut self, s: Slot) -> Entry {
        let seq = s.seq();
        let expires_at = if self.expires.is_empty() {
            NEVER
        } else {
            self.expires.remove(&seq).unwrap_or(NEVER)
        };
        Entry {
            seq,
            msg_id: s.msg_id.get(),
            msg: s.msg,
            deliveries: s.deliveries,
            failed: s.failed,
            expires_at,
        }
    }

    /// The entry of a slot still in the list.
    fn entry_of(&self, s: &Slot) -> Entry {
        let seq = s.seq();
        Entry {
            seq,
            msg_id: s.msg_id.get(),
            msg: s.msg.clone(),
            deliveries: s.deliveries,
            failed: s.failed,
            expires_at: self.expires.get(&seq).copied().unwrap_or(NEVER),
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

    /// Memory held by entries in memory (not paged).
    pub fn mem(&self) -> usize {
        self.mem
    }

    /// Entries in memory (not paged).
    pub fn in_mem(&self) -> usize {
        self.in_mem
    }

    /// Whether any level has paged runs (read back, or being read).
    pub fn has_runs(&self) -> bool {
        self.levels.iter().any(|l| !l.runs.is_empty())
    }

    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    pub fn levels_mut(&mut self) -> &mut [Level] {
        &mut self.levels
    }

    /// The level index of `prio`: higher priorities than the queue's maximum share its top level.
    pub fn level_index(&self, prio: u8) -> usize {
        (prio as usize).min(self.levels.len().saturating_sub(1))
    }

    fn level(&mut self, prio: u8) -> Option<&mut Level> {
        let i = self.level_index(prio);
        self.levels.get_mut(i)
    }

    /// Puts an entry at its place by `seq` (at the back for a new publish).
    pub fn insert(&mut self, entry: Entry, prio: u8) {
        // The body's length is read from the block once.
        let m = mem_size(&entry);
        self.len += 1;
        self.bytes += m - ENTRY_OVERHEAD;
        self.mem += m;
        self.in_mem += 1;
        if self.levels.is_empty() {
            self.levels.push(Level::default()); // `new` makes one at least; never taken
        }
        let slot = self.slot(entry);
        if let Some(level) = self.level(prio) {
            level.insert(slot, m);
        }
    }

    /// A slot out of its level, with its [`mem_size`] (`m`), leaves the counts.
    fn took(&mut self, (s, m): (Slot, usize)) -> Entry {
        self.len -= 1;
        self.bytes -= m - ENTRY_OVERHEAD;
        self.mem -= m;
        self.in_mem -= 1;
        self.unslot(s)
    }

    /// The level the next message to deliver is in: the highest with any.
    pub fn head_level(&self) -> Option<usize> {
        self.levels
            .iter()
            .rposition(|l| !l.head.is_empty() || !l.runs.is_empty())
    }

    /// The next message to deliver: the oldest of the highest priority. None
    /// also while that message is on a page not yet read back.
    pub fn pop_front(&mut self) -> Option<Entry> {
        let level = self.head_level()?;
        let slot = self.levels.get_mut(level)?.pop_head()?;
        Some(self.took(slot))
    }

    pub fn remove(&mut self, seq: u64, prio: u8) -> Option<Entry> {
        let slot = self.level(prio)?.remove(seq)?;
        Some(self.took(slot))
    }

    /// Takes every entry in memory and every paged run.
    pub fn drain(&mut self) -> (Vec<Entry>, Vec<PageRun>) {
        self.len = 0;
        self.bytes = 0;
        self.mem = 0;
        self.in_mem = 0;
        let mut slots = Vec::new();
        let mut runs = Vec::new();
        for l in self.levels.iter_mut().rev() {
            slots.extend(l.head.drain(..));
            runs.extend(l.runs.drain(..));
            slots.extend(l.tail.drain(..));
            l.head_mem = 0;
            l.tail_mem = 0;
        }
        let entries = slots.into_iter().map(|s| self.unslot(s)).collect();
        self.expires.clear();
        (entries, runs)
    }

    /// Ready entries in memory, in delivery order (paged runs left out), as
    /// copies (a copy of a message is a reference count).
    pub fn iter(&self) -> impl Iterator<Item = Entry> + '_ {
        self.levels
            .iter()
            .rev()
            .flat_map(|l| l.head.iter().chain(l.tail.iter()))
            .map(|s| self.entry_of(s))
    }

    /// Paged runs with their level index.
    pub fn runs(&self) -> impl Iterator<Item = (usize, &PageRun)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(i, l)| l.runs.iter().map(move |r| (i, r)))
    }

    /// Adds a run behind the level's runs (recovery, resume). Entries must
    /// be inserted after the runs they follow.
    pub fn push_run(&mut self, level: usize, run: PageRun) {
        self.len += run.count as usize;
        self.bytes += run.bytes as usize;
        if let Some(l) = self.levels.get_mut(level) {
            l.runs.push_back(run);
        }
    }

    /// Cuts a run of up to `max_mem` from `level` to page out: the tail's
    /// front if the level has runs, else the head's back beyond `keep` bytes.
    /// Returns the entries, in seq order.
    pub fn cut(&mut self, level: usize, keep: usize, max_mem: usize) -> Vec<Entry> {
        let Some(l) = self.levels.get_mut(level) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut taken = 0;
        if l.runs.is_empty() {
            // From the back of the head, what lies beyond its first `keep` bytes.
            let mut kept = 0;
            let mut at = 0;
            while at < l.head.len() && kept < keep {
                kept += l.head.get(at).map_or(0, Slot::mem);
                at += 1;
            }
            let mut end = at;
            while end < l.head.len() && taken < max_mem {
                taken += l.head.get(end).map_or(0, Slot::mem);
                end += 1;
            }
            if end == at {
                return Vec::new();
            }
            out.extend(l.head.drain(at..end));
            l.head_mem -= taken;
            // What followed the cut run is now the tail.
            let rest: VecDeque<Slot> = l.head.drain(at..).collect();
            let rest_mem: usize = rest.iter().map(Slot::mem).sum();
            l.head_mem -= rest_mem;
            l.tail = rest;
            l.tail_mem = rest_mem;
        } else {
            while taken < max_mem {
                let Some(e) = l.tail.pop_front() else { break };
                taken += e.mem();
                out.push(e);
            }
            l.tail_mem -= taken;
        }
        self.mem -= taken;
        self.in_mem -= out.len();
        out.into_iter().map(|s| self.unslot(s)).collect()
    }

    /// Puts a paged run's entries, read back in seq order, at the back of
    /// `level`'s head, where its run was: after everything there and before
    /// the level's later runs and tail. Counted in one pass and moved in
    /// bulk, with no search; entries out of that order (none, by the levels'
    /// invariant) take `insert` one by one.
    pub fn extend_head(&mut self, level: usize, entries: Vec<Entry>) {
        let Some(l) = self.levels.get_mut(level) else {
            return;
        };
        let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
            return;
        };
        let in_place = l.head.back().map_or(true, |b| b.seq() < first.seq)
            && l.runs.front().map_or(true, |r| last.seq < r.first_seq)
            && entries
                .windows(2)
                .all(|w| w.first().map(|e| e.seq) < w.last().map(|e| e.seq));
        if !in_place {
            let prio = u8::try_from(level).unwrap_or(u8::MAX);
            for e in entries {
                self.insert(e, prio);
            }
            return;
        }
        let n = entries.len();
        let bytes: usize = entries.iter().map(Entry::size).sum();
        let mem = bytes + n * ENTRY_OVERHEAD;
        let slots: Vec<Slot> = entries.into_iter().map(|e| self.slot(e)).collect();
        let Some(l) = self.levels.get_mut(level) else {
            return;
        };
        l.head.extend(slots);
        l.head_mem += mem;
        self.len += n;
        self.bytes += bytes;
        self.mem += mem;
        self.in_mem += n;
    }

    /// Registers the run just cut (its entries counted no more in memory).
    pub fn add_cut_run(&mut self, level: usize, run: PageRun) {
        if let Some(l) = self.levels.get_mut(level) {
            l.runs.push_back(run);
        }
    }

    /// Takes runs out of the count before their entries come back through
    /// [`insert`](Self::insert) (or are dropped).
    pub fn uncount_run(&mut self, run: &PageRun) {
        self.len -= run.count as usize;
        self.bytes -= run.bytes as usize;
    }
}

/// A consumer as its queue sees it.
#[derive(Clone, Debug)]
pub struct QueueConsumer {
    pub tag: ShortStr,
    pub channel: ChannelRef,
    /// Its number on its channel (see `Channel::next_consumer_id`): what
    /// its unacked deliveries name it by.
    pub id: u32,
    pub no_ack: bool,
    pub exclusive: bool,
    /// Per-consumer prefetch (0: unlimited).
    pub prefetch: u16,
    pub unacked: u32,
    pub priority: i32,
    pub timeout_ms: Option<u64>,
    /// When it last joined the back of the round (see `Queue::turns`).
    pub turn: u64,
    /// It had no room when its turn came: RabbitMQ takes it out of the
    /// round then, and it joins the back again once it has room.
    pub blocked: bool,
}

impl QueueConsumer {
    /// Its place in the round: priority, then turn.
    #[inline]
    fn place(&self) -> (i32, u64) {
        (self.priority, self.turn)
    }

    /// Whether it comes before `other` in the round.
    #[inline]
    pub fn before(&self, other: &QueueConsumer) -> bool {
        comes_before(self.place(), other.place())
    }

    /// Back in the round, at its back: the next of the queue's `turns`.
    #[cold]
    pub fn rejoin(&mut self, turns: &mut u64) {
        *turns += 1;
        self.blocked = false;
        self.turn = *turns;
    }
}

/// The higher priority first, then the earlier turn.
#[inline]
fn comes_before((priority, turn): (i32, u64), (p, t): (i32, u64)) -> bool {
    priority > p || (priority == p && turn < t)
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
    pub expiry: TimerSet<(u64, u64, u8)>,
    /// Requeued entries waiting out a delayed retry: (due, seq).
    pub delayed: Delayed,
    pub consumers: Vec<QueueConsumer>,
    /// Round-robin as RabbitMQ turns it: a consumer joins the back of its
    /// priority's round when it is added and after each delivery, and the
    /// next message goes to the one at the front (the lowest `turn`). This
    /// counts the joins.
    pub turns: u64,
    pub had_consumer: bool,
    /// The last dispatch pass stopped with messages ready and no consumer
    /// with room. Every change that gives a consumer room marks the queue
    /// dirty, so until then a publish behind the backlog has nothing to try
    /// (see `dispatch_after_enqueue`). Not kept in an image: false only
    /// costs a pass.
    pub waits_for_room: bool,
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
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
    /// Marks the consumers whose turn came before `winner`'s (every one
    /// without a winner): they had no room for the message, so RabbitMQ
    /// takes them out of the round (see `QueueConsumer::blocked`). Not with
    /// a lone or single active consumer, where the order is fixed.
    #[inline]
    pub fn block_passed(&mut self, winner: Option<usize>) {
        if self.consumers.len() > 1 && !self.args.single_active_consumer {
            self.mark_passed(winner);
        }
    }

    #[inline(never)]
    fn mark_passed(&mut self, winner: Option<usize>) {
        let w = winner
            .and_then(|at| self.consumers.get(at))
            .map(QueueConsumer::place);
        for c in &mut self.consumers {
            if w.map_or(true, |w| comes_before(c.place(), w)) {
                c.blocked = true;
            }
        }
    }

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
            expiry: TimerSet::default(),
            delayed: Delayed::default(),
            consumers: Vec::new(),
            turns: 0,
            had_consumer: false,
            waits_for_room: false,
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
        let per_message = match msg.properties.is_unset() {
            true => None,
            false => msg
                .properties
                .expiration
                .as_deref()
                .and_then(|e| e.parse::<u64>().ok()),
        };
        match (self.args.message_ttl, per_message) {
            (None, None) => NEVER,
            (a, b) => now.saturating_add(a.unwrap_or(u64::MAX).min(b.unwrap_or(u64::MAX))),
        }
    }

    #[inline]
    pub fn push_ready(&mut self, entry: Entry) {
        let prio = self.priority_of(&entry.msg);
        if entry.expires_at != NEVER {
            self.expiry.insert((entry.expires_at, entry.seq, prio));
        }
        self.ready.insert(entry, prio);
    }

    /// A paged run's entries, read back, rejoin `level` (see
    /// [`ReadyList::extend_head`]).
    pub fn push_ready_run(&mut self, level: usize, entries: Vec<Entry>) {
        for e in entries.iter().filter(|e| e.expires_at != NEVER) {
            let prio = self.priority_of(&e.msg);
            self.expiry.insert((e.expires_at, e.seq, prio));
        }
        self.ready.extend_head(level, entries);
    }

    pub fn pop_ready(&mut self) -> Option<Entry> {
        let entry = self.ready.pop_front()?;
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
        let (at, seq, prio) = self.expiry.first()?;
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

    /// An `x-max-length` or `x-max-length-bytes` applies: without either
    /// (most queues), a publish need not measure its message.
    #[inline]
    pub fn has_length_limit(&self) -> bool {
        self.args.max_length.is_some() || self.args.max_length_bytes.is_some()
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
        // A first run due to expire is read once its level's head is empty
        // (see `paging`), its messages then next; later ones wait until they
        // reach the head, as in RabbitMQ's classic queues.
        let paged = self
            .ready
            .levels()
            .iter()
            .filter(|l| l.head.is_empty())
            .filter_map(|l| l.runs.front())
            .filter(|r| matches!(r.state, RunState::Out))
            .map(|r| r.min_expires_at)
            .min();
        let expiry = self
            .expiry
            .first()
            .map(|e| e.0)
            .into_iter()
            .chain(paged)
            .min();
        let retry = self.delayed.first_due();
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
    fn a_slot_is_smaller_than_an_entry() {
        let words = std::mem::size_of::<usize>();
        // seq and msg_id in 4-byte halves, the block and properties pointers,
        // the two counts: 28 bytes in wasm (40 natively, by alignment).
        assert_eq!(
            std::mem::size_of::<Slot>(),
            (16 + 2 * words + 4).next_multiple_of(words)
        );
        assert!(std::mem::size_of::<Slot>() < std::mem::size_of::<Entry>());
    }

    #[test]
    fn expiries_kept_on_the_side_come_back_with_their_entries() {
        let with = |seq, at| Entry {
            expires_at: at,
            msg_id: seq + 100,
            deliveries: 2,
            failed: 1,
            ..entry(seq)
        };
        let mut r = ReadyList::new(1);
        for s in 1..=6 {
            r.insert(with(s, if s % 2 == 0 { 1000 + s } else { NEVER }), 0);
        }
        let seen: Vec<(u64, u64, u64, u16, u16)> = r
            .iter()
            .map(|e| (e.seq, e.msg_id, e.expires_at, e.deliveries, e.failed))
            .collect();
        assert_eq!(seen[1], (2, 102, 1002, 2, 1));
        assert_eq!(seen[2], (3, 103, NEVER, 2, 1));
        assert_eq!(r.pop_front().unwrap().expires_at, NEVER);
        assert_eq!(r.pop_front().unwrap().expires_at, 1002);
        assert_eq!(r.remove(4, 0).unwrap().expires_at, 1004);
        // Paged out and read back, the expiry goes and returns with the entry.
        let cut = r.cut(0, 0, usize::MAX);
        let expiries: Vec<u64> = cut.iter().map(|e| e.expires_at).collect();
        assert_eq!(expiries, [NEVER, NEVER, 1006]);
        assert!(r.expires.is_empty());
        r.extend_head(0, cut);
        let (drained, _) = r.drain();
        let expiries: Vec<u64> = drained.iter().map(|e| e.expires_at).collect();
        assert_eq!(expiries, [NEVER, NEVER, 1006]);
        assert!(r.expires.is_empty());
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
    fn higher_priority_is_delivered_first_then_oldest_first() {
        let mut r = ReadyList::new(3);
        r.insert(entry(1), 0);
        r.insert(entry(2), 2);
        r.insert(entry(3), 1);
        r.insert(entry(4), 2);
        let order: Vec<u64> = std::iter::from_fn(|| r.pop_front().map(|e| e.seq)).collect();
        assert_eq!(order, [2, 4, 3, 1]);
    }

    #[test]
    fn a_run_read_back_joins_the_head_in_order_and_counted() {
        let mut r = ReadyList::new(1);
        r.insert(entry(1), 0);
        r.insert(entry(2), 0);
        // As if 3..=5 had been cut to a page and 6 had joined the tail since.
        r.extend_head(0, vec![entry(3), entry(4), entry(5)]);
        r.insert(entry(6), 0);
        let order: Vec<u64> = r.iter().map(|e| e.seq).collect();
        assert_eq!(order, [1, 2, 3, 4, 5, 6]);
        assert_eq!((r.len(), r.in_mem(), r.bytes()), (6, 6, 24));
        assert_eq!(r.mem(), 6 * (4 + ENTRY_OVERHEAD));
        // Entries that do not follow the head still land at their place.
        r.extend_head(0, vec![entry(0), entry(9), entry(7)]);
        let order: Vec<u64> = r.iter().map(|e| e.seq).collect();
        assert_eq!(order, [0, 1, 2, 3, 4, 5, 6, 7, 9]);
        assert_eq!((r.len(), r.in_mem(), r.bytes()), (9, 9, 36));
        assert_eq!(r.levels()[0].head_mem, 9 * (4 + ENTRY_OVERHEAD));
    }
}
