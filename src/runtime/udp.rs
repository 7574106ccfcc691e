//! The UDP forwarding path of one shard: receive → [`Proxy::handle`] →
//! send, registry events and hand-offs.
//!
//! One receive task per socket processes its datagrams strictly one after
//! the other (a datagram's transmits are all sent before the next datagram
//! is read), so what arrives in order leaves in order. The proxy borrow is
//! never held across an `.await`. Nothing here locks or allocates per
//! datagram; the one copy is the hand-off to another shard. Errors are
//! counted and logged at debug level, never fatal.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use glommio::channels::channel_mesh::Senders;
use glommio::net::UdpSocket;
use hdrhistogram::Histogram;
use log::debug;

use super::mesh::HandOff;
use crate::registry::Event;
use crate::sip::proxy::{Datagram, LegId, Output, Proxy};

/// Receive buffer: the largest UDP payload (a datagram beyond it is truncated).
const RECV_BUF: usize = 64 * 1024;

/// Pause after a receive error so a persistent error does not spin the core.
const RECV_ERROR_PAUSE: Duration = Duration::from_millis(1);

/// Upper bound on one proxy timer sleep: `poll_timeout` is re-read at least
/// this often, so a deadline that moved earlier is honoured within it.
const MAX_TIMER_SLEEP: Duration = Duration::from_millis(50);

/// Lower bound on one proxy timer sleep, so a deadline the proxy does not
/// advance cannot spin the core.
const MIN_TIMER_SLEEP: Duration = Duration::from_millis(1);

/// Largest processing time the histogram resolves (1 s); longer ones saturate.
const HISTOGRAM_MAX_NS: u64 = 1_000_000_000;

/// A 1 ns..1 s histogram with 3 significant digits.
#[allow(clippy::expect_used)] // constant, valid bounds: this cannot fail
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HISTOGRAM_MAX_NS, 3).expect("1..1e9 with 3 digits is valid")
}

/// Everything the tasks of one shard share.
pub(crate) struct Shard {
    /// Shard index, 0-based.
    pub(crate) id: usize,
    /// This shard's proxy; borrowed only between two awaits.
    pub(crate) proxy: RefCell<Proxy>,
    /// SO_REUSEPORT socket of the external SIP/UDP port.
    external: UdpSocket,
    /// Socket of the internal port; `None` = single entry point (external used).
    internal: Option<UdpSocket>,
    /// Hand-off channels to the other shards.
    mesh: Senders<HandOff>,
    /// Events for the registry task (bounded, never waited on).
    events: crossbeam_channel::Sender<Event>,
    /// Failures of the I/O shell itself.
    pub(crate) counters: IoCounters,
    /// Time spent inside `Proxy::handle` per datagram, ns (allocated once;
    /// recording does not allocate).
    pub(crate) handle_ns: RefCell<Histogram<u64>>,
}

/// Runtime-level failures of one shard (the proxy counts the SIP ones).
/// Plain cells: each shard only ever touches its own.
#[derive(Debug, Default)]
pub(crate) struct IoCounters {
    /// `recv_from` errors.
    pub(crate) recv_errors: Cell<u64>,
    /// `send_to` errors (unreachable destination, full buffer…).
    pub(crate) send_errors: Cell<u64>,
    /// Transmits whose range was outside `Output::buf` (a proxy bug).
    pub(crate) bad_transmits: Cell<u64>,
    /// Hand-offs dropped: peer queue full or peer gone.
    pub(crate) hand_off_drops: Cell<u64>,
    /// Hand-offs a home shard tried to hand off again (dropped).
    pub(crate) hand_off_loops: Cell<u64>,
    /// Registry events dropped because the queue was full.
    pub(crate) event_drops: Cell<u64>,
}

// === impl Shard ===

impl Shard {
    /// A shard over its proxy, sockets and channels.
    pub(crate) fn new(
        id: usize,
        proxy: Proxy,
        external: UdpSocket,
        internal: Option<UdpSocket>,
        mesh: Senders<HandOff>,
        events: crossbeam_channel::Sender<Event>,
    ) -> Shard {
        Shard {
            id,
            proxy: RefCell::new(proxy),
            external,
            internal,
            mesh,
            events,
            counters: IoCounters::default(),
            handle_ns: RefCell::new(new_histogram()),
        }
    }

    /// Whether this shard has its own internal-leg socket.
    pub(crate) fn has_internal(&self) -> bool {
        self.internal.is_some()
    }

    /// Close the hand-off channels (peers' receive tasks then end).
    pub(crate) fn close_mesh(&self) {
        self.mesh.close();
    }

    fn socket(&self, leg: LegId) -> &UdpSocket {
        match (leg, &self.internal) {
            (LegId::Internal, Some(internal)) => internal,
            _ => &self.external,
        }
    }

    /// Run one datagram through the proxy and execute the result. A
    /// hand-off to this very shard is handled here as if it had hopped.
    pub(crate) async fn process(&self, dgram: Datagram<'_>, out: &mut Output) {
        let mut handed_off = dgram.handed_off;
        loop {
            out.clear();
            let this = Datagram {
                handed_off,
                ..dgram
            };
            let start = Instant::now();
            self.proxy.borrow_mut().handle(this, start, out);
            let ns = start.elapsed().as_nanos().min(u128::from(HISTOGRAM_MAX_NS)) as u64;
            self.handle_ns.borrow_mut().saturating_record(ns.max(1));
            self.transmit(out).await;
            self.forward_events(out);
            match out.hand_off {
                None => return,
                Some(_) if handed_off => return bump(&self.counters.hand_off_loops),
                Some(home) if home == self.id => handed_off = true,
                Some(home) => return self.hand_off(home, &dgram),
            }
        }
    }

    /// Send every transmit, in order, from the socket of its leg.
    async fn transmit(&self, out: &Output) {
        for t in &out.transmits {
            let Some(bytes) = out.buf.get(t.range.clone()) else {
                bump(&self.counters.bad_transmits);
                continue;
            };
            if let Err(e) = self.socket(t.leg).send_to(bytes, t.dst).await {
                bump(&self.counters.send_errors);
                debug!("shard {}: send to {} failed: {e}", self.id, t.dst);
            }
        }
    }

    fn forward_events(&self, out: &mut Output) {
        for event in out.events.drain(..) {
            if self.events.try_send(event).is_err() {
                bump(&self.counters.event_drops);
            }
        }
    }

    fn hand_off(&self, home: usize, dgram: &Datagram<'_>) {
        let msg = HandOff {
            bytes: dgram.bytes.to_vec(),
            src: dgram.src,
            leg: dgram.leg,
        };
        if let Err(e) = self.mesh.try_send_to(home, msg) {
            bump(&self.counters.hand_off_drops);
            debug!("shard {}: hand-off to shard {home} dropped: {e}", self.id);
        }
    }
}

/// Receive loop of one socket of this shard; runs until cancelled.
pub(crate) async fn receive_loop(shard: Rc<Shard>, leg: LegId) {
    let mut buf = vec![0u8; RECV_BUF];
    let mut out = Output::default();
    loop {
        match shard.socket(leg).recv_from(&mut buf).await {
            Ok((len, src)) => {
                let bytes = buf.get(..len).unwrap_or_default();
                let dgram = Datagram {
                    bytes,
                    src,
                    leg,
                    handed_off: false,
                };
                shard.process(dgram, &mut out).await;
            }
            Err(e) => {
                bump(&shard.counters.recv_errors);
                debug!("shard {}: receive on {leg:?} failed: {e}", shard.id);
                glommio::timer::sleep(RECV_ERROR_PAUSE).await;
            }
        }
    }
}

/// Drive the proxy's timers (affinity eviction…); runs until cancelled.
pub(crate) async fn timer_loop(shard: Rc<Shard>) {
    loop {
        let next = shard.proxy.borrow().poll_timeout();
        let wait = next.saturating_duration_since(Instant::now());
        glommio::timer::sleep(wait.clamp(MIN_TIMER_SLEEP, MAX_TIMER_SLEEP)).await;
        let now = Instant::now();
        let due = shard.proxy.borrow().poll_timeout() <= now;
        if due {
            shard.proxy.borrow_mut().handle_timeout(now);
        }
    }
}

fn bump(counter: &Cell<u64>) {
    counter.set(counter.get().wrapping_add(1));
}
