//! The two daemons of a balancer host, each a child process started with
//! `ip netns exec`: sip-balancer and keepalived. Their output goes to the
//! test's stderr with a prefix and to a channel the test can wait on; drop
//! sends SIGTERM, then SIGKILL if the process is still there after 3 s.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, Instant};

use crate::common::balancer::{sigterm, wait_exit};
use crate::netns::Netns;

/// A child process with its output lines.
pub(crate) struct Proc {
    child: Option<Child>,
    lines: Receiver<String>,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr piped and prefixed with `tag`.
    pub(crate) fn spawn(tag: &str, mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {tag}: {e}"));
        let (tx, lines) = mpsc::channel();
        pump(tag, child.stdout.take(), tx.clone());
        pump(tag, child.stderr.take(), tx);
        Proc {
            child: Some(child),
            lines,
        }
    }

    /// Waits up to `dur` for a line containing `needle`; Err = the lines
    /// seen meanwhile.
    pub(crate) fn wait_line(&self, needle: &str, dur: Duration) -> Result<String, String> {
        let deadline = Instant::now() + dur;
        let mut seen = String::new();
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Err(seen);
            };
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return Ok(l),
                Ok(l) => seen += &(l + "\n"),
                Err(_) => return Err(seen),
            }
        }
    }

    /// SIGKILL, then reaps it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits up to `dur` for the process to exit.
    pub(crate) fn wait_exit(&mut self, dur: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let status = wait_exit(child, dur);
        if status.is_some() {
            self.child = None;
        }
        status
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if matches!(c.try_wait(), Ok(None)) {
                sigterm(c.id());
                if wait_exit(&mut c, Duration::from_secs(3)).is_none() {
                    let _ = c.kill();
                }
            }
            let _ = c.wait();
        }
    }
}

/// Forwards each line of `out` to our stderr and to `tx`.
fn pump(tag: &str, out: Option<impl Read + Send + 'static>, tx: Sender<String>) {
    let Some(out) = out else { return };
    let tag = tag.to_string();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            eprintln!("[{tag}] {line}");
            let _ = tx.send(line);
        }
    });
}

/// Starts sip-balancer in `ns` on `yaml` (written to `dir/lb.yaml`) and
/// waits for both SIP legs to listen.
pub(crate) fn balancer(ns: &Netns, tag: &str, dir: &Path, yaml: &str) -> Proc {
    let path = dir.join("lb.yaml");
    std::fs::write(&path, yaml).expect("write lb.yaml");
    let mut cmd = ns.command(env!("CARGO_BIN_EXE_sip-balancer"));
    cmd.arg("--config").arg(&path).env("RUST_LOG", "info");
    let p = Proc::spawn(tag, cmd);
    for leg in ["external", "internal"] {
        if let Err(log) = p.wait_line(&format!("listening sip/udp {leg}"), Duration::from_secs(15))
        {
            panic!("{tag}: no `listening sip/udp {leg}` within 15 s:\n{yaml}\n{log}");
        }
    }
    p
}

/// Starts keepalived (VRRP only, in the foreground, logging to the
/// console) in `ns` on `conf`, with its pid files in `dir`.
pub(crate) fn keepalived(ns: &Netns, tag: &str, dir: &Path, conf: &str) -> Proc {
    let path = dir.join("keepalived.conf");
    std::fs::write(&path, conf).expect("write keepalived.conf");
    let mut cmd = ns.command("keepalived");
    cmd.args(["--dont-fork", "--log-console", "--log-detail", "--vrrp"])
        .arg("--use-file")
        .arg(&path)
        .arg("--pid")
        .arg(dir.join("keepalived.pid"))
        .arg("--vrrp_pid")
        .arg(dir.join("vrrp.pid"));
    let p = Proc::spawn(tag, cmd);
    if let Err(log) = p.wait_line("Startup complete", Duration::from_secs(10)) {
        panic!("{tag}: keepalived did not start within 10 s:\n{log}");
    }
    p
}
