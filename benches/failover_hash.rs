//! Rendezvous (highest-random-weight) choice of a node for a Call-ID hash
//! over 2, 8 and 32 candidates: the cost of a new call's first pick and of a
//! failover re-pick.
#![allow(missing_docs)] // criterion_group! generates undocumented public fns

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{criterion_group, Criterion};
use sip_balancer::balancer::{hash::key_hash, rendezvous};
use sip_balancer::config::Ports;
use sip_balancer::registry::node::node_hash;
use sip_balancer::registry::{Node, NodeId, NodeSource, NodeState};

fn nodes(n: u32) -> Vec<Node> {
    (0..n)
        .map(|i| {
            let ip = IpAddr::from([10, 0, (i >> 8) as u8, i as u8]);
            Node {
                id: NodeId(i),
                hostname: format!("node{i}"),
                ip,
                ports: Ports {
                    udp: Some(5080),
                    ..Ports::default()
                },
                version: 0,
                jvm_route: None,
                properties: Vec::new(),
                state: NodeState::Up,
                source: NodeSource::Heartbeat,
                hash: node_hash(ip, 5080),
                weight: 100,
                bad: false,
                up_since: 0,
            }
        })
        .collect()
}

fn pick(c: &mut Criterion) {
    let mut group = c.benchmark_group("rendezvous_pick");
    for n in [2, 8, 32] {
        let set = nodes(n);
        let mut key = key_hash(b"a84b4c76e66710@pc33.atlanta.com");
        group.bench_function(format!("{n}_nodes"), |b| {
            b.iter(|| {
                key = key.wrapping_add(0x9e37_79b9_7f4a_7c15);
                black_box(rendezvous::pick(
                    black_box(key),
                    set.iter().filter(|n| n.takes_new_calls()),
                ))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, pick);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
