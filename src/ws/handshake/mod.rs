//! The WebSocket opening handshake (RFC 6455 §4) for SIP (RFC 7118), both
//! ends, sans-IO.
//!
//! Server side: [`parse_request`] reads the client's Upgrade request from
//! the bytes received so far (`Ok(None)`: more are needed), then
//! [`Request::write_accept`] writes the `101 Switching Protocols` (with
//! `Sec-WebSocket-Protocol: sip` when the client offered it) or
//! [`write_error`] / [`HandshakeError::write_response`] a refusal.
//!
//! Client side: [`ClientHandshake::new`] takes the caller's 16 random bytes,
//! [`ClientHandshake::write_request`] writes the request and
//! [`ClientHandshake::parse_response`] checks the server's `101`.
//!
//! In both directions the bytes after `head_len` are already WebSocket
//! frames and belong to the frame decoder.

mod client;
mod error;
mod head;
mod server;
#[cfg(test)]
mod tests;

use base64::Engine as _;
use sha1::{Digest as _, Sha1};

pub use client::{ClientHandshake, Response};
pub use error::HandshakeError;
pub use server::{parse_request, Request};

/// The subprotocol of RFC 7118.
pub const SIP_PROTOCOL: &str = "sip";

/// The GUID appended to the key before hashing (RFC 6455 §1.3).
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64 of the SHA-1 of
/// the key (as sent, trimmed) followed by the RFC's GUID.
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let digest = Sha1::new().chain_update(key).chain_update(GUID).finalize();
    let mut out = [0u8; 28];
    // 20 bytes always encode to exactly 28 characters with padding.
    let _ = base64::engine::general_purpose::STANDARD.encode_slice(digest, &mut out);
    out
}

/// Appends an error response that ends the exchange: status line,
/// `Sec-WebSocket-Version: 13` (which a 426 must carry and which does no
/// harm elsewhere), `Content-Length: 0`, `Connection: close`. The status
/// is clamped to three digits; control characters in `reason` are dropped.
pub fn write_error(status: u16, reason: &str, out: &mut Vec<u8>) {
    let status = status.clamp(100, 999);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(&[
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ]);
    out.push(b' ');
    out.extend(reason.bytes().filter(|b| !b.is_ascii_control()));
    out.extend_from_slice(
        b"\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
}
