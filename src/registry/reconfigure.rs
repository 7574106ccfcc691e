//! A reloaded static node list (SIGHUP) applied to the registry: added
//! nodes join as at start, kept ones take their new attributes in place,
//! removed ones drain and go down `node_timeout` later. Nothing here is on
//! the forwarding path: the control shard applies the event between turns.

use std::time::Instant;

use super::super::node::{Node, NodeSource, NodeState};
use super::super::probe::ProbeState;
use super::{came_up, configure, Registry};
use crate::config::StaticNode;

// === impl Registry: reload ===

impl Registry {
    /// Replace the static node list by `nodes` (a reloaded configuration's);
    /// `true` when the snapshot changed (the generation is then bumped).
    pub fn set_static_nodes(&mut self, nodes: &[StaticNode], now: Instant) -> bool {
        let changed = self.apply_static_nodes(nodes, now);
        self.bump_if(changed)
    }

    /// [`Registry::set_static_nodes`] without the generation bump.
    pub(super) fn apply_static_nodes(&mut self, nodes: &[StaticNode], now: Instant) -> bool {
        let mut changed = false;
        for i in 0..self.entries.len() {
            let listed = self.entries.get(i).is_some_and(|e| {
                e.node.source != NodeSource::Static
                    || e.retire_at.is_some()
                    || nodes.iter().any(|s| same_identity(s, &e.node))
            });
            if !listed {
                changed |= self.retire(i, now);
            }
        }
        for s in nodes {
            let found = self
                .entries
                .iter()
                .position(|e| e.node.source != NodeSource::Extra && same_identity(s, &e.node));
            match found {
                Some(i) => changed |= self.reconfigure(i, s, now),
                None => {
                    log::info!("node added by the configuration: {} {}", s.hostname, s.ip);
                    self.add_static(s, now);
                    changed = true;
                }
            }
        }
        changed
    }

    /// Entry `i` left the configuration: it drains (no new calls, dialogs
    /// kept, no probes) until `node_timeout` from now, then goes down.
    fn retire(&mut self, i: usize, now: Instant) -> bool {
        let timeout = self.node_timeout;
        let Some(e) = self.entries.get_mut(i) else {
            return false;
        };
        e.probe = None;
        e.retire_at = Some(now + timeout);
        if !e.node.is_alive() {
            log::info!("node removed by the configuration: {}", e.node);
            return false;
        }
        e.node.state = NodeState::Draining;
        log::info!(
            "node removed by the configuration, draining for {timeout:?}: {}",
            e.node
        );
        true
    }

    /// Entry `i` has the identity of configured node `s`: it takes `s`'s
    /// attributes in place; a retired entry is back, a heartbeat node with
    /// this identity becomes a configured one.
    fn reconfigure(&mut self, i: usize, s: &StaticNode, now: Instant) -> bool {
        let Some(e) = self.entries.get_mut(i) else {
            return false;
        };
        let before = e.node.clone();
        let returning = e.retire_at.take().is_some() || e.node.source == NodeSource::Heartbeat;
        let udp_added = s.ports.udp.is_some() && e.probe.is_none();
        if returning || udp_added {
            e.probe = s.ports.udp.map(|_| ProbeState::new(now));
            e.session_id = None;
            log::info!("node (back) in the configuration: {} {}", s.hostname, s.ip);
        }
        if s.ports.udp.is_none() {
            e.probe = None;
        }
        e.node.source = NodeSource::Static;
        configure(&mut e.node, s);
        // Taken out of draining by the reload itself; a down node waits for
        // its probe, a node without UDP port is up for good.
        let up = (returning && e.node.state == NodeState::Draining) || e.probe.is_none();
        if up && e.node.state != NodeState::Up {
            let was_down = e.node.state == NodeState::Down;
            e.node.state = NodeState::Up;
            if was_down {
                came_up(e, &self.health, &mut self.up_seq, now);
            }
        }
        self.note_version(i);
        self.entries.get(i).is_some_and(|e| e.node != before)
    }
}

/// Whether `n` is the node configured as `s` (see
/// [`StaticNode::identity`]).
fn same_identity(s: &StaticNode, n: &Node) -> bool {
    let port = |key: &str| {
        n.properties
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse().ok())
    };
    let identity = match n.ports.first() {
        Some(p) => (n.ip, Some(p), None, None),
        None => (n.ip, None, port("httpPort"), port("sslPort")),
    };
    identity == s.identity()
}

#[cfg(test)]
#[path = "reconfigure_tests.rs"]
mod tests;
