//! The open connections by id: a slab of slots with an id -> slot map, and
//! the slot of the last connection looked up tried first. Every publish,
//! delivery and ack looks up its channel's connection, and most runs of
//! them use one connection: a hit costs a compare where the map's look-up
//! hashes and probes.

use super::engine::Conn;
use super::fxhash::FxHashMap;
use super::ids::ConnId;
use super::slab::Slab;
use std::cell::Cell;

#[derive(Default)]
pub(crate) struct ConnTable {
    slots: Slab<(ConnId, Conn)>,
    index: FxHashMap<ConnId, u32>,
    /// The slot last looked up: checked against the id it holds, so it is
    /// never stale, only missed.
    last: Cell<u32>,
}

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

    /// The slot of `id` by the index, remembered as the last looked up: out
    /// of line, so the look-ups inlined at every caller are the hit only.
    #[inline(never)]
    fn find(&self, id: &ConnId) -> Option<u32> {
        let &slot = self.index.get(id)?;
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
}
