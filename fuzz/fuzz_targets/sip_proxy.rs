//! Whole-proxy fuzz target: arbitrary datagrams on either leg must never
//! panic `Proxy::handle`, and every transmit must lie inside the output.
#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use sip_balancer::config::Config;
use sip_balancer::registry::{Node, NodeId, NodeSet, NodeSource, NodeState};
use sip_balancer::sip::proxy::{Datagram, LegId, Output, Proxy};

fn node(id: u32, port: u16, state: NodeState) -> Node {
    Node::new(NodeId(id), [127, 0, 0, 1].into(), port, NodeSource::Heartbeat, state)
}

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut p = Proxy::new(&Config::embedded_default(), 0, 2, now);
    p.set_nodes(Arc::new(NodeSet::new(1, vec![node(1, 4060, NodeState::Up), node(2, 4061, NodeState::Down)], 0)));
    let mut out = Output::default();
    let src: SocketAddr = "127.0.0.1:5033".parse().unwrap_or_else(|_| unreachable!());
    let (leg, bytes) = match data.split_first() {
        Some((b, rest)) if b % 2 == 0 => (LegId::External, rest),
        Some((_, rest)) => (LegId::Internal, rest),
        None => (LegId::External, data),
    };
    p.handle(Datagram { bytes, src, leg, handed_off: data.len() % 2 == 0, transport: sip_balancer::sip::transport::Transport::Udp, conn: None }, now, &mut out);
    for t in &out.transmits {
        assert!(t.range.start <= t.range.end && t.range.end <= out.buf.len());
    }
});
