//! The queues recent publishes reached, by (vhost, exchange, routing key):
//! publishes to an address seen lately (a producer's run, or producers
//! taking a few queues in turn) skip the exchange's look-up and its
//! bindings' walk, or for the default exchange the look-up of the queue by
//! name.
//!
//! A cache, not engine state, so not in the image: every mutable access to a
//! vhost (declares, deletes, binds, unbinds, policies, a queue's deletion)
//! forgets it, and only a route that depends on nothing but the exchange and
//! the key (no CC or BCC headers, no headers exchange, no second exchange
//! reached) is kept.

use super::ids::{QueueId, VhostId};
use super::message::Message;
use crate::short_bytes::same;

/// Addresses kept: a publisher spreading its messages over a few queues
/// (round robin, or a key per kind of work) finds each of them; past that,
/// a miss costs a comparison per slot, so the set stays small.
const SLOTS: usize = 8;

#[derive(Debug, Default)]
struct Slot {
    /// None: nothing kept here.
    vhost: Option<VhostId>,
    /// The exchange and routing key as a message's block holds them
    /// ([`Message::address_bytes`]): one comparison; the buffer is reused.
    address: Vec<u8>,
    queues: Vec<QueueId>,
}

impl Slot {
    #[inline]
    fn holds(&self, vhost: VhostId, address: &[u8]) -> bool {
        self.vhost == Some(vhost) && same(&self.address, address)
    }

    fn keep(&mut self, vhost: VhostId, address: &[u8], queues: &[QueueId]) {
        self.vhost = Some(vhost);
        self.address.clear();
        self.address.extend_from_slice(address);
        self.queues.clear();
        self.queues.extend_from_slice(queues);
    }
}

#[derive(Debug, Default)]
pub(crate) struct RouteCache {
    /// The first address kept since the last `forget`: a single address
    /// (the usual producer) is found by one comparison, in line.
    first: Slot,
    /// The others, at most SLOTS - 1; those from `used` on hold nothing,
    /// and keep their buffers for the addresses to come.
    rest: Vec<Slot>,
    used: usize,
    /// The slot the next new address takes once all are used (round
    /// robin; 0 is `first`).
    next: usize,
    /// Moves on every `set` and `forget`: a run of publishes to one address
    /// that saw it unmoved knows its kept queue still holds without
    /// comparing the address again.
    generation: u64,
}

impl RouteCache {
    /// The queues of a publish of `message` in `vhost`, if they were kept
    /// for its exchange and routing key. Always inlined: on every publish,
    /// and small once the other slots' walk is out of line.
    #[inline(always)]
    pub fn get(&self, vhost: VhostId, message: &Message) -> Option<&[QueueId]> {
        let address = message.address_bytes();
        if self.first.holds(vhost, address) {
            return Some(&self.first.queues);
        }
        if self.used == 0 {
            return None;
        }
        self.find(vhost, address)
    }

    /// The slots after the first, out of line: the call that looks at the
    /// first stays small.
    #[inline(never)]
    fn find(&self, vhost: VhostId, address: &[u8]) -> Option<&[QueueId]> {
        self.rest
            .get(..self.used)
            .unwrap_or_default()
            .iter()
            .find(|s| s.holds(vhost, address))
            .map(|s| s.queues.as_slice())
    }

    /// Keeps the queues a publish of `message` reached, in the slot of its
    /// address, else in one unused, else in the next one round.
    pub fn set(&mut self, vhost: VhostId, message: &Message, queues: &[QueueId]) {
        self.generation = self.generation.wrapping_add(1);
        let address = message.address_bytes();
        if self.first.vhost.is_none() || self.first.holds(vhost, address) {
            return self.first.keep(vhost, address, queues);
        }
        let used = self.rest.get(..self.used).unwrap_or_default();
        let at = match used.iter().position(|s| s.holds(vhost, address)) {
            Some(at) => at,
            None if self.used < SLOTS - 1 => {
                self.used += 1;
                self.used - 1
            }
            None => {
                let at = self.next;
                self.next = (at + 1) % SLOTS;
                if at == 0 {
                    return self.first.keep(vhost, address, queues);
                }
                at - 1
            }
        };
        match self.rest.get_mut(at) {
            Some(slot) => slot.keep(vhost, address, queues),
            None => {
                let mut slot = Slot::default();
                slot.keep(vhost, address, queues);
                self.rest.push(slot);
            }
        }
    }

    /// Which `set` or `forget` the cache is at (see `generation`).
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The topology changed: nothing kept holds.
    #[inline]
    pub fn forget(&mut self) {
        self.first.vhost = None;
        self.used = 0;
        self.next = 0;
        self.generation = self.generation.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::{RouteCache, SLOTS};
    use crate::broker::ids::{QueueId, VhostId};
    use crate::broker::message::Message;
    use crate::broker::value::ShortStr;

    fn to(exchange: &str, key: &str) -> Message {
        let name = |s: &str| ShortStr::new(s).unwrap_or_else(|_| ShortStr::empty());
        Message::from_parts(&name(exchange), &name(key), Default::default(), b"x")
    }

    fn queue(i: usize) -> QueueId {
        QueueId::new(i as u32, 1)
    }

    #[test]
    fn each_of_a_few_addresses_keeps_its_own_route() {
        let mut cache = RouteCache::default();
        let v = VhostId(0);
        let keys: Vec<String> = (0..SLOTS).map(|i| format!("q{i}")).collect();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(cache.get(v, &to("", k)), None, "{k} before it is set");
            cache.set(v, &to("", k), &[queue(i)]);
        }
        // Taken in turn, as a publisher spreading its messages does.
        for _ in 0..3 {
            for (i, k) in keys.iter().enumerate() {
                assert_eq!(cache.get(v, &to("", k)), Some(&[queue(i)][..]), "{k}");
            }
        }
        // The same key through another exchange or in another vhost is
        // another address.
        assert_eq!(cache.get(v, &to("amq.direct", "q0")), None);
        assert_eq!(cache.get(VhostId(1), &to("", "q0")), None);
        // Setting an address kept replaces its route, in its own slot.
        cache.set(v, &to("", "q1"), &[queue(7), queue(8)]);
        assert_eq!(cache.get(v, &to("", "q1")), Some(&[queue(7), queue(8)][..]));
        assert_eq!(cache.get(v, &to("", "q0")), Some(&[queue(0)][..]));
    }

    #[test]
    fn a_new_address_past_the_slots_takes_the_oldest_one() {
        let mut cache = RouteCache::default();
        let v = VhostId(0);
        for i in 0..=SLOTS {
            cache.set(v, &to("", &format!("q{i}")), &[queue(i)]);
        }
        assert_eq!(cache.get(v, &to("", "q0")), None);
        for i in 1..=SLOTS {
            assert_eq!(
                cache.get(v, &to("", &format!("q{i}"))),
                Some(&[queue(i)][..])
            );
        }
    }

    #[test]
    fn forgetting_drops_every_address_and_moves_the_generation() {
        let mut cache = RouteCache::default();
        let v = VhostId(0);
        for i in 0..3 {
            cache.set(v, &to("", &format!("q{i}")), &[queue(i)]);
        }
        let kept = cache.generation();
        cache.forget();
        assert_ne!(cache.generation(), kept);
        for i in 0..3 {
            assert_eq!(cache.get(v, &to("", &format!("q{i}"))), None);
        }
        // Filled again from the first slot.
        cache.set(v, &to("", "q9"), &[queue(9)]);
        assert_eq!((cache.first.vhost, cache.used), (Some(v), 0));
        assert_eq!(cache.get(v, &to("", "q9")), Some(&[queue(9)][..]));
    }
}
