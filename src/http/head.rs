//! Request and response heads: parsed by `httparse`, kept as an index of
//! spans into the head's bytes.
//!
//! A [`Head`] records where the method, target, status line and each field
//! are, what kind each field is (only the fields the balancer acts on are
//! told apart; any other passes through untouched), and the facts drawn
//! from them once: body framing (RFC 9112 §6), the `Connection` options,
//! `Upgrade: websocket`, `Sec-WebSocket-Protocol: sip`, `Expect:
//! 100-continue`, `Host`. It owns no bytes: the spans are offsets into the
//! buffer it was parsed from (or a copy of it), so keeping a head costs a
//! reused `Vec` of fields and no allocation per message.
//!
//! Framing is checked as strictly as request smuggling demands: both
//! `Transfer-Encoding` and `Content-Length`, a request coding that does not
//! end in `chunked`, `Transfer-Encoding` in HTTP/1.0, or differing lengths
//! are errors.

use memchr::memchr;

/// Most fields in one head (`431` / `502` beyond).
pub const MAX_HEADERS: usize = 100;

/// `Connection` options beyond `close`/`keep-alive`/`upgrade` remembered
/// (the fields they name are removed when forwarding).
const MAX_LISTED: usize = 8;

/// A byte range of a head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

/// Fields the balancer treats specially; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Passed through.
    Other,
    /// `Content-Length`.
    ContentLength,
    /// `Transfer-Encoding`.
    TransferEncoding,
    /// `Connection` (hop-by-hop).
    Connection,
    /// `Keep-Alive` (hop-by-hop).
    KeepAlive,
    /// `Proxy-Connection` (hop-by-hop, non-standard).
    ProxyConnection,
    /// `TE` (hop-by-hop).
    Te,
    /// `Upgrade` (hop-by-hop unless upgrading).
    Upgrade,
    /// `Host`.
    Host,
    /// `Cookie`.
    Cookie,
    /// `Expect`.
    Expect,
    /// `Sec-WebSocket-Protocol`.
    SecWebSocketProtocol,
    /// `X-Forwarded-For`.
    XForwardedFor,
    /// `X-Forwarded-Proto`.
    XForwardedProto,
    /// `Forwarded`.
    Forwarded,
}

const KINDS: [(&[u8], Kind); 14] = [
    (b"content-length", Kind::ContentLength),
    (b"transfer-encoding", Kind::TransferEncoding),
    (b"connection", Kind::Connection),
    (b"keep-alive", Kind::KeepAlive),
    (b"proxy-connection", Kind::ProxyConnection),
    (b"te", Kind::Te),
    (b"upgrade", Kind::Upgrade),
    (b"host", Kind::Host),
    (b"cookie", Kind::Cookie),
    (b"expect", Kind::Expect),
    (b"sec-websocket-protocol", Kind::SecWebSocketProtocol),
    (b"x-forwarded-for", Kind::XForwardedFor),
    (b"x-forwarded-proto", Kind::XForwardedProto),
    (b"forwarded", Kind::Forwarded),
];

/// One field line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Field name.
    pub name: Span,
    /// Field value, without surrounding whitespace.
    pub value: Span,
    /// What the balancer makes of it.
    pub kind: Kind,
}

/// How the body of a message is delimited, as its head declares it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    #[default]
    None,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding` ending in `chunked`.
    Chunked,
    /// Until the sender closes (responses only).
    UntilClose,
}

/// Why a head is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeadError {
    /// Not HTTP/1.x syntax.
    Malformed,
    /// More than [`MAX_HEADERS`] fields.
    TooManyHeaders,
    /// `Content-Length` not a number, or several different ones.
    BadContentLength,
    /// A request `Transfer-Encoding` not ending in `chunked`, or one in HTTP/1.0.
    BadTransferEncoding,
    /// Both `Transfer-Encoding` and `Content-Length`.
    LengthAndChunked,
    /// A request with more than one `Host`, or HTTP/1.1 without one.
    BadHost,
}

/// The index of one parsed head.
#[derive(Debug, Clone, Default)]
pub struct Head {
    /// Bytes of the head, final empty line included.
    pub len: usize,
    /// `HTTP/1.<minor>`.
    pub minor: u8,
    /// Request method.
    pub method: Span,
    /// Request-target.
    pub target: Span,
    /// Response status code.
    pub code: u16,
    /// Response status line, without its line end.
    pub status_line: Span,
    /// Every field line, in order.
    pub fields: Vec<Field>,
    /// Body framing as declared.
    pub framing: Framing,
    /// `Connection: close`.
    pub close: bool,
    /// `Connection: keep-alive`.
    pub keep_alive: bool,
    /// `Connection: upgrade`.
    pub conn_upgrade: bool,
    listed: [Span; MAX_LISTED],
    listed_len: u8,
    /// `Upgrade` names `websocket`.
    pub upgrade_websocket: bool,
    /// `Sec-WebSocket-Protocol` offers `sip`.
    pub ws_sip: bool,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// The `Host` value.
    pub host: Option<Span>,
}

/// What the fields say about framing, gathered while indexing.
#[derive(Debug, Default)]
struct Lengths {
    te: bool,
    chunked_last: bool,
    length: Option<u64>,
    bad_length: bool,
    hosts: u8,
}

// === impl Span ===

impl Span {
    /// The bytes of the span in `buf` (empty if out of range).
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start as usize..self.end as usize)
            .unwrap_or_default()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where `part` (a sub-slice of `buf`) lies in `buf`.
    fn of(buf: &[u8], part: &[u8]) -> Span {
        let start = (part.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
        match start.checked_add(part.len()) {
            Some(end) if end <= buf.len() => Span {
                start: start as u32,
                end: end as u32,
            },
            _ => Span::default(),
        }
    }
}

// === impl Head ===

impl Head {
    /// Parses a request head at the start of `buf`: `Ok(true)` when
    /// complete (then `self` indexes it), `Ok(false)` when more bytes are
    /// needed.
    pub fn parse_request(&mut self, buf: &[u8]) -> Result<bool, HeadError> {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut fields);
        let len = match req.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(false),
            Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
            Err(_) => return Err(HeadError::Malformed),
        };
        self.reset(len, req.version.unwrap_or(1));
        self.method = Span::of(buf, req.method.unwrap_or_default().as_bytes());
        self.target = Span::of(buf, req.path.unwrap_or_default().as_bytes());
        let l = self.index(buf, req.headers);
        self.framing = self.request_framing(&l)?;
        Ok(true)
    }

    /// Parses a response head at the start of `buf` (as
    /// [`Head::parse_request`]). A response without length or chunking
    /// gets [`Framing::UntilClose`]; statuses without a body are the
    /// caller's to know.
    pub fn parse_response(&mut self, buf: &[u8]) -> Result<bool, HeadError> {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut resp = httparse::Response::new(&mut fields);
        let len = match resp.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(false),
            Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
            Err(_) => return Err(HeadError::Malformed),
        };
        self.reset(len, resp.version.unwrap_or(1));
        self.code = resp.code.unwrap_or(0);
        self.status_line = status_line(buf);
        let l = self.index(buf, resp.headers);
        self.framing = match () {
            _ if l.te && l.chunked_last => Framing::Chunked,
            _ if l.te => Framing::UntilClose,
            _ if l.bad_length => return Err(HeadError::BadContentLength),
            _ => l.length.map_or(Framing::UntilClose, Framing::Length),
        };
        Ok(true)
    }

    /// Whether `name` is one of the options of `Connection` (a field the
    /// sender wants removed at the next hop).
    pub fn is_listed(&self, buf: &[u8], name: &[u8]) -> bool {
        self.listed
            .iter()
            .take(self.listed_len as usize)
            .any(|s| s.get(buf).eq_ignore_ascii_case(name))
    }

    /// The persistence the sender asks for: HTTP/1.1 unless `close`,
    /// HTTP/1.0 only with `keep-alive`.
    pub fn wants_keep_alive(&self) -> bool {
        if self.minor == 0 {
            self.keep_alive && !self.close
        } else {
            !self.close
        }
    }

    fn reset(&mut self, len: usize, minor: u8) {
        let mut fields = std::mem::take(&mut self.fields);
        fields.clear();
        *self = Head {
            len,
            minor,
            fields,
            ..Head::default()
        };
    }

    fn index(&mut self, buf: &[u8], parsed: &[httparse::Header<'_>]) -> Lengths {
        let mut l = Lengths::default();
        for h in parsed {
            let name = Span::of(buf, h.name.as_bytes());
            let value = Span::of(buf, h.value);
            let kind = classify(h.name.as_bytes());
            self.fields.push(Field { name, value, kind });
            self.note(buf, kind, value, &mut l);
        }
        l
    }

    fn note(&mut self, buf: &[u8], kind: Kind, value: Span, l: &mut Lengths) {
        let v = value.get(buf);
        match kind {
            Kind::Connection => self.connection_options(buf, value),
            Kind::Upgrade => self.upgrade_websocket |= has_token(v, b"websocket"),
            Kind::SecWebSocketProtocol => self.ws_sip |= has_token(v, b"sip"),
            Kind::Expect => self.expect_continue |= v.eq_ignore_ascii_case(b"100-continue"),
            Kind::Host => {
                l.hosts = l.hosts.saturating_add(1);
                self.host.get_or_insert(value);
            }
            Kind::TransferEncoding => {
                l.te = true;
                for t in tokens(v) {
                    l.chunked_last = t.eq_ignore_ascii_case(b"chunked");
                }
            }
            Kind::ContentLength => {
                for t in tokens(v) {
                    match parse_length(t) {
                        Some(n) if l.length.is_none_or(|m| m == n) => l.length = Some(n),
                        _ => l.bad_length = true,
                    }
                }
            }
            _ => {}
        }
    }

    fn connection_options(&mut self, buf: &[u8], value: Span) {
        let v = value.get(buf);
        for t in tokens(v) {
            if t.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if t.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            } else if t.eq_ignore_ascii_case(b"upgrade") {
                self.conn_upgrade = true;
            } else if let Some(slot) = self.listed.get_mut(self.listed_len as usize) {
                *slot = Span::of(buf, t);
                self.listed_len += 1;
            }
        }
    }

    fn request_framing(&self, l: &Lengths) -> Result<Framing, HeadError> {
        if l.hosts > 1 || (l.hosts == 0 && self.minor >= 1) {
            return Err(HeadError::BadHost);
        }
        if l.te {
            if l.length.is_some() || l.bad_length {
                return Err(HeadError::LengthAndChunked);
            }
            if !l.chunked_last || self.minor == 0 {
                return Err(HeadError::BadTransferEncoding);
            }
            return Ok(Framing::Chunked);
        }
        if l.bad_length {
            return Err(HeadError::BadContentLength);
        }
        Ok(l.length.map_or(Framing::None, Framing::Length))
    }
}

/// Whether a complete head may be in `buf`: an empty line after byte
/// `from` (resumed where the last look stopped, so a head arriving byte by
/// byte is scanned once, not once per byte).
pub fn may_be_complete(buf: &[u8], from: usize) -> bool {
    let from = from.saturating_sub(3);
    let mut at = from;
    while let Some(i) = buf.get(at..).and_then(|b| memchr(b'\n', b)) {
        let nl = at + i;
        match (buf.get(nl + 1), buf.get(nl + 2)) {
            (Some(b'\n'), _) | (Some(b'\r'), Some(b'\n')) => return true,
            _ => at = nl + 1,
        }
    }
    false
}

fn classify(name: &[u8]) -> Kind {
    KINDS
        .iter()
        .find(|(n, _)| n.len() == name.len() && n.eq_ignore_ascii_case(name))
        .map_or(Kind::Other, |(_, k)| *k)
}

/// The comma-separated elements of a list field, trimmed, empty ones skipped.
pub fn tokens(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',')
        .map(|t| t.trim_ascii())
        .filter(|t| !t.is_empty())
}

/// Whether the list `v` has the element `want` (case-insensitive).
pub fn has_token(v: &[u8], want: &[u8]) -> bool {
    tokens(v).any(|t| t.eq_ignore_ascii_case(want))
}

fn parse_length(t: &[u8]) -> Option<u64> {
    if t.is_empty() || t.len() > 18 {
        return None;
    }
    t.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// The first non-empty line of `buf`, without its line end.
fn status_line(buf: &[u8]) -> Span {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(0);
    let rest = buf.get(start..).unwrap_or_default();
    let end = start + memchr(b'\n', rest).unwrap_or(rest.len());
    let end = if end > start && buf.get(end - 1) == Some(&b'\r') {
        end - 1
    } else {
        end
    };
    Span {
        start: start as u32,
        end: end as u32,
    }
}

/// Request methods counted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`.
    Head,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
    /// `OPTIONS`.
    Options,
    /// `PATCH`.
    Patch,
    /// `TRACE`.
    Trace,
    /// `CONNECT`.
    Connect,
    /// Anything else.
    Other,
}

/// Names of [`Method`] in counter order (`Counters::requests_by_method`).
pub const METHOD_NAMES: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "other",
];

// === impl Method ===

impl Method {
    /// The method of a request line (methods are case-sensitive).
    pub fn of(m: &[u8]) -> Method {
        match m {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"OPTIONS" => Method::Options,
            b"PATCH" => Method::Patch,
            b"TRACE" => Method::Trace,
            b"CONNECT" => Method::Connect,
            _ => Method::Other,
        }
    }

    /// Index into [`METHOD_NAMES`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Safe to send again after a failure (RFC 9110 §9.2.2).
    pub fn is_idempotent(self) -> bool {
        !matches!(
            self,
            Method::Post | Method::Patch | Method::Connect | Method::Other
        )
    }
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
