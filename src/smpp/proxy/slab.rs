//! A generational slab: entities addressed by [`Key`], stale keys detected.
//!
//! ESME sessions, SMSC links and groups point at each other by key; a key
//! whose entity was removed (and whose slot may be reused) no longer
//! resolves, so a late response for a closed session is dropped instead of
//! reaching a stranger.

/// Index and generation of a slab entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Key {
    idx: u32,
    gen: u32,
}

#[derive(Debug)]
struct Slot<T> {
    gen: u32,
    value: Option<T>,
}

/// Entities of one kind.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Stores `value` and returns its key.
    pub(crate) fn insert(&mut self, value: T) -> Key {
        self.len += 1;
        if let Some(idx) = self.free.pop() {
            if let Some(slot) = self.slots.get_mut(idx as usize) {
                slot.gen = slot.gen.wrapping_add(1);
                slot.value = Some(value);
                return Key { idx, gen: slot.gen };
            }
        }
        let idx = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        self.slots.push(Slot {
            gen: 0,
            value: Some(value),
        });
        Key { idx, gen: 0 }
    }

    /// The entity of `key`, if it still exists.
    pub(crate) fn get(&self, key: Key) -> Option<&T> {
        let slot = self.slots.get(key.idx as usize)?;
        if slot.gen != key.gen {
            return None;
        }
        slot.value.as_ref()
    }

    /// The entity of `key`, mutably.
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        let slot = self.slots.get_mut(key.idx as usize)?;
        if slot.gen != key.gen {
            return None;
        }
        slot.value.as_mut()
    }

    /// Removes and returns the entity of `key`.
    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.idx as usize)?;
        if slot.gen != key.gen {
            return None;
        }
        let v = slot.value.take()?;
        self.free.push(key.idx);
        self.len -= 1;
        Some(v)
    }

    /// Every live entity, mutably (cold paths: a configuration reload).
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.slots.iter_mut().filter_map(|s| s.value.as_mut())
    }

    /// Number of live entities.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_do_not_resolve() {
        let mut s = Slab::default();
        let a = s.insert("a");
        assert_eq!(s.get(a), Some(&"a"));
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_eq!(s.get(a), None);
        assert_eq!(s.get_mut(b), Some(&mut "b"));
        assert_eq!(s.remove(a), None);
        assert_eq!(s.len(), 1);
    }
}
