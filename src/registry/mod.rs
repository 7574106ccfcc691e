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
//! - [`liveness`]: expiry, drain, up/down transitions.
//! - [`probe`]: active OPTIONS probing of static nodes.

pub mod heartbeat;
pub mod liveness;
pub mod node;
pub mod node_set;
pub mod probe;

use std::net::SocketAddr;

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
}
