//! Per-shard SIP proxy: one received datagram in, what to send out.
//!
//! The runtime calls [`Proxy::handle`] for every datagram. The proxy decides
//! (direction, heartbeat, Max-Forwards, node choice, Via / Record-Route /
//! Route rewriting, replies), writes the bytes to send into [`Output::buf`]
//! and lists them as [`Transmit`]s; the runtime sends them and does nothing
//! else. When the Call-ID's affinity entry lives on another shard, the
//! proxy asks for a hand-off instead and the runtime passes the datagram to
//! that shard, which calls `handle` again with `handed_off = true`.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::registry::{Event, NodeSet};

/// Which of our two SIP sockets a datagram arrived on / leaves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegId {
    /// Client-facing port (the only one in single-entry-point mode).
    External,
    /// Node-facing port.
    Internal,
}

/// One received datagram.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    /// The datagram.
    pub bytes: &'a [u8],
    /// Sender.
    pub src: SocketAddr,
    /// Socket it arrived on.
    pub leg: LegId,
    /// Already passed to its home shard by another shard.
    pub handed_off: bool,
}

/// One datagram to send: `Output::buf[range]` to `dst` from the `leg` socket.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    /// Socket to send from.
    pub leg: LegId,
    /// Destination.
    pub dst: SocketAddr,
    /// Bytes within `Output::buf`.
    pub range: Range<usize>,
}

/// Everything one `handle` call produced. Reused across calls (cleared at
/// the start of each) so steady-state forwarding does not allocate.
#[derive(Debug, Default)]
pub struct Output {
    /// Bytes of every transmit.
    pub buf: Vec<u8>,
    /// Datagrams to send, in order.
    pub transmits: Vec<Transmit>,
    /// Events for the registry (heartbeats, traffic from nodes).
    pub events: Vec<Event>,
    /// Pass the datagram, unchanged, to this shard instead.
    pub hand_off: Option<usize>,
}

impl Output {
    /// Empty all parts, keeping capacity.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.transmits.clear();
        self.events.clear();
        self.hand_off = None;
    }
}

/// Per-shard proxy state.
#[derive(Debug)]
pub struct Proxy {
    _priv: (),
}

impl Proxy {
    /// Proxy for shard `shard` of `shards`.
    pub fn new(cfg: &Config, shard: usize, shards: usize, now: Instant) -> Proxy {
        let _ = (cfg, shard, shards, now);
        todo!()
    }

    /// Install a new registry snapshot.
    pub fn set_nodes(&mut self, nodes: Arc<NodeSet>) {
        let _ = nodes;
        todo!()
    }

    /// Process one datagram.
    pub fn handle(&mut self, dgram: Datagram<'_>, now: Instant, out: &mut Output) {
        let _ = (dgram, now, out);
        todo!()
    }

    /// Run timers (affinity-table eviction) due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
        todo!()
    }

    /// When `handle_timeout` should next run.
    pub fn poll_timeout(&self) -> Instant {
        todo!()
    }

    /// This shard's counters.
    pub fn counters(&self) -> &crate::stats::SipCounters {
        todo!()
    }
}
