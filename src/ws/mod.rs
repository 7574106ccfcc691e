//! WebSocket (RFC 6455) for SIP over WebSocket (RFC 7118): the opening
//! handshake and the frame codec, sans-IO.
//!
//! - [`handshake`]: the HTTP/1.1 Upgrade exchange, both ends: a server
//!   parses the client's request and writes `101` (with
//!   `Sec-WebSocket-Protocol: sip`) or an error; a client writes the request
//!   and checks the server's `101`.
//! - [`frame`]: the frame [`frame::Decoder`] (unmasking, reassembly,
//!   validation, close statuses for every error) and the encoder functions.
//!
//! Nothing here touches a socket or allocates per message once warm: the
//! runtime feeds received bytes in and writes the bytes appended to its
//! output buffers.

pub mod frame;
pub mod handshake;
#[cfg(test)]
mod tests;
