//! The queues the last publish through a named exchange reached, by (vhost,
//! exchange, routing key): runs of publishes with the same exchange and key
//! (the usual producer) skip the exchange's look-up and its bindings' walk.
//!
//! A cache, not engine state, so not in the image: every mutable access to a
//! vhost (declares, deletes, binds, unbinds, policies, a queue's deletion)
//! forgets it, and only a route that depends on nothing but the exchange and
//! the key (no CC or BCC headers, no headers exchange, no second exchange
//! reached) is kept.

use super::ids::{QueueId, VhostId};

#[derive(Debug, Default)]
pub(crate) struct RouteCache {
    /// None: nothing kept.
    vhost: Option<VhostId>,
    /// The exchange's name followed by the routing key; the buffer is reused.
    names: String,
    exchange_len: usize,
    queues: Vec<QueueId>,
}

impl RouteCache {
    /// The queues of a publish to `exchange` with `key` in `vhost`, if the
    /// last one kept was that.
    #[inline]
    pub fn get(&self, vhost: VhostId, exchange: &str, key: &str) -> Option<&[QueueId]> {
        let hit = self.vhost == Some(vhost)
            && self.names.len() == self.exchange_len + key.len()
            && self.names.get(..self.exchange_len) == Some(exchange)
            && self.names.get(self.exchange_len..) == Some(key);
        hit.then_some(self.queues.as_slice())
    }

    /// Keeps the queues a publish to `exchange` with `key` reached.
    pub fn set(&mut self, vhost: VhostId, exchange: &str, key: &str, queues: &[QueueId]) {
        self.names.clear();
        self.names.push_str(exchange);
        self.names.push_str(key);
        self.exchange_len = exchange.len();
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
