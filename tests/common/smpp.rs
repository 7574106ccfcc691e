//! SMPP peers for the integration tests: the asyncio SMSC simulator
//! (`tests/smpp/smsc.py`) and the PyPI `smpplib` ESME (`tests/smpp/esme.py`)
//! as child processes, killed on drop, and the balancer configuration that
//! puts the balancer between them.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::LbConfig;

/// Longest wait for a line from a peer.
const LINE_WAIT: Duration = Duration::from_secs(15);

/// Path of a script in `tests/smpp`.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/smpp")
        .join(name)
}

/// Whether `python3` with `smpplib` can run the ESME.
pub fn smpplib_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import smpplib"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: python3 with smpplib is not installed (run .ci/run)");
    }
    ok
}

/// A child process whose stdout lines arrive on a channel (read by a
/// thread, so every wait is bounded) and whose stdin the test writes.
struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Peer {
    fn spawn(mut cmd: Command) -> Peer {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Peer {
            child,
            stdin,
            lines,
        }
    }

    /// The next stdout line as JSON; `None` when the process ended or
    /// nothing came within `wait`.
    fn next_json(&self, wait: Duration) -> Option<Value> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            if let Ok(v) = serde_json::from_str(line.trim()) {
                return Some(v);
            }
        }
    }

    fn say(&mut self, line: &str) {
        if let Some(s) = self.stdin.as_mut() {
            let _ = writeln!(s, "{line}");
            let _ = s.flush();
        }
    }

    /// Everything on stderr so far (after the process ended).
    fn stderr(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut text);
        }
        text
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A running SMSC simulator.
pub struct Smsc {
    peer: Peer,
    /// Its listening port.
    pub port: u16,
}

impl Smsc {
    /// Starts `smsc.py --name name` with `extra` arguments on a port of
    /// its own choosing (it lives 60 s at most).
    pub fn start(name: &str, extra: &[&str]) -> Smsc {
        let mut cmd = Command::new("python3");
        cmd.arg(script("smsc.py"))
            .args(["--name", name, "--port", "0", "--lifetime", "60"])
            .args(extra);
        let peer = Peer::spawn(cmd);
        let v = peer.next_json(LINE_WAIT).expect("smsc.py listening line");
        let port = v["listening"].as_u64().expect("port") as u16;
        Smsc { peer, port }
    }

    /// Sends a mobile-originated `deliver_sm` with `text` to every bound
    /// receiver.
    pub fn deliver(&mut self, text: &str) {
        self.peer.say(&format!("deliver {text}"));
    }

    /// Its counters (`stats` on stdin).
    pub fn stats(&mut self) -> Value {
        self.peer.say("stats");
        self.peer.next_json(LINE_WAIT).expect("smsc.py stats line")
    }

    /// Closes every connection and the listener, then kills the process.
    pub fn die(&mut self) {
        self.peer.say("die");
        std::thread::sleep(Duration::from_millis(300));
        self.peer.kill();
    }
}

/// An ESME running in the background (`esme.py`), for tests that act
/// while it is bound.
pub struct Esme {
    peer: Peer,
}

impl Esme {
    /// Starts `esme.py --port port` with `args`.
    pub fn spawn(port: u16, args: &[&str]) -> Esme {
        let mut cmd = Command::new("python3");
        cmd.arg(script("esme.py"))
            .args(["--port", &port.to_string(), "--timeout", "5"])
            .args(args);
        Esme {
            peer: Peer::spawn(cmd),
        }
    }

    /// Waits for its `{"bound": status}` line; the bind status.
    pub fn bound(&self) -> Option<u64> {
        self.peer.next_json(LINE_WAIT)?["bound"].as_u64()
    }

    /// Lets an ESME started with `--wait-go` go on after its bind.
    pub fn go(&mut self) {
        self.peer.say("go");
    }

    /// Its report (the last JSON line) and whether it exited 0; a string
    /// with its stderr instead of the report if it printed none.
    pub fn finish(mut self) -> (Value, bool) {
        let mut report = None;
        while let Some(v) = self.peer.next_json(LINE_WAIT) {
            if v.get("bound").is_none() {
                report = Some(v);
            }
        }
        let deadline = Instant::now() + LINE_WAIT;
        let mut status = None;
        while status.is_none() && Instant::now() < deadline {
            status = self.peer.child.try_wait().ok().flatten();
            if status.is_none() {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let ok = status.is_some_and(|s| s.success());
        let report = report.unwrap_or_else(|| Value::String(self.peer.stderr()));
        (report, ok)
    }
}

/// Runs an ESME through `port` to its end; its JSON report and whether it
/// exited 0.
pub fn esme(port: u16, args: &[&str]) -> (Value, bool) {
    Esme::spawn(port, args).finish()
}

/// Balancer configuration: SMPP on `smpp_port` over `servers` (in that
/// round-robin order) and `extra` keys of the `smpp` section (e.g.
/// `"muxMode: true"`); `reconnectPeriod` is 200 ms unless `extra` sets it.
pub fn lb_config(smpp_port: u16, servers: &[u16], extra: &str) -> LbConfig {
    let mut cfg = LbConfig::two_legs();
    let list: Vec<String> = servers
        .iter()
        .map(|p| format!("\"127.0.0.1:{p}\""))
        .collect();
    let mut keys = format!(
        "smppPort: {smpp_port}, remoteServers: [{}]",
        list.join(", ")
    );
    if !extra.contains("reconnectPeriod") {
        keys += ", reconnectPeriod: 200";
    }
    if !extra.is_empty() {
        keys += ", ";
        keys += extra;
    }
    cfg.extra_yaml = format!("smpp: {{ {keys} }}\n");
    cfg
}

/// Submits of an `esme.py` report.
pub fn submits(report: &Value) -> &[Value] {
    report["submits"].as_array().map_or(&[], Vec::as_slice)
}
