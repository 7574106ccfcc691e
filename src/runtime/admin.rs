//! The admin HTTP port (`statisticPort`, alias `apiPort`) on its own
//! thread, off the forwarding path: `/lbstat`, `/lbinfo`, `/metrics`,
//! `/lbloglevel`, `/lbstop`, `/lbnoderegex` (see [`crate::stats::admin_api`]
//! for what each answers).
//!
//! The thread blocks in `accept` with a receive timeout of [`TICK`] (of
//! [`POLL`] while request heads are arriving), so it wakes regularly to
//! take the registry's newest snapshot (it has its own snapshot queue,
//! like a shard) and the SMPP server list of the latest reload, sample the process's CPU time and notice the stop flag.
//! Request heads are read without blocking from up to [`MAX_PENDING`]
//! connections at once, each within [`HEAD_DEADLINE`] of its accept, so a
//! client trickling its head (slowloris) delays nobody; beyond that many,
//! the oldest one is dropped. A complete request is answered (writes
//! bounded by [`IO_TIMEOUT`]) and its connection closed. Counters come
//! from the shards' [`Board`]: summed here, on demand, with relaxed loads
//! — the shards never wait for this thread and never lock.
//!
//! `/lbstop` (the original's graceful stop for active-active keepalived
//! pairs): answer `423`, close the admin listener at once (a keepalived
//! check on the port then fails and the virtual IP moves to the peer), keep
//! forwarding for `shutdownTimeout` (10 s) so dialogs in progress can finish,
//! then wake the main thread, which stops the shards as on SIGTERM. During
//! the drain new calls are refused (the registry's snapshots offer no node
//! for them: `Event::Drain`) while dialogs under way go on.

mod logging;

pub use logging::init as init_logging;

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use log::{debug, info, warn};

use super::shutdown::{Closer, Stop};
use crate::config::Config;
use crate::registry::NodeSet;
use crate::stats::admin_api::{self, Credentials, Head, Request, Response, MAX_HEAD};
use crate::stats::board::Board;
use crate::stats::process::{self, CpuMeter, CpuTime, ProcessStats};
use crate::stats::view::{Facts, View};
use crate::stats::{lbstat, prometheus};

/// Longest the thread sleeps in `accept`: the bound on noticing stop and
/// on the age of its node snapshot.
const TICK: Duration = Duration::from_millis(100);

/// How often request heads that are still arriving are read.
const POLL: Duration = Duration::from_millis(5);

/// Per write of an answer.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// Longest a client may take to send its request head.
const HEAD_DEADLINE: Duration = Duration::from_secs(5);

/// Connections whose request head is still arriving; one more drops the
/// oldest.
const MAX_PENDING: usize = 32;

/// How often the CPU time is sampled for `JvmCpuUsage`.
const CPU_SAMPLE: Duration = Duration::from_secs(1);

/// Snapshots queued for the admin thread (it takes the newest every [`TICK`]).
const SNAPSHOT_QUEUE: usize = 16;

/// How the admin port behaves.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Port (bound on every IPv4 interface, as the original).
    pub(crate) port: u16,
    /// `/lbstop` → stop delay.
    pub(crate) drain: Duration,
    /// `/lbstop` credentials, when required.
    pub(crate) credentials: Option<Credentials>,
    /// What the answers report that never changes.
    pub(crate) facts: Facts,
}

/// What the thread reads from the rest of the process.
pub(crate) struct Inputs {
    /// The shards' published counters.
    pub(crate) board: Arc<Board>,
    /// The registry's snapshot at start.
    pub(crate) first: Arc<NodeSet>,
    /// Newer snapshots from shard 0.
    pub(crate) snapshots: Receiver<Arc<NodeSet>>,
    /// The process stop flag (the thread returns when it is set).
    pub(crate) stop: Stop,
    /// Wakes the main thread for `/lbstop`.
    pub(crate) closer: Closer,
    /// The registry's event queue (`/lbstop` starts the drain there).
    pub(crate) events: crossbeam_channel::Sender<crate::registry::Event>,
    /// `smpp.remoteServers` as reloads change it (`/lbinfo`).
    pub(crate) smpp_servers: Receiver<Vec<SocketAddr>>,
}

/// The running admin thread.
pub(crate) struct Admin {
    thread: JoinHandle<()>,
}

// === impl Settings ===

impl Settings {
    /// The admin settings of `cfg`; `None` when the port is off.
    pub(crate) fn for_config(cfg: &Config) -> Option<Settings> {
        let port = cfg.stats.port?;
        let sip = cfg.sip.enabled;
        let external_udp = sip && cfg.sip.external.ports.udp.is_some();
        let internal_udp = sip
            && cfg
                .sip
                .internal
                .as_ref()
                .is_some_and(|l| l.ports.udp.is_some());
        Some(Settings {
            port,
            drain: cfg.stats.shutdown_timeout,
            credentials: cfg
                .stats
                .stop_credentials
                .as_ref()
                .map(|(login, password)| Credentials {
                    login: login.clone(),
                    password: password.clone(),
                }),
            facts: Facts {
                udp_listeners: u64::from(external_udp) + u64::from(internal_udp),
                smpp_servers: cfg.smpp.remote_servers.clone(),
            },
        })
    }
}

/// An admin port bound before the shards start, with its snapshot queue.
pub(crate) struct Prepared {
    settings: Settings,
    listener: TcpListener,
    snapshots: Receiver<Arc<NodeSet>>,
}

/// Bind the admin port of `cfg`, if it has one, and subscribe it to the
/// registry's snapshots (one more queue in `publishers`). Called before any
/// shard starts, so a busy port fails the start.
pub(crate) fn prepare(
    cfg: &Config,
    publishers: &mut Vec<Sender<Arc<NodeSet>>>,
) -> io::Result<Option<Prepared>> {
    let Some(settings) = Settings::for_config(cfg) else {
        return Ok(None);
    };
    let listener = bind(&settings)?;
    let (tx, snapshots) = crossbeam_channel::bounded(SNAPSHOT_QUEUE);
    publishers.push(tx);
    Ok(Some(Prepared {
        settings,
        listener,
        snapshots,
    }))
}

// === impl Prepared ===

impl Prepared {
    /// Start serving (once the shards run); `None`, logged, if the thread
    /// cannot be started: the balancer then runs without its admin port.
    pub(crate) fn start(
        self,
        board: Arc<Board>,
        first: Arc<NodeSet>,
        stop: Stop,
        closer: Closer,
        events: crossbeam_channel::Sender<crate::registry::Event>,
        smpp_servers: Receiver<Vec<SocketAddr>>,
    ) -> Option<Admin> {
        let inputs = Inputs {
            board,
            first,
            snapshots: self.snapshots,
            stop,
            closer,
            events,
            smpp_servers,
        };
        spawn(self.listener, self.settings, inputs)
            .map_err(|e| warn!("admin port not served: cannot start its thread: {e}"))
            .ok()
    }
}

/// Bind the admin listener.
pub(crate) fn bind(settings: &Settings) -> io::Result<TcpListener> {
    let addr = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), settings.port);
    let listener = TcpListener::bind(addr).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot bind the statistics port (statisticPort) {addr}: {e}"),
        )
    })?;
    // accept() honours SO_RCVTIMEO on Linux: the thread's tick.
    socket2::SockRef::from(&listener).set_read_timeout(Some(TICK))?;
    info!("listening admin/http {addr} (/lbstat /lbinfo /metrics /lbloglevel /lbstop)");
    Ok(listener)
}

/// Start the admin thread on `listener`.
pub(crate) fn spawn(
    listener: TcpListener,
    settings: Settings,
    inputs: Inputs,
) -> io::Result<Admin> {
    let server = Server {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        listener: Some(listener),
        pending: Vec::new(),
        settings,
        nodes: Arc::clone(&inputs.first),
        inputs,
        cpu: CpuMeter::default(),
        next_cpu_sample: Instant::now(),
    };
    let thread = std::thread::Builder::new()
        .name("admin".into())
        .spawn(move || server.run())?;
    Ok(Admin { thread })
}

// === impl Admin ===

impl Admin {
    /// Wait for the thread (it returns within [`TICK`] of the stop flag).
    pub(crate) fn join(self) {
        if self.thread.join().is_err() {
            warn!("the admin thread panicked");
        }
    }
}

struct Server {
    listener: Option<TcpListener>,
    /// Accepted connections whose request head is still arriving, oldest first.
    pending: Vec<Pending>,
    settings: Settings,
    inputs: Inputs,
    nodes: Arc<NodeSet>,
    cpu: CpuMeter,
    next_cpu_sample: Instant,
    cpus: usize,
}

// === impl Server ===

impl Server {
    fn run(mut self) {
        while !self.inputs.stop.is_set() {
            self.tick(Instant::now());
            let Some(listener) = &self.listener else {
                return;
            };
            let wait = if self.pending.is_empty() { TICK } else { POLL };
            // accept() honours SO_RCVTIMEO on Linux.
            let _ = socket2::SockRef::from(listener).set_read_timeout(Some(wait));
            match listener.accept() {
                Ok((stream, peer)) => self.admit(stream, peer),
                Err(e) if is_timeout(&e) => {}
                Err(e) => {
                    debug!("admin: accept: {e}");
                    std::thread::sleep(wait);
                }
            }
            if self.read_heads(Instant::now()) {
                return self.stop_after_drain();
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        if let Some(nodes) = self.inputs.snapshots.try_iter().last() {
            self.nodes = nodes;
        }
        if let Some(servers) = self.inputs.smpp_servers.try_iter().last() {
            self.settings.facts.smpp_servers = servers;
        }
        if now >= self.next_cpu_sample {
            self.next_cpu_sample = now + CPU_SAMPLE;
            if let Some(cpu) = read_cpu() {
                self.cpu.sample(now, cpu, self.cpus, CPU_SAMPLE / 2);
            }
        }
    }

    /// Start reading the request head of a new connection.
    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) {
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        if self.pending.len() >= MAX_PENDING {
            let oldest = self.pending.remove(0);
            debug!(
                "admin: {MAX_PENDING} request heads pending, {} dropped",
                oldest.peer
            );
        }
        self.pending.push(Pending {
            stream,
            peer,
            buf: Vec::with_capacity(1024),
            deadline: Instant::now() + HEAD_DEADLINE,
        });
    }

    /// Read what arrived on every pending connection; answer the complete,
    /// the broken and the late ones. True if one asked to stop.
    fn read_heads(&mut self, now: Instant) -> bool {
        let mut stop = false;
        let mut i = 0;
        while i < self.pending.len() {
            let Some(p) = self.pending.get_mut(i) else {
                break;
            };
            match p.poll(now) {
                Progress::Waiting => i += 1,
                Progress::Gone => {
                    self.pending.swap_remove(i);
                }
                Progress::Answer(r) => {
                    let mut p = self.pending.swap_remove(i);
                    to_blocking(&p.stream);
                    answer(&mut p.stream, &r);
                }
                Progress::Request(target) => {
                    let p = self.pending.swap_remove(i);
                    stop |= self.serve(p.stream, p.peer, &target);
                }
            }
        }
        stop
    }

    /// Answer the request for `target`; true if it asked to stop.
    fn serve(&mut self, mut stream: TcpStream, peer: SocketAddr, target: &str) -> bool {
        to_blocking(&stream);
        debug!("admin: {peer} {target}");
        let response = match admin_api::route(target, self.settings.credentials.as_ref()) {
            Request::LbStat => self.render(|v| Response::ok(admin_api::JSON, lbstat::lbstat(v))),
            Request::LbInfo => self.render(|v| Response::ok(admin_api::JSON, lbstat::lbinfo(v))),
            Request::Metrics => self.render(|v| {
                Response::ok(prometheus::CONTENT_TYPE, prometheus::render(v).into_bytes())
            }),
            Request::SetLogLevel(level) => {
                info!("admin: log level set to {level} by {peer}");
                logging::set_level(level);
                Response::log_level_changed()
            }
            Request::Stop => {
                info!("admin: /lbstop from {peer}");
                answer(&mut stream, &Response::stopping());
                return true;
            }
            Request::Answer(r) => r,
        };
        answer(&mut stream, &response)
    }

    /// Read the board, the process figures and the snapshot, and render.
    fn render(&self, f: impl FnOnce(&View<'_>) -> Response) -> Response {
        let owned = self.view();
        f(&View::from(&owned))
    }

    fn view(&self) -> OwnedView {
        let cpu = read_cpu();
        let rss = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| process::parse_rss(&s));
        OwnedView {
            totals: self.inputs.board.read(),
            nodes: Arc::clone(&self.nodes),
            process: ProcessStats {
                cpu_percent: self.cpu.percent(),
                cpu_seconds: cpu.map_or(0.0, CpuTime::seconds),
                rss_bytes: rss.unwrap_or(0),
            },
            facts: self.settings.facts.clone(),
        }
    }

    /// `/lbstop`: close the port, keep forwarding for the drain time
    /// (cut short by SIGTERM/SIGINT), then wake the main thread to stop.
    fn stop_after_drain(mut self) {
        self.listener = None;
        let drain = self.settings.drain;
        // Blocking send: the registry drains its queue every turn, and a
        // drain that is not started would take new calls until the end.
        if self
            .inputs
            .events
            .send(crate::registry::Event::Drain)
            .is_err()
        {
            warn!("admin: the registry is gone: new calls are not refused during the drain");
        }
        info!("admin: port closed; new calls refused, dialogs under way go on for {drain:?}, then stopping");
        let until = Instant::now() + drain;
        while !self.inputs.stop.is_set() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(TICK));
        }
        info!("admin: drain over, stopping");
        self.inputs.closer.close();
    }
}

/// An accepted connection whose request head is still arriving.
struct Pending {
    stream: TcpStream,
    peer: SocketAddr,
    buf: Vec<u8>,
    /// The head must be complete by then.
    deadline: Instant,
}

/// Where a pending connection stands after a read.
enum Progress {
    /// More of the head to come.
    Waiting,
    /// The client closed or the connection failed: drop it.
    Gone,
    /// Answer this (a bad, oversized or late head) and close.
    Answer(Response),
    /// The head is complete: serve this target.
    Request(String),
}

// === impl Pending ===

impl Pending {
    /// Read what has arrived (without blocking) and look at the head.
    fn poll(&mut self, now: Instant) -> Progress {
        let mut chunk = [0u8; 2048];
        loop {
            let room = (MAX_HEAD + 4)
                .saturating_sub(self.buf.len())
                .min(chunk.len());
            if room == 0 {
                return Progress::Answer(Response::text(400, "Request head too long"));
            }
            match self.stream.read(chunk.get_mut(..room).unwrap_or_default()) {
                Ok(0) => return Progress::Gone,
                Ok(n) => self
                    .buf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                Err(e) if is_timeout(&e) => break,
                Err(_) => return Progress::Gone,
            }
            match admin_api::parse_head(&self.buf) {
                Head::Partial => {}
                Head::Complete { target, .. } => return Progress::Request(target.to_owned()),
                Head::Invalid => return Progress::Answer(Response::text(400, "Bad request")),
            }
        }
        if now >= self.deadline {
            return Progress::Answer(Response::text(400, "Request head too slow"));
        }
        Progress::Waiting
    }
}

/// What a [`View`] borrows, read for one answer.
struct OwnedView {
    totals: crate::stats::board::Totals,
    nodes: Arc<NodeSet>,
    process: ProcessStats,
    facts: Facts,
}

impl<'a> From<&'a OwnedView> for View<'a> {
    fn from(o: &'a OwnedView) -> View<'a> {
        View {
            totals: &o.totals,
            nodes: &o.nodes,
            process: o.process,
            facts: &o.facts,
        }
    }
}

/// Back to blocking writes, each bounded by [`IO_TIMEOUT`], for the answer.
fn to_blocking(stream: &TcpStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
}

/// Write `r` and close; never asks to stop.
fn answer(stream: &mut TcpStream, r: &Response) -> bool {
    if let Err(e) = stream
        .write_all(&r.to_bytes())
        .and_then(|()| stream.flush())
    {
        debug!("admin: answer not sent: {e}");
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    false
}

fn read_cpu() -> Option<CpuTime> {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| CpuTime::parse(&s))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
