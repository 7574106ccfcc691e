//! Per-shard SIP proxy: one received datagram in, what to send out.
//!
//! The runtime calls [`Proxy::handle`] for every datagram. The proxy decides
//! (direction, heartbeat, Max-Forwards, node choice, Via / Record-Route /
//! Route rewriting, replies), writes the bytes to send into [`Output::buf`]
//! and lists them as [`Transmit`]s; the runtime sends them and does nothing
//! else. When the Call-ID's affinity entry lives on another shard, the
//! proxy asks for a hand-off instead and the runtime passes the datagram to
//! that shard, which calls `handle` again with `handed_off = true`.
//!
//! Request and response paths live in [`super::request`] and
//! [`super::response`]; this file holds the state and the dispatch.

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::choice::Assign;
use super::choice::Balancing;
pub(crate) use super::choice::Reconfigured;
use super::edit::Edits;
use super::message::{Message, StartLine};
use super::reply;
use super::settings::Settings;
pub use super::transport::{ConnRef, Transport};
use crate::config::{AlgorithmConfig, Config};
use crate::registry::{Event, NodeId, NodeSet};
use crate::stats::SipCounters;

/// Which of our two SIP sockets a datagram arrived on / leaves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegId {
    /// Client-facing port (the only one in single-entry-point mode).
    External,
    /// Node-facing port.
    Internal,
}

/// One received message: a datagram, or one message framed off a stream.
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    /// The message.
    pub bytes: &'a [u8],
    /// Sender.
    pub src: SocketAddr,
    /// Leg (listening address) it arrived on.
    pub leg: LegId,
    /// Already passed to its home shard by another shard.
    pub handed_off: bool,
    /// Transport it arrived over.
    pub transport: Transport,
    /// The stream connection it arrived on (`None` for UDP).
    pub conn: Option<ConnRef>,
}

impl<'a> Datagram<'a> {
    /// A UDP datagram.
    pub fn udp(bytes: &'a [u8], src: SocketAddr, leg: LegId) -> Datagram<'a> {
        Datagram {
            bytes,
            src,
            leg,
            handed_off: false,
            transport: Transport::Udp,
            conn: None,
        }
    }
}

/// One message to send: `Output::buf[range]` to `dst` from the `leg`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    /// Leg to send from.
    pub leg: LegId,
    /// Destination.
    pub dst: SocketAddr,
    /// Bytes within `Output::buf`.
    pub range: Range<usize>,
    /// Transport to send over.
    pub transport: Transport,
    /// The connection to use when it still exists (else the runtime finds or
    /// opens one to `dst`); for a stream transport only.
    pub conn: Option<ConnRef>,
}

/// Where and how a message leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dest {
    /// Leg to send from.
    pub leg: LegId,
    /// Destination address.
    pub dst: SocketAddr,
    /// Transport.
    pub transport: Transport,
    /// A connection known to lead there.
    pub conn: Option<ConnRef>,
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
    /// Affinity assignments for other shards (shard, assignment).
    pub assigns: Vec<(usize, Assign)>,
}

impl Output {
    /// Empty all parts, keeping capacity.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.transmits.clear();
        self.events.clear();
        self.hand_off = None;
        self.assigns.clear();
    }

    /// Queue `buf[start..]` (just written) for sending to `to`.
    pub(crate) fn emit(&mut self, to: Dest, start: usize) {
        let range = start..self.buf.len();
        self.transmits.push(Transmit {
            leg: to.leg,
            dst: to.dst,
            range,
            transport: to.transport,
            conn: to.conn,
        });
    }

    /// Queue `buf[start..]` back to the sender of `d` (at `dst`), over the
    /// transport and connection it came in on.
    pub(crate) fn reply(&mut self, d: &Datagram<'_>, dst: SocketAddr, start: usize) {
        self.emit(
            Dest {
                leg: d.leg,
                dst,
                transport: d.transport,
                conn: d.conn,
            },
            start,
        );
    }
}

/// Per-shard proxy state.
#[derive(Debug)]
pub struct Proxy {
    pub(crate) settings: Settings,
    pub(crate) nodes: Arc<NodeSet>,
    pub(crate) balancing: Balancing,
    pub(crate) shard: usize,
    pub(crate) shards: usize,
    pub(crate) counters: SipCounters,
    pub(crate) edits: Edits,
    /// Last time each node's traffic was reported to the registry; reports
    /// are rate-limited so a busy node does not flood the control shard.
    refreshed: Vec<(NodeId, Instant)>,
    refresh_every: Duration,
}

// === impl Proxy ===

impl Proxy {
    /// Proxy for shard `shard` of `shards`.
    pub fn new(cfg: &Config, shard: usize, shards: usize, now: Instant) -> Proxy {
        let shards = shards.max(1);
        Proxy {
            settings: Settings::new(cfg),
            nodes: Arc::new(NodeSet::default()),
            balancing: Balancing::new(cfg, shards, now),
            shard,
            shards,
            counters: SipCounters::default(),
            edits: Edits::default(),
            refreshed: Vec::new(),
            refresh_every: (cfg.registry.node_timeout / 4).max(Duration::from_millis(50)),
        }
    }

    /// Install a new registry snapshot.
    pub fn set_nodes(&mut self, nodes: Arc<NodeSet>) {
        self.nodes = nodes;
    }

    /// A reloaded `algorithm` section: a new algorithm instance that keeps
    /// the affinity table where it can (see `Balancing::reconfigure`).
    pub(crate) fn reconfigure_algorithm(
        &mut self,
        cfg: &AlgorithmConfig,
        now: Instant,
    ) -> Reconfigured {
        self.balancing.reconfigure(cfg, now)
    }

    /// The snapshot in use.
    pub fn nodes(&self) -> &NodeSet {
        &self.nodes
    }

    /// Process one datagram.
    pub fn handle(&mut self, d: Datagram<'_>, now: Instant, out: &mut Output) {
        out.clear();
        self.edits.clear();
        if d.bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return; // RFC 5626 CRLF keep-alive
        }
        let parsed = if d.bytes.len() > self.settings.max_message_size {
            None
        } else {
            Message::parse(d.bytes).ok()
        };
        let Some(msg) = parsed else {
            self.malformed(d, out);
            return;
        };
        match msg.start() {
            StartLine::Request { method, .. } => self.request(&msg, method, d, now, out),
            StartLine::Response { .. } => self.response(&msg, d, now, out),
        }
    }

    /// Count a datagram the parser rejected; answer 400 if it is a request we
    /// can answer.
    fn malformed(&mut self, d: Datagram<'_>, out: &mut Output) {
        self.counters.malformed += 1;
        log::debug!(
            "malformed datagram from {} ({} bytes)",
            d.src,
            d.bytes.len()
        );
        if d.bytes.len() <= self.settings.max_message_size
            && reply::bad_request(&mut out.buf, d.bytes)
        {
            out.reply(&d, d.src, 0);
            self.counters.replies_sent += 1;
        }
    }

    /// Report traffic from a node to the registry (rate-limited).
    pub(crate) fn refresh(&mut self, node: NodeId, now: Instant, out: &mut Output) {
        match self.refreshed.iter_mut().find(|(n, _)| *n == node) {
            Some((_, last)) if now.saturating_duration_since(*last) < self.refresh_every => return,
            Some((_, last)) => *last = now,
            None => self.refreshed.push((node, now)),
        }
        out.events.push(Event::Traffic { node });
    }

    /// Home shard of a Call-ID.
    pub(crate) fn home_shard(&self, key: u64) -> usize {
        (key % self.shards as u64) as usize
    }

    /// An affinity assignment another shard sent (its key lives here).
    pub fn apply_assign(&mut self, a: Assign, now: Instant) {
        self.balancing.apply_assign(&self.nodes, a, now);
    }

    /// Run timers (affinity-table eviction) due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.balancing.handle_timeout(now);
    }

    /// When `handle_timeout` should next run.
    pub fn poll_timeout(&self) -> Instant {
        self.balancing.poll_timeout()
    }

    /// A request we forwarded to `dst` could not be delivered (the
    /// connection to it never came up): answer it with the "no node"
    /// status, as if `dst` had, so the answer goes back along its Vias.
    /// Responses and ACKs are dropped.
    pub fn undeliverable(
        &mut self,
        forwarded: &[u8],
        dst: SocketAddr,
        leg: LegId,
        now: Instant,
        out: &mut Output,
    ) {
        let Ok(msg) = Message::parse(forwarded) else {
            return;
        };
        if !matches!(msg.start(), StartLine::Request { .. })
            || msg.method() == Some(super::message::Method::Ack)
        {
            return;
        }
        self.counters.no_node += 1;
        let mut answer = Vec::with_capacity(forwarded.len());
        let (code, reason) = (
            self.settings.unavailable_status,
            self.settings.unavailable_reason.clone(),
        );
        reply::write(&mut answer, &msg, code, &reason);
        let d = Datagram {
            bytes: &answer,
            src: dst,
            leg,
            handed_off: true,
            transport: Transport::Udp,
            conn: None,
        };
        self.handle(d, now, out);
        self.counters.replies_sent += 1;
    }

    /// Largest message accepted (`sip.maxMessageSize`).
    pub fn max_message_size(&self) -> usize {
        self.settings.max_message_size
    }

    /// This shard's counters.
    pub fn counters(&self) -> &SipCounters {
        &self.counters
    }

    /// Entries in this shard's Call-ID affinity table.
    pub fn affinity_entries(&self) -> usize {
        self.balancing.len()
    }
}
