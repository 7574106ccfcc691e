use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::*;
use crate::config::{Config, Ports, StaticNode};

// Defaults: node_timeout 8.4 s, heartbeat_interval 150 ms, probe every 1 s,
// timeout 1 s, 3 failures to down, 1 success to up.
fn config() -> Config {
    Config::embedded_default()
}

fn ms(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

fn src() -> SocketAddr {
    "10.0.0.5:5080".parse().unwrap()
}

fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn hb(pairs: &[(&str, &str)]) -> Event {
    Event::Heartbeat {
        src: src(),
        properties: props(pairs),
    }
}

fn empty(t0: Instant) -> Registry {
    let cfg = config();
    Registry::new(&cfg.registry, &cfg.sip, t0)
}

fn only(r: &Registry) -> Node {
    let set = r.snapshot();
    assert_eq!(set.nodes().len(), 1);
    set.nodes()[0].clone()
}

const NODE1: &[(&str, &str)] = &[
    ("hostname", "node1"),
    ("ip", "10.0.0.5"),
    ("udpPort", "5080"),
    ("tcpPort", "5081"),
    ("version", "2"),
];

#[test]
fn heartbeat_adds_up_node() {
    let t0 = crate::test_epoch();
    let mut r = empty(t0);
    assert_eq!(r.snapshot().generation, 1);
    assert!(r.handle_event(hb(NODE1), t0));
    let n = only(&r);
    assert_eq!(
        (n.id, n.state, n.source),
        (NodeId(0), NodeState::Up, NodeSource::Heartbeat)
    );
    assert_eq!(n.hostname, "node1");
    assert_eq!(
        n.ports,
        Ports {
            udp: Some(5080),
            tcp: Some(5081),
            ..Ports::default()
        }
    );
    assert_eq!(n.version, 2);
    assert_eq!(n.hash, node_hash(n.ip, 5080));
    assert_eq!(n.properties, props(NODE1));
    assert_eq!(n.to_string(), "node1 10.0.0.5:5080 version 2");
    let set = r.snapshot();
    assert_eq!((set.generation, set.latest_version()), (2, 2));
}

#[test]
fn identity_defaults_to_packet_source() {
    let t0 = crate::test_epoch();
    let mut r = empty(t0);
    assert!(r.handle_event(hb(&[("jvmRoute", "r1"), ("version", "x")]), t0));
    let n = only(&r);
    assert_eq!(SocketAddr::new(n.ip, n.ports.udp.unwrap()), src());
    assert_eq!(
        (n.version, n.jvm_route.as_deref(), n.hostname.as_str()),
        (0, Some("r1"), "10.0.0.5")
    );
}

#[test]
fn same_heartbeat_again_changes_nothing() {
    let t0 = crate::test_epoch();
    let mut r = empty(t0);
    r.handle_event(hb(NODE1), t0);
    assert!(!r.handle_event(hb(NODE1), ms(t0, 1000)));
    assert_eq!(r.snapshot().generation, 2);
}

#[test]
fn distinct_identities_get_monotonic_ids() {
    let t0 = crate::test_epoch();
    let mut r = empty(t0);
    r.handle_event(hb(&[("udpPort", "5080")]), t0);
    r.handle_event(hb(&[("udpPort", "5090")]), t0);
    r.handle_event(hb(&[("ip", "10.0.0.6"), ("udpPort", "5080")]), t0);
    let ids: Vec<u32> = r.snapshot().nodes().iter().map(|n| n.id.0).collect();
    assert_eq!(ids, [0, 1, 2]);
}

#[test]
fn invalid_ip_property_ignored() {
    let t0 = crate::test_epoch();
    let mut r = empty(t0);
    assert!(!r.handle_event(hb(&[("ip", "not-an-ip")]), t0));
    assert!(r.snapshot().nodes().is_empty());
}

#[test]
fn drain_and_undrain() {
    let t0 = crate::test_epoch();
    let mut r = empty(t0);
    r.handle_event(hb(NODE1), t0);
    let mut draining = props(NODE1);
    draining.push(("GRACEFUL_SHUTDOWN".into(), "true".into()));
    assert!(r.handle_event(
        Event::Heartbeat {
            src: src(),
            properties: draining.clone()
        },
        ms(t0, 1000)
    ));
    let n = only(&r);
    assert_eq!(n.state, NodeState::Draining);
    assert!(n.is_alive() && !n.takes_new_calls());
    assert!(!r.handle_event(
        Event::Heartbeat {
            src: src(),
            properties: draining
        },
        ms(t0, 2000)
    ));
    assert!(r.handle_event(hb(NODE1), ms(t0, 3000)));
    assert_eq!(only(&r).state, NodeState::Up);
    assert_eq!(r.snapshot().generation, 4);
}

#[test]
fn graceful_heartbeat_from_unknown_node_ignored() {
    let t0 = crate::test_epoch();
    let mut r = empty(t0);
    assert!(!r.handle_event(hb(&[("GRACEFUL_SHUTDOWN", "true")]), t0));
    assert!(r.snapshot().nodes().is_empty());
}

#[test]
fn timeout_takes_node_down_then_heartbeat_revives_it() {
    let t0 = crate::test_epoch();
    let mut r = empty(t0);
    r.handle_event(hb(NODE1), t0);
    assert!(
        !r.handle_timeout(ms(t0, 8400)),
        "exactly node_timeout is not yet expired"
    );
    assert!(r.handle_timeout(ms(t0, 8401)));
    let n = only(&r);
    assert_eq!(n.state, NodeState::Down);
    assert!(!r.handle_timeout(ms(t0, 9000)));
    let down_gen = r.snapshot().generation;
    assert!(r.handle_event(hb(NODE1), ms(t0, 9100)));
    let n = only(&r);
    assert_eq!((n.id, n.state), (NodeId(0), NodeState::Up));
    assert_eq!(r.snapshot().generation, down_gen + 1);
}

#[test]
fn graceful_heartbeat_does_not_revive_down_node() {
    let t0 = crate::test_epoch();
    let mut r = empty(t0);
    r.handle_event(hb(NODE1), t0);
    r.handle_timeout(ms(t0, 9000));
    let mut draining = props(NODE1);
    draining.push(("GRACEFUL_SHUTDOWN".into(), "true".into()));
    assert!(!r.handle_event(
        Event::Heartbeat {
            src: src(),
            properties: draining
        },
        ms(t0, 9100)
    ));
    assert_eq!(only(&r).state, NodeState::Down);
}

#[test]
fn traffic_refreshes_alive_node_only() {
    let t0 = crate::test_epoch();
    let mut r = empty(t0);
    r.handle_event(hb(NODE1), t0);
    assert!(!r.handle_event(Event::Traffic { node: NodeId(0) }, ms(t0, 5000)));
    assert!(!r.handle_timeout(ms(t0, 13_000)));
    assert!(r.handle_timeout(ms(t0, 13_401)));
    assert!(!r.handle_event(Event::Traffic { node: NodeId(0) }, ms(t0, 14_000)));
    assert_eq!(
        only(&r).state,
        NodeState::Down,
        "traffic does not resurrect"
    );
    assert!(!r.handle_event(Event::Traffic { node: NodeId(42) }, ms(t0, 14_000)));
}

#[test]
fn property_change_updates_node_and_latest_version() {
    let t0 = crate::test_epoch();
    let mut r = empty(t0);
    r.handle_event(hb(&[("version", "1")]), t0);
    assert_eq!(r.snapshot().latest_version(), 1);
    assert!(r.handle_event(hb(&[("version", "3"), ("wsPort", "5082")]), ms(t0, 100)));
    let n = only(&r);
    assert_eq!((n.version, n.ports.ws), (3, Some(5082)));
    assert!(r.handle_event(hb(&[("version", "2")]), ms(t0, 200)));
    r.handle_timeout(ms(t0, 10_000));
    assert_eq!(r.snapshot().latest_version(), 3, "max of any node ever");
}

#[test]
fn generation_only_moves_on_change() {
    let t0 = crate::test_epoch();
    let mut r = empty(t0);
    r.handle_event(hb(NODE1), t0);
    for i in 1..20 {
        r.handle_event(hb(NODE1), ms(t0, i * 100));
        r.handle_timeout(ms(t0, i * 100 + 50));
    }
    assert_eq!(r.snapshot().generation, 2);
}

#[test]
fn poll_timeout_is_the_sweep_without_static_nodes() {
    let t0 = crate::test_epoch();
    let mut r = empty(t0);
    assert_eq!(r.poll_timeout(), ms(t0, 150));
    r.handle_timeout(ms(t0, 160));
    assert_eq!(r.poll_timeout(), ms(t0, 310));
}

#[test]
fn extra_server_nodes_are_permanent_and_not_balanced() {
    let t0 = crate::test_epoch();
    let mut cfg = config();
    cfg.sip.extra_server_nodes = vec!["10.0.0.9:5060".parse().unwrap()];
    let mut r = Registry::new(&cfg.registry, &cfg.sip, t0);
    let n = only(&r);
    assert_eq!((n.state, n.source), (NodeState::Up, NodeSource::Extra));
    assert!(!n.takes_new_calls());
    assert!(!r.handle_timeout(ms(t0, 3_600_000)));
    let beat = Event::Heartbeat {
        src: "10.0.0.9:5060".parse().unwrap(),
        properties: Vec::new(),
    };
    assert!(!r.handle_event(beat, ms(t0, 3_600_000)));
    assert_eq!(r.snapshot().nodes().len(), 1);
}

// --- static nodes and probes ---

fn static_node(udp: Option<u16>, version: u32) -> StaticNode {
    StaticNode {
        hostname: "asterisk".into(),
        ip: IpAddr::from([10, 0, 0, 7]),
        ports: Ports {
            udp,
            tcp: Some(5060),
            ..Ports::default()
        },
        version,
        jvm_route: None,
        http_port: None,
        ssl_port: None,
    }
}

fn with_static(t0: Instant, successes_to_up: u32, failures_to_down: u32) -> Registry {
    let mut cfg = config();
    cfg.registry.static_nodes = vec![static_node(Some(5060), 4)];
    cfg.registry.probe.successes_to_up = successes_to_up;
    cfg.registry.probe.failures_to_down = failures_to_down;
    Registry::new(&cfg.registry, &cfg.sip, t0)
}

fn local() -> SocketAddr {
    "10.0.0.1:5090".parse().unwrap()
}

/// The node's answer: the probe with its request line turned into a status line.
fn answer(p: &ProbeTransmit, status: &str) -> Vec<u8> {
    let text = String::from_utf8(p.bytes.clone()).unwrap();
    let (_, rest) = text.split_once("\r\n").unwrap();
    format!("SIP/2.0 {status}\r\n{rest}").into_bytes()
}

/// Probe at `now` and answer (or not) immediately.
fn probe_round(r: &mut Registry, now: Instant, status: Option<&str>) -> bool {
    let mut changed = r.handle_timeout(now);
    let p = r.poll_probe(now, local()).expect("probe due");
    assert!(
        r.poll_probe(now, local()).is_none(),
        "one probe outstanding per node"
    );
    if let Some(s) = status {
        changed |= r.handle_probe_response(&answer(&p, s), now);
    }
    changed
}

#[test]
fn static_node_starts_down_and_probe_brings_it_up() {
    let t0 = crate::test_epoch();
    let mut r = with_static(t0, 1, 3);
    let n = only(&r);
    assert_eq!((n.state, n.source), (NodeState::Down, NodeSource::Static));
    assert_eq!(n.hash, node_hash(n.ip, 5060));
    assert_eq!(r.snapshot().latest_version(), 0, "never up yet");
    assert_eq!(r.poll_timeout(), t0, "first probe due at once");
    let p = r.poll_probe(t0, local()).unwrap();
    assert_eq!(
        (p.node, p.dst),
        (NodeId(0), "10.0.0.7:5060".parse().unwrap())
    );
    assert_eq!(r.poll_timeout(), ms(t0, 150).min(ms(t0, 1000)));
    assert!(r.handle_probe_response(&answer(&p, "404 Not Found"), ms(t0, 20)));
    assert_eq!(only(&r).state, NodeState::Up);
    assert_eq!(r.snapshot().latest_version(), 4);
    assert!(
        !r.handle_probe_response(&answer(&p, "200 OK"), ms(t0, 30)),
        "duplicate answer"
    );
}

#[test]
fn successes_to_up_needs_consecutive_answers() {
    let t0 = crate::test_epoch();
    let mut r = with_static(t0, 3, 3);
    assert!(!probe_round(&mut r, t0, Some("200 OK")));
    assert!(!probe_round(&mut r, ms(t0, 1000), Some("200 OK")));
    assert!(!probe_round(&mut r, ms(t0, 2000), None));
    assert!(
        !probe_round(&mut r, ms(t0, 3000), Some("501 Not Implemented")),
        "timeout reset the count"
    );
    assert!(!probe_round(&mut r, ms(t0, 4000), Some("200 OK")));
    assert!(probe_round(&mut r, ms(t0, 5000), Some("200 OK")));
    assert_eq!(only(&r).state, NodeState::Up);
}

#[test]
fn failures_to_down_needs_consecutive_timeouts() {
    let t0 = crate::test_epoch();
    let mut r = with_static(t0, 1, 3);
    assert!(probe_round(&mut r, t0, Some("200 OK")));
    assert!(!probe_round(&mut r, ms(t0, 1000), None));
    assert!(!probe_round(&mut r, ms(t0, 2000), None));
    assert!(
        !probe_round(&mut r, ms(t0, 3000), Some("200 OK")),
        "answer resets failures"
    );
    assert!(!probe_round(&mut r, ms(t0, 4000), None));
    assert!(!probe_round(&mut r, ms(t0, 5000), None)); // counts 4000's timeout
    assert!(!probe_round(&mut r, ms(t0, 6000), None)); // counts 5000's
    assert_eq!(only(&r).state, NodeState::Up);
    assert!(
        probe_round(&mut r, ms(t0, 7000), None),
        "third consecutive timeout (6000's)"
    );
    assert_eq!(only(&r).state, NodeState::Down);
    assert!(probe_round(&mut r, ms(t0, 8000), Some("200 OK")));
    assert_eq!(only(&r).state, NodeState::Up);
}

#[test]
fn late_answer_to_timed_out_probe_ignored() {
    let t0 = crate::test_epoch();
    let mut r = with_static(t0, 1, 3);
    let p = r.poll_probe(t0, local()).unwrap();
    r.handle_timeout(ms(t0, 1000));
    assert!(!r.handle_probe_response(&answer(&p, "200 OK"), ms(t0, 1001)));
    assert_eq!(only(&r).state, NodeState::Down);
}

#[test]
fn probes_follow_the_interval_and_sequence() {
    let t0 = crate::test_epoch();
    let mut r = with_static(t0, 1, 3);
    let p1 = r.poll_probe(t0, local()).unwrap();
    r.handle_probe_response(&answer(&p1, "200 OK"), ms(t0, 10));
    assert_eq!(r.poll_timeout(), ms(t0, 150), "sweep before next probe");
    assert!(r.poll_probe(ms(t0, 999), local()).is_none());
    let p2 = r.poll_probe(ms(t0, 1000), local()).unwrap();
    let text = String::from_utf8(p2.bytes).unwrap();
    assert!(
        text.contains("Call-ID: lbprobe-0-2@10.0.0.1:5090\r\n")
            && text.contains("CSeq: 2 OPTIONS\r\n")
    );
}

#[test]
fn static_nodes_ignore_heartbeats_and_timeouts() {
    let t0 = crate::test_epoch();
    let mut r = with_static(t0, 1, 3);
    let beat = Event::Heartbeat {
        src: "10.0.0.7:5060".parse().unwrap(),
        properties: Vec::new(),
    };
    assert!(!r.handle_event(beat, t0));
    assert_eq!(only(&r).state, NodeState::Down);
    probe_round(&mut r, t0, Some("200 OK"));
    // Answers keep coming; node_timeout does not apply to static nodes.
    for s in 1..20 {
        probe_round(&mut r, ms(t0, s * 1000), Some("200 OK"));
    }
    assert_eq!(only(&r).state, NodeState::Up);
}

#[test]
fn static_node_without_udp_port_is_up_unprobed() {
    let t0 = crate::test_epoch();
    let mut cfg = config();
    cfg.registry.static_nodes = vec![static_node(None, 1)];
    let mut r = Registry::new(&cfg.registry, &cfg.sip, t0);
    assert_eq!(only(&r).state, NodeState::Up);
    assert_eq!(r.snapshot().latest_version(), 1);
    assert!(r.poll_probe(t0, local()).is_none());
}

#[test]
fn a_draining_balancer_offers_no_node_for_new_calls_but_keeps_them_alive() {
    let t0 = crate::test_epoch();
    let mut r = empty(t0);
    assert!(r.handle_event(hb(NODE1), t0));
    let id = only(&r).id;
    assert_eq!(r.snapshot().eligible(2).len(), 1);
    assert!(
        r.handle_event(Event::Drain, ms(t0, 10)),
        "the drain is a change"
    );
    assert!(!r.handle_event(Event::Drain, ms(t0, 20)), "once");
    let set = r.snapshot();
    assert!(set.is_draining());
    assert!(set.eligible(2).is_empty(), "no new calls");
    assert!(set.is_alive(id), "dialogs go on");
    // Heartbeats keep the node alive, and new calls stay refused.
    assert!(!r.handle_event(hb(NODE1), ms(t0, 100)) || r.snapshot().eligible(2).is_empty());
    assert!(r.snapshot().eligible(2).is_empty());
}
