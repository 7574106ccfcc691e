//! The client side: reading request heads, starting exchanges, streaming
//! request bodies, pipelining, flow control, closing.
//!
//! A client connection is in one [`Phase`]: `Idle` between requests,
//! `Head` while a head arrives, `Exchange` while a request and its
//! response are under way, `Tunnel` after a `101`. Bytes the balancer
//! cannot pass on yet stay in [`Client::inbox`]: the body while the node
//! connection opens, the next pipelined request while the current
//! response is relayed.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Instant;

use super::body::Body;
use super::head::{self, Framing, Head, HeadError, Method};
use super::pool::Target;
use super::reply::Local;
use super::route::{Hints, PortKind};
use super::settings::{HttpAlgorithm, Rewrite, Settings};
use super::sticky;
use super::write::{self, ForwardedFor, RequestOut};
use super::{Action, Actions, ConnId, HttpBalancer, Owner};
use crate::registry::NodeId;
use crate::smpp::proxy::slab::Key;

/// Where a client connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Between requests (or before the first).
    Idle,
    /// A request head is arriving.
    Head,
    /// A request is forwarded and its response awaited or relayed.
    Exchange,
    /// Upgraded: bytes pass both ways unchanged.
    Tunnel,
}

/// Where the response of an exchange is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resp {
    /// Waiting for (the rest of) a head; interim responses stay here.
    Head,
    /// Relaying the body.
    Body(Body),
    /// Relayed (or the pair became a tunnel).
    Done,
}

/// One request and its response.
#[derive(Debug, Clone)]
pub(super) struct Exchange {
    /// The node connection serving it (opening, or open).
    pub(super) up: Option<Key>,
    /// The node (none for `unavailableHost`).
    pub(super) node: Option<NodeId>,
    /// Where the node connection goes.
    pub(super) target: Target,
    /// Which port of a node the request needs.
    pub(super) want: PortKind,
    pub(super) method: Method,
    pub(super) req_body: Body,
    /// The whole request has been sent to the node.
    pub(super) req_done: bool,
    pub(super) head_sent: bool,
    pub(super) body_sent: u64,
    /// Node failures that may still be retried on another node.
    pub(super) retries: u8,
    /// `requestCheckPattern` matched.
    pub(super) check: bool,
    /// A WebSocket upgrade was asked for.
    pub(super) upgrade: bool,
    /// The client asked for persistence.
    pub(super) keep_alive: bool,
    /// The client connection closes after the response.
    pub(super) close_after: bool,
    /// The node connection may be pooled after the response.
    pub(super) up_keep: bool,
    pub(super) resp: Resp,
    /// Some response byte arrived.
    pub(super) resp_started: bool,
    /// Last byte from the node (or when the request was complete).
    pub(super) up_rx: Instant,
}

/// A client connection.
#[derive(Debug)]
pub(super) struct Client {
    pub(super) conn: ConnId,
    pub(super) peer: SocketAddr,
    pub(super) local: SocketAddr,
    pub(super) secure: bool,
    /// Bytes received and not yet passed on.
    pub(super) inbox: Vec<u8>,
    /// How much of an incomplete head was already searched for its end.
    pub(super) scanned: usize,
    /// A `Pause` is in effect.
    pub(super) paused: bool,
    pub(super) phase: Phase,
    /// Start of the phase (idle since, first head byte).
    pub(super) since: Instant,
    /// Last byte from the client.
    pub(super) last_rx: Instant,
    /// Requests read on this connection.
    pub(super) served: u32,
    /// The current request's head, copied (a retry sends it again).
    pub(super) head_buf: Vec<u8>,
    pub(super) head: Head,
    /// The rewritten request-target; empty = the original.
    pub(super) target: Vec<u8>,
    pub(super) ex: Exchange,
    /// Deadline under which the client is in the timer heap.
    pub(super) queued: Option<Instant>,
}

// === impl Client ===

impl Client {
    pub(super) fn new(
        conn: ConnId,
        peer: SocketAddr,
        local: SocketAddr,
        secure: bool,
        now: Instant,
    ) -> Client {
        Client {
            conn,
            peer,
            local,
            secure,
            inbox: Vec::new(),
            scanned: 0,
            paused: false,
            phase: Phase::Idle,
            since: now,
            last_rx: now,
            served: 0,
            head_buf: Vec::new(),
            head: Head::default(),
            target: Vec::new(),
            ex: Exchange::new(local, now),
            queued: None,
        }
    }

    /// The request-target to send and route by.
    pub(super) fn request_target(&self) -> &[u8] {
        if self.target.is_empty() {
            self.head.target.get(&self.head_buf)
        } else {
            &self.target
        }
    }
}

// === impl Exchange ===

impl Exchange {
    fn new(addr: SocketAddr, now: Instant) -> Exchange {
        Exchange {
            up: None,
            node: None,
            target: (addr, false),
            want: PortKind::Http,
            method: Method::Get,
            req_body: Body::None,
            req_done: false,
            head_sent: false,
            body_sent: 0,
            retries: 1,
            check: false,
            upgrade: false,
            keep_alive: true,
            close_after: false,
            up_keep: false,
            resp: Resp::Head,
            resp_started: false,
            up_rx: now,
        }
    }
}

// === impl HttpBalancer: client side ===

impl HttpBalancer {
    pub(super) fn client_data(&mut self, k: Key, bytes: &[u8], now: Instant, out: &mut Actions) {
        let Some(c) = self.clients.get_mut(k) else {
            return;
        };
        c.last_rx = now;
        let mut inbox = std::mem::take(&mut c.inbox);
        if inbox.is_empty() {
            let n = self.client_consume(k, bytes, now, out);
            inbox.extend_from_slice(bytes.get(n..).unwrap_or_default());
        } else {
            inbox.extend_from_slice(bytes);
            let n = self.client_consume(k, &inbox, now, out);
            inbox.drain(..n.min(inbox.len()));
        }
        self.restore_inbox(k, inbox, out);
        self.arm(Owner::Client(k), None);
    }

    /// Processes what waits in the client's inbox (after the node
    /// connection opened, or the previous response ended).
    pub(super) fn client_flush(&mut self, k: Key, now: Instant, out: &mut Actions) {
        let Some(c) = self.clients.get_mut(k) else {
            return;
        };
        let mut inbox = std::mem::take(&mut c.inbox);
        if !inbox.is_empty() {
            let n = self.client_consume(k, &inbox, now, out);
            inbox.drain(..n.min(inbox.len()));
        }
        self.restore_inbox(k, inbox, out);
        self.arm(Owner::Client(k), None);
    }

    /// Puts the inbox back and pauses or resumes reading by its size.
    fn restore_inbox(&mut self, k: Key, inbox: Vec<u8>, out: &mut Actions) {
        let limit = self.settings.buffer_limit;
        let Some(c) = self.clients.get_mut(k) else {
            return;
        };
        c.inbox = inbox;
        if !c.paused && c.inbox.len() > limit {
            c.paused = true;
            out.list.push(Action::Pause { conn: c.conn });
        } else if c.paused && c.inbox.len() <= limit / 2 {
            c.paused = false;
            out.list.push(Action::Resume { conn: c.conn });
        }
    }

    /// Handles the bytes at the start of `data`; returns how many were used
    /// (all of them when the connection closed).
    fn client_consume(&mut self, k: Key, data: &[u8], now: Instant, out: &mut Actions) -> usize {
        let mut at = 0;
        loop {
            let Some(c) = self.clients.get_mut(k) else {
                return data.len();
            };
            let rest = data.get(at..).unwrap_or_default();
            match c.phase {
                Phase::Idle => {
                    // Empty lines before a request are ignored (RFC 9112 §2.2).
                    at += rest
                        .iter()
                        .take_while(|b| matches!(b, b'\r' | b'\n'))
                        .count();
                    if at >= data.len() {
                        return at;
                    }
                    c.phase = Phase::Head;
                    c.since = now;
                    c.scanned = 0;
                }
                Phase::Head => match self.read_head(k, rest, now, out) {
                    Some(n) => at += n,
                    None => return at,
                },
                Phase::Exchange => match self.forward_body(k, rest, now, out) {
                    0 => return at,
                    n => at += n,
                },
                Phase::Tunnel => {
                    self.tunnel_to_node(k, rest, out);
                    return data.len();
                }
            }
        }
    }

    /// A request head at the start of `rest`: `Some(len)` once it was read
    /// (and the request started or answered), `None` while incomplete or
    /// when the connection was closed.
    fn read_head(&mut self, k: Key, rest: &[u8], now: Instant, out: &mut Actions) -> Option<usize> {
        let max = self.settings.max_head;
        let c = self.clients.get_mut(k)?;
        let parsed = if head::may_be_complete(rest, c.scanned) {
            c.head.parse_request(rest)
        } else {
            Ok(false)
        };
        match parsed {
            Ok(true) if c.head.len <= max => {
                let len = c.head.len;
                c.head_buf.clear();
                c.head_buf
                    .extend_from_slice(rest.get(..len).unwrap_or_default());
                c.scanned = 0;
                self.start_request(k, now, out);
                Some(len)
            }
            Ok(false) if rest.len() <= max => {
                c.scanned = rest.len();
                None
            }
            Ok(_) | Err(HeadError::TooManyHeaders) => {
                self.reject(k, Local::HeadTooLarge, out);
                None
            }
            Err(_) => {
                self.reject(k, Local::BadRequest, out);
                None
            }
        }
    }

    /// A complete head is in `head_buf`: checks, rewrite, redirect, choice.
    fn start_request(&mut self, k: Key, now: Instant, out: &mut Actions) {
        let Some(c) = self.clients.get_mut(k) else {
            return;
        };
        let s = &self.settings;
        let method = Method::of(c.head.method.get(&c.head_buf));
        self.counters.requests += 1;
        if let Some(n) = self.counters.requests_by_method.get_mut(method.index()) {
            *n += 1;
        }
        c.served = c.served.saturating_add(1);
        c.phase = Phase::Exchange;
        c.ex = new_exchange(s, c, method, now);
        if c.head.target.len() > s.max_uri {
            return self.reject(k, Local::UriTooLong, out);
        }
        if method == Method::Connect {
            return self.reject(k, Local::MethodNotAllowed, out);
        }
        rewrite(&s.rewrites, c.head.target.get(&c.head_buf), &mut c.target);
        let target = c.request_target();
        let check = s
            .request_check
            .as_ref()
            .is_some_and(|r| std::str::from_utf8(target).is_ok_and(|t| r.is_match(t)));
        c.ex.check = check;
        if let (false, Some(port), true) = (c.secure, s.https_port, s.redirect_to_https) {
            return self.redirect(k, port, out);
        }
        match self.route(k, None) {
            Some((node, target)) => {
                if let Some(c) = self.clients.get_mut(k) {
                    c.ex.node = node;
                    c.ex.target = target;
                }
                self.attach(k, now, out);
            }
            None => self.answer(k, Local::Unavailable, now, out),
        }
    }

    /// The node for the client's current request, other than `exclude`;
    /// `unavailableHost` when none can take it.
    pub(super) fn route(
        &mut self,
        k: Key,
        exclude: Option<NodeId>,
    ) -> Option<(Option<NodeId>, Target)> {
        let c = self.clients.get(k)?;
        let s = &self.settings;
        let target = c.request_target();
        let hints = Hints {
            instance_id: sticky::instance_id(target),
            jvm_route: sticky::jsessionid(target, &c.head, &c.head_buf).and_then(sticky::jvm_route),
            affinity: match s.algorithm {
                HttpAlgorithm::AffinityHash => {
                    sticky::query_param(target, s.affinity_key.as_bytes())
                }
                _ => None,
            },
        };
        match self.router.choose(&self.nodes, &hints, c.ex.want, exclude) {
            Some(ch) => Some((Some(ch.node), (ch.addr, c.ex.want.tls()))),
            None => s.unavailable_host.map(|a| (None, (a, false))),
        }
    }

    /// Sends the current request on a pooled connection to its target, or
    /// opens one.
    pub(super) fn attach(&mut self, k: Key, now: Instant, out: &mut Actions) {
        let Some(c) = self.clients.get(k) else {
            return;
        };
        let target = c.ex.target;
        match self.take_pooled(target, k) {
            Some(u) => {
                self.counters.upstream_reuses += 1;
                if let Some(c) = self.clients.get_mut(k) {
                    c.ex.up = Some(u);
                }
                self.send_request_head(k, now, out);
            }
            None => self.connect(k, target, out),
        }
    }

    /// Writes the request head to the exchange's (open) node connection.
    pub(super) fn send_request_head(&mut self, k: Key, now: Instant, out: &mut Actions) {
        let Some(c) = self.clients.get_mut(k) else {
            return;
        };
        let Some(conn) =
            c.ex.up
                .and_then(|u| self.upstreams.get(u))
                .and_then(|u| u.conn)
        else {
            return;
        };
        let start = out.buf.len();
        let forwarded = self.settings.forwarded_headers.then_some(ForwardedFor {
            peer: c.peer.ip(),
            secure: c.secure,
        });
        write::request(
            &mut out.buf,
            &RequestOut {
                head: &c.head,
                buf: &c.head_buf,
                target: c.request_target(),
                upgrade: c.ex.upgrade,
                forwarded,
            },
        );
        self.counters.bytes_to_server += out.send_from(conn, start);
        c.ex.head_sent = true;
        if c.ex.req_body.is_done() {
            c.ex.req_done = true;
            c.ex.up_rx = now;
        }
    }

    /// Body bytes at the start of `rest` to the node; returns how many were
    /// taken (0 when none can be: the head is not sent yet, or the request
    /// is complete and `rest` is the next one).
    fn forward_body(&mut self, k: Key, rest: &[u8], now: Instant, out: &mut Actions) -> usize {
        let Some(c) = self.clients.get_mut(k) else {
            return 0;
        };
        if c.ex.req_done || !c.ex.head_sent || rest.is_empty() {
            return 0;
        }
        let Some(conn) =
            c.ex.up
                .and_then(|u| self.upstreams.get(u))
                .and_then(|u| u.conn)
        else {
            return 0;
        };
        match c.ex.req_body.advance(rest) {
            Ok((n, done)) => {
                let start = out.buf.len();
                out.buf.extend_from_slice(rest.get(..n).unwrap_or_default());
                self.counters.bytes_to_server += out.send_from(conn, start);
                c.ex.body_sent += n as u64;
                if done {
                    c.ex.req_done = true;
                    c.ex.up_rx = now;
                }
                n
            }
            Err(e) => {
                log::debug!("http: client {}: request body: {e:?}", c.peer);
                let started = c.ex.resp_started;
                if started {
                    self.counters.errors += 1;
                    self.close_client(k, true, out);
                } else {
                    self.reject(k, Local::BadRequest, out);
                }
                0
            }
        }
    }

    fn tunnel_to_node(&mut self, k: Key, rest: &[u8], out: &mut Actions) {
        let Some(c) = self.clients.get(k) else {
            return;
        };
        let Some(conn) =
            c.ex.up
                .and_then(|u| self.upstreams.get(u))
                .and_then(|u| u.conn)
        else {
            return;
        };
        let start = out.buf.len();
        out.buf.extend_from_slice(rest);
        self.counters.bytes_to_server += out.send_from(conn, start);
    }

    /// Forgets the client (`notify`: and asks the runtime to close it);
    /// a node connection in the middle of its exchange is closed too, one
    /// still opening is pooled once open.
    pub(super) fn close_client(&mut self, k: Key, notify: bool, out: &mut Actions) {
        let Some(c) = self.clients.remove(k) else {
            return;
        };
        self.conns.remove(&c.conn);
        if notify {
            out.close(c.conn);
        }
        let Some(u) =
            c.ex.up
                .filter(|_| matches!(c.phase, Phase::Exchange | Phase::Tunnel))
        else {
            return;
        };
        match self.upstreams.get_mut(u) {
            Some(up) if up.conn.is_none() => up.client = None,
            Some(_) => self.close_upstream(u, out),
            None => {}
        }
    }
}

/// The exchange a new request starts.
fn new_exchange(s: &Settings, c: &Client, method: Method, now: Instant) -> Exchange {
    let h = &c.head;
    let upgrade = h.upgrade_websocket && h.conn_upgrade;
    let tls = (c.secure && !s.terminate_tls) || s.remote_server_ssl;
    let want = match (upgrade && h.ws_sip, tls) {
        (true, false) => PortKind::Ws,
        (true, true) => PortKind::Wss,
        (false, false) => PortKind::Http,
        (false, true) => PortKind::Ssl,
    };
    let mut ex = Exchange::new(c.local, now);
    ex.want = want;
    ex.method = method;
    ex.upgrade = upgrade;
    ex.keep_alive = h.wants_keep_alive();
    ex.req_body = match h.framing {
        Framing::Length(n) => Body::Length(n),
        Framing::Chunked => Body::Chunked(Default::default()),
        Framing::None | Framing::UntilClose => Body::None,
    };
    ex
}

/// Applies the rewrite rules to `original` in order; `out` gets the result
/// when some rule matched, else stays empty.
fn rewrite(rules: &[Rewrite], original: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let Ok(mut current) = std::str::from_utf8(original).map(Cow::Borrowed) else {
        return;
    };
    let mut changed = false;
    for r in rules {
        if let Cow::Owned(s) = r.pattern.replace_all(&current, r.replacement.as_str()) {
            current = Cow::Owned(s);
            changed = true;
        }
    }
    if changed {
        out.extend_from_slice(current.as_bytes());
    }
}
