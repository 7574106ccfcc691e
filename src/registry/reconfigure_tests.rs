use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::super::Registry;
use crate::config::{Config, Ports, StaticNode};
use crate::registry::{Event, NodeSource, NodeState, ProbeTransmit};

fn node(name: &str, last: u8, udp: u16) -> StaticNode {
    StaticNode {
        hostname: name.into(),
        ip: IpAddr::from([10, 0, 0, last]),
        ports: Ports {
            udp: Some(udp),
            ..Ports::default()
        },
        version: 0,
        jvm_route: None,
        http_port: None,
        ssl_port: None,
    }
}

fn registry(t0: Instant, nodes: Vec<StaticNode>) -> Registry {
    let mut cfg = Config::embedded_default();
    cfg.registry.static_nodes = nodes;
    cfg.registry.node_timeout = Duration::from_secs(3);
    cfg.registry.probe.successes_to_up = 1;
    Registry::new(&cfg.registry, &cfg.sip, t0)
}

fn local() -> SocketAddr {
    "10.0.0.1:5090".parse().unwrap()
}

fn answer(p: &ProbeTransmit) -> Vec<u8> {
    let text = String::from_utf8(p.bytes.clone()).unwrap();
    let (_, rest) = text.split_once("\r\n").unwrap();
    format!("SIP/2.0 200 OK\r\n{rest}").into_bytes()
}

/// Run timers, answer every probe due at `now`.
fn answer_all(r: &mut Registry, now: Instant) {
    r.handle_timeout(now);
    while let Some(p) = r.poll_probe(now, local()) {
        r.handle_probe_response(&answer(&p), now);
    }
}

fn states(r: &Registry) -> Vec<(String, NodeState)> {
    r.snapshot()
        .nodes()
        .iter()
        .map(|n| (n.hostname.clone(), n.state))
        .collect()
}

#[test]
fn added_node_is_probed_and_comes_up() {
    let t0 = crate::test_epoch();
    let (a, b) = (node("a", 2, 5060), node("b", 3, 5060));
    let mut r = registry(t0, vec![a.clone()]);
    answer_all(&mut r, t0);
    let g = r.generation();
    assert!(r.handle_event(
        Event::StaticNodes {
            nodes: vec![a, b.clone()]
        },
        t0
    ));
    assert_eq!(r.generation(), g + 1);
    assert_eq!(
        states(&r),
        [("a".into(), NodeState::Up), ("b".into(), NodeState::Down)]
    );
    answer_all(&mut r, t0 + Duration::from_millis(10));
    assert_eq!(states(&r)[1], ("b".into(), NodeState::Up));
    assert_eq!(r.snapshot().nodes()[1].source, NodeSource::Static);
}

#[test]
fn same_list_again_changes_nothing() {
    let t0 = crate::test_epoch();
    let list = vec![node("a", 2, 5060), node("b", 3, 5060)];
    let mut r = registry(t0, list.clone());
    answer_all(&mut r, t0);
    let g = r.generation();
    assert!(!r.set_static_nodes(&list, t0));
    assert_eq!(r.generation(), g);
}

#[test]
fn removed_node_drains_then_goes_down_and_is_not_probed() {
    let t0 = crate::test_epoch();
    let (a, b) = (node("a", 2, 5060), node("b", 3, 5060));
    let mut r = registry(t0, vec![a.clone(), b]);
    answer_all(&mut r, t0);
    assert!(r.set_static_nodes(&[a], t0));
    let set = r.snapshot();
    assert_eq!(set.nodes()[1].state, NodeState::Draining);
    assert!(set.is_alive(set.nodes()[1].id), "keeps its dialogs");
    assert_eq!(set.eligible(0).len(), 1, "no new calls for b");
    let later = t0 + Duration::from_secs(2);
    r.handle_timeout(later);
    let probes: Vec<_> = std::iter::from_fn(|| r.poll_probe(later, local())).collect();
    assert!(probes
        .iter()
        .all(|p| p.dst.ip() != IpAddr::from([10, 0, 0, 3])));
    assert_eq!(
        r.poll_timeout().min(t0 + Duration::from_secs(3)),
        r.poll_timeout()
    );
    assert!(r.handle_timeout(t0 + Duration::from_millis(3001)));
    assert_eq!(states(&r)[1], ("b".into(), NodeState::Down));
}

#[test]
fn node_listed_again_while_draining_is_back_up() {
    let t0 = crate::test_epoch();
    let (a, b) = (node("a", 2, 5060), node("b", 3, 5060));
    let mut r = registry(t0, vec![a.clone(), b.clone()]);
    answer_all(&mut r, t0);
    r.set_static_nodes(std::slice::from_ref(&a), t0);
    assert!(r.set_static_nodes(&[a, b], t0 + Duration::from_secs(1)));
    assert_eq!(states(&r)[1], ("b".into(), NodeState::Up));
    assert_eq!(r.snapshot().nodes().len(), 2, "same entry, no duplicate");
    assert!(
        !r.handle_timeout(t0 + Duration::from_secs(5)),
        "not retired"
    );
}

#[test]
fn changed_attributes_apply_in_place() {
    let t0 = crate::test_epoch();
    let a = node("a", 2, 5060);
    let mut r = registry(t0, vec![a.clone()]);
    answer_all(&mut r, t0);
    let id = r.snapshot().nodes()[0].id;
    let a2 = StaticNode {
        hostname: "a2".into(),
        version: 3,
        jvm_route: Some("r1".into()),
        ..a
    };
    assert!(r.set_static_nodes(&[a2], t0));
    let set = r.snapshot();
    let n = &set.nodes()[0];
    assert_eq!((n.id, n.state, n.version), (id, NodeState::Up, 3));
    assert_eq!(
        (n.hostname.as_str(), n.jvm_route.as_deref()),
        ("a2", Some("r1"))
    );
    assert_eq!(set.latest_version(), 3);
}
