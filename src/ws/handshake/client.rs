//! The client end (the balancer connecting to a SIP node): the Upgrade
//! request out, the server's `101` in and checked.

use base64::Engine as _;

use super::head::{is_http11, is_visible, list_has, Head};
use super::{accept_key, HandshakeError, SIP_PROTOCOL};

/// One client handshake: the key sent and the accept value expected back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientHandshake {
    key: [u8; 24],
    accept: [u8; 28],
}

/// A valid `101` response to our request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// Bytes of the head, through its blank line; what follows is frames.
    pub head_len: usize,
}

impl ClientHandshake {
    /// A handshake keyed by `nonce`, which must be 16 fresh random bytes
    /// (RFC 6455 §4.1; the caller owns the random source).
    pub fn new(nonce: [u8; 16]) -> ClientHandshake {
        let mut key = [0u8; 24];
        // 16 bytes always encode to exactly 24 characters with padding.
        let _ = base64::engine::general_purpose::STANDARD.encode_slice(nonce, &mut key);
        ClientHandshake {
            key,
            accept: accept_key(&key),
        }
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Appends the Upgrade request for `path` (origin-form, e.g. `/`) on
    /// `host` (the authority, e.g. `10.0.0.5:5082`), offering `sip`.
    ///
    /// Errors (nothing written): [`HandshakeError::BadTarget`] /
    /// [`HandshakeError::NoHost`] when `path` / `host` is empty or holds
    /// anything but visible ASCII (no header injection).
    pub fn write_request(
        &self,
        host: &str,
        path: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), HandshakeError> {
        if !is_visible(path.as_bytes()) {
            return Err(HandshakeError::BadTarget);
        }
        if !is_visible(host.as_bytes()) {
            return Err(HandshakeError::NoHost);
        }
        for part in [
            b"GET ".as_slice(),
            path.as_bytes(),
            b" HTTP/1.1\r\nHost: ",
            host.as_bytes(),
            b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ",
            &self.key,
            b"\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ",
            SIP_PROTOCOL.as_bytes(),
            b"\r\n\r\n",
        ] {
            out.extend_from_slice(part);
        }
        Ok(())
    }

    /// Checks the server's response at the start of `buf`: `Ok(None)` while
    /// its head is incomplete; an error for anything but a `101` with the
    /// right `Sec-WebSocket-Accept`, `Upgrade`, `Connection`, the `sip`
    /// subprotocol and no extension.
    pub fn parse_response(
        &self,
        buf: &[u8],
        max_head: usize,
    ) -> Result<Option<Response>, HandshakeError> {
        let Some(head) = Head::find(buf, max_head)? else {
            return Ok(None);
        };
        let [version, status, _reason] = head.start;
        if !is_http11(version) {
            return Err(HandshakeError::NotHttp11);
        }
        if status != b"101" {
            return Err(HandshakeError::BadStatus(parse_status(status)));
        }
        head.check_fields()?;
        if !list_has(head.values(b"upgrade"), b"websocket") {
            return Err(HandshakeError::NoUpgrade);
        }
        if !list_has(head.values(b"connection"), b"upgrade") {
            return Err(HandshakeError::NoConnectionUpgrade);
        }
        if head.single(b"sec-websocket-accept")? != Some(&self.accept[..]) {
            return Err(HandshakeError::BadAccept);
        }
        match head.single(b"sec-websocket-protocol")? {
            Some(p) if p.eq_ignore_ascii_case(SIP_PROTOCOL.as_bytes()) => {}
            _ => return Err(HandshakeError::NoProtocol),
        }
        if head
            .values(b"sec-websocket-extensions")
            .any(|v| !v.is_empty())
        {
            return Err(HandshakeError::UnexpectedExtension);
        }
        Ok(Some(Response { head_len: head.len }))
    }
}

/// A three-digit status as a number (0 when it is not one).
fn parse_status(status: &[u8]) -> u16 {
    match status {
        [a, b, c] if status.iter().all(u8::is_ascii_digit) => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => 0,
    }
}
