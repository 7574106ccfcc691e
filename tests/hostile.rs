//! Hostile input on both ports: garbage, truncated, oversized, binary,
//! missing headers, bad Content-Length. The balancer must not crash, must
//! answer what it can parse with 400, and must keep forwarding valid
//! traffic afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;

const VALID_HEAD: &str = "MESSAGE sip:bob@127.0.0.1 SIP/2.0\r\n";

/// Datagrams that are not SIP at all or too broken to answer.
fn junk() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\r\n\r\n".to_vec(),
        b"hello world".to_vec(),
        b"INVITE".to_vec(),
        b"INVITE sip:".to_vec(),
        b"SIP/2.0".to_vec(),
        b"SIP/2.0 200".to_vec(),
        vec![0u8; 1500],
        vec![0xff; 512],
        (0..=255u8).cycle().take(4096).collect(),
        vec![b'A'; 60_000],
    ];
    let mut big = VALID_HEAD.as_bytes().to_vec();
    big.extend(
        std::iter::repeat_n(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 1400).flatten(),
    );
    v.push(big);
    let mut seed: u32 = 0x1234_5678;
    for len in [7usize, 64, 300, 1400] {
        v.push(
            (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (seed >> 16) as u8
                })
                .collect(),
        );
    }
    v
}

/// Requests with a request line but broken otherwise.
fn broken_requests(client: &UdpPeer) -> Vec<(String, Vec<u8>)> {
    let base = |cid: &str| {
        Req::new(
            "MESSAGE",
            "sip:bob@127.0.0.1",
            client.addr,
            cid,
            "z9hG4bKbad",
        )
    };
    let mut out = Vec::new();
    let full = String::from_utf8(base("bad-cl@c").body("hello").to_bytes()).unwrap();
    out.push((
        "content-length too big".into(),
        full.replace("Content-Length: 5", "Content-Length: 9999")
            .into_bytes(),
    ));
    out.push((
        "content-length not a number".into(),
        full.replace("Content-Length: 5", "Content-Length: five")
            .into_bytes(),
    ));
    out.push((
        "content-length negative".into(),
        full.replace("Content-Length: 5", "Content-Length: -3")
            .into_bytes(),
    ));
    let no_callid = String::from_utf8(base("x@c").to_bytes())
        .unwrap()
        .replace("Call-ID: x@c\r\n", "");
    out.push(("no Call-ID".into(), no_callid.into_bytes()));
    let no_cseq = String::from_utf8(base("nocseq@c").to_bytes())
        .unwrap()
        .replace("CSeq: 1 MESSAGE\r\n", "");
    out.push(("no CSeq".into(), no_cseq.into_bytes()));
    let bad_mf = String::from_utf8(base("badmf@c").to_bytes())
        .unwrap()
        .replace("Max-Forwards: 70", "Max-Forwards: lots");
    out.push(("Max-Forwards not a number".into(), bad_mf.into_bytes()));
    let truncated = base("trunc@c").body("hello").to_bytes();
    out.push((
        "truncated head".into(),
        truncated[..truncated.len() / 2].to_vec(),
    ));
    out
}

fn assert_still_forwards(rig: &Rig, tag: &str) {
    let cid = format!("after-{tag}@c");
    rig.send(&rig.req("MESSAGE", &cid, "z9hG4bKok").body("ok"));
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < deadline {
        if let Some((_, m, _)) = rig.recv_any(Duration::from_millis(200)) {
            if m.call_id().as_deref() == Some(cid.as_str()) {
                return;
            }
        }
    }
    panic!("valid MESSAGE not forwarded after {tag}");
}

#[test]
fn junk_on_both_ports_is_dropped_and_service_continues() {
    let mut rig = Rig::two_legs(1);
    for (k, j) in junk().iter().enumerate() {
        for port in [rig.lb.external, rig.lb.internal] {
            let _ = rig.client.sock.send_to(j, port);
        }
        if k % 4 == 0 {
            assert!(rig.lb.is_running(), "balancer died on junk #{k}");
        }
    }
    while rig.client.recv_msg(Duration::from_millis(300)).is_some() {}
    assert!(rig.lb.is_running());
    assert_still_forwards(&rig, "junk");
    rig.finish();
}

#[test]
fn broken_requests_get_400_or_are_dropped_and_service_continues() {
    let mut rig = Rig::two_legs(1);
    let cases = broken_requests(&rig.client);
    for (name, bytes) in &cases {
        rig.client.send(bytes, rig.lb.external);
        if let Some((m, _)) = rig.client.recv_msg(Duration::from_millis(400)) {
            assert!(
                m.status() == Some(400) || m.status() == Some(100),
                "{name}: unexpected reply {:?}",
                m.start_line()
            );
        }
        assert!(rig.lb.is_running(), "balancer died on {name}");
        let leaked = rig.recv_any(Duration::from_millis(50));
        if let Some((_, m, _)) = leaked {
            // Forwarding a repaired message is acceptable only if it is still SIP.
            assert!(m.method().is_some(), "{name}: node got non-SIP");
        }
    }
    assert_still_forwards(&rig, "broken requests");
    rig.finish();
}

#[test]
fn missing_call_id_is_answered_400() {
    let rig = Rig::two_legs(1);
    let raw = String::from_utf8(
        rig.req("MESSAGE", "gone@c", "z9hG4bK400")
            .body("x")
            .to_bytes(),
    )
    .unwrap()
    .replace("Call-ID: gone@c\r\n", "");
    rig.client.send(raw.as_bytes(), rig.lb.external);
    let r = rig.client.recv_status(400, WAIT).expect("400 Bad Request");
    assert!(
        r.start_line().starts_with("SIP/2.0 400"),
        "{}",
        r.start_line()
    );
    assert!(rig.nodes_silent(QUIET), "not forwarded");
    rig.finish();
}

#[test]
fn flood_of_junk_interleaved_with_valid_traffic() {
    let rig = Rig::two_legs(1);
    let junk = junk();
    for round in 0..20 {
        for j in junk.iter().take(6) {
            let _ = rig.client.sock.send_to(j, rig.lb.external);
        }
        assert_still_forwards(&rig, &format!("round {round}"));
    }
    rig.finish();
}
