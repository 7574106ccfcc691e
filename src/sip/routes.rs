//! Route handling on requests: strip the first Route entry when it names
//! the host `matchingHostnameForRoute` (a DNS name the UAs use for the
//! balancer, which it does not resolve), then the leading Route entries that
//! name this balancer, and read the node hint (`node_host`, `node_port`,
//! `version`) they carry; fall back to hints on the Request-URI.

use std::net::SocketAddr;

use super::edit::Edits;
use super::headers::{self, NameAddr, SipUri};
use super::message::{HeaderName, Message, Span};
use super::settings::Settings;
use super::transport::ConnRef;
use super::write::parse_ip;

/// What the Route headers told us.
#[derive(Debug, Clone, Copy, Default)]
pub struct RouteInfo<'a> {
    /// Node named by `node_host`/`node_port` on one of our Routes (or the Request-URI).
    pub hint: Option<SocketAddr>,
    /// `version` parameter of our Route.
    pub version: Option<u32>,
    /// The connection (`lbc`) our Route entries recorded for the far side.
    pub conn: Option<ConnRef>,
    /// Our Route entries removed.
    pub removed: usize,
    /// First Route entry that is not ours.
    pub first_remaining: Option<NameAddr<'a>>,
    /// Start of the header line holding `first_remaining`, else of the first
    /// Route line (where a pushed Route goes).
    pub route_line: Option<u32>,
    /// The Request-URI, parsed once here for every later step.
    pub ruri: Option<SipUri<'a>>,
}

/// Scan Route headers, record removal edits for our leading entries, and
/// collect hints. Stops stripping at the first foreign entry.
pub fn scan<'a>(msg: &Message<'a>, settings: &Settings, edits: &mut Edits) -> RouteInfo<'a> {
    let mut info = RouteInfo::default();
    let buf = msg.buf();
    let mut first = true;
    for h in msg.headers().iter().filter(|h| h.name == HeaderName::Route) {
        if info.route_line.is_none() {
            info.route_line = Some(h.line.start);
        }
        if info.first_remaining.is_some() {
            break;
        }
        let mut removed_in_line: Option<Span> = None;
        for entry in headers::name_addrs(buf, h.value) {
            let named = first
                && settings
                    .route_host
                    .as_ref()
                    .is_some_and(|f| f.matches(entry.uri.host));
            first = false;
            if named || is_ours(&entry.uri, settings) {
                if !named {
                    info.removed += 1;
                    read_hint(&entry.uri, &mut info);
                }
                let s = removed_in_line.get_or_insert(entry.span);
                s.end = entry.span.end;
            } else {
                info.first_remaining = Some(entry);
                info.route_line = Some(h.line.start);
                if let Some(r) = removed_in_line {
                    edits.remove(r.start, entry.span.start);
                }
                removed_in_line = None;
                break;
            }
        }
        if removed_in_line.is_some() {
            edits.remove(h.line.start, h.line.end);
            info.route_line = None;
        }
    }
    info.ruri = request_uri(msg);
    if info.hint.is_none() {
        if let Some(uri) = info.ruri {
            read_hint(&uri, &mut info);
        }
    }
    info
}

/// `matchingHostnameForRoute` / `isFilterSubdomain`: the host of a first
/// Route entry that is removed on arrival (case-insensitive; with
/// subdomains, any `*.host` too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteHost {
    host: Vec<u8>,
    subdomains: bool,
}

impl RouteHost {
    /// `host` lower-cased, as the config gives it.
    pub fn new(host: &str, subdomains: bool) -> RouteHost {
        RouteHost {
            host: host.to_ascii_lowercase().into_bytes(),
            subdomains,
        }
    }

    /// Whether a Route URI host is this one (or a subdomain of it).
    pub fn matches(&self, host: &[u8]) -> bool {
        if host.eq_ignore_ascii_case(&self.host) {
            return true;
        }
        self.subdomains
            && host.len() > self.host.len()
            && host
                .split_at(host.len() - self.host.len())
                .1
                .eq_ignore_ascii_case(&self.host)
            && host.get(host.len() - self.host.len() - 1) == Some(&b'.')
    }
}

/// The Request-URI, parsed.
pub fn request_uri<'a>(msg: &Message<'a>) -> Option<SipUri<'a>> {
    match msg.start() {
        super::message::StartLine::Request { uri, .. } => headers::sip_uri(msg.buf(), uri),
        super::message::StartLine::Response { .. } => None,
    }
}

/// Whether a URI names this balancer.
pub fn is_ours(uri: &SipUri<'_>, settings: &Settings) -> bool {
    settings.is_us(parse_ip(uri.host), uri.port)
}

/// The socket address a URI names, when its host is an IP literal.
pub fn uri_addr(uri: &SipUri<'_>) -> Option<SocketAddr> {
    Some(SocketAddr::new(
        parse_ip(uri.host)?,
        uri.port.unwrap_or(5060),
    ))
}

fn read_hint(uri: &SipUri<'_>, info: &mut RouteInfo<'_>) {
    let (mut host, mut port, mut version) = (None, None, None);
    for (name, value) in headers::params(uri.params) {
        let Some(value) = value else { continue };
        if name.eq_ignore_ascii_case(b"node_host") {
            host = parse_ip(value);
        } else if name.eq_ignore_ascii_case(b"node_port") {
            port = headers::parse_u16(value);
        } else if name.eq_ignore_ascii_case(b"version") {
            version = headers::parse_u16(value).map(u32::from);
        }
    }
    if info.version.is_none() {
        info.version = version;
    }
    if info.conn.is_none() {
        info.conn = super::transport::conn_param(uri.params);
    }
    if info.hint.is_none() {
        if let (Some(ip), Some(port)) = (host, port) {
            info.hint = Some(SocketAddr::new(ip, port));
        }
    }
}
