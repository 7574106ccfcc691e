//! SIPp as a child process: spawn with stat/error/message traces in a temp
//! dir, wait or quit with bounds, parse the final statistics and the set of
//! Call-IDs seen.

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
        Sipp::uac_lasting(tag, target, calls, rate, timeout_s, None)
    }

    /// Like `uac`; with `hold_ms`, each call stays up that long between
    /// ACK and BYE (`tests/sipp/uac_long.xml`, `-d`).
    pub fn uac_lasting(
        tag: &str,
        target: &str,
        calls: u32,
        rate: u32,
        timeout_s: u32,
        hold_ms: Option<u32>,
    ) -> Sipp {
        let file = if hold_ms.is_some() {
            "uac_long.xml"
        } else {
            "uac.xml"
        };
        let sf = scenario(file).to_string_lossy().into_owned();
        let mut args: Vec<String> = vec![
            "-sf".into(),
            sf,
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
        if let Some(ms) = hold_ms {
            args.extend(["-d".into(), ms.to_string()]);
        }
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
