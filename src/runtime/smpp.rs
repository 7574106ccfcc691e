//! One shard's SMPP side: the ESME connections its SMPP listeners (plain
//! `smppPort`, TLS `smppSslPort`) accepted and the SMSC connections it
//! opened, driven through the sans-IO [`SmppBalancer`] on the shard's own
//! ring; TLS and flow control are [`Links`]'.
//!
//! The ring's stream ids are the balancer's connection ids. Its actions
//! are executed in order: sends are queued on the connection, connects
//! opened with a fixed limit, and a close waits until what was queued
//! before it has left.
//!
//! TLS towards SMSCs: when a TLS listener is configured and
//! `terminateTLSTraffic` is false, every SMSC connection is TLS. (The
//! original chose per ESME, and on a retry looked up a TLS port that
//! `remoteServers` never provides; an SMSC link that ESMEs of both kinds
//! share in mux mode cannot follow each ESME anyway.)

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::layers::Layers;
use super::links::{execute, Links, Side};
use super::uring::{StreamId, Tx};
use crate::smpp::proxy::{Action, Actions, Settings, SmppBalancer};

/// Longest an outgoing SMSC connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The shard's SMPP balancer and the connections it owns.
pub(crate) struct Smpp {
    balancer: SmppBalancer,
    out: Actions,
    /// Ring listener indices that accept ESMEs, and whether over TLS.
    listeners: Vec<(usize, bool)>,
    links: Links,
    /// SMSC connections are TLS.
    tls_to_smsc: bool,
}

impl Smpp {
    pub(crate) fn new(settings: Settings, layers: Layers, tls_to_smsc: bool, now: Instant) -> Smpp {
        Smpp {
            balancer: SmppBalancer::new(settings, now),
            out: Actions::default(),
            listeners: Vec::new(),
            links: Links::new(layers),
            tls_to_smsc,
        }
    }

    /// Ring listener `index` accepts ESMEs, over TLS when `tls`.
    pub(crate) fn add_listener(&mut self, index: usize, tls: bool) {
        self.listeners.push((index, tls));
    }

    /// A reloaded `remoteServers` (see `SmppBalancer::set_servers`).
    pub(crate) fn set_servers(&mut self, servers: Vec<std::net::SocketAddr>) -> bool {
        self.balancer.set_servers(servers)
    }

    /// The balancer's counters (for the statistics board).
    pub(crate) fn counters(&self) -> &crate::smpp::proxy::SmppCounters {
        self.balancer.counters()
    }

    /// Open ESME and SMSC connections (for the statistics board).
    pub(crate) fn connections(&self) -> u64 {
        self.balancer.open_connections() as u64
    }

    /// Whether listener `index` is an SMPP one.
    pub(crate) fn serves_listener(&self, index: usize) -> bool {
        self.listeners.iter().any(|(i, _)| *i == index)
    }

    /// Whether connection `id` is an SMPP one.
    pub(crate) fn owns(&self, id: StreamId) -> bool {
        self.links.owns(id)
    }

    pub(crate) fn on_accepted(
        &mut self,
        listener: usize,
        id: StreamId,
        peer: SocketAddr,
        now: Instant,
        tx: &mut Tx<'_>,
    ) {
        let tls = self.listeners.iter().any(|(i, tls)| *i == listener && *tls);
        if self.links.accept(id, tls, tx) {
            self.balancer
                .on_esme_connected(id.raw(), peer, now, &mut self.out);
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
            self.balancer.on_bytes(id.raw(), plain, now, &mut self.out);
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

    /// Run due timers and finish closes whose bytes have left.
    pub(crate) fn handle_timeout(&mut self, now: Instant, tx: &mut Tx<'_>) {
        if self.balancer.poll_timeout().is_some_and(|t| t <= now) {
            self.balancer.handle_timeout(now, &mut self.out);
            self.execute(None, now, tx);
        }
        self.links.finish_closes(tx);
    }

    /// Whether closes are waiting for their bytes to leave.
    pub(crate) fn has_pending_closes(&self) -> bool {
        self.links.has_pending_closes()
    }

    fn execute(&mut self, src: Option<StreamId>, now: Instant, tx: &mut Tx<'_>) {
        execute(self, src, now, tx);
    }
}

impl Side for Smpp {
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
                Action::Connect { token, addr } => {
                    let tls = self.tls_to_smsc;
                    self.links.connect(*token, *addr, tls, CONNECT_TIMEOUT, tx);
                }
                Action::Close { conn } => self.links.close(StreamId::from_raw(*conn), tx),
            }
        }
        self.out.clear();
    }
}
