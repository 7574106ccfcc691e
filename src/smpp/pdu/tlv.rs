//! Optional parameters (TLVs): tag, length, value — kept as raw bytes.
//!
//! A PDU's TLV region is validated once ([`Tlvs::parse`]: every length fits)
//! and then kept as the borrowed slice it came from, so encoding writes it
//! back byte for byte, tags the balancer does not know included.

use super::DecodeError;

/// `sc_interface_version` (bind responses).
pub const SC_INTERFACE_VERSION: u16 = 0x0210;
/// `receipted_message_id` (delivery receipts in `deliver_sm` / `data_sm`).
pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
/// `message_state` (delivery receipts).
pub const MESSAGE_STATE: u16 = 0x0427;
/// `message_payload`.
pub const MESSAGE_PAYLOAD: u16 = 0x0424;

/// One optional parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// Parameter tag.
    pub tag: u16,
    /// Parameter value (its length is the TLV's length field).
    pub value: &'a [u8],
}

/// The TLV region of a PDU body: a validated, borrowed slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tlvs<'a>(&'a [u8]);

// === impl Tlvs ===

impl<'a> Tlvs<'a> {
    /// Checks that `bytes` is a whole sequence of TLVs. `base` is the
    /// offset of `bytes` within the body, for the error position.
    pub fn parse(bytes: &'a [u8], base: usize) -> Result<Tlvs<'a>, DecodeError> {
        let mut at = 0;
        while at < bytes.len() {
            let len = bytes
                .get(at + 2..at + 4)
                .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
                .ok_or(DecodeError::BadTlv { at: base + at })?;
            at += 4 + len;
            if at > bytes.len() {
                return Err(DecodeError::BadTlv {
                    at: base + at - 4 - len,
                });
            }
        }
        Ok(Tlvs(bytes))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// True when there is no TLV.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first TLV with `tag`.
    pub fn find(&self, tag: u16) -> Option<Tlv<'a>> {
        self.iter().find(|t| t.tag == tag)
    }

    /// Every TLV in order.
    pub fn iter(&self) -> TlvIter<'a> {
        TlvIter(self.0)
    }
}

/// Iterator over a validated TLV region.
#[derive(Debug, Clone)]
pub struct TlvIter<'a>(&'a [u8]);

impl<'a> Iterator for TlvIter<'a> {
    type Item = Tlv<'a>;

    fn next(&mut self) -> Option<Tlv<'a>> {
        let head = self.0.get(..4)?;
        let tag = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let value = self.0.get(4..4 + len)?;
        self.0 = self.0.get(4 + len..).unwrap_or_default();
        Some(Tlv { tag, value })
    }
}

/// Appends one TLV.
pub fn put_tlv(out: &mut Vec<u8>, tag: u16, value: &[u8]) {
    out.extend_from_slice(&tag.to_be_bytes());
    let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value.get(..usize::from(len)).unwrap_or(value));
}

/// The value of a C-octet-string TLV without its NUL terminator.
pub fn cstr_value(value: &[u8]) -> &[u8] {
    match memchr::memchr(0, value) {
        Some(n) => &value[..n],
        None => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_find_and_iterate() {
        let mut b = Vec::new();
        put_tlv(&mut b, SC_INTERFACE_VERSION, &[0x34]);
        put_tlv(&mut b, RECEIPTED_MESSAGE_ID, b"abc\0");
        put_tlv(&mut b, 0x1401, &[]);
        let t = Tlvs::parse(&b, 0).unwrap();
        assert_eq!(t.as_bytes(), &b[..]);
        assert_eq!(t.iter().count(), 3);
        let r = t.find(RECEIPTED_MESSAGE_ID).unwrap();
        assert_eq!(cstr_value(r.value), b"abc");
        assert_eq!(t.find(0x1401).unwrap().value, b"");
        assert_eq!(t.find(0x9999), None);
    }

    #[test]
    fn truncated_tlvs_are_errors() {
        assert_eq!(
            Tlvs::parse(&[0, 1, 0], 10),
            Err(DecodeError::BadTlv { at: 10 })
        );
        assert_eq!(
            Tlvs::parse(&[0, 1, 0, 0, 0, 2, 0, 5, 1], 3),
            Err(DecodeError::BadTlv { at: 7 })
        );
        assert!(Tlvs::parse(&[], 0).unwrap().is_empty());
    }
}
