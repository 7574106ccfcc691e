//! Zero-copy SIP message head index (RFC 3261 §7).
//!
//! [`Message::parse`] frames one complete message held in a buffer (a UDP
//! datagram): it splits the start line, records the span of every header line
//! and its value in a fixed-size array (no heap allocation), classifies the
//! headers the balancer needs by name (long and compact forms, any case) and
//! locates the body. Typed views (`Via`, URIs, parameters) live in
//! [`super::headers`] and are parsed lazily, only when routing needs them.
//!
//! Parsing is total: malformed input yields [`ParseError`], never a panic.
//! This module does not rewrite messages; see the `rewrite` module.

use memchr::memchr;

/// Most header lines indexed in one message; more is a [`ParseErrorKind::TooManyHeaders`].
pub const MAX_HEADERS: usize = 64;

/// Largest message accepted: the UDP payload limit, and what keeps every
/// offset inside a `u32` span.
const MAX_LEN: usize = 65535;

/// Filler for the unused tail of the header array.
const EMPTY_HEADER: Header = Header {
    name: HeaderName::Other,
    line: Span { start: 0, end: 0 },
    value: Span { start: 0, end: 0 },
};

/// Byte range `start..end` into the message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

/// SIP request methods the balancer distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// REGISTER
    Register,
    /// OPTIONS
    Options,
    /// INFO
    Info,
    /// SUBSCRIBE
    Subscribe,
    /// NOTIFY
    Notify,
    /// MESSAGE
    Message,
    /// REFER
    Refer,
    /// PUBLISH
    Publish,
    /// UPDATE
    Update,
    /// PRACK
    Prack,
    /// Any other token.
    Other,
}

/// The first line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine {
    /// `METHOD Request-URI SIP/2.0`
    Request {
        /// Classified method.
        method: Method,
        /// Method token as sent.
        method_span: Span,
        /// Request-URI as sent.
        uri: Span,
    },
    /// `SIP/2.0 code reason`
    Response {
        /// Status code, 100..=699.
        code: u16,
    },
}

/// Header names the balancer reads or rewrites; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderName {
    /// `Via` / `v`
    Via,
    /// `Route`
    Route,
    /// `Record-Route`
    RecordRoute,
    /// `Call-ID` / `i`
    CallId,
    /// `CSeq`
    CSeq,
    /// `Max-Forwards`
    MaxForwards,
    /// `Content-Length` / `l`
    ContentLength,
    /// `From` / `f`
    From,
    /// `To` / `t`
    To,
    /// `Contact` / `m`
    Contact,
    /// `User-Agent`
    UserAgent,
    /// `Proxy-Require`
    ProxyRequire,
    /// `Mobicents-Heartbeat`
    MobicentsHeartbeat,
    /// `X-Sip-Balancer-InitialRemoteAddr`
    XInitialRemoteAddr,
    /// `X-Sip-Balancer-InitialRemotePort`
    XInitialRemotePort,
    /// Anything else.
    Other,
}

/// One header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Classified name.
    pub name: HeaderName,
    /// The whole line including folded continuation lines and the final CRLF
    /// (or LF), so that removing `line` removes the header cleanly.
    pub line: Span,
    /// The value with surrounding whitespace trimmed (may contain folded CRLFs).
    pub value: Span,
}

/// Why a buffer is not a SIP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// No CRLFCRLF (or LFLF) ending the head.
    Incomplete,
    /// The start line is neither a request nor a status line, or the
    /// Request-URI is not an absolute URI (`<sip:…>`, RFC 4475 `ltgtruri`) or
    /// is a SIP URI carrying headers (RFC 3261 §19.1.1, RFC 4475 `escruri`).
    BadStartLine,
    /// Version other than `SIP/2.0`.
    BadVersion,
    /// Status code not three digits in 100..=699.
    BadStatusCode,
    /// A header line without a colon or with an invalid name.
    BadHeader,
    /// More than [`MAX_HEADERS`] header lines.
    TooManyHeaders,
    /// Content-Length not a number, or larger than the bytes that follow the head.
    BadContentLength,
    /// A required header (Via, Call-ID, CSeq, From, To) is missing.
    MissingHeader,
    /// A header that must appear once (Call-ID, CSeq, From, To,
    /// Max-Forwards) appears more than once (RFC 4475 `multi01`).
    DuplicateHeader,
    /// CSeq is not `number method` with a 32-bit number, or its method is not
    /// the request's (RFC 3261 §8.1.1.5; RFC 4475 `scalar02`, `mismatch01`).
    BadCSeq,
    /// From or To is not a name-addr / addr-spec: an unterminated quoted
    /// display name, an unquoted one with a comma, or `<` without `>`
    /// (RFC 4475 `quotbal`, `baddn`).
    BadAddress,
    /// Buffer larger than 65535 bytes.
    TooLarge,
}

/// A parse failure and where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// Byte offset of the problem.
    pub offset: u32,
}

/// An indexed SIP message borrowing its buffer.
#[derive(Clone, Debug)]
pub struct Message<'a> {
    buf: &'a [u8],
    start: StartLine,
    start_line: Span,
    headers: [Header; MAX_HEADERS],
    count: usize,
    body: Span,
}

// === impl Span ===

impl Span {
    /// Span from `usize` offsets (saturating; callers stay below [`MAX_LEN`]).
    pub(crate) fn new(start: usize, end: usize) -> Span {
        Span {
            start: to_u32(start),
            end: to_u32(end),
        }
    }

    /// The span as a `usize` range, for slicing with `get`.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Number of bytes covered (0 if inverted).
    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    /// Whether the span covers no byte.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

// === impl Message ===

impl<'a> Message<'a> {
    /// Index one complete message (a whole UDP datagram).
    ///
    /// Accepts leading CRLFs (keep-alives before the start line are skipped),
    /// LF-only line endings, folded header lines (RFC 3261 §7.3.1) and compact
    /// header names. Requires Via, Call-ID, CSeq, From and To. The body is what
    /// follows the blank line, cut to Content-Length when that is smaller;
    /// a Content-Length larger than what follows is `BadContentLength`. No
    /// Content-Length on a datagram means the body is the rest of the buffer.
    /// Octets after the body are not part of the message (RFC 3261 §18.3,
    /// RFC 4475 `dblreq`): [`Message::buf`] ends where the body ends.
    ///
    /// Beyond framing, the values the balancer routes on must be usable:
    /// Call-ID, CSeq, From, To and Max-Forwards appear once, CSeq is a 32-bit
    /// number and (in a request) the request's method, From and To are
    /// well-formed addresses, and the Request-URI is an absolute URI.
    pub fn parse(buf: &'a [u8]) -> Result<Message<'a>, ParseError> {
        if buf.len() > MAX_LEN {
            return Err(err(ParseErrorKind::TooLarge, MAX_LEN));
        }
        let first = skip_leading_newlines(buf);
        let (start_line, start) = parse_start_line(buf, first)?;
        let mut msg = Message {
            buf,
            start,
            start_line,
            headers: [EMPTY_HEADER; MAX_HEADERS],
            count: 0,
            body: Span::default(),
        };
        let body_start = msg.index_headers(start_line.end as usize)?;
        msg.check_required(body_start)?;
        msg.body = msg.locate_body(body_start)?;
        msg.check_values()?;
        msg.buf = buf.get(..msg.body.end as usize).unwrap_or(buf);
        Ok(msg)
    }

    /// The bytes of this message: from the start of the datagram (leading
    /// CRLF keep-alives included) to the end of the body; trailing octets of
    /// the datagram are not part of it.
    pub fn buf(&self) -> &'a [u8] {
        self.buf
    }

    /// Parsed start line.
    pub fn start(&self) -> StartLine {
        self.start
    }

    /// Span of the start line including its CRLF.
    pub fn start_line(&self) -> Span {
        self.start_line
    }

    /// The method, for requests.
    pub fn method(&self) -> Option<Method> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// Every header line in order.
    pub fn headers(&self) -> &[Header] {
        self.headers.get(..self.count).unwrap_or(&[])
    }

    /// The first header with this name.
    pub fn header(&self, name: HeaderName) -> Option<&Header> {
        self.headers().iter().find(|h| h.name == name)
    }

    /// Bytes of a span (empty if the span is out of range).
    pub fn slice(&self, span: Span) -> &'a [u8] {
        self.buf
            .get(span.start as usize..span.end as usize)
            .unwrap_or(&[])
    }

    /// Value of the first header with this name.
    pub fn value(&self, name: HeaderName) -> Option<&'a [u8]> {
        self.header(name).map(|h| self.slice(h.value))
    }

    /// The Call-ID value.
    pub fn call_id(&self) -> &'a [u8] {
        self.value(HeaderName::CallId).unwrap_or(&[])
    }

    /// Body span (may be empty). `body.end` is where the message ends.
    pub fn body(&self) -> Span {
        self.body
    }

    /// Offset where the blank line ending the head starts (end of the last header line).
    pub fn head_end(&self) -> u32 {
        self.headers()
            .last()
            .map_or(self.start_line.end, |h| h.line.end)
    }

    /// Every header with this name, in order (e.g. all Via or Route lines).
    pub fn headers_named(&self, name: HeaderName) -> impl Iterator<Item = &Header> + '_ {
        self.headers().iter().filter(move |h| h.name == name)
    }

    /// The Request-URI span, for requests.
    pub fn request_uri(&self) -> Option<Span> {
        match self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code, for responses.
    pub fn status_code(&self) -> Option<u16> {
        match self.start {
            StartLine::Request { .. } => None,
            StartLine::Response { code } => Some(code),
        }
    }

    /// Index header lines from `pos` up to the blank line; returns the offset
    /// just past the blank line (where the body starts).
    fn index_headers(&mut self, mut pos: usize) -> Result<usize, ParseError> {
        loop {
            let (end, next) = next_line(self.buf, pos)?;
            if end == pos {
                return Ok(next);
            }
            let (content_end, line_end) = unfold(self.buf, end, next)?;
            let header = parse_header(self.buf, pos, content_end, line_end)?;
            let slot = self
                .headers
                .get_mut(self.count)
                .ok_or(err(ParseErrorKind::TooManyHeaders, pos))?;
            *slot = header;
            self.count += 1;
            pos = line_end;
        }
    }

    /// Fail with `MissingHeader` unless Via, Call-ID, CSeq, From and To are present.
    fn check_required(&self, offset: usize) -> Result<(), ParseError> {
        const REQUIRED: [HeaderName; 5] = [
            HeaderName::Via,
            HeaderName::CallId,
            HeaderName::CSeq,
            HeaderName::From,
            HeaderName::To,
        ];
        match REQUIRED.iter().all(|&name| self.header(name).is_some()) {
            true => Ok(()),
            false => Err(err(ParseErrorKind::MissingHeader, offset)),
        }
    }

    /// Fail unless the single-valued headers appear once and CSeq, From and
    /// To are usable (see [`Message::parse`]).
    fn check_values(&self) -> Result<(), ParseError> {
        const SINGLE: [HeaderName; 5] = [
            HeaderName::CallId,
            HeaderName::CSeq,
            HeaderName::From,
            HeaderName::To,
            HeaderName::MaxForwards,
        ];
        let mut seen = [false; SINGLE.len()];
        for h in self.headers() {
            let slot = SINGLE
                .iter()
                .position(|&n| n == h.name)
                .and_then(|i| seen.get_mut(i));
            if let Some(seen) = slot {
                if std::mem::replace(seen, true) {
                    return Err(err(ParseErrorKind::DuplicateHeader, h.line.start as usize));
                }
            }
        }
        for h in self.headers() {
            let at = h.value.start as usize;
            match h.name {
                HeaderName::CSeq if !self.cseq_ok(self.slice(h.value)) => {
                    return Err(err(ParseErrorKind::BadCSeq, at));
                }
                HeaderName::From | HeaderName::To if !address_ok(self.slice(h.value)) => {
                    return Err(err(ParseErrorKind::BadAddress, at));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// CSeq `number method`; in a request the method is the request's own.
    fn cseq_ok(&self, value: &[u8]) -> bool {
        let Some((_, method)) = super::headers::cseq(value) else {
            return false;
        };
        match self.start {
            StartLine::Request { method_span, .. } => self.slice(method_span) == method,
            StartLine::Response { .. } => true,
        }
    }

    /// Body span: Content-Length bytes after the blank line, or the rest.
    fn locate_body(&self, body_start: usize) -> Result<Span, ParseError> {
        let rest = self.buf.len().saturating_sub(body_start);
        let len = match self.content_length()? {
            None => rest,
            Some((len, _)) if len <= rest => len,
            Some((_, at)) => return Err(err(ParseErrorKind::BadContentLength, at)),
        };
        Ok(Span::new(body_start, body_start.saturating_add(len)))
    }

    /// The Content-Length value and its offset; every Content-Length header
    /// must be a decimal number and all must agree (RFC 4475 `mcl01`).
    fn content_length(&self) -> Result<Option<(usize, usize)>, ParseError> {
        let mut found: Option<(usize, usize)> = None;
        for h in self.headers_named(HeaderName::ContentLength) {
            let at = h.value.start as usize;
            let bad = err(ParseErrorKind::BadContentLength, at);
            let len = parse_decimal(self.slice(h.value)).ok_or(bad)?;
            match found {
                Some((prev, _)) if prev != len => return Err(bad),
                _ => found = Some((len, at)),
            }
        }
        Ok(found)
    }
}

// === private helpers ===

fn err(kind: ParseErrorKind, offset: usize) -> ParseError {
    ParseError {
        kind,
        offset: to_u32(offset),
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Offset of the first byte that is not CR or LF (keep-alives before the start line).
fn skip_leading_newlines(buf: &[u8]) -> usize {
    buf.iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len())
}

/// The line starting at `pos`: (end of its content, start of the next line).
/// The content excludes the LF and a CR just before it.
fn next_line(buf: &[u8], pos: usize) -> Result<(usize, usize), ParseError> {
    let incomplete = err(ParseErrorKind::Incomplete, buf.len());
    let rest = buf.get(pos..).ok_or(incomplete)?;
    let nl = pos + memchr(b'\n', rest).ok_or(incomplete)?;
    let end = match nl.checked_sub(1).and_then(|i| buf.get(i)) {
        Some(b'\r') if nl > pos => nl - 1,
        _ => nl,
    };
    Ok((end, nl + 1))
}

/// Extend a header line over its continuation lines (those starting with SP
/// or HT): returns (end of the last content, start of the next header line).
fn unfold(buf: &[u8], mut end: usize, mut next: usize) -> Result<(usize, usize), ParseError> {
    while matches!(buf.get(next), Some(b' ' | b'\t')) {
        (end, next) = next_line(buf, next)?;
    }
    Ok((end, next))
}

/// One (unfolded) header line `start..content_end`, terminated at `line_end`.
fn parse_header(
    buf: &[u8],
    start: usize,
    content_end: usize,
    line_end: usize,
) -> Result<Header, ParseError> {
    let bad = err(ParseErrorKind::BadHeader, start);
    let content = buf.get(start..content_end).ok_or(bad)?;
    let name_len = content.iter().take_while(|&&b| is_token(b)).count();
    let after_name = content.get(name_len..).ok_or(bad)?;
    let ws = after_name
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    if name_len == 0 || after_name.get(ws) != Some(&b':') {
        return Err(bad);
    }
    let value_start = start + name_len + ws + 1;
    let value = buf.get(value_start..content_end).ok_or(bad)?;
    let lead = value.iter().take_while(|&&b| is_lws(b)).count();
    let trail = value.iter().rev().take_while(|&&b| is_lws(b)).count();
    let value_end = content_end.saturating_sub(trail).max(value_start + lead);
    Ok(Header {
        name: classify(content.get(..name_len).unwrap_or(&[])),
        line: Span::new(start, line_end),
        value: Span::new(value_start + lead, value_end),
    })
}

/// Header name (any case, long or compact form) to [`HeaderName`].
fn classify(name: &[u8]) -> HeaderName {
    const NAMES: [(&[u8], HeaderName); 21] = [
        (b"Via", HeaderName::Via),
        (b"v", HeaderName::Via),
        (b"Call-ID", HeaderName::CallId),
        (b"i", HeaderName::CallId),
        (b"CSeq", HeaderName::CSeq),
        (b"From", HeaderName::From),
        (b"f", HeaderName::From),
        (b"To", HeaderName::To),
        (b"t", HeaderName::To),
        (b"Route", HeaderName::Route),
        (b"Record-Route", HeaderName::RecordRoute),
        (b"Max-Forwards", HeaderName::MaxForwards),
        (b"Content-Length", HeaderName::ContentLength),
        (b"l", HeaderName::ContentLength),
        (b"Contact", HeaderName::Contact),
        (b"m", HeaderName::Contact),
        (b"User-Agent", HeaderName::UserAgent),
        (b"Proxy-Require", HeaderName::ProxyRequire),
        (b"Mobicents-Heartbeat", HeaderName::MobicentsHeartbeat),
        (
            b"X-Sip-Balancer-InitialRemoteAddr",
            HeaderName::XInitialRemoteAddr,
        ),
        (
            b"X-Sip-Balancer-InitialRemotePort",
            HeaderName::XInitialRemotePort,
        ),
    ];
    NAMES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or(HeaderName::Other, |&(_, h)| h)
}

/// Parse the start line at `pos`: its span (with line ending) and meaning.
fn parse_start_line(buf: &[u8], pos: usize) -> Result<(Span, StartLine), ParseError> {
    let (end, next) = next_line(buf, pos)?;
    let line = buf.get(pos..end).unwrap_or(&[]);
    let start = match line.get(..4) {
        Some(p) if p.eq_ignore_ascii_case(b"SIP/") => parse_status_line(line, pos)?,
        _ => parse_request_line(line, pos)?,
    };
    Ok((Span::new(pos, next), start))
}

/// `SIP/2.0 SP 3DIGIT [SP reason]`; `line` starts at buffer offset `pos`.
fn parse_status_line(line: &[u8], pos: usize) -> Result<StartLine, ParseError> {
    let (version, rest) = split_sp(line);
    if !version.eq_ignore_ascii_case(b"SIP/2.0") {
        return Err(err(ParseErrorKind::BadVersion, pos));
    }
    let code_at = pos + version.len() + 1;
    let bad_code = err(ParseErrorKind::BadStatusCode, code_at);
    let (code, _reason) = split_sp(rest.ok_or(bad_code)?);
    let code = match code {
        [a, b, c] if code.iter().all(u8::is_ascii_digit) => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(bad_code),
    };
    match code {
        100..=699 => Ok(StartLine::Response { code }),
        _ => Err(bad_code),
    }
}

/// `METHOD SP Request-URI SP SIP/2.0`, single spaces, nothing trailing.
fn parse_request_line(line: &[u8], pos: usize) -> Result<StartLine, ParseError> {
    let bad = err(ParseErrorKind::BadStartLine, pos);
    let (method, rest) = split_sp(line);
    let (uri, version) = split_sp(rest.ok_or(bad)?);
    let version = version.ok_or(bad)?;
    if method.is_empty() || !method.iter().all(|&b| is_token(b)) || uri.is_empty() {
        return Err(bad);
    }
    if version.contains(&b' ') {
        return Err(bad);
    }
    if !version.eq_ignore_ascii_case(b"SIP/2.0") {
        let at = pos + method.len() + uri.len() + 2;
        return Err(err(ParseErrorKind::BadVersion, at));
    }
    if !request_uri_ok(uri) {
        return Err(bad);
    }
    let uri_start = pos + method.len() + 1;
    Ok(StartLine::Request {
        method: Method::from_token(method),
        method_span: Span::new(pos, pos + method.len()),
        uri: Span::new(uri_start, uri_start + uri.len()),
    })
}

/// A Request-URI: `scheme ":" something` without control characters
/// (RFC 3261 `absoluteURI`; a `<…>`-wrapped URI is not one), and for SIP and
/// SIPS no `?headers`, which a Request-URI must not carry (§19.1.1). The
/// user part may hold `?` (RFC 4475 `intmeth`), so headers are looked for
/// after the last `@`.
fn request_uri_ok(uri: &[u8]) -> bool {
    let Some(colon) = memchr(b':', uri) else {
        return false;
    };
    let scheme = uri.get(..colon).unwrap_or(&[]);
    let rest = uri.get(colon + 1..).unwrap_or(&[]);
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok || rest.is_empty() || uri.iter().any(|&b| b < 0x21 || b == 0x7f) {
        return false;
    }
    if !scheme.eq_ignore_ascii_case(b"sip") && !scheme.eq_ignore_ascii_case(b"sips") {
        return true;
    }
    let host_part =
        memchr::memrchr(b'@', rest).map_or(rest, |at| rest.get(at + 1..).unwrap_or(&[]));
    memchr(b'?', host_part).is_none()
}

/// A From / To value: a quoted display name must be closed and followed by
/// `<`; an unquoted display name before `<` must not contain a comma (it
/// would read as a list, RFC 4475 `baddn`); a `<` needs its `>`. Anything
/// without `<` or a leading quote is an addr-spec and is not looked into.
fn address_ok(value: &[u8]) -> bool {
    let lead = value.iter().take_while(|&&b| is_lws(b)).count();
    let value = value.get(lead..).unwrap_or(&[]);
    let open = if value.first() == Some(&b'"') {
        let Some(close) = quoted_end(value) else {
            return false;
        };
        let after = value.get(close..).unwrap_or(&[]);
        let gap = after.iter().take_while(|&&b| is_lws(b)).count();
        if after.get(gap) != Some(&b'<') {
            return false;
        }
        close + gap
    } else {
        match value.iter().position(|&b| b == b'<' || b == b'"') {
            Some(i) if value.get(i) == Some(&b'<') => {
                if value.get(..i).is_some_and(|name| name.contains(&b',')) {
                    return false;
                }
                i
            }
            _ => return true,
        }
    };
    value
        .get(open..)
        .is_some_and(|rest| memchr(b'>', rest).is_some())
}

/// Offset just past the closing quote of the quoted string `s` starts with
/// (backslash escapes any byte, RFC 3261 `quoted-pair`).
fn quoted_end(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    while let Some(&b) = s.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Split at the first SP: (before, Some(after)) or (all, None).
fn split_sp(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr(b' ', s) {
        Some(i) => (s.get(..i).unwrap_or(&[]), s.get(i + 1..)),
        None => (s, None),
    }
}

/// Strict decimal: at least one digit, nothing else; `None` on overflow.
fn parse_decimal(s: &[u8]) -> Option<usize> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0usize, |n, &b| {
        let d = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(usize::from(d))
    })
}

/// RFC 3261 `token` characters.
pub(crate) fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// Linear whitespace inside a (possibly folded) header value.
pub(crate) fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

// === impl Method ===

impl Method {
    /// Classify a method token (case-sensitive, as RFC 3261 §7.1 requires).
    pub fn from_token(token: &[u8]) -> Method {
        match token {
            b"INVITE" => Method::Invite,
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"REGISTER" => Method::Register,
            b"OPTIONS" => Method::Options,
            b"INFO" => Method::Info,
            b"SUBSCRIBE" => Method::Subscribe,
            b"NOTIFY" => Method::Notify,
            b"MESSAGE" => Method::Message,
            b"REFER" => Method::Refer,
            b"PUBLISH" => Method::Publish,
            b"UPDATE" => Method::Update,
            b"PRACK" => Method::Prack,
            _ => Method::Other,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
