//! `HeaderConsistentHash` (`HeaderConsistentHashBalancerAlgorithm`) and
//! `PureConsistentHash` (`PureConsistentHashBalancerAlgorithm`): a stateless
//! consistent hash of the configured affinity key (`sipHeaderAffinityKey`:
//! `Call-ID`, `From`/`To` user, or any header; exclusion pattern and
//! fallback key applied, see [`crate::balancer::key`]).
//!
//! # Which hash: rendezvous, not Maglev
//! The node for a key is its first rendezvous (highest-random-weight)
//! candidate among the nodes of the version that take new calls
//! ([`crate::balancer::rendezvous`]). Chosen over Maglev because:
//! - disruption is exactly minimal: removing a node moves only its keys,
//!   adding one moves only the keys it wins (Maglev moves a few percent
//!   more, and needs a 65 537-slot table rebuilt on every node-set change);
//! - the failover order *is* the ranking: a dead node's keys go to each
//!   key's second choice, i.e. spread evenly over every survivor (the
//!   complaint about Kamailio's hash dumping a dead node's share on one
//!   neighbour does not apply), and a node that comes back regains exactly
//!   its keys;
//! - slow start is a monotone per-key admission on top of the ranking
//!   (keys only ever move onto a ramping node);
//! - it is a pure function of (key, node identities): no table, no build
//!   step, every shard and every balancer instance with the same node set
//!   agrees. The cost is O(nodes) per choice, a mix of two
//!   multiplications per node: measured (benches/algorithms.rs, a loaded
//!   2-core VM) ~60 ns for 8 nodes and ~210 ns for 32 — for the tens of
//!   nodes a SIP cluster has, less than the rest of forwarding one message.
//!
//! # Stateless: the hash decides
//! There is no table and no hop to a home shard. The node hint of our
//! Record-Route is *not* followed: every request that is not explicitly
//! addressed to an alive node (first Route / Request-URI) is routed by the
//! hash, as the guide describes the original (node-set changes may move
//! the keys whose winner changed, mid-dialog included). For dialogs that
//! must stay where they started whatever the node set does, use
//! [`super::PersistentConsistentHash`].
//!
//! A draining or excluded node gets no key (the original answered `500`
//! when the hashed node was draining; here its keys go to their next
//! candidate). `PureConsistentHash` is the same algorithm under the
//! original's other name: its ring with a no-wrap quirk is not reproduced.

use super::super::algorithm::{Algorithm, Request};
use super::super::rendezvous::Candidates;
use crate::registry::NodeSet;

/// Stateless rendezvous hash of the affinity key.
#[derive(Debug, Clone, Copy, Default)]
pub struct HeaderConsistentHash {
    pure: bool,
}

// === impl HeaderConsistentHash ===

impl HeaderConsistentHash {
    /// `HeaderConsistentHash`.
    pub fn new() -> HeaderConsistentHash {
        HeaderConsistentHash { pure: false }
    }

    /// The same algorithm named `PureConsistentHash`.
    pub fn pure() -> HeaderConsistentHash {
        HeaderConsistentHash { pure: true }
    }
}

impl Algorithm for HeaderConsistentHash {
    fn name(&self) -> &'static str {
        if self.pure {
            "PureConsistentHash"
        } else {
            "HeaderConsistentHash"
        }
    }

    fn candidates<'n>(&self, req: &Request, nodes: &'n NodeSet) -> Candidates<'n> {
        Candidates::rendezvous(nodes, req.version, req.key)
    }

    fn keyed_by_header(&self) -> bool {
        true
    }

    fn follows_hints(&self) -> bool {
        false
    }
}
