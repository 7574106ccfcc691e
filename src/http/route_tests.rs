use super::*;
use crate::registry::{NodeSource, NodeState};

fn node(i: u8, http: Option<&str>) -> Node {
    let mut n = Node::new(
        NodeId(u32::from(i)),
        std::net::IpAddr::from([10, 0, 0, i]),
        5060,
        NodeSource::Heartbeat,
        NodeState::Up,
    );
    if let Some(p) = http {
        n.properties.push(("httpPort".into(), p.into()));
    }
    n
}

#[test]
fn ports_come_from_properties_and_bad_ones_are_ignored() {
    let nodes = NodeSet::new(
        1,
        vec![
            node(1, Some("x")),
            node(2, Some("0")),
            node(3, Some(" 81 ")),
        ],
        0,
    );
    let mut r = Router::new(HttpAlgorithm::RoundRobin);
    r.set_nodes(&nodes);
    for _ in 0..3 {
        let c = r
            .choose(&nodes, &Hints::default(), PortKind::Http, None)
            .unwrap();
        assert_eq!(c.addr, "10.0.0.3:81".parse().unwrap());
    }
    assert_eq!(
        r.choose(&nodes, &Hints::default(), PortKind::Http, Some(NodeId(3))),
        None
    );
    assert_eq!(
        r.choose(&nodes, &Hints::default(), PortKind::Ssl, None),
        None
    );
}

#[test]
fn bad_set_is_per_restart() {
    let nodes = NodeSet::new(1, vec![node(1, Some("80")), node(2, Some("80"))], 0);
    let mut r = Router::new(HttpAlgorithm::RoundRobin);
    r.set_nodes(&nodes);
    assert!(r.mark_bad(&nodes, NodeId(1)));
    assert!(!r.mark_bad(&nodes, NodeId(1)));
    for _ in 0..3 {
        let c = r
            .choose(&nodes, &Hints::default(), PortKind::Http, None)
            .unwrap();
        assert_eq!(c.node, NodeId(2));
    }
    let mut back = node(1, Some("80"));
    back.up_since = 9;
    let nodes = NodeSet::new(2, vec![back, node(2, Some("80"))], 0);
    r.set_nodes(&nodes);
    assert_eq!(r.bad_count(), 0);
}
