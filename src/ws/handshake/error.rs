//! Why a handshake failed, and the HTTP status a server answers it with.

use std::fmt;

/// A refused or failed opening handshake.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// No end of head within the size limit.
    TooLarge,
    /// Not HTTP: a bad start line or a bad header field line.
    Malformed,
    /// A request whose method is not GET.
    NotGet,
    /// Not HTTP/1.1 or later.
    NotHttp11,
    /// No `Upgrade: websocket`.
    NoUpgrade,
    /// No `upgrade` token in `Connection`.
    NoConnectionUpgrade,
    /// `Sec-WebSocket-Version` missing or not 13.
    BadVersion,
    /// `Sec-WebSocket-Key` missing or not base64 of 16 bytes.
    BadKey,
    /// No usable `Host` (missing, empty or not visible ASCII).
    NoHost,
    /// A request-target that is empty or not visible ASCII.
    BadTarget,
    /// A field that may appear once appeared more than once.
    Duplicate,
    /// A response whose status is not 101 (the status).
    BadStatus(u16),
    /// A response whose `Sec-WebSocket-Accept` does not match our key.
    BadAccept,
    /// A response that did not select the `sip` subprotocol.
    NoProtocol,
    /// A response that selected an extension we did not offer.
    UnexpectedExtension,
}

impl HandshakeError {
    /// The status a server answers this request error with: 426 for a
    /// version it does not speak, 431 for an oversized head, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::BadVersion => 426,
            HandshakeError::TooLarge => 431,
            _ => 400,
        }
    }

    /// The reason phrase for [`HandshakeError::status`].
    pub fn reason(&self) -> &'static str {
        match self.status() {
            426 => "Upgrade Required",
            431 => "Request Header Fields Too Large",
            _ => "Bad Request",
        }
    }

    /// Appends the error response for this request error (see
    /// [`super::write_error`]).
    pub fn write_response(&self, out: &mut Vec<u8>) {
        super::write_error(self.status(), self.reason(), out);
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::TooLarge => f.write_str("handshake head over the size limit"),
            HandshakeError::Malformed => f.write_str("malformed HTTP head"),
            HandshakeError::NotGet => f.write_str("method is not GET"),
            HandshakeError::NotHttp11 => f.write_str("not HTTP/1.1"),
            HandshakeError::NoUpgrade => f.write_str("no Upgrade: websocket"),
            HandshakeError::NoConnectionUpgrade => f.write_str("no Connection: upgrade"),
            HandshakeError::BadVersion => f.write_str("Sec-WebSocket-Version is not 13"),
            HandshakeError::BadKey => f.write_str("bad Sec-WebSocket-Key"),
            HandshakeError::NoHost => f.write_str("no usable Host"),
            HandshakeError::BadTarget => f.write_str("bad request target"),
            HandshakeError::Duplicate => f.write_str("a single-valued field appears twice"),
            HandshakeError::BadStatus(status) => write!(f, "status {status} instead of 101"),
            HandshakeError::BadAccept => f.write_str("Sec-WebSocket-Accept does not match"),
            HandshakeError::NoProtocol => f.write_str("server did not select the sip subprotocol"),
            HandshakeError::UnexpectedExtension => {
                f.write_str("server selected an extension not offered")
            }
        }
    }
}

impl std::error::Error for HandshakeError {}
