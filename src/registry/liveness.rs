//! Registry state: nodes by id, last-heard times, expiry sweep, drain and
//! static-node probe outcomes → [`NodeSet`] snapshots.
//!
//! # Rules
//! - **Identity.** A heartbeat names its node by (`ip` property, else the
//!   packet's source ip; `udpPort` property, else the source port). The
//!   first heartbeat of an identity creates a node with a fresh [`NodeId`]
//!   (monotonic, never reused); nodes are never removed, a dead one is `Down`.
//! - **Heartbeat nodes.** A heartbeat brings its node `Up` (also from `Down`),
//!   or `Draining` with `GRACEFUL_SHUTDOWN=true`; a later heartbeat without it
//!   undrains. As in the original, a graceful heartbeat from an unknown or
//!   `Down` node is ignored (a node shutting down is not added back). Not heard
//!   from for more than `node_timeout` (heartbeat or traffic) → `Down`.
//! - **Traffic** refreshes the last-heard time of an `Up`/`Draining` heartbeat
//!   node only. It never brings a `Down` node back: a straggler response from a
//!   node whose heartbeat service stopped must not resurrect it; only a
//!   heartbeat does.
//! - **Static nodes** are governed by their OPTIONS probes only (see
//!   [`super::probe`]); they start `Down`. One without a UDP port cannot be
//!   probed and is `Up` for good. Heartbeats and traffic matching a static or
//!   extra node's identity are ignored: the configuration owns those nodes.
//! - **Extra server nodes** (`extraServerNodes`) are `Up` forever, for
//!   direction analysis only ([`Node::takes_new_calls`] excludes them).
//! - **`latest_version`** is the highest version of any balanced node that has
//!   ever been `Up` (a configured node that never answered does not redirect
//!   new calls to its version).
//! - **Restart.** A heartbeat whose `sessionId` differs from the one the node
//!   announced before means the node restarted: its health marks are
//!   cleared and it starts again (slow start, [`super::health`]), as it does
//!   when it comes back up from `Down`. Every transition into `Up` stamps
//!   [`Node::up_since`] from a counter, so "longest up" is an exact order.
//! - **Health.** [`Event::Health`] reports from the shards can mark an alive
//!   node bad (no new calls, dialogs kept); see [`super::health`].
//! - **Sessions** (the JSON heartbeat protocol, [`super::json_heartbeat`]):
//!   `start` is a heartbeat without a default UDP port, matched by
//!   `sessionId` first; `heartbeat`, `shutdown` and `stop` name the node by
//!   `sessionId` only (refresh, drain, down now); `switchover` makes the
//!   dialogs of one `jvmRoute`'s node continue on another's.
//! - **Reload** ([`Event::StaticNodes`], SIGHUP): the static node list is
//!   replaced by the configuration's; nodes are matched by identity (ip and
//!   first SIP port; ip and HTTP ports for an HTTP-only node). A new one is
//!   added as at start, a kept one takes the new attributes in place (same
//!   [`NodeId`], dialogs stay), a removed one drains — alive, keeps its
//!   dialogs, no new calls, no more probes — and goes `Down` `node_timeout`
//!   later, as a heartbeat node that stopped heart-beating. Listed again
//!   before that, it is back as if never removed. See [`reconfigure`].
//! - **Generation** increases by one with each change to the snapshot.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::health::{Health, HealthReport};
use super::heartbeat::{property, Announcement};
use super::node::{node_hash, Node, NodeId, NodeSource, NodeState};
use super::node_set::NodeSet;
use super::probe::{self, ProbeState, ProbeTransmit};
use super::Event;
use crate::config::{HealthConfig, Ports, ProbeConfig, RegistryConfig, SipConfig, StaticNode};

#[path = "reconfigure.rs"]
mod reconfigure;
#[path = "sessions.rs"]
mod sessions;

/// The registry, owned by the control task.
#[derive(Debug)]
pub struct Registry {
    /// Every node ever known; `entries[i].node.id == NodeId(i)`.
    entries: Vec<Entry>,
    /// Expiry period and probe settings (static node list not kept).
    node_timeout: Duration,
    heartbeat_interval: Duration,
    probe: ProbeConfig,
    /// Snapshot version, bumped on each change.
    generation: u64,
    /// Highest version of any balanced node ever up.
    latest_version: u32,
    /// Next periodic expiry sweep.
    next_sweep: Instant,
    /// Health checks and slow start.
    health: HealthConfig,
    /// Counter behind [`Node::up_since`].
    up_seq: u64,
    /// `switchover`s: dialogs of the first node continue on the second.
    redirects: Vec<(NodeId, NodeId)>,
    /// The balancer drains: snapshots offer no node for new calls.
    draining: bool,
}

/// One node and what the registry tracks about it beyond the snapshot.
#[derive(Debug)]
struct Entry {
    node: Node,
    /// Last heartbeat, traffic or probe response.
    last_heard: Instant,
    /// Static nodes with a UDP port only.
    probe: Option<ProbeState>,
    /// Last `sessionId` the node announced.
    session_id: Option<String>,
    /// Health-check counters and slow start.
    health: Health,
    /// Removed from the configuration by a reload: drains until then, then
    /// goes down (static nodes only).
    retire_at: Option<Instant>,
}

// === impl Registry ===

impl Registry {
    /// Registry with the configured static and extra server nodes (static
    /// nodes start `Down` until their first successful probe).
    pub fn new(cfg: &RegistryConfig, sip: &SipConfig, now: Instant) -> Registry {
        let mut registry = Registry {
            entries: Vec::new(),
            node_timeout: cfg.node_timeout,
            heartbeat_interval: cfg.heartbeat_interval,
            probe: cfg.probe,
            generation: 1,
            latest_version: 0,
            next_sweep: now + cfg.heartbeat_interval,
            health: cfg.health.clone(),
            up_seq: 0,
            redirects: Vec::new(),
            draining: false,
        };
        for s in &cfg.static_nodes {
            registry.add_static(s, now);
        }
        for &addr in &sip.extra_server_nodes {
            registry.add_extra(addr, now);
        }
        registry
    }

    /// Apply an event; `true` when the published snapshot must change.
    pub fn handle_event(&mut self, event: Event, now: Instant) -> bool {
        let changed = match event {
            Event::Heartbeat { src, properties } => {
                self.handle_announcement(src.ip(), Some(src.port()), properties, now)
            }
            Event::Start { src, properties } => {
                self.handle_announcement(src, None, properties, now)
            }
            Event::Traffic { node } => self.handle_traffic(node, now),
            Event::Health { node, report } => self.handle_health(node, report, now),
            Event::SessionHeartbeat { session_id } => self.session_heartbeat(&session_id, now),
            Event::SessionShutdown { session_id } => self.session_shutdown(&session_id),
            Event::SessionStop { session_id } => self.session_stop(&session_id),
            Event::Switchover {
                from_jvm_route,
                to_jvm_route,
            } => self.switchover(&from_jvm_route, &to_jvm_route),
            Event::Drain => !std::mem::replace(&mut self.draining, true),
            Event::StaticNodes { nodes } => self.apply_static_nodes(&nodes, now),
        };
        self.bump_if(changed)
    }

    /// Expire heartbeat nodes not heard from for more than `node_timeout` and
    /// count timed-out probes; `true` when something changed.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        if now >= self.next_sweep {
            self.next_sweep = now + self.heartbeat_interval;
        }
        let mut changed = false;
        for i in 0..self.entries.len() {
            changed |= self.expire(i, now);
            changed |= self.expire_probe(i, now);
            changed |= self.health_timers(i, now);
        }
        self.bump_if(changed)
    }

    /// The next expiry sweep or probe deadline, whichever comes first.
    pub fn poll_timeout(&self) -> Instant {
        let probes = self
            .entries
            .iter()
            .filter_map(|e| e.probe.as_ref().map(ProbeState::deadline));
        let health = self
            .entries
            .iter()
            .filter_map(|e| e.health.deadline(&self.health, e.session_id.is_none()));
        let retiring = self
            .entries
            .iter()
            .filter_map(|e| e.retire_at.filter(|_| e.node.is_alive()));
        probes
            .chain(health)
            .chain(retiring)
            .fold(self.next_sweep, Instant::min)
    }

    /// The next OPTIONS probe due at `now`, to be sent from `local` (the
    /// probe socket); call until `None`. Call after `handle_timeout` so that
    /// timed-out probes are counted before new ones go out.
    pub fn poll_probe(&mut self, now: Instant, local: SocketAddr) -> Option<ProbeTransmit> {
        let cfg = self.probe;
        self.entries.iter_mut().find_map(|e| {
            let seq = e.probe.as_mut()?.poll_send(now, &cfg)?;
            let dst = SocketAddr::new(e.node.ip, e.node.ports.udp?);
            Some(ProbeTransmit {
                node: e.node.id,
                dst,
                bytes: probe::options(e.node.id, seq, dst, local),
            })
        })
    }

    /// A datagram received on the probe socket; `true` when the snapshot
    /// changed. Anything that is not a response to an outstanding probe is ignored.
    pub fn handle_probe_response(&mut self, bytes: &[u8], now: Instant) -> bool {
        let Some((id, seq)) = probe::match_response(bytes) else {
            return false;
        };
        let cfg = self.probe;
        let Some(entry) = self.entry_mut(id) else {
            return false;
        };
        let Some(state) = entry.probe.as_mut() else {
            return false;
        };
        if !state.handle_response(seq) {
            return false;
        }
        entry.last_heard = now;
        let verdict = state.record(true, entry.node.state, &cfg);
        let changed = self.apply_verdict(id, verdict, now);
        self.bump_if(changed)
    }

    /// The current snapshot (generation increases with each change).
    pub fn snapshot(&self) -> NodeSet {
        let nodes = self.entries.iter().map(|e| e.node.clone()).collect();
        let set = NodeSet::new(self.generation, nodes, self.latest_version)
            .with_redirects(self.redirects.clone());
        if self.draining {
            set.draining()
        } else {
            set
        }
    }

    /// Generation of the next [`Registry::snapshot`].
    pub fn generation(&self) -> u64 {
        self.generation
    }

    // --- configured nodes ---

    fn add_static(&mut self, s: &StaticNode, now: Instant) {
        let probe = s.ports.udp.map(|_| ProbeState::new(now));
        let state = if probe.is_some() {
            NodeState::Down
        } else {
            NodeState::Up
        };
        if probe.is_none() {
            log::warn!(
                "static node {} {} has no UDP port: not probed, always up",
                s.hostname,
                s.ip
            );
        }
        let mut node = self.new_node(s.ip, 0, NodeSource::Static, state);
        configure(&mut node, s);
        self.push(node, probe, now);
    }

    fn add_extra(&mut self, addr: SocketAddr, now: Instant) {
        let mut node = self.new_node(addr.ip(), addr.port(), NodeSource::Extra, NodeState::Up);
        node.hostname = format!("ExtraServerNode-{addr}");
        node.ports = Ports {
            udp: Some(addr.port()),
            tcp: Some(addr.port()),
            ..Ports::default()
        };
        self.push(node, None, now);
    }

    // --- events ---

    /// A SIP heartbeat (`src_port` = its source port, the default
    /// `udpPort`) or a JSON `start` (`src_port` = `None`).
    fn handle_announcement(
        &mut self,
        src_ip: IpAddr,
        src_port: Option<u16>,
        properties: Vec<(String, String)>,
        now: Instant,
    ) -> bool {
        let Some(a) = Announcement::parse(src_ip, src_port, &properties) else {
            log::warn!(
                "heartbeat from {src_ip} ignored: invalid ip property {:?} or no port",
                property(&properties, "ip")
            );
            return false;
        };
        let port = a.identity_port();
        let by_session = a.session_id.as_deref().and_then(|sid| {
            self.entries
                .iter()
                .position(|e| e.session_id.as_deref() == Some(sid))
        });
        let found = by_session.or_else(|| {
            self.entries
                .iter()
                .position(|e| e.node.ip == a.ip && e.node.primary_port() == Some(port))
        });
        match found {
            Some(i) => self.refresh(i, a, properties, now),
            None => self.add_heartbeat_node(a, port, properties, now),
        }
    }

    fn add_heartbeat_node(
        &mut self,
        a: Announcement,
        port: u16,
        properties: Vec<(String, String)>,
        now: Instant,
    ) -> bool {
        if a.graceful {
            log::debug!(
                "graceful heartbeat from unknown node {}:{port} ignored",
                a.ip
            );
            return false;
        }
        let session_id = a.session_id.clone();
        let mut node = self.new_node(a.ip, port, NodeSource::Heartbeat, NodeState::Up);
        a.apply_to(&mut node, properties);
        log::info!("node up: {node}");
        let added = self.push(node, None, now);
        if let Some(e) = self.entries.last_mut().filter(|_| added) {
            e.session_id = session_id;
        }
        added
    }

    fn refresh(
        &mut self,
        i: usize,
        a: Announcement,
        properties: Vec<(String, String)>,
        now: Instant,
    ) -> bool {
        let Some(entry) = self.entries.get_mut(i) else {
            return false;
        };
        if entry.node.source != NodeSource::Heartbeat {
            log::debug!("heartbeat for configured node {} ignored", entry.node);
            return false;
        }
        let restarted = match (&entry.session_id, &a.session_id) {
            (Some(old), Some(new)) => old != new,
            _ => false,
        };
        let target = match (entry.node.state, a.graceful) {
            (NodeState::Down, true) => return false,
            (_, true) => NodeState::Draining,
            (_, false) => NodeState::Up,
        };
        entry.last_heard = now;
        if a.session_id.is_some() {
            entry.session_id.clone_from(&a.session_id);
        }
        let before = entry.node.clone();
        a.apply_to(&mut entry.node, properties);
        entry.node.state = target;
        if restarted {
            log::info!("node restarted (new sessionId): {}", entry.node);
        }
        if restarted || (target == NodeState::Up && before.state != NodeState::Up) {
            came_up(entry, &self.health, &mut self.up_seq, now);
        }
        if before.state != target {
            match target {
                NodeState::Draining => log::info!("node draining: {}", entry.node),
                _ => log::info!("node up: {}", entry.node),
            }
        }
        let changed = entry.node != before;
        if restarted {
            let id = entry.node.id;
            self.redirects.retain(|(from, to)| *from != id && *to != id);
        }
        self.note_version(i);
        changed
    }

    fn handle_health(&mut self, id: NodeId, report: HealthReport, now: Instant) -> bool {
        let cfg = &self.health;
        let Some(e) = self
            .entries
            .get_mut(id.0 as usize)
            .filter(|e| e.node.id == id)
        else {
            return false;
        };
        if !e.node.is_alive() || e.node.source == NodeSource::Extra {
            return false;
        }
        match e.health.record(&mut e.node, report, cfg, now) {
            Some(why) => {
                log::warn!("node excluded from new calls ({why:?}): {}", e.node);
                true
            }
            None => false,
        }
    }

    fn handle_traffic(&mut self, id: NodeId, now: Instant) -> bool {
        if let Some(e) = self.entry_mut(id) {
            if e.node.source == NodeSource::Heartbeat && e.node.is_alive() {
                e.last_heard = now;
            }
        }
        false
    }

    // --- timeouts ---

    fn expire(&mut self, i: usize, now: Instant) -> bool {
        let timeout = self.node_timeout;
        let Some(e) = self.entries.get_mut(i) else {
            return false;
        };
        if let Some(at) = e.retire_at {
            if now < at || !e.node.is_alive() {
                return false;
            }
            e.node.state = NodeState::Down;
            log::info!(
                "node down (removed from the configuration, drained): {}",
                e.node
            );
            return true;
        }
        let silent = now.saturating_duration_since(e.last_heard) > timeout;
        if e.node.source != NodeSource::Heartbeat || !e.node.is_alive() || !silent {
            return false;
        }
        e.node.state = NodeState::Down;
        log::warn!("node down (timeout): {}", e.node);
        true
    }

    fn expire_probe(&mut self, i: usize, now: Instant) -> bool {
        let cfg = self.probe;
        let Some(e) = self.entries.get_mut(i) else {
            return false;
        };
        let Some(p) = e.probe.as_mut() else {
            return false;
        };
        if !p.handle_timeout(now) {
            return false;
        }
        let verdict = p.record(false, e.node.state, &cfg);
        let id = e.node.id;
        self.apply_verdict(id, verdict, now)
    }

    fn health_timers(&mut self, i: usize, now: Instant) -> bool {
        let cfg = &self.health;
        let Some(e) = self.entries.get_mut(i) else {
            return false;
        };
        if !e.node.is_alive() {
            return false;
        }
        let reinstate = e.session_id.is_none();
        e.health.handle_timeout(&mut e.node, cfg, reinstate, now)
    }

    // --- helpers ---

    fn apply_verdict(&mut self, id: NodeId, verdict: Option<NodeState>, now: Instant) -> bool {
        let Some(state) = verdict else { return false };
        let Some(e) = self
            .entries
            .get_mut(id.0 as usize)
            .filter(|e| e.node.id == id)
        else {
            return false;
        };
        let was = e.node.state;
        e.node.state = state;
        if state == NodeState::Up && was != NodeState::Up {
            came_up(e, &self.health, &mut self.up_seq, now);
        }
        match state {
            NodeState::Down => log::warn!("node down (probe): {}", e.node),
            _ => log::info!("node up (probe): {}", e.node),
        }
        self.note_version(id.0 as usize);
        true
    }

    fn new_node(&self, ip: IpAddr, port: u16, source: NodeSource, state: NodeState) -> Node {
        let id = NodeId(u32::try_from(self.entries.len()).unwrap_or(u32::MAX));
        Node::new(id, ip, port, source, state)
    }

    fn push(&mut self, node: Node, probe: Option<ProbeState>, now: Instant) -> bool {
        if u32::try_from(self.entries.len()).is_err() {
            log::error!("node id space exhausted; {node} ignored");
            return false;
        }
        let mut entry = Entry {
            node,
            last_heard: now,
            probe,
            session_id: None,
            health: Health::new(now),
            retire_at: None,
        };
        if entry.node.state == NodeState::Up {
            came_up(&mut entry, &self.health, &mut self.up_seq, now);
        }
        self.entries.push(entry);
        self.note_version(self.entries.len() - 1);
        true
    }

    /// Raise `latest_version` to an up, balanced node's version.
    fn note_version(&mut self, i: usize) {
        if let Some(n) = self.entries.get(i).map(|e| &e.node) {
            if n.state == NodeState::Up && n.source != NodeSource::Extra {
                self.latest_version = self.latest_version.max(n.version);
            }
        }
    }

    fn entry_mut(&mut self, id: NodeId) -> Option<&mut Entry> {
        self.entries
            .get_mut(id.0 as usize)
            .filter(|e| e.node.id == id)
    }

    fn bump_if(&mut self, changed: bool) -> bool {
        if changed {
            self.generation += 1;
        }
        changed
    }
}

/// Give a static node its configured attributes (hostname, ports, version,
/// jvmRoute, HTTP ports) and the hash of its identity.
fn configure(node: &mut Node, s: &StaticNode) {
    node.hostname.clone_from(&s.hostname);
    node.ports = s.ports;
    node.hash = node_hash(s.ip, node.primary_port().unwrap_or(0));
    node.version = s.version;
    node.jvm_route.clone_from(&s.jvm_route);
    node.properties.clear();
    for (key, port) in [("httpPort", s.http_port), ("sslPort", s.ssl_port)] {
        if let Some(port) = port {
            node.properties.push((key.to_owned(), port.to_string()));
        }
    }
}

/// `entry`'s node became (or restarted) `Up` at `now`: fresh health, slow
/// start, and the next `up_since`.
fn came_up(entry: &mut Entry, cfg: &HealthConfig, up_seq: &mut u64, now: Instant) {
    entry.health.restart(&mut entry.node, cfg, now);
    *up_seq += 1;
    entry.node.up_since = *up_seq;
}

#[cfg(test)]
#[path = "liveness_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "liveness_health_tests.rs"]
mod health_tests;
