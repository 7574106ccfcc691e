//! The HTTP side of the original's JSON heartbeat protocol (§3.3 of the
//! behaviour notes, `heartbeatPort`, 2610 by default): a blocking
//! `std::net` listener on its own thread, off the shards.
//!
//! Nodes `POST` one JSON command per request (`start`, `heartbeat`,
//! `shutdown`, `stop`, `switchover`). Each body goes through
//! [`json_heartbeat::parse`]; the command becomes a registry [`Event`]
//! pushed into the same bounded queue the shards feed (`try_send`: a full
//! queue is answered `503` so the node retries), and the node gets
//! `200 OK` with [`json_heartbeat::Command::reply`] as the body. A body that is not a
//! command gets `400` with `{"error":"…"}`; the original threw and left the
//! request unanswered. Connections are HTTP/1.1 keep-alive (closed after a
//! `Connection: close` request or an HTTP/1.0 one without keep-alive), one
//! thread each, at most [`MAX_CONNECTIONS`]; heads are capped at
//! [`MAX_HEAD`] bytes, bodies at [`json_heartbeat::MAX_BODY`], and a
//! connection idle for [`IDLE_TIMEOUT`] or slower than [`REQUEST_TIMEOUT`]
//! to send a request is closed. Chunked bodies are refused (`411`).
//!
//! The listener thread also keeps the newest registry snapshot (it is one
//! of the control's snapshot subscribers), so that when the balancer stops,
//! [`send_stop_notices`] can tell every alive node that announced a
//! `heartbeatPort` property: `{"stop":{"ipAddress":…,"port":…}}` to
//! `ip:heartbeatPort`, all nodes at once, each bounded by
//! [`notice::NOTICE_TIMEOUT`] for the connection and again for the answer.
//!
//! What this module does not do: decide anything about nodes (the
//! registry does, from the events), or serve any other HTTP path.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use log::{debug, info, warn};

#[path = "heartbeat_notice.rs"]
mod notice;
use notice::send_stop_notices;
#[cfg(test)]
use notice::{notice_targets, notify, parse_response, NOTICE_TIMEOUT};

use crate::config::Config;
use crate::registry::json_heartbeat;
use crate::registry::{Event, NodeSet};

/// Largest request head (request line and headers) accepted.
pub(crate) const MAX_HEAD: usize = 8 * 1024;

/// Connections served at once; more are answered `503` and closed.
pub(crate) const MAX_CONNECTIONS: usize = 64;

/// A keep-alive connection with no request for this long is closed.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// A request must arrive whole within this of its first byte.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Granularity of blocking reads and of the accept poll: how soon a stop
/// is noticed.
const POLL: Duration = Duration::from_millis(20);

/// Snapshots queued for the listener thread (it drains them every [`POLL`]).
const SNAPSHOT_QUEUE: usize = 4;

/// The snapshot queue the listener thread reads: the sender goes to the
/// registry's control with the shards' ones.
pub(crate) fn snapshot_channel() -> (Sender<Arc<NodeSet>>, Receiver<Arc<NodeSet>>) {
    crossbeam_channel::bounded(SNAPSHOT_QUEUE)
}

/// Binds `heartbeatPort` on the internal leg's host (the external one
/// without an internal leg); `None` when the port is off.
pub(crate) fn bind(cfg: &Config) -> io::Result<Option<TcpListener>> {
    let Some(port) = cfg.registry.heartbeat_port else {
        return Ok(None);
    };
    let host = cfg
        .sip
        .internal
        .as_ref()
        .map_or(cfg.sip.external.host, |leg| leg.host);
    let addr = SocketAddr::new(host, port);
    TcpListener::bind(addr).map(Some).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen on tcp {addr} (heartbeatPort): {e}"),
        )
    })
}

/// Starts the listener bound by [`bind`], if any: it subscribes to the
/// registry's snapshots through `publishers` (the control's list) and
/// pushes its events into `events`.
pub(crate) fn launch(
    listener: Option<TcpListener>,
    events: &Sender<Event>,
    publishers: &mut Vec<Sender<Arc<NodeSet>>>,
    first: &Arc<NodeSet>,
) -> io::Result<Option<Intake>> {
    let Some(listener) = listener else {
        return Ok(None);
    };
    info!("listening heartbeat/http {}", listener.local_addr()?);
    let (tx, rx) = snapshot_channel();
    publishers.push(tx);
    start(listener, events.clone(), rx, Arc::clone(first)).map(Some)
}

/// The running listener thread.
pub(crate) struct Intake {
    /// Where it listens (goes into the stop notices).
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Arc<NodeSet>>,
}

/// Starts serving `listener` on thread `heartbeat-http`: commands become
/// events on `events`; `nodes` brings the registry's snapshots (`first`
/// until the first arrives).
pub(crate) fn start(
    listener: TcpListener,
    events: Sender<Event>,
    nodes: Receiver<Arc<NodeSet>>,
    first: Arc<NodeSet>,
) -> io::Result<Intake> {
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("heartbeat-http".into())
        .spawn(move || accept_loop(&listener, &events, &nodes, first, &flag))?;
    Ok(Intake { addr, stop, thread })
}

// === impl Intake ===

impl Intake {
    /// The listening address.
    #[cfg(test)]
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, waits for the connection threads (each notices
    /// within [`POLL`]) and returns the newest registry snapshot seen.
    pub(crate) fn stop(self) -> Option<Arc<NodeSet>> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().ok()
    }

    /// At balancer stop, after the shards: stops the listener and sends
    /// the `stop` notice to the nodes of the newest snapshot.
    pub(crate) fn finish(self) {
        let addr = self.addr;
        match self.stop() {
            Some(nodes) => send_stop_notices(&nodes, addr),
            None => warn!("heartbeat http: listener thread panicked; no stop notices"),
        }
    }
}

/// Accepts until `stop`, one thread per connection; keeps the newest snapshot.
fn accept_loop(
    listener: &TcpListener,
    events: &Sender<Event>,
    nodes: &Receiver<Arc<NodeSet>>,
    mut latest: Arc<NodeSet>,
    stop: &Arc<AtomicBool>,
) -> Arc<NodeSet> {
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        if let Some(newest) = nodes.try_iter().last() {
            latest = newest;
        }
        conns.retain(|c| !c.is_finished());
        match listener.accept() {
            Ok((stream, peer)) => {
                if let Some(c) = spawn_conn(stream, peer, events, stop, conns.len()) {
                    conns.push(c);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(e) => {
                debug!("heartbeat http: accept: {e}");
                std::thread::sleep(POLL);
            }
        }
    }
    for c in conns {
        let _ = c.join();
    }
    latest
}

/// Serves one accepted connection on its own thread, or refuses it when
/// [`MAX_CONNECTIONS`] are open.
fn spawn_conn(
    mut stream: TcpStream,
    peer: SocketAddr,
    events: &Sender<Event>,
    stop: &Arc<AtomicBool>,
    open: usize,
) -> Option<JoinHandle<()>> {
    if open >= MAX_CONNECTIONS {
        warn!("heartbeat http: {MAX_CONNECTIONS} connections open, {peer} refused");
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_write_timeout(Some(POLL));
        let _ = stream.write_all(&response(503, br#"{"error":"busy"}"#, true));
        return None;
    }
    let (events, stop) = (events.clone(), Arc::clone(stop));
    let spawned = std::thread::Builder::new()
        .name("heartbeat-conn".into())
        .spawn(move || {
            if let Err(e) = serve(stream, peer, &events, &stop) {
                debug!("heartbeat http: {peer}: {e}");
            }
        });
    match spawned {
        Ok(handle) => Some(handle),
        Err(e) => {
            warn!("heartbeat http: cannot serve {peer}: {e}");
            None
        }
    }
}

/// Reads requests from `stream` and answers them until the peer closes,
/// asks to close, misbehaves, idles out or `stop` is set.
fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    events: &Sender<Event>,
    stop: &AtomicBool,
) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(POLL))?;
    stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        let (head, deadline) = match read_head(&mut stream, &mut buf, stop)? {
            (Ok(head), deadline) => (head, deadline),
            (Err(status), _) => return stream.write_all(&error_response(status, true)),
        };
        if head.expect_continue && buf.len() < head.len + head.content_length {
            stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let end = head.len + head.content_length;
        while buf.len() < end {
            if !fill(&mut stream, &mut buf, stop, deadline)? {
                return Ok(());
            }
        }
        let body = buf.get(head.len..end).unwrap_or_default();
        let (status, reply) = answer(&head, body, peer.ip(), events);
        stream.write_all(&response(status, &reply, head.close))?;
        if head.close {
            return Ok(());
        }
        buf.drain(..end);
    }
}

/// Reads until `buf` holds a whole request head; also returns when the
/// whole request (body included) must have arrived: [`REQUEST_TIMEOUT`]
/// after its first byte. The `Err` is the status to answer a bad head
/// with; `io::Error` (`UnexpectedEof` when the peer closed between
/// requests) ends the connection.
fn read_head(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    stop: &AtomicBool,
) -> io::Result<(Result<Head, u16>, Instant)> {
    let mut started = !buf.is_empty();
    let mut deadline = Instant::now()
        + if started {
            REQUEST_TIMEOUT
        } else {
            IDLE_TIMEOUT
        };
    loop {
        if !started && !buf.is_empty() {
            started = true;
            deadline = Instant::now() + REQUEST_TIMEOUT;
        }
        match parse_head(buf) {
            Ok(Some(head)) => return Ok((Ok(head), deadline)),
            Ok(None) => {}
            Err(e) => return Ok((Err(e.status()), deadline)),
        }
        if !fill(stream, buf, stop, deadline)? {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// One read into `buf`: `false` at EOF, an error at `deadline` or `stop`.
fn fill(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    stop: &AtomicBool,
    deadline: Instant,
) -> io::Result<bool> {
    let mut chunk = [0u8; 2048];
    loop {
        if stop.load(Ordering::SeqCst) {
            return Err(io::Error::other("balancer stopping"));
        }
        if Instant::now() >= deadline {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                return Ok(true);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Status and body for one request.
fn answer(head: &Head, body: &[u8], peer: IpAddr, events: &Sender<Event>) -> (u16, Vec<u8>) {
    if !head.post {
        return (405, error_body("only POST"));
    }
    let command = match json_heartbeat::parse(body) {
        Ok(c) => c,
        Err(e) => {
            warn!("heartbeat http: bad command from {peer}: {e}");
            return (400, error_body(&e.to_string()));
        }
    };
    debug!("heartbeat http: {command:?} from {peer}");
    let reply = command.reply().to_vec();
    match events.try_send(command.into_event(peer)) {
        Ok(()) => (200, reply),
        Err(TrySendError::Full(_)) => {
            warn!("heartbeat http: registry queue full, command from {peer} refused");
            (503, error_body("busy"))
        }
        Err(TrySendError::Disconnected(_)) => (503, error_body("stopping")),
    }
}

/// `{"error":"<why>"}`.
fn error_body(why: &str) -> Vec<u8> {
    serde_json::json!({ "error": why }).to_string().into_bytes()
}

fn error_response(status: u16, close: bool) -> Vec<u8> {
    response(status, &error_body(reason(status)), close)
}

/// A whole response with a JSON body.
pub(crate) fn response(status: u16, body: &[u8], close: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        reason(status),
        body.len()
    )
    .into_bytes();
    if status == 405 {
        out.extend_from_slice(b"Allow: POST\r\n");
    }
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Service Unavailable",
    }
}

// === request heads ===

/// What the server needs of a request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// Bytes up to and including the blank line.
    pub(crate) len: usize,
    /// The method is `POST`.
    pub(crate) post: bool,
    /// `Content-Length` (0 when absent).
    pub(crate) content_length: usize,
    /// The connection closes after this request.
    pub(crate) close: bool,
    /// `Expect: 100-continue`.
    pub(crate) expect_continue: bool,
}

/// Why a head is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// Longer than [`MAX_HEAD`] without a blank line.
    TooLarge,
    /// Not `METHOD target HTTP/1.x` plus `name: value` lines.
    Malformed,
    /// Not HTTP/1.0 or 1.1.
    Version,
    /// `Transfer-Encoding` (chunked bodies are not supported).
    Chunked,
    /// `Content-Length` above [`json_heartbeat::MAX_BODY`].
    BodyTooLarge,
}

impl HeadError {
    /// The status answered.
    fn status(self) -> u16 {
        match self {
            HeadError::TooLarge => 431,
            HeadError::Malformed => 400,
            HeadError::Version => 505,
            HeadError::Chunked => 411,
            HeadError::BodyTooLarge => 413,
        }
    }
}

/// The head at the start of `buf`: `Ok(None)` until its blank line arrived.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<Head>, HeadError> {
    let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err(HeadError::TooLarge)
        } else {
            Ok(None)
        };
    };
    if end + 4 > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    let text = std::str::from_utf8(buf.get(..end).unwrap_or_default())
        .map_err(|_| HeadError::Malformed)?;
    let mut lines = text.split("\r\n");
    let mut parts = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(_target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed);
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        v if v.starts_with("HTTP/") => return Err(HeadError::Version),
        _ => return Err(HeadError::Malformed),
    };
    let mut head = Head {
        len: end + 4,
        post: method == "POST",
        content_length: 0,
        close: http10,
        expect_continue: false,
    };
    let mut length: Option<usize> = None;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(HeadError::Malformed)?;
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() || name.contains(' ') {
            return Err(HeadError::Malformed);
        }
        header(&mut head, &mut length, name, value, http10)?;
    }
    head.content_length = length.unwrap_or(0);
    if head.content_length > json_heartbeat::MAX_BODY {
        return Err(HeadError::BodyTooLarge);
    }
    Ok(Some(head))
}

/// Applies one header line to `head`.
fn header(
    head: &mut Head,
    length: &mut Option<usize>,
    name: &str,
    value: &str,
    http10: bool,
) -> Result<(), HeadError> {
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    if is("content-length") {
        let n: usize = value.parse().map_err(|_| HeadError::Malformed)?;
        if length.is_some_and(|l| l != n) {
            return Err(HeadError::Malformed);
        }
        *length = Some(n);
    } else if is("transfer-encoding") {
        return Err(HeadError::Chunked);
    } else if is("connection") {
        for token in value.split(',').map(str::trim) {
            if token.eq_ignore_ascii_case("close") {
                head.close = true;
            } else if token.eq_ignore_ascii_case("keep-alive") && http10 {
                head.close = false;
            }
        }
    } else if is("expect") && value.eq_ignore_ascii_case("100-continue") {
        head.expect_continue = true;
    }
    Ok(())
}

#[cfg(test)]
#[path = "heartbeat_http_tests.rs"]
mod tests;
