//! Registry tests of restarts, health reports, slow start and the JSON
//! session commands.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::*;
use crate::config::{Config, RampUp};

fn ms(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

fn registry(t0: Instant, edit: impl FnOnce(&mut Config)) -> Registry {
    let mut cfg = Config::embedded_default();
    edit(&mut cfg);
    Registry::new(&cfg.registry, &cfg.sip, t0)
}

fn hb(port: u16, extra: &[(&str, &str)]) -> Event {
    let mut properties = vec![("udpPort".to_owned(), port.to_string())];
    properties.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Event::Heartbeat {
        src: SocketAddr::from(([10, 0, 0, 5], port)),
        properties,
    }
}

fn node(r: &Registry, id: u32) -> Node {
    r.snapshot().get(NodeId(id)).unwrap().clone()
}

fn errors(n: u32) -> Event {
    Event::Health {
        node: NodeId(0),
        report: HealthReport {
            requests: 0,
            responses: n,
            errors: n,
        },
    }
}

#[test]
fn error_reports_exclude_and_a_new_session_clears() {
    let t0 = crate::test_epoch();
    let mut r = registry(t0, |_| {});
    r.handle_event(hb(5080, &[("sessionId", "1")]), t0);
    assert!(
        !r.handle_event(errors(5), ms(t0, 10)),
        "5 is not more than 5"
    );
    assert!(r.handle_event(errors(1), ms(t0, 20)));
    let n = node(&r, 0);
    assert!(n.bad && n.is_alive() && !n.takes_new_calls());
    assert!(r.snapshot().eligible(0).is_empty());
    assert!(
        !r.handle_event(hb(5080, &[("sessionId", "1")]), ms(t0, 30)),
        "same session: still bad"
    );
    assert!(node(&r, 0).bad);
    assert!(r.handle_event(hb(5080, &[("sessionId", "2")]), ms(t0, 40)));
    assert!(!node(&r, 0).bad, "restarted");
}

#[test]
fn without_session_a_bad_node_returns_after_max_error_time() {
    let t0 = crate::test_epoch();
    let mut r = registry(t0, |c| {
        c.registry.health.max_error_time = Duration::from_secs(2)
    });
    r.handle_event(hb(5080, &[]), t0);
    r.handle_event(errors(6), ms(t0, 100));
    assert!(node(&r, 0).bad);
    assert!(r.poll_timeout() <= ms(t0, 2100));
    // Heartbeats keep it alive meanwhile.
    r.handle_event(hb(5080, &[]), ms(t0, 2000));
    assert!(r.handle_timeout(ms(t0, 2100)));
    assert!(!node(&r, 0).bad);
}

#[test]
fn down_and_up_again_clears_and_stamps_up_since() {
    let t0 = crate::test_epoch();
    let mut r = registry(t0, |_| {});
    r.handle_event(hb(5080, &[]), t0);
    r.handle_event(hb(5090, &[]), t0);
    assert_eq!((node(&r, 0).up_since, node(&r, 1).up_since), (1, 2));
    r.handle_event(errors(6), ms(t0, 10));
    assert!(node(&r, 0).bad);
    r.handle_timeout(ms(t0, 9000)); // both expire
    assert_eq!(node(&r, 0).state, NodeState::Down);
    r.handle_event(hb(5080, &[]), ms(t0, 9100));
    let n = node(&r, 0);
    assert_eq!((n.state, n.bad, n.up_since), (NodeState::Up, false, 3));
}

#[test]
fn slow_start_ramps_a_joining_node() {
    let t0 = crate::test_epoch();
    let mut r = registry(t0, |c| {
        c.registry.health.ramp_up = Some(RampUp {
            period: Duration::from_secs(10),
            percent: 50,
        });
    });
    r.handle_event(hb(5080, &[]), t0);
    assert_eq!(node(&r, 0).weight, 50);
    assert_eq!(r.snapshot().eligible(0)[0].weight, 50);
    // Heartbeats keep it alive; the ramp steps at 10 s.
    for s in 1..10 {
        r.handle_event(hb(5080, &[]), ms(t0, s * 1000));
        r.handle_timeout(ms(t0, s * 1000));
    }
    assert_eq!(node(&r, 0).weight, 50);
    assert!(r.poll_timeout() <= ms(t0, 10_000));
    assert!(r.handle_timeout(ms(t0, 10_000)));
    assert_eq!(node(&r, 0).weight, 100);
}

#[test]
fn health_reports_for_down_or_unknown_nodes_are_ignored() {
    let t0 = crate::test_epoch();
    let mut r = registry(t0, |_| {});
    assert!(!r.handle_event(errors(100), t0));
    r.handle_event(hb(5080, &[]), t0);
    r.handle_timeout(ms(t0, 9000));
    assert!(!r.handle_event(errors(100), ms(t0, 9001)));
    assert!(!node(&r, 0).bad);
}

fn start(session: &str, extra: &[(&str, &str)]) -> Event {
    let mut properties = vec![
        ("hostName".to_owned(), "n1".to_owned()),
        ("ip".to_owned(), "10.0.0.7".to_owned()),
        ("tcpPort".to_owned(), "5070".to_owned()),
        ("sessionId".to_owned(), session.to_owned()),
    ];
    properties.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Event::Start {
        src: IpAddr::from([10, 0, 0, 99]),
        properties,
    }
}

fn sid(s: &str) -> String {
    s.to_owned()
}

#[test]
fn json_start_heartbeat_shutdown_stop() {
    let t0 = crate::test_epoch();
    let mut r = registry(t0, |_| {});
    assert!(r.handle_event(start("s1", &[]), t0));
    let n = node(&r, 0);
    assert_eq!(
        (n.hostname.as_str(), n.ports.udp, n.ports.tcp),
        ("n1", None, Some(5070))
    );
    assert_eq!(n.ip, IpAddr::from([10, 0, 0, 7]));
    // Session heartbeats keep it alive past nodeTimeout.
    for s in 1..=4 {
        r.handle_event(
            Event::SessionHeartbeat {
                session_id: sid("s1"),
            },
            ms(t0, s * 5000),
        );
        r.handle_timeout(ms(t0, s * 5000));
    }
    assert_eq!(node(&r, 0).state, NodeState::Up);
    assert!(r.handle_event(
        Event::SessionShutdown {
            session_id: sid("s1")
        },
        ms(t0, 20_001)
    ));
    assert_eq!(node(&r, 0).state, NodeState::Draining);
    assert!(!r.handle_event(
        Event::SessionShutdown {
            session_id: sid("nope")
        },
        ms(t0, 20_002)
    ));
    assert!(r.handle_event(
        Event::SessionStop {
            session_id: sid("s1")
        },
        ms(t0, 20_003)
    ));
    assert_eq!(node(&r, 0).state, NodeState::Down);
    // A heartbeat does not bring a stopped node back; a new start does.
    r.handle_event(
        Event::SessionHeartbeat {
            session_id: sid("s1"),
        },
        ms(t0, 20_004),
    );
    assert_eq!(node(&r, 0).state, NodeState::Down);
    assert!(r.handle_event(start("s2", &[]), ms(t0, 20_005)));
    let n = node(&r, 0);
    assert_eq!((n.state, r.snapshot().nodes().len()), (NodeState::Up, 1));
}

#[test]
fn json_start_is_matched_by_session_first() {
    let t0 = crate::test_epoch();
    let mut r = registry(t0, |_| {});
    r.handle_event(start("s1", &[]), t0);
    // Same session, new port: the same node, updated.
    let moved = Event::Start {
        src: IpAddr::from([10, 0, 0, 99]),
        properties: vec![
            ("ip".to_owned(), "10.0.0.7".to_owned()),
            ("tcpPort".to_owned(), "5071".to_owned()),
            ("sessionId".to_owned(), "s1".to_owned()),
        ],
    };
    assert!(r.handle_event(moved, ms(t0, 1)));
    let set = r.snapshot();
    assert_eq!(set.nodes().len(), 1);
    assert_eq!(set.nodes()[0].ports.tcp, Some(5071));
    // A start without any port is ignored.
    let portless = Event::Start {
        src: IpAddr::from([10, 0, 0, 99]),
        properties: vec![("sessionId".to_owned(), "s9".to_owned())],
    };
    assert!(!r.handle_event(portless, ms(t0, 2)));
}

#[test]
fn switchover_redirects_dialogs_until_restart() {
    let t0 = crate::test_epoch();
    let mut r = registry(t0, |_| {});
    r.handle_event(hb(5080, &[("jvmRoute", "a"), ("sessionId", "1")]), t0);
    r.handle_event(hb(5090, &[("jvmRoute", "b")]), t0);
    let sw = |from: &str, to: &str| Event::Switchover {
        from_jvm_route: from.to_owned(),
        to_jvm_route: to.to_owned(),
    };
    assert!(!r.handle_event(sw("a", "zz"), t0), "unknown route");
    assert!(r.handle_event(sw("a", "b"), t0));
    assert!(!r.handle_event(sw("a", "b"), t0), "already in force");
    assert_eq!(
        r.snapshot().redirect(NodeId(0)).map(|n| n.id),
        Some(NodeId(1))
    );
    r.handle_event(
        hb(5080, &[("jvmRoute", "a"), ("sessionId", "2")]),
        ms(t0, 1),
    );
    assert_eq!(r.snapshot().redirect(NodeId(0)), None, "restart ends it");
}
