//! SIP over a byte stream (RFC 3261 §18.3): where one message ends.
//!
//! A message is its head up to the blank line plus `Content-Length` (or the
//! compact `l`) bytes of body. Between messages, CRLFs are keep-alives
//! (RFC 5626 §3.5.1): a double CRLF "ping" is answered with a single CRLF
//! "pong". The caller keeps the unread bytes and calls [`next`] again when
//! more arrive, so a message split over many reads resumes where it was.

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Not a whole message yet: read more.
    Partial,
    /// A whole message of this many bytes.
    Message(usize),
    /// A CRLFCRLF keep-alive ping of 4 bytes: answer `\r\n`.
    Ping,
    /// A lone CRLF (a pong, or padding) of 2 bytes: skip it.
    Pong,
    /// The head or the declared message exceeds `max`, or the head is
    /// unreadable: the stream cannot be resynchronised.
    TooBig,
    /// A head without a usable Content-Length value.
    BadLength,
}

/// Frame the front of `buf`, allowing messages up to `max` bytes.
pub fn next(buf: &[u8], max: usize) -> Frame {
    if buf.starts_with(b"\r\n\r\n") {
        return Frame::Ping;
    }
    if buf.starts_with(b"\r\n") {
        return if buf.len() >= 4 || !b"\r\n\r\n".starts_with(buf) {
            Frame::Pong
        } else {
            Frame::Partial
        };
    }
    // One pass over the head's lines: it ends at the first blank line (CRLF
    // or, as the parser also accepts, bare LF), and Content-Length is read
    // on the way. Only the head is scanned, never the messages behind it.
    let incomplete = || {
        if buf.len() > max {
            Frame::TooBig
        } else {
            Frame::Partial
        }
    };
    let Some(first) = memchr::memchr(b'\n', buf) else {
        return incomplete();
    };
    let mut at = first + 1;
    let mut length: Option<usize> = None;
    let head_len = loop {
        let rest = buf.get(at..).unwrap_or(&[]);
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            return incomplete();
        };
        let line = rest.get(..nl).unwrap_or(&[]);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        at += nl + 1;
        if line.is_empty() {
            break at;
        }
        match content_length(line) {
            Ok(None) => {}
            Ok(Some(n)) if length.is_none_or(|l| l == n) => length = Some(n),
            Ok(Some(_)) | Err(()) => return Frame::BadLength,
        }
    };
    // Absent: 0 (RFC 3261 requires it on streams, and a message without one
    // has no body we could find).
    let total = head_len.saturating_add(length.unwrap_or(0));
    if total > max {
        Frame::TooBig
    } else if buf.len() < total {
        Frame::Partial
    } else {
        Frame::Message(total)
    }
}

/// The value of a `Content-Length` (or compact `l`) header line, `None` for
/// any other header.
fn content_length(line: &[u8]) -> Result<Option<usize>, ()> {
    let Some(colon) = memchr::memchr(b':', line) else {
        return Ok(None);
    };
    let (name, value) = line.split_at(colon);
    let name = name.trim_ascii();
    if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
        return Ok(None);
    }
    let v = value.get(1..).unwrap_or(&[]).trim_ascii();
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
        return Err(());
    }
    Ok(Some(
        v.iter()
            .fold(0usize, |a, &d| a * 10 + usize::from(d - b'0')),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\nl: 5\r\n\r\nhello";

    #[test]
    fn whole_partial_and_back_to_back_messages() {
        assert_eq!(next(MSG, 4096), Frame::Message(MSG.len()));
        for cut in 1..MSG.len() {
            assert_eq!(next(&MSG[..cut], 4096), Frame::Partial, "cut at {cut}");
        }
        let mut two = MSG.to_vec();
        two.extend_from_slice(MSG);
        assert_eq!(next(&two, 4096), Frame::Message(MSG.len()));
    }

    #[test]
    fn keep_alives() {
        assert_eq!(next(b"\r\n\r\n", 100), Frame::Ping);
        assert_eq!(next(b"\r\n", 100), Frame::Partial);
        assert_eq!(next(b"\r\nINVITE", 100), Frame::Pong);
        assert_eq!(next(b"\r\n\r\nINVITE", 100), Frame::Ping);
    }

    #[test]
    fn limits_and_bad_lengths() {
        assert_eq!(next(MSG, 20), Frame::TooBig);
        assert_eq!(next(&[b'a'; 200], 100), Frame::TooBig);
        let big = b"INVITE sip:a SIP/2.0\r\nContent-Length: 999999\r\n\r\n";
        assert_eq!(next(big, 65536), Frame::TooBig);
        let bad = b"INVITE sip:a SIP/2.0\r\nContent-Length: x\r\n\r\n";
        assert_eq!(next(bad, 65536), Frame::BadLength);
        let two = b"INVITE sip:a SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab";
        assert_eq!(next(two, 65536), Frame::BadLength);
        let none = b"OPTIONS sip:a SIP/2.0\r\n\r\n";
        assert_eq!(next(none, 65536), Frame::Message(none.len()));
        // A bare-LF head ends where the parser says it does.
        let lf = b"OPTIONS sip:a SIP/2.0\nl: 2\n\nabOPTIONS";
        assert_eq!(next(lf, 65536), Frame::Message(lf.len() - 7));
        // The first blank line ends the head, whichever style comes after.
        let mut mixed = MSG.to_vec();
        mixed.extend_from_slice(lf);
        assert_eq!(next(&mixed, 65536), Frame::Message(MSG.len()));
        let mut mixed = lf[..lf.len() - 7].to_vec();
        mixed.extend_from_slice(MSG);
        assert_eq!(next(&mixed, 65536), Frame::Message(lf.len() - 7));
    }
}
