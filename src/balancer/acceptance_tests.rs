//! Acceptance tests of issue 8 for the balancing algorithms, sans-IO:
//! distribution, disruption, dead-node spread and agreement between
//! independently built instances (other shards, other processes).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::Instant;

use super::algorithm::{Algorithm, Request, Setup};
use super::catalog;
use super::hash::key_hash;
use crate::config::{AlgorithmKind, Config};
use crate::registry::{Event, Node, NodeId, NodeSet, NodeSource, NodeState, Registry};

const KEYS: u64 = 100_000;

/// The algorithms that spread new calls over the nodes.
const SPREADING: [AlgorithmKind; 6] = [
    AlgorithmKind::CallIdAffinity,
    AlgorithmKind::HeaderConsistentHash,
    AlgorithmKind::PureConsistentHash,
    AlgorithmKind::PersistentConsistentHash,
    AlgorithmKind::ClusterSubdomainAffinity,
    AlgorithmKind::UserBased,
];

/// The stateless consistent hashes.
const CONSISTENT: [AlgorithmKind; 3] = [
    AlgorithmKind::HeaderConsistentHash,
    AlgorithmKind::PureConsistentHash,
    AlgorithmKind::PersistentConsistentHash,
];

fn addr(i: u32) -> SocketAddr {
    SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 5080))
}

fn node(id: u32, i: u32, state: NodeState) -> Node {
    let a = addr(i);
    Node::new(NodeId(id), a.ip(), a.port(), NodeSource::Heartbeat, state)
}

/// Nodes `1..=n` (ids = index), those in `dead` down.
fn nodes(n: u32, dead: &[u32]) -> NodeSet {
    let v = (1..=n)
        .map(|i| {
            let state = if dead.contains(&i) {
                NodeState::Down
            } else {
                NodeState::Up
            };
            node(i, i, state)
        })
        .collect();
    NodeSet::new(1, v, 0)
}

fn config(kind: &AlgorithmKind) -> Config {
    let mut cfg = Config::embedded_default();
    cfg.algorithm.kind = kind.clone();
    cfg.algorithm.call_id_affinity_max_entries = 4 * KEYS as usize;
    cfg
}

fn build(cfg: &Config, now: Instant) -> Box<dyn Algorithm> {
    catalog::build(&Setup {
        config: &cfg.algorithm,
        shards: 1,
        now,
    })
}

/// The request for key `i`: a Call-ID, and (for header-keyed algorithms)
/// a distinct user key. Hashed once for all tests.
fn request(i: u64) -> Request {
    static REQUESTS: OnceLock<Vec<Request>> = OnceLock::new();
    let all = REQUESTS.get_or_init(|| {
        (0..KEYS)
            .map(|i| Request {
                key: key_hash(format!("+1555{i:07}").as_bytes()),
                call_id: key_hash(format!("{i:x}-a84b4c76e66710@pc33.atlanta.example").as_bytes()),
                version: 0,
            })
            .collect()
    });
    all[i as usize]
}

fn ip_of(n: &Node) -> IpAddr {
    n.ip
}

/// Which node (by address) each key goes to.
fn assign(algo: &mut dyn Algorithm, set: &NodeSet, now: Instant) -> Vec<IpAddr> {
    (0..KEYS)
        .map(|i| algo.choose(&request(i), set, now).map(ip_of).unwrap())
        .collect()
}

fn counts(assigned: &[IpAddr]) -> HashMap<IpAddr, u64> {
    let mut c = HashMap::new();
    for ip in assigned {
        *c.entry(*ip).or_insert(0) += 1;
    }
    c
}

#[test]
fn distribution_within_five_percent_of_the_fair_share() {
    let now = crate::test_epoch();
    for kind in &SPREADING {
        let cfg = config(kind);
        for n in 2..=10u32 {
            let set = nodes(n, &[]);
            let mut algo = build(&cfg, now);
            let c = counts(&assign(algo.as_mut(), &set, now));
            assert_eq!(c.len(), n as usize, "{kind:?} n={n}: every node gets keys");
            let fair = KEYS as f64 / f64::from(n);
            for (ip, &k) in &c {
                let off = (k as f64 - fair).abs() / fair;
                assert!(
                    off <= 0.05,
                    "{kind:?} n={n}: {ip} has {k}, fair {fair:.0} ({:.1} %)",
                    off * 100.0
                );
            }
        }
    }
}

fn moved(a: &[IpAddr], b: &[IpAddr]) -> f64 {
    let m = a.iter().zip(b).filter(|(x, y)| x != y).count();
    m as f64 / a.len() as f64
}

#[test]
fn adding_or_removing_a_node_moves_at_most_one_nth_plus_two_percent() {
    let now = crate::test_epoch();
    for kind in &CONSISTENT {
        let cfg = config(kind);
        for n in 2..=10u32 {
            let before = assign(build(&cfg, now).as_mut(), &nodes(n, &[]), now);
            // Remove node n (gone from the set) and add node n+1.
            let removed = assign(build(&cfg, now).as_mut(), &nodes(n - 1, &[]), now);
            let added = assign(build(&cfg, now).as_mut(), &nodes(n + 1, &[]), now);
            let bound = |m: u32| 1.0 / f64::from(m) + 0.02;
            let (r, a) = (moved(&before, &removed), moved(&before, &added));
            assert!(
                r <= bound(n),
                "{kind:?} n={n}: removing moved {:.2} %",
                r * 100.0
            );
            assert!(
                a <= bound(n + 1),
                "{kind:?} n={n}: adding moved {:.2} %",
                a * 100.0
            );
            // Only the removed node's keys move, only to the added node.
            let gone = addr(n).ip();
            assert!(before
                .iter()
                .zip(&removed)
                .all(|(x, y)| x == y || *x == gone));
            let new = addr(n + 1).ip();
            assert!(before.iter().zip(&added).all(|(x, y)| x == y || *y == new));
        }
    }
}

/// With node `dead` of `n` down, check that its keys spread over every
/// survivor and that no survivor more than doubles its share.
fn assert_spread(kind: &AlgorithmKind, n: u32, before: &[IpAddr], after: &[IpAddr]) {
    let dead = addr(n).ip();
    let old = counts(before);
    let new = counts(after);
    assert!(!new.contains_key(&dead), "{kind:?}: the dead node got keys");
    let inherited = counts(
        &before
            .iter()
            .zip(after)
            .filter(|(x, _)| **x == dead)
            .map(|(_, y)| *y)
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        inherited.len(),
        n as usize - 1,
        "{kind:?} n={n}: every survivor inherits"
    );
    for (ip, &k) in &new {
        let was = old.get(ip).copied().unwrap_or(0);
        assert!(k <= 2 * was, "{kind:?} n={n}: {ip} went from {was} to {k}");
    }
}

#[test]
fn a_dead_nodes_share_spreads_over_all_survivors() {
    let now = crate::test_epoch();
    for kind in &SPREADING {
        let cfg = config(kind);
        for n in [3, 5, 8, 10] {
            // Stateful algorithms: the same instance, its table full of the
            // dead node's keys, fails them over; stateless ones just rank.
            let mut algo = build(&cfg, now);
            let before = assign(algo.as_mut(), &nodes(n, &[]), now);
            let after = assign(algo.as_mut(), &nodes(n, &[n]), now);
            assert_spread(kind, n, &before, &after);
            // The response path (any shard, no table) agrees with the request path.
            let set = nodes(n, &[n]);
            let dead = set.get(NodeId(n)).unwrap().clone();
            for i in (0..KEYS).step_by(97) {
                if before[i as usize] == dead.ip {
                    let fo = algo.failover(&request(i), &dead, &set).map(ip_of);
                    assert_eq!(fo, Some(after[i as usize]), "{kind:?} n={n} key {i}");
                }
            }
        }
    }
}

#[test]
fn group_failover_sends_a_dead_nodes_calls_to_one_survivor() {
    let now = crate::test_epoch();
    for kind in [AlgorithmKind::CallIdAffinity, AlgorithmKind::UserBased] {
        let mut cfg = config(&kind);
        cfg.algorithm.call_id_affinity_group_failover = true;
        let n = 6;
        let mut algo = build(&cfg, now);
        let before = assign(algo.as_mut(), &nodes(n, &[]), now);
        let after = assign(algo.as_mut(), &nodes(n, &[n]), now);
        let dead = addr(n).ip();
        let targets: Vec<IpAddr> = before
            .iter()
            .zip(&after)
            .filter(|(x, _)| **x == dead)
            .map(|(_, y)| *y)
            .collect();
        assert!(!targets.is_empty());
        assert!(targets.iter().all(|t| *t == targets[0]), "{kind:?}");
        // The same survivor in another instance (shard or process).
        let other = build(&cfg, now);
        let set = nodes(n, &[n]);
        let dead_node = set.get(NodeId(n)).unwrap();
        assert_eq!(
            other.failover(&request(1), dead_node, &set).map(ip_of),
            Some(targets[0])
        );
    }
}

#[test]
fn cluster_subdomain_fails_over_to_partners_first() {
    let now = crate::test_epoch();
    let mut cfg = config(&AlgorithmKind::ClusterSubdomainAffinity);
    // Groups (1, 2, 3) and (4, 5, 6).
    cfg.algorithm.subcluster_map = vec![
        (1..=3).map(|i| addr(i).ip()).collect(),
        (4..=6).map(|i| addr(i).ip()).collect(),
    ];
    let mut algo = build(&cfg, now);
    let before = assign(algo.as_mut(), &nodes(6, &[]), now);
    let after = assign(algo.as_mut(), &nodes(6, &[1]), now);
    let dead = addr(1).ip();
    let inherited = counts(
        &before
            .iter()
            .zip(&after)
            .filter(|(x, _)| **x == dead)
            .map(|(_, y)| *y)
            .collect::<Vec<_>>(),
    );
    let mut got: Vec<IpAddr> = inherited.keys().copied().collect();
    got.sort();
    assert_eq!(
        got,
        [addr(2).ip(), addr(3).ip()],
        "only the partners, both of them"
    );
    // Both partners dead too: any survivor.
    let after = assign(algo.as_mut(), &nodes(6, &[1, 2, 3]), now);
    assert!(after.iter().all(|ip| !(1..=3).any(|i| addr(i).ip() == *ip)));
}

/// A node set as another balancer process would hold it: the same nodes
/// heard of in another order (so other `NodeId`s), via a real registry.
fn registry_set(order: &[u32], dead: &[u32]) -> NodeSet {
    let cfg = Config::embedded_default();
    let t0 = crate::test_epoch();
    let mut r = Registry::new(&cfg.registry, &cfg.sip, t0);
    for &i in order {
        let a = addr(i);
        r.handle_event(
            Event::Heartbeat {
                src: a,
                properties: vec![("ip".into(), a.ip().to_string())],
            },
            t0,
        );
    }
    for &i in dead {
        let a = addr(i);
        r.handle_event(
            Event::Heartbeat {
                src: a,
                properties: vec![("GRACEFUL_SHUTDOWN".into(), "true".into())],
            },
            t0,
        );
    }
    r.snapshot()
}

#[test]
fn two_processes_and_two_shards_agree_on_choices_and_failover() {
    let now = crate::test_epoch();
    let forward: Vec<u32> = (1..=8).collect();
    let backward: Vec<u32> = (1..=8).rev().collect();
    let a = registry_set(&forward, &[]);
    let b = registry_set(&backward, &[]);
    assert_ne!(
        a.nodes()[0].ip,
        b.nodes()[0].ip,
        "the two processes number the nodes differently"
    );
    // Node 3 drains in both (no new calls: failover of new calls).
    let a_down = registry_set(&forward, &[3]);
    let b_down = registry_set(&backward, &[3]);
    for kind in &SPREADING {
        let cfg = config(kind);
        let (mut pa, mut pb) = (build(&cfg, now), build(&cfg, now));
        for i in 0..10_000u64 {
            let req = request(i);
            let x = pa.choose(&req, &a, now).map(ip_of);
            let y = pb.choose(&req, &b, now).map(ip_of);
            assert_eq!(x, y, "{kind:?} key {i}");
            let x = pa.candidates(&req, &a_down).next().map(ip_of);
            let y = pb.candidates(&req, &b_down).next().map(ip_of);
            assert_eq!(x, y, "{kind:?} key {i}: failover candidate");
        }
        // Response-path failover for a dead node: identical across
        // processes and across shards (fresh instances, no table).
        let dead_a = a_down
            .nodes()
            .iter()
            .find(|n| n.ip == addr(3).ip())
            .unwrap();
        let dead_b = b_down
            .nodes()
            .iter()
            .find(|n| n.ip == addr(3).ip())
            .unwrap();
        let shard2 = build(&cfg, now);
        for i in 0..10_000u64 {
            let req = request(i);
            let x = pa.failover(&req, dead_a, &a_down).map(ip_of);
            let y = pb.failover(&req, dead_b, &b_down).map(ip_of);
            let z = shard2.failover(&req, dead_a, &a_down).map(ip_of);
            assert_eq!((x, x), (y, z), "{kind:?} key {i}");
        }
    }
}

#[test]
fn active_standby_sends_everything_to_the_longest_up_node() {
    let now = crate::test_epoch();
    let cfg = config(&AlgorithmKind::ActiveStandby);
    let set = registry_set(&[4, 2, 7], &[]);
    let mut algo = build(&cfg, now);
    let all = assign(algo.as_mut(), &set, now);
    assert!(all.iter().all(|ip| *ip == addr(4).ip()));
    // The active node drains: the next longest up takes over, in every process.
    let drained = registry_set(&[4, 2, 7], &[4]);
    let x = algo.choose(&request(1), &drained, now).map(ip_of);
    assert_eq!(x, Some(addr(2).ip()));
}
