//! `ActiveStandby` (`ActiveStandbyAlgorithm`): every new call goes to one
//! active node; the others stand by.
//!
//! The active node is the node of the new-call version that has been up
//! the longest ([`crate::registry::Node::up_since`]) among those taking new
//! calls. It stays active until it dies, drains or is excluded; the next
//! longest-up node takes over, and a node coming back is the newest, so
//! traffic does not flap back to it. A pure function of the snapshot: every
//! shard agrees without state, and so do balancer instances that saw the
//! nodes come up in the same order. Dialogs keep following their Route
//! hints (a dialog on the former active node stays there while it is alive);
//! a dead node's dialogs go to the active node.

use super::super::algorithm::{Algorithm, Request};
use super::super::rendezvous::{Candidates, Order};
use crate::registry::NodeSet;

/// One active node, the others on standby.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActiveStandby;

impl Algorithm for ActiveStandby {
    fn name(&self) -> &'static str {
        "ActiveStandby"
    }

    fn candidates<'n>(&self, req: &Request, nodes: &'n NodeSet) -> Candidates<'n> {
        Candidates::new(nodes, req.version, Order::LongestUp)
    }
}
