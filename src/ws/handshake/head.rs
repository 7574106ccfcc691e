//! A strict, minimal HTTP/1.1 head reader for the Upgrade exchange: finds
//! the end of the head within a size limit, splits the start line, and
//! iterates the header fields (no obs-fold, CRLF line ends only).

use super::HandshakeError;

/// A complete HTTP head found at the start of a buffer.
#[derive(Clone, Copy, Debug)]
pub(super) struct Head<'a> {
    /// The start line's three parts: method, target, version for a
    /// request; version, status, reason for a response (the reason may
    /// contain spaces, or be empty; so may a request's version, which the
    /// caller rejects).
    pub(super) start: [&'a [u8]; 3],
    /// The header field lines, each ending in CRLF (possibly empty).
    fields: &'a [u8],
    /// Bytes from the start of the buffer through the blank line.
    pub(super) len: usize,
}

impl<'a> Head<'a> {
    /// The head at the start of `buf`: `None` while its end has not
    /// arrived; [`HandshakeError::TooLarge`] when `max` bytes hold no end.
    pub(super) fn find(buf: &'a [u8], max: usize) -> Result<Option<Head<'a>>, HandshakeError> {
        let window = buf.get(..max).unwrap_or(buf);
        let Some(end) = memchr::memmem::find(window, b"\r\n\r\n") else {
            return if buf.len() >= max {
                Err(HandshakeError::TooLarge)
            } else {
                Ok(None)
            };
        };
        let before_blank = window.get(..end).unwrap_or_default();
        let (line, fields) = match memchr::memmem::find(before_blank, b"\r\n") {
            Some(i) => (
                before_blank.get(..i).unwrap_or_default(),
                window.get(i + 2..end + 2).unwrap_or_default(),
            ),
            None => (before_blank, &[][..]),
        };
        let mut parts = line.splitn(3, |&b| b == b' ');
        let start = [
            parts.next().unwrap_or_default(),
            parts.next().ok_or(HandshakeError::Malformed)?,
            parts.next().unwrap_or_default(),
        ];
        Ok(Some(Head {
            start,
            fields,
            len: end + 4,
        }))
    }

    /// The header fields as (name, value) with the value's surrounding
    /// whitespace trimmed; a malformed line yields an error.
    pub(super) fn fields(
        &self,
    ) -> impl Iterator<Item = Result<(&'a [u8], &'a [u8]), HandshakeError>> + 'a {
        let fields = self.fields;
        memchr::memmem::find_iter(fields, b"\r\n")
            .scan(0usize, move |from, to| {
                let line = fields.get(*from..to).unwrap_or_default();
                *from = to + 2;
                Some(line)
            })
            .map(field)
    }

    /// The values of every field named `name` (case-insensitive).
    pub(super) fn values(&self, name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields()
            .filter_map(Result::ok)
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Checks every field line; the value of `name`, which must appear at
    /// most once (`None` when absent).
    pub(super) fn single(&self, name: &'a [u8]) -> Result<Option<&'a [u8]>, HandshakeError> {
        let mut found = None;
        for value in self.values(name) {
            if found.replace(value).is_some() {
                return Err(HandshakeError::Duplicate);
            }
        }
        Ok(found)
    }

    /// Fails on the first malformed field line.
    pub(super) fn check_fields(&self) -> Result<(), HandshakeError> {
        self.fields().try_for_each(|f| f.map(|_| ()))
    }
}

/// Splits one field line into name and trimmed value.
fn field(line: &[u8]) -> Result<(&[u8], &[u8]), HandshakeError> {
    let colon = memchr::memchr(b':', line).ok_or(HandshakeError::Malformed)?;
    let name = line.get(..colon).unwrap_or_default();
    let value = line.get(colon + 1..).unwrap_or_default();
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(HandshakeError::Malformed);
    }
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7F) {
        return Err(HandshakeError::Malformed);
    }
    Ok((name, value.trim_ascii()))
}

/// RFC 9110 token characters.
pub(super) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether a comma-separated list of tokens (across every occurrence of
/// the field) holds `token`, compared case-insensitively.
pub(super) fn list_has<'a>(values: impl Iterator<Item = &'a [u8]>, token: &[u8]) -> bool {
    values
        .flat_map(|v| v.split(|&b| b == b','))
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// Whether `version` is HTTP/1.1 or a later 1.x.
pub(super) fn is_http11(version: &[u8]) -> bool {
    match version.strip_prefix(b"HTTP/1.") {
        Some([minor]) => minor.is_ascii_digit() && *minor >= b'1',
        _ => false,
    }
}

/// Visible ASCII only (no spaces or controls), and not empty: safe to write
/// into a request line or a field value.
pub(super) fn is_visible(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|b| (0x21..=0x7E).contains(b))
}
