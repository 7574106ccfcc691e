//! The server end: the client's Upgrade request in, `101` out.

use base64::Engine as _;

use super::head::{is_http11, is_visible, list_has, Head};
use super::{accept_key, HandshakeError, SIP_PROTOCOL};

/// A valid WebSocket Upgrade request, borrowing the receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The request-target as sent (path and query), visible ASCII.
    pub path: &'a str,
    /// The `Host` field, visible ASCII.
    pub host: &'a str,
    /// The `Sec-WebSocket-Key` (24 base64 characters of 16 bytes).
    pub key: &'a str,
    /// Whether `Sec-WebSocket-Protocol` offered `sip` (case-insensitive).
    pub offers_sip: bool,
    /// The `Origin` field, when present and visible ASCII (browsers send it).
    pub origin: Option<&'a str>,
    /// Bytes of the head, through its blank line; what follows is frames.
    pub head_len: usize,
}

impl Request<'_> {
    /// Appends the `101 Switching Protocols` response, selecting `sip` when
    /// the client offered it (RFC 7118 §4.1). Whether to accept a client
    /// that did not offer it is the caller's choice (else [`super::write_error`]).
    pub fn write_accept(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
        );
        out.extend_from_slice(&accept_key(self.key.as_bytes()));
        if self.offers_sip {
            out.extend_from_slice(b"\r\nSec-WebSocket-Protocol: ");
            out.extend_from_slice(SIP_PROTOCOL.as_bytes());
        }
        out.extend_from_slice(b"\r\n\r\n");
    }
}

/// Parses the Upgrade request at the start of `buf`.
///
/// `Ok(None)`: the head is not complete yet (call again with more bytes);
/// [`HandshakeError::TooLarge`] once `max_head` bytes hold no complete head.
/// Every other error is a request to refuse with
/// [`HandshakeError::write_response`].
pub fn parse_request(buf: &[u8], max_head: usize) -> Result<Option<Request<'_>>, HandshakeError> {
    let Some(head) = Head::find(buf, max_head)? else {
        return Ok(None);
    };
    let [method, target, version] = head.start;
    if !is_http11(version) {
        return Err(HandshakeError::NotHttp11);
    }
    if method != b"GET" {
        return Err(HandshakeError::NotGet);
    }
    head.check_fields()?;
    let path = visible(target).ok_or(HandshakeError::BadTarget)?;
    let host = head
        .single(b"host")?
        .and_then(visible)
        .ok_or(HandshakeError::NoHost)?;
    if !list_has(head.values(b"upgrade"), b"websocket") {
        return Err(HandshakeError::NoUpgrade);
    }
    if !list_has(head.values(b"connection"), b"upgrade") {
        return Err(HandshakeError::NoConnectionUpgrade);
    }
    if head.single(b"sec-websocket-version")? != Some(b"13") {
        return Err(HandshakeError::BadVersion);
    }
    let key = head
        .single(b"sec-websocket-key")?
        .filter(|k| is_key(k))
        .and_then(visible);
    let key = key.ok_or(HandshakeError::BadKey)?;
    let offers_sip = list_has(
        head.values(b"sec-websocket-protocol"),
        SIP_PROTOCOL.as_bytes(),
    );
    let origin = head.single(b"origin")?.and_then(visible);
    Ok(Some(Request {
        path,
        host,
        key,
        offers_sip,
        origin,
        head_len: head.len,
    }))
}

/// Whether `key` is base64 of exactly 16 bytes.
fn is_key(key: &[u8]) -> bool {
    let mut raw = [0u8; 18];
    key.len() == 24
        && base64::engine::general_purpose::STANDARD.decode_slice(key, &mut raw) == Ok(16)
}

/// The bytes as text when they are visible ASCII.
fn visible(bytes: &[u8]) -> Option<&str> {
    if is_visible(bytes) {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}
