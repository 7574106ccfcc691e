//! Lazy typed views of the header values the balancer routes on: Via
//! (RFC 3261 §20.42, RFC 3581 rport), name-addr / SIP URIs with their
//! parameters (Route, Record-Route, Contact, Request-URI), Max-Forwards,
//! CSeq, and the To tag.
//!
//! Every function is total over arbitrary bytes: a malformed value gives
//! `None`, never a panic. Nothing here allocates.

use super::message::Span;

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
pub fn vias<'a>(buf: &'a [u8], value: Span) -> impl Iterator<Item = Via<'a>> + 'a {
    let _ = (buf, value);
    std::iter::empty()
}

/// Iterate over the comma-separated entries of a Route / Record-Route header value.
pub fn name_addrs<'a>(buf: &'a [u8], value: Span) -> impl Iterator<Item = NameAddr<'a>> + 'a {
    let _ = (buf, value);
    std::iter::empty()
}

/// Parse a SIP/SIPS URI located at `span` in `buf` (a Request-URI, or the
/// inside of `<…>`). `None` for other schemes or malformed input.
pub fn sip_uri(buf: &[u8], span: Span) -> Option<SipUri<'_>> {
    let _ = (buf, span);
    None
}

/// Look up `;name=value` in a raw parameter list (case-insensitive name).
/// `Some(None)` for a flag parameter without value, `None` when absent.
pub fn param<'a>(params: &'a [u8], name: &[u8]) -> Option<Option<&'a [u8]>> {
    let _ = (params, name);
    None
}

/// Max-Forwards value: `None` if the text is not a number in 0..=255... (or larger: saturate at u32::MAX).
pub fn max_forwards(value: &[u8]) -> Option<u32> {
    let _ = value;
    None
}

/// CSeq `number METHOD`.
pub fn cseq(value: &[u8]) -> Option<(u32, &[u8])> {
    let _ = value;
    None
}

/// Whether a From/To value carries a `tag` parameter (outside the `<…>` URI).
pub fn has_tag(value: &[u8]) -> bool {
    let _ = value;
    false
}

/// Parse a decimal port / small number.
pub fn parse_u16(digits: &[u8]) -> Option<u16> {
    let _ = digits;
    None
}
