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
    /// Moves on every `set` and `forget`: a run of publishes to one address
    /// that saw it unmoved knows its kept queue still holds without
    /// comparing the address again.
    generation: u64,
}

impl RouteCache {
    /// The queues of a publish of `message` in `vhost`, if the last one
    /// kept had its exchange and routing key.
    #[inline]
    pub fn get(&self, vhost: VhostId, message: &Message) -> Option<&[QueueId]> {
        let hit = self.vhost == Some(vhost) && same(&self.address, message.address_bytes());
        hit.then_some(self.queues.as_slice())
    }

    /// Keeps the queues a publish of `message` reached.
    pub fn set(&mut self, vhost: VhostId, message: &Message, queues: &[QueueId]) {
        self.address.clear();
        self.address.extend_from_slice(message.address_bytes());
        self.queues.clear();
        self.queues.extend_from_slice(queues);
        self.vhost = Some(vhost);
        self.generation = self.generation.wrapping_add(1);
    }

    /// Which `set` or `forget` the cache is at (see `generation`).
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The topology changed: nothing kept holds.
    #[inline]
    pub fn forget(&mut self) {
        self.vhost = None;
        self.generation = self.generation.wrapping_add(1);
    }
}

/// Byte-wise equality of two names, inline: a few bytes, which words
/// compare in less than a call to `memcmp` costs. The last eight bytes (or
/// the first and last four) overlap the ones compared before them.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if let (Some((_, x)), Some((_, y))) = (a.split_last_chunk::<8>(), b.split_last_chunk::<8>()) {
        if x != y {
            return false;
        }
        let (mut a, mut b) = (a, b);
        while a.len() > 8 {
            let (Some((x, ra)), Some((y, rb))) =
                (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
            else {
                break;
            };
            if x != y {
                return false;
            }
            (a, b) = (ra, rb);
        }
        return true;
    }
    match (
        a.first_chunk::<4>(),
        a.last_chunk::<4>(),
        b.first_chunk::<4>(),
        b.last_chunk::<4>(),
    ) {
        (Some(a0), Some(a1), Some(b0), Some(b1)) => a0 == b0 && a1 == b1,
        _ => a.iter().zip(b).all(|(x, y)| x == y),
    }
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn names_are_equal_exactly_when_their_bytes_are() {
        for len in 0..=20u8 {
            let a: Vec<u8> = (1..=len).collect();
            assert!(same(&a, &a.clone()), "{len} bytes");
            let mut longer = a.clone();
            longer.push(0);
            assert!(!same(&a, &longer), "{len} bytes and one more");
            for at in 0..a.len() {
                let mut b = a.clone();
                if let Some(x) = b.get_mut(at) {
                    *x ^= 0x20;
                }
                assert!(!same(&a, &b), "{len} bytes, differing at {at}");
            }
        }
    }
}
