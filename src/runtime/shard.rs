//! One shard's event loop: its ring, its proxy, the hand-offs it receives
//! and, on shard 0, the registry.
//!
//! Each turn of [`Shard::run`]:
//! 1. install the newest registry snapshot (shards 1..n) and the settings
//!    of a configuration reload, if one came;
//! 2. on shard 0, apply registry events and timers, publish, send probes;
//! 3. process the hand-offs other shards queued for this one;
//! 4. process every datagram the ring completed, in arrival order: the
//!    proxy runs on the bytes in the receive buffer, its transmits are
//!    queued on the ring, a datagram whose Call-ID lives elsewhere is
//!    copied to its home shard's queue;
//! 5. run the proxy's timers;
//! 6. ring the doorbell of every shard that got hand-offs;
//! 7. one `io_uring_enter`: submit the turn's sends and sleep until the next
//!    datagram, doorbell or deadline.
//!
//! A datagram's transmits are queued before the next datagram is looked at,
//! and the ring sends them in queue order, so what arrives in order leaves
//! in order. Nothing here locks, and nothing allocates per datagram except
//! the copy a hand-off carries (its buffer is recycled). Errors are counted, logged at debug level,
//! never fatal.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use log::{debug, info};

use super::conns::{Conns, FrameFailure, Undelivered};
use super::control::Control;
use super::http::Http;
use super::mesh::{Envelope, Mesh};
use super::reload::Update;
use super::shutdown::{Stop, POLL};
use super::smpp::Smpp;
use super::uring::{Completion, Received, StreamEvent, StreamId, Tx, UdpRing};
use crate::registry::{Event, NodeSet};
use crate::sip::framing::{self, Frame};
use crate::sip::proxy::{Datagram, LegId, Output, Proxy};
use crate::sip::transport::is_stream;
use crate::stats::board::{Publisher, ShardSample};

/// Lower bound on one sleep when a timer is due, so a deadline that does
/// not advance cannot spin the core.
const MIN_TIMER_SLEEP: Duration = Duration::from_millis(1);

/// Largest processing time the histogram resolves (1 s); longer ones saturate.
const HISTOGRAM_MAX_NS: u64 = 1_000_000_000;

/// One message in this many has its time in the proxy and its receive
/// wait recorded, weighted by this (counts and sums stay estimates of the
/// totals): the clock reads and the histogram update cost more than a
/// quantile gains from every sample.
const LATENCY_SAMPLE: u32 = 8;

/// A 1 ns..1 s histogram with 3 significant digits.
#[allow(clippy::expect_used)] // constant, valid bounds: this cannot fail
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_NS, 3).expect("1..1e9 with 3 digits is valid")
}

/// One shard: the ring and everything the datagrams are processed with.
pub(crate) struct Shard {
    ring: UdpRing,
    core: Core,
}

/// A shard without its ring: what a datagram is processed with.
pub(crate) struct Core {
    id: usize,
    proxy: Proxy,
    /// Ring socket index of the external leg's UDP socket; `None` when that
    /// leg serves only stream transports.
    external: Option<usize>,
    /// Ring socket index of the internal leg's UDP socket; `None` = single
    /// entry point, or an internal leg without UDP.
    internal: Option<usize>,
    /// Ring socket index of the registry's probe socket (shard 0).
    probe: Option<usize>,
    mesh: Mesh,
    /// This shard's stream connections.
    conns: Conns,
    /// This shard's SMPP side, when `smpp.smppPort` is set.
    smpp: Option<Smpp>,
    /// This shard's HTTP side, when `http.httpPort`/`httpsPort` is set.
    http: Option<Http>,
    /// Events for the registry (bounded, never waited on).
    events: crossbeam_channel::Sender<Event>,
    /// Snapshots from shard 0 (shards 1..n).
    snapshots: Option<crossbeam_channel::Receiver<Arc<NodeSet>>>,
    /// Settings from configuration reloads (SIGHUP).
    updates: crossbeam_channel::Receiver<Arc<Update>>,
    /// The registry (shard 0).
    control: Option<Control>,
    counters: IoCounters,
    /// The clock of this turn: read once when the wait returns, given to
    /// everything the turn's completions do (timers need no finer grain).
    now: Instant,
    /// Messages seen, for sampling the two histograms below.
    seen: u32,
    /// Time spent inside `Proxy::handle`, ns, of one message in
    /// [`LATENCY_SAMPLE`] (two clock reads each).
    handle_ns: Histogram<u64>,
    /// Time from the kernel's receive timestamp to the proxy, ns: the
    /// wake-up, the datagrams ahead in the batch and any stall of the shard.
    wait_ns: Histogram<u64>,
    out: Output,
    /// This shard's slot on the statistics board.
    stats: Publisher,
}

/// Runtime-level failures of one shard (the proxy counts the SIP ones,
/// the ring its I/O).
#[derive(Debug, Default)]
struct IoCounters {
    /// Sends that could not even be queued.
    send_errors: u64,
    /// Transmits whose range was outside `Output::buf` (a proxy bug).
    bad_transmits: u64,
    /// Hand-offs dropped: peer queue full or peer gone.
    hand_off_drops: u64,
    /// Hand-offs a home shard tried to hand off again (dropped).
    hand_off_loops: u64,
    /// Registry events dropped because the queue was full.
    event_drops: u64,
}

/// What a shard is built from (see `shards`).
pub(crate) struct Parts {
    pub(crate) id: usize,
    pub(crate) proxy: Proxy,
    pub(crate) ring: UdpRing,
    pub(crate) external: Option<usize>,
    pub(crate) internal: Option<usize>,
    pub(crate) probe: Option<usize>,
    pub(crate) mesh: Mesh,
    pub(crate) conns: Conns,
    pub(crate) smpp: Option<Smpp>,
    pub(crate) http: Option<Http>,
    pub(crate) events: crossbeam_channel::Sender<Event>,
    pub(crate) snapshots: Option<crossbeam_channel::Receiver<Arc<NodeSet>>>,
    pub(crate) updates: crossbeam_channel::Receiver<Arc<Update>>,
    pub(crate) control: Option<Control>,
    pub(crate) stats: Publisher,
}

// === impl Shard ===

impl Shard {
    pub(crate) fn new(p: Parts) -> Shard {
        Shard {
            ring: p.ring,
            core: Core {
                id: p.id,
                proxy: p.proxy,
                external: p.external,
                internal: p.internal,
                probe: p.probe,
                mesh: p.mesh,
                conns: p.conns,
                smpp: p.smpp,
                http: p.http,
                events: p.events,
                snapshots: p.snapshots,
                updates: p.updates,
                control: p.control,
                counters: IoCounters::default(),
                now: Instant::now(),
                seen: 0,
                handle_ns: new_histogram(),
                wait_ns: new_histogram(),
                out: Output::default(),
                stats: p.stats,
            },
        }
    }

    /// Serve until `stop` is set (checked at least every [`POLL`]), then
    /// log the counters.
    pub(crate) fn run(mut self, stop: &Stop) -> io::Result<()> {
        while !stop.is_set() {
            self.turn(POLL)?;
        }
        self.core.log_counters(&self.ring);
        Ok(())
    }

    /// Datagrams this shard handed to another one so far.
    #[cfg(test)]
    pub(crate) fn hand_offs(&self) -> u64 {
        self.core.proxy.counters().hand_offs
    }

    /// One turn of the loop (see the module doc), sleeping at most `max_wait`.
    pub(crate) fn turn(&mut self, max_wait: Duration) -> io::Result<()> {
        let core = &mut self.core;
        core.install_snapshots();
        core.install_updates();
        if let Some(control) = core.control.as_mut() {
            control.tick(
                Instant::now(),
                &mut core.proxy,
                &mut self.ring.tx(),
                core.probe,
            );
        }
        core.now = Instant::now();
        core.take_hand_offs(&mut self.ring.tx());
        self.ring.drain_events(|c, tx| match c {
            Completion::Datagram(d) => core.on_received(d, tx),
            Completion::Stream(e) => core.on_stream(e, tx),
        });
        let now = Instant::now();
        core.stats.publish_if_due(now, || ShardSample {
            sip: core.proxy.counters(),
            smpp: core.smpp.as_ref().map(Smpp::counters),
            smpp_connections: core.smpp.as_ref().map_or(0, Smpp::connections),
            http: core.http.as_ref().map(Http::totals),
            active_calls: core.proxy.affinity_entries() as u64,
            connections: {
                let c = &core.conns.counters;
                (c.accepted + c.opened).saturating_sub(c.closed)
            },
            handle_ns: &core.handle_ns,
            wait_ns: &core.wait_ns,
        });
        if core.proxy.poll_timeout() <= now {
            core.proxy.handle_timeout(now);
        }
        if core.conns.poll_timeout().is_some_and(|t| t <= now) {
            core.conns.handle_timeout(now, &mut self.ring.tx());
        }
        if let Some(smpp) = core.smpp.as_mut() {
            if smpp.has_pending_closes() || smpp.poll_timeout().is_some_and(|t| t <= now) {
                smpp.handle_timeout(now, &mut self.ring.tx());
            }
        }
        if let Some(http) = core.http.as_mut() {
            if http.has_pending_closes() || http.poll_timeout().is_some_and(|t| t <= now) {
                http.handle_timeout(now, &mut self.ring.tx());
            }
        }
        for fd in core.mesh.doorbells() {
            self.ring.ring_doorbell(fd);
        }
        let timeout = core.next_deadline(now).saturating_duration_since(now);
        self.ring.submit_and_wait(timeout.min(max_wait))
    }
}

// === impl Core ===

impl Core {
    fn install_snapshots(&mut self) {
        if let Some(nodes) = self.snapshots.as_ref().and_then(|rx| rx.try_iter().last()) {
            self.proxy.set_nodes(nodes);
        }
        // Shard 0's registry gives the proxy its snapshots directly.
        if let Some(http) = self.http.as_mut() {
            http.install_nodes(&self.proxy.nodes);
        }
    }

    /// Apply the settings of a configuration reload, if one came (cold:
    /// once per SIGHUP; an empty queue costs a load or two).
    fn install_updates(&mut self) {
        while let Ok(u) = self.updates.try_recv() {
            if let Some(a) = &u.algorithm {
                let r = self.proxy.reconfigure_algorithm(a, Instant::now());
                if let Some(http) = self.http.as_mut() {
                    http.set_algorithm(a);
                }
                debug!(
                    "shard {}: algorithm {:?} ({} affinity entries kept, {} dropped)",
                    self.id, a.kind, r.carried, r.dropped
                );
            }
            if let (Some(servers), Some(smpp)) = (&u.smpp_servers, self.smpp.as_mut()) {
                smpp.set_servers(servers.clone());
            }
        }
    }

    fn take_hand_offs(&mut self, tx: &mut Tx<'_>) {
        while let Some(h) = self.mesh.try_recv() {
            if let Some(a) = h.assign {
                self.proxy.apply_assign(a, self.now);
            } else if h.deliver {
                if !self
                    .conns
                    .send(h.transport, h.src, h.conn, h.leg, &h.bytes, self.now, tx)
                {
                    bump(&mut self.counters.send_errors);
                }
            } else {
                let dgram = Datagram {
                    bytes: &h.bytes,
                    src: h.src,
                    leg: h.leg,
                    handed_off: true,
                    transport: h.transport,
                    conn: h.conn,
                };
                self.process(dgram, tx);
            }
            self.mesh.recycle(h);
        }
    }

    /// A stream event: connections come and go here, their bytes are framed
    /// into SIP messages that go through the proxy like datagrams.
    fn on_stream(&mut self, e: StreamEvent<'_>, tx: &mut Tx<'_>) {
        let now = self.now;
        if let Some(smpp) = self.smpp.as_mut() {
            match e {
                StreamEvent::Accepted {
                    listener,
                    conn,
                    peer,
                    ..
                } if smpp.serves_listener(listener) => {
                    return smpp.on_accepted(listener, conn, peer, now, tx);
                }
                StreamEvent::Connected(id) if smpp.owns(id) => {
                    return smpp.on_connected(id, now, tx)
                }
                StreamEvent::Data(id, bytes) if smpp.owns(id) => {
                    return smpp.on_data(id, bytes, now, tx);
                }
                StreamEvent::Drained(id) if smpp.owns(id) => return smpp.on_drained(id, tx),
                StreamEvent::Closed(id) if smpp.owns(id) => return smpp.on_closed(id, now, tx),
                _ => {}
            }
        }
        if let Some(http) = self.http.as_mut() {
            match e {
                StreamEvent::Accepted {
                    listener,
                    conn,
                    peer,
                } if http.serves_listener(listener) => {
                    return http.on_accepted(listener, conn, peer, now, tx);
                }
                StreamEvent::Connected(id) if http.owns(id) => {
                    return http.on_connected(id, now, tx)
                }
                StreamEvent::Data(id, bytes) if http.owns(id) => {
                    return http.on_data(id, bytes, now, tx);
                }
                StreamEvent::Drained(id) if http.owns(id) => return http.on_drained(id, tx),
                StreamEvent::Closed(id) if http.owns(id) => return http.on_closed(id, now, tx),
                _ => {}
            }
        }
        match e {
            StreamEvent::Accepted {
                listener,
                conn,
                peer,
            } => self.conns.on_accepted(listener, conn, peer, now, tx),
            StreamEvent::Connected(id) => self.conns.on_connected(id, tx),
            StreamEvent::Closed(id) => {
                if let Some(u) = self.conns.on_closed(id) {
                    self.undelivered(&u, now, tx);
                }
            }
            StreamEvent::Data(id, bytes) => self.on_stream_data(id, bytes, now, tx),
            StreamEvent::Drained(_) => {}
        }
    }

    /// Answer every request that waited for a connection that never came
    /// up with the "no node" status (`503`), back along its Vias.
    fn undelivered(&mut self, u: &Undelivered, now: Instant, tx: &mut Tx<'_>) {
        let max = self.proxy.max_message_size();
        let mut used = 0;
        while let Some(rest) = u.bytes.get(used..).filter(|r| !r.is_empty()) {
            let Frame::Message(n) = framing::next(rest, max) else {
                break;
            };
            let msg = rest.get(..n).unwrap_or(&[]);
            used += n;
            self.out.clear();
            self.proxy
                .undeliverable(msg, u.dst, u.leg, now, &mut self.out);
            self.transmit(tx);
        }
        debug!(
            "shard {}: connection to {} failed: {used} bytes answered",
            self.id, u.dst
        );
    }

    fn on_stream_data(&mut self, id: StreamId, bytes: &[u8], now: Instant, tx: &mut Tx<'_>) {
        let Some((input, from)) = self.conns.receive(id, bytes, now, tx) else {
            return;
        };
        let max = self.proxy.max_message_size();
        let mut used = 0;
        let mut failure = None;
        while let Some(rest) = input.get(used..).filter(|r| !r.is_empty()) {
            match framing::next(rest, max) {
                Frame::Partial => break,
                Frame::Message(n) => {
                    let bytes = rest.get(..n).unwrap_or(&[]);
                    let dgram = Datagram {
                        bytes,
                        src: from.src,
                        leg: from.leg,
                        handed_off: false,
                        transport: from.transport,
                        conn: Some(from.conn),
                    };
                    self.process(dgram, tx);
                    used += n;
                }
                Frame::Ping => {
                    used += 4;
                    self.conns.pong(id, tx);
                }
                Frame::Pong => used += 2,
                Frame::TooBig => {
                    failure = Some(FrameFailure::TooBig);
                    break;
                }
                Frame::BadLength => {
                    failure = Some(FrameFailure::BadLength);
                    break;
                }
            }
        }
        self.conns.framed(id, input, used, failure, now, tx);
    }

    fn on_received(&mut self, d: Received<'_>, tx: &mut Tx<'_>) {
        if let Some(rx_ns) = d.rx_ns.filter(|_| self.seen % LATENCY_SAMPLE == 0) {
            let waited = unix_ns().saturating_sub(rx_ns).min(HISTOGRAM_MAX_NS);
            self.wait_ns
                .saturating_record_n(waited.max(1), u64::from(LATENCY_SAMPLE));
        }
        if Some(d.socket) == self.probe {
            if let Some(control) = self.control.as_mut() {
                control.on_probe_response(d.bytes, self.now);
            }
            return;
        }
        let leg = if Some(d.socket) == self.internal {
            LegId::Internal
        } else {
            LegId::External
        };
        let dgram = Datagram::udp(d.bytes, d.src, leg);
        self.process(dgram, tx);
    }

    /// Run one datagram through the proxy and execute the result. A
    /// hand-off to this very shard is handled here as if it had hopped.
    fn process(&mut self, dgram: Datagram<'_>, tx: &mut Tx<'_>) {
        let mut handed_off = dgram.handed_off;
        loop {
            self.out.clear();
            let this = Datagram {
                handed_off,
                ..dgram
            };
            self.seen = self.seen.wrapping_add(1);
            let start = (self.seen % LATENCY_SAMPLE == 0).then(Instant::now);
            self.proxy.handle(this, self.now, &mut self.out);
            if let Some(start) = start {
                let ns = start.elapsed().as_nanos().min(u128::from(HISTOGRAM_MAX_NS)) as u64;
                self.handle_ns
                    .saturating_record_n(ns.max(1), u64::from(LATENCY_SAMPLE));
            }
            self.transmit(tx);
            self.forward_events();
            self.send_assigns();
            match self.out.hand_off {
                None => return,
                Some(_) if handed_off => return bump(&mut self.counters.hand_off_loops),
                Some(home) if home == self.id => handed_off = true,
                Some(home) => return self.hand_off(home, &dgram),
            }
        }
    }

    /// Queue every transmit, in order, on the socket of its leg.
    fn transmit(&mut self, tx: &mut Tx<'_>) {
        for t in &self.out.transmits {
            let Some(bytes) = self.out.buf.get(t.range.clone()) else {
                bump(&mut self.counters.bad_transmits);
                continue;
            };
            // A leg without UDP sends its UDP from the other leg's socket.
            let socket = match t.leg {
                LegId::Internal => self.internal.or(self.external),
                LegId::External => self.external.or(self.internal),
            };
            if is_stream(t.transport) {
                match t.conn {
                    Some(c) if c.shard() != self.id => {
                        let env = Envelope {
                            addr: t.dst,
                            leg: t.leg,
                            transport: t.transport,
                            conn: t.conn,
                            deliver: true,
                        };
                        if !self.mesh.send(c.shard(), bytes, env) {
                            bump(&mut self.counters.hand_off_drops);
                        }
                    }
                    _ => {
                        if !self
                            .conns
                            .send(t.transport, t.dst, t.conn, t.leg, bytes, self.now, tx)
                        {
                            bump(&mut self.counters.send_errors);
                            debug!(
                                "shard {}: no connection to {} for a message",
                                self.id, t.dst
                            );
                        }
                    }
                }
                continue;
            }
            let Some(socket) = socket else {
                bump(&mut self.counters.send_errors);
                debug!(
                    "shard {}: no UDP socket for a message to {}",
                    self.id, t.dst
                );
                continue;
            };
            if !tx.send(socket, t.dst, bytes) {
                bump(&mut self.counters.send_errors);
                debug!("shard {}: send to {} failed", self.id, t.dst);
            }
        }
    }

    fn forward_events(&mut self) {
        for event in self.out.events.drain(..) {
            if self.events.try_send(event).is_err() {
                bump(&mut self.counters.event_drops);
            }
        }
    }

    fn send_assigns(&mut self) {
        for &(home, a) in &self.out.assigns {
            if !self.mesh.send_assign(home, a) {
                bump(&mut self.counters.hand_off_drops);
            }
        }
    }

    fn hand_off(&mut self, home: usize, dgram: &Datagram<'_>) {
        let env = Envelope {
            addr: dgram.src,
            leg: dgram.leg,
            transport: dgram.transport,
            conn: dgram.conn,
            deliver: false,
        };
        if !self.mesh.send(home, dgram.bytes, env) {
            bump(&mut self.counters.hand_off_drops);
            debug!("shard {}: hand-off to shard {home} dropped", self.id);
        }
    }

    /// When the loop must wake up even without traffic: the proxy's and
    /// the registry's timers, and the stop poll.
    fn next_deadline(&self, now: Instant) -> Instant {
        let mut deadline = now + POLL;
        deadline = deadline.min(self.proxy.poll_timeout().max(now + MIN_TIMER_SLEEP));
        if let Some(control) = &self.control {
            deadline = deadline.min(control.poll_timeout(now).max(now));
        }
        if let Some(t) = self.conns.poll_timeout() {
            deadline = deadline.min(t.max(now + MIN_TIMER_SLEEP));
        }
        if let Some(smpp) = &self.smpp {
            if smpp.has_pending_closes() {
                deadline = deadline.min(now + MIN_TIMER_SLEEP);
            }
            if let Some(t) = smpp.poll_timeout() {
                deadline = deadline.min(t.max(now + MIN_TIMER_SLEEP));
            }
        }
        if let Some(http) = &self.http {
            if http.has_pending_closes() {
                deadline = deadline.min(now + MIN_TIMER_SLEEP);
            }
            if let Some(t) = http.poll_timeout() {
                deadline = deadline.min(t.max(now + MIN_TIMER_SLEEP));
            }
        }
        deadline
    }

    fn log_counters(&self, ring: &UdpRing) {
        let c = self.proxy.counters();
        let io = &self.counters;
        let r = ring.counters();
        info!(
            "shard {}: requests={} responses={} replies={} heartbeats={} hand_offs={} \
             malformed={} too_many_hops={} no_node={} loops={} stray_responses={} dropped={} \
             blocked={} received={} recv_errors={} recv_no_buffers={} truncated={} send_errors={} \
             direct_sends={} doorbells={} bad_transmits={} hand_off_drops={} hand_off_loops={} \
             event_drops={}",
            self.id,
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
            c.blocked,
            r.received,
            r.recv_errors,
            r.recv_no_buffers,
            r.truncated,
            r.send_errors + io.send_errors,
            r.direct_sends,
            r.doorbells,
            io.bad_transmits,
            io.hand_off_drops,
            io.hand_off_loops,
            io.event_drops,
        );
        if self.conns.counters.accepted + self.conns.counters.opened > 0 {
            info!("shard {}: streams: {}", self.id, self.conns.summary());
        }
        if let Some(smpp) = &self.smpp {
            let s = smpp.counters();
            info!(
                "shard {}: smpp: requests_to_server={} requests_to_client={} responses_to_server={} \
                 responses_to_client={} throttled={} not_responded={} rejected={} malformed={} \
                 unmatched={} rebinds={} refused={} not_bind_clients={}",
                self.id,
                s.requests_to_server,
                s.requests_to_client,
                s.responses_to_server,
                s.responses_to_client,
                s.throttled,
                s.not_responded,
                s.rejected,
                s.malformed,
                s.unmatched,
                s.rebinds,
                s.refused,
                s.not_bind_clients,
            );
        }
        if let Some(http) = &self.http {
            let h = http.totals();
            info!(
                "shard {}: http: requests={} bytes_to_server={} bytes_to_client={}",
                self.id, h.requests, h.bytes_to_server, h.bytes_to_client
            );
        }
        if r.batched_waits > 0 {
            info!(
                "shard {}: completion batching: engaged {} times, {} batched waits",
                self.id, r.batch_engagements, r.batched_waits
            );
        }
        if r.spin_hits + r.spin_misses > 0 {
            info!(
                "shard {}: busy polls: {} saw work coming, {} ended in a sleep",
                self.id, r.spin_hits, r.spin_misses
            );
        }
        log_histogram(self.id, "time in proxy per datagram", &self.handle_ns);
        log_histogram(self.id, "kernel receive to proxy", &self.wait_ns);
    }
}

/// One info line with the quantiles of `h` (nothing if it is empty).
fn log_histogram(shard: usize, what: &str, h: &Histogram<u64>) {
    if h.is_empty() {
        return;
    }
    info!(
        "shard {shard}: {what}: n={} p50={}ns p99={}ns p99.9={}ns max={}ns",
        h.len(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max(),
    );
}

/// Now, in ns since the Unix epoch (the clock of `SO_TIMESTAMPNS`).
fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn bump(counter: &mut u64) {
    *counter = counter.wrapping_add(1);
}
