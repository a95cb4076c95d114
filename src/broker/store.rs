//! Durability as an effect: the records a host stores, and the broker rebuilt
//! from them.
//!
//! Records name things (vhost, queue, exchange) rather than engine ids, so a
//! log replays into a fresh engine. A message is identified by its queue
//! entry's `seq`, unique in the broker's lifetime and kept across restarts.

use super::command::{Bind, ExchangeDeclare, QueueDeclare};
use super::engine::{Broker, BrokerConfig};
use super::error::AmqpError;
use super::fxhash::FxHashMap;
use super::ids::{ChannelRef, ConnId, QueueId};
use super::message::Message;
use super::queue::{count16, Entry, PageRun, RunState, NEVER};
use super::slab::Slab;
use super::sort;
use super::value::ShortStr;

#[derive(Clone, Debug, PartialEq)]
pub enum StoreRecord {
    /// A durable exchange was declared.
    Exchange {
        vhost: ShortStr,
        declare: ExchangeDeclare,
    },
    ExchangeDeleted {
        vhost: ShortStr,
        name: ShortStr,
    },
    /// A durable queue was declared.
    Queue {
        vhost: ShortStr,
        declare: QueueDeclare,
    },
    QueueDeleted {
        vhost: ShortStr,
        name: ShortStr,
    },
    /// A binding between durable ends.
    Binding {
        vhost: ShortStr,
        to_queue: bool,
        bind: Bind,
    },
    Unbinding {
        vhost: ShortStr,
        to_queue: bool,
        bind: Bind,
    },
    /// A persistent message entered a durable queue.
    Message {
        vhost: ShortStr,
        queue: ShortStr,
        seq: u64,
        msg_id: u64,
        deliveries: u32,
        expires_at: u64,
        message: Message,
    },
    /// The message was requeued after `deliveries` deliveries.
    Delivered {
        seq: u64,
        deliveries: u32,
    },
    /// The message was returned to its queue: handed out `deliveries`
    /// times, `failed` of them failed (see `queue::Entry`).
    Returned {
        seq: u64,
        deliveries: u32,
        failed: u32,
    },
    /// The message left its queue for good (acked, dropped, expired, dead-lettered).
    Settled {
        seq: u64,
    },
    /// A policy was set (added or replaced).
    Policy {
        vhost: ShortStr,
        policy: super::policy::Policy,
    },
    PolicyDeleted {
        vhost: ShortStr,
        name: ShortStr,
    },
    /// Messages with an id below `below` were recovered after a crash (see
    /// `Broker::crash_below`).
    CrashRecovered {
        below: u64,
    },
    /// A vhost was deleted with everything in it.
    VhostDeleted {
        vhost: ShortStr,
    },
    /// A vhost's limits were set (all of them; none left is no limit).
    VhostLimits {
        vhost: ShortStr,
        limits: super::vhost::VhostLimits,
    },
    /// A run of a queue's messages lives in page `page` of the store (written
    /// by a compaction): `count` persistent messages of `bytes` body bytes
    /// with seqs from `first_seq` to `last_seq` at priority level `level`.
    Paged {
        vhost: ShortStr,
        queue: ShortStr,
        level: u8,
        page: u64,
        first_seq: u64,
        last_seq: u64,
        count: u32,
        bytes: u64,
        min_expires_at: u64,
        max_msg_id: u64,
    },
    /// Page `page` was read back: its messages have records of their own again.
    Unpaged {
        page: u64,
    },
    /// Page `page` of a queue was dropped (purge) with its messages, those
    /// with seqs from `first_seq` to `last_seq` in that queue.
    PageDropped {
        vhost: ShortStr,
        queue: ShortStr,
        page: u64,
        first_seq: u64,
        last_seq: u64,
    },
}

/// A record that does not fit the state built from the records before it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecoveryError {
    pub index: usize,
    pub error: AmqpError,
}

impl std::fmt::Display for RecoveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store record {}: {}", self.index, self.error)
    }
}

impl std::error::Error for RecoveryError {}

struct Recovered {
    vhost: ShortStr,
    queue: ShortStr,
    entry: Entry,
}

/// Recovered messages by seq: a [`Slab`] with a seq -> slot index in the
/// engine's `u64 -> u64` map type rather than a hash map of their own type
/// (kilobytes of wasm for this one cold function).
#[derive(Default)]
struct RecoveredMessages {
    slots: Slab<Recovered>,
    index: FxHashMap<u64, u64>,
}

impl RecoveredMessages {
    fn insert(&mut self, m: Recovered) {
        let seq = m.entry.seq;
        if let Some(old) = self.get_mut(seq) {
            *old = m;
            return;
        }
        let slot = self.slots.insert(m);
        self.index.insert(seq, u64::from(slot));
    }

    fn get_mut(&mut self, seq: u64) -> Option<&mut Recovered> {
        let &slot = self.index.get(&seq)?;
        self.slots.get_mut(slot as u32)
    }

    fn remove(&mut self, seq: u64) {
        if let Some(slot) = self.index.remove(&seq) {
            self.slots.remove(slot as u32);
        }
    }

    /// Out of line, with the test as a trait object: one copy of the loop
    /// and its drops for the four callers.
    #[inline(never)]
    fn retain(&mut self, keep: &dyn Fn(&Recovered) -> bool) {
        let index = &mut self.index;
        self.slots.retain(keep, |m| {
            index.remove(&m.entry.seq);
        });
    }

    fn max_seq(&self) -> Option<u64> {
        self.index.keys().copied().max()
    }

    /// What is left, by seq.
    fn into_sorted(self) -> Vec<Recovered> {
        let mut all: Vec<Recovered> = self.slots.into_values().collect();
        sort::sort_by_key(&mut all, |m| m.entry.seq);
        all
    }
}

struct RecoveredRun {
    vhost: ShortStr,
    queue: ShortStr,
    level: u8,
    run: PageRun,
}

/// `Vec::retain` out of line, as `RecoveredMessages::retain`.
#[inline(never)]
fn retain_runs(runs: &mut Vec<RecoveredRun>, keep: &dyn Fn(&RecoveredRun) -> bool) {
    runs.retain(keep);
}

/// Drops the run of `page` from the runs being recovered (their order does
/// not matter: they are sorted when done).
fn forget_run(runs: &mut Vec<RecoveredRun>, page: u64) {
    if let Some(i) = runs.iter().position(|r| r.run.page == page) {
        runs.swap_remove(i);
    }
}

/// The engine-internal connection that replays topology records.
const RECOVERY: ConnId = ConnId(0);

impl Broker {
    /// Rebuilds a broker from its store records: durable exchanges, queues and
    /// bindings, and the persistent messages still in them with their delivery
    /// counts. Vhosts named in the records are created.
    ///
    /// The delivery counts are exact only if every record was written before
    /// the broker stopped (a clean shutdown). After a crash use
    /// [`Broker::recover_after_crash`].
    pub fn recover(
        config: BrokerConfig,
        now_ms: u64,
        records: impl IntoIterator<Item = StoreRecord>,
    ) -> Result<Broker, RecoveryError> {
        Self::recover_records(config, now_ms, records, false)
    }

    /// As [`Broker::recover`], after a crash: every recovered message comes
    /// back flagged redelivered. A `Delivered` record is written in the batch
    /// after its `basic.deliver` went out, so a crash can lose it, and a
    /// message without the flag must not have been seen before (RabbitMQ's
    /// reliability guide). Classic queues do the same: on a dirty recovery
    /// their `next_deliver_seq_id` becomes the newest message's, marking all
    /// of them delivered. This costs nothing per delivery; the price is that
    /// messages never handed out are flagged too, and count one acquisition
    /// (`x-acquired-count`) that may not have happened.
    pub fn recover_after_crash(
        config: BrokerConfig,
        now_ms: u64,
        records: impl IntoIterator<Item = StoreRecord>,
    ) -> Result<Broker, RecoveryError> {
        Self::recover_records(config, now_ms, records, true)
    }

    fn recover_records(
        config: BrokerConfig,
        now_ms: u64,
        records: impl IntoIterator<Item = StoreRecord>,
        after_crash: bool,
    ) -> Result<Broker, RecoveryError> {
        let mut b = Broker::new(BrokerConfig {
            durable_store: false, // replaying must not emit records again
            ..config.clone()
        });
        b.advance(now_ms);
        // Messages by seq, put in order at the end (a B-tree was kilobytes of
        // wasm for this one cold function). Paged runs, a page of messages
        // each and so far fewer, in a list: one hash table's code less.
        let mut messages = RecoveredMessages::default();
        let mut runs: Vec<RecoveredRun> = Vec::new();
        let mut last_page = 0;
        let mut next_msg_id = 0;
        for (index, r) in records.into_iter().enumerate() {
            let fail = |error| RecoveryError { index, error };
            let add = matches!(r, StoreRecord::Binding { .. });
            match r {
                StoreRecord::Exchange { vhost, declare } => {
                    let ch = b.recovery_channel(&vhost);
                    b.exchange_declare(now_ms, ch, declare).map_err(fail)?;
                }
                StoreRecord::ExchangeDeleted { vhost, name } => {
                    let ch = b.recovery_channel(&vhost);
                    b.exchange_delete(now_ms, ch, &name, false).map_err(fail)?;
                }
                StoreRecord::Queue { vhost, declare } => {
                    let ch = b.recovery_channel(&vhost);
                    b.queue_declare(now_ms, ch, declare).map_err(fail)?;
                }
                StoreRecord::QueueDeleted { vhost, name } => {
                    let ch = b.recovery_channel(&vhost);
                    b.queue_delete(now_ms, ch, &name, false, false)
                        .map_err(fail)?;
                    messages.retain(&|m| !(m.vhost == vhost && m.queue == name));
                    retain_runs(&mut runs, &|r| !(r.vhost == vhost && r.queue == name));
                }
                StoreRecord::Binding {
                    vhost,
                    to_queue,
                    bind,
                }
                | StoreRecord::Unbinding {
                    vhost,
                    to_queue,
                    bind,
                } => {
                    let ch = b.recovery_channel(&vhost);
                    b.bind_inner(ch, bind, to_queue, add).map_err(fail)?;
                }
                StoreRecord::Message {
                    vhost,
                    queue,
                    seq,
                    msg_id,
                    deliveries,
                    expires_at,
                    message,
                } => {
                    next_msg_id = next_msg_id.max(msg_id);
                    messages.insert(Recovered {
                        vhost,
                        queue,
                        entry: Entry {
                            seq,
                            msg_id,
                            msg: message,
                            deliveries: count16(deliveries),
                            failed: 0,
                            expires_at,
                        },
                    });
                }
                StoreRecord::Delivered { seq, deliveries } => {
                    if let Some(m) = messages.get_mut(seq) {
                        m.entry.deliveries = count16(deliveries);
                    }
                }
                StoreRecord::Returned {
                    seq,
                    deliveries,
                    failed,
                } => {
                    if let Some(m) = messages.get_mut(seq) {
                        m.entry.deliveries = count16(deliveries);
                        m.entry.failed = count16(failed);
                    }
                }
                StoreRecord::Settled { seq } => {
                    messages.remove(seq);
                }
                StoreRecord::Policy { vhost, policy } => {
                    b.add_vhost(&vhost);
                    b.set_policy(now_ms, &vhost, policy)
                        .map_err(|e| fail(super::error::AmqpError::precondition(e)))?;
                }
                StoreRecord::PolicyDeleted { vhost, name } => {
                    b.delete_policy(now_ms, &vhost, &name);
                }
                StoreRecord::VhostDeleted { vhost } => {
                    b.delete_vhost(now_ms, &vhost);
                    messages.retain(&|m| m.vhost != vhost);
                    retain_runs(&mut runs, &|r| r.vhost != vhost);
                }
                StoreRecord::VhostLimits { vhost, limits } => {
                    b.add_vhost(&vhost);
                    b.set_vhost_limits(now_ms, &vhost, limits);
                }
                StoreRecord::CrashRecovered { below } => {
                    b.crash_below = b.crash_below.max(below);
                }
                StoreRecord::Paged {
                    vhost,
                    queue,
                    level,
                    page,
                    first_seq,
                    last_seq,
                    count,
                    bytes,
                    min_expires_at,
                    max_msg_id,
                } => {
                    last_page = last_page.max(page);
                    next_msg_id = next_msg_id.max(max_msg_id);
                    let run = PageRun {
                        page,
                        first_seq,
                        last_seq,
                        count,
                        bytes,
                        min_expires_at,
                        max_msg_id,
                        persistent: count,
                        persistent_bytes: bytes,
                        recovered: true,
                        crashed: after_crash,
                        state: RunState::Out,
                    };
                    let recovered = RecoveredRun {
                        vhost,
                        queue,
                        level,
                        run,
                    };
                    match runs.iter_mut().find(|r| r.run.page == page) {
                        Some(r) => *r = recovered,
                        None => runs.push(recovered),
                    }
                }
                StoreRecord::Unpaged { page } => {
                    last_page = last_page.max(page);
                    forget_run(&mut runs, page);
                }
                StoreRecord::PageDropped {
                    vhost,
                    queue,
                    page,
                    first_seq,
                    last_seq,
                } => {
                    last_page = last_page.max(page);
                    forget_run(&mut runs, page);
                    messages.retain(&|m| {
                        !(m.vhost == vhost
                            && m.queue == queue
                            && (first_seq..=last_seq).contains(&m.entry.seq))
                    });
                }
            }
        }
        // A message whose page is still referenced is read from the page
        // (its own record is from before the run was paged).
        messages.retain(&|m| {
            !runs.iter().any(|r| {
                r.vhost == m.vhost
                    && r.queue == m.queue
                    && (r.run.first_seq..=r.run.last_seq).contains(&m.entry.seq)
            })
        });
        let mut by_seq = runs;
        sort::sort_by_key(&mut by_seq, |r| r.run.first_seq);
        let last_run_seq = by_seq.iter().map(|r| r.run.last_seq).max().unwrap_or(0);
        for r in by_seq {
            if let Some(queue) = b.queue_id(&r.vhost, &r.queue).and_then(|q| b.queue_mut(q)) {
                let level = queue.ready.level_index(r.level);
                queue.ready.push_run(level, r.run);
            }
        }
        b.next_page = last_page + 1;
        b.close_connection_state(RECOVERY);
        b.next_seq = messages
            .max_seq()
            .map_or(1, |s| s + 1)
            .max(last_run_seq + 1);
        // Ids below a crash mark are flagged as seen before it: a new message
        // starts at the mark even when the records of the ids below it are
        // gone (compacted away, or settled in the batch that held them).
        b.next_msg_id = (next_msg_id + 1).max(b.crash_below);
        if after_crash {
            b.crash_below = b.next_msg_id;
        }
        let messages = messages.into_sorted();
        let mut flagged = Vec::new();
        for mut m in messages {
            let Some(q) = b.queue_id(&m.vhost, &m.queue) else {
                continue; // its queue is gone: nothing to deliver it to
            };
            if after_crash && m.entry.deliveries == 0 {
                m.entry.deliveries = 1;
                flagged.push(m.entry.seq);
            }
            // One call of the inlined `push_ready`, not one per branch.
            let at = m.entry.expires_at;
            let Some(queue) = b.queue_mut(q) else {
                continue;
            };
            queue.push_ready(m.entry);
            if at != NEVER {
                b.schedule(at);
            }
        }
        b.config = config;
        b.effects.clear();
        b.events.clear();
        // A backlog read back from the log goes to pages again.
        let ids: Vec<QueueId> = b.queue_ids();
        for q in ids {
            b.page_service(q);
        }
        if b.config.durable_store {
            // The flags are stored too, or a clean restart after this one
            // would trust the log again and drop them.
            if after_crash {
                let below = b.crash_below;
                b.record_cold(StoreRecord::CrashRecovered { below });
            }
            for seq in flagged {
                b.record_cold(StoreRecord::Delivered { seq, deliveries: 1 });
            }
        }
        Ok(b)
    }

    /// A channel of the internal recovery connection on `vhost`.
    fn recovery_channel(&mut self, vhost: &str) -> ChannelRef {
        let id = self.add_vhost(vhost);
        let ch = ChannelRef::new(RECOVERY, 0);
        let Some(conn) = self
            .conns
            .get_or_insert_with(RECOVERY, || super::engine::Conn {
                info: Default::default(),
                vhost: id,
                channels: Vec::new(),
                perms: None,
            })
        else {
            return ch;
        };
        conn.vhost = id;
        conn.channels.clear();
        conn.channels
            .push(Some(Box::new(super::channel::Channel::new(ch))));
        ch
    }

    pub(crate) fn queue_id(&self, vhost: &str, name: &str) -> Option<QueueId> {
        let v = self.vhost_id(vhost)?;
        self.vhosts.get(v.0 as usize)?.queues.get(name).copied()
    }

    /// The records that rebuild the current durable state, for compacting a
    /// log: topology, then every persistent message still held (ready,
    /// delayed or unacked) in a durable queue.
    pub fn snapshot_records(&self) -> Vec<StoreRecord> {
        let mut out = Vec::new();
        if self.crash_below > 0 {
            out.push(StoreRecord::CrashRecovered {
                below: self.crash_below,
            });
        }
        for v in self.live_vhosts() {
            let mut policies: Vec<&super::policy::Policy> = v.policies.iter().collect();
            sort::sort_by(&mut policies, |a, b| a.name.cmp(&b.name));
            for p in policies {
                out.push(StoreRecord::Policy {
                    vhost: v.name.clone(),
                    policy: p.clone(),
                });
            }
            let exchanges = v.exchanges_by_name();
            for x in &exchanges {
                if x.durable && !is_builtin(&x.name) {
                    out.push(StoreRecord::Exchange {
                        vhost: v.name.clone(),
                        declare: x.declaration(),
                    });
                }
            }
            for id in v.queue_ids_by_name() {
                if let Some(q) = self.queue(id).filter(|q| self.persists_queue(q)) {
                    out.push(StoreRecord::Queue {
                        vhost: v.name.clone(),
                        declare: q.declaration(),
                    });
                }
            }
            for x in &exchanges {
                for bnd in &x.bindings {
                    if let Some((to_queue, bind)) = self.durable_binding(v, x, bnd) {
                        out.push(StoreRecord::Binding {
                            vhost: v.name.clone(),
                            to_queue,
                            bind,
                        });
                    }
                }
            }
            if !v.limits.is_empty() {
                out.push(StoreRecord::VhostLimits {
                    vhost: v.name.clone(),
                    limits: v.limits,
                });
            }
        }
        let mut held: Vec<StoreRecord> = Vec::new();
        let mut paged: Vec<StoreRecord> = Vec::new();
        // Two callers: out of line, one copy of building the records.
        #[inline(never)]
        fn push(held: &mut Vec<StoreRecord>, q: &super::queue::Queue, e: &Entry, vhost: &ShortStr) {
            held.push(StoreRecord::Message {
                vhost: vhost.clone(),
                queue: q.name.clone(),
                seq: e.seq,
                msg_id: e.msg_id,
                deliveries: e.deliveries.into(),
                expires_at: e.expires_at,
                message: e.msg.clone(),
            });
            if e.failed > 0 {
                held.push(StoreRecord::Returned {
                    seq: e.seq,
                    deliveries: e.deliveries.into(),
                    failed: e.failed.into(),
                });
            }
        }
        for slot in &self.queues {
            let Some(q) = slot.queue.as_deref() else {
                continue;
            };
            if !self.persists_queue(q) {
                continue;
            }
            let vhost = &self.vhost_ref(q.vhost).name;
            for e in q
                .ready
                .iter()
                .chain(q.delayed.iter().map(|(_, e)| e.clone()))
            {
                if e.msg.persistent() {
                    push(&mut held, q, &e, vhost);
                }
            }
            for (level, r) in q.ready.runs().filter(|(_, r)| r.persistent > 0) {
                paged.push(StoreRecord::Paged {
                    vhost: vhost.clone(),
                    queue: q.name.clone(),
                    level: u8::try_from(level).unwrap_or(u8::MAX),
                    page: r.page,
                    first_seq: r.first_seq,
                    last_seq: r.last_seq,
                    count: r.persistent,
                    bytes: r.persistent_bytes,
                    min_expires_at: r.min_expires_at,
                    max_msg_id: r.max_msg_id,
                });
            }
        }
        for conn in self.conns.values() {
            for ch in conn.channels.iter().flatten() {
                for u in &ch.unacked {
                    if let Some(q) = self.queue(u.queue).filter(|q| self.persists_queue(q)) {
                        if u.entry.msg.persistent() {
                            let vhost = &self.vhost_ref(q.vhost).name;
                            push(&mut held, q, &u.entry, vhost);
                        }
                    }
                }
            }
        }
        sort::sort_by_key(&mut held, |r| match r {
            StoreRecord::Message { seq, .. } => (*seq, 0),
            StoreRecord::Returned { seq, .. } => (*seq, 1),
            _ => (0, 0),
        });
        out.extend(held);
        out.extend(paged);
        out
    }
}

pub(crate) fn is_builtin(name: &str) -> bool {
    matches!(
        name,
        "" | "amq.direct" | "amq.fanout" | "amq.topic" | "amq.headers" | "amq.match"
    )
}
