//! The per-shard HTTP/1.1 balancer: clients in, nodes out, sans-IO.
//!
//! The runtime owns the sockets, TLS and the clock. It tells
//! [`HttpBalancer`] what happened — a client connected
//! ([`HttpBalancer::on_client_accepted`]), bytes arrived
//! ([`HttpBalancer::on_data`]), a connect to a node finished
//! ([`HttpBalancer::on_connected`] / [`HttpBalancer::on_connect_failed`]), a
//! connection closed ([`HttpBalancer::on_closed`]), a deadline passed
//! ([`HttpBalancer::handle_timeout`]) — and executes the [`Action`]s
//! appended to the [`Actions`] it passes in, in order.
//!
//! # Requests, not connections
//! Every request is placed on its own ([`route`]: Restcomm instance id,
//! jvmRoute of the session id, `httpAffinityKey` hash, active node, round
//! robin), where the original paired a client connection with one node
//! connection for its whole life. Node connections are kept alive and
//! pooled per (address, TLS): one is reused for the next request to the
//! same node when the response ended cleanly and both sides allow
//! persistence; idle ones close after `upstreamIdleTimeout`.
//!
//! # Streaming
//! Heads are parsed with `httparse` ([`head`]); bodies are framed by
//! `Content-Length`, chunked coding ([`chunked`]) or, for responses, the
//! node's close, and relayed as they arrive, unchanged. No body is held
//! whole: a client's unforwarded bytes (body while the node connection
//! opens, pipelined requests) are bounded by `Settings::buffer_limit`, past
//! which the balancer emits [`Action::Pause`] (and [`Action::Resume`] once
//! drained). Pipelined requests are served in order, one at a time: the
//! next is read once the previous response is through. `Expect:
//! 100-continue` is forwarded and interim responses relayed. After a `101`
//! to a WebSocket upgrade, the pair is a raw byte tunnel both ways.
//!
//! # What changes on the way
//! Hop-by-hop fields are removed (RFC 9110 §7.6.1: `Connection` and what it
//! names, `Keep-Alive`, `Proxy-Connection`, `TE`, `Upgrade` unless
//! upgrading); each hop gets its own `Connection`; `X-Forwarded-For`,
//! `X-Forwarded-Proto` and `Forwarded` are added (`addForwardedHeaders`,
//! on by default; the original added none). `urlRewrite` rules rewrite the
//! request-target before the choice.
//!
//! # What the balancer answers itself
//! `302` to HTTPS (plain listener, `httpsPort` set, `redirectToHttps`);
//! `503` with `Retry-After` when no node can take a request and no
//! `unavailableHost` is set (also past `maxConnections`); `400` malformed
//! head or body framing; `405` `CONNECT`; `408` head not complete within
//! `headerTimeout`; `414` / `431` target / head too large; `502` node
//! unreachable or answering garbage; `504` node silent for
//! `responseTimeout`. A failed connect (or a request lost on a pooled
//! connection the node had closed) is retried once on another node (the
//! same one for a stale pooled connection) when no byte of the body has
//! been sent yet and resending is safe.
//!
//! `Close` in [`Action`] means: send what is queued for the connection,
//! then close it. After `Close` the balancer has forgotten the connection;
//! a later `on_closed` for it is ignored.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::BuildHasherDefault;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use crate::registry::NodeSet;
use crate::smpp::proxy::slab::{Key, Slab};
use crate::smpp::proxy::MixHasher;
use client::Client;
use head::Head;
use pool::Pool;
use route::Router;
use upstream::Upstream;

mod answer;
pub mod body;
pub mod chunked;
mod client;
pub mod head;
mod pool;
mod reply;
mod route;
mod settings;
pub mod sticky;
mod timers;
mod upstream;
mod write;

pub use head::METHOD_NAMES;
pub use settings::{HttpAlgorithm, Rewrite, Settings};

#[cfg(test)]
mod tests;

/// A connection, named by the runtime (its stream id).
pub type ConnId = u64;

/// One thing for the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Action {
    /// Write `Actions::buf[range]` to `conn` (after what is queued before).
    Send {
        /// Connection.
        conn: ConnId,
        /// Bytes within [`Actions::buf`].
        range: Range<usize>,
    },
    /// Open TCP (TLS when `tls`) to `addr`; answer with
    /// [`HttpBalancer::on_connected`] or [`HttpBalancer::on_connect_failed`]
    /// quoting `token`.
    Connect {
        /// Names this attempt.
        token: u64,
        /// Node address.
        addr: SocketAddr,
        /// TLS towards the node.
        tls: bool,
    },
    /// Flush what is queued for `conn`, then close it.
    Close {
        /// Connection.
        conn: ConnId,
    },
    /// Stop delivering `on_data` for `conn` until `Resume` (the balancer's
    /// own buffer for it is full). A few bytes already in flight may still
    /// be delivered.
    Pause {
        /// Connection.
        conn: ConnId,
    },
    /// Deliver `on_data` for `conn` again.
    Resume {
        /// Connection.
        conn: ConnId,
    },
}

/// What the balancer asks for, appended by every call. The runtime executes
/// the list in order and then calls [`Actions::clear`]; capacity is kept.
#[derive(Debug, Default)]
pub struct Actions {
    /// Bytes of every `Send`.
    pub buf: Vec<u8>,
    /// Actions in order.
    pub list: Vec<Action>,
}

/// Per-shard HTTP counters (plain integers; the runtime copies them into
/// its statistics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Requests read from clients.
    pub requests: u64,
    /// Requests per method, in [`METHOD_NAMES`] order.
    pub requests_by_method: [u64; 10],
    /// Responses relayed or written, per class `1xx` … `5xx`.
    pub responses_by_class: [u64; 5],
    /// Bytes sent to nodes (heads, bodies, tunnels).
    pub bytes_to_server: u64,
    /// Bytes sent to clients (relayed and the balancer's own responses).
    pub bytes_to_client: u64,
    /// `503` because no node could take a request.
    pub unavailable: u64,
    /// Requests answered by the balancer with another 4xx/5xx, and
    /// exchanges cut short (see the fields below for causes).
    pub errors: u64,
    /// `400` (malformed head or body framing) and `405`.
    pub bad_requests: u64,
    /// `408`: head not complete in time, or a stalled request body.
    pub request_timeouts: u64,
    /// `414` and `431`.
    pub too_large: u64,
    /// `502`.
    pub bad_gateway: u64,
    /// `504`.
    pub gateway_timeouts: u64,
    /// Client connections refused past `maxConnections` (`503`).
    pub refused_connections: u64,
    /// `302` to HTTPS.
    pub redirects: u64,
    /// Connections opened to nodes.
    pub upstream_connects: u64,
    /// Requests sent on a pooled (kept-alive) node connection.
    pub upstream_reuses: u64,
    /// Node connects that failed, and node connections lost mid-exchange.
    pub upstream_failures: u64,
    /// Requests sent again after such a failure.
    pub retries: u64,
    /// Upgrades that became tunnels.
    pub tunnels: u64,
    /// Times a node was put in the HTTP bad set (`requestCheckPattern`).
    pub nodes_marked_bad: u64,
    /// Nodes in the HTTP bad set now.
    pub bad_nodes: u64,
}

/// Which entity a connection or a timer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Owner {
    Client(Key),
    Upstream(Key),
}

type MixState = BuildHasherDefault<MixHasher>;

/// The HTTP balancer of one shard.
#[derive(Debug)]
pub struct HttpBalancer {
    settings: Settings,
    nodes: Arc<NodeSet>,
    router: Router,
    clients: Slab<Client>,
    upstreams: Slab<Upstream>,
    conns: HashMap<ConnId, Owner, MixState>,
    /// Pending connects.
    tokens: HashMap<u64, Key, MixState>,
    pool: Pool,
    timers: BinaryHeap<Reverse<(Instant, Owner)>>,
    next_token: u64,
    counters: Counters,
    /// Index of the response head being handled (its `Vec` is reused).
    resp: Head,
}

// === impl Actions ===

impl Actions {
    /// Empties both parts, keeping capacity.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.list.clear();
    }

    /// The bytes of a `Send`.
    pub fn bytes(&self, range: &Range<usize>) -> &[u8] {
        self.buf.get(range.clone()).unwrap_or_default()
    }

    /// Sends `buf[start..]` to `conn`, extending the previous `Send` when
    /// it is to the same connection and ends at `start`. Returns the length.
    fn send_from(&mut self, conn: ConnId, start: usize) -> u64 {
        let end = self.buf.len();
        if end <= start {
            return 0;
        }
        if let Some(Action::Send { conn: c, range }) = self.list.last_mut() {
            if *c == conn && range.end == start {
                range.end = end;
                return (end - start) as u64;
            }
        }
        self.list.push(Action::Send {
            conn,
            range: start..end,
        });
        (end - start) as u64
    }

    fn close(&mut self, conn: ConnId) {
        self.list.push(Action::Close { conn });
    }
}

// === impl Counters ===

impl Counters {
    fn response(&mut self, code: u16) {
        if let Some(slot) = (code / 100)
            .checked_sub(1)
            .and_then(|i| self.responses_by_class.get_mut(usize::from(i)))
        {
            *slot += 1;
        }
    }
}

// === impl HttpBalancer ===

impl HttpBalancer {
    /// A balancer with no connection and no node yet.
    pub fn new(settings: Settings, now: Instant) -> HttpBalancer {
        let _ = now;
        HttpBalancer {
            router: Router::new(settings.algorithm),
            pool: Pool::new(settings.pool_per_target),
            settings,
            nodes: Arc::new(NodeSet::default()),
            clients: Slab::default(),
            upstreams: Slab::default(),
            conns: HashMap::default(),
            tokens: HashMap::default(),
            timers: BinaryHeap::new(),
            next_token: 1,
            counters: Counters::default(),
            resp: Head::default(),
        }
    }

    /// A reloaded `algorithm` section: placement of unnamed requests and
    /// the `httpAffinityKey` parameter (connections under way stay).
    pub fn set_algorithm(&mut self, cfg: &crate::config::AlgorithmConfig) {
        self.settings.algorithm = settings::algorithm(&cfg.kind);
        self.settings
            .affinity_key
            .clone_from(&cfg.http_affinity_key);
        self.router.set_algorithm(self.settings.algorithm);
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Counters so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Client connections, and node connections (open, opening or pooled).
    pub fn connection_counts(&self) -> (usize, usize) {
        (self.clients.len(), self.upstreams.len())
    }

    /// A new node snapshot (the same `Arc<NodeSet>` the SIP side gets).
    pub fn set_nodes(&mut self, nodes: Arc<NodeSet>) {
        self.router.set_nodes(&nodes);
        self.nodes = nodes;
        self.counters.bad_nodes = self.router.bad_count() as u64;
    }

    /// A client connected to the plain (`secure == false`) or HTTPS
    /// (`secure`, TLS already ended by the runtime) listener at `local`.
    pub fn on_client_accepted(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        local: SocketAddr,
        secure: bool,
        now: Instant,
        out: &mut Actions,
    ) {
        if self.clients.len() >= self.settings.max_connections || self.conns.contains_key(&conn) {
            self.counters.refused_connections += 1;
            self.counters.response(503);
            let start = out.buf.len();
            let retry = self.settings.retry_after_secs;
            reply::local(&mut out.buf, reply::Local::Unavailable, false, retry, false);
            self.counters.bytes_to_client += out.send_from(conn, start);
            out.close(conn);
            return;
        }
        let k = self
            .clients
            .insert(Client::new(conn, peer, local, secure, now));
        self.conns.insert(conn, Owner::Client(k));
        self.arm(Owner::Client(k), None);
    }

    /// Plaintext bytes arrived on `conn` (any split of the stream).
    pub fn on_data(&mut self, conn: ConnId, bytes: &[u8], now: Instant, out: &mut Actions) {
        match self.conns.get(&conn) {
            Some(&Owner::Client(k)) => self.client_data(k, bytes, now, out),
            Some(&Owner::Upstream(u)) => self.upstream_data(u, bytes, now, out),
            None => {}
        }
    }

    /// The connect asked for with `token` succeeded as connection `conn`.
    pub fn on_connected(&mut self, token: u64, conn: ConnId, now: Instant, out: &mut Actions) {
        self.upstream_connected(token, conn, now, out);
    }

    /// The connect asked for with `token` failed (refused, timed out, TLS failed).
    pub fn on_connect_failed(&mut self, token: u64, now: Instant, out: &mut Actions) {
        self.upstream_connect_failed(token, now, out);
    }

    /// `conn` is gone (peer closed, error). Ignored after our own `Close`.
    pub fn on_closed(&mut self, conn: ConnId, now: Instant, out: &mut Actions) {
        match self.conns.remove(&conn) {
            Some(Owner::Client(k)) => self.close_client(k, false, out),
            Some(Owner::Upstream(u)) => self.upstream_closed(u, now, out),
            None => {}
        }
    }
}
