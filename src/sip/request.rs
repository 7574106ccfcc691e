//! The request paths of the proxy: heartbeats, Max-Forwards, node choice for
//! client requests (hint → explicit address → Call-ID affinity → rendezvous
//! hash), requests from nodes towards clients, and the header rewriting for
//! both (Via push, Record-Route, Route, Request-URI, X-Sip-Balancer-*).

use std::net::SocketAddr;
use std::time::Instant;

use super::choice::{Choice, ChoiceCtx};
use super::extensions;
use super::headers::{self, Via};
use super::initial_remote;
use super::message::{HeaderName, Message, Method, StartLine};
use super::proxy::{Datagram, Dest, LegId, Output, Proxy};
use super::reply;
use super::routes::{self, RouteInfo};
use super::settings::{push_rr_stamp, Templates};
use super::transport::{self, ConnRef, Transport};
use super::vias;
use super::write::{push_hex64, push_host_port, push_u32};
use crate::balancer::hash::key_hash;
use crate::registry::{heartbeat, Event};
use crate::stats::SipCounters;

/// Who the request is for, once chosen.
struct Target {
    dst: SocketAddr,
    stamp: Option<(std::net::IpAddr, u16, u32)>,
    version: u32,
    /// Transport it leaves over.
    transport: Transport,
    /// A connection known to lead there (in-dialog requests towards a
    /// client on a stream: from our Record-Route's `lbc`).
    conn: Option<ConnRef>,
}

// === impl Proxy: requests ===

impl Proxy {
    pub(crate) fn request(
        &mut self,
        msg: &Message<'_>,
        method: Method,
        d: Datagram<'_>,
        now: Instant,
        out: &mut Output,
    ) {
        let Some(top) = vias::top(msg) else {
            return self.reject(msg, d, 400, b"Bad Request", out);
        };
        if self.is_heartbeat(msg, method, d) {
            return self.heartbeat(msg, &top, d, out);
        }
        let routes = routes::scan(msg, &self.settings, &mut self.edits);
        let from_node = self.is_from_node(&top, d);
        if !from_node && routes.hint.is_none() && self.settings.scanners.is_scanner(msg) {
            self.counters.blocked += 1;
            log::debug!("request from scanner {} dropped (blockedValues)", d.src);
            return;
        }
        let max_forwards = match msg.header(HeaderName::MaxForwards) {
            None => None,
            Some(h) => match headers::max_forwards(msg.slice(h.value)) {
                Some(n) => Some((h.value, n)),
                None => return self.reject(msg, d, 400, b"Bad Request", out),
            },
        };
        if let Some((_, 0)) = max_forwards {
            self.counters.too_many_hops += 1;
            if method != Method::Ack {
                let dst = reply::destination(Some(&top), d.src);
                let start = out.buf.len();
                reply::write(&mut out.buf, msg, 483, b"Too Many Hops");
                out.reply(&d, dst, start);
                self.counters.replies_sent += 1;
            }
            return;
        }
        if extensions::refused(msg, method) {
            let start = out.buf.len();
            extensions::write_bad_extension(&mut out.buf, msg);
            out.reply(&d, reply::destination(Some(&top), d.src), start);
            self.counters.replies_sent += 1;
            return;
        }
        let target = if from_node {
            self.node_request_target(msg, &routes, d, now, out)
        } else {
            self.client_request_target(msg, method, &routes, d, now, out)
        };
        let Some((target, leg)) = target else { return };
        if method != Method::Ack {
            self.assign_hint(msg, &routes, d, now, out);
        }
        if let Some((span, n)) = max_forwards {
            let (t, mark) = self.edits.text();
            push_u32(t, n - 1);
            self.edits.finish(mark, span.start, span.end);
        }
        self.forward_request(msg, method, &top, &target, leg, !from_node, d, out);
    }

    /// `assignToNode`: a request whose Route hint names an alive node of
    /// its version makes stateful algorithms remember that node for its
    /// key, on the key's home shard.
    fn assign_hint(
        &mut self,
        msg: &Message<'_>,
        routes: &RouteInfo<'_>,
        d: Datagram<'_>,
        now: Instant,
        out: &mut Output,
    ) {
        if !self.balancing.stateful() {
            return;
        }
        let Some(a) = routes.hint else { return };
        let key = key_hash(msg.call_id());
        let ctx = ChoiceCtx {
            home: self.home_shard(key),
            shard: self.shard,
            handed_off: d.handed_off,
            key,
            now,
        };
        let Some(node) = self.nodes.alive_by_addr(a.ip(), a.port()) else {
            return;
        };
        if routes.version.is_some_and(|v| v != node.version) {
            return;
        }
        if let Some(x) = self.balancing.assign(&self.nodes, msg, node, &ctx) {
            out.assigns.push(x);
        }
    }

    fn is_heartbeat(&self, msg: &Message<'_>, method: Method, d: Datagram<'_>) -> bool {
        d.leg == LegId::Internal
            && self.settings.two_entry
            && matches!(method, Method::Options | Method::Info)
            && msg.header(HeaderName::MobicentsHeartbeat).is_some()
    }

    fn heartbeat(&mut self, msg: &Message<'_>, top: &Via<'_>, d: Datagram<'_>, out: &mut Output) {
        self.counters.heartbeats += 1;
        let properties = heartbeat::parse_properties(msg.slice(msg.body()));
        out.events.push(Event::Heartbeat {
            src: d.src,
            properties,
        });
        let start = out.buf.len();
        reply::write(&mut out.buf, msg, 200, b"OK");
        out.reply(&d, reply::destination(Some(top), d.src), start);
    }

    /// Answer a request ourselves (never an ACK).
    pub(crate) fn reject(
        &mut self,
        msg: &Message<'_>,
        d: Datagram<'_>,
        code: u16,
        reason: &[u8],
        out: &mut Output,
    ) {
        reject_with(&mut self.counters, msg, d, code, reason, out);
    }

    /// Direction: two entry points → the internal port means "from a node";
    /// one entry point → the source or the top Via names a known node or an
    /// `extraServerNodes` entry.
    fn is_from_node(&self, top: &Via<'_>, d: Datagram<'_>) -> bool {
        if self.settings.two_entry {
            return d.leg == LegId::Internal;
        }
        let via_addr = super::write::parse_ip(top.host)
            .map(|ip| SocketAddr::new(ip, top.port.unwrap_or(5060)));
        let known = |a: SocketAddr| {
            self.nodes.find_by_addr(a.ip(), a.port()).is_some()
                || self.settings.extra_server_nodes.contains(&a)
        };
        known(d.src) || via_addr.is_some_and(known)
    }

    /// A request from a node towards a client: next hop from Route / RURI.
    fn node_request_target(
        &mut self,
        msg: &Message<'_>,
        routes: &RouteInfo<'_>,
        d: Datagram<'_>,
        now: Instant,
        out: &mut Output,
    ) -> Option<(Target, LegId)> {
        initial_remote::strip(msg, &mut self.edits);
        let node = routes
            .hint
            .and_then(|a| self.nodes.find_by_addr(a.ip(), a.port()))
            .or_else(|| self.nodes.find_by_addr(d.src.ip(), d.src.port()))
            .map(|n| (n.id, n.ip, n.ports.udp.unwrap_or(d.src.port()), n.version));
        if let Some((id, ..)) = node {
            self.refresh(id, now, out);
        }
        let next = match routes.first_remaining {
            Some(r) => routes::uri_addr(&r.uri),
            None => routes.ruri.and_then(|u| routes::uri_addr(&u)),
        };
        // A client on a stream is reached on the connection our Record-Route
        // recorded, whatever its Contact says (browsers use `*.invalid`
        // hosts); the address only matters if that connection is gone.
        let Some(dst) = next.or_else(|| routes.conn.map(|_| SocketAddr::from(([0, 0, 0, 0], 0))))
        else {
            self.counters.dropped += 1;
            log::debug!("request from node {}: next hop is not an IP address", d.src);
            return None;
        };
        if self.settings.is_listening(dst) || self.settings.is_us(Some(dst.ip()), Some(dst.port()))
        {
            self.counters.loops += 1;
            log::debug!("request from node {} loops back to us, dropped", d.src);
            return None;
        }
        let version = routes.version.or(node.map(|n| n.3)).unwrap_or(0);
        let stamp = node.map(|(_, ip, port, v)| (ip, port, v));
        let (transport, conn) = match routes.conn {
            Some(c) => (c.transport(), Some(c)),
            None => (outer_transport(routes), None),
        };
        Some((
            Target {
                dst,
                stamp,
                version,
                transport,
                conn,
            },
            LegId::External,
        ))
    }

    /// A request from a client: pick the node, fix RURI / Route, or answer.
    #[allow(clippy::too_many_arguments)]
    fn client_request_target(
        &mut self,
        msg: &Message<'_>,
        method: Method,
        routes: &RouteInfo<'_>,
        d: Datagram<'_>,
        now: Instant,
        out: &mut Output,
    ) -> Option<(Target, LegId)> {
        let key = key_hash(msg.call_id());
        let home = self.home_shard(key);
        let ctx = ChoiceCtx {
            home,
            shard: self.shard,
            handed_off: d.handed_off,
            key,
            now,
        };
        let choice = self
            .balancing
            .choose(&self.nodes, msg, routes, &ctx, &mut out.events);
        let node = match choice {
            Choice::Node(n) => n,
            Choice::HandOff(shard) => {
                out.hand_off = Some(shard);
                self.counters.hand_offs += 1;
                return None;
            }
            Choice::NoNode => {
                self.counters.no_node += 1;
                let s = &self.settings;
                let (code, reason) = (s.unavailable_status, &s.unavailable_reason);
                reject_with(&mut self.counters, msg, d, code, reason, out);
                return None;
            }
        };
        let wanted = self.inner_transport(d.transport);
        let Some((transport, port)) = node_port(node, wanted) else {
            self.counters.no_node += 1;
            let s = &self.settings;
            let (code, reason) = (s.unavailable_status, &s.unavailable_reason);
            reject_with(&mut self.counters, msg, d, code, reason, out);
            return None;
        };
        let (ip, version) = (node.ip, node.version);
        let dst = SocketAddr::new(ip, port);
        if self.settings.is_listening(dst) {
            self.counters.loops += 1;
            return None;
        }
        self.address_to_node(msg, routes, dst, transport);
        self.initial_remote(msg, method, d.src);
        if self.settings.internal_transport.is_some() || self.settings.terminate_tls {
            self.contact_transport(msg, d.transport);
        }
        let leg = if self.settings.two_entry {
            LegId::Internal
        } else {
            LegId::External
        };
        Some((
            Target {
                dst,
                stamp: Some((ip, port, version)),
                version,
                transport,
                conn: None,
            },
            leg,
        ))
    }

    /// Make the message reach `dst`: rewrite a Request-URI that names us,
    /// else push a Route to the node unless the next hop already is the node.
    fn address_to_node(
        &mut self,
        msg: &Message<'_>,
        routes: &RouteInfo<'_>,
        dst: SocketAddr,
        transport: Transport,
    ) {
        let ruri = routes.ruri;
        if let Some(first) = routes.first_remaining {
            if routes::uri_addr(&first.uri) == Some(dst) {
                return;
            }
        } else if let Some(u) = ruri {
            if routes::is_ours(&u, &self.settings) {
                let (t, mark) = self.edits.text();
                push_host_port(t, dst.ip(), dst.port());
                self.edits.finish(mark, u.host_port.start, u.host_port.end);
                return;
            }
            if routes::uri_addr(&u) == Some(dst) {
                return;
            }
        }
        let at = routes.route_line.unwrap_or_else(|| first_via_line(msg));
        let (t, mark) = self.edits.text();
        t.extend_from_slice(b"Route: <sip:");
        push_host_port(t, dst.ip(), dst.port());
        t.extend_from_slice(b";transport=");
        t.extend_from_slice(transport::uri_token(transport));
        t.extend_from_slice(b";lr>\r\n");
        self.edits.finish(mark, at, at);
    }

    /// `X-Sip-Balancer-InitialRemoteAddr/Port` on client REGISTERs and
    /// requests with a body; copies sent by the client are removed always.
    fn initial_remote(&mut self, msg: &Message<'_>, method: Method, src: SocketAddr) {
        let body = msg.body();
        if method == Method::Register || body.end > body.start {
            initial_remote::stamp(msg, src, &mut self.edits);
        } else {
            initial_remote::strip(msg, &mut self.edits);
        }
    }

    /// Push Vias (and Record-Routes on dialog-creating requests), write the
    /// message, send it, and answer `100 Trying` to INVITEs.
    #[allow(clippy::too_many_arguments)]
    fn forward_request(
        &mut self,
        msg: &Message<'_>,
        method: Method,
        top: &Via<'_>,
        target: &Target,
        leg: LegId,
        towards_node: bool,
        d: Datagram<'_>,
        out: &mut Output,
    ) {
        if method == Method::Invite && self.settings.send_trying {
            let start = out.buf.len();
            reply::write(&mut out.buf, msg, 100, b"Trying");
            out.reply(&d, reply::destination(Some(top), d.src), start);
            self.counters.replies_sent += 1;
        }
        vias::stamp_received(top, d.src, &mut self.edits, msg.buf());
        let at = first_via_line(msg);
        // The caller's address, for the routing rules: the client for a
        // request towards a node, the next hop for one towards a client.
        let caller = if towards_node {
            d.src.ip()
        } else {
            target.dst.ip()
        };
        let real = self.settings.rules_matter
            && !caller.is_unspecified()
            && self.settings.rules.wants_real(caller);
        let nat = self
            .settings
            .nat
            .as_ref()
            .filter(|_| !towards_node && !real);
        if is_dialog_creating(msg, method) {
            let rr_at = msg
                .header(HeaderName::RecordRoute)
                .map_or(at, |h| h.line.start);
            if let Some(nat) = nat {
                nat.patch(msg, target.transport, true, &mut self.edits);
            }
            self.push_record_routes(rr_at, towards_node, real, target, &d);
        }
        if msg.header(HeaderName::MaxForwards).is_none() {
            self.edits.insert(at, b"Max-Forwards: 70\r\n");
        }
        let hash = vias::branch_hash(top.branch.unwrap_or(&[]), msg.call_id());
        self.push_vias(at, towards_node, real, hash, target, &d);
        let start = out.buf.len();
        self.edits.apply(msg.buf(), &mut out.buf);
        let to = Dest {
            leg,
            dst: target.dst,
            transport: target.transport,
            conn: target.conn,
        };
        out.emit(to, start);
        self.counters.requests_forwarded += 1;
        self.counters.count_request(method);
        let body = msg.body();
        self.counters.body_bytes += u64::from(body.end.saturating_sub(body.start));
    }

    /// Two Vias: the side the message leaves on goes on top, with the
    /// outgoing transport; the receiving side's below it, with the incoming
    /// transport and the connection the request came in on (`lbc`), so the
    /// response finds that connection on whichever shard handles it.
    fn push_vias(
        &mut self,
        at: u32,
        towards_node: bool,
        real: bool,
        hash: u64,
        target: &Target,
        d: &Datagram<'_>,
    ) {
        let sending = (towards_node, target.transport, None);
        let receiving = (!towards_node, d.transport, d.conn);
        for (internal, t, conn) in [sending, receiving] {
            let set = templates(&self.settings, real);
            let (buf, mark) = self.edits.text();
            let tpl = if internal {
                &set.via_internal
            } else {
                &set.via_external
            };
            buf.extend_from_slice(&tpl[transport::index(t)]);
            push_hex64(buf, hash);
            buf.extend_from_slice(if internal { b"zsd_" } else { b"_" });
            push_u32(buf, target.version);
            if let Some(c) = conn {
                transport::push_conn_param(buf, c);
            }
            buf.extend_from_slice(b"\r\n");
            self.edits.finish(mark, at, at);
        }
    }

    /// Record-Route: one per leg (the receiving side's UA sees its own leg
    /// first in its route set), stamped with the node; the entry on the
    /// sender's side carries the sender's connection (`lbc`) for requests
    /// coming back the other way.
    fn push_record_routes(
        &mut self,
        at: u32,
        towards_node: bool,
        real: bool,
        target: &Target,
        d: &Datagram<'_>,
    ) {
        let settings = &self.settings;
        let set = templates(settings, real);
        // Towards a client behind our NAT the external entry names the
        // public address (original §2.11), unless a routing rule applies.
        let external = match &settings.nat {
            Some(nat) if !towards_node && !real => &nat.rr_external,
            _ => &set.rr_external,
        };
        let sending = target.transport;
        let receiving = d.transport;
        let entries = match (&set.rr_internal, towards_node) {
            (Some(int), true) => [
                Some((int, sending, None)),
                Some((external, receiving, d.conn)),
            ],
            (Some(int), false) => [
                Some((external, sending, None)),
                Some((int, receiving, d.conn)),
            ],
            (None, _) => {
                let client = if towards_node { receiving } else { sending };
                [Some((external, client, d.conn)), None]
            }
        };
        for (tpl, t, conn) in entries.into_iter().flatten() {
            let (buf, mark) = self.edits.text();
            buf.extend_from_slice(&tpl[transport::index(t)]);
            if let Some(c) = conn {
                transport::push_conn_param(buf, c);
            }
            push_rr_stamp(buf, target.stamp);
            self.edits.finish(mark, at, at);
        }
    }

    /// The transport towards nodes for a client request that came in over
    /// `incoming`: `internalTransport` if set, else the same, TLS ending at
    /// the balancer when `terminateTLSTraffic` (TLS → TCP, WSS → WS).
    fn inner_transport(&self, incoming: Transport) -> Transport {
        if let Some(t) = self.settings.internal_transport {
            return t;
        }
        match (incoming, self.settings.terminate_tls) {
            (Transport::Tls, true) => Transport::Tcp,
            (Transport::Wss, true) => Transport::Ws,
            (t, _) => t,
        }
    }

    /// Give the client's Contact URI `transport=<its real transport>` (original
    /// §2.5 step 14), so a node reached over another transport still knows
    /// how the client is reached. A Contact that names a transport is kept.
    fn contact_transport(&mut self, msg: &Message<'_>, outer: Transport) {
        let buf = msg.buf();
        let Some(h) = msg.header(HeaderName::Contact) else {
            return;
        };
        let Some(entry) = headers::name_addrs(buf, h.value).next() else {
            return;
        };
        let params = entry.uri.params;
        if headers::params(params).any(|(n, _)| n.eq_ignore_ascii_case(b"transport")) {
            return;
        }
        // The parameters end the URI part we keep; with none, the URI ends
        // at its host:port (an empty slice may point anywhere).
        let end = if params.is_empty() {
            entry.uri.host_port.end as usize
        } else {
            let start = (params.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
            if start > buf.len() {
                return;
            }
            start + params.len()
        };
        let Ok(end) = u32::try_from(end) else { return };
        if end as usize > buf.len() {
            return;
        }
        let (t, mark) = self.edits.text();
        t.extend_from_slice(b";transport=");
        t.extend_from_slice(transport::uri_token(outer));
        self.edits.finish(mark, end, end);
    }
}

/// The node's port for `wanted`; a node that does not listen on it gets
/// plain TCP for a stream transport (e.g. WSS ended here towards a TCP-only
/// node), else UDP; `None` if it has none of them.
fn node_port(node: &crate::registry::Node, wanted: Transport) -> Option<(Transport, u16)> {
    let fallback = transport::is_stream(wanted).then_some(Transport::Tcp);
    std::iter::once(wanted)
        .chain(fallback)
        .chain(std::iter::once(Transport::Udp))
        .find_map(|t| node.port(t).map(|p| (t, p)))
}

/// The transport towards the client for a request from a node: the next
/// hop's `transport=` parameter (first remaining Route, else Request-URI).
fn outer_transport(routes: &RouteInfo<'_>) -> Transport {
    match (routes.first_remaining, routes.ruri) {
        (Some(r), _) => transport::of_uri_params(r.uri.params),
        (None, Some(u)) => transport::of_uri_params(u.params),
        (None, None) => Transport::Udp,
    }
}

/// Answer a request ourselves (never an ACK); a free function so callers
/// holding a borrow of the node set can still count and reply.
fn reject_with(
    counters: &mut SipCounters,
    msg: &Message<'_>,
    d: Datagram<'_>,
    code: u16,
    reason: &[u8],
    out: &mut Output,
) {
    if msg.method() == Some(Method::Ack) {
        counters.dropped += 1;
        return;
    }
    let start = out.buf.len();
    reply::write(&mut out.buf, msg, code, reason);
    out.reply(
        &d,
        reply::destination(vias::top(msg).as_ref(), d.src),
        start,
    );
    counters.replies_sent += 1;
}

/// Our normal templates, or the real-address ones a routing rule selected.
fn templates(settings: &super::settings::Settings, real: bool) -> &Templates {
    if real {
        &settings.real
    } else {
        &settings.normal
    }
}

/// Initial INVITE or SUBSCRIBE (no To tag): the balancer record-routes.
fn is_dialog_creating(msg: &Message<'_>, method: Method) -> bool {
    matches!(method, Method::Invite | Method::Subscribe)
        && !msg.value(HeaderName::To).is_some_and(headers::has_tag)
}

/// Start of the first Via header line (where we insert our headers).
fn first_via_line(msg: &Message<'_>) -> u32 {
    match msg.header(HeaderName::Via) {
        Some(h) => h.line.start,
        None => match msg.start() {
            StartLine::Request { .. } | StartLine::Response { .. } => msg.start_line().end,
        },
    }
}
