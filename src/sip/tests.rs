//! In-process proxy simulations: one `Proxy` per shard, synthetic node sets,
//! byte-literal messages, assertions on the produced datagrams. No sockets.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use super::proxy::{Datagram, LegId, Output, Proxy};
use crate::config::Config;
use crate::registry::{Node, NodeId, NodeSet, NodeSource, NodeState};

pub(super) const CLIENT: &str = "127.0.0.1:5033";
pub(super) const NODE_A: &str = "127.0.0.1:4060";
const NODE_B: &str = "127.0.0.1:4061";

fn node(id: u32, addr: &str, state: NodeState) -> Node {
    let a: SocketAddr = addr.parse().unwrap();
    Node::new(NodeId(id), a.ip(), a.port(), NodeSource::Heartbeat, state)
}

pub(super) fn nodes(states: &[(u32, &str, NodeState)]) -> Arc<NodeSet> {
    let v = states.iter().map(|&(id, a, s)| node(id, a, s)).collect();
    Arc::new(NodeSet::new(1, v, 0))
}

pub(super) struct Sim {
    pub(super) proxy: Proxy,
    pub(super) out: Output,
    now: Instant,
}

impl Sim {
    pub(super) fn new(cfg: &Config, set: Arc<NodeSet>) -> Sim {
        let now = crate::test_epoch();
        let mut proxy = Proxy::new(cfg, 0, 1, now);
        proxy.set_nodes(set);
        Sim {
            proxy,
            out: Output::default(),
            now,
        }
    }

    /// Feed one datagram; return every (leg, dst, text) produced.
    pub(super) fn feed(
        &mut self,
        leg: LegId,
        src: &str,
        msg: &str,
    ) -> Vec<(LegId, SocketAddr, String)> {
        let d = Datagram {
            bytes: msg.as_bytes(),
            src: src.parse().unwrap(),
            leg,
            handed_off: false,
            transport: crate::sip::transport::Transport::Udp,
            conn: None,
        };
        self.proxy.handle(d, self.now, &mut self.out);
        self.out
            .transmits
            .iter()
            .map(|t| {
                (
                    t.leg,
                    t.dst,
                    String::from_utf8_lossy(&self.out.buf[t.range.clone()]).into_owned(),
                )
            })
            .collect()
    }
}

pub(super) fn invite(call_id: &str, branch: &str, extra: &str) -> String {
    format!(
        "INVITE sip:bob@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5033;branch={branch};rport\r\n\
         From: <sip:alice@a.example>;tag=111\r\n\
         To: <sip:bob@b.example>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         {extra}\
         Contact: <sip:alice@127.0.0.1:5033>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: 4\r\n\r\nv=0\n"
    )
}

pub(super) fn lines<'a>(msg: &'a str, name: &str) -> Vec<&'a str> {
    msg.split("\r\n")
        .filter(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .collect()
}

#[test]
fn invite_from_client_gets_vias_record_routes_and_trying() {
    let cfg = Config::embedded_default();
    let mut sim = Sim::new(&cfg, nodes(&[(1, NODE_A, NodeState::Up)]));
    let out = sim.feed(
        LegId::External,
        CLIENT,
        &invite("abc@x", "z9hG4bKc1", "Max-Forwards: 70\r\n"),
    );
    assert_eq!(out.len(), 2, "{out:?}");
    let (leg, dst, trying) = &out[0];
    assert_eq!((*leg, dst.to_string().as_str()), (LegId::External, CLIENT));
    assert!(trying.starts_with("SIP/2.0 100 Trying\r\n"));
    let (leg, dst, fwd) = &out[1];
    assert_eq!((*leg, dst.to_string().as_str()), (LegId::Internal, NODE_A));
    assert!(
        fwd.starts_with("INVITE sip:bob@127.0.0.1:4060 SIP/2.0\r\n"),
        "{fwd}"
    );
    let vias = lines(fwd, "Via");
    assert_eq!(vias.len(), 3);
    assert!(
        vias[0].starts_with("Via: SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bK")
            && vias[0].ends_with("zsd_0")
    );
    assert!(
        vias[1].starts_with("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK")
            && vias[1].ends_with("_0")
    );
    assert_eq!(
        vias[2],
        "Via: SIP/2.0/UDP 127.0.0.1:5033;branch=z9hG4bKc1;rport=5033;received=127.0.0.1"
    );
    let rr = lines(fwd, "Record-Route");
    assert_eq!(
        rr,
        [
            "Record-Route: <sip:127.0.0.1:5065;transport=udp;lr;node_host=127.0.0.1;node_port=4060;version=0>",
            "Record-Route: <sip:127.0.0.1:5060;transport=udp;lr;node_host=127.0.0.1;node_port=4060;version=0>"
        ]
    );
    assert_eq!(lines(fwd, "Max-Forwards"), ["Max-Forwards: 69"]);
    assert_eq!(
        lines(fwd, "X-Sip-Balancer-InitialRemoteAddr"),
        ["X-Sip-Balancer-InitialRemoteAddr: 127.0.0.1"]
    );
    assert_eq!(
        lines(fwd, "X-Sip-Balancer-InitialRemotePort"),
        ["X-Sip-Balancer-InitialRemotePort: 5033"]
    );
    assert!(fwd.ends_with("\r\n\r\nv=0\n"));
}

#[test]
fn retransmission_and_cancel_share_branch_and_node() {
    let cfg = Config::embedded_default();
    let mut sim = Sim::new(
        &cfg,
        nodes(&[(1, NODE_A, NodeState::Up), (2, NODE_B, NodeState::Up)]),
    );
    let inv = invite("call-7", "z9hG4bKq", "");
    let a = sim.feed(LegId::External, CLIENT, &inv).pop().unwrap();
    let b = sim.feed(LegId::External, CLIENT, &inv).pop().unwrap();
    assert_eq!(a, b);
    let cancel = inv
        .replace("INVITE sip", "CANCEL sip")
        .replace("1 INVITE", "1 CANCEL");
    let c = sim.feed(LegId::External, CLIENT, &cancel).pop().unwrap();
    assert_eq!(c.1, a.1);
    assert_eq!(lines(&c.2, "Via")[..2], lines(&a.2, "Via")[..2]);
    assert!(lines(&c.2, "Max-Forwards") == ["Max-Forwards: 70"]);
    let other = sim
        .feed(LegId::External, CLIENT, &invite("call-8", "z9hG4bKq", ""))
        .pop()
        .unwrap();
    assert_ne!(lines(&other.2, "Via")[0], lines(&a.2, "Via")[0]);
}

#[test]
fn max_forwards_zero_is_483_and_not_forwarded() {
    let cfg = Config::embedded_default();
    let mut sim = Sim::new(&cfg, nodes(&[(1, NODE_A, NodeState::Up)]));
    let out = sim.feed(
        LegId::External,
        CLIENT,
        &invite("mf0", "z9hG4bKm", "Max-Forwards: 0\r\n"),
    );
    assert_eq!(out.len(), 1);
    assert!(out[0].2.starts_with("SIP/2.0 483 Too Many Hops\r\n"));
    assert!(out[0].2.contains("To: <sip:bob@b.example>;tag=lb"));
    let out = sim.feed(
        LegId::External,
        CLIENT,
        &invite("mf1", "z9hG4bKm", "Max-Forwards: 1\r\n"),
    );
    assert_eq!(lines(&out[1].2, "Max-Forwards"), ["Max-Forwards: 0"]);
}

#[test]
fn no_node_gives_503_but_not_for_ack() {
    let cfg = Config::embedded_default();
    let mut sim = Sim::new(&cfg, nodes(&[]));
    let out = sim.feed(LegId::External, CLIENT, &invite("nn", "z9hG4bKn", ""));
    assert_eq!(out.len(), 1);
    assert!(out[0].2.starts_with("SIP/2.0 503 Service Unavailable\r\n"));
    let ack = invite("nn", "z9hG4bKn", "")
        .replace("INVITE sip", "ACK sip")
        .replace("1 INVITE", "1 ACK");
    assert!(sim.feed(LegId::External, CLIENT, &ack).is_empty());
}

#[test]
fn heartbeat_on_internal_port_only() {
    let cfg = Config::embedded_default();
    let mut sim = Sim::new(&cfg, nodes(&[]));
    let hb = "OPTIONS sip:lb@127.0.0.1:5065 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKh\r\nFrom: <sip:n@x>;tag=1\r\nTo: <sip:lb@x>\r\nCall-ID: hb1\r\nCSeq: 1 OPTIONS\r\nMobicents-Heartbeat: 1\r\nContent-Length: 36\r\n\r\nip=127.0.0.1\nudpPort=5070\nversion=0\n";
    let out = sim.feed(LegId::Internal, "127.0.0.1:5070", hb);
    assert_eq!(out.len(), 1);
    assert!(out[0].2.starts_with("SIP/2.0 200 OK\r\n"));
    assert_eq!(sim.out.events.len(), 1);
    let out = sim.feed(LegId::External, "127.0.0.1:5070", hb);
    assert!(out[0].2.starts_with("SIP/2.0 503"), "{out:?}");
    assert!(sim.out.events.is_empty());
}

#[test]
fn response_from_node_pops_both_vias() {
    let cfg = Config::embedded_default();
    let mut sim = Sim::new(&cfg, nodes(&[(1, NODE_A, NodeState::Up)]));
    let fwd = sim
        .feed(LegId::External, CLIENT, &invite("r1", "z9hG4bKr", ""))
        .pop()
        .unwrap()
        .2;
    let via_block: Vec<&str> = lines(&fwd, "Via");
    let resp = format!(
        "SIP/2.0 180 Ringing\r\n{}\r\nFrom: <sip:alice@a.example>;tag=111\r\nTo: <sip:bob@b.example>;tag=222\r\nCall-ID: r1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        via_block.join("\r\n")
    );
    let out = sim.feed(LegId::Internal, NODE_A, &resp);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].0, out[0].1.to_string().as_str()),
        (LegId::External, CLIENT)
    );
    assert_eq!(
        lines(&out[0].2, "Via"),
        ["Via: SIP/2.0/UDP 127.0.0.1:5033;branch=z9hG4bKr;rport=5033;received=127.0.0.1"]
    );
}

#[test]
fn in_dialog_request_follows_hint_and_fails_over() {
    let cfg = Config::embedded_default();
    let routes = "Route: <sip:127.0.0.1:5060;transport=udp;lr;node_host=127.0.0.1;node_port=4060;version=0>,<sip:127.0.0.1:5065;transport=udp;lr;node_host=127.0.0.1;node_port=4060;version=0>\r\n";
    let bye = format!(
        "BYE sip:bob@127.0.0.1:4060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5033;branch=z9hG4bKb\r\n{routes}From: <sip:alice@a>;tag=1\r\nTo: <sip:bob@b>;tag=2\r\nCall-ID: d1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    );
    let mut sim = Sim::new(
        &cfg,
        nodes(&[(1, NODE_A, NodeState::Up), (2, NODE_B, NodeState::Up)]),
    );
    let out = sim.feed(LegId::External, CLIENT, &bye);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1.to_string(), NODE_A);
    assert!(lines(&out[0].2, "Route").is_empty(), "{}", out[0].2);
    assert!(lines(&out[0].2, "X-Sip-Balancer-InitialRemoteAddr").is_empty());
    sim.proxy.set_nodes(nodes(&[
        (1, NODE_A, NodeState::Down),
        (2, NODE_B, NodeState::Up),
    ]));
    let out = sim.feed(LegId::External, CLIENT, &bye);
    assert_eq!(out[0].1.to_string(), NODE_B);
    assert_eq!(
        lines(&out[0].2, "Route"),
        ["Route: <sip:127.0.0.1:4061;transport=udp;lr>"]
    );
    assert!(out[0].2.starts_with("BYE sip:bob@127.0.0.1:4060 SIP/2.0"));
}

#[test]
fn request_from_node_goes_to_client() {
    let cfg = Config::embedded_default();
    let mut sim = Sim::new(&cfg, nodes(&[(1, NODE_A, NodeState::Up)]));
    let inv = "INVITE sip:alice@127.0.0.1:5033 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:4060;branch=z9hG4bKn1\r\nRoute: <sip:lbint@127.0.0.1:5065;node_host=127.0.0.1;node_port=4060;lr>\r\nFrom: <sip:n@x>;tag=9\r\nTo: <sip:alice@a>\r\nCall-ID: n1\r\nCSeq: 1 INVITE\r\nX-Sip-Balancer-InitialRemoteAddr: 1.2.3.4\r\nContent-Length: 0\r\n\r\n";
    let out = sim.feed(LegId::Internal, NODE_A, inv);
    assert_eq!(out.len(), 2);
    assert!(out[0].2.starts_with("SIP/2.0 100 Trying"));
    assert_eq!(out[0].1.to_string(), NODE_A);
    let (leg, dst, fwd) = &out[1];
    assert_eq!((*leg, dst.to_string().as_str()), (LegId::External, CLIENT));
    let vias = lines(fwd, "Via");
    assert!(
        vias[0].contains("127.0.0.1:5060;branch=")
            && vias[0].ends_with("_0")
            && !vias[0].contains("zsd")
    );
    assert!(vias[1].contains("127.0.0.1:5065;branch=") && vias[1].ends_with("zsd_0"));
    assert!(lines(fwd, "Route").is_empty());
    assert!(lines(fwd, "X-Sip-Balancer-InitialRemoteAddr").is_empty());
    let rr = lines(fwd, "Record-Route");
    assert!(
        rr[0].contains("127.0.0.1:5060") && rr[1].contains("127.0.0.1:5065"),
        "{rr:?}"
    );
}

#[test]
fn garbage_is_counted_and_bad_requests_get_400() {
    let cfg = Config::embedded_default();
    let mut sim = Sim::new(&cfg, nodes(&[(1, NODE_A, NodeState::Up)]));
    assert!(sim
        .feed(LegId::External, CLIENT, "\u{1}\u{2}garbage")
        .is_empty());
    let bad = invite("bad", "z9hG4bKb", "").replace("Content-Length: 4", "Content-Length: 400");
    let out = sim.feed(LegId::External, CLIENT, &bad);
    assert!(out[0].2.starts_with("SIP/2.0 400 Bad Request"));
    assert_eq!(sim.proxy.counters().malformed, 2);
    assert!(sim.feed(LegId::External, CLIENT, "\r\n\r\n").is_empty());
}

#[test]
fn call_id_affinity_hands_off_to_home_shard() {
    let cfg = Config::embedded_default();
    let now = crate::test_epoch();
    let set = nodes(&[(1, NODE_A, NodeState::Up), (2, NODE_B, NodeState::Up)]);
    let mut shards: Vec<Proxy> = (0..2).map(|i| Proxy::new(&cfg, i, 2, now)).collect();
    for p in &mut shards {
        p.set_nodes(Arc::clone(&set));
    }
    let mut out = Output::default();
    let mut homes = [0usize; 2];
    for i in 0..40 {
        let msg = invite(&format!("cid-{i}"), "z9hG4bKh", "");
        let d = Datagram {
            bytes: msg.as_bytes(),
            src: CLIENT.parse().unwrap(),
            leg: LegId::External,
            handed_off: false,
            transport: crate::sip::transport::Transport::Udp,
            conn: None,
        };
        shards[0].handle(d, now, &mut out);
        if let Some(h) = out.hand_off {
            assert_eq!(h, 1);
            assert!(out.transmits.is_empty());
            shards[1].handle(
                Datagram {
                    handed_off: true,
                    ..d
                },
                now,
                &mut out,
            );
            homes[1] += 1;
        } else {
            homes[0] += 1;
        }
        assert_eq!(out.transmits.len(), 2);
    }
    assert!(homes[0] > 5 && homes[1] > 5, "{homes:?}");
    let _ = IpAddr::from([127, 0, 0, 1]);
}

/// Feed a client INVITE to shard 0 of `shards`, following a hand-off;
/// return (home shard, node it went to).
fn route_client_invite(shards: &mut [Proxy], call_id: &str, now: Instant) -> (usize, String) {
    let msg = invite(call_id, "z9hG4bKh", "");
    let mut out = Output::default();
    let d = Datagram {
        bytes: msg.as_bytes(),
        src: CLIENT.parse().unwrap(),
        leg: LegId::External,
        handed_off: false,
        transport: crate::sip::transport::Transport::Udp,
        conn: None,
    };
    shards[0].handle(d, now, &mut out);
    let home = out.hand_off.unwrap_or(0);
    if home != 0 {
        let d = Datagram {
            handed_off: true,
            ..d
        };
        shards[home].handle(d, now, &mut out);
    }
    let fwd = out.transmits.last().unwrap();
    (home, fwd.dst.to_string())
}

#[test]
fn a_hinted_request_assigns_its_call_id_on_the_home_shard() {
    let cfg = Config::embedded_default();
    let now = crate::test_epoch();
    let set = nodes(&[(1, NODE_A, NodeState::Up), (2, NODE_B, NodeState::Up)]);
    let fresh = || -> Vec<Proxy> {
        (0..2)
            .map(|i| {
                let mut p = Proxy::new(&cfg, i, 2, now);
                p.set_nodes(Arc::clone(&set));
                p
            })
            .collect()
    };
    // A Call-ID homed on shard 1 that the hash alone gives to node B.
    let cid = (0..200)
        .map(|i| format!("as-{i}"))
        .find(|c| route_client_invite(&mut fresh(), c, now) == (1, NODE_B.to_string()))
        .unwrap();
    // A restarted balancer (empty tables) sees node A's in-dialog request
    // carrying the hint for A: shard 0 sends the assignment to shard 1.
    let mut shards = fresh();
    let bye = format!("BYE sip:alice@127.0.0.1:5033 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:4060;branch=z9hG4bKn2\r\nRoute: <sip:127.0.0.1:5065;node_host=127.0.0.1;node_port=4060;lr>\r\nFrom: <sip:n@x>;tag=9\r\nTo: <sip:alice@a>;tag=3\r\nCall-ID: {cid}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n");
    let mut out = Output::default();
    let d = Datagram {
        bytes: bye.as_bytes(),
        src: NODE_A.parse().unwrap(),
        leg: LegId::Internal,
        handed_off: false,
        transport: crate::sip::transport::Transport::Udp,
        conn: None,
    };
    shards[0].handle(d, now, &mut out);
    assert_eq!(out.transmits.len(), 1, "the BYE is forwarded where it is");
    assert_eq!(out.assigns.len(), 1);
    let (home, a) = out.assigns[0];
    assert_eq!((home, a.node), (1, NodeId(1)));
    shards[1].apply_assign(a, now);
    // The Call-ID's next hint-less request sticks to A.
    assert_eq!(
        route_client_invite(&mut shards, &cid, now),
        (1, NODE_A.to_string())
    );
    // An ACK assigns nothing.
    let ack = bye.replace("BYE", "ACK");
    let d = Datagram {
        bytes: ack.as_bytes(),
        ..d
    };
    shards[0].handle(d, now, &mut out);
    assert!(out.assigns.is_empty());
}

#[test]
fn response_to_dead_node_is_retargeted_to_the_failover_node() {
    let cfg = Config::embedded_default();
    let mut sim = Sim::new(
        &cfg,
        nodes(&[(1, NODE_A, NodeState::Up), (2, NODE_B, NodeState::Up)]),
    );
    // Node A sends an INVITE to the client; the client answers later, after A died.
    let inv = "INVITE sip:alice@127.0.0.1:5033 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:4060;branch=z9hG4bKa1\r\nRoute: <sip:127.0.0.1:5065;node_host=127.0.0.1;node_port=4060;lr>\r\nFrom: <sip:n@x>;tag=9\r\nTo: <sip:alice@a>\r\nCall-ID: fo-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let fwd = sim.feed(LegId::Internal, NODE_A, inv).pop().unwrap().2;
    let resp = format!(
        "SIP/2.0 200 OK\r\n{}\r\nFrom: <sip:n@x>;tag=9\r\nTo: <sip:alice@a>;tag=c\r\nCall-ID: fo-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
        lines(&fwd, "Via").join("\r\n")
    );
    sim.proxy.set_nodes(nodes(&[
        (1, NODE_A, NodeState::Down),
        (2, NODE_B, NodeState::Up),
    ]));
    let out = sim.feed(LegId::External, CLIENT, &resp);
    assert_eq!(out.len(), 1);
    assert_eq!(
        (out[0].0, out[0].1.to_string().as_str()),
        (LegId::Internal, NODE_B)
    );
    assert_eq!(
        lines(&out[0].2, "Via"),
        ["Via: SIP/2.0/UDP 127.0.0.1:4061;branch=z9hG4bKa1"]
    );
}

/// A 200 from the client for node A's INVITE `call_id`, with the Vias the
/// balancer put on it.
fn client_answer_to_node_a(sim: &mut Sim, call_id: &str) -> String {
    let inv = format!("INVITE sip:alice@127.0.0.1:5033 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:4060;branch=z9hG4bKa1\r\nRoute: <sip:127.0.0.1:5065;node_host=127.0.0.1;node_port=4060;lr>\r\nFrom: <sip:n@x>;tag=9\r\nTo: <sip:alice@a>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
    let fwd = sim.feed(LegId::Internal, NODE_A, &inv).pop().unwrap().2;
    format!(
        "SIP/2.0 200 OK\r\n{}\r\nFrom: <sip:n@x>;tag=9\r\nTo: <sip:alice@a>;tag=c\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nX-Sip-Balancer-InitialRemoteAddr: 6.6.6.6\r\nContent-Length: 0\r\n\r\n",
        lines(&fwd, "Via").join("\r\n")
    )
}

#[test]
fn response_from_client_carries_its_address_and_an_unknown_via_is_retargeted() {
    let cfg = Config::embedded_default();
    let both = || nodes(&[(1, NODE_A, NodeState::Up), (2, NODE_B, NodeState::Up)]);
    let mut sim = Sim::new(&cfg, both());
    let resp = client_answer_to_node_a(&mut sim, "un-1");
    let out = sim.feed(LegId::External, CLIENT, &resp);
    assert_eq!(out[0].1.to_string(), NODE_A);
    // The client's own copy is replaced by its packet source.
    assert_eq!(
        lines(&out[0].2, "X-Sip-Balancer-InitialRemoteAddr"),
        ["X-Sip-Balancer-InitialRemoteAddr: 127.0.0.1"]
    );
    assert_eq!(
        lines(&out[0].2, "X-Sip-Balancer-InitialRemotePort"),
        ["X-Sip-Balancer-InitialRemotePort: 5033"]
    );
    // A balancer that never heard of node A (restarted, A gone): the
    // response goes to the node the dialog continues on.
    sim.proxy.set_nodes(nodes(&[(2, NODE_B, NodeState::Up)]));
    let out = sim.feed(LegId::External, CLIENT, &resp);
    assert_eq!(
        (out[0].0, out[0].1.to_string().as_str()),
        (LegId::Internal, NODE_B)
    );
    assert_eq!(
        lines(&out[0].2, "Via")[0],
        "Via: SIP/2.0/UDP 127.0.0.1:4061;branch=z9hG4bKa1"
    );
    // An extraServerNodes entry is not a node but is not re-targeted either.
    let mut cfg = Config::embedded_default();
    cfg.sip.extra_server_nodes = vec![NODE_A.parse().unwrap()];
    let mut sim = Sim::new(&cfg, both());
    let resp = client_answer_to_node_a(&mut sim, "un-2");
    sim.proxy.set_nodes(nodes(&[(2, NODE_B, NodeState::Up)]));
    let out = sim.feed(LegId::External, CLIENT, &resp);
    assert_eq!(out[0].1.to_string(), NODE_A);
}

#[test]
fn request_to_our_own_address_is_a_loop() {
    let cfg = Config::embedded_default();
    let mut sim = Sim::new(&cfg, nodes(&[(1, NODE_A, NodeState::Up)]));
    let msg = "MESSAGE sip:x@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:4060;branch=z9hG4bKl\r\nFrom: <sip:n@x>;tag=9\r\nTo: <sip:x@a>\r\nCall-ID: loop-1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n";
    assert!(sim.feed(LegId::Internal, NODE_A, msg).is_empty());
    assert_eq!(sim.proxy.counters().loops, 1);
}

#[test]
fn single_entry_direction_uses_extra_server_nodes() {
    let mut cfg = Config::embedded_default();
    cfg.sip.internal = None;
    cfg.sip.extra_server_nodes = vec!["127.0.0.1:4070".parse().unwrap()];
    let mut sim = Sim::new(&cfg, nodes(&[(1, NODE_A, NodeState::Up)]));
    // From an extra server node: goes towards the Request-URI (a client), not to node A.
    let msg = "MESSAGE sip:bob@127.0.0.1:5033 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:4070;branch=z9hG4bKe\r\nFrom: <sip:n@x>;tag=9\r\nTo: <sip:bob@a>\r\nCall-ID: extra-1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n";
    let out = sim.feed(LegId::External, "127.0.0.1:4070", msg);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].1.to_string(), CLIENT);
    // The same request from an unknown address is a client request: balanced to node A.
    let out = sim.feed(
        LegId::External,
        "127.0.0.1:4999",
        &msg.replace("4070", "4999"),
    );
    assert_eq!(out[0].1.to_string(), NODE_A);
    assert_eq!(lines(&out[0].2, "Via").len(), 3);
}

/// Mutation fuzzing of the whole proxy (runs in CI; `fuzz/` has the
/// coverage-guided version): no input may panic, and every transmit must
/// lie inside the output buffer.
#[test]
fn mutated_messages_never_panic_the_proxy() {
    let cfg = Config::embedded_default();
    let set = nodes(&[(1, NODE_A, NodeState::Up), (2, NODE_B, NodeState::Down)]);
    let mut sim = Sim::new(&cfg, set);
    let bye = "BYE sip:bob@127.0.0.1:4060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5033;branch=z9hG4bKb;rport\r\nRoute: <sip:127.0.0.1:5060;lr;node_host=127.0.0.1;node_port=4061;version=0>, <sip:127.0.0.1:5065;lr>\r\nFrom: <sip:a@a>;tag=1\r\nTo: <sip:b@b>;tag=2\r\nCall-ID: m1\r\nCSeq: 2 BYE\r\nMax-Forwards: 3\r\nContent-Length: 0\r\n\r\n".to_string();
    let ok = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bKxzsd_0, SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx_0\r\nVia: SIP/2.0/UDP [::1]:5033;received=127.0.0.1;rport=5033\r\nFrom: <sip:a@a>;tag=1\r\nTo: <sip:b@b>;tag=2\r\nCall-ID: m1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n".to_string();
    let seeds = [invite("m1", "z9hG4bKm", "Max-Forwards: 1\r\n"), bye, ok];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..30_000u32 {
        let mut bytes = seeds[i as usize % seeds.len()].clone().into_bytes();
        for _ in 0..(1 + next() % 6) {
            let len = bytes.len().max(1);
            let at = (next() as usize) % len;
            match next() % 4 {
                0 => bytes.truncate(at),
                1 => bytes.insert(
                    at.min(bytes.len()),
                    b",;<>\"[]:@= \r\n\t\0\xff"[(next() % 16) as usize],
                ),
                2 if at < bytes.len() => drop(bytes.remove(at)),
                _ if at < bytes.len() => bytes[at] = next() as u8,
                _ => {}
            }
        }
        let leg = if i % 2 == 0 {
            LegId::External
        } else {
            LegId::Internal
        };
        let d = Datagram {
            bytes: &bytes,
            src: CLIENT.parse().unwrap(),
            leg,
            handed_off: i % 3 == 0,
            transport: crate::sip::transport::Transport::Udp,
            conn: None,
        };
        sim.proxy.handle(d, sim.now, &mut sim.out);
        for t in &sim.out.transmits {
            assert!(t.range.end <= sim.out.buf.len() && t.range.start <= t.range.end);
        }
    }
}
