//! SIP over TLS, WS and WSS (and IPv6) through the balancer, end to end
//! over real loopback sockets: the balancer binary as a child process,
//! clients and nodes played by the test with rustls and a hand-written
//! WebSocket codec (`common::streams`, independent of the crate's own
//! `tls` and `ws` modules).
//!
//! Every test follows a whole dialog (INVITE, 100, 200, ACK, BYE, 200, and
//! REGISTER over WS) and checks what crossed each wire: the request line
//! and Vias the node sees (transport token and our port on the node
//! side), the Record-Route set, the Contact patch, the status codes at the
//! client, the Route-driven in-dialog requests, and for WebSocket the
//! opening handshake the balancer sends and the masking of its frames.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::certs::{write_pki, TestPki};
use common::sip::{heartbeat, heartbeat_body};
use common::streams::{client_config, header_value, server_config, Kind, SipStream, StreamNode};
use common::{free_port, param, Balancer, Heartbeater, LbConfig, Msg, TempDir};

/// Wait for something that should arrive.
const WAIT: Duration = Duration::from_secs(3);
/// Listen this long to show that nothing arrives.
const QUIET: Duration = Duration::from_millis(700);

// ---------------------------------------------------------------------------
// Set-up helpers
// ---------------------------------------------------------------------------

/// A fresh CA, server certificate (SANs 127.0.0.1 and ::1) and client
/// certificate, removed with the value.
struct Pki {
    files: TestPki,
    _dir: TempDir,
}

fn pki() -> Pki {
    let dir = TempDir::new("pki");
    // The directory name is unique: it names the CA (two CAs never share a subject).
    let files = write_pki(&dir.path, &["127.0.0.1", "::1"]);
    Pki { files, _dir: dir }
}

/// The top-level `ssl:` section (`common::certs::ssl_yaml`).
fn ssl_yaml(p: &Pki, auth: &str, terminate: bool) -> String {
    common::certs::ssl_yaml(&p.files, auth, terminate)
}

/// Announces a node at `127.0.0.1:port` with `extra` port properties.
fn announce(lb: &Balancer, port: u16, extra: &str) -> Heartbeater {
    let hb = Heartbeater::start_with(lb.internal, port, Duration::from_millis(200), extra);
    assert!(hb.wait_registered(WAIT), "node registered");
    hb
}

/// Two legs on fresh UDP ports, statistics endpoint off (parallel
/// balancers would fight over its default port).
fn lb_config() -> LbConfig {
    let mut cfg = LbConfig::two_legs();
    cfg.statistic_port = Some(0);
    cfg
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn v6(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::from(std::net::Ipv6Addr::LOCALHOST), port)
}

// ---------------------------------------------------------------------------
// SIP text
// ---------------------------------------------------------------------------

/// A client's side of one dialog.
struct Ua {
    /// Via / URI transport.
    kind: &'static str,
    /// Via sent-by (`127.0.0.1:port`, or `xyz.invalid` as WebSocket UAs write).
    sent_by: String,
    /// Contact URI (without `<>`).
    contact: String,
    call_id: String,
}

impl Ua {
    fn new(kind: &'static str, sent_by: &str, contact: &str, call_id: &str) -> Ua {
        Ua {
            kind,
            sent_by: sent_by.to_string(),
            contact: contact.to_string(),
            call_id: call_id.to_string(),
        }
    }

    /// A request; `to_tag` makes it in-dialog, `routes` are `Route` entries.
    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        method: &str,
        ruri: &str,
        cseq: u32,
        to_tag: Option<&str>,
        routes: &[String],
        body: &str,
    ) -> Vec<u8> {
        let mut s = format!("{method} {ruri} SIP/2.0\r\n");
        s += &format!(
            "Via: SIP/2.0/{} {};branch=z9hG4bK-{}-{cseq}-{method};rport\r\n",
            self.kind, self.sent_by, self.call_id
        );
        for r in routes {
            s += &format!("Route: {r}\r\n");
        }
        s += "Max-Forwards: 70\r\n";
        s += "From: <sip:alice@client.test>;tag=alice-tag\r\n";
        match to_tag {
            Some(t) => s += &format!("To: <sip:bob@server.test>;tag={t}\r\n"),
            None => s += "To: <sip:bob@server.test>\r\n",
        }
        s += &format!("Call-ID: {}\r\n", self.call_id);
        s += &format!("CSeq: {cseq} {method}\r\n");
        s += &format!("Contact: <{}>\r\n", self.contact);
        if !body.is_empty() {
            s += "Content-Type: application/sdp\r\n";
        }
        s += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
        s.into_bytes()
    }
}

/// The node's answer to `req`: Vias, Record-Routes, From, To (tagged),
/// Call-ID, CSeq copied; `contact` as its Contact.
fn node_reply(req: &Msg, code: u16, contact: &str) -> Vec<u8> {
    let mut s = format!("SIP/2.0 {code} OK\r\n");
    for v in req.vias() {
        s += &format!("Via: {v}\r\n");
    }
    for rr in req.record_routes() {
        s += &format!("Record-Route: {rr}\r\n");
    }
    s += &format!("From: {}\r\n", req.header("from").unwrap_or_default());
    let to = req.header("to").unwrap_or_default();
    if param(&to, "tag").is_none() {
        s += &format!("To: {to};tag=node-tag\r\n");
    } else {
        s += &format!("To: {to}\r\n");
    }
    s += &format!("Call-ID: {}\r\n", req.call_id().unwrap_or_default());
    s += &format!("CSeq: {}\r\n", req.header("cseq").unwrap_or_default());
    s += &format!("Contact: <{contact}>\r\n");
    s += "Content-Length: 0\r\n\r\n";
    s.into_bytes()
}

/// The URI inside `<...>` of a name-addr.
fn uri_of(name_addr: &str) -> String {
    let s = name_addr.trim();
    match (s.find('<'), s.find('>')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].to_string(),
        _ => s.to_string(),
    }
}

const SDP: &str = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
                   t=0 0\r\nm=audio 49170 RTP/AVP 0\r\n";

/// What one call through the balancer must look like on both wires.
struct CallPath {
    /// Where the client talks to us, and over what.
    ext: SocketAddr,
    client: Kind,
    /// Our address on the node side (the internal listener of `node`'s
    /// transport), and the node's transport.
    int: SocketAddr,
    node: Kind,
    /// The balancer adds `;transport=<client's>` to the client's Contact
    /// (with `terminateTLSTraffic` or `internalTransport`).
    contact_patched: bool,
}

/// Asserts the three Vias a client request carries at the node.
fn assert_node_vias(req: &Msg, p: &CallPath, ua: &Ua, what: &str) {
    let vias = req.vias();
    assert_eq!(
        vias.len(),
        3,
        "{what}: our two Vias over the client's: {vias:?}"
    );
    let node_side = format!("SIP/2.0/{} {};branch=z9hG4bK", p.node.via(), p.int);
    assert!(
        vias[0].starts_with(&node_side),
        "{what}: top Via is ours on the node side ({node_side}): {}",
        vias[0]
    );
    let client_side = format!("SIP/2.0/{} {};branch=z9hG4bK", p.client.via(), p.ext);
    assert!(
        vias[1].starts_with(&client_side),
        "{what}: second Via is ours on the client side ({client_side}): {}",
        vias[1]
    );
    assert!(
        param(&vias[1], "lbc").is_some(),
        "{what}: the client-side Via names the client's connection: {}",
        vias[1]
    );
    let theirs = format!(
        "SIP/2.0/{} {};branch=z9hG4bK-{}",
        ua.kind, ua.sent_by, ua.call_id
    );
    assert!(
        vias[2].starts_with(&theirs),
        "{what}: the client's Via kept ({theirs}): {}",
        vias[2]
    );
}

/// Asserts our two Record-Routes (node side first) stamped with the node.
fn assert_record_routes(rr: &[String], p: &CallPath, node: SocketAddr, what: &str) {
    assert_eq!(rr.len(), 2, "{what}: one Record-Route per leg: {rr:?}");
    let int = format!("<sip:{};transport={};lr", p.int, p.node.uri());
    assert!(
        rr[0].starts_with(&int),
        "{what}: node-side RR {int}: {}",
        rr[0]
    );
    let ext = format!("<sip:{};transport={};lr", p.ext, p.client.uri());
    assert!(
        rr[1].starts_with(&ext),
        "{what}: client-side RR {ext}: {}",
        rr[1]
    );
    assert!(
        param(&rr[1], "lbc").is_some(),
        "{what}: the client-side RR names the client's connection: {}",
        rr[1]
    );
    for r in rr {
        assert_eq!(
            param(r, "node_port").as_deref(),
            Some(node.port().to_string().as_str()),
            "{what}: RR stamped with the node's port: {r}"
        );
    }
}

/// INVITE (with a body), 100 and 200 at the client, ACK and BYE following
/// the Record-Route, 200 to the BYE. Returns the INVITE as the node saw it.
fn call(p: &CallPath, ua: &Ua, client: &mut SipStream, node: &mut StreamNode) -> Msg {
    let node_addr = node.addr();
    let ruri = format!("sip:bob@{};transport={}", p.ext, p.client.uri());
    client.send(&ua.request("INVITE", &ruri, 1, None, &[], SDP));

    let (inv, conn) = node.must_get(WAIT, "INVITE");
    eprintln!("--- INVITE at the {:?} node:\n{}", p.node, inv.text);
    assert_eq!(
        inv.start_line(),
        format!(
            "INVITE sip:bob@{node_addr};transport={} SIP/2.0",
            p.client.uri()
        ),
        "Request-URI rewritten to the node (host:port only)"
    );
    assert_node_vias(&inv, p, ua, "INVITE at node");
    assert_record_routes(&inv.record_routes(), p, node_addr, "INVITE at node");
    assert_eq!(inv.header("max-forwards").as_deref(), Some("69"));
    assert!(
        inv.routes().is_empty(),
        "no Route pushed: {:?}",
        inv.routes()
    );
    let want_contact = if p.contact_patched {
        format!("<{};transport={}>", ua.contact, p.client.uri())
    } else {
        format!("<{}>", ua.contact)
    };
    assert_eq!(inv.header("contact"), Some(want_contact), "Contact at node");
    assert_eq!(inv.body(), SDP, "body intact");
    assert_eq!(
        inv.header("content-length").as_deref(),
        Some(SDP.len().to_string().as_str())
    );

    let node_contact = format!("sip:bob@{node_addr};transport={}", p.node.uri());
    node.send(conn, &node_reply(&inv, 200, &node_contact));

    let trying = client
        .next(WAIT)
        .expect("client connection alive")
        .expect("100 Trying");
    assert_eq!(trying.status(), Some(100), "first answer: {}", trying.text);
    let ok = client.expect_status(200, WAIT);
    eprintln!("--- 200 at the {:?} client:\n{}", p.client, ok.text);
    let vias = ok.vias();
    assert_eq!(vias.len(), 1, "our Vias popped: {vias:?}");
    assert!(
        vias[0].starts_with(&format!(
            "SIP/2.0/{} {};branch=z9hG4bK-{}-1-INVITE",
            ua.kind, ua.sent_by, ua.call_id
        )),
        "the client's own Via: {}",
        vias[0]
    );
    assert_eq!(ok.call_id().as_deref(), Some(ua.call_id.as_str()));
    assert_eq!(ok.header("cseq").as_deref(), Some("1 INVITE"));
    let rr = ok.record_routes();
    assert_record_routes(&rr, p, node_addr, "200 at client");
    let route: Vec<String> = rr.into_iter().rev().collect();
    let target = uri_of(&ok.header("contact").expect("200 has a Contact"));
    assert_eq!(target, node_contact, "node's Contact reaches the client");

    client.send(&ua.request("ACK", &target, 1, Some("node-tag"), &route, ""));
    let (ack, _) = node.must_get(WAIT, "ACK");
    assert_eq!(ack.start_line(), format!("ACK {node_contact} SIP/2.0"));
    assert!(
        ack.routes().is_empty(),
        "our Routes removed: {:?}",
        ack.routes()
    );
    assert_node_vias(&ack, p, ua, "ACK at node");

    client.send(&ua.request("BYE", &target, 2, Some("node-tag"), &route, ""));
    let (bye, conn) = node.must_get(WAIT, "BYE");
    eprintln!("--- BYE at the {:?} node:\n{}", p.node, bye.text);
    assert_eq!(bye.start_line(), format!("BYE {node_contact} SIP/2.0"));
    assert!(
        bye.routes().is_empty(),
        "our Routes removed: {:?}",
        bye.routes()
    );
    assert_node_vias(&bye, p, ua, "BYE at node");
    node.send(conn, &node_reply(&bye, 200, &node_contact));
    let done = client.expect_status(200, WAIT);
    assert_eq!(done.header("cseq").as_deref(), Some("2 BYE"));
    inv
}

/// The client's Ua for a client stream from `from` over `kind`.
fn ip_ua(kind: Kind, from: SocketAddr, call_id: &str) -> Ua {
    Ua::new(
        kind.via(),
        &from.to_string(),
        &format!("sip:alice@{from}"),
        call_id,
    )
}

// ---------------------------------------------------------------------------
// 1. TLS client → TCP node (terminateTLSTraffic)
// ---------------------------------------------------------------------------

#[test]
fn tls_client_reaches_tcp_node_when_tls_is_terminated() {
    let pki = pki();
    let mut cfg = lb_config();
    cfg.external_tls = Some(free_port());
    cfg.internal_tcp = Some(free_port());
    cfg.extra_yaml = ssl_yaml(&pki, "Disabled", true);
    let mut node = StreamNode::bind(local(free_port()), Kind::Tcp, None);
    let lb = Balancer::start(&cfg);
    let _hb = announce(
        &lb,
        node.addr().port(),
        &format!("tcpPort={}\n", node.addr().port()),
    );

    let ext = local(cfg.external_tls.unwrap_or(0));
    let tls = client_config(&pki.files.ca, None);
    let mut client = SipStream::connect(Kind::Tls, ext, Some(tls)).expect("TLS to the balancer");
    let ua = ip_ua(Kind::Tls, client.local_addr(), "tls-term-1");
    let p = CallPath {
        ext,
        client: Kind::Tls,
        int: local(cfg.internal_tcp.unwrap_or(0)),
        node: Kind::Tcp,
        contact_patched: true,
    };
    call(&p, &ua, &mut client, &mut node);
    assert_eq!(node.conns.len(), 1, "one TCP connection to the node");
    assert!(node.failures.is_empty(), "{:?}", node.failures);
    lb.stop();
}

// ---------------------------------------------------------------------------
// 2. TLS client → TLS node (no termination)
// ---------------------------------------------------------------------------

#[test]
fn tls_client_reaches_tls_node_without_termination() {
    let pki = pki();
    let mut cfg = lb_config();
    cfg.external_tls = Some(free_port());
    cfg.internal_tls = Some(free_port());
    cfg.extra_yaml = ssl_yaml(&pki, "Disabled", false);
    let f = &pki.files;
    let node_tls = server_config(&f.server_chain, &f.server_key, None);
    let mut node = StreamNode::bind(local(free_port()), Kind::Tls, Some(node_tls));
    let lb = Balancer::start(&cfg);
    let _hb = announce(
        &lb,
        node.addr().port(),
        &format!("tlsPort={}\n", node.addr().port()),
    );

    let ext = local(cfg.external_tls.unwrap_or(0));
    let mut client = SipStream::connect(Kind::Tls, ext, Some(client_config(&f.ca, None)))
        .expect("TLS to the balancer");
    let ua = ip_ua(Kind::Tls, client.local_addr(), "tls-pass-1");
    let p = CallPath {
        ext,
        client: Kind::Tls,
        int: local(cfg.internal_tls.unwrap_or(0)),
        node: Kind::Tls,
        contact_patched: false,
    };
    call(&p, &ua, &mut client, &mut node);
    assert_eq!(node.conns.len(), 1, "one TLS connection to the node");
    assert!(node.failures.is_empty(), "{:?}", node.failures);
    lb.stop();
}

// ---------------------------------------------------------------------------
// 3. Client authentication
// ---------------------------------------------------------------------------

/// A balancer with an external TLS port and `auth`, a TCP node behind it
/// (TLS terminated).
fn auth_rig(pki: &Pki, auth: &str) -> (Balancer, StreamNode, Heartbeater, SocketAddr, CallPath) {
    let mut cfg = lb_config();
    cfg.external_tls = Some(free_port());
    cfg.internal_tcp = Some(free_port());
    cfg.extra_yaml = ssl_yaml(pki, auth, true);
    let node = StreamNode::bind(local(free_port()), Kind::Tcp, None);
    let lb = Balancer::start(&cfg);
    let hb = announce(
        &lb,
        node.addr().port(),
        &format!("tcpPort={}\n", node.addr().port()),
    );
    let ext = local(cfg.external_tls.unwrap_or(0));
    let p = CallPath {
        ext,
        client: Kind::Tls,
        int: local(cfg.internal_tcp.unwrap_or(0)),
        node: Kind::Tcp,
        contact_patched: true,
    };
    (lb, node, hb, ext, p)
}

#[test]
fn client_auth_enabled_refuses_a_client_without_certificate() {
    let pki = pki();
    let (lb, mut node, _hb, ext, _) = auth_rig(&pki, "Enabled");
    let tls = client_config(&pki.files.ca, None);
    // TLS 1.3: the client finishes its side before the server has checked
    // the (empty) Certificate; the refusal is the server's alert after.
    let refusal = match SipStream::connect(Kind::Tls, ext, Some(tls)) {
        Err(e) => e,
        Ok(mut client) => {
            let ua = ip_ua(Kind::Tls, client.local_addr(), "auth-none-1");
            let ruri = format!("sip:bob@{ext};transport=tls");
            // The write may already fail: the server has closed.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                client.send(&ua.request("INVITE", &ruri, 1, None, &[], SDP))
            }));
            match client.next(WAIT) {
                Err(e) => e,
                Ok(m) => panic!("a client without a certificate got {m:?}"),
            }
        }
    };
    eprintln!("refusal seen by the client: {refusal}");
    assert!(
        refusal.contains("CertificateRequired") || refusal.contains("HandshakeFailure"),
        "the balancer refused with a certificate alert: {refusal}"
    );
    assert!(node.next(QUIET).is_none(), "nothing reached the node");
    assert!(node.conns.is_empty(), "no connection to the node");
    lb.stop();
}

#[test]
fn client_auth_want_serves_a_client_without_certificate() {
    let pki = pki();
    let (lb, mut node, _hb, ext, p) = auth_rig(&pki, "Want");
    let tls = client_config(&pki.files.ca, None);
    let mut client = SipStream::connect(Kind::Tls, ext, Some(tls)).expect("TLS handshake");
    let ua = ip_ua(Kind::Tls, client.local_addr(), "auth-want-1");
    call(&p, &ua, &mut client, &mut node);
    lb.stop();
}

#[test]
fn client_auth_enabled_serves_a_client_with_a_ca_signed_certificate() {
    let pki = pki();
    let (lb, mut node, _hb, ext, p) = auth_rig(&pki, "Enabled");
    let f = &pki.files;
    let tls = client_config(&f.ca, Some((&f.client_chain, &f.client_key)));
    let mut client = SipStream::connect(Kind::Tls, ext, Some(tls)).expect("TLS handshake");
    let ua = ip_ua(Kind::Tls, client.local_addr(), "auth-cert-1");
    call(&p, &ua, &mut client, &mut node);
    lb.stop();
}

#[test]
fn client_auth_enabled_refuses_a_certificate_of_another_ca() {
    let pki = pki();
    let other = self::pki();
    let (lb, mut node, _hb, ext, _) = auth_rig(&pki, "Enabled");
    let o = &other.files;
    let tls = client_config(&pki.files.ca, Some((&o.client_chain, &o.client_key)));
    let refusal = match SipStream::connect(Kind::Tls, ext, Some(tls)) {
        Err(e) => e,
        Ok(mut client) => {
            let ua = ip_ua(Kind::Tls, client.local_addr(), "auth-other-1");
            let ruri = format!("sip:bob@{ext};transport=tls");
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                client.send(&ua.request("INVITE", &ruri, 1, None, &[], SDP))
            }));
            match client.next(WAIT) {
                Err(e) => e,
                Ok(m) => panic!("a client of another CA got {m:?}"),
            }
        }
    };
    assert!(
        refusal.contains("UnknownCA"),
        "refused with a certificate alert: {refusal}"
    );
    assert!(node.next(QUIET).is_none(), "nothing reached the node");
    lb.stop();
}

// ---------------------------------------------------------------------------
// 4. WS client → WS node
// ---------------------------------------------------------------------------

/// A WebSocket UA as JsSIP / SIP.js write it: Via host `*.invalid`,
/// Contact `;transport=ws`.
fn ws_ua(kind: Kind, call_id: &str) -> Ua {
    Ua::new(
        kind.via(),
        "df7jal23ls0d.invalid",
        &format!("sip:alice@df7jal23ls0d.invalid;transport={}", kind.uri()),
        call_id,
    )
}

/// The balancer's opening handshake towards a WS node, and its frames.
fn assert_ws_node_side(node: &StreamNode, node_addr: SocketAddr) {
    assert!(!node.conns.is_empty(), "the balancer opened a WebSocket");
    for c in &node.conns {
        let head = &c.ws_head;
        assert!(
            head.starts_with("GET / HTTP/1.1\r\n"),
            "handshake: {head:?}"
        );
        assert_eq!(
            header_value(head, "Sec-WebSocket-Protocol").as_deref(),
            Some("sip"),
            "{head:?}"
        );
        assert_eq!(
            header_value(head, "Host"),
            Some(node_addr.to_string()),
            "{head:?}"
        );
        assert!(
            header_value(head, "Upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")),
            "{head:?}"
        );
        assert!(!c.frames.is_empty(), "frames from the balancer");
        for f in &c.frames {
            assert!(f.masked, "balancer → node frames are masked: {f:?}");
            assert!(f.fin && f.opcode == 1, "one text frame per message: {f:?}");
        }
        assert_eq!(
            c.frames.len(),
            c.messages,
            "one SIP message per WebSocket message"
        );
    }
}

fn assert_ws_client_side(client: &SipStream) {
    assert!(!client.frames.is_empty());
    for f in &client.frames {
        assert!(!f.masked, "balancer → client frames are not masked: {f:?}");
        assert!(f.fin && f.opcode == 1, "{f:?}");
    }
    assert_eq!(client.frames.len(), client.messages);
}

/// REGISTER over a WebSocket from a `.invalid` UA: the node gets it with
/// the client's real address in X-Sip-Balancer-InitialRemote*, the 200
/// comes back on the client's connection.
fn register(p: &CallPath, ua: &Ua, client: &mut SipStream, node: &mut StreamNode) {
    let ruri = format!("sip:{}", p.ext);
    let mut req = String::from_utf8(ua.request("REGISTER", &ruri, 1, None, &[], "")).unwrap();
    req = req.replacen(
        &format!("Contact: <{}>", ua.contact),
        &format!("Contact: <{}>;expires=600", ua.contact),
        1,
    );
    client.send(req.as_bytes());
    let (reg, conn) = node.must_get(WAIT, "REGISTER");
    let node_addr = node.addr();
    assert_eq!(
        reg.start_line(),
        format!("REGISTER sip:{node_addr} SIP/2.0"),
        "REGISTER Request-URI rewritten to the node"
    );
    assert_node_vias(&reg, p, ua, "REGISTER at node");
    let me = client.local_addr();
    assert_eq!(
        reg.header("X-Sip-Balancer-InitialRemoteAddr"),
        Some(me.ip().to_string())
    );
    assert_eq!(
        reg.header("X-Sip-Balancer-InitialRemotePort"),
        Some(me.port().to_string())
    );
    assert_eq!(
        reg.header("contact"),
        Some(format!("<{}>;expires=600", ua.contact)),
        "Contact with transport= untouched"
    );
    node.send(conn, &node_reply(&reg, 200, &ua.contact));
    let ok = client.expect_status(200, WAIT);
    assert_eq!(ok.header("cseq").as_deref(), Some("1 REGISTER"));
    assert_eq!(ok.vias().len(), 1, "{:?}", ok.vias());
}

#[test]
fn ws_client_registers_and_calls_through_a_ws_node() {
    let mut cfg = lb_config();
    cfg.external_ws = Some(free_port());
    cfg.internal_ws = Some(free_port());
    let mut node = StreamNode::bind(local(free_port()), Kind::Ws, None);
    let node_addr = node.addr();
    let lb = Balancer::start(&cfg);
    let _hb = announce(
        &lb,
        node_addr.port(),
        &format!("wsPort={}\n", node_addr.port()),
    );

    let ext = local(cfg.external_ws.unwrap_or(0));
    let mut client = SipStream::connect(Kind::Ws, ext, None).expect("WebSocket to the balancer");
    assert_eq!(
        header_value(&client.ws_head, "Sec-WebSocket-Protocol").as_deref(),
        Some("sip")
    );
    let p = CallPath {
        ext,
        client: Kind::Ws,
        int: local(cfg.internal_ws.unwrap_or(0)),
        node: Kind::Ws,
        contact_patched: false,
    };
    let reg_ua = ws_ua(Kind::Ws, "ws-reg-1");
    register(&p, &reg_ua, &mut client, &mut node);
    let ua = ws_ua(Kind::Ws, "ws-call-1");
    call(&p, &ua, &mut client, &mut node);
    assert_ws_node_side(&node, node_addr);
    assert_ws_client_side(&client);
    assert_eq!(node.conns.len(), 1, "one WebSocket to the node, reused");
    assert!(node.failures.is_empty(), "{:?}", node.failures);
    lb.stop();
}

/// After the call is set up, the node hangs up: its BYE follows its route
/// set (our two Record-Routes) to the client's WebSocket connection named
/// in them, although the client's Contact is a `.invalid` host.
#[test]
fn node_bye_reaches_a_ws_client_through_the_record_route() {
    let mut cfg = lb_config();
    cfg.external_ws = Some(free_port());
    cfg.internal_ws = Some(free_port());
    let mut node = StreamNode::bind(local(free_port()), Kind::Ws, None);
    let node_addr = node.addr();
    let lb = Balancer::start(&cfg);
    let _hb = announce(
        &lb,
        node_addr.port(),
        &format!("wsPort={}\n", node_addr.port()),
    );
    let ext = local(cfg.external_ws.unwrap_or(0));
    let mut client = SipStream::connect(Kind::Ws, ext, None).expect("WebSocket");
    let p = CallPath {
        ext,
        client: Kind::Ws,
        int: local(cfg.internal_ws.unwrap_or(0)),
        node: Kind::Ws,
        contact_patched: false,
    };
    let ua = ws_ua(Kind::Ws, "ws-nodebye-1");
    node_hangs_up(&p, &ua, &mut client, &mut node);
    lb.stop();
}

/// Same over TLS with termination: the node's BYE (over TCP) reaches the
/// client's TLS connection.
#[test]
fn node_bye_reaches_a_tls_client_through_the_record_route() {
    let pki = pki();
    let (lb, mut node, _hb, ext, p) = auth_rig(&pki, "Disabled");
    let tls = client_config(&pki.files.ca, None);
    let mut client = SipStream::connect(Kind::Tls, ext, Some(tls)).expect("TLS");
    let ua = ip_ua(Kind::Tls, client.local_addr(), "tls-nodebye-1");
    node_hangs_up(&p, &ua, &mut client, &mut node);
    lb.stop();
}

/// INVITE/200/ACK, then a BYE from the node to the client's Contact with
/// the Record-Route set as Route, answered 200 by the client.
fn node_hangs_up(p: &CallPath, ua: &Ua, client: &mut SipStream, node: &mut StreamNode) {
    let node_addr = node.addr();
    let ruri = format!("sip:bob@{};transport={}", p.ext, p.client.uri());
    client.send(&ua.request("INVITE", &ruri, 1, None, &[], SDP));
    let (inv, conn) = node.must_get(WAIT, "INVITE");
    let node_contact = format!("sip:bob@{node_addr};transport={}", p.node.uri());
    node.send(conn, &node_reply(&inv, 200, &node_contact));
    let ok = client.expect_status(200, WAIT);
    let route: Vec<String> = ok.record_routes().into_iter().rev().collect();
    client.send(&ua.request("ACK", &node_contact, 1, Some("node-tag"), &route, ""));
    let (ack, conn) = node.must_get(WAIT, "ACK");
    assert_eq!(ack.method(), Some("ACK"));

    // The node's side of the dialog: remote target = the client's Contact
    // as the node saw it, route set = the Record-Routes in order.
    let target = uri_of(&inv.header("contact").expect("Contact"));
    let rr = inv.record_routes();
    let mut bye = format!("BYE {target} SIP/2.0\r\n");
    bye += &format!(
        "Via: SIP/2.0/{} {node_addr};branch=z9hG4bK-node-bye;rport\r\n",
        p.node.via()
    );
    for r in &rr {
        bye += &format!("Route: {r}\r\n");
    }
    bye += "Max-Forwards: 70\r\n";
    bye += "From: <sip:bob@server.test>;tag=node-tag\r\n";
    bye += "To: <sip:alice@client.test>;tag=alice-tag\r\n";
    bye += &format!("Call-ID: {}\r\n", ua.call_id);
    bye += "CSeq: 1 BYE\r\n";
    bye += &format!("Contact: <{node_contact}>\r\n");
    bye += "Content-Length: 0\r\n\r\n";
    node.send(conn, bye.as_bytes());

    let got = match client.next(WAIT) {
        Ok(Some(m)) => m,
        Ok(None) => {
            panic!("the node's BYE (Request-URI {target}, Route {rr:?}) never reached the client")
        }
        Err(e) => panic!("client connection: {e}"),
    };
    assert_eq!(got.start_line(), format!("BYE {target} SIP/2.0"));
    let vias = got.vias();
    assert_eq!(vias.len(), 3, "{vias:?}");
    assert!(
        vias[0].starts_with(&format!(
            "SIP/2.0/{} {};branch=z9hG4bK",
            p.client.via(),
            p.ext
        )),
        "our client-side Via on top: {}",
        vias[0]
    );
    assert!(
        got.routes().is_empty(),
        "our Routes removed: {:?}",
        got.routes()
    );
    // The client answers; the 200 goes back to the node.
    let mut ok = String::from("SIP/2.0 200 OK\r\n");
    for v in &vias {
        ok += &format!("Via: {v}\r\n");
    }
    ok += "From: <sip:bob@server.test>;tag=node-tag\r\n";
    ok += "To: <sip:alice@client.test>;tag=alice-tag\r\n";
    ok += &format!(
        "Call-ID: {}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        ua.call_id
    );
    client.send(ok.as_bytes());
    let (resp, _) = node.must_get(WAIT, "200 to the node's BYE");
    assert_eq!(resp.status(), Some(200));
    assert_eq!(resp.header("cseq").as_deref(), Some("1 BYE"));
    assert_eq!(resp.vias().len(), 1, "{:?}", resp.vias());
}

// ---------------------------------------------------------------------------
// 5. WSS client (terminated) → WS node; WSS → TCP node (internalTransport)
// ---------------------------------------------------------------------------

#[test]
fn wss_client_reaches_ws_node_when_tls_is_terminated() {
    let pki = pki();
    let mut cfg = lb_config();
    cfg.external_wss = Some(free_port());
    cfg.internal_ws = Some(free_port());
    cfg.extra_yaml = ssl_yaml(&pki, "Disabled", true);
    let mut node = StreamNode::bind(local(free_port()), Kind::Ws, None);
    let node_addr = node.addr();
    let lb = Balancer::start(&cfg);
    let _hb = announce(
        &lb,
        node_addr.port(),
        &format!("wsPort={}\n", node_addr.port()),
    );

    let ext = local(cfg.external_wss.unwrap_or(0));
    let tls = client_config(&pki.files.ca, None);
    let mut client = SipStream::connect(Kind::Wss, ext, Some(tls)).expect("WSS to the balancer");
    let p = CallPath {
        ext,
        client: Kind::Wss,
        int: local(cfg.internal_ws.unwrap_or(0)),
        node: Kind::Ws,
        contact_patched: false,
    };
    let reg_ua = ws_ua(Kind::Wss, "wss-reg-1");
    register(&p, &reg_ua, &mut client, &mut node);
    let ua = ws_ua(Kind::Wss, "wss-call-1");
    call(&p, &ua, &mut client, &mut node);
    assert_ws_node_side(&node, node_addr);
    assert_ws_client_side(&client);
    lb.stop();
}

#[test]
fn wss_client_reaches_tcp_node_with_internal_transport_tcp() {
    let pki = pki();
    let mut cfg = lb_config();
    cfg.external_wss = Some(free_port());
    cfg.internal_tcp = Some(free_port());
    cfg.internal_transport = Some("tcp".into());
    cfg.extra_yaml = ssl_yaml(&pki, "Disabled", false);
    let mut node = StreamNode::bind(local(free_port()), Kind::Tcp, None);
    let node_addr = node.addr();
    let lb = Balancer::start(&cfg);
    let _hb = announce(
        &lb,
        node_addr.port(),
        &format!("tcpPort={}\n", node_addr.port()),
    );

    let ext = local(cfg.external_wss.unwrap_or(0));
    let tls = client_config(&pki.files.ca, None);
    let mut client = SipStream::connect(Kind::Wss, ext, Some(tls)).expect("WSS to the balancer");
    let p = CallPath {
        ext,
        client: Kind::Wss,
        int: local(cfg.internal_tcp.unwrap_or(0)),
        node: Kind::Tcp,
        contact_patched: false,
    };
    // A WSS UA whose Contact names no transport gets `;transport=wss`.
    let ua = Ua::new("WSS", "k3b9.invalid", "sip:alice@k3b9.invalid", "wss-tcp-1");
    let p_patched = CallPath {
        contact_patched: true,
        ..p
    };
    call(&p_patched, &ua, &mut client, &mut node);
    assert_ws_client_side(&client);
    lb.stop();
}

// ---------------------------------------------------------------------------
// 6. IPv6
// ---------------------------------------------------------------------------

/// Heartbeats from `[::1]` announcing a node at `ip` with `extra`
/// properties, every 200 ms, until dropped.
struct Announcer {
    acks: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Announcer {
    fn start(lb_internal: SocketAddr, ip: IpAddr, node_port: u16, extra: &str) -> Announcer {
        let (acks, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let body = format!(
            "{}ip={ip}\n{extra}",
            heartbeat_body(&format!("node{node_port}"), node_port, false)
        );
        let sock = UdpSocket::bind(SocketAddr::new(lb_internal.ip(), 0)).expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(50))).ok();
        let thread = {
            let (acks, stop) = (acks.clone(), stop.clone());
            std::thread::spawn(move || {
                let me = sock.local_addr().expect("addr");
                let mut seq = 0;
                let mut buf = [0u8; 4096];
                while !stop.load(Ordering::SeqCst) {
                    seq += 1;
                    let _ = sock.send_to(
                        &heartbeat("OPTIONS", me, lb_internal, seq, &body),
                        lb_internal,
                    );
                    let next = Instant::now() + Duration::from_millis(200);
                    while Instant::now() < next && !stop.load(Ordering::SeqCst) {
                        if let Ok((n, _)) = sock.recv_from(&mut buf) {
                            if Msg::parse(&buf[..n]).status() == Some(200) {
                                acks.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                }
            })
        };
        let a = Announcer {
            acks,
            stop,
            thread: Some(thread),
        };
        assert!(
            common::wait_until(WAIT, || a.acks.load(Ordering::SeqCst) > 0),
            "IPv6 heartbeat acknowledged"
        );
        std::thread::sleep(Duration::from_millis(150));
        a
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn v6_config() -> LbConfig {
    let mut cfg = lb_config();
    cfg.host = "::1".into();
    cfg
}

#[test]
fn ipv6_udp_call_round_trip() {
    let cfg = v6_config();
    let node = UdpSocket::bind(v6(0)).expect("node on ::1");
    let node_addr = node.local_addr().expect("addr");
    let lb = Balancer::start(&cfg);
    assert_eq!(lb.external, v6(cfg.external));
    let _hb = Announcer::start(lb.internal, node_addr.ip(), node_addr.port(), "");
    let client = UdpSocket::bind(v6(0)).expect("client on ::1");
    let me = client.local_addr().expect("addr");
    let recv = |s: &UdpSocket, what: &str| -> (Msg, SocketAddr) {
        s.set_read_timeout(Some(WAIT)).ok();
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, from) = s
                .recv_from(&mut buf)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let m = Msg::parse(&buf[..n]);
            if m.status() != Some(100) {
                return (m, from);
            }
        }
    };
    let ua = Ua::new(
        "UDP",
        &me.to_string(),
        &format!("sip:alice@{me}"),
        "v6-udp-1",
    );
    let ext = lb.external;
    let int = lb.internal;
    client
        .send_to(
            &ua.request("INVITE", &format!("sip:bob@{ext}"), 1, None, &[], SDP),
            ext,
        )
        .expect("send");
    let (inv, from) = recv(&node, "INVITE at the IPv6 node");
    eprintln!("--- INVITE at the IPv6 node:\n{}", inv.text);
    assert_eq!(from, int, "sent from our internal [::1] socket");
    assert_eq!(
        inv.start_line(),
        format!("INVITE sip:bob@{node_addr} SIP/2.0")
    );
    let vias = inv.vias();
    assert_eq!(vias.len(), 3, "{vias:?}");
    assert!(
        vias[0].starts_with(&format!("SIP/2.0/UDP {int};branch=z9hG4bK")),
        "{}",
        vias[0]
    );
    assert!(
        vias[1].starts_with(&format!("SIP/2.0/UDP {ext};branch=z9hG4bK")),
        "{}",
        vias[1]
    );
    let rr = inv.record_routes();
    assert_eq!(rr.len(), 2, "{rr:?}");
    assert!(
        rr[0].starts_with(&format!("<sip:{int};transport=udp;lr")),
        "{}",
        rr[0]
    );
    assert!(
        rr[1].starts_with(&format!("<sip:{ext};transport=udp;lr")),
        "{}",
        rr[1]
    );
    let node_contact = format!("sip:bob@{node_addr}");
    node.send_to(&node_reply(&inv, 200, &node_contact), from)
        .expect("send 200");
    let (ok, from) = recv(&client, "200 at the IPv6 client");
    assert_eq!(from, ext);
    assert_eq!(ok.status(), Some(200), "{}", ok.text);
    assert_eq!(ok.vias().len(), 1, "{:?}", ok.vias());
    let route: Vec<String> = ok.record_routes().into_iter().rev().collect();
    client
        .send_to(
            &ua.request("BYE", &node_contact, 2, Some("node-tag"), &route, ""),
            ext,
        )
        .expect("send");
    let (bye, from) = recv(&node, "BYE at the IPv6 node");
    assert_eq!(bye.start_line(), format!("BYE {node_contact} SIP/2.0"));
    assert!(bye.routes().is_empty(), "{:?}", bye.routes());
    node.send_to(&node_reply(&bye, 200, &node_contact), from)
        .expect("send 200");
    let (done, _) = recv(&client, "200 to BYE");
    assert_eq!(done.header("cseq").as_deref(), Some("2 BYE"));
    lb.stop();
}

#[test]
fn ipv6_tcp_call_round_trip() {
    let mut cfg = v6_config();
    cfg.external_tcp = Some(free_port());
    cfg.internal_tcp = Some(free_port());
    let mut node = StreamNode::bind(v6(free_port()), Kind::Tcp, None);
    let node_addr = node.addr();
    let lb = Balancer::start(&cfg);
    let _hb = Announcer::start(
        lb.internal,
        node_addr.ip(),
        node_addr.port(),
        &format!("tcpPort={}\n", node_addr.port()),
    );
    let ext = v6(cfg.external_tcp.unwrap_or(0));
    let mut client = SipStream::connect(Kind::Tcp, ext, None).expect("TCP to [::1]");
    let ua = ip_ua(Kind::Tcp, client.local_addr(), "v6-tcp-1");
    let p = CallPath {
        ext,
        client: Kind::Tcp,
        int: v6(cfg.internal_tcp.unwrap_or(0)),
        node: Kind::Tcp,
        contact_patched: false,
    };
    call(&p, &ua, &mut client, &mut node);
    lb.stop();
}

// ---------------------------------------------------------------------------
// More transport pairs
// ---------------------------------------------------------------------------

#[test]
fn wss_client_reaches_wss_node_without_termination() {
    let pki = pki();
    let mut cfg = lb_config();
    cfg.external_wss = Some(free_port());
    cfg.internal_wss = Some(free_port());
    cfg.extra_yaml = ssl_yaml(&pki, "Disabled", false);
    let f = &pki.files;
    let node_tls = server_config(&f.server_chain, &f.server_key, None);
    let mut node = StreamNode::bind(local(free_port()), Kind::Wss, Some(node_tls));
    let node_addr = node.addr();
    let lb = Balancer::start(&cfg);
    let _hb = announce(
        &lb,
        node_addr.port(),
        &format!("wssPort={}\n", node_addr.port()),
    );

    let ext = local(cfg.external_wss.unwrap_or(0));
    let tls = client_config(&f.ca, None);
    let mut client = SipStream::connect(Kind::Wss, ext, Some(tls)).expect("WSS to the balancer");
    let p = CallPath {
        ext,
        client: Kind::Wss,
        int: local(cfg.internal_wss.unwrap_or(0)),
        node: Kind::Wss,
        contact_patched: false,
    };
    register(&p, &ws_ua(Kind::Wss, "wss-wss-reg"), &mut client, &mut node);
    call(
        &p,
        &ws_ua(Kind::Wss, "wss-wss-call"),
        &mut client,
        &mut node,
    );
    assert_ws_node_side(&node, node_addr);
    assert_ws_client_side(&client);
    assert_eq!(node.conns.len(), 1, "one WSS connection to the node");
    assert!(node.failures.is_empty(), "{:?}", node.failures);
    lb.stop();
}

#[test]
fn tcp_client_reaches_tls_node_with_internal_transport_tls() {
    let pki = pki();
    let mut cfg = lb_config();
    cfg.external_tcp = Some(free_port());
    cfg.internal_tls = Some(free_port());
    cfg.internal_transport = Some("tls".into());
    cfg.extra_yaml = ssl_yaml(&pki, "Disabled", false);
    let f = &pki.files;
    let node_tls = server_config(&f.server_chain, &f.server_key, None);
    let mut node = StreamNode::bind(local(free_port()), Kind::Tls, Some(node_tls));
    let lb = Balancer::start(&cfg);
    let _hb = announce(
        &lb,
        node.addr().port(),
        &format!("tlsPort={}\n", node.addr().port()),
    );
    let ext = local(cfg.external_tcp.unwrap_or(0));
    let mut client = SipStream::connect(Kind::Tcp, ext, None).expect("TCP to the balancer");
    let ua = ip_ua(Kind::Tcp, client.local_addr(), "tcp-tls-1");
    let p = CallPath {
        ext,
        client: Kind::Tcp,
        int: local(cfg.internal_tls.unwrap_or(0)),
        node: Kind::Tls,
        contact_patched: true,
    };
    call(&p, &ua, &mut client, &mut node);
    assert!(node.failures.is_empty(), "{:?}", node.failures);
    lb.stop();
}

// ---------------------------------------------------------------------------
// Node certificates
// ---------------------------------------------------------------------------

/// A TLS node whose certificate comes from a CA the balancer does not
/// trust: with `Disabled` the balancer refuses it (the request never
/// reaches the node); with `DisabledAll` it connects anyway.
fn untrusted_node(auth: &str) -> (StreamNode, Option<Msg>) {
    let pki = pki();
    let other = self::pki();
    let mut cfg = lb_config();
    cfg.external_tls = Some(free_port());
    cfg.internal_tls = Some(free_port());
    cfg.extra_yaml = ssl_yaml(&pki, auth, false);
    let o = &other.files;
    let node_tls = server_config(&o.server_chain, &o.server_key, None);
    let mut node = StreamNode::bind(local(free_port()), Kind::Tls, Some(node_tls));
    let lb = Balancer::start(&cfg);
    let _hb = announce(
        &lb,
        node.addr().port(),
        &format!("tlsPort={}\n", node.addr().port()),
    );
    let ext = local(cfg.external_tls.unwrap_or(0));
    let tls = client_config(&pki.files.ca, None);
    let mut client = SipStream::connect(Kind::Tls, ext, Some(tls)).expect("TLS to the balancer");
    let ua = ip_ua(Kind::Tls, client.local_addr(), "untrusted-1");
    let ruri = format!("sip:bob@{ext};transport=tls");
    client.send(&ua.request("INVITE", &ruri, 1, None, &[], SDP));
    let got = node.next(WAIT).map(|(m, _)| m);
    // Give a refused handshake time to be recorded.
    if got.is_none() {
        node.next(QUIET);
    }
    lb.stop();
    (node, got)
}

#[test]
fn node_certificate_of_an_unknown_ca_is_refused() {
    let (node, got) = untrusted_node("Disabled");
    assert!(got.is_none(), "INVITE reached an unverified node: {got:?}");
    assert!(
        node.failures.iter().any(|e| e.contains("UnknownCA")),
        "the balancer aborted the handshake with unknown_ca: {:?}",
        node.failures
    );
}

#[test]
fn node_certificate_is_not_verified_with_disabled_all() {
    let (node, got) = untrusted_node("DisabledAll");
    let inv = got.unwrap_or_else(|| panic!("INVITE at node; failures {:?}", node.failures));
    assert_eq!(inv.method(), Some("INVITE"));
    assert!(node.failures.is_empty(), "{:?}", node.failures);
}

// ---------------------------------------------------------------------------
// Framing across records and frames
// ---------------------------------------------------------------------------

fn options(ua: &Ua, ext: SocketAddr, n: u32) -> Vec<u8> {
    let ruri = format!("sip:bob@{ext}");
    let mut m = String::from_utf8(ua.request("OPTIONS", &ruri, n, None, &[], "")).expect("utf8");
    m = m.replace(&ua.call_id, &format!("{}-{n}", ua.call_id));
    m.into_bytes()
}

/// Answers `n` OPTIONS at the node (checking their Call-IDs) and expects
/// the `n` 200s at the client, in order.
fn answer_options(node: &mut StreamNode, client: &mut SipStream, ua: &Ua, n: u32) {
    for i in 1..=n {
        let (m, conn) = node.must_get(WAIT, "OPTIONS");
        assert_eq!(
            m.call_id(),
            Some(format!("{}-{i}", ua.call_id)),
            "{}",
            m.text
        );
        node.send(conn, &node_reply(&m, 200, "sip:bob@127.0.0.1"));
    }
    for i in 1..=n {
        let ok = client.expect_status(200, WAIT);
        assert_eq!(ok.call_id(), Some(format!("{}-{i}", ua.call_id)));
    }
}

#[test]
fn tls_message_split_over_records_and_two_messages_in_one_record() {
    let pki = pki();
    let (lb, mut node, _hb, ext, _) = auth_rig(&pki, "Disabled");
    let tls = client_config(&pki.files.ca, None);
    let mut client = SipStream::connect(Kind::Tls, ext, Some(tls)).expect("TLS");
    let ua = ip_ua(Kind::Tls, client.local_addr(), "tls-split");
    // One message in three records, 100 ms apart.
    let one = options(&ua, ext, 1);
    let (a, rest) = one.split_at(20);
    let (b, c) = rest.split_at(rest.len() - 30);
    for part in [a, b, c] {
        client.send_raw(part);
        std::thread::sleep(Duration::from_millis(100));
    }
    // Two messages in one record.
    let mut two = options(&ua, ext, 2);
    two.extend_from_slice(&options(&ua, ext, 3));
    client.send_raw(&two);
    answer_options(&mut node, &mut client, &ua, 3);
    lb.stop();
}

#[test]
fn ws_fragmented_message_pipelined_frames_and_ping() {
    let mut cfg = lb_config();
    cfg.external_ws = Some(free_port());
    cfg.internal_ws = Some(free_port());
    let mut node = StreamNode::bind(local(free_port()), Kind::Ws, None);
    let lb = Balancer::start(&cfg);
    let _hb = announce(
        &lb,
        node.addr().port(),
        &format!("wsPort={}\n", node.addr().port()),
    );
    let ext = local(cfg.external_ws.unwrap_or(0));
    let mut client = SipStream::connect(Kind::Ws, ext, None).expect("WebSocket");

    // A ping is answered with a pong carrying its payload.
    let ping = client.ws_frame(9, true, b"are you there");
    client.send_raw(&ping);
    client.pump(Duration::from_millis(300));
    assert_eq!(client.pongs, vec![b"are you there".to_vec()], "pong");

    let ua = ws_ua(Kind::Ws, "ws-frag");
    // One SIP message in three fragments (text, continuation, final
    // continuation), each its own write.
    let one = options(&ua, ext, 1);
    let (a, rest) = one.split_at(30);
    let (b, c) = rest.split_at(40);
    let frames = [
        client.ws_frame(1, false, a),
        client.ws_frame(0, false, b),
        client.ws_frame(0, true, c),
    ];
    for f in &frames {
        client.send_raw(f);
        std::thread::sleep(Duration::from_millis(50));
    }
    // Two whole frames in one write, then a frame split across writes.
    let mut two = client.ws_frame(1, true, &options(&ua, ext, 2));
    let f3 = client.ws_frame(1, true, &options(&ua, ext, 3));
    two.extend_from_slice(&f3);
    client.send_raw(&two);
    let f4 = client.ws_frame(1, true, &options(&ua, ext, 4));
    client.send_raw(&f4[..3]);
    std::thread::sleep(Duration::from_millis(50));
    client.send_raw(&f4[3..]);
    answer_options(&mut node, &mut client, &ua, 4);
    assert_ws_client_side(&client);
    lb.stop();
}

// ---------------------------------------------------------------------------
// Refusals on the listeners
// ---------------------------------------------------------------------------

#[test]
fn ws_listener_refuses_a_handshake_without_the_sip_subprotocol() {
    use std::io::{Read, Write};
    let mut cfg = lb_config();
    cfg.external_ws = Some(free_port());
    let lb = Balancer::start(&cfg);
    let ext = local(cfg.external_ws.unwrap_or(0));
    let mut s = std::net::TcpStream::connect(ext).expect("connect");
    s.set_read_timeout(Some(WAIT)).ok();
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {ext}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: chat\r\n\r\n"
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 400 "), "refused: {text:?}");
    assert!(!text.contains("101"), "{text:?}");
    // A proper SIP WebSocket is still served (no node: 503 to OPTIONS).
    let mut client = SipStream::connect(Kind::Ws, ext, None).expect("WebSocket");
    let ua = ws_ua(Kind::Ws, "ws-after-refusal");
    client.send(&options(&ua, ext, 1));
    client.expect_status(503, WAIT);
    lb.stop();
}

#[test]
fn tls_listener_closes_a_plaintext_client_and_serves_the_next() {
    use std::io::{Read, Write};
    let pki = pki();
    let (lb, mut node, _hb, ext, p) = auth_rig(&pki, "Disabled");
    let mut plain = std::net::TcpStream::connect(ext).expect("connect");
    plain.set_read_timeout(Some(WAIT)).ok();
    let ua = ip_ua(Kind::Tcp, plain.local_addr().expect("addr"), "plain-on-tls");
    let ruri = format!("sip:bob@{ext};transport=tls");
    plain
        .write_all(&ua.request("INVITE", &ruri, 1, None, &[], SDP))
        .expect("write");
    let mut got = Vec::new();
    let start = Instant::now();
    let _ = plain.read_to_end(&mut got);
    assert!(start.elapsed() < WAIT, "closed at once, not by a timer");
    assert!(
        !String::from_utf8_lossy(&got).contains("SIP/2.0"),
        "no SIP answer in the clear: {got:?}"
    );
    assert!(node.next(QUIET).is_none(), "nothing reached the node");
    let tls = client_config(&pki.files.ca, None);
    let mut client = SipStream::connect(Kind::Tls, ext, Some(tls)).expect("TLS");
    let ua = ip_ua(Kind::Tls, client.local_addr(), "tls-after-plain");
    call(&p, &ua, &mut client, &mut node);
    lb.stop();
}
