//! A queue's requeued entries waiting out a delayed retry, in (due, seq)
//! order. The order is a [`TimerSet`] (the B-tree type expiry and consumer
//! timeouts already use) over (due, seq, slot) and the entries sit in a
//! [`Slab`]: the wasm carries no B-tree map type of its own for them.

use super::queue::Entry;
use super::slab::Slab;
use super::timer_set::{TimerKey, TimerSet};

/// (due, seq, slot in the slab).
type Key = (u64, u64, u32);

impl TimerKey for (u64, u64, u32) {
    #[inline]
    fn pack(self) -> (u64, u64, u64) {
        (self.0, self.1, u64::from(self.2))
    }

    #[inline]
    fn unpack((due, seq, slot): (u64, u64, u64)) -> Self {
        (due, seq, slot as u32)
    }
}

#[derive(Debug, Default)]
pub struct Delayed {
    order: TimerSet<Key>,
    entries: Slab<Entry>,
}

impl Delayed {
    pub fn insert(&mut self, due: u64, e: Entry) {
        let seq = e.seq;
        let slot = self.entries.insert(e);
        self.order.insert((due, seq, slot));
    }

    /// When the first entry is due.
    pub fn first_due(&self) -> Option<u64> {
        self.order.first().map(|k| k.0)
    }

    /// The first entry if it is due by `now`.
    pub fn pop_due(&mut self, now: u64) -> Option<Entry> {
        let (due, _, slot) = self.order.first()?;
        if due > now {
            return None;
        }
        self.order.pop_first();
        self.entries.remove(slot)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Every entry, in order, leaving none.
    pub fn take_all(&mut self) -> Vec<Entry> {
        let mut slots = std::mem::take(&mut self.entries).into_slots();
        let out = self
            .order
            .iter()
            .filter_map(|(_, _, s)| slots.get_mut(s as usize).and_then(Option::take))
            .collect();
        self.order.clear();
        out
    }

    /// (due, entry) in order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Entry)> + '_ {
        self.order
            .iter()
            .filter_map(|(due, _, s)| self.entries.get(s).map(|e| (due, e)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::broker::message::Message;
    use crate::broker::queue::NEVER;
    use crate::broker::value::ShortStr;

    fn entry(seq: u64) -> Entry {
        let msg = Message::new(
            ShortStr::empty(),
            ShortStr::empty(),
            Default::default(),
            [0u8; 1],
        );
        Entry {
            seq,
            msg_id: seq,
            msg,
            deliveries: 0,
            failed: 0,
            expires_at: NEVER,
        }
    }

    fn seqs<'a>(it: impl Iterator<Item = (u64, &'a Entry)>) -> Vec<(u64, u64)> {
        it.map(|(due, e)| (due, e.seq)).collect()
    }

    #[test]
    fn entries_leave_by_due_then_seq_and_freed_slots_keep_the_order() {
        let mut d = Delayed::default();
        for (due, seq) in [(30, 1), (10, 5), (10, 2), (20, 9)] {
            d.insert(due, entry(seq));
        }
        assert_eq!(d.first_due(), Some(10));
        assert!(d.pop_due(9).is_none());
        assert_eq!(d.pop_due(10).map(|e| e.seq), Some(2));
        assert_eq!(d.pop_due(10).map(|e| e.seq), Some(5));
        assert!(d.pop_due(19).is_none());
        // Two freed slots are reused by later entries, which still sort by due.
        d.insert(5, entry(7));
        d.insert(25, entry(3));
        assert_eq!(d.len(), 4);
        assert_eq!(seqs(d.iter()), [(5, 7), (20, 9), (25, 3), (30, 1)]);
        let all: Vec<u64> = d.take_all().iter().map(|e| e.seq).collect();
        assert_eq!(all, [7, 9, 3, 1]);
        assert_eq!((d.len(), d.first_due()), (0, None));
        d.insert(1, entry(4));
        assert_eq!(seqs(d.iter()), [(1, 4)]);
    }
}
