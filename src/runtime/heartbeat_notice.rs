//! The `stop` notices the balancer sends when it stops (part of
//! [`super`]): `{"stop":{"ipAddress":…,"port":…}}` as `POST /` to the
//! `ip:heartbeatPort` of every alive node that announced one, all at once,
//! each bounded by [`NOTICE_TIMEOUT`] to connect and again for the answer,
//! which must be `200` with `{"stop":"OK"}`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use log::{info, warn};

use super::MAX_HEAD;
use crate::registry::json_heartbeat;
use crate::registry::NodeSet;

/// Bound of each step of a stop notice (connect; send and answer).
pub(crate) const NOTICE_TIMEOUT: Duration = Duration::from_millis(500);

/// Where the stop notices go: `ip:heartbeatPort` of every alive node that
/// announced a `heartbeatPort` property, each address once.
pub(crate) fn notice_targets(nodes: &NodeSet) -> Vec<SocketAddr> {
    let mut targets: Vec<SocketAddr> = nodes
        .nodes()
        .iter()
        .filter(|n| n.is_alive())
        .filter_map(|n| {
            let (_, port) = n.properties.iter().find(|(k, _)| k == "heartbeatPort")?;
            let port: u16 = port.trim().parse().ok().filter(|p| *p != 0)?;
            Some(SocketAddr::new(n.ip, port))
        })
        .collect();
    targets.sort();
    targets.dedup();
    targets
}

/// Sends the `stop` notice (we listened on `lb`) to every target of
/// `nodes` at once and waits for all; outcomes are logged.
pub(crate) fn send_stop_notices(nodes: &NodeSet, lb: SocketAddr) {
    let targets = notice_targets(nodes);
    std::thread::scope(|scope| {
        for &target in &targets {
            let notify = move || match notify(target, lb) {
                Ok(()) => info!("stop notice acknowledged by {target}"),
                Err(e) => warn!("stop notice to {target}: {e}"),
            };
            let spawned = std::thread::Builder::new()
                .name("heartbeat-stop".into())
                .spawn_scoped(scope, notify);
            if let Err(e) = spawned {
                warn!("stop notice to {target}: no thread: {e}");
            }
        }
    });
}

/// One stop notice: `POST /` with [`json_heartbeat::stop_notice`], then
/// the node's answer must be `200` with `{"stop":"OK"}`.
pub(crate) fn notify(target: SocketAddr, lb: SocketAddr) -> io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&target, NOTICE_TIMEOUT)?;
    let deadline = Instant::now() + NOTICE_TIMEOUT;
    stream.set_write_timeout(Some(NOTICE_TIMEOUT))?;
    let lb_ip = if lb.ip().is_unspecified() {
        stream.local_addr()?.ip()
    } else {
        lb.ip()
    };
    let body = json_heartbeat::stop_notice(lb_ip, lb.port());
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: {target}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    stream.write_all(&request)?;
    let answer = read_response(&mut stream, deadline)?;
    match answer {
        (200, body) if json_heartbeat::is_stop_ok(&body) => Ok(()),
        (status, body) => Err(io::Error::other(format!(
            "answered {status} {}",
            String::from_utf8_lossy(&body)
        ))),
    }
}

/// Reads a response until its `Content-Length` (or EOF) by `deadline`.
fn read_response(stream: &mut TcpStream, deadline: Instant) -> io::Result<(u16, Vec<u8>)> {
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some((status, body)) = parse_response(&buf, false) {
            return Ok((status, body.to_vec()));
        }
        if buf.len() > MAX_HEAD + json_heartbeat::MAX_BODY {
            return Err(io::Error::other("answer too large"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut chunk)? {
            0 => {
                return parse_response(&buf, true)
                    .map(|(s, b)| (s, b.to_vec()))
                    .ok_or_else(|| io::Error::other("no answer"))
            }
            n => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
}

/// Status and body of a whole response in `buf` (`eof`: the body ends
/// where the bytes do when there is no `Content-Length`).
pub(crate) fn parse_response(buf: &[u8], eof: bool) -> Option<(u16, &[u8])> {
    let end = memchr::memmem::find(buf, b"\r\n\r\n")?;
    let head = std::str::from_utf8(buf.get(..end)?).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line
        .strip_prefix("HTTP/1.")?
        .get(2..5)?
        .parse()
        .ok()?;
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok());
    let body = buf.get(end + 4..)?;
    match length {
        Some(n) => body.get(..n).map(|b| (status, b)),
        None if eof => Some((status, body)),
        None => None,
    }
}
