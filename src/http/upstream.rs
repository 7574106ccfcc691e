//! The node side: connects, response heads and bodies, the end of an
//! exchange (pool or close), failures and retries, tunnels.

use std::time::Instant;

use super::body::Body;
use super::client::{Phase, Resp};
use super::head::{Framing, Head, Method};
use super::pool::Target;
use super::reply::Local;
use super::write::{self, Persist};
use super::{Action, Actions, ConnId, HttpBalancer, Owner};
use crate::smpp::proxy::slab::Key;

/// A connection to a node (opening, serving an exchange, or pooled).
#[derive(Debug)]
pub(super) struct Upstream {
    /// `None` while the connect is pending.
    pub(super) conn: Option<ConnId>,
    pub(super) token: u64,
    pub(super) target: Target,
    /// The client whose exchange it serves; `None` when idle.
    pub(super) client: Option<Key>,
    /// An incomplete response head.
    pub(super) inbox: Vec<u8>,
    /// It served an exchange before (the node may have closed it meanwhile).
    pub(super) reused: bool,
    /// Pooled since.
    pub(super) idle_since: Option<Instant>,
    /// Deadline under which it is in the timer heap.
    pub(super) queued: Option<Instant>,
}

// === impl HttpBalancer: node side ===

impl HttpBalancer {
    /// Opens a connection to `target` for client `k`'s exchange.
    pub(super) fn connect(&mut self, k: Key, target: Target, out: &mut Actions) {
        let token = self.next_token;
        self.next_token += 1;
        let u = self.upstreams.insert(Upstream {
            conn: None,
            token,
            target,
            client: Some(k),
            inbox: Vec::new(),
            reused: false,
            idle_since: None,
            queued: None,
        });
        self.tokens.insert(token, u);
        if let Some(c) = self.clients.get_mut(k) {
            c.ex.up = Some(u);
            c.ex.head_sent = false;
        }
        self.counters.upstream_connects += 1;
        out.list.push(Action::Connect {
            token,
            addr: target.0,
            tls: target.1,
        });
    }

    /// A pooled connection to `target`, now serving client `k`.
    pub(super) fn take_pooled(&mut self, target: Target, k: Key) -> Option<Key> {
        while let Some(u) = self.pool.take(target) {
            if let Some(up) = self.upstreams.get_mut(u) {
                up.client = Some(k);
                up.idle_since = None;
                return Some(u);
            }
        }
        None
    }

    pub(super) fn upstream_connected(
        &mut self,
        token: u64,
        conn: ConnId,
        now: Instant,
        out: &mut Actions,
    ) {
        let Some(u) = self.tokens.remove(&token) else {
            out.close(conn);
            return;
        };
        let Some(up) = self.upstreams.get_mut(u) else {
            out.close(conn);
            return;
        };
        up.conn = Some(conn);
        self.conns.insert(conn, Owner::Upstream(u));
        match self.exchange_of(u) {
            Some(k) => {
                self.send_request_head(k, now, out);
                self.client_flush(k, now, out);
            }
            None => self.pool_idle(u, now, out),
        }
    }

    pub(super) fn upstream_connect_failed(&mut self, token: u64, now: Instant, out: &mut Actions) {
        let Some(u) = self.tokens.remove(&token) else {
            return;
        };
        let k = self.exchange_of(u);
        self.upstreams.remove(u);
        self.counters.upstream_failures += 1;
        if let Some(k) = k {
            self.upstream_lost(k, false, now, out);
        }
    }

    /// The client whose current exchange (or tunnel) `u` serves.
    fn exchange_of(&self, u: Key) -> Option<Key> {
        let k = self.upstreams.get(u)?.client?;
        let c = self.clients.get(k)?;
        (c.ex.up == Some(u) && matches!(c.phase, Phase::Exchange | Phase::Tunnel)).then_some(k)
    }

    pub(super) fn upstream_closed(&mut self, u: Key, now: Instant, out: &mut Actions) {
        let k = self.exchange_of(u);
        let Some(up) = self.upstreams.remove(u) else {
            return;
        };
        let Some(k) = k else {
            self.pool.remove(up.target, u);
            return;
        };
        self.upstream_lost(k, up.reused, now, out);
    }

    /// Client `k`'s node connection is gone (its connect failed, or it
    /// closed): complete a response that ends by close, retry, or fail.
    fn upstream_lost(&mut self, k: Key, was_reused: bool, now: Instant, out: &mut Actions) {
        let Some(c) = self.clients.get_mut(k) else {
            return;
        };
        c.ex.up = None;
        let ex = &c.ex;
        if c.phase == Phase::Tunnel || ex.resp == Resp::Body(Body::UntilClose) {
            return self.close_client(k, true, out);
        }
        if ex.resp != Resp::Head {
            // Cut in the middle of a response body.
            self.counters.errors += 1;
            self.counters.upstream_failures += 1;
            return self.close_client(k, true, out);
        }
        let safe =
            !ex.resp_started && ex.body_sent == 0 && (!ex.head_sent || ex.method.is_idempotent());
        if safe && was_reused {
            // The node closed a pooled connection as the request went out:
            // the same node, on a fresh connection.
            self.counters.upstream_failures += 1;
            self.counters.retries += 1;
            let target = ex.target;
            return self.connect(k, target, out);
        }
        if was_reused {
            self.counters.upstream_failures += 1;
        }
        if safe && ex.retries > 0 {
            let failed = ex.node;
            c.ex.retries -= 1;
            if let Some((node, target)) = self.route(k, failed) {
                self.counters.retries += 1;
                if let Some(c) = self.clients.get_mut(k) {
                    c.ex.node = node;
                    c.ex.target = target;
                }
                return self.attach(k, now, out);
            }
        }
        self.gateway_error(k, Local::BadGateway, out);
    }

    /// `502`/`504` for the client's current request if no response byte
    /// was relayed yet; then the client connection closes.
    pub(super) fn gateway_error(&mut self, k: Key, what: Local, out: &mut Actions) {
        let Some(c) = self.clients.get(k) else {
            return;
        };
        if c.ex.resp_started && c.ex.resp != Resp::Head {
            self.counters.errors += 1;
            return self.close_client(k, true, out);
        }
        self.reject(k, what, out);
    }

    pub(super) fn upstream_data(&mut self, u: Key, bytes: &[u8], now: Instant, out: &mut Actions) {
        let Some(k) = self.exchange_of(u) else {
            // A pooled connection has nothing to say.
            return self.close_upstream(u, out);
        };
        let Some(c) = self.clients.get_mut(k) else {
            return;
        };
        c.ex.up_rx = now;
        c.ex.resp_started = true;
        let Some(up) = self.upstreams.get_mut(u) else {
            return;
        };
        let mut inbox = std::mem::take(&mut up.inbox);
        if inbox.is_empty() {
            let n = self.response_consume(k, u, bytes, now, out);
            inbox.extend_from_slice(bytes.get(n..).unwrap_or_default());
        } else {
            inbox.extend_from_slice(bytes);
            let n = self.response_consume(k, u, &inbox, now, out);
            inbox.drain(..n.min(inbox.len()));
        }
        if self.exchange_of(u) == Some(k) {
            if let Some(up) = self.upstreams.get_mut(u) {
                up.inbox = inbox;
            }
        }
        self.kick(k, now, out);
    }

    /// After the node side moved on: the client's next pipelined request,
    /// or early tunnel bytes, and flow control.
    fn kick(&mut self, k: Key, now: Instant, out: &mut Actions) {
        let Some(c) = self.clients.get(k) else {
            return;
        };
        if c.paused || !c.inbox.is_empty() {
            self.client_flush(k, now, out);
        } else {
            self.arm(Owner::Client(k), None);
        }
    }

    /// Handles response bytes at the start of `data`; returns how many were
    /// used (all when the exchange ended or failed).
    fn response_consume(
        &mut self,
        k: Key,
        u: Key,
        data: &[u8],
        now: Instant,
        out: &mut Actions,
    ) -> usize {
        let mut at = 0;
        loop {
            if self.exchange_of(u) != Some(k) {
                return data.len();
            }
            let Some(c) = self.clients.get_mut(k) else {
                return data.len();
            };
            let rest = data.get(at..).unwrap_or_default();
            if c.phase == Phase::Tunnel {
                self.relay_to_client(k, rest, out);
                return data.len();
            }
            match c.ex.resp {
                Resp::Head if rest.is_empty() => return at,
                Resp::Head => match self.response_head(k, u, rest, now, out) {
                    Some(n) => at += n,
                    None => return at,
                },
                Resp::Body(mut body) => match body.advance(rest) {
                    Ok((n, done)) => {
                        c.ex.resp = Resp::Body(body);
                        self.relay_to_client(k, rest.get(..n).unwrap_or_default(), out);
                        at += n;
                        if !done {
                            return at;
                        }
                        let clean = at == data.len();
                        self.finish_exchange(k, u, clean, now, out);
                        return data.len();
                    }
                    Err(e) => {
                        log::debug!("http: node response body: {e:?}");
                        self.counters.errors += 1;
                        self.close_upstream(u, out);
                        self.close_client(k, true, out);
                        return data.len();
                    }
                },
                Resp::Done => return data.len(),
            }
        }
    }

    /// A response head at the start of `rest`: `Some(len)` once handled,
    /// `None` while incomplete or when the exchange failed.
    fn response_head(
        &mut self,
        k: Key,
        u: Key,
        rest: &[u8],
        now: Instant,
        out: &mut Actions,
    ) -> Option<usize> {
        let mut h = std::mem::take(&mut self.resp);
        let max = self.settings.max_head;
        let r = match h.parse_response(rest) {
            Ok(true) if h.len <= max => self.on_response_head(k, u, &h, rest, now, out),
            Ok(false) if rest.len() <= max => None,
            other => {
                log::debug!("http: bad response head from a node: {other:?}");
                self.close_upstream(u, out);
                self.gateway_error(k, Local::BadGateway, out);
                None
            }
        };
        self.resp = h;
        r
    }

    fn on_response_head(
        &mut self,
        k: Key,
        u: Key,
        h: &Head,
        buf: &[u8],
        now: Instant,
        out: &mut Actions,
    ) -> Option<usize> {
        let c = self.clients.get_mut(k)?;
        let code = h.code;
        self.counters.response(code);
        if code == 101 && c.ex.upgrade {
            c.phase = Phase::Tunnel;
            c.ex.resp = Resp::Done;
            self.counters.tunnels += 1;
            self.relay_head(k, h, buf, Persist::Upgrade, out);
            return Some(h.len);
        }
        if code == 101 || !(100..600).contains(&code) {
            self.close_upstream(u, out);
            self.gateway_error(k, Local::BadGateway, out);
            return None;
        }
        if code < 200 {
            // Interim (100 Continue, 103 Early Hints): relayed, the final
            // one follows. Never to an HTTP/1.0 client (RFC 9110 §15.2).
            if c.head.minor > 0 {
                self.relay_head(k, h, buf, Persist::Default, out);
            }
            return Some(h.len);
        }
        if c.ex.check && code >= 400 {
            if let Some(node) = c.ex.node {
                if self.router.mark_bad(&self.nodes, node) {
                    self.counters.nodes_marked_bad += 1;
                    self.counters.bad_nodes = self.router.bad_count() as u64;
                }
            }
        }
        let body = match h.framing {
            _ if c.ex.method == Method::Head || code == 204 || code == 304 => Body::None,
            Framing::None => Body::None,
            Framing::Length(n) => Body::Length(n),
            Framing::Chunked => Body::Chunked(Default::default()),
            Framing::UntilClose => Body::UntilClose,
        };
        let until_close = body == Body::UntilClose;
        c.ex.up_keep = h.wants_keep_alive() && !until_close;
        let client_keep = c.ex.keep_alive && c.ex.req_done && !until_close;
        c.ex.close_after = !client_keep;
        let persist = match (client_keep, c.head.minor) {
            (false, _) => Persist::Close,
            (true, 0) => Persist::KeepAlive,
            (true, _) => Persist::Default,
        };
        c.ex.resp = Resp::Body(body);
        self.relay_head(k, h, buf, persist, out);
        let _ = now;
        Some(h.len)
    }

    fn relay_head(&mut self, k: Key, h: &Head, buf: &[u8], persist: Persist, out: &mut Actions) {
        let Some(c) = self.clients.get(k) else {
            return;
        };
        let start = out.buf.len();
        write::response(&mut out.buf, h, buf, persist);
        self.counters.bytes_to_client += out.send_from(c.conn, start);
    }

    fn relay_to_client(&mut self, k: Key, bytes: &[u8], out: &mut Actions) {
        let Some(c) = self.clients.get(k) else {
            return;
        };
        let start = out.buf.len();
        out.buf.extend_from_slice(bytes);
        self.counters.bytes_to_client += out.send_from(c.conn, start);
    }

    /// The response ended (`clean`: and nothing followed it): the node
    /// connection is pooled or closed, the client waits for its next
    /// request or is closed.
    fn finish_exchange(&mut self, k: Key, u: Key, clean: bool, now: Instant, out: &mut Actions) {
        let Some(c) = self.clients.get_mut(k) else {
            return;
        };
        c.ex.resp = Resp::Done;
        c.ex.up = None;
        let reuse = clean && c.ex.up_keep && c.ex.req_done;
        let close_client = c.ex.close_after;
        if !close_client {
            c.phase = Phase::Idle;
            c.since = now;
        }
        if reuse {
            self.pool_idle(u, now, out);
        } else {
            self.close_upstream(u, out);
        }
        if close_client {
            self.close_client(k, true, out);
        }
    }

    /// Puts an open, idle connection in the pool.
    pub(super) fn pool_idle(&mut self, u: Key, now: Instant, out: &mut Actions) {
        let Some(up) = self.upstreams.get_mut(u) else {
            return;
        };
        up.client = None;
        up.reused = true;
        up.idle_since = Some(now);
        up.inbox.clear();
        let target = up.target;
        if let Some(evicted) = self.pool.put(target, u) {
            self.close_upstream(evicted, out);
        }
        self.arm(Owner::Upstream(u), None);
    }

    /// Forgets a node connection and closes it (a pending connect is closed
    /// when it completes).
    pub(super) fn close_upstream(&mut self, u: Key, out: &mut Actions) {
        let Some(up) = self.upstreams.remove(u) else {
            return;
        };
        if up.idle_since.is_some() {
            self.pool.remove(up.target, u);
        }
        match up.conn {
            Some(conn) => {
                self.conns.remove(&conn);
                out.close(conn);
            }
            None => {
                // on_connected will not find the token and closes the connection.
                self.tokens.remove(&up.token);
            }
        }
    }
}
