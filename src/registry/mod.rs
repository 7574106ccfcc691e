//! The node registry: which SIP application servers exist and whether they
//! are alive.
//!
//! One [`Registry`] is owned by one task on the control shard. It consumes
//! [`Event`]s (heartbeats and traffic seen by any shard, probe results) and
//! the passage of time, and produces a new immutable [`NodeSet`] snapshot
//! whenever something changed; the runtime publishes snapshots to every
//! shard. Sans-IO: no sockets, no clock (`now` is an argument).
//!
//! # Layout
//! - [`node`], [`node_set`]: the snapshot types shards read.
//! - [`heartbeat`]: the `Mobicents-Heartbeat` body (Java properties text).
//! - [`json_heartbeat`]: the JSON heartbeat protocol's bodies (`start`,
//!   `heartbeat`, `shutdown`, `stop`, `switchover`) → [`Event`]s, replies.
//! - [`liveness`]: expiry, drain, up/down transitions, restarts, sessions.
//! - [`health`]: bad-node exclusion and slow start.
//! - [`probe`]: active OPTIONS probing of static nodes.
//! - `liveness/reconfigure.rs`: a reloaded static node list applied live.

pub mod health;
pub mod heartbeat;
pub mod json_heartbeat;
pub mod liveness;
pub mod node;
pub mod node_set;
pub mod probe;

use std::net::{IpAddr, SocketAddr};

pub use health::HealthReport;
pub use liveness::Registry;
pub use node::{Node, NodeId, NodeSource, NodeState};
pub use node_set::NodeSet;
pub use probe::ProbeTransmit;

/// Something a shard or the probe task tells the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A `Mobicents-Heartbeat` OPTIONS/INFO arrived on the internal port from
    /// `src`; `properties` is its parsed body (`ip`, `hostname`, `udpPort`, …).
    Heartbeat {
        /// Packet source.
        src: SocketAddr,
        /// Body properties in order.
        properties: Vec<(String, String)>,
    },
    /// SIP traffic (request or response) from a known node refreshes it.
    Traffic {
        /// The node.
        node: NodeId,
    },
    /// What one shard saw of a node since its last report: requests sent,
    /// responses and error responses received (the health checks).
    Health {
        /// The node.
        node: NodeId,
        /// The counts.
        report: HealthReport,
    },
    /// JSON `start` from a node at `src` (the HTTP peer's address, the
    /// default `ip`): `properties` as a heartbeat's, `sessionId` included,
    /// but no default UDP port.
    Start {
        /// Address of the HTTP peer.
        src: IpAddr,
        /// `hostName`, `ip`, ports, `version`, `sessionId`, … as strings.
        properties: Vec<(String, String)>,
    },
    /// JSON `heartbeat`: the node of this `sessionId` is alive.
    SessionHeartbeat {
        /// The node's `sessionId`.
        session_id: String,
    },
    /// JSON `shutdown`: the node of this `sessionId` drains.
    SessionShutdown {
        /// The node's `sessionId`.
        session_id: String,
    },
    /// JSON `stop`: the node of this `sessionId` is down now.
    SessionStop {
        /// The node's `sessionId`.
        session_id: String,
    },
    /// The balancer drains (`/lbstop`): from now on no node takes new calls.
    Drain,
    /// A configuration reload (SIGHUP): the static node list is now this
    /// (see [`liveness`], "Reload").
    StaticNodes {
        /// The reloaded configuration's `nodes`.
        nodes: Vec<crate::config::StaticNode>,
    },
    /// JSON `switchover`: dialogs of the node with `from_jvm_route` continue
    /// on the node with `to_jvm_route`.
    Switchover {
        /// jvmRoute of the node leaving.
        from_jvm_route: String,
        /// jvmRoute of the node taking over.
        to_jvm_route: String,
    },
}
