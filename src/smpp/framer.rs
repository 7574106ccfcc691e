//! Splits a TCP byte stream into PDUs.
//!
//! SMPP frames itself: the first four bytes of every PDU are its length.
//! [`frame`] looks at the start of a buffer and says whether a whole PDU is
//! there ([`Frame::Complete`]), how many more bytes are needed
//! ([`Frame::Incomplete`]), or that the stream is broken
//! ([`FrameError`]): a `command_length` below the header size or above the
//! configured maximum. A broken stream cannot be resynchronised (there is no
//! delimiter), so the caller answers `generic_nack` `ESME_RINVCMDLEN` and
//! closes the connection.

use super::header::{be_u32, HEADER_LEN};

/// Default upper bound on `command_length`: a `submit_multi` with 255
/// destinations plus a 64 KiB `message_payload` still fits.
pub const DEFAULT_MAX_PDU_LEN: u32 = 72 * 1024;

/// What the start of a buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A whole PDU of `len` bytes starts the buffer.
    Complete {
        /// Bytes of the PDU (its `command_length`).
        len: usize,
    },
    /// Not yet a whole PDU: at least `need` more bytes are required.
    Incomplete {
        /// Bytes still missing (a lower bound while the length is unread).
        need: usize,
    },
}

/// The stream cannot be framed any further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// `command_length` is below the 16-byte header.
    TooShort {
        /// The length the peer sent.
        command_length: u32,
    },
    /// `command_length` is above the configured maximum.
    TooLong {
        /// The length the peer sent.
        command_length: u32,
    },
}

/// Frames the PDU at the start of `buf`, allowing at most `max_len` bytes.
pub fn frame(buf: &[u8], max_len: u32) -> Result<Frame, FrameError> {
    let Some(command_length) = be_u32(buf, 0) else {
        return Ok(Frame::Incomplete {
            need: HEADER_LEN - buf.len(),
        });
    };
    if (command_length as usize) < HEADER_LEN {
        return Err(FrameError::TooShort { command_length });
    }
    if command_length > max_len {
        return Err(FrameError::TooLong { command_length });
    }
    let len = command_length as usize;
    match len.checked_sub(buf.len()) {
        Some(need) if need > 0 => Ok(Frame::Incomplete { need }),
        _ => Ok(Frame::Complete { len }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pdu(len: u32) -> Vec<u8> {
        let mut v = len.to_be_bytes().to_vec();
        v.resize(len.max(4) as usize, 0xAB);
        v
    }

    #[test]
    fn complete_pdu_and_following_bytes() {
        let mut b = pdu(20);
        b.extend_from_slice(&[0, 0]);
        assert_eq!(frame(&b, 100), Ok(Frame::Complete { len: 20 }));
    }

    #[test]
    fn partial_length_and_partial_body() {
        assert_eq!(frame(&[], 100), Ok(Frame::Incomplete { need: 16 }));
        assert_eq!(frame(&[0, 0], 100), Ok(Frame::Incomplete { need: 14 }));
        let b = pdu(40);
        assert_eq!(frame(&b[..25], 100), Ok(Frame::Incomplete { need: 15 }));
    }

    #[test]
    fn lengths_out_of_bounds_are_errors() {
        assert_eq!(
            frame(&pdu(15), 100),
            Err(FrameError::TooShort { command_length: 15 })
        );
        assert_eq!(
            frame(&0u32.to_be_bytes(), 100),
            Err(FrameError::TooShort { command_length: 0 })
        );
        assert_eq!(
            frame(&u32::MAX.to_be_bytes(), 100),
            Err(FrameError::TooLong {
                command_length: u32::MAX
            })
        );
        assert_eq!(frame(&pdu(100), 100), Ok(Frame::Complete { len: 100 }));
        assert_eq!(
            frame(&pdu(101), 100),
            Err(FrameError::TooLong {
                command_length: 101
            })
        );
    }
}
