//! The control shard's registry task, the probe socket and snapshot
//! publishing.
//!
//! Shard 0 owns the [`Registry`]. Shards push [`Event`]s into a bounded
//! crossbeam MPSC queue with `try_send` (no syscall, no waiting on the
//! forwarding path); the registry task drains it every [`EVENT_POLL`], runs
//! the registry's timers at `poll_timeout`, sends due probes from a private
//! UDP socket and feeds every datagram received there to
//! `handle_probe_response`. Whenever the registry reports a change, it
//! publishes `Arc::new(registry.snapshot())`: straight into shard 0's proxy,
//! and over one glommio shared channel per other shard, whose task installs
//! it with `Proxy::set_nodes` as soon as it arrives.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use glommio::channels::shared_channel::{self, ConnectedSender, SharedReceiver, SharedSender};
use glommio::net::UdpSocket;
use glommio::{spawn_local, Task};
use log::debug;

use super::sockets;
use super::udp::Shard;
use crate::registry::{Event, NodeSet, Registry};

/// How often queued events are applied: the heartbeat-to-snapshot delay
/// bound, and shard 0's idle wake-up rate.
const EVENT_POLL: Duration = Duration::from_millis(10);

/// Events applied per round, so a flood cannot starve the timers.
const EVENTS_PER_ROUND: usize = 4096;

/// Probes sent per round (a guard against a registry that never says `None`).
const PROBES_PER_ROUND: usize = 1024;

/// Snapshots queued per shard; the publisher waits when a shard lags.
const SNAPSHOT_QUEUE: usize = 16;

/// Probe responses are small; a larger datagram is truncated.
const PROBE_BUF: usize = 64 * 1024;

/// A snapshot on its way to a shard.
pub(crate) type Snapshot = Arc<NodeSet>;

/// What shard 0 needs to run the registry.
pub(crate) struct ControlSetup {
    /// The registry, built before the shards started.
    pub(crate) registry: Registry,
    /// Events from every shard.
    pub(crate) events: crossbeam_channel::Receiver<Event>,
    /// Snapshot channels to shards 1..n, in shard order.
    pub(crate) publishers: Vec<SharedSender<Snapshot>>,
    /// The probe socket (not SO_REUSEPORT), bound on the starting thread.
    pub(crate) probe: socket2::Socket,
    /// Its address, passed to `poll_probe` for the probes' Via.
    pub(crate) probe_addr: SocketAddr,
}

/// One snapshot channel per shard 1..n: (senders for shard 0, receivers).
pub(crate) fn snapshot_channels(
    shards: usize,
) -> (Vec<SharedSender<Snapshot>>, Vec<SharedReceiver<Snapshot>>) {
    (1..shards)
        .map(|_| shared_channel::new_bounded(SNAPSHOT_QUEUE))
        .unzip()
}

/// Start the registry and probe tasks on shard 0 (inside its executor).
pub(crate) fn spawn(setup: ControlSetup, shard: Rc<Shard>) -> Vec<Task<()>> {
    let registry = Rc::new(RefCell::new(setup.registry));
    let probe = Rc::new(sockets::into_glommio(setup.probe));
    let dirty = Rc::new(Cell::new(false));
    let control = Control {
        registry: Rc::clone(&registry),
        events: setup.events,
        shard,
        probe: Rc::clone(&probe),
        probe_addr: setup.probe_addr,
        dirty: Rc::clone(&dirty),
    };
    vec![
        spawn_local(control.run(setup.publishers)),
        spawn_local(probe_receive_loop(probe, registry, dirty)),
    ]
}

/// Install every snapshot shard 0 publishes (shards 1..n); runs until
/// cancelled or shard 0 goes away.
pub(crate) async fn subscribe(shard: Rc<Shard>, rx: SharedReceiver<Snapshot>) {
    let rx = rx.connect().await;
    while let Some(nodes) = rx.recv().await {
        shard.proxy.borrow_mut().set_nodes(nodes);
    }
}

/// The registry task's state.
struct Control {
    registry: Rc<RefCell<Registry>>,
    events: crossbeam_channel::Receiver<Event>,
    /// Shard 0 itself: gets snapshots without a channel.
    shard: Rc<Shard>,
    probe: Rc<UdpSocket>,
    probe_addr: SocketAddr,
    /// Set by the probe receive task when a response changed the registry.
    dirty: Rc<Cell<bool>>,
}

// === impl Control ===

impl Control {
    async fn run(self, publishers: Vec<SharedSender<Snapshot>>) {
        let mut connected = Vec::with_capacity(publishers.len());
        for p in publishers {
            connected.push(p.connect().await);
        }
        loop {
            let now = Instant::now();
            if self.apply(now) | self.dirty.replace(false) {
                self.publish(&connected).await;
            }
            self.send_probes(now).await;
            let next = self.registry.borrow().poll_timeout();
            let wait = next
                .saturating_duration_since(Instant::now())
                .min(EVENT_POLL);
            glommio::timer::sleep(wait).await;
        }
    }

    /// Apply queued events and due timers; `true` when the snapshot changed.
    fn apply(&self, now: Instant) -> bool {
        let mut registry = self.registry.borrow_mut();
        let mut changed = false;
        for event in self.events.try_iter().take(EVENTS_PER_ROUND) {
            changed |= registry.handle_event(event, now);
        }
        if registry.poll_timeout() <= now {
            changed |= registry.handle_timeout(now);
        }
        changed
    }

    async fn publish(&self, shards: &[ConnectedSender<Snapshot>]) {
        let nodes = Arc::new(self.registry.borrow().snapshot());
        debug!("registry: publishing generation {}", nodes.generation);
        self.shard.proxy.borrow_mut().set_nodes(Arc::clone(&nodes));
        for (i, tx) in shards.iter().enumerate() {
            if tx.send(Arc::clone(&nodes)).await.is_err() {
                debug!("registry: shard {} no longer takes snapshots", i + 1);
            }
        }
    }

    async fn send_probes(&self, now: Instant) {
        for _ in 0..PROBES_PER_ROUND {
            let probe = self.registry.borrow_mut().poll_probe(now, self.probe_addr);
            let Some(probe) = probe else { return };
            if let Err(e) = self.probe.send_to(&probe.bytes, probe.dst).await {
                debug!("registry: probe to {} failed: {e}", probe.dst);
            }
        }
    }
}

/// Feed every datagram on the probe socket to the registry.
async fn probe_receive_loop(
    socket: Rc<UdpSocket>,
    registry: Rc<RefCell<Registry>>,
    dirty: Rc<Cell<bool>>,
) {
    let mut buf = vec![0u8; PROBE_BUF];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((len, _src)) => {
                let bytes = buf.get(..len).unwrap_or_default();
                if registry
                    .borrow_mut()
                    .handle_probe_response(bytes, Instant::now())
                {
                    dirty.set(true);
                }
            }
            Err(e) => {
                debug!("registry: probe socket receive failed: {e}");
                glommio::timer::sleep(EVENT_POLL).await;
            }
        }
    }
}
