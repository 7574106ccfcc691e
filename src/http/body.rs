//! Message body framing: where a request or response body ends.
//!
//! A [`Body`] is fed the bytes after a head as they arrive and says how
//! many belong to the body; the caller relays those bytes unchanged and
//! never holds a whole body.

use super::chunked::{ChunkError, Chunked};

/// How the rest of a message is delimited, and how far it has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// No body (or it has ended).
    None,
    /// `Content-Length`: bytes still to come.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked(Chunked),
    /// Ends when the sender closes (a response without length or chunking).
    UntilClose,
}

// === impl Body ===

impl Body {
    /// Whether the body has ended.
    pub fn is_done(&self) -> bool {
        match self {
            Body::None | Body::Length(0) => true,
            Body::Chunked(c) => c.is_done(),
            Body::Length(_) | Body::UntilClose => false,
        }
    }

    /// Takes the body bytes at the start of `buf`: how many belong to the
    /// body, and whether it ended with them.
    pub fn advance(&mut self, buf: &[u8]) -> Result<(usize, bool), ChunkError> {
        match self {
            Body::None => Ok((0, true)),
            Body::Length(left) => {
                let take = (*left).min(buf.len() as u64);
                *left -= take;
                Ok((take as usize, *left == 0))
            }
            Body::Chunked(c) => c.advance(buf),
            Body::UntilClose => Ok((buf.len(), false)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_and_until_close() {
        let mut b = Body::Length(5);
        assert_eq!(b.advance(b"abc"), Ok((3, false)));
        assert_eq!(b.advance(b"defgh"), Ok((2, true)));
        assert!(b.is_done());
        let mut u = Body::UntilClose;
        assert_eq!(u.advance(b"abc"), Ok((3, false)));
        assert!(!u.is_done());
        assert_eq!(Body::None.advance(b"x"), Ok((0, true)));
    }
}
