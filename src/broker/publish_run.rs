//! A run of publishes to one place: `basic.publish`es on one channel with
//! one exchange, routing key, flags and properties, as an in-process
//! client's batch sends them. What depends only on those is checked once,
//! by the first publish going the whole way through `basic_publish`'s
//! checks; each later one is only routed, enqueued and confirmed
//! (`publish_one`), as it would be after passing the same checks.
//!
//! Nothing a publish does closes a channel or changes its mode, access or
//! the vhost's exchanges, so the first publish's checks hold for the run.

use super::channel::Mode;
use super::direct_reply::REPLY_TO;
use super::engine::Broker;
use super::error::Result;
use super::ids::{ChannelRef, QueueId};
use super::message::Message;

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
        (mandatory, immediate): (bool, bool),
        first: Message,
        mut next: impl FnMut() -> Option<Message>,
    ) -> Result<()> {
        let now = self.advance(now_ms);
        let r = self.publish_run(now, ch, (mandatory, immediate), first, &mut next);
        self.fail(ch, r)
    }

    fn publish_run(
        &mut self,
        now: u64,
        ch: ChannelRef,
        (mandatory, immediate): (bool, bool),
        first: Message,
        next: &mut impl FnMut() -> Option<Message>,
    ) -> Result<()> {
        // A direct reply-to is rewritten per message: each goes the whole way.
        let reply_to = first.properties.reply_to.as_deref() == Some(REPLY_TO);
        let plain = first.properties.is_unset()
            || (first.properties.header("BCC").is_none()
                && first.properties.header("CC").is_none());
        self.publish_inner(now, ch, first, mandatory, immediate)?;
        let (v, channel) = self.vhost_and_channel(ch)?;
        let (tx, confirm) = match channel.mode {
            Mode::Tx { .. } => (true, false),
            Mode::Confirm { .. } => (false, true),
            _ => (false, false),
        };
        if reply_to || tx {
            while let Some(m) = next() {
                self.publish_inner(now, ch, m, mandatory, immediate)?;
            }
            return Ok(());
        }
        // The queue kept for the run's address, while the cache has not
        // moved since (nothing declared, deleted, bound or routed
        // elsewhere): each message goes to it without comparing the address.
        // CC or BCC headers, or events, take `publish_one`'s general path.
        let keepable = plain && !self.config.events;
        let mut kept: Option<(u64, QueueId)> = None;
        while let Some(m) = next() {
            let seq = if confirm {
                self.vhost_and_channel(ch)?.1.next_confirm_seq()
            } else {
                None
            };
            match kept {
                Some((generation, q)) if self.route_cache.generation() == generation => {
                    self.publish_kept(now, ch, q, m, seq);
                }
                _ => {
                    if keepable {
                        if let Some(&[q]) = self.route_cache.get(v, &m) {
                            kept = Some((self.route_cache.generation(), q));
                            self.publish_kept(now, ch, q, m, seq);
                            continue;
                        }
                    }
                    self.publish_one(now, ch, v, m, mandatory, seq)?;
                }
            }
        }
        Ok(())
    }
}
