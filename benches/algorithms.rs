//! One criterion bench per balancing algorithm: choose the node for a new
//! key (the `Algorithm::choose` a client request without hint reaches),
//! over 8 and 32 nodes; for the table-backed algorithms the keys cycle over
//! 4096 Call-IDs, so after warm-up these are table hits plus the liveness
//! check. Also: extracting the affinity key from a parsed INVITE (Call-ID,
//! To user, To user with an exclusion pattern).
#![allow(missing_docs)] // criterion_group! generates undocumented public fns
#![allow(clippy::unwrap_used)] // a constant message that does not parse is a bug of the bench

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Instant;

use criterion::{criterion_group, Criterion};
use sip_balancer::balancer::algorithm::{Request, Setup};
use sip_balancer::balancer::catalog;
use sip_balancer::balancer::hash::key_hash;
use sip_balancer::balancer::key::AffinityKey;
use sip_balancer::config::{AlgorithmKind, Config};
use sip_balancer::registry::{Node, NodeId, NodeSet, NodeSource, NodeState};
use sip_balancer::sip::message::Message;

const KINDS: [AlgorithmKind; 7] = [
    AlgorithmKind::CallIdAffinity,
    AlgorithmKind::HeaderConsistentHash,
    AlgorithmKind::PureConsistentHash,
    AlgorithmKind::PersistentConsistentHash,
    AlgorithmKind::ClusterSubdomainAffinity,
    AlgorithmKind::UserBased,
    AlgorithmKind::ActiveStandby,
];

fn nodes(n: u32) -> NodeSet {
    let v = (0..n)
        .map(|i| {
            let ip = IpAddr::from([10, 0, (i >> 8) as u8, i as u8]);
            let mut node = Node::new(NodeId(i), ip, 5080, NodeSource::Heartbeat, NodeState::Up);
            node.up_since = u64::from(i);
            node
        })
        .collect();
    NodeSet::new(1, v, 0)
}

fn requests() -> Vec<Request> {
    (0..4096u64)
        .map(|i| Request {
            key: key_hash(format!("+1555{i:07}").as_bytes()),
            call_id: key_hash(format!("{i:x}-a84b4c76e66710@pc33.atlanta.com").as_bytes()),
            version: 0,
        })
        .collect()
}

fn choose(c: &mut Criterion) {
    let reqs = requests();
    let now = Instant::now();
    for kind in KINDS {
        let mut cfg = Config::embedded_default();
        cfg.algorithm.kind = kind.clone();
        let mut group = c.benchmark_group(format!("choose/{kind:?}"));
        for n in [8, 32] {
            let set = nodes(n);
            let mut algo = catalog::build(&Setup {
                config: &cfg.algorithm,
                shards: 1,
                now,
            });
            let mut i = 0usize;
            group.bench_function(format!("{n}_nodes"), |b| {
                b.iter(|| {
                    i = (i + 1) & 4095;
                    black_box(algo.choose(black_box(&reqs[i]), &set, now).map(|n| n.id))
                })
            });
        }
        group.finish();
    }
}

const INVITE: &[u8] = b"INVITE sip:+15551234@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: <sip:+15551234@example.com>\r\n\
From: \"Alice\" <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@10.0.0.1:5060>\r\n\
Content-Length: 0\r\n\r\n";

fn key(c: &mut Criterion) {
    let msg = Message::parse(INVITE).unwrap();
    let mut group = c.benchmark_group("affinity_key");
    for (name, key, pattern) in [
        ("call_id", "Call-ID", None),
        ("to_user", "To", None),
        ("to_user_excluded", "To", Some("^\\+1555")),
    ] {
        let mut cfg = Config::embedded_default().algorithm;
        cfg.sip_header_affinity_key = key.into();
        cfg.sip_header_affinity_exclusion_pattern = pattern.map(Into::into);
        let k = AffinityKey::from_config(&cfg);
        group.bench_function(name, |b| b.iter(|| black_box(k.hash(black_box(&msg)))));
    }
    group.finish();
}

criterion_group!(benches, choose, key);

fn main() {
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
