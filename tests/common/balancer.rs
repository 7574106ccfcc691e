//! The balancer under test as a child process: config generation (in ONE
//! function, [`LbConfig::yaml`]), start-up wait, SIGTERM stop.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::net::{free_port, local};

/// How long the balancer may take to print its listening lines.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// SIGTERM must stop it within this.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// The knobs tests turn. Everything else stays at the values in `yaml`.
#[derive(Debug, Clone)]
pub struct LbConfig {
    /// Shards.
    pub cores: usize,
    /// External UDP port; 0 = none (the external leg serves only its
    /// stream ports).
    pub external: u16,
    /// Internal UDP port; `None` = single entry point.
    pub internal: Option<u16>,
    /// `isSendTrying`.
    pub send_trying: bool,
    /// `unavailableStatus`.
    pub unavailable_status: u16,
    /// `unavailableReason`.
    pub unavailable_reason: String,
    /// `nodeTimeout`, ms.
    pub node_timeout_ms: u64,
    /// `heartbeatInterval`, ms.
    pub heartbeat_interval_ms: u64,
    /// Static probed nodes: (hostname, udp port) on 127.0.0.1.
    pub static_nodes: Vec<(String, u16)>,
    /// More static nodes, each the body of a `nodes:` flow mapping
    /// (e.g. `ip: 127.0.0.1, httpPort: 8080, jvmRoute: a`).
    pub static_node_yaml: Vec<String>,
    /// External TCP port.
    pub external_tcp: Option<u16>,
    /// Internal TCP port.
    pub internal_tcp: Option<u16>,
    /// `internalTransport` (e.g. `tcp`).
    pub internal_transport: Option<String>,
    /// Extra YAML lines under `sip:` (two-space indented).
    pub sip_extra: String,
    /// `heartbeatPort` (HTTP/JSON heartbeats); `None` writes `0` (off), so
    /// parallel tests do not fight over the default 2610.
    pub heartbeat_port: Option<u16>,
    /// Extra `, key: value` pairs inside the `algorithm:` flow mapping
    /// (e.g. `, algorithmClass: userBased, sipHeaderAffinityKey: To`).
    pub algorithm_extra: String,
    /// Body of a `health: { … }` flow mapping; empty = no section.
    pub health: String,
    /// Host of both legs (`127.0.0.1`; `::1` for the IPv6 tests).
    pub host: String,
    /// External TLS port.
    pub external_tls: Option<u16>,
    /// External WebSocket port.
    pub external_ws: Option<u16>,
    /// External secure WebSocket port.
    pub external_wss: Option<u16>,
    /// Internal TLS port.
    pub internal_tls: Option<u16>,
    /// Internal WebSocket port.
    pub internal_ws: Option<u16>,
    /// Internal secure WebSocket port.
    pub internal_wss: Option<u16>,
    /// Extra top-level YAML (e.g. an `ssl:` section), appended last.
    pub extra_yaml: String,
    /// Extra `, key: value` pairs inside the external leg's flow mapping
    /// (e.g. `, ipLoadBalancerAddress: [127.0.0.1], ipLoadBalancerUdpPort: 5070`).
    pub external_extra: String,
    /// `statisticPort`; `None` writes `0` (off: parallel balancers would collide on 2006).
    pub statistic_port: Option<u16>,
    /// `sip.enabled`; false: the balancer binds no SIP socket and start-up
    /// waits for its `listening smpp`/`listening http` line instead.
    pub sip_enabled: bool,
}

impl LbConfig {
    /// What the start-up log must show before the balancer counts as
    /// started, each a pair of texts one line contains: a `listening sip/…`
    /// line per leg or, with SIP off, the SMPP (else HTTP) listener's line.
    fn listening_lines(&self) -> Vec<(String, String)> {
        if !self.sip_enabled {
            let what = if self.extra_yaml.contains("smppPort") {
                "listening smpp"
            } else {
                "listening http"
            };
            return vec![(what.into(), String::new())];
        }
        let legs = if self.internal.is_some() { 2 } else { 1 };
        ["external", "internal"][..legs]
            .iter()
            .map(|leg| ("listening sip/".into(), format!(" {leg} ")))
            .collect()
    }

    /// Two entry points on fresh ports, one core, no static nodes.
    pub fn two_legs() -> LbConfig {
        LbConfig {
            cores: 1,
            external: free_port(),
            internal: Some(free_port()),
            send_trying: true,
            unavailable_status: 503,
            unavailable_reason: "Service Unavailable".to_string(),
            node_timeout_ms: 3000,
            heartbeat_interval_ms: 150,
            static_nodes: Vec::new(),
            static_node_yaml: Vec::new(),
            external_tcp: None,
            internal_tcp: None,
            internal_transport: None,
            sip_extra: String::new(),
            heartbeat_port: None,
            algorithm_extra: String::new(),
            health: String::new(),
            host: "127.0.0.1".to_string(),
            external_tls: None,
            external_ws: None,
            external_wss: None,
            internal_tls: None,
            internal_ws: None,
            internal_wss: None,
            extra_yaml: String::new(),
            external_extra: String::new(),
            statistic_port: None,
            sip_enabled: true,
        }
    }

    /// One entry point (external only) on a fresh port.
    pub fn single_leg() -> LbConfig {
        LbConfig {
            internal: None,
            ..LbConfig::two_legs()
        }
    }

    /// Adds a static node probed with OPTIONS.
    pub fn with_static_node(mut self, hostname: &str, port: u16) -> LbConfig {
        self.static_nodes.push((hostname.to_string(), port));
        self
    }

    /// The YAML text. The only place that knows the file format.
    pub fn yaml(&self) -> String {
        let mut y = format!("cores: {}\nsip:\n", self.cores);
        if !self.sip_enabled {
            y += "  enabled: false\n";
        }
        let port = |key: &str, p: Option<u16>| p.map_or(String::new(), |p| format!(", {key}: {p}"));
        let host = if self.host.contains(':') {
            format!("\"{}\"", self.host)
        } else {
            self.host.clone()
        };
        let streams = |tcp, tls, ws, wss| {
            port("tcpPort", tcp)
                + &port("tlsPort", tls)
                + &port("wsPort", ws)
                + &port("wssPort", wss)
        };
        let udp = match self.external {
            0 => String::new(),
            p => format!(", udpPort: {p}"),
        };
        y += &format!(
            "  external: {{ host: {host}{udp}{}{} }}\n",
            streams(
                self.external_tcp,
                self.external_tls,
                self.external_ws,
                self.external_wss
            ),
            self.external_extra
        );
        if let Some(p) = self.internal {
            y += &format!(
                "  internal: {{ host: {host}, udpPort: {p}{} }}\n",
                streams(
                    self.internal_tcp,
                    self.internal_tls,
                    self.internal_ws,
                    self.internal_wss
                )
            );
        }
        if let Some(t) = &self.internal_transport {
            y += &format!("  internalTransport: {t}\n");
        }
        y += &self.sip_extra;
        y += &format!(
            "  isSendTrying: {}\n  unavailableStatus: {}\n  unavailableReason: {}\n",
            self.send_trying, self.unavailable_status, self.unavailable_reason
        );
        y += &format!(
            "nodeTimeout: {}\nheartbeatInterval: {}\n",
            self.node_timeout_ms, self.heartbeat_interval_ms
        );
        y += &format!(
            "algorithm: {{ callIdAffinityMaxTimeInCache: 500{} }}\n",
            self.algorithm_extra
        );
        if !self.health.is_empty() {
            y += &format!("health: {{ {} }}\n", self.health);
        }
        if self.static_nodes.is_empty() && self.static_node_yaml.is_empty() {
            y += "nodes: []\n";
        } else {
            y += "nodes:\n";
            for (name, port) in &self.static_nodes {
                y += &format!("  - {{ ip: 127.0.0.1, udpPort: {port}, hostname: {name} }}\n");
            }
            for body in &self.static_node_yaml {
                y += &format!("  - {{ {body} }}\n");
            }
        }
        y += "probe: { interval: 200, timeout: 500, failuresToDown: 2, successesToUp: 1 }\n";
        match self.statistic_port {
            None => y += "statisticPort: 0\n",
            Some(p) => y += &format!("statisticPort: {p}\n"),
        }
        y += &format!("heartbeatPort: {}\n", self.heartbeat_port.unwrap_or(0));
        y += &self.extra_yaml;
        y
    }
}

/// A scratch directory under the system temp dir, removed on drop.
pub struct TempDir {
    /// Its path.
    pub path: PathBuf,
}

impl TempDir {
    /// Creates `$TMPDIR/sip-balancer-tests-<pid>-<n>-<tag>`.
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "sip-balancer-tests-{}-{n}-{tag}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A running balancer.
pub struct Balancer {
    child: Option<Child>,
    /// Client-facing address.
    pub external: SocketAddr,
    /// Node-facing address (the external one in single-entry mode).
    pub internal: SocketAddr,
    /// Config it runs with.
    pub config: LbConfig,
    /// The config file it was started with (`--config`).
    pub config_path: PathBuf,
    /// Its stderr lines not yet looked at by [`Balancer::wait_log`].
    log: mpsc::Receiver<String>,
    _dir: TempDir,
}

impl Balancer {
    /// Writes `cfg.yaml()` to a temp file, spawns the binary (or the one
    /// `TEST_LB_BIN` names, e.g. an older build to show a test fails on it)
    /// and waits for one `listening sip/…` line per leg.
    pub fn start(cfg: &LbConfig) -> Balancer {
        let own: &std::ffi::OsStr = env!("CARGO_BIN_EXE_sip-balancer").as_ref();
        let bin = std::env::var_os("TEST_LB_BIN");
        Balancer::start_program(bin.as_deref().unwrap_or(own), cfg)
    }

    /// Like `start` with another program (the harness self-test uses a
    /// stand-in script to prove start-up and stop handling).
    pub fn start_program(program: &std::ffi::OsStr, cfg: &LbConfig) -> Balancer {
        let (child, dir, log) = spawn_with_yaml(program, &cfg.yaml(), &cfg.listening_lines());
        let ip: std::net::IpAddr = cfg.host.parse().expect("LbConfig.host is an IP");
        Balancer {
            child: Some(child),
            external: SocketAddr::new(ip, cfg.external),
            internal: SocketAddr::new(ip, cfg.internal.unwrap_or(cfg.external)),
            config: cfg.clone(),
            config_path: dir.path.join("lb.yaml"),
            log,
            _dir: dir,
        }
    }

    /// Replaces the config file with `text` (written beside it, then
    /// renamed over it, so the balancer never reads half a file).
    pub fn rewrite_config(&self, text: &str) {
        let tmp = self.config_path.with_extension("yaml.new");
        std::fs::write(&tmp, text).expect("write new config");
        std::fs::rename(&tmp, &self.config_path).expect("rename new config");
    }

    /// SIGHUP: the balancer reads its config file again.
    pub fn reload(&self) {
        signal(self.pid(), libc::SIGHUP);
    }

    /// Waits up to `dur` for a stderr line containing `needle` (lines
    /// before it are consumed); returns it.
    pub fn wait_log(&self, needle: &str, dur: Duration) -> Option<String> {
        let deadline = Instant::now() + dur;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.log.recv_timeout(left).ok()?;
            if line.contains(needle) {
                return Some(line);
            }
        }
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGTERM, then asserts a clean exit (status 0) within 2 s.
    pub fn stop(mut self) {
        let mut child = self.child.take().expect("balancer already stopped");
        sigterm(child.id());
        let status = wait_exit(&mut child, STOP_TIMEOUT);
        let Some(status) = status else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("balancer did not exit within {STOP_TIMEOUT:?} of SIGTERM");
        };
        assert!(status.success(), "balancer exited with {status}");
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Spawns the balancer on `yaml`, waits for `legs` listening lines.
fn spawn_with_yaml(
    program: &std::ffi::OsStr,
    yaml: &str,
    lines: &[(String, String)],
) -> (Child, TempDir, mpsc::Receiver<String>) {
    let dir = TempDir::new("lb");
    let cfg_path = dir.path.join("lb.yaml");
    std::fs::File::create(&cfg_path)
        .and_then(|mut f| f.write_all(yaml.as_bytes()))
        .expect("write config");
    let mut child = Command::new(program)
        .arg("--config")
        .arg(&cfg_path)
        // LB_LOG=debug shows the balancer's per-message log in a test's output.
        .env(
            "RUST_LOG",
            std::env::var("LB_LOG").unwrap_or_else(|_| "info".to_string()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sip-balancer");
    let log_lines = pump_stderr(&mut child);
    if let Err(log) = wait_listening(&log_lines, lines) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("balancer did not start within {START_TIMEOUT:?}.\nconfig:\n{yaml}\nstderr:\n{log}");
    }
    (child, dir, log_lines)
}

/// Forwards the child's stderr to ours (captured per test) and to a channel.
fn pump_stderr(child: &mut Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().expect("stderr piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            eprintln!("[lb] {line}");
            let _ = tx.send(line);
        }
    });
    rx
}

/// Waits until each wanted pair of texts was seen in one line. Err = log so far.
fn wait_listening(
    lines: &mpsc::Receiver<String>,
    wanted: &[(String, String)],
) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    let (mut log, mut seen) = (String::new(), vec![false; wanted.len()]);
    while seen.contains(&false) {
        let left = deadline
            .checked_duration_since(Instant::now())
            .ok_or_else(|| log.clone())?;
        let line = lines.recv_timeout(left).map_err(|_| log.clone())?;
        log.push_str(&line);
        log.push('\n');
        for (seen, (a, b)) in seen.iter_mut().zip(wanted) {
            *seen |= line.contains(a.as_str()) && line.contains(b.as_str());
        }
    }
    Ok(())
}

/// Sends SIGTERM to `pid`.
#[allow(unsafe_code)]
pub fn sigterm(pid: u32) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our
    // own child, not yet reaped, so the id cannot have been recycled.
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill(SIGTERM) failed");
}

/// Sends `sig` to `pid` (used for SIPp's graceful-quit signal).
#[allow(unsafe_code)]
pub fn signal(pid: u32, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
    // SAFETY: as in `sigterm`.
    let _ = unsafe { libc::kill(pid, sig) };
}

/// Polls `child` for up to `dur`.
pub fn wait_exit(child: &mut Child, dur: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + dur;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
