//! Through a real balancer process over UDP: the NAT public address
//! (`publicIp`) patching of Record-Route and Contact, the routing rules that
//! give private callers the real addresses instead of the IP load
//! balancer's, scanner blocking (`blockedValues`, counted in `/metrics`),
//! the Route host filter (`matchingHostnameForRoute`), and the answers to
//! unsupported versions (505) and Proxy-Require (420). Every assertion is
//! on bytes that crossed the wire.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::*;

const PUBLIC: &str = "203.0.113.7";

fn with_sip(mut cfg: LbConfig, sip_extra: &str) -> LbConfig {
    cfg.sip_extra = sip_extra.to_string();
    cfg
}

/// `reply` plus a Contact naming the node.
fn reply_with_contact(req: &Msg, code: u16, reason: &str, contact: &str) -> Vec<u8> {
    let text = String::from_utf8(reply(req, code, reason, "n1")).unwrap();
    text.replacen(
        "Content-Length: 0\r\n",
        &format!("Contact: {contact}\r\nContent-Length: 0\r\n"),
        1,
    )
    .into_bytes()
}

/// The URI inside `<…>` of a name-addr.
fn uri_of(entry: &str) -> String {
    let start = entry.find('<').map_or(0, |i| i + 1);
    let end = entry.find('>').unwrap_or(entry.len());
    entry[start..end].to_string()
}

// === publicIp ===

#[test]
fn client_sees_the_public_address_and_comes_back_through_it() {
    let rig = Rig::start(
        with_sip(LbConfig::two_legs(), &format!("  publicIp: {PUBLIC}\n")),
        1,
    );
    let (pe, pi) = (rig.lb.external.port(), rig.lb.internal.port());
    rig.send(&rig.req("INVITE", "nat-1@c", "z9hG4bKnat1"));
    let (i, m, from) = rig.must_recv("INVITE");
    let rr = m.record_routes();
    assert!(
        rr[1].starts_with(&format!("<sip:127.0.0.1:{pe};")),
        "towards the node the private address stays: {rr:?}"
    );
    let node = rig.nodes[i].addr();
    let contact = format!("<sip:bob@{node};transport=udp>");
    rig.nodes[i].send(&reply_with_contact(&m, 200, "OK", &contact), from);
    let ok = rig
        .client
        .recv_status(200, WAIT)
        .expect("200 at the client");
    let rr = ok.record_routes();
    assert_eq!(rr.len(), 2, "{rr:?}");
    assert!(
        rr[0].starts_with(&format!("<sip:127.0.0.1:{pi};")),
        "{rr:?}"
    );
    assert!(
        rr[1].starts_with(&format!("<sip:{PUBLIC}:{pe};transport=udp;lr;node_host=")),
        "{rr:?}"
    );
    let their_contact = ok.header("contact").unwrap();
    assert_eq!(
        their_contact,
        format!("<sip:bob@{PUBLIC}:{pe};transport=udp>")
    );
    // The client's BYE: Request-URI = the Contact, Route = the Record-Routes
    // reversed. It reaches our external port (the NAT maps the public
    // address onto it) and must find the node.
    let mut bye = rig.req("BYE", "nat-1@c", "z9hG4bKnat2");
    bye.ruri = uri_of(&their_contact);
    bye.to_tag = Some("n1".into());
    bye.cseq = 2;
    let bye = bye
        .with(&format!("Route: {}", rr[1]))
        .with(&format!("Route: {}", rr[0]));
    rig.send(&bye);
    let (j, m, _) = rig.must_recv("BYE");
    assert_eq!(j, i);
    assert_eq!(
        m.request_uri(),
        Some(format!("sip:bob@{node};transport=udp").as_str())
    );
    assert!(m.routes().is_empty(), "{:?}", m.routes());
    rig.finish();
}

#[test]
fn node_invite_reaches_the_client_with_public_addresses() {
    let rig = Rig::start(
        with_sip(LbConfig::two_legs(), &format!("  publicIp: {PUBLIC}\n")),
        1,
    );
    let (pe, pi) = (rig.lb.external.port(), rig.lb.internal.port());
    let node = &rig.nodes[0];
    let inv = Req::new(
        "INVITE",
        &format!("sip:alice@{}", rig.client.addr),
        node.addr(),
        "nat-2@n",
        "z9hG4bKnat3",
    )
    .with(&format!(
        "Route: <sip:127.0.0.1:{pi};node_host=127.0.0.1;node_port={};lr>",
        node.addr().port()
    ));
    node.send(&inv.to_bytes(), rig.lb.internal);
    let (m, from) = rig.client.recv_msg(WAIT).expect("INVITE at the client");
    assert_eq!(from, rig.lb.external);
    let rr = m.record_routes();
    assert!(rr[0].starts_with(&format!("<sip:{PUBLIC}:{pe};")), "{rr:?}");
    assert!(
        rr[1].starts_with(&format!("<sip:127.0.0.1:{pi};")),
        "{rr:?}"
    );
    assert_eq!(
        m.header("contact").as_deref(),
        Some(format!("<sip:alice@{PUBLIC}:{pe}>").as_str()),
        "the node's Contact names the public address"
    );
    rig.finish();
}

// === routing rules ===

/// An external IP load balancer at 192.0.2.50:5999 announced in Record-Route
/// and Via, and one IPv4 routing rule.
fn ip_lb_with_rule(pattern: &str) -> LbConfig {
    let mut cfg = LbConfig::two_legs();
    cfg.external_extra =
        ", ipLoadBalancerAddress: [192.0.2.50], ipLoadBalancerUdpPort: 5999".to_string();
    cfg.sip_extra = format!(
        "  useIpLoadBalancerAddressInViaHeaders: true\n  routingRulesIpv4:\n    - {{ ipPattern: '{pattern}', patch: false }}\n"
    );
    cfg
}

#[test]
fn private_caller_gets_the_real_address_others_the_ip_load_balancer() {
    for (pattern, real) in [(r"127\.0\.0\.\d+", true), (r"10\..*", false)] {
        let rig = Rig::start(ip_lb_with_rule(pattern), 1);
        let pe = rig.lb.external.port();
        let ours = if real {
            format!("127.0.0.1:{pe}")
        } else {
            "192.0.2.50:5999".to_string()
        };
        rig.send(&rig.req("INVITE", "rule-1@c", "z9hG4bKrule1"));
        let (_, m, _) = rig.must_recv("INVITE");
        let rr = m.record_routes();
        assert!(
            rr[1].starts_with(&format!("<sip:{ours};transport=udp;lr;")),
            "{pattern}: {rr:?}"
        );
        assert_eq!(via_sent_by(&m.vias()[1]), ours, "{pattern}");
        rig.finish();
    }
}

// === blockedValues ===

fn metrics(port: u16) -> String {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: lb\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw
}

fn counter(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn scanners_get_no_answer_and_are_counted() {
    let port = free_port();
    let mut cfg = LbConfig::two_legs();
    cfg.statistic_port = Some(port);
    let rig = Rig::start(cfg, 1);
    for (i, ua) in ["friendly-scanner", "sipvicious 0.3.4", "SIPCLI/v1.63"]
        .into_iter()
        .enumerate()
    {
        let r = rig
            .req("OPTIONS", &format!("scan-{i}@c"), "z9hG4bKscan")
            .with(&format!("User-Agent: {ua}"));
        rig.send(&r);
    }
    assert!(
        rig.client.recv_timeout(QUIET).is_none(),
        "a scanner gets nothing"
    );
    assert!(rig.nodes_silent(QUIET), "nor does the node");
    rig.send(
        &rig.req("INVITE", "ua@c", "z9hG4bKua")
            .with("User-Agent: Linphone/5"),
    );
    rig.must_recv("INVITE from a real UA");
    let name = "sip_balancer_sip_blocked_total";
    assert!(
        wait_until(Duration::from_secs(3), || counter(&metrics(port), name)
            == Some(3)),
        "{}",
        metrics(port)
    );
    rig.finish();
}

// === matchingHostnameForRoute ===

#[test]
fn route_naming_our_host_name_is_stripped() {
    let rig = Rig::start(
        with_sip(
            LbConfig::two_legs(),
            "  matchingHostnameForRoute: lb.example.com\n  isFilterSubdomain: true\n",
        ),
        1,
    );
    for (i, host) in ["lb.example.com", "edge-2.LB.example.com"]
        .into_iter()
        .enumerate()
    {
        let r = rig
            .req("INVITE", &format!("mh-{i}@c"), "z9hG4bKmh")
            .with(&format!("Route: <sip:{host};lr>"));
        rig.send(&r);
        let (i, m, _) = rig.must_recv("INVITE");
        assert!(m.routes().is_empty(), "{host}: {:?}", m.routes());
        assert_eq!(
            m.request_uri(),
            Some(format!("sip:bob@{}", rig.nodes[i].addr()).as_str()),
            "{host}"
        );
    }
    let r = rig
        .req("INVITE", "mh-x@c", "z9hG4bKmh")
        .with("Route: <sip:proxy.example.org;lr>");
    rig.send(&r);
    let (_, m, _) = rig.must_recv("INVITE");
    assert_eq!(m.routes().len(), 2, "another host stays: {:?}", m.routes());
    rig.finish();
}

// === 505 and 420 ===

#[test]
fn other_sip_version_gets_505_and_proxy_require_420() {
    let rig = Rig::two_legs(1);
    let text = String::from_utf8(rig.req("OPTIONS", "v7@c", "z9hG4bKv7").to_bytes()).unwrap();
    let v7 = text.replacen(" SIP/2.0\r\n", " SIP/7.0\r\n", 1);
    rig.client.send(v7.as_bytes(), rig.lb.external);
    let m = rig.client.recv_status(505, WAIT).expect("505");
    assert_eq!(m.start_line(), "SIP/2.0 505 Version Not Supported");
    assert_eq!(m.call_id().as_deref(), Some("v7@c"));
    let r = rig
        .req("INVITE", "pr@c", "z9hG4bKpr")
        .with("Proxy-Require: sec-agree, foo");
    rig.send(&r);
    let m = rig.client.recv_status(420, WAIT).expect("420");
    assert_eq!(m.start_line(), "SIP/2.0 420 Bad Extension");
    assert_eq!(m.header("unsupported").as_deref(), Some("sec-agree, foo"));
    assert!(rig.nodes_silent(QUIET), "neither reaches the node");
    rig.finish();
}
