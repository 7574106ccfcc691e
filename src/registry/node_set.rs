//! The immutable, versioned snapshot of every node the registry knows.
//!
//! The registry task builds a new [`NodeSet`] whenever something changes and
//! publishes it to every shard; shards only read their copy. Down nodes stay
//! in the set so their addresses are still recognised (responses from a node
//! that just died, failover of its dialogs).
//!
//! Besides the nodes, a snapshot carries the compact list of nodes that take
//! new calls ([`Eligible`], grouped by version): what the hash algorithms of
//! [`crate::balancer`] scan for every new call, built once here for every
//! shard instead of once per message.

use std::net::IpAddr;

use super::node::{Node, NodeId, FULL_WEIGHT};

/// A snapshot of the node registry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeSet {
    /// Increases with every published change.
    pub generation: u64,
    /// Every node ever known, sorted by id.
    nodes: Vec<Node>,
    /// Highest `version` of any node ever added (new calls go to this version).
    latest_version: u32,
    /// Nodes taking new calls, sorted by (version, hash).
    eligible: Vec<Eligible>,
    /// Dialogs of the first node continue on the second (`switchover`).
    redirects: Vec<(NodeId, NodeId)>,
    /// Some eligible node ramps up (weight below full).
    ramping: bool,
    /// The balancer drains (`/lbstop`): no node takes new calls, dialogs
    /// and transactions under way go on.
    draining: bool,
}

/// A node that takes new calls, as the hash algorithms scan it: 24 bytes
/// instead of a whole [`Node`], so ten candidates fit in four cache lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eligible {
    /// [`Node::hash`].
    pub hash: u64,
    /// [`Node::up_since`].
    pub up_since: u64,
    /// Index of the node in [`NodeSet::nodes`].
    pub index: u32,
    /// [`Node::version`].
    pub version: u32,
    /// [`Node::weight`].
    pub weight: u8,
}

// === impl NodeSet ===

impl NodeSet {
    /// A set from nodes (sorted by id here).
    pub fn new(generation: u64, mut nodes: Vec<Node>, latest_version: u32) -> NodeSet {
        nodes.sort_by_key(|n| n.id);
        let mut eligible: Vec<Eligible> = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.takes_new_calls())
            .map(|(i, n)| Eligible {
                hash: n.hash,
                up_since: n.up_since,
                index: u32::try_from(i).unwrap_or(u32::MAX),
                version: n.version,
                weight: n.weight,
            })
            .collect();
        eligible.sort_by_key(|e| (e.version, e.hash, e.index));
        let ramping = eligible.iter().any(|e| e.weight < FULL_WEIGHT);
        NodeSet {
            generation,
            nodes,
            latest_version,
            eligible,
            redirects: Vec::new(),
            ramping,
            draining: false,
        }
    }

    /// The same set while the balancer drains: every node keeps its
    /// dialogs, none takes a new call (they get the "no node" answer).
    pub fn draining(mut self) -> NodeSet {
        self.eligible.clear();
        self.ramping = false;
        self.draining = true;
        self
    }

    /// Whether the balancer drains (see [`NodeSet::draining`]).
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// The same set where the dialogs of each `(from, to)` continue on `to`
    /// while `from` is not alive (`switchover`).
    pub fn with_redirects(mut self, redirects: Vec<(NodeId, NodeId)>) -> NodeSet {
        self.redirects = redirects;
        self
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

    /// Highest version of any balanced node ever up.
    pub fn latest_version(&self) -> u32 {
        self.latest_version
    }

    /// Version new calls go to: the highest version among the nodes taking
    /// new calls (rolling upgrade: start nodes with a higher version and new
    /// calls move to them, dialogs stay in theirs). When no node takes new
    /// calls, [`NodeSet::latest_version`].
    pub fn new_call_version(&self) -> u32 {
        self.eligible
            .last()
            .map_or(self.latest_version, |e| e.version)
    }

    /// Nodes that may take a new call of `version`.
    pub fn candidates(&self, version: u32) -> impl Iterator<Item = &Node> + Clone {
        self.nodes
            .iter()
            .filter(move |n| n.version == version && n.takes_new_calls())
    }

    /// The nodes of `version` that take new calls, compactly.
    pub fn eligible(&self, version: u32) -> &[Eligible] {
        let start = self.eligible.partition_point(|e| e.version < version);
        let end = self.eligible.partition_point(|e| e.version <= version);
        self.eligible.get(start..end).unwrap_or(&[])
    }

    /// Whether some node taking new calls ramps up (slow start).
    pub fn any_ramping(&self) -> bool {
        self.ramping
    }

    /// The node behind an [`Eligible`] entry.
    pub fn node_at(&self, e: &Eligible) -> Option<&Node> {
        self.nodes.get(e.index as usize)
    }

    /// Where the dialogs of `from` continue after a `switchover`, if anywhere.
    pub fn redirect(&self, from: NodeId) -> Option<&Node> {
        let (_, to) = self.redirects.iter().find(|(f, _)| *f == from)?;
        self.get(*to)
    }

    /// Number of alive nodes.
    pub fn alive_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_alive()).count()
    }
}
