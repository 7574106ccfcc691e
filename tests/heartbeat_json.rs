//! The original's HTTP/JSON heartbeat protocol against the real balancer:
//! a test client registers nodes (`start`), keeps them alive
//! (`heartbeat`), drains (`shutdown`) and stops (`stop`) one, and every
//! step is checked through real SIP traffic reaching fake UDP nodes. When
//! the balancer stops, its `stop` notice must reach the node's own
//! heartbeat listener (`heartbeatPort` property).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "json_hb/mod.rs"]
mod json_hb;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use json_hb::{post, JsonNode, NoticeSink};

/// Registry events are applied every 10 ms and snapshots reach the shards
/// on their next turn: wait this long after a command before testing it.
const SETTLE: Duration = Duration::from_millis(200);

/// A balancer with its heartbeat port, nodes A and B, a client.
struct Setup {
    lb: Balancer,
    hb: SocketAddr,
    nodes: [FakeNode; 2],
    client: UdpPeer,
}

fn setup(node_timeout_ms: u64) -> Setup {
    let mut cfg = LbConfig::two_legs();
    cfg.node_timeout_ms = node_timeout_ms;
    let port = free_port();
    cfg.heartbeat_port = Some(port);
    // The admin port's default (2006) is shared by every balancer: off.
    cfg.statistic_port = Some(0);
    let lb = Balancer::start(&cfg);
    Setup {
        hb: local(port),
        lb,
        nodes: [FakeNode::new(), FakeNode::new()],
        client: UdpPeer::new(),
    }
}

/// An established dialog: its Call-ID, node and Route set.
struct Dialog {
    call_id: String,
    node: usize,
    routes: Vec<String>,
    cseq: u32,
}

impl Setup {
    fn json(&self, i: usize, session: &str) -> JsonNode {
        JsonNode::new(
            self.hb,
            &format!("node{i}"),
            self.nodes[i].addr().port(),
            0,
            session,
        )
    }

    fn req(&self, method: &str, call_id: &str, branch: &str) -> Req {
        Req::new(
            method,
            &format!("sip:bob@{}", self.lb.external),
            self.client.addr,
            call_id,
            branch,
        )
    }

    /// First non-probe message at any node within `dur`.
    fn recv_any(&self, dur: Duration) -> Option<(usize, Msg, SocketAddr)> {
        let deadline = Instant::now() + dur;
        while Instant::now() < deadline {
            for (i, n) in self.nodes.iter().enumerate() {
                if let Some((m, from)) = n.expect_request(Duration::from_millis(5)) {
                    return Some((i, m, from));
                }
            }
        }
        None
    }

    fn must_recv(&self, what: &str) -> (usize, Msg, SocketAddr) {
        self.recv_any(WAIT)
            .unwrap_or_else(|| panic!("no node received {what}"))
    }

    /// INVITE → node answers 200 → ACK along the Route set; asserts the
    /// ACK reaches the INVITE's node.
    fn call(&self, call_id: &str) -> Dialog {
        let inv = self.req("INVITE", call_id, &format!("z9hG4bK{call_id}i"));
        self.client.send(&inv.to_bytes(), self.lb.external);
        let (n, m, from) = self.must_recv("INVITE");
        assert_eq!(m.method(), Some("INVITE"));
        assert_eq!(m.call_id().as_deref(), Some(call_id));
        self.nodes[n].send(&reply(&m, 200, "OK", "nodetag"), from);
        let ok = self
            .client
            .recv_status(200, WAIT)
            .expect("200 OK at the client");
        let routes: Vec<String> = ok.record_routes().into_iter().rev().collect();
        let d = Dialog {
            call_id: call_id.to_string(),
            node: n,
            routes,
            cseq: 1,
        };
        self.in_dialog(&d, "ACK", 1, &format!("z9hG4bK{call_id}a"));
        let (n2, ack, _) = self.must_recv("ACK");
        assert_eq!(
            (n2, ack.method()),
            (n, Some("ACK")),
            "ACK follows the INVITE"
        );
        d
    }

    fn in_dialog(&self, d: &Dialog, method: &str, cseq: u32, branch: &str) {
        let mut r = self.req(method, &d.call_id, branch);
        r.to_tag = Some("nodetag".into());
        r.cseq = cseq;
        r.ruri = format!("sip:bob@{}", self.nodes[d.node].addr());
        r.extra = d.routes.iter().map(|x| format!("Route: {x}")).collect();
        self.client.send(&r.to_bytes(), self.lb.external);
    }

    /// Sends a BYE in `d`; returns the node it reached (answered 200).
    fn bye(&self, d: &mut Dialog) -> usize {
        d.cseq += 1;
        let branch = format!("z9hG4bK{}b{}", d.call_id, d.cseq);
        self.in_dialog(d, "BYE", d.cseq, &branch);
        let (n, m, from) = self.must_recv("BYE");
        assert_eq!(m.method(), Some("BYE"));
        assert_eq!(m.call_id().as_deref(), Some(d.call_id.as_str()));
        self.nodes[n].send(&reply(&m, 200, "OK", "nodetag"), from);
        assert!(self.client.recv_status(200, WAIT).is_some(), "200 to BYE");
        n
    }

    /// Sends `count` fresh INVITEs; returns how many reached each node
    /// (each is answered 486 so nothing stays pending).
    fn spray(&self, tag: &str, count: usize) -> [usize; 2] {
        let mut got = [0, 0];
        for k in 0..count {
            let cid = format!("{tag}-{k}@client");
            let inv = self.req("INVITE", &cid, &format!("z9hG4bK{tag}{k}"));
            self.client.send(&inv.to_bytes(), self.lb.external);
            let (n, m, from) = self.must_recv("a new INVITE");
            assert_eq!(m.call_id().as_deref(), Some(cid.as_str()));
            got[n] += 1;
            self.nodes[n].send(&reply(&m, 486, "Busy Here", "busytag"), from);
            assert!(self.client.recv_status(486, WAIT).is_some());
        }
        got
    }

    /// A dialog established on node `want` (tries fresh Call-IDs).
    fn call_on(&self, want: usize, tag: &str) -> Dialog {
        for k in 0..60 {
            let d = self.call(&format!("{tag}-{k}@client"));
            if d.node == want {
                return d;
            }
        }
        panic!("no call of 60 landed on node {want}");
    }
}

#[test]
fn start_heartbeat_shutdown_stop_seen_in_sip_traffic() {
    let s = setup(1500);
    let sink_a = NoticeSink::new();
    let sink_b = NoticeSink::new();
    let a = s
        .json(0, "1001")
        .with("heartbeatPort", &sink_a.port.to_string());
    let b = s
        .json(1, "2002")
        .with("heartbeatPort", &sink_b.port.to_string());
    a.start();
    b.start();
    let pulse_a = a.pulse(Duration::from_millis(250));
    let _pulse_b = b.pulse(Duration::from_millis(250));
    // Longer than nodeTimeout (1.5 s): only the heartbeats keep them up.
    std::thread::sleep(Duration::from_millis(2200));
    assert!(pulse_a.oks() >= 5, "heartbeats answered: {}", pulse_a.oks());
    let spread = s.spray("up", 30);
    assert!(
        spread[0] > 0 && spread[1] > 0,
        "both nodes take calls: {spread:?}"
    );
    let mut on_a = s.call_on(0, "dlg");

    a.shutdown();
    std::thread::sleep(SETTLE);
    assert_eq!(s.spray("drain", 20), [0, 20], "no new call to draining A");
    assert_eq!(s.bye(&mut on_a), 0, "the dialog's BYE still reaches A");

    drop(pulse_a);
    a.stop();
    std::thread::sleep(SETTLE);
    assert_eq!(s.spray("stopped", 20), [0, 20], "no new call to stopped A");
    assert_eq!(s.bye(&mut on_a), 1, "A's dialog fails over to B");
    assert!(s.nodes[0].silent_for(QUIET), "nothing more reaches A");

    // A restarts (new sessionId) and takes calls again, then stops for good.
    let mut a = a;
    a.restart("1003");
    std::thread::sleep(SETTLE);
    let _ = s.call_on(0, "again");
    a.stop();
    std::thread::sleep(SETTLE);
    assert_eq!(s.spray("final", 10), [0, 10]);

    // The balancer's stop reaches B's heartbeat listener, not stopped A's.
    let hb_port = s.hb.port();
    s.lb.stop();
    let notice = sink_b.recv(WAIT).expect("stop notice at B's heartbeatPort");
    assert_eq!(
        notice,
        format!(r#"{{"stop":{{"ipAddress":"127.0.0.1","port":{hb_port}}}}}"#)
    );
    assert_eq!(sink_a.recv(QUIET), None, "a stopped node gets no notice");
}

#[test]
fn wire_answers_and_a_bounded_stop_with_unreachable_listeners() {
    let s = setup(3000);
    // Not a command: 400 with the reason; an unknown session: still OK.
    assert_eq!(
        post(s.hb, r#"{"reboot":{}}"#),
        (400, r#"{"error":"unknown command \"reboot\""}"#.into())
    );
    assert_eq!(
        post(s.hb, r#"{"heartbeat":{"sessionId":"nobody"}}"#),
        (200, r#"{"heartbeat":"OK"}"#.into())
    );
    // A start without "ip" names the node by the HTTP peer's address.
    let mut quiet = s.json(0, "77");
    quiet.fields.retain(|(k, _)| k != "ip");
    // Its heartbeat listener accepts but never answers; B's port is closed.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let quiet = quiet.with(
        "heartbeatPort",
        &silent.local_addr().unwrap().port().to_string(),
    );
    quiet.start();
    let closed = free_port();
    let b = s.json(1, "78").with("heartbeatPort", &closed.to_string());
    b.start();
    std::thread::sleep(SETTLE);
    let spread = s.spray("peer", 20);
    assert!(spread[0] > 0 && spread[1] > 0, "{spread:?}");
    // Balancer::stop asserts a clean exit within 2 s.
    let t = Instant::now();
    s.lb.stop();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}
