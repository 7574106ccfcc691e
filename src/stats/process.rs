//! The process's CPU time and resident memory, parsed from the text of
//! `/proc/self/stat` and `/proc/self/status` (the caller reads the files),
//! and recent CPU usage from two samples.
//!
//! These stand in for the original's `JvmCpuUsage` (process CPU load,
//! percent of all CPUs the process may use) and `JvmHeapSize` (used heap
//! bytes; here: resident set size, `VmRSS`).

use std::time::{Duration, Instant};

/// Kernel clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`, 100 on
/// every Linux architecture the balancer runs on).
pub const USER_HZ: u64 = 100;

/// CPU time of the process, from `/proc/self/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTime {
    /// User plus system time, in [`USER_HZ`] ticks.
    pub ticks: u64,
}

/// What the admin answers report about the process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    /// Recent CPU usage: percent of all the CPUs the process may use, 0..=100.
    pub cpu_percent: f64,
    /// Total user plus system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
}

/// Recent CPU usage from successive [`CpuTime`] samples.
#[derive(Debug, Clone, Default)]
pub struct CpuMeter {
    last: Option<(Instant, CpuTime)>,
    percent: f64,
}

// === impl CpuTime ===

impl CpuTime {
    /// Parse `/proc/<pid>/stat`: fields 14 (`utime`) and 15 (`stime`),
    /// counted after the parenthesised command name (which may itself
    /// contain spaces and parentheses). `None` if the text is not that.
    pub fn parse(stat: &str) -> Option<CpuTime> {
        let after = stat.get(stat.rfind(')')? + 1..)?;
        // After ")": state is field 3, so utime (14) is the 12th token.
        let mut fields = after.split_ascii_whitespace().skip(11);
        let utime: u64 = fields.next()?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        Some(CpuTime {
            ticks: utime.saturating_add(stime),
        })
    }

    /// The time in seconds.
    pub fn seconds(self) -> f64 {
        self.ticks as f64 / USER_HZ as f64
    }
}

/// Parse `VmRSS:  1234 kB` out of `/proc/<pid>/status`, in bytes.
pub fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut parts = line.get("VmRSS:".len()..)?.split_ascii_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    let unit = match parts.next() {
        Some("kB") | None => 1024,
        Some("mB") => 1024 * 1024,
        Some(_) => return None,
    };
    value.checked_mul(unit)
}

// === impl CpuMeter ===

impl CpuMeter {
    /// Record a sample taken at `now`; `cpus` is how many CPUs the process
    /// may use. The usage is the CPU time used since the previous sample
    /// over the wall time between them times `cpus` (samples closer than
    /// `min_gap` are ignored, so the rate is not computed over a few ticks).
    pub fn sample(&mut self, now: Instant, cpu: CpuTime, cpus: usize, min_gap: Duration) {
        match self.last {
            Some((at, _)) if now.saturating_duration_since(at) < min_gap => {}
            Some((at, before)) => {
                let wall = now.saturating_duration_since(at).as_secs_f64() * cpus.max(1) as f64;
                let used = cpu.ticks.saturating_sub(before.ticks) as f64 / USER_HZ as f64;
                if wall > 0.0 {
                    self.percent = (used / wall * 100.0).clamp(0.0, 100.0);
                }
                self.last = Some((now, cpu));
            }
            None => self.last = Some((now, cpu)),
        }
    }

    /// The usage computed at the last accepted sample, percent.
    pub fn percent(&self) -> f64 {
        self.percent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (sip (bal) ancer) S 1 4242 4242 0 -1 4194560 1234 0 0 0 \
                        250 75 0 0 20 0 5 0 123456 1000000 2000 18446744073709551615";

    #[test]
    fn stat_fields_after_the_command_name() {
        let t = CpuTime::parse(STAT).unwrap();
        assert_eq!(t.ticks, 325);
        assert_eq!(t.seconds(), 3.25);
        assert_eq!(CpuTime::parse("garbage"), None);
        assert_eq!(CpuTime::parse("1 (x) S 1 2"), None);
        assert_eq!(CpuTime::parse(""), None);
    }

    #[test]
    fn rss_in_bytes() {
        let status = "Name:\tsip-balancer\nVmPeak:\t  99999 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_rss(status), Some(12345 * 1024));
        assert_eq!(parse_rss("VmRSS: x kB"), None);
        assert_eq!(parse_rss("Name: y"), None);
    }

    #[test]
    fn usage_over_the_interval_and_cpus() {
        let t0 = crate::test_epoch();
        let gap = Duration::from_millis(500);
        let mut m = CpuMeter::default();
        m.sample(t0, CpuTime { ticks: 1000 }, 2, gap);
        assert_eq!(m.percent(), 0.0);
        // 1 s of CPU over 1 s of wall on 2 CPUs: 50 %.
        m.sample(t0 + Duration::from_secs(1), CpuTime { ticks: 1100 }, 2, gap);
        assert!((m.percent() - 50.0).abs() < 1e-9, "{}", m.percent());
        // Too close to the last sample: ignored.
        m.sample(
            t0 + Duration::from_millis(1100),
            CpuTime { ticks: 1200 },
            2,
            gap,
        );
        assert!((m.percent() - 50.0).abs() < 1e-9);
        // Idle second.
        m.sample(t0 + Duration::from_secs(2), CpuTime { ticks: 1100 }, 2, gap);
        assert_eq!(m.percent(), 0.0);
    }
}
