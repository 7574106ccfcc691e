//! Loopback UDP peers: port allocation, a plain peer, a fake node that
//! answers the balancer's probes, and a heartbeat sender.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::sip::{heartbeat, heartbeat_body, reply, Msg};

/// Ports below the kernel's ephemeral range (32768..) so nothing the
/// kernel hands out to `bind(0)` can steal them. Each test binary (one
/// process) starts at its own offset derived from its pid, and each call
/// takes the next port that is free for both UDP and TCP right now.
const PORT_LO: u16 = 20_000;
const PORT_SPAN: u16 = 12_000;

static NEXT_PORT: AtomicU16 = AtomicU16::new(0);

/// A loopback port that was free a moment ago, never handed out twice in
/// this process.
pub fn free_port() -> u16 {
    let _ = NEXT_PORT.compare_exchange(
        0,
        (std::process::id() % u32::from(PORT_SPAN / 400)) as u16 * 400,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..PORT_SPAN {
        let off = NEXT_PORT.fetch_add(1, Ordering::SeqCst) % PORT_SPAN;
        let port = PORT_LO + off;
        let udp = UdpSocket::bind(("127.0.0.1", port)).is_ok();
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
        if udp && tcp {
            return port;
        }
    }
    panic!(
        "no free loopback port in {PORT_LO}..{}",
        PORT_LO + PORT_SPAN
    )
}

/// `127.0.0.1:port`.
pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A UDP socket on loopback.
pub struct UdpPeer {
    /// The socket.
    pub sock: UdpSocket,
    /// Its bound address.
    pub addr: SocketAddr,
}

impl UdpPeer {
    /// Binds `127.0.0.1:0`.
    pub fn new() -> UdpPeer {
        UdpPeer::bind(0)
    }

    /// Binds `127.0.0.1:port`.
    pub fn bind(port: u16) -> UdpPeer {
        let sock = UdpSocket::bind(local(port)).expect("bind udp peer");
        let addr = sock.local_addr().expect("local addr");
        UdpPeer { sock, addr }
    }

    /// Sends one datagram.
    pub fn send(&self, bytes: &[u8], to: SocketAddr) {
        self.sock.send_to(bytes, to).expect("send_to");
    }

    /// Next datagram within `dur`.
    pub fn recv_timeout(&self, dur: Duration) -> Option<(Vec<u8>, SocketAddr)> {
        let deadline = Instant::now() + dur;
        let mut buf = vec![0u8; 65_536];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            if left.is_zero() {
                return None;
            }
            self.sock.set_read_timeout(Some(left)).expect("timeout");
            match self.sock.recv_from(&mut buf) {
                Ok((n, from)) => return Some((buf[..n].to_vec(), from)),
                // ICMP port unreachable from an earlier send surfaces here.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                Err(_) => return None,
            }
        }
    }

    /// Next datagram as a SIP message.
    pub fn recv_msg(&self, dur: Duration) -> Option<(Msg, SocketAddr)> {
        self.recv_timeout(dur).map(|(b, a)| (Msg::parse(&b), a))
    }

    /// Next response with this status within `dur`, skipping others
    /// (e.g. `100 Trying`). Every skipped message is bounded by `dur`.
    pub fn recv_status(&self, code: u16, dur: Duration) -> Option<Msg> {
        let deadline = Instant::now() + dur;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let (m, _) = self.recv_msg(left)?;
            if m.status() == Some(code) {
                return Some(m);
            }
        }
        None
    }
}

impl Default for UdpPeer {
    fn default() -> Self {
        UdpPeer::new()
    }
}

/// True if `m` is one of the balancer's active probes.
pub fn is_probe(m: &Msg) -> bool {
    m.method() == Some("OPTIONS")
        && m.call_id()
            .map(|c| c.starts_with("lbprobe-"))
            .unwrap_or(false)
}

/// A node played by the test: a UDP socket whose background thread answers
/// the balancer's OPTIONS probes (Call-ID `lbprobe-…`) with 200 OK and
/// queues every other datagram for the test to inspect.
pub struct FakeNode {
    /// The node's socket (shared with the reader thread).
    pub peer: Arc<UdpPeer>,
    rx: Receiver<(Msg, SocketAddr)>,
    probes: Arc<AtomicUsize>,
    answer_probes: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeNode {
    /// Binds `127.0.0.1:port` (0 = any) and starts answering probes.
    pub fn bind(port: u16) -> FakeNode {
        let peer = Arc::new(UdpPeer::bind(port));
        let (tx, rx) = mpsc::channel();
        let probes = Arc::new(AtomicUsize::new(0));
        let answer_probes = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peer, probes, answer, stop) = (
                peer.clone(),
                probes.clone(),
                answer_probes.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Some((m, from)) = peer.recv_msg(Duration::from_millis(50)) else {
                        continue;
                    };
                    if is_probe(&m) {
                        if answer.load(Ordering::SeqCst) {
                            peer.send(&reply(&m, 200, "OK", "probe"), from);
                            probes.fetch_add(1, Ordering::SeqCst);
                        }
                        continue;
                    }
                    if tx.send((m, from)).is_err() {
                        return;
                    }
                }
            })
        };
        FakeNode {
            peer,
            rx,
            probes,
            answer_probes,
            stop,
            thread: Some(thread),
        }
    }

    /// A node on a fresh port.
    pub fn new() -> FakeNode {
        FakeNode::bind(free_port())
    }

    /// The node's address.
    pub fn addr(&self) -> SocketAddr {
        self.peer.addr
    }

    /// Next non-probe message within `dur`.
    pub fn expect_request(&self, dur: Duration) -> Option<(Msg, SocketAddr)> {
        self.rx.recv_timeout(dur).ok()
    }

    /// Next non-probe message within `dur`; panics with `what` if none.
    pub fn must_get(&self, dur: Duration, what: &str) -> (Msg, SocketAddr) {
        self.expect_request(dur)
            .unwrap_or_else(|| panic!("node {} received nothing: {what}", self.addr()))
    }

    /// True if nothing but probes arrives during `dur`.
    pub fn silent_for(&self, dur: Duration) -> bool {
        self.expect_request(dur).is_none()
    }

    /// Drains every queued message.
    pub fn drain(&self) -> Vec<Msg> {
        self.rx.try_iter().map(|(m, _)| m).collect()
    }

    /// Probes answered so far.
    pub fn probes_answered(&self) -> usize {
        self.probes.load(Ordering::SeqCst)
    }

    /// Stops (or resumes) answering probes, as a dead node would.
    pub fn answer_probes(&self, on: bool) {
        self.answer_probes.store(on, Ordering::SeqCst);
    }

    /// Waits until at least `n` probes were answered, up to `dur`.
    pub fn wait_probed(&self, n: usize, dur: Duration) -> bool {
        wait_until(dur, || self.probes_answered() >= n)
    }

    /// Sends bytes from the node's socket.
    pub fn send(&self, bytes: &[u8], to: SocketAddr) {
        self.peer.send(bytes, to);
    }
}

impl Default for FakeNode {
    fn default() -> Self {
        FakeNode::new()
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Polls `cond` every 20 ms for at most `dur`.
pub fn wait_until(dur: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + dur;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `OPTIONS` heartbeats (`Mobicents-Heartbeat: 1`) announcing a node
/// to the balancer's internal port from its own socket, every `period`,
/// until dropped. Counts the 200 OKs it gets back.
pub struct Heartbeater {
    acks: Arc<AtomicUsize>,
    graceful: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Heartbeater {
    /// Starts announcing `127.0.0.1:node_port` to `lb_internal`.
    pub fn start(lb_internal: SocketAddr, node_port: u16, period: Duration) -> Heartbeater {
        Heartbeater::start_with(lb_internal, node_port, period, "")
    }

    /// Like `start`, with `extra` property lines (e.g. `tcpPort=5070\n`).
    pub fn start_with(
        lb_internal: SocketAddr,
        node_port: u16,
        period: Duration,
        extra: &str,
    ) -> Heartbeater {
        let extra = extra.to_string();
        let acks = Arc::new(AtomicUsize::new(0));
        let graceful = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (acks, graceful, stop) = (acks.clone(), graceful.clone(), stop.clone());
            std::thread::spawn(move || {
                let peer = UdpPeer::new();
                let name = format!("node{node_port}");
                let mut seq = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    seq += 1;
                    let mut body =
                        heartbeat_body(&name, node_port, graceful.load(Ordering::SeqCst));
                    body.push_str(&extra);
                    peer.send(
                        &heartbeat("OPTIONS", peer.addr, lb_internal, seq, &body),
                        lb_internal,
                    );
                    let next = Instant::now() + period;
                    while let Some(left) = next.checked_duration_since(Instant::now()) {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let step = left.min(Duration::from_millis(50));
                        if let Some((m, _)) = peer.recv_msg(step) {
                            if m.status() == Some(200) {
                                acks.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                }
            })
        };
        Heartbeater {
            acks,
            graceful,
            stop,
            thread: Some(thread),
        }
    }

    /// 200 OKs received so far.
    pub fn acks(&self) -> usize {
        self.acks.load(Ordering::SeqCst)
    }

    /// Waits for the first acknowledged heartbeat (the node is then known),
    /// plus a short grace for the registry snapshot to reach every shard.
    pub fn wait_registered(&self, dur: Duration) -> bool {
        let ok = wait_until(dur, || self.acks() >= 1);
        std::thread::sleep(Duration::from_millis(150));
        ok
    }

    /// Adds `GRACEFUL_SHUTDOWN=true` to subsequent heartbeats.
    pub fn set_graceful(&self, on: bool) {
        self.graceful.store(on, Ordering::SeqCst);
    }

    /// Stops sending (same as drop).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Heartbeater {
    fn drop(&mut self) {
        self.halt();
    }
}
