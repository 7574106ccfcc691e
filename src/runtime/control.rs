//! The registry, driven by shard 0's loop: events, timers, probes and
//! snapshot publishing.
//!
//! Shards push [`Event`]s into a bounded crossbeam MPSC queue with
//! `try_send` (no syscall, no waiting on the forwarding path). Every
//! [`EVENT_POLL`], or at the registry's own deadline, shard 0 applies them
//! and the registry's timers, queues due probes on its probe socket (a
//! socket of its ring) and feeds every datagram received there to
//! `handle_probe_response`. Whenever the registry reports a change it
//! publishes `Arc::new(registry.snapshot())`: straight into shard 0's proxy,
//! and over one bounded queue per other shard, which installs the newest at
//! the start of its next turn. A full queue keeps the snapshot pending and
//! retries at the next tick, so a lagging shard still gets the latest.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use log::debug;

use super::uring::Tx;
use crate::registry::{Event, NodeSet, Registry};
use crate::sip::proxy::Proxy;

/// How often queued events are applied: the heartbeat-to-snapshot delay
/// bound, and shard 0's idle wake-up rate.
const EVENT_POLL: Duration = Duration::from_millis(10);

/// Shortest interval between two ticks driven by the registry's deadline.
const MIN_TIMER_STEP: Duration = Duration::from_millis(1);

/// Events applied per tick, so a flood cannot starve the timers.
const EVENTS_PER_TICK: usize = 4096;

/// Probes sent per tick (a guard against a registry that never says `None`).
const PROBES_PER_TICK: usize = 1024;

/// Snapshots queued per shard.
const SNAPSHOT_QUEUE: usize = 16;

/// A snapshot on its way to a shard.
pub(crate) type Snapshot = Arc<NodeSet>;

/// One snapshot queue per shard 1..n: (senders for shard 0, receivers).
pub(crate) fn snapshot_channels(shards: usize) -> (Vec<Sender<Snapshot>>, Vec<Receiver<Snapshot>>) {
    (1..shards)
        .map(|_| crossbeam_channel::bounded(SNAPSHOT_QUEUE))
        .unzip()
}

/// The registry and what it talks through (lives in shard 0).
pub(crate) struct Control {
    registry: Registry,
    events: Receiver<Event>,
    /// Snapshot queues of shards 1..n and what could not be queued yet.
    publishers: Vec<(Sender<Snapshot>, Option<Snapshot>)>,
    /// The probe socket's address, for the probes' Via.
    probe_addr: SocketAddr,
    /// A probe response changed the registry since the last tick.
    dirty: bool,
    next_tick: Instant,
    /// When the last tick ran.
    last_tick: Instant,
}

// === impl Control ===

impl Control {
    pub(crate) fn new(
        registry: Registry,
        events: Receiver<Event>,
        publishers: Vec<Sender<Snapshot>>,
        probe_addr: SocketAddr,
        now: Instant,
    ) -> Control {
        Control {
            registry,
            events,
            publishers: publishers.into_iter().map(|tx| (tx, None)).collect(),
            probe_addr,
            dirty: false,
            next_tick: now,
            last_tick: now,
        }
    }

    /// When [`Control::tick`] has work next (`now` if it has some now).
    /// A registry deadline is honoured at most every [`MIN_TIMER_STEP`], so
    /// one that does not advance cannot spin the shard.
    pub(crate) fn poll_timeout(&self, now: Instant) -> Instant {
        if self.dirty {
            return now;
        }
        let registry = self
            .registry
            .poll_timeout()
            .max(self.last_tick + MIN_TIMER_STEP);
        self.next_tick.min(registry)
    }

    /// Apply events and timers, publish a changed snapshot, send due probes
    /// from ring socket `probe`.
    pub(crate) fn tick(
        &mut self,
        now: Instant,
        proxy: &mut Proxy,
        tx: &mut Tx<'_>,
        probe: Option<usize>,
    ) {
        if now < self.poll_timeout(now) {
            return;
        }
        self.next_tick = now + EVENT_POLL;
        self.last_tick = now;
        let mut changed = std::mem::take(&mut self.dirty);
        for event in self.events.try_iter().take(EVENTS_PER_TICK) {
            changed |= self.registry.handle_event(event, now);
        }
        if self.registry.poll_timeout() <= now {
            changed |= self.registry.handle_timeout(now);
        }
        if changed {
            self.publish(proxy);
        }
        self.retry_pending();
        if let Some(probe) = probe {
            self.send_probes(now, tx, probe);
        }
    }

    /// Feed a datagram from the probe socket to the registry.
    pub(crate) fn on_probe_response(&mut self, bytes: &[u8], now: Instant) {
        self.dirty |= self.registry.handle_probe_response(bytes, now);
    }

    fn publish(&mut self, proxy: &mut Proxy) {
        let nodes = Arc::new(self.registry.snapshot());
        debug!("registry: publishing generation {}", nodes.generation);
        proxy.set_nodes(Arc::clone(&nodes));
        for (_, pending) in &mut self.publishers {
            *pending = Some(Arc::clone(&nodes));
        }
    }

    fn retry_pending(&mut self) {
        for (i, (tx, pending)) in self.publishers.iter_mut().enumerate() {
            let Some(nodes) = pending.take() else {
                continue;
            };
            match tx.try_send(nodes) {
                Ok(()) => {}
                Err(crossbeam_channel::TrySendError::Full(nodes)) => *pending = Some(nodes),
                Err(crossbeam_channel::TrySendError::Disconnected(_)) => {
                    debug!("registry: shard {} no longer takes snapshots", i + 1);
                }
            }
        }
    }

    fn send_probes(&mut self, now: Instant, tx: &mut Tx<'_>, probe: usize) {
        for _ in 0..PROBES_PER_TICK {
            let Some(p) = self.registry.poll_probe(now, self.probe_addr) else {
                return;
            };
            if !tx.send(probe, p.dst, &p.bytes) {
                debug!("registry: probe to {} failed", p.dst);
            }
        }
    }
}
