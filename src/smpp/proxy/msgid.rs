//! Mux mode: which ESME submitted a message, so that its delivery receipt
//! (`deliver_sm` carrying `receipted_message_id`) goes back to it.
//!
//! Keys are a fixed hash of (SMSC index, message id): message ids are only
//! unique per SMSC, and a receipt comes from the SMSC that accepted the
//! message. A 64-bit hash collision would misroute one receipt; no id bytes
//! are stored, so recording allocates nothing once the maps have grown.
//!
//! Bounded in size and time with two generations: lookups see both; the
//! current one is rotated into the previous one (which is dropped) every
//! `ttl`, or early when it holds `capacity / 2` entries. An entry therefore
//! lives at least `ttl` unless a flood rotates it out sooner, and at most
//! 2 × `ttl`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::slab::Key;
use super::MixState;
use crate::balancer::hash::{mix64, Fnv64};

/// message id → submitting ESME session.
#[derive(Debug)]
pub(crate) struct MessageIds {
    current: HashMap<u64, Key, MixState>,
    previous: HashMap<u64, Key, MixState>,
    rotated_at: Instant,
    ttl: Duration,
    half: usize,
}

impl MessageIds {
    /// An empty table holding at most `capacity` entries for about `ttl`.
    pub(crate) fn new(capacity: usize, ttl: Duration, now: Instant) -> MessageIds {
        MessageIds {
            current: HashMap::default(),
            previous: HashMap::default(),
            rotated_at: now,
            ttl,
            half: (capacity / 2).max(1),
        }
    }

    /// Records that `esme` submitted `message_id` through SMSC `server`.
    pub(crate) fn insert(&mut self, server: usize, message_id: &[u8], esme: Key, now: Instant) {
        self.rotate_if_due(now);
        if self.current.len() >= self.half {
            self.rotate(now);
        }
        self.current.insert(key(server, message_id), esme);
    }

    /// The ESME that submitted `message_id` through `server`.
    pub(crate) fn get(&mut self, server: usize, message_id: &[u8], now: Instant) -> Option<Key> {
        self.rotate_if_due(now);
        let k = key(server, message_id);
        self.current
            .get(&k)
            .or_else(|| self.previous.get(&k))
            .copied()
    }

    /// Entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    fn rotate_if_due(&mut self, now: Instant) {
        let age = now.saturating_duration_since(self.rotated_at);
        if age >= self.ttl * 2 {
            self.previous.clear();
        }
        if age >= self.ttl {
            self.rotate(now);
        }
    }

    fn rotate(&mut self, now: Instant) {
        std::mem::swap(&mut self.current, &mut self.previous);
        self.current.clear();
        self.rotated_at = now;
    }
}

fn key(server: usize, message_id: &[u8]) -> u64 {
    let mut h = Fnv64::new();
    h.write(&(server as u64).to_be_bytes());
    h.write(message_id);
    mix64(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smpp::proxy::slab::Slab;

    #[test]
    fn lookup_per_server_with_size_and_time_bounds() {
        let t0 = crate::test_epoch();
        let s = Duration::from_secs;
        let mut slab = Slab::default();
        let (a, b) = (slab.insert(()), slab.insert(()));
        let mut m = MessageIds::new(4, s(10), t0);
        m.insert(0, b"id1", a, t0);
        m.insert(1, b"id1", b, t0);
        assert_eq!(m.get(0, b"id1", t0), Some(a));
        assert_eq!(m.get(1, b"id1", t0), Some(b));
        assert_eq!(m.get(2, b"id1", t0), None);
        // size bound: a third insert rotates; a fifth drops the first two
        m.insert(0, b"id3", a, t0);
        assert_eq!(m.get(0, b"id1", t0), Some(a));
        m.insert(0, b"id4", a, t0);
        m.insert(0, b"id5", a, t0);
        assert_eq!(m.get(0, b"id1", t0), None);
        assert!(m.len() <= 4);
        // time bound: after 2 × ttl nothing is left
        assert_eq!(m.get(0, b"id5", t0 + s(10)), Some(a));
        assert_eq!(m.get(0, b"id5", t0 + s(20)), None);
        assert_eq!(m.len(), 0);
    }
}
