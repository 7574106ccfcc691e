//! One keep-alive HTTP exchange through `HttpBalancer` on a pooled node
//! connection: a browser-like GET (cookie with a jvmRoute, nine fields) in,
//! forwarded with X-Forwarded-*; a 200 with a 1 KiB body back. The
//! per-request CPU of the HTTP balancer core, without sockets or TLS.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sip_balancer::http::{Action, Actions, HttpBalancer, Settings};
use sip_balancer::registry::{Node, NodeId, NodeSet, NodeSource, NodeState};

const REQ: &[u8] = b"GET /restcomm/2012-04-24/Accounts/AC1/Calls.json?Page=0 HTTP/1.1\r\n\
Host: lb.example.com:2080\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate\r\n\
Connection: keep-alive\r\n\
Cookie: JSESSIONID=9A1B2C3D4E5F60718293A4B5C6D7E8F9.node1; theme=dark\r\n\
Upgrade-Insecure-Requests: 1\r\n\r\n";

fn response() -> Vec<u8> {
    let mut r = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1024\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nServer: Apache-Coyote/1.1\r\n\r\n".to_vec();
    r.extend_from_slice(&[b'x'; 1024]);
    r
}

fn node(i: u8) -> Node {
    let mut n = Node::new(
        NodeId(u32::from(i)),
        IpAddr::from([127, 0, 0, i]),
        5060,
        NodeSource::Heartbeat,
        NodeState::Up,
    );
    n.jvm_route = Some(format!("node{i}"));
    n.properties.push(("httpPort".into(), "8080".into()));
    n
}

fn bench(c: &mut Criterion) {
    let now = Instant::now();
    let mut lb = HttpBalancer::new(Settings::default(), now);
    lb.set_nodes(Arc::new(NodeSet::new(1, vec![node(1), node(2)], 0)));
    let mut out = Actions::default();
    let peer: SocketAddr = "192.0.2.7:40000".parse().unwrap();
    let local: SocketAddr = "10.0.0.1:2080".parse().unwrap();
    lb.on_client_accepted(1, peer, local, false, now, &mut out);
    lb.on_data(1, REQ, now, &mut out);
    let token = match out.list.last() {
        Some(Action::Connect { token, .. }) => *token,
        other => panic!("{other:?}"),
    };
    out.clear();
    lb.on_connected(token, 2, now, &mut out);
    out.clear();
    let resp = response();
    lb.on_data(2, &resp, now, &mut out);
    out.clear();
    let mut g = c.benchmark_group("http");
    g.throughput(Throughput::Elements(1));
    g.bench_function("keep_alive_exchange", |b| {
        b.iter(|| {
            lb.on_data(1, black_box(REQ), now, &mut out);
            out.clear();
            lb.on_data(2, black_box(&resp), now, &mut out);
            out.clear();
        })
    });
    g.finish();
    assert_eq!(lb.counters().upstream_connects, 1);
}

criterion_group!(benches, bench);
criterion_main!(benches);
