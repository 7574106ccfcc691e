//! Proxy-level tests of the node choice: versions, draining, the algorithms'
//! hint policy and hops, response failover by the algorithm's key, health
//! reports. In-process, no sockets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::balancer::hash::key_hash;
use crate::balancer::rendezvous::Candidates;
use crate::config::{AlgorithmKind, Config};
use crate::registry::{Event, HealthReport, Node, NodeId, NodeSet, NodeSource, NodeState};
use crate::sip::proxy::{Datagram, LegId, Output, Proxy};

const CLIENT: &str = "127.0.0.1:5033";

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn node(id: u32, port: u16, version: u32, state: NodeState) -> Node {
    let mut n = Node::new(
        NodeId(id),
        addr(port).ip(),
        port,
        NodeSource::Heartbeat,
        state,
    );
    n.version = version;
    n
}

fn set(generation: u64, nodes: Vec<Node>) -> Arc<NodeSet> {
    let latest = nodes.iter().map(|n| n.version).max().unwrap_or(0);
    Arc::new(NodeSet::new(generation, nodes, latest))
}

struct Sim {
    proxy: Proxy,
    out: Output,
    now: Instant,
}

impl Sim {
    fn new(cfg: &Config, shard: usize, shards: usize, nodes: Arc<NodeSet>) -> Sim {
        let now = crate::test_epoch();
        let mut proxy = Proxy::new(cfg, shard, shards, now);
        proxy.set_nodes(nodes);
        Sim {
            proxy,
            out: Output::default(),
            now,
        }
    }

    fn feed(&mut self, leg: LegId, src: SocketAddr, msg: &str) -> &Output {
        let d = Datagram {
            bytes: msg.as_bytes(),
            src,
            leg,
            handed_off: false,
            transport: crate::sip::transport::Transport::Udp,
            conn: None,
        };
        self.proxy.handle(d, self.now, &mut self.out);
        &self.out
    }

    /// Where a client request went (the last transmit), or `None`.
    fn forwarded_to(&mut self, msg: &str) -> Option<u16> {
        let out = self.feed(LegId::External, CLIENT.parse().unwrap(), msg);
        out.transmits
            .iter()
            .rfind(|t| t.leg == LegId::Internal)
            .map(|t| t.dst.port())
    }
}

fn cfg(kind: AlgorithmKind, key: &str) -> Config {
    let mut cfg = Config::embedded_default();
    cfg.algorithm.kind = kind;
    cfg.algorithm.sip_header_affinity_key = key.into();
    cfg
}

fn invite(call_id: &str, to_user: &str) -> String {
    format!(
        "INVITE sip:{to_user}@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5033;branch=z9hG4bK{call_id}\r\n\
         From: <sip:alice@a.example>;tag=111\r\n\
         To: <sip:{to_user}@b.example>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// An in-dialog BYE whose Route hint names the node on `port`, `version`.
fn bye(call_id: &str, port: u16, version: u32) -> String {
    format!(
        "BYE sip:bob@b.example SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5033;branch=z9hG4bKb{call_id}\r\n\
         Route: <sip:127.0.0.1:5060;transport=udp;lr;node_host=127.0.0.1;node_port={port};version={version}>\r\n\
         From: <sip:alice@a.example>;tag=111\r\n\
         To: <sip:bob@b.example>;tag=222\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 2 BYE\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

#[test]
fn new_calls_go_to_the_highest_version_dialogs_stay_in_theirs() {
    let nodes = set(
        1,
        vec![
            node(1, 4060, 0, NodeState::Up),
            node(2, 4061, 2, NodeState::Up),
            node(3, 4062, 0, NodeState::Up),
        ],
    );
    let mut sim = Sim::new(&Config::embedded_default(), 0, 1, nodes);
    for i in 0..20 {
        assert_eq!(
            sim.forwarded_to(&invite(&format!("up-{i}"), "bob")),
            Some(4061)
        );
    }
    assert_eq!(sim.forwarded_to(&bye("old", 4060, 0)), Some(4060));
    // The version-0 dialog's node dies: it fails over within version 0.
    sim.proxy.set_nodes(set(
        2,
        vec![
            node(1, 4060, 0, NodeState::Down),
            node(2, 4061, 2, NodeState::Up),
            node(3, 4062, 0, NodeState::Up),
        ],
    ));
    for i in 0..20 {
        assert_eq!(
            sim.forwarded_to(&bye(&format!("old-{i}"), 4060, 0)),
            Some(4062)
        );
    }
    // The highest version has no node left: new calls fall back to version 0.
    sim.proxy.set_nodes(set(
        3,
        vec![
            node(1, 4060, 0, NodeState::Up),
            node(2, 4061, 2, NodeState::Down),
            node(3, 4062, 0, NodeState::Up),
        ],
    ));
    let port = sim.forwarded_to(&invite("after", "bob"));
    assert!(matches!(port, Some(4060 | 4062)), "{port:?}");
}

#[test]
fn a_draining_node_keeps_its_dialogs_and_gets_no_new_calls() {
    let nodes = set(
        1,
        vec![
            node(1, 4060, 0, NodeState::Draining),
            node(2, 4061, 0, NodeState::Up),
        ],
    );
    for kind in [
        AlgorithmKind::CallIdAffinity,
        AlgorithmKind::PersistentConsistentHash,
        AlgorithmKind::UserBased,
        AlgorithmKind::ActiveStandby,
        AlgorithmKind::ClusterSubdomainAffinity,
    ] {
        let mut sim = Sim::new(&cfg(kind.clone(), "To"), 0, 1, nodes.clone());
        for i in 0..20 {
            let call = format!("d-{i}");
            assert_eq!(
                sim.forwarded_to(&invite(&call, "bob")),
                Some(4061),
                "{kind:?}"
            );
            assert_eq!(
                sim.forwarded_to(&bye(&call, 4060, 0)),
                Some(4060),
                "{kind:?}"
            );
        }
    }
}

/// A Call-ID whose rendezvous winner among `nodes` is the node on `port`.
fn call_id_won_by(nodes: &NodeSet, port: u16) -> String {
    (0..)
        .map(|i| format!("k-{i}"))
        .find(|c| {
            Candidates::rendezvous(nodes, 0, key_hash(c.as_bytes()))
                .next()
                .is_some_and(|n| n.ports.udp == Some(port))
        })
        .unwrap()
}

#[test]
fn header_hash_ignores_hints_persistent_hash_follows_them() {
    let nodes = set(
        1,
        vec![
            node(1, 4060, 0, NodeState::Up),
            node(2, 4061, 0, NodeState::Up),
        ],
    );
    let call = call_id_won_by(&nodes, 4061);
    let mut header = Sim::new(
        &cfg(AlgorithmKind::HeaderConsistentHash, "Call-ID"),
        0,
        1,
        nodes.clone(),
    );
    assert_eq!(
        header.forwarded_to(&bye(&call, 4060, 0)),
        Some(4061),
        "the hash decides"
    );
    let mut persistent = Sim::new(
        &cfg(AlgorithmKind::PersistentConsistentHash, "Call-ID"),
        0,
        1,
        nodes,
    );
    assert_eq!(
        persistent.forwarded_to(&bye(&call, 4060, 0)),
        Some(4060),
        "the hint decides"
    );
}

#[test]
fn stateless_algorithms_never_hop_stateful_ones_hop_to_the_key_home() {
    let nodes = set(
        1,
        vec![
            node(1, 4060, 0, NodeState::Up),
            node(2, 4061, 0, NodeState::Up),
        ],
    );
    let call = (0..)
        .map(|i| format!("h-{i}"))
        .find(|c| key_hash(c.as_bytes()) % 2 == 1)
        .unwrap();
    let user = (0..)
        .map(|i| format!("u{i}"))
        .find(|u| key_hash(u.as_bytes()) % 2 == 0)
        .unwrap();
    for kind in [
        AlgorithmKind::HeaderConsistentHash,
        AlgorithmKind::PersistentConsistentHash,
        AlgorithmKind::ActiveStandby,
    ] {
        let mut sim = Sim::new(&cfg(kind.clone(), "To"), 0, 2, nodes.clone());
        let out = sim.feed(
            LegId::External,
            CLIENT.parse().unwrap(),
            &invite(&call, &user),
        );
        assert_eq!(out.hand_off, None, "{kind:?}");
    }
    // Call-ID affinity: the Call-ID's home (shard 1).
    let mut sim = Sim::new(
        &cfg(AlgorithmKind::CallIdAffinity, "To"),
        0,
        2,
        nodes.clone(),
    );
    let out = sim.feed(
        LegId::External,
        CLIENT.parse().unwrap(),
        &invite(&call, &user),
    );
    assert_eq!(out.hand_off, Some(1));
    // User based: the To user's home (shard 0), whatever the Call-ID's.
    let mut sim = Sim::new(&cfg(AlgorithmKind::UserBased, "To"), 0, 2, nodes);
    let out = sim.feed(
        LegId::External,
        CLIENT.parse().unwrap(),
        &invite(&call, &user),
    );
    assert_eq!(out.hand_off, None);
    assert_eq!(sim.proxy.affinity_entries(), 1);
}

#[test]
fn user_based_keeps_a_user_on_one_node_and_fails_responses_over_by_user() {
    let three = |state1| {
        set(
            1,
            vec![
                node(1, 4060, 0, state1),
                node(2, 4061, 0, NodeState::Up),
                node(3, 4062, 0, NodeState::Up),
            ],
        )
    };
    let mut sim = Sim::new(
        &cfg(AlgorithmKind::UserBased, "To"),
        0,
        1,
        three(NodeState::Up),
    );
    let first = sim.forwarded_to(&invite("c-0", "conf42"));
    for i in 1..30 {
        assert_eq!(
            sim.forwarded_to(&invite(&format!("c-{i}"), "conf42")),
            first
        );
    }
    // A node sends a request to a client and dies; the client's response
    // goes where the user key's next request would go.
    let nodes = three(NodeState::Up);
    let dead_port = 4060;
    let user = (0..)
        .map(|i| format!("u{i}"))
        .find(|u| {
            Candidates::rendezvous(&nodes, 0, key_hash(u.as_bytes()))
                .next()
                .is_some_and(|n| n.ports.udp == Some(dead_port))
        })
        .unwrap();
    let after = three(NodeState::Down);
    let expected = Candidates::rendezvous(&after, 0, key_hash(user.as_bytes()))
        .next()
        .and_then(|n| n.ports.udp);
    let resp = format!(
        "SIP/2.0 200 OK\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx_0, SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bKxzsd_0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{dead_port};branch=z9hG4bKa1\r\n\
         From: <sip:n@x>;tag=9\r\nTo: <sip:{user}@a>;tag=c\r\nCall-ID: fo-user\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    );
    let mut sim = Sim::new(&cfg(AlgorithmKind::UserBased, "To"), 0, 1, after);
    let out = sim.feed(LegId::External, CLIENT.parse().unwrap(), &resp);
    assert_eq!(out.transmits.len(), 1);
    assert_eq!(Some(out.transmits[0].dst.port()), expected);
    // The user's next request lands there too.
    assert_eq!(sim.forwarded_to(&invite("fo-user-2", &user)), expected);
}

#[test]
fn error_responses_and_requests_are_reported_to_the_registry() {
    let mut cfg = Config::embedded_default();
    cfg.registry.health.no_response = Some(crate::config::NoResponseCheck {
        max_requests: 10,
        max_response_time: std::time::Duration::from_secs(1),
    });
    let nodes = set(1, vec![node(1, 4060, 0, NodeState::Up)]);
    let mut sim = Sim::new(&cfg, 0, 1, nodes);
    let out = sim.feed(
        LegId::External,
        CLIENT.parse().unwrap(),
        &invite("e-1", "bob"),
    );
    assert_eq!(
        out.events,
        [Event::Health {
            node: NodeId(1),
            report: HealthReport {
                requests: 1,
                responses: 0,
                errors: 0
            }
        }]
    );
    let resp = "SIP/2.0 503 Service Unavailable\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bKxzsd_0, SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx_0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5033;branch=z9hG4bKe-1\r\n\
         From: <sip:alice@a.example>;tag=111\r\nTo: <sip:bob@b.example>;tag=2\r\nCall-ID: e-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    sim.now += crate::balancer::health_tally::REPORT_EVERY;
    let out = sim.feed(LegId::Internal, addr(4060), resp);
    let health: Vec<&Event> = out
        .events
        .iter()
        .filter(|e| matches!(e, Event::Health { .. }))
        .collect();
    assert_eq!(
        health,
        [&Event::Health {
            node: NodeId(1),
            report: HealthReport {
                requests: 0,
                responses: 1,
                errors: 1
            }
        }]
    );
    // An ACK is not counted.
    sim.now += crate::balancer::health_tally::REPORT_EVERY;
    let ack = "ACK sip:bob@127.0.0.1:4060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5033;branch=z9hG4bKe-1\r\nFrom: <sip:alice@a.example>;tag=111\r\nTo: <sip:bob@b.example>;tag=2\r\nCall-ID: e-1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n";
    let out = sim.feed(LegId::External, CLIENT.parse().unwrap(), ack);
    assert!(out.events.is_empty(), "{:?}", out.events);
}

// --- reload ---

/// Where each of `n` new calls went.
fn placements(sim: &mut Sim, n: usize) -> Vec<Option<u16>> {
    (0..n)
        .map(|i| sim.forwarded_to(&invite(&format!("rl-{i}"), "bob")))
        .collect()
}

#[test]
fn reload_keeps_the_affinity_table_when_the_key_stays_the_call_id() {
    let two = vec![
        node(1, 4060, 0, NodeState::Up),
        node(2, 4061, 0, NodeState::Up),
    ];
    let mut sim = Sim::new(&Config::embedded_default(), 0, 1, set(1, two.clone()));
    let before = placements(&mut sim, 30);
    let mut reloaded = cfg(AlgorithmKind::ClusterSubdomainAffinity, "Call-ID");
    reloaded.algorithm.call_id_affinity_max_entries = 5000;
    let r = sim
        .proxy
        .reconfigure_algorithm(&reloaded.algorithm, sim.now);
    assert_eq!((r.changed, r.carried, r.dropped), (true, 30, 0));
    let mut three = two;
    three.push(node(3, 4062, 0, NodeState::Up));
    sim.proxy.set_nodes(set(2, three));
    assert_eq!(
        placements(&mut sim, 30),
        before,
        "calls under way keep their node"
    );
    let fresh: Vec<_> = (0..30)
        .map(|i| sim.forwarded_to(&invite(&format!("new-{i}"), "bob")))
        .collect();
    assert!(fresh.contains(&Some(4062)), "the new node takes new calls");
    let again = sim
        .proxy
        .reconfigure_algorithm(&reloaded.algorithm, sim.now);
    assert!(!again.changed, "same section: nothing rebuilt");
}

#[test]
fn reload_to_another_key_drops_the_table_and_takes_effect() {
    let nodes = set(
        1,
        vec![
            node(1, 4060, 0, NodeState::Up),
            node(2, 4061, 0, NodeState::Up),
        ],
    );
    let mut sim = Sim::new(&Config::embedded_default(), 0, 1, nodes);
    placements(&mut sim, 10);
    let user = cfg(AlgorithmKind::UserBased, "To");
    let r = sim.proxy.reconfigure_algorithm(&user.algorithm, sim.now);
    assert_eq!((r.changed, r.carried, r.dropped), (true, 0, 10));
    let to_carol: Vec<_> = (0..20)
        .map(|i| sim.forwarded_to(&invite(&format!("u-{i}"), "carol")))
        .collect();
    assert!(
        to_carol.windows(2).all(|w| w[0] == w[1]),
        "one user, one node: {to_carol:?}"
    );
}
