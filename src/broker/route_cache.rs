//! The queues the last publish reached, by (vhost, exchange, routing key):
//! runs of publishes with the same exchange and key (the usual producer) skip
//! the exchange's look-up and its bindings' walk, or for the default
//! exchange the look-up of the queue by name.
//!
//! A cache, not engine state, so not in the image: every mutable access to a
//! vhost (declares, deletes, binds, unbinds, policies, a queue's deletion)
//! forgets it, and only a route that depends on nothing but the exchange and
//! the key (no CC or BCC headers, no headers exchange, no second exchange
//! reached) is kept.

use super::ids::{QueueId, VhostId};
use super::message::Message;

#[derive(Debug, Default)]
pub(crate) struct RouteCache {
    /// None: nothing kept.
    vhost: Option<VhostId>,
    /// The exchange and routing key as a message's block holds them
    /// ([`Message::address_bytes`]): one comparison; the buffer is reused.
    address: Vec<u8>,
    queues: Vec<QueueId>,
}

impl RouteCache {
    /// The queues of a publish of `message` in `vhost`, if the last one
    /// kept had its exchange and routing key.
    #[inline]
    pub fn get(&self, vhost: VhostId, message: &Message) -> Option<&[QueueId]> {
        let hit = self.vhost == Some(vhost) && self.address == message.address_bytes();
        hit.then_some(self.queues.as_slice())
    }

    /// Keeps the queues a publish of `message` reached.
    pub fn set(&mut self, vhost: VhostId, message: &Message, queues: &[QueueId]) {
        self.address.clear();
        self.address.extend_from_slice(message.address_bytes());
        self.queues.clear();
        self.queues.extend_from_slice(queues);
        self.vhost = Some(vhost);
    }

    /// The topology changed: nothing kept holds.
    #[inline]
    pub fn forget(&mut self) {
        self.vhost = None;
    }
}
