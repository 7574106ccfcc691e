//! `PersistentConsistentHash` (`PersistentConsistentHashBalancerAlgorithm`):
//! affinity that survives nodes joining and leaving, balancer restarts and
//! several balancer instances, without a cluster cache.
//!
//! Upstream kept its node list in a replicated JBoss/Infinispan cache so
//! that every balancer hashed over the same list. Here the state travels
//! in the messages: the node a dialog started on is stamped in our
//! Record-Route (`node_host`, `node_port`, `version`) and comes back in the
//! Route of every in-dialog request, so a dialog stays on its node while
//! that node is alive — draining included — whatever joined or left
//! meanwhile, whichever balancer instance or shard receives the request,
//! and across a balancer restart. What carries no hint (a new call, an
//! out-of-dialog request, a CANCEL or the ACK of a failure) is routed by
//! the same rendezvous hash as [`super::HeaderConsistentHash`], which moves
//! only the keys it must: a joining node takes just the keys it now wins,
//! a dead node's keys spread over all survivors, a returning node regains
//! exactly its keys. A dialog whose node died continues on its key's next
//! candidate, the same on the request and the response path.
//!
//! Stateless: no table, no hop to a home shard.

use super::super::algorithm::{Algorithm, Request};
use super::super::rendezvous::Candidates;
use crate::registry::NodeSet;

/// Hint-following rendezvous hash of the affinity key.
#[derive(Debug, Clone, Copy, Default)]
pub struct PersistentConsistentHash;

impl Algorithm for PersistentConsistentHash {
    fn name(&self) -> &'static str {
        "PersistentConsistentHash"
    }

    fn candidates<'n>(&self, req: &Request, nodes: &'n NodeSet) -> Candidates<'n> {
        Candidates::rendezvous(nodes, req.version, req.key)
    }

    fn keyed_by_header(&self) -> bool {
        true
    }
}
