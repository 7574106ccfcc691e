//! Whole-proxy fuzz target: arbitrary datagrams on either leg, from a client
//! or from a node, handed off or not, must never panic `Proxy::handle`;
//! every transmit lies inside the output, and when the input was a SIP
//! message, everything the proxy sends is one too (allowing for this
//! parser's own header-count limit, which our pushed headers may cross).
//!
//! The first byte selects the situation: bit 0 the leg (internal when set),
//! bit 1 the sender (the live node instead of the client), bit 2 whether
//! the datagram was already handed off by another shard. The rest is the
//! datagram. Seeds: `fuzz/seeds/sip_proxy` (`fuzz/make_seeds.sh`).
#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use sip_balancer::config::Config;
use sip_balancer::registry::{Node, NodeId, NodeSet, NodeSource, NodeState};
use sip_balancer::sip::message::{Message, ParseErrorKind};
use sip_balancer::sip::proxy::{Datagram, LegId, Output, Proxy};

fn node(id: u32, port: u16, state: NodeState) -> Node {
    Node::new(
        NodeId(id),
        [127, 0, 0, 1].into(),
        port,
        NodeSource::Heartbeat,
        state,
    )
}

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut p = Proxy::new(&Config::embedded_default(), 0, 2, now);
    p.set_nodes(Arc::new(NodeSet::new(
        1,
        vec![node(1, 4060, NodeState::Up), node(2, 4061, NodeState::Down)],
        0,
    )));
    let mut out = Output::default();
    let (flags, bytes) = data.split_first().map_or((0, data), |(f, rest)| (*f, rest));
    let leg = if flags & 1 == 0 {
        LegId::External
    } else {
        LegId::Internal
    };
    let src: SocketAddr = if flags & 2 == 0 {
        SocketAddr::from(([127, 0, 0, 1], 5033))
    } else {
        SocketAddr::from(([127, 0, 0, 1], 4060))
    };
    let mut d = Datagram::udp(bytes, src, leg);
    d.handed_off = flags & 4 != 0;
    p.handle(d, now, &mut out);
    let parsed = Message::parse(bytes).is_ok();
    for t in &out.transmits {
        assert!(t.range.start <= t.range.end && t.range.end <= out.buf.len());
        if parsed && bytes.len() < 60_000 {
            let sent = out.buf.get(t.range.clone()).unwrap_or(&[]);
            // The header-count limit is this parser's own (MAX_HEADERS), not
            // SIP's: pushing our Vias may cross it and the message is still valid.
            if let Err(e) = Message::parse(sent).map_err(|e| e.kind) {
                if e == ParseErrorKind::TooManyHeaders {
                    continue;
                }
                panic!(
                    "sent a datagram that does not parse ({e:?}):\n{}",
                    String::from_utf8_lossy(sent)
                );
            }
        }
    }
});
