//! Node choice per request: instance id, jsessionid (cookie, path and
//! query parameter), affinity hash, active standby, round robin, ports,
//! unavailable host, bad nodes, rewrites, retries.

use super::*;
use crate::balancer::hash::key_hash;
use crate::balancer::rendezvous::pick;
use crate::http::HttpAlgorithm;

/// The node address the next connect goes to after `req`.
fn target_of(net: &mut Net, req: &[u8]) -> SocketAddr {
    let c = net.client();
    net.send(c, req);
    let (_, addr, _) = *net.connects.back().expect("a connect");
    addr
}

#[test]
fn round_robin_without_a_name() {
    let mut net = Net::two();
    let got: Vec<_> = (0..4)
        .map(|_| target_of(&mut net, &get("/")).ip())
        .collect();
    assert_ne!(got[0], got[1]);
    assert_eq!(got[0], got[2]);
    assert_eq!(got[1], got[3]);
}

#[test]
fn jsessionid_cookie_path_and_query_pick_the_jvm_route() {
    let mut net = Net::two();
    for _ in 0..3 {
        let req = b"GET /app HTTP/1.1\r\nHost: lb\r\nCookie: a=1; JSESSIONID=ABCDEF.node2\r\n\r\n";
        assert_eq!(target_of(&mut net, req), http_addr(2));
        assert_eq!(
            target_of(&mut net, &get("/app;jsessionid=XYZ.node1?x=1")),
            http_addr(1)
        );
        assert_eq!(
            target_of(&mut net, &get("/app?jsessionid=XYZ.node2")),
            http_addr(2)
        );
    }
}

#[test]
fn unknown_or_dead_jvm_route_falls_back_to_round_robin() {
    let mut dead = node(2, &[("jvmRoute", "node2")]);
    dead.state = NodeState::Down;
    let mut draining = node(3, &[("jvmRoute", "node3")]);
    draining.state = NodeState::Draining;
    let mut net = Net::new(settings(), vec![node(1, &[]), dead, draining]);
    for route in ["nodeX", "node2", "node3"] {
        let req = format!("GET / HTTP/1.1\r\nHost: lb\r\nCookie: JSESSIONID=a.{route}\r\n\r\n");
        assert_eq!(target_of(&mut net, req.as_bytes()), http_addr(1));
    }
}

#[test]
fn restcomm_instance_id_comes_first() {
    let id = "ID1f2a2222772f4195948d040a2ccc648c";
    let mut net = Net::new(
        settings(),
        vec![
            node(1, &[("jvmRoute", "node1")]),
            node(2, &[("Restcomm-Instance-Id", id)]),
        ],
    );
    let path = format!(
        "/restcomm/2012-04-24/Accounts/AC1/Calls.json/{id}-CA00af667a7e4e4b8a9b8a45eb6f6a0c23"
    );
    let req = format!("GET {path} HTTP/1.1\r\nHost: lb\r\nCookie: JSESSIONID=a.node1\r\n\r\n");
    for _ in 0..3 {
        assert_eq!(target_of(&mut net, req.as_bytes()), http_addr(2));
    }
}

#[test]
fn affinity_key_hashes_with_the_consistent_hash_algorithms() {
    let mut s = settings();
    s.algorithm = HttpAlgorithm::AffinityHash;
    let nodes: Vec<Node> = (1..=5).map(|i| node(i, &[])).collect();
    let mut net = Net::new(s, nodes.clone());
    for key in ["a", "b", "c", "d", "e", "f"] {
        let want = pick(key_hash(key.as_bytes()), nodes.iter()).unwrap().ip;
        for _ in 0..2 {
            let got = target_of(&mut net, &get(&format!("/x?y=1&appsession={key}")));
            assert_eq!(got.ip(), want, "key {key}");
        }
    }
    // Without the parameter: round robin.
    let a = target_of(&mut net, &get("/x"));
    let b = target_of(&mut net, &get("/x"));
    assert_ne!(a, b);
}

#[test]
fn active_standby_sends_everything_to_the_longest_up() {
    let mut s = settings();
    s.algorithm = HttpAlgorithm::ActiveStandby;
    let mut older = node(2, &[]);
    older.up_since = 0;
    let mut net = Net::new(s, vec![node(1, &[]), older]);
    for _ in 0..3 {
        assert_eq!(target_of(&mut net, &get("/")), http_addr(2));
    }
}

#[test]
fn nodes_without_the_port_are_skipped() {
    let mut net = Net::new(settings(), vec![node(1, &[("httpPort", "")]), node(2, &[])]);
    for _ in 0..3 {
        assert_eq!(target_of(&mut net, &get("/")), http_addr(2));
    }
}

#[test]
fn tls_listener_goes_to_ssl_port_unless_terminated() {
    let mut net = Net::new(settings(), vec![node(1, &[])]);
    let c = net.client_on(true);
    net.send(c, &get("/"));
    assert_eq!(
        net.connects.pop_back(),
        Some((1, SocketAddr::from(([127, 0, 0, 1], 8443)), true))
    );
    let mut s = settings();
    s.terminate_tls = true;
    let mut net = Net::new(s, vec![node(1, &[])]);
    let c = net.client_on(true);
    net.send(c, &get("/"));
    assert_eq!(net.connects.pop_back(), Some((1, http_addr(1), false)));
    let mut s = settings();
    s.remote_server_ssl = true;
    let mut net = Net::new(s, vec![node(1, &[])]);
    let c = net.client();
    net.send(c, &get("/"));
    assert!(net.connects.pop_back().unwrap().2);
}

#[test]
fn no_node_is_a_real_503_and_the_connection_stays() {
    let mut net = Net::new(settings(), vec![]);
    let c = net.client();
    net.send(c, &get("/"));
    let text = net.take_text(c);
    assert!(
        text.starts_with("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n"),
        "{text}"
    );
    assert!(!net.is_closed(c));
    net.send(c, &get("/again"));
    assert!(net.take_text(c).starts_with("HTTP/1.1 503 "));
    assert_eq!(net.counters().unavailable, 2);
    // With a body, the connection closes (the body is not read).
    net.send(
        c,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert!(net.is_closed(c));
}

#[test]
fn unavailable_host_takes_the_request_when_no_node_can() {
    let mut s = settings();
    let fallback: SocketAddr = "127.0.0.99:80".parse().unwrap();
    s.unavailable_host = Some(fallback);
    let mut net = Net::new(s, vec![]);
    assert_eq!(target_of(&mut net, &get("/")), fallback);
}

#[test]
fn request_check_pattern_marks_a_node_bad_on_4xx_5xx() {
    let mut s = settings();
    s.request_check = Some(regex::Regex::new("^/checked").unwrap());
    let mut net = Net::new(s, vec![node(1, &[]), node(2, &[])]);
    let c = net.client();
    // An unchecked request with an error response: nothing happens.
    let (up, _) = net.request_to_new_node(c, &get("/free"));
    let first = net.node_conns[&up];
    net.send(up, b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(net.counters().bad_nodes, 0);
    // A checked one: the node answering 503 is out of the HTTP choice.
    let (up2, _) = net.request_to_new_node(c, &get("/checked/x"));
    let second = net.node_conns[&up2];
    assert_ne!(first, second);
    net.send(up2, b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n");
    assert!(net.take_text(c).contains("HTTP/1.1 503 Busy"));
    assert_eq!(net.counters().bad_nodes, 1);
    for _ in 0..3 {
        let (up, _) = net.deliver(c, &get("/"));
        assert_eq!(net.node_conns[&up], first);
        net.send(up, &ok(""));
    }
    // It is forgiven when it restarts.
    let last = |a: SocketAddr| match a.ip() {
        IpAddr::V4(v4) => v4.octets()[3],
        IpAddr::V6(_) => unreachable!(),
    };
    let mut restarted = node(last(second), &[]);
    restarted.up_since = 77;
    let other = node(last(first), &[]);
    net.set_nodes(vec![other, restarted]);
    assert_eq!(net.counters().bad_nodes, 0);
}

#[test]
fn url_rewrite_changes_the_target_before_the_choice() {
    let mut s = settings();
    s.rewrites = vec![crate::http::Rewrite {
        pattern: regex::Regex::new("someCompany").unwrap(),
        replacement: "restcomm".into(),
    }];
    let mut net = Net::new(s, vec![node(1, &[])]);
    let c = net.client();
    let (_, got) = net.request_to_new_node(c, &get("/someCompany/x?a=someCompany"));
    assert!(
        got.starts_with("GET /restcomm/x?a=restcomm HTTP/1.1\r\n"),
        "{got}"
    );
}

#[test]
fn failed_connect_is_retried_once_on_another_node() {
    let mut net = Net::two();
    let c = net.client();
    net.send(c, &get("/"));
    let first = net.refuse();
    let (_, second, _) = *net.connects.back().unwrap();
    assert_ne!(first, second);
    net.refuse();
    let text = net.take_text(c);
    assert!(text.starts_with("HTTP/1.1 502 Bad Gateway\r\n"), "{text}");
    assert!(net.is_closed(c));
    assert_eq!(net.counters().retries, 1);
    assert_eq!(net.counters().upstream_failures, 2);
}

#[test]
fn sticky_request_whose_node_refuses_goes_elsewhere() {
    let mut net = Net::two();
    let c = net.client();
    net.send(
        c,
        b"GET / HTTP/1.1\r\nHost: lb\r\nCookie: JSESSIONID=s.node1\r\n\r\n",
    );
    assert_eq!(net.refuse(), http_addr(1));
    let up = net.accept();
    assert_eq!(net.node_conns[&up], http_addr(2));
    assert!(net.take_text(up).starts_with("GET / HTTP/1.1\r\n"));
}
