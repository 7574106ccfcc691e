//! A balanced node (SIP application server) as the shards see it.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::config::{Ports, Transport};

/// Stable identifier of a node inside one balancer process. Assigned by the
/// registry the first time it hears of a node and never reused, so dead
/// nodes stay recognisable ("all nodes ever", original §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// [`Node::weight`] of a node that is not ramping up.
pub const FULL_WEIGHT: u8 = 100;

/// Liveness of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// Takes new calls.
    Up,
    /// Alive, keeps its dialogs, takes no new calls (`GRACEFUL_SHUTDOWN=true`).
    Draining,
    /// Expired, stopped or failed its probes; kept so its address is still recognised.
    Down,
}

/// Where the registry learnt of the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeSource {
    /// SIP `Mobicents-Heartbeat` OPTIONS/INFO on the internal port.
    Heartbeat,
    /// Listed in the configuration and probed with OPTIONS.
    Static,
    /// `extraServerNodes` entry (direction analysis only, never balanced to).
    Extra,
}

/// One node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Registry-assigned id.
    pub id: NodeId,
    /// `hostname` property (for logs).
    pub hostname: String,
    /// Node address.
    pub ip: IpAddr,
    /// Ports per transport (`udpPort`, `tcpPort`, … properties).
    pub ports: Ports,
    /// `version` property (rolling upgrades), 0 when absent or not numeric.
    pub version: u32,
    /// `jvmRoute` property.
    pub jvm_route: Option<String>,
    /// Every property the node announced, in announcement order.
    pub properties: Vec<(String, String)>,
    /// Liveness.
    pub state: NodeState,
    /// Origin.
    pub source: NodeSource,
    /// Identity hash used by rendezvous hashing: a pure function of
    /// (ip, udp port), so every shard and every balancer instance agrees.
    pub hash: u64,
    /// Share of a fully ramped node's new calls this node takes, in percent
    /// (1–100). Below 100 while it ramps up after joining (slow start,
    /// `trafficRampupCyclePeriod` / `trafficPercentageIncrease`).
    pub weight: u8,
    /// Excluded from new calls by a health check (error responses or no
    /// responses); like a draining node it keeps its dialogs.
    pub bad: bool,
    /// Registry generation at which the node last became `Up`: the longest-up
    /// node is the smallest (`ActiveStandby` keeps it active).
    pub up_since: u64,
}

// === impl Node ===

impl Node {
    /// A node at `ip`, listening for UDP on `udp_port` (0 = not yet known),
    /// version 0, no properties; its rendezvous hash is derived here so no
    /// caller can forget it.
    pub fn new(
        id: NodeId,
        ip: IpAddr,
        udp_port: u16,
        source: NodeSource,
        state: NodeState,
    ) -> Node {
        Node {
            id,
            hostname: ip.to_string(),
            ip,
            ports: Ports {
                udp: (udp_port != 0).then_some(udp_port),
                ..Ports::default()
            },
            version: 0,
            jvm_route: None,
            properties: Vec::new(),
            state,
            source,
            hash: node_hash(ip, udp_port),
            weight: FULL_WEIGHT,
            bad: false,
            up_since: 0,
        }
    }

    /// Up or draining.
    pub fn is_alive(&self) -> bool {
        matches!(self.state, NodeState::Up | NodeState::Draining)
    }

    /// Eligible for new calls: up, balanced (not an extra server node) and
    /// not excluded by a health check.
    pub fn takes_new_calls(&self) -> bool {
        self.state == NodeState::Up && !self.bad && self.source != NodeSource::Extra
    }

    /// Port for a transport, if the node listens on it.
    pub fn port(&self, transport: Transport) -> Option<u16> {
        match transport {
            Transport::Udp => self.ports.udp,
            Transport::Tcp => self.ports.tcp,
            Transport::Tls => self.ports.tls,
            Transport::Ws => self.ports.ws,
            Transport::Wss => self.ports.wss,
        }
    }

    /// Address for a transport.
    pub fn addr(&self, transport: Transport) -> Option<SocketAddr> {
        self.port(transport).map(|p| SocketAddr::new(self.ip, p))
    }

    /// The UDP port, else the first port the node listens on (its identity
    /// port for hashing and logs).
    pub fn primary_port(&self) -> Option<u16> {
        let p = &self.ports;
        [p.udp, p.tcp, p.tls, p.ws, p.wss]
            .into_iter()
            .flatten()
            .next()
    }

    /// Whether `port` is any of the node's ports.
    pub fn has_port(&self, port: u16) -> bool {
        let p = Some(port);
        let ports = &self.ports;
        ports.udp == p || ports.tcp == p || ports.tls == p || ports.ws == p || ports.wss == p
    }
}

/// `hostname ip:port version N` (the UDP port, else the first port), for logs.
impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addr = SocketAddr::new(self.ip, self.primary_port().unwrap_or(0));
        write!(f, "{} {addr} version {}", self.hostname, self.version)
    }
}

/// Identity hash of a node address (FNV-1a over ip bytes and port, then mixed).
/// Fixed function, no random seed: routing must agree across shards and processes.
pub fn node_hash(ip: IpAddr, udp_port: u16) -> u64 {
    let mut h = crate::balancer::hash::Fnv64::new();
    match ip {
        IpAddr::V4(v4) => h.write(&v4.octets()),
        IpAddr::V6(v6) => h.write(&v6.octets()),
    }
    h.write(&udp_port.to_be_bytes());
    crate::balancer::hash::mix64(h.finish())
}
