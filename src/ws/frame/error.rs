//! Why a peer's frames were refused, and the close status that says so.

use std::fmt;

use super::{CLOSE_INVALID_PAYLOAD, CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG};

/// A protocol violation by the peer (or, from the encoder, a control frame
/// the caller asked for that the protocol forbids). After a decode error the
/// connection is finished: send a close frame with [`WsError::close_code`]
/// and close the socket; the decoder keeps returning the same error.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsError {
    /// RSV1, RSV2 or RSV3 set (no extension was negotiated).
    ReservedBits,
    /// A reserved opcode (the value is the four opcode bits).
    UnknownOpcode(u8),
    /// A control frame with a payload over 125 bytes.
    ControlTooLong,
    /// A control frame without FIN.
    ControlFragmented,
    /// A server received an unmasked frame from its client.
    Unmasked,
    /// A client received a masked frame from its server.
    Masked,
    /// A 64-bit payload length with its most significant bit set.
    LengthOverflow,
    /// The message (all its fragments) is larger than the decoder's limit.
    TooBig,
    /// A text message (or a close reason) is not valid UTF-8.
    BadUtf8,
    /// A continuation frame with no fragmented message in progress.
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is unfinished.
    ExpectedContinuation,
    /// A close frame whose payload is one byte (a status needs two).
    BadClosePayload,
    /// A close frame with a status that may not be sent (the value).
    BadCloseCode(u16),
}

impl WsError {
    /// The close status to send the peer: 1009 for [`WsError::TooBig`],
    /// 1007 for [`WsError::BadUtf8`], 1002 (protocol error) otherwise.
    pub fn close_code(&self) -> u16 {
        match self {
            WsError::TooBig => CLOSE_TOO_BIG,
            WsError::BadUtf8 => CLOSE_INVALID_PAYLOAD,
            _ => CLOSE_PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::ReservedBits => f.write_str("reserved bits set"),
            WsError::UnknownOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            WsError::ControlTooLong => f.write_str("control frame payload over 125 bytes"),
            WsError::ControlFragmented => f.write_str("fragmented control frame"),
            WsError::Unmasked => f.write_str("unmasked frame from a client"),
            WsError::Masked => f.write_str("masked frame from a server"),
            WsError::LengthOverflow => f.write_str("64-bit length with the top bit set"),
            WsError::TooBig => f.write_str("message over the size limit"),
            WsError::BadUtf8 => f.write_str("text is not UTF-8"),
            WsError::UnexpectedContinuation => f.write_str("continuation without a message"),
            WsError::ExpectedContinuation => f.write_str("new message inside a fragmented one"),
            WsError::BadClosePayload => f.write_str("one-byte close payload"),
            WsError::BadCloseCode(code) => write!(f, "close status {code} may not be sent"),
        }
    }
}

impl std::error::Error for WsError {}
