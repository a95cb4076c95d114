//! A run of publishes to one place: `basic.publish`es on one channel with
//! one exchange, routing key, flags and properties, as an in-process
//! client's batch sends them. What depends only on those is checked once,
//! by the first publish going the whole way through `basic_publish`'s
//! checks; each later one is only routed, enqueued and confirmed
//! (`publish_one`), as it would be after passing the same checks.
//!
//! Nothing a publish does closes a channel or changes its mode, access or
//! the vhost's exchanges, so the first publish's checks hold for the run.
//! A run may also be driven one message at a time (`basic_publish_in_run`),
//! as the wire's publishes come: its holder ends it before anything else
//! reaches the engine. None of those checks reads the routing key, so such
//! a run may change it between messages ([`PublishRun::readdress`]).

use super::channel::Mode;
use super::direct_reply::REPLY_TO;
use super::engine::Broker;
use super::error::Result;
use super::ids::{ChannelRef, QueueId, VhostId};
use super::message::Message;

/// What the first publish of a run settled for the later ones: their
/// channel's vhost and mode, whether each must still go the whole way, and
/// the queue kept for the run's address. Valid only while nothing but the
/// run's own publishes reaches the engine from its connection.
#[derive(Clone, Copy, Debug)]
pub struct PublishRun {
    vhost: VhostId,
    mandatory: bool,
    /// Each later publish goes through all of `basic_publish` (a direct
    /// reply-to is rewritten per message; a transaction keeps them).
    whole: bool,
    confirm: bool,
    /// Without CC or BCC headers and events, a route of one queue is kept.
    keepable: bool,
    /// The queue kept and the route cache generation it was found under.
    kept: Option<(u64, QueueId)>,
}

impl PublishRun {
    /// The run's later publishes have another routing key (the same
    /// exchange, flags and properties): the queue kept for the last one no
    /// longer holds, and the next publish looks its route up.
    #[inline]
    pub fn readdress(&mut self) {
        self.kept = None;
    }
}

impl Broker {
    /// `basic.publish` of `first`, then of each message `next` gives until
    /// it gives None; every one has `first`'s exchange, routing key and
    /// properties. Stops at the first error, which closes the channel (or
    /// the connection) as `basic_publish` does; the messages before it are
    /// published.
    pub fn basic_publish_run(
        &mut self,
        now_ms: u64,
        ch: ChannelRef,
        flags: (bool, bool),
        first: Message,
        mut next: impl FnMut() -> Option<Message>,
    ) -> Result<()> {
        let now = self.advance(now_ms);
        let r = self.publish_run(now, ch, flags, first, &mut next);
        self.fail(ch, r)
    }

    /// `basic_publish` of a message of a run driven one at a time: the
    /// first (`run` None) goes through all of the checks and leaves in
    /// `run` what the later ones (same channel, exchange, routing key, flags
    /// and properties: the caller's word; another routing key once the
    /// caller has called [`PublishRun::readdress`]) may skip; each later one
    /// is only routed, enqueued and confirmed. An error closes the channel
    /// (or the connection) as `basic_publish` does, and ends the run.
    pub fn basic_publish_in_run(
        &mut self,
        now_ms: u64,
        ch: ChannelRef,
        flags: (bool, bool),
        run: &mut Option<PublishRun>,
        message: Message,
    ) -> Result<()> {
        let now = self.advance(now_ms);
        let r = self.in_run(now, ch, flags, run, message);
        if r.is_err() {
            *run = None;
        }
        self.fail(ch, r)
    }

    fn in_run(
        &mut self,
        now: u64,
        ch: ChannelRef,
        flags: (bool, bool),
        run: &mut Option<PublishRun>,
        message: Message,
    ) -> Result<()> {
        let Some(r) = run else {
            *run = Some(self.run_first(now, ch, flags, message)?);
            return Ok(());
        };
        // The engine's timers may run between a wire run's publishes, and
        // one (a delivery's ack timeout) closes a channel: a channel no
        // longer open answers as a whole publish would.
        match self.channel_mut(ch) {
            Some(c) if !r.whole => {
                let seq = if r.confirm {
                    c.next_confirm_seq()
                } else {
                    None
                };
                self.run_route(now, ch, r, message, seq)
            }
            _ => self.publish_inner(now, ch, message, r.mandatory, false),
        }
    }

    fn publish_run(
        &mut self,
        now: u64,
        ch: ChannelRef,
        flags: (bool, bool),
        first: Message,
        next: &mut impl FnMut() -> Option<Message>,
    ) -> Result<()> {
        let mut run = None;
        let mut message = Some(first);
        while let Some(m) = message {
            self.in_run(now, ch, flags, &mut run, m)?;
            message = next();
        }
        Ok(())
    }

    fn run_first(
        &mut self,
        now: u64,
        ch: ChannelRef,
        (mandatory, immediate): (bool, bool),
        first: Message,
    ) -> Result<PublishRun> {
        // A direct reply-to is rewritten per message: each goes the whole way.
        let reply_to = first.properties.reply_to.as_deref() == Some(REPLY_TO);
        let plain = first.properties.is_unset()
            || (first.properties.header("BCC").is_none()
                && first.properties.header("CC").is_none());
        self.publish_inner(now, ch, first, mandatory, immediate)?;
        let (vhost, channel) = self.vhost_and_channel(ch)?;
        let (tx, confirm) = match channel.mode {
            Mode::Tx { .. } => (true, false),
            Mode::Confirm { .. } => (false, true),
            _ => (false, false),
        };
        Ok(PublishRun {
            vhost,
            mandatory,
            whole: reply_to || tx,
            confirm,
            keepable: plain && !self.config.events,
            kept: None,
        })
    }

    /// A later message of `run`, its confirm `seq` taken.
    #[inline(never)]
    fn run_route(
        &mut self,
        now: u64,
        ch: ChannelRef,
        run: &mut PublishRun,
        m: Message,
        seq: Option<u64>,
    ) -> Result<()> {
        // The queue kept for the run's address, while the cache has not
        // moved since (nothing declared, deleted, bound or routed
        // elsewhere): the message goes to it without comparing the address.
        // CC or BCC headers, or events, take `publish_one`'s general path.
        match run.kept {
            Some((generation, q)) if self.route_cache.generation() == generation => {
                self.publish_kept(now, ch, q, m, seq);
                Ok(())
            }
            _ => {
                if run.keepable {
                    if let Some(&[q]) = self.route_cache.get(run.vhost, &m) {
                        run.kept = Some((self.route_cache.generation(), q));
                        self.publish_kept(now, ch, q, m, seq);
                        return Ok(());
                    }
                }
                self.publish_one(now, ch, run.vhost, m, run.mandatory, seq)
            }
        }
    }
}
