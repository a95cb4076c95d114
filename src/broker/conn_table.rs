//! The open connections by id: a slab of slots with an id -> slot map, and
//! two caches in front of the map. Every publish, delivery and ack looks up
//! its channel's connection: runs of them use one connection, tried first
//! (a hit costs a compare), and a message usually takes two (its
//! publisher's, then its consumer's) out of a handful of busy ones, whose
//! slots are kept one per id modulo [`RECENT`]: numbered in order as they
//! open, those fall on different entries, and are found without the map's
//! hashing and probing.

use super::engine::Conn;
use super::fxhash::FxHashMap;
use super::ids::ConnId;
use super::slab::Slab;
use std::cell::Cell;

#[derive(Default)]
pub(crate) struct ConnTable {
    slots: Slab<(ConnId, Conn)>,
    index: FxHashMap<ConnId, u32>,
    /// The slot last looked up. Like every slot kept here, it is checked
    /// against the id it holds, so it is never stale, only missed.
    last: Cell<u32>,
    /// The slot last found for an id equal to the entry's index modulo
    /// `RECENT`.
    recent: [Cell<u32>; RECENT],
}

/// Entries of the recent-slot cache: a power of two.
const RECENT: usize = 8;

impl ConnTable {
    #[inline]
    pub fn get(&self, id: &ConnId) -> Option<&Conn> {
        if let Some((at, c)) = self.slots.get(self.last.get()) {
            if at == id {
                return Some(c);
            }
        }
        let slot = self.find(id)?;
        self.slots.get(slot).map(|(_, c)| c)
    }

    #[inline]
    pub fn get_mut(&mut self, id: &ConnId) -> Option<&mut Conn> {
        // The hit returns from its own branch: the compiler sees the same
        // slot checked twice and keeps one check, where a slot chosen by
        // either branch and then taken is checked again.
        let last = self.last.get();
        if matches!(self.slots.get(last), Some((at, _)) if at == id) {
            return self.slots.get_mut(last).map(|(_, c)| c);
        }
        let slot = self.find(id)?;
        self.slots.get_mut(slot).map(|(_, c)| c)
    }

    /// The slot of `id`, from its recent entry or else the index, then
    /// remembered as the last looked up: out of line, so the look-ups
    /// inlined at every caller are the hit only.
    #[inline(never)]
    fn find(&self, id: &ConnId) -> Option<u32> {
        // The mask keeps the index in range: the `None` is never taken.
        let recent = self.recent.get(id.0 as usize & (RECENT - 1))?;
        let kept = recent.get();
        let slot = match self.slots.get(kept) {
            Some((at, _)) if at == id => kept,
            _ => {
                let &slot = self.index.get(id)?;
                recent.set(slot);
                slot
            }
        };
        self.last.set(slot);
        Some(slot)
    }

    pub fn contains_key(&self, id: &ConnId) -> bool {
        self.index.contains_key(id)
    }

    /// Adds a connection; gives back the one that had the id, if any.
    pub fn insert(&mut self, id: ConnId, conn: Conn) -> Option<Conn> {
        if let Some(&slot) = self.index.get(&id) {
            let old = self.slots.get_mut(slot)?;
            return Some(std::mem::replace(old, (id, conn)).1);
        }
        let slot = self.slots.insert((id, conn));
        self.index.insert(id, slot);
        None
    }

    pub fn get_or_insert_with(
        &mut self,
        id: ConnId,
        make: impl FnOnce() -> Conn,
    ) -> Option<&mut Conn> {
        if !self.contains_key(&id) {
            self.insert(id, make());
        }
        self.get_mut(&id)
    }

    pub fn remove(&mut self, id: &ConnId) -> Option<Conn> {
        let slot = self.index.remove(id)?;
        self.slots.remove(slot).map(|(_, c)| c)
    }

    /// In slot order, which depends on the history of opens and closes:
    /// callers that need an order sort.
    pub fn iter(&self) -> impl Iterator<Item = (&ConnId, &Conn)> {
        self.slots.values().map(|(id, c)| (id, c))
    }

    pub fn keys(&self) -> impl Iterator<Item = &ConnId> {
        self.iter().map(|(id, _)| id)
    }

    pub fn values(&self) -> impl Iterator<Item = &Conn> {
        self.iter().map(|(_, c)| c)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Conn> {
        self.slots.values_mut().map(|(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::broker::ids::VhostId;

    fn conn(vhost: u32) -> Conn {
        Conn {
            info: Default::default(),
            vhost: VhostId(vhost),
            channels: Vec::new(),
            perms: None,
        }
    }

    #[test]
    fn a_closed_connection_is_not_found_through_the_slot_last_looked_up() {
        let mut t = ConnTable::default();
        assert!(t.insert(ConnId(1), conn(1)).is_none());
        assert!(t.insert(ConnId(2), conn(2)).is_none());
        assert_eq!(t.get(&ConnId(1)).unwrap().vhost, VhostId(1));
        assert_eq!(t.remove(&ConnId(1)).unwrap().vhost, VhostId(1));
        assert!(t.get(&ConnId(1)).is_none());
        // Its slot goes to the next connection; the old id still finds nothing.
        assert!(t.insert(ConnId(3), conn(3)).is_none());
        assert!(t.get_mut(&ConnId(1)).is_none());
        assert_eq!(t.get(&ConnId(3)).unwrap().vhost, VhostId(3));
        assert_eq!(t.get_mut(&ConnId(2)).unwrap().vhost, VhostId(2));
        assert_eq!(t.insert(ConnId(2), conn(9)).unwrap().vhost, VhostId(2));
        assert_eq!(t.get(&ConnId(2)).unwrap().vhost, VhostId(9));
        let mut ids: Vec<u32> = t.keys().map(|id| id.0).collect();
        ids.sort_unstable();
        assert_eq!(ids, [2, 3]);
        assert_eq!(t.values().count(), 2);
    }

    #[test]
    fn ids_sharing_a_recent_entry_each_find_their_own_connection() {
        let mut t = ConnTable::default();
        // 1, 9 and 17 share an entry; 2 has its own.
        for id in [1, 2, 9, 17] {
            assert!(t.insert(ConnId(id), conn(id)).is_none());
        }
        for _ in 0..3 {
            for id in [1, 9, 2, 17, 9] {
                assert_eq!(t.get(&ConnId(id)).unwrap().vhost, VhostId(id));
                assert_eq!(t.get_mut(&ConnId(id)).unwrap().vhost, VhostId(id));
            }
        }
        // 9's slot, remembered in the shared entry, goes to 25: 9 is gone,
        // and 25 is found through the same entry.
        assert_eq!(t.get(&ConnId(9)).unwrap().vhost, VhostId(9));
        t.remove(&ConnId(9));
        assert!(t.insert(ConnId(25), conn(25)).is_none());
        assert!(t.get(&ConnId(9)).is_none());
        assert!(t.get_mut(&ConnId(9)).is_none());
        assert_eq!(t.get(&ConnId(25)).unwrap().vhost, VhostId(25));
        assert_eq!(t.get(&ConnId(1)).unwrap().vhost, VhostId(1));
        assert_eq!(t.get(&ConnId(17)).unwrap().vhost, VhostId(17));
    }
}
