//! The heads the balancer forwards, written straight into the output
//! buffer from a [`Head`] index: hop-by-hop fields removed (RFC 9110
//! §7.6.1), this hop's `Connection`, and optionally `X-Forwarded-For`,
//! `X-Forwarded-Proto` and `Forwarded`. Field lines are copied as
//! name, `: `, value; nothing is allocated.

use std::net::IpAddr;

use super::head::{Field, Head, Kind};
use crate::sip::write::{push_host, push_u32};

/// The client a request is forwarded for.
#[derive(Debug, Clone, Copy)]
pub(super) struct ForwardedFor {
    /// Client address.
    pub(super) peer: IpAddr,
    /// The client spoke TLS to the balancer.
    pub(super) secure: bool,
}

/// A request head to forward.
#[derive(Debug, Clone, Copy)]
pub(super) struct RequestOut<'a> {
    /// Its index.
    pub(super) head: &'a Head,
    /// The bytes `head` indexes.
    pub(super) buf: &'a [u8],
    /// Request-target to send (rewritten, or the original).
    pub(super) target: &'a [u8],
    /// A WebSocket upgrade: keep `Upgrade`, send `Connection: upgrade`.
    pub(super) upgrade: bool,
    /// Add the forwarding fields for this client.
    pub(super) forwarded: Option<ForwardedFor>,
}

/// The `Connection` field of a forwarded response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Persist {
    /// None (HTTP/1.1 default persistence, or an interim response).
    Default,
    /// `Connection: keep-alive` (an HTTP/1.0 client kept).
    KeepAlive,
    /// `Connection: close` (the balancer closes after the response).
    Close,
    /// `101`: keep `Upgrade`, send `Connection: upgrade`.
    Upgrade,
}

/// Appends the request head `r` describes.
pub(super) fn request(out: &mut Vec<u8>, r: &RequestOut<'_>) {
    let (h, buf) = (r.head, r.buf);
    out.extend_from_slice(h.method.get(buf));
    out.push(b' ');
    out.extend_from_slice(r.target);
    out.extend_from_slice(version(h.minor));
    out.extend_from_slice(b"\r\n");
    let last_xff = last_of(h, Kind::XForwardedFor);
    let last_fwd = last_of(h, Kind::Forwarded);
    for (i, f) in h.fields.iter().enumerate() {
        if is_hop(f, h, buf, r.upgrade) {
            continue;
        }
        match (f.kind, r.forwarded) {
            (Kind::XForwardedProto, Some(_)) => continue,
            (Kind::XForwardedFor, Some(c)) if Some(i) == last_xff => {
                field_start(out, f, buf);
                out.extend_from_slice(b", ");
                push_ip(out, c.peer);
                out.extend_from_slice(b"\r\n");
            }
            (Kind::Forwarded, Some(c)) if Some(i) == last_fwd => {
                field_start(out, f, buf);
                out.extend_from_slice(b", ");
                forwarded_element(out, c);
                out.extend_from_slice(b"\r\n");
            }
            _ => field(out, f, buf),
        }
    }
    if r.upgrade {
        out.extend_from_slice(b"Connection: upgrade\r\n");
    } else if h.minor == 0 {
        out.extend_from_slice(b"Connection: keep-alive\r\n");
    }
    if let Some(c) = r.forwarded {
        if last_xff.is_none() {
            out.extend_from_slice(b"X-Forwarded-For: ");
            push_ip(out, c.peer);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(if c.secure {
            b"X-Forwarded-Proto: https\r\n".as_slice()
        } else {
            b"X-Forwarded-Proto: http\r\n".as_slice()
        });
        if last_fwd.is_none() {
            out.extend_from_slice(b"Forwarded: ");
            forwarded_element(out, c);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends the response head `h` (parsed from `buf`) with hop-by-hop
/// fields removed and this hop's `Connection`.
pub(super) fn response(out: &mut Vec<u8>, h: &Head, buf: &[u8], persist: Persist) {
    out.extend_from_slice(h.status_line.get(buf));
    out.extend_from_slice(b"\r\n");
    let upgrade = persist == Persist::Upgrade;
    for f in &h.fields {
        if !is_hop(f, h, buf, upgrade) {
            field(out, f, buf);
        }
    }
    out.extend_from_slice(match persist {
        Persist::Default => b"".as_slice(),
        Persist::KeepAlive => b"Connection: keep-alive\r\n",
        Persist::Close => b"Connection: close\r\n",
        Persist::Upgrade => b"Connection: upgrade\r\n",
    });
    out.extend_from_slice(b"\r\n");
}

/// Fields that only concern one hop. Framing fields and `Host` are never
/// removed, even when `Connection` names them (a client must not be able
/// to strip the length of its own body on the way to the node).
fn is_hop(f: &Field, h: &Head, buf: &[u8], upgrade: bool) -> bool {
    match f.kind {
        Kind::Connection | Kind::KeepAlive | Kind::ProxyConnection | Kind::Te => true,
        Kind::Upgrade => !upgrade,
        Kind::ContentLength | Kind::TransferEncoding | Kind::Host => false,
        _ => h.is_listed(buf, f.name.get(buf)),
    }
}

fn last_of(h: &Head, kind: Kind) -> Option<usize> {
    h.fields.iter().rposition(|f| f.kind == kind)
}

fn version(minor: u8) -> &'static [u8] {
    if minor == 0 {
        b" HTTP/1.0"
    } else {
        b" HTTP/1.1"
    }
}

fn field_start(out: &mut Vec<u8>, f: &Field, buf: &[u8]) {
    out.extend_from_slice(f.name.get(buf));
    out.extend_from_slice(b": ");
    out.extend_from_slice(f.value.get(buf));
}

fn field(out: &mut Vec<u8>, f: &Field, buf: &[u8]) {
    field_start(out, f, buf);
    out.extend_from_slice(b"\r\n");
}

/// An address as `X-Forwarded-For` carries it (IPv6 unbracketed).
fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    crate::sip::write::push_ip_param(out, ip);
}

/// `for=…;proto=…` (RFC 7239; an IPv6 node is quoted and bracketed).
fn forwarded_element(out: &mut Vec<u8>, c: ForwardedFor) {
    out.extend_from_slice(b"for=");
    match c.peer {
        IpAddr::V4(_) => push_host(out, c.peer),
        IpAddr::V6(_) => {
            out.push(b'"');
            push_host(out, c.peer);
            out.push(b'"');
        }
    }
    out.extend_from_slice(if c.secure {
        b";proto=https".as_slice()
    } else {
        b";proto=http".as_slice()
    });
}

/// Appends `n` in decimal (re-exported for the replies).
pub(super) fn push_num(out: &mut Vec<u8>, n: u32) {
    push_u32(out, n);
}
