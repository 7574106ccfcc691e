//! Parse + route + rewrite of whole messages through `Proxy::handle`, the
//! per-message work of one shard: an INVITE with SDP from a client, its
//! 200 OK from the node, and an in-dialog BYE carrying our Route hints.
//!
//! A counting global allocator reports heap allocations per forwarded
//! message in steady state (printed once before the timings).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sip_balancer::config::Config;
use sip_balancer::registry::{Node, NodeId, NodeSet, NodeSource, NodeState};
use sip_balancer::sip::proxy::{Datagram, LegId, Output, Proxy};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: defers to the system allocator; only counts calls.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const INVITE: &str = "INVITE sip:service@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-12345-1-0;rport\r\n\
From: sipp <sip:sipp@127.0.0.1:5061>;tag=12345SIPpTag001\r\n\
To: service <sip:service@127.0.0.1:5060>\r\n\
Call-ID: 1-12345@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: sip:sipp@127.0.0.1:5061\r\n\
Max-Forwards: 70\r\n\
Subject: Performance Test\r\n\
Content-Type: application/sdp\r\n\
Content-Length:   129\r\n\r\n\
v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

fn node(id: u32, port: u16) -> Node {
    let ip = [127, 0, 0, 1].into();
    Node::new(NodeId(id), ip, port, NodeSource::Static, NodeState::Up)
}

/// The embedded default plus the policies a NAT deployment turns on: the
/// public address patching, a routing rule (not matching the client, so the
/// patching stays on) and the Route host filter.
const POLICIES: &str = "cores: 1\nsip:\n  external: { host: 127.0.0.1, udpPort: 5060 }\n  \
    internal: { host: 127.0.0.1, udpPort: 5065 }\n  publicIp: 203.0.113.7\n  \
    matchingHostnameForRoute: lb.example.com\n  \
    routingRulesIpv4: [ { ipPattern: '10\\..*', patch: false } ]\nnodes: []\n";

fn setup(cfg: &Config) -> (Proxy, Output, Instant) {
    let now = Instant::now();
    let mut p = Proxy::new(cfg, 0, 1, now);
    p.set_nodes(Arc::new(NodeSet::new(
        1,
        vec![node(1, 5070), node(2, 5071)],
        0,
    )));
    (p, Output::default(), now)
}

fn client() -> SocketAddr {
    "127.0.0.1:5061".parse().unwrap()
}

/// The node's 200 OK for the forwarded INVITE (Vias copied from it).
fn ok_for(forwarded: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(forwarded);
    let mut resp = String::from("SIP/2.0 200 OK\r\n");
    for l in text.split("\r\n").filter(|l| {
        ["Via:", "From:", "To:", "Call-ID:", "CSeq:", "Record-Route:"]
            .iter()
            .any(|p| l.starts_with(p))
    }) {
        resp.push_str(l);
        if l.starts_with("To:") {
            resp.push_str(";tag=node1");
        }
        resp.push_str("\r\n");
    }
    resp.push_str("Contact: <sip:127.0.0.1:5070;transport=UDP>\r\nContent-Length: 0\r\n\r\n");
    resp.into_bytes()
}

fn bye() -> Vec<u8> {
    INVITE
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .replace("INVITE sip:service@127.0.0.1:5060", "BYE sip:127.0.0.1:5070;transport=UDP")
        .replace("CSeq: 1 INVITE", "CSeq: 2 BYE\r\nRoute: <sip:127.0.0.1:5060;transport=udp;lr;node_host=127.0.0.1;node_port=5070;version=0>,<sip:127.0.0.1:5065;transport=udp;lr;node_host=127.0.0.1;node_port=5070;version=0>")
        .replace("To: service <sip:service@127.0.0.1:5060>", "To: service <sip:service@127.0.0.1:5060>;tag=node1")
        .replace("Content-Type: application/sdp\r\nContent-Length:   129", "Content-Length: 0")
        .into_bytes()
        .into_iter()
        .chain(b"\r\n\r\n".iter().copied())
        .collect()
}

/// The three messages of a call as the proxy sees them, each with its
/// source and leg: the client's INVITE, the node's 200 OK for the INVITE as
/// forwarded, and the client's in-dialog BYE.
struct Call {
    invite: Vec<u8>,
    ok: Vec<u8>,
    bye: Vec<u8>,
}

impl Call {
    fn new(p: &mut Proxy, out: &mut Output, now: Instant) -> Call {
        let invite = INVITE.as_bytes().to_vec();
        p.handle(dgram(&invite, client(), LegId::External), now, out);
        let ok = ok_for(&out.buf[out.transmits[1].range.clone()]);
        Call {
            invite,
            ok,
            bye: bye(),
        }
    }

    fn messages(&self) -> [(&'static str, Datagram<'_>); 3] {
        let node = "127.0.0.1:5070".parse().unwrap();
        [
            (
                "invite_from_client",
                dgram(&self.invite, client(), LegId::External),
            ),
            ("200_ok_from_node", dgram(&self.ok, node, LegId::Internal)),
            ("bye_in_dialog", dgram(&self.bye, client(), LegId::External)),
        ]
    }
}

fn dgram(bytes: &[u8], src: SocketAddr, leg: LegId) -> Datagram<'_> {
    Datagram {
        bytes,
        src,
        leg,
        handed_off: false,
        transport: sip_balancer::sip::transport::Transport::Udp,
        conn: None,
    }
}

fn report_allocations(p: &mut Proxy, out: &mut Output, now: Instant, call: &Call) {
    let msgs = call.messages();
    let mut run = |rounds: u32| {
        for _ in 0..rounds {
            for (_, d) in msgs {
                p.handle(d, now, out);
            }
        }
    };
    run(100);
    let before = ALLOCS.load(Ordering::Relaxed);
    run(10_000);
    let per_msg = (ALLOCS.load(Ordering::Relaxed) - before) as f64 / 30_000.0;
    println!("heap allocations per forwarded message (steady state): {per_msg:.3}");
}

fn bench(c: &mut Criterion) {
    let policies = sip_balancer::config::from_yaml_str(POLICIES, "policies.yaml").unwrap();
    for (group, cfg) in [
        ("proxy", Config::embedded_default()),
        ("proxy_nat_rules", policies),
    ] {
        let (mut p, mut out, now) = setup(&cfg);
        let call = Call::new(&mut p, &mut out, now);
        report_allocations(&mut p, &mut out, now, &call);
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(1));
        for (name, d) in call.messages() {
            g.bench_function(name, |b| b.iter(|| p.handle(black_box(d), now, &mut out)));
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
