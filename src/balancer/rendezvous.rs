//! Rendezvous (highest-random-weight) hashing: the node for a key is the one
//! with the highest `mix64(key_hash ^ node.hash)`. A pure function of
//! (key, candidate set): removing a node only moves that node's keys, and every
//! shard and balancer instance picks the same node.

use super::hash::mix64;
use crate::registry::node::Node;

/// The candidate with the highest score for `key_hash`, or `None` if empty.
pub fn pick<'a, I>(key_hash: u64, candidates: I) -> Option<&'a Node>
where
    I: IntoIterator<Item = &'a Node>,
{
    candidates
        .into_iter()
        .max_by_key(|n| (mix64(key_hash ^ n.hash), n.id))
}
