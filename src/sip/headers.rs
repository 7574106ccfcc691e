//! Lazy typed views of the header values the balancer routes on: Via
//! (RFC 3261 §20.42, RFC 3581 rport), name-addr / SIP URIs with their
//! parameters (Route, Record-Route, Contact, Request-URI), Max-Forwards,
//! CSeq, and the To tag.
//!
//! Every function is total over arbitrary bytes: a malformed value gives
//! `None`, never a panic. Nothing here allocates.

use memchr::{memchr, memchr2, memchr3, memrchr};

use super::message::{is_lws, is_token, HeaderName, Message, Span};

/// `rport` state of a Via (RFC 3581).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rport {
    /// No `rport` parameter.
    Absent,
    /// `;rport` without value: the client asks us to fill it.
    Empty,
    /// `;rport=N`.
    Value(u16),
}

/// One Via value (one hop), borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// Transport token, e.g. `UDP` (as sent, any case).
    pub transport: &'a [u8],
    /// sent-by host (IPv6 without brackets).
    pub host: &'a [u8],
    /// sent-by port.
    pub port: Option<u16>,
    /// `branch` parameter value.
    pub branch: Option<&'a [u8]>,
    /// `received` parameter value.
    pub received: Option<&'a [u8]>,
    /// `rport` parameter.
    pub rport: Rport,
    /// Span of this one Via value inside the message buffer (from the protocol
    /// name to the end of its last parameter, excluding the comma separator).
    pub span: Span,
    /// Offset in the buffer just past `sent-by` (where `;received=` can be inserted
    /// before the first parameter, or at `span.end` — either is valid).
    pub sent_by_end: u32,
}

/// A SIP or SIPS URI, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// `user` part (before `@`), if any.
    pub user: Option<&'a [u8]>,
    /// Host (IPv6 without brackets).
    pub host: &'a [u8],
    /// Port, if present.
    pub port: Option<u16>,
    /// Raw parameter text starting at the first `;` (may be empty), up to `?` or the end.
    pub params: &'a [u8],
    /// Span of host[:port] inside the buffer (to rewrite the target).
    pub host_port: Span,
}

/// One entry of a Route / Record-Route / Contact list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The URI inside `<…>` (or the bare URI).
    pub uri: SipUri<'a>,
    /// Span of the whole entry inside the buffer (excluding the comma separator).
    pub span: Span,
}

/// Iterate over the comma-separated Via values of one Via header value.
/// `value` is the header's value span; spans returned are absolute in `buf`.
///
/// Empty list elements (`a,,b`) are skipped; iteration ends at the first
/// element that is not a well-formed `SIP/2.0/transport sent-by *(;param)`
/// (an empty parameter, `;;` or a trailing `;`, makes an element malformed).
pub fn vias<'a>(buf: &'a [u8], value: Span) -> impl Iterator<Item = Via<'a>> + 'a {
    ListSplit::new(buf, value).map_while(move |entry| parse_via(buf, entry))
}

/// Iterate over the comma-separated entries of a Route / Record-Route header value.
///
/// Entries are `<uri>;params`, `"Display" <uri>;params`, `display <uri>` or a
/// bare URI; for a bare URI everything up to the comma is the URI (so its
/// `;params` land in [`SipUri::params`]). Iteration ends at the first entry
/// that is not a SIP/SIPS URI (e.g. `tel:`, or `Contact: *`).
pub fn name_addrs<'a>(buf: &'a [u8], value: Span) -> impl Iterator<Item = NameAddr<'a>> + 'a {
    ListSplit::new(buf, value).map_while(move |entry| parse_name_addr(buf, entry))
}

/// The first Via value of the first Via header: the previous hop.
pub fn top_via<'a>(msg: &Message<'a>) -> Option<Via<'a>> {
    let header = msg.header(HeaderName::Via)?;
    vias(msg.buf(), header.value).next()
}

/// Parse a SIP/SIPS URI located at `span` in `buf` (a Request-URI, or the
/// inside of `<…>`). `None` for other schemes or malformed input.
///
/// The user part is everything before the last `@` (up to a `:` password);
/// it may contain `;` and `?` (RFC 4475 `semiuri`, `intmeth`).
pub fn sip_uri(buf: &[u8], span: Span) -> Option<SipUri<'_>> {
    let uri = buf.get(span.range())?;
    let colon = memchr(b':', uri)?;
    let scheme = uri.get(..colon)?;
    if !scheme.eq_ignore_ascii_case(b"sip") && !scheme.eq_ignore_ascii_case(b"sips") {
        return None;
    }
    let rest_at = colon + 1;
    let rest = uri.get(rest_at..)?;
    let (user, hp_at) = match memrchr(b'@', rest) {
        Some(at) => {
            let userinfo = rest.get(..at)?;
            let user = userinfo.get(..memchr(b':', userinfo).unwrap_or(at))?;
            (Some(user), rest_at + at + 1)
        }
        None => (None, rest_at),
    };
    let base = span.start as usize;
    let (host, port, hp_len) = host_port(uri.get(hp_at..)?)?;
    let tail = uri.get(hp_at + hp_len..)?;
    let params = match tail.first() {
        None | Some(b'?') => &[][..],
        Some(b';') => tail.get(..memchr(b'?', tail).unwrap_or(tail.len()))?,
        Some(_) => return None,
    };
    Some(SipUri {
        user,
        host,
        port,
        params,
        host_port: Span::new(base + hp_at, base + hp_at + hp_len),
    })
}

/// Every `name[=value]` pair of a raw parameter list, in order (one pass,
/// for callers that need several parameters of the same list).
pub fn params(raw: &[u8]) -> impl Iterator<Item = (&[u8], Option<&[u8]>)> {
    ParamSplit::new(raw)
}

/// Look up `;name=value` in a raw parameter list (case-insensitive name).
/// `Some(None)` for a flag parameter without value, `None` when absent.
///
/// The leading `;` is optional and whitespace (also folded) around `;` and
/// `=` is ignored. A quoted-string value is returned raw, quotes included.
pub fn param<'a>(params: &'a [u8], name: &[u8]) -> Option<Option<&'a [u8]>> {
    ParamSplit::new(params)
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Max-Forwards value: decimal digits (surrounding whitespace ignored),
/// saturating at `u32::MAX` (RFC 4475 `scalar02`); `None` for anything else.
pub fn max_forwards(value: &[u8]) -> Option<u32> {
    let digits = trim(value);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0u32, |n, &b| {
        n.saturating_mul(10).saturating_add(u32::from(b - b'0'))
    }))
}

/// CSeq `number METHOD`: the number must fit a `u32`, whitespace between the
/// two (also folded) may be any length.
pub fn cseq(value: &[u8]) -> Option<(u32, &[u8])> {
    let value = trim(value);
    let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
    let number = parse_u32(value.get(..digits)?)?;
    let rest = value.get(digits..)?;
    let gap = rest.iter().take_while(|&&b| is_lws(b)).count();
    let method = rest.get(gap..)?;
    let valid = gap > 0 && !method.is_empty() && method.iter().all(|&b| is_token(b));
    valid.then_some((number, method))
}

/// Whether a From/To value carries a `tag` parameter (outside the `<…>` URI).
/// For a bare URI (no `<…>`) the parameters after its first `;` are header
/// parameters, as RFC 3261 §20 specifies for From/To/Contact.
pub fn has_tag(value: &[u8]) -> bool {
    param(header_params(value), b"tag").is_some()
}

/// Parse a decimal port / small number.
pub fn parse_u16(digits: &[u8]) -> Option<u16> {
    u16::try_from(parse_u32(digits)?).ok()
}

// === impl ListSplit ===

/// Splits a header value into its top-level comma-separated elements,
/// ignoring commas inside quoted strings, `<…>` and `[…]`. Yields trimmed,
/// non-empty absolute spans.
struct ListSplit<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> ListSplit<'a> {
    fn new(buf: &'a [u8], value: Span) -> Self {
        let end = (value.end as usize).min(buf.len());
        ListSplit {
            buf,
            pos: value.start as usize,
            end,
        }
    }

    /// Offset of the next top-level comma at or after `from`, or `end`.
    /// Fast path: jump between `,` and `<…>` with `memchr`; anything
    /// involving a quoted string takes the byte-by-byte scan.
    fn element_end(&self, from: usize) -> usize {
        let bytes = self.buf.get(from..self.end).unwrap_or(&[]);
        if memchr(b'[', bytes).is_some() {
            return self.element_end_slow(from);
        }
        let mut i = 0;
        while let Some(at) = bytes.get(i..).and_then(|r| memchr3(b',', b'<', b'"', r)) {
            let at = i + at;
            match bytes.get(at) {
                Some(b',') => return from + at,
                Some(b'<') => {
                    let inner = bytes.get(at + 1..).unwrap_or(&[]);
                    match memchr2(b'>', b'"', inner) {
                        Some(close) if inner.get(close) == Some(&b'>') => i = at + 2 + close,
                        Some(_) => return self.element_end_slow(from),
                        None => return self.end,
                    }
                }
                _ => return self.element_end_slow(from),
            }
        }
        self.end
    }

    /// `element_end` by the full nesting scan (quotes, escapes, brackets).
    fn element_end_slow(&self, from: usize) -> usize {
        let bytes = self.buf.get(from..self.end).unwrap_or(&[]);
        let mut scan = Nesting::default();
        bytes
            .iter()
            .position(|&b| scan.step(b) && b == b',')
            .map_or(self.end, |i| from + i)
    }
}

impl Iterator for ListSplit<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        while self.pos < self.end {
            let start = self.pos;
            let end = self.element_end(start);
            self.pos = end + 1;
            let span = trim_span(self.buf, Span::new(start, end));
            if !span.is_empty() {
                return Some(span);
            }
        }
        None
    }
}

/// Quote / bracket state while scanning a list.
#[derive(Default)]
struct Nesting {
    quoted: bool,
    escaped: bool,
    angle: bool,
    square: bool,
}

impl Nesting {
    /// Feed one byte; true when that byte is at top level (outside any nesting).
    fn step(&mut self, b: u8) -> bool {
        if self.quoted {
            match (self.escaped, b) {
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => self.quoted = false,
                _ => {}
            }
            return false;
        }
        match b {
            b'"' => self.quoted = true,
            b'<' => self.angle = true,
            b'>' => self.angle = false,
            b'[' => self.square = true,
            b']' => self.square = false,
            _ => return !self.angle && !self.square,
        }
        false
    }
}

// === impl ParamSplit ===

/// Iterates `(name, value)` over a `;`-separated parameter list; `;`
/// inside quoted strings does not split.
struct ParamSplit<'a> {
    rest: &'a [u8],
    /// No quote, `<` or `[` in the whole list: every `;` splits.
    plain: bool,
}

impl<'a> ParamSplit<'a> {
    fn new(raw: &'a [u8]) -> ParamSplit<'a> {
        ParamSplit {
            rest: raw,
            plain: memchr3(b'"', b'<', b'[', raw).is_none(),
        }
    }

    /// The next piece between top-level `;`s, untrimmed (`None` at the end).
    fn piece(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        let cut = if self.plain {
            memchr(b';', self.rest)
        } else {
            param_cut(self.rest)
        };
        let piece = self.rest.get(..cut.unwrap_or(self.rest.len()))?;
        self.rest = cut.and_then(|c| self.rest.get(c + 1..)).unwrap_or(&[]);
        Some(piece)
    }
}

impl<'a> Iterator for ParamSplit<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let piece = trim(self.piece()?);
            if !piece.is_empty() {
                return Some(split_param(piece));
            }
        }
    }
}

/// Offset of the first top-level `;`. Only quotes, `<…>` and `[…]` can
/// hide a `;`, so without any of them a plain `memchr` decides.
fn param_cut(rest: &[u8]) -> Option<usize> {
    if memchr3(b'"', b'<', b'[', rest).is_none() {
        return memchr(b';', rest);
    }
    let mut scan = Nesting::default();
    rest.iter().position(|&b| scan.step(b) && b == b';')
}

/// `name [= value]` with whitespace around `=` removed.
fn split_param(piece: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr(b'=', piece) {
        Some(eq) => (
            trim(piece.get(..eq).unwrap_or(&[])),
            Some(trim(piece.get(eq + 1..).unwrap_or(&[]))),
        ),
        None => (piece, None),
    }
}

// === private helpers ===

/// One Via element: `SIP / 2.0 / transport LWS sent-by [;params]`.
fn parse_via(buf: &[u8], span: Span) -> Option<Via<'_>> {
    let base = span.start as usize;
    let text = buf.get(span.range())?;
    let mut cur = Cursor { text, pos: 0 };
    let name = cur.token()?;
    cur.expect_slash()?;
    let version = cur.token()?;
    cur.expect_slash()?;
    let transport = cur.token()?;
    let valid = name.eq_ignore_ascii_case(b"SIP") && version == b"2.0";
    if !valid || cur.skip_lws() == 0 {
        return None;
    }
    let (host, port, len) = host_port_lws(cur.rest())?;
    let sent_by_end = base + cur.pos + len;
    cur.pos += len;
    cur.skip_lws();
    let params = cur.rest();
    let p = via_params(params)?;
    Some(Via {
        transport,
        host,
        port,
        branch: p.branch,
        received: p.received,
        rport: p.rport,
        span,
        sent_by_end: u32::try_from(sent_by_end).ok()?,
    })
}

/// The Via parameters the proxy reads, found in one pass.
struct ViaParams<'a> {
    branch: Option<&'a [u8]>,
    received: Option<&'a [u8]>,
    rport: Rport,
}

/// A Via's parameter list (empty or starting with `;`) in one pass; `None`
/// when it holds an empty parameter, as in `;;` (RFC 4475 `badinv01`) or a
/// trailing `;`: a Via we would append `;received=` to after the garbage,
/// forwarding it worse than it came. The first of a repeated name counts.
fn via_params(raw: &[u8]) -> Option<ViaParams<'_>> {
    let mut out = ViaParams {
        branch: None,
        received: None,
        rport: Rport::Absent,
    };
    if raw.is_empty() {
        return Some(out);
    }
    if trim(raw).last() == Some(&b';') {
        return None; // a trailing empty parameter
    }
    let mut split = ParamSplit::new(raw.strip_prefix(b";")?);
    let (mut branch, mut received, mut rport) = (false, false, false);
    while let Some(piece) = split.piece() {
        let piece = trim(piece);
        if piece.is_empty() {
            return None;
        }
        let (name, value) = split_param(piece);
        if !branch && name.eq_ignore_ascii_case(b"branch") {
            branch = true;
            out.branch = value;
        } else if !received && name.eq_ignore_ascii_case(b"received") {
            received = true;
            out.received = value;
        } else if !rport && name.eq_ignore_ascii_case(b"rport") {
            rport = true;
            out.rport = value.and_then(parse_u16).map_or(Rport::Empty, Rport::Value);
        }
    }
    Some(out)
}

/// Via sent-by, which allows LWS around the `:` (RFC 3261 `COLON`):
/// (host, port, bytes consumed).
fn host_port_lws(text: &[u8]) -> Option<(&[u8], Option<u16>, usize)> {
    let (host, host_len) = host(text)?;
    let mut cur = Cursor {
        text,
        pos: host_len,
    };
    cur.skip_lws();
    if cur.rest().first() != Some(&b':') {
        return Some((host, None, host_len));
    }
    cur.pos += 1;
    cur.skip_lws();
    let digits = cur.rest().iter().take_while(|b| b.is_ascii_digit()).count();
    let port = parse_u16(cur.rest().get(..digits)?)?;
    Some((host, Some(port), cur.pos + digits))
}

/// `host [":" port]` at the start of `text`: (host, port, bytes consumed).
fn host_port(text: &[u8]) -> Option<(&[u8], Option<u16>, usize)> {
    let (host, host_len) = host(text)?;
    let after = text.get(host_len..)?;
    if after.first() != Some(&b':') {
        return Some((host, None, host_len));
    }
    let digits = after
        .iter()
        .skip(1)
        .take_while(|b| b.is_ascii_digit())
        .count();
    let port = parse_u16(after.get(1..1 + digits)?)?;
    Some((host, Some(port), host_len + 1 + digits))
}

/// A hostname, IPv4 address or bracketed IPv6 reference at the start of
/// `text`: (host without brackets, bytes consumed).
fn host(text: &[u8]) -> Option<(&[u8], usize)> {
    if text.first() == Some(&b'[') {
        let close = memchr(b']', text)?;
        let inner = text.get(1..close)?;
        let ipv6 = |b: &u8| b.is_ascii_hexdigit() || b":.".contains(b);
        let ok = !inner.is_empty() && inner.iter().all(ipv6);
        return ok.then_some((inner, close + 1));
    }
    let len = text.iter().take_while(|&&b| is_host_char(b)).count();
    Some((text.get(..len).filter(|h| !h.is_empty())?, len))
}

/// Hostname / IPv4 characters (`_` tolerated, as deployed stacks send it).
fn is_host_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')
}

/// One name-addr / addr-spec list entry.
fn parse_name_addr(buf: &[u8], span: Span) -> Option<NameAddr<'_>> {
    let text = buf.get(span.range())?;
    let uri_span = match angle_brackets(text) {
        Some((open, close)) => {
            let base = span.start as usize;
            Span::new(base + open + 1, base + close)
        }
        None if memchr(b'"', text).is_some() => return None,
        None => span,
    };
    let uri = sip_uri(buf, trim_span(buf, uri_span))?;
    Some(NameAddr { uri, span })
}

/// Offsets of the `<` and `>` enclosing the URI, skipping a quoted display name.
fn angle_brackets(text: &[u8]) -> Option<(usize, usize)> {
    let mut scan = Nesting::default();
    let open = text.iter().position(|&b| {
        let quoted = scan.quoted;
        scan.step(b);
        !quoted && b == b'<'
    })?;
    let close = open + 1 + memchr(b'>', text.get(open + 1..)?)?;
    Some((open, close))
}

/// The header parameters of a From/To/Contact value (text after the URI).
fn header_params(value: &[u8]) -> &[u8] {
    match angle_brackets(value) {
        Some((_, close)) => value.get(close + 1..).unwrap_or(&[]),
        None if memchr(b'<', value).is_some() => &[],
        None => value
            .get(memchr(b';', value).unwrap_or(value.len())..)
            .unwrap_or(&[]),
    }
}

/// Strict decimal `u32`: at least one digit, nothing else.
fn parse_u32(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |n, &b| {
        let d = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u32::from(d))
    })
}

/// Strip LWS (SP, HT, CR, LF) from both ends.
fn trim(s: &[u8]) -> &[u8] {
    let lead = s.iter().take_while(|&&b| is_lws(b)).count();
    let s = s.get(lead..).unwrap_or(&[]);
    let trail = s.iter().rev().take_while(|&&b| is_lws(b)).count();
    s.get(..s.len() - trail).unwrap_or(&[])
}

/// [`trim`] on an absolute span.
fn trim_span(buf: &[u8], span: Span) -> Span {
    let text = buf.get(span.range()).unwrap_or(&[]);
    let lead = text.iter().take_while(|&&b| is_lws(b)).count();
    let trimmed = trim(text);
    let start = span.start as usize + lead;
    Span::new(start, start + trimmed.len())
}

/// A read position in a Via value.
struct Cursor<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a [u8] {
        self.text.get(self.pos..).unwrap_or(&[])
    }

    /// Skip LWS; returns how many bytes were skipped.
    fn skip_lws(&mut self) -> usize {
        let n = self.rest().iter().take_while(|&&b| is_lws(b)).count();
        self.pos += n;
        n
    }

    /// A non-empty token, after optional LWS.
    fn token(&mut self) -> Option<&'a [u8]> {
        self.skip_lws();
        let rest = self.rest();
        let n = rest.iter().take_while(|&&b| is_token(b)).count();
        self.pos += n;
        rest.get(..n).filter(|t| !t.is_empty())
    }

    /// `/` with optional LWS before it.
    fn expect_slash(&mut self) -> Option<()> {
        self.skip_lws();
        (self.rest().first() == Some(&b'/')).then(|| self.pos += 1)
    }
}

#[cfg(test)]
mod tests;
