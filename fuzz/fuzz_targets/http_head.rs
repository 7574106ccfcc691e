//! HTTP heads, chunked framing and the whole HTTP balancer over arbitrary
//! bytes: nothing panics, every span of a parsed head lies inside the
//! buffer, chunked framing finds the same end whatever the split, and every
//! `Send` the balancer asks for lies inside its output buffer.
//!
//! Input: one byte choosing where the rest splits into client bytes and
//! node bytes (the client's also cut in two at the same ratio), then the
//! bytes. Seeds: `fuzz/seeds/http_head` (`fuzz/make_seeds.sh`).
#![no_main]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sip_balancer::http::chunked::Chunked;
use sip_balancer::http::head::{Head, Span};
use sip_balancer::http::{Action, Actions, HttpBalancer, Settings};
use sip_balancer::registry::{Node, NodeId, NodeSet, NodeSource, NodeState};

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(split) * rest.len() / 256;
    let (client, node) = rest.split_at(at);
    heads(client);
    heads(node);
    chunked(client, split);
    balancer(client, node, split);
});

fn inside(s: Span, len: usize) {
    assert!(s.start <= s.end && s.end as usize <= len, "{s:?} outside {len}");
}

fn check(h: &Head, len: usize) {
    assert!(h.len <= len);
    for s in [h.method, h.target, h.status_line] {
        inside(s, len);
    }
    for f in &h.fields {
        inside(f.name, len);
        inside(f.value, len);
    }
}

fn heads(buf: &[u8]) {
    let mut h = Head::default();
    if h.parse_request(buf) == Ok(true) {
        check(&h, buf.len());
    }
    if h.parse_response(buf) == Ok(true) {
        check(&h, buf.len());
    }
}

fn chunked(buf: &[u8], split: u8) {
    let whole = Chunked::new().advance(buf);
    let cut = usize::from(split).min(buf.len());
    let mut c = Chunked::new();
    let parts = c.advance(&buf[..cut]).and_then(|(a, done)| {
        if done {
            return Ok((a, true));
        }
        c.advance(&buf[cut..]).map(|(b, done)| (a + b, done))
    });
    match (whole, parts) {
        (Ok(w), Ok(p)) => assert_eq!(w, p),
        (Err(_), Err(_)) => {}
        (w, p) => panic!("whole {w:?} split {p:?}"),
    }
}

fn balancer(client: &[u8], node_bytes: &[u8], split: u8) {
    let now = Instant::now();
    let mut lb = HttpBalancer::new(Settings::default(), now);
    let mut n = Node::new(
        NodeId(1),
        IpAddr::from([127, 0, 0, 1]),
        5060,
        NodeSource::Heartbeat,
        NodeState::Up,
    );
    n.properties.push(("httpPort".into(), "8080".into()));
    n.jvm_route = Some("n1".into());
    lb.set_nodes(Arc::new(NodeSet::new(1, vec![n], 0)));
    let mut out = Actions::default();
    let peer = SocketAddr::from(([192, 0, 2, 1], 4000));
    let local = SocketAddr::from(([10, 0, 0, 1], 80));
    lb.on_client_accepted(1, peer, local, split & 1 == 1, now, &mut out);
    let cut = usize::from(split) * client.len() / 256;
    let mut next_conn = 2;
    for (conn, part) in [(1, &client[..cut]), (1, &client[cut..]), (2, node_bytes)] {
        lb.on_data(conn, part, now, &mut out);
        for a in run(&mut out) {
            if let Action::Connect { token, .. } = a {
                lb.on_connected(token, next_conn, now, &mut out);
                next_conn += 1;
            }
        }
    }
    let later = now + Duration::from_secs(3600);
    while lb.poll_timeout().is_some_and(|t| t <= later) {
        lb.handle_timeout(later, &mut out);
        run(&mut out);
    }
    lb.on_closed(2, later, &mut out);
    lb.on_closed(1, later, &mut out);
    run(&mut out);
}

fn run(out: &mut Actions) -> Vec<Action> {
    for a in &out.list {
        if let Action::Send { range, .. } = a {
            assert!(range.start < range.end && range.end <= out.buf.len());
        }
    }
    let list = std::mem::take(&mut out.list);
    out.clear();
    list
}
