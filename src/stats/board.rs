//! The board the shards publish their counters to, and its sum.
//!
//! Each shard owns one [`Slot`] (64-byte aligned, so two shards never share
//! a cache line) and is its only writer: [`Publisher::publish_if_due`]
//! copies the shard's plain counters into it with `Relaxed` stores, at
//! most every [`PUBLISH_EVERY`]. Readers (the admin thread) load every
//! slot with `Relaxed` loads and sum them in [`Board::read`]. A reader may
//! see one shard's slot half-way through a publish: every value is still
//! one the shard really had (each is a single atomic store), and counters
//! only grow, so a sum is at worst one publish period stale per field.
//! There is no lock and no read-modify-write anywhere.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::latency::{self, Latency, Quantiles, BOUNDS, QUANTILES};
use super::{SipCounters, METHODS, SIP_SCALARS, STATUS_CLASSES};
use crate::smpp::proxy::SmppCounters;

/// Shortest interval between two publishes of one shard.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// What one shard publishes (borrowed from its own state, once per publish).
#[derive(Debug, Clone, Copy)]
pub struct ShardSample<'a> {
    /// The proxy's SIP counters.
    pub sip: &'a SipCounters,
    /// The SMPP side's counters, when the shard runs one.
    pub smpp: Option<&'a SmppCounters>,
    /// Open SMPP connections (ESMEs and SMSCs) of the shard.
    pub smpp_connections: u64,
    /// The HTTP side's totals, when the shard runs one.
    pub http: Option<HttpTotals>,
    /// Entries in the shard's affinity table (calls it keeps a node for).
    pub active_calls: u64,
    /// Open SIP stream connections (TCP, TLS, WS, WSS) of the shard.
    pub connections: u64,
    /// Time spent in the proxy per message, ns.
    pub handle_ns: &'a Histogram<u64>,
    /// Kernel receive timestamp to proxy, ns.
    pub wait_ns: &'a Histogram<u64>,
}

/// SMPP totals the board carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SmppTotals {
    /// Requests sent to SMSCs (binds and unbinds included).
    pub requests_to_server: u64,
    /// Requests sent to ESMEs.
    pub requests_to_client: u64,
    /// Bytes forwarded to SMSCs.
    pub bytes_to_server: u64,
    /// Bytes forwarded to ESMEs.
    pub bytes_to_client: u64,
    /// Responses relayed to SMSCs.
    pub responses_to_server: u64,
    /// Responses relayed to ESMEs.
    pub responses_to_client: u64,
    /// Open SMPP connections (ESMEs and SMSCs).
    pub connections: u64,
}

/// Number of values in [`SmppTotals`].
const SMPP_VALUES: usize = 7;

/// HTTP totals the board carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpTotals {
    /// Requests received from clients.
    pub requests: u64,
    /// Bytes forwarded to nodes.
    pub bytes_to_server: u64,
    /// Bytes forwarded to clients.
    pub bytes_to_client: u64,
    /// Open HTTP connections (clients and nodes).
    pub connections: u64,
}

/// Number of values in [`HttpTotals`].
const HTTP_VALUES: usize = 4;

/// The sum over every shard, read on demand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// SIP counters, per-method and per-class included.
    pub sip: SipCounters,
    /// SMPP counters.
    pub smpp: SmppTotals,
    /// HTTP counters.
    pub http: HttpTotals,
    /// Calls the affinity tables keep a node for.
    pub active_calls: u64,
    /// Open SIP stream connections.
    pub connections: u64,
    /// Time in the proxy per message.
    pub handle: Latency,
    /// Kernel receive to proxy.
    pub wait: Latency,
    /// Per shard, in shard order.
    pub shards: Vec<ShardTotals>,
}

/// What is reported per shard rather than summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardTotals {
    /// Publishes so far (0 = the shard has not published yet).
    pub publishes: u64,
    /// Quantiles of the time in the proxy, ns.
    pub handle: Quantiles,
    /// Quantiles of kernel receive to proxy, ns.
    pub wait: Quantiles,
}

/// One slot per shard.
#[derive(Debug)]
pub struct Board {
    slots: Box<[Slot]>,
}

/// A shard's handle on its own slot.
#[derive(Debug)]
pub struct Publisher {
    board: Arc<Board>,
    shard: usize,
    /// No publish before this.
    next: Option<Instant>,
    /// Publishes so far: the latency histograms go out with one in
    /// [`LATENCY_EVERY`] (walking a histogram costs more than the counters).
    publishes: u32,
}

/// The latency histograms are published every this many publishes (1 s).
const LATENCY_EVERY: u32 = 10;

/// One shard's published values; written by that shard only.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Slot {
    sip: [AtomicU64; SIP_SCALARS],
    methods: [AtomicU64; METHODS],
    classes: [AtomicU64; STATUS_CLASSES],
    smpp: [AtomicU64; SMPP_VALUES],
    http: [AtomicU64; HTTP_VALUES],
    active_calls: AtomicU64,
    connections: AtomicU64,
    publishes: AtomicU64,
    handle: LatencySlot,
    wait: LatencySlot,
}

/// A published histogram.
#[derive(Debug, Default)]
struct LatencySlot {
    cumulative: [AtomicU64; BOUNDS],
    count: AtomicU64,
    sum_ns: AtomicU64,
    quantiles: [AtomicU64; QUANTILES.len()],
}

// === impl SmppTotals ===

impl SmppTotals {
    /// What a shard publishes, in slot order.
    fn values(m: &SmppCounters, connections: u64) -> [u64; SMPP_VALUES] {
        [
            m.requests_to_server,
            m.requests_to_client,
            m.bytes_to_server,
            m.bytes_to_client,
            m.responses_to_server,
            m.responses_to_client,
            connections,
        ]
    }

    /// Adds one shard's published values.
    fn add(&mut self, v: [u64; SMPP_VALUES]) {
        let [a, b, c, d, e, f, g] = v;
        self.requests_to_server += a;
        self.requests_to_client += b;
        self.bytes_to_server += c;
        self.bytes_to_client += d;
        self.responses_to_server += e;
        self.responses_to_client += f;
        self.connections += g;
    }
}

// === impl Board ===

impl Board {
    /// A board for `shards` shards, all zero.
    pub fn new(shards: usize) -> Board {
        Board {
            slots: (0..shards).map(|_| Slot::default()).collect(),
        }
    }

    /// Number of shard slots.
    pub fn shards(&self) -> usize {
        self.slots.len()
    }

    /// The publisher of shard `shard` (out of range: a publisher that
    /// publishes nowhere).
    pub fn publisher(self: &Arc<Self>, shard: usize) -> Publisher {
        Publisher {
            board: Arc::clone(self),
            shard,
            next: None,
            publishes: 0,
        }
    }

    /// The sum over every shard (allocates the per-shard list: for the
    /// admin thread, never the forwarding path).
    pub fn read(&self) -> Totals {
        let mut t = Totals {
            shards: Vec::with_capacity(self.slots.len()),
            ..Totals::default()
        };
        for slot in self.slots.iter() {
            let mut sip = SipCounters::from_scalars(load(&slot.sip));
            sip.requests_by_method = load(&slot.methods);
            sip.responses_by_class = load(&slot.classes);
            t.sip.add(&sip);
            t.smpp.add(load(&slot.smpp));
            let [a, b, c, d] = load(&slot.http);
            t.http.requests += a;
            t.http.bytes_to_server += b;
            t.http.bytes_to_client += c;
            t.http.connections += d;
            t.active_calls += slot.active_calls.load(Relaxed);
            t.connections += slot.connections.load(Relaxed);
            t.handle.add(&slot.handle.latency());
            t.wait.add(&slot.wait.latency());
            t.shards.push(ShardTotals {
                publishes: slot.publishes.load(Relaxed),
                handle: load(&slot.handle.quantiles),
                wait: load(&slot.wait.quantiles),
            });
        }
        t
    }
}

// === impl Publisher ===

impl Publisher {
    /// Whether a publish is due at `now`.
    pub fn due(&self, now: Instant) -> bool {
        self.next.is_none_or(|next| now >= next)
    }

    /// Publish what `sample` returns if [`PUBLISH_EVERY`] has passed since
    /// the last publish (the closure runs only then). Call once per loop
    /// turn.
    pub fn publish_if_due<'a>(&mut self, now: Instant, sample: impl FnOnce() -> ShardSample<'a>) {
        if self.due(now) {
            self.publish(now, &sample());
        }
    }

    /// Publish `s` now.
    pub fn publish(&mut self, now: Instant, s: &ShardSample<'_>) {
        self.next = Some(now + PUBLISH_EVERY);
        let Some(slot) = self.board.slots.get(self.shard) else {
            return;
        };
        store(&slot.sip, &s.sip.scalars());
        store(&slot.methods, &s.sip.requests_by_method);
        store(&slot.classes, &s.sip.responses_by_class);
        if let Some(m) = s.smpp {
            store(&slot.smpp, &SmppTotals::values(m, s.smpp_connections));
        }
        if let Some(h) = s.http {
            let v = [
                h.requests,
                h.bytes_to_server,
                h.bytes_to_client,
                h.connections,
            ];
            store(&slot.http, &v);
        }
        slot.active_calls.store(s.active_calls, Relaxed);
        slot.connections.store(s.connections, Relaxed);
        if self.publishes % LATENCY_EVERY == 0 {
            slot.handle.publish(s.handle_ns);
            slot.wait.publish(s.wait_ns);
        }
        self.publishes = self.publishes.wrapping_add(1);
        // Single writer: a load and a store, not a read-modify-write.
        let n = slot.publishes.load(Relaxed);
        slot.publishes.store(n.wrapping_add(1), Relaxed);
    }
}

// === impl LatencySlot ===

impl LatencySlot {
    fn publish(&self, h: &Histogram<u64>) {
        let l = Latency::of(h);
        store(&self.cumulative, &l.cumulative);
        self.count.store(l.count, Relaxed);
        self.sum_ns.store(l.sum_ns, Relaxed);
        store(&self.quantiles, &latency::quantiles(h));
    }

    fn latency(&self) -> Latency {
        Latency {
            cumulative: load(&self.cumulative),
            count: self.count.load(Relaxed),
            sum_ns: self.sum_ns.load(Relaxed),
        }
    }
}

fn store<const N: usize>(to: &[AtomicU64; N], from: &[u64; N]) {
    for (a, v) in to.iter().zip(from) {
        a.store(*v, Relaxed);
    }
}

fn load<const N: usize>(from: &[AtomicU64; N]) -> [u64; N] {
    std::array::from_fn(|i| from.get(i).map_or(0, |a| a.load(Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Method;

    fn histogram(values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, 1_000_000_000, 3).unwrap();
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    fn sample<'a>(
        sip: &'a SipCounters,
        h: &'a Histogram<u64>,
        calls: u64,
        conns: u64,
    ) -> ShardSample<'a> {
        ShardSample {
            sip,
            smpp: None,
            smpp_connections: 0,
            http: None,
            active_calls: calls,
            connections: conns,
            handle_ns: h,
            wait_ns: h,
        }
    }

    #[test]
    fn slots_are_cache_line_aligned() {
        assert_eq!(std::mem::align_of::<Slot>(), 64);
        assert_eq!(std::mem::size_of::<Slot>() % 64, 0);
    }

    #[test]
    fn sum_over_shards() {
        let board = Arc::new(Board::new(2));
        let now = crate::test_epoch();
        let mut a = SipCounters {
            requests_forwarded: 3,
            responses_forwarded: 5,
            body_bytes: 100,
            ..SipCounters::default()
        };
        a.count_request(Method::Invite);
        a.count_response(200);
        let b = SipCounters {
            requests_forwarded: 4,
            dropped: 1,
            ..SipCounters::default()
        };
        let (ha, hb) = (histogram(&[1_000, 3_000]), histogram(&[]));
        board.publisher(0).publish(now, &sample(&a, &ha, 7, 1));
        let mut pb = board.publisher(1);
        pb.publish(now, &sample(&b, &hb, 2, 0));
        let smpp = SmppCounters {
            requests_to_server: 9,
            bytes_to_client: 77,
            responses_to_server: 4,
            responses_to_client: 8,
            ..SmppCounters::default()
        };
        pb.publish(
            now + PUBLISH_EVERY,
            &ShardSample {
                smpp: Some(&smpp),
                smpp_connections: 3,
                http: None,
                ..sample(&b, &hb, 2, 0)
            },
        );
        let t = board.read();
        assert_eq!(t.sip.requests_forwarded, 7);
        assert_eq!(t.sip.responses_forwarded, 5);
        assert_eq!(t.sip.body_bytes, 100);
        assert_eq!(t.sip.dropped, 1);
        assert_eq!(t.sip.requests_by_method[0], 1);
        assert_eq!(t.sip.responses_by_class[1], 1);
        assert_eq!(t.smpp.requests_to_server, 9);
        assert_eq!(t.smpp.bytes_to_client, 77);
        assert_eq!(
            (t.smpp.responses_to_server, t.smpp.responses_to_client),
            (4, 8)
        );
        assert_eq!(t.smpp.connections, 3);
        assert_eq!((t.active_calls, t.connections), (9, 1));
        assert_eq!(t.handle.count, 2);
        assert_eq!(t.handle.cumulative[0], 1);
        assert_eq!(t.shards.len(), 2);
        assert_eq!(t.shards[0].publishes, 1);
        assert_eq!(t.shards[1].publishes, 2);
        assert_eq!(t.shards[1].handle, [0; 5]);
        assert!(t.shards[0].handle[4] >= 3_000);
    }

    #[test]
    fn publishes_are_rate_limited() {
        let board = Arc::new(Board::new(1));
        let mut p = board.publisher(0);
        let t0 = crate::test_epoch();
        let h = histogram(&[]);
        let mut c = SipCounters::default();
        for i in 0..10u64 {
            c.requests_forwarded = i;
            let now = t0 + Duration::from_millis(i * 30);
            p.publish_if_due(now, || sample(&c, &h, 0, 0));
        }
        // Due at 0, 120, 240 ms (the turns at 0..270 ms every 30 ms).
        let t = board.read();
        assert_eq!(t.shards[0].publishes, 3);
        assert_eq!(t.sip.requests_forwarded, 8);
    }

    #[test]
    fn out_of_range_publisher_is_harmless() {
        let board = Arc::new(Board::new(1));
        let h = histogram(&[]);
        let c = SipCounters {
            requests_forwarded: 1,
            ..SipCounters::default()
        };
        board
            .publisher(5)
            .publish(crate::test_epoch(), &sample(&c, &h, 0, 0));
        assert_eq!(board.read().sip.requests_forwarded, 0);
    }
}
