//! One shard's HTTP side: the client connections its HTTP and HTTPS
//! listeners accepted and the node connections it opened, driven through
//! the sans-IO [`HttpBalancer`] on the shard's own ring.
//!
//! TLS (HTTPS clients, TLS to nodes) and flow control are the runtime's
//! ([`Links`]): a 100 MB upload or download crosses with a bounded amount
//! buffered, whatever the speeds of the two sides.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::layers::Layers;
use super::links::{execute, Links, Side};
use super::uring::{StreamId, Tx};
use crate::http::{Action, Actions, HttpBalancer, Settings};
use crate::registry::NodeSet;
use crate::stats::board::HttpTotals;

/// Longest an outgoing node connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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
    links: Links,
    /// The node snapshot last given to the balancer.
    nodes: Arc<NodeSet>,
}

impl Http {
    pub(crate) fn new(settings: Settings, layers: Layers, now: Instant) -> Http {
        Http {
            balancer: HttpBalancer::new(settings, now),
            out: Actions::default(),
            listeners: Vec::new(),
            links: Links::new(layers),
            nodes: Arc::new(NodeSet::default()),
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
        self.links.owns(id)
    }

    /// A reloaded `algorithm` section.
    pub(crate) fn set_algorithm(&mut self, cfg: &crate::config::AlgorithmConfig) {
        self.balancer.set_algorithm(cfg);
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
            connections: self.links.len() as u64,
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
        if self.links.accept(id, secure, tx) {
            self.balancer
                .on_client_accepted(id.raw(), peer, local, secure, now, &mut self.out);
            self.execute(None, now, tx);
        }
    }

    pub(crate) fn on_connected(&mut self, id: StreamId, now: Instant, tx: &mut Tx<'_>) {
        if let Some(token) = self.links.connected(id, tx) {
            self.balancer
                .on_connected(token, id.raw(), now, &mut self.out);
            self.execute(None, now, tx);
        }
    }

    pub(crate) fn on_data(&mut self, id: StreamId, bytes: &[u8], now: Instant, tx: &mut Tx<'_>) {
        let plain = self.links.input(id, bytes, tx);
        if !plain.is_empty() {
            self.balancer.on_data(id.raw(), plain, now, &mut self.out);
        }
        self.execute(Some(id), now, tx);
    }

    pub(crate) fn on_drained(&mut self, id: StreamId, tx: &mut Tx<'_>) {
        self.links.drained(id, tx);
    }

    pub(crate) fn on_closed(&mut self, id: StreamId, now: Instant, tx: &mut Tx<'_>) {
        match self.links.closed(id, tx) {
            Ok(()) => self.balancer.on_closed(id.raw(), now, &mut self.out),
            Err(token) => self.balancer.on_connect_failed(token, now, &mut self.out),
        }
        self.execute(None, now, tx);
    }

    /// When the balancer's timers next fire.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.balancer.poll_timeout()
    }

    /// Whether closes are waiting for their bytes to leave.
    pub(crate) fn has_pending_closes(&self) -> bool {
        self.links.has_pending_closes()
    }

    /// Run due timers and finish closes whose bytes have left.
    pub(crate) fn handle_timeout(&mut self, now: Instant, tx: &mut Tx<'_>) {
        if self.balancer.poll_timeout().is_some_and(|t| t <= now) {
            self.balancer.handle_timeout(now, &mut self.out);
            self.execute(None, now, tx);
        }
        self.links.finish_closes(tx);
    }

    fn execute(&mut self, src: Option<StreamId>, now: Instant, tx: &mut Tx<'_>) {
        execute(self, src, now, tx);
    }
}

impl Side for Http {
    fn links(&mut self) -> &mut Links {
        &mut self.links
    }

    fn connect_failed(&mut self, token: u64, now: Instant) {
        self.balancer.on_connect_failed(token, now, &mut self.out);
    }

    fn run_actions(&mut self, src: Option<StreamId>, tx: &mut Tx<'_>) {
        for action in &self.out.list {
            match action {
                Action::Send { conn, range } => {
                    let bytes = self.out.buf.get(range.clone()).unwrap_or(&[]);
                    self.links.send(StreamId::from_raw(*conn), bytes, src, tx);
                }
                Action::Connect { token, addr, tls } => {
                    self.links.connect(*token, *addr, *tls, CONNECT_TIMEOUT, tx);
                }
                Action::Close { conn } => self.links.close(StreamId::from_raw(*conn), tx),
                Action::Pause { conn } => {
                    self.links
                        .hold_by_balancer(StreamId::from_raw(*conn), true, tx);
                }
                Action::Resume { conn } => {
                    self.links
                        .hold_by_balancer(StreamId::from_raw(*conn), false, tx);
                }
            }
        }
        self.out.clear();
    }
}
