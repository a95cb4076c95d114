//! Channel multiplexing: which channels are open or closing, the open and
//! close handshakes, channel exceptions, and pausing deliveries while a
//! connection's output is backed up.

use super::content::Assembly;
use super::{Connection, Env, Phase};
use crate::amqp::codec::method::{ChannelCloseOk, ChannelOpenOk, Method};
use crate::broker::{AmqpError, ReplyCode};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum ChanState {
    #[default]
    Closed,
    Open,
    /// `channel.close` sent: everything but `close`/`close-ok` is ignored.
    Closing,
}

#[derive(Default)]
pub(super) struct Slot {
    pub state: ChanState,
    /// What the client last asked for with `channel.flow`.
    pub client_flow: bool,
    /// A `basic.publish` whose content is still arriving.
    pub content: Option<Box<Assembly>>,
}

/// Channel slots indexed by number, grown on demand up to `channel_max`.
#[derive(Default)]
pub(super) struct Channels {
    pub(super) slots: Vec<Slot>,
    /// A finished assembly kept for the next publish.
    pub(super) spare: Option<Box<Assembly>>,
}

impl Channels {
    pub fn state(&self, n: u16) -> ChanState {
        self.slots
            .get(usize::from(n))
            .map_or(ChanState::Closed, |s| s.state)
    }

    /// A publish on this channel is waiting for its content.
    pub fn assembling(&self, n: u16) -> bool {
        self.slots
            .get(usize::from(n))
            .is_some_and(|s| s.content.is_some())
    }

    pub fn slot_mut(&mut self, n: u16) -> Option<&mut Slot> {
        self.slots.get_mut(usize::from(n))
    }

    fn open(&mut self, n: u16) {
        let i = usize::from(n);
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, Slot::default);
        }
        if let Some(slot) = self.slots.get_mut(i) {
            slot.state = ChanState::Open;
            slot.client_flow = true;
        }
    }

    pub fn set_state(&mut self, n: u16, state: ChanState) {
        if let Some(slot) = self.slots.get_mut(usize::from(n)) {
            slot.state = state;
            if let Some(a) = slot.content.take() {
                self.spare = Some(a);
            }
        }
    }

    /// Open channels with the flow their client asked for.
    fn open_channels(&self) -> impl Iterator<Item = (u16, bool)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let n = u16::try_from(i).ok()?;
            (s.state == ChanState::Open).then_some((n, s.client_flow))
        })
    }

    pub fn take_spare(&mut self) -> Option<Box<Assembly>> {
        self.spare.take()
    }

    pub fn put_spare(&mut self, a: Box<Assembly>) {
        self.spare = Some(a);
    }
}

impl Connection {
    /// A method on channel 1 or above.
    pub(super) fn channel_method(&mut self, env: &mut Env<'_>, channel: u16, method: Method) {
        match self.channels.state(channel) {
            ChanState::Closing => match method {
                Method::ChannelCloseOk(_) => self.channels.set_state(channel, ChanState::Closed),
                Method::ChannelClose(_) => self.send_method(channel, &ChannelCloseOk {}.into()),
                _ => {}
            },
            ChanState::Closed => match method {
                Method::ChannelOpen(_) => self.open_channel(env, channel),
                m => {
                    let e = AmqpError::new(
                        ReplyCode::ChannelError,
                        format_args!("expected 'channel.open' on channel {channel}"),
                    );
                    self.fail_connection(env, e.on(m.class_id(), m.method_id()));
                }
            },
            ChanState::Open if self.channels.assembling(channel) => {
                let e = AmqpError::new(
                    ReplyCode::UnexpectedFrame,
                    format_args!(
                        "expected content frames for basic.publish on channel {channel}, got method {}",
                        method.name()
                    ),
                );
                self.fail_connection(env, e.on(method.class_id(), method.method_id()));
            }
            ChanState::Open => self.dispatch(env, channel, method),
        }
    }

    fn open_channel(&mut self, env: &mut Env<'_>, channel: u16) {
        if let Err(e) = super::methods::check_channel_number(channel, self.channel_max) {
            return self.fail_connection(env, e);
        }
        let Some(ch) = self.channel_ref(channel) else {
            return;
        };
        match env.broker.channel_open(env.now, ch) {
            Ok(()) => {
                self.channels.open(channel);
                self.route(env);
                self.send_method(
                    channel,
                    &ChannelOpenOk {
                        channel_id: Vec::new(),
                    }
                    .into(),
                );
                if self.paused {
                    let _ = env.broker.channel_flow(env.now, ch, false);
                }
            }
            Err(e) => self.engine_error(env, channel, e.on(20, 10)),
        }
    }

    /// The client closes a channel: the engine requeues its deliveries and
    /// cancels its consumers, then close-ok.
    pub(super) fn client_closes_channel(&mut self, env: &mut Env<'_>, channel: u16) {
        self.channels.set_state(channel, ChanState::Closed);
        if let Some(ch) = self.channel_ref(channel) {
            env.broker.channel_close(env.now, ch);
        }
        self.send_method(channel, &ChannelCloseOk {}.into());
        self.poll_engine(env);
    }

    /// A channel exception: `channel.close` is sent and the engine releases
    /// the channel (if it has not already); the rest of the connection goes on.
    pub(super) fn fail_channel(&mut self, env: &mut Env<'_>, channel: u16, error: AmqpError) {
        if self.channels.state(channel) != ChanState::Open {
            return;
        }
        self.run.end();
        // What earlier publishes of this read made goes out before the close.
        self.route(env);
        self.write_channel_close(channel, &error);
        self.channels.set_state(channel, ChanState::Closing);
        if let Some(ch) = self.channel_ref(channel) {
            env.broker.channel_close(env.now, ch);
        }
    }

    /// `channel.flow` from the client. While output is backed up the engine
    /// keeps the channel paused; the client is told what it asked for.
    pub(super) fn client_flow(
        &mut self,
        env: &mut Env<'_>,
        channel: u16,
        active: bool,
    ) -> Result<bool, AmqpError> {
        if let Some(slot) = self.channels.slot_mut(channel) {
            slot.client_flow = active;
        }
        let Some(ch) = self.channel_ref(channel) else {
            return Ok(active);
        };
        env.broker
            .channel_flow(env.now, ch, active && !self.paused)
            .map(|_| active)
    }

    /// Whether the host should read more from this connection's transport.
    pub fn wants_read(&self) -> bool {
        !self.paused
    }

    /// How much of the output already taken the host's transport still
    /// holds (for example a socket's `writableLength`); report it again as
    /// it drains.
    pub fn set_backlog(&mut self, bytes: usize) {
        self.backlog = bytes;
    }

    /// Pauses deliveries to this connection when its queued output exceeds
    /// `max_output_bytes`, and resumes them once it is down to half. Returns
    /// true on resuming (the engine then has deliveries to make).
    pub fn update_flow(&mut self, env: &mut Env<'_>) -> bool {
        let limit = self.settings.config.limits.max_output_bytes;
        let queued = self.out.len().saturating_add(self.backlog);
        let pause = if self.paused {
            queued > limit / 2
        } else {
            queued > limit
        };
        if pause == self.paused || self.phase != Phase::Open {
            return false;
        }
        self.paused = pause;
        if !pause {
            // The host stopped reading meanwhile: the peer's silence starts now.
            self.last_recv = self.last_recv.max(env.now);
        }
        let Some(id) = self.id else {
            return false;
        };
        for (n, client_flow) in self.channels.open_channels() {
            let ch = crate::broker::ChannelRef::new(id, n);
            if client_flow && env.broker.channel_is_open(ch) {
                let _ = env.broker.channel_flow(env.now, ch, !pause);
            }
        }
        !pause
    }
}
