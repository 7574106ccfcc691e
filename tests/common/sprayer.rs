//! A userspace stand-in for an IP load balancer (IPVS / ECMP) on loopback:
//! one client-facing UDP address sprays datagrams over several backends,
//! round robin per datagram, while keeping each source's identity like a
//! NAT: every distinct source gets its own upstream socket, and whatever a
//! backend sends to that socket is relayed back to the source from the
//! client-facing address. Every forwarded datagram is logged (backend,
//! source, start line, Call-ID) for the test to inspect.

use std::collections::hash_map::{Entry, HashMap};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::net::local;
use super::sip::Msg;

/// How often the threads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// One datagram the sprayer sent to a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// Index of the backend in the list given to [`Sprayer::start`].
    pub backend: usize,
    /// The client that sent it.
    pub src: SocketAddr,
    /// Its first line (request line or status line).
    pub start_line: String,
    /// Its Call-ID, if it has one.
    pub call_id: Option<String>,
}

impl Forwarded {
    /// The request method, `None` for a response.
    pub fn method(&self) -> Option<&str> {
        if self.start_line.starts_with("SIP/2.0 ") {
            return None;
        }
        self.start_line.split(' ').next()
    }
}

/// What crossed the sprayer so far.
#[derive(Debug, Clone, Default)]
pub struct SprayLog {
    /// Client → backend datagrams, in the order sent.
    pub forwarded: Vec<Forwarded>,
    /// Backend → client datagrams relayed back through the upstream sockets.
    pub relayed_back: usize,
    /// Distinct sources seen (= upstream sockets opened).
    pub sources: usize,
    /// Sends that failed (either direction).
    pub send_errors: usize,
}

impl SprayLog {
    /// Datagrams sent to backend `i`.
    pub fn to_backend(&self, i: usize) -> usize {
        self.forwarded.iter().filter(|f| f.backend == i).count()
    }
}

/// State shared by the sprayer's threads.
struct Shared {
    log: Mutex<SprayLog>,
    stop: AtomicBool,
    /// Upstream reader threads, joined on drop.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A running sprayer.
pub struct Sprayer {
    /// The client-facing address (the IP-LB address the balancers announce).
    pub addr: SocketAddr,
    /// Where datagrams go, round robin.
    pub backends: Vec<SocketAddr>,
    shared: Arc<Shared>,
    front: Option<JoinHandle<()>>,
}

impl Sprayer {
    /// Binds `127.0.0.1:port` and starts spraying over `backends`.
    pub fn start(port: u16, backends: Vec<SocketAddr>) -> Sprayer {
        assert!(!backends.is_empty(), "sprayer needs a backend");
        let sock = UdpSocket::bind(local(port)).expect("bind sprayer");
        sock.set_read_timeout(Some(POLL)).expect("read timeout");
        let addr = sock.local_addr().expect("sprayer addr");
        let shared = Arc::new(Shared {
            log: Mutex::new(SprayLog::default()),
            stop: AtomicBool::new(false),
            threads: Mutex::new(Vec::new()),
        });
        let front = {
            let (shared, backends) = (shared.clone(), backends.clone());
            std::thread::spawn(move || front_loop(&sock, &backends, &shared))
        };
        Sprayer {
            addr,
            backends,
            shared,
            front: Some(front),
        }
    }

    /// A copy of the log so far.
    pub fn log(&self) -> SprayLog {
        self.shared.log.lock().expect("sprayer log").clone()
    }
}

impl Drop for Sprayer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.front.take() {
            let _ = t.join();
        }
        let threads = std::mem::take(&mut *self.shared.threads.lock().expect("threads"));
        for t in threads {
            let _ = t.join();
        }
    }
}

/// Reads the client-facing socket; sends each datagram through its source's
/// upstream socket to the next backend.
fn front_loop(front: &UdpSocket, backends: &[SocketAddr], shared: &Arc<Shared>) {
    let mut upstream: HashMap<SocketAddr, UdpSocket> = HashMap::new();
    let mut next = 0usize;
    let mut buf = vec![0u8; 65_536];
    while !shared.stop.load(Ordering::SeqCst) {
        let Ok((n, src)) = front.recv_from(&mut buf) else {
            continue;
        };
        let Some(data) = buf.get(..n) else { continue };
        let sock = match upstream.entry(src) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => match open_upstream(front, src, shared) {
                Some(sock) => e.insert(sock),
                None => continue,
            },
        };
        let backend = next % backends.len();
        next += 1;
        let _ = sock.send_to(data, backends[backend]);
        let msg = Msg::parse(data);
        let entry = Forwarded {
            backend,
            src,
            start_line: msg.start_line().to_string(),
            call_id: msg.call_id(),
        };
        shared
            .log
            .lock()
            .expect("sprayer log")
            .forwarded
            .push(entry);
    }
}

/// A fresh upstream socket for `src` and the thread relaying what comes
/// back on it to `src` from the client-facing socket.
fn open_upstream(front: &UdpSocket, src: SocketAddr, shared: &Arc<Shared>) -> Option<UdpSocket> {
    let sock = UdpSocket::bind(local(0)).ok()?;
    sock.set_read_timeout(Some(POLL)).ok()?;
    let (reader, back) = (sock.try_clone().ok()?, front.try_clone().ok()?);
    let thread = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !shared.stop.load(Ordering::SeqCst) {
                let Ok((n, _)) = reader.recv_from(&mut buf) else {
                    continue;
                };
                let Some(data) = buf.get(..n) else { continue };
                let sent = back.send_to(data, src).is_ok();
                let mut log = shared.log.lock().expect("sprayer log");
                log.relayed_back += 1;
                log.send_errors += usize::from(!sent);
            }
        })
    };
    shared.threads.lock().expect("threads").push(thread);
    shared.log.lock().expect("sprayer log").sources += 1;
    Some(sock)
}
