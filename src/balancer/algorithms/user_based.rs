//! `UserBased` (`UserBasedAlgorithm`, "DID based"): affinity by the
//! configured key — typically `To` or `From`, whose URI user part is the
//! key — so that every call for one user or number (a conference, a DID)
//! lands on one node.
//!
//! The table lives on the home shard of the key (`key % shards`, which
//! need not be the Call-ID's). A key maps to its node while that node takes
//! new calls of the new-call version; a mapped node that drains, is
//! excluded or runs an older version gets no new calls for the key: the key
//! is mapped again to its first rendezvous candidate (the dialogs already
//! there keep following their Route hints). A dead mapped node fails over
//! like [`super::CallIdAffinity`] (grouped with
//! `callIdAffinityGroupFailover`), keyed by the user key on both the
//! request and the response path.

use std::time::Instant;

use super::super::algorithm::{Algorithm, Request, Setup};
use super::super::call_id_table::CallIdTable;
use super::super::rendezvous::Candidates;
use super::sticky::{self, Lookup};
use crate::registry::{Node, NodeSet};

/// Affinity by user key. See the module documentation.
#[derive(Debug)]
pub struct UserBased {
    table: CallIdTable,
    group_failover: bool,
}

// === impl UserBased ===

impl UserBased {
    /// One shard's instance.
    pub fn new(setup: &Setup<'_>) -> UserBased {
        UserBased {
            table: sticky::table(setup),
            group_failover: setup.config.call_id_affinity_group_failover,
        }
    }
}

impl Algorithm for UserBased {
    fn name(&self) -> &'static str {
        "UserBased"
    }

    fn candidates<'n>(&self, req: &Request, nodes: &'n NodeSet) -> Candidates<'n> {
        Candidates::rendezvous(nodes, req.version, req.key)
    }

    fn choose<'n>(&mut self, req: &Request, nodes: &'n NodeSet, now: Instant) -> Option<&'n Node> {
        let chosen = match sticky::lookup(&mut self.table, req.key, nodes, now) {
            Lookup::Mapped(n) if n.takes_new_calls() && n.version == req.version => return Some(n),
            Lookup::Mapped(n) if n.is_alive() => self.candidates(req, nodes).next(),
            Lookup::Mapped(dead) => self.failover(req, dead, nodes),
            Lookup::Unknown => self.candidates(req, nodes).next(),
        };
        sticky::remember(&mut self.table, req.key, chosen, now)
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

    fn keyed_by_header(&self) -> bool {
        true
    }

    fn assign(&mut self, req: &Request, node: &Node, now: Instant) {
        sticky::remember(&mut self.table, req.key, Some(node), now);
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
