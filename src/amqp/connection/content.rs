//! Content assembly: `basic.publish`, then a content header, then body
//! frames until `body-size` bytes have come, per channel, interleaved across
//! channels. A header or body where none is expected is 505, as is a method
//! where content is expected.
//!
//! Publishes that follow one another on a channel with the same exchange,
//! flags and properties (the same decoded block, shared through
//! `LastProperties`) are a run, whatever their routing keys: the first goes
//! through all of the engine's checks, each later one only routed, enqueued
//! and confirmed (`Broker::basic_publish_in_run`). Nothing else reaches the
//! engine from this connection meanwhile: any other frame, an error and the
//! end of the read end the run.

use super::channels::ChanState;
use super::{Connection, Env};
use crate::amqp::codec::{ContentHeader, PublishRef};
use crate::broker::{AmqpError, BlockBuf, Message, Props, PublishRun, ReplyCode};
use crate::short_bytes::same;

/// Bodies up to this size get their exact buffer at once; bigger ones grow
/// as their frames come, so a header alone cannot reserve much memory.
const RESERVE_MAX: u64 = 1 << 20;

/// What a `basic.publish` says besides its exchange and routing key (those
/// begin the block).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct PublishFlags {
    pub(super) ticket: u16,
    pub(super) mandatory: bool,
    pub(super) immediate: bool,
}

/// A publish waiting for its content.
#[derive(Default)]
pub(super) struct Assembly {
    pub(super) publish: Option<PublishFlags>,
    /// The content header came.
    pub(super) has_header: bool,
    /// Boxed only when there are any: moved cheaply, and the common case
    /// (no properties) allocates nothing.
    pub(super) properties: Props,
    pub(super) body_size: u64,
    /// The message's block as it is assembled (see `Message::block`): the
    /// exchange and routing key, then the body bytes so far. The finished
    /// message is one copy of it and the last body frame; the buffer is
    /// kept for the next.
    pub(super) block: BlockBuf,
}

/// The publish run under way on a connection: where its publishes go and
/// what the engine settled at its first (None: no run). The address's
/// buffer is kept from run to run.
#[derive(Default)]
pub(super) struct WireRun {
    channel: u16,
    flags: (bool, bool),
    /// The exchange and routing key (`Message::address_bytes`).
    address: Vec<u8>,
    properties: Props,
    engine: Option<PublishRun>,
}

impl WireRun {
    pub(super) fn end(&mut self) {
        self.engine = None;
    }

    /// `message`, published on `channel` with `flags`, continues the run;
    /// if not, a new run begins at it. Another routing key (a publisher
    /// spreading its messages over queues) continues it too: the run's
    /// checks are the exchange's, and only the queue kept for the last key
    /// is dropped.
    #[inline]
    fn follow(&mut self, channel: u16, flags: (bool, bool), message: &Message) {
        let address = message.address_bytes();
        let place = self.same_place(channel, flags, message);
        if place && same(address, &self.address) {
            return;
        }
        // The exchange's name with its length byte, as the block begins.
        let exchange = usize::from(address.first().copied().unwrap_or(0)) + 1;
        let continues = place && address.get(..exchange) == self.address.get(..exchange);
        match &mut self.engine {
            Some(run) if continues => run.readdress(),
            _ => {
                self.engine = None;
                self.channel = channel;
                self.flags = flags;
                self.properties = message.properties.clone();
            }
        }
        self.address.clear();
        self.address.extend_from_slice(address);
    }

    /// The same channel, flags and properties as the run's.
    #[inline]
    fn same_place(&self, channel: u16, flags: (bool, bool), message: &Message) -> bool {
        self.channel == channel
            && self.flags == flags
            && (if self.properties.is_unset() {
                message.properties.is_unset()
            } else {
                self.properties.same_block(&message.properties)
            })
    }
}

impl Connection {
    /// Called with a `basic.publish` read in place (see `input.rs`) or
    /// decoded: either way the names go straight into the block.
    pub(super) fn start_content(&mut self, channel: u16, publish: PublishRef<'_>) {
        let mut a = self.channels.take_spare().unwrap_or_default();
        a.block.begin(publish.exchange, publish.routing_key);
        a.publish = Some(PublishFlags {
            ticket: publish.ticket,
            mandatory: publish.mandatory,
            immediate: publish.immediate,
        });
        a.has_header = false;
        a.body_size = 0;
        if let Some(slot) = self.channels.slot_mut(channel) {
            slot.content = Some(a);
        }
    }

    pub(super) fn content_header(
        &mut self,
        env: &mut Env<'_>,
        channel: u16,
        header: ContentHeader,
    ) {
        match self.channels.state(channel) {
            ChanState::Closing => return,
            ChanState::Closed => return self.unexpected_content(env, channel, "header"),
            ChanState::Open => {}
        }
        let max = self.settings.config.limits.max_message_size;
        let Some(a) = self
            .channels
            .slot_mut(channel)
            .and_then(|s| s.content.as_mut())
            .filter(|a| !a.has_header)
        else {
            return self.unexpected_content(env, channel, "header");
        };
        if let Err(e) = super::methods::check_message_size(header.body_size, max) {
            self.fail_channel(env, channel, e);
            return self.poll_engine(env);
        }
        a.body_size = header.body_size;
        a.has_header = true;
        a.properties = header.properties;
        if header.body_size == 0 {
            self.publish_content(env, channel, &[]);
        }
    }

    pub(super) fn content_body(&mut self, env: &mut Env<'_>, channel: u16, payload: &[u8]) {
        match self.channels.state(channel) {
            ChanState::Closing => return,
            ChanState::Closed => return self.unexpected_content(env, channel, "body"),
            ChanState::Open => {}
        }
        let Some(a) = self
            .channels
            .slot_mut(channel)
            .and_then(|s| s.content.as_mut())
            .filter(|a| a.has_header)
        else {
            return self.unexpected_content(env, channel, "body");
        };
        let have = a.block.body().len() as u64;
        let after = have.saturating_add(payload.len() as u64);
        if after > a.body_size {
            let e = AmqpError::new(
                ReplyCode::UnexpectedFrame,
                format_args!(
                    "content body frames on channel {channel} exceed the announced body size {}",
                    a.body_size
                ),
            );
            return self.fail_connection(env, e);
        }
        if after == a.body_size {
            // The last frame (most often the only one) goes straight into
            // the message: its bytes are copied once, never into the buffer.
            return self.publish_content(env, channel, payload);
        }
        if have == 0 {
            a.block
                .reserve_body(usize::try_from(a.body_size.min(RESERVE_MAX)).unwrap_or(0));
        }
        a.block.extend_body(payload);
    }

    fn unexpected_content(&mut self, env: &mut Env<'_>, channel: u16, what: &str) {
        let e = AmqpError::new(
            ReplyCode::UnexpectedFrame,
            format_args!("unexpected content {what} frame on channel {channel}"),
        );
        self.fail_connection(env, e);
    }

    /// The content is complete with `last`, the body's last bytes (after
    /// those in the block): the engine gets the message.
    fn publish_content(&mut self, env: &mut Env<'_>, channel: u16, last: &[u8]) {
        let Some(mut a) = self
            .channels
            .slot_mut(channel)
            .and_then(|s| s.content.take())
        else {
            return;
        };
        let Some(publish) = a.publish.take().filter(|_| a.has_header) else {
            return self.channels.put_spare(a);
        };
        let properties = std::mem::take(&mut a.properties);
        // The assembled block and the last frame are copied once into the
        // message (its names were checked as UTF-8 when read); the buffer
        // keeps its capacity for the channel's next message.
        let message = Message::from_block_buf(&a.block, last, properties);
        if a.block.capacity() as u64 > RESERVE_MAX {
            a.block = BlockBuf::default(); // a large message's buffer is not kept
        } else {
            a.block.clear();
        }
        self.channels.put_spare(a);
        // Always a message: `start_content` began the block with the names.
        let Some(message) = message else {
            return;
        };
        let Some(ch) = self.channel_ref(channel) else {
            return;
        };
        // The size was checked at the header; the shared rule passes it again.
        let max = self.settings.config.limits.max_message_size;
        let flags = (publish.mandatory, publish.immediate);
        self.run.follow(channel, flags, &message);
        let run = &mut self.run.engine;
        let r = super::methods::publish_in_run(env.broker, env.now, ch, flags, run, message, max);
        match r {
            // No reply: what the publish made (deliveries, mostly to other
            // connections) waits in the engine and goes out with the rest
            // of the read's, one routing pass for a run of publishes, or
            // before anything else this connection writes (see `route`).
            Ok(()) => env.broker.poll(env.now),
            Err(e) => self.answer(env, channel, (60, 40), Err::<(), _>(e), |()| None),
        }
    }
}
