//! The connections of a proxying side (HTTP, SMPP) on a shard's ring:
//! which ones it owns, their TLS layers, connects in flight (stream id →
//! the sans-IO balancer's token), closes that wait for queued bytes, and
//! flow control against the kernel.
//!
//! Flow control: when bytes read from one connection are queued on
//! another faster than that peer takes them, the source is not read any
//! more (`Tx::pause_recv`) until the destination's backlog drains
//! (`Tx::watch_drain`). A balancer may also pause a connection itself
//! (its own buffer for it is full); a connection is read again only when
//! neither holds it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ahash::AHashMap;
use log::debug;

use super::layers::{Layer, LayerOut, Layers};
use super::uring::{StreamId, Tx};
use crate::sip::transport::Transport;

/// A destination with more than this queued stops its source being read.
const HIGH_WATER: usize = 256 << 10;
/// ... until it is down to this.
const LOW_WATER: usize = 64 << 10;

/// One connection's state.
struct Link {
    /// TLS, when the connection speaks it.
    layer: Option<Layer>,
    /// The balancer asked not to read it.
    held_by_balancer: bool,
    /// Not read while a destination of its bytes drains.
    held_by_backlog: bool,
}

/// Every connection one side owns.
pub(crate) struct Links {
    links: AHashMap<u64, Link>,
    /// Connects in flight: stream id → the balancer's token.
    connecting: AHashMap<u64, u64>,
    /// Closes waiting for their connection's queued bytes to leave.
    closing: Vec<StreamId>,
    /// Connects that could not even start (told to the balancer next).
    failed: Vec<u64>,
    /// Destination → sources held until it drains.
    waiting: AHashMap<u64, Vec<u64>>,
    layers: Layers,
    /// Scratch: decrypted input, TLS answers, encrypted output.
    plain: Vec<u8>,
    reply: Vec<u8>,
    wire: Vec<u8>,
}

impl Links {
    pub(crate) fn new(layers: Layers) -> Links {
        Links {
            links: AHashMap::new(),
            connecting: AHashMap::new(),
            closing: Vec::new(),
            failed: Vec::new(),
            waiting: AHashMap::new(),
            layers,
            plain: Vec::new(),
            reply: Vec::new(),
            wire: Vec::new(),
        }
    }

    /// Whether `id` is one of ours.
    pub(crate) fn owns(&self, id: StreamId) -> bool {
        self.links.contains_key(&id.raw())
    }

    /// Connections open now.
    pub(crate) fn len(&self) -> usize {
        self.links.len()
    }

    /// Take a connection a listener accepted, over TLS when `tls`; `false`
    /// (and closed) when TLS cannot be served.
    pub(crate) fn accept(&mut self, id: StreamId, tls: bool, tx: &mut Tx<'_>) -> bool {
        let layer = if tls {
            match self.layers.server(Transport::Tls) {
                Some(layer) => Some(layer),
                None => {
                    debug!("no TLS server context: connection {} closed", id.raw());
                    tx.close(id);
                    return false;
                }
            }
        } else {
            None
        };
        self.insert(id, layer);
        true
    }

    /// Open a connection to `addr` (TLS when `tls`) for `token`; when it
    /// cannot even start, the token is in [`Links::take_failed`].
    pub(crate) fn connect(
        &mut self,
        token: u64,
        addr: SocketAddr,
        tls: bool,
        timeout: Duration,
        tx: &mut Tx<'_>,
    ) {
        let layer = if tls {
            match self.layers.client(Transport::Tls, addr) {
                Some(l) => Some(l),
                None => {
                    debug!("no TLS client context for {addr}");
                    self.failed.push(token);
                    return;
                }
            }
        } else {
            None
        };
        match tx.connect(addr, timeout) {
            Some(id) => {
                self.insert(id, layer);
                self.connecting.insert(id.raw(), token);
            }
            None => {
                debug!("cannot connect to {addr}");
                self.failed.push(token);
            }
        }
    }

    fn insert(&mut self, id: StreamId, layer: Option<Layer>) {
        self.links.insert(
            id.raw(),
            Link {
                layer,
                held_by_balancer: false,
                held_by_backlog: false,
            },
        );
    }

    /// Tokens of connects that could not start.
    pub(crate) fn take_failed(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.failed)
    }

    /// Our connect `id` is up: its token (the TLS handshake is started).
    pub(crate) fn connected(&mut self, id: StreamId, tx: &mut Tx<'_>) -> Option<u64> {
        let token = self.connecting.remove(&id.raw())?;
        if let Some(layer) = self.links.get_mut(&id.raw()).and_then(|c| c.layer.as_mut()) {
            self.wire.clear();
            layer.on_connected(&mut self.wire);
            if !self.wire.is_empty() {
                tx.stream_send(id, &self.wire);
            }
        }
        Some(token)
    }

    /// `id` is gone: `Err(token)` when it was a connect that never came
    /// up, else `Ok(())`.
    pub(crate) fn closed(&mut self, id: StreamId, tx: &mut Tx<'_>) -> Result<(), u64> {
        self.links.remove(&id.raw());
        self.closing.retain(|c| *c != id);
        self.release(id, tx);
        match self.connecting.remove(&id.raw()) {
            Some(token) => Err(token),
            None => Ok(()),
        }
    }

    /// Received `bytes` on `id`: the plain bytes for the balancer (TLS
    /// answers already queued; a broken TLS session is closed once its
    /// alert has left).
    pub(crate) fn input<'a>(
        &'a mut self,
        id: StreamId,
        bytes: &'a [u8],
        tx: &mut Tx<'_>,
    ) -> &'a [u8] {
        let Some(layer) = self.links.get_mut(&id.raw()).and_then(|c| c.layer.as_mut()) else {
            return bytes;
        };
        self.plain.clear();
        self.reply.clear();
        let verdict = layer.input(bytes, &mut self.plain, &mut self.reply);
        if !self.reply.is_empty() {
            tx.stream_send(id, &self.reply);
        }
        if verdict == LayerOut::Close && !self.closing.contains(&id) {
            self.closing.push(id);
        }
        &self.plain
    }

    /// Send `bytes` on `conn`; `src` is the connection whose bytes these
    /// are (held while `conn` has too much queued).
    pub(crate) fn send(
        &mut self,
        conn: StreamId,
        bytes: &[u8],
        src: Option<StreamId>,
        tx: &mut Tx<'_>,
    ) {
        let sent = match self
            .links
            .get_mut(&conn.raw())
            .and_then(|c| c.layer.as_mut())
        {
            Some(layer) => {
                self.wire.clear();
                layer.output(bytes, &mut self.wire);
                tx.stream_send(conn, &self.wire)
            }
            None => tx.stream_send(conn, bytes),
        };
        if !sent {
            debug!("send on {} failed (connection gone)", conn.raw());
            return;
        }
        if let Some(src) = src.filter(|s| *s != conn) {
            if tx.stream_backlog(conn) > HIGH_WATER {
                self.hold(src, conn, tx);
            }
        }
    }

    /// Close `conn` once what is queued on it has left (TLS: after a
    /// `close_notify`).
    pub(crate) fn close(&mut self, conn: StreamId, tx: &mut Tx<'_>) {
        if self.closing.contains(&conn) {
            return;
        }
        if let Some(layer) = self
            .links
            .get_mut(&conn.raw())
            .and_then(|c| c.layer.as_mut())
        {
            self.wire.clear();
            layer.close_notify(&mut self.wire);
            if !self.wire.is_empty() {
                tx.stream_send(conn, &self.wire);
            }
        }
        self.closing.push(conn);
    }

    /// The balancer asks (`hold`) or no longer asks that `conn` not be read.
    pub(crate) fn hold_by_balancer(&mut self, conn: StreamId, hold: bool, tx: &mut Tx<'_>) {
        let Some(c) = self.links.get_mut(&conn.raw()) else {
            return;
        };
        c.held_by_balancer = hold;
        if hold {
            tx.pause_recv(conn);
        } else if !c.held_by_backlog {
            tx.resume_recv(conn);
        }
    }

    /// `dst`'s backlog drained: its sources may be read again.
    pub(crate) fn drained(&mut self, dst: StreamId, tx: &mut Tx<'_>) {
        self.release(dst, tx);
    }

    /// Whether closes are waiting for their bytes to leave.
    pub(crate) fn has_pending_closes(&self) -> bool {
        !self.closing.is_empty()
    }

    /// Close the connections whose queued bytes have left.
    pub(crate) fn finish_closes(&mut self, tx: &mut Tx<'_>) {
        self.closing.retain(|&id| {
            if tx.stream_backlog(id) == 0 {
                tx.close(id);
                false
            } else {
                true
            }
        });
    }

    /// Stop reading `src` until `dst`'s backlog is down to the low mark.
    fn hold(&mut self, src: StreamId, dst: StreamId, tx: &mut Tx<'_>) {
        let Some(c) = self.links.get_mut(&src.raw()) else {
            return;
        };
        if c.held_by_backlog {
            return;
        }
        c.held_by_backlog = true;
        tx.pause_recv(src);
        self.waiting.entry(dst.raw()).or_default().push(src.raw());
        tx.watch_drain(dst, LOW_WATER);
    }

    fn release(&mut self, dst: StreamId, tx: &mut Tx<'_>) {
        let Some(sources) = self.waiting.remove(&dst.raw()) else {
            return;
        };
        for src in sources {
            if let Some(c) = self.links.get_mut(&src) {
                c.held_by_backlog = false;
                if !c.held_by_balancer {
                    tx.resume_recv(StreamId::from_raw(src));
                }
            }
        }
    }
}

/// A proxying side driven over [`Links`]: it runs its balancer's actions
/// and tells the balancer of connects that failed.
pub(crate) trait Side {
    fn links(&mut self) -> &mut Links;
    /// The connect of `token` failed.
    fn connect_failed(&mut self, token: u64, now: Instant);
    /// Carry out (and clear) the balancer's pending actions; `src` is the
    /// connection whose bytes caused them.
    fn run_actions(&mut self, src: Option<StreamId>, tx: &mut Tx<'_>);
}

/// Carry out a side's actions. A connect that fails at once is answered at
/// once; bounded, so a balancer that retries at once cannot spin here.
pub(crate) fn execute<S: Side>(side: &mut S, src: Option<StreamId>, now: Instant, tx: &mut Tx<'_>) {
    for _ in 0..4 {
        side.run_actions(src, tx);
        let failed = side.links().take_failed();
        if failed.is_empty() {
            break;
        }
        for token in failed {
            side.connect_failed(token, now);
        }
    }
    side.links().take_failed();
    side.links().finish_closes(tx);
}
