//! When a shard's wait batches completions ([`BatchGate`]): only while
//! the shard is busy enough that a batching wait gathers several, like a
//! NIC's adaptive interrupt coalescing. Sans-IO: the ring reports each
//! wake-up with the time and the completions it found.
//!
//! A batching wait (`batchWaitMicros`) saves a wake-up per completion it
//! gathers, and costs the first completion of the batch up to the wait in
//! latency. It pays only when completions come faster than one per wait:
//! at 1000 SIP calls/s a 50 µs wait gathers nothing and delays every
//! message, at 400 000 submit_sm/s it gathers dozens. The gate measures
//! the completion rate over windows of [`WINDOW`] and engages batching
//! while one wait would gather at least [`ENGAGE_PER_WAIT`] completions,
//! releasing it below [`RELEASE_PER_WAIT`] (the gap keeps it from
//! flapping at the threshold).

use std::time::{Duration, Instant};

/// How long the completion rate is measured before each decision.
const WINDOW: Duration = Duration::from_millis(1);
/// Completions one wait would gather at the measured rate for batching
/// to engage, and below which it is released.
const ENGAGE_PER_WAIT: u128 = 2;
const RELEASE_PER_WAIT: u128 = 1;

/// Whether the next wait batches; see the module doc.
#[derive(Debug)]
pub(super) struct BatchGate {
    /// The batching wait; zero = never engage.
    wait: Duration,
    window_start: Instant,
    /// Completions seen since `window_start`.
    completions: u64,
    engaged: bool,
}

impl BatchGate {
    /// A gate for waits of `wait` (zero: never engaged), released.
    pub(super) fn new(wait: Duration, now: Instant) -> BatchGate {
        BatchGate {
            wait,
            window_start: now,
            completions: 0,
            engaged: false,
        }
    }

    /// Whether a batching wait is configured at all.
    pub(super) fn enabled(&self) -> bool {
        !self.wait.is_zero()
    }

    /// Whether the next wait should batch.
    pub(super) fn engaged(&self) -> bool {
        self.engaged
    }

    /// The next wait's minimum (µs) if it should batch.
    pub(super) fn min_wait_usec(&self) -> Option<u32> {
        self.engaged()
            .then(|| u32::try_from(self.wait.as_micros()).unwrap_or(u32::MAX))
    }

    /// A wake-up at `now` found `completions` ready. Returns true when
    /// this engaged the gate (for the counters).
    pub(super) fn on_wake(&mut self, now: Instant, completions: usize) -> bool {
        if !self.enabled() {
            return false;
        }
        self.completions = self.completions.saturating_add(completions as u64);
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed < WINDOW {
            return false;
        }
        // Completions one wait would gather at this window's rate.
        let per_wait =
            u128::from(self.completions) * self.wait.as_nanos() / elapsed.as_nanos().max(1);
        let was = self.engaged;
        self.engaged = if was {
            per_wait >= RELEASE_PER_WAIT
        } else {
            per_wait >= ENGAGE_PER_WAIT
        };
        self.window_start = now;
        self.completions = 0;
        self.engaged && !was
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_micros(50);

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A released gate for `wait`, and its start.
    fn gate(wait: Duration) -> (BatchGate, Instant) {
        let t0 = Instant::now();
        (BatchGate::new(wait, t0), t0)
    }

    /// Wake-ups every `gap` for `span`, each with `n` completions; the
    /// state at the end.
    fn run(
        gate: &mut BatchGate,
        start: Instant,
        gap: Duration,
        n: usize,
        span: Duration,
    ) -> Instant {
        let mut t = start;
        while t < start + span {
            t += gap;
            gate.on_wake(t, n);
        }
        t
    }

    #[test]
    fn a_quiet_shard_never_batches() {
        let (mut g, t0) = gate(WAIT);
        // 1000 SIP calls/s ≈ 14 000 completions/s: 0.7 per 50 µs wait.
        run(&mut g, t0, us(71), 1, ms(20));
        assert!(!g.engaged());
    }

    #[test]
    fn a_busy_shard_batches_within_two_windows_and_lets_go_when_load_stops() {
        let (mut g, t0) = gate(WAIT);
        // 200 000 completions/s: 10 per wait.
        let t = run(&mut g, t0, us(5), 1, us(2100));
        assert!(g.engaged());
        // Batched waits: fewer wake-ups with more each, same rate: stays.
        let t = run(&mut g, t, us(50), 10, ms(5));
        assert!(g.engaged());
        // Load stops: the next wake-up is the timeout, with nothing.
        g.on_wake(t + ms(100), 0);
        assert!(!g.engaged());
    }

    #[test]
    fn between_the_thresholds_the_state_holds() {
        let (mut g, t0) = gate(WAIT);
        // 1.5 per wait: not enough to engage…
        let gap = Duration::from_nanos(33_333);
        let t = run(&mut g, t0, gap, 1, ms(5));
        assert!(!g.engaged());
        // …once engaged by a burst, not little enough to release.
        let t = run(&mut g, t, us(5), 1, ms(3));
        assert!(g.engaged());
        run(&mut g, t, gap, 1, ms(5));
        assert!(g.engaged());
    }

    #[test]
    fn a_zero_wait_never_engages() {
        let (mut g, t0) = gate(Duration::ZERO);
        run(&mut g, t0, us(1), 32, ms(5));
        assert!(!g.engaged());
    }

    #[test]
    fn on_wake_reports_the_engagement_once() {
        let (mut g, t0) = gate(WAIT);
        let engaged = (1..=40u64)
            .filter(|&i| g.on_wake(t0 + Duration::from_micros(100 * i), 20))
            .count();
        assert_eq!(engaged, 1);
    }
}
