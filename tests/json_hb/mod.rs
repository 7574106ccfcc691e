//! A node's side of the original's HTTP/JSON heartbeat protocol, for the
//! tests: `start` / `heartbeat` / `shutdown` / `stop` as HTTP/1.1 `POST /`
//! (one connection per command, as the reference node client does), a
//! background heartbeat pulse, and the node's own heartbeat listener that
//! receives the balancer's `stop` notice. Written against the wire, not
//! the crate, so a balancer bug cannot hide in the client.
//!
//! Included with `#[path = "json_hb/mod.rs"] mod json_hb;` by the test
//! binaries that need it.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// One `POST /` with `body` to `lb`; returns (status, body). Panics on a
/// connection or framing problem (the balancer must answer).
pub fn post(lb: SocketAddr, body: &str) -> (u16, String) {
    try_post(lb, body).unwrap_or_else(|e| panic!("heartbeat POST to {lb}: {e}"))
}

/// Like [`post`], with the problem as an error (the background pulse
/// outlives the balancer at the end of a test).
pub fn try_post(lb: SocketAddr, body: &str) -> Result<(u16, String), String> {
    let mut s =
        TcpStream::connect_timeout(&lb, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {lb}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).map_err(|e| e.to_string())?;
    split_response(&raw).ok_or_else(|| format!("not an HTTP answer: {raw:?}"))
}

/// (status, body) of an HTTP response text with Content-Length.
pub fn split_response(raw: &str) -> Option<(u16, String)> {
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()?;
    let len: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))?
        .1
        .trim()
        .parse()
        .ok()?;
    Some((status, body.get(..len)?.to_string()))
}

/// A node announced over JSON: its `start` properties and `sessionId`.
#[derive(Debug, Clone)]
pub struct JsonNode {
    /// The balancer's heartbeat address.
    pub lb: SocketAddr,
    /// `sessionId` of the last `start`.
    pub session_id: String,
    /// `start` fields other than `sessionId` (all strings, as the reference node sends).
    pub fields: Vec<(String, String)>,
}

impl JsonNode {
    /// A node `name` at `127.0.0.1:udp_port`, version `version`.
    pub fn new(
        lb: SocketAddr,
        name: &str,
        udp_port: u16,
        version: u32,
        session_id: &str,
    ) -> JsonNode {
        let fields = [
            ("hostName", name.to_string()),
            ("ip", "127.0.0.1".to_string()),
            ("udpPort", udp_port.to_string()),
            ("version", version.to_string()),
        ];
        JsonNode {
            lb,
            session_id: session_id.to_string(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    /// Adds a `start` field (e.g. `heartbeatPort`).
    pub fn with(mut self, key: &str, value: &str) -> JsonNode {
        self.fields.push((key.to_string(), value.to_string()));
        self
    }

    /// The `start` body.
    pub fn start_body(&self) -> String {
        let mut parts: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("\"{k}\":\"{v}\""))
            .collect();
        parts.push(format!("\"sessionId\":\"{}\"", self.session_id));
        format!("{{\"start\":{{{}}}}}", parts.join(","))
    }

    /// Sends `start`; asserts `200 {"start":"OK"}`.
    pub fn start(&self) {
        assert_eq!(
            post(self.lb, &self.start_body()),
            (200, r#"{"start":"OK"}"#.into())
        );
    }

    /// Restarts under a new `sessionId` (the node process restarted).
    pub fn restart(&mut self, session_id: &str) {
        self.session_id = session_id.to_string();
        self.start();
    }

    fn session_command(&self, command: &str) {
        let body = format!("{{\"{command}\":{{\"sessionId\":{}}}}}", self.session_id);
        let want = format!("{{\"{command}\":\"OK\"}}");
        assert_eq!(post(self.lb, &body), (200, want), "{command}");
    }

    /// Sends `heartbeat`; asserts the OK.
    pub fn heartbeat(&self) {
        self.session_command("heartbeat");
    }

    /// Sends `shutdown` (graceful: drain); asserts the OK.
    pub fn shutdown(&self) {
        self.session_command("shutdown");
    }

    /// Sends `stop` (down now); asserts the OK.
    pub fn stop(&self) {
        self.session_command("stop");
    }

    /// Heartbeats every `period` on a background thread until dropped.
    pub fn pulse(&self, period: Duration) -> Pulse {
        Pulse::start(self.lb, self.session_id.clone(), period)
    }
}

/// Background `heartbeat` sender; counts OK answers.
pub struct Pulse {
    oks: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Pulse {
    fn start(lb: SocketAddr, session_id: String, period: Duration) -> Pulse {
        let oks = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (o, s) = (oks.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let body = format!("{{\"heartbeat\":{{\"sessionId\":{session_id}}}}}");
            while !s.load(Ordering::SeqCst) {
                if try_post(lb, &body) == Ok((200, r#"{"heartbeat":"OK"}"#.into())) {
                    o.fetch_add(1, Ordering::SeqCst);
                }
                let mut slept = Duration::ZERO;
                while slept < period && !s.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(20));
                    slept += Duration::from_millis(20);
                }
            }
        });
        Pulse {
            oks,
            stop,
            thread: Some(thread),
        }
    }

    /// Heartbeats answered OK so far.
    pub fn oks(&self) -> usize {
        self.oks.load(Ordering::SeqCst)
    }
}

impl Drop for Pulse {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The node's heartbeat listener (`heartbeatPort`): answers every request
/// `200 {"stop":"OK"}` and hands the request bodies to the test.
pub struct NoticeSink {
    /// Its port (announce it as `heartbeatPort`).
    pub port: u16,
    rx: Receiver<String>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl NoticeSink {
    /// Binds `127.0.0.1:0` and serves.
    pub fn new() -> NoticeSink {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((conn, _)) => {
                        if let Some(body) = answer_one(conn) {
                            let _ = tx.send(body);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        NoticeSink {
            port,
            rx,
            stop,
            thread: Some(thread),
        }
    }

    /// Next request body within `dur`.
    pub fn recv(&self, dur: Duration) -> Option<String> {
        self.rx.recv_timeout(dur).ok()
    }
}

impl Drop for NoticeSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request (head + Content-Length body), answers the OK.
fn answer_one(mut conn: TcpStream) -> Option<String> {
    conn.set_nonblocking(false).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse().ok())
                .unwrap_or(0);
            if body.len() >= len {
                let ok = "{\"stop\":\"OK\"}";
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{ok}",
                    ok.len()
                );
                conn.write_all(resp.as_bytes()).ok()?;
                return Some(body[..len].to_string());
            }
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
