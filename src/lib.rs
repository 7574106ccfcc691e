//! sip-balancer: a SIP / HTTP / SMPP load balancer for carriers,
//! thread-per-core and shared-nothing on io_uring.
//!
//! # Layout
//! - [`config`]: typed configuration from YAML or the original `lb.properties`.
//! - [`sip`]: the stateless SIP proxy core (sans-IO).
//! - [`registry`]: node liveness and the immutable node snapshots.
//! - [`balancer`]: node choice (rendezvous hashing, Call-ID affinity table).
//! - [`stats`]: per-shard counters.
//! - [`tls`]: rustls configurations and a sans-IO TLS session.
//! - [`ws`]: WebSocket handshake and frames (sans-IO).
//! - [`http`]: the HTTP/1.1 and WebSocket balancer core (sans-IO).
//! - [`smpp`]: SMPP 3.4 codec and sessions (sans-IO).
//! - [`runtime`]: shards, sockets, mesh, registry task (the only I/O).
//!
//! Everything outside `runtime` compiles and is tested without sockets or a clock.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod balancer;
pub mod config;
pub mod http;
pub mod registry;
pub mod runtime;
pub mod sip;
pub mod smpp;
pub mod stats;
pub mod tls;
pub mod ws;

/// The fake clock's starting point for unit tests of the sans-IO modules,
/// which never read the clock themselves (they take `now` as an argument).
#[cfg(test)]
mod test_alloc;

#[cfg(test)]
pub(crate) fn test_epoch() -> std::time::Instant {
    std::time::Instant::now()
}
