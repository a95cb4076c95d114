//! Many connections and one broker: what a host drives.
//!
//! ```text
//! let mut server = Server::new(ServerConfig::default(), Broker::default());
//! let conn = server.accept(now, "10.0.0.7:51234");      // a new transport
//! server.receive(now, conn, &bytes);                     // bytes in, any split
//! server.transport_closed(now, conn);                    // the socket is gone
//! server.tick(now);                                      // at next_deadline()
//! while let Some(out) = server.poll_output() {
//!     match out {
//!         Output::Send { conn, bytes } => { /* write; maybe server.recycle(bytes) */ }
//!         Output::Close { conn, .. } => { /* close the transport */ }
//!         Output::Effect(e) => { /* for a client opened on the broker directly */ }
//!         Output::Flush { conn } => { /* end the write: what follows is sent apart */ }
//!         _ => {}
//!     }
//! }
//! let wake_at = server.next_deadline();
//! ```

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

mod image;

use super::connection::{
    CloseReport, Connection, Env, NoPeers, PeerAuth, Peers, ServerConfig, Settings,
};
use crate::broker::fxhash::FxHashMap;
use crate::broker::{Broker, ConnId, Effect};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::rc::Rc;

/// A transport the host accepted. Never reused within one server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnToken(pub u64);

/// What the host must do next.
#[derive(Debug)]
#[non_exhaustive]
pub enum Output {
    /// Write these bytes to the transport, in order.
    Send { conn: ConnToken, bytes: Vec<u8> },
    /// Close the transport (after writing what was handed out before). The
    /// connection is gone from the server. With `client_closes` the client
    /// asked to close and was sent close-ok: it closes its end next, and a
    /// stream transport waits for that (not too long) before closing its own,
    /// as RabbitMQ does; a client may take an end of stream read together
    /// with close-ok for a broken connection.
    Close {
        conn: ConnToken,
        client_closes: bool,
    },
    /// An effect for a connection opened on the broker directly (an
    /// in-process client), not through this server.
    Effect(Effect),
    /// The server closed a channel or the connection (or dropped the
    /// transport): the reply code and text, for the host's logs and counts.
    /// Comes after the bytes that carry the close.
    Closed {
        conn: ConnToken,
        report: CloseReport,
    },
    /// What was sent to this transport so far goes out now, on its own: a
    /// host that gathers writes (into one WebSocket message) must not join
    /// it with what follows. Hosts that write each `Send` at once ignore it.
    Flush { conn: ConnToken },
}

struct Slot {
    token: u64,
    conn: Option<Box<Connection>>,
    /// In the ready list.
    queued: bool,
    /// Earliest timer entry pending for this slot.
    timer_at: Option<u64>,
}

/// The server: one [`Broker`] and every AMQP connection to it.
///
/// # Calling contract
/// - [`accept`](Self::accept) each new transport; [`receive`](Self::receive)
///   its bytes as they arrive (split anywhere);
///   [`transport_closed`](Self::transport_closed) when it is gone, which
///   requeues that connection's unacked deliveries.
/// - After every call, drain [`poll_output`](Self::poll_output): bytes to
///   write per connection (whole buffers, in order) and transports to close.
/// - Call [`tick`](Self::tick) at [`next_deadline`](Self::next_deadline)
///   (heartbeats, handshake and close timeouts, the engine's timers). After
///   changing the broker through [`broker_mut`](Self::broker_mut) (store
///   durability, alarms), call `tick` too: it routes what the engine queued.
/// - Back-pressure: stop reading from a transport while
///   [`wants_read`](Self::wants_read) is false. A connection whose queued
///   output (not yet taken by `poll_output`, plus what the host reports with
///   [`set_backlog`](Self::set_backlog)) exceeds `Limits::max_output_bytes`
///   also has its deliveries paused until it is down to half.
/// - `now_ms` is the host's clock in milliseconds; time never goes backwards.
pub struct Server {
    settings: Rc<Settings>,
    broker: Broker,
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_token: IdMap,
    /// By `conn_key`: the same map type as `by_token`, one hash table's code.
    by_conn: IdMap,
    next_token: u64,
    ready: VecDeque<u32>,
    outputs: VecDeque<Output>,
    timers: BinaryHeap<Reverse<(u64, u32, u64)>>,
    spare: Vec<Vec<u8>>,
    fx: Vec<Effect>,
    now: u64,
}

/// Buffers kept for reuse, and the largest one worth keeping.
const SPARE_BUFFERS: usize = 32;
const SPARE_MAX_CAPACITY: usize = 1 << 20;

impl Server {
    /// A server for `broker`; the configured vhosts are added to it.
    /// Access control is on with the configured users (an expression that
    /// does not compile allows nothing; check with
    /// [`access::validate`](crate::broker::access::validate) first).
    pub fn new(config: ServerConfig, mut broker: Broker) -> Server {
        for v in &config.vhosts {
            broker.add_vhost(v);
        }
        let _ = broker.set_users(config.users.clone());
        Server {
            settings: Rc::new(Settings::new(config)),
            broker,
            slots: Vec::new(),
            free: Vec::new(),
            by_token: IdMap::default(),
            by_conn: IdMap::default(),
            next_token: 1,
            ready: VecDeque::new(),
            outputs: VecDeque::new(),
            timers: BinaryHeap::new(),
            spare: Vec::new(),
            fx: Vec::new(),
            now: 0,
        }
    }

    pub fn config(&self) -> &ServerConfig {
        &self.settings.config
    }

    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    pub fn broker_mut(&mut self) -> &mut Broker {
        &mut self.broker
    }

    /// A new transport. `peer` names it (for example the remote address).
    /// A loopback address (`127.x`, `::1`) as `peer` counts as loopback.
    pub fn accept(&mut self, now_ms: u64, peer: &str) -> ConnToken {
        self.accept_with(now_ms, peer, PeerAuth::from_peer_name(peer))
    }

    /// [`accept`](Self::accept) with what the host knows of the peer:
    /// whether it is on this machine, the user its certificate names.
    pub fn accept_with(&mut self, now_ms: u64, peer: &str, auth: PeerAuth) -> ConnToken {
        let now = self.advance(now_ms);
        let token = self.next_token;
        self.next_token += 1;
        let conn = Box::new(Connection::with_auth(
            now,
            peer,
            auth,
            self.settings.clone(),
        ));
        let slot = Slot {
            token,
            conn: Some(conn),
            queued: false,
            timer_at: None,
        };
        let index = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i as usize) {
                    *s = slot;
                }
                i
            }
            None => {
                self.slots.push(slot);
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.by_token.insert(token, u64::from(index));
        self.schedule(index);
        ConnToken(token)
    }

    /// Bytes from a transport. Unknown (or closed) connections are ignored.
    pub fn receive(&mut self, now_ms: u64, conn: ConnToken, bytes: &[u8]) {
        let now = self.advance(now_ms);
        self.with_conn(conn, |c, env| c.receive(env, bytes), now);
        self.settle_flow(now);
    }

    /// The transport is gone: the engine requeues the connection's unacked
    /// deliveries and removes its exclusive queues and consumers.
    pub fn transport_closed(&mut self, now_ms: u64, conn: ConnToken) {
        let now = self.advance(now_ms);
        self.with_conn(conn, |c, env| c.transport_closed(env), now);
        if let Some(index) = slot_of(&self.by_token, conn.0) {
            self.remove(index);
        }
        self.settle_flow(now);
    }

    /// Closes a connection from the server side with 320 CONNECTION_FORCED.
    pub fn close(&mut self, now_ms: u64, conn: ConnToken, reason: &str) {
        let now = self.advance(now_ms);
        self.with_conn(conn, |c, env| c.force_close(env, reason), now);
        self.settle_flow(now);
    }

    /// Runs what is due: the engine's timers and confirms, heartbeats,
    /// handshake and close timeouts.
    pub fn tick(&mut self, now_ms: u64) {
        let now = self.advance(now_ms);
        self.broker.flush(now);
        self.route_engine(now);
        let mut due = Vec::new();
        while let Some(&Reverse(entry)) = self.timers.peek() {
            if entry.0 > now {
                break;
            }
            self.timers.pop();
            due.push(entry);
        }
        for (_, index, token) in due {
            let Some(slot) = self.slots.get_mut(index as usize) else {
                continue;
            };
            if slot.token != token {
                continue;
            }
            slot.timer_at = None;
            self.with_slot(index, |c, env| c.handle_timeout(env), now);
        }
        self.settle_flow(now);
    }

    /// When [`tick`](Self::tick) should next run, if ever. (Takes `&mut`
    /// to drop timer entries that later activity made stale.)
    pub fn next_deadline(&mut self) -> Option<u64> {
        let timer = loop {
            let Some(&Reverse((at, index, token))) = self.timers.peek() else {
                break None;
            };
            let real = self
                .slots
                .get(index as usize)
                .filter(|s| s.token == token)
                .and_then(|s| s.conn.as_ref())
                .and_then(|c| c.deadline());
            if real == Some(at) {
                break Some(at);
            }
            self.timers.pop();
            if let Some(slot) = self.slots.get_mut(index as usize) {
                if slot.token == token && slot.timer_at == Some(at) {
                    slot.timer_at = None;
                    self.schedule(index);
                }
            }
        };
        // A backlog delivered in rounds: the next one is due now.
        let engine = match self.broker.has_pending_dispatch() {
            true => Some(self.now),
            false => self.broker.next_deadline(),
        };
        match (timer, engine) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Delivers the next round of a backlog the engine hands out in rounds
    /// (`DISPATCH_ROUND` per queue and poll), if one waits; its output then
    /// comes from [`poll_output`](Self::poll_output). A host calls this once
    /// per batch of output it takes (or [`tick`](Self::tick) at
    /// [`next_deadline`](Self::next_deadline)), so it writes and reads
    /// between rounds. Returns whether a round ran.
    pub fn next_round(&mut self) -> bool {
        if !self.broker.has_pending_dispatch() {
            return false;
        }
        let now = self.now;
        self.broker.poll(now);
        self.route_engine(now);
        self.settle_flow(now);
        true
    }

    /// The next thing for the host to do, until None.
    pub fn poll_output(&mut self) -> Option<Output> {
        loop {
            if let Some(out) = self.outputs.pop_front() {
                return Some(out);
            }
            let index = self.ready.pop_front()?;
            let Some(slot) = self.slots.get_mut(index as usize) else {
                continue;
            };
            slot.queued = false;
            let token = ConnToken(slot.token);
            let Some(conn) = slot.conn.as_mut() else {
                continue;
            };
            let alone = conn.output_cut();
            let bytes = conn
                .has_output()
                .then(|| conn.take_output(self.spare.pop().unwrap_or_default()));
            if !alone {
                for report in conn.take_closes() {
                    self.outputs.push_back(Output::Closed {
                        conn: token,
                        report,
                    });
                }
            }
            if alone {
                // The rest goes in a later write, after a flush.
                self.outputs.push_back(Output::Flush { conn: token });
                slot.queued = true;
                self.ready.push_back(index);
            }
            if conn.is_closed() && !alone {
                let client_closes = conn.client_closes();
                self.remove(index);
                // The bytes, the close reports, then the close itself.
                self.outputs.push_back(Output::Close {
                    conn: token,
                    client_closes,
                });
                return match bytes {
                    Some(bytes) => Some(Output::Send { conn: token, bytes }),
                    None => self.outputs.pop_front(),
                };
            }
            let now = self.now;
            let resumed = self.with_slot(index, |c, env| c.update_flow(env), now);
            if resumed == Some(true) {
                self.broker.poll(now);
                self.route_engine(now);
            }
            if let Some(bytes) = bytes {
                return Some(Output::Send { conn: token, bytes });
            }
        }
    }

    /// Hands a buffer from [`Output::Send`] back for reuse.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS && buf.capacity() <= SPARE_MAX_CAPACITY {
            buf.clear();
            self.spare.push(buf);
        }
    }

    /// False while the connection's output is backed up: the host should
    /// stop reading from its transport until it is true again (after
    /// `poll_output` or `set_backlog`). Unknown connections are false.
    pub fn wants_read(&self, conn: ConnToken) -> bool {
        self.conn(conn).is_some_and(Connection::wants_read)
    }

    /// How many bytes already handed out the host's transport still holds
    /// (a socket's `writableLength`, a WebSocket's `bufferedAmount`). Hosts
    /// that report it must report it again as it drains (0 when empty):
    /// deliveries stay paused until then.
    pub fn set_backlog(&mut self, conn: ConnToken, bytes: usize) {
        let now = self.now;
        let Some(index) = slot_of(&self.by_token, conn.0) else {
            return;
        };
        let resumed = self.with_slot(
            index,
            |c, env| {
                c.set_backlog(bytes);
                c.update_flow(env)
            },
            now,
        );
        if resumed == Some(true) {
            self.broker.poll(now);
            self.route_engine(now);
        }
    }

    /// The connection, for inspection.
    pub fn conn(&self, conn: ConnToken) -> Option<&Connection> {
        let index = slot_of(&self.by_token, conn.0)?;
        self.slots.get(index as usize)?.conn.as_deref()
    }

    /// The engine's id of an open connection.
    pub fn conn_id(&self, conn: ConnToken) -> Option<ConnId> {
        self.conn(conn)?.conn_id()
    }

    /// The transports accepted and not yet closed (after a resume: the ones
    /// the host must match its transports to).
    pub fn tokens(&self) -> Vec<ConnToken> {
        self.slots
            .iter()
            .filter(|s| s.token != 0 && s.conn.is_some())
            .map(|s| ConnToken(s.token))
            .collect()
    }

    /// Connections accepted and not yet closed.
    pub fn connection_count(&self) -> usize {
        self.by_token.len()
    }

    // ---- internals ---------------------------------------------------------

    fn advance(&mut self, now_ms: u64) -> u64 {
        self.now = self.now.max(now_ms);
        self.now
    }

    fn with_conn<T>(
        &mut self,
        conn: ConnToken,
        f: impl FnOnce(&mut Connection, &mut Env<'_>) -> T,
        now: u64,
    ) -> Option<T> {
        let index = slot_of(&self.by_token, conn.0)?;
        self.with_slot(index, f, now)
    }

    /// Runs `f` on a connection taken out of its slot, so that effects for
    /// other connections can be routed to them meanwhile; then puts it back
    /// and updates its bookkeeping.
    fn with_slot<T>(
        &mut self,
        index: u32,
        f: impl FnOnce(&mut Connection, &mut Env<'_>) -> T,
        now: u64,
    ) -> Option<T> {
        let mut conn = self.slots.get_mut(index as usize)?.conn.take()?;
        let mut router = Router {
            slots: &mut self.slots,
            by_conn: &self.by_conn,
            ready: &mut self.ready,
            outputs: &mut self.outputs,
            last: None,
        };
        let mut env = Env {
            now,
            broker: &mut self.broker,
            peers: &mut router,
        };
        let result = f(&mut conn, &mut env);
        if let Some(id) = conn.conn_id() {
            self.by_conn.entry(conn_key(id)).or_insert(u64::from(index));
        }
        let wants_attention = conn.has_output() || conn.is_closed();
        if let Some(slot) = self.slots.get_mut(index as usize) {
            slot.conn = Some(conn);
            if wants_attention && !slot.queued {
                slot.queued = true;
                self.ready.push_back(index);
            }
        }
        self.schedule(index);
        Some(result)
    }

    /// Makes sure the heap holds an entry no later than the connection's
    /// deadline. Entries made stale by later activity only cause an early,
    /// harmless `handle_timeout`.
    fn schedule(&mut self, index: u32) {
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return;
        };
        let Some(at) = slot.conn.as_ref().and_then(|c| c.deadline()) else {
            return;
        };
        if slot.timer_at.map_or(true, |t| at < t) {
            slot.timer_at = Some(at);
            self.timers.push(Reverse((at, index, slot.token)));
        }
    }

    /// Routes the effects the engine queued outside any connection's call.
    fn route_engine(&mut self, now: u64) {
        if !self.broker.has_effects() {
            return;
        }
        self.broker.drain_effects_into(&mut self.fx);
        let mut router = Router {
            slots: &mut self.slots,
            by_conn: &self.by_conn,
            ready: &mut self.ready,
            outputs: &mut self.outputs,
            last: None,
        };
        for effect in self.fx.drain(..) {
            router.deliver(now, effect);
        }
    }

    /// Applies back-pressure to every connection with output waiting.
    fn settle_flow(&mut self, now: u64) {
        let mut resumed = false;
        for &index in &self.ready {
            let Some(conn) = self
                .slots
                .get_mut(index as usize)
                .and_then(|s| s.conn.as_mut())
            else {
                continue;
            };
            let mut env = Env {
                now,
                broker: &mut self.broker,
                peers: &mut NoPeers,
            };
            resumed |= conn.update_flow(&mut env);
        }
        if resumed {
            self.broker.poll(now);
            self.route_engine(now);
        }
    }

    fn remove(&mut self, index: u32) {
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return;
        };
        if slot.token == 0 {
            return; // already free
        }
        if let Some(id) = slot.conn.take().and_then(|c| c.conn_id()) {
            self.by_conn.remove(&conn_key(id));
        }
        self.by_token.remove(&slot.token);
        slot.token = 0;
        slot.queued = false;
        slot.timer_at = None;
        self.free.push(index);
    }
}

/// Routes effects to the connections still in their slots.
struct Router<'a> {
    slots: &'a mut Vec<Slot>,
    by_conn: &'a IdMap,
    ready: &'a mut VecDeque<u32>,
    outputs: &'a mut VecDeque<Output>,
    /// The last connection key looked up and its slot: a run of
    /// deliveries mostly goes to one consumer's connection, and `by_conn`
    /// cannot change while the router borrows it.
    last: Option<(u64, u32)>,
}

impl Peers for Router<'_> {
    fn deliver(&mut self, now_ms: u64, effect: Effect) {
        let key = conn_key(effect.conn());
        let index = match self.last {
            Some((k, index)) if k == key => index,
            _ => {
                let Some(index) = slot_of(self.by_conn, key) else {
                    // Not one of ours: an in-process client's.
                    self.outputs.push_back(Output::Effect(effect));
                    return;
                };
                self.last = Some((key, index));
                index
            }
        };
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return;
        };
        let Some(conn) = slot.conn.as_mut() else {
            return;
        };
        conn.apply_effect(now_ms, effect);
        if (conn.has_output() || conn.is_closed()) && !slot.queued {
            slot.queued = true;
            self.ready.push_back(index);
        }
    }
}

/// Slots by id: the engine's `u64 -> u64` map type (ids are small and not
/// chosen by peers, and one hash table's code serves both).
type IdMap = FxHashMap<u64, u64>;

#[inline]
fn slot_of(map: &IdMap, id: u64) -> Option<u32> {
    map.get(&id).map(|&slot| slot as u32)
}

/// A connection's key in `by_conn`.
#[inline]
fn conn_key(id: ConnId) -> u64 {
    u64::from(id.0)
}
