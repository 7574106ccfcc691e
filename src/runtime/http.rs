//! One shard's HTTP side: the client connections its HTTP and HTTPS
//! listeners accepted and the node connections it opened, driven through
//! the sans-IO [`HttpBalancer`] on the shard's own ring.
//!
//! The runtime owns what the balancer cannot see: TLS (HTTPS clients, TLS
//! to nodes) through the same [`Layer`]s SIP streams use, and flow control
//! against the kernel. When bytes read from one connection are queued on
//! another faster than that peer takes them, the source is not read any
//! more (`Tx::pause_recv`) until the destination's backlog drains
//! (`Tx::watch_drain`): a 100 MB upload or download crosses with a bounded
//! amount buffered, whatever the speeds of the two sides.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use log::debug;

use super::layers::{Layer, LayerOut, Layers};
use super::uring::{StreamId, Tx};
use crate::http::{Action, Actions, HttpBalancer, Settings};
use crate::registry::NodeSet;
use crate::sip::transport::Transport;
use crate::stats::board::HttpTotals;

/// Longest an outgoing node connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A destination with more than this queued stops its source being read.
const HIGH_WATER: usize = 256 << 10;
/// ... until it is down to this.
const LOW_WATER: usize = 64 << 10;

/// One connection's runtime state.
struct Conn {
    /// TLS, when the connection speaks it.
    layer: Option<Layer>,
    /// The balancer asked not to read it.
    paused_by_balancer: bool,
    /// Not read while a destination of its bytes drains.
    paused_by_backlog: bool,
}

/// A listener of this side.
struct Listener {
    index: usize,
    local: SocketAddr,
    secure: bool,
}

/// The shard's HTTP balancer and the connections it owns.
pub(crate) struct Http {
    balancer: HttpBalancer,
    out: Actions,
    listeners: Vec<Listener>,
    conns: AHashMap<u64, Conn>,
    /// Connects in flight: stream id → the balancer's token.
    connecting: AHashMap<u64, u64>,
    /// Closes waiting for their connection's queued bytes to leave.
    closing: Vec<StreamId>,
    /// Connects that could not even start (told to the balancer next).
    pending_failures: Vec<u64>,
    /// Destination → sources paused until it drains.
    waiting: AHashMap<u64, Vec<u64>>,
    layers: Layers,
    /// The node snapshot last given to the balancer.
    nodes: Arc<NodeSet>,
    /// Scratch: decrypted input, TLS answers, encrypted output.
    plain: Vec<u8>,
    reply: Vec<u8>,
    wire: Vec<u8>,
}

impl Http {
    pub(crate) fn new(settings: Settings, layers: Layers, now: Instant) -> Http {
        Http {
            balancer: HttpBalancer::new(settings, now),
            out: Actions::default(),
            listeners: Vec::new(),
            conns: AHashMap::new(),
            connecting: AHashMap::new(),
            closing: Vec::new(),
            pending_failures: Vec::new(),
            waiting: AHashMap::new(),
            layers,
            nodes: Arc::new(NodeSet::default()),
            plain: Vec::new(),
            reply: Vec::new(),
            wire: Vec::new(),
        }
    }

    /// Ring listener `index` (bound to `local`) accepts HTTP clients, over
    /// TLS when `secure`.
    pub(crate) fn add_listener(&mut self, index: usize, local: SocketAddr, secure: bool) {
        self.listeners.push(Listener {
            index,
            local,
            secure,
        });
    }

    /// Whether listener `index` is an HTTP one.
    pub(crate) fn serves_listener(&self, index: usize) -> bool {
        self.listeners.iter().any(|l| l.index == index)
    }

    /// Whether connection `id` is an HTTP one.
    pub(crate) fn owns(&self, id: StreamId) -> bool {
        self.conns.contains_key(&id.raw())
    }

    /// Give the balancer `nodes` when it is a new snapshot.
    pub(crate) fn install_nodes(&mut self, nodes: &Arc<NodeSet>) {
        if !Arc::ptr_eq(&self.nodes, nodes) {
            self.nodes = Arc::clone(nodes);
            self.balancer.set_nodes(Arc::clone(nodes));
        }
    }

    /// What the statistics board carries of this side.
    pub(crate) fn totals(&self) -> HttpTotals {
        let c = self.balancer.counters();
        HttpTotals {
            requests: c.requests,
            bytes_to_server: c.bytes_to_server,
            bytes_to_client: c.bytes_to_client,
            connections: self.conns.len() as u64,
        }
    }

    pub(crate) fn on_accepted(
        &mut self,
        listener: usize,
        id: StreamId,
        peer: SocketAddr,
        now: Instant,
        tx: &mut Tx<'_>,
    ) {
        let Some(l) = self.listeners.iter().find(|l| l.index == listener) else {
            return tx.close(id);
        };
        let (local, secure) = (l.local, l.secure);
        let layer = if secure {
            match self.layers.server(Transport::Tls) {
                Some(layer) => Some(layer),
                None => {
                    debug!("http: no TLS server context for {peer}");
                    return tx.close(id);
                }
            }
        } else {
            None
        };
        self.conns.insert(
            id.raw(),
            Conn {
                layer,
                paused_by_balancer: false,
                paused_by_backlog: false,
            },
        );
        self.balancer
            .on_client_accepted(id.raw(), peer, local, secure, now, &mut self.out);
        self.execute(None, now, tx);
    }

    pub(crate) fn on_connected(&mut self, id: StreamId, now: Instant, tx: &mut Tx<'_>) {
        let Some(token) = self.connecting.remove(&id.raw()) else {
            return;
        };
        if let Some(layer) = self.conns.get_mut(&id.raw()).and_then(|c| c.layer.as_mut()) {
            self.wire.clear();
            layer.on_connected(&mut self.wire);
            if !self.wire.is_empty() {
                tx.stream_send(id, &self.wire);
            }
        }
        self.balancer
            .on_connected(token, id.raw(), now, &mut self.out);
        self.execute(None, now, tx);
    }

    pub(crate) fn on_data(&mut self, id: StreamId, bytes: &[u8], now: Instant, tx: &mut Tx<'_>) {
        let Some(conn) = self.conns.get_mut(&id.raw()) else {
            return;
        };
        match conn.layer.as_mut() {
            None => self.balancer.on_data(id.raw(), bytes, now, &mut self.out),
            Some(layer) => {
                self.plain.clear();
                self.reply.clear();
                let verdict = layer.input(bytes, &mut self.plain, &mut self.reply);
                if !self.reply.is_empty() {
                    tx.stream_send(id, &self.reply);
                }
                if !self.plain.is_empty() {
                    self.balancer
                        .on_data(id.raw(), &self.plain, now, &mut self.out);
                }
                if verdict == LayerOut::Close && !self.closing.contains(&id) {
                    self.closing.push(id);
                }
            }
        }
        self.execute(Some(id), now, tx);
    }

    pub(crate) fn on_drained(&mut self, id: StreamId, tx: &mut Tx<'_>) {
        self.release_waiting(id.raw(), tx);
    }

    pub(crate) fn on_closed(&mut self, id: StreamId, now: Instant, tx: &mut Tx<'_>) {
        self.conns.remove(&id.raw());
        self.closing.retain(|c| *c != id);
        self.release_waiting(id.raw(), tx);
        match self.connecting.remove(&id.raw()) {
            Some(token) => self.balancer.on_connect_failed(token, now, &mut self.out),
            None => self.balancer.on_closed(id.raw(), now, &mut self.out),
        }
        self.execute(None, now, tx);
    }

    /// When the balancer's timers next fire.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.balancer.poll_timeout()
    }

    /// Whether closes are waiting for their bytes to leave.
    pub(crate) fn has_pending_closes(&self) -> bool {
        !self.closing.is_empty()
    }

    /// Run due timers and finish closes whose bytes have left.
    pub(crate) fn handle_timeout(&mut self, now: Instant, tx: &mut Tx<'_>) {
        if self.balancer.poll_timeout().is_some_and(|t| t <= now) {
            self.balancer.handle_timeout(now, &mut self.out);
            self.execute(None, now, tx);
        }
        self.finish_closes(tx);
    }

    /// Sources paused for `dst` may be read again.
    fn release_waiting(&mut self, dst: u64, tx: &mut Tx<'_>) {
        let Some(sources) = self.waiting.remove(&dst) else {
            return;
        };
        for src in sources {
            if let Some(c) = self.conns.get_mut(&src) {
                c.paused_by_backlog = false;
                if !c.paused_by_balancer {
                    tx.resume_recv(StreamId::from_raw(src));
                }
            }
        }
    }

    fn finish_closes(&mut self, tx: &mut Tx<'_>) {
        self.closing.retain(|&id| {
            if tx.stream_backlog(id) == 0 {
                tx.close(id);
                false
            } else {
                true
            }
        });
    }

    /// Carry out the balancer's actions; `src` is the connection whose
    /// bytes caused them (its reading stops when they pile up elsewhere).
    fn execute(&mut self, src: Option<StreamId>, now: Instant, tx: &mut Tx<'_>) {
        // A connect that fails at once is answered at once; bounded, so a
        // balancer that retries at once cannot spin here.
        for _ in 0..4 {
            self.run_actions(src, tx);
            if self.pending_failures.is_empty() {
                break;
            }
            for token in std::mem::take(&mut self.pending_failures) {
                self.balancer.on_connect_failed(token, now, &mut self.out);
            }
        }
        self.pending_failures.clear();
        self.finish_closes(tx);
    }

    fn run_actions(&mut self, src: Option<StreamId>, tx: &mut Tx<'_>) {
        for action in &self.out.list {
            match action {
                Action::Send { conn, range } => {
                    let id = StreamId::from_raw(*conn);
                    let bytes = self.out.buf.get(range.clone()).unwrap_or(&[]);
                    let sent = match self.conns.get_mut(conn).and_then(|c| c.layer.as_mut()) {
                        Some(layer) => {
                            self.wire.clear();
                            layer.output(bytes, &mut self.wire);
                            tx.stream_send(id, &self.wire)
                        }
                        None => tx.stream_send(id, bytes),
                    };
                    if !sent {
                        debug!("http: send on {conn} failed (connection gone)");
                        continue;
                    }
                    if let Some(src) = src.filter(|s| s.raw() != *conn) {
                        if tx.stream_backlog(id) > HIGH_WATER {
                            hold(&mut self.conns, &mut self.waiting, src, id, tx);
                        }
                    }
                }
                Action::Connect { token, addr, tls } => {
                    let layer = if *tls {
                        match self.layers.client(Transport::Tls, *addr) {
                            Some(l) => Some(l),
                            None => {
                                debug!("http: no TLS client context for {addr}");
                                self.pending_failures.push(*token);
                                continue;
                            }
                        }
                    } else {
                        None
                    };
                    match tx.connect(*addr, CONNECT_TIMEOUT) {
                        Some(id) => {
                            self.conns.insert(
                                id.raw(),
                                Conn {
                                    layer,
                                    paused_by_balancer: false,
                                    paused_by_backlog: false,
                                },
                            );
                            self.connecting.insert(id.raw(), *token);
                        }
                        None => {
                            debug!("http: cannot connect to {addr}");
                            self.pending_failures.push(*token);
                        }
                    }
                }
                Action::Close { conn } => {
                    let id = StreamId::from_raw(*conn);
                    if let Some(layer) = self.conns.get_mut(conn).and_then(|c| c.layer.as_mut()) {
                        self.wire.clear();
                        layer.close_notify(&mut self.wire);
                        if !self.wire.is_empty() {
                            tx.stream_send(id, &self.wire);
                        }
                    }
                    if !self.closing.contains(&id) {
                        self.closing.push(id);
                    }
                }
                Action::Pause { conn } => {
                    if let Some(c) = self.conns.get_mut(conn) {
                        c.paused_by_balancer = true;
                        tx.pause_recv(StreamId::from_raw(*conn));
                    }
                }
                Action::Resume { conn } => {
                    if let Some(c) = self.conns.get_mut(conn) {
                        c.paused_by_balancer = false;
                        if !c.paused_by_backlog {
                            tx.resume_recv(StreamId::from_raw(*conn));
                        }
                    }
                }
            }
        }
        self.out.clear();
    }
}

/// Stop reading `src` until `dst`'s backlog is down to the low mark.
fn hold(
    conns: &mut AHashMap<u64, Conn>,
    waiting: &mut AHashMap<u64, Vec<u64>>,
    src: StreamId,
    dst: StreamId,
    tx: &mut Tx<'_>,
) {
    let Some(c) = conns.get_mut(&src.raw()) else {
        return;
    };
    if c.paused_by_backlog {
        return;
    }
    c.paused_by_backlog = true;
    tx.pause_recv(src);
    waiting.entry(dst.raw()).or_default().push(src.raw());
    tx.watch_drain(dst, LOW_WATER);
}
