//! Which node takes an HTTP request, and on which of its ports.
//!
//! The order (original §5.2, §4.4, §4.8, taken per request here instead of
//! per connection):
//! 1. the node announcing the request's Restcomm instance id
//!    (`Restcomm-Instance-Id` property);
//! 2. the node whose `jvmRoute` ends the request's session id;
//! 3. with a consistent-hash algorithm and an `httpAffinityKey` parameter:
//!    the rendezvous hash of its value over the nodes of the newest
//!    version (every shard and every balancer instance agrees);
//! 4. with `ActiveStandby`: the longest-up node;
//! 5. round robin over the nodes of the newest version.
//!
//! Every step considers only nodes that take new work (up, not draining,
//! not excluded by the registry's health checks), are not in this shard's
//! HTTP bad set (`requestCheckPattern`), and have the port the request
//! needs (`httpPort`, `sslPort`, `wsPort`, `wssPort`); a node without it is
//! skipped. The per-snapshot part (ports and instance ids parsed from the
//! node properties) is built once per [`NodeSet`], not per request.

use std::net::SocketAddr;

use super::settings::HttpAlgorithm;
use crate::balancer::hash::key_hash;
use crate::balancer::rendezvous::{Candidates, Order};
use crate::registry::{Node, NodeId, NodeSet};

/// The port of a node a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PortKind {
    /// `httpPort` property, plain.
    Http,
    /// `sslPort` property, TLS.
    Ssl,
    /// `wsPort`, plain (WebSocket with `Sec-WebSocket-Protocol: sip`).
    Ws,
    /// `wssPort`, TLS.
    Wss,
}

/// What in the request names a node.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Hints<'a> {
    /// Restcomm instance id of a CallSid path.
    pub(super) instance_id: Option<&'a [u8]>,
    /// `jvmRoute` of the session id.
    pub(super) jvm_route: Option<&'a [u8]>,
    /// `httpAffinityKey` parameter value.
    pub(super) affinity: Option<&'a [u8]>,
}

/// A chosen node and the address to connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Chosen {
    /// The node.
    pub(super) node: NodeId,
    /// Its address for the port wanted.
    pub(super) addr: SocketAddr,
}

/// HTTP facts of one node, parsed from its properties once per snapshot.
#[derive(Debug, Clone, Default)]
struct HttpNode {
    http: Option<u16>,
    ssl: Option<u16>,
    instance_id: Option<Box<[u8]>>,
}

/// The node choice of one shard: the snapshot's HTTP table, the round-robin
/// position and the HTTP bad set.
#[derive(Debug)]
pub(super) struct Router {
    algorithm: HttpAlgorithm,
    /// By index in [`NodeSet::nodes`].
    table: Vec<HttpNode>,
    rr: usize,
    /// Nodes marked bad by `requestCheckPattern`, with the `up_since` they
    /// had: a node that restarts (comes up again) is forgiven.
    bad: Vec<(NodeId, u64)>,
}

// === impl PortKind ===

impl PortKind {
    /// Whether the connection to the node is TLS.
    pub(super) fn tls(self) -> bool {
        matches!(self, PortKind::Ssl | PortKind::Wss)
    }
}

// === impl Router ===

impl Router {
    /// A router with no node yet.
    pub(super) fn new(algorithm: HttpAlgorithm) -> Router {
        Router {
            algorithm,
            table: Vec::new(),
            rr: 0,
            bad: Vec::new(),
        }
    }

    /// Place unnamed requests by `algorithm` from now on.
    pub(super) fn set_algorithm(&mut self, algorithm: HttpAlgorithm) {
        self.algorithm = algorithm;
    }

    /// Rebuilds the per-node table for a new snapshot and forgets bad
    /// marks of nodes that went away or restarted.
    pub(super) fn set_nodes(&mut self, nodes: &NodeSet) {
        self.table.clear();
        self.table.extend(nodes.nodes().iter().map(|n| HttpNode {
            http: prop_port(n, "httpPort"),
            ssl: prop_port(n, "sslPort"),
            instance_id: prop(n, "Restcomm-Instance-Id").map(|v| v.as_bytes().into()),
        }));
        self.bad.retain(|&(id, since)| {
            nodes
                .get(id)
                .is_some_and(|n| n.is_alive() && n.up_since == since)
        });
    }

    /// Nodes currently in the HTTP bad set.
    pub(super) fn bad_count(&self) -> usize {
        self.bad.len()
    }

    /// Puts `id` in the HTTP bad set; `true` if it was not there.
    pub(super) fn mark_bad(&mut self, nodes: &NodeSet, id: NodeId) -> bool {
        let Some(n) = nodes.get(id) else {
            return false;
        };
        if self.bad.iter().any(|&(b, _)| b == id) {
            return false;
        }
        log::warn!("http: node {n} answered a checked request with an error: marked bad");
        self.bad.push((id, n.up_since));
        true
    }

    /// The node for a request (see the module documentation), other than
    /// `exclude` (a node that just failed it).
    pub(super) fn choose(
        &mut self,
        nodes: &NodeSet,
        hints: &Hints<'_>,
        want: PortKind,
        exclude: Option<NodeId>,
    ) -> Option<Chosen> {
        let all = nodes.nodes();
        if let Some(id) = hints.instance_id {
            let hit = all.iter().enumerate().find_map(|(i, n)| {
                let h = self.table.get(i)?;
                (h.instance_id.as_deref()? == id)
                    .then(|| self.usable(i, n, want, exclude))
                    .flatten()
            });
            if hit.is_some() {
                return hit;
            }
        }
        if let Some(route) = hints.jvm_route {
            let hit = all.iter().enumerate().find_map(|(i, n)| {
                (n.jvm_route.as_deref()?.as_bytes() == route)
                    .then(|| self.usable(i, n, want, exclude))
                    .flatten()
            });
            if hit.is_some() {
                return hit;
            }
        }
        let version = nodes.new_call_version();
        match (self.algorithm, hints.affinity) {
            (HttpAlgorithm::AffinityHash, Some(key)) => self.first_of(
                nodes,
                Candidates::rendezvous(nodes, version, key_hash(key)),
                want,
                exclude,
            ),
            (HttpAlgorithm::ActiveStandby, _) => self.first_of(
                nodes,
                Candidates::new(nodes, version, Order::LongestUp),
                want,
                exclude,
            ),
            _ => self.round_robin(nodes, version, want, exclude),
        }
    }

    fn first_of(
        &self,
        nodes: &NodeSet,
        mut candidates: Candidates<'_>,
        want: PortKind,
        exclude: Option<NodeId>,
    ) -> Option<Chosen> {
        candidates.find_map(|n| {
            let i = nodes.nodes().binary_search_by_key(&n.id, |m| m.id).ok()?;
            self.usable(i, n, want, exclude)
        })
    }

    fn round_robin(
        &mut self,
        nodes: &NodeSet,
        version: u32,
        want: PortKind,
        exclude: Option<NodeId>,
    ) -> Option<Chosen> {
        let pool = nodes.eligible(version);
        let len = pool.len();
        for step in 0..len {
            let at = (self.rr + step) % len;
            let Some(e) = pool.get(at) else { continue };
            let Some(n) = nodes.node_at(e) else { continue };
            if let Some(c) = self.usable(e.index as usize, n, want, exclude) {
                self.rr = at + 1;
                return Some(c);
            }
        }
        None
    }

    /// The node's address for `want` if it may take this request.
    fn usable(
        &self,
        i: usize,
        n: &Node,
        want: PortKind,
        exclude: Option<NodeId>,
    ) -> Option<Chosen> {
        if !n.takes_new_calls() || Some(n.id) == exclude || self.is_bad(n) {
            return None;
        }
        let h = self.table.get(i)?;
        let port = match want {
            PortKind::Http => h.http,
            PortKind::Ssl => h.ssl,
            PortKind::Ws => n.ports.ws,
            PortKind::Wss => n.ports.wss,
        }?;
        Some(Chosen {
            node: n.id,
            addr: SocketAddr::new(n.ip, port),
        })
    }

    fn is_bad(&self, n: &Node) -> bool {
        self.bad
            .iter()
            .any(|&(id, since)| id == n.id && since == n.up_since)
    }
}

fn prop<'a>(n: &'a Node, name: &str) -> Option<&'a str> {
    n.properties
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn prop_port(n: &Node, name: &str) -> Option<u16> {
    prop(n, name)?.trim().parse().ok().filter(|&p| p != 0)
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
