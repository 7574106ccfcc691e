//! `ClusterSubdomainAffinity` (`ClusterSubdomainAffinityAlgorithm`): Call-ID
//! affinity whose failover prefers a partner of the dead node.
//!
//! `subclusterMap` lists groups of node addresses (guide syntax
//! `( 192.168.1.1, 192.168.1.2 ) ( 10.10.10.10, 20.20.20.20 )`). When the
//! node a Call-ID is mapped to dies, the call moves to the best rendezvous
//! candidate (for the Call-ID) among the nodes whose address is in the dead
//! node's group — other ports of the same host included —, so the dead
//! node's calls spread over its partners; with `callIdAffinityGroupFailover`
//! they all go to one partner (hash of the dead node's identity, as in
//! [`super::CallIdAffinity`]). No partner alive, or the node in no group:
//! plain Call-ID failover over every node of the version. Listed nodes need
//! not be alive, unlisted nodes still take calls.

use std::net::IpAddr;
use std::time::Instant;

use super::super::algorithm::{Algorithm, Request, Setup};
use super::super::call_id_table::CallIdTable;
use super::super::rendezvous::Candidates;
use super::sticky::{self, Lookup};
use crate::registry::{Node, NodeSet};

/// Call-ID affinity with partner groups. See the module documentation.
#[derive(Debug)]
pub struct ClusterSubdomainAffinity {
    table: CallIdTable,
    group_failover: bool,
    groups: Vec<Vec<IpAddr>>,
}

// === impl ClusterSubdomainAffinity ===

impl ClusterSubdomainAffinity {
    /// One shard's instance.
    pub fn new(setup: &Setup<'_>) -> ClusterSubdomainAffinity {
        ClusterSubdomainAffinity {
            table: sticky::table(setup),
            group_failover: setup.config.call_id_affinity_group_failover,
            groups: setup.config.subcluster_map.clone(),
        }
    }

    /// The group `ip` belongs to (the first one listing it).
    fn group_of(&self, ip: IpAddr) -> Option<&[IpAddr]> {
        self.groups
            .iter()
            .find(|g| g.contains(&ip))
            .map(Vec::as_slice)
    }
}

impl Algorithm for ClusterSubdomainAffinity {
    fn name(&self) -> &'static str {
        "ClusterSubdomainAffinity"
    }

    fn candidates<'n>(&self, req: &Request, nodes: &'n NodeSet) -> Candidates<'n> {
        Candidates::rendezvous(nodes, req.version, req.call_id)
    }

    fn choose<'n>(&mut self, req: &Request, nodes: &'n NodeSet, now: Instant) -> Option<&'n Node> {
        let chosen = match sticky::lookup(&mut self.table, req.call_id, nodes, now) {
            Lookup::Mapped(n) if n.is_alive() => return Some(n),
            Lookup::Mapped(dead) => self.failover(&sticky::dialog_of(req, dead), dead, nodes),
            Lookup::Unknown => self.candidates(req, nodes).next(),
        };
        sticky::remember(&mut self.table, req.call_id, chosen, now)
    }

    fn failover<'n>(&self, req: &Request, dead: &Node, nodes: &'n NodeSet) -> Option<&'n Node> {
        if let Some(n) = sticky::redirected(dead, nodes) {
            return Some(n);
        }
        let key = if self.group_failover {
            dead.hash
        } else {
            req.call_id
        };
        let partner = self.group_of(dead.ip).and_then(|group| {
            Candidates::rendezvous(nodes, req.version, key).find(|n| group.contains(&n.ip))
        });
        partner.or_else(|| Candidates::rendezvous(nodes, req.version, key).next())
    }

    fn assign(&mut self, req: &Request, node: &Node, now: Instant) {
        sticky::remember(&mut self.table, req.call_id, Some(node), now);
    }

    fn stateful(&self) -> bool {
        true
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.table.handle_timeout(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.table.poll_timeout())
    }

    fn affinity_table(&mut self) -> Option<&mut CallIdTable> {
        Some(&mut self.table)
    }

    fn len(&self) -> usize {
        self.table.len()
    }
}
