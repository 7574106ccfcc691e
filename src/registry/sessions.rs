//! The registry side of the JSON heartbeat protocol's session commands
//! (`heartbeat`, `shutdown`, `stop`, `switchover`; `start` is an
//! announcement, handled with the SIP heartbeats). Nodes are named by the
//! `sessionId` of their last `start` (or SIP heartbeat carrying one); an
//! unknown `sessionId` changes nothing (logged, as the original did).

use std::time::Instant;

use super::super::node::{NodeId, NodeSource, NodeState};
use super::Registry;

// === impl Registry: sessions ===

impl Registry {
    /// Index of the heartbeat node whose last `sessionId` is `sid`.
    fn by_session(&self, sid: &str) -> Option<usize> {
        let found = self.entries.iter().position(|e| {
            e.session_id.as_deref() == Some(sid) && e.node.source == NodeSource::Heartbeat
        });
        if found.is_none() {
            log::warn!("heartbeat command for unknown sessionId {sid:?} ignored");
        }
        found
    }

    /// `heartbeat`: the node is alive (a down node stays down until its
    /// next `start`).
    pub(super) fn session_heartbeat(&mut self, sid: &str, now: Instant) -> bool {
        if let Some(e) = self.by_session(sid).and_then(|i| self.entries.get_mut(i)) {
            if e.node.is_alive() {
                e.last_heard = now;
            }
        }
        false
    }

    /// `shutdown`: the node drains (keeps its dialogs, no new calls).
    pub(super) fn session_shutdown(&mut self, sid: &str) -> bool {
        let Some(e) = self.by_session(sid).and_then(|i| self.entries.get_mut(i)) else {
            return false;
        };
        if e.node.state != NodeState::Up {
            return false;
        }
        e.node.state = NodeState::Draining;
        log::info!("node draining (shutdown): {}", e.node);
        true
    }

    /// `stop`: the node is down now; its dialogs fail over.
    pub(super) fn session_stop(&mut self, sid: &str) -> bool {
        let Some(e) = self.by_session(sid).and_then(|i| self.entries.get_mut(i)) else {
            return false;
        };
        if !e.node.is_alive() {
            return false;
        }
        e.node.state = NodeState::Down;
        log::warn!("node down (stop): {}", e.node);
        true
    }

    /// `switchover`: the dialogs of the node with jvmRoute `from` continue
    /// on the node with jvmRoute `to` (affinity tables follow at their next
    /// lookup; see `NodeSet::redirect`).
    pub(super) fn switchover(&mut self, from: &str, to: &str) -> bool {
        let by_route = |route: &str| -> Option<NodeId> {
            self.entries
                .iter()
                .map(|e| &e.node)
                .filter(|n| n.jvm_route.as_deref() == Some(route))
                .max_by_key(|n| (n.is_alive(), n.id))
                .map(|n| n.id)
        };
        let (Some(f), Some(t)) = (by_route(from), by_route(to)) else {
            log::warn!("switchover {from:?} → {to:?}: unknown jvmRoute, ignored");
            return false;
        };
        if f == t || self.redirects.contains(&(f, t)) {
            return false;
        }
        self.redirects.retain(|(x, _)| *x != f);
        self.redirects.push((f, t));
        log::info!(
            "switchover: dialogs of node {} continue on node {}",
            f.0,
            t.0
        );
        true
    }
}
