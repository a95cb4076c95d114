//! Ordered sets of timer keys (consumer timeouts, message expiry) kept as
//! three `u64`s each: every such set is then one `BTreeSet` type, and the
//! wasm carries one copy of the B-tree's code for all of them rather than
//! one per key type.

use super::ids::{ChannelRef, ConnId};
use std::collections::BTreeSet;
use std::marker::PhantomData;

type Packed = (u64, u64, u64);

/// A key that packs into three `u64`s in the same order as it compares.
pub trait TimerKey: Copy {
    fn pack(self) -> Packed;
    fn unpack(p: Packed) -> Self;
}

/// (deadline, channel, delivery tag): the channel as `conn << 16 | channel`,
/// which orders as `ChannelRef` does (connection first).
impl TimerKey for (u64, ChannelRef, u64) {
    #[inline]
    fn pack(self) -> Packed {
        let (at, ch, tag) = self;
        (
            at,
            (u64::from(ch.conn.0) << 16) | u64::from(ch.channel),
            tag,
        )
    }

    #[inline]
    fn unpack((at, ch, tag): Packed) -> Self {
        let ch = ChannelRef::new(ConnId((ch >> 16) as u32), ch as u16);
        (at, ch, tag)
    }
}

/// (expires at, seq, priority).
impl TimerKey for (u64, u64, u8) {
    #[inline]
    fn pack(self) -> Packed {
        (self.0, self.1, u64::from(self.2))
    }

    #[inline]
    fn unpack((at, seq, prio): Packed) -> Self {
        (at, seq, prio as u8)
    }
}

/// A `BTreeSet<K>` over packed keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimerSet<K> {
    set: BTreeSet<Packed>,
    key: PhantomData<K>,
}

impl<K> Default for TimerSet<K> {
    fn default() -> Self {
        TimerSet {
            set: BTreeSet::new(),
            key: PhantomData,
        }
    }
}

impl<K: TimerKey> TimerSet<K> {
    // Out of line, as `BTreeSet::insert` and `remove` are: the hot callers
    // (`Queue::push_ready`, `pop_ready`, `deliver_to`) keep their size.
    #[inline(never)]
    pub fn insert(&mut self, k: K) -> bool {
        self.set.insert(k.pack())
    }

    #[inline(never)]
    pub fn remove(&mut self, k: &K) -> bool {
        self.set.remove(&k.pack())
    }

    /// The first key (by value: the set holds packed keys).
    #[inline]
    pub fn first(&self) -> Option<K> {
        self.set.first().map(|&p| K::unpack(p))
    }

    pub fn pop_first(&mut self) -> Option<K> {
        self.set.pop_first().map(K::unpack)
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn clear(&mut self) {
        self.set.clear()
    }

    /// In order.
    pub fn iter(&self) -> impl Iterator<Item = K> + '_ {
        self.set.iter().map(|&p| K::unpack(p))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn packed_keys_keep_their_order_and_come_back_whole() {
        let ch = |conn, channel| ChannelRef::new(ConnId(conn), channel);
        let keys = [
            (5, ch(u32::MAX, 1), 9),
            (5, ch(2, u16::MAX), 1),
            (5, ch(3, 0), 0),
            (1, ch(7, 7), u64::MAX),
        ];
        let mut s = TimerSet::default();
        for k in keys {
            assert!(s.insert(k));
        }
        let mut sorted = keys.to_vec();
        sorted.sort();
        assert_eq!(s.iter().collect::<Vec<_>>(), sorted);
        assert!(s.remove(&keys[1]));
        assert_eq!(s.pop_first(), Some(keys[3]));
        assert_eq!(s.first(), Some(keys[2]));

        let mut e = TimerSet::default();
        for k in [(3, 1, 255u8), (3, 1, 0), (2, u64::MAX, 9)] {
            e.insert(k);
        }
        assert_eq!(
            e.iter().collect::<Vec<_>>(),
            [(2, u64::MAX, 9), (3, 1, 0), (3, 1, 255)]
        );
    }
}
