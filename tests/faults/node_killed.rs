//! A node killed under load: a SIPp UAC at 150 calls/s through the
//! balancer to two SIPp UAS nodes announced by heartbeats; 2.5 s in, node
//! A (its SIPp and its heartbeats) is killed. From the UAC's message trace
//! (SIPp timestamps, turned into Unix time with its stat file) each call's
//! start and outcome are known:
//!
//! - every call started after the detection window (`nodeTimeout` and the
//!   expiry sweep) succeeds, on B, and `/lbinfo` stops listing A within
//!   that window;
//! - the calls that fail are the ones in flight on A, at most rate ×
//!   detection window of them.
//!
//! Which calls are in flight depends on `isSendTrying`. Without it, an
//! INVITE that A never answered is retransmitted by the UAC and the
//! retransmission goes to B once A is down: only the calls A had answered
//! in part (180, or 200 and ACK) when it died fail, all started before the
//! kill. With it (the default), the balancer's own `100 Trying` stops the
//! UAC's retransmissions, so the calls sent to A between the kill and its
//! detection are lost as well.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::common::http::get;
use super::common::sipp::sipp_available;
use super::common::{
    free_port, local, wait_until, Balancer, Heartbeater, HeavyGuard, LbConfig, Sipp,
};
use super::tail;

/// Calls per second.
const RATE: u32 = 150;
/// Calls in all (6 s of load).
const CALLS: u32 = 900;
/// When node A dies, from the UAC's start.
const KILL_AFTER: Duration = Duration::from_millis(2500);
/// `nodeTimeout`.
const NODE_TIMEOUT_MS: u64 = 1000;
/// From the kill until no new call goes to A: `nodeTimeout`, the expiry
/// sweep (`heartbeatInterval`, 150 ms), the snapshot reaching the shard.
const DETECT: Duration = Duration::from_millis(NODE_TIMEOUT_MS + 500);
/// A call takes ~100 ms (INVITE to BYE's 200, `tests/sipp/uac.xml`);
/// one that started longer than this before the kill was over by then.
const CALL_SPAN: Duration = Duration::from_secs(2);
/// Node heartbeat period.
const PULSE: Duration = Duration::from_millis(200);

/// One call as the UAC's trace tells it.
#[derive(Debug, Default)]
struct Call {
    /// Unix time of its first INVITE.
    started: f64,
    /// The 200 to its BYE arrived.
    done: bool,
}

#[test]
fn node_killed_under_sipp_load_fails_only_the_calls_in_flight_on_it() {
    // A failed call started before the kill, or before the balancer knew.
    kill_under_load(true, DETECT);
}

#[test]
fn node_killed_without_100_trying_fails_only_calls_it_had_answered() {
    // A failed call started before the kill (the margin is the clock
    // difference between this process and SIPp's trace).
    kill_under_load(false, Duration::from_millis(50));
}

/// The scenario of the module documentation; a failed call must have
/// started within [`CALL_SPAN`] before the kill and `latest` after it.
fn kill_under_load(send_trying: bool, latest: Duration) {
    assert!(sipp_available(), "sipp not installed (run .ci/run)");
    let _heavy = HeavyGuard::take();
    let (pa, pb) = (free_port(), free_port());
    let mut cfg = LbConfig::two_legs();
    cfg.send_trying = send_trying;
    cfg.node_timeout_ms = NODE_TIMEOUT_MS;
    cfg.statistic_port = Some(free_port());
    let admin = local(cfg.statistic_port.unwrap_or(0));
    let mut a = Sipp::uas("kill-uas-a", pa);
    let mut b = Sipp::uas("kill-uas-b", pb);
    let lb = Balancer::start(&cfg);
    let mut hb_a = Some(Heartbeater::start(lb.internal, pa, PULSE));
    let hb_b = Heartbeater::start(lb.internal, pb, PULSE);
    for hb in [hb_a.as_ref().unwrap(), &hb_b] {
        assert!(
            hb.wait_registered(Duration::from_secs(5)),
            "node registered"
        );
    }
    let (name_a, name_b) = (format!("node{pa}"), format!("node{pb}"));
    assert!(
        wait_until(Duration::from_secs(5), || alive(admin)
            == [name_a.clone(), name_b.clone()]),
        "both nodes listed: {:?}",
        alive(admin)
    );

    let mut uac = Sipp::uac(
        "kill-uac",
        &lb.external.to_string(),
        CALLS,
        RATE,
        CALLS / RATE + 30,
    );
    std::thread::sleep(KILL_AFTER);
    let killed_at = unix_now();
    a.kill();
    drop(hb_a.take());
    let listed = wait_until(DETECT + Duration::from_secs(2), || {
        alive(admin) == [name_b.clone()]
    });
    let down_after = unix_now() - killed_at;
    assert!(listed, "A still listed: {:?}", alive(admin));
    let code = uac.wait(Duration::from_secs(u64::from(CALLS / RATE) + 60));
    b.quit();
    assert!(code.is_some(), "the UAC finished by itself");

    let calls = calls_of(&uac);
    let (on_a, on_b) = (a.call_ids(), b.call_ids());
    let failed: Vec<f64> = calls
        .values()
        .filter(|c| !c.done)
        .map(|c| c.started - killed_at)
        .collect();
    let late: Vec<(&String, &Call)> = calls
        .iter()
        .filter(|(_, c)| c.started > killed_at + DETECT.as_secs_f64())
        .collect();
    let late_wrong: Vec<&String> = late
        .iter()
        .filter(|(id, c)| !c.done || on_a.contains(*id) || !on_b.contains(*id))
        .map(|(id, _)| *id)
        .collect();
    eprintln!(
        "isSendTrying {send_trying}: {} calls, {} failed, started at {:?} s from the kill; \
         A had {} calls, B {}; A unlisted {down_after:.2} s after the kill; {} calls after the window",
        calls.len(),
        failed.len(),
        failed.iter().map(|t| (t * 100.0).round() / 100.0).collect::<Vec<_>>(),
        on_a.len(),
        on_b.len(),
        late.len(),
    );

    let stats = uac.stats();
    assert_eq!(calls.len(), CALLS as usize, "every call in the trace");
    assert_eq!(
        (stats.successful + stats.failed, stats.failed),
        (u64::from(CALLS), failed.len() as u64),
        "SIPp's counters agree with its trace; errors:\n{}",
        tail(&uac.read("errors.log"), 20)
    );
    assert!(on_a.len() > 100, "A took its share before it died");
    assert!(late.len() > 150, "calls after the window");
    let bound = (f64::from(RATE) * DETECT.as_secs_f64()) as usize;
    assert!(
        failed.len() <= bound,
        "{} failed calls > {bound}",
        failed.len()
    );
    let window = -CALL_SPAN.as_secs_f64()..=latest.as_secs_f64();
    let stray: Vec<&f64> = failed.iter().filter(|t| !window.contains(*t)).collect();
    assert!(
        stray.is_empty(),
        "failed calls started at {stray:?} s from the kill, outside {window:?}"
    );
    assert!(
        late_wrong.is_empty(),
        "calls after the window failed or missed B: {late_wrong:?}"
    );
    drop(hb_b);
    lb.stop();
}

/// Every call of the UAC's trace by Call-ID.
fn calls_of(uac: &Sipp) -> BTreeMap<String, Call> {
    let offset = uac.stamp_to_unix().expect("the UAC's stat file");
    let mut calls: BTreeMap<String, Call> = BTreeMap::new();
    for m in uac.trace() {
        let call = calls.entry(m.call_id.clone()).or_default();
        if !m.received && m.method.as_deref() == Some("INVITE") && call.started == 0.0 {
            call.started = m.stamp.expect("trace time stamp") + offset;
        }
        if m.received && m.status == Some(200) && m.cseq_method == "BYE" {
            call.done = true;
        }
    }
    calls
}

/// Host names of the nodes `/lbinfo` lists (the alive ones), sorted by
/// port.
fn alive(admin: SocketAddr) -> Vec<String> {
    let r = get(admin, "/lbinfo");
    let info: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
    let mut nodes: Vec<(u16, String)> = info["Nodes info"]["nodesIPv4"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|n| {
                    let port = n["properties"]["udpPort"].as_str().unwrap_or("");
                    let name = n["hostName"].as_str().unwrap_or("").to_string();
                    (port.parse().unwrap_or(0), name)
                })
                .collect()
        })
        .unwrap_or_default();
    nodes.sort();
    nodes.into_iter().map(|(_, name)| name).collect()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
