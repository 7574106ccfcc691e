//! Idle keep-alive connections to nodes, per (address, TLS).
//!
//! The most recently used connection is reused first (it is the least
//! likely to have been closed by the node); beyond the per-target bound the
//! oldest idle one is evicted. Idle timeouts are the balancer's timers.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::net::SocketAddr;

use crate::smpp::proxy::slab::Key;
use crate::smpp::proxy::MixHasher;

/// Where a pooled connection goes.
pub(super) type Target = (SocketAddr, bool);

/// Idle node connections of one shard.
#[derive(Debug)]
pub(super) struct Pool {
    idle: HashMap<Target, VecDeque<Key>, BuildHasherDefault<MixHasher>>,
    per_target: usize,
    len: usize,
}

// === impl Pool ===

impl Pool {
    /// An empty pool keeping at most `per_target` idle connections per target.
    pub(super) fn new(per_target: usize) -> Pool {
        Pool {
            idle: HashMap::default(),
            per_target: per_target.max(1),
            len: 0,
        }
    }

    /// Idle connections in the pool.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The most recently pooled connection to `target`.
    pub(super) fn take(&mut self, target: Target) -> Option<Key> {
        let k = self.idle.get_mut(&target)?.pop_back()?;
        self.len -= 1;
        Some(k)
    }

    /// Pools `key`; returns the connection evicted to make room, if any.
    pub(super) fn put(&mut self, target: Target, key: Key) -> Option<Key> {
        let q = self.idle.entry(target).or_default();
        q.push_back(key);
        self.len += 1;
        if q.len() > self.per_target {
            self.len -= 1;
            return q.pop_front();
        }
        None
    }

    /// Forgets `key` (it closed or timed out); `true` if it was pooled.
    pub(super) fn remove(&mut self, target: Target, key: Key) -> bool {
        let Some(q) = self.idle.get_mut(&target) else {
            return false;
        };
        let Some(i) = q.iter().position(|&k| k == key) else {
            return false;
        };
        q.remove(i);
        self.len -= 1;
        if q.is_empty() {
            self.idle.remove(&target);
        }
        true
    }
}
