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

use std::time::{Duration, Instant};

use crate::registry::node::NodeId;

/// Bounded, idle-evicted affinity table.
#[derive(Debug)]
pub struct CallIdTable {
    _priv: (),
}

impl CallIdTable {
    /// A table created at `now`.
    pub fn new(max_entries: usize, max_idle: Duration, now: Instant) -> CallIdTable {
        let _ = (max_entries, max_idle, now);
        todo!()
    }

    /// The node for `key`, refreshing its idle timer.
    pub fn get(&mut self, key: u64, now: Instant) -> Option<NodeId> {
        let _ = (key, now);
        todo!()
    }

    /// Map `key` to `node` (insert or replace), refreshing its idle timer.
    pub fn insert(&mut self, key: u64, node: NodeId, now: Instant) {
        let _ = (key, node, now);
        todo!()
    }

    /// Move every entry of `from` to `to` (group failover).
    pub fn remap(&mut self, from: NodeId, to: NodeId) {
        let _ = (from, to);
        todo!()
    }

    /// Evict what is due; call at least every `poll_timeout()`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }

    /// When `handle_timeout` should next run.
    pub fn poll_timeout(&self) -> Instant {
        todo!()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        todo!()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
