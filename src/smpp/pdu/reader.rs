//! Total reading and writing of SMPP field types over byte slices.
//!
//! [`Reader`] walks a PDU body; every read checks bounds and returns a
//! [`DecodeError`] instead of panicking. C-octet strings are returned
//! without their NUL terminator, borrowed from the input. The `put_*`
//! functions are the inverse, appending to a `Vec<u8>`.

use super::DecodeError;

/// A cursor over a PDU body.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, at: 0 }
    }

    /// True when every byte has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }

    /// Offset of the next byte to read.
    pub(crate) fn position(&self) -> usize {
        self.at
    }

    /// How many bytes are left.
    pub(crate) fn rest_len(&self) -> usize {
        self.bytes.len().saturating_sub(self.at)
    }

    /// The bytes not read yet (and consumes them).
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let r = self.bytes.get(self.at..).unwrap_or_default();
        self.at = self.bytes.len();
        r
    }

    /// One octet.
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or(DecodeError::Truncated { at: self.at })?;
        self.at += 1;
        Ok(b)
    }

    /// A big-endian u32.
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.octets(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Exactly `n` octets.
    pub(crate) fn octets(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(n)
            .ok_or(DecodeError::Truncated { at: self.at })?;
        let b = self
            .bytes
            .get(self.at..end)
            .ok_or(DecodeError::Truncated { at: self.at })?;
        self.at = end;
        Ok(b)
    }

    /// A C-octet string of at most `max` octets including its NUL; the
    /// returned slice excludes the NUL.
    pub(crate) fn cstr(&mut self, max: usize) -> Result<&'a [u8], DecodeError> {
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        let window = rest.get(..max).unwrap_or(rest);
        match memchr::memchr(0, window) {
            Some(n) => {
                let s = &rest[..n];
                self.at += n + 1;
                Ok(s)
            }
            None if window.len() == max => Err(DecodeError::FieldTooLong { at: self.at, max }),
            None => Err(DecodeError::Truncated { at: self.at }),
        }
    }
}

/// Appends a C-octet string and its NUL.
pub(crate) fn put_cstr(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
    out.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cstr_bounds() {
        let mut r = Reader::new(b"abc\0de\0");
        assert_eq!(r.cstr(4), Ok(&b"abc"[..]));
        assert_eq!(r.cstr(2), Err(DecodeError::FieldTooLong { at: 4, max: 2 }));
        assert_eq!(r.cstr(3), Ok(&b"de"[..]));
        assert!(r.is_empty());
        assert_eq!(r.cstr(3), Err(DecodeError::Truncated { at: 7 }));
        assert_eq!(
            Reader::new(b"ab").cstr(9),
            Err(DecodeError::Truncated { at: 0 })
        );
    }

    #[test]
    fn numbers_and_octets() {
        let mut r = Reader::new(&[1, 0, 0, 1, 9, 8]);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u32(), Ok(0x0000_0109));
        assert_eq!(r.octets(2), Err(DecodeError::Truncated { at: 5 }));
        assert_eq!(r.octets(1), Ok(&[8][..]));
        assert_eq!(r.u8(), Err(DecodeError::Truncated { at: 6 }));
        assert_eq!(r.rest(), &[] as &[u8]);
    }
}
