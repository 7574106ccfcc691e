//! Responses the balancer writes itself: errors, `503` without a node,
//! the `302` to HTTPS. Proper status lines and `Content-Length` (the
//! original wrote a bare HTML page for its 503).

use std::net::IpAddr;

use super::write::push_num;
use crate::sip::write::push_host;

/// An error the balancer answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Local {
    /// `400`: malformed head or body framing.
    BadRequest,
    /// `405`: `CONNECT` (this is a reverse proxy).
    MethodNotAllowed,
    /// `408`: the head did not arrive in time.
    RequestTimeout,
    /// `414`: request-target too long.
    UriTooLong,
    /// `431`: head too large.
    HeadTooLarge,
    /// `502`: the node could not be reached or answered garbage.
    BadGateway,
    /// `503`: no node can take the request.
    Unavailable,
    /// `504`: the node did not answer in time.
    GatewayTimeout,
}

// === impl Local ===

impl Local {
    /// Status code.
    pub(super) fn code(self) -> u16 {
        match self {
            Local::BadRequest => 400,
            Local::MethodNotAllowed => 405,
            Local::RequestTimeout => 408,
            Local::UriTooLong => 414,
            Local::HeadTooLarge => 431,
            Local::BadGateway => 502,
            Local::Unavailable => 503,
            Local::GatewayTimeout => 504,
        }
    }

    fn status_line(self) -> &'static [u8] {
        match self {
            Local::BadRequest => b"HTTP/1.1 400 Bad Request\r\n",
            Local::MethodNotAllowed => b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, TRACE\r\n",
            Local::RequestTimeout => b"HTTP/1.1 408 Request Timeout\r\n",
            Local::UriTooLong => b"HTTP/1.1 414 URI Too Long\r\n",
            Local::HeadTooLarge => b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
            Local::BadGateway => b"HTTP/1.1 502 Bad Gateway\r\n",
            Local::Unavailable => b"HTTP/1.1 503 Service Unavailable\r\n",
            Local::GatewayTimeout => b"HTTP/1.1 504 Gateway Timeout\r\n",
        }
    }

    fn body(self) -> &'static [u8] {
        match self {
            Local::BadRequest => b"Bad request\n",
            Local::MethodNotAllowed => b"Method not allowed\n",
            Local::RequestTimeout => b"Request timeout\n",
            Local::UriTooLong => b"URI too long\n",
            Local::HeadTooLarge => b"Request header fields too large\n",
            Local::BadGateway => b"Bad gateway: the node could not be reached\n",
            Local::Unavailable => b"Service unavailable: no node can take the request\n",
            Local::GatewayTimeout => b"Gateway timeout: the node did not answer in time\n",
        }
    }
}

/// Appends the response for `what`; `keep_alive` = the connection stays
/// open after it. `503` carries `Retry-After: retry_after`.
pub(super) fn local(
    out: &mut Vec<u8>,
    what: Local,
    keep_alive: bool,
    retry_after: u32,
    head: bool,
) {
    out.extend_from_slice(what.status_line());
    if what == Local::Unavailable {
        out.extend_from_slice(b"Retry-After: ");
        push_num(out, retry_after);
        out.extend_from_slice(b"\r\n");
    }
    let body = what.body();
    out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    push_num(out, body.len() as u32);
    out.extend_from_slice(if keep_alive {
        b"\r\n\r\n".as_slice()
    } else {
        b"\r\nConnection: close\r\n\r\n"
    });
    if !head {
        out.extend_from_slice(body);
    }
}

/// Appends `302 Found` to `https://<host>[:https_port]<target>`: the
/// `Host` field's host (its port replaced), else `fallback`; the port is
/// left out when it is 443. The connection closes after it (original §5.5).
pub(super) fn redirect(
    out: &mut Vec<u8>,
    host: Option<&[u8]>,
    fallback: IpAddr,
    https_port: u16,
    target: &[u8],
) {
    out.extend_from_slice(b"HTTP/1.1 302 Found\r\nLocation: https://");
    match host.map(host_only).filter(|h| !h.is_empty()) {
        Some(h) => out.extend_from_slice(h),
        None => push_host(out, fallback),
    }
    if https_port != 443 {
        out.push(b':');
        push_num(out, u32::from(https_port));
    }
    if target.first() != Some(&b'/') {
        out.push(b'/');
    }
    out.extend_from_slice(target);
    out.extend_from_slice(b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

/// `host` of `host[:port]` (`[v6]` kept bracketed).
fn host_only(h: &[u8]) -> &[u8] {
    if h.first() == Some(&b'[') {
        let end = h.iter().position(|&b| b == b']').map_or(h.len(), |i| i + 1);
        return h.get(..end).unwrap_or(h);
    }
    let end = h.iter().position(|&b| b == b':').unwrap_or(h.len());
    h.get(..end).unwrap_or(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_is_a_real_503() {
        let mut out = Vec::new();
        local(&mut out, Local::Unavailable, true, 5, false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n"));
        let body = "Service unavailable: no node can take the request\n";
        assert!(text.ends_with(&format!("Content-Length: {}\r\n\r\n{body}", body.len())));
    }

    #[test]
    fn redirect_location() {
        let ip = "10.0.0.1".parse().unwrap();
        let mut out = Vec::new();
        redirect(&mut out, Some(b"lb.example.com:2080"), ip, 2081, b"/a?b");
        assert!(
            out.starts_with(b"HTTP/1.1 302 Found\r\nLocation: https://lb.example.com:2081/a?b\r\n")
        );
        out.clear();
        redirect(&mut out, Some(b"[::1]:80"), ip, 443, b"/");
        assert!(out.starts_with(b"HTTP/1.1 302 Found\r\nLocation: https://[::1]/\r\n"));
        out.clear();
        redirect(&mut out, None, ip, 8443, b"/x");
        assert!(out.starts_with(b"HTTP/1.1 302 Found\r\nLocation: https://10.0.0.1:8443/x\r\n"));
    }
}
