//! RFC 6455 §5 frames: the [`Decoder`] (bytes in, [`Event`]s out, with
//! reassembly of fragmented messages and the validation a receiver owes
//! its peer) and the encoder functions ([`encode`], [`encode_frame`],
//! [`close_frame`]) that append frames to a caller's buffer.
//!
//! Errors are [`WsError`] values that carry the close status to send
//! ([`WsError::close_code`]); nothing here panics on any input.
//!
//! # Driving the decoder
//!
//! The runtime keeps one [`Decoder`] and one receive buffer per
//! connection, decodes until no event is left, then drops what was
//! consumed (all but a partial frame header of at most 13 bytes):
//!
//! ```
//! use sip_balancer::ws::frame::{self, Decoder, Event, OpCode, Role};
//!
//! let mut decoder = Decoder::new(Role::Server, 64 * 1024);
//! // Received so far: RFC 6455's masked "Hello", and the start of a header.
//! let mut inbuf = vec![0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58, 0x81];
//! let mut outbuf = Vec::new();
//! let mut off = 0;
//! loop {
//!     match decoder.decode(&inbuf[off..]) {
//!         Ok((used, Some(event))) => {
//!             off += used;
//!             match event {
//!                 // Hand the message to the SIP parser before the next decode.
//!                 Event::Message { payload, .. } => assert_eq!(payload, b"Hello"),
//!                 Event::Ping(p) => frame::encode(OpCode::Pong, p, None, &mut outbuf).unwrap(),
//!                 Event::Pong(_) => {}
//!                 Event::Close { code, .. } => {
//!                     // Echo the status; then close the socket.
//!                     let status = code.map(u16::to_be_bytes);
//!                     let payload = status.as_ref().map_or(&[][..], |s| &s[..]);
//!                     frame::encode(OpCode::Close, payload, None, &mut outbuf).unwrap();
//!                     break;
//!                 }
//!             }
//!         }
//!         // Need more bytes: keep inbuf[off..] and append the next read.
//!         Ok((used, None)) => {
//!             off += used;
//!             break;
//!         }
//!         Err(err) => {
//!             frame::close_frame(err.close_code(), "", None, &mut outbuf).unwrap();
//!             break; // then close the socket
//!         }
//!     }
//! }
//! inbuf.drain(..off);
//! assert_eq!(inbuf, [0x81]);
//! ```

mod decode;
mod encode;
mod error;
mod mask;
#[cfg(test)]
mod tests;

pub use decode::{Decoder, Event, Role};
pub use encode::{close_frame, encode, encode_frame};
pub use error::WsError;

/// Close status 1000: normal closure.
pub const CLOSE_NORMAL: u16 = 1000;
/// Close status 1001: the endpoint is going away (shutdown).
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close status 1002: protocol error.
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
/// Close status 1007: payload not consistent with the message type (bad UTF-8).
pub const CLOSE_INVALID_PAYLOAD: u16 = 1007;
/// Close status 1009: message too big to process.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close status 1011: the server met an unexpected condition.
pub const CLOSE_INTERNAL_ERROR: u16 = 1011;

/// The largest payload a control frame (close, ping, pong) may carry.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's opcode (RFC 6455 §5.2); the reserved values are not
/// representable: the decoder rejects them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpCode {
    /// 0x0: a later fragment of a text or binary message.
    Continuation = 0x0,
    /// 0x1: the first (or only) frame of a text message.
    Text = 0x1,
    /// 0x2: the first (or only) frame of a binary message.
    Binary = 0x2,
    /// 0x8: close.
    Close = 0x8,
    /// 0x9: ping.
    Ping = 0x9,
    /// 0xA: pong.
    Pong = 0xA,
}

impl OpCode {
    /// The opcode for the low four bits of a frame's first byte, or `None`
    /// for a reserved value.
    pub fn from_bits(bits: u8) -> Option<OpCode> {
        match bits {
            0x0 => Some(OpCode::Continuation),
            0x1 => Some(OpCode::Text),
            0x2 => Some(OpCode::Binary),
            0x8 => Some(OpCode::Close),
            0x9 => Some(OpCode::Ping),
            0xA => Some(OpCode::Pong),
            _ => None,
        }
    }

    /// Close, ping and pong: at most 125 bytes, never fragmented.
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// Whether a close status may appear in a close frame (RFC 6455 §7.4:
/// 1004–1006 and 1015 are reserved for local use; 1000–2999 are assigned by
/// IANA, of which 1000–1003 and 1007–1014 exist; 3000–4999 are for
/// libraries and applications).
pub fn valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}
