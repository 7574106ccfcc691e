//! A balancer with N fake nodes announced by heartbeats and one client:
//! the fixture most wire-level tests start from.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::balancer::{Balancer, LbConfig};
use super::net::{FakeNode, Heartbeater, UdpPeer};
use super::sip::{Msg, Req};

/// Heartbeat period of rig nodes.
pub const HB_PERIOD: Duration = Duration::from_millis(100);

/// Balancer + nodes + client.
pub struct Rig {
    /// The balancer.
    pub lb: Balancer,
    /// Fake nodes, in creation order.
    pub nodes: Vec<FakeNode>,
    /// Heartbeat senders, one per node (`None` once stopped).
    pub hbs: Vec<Option<Heartbeater>>,
    /// A client UA.
    pub client: UdpPeer,
}

impl Rig {
    /// Starts `cfg` and `n` heartbeat-announced nodes; waits until each
    /// heartbeat was acknowledged.
    pub fn start(cfg: LbConfig, n: usize) -> Rig {
        if cfg.internal.is_none() {
            return Rig::start_static(cfg, n);
        }
        let lb = Balancer::start(&cfg);
        let nodes: Vec<FakeNode> = (0..n).map(|_| FakeNode::new()).collect();
        let hbs: Vec<Option<Heartbeater>> = nodes
            .iter()
            .map(|node| {
                Some(Heartbeater::start(
                    lb.internal,
                    node.addr().port(),
                    HB_PERIOD,
                ))
            })
            .collect();
        for hb in hbs.iter().flatten() {
            assert!(
                hb.wait_registered(Duration::from_secs(3)),
                "heartbeat not acknowledged"
            );
        }
        Rig {
            lb,
            nodes,
            hbs,
            client: UdpPeer::new(),
        }
    }

    /// Single entry point: heartbeats are only accepted on the internal
    /// port, so the `n` nodes are static and probed; waits until each was
    /// probed.
    fn start_static(mut cfg: LbConfig, n: usize) -> Rig {
        let nodes: Vec<FakeNode> = (0..n).map(|_| FakeNode::new()).collect();
        for (i, node) in nodes.iter().enumerate() {
            cfg = cfg.with_static_node(&format!("static{i}"), node.addr().port());
        }
        let lb = Balancer::start(&cfg);
        for node in &nodes {
            assert!(
                node.wait_probed(1, Duration::from_secs(3)),
                "static node not probed"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
        Rig {
            lb,
            hbs: nodes.iter().map(|_| None).collect(),
            nodes,
            client: UdpPeer::new(),
        }
    }

    /// Two legs, `n` nodes, defaults otherwise.
    pub fn two_legs(n: usize) -> Rig {
        Rig::start(LbConfig::two_legs(), n)
    }

    /// `sip:user@<external>`.
    pub fn lb_uri(&self, user: &str) -> String {
        format!("sip:{user}@{}", self.lb.external)
    }

    /// A client request towards the balancer's external address.
    pub fn req(&self, method: &str, call_id: &str, branch: &str) -> Req {
        Req::new(
            method,
            &self.lb_uri("bob"),
            self.client.addr,
            call_id,
            branch,
        )
    }

    /// Sends `req` from the client to the external port.
    pub fn send(&self, req: &Req) {
        self.client.send(&req.to_bytes(), self.lb.external);
    }

    /// First non-probe message reaching any node within `dur`:
    /// (node index, message, source address).
    pub fn recv_any(&self, dur: Duration) -> Option<(usize, Msg, SocketAddr)> {
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

    /// Like `recv_any`, panicking with `what` on timeout.
    pub fn must_recv(&self, what: &str) -> (usize, Msg, SocketAddr) {
        self.recv_any(Duration::from_secs(2))
            .unwrap_or_else(|| panic!("no node received {what}"))
    }

    /// True if no node receives anything (probes aside) during `dur`.
    pub fn nodes_silent(&self, dur: Duration) -> bool {
        self.recv_any(dur).is_none()
    }

    /// Stops node `i`'s heartbeats.
    pub fn stop_heartbeat(&mut self, i: usize) {
        if let Some(hb) = self.hbs[i].take() {
            hb.stop();
        }
    }

    /// Stops everything and asserts the balancer exits cleanly on SIGTERM.
    pub fn finish(self) {
        drop(self.hbs);
        self.lb.stop();
    }
}
