//! Call-ID affinity table: insert, lookup hit, lookup miss (criterion), then
//! a memory and stall report printed before the criterion runs:
//! bytes per entry for 1,000,000 entries (from a counting global allocator),
//! process RSS before/after (`VmRSS`), the cost of one generation rotation
//! and the worst single insert once the table is warm.
#![allow(missing_docs)]
// criterion_group! generates undocumented public fns
// The counting allocator below is the only unsafe code, and it only forwards
// to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use sip_balancer::balancer::call_id_table::CallIdTable;
use sip_balancer::balancer::hash::key_hash;
use sip_balancer::registry::NodeId;

// === counting allocator ===

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let live = LIVE.fetch_add(n, Relaxed) + n;
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged; the counters are side bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Relaxed);
        grew(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// === helpers ===

const IDLE: Duration = Duration::from_secs(500);

/// Distinct, well-mixed keys, as `key_hash` gives for Call-IDs.
fn key(i: u64) -> u64 {
    key_hash(&i.to_le_bytes())
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .unwrap_or("");
    line.split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn filled(max_entries: usize, n: u64, now: Instant) -> CallIdTable {
    let mut t = CallIdTable::new(max_entries, IDLE, now);
    for i in 0..n {
        t.insert(key(i), NodeId((i % 32) as u32), now);
    }
    t
}

// === memory and stall report ===

fn memory_report() {
    const N: u64 = 1_000_000;
    let now = Instant::now();
    let rss_before = vm_rss_kib();
    let live_before = LIVE.load(Relaxed);
    PEAK.store(live_before, Relaxed);
    let table = filled(N as usize, N, now);
    let bytes = LIVE.load(Relaxed) - live_before;
    let peak = PEAK.load(Relaxed) - live_before;
    let rss_after = vm_rss_kib();
    println!("call_id_table memory, max_entries = 1,000,000, {N} distinct keys inserted:");
    println!("  entries held      {}", table.len());
    println!(
        "  heap              {bytes} B = {:.1} B/entry",
        bytes as f64 / table.len() as f64
    );
    println!(
        "  heap peak (grow)  {peak} B = {:.1} B/entry",
        peak as f64 / table.len() as f64
    );
    println!(
        "  VmRSS             {rss_before} KiB before, {rss_after} KiB after (+{} KiB)",
        rss_after.saturating_sub(rss_before)
    );
    drop(table);
    rotation_report(now);
}

/// One time-driven rotation of a full 1M-bound table (drops 500k entries),
/// and the worst single insert of a warm table under a flood.
fn rotation_report(now: Instant) {
    let mut samples = Vec::new();
    for round in 1..=5u32 {
        let mut t = filled(1_000_000, 1_000_000, now);
        let at = now + IDLE * round;
        let start = Instant::now();
        t.handle_timeout(at);
        samples.push(start.elapsed());
        black_box(&t);
    }
    samples.sort();
    println!(
        "  rotation (drop 500k, demote 500k): min {:?}, median {:?}",
        samples[0], samples[2]
    );

    let mut t = filled(1_000_000, 2_000_000, now); // warm: both generations at capacity
    let mut times = Vec::with_capacity(2_000_000);
    for i in 2_000_000..4_000_000u64 {
        let start = Instant::now();
        t.insert(key(i), NodeId(1), now);
        times.push(start.elapsed());
    }
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    times.sort_unstable();
    let worst: Vec<Duration> = times.iter().rev().take(6).copied().collect();
    let over_20us = times
        .iter()
        .filter(|d| **d > Duration::from_micros(20))
        .count();
    println!(
        "  warm flood, 2M inserts (4 early rotations): mean {mean:?}, p99.99 {:?}, \
         {over_20us} over 20 µs, worst {worst:?}",
        times[times.len() * 9999 / 10000]
    );
}

// === criterion ===

fn ops(c: &mut Criterion) {
    let now = Instant::now();
    let mut group = c.benchmark_group("call_id_table");

    let mut t = CallIdTable::new(1_000_000, IDLE, now);
    let mut i = 0u64;
    group.bench_function("insert_new_key", |b| {
        b.iter(|| {
            i += 1;
            t.insert(key(i), NodeId(1), now);
        })
    });

    let mut t = filled(1_000_000, 400_000, now);
    let mut i = 0u64;
    group.bench_function("get_hit_400k", |b| {
        b.iter(|| {
            i = (i + 1) % 400_000;
            black_box(t.get(key(i), now))
        })
    });
    let mut i = 1_000_000u64;
    group.bench_function("get_miss_400k", |b| {
        b.iter(|| {
            i += 1;
            black_box(t.get(key(i), now))
        })
    });
    group.bench_function("key_hash_only", |b| {
        b.iter(|| {
            i += 1;
            black_box(key(i))
        })
    });
    group.finish();
}

criterion_group!(benches, ops);

fn main() {
    memory_report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
