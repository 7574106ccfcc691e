//! The 16-byte PDU header and the in-place sequence rewrite.
//!
//! Every SMPP PDU starts with four big-endian `u32`s: `command_length`
//! (the whole PDU, header included), `command_id`, `command_status` and
//! `sequence_number`. The proxy reads only this header for most PDUs and
//! forwards the bytes with a new sequence number ([`copy_with_sequence`]):
//! one copy into the output buffer and four bytes patched, never a
//! re-encode, so unknown TLVs and odd encodings pass through untouched.

use std::ops::Range;

use super::command::CommandId;

/// Bytes in a PDU header.
pub const HEADER_LEN: usize = 16;

/// Offset of `sequence_number` within a PDU.
const SEQUENCE_AT: usize = 12;

/// A decoded PDU header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Length of the whole PDU in bytes, header included.
    pub command_length: u32,
    /// What the PDU is.
    pub command_id: CommandId,
    /// Result of a response; 0 in requests.
    pub command_status: u32,
    /// Pairs a response with its request; chosen by the request's sender.
    pub sequence_number: u32,
}

// === impl Header ===

impl Header {
    /// Reads the header at the start of `bytes`; `None` if fewer than
    /// [`HEADER_LEN`] bytes are there. Does not check `command_length`
    /// (the framer does).
    pub fn parse(bytes: &[u8]) -> Option<Header> {
        Some(Header {
            command_length: be_u32(bytes, 0)?,
            command_id: CommandId(be_u32(bytes, 4)?),
            command_status: be_u32(bytes, 8)?,
            sequence_number: be_u32(bytes, SEQUENCE_AT)?,
        })
    }

    /// Appends the 16 header bytes to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.command_length.to_be_bytes());
        out.extend_from_slice(&self.command_id.0.to_be_bytes());
        out.extend_from_slice(&self.command_status.to_be_bytes());
        out.extend_from_slice(&self.sequence_number.to_be_bytes());
    }
}

/// The big-endian `u32` at `at`, if the slice holds it.
pub(crate) fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// Copies the PDU `pdu` to the end of `out` with its `sequence_number`
/// replaced by `sequence`, and returns where it landed in `out`.
///
/// `pdu` shorter than a header is copied unchanged (the framer never hands
/// out such a PDU).
pub fn copy_with_sequence(pdu: &[u8], sequence: u32, out: &mut Vec<u8>) -> Range<usize> {
    let start = out.len();
    out.extend_from_slice(pdu);
    set_sequence(&mut out[start..], sequence);
    start..out.len()
}

/// Overwrites the `sequence_number` of the PDU at the start of `pdu`.
/// Returns false (and changes nothing) when `pdu` is shorter than a header.
pub fn set_sequence(pdu: &mut [u8], sequence: u32) -> bool {
    match pdu.get_mut(SEQUENCE_AT..HEADER_LEN) {
        Some(seq) => {
            seq.copy_from_slice(&sequence.to_be_bytes());
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENQUIRE: [u8; 16] = [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7];

    #[test]
    fn parses_and_writes_the_same_bytes() {
        let h = Header::parse(&ENQUIRE).unwrap();
        assert_eq!(
            h,
            Header {
                command_length: 16,
                command_id: CommandId::ENQUIRE_LINK,
                command_status: 0,
                sequence_number: 7,
            }
        );
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out, ENQUIRE);
        assert_eq!(Header::parse(&ENQUIRE[..15]), None);
    }

    #[test]
    fn sequence_rewrite_touches_only_four_bytes() {
        let mut out = b"xy".to_vec();
        let pdu = [&ENQUIRE[..], b"tail"].concat();
        let r = copy_with_sequence(&pdu, 0x0102_0304, &mut out);
        assert_eq!(r, 2..22);
        let mut want = pdu.clone();
        want[12..16].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(&out[r], &want[..]);
        assert_eq!(&out[..2], b"xy");
        assert!(!set_sequence(&mut [0u8; 15], 1));
    }
}
