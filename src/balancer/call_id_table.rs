//! Call-ID → node affinity table (the default `CallIdAffinity` algorithm).
//!
//! One table per shard holds the Call-IDs whose home shard it is
//! (`hash(Call-ID) % shards`), so no table is ever shared between cores.
//! Keys are the 64-bit [`super::hash::key_hash`] of the Call-ID, not the
//! Call-ID text, which keeps an entry small (see the memory bench) and the
//! hot path free of allocation.
//!
//! Bounds (DESIGN invariant 6): an entry idle for `max_idle` is evicted;
//! the table never holds more than `max_entries`; a flood evicts, it does not
//! grow without limit.
//!
//! # Design: two generations
//!
//! Entries live in one of two maps, `current` and `previous`. A lookup
//! checks `current`, then `previous`; a hit in `previous` moves the entry to
//! `current` (promotion). Every `max_idle` the table *rotates*: `previous` is
//! emptied and swapped with `current`. An entry therefore survives at least
//! `max_idle` of idleness and at most `2 × max_idle` (plus the lateness of
//! the caller's timer). No entry stores a timestamp and eviction never walks
//! the entries: a rotation is one `clear()` of a map whose values need no
//! drop (a memset of its control bytes) and a swap, and the cleared map keeps
//! its capacity, so a warmed-up table never rehashes on the hot path.
//!
//! Size bound: a generation holds at most `max_entries / 2` entries; when
//! `current` reaches that, the table rotates early. The table thus never
//! holds more than `max_entries`, and under a flood it keeps the most recent
//! `max_entries / 2 ..= max_entries` Call-IDs (an approximate LRU).
//!
//! What this does not do: it does not know whether a node is alive (the
//! caller checks the [`crate::registry::NodeSet`]), and it never reads the
//! clock (`now` is an argument).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use crate::registry::node::NodeId;

/// Smallest capacity a generation starts with; it grows up to `max_entries / 2`.
const INITIAL_CAPACITY: usize = 1024;

/// Hasher for keys that already are well-mixed 64-bit hashes.
///
/// It does not hash again; it only rotates the key by 32 bits. The home
/// shard of a Call-ID is `key % shards`, so on one shard the low bits of
/// every key are correlated; hashbrown picks the bucket from the low bits,
/// so without the rotation a 2-shard balancer would use half the buckets of
/// each table. Deterministic (no `RandomState`): the keys come from a fixed
/// hash, and flooding one bucket would need preimages of that hash per shard.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdentityHasher(u64);

/// `BuildHasher` for [`IdentityHasher`].
pub type BuildIdentityHasher = BuildHasherDefault<IdentityHasher>;

type Generation = HashMap<u64, NodeId, BuildIdentityHasher>;

/// Bounded, idle-evicted affinity table.
#[derive(Debug)]
pub struct CallIdTable {
    /// Entries touched since the last rotation.
    current: Generation,
    /// Entries touched in the rotation period before; dropped at the next rotation.
    previous: Generation,
    /// Rotate early when `current` holds this many (half of `max_entries`).
    generation_cap: usize,
    /// Rotation period (the minimum idle lifetime of an entry).
    max_idle: Duration,
    /// When the next time-driven rotation is due.
    next_rotation: Instant,
}

// === impl IdentityHasher ===

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0.rotate_left(32)
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `u64` keys; fold anything else in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

// === impl CallIdTable ===

impl CallIdTable {
    /// A table created at `now`, holding at most `max_entries` (at least 2)
    /// and evicting entries idle for between `max_idle` and `2 × max_idle`.
    pub fn new(max_entries: usize, max_idle: Duration, now: Instant) -> CallIdTable {
        let generation_cap = (max_entries / 2).max(1);
        let capacity = generation_cap.min(INITIAL_CAPACITY);
        CallIdTable {
            current: Generation::with_capacity_and_hasher(capacity, BuildIdentityHasher::default()),
            previous: Generation::with_capacity_and_hasher(
                capacity,
                BuildIdentityHasher::default(),
            ),
            generation_cap,
            max_idle,
            next_rotation: now + max_idle,
        }
    }

    /// The node for `key`, refreshing its idle timer.
    pub fn get(&mut self, key: u64, now: Instant) -> Option<NodeId> {
        self.rotate_if_due(now);
        if let Some(&node) = self.current.get(&key) {
            return Some(node);
        }
        let node = self.previous.remove(&key)?;
        self.insert_current(key, node, now);
        Some(node)
    }

    /// Map `key` to `node` (insert or replace), refreshing its idle timer.
    pub fn insert(&mut self, key: u64, node: NodeId, now: Instant) {
        self.rotate_if_due(now);
        if let Some(slot) = self.current.get_mut(&key) {
            *slot = node;
            return;
        }
        self.previous.remove(&key);
        self.insert_current(key, node, now);
    }

    /// Forget `key`.
    pub fn remove(&mut self, key: u64) -> Option<NodeId> {
        self.current
            .remove(&key)
            .or_else(|| self.previous.remove(&key))
    }

    /// Move every entry of `from` to `to` (group failover). Walks every
    /// entry: O(n), meant for the rare node failure, not the per-message path.
    pub fn remap(&mut self, from: NodeId, to: NodeId) {
        let entries = self.current.values_mut().chain(self.previous.values_mut());
        for node in entries.filter(|n| **n == from) {
            *node = to;
        }
    }

    /// Evict what is due; call at least every `poll_timeout()`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.rotate_if_due(now);
    }

    /// When `handle_timeout` should next run.
    pub fn poll_timeout(&self) -> Instant {
        self.next_rotation
    }

    /// Entries held (a key is never in both generations).
    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// New bounds (a configuration reload): at most `max_entries` from the
    /// next insertion on, entries idle for `max_idle` evicted from the next
    /// rotation on (due at the latest `max_idle` from `now`).
    pub fn set_limits(&mut self, max_entries: usize, max_idle: Duration, now: Instant) {
        self.generation_cap = (max_entries / 2).max(1);
        self.max_idle = max_idle;
        self.next_rotation = self.next_rotation.min(now + max_idle);
    }

    /// Largest number of entries the table will hold.
    pub fn max_entries(&self) -> usize {
        self.generation_cap * 2
    }

    fn insert_current(&mut self, key: u64, node: NodeId, now: Instant) {
        if self.current.len() >= self.generation_cap {
            self.rotate(now);
        }
        self.current.insert(key, node);
    }

    fn rotate_if_due(&mut self, now: Instant) {
        if now < self.next_rotation {
            return;
        }
        let overdue = now.saturating_duration_since(self.next_rotation);
        self.rotate(now);
        if overdue >= self.max_idle {
            // The caller slept through a whole period: the demoted entries
            // have been idle for more than `max_idle` as well.
            self.previous.clear();
        }
    }

    /// Drop `previous`, demote `current`, and start a new period at `now`.
    /// `clear` keeps the allocation, so the new `current` never grows again.
    fn rotate(&mut self, now: Instant) {
        self.previous.clear();
        std::mem::swap(&mut self.current, &mut self.previous);
        self.next_rotation = now + self.max_idle;
    }
}

#[cfg(test)]
#[path = "call_id_table_tests.rs"]
mod tests;
