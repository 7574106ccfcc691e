//! Balancing policy: which node takes a new call, and which node replaces a
//! dead one. Pure code over [`crate::registry::NodeSet`] snapshots; no I/O,
//! no clock (time is an argument).
//!
//! # Layout
//! - [`hash`]: fixed seedless hashes for routing keys and node identities.
//! - [`rendezvous`]: highest-random-weight choice of a node for a key.
//! - [`call_id_table`]: the bounded, idle-evicted Call-ID → node affinity table
//!   that lives on each Call-ID's home shard.

pub mod call_id_table;
pub mod hash;
pub mod rendezvous;
