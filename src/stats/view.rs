//! Everything one admin answer is rendered from: the summed board, the
//! latest node snapshot, the process figures and a few static facts.

use std::net::SocketAddr;

use super::board::Totals;
use super::process::ProcessStats;
use crate::registry::{Node, NodeSet, NodeSource, NodeState};

/// Release name reported as `releaseName`.
pub const RELEASE_NAME: &str = "sip-balancer";

/// Release version reported as `releaseVersion`.
pub const RELEASE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The inputs of `/lbstat`, `/lbinfo` and `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// Sum of the shards' published counters.
    pub totals: &'a Totals,
    /// The registry's latest snapshot.
    pub nodes: &'a NodeSet,
    /// CPU and memory.
    pub process: ProcessStats,
    /// Facts from the configuration.
    pub facts: &'a Facts,
}

/// What changes only by a reload, if at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// SIP UDP listening addresses (each counts as one "connection", as in
    /// the original's `NumberOfActiveSipConnections`).
    pub udp_listeners: u64,
    /// Configured SMPP servers (`/lbinfo` `smppRemoteServers`): set at
    /// start, replaced when a reload changes `smpp.remoteServers`.
    pub smpp_servers: Vec<SocketAddr>,
}

/// Node counts by state (balanced nodes only: `extraServerNodes` are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeCounts {
    /// Taking new calls.
    pub up: u64,
    /// Alive, keeping dialogs, taking no new calls.
    pub draining: u64,
    /// Expired, stopped or failing probes (still remembered).
    pub down: u64,
    /// Alive but excluded by a health check.
    pub bad: u64,
}

// === impl View ===

impl View<'_> {
    /// Node counts.
    pub fn node_counts(&self) -> NodeCounts {
        let mut c = NodeCounts::default();
        for n in balanced(self.nodes) {
            match n.state {
                NodeState::Up => c.up += 1,
                NodeState::Draining => c.draining += 1,
                NodeState::Down => c.down += 1,
            }
            if n.bad && n.is_alive() {
                c.bad += 1;
            }
        }
        c
    }

    /// `activeNodes`: alive balanced nodes (the original's node maps hold
    /// alive nodes, draining ones included).
    pub fn active_nodes(&self) -> u64 {
        let c = self.node_counts();
        c.up + c.draining
    }

    /// `NumberOfActiveSipConnections`: open stream connections plus one per
    /// UDP listening address.
    pub fn sip_connections(&self) -> u64 {
        self.totals.connections + self.facts.udp_listeners
    }
}

/// The nodes the balancer balances to (not `extraServerNodes`).
pub fn balanced(nodes: &NodeSet) -> impl Iterator<Item = &Node> {
    nodes
        .nodes()
        .iter()
        .filter(|n| n.source != NodeSource::Extra)
}
