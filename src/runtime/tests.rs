//! The shard loop on real loopback sockets: a UAC and a node (std UDP
//! sockets in the test thread) talk through one [`Shard`] turned by hand,
//! and the test counts the heap allocations the shard's turns make.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::mesh::{self, Mesh};
use super::shard::{Parts, Shard};
use super::sockets;
use super::uring::UdpRing;
use crate::registry::{Node, NodeId, NodeSet, NodeSource, NodeState};
use crate::sip::proxy::Proxy;
use crate::test_alloc::allocations;

/// How long one step may take before the test fails.
const STEP: Duration = Duration::from_secs(5);

struct Rig {
    shards: Vec<Shard>,
    ext: SocketAddr,
    int: SocketAddr,
    uac: UdpSocket,
    node: UdpSocket,
    /// Allocations made inside `Shard::turn` since the last reset.
    allocs: u64,
}

impl Rig {
    /// `n` shards (one SO_REUSEPORT socket each per leg) on this thread.
    fn new(n: usize) -> Rig {
        Rig::with(n, "")
    }

    /// Like `new`, with `sip_extra` lines (indented) under `sip:`.
    fn with(n: usize, sip_extra: &str) -> Rig {
        let any = "127.0.0.1:0".parse().unwrap();
        let (ext, ext_socks) = sockets::bind_group(any, n, 1 << 20).unwrap();
        let (int, int_socks) = sockets::bind_group(any, n, 1 << 20).unwrap();
        let yaml = format!(
            "sip:\n  external: {{ host: 127.0.0.1, udpPort: {} }}\n  \
             internal: {{ host: 127.0.0.1, udpPort: {} }}\n{sip_extra}nodes: []\nstatisticPort: ~\n",
            ext.port(),
            int.port()
        );
        let cfg = crate::config::from_yaml_str(&yaml, "test.yaml").unwrap();
        let uac = UdpSocket::bind("127.0.0.1:0").unwrap();
        let node = UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&uac, &node] {
            s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        }
        let node_addr = node.local_addr().unwrap();
        let up = Node::new(
            NodeId(1),
            node_addr.ip(),
            node_addr.port(),
            NodeSource::Static,
            NodeState::Up,
        );
        let nodes = Arc::new(NodeSet::new(1, vec![up], 0));
        let rings: Vec<UdpRing> = ext_socks
            .into_iter()
            .zip(int_socks)
            .map(|(e, i)| UdpRing::new(vec![e, i]).unwrap())
            .collect();
        let fds: Arc<[_]> = rings.iter().map(|r| r.dup_fd().unwrap()).collect();
        let (events, _) = crossbeam_channel::bounded(1024);
        let shards = rings
            .into_iter()
            .zip(mesh::wire(n))
            .enumerate()
            .map(|(id, (ring, ends))| {
                let mut proxy = Proxy::new(&cfg, id, n, Instant::now());
                proxy.set_nodes(Arc::clone(&nodes));
                Shard::new(Parts {
                    id,
                    proxy,
                    ring,
                    external: Some(0),
                    internal: Some(1),
                    probe: None,
                    mesh: Mesh::new(ends, Arc::clone(&fds)),
                    conns: super::conns::Conns::new(
                        id,
                        cfg.sip.streams,
                        super::layers::Layers::new(None, 65535, id),
                        std::time::Instant::now(),
                    ),
                    smpp: None,
                    http: None,
                    events: events.clone(),
                    snapshots: None,
                    updates: crossbeam_channel::bounded(1).1,
                    control: None,
                    stats: Arc::new(crate::stats::board::Board::new(n)).publisher(id),
                })
            })
            .collect();
        Rig {
            shards,
            ext,
            int,
            uac,
            node,
            allocs: 0,
        }
    }

    /// Turn every shard until `peer` receives a datagram; returns its text.
    fn until_received(&mut self, at_node: bool) -> String {
        let deadline = Instant::now() + STEP;
        let mut buf = vec![0u8; 65536];
        loop {
            let before = allocations();
            for shard in &mut self.shards {
                shard.turn(Duration::ZERO).unwrap();
            }
            self.allocs += allocations() - before;
            let peer = if at_node { &self.node } else { &self.uac };
            if let Ok((n, _)) = peer.recv_from(&mut buf) {
                return String::from_utf8_lossy(&buf[..n]).into_owned();
            }
            assert!(Instant::now() < deadline, "nothing arrived");
        }
    }

    /// Datagrams handed to another shard so far.
    fn hand_offs(&self) -> u64 {
        self.shards.iter().map(Shard::hand_offs).sum()
    }

    /// One call: INVITE → (100, INVITE at node) → 200 → BYE → 200.
    fn call(&mut self, i: u32) {
        let uac = self.uac.local_addr().unwrap();
        self.transaction(&invite(i, uac), "INVITE ", true);
        self.transaction(&bye(i, uac), "BYE ", false);
    }

    /// The UAC sends `request`; it reaches the node (after a 100 Trying to
    /// the UAC when `trying`), the node answers 200, the 200 reaches the UAC.
    fn transaction(&mut self, request: &str, method: &str, trying: bool) -> String {
        self.uac.send_to(request.as_bytes(), self.ext).unwrap();
        if trying {
            let t = self.until_received(false);
            assert!(t.starts_with("SIP/2.0 100"), "{t}");
        }
        let at_node = self.until_received(true);
        assert!(at_node.starts_with(method), "{at_node}");
        self.node
            .send_to(ok(&at_node).as_bytes(), self.int)
            .unwrap();
        let answer = self.until_received(false);
        assert!(answer.starts_with("SIP/2.0 200"), "{answer}");
        answer
    }
}

fn invite(i: u32, uac: SocketAddr) -> String {
    format!(
        "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {uac};branch=z9hG4bK-inv-{i};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@a.example>;tag=a{i}\r\n\
         To: <sip:bob@b.example>\r\n\
         Call-ID: alloc-test-{i}@a.example\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice@{uac}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: 4\r\n\r\nv=0\n"
    )
}

fn bye(i: u32, uac: SocketAddr) -> String {
    format!(
        "BYE sip:bob@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {uac};branch=z9hG4bK-bye-{i};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@a.example>;tag=a{i}\r\n\
         To: <sip:bob@b.example>;tag=b{i}\r\n\
         Call-ID: alloc-test-{i}@a.example\r\n\
         CSeq: 2 BYE\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// A node's 200 OK to `request`: its Vias, Record-Routes, From, To (with
/// a tag), Call-ID and CSeq.
fn ok(request: &str) -> String {
    let mut msg = String::from("SIP/2.0 200 OK\r\n");
    for line in request.split("\r\n").skip(1) {
        if line.is_empty() {
            break;
        }
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match name.as_str() {
            "via" | "record-route" | "from" | "call-id" | "cseq" => {
                msg.push_str(line);
                msg.push_str("\r\n");
            }
            "to" if !line.contains("tag=") => {
                msg.push_str(line);
                msg.push_str(";tag=b\r\n");
            }
            "to" => {
                msg.push_str(line);
                msg.push_str("\r\n");
            }
            _ => {}
        }
    }
    msg.push_str("Content-Length: 0\r\n\r\n");
    msg
}

#[test]
fn shard_loop_forwards_without_allocating_once_warm() {
    let mut rig = Rig::new(1);
    for i in 0..100 {
        rig.call(i);
    }
    // Warming up does allocate (send-slot buffers, output buffers grow to
    // the largest message): proof that the counter sees the shard's turns.
    assert!(rig.allocs > 0, "the counter counts");
    rig.allocs = 0;
    for i in 100..300 {
        rig.call(i);
    }
    // 200 calls: 4 forwarded messages and one 100 Trying each, through the
    // real ring, proxy, affinity table and send slots.
    assert_eq!(rig.allocs, 0, "heap allocations in 200 warm calls");
}

#[test]
fn policies_do_not_allocate_once_warm() {
    // Public-address patching of every response, a routing rule evaluated
    // on every request (it does not match: the patching stays on), the
    // Route host filter and the scanner check (default values).
    let mut rig = Rig::with(
        1,
        "  publicIp: 203.0.113.7\n  matchingHostnameForRoute: lb.example.com\n  \
         routingRulesIpv4: [ { ipPattern: '10\\..*', patch: false } ]\n",
    );
    for i in 0..100 {
        rig.call(i);
    }
    rig.allocs = 0;
    for i in 100..300 {
        rig.call(i);
    }
    assert_eq!(rig.allocs, 0, "heap allocations in 200 warm calls");
    let uac = rig.uac.local_addr().unwrap();
    let answer = rig.transaction(&invite(300, uac), "INVITE ", true);
    assert!(
        answer.contains("Record-Route: <sip:203.0.113.7:"),
        "the 200 was patched: {answer}"
    );
}

#[test]
fn hand_offs_between_shards_stop_allocating_once_warm() {
    let mut rig = Rig::new(2);
    for i in 0..100 {
        rig.call(i);
    }
    rig.allocs = 0;
    let before = rig.hand_offs();
    for i in 100..300 {
        rig.call(i);
    }
    // The UAC's datagrams all reach one shard (SO_REUSEPORT hashes its
    // 4-tuple); about half the Call-IDs live on the other one, so their
    // INVITE and BYE hop, through the inbox, the doorbell and back with
    // the buffer for reuse.
    assert!(
        rig.hand_offs() - before > 100,
        "calls hopped between shards"
    );
    assert_eq!(
        rig.allocs, 0,
        "heap allocations in 200 warm calls over two shards"
    );
}
