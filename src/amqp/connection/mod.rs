//! One peer's protocol state: handshake, channels, content assembly,
//! heartbeats and limits. Frames in become engine commands; engine effects
//! and replies become frames out.
//!
//! Most hosts use [`Server`](crate::amqp::server::Server), which owns the
//! broker and every connection and routes effects between them. A
//! [`Connection`] is the per-peer part it drives.
//!
//! Input is untrusted: nothing here may panic, whatever the bytes. The lints
//! below keep indexing, `unwrap` and friends out of this module.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

mod channels;
mod config;
mod content;
mod dispatch;
mod handshake;
mod image;
mod input;
mod methods;
mod output;
mod timers;

pub use crate::broker::access::validate as validate_users;
pub use config::{Limits, ServerConfig, Settings, User};
pub use methods::{
    check_channel_number, check_message_size, publish, publish_run, run_channel_method, Step,
};

use crate::amqp::codec::{LastProperties, FRAME_MIN_SIZE};
use crate::broker::{AmqpError, Broker, ChannelRef, ConnId, Effect, ShortStr};
use channels::Channels;
use content::WireRun;
use std::rc::Rc;

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for the 8-byte protocol header.
    AwaitHeader,
    /// `connection.start` sent.
    AwaitStartOk,
    /// `connection.tune` sent.
    AwaitTuneOk,
    /// Tuned; waiting for `connection.open`.
    AwaitOpen,
    /// Open: channels and methods flow.
    Open,
    /// `connection.close` sent; only `close`/`close-ok` count now.
    Closing,
    /// Done: the transport closes once the output is sent.
    Closed,
}

/// Routes engine effects addressed to other connections.
pub trait Peers {
    fn deliver(&mut self, now_ms: u64, effect: Effect);
}

/// Drops every effect: for a connection that is alone with its broker.
pub struct NoPeers;

impl Peers for NoPeers {
    fn deliver(&mut self, _now_ms: u64, _effect: Effect) {}
}

/// What a connection works with during one call.
pub struct Env<'a> {
    /// The host's clock, in milliseconds.
    pub now: u64,
    pub broker: &'a mut Broker,
    pub peers: &'a mut dyn Peers,
}

/// What the host knows of a transport's peer when it accepts it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeerAuth {
    /// The peer is on this machine (a loopback address, an in-page pipe):
    /// users in `ServerConfig::loopback_users` may log in.
    pub loopback: bool,
    /// The user named by a client certificate the host verified (its CN):
    /// the connection offers the `EXTERNAL` mechanism, which logs in as it.
    pub cert_user: Option<String>,
}

impl PeerAuth {
    /// Loopback when `peer` (as hosts name it, `address:port`) is a
    /// loopback address: 127.0.0.0/8, ::1 or an IPv4-mapped 127.x.
    pub fn from_peer_name(peer: &str) -> PeerAuth {
        let host = peer.trim_start_matches('[');
        let loopback = host.starts_with("127.")
            || host.starts_with("::1]")
            || host == "::1"
            || host.starts_with("::1:")
            || host.starts_with("::ffff:127.");
        PeerAuth {
            loopback,
            cert_user: None,
        }
    }
}

/// A close the server made: `connection.close` (channel 0) or
/// `channel.close` sent, or (code 0) a transport dropped without one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseReport {
    pub channel: u16,
    pub code: u16,
    pub text: String,
    pub class_id: u16,
    pub method_id: u16,
}

/// What the client said about itself in `connection.start-ok`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Client {
    pub user: ShortStr,
    pub consumer_cancel_notify: bool,
    pub connection_blocked: bool,
    pub authentication_failure_close: bool,
    pub connection_name: Option<String>,
}

/// One AMQP 0-9-1 connection, sans-IO.
///
/// # Calling contract
/// - [`receive`](Self::receive) the transport's bytes as they come, split
///   anywhere. Each method frame runs its engine command at once; effects for
///   this connection are written to its output, those for others go to
///   [`Env::peers`]. At the end of each call the broker is flushed (publisher
///   confirms).
/// - [`apply_effect`](Self::apply_effect) an engine effect addressed to this
///   connection that arose elsewhere (another connection's publish, a timer).
/// - Take bytes to send with [`take_output`](Self::take_output) after each
///   call; when [`is_closed`](Self::is_closed) and the output is sent, close
///   the transport.
/// - Call [`handle_timeout`](Self::handle_timeout) at
///   [`deadline`](Self::deadline) (heartbeats, handshake and close timeouts).
/// - Call [`transport_closed`](Self::transport_closed) when the transport is
///   gone: the engine requeues this connection's unacked deliveries.
/// - Time is `Env::now`; it never goes backwards for a connection.
pub struct Connection {
    settings: Rc<Settings>,
    phase: Phase,
    id: Option<ConnId>,
    peer: String,
    client: Client,
    /// The time of the current call.
    now: u64,
    /// Bytes of a frame (or protocol header) not complete yet.
    partial: Vec<u8>,
    /// Input is no longer parsed (after a framing error).
    input_dead: bool,
    /// Negotiated; 0 means no limit.
    frame_max: u32,
    channel_max: u16,
    heartbeat_ms: u64,
    last_recv: u64,
    last_send: u64,
    /// Handshake or close-ok deadline.
    phase_deadline: Option<u64>,
    /// The client asked to close and was sent close-ok, so it closes the
    /// transport (not in the image: a resumed connection is closed by the
    /// server).
    client_closes: bool,
    channels: Channels,
    out: Vec<u8>,
    /// When not 0: the first `out_cut` bytes of `out` go out in a write of
    /// their own (`basic.consume-ok` ahead of the first deliveries).
    out_cut: usize,
    /// Scratch space for engine effects.
    fx: Vec<Effect>,
    /// Output the host reports as still queued in its transport.
    backlog: usize,
    /// Deliveries paused because output is over the limit.
    paused: bool,
    /// Loopback peer, certificate user: what the host said at accept.
    peer_auth: PeerAuth,
    /// Closes made and not yet taken by the host (see `take_closes`).
    closes: Vec<CloseReport>,
    /// The last content header's properties, shared by the next header with
    /// the same bytes (a cache, not in the image).
    last_properties: LastProperties,
    /// The publish run under way (see `content.rs`): ended before any other
    /// frame, on any error and at the end of each read, so never in the image.
    run: WireRun,
}

impl Connection {
    /// A new transport, accepted at `now`. `peer` names it in logs and
    /// management views (for example the remote address).
    pub fn new(now: u64, peer: &str, settings: Rc<Settings>) -> Connection {
        Connection::with_auth(now, peer, PeerAuth::from_peer_name(peer), settings)
    }

    /// [`new`](Self::new) with what the host knows of the peer.
    pub fn with_auth(
        now: u64,
        peer: &str,
        peer_auth: PeerAuth,
        settings: Rc<Settings>,
    ) -> Connection {
        let handshake = settings.config.limits.handshake_timeout_ms;
        Connection {
            settings,
            phase: Phase::AwaitHeader,
            id: None,
            peer: peer.to_owned(),
            client: Client::default(),
            now,
            partial: Vec::new(),
            input_dead: false,
            frame_max: FRAME_MIN_SIZE,
            channel_max: 0,
            heartbeat_ms: 0,
            last_recv: now,
            last_send: now,
            phase_deadline: Some(now.saturating_add(handshake)),
            client_closes: false,
            channels: Channels::default(),
            out: Vec::new(),
            out_cut: 0,
            fx: Vec::new(),
            backlog: 0,
            paused: false,
            peer_auth,
            closes: Vec::new(),
            last_properties: LastProperties::default(),
            run: WireRun::default(),
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The engine's id for this connection, once `connection.open` succeeded.
    pub fn conn_id(&self) -> Option<ConnId> {
        self.id
    }

    pub fn peer_name(&self) -> &str {
        &self.peer
    }

    /// The transport should be closed once the output is sent.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Closed at the client's request: the last output is close-ok, and the
    /// client closes the transport next (AMQP 0-9-1: the recipient of
    /// close-ok closes the socket).
    pub fn client_closes(&self) -> bool {
        self.client_closes
    }

    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    pub fn output_len(&self) -> usize {
        self.out.len()
    }

    /// Takes the bytes to send, leaving `spare` (cleared) as the buffer to
    /// write into next, so hosts can hand buffers back. When part of the
    /// output must be written on its own (see [`Self::output_cut`]), only
    /// that part is taken: the rest stays for the next call.
    pub fn take_output(&mut self, mut spare: Vec<u8>) -> Vec<u8> {
        let cut = std::mem::take(&mut self.out_cut);
        if cut > 0 && cut < self.out.len() {
            let rest = self.out.split_off(cut);
            return std::mem::replace(&mut self.out, rest);
        }
        spare.clear();
        std::mem::replace(&mut self.out, spare)
    }

    /// True while the output holds a part that must be written (and, over
    /// WebSocket, sent as a message) before the rest: a client that settles
    /// `basic.consume-ok` as a promise must see it alone, before deliveries.
    pub fn output_cut(&self) -> bool {
        self.out_cut > 0 && self.out_cut < self.out.len()
    }

    /// What is in the output now goes out in a write of its own.
    pub(super) fn cut_output(&mut self) {
        if self.out_cut == 0 {
            self.out_cut = self.out.len();
        }
    }

    /// The transport is gone: the engine forgets the connection, requeueing
    /// its unacked deliveries and removing its exclusive queues and consumers.
    pub fn transport_closed(&mut self, env: &mut Env<'_>) {
        self.enter(env.now);
        self.out.clear();
        self.out_cut = 0;
        self.finish(env);
    }

    /// Closes the connection from the server side (shutdown, a management
    /// action): `connection.close` with 320 CONNECTION_FORCED.
    pub fn force_close(&mut self, env: &mut Env<'_>, reason: &str) {
        self.enter(env.now);
        match self.phase {
            Phase::Closing | Phase::Closed => {}
            Phase::AwaitHeader => self.finish(env),
            _ => {
                let e = AmqpError::new(
                    crate::broker::ReplyCode::ConnectionForced,
                    format_args!("broker forced connection closure with reason '{reason}'"),
                );
                self.fail_connection(env, e);
            }
        }
    }

    /// Marks the start of a call at `now` (never earlier than the last one).
    fn enter(&mut self, now: u64) {
        self.now = self.now.max(now);
    }

    fn channel_ref(&self, channel: u16) -> Option<ChannelRef> {
        self.id.map(|id| ChannelRef::new(id, channel))
    }

    /// Sends the engine's queued effects on their way: this connection's to
    /// its output, others' to their connections. A complete publish leaves
    /// its effects queued (`content.rs`); they go out here before any other
    /// frame of the read is handled, before an error's close, and at the
    /// end of the read, so the order of every connection's output is as if
    /// each publish had been routed at once.
    fn route(&mut self, env: &mut Env<'_>) {
        if !env.broker.has_effects() {
            return;
        }
        let mut fx = std::mem::take(&mut self.fx);
        env.broker.drain_effects_into(&mut fx);
        for effect in fx.drain(..) {
            if Some(effect.conn()) == self.id {
                self.write_effect(effect);
            } else {
                env.peers.deliver(env.now, effect);
            }
        }
        // The buffer goes back in place of the empty one `take` left; that one
        // owns no memory, so it is forgotten rather than run through Vec<Effect>'s
        // drop (a call at the size-tuned inline threshold, .cargo/config.toml).
        let left = std::mem::replace(&mut self.fx, fx);
        if left.capacity() == 0 {
            std::mem::forget(left);
        }
    }

    /// Runs the engine's timers and deliveries, then routes what they made.
    fn poll_engine(&mut self, env: &mut Env<'_>) {
        env.broker.poll(env.now);
        self.route(env);
    }

    /// A connection exception: `connection.close` is sent, the engine forgets
    /// the connection (if it has not already), and only `close-ok` (or
    /// `close`) is heeded from now on.
    fn fail_connection(&mut self, env: &mut Env<'_>, error: AmqpError) {
        if matches!(self.phase, Phase::Closing | Phase::Closed) {
            return;
        }
        self.run.end();
        // What earlier publishes of this read made goes out before the close.
        self.route(env);
        self.write_connection_close(&error);
        self.begin_closing();
        if let Some(id) = self.id {
            env.broker.connection_close(env.now, id);
            self.poll_engine(env);
        }
    }

    /// `connection.close` is out: wait for close-ok, but not forever.
    fn begin_closing(&mut self) {
        self.phase = Phase::Closing;
        let wait = self.settings.config.limits.close_timeout_ms;
        self.phase_deadline = Some(self.now.saturating_add(wait));
    }

    /// The connection is over: the engine forgets it and the transport is
    /// to be closed once the output is sent.
    fn finish(&mut self, env: &mut Env<'_>) {
        if self.phase == Phase::Closed {
            return;
        }
        self.phase = Phase::Closed;
        self.phase_deadline = None;
        self.partial = Vec::new();
        if let Some(id) = self.id {
            env.broker.connection_close(env.now, id);
            self.poll_engine(env);
        }
    }

    /// An error from an engine command: it has already released the channel
    /// (soft error) or the connection (hard error); the peer is told.
    fn engine_error(&mut self, env: &mut Env<'_>, channel: u16, error: AmqpError) {
        if error.is_soft() {
            self.fail_channel(env, channel, error);
        } else {
            self.fail_connection(env, error);
        }
    }
}
