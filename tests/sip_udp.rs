//! SIP over UDP through a real balancer process, one test per wire rule:
//! Via push/pop and branch derivation, Record-Route, Route removal and
//! node hints, Request-URI rewrite, Max-Forwards/483, X-Sip-Balancer
//! headers, Call-ID affinity, 100 Trying, 503, heartbeats, the node→client
//! path and single-entry mode. Every assertion is on bytes that crossed
//! the wire between the balancer and a fake client or fake node.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::sip::heartbeat;
use common::*;

// === helpers ===

/// `z9hG4bK<16 lowercase hex><suffix>` → the 16 hex chars.
fn hash_of(branch: &str, suffix: &str) -> String {
    let h = branch
        .strip_prefix("z9hG4bK")
        .and_then(|b| b.strip_suffix(suffix))
        .unwrap_or_else(|| panic!("branch {branch:?} is not z9hG4bK<H>{suffix}"));
    assert_eq!(h.len(), 16, "H must be 16 chars: {branch}");
    assert!(
        h.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "H must be lowercase hex: {branch}"
    );
    h.to_string()
}

/// Checks the two balancer Vias on a client request seen by a node; returns H.
fn assert_lb_vias(rig: &Rig, m: &Msg) -> String {
    let v = m.vias();
    assert!(v.len() >= 3, "expected 2 balancer Vias + client's: {v:?}");
    let (pi, pe) = (rig.lb.internal.port(), rig.lb.external.port());
    assert_eq!(via_sent_by(&v[0]), format!("127.0.0.1:{pi}"), "{v:?}");
    assert_eq!(via_sent_by(&v[1]), format!("127.0.0.1:{pe}"), "{v:?}");
    assert!(v[0].starts_with("SIP/2.0/UDP "), "{}", v[0]);
    let h0 = hash_of(&branch(&v[0]).unwrap(), "zsd_0");
    let h1 = hash_of(&branch(&v[1]).unwrap(), "_0");
    assert_eq!(h0, h1, "both Vias carry the same H");
    h0
}

fn rr_expected(port: u16, node: &FakeNode) -> String {
    format!(
        "<sip:127.0.0.1:{port};transport=udp;lr;node_host=127.0.0.1;node_port={};version=0>",
        node.addr().port()
    )
}

/// Our two Route entries (external first, as a UA builds them from RR)
/// hinting node `n`.
fn our_routes(rig: &Rig, n: &FakeNode) -> [String; 2] {
    [
        format!("Route: {}", rr_expected(rig.lb.external.port(), n)),
        format!("Route: {}", rr_expected(rig.lb.internal.port(), n)),
    ]
}

fn in_dialog(rig: &Rig, method: &str, call_id: &str, br: &str, routes: &[String]) -> Req {
    let mut r = rig.req(method, call_id, br);
    r.ruri = "sip:bob@192.0.2.10:5060".into();
    r.to_tag = Some("ttag".into());
    r.cseq = 2;
    for line in routes {
        r = r.with(line);
    }
    r
}

// === Via and branch ===

#[test]
fn client_request_gets_two_vias_from_internal_port() {
    let rig = Rig::two_legs(1);
    rig.send(&rig.req("INVITE", "via-1@c", "z9hG4bKclient1"));
    let (_, m, from) = rig.must_recv("INVITE");
    assert_eq!(from, rig.lb.internal, "forwarded from the internal port");
    assert_lb_vias(&rig, &m);
    let client_via = &m.vias()[2];
    assert!(
        branch(client_via).unwrap() == "z9hG4bKclient1",
        "{client_via}"
    );
    assert_eq!(
        param(client_via, "rport").as_deref(),
        Some(rig.client.addr.port().to_string().as_str()),
        "empty rport filled with the source port"
    );
    assert_eq!(
        param(client_via, "received").as_deref(),
        Some("127.0.0.1"),
        "RFC 3581 §4: received is added when rport was requested, even if equal to sent-by"
    );
    rig.finish();
}

#[test]
fn client_via_with_foreign_host_gets_received() {
    let rig = Rig::two_legs(1);
    let mut r = rig.req("MESSAGE", "via-2@c", "z9hG4bKnat");
    r.vias = vec!["SIP/2.0/UDP 192.0.2.77:5099;branch=z9hG4bKnat;rport".into()];
    rig.send(&r.body("x"));
    let (_, m, _) = rig.must_recv("MESSAGE");
    let v = &m.vias()[2];
    assert_eq!(param(v, "received").as_deref(), Some("127.0.0.1"), "{v}");
    assert_eq!(param(v, "rport"), Some(rig.client.addr.port().to_string()));
    rig.finish();
}

#[test]
fn retransmission_gets_identical_branch() {
    let rig = Rig::two_legs(2);
    let r = rig.req("INVITE", "retx@c", "z9hG4bKretx");
    rig.send(&r);
    let (n1, m1, _) = rig.must_recv("INVITE");
    rig.send(&r);
    let (n2, m2, _) = rig.must_recv("retransmitted INVITE");
    assert_eq!(n1, n2, "retransmission goes to the same node");
    assert_eq!(m1.vias()[..2], m2.vias()[..2]);
    rig.finish();
}

#[test]
fn cancel_gets_branch_and_node_of_its_invite() {
    let rig = Rig::two_legs(2);
    let inv = rig.req("INVITE", "cancel@c", "z9hG4bKcx");
    rig.send(&inv);
    let (n1, m1, _) = rig.must_recv("INVITE");
    let mut cancel = inv.clone();
    cancel.method = "CANCEL".into();
    rig.send(&cancel);
    let (n2, m2, _) = rig.must_recv("CANCEL");
    assert_eq!(m2.method(), Some("CANCEL"));
    assert_eq!(n1, n2, "CANCEL reaches the INVITE's node");
    assert_eq!(assert_lb_vias(&rig, &m1), assert_lb_vias(&rig, &m2));
    rig.finish();
}

#[test]
fn branch_depends_on_call_id() {
    let rig = Rig::two_legs(1);
    rig.send(&rig.req("MESSAGE", "cid-a@c", "z9hG4bKsame").body("a"));
    let (_, a, _) = rig.must_recv("first");
    rig.send(&rig.req("MESSAGE", "cid-b@c", "z9hG4bKsame").body("b"));
    let (_, b, _) = rig.must_recv("second");
    assert_ne!(assert_lb_vias(&rig, &a), assert_lb_vias(&rig, &b));
    rig.finish();
}

// === Record-Route ===

#[test]
fn initial_invite_and_subscribe_get_internal_then_external_record_route() {
    let rig = Rig::two_legs(1);
    for (method, cid) in [("INVITE", "rr-inv@c"), ("SUBSCRIBE", "rr-sub@c")] {
        rig.send(&rig.req(method, cid, &format!("z9hG4bK{method}")));
        let (_, m, _) = rig.must_recv(method);
        let node = &rig.nodes[0];
        assert_eq!(
            m.record_routes(),
            vec![
                rr_expected(rig.lb.internal.port(), node),
                rr_expected(rig.lb.external.port(), node)
            ],
            "{method}"
        );
    }
    rig.finish();
}

#[test]
fn record_routes_go_before_existing_ones() {
    let rig = Rig::two_legs(1);
    let r = rig
        .req("INVITE", "rr-old@c", "z9hG4bKrrold")
        .with("Record-Route: <sip:proxy.example.com;lr>");
    rig.send(&r);
    let (_, m, _) = rig.must_recv("INVITE");
    let rr = m.record_routes();
    assert_eq!(rr.len(), 3, "{rr:?}");
    assert_eq!(rr[2], "<sip:proxy.example.com;lr>");
    rig.finish();
}

#[test]
fn non_dialog_creating_requests_get_no_record_route() {
    let rig = Rig::two_legs(1);
    for method in ["REGISTER", "MESSAGE", "OPTIONS", "BYE"] {
        rig.send(&rig.req(
            method,
            &format!("norr-{method}@c"),
            &format!("z9hG4bKn{method}"),
        ));
        let (_, m, _) = rig.must_recv(method);
        assert_eq!(m.method(), Some(method));
        assert!(
            m.record_routes().is_empty(),
            "{method}: {:?}",
            m.record_routes()
        );
    }
    let reinvite = in_dialog(&rig, "INVITE", "norr-reinv@c", "z9hG4bKreinv", &[]);
    rig.send(&reinvite);
    let (_, m, _) = rig.must_recv("re-INVITE");
    assert!(
        m.record_routes().is_empty(),
        "re-INVITE: {:?}",
        m.record_routes()
    );
    rig.finish();
}

// === Max-Forwards ===

#[test]
fn max_forwards_added_when_absent_and_decremented_when_present() {
    let rig = Rig::two_legs(1);
    for (sent, want) in [(None, "70"), (Some(10), "9"), (Some(1), "0")] {
        let mut r = rig
            .req("MESSAGE", &format!("mf-{sent:?}@c"), "z9hG4bKmf")
            .body("m");
        r.max_forwards = sent;
        rig.send(&r);
        let (_, m, _) = rig.must_recv("MESSAGE");
        assert_eq!(
            m.headers("max-forwards"),
            vec![want.to_string()],
            "sent {sent:?}"
        );
    }
    rig.finish();
}

#[test]
fn max_forwards_zero_is_answered_483_and_not_forwarded() {
    let rig = Rig::two_legs(1);
    let mut r = rig.req("MESSAGE", "mf0@c", "z9hG4bKmf0").body("m");
    r.max_forwards = Some(0);
    rig.send(&r);
    let resp = rig
        .client
        .recv_status(483, WAIT)
        .expect("483 Too Many Hops");
    assert_eq!(resp.start_line(), "SIP/2.0 483 Too Many Hops");
    assert_eq!(resp.call_id().as_deref(), Some("mf0@c"));
    assert!(rig.nodes_silent(QUIET), "nothing may reach the node");
    rig.finish();
}

// === Route removal, hints, Request-URI ===

#[test]
fn in_dialog_request_follows_route_hint_and_our_routes_are_removed() {
    let rig = Rig::two_legs(2);
    for (i, target) in rig.nodes.iter().enumerate() {
        let mut routes = our_routes(&rig, target).to_vec();
        routes.push("Route: <sip:proxy.example.com;lr>".into());
        let cid = format!("hint-{i}@c");
        rig.send(&in_dialog(&rig, "BYE", &cid, "z9hG4bKhint", &routes));
        let (n, m, _) = rig.must_recv("BYE");
        assert_eq!(n, i, "hinted node {i} must get the BYE");
        // The node is pushed on top so it pops itself and the foreign route
        // set stays intact behind it (original §2.5 step 9).
        assert_eq!(
            m.routes(),
            vec![
                format!("<sip:{};transport=udp;lr>", target.addr()),
                "<sip:proxy.example.com;lr>".to_string()
            ]
        );
    }
    rig.finish();
}

#[test]
fn dead_hinted_node_fails_over_with_route_to_survivor() {
    let mut cfg = LbConfig::two_legs();
    cfg.node_timeout_ms = 1000;
    let mut rig = Rig::start(cfg, 2);
    let routes = our_routes(&rig, &rig.nodes[0]);
    rig.stop_heartbeat(0);
    std::thread::sleep(Duration::from_millis(1000 + 800));
    rig.send(&in_dialog(
        &rig,
        "BYE",
        "dead-hint@c",
        "z9hG4bKdead",
        &routes,
    ));
    let (n, m, _) = rig.must_recv("BYE after failover");
    assert_eq!(n, 1, "survivor B gets the BYE");
    let b = rig.nodes[1].addr();
    assert_eq!(
        m.routes().first().map(String::as_str),
        Some(format!("<sip:{b};transport=udp;lr>").as_str()),
        "{:?}",
        m.routes()
    );
    rig.finish();
}

#[test]
fn request_uri_at_balancer_is_rewritten_to_node() {
    let rig = Rig::two_legs(1);
    rig.send(&rig.req("MESSAGE", "ruri@c", "z9hG4bKruri").body("x"));
    let (_, m, _) = rig.must_recv("MESSAGE");
    let node = rig.nodes[0].addr();
    assert_eq!(m.request_uri(), Some(format!("sip:bob@{node}").as_str()));
    rig.finish();
}

#[test]
fn request_uri_at_live_node_selects_that_node() {
    let rig = Rig::two_legs(2);
    for (i, node) in rig.nodes.iter().enumerate() {
        for k in 0..5 {
            let mut r = rig.req("MESSAGE", &format!("explicit-{i}-{k}@c"), "z9hG4bKex");
            r.ruri = format!("sip:bob@{}", node.addr());
            rig.send(&r.body("x"));
            let (n, _, _) = rig.must_recv("MESSAGE");
            assert_eq!(n, i, "RURI names node {i}");
        }
    }
    rig.finish();
}

// === X-Sip-Balancer-InitialRemote* ===

#[test]
fn initial_remote_headers_on_register_and_body_requests_only() {
    let rig = Rig::two_legs(1);
    let (ip, port) = ("127.0.0.1".to_string(), rig.client.addr.port().to_string());
    let cases = [
        ("REGISTER", "", true),
        ("MESSAGE", "hello", true),
        ("INVITE", "v=0\r\n", true),
        ("BYE", "", false),
    ];
    for (method, body, want) in cases {
        rig.send(
            &rig.req(method, &format!("xh-{method}@c"), "z9hG4bKxh")
                .body(body),
        );
        let (_, m, _) = rig.must_recv(method);
        let addr = m.header("X-Sip-Balancer-InitialRemoteAddr");
        let p = m.header("X-Sip-Balancer-InitialRemotePort");
        if want {
            assert_eq!(
                (addr, p),
                (Some(ip.clone()), Some(port.clone())),
                "{method}"
            );
        } else {
            assert_eq!((addr, p), (None, None), "{method}");
        }
    }
    rig.finish();
}

// === affinity ===

#[test]
fn call_id_affinity_and_spread_over_nodes() {
    let rig = Rig::two_legs(2);
    let mut per_node = [0usize; 2];
    for c in 0..40 {
        let cid = format!("aff-{c}@c");
        let mut seen = Vec::new();
        for seq in 1..=3 {
            let mut r = rig
                .req("MESSAGE", &cid, &format!("z9hG4bKaff{c}x{seq}"))
                .body("x");
            r.cseq = seq;
            rig.send(&r);
            seen.push(rig.must_recv("MESSAGE").0);
        }
        assert!(seen.iter().all(|n| *n == seen[0]), "{cid} split: {seen:?}");
        per_node[seen[0]] += 1;
    }
    assert!(per_node.iter().all(|n| *n >= 8), "spread {per_node:?}");
    rig.finish();
}

// === 100 Trying ===

#[test]
fn trying_sent_for_invite_only() {
    let rig = Rig::two_legs(1);
    rig.send(&rig.req("INVITE", "try@c", "z9hG4bKtry"));
    let t = rig.client.recv_status(100, WAIT).expect("100 Trying");
    assert_eq!(t.call_id().as_deref(), Some("try@c"));
    rig.must_recv("INVITE");
    rig.send(&rig.req("MESSAGE", "try-msg@c", "z9hG4bKtrym").body("x"));
    rig.must_recv("MESSAGE");
    assert!(rig.client.recv_msg(QUIET).is_none(), "no 100 for MESSAGE");
    rig.finish();
}

#[test]
fn no_trying_when_disabled() {
    let mut cfg = LbConfig::two_legs();
    cfg.send_trying = false;
    let rig = Rig::start(cfg, 1);
    rig.send(&rig.req("INVITE", "notry@c", "z9hG4bKnotry"));
    rig.must_recv("INVITE");
    assert!(rig.client.recv_msg(QUIET).is_none(), "isSendTrying: false");
    rig.finish();
}

// === no node ===

#[test]
fn no_live_node_gives_503_and_ack_is_dropped() {
    let rig = Rig::two_legs(0);
    rig.send(&rig.req("INVITE", "none@c", "z9hG4bKnone"));
    let r = rig.client.recv_status(503, WAIT).expect("503");
    assert_eq!(r.start_line(), "SIP/2.0 503 Service Unavailable");
    assert_eq!(r.vias().len(), 1, "reply carries only the client's Via");
    let mut ack = rig.req("ACK", "none@c", "z9hG4bKnone");
    ack.to_tag = Some("x".into());
    rig.send(&ack);
    assert!(
        rig.client.recv_msg(QUIET).is_none(),
        "ACK is never answered"
    );
    rig.finish();
}

#[test]
fn unavailable_status_and_reason_are_configurable() {
    let mut cfg = LbConfig::two_legs();
    cfg.unavailable_status = 480;
    cfg.unavailable_reason = "Temporarily Unavailable".into();
    let rig = Rig::start(cfg, 0);
    rig.send(&rig.req("MESSAGE", "none480@c", "z9hG4bK480").body("x"));
    let r = rig
        .client
        .recv_status(480, WAIT)
        .expect("configured status");
    assert_eq!(r.start_line(), "SIP/2.0 480 Temporarily Unavailable");
    rig.finish();
}

// === heartbeats and liveness ===

#[test]
fn heartbeat_on_internal_port_is_answered_and_not_forwarded() {
    let rig = Rig::two_legs(1);
    let sender = UdpPeer::new();
    for method in ["OPTIONS", "INFO"] {
        let body = common::sip::heartbeat_body("n9", 1, false);
        sender.send(
            &heartbeat(method, sender.addr, rig.lb.internal, 1, &body),
            rig.lb.internal,
        );
        let (m, from) = sender.recv_msg(WAIT).expect("heartbeat reply");
        assert_eq!(m.status(), Some(200), "{method}");
        assert_eq!(from, rig.lb.internal);
    }
    assert!(rig.nodes_silent(QUIET), "heartbeats are never forwarded");
    rig.finish();
}

#[test]
fn heartbeat_on_external_port_is_an_ordinary_request() {
    let rig = Rig::two_legs(0);
    let fake = FakeNode::new();
    let body = common::sip::heartbeat_body("sneaky", fake.addr().port(), false);
    let hb = heartbeat("OPTIONS", rig.client.addr, rig.lb.external, 1, &body);
    rig.client.send(&hb, rig.lb.external);
    let r = rig
        .client
        .recv_status(503, WAIT)
        .expect("503: balanced, no node");
    assert_eq!(r.status(), Some(503));
    rig.send(&rig.req("MESSAGE", "after-ext-hb@c", "z9hG4bKeh").body("x"));
    assert!(
        rig.client.recv_status(503, WAIT).is_some(),
        "node was not registered"
    );
    assert!(fake.silent_for(QUIET));
    rig.finish();
}

#[test]
fn node_silent_for_node_timeout_is_removed() {
    let mut cfg = LbConfig::two_legs();
    cfg.node_timeout_ms = 1000;
    let mut rig = Rig::start(cfg, 1);
    rig.send(&rig.req("MESSAGE", "alive@c", "z9hG4bKal").body("x"));
    rig.must_recv("MESSAGE while alive");
    rig.stop_heartbeat(0);
    std::thread::sleep(Duration::from_millis(1800));
    rig.send(&rig.req("MESSAGE", "gone@c", "z9hG4bKgone").body("x"));
    assert!(rig.client.recv_status(503, WAIT).is_some(), "node expired");
    assert!(rig.nodes_silent(QUIET));
    rig.finish();
}

#[test]
fn graceful_shutdown_drains_new_calls_but_keeps_dialogs() {
    let rig = Rig::two_legs(2);
    rig.hbs[0].as_ref().unwrap().set_graceful(true);
    std::thread::sleep(Duration::from_millis(500));
    for c in 0..20 {
        rig.send(&rig.req("INVITE", &format!("drain-{c}@c"), "z9hG4bKdr"));
        assert_eq!(
            rig.must_recv("INVITE").0,
            1,
            "new calls avoid the draining node"
        );
    }
    let routes = our_routes(&rig, &rig.nodes[0]);
    rig.send(&in_dialog(
        &rig,
        "BYE",
        "drain-old@c",
        "z9hG4bKdrb",
        &routes,
    ));
    assert_eq!(
        rig.must_recv("BYE").0,
        0,
        "dialog of the draining node still reaches it"
    );
    rig.finish();
}

#[test]
fn static_node_is_probed_up_and_down() {
    let node = FakeNode::new();
    let cfg = LbConfig::two_legs().with_static_node("static1", node.addr().port());
    let lb = Balancer::start(&cfg);
    assert!(node.wait_probed(1, Duration::from_secs(3)), "probes arrive");
    std::thread::sleep(Duration::from_millis(200));
    let client = UdpPeer::new();
    let r = Req::new(
        "MESSAGE",
        &format!("sip:b@{}", lb.external),
        client.addr,
        "st@c",
        "z9hG4bKst",
    );
    client.send(&r.body("x").to_bytes(), lb.external);
    let (m, _) = node.must_get(WAIT, "MESSAGE to static node");
    assert_eq!(m.call_id().as_deref(), Some("st@c"));
    node.answer_probes(false);
    std::thread::sleep(Duration::from_millis(2000));
    let r = Req::new(
        "MESSAGE",
        &format!("sip:b@{}", lb.external),
        client.addr,
        "st2@c",
        "z9hG4bKst2",
    );
    client.send(&r.body("x").to_bytes(), lb.external);
    assert!(client.recv_status(503, WAIT).is_some(), "probed down");
    lb.stop();
}

// === node → balancer → client ===

#[test]
fn node_response_loses_balancer_vias_and_reaches_client() {
    let rig = Rig::two_legs(1);
    let mut r = rig.req("INVITE", "resp@c", "z9hG4bKresp");
    r.vias = vec!["SIP/2.0/UDP 192.0.2.5:5090;branch=z9hG4bKresp;rport".into()];
    rig.send(&r);
    let (i, m, from) = rig.must_recv("INVITE");
    rig.nodes[i].send(&reply(&m, 180, "Ringing", "n1"), from);
    let got = rig
        .client
        .recv_status(180, WAIT)
        .expect("180 via received/rport");
    let v = got.vias();
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(branch(&v[0]).as_deref(), Some("z9hG4bKresp"));
    rig.finish();
}

#[test]
fn node_request_to_client_goes_out_external_with_two_vias() {
    let rig = Rig::two_legs(1);
    let node = &rig.nodes[0];
    let (pi, pe) = (rig.lb.internal.port(), rig.lb.external.port());
    let mut bye = Req::new(
        "BYE",
        &format!("sip:alice@{}", rig.client.addr),
        node.addr(),
        "n2c@n",
        "z9hG4bKn2c",
    );
    bye.to_tag = Some("t".into());
    let bye = bye
        .with(&format!(
            "Route: <sip:127.0.0.1:{pi};node_host=127.0.0.1;node_port={};lr>",
            node.addr().port()
        ))
        .with("X-Sip-Balancer-InitialRemoteAddr: 6.6.6.6")
        .with("X-Sip-Balancer-InitialRemotePort: 666");
    node.send(&bye.to_bytes(), rig.lb.internal);
    let (m, from) = rig.client.recv_msg(WAIT).expect("BYE at client");
    assert_eq!(from, rig.lb.external, "sent from the external port");
    assert_eq!(m.method(), Some("BYE"));
    assert!(m.routes().is_empty(), "{:?}", m.routes());
    let v = m.vias();
    assert_eq!(via_sent_by(&v[0]), format!("127.0.0.1:{pe}"));
    assert_eq!(via_sent_by(&v[1]), format!("127.0.0.1:{pi}"));
    hash_of(&branch(&v[0]).unwrap(), "_0");
    hash_of(&branch(&v[1]).unwrap(), "zsd_0");
    assert_eq!(branch(&v[2]).as_deref(), Some("z9hG4bKn2c"));
    assert_eq!(m.header("X-Sip-Balancer-InitialRemoteAddr"), None);
    assert_eq!(m.header("X-Sip-Balancer-InitialRemotePort"), None);
    rig.finish();
}

#[test]
fn node_initial_invite_gets_external_then_internal_record_route() {
    let rig = Rig::two_legs(1);
    let node = &rig.nodes[0];
    let inv = Req::new(
        "INVITE",
        &format!("sip:alice@{}", rig.client.addr),
        node.addr(),
        "n2c-inv@n",
        "z9hG4bKni",
    );
    node.send(&inv.to_bytes(), rig.lb.internal);
    let (m, _) = rig.client.recv_msg(WAIT).expect("INVITE at client");
    let rr = m.record_routes();
    assert_eq!(rr.len(), 2, "{rr:?}");
    assert!(
        rr[0].starts_with(&format!("<sip:127.0.0.1:{};", rig.lb.external.port())),
        "{rr:?}"
    );
    assert!(
        rr[1].starts_with(&format!("<sip:127.0.0.1:{};", rig.lb.internal.port())),
        "{rr:?}"
    );
    rig.finish();
}

// === single entry point ===

#[test]
fn single_entry_mode_basics() {
    let lb_cfg = LbConfig::single_leg();
    let rig = Rig::start(lb_cfg, 1);
    let pe = rig.lb.external.port();
    rig.send(&rig.req("INVITE", "single@c", "z9hG4bKsingle"));
    let (_, m, from) = rig.must_recv("INVITE");
    assert_eq!(from, rig.lb.external);
    assert_eq!(via_sent_by(&m.vias()[0]), format!("127.0.0.1:{pe}"));
    assert_eq!(m.record_routes(), vec![rr_expected(pe, &rig.nodes[0])]);
    rig.nodes[0].send(&reply(&m, 200, "OK", "s"), from);
    let ok = rig.client.recv_status(200, WAIT).expect("200 back");
    assert_eq!(ok.vias().len(), 1);
    let mut counts: BTreeMap<u16, usize> = BTreeMap::new();
    *counts.entry(ok.status().unwrap()).or_default() += 1;
    assert_eq!(counts.get(&200), Some(&1));
    rig.finish();
}

#[test]
fn client_response_to_node_request_carries_the_client_address() {
    let rig = Rig::two_legs(1);
    let node = &rig.nodes[0];
    let inv = Req::new(
        "INVITE",
        &format!("sip:alice@{}", rig.client.addr),
        node.addr(),
        "c2n-resp@n",
        "z9hG4bKcr",
    );
    node.send(&inv.to_bytes(), rig.lb.internal);
    let (m, _) = rig.client.recv_msg(WAIT).expect("INVITE at client");
    // The client's own copy of the header is not believed.
    let mut ok = String::from_utf8(reply(&m, 200, "OK", "c")).unwrap();
    ok = ok.replacen(
        "Content-Length",
        "X-Sip-Balancer-InitialRemoteAddr: 6.6.6.6\r\nContent-Length",
        1,
    );
    rig.client.send(ok.as_bytes(), rig.lb.external);
    let got = loop {
        let (m, _) = node.must_get(WAIT, "200 at node");
        if m.status() == Some(200) {
            break m;
        }
    };
    assert_eq!(
        got.headers("X-Sip-Balancer-InitialRemoteAddr"),
        vec!["127.0.0.1".to_string()]
    );
    assert_eq!(
        got.header("X-Sip-Balancer-InitialRemotePort"),
        Some(rig.client.addr.port().to_string())
    );
    rig.finish();
}

#[test]
fn response_for_a_sender_that_is_no_node_goes_to_the_dialogs_node() {
    // Two entry points: whatever sends on the internal port is a node. An
    // INVITE from an address the registry does not know (this balancer never
    // heard of it, e.g. since a restart): the client's answer goes to the
    // node the dialog's requests go to, not to the unknown address.
    let rig = Rig::two_legs(1);
    let stranger = FakeNode::new();
    let inv = Req::new(
        "INVITE",
        &format!("sip:alice@{}", rig.client.addr),
        stranger.addr(),
        "stranger@n",
        "z9hG4bKst",
    );
    stranger.send(&inv.to_bytes(), rig.lb.internal);
    let (m, _) = rig.client.recv_msg(WAIT).expect("INVITE at client");
    rig.client.send(&reply(&m, 200, "OK", "c"), rig.lb.external);
    let (got, from) = rig.nodes[0].must_get(WAIT, "200 at the registered node");
    assert_eq!(got.status(), Some(200));
    assert_eq!(from, rig.lb.internal);
    assert_eq!(via_sent_by(&got.vias()[0]), rig.nodes[0].addr().to_string());
    std::thread::sleep(Duration::from_millis(300));
    let seen: Vec<_> = stranger
        .drain()
        .iter()
        .map(Msg::start_line)
        .map(String::from)
        .collect();
    assert!(
        seen.iter().all(|l| l.starts_with("SIP/2.0 100 ")),
        "only our 100 Trying reaches the stranger: {seen:?}"
    );
    rig.finish();
}

#[test]
fn hinted_node_request_assigns_the_call_id_to_that_node() {
    let rig = Rig::two_legs(2);
    let (pi, pe) = (rig.lb.internal.port(), rig.lb.external.port());
    // A Call-ID the affinity table maps to node 1.
    let cid = (0..64)
        .map(|i| format!("assign-{i}@c"))
        .find(|cid| {
            rig.send(&rig.req("OPTIONS", cid, "z9hG4bKas1"));
            rig.must_recv("OPTIONS").0 == 1
        })
        .expect("some Call-ID lands on node 1");
    // Node 0 sends a request of that Call-ID carrying its own hint (a
    // dialog it owns): the balancer records node 0 for the Call-ID.
    let a = rig.nodes[0].addr();
    let mut info = Req::new(
        "INFO",
        &format!("sip:alice@{}", rig.client.addr),
        a,
        &cid,
        "z9hG4bKas2",
    );
    info.to_tag = Some("t".into());
    let info = info.with(&format!(
        "Route: <sip:127.0.0.1:{pi};node_host=127.0.0.1;node_port={};lr>",
        a.port()
    ));
    rig.nodes[0].send(&info.to_bytes(), rig.lb.internal);
    let (m, from) = rig.client.recv_msg(WAIT).expect("INFO at client");
    assert_eq!((m.method(), from.port()), (Some("INFO"), pe));
    // The Call-ID's next request without any hint follows the assignment.
    rig.send(&rig.req("OPTIONS", &cid, "z9hG4bKas3"));
    assert_eq!(rig.must_recv("OPTIONS after the assignment").0, 0);
    rig.finish();
}
