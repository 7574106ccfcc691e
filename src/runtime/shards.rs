//! Shards: one thread `shard-N` per configured CPU, pinned to it, each
//! running a [`Shard`] loop on its own io_uring.
//!
//! # Startup
//! Shards are started one after the other: thread N is spawned once shard
//! N-1 has pinned itself and built its ring, so a failure (bad CPU, io_uring
//! refused) is reported from [`start`] before anything serves. Each shard
//! then hands over a duplicate of its ring's descriptor and waits; once
//! every ring exists, the full list goes to every shard (hand-off doorbells
//! need the peers' rings) and they start serving. If a later shard fails,
//! the waiting ones are released without serving.
//!
//! # Why not glommio here
//! glommio's `UdpSocket` costs several syscalls, an allocation and a copy
//! per datagram and cannot batch (see `uring` and loadtest/README.md). A
//! shard's work is a loop over one ring, so the loop is written out here
//! instead of being a set of tasks on an executor.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::conns::Conns;
use super::control::Control;
use super::http::Http;
use super::layers::Layers;
use super::mesh::{Ends, Mesh};
use super::reload::Update;
use super::shard::{Parts, Shard};
use super::shutdown::{Closer, Stop};
use super::smpp::Smpp;
use super::uring::UdpRing;
use crate::config::{Config, Cores};
use crate::http::Settings as HttpSettings;
use crate::registry::{Event, NodeSet, Registry};
use crate::sip::proxy::{LegId, Proxy};
use crate::sip::transport::Transport;
use crate::smpp::proxy::Settings as SmppSettings;
use crate::stats::board::{Board, Publisher};
use crate::tls::TlsContext;

/// Everything one shard thread takes with it.
pub(crate) struct ShardSetup {
    /// Shard index.
    id: usize,
    /// Number of shards.
    shards: usize,
    cfg: Arc<Config>,
    /// The registry's first snapshot.
    first: Arc<NodeSet>,
    events: Sender<Event>,
    stop: Stop,
    /// This shard's ends of the mesh queues.
    mesh: Ends,
    external: Option<socket2::Socket>,
    internal: Option<socket2::Socket>,
    /// This shard's stream listeners: (leg, transport, socket).
    streams: Vec<(LegId, Transport, socket2::Socket)>,
    /// TLS settings, when any transport uses TLS.
    tls: Option<Arc<TlsContext>>,
    /// This shard's SMPP listeners: (socket, its address, TLS).
    smpp: Vec<(socket2::Socket, std::net::SocketAddr, bool)>,
    /// This shard's HTTP listeners: (socket, its address, HTTPS).
    http: Vec<(socket2::Socket, std::net::SocketAddr, bool)>,
    /// Where the shard publishes its counters.
    stats: Publisher,
    /// Settings from configuration reloads.
    updates: Receiver<Arc<Update>>,
    role: Role,
}

/// One stream listening address: a socket per shard.
pub(crate) struct StreamGroup {
    pub(crate) leg: LegId,
    pub(crate) transport: Transport,
    pub(crate) sockets: Vec<socket2::Socket>,
}

/// Shard 0 runs the registry; the others install what it publishes.
enum Role {
    Control(Box<ControlSetup>),
    Worker(Receiver<Arc<NodeSet>>),
}

/// What shard 0 needs to run the registry.
pub(crate) struct ControlSetup {
    /// The registry, built before the shards started.
    pub(crate) registry: Registry,
    /// Events from every shard.
    pub(crate) events: Receiver<Event>,
    /// Snapshot queues of shards 1..n, in shard order.
    pub(crate) publishers: Vec<Sender<Arc<NodeSet>>>,
    /// The probe socket (not SO_REUSEPORT), bound on the starting thread.
    pub(crate) probe: socket2::Socket,
    /// Its address, passed to `poll_probe` for the probes' Via.
    pub(crate) probe_addr: std::net::SocketAddr,
}

/// What [`setups`] distributes over the shards.
pub(crate) struct Common {
    pub(crate) cfg: Arc<Config>,
    pub(crate) first: Arc<NodeSet>,
    pub(crate) events: Sender<Event>,
    pub(crate) stop: Stop,
    /// Number of shards.
    pub(crate) shards: usize,
    /// One external UDP socket per shard, if the external leg listens on UDP.
    pub(crate) external: Option<Vec<socket2::Socket>>,
    /// One internal socket per shard, if the internal leg listens.
    pub(crate) internal: Option<Vec<socket2::Socket>>,
    /// Stream listeners, each with one socket per shard.
    pub(crate) streams: Vec<StreamGroup>,
    /// TLS settings, when any transport uses TLS.
    pub(crate) tls: Option<Arc<TlsContext>>,
    /// SMPP listeners (`smppPort`, `smppSslPort`).
    pub(crate) smpp: super::Side,
    /// HTTP listeners (`httpPort`, `httpsPort`).
    pub(crate) http: super::Side,
    /// Snapshot receivers of shards 1..n.
    pub(crate) subscribers: Vec<Receiver<Arc<NodeSet>>>,
    /// Reload update receivers of shards 0..n.
    pub(crate) updates: Vec<Receiver<Arc<Update>>>,
    pub(crate) control: ControlSetup,
    /// The statistics board (one slot per shard).
    pub(crate) board: Arc<Board>,
}

/// A started shard: its thread, and where to send the peers' rings.
pub(crate) struct Started {
    thread: JoinHandle<io::Result<()>>,
    go: mpsc::SyncSender<Arc<[OwnedFd]>>,
}

/// The CPUs to run shards on, one shard each.
pub(crate) fn cpus(cores: &Cores) -> io::Result<Vec<usize>> {
    let cpus = match cores {
        Cores::Auto => available_cpus(),
        // The first n CPUs this process may use, so `taskset -c 1` with
        // `cores: 1` runs the shard on CPU 1 (wrapping if n exceeds them).
        Cores::Count(n) => {
            let allowed = available_cpus();
            (0..*n)
                .filter_map(|i| allowed.get(i % allowed.len().max(1)).copied())
                .collect()
        }
        Cores::List(list) => list.clone(),
    };
    if cpus.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no CPU to run a shard on",
        ));
    }
    Ok(cpus)
}

/// The CPUs this process may run on (its affinity mask).
fn available_cpus() -> Vec<usize> {
    match core_affinity::get_core_ids() {
        Some(ids) if !ids.is_empty() => ids.into_iter().map(|c| c.id).collect(),
        _ => (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect(),
    }
}

/// One setup per shard, in shard order.
pub(crate) fn setups(common: Common) -> Vec<ShardSetup> {
    let shards = common.shards;
    let ends = super::mesh::wire(shards);
    let mut external = common.external.map(Vec::into_iter);
    let mut internal = common.internal.map(Vec::into_iter);
    let mut smpp = deal(common.smpp);
    let mut http = deal(common.http);
    let mut streams: Vec<_> = common
        .streams
        .into_iter()
        .map(|g| (g.leg, g.transport, g.sockets.into_iter()))
        .collect();
    let mut updates = common.updates.into_iter();
    let mut roles = Vec::with_capacity(shards);
    roles.push(Role::Control(Box::new(common.control)));
    roles.extend(common.subscribers.into_iter().map(Role::Worker));
    roles
        .into_iter()
        .zip(ends)
        .enumerate()
        .map(|(id, (role, mesh))| ShardSetup {
            id,
            shards,
            cfg: Arc::clone(&common.cfg),
            first: Arc::clone(&common.first),
            events: common.events.clone(),
            stop: common.stop.clone(),
            mesh,
            external: external.as_mut().and_then(Iterator::next),
            internal: internal.as_mut().and_then(Iterator::next),
            streams: streams
                .iter_mut()
                .filter_map(|(leg, t, s)| s.next().map(|s| (*leg, *t, s)))
                .collect(),
            tls: common.tls.clone(),
            smpp: next_of(&mut smpp),
            http: next_of(&mut http),
            stats: common.board.publisher(id),
            updates: updates
                .next()
                .unwrap_or_else(|| crossbeam_channel::bounded(1).1),
            role,
        })
        .collect()
}

/// A side's listeners, ready to be dealt one socket per shard.
type Dealer = Vec<(
    std::net::SocketAddr,
    bool,
    std::vec::IntoIter<socket2::Socket>,
)>;

fn deal(side: super::Side) -> Dealer {
    side.into_iter()
        .map(|(addr, tls, s)| (addr, tls, s.into_iter()))
        .collect()
}

/// The next shard's socket of each listener.
fn next_of(d: &mut Dealer) -> Vec<(socket2::Socket, std::net::SocketAddr, bool)> {
    d.iter_mut()
        .filter_map(|(addr, tls, s)| s.next().map(|s| (s, *addr, *tls)))
        .collect()
}

/// Start every shard (pinned to `cpus[i]`) one after the other, then let
/// them serve. Returns the threads started and, if one could not start,
/// why (the caller then stops and joins the others).
pub(crate) fn start(
    setups: Vec<ShardSetup>,
    cpus: &[usize],
    closer: &Closer,
) -> (Vec<JoinHandle<io::Result<()>>>, io::Result<()>) {
    let mut started = Vec::with_capacity(setups.len());
    let mut rings = Vec::with_capacity(setups.len());
    let mut failed = Ok(());
    for (setup, &cpu) in setups.into_iter().zip(cpus) {
        match spawn(setup, cpu, closer.clone()) {
            Ok((shard, ring)) => {
                started.push(shard);
                rings.push(ring);
            }
            Err(e) => {
                failed = Err(e);
                break;
            }
        }
    }
    if failed.is_ok() {
        let rings: Arc<[OwnedFd]> = rings.into();
        for shard in &started {
            // A shard that died meanwhile has dropped its receiver; its
            // exit already woke the starting thread.
            let _ = shard.go.send(Arc::clone(&rings));
        }
    }
    // On failure the `go` senders drop here and the waiting shards return.
    let threads = started.into_iter().map(|s| s.thread).collect();
    (threads, failed)
}

/// Wait for every shard thread; the first error wins.
pub(crate) fn join(handles: Vec<JoinHandle<io::Result<()>>>) -> io::Result<()> {
    let mut result = Ok(());
    for handle in handles {
        let outcome = handle
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("a shard panicked")));
        if result.is_ok() {
            result = outcome;
        }
    }
    result
}

/// Spawn one shard thread; returns once it is pinned and its ring exists
/// (with a duplicate of the ring's descriptor), or why it could not start.
/// When the shard ends, for whatever reason, it wakes the starting thread.
fn spawn(setup: ShardSetup, cpu: usize, closer: Closer) -> io::Result<(Started, OwnedFd)> {
    let id = setup.id;
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let (go_tx, go_rx) = mpsc::sync_channel::<Arc<[OwnedFd]>>(1);
    let thread = std::thread::Builder::new().name(format!("shard-{id}"));
    let handle = thread.spawn(move || {
        let _wake = WakeOnExit(closer);
        shard_main(setup, cpu, &ready_tx, &go_rx)
    })?;
    match ready_rx.recv() {
        Ok(Ok(fd)) => Ok((
            Started {
                thread: handle,
                go: go_tx,
            },
            fd,
        )),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::other(format!("shard {id} died while starting"))),
    }
}

/// Wakes the starting thread when a shard thread ends, panics included.
struct WakeOnExit(Closer);

impl Drop for WakeOnExit {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// The body of a shard thread: pin, build the ring, report, wait for the
/// peers' rings, serve until stop.
fn shard_main(
    setup: ShardSetup,
    cpu: usize,
    ready: &mpsc::SyncSender<io::Result<OwnedFd>>,
    go: &mpsc::Receiver<Arc<[OwnedFd]>>,
) -> io::Result<()> {
    let ShardSetup {
        id,
        shards,
        cfg,
        first,
        events,
        stop,
        mesh,
        external,
        internal,
        streams,
        tls,
        smpp,
        http,
        stats,
        updates,
        role,
    } = setup;
    // Ring socket indices: external, internal, then the probe (each when
    // present).
    let mut sockets = Vec::with_capacity(3);
    let mut add = |s| {
        sockets.push(s);
        sockets.len() - 1
    };
    let external = external.map(&mut add);
    let internal = internal.map(&mut add);
    let (control, snapshots, probe) = match role {
        Role::Control(c) => {
            sockets.push(c.probe);
            let control = Control::new(
                c.registry,
                c.events,
                c.publishers,
                c.probe_addr,
                Instant::now(),
            );
            (Some(control), None, Some(sockets.len() - 1))
        }
        Role::Worker(rx) => (None, Some(rx), None),
    };
    let mut ring = match pin(id, cpu).and_then(|()| ring(id, cpu, sockets)) {
        Ok(ring) => ring,
        Err(e) => {
            let _ = ready.send(Err(e));
            return Ok(());
        }
    };
    if !cfg.busy_poll.is_zero() && !ring.set_busy_poll(cfg.busy_poll) && id == 0 {
        log::info!("busyPollMicros: this kernel's ring cannot be watched from user space; shards sleep at once");
    }
    if !cfg.batch_wait.is_zero() && !ring.set_batch_wait(cfg.batch_wait) && id == 0 {
        log::info!("batchWaitMicros: this kernel cannot batch completions (Linux 6.12 can); shards wake at each one");
    }
    let now = Instant::now();
    let mut conns = Conns::new(
        id,
        cfg.sip.streams,
        Layers::new(
            tls.as_ref().map(|t| t.for_shard()),
            cfg.sip.max_message_size,
            id,
        ),
        now,
    );
    for (leg, transport, socket) in streams {
        let index = ring.listen(socket);
        conns.add_listener(index, leg, transport);
    }
    let layers = || {
        Layers::new(
            tls.as_ref().map(|t| t.for_shard()),
            cfg.sip.max_message_size,
            id,
        )
    };
    let smpp = (!smpp.is_empty()).then(|| {
        let tls_to_smsc = cfg.smpp.ssl_port.is_some() && !cfg.tls.terminate_tls_traffic;
        let settings = SmppSettings::from_config(&cfg.smpp);
        let mut s = Smpp::new(settings, layers(), tls_to_smsc, now);
        for (socket, _, tls) in smpp {
            s.add_listener(ring.listen(socket), tls);
        }
        s
    });
    let http = (!http.is_empty()).then(|| {
        let mut h = Http::new(HttpSettings::from_config(&cfg), layers(), now);
        for (socket, addr, secure) in http {
            h.add_listener(ring.listen(socket), addr, secure);
        }
        h
    });
    let _ = ready.send(ring.dup_fd());
    let Ok(rings) = go.recv() else {
        return Ok(()); // another shard failed to start: never serve
    };
    let mut proxy = Proxy::new(&cfg, id, shards, Instant::now());
    proxy.set_nodes(first);
    let shard = Shard::new(Parts {
        id,
        proxy,
        ring,
        external,
        internal,
        probe,
        mesh: Mesh::new(mesh, rings),
        conns,
        smpp,
        http,
        events,
        snapshots,
        updates,
        control,
        stats,
    });
    shard.run(&stop)
}

/// Pin the current thread to `cpu`.
fn pin(id: usize, cpu: usize) -> io::Result<()> {
    if core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot start shard {id}: cannot pin it to CPU {cpu}"),
        ))
    }
}

/// The shard's ring; an error says which shard and hints at the limits
/// io_uring setups run into.
fn ring(id: usize, cpu: usize, sockets: Vec<socket2::Socket>) -> io::Result<UdpRing> {
    UdpRing::new(sockets).map_err(|e| {
        let hint = match e.raw_os_error() {
            Some(libc::ENOMEM) => {
                " (io_uring needs locked memory: raise `ulimit -l` or systemd `LimitMEMLOCK=`)"
            }
            Some(libc::EPERM) => " (io_uring is disabled: sysctl kernel.io_uring_disabled)",
            Some(libc::ENOSYS) => " (this kernel has no io_uring)",
            _ => "",
        };
        io::Error::new(
            e.kind(),
            format!("cannot start shard {id} on CPU {cpu}: io_uring: {e}{hint}"),
        )
    })
}
