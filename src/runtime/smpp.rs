//! One shard's SMPP side: the ESME connections its SMPP listener accepted
//! and the SMSC connections it opened, driven through the sans-IO
//! [`SmppBalancer`] on the shard's own ring.
//!
//! The ring's stream ids are the balancer's connection ids. Its actions
//! are executed in order: sends are queued on the connection, connects
//! opened with `smpp.timeoutConnection` as their limit, and a close waits
//! until what was queued before it has left.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ahash::{AHashMap, AHashSet};
use log::debug;

use super::uring::{StreamId, Tx};
use crate::smpp::proxy::{Action, Actions, Settings, SmppBalancer};

/// Longest an outgoing SMSC connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The shard's SMPP balancer and the connections it owns.
pub(crate) struct Smpp {
    balancer: SmppBalancer,
    out: Actions,
    /// Ring listener indices that accept ESMEs.
    listeners: Vec<usize>,
    /// Connections this side owns (ESMEs and SMSC links).
    owned: AHashSet<u64>,
    /// Connects in flight: stream id → the balancer's token.
    connecting: AHashMap<u64, u64>,
    /// Closes waiting for their connection's queued bytes to leave.
    closing: Vec<StreamId>,
    /// Connects that could not even start (told to the balancer next).
    pending_failures: Vec<u64>,
}

impl Smpp {
    pub(crate) fn new(settings: Settings, now: Instant) -> Smpp {
        Smpp {
            balancer: SmppBalancer::new(settings, now),
            out: Actions::default(),
            listeners: Vec::new(),
            owned: AHashSet::new(),
            connecting: AHashMap::new(),
            closing: Vec::new(),
            pending_failures: Vec::new(),
        }
    }

    /// Ring listener `index` accepts ESMEs.
    pub(crate) fn add_listener(&mut self, index: usize) {
        self.listeners.push(index);
    }

    /// The balancer's counters (for the statistics board).
    pub(crate) fn counters(&self) -> &crate::smpp::proxy::SmppCounters {
        self.balancer.counters()
    }

    /// Whether listener `index` is an SMPP one.
    pub(crate) fn serves_listener(&self, index: usize) -> bool {
        self.listeners.contains(&index)
    }

    /// Whether connection `id` is an SMPP one.
    pub(crate) fn owns(&self, id: StreamId) -> bool {
        self.owned.contains(&id.raw())
    }

    pub(crate) fn on_accepted(
        &mut self,
        id: StreamId,
        peer: SocketAddr,
        now: Instant,
        tx: &mut Tx<'_>,
    ) {
        self.owned.insert(id.raw());
        self.balancer
            .on_esme_connected(id.raw(), peer, now, &mut self.out);
        self.execute(now, tx);
    }

    pub(crate) fn on_connected(&mut self, id: StreamId, now: Instant, tx: &mut Tx<'_>) {
        if let Some(token) = self.connecting.remove(&id.raw()) {
            self.balancer
                .on_connected(token, id.raw(), now, &mut self.out);
            self.execute(now, tx);
        }
    }

    pub(crate) fn on_data(&mut self, id: StreamId, bytes: &[u8], now: Instant, tx: &mut Tx<'_>) {
        self.balancer.on_bytes(id.raw(), bytes, now, &mut self.out);
        self.execute(now, tx);
    }

    pub(crate) fn on_closed(&mut self, id: StreamId, now: Instant, tx: &mut Tx<'_>) {
        self.owned.remove(&id.raw());
        self.closing.retain(|c| *c != id);
        match self.connecting.remove(&id.raw()) {
            Some(token) => self.balancer.on_connect_failed(token, now, &mut self.out),
            None => self.balancer.on_closed(id.raw(), now, &mut self.out),
        }
        self.execute(now, tx);
    }

    /// When the balancer's timers next fire.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.balancer.poll_timeout()
    }

    /// Run due timers and finish closes whose bytes have left.
    pub(crate) fn handle_timeout(&mut self, now: Instant, tx: &mut Tx<'_>) {
        if self.balancer.poll_timeout().is_some_and(|t| t <= now) {
            self.balancer.handle_timeout(now, &mut self.out);
            self.execute(now, tx);
        }
        self.finish_closes(tx);
    }

    /// Whether closes are waiting for their bytes to leave.
    pub(crate) fn has_pending_closes(&self) -> bool {
        !self.closing.is_empty()
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

    fn execute(&mut self, now: Instant, tx: &mut Tx<'_>) {
        // A connect that fails at once is answered at once; bounded, so a
        // balancer that retries at once cannot spin here.
        for _ in 0..4 {
            self.run_actions(tx);
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

    fn run_actions(&mut self, tx: &mut Tx<'_>) {
        for action in &self.out.list {
            match action {
                Action::Send { conn, range } => {
                    let id = StreamId::from_raw(*conn);
                    let bytes = self.out.buf.get(range.clone()).unwrap_or(&[]);
                    if !tx.stream_send(id, bytes) {
                        debug!("smpp: send on {conn} failed (connection gone)");
                    }
                }
                Action::Connect { token, addr } => match tx.connect(*addr, CONNECT_TIMEOUT) {
                    Some(id) => {
                        self.owned.insert(id.raw());
                        self.connecting.insert(id.raw(), *token);
                    }
                    None => {
                        debug!("smpp: cannot connect to {addr}");
                        // Reported as a failed connect on the next event.
                        self.pending_failures.push(*token);
                    }
                },
                Action::Close { conn } => {
                    let id = StreamId::from_raw(*conn);
                    if !self.closing.contains(&id) {
                        self.closing.push(id);
                    }
                }
            }
        }
        self.out.clear();
    }
}
