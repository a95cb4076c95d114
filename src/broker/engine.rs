//! The broker: its tables, connections and channels, and the calling contract.
//!
//! # Calling contract
//! - Every command takes `now_ms`, the host's clock in milliseconds. Time never
//!   goes backwards inside the engine (an earlier `now_ms` counts as the latest).
//! - A command returns its reply (or an [`AmqpError`]). Effects it caused are
//!   queued; the host sends them *before* the reply. After a soft error the
//!   engine has already closed the channel (its deliveries requeued); after a
//!   hard error, the connection.
//! - After each command the host calls [`Broker::poll`], which runs due timers
//!   and delivers to consumers; after a batch of input it calls
//!   [`Broker::flush`], which also releases publisher confirms (batched with
//!   `multiple`). Then it drains [`Broker::take_effects`].
//! - The engine asks to be woken at [`Broker::next_deadline`].
//! - Store records (durable topology, persistent messages in durable queues and
//!   their settlement) come out of [`Broker::take_store_records`], numbered from
//!   1 in order; once the host has made records up to `n` durable it calls
//!   [`Broker::store_durable`]`(n)`, which releases the confirms waiting on them.

use super::channel::{Channel, Mode};
use super::command::ConnectionInfo;
use super::effect::Effect;
use super::error::{AmqpError, ReplyCode, Result};
use super::event::{Event, EventKind};
use super::exchange::Exchange;
use super::fxhash::FxHashMap;
use super::ids::{ChannelRef, ConnId, MsgId, QueueId, VhostId};
use super::queue::{Queue, NEVER};
use super::routing::ExchangeKind;
use super::sort;
use super::store::StoreRecord;
use super::timer_set::TimerSet;
use super::value::{FieldTable, ShortStr};

/// Settings a host chooses for its broker. The default: memory only, no
/// events, no consumer timeout.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Emit store records and hold confirms of persistent messages in durable
    /// queues until the host reports them durable. Off for a memory-only broker.
    pub durable_store: bool,
    /// Record lifecycle events for [`Broker::take_events`].
    pub events: bool,
    /// Consumer timeout for every queue without `x-consumer-timeout` (RabbitMQ's
    /// default is 30 minutes; None disables it).
    pub consumer_timeout_ms: Option<u64>,
    /// Memory a queue's messages may take before runs of them are paged to
    /// the store (see `paging`); None: never paged (a store without pages).
    pub page_budget_bytes: Option<usize>,
}

pub(crate) struct Vhost {
    pub name: ShortStr,
    pub exchanges: FxHashMap<ShortStr, Exchange>,
    pub queues: FxHashMap<ShortStr, QueueId>,
    /// Policies set on this vhost (see `policy`).
    pub policies: Vec<super::policy::Policy>,
    /// `max-connections` and `max-queues` (see `vhost`).
    pub limits: super::vhost::VhostLimits,
    /// Deleted: an empty tombstone that keeps later vhosts' ids (see `vhost`).
    pub deleted: bool,
}

pub(crate) struct Conn {
    pub info: ConnectionInfo,
    pub vhost: VhostId,
    /// Indexed by channel number; boxed so a client that opens a high
    /// channel number costs a pointer per lower number, not a whole channel.
    pub channels: Vec<Option<Box<Channel>>>,
    /// The user's permissions in this vhost, compiled at open; None when
    /// access control is off.
    pub perms: Option<super::access::Compiled>,
}

pub(crate) struct QueueSlot {
    pub gen: u32,
    pub queue: Option<Box<Queue>>,
}

pub struct Broker {
    pub(crate) config: BrokerConfig,
    pub(crate) now: u64,
    pub(crate) vhosts: Vec<Vhost>,
    pub(crate) queues: Vec<QueueSlot>,
    pub(crate) free_queue_slots: Vec<u32>,
    pub(crate) conns: super::conn_table::ConnTable,
    pub(crate) next_conn: u32,
    /// Position counter for queue entries (see `queue::Entry::seq`).
    pub(crate) next_seq: u64,
    pub(crate) next_msg_id: MsgId,
    /// Messages with a lower id were recovered after a crash (0: none). A
    /// dead-lettered copy of one keeps its id and is flagged redelivered: a
    /// copy made before the crash may have been delivered and its record lost.
    pub(crate) crash_below: MsgId,
    pub(crate) name_counter: u64,
    pub(crate) effects: Vec<Effect>,
    pub(crate) events: Vec<Event>,
    pub(crate) store: Vec<StoreRecord>,
    pub(crate) store_emitted: u64,
    pub(crate) store_durable: u64,
    /// Queues that may be able to deliver.
    pub(crate) dirty: Vec<QueueId>,
    /// Channels with confirms to release.
    pub(crate) confirm_dirty: Vec<ChannelRef>,
    /// Consumer timeouts: (deadline, channel, delivery tag).
    pub(crate) timeouts: TimerSet<(u64, ChannelRef, u64)>,
    /// No timer is due before this moment.
    pub(crate) wake_at: u64,
    /// Scratch space for routing, reused across publishes.
    pub(crate) route_scratch: Vec<QueueId>,
    /// The queues recent publishes reached, by address: a cache that every
    /// change to a vhost forgets, so not part of the image.
    pub(crate) route_cache: super::route_cache::RouteCache,
    /// Scratch space for the deliveries an ack settles, reused across acks;
    /// empty between commands, so not part of the image.
    pub(crate) settle_scratch: Vec<super::channel::Unacked>,
    /// A queue refused a publish since `tx.commit` cleared it; read by the
    /// commit before it returns, so not part of the image.
    pub(crate) publish_refused: bool,
    /// The reason given to publishers while blocked (`connection.blocked`).
    pub(crate) blocked: Option<ShortStr>,
    /// Dead letters waiting to be routed while another one is (see
    /// `route_dead_letter`), and whether that routing is under way.
    pub(crate) dead_letters:
        std::collections::VecDeque<(ShortStr, VhostId, super::message::Message, MsgId)>,
    pub(crate) routing_dead_letters: bool,
    /// Users, their passwords, tags and permissions (see `access.rs`).
    pub(crate) users: Vec<super::access::User>,
    /// Whether permissions are checked at all (off until `set_users`).
    pub(crate) access_control: bool,
    /// Direct reply-to: the per-channel reply names given out, and their
    /// channels (see `direct_reply`).
    pub(crate) replies: super::direct_reply::ReplyNames,
    /// The id of the next page written (see `paging`).
    pub(crate) next_page: u64,
    /// Page operations for the host, in order.
    pub(crate) page_ops: Vec<super::paging::PageOp>,
    /// Pages asked for and not yet loaded, and their queues (`QueueId::to_bits`:
    /// the map type of a ready list's expiry, one hash table's code for both).
    pub(crate) reading: FxHashMap<u64, u64>,
}

impl Default for Broker {
    fn default() -> Self {
        Broker::new(BrokerConfig::default())
    }
}

impl Broker {
    pub fn new(config: BrokerConfig) -> Broker {
        let mut b = Broker {
            config,
            now: 0,
            vhosts: Vec::new(),
            queues: Vec::new(),
            free_queue_slots: Vec::new(),
            conns: Default::default(),
            next_conn: 1,
            next_seq: 1,
            next_msg_id: 1,
            crash_below: 0,
            name_counter: 0,
            effects: Vec::new(),
            events: Vec::new(),
            store: Vec::new(),
            store_emitted: 0,
            store_durable: 0,
            dirty: Vec::new(),
            confirm_dirty: Vec::new(),
            timeouts: TimerSet::default(),
            wake_at: NEVER,
            route_scratch: Vec::new(),
            route_cache: Default::default(),
            settle_scratch: Vec::new(),
            publish_refused: false,
            blocked: None,
            dead_letters: Default::default(),
            routing_dead_letters: false,
            users: Vec::new(),
            access_control: false,
            replies: Default::default(),
            next_page: 1,
            page_ops: Vec::new(),
            reading: FxHashMap::default(),
        };
        b.add_vhost("/");
        b
    }

    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// Adds a virtual host with its standard exchanges; existing ones are kept.
    pub fn add_vhost(&mut self, name: &str) -> VhostId {
        if let Some(id) = self.vhost_id(name) {
            return id;
        }
        let mut v = Vhost {
            name: ShortStr::truncated(name),
            exchanges: FxHashMap::default(),
            queues: FxHashMap::default(),
            policies: Vec::new(),
            limits: Default::default(),
            deleted: false,
        };
        for (n, kind) in [
            ("", ExchangeKind::Direct),
            ("amq.direct", ExchangeKind::Direct),
            ("amq.fanout", ExchangeKind::Fanout),
            ("amq.topic", ExchangeKind::Topic),
            ("amq.headers", ExchangeKind::Headers),
            ("amq.match", ExchangeKind::Headers),
        ] {
            let name = ShortStr::truncated(n);
            v.exchanges.insert(
                name.clone(),
                Exchange {
                    name,
                    kind,
                    durable: true,
                    auto_delete: false,
                    internal: false,
                    arguments: FieldTable::new(),
                    bindings: Vec::new(),
                    dedup: None,
                },
            );
        }
        // A deleted vhost's slot is free again: nothing holds its id once
        // its connections, queues and dead letters are gone (see `vhost`).
        self.route_cache.forget();
        if let Some(i) = self.vhosts.iter().position(|v| v.deleted) {
            if let Some(slot) = self.vhosts.get_mut(i) {
                *slot = v;
                return VhostId(i as u32);
            }
        }
        self.vhosts.push(v);
        VhostId(self.vhosts.len() as u32 - 1)
    }

    /// The vhosts' names, in slot order (a vhost added after a deletion may
    /// take the deleted one's place).
    pub fn vhost_names(&self) -> Vec<String> {
        self.live_vhosts().map(|v| v.name.to_string()).collect()
    }

    /// The vhosts that are not deleted.
    pub(crate) fn live_vhosts(&self) -> impl Iterator<Item = &Vhost> {
        self.vhosts.iter().filter(|v| !v.deleted)
    }

    pub fn vhost_id(&self, name: &str) -> Option<VhostId> {
        self.vhosts
            .iter()
            .position(|v| !v.deleted && v.name.as_str() == name)
            .map(|i| VhostId(i as u32))
    }

    pub(crate) fn vhost_name(&self, v: VhostId) -> &str {
        self.vhosts
            .get(v.0 as usize)
            .map_or("", |v| v.name.as_str())
    }

    pub(crate) fn advance(&mut self, now_ms: u64) -> u64 {
        if now_ms > self.now {
            self.now = now_ms;
        }
        self.now
    }

    // ---- effects, events, store ------------------------------------------

    /// Takes the effects queued so far, in the order they must be sent.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Moves the queued effects into `out` (reusing its allocation).
    #[inline]
    pub fn drain_effects_into(&mut self, out: &mut Vec<Effect>) {
        // Into an empty `out` (a host that drained it since): the two
        // buffers trade places, copying no effect.
        if out.is_empty() {
            std::mem::swap(out, &mut self.effects);
        } else {
            out.append(&mut self.effects);
        }
    }

    pub fn has_effects(&self) -> bool {
        !self.effects.is_empty()
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Starts or stops recording events (a host records them only while
    /// someone listens: building and dropping them costs each message a few
    /// allocations). Stopping drops what was recorded.
    pub fn set_events(&mut self, on: bool) {
        self.config.events = on;
        if !on {
            self.events = Vec::new();
        }
    }

    #[inline]
    pub(crate) fn emit(&mut self, e: Effect) {
        self.effects.push(e);
    }

    #[inline]
    pub(crate) fn event(&mut self, kind: impl FnOnce() -> EventKind) {
        if self.config.events {
            self.events.push(Event {
                at_ms: self.now,
                kind: kind(),
            });
        }
    }

    /// [`event`](Self::event) for the cold callers (topology, connections,
    /// returns, drops, dead-lettering): the push, with its move of a whole
    /// `EventKind`, stays out of line rather than copied into each.
    #[inline]
    pub(crate) fn event_cold(&mut self, kind: impl FnOnce() -> EventKind) {
        if self.config.events {
            self.push_event(kind());
        }
    }

    #[inline(never)]
    fn push_event(&mut self, kind: EventKind) {
        self.event(|| kind);
    }

    /// Store records emitted since the last call, numbered from
    /// `first_number` (the number of the first record returned).
    pub fn take_store_records(&mut self) -> (u64, Vec<StoreRecord>) {
        let records = std::mem::take(&mut self.store);
        let first = self.store_emitted - records.len() as u64 + 1;
        (first, records)
    }

    pub(crate) fn record(&mut self, r: StoreRecord) -> u64 {
        self.store.push(r);
        self.store_emitted += 1;
        self.store_emitted
    }

    /// [`record`](Self::record) out of line, for the cold writers
    /// (topology, policies, vhosts, paging, recovery): an inlined push copies
    /// the move of a whole `StoreRecord` and the growth check into each.
    #[inline(never)]
    pub(crate) fn record_cold(&mut self, r: StoreRecord) -> u64 {
        self.record(r)
    }

    /// How many store records have been emitted (the number of the last one).
    pub fn store_emitted(&self) -> u64 {
        self.store_emitted
    }

    /// The host made every store record up to number `n` durable.
    pub fn store_durable(&mut self, n: u64) {
        if n <= self.store_durable {
            return;
        }
        self.store_durable = n.min(self.store_emitted);
        let durable = self.store_durable;
        let mut commits = Vec::new();
        // Released from the back: pushed from the highest channel down, so the
        // lowest goes first, whatever the map's order.
        for id in self.connection_ids().into_iter().rev() {
            let Some(conn) = self.conns.get_mut(&id) else {
                continue;
            };
            for ch in conn.channels.iter_mut().rev().flatten() {
                match &mut ch.mode {
                    Mode::Confirm { pending, .. } if !pending.is_empty() => {
                        self.confirm_dirty.push(ch.id);
                    }
                    Mode::Tx { owed, .. } if owed.count > 0 && owed.until <= durable => {
                        commits.push((ch.id, std::mem::take(owed).count));
                    }
                    _ => {}
                }
            }
        }
        for (to, n) in commits {
            for _ in 0..n {
                self.emit(Effect::TxCommitOk { to });
            }
        }
    }

    // ---- scheduling --------------------------------------------------------

    /// The next moment the engine must be polled (TTL expiry, consumer
    /// timeouts, delayed retries, queue expiry), if any.
    pub fn next_deadline(&self) -> Option<u64> {
        (self.wake_at != NEVER).then_some(self.wake_at)
    }

    pub(crate) fn schedule(&mut self, at: u64) {
        if at < self.wake_at {
            self.wake_at = at;
        }
    }

    // Kept a call: inlined, its push made each caller (the release of
    // prefetch slots after an ack, say) save registers on every call.
    #[inline(never)]
    pub(crate) fn mark_dirty(&mut self, q: QueueId) {
        if !self.dirty.contains(&q) {
            self.dirty.push(q);
        }
    }

    /// Runs due timers and delivers to consumers that have room.
    #[inline]
    pub fn poll(&mut self, now_ms: u64) {
        let now = self.advance(now_ms);
        // Most polls of a busy broker find no timer due and no queue marked
        // (deliveries went out at publish): no call.
        if now >= self.wake_at || !self.dirty.is_empty() {
            self.poll_due(now);
        }
    }

    #[inline(never)]
    fn poll_due(&mut self, now: u64) {
        if now >= self.wake_at {
            self.run_timers(now);
        }
        // A queue whose round ran out waits at the front for the next poll.
        let mut waiting = 0;
        while self.dirty.len() > waiting {
            let Some(q) = self.dirty.pop() else {
                break;
            };
            if !self.dispatch(q) {
                self.dirty.insert(waiting, q);
                waiting += 1;
            }
        }
    }

    /// Queues wait for a [`poll`](Self::poll) to deliver: a backlog being
    /// delivered in rounds ([`DISPATCH_ROUND`](super::delivery::DISPATCH_ROUND)).
    pub fn has_pending_dispatch(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// [`poll`](Self::poll), then releases publisher confirms.
    pub fn flush(&mut self, now_ms: u64) {
        self.poll(now_ms);
        while let Some(ch) = self.confirm_dirty.pop() {
            self.release_confirms(ch);
        }
    }

    // ---- lookups -----------------------------------------------------------

    pub(crate) fn queue(&self, id: QueueId) -> Option<&Queue> {
        let slot = self.queues.get(id.index())?;
        (slot.gen == id.gen()).then_some(())?;
        slot.queue.as_deref()
    }

    pub(crate) fn queue_mut(&mut self, id: QueueId) -> Option<&mut Queue> {
        let slot = self.queues.get_mut(id.index())?;
        (slot.gen == id.gen()).then_some(())?;
        slot.queue.as_deref_mut()
    }

    #[inline]
    pub(crate) fn channel(&self, ch: ChannelRef) -> Option<&Channel> {
        self.conns
            .get(&ch.conn)?
            .channels
            .get(ch.channel as usize)?
            .as_deref()
    }

    #[inline]
    pub(crate) fn channel_mut(&mut self, ch: ChannelRef) -> Option<&mut Channel> {
        self.conns
            .get_mut(&ch.conn)?
            .channels
            .get_mut(ch.channel as usize)?
            .as_deref_mut()
    }

    /// The open channel, or the connection error a client gets for using a
    /// channel it did not open.
    #[inline]
    pub(crate) fn open_channel(&mut self, ch: ChannelRef) -> Result<&mut Channel> {
        self.channel_mut(ch).ok_or_else(|| channel_not_open(ch))
    }

    /// The connection's vhost and the open channel, in one lookup.
    pub(crate) fn vhost_and_channel(&mut self, ch: ChannelRef) -> Result<(VhostId, &mut Channel)> {
        let conn = self
            .conns
            .get_mut(&ch.conn)
            .ok_or_else(|| AmqpError::command_invalid("connection is not open"))?;
        let vhost = conn.vhost;
        match conn
            .channels
            .get_mut(ch.channel as usize)
            .and_then(Option::as_mut)
        {
            Some(c) => Ok((vhost, c)),
            None => Err(AmqpError::new(
                ReplyCode::ChannelError,
                format_args!("expected 'channel.open' on channel {}", ch.channel),
            )),
        }
    }

    pub(crate) fn conn_vhost(&self, conn: ConnId) -> Result<VhostId> {
        self.conns
            .get(&conn)
            .map(|c| c.vhost)
            .ok_or_else(|| AmqpError::command_invalid("connection is not open"))
    }

    /// Turns an error into the close it implies: a soft error closes the
    /// channel, a hard one the connection. The error is returned for the
    /// caller to send as `channel.close`/`connection.close`.
    #[inline]
    pub(crate) fn fail<T>(&mut self, ch: ChannelRef, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            if e.is_soft() {
                self.close_channel_state(ch);
            } else {
                self.close_connection_state(ch.conn);
            }
        }
        r
    }

    /// A broker-generated name: `amq.gen-` or `amq.ctag-` and 22 characters.
    pub(crate) fn generate_name(&mut self, prefix: &str) -> ShortStr {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        self.name_counter += 1;
        let mut x = self.name_counter;
        let mut s = String::with_capacity(prefix.len() + 22);
        s.push_str(prefix);
        for i in 0..22 {
            if i % 10 == 0 {
                x = splitmix64(x);
            }
            s.extend(ALPHABET.get((x & 63) as usize).map(|&c| c as char));
            x >>= 6;
        }
        ShortStr::truncated(&s)
    }

    // ---- connections and channels -----------------------------------------

    /// Registers a connection that completed its handshake. An unknown vhost
    /// is 530 NOT_ALLOWED. While the broker is blocked, a `Blocked` effect for
    /// the new connection is queued: send it after `connection.open-ok`.
    pub fn connection_open(&mut self, now_ms: u64, info: ConnectionInfo) -> Result<ConnId> {
        self.advance(now_ms);
        let vhost = self.vhost_id(&info.vhost).ok_or_else(|| {
            AmqpError::new(
                ReplyCode::NotAllowed,
                format_args!("vhost {} not found", info.vhost),
            )
        })?;
        // Before the permission check, as in RabbitMQ 3.10: a user without
        // access to a full vhost is told of the limit.
        self.check_connection_limit(vhost, &info.user)?;
        let perms = self.vhost_access(&info.user, &info.vhost)?;
        let id = ConnId(self.next_conn);
        self.next_conn = self.next_conn.wrapping_add(1).max(1);
        let blocked = self.blocked.clone().filter(|_| info.connection_blocked);
        self.conns.insert(
            id,
            Conn {
                info,
                vhost,
                channels: Vec::new(),
                perms,
            },
        );
        if let Some(reason) = blocked {
            self.emit(Effect::Blocked {
                to: id,
                reason: Some(reason),
            });
        }
        self.event_cold(|| EventKind::ConnectionOpened { conn: id });
        Ok(id)
    }

    /// The connection is gone (closed or transport lost): its unacked
    /// deliveries are requeued, its consumers and exclusive queues removed.
    pub fn connection_close(&mut self, now_ms: u64, conn: ConnId) {
        self.advance(now_ms);
        self.close_connection_state(conn);
    }

    /// The open connections, in id order.
    pub fn connection_ids(&self) -> Vec<ConnId> {
        let mut ids: Vec<ConnId> = self.conns.keys().copied().collect();
        sort::sort(&mut ids);
        ids
    }

    pub fn connection_info(&self, conn: ConnId) -> Option<&ConnectionInfo> {
        self.conns.get(&conn).map(|c| &c.info)
    }

    pub fn channel_open(&mut self, now_ms: u64, ch: ChannelRef) -> Result<()> {
        self.advance(now_ms);
        let conn = self
            .conns
            .get_mut(&ch.conn)
            .ok_or_else(|| AmqpError::command_invalid("connection is not open"))?;
        let idx = ch.channel as usize;
        if conn.channels.len() <= idx {
            conn.channels.resize_with(idx + 1, || None);
        }
        let Some(slot) = conn.channels.get_mut(idx) else {
            return Err(AmqpError::command_invalid("channel number out of range"));
        };
        if slot.is_some() {
            let e = AmqpError::new(
                ReplyCode::ChannelError,
                format_args!("second 'channel.open' seen on channel {}", ch.channel),
            );
            self.close_connection_state(ch.conn);
            return Err(e);
        }
        *slot = Some(Box::new(Channel::new(ch)));
        self.event_cold(|| EventKind::ChannelOpened { channel: ch });
        Ok(())
    }

    /// The client closed the channel (or acknowledged the broker's close).
    /// Unacked deliveries are requeued; consumers are cancelled.
    pub fn channel_close(&mut self, now_ms: u64, ch: ChannelRef) {
        self.advance(now_ms);
        self.close_channel_state(ch);
    }

    pub fn channel_is_open(&self, ch: ChannelRef) -> bool {
        self.channel(ch).is_some()
    }

    pub(crate) fn close_channel_state(&mut self, ch: ChannelRef) {
        let Some(conn) = self.conns.get_mut(&ch.conn) else {
            return;
        };
        let Some(mut channel) = conn
            .channels
            .get_mut(ch.channel as usize)
            .and_then(Option::take)
        else {
            return;
        };
        self.drop_reply_to(channel.reply_consumer.take());
        for (q, tag) in std::mem::take(&mut channel.consumers) {
            self.remove_consumer(q, &tag, ch);
        }
        // A channel or connection that goes with deliveries outstanding
        // failed them (RabbitMQ 4.3: x-delivery-count grows).
        let unacked: Vec<_> = channel.unacked.drain(..).collect();
        self.requeue_all(ch, unacked, true);
        self.event_cold(|| EventKind::ChannelClosed { channel: ch });
    }

    pub(crate) fn close_connection_state(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        // Nothing more goes to a connection on its way out, not even while
        // its first channels' messages are requeued or dead-lettered.
        for ch in c.channels.iter_mut().flatten() {
            ch.flow_active = false;
        }
        let numbers: Vec<u16> = c
            .channels
            .iter()
            .flatten()
            .map(|ch| ch.id.channel)
            .collect();
        let vhost = c.vhost;
        for n in numbers {
            self.close_channel_state(ChannelRef::new(conn, n));
        }
        self.conns.remove(&conn);
        // In slot order, not a map's: the effects of the deletions must come
        // out the same in a broker resumed from an image.
        let exclusive: Vec<QueueId> = self
            .queues
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.queue
                    .as_ref()
                    .is_some_and(|q| q.vhost == vhost && q.exclusive_owner == Some(conn))
            })
            .map(|(i, s)| QueueId::new(i as u32, s.gen))
            .collect();
        for q in exclusive {
            self.delete_queue(q);
        }
        self.event_cold(|| EventKind::ConnectionClosed { conn });
    }

    /// Sends `connection.blocked` (Some) or `connection.unblocked` (None) to
    /// every connection that understands it, as a memory alarm does.
    pub fn set_blocked(&mut self, reason: Option<&str>) {
        let reason = reason.map(ShortStr::truncated);
        if reason == self.blocked {
            return;
        }
        self.blocked = reason.clone();
        let mut ids: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.info.connection_blocked)
            .map(|(id, _)| *id)
            .collect();
        sort::sort(&mut ids);
        for to in ids {
            self.emit(Effect::Blocked {
                to,
                reason: reason.clone(),
            });
        }
    }
}

/// The connection error a client gets for using a channel it did not open;
/// out of line, so the look-ups that may return it stay small.
#[cold]
#[inline(never)]
pub(crate) fn channel_not_open(ch: ChannelRef) -> AmqpError {
    AmqpError::new(
        ReplyCode::ChannelError,
        format_args!("expected 'channel.open' on channel {}", ch.channel),
    )
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
