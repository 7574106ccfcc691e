//! Balancing policy: which node takes a new call, and which node replaces a
//! dead one. Pure code over [`crate::registry::NodeSet`] snapshots; no I/O,
//! no clock (time is an argument).
//!
//! # Layout
//! - [`algorithm`]: the [`algorithm::Algorithm`] trait every policy
//!   implements (and how to write a custom one).
//! - [`algorithms`]: the built-in algorithms, one per file.
//! - [`catalog`]: algorithm names → constructors, custom registration.
//! - [`rendezvous`]: the rendezvous ranking and its candidate iterator
//!   (failover = next candidate; slow-start admission).
//! - [`key`]: the affinity key of a request (`sipHeaderAffinityKey`, …).
//! - [`hash`]: fixed seedless hashes for routing keys and node identities.
//! - [`call_id_table`]: the bounded, idle-evicted key → node affinity table
//!   that lives on each key's home shard.
//! - [`health_tally`]: per-shard counts of responses and errors per node,
//!   reported to the registry's health checks.

pub mod algorithm;
pub mod algorithms;
pub mod call_id_table;
pub mod catalog;
pub mod hash;
pub mod health_tally;
pub mod key;
pub mod rendezvous;

#[cfg(test)]
mod acceptance_tests;
