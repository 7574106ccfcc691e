//! One shard's SIP stream connections (TCP, TLS, WS, WSS): the ones its
//! listeners accepted and the ones it opened towards nodes and clients.
//!
//! Bytes from the ring are appended to the connection's input (after TLS
//! and WebSocket unwrapping, see [`super::layers`]), whole SIP messages are
//! framed off it ([`crate::sip::framing`]) and handed to the shard's proxy;
//! what the proxy sends over a stream transport comes back here to be
//! written on the connection it names, on an open connection to the same
//! address, or on a new one. A connection lives on this shard only
//! (DESIGN invariant 2): a message for another shard's connection is handed
//! over by the caller before it gets here.
//!
//! Limits: a message larger than `sip.maxMessageSize`, a message (or a
//! handshake) not complete `messageTimeout` after its first byte, a
//! connection idle for `idleTimeout` and connections beyond
//! `maxConnections` are closed; each is counted.

use std::net::SocketAddr;
use std::time::Instant;

use ahash::AHashMap;
use log::debug;

use super::layers::{Layer, LayerOut, Layers};
use super::uring::{StreamId, Tx};
use crate::config::StreamLimits;
use crate::sip::proxy::LegId;
use crate::sip::transport::{ConnRef, Transport};

/// How often the timers are swept.
const SWEEP: std::time::Duration = std::time::Duration::from_millis(250);

/// Failures and events of one shard's connections (plain integers).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ConnCounters {
    pub(crate) accepted: u64,
    pub(crate) opened: u64,
    pub(crate) refused: u64,
    pub(crate) closed: u64,
    pub(crate) too_big: u64,
    pub(crate) bad_framing: u64,
    pub(crate) timed_out: u64,
    pub(crate) idle_closed: u64,
    pub(crate) layer_errors: u64,
    pub(crate) keepalives: u64,
    pub(crate) unreachable: u64,
}

/// Why framing gave up on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameFailure {
    /// A message beyond `sip.maxMessageSize`.
    TooBig,
    /// An unusable Content-Length.
    BadLength,
}

/// One connection.
struct Conn {
    id: StreamId,
    transport: Transport,
    leg: LegId,
    peer: SocketAddr,
    /// We opened it (towards `peer`, which is then a listening address).
    outbound: bool,
    /// Plain SIP bytes not yet framed.
    input: Vec<u8>,
    layer: Layer,
    last_rx: Instant,
    /// When the incomplete message (or handshake) at the front started.
    partial_since: Option<Instant>,
    /// Outbound and not yet established: copies of the SIP messages queued
    /// on it, answered `503` by the caller if the connect fails.
    unsent: Option<Vec<u8>>,
}

impl Conn {
    /// A fresh connection with `peer`; one we open (`outbound`) keeps copies
    /// of what is queued on it until it is established.
    fn new(
        id: StreamId,
        transport: Transport,
        leg: LegId,
        peer: SocketAddr,
        outbound: bool,
        layer: Layer,
        now: Instant,
    ) -> Conn {
        Conn {
            id,
            transport,
            leg,
            peer,
            outbound,
            input: Vec::new(),
            layer,
            last_rx: now,
            partial_since: None,
            unsent: outbound.then(Vec::new),
        }
    }
}

/// Messages that never left: the connect to `dst` failed.
pub(crate) struct Undelivered {
    pub(crate) bytes: Vec<u8>,
    pub(crate) dst: SocketAddr,
    pub(crate) leg: LegId,
}

/// A framed message, ready for the proxy.
pub(crate) struct Inbound {
    pub(crate) src: SocketAddr,
    pub(crate) leg: LegId,
    pub(crate) transport: Transport,
    pub(crate) conn: ConnRef,
}

/// One shard's connections.
pub(crate) struct Conns {
    shard: usize,
    map: AHashMap<u64, Conn>,
    /// Open connections by (transport, remote address), for reuse.
    by_addr: AHashMap<(Transport, SocketAddr), StreamId>,
    /// What each ring listener serves, by listener index.
    listeners: Vec<(LegId, Transport)>,
    limits: StreamLimits,
    layers: Layers,
    scratch: Vec<u8>,
    next_sweep: Instant,
    pub(crate) counters: ConnCounters,
}

impl Conns {
    pub(crate) fn new(shard: usize, limits: StreamLimits, layers: Layers, now: Instant) -> Conns {
        Conns {
            shard,
            map: AHashMap::new(),
            by_addr: AHashMap::new(),
            listeners: Vec::new(),
            limits,
            layers,
            scratch: Vec::new(),
            next_sweep: now + SWEEP,
            counters: ConnCounters::default(),
        }
    }

    /// Listener `index` of the ring serves `transport` on `leg`.
    pub(crate) fn add_listener(&mut self, index: usize, leg: LegId, transport: Transport) {
        if self.listeners.len() <= index {
            self.listeners
                .resize(index + 1, (LegId::External, Transport::Tcp));
        }
        if let Some(l) = self.listeners.get_mut(index) {
            *l = (leg, transport);
        }
    }

    /// The reference the proxy gets for connection `id`.
    #[allow(dead_code)]
    fn conn_ref(&self, c: &Conn) -> ConnRef {
        ConnRef::new(self.shard, c.transport, c.id.raw())
    }

    pub(crate) fn on_accepted(
        &mut self,
        listener: usize,
        id: StreamId,
        peer: SocketAddr,
        now: Instant,
        tx: &mut Tx<'_>,
    ) {
        let Some(&(leg, transport)) = self.listeners.get(listener) else {
            tx.close(id);
            return;
        };
        if self.map.len() >= self.limits.max_connections {
            self.counters.refused += 1;
            debug!(
                "shard {}: connection from {peer} refused: too many",
                self.shard
            );
            tx.close(id);
            return;
        }
        let Some(layer) = self.layers.server(transport) else {
            self.counters.refused += 1;
            tx.close(id);
            return;
        };
        self.counters.accepted += 1;
        let conn = Conn::new(id, transport, leg, peer, false, layer, now);
        self.map.insert(id.raw(), conn);
        self.by_addr.insert((transport, peer), id);
    }

    pub(crate) fn on_connected(&mut self, id: StreamId, tx: &mut Tx<'_>) {
        let Some(c) = self.map.get_mut(&id.raw()) else {
            return;
        };
        c.unsent = None;
        self.scratch.clear();
        c.layer.on_connected(&mut self.scratch);
        if !self.scratch.is_empty() && !tx.stream_send(id, &self.scratch) {
            tx.close(id);
        }
    }

    /// Connection `id` is gone; if it never got established, the messages
    /// that were waiting for it come back (to be answered `503`).
    pub(crate) fn on_closed(&mut self, id: StreamId) -> Option<Undelivered> {
        let c = self.map.remove(&id.raw())?;
        self.counters.closed += 1;
        if self.by_addr.get(&(c.transport, c.peer)) == Some(&id) {
            self.by_addr.remove(&(c.transport, c.peer));
        }
        debug!(
            "shard {}: {:?} connection with {} closed",
            self.shard, c.transport, c.peer
        );
        let bytes = c.unsent.filter(|u| !u.is_empty())?;
        self.counters.unreachable += 1;
        Some(Undelivered {
            bytes,
            dst: c.peer,
            leg: c.leg,
        })
    }

    /// Bytes arrived on `id`: unwrap them (answering what the layer must,
    /// e.g. handshakes) and hand the connection's plain input to the caller
    /// to frame, with where it came from. `None` when there is nothing to
    /// frame or the connection failed (then it is being closed).
    pub(crate) fn receive(
        &mut self,
        id: StreamId,
        bytes: &[u8],
        now: Instant,
        tx: &mut Tx<'_>,
    ) -> Option<(Vec<u8>, Inbound)> {
        let shard = self.shard;
        let c = self.map.get_mut(&id.raw())?;
        c.last_rx = now;
        if c.partial_since.is_none() {
            c.partial_since = Some(now);
        }
        self.scratch.clear();
        let out = c.layer.input(bytes, &mut c.input, &mut self.scratch);
        if !self.scratch.is_empty() && !tx.stream_send(id, &self.scratch) {
            tx.close(id);
            return None;
        }
        if out == LayerOut::Close {
            self.counters.layer_errors += 1;
            debug!(
                "shard {shard}: {:?} layer error from {}",
                c.transport, c.peer
            );
            tx.close(id);
            return None;
        }
        if c.input.is_empty() {
            if !c.layer.handshaking() && !c.layer.holds_partial() {
                c.partial_since = None;
            }
            return None;
        }
        let from = Inbound {
            src: c.peer,
            leg: c.leg,
            transport: c.transport,
            conn: ConnRef::new(shard, c.transport, id.raw()),
        };
        Some((std::mem::take(&mut c.input), from))
    }

    /// Answer a CRLFCRLF keep-alive on `id` with a CRLF.
    pub(crate) fn pong(&mut self, id: StreamId, tx: &mut Tx<'_>) {
        self.counters.keepalives += 1;
        let Some(c) = self.map.get_mut(&id.raw()) else {
            return;
        };
        self.scratch.clear();
        c.layer.output(b"\r\n", &mut self.scratch);
        if !tx.stream_send(id, &self.scratch) {
            tx.close(id);
        }
    }

    /// The caller framed `used` bytes off the input [`Conns::receive`]
    /// gave it; keep the rest for the next bytes, or close the connection
    /// on a framing failure.
    pub(crate) fn framed(
        &mut self,
        id: StreamId,
        mut input: Vec<u8>,
        used: usize,
        failure: Option<FrameFailure>,
        now: Instant,
        tx: &mut Tx<'_>,
    ) {
        input.drain(..used.min(input.len()));
        let Some(c) = self.map.get_mut(&id.raw()) else {
            return;
        };
        if input.is_empty() && !c.layer.handshaking() && !c.layer.holds_partial() {
            c.partial_since = None;
        } else if used > 0 {
            c.partial_since = Some(now);
        }
        // Bytes that arrived while the input was out (none today: the ring
        // delivers one completion at a time) go after the rest.
        input.extend_from_slice(&c.input);
        c.input = input;
        if let Some(f) = failure {
            match f {
                FrameFailure::TooBig => self.counters.too_big += 1,
                FrameFailure::BadLength => self.counters.bad_framing += 1,
            }
            debug!(
                "shard {}: closing connection from {}: {f:?}",
                self.shard, c.peer
            );
            tx.close(id);
        }
    }

    /// Send `bytes` (one SIP message) over `transport` to `dst`: on `conn`
    /// when it is ours and open, else on an open connection to `dst`, else
    /// on a new one from `leg`. `false` when it could not even be queued.
    #[allow(clippy::too_many_arguments)] // one message and where it goes
    pub(crate) fn send(
        &mut self,
        transport: Transport,
        dst: SocketAddr,
        conn: Option<ConnRef>,
        leg: LegId,
        bytes: &[u8],
        now: Instant,
        tx: &mut Tx<'_>,
    ) -> bool {
        let hinted = conn
            .filter(|c| c.shard() == self.shard)
            .map(|c| StreamId::from_raw(c.local()))
            .filter(|id| self.map.contains_key(&id.raw()) && tx.stream_alive(*id));
        let id = match hinted.or_else(|| {
            self.by_addr
                .get(&(transport, dst))
                .copied()
                .filter(|id| tx.stream_alive(*id))
        }) {
            Some(id) => id,
            None => match self.open(transport, dst, leg, now, tx) {
                Some(id) => id,
                None => {
                    self.counters.unreachable += 1;
                    return false;
                }
            },
        };
        let Some(c) = self.map.get_mut(&id.raw()) else {
            return false;
        };
        if let Some(unsent) = &mut c.unsent {
            unsent.extend_from_slice(bytes);
        }
        self.scratch.clear();
        c.layer.output(bytes, &mut self.scratch);
        tx.stream_send(id, &self.scratch)
    }

    fn open(
        &mut self,
        transport: Transport,
        dst: SocketAddr,
        leg: LegId,
        now: Instant,
        tx: &mut Tx<'_>,
    ) -> Option<StreamId> {
        if dst.ip().is_unspecified() || dst.port() == 0 {
            return None; // no address to open a connection to
        }
        if self.map.len() >= self.limits.max_connections {
            self.counters.refused += 1;
            return None;
        }
        let layer = self.layers.client(transport, dst)?;
        let id = tx.connect(dst, self.limits.connect_timeout)?;
        self.counters.opened += 1;
        debug!(
            "shard {}: opening {transport:?} connection to {dst}",
            self.shard
        );
        let conn = Conn::new(id, transport, leg, dst, true, layer, now);
        self.map.insert(id.raw(), conn);
        self.by_addr.insert((transport, dst), id);
        Some(id)
    }

    /// When the timers next need a look.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        (!self.map.is_empty()).then_some(self.next_sweep)
    }

    /// Close connections whose message or handshake is late, or that are idle.
    pub(crate) fn handle_timeout(&mut self, now: Instant, tx: &mut Tx<'_>) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + SWEEP;
        let limits = self.limits;
        for c in self.map.values() {
            let late = c
                .partial_since
                .is_some_and(|t| now.saturating_duration_since(t) > limits.message_timeout)
                || (c.layer.handshaking()
                    && now.saturating_duration_since(c.last_rx) > limits.message_timeout
                    && !c.outbound);
            let idle = now.saturating_duration_since(c.last_rx) > limits.idle_timeout;
            if late {
                self.counters.timed_out += 1;
                debug!(
                    "shard {}: connection from {} too slow, closed",
                    self.shard, c.peer
                );
                tx.close(c.id);
            } else if idle {
                self.counters.idle_closed += 1;
                tx.close(c.id);
            }
        }
    }

    /// A summary for the stop log.
    pub(crate) fn summary(&self) -> String {
        let c = &self.counters;
        format!(
            "accepted={} opened={} refused={} closed={} too_big={} bad_framing={} timed_out={} \
             idle_closed={} layer_errors={} keepalives={} unreachable={} open={}",
            c.accepted,
            c.opened,
            c.refused,
            c.closed,
            c.too_big,
            c.bad_framing,
            c.timed_out,
            c.idle_closed,
            c.layer_errors,
            c.keepalives,
            c.unreachable,
            self.map.len()
        )
    }
}
