//! The immutable, versioned snapshot of every node the registry knows.
//!
//! The registry task builds a new [`NodeSet`] whenever something changes and
//! publishes it to every shard; shards only read their copy. Down nodes stay
//! in the set so their addresses are still recognised (responses from a node
//! that just died, failover of its dialogs).

use std::net::IpAddr;

use super::node::{Node, NodeId};

/// A snapshot of the node registry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeSet {
    /// Increases with every published change.
    pub generation: u64,
    /// Every node ever known, sorted by id.
    nodes: Vec<Node>,
    /// Highest `version` of any node ever added (new calls go to this version).
    latest_version: u32,
}

// === impl NodeSet ===

impl NodeSet {
    /// A set from nodes (sorted by id here).
    pub fn new(generation: u64, mut nodes: Vec<Node>, latest_version: u32) -> NodeSet {
        nodes.sort_by_key(|n| n.id);
        NodeSet {
            generation,
            nodes,
            latest_version,
        }
    }

    /// Every node, dead ones included, by id.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Node by id.
    pub fn get(&self, id: NodeId) -> Option<&Node> {
        self.nodes
            .binary_search_by_key(&id, |n| n.id)
            .ok()
            .and_then(|i| self.nodes.get(i))
    }

    /// The node (alive or not) owning `ip` and one of its ports equal to `port`.
    /// Alive nodes win over dead ones with the same address.
    pub fn find_by_addr(&self, ip: IpAddr, port: u16) -> Option<&Node> {
        let mut dead = None;
        for n in &self.nodes {
            if n.ip == ip && n.has_port(port) {
                if n.is_alive() {
                    return Some(n);
                }
                dead.get_or_insert(n);
            }
        }
        dead
    }

    /// The alive node at `ip:port`.
    pub fn alive_by_addr(&self, ip: IpAddr, port: u16) -> Option<&Node> {
        self.find_by_addr(ip, port).filter(|n| n.is_alive())
    }

    /// Whether the node is up or draining.
    pub fn is_alive(&self, id: NodeId) -> bool {
        self.get(id).is_some_and(Node::is_alive)
    }

    /// Version new calls go to.
    pub fn latest_version(&self) -> u32 {
        self.latest_version
    }

    /// Nodes that may take a new call of `version`.
    pub fn candidates(&self, version: u32) -> impl Iterator<Item = &Node> + Clone {
        self.nodes
            .iter()
            .filter(move |n| n.version == version && n.takes_new_calls())
    }

    /// Number of alive nodes.
    pub fn alive_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_alive()).count()
    }
}
