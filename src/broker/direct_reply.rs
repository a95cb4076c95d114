//! Direct reply-to: the pseudo-queue `amq.rabbitmq.reply-to`, as RabbitMQ
//! has it for AMQP 0-9-1.
//!
//! A requester consumes from `amq.rabbitmq.reply-to` in no-ack mode (one such
//! consumer per channel) and publishes requests with `reply_to` set to that
//! name. The broker rewrites `reply_to` to a name of the requester's channel,
//! `amq.rabbitmq.reply-to.<suffix>`; a reply published to the default exchange
//! with that routing key goes straight to the requesting channel's consumer.
//! No queue is declared, nothing is buffered, and the name is forgotten when
//! the consumer is cancelled or the channel closes.
//!
//! Mandatory replies: RabbitMQ 3.x returned them even when delivered, 4.x
//! never returns them. Warren returns one (312 NO_ROUTE) exactly when the
//! requester is gone, which is what a responder can act on.

use super::effect::Effect;
use super::engine::Broker;
use super::error::{AmqpError, ReplyCode, Result};
use super::ids::ChannelRef;
use super::message::Message;
use super::value::ShortStr;

/// The pseudo-queue a requester consumes from and names in `reply_to`.
pub const REPLY_TO: &str = "amq.rabbitmq.reply-to";
/// The prefix of the per-channel names the broker gives out.
pub const REPLY_TO_PREFIX: &str = "amq.rabbitmq.reply-to.";

/// The reply names given out and their channels, sorted by name: a look-up
/// is a binary search. A hash map of its own type was kilobytes of wasm.
#[derive(Debug, Default)]
pub(crate) struct ReplyNames(Vec<(ShortStr, ChannelRef)>);

impl ReplyNames {
    fn find(&self, name: &str) -> std::result::Result<usize, usize> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name))
    }

    pub fn insert(&mut self, name: ShortStr, ch: ChannelRef) {
        match self.find(&name) {
            Ok(i) => {
                if let Some(e) = self.0.get_mut(i) {
                    e.1 = ch;
                }
            }
            Err(i) => self.0.insert(i, (name, ch)),
        }
    }

    pub fn remove(&mut self, name: &str) {
        if let Ok(i) = self.find(name) {
            self.0.remove(i);
        }
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_ok()
    }

    pub fn get(&self, name: &str) -> Option<ChannelRef> {
        let i = self.find(name).ok()?;
        self.0.get(i).map(|e| e.1)
    }
}

/// Is `name` the pseudo-queue or one of its per-channel names?
pub(crate) fn is_reply_name(name: &str) -> bool {
    name == REPLY_TO || name.starts_with(REPLY_TO_PREFIX)
}

impl Broker {
    /// `basic.consume` on `amq.rabbitmq.reply-to`: RabbitMQ's checks and
    /// texts (406 unless no-ack, 406 for a second one on the channel).
    pub(crate) fn consume_reply_to(
        &mut self,
        ch: ChannelRef,
        consumer_tag: &ShortStr,
        no_ack: bool,
    ) -> Result<ShortStr> {
        let channel = self.open_channel(ch)?;
        let reused =
            !consumer_tag.is_empty() && channel.consumers.iter().any(|(_, t)| t == consumer_tag);
        if reused {
            return Err(AmqpError::new(
                ReplyCode::NotAllowed,
                format_args!("attempt to reuse consumer tag '{consumer_tag}'"),
            ));
        }
        if !no_ack {
            return Err(AmqpError::precondition("reply consumer cannot acknowledge"));
        }
        if channel.reply_consumer.is_some() {
            return Err(AmqpError::precondition("reply consumer already set"));
        }
        let tag = if consumer_tag.is_empty() {
            self.generate_name("amq.ctag-")
        } else {
            consumer_tag.clone()
        };
        let name = self.generate_name(REPLY_TO_PREFIX);
        if let Some(channel) = self.channel_mut(ch) {
            channel.reply_consumer = Some((tag.clone(), name.clone()));
        }
        self.replies.insert(name, ch);
        Ok(tag)
    }

    /// Cancels the channel's reply consumer if `tag` is its tag.
    pub(crate) fn cancel_reply_to(&mut self, ch: ChannelRef, tag: &str) -> bool {
        let Some(channel) = self.channel_mut(ch) else {
            return false;
        };
        match &channel.reply_consumer {
            Some((t, _)) if t.as_str() == tag => {}
            _ => return false,
        }
        if let Some((_, name)) = channel.reply_consumer.take() {
            self.replies.remove(&name);
        }
        true
    }

    /// Forgets the reply name of a channel that is closing.
    pub(crate) fn drop_reply_to(&mut self, reply_consumer: Option<(ShortStr, ShortStr)>) {
        if let Some((_, name)) = reply_consumer {
            self.replies.remove(&name);
        }
    }

    /// A publish with `reply_to = amq.rabbitmq.reply-to` gets the channel's
    /// own reply name; without a reply consumer it is 406, as in RabbitMQ.
    pub(crate) fn set_reply_to(&self, ch: ChannelRef, message: &mut Message) -> Result<()> {
        if message.properties.reply_to.as_deref() != Some(REPLY_TO) {
            return Ok(());
        }
        let name = self
            .channel(ch)
            .and_then(|c| c.reply_consumer.as_ref())
            .map(|(_, name)| name.clone())
            .ok_or_else(|| AmqpError::precondition("fast reply consumer does not exist"))?;
        message.properties.make_mut().reply_to = Some(name);
        Ok(())
    }

    /// `queue.declare` of a reply name: every declare is passive. The
    /// pseudo-queue itself and a live per-channel name answer 0 messages
    /// and 1 consumer; a name whose channel is gone is 404.
    pub(crate) fn declare_reply_to(&self, name: &ShortStr, vname: &str) -> Result<(u32, u32)> {
        if name.as_str() == REPLY_TO || self.replies.contains_key(name) {
            return Ok((0, 1));
        }
        Err(AmqpError::no_queue(name, vname))
    }

    /// A publish to the default exchange with a reply name as routing key:
    /// straight to the requester's consumer. Returns false when the
    /// requester is gone (the reply is dropped; a mandatory one returned).
    pub(crate) fn deliver_reply(&mut self, message: &Message) -> bool {
        let Some(to) = self.replies.get(message.routing_key()) else {
            return false;
        };
        let Some(channel) = self.channel_mut(to) else {
            return false;
        };
        let Some((consumer_tag, _)) = channel.reply_consumer.clone() else {
            return false;
        };
        let delivery_tag = channel.take_tag();
        self.emit(Effect::Deliver {
            to,
            consumer_tag,
            delivery_tag,
            redelivered: false,
            message: message.clone(),
        });
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::broker::ids::ConnId;

    #[test]
    fn reply_names_are_found_in_any_insertion_order() {
        let name = |s: &str| ShortStr::new(s).unwrap();
        let ch = |n| ChannelRef::new(ConnId(n), 1);
        let mut r = ReplyNames::default();
        for (i, s) in ["m", "b", "z", "a", "q"].into_iter().enumerate() {
            r.insert(name(s), ch(i as u32));
        }
        r.insert(name("b"), ch(9));
        r.remove("z");
        r.remove("absent");
        let found: Vec<_> = ["a", "b", "m", "q", "z"].map(|s| r.get(s)).into();
        assert_eq!(
            found,
            [Some(ch(3)), Some(ch(9)), Some(ch(0)), Some(ch(4)), None]
        );
        assert!(r.contains_key("q") && !r.contains_key("z"));
    }
}
