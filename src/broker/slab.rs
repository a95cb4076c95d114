//! A slab: values in numbered slots, a freed slot reused before the slab
//! grows, so a number stays valid until its value is removed. The open
//! connections, a queue's delayed retries and the messages being recovered
//! each keep their values in one, with their own index or order beside it.

#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Option<T>>,
    /// Empty slots, reused before the slab grows.
    free: Vec<u32>,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Slab<T> {
    /// Puts `v` in a free slot, or a new one; returns the slot's number.
    #[inline]
    pub fn insert(&mut self, v: T) -> u32 {
        if let Some(slot) = self.free.pop() {
            if let Some(s) = self.slots.get_mut(slot as usize) {
                *s = Some(v);
                return slot;
            }
        }
        self.slots.push(Some(v));
        (self.slots.len() - 1) as u32
    }

    #[inline]
    pub fn get(&self, slot: u32) -> Option<&T> {
        self.slots.get(slot as usize)?.as_ref()
    }

    #[inline]
    pub fn get_mut(&mut self, slot: u32) -> Option<&mut T> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// Takes the value out of its slot, which is free again.
    #[inline]
    pub fn remove(&mut self, slot: u32) -> Option<T> {
        let v = self.slots.get_mut(slot as usize)?.take();
        if v.is_some() {
            self.free.push(slot);
        }
        v
    }

    /// Removes the values `keep` refuses, in slot order, handing each to `gone`.
    #[inline]
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool, mut gone: impl FnMut(T)) {
        for (slot, s) in self.slots.iter_mut().enumerate() {
            if s.as_ref().is_some_and(|v| !keep(v)) {
                if let Some(v) = s.take() {
                    gone(v);
                    self.free.push(slot as u32);
                }
            }
        }
    }

    /// The values in slot order, which depends on the history of inserts
    /// and removes: callers that need an order sort.
    #[inline]
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }

    #[inline]
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.slots.iter_mut().flatten()
    }

    #[inline]
    pub fn into_values(self) -> impl Iterator<Item = T> {
        self.slots.into_iter().flatten()
    }

    /// Every slot, by number, emptied ones as None.
    #[inline]
    pub fn into_slots(self) -> Vec<Option<T>> {
        self.slots
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn freed_slots_are_reused_and_a_removed_value_is_not_found() {
        let mut s = Slab::default();
        assert_eq!((s.insert("a"), s.insert("b"), s.insert("c")), (0, 1, 2));
        assert_eq!(s.remove(1), Some("b"));
        assert_eq!(s.get(1), None);
        assert_eq!(s.remove(1), None, "a slot removed twice is freed once");
        // The freed slot goes to the next value before the slab grows.
        assert_eq!(s.insert("d"), 1);
        assert_eq!(s.insert("e"), 3);
        *s.get_mut(3).unwrap() = "E";
        let mut gone = Vec::new();
        s.retain(|v| *v != "a" && *v != "c", |v| gone.push(v));
        assert_eq!(gone, ["a", "c"]);
        assert_eq!(s.values().copied().collect::<Vec<_>>(), ["d", "E"]);
        assert_eq!(s.insert("f"), 2, "the last slot freed is reused first");
        assert_eq!(s.get(4), None);
        assert_eq!(s.remove(2), Some("f"));
        assert_eq!(s.remove(2), None);
        assert_eq!(s.insert("g"), 2, "and so is one removed twice");
        assert_eq!((s.insert("h"), s.insert("i")), (0, 4));
        s.values_mut().for_each(|v| *v = "x");
        assert_eq!(s.into_values().count(), 5);
    }
}
