//! The answers the balancer writes itself (errors, `503`, the `302` to
//! HTTPS) and their counters. What they say is in [`super::reply`].

use std::time::Instant;

use super::client::Phase;
use super::head::{Framing, Method};
use super::reply::{self, Local};
use super::sticky;
use super::{Actions, HttpBalancer};
use crate::smpp::proxy::slab::Key;

// === impl HttpBalancer: own answers ===

impl HttpBalancer {
    /// Answers the current request with `what`, then closes.
    pub(super) fn reject(&mut self, k: Key, what: Local, out: &mut Actions) {
        self.count_local(what);
        self.write_local(k, what, false, out);
        self.close_client(k, true, out);
    }

    /// Answers the current request with `what`; the connection stays when
    /// the request has no body and the client wants persistence.
    pub(super) fn answer(&mut self, k: Key, what: Local, now: Instant, out: &mut Actions) {
        let Some(c) = self.clients.get_mut(k) else {
            return;
        };
        let keep = c.ex.keep_alive && c.head.framing == Framing::None;
        if !keep {
            return self.reject(k, what, out);
        }
        self.count_local(what);
        self.write_local(k, what, true, out);
        if let Some(c) = self.clients.get_mut(k) {
            c.phase = Phase::Idle;
            c.since = now;
        }
    }

    fn write_local(&mut self, k: Key, what: Local, keep_alive: bool, out: &mut Actions) {
        let Some(c) = self.clients.get(k) else {
            return;
        };
        let start = out.buf.len();
        // A HEAD request gets no body; a head that did not parse is no request.
        let head_only = c.phase == Phase::Exchange && c.ex.method == Method::Head;
        reply::local(
            &mut out.buf,
            what,
            keep_alive,
            self.settings.retry_after_secs,
            head_only,
        );
        self.counters.response(what.code());
        self.counters.bytes_to_client += out.send_from(c.conn, start);
    }

    fn count_local(&mut self, what: Local) {
        let n = &mut self.counters;
        match what {
            Local::Unavailable => n.unavailable += 1,
            Local::BadRequest | Local::MethodNotAllowed => n.bad_requests += 1,
            Local::RequestTimeout => n.request_timeouts += 1,
            Local::UriTooLong | Local::HeadTooLarge => n.too_large += 1,
            Local::BadGateway => n.bad_gateway += 1,
            Local::GatewayTimeout => n.gateway_timeouts += 1,
        }
        if what != Local::Unavailable {
            n.errors += 1;
        }
    }

    pub(super) fn redirect(&mut self, k: Key, https_port: u16, out: &mut Actions) {
        let Some(c) = self.clients.get(k) else {
            return;
        };
        let start = out.buf.len();
        let host = c.head.host.map(|h| h.get(&c.head_buf));
        let target = sticky::origin_form(c.head.target.get(&c.head_buf));
        reply::redirect(&mut out.buf, host, c.local.ip(), https_port, target);
        self.counters.redirects += 1;
        self.counters.response(302);
        self.counters.bytes_to_client += out.send_from(c.conn, start);
        self.close_client(k, true, out);
    }
}
