//! Responses the balancer generates itself (RFC 3261 §8.2.6): `100 Trying`,
//! `200 OK` to heartbeats, `400`, `420`, `483`, `505`, and the "no node"
//! status.
//!
//! A reply copies Via, From, To, Call-ID and CSeq from the request, adds a To
//! tag to final responses that lack one (a fixed function of the Call-ID, so
//! a retransmitted request gets the same reply), and has no body.

use std::net::{IpAddr, SocketAddr};

use super::headers::{self, Rport, Via};
use super::message::{HeaderName, Message};
use super::write::{push_hex64, push_u32};
use crate::balancer::hash::key_hash;

/// Append a complete reply to `req` to `out`.
pub fn write(out: &mut Vec<u8>, req: &Message<'_>, code: u16, reason: &[u8]) {
    write_with(out, req, code, reason, |_| {});
}

/// Like [`write`], with `extra` writing more header lines (each ending in
/// CRLF) after the copied ones.
pub fn write_with(
    out: &mut Vec<u8>,
    req: &Message<'_>,
    code: u16,
    reason: &[u8],
    extra: impl FnOnce(&mut Vec<u8>),
) {
    out.extend_from_slice(b"SIP/2.0 ");
    push_u32(out, u32::from(code));
    out.push(b' ');
    out.extend_from_slice(reason);
    out.extend_from_slice(b"\r\n");
    for h in req.headers() {
        match h.name {
            HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                out.extend_from_slice(req.slice(h.line));
            }
            HeaderName::To => write_to(out, req, h, code),
            _ => {}
        }
    }
    extra(out);
    out.extend_from_slice(b"Server: sip-balancer\r\nContent-Length: 0\r\n\r\n");
}

fn write_to(out: &mut Vec<u8>, req: &Message<'_>, h: &super::message::Header, code: u16) {
    let value = req.slice(h.value);
    if code < 200 || headers::has_tag(value) {
        out.extend_from_slice(req.slice(h.line));
        return;
    }
    out.extend_from_slice(b"To: ");
    out.extend_from_slice(value);
    out.extend_from_slice(b";tag=lb");
    push_hex64(out, key_hash(req.call_id()));
    out.extend_from_slice(b"\r\n");
}

/// Where a response to a request goes (RFC 3261 §18.2.2 with RFC 3581):
/// the source IP (`received`), and the source port when the client asked
/// for `rport`, else the Via's sent-by port (default 5060).
pub fn destination(top_via: Option<&Via<'_>>, src: SocketAddr) -> SocketAddr {
    match top_via {
        Some(v) if v.rport == Rport::Absent => SocketAddr::new(src.ip(), v.port.unwrap_or(5060)),
        _ => src,
    }
}

/// Where a forwarded response goes: the Via's `received` (else its host) and
/// its `rport` value (else its port, else 5060). `None` when the host is not
/// an IP literal (we do not resolve names on the forwarding path).
pub fn via_target(v: &Via<'_>) -> Option<SocketAddr> {
    let host = v.received.unwrap_or(v.host);
    let ip: IpAddr = super::write::parse_ip(host)?;
    let port = match v.rport {
        Rport::Value(p) => p,
        _ => v.port.unwrap_or(5060),
    };
    Some(SocketAddr::new(ip, port))
}

/// The answer to a request the parser rejected, built by a plain line scan:
/// `505 Version Not Supported` when its request line ends in another
/// `SIP/x.y` version (RFC 3261 §8.2.2 / §21.5.6, RFC 4475 `badvers`), else
/// `400 Bad Request`. Trailing whitespace after the version is tolerated
/// here (RFC 4475 `trws`: still a 400, but one we can address). `false` when
/// the bytes do not look enough like a request (no request line, or no Via
/// line to answer along), or when the request is an ACK (never answered).
/// Whatever of From / To / Call-ID / CSeq exists is copied, so a request
/// missing one of them is still told why it failed.
pub fn bad_request(out: &mut Vec<u8>, buf: &[u8]) -> bool {
    let mut lines = buf
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let Some(first) = lines.next() else {
        return false;
    };
    let first = first.trim_ascii_end();
    if first.starts_with(b"SIP/") || first.starts_with(b"ACK ") {
        return false;
    }
    let status: &[u8] = match first.rsplit(|&b| b == b' ').next() {
        Some(v) if v.eq_ignore_ascii_case(b"SIP/2.0") => b"400 Bad Request",
        Some(v) if is_sip_version(v) && first.len() > v.len() => b"505 Version Not Supported",
        _ => return false,
    };
    let start = out.len();
    out.extend_from_slice(b"SIP/2.0 ");
    out.extend_from_slice(status);
    out.extend_from_slice(b"\r\n");
    let mut seen = [false; 5];
    for line in lines.take_while(|l| !l.is_empty()) {
        if let Some(i) = reply_header(line) {
            seen[i] = true;
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    if seen[0] {
        out.extend_from_slice(b"Server: sip-balancer\r\nContent-Length: 0\r\n\r\n");
        true
    } else {
        out.truncate(start);
        false
    }
}

/// `SIP/<digits>.<digits>`.
fn is_sip_version(v: &[u8]) -> bool {
    let Some(rest) = v
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case(b"SIP/"))
        .and(v.get(4..))
    else {
        return false;
    };
    let mut parts = rest.split(|&b| b == b'.');
    let digits =
        |p: Option<&[u8]>| p.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
}

/// Index of the reply-relevant header a raw line starts with.
fn reply_header(line: &[u8]) -> Option<usize> {
    let colon = memchr::memchr(b':', line)?;
    let name = line.get(..colon)?.trim_ascii();
    const NAMES: [(&[u8], &[u8], usize); 5] = [
        (b"via", b"v", 0),
        (b"from", b"f", 1),
        (b"to", b"t", 2),
        (b"call-id", b"i", 3),
        (b"cseq", b"cseq", 4),
    ];
    NAMES
        .iter()
        .find(|(long, short, _)| {
            name.eq_ignore_ascii_case(long) || name.eq_ignore_ascii_case(short)
        })
        .map(|&(_, _, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_request_from_line_scan() {
        let req = b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4:5060;branch=z9hG4bKx\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 999\r\n\r\n";
        let mut out = Vec::new();
        assert!(bad_request(&mut out, req));
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("SIP/2.0 400 Bad Request\r\n"));
        assert!(text.contains("Call-ID: x\r\n"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
        let mut out = Vec::new();
        assert!(!bad_request(&mut out, b"\x00\x01garbage"));
        assert!(!bad_request(
            &mut out,
            b"ACK sip:a@b SIP/2.0\r\nVia: x\r\n\r\n"
        ));
        assert!(!bad_request(
            &mut out,
            b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: x\r\n\r\n"
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn other_version_gets_505_and_trailing_space_400() {
        let head = "Via: SIP/7.0/UDP c.example.com;branch=z9hG4bKk\r\nCall-ID: v\r\nCSeq: 1 OPTIONS\r\n\r\n";
        let mut out = Vec::new();
        assert!(bad_request(
            &mut out,
            format!("OPTIONS sip:t@example.org SIP/7.0\r\n{head}").as_bytes()
        ));
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("SIP/2.0 505 Version Not Supported\r\n"),
            "{text}"
        );
        assert!(text.contains("Via: SIP/7.0/UDP c.example.com;branch=z9hG4bKk\r\n"));
        let mut out = Vec::new();
        assert!(bad_request(
            &mut out,
            format!("OPTIONS sip:t@example.org SIP/2.0  \r\n{head}").as_bytes()
        ));
        assert!(out.starts_with(b"SIP/2.0 400 Bad Request\r\n"));
        for line in [
            "OPTIONS sip:t@example.org SIP/x.0",
            "OPTIONS sip:t HTTP/1.1",
            "SIP/7.0",
        ] {
            let mut out = Vec::new();
            assert!(
                !bad_request(&mut out, format!("{line}\r\n{head}").as_bytes()),
                "{line}"
            );
        }
    }
}
