//! The flow shared by the table-backed algorithms (Call-ID affinity,
//! cluster subdomain, user based): look the key up in this shard's
//! [`CallIdTable`], keep an alive mapped node, fail a dead one over, map a
//! new key to its first candidate.

use std::time::Instant;

use super::super::algorithm::{Request, Setup};
use super::super::call_id_table::CallIdTable;
use super::super::rendezvous::Candidates;
use crate::registry::{Node, NodeSet};

/// What the table says about a key.
pub(crate) enum Lookup<'n> {
    /// Mapped to this node (alive or not).
    Mapped(&'n Node),
    /// Not mapped (or mapped to a node the snapshot does not know).
    Unknown,
}

/// This shard's share of the affinity table (`callIdAffinityMaxEntries`
/// split over the shards, `callIdAffinityMaxTimeInCache` idle eviction).
pub(crate) fn table(setup: &Setup<'_>) -> CallIdTable {
    let cfg = setup.config;
    let per_shard = (cfg.call_id_affinity_max_entries / setup.shards.max(1)).max(1);
    CallIdTable::new(per_shard, cfg.call_id_affinity_max_time_in_cache, setup.now)
}

/// The mapped node of `key`, refreshing the entry; a `switchover` away
/// from the mapped node is followed (and recorded) when its target is alive.
pub(crate) fn lookup<'n>(
    table: &mut CallIdTable,
    key: u64,
    nodes: &'n NodeSet,
    now: Instant,
) -> Lookup<'n> {
    let Some(n) = table.get(key, now).and_then(|id| nodes.get(id)) else {
        return Lookup::Unknown;
    };
    match redirected(n, nodes) {
        Some(to) => {
            table.insert(key, to.id, now);
            Lookup::Mapped(to)
        }
        None => Lookup::Mapped(n),
    }
}

/// Record `node` for `key` and return it.
pub(crate) fn remember<'n>(
    table: &mut CallIdTable,
    key: u64,
    node: Option<&'n Node>,
    now: Instant,
) -> Option<&'n Node> {
    let n = node?;
    table.insert(key, n.id, now);
    Some(n)
}

/// Where `switchover` sent the dialogs of `node`, if that node is alive.
pub(crate) fn redirected<'n>(node: &Node, nodes: &'n NodeSet) -> Option<&'n Node> {
    nodes.redirect(node.id).filter(|n| n.is_alive())
}

/// Group failover: the one survivor that takes every dialog of `dead` —
/// the first rendezvous candidate for the dead node's own identity, so
/// every shard and every balancer instance picks the same one.
pub(crate) fn group_target<'n>(dead: &Node, nodes: &'n NodeSet, version: u32) -> Option<&'n Node> {
    Candidates::rendezvous(nodes, version, dead.hash).next()
}

/// The request as the dialog of `dead` sees it: its version is the dead node's.
pub(crate) fn dialog_of(req: &Request, dead: &Node) -> Request {
    Request {
        version: dead.version,
        ..*req
    }
}
