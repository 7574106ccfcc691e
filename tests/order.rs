//! Two shards: messages of one Call-ID sent from several source ports
//! (SO_REUSEPORT spreads the 4-tuples over shards) all reach one node, in
//! the order sent (DESIGN invariants 1 and 7).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;

const CALL_IDS: usize = 50;
const PER_CALL: u32 = 10;
const SOCKETS: usize = 4;

#[test]
fn one_call_id_from_many_ports_reaches_one_node_in_order() {
    let _heavy = HeavyGuard::take();
    let mut cfg = LbConfig::two_legs();
    cfg.cores = 2;
    let rig = Rig::start(cfg, 2);
    let senders: Vec<UdpPeer> = (0..SOCKETS).map(|_| UdpPeer::new()).collect();
    // (node, cseq) per Call-ID, in arrival order.
    let mut seen: BTreeMap<String, Vec<(usize, u32)>> = BTreeMap::new();
    let mut k = 0usize;
    for seq in 1..=PER_CALL {
        for c in 0..CALL_IDS {
            let s = &senders[k % SOCKETS];
            k += 1;
            let cid = format!("order-{c}@c");
            let mut r = Req::new(
                "MESSAGE",
                &rig.lb_uri("bob"),
                s.addr,
                &cid,
                &format!("z9hG4bKo{c}x{seq}"),
            );
            r.cseq = seq;
            s.send(&r.body("n").to_bytes(), rig.lb.external);
            // Pace: wait until this one is delivered (or 200 ms), draining others.
            let deadline = Instant::now() + Duration::from_millis(200);
            while Instant::now() < deadline {
                let Some((n, m, _)) = rig.recv_any(Duration::from_millis(20)) else {
                    continue;
                };
                let got = m.call_id().unwrap_or_default();
                let cs = m.cseq_num().unwrap_or(0);
                seen.entry(got.clone()).or_default().push((n, cs));
                if got == cid && cs == seq {
                    break;
                }
            }
        }
    }
    while let Some((n, m, _)) = rig.recv_any(Duration::from_millis(300)) {
        seen.entry(m.call_id().unwrap_or_default())
            .or_default()
            .push((n, m.cseq_num().unwrap_or(0)));
    }
    assert_eq!(seen.len(), CALL_IDS, "every Call-ID arrived");
    let mut per_node = [0usize; 2];
    for (cid, msgs) in &seen {
        let nodes: Vec<usize> = msgs.iter().map(|m| m.0).collect();
        assert!(
            nodes.iter().all(|n| *n == nodes[0]),
            "{cid} split over nodes: {nodes:?}"
        );
        let cseqs: Vec<u32> = msgs.iter().map(|m| m.1).collect();
        assert_eq!(
            cseqs,
            (1..=PER_CALL).collect::<Vec<_>>(),
            "{cid} order/loss"
        );
        per_node[nodes[0]] += 1;
    }
    assert!(
        per_node.iter().all(|n| *n > 0),
        "both nodes used: {per_node:?}"
    );
    rig.finish();
}
