//! SIPp as a child process: spawn with stat/error/message traces in a temp
//! dir, wait or quit with bounds, parse the final statistics, the set of
//! Call-IDs seen and the message trace (with SIPp's timestamps).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::balancer::{signal, wait_exit, TempDir};

/// Directory of the test scenarios (`tests/sipp/*.xml`).
pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// A scenario shared with the load harness (`sipp-scenarios/*.xml`).
pub fn shared_scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sipp-scenarios")
        .join(name)
}

/// True if a `sipp` binary is on PATH.
pub fn sipp_available() -> bool {
    Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Final call counters from the `-trace_stat` CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SippStats {
    /// `SuccessfulCall(C)`.
    pub successful: u64,
    /// `FailedCall(C)`.
    pub failed: u64,
}

/// A running (or finished) SIPp.
pub struct Sipp {
    child: Option<Child>,
    /// Trace directory (stat.csv, errors.log, messages.log).
    pub dir: TempDir,
    /// Local SIP port (`-p`).
    pub port: u16,
}

impl Sipp {
    /// Spawns `sipp <args> -p port` with `-nostdin`, `-trace_stat` (1 s dumps),
    /// `-trace_err` and `-trace_msg` into a fresh temp dir.
    pub fn spawn(tag: &str, port: u16, args: &[String]) -> Sipp {
        let dir = TempDir::new(tag);
        let d = |f: &str| dir.path.join(f).to_string_lossy().into_owned();
        let mut cmd = Command::new("sipp");
        cmd.args(args)
            .args(["-nostdin", "-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-trace_stat", "-stf", &d("stat.csv"), "-fd", "1"])
            .args(["-trace_err", "-error_file", &d("errors.log")])
            .args(["-trace_msg", "-message_file", &d("messages.log")])
            .current_dir(&dir.path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .expect("spawn sipp (is it installed? see .ci/run)");
        Sipp {
            child: Some(child),
            dir,
            port,
        }
    }

    /// A UAS on `port` answering calls and (`-aa`) OPTIONS probes.
    pub fn uas(tag: &str, port: u16) -> Sipp {
        let sf = scenario("uas.xml").to_string_lossy().into_owned();
        Sipp::spawn(tag, port, &["-sf".into(), sf, "-aa".into()])
    }

    /// A UAC sending `calls` calls at `rate` cps to `target`, giving up
    /// after `timeout_s` seconds (then failing: `-timeout_error`).
    pub fn uac(tag: &str, target: &str, calls: u32, rate: u32, timeout_s: u32) -> Sipp {
        Sipp::uac_with(
            tag,
            &scenario("uac.xml"),
            target,
            calls,
            rate,
            timeout_s,
            &[],
        )
    }

    /// Like [`Sipp::uac`] with scenario `sf` and `extra` arguments (e.g.
    /// `-d 5000` for the pause of `sipp-scenarios/uac.xml`).
    pub fn uac_with(
        tag: &str,
        sf: &Path,
        target: &str,
        calls: u32,
        rate: u32,
        timeout_s: u32,
        extra: &[&str],
    ) -> Sipp {
        let mut args: Vec<String> = vec![
            "-sf".into(),
            sf.to_string_lossy().into_owned(),
            target.into(),
            "-m".into(),
            calls.to_string(),
            "-r".into(),
            rate.to_string(),
            "-timeout".into(),
            format!("{timeout_s}s"),
            "-timeout_error".into(),
            "-recv_timeout".into(),
            "5s".into(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        Sipp::spawn(tag, super::net::free_port(), &args)
    }

    /// Waits up to `dur` for SIPp to exit by itself; kills it otherwise.
    /// Returns the exit code (`None` = had to be killed).
    pub fn wait(&mut self, dur: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        match wait_exit(&mut child, dur) {
            Some(s) => s.code(),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        }
    }

    /// Asks SIPp to quit (SIGUSR1: stop and dump final stats), up to 5 s,
    /// then kills it.
    pub fn quit(&mut self) {
        if let Some(c) = self.child.as_ref() {
            signal(c.id(), libc::SIGUSR1);
        }
        let _ = self.wait(Duration::from_secs(5));
    }

    /// Kills SIPp at once (a crashed node).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Final counters (the last line of the stat CSV).
    pub fn stats(&self) -> SippStats {
        parse_stat_csv(&self.read("stat.csv"))
    }

    /// Distinct Call-IDs in the message trace, probes and heartbeats excluded.
    pub fn call_ids(&self) -> BTreeSet<String> {
        trace_call_ids(&self.read("messages.log"))
    }

    /// Every message of the message trace, in order.
    pub fn trace(&self) -> Vec<Traced> {
        parse_trace(&self.read("messages.log"))
    }

    /// Seconds to add to a [`Traced::stamp`] to get Unix time (SIPp writes
    /// local time), from the last line of the stat CSV, which has both.
    pub fn stamp_to_unix(&self) -> Option<f64> {
        stamp_offset(&self.read("stat.csv"))
    }

    /// Process id (0 once waited for or killed).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// Contents of a trace file (empty if absent).
    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path.join(file)).unwrap_or_default()
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Parses SIPp's `-trace_stat` CSV (`;`-separated, header first line).
pub fn parse_stat_csv(csv: &str) -> SippStats {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return SippStats::default();
    };
    let Some(last) = lines.next_back() else {
        return SippStats::default();
    };
    let cols: Vec<&str> = header.split(';').collect();
    let vals: Vec<&str> = last.split(';').collect();
    let get = |name: &str| {
        cols.iter()
            .position(|c| *c == name)
            .and_then(|i| vals.get(i))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    SippStats {
        successful: get("SuccessfulCall(C)"),
        failed: get("FailedCall(C)"),
    }
}

/// Distinct `Call-ID:` values in a `-trace_msg` file, without the
/// balancer's probes (`lbprobe-`) and heartbeats (`hb-`).
pub fn trace_call_ids(trace: &str) -> BTreeSet<String> {
    trace
        .lines()
        .filter_map(|l| {
            let (name, v) = l.split_once(':')?;
            let n = name.trim();
            (n.eq_ignore_ascii_case("call-id") || n.eq_ignore_ascii_case("i"))
                .then(|| v.trim().to_string())
        })
        .filter(|c| !c.starts_with("lbprobe-") && !c.starts_with("hb-"))
        .collect()
}

/// One message of a SIPp `-trace_msg` file.
#[derive(Debug, Clone)]
pub struct Traced {
    /// SIPp received it (else sent it).
    pub received: bool,
    /// Method of a request; `None` for a response.
    pub method: Option<String>,
    /// Status of a response.
    pub status: Option<u16>,
    /// Its Call-ID.
    pub call_id: String,
    /// The method of its CSeq (what a response answers).
    pub cseq_method: String,
    /// When SIPp logged it: local civil time as seconds since 1970-01-01
    /// (add [`Sipp::stamp_to_unix`] for Unix time).
    pub stamp: Option<f64>,
}

/// Parses a `-trace_msg` file: blocks headed by a dashed line with the
/// date and time, then `… message sent` or `… message received`.
pub fn parse_trace(text: &str) -> Vec<Traced> {
    let mut out = Vec::new();
    for block in text
        .split("----------------------------------------------- ")
        .skip(1)
    {
        let mut lines = block.lines();
        let stamp = lines.next().and_then(civil_seconds);
        let received = lines.next().unwrap_or("").contains("received");
        let mut lines = lines.skip_while(|l| l.trim().is_empty());
        let start = lines.next().unwrap_or("").trim().to_string();
        let headers: Vec<(&str, &str)> = lines
            .take_while(|l| !l.trim().is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim(), v.trim()))
            .collect();
        let header = |long: &str, short: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(long) || *n == short)
                .map(|(_, v)| v.to_string())
                .unwrap_or_default()
        };
        let cseq = header("cseq", "cseq");
        let (method, status) = match start.strip_prefix("SIP/2.0 ") {
            Some(rest) => (None, rest.get(..3).and_then(|c| c.parse().ok())),
            None => (start.split(' ').next().map(str::to_string), None),
        };
        out.push(Traced {
            received,
            method,
            status,
            call_id: header("call-id", "i"),
            cseq_method: cseq.split_whitespace().nth(1).unwrap_or("").to_string(),
            stamp,
        });
    }
    out
}

/// `2026-12-02 16:01:18.865794` (or with a tab) as seconds since
/// 1970-01-01 00:00 of the same clock.
pub fn civil_seconds(text: &str) -> Option<f64> {
    let mut parts = text.split_whitespace();
    let (date, time) = (parts.next()?, parts.next()?);
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (h, min) = (
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
    );
    let s = t.next()?.parse::<f64>().ok()?;
    // Days from civil (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + h * 3600.0 + min * 60.0 + s)
}

/// Unix time minus local civil time, from the `CurrentTime` column of the
/// last line of a stat CSV (`date<TAB>time<TAB>unix`).
pub fn stamp_offset(csv: &str) -> Option<f64> {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let cols: Vec<&str> = lines.next()?.split(';').collect();
    let last: Vec<&str> = lines.next_back()?.split(';').collect();
    let current = last.get(cols.iter().position(|c| *c == "CurrentTime")?)?;
    let unix: f64 = current.split('\t').nth(2)?.trim().parse().ok()?;
    Some(unix - civil_seconds(current)?)
}

/// Serialises the heavy tests (SIPp load, two-shard order) within one test
/// binary so they do not starve each other of the two CI cores. Waits at
/// most 20 minutes.
pub struct HeavyGuard(());

static HEAVY: AtomicBool = AtomicBool::new(false);

impl HeavyGuard {
    /// Takes the process-wide heavy-test slot.
    pub fn take() -> HeavyGuard {
        let deadline = std::time::Instant::now() + Duration::from_secs(1200);
        while HEAVY
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "heavy-test slot busy too long"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        HeavyGuard(())
    }
}

impl Drop for HeavyGuard {
    fn drop(&mut self) {
        HEAVY.store(false, Ordering::SeqCst);
    }
}
