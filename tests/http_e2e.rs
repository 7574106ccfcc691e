//! The HTTP balancer end to end: curl and real WebSocket clients through
//! the balancer to real HTTP nodes (Python's `http.server`,
//! `tests/http/backend.py`; the `websockets` package for the tunnel),
//! nodes announced by SIP heartbeats carrying `httpPort`/`wsPort`/`jvmRoute`.
//! Every assertion is on what crossed the wire: which node answered
//! (`X-Node`), the bytes and digest a node received, the head it saw.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::certs::{write_pki, TestPki};
use common::{free_port, wait_until, Balancer, Heartbeater, LbConfig, TempDir, WAIT};

/// A node process (HTTP backend or WebSocket echo) killed on drop.
struct Peer {
    child: Child,
    port: u16,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `script args…` and waits for its `ready` line.
fn spawn_ready(script: &str, args: &[&str]) -> Child {
    let path = format!("{}/tests/http/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .arg(path)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs");
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .expect("ready line");
    assert_eq!(line.trim(), "ready", "{script} started");
    child
}

fn backend(name: &str) -> Peer {
    let port = free_port();
    // Its sessions' jvmRoute is "route" + name, as `announce` is told.
    let route = format!("route{name}");
    let child = spawn_ready("backend.py", &[&port.to_string(), name, &route]);
    Peer { child, port }
}

fn ws_node(name: &str) -> Option<Peer> {
    let ok = Command::new("python3")
        .args(["-c", "import websockets"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("python3 websockets missing: skipping the WebSocket tunnel");
        return None;
    }
    let port = free_port();
    let child = spawn_ready("ws_peer.py", &["server", &port.to_string(), name]);
    Some(Peer { child, port })
}

/// A balancer with `http` as its `http:` flow-mapping body.
fn balancer(http: &str, extra: &str) -> (Balancer, u16) {
    let mut cfg = LbConfig::two_legs();
    let port = free_port();
    cfg.extra_yaml = format!("http: {{ httpPort: {port}{http} }}\n{extra}");
    (Balancer::start(&cfg), port)
}

/// Announce a node whose HTTP side is `http_port` (and `props`).
fn announce(lb: &Balancer, http_port: u16, jvm_route: &str, props: &str) -> Heartbeater {
    let extra = format!("httpPort={http_port}\njvmRoute={jvm_route}\n{props}");
    let hb = Heartbeater::start_with(lb.internal, free_port(), Duration::from_millis(200), &extra);
    assert!(hb.wait_registered(WAIT), "node registered");
    hb
}

/// What curl reports of one request.
#[derive(Debug)]
struct Curl {
    status: u16,
    headers: String,
    body: Vec<u8>,
    stderr: String,
}

impl Curl {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn node(&self) -> String {
        self.header("X-Node").unwrap_or_default()
    }
}

/// Runs curl with `args` (a head dump goes to a temp file).
fn curl(args: &[&str]) -> Curl {
    let dir = TempDir::new("curl");
    let head = dir.path.join("head");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60", "-D"])
        .arg(&head)
        .args(args)
        .output()
        .expect("curl runs");
    let headers = std::fs::read_to_string(&head).unwrap_or_default();
    let status = headers
        .lines()
        .rfind(|l| l.starts_with("HTTP/"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Curl {
        status,
        headers,
        body: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn url(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}{path}")
}

/// Resident set high-water mark of `pid`, KiB.
fn hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn round_robin_without_a_session_and_sticky_by_jvm_route() {
    let (a, b) = (backend("A"), backend("B"));
    let (lb, port) = balancer("", "");
    let _ha = announce(&lb, a.port, "routeA", "");
    let _hb = announce(&lb, b.port, "routeB", "");
    assert!(wait_until(WAIT, || curl(&[&url(port, "/whoami")]).status == 200));

    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..10 {
        let r = curl(&[&url(port, "/whoami")]);
        assert_eq!(r.status, 200, "{r:?}");
        *seen.entry(r.node()).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 2, "both nodes take new sessions: {seen:?}");
    assert!(seen.values().all(|&n| n >= 3), "round robin: {seen:?}");

    for _ in 0..5 {
        let r = curl(&[
            "-H",
            "Cookie: JSESSIONID=ABCDEF.routeB",
            &url(port, "/whoami"),
        ]);
        assert_eq!(r.node(), "B", "cookie jvmRoute routeB: {r:?}");
        let r = curl(&[&url(port, "/whoami;jsessionid=ABCDEF.routeA")]);
        assert_eq!(r.node(), "A", ";jsessionid= path parameter: {r:?}");
        let r = curl(&[&url(port, "/whoami?jsessionid=XYZ.routeB")]);
        assert_eq!(r.node(), "B", "jsessionid query parameter: {r:?}");
    }
    // A session the node itself started sticks through the cookie jar.
    let jar = TempDir::new("jar");
    let jar = jar.path.join("cookies");
    let jar = jar.to_str().unwrap_or_default();
    let first = curl(&["-c", jar, &url(port, "/login")]);
    assert_eq!(first.status, 200);
    for _ in 0..4 {
        let r = curl(&["-b", jar, &url(port, "/whoami")]);
        assert_eq!(r.node(), first.node(), "session stays on its node");
    }
}

#[test]
fn static_http_only_nodes_from_the_config_file() {
    let (a, b) = (backend("A"), backend("B"));
    let mut cfg = LbConfig::two_legs();
    let port = free_port();
    cfg.extra_yaml = format!("http: {{ httpPort: {port} }}\n");
    for (name, node) in [("A", &a), ("B", &b)] {
        cfg.static_node_yaml.push(format!(
            "ip: 127.0.0.1, hostname: web{name}, httpPort: {}, jvmRoute: route{name}",
            node.port
        ));
    }
    let _lb = Balancer::start(&cfg);
    assert!(wait_until(WAIT, || curl(&[&url(port, "/whoami")]).status == 200));
    let nodes: std::collections::BTreeSet<String> = (0..6)
        .map(|_| curl(&[&url(port, "/whoami")]).node())
        .collect();
    assert_eq!(nodes.len(), 2, "both static nodes serve: {nodes:?}");
    let r = curl(&["-H", "Cookie: JSESSIONID=X.routeB", &url(port, "/whoami")]);
    assert_eq!(r.node(), "B", "jvmRoute of a static node: {r:?}");
}

#[test]
fn keep_alive_on_both_sides_and_forwarded_headers() {
    let a = backend("A");
    let (lb, port) = balancer("", "");
    let _h = announce(&lb, a.port, "routeA", "");
    assert!(wait_until(WAIT, || curl(&[&url(port, "/whoami")]).status == 200));
    // Three requests on one curl connection.
    let u = url(port, "/headers");
    let r = curl(&["-v", &u, &u, &u]);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.stderr.matches("Re-using existing connection").count()
            + r.stderr.matches("Reusing existing").count()
            >= 2,
        "the client connection is kept alive: {}",
        r.stderr
    );
    let peers: Vec<&str> = r
        .headers
        .lines()
        .filter_map(|l| l.strip_prefix("X-Peer-Port: "))
        .collect();
    assert_eq!(peers.len(), 3, "{}", r.headers);
    assert!(
        peers.windows(2).all(|w| w[0] == w[1]),
        "the node saw one upstream connection: {peers:?}"
    );
    let seen = String::from_utf8_lossy(&r.body).to_ascii_lowercase();
    assert!(seen.contains("x-forwarded-for: 127.0.0.1"), "{seen}");
    assert!(seen.contains("x-forwarded-proto: http"), "{seen}");
    assert!(seen.contains("forwarded: for=127.0.0.1"), "{seen}");

    // Hop-by-hop headers do not reach the node.
    let r = curl(&[
        "-H",
        "Connection: keep-alive, X-Secret-Hop",
        "-H",
        "X-Secret-Hop: 1",
        "-H",
        "Keep-Alive: timeout=5",
        "-H",
        "X-End-To-End: kept",
        &u,
    ]);
    let seen = String::from_utf8_lossy(&r.body).to_ascii_lowercase();
    assert!(seen.contains("x-end-to-end: kept"), "{seen}");
    assert!(
        !seen.contains("x-secret-hop"),
        "Connection-listed header removed: {seen}"
    );
    assert!(
        !seen.contains("keep-alive: timeout"),
        "Keep-Alive removed: {seen}"
    );
}

#[test]
fn hundred_megabytes_stream_both_ways_with_flat_memory() {
    let a = backend("A");
    let (lb, port) = balancer("", "");
    let _h = announce(&lb, a.port, "routeA", "");
    assert!(wait_until(WAIT, || curl(&[&url(port, "/whoami")]).status == 200));
    let before = hwm_kib(lb.pid());
    const N: usize = 100_000_000;

    // Upload, chunked (curl reads stdin as it goes: no length known).
    let mut child = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "120",
            "-T",
            "-",
            "-H",
            "Transfer-Encoding: chunked",
        ])
        .arg(url(port, "/upload"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        let block = vec![b'u'; 1 << 20];
        for _ in 0..N / block.len() {
            if stdin.write_all(&block).is_err() {
                return;
            }
        }
        let _ = stdin.write_all(&block[..N % block.len()]);
    });
    let out = child.wait_with_output().expect("curl ends");
    writer.join().expect("writer");
    let body = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut parts = body.split_whitespace();
    assert_eq!(parts.next(), Some("A"), "answered by the node: {body}");
    assert_eq!(
        parts.next().and_then(|n| n.parse::<usize>().ok()),
        Some(N),
        "every byte of the upload reached the node: {body}"
    );

    // Download, chunked from the node.
    let r = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{size_download}",
        &url(port, &format!("/big?n={N}")),
    ]);
    assert_eq!(r.status, 200);
    assert_eq!(
        String::from_utf8_lossy(&r.body)
            .trim()
            .parse::<usize>()
            .ok(),
        Some(N),
        "every byte of the download reached the client"
    );
    let grown = hwm_kib(lb.pid()).saturating_sub(before);
    assert!(
        grown < 48 * 1024,
        "bodies are streamed, not buffered: peak RSS grew {grown} KiB for 2 × 100 MB"
    );
}

#[test]
fn expect_continue_head_and_http_1_0() {
    let a = backend("A");
    let (lb, port) = balancer("", "");
    let _h = announce(&lb, a.port, "routeA", "");
    assert!(wait_until(WAIT, || curl(&[&url(port, "/whoami")]).status == 200));
    // curl sends Expect: 100-continue for a body over 1 MiB.
    let dir = TempDir::new("upload");
    let file = dir.path.join("body");
    std::fs::write(&file, vec![b'e'; 2 << 20]).expect("write body");
    let r = curl(&[
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &format!("@{}", file.display()),
        &url(port, "/upload"),
    ]);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.headers.contains("100 Continue"),
        "interim 100 relayed: {}",
        r.headers
    );
    assert!(String::from_utf8_lossy(&r.body).starts_with(&format!("A {}", 2 << 20)));

    let r = curl(&[
        "-I",
        "-o",
        "/dev/null",
        "-w",
        "%{size_download}",
        &url(port, "/whoami"),
    ]);
    assert_eq!(r.status, 200, "HEAD: {r:?}");
    assert_eq!(r.body, b"0", "no body after a HEAD");
    let r = curl(&["-0", &url(port, "/whoami")]);
    assert_eq!(r.status, 200, "HTTP/1.0: {r:?}");
    assert_eq!(r.body, b"A");
}

#[test]
fn no_node_is_a_real_503() {
    let (_lb, port) = balancer("", "");
    let r = curl(&[&url(port, "/whoami")]);
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.header("Retry-After").is_some(), "{}", r.headers);
}

#[test]
fn websocket_upgrade_is_tunnelled_to_the_nodes_ws_port() {
    let Some(ws) = ws_node("W") else { return };
    let a = backend("A");
    let (lb, port) = balancer("", "");
    let _h = announce(&lb, a.port, "routeA", &format!("wsPort={}\n", ws.port));
    assert!(wait_until(WAIT, || curl(&[&url(port, "/whoami")]).status == 200));
    let out = Command::new("python3")
        .arg(format!(
            "{}/tests/http/ws_peer.py",
            env!("CARGO_MANIFEST_DIR")
        ))
        .args([
            "client",
            &format!("ws://127.0.0.1:{port}/ws"),
            "hello",
            "REGISTER sip:x SIP/2.0",
        ])
        .output()
        .expect("ws client runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        vec!["subprotocol sip", "W:hello", "W:REGISTER sip:x SIP/2.0"],
        "frames crossed the tunnel both ways"
    );
}

#[test]
fn https_with_generated_certificates_and_the_redirect() {
    let dir = TempDir::new("pki");
    let pki: TestPki = write_pki(&dir.path, &["127.0.0.1"]);
    let a = backend("A");
    let https = free_port();
    let ssl = format!(
        "ssl:\n  certificateFile: \"{}\"\n  privateKeyFile: \"{}\"\n  trustStore: \"{}\"\n  \
         terminateTLSTraffic: true\n",
        pki.server_chain.display(),
        pki.server_key.display(),
        pki.ca.display()
    );
    let (lb, port) = balancer(&format!(", httpsPort: {https}"), &ssl);
    let _h = announce(&lb, a.port, "routeA", "");
    let ca = pki.ca.display().to_string();
    let secure = format!("https://127.0.0.1:{https}/whoami");
    assert!(wait_until(WAIT, || curl(&["--cacert", &ca, &secure])
        .status
        == 200));
    for _ in 0..3 {
        let r = curl(&["--cacert", &ca, &secure]);
        assert_eq!((r.status, r.body.as_slice()), (200, &b"A"[..]), "{r:?}");
    }
    let r = curl(&[
        "--cacert",
        &ca,
        &format!("https://127.0.0.1:{https}/headers"),
    ]);
    let seen = String::from_utf8_lossy(&r.body).to_ascii_lowercase();
    assert!(seen.contains("x-forwarded-proto: https"), "{seen}");

    // Plain HTTP is redirected to the HTTPS port.
    let r = curl(&[&url(port, "/whoami?x=1")]);
    assert_eq!(r.status, 302, "{r:?}");
    assert_eq!(
        r.header("Location").as_deref(),
        Some(format!("https://127.0.0.1:{https}/whoami?x=1").as_str())
    );
    let r = curl(&["-L", "--cacert", &ca, &url(port, "/whoami")]);
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"A"[..]),
        "followed: {r:?}"
    );
}

/// Reads until the balancer closes `s` (or `limit` passes); the bytes read.
fn read_to_close(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (got, true),
            Err(_) => {}
        }
    }
    (got, false)
}

#[test]
fn slowloris_oversized_heads_and_idle_clients_are_cut_off() {
    let a = backend("A");
    let (lb, port) = balancer(
        ", headerTimeout: 1500, idleTimeout: 2000, maxHeadSize: 8192, maxUriLength: 2048",
        "",
    );
    let _h = announce(&lb, a.port, "routeA", "");
    assert!(wait_until(WAIT, || curl(&[&url(port, "/whoami")]).status == 200));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));

    // A client sending its head one byte every 300 ms.
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        let start = Instant::now();
        for b in b"GET /whoami HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaa\r\n" {
            if s.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        let (got, closed) = read_to_close(&mut s, Duration::from_secs(5));
        (start.elapsed(), got, closed)
    });
    // Meanwhile a normal client is served.
    for _ in 0..5 {
        assert_eq!(curl(&[&url(port, "/whoami")]).status, 200);
    }
    let (took, got, closed) = slow.join().expect("slow client");
    assert!(closed, "slow head cut off");
    assert!(
        took < Duration::from_secs(8),
        "by the header timer: {took:?}"
    );
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 408"),
        "{got:?}"
    );

    // Oversized head: 431; long target: 414.
    let big = format!("X-Big: {}\r\n", "b".repeat(16 << 10));
    let r = curl(&["-H", big.trim_end(), &url(port, "/whoami")]);
    assert_eq!(r.status, 431, "{r:?}");
    let long = format!("/whoami?{}", "q".repeat(4096));
    let r = curl(&[&url(port, &long)]);
    assert_eq!(r.status, 414, "{r:?}");

    // An idle keep-alive client is closed after idleTimeout.
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    let start = Instant::now();
    let (got, closed) = read_to_close(&mut s, Duration::from_secs(6));
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"),
        "{got:?}"
    );
    assert!(closed, "idle client closed");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
        "closed by the idle timer: {took:?}"
    );
    assert_eq!(
        curl(&[&url(port, "/whoami")]).status,
        200,
        "others unaffected"
    );
}
