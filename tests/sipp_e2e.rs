//! End to end with SIPp: a SIPp UAC calls through the balancer to two SIPp
//! UAS nodes (one announced by heartbeats, one static and probed), then
//! failover when a node dies. The SIPp tests take the heavy-test slot so
//! they never run beside each other.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;

const CALLS: u32 = 2000;
const RATE: u32 = 200;

/// Balancer with node A (SIPp UAS + Rust heartbeats) and node B (SIPp UAS,
/// static, probed).
struct TwoUas {
    lb: Balancer,
    a: Sipp,
    a_hb: Option<Heartbeater>,
    b: Sipp,
    /// Load tests of this binary run one at a time.
    _heavy: HeavyGuard,
}

fn two_uas(node_timeout_ms: u64) -> TwoUas {
    assert!(
        common::sipp::sipp_available(),
        "sipp not installed (run .ci/run)"
    );
    let heavy = HeavyGuard::take();
    let (pa, pb) = (free_port(), free_port());
    let mut cfg = LbConfig::two_legs().with_static_node("nodeB", pb);
    cfg.node_timeout_ms = node_timeout_ms;
    let a = Sipp::uas("uas-a", pa);
    let b = Sipp::uas("uas-b", pb);
    let lb = Balancer::start(&cfg);
    let hb = Heartbeater::start(lb.internal, pa, Duration::from_millis(200));
    assert!(
        hb.wait_registered(Duration::from_secs(5)),
        "node A heartbeat acknowledged"
    );
    // B: a probe every 200 ms, up after one success.
    std::thread::sleep(Duration::from_millis(1000));
    TwoUas {
        lb,
        a,
        a_hb: Some(hb),
        b,
        _heavy: heavy,
    }
}

fn uac(lb: &Balancer, tag: &str, calls: u32, rate: u32) -> Sipp {
    let timeout = calls / rate + 30;
    Sipp::uac(tag, &lb.external.to_string(), calls, rate, timeout)
}

#[test]
fn sipp_calls_spread_over_two_nodes_with_dialog_affinity() {
    let TwoUas {
        lb,
        mut a,
        a_hb,
        mut b,
        _heavy,
    } = two_uas(3000);
    let mut client = uac(&lb, "uac", CALLS, RATE);
    let code = client.wait(Duration::from_secs(u64::from(CALLS / RATE) + 60));
    a.quit();
    b.quit();
    drop(a_hb);
    let stats = client.stats();
    assert_eq!(
        code,
        Some(0),
        "uac exit; stats {stats:?}; errors:\n{}",
        tail(&client.read("errors.log"))
    );
    assert_eq!((stats.successful, stats.failed), (u64::from(CALLS), 0));

    let (ids_a, ids_b, ids_c) = (a.call_ids(), b.call_ids(), client.call_ids());
    let both: BTreeSet<_> = ids_a.intersection(&ids_b).collect();
    assert!(
        both.is_empty(),
        "{} Call-IDs reached both nodes, e.g. {:?}",
        both.len(),
        both.iter().next()
    );
    let union: BTreeSet<String> = ids_a.union(&ids_b).cloned().collect();
    assert_eq!(union, ids_c, "every call reached exactly one node");
    for (name, ids) in [("A", &ids_a), ("B", &ids_b)] {
        let share = ids.len() as f64 / f64::from(CALLS);
        assert!(
            (0.4..=0.6).contains(&share),
            "node {name} got {:.1} % of calls",
            share * 100.0
        );
    }
    lb.stop();
}

#[test]
fn sipp_new_calls_go_to_survivor_after_node_dies() {
    let TwoUas {
        lb,
        mut a,
        mut a_hb,
        mut b,
        _heavy,
    } = two_uas(1000);
    let mut phase1 = uac(&lb, "uac1", 500, 100);
    std::thread::sleep(Duration::from_secs(2));
    a.kill();
    a_hb.take();
    let _ = phase1.wait(Duration::from_secs(60));
    assert!(
        phase1.stats().successful > 0,
        "calls before the kill succeed"
    );
    std::thread::sleep(Duration::from_millis(1500));

    let mut phase2 = uac(&lb, "uac2", 300, 100);
    let code = phase2.wait(Duration::from_secs(60));
    b.quit();
    let stats = phase2.stats();
    assert_eq!(
        code,
        Some(0),
        "phase 2 exit; {stats:?}\n{}",
        tail(&phase2.read("errors.log"))
    );
    assert_eq!((stats.successful, stats.failed), (300, 0));
    let on_b = b.call_ids();
    let missing: Vec<_> = phase2
        .call_ids()
        .into_iter()
        .filter(|c| !on_b.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "{} phase-2 calls not on B",
        missing.len()
    );
    lb.stop();
}

/// Dialogs established on node A keep working after A dies: their BYEs,
/// carrying the Route set learned from Record-Route, reach node B.
#[test]
fn bye_of_dialog_on_dead_node_reaches_survivor() {
    let mut cfg = LbConfig::two_legs();
    cfg.node_timeout_ms = 1000;
    let mut rig = Rig::start(cfg, 2);
    let mut on_a = Vec::new();
    for c in 0..40 {
        if on_a.len() == 3 {
            break;
        }
        let cid = format!("fo-{c}@c");
        rig.send(&rig.req("INVITE", &cid, &format!("z9hG4bKfo{c}")));
        let (n, inv, from) = rig.must_recv("INVITE");
        rig.nodes[n].send(&reply(&inv, 200, "OK", "nodetag"), from);
        let ok = rig.client.recv_status(200, WAIT).expect("200 OK at client");
        let routes: Vec<String> = ok.record_routes().into_iter().rev().collect();
        let mut ack = rig.req("ACK", &cid, &format!("z9hG4bKfoack{c}"));
        ack.to_tag = Some("nodetag".into());
        ack.ruri = format!("sip:bob@{}", rig.nodes[n].addr());
        ack.extra = routes.iter().map(|r| format!("Route: {r}")).collect();
        rig.send(&ack);
        let (n2, m, _) = rig.must_recv("ACK");
        assert_eq!((n2, m.method()), (n, Some("ACK")), "ACK follows the INVITE");
        if n == 0 {
            on_a.push((cid, routes));
        }
    }
    assert_eq!(on_a.len(), 3, "some calls land on node A");
    rig.stop_heartbeat(0);
    std::thread::sleep(Duration::from_millis(1800));
    for (k, (cid, routes)) in on_a.iter().enumerate() {
        let mut bye = rig.req("BYE", cid, &format!("z9hG4bKfobye{k}"));
        bye.to_tag = Some("nodetag".into());
        bye.cseq = 2;
        bye.ruri = format!("sip:bob@{}", rig.nodes[0].addr());
        bye.extra = routes.iter().map(|r| format!("Route: {r}")).collect();
        rig.send(&bye);
        let (n, m, _) = rig.must_recv("BYE after A died");
        assert_eq!((n, m.method()), (1, Some("BYE")), "{cid} goes to B");
        assert_eq!(m.call_id().as_deref(), Some(cid.as_str()));
    }
    rig.finish();
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
