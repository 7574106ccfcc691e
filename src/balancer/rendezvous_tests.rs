use std::net::IpAddr;

use super::*;
use crate::balancer::hash::key_hash;
use crate::registry::{NodeId, NodeSource, NodeState};

pub(crate) fn node(i: u32, version: u32) -> Node {
    let ip = IpAddr::from([10, 0, 0, u8::try_from(i).unwrap()]);
    let mut n = Node::new(NodeId(i), ip, 5080, NodeSource::Heartbeat, NodeState::Up);
    n.version = version;
    n
}

fn set(nodes: Vec<Node>) -> NodeSet {
    NodeSet::new(1, nodes, 0)
}

fn order(c: Candidates<'_>) -> Vec<u32> {
    c.map(|n| n.id.0).collect()
}

#[test]
fn order_is_the_score_ranking() {
    let s = set((1..=6).map(|i| node(i, 0)).collect());
    let key = key_hash(b"call-1");
    let mut expected: Vec<&Node> = s.nodes().iter().collect();
    expected.sort_by_key(|n| std::cmp::Reverse((score(key, n.hash), n.hash)));
    let expected: Vec<u32> = expected.iter().map(|n| n.id.0).collect();
    assert_eq!(order(Candidates::rendezvous(&s, 0, key)), expected);
    assert_eq!(
        pick(key, s.nodes()).map(|n| n.id.0),
        Some(expected[0]),
        "pick agrees with the first candidate"
    );
}

#[test]
fn only_the_version_and_nodes_taking_calls() {
    let mut nodes: Vec<Node> = (1..=4).map(|i| node(i, i % 2)).collect();
    nodes[2].state = NodeState::Draining; // id 3, version 1
    nodes.push(node(5, 1));
    nodes[4].bad = true;
    let s = set(nodes);
    let mut v1 = order(Candidates::rendezvous(&s, 1, 7));
    v1.sort_unstable();
    assert_eq!(v1, [1]);
    let mut v0 = order(Candidates::rendezvous(&s, 0, 7));
    v0.sort_unstable();
    assert_eq!(v0, [2, 4]);
    assert_eq!(s.new_call_version(), 1);
}

#[test]
fn ramping_nodes_come_after_admitting_ones() {
    let mut nodes: Vec<Node> = (1..=3).map(|i| node(i, 0)).collect();
    nodes[0].weight = 1;
    let s = set(nodes);
    // A key node 1 wins but does not admit.
    let key = (0..10_000u64)
        .map(|i| key_hash(&i.to_le_bytes()))
        .find(|&k| pick(k, s.nodes()).unwrap().id.0 == 1 && !admits(k, 1))
        .unwrap();
    let got = order(Candidates::rendezvous(&s, 0, key));
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[2], 1,
        "the non-admitting node is the last resort: {got:?}"
    );
    // Alone, a ramping node still gets the call.
    let lone = set(vec![{
        let mut n = node(1, 0);
        n.weight = 1;
        n
    }]);
    assert_eq!(order(Candidates::rendezvous(&lone, 0, key)), [1]);
}

#[test]
fn admission_is_monotone_in_the_weight() {
    for i in 0..2000u64 {
        let k = key_hash(&i.to_le_bytes());
        let mut admitted = false;
        for w in 1..=100u8 {
            let now = admits(k, w);
            assert!(!admitted || now, "key {i} dropped at weight {w}");
            admitted = now;
        }
        assert!(admitted);
    }
}

#[test]
fn longest_up_first_and_partner_filter() {
    let mut nodes: Vec<Node> = (1..=3).map(|i| node(i, 0)).collect();
    nodes[0].up_since = 9;
    nodes[1].up_since = 2;
    nodes[2].up_since = 5;
    let s = set(nodes);
    assert_eq!(order(Candidates::new(&s, 0, Order::LongestUp)), [2, 3, 1]);
    let group = [IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 3])];
    let mut partners: Vec<u32> = Candidates::rendezvous(&s, 0, 1)
        .filter(|n| group.contains(&n.ip))
        .map(|n| n.id.0)
        .collect();
    partners.sort_unstable();
    assert_eq!(partners, [1, 3]);
    assert_eq!(order(Candidates::none(&s)), Vec::<u32>::new());
}
