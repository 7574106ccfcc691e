//! `CallIdAffinity` (default; `CallIDAffinityBalancerAlgorithm`): the first
//! request of a Call-ID picks a node by rendezvous hash of the Call-ID over
//! the nodes of the new-call version, and a table on the Call-ID's home
//! shard remembers it; every later request of the Call-ID goes to that node
//! while it is alive (draining and excluded nodes keep their dialogs).
//!
//! Failover (the mapped node is dead): the next rendezvous candidate of the
//! Call-ID among the dialog's version, so the dead node's calls spread over
//! all survivors; with `callIdAffinityGroupFailover` every call of the dead
//! node goes to one survivor instead (the original's grouped failover),
//! chosen by hashing the dead node's identity so that shards and balancer
//! instances agree without counting calls. The response path computes the
//! same target without the table.

use std::time::Instant;

use super::super::algorithm::{Algorithm, Request, Setup};
use super::super::call_id_table::CallIdTable;
use super::super::rendezvous::Candidates;
use super::sticky::{self, Lookup};
use crate::registry::{Node, NodeSet};

/// Call-ID affinity. See the module documentation.
#[derive(Debug)]
pub struct CallIdAffinity {
    table: CallIdTable,
    group_failover: bool,
}

// === impl CallIdAffinity ===

impl CallIdAffinity {
    /// One shard's instance.
    pub fn new(setup: &Setup<'_>) -> CallIdAffinity {
        CallIdAffinity {
            table: sticky::table(setup),
            group_failover: setup.config.call_id_affinity_group_failover,
        }
    }
}

impl Algorithm for CallIdAffinity {
    fn name(&self) -> &'static str {
        "CallIdAffinity"
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
        if self.group_failover {
            return sticky::group_target(dead, nodes, req.version);
        }
        self.candidates(req, nodes).next()
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
