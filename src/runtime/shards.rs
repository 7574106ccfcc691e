//! Shards: one pinned glommio executor per configured CPU, each on its own
//! thread `shard-N`, and the main future each of them runs.
//!
//! # Executor settings
//! - **Placement**: `Placement::Fixed(cpu)`: the shard's thread (and its
//!   blocking helper thread) never migrates, so its sockets, tables and
//!   counters stay in that core's cache.
//! - **No spin before park** (glommio's default): spinning lowers wake-up
//!   latency by a few µs but burns the whole core while idle, and on shared
//!   or oversubscribed hosts (this one has two cores) it steals the CPU the
//!   other shard or the nodes need. Forwarding cost is dominated by the
//!   per-datagram syscalls (DESIGN.md), not by the wake-up.
//! - **Preempt timer 100 ms** (glommio's default): every shard runs a
//!   single task queue and every task yields at each datagram, so the timer
//!   only matters for fairness between queues we do not have.
//! - **Ring depth 128** (glommio's default): a shard keeps one receive per
//!   socket in flight and sends mostly complete inline, so 128 entries leave
//!   ample room for bursts of blocked sends.
//! - **io_memory 1 MiB** (glommio's default is 10 MiB): it is registered
//!   with io_uring for storage DMA, which we do not do; UDP receives that
//!   go through the ring borrow a 64 KiB buffer from it (one per socket).
//!   Less locked memory per shard lets more shards start under a low
//!   `ulimit -l`; glommio itself refuses to start below 512 KiB.
//!
//! # Startup
//! Shards are created one after the other: thread N is spawned only once
//! shard N-1's executor exists. That reports an executor failure (memlock,
//! bad CPU) from [`start_and_join`] before anything serves, and it makes
//! glommio's executor ids, hence the mesh peer ids, follow shard order.

use std::io;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use glommio::channels::channel_mesh::{Full, MeshBuilder};
use glommio::channels::shared_channel::SharedReceiver;
use glommio::{
    spawn_local, GlommioError, LocalExecutor, LocalExecutorBuilder, Placement, ReactorErrorKind,
    Task,
};
use log::info;

use super::control::{self, ControlSetup, Snapshot};
use super::mesh::{self, HandOff};
use super::shutdown::{Closer, Stop};
use super::sockets;
use super::udp::{self, Shard};
use crate::config::{Config, Cores};
use crate::registry::{Event, NodeSet};
use crate::sip::proxy::{LegId, Proxy};

/// Memory glommio registers with io_uring per executor (see module doc).
const IO_MEMORY: usize = 1 << 20;

/// Everything one shard thread takes with it.
pub(crate) struct ShardSetup {
    /// Shard index.
    id: usize,
    /// Number of shards.
    shards: usize,
    cfg: Arc<Config>,
    /// The registry's first snapshot.
    first: Arc<NodeSet>,
    events: crossbeam_channel::Sender<Event>,
    stop: Stop,
    mesh: MeshBuilder<HandOff, Full>,
    external: socket2::Socket,
    internal: Option<socket2::Socket>,
    role: Role,
}

/// Shard 0 runs the registry; the others install what it publishes.
enum Role {
    Control(Box<ControlSetup>),
    Worker(SharedReceiver<Snapshot>),
}

/// What [`setups`] distributes over the shards.
pub(crate) struct Common {
    pub(crate) cfg: Arc<Config>,
    pub(crate) first: Arc<NodeSet>,
    pub(crate) events: crossbeam_channel::Sender<Event>,
    pub(crate) stop: Stop,
    /// One external socket per shard.
    pub(crate) external: Vec<socket2::Socket>,
    /// One internal socket per shard, if the internal leg listens.
    pub(crate) internal: Option<Vec<socket2::Socket>>,
    /// Snapshot receivers of shards 1..n.
    pub(crate) subscribers: Vec<SharedReceiver<Snapshot>>,
    pub(crate) control: ControlSetup,
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
    let shards = common.external.len();
    let mesh = mesh::builder(shards);
    let mut internal = common.internal.map(Vec::into_iter);
    let mut roles = Vec::with_capacity(shards);
    roles.push(Role::Control(Box::new(common.control)));
    roles.extend(common.subscribers.into_iter().map(Role::Worker));
    common
        .external
        .into_iter()
        .zip(roles)
        .enumerate()
        .map(|(id, (external, role))| ShardSetup {
            id,
            shards,
            cfg: Arc::clone(&common.cfg),
            first: Arc::clone(&common.first),
            events: common.events.clone(),
            stop: common.stop.clone(),
            mesh: mesh.clone(),
            external,
            internal: internal.as_mut().and_then(Iterator::next),
            role,
        })
        .collect()
}

/// Start every shard (pinned to `cpus[i]`) one after the other. Returns the
/// threads started and, if one could not start, why (the caller then stops
/// and joins the others).
pub(crate) fn start(
    setups: Vec<ShardSetup>,
    cpus: &[usize],
    closer: &Closer,
) -> (Vec<JoinHandle<io::Result<()>>>, io::Result<()>) {
    let mut handles = Vec::with_capacity(setups.len());
    for (setup, &cpu) in setups.into_iter().zip(cpus) {
        match spawn(setup, cpu, closer.clone()) {
            Ok(handle) => handles.push(handle),
            Err(e) => return (handles, Err(e)),
        }
    }
    (handles, Ok(()))
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

/// Spawn one shard thread; returns once its executor exists (or failed).
/// When the shard ends, for whatever reason, it wakes the starting thread.
fn spawn(setup: ShardSetup, cpu: usize, closer: Closer) -> io::Result<JoinHandle<io::Result<()>>> {
    let id = setup.id;
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let thread = std::thread::Builder::new().name(format!("shard-{id}"));
    let handle = thread.spawn(move || match executor(id, cpu) {
        Ok(ex) => {
            let _ = ready_tx.send(Ok(()));
            let _wake = WakeOnExit(closer);
            ex.run(serve(setup))
        }
        Err(e) => {
            let _ = ready_tx.send(Err(e));
            Ok(())
        }
    })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(handle),
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

/// A pinned executor for shard `id` (settings: see the module doc).
fn executor(id: usize, cpu: usize) -> io::Result<LocalExecutor> {
    LocalExecutorBuilder::new(Placement::Fixed(cpu))
        .name(&format!("shard-{id}"))
        .io_memory(IO_MEMORY)
        .make()
        .map_err(|e| executor_error(id, cpu, e))
}

fn executor_error(id: usize, cpu: usize, e: GlommioError<()>) -> io::Error {
    // glommio reports the limit as a typed error or, wrapped on its way
    // out of `make`, only as text; an io_uring setup refused for want of
    // locked memory comes back as ENOMEM.
    let typed = matches!(
        e,
        GlommioError::ReactorError(ReactorErrorKind::MemLockLimit(..))
    );
    let e = io::Error::from(e);
    let memlock =
        typed || e.to_string().contains("MemLock") || e.raw_os_error() == Some(libc::ENOMEM);
    let hint = if memlock {
        " (glommio needs at least 512 KiB of locked memory per executor: raise the memlock \
         limit, `ulimit -l` or systemd `LimitMEMLOCK=`)"
    } else {
        ""
    };
    io::Error::new(
        e.kind(),
        format!("cannot start shard {id} on CPU {cpu}: {e}{hint}"),
    )
}

/// The main future of one shard: build its proxy, join the mesh, start its
/// tasks, wait for stop, then cancel them and log its counters.
async fn serve(setup: ShardSetup) -> io::Result<()> {
    let id = setup.id;
    let mut proxy = Proxy::new(&setup.cfg, id, setup.shards, Instant::now());
    proxy.set_nodes(setup.first);
    let Some((tx, mut rx)) = mesh::join(setup.mesh, id, &setup.stop).await? else {
        return Ok(());
    };
    let external = sockets::into_glommio(setup.external);
    let internal = setup.internal.map(sockets::into_glommio);
    let shard = Rc::new(Shard::new(id, proxy, external, internal, tx, setup.events));
    let mut tasks = vec![
        spawn_local(udp::receive_loop(Rc::clone(&shard), LegId::External)),
        spawn_local(udp::timer_loop(Rc::clone(&shard))),
    ];
    if shard.has_internal() {
        tasks.push(spawn_local(udp::receive_loop(
            Rc::clone(&shard),
            LegId::Internal,
        )));
    }
    for (_, peer) in rx.streams() {
        tasks.push(spawn_local(mesh::receive_loop(Rc::clone(&shard), peer)));
    }
    match setup.role {
        Role::Control(control) => tasks.extend(control::spawn(*control, Rc::clone(&shard))),
        Role::Worker(rx) => tasks.push(spawn_local(control::subscribe(Rc::clone(&shard), rx))),
    }
    setup.stop.wait().await;
    stop_tasks(tasks, &shard).await;
    log_counters(&shard);
    Ok(())
}

async fn stop_tasks(tasks: Vec<Task<()>>, shard: &Shard) {
    shard.close_mesh();
    for task in tasks {
        task.cancel().await;
    }
}

fn log_counters(shard: &Shard) {
    let proxy = shard.proxy.borrow();
    let c = proxy.counters();
    let io = &shard.counters;
    info!(
        "shard {}: requests={} responses={} replies={} heartbeats={} hand_offs={} malformed={} \
         too_many_hops={} no_node={} loops={} stray_responses={} dropped={} \
         recv_errors={} send_errors={} bad_transmits={} hand_off_drops={} hand_off_loops={} \
         event_drops={}",
        shard.id,
        c.requests_forwarded,
        c.responses_forwarded,
        c.replies_sent,
        c.heartbeats,
        c.hand_offs,
        c.malformed,
        c.too_many_hops,
        c.no_node,
        c.loops,
        c.stray_responses,
        c.dropped,
        io.recv_errors.get(),
        io.send_errors.get(),
        io.bad_transmits.get(),
        io.hand_off_drops.get(),
        io.hand_off_loops.get(),
        io.event_drops.get(),
    );
    let h = shard.handle_ns.borrow();
    if !h.is_empty() {
        info!(
            "shard {}: time in proxy per datagram: n={} p50={}ns p99={}ns p99.9={}ns max={}ns",
            shard.id,
            h.len(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max(),
        );
    }
}
