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
//! This module does not rewrite messages; see [`super::rewrite`].

/// Most header lines indexed in one message; more is a [`ParseErrorKind::TooManyHeaders`].
pub const MAX_HEADERS: usize = 64;

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
    /// The start line is neither a request nor a status line.
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
#[derive(Clone)]
pub struct Message<'a> {
    buf: &'a [u8],
    start: StartLine,
    start_line: Span,
    headers: [Header; MAX_HEADERS],
    count: usize,
    body: Span,
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
    pub fn parse(buf: &'a [u8]) -> Result<Message<'a>, ParseError> {
        let _ = buf;
        todo!("sip::message::parse")
    }

    /// The buffer this message indexes.
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
}
