//! A flood of distinct Call-IDs against the Call-ID affinity table: a
//! million OPTIONS, each with a Call-ID never seen before (each one makes
//! the balancer pick a node and remember it), sent as fast as the balancer
//! takes them (a window of requests in flight, counted at the node), with
//! `callIdAffinityMaxEntries` set to 100,000.
//!
//! The bound on the RSS growth comes from the table's size: an entry is a
//! `u64` key and a `u32` node id (16 bytes + 1 control byte in hashbrown);
//! 100,000 entries in two generations of at most 50,000 are 2 × 65,536
//! buckets ≈ 2.2 MiB. The same flood into a table bounded at 1,000,000 (the
//! default) or not at all needs 2²⁰–2²¹ buckets ≈ 18–36 MiB, more while a
//! map grows (measured: +50 MiB with the default bound, +2.6 MiB with
//! 100,000). The test allows 16 MiB: the bounded table and the allocator's
//! slack fit, a table that does not evict does not.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::common::{local, wait_until, Balancer, Heartbeater, HeavyGuard, LbConfig, Req};
use super::rss_bytes;

/// Distinct Call-IDs sent.
const CALL_IDS: u64 = 1_000_000;
/// `algorithm.callIdAffinityMaxEntries` of the balancer.
const MAX_ENTRIES: u64 = 100_000;
/// Allowed RSS growth over the flood (see the module documentation).
const RSS_BOUND: u64 = 16 << 20;
/// Requests sent and not yet at the node.
const WINDOW: u64 = 2048;
/// Requests sent before the first RSS reading (rings, buffers and the
/// table's first growth).
const WARMUP: u64 = 20_000;
/// The flood must be over by then.
const FLOOD_LIMIT: Duration = Duration::from_secs(60);
/// Socket buffers of the client and the node.
const SOCKET_BUFFER: usize = 4 << 20;

#[test]
fn a_million_call_ids_keep_rss_bounded_and_the_balancer_answering() {
    let _heavy = HeavyGuard::take();
    let node = Sink::start();
    let mut cfg = LbConfig::two_legs();
    cfg.send_trying = false;
    cfg.algorithm_extra = format!(", callIdAffinityMaxEntries: {MAX_ENTRIES}");
    let lb = Balancer::start(&cfg);
    let hb = Heartbeater::start(lb.internal, node.port, Duration::from_millis(200));
    assert!(
        hb.wait_registered(Duration::from_secs(5)),
        "node registered"
    );

    let mut client = Flood::new(lb.external);
    client.send(0, WARMUP, &node);
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_bytes(lb.pid()).expect("balancer RSS");
    let t = Instant::now();
    client.send(WARMUP, WARMUP + CALL_IDS, &node);
    let took = t.elapsed();
    assert!(
        node.settled(Duration::from_secs(5)),
        "requests still arriving"
    );
    let after = rss_bytes(lb.pid()).expect("balancer RSS");
    let arrived = node.count() - WARMUP;
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    eprintln!(
        "{CALL_IDS} Call-IDs in {took:?} ({:.0}/s), {arrived} at the node; RSS {:.1} MiB -> {:.1} MiB (+{:.1} MiB)",
        CALL_IDS as f64 / took.as_secs_f64(),
        mib(before),
        mib(after),
        mib(after.saturating_sub(before))
    );
    assert!(took < FLOOD_LIMIT, "flood took {took:?}");
    assert!(
        arrived * 100 >= CALL_IDS * 99,
        "only {arrived} of {CALL_IDS} reached the node"
    );
    assert!(
        after.saturating_sub(before) < RSS_BOUND,
        "RSS grew {} bytes ({before} -> {after})",
        after - before
    );

    // Still forwarding: one more new Call-ID reaches the node.
    let seen = node.count();
    client.send(u64::MAX - 1, u64::MAX, &node);
    assert!(
        wait_until(Duration::from_secs(3), || node.count() > seen),
        "a request after the flood is forwarded"
    );
    drop(hb);
    lb.stop();
}

/// The client: one socket, one OPTIONS template whose Call-ID digits are
/// rewritten in place.
struct Flood {
    sock: UdpSocket,
    lb: SocketAddr,
    buf: Vec<u8>,
    /// Where the 20 Call-ID digits start in `buf`.
    digits: usize,
}

impl Flood {
    fn new(lb: SocketAddr) -> Flood {
        let sock = UdpSocket::bind(local(0)).expect("bind client");
        socket2::SockRef::from(&sock)
            .set_send_buffer_size(SOCKET_BUFFER)
            .ok();
        let me = sock.local_addr().expect("addr");
        let cid = format!("flood-{:020}@127.0.0.1", 0);
        let buf = Req::new(
            "OPTIONS",
            &format!("sip:bob@{lb}"),
            me,
            &cid,
            "z9hG4bKflood",
        )
        .to_bytes();
        let digits = find(&buf, b"flood-0").expect("Call-ID in the template") + 6;
        Flood {
            sock,
            lb,
            buf,
            digits,
        }
    }

    /// Sends Call-IDs `from..to`, keeping at most [`WINDOW`] requests on
    /// the way to `node`; a window that does not move for 20 ms (datagrams
    /// lost) is released.
    fn send(&mut self, from: u64, to: u64, node: &Sink) {
        let base = node.count();
        for n in from..to {
            let sent_here = n - from;
            let mut waited = Instant::now();
            let mut last = node.count();
            while sent_here - (node.count() - base).min(sent_here) >= WINDOW {
                let now = node.count();
                if now != last {
                    (last, waited) = (now, Instant::now());
                } else if waited.elapsed() > Duration::from_millis(20) {
                    break;
                }
                std::thread::yield_now();
            }
            self.write_digits(n);
            let _ = self.sock.send_to(&self.buf, self.lb);
        }
    }

    fn write_digits(&mut self, mut n: u64) {
        for i in (0..20).rev() {
            self.buf[self.digits + i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
}

/// A node that counts what reaches it and answers nothing.
struct Sink {
    port: u16,
    count: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sink {
    fn start() -> Sink {
        let sock = UdpSocket::bind(local(0)).expect("bind node");
        socket2::SockRef::from(&sock)
            .set_recv_buffer_size(SOCKET_BUFFER)
            .ok();
        sock.set_read_timeout(Some(Duration::from_millis(50))).ok();
        let port = sock.local_addr().expect("addr").port();
        let (count, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let thread = {
            let (count, stop) = (Arc::clone(&count), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 65_536];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(n) = sock.recv(&mut buf) {
                        if find(&buf[..n], b"flood-").is_some() {
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        };
        Sink {
            port,
            count,
            stop,
            thread: Some(thread),
        }
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Waits (up to `dur`) until nothing arrived for 300 ms.
    fn settled(&self, dur: Duration) -> bool {
        let deadline = Instant::now() + dur;
        let mut last = self.count();
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(300));
            let now = self.count();
            if now == last {
                return true;
            }
            last = now;
        }
        false
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
