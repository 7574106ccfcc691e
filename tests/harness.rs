//! Self-tests of the harness in `tests/common`: they run without the
//! balancer and prove the helpers the other suites rely on (SIPp driving
//! and stat parsing, fake nodes, heartbeats, SIP text helpers).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::sip::{heartbeat_body, parse_heartbeat_fields};
use common::sipp::{parse_stat_csv, trace_call_ids};
use common::*;

#[test]
fn sipp_uac_against_uas_counts_calls_and_call_ids() {
    let _heavy = HeavyGuard::take();
    let uas_port = free_port();
    let mut uas = Sipp::uas("h-uas", uas_port);
    std::thread::sleep(Duration::from_millis(300));
    let mut uac = Sipp::uac("h-uac", &format!("127.0.0.1:{uas_port}"), 40, 40, 20);
    assert_eq!(uac.wait(Duration::from_secs(30)), Some(0), "uac exit code");
    uas.quit();
    let (c, s) = (uac.stats(), uas.stats());
    assert_eq!((c.successful, c.failed), (40, 0), "uac stats");
    assert_eq!((s.successful, s.failed), (40, 0), "uas stats");
    assert_eq!(uas.call_ids().len(), 40);
    assert_eq!(uas.call_ids(), uac.call_ids());
}

#[test]
fn sipp_uac_without_peer_fails_within_timeout() {
    let dead = free_port();
    let mut uac = Sipp::uac("h-dead", &format!("127.0.0.1:{dead}"), 2, 10, 3);
    let code = uac.wait(Duration::from_secs(15));
    assert_ne!(code, Some(0), "uac must fail with no peer");
    assert_eq!(uac.stats().successful, 0);
}

#[test]
fn fake_node_answers_probes_and_queues_other_messages() {
    let node = FakeNode::new();
    let prober = UdpPeer::new();
    let probe = Req::new(
        "OPTIONS",
        &format!("sip:{}", node.addr()),
        prober.addr,
        "lbprobe-1",
        "z9hG4bKp1",
    );
    prober.send(&probe.to_bytes(), node.addr());
    let (ok, from) = prober.recv_msg(WAIT).expect("probe answered");
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.call_id().as_deref(), Some("lbprobe-1"));
    assert_eq!(from, node.addr());
    assert!(node.wait_probed(1, WAIT));
    assert!(node.silent_for(QUIET), "a probe is not a test message");

    let msg = Req::new("MESSAGE", "sip:x@h", prober.addr, "c1", "z9hG4bKm1").body("hi");
    prober.send(&msg.to_bytes(), node.addr());
    let (got, _) = node.must_get(WAIT, "MESSAGE");
    assert_eq!(got.method(), Some("MESSAGE"));
    assert_eq!(got.body(), "hi");

    node.answer_probes(false);
    prober.send(&probe.to_bytes(), node.addr());
    assert!(
        prober.recv_msg(QUIET).is_none(),
        "dead node must not answer"
    );
}

#[test]
fn heartbeater_sends_mobicents_heartbeats_and_counts_acks() {
    let lb = UdpPeer::new();
    let hb = Heartbeater::start(lb.addr, 4242, Duration::from_millis(100));
    for i in 0..3 {
        let (m, from) = lb.recv_msg(WAIT).expect("heartbeat");
        assert_eq!(m.method(), Some("OPTIONS"));
        assert_eq!(m.header("Mobicents-Heartbeat").as_deref(), Some("1"));
        let f = parse_heartbeat_fields(m.body());
        assert_eq!(f.get("udpPort").map(String::as_str), Some("4242"), "{i}");
        assert_eq!(f.get("ip").map(String::as_str), Some("127.0.0.1"));
        assert_eq!(
            m.header("content-length").unwrap(),
            m.body().len().to_string()
        );
        lb.send(&reply(&m, 200, "OK", "hb"), from);
    }
    assert!(wait_until(WAIT, || hb.acks() >= 3));
    hb.set_graceful(true);
    let graceful = (0..10)
        .filter_map(|_| lb.recv_msg(WAIT))
        .any(|(m, _)| m.body().contains("GRACEFUL_SHUTDOWN=true"));
    assert!(graceful);
    hb.stop();
    while lb.recv_msg(Duration::from_millis(200)).is_some() {}
    assert!(
        lb.recv_msg(QUIET).is_none(),
        "stopped heartbeater is silent"
    );
    assert!(heartbeat_body("n", 1, false).ends_with("version=0\n"));
}

#[test]
fn sip_helpers_read_headers_vias_and_params() {
    let raw = "INVITE sip:bob@127.0.0.1:5060 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bKabc0123456789abcdzsd_0, SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc_0\r\n\
        v: SIP/2.0/UDP 10.0.0.1:5080;branch=z9hG4bKc;received=127.0.0.1;rport=4000\r\n\
        Record-Route: <sip:127.0.0.1:5065;transport=udp;lr;node_host=127.0.0.1;node_port=5070;version=0>\r\n\
        Record-Route: <sip:127.0.0.1:5060;transport=udp;lr>\r\n\
        i: abc@h\r\nCSeq: 7 INVITE\r\nl: 2\r\n\r\nhi";
    let m = Msg::parse(raw.as_bytes());
    assert_eq!(m.method(), Some("INVITE"));
    assert_eq!(m.request_uri(), Some("sip:bob@127.0.0.1:5060"));
    assert_eq!(m.vias().len(), 3);
    assert_eq!(
        branch(&m.vias()[0]).as_deref(),
        Some("z9hG4bKabc0123456789abcdzsd_0")
    );
    assert_eq!(via_sent_by(&m.vias()[2]), "10.0.0.1:5080");
    assert_eq!(param(&m.vias()[2], "rport").as_deref(), Some("4000"));
    let rr = m.record_routes();
    assert_eq!(param(&rr[0], "node_port").as_deref(), Some("5070"));
    assert_eq!(param(&rr[1], "lr").as_deref(), Some(""));
    assert_eq!(m.call_id().as_deref(), Some("abc@h"));
    assert_eq!(m.cseq_num(), Some(7));
    assert_eq!(m.body(), "hi");
    let r = Msg::parse(&reply(&m, 486, "Busy Here", "t9"));
    assert_eq!((r.status(), r.reason()), (Some(486), Some("Busy Here")));
    assert_eq!(r.vias(), m.vias());
    assert!(r.header("to").unwrap().ends_with(";tag=t9"));
}

#[test]
fn stat_csv_and_trace_parsing() {
    let csv = "A;SuccessfulCall(C);FailedCall(C);\n1;2;3;\n4;50;1;\n";
    assert_eq!(
        parse_stat_csv(csv),
        SippStats {
            successful: 50,
            failed: 1
        }
    );
    let trace = "Call-ID: a\nCall-ID: a\ni: b\nCall-ID: lbprobe-1\nCall-ID: hb-2\n";
    let ids: Vec<_> = trace_call_ids(trace).into_iter().collect();
    assert_eq!(ids, vec!["a".to_string(), "b".to_string()]);
}

#[test]
fn free_ports_are_distinct_and_bindable() {
    let ports: std::collections::BTreeSet<u16> = (0..50).map(|_| free_port()).collect();
    assert_eq!(ports.len(), 50);
    for p in ports.iter().take(5) {
        let _ = UdpPeer::bind(*p);
    }
}

#[test]
fn config_yaml_has_every_knob() {
    let cfg = LbConfig::two_legs().with_static_node("nodeB", 25070);
    let y = cfg.yaml();
    for key in [
        "cores: 1",
        "external:",
        "internal:",
        "isSendTrying: true",
        "unavailableStatus: 503",
        "nodeTimeout: 3000",
        "heartbeatInterval: 150",
        "callIdAffinityMaxTimeInCache",
        "udpPort: 25070, hostname: nodeB",
        "failuresToDown: 2",
        "statisticPort: 0",
    ] {
        assert!(y.contains(key), "{key} missing in\n{y}");
    }
    assert!(!LbConfig::single_leg().yaml().contains("internal:"));
}

/// A stand-in for the balancer: prints the listening lines the harness
/// waits for (after a noise line and a delay) and exits 0 on SIGTERM.
fn stand_in(dir: &TempDir) -> std::path::PathBuf {
    let path = dir.path.join("fake-lb.sh");
    let script = "#!/bin/bash\n\
        cfg=\"$2\"\n\
        trap 'exit 0' TERM\n\
        echo 'INFO starting' >&2\n\
        sleep 0.3\n\
        ext=$(grep -o 'external: { host: 127.0.0.1, udpPort: [0-9]*' \"$cfg\" | grep -o '[0-9]*$')\n\
        echo \"INFO listening sip/udp external 127.0.0.1:$ext (1 shards)\" >&2\n\
        grep -q 'internal:' \"$cfg\" && echo 'INFO listening sip/udp internal 127.0.0.1:1 (1 shards)' >&2\n\
        while true; do sleep 0.05; done\n";
    std::fs::write(&path, script).unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&path)
        .status()
        .unwrap();
    path
}

#[test]
fn balancer_start_waits_for_listening_lines_and_stop_sigterms() {
    let dir = TempDir::new("stand-in");
    let prog = stand_in(&dir);
    for cfg in [LbConfig::two_legs(), LbConfig::single_leg()] {
        let t = std::time::Instant::now();
        let mut lb = Balancer::start_program(prog.as_os_str(), &cfg);
        assert!(
            t.elapsed() >= Duration::from_millis(250),
            "waited for the lines"
        );
        assert!(lb.is_running());
        assert_eq!(lb.external.port(), cfg.external);
        lb.stop();
    }
}

#[test]
#[should_panic(expected = "did not start")]
fn balancer_start_fails_fast_when_program_exits() {
    let _ = Balancer::start_program("true".as_ref(), &LbConfig::two_legs());
}
